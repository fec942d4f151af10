//! The operator's policy, `airlock.toml`: where actions are found, which
//! publishers are trusted, how mounts map to host directories, where secret
//! values come from, the ceilings on every limit, and where the audit log
//! goes. Which exact components may run is not here but in the lock
//! ([`crate::provenance::lock`]), written by `airlock approve`.
//!
//! ```toml
//! [actions.hello]
//! path = "plugins/hello.wasm"          # relative to this file
//! # require_signature = false          # for an action built in-house
//!
//! [publishers.acme]
//! keys = ["RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"]
//!
//! [trust]
//! lock = "airlock.lock"                # the default: next to this file
//! require_signature = true             # the default
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
//! http_requests = 1000                 # and the other http_* limits
//!
//! [network]
//! ca_certs = ["certs/internal-ca.pem"] # trusted besides the public roots
//! allow_private = ["10.20.0.0/16"]     # private addresses declared hosts may resolve to
//!
//! [network.hosts]                      # like a hosts file, checked before DNS
//! "api.internal.example" = ["10.20.0.7"]
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

use crate::caps::net::addr::IpBlock;
use crate::caps::net::grant::normalize_name;
use crate::caps::net::resolve::HostAddr;
use crate::doc::{self, DocError};
use crate::manifest::{self, Access};
use crate::provenance::minisign::PublicKey;
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
    /// Trusted publishers by name.
    pub publishers: BTreeMap<String, Publisher>,
    /// The lock, and whether signatures are required.
    pub trust: Trust,
    /// Trust, name overrides and reachable private ranges for HTTP.
    pub network: NetworkPolicy,
}

/// The operator's `[network]` table. Which origins an action reaches is its
/// manifest's business; this says how they are reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// PEM files of CA certificates trusted for HTTPS besides the public
    /// roots (`webpki-roots`).
    pub ca_certs: Vec<PathBuf>,
    /// Name overrides, consulted before DNS, by normalised name. An
    /// override does not make a blocked address reachable.
    pub hosts: BTreeMap<String, Vec<HostAddr>>,
    /// Addresses of blocked classes (private, loopback, link-local, …) that
    /// any action's declared host may resolve to — the operator naming the
    /// internal ranges actions may reach.
    pub allow_private: Vec<IpBlock>,
}

/// Where an action comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionSource {
    /// The component file, if `airlock run NAME` should find it by name.
    pub path: Option<PathBuf>,
    /// Overrides [`Trust::require_signature`] for this action: `false` for
    /// an action built in-house.
    pub require_signature: Option<bool>,
}

/// A publisher the operator trusts: components signed with one of its keys
/// (and whose manifest names it) count as published by it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publisher {
    /// Its minisign public keys.
    pub keys: Vec<PublicKey>,
}

/// Which approvals and signatures the host holds actions to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trust {
    /// The lock file: the digests and capability sets a person approved.
    pub lock: PathBuf,
    /// Whether every action must carry a signature by a trusted publisher
    /// (default `true`).
    pub require_signature: bool,
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
    /// HTTP requests per run.
    pub http_requests: u32,
    /// Body of one HTTP request.
    pub http_request_body: ByteSize,
    /// Body of one HTTP response.
    pub http_response_body: ByteSize,
    /// Resolving and connecting (DNS, TCP, TLS) for one HTTP request; each
    /// step gets this long.
    pub http_connect_timeout: Duration,
    /// From sending one HTTP request to its response's head.
    pub http_first_byte_timeout: Duration,
    /// One HTTP request, from resolving its host to the end of its response.
    pub http_timeout: Duration,
}

