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
//! # highest = "0.2.0"                # the highest version ever approved, when above this one
//! # downgraded_from = "0.2.0"        # set when this approval was a --allow-downgrade
//! network = []
//! files = [
//!     { mount = "reports", access = "read-write" },
//!     { mount = "source", access = "read" },
//! ]
//! secrets = []
//!
//! [action.limits]                    # every limit the manifest may ask for
//! memory = "32 MiB"
//! timeout = "10s"
//! output = "1 MiB"                   # absent: the policy's ceiling
//! http_requests = 100
//! http_request_body = "1 MiB"
//! http_response_body = "8 MiB"
//! http_connect_timeout = "10s"
//! http_first_byte_timeout = "30s"
//! http_timeout = "1m"
//! ```
//!
//! A lock written before the `http_*` limits were recorded has only
//! `memory`, `timeout` and `output`; each absent limit reads as the default
//! a run gets, so an action whose manifest asks for more is capability
//! drift until it is approved again.
//!
//! The text is written in one stable order (entries by name, every list
//! sorted, one item per line), so that a change of approval is a readable
//! diff in review. It is decoded as strictly as the policy, and replaced
//! atomically: a crash leaves the old lock or the new one, never half of
//! one. A change is made to the lock as it is on disk, under a lock on its
//! directory ([`Lock::edit`]), so two approvals at once do not overwrite
//! each other.

mod decode;
mod encode;

use super::Digest;
use super::approval::Approved;
use super::minisign::KeyId;
use crate::doc::DocError;
use crate::manifest::Manifest;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
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
    /// The highest version ever approved under this name, when it is above
    /// `version` (a downgrade was allowed): later approvals are downgrades
    /// unless they reach it.
    pub highest: Option<semver::Version>,
    /// The version this approval went back from, when it was a downgrade
    /// allowed with `--allow-downgrade`: the override, on the record.
    pub downgraded_from: Option<semver::Version>,
    /// What was approved.
    pub approved: Approved,
    /// The dependency list the component was built with, one
    /// [package line](crate::sbom::Package::line) each; `None` when it
    /// carried none.
    pub dependencies: Option<Vec<String>>,
    /// The Sigstore attestation it was approved with, when its publisher
    /// is trusted by identity.
    pub attestation: Option<crate::provenance::sigstore::Attestation>,
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
            highest: None,
            downgraded_from: None,
            approved: Approved::of(manifest),
            dependencies: None,
            attestation: None,
        }
    }

    /// The highest version approved under this name so far: this one, or a
    /// higher one it was a downgrade from.
    pub fn high_water(&self) -> &semver::Version {
        self.highest
            .as_ref()
            .filter(|h| **h > self.version)
            .unwrap_or(&self.version)
    }

    /// `approved_at` as RFC 3339, like `2026-11-23T10:00:00Z`.
    pub fn approved_at_text(&self) -> String {
        humantime::format_rfc3339_seconds(self.approved_at).to_string()
    }
}

