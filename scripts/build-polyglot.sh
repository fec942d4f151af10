#!/usr/bin/env bash
# Build the Python and JavaScript example actions into components.
#
#     scripts/build-polyglot.sh OUT_DIR [NAME...]
#     scripts/build-polyglot.sh --inputs
#
# An example is a directory plugins/NAME with an action.toml and either
# app.py (Python: `WitWorld = action(run)`, built with componentize-py from
# .venv) or component.js (JavaScript: the entry that imports the SDK's
# component.js and exports `run`, built with ComponentizeJS from tools/js).
# Each becomes OUT_DIR/NAME.raw.wasm: a component of the world
# airlock:action/action in sdk/wit, without a manifest; embed action.toml
# with `airlock pack` (or airlock_rules::manifest::section::embed). With
# NAMEs, only those are built. A line on stderr gives each one's size and
# build time.
#
# --inputs prints the files and directories the builds read, one a line,
# for a build script's rerun-if-changed.
#
# The toolchains are the pinned ones scripts/setup.sh installs; this script
# installs nothing, and fails naming scripts/setup.sh when one is missing.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
componentize_py="$root/.venv/bin/componentize-py"
componentize_py_version="0.25.1"
componentize_js="$root/tools/js/node_modules/@bytecodealliance/componentize-js"
world="airlock:action/action"

examples() {
    local dir
    for dir in "$root"/plugins/*/; do
        if [ -f "$dir/action.toml" ] && { [ -f "$dir/app.py" ] || [ -f "$dir/component.js" ]; }; then
            basename "$dir"
        fi
    done
}

if [ "${1:-}" = "--inputs" ]; then
    printf '%s\n' "$root/sdk/wit" "$root/sdk-python/src" "$root/sdk-js/src" \
        "$root/tools/js/package-lock.json" "$root/scripts/build-polyglot.sh"
    for name in $(examples); do
        printf '%s\n' "$root/plugins/$name"
    done
    exit 0
fi

if [ $# -lt 1 ]; then
    echo "usage: $0 OUT_DIR [NAME...] | --inputs" >&2
    exit 2
fi
mkdir -p "$1"
out="$(cd "$1" && pwd)"
shift
if [ $# -eq 0 ]; then
    set -- $(examples)
fi

missing() {
    echo "build-polyglot: $1 is not installed: run scripts/setup.sh" >&2
    exit 1
}

check_python() {
    [ -x "$componentize_py" ] || missing "componentize-py $componentize_py_version (in .venv)"
    local version
    version="$("$componentize_py" --version)"
    [ "$version" = "componentize-py $componentize_py_version" ] ||
        missing "componentize-py $componentize_py_version (.venv has $version)"
}

check_js() {
    command -v node >/dev/null 2>&1 || missing "Node.js"
    local pinned installed
    pinned="$(node -p 'require(process.argv[1]).devDependencies["@bytecodealliance/componentize-js"]' \
        "$root/tools/js/package.json")"
    installed="$(node -p 'require(process.argv[1]).version' "$componentize_js/package.json" 2>/dev/null)" ||
        missing "ComponentizeJS $pinned (in tools/js)"
    [ "$installed" = "$pinned" ] || missing "ComponentizeJS $pinned (tools/js has $installed)"
}

# ComponentizeJS maps the source's directory, or the working directory when
# the source is under it, to `/` while it loads the modules: working from
# the repository lets an example import ../../sdk-js.
cd "$root"
for name in "$@"; do
    dir="plugins/$name"
    target="$out/$name.raw.wasm"
    partial="$target.partial"
    start=$(date +%s%N)
    if [ -f "$dir/app.py" ]; then
        check_python
        "$componentize_py" -q -d sdk/wit -w "$world" componentize app \
            -p "$dir" -p sdk-python/src -o "$partial"
    elif [ -f "$dir/component.js" ]; then
        check_js
        node "$componentize_js/src/cli.js" "$dir/component.js" \
            --wit sdk/wit --world-name "$world" -o "$partial" >/dev/null
    else
        echo "build-polyglot: $dir has no app.py or component.js" >&2
        exit 1
    fi
    mv "$partial" "$target"
    elapsed=$((($(date +%s%N) - start) / 1000000))
    size=$(stat -c %s "$target")
    printf 'build-polyglot: %s.raw.wasm, %d bytes, built in %d.%03d s\n' \
        "$name" "$size" $((elapsed / 1000)) $((elapsed % 1000)) >&2
done
