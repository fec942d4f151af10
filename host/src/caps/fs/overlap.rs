//! No mount reaches airlock's own files.
//!
//! Files written through a read-write mount belong to the user airlock
//! runs as, so a mount that contains the policy, the lock, the audit log or
//! its keys would let an action rewrite what governs and records it: append
//! a grant to the policy, an approval to the lock, forge a checkpoint, or
//! swap one action's compiled code for another's in the compile cache. Even
//! a read-only mount over them would hand out secret files and keys. So a
//! host refuses to start when any mount contains one of airlock's files or
//! directories, or lies inside one of its directories.
//!
//! Directories are compared by identity (device and inode, of every
//! ancestor), not by spelling, so a symlink or a bind mount to the same
//! directory is caught too.

use airlock_rules::policy::{Anchor, Policy, SecretSource};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A mount reaches one of airlock's own files or directories.
#[derive(Debug, thiserror::Error)]
#[error(
    "mount `{mount}` ({}) {relation} airlock's {what} {}: an action could read or rewrite it; \
     point [mounts.{mount}] path at a directory that holds none of airlock's files, or move the {what}",
    mount_path.display(),
    path.display()
)]
pub struct OverlapError {
    /// The mount's name.
    pub mount: String,
    /// Its host directory.
    pub mount_path: PathBuf,
    /// `contains` or `lies inside`.
    pub relation: &'static str,
    /// What of airlock's it reaches: `policy`, `lock`, `audit log`, ...
    pub what: &'static str,
    /// That file or directory.
    pub path: PathBuf,
}

/// What airlock itself reads or writes, as `(what, path, is a directory
/// of airlock's own)`: for a directory, a mount inside it is refused too.
pub fn own_files(policy: &Policy, cache: Option<&Path>) -> Vec<(&'static str, PathBuf, bool)> {
    let audit = &policy.audit;
    let paths = airlock_audit::paths::Paths::new(&audit.path);
    let key = audit.key.clone().unwrap_or_else(|| paths.key());
    let mut own = vec![
        ("lock", policy.trust.lock.clone(), false),
        // The log's segments, state, lock and torn tails are its siblings:
        // a mount that contains one contains the log's directory.
        ("audit log", audit.path.clone(), false),
        ("audit state", paths.state(), false),
        ("checkpoints", audit.checkpoints.clone(), false),
        ("checkpoint key", key.clone(), false),
        (
            "checkpoint verifier key",
            airlock_audit::paths::Paths::public_of(&key),
            false,
        ),
    ];
    own.extend(policy.file.clone().map(|p| ("policy", p, false)));
    if let Some(Anchor::Dir(dir)) = &audit.anchor {
        own.push(("checkpoint anchor directory", dir.clone(), true));
    }
    for ca in &policy.network.ca_certs {
        own.push(("CA file", ca.clone(), false));
    }
    for source in policy.secrets.values() {
        if let SecretSource::File(path) = source {
            own.push(("secret file", path.clone(), false));
        }
    }
    own.extend(cache.map(|dir| ("compile cache", dir.to_path_buf(), true)));
    own
}

/// The identity (device, inode) of `path` and of each of its ancestors,
/// both as written and with symlinks resolved, from the nearest that exists
/// (a file airlock has not created yet is reached through its directory).
fn lineage(path: &Path) -> Vec<(u64, u64)> {
    let Ok(absolute) = std::path::absolute(path) else {
        return Vec::new();
    };
    let mut spellings = vec![absolute.clone()];
    // The nearest ancestor that exists, resolved, with the rest put back.
    let mut rest = Vec::new();
    let mut at = absolute.as_path();
    loop {
        if let Ok(real) = at.canonicalize() {
            spellings.push(rest.iter().rev().fold(real, |p: PathBuf, c| p.join(c)));
            break;
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                at = parent;
            }
            _ => break,
        }
    }
    spellings
        .iter()
        .flat_map(|p| p.ancestors())
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