impl Default for Ceilings {
    fn default() -> Self {
        Ceilings {
            memory: ByteSize::mib(256),
            timeout: Duration::from_secs(60),
            output: ByteSize::mib(1),
            stdio: ByteSize::kib(64),
            log_records: 1000,
            http_requests: 1000,
            http_request_body: ByteSize::mib(16),
            http_response_body: ByteSize::mib(64),
            http_connect_timeout: Duration::from_secs(30),
            http_first_byte_timeout: Duration::from_secs(60),
            http_timeout: Duration::from_secs(300),
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
            publishers: BTreeMap::new(),
            trust: Trust {
                lock: PathBuf::from("airlock.lock"),
                require_signature: true,
            },
            network: NetworkPolicy::default(),
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
        #[serde(default)]
        publishers: BTreeMap<String, Publisher>,
        #[serde(default)]
        trust: Trust,
        #[serde(default)]
        network: Network,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Action {
        path: Option<PathBuf>,
        require_signature: Option<bool>,
        /// Pins moved to the lock; kept only to say so.
        digest: Option<serde::de::IgnoredAny>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Publisher {
        keys: Vec<String>,
    }

    #[derive(Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Trust {
        lock: Option<PathBuf>,
        require_signature: Option<bool>,
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
        http_requests: Option<u32>,
        http_request_body: Option<ByteSize>,
        http_response_body: Option<ByteSize>,
        http_connect_timeout: Option<Span>,
        http_first_byte_timeout: Option<Span>,
        http_timeout: Option<Span>,
    }

    #[derive(Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Network {
        #[serde(default)]
        ca_certs: Vec<PathBuf>,
        #[serde(default)]
        hosts: BTreeMap<String, Vec<String>>,
        #[serde(default)]
        allow_private: Vec<String>,
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
                if a.digest.is_some() {
                    return Err(err(
                        format!("actions.{name}.digest"),
                        format!(
                            "digests are no longer pinned in the policy: remove this line and \
                             approve the action with `airlock approve {name}`, which records its \
                             digest in airlock.lock"
                        ),
                    ));
                }
                actions.insert(
                    name,
                    ActionSource {
                        path: a.path.map(resolve),
                        require_signature: a.require_signature,
                    },
                );
            }

            let mut publishers = BTreeMap::new();
            for (name, p) in self.publishers {
                manifest::check_publisher(&name)
                    .map_err(|m| err(format!("publishers.{name}"), m))?;
                let mut keys = Vec::with_capacity(p.keys.len());
                for (i, key) in p.keys.iter().enumerate() {
                    keys.push(PublicKey::from_base64(key).map_err(|e| {
                        err(
                            format!("publishers.{name}.keys[{i}]"),
                            format!("not a minisign public key ({e}): paste the second line of the publisher's .pub file"),
                        )
                    })?);
                }
                if keys.is_empty() {
                    return Err(err(
                        format!("publishers.{name}.keys"),
                        "list at least one public key".into(),
                    ));
                }
                publishers.insert(name, super::Publisher { keys });
            }
            let trust = super::Trust {
                lock: resolve(self.trust.lock.unwrap_or_else(|| "airlock.lock".into())),
                require_signature: self.trust.require_signature.unwrap_or(true),
            };

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
                http_requests: l.http_requests.unwrap_or(defaults.http_requests),
                http_request_body: l.http_request_body.unwrap_or(defaults.http_request_body),
                http_response_body: l.http_response_body.unwrap_or(defaults.http_response_body),
                http_connect_timeout: l
                    .http_connect_timeout
                    .map(|s| s.0)
                    .unwrap_or(defaults.http_connect_timeout),
                http_first_byte_timeout: l
                    .http_first_byte_timeout
                    .map(|s| s.0)
                    .unwrap_or(defaults.http_first_byte_timeout),
                http_timeout: l.http_timeout.map(|s| s.0).unwrap_or(defaults.http_timeout),
            };
            if limits.memory.0 == 0 || limits.timeout.is_zero() {
                return Err(err(
                    "limits".into(),
                    "memory and timeout must be more than 0".into(),
                ));
            }
            if limits.http_connect_timeout.is_zero()
                || limits.http_first_byte_timeout.is_zero()
                || limits.http_timeout.is_zero()
            {
                return Err(err(
                    "limits".into(),
                    "http timeouts must be more than 0".into(),
                ));
            }

