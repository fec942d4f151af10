//! The audit log against real failures: the `airlock` process killed with
//! SIGKILL at random moments, and a real filesystem that fills up.

#![allow(clippy::unwrap_used)]

use airlock_test_artifacts::PROBE;
use serde_json::Value;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");

/// `airlock ARGS` in `dir`, its compile cache in `dir/cache` (never the
/// user's).
fn airlock(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().unwrap()
}

fn command(dir: &Path) -> Command {
    let mut command = Command::new(AIRLOCK);
    command
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("AIRLOCK_CACHE_DIR", dir.join("cache"));
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A policy with the probe pinned, writing to mount `out`, logging to
/// `log` (relative to `dir`).
fn setup(dir: &Path, log: &str) {
    let manifest = "[action]\nname = \"probe\"\nversion = \"1.0.0\"\npublisher = \"t\"\n\
                    [capabilities]\nfiles = [{ mount = \"out\", access = \"read-write\" }]\n";
    let bytes =
        airlock::rules::manifest::section::embed(&std::fs::read(PROBE).unwrap(), manifest).unwrap();
    std::fs::write(dir.join("probe.wasm"), &bytes).unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    // Built here, so first-party: approved in the lock, no signature.
    let policy = format!(
        "[actions.probe]\npath = \"probe.wasm\"\nrequire_signature = false\n\n\
         [mounts.out]\npath = \"out\"\naccess = \"read-write\"\n\n[audit]\npath = {log:?}\n"
    );
    std::fs::write(dir.join("airlock.toml"), policy).unwrap();
    let approved = airlock(dir, &["approve", "probe", "--yes"]);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
}

/// The probe's input: write `n` files named `<prefix><i>`.
fn writes(prefix: &str, n: usize) -> String {
    let ops: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"op": "write", "path": "/out/{prefix}{i}", "data": "x"}}"#))
        .collect();
    format!(r#"{{"op": "many", "ops": [{}]}}"#, ops.join(","))
}

/// Files in `out` with no intent record for their path in `log`.
fn unrecorded(log: &Path, out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap();
    let intents: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["phase"] == "intent")
        .map(|r| r["target"].as_str().unwrap_or_default().to_owned())
        .collect();
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| format!("/out/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|p| !intents.contains(p))
        .collect()
}

/// Say that `test` was skipped, and why, where `cargo test` shows it: on
/// stderr itself, not the output the test harness captures (and shows only
/// for a failure).
fn skip(test: &str, why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{test}: skipped: {why}");
}

