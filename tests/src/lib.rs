//! Support for the end-to-end tests: a temporary operator setup (policy,
//! lock, mounts, secrets, audit log) around real components built from
//! `plugins/` and `tests/guests/`.
//!
//! Every action a [`Setup`] is given is signed with the setup's own
//! publisher key (trusted in the policy for the publisher its manifest
//! names) and approved in the setup's lock, as an operator would do with
//! `airlock approve`.

#![allow(clippy::unwrap_used)]

use airlock::rules::manifest::{Manifest, section};
use airlock::rules::provenance::minisign::SecretKey;
use airlock::rules::provenance::{Digest, Entry, Lock};
use airlock::{Host, Policy};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use airlock_test_artifacts as artifacts;
pub use airlock_test_server as server;

/// A manifest for the `probe` test guest with `capabilities` (TOML lines
/// under `[capabilities]`) and `limits` (under `[limits]`).
pub fn probe_manifest(capabilities: &str, limits: &str) -> String {
    format!(
        "[action]\nname = \"probe\"\nversion = \"1.0.0\"\npublisher = \"airlock-tests\"\n\n\
         [capabilities]\n{capabilities}\n\n[limits]\n{limits}\n"
    )
}

/// The `probe` guest with `manifest` embedded.
pub fn probe_with(manifest: &str) -> Vec<u8> {
    let bytes = std::fs::read(artifacts::PROBE).unwrap();
    section::embed(&bytes, manifest).unwrap()
}

/// A temporary operator setup: a directory holding the policy, mounts,
/// secret files, components and the audit log.
pub struct Setup {
    dir: tempfile::TempDir,
    policy: String,
    key: SecretKey,
    publishers: BTreeSet<String>,
}

impl Default for Setup {
    fn default() -> Self {
        Self::new()
    }
}

impl Setup {
    /// An empty setup: no actions, mounts or secrets.
    pub fn new() -> Setup {
        Setup {
            dir: tempfile::tempdir().unwrap(),
            policy: String::new(),
            key: SecretKey::generate().unwrap(),
            publishers: BTreeSet::new(),
        }
    }

    /// The setup's directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Add the lines of `text` to the policy.
    pub fn policy(&mut self, text: &str) -> &mut Self {
        self.policy.push_str(text);
        self.policy.push('\n');
        self
    }

    /// Create a directory and offer it as mount `name` with `access`.
    pub fn mount(&mut self, name: &str, access: &str) -> PathBuf {
        let dir = self.dir.path().join("mounts").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        writeln!(
            self.policy,
            "[mounts.{name}]\npath = {:?}\naccess = {access:?}",
            dir.display().to_string()
        )
        .unwrap();
        dir
    }

