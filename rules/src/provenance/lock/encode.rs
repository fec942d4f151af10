//! The lock as text: one stable order, every list sorted with one item per
//! line, so that a change of approval is a readable diff.

use super::{FORMAT, Lock};
use crate::provenance::approval::ApprovedLimits;
use std::fmt::Write as _;

impl Lock {
    /// The lock as TOML, in its one stable order.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# airlock.lock: what a person approved, one entry per action.\n\
             # Written by `airlock approve`; review its diff like code.\n",
        );
        let _ = writeln!(out, "version = {FORMAT}");
        for e in self.entries.values() {
            let a = &e.approved;
            let _ = write!(
                out,
                "\n[[action]]\nname = {}\nversion = {}\nsource = {}\ndigest = {}\npublisher = {}\n",
                quote(&e.name),
                quote(&e.version.to_string()),
                quote(&e.source),
                quote(&e.digest.to_string()),
                quote(&e.publisher),
            );
            if let Some(key) = e.key_id {
                let _ = writeln!(out, "key_id = {}", quote(&key.to_string()));
            }
            let _ = writeln!(out, "approved_at = {}", quote(&e.approved_at_text()));
            if let Some(highest) = &e.highest {
                let _ = writeln!(out, "highest = {}", quote(&highest.to_string()));
            }
            if let Some(from) = &e.downgraded_from {
                let _ = writeln!(out, "downgraded_from = {}", quote(&from.to_string()));
            }
            list(&mut out, "network", a.network.iter().map(|o| quote(o)));
            list(
                &mut out,
                "files",
                a.files.iter().map(|(mount, access)| {
                    format!(
                        "{{ mount = {}, access = {} }}",
                        quote(mount),
                        quote(&access.to_string())
                    )
                }),
            );
            list(
                &mut out,
                "secrets",
                a.secrets.iter().map(|(name, s)| {
                    let send_to: Vec<String> = s.send_to.iter().map(|o| quote(o)).collect();
                    format!(
                        "{{ name = {}, send_to = [{}], expose = {} }}",
                        quote(name),
                        send_to.join(", "),
                        s.expose
                    )
                }),
            );
            if let Some(dependencies) = &e.dependencies {
                list(
                    &mut out,
                    "dependencies",
                    dependencies.iter().map(|d| quote(d)),
                );
            }
            limits(&mut out, &a.limits);
            if let Some(at) = &e.attestation {
                out.push_str("\n[action.attestation]\n");
                let _ = writeln!(out, "issuer = {}", quote(&at.issuer));
                let _ = writeln!(out, "subject = {}", quote(&at.subject));
                if let Some(r) = &at.repository {
                    let _ = writeln!(out, "repository = {}", quote(r));
                }
                if let Some(b) = &at.builder {
                    let _ = writeln!(out, "builder = {}", quote(b));
                }
                let _ = writeln!(out, "log_index = {}", at.log_index);
                let time = humantime::format_rfc3339_seconds(at.time()).to_string();
                let _ = writeln!(out, "integrated_time = {}", quote(&time));
            }
        }
        out
    }
}

/// The entry's `[action.limits]`, one limit per line: every limit that
/// was approved, so that a raise of any of them shows in review.
fn limits(out: &mut String, l: &ApprovedLimits) {
    // Every field, so that a limit added to the approval cannot be left
    // out of the lock.
    let ApprovedLimits {
        memory,
        timeout,
        output,
        http_requests,
        http_request_body,
        http_response_body,
        http_connect_timeout,
        http_first_byte_timeout,
        http_timeout,
    } = l;
    out.push_str("\n[action.limits]\n");
    let mut line = |key: &str, value: String| {
        let _ = writeln!(out, "{key} = {value}");
    };
    line("memory", quote(&memory.to_string()));
    line("timeout", quote(&timeout.to_string()));
    if let Some(output) = output {
        line("output", quote(&output.to_string()));
    }
    line("http_requests", http_requests.to_string());
    line("http_request_body", quote(&http_request_body.to_string()));
    line("http_response_body", quote(&http_response_body.to_string()));
    line(
        "http_connect_timeout",
        quote(&http_connect_timeout.to_string()),
    );
    line(
        "http_first_byte_timeout",
        quote(&http_first_byte_timeout.to_string()),
    );
    line("http_timeout", quote(&http_timeout.to_string()));
}

/// `key = [ … ]` with one item per line, or `key = []`.
fn list(out: &mut String, key: &str, items: impl Iterator<Item = String>) {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        let _ = writeln!(out, "{key} = []");
        return;
    }
    let _ = writeln!(out, "{key} = [");
    for item in items {
        let _ = writeln!(out, "    {item},");
    }
    out.push_str("]\n");
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(q, "\\u{:04X}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}