/// Refuse any mount of `policy` that contains one of airlock's own files
/// (see [`own_files`]) or lies inside one of its directories.
pub fn check(policy: &Policy, cache: Option<&Path>) -> Result<(), OverlapError> {
    let own = own_files(policy, cache);
    for (name, mount) in &policy.mounts {
        let Ok(meta) = std::fs::metadata(&mount.path) else {
            continue; // Opening the mount reports it.
        };
        let id = (meta.dev(), meta.ino());
        let mount_lineage = lineage(&mount.path);
        for (what, path, is_dir) in &own {
            let relation = if lineage(path).contains(&id) {
                "contains"
            } else if *is_dir
                && let Ok(m) = std::fs::metadata(path)
                && mount_lineage.contains(&(m.dev(), m.ino()))
            {
                "lies inside"
            } else {
                continue;
            };
            return Err(OverlapError {
                mount: name.clone(),
                mount_path: mount.path.clone(),
                relation,
                what,
                path: path.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_rules::manifest::Access;
    use airlock_rules::policy::MountPolicy;

    struct Case {
        dir: tempfile::TempDir,
        policy: Policy,
    }

    /// A policy in `dir/etc`, logging to `dir/log`, with a mount at `mount`
    /// (relative to `dir`).
    fn case(mount: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        for d in ["etc", "log", "data/inner", "cache"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let mut policy = Policy::empty(dir.path().join("log/airlock-audit.jsonl"));
        policy.file = Some(dir.path().join("etc/airlock.toml"));
        std::fs::write(policy.file.as_ref().unwrap(), "").unwrap();
        policy.trust.lock = dir.path().join("etc/airlock.lock");
        policy.mounts.insert(
            "work".into(),
            MountPolicy {
                path: dir.path().join(mount),
                access: Access::ReadWrite,
            },
        );
        Case { dir, policy }
    }

    fn relation(case: &Case, cache: Option<&Path>) -> Option<(&'static str, &'static str)> {
        check(&case.policy, cache)
            .err()
            .map(|e| (e.relation, e.what))
    }

    #[test]
    fn a_mount_apart_from_airlocks_files_is_fine() {
        let c = case("data");
        let cache = c.dir.path().join("cache");
        assert_eq!(relation(&c, Some(&cache)), None);
    }

    #[test]
    fn a_mount_over_any_of_airlocks_files_is_refused() {
        let c = case("etc");
        assert_eq!(relation(&c, None), Some(("contains", "lock")));
        let c = case("log");
        assert_eq!(relation(&c, None), Some(("contains", "audit log")));
        // An ancestor of them all.
        let c = case("");
        assert!(relation(&c, None).is_some());
        // Secret and CA files, and a key the policy names elsewhere.
        for (what, set) in [("secret file", 0), ("CA file", 1), ("checkpoint key", 2)] {
            let mut c = case("data");
            let file = c.dir.path().join("data/inner/file");
            match set {
                0 => {
                    c.policy
                        .secrets
                        .insert("S".into(), SecretSource::File(file));
                }
                1 => c.policy.network.ca_certs.push(file),
                _ => c.policy.audit.key = Some(file),
            }
            assert_eq!(relation(&c, None), Some(("contains", what)), "{what}");
        }
    }

    #[test]
    fn a_mount_inside_the_cache_or_over_it_is_refused() {
        let c = case("cache");
        let cache = c.dir.path().join("cache");
        assert_eq!(
            relation(&c, Some(&cache)),
            Some(("contains", "compile cache"))
        );
        let c = case("data/inner");
        let cache = c.dir.path().join("data");
        assert_eq!(
            relation(&c, Some(&cache)),
            Some(("lies inside", "compile cache"))
        );
    }

    #[test]
    fn another_spelling_of_the_same_directory_is_caught() {
        let c = case("data");
        let link = c.dir.path().join("link-to-log");
        std::os::unix::fs::symlink(c.dir.path().join("log"), &link).unwrap();
        let mut c = c;
        c.policy.mounts.get_mut("work").unwrap().path = link;
        assert_eq!(relation(&c, None), Some(("contains", "audit log")));
        let mut c = case("data");
        c.policy.mounts.get_mut("work").unwrap().path = c.dir.path().join("log/../etc/.");
        assert_eq!(relation(&c, None), Some(("contains", "lock")));
    }
}
