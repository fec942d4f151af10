//! The approved capability set — what a person said yes to — and the
//! difference between two of them, in plain words.
//!
//! [`Approved`] is a manifest's request in canonical form: hosts, mounts and
//! secrets sorted, absent limits resolved to the defaults a run would get.
//! [`diff`] compares an approved set with a new request; every change that
//! *widens* what the action may do (a new host, a new secret, a mount
//! becoming read-write, a higher limit, …) is what `airlock run` refuses as
//! capability drift and what `airlock approve` asks a person to look at.
//!
//! This module is pure.

use crate::grant::{DEFAULT_MEMORY, DEFAULT_TIMEOUT};
use crate::manifest::{Access, Manifest};
use crate::units::{ByteSize, Span};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

mod diff;

pub use diff::{Change, diff, wider};

/// An approved (or requested) capability set in canonical form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Approved {
    /// Origins, `scheme://host[:port]`, sorted.
    pub network: BTreeSet<String>,
    /// Mounts and the access on each.
    pub files: BTreeMap<String, Access>,
    /// Secrets by name.
    pub secrets: BTreeMap<String, ApprovedSecret>,
    /// The limits, with the manifest's absent ones resolved.
    pub limits: ApprovedLimits,
}

/// One approved secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApprovedSecret {
    /// Origins it may be sent to as a placeholder.
    pub send_to: BTreeSet<String>,
    /// Whether the action may read the plaintext.
    pub expose: bool,
}

/// Approved limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApprovedLimits {
    /// Linear memory.
    pub memory: ByteSize,
    /// Wall-clock time.
    pub timeout: Span,
    /// Output size; `None` leaves it to the policy's ceiling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<ByteSize>,
}

impl Default for ApprovedLimits {
    fn default() -> Self {
        ApprovedLimits {
            memory: DEFAULT_MEMORY,
            timeout: Span(DEFAULT_TIMEOUT),
            output: None,
        }
    }
}

impl Approved {
    /// What `manifest` asks for, in canonical form.
    pub fn of(manifest: &Manifest) -> Approved {
        let caps = &manifest.capabilities;
        let limits = &manifest.limits;
        Approved {
            network: caps.network.iter().map(ToString::to_string).collect(),
            files: caps.files.clone(),
            secrets: caps
                .secrets
                .iter()
                .map(|(name, s)| {
                    let secret = ApprovedSecret {
                        send_to: s.send_to.iter().map(ToString::to_string).collect(),
                        expose: s.expose,
                    };
                    (name.clone(), secret)
                })
                .collect(),
            limits: ApprovedLimits {
                memory: limits.memory.unwrap_or(DEFAULT_MEMORY),
                timeout: limits.timeout.unwrap_or(Span(DEFAULT_TIMEOUT)),
                output: limits.output,
            },
        }
    }
}

/// Whether the approved origin `approved` already allows `asked`: the same
/// origin, or a subdomain of an approved `*.` pattern on the same scheme
/// and port.
pub fn covers(approved: &str, asked: &str) -> bool {
    if approved == asked {
        return true;
    }
    let Some((scheme, pattern)) = approved.split_once("://*.") else {
        return false;
    };
    let Some((asked_scheme, asked)) = asked.split_once("://") else {
        return false;
    };
    let (suffix, port) = split_port(pattern);
    let (host, asked_port) = split_port(asked);
    scheme == asked_scheme
        && port == asked_port
        && host.len() > suffix.len() + 1
        && host.ends_with(suffix)
        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
}

/// `host[:port]` split at the port, leaving an IPv6 literal whole.
fn split_port(authority: &str) -> (&str, &str) {
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port),
        _ => (authority, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_subdomains_only() {
        let cases: &[(&str, &str, bool)] = &[
            ("https://a.test", "https://a.test", true),
            ("https://*.a.test", "https://api.a.test", true),
            ("https://*.a.test", "https://x.api.a.test", true),
            ("https://*.a.test", "https://*.api.a.test", true),
            ("https://*.a.test", "https://a.test", false),
            ("https://*.a.test", "https://evila.test", false),
            ("https://*.a.test", "http://api.a.test", false),
            ("https://*.a.test", "https://api.a.test:8443", false),
            ("https://*.a.test:8443", "https://api.a.test:8443", true),
            ("https://a.test", "https://api.a.test", false),
        ];
        for (approved, asked, expected) in cases {
            assert_eq!(
                covers(approved, asked),
                *expected,
                "{approved} covers {asked}"
            );
        }
    }
}