/// The complete records of `log` (a torn last line left out).
fn records(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The `run.start` records of `log`, in order.
fn run_starts(log: &Path) -> Vec<Value> {
    records(log)
        .into_iter()
        .filter(|r| r["event"] == "run.start")
        .collect()
}

/// xorshift64*: the random moments, from a seed printed for reruns.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[test]
fn kill_9_at_any_moment_leaves_a_log_that_verifies_up_to_its_last_record() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), "airlock-audit.jsonl");
    let log = dir.path().join("airlock-audit.jsonl");
    let seed = std::env::var("AIRLOCK_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill -9 seed: {seed} (rerun with AIRLOCK_KILL_SEED={seed})");
    let mut rng = seed;

    // How long an undisturbed run takes, start to finish.
    let started = Instant::now();
    let out = airlock(
        dir.path(),
        &["run", "probe", "--input", &writes("warm", 150)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let span = started.elapsed().as_millis() as u64;

    // At least eight kills that found the process still running, four of
    // them between its run's start and end; a run that ended before its
    // kill came is not counted.
    let (mut kills, mut mid_run) = (0, Vec::new());
    for round in 0.. {
        if kills >= 8 && mid_run.len() >= 4 {
            break;
        }
        assert!(
            round < 24,
            "in {round} rounds only {kills} kills found airlock running, {} of them mid-run \
             (seed {seed})",
            mid_run.len()
        );
        let starts_before = run_starts(&log).len();
        let mut child = command(dir.path())
            .args([
                "run",
                "probe",
                "--input",
                &writes(&format!("r{round}-"), 150),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(next(&mut rng) % (span + 1)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        if status.signal().is_none() {
            assert_eq!(status.code(), Some(0), "round {round} (seed {seed})");
            continue;
        }
        assert_eq!(status.signal(), Some(9), "round {round} (seed {seed})");
        kills += 1;
        // Whether the kill hit this round's run between its start and its end.
        let starts = run_starts(&log);
        if starts.len() > starts_before
            && let Some(start) = starts.last()
            && !records(&log)
                .iter()
                .any(|r| r["event"] == "run.end" && r["run"] == start["run"])
        {
            mid_run.push(start["seq"].clone());
        }

        // Before any host reopens the log: it verifies up to its last
        // complete record, and names what is incomplete.
        let verify = airlock(dir.path(), &["audit", "verify", "airlock-audit.jsonl"]);
        let stdout = text(&verify.stdout);
        assert_eq!(
            verify.status.code(),
            Some(0),
            "round {round} (seed {seed}):\n{stdout}{}",
            text(&verify.stderr)
        );
        let bytes = std::fs::read(&log).unwrap();
        let complete = bytes.iter().filter(|&&b| b == b'\n').count();
        assert!(
            stdout.starts_with(&format!("ok: {complete} records,")),
            "round {round}: {stdout}"
        );
        if !bytes.ends_with(b"\n") {
            assert!(
                stdout.contains("incomplete tail:"),
                "round {round}: {stdout}"
            );
        }
        // Nothing was written to the mount without its intent on disk.
        assert_eq!(
            unrecorded(&log, &dir.path().join("out")),
            Vec::<String>::new(),
            "round {round}"
        );
    }
    eprintln!(
        "kill -9: {} of {kills} kills hit a run between its start and its end",
        mid_run.len()
    );

    // The next host moves a torn record aside, closes what the crash left
    // open, and the log verifies with no open intent.
    let out = airlock(
        dir.path(),
        &[
            "run",
            "probe",
            "--input",
            r#"{"op": "log", "message": "after"}"#,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let verify = airlock(dir.path(), &["audit", "verify", "airlock-audit.jsonl"]);
    let stdout = text(&verify.stdout);
    assert_eq!(verify.status.code(), Some(0), "{stdout}");
    assert!(
        !stdout.contains("open intents") && !stdout.contains("incomplete tail"),
        "{stdout}"
    );
    // Every run a kill cut short was found and recorded by a later host.
    let recovered: Vec<Value> = records(&log)
        .iter()
        .filter(|r| r["event"] == "audit.recover")
        .flat_map(|r| r["runs"].as_array().cloned().unwrap_or_default())
        .collect();
    for seq in &mid_run {
        assert!(
            recovered.contains(seq),
            "run.start {seq} was never recovered"
        );
    }
}

/// A real, small filesystem for the log (a tmpfs in a private mount
/// namespace, so nothing outlives the test): when it fills up, the call
/// that needed a record is refused, the run ends with `audit unavailable`,
/// the next run is refused, and once there is room again runs go on and the
/// log verifies. No file exists without its intent.
#[test]
fn a_full_filesystem_stops_the_host_and_nothing_happens_unrecorded() {
    let dir = tempfile::tempdir().unwrap();
    let can_mount = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount -t tmpfs -o size=16k tmpfs \"$0\"",
            dir.path().to_str().unwrap(),
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !can_mount {
        let why = "this machine does not allow a private tmpfs mount (unshare -m; needs root or \
                   user namespaces)";
        // CI runs as root, where the mount is allowed: there it must run.
        assert!(
            std::env::var_os("CI").is_none_or(|ci| ci != "true"),
            "cannot run under CI=true: {why}"
        );
        skip(
            "a_full_filesystem_stops_the_host_and_nothing_happens_unrecorded",
            why,
        );
        return;
    }
    setup(dir.path(), "fs/airlock-audit.jsonl");
    std::fs::create_dir_all(dir.path().join("fs")).unwrap();
    std::fs::create_dir(dir.path().join("copy")).unwrap();
    std::fs::write(dir.path().join("many.json"), writes("f", 300)).unwrap();
    let script = r#"
        set -u
        mount -t tmpfs -o size=128k tmpfs fs || exit 99
        dd if=/dev/zero of=fs/filler bs=1k count=48 status=none
        "$AIRLOCK" run probe --input @many.json > run1.out 2>&1; echo $? > codes
        "$AIRLOCK" run probe --input '{"op": "log", "message": "x"}' > run2.out 2>&1; echo $? >> codes
        rm fs/filler
        "$AIRLOCK" run probe --input '{"op": "log", "message": "y"}' > run3.out 2>&1; echo $? >> codes
        "$AIRLOCK" audit verify fs/airlock-audit.jsonl > verify.out 2>&1; echo $? >> codes
        cp fs/airlock-audit.* copy/
    "#;
    let status = Command::new("unshare")
        .args(["-m", "sh", "-c", script])
        .env("AIRLOCK", AIRLOCK)
        .env("AIRLOCK_CACHE_DIR", dir.path().join("cache"))
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap_or_default();
    let codes: Vec<String> = read("codes").lines().map(str::to_owned).collect();
    assert_eq!(
        codes,
        ["5", "5", "0", "0"],
        "run1: {}\nrun2: {}\nrun3: {}\nverify: {}",
        read("run1.out"),
        read("run2.out"),
        read("run3.out"),
        read("verify.out")
    );
    assert!(
        read("run1.out").contains("audit unavailable"),
        "{}",
        read("run1.out")
    );
    assert!(
        read("run1.out").contains("No space left on device"),
        "{}",
        read("run1.out")
    );
    assert!(
        read("run2.out").contains("audit unavailable"),
        "{}",
        read("run2.out")
    );
    let written = std::fs::read_dir(dir.path().join("out")).unwrap().count();
    assert!(
        written > 0 && written < 300,
        "the log should fill part way: {written} files"
    );
    let log = dir.path().join("copy/airlock-audit.jsonl");
    assert_eq!(
        unrecorded(&log, &dir.path().join("out")),
        Vec::<String>::new()
    );
    assert!(
        read("verify.out").starts_with("ok: "),
        "{}",
        read("verify.out")
    );
    // The run the full volume stopped left its start and no end; the next
    // host to open the log said so, and verify lists it.
    let records: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first_start = records.iter().find(|r| r["event"] == "run.start").unwrap();
    let ended = |run: &Value| {
        records
            .iter()
            .any(|r| r["event"] == "run.end" && r["run"] == *run)
    };
    assert!(!ended(&first_start["run"]));
    let recover = records
        .iter()
        .find(|r| r["event"] == "audit.recover")
        .expect("a record of the run left without its end");
    assert!(
        recover["runs"]
            .as_array()
            .unwrap()
            .contains(&first_start["seq"]),
        "{recover}"
    );
    assert!(
        read("verify.out").contains("incident at seq")
            && read("verify.out").contains("without an end"),
        "{}",
        read("verify.out")
    );
}

/// keygen → the policy's key → runs → verify with the key kept elsewhere and
/// a witness → prove → verify-inclusion, and show on hostile content.
#[test]
fn an_auditor_checks_the_log_and_a_proof_with_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), "airlock-audit.jsonl");
    let keys = tempfile::tempdir().unwrap();
    let out = airlock(
        keys.path(),
        &[
            "audit",
            "keygen",
            "--name",
            "ci.example/airlock",
            "--out",
            "audit",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let key = keys.path().join("audit.key");
    let public = keys.path().join("audit.pub").display().to_string();
    let mut policy = std::fs::read_to_string(dir.path().join("airlock.toml")).unwrap();
    policy.push_str(&format!("key = {:?}\n", key.display().to_string()));
    std::fs::write(dir.path().join("airlock.toml"), policy).unwrap();
    let hostile = r#"{"op": "log", "message": "\u001b[2J\u001b]0;owned\u0007\u202eevil\nforged"}"#;
    for input in [&writes("a", 2)[..], hostile] {
        let out = airlock(dir.path(), &["run", "probe", "--input", input]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let cps = std::fs::read_to_string(dir.path().join("airlock-audit.checkpoints")).unwrap();
    let witness = cps.split("\n\n\u{2014}").next().unwrap(); // the first checkpoint's text
    let first = cps[..cps.find("\n\n").unwrap() + 2].to_owned()
        + cps[witness.len() + 2..].split('\n').next().unwrap()
        + "\n";
    std::fs::write(keys.path().join("witness"), first).unwrap();
    let args = [
        "audit",
        "verify",
        "--log",
        "airlock-audit.jsonl",
        "--checkpoints",
        "airlock-audit.checkpoints",
        "--key",
        &public,
        "--max-gap",
        "10m",
    ];
    let mut with_witness = args.to_vec();
    let witness_path = keys.path().join("witness").display().to_string();
    with_witness.extend(["--witness", &witness_path]);
    let out = airlock(dir.path(), &with_witness);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("signed by ci.example/airlock")
            && text(&out.stdout).contains("witness: consistent"),
        "{}",
        text(&out.stdout)
    );

    // Prove the first intent, check it offline; a changed record fails.
    let out = airlock(
        dir.path(),
        &[
            "audit",
            "prove",
            "airlock-audit.jsonl",
            "--seq",
            "1",
            "--out",
            "proof",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let checkpoint = std::fs::read_dir(dir.path().join("proof"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("checkpoint-")
        })
        .unwrap();
    let check = |record: &str| {
        airlock(
            dir.path(),
            &[
                "audit",
                "verify-inclusion",
                "--record",
                record,
                "--proof",
                "proof/proof-1.json",
                "--checkpoint",
                checkpoint.to_str().unwrap(),
                "--key",
                &public,
            ],
        )
    };
    let out = check("proof/record-1.json");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("ok: record 1 is in the log of ci.example/airlock"),
        "{}",
        text(&out.stdout)
    );
    let record = std::fs::read_to_string(dir.path().join("proof/record-1.json")).unwrap();
    std::fs::write(
        dir.path().join("proof/forged.json"),
        record.replace("/out/a0", "/out/zz"),
    )
    .unwrap();
    let out = check("proof/forged.json");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("LEAF_MISMATCH"),
        "{}",
        text(&out.stdout)
    );

    // show: filters, and no raw control character reaches the terminal.
    let out = airlock(
        dir.path(),
        &["audit", "show", "airlock-audit.jsonl", "--event", "log"],
    );
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        shown.contains("\\u{1b}[2J") && shown.contains("\\u{202e}evil\\u{a}forged"),
        "{shown}"
    );
    assert!(
        !shown.chars().any(|c| c.is_control() && c != '\n'),
        "{shown:?}"
    );
    let out = airlock(
        dir.path(),
        &[
            "audit",
            "show",
            "airlock-audit.jsonl",
            "--event",
            "file.",
            "--json",
        ],
    );
    assert_eq!(
        text(&out.stdout).lines().count(),
        4,
        "{}",
        text(&out.stdout)
    );
    // A different key: BAD_SIGNATURE, exit 1.
    let other = airlock(
        keys.path(),
        &[
            "audit",
            "keygen",
            "--name",
            "ci.example/airlock",
            "--out",
            "other",
        ],
    );
    assert_eq!(other.status.code(), Some(0));
    let mut args = args.to_vec();
    let other_pub = keys.path().join("other.pub").display().to_string();
    args[7] = &other_pub;
    let out = airlock(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).starts_with("FAILED: BAD_SIGNATURE"),
        "{}",
        text(&out.stdout)
    );
}

/// Parallel steps of a CI job, each an `airlock run` on one policy: each
/// waits for the log while the others hold it (as long as a run may take),
/// every run succeeds, and the log verifies with every run in it once. A
/// run whose wait is over before the log is let go is refused, with a
/// reason that says so.
#[test]
fn concurrent_runs_on_one_log_wait_for_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    setup(dir, "airlock-audit.jsonl");
    let log = dir.join("airlock-audit.jsonl");
    assert!(!log.exists(), "approving writes no record");
    let input = writes("c", 1);
    let children: Vec<_> = (0..40)
        .map(|i| {
            let input = input.replace("/out/c0", &format!("/out/c{i}"));
            command(dir)
                .args(["run", "probe", "--json", "--input", &input])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut runs = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        runs.push(report["run"].as_str().unwrap().to_owned());
    }
    let starts = run_starts(&log);
    assert_eq!(starts.len(), 40);
    for run in &runs {
        let ends = records(&log)
            .into_iter()
            .filter(|r| r["event"] == "run.end" && r["run"] == run.as_str())
            .count();
        assert_eq!(ends, 1, "run {run} ends once in the log");
    }
    let verify = airlock(dir, &["audit", "verify", "airlock-audit.jsonl"]);
    assert!(verify.status.success(), "{}", text(&verify.stdout));

    // One run holds the log for a second; a policy that lets runs take at
    // most 200 ms waits no longer for it.
    let holder = command(dir)
        .args(["run", "probe", "--input", r#"{"op": "sleep", "ms": 1500}"#])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while run_starts(&log).len() < starts.len() + 1 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the holder never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let hasty = std::fs::read_to_string(dir.join("airlock.toml")).unwrap()
        + "\n[limits]\ntimeout = \"200ms\"\n";
    std::fs::write(dir.join("hasty.toml"), hasty).unwrap();
    let out = airlock(dir, &["run", "probe", "--json", "--config", "hasty.toml"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out.status.code(), report["code"].as_str()),
        (Some(5), Some("audit_busy")),
        "{report}"
    );
    let message = report["message"].as_str().unwrap();
    assert!(
        message.contains("another airlock host is writing") && message.contains("200ms"),
        "{message}"
    );
    let holder = holder.wait_with_output().unwrap();
    assert!(holder.status.success(), "{}", text(&holder.stderr));
    let verify = airlock(dir, &["audit", "verify", "airlock-audit.jsonl"]);
    assert!(verify.status.success(), "{}", text(&verify.stdout));
}

#[test]
fn verify_checks_each_of_several_logs_and_reports_per_log() {
    // Three "workers": three directories, three logs, one verifier key.
    let keys = tempfile::tempdir().unwrap();
    let out = airlock(
        keys.path(),
        &[
            "audit",
            "keygen",
            "--name",
            "fleet.example/airlock",
            "--out",
            "audit",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let public = keys.path().join("audit.pub").display().to_string();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut logs = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        setup(dir.path(), "airlock-audit.jsonl");
        let mut policy = std::fs::read_to_string(dir.path().join("airlock.toml")).unwrap();
        let key = keys.path().join("audit.key").display().to_string();
        policy.push_str(&format!("key = {key:?}\n"));
        std::fs::write(dir.path().join("airlock.toml"), policy).unwrap();
        for _ in 0..=i {
            let out = airlock(dir.path(), &["run", "probe", "--input", &writes("w", 1)]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        }
        logs.push(dir.path().join("airlock-audit.jsonl").display().to_string());
    }
    let verify = |files: &[&str], extra: &[&str]| {
        let mut args = vec!["audit", "verify"];
        args.extend_from_slice(files);
        args.extend_from_slice(extra);
        airlock(keys.path(), &args)
    };
    let all: Vec<&str> = logs.iter().map(String::as_str).collect();

    let out = verify(&all, &["--key", &public]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    for log in &logs {
        assert!(stdout.contains(&format!("== {log}\nok: ")), "{stdout}");
    }
    assert_eq!(
        stdout.matches("signed by fleet.example/airlock").count(),
        3,
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("all 3 logs ok"), "{stdout}");

    // One edited record in the second log: that log fails, by name; the
    // others are still reported ok.
    let second = std::fs::read_to_string(&logs[1]).unwrap();
    std::fs::write(&logs[1], second.replacen("\"allow\"", "\"deny\"", 1)).unwrap();
    let out = verify(&all, &["--key", &public]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout.matches("\nok: ").count() + usize::from(stdout.starts_with("ok: ")),
        2,
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("FAILED: 1 of 3 logs: {}", logs[1])),
        "{stdout}"
    );

    // A log that is not there is a usage error, named; so are the flags
    // that belong to one log.
    let missing = keys.path().join("nope.jsonl").display().to_string();
    let out = verify(&[all[0], &missing], &["--key", &public]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(&format!("FAILED: 1 of 2 logs: {missing}")));
    // A tampered log and a missing one: the tampering decides the status.
    let out = verify(&[all[1], &missing], &["--key", &public]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("FAILED: 2 of 2 logs"));
    for flag in ["--checkpoints", "--witness"] {
        let out = verify(&[all[0], all[2]], &[flag, "x"]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(
            text(&out.stderr).contains("belong to one log"),
            "{}",
            text(&out.stderr)
        );
    }
    // One log still verifies as before.
    let out = verify(&[all[2]], &["--key", &public]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("=="));
}
