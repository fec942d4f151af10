//! Helpers shared by the command-line tests of the vetting workflow.

#![allow(dead_code, clippy::unwrap_used)]

use airlock_test_artifacts::PROBE;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");

pub fn airlock(dir: &Path, args: &[&str]) -> Output {
    Command::new(AIRLOCK)
        .args(args)
        .current_dir(dir)
        .env_remove("AIRLOCK_CONFIG")
        .env_remove("RUST_LOG")
        // Tests leave the user's compile cache alone.
        .env("AIRLOCK_CACHE_DIR", "off")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Run airlock, assert the exit code, and return stdout and stderr.
#[track_caller]
pub fn expect(dir: &Path, code: i32, args: &[&str]) -> (String, String) {
    let out = airlock(dir, args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "airlock {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// A manifest for the probe guest, version `version`, asking for `network`.
pub fn manifest(version: &str, network: &str) -> String {
    format!(
        "[action]\nname = \"probe\"\nversion = \"{version}\"\npublisher = \"acme\"\n\
         description = \"the test probe\"\n\n[capabilities]\nnetwork = [{network}]\n"
    )
}

/// In `dir`: the probe packed as versions 1.0.0 and 1.1.0 (which adds a
/// host), a publisher key pair, both signed, and a policy trusting the key.
pub fn publisher_setup(dir: &Path) {
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
pub fn deploy(dir: &Path, file: &str) {
    std::fs::copy(dir.join(file), dir.join("probe.wasm")).unwrap();
    std::fs::copy(
        dir.join(format!("{file}.minisig")),
        dir.join("probe.wasm.minisig"),
    )
    .unwrap();
}

/// Put `file` in place as `probe.wasm`, leaving its signature file alone.
pub fn deploy_bytes_only(dir: &Path, file: &str) {
    std::fs::copy(dir.join(file), dir.join("probe.wasm")).unwrap();
}

pub const RUN: &[&str] = &["run", "probe", "--input", r#"{"op": "output", "bytes": 2}"#];
