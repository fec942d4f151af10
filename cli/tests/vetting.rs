//! The vetting workflow as operators use it, with the real binary: pack,
//! approve, run, diff and inspect through an upgrade.

#![allow(clippy::unwrap_used)]

mod common;

use airlock_test_artifacts::{FILE_DIGEST, PROBE, SIGN_PAYLOAD};
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

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
    let (_, e) = expect(
        dir,
        0,
        &["approve", "probe-1.0.0.wasm", "--yes", "--allow-downgrade"],
    );
    let v1_again = read(&lock);
    assert!(v1_again.contains("version = \"1.0.0\""));
    // The override is on the record, and the high-water mark is kept.
    assert!(
        v1_again.contains("highest = \"1.1.0\"")
            && v1_again.contains("downgraded_from = \"1.1.0\""),
        "{v1_again}"
    );
    assert!(e.contains("a downgrade from 1.1.0"), "{e}");
    // The very same bytes again: already approved, and not "other bytes".
    let (review, e) = expect(dir, 0, &["approve", "probe-1.0.0.wasm", "--yes"]);
    assert!(e.contains("already approved"), "{e}");
    assert!(!review.contains("with other bytes"), "{review}");
    assert_eq!(read(&lock), v1_again);
    // Back up to the high-water mark is no downgrade, and clears it.
    expect(dir, 0, &["approve", "probe-1.1.0.wasm", "--yes"]);
    let v2_again = read(&lock);
    assert!(
        v2_again.contains("version = \"1.1.0\"") && !v2_again.contains("highest"),
        "{v2_again}"
    );
}

#[test]
fn approval_at_a_terminal_is_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    deploy(dir, "probe-1.0.0.wasm");
    let at_terminal = |answer: &str| {
        Prompted::start(dir, "probe", "Approve probe 1.0.0 (sha256:")
            .answer(answer)
            .1
    };
    let screen = at_terminal("n\n");
    assert!(screen.contains("not approved"), "{screen}");
    assert!(!dir.join("airlock.lock").exists());
    let screen = at_terminal("y\n");
    assert!(screen.contains("approved probe 1.0.0"), "{screen}");
    assert!(read(dir.join("airlock.lock")).contains("name = \"probe\""));
}

/// `airlock approve ACTION` on a pseudo-terminal (`script`), stopped at
/// its prompt.
struct Prompted {
    child: std::process::Child,
}

impl Prompted {
    /// Start it, and check that its review shows `shown`.
    #[track_caller]
    fn start(dir: &Path, action: &str, shown: &str) -> Prompted {
        use std::io::Read as _;
        let mut child = Command::new("script")
            .args(["-qec", &format!("{AIRLOCK} approve {action}"), "/dev/null"])
            .current_dir(dir)
            .env("AIRLOCK_CACHE_DIR", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("`script` (util-linux) runs a command on a terminal");
        let mut stdout = child.stdout.take().unwrap();
        let mut screen = Vec::new();
        let mut buf = [0; 4096];
        while !text(&screen).contains("[y/N] ") {
            let n = stdout.read(&mut buf).unwrap();
            assert!(n > 0, "no prompt: {}", text(&screen));
            screen.extend_from_slice(&buf[..n]);
        }
        child.stdout = Some(stdout);
        let screen = text(&screen);
        assert!(screen.contains(shown), "{screen}");
        Prompted { child }
    }

    /// Answer, and return the exit code and the rest of the screen.
    fn answer(mut self, answer: &str) -> (Option<i32>, String) {
        use std::io::Write as _;
        let mut stdin = self.child.stdin.take().unwrap();
        stdin.write_all(answer.as_bytes()).unwrap();
        drop(stdin);
        let out = self.child.wait_with_output().unwrap();
        (out.status.code(), text(&out.stdout))
    }
}

#[test]
fn approvals_made_during_a_review_are_kept_and_a_changed_entry_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    deploy(dir, "probe-1.0.0.wasm");
    // The probe packed with `manifest` as `file`, and signed.
    let pack_signed = |manifest: String, file: &str| {
        std::fs::write(dir.join("extra.toml"), manifest).unwrap();
        expect(
            dir,
            0,
            &["pack", PROBE, "--manifest", "extra.toml", "-o", file],
        );
        expect(dir, 0, &["sign", file]);
    };
    let other = manifest("1.0.0", "").replace("name = \"probe\"", "name = \"other\"");
    pack_signed(other, "other.wasm");
    pack_signed(
        manifest("1.2.0", "\"https://api.example.com\""),
        "probe-1.2.0.wasm",
    );
    let lock = dir.join("airlock.lock");

