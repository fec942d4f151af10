//! `airlock.lock`: what a person approved, one entry per action.
//!
//! ```toml
//! # airlock.lock: what a person approved, one entry per action.
//! # Written by `airlock approve`; review its diff like code.
//! version = 1
//!
//! [[action]]
//! name = "file-digest"
//! version = "0.1.0"
//! source = "plugins/file-digest.wasm"
//! digest = "sha256:3a98…"
//! publisher = "airlock-examples"
//! key_id = "3259D7045FF3CEF5"          # absent when approved unsigned
//! approved_at = "2026-11-23T10:00:00Z"
//! network = []
//! files = [
//!     { mount = "reports", access = "read-write" },
//!     { mount = "source", access = "read" },
//! ]
//! secrets = []
//! limits = { memory = "32 MiB", timeout = "10s", output = "1 MiB" }
//! ```
//!
//! The text is written in one stable order (entries by name, every list
//! sorted, one item per line), so that a change of approval is a readable
//! diff in review. It is decoded as strictly as the policy, and replaced
//! atomically: a crash leaves the old lock or the new one, never half of
//! one.

use super::Digest;
use super::approval::{Approved, ApprovedLimits, ApprovedSecret};
use super::minisign::KeyId;
use crate::doc::{self, DocError};
use crate::manifest::{self, Access, Manifest};
use crate::units::{ByteSize, Span};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The lock format this airlock reads and writes.
pub const FORMAT: u32 = 1;

/// The approvals, by action name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lock {
    entries: BTreeMap<String, Entry>,
}

/// One approval: this exact component, with this capability set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The action's name.
    pub name: String,
    /// Its version when approved.
    pub version: semver::Version,
    /// Where the approved component was read from.
    pub source: String,
    /// The only bytes that may run under this name.
    pub digest: Digest,
    /// The publisher its manifest names.
    pub publisher: String,
    /// The key whose signature was verified; `None` when approved unsigned.
    pub key_id: Option<KeyId>,
    /// When it was approved (whole seconds).
    pub approved_at: SystemTime,
    /// What was approved.
    pub approved: Approved,
}

impl Entry {
    /// The approval of `manifest` for the component with `digest`, now.
    pub fn new(
        manifest: &Manifest,
        digest: Digest,
        source: impl Into<String>,
        key_id: Option<KeyId>,
        approved_at: SystemTime,
    ) -> Entry {
        let seconds = approved_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Entry {
            name: manifest.action.name.clone(),
            version: manifest.action.version.clone(),
            source: source.into(),
            digest,
            publisher: manifest.action.publisher.clone(),
            key_id,
            approved_at: UNIX_EPOCH + Duration::from_secs(seconds),
            approved: Approved::of(manifest),
        }
    }

    /// `approved_at` as RFC 3339, like `2026-11-23T10:00:00Z`.
    pub fn approved_at_text(&self) -> String {
        humantime::format_rfc3339_seconds(self.approved_at).to_string()
    }
}

