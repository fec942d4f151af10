//! The action manifest: what an action's author says it needs.
//!
//! The manifest is untrusted input. It is decoded strictly (unknown fields
//! are errors that name the field's path) and validated once into a
//! [`Manifest`]; only that validated form reaches the rest of the host.
//! It travels inside the component (see [`section`]) so that one digest
//! covers code and declaration.

mod names;
mod raw;
pub mod section;

pub use names::{
    check_action_name, check_mount_name, check_origin, check_publisher, check_secret_name,
};

use crate::config::{self, ConfigDecl, ConfigType, ConfigValue};
use crate::doc::{self, DocError};
use crate::net::Origin;
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
    /// Configuration keys that are not secret, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, ConfigDecl>,
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
    pub network: Vec<Origin>,
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
    pub send_to: Vec<Origin>,
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

[config.channel]
type = "string"
default = "general"
description = "Where to post"

[config.retries]
type = "integer"
required = true
"#;

    #[test]
    fn the_design_example_parses() {
        let m = Manifest::parse("manifest", FULL).unwrap();
        assert_eq!(m.action.name, "slack-notify");
        assert_eq!(m.action.version, semver::Version::new(1, 2, 0));
        assert_eq!(
            m.capabilities.network[0].to_string(),
            "https://hooks.slack.com"
        );
        assert_eq!(m.capabilities.files["workspace"], Access::Read);
        let s = &m.capabilities.secrets["SLACK_WEBHOOK"];
        assert!(!s.expose);
        assert_eq!(s.send_to[0].to_string(), "https://hooks.slack.com");
        assert_eq!(m.limits.memory, Some(ByteSize::mib(32)));
        assert_eq!(m.limits.output, None);
        assert_eq!(
            m.config["channel"].default,
            Some(ConfigValue::String("general".into()))
        );
        assert!(m.config["retries"].required && m.config["retries"].default.is_none());
        assert_eq!(m.config["retries"].kind, ConfigType::Integer);
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
            (
                "[config.Channel]\ntype = \"string\"\n",
                "config.Channel",
                "not a configuration key",
            ),
            (
                "[config.channel]\ntype = \"text\"\n",
                "config.channel.type",
                "unknown variant `text`",
            ),
            (
                "[config.channel]\ndefault = \"x\"\n",
                "config.channel",
                "missing field `type`",
            ),
            (
                "[config.retries]\ntype = \"integer\"\ndefault = \"3\"\n",
                "config.retries.default",
                "is a string, but the key's type is an integer",
            ),
            (
                "[config.rate]\ntype = \"integer\"\ndefault = 1.5\n",
                "config.rate.default",
                "expected a string, an integer or a boolean",
            ),
            (
                "[config.id]\ntype = \"integer\"\ndefault = 1234567890123456789\n",
                "config.id.default",
                "beyond ±9007199254740991",
            ),
            (
                "[config.flag]\ntype = \"boolean\"\ndefault = true\nrequired = true\n",
                "config.flag.required",
                "a key with a default is never missing",
            ),
            (
                "[config.c]\ntype = \"string\"\ndescription = \"two\\nlines\"\n",
                "config.c.description",
                "one line",
            ),
            (
                "[config.c]\ntype = \"string\"\nsecret = true\n",
                "config.c.secret",
                "unknown field `secret`",
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
            check_origin("https://Hooks.Slack.COM").unwrap().to_string(),
            "https://hooks.slack.com"
        );
        assert_eq!(
            check_origin("http://127.0.0.1:8080").unwrap().to_string(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            check_origin("https://hooks.slack.com:443")
                .unwrap()
                .to_string(),
            "https://hooks.slack.com"
        );
        assert!(check_origin("https://").is_err());
        assert!(check_origin("https://a b").is_err());
    }
}
