//! The difference between an approved set and a new request, in plain
//! words, each change marked as widening or narrowing.

use super::{Approved, ApprovedLimits, ApprovedSecret, covers};
use crate::units::ByteSize;
use serde::Serialize;

/// One difference between an approved set and a new request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `network`, `files`, `secrets` or `limits`.
    pub capability: &'static str,
    /// The new request may do more than the approved one.
    pub wider: bool,
    /// The change in plain words, like `new host https://api.example.com`.
    pub text: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Every difference from `old` to `new`, wider ones first within each
/// capability, in a stable order.
pub fn diff(old: &Approved, new: &Approved) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut push = |capability, wider, text: String| {
        changes.push(Change {
            capability,
            wider,
            text,
        })
    };

    for origin in &new.network {
        if !old.network.iter().any(|o| covers(o, origin)) {
            push("network", true, format!("new host {origin}"));
        }
    }
    for origin in old.network.difference(&new.network) {
        push(
            "network",
            false,
            format!("no longer asks for host {origin}"),
        );
    }

    for (mount, &access) in &new.files {
        match old.files.get(mount) {
            None => push("files", true, format!("new mount `{mount}` ({access})")),
            Some(&was) if was < access => push(
                "files",
                true,
                format!("mount `{mount}` widens from {was} to {access}"),
            ),
            Some(&was) if was > access => push(
                "files",
                false,
                format!("mount `{mount}` narrows from {was} to {access}"),
            ),
            Some(_) => {}
        }
    }
    for mount in old.files.keys().filter(|m| !new.files.contains_key(*m)) {
        push(
            "files",
            false,
            format!("no longer asks for mount `{mount}`"),
        );
    }

    for (name, secret) in &new.secrets {
        let Some(was) = old.secrets.get(name) else {
            push(
                "secrets",
                true,
                format!("new secret `{name}`{}", secret_use(secret)),
            );
            continue;
        };
        if secret.expose && !was.expose {
            push(
                "secrets",
                true,
                format!("secret `{name}` becomes exposed: the action may read its plaintext"),
            );
        }
        if !secret.expose && was.expose {
            push(
                "secrets",
                false,
                format!("secret `{name}` is no longer exposed"),
            );
        }
        for origin in &secret.send_to {
            if !was.send_to.iter().any(|o| covers(o, origin)) {
                push(
                    "secrets",
                    true,
                    format!("secret `{name}` may now be sent to {origin}"),
                );
            }
        }
        for origin in was.send_to.difference(&secret.send_to) {
            push(
                "secrets",
                false,
                format!("secret `{name}` is no longer sent to {origin}"),
            );
        }
    }
    for name in old.secrets.keys().filter(|n| !new.secrets.contains_key(*n)) {
        push(
            "secrets",
            false,
            format!("no longer asks for secret `{name}`"),
        );
    }

    for (wider, text) in limits(&old.limits, &new.limits) {
        push("limits", wider, text);
    }
    changes.sort_by_key(|c| (order(c.capability), !c.wider));
    changes
}

/// Only the changes that widen what the action may do.
pub fn wider(old: &Approved, new: &Approved) -> Vec<Change> {
    diff(old, new).into_iter().filter(|c| c.wider).collect()
}

fn order(capability: &str) -> usize {
    ["network", "files", "secrets", "limits"]
        .iter()
        .position(|c| *c == capability)
        .unwrap_or(usize::MAX)
}

/// Every limit that changed, as (wider, text): each one a manifest may ask
/// for, since raising any lets the action do more.
fn limits(o: &ApprovedLimits, n: &ApprovedLimits) -> Vec<(bool, String)> {
    // Every field, so that a limit added to the approval cannot be left
    // out of its comparison.
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
    } = n;
    let changes = [
        limit("memory", &o.memory, memory),
        limit("timeout", &o.timeout, timeout),
        output_limit(o.output, *output),
        limit("http_requests", &o.http_requests, http_requests),
        limit("http_request_body", &o.http_request_body, http_request_body),
        limit(
            "http_response_body",
            &o.http_response_body,
            http_response_body,
        ),
        limit(
            "http_connect_timeout",
            &o.http_connect_timeout,
            http_connect_timeout,
        ),
        limit(
            "http_first_byte_timeout",
            &o.http_first_byte_timeout,
            http_first_byte_timeout,
        ),
        limit("http_timeout", &o.http_timeout, http_timeout),
    ];
    changes.into_iter().flatten().collect()
}