            let network = self.network.validate(&err, &resolve)?;

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
                publishers,
                trust,
                network,
            })
        }
    }

    impl Network {
        fn validate(
            self,
            err: &dyn Fn(String, String) -> DocError,
            resolve: &dyn Fn(PathBuf) -> PathBuf,
        ) -> Result<NetworkPolicy, DocError> {
            let mut hosts = BTreeMap::new();
            for (name, addrs) in self.hosts {
                let path = format!("network.hosts.{name:?}");
                let key = normalize_name(&name).map_err(|m| err(path.clone(), m))?;
                if addrs.is_empty() {
                    return Err(err(
                        path,
                        "give at least one address, like [\"10.0.0.5\"]".into(),
                    ));
                }
                let addrs = addrs
                    .iter()
                    .enumerate()
                    .map(|(i, a)| a.parse().map_err(|m| err(format!("{path}[{i}]"), m)))
                    .collect::<Result<Vec<HostAddr>, _>>()?;
                if hosts.insert(key.clone(), addrs).is_some() {
                    return Err(err(path, format!("`{key}` is listed twice")));
                }
            }
            let allow_private = self
                .allow_private
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    b.parse::<IpBlock>()
                        .map_err(|m| err(format!("network.allow_private[{i}]"), m))
                })
                .collect::<Result<_, _>>()?;
            Ok(NetworkPolicy {
                ca_certs: self.ca_certs.into_iter().map(resolve).collect(),
                hosts,
                allow_private,
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
require_signature = false

[publishers.acme]
keys = ["RWT1zvNfBNdZMvGzttUrFz27FuXEYiz5d9icJDL/TQf5xmEUjBhllmPy"]

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
        assert_eq!(p.actions["hello"].require_signature, Some(false));
        assert_eq!(
            p.publishers["acme"].keys[0].id().to_string(),
            "3259D7045FF3CEF5"
        );
        assert_eq!(p.trust.lock, Path::new("/etc/airlock/airlock.lock"));
        assert!(p.trust.require_signature);
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
    fn the_network_table_parses() {
        let text = r#"
[network]
ca_certs = ["certs/ca.pem", "/etc/ssl/internal.pem"]
allow_private = ["10.20.0.0/16", "127.0.0.1"]

[network.hosts]
"API.Test." = ["127.0.0.1", "[::1]:8443"]

[limits]
http_requests = 5
http_response_body = "1 MiB"
"#;
        let p = Policy::parse("airlock.toml", text, Path::new("/etc/airlock")).unwrap();
        let n = &p.network;
        assert_eq!(
            n.ca_certs,
            [
                PathBuf::from("/etc/airlock/certs/ca.pem"),
                PathBuf::from("/etc/ssl/internal.pem")
            ]
        );
        assert_eq!(
            n.hosts["api.test"],
            [
                HostAddr::Ip("127.0.0.1".parse().unwrap()),
                HostAddr::Socket("[::1]:8443".parse().unwrap())
            ]
        );
        assert!(n.allow_private[0].contains("10.20.3.4".parse().unwrap()));
        assert!(n.allow_private[1].contains("127.0.0.1".parse().unwrap()));
        assert_eq!(p.limits.http_requests, 5);
        assert_eq!(p.limits.http_response_body, ByteSize::mib(1));
        assert_eq!(p.limits.http_timeout, Ceilings::default().http_timeout);
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
                "[actions.hello]\ndigest = \"sha256:00\"\n",
                "actions.hello.digest",
                "`airlock approve hello`",
            ),
            (
                "[publishers.acme]\nkeys = [\"RWQ\"]\n",
                "publishers.acme.keys[0]",
                "not a minisign public key",
            ),
            (
                "[publishers.acme]\nkeys = []\n",
                "publishers.acme.keys",
                "at least one",
            ),
            (
                "[trust]\nrequire_signatures = false\n",
                "trust.require_signatures",
                "unknown field",
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
            (
                "[network.hosts]\n\"api_test\" = [\"127.0.0.1\"]\n",
                "network.hosts.\"api_test\"",
                "not a host name",
            ),
            (
                "[network.hosts]\n\"api.test\" = [\"localhost\"]\n",
                "network.hosts.\"api.test\"[0]",
                "not an address",
            ),
            (
                "[network.hosts]\n\"api.test\" = []\n",
                "network.hosts.\"api.test\"",
                "at least one address",
            ),
            (
                "[network.hosts]\n\"API.test\" = [\"10.0.0.1\"]\n\"api.test.\" = [\"10.0.0.2\"]\n",
                "network.hosts.\"api.test.\"",
                "listed twice",
            ),
            (
                "[network]\nallow_private = [\"10.0.0.1/8\"]\n",
                "network.allow_private[0]",
                "\"10.0.0.0/8\"",
            ),
            (
                "[network]\nproxy = \"x\"\n",
                "network.proxy",
                "unknown field `proxy`",
            ),
            ("[limits]\nhttp_timeout = \"0s\"\n", "limits", "more than 0"),
        ];
        for (text, path, message) in cases {
            let e = Policy::parse("airlock.toml", text, Path::new(".")).unwrap_err();
            assert_eq!(e.path, *path, "{text}\n=> {e}");
            assert!(e.message.contains(message), "{text}\n=> {e}");
        }
    }
}
