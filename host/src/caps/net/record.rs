//! The `net.request` records: what is known about one request as it passes
//! the checks ([`Report`]), and the functions that turn it into audit
//! [`Event`]s — the [`intent`] written before a request that passed every
//! check leaves, and the [`event`] that closes it (or, for a refusal, the
//! single record). Deciding and recording stay apart.

use crate::caps::secrets::Redactor;
use airlock_audit::EventKind;
use airlock_audit::{Event, GUEST_TEXT_LIMIT};
use airlock_rules::net::Destination;
use std::net::SocketAddr;
use std::time::Duration;

/// How far a request got.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Stage {
    /// Being checked: nothing has left the host.
    #[default]
    Checking,
    /// Allowed and being sent.
    Sending,
}

/// What is known about one request.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The method, as the action wrote it.
    pub method: String,
    /// The URL as the action wrote it, without its query (before the
    /// destination is understood).
    pub url: String,
    /// The destination, once its URL parsed.
    pub destination: Option<Destination>,
    /// The path, without the query string, placeholders unfilled.
    pub path: String,
    /// Every address the host resolved to, and by what.
    pub resolved: Vec<SocketAddr>,
    /// `literal`, `policy` or `dns`.
    pub resolved_by: Option<&'static str>,
    /// The address the request was sent to.
    pub address: Option<SocketAddr>,
    /// Secrets whose placeholders the request carries (names only): filled
    /// in a request that was sent, and named in a refusal's record too, so
    /// that it shows which secrets a refused request tried to send.
    pub secrets: Vec<String>,
    /// How many names it carried that the manifest does not declare (the
    /// action chooses those: only their count and the first, cut, are
    /// recorded).
    pub undeclared: usize,
    /// The first undeclared name, cut as `secret.read` cuts one.
    pub undeclared_first: Option<String>,
    /// Exposed secrets the request was searched for (names only).
    pub scanned: Vec<String>,
    /// Request body bytes sent.
    pub bytes_out: u64,
    /// Response body bytes passed to the action.
    pub bytes_in: u64,
    /// The response status.
    pub status: Option<u16>,
    /// The limit the response body was cut at.
    pub cut_at: Option<u64>,
    /// Secrets whose values were taken out of the response (names only).
    pub redacted: Vec<String>,
    /// From the hook being called to the response being read.
    pub duration: Duration,
    /// How far it got.
    pub stage: Stage,
}

/// How a request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed, sent, and answered.
    Done,
    /// Refused: why, and what would allow it.
    Denied(String),
    /// Allowed, but it failed on the way (DNS, connect, TLS, HTTP).
    Failed(String),
    /// The run ended before the request did.
    Abandoned,
}

/// The `net.request` intent of a request that passed every check: what is
/// about to leave (destination, path, addresses, the secrets it fills by
/// name), written durably before the first byte does.
pub fn intent(report: &Report, redactor: &Redactor) -> Event {
    describe(report, redactor)
        .field("bytes_out", report.bytes_out)
        .allow()
}

/// The `net.request` record of how a request ended: a single record for a
/// refusal, or the result that closes its intent. Everything the action
/// controls goes through `redactor` and is cut like any guest text; secrets
/// appear by name only.
pub fn event(report: &Report, verdict: &Verdict, redactor: &Redactor) -> Event {
    let mut e = describe(report, redactor);
    if let Some(address) = report.address {
        e = e.field("address", address.to_string());
    }
    if let Some(status) = report.status {
        e = e.field("status", status);
    }
    if let Some(limit) = report.cut_at {
        e = e.field("response_cut_at", limit);
    }
    if !report.redacted.is_empty() {
        e = e.field("response_redacted", report.redacted.clone());
    }
    e = e
        .field("bytes_out", report.bytes_out)
        .field("bytes_in", report.bytes_in)
        .field(
            "duration_ms",
            u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
        );
    match verdict {
        Verdict::Done => e.allow(),
        Verdict::Denied(reason) => e.deny(cut(&redactor.redact(reason))),
        Verdict::Failed(error) => e.allow().guest_text("error", &redactor.redact(error)),
        Verdict::Abandoned => {
            let e = e.guest_text(
                "error",
                match report.stage {
                    Stage::Checking => {
                        "the run ended while the request was being checked; it was not sent"
                    }
                    Stage::Sending => "the run ended before the response was read",
                },
            );
            match report.stage {
                Stage::Checking => e,
                Stage::Sending => e.allow(),
            }
        }
    }
}

/// What a request is: method, destination, path, addresses, secrets.
fn describe(report: &Report, redactor: &Redactor) -> Event {
    let target = match &report.destination {
        Some(dest) => format!("{dest}{}", report.path),
        None => report.url.clone(),
    };
    let mut e = Event::new(EventKind::NetRequest)
        .guest_text("method", &redactor.redact(&report.method))
        .guest_text("target", &redactor.redact(&target));
    if let Some(dest) = &report.destination {
        e = e
            .field("scheme", dest.scheme.as_str())
            .guest_text("host", &dest.host.to_string())
            .field("port", dest.port)
            .guest_text("path", &redactor.redact(&report.path));
    }
    if !report.resolved.is_empty() {
        let all: Vec<String> = report.resolved.iter().map(ToString::to_string).collect();
        e = e.field("resolved", all);
    }
    if let Some(by) = report.resolved_by {
        e = e.field("resolved_by", by);
    }
    if !report.secrets.is_empty() {
        e = e.field("secrets", report.secrets.clone());
    }
    if let Some(first) = &report.undeclared_first {
        e = e
            .field("undeclared_secrets", report.undeclared as u64)
            .field("undeclared_secret", first.as_str());
    }
    if !report.scanned.is_empty() {
        // The search for exposed values is best effort, and says so.
        e = e
            .field("exposed_scan", report.scanned.clone())
            .field("exposed_scan_kind", "best-effort");
    }
    e
}

/// A reason quotes what the action wrote; keep it to a record's size.
fn cut(text: &str) -> String {
    text[..text.floor_char_boundary(GUEST_TEXT_LIMIT)].to_owned()
}
