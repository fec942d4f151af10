//! The lock as read: decoded strictly, every field validated, every error
//! naming the field and, where known, the line.

use super::{Entry, FORMAT, Lock};
use crate::doc::{self, DocError};
use crate::manifest::{self, Access, RequestedLimits};
use crate::provenance::Digest;
use crate::provenance::approval::{Approved, ApprovedLimits, ApprovedSecret};
use crate::provenance::minisign::KeyId;
use crate::units::{ByteSize, Span};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// Decode and validate lock text; `document` names it in errors.
pub(super) fn parse(document: &str, text: &str) -> Result<Lock, DocError> {
    let raw: raw::Lock = doc::from_toml(document, text)?;
    raw.validate(document)
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
        highest: Option<String>,
        downgraded_from: Option<String>,
        network: Vec<String>,
        files: Vec<File>,
        secrets: Vec<Secret>,
        dependencies: Option<Vec<String>>,
        limits: Limits,
        attestation: Option<Attestation>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Attestation {
        issuer: String,
        subject: String,
        repository: Option<String>,
        builder: Option<String>,
        log_index: u64,
        integrated_time: String,
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

    /// An approval's limits. A lock written before airlock recorded the
    /// `http_*` limits has none of them, though the action may have asked
    /// for more than the defaults: each absent one is read as the default
    /// a run gets when its manifest names none, the least it could have
    /// been. An action whose manifest asks for more is then capability
    /// drift, refused until it is approved again; never a silent raise.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        memory: ByteSize,
        timeout: Span,
        output: Option<ByteSize>,
        http_requests: Option<u32>,
        http_request_body: Option<ByteSize>,
        http_response_body: Option<ByteSize>,
        http_connect_timeout: Option<Span>,
        http_first_byte_timeout: Option<Span>,
        http_timeout: Option<Span>,
    }

    impl Limits {
        /// The approved limits, each absent one the default (see above);
        /// or the field that holds no usable limit (a zero), and why.
        fn validate(self) -> Result<ApprovedLimits, (&'static str, String)> {
            let Limits {
                memory,
                timeout,
                output,
                http_requests,
                http_request_body,
                http_response_body,
                http_connect_timeout,
                http_first_byte_timeout,
                http_timeout,
            } = self;
            if memory.0 == 0 {
                return Err(("limits.memory", "must be more than 0".into()));
            }
            let spans = [
                ("limits.timeout", Some(timeout)),
                ("limits.http_connect_timeout", http_connect_timeout),
                ("limits.http_first_byte_timeout", http_first_byte_timeout),
                ("limits.http_timeout", http_timeout),
            ];
            for (field, span) in spans {
                if span.is_some_and(|s| s.0.is_zero()) {
                    return Err((field, "must be more than 0".into()));
                }
            }
            // The same resolution as a manifest's: absent is the default.
            Ok(ApprovedLimits::of(&RequestedLimits {
                memory: Some(memory),
                timeout: Some(timeout),
                output,
                http_requests,
                http_request_body,
                http_response_body,
                http_connect_timeout,
                http_first_byte_timeout,
                http_timeout,
            }))
        }
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
                let version_of = |field: &str, text: Option<String>| {
                    text.map(|t| {
                        semver::Version::parse(&t).map_err(|x| {
                            err(field, format!("`{t}` is not a semantic version: {x}"))
                        })
                    })
                    .transpose()
                };
                let highest = version_of("highest", e.highest)?;
                let downgraded_from = version_of("downgraded_from", e.downgraded_from)?;
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
                    network.insert(origin.to_string());
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
                        send_to.insert(origin.to_string());
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
                let limits = e.limits.validate().map_err(|(field, m)| err(field, m))?;
                if let Some(dependencies) = &e.dependencies {
                    for (j, line) in dependencies.iter().enumerate() {
                        crate::sbom::check_line(line)
                            .map_err(|m| err(&format!("dependencies[{j}]"), m))?;
                    }
                }

                let attestation = match e.attestation {
                    None => None,
                    Some(a) => {
                        let time = humantime::parse_rfc3339(&a.integrated_time).map_err(|_| {
                            err(
                                "attestation.integrated_time",
                                format!(
                                    "`{}` is not a time like \"2026-11-23T10:00:00Z\"",
                                    a.integrated_time
                                ),
                            )
                        })?;
                        let seconds = time
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs());
                        Some(crate::provenance::sigstore::Attestation {
                            issuer: a.issuer,
                            subject: a.subject,
                            repository: a.repository,
                            builder: a.builder,
                            log_index: a.log_index,
                            integrated_time: seconds,
                        })
                    }
                };
                let entry = super::Entry {
                    version,
                    source: e.source,
                    digest: e.digest,
                    publisher: e.publisher,
                    key_id,
                    approved_at,
                    highest,
                    downgraded_from,
                    approved: Approved {
                        network,
                        files,
                        secrets,
                        limits,
                    },
                    name: e.name,
                    dependencies: e.dependencies,
                    attestation,
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
    use super::super::tests::entry;
    use super::*;

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
                "[action.limits]",
                "[action.limitz]",
                "action[0].limitz",
                "unknown field",
            ),
            (
                "memory = \"64 MiB\"",
                "memory = \"0 B\"",
                "action[0].limits.memory",
                "more than 0",
            ),
            (
                "http_timeout = \"1m\"",
                "http_timeout = \"0s\"",
                "action[0].limits.http_timeout",
                "more than 0",
            ),
            (
                "http_requests = 100",
                "http_requests = -1",
                "action[0].limits.http_requests",
                "expected u32",
            ),
            (
                "\n[action.limits]",
                "dependencies = [\"evil\\u001b[2J 1.0.0\"]\n[action.limits]",
                "action[0].dependencies[0]",
                "is not a package like",
            ),
            (
                "\n[action.limits]",
                "dependencies = \"serde 1.0.0\"\n[action.limits]",
                "action[0].dependencies",
                "expected a sequence",
            ),
            (
                "http_requests = 100",
                "http_requests = 100\ncpu = 1",
                "action[0].limits.cpu",
                "unknown field",
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

    /// A lock written before the `http_*` limits were recorded, in the
    /// inline form it had: it loads, and each absent limit is the default a
    /// run gets, never the higher value its manifest may have asked for.
    #[test]
    fn a_lock_without_the_http_limits_reads_them_as_the_defaults() {
        let mut lock = Lock::default();
        lock.insert(entry("probe", ""));
        let text = lock.to_toml();
        let at = text.find("\n[action.limits]").unwrap();
        let old = format!(
            "{}limits = {{ memory = \"64 MiB\", timeout = \"10s\", output = \"1 MiB\" }}\n",
            &text[..=at]
        );
        let read = Lock::parse("airlock.lock", &old).unwrap();
        let limits = &read.get("probe").unwrap().approved.limits;
        assert_eq!(*limits, lock.get("probe").unwrap().approved.limits);
        assert_eq!(limits.http_requests, crate::grant::DEFAULT_HTTP_REQUESTS);
        assert_eq!(
            limits.http_response_body,
            crate::grant::DEFAULT_HTTP_RESPONSE_BODY
        );
    }
}
