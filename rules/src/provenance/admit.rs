//! The lock's verdict on a component about to be loaded: approved, or why
//! not — not approved at all, other bytes than the approved ones, or a
//! manifest that asks for more than was approved (capability drift).
//!
//! | lock entry for the name | digest | manifest vs approved set | verdict |
//! |---|---|---|---|
//! | none | — | — | not approved |
//! | present | other | asks for more | drift: names each change |
//! | present | other | asks for nothing more | not the vetted bytes |
//! | present | same | asks for more (a hand-edited lock) | drift |
//! | present | same | within | approved |
//!
//! A component whose manifest is missing or invalid is refused for that,
//! unless the lock already shows its bytes are not the approved ones.
//!
//! This module is pure.

use super::Digest;
use super::approval::{self, Approved};
use super::lock::{Entry, Lock};
use crate::Refusal;
use crate::manifest::Manifest;

/// What is being loaded.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// The name it was asked for by, if any (`airlock run NAME`).
    pub asked: Option<&'a str>,
    /// Its digest.
    pub digest: Digest,
    /// Where it was read from.
    pub origin: &'a str,
}

impl Candidate<'_> {
    /// The `airlock approve` command that would accept it.
    fn approve_command(&self, name: &str) -> String {
        approve_command(self.asked.map_or(self.origin, |_| name))
    }
}

/// `airlock approve ARG`, with `ARG` quoted for a POSIX shell where it
/// needs to be (a path with a space, say), so that it can be pasted.
pub fn approve_command(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.,/:=+@%".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        format!("airlock approve {arg}")
    } else {
        format!("airlock approve '{}'", arg.replace('\'', r"'\''"))
    }
}

