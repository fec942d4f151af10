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
