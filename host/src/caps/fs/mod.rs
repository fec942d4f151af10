//! Files: mounts are host directories opened once, offered to a run as WASI
//! preopens with the grant's access, and every open, create, remove and
//! rename under them is recorded.
//!
//! Enforcement is wasmtime-wasi's own: a preopen's [`FsPerms`] refuse every
//! mutation on a `read` mount, and its `cap-std` path resolution refuses
//! `..`, absolute paths and symlinks that leave the mount. airlock adds two
//! things around it: the directories come from handles opened once here
//! (not from paths re-resolved per run), and [`audited`] wraps the
//! `wasi:filesystem/types` implementation so every operation that touches a
//! name is an audit record.

pub mod audited;
pub mod overlap;
pub mod path;
mod unmountable;

use airlock_rules::manifest::Access;
use airlock_rules::policy::Policy;
use cap_std::AmbientAuthority;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use wasmtime_wasi::FsPerms;

/// The policy's mount directories, each opened once.
#[derive(Debug)]
pub struct Mounts {
    dirs: BTreeMap<String, Mount>,
}

#[derive(Debug)]
struct Mount {
    dir: std::fs::File,
}

/// A mount that could not be opened, or that airlock does not offer (the
/// root, `/dev`, a kernel file system like `/proc`: the source's kind is
/// then `PermissionDenied` and its message says why).
#[derive(Debug, thiserror::Error)]
#[error("mount `{name}`: cannot open {}: {source} (create the directory, or fix [mounts.{name}] path in the policy)", path.display())]
pub struct MountError {
    /// The mount's name.
    pub name: String,
    /// The host path that failed.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

impl Mounts {
    /// Open every mount directory of `policy`.
    ///
    /// This is the one place airlock uses ambient authority over the host's
    /// file system for actions: it turns the operator's paths into directory
    /// handles. Everything after — every run, every guest path — works
    /// relative to these handles, so renaming or replacing a mount's path
    /// later does not change what actions reach.
    pub fn open(policy: &Policy, ambient: AmbientAuthority) -> Result<Mounts, MountError> {
        let mut dirs = BTreeMap::new();
        for (name, mount) in &policy.mounts {
            let fail = |source| MountError {
                name: name.clone(),
                path: mount.path.clone(),
                source,
            };
            let dir = cap_std::fs::Dir::open_ambient_dir(&mount.path, ambient)
                .map_err(fail)?
                .into_std_file();
            if let Some(why) = unmountable::why_not(&dir, &mount.path).map_err(fail)? {
                return Err(fail(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("airlock does not offer it: {why}"),
                )));
            }
            dirs.insert(name.clone(), Mount { dir });
        }
        Ok(Mounts { dirs })
    }

    /// The preopens of one run: a duplicate handle for each granted mount.
    pub fn preopens(&self, granted: &BTreeMap<String, Access>) -> std::io::Result<Vec<Preopen>> {
        granted
            .iter()
            .filter_map(|(name, &access)| Some((name, access, self.dirs.get(name)?)))
            .map(|(name, access, mount)| {
                Ok(Preopen {
                    mount: Arc::from(name.as_str()),
                    access,
                    dir: mount.dir.try_clone()?,
                })
            })
            .collect()
    }
}

/// One granted mount, ready to become a preopen of one run.
#[derive(Debug)]
pub struct Preopen {
    /// The mount's name; the guest sees it at `/<mount>`.
    pub mount: Arc<str>,
    /// The granted access.
    pub access: Access,
    /// A handle of its own on the mount's directory.
    pub dir: std::fs::File,
}

impl Preopen {
    /// wasmtime-wasi's permissions for this access.
    pub fn perms(&self) -> FsPerms {
        match self.access {
            Access::Read => FsPerms::ReadOnly,
            Access::ReadWrite => FsPerms::ReadWrite,
        }
    }
}

/// Where an open descriptor points: a mount and a path inside it.
#[derive(Clone, Debug)]
pub struct Location {
    /// The mount.
    pub mount: Arc<str>,
    /// The path inside it, `""` for its root, else starting with `/`.
    pub inner: String,
}

impl Location {
    /// The guest-visible path, `/<mount><inner>`.
    pub fn shown(&self) -> String {
        path::shown(&self.mount, &self.inner)
    }

    /// The location of `path` relative to this one.
    pub fn join(&self, path: &str) -> Location {
        Location {
            mount: self.mount.clone(),
            inner: path::join(&self.inner, path),
        }
    }
}

/// The file-system state of one run.
#[derive(Debug, Default)]
pub struct FsState {
    /// Handed to the guest on its first `get-directories`.
    pub preopens: Vec<Preopen>,
    /// Where each open descriptor points, by resource index.
    pub locations: HashMap<u32, Location>,
}
