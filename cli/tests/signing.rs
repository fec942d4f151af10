//! Signatures as publishers and operators use them, with the real binary:
//! keygen, sign, verify, refusals at run time, and interop with Debian's
//! `minisign` both ways.

#![allow(clippy::unwrap_used)]

mod common;

use airlock_test_artifacts::FILE_DIGEST;
use common::*;
use std::process::{Command, Stdio};

/// The `minisign` CLI; the interop tests must not pass without it.
fn minisign() -> Command {
    let found = Command::new("minisign")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "the minisign CLI is missing: run ./scripts/setup.sh (or apt-get install -y minisign)"
    );
    let mut cmd = Command::new("minisign");
    cmd.stdin(Stdio::null());
    cmd
}

#[test]
fn bad_untrusted_and_missing_signatures_refuse_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    deploy(dir, "probe-1.0.0.wasm");
    expect(dir, 0, &["approve", "probe", "--yes"]);
    let sig = dir.join("probe.wasm.minisig");
    let good = read(&sig);

    // Signed for other bytes.
    std::fs::copy(dir.join("probe-1.1.0.wasm.minisig"), &sig).unwrap();
    let (_, e) = expect(dir, 3, RUN);
    assert!(
        e.contains("has a bad signature") && e.contains("was changed after signing"),
        "{e}"
    );
    // Signed by a key the policy does not trust.
    let other = dir.join("other");
    std::fs::create_dir(&other).unwrap();
    expect(&other, 0, &["keygen"]);
    expect(dir, 0, &["sign", "probe.wasm", "-s", "other/airlock.key"]);
    let (_, e) = expect(dir, 3, RUN);
    assert!(
        e.contains("which the policy does not trust for publisher `acme`"),
        "{e}"
    );
    // Not signed.
    std::fs::remove_file(&sig).unwrap();
    let (_, e) = expect(dir, 3, RUN);
    assert!(
        e.contains("is not signed and the policy requires a signature"),
        "{e}"
    );
    // A malformed signature file: a clear error naming it.
    std::fs::write(
        &sig,
        "untrusted comment: x\n(none)\ntrusted comment: y\nAAAA\n",
    )
    .unwrap();
    let (_, e) = expect(dir, 3, RUN);
    assert!(
        e.contains("probe.wasm.minisig: line 2: the signature is not base64"),
        "{e}"
    );
    let (_, e) = expect(dir, 1, &["verify", "probe.wasm"]);
    assert!(e.contains("signature NOT verified"), "{e}");
    // ... and approving with it writes nothing.
    let lock = read(dir.join("airlock.lock"));
    deploy_bytes_only(dir, "probe-1.1.0.wasm");
    let (_, e) = expect(dir, 3, &["approve", "probe", "--yes"]);
    assert!(e.contains("cannot approve") && e.contains("line 2"), "{e}");
    assert_eq!(read(dir.join("airlock.lock")), lock);
    deploy_bytes_only(dir, "probe-1.0.0.wasm");
    // Restored: it runs.
    std::fs::write(&sig, good).unwrap();
    expect(dir, 0, RUN);
    let (out, _) = expect(dir, 0, &["verify", "probe.wasm"]);
    assert!(out.contains("of publisher `acme`"), "{out}");
}

