//! An author's path, as a new author runs it: `airlock new` in Python and
//! JavaScript (the Rust path is docs/authoring.md's session, which
//! cli/tests/docs.rs runs), the one build command, the project's own unit
//! tests (the SDKs off wasm), `airlock test` on the generated cases,
//! `airlock run --dev`, and an approved run; `airlock test`'s stand-ins
//! and failure reports; and the Python and JavaScript SDKs' own tests.
//! The toolchains are the pinned ones `./scripts/setup.sh` installs.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A command in `dir` with the `airlock` of this tree first on PATH and
/// the user's cache left alone.
fn command(dir: &Path, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
    let bin = Path::new(AIRLOCK).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env("AIRLOCK", AIRLOCK)
        .env("AIRLOCK_CACHE_DIR", dir.join(".airlock-cache"))
        .env_remove("AIRLOCK_CONFIG");
    cmd
}

/// Run it; its output, after checking it succeeded.
fn ok(mut cmd: Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

fn tool(path: &str, hint: &str) -> PathBuf {
    let p = root().join(path);
    assert!(p.exists(), "{} is missing: {hint}", p.display());
    p
}

fn python() -> PathBuf {
    tool(".venv/bin/python", "run ./scripts/setup.sh")
}

/// `airlock new NAME --lang LANG` in a scratch directory; the project.
fn new(scratch: &Path, name: &str, lang: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec!["new", name, "--lang", lang];
    args.extend_from_slice(extra);
    let out = ok(command(scratch, AIRLOCK, &args));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("created action `{name}`")),
        "{stdout}"
    );
    let project = scratch.join(name);
    let ignored = std::fs::read_to_string(project.join(".gitignore")).unwrap();
    for line in ["*.key", "airlock.lock", "airlock-audit.*", "/target/"] {
        assert!(
            ignored.lines().any(|l| l == line),
            "{line} not ignored:\n{ignored}"
        );
    }
    project
}

/// What every generated project must then do: pass its generated cases,
/// run as a development run, and run once approved.
fn runs_under_airlock(project: &Path, name: &str, component: &str) {
    let out = ok(command(project, AIRLOCK, &["test", component]));
    let report = text(&out.stdout);
    assert!(report.ends_with("3 passed, 0 failed\n"), "{report}");

    let out = ok(command(
        project,
        AIRLOCK,
        &["run", "--dev", component, "--input", r#"{"name": "Ada"}"#],
    ));
    let output: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output, serde_json::json!({"greeting": "Hello, Ada!"}));

    // To an approved run: the development policy names the action, approve
    // it (a pure action: nothing to warn about), then run it by name.
    let out = ok(command(project, AIRLOCK, &["approve", name, "--yes"]));
    let review = text(&out.stdout);
    assert!(review.contains("\nflags:      none\n"), "{review}");
    assert!(
        review.contains("\n  config:   greeting (a string, default \"Hello\")\n"),
        "{review}"
    );
    let out = ok(command(
        project,
        AIRLOCK,
        &["run", name, "--input", r#"{"name": "Grace"}"#],
    ));
    let output: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output, serde_json::json!({"greeting": "Hello, Grace!"}));
    ok(command(
        project,
        AIRLOCK,
        &["audit", "verify", "airlock-audit.jsonl"],
    ));
}

#[test]
fn a_new_python_action_builds_outside_the_repository_and_runs() {
    let scratch = tempfile::tempdir().unwrap();
    let project = new(scratch.path(), "greet-py", "python", &[]);
    let componentize = tool(".venv/bin/componentize-py", "run ./scripts/setup.sh");
    let mut build = command(&project, "./build.sh", &[]);
    build.env("COMPONENTIZE_PY", componentize);
    ok(build);
    let out = ok(command(&project, python(), &["test_app.py"]));
    assert!(
        text(&out.stderr).contains("Ran 2 tests"),
        "{}",
        text(&out.stderr)
    );
    runs_under_airlock(&project, "greet-py", "target/greet-py.wasm");
}

