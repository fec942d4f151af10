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
//! # or by identity: a Sigstore bundle beside the component, verified offline
//! # sigstore = [{ issuer = "https://token.actions.githubusercontent.com",
//! #              subject = "https://github.com/acme/actions/.github/workflows/release.yml@refs/tags/v*" }]
//!
//! [trust]
//! lock = "airlock.lock"                # the default: next to this file
//! require_signature = true             # the default
//! # require_sbom = true                # refuse components without a dependency list
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
//! input = "1 MiB"                      # the largest input accepted
//! http_requests = 1000                 # and the other http_* limits
//!
//! [compile]                            # checked before anything is compiled
//! component = "64 MiB"                 # the defaults; see CompileCeilings
//! functions = 100000
//! function = "1 MiB"
//! timeout = "60s"                      # compiling, in a child process (the CLI's)
//! memory = "2 GiB"
//!
//! [network]
//! ca_certs = ["certs/internal-ca.pem"] # trusted besides the public roots
//! allow_private = ["10.20.0.0/16"]     # private addresses declared hosts may resolve to
//! forbid = ["metadata", "loopback"]    # never reached, whatever is granted; also
//!                                      # "link-local" and "wide" (blocks wider than:)
//! min_prefix_v4 = 24                   # the default; shorter blocks are "wide"
//! min_prefix_v6 = 64                   # the default
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

use crate::config::{self, ConfigValue};
use crate::doc::{self, DocError};
use crate::manifest::{self, Access};
use crate::net::HostAddr;
use crate::net::addr::IpBlock;
use crate::net::normalize_name;
use crate::net::sensitive::{MinPrefix, Sensitive};
use crate::provenance::minisign::PublicKey;
use crate::units::{ByteSize, Span};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A validated operator policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The directory relative paths in the policy are resolved against.
    pub base: PathBuf,
    /// The file the policy was read from ([`Policy::load`]); `None` for one
    /// made from text.
    pub file: Option<PathBuf>,
    /// Actions by name.
    pub actions: BTreeMap<String, ActionSource>,
    /// Mounts by name.
    pub mounts: BTreeMap<String, MountPolicy>,
    /// Where each secret's value comes from, by secret name.
    pub secrets: BTreeMap<String, SecretSource>,
    /// The most any action may get.
    pub limits: Ceilings,
    /// The most a component may make the compiler do.
    pub compile: CompileCeilings,
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
    /// Kinds of address no action reaches, whatever its grant or
    /// `allow_private` says: granted blocks of these kinds are left out of
    /// every grant, and a request whose host resolves to one is refused.
    pub forbid: BTreeSet<Sensitive>,
    /// A granted block shorter than this is [`Sensitive::Wide`]: flagged at
    /// approval, and refused when `forbid` lists `wide`.
    pub min_prefix: MinPrefix,
}

/// Where an action comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionSource {
    /// The component file, if `airlock run NAME` should find it by name:
    /// its `path`, or for a `source`, its place in the store.
    pub path: Option<PathBuf>,
    /// Where it is pulled from: `oci://HOST/NAME@sha256:HEX`, a manifest
    /// digest (`airlock approve` pulls it into [`Trust::store`]).
    pub source: Option<String>,
    /// Overrides [`Trust::require_signature`] for this action: `false` for
    /// an action built in-house.
    pub require_signature: Option<bool>,
    /// Overrides [`Trust::require_sbom`] for this action.
    pub require_sbom: Option<bool>,
    /// Values of the configuration keys its manifest declares.
    pub config: BTreeMap<String, ConfigValue>,
}

/// A publisher the operator trusts: components signed with one of its keys
/// (and whose manifest names it) count as published by it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publisher {
    /// Its minisign public keys.
    pub keys: Vec<PublicKey>,
    /// The Sigstore identities it signs as: a component with a bundle one
    /// of them made counts as published by it
    /// ([`crate::provenance::sigstore`]).
    pub sigstore: Vec<crate::provenance::sigstore::Identity>,
    /// Overrides [`Trust::min_release_age`] for its components.
    pub min_release_age: Option<Duration>,
}