    // While a person reads the review of `probe`, a script approves
    // another action. Both approvals are in the lock afterwards.
    let review = Prompted::start(dir, "probe", "Approve probe 1.0.0");
    expect(dir, 0, &["approve", "other.wasm", "--yes"]);
    let (code, screen) = review.answer("y\n");
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("approved probe 1.0.0"), "{screen}");
    let text = read(&lock);
    assert!(
        text.contains("name = \"other\"") && text.contains("name = \"probe\""),
        "{text}"
    );

    // While probe 1.1.0 is reviewed (against the approved 1.0.0), someone
    // approves the same 1.1.0: nothing is left to write.
    deploy(dir, "probe-1.1.0.wasm");
    let review = Prompted::start(dir, "probe", "telemetry.example.net");
    expect(dir, 0, &["approve", "probe-1.1.0.wasm", "--yes"]);
    let (code, screen) = review.answer("y\n");
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains("probe 1.1.0 was approved meanwhile; nothing to write"),
        "{screen}"
    );

    // While probe 1.2.0 is reviewed (against the approved 1.1.0), someone
    // goes back to 1.0.0: the person approved a change from an entry that
    // is no longer there, so nothing is written.
    deploy(dir, "probe-1.2.0.wasm");
    let review = Prompted::start(dir, "probe", "Approve probe 1.2.0");
    let downgrade = ["approve", "probe-1.0.0.wasm", "--yes", "--allow-downgrade"];
    expect(dir, 0, &downgrade);
    let settled = read(&lock);
    let (code, screen) = review.answer("y\n");
    assert_eq!(code, Some(3), "{screen}");
    assert!(
        screen.contains(
            "cannot approve: ./airlock.lock changed while probe 1.2.0 was reviewed: \
             it now approves probe 1.0.0 (sha256:"
        ) && screen.contains("nothing was written: run `airlock approve probe` again"),
        "{screen}"
    );
    assert_eq!(read(&lock), settled, "the lock is left as it was");
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
        "interfaces it is granted nothing of: all uses will be refused (",
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

#[test]
fn the_policy_may_keep_the_lock_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    deploy(dir, "probe-1.0.0.wasm");
    std::fs::create_dir(dir.join("state")).unwrap();
    let policy = read(dir.join("airlock.toml"));
    std::fs::write(
        dir.join("airlock.toml"),
        format!("{policy}\n[trust]\nlock = \"state/approvals.lock\"\n"),
    )
    .unwrap();
    let (_, e) = expect(dir, 0, &["approve", "probe", "--yes"]);
    assert!(e.contains("state/approvals.lock"), "{e}");
    assert!(read(dir.join("state/approvals.lock")).contains("name = \"probe\""));
    assert!(!dir.join("airlock.lock").exists());
    expect(dir, 0, RUN);
    let (d, _) = expect(dir, 0, &["diff", "probe", "probe.wasm"]);
    assert!(d.contains("no change to the capabilities"), "{d}");
}

