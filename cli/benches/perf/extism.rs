//! Extism's rows, from its own benchmark binary (`bench/extism`, built
//! against Extism's newer wasmtime in a workspace of its own), run as a
//! child process during this run.

use crate::stats::Report;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Where `cargo build --release` in `bench/extism` leaves the binary, or
/// `AIRLOCK_BENCH_EXTISM`.
fn binary() -> PathBuf {
    std::env::var_os("AIRLOCK_BENCH_EXTISM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../bench/extism/target/release/extism-vowels")
        })
}

/// Run the Extism benchmark with `n` calls per row and add its rows;
/// returns its reused-plugin median, or `None` if it is not built.
pub fn measure(report: &mut Report, n: usize) -> Option<Duration> {
    let bin = binary();
    if !bin.is_file() {
        eprintln!(
            "  Extism: {} not found; build it with ./scripts/bench.sh, or `cargo build --release --ignore-rust-version --manifest-path bench/extism/Cargo.toml`",
            bin.display()
        );
        return None;
    }
    let out = Command::new(&bin)
        .args(["--calls", &n.to_string(), "--machine"])
        .output()
        .expect("run the Extism benchmark");
    assert!(
        out.status.success(),
        "{} failed: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut reused = None;
    // Lines of `case<TAB>nanoseconds`.
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((case, ns)) = line.split_once('\t') else {
            continue;
        };
        let Ok(ns) = ns.trim().parse::<u64>() else {
            continue;
        };
        let d = report.time("Extism 1.41", case.to_owned(), Duration::from_nanos(ns));
        if case.starts_with("one plugin reused") {
            reused = Some(d);
        }
    }
    reused
}
