//! An author's path, as a new author runs it: `airlock new` in each
//! language, the one build command, the project's own unit tests (the SDKs
//! off wasm), `airlock test` on the generated cases, `airlock run --dev`,
//! and an approved run. Also the Python and JavaScript SDKs' own tests.
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
fn a_new_rust_action_builds_outside_the_repository_and_runs() {
    let scratch = tempfile::tempdir().unwrap();
    let sdk = root().join("sdk");
    let project = new(
        scratch.path(),
        "greet-rs",
        "rust",
        &["--sdk", sdk.to_str().unwrap()],
    );
    // One target directory for every run of this test, so a second run
    // does not build the SDK's dependencies again.
    let target = root().join("target/authoring");
    let cargo = |args: &[&str]| {
        let mut cmd = command(
            &project,
            std::env::var_os("CARGO").unwrap_or("cargo".into()),
            args,
        );
        cmd.env("CARGO_TARGET_DIR", &target);
        for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
            cmd.env_remove(var);
        }
        cmd
    };
    ok(cargo(&["build", "--release", "--target", "wasm32-wasip2"]));
    // The author's own unit tests run natively: the SDK's host calls are
    // errors there, not aborts.
    let out = ok(cargo(&["test"]));
    assert!(
        text(&out.stdout).contains("test result: ok. 2 passed"),
        "{}",
        text(&out.stdout)
    );
    let component = target.join("wasm32-wasip2/release/greet_rs.wasm");
    let local = project.join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::copy(&component, local.join("greet_rs.wasm")).unwrap();
    runs_under_airlock(
        &project,
        "greet-rs",
        "target/wasm32-wasip2/release/greet_rs.wasm",
    );
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