/// Every limit a manifest may ask for is part of the approval: `diff` and
/// `approve` show a raise of the `http_*` limits, and `run` refuses it as
/// drift until it is approved.
#[test]
fn a_raised_http_limit_is_shown_and_refused_until_approved() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    let limits = |toml: &str, version: &str, limits: &str| {
        let text = manifest(version, "\"https://api.example.com\"");
        std::fs::write(dir.join(toml), format!("{text}\n[limits]\n{limits}\n")).unwrap();
    };
    limits(
        "low.toml",
        "1.0.0",
        "http_requests = 3\nhttp_response_body = \"64 KiB\"",
    );
    limits(
        "high.toml",
        "1.0.1",
        "http_requests = 1000\nhttp_response_body = \"512 MiB\"",
    );
    for (toml, out) in [("low.toml", "low.wasm"), ("high.toml", "high.wasm")] {
        expect(dir, 0, &["pack", PROBE, "--manifest", toml, "-o", out]);
        expect(dir, 0, &["sign", out]);
    }
    let raises = [
        "  + http_requests rises from 3 to 1000",
        "  + http_response_body rises from 64 KiB to 512 MiB",
    ];

    let (d, _) = expect(dir, 1, &["diff", "low.wasm", "high.wasm"]);
    for line in raises {
        assert!(d.contains(line), "no `{line}` in:\n{d}");
    }
    assert!(d.contains("the new one asks for more: 2 changes"), "{d}");
    let (d, _) = expect(dir, 0, &["diff", "high.wasm", "low.wasm"]);
    assert!(d.contains("  - http_requests falls from 1000 to 3"), "{d}");

    deploy(dir, "low.wasm");
    let (review, _) = expect(dir, 0, &["approve", "probe", "--yes"]);
    assert!(
        review.contains("http_requests 3, http_request_body 1 MiB, http_response_body 64 KiB"),
        "{review}"
    );
    assert!(
        read(dir.join("airlock.lock")).contains("http_requests = 3\n"),
        "the lock keeps every approved limit"
    );
    expect(dir, 0, RUN);

    deploy(dir, "high.wasm");
    let (_, e) = expect(dir, 3, RUN);
    assert!(
        e.contains(
            "(capability drift): http_requests rises from 3 to 1000; http_response_body rises \
             from 64 KiB to 512 MiB; vet it and run `airlock approve probe`"
        ),
        "{e}"
    );
    let (d, _) = expect(dir, 1, &["diff", "probe", "probe.wasm"]);
    for line in raises {
        assert!(d.contains(line), "no `{line}` in:\n{d}");
    }
    let (review, _) = expect(dir, 0, &["approve", "probe", "--yes"]);
    for line in raises {
        assert!(review.contains(line), "no `{line}` in:\n{review}");
    }
    expect(dir, 0, RUN);
}