/// Limit `name` changing from `old` to `new`, if it does.
fn limit<T: Ord + std::fmt::Display>(name: &str, old: &T, new: &T) -> Option<(bool, String)> {
    let wider = new > old;
    (new != old).then(|| (wider, format!("{name} {} from {old} to {new}", more(wider))))
}

/// The output limit changing, where `None` is the policy's ceiling: more
/// than any size the action names.
fn output_limit(old: Option<ByteSize>, new: Option<ByteSize>) -> Option<(bool, String)> {
    let shown =
        |o: Option<ByteSize>| o.map_or("the policy's ceiling".to_owned(), |b| b.to_string());
    let wider = match (old, new) {
        (Some(was), Some(now)) => now > was,
        (Some(_), None) => true,
        (None, _) => false,
    };
    (new != old).then(|| {
        let text = format!(
            "output {} from {} to {}",
            more(wider),
            shown(old),
            shown(new)
        );
        (wider, text)
    })
}

fn more(wider: bool) -> &'static str {
    if wider { "rises" } else { "falls" }
}

fn secret_use(secret: &ApprovedSecret) -> String {
    let mut uses = Vec::new();
    if secret.expose {
        uses.push("exposed: the action may read its plaintext".to_owned());
    }
    if !secret.send_to.is_empty() {
        let to: Vec<&str> = secret.send_to.iter().map(String::as_str).collect();
        uses.push(format!("sent to {}", to.join(", ")));
    }
    if uses.is_empty() {
        String::new()
    } else {
        format!(" ({})", uses.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    fn approved(caps: &str, limits: &str) -> Approved {
        let text = format!(
            "[action]\nname = \"a\"\nversion = \"1.0.0\"\npublisher = \"p\"\n\
             [capabilities]\n{caps}\n[limits]\n{limits}\n"
        );
        Approved::of(&Manifest::parse("manifest", &text).unwrap())
    }

    #[test]
    fn changes_in_plain_words() {
        // (old capabilities, old limits, new capabilities, new limits, expected changes as "+text" (wider) or "-text")
        let cases: &[(&str, &str, &str, &str, &[&str])] = &[
            ("", "", "", "", &[]),
            (
                "network = [\"https://a.test\"]",
                "",
                "network = [\"https://a.test\", \"https://b.test\"]",
                "",
                &["+new host https://b.test"],
            ),
            (
                "network = [\"https://a.test\", \"https://b.test\"]",
                "",
                "network = [\"https://b.test\", \"https://a.test\"]",
                "",
                &[],
            ),
            (
                "network = [\"https://a.test\"]",
                "",
                "",
                "",
                &["-no longer asks for host https://a.test"],
            ),
            (
                "network = [\"https://*.a.test\"]",
                "",
                "network = [\"https://api.a.test\"]",
                "",
                &["-no longer asks for host https://*.a.test"],
            ),
            (
                "network = [\"https://api.a.test\"]",
                "",
                "network = [\"https://*.a.test\"]",
                "",
                &[
                    "+new host https://*.a.test",
                    "-no longer asks for host https://api.a.test",
                ],
            ),
            (
                "files = [{ mount = \"w\", access = \"read\" }]",
                "",
                "files = [{ mount = \"w\", access = \"read-write\" }, { mount = \"x\", access = \"read\" }]",
                "",
                &[
                    "+mount `w` widens from read to read-write",
                    "+new mount `x` (read)",
                ],
            ),
            (
                "files = [{ mount = \"w\", access = \"read-write\" }]",
                "",
                "files = [{ mount = \"w\", access = \"read\" }]",
                "",
                &["-mount `w` narrows from read-write to read"],
            ),
            (
                "",
                "",
                "secrets = [{ name = \"T\", send_to = [\"https://a.test\"] }]",
                "",
                &["+new secret `T` (sent to https://a.test)"],
            ),
            (
                "secrets = [{ name = \"T\", send_to = [\"https://a.test\"] }]",
                "",
                "secrets = [{ name = \"T\", send_to = [\"https://a.test\", \"https://evil.test\"], expose = true }]",
                "",
                &[
                    "+secret `T` becomes exposed: the action may read its plaintext",
                    "+secret `T` may now be sent to https://evil.test",
                ],
            ),
            (
                "secrets = [{ name = \"T\", expose = true }]",
                "",
                "",
                "",
                &["-no longer asks for secret `T`"],
            ),
            (
                "",
                "memory = \"16 MiB\"\ntimeout = \"2s\"\noutput = \"1 MiB\"",
                "",
                "memory = \"64 MiB\"\ntimeout = \"1s\"",
                &[
                    "+memory rises from 16 MiB to 64 MiB",
                    "+output rises from 1 MiB to the policy's ceiling",
                    "-timeout falls from 2s to 1s",
                ],
            ),
            // An absent limit is the default a run gets, not "no limit".
            ("", "", "", "memory = \"64 MiB\"\ntimeout = \"10s\"", &[]),
            (
                "",
                "",
                "",
                "output = \"2 MiB\"",
                &["-output falls from the policy's ceiling to 2 MiB"],
            ),
            // Every limit a manifest may ask for is part of the approval.
            (
                "",
                "http_requests = 3\nhttp_response_body = \"64 KiB\"",
                "",
                "http_requests = 1000\nhttp_response_body = \"512 MiB\"",
                &[
                    "+http_requests rises from 3 to 1000",
                    "+http_response_body rises from 64 KiB to 512 MiB",
                ],
            ),
            (
                "",
                "http_request_body = \"1 KiB\"\nhttp_connect_timeout = \"1s\"\n\
                 http_first_byte_timeout = \"2s\"\nhttp_timeout = \"3s\"",
                "",
                "http_request_body = \"2 KiB\"\nhttp_connect_timeout = \"2s\"\n\
                 http_first_byte_timeout = \"1s\"\nhttp_timeout = \"1m\"",
                &[
                    "+http_request_body rises from 1 KiB to 2 KiB",
                    "+http_connect_timeout rises from 1s to 2s",
                    "+http_timeout rises from 3s to 1m",
                    "-http_first_byte_timeout falls from 2s to 1s",
                ],
            ),
            (
                "",
                "http_requests = 1000",
                "",
                "http_requests = 3",
                &["-http_requests falls from 1000 to 3"],
            ),
            // Absent, they are the defaults a run gets: above them is wider.
            (
                "",
                "",
                "",
                "http_requests = 100\nhttp_request_body = \"1 MiB\"\n\
                 http_response_body = \"8 MiB\"\nhttp_connect_timeout = \"10s\"\n\
                 http_first_byte_timeout = \"30s\"\nhttp_timeout = \"60s\"",
                &[],
            ),
            (
                "",
                "",
                "",
                "http_requests = 101",
                &["+http_requests rises from 100 to 101"],
            ),
        ];
        for (old_caps, old_limits, new_caps, new_limits, expected) in cases {
            let old = approved(old_caps, old_limits);
            let new = approved(new_caps, new_limits);
            let got: Vec<String> = diff(&old, &new)
                .iter()
                .map(|c| format!("{}{}", if c.wider { '+' } else { '-' }, c.text))
                .collect();
            assert_eq!(
                got, *expected,
                "{old_caps} {old_limits} -> {new_caps} {new_limits}"
            );
            let wider_count = expected.iter().filter(|e| e.starts_with('+')).count();
            assert_eq!(wider(&old, &new).len(), wider_count);
        }
    }
}