/// Decide whether `lock` admits `candidate`, whose embedded manifest is
/// `manifest` (or why it has none).
pub fn admit<'l>(
    lock: &'l Lock,
    candidate: Candidate<'_>,
    manifest: Result<Manifest, Refusal>,
) -> Result<(&'l Entry, Manifest), Refusal> {
    let Candidate {
        asked,
        digest,
        origin,
    } = candidate;
    let name = match (asked, lock.find_digest(digest), &manifest) {
        (Some(asked), _, _) => asked.to_owned(),
        (None, Some(entry), _) => entry.name.clone(),
        (None, None, Ok(m)) => m.action.name.clone(),
        (None, None, Err(refusal)) => return Err(refusal.clone()),
    };
    let approve = candidate.approve_command(&name);
    let entry = lock.get(&name);

    if let Some(entry) = entry.filter(|e| e.digest != digest) {
        // Not the approved bytes. Say what they ask for beyond the approval
        // when the manifest can be read; that is what a person must vet.
        let changes = match &manifest {
            Ok(m) if m.action.name == name => approval::wider(&entry.approved, &Approved::of(m)),
            _ => Vec::new(),
        };
        if !changes.is_empty() {
            return Err(Refusal::Drift {
                name,
                origin: origin.into(),
                changes: changes.into_iter().map(|c| c.text).collect(),
                approve,
            });
        }
        return Err(Refusal::DigestMismatch {
            name,
            origin: origin.into(),
            approved: entry.digest,
            actual: digest,
        });
    }

    let manifest = manifest?;
    if manifest.action.name != name {
        return Err(Refusal::NameMismatch {
            origin: origin.into(),
            asked: name,
            declared: manifest.action.name,
        });
    }
    let Some(entry) = entry else {
        return Err(Refusal::NotApproved {
            name,
            origin: origin.into(),
            digest,
            approve,
        });
    };
    let changes = approval::wider(&entry.approved, &Approved::of(&manifest));
    if !changes.is_empty() {
        return Err(Refusal::Drift {
            name,
            origin: origin.into(),
            changes: changes.into_iter().map(|c| c.text).collect(),
            approve,
        });
    }
    Ok((entry, manifest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn manifest(name: &str, caps: &str) -> Manifest {
        let text = format!(
            "[action]\nname = \"{name}\"\nversion = \"1.0.0\"\npublisher = \"p\"\n[capabilities]\n{caps}\n"
        );
        Manifest::parse("m", &text).unwrap()
    }

    #[test]
    fn the_verdicts() {
        let v1 = manifest("probe", "network = [\"https://a.test\"]");
        let v1_digest = Digest::of(b"v1");
        let mut lock = Lock::default();
        lock.insert(Entry::new(
            &v1,
            v1_digest,
            "v1.wasm",
            None,
            SystemTime::now(),
        ));
        let mut narrowed = lock.clone();
        let mut hand_edited = Entry::new(&v1, v1_digest, "v1.wasm", None, SystemTime::now());
        hand_edited.approved.network.clear();
        narrowed.insert(hand_edited);

        let by_name = |digest: &[u8]| Candidate {
            asked: Some("probe"),
            digest: Digest::of(digest),
            origin: "probe.wasm",
        };
        let by_file = |digest: &[u8]| Candidate {
            asked: None,
            digest: Digest::of(digest),
            origin: "probe.wasm",
        };
        let wider = manifest(
            "probe",
            "network = [\"https://a.test\", \"https://b.test\"]",
        );
        let same_caps = manifest("probe", "network = [\"https://a.test\"]");
        let no_manifest = || {
            Err(Refusal::ManifestSection {
                origin: "probe.wasm".into(),
                error: crate::manifest::section::SectionError::Missing,
            })
        };
        let verdict =
            |lock: &Lock, c: Candidate<'_>, m: Result<Manifest, Refusal>| match admit(lock, c, m) {
                Ok(_) => "approved".to_owned(),
                Err(r) => format!("{r}"),
            };

        assert_eq!(verdict(&lock, by_name(b"v1"), Ok(v1.clone())), "approved");
        assert_eq!(verdict(&lock, by_file(b"v1"), Ok(v1.clone())), "approved");
        let cases: Vec<(String, &str)> = vec![
            (
                verdict(&lock, by_name(b"v2"), Ok(wider.clone())),
                "capability drift): new host https://b.test; vet it and run `airlock approve probe`",
            ),
            (
                verdict(&lock, by_file(b"v2"), Ok(wider.clone())),
                "run `airlock approve probe.wasm`",
            ),
            (
                verdict(&lock, by_name(b"v2"), Ok(same_caps.clone())),
                "these are not the bytes that were vetted; if this is a new build, vet it and \
                 run `airlock approve probe.wasm`",
            ),
            (
                verdict(&lock, by_file(b"v2"), Ok(same_caps.clone())),
                "vet it and run `airlock approve probe.wasm`",
            ),
            (
                verdict(&lock, by_name(b"v2"), no_manifest()),
                "these are not the bytes that were vetted",
            ),
            (
                verdict(&lock, by_file(b"v2"), no_manifest()),
                "no embedded manifest",
            ),
            (
                verdict(&Lock::default(), by_name(b"v1"), Ok(v1.clone())),
                "is not approved",
            ),
            (
                verdict(&Lock::default(), by_name(b"v1"), Ok(manifest("other", ""))),
                "declares action `other`, not `probe`",
            ),
            (
                verdict(&narrowed, by_name(b"v1"), Ok(v1.clone())),
                "capability drift): new host https://a.test",
            ),
        ];
        for (got, expected) in cases {
            assert!(got.contains(expected), "{got}\nexpected: {expected}");
        }
    }

    /// Every limit a manifest may ask for is approved: a raise of any one,
    /// by a new build or over an old lock without it, is drift.
    #[test]
    fn a_raised_limit_is_drift() {
        let with = |limits: &str| {
            let text = format!(
                "[action]\nname = \"probe\"\nversion = \"1.0.0\"\npublisher = \"p\"\n[limits]\n{limits}\n"
            );
            Manifest::parse("m", &text).unwrap()
        };
        let cases: &[(&str, &str, &str)] = &[
            (
                "http_requests = 3",
                "http_requests = 1000",
                "http_requests rises from 3 to 1000",
            ),
            (
                "http_response_body = \"64 KiB\"",
                "http_response_body = \"512 MiB\"",
                "http_response_body rises from 64 KiB to 512 MiB",
            ),
            (
                "http_request_body = \"1 KiB\"",
                "http_request_body = \"2 KiB\"",
                "http_request_body rises from 1 KiB to 2 KiB",
            ),
            (
                "http_connect_timeout = \"1s\"",
                "http_connect_timeout = \"5s\"",
                "http_connect_timeout rises from 1s to 5s",
            ),
            (
                "http_first_byte_timeout = \"1s\"",
                "http_first_byte_timeout = \"5s\"",
                "http_first_byte_timeout rises from 1s to 5s",
            ),
            (
                "http_timeout = \"1s\"",
                "http_timeout = \"5s\"",
                "http_timeout rises from 1s to 5s",
            ),
            (
                "",
                "http_requests = 1000",
                "http_requests rises from 100 to 1000",
            ),
        ];
        for (approved, asked, change) in cases {
            let mut lock = Lock::default();
            let entry = Entry::new(
                &with(approved),
                Digest::of(b"v1"),
                "v1.wasm",
                None,
                SystemTime::now(),
            );
            lock.insert(entry);
            let candidate = |digest: &[u8]| Candidate {
                asked: Some("probe"),
                digest: Digest::of(digest),
                origin: "probe.wasm",
            };
            // A new build asking for more, and the approved one's bytes
            // asking for more than a (hand-edited, or older) lock says.
            for digest in [&b"v1"[..], b"v2"] {
                match admit(&lock, candidate(digest), Ok(with(asked))) {
                    Err(Refusal::Drift { changes, .. }) => assert_eq!(changes, [*change]),
                    Err(other) => panic!("{asked}: {other}"),
                    Ok(_) => panic!("{asked} over {approved:?} was admitted"),
                }
            }
            let same = admit(&lock, candidate(b"v1"), Ok(with(approved)));
            assert!(same.is_ok(), "{approved}");
        }
    }

    #[test]
    fn the_suggested_command_can_be_pasted_into_a_shell() {
        assert_eq!(approve_command("probe"), "airlock approve probe");
        assert_eq!(
            approve_command("./actions/post-1.2.wasm"),
            "airlock approve ./actions/post-1.2.wasm"
        );
        assert_eq!(
            approve_command("My Actions/it's.wasm"),
            r"airlock approve 'My Actions/it'\''s.wasm'"
        );
        // A shell reads each back as the one argument it was.
        for arg in [
            "My Actions/it's.wasm",
            "a;rm -rf ~",
            "$HOME`id`\"*",
            "",
            "x\ny",
        ] {
            let command = approve_command(arg);
            let script = format!("set -- {}; printf %s \"$3\"", command);
            let out = std::process::Command::new("sh")
                .args(["-c", &script])
                .output()
                .expect("sh");
            assert_eq!(String::from_utf8_lossy(&out.stdout), arg, "{command}");
        }
    }
}
