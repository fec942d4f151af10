#!/usr/bin/env bash
# The performance suite whose figures bench/NOTES.md records, in one run:
# raw wasmtime, Extism (its own workspace, bench/extism, with its newer
# wasmtime kept out of airlock's build graph), Host::invoke, throughput, the
# cold CLI, audit costs, the network path, and `airlock serve` against
# `wasmtime serve`; then airlock's Temporal worker against a no-op activity
# on a Temporal dev server. Pass --quick for a smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
rustup target add wasm32-unknown-unknown   # the Extism guest (Rust PDK)
# Extism 1.41 links wasmtime 49, which declares Rust 1.96 but builds with 1.95.
cargo build --release --locked --ignore-rust-version --manifest-path bench/extism/Cargo.toml
# The baseline of the serve section: wasmtime's own CLI, 48.x like the
# library (48.0.8 is the newest wasmtime-cli of the line on crates.io),
# installed under target/ ($WASMTIME overrides).
if [ -z "${WASMTIME:-}" ] && [ ! -x target/tools/bin/wasmtime ]; then
    cargo install --locked wasmtime-cli@48.0.8 --root target/tools
fi
cargo bench --locked -p airlock-cli --bench perf -- "$@"
cargo bench --locked -p airlock-worker --bench temporal -- "$@"
