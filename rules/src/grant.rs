//! The grant: what one action actually gets, `manifest ∩ policy`.
//!
//! This module is pure: it decides, it does not open or read anything. The
//! capability modules of the `airlock` crate enforce what it decides.

use crate::config::{self, ConfigError, ConfigValue};
use crate::manifest::{Access, Manifest};
use crate::net::origin::Origin;
use crate::policy::{Policy, SecretSource};
use crate::units::{ByteSize, Span};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Memory an action gets when its manifest does not say.
pub const DEFAULT_MEMORY: ByteSize = ByteSize::mib(64);
/// Time an action gets when its manifest does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP requests a run may send when its manifest does not say.
pub const DEFAULT_HTTP_REQUESTS: u32 = 100;
/// Body of one HTTP request when the manifest does not say.
pub const DEFAULT_HTTP_REQUEST_BODY: ByteSize = ByteSize::mib(1);
/// Body of one HTTP response when the manifest does not say.
pub const DEFAULT_HTTP_RESPONSE_BODY: ByteSize = ByteSize::mib(8);
/// Connect timeout of one HTTP request when the manifest does not say.
pub const DEFAULT_HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// First-byte timeout of one HTTP request when the manifest does not say.
pub const DEFAULT_HTTP_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);
/// Total timeout of one HTTP request when the manifest does not say.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// What one action may use, decided once when it is loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// Granted mounts and the access on each.
    pub mounts: BTreeMap<String, Access>,
    /// Declared secrets, and whether the policy provides each.
    pub secrets: BTreeMap<String, SecretGrant>,
    /// Origins the action may send HTTP requests to.
    pub network: Vec<Origin>,
    /// The effective limits.
    pub limits: Limits,
    /// Where the grant is narrower than the manifest asked, in plain words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub narrowed: Vec<String>,
    /// The values of the manifest's configuration keys: the policy's, or
    /// the defaults.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, ConfigValue>,
}

/// One declared secret as granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecretGrant {
    /// The action may read the plaintext.
    pub expose: bool,
    /// Where it may be sent as a placeholder.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub send_to: Vec<Origin>,
    /// Where the value comes from; `None` when the policy provides none.
    #[serde(skip)]
    pub source: Option<SecretSource>,
    /// Whether the policy provides a value.
    pub provided: bool,
}

