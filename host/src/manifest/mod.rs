//! The action manifest: what an action's author says it needs.
//!
//! The manifest is untrusted input. It is decoded strictly (unknown fields
//! are errors that name the field's path) and validated once into a
//! [`Manifest`]; only that validated form reaches the rest of the host.
//! It travels inside the component (see [`section`]) so that one digest
//! covers code and declaration.

pub mod section;

use crate::doc::{self, DocError};
use crate::units::{ByteSize, Span};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a mount may be used.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// List directories, read files and their metadata; nothing may change.
    Read,
    /// Also create, write, rename and remove.
    ReadWrite,
}

impl Access {
    /// The narrower of two accesses.
    pub fn min(self, other: Access) -> Access {
        std::cmp::min(self, other)
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::ReadWrite => "read-write",
        })
    }
}

/// A validated manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// The action's identity.
    pub action: Identity,
    /// What it asks for.
    pub capabilities: Capabilities,
    /// The resources it says it needs; the policy may lower them.
    pub limits: RequestedLimits,
}

/// Who the action is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// `[a-z0-9-]+`, at most 64 characters.
    pub name: String,
    /// A semantic version.
    pub version: semver::Version,
    /// Who publishes it.
    pub publisher: String,
    /// One line on what it does.
    pub description: String,
}

/// The capabilities an action asks for. It serializes in the shape an
/// author writes (lists of tables), in a stable order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Origins it may send HTTP requests to: `scheme://host[:port]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<String>,
    /// Mounts by name, with the access it needs.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "files_as_list"
    )]
    pub files: BTreeMap<String, Access>,
    /// Secrets by name.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "secrets_as_list"
    )]
    pub secrets: BTreeMap<String, SecretDecl>,
}

/// One declared secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SecretDecl {
    /// The origins the secret may be sent to, as a placeholder the host fills.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub send_to: Vec<String>,
    /// Whether the action may read the plaintext with `secrets.get`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub expose: bool,
}

fn files_as_list<S: serde::Serializer>(
    files: &BTreeMap<String, Access>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct File<'a> {
        mount: &'a str,
        access: Access,
    }
    s.collect_seq(files.iter().map(|(mount, &access)| File { mount, access }))
}

fn secrets_as_list<S: serde::Serializer>(
    secrets: &BTreeMap<String, SecretDecl>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Secret<'a> {
        name: &'a str,
        #[serde(flatten)]
        decl: &'a SecretDecl,
    }
    s.collect_seq(secrets.iter().map(|(name, decl)| Secret { name, decl }))
}

/// Limits as the manifest asks for them; absent ones take the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RequestedLimits {
    /// Linear memory, all memories together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    /// Wall-clock time of one run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Span>,
    /// Size of the JSON output (or error message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<ByteSize>,
    /// HTTP requests in one run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_requests: Option<u32>,
    /// Body of one HTTP request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_request_body: Option<ByteSize>,
    /// Body of one HTTP response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_response_body: Option<ByteSize>,
    /// Resolving and connecting (DNS, TCP, TLS) for one HTTP request; each
    /// step gets this long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_connect_timeout: Option<Span>,
    /// From sending one HTTP request to its response's head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_first_byte_timeout: Option<Span>,
    /// One HTTP request, from resolving its host to the end of its response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_timeout: Option<Span>,
}

impl Manifest {
    /// Decode and validate a manifest. `document` names it in errors, for
    /// example `manifest of hello.wasm`.
    pub fn parse(document: &str, text: &str) -> Result<Manifest, DocError> {
        let raw: raw::Manifest = doc::from_toml(document, text)?;
        raw.validate(document)
    }

    /// The manifest as TOML in the shape an author writes it.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

/// The manifest exactly as written, before validation.
mod raw {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Manifest {
        action: Action,
        #[serde(default)]
        capabilities: Capabilities,
        #[serde(default)]
        limits: Limits,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Action {
        name: String,
        version: String,
        publisher: String,
        #[serde(default)]
        description: String,
    }