/// Every approval is on the record before the lock says it: who approved
/// which digest, and what changed. The record goes to a log of its own, so
/// a long-lived host holding the run log does not stop an approval, and an
/// approval that cannot be recorded is not written.
#[test]
fn every_approval_is_recorded_before_the_lock_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    deploy(dir, "probe-1.0.0.wasm");
    let lock = dir.join("airlock.lock");
    let approvals = dir.join("approvals/airlock-audit.jsonl");
    let records = || -> Vec<serde_json::Value> {
        read(&approvals)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|r: &serde_json::Value| r["event"] == "approval")
            .collect()
    };

    // A review that writes nothing records nothing.
    expect(dir, 1, &["approve", "probe"]);
    assert!(!approvals.exists());

    let (_, e) = expect(dir, 0, &["approve", "probe", "--yes"]);
    assert!(
        e.contains("recorded in ") && e.contains("approvals/airlock-audit.jsonl"),
        "{e}"
    );
    let first = &records()[0];
    let digest = read(&lock)
        .lines()
        .find_map(|l| {
            l.strip_prefix("digest = \"")
                .map(|d| d.trim_end_matches('"').to_owned())
        })
        .unwrap();
    assert_eq!(first["decision"], "allow");
    assert_eq!(first["action"], "probe@1.0.0");
    assert_eq!(first["digest"], digest.as_str());
    assert_eq!(first["publisher"], "acme");
    assert!(
        first["signature"].as_str().unwrap().starts_with("verified"),
        "{first}"
    );
    assert!(first["previous"].is_null(), "{first}");
    assert!(
        first["approver"]["user"].as_str().unwrap().contains("uid "),
        "{first}"
    );
    assert!(
        !first["approver"]["host"].as_str().unwrap().is_empty(),
        "{first}"
    );

    // Already approved: nothing written, nothing recorded.
    expect(dir, 0, &["approve", "probe", "--yes"]);
    assert_eq!(records().len(), 1);

    // A host that holds the run log for its lifetime (as `airlock serve`
    // does) does not keep an upgrade from being approved and recorded.
    let run_log = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("airlock-audit.lock"))
        .unwrap();
    run_log.try_lock().unwrap();
    deploy(dir, "probe-1.1.0.wasm");
    expect(dir, 0, &["approve", "probe", "--yes"]);
    drop(run_log);
    let upgrade = &records()[1];
    assert_eq!(upgrade["action"], "probe@1.1.0");
    assert_eq!(upgrade["previous"]["version"], "1.0.0");
    assert_eq!(upgrade["previous"]["digest"], digest.as_str());
    assert_eq!(
        upgrade["changes"][0]["text"],
        "new host https://telemetry.example.net"
    );
    assert_eq!(upgrade["changes"][0]["wider"], true);

    let (shown, _) = expect(
        dir,
        0,
        &[
            "audit",
            "show",
            "approvals/airlock-audit.jsonl",
            "--event",
            "approval",
        ],
    );
    assert_eq!(
        shown.lines().filter(|l| l.contains(" approval ")).count(),
        2,
        "{shown}"
    );
    let (verified, _) = expect(
        dir,
        0,
        &["audit", "verify", "approvals/airlock-audit.jsonl"],
    );
    assert!(verified.starts_with("ok: "), "{verified}");

    // The log of approvals cannot be written: held by another writer, or
    // not a file. The downgrade is not approved, and the lock is unchanged.
    let before = read(&lock);
    let held = std::fs::File::options()
        .write(true)
        .open(dir.join("approvals/airlock-audit.lock"))
        .unwrap();
    held.try_lock().unwrap();
    let (_, e) = expect(
        dir,
        5,
        &["approve", "probe-1.0.0.wasm", "--yes", "--allow-downgrade"],
    );
    assert!(
        e.contains("could not be recorded") && e.contains("lock was not written"),
        "{e}"
    );
    assert_eq!(e.lines().filter(|l| l.contains("error")).count(), 1, "{e}");
    drop(held);
    assert_eq!(read(&lock), before);
    std::fs::remove_dir_all(dir.join("approvals")).unwrap();
    std::fs::create_dir_all(&approvals).unwrap();
    let (_, e) = expect(
        dir,
        5,
        &["approve", "probe-1.0.0.wasm", "--yes", "--allow-downgrade"],
    );
    assert!(e.contains("could not be recorded"), "{e}");
    assert_eq!(read(&lock), before);
}

