//! The operator's policy, `airlock.toml`: which actions may run (and the
//! digest each is pinned to), how mounts map to host directories, where
//! secret values come from, the ceilings on every limit, and where the audit
//! log goes.
//!
//! ```toml
//! [actions.hello]
//! path = "plugins/hello.wasm"          # relative to this file
//! digest = "sha256:…"                  # `airlock inspect` prints it
//!
//! [mounts.workspace]
//! path = "workspace"
//! access = "read-write"                # the most any action gets here
//!
//! [secrets.WEBHOOK_SIGNING_KEY]
//! env = "SIGNING_KEY"                  # or: file = "/run/secrets/signing-key"
//!
//! [limits]                             # ceilings; manifests may ask for less
//! memory = "256 MiB"
//! timeout = "60s"
//! output = "1 MiB"
//!
//! [audit]
//! path = "airlock-audit.jsonl"
//! sync = "always"                      # fsync every record; or "group", "none"
//! key = "audit.key"                    # checkpoint signing key (`airlock audit keygen`)
//! checkpoint_every = 1000              # records; also at the end of every run
//! checkpoint_interval = "60s"          # while records keep coming
//! segment_size = "64 MiB"              # rotate the log into segments
//! anchor_dir = "/mnt/worm/airlock"     # a second copy of every checkpoint
//! ```
//!
//! Like the manifest, the policy is decoded strictly and validated once.

use crate::doc::{self, DocError};
use crate::manifest::{self, Access};
use crate::provenance::Digest;
use crate::units::{ByteSize, Span};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A validated operator policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The directory relative paths in the policy are resolved against.
    pub base: PathBuf,
    /// Actions by name.
    pub actions: BTreeMap<String, ActionSource>,
    /// Mounts by name.
    pub mounts: BTreeMap<String, MountPolicy>,
    /// Where each secret's value comes from, by secret name.
    pub secrets: BTreeMap<String, SecretSource>,
    /// The most any action may get.
    pub limits: Ceilings,
    /// The audit log.
    pub audit: AuditConfig,
}

/// Where an action comes from and which bytes are allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionSource {
    /// The component file, if `airlock run NAME` should find it by name.
    pub path: Option<PathBuf>,
    /// The only digest that may run under this name.
    pub digest: Option<Digest>,
}

/// A host directory offered to actions under a mount name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountPolicy {
    /// The host directory.
    pub path: PathBuf,
    /// The most any action gets on it.
    pub access: Access,
}

/// Where a secret's value comes from. Values are read when a run starts, from
/// the host's environment or file system — never from the action's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable of the airlock process.
    Env(String),
    /// A file; one trailing newline is dropped.
    File(PathBuf),
}

/// Ceilings on what a run may use; manifests may ask for less, never more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ceilings {
    /// Linear memory of one run.
    pub memory: ByteSize,
    /// Wall-clock time of one run.
    pub timeout: Duration,
    /// Size of a run's output (or error message).
    pub output: ByteSize,
    /// Bytes of stdout and of stderr kept per run; the rest is counted.
    pub stdio: ByteSize,
    /// Log records kept per run; the rest is counted.
    pub log_records: u32,
}

impl Default for Ceilings {
    fn default() -> Self {
        Ceilings {
            memory: ByteSize::mib(256),
            timeout: Duration::from_secs(60),
            output: ByteSize::mib(1),
            stdio: ByteSize::kib(64),
            log_records: 1000,
        }
    }
}

/// Where the audit log is written and how durably.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// The JSON Lines file records are appended to.
    pub path: PathBuf,
    /// When records are forced to disk.
    pub sync: SyncPolicy,
    /// The checkpoint signing key (a `PRIVATE+KEY+…` file from `airlock
    /// audit keygen`). Without one, a key is generated beside the log
    /// (`<log stem>.key`, its verifier key in `<log stem>.pub`).
    pub key: Option<PathBuf>,
    /// Where signed checkpoints are appended; default `<log stem>.checkpoints`.
    pub checkpoints: PathBuf,
    /// A checkpoint after this many records (besides the end of every run).
    pub checkpoint_every: u64,
    /// A checkpoint this often while records are written.
    pub checkpoint_interval: Duration,
    /// Rotate the log into a new segment past this size.
    pub segment_size: Option<ByteSize>,
    /// A second place every checkpoint goes.
    pub anchor: Option<Anchor>,
}