/// Which approvals and signatures the host holds actions to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trust {
    /// The lock file: the digests and capability sets a person approved.
    pub lock: PathBuf,
    /// Whether every action must carry a signature by a trusted publisher
    /// (default `true`).
    pub require_signature: bool,
    /// Whether every action must carry the dependency list it was built
    /// with ([`crate::sbom`]) to be approved and to run (default `false`).
    pub require_sbom: bool,
    /// The Sigstore trusted root bundles are verified against (a
    /// `trusted_root.json`); needed when a publisher is trusted by identity.
    pub trusted_root: Option<PathBuf>,
    /// How old a release must be, by its trusted publication time, to be
    /// approved.
    pub min_release_age: Option<Duration>,
    /// Where components pulled for an action's `source` are kept, each
    /// under its manifest digest (default `.airlock/store`).
    pub store: PathBuf,
    /// Whether this policy is for development: `airlock run --dev` may
    /// run a component with neither approval nor signature (default
    /// `false`; never in production).
    pub allow_dev: bool,
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
/// the host's environment or file system — never from the action's. A
/// source that gives no value, or an empty one, refuses the secret where it
/// is used, naming the source (the `airlock` crate reads it at run time).
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
    /// Size of a run's input; a larger one is refused before the run.
    pub input: ByteSize,
    /// Bytes of stdout and of stderr kept per run; the rest is counted.
    pub stdio: ByteSize,
    /// Log records kept per run; the rest is counted.
    pub log_records: u32,
    /// Refused host calls recorded one by one per run; past it, one record
    /// counts the rest and the run ends (limit `refusals`).
    pub refusals: u32,
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
            input: ByteSize::mib(1),
            stdio: ByteSize::kib(64),
            log_records: 1000,
            refusals: 100,
            http_requests: 1000,
            http_request_body: ByteSize::mib(16),
            http_response_body: ByteSize::mib(64),
            http_connect_timeout: Duration::from_secs(30),
            http_first_byte_timeout: Duration::from_secs(60),
            http_timeout: Duration::from_secs(300),
        }
    }
}

/// Ceilings on a component's shape, checked by parsing it before it is
/// compiled (`[compile]` in the policy): compiling cannot be interrupted,
/// and its time and memory grow with the number and size of function
/// bodies, so a component beyond these is refused unread by the compiler
/// ([`crate::bounds`]).
///
/// The defaults leave room for the largest components real toolchains
/// build — those of `componentize-py` (35–38 MB as built, a 12 MB heap
/// snapshot in data segments) and `componentize-js`, which carry an
/// interpreter of tens of thousands of functions — and refuse shapes an
/// order of magnitude beyond them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileCeilings {
    /// Size of the component file (`component`).
    pub component: ByteSize,
    /// Size of each core module in it, nested ones included (`module`).
    pub module: ByteSize,
    /// Core modules in it, in nested components too (`modules`).
    pub modules: u64,
    /// Functions defined by all its core modules together (`functions`).
    pub functions: u64,
    /// Size of one function body (`function`).
    pub function: ByteSize,
    /// Size of all function bodies together (`code`).
    pub code: ByteSize,
    /// Size of one data segment (`data_segment`).
    pub data_segment: ByteSize,
    /// Size of all data segments together (`data`).
    pub data: ByteSize,
    /// Size of one custom section, at any level (`custom_section`).
    pub custom_section: ByteSize,
    /// Wall-clock time compiling may take (`timeout`), where it runs in a
    /// child process (the `airlock` crate's compiler).
    pub timeout: Duration,
    /// Address space the compiling process may use (`memory`), where it
    /// runs in a child process.
    pub memory: ByteSize,
}

impl Default for CompileCeilings {
    fn default() -> Self {
        CompileCeilings {
            component: ByteSize::mib(64),
            module: ByteSize::mib(64),
            modules: 1000,
            functions: 100_000,
            function: ByteSize::mib(1),
            code: ByteSize::mib(32),
            data_segment: ByteSize::mib(32),
            data: ByteSize::mib(48),
            custom_section: ByteSize::mib(32),
            timeout: Duration::from_secs(60),
            memory: ByteSize::mib(2048),
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
    /// The process this log belongs to when several share one policy
    /// ([`AuditConfig::for_instance`]).
    pub instance: Option<String>,
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
            instance: None,
        }
    }