    #[derive(Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Capabilities {
        #[serde(default)]
        network: Vec<String>,
        #[serde(default)]
        files: Vec<File>,
        #[serde(default)]
        secrets: Vec<Secret>,
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
        #[serde(default)]
        send_to: Vec<String>,
        #[serde(default)]
        expose: bool,
    }

    #[derive(Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        memory: Option<ByteSize>,
        timeout: Option<Span>,
        output: Option<ByteSize>,
        http_requests: Option<u32>,
        http_request_body: Option<ByteSize>,
        http_response_body: Option<ByteSize>,
        http_connect_timeout: Option<Span>,
        http_first_byte_timeout: Option<Span>,
        http_timeout: Option<Span>,
    }

    impl Manifest {
        pub fn validate(self, document: &str) -> Result<super::Manifest, DocError> {
            let err = |path: String, message: String| DocError::new(document, path, message);
            let a = self.action;
            check_action_name(&a.name).map_err(|m| err("action.name".into(), m))?;
            let version = semver::Version::parse(&a.version).map_err(|e| {
                err(
                    "action.version".into(),
                    format!(
                        "`{}` is not a semantic version ({e}): write it like \"1.2.0\"",
                        a.version
                    ),
                )
            })?;
            check_label(&a.publisher).map_err(|m| err("action.publisher".into(), m))?;
            if a.description.chars().any(char::is_control) || a.description.len() > 512 {
                return Err(err(
                    "action.description".into(),
                    "must be one line of at most 512 bytes".into(),
                ));
            }

            let caps = self.capabilities;
            let mut network = Vec::with_capacity(caps.network.len());
            for (i, origin) in caps.network.into_iter().enumerate() {
                let origin = check_origin(&origin)
                    .map_err(|m| err(format!("capabilities.network[{i}]"), m))?;
                if network.contains(&origin) {
                    return Err(err(
                        format!("capabilities.network[{i}]"),
                        format!("`{origin}` is listed twice"),
                    ));
                }
                network.push(origin);
            }

            let mut files = BTreeMap::new();
            for (i, f) in caps.files.into_iter().enumerate() {
                let path = format!("capabilities.files[{i}].mount");
                check_mount_name(&f.mount).map_err(|m| err(path.clone(), m))?;
                if files.insert(f.mount.clone(), f.access).is_some() {
                    return Err(err(path, format!("mount `{}` is listed twice", f.mount)));
                }
            }

            let mut secrets = BTreeMap::new();
            for (i, s) in caps.secrets.into_iter().enumerate() {
                let path = format!("capabilities.secrets[{i}]");
                check_secret_name(&s.name).map_err(|m| err(format!("{path}.name"), m))?;
                let mut send_to = Vec::with_capacity(s.send_to.len());
                for (j, origin) in s.send_to.into_iter().enumerate() {
                    send_to.push(
                        check_origin(&origin)
                            .map_err(|m| err(format!("{path}.send_to[{j}]"), m))?,
                    );
                }
                let decl = SecretDecl {
                    send_to,
                    expose: s.expose,
                };
                if secrets.insert(s.name.clone(), decl).is_some() {
                    return Err(err(
                        format!("{path}.name"),
                        format!("secret `{}` is listed twice", s.name),
                    ));
                }
            }

            let l = self.limits;
            let limits = RequestedLimits {
                memory: l.memory,
                timeout: l.timeout,
                output: l.output,
                http_requests: l.http_requests,
                http_request_body: l.http_request_body,
                http_response_body: l.http_response_body,
                http_connect_timeout: l.http_connect_timeout,
                http_first_byte_timeout: l.http_first_byte_timeout,
                http_timeout: l.http_timeout,
            };
            if limits.memory.is_some_and(|m| m.0 == 0) {
                return Err(err("limits.memory".into(), "must be more than 0".into()));
            }
            let spans = [
                ("limits.timeout", limits.timeout),
                ("limits.http_connect_timeout", limits.http_connect_timeout),
                (
                    "limits.http_first_byte_timeout",
                    limits.http_first_byte_timeout,
                ),
                ("limits.http_timeout", limits.http_timeout),
            ];
            for (path, span) in spans {
                if span.is_some_and(|t| t.0.is_zero()) {
                    return Err(err(path.into(), "must be more than 0".into()));
                }
            }

            Ok(super::Manifest {
                action: Identity {
                    name: a.name,
                    version,
                    publisher: a.publisher,
                    description: a.description,
                },
                capabilities: super::Capabilities {
                    network,
                    files,
                    secrets,
                },
                limits,
            })
        }
    }
}