    /// Provide secret `name` from a file holding `value`.
    pub fn secret(&mut self, name: &str, value: &str) -> &mut Self {
        let file = self.dir.path().join("secrets").join(name);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, value).unwrap();
        writeln!(
            self.policy,
            "[secrets.{name}]\nfile = {:?}",
            file.display().to_string()
        )
        .unwrap();
        self
    }

    /// The policy's `[network]`: trusted CA files, address blocks actions'
    /// hosts may resolve to, and name overrides (`name`, `["addr", …]`).
    pub fn network(
        &mut self,
        ca_certs: &[&Path],
        allow_private: &[&str],
        hosts: &[(&str, Vec<String>)],
    ) -> &mut Self {
        let files: Vec<String> = ca_certs.iter().map(|p| p.display().to_string()).collect();
        writeln!(
            self.policy,
            "[network]\nca_certs = {files:?}\nallow_private = {allow_private:?}\n[network.hosts]"
        )
        .unwrap();
        for (name, addrs) in hosts {
            writeln!(self.policy, "{name:?} = {addrs:?}").unwrap();
        }
        self
    }

    /// Write `component` into the setup as action `name`, signed (as
    /// `<file>.minisig`) and approved in the lock. A component without a
    /// valid manifest cannot be approved; it is only written.
    pub fn action(&mut self, name: &str, component: &[u8]) -> PathBuf {
        let file = self.dir.path().join("actions").join(format!("{name}.wasm"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, component).unwrap();
        writeln!(
            self.policy,
            "[actions.{name}]\npath = {:?}",
            file.display().to_string()
        )
        .unwrap();
        self.sign(&file);
        self.approve(&file);
        file
    }

    /// Sign the component at `file` with the setup's publisher key, as
    /// `<file>.minisig`.
    pub fn sign(&self, file: &Path) -> PathBuf {
        let bytes = std::fs::read(file).unwrap();
        let signature = self.key.sign(&bytes, "file:test component").unwrap();
        let sig_path = PathBuf::from(format!("{}.minisig", file.display()));
        std::fs::write(&sig_path, signature.to_text()).unwrap();
        sig_path
    }

    /// Approve the component at `file` in the lock (replacing the approval
    /// of the same action), and trust the setup's key for its publisher.
    /// Does nothing for a component without a valid manifest.
    pub fn approve(&mut self, file: &Path) {
        let bytes = std::fs::read(file).unwrap();
        let Some(manifest) = section::extract(&bytes)
            .ok()
            .and_then(|text| Manifest::parse("manifest", text).ok())
        else {
            return;
        };
        self.publishers.insert(manifest.action.publisher.clone());
        let mut lock = Lock::load(&self.lock_path()).unwrap();
        lock.insert(Entry::new(
            &manifest,
            Digest::of(&bytes),
            file.display().to_string(),
            Some(self.key.id()),
            SystemTime::now(),
        ));
        lock.save(&self.lock_path()).unwrap();
    }

    /// The setup's publisher signing key.
    pub fn key(&self) -> &SecretKey {
        &self.key
    }

    /// The lock file's path.
    pub fn lock_path(&self) -> PathBuf {
        self.dir.path().join("airlock.lock")
    }

    /// The `probe` guest with the given capabilities and limits, signed and
    /// approved as action `probe`.
    pub fn probe(&mut self, capabilities: &str, limits: &str) -> PathBuf {
        self.action("probe", &probe_with(&probe_manifest(capabilities, limits)))
    }

    /// The policy file's path (written by [`Setup::host`]).
    pub fn policy_path(&self) -> PathBuf {
        self.dir.path().join("airlock.toml")
    }

    /// The audit log's path.
    pub fn audit_path(&self) -> PathBuf {
        self.dir.path().join("airlock-audit.jsonl")
    }

    /// Write the policy file and build a host from it.
    pub fn host(&self) -> Host {
        self.write_policy();
        Host::builder(Policy::load(&self.policy_path()).unwrap())
            .build()
            .unwrap()
    }

    /// Write the policy file: what was added, and the setup's key trusted
    /// for the publisher of every approved action.
    pub fn write_policy(&self) {
        let mut policy = self.policy.clone();
        for publisher in &self.publishers {
            writeln!(
                policy,
                "\n[publishers.{publisher}]\nkeys = [\"{}\"]",
                self.key.public_key().to_base64()
            )
            .unwrap();
        }
        std::fs::write(self.policy_path(), policy).unwrap();
    }

    /// Every record of the audit log.
    pub fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.audit_path()).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The records of `event` kind.
    pub fn events(&self, event: &str) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["event"] == event)
            .collect()
    }

    /// The records of `event` kind that say how something ended: single
    /// records and the results that close intents (not the intents).
    pub fn outcomes(&self, event: &str) -> Vec<Value> {
        self.events(event)
            .into_iter()
            .filter(|r| r["phase"] != "intent")
            .collect()
    }

    /// The whole audit log as text.
    pub fn audit_text(&self) -> String {
        std::fs::read_to_string(self.audit_path()).unwrap_or_default()
    }
}

/// Run the setup's `probe` on `ops` (its `many` op) in a new host: what
/// each op returned, and the outcome.
pub async fn run_many(setup: &Setup, ops: &[Value]) -> (Vec<Value>, airlock::Outcome) {
    let outcome = setup
        .host()
        .invoke(
            "probe",
            &serde_json::json!({"op": "many", "ops": ops}).to_string(),
        )
        .await
        .unwrap();
    let out = output(&outcome).as_array().unwrap().clone();
    (out, outcome)
}

/// The JSON output of a successful outcome.
pub fn output(outcome: &airlock::Outcome) -> Value {
    match &outcome.result {
        Ok(json) => serde_json::from_str(json).unwrap(),
        Err(failure) => panic!("run {} failed: {failure}", outcome.run),
    }
}