impl Lock {
    /// Read the lock at `path`; a missing file is an empty lock (nothing is
    /// approved yet).
    pub fn load(path: &Path) -> Result<Lock, crate::Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Lock::parse(&path.display().to_string(), &text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
            Err(e) => Err(crate::Error::io(
                format!("cannot read {}", path.display()),
                e,
            )),
        }
    }

    /// Decode and validate lock text; `document` names it in errors.
    pub fn parse(document: &str, text: &str) -> Result<Lock, DocError> {
        let raw: raw::Lock = doc::from_toml(document, text)?;
        raw.validate(document)
    }

    /// The entry for action `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }

    /// The entry approving exactly the component with `digest`.
    pub fn find_digest(&self, digest: Digest) -> Option<&Entry> {
        self.entries.values().find(|e| e.digest == digest)
    }

    /// Add or replace the entry for `entry.name`; returns the one replaced.
    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        self.entries.insert(entry.name.clone(), entry)
    }

    /// Every entry, by name.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// Replace the file at `path` with this lock, atomically.
    pub fn save(&self, path: &Path) -> Result<(), crate::Error> {
        super::atomic::write(path, self.to_toml().as_bytes())
            .map_err(|e| crate::Error::io(format!("cannot write {}", path.display()), e))
    }

    /// The lock as TOML, in its one stable order.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# airlock.lock: what a person approved, one entry per action.\n\
             # Written by `airlock approve`; review its diff like code.\n",
        );
        let _ = writeln!(out, "version = {FORMAT}");
        for e in self.entries.values() {
            let a = &e.approved;
            let _ = write!(
                out,
                "\n[[action]]\nname = {}\nversion = {}\nsource = {}\ndigest = {}\npublisher = {}\n",
                quote(&e.name),
                quote(&e.version.to_string()),
                quote(&e.source),
                quote(&e.digest.to_string()),
                quote(&e.publisher),
            );
            if let Some(key) = e.key_id {
                let _ = writeln!(out, "key_id = {}", quote(&key.to_string()));
            }
            let _ = writeln!(out, "approved_at = {}", quote(&e.approved_at_text()));
            list(&mut out, "network", a.network.iter().map(|o| quote(o)));
            list(
                &mut out,
                "files",
                a.files.iter().map(|(mount, access)| {
                    format!(
                        "{{ mount = {}, access = {} }}",
                        quote(mount),
                        quote(&access.to_string())
                    )
                }),
            );
            list(
                &mut out,
                "secrets",
                a.secrets.iter().map(|(name, s)| {
                    let send_to: Vec<String> = s.send_to.iter().map(|o| quote(o)).collect();
                    format!(
                        "{{ name = {}, send_to = [{}], expose = {} }}",
                        quote(name),
                        send_to.join(", "),
                        s.expose
                    )
                }),
            );
            let l = &a.limits;
            let _ = write!(
                out,
                "limits = {{ memory = {}, timeout = {}",
                quote(&l.memory.to_string()),
                quote(&l.timeout.to_string())
            );
            if let Some(output) = l.output {
                let _ = write!(out, ", output = {}", quote(&output.to_string()));
            }
            out.push_str(" }\n");
        }
        out
    }
}

