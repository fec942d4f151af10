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

use crate::grant::{
    DEFAULT_HTTP_CONNECT_TIMEOUT, DEFAULT_HTTP_FIRST_BYTE_TIMEOUT, DEFAULT_HTTP_REQUEST_BODY,
    DEFAULT_HTTP_REQUESTS, DEFAULT_HTTP_RESPONSE_BODY, DEFAULT_HTTP_TIMEOUT, DEFAULT_MEMORY,
    DEFAULT_TIMEOUT,
};
use crate::manifest::{Access, Manifest, RequestedLimits};
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

/// Approved limits: every limit a manifest may ask for (its `[limits]`),
/// since raising any of them lets the action do more. The grant's other
/// limits (`stdio`, `log_records`, `refusals`) and the input size are the
/// operator's alone, set in the policy: an action cannot ask for them, so
/// they are not part of what is approved for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApprovedLimits {
    /// Linear memory.
    pub memory: ByteSize,
    /// Wall-clock time.
    pub timeout: Span,
    /// Output size; `None` leaves it to the policy's ceiling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<ByteSize>,
    /// HTTP requests per run.
    pub http_requests: u32,
    /// Body of one HTTP request.
    pub http_request_body: ByteSize,
    /// Body of one HTTP response.
    pub http_response_body: ByteSize,
    /// Resolving and connecting for one HTTP request, each step.
    pub http_connect_timeout: Span,
    /// From sending one HTTP request to its response's head.
    pub http_first_byte_timeout: Span,
    /// One HTTP request, start to end.
    pub http_timeout: Span,
}

impl Default for ApprovedLimits {
    /// The limits of a manifest that names none: what a run gets then.
    fn default() -> Self {
        ApprovedLimits::of(&RequestedLimits::default())
    }
}

impl ApprovedLimits {
    /// What `asked` comes to, with each absent limit resolved to the
    /// default a run gets (see [`crate::grant`]), so that naming the
    /// default is no change and leaving a limit out is not "no limit".
    pub fn of(asked: &RequestedLimits) -> ApprovedLimits {
        // Every field, so that a limit a manifest may newly ask for cannot
        // be left out of what is approved.
        let RequestedLimits {
            memory,
            timeout,
            output,
            http_requests,
            http_request_body,
            http_response_body,
            http_connect_timeout,
            http_first_byte_timeout,
            http_timeout,
        } = *asked;
        ApprovedLimits {
            memory: memory.unwrap_or(DEFAULT_MEMORY),
            timeout: timeout.unwrap_or(Span(DEFAULT_TIMEOUT)),
            output,
            http_requests: http_requests.unwrap_or(DEFAULT_HTTP_REQUESTS),
            http_request_body: http_request_body.unwrap_or(DEFAULT_HTTP_REQUEST_BODY),
            http_response_body: http_response_body.unwrap_or(DEFAULT_HTTP_RESPONSE_BODY),
            http_connect_timeout: http_connect_timeout
                .unwrap_or(Span(DEFAULT_HTTP_CONNECT_TIMEOUT)),
            http_first_byte_timeout: http_first_byte_timeout
                .unwrap_or(Span(DEFAULT_HTTP_FIRST_BYTE_TIMEOUT)),
            http_timeout: http_timeout.unwrap_or(Span(DEFAULT_HTTP_TIMEOUT)),
        }
    }
}

impl Approved {
    /// What `manifest` asks for, in canonical form.
    pub fn of(manifest: &Manifest) -> Approved {
        let caps = &manifest.capabilities;
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
            limits: ApprovedLimits::of(&manifest.limits),
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