#[test]
fn a_new_javascript_action_builds_outside_the_repository_and_runs() {
    let scratch = tempfile::tempdir().unwrap();
    let project = new(scratch.path(), "greet-js", "js", &[]);
    let componentize = tool(
        "tools/js/node_modules/@bytecodealliance/componentize-js",
        "run ./scripts/setup.sh",
    );
    let mut build = command(&project, "./build.sh", &[]);
    build.env("COMPONENTIZE_JS", componentize);
    ok(build);
    let out = ok(command(&project, "node", &["--test", "src/"]));
    assert!(
        text(&out.stdout).contains("# pass 2"),
        "{}",
        text(&out.stdout)
    );
    runs_under_airlock(&project, "greet-js", "target/greet-js.wasm");
}

#[test]
fn new_writes_nothing_over_a_project_and_refuses_what_it_cannot_make() {
    let scratch = tempfile::tempdir().unwrap();
    let d = scratch.path();
    std::fs::create_dir(d.join("taken")).unwrap();
    std::fs::write(d.join("taken/notes.txt"), "mine").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["new", "taken", "--lang", "rust"],
            "taken exists and is not empty: nothing was written",
        ),
        (
            &["new", "Bad_Name", "--lang", "js"],
            "is not an action name",
        ),
        (
            &["new", "x", "--lang", "python", "--sdk", "."],
            "--sdk is for Rust projects",
        ),
        (
            &["new", "y", "--lang", "rust", "--sdk", "."],
            "is not a crate directory",
        ),
    ];
    for (args, want) in cases {
        let out = command(d, AIRLOCK, args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(want),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        std::fs::read_to_string(d.join("taken/notes.txt")).unwrap(),
        "mine"
    );
    let left: Vec<_> = std::fs::read_dir(d).unwrap().collect();
    assert_eq!(left.len(), 1, "only `taken` is there");
}

#[test]
fn the_python_and_javascript_sdks_pass_their_own_tests() {
    let out = ok(command(
        &root().join("sdk-python"),
        python(),
        &[
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:asyncio",
            "-p",
            "no:cacheprovider",
        ],
    ));
    assert!(
        text(&out.stdout).contains(" passed"),
        "{}",
        text(&out.stdout)
    );
    let out = ok(command(&root().join("sdk-js"), "node", &["--test"]));
    assert!(
        text(&out.stdout).contains("# fail 0"),
        "{}",
        text(&out.stdout)
    );
}