#[test]
fn minisign_and_airlock_signatures_interoperate() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    deploy(dir, "probe-1.0.0.wasm");

    // A publisher with Debian's minisign: key pair, signature.
    let ok = |cmd: &mut Command| {
        let out = cmd.current_dir(dir).output().unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    ok(minisign().args(["-G", "-W", "-p", "m.pub", "-s", "m.key"]));
    ok(minisign().args([
        "-S",
        "-s",
        "m.key",
        "-m",
        "probe.wasm",
        "-t",
        "release 1.0.0",
    ]));
    let (out, _) = expect(dir, 0, &["verify", "probe.wasm", "-p", "m.pub"]);
    assert!(out.contains("trusted comment: release 1.0.0"), "{out}");
    // A plugin as built from plugins/, signed by minisign, verified by airlock
    // with the key given inline.
    std::fs::copy(FILE_DIGEST, dir.join("file-digest.wasm")).unwrap();
    ok(minisign().args(["-S", "-s", "m.key", "-m", "file-digest.wasm"]));
    let m_key = read(dir.join("m.pub")).lines().nth(1).unwrap().to_owned();
    expect(dir, 0, &["verify", "file-digest.wasm", "-P", &m_key]);
    let mut bytes = std::fs::read(dir.join("file-digest.wasm")).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(dir.join("file-digest.wasm"), bytes).unwrap();
    let (_, e) = expect(dir, 1, &["verify", "file-digest.wasm", "-P", &m_key]);
    assert!(e.contains("the file or its signature was changed"), "{e}");
    // The operator trusts that key; the minisign signature is what lets it run.
    let m_pub = read(dir.join("m.pub"));
    std::fs::write(
        dir.join("airlock.toml"),
        format!(
            "[actions.probe]\npath = \"probe.wasm\"\n\n[publishers.acme]\nkeys = [\"{}\"]\n",
            m_pub.lines().nth(1).unwrap()
        ),
    )
    .unwrap();
    let (review, _) = expect(dir, 0, &["approve", "probe", "--yes"]);
    // minisign prints the key ID without leading zeros; airlock, like the
    // ID's eight bytes, with all sixteen digits.
    let m_id = m_pub.lines().next().unwrap().rsplit(' ').next().unwrap();
    let m_id = format!("{:016X}", u64::from_str_radix(m_id, 16).unwrap());
    assert!(
        review.contains(&format!("verified: key {m_id} of publisher `acme`")),
        "{review}"
    );
    assert!(read(dir.join("airlock.lock")).contains(&format!("key_id = \"{m_id}\"")));
    expect(dir, 0, RUN);

    // airlock's signatures verify with `minisign -V`, with airlock's key or
    // minisign's.
    let out = ok(minisign().args(["-V", "-p", "airlock.pub", "-m", "probe-1.1.0.wasm"]));
    assert!(
        out.contains("Signature and comment signature verified"),
        "{out}"
    );
    expect(
        dir,
        0,
        &[
            "sign",
            "probe-1.1.0.wasm",
            "-s",
            "m.key",
            "-x",
            "by-m.minisig",
        ],
    );
    ok(minisign().args([
        "-V",
        "-p",
        "m.pub",
        "-m",
        "probe-1.1.0.wasm",
        "-x",
        "by-m.minisig",
    ]));
    // And minisign signs with a key airlock made.
    ok(minisign().args([
        "-S",
        "-s",
        "airlock.key",
        "-m",
        "probe-1.1.0.wasm",
        "-x",
        "by-a.minisig",
    ]));
    expect(
        dir,
        0,
        &[
            "verify",
            "probe-1.1.0.wasm",
            "-x",
            "by-a.minisig",
            "-p",
            "airlock.pub",
        ],
    );
    // The legacy (not prehashed) format minisign still writes with -l.
    ok(minisign().args([
        "-S",
        "-l",
        "-s",
        "m.key",
        "-m",
        "probe-1.1.0.wasm",
        "-x",
        "legacy.minisig",
    ]));
    assert!(
        read(dir.join("legacy.minisig"))
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("RW"),
        "the legacy algorithm is `Ed`"
    );
    expect(
        dir,
        0,
        &[
            "verify",
            "probe-1.1.0.wasm",
            "-x",
            "legacy.minisig",
            "-p",
            "m.pub",
        ],
    );
    // minisign itself refuses airlock's signature over other bytes.
    std::fs::copy(
        dir.join("probe-1.1.0.wasm.minisig"),
        dir.join("wrong.minisig"),
    )
    .unwrap();
    let out = minisign()
        .args([
            "-V",
            "-p",
            "airlock.pub",
            "-m",
            "probe-1.0.0.wasm",
            "-x",
            "wrong.minisig",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn keygen_protects_the_secret_key_and_never_overwrites_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (out, _) = expect(dir, 0, &["keygen"]);
    let public = read(dir.join("airlock.pub"));
    assert!(out.contains(public.lines().nth(1).unwrap()), "{out}");
    let key = dir.join("airlock.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let secret = read(&key);
    assert!(!out.contains(secret.lines().nth(1).unwrap()));
    let (_, e) = expect(dir, 2, &["keygen"]);
    assert!(e.contains("--force"), "{e}");
    assert_eq!(read(&key), secret);
    expect(dir, 0, &["keygen", "--force"]);
    assert_ne!(read(&key), secret);
}

/// Sign `file` in `dir` with a Sigstore of its own (tools/js/sigstore-sign.js:
/// a local, offline Fulcio, CT log and Rekor), as a publisher's CI would,
/// writing `<file>.sigstore.json` and the `trusted_root.json` that verifies it.
fn sigstore_sign(dir: &std::path::Path, file: &str, subject: &str, extra: &[&str]) {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/js/sigstore-sign.js");
    let out = Command::new("node")
        .arg(&script)
        .args([
            file,
            ".",
            "--subject",
            subject,
            "--repository",
            "https://github.com/acme/actions",
        ])
        .args(extra)
        .current_dir(dir)
        .output()
        .expect("node runs (scripts/setup.sh installs tools/js)");
    assert!(
        out.status.success(),
        "sigstore-sign.js failed (run ./scripts/setup.sh): {}",
        text(&out.stderr)
    );
}

const WORKFLOW: &str = "https://github.com/acme/actions/.github/workflows/release.yml";

/// A policy trusting publisher `acme` by Sigstore identity, with `extra`
/// under [trust] and `identity` as its only identity.
fn identity_policy(identity: &str, extra: &str) -> String {
    format!(
        "[actions.probe]\npath = \"probe.wasm\"\n\n[publishers.acme]\nsigstore = [{identity}]\n\n\
         [trust]\ntrusted_root = \"trusted_root.json\"\n{extra}"
    )
}

fn identity(subject: &str, repository: &str) -> String {
    format!(
        "{{ issuer = \"https://token.actions.githubusercontent.com\", subject = \"{subject}\", \
         repository = \"{repository}\" }}"
    )
}

/// A publisher trusted by identity: its CI's Sigstore bundle is verified
/// offline at approval, what it established is in the lock, every
/// run.start and the approval record, and each way it can fail is refused.
#[test]
fn a_publisher_trusted_by_sigstore_identity() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("v1.toml"), manifest("1.0.0", "")).unwrap();
    std::fs::write(dir.join("v2.toml"), manifest("1.1.0", "")).unwrap();
    let probe = airlock_test_artifacts::PROBE;
    expect(
        dir,
        0,
        &["pack", probe, "--manifest", "v1.toml", "-o", "probe.wasm"],
    );
    expect(
        dir,
        0,
        &["pack", probe, "--manifest", "v2.toml", "-o", "other.wasm"],
    );
    sigstore_sign(
        dir,
        "probe.wasm",
        &format!("{WORKFLOW}@refs/tags/v1.0.0"),
        &[],
    );
    let good = identity(
        &format!("{WORKFLOW}@refs/tags/v*"),
        "https://github.com/acme/actions",
    );
    let lock = dir.join("airlock.lock");
    let write = |policy: &str| std::fs::write(dir.join("airlock.toml"), policy).unwrap();

    // Each identity that is not the signer's: refused, naming who signed.
    for (what, id) in [
        (
            "a branch, not a tag",
            identity(
                &format!("{WORKFLOW}@refs/heads/*"),
                "https://github.com/acme/actions",
            ),
        ),
        (
            "another repository",
            identity(
                &format!("{WORKFLOW}@refs/tags/v*"),
                "https://github.com/evil/actions",
            ),
        ),
        (
            "another issuer",
            good.replace(
                "https://token.actions.githubusercontent.com",
                "https://gitlab.com",
            ),
        ),
    ] {
        write(&identity_policy(&id, ""));
        let (_, e) = expect(dir, 3, &["approve", "probe", "--yes"]);
        assert!(
            e.contains(&format!("is attested by {WORKFLOW}@refs/tags/v1.0.0"))
                && e.contains("which the policy does not trust for publisher `acme`"),
            "{what}: {e}"
        );
        assert!(!lock.exists(), "{what}");
    }

    // Too young: the release age counts from the log's time.
    write(&identity_policy(&good, "min_release_age = \"7d\"\n"));
    let (_, e) = expect(dir, 3, &["approve", "probe", "--yes"]);
    assert!(
        e.contains("cannot be approved yet: it was published at ")
            && e.contains(
                "less than the policy's min_release_age of 7days ago: it can be approved from "
            ),
        "{e}"
    );
    assert!(!lock.exists());

    // The bundle of other bytes; no bundle at all.
    std::fs::copy(
        dir.join("probe.wasm.sigstore.json"),
        dir.join("other.wasm.sigstore.json"),
    )
    .unwrap();
    write(&identity_policy(&good, ""));
    let (_, e) = expect(dir, 3, &["approve", "other.wasm", "--yes"]);
    assert!(
        e.contains("has a Sigstore bundle that does not verify: other.wasm.sigstore.json: artifact mismatch"),
        "{e}"
    );
    std::fs::remove_file(dir.join("other.wasm.sigstore.json")).unwrap();
    let (_, e) = expect(dir, 3, &["approve", "other.wasm", "--yes"]);
    assert!(
        e.contains("is not attested and the policy trusts publisher `acme` by Sigstore identity: approve it with the bundle the publisher's CI made beside it (<component>.sigstore.json)"),
        "{e}"
    );

    // The right identity: approved, and on the record.
    let (review, _) = expect(dir, 0, &["approve", "probe", "--yes"]);
    assert!(
        review.contains(&format!(
            "signature:  attested (Sigstore) for publisher `acme`: {WORKFLOW}@refs/tags/v1.0.0 \
             (issuer https://token.actions.githubusercontent.com), repository \
             https://github.com/acme/actions, builder https://github.com/actions/runner/github-hosted; log index "
        )),
        "{review}"
    );
    let locked = read(&lock);
    assert!(
        locked.contains(
            "\n[action.attestation]\nissuer = \"https://token.actions.githubusercontent.com\"\n"
        ) && locked.contains("repository = \"https://github.com/acme/actions\"\n"),
        "{locked}"
    );
    let approval: serde_json::Value = serde_json::from_str(
        read(dir.join("approvals/airlock-audit.jsonl"))
            .lines()
            .find(|l| l.contains("\"approval\""))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        approval["attestation"]["subject"],
        format!("{WORKFLOW}@refs/tags/v1.0.0")
    );
    let (out, _) = expect(dir, 0, RUN);
    assert_eq!(out.trim(), "\"xx\"");
    let start: serde_json::Value = serde_json::from_str(
        read(dir.join("airlock-audit.jsonl"))
            .lines()
            .find(|l| l.contains("\"run.start\""))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(start["attestation"], approval["attestation"]);
    assert!(
        start["attestation"]["log_index"].as_u64().is_some(),
        "{start}"
    );

    // The policy stops trusting the identity: the approved component no
    // longer runs, and the refusal is recorded.
    write(&identity_policy(
        &identity(
            &format!("{WORKFLOW}@refs/tags/v2*"),
            "https://github.com/acme/actions",
        ),
        "",
    ));
    let (_, e) = expect(dir, 3, RUN);
    assert!(
        e.contains("which the policy does not trust for publisher `acme`"),
        "{e}"
    );
    let refused = read(dir.join("airlock-audit.jsonl"));
    assert!(
        refused
            .lines()
            .any(|l| l.contains("\"run.refused\"") && l.contains("is attested by")),
        "{refused}"
    );

    // A signer's provenance is text shown to a person: a builder with a
    // terminal escape in it is refused, not printed.
    write(&identity_policy(&good, ""));
    let tag = format!("{WORKFLOW}@refs/tags/v1.1.0");
    sigstore_sign(
        dir,
        "other.wasm",
        &tag,
        &["--builder", "https://ci.example/\u{1b}[8mhidden"],
    );
    let (_, e) = expect(dir, 3, &["approve", "other.wasm", "--yes"]);
    assert!(e.contains("is not 1 to 1024 characters of text"), "{e}");
    assert!(!e.contains('\u{1b}'), "{e:?}");

    // A release the log took 30 days ago meets a 7-day release age.
    write(&identity_policy(&good, "min_release_age = \"7d\"\n"));
    sigstore_sign(dir, "other.wasm", &tag, &["--age-days", "30"]);
    let (review, _) = expect(dir, 0, &["approve", "other.wasm", "--yes"]);
    assert!(
        review.contains("action:     probe 1.1.0 by acme"),
        "{review}"
    );
    assert!(read(&lock).contains("version = \"1.1.0\""));
}

/// A component with no trusted publication time — minisign-signed, or
/// unsigned — cannot meet a release age.
#[test]
fn a_release_age_needs_a_trusted_time() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    deploy(dir, "probe-1.0.0.wasm");
    let policy = read(dir.join("airlock.toml"));
    std::fs::write(
        dir.join("airlock.toml"),
        format!("{policy}\n[trust]\nmin_release_age = \"1d\"\n"),
    )
    .unwrap();
    let (_, e) = expect(dir, 3, &["approve", "probe", "--yes"]);
    assert!(
        e.contains("cannot be approved yet: it has no trusted publication time, so it cannot meet the policy's min_release_age of 1day"),
        "{e}"
    );
    // A publisher's own rule overrides [trust]'s.
    std::fs::write(
        dir.join("airlock.toml"),
        format!(
            "{}\nmin_release_age = \"0s\"\n\n[trust]\nmin_release_age = \"1d\"\n",
            policy.trim_end()
        ),
    )
    .unwrap();
    expect(dir, 0, &["approve", "probe", "--yes"]);
}