impl AuditConfig {
    /// The defaults for a log at `path`.
    pub fn at(path: impl Into<PathBuf>) -> AuditConfig {
        let path = path.into();
        AuditConfig {
            checkpoints: path.with_extension("checkpoints"),
            path,
            sync: SyncPolicy::Always,
            key: None,
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
            segment_size: None,
            anchor: None,
        }
    }
}

/// A second location for checkpoints, outside the log's directory: "sync
/// hashes to a separate domain".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// Each checkpoint is written to `<dir>/checkpoint-<size>` (and
    /// `<dir>/latest`), atomically.
    Dir(PathBuf),
    /// A command run with the signed checkpoint on its standard input and
    /// `AIRLOCK_CHECKPOINT_SIZE` in its environment; it must exit 0.
    Command(Vec<String>),
}

/// When audit records are forced to stable storage.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncPolicy {
    /// `fsync` after every record: a record the host acted on survives a
    /// power cut.
    Always,
    /// Leave it to the operating system: survives a crash of airlock, not of
    /// the machine.
    None,
    /// Group commit: every record is written at once, and a record that must
    /// be durable before the host acts (an intent, a run's end, a
    /// checkpoint) waits for an `fsync` it shares with records written
    /// concurrently.
    Group,
}

impl Policy {
    /// Read and validate the policy file at `path`.
    pub fn load(path: &Path) -> Result<Policy, crate::Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| crate::Error::io(format!("cannot read {}", path.display()), e))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        Ok(Policy::parse(&path.display().to_string(), &text, &base)?)
    }

    /// Decode and validate policy text; relative paths resolve against `base`.
    pub fn parse(document: &str, text: &str, base: &Path) -> Result<Policy, DocError> {
        let raw: raw::Policy = doc::from_toml(document, text)?;
        raw.validate(document, base)
    }

    /// A policy that runs nothing and grants nothing, logging to `audit_log`.
    pub fn empty(audit_log: impl Into<PathBuf>) -> Policy {
        Policy {
            base: PathBuf::from("."),
            actions: BTreeMap::new(),
            mounts: BTreeMap::new(),
            secrets: BTreeMap::new(),
            limits: Ceilings::default(),
            audit: AuditConfig::at(audit_log),
        }
    }
}

mod raw {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Policy {
        #[serde(default)]
        actions: BTreeMap<String, Action>,
        #[serde(default)]
        mounts: BTreeMap<String, Mount>,
        #[serde(default)]
        secrets: BTreeMap<String, Secret>,
        #[serde(default)]
        limits: Limits,
        #[serde(default)]
        audit: Audit,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Action {
        path: Option<PathBuf>,
        digest: Option<Digest>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Mount {
        path: PathBuf,
        access: Access,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Secret {
        env: Option<String>,
        file: Option<PathBuf>,
    }

    #[derive(Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        memory: Option<ByteSize>,
        timeout: Option<Span>,
        output: Option<ByteSize>,
        stdio: Option<ByteSize>,
        log_records: Option<u32>,
    }

    #[derive(Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Audit {
        path: Option<PathBuf>,
        sync: Option<SyncPolicy>,
        key: Option<PathBuf>,
        checkpoints: Option<PathBuf>,
        checkpoint_every: Option<u64>,
        checkpoint_interval: Option<Span>,
        segment_size: Option<ByteSize>,
        anchor_dir: Option<PathBuf>,
        anchor_command: Option<Vec<String>>,
    }

    impl Policy {
        pub fn validate(self, document: &str, base: &Path) -> Result<super::Policy, DocError> {
            let err = |path: String, message: String| DocError::new(document, path, message);
            let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };

            let mut actions = BTreeMap::new();
            for (name, a) in self.actions {
                manifest::check_action_name(&name)
                    .map_err(|m| err(format!("actions.{name}"), m))?;
                actions.insert(
                    name,
                    ActionSource {
                        path: a.path.map(resolve),
                        digest: a.digest,
                    },
                );
            }

            let mut mounts = BTreeMap::new();
            for (name, m) in self.mounts {
                manifest::check_mount_name(&name).map_err(|e| err(format!("mounts.{name}"), e))?;
                mounts.insert(
                    name,
                    MountPolicy {
                        path: resolve(m.path),
                        access: m.access,
                    },
                );
            }

            let mut secrets = BTreeMap::new();
            for (name, s) in self.secrets {
                manifest::check_secret_name(&name)
                    .map_err(|e| err(format!("secrets.{name}"), e))?;
                let source = match (s.env, s.file) {
                    (Some(var), None) if !var.is_empty() && !var.contains(['=', '\0']) => {
                        SecretSource::Env(var)
                    }
                    (Some(var), None) => {
                        return Err(err(
                            format!("secrets.{name}.env"),
                            format!(
                                "`{}` is not an environment variable name",
                                var.escape_debug()
                            ),
                        ));
                    }
                    (None, Some(file)) => SecretSource::File(resolve(file)),
                    _ => {
                        return Err(err(
                            format!("secrets.{name}"),
                            "give exactly one source: env = \"VAR\" or file = \"path\"".into(),
                        ));
                    }
                };
                secrets.insert(name, source);
            }

            let defaults = Ceilings::default();
            let l = self.limits;
            let limits = Ceilings {
                memory: l.memory.unwrap_or(defaults.memory),
                timeout: l.timeout.map(|s| s.0).unwrap_or(defaults.timeout),
                output: l.output.unwrap_or(defaults.output),
                stdio: l.stdio.unwrap_or(defaults.stdio),
                log_records: l.log_records.unwrap_or(defaults.log_records),
            };
            if limits.memory.0 == 0 || limits.timeout.is_zero() {
                return Err(err(
                    "limits".into(),
                    "memory and timeout must be more than 0".into(),
                ));
            }

