//! Build the PDK guest (`guest/`) for wasm32-unknown-unknown, as the
//! airlock test artifacts are built: a nested cargo with its own lock and
//! target directory (in `OUT_DIR`), none of the outer build's flags.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let guest = root.join("guest");
    let target_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("guest");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--locked", "--target", "wasm32-unknown-unknown"])
        .arg("--manifest-path")
        .arg(guest.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir);
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo for the guest");
    assert!(
        status.success(),
        "building the Extism guest failed; is the target installed? rustup target add wasm32-unknown-unknown"
    );
    let wasm = target_dir.join("wasm32-unknown-unknown/release/extism_vowels_guest.wasm");
    println!("cargo:rustc-env=EXTISM_VOWELS_WASM={}", wasm.display());
    for path in ["guest/src", "guest/Cargo.toml", "guest/Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
}
