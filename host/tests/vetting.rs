//! The vetting workflow as operators and publishers use it, with the real
//! binary: pack, keygen, sign, approve, run, diff, inspect, verify — and
//! interop with Debian's `minisign`.

#![allow(clippy::unwrap_used)]

use airlock_test_artifacts::{FILE_DIGEST, PROBE, SIGN_PAYLOAD};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");

fn airlock(dir: &Path, args: &[&str]) -> Output {
    Command::new(AIRLOCK)
        .args(args)
        .current_dir(dir)
        .env_remove("AIRLOCK_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Run airlock, assert the exit code, and return stdout and stderr.
#[track_caller]
fn expect(dir: &Path, code: i32, args: &[&str]) -> (String, String) {
    let out = airlock(dir, args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "airlock {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap()
}

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

/// A manifest for the probe guest, version `version`, asking for `network`.
fn manifest(version: &str, network: &str) -> String {
    format!(
        "[action]\nname = \"probe\"\nversion = \"{version}\"\npublisher = \"acme\"\n\
         description = \"the test probe\"\n\n[capabilities]\nnetwork = [{network}]\n"
    )
}

/// In `dir`: the probe packed as versions 1.0.0 and 1.1.0 (which adds a
/// host), a publisher key pair, both signed, and a policy trusting the key.
fn publisher_setup(dir: &Path) {
    std::fs::write(
        dir.join("v1.toml"),
        manifest("1.0.0", "\"https://api.example.com\""),
    )
    .unwrap();
    std::fs::write(
        dir.join("v2.toml"),
        manifest(
            "1.1.0",
            "\"https://api.example.com\", \"https://telemetry.example.net\"",
        ),
    )
    .unwrap();
    for (toml, out) in [
        ("v1.toml", "probe-1.0.0.wasm"),
        ("v2.toml", "probe-1.1.0.wasm"),
    ] {
        let (stdout, _) = expect(dir, 0, &["pack", PROBE, "--manifest", toml, "-o", out]);
        assert!(stdout.starts_with("packed probe "), "{stdout}");
    }
    expect(dir, 0, &["keygen"]);
    for file in ["probe-1.0.0.wasm", "probe-1.1.0.wasm"] {
        expect(dir, 0, &["sign", file]);
    }
    let public = read(dir.join("airlock.pub"));
    std::fs::write(
        dir.join("airlock.toml"),
        format!(
            "[actions.probe]\npath = \"probe.wasm\"\n\n[publishers.acme]\nkeys = [\"{}\"]\n",
            public.lines().nth(1).unwrap()
        ),
    )
    .unwrap();
}

/// Put `version` in place as the policy's `probe.wasm`, with its signature.
fn deploy(dir: &Path, file: &str) {
    std::fs::copy(dir.join(file), dir.join("probe.wasm")).unwrap();
    std::fs::copy(
        dir.join(format!("{file}.minisig")),
        dir.join("probe.wasm.minisig"),
    )
    .unwrap();
}

const RUN: &[&str] = &["run", "probe", "--input", r#"{"op": "output", "bytes": 2}"#];

#[test]
fn the_upgrade_story() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    deploy(dir, "probe-1.0.0.wasm");
    let lock = dir.join("airlock.lock");

    // Nothing runs before it is approved, and only `approve --yes` writes.
    let (_, e) = expect(dir, 3, RUN);
    assert!(
        e.contains("is not approved") && e.contains("`airlock approve probe`"),
        "{e}"
    );
    let (review, e) = expect(dir, 1, &["approve", "probe"]);
    assert!(e.contains("nothing was written"), "{e}");
    assert!(!lock.exists());
    for line in [
        "action:     probe 1.0.0 by acme",
        "signature:  verified: key ",
        "  network:  https://api.example.com",
        "approved:   nothing yet for `probe`",
    ] {
        assert!(review.contains(line), "no `{line}` in:\n{review}");
    }

    // Version 1 approved: it runs.
    expect(dir, 0, &["approve", "probe", "--yes"]);
    let v1_lock = read(&lock);
    assert!(v1_lock.contains("version = \"1.0.0\""), "{v1_lock}");
    let (out, _) = expect(dir, 0, RUN);
    assert_eq!(out.trim(), "\"xx\"");
    let (_, e) = expect(dir, 0, &["approve", "probe", "--yes"]);
    assert!(e.contains("already approved"), "{e}");
    assert_eq!(read(&lock), v1_lock);

    // One byte changed: refused.
    let mut bytes = std::fs::read(dir.join("probe.wasm")).unwrap();
    bytes[100] ^= 1;
    std::fs::write(dir.join("probe.wasm"), &bytes).unwrap();
    let (_, e) = expect(dir, 3, RUN);
    assert!(e.contains("not the bytes that were vetted"), "{e}");

    // Version 2 adds a host: refused as drift, naming the host and the fix.
    deploy(dir, "probe-1.1.0.wasm");
    let (_, e) = expect(dir, 3, RUN);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains(
            "asks for more than was approved (capability drift): new host \
             https://telemetry.example.net; vet it and run `airlock approve probe`"
        ),
        "{e}"
    );
    let (d, _) = expect(dir, 1, &["diff", "probe", "probe.wasm"]);
    assert!(
        d.contains("  + new host https://telemetry.example.net"),
        "{d}"
    );
    let (json, _) = expect(
        dir,
        1,
        &["diff", "--json", "probe-1.0.0.wasm", "probe-1.1.0.wasm"],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["asks_for_more"], true);
    assert_eq!(
        v["changes"][0]["text"],
        "new host https://telemetry.example.net"
    );
    assert_eq!(v["new"]["version"], "1.1.0");
    let (d, _) = expect(dir, 0, &["diff", "probe-1.1.0.wasm", "probe-1.0.0.wasm"]);
    assert!(d.contains("the new one asks for less"), "{d}");

    // Approved, atomically: a reader holding the old lock keeps it whole.
    let held = dir.join("held.lock");
    std::fs::hard_link(&lock, &held).unwrap();
    let (review, _) = expect(dir, 0, &["approve", "probe", "--yes"]);
    assert!(
        review.contains("  + new host https://telemetry.example.net"),
        "{review}"
    );
    assert!(
        review.contains("approved:   probe 1.0.0 (sha256:"),
        "{review}"
    );
    assert_eq!(read(&held), v1_lock);
    assert!(read(&lock).contains("version = \"1.1.0\""));
    let stray: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    let (out, _) = expect(dir, 0, RUN);
    assert_eq!(out.trim(), "\"xx\"");

    // Going back to version 1 is a downgrade: only with --allow-downgrade.
    let v2_lock = read(&lock);
    let (_, e) = expect(dir, 3, &["approve", "probe-1.0.0.wasm", "--yes"]);
    assert!(
        e.contains("older than the approved 1.1.0") && e.contains("--allow-downgrade"),
        "{e}"
    );
    assert_eq!(read(&lock), v2_lock);
    expect(
        dir,
        0,
        &["approve", "probe-1.0.0.wasm", "--yes", "--allow-downgrade"],
    );
    assert!(read(&lock).contains("version = \"1.0.0\""));
}

#[test]
fn approval_at_a_terminal_is_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    deploy(dir, "probe-1.0.0.wasm");
    // `script` runs airlock on a pseudo-terminal and feeds it the answer.
    let at_terminal = |answer: &str| {
        let mut child = Command::new("script")
            .args(["-qec", &format!("{AIRLOCK} approve probe"), "/dev/null"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("`script` (util-linux) runs a command on a terminal");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        text(&out.stdout)
    };
    let screen = at_terminal("n\n");
    assert!(screen.contains("Approve probe 1.0.0 (sha256:"), "{screen}");
    assert!(screen.contains("not approved"), "{screen}");
    assert!(!dir.join("airlock.lock").exists());
    let screen = at_terminal("y\n");
    assert!(screen.contains("approved probe 1.0.0"), "{screen}");
    assert!(read(dir.join("airlock.lock")).contains("name = \"probe\""));
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
    // Restored: it runs.
    std::fs::write(&sig, good).unwrap();
    expect(dir, 0, RUN);
    let (out, _) = expect(dir, 0, &["verify", "probe.wasm"]);
    assert!(out.contains("of publisher `acme`"), "{out}");
}

#[test]
fn a_malformed_lock_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    deploy(dir, "probe-1.0.0.wasm");
    expect(dir, 0, &["approve", "probe", "--yes"]);
    let lock = dir.join("airlock.lock");
    let broken = read(&lock).replace("files = []", "files = \"all\"");
    std::fs::write(&lock, &broken).unwrap();
    for args in [RUN, &["approve", "probe-1.1.0.wasm", "--yes"]] {
        let (_, e) = expect(dir, 2, args);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(
            e.contains("airlock.lock line 16: action[0].files: invalid type"),
            "{e}"
        );
    }
    assert_eq!(read(&lock), broken, "the lock is left as it was");
    assert!(!dir.join("airlock-audit.jsonl").exists(), "nothing ran");
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
    let m_id = m_pub
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
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
fn pack_embeds_a_manifest_and_inspect_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(
        dir.join("action.toml"),
        format!(
            "{}files = [{{ mount = \"out\", access = \"read-write\" }}]\n\
             secrets = [{{ name = \"TOKEN\", expose = true }}]\n",
            manifest("2.0.0", "\"https://*.example.com\"")
        ),
    )
    .unwrap();
    expect(
        dir,
        0,
        &["pack", PROBE, "--manifest", "action.toml", "-o", "p.wasm"],
    );
    let (json, _) = expect(dir, 0, &["inspect", "--json", "p.wasm"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["manifest"]["action"]["version"], "2.0.0");
    let (out, _) = expect(dir, 0, &["inspect", "p.wasm"]);
    for line in [
        "action:    probe 2.0.0 by acme",
        "  core module 0: language: Rust",
        "  component: airlock-manifest (",
        "  ! wildcard host https://*.example.com",
        "  ! mount `out` is read-write",
        "  ! secret `TOKEN` is exposed",
        "  ! secret `TOKEN` has no audience",
        "raw sockets",
    ] {
        assert!(out.contains(line), "no `{line}` in:\n{out}");
    }

    // Packing twice, or packing an invalid manifest, writes nothing.
    let (_, e) = expect(
        dir,
        3,
        &[
            "pack",
            "p.wasm",
            "--manifest",
            "action.toml",
            "-o",
            "q.wasm",
        ],
    );
    assert!(e.contains("exactly one is allowed"), "{e}");
    std::fs::write(dir.join("bad.toml"), manifest("2.0.0", "\"ftp://x\"")).unwrap();
    let (_, e) = expect(
        dir,
        2,
        &["pack", PROBE, "--manifest", "bad.toml", "-o", "q.wasm"],
    );
    assert!(
        e.contains(
            "bad.toml: capabilities.network[0]: `ftp://x`: the scheme must be http or https"
        ),
        "{e}"
    );
    assert!(!dir.join("q.wasm").exists());
}

#[test]
fn inspect_shows_what_a_plugin_was_built_with_and_risks() {
    let (out, _) = expect(Path::new("."), 0, &["inspect", FILE_DIGEST]);
    assert!(out.contains("  core module 0: language: Rust"), "{out}");
    assert!(
        out.contains("  core module 0: processed-by: rustc "),
        "{out}"
    );
    assert!(out.contains("  ! mount `reports` is read-write"), "{out}");
    let (out, _) = expect(Path::new("."), 0, &["inspect", SIGN_PAYLOAD]);
    assert!(
        out.contains("  ! secret `WEBHOOK_SIGNING_KEY` is exposed"),
        "{out}"
    );
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

#[test]
fn help_documents_the_vetting_exit_codes() {
    let (help, _) = expect(Path::new("."), 0, &["--help"]);
    for line in [
        "diff: the new component asks for more",
        "capability",
        "approve: not confirmed",
    ] {
        assert!(help.contains(line), "{help}");
    }
}