            let a = self.audit;
            let mut audit = AuditConfig::at(resolve(
                a.path.unwrap_or_else(|| "airlock-audit.jsonl".into()),
            ));
            audit.sync = a.sync.unwrap_or(SyncPolicy::Always);
            audit.key = a.key.map(resolve);
            if let Some(c) = a.checkpoints {
                audit.checkpoints = resolve(c);
            }
            if let Some(n) = a.checkpoint_every {
                if n == 0 {
                    return Err(err(
                        "audit.checkpoint_every".into(),
                        "must be more than 0".into(),
                    ));
                }
                audit.checkpoint_every = n;
            }
            if let Some(t) = a.checkpoint_interval {
                if t.0.is_zero() {
                    return Err(err(
                        "audit.checkpoint_interval".into(),
                        "must be more than 0".into(),
                    ));
                }
                audit.checkpoint_interval = t.0;
            }
            audit.segment_size = a.segment_size.filter(|s| s.0 > 0);
            audit.anchor = match (a.anchor_dir, a.anchor_command) {
                (None, None) => None,
                (Some(dir), None) => Some(Anchor::Dir(resolve(dir))),
                (None, Some(cmd)) if !cmd.is_empty() => Some(Anchor::Command(cmd)),
                (None, Some(_)) => {
                    return Err(err(
                        "audit.anchor_command".into(),
                        "give the program and its arguments".into(),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(err(
                        "audit".into(),
                        "give one of anchor_dir and anchor_command".into(),
                    ));
                }
            };

            Ok(super::Policy {
                base: base.to_path_buf(),
                actions,
                mounts,
                secrets,
                limits,
                audit,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_policy_parses_with_paths_resolved() {
        let text = r#"
[actions.hello]
path = "plugins/hello.wasm"
digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

[mounts.workspace]
path = "/srv/work"
access = "read"

[secrets.TOKEN]
env = "MY_TOKEN"

[secrets.KEY]
file = "keys/key"

[limits]
memory = "64 MiB"

[audit]
sync = "none"
key = "keys/audit.key"
checkpoint_every = 50
checkpoint_interval = "5s"
segment_size = "1 MiB"
anchor_command = ["cp", "/dev/stdin", "/mnt/worm/latest"]
"#;
        let p = Policy::parse("airlock.toml", text, Path::new("/etc/airlock")).unwrap();
        assert_eq!(
            p.actions["hello"].path.as_deref(),
            Some(Path::new("/etc/airlock/plugins/hello.wasm"))
        );
        assert!(p.actions["hello"].digest.is_some());
        assert_eq!(
            p.mounts["workspace"],
            MountPolicy {
                path: "/srv/work".into(),
                access: Access::Read
            }
        );
        assert_eq!(p.secrets["TOKEN"], SecretSource::Env("MY_TOKEN".into()));
        assert_eq!(
            p.secrets["KEY"],
            SecretSource::File("/etc/airlock/keys/key".into())
        );
        assert_eq!(p.limits.memory, ByteSize::mib(64));
        assert_eq!(p.limits.timeout, Ceilings::default().timeout);
        assert_eq!(p.audit.path, Path::new("/etc/airlock/airlock-audit.jsonl"));
        assert_eq!(p.audit.sync, SyncPolicy::None);
        assert_eq!(
            p.audit.key.as_deref(),
            Some(Path::new("/etc/airlock/keys/audit.key"))
        );
        assert_eq!(
            p.audit.checkpoints,
            Path::new("/etc/airlock/airlock-audit.checkpoints")
        );
        assert_eq!(
            (p.audit.checkpoint_every, p.audit.checkpoint_interval),
            (50, Duration::from_secs(5))
        );
        assert_eq!(p.audit.segment_size, Some(ByteSize::mib(1)));
        assert!(matches!(&p.audit.anchor, Some(Anchor::Command(c)) if c[0] == "cp"));
    }

    #[test]
    fn an_empty_file_is_an_empty_policy() {
        let p = Policy::parse("airlock.toml", "", Path::new(".")).unwrap();
        assert!(p.actions.is_empty() && p.mounts.is_empty() && p.secrets.is_empty());
    }

    #[test]
    fn errors_name_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "[mounts.work]\npath = \"x\"\naccess = \"rw\"\n",
                "mounts.work.access",
                "unknown variant",
            ),
            (
                "[mounts.Work]\npath = \"x\"\naccess = \"read\"\n",
                "mounts.Work",
                "not a mount name",
            ),
            (
                "[secrets.T]\nenv = \"A\"\nfile = \"b\"\n",
                "secrets.T",
                "exactly one source",
            ),
            ("[secrets.T]\n", "secrets.T", "exactly one source"),
            (
                "[secrets.T]\ncommand = \"cat key\"\n",
                "secrets.T.command",
                "unknown field `command`",
            ),
            (
                "[actions.hello]\ndigest = \"md5:00\"\n",
                "actions.hello.digest",
                "not a digest",
            ),
            (
                "[actions.Hello]\npath = \"x\"\n",
                "actions.Hello",
                "not an action name",
            ),
            ("[limits]\ntimeout = \"0s\"\n", "limits", "more than 0"),
            (
                "[audit]\nsync = \"sometimes\"\n",
                "audit.sync",
                "unknown variant",
            ),
            (
                "[audit]\ncheckpoint_every = 0\n",
                "audit.checkpoint_every",
                "more than 0",
            ),
            (
                "[audit]\nanchor_dir = \"a\"\nanchor_command = [\"b\"]\n",
                "audit",
                "one of anchor_dir",
            ),
            (
                "[mount.work]\npath = \"x\"\n",
                "mount",
                "unknown field `mount`",
            ),
        ];
        for (text, path, message) in cases {
            let e = Policy::parse("airlock.toml", text, Path::new(".")).unwrap_err();
            assert_eq!(e.path, *path, "{text}\n=> {e}");
            assert!(e.message.contains(message), "{text}\n=> {e}");
        }
    }
}