/// `key = [ … ]` with one item per line, or `key = []`.
fn list(out: &mut String, key: &str, items: impl Iterator<Item = String>) {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        let _ = writeln!(out, "{key} = []");
        return;
    }
    let _ = writeln!(out, "{key} = [");
    for item in items {
        let _ = writeln!(out, "    {item},");
    }
    out.push_str("]\n");
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(q, "\\u{:04X}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

mod raw {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Lock {
        version: u32,
        #[serde(default)]
        action: Vec<Entry>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        name: String,
        version: String,
        source: String,
        digest: Digest,
        publisher: String,
        key_id: Option<String>,
        approved_at: String,
        network: Vec<String>,
        files: Vec<File>,
        secrets: Vec<Secret>,
        limits: Limits,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        mount: String,
        access: Access,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Secret {
        name: String,
        send_to: Vec<String>,
        expose: bool,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        memory: ByteSize,
        timeout: Span,
        output: Option<ByteSize>,
    }

    impl Lock {
        pub fn validate(self, document: &str) -> Result<super::Lock, DocError> {
            if self.version != FORMAT {
                return Err(DocError::new(
                    document,
                    "version",
                    format!(
                        "this lock is format {}, and this airlock reads format {FORMAT}",
                        self.version
                    ),
                ));
            }
            let mut entries = BTreeMap::new();
            for (i, e) in self.action.into_iter().enumerate() {
                let err = |field: &str, message: String| {
                    DocError::new(document, format!("action[{i}].{field}"), message)
                };
                manifest::check_action_name(&e.name).map_err(|m| err("name", m))?;
                let version = semver::Version::parse(&e.version).map_err(|x| {
                    err(
                        "version",
                        format!("`{}` is not a semantic version: {x}", e.version),
                    )
                })?;
                manifest::check_publisher(&e.publisher).map_err(|m| err("publisher", m))?;
                let key_id = e
                    .key_id
                    .map(|k| k.parse::<KeyId>())
                    .transpose()
                    .map_err(|m| err("key_id", m))?;
                let approved_at = humantime::parse_rfc3339(&e.approved_at).map_err(|_| {
                    err(
                        "approved_at",
                        format!(
                            "`{}` is not a time like \"2026-11-23T10:00:00Z\"",
                            e.approved_at
                        ),
                    )
                })?;

                let mut network = BTreeSet::new();
                for (j, origin) in e.network.iter().enumerate() {
                    let origin = manifest::check_origin(origin)
                        .map_err(|m| err(&format!("network[{j}]"), m))?;
                    network.insert(origin);
                }
                let mut files = BTreeMap::new();
                for (j, f) in e.files.into_iter().enumerate() {
                    manifest::check_mount_name(&f.mount)
                        .map_err(|m| err(&format!("files[{j}].mount"), m))?;
                    if files.insert(f.mount.clone(), f.access).is_some() {
                        return Err(err(
                            &format!("files[{j}].mount"),
                            format!("mount `{}` is listed twice", f.mount),
                        ));
                    }
                }
                let mut secrets = BTreeMap::new();
                for (j, s) in e.secrets.into_iter().enumerate() {
                    manifest::check_secret_name(&s.name)
                        .map_err(|m| err(&format!("secrets[{j}].name"), m))?;
                    let mut send_to = BTreeSet::new();
                    for (k, origin) in s.send_to.iter().enumerate() {
                        let origin = manifest::check_origin(origin)
                            .map_err(|m| err(&format!("secrets[{j}].send_to[{k}]"), m))?;
                        send_to.insert(origin);
                    }
                    let secret = ApprovedSecret {
                        send_to,
                        expose: s.expose,
                    };
                    if secrets.insert(s.name.clone(), secret).is_some() {
                        return Err(err(
                            &format!("secrets[{j}].name"),
                            format!("secret `{}` is listed twice", s.name),
                        ));
                    }
                }
                if e.limits.memory.0 == 0 || e.limits.timeout.0.is_zero() {
                    return Err(err(
                        "limits",
                        "memory and timeout must be more than 0".into(),
                    ));
                }

                let entry = super::Entry {
                    version,
                    source: e.source,
                    digest: e.digest,
                    publisher: e.publisher,
                    key_id,
                    approved_at,
                    approved: Approved {
                        network,
                        files,
                        secrets,
                        limits: ApprovedLimits {
                            memory: e.limits.memory,
                            timeout: e.limits.timeout,
                            output: e.limits.output,
                        },
                    },
                    name: e.name,
                };
                if entries.insert(entry.name.clone(), entry).is_some() {
                    return Err(err(
                        "name",
                        "this action is approved twice: keep one entry".into(),
                    ));
                }
            }
            Ok(super::Lock { entries })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, caps: &str) -> Entry {
        let text = format!(
            "[action]\nname = \"{name}\"\nversion = \"1.2.0\"\npublisher = \"acme\"\n\
             [capabilities]\n{caps}\n[limits]\noutput = \"1 MiB\"\n"
        );
        let manifest = Manifest::parse("m", &text).unwrap();
        Entry::new(
            &manifest,
            Digest::of(name.as_bytes()),
            format!("plugins/{name} \"quoted\".wasm"),
            Some("3259D7045FF3CEF5".parse().unwrap()),
            UNIX_EPOCH + Duration::from_millis(1_795_411_950_123),
        )
    }

    #[test]
    fn the_lock_round_trips_in_a_stable_order() {
        let mut lock = Lock::default();
        lock.insert(entry(
            "zeta",
            "network = [\"https://b.test\", \"https://a.test\"]\n\
             files = [{ mount = \"w\", access = \"read-write\" }, { mount = \"a\", access = \"read\" }]\n\
             secrets = [{ name = \"T\", send_to = [\"https://a.test\"] }, { name = \"K\", expose = true }]",
        ));
        let mut alpha = entry("alpha", "");
        alpha.key_id = None;
        lock.insert(alpha);
        let text = lock.to_toml();
        let again = Lock::parse("airlock.lock", &text).unwrap();
        assert_eq!(again, lock);
        assert_eq!(again.to_toml(), text, "encoding is stable");
        assert!(text.find("name = \"alpha\"") < text.find("name = \"zeta\""));
        assert!(
            text.contains("approved_at = \"2026-11-23T05:32:30Z\""),
            "{text}"
        );
        assert!(
            text.contains("network = [\n    \"https://a.test\",\n    \"https://b.test\",\n]\n"),
            "{text}"
        );
        assert!(
            text.contains("{ name = \"K\", send_to = [], expose = true }"),
            "{text}"
        );
        assert!(
            text.contains("source = \"plugins/zeta \\\"quoted\\\".wasm\""),
            "{text}"
        );
        assert!(!text.contains("key_id = \"\""));
        assert_eq!(
            lock.find_digest(Digest::of(b"alpha")).unwrap().name,
            "alpha"
        );
    }

    #[test]
    fn an_empty_lock_has_no_entries() {
        let lock = Lock::parse("airlock.lock", "version = 1\n").unwrap();
        assert_eq!(lock.entries().count(), 0);
    }

    #[test]
    fn errors_name_the_field_and_line() {
        let good = {
            let mut lock = Lock::default();
            lock.insert(entry("probe", "network = [\"https://a.test\"]"));
            lock.to_toml()
        };
        let cases: &[(&str, &str, &str, &str)] = &[
            ("version = 1", "version = 2", "version", "format 2"),
            (
                "digest = \"sha256:",
                "digest = \"md5:",
                "action[0].digest",
                "not a digest",
            ),
            (
                "name = \"probe\"",
                "name = \"Probe\"",
                "action[0].name",
                "not an action name",
            ),
            (
                "version = \"1.2.0\"",
                "version = \"1.2\"",
                "action[0].version",
                "not a semantic version",
            ),
            (
                "key_id = \"3259D7045FF3CEF5\"",
                "key_id = \"xyz\"",
                "action[0].key_id",
                "not a key id",
            ),
            (
                "approved_at = \"",
                "approved_at = \"yesterday",
                "action[0].approved_at",
                "not a time",
            ),
            (
                "\"https://a.test\"",
                "\"https://a.test/path\"",
                "action[0].network[0]",
                "no path",
            ),
            (
                "publisher = \"acme\"",
                "publisher = \"acme\"\nextra = 1",
                "action[0].extra",
                "unknown field",
            ),
            (
                "limits = {",
                "limitz = {",
                "action[0].limitz",
                "unknown field",
            ),
            (
                "memory = \"64 MiB\"",
                "memory = \"0 B\"",
                "action[0].limits",
                "more than 0",
            ),
        ];
        for (from, to, path, message) in cases {
            let text = good.replacen(from, to, 1);
            assert_ne!(text, good, "{from}");
            let e = Lock::parse("airlock.lock", &text).unwrap_err();
            assert_eq!(e.path, *path, "{to}\n=> {e}");
            assert!(e.message.contains(message), "{to}\n=> {e}");
        }
        let twice = format!("{good}{}", &good[good.find("[[action]]").unwrap()..]);
        let e = Lock::parse("airlock.lock", &twice).unwrap_err();
        assert!(e.message.contains("approved twice"), "{e}");
        let e = Lock::parse("airlock.lock", "version = 1\n[[action]]\nname = \n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
    }
}