    /// This log for the process `instance`, one of several that share the
    /// policy (the workers on one Temporal task queue): a log has one
    /// writer, so each instance writes its own. The log and its checkpoints
    /// move into a directory named `instance` beside where they were (a
    /// generated key with them), an anchor directory gains the same
    /// subdirectory, and an anchor command gets `AIRLOCK_INSTANCE`. A key
    /// the policy names stays shared: one verifier key for every instance.
    ///
    /// `instance` is 1 to 64 ASCII letters, digits, `.`, `_` or `-`, not
    /// starting with `.`; anything else is an error that says so.
    pub fn for_instance(&self, instance: &str) -> Result<AuditConfig, String> {
        if instance.eq_ignore_ascii_case(APPROVALS) {
            return Err(format!(
                "the instance name {APPROVALS:?} is reserved for the log of approvals"
            ));
        }
        let valid = (1..=64).contains(&instance.len())
            && !instance.starts_with('.')
            && instance
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(format!(
                "the instance name {:?} is not 1 to 64 letters, digits, `.`, `_` or `-` \
                 (not starting with `.`)",
                instance.escape_debug().to_string()
            ));
        }
        Ok(self.beside(instance))
    }

    /// The log `airlock approve` writes its `approval` records to: this one
    /// moved into a directory `approvals` beside it, like an
    /// [instance's](Self::for_instance). Approvals have a log of their own
    /// because a long-lived host (`airlock serve`, a worker) holds its log
    /// for its lifetime, and an approval must be recorded while it runs.
    pub fn for_approvals(&self) -> AuditConfig {
        self.beside(APPROVALS)
    }

    /// This log and its checkpoints in the subdirectory `name` of where
    /// they were, with an anchor directory's subdirectory of that name.
    fn beside(&self, instance: &str) -> AuditConfig {
        let inside = |file: &Path| {
            let dir = file.parent().unwrap_or(Path::new(""));
            dir.join(instance)
                .join(file.file_name().unwrap_or_default())
        };
        AuditConfig {
            path: inside(&self.path),
            checkpoints: inside(&self.checkpoints),
            anchor: self.anchor.as_ref().map(|anchor| match anchor {
                Anchor::Dir(dir) => Anchor::Dir(dir.join(instance)),
                Anchor::Command(argv) => Anchor::Command(argv.clone()),
            }),
            instance: Some(instance.to_owned()),
            ..self.clone()
        }
    }
}

/// The directory of the approvals log ([`AuditConfig::for_approvals`]),
/// which no instance may take.
const APPROVALS: &str = "approvals";

/// A second location for checkpoints, outside the log's directory: "sync
/// hashes to a separate domain".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// Each checkpoint is written to `<dir>/checkpoint-<size>` (and
    /// `<dir>/latest`), atomically.
    Dir(PathBuf),
    /// A command run with the signed checkpoint on its standard input and
    /// `AIRLOCK_CHECKPOINT_SIZE` in its environment (and `AIRLOCK_INSTANCE`
    /// for an [instance's](AuditConfig::for_instance) log); it must exit 0.
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
    /// The release age the components of `publisher` must reach before
    /// approval: its own `min_release_age`, else `[trust]`'s; none when
    /// that is zero.
    pub fn min_release_age(&self, publisher: &str) -> Option<Duration> {
        self.publishers
            .get(publisher)
            .and_then(|p| p.min_release_age)
            .or(self.trust.min_release_age)
            .filter(|age| !age.is_zero())
    }

    /// Whether the action `name` must carry its dependency list: its own
    /// `require_sbom`, else `[trust]`'s.
    pub fn requires_sbom(&self, name: &str) -> bool {
        self.actions
            .get(name)
            .and_then(|a| a.require_sbom)
            .unwrap_or(self.trust.require_sbom)
    }

    /// The component file of the action `name`: its `path` in the policy.
    pub fn component_path(&self, name: &str) -> Result<&Path, crate::Refusal> {
        let source = self
            .actions
            .get(name)
            .ok_or_else(|| crate::Refusal::UnknownAction(name.into()))?;
        source
            .path
            .as_deref()
            .ok_or_else(|| crate::Refusal::NoPath(name.into()))
    }

    /// Read and validate the policy file at `path`.
    pub fn load(path: &Path) -> Result<Policy, DocError> {
        // A policy that cannot be read is the operator's to fix, like one
        // that does not parse (exit 2 on the command line, not a host fault).
        let text = crate::opfile::read_operator_text(path, crate::opfile::POLICY_MAX, "policy")
            .map_err(|e| {
                let hint = match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        "name the policy with --config PATH or AIRLOCK_CONFIG, or make one: \
                         `airlock new NAME` writes a development policy beside a new action, \
                         and an empty file is a policy that grants nothing"
                    }
                    _ => "name the policy with --config PATH or AIRLOCK_CONFIG",
                };
                DocError::new(
                    &path.display().to_string(),
                    "",
                    format!("cannot be read: {e} ({hint})"),
                )
            })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        let mut policy = Policy::parse(&path.display().to_string(), &text, &base)?;
        policy.file = Some(path.to_path_buf());
        Ok(policy)
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
            file: None,
            actions: BTreeMap::new(),
            mounts: BTreeMap::new(),
            secrets: BTreeMap::new(),
            limits: Ceilings::default(),
            compile: CompileCeilings::default(),
            audit: AuditConfig::at(audit_log),
            publishers: BTreeMap::new(),
            trust: Trust {
                lock: PathBuf::from("airlock.lock"),
                require_signature: true,
                require_sbom: false,
                trusted_root: None,
                min_release_age: None,
                store: PathBuf::from(".airlock/store"),
                allow_dev: false,
            },
            network: NetworkPolicy::default(),
        }
    }
}

mod raw;

#[cfg(test)]
mod tests;
