//! The difference between an approved set and a new request, in plain
//! words, each change marked as widening or narrowing.

use super::{Approved, ApprovedSecret, covers};
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

    let (o, n) = (&old.limits, &new.limits);
    if n.memory != o.memory {
        let wider = n.memory > o.memory;
        push(
            "limits",
            wider,
            format!("memory {} from {} to {}", more(wider), o.memory, n.memory),
        );
    }
    if n.timeout != o.timeout {
        let wider = n.timeout > o.timeout;
        push(
            "limits",
            wider,
            format!(
                "timeout {} from {} to {}",
                more(wider),
                o.timeout,
                n.timeout
            ),
        );
    }
    let output =
        |o: Option<ByteSize>| o.map_or("the policy's ceiling".to_owned(), |b| b.to_string());
    if n.output != o.output {
        // `None` is the policy's ceiling: more than any size the action names.
        let wider = match (o.output, n.output) {
            (Some(was), Some(now)) => now > was,
            (Some(_), None) => true,
            (None, _) => false,
        };
        push(
            "limits",
            wider,
            format!(
                "output {} from {} to {}",
                more(wider),
                output(o.output),
                output(n.output)
            ),
        );
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
