//! The Python client's own tests (`clients/python/tests`), run with the
//! virtualenv `./scripts/setup.sh` makes, against real `airlock serve`
//! processes of this tree.

#![allow(clippy::unwrap_used)]

use airlock_test_artifacts::{HELLO, PROBE};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");

#[test]
fn the_python_client_passes_its_tests_against_a_real_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run ./scripts/setup.sh, which makes the virtualenv the Python client's \
         tests run in",
        python.display()
    );

    // What every test's server starts from: two approved actions, a token
    // file, TLS files for the server and a client.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(HELLO, d.join("hello.wasm")).unwrap();
    let manifest = "[action]\nname = \"probe\"\nversion = \"1.0.0\"\npublisher = \"t\"\n\
                    [limits]\ntimeout = \"2s\"\n";
    let probe =
        airlock::rules::manifest::section::embed(&std::fs::read(PROBE).unwrap(), manifest).unwrap();
    std::fs::write(d.join("probe.wasm"), probe).unwrap();
    std::fs::write(
        d.join("airlock.toml"),
        "[actions.hello]\npath = \"hello.wasm\"\nrequire_signature = false\n\n\
         [actions.probe]\npath = \"probe.wasm\"\nrequire_signature = false\n",
    )
    .unwrap();
    for name in ["hello", "probe"] {
        let out = Command::new(AIRLOCK)
            .args(["approve", name, "--yes"])
            .current_dir(d)
            .env("AIRLOCK_CACHE_DIR", d.join("cache"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tokens = d.join("tokens");
    std::fs::write(&tokens, "ci-runner 5f2b8c0e9d1a4f7e8b3c6d0a2e4f6a8c\n").unwrap();
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).unwrap();
    let ca = airlock_test_server::TestCa::new(d);
    ca.issue(d, "server", &["localhost"]);
    ca.issue(d, "client", &["engine.example"]);

    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "clients/python/tests",
        ])
        .current_dir(&root)
        .env("AIRLOCK_BIN", AIRLOCK)
        .env("AIRLOCK_TEST_DIR", d)
        .env("PYTHONPATH", root.join("clients/python/src"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("AIRLOCK_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Python client's tests failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every test ran: none skipped, none deselected.
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("9 passed") && !summary.contains("skipped"),
        "{stdout}"
    );
}