impl Lock {
    /// Read the lock at `path`; a missing file is an empty lock (nothing is
    /// approved yet).
    pub fn load(path: &Path) -> Result<Lock, DocError> {
        match crate::opfile::read_operator_text(path, crate::opfile::LOCK_MAX, "lock") {
            Ok(text) => Ok(Lock::parse(&path.display().to_string(), &text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
            // Like a lock that does not parse: the operator's to fix.
            Err(e) => Err(DocError::new(
                &path.display().to_string(),
                "",
                format!("cannot be read: {e}"),
            )),
        }
    }

    /// Decode and validate lock text; `document` names it in errors.
    pub fn parse(document: &str, text: &str) -> Result<Lock, DocError> {
        decode::parse(document, text)
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

    /// The lock at `path` as it is now, held for a change: until the
    /// [`Editing`] is saved or dropped, every other `edit` of that lock
    /// waits (an exclusive `flock` on its directory; the file itself is
    /// replaced by a rename, so a lock on it would not last). Without this,
    /// two approvals at once would each write the lock they read, and the
    /// later would drop the earlier's entry.
    pub fn edit(path: &Path) -> Result<Editing, crate::Error> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let held = File::open(dir)
            .and_then(|d| d.lock().map(|()| d))
            .map_err(|e| crate::Error::io(format!("cannot lock {}", dir.display()), e))?;
        Ok(Editing {
            lock: Lock::load(path)?,
            path: path.to_path_buf(),
            _held: held,
        })
    }
}

/// A lock read for a change, which no other [`Lock::edit`] can make
/// meanwhile.
#[derive(Debug)]
pub struct Editing {
    lock: Lock,
    path: PathBuf,
    _held: File,
}

impl Editing {
    /// The lock as it is on disk.
    pub fn current(&self) -> &Lock {
        &self.lock
    }

    /// Add or replace the entry for `entry.name`, write the lock
    /// (atomically), and let the next change go ahead.
    pub fn save(mut self, entry: Entry) -> Result<(), crate::Error> {
        self.lock.insert(entry);
        self.lock.save(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn entry(name: &str, caps: &str) -> Entry {
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
    fn an_edit_waits_for_the_one_before_it_and_sees_its_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airlock.lock");
        let first = Lock::edit(&path).unwrap();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let second = std::thread::spawn({
            let (path, done) = (path.clone(), done.clone());
            move || {
                let editing = Lock::edit(&path).unwrap();
                done.store(true, std::sync::atomic::Ordering::SeqCst);
                let seen = editing.current().get("alpha").is_some();
                editing.save(entry("beta", "network = []")).unwrap();
                seen
            }
        });
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !done.load(std::sync::atomic::Ordering::SeqCst),
            "the second edit went ahead"
        );
        first.save(entry("alpha", "network = []")).unwrap();
        assert!(
            second.join().unwrap(),
            "the second edit read the lock before the first was saved"
        );
        let lock = Lock::load(&path).unwrap();
        assert!(lock.get("alpha").is_some() && lock.get("beta").is_some());
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
        alpha.approved.limits.http_requests = 3;
        alpha.approved.limits.http_response_body = crate::units::ByteSize::kib(64);
        alpha.approved.limits.http_first_byte_timeout =
            crate::units::Span(Duration::from_millis(1500));
        alpha.dependencies = Some(vec!["cc 1.2.0 [build]".into(), "serde 1.0.228".into()]);
        alpha.attestation = Some(crate::provenance::sigstore::Attestation {
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: "https://github.com/acme/x/.github/workflows/r.yml@refs/tags/v1".into(),
            repository: Some("https://github.com/acme/x".into()),
            builder: None,
            log_index: 31_821_305,
            integrated_time: 1_692_374_735,
        });
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
        assert!(
            text.contains(
                "dependencies = [\n    \"cc 1.2.0 [build]\",\n    \"serde 1.0.228\",\n]\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "\n[action.attestation]\nissuer = \"https://token.actions.githubusercontent.com\"\n\
                 subject = \"https://github.com/acme/x/.github/workflows/r.yml@refs/tags/v1\"\n\
                 repository = \"https://github.com/acme/x\"\nlog_index = 31821305\n\
                 integrated_time = \"2023-08-18T16:05:35Z\"\n"
            ),
            "{text}"
        );
        // Without a list, no line: an action approved without one.
        assert_eq!(text.matches("dependencies =").count(), 1, "{text}");
        assert!(
            text.contains(
                "\n[action.limits]\nmemory = \"64 MiB\"\ntimeout = \"10s\"\noutput = \"1 MiB\"\n\
                 http_requests = 3\nhttp_request_body = \"1 MiB\"\nhttp_response_body = \"64 KiB\"\n\
                 http_connect_timeout = \"10s\"\nhttp_first_byte_timeout = \"1s 500ms\"\n\
                 http_timeout = \"1m\"\n\n[action.attestation]\n"
            ),
            "every approved limit is in the lock, one per line: {text}"
        );
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
}