/// `[a-z0-9-]+`, 1 to 64 characters, not starting or ending with `-`.
pub fn check_action_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an action name: use 1 to 64 of a-z, 0-9 and -, like \"slack-notify\"",
            name.escape_debug()
        ))
    }
}

/// Mount names become the guest path `/<mount>`: `[a-z0-9_-]+`.
pub fn check_mount_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a mount name: use 1 to 64 of a-z, 0-9, - and _, like \"workspace\"",
            name.escape_debug()
        ))
    }
}

/// Secret names are like environment variables: `[A-Z0-9_]+`.
pub fn check_secret_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a secret name: use A-Z, 0-9 and _, like \"SLACK_WEBHOOK\"",
            name.escape_debug()
        ))
    }
}

/// A publisher's name: printable, no spaces, 1 to 64 bytes.
pub fn check_publisher(publisher: &str) -> Result<(), String> {
    check_label(publisher)
}

/// A publisher or similar label: printable, one line, 1 to 64 bytes.
fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty()
        || label.len() > 64
        || label.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        Err(format!(
            "`{}` must be 1 to 64 printable characters without spaces",
            label.escape_debug()
        ))
    } else {
        Ok(())
    }
}

/// A network origin, `scheme://host[:port]` (see
/// [`caps::net::grant`](crate::caps::net::grant) for the grammar), in its
/// normal form: lower case, punycode, no trailing dot, the port only when it
/// is not the scheme's default.
pub fn check_origin(origin: &str) -> Result<String, String> {
    crate::caps::net::grant::Origin::parse(origin).map(|o| o.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[action]
name = "slack-notify"
version = "1.2.0"
publisher = "acme"
description = "Post a message to a Slack channel"

[capabilities]
network = ["https://hooks.slack.com"]
files   = [{ mount = "workspace", access = "read" }]
secrets = [{ name = "SLACK_WEBHOOK", send_to = ["https://hooks.slack.com"] }]

[limits]
memory = "32 MiB"
timeout = "10s"
"#;

    #[test]
    fn the_design_example_parses() {
        let m = Manifest::parse("manifest", FULL).unwrap();
        assert_eq!(m.action.name, "slack-notify");
        assert_eq!(m.action.version, semver::Version::new(1, 2, 0));
        assert_eq!(m.capabilities.network, vec!["https://hooks.slack.com"]);
        assert_eq!(m.capabilities.files["workspace"], Access::Read);
        let s = &m.capabilities.secrets["SLACK_WEBHOOK"];
        assert!(!s.expose);
        assert_eq!(s.send_to, vec!["https://hooks.slack.com"]);
        assert_eq!(m.limits.memory, Some(ByteSize::mib(32)));
        assert_eq!(m.limits.output, None);
        // The canonical TOML parses back to the same manifest.
        assert_eq!(Manifest::parse("again", &m.to_toml()).unwrap(), m);
    }

    #[test]
    fn minimal_manifest_asks_for_nothing() {
        let m = Manifest::parse(
            "m",
            "[action]\nname = \"a\"\nversion = \"0.1.0\"\npublisher = \"p\"\n",
        )
        .unwrap();
        assert_eq!(m.capabilities, Capabilities::default());
        assert_eq!(m.limits, RequestedLimits::default());
    }

    fn error_of(text: &str) -> DocError {
        Manifest::parse("manifest", text).unwrap_err()
    }

    #[test]
    fn errors_name_the_field() {
        let base = "[action]\nname = \"a\"\nversion = \"0.1.0\"\npublisher = \"p\"\n";
        let cases: &[(&str, &str, &str)] = &[
            (
                "[action]\nname = \"A\"\nversion = \"0.1.0\"\npublisher = \"p\"\n",
                "action.name",
                "not an action name",
            ),
            (
                "[action]\nname = \"a\"\nversion = \"1\"\npublisher = \"p\"\n",
                "action.version",
                "not a semantic version",
            ),
            (
                "[action]\nname = \"a\"\nversion = \"0.1.0\"\n",
                "action",
                "missing field `publisher`",
            ),
            (
                "[action]\nname = \"a\"\nversion = \"0.1.0\"\npublisher = \"p\"\nhomepage = \"x\"\n",
                "action.homepage",
                "unknown field `homepage`",
            ),
            (
                "[capabilities]\nfiles = [{ mount = \"w\", access = \"write\" }]\n",
                "capabilities.files[0].access",
                "unknown variant `write`",
            ),
            (
                "[capabilities]\nfiles = [{ mount = \"../etc\", access = \"read\" }]\n",
                "capabilities.files[0].mount",
                "not a mount name",
            ),
            (
                "[capabilities]\nfiles = [{ mount = \"w\", access = \"read\" }, { mount = \"w\", access = \"read-write\" }]\n",
                "capabilities.files[1].mount",
                "listed twice",
            ),
            (
                "[capabilities]\nsecrets = [{ name = \"token\" }]\n",
                "capabilities.secrets[0].name",
                "not a secret name",
            ),
            (
                "[capabilities]\nsecrets = [{ name = \"T\", send_to = [\"hooks.slack.com\"] }]\n",
                "capabilities.secrets[0].send_to[0]",
                "not an origin",
            ),
            (
                "[capabilities]\nnetwork = [\"https://example.com/path\"]\n",
                "capabilities.network[0]",
                "no path",
            ),
            (
                "[capabilities]\nnetwork = [\"https://*\"]\n",
                "capabilities.network[0]",
                "every host",
            ),
            (
                "[capabilities]\nnetwork = [\"ftp://example.com\"]\n",
                "capabilities.network[0]",
                "http or https",
            ),
            (
                "[capabilities]\nnetwork = [\"https://user@evil.test\"]\n",
                "capabilities.network[0]",
                "has a user",
            ),
            (
                "[limits]\nmemory = \"lots\"\n",
                "limits.memory",
                "not a size",
            ),
            (
                "[limits]\ntimeout = \"0s\"\n",
                "limits.timeout",
                "more than 0",
            ),
            ("[limits]\ncpu = 1\n", "limits.cpu", "unknown field `cpu`"),
            (
                "[limits]\nhttp_connect_timeout = \"0s\"\n",
                "limits.http_connect_timeout",
                "more than 0",
            ),
            (
                "[limits]\nhttp_response_body = \"big\"\n",
                "limits.http_response_body",
                "not a size",
            ),
            (
                "[capabilities]\nnetwork = [\"https://*.com\"]\n",
                "capabilities.network[0]",
                "whole top-level domain",
            ),
            (
                "[capabilities]\nnetwork = [\"https://Example.com\", \"https://example.com:443\"]\n",
                "capabilities.network[1]",
                "listed twice",
            ),
        ];
        for (extra, path, message) in cases {
            let text = if extra.starts_with("[action]") {
                extra.to_string()
            } else {
                format!("{base}{extra}")
            };
            let e = error_of(&text);
            assert_eq!(e.path, *path, "{text}\n=> {e}");
            assert!(e.message.contains(message), "{text}\n=> {e}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn not_toml_is_a_clear_error() {
        let e = error_of("this is not toml");
        assert!(e.line == Some(1), "{e}");
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            check_origin("https://Hooks.Slack.COM").unwrap(),
            "https://hooks.slack.com"
        );
        assert_eq!(
            check_origin("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            check_origin("https://hooks.slack.com:443").unwrap(),
            "https://hooks.slack.com"
        );
        assert!(check_origin("https://").is_err());
        assert!(check_origin("https://a b").is_err());
    }
}