/// `airlock test` over TLS: the stand-in answers for the declared HTTPS
/// origin with a certificate from the session's authority, the placeholder
/// is filled with the case's test value, and every way a case can fail is
/// reported on a line of its own, with exit status 1.
#[test]
fn airlock_test_stands_in_over_tls_and_reports_each_failure() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest = "[action]\nname = \"probe\"\nversion = \"1.0.0\"\npublisher = \"t\"\n\
                    [capabilities]\nnetwork = [\"https://api.example.com\"]\n\
                    secrets = [{ name = \"TOKEN\", send_to = [\"https://api.example.com\"] }]\n";
    let probe = airlock::rules::manifest::section::embed(
        &std::fs::read(airlock_test_artifacts::PROBE).unwrap(),
        manifest,
    )
    .unwrap();
    std::fs::write(d.join("probe.wasm"), probe).unwrap();
    let call = |url: &str| {
        format!(
            "{{ op = \"http\", method = \"POST\", url = \"{url}\", body = \"{{}}\", \
             headers = [[\"authorization\", \"Bearer {{{{secret:TOKEN}}}}\"]] }}"
        )
    };
    let cases = format!(
        r#"
[[case]]
name = "filled over TLS"
input = {ok}
secrets = {{ TOKEN = "tok-test" }}
hosts = ["https://api.example.com"]
secrets_sent = ["TOKEN"]

[[case.http]]
origin = "https://api.example.com"
method = "POST"
path = "/v1/items?x=1"
json = {{ id = 7 }}
request_contains = ["Bearer tok-test"]

[[case]]
name = "refused elsewhere"
input = {evil}
refused = ["evil.example.net"]
hosts = []

[[case]]
name = "wrong on every count"
input = {wrong}
secrets = {{ TOKEN = "tok-test" }}
output = {{ status = 201 }}
hosts = ["https://other.example.com"]

[[case.http]]
origin = "https://api.example.com"
method = "POST"
path = "/v1/items?x=1"
status = 201
"#,
        ok = call("https://api.example.com/v1/items?x=1"),
        evil = call("https://evil.example.net/"),
        wrong = call("https://api.example.com/v2/other"),
    );
    std::fs::write(d.join("cases.toml"), cases).unwrap();
    let out = command(d, AIRLOCK, &["test", "probe.wasm", "--cases", "cases.toml"])
        .output()
        .unwrap();
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}{}", text(&out.stderr));
    let lines: Vec<&str> = report.lines().collect();
    assert!(lines[0].starts_with("ok    filled over TLS ("), "{report}");
    assert!(
        lines[1].starts_with("ok    refused elsewhere ("),
        "{report}"
    );
    assert!(
        lines[2].starts_with("FAIL  wrong on every count ("),
        "{report}"
    );
    for want in [
        "      output {\"body\":\"no stand-in for this request\"",
        "      contacted {\"https://api.example.com\"}, expected {\"https://other.example.com\"}",
        "      no request POST https://api.example.com/v1/items?x=1",
        "      unexpected request POST https://api.example.com/v2/other (no [[case.http]] stands in for it)",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "no `{want}` in:\n{report}"
        );
    }
    assert_eq!(lines.last(), Some(&"2 passed, 1 failed"), "{report}");
    // The test value never leaves the session: not in the report.
    assert!(!report.contains("tok-test") && !text(&out.stderr).contains("tok-test"));

    // A production policy is not one to test under.
    std::fs::write(d.join("airlock.toml"), "").unwrap();
    let out = command(d, AIRLOCK, &["test", "probe.wasm", "--cases", "cases.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not a development policy"),
        "{}",
        text(&out.stderr)
    );
}

/// `airlock test` reads the files a run wrote from its records, under the
/// development policy's mounts.
#[test]
fn airlock_test_checks_the_files_a_run_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("out")).unwrap();
    std::fs::write(
        d.join("airlock.toml"),
        "[trust]\nallow_dev = true\n\n[mounts.out]\npath = \"out\"\naccess = \"read-write\"\n",
    )
    .unwrap();
    let manifest = "[action]\nname = \"probe\"\nversion = \"1.0.0\"\npublisher = \"t\"\n\
                    [capabilities]\nfiles = [{ mount = \"out\", access = \"read-write\" }]\n";
    let probe = airlock::rules::manifest::section::embed(
        &std::fs::read(airlock_test_artifacts::PROBE).unwrap(),
        manifest,
    )
    .unwrap();
    std::fs::write(d.join("probe.wasm"), probe).unwrap();
    let write = r#"{ op = "write", path = "/out/report.txt", data = "done" }"#;
    std::fs::write(
        d.join("cases.toml"),
        format!(
            "[[case]]\nname = \"writes its report\"\ninput = {write}\n\
             files_written = [\"/out/report.txt\"]\n\n\
             [[case]]\nname = \"said to write nothing\"\ninput = {write}\nfiles_written = []\n"
        ),
    )
    .unwrap();
    let out = command(d, AIRLOCK, &["test", "probe.wasm", "--cases", "cases.toml"])
        .output()
        .unwrap();
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}{}", text(&out.stderr));
    assert!(report.starts_with("ok    writes its report ("), "{report}");
    assert!(
        report.contains("FAIL  said to write nothing (")
            && report.contains("      wrote {\"/out/report.txt\"}, expected {}\n"),
        "{report}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("out/report.txt")).unwrap(),
        "done"
    );
}