/// Effective limits of one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Linear memory, all memories together.
    pub memory: ByteSize,
    /// Wall-clock time.
    #[serde(serialize_with = "as_millis")]
    pub timeout: Duration,
    /// Size of the output or error message.
    pub output: ByteSize,
    /// Bytes kept of each of stdout and stderr.
    pub stdio: ByteSize,
    /// Log records kept.
    pub log_records: u32,
    /// Refused host calls recorded one by one; one more ends the run.
    pub refusals: u32,
    /// HTTP requests per run.
    pub http_requests: u32,
    /// Body of one HTTP request.
    pub http_request_body: ByteSize,
    /// Body of one HTTP response.
    pub http_response_body: ByteSize,
    /// Resolving and connecting (DNS, TCP, TLS), each step.
    #[serde(serialize_with = "as_millis")]
    pub http_connect_timeout: Duration,
    /// From sending one HTTP request to its response's head.
    #[serde(serialize_with = "as_millis")]
    pub http_first_byte_timeout: Duration,
    /// One HTTP request, start to end.
    #[serde(serialize_with = "as_millis")]
    pub http_timeout: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Grant {
    /// The grant of `manifest` under `policy`; refused when the policy's
    /// configuration values for the action do not fit its manifest.
    pub fn new(manifest: &Manifest, policy: &Policy) -> Result<Grant, ConfigError> {
        let name = &manifest.action.name;
        let set = policy.actions.get(name).map(|a| &a.config);
        let config = config::resolve(name, &manifest.config, set.unwrap_or(&BTreeMap::new()))?;
        let mut narrowed = Vec::new();

        let mut mounts = BTreeMap::new();
        for (name, &asked) in &manifest.capabilities.files {
            match policy.mounts.get(name) {
                None => narrowed.push(format!(
                    "mount `{name}` ({asked}) is not granted: the policy defines no [mounts.{name}]"
                )),
                Some(m) => {
                    let access = asked.min(m.access);
                    if access != asked {
                        narrowed.push(format!(
                            "mount `{name}` is narrowed from {asked} to {access} by the policy"
                        ));
                    }
                    mounts.insert(name.clone(), access);
                }
            }
        }

        let mut secrets = BTreeMap::new();
        for (name, decl) in &manifest.capabilities.secrets {
            let source = policy.secrets.get(name).cloned();
            if source.is_none() {
                narrowed.push(format!(
                    "secret `{name}` is not provided: the policy defines no [secrets.{name}]"
                ));
            }
            secrets.insert(
                name.clone(),
                SecretGrant {
                    expose: decl.expose,
                    send_to: decl.send_to.clone(),
                    provided: source.is_some(),
                    source,
                },
            );
        }

        let ceil = &policy.limits;
        let asked = &manifest.limits;
        let mut cap = |what: &str, asked: Option<String>, got: String, lowered: bool| {
            if lowered {
                narrowed.push(format!(
                    "{what} is lowered from {} to {got} by the policy",
                    asked.unwrap_or_default()
                ));
            }
        };
        let memory_asked = asked.memory.unwrap_or(DEFAULT_MEMORY);
        let memory = memory_asked.min(ceil.memory);
        cap(
            "memory",
            Some(memory_asked.to_string()),
            memory.to_string(),
            asked.memory.is_some_and(|m| m > ceil.memory),
        );
        let timeout_asked = asked.timeout.map(|t| t.0).unwrap_or(DEFAULT_TIMEOUT);
        let timeout = timeout_asked.min(ceil.timeout);
        cap(
            "timeout",
            Some(humantime::format_duration(timeout_asked).to_string()),
            humantime::format_duration(timeout).to_string(),
            asked.timeout.is_some_and(|t| t.0 > ceil.timeout),
        );
        let output_asked = asked.output.unwrap_or(ceil.output);
        let output = output_asked.min(ceil.output);
        cap(
            "output",
            Some(output_asked.to_string()),
            output.to_string(),
            output_asked > ceil.output,
        );

        let mut size =
            |what: &str, asked: Option<ByteSize>, default: ByteSize, ceiling: ByteSize| {
                let wanted = asked.unwrap_or(default);
                let got = wanted.min(ceiling);
                cap(
                    what,
                    Some(wanted.to_string()),
                    got.to_string(),
                    asked.is_some_and(|a| a > ceiling),
                );
                got
            };
        let http_request_body = size(
            "http_request_body",
            asked.http_request_body,
            DEFAULT_HTTP_REQUEST_BODY,
            ceil.http_request_body,
        );
        let http_response_body = size(
            "http_response_body",
            asked.http_response_body,
            DEFAULT_HTTP_RESPONSE_BODY,
            ceil.http_response_body,
        );
        let mut span = |what: &str, asked: Option<Span>, default: Duration, ceiling: Duration| {
            let wanted = asked.map(|s| s.0).unwrap_or(default);
            let got = wanted.min(ceiling);
            cap(
                what,
                Some(humantime::format_duration(wanted).to_string()),
                humantime::format_duration(got).to_string(),
                asked.is_some_and(|a| a.0 > ceiling),
            );
            got
        };
        let http_connect_timeout = span(
            "http_connect_timeout",
            asked.http_connect_timeout,
            DEFAULT_HTTP_CONNECT_TIMEOUT,
            ceil.http_connect_timeout,
        );
        let http_first_byte_timeout = span(
            "http_first_byte_timeout",
            asked.http_first_byte_timeout,
            DEFAULT_HTTP_FIRST_BYTE_TIMEOUT,
            ceil.http_first_byte_timeout,
        );
        let http_timeout = span(
            "http_timeout",
            asked.http_timeout,
            DEFAULT_HTTP_TIMEOUT,
            ceil.http_timeout,
        );
        let requests_asked = asked.http_requests.unwrap_or(DEFAULT_HTTP_REQUESTS);
        let http_requests = requests_asked.min(ceil.http_requests);
        cap(
            "http_requests",
            Some(requests_asked.to_string()),
            http_requests.to_string(),
            asked.http_requests.is_some_and(|r| r > ceil.http_requests),
        );

        let mut network = Vec::new();
        for origin in &manifest.capabilities.network {
            let forbidden = origin
                .sensitivities(policy.network.min_prefix)
                .into_iter()
                .find(|(kind, _)| policy.network.forbid.contains(kind));
            match forbidden {
                Some((kind, why)) => narrowed.push(format!(
                    "network origin {origin} is not granted: it {why}, which the policy forbids \
                     (forbid = [\"{kind}\"] under [network])"
                )),
                None => network.push(origin.clone()),
            }
        }

        Ok(Grant {
            mounts,
            secrets,
            network,
            limits: Limits {
                memory,
                timeout,
                output,
                stdio: ceil.stdio,
                log_records: ceil.log_records,
                refusals: ceil.refusals,
                http_requests,
                http_request_body,
                http_response_body,
                http_connect_timeout,
                http_first_byte_timeout,
                http_timeout,
            },
            narrowed,
            config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest(caps: &str) -> Manifest {
        let text =
            format!("[action]\nname = \"a\"\nversion = \"1.0.0\"\npublisher = \"p\"\n{caps}");
        Manifest::parse("manifest", &text).unwrap()
    }

    fn policy(text: &str) -> Policy {
        Policy::parse("airlock.toml", text, Path::new("/base")).unwrap()
    }

    #[test]
    fn grant_is_the_intersection() {
        let m = manifest(
            r#"
[capabilities]
files = [
  { mount = "src", access = "read" },
  { mount = "out", access = "read-write" },
  { mount = "narrow", access = "read-write" },
  { mount = "absent", access = "read" },
]
secrets = [{ name = "HAVE", expose = true }, { name = "MISSING" }]
[limits]
memory = "1 GiB"
timeout = "5s"
http_requests = 50
http_response_body = "2 MiB"
"#,
        );
        let p = policy(
            r#"
[mounts.src]
path = "s"
access = "read-write"
[mounts.out]
path = "o"
access = "read-write"
[mounts.narrow]
path = "n"
access = "read"
[mounts.unasked]
path = "u"
access = "read-write"
[secrets.HAVE]
env = "X"
[secrets.UNASKED]
env = "Y"
[limits]
memory = "128 MiB"
http_requests = 10
"#,
        );
        let g = Grant::new(&m, &p).unwrap();
        let mounts: Vec<_> = g.mounts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            mounts,
            [
                ("narrow", Access::Read),
                ("out", Access::ReadWrite),
                ("src", Access::Read)
            ],
            "a mount is never wider than asked, never wider than the policy, never unasked"
        );
        assert!(g.secrets["HAVE"].provided && g.secrets["HAVE"].expose);
        assert!(!g.secrets["MISSING"].provided);
        assert!(!g.secrets.contains_key("UNASKED"));
        assert_eq!(g.limits.memory, ByteSize::mib(128));
        assert_eq!(g.limits.timeout, Duration::from_secs(5));
        assert_eq!(g.limits.http_requests, 10);
        assert_eq!(g.limits.http_response_body, ByteSize::mib(2));
        assert_eq!(g.limits.http_request_body, DEFAULT_HTTP_REQUEST_BODY);
        let notes = g.narrowed.join("\n");
        assert!(
            notes.contains("mount `narrow` is narrowed from read-write to read"),
            "{notes}"
        );
        assert!(
            notes.contains("mount `absent` (read) is not granted"),
            "{notes}"
        );
        assert!(
            notes.contains("secret `MISSING` is not provided"),
            "{notes}"
        );
        assert!(
            notes.contains("memory is lowered from 1 GiB to 128 MiB"),
            "{notes}"
        );
        assert!(
            notes.contains("http_requests is lowered from 50 to 10"),
            "{notes}"
        );
        assert_eq!(g.narrowed.len(), 5, "{notes}");
    }

    #[test]
    fn origins_of_kinds_the_policy_forbids_are_not_granted() {
        let m = manifest(
            r#"
[capabilities]
network = [
  "https://api.example.com",
  "http://169.254.169.254",
  "http://[::ffff:169.254.169.254]:8080",
  "http://127.0.0.1:8080",
  "http://10.0.0.0/8",
  "http://10.1.2.0/24",
]
"#,
        );
        let all = Grant::new(&m, &policy("")).unwrap();
        assert_eq!(all.network, m.capabilities.network);
        assert!(all.narrowed.is_empty(), "{:?}", all.narrowed);

        let g = Grant::new(
            &m,
            &policy("[network]\nforbid = [\"metadata\", \"wide\"]\nmin_prefix_v4 = 16\n"),
        )
        .unwrap();
        assert_eq!(
            g.network
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "https://api.example.com",
                "http://127.0.0.1:8080",
                "http://10.1.2.0/24"
            ]
        );
        assert_eq!(g.narrowed.len(), 3, "{:?}", g.narrowed);
        assert!(
            g.narrowed[0].contains(
                "network origin http://169.254.169.254 is not granted: it reaches a cloud metadata service (169.254.169.254), \
                 which the policy forbids (forbid = [\"metadata\"] under [network])"
            ),
            "{}",
            g.narrowed[0]
        );
        assert!(g.narrowed[1].contains("http://169.254.169.254:8080"));
        assert!(
            g.narrowed[2].contains("/8 block, wider than /16"),
            "{}",
            g.narrowed[2]
        );

        let g = Grant::new(
            &m,
            &policy("[network]\nforbid = [\"loopback\", \"link-local\"]\n"),
        )
        .unwrap();
        assert_eq!(
            g.network
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "https://api.example.com",
                "http://10.0.0.0/8",
                "http://10.1.2.0/24"
            ]
        );
    }

    #[test]
    fn nothing_asked_nothing_granted_defaults_apply() {
        let g = Grant::new(
            &manifest(""),
            &policy("[mounts.w]\npath = \"w\"\naccess = \"read-write\"\n"),
        )
        .unwrap();
        assert!(g.mounts.is_empty() && g.secrets.is_empty() && g.network.is_empty());
        assert_eq!(g.limits.memory, DEFAULT_MEMORY);
        assert_eq!(g.limits.timeout, DEFAULT_TIMEOUT);
        assert!(g.narrowed.is_empty());
    }

    #[test]
    fn configuration_comes_from_the_policy_entry_of_the_action_it_names() {
        let m = manifest(
            "[config.channel]\ntype = \"string\"\ndefault = \"general\"\n\
             [config.retries]\ntype = \"integer\"\nrequired = true\n",
        );
        let g = Grant::new(&m, &policy("[actions.a.config]\nretries = 2\n")).unwrap();
        assert_eq!(
            serde_json::to_value(&g.config).unwrap(),
            serde_json::json!({"channel": "general", "retries": 2})
        );
        // Another action's values are not this one's.
        let err = Grant::new(&m, &policy("[actions.b.config]\nretries = 2\n")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("action `a` requires config `retries`"),
            "{err}"
        );
        let err = Grant::new(
            &m,
            &policy("[actions.a.config]\nretries = 2\nchannel = true\n"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("to a boolean, but its manifest declares a string"),
            "{err}"
        );
        // Without keys, the grant records none.
        let g = Grant::new(&manifest(""), &policy("")).unwrap();
        assert!(!serde_json::to_string(&g).unwrap().contains("config"));
    }
}