/// The dependency list a component was built with is shown at review,
/// kept in the lock, and compared on upgrade: a new version built from
/// other sources shows every crate it brings. `require_sbom` refuses a
/// component without a readable list, at approval and at run time.
#[test]
fn approve_shows_the_dependency_list_and_what_an_upgrade_adds() {
    use airlock_test_artifacts::hostile::{CoreModule, wrapping};
    use airlock_test_artifacts::{HTTP_HELLO, PROBE};
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // Version 1.0.0 is a build of `http-hello`, version 1.1.0 one of
    // `probe`, which adds the SDK and sha2: two real cargo-auditable lists.
    std::fs::write(dir.join("v1.toml"), manifest("1.0.0", "")).unwrap();
    std::fs::write(dir.join("v2.toml"), manifest("1.1.0", "")).unwrap();
    expect(
        dir,
        0,
        &[
            "pack",
            HTTP_HELLO,
            "--manifest",
            "v1.toml",
            "-o",
            "probe-1.0.0.wasm",
        ],
    );
    expect(
        dir,
        0,
        &[
            "pack",
            PROBE,
            "--manifest",
            "v2.toml",
            "-o",
            "probe-1.1.0.wasm",
        ],
    );
    let policy = "[actions.probe]\npath = \"probe.wasm\"\nrequire_signature = false\n";
    std::fs::write(dir.join("airlock.toml"), policy).unwrap();
    deploy_bytes_only(dir, "probe-1.0.0.wasm");

    let (review, _) = expect(dir, 0, &["approve", "probe", "--yes"]);
    assert!(
        review.contains("dependencies: ") && review.contains("built from http-hello 0.1.0 (local)"),
        "{review}"
    );
    assert!(review.contains("wasi 0.14.7+wasi-0.2.4"), "{review}");
    let lock = read(dir.join("airlock.lock"));
    assert!(
        lock.contains("dependencies = [\n") && lock.contains("    \"wasi 0.14.7+wasi-0.2.4\",\n"),
        "{lock}"
    );

    let (json, _) = expect(dir, 0, &["inspect", "--json", "probe-1.1.0.wasm"]);
    let bom = &serde_json::from_str::<serde_json::Value>(&json).unwrap()["sbom"];
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["metadata"]["component"]["name"], "probe");
    let purls: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert!(
        purls.iter().any(|p| p.starts_with("pkg:cargo/sha2@0.10.")),
        "{purls:?}"
    );

    // The upgrade: the capabilities do not change; the crates do.
    let (d, _) = expect(dir, 0, &["diff", "probe", "probe-1.1.0.wasm"]);
    assert!(
        d.contains("no change to the capabilities") && d.contains("  + new crate sha2 0.10."),
        "{d}"
    );
    deploy_bytes_only(dir, "probe-1.1.0.wasm");
    let (review, _) = expect(dir, 0, &["approve", "probe", "--yes"]);
    for line in [
        "dependency changes:\n",
        "  + new crate airlock-sdk 0.1.0 (local)\n",
        "  + new crate sha2 0.10.",
        "  - crate wasi 0.14.7+wasi-0.2.4 removed\n",
    ] {
        assert!(review.contains(line), "no `{line}` in:\n{review}");
    }
    let approvals = read(dir.join("approvals/airlock-audit.jsonl"));
    let upgrade: serde_json::Value = serde_json::from_str(
        approvals
            .lines()
            .filter(|l| l.contains("\"approval\""))
            .nth(1)
            .unwrap(),
    )
    .unwrap();
    let added: Vec<&str> = upgrade["dependency_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "added")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        added.contains(&"sha2") && added.contains(&"airlock-sdk"),
        "{upgrade}"
    );

    // require_sbom: a component without a list, or with one that cannot be
    // read, is never approved.
    let sbomless = "[action]\nname = \"bare\"\nversion = \"1.0.0\"\npublisher = \"acme\"\n";
    std::fs::write(
        dir.join("bare.wasm"),
        wrapping(CoreModule::default(), Some(sbomless)),
    )
    .unwrap();
    let junk = wrapping(CoreModule::custom(".dep-v0", 16), Some(sbomless));
    std::fs::write(dir.join("junk.wasm"), junk).unwrap();
    let strict = format!(
        "{policy}\n[actions.bare]\npath = \"bare.wasm\"\nrequire_signature = false\n\n[trust]\nrequire_sbom = true\n"
    );
    std::fs::write(dir.join("airlock.toml"), &strict).unwrap();
    let before = read(dir.join("airlock.lock"));
    let (_, e) = expect(dir, 3, &["approve", "bare", "--yes"]);
    assert!(
        e.contains("action `bare` (./bare.wasm) carries no dependency list, and the policy requires one (require_sbom)")
            && e.contains("cargo auditable build")
            && e.contains("require_sbom = false under [actions.bare]"),
        "{e}"
    );
    let (_, e) = expect(dir, 3, &["approve", "junk.wasm", "--yes"]);
    assert!(
        e.contains("its dependency list (.dep-v0) cannot be read: it is not zlib data"),
        "{e}"
    );
    assert_eq!(read(dir.join("airlock.lock")), before);
    // A per-action false wins over the global rule.
    std::fs::write(
        dir.join("airlock.toml"),
        strict.replace("[actions.bare]\n", "[actions.bare]\nrequire_sbom = false\n"),
    )
    .unwrap();
    expect(dir, 0, &["approve", "bare", "--yes"]);

    // Approved while the policy did not require a list: the run is refused
    // once it does, and the refusal is recorded.
    std::fs::write(dir.join("airlock.toml"), &strict).unwrap();
    let (_, e) = expect(dir, 3, &["run", "bare", "--input", "{}"]);
    assert!(e.contains("was approved without a dependency list"), "{e}");
    let log = read(dir.join("airlock-audit.jsonl"));
    assert!(
        log.lines()
            .any(|l| l.contains("\"run.refused\"") && l.contains("require_sbom")),
        "{log}"
    );
    // probe's approval carries its list: it runs under the same policy.
    let (out, _) = expect(dir, 0, RUN);
    assert_eq!(out.trim(), "\"xx\"");
}
