#!/usr/bin/env bash
# What airlock's build, tests and demo need beyond Rust 1.95 itself:
#   - the wasm32-wasip2 target, which the example and test actions are built for;
#   - Debian's `minisign`, which the signature interop tests sign and verify with.
# Safe to run again: it installs only what is missing.
set -euo pipefail

rustup target add wasm32-wasip2

if ! command -v minisign >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: minisign is missing; install it with your package manager (https://jedisct1.github.io/minisign/)" >&2
        exit 1
    fi
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update
    $sudo apt-get install -y minisign
fi
