#!/bin/sh
# Build target/{{name}}.wasm: ComponentizeJS 0.23.0 (`npm install` puts it in
# node_modules) compiles src/component.js, with the airlock SDK in sdk/,
# against the WIT world in wit/; airlock pack embeds action.toml.
# COMPONENTIZE_JS (its package directory) and AIRLOCK name other copies.
set -eu
cd "$(dirname "$0")"
mkdir -p target
componentize_js="${COMPONENTIZE_JS:-node_modules/@bytecodealliance/componentize-js}"
node "$componentize_js/src/cli.js" src/component.js --wit wit \
    --world-name airlock:action/action -o target/{{name}}.raw.wasm >/dev/null
"${AIRLOCK:-airlock}" pack target/{{name}}.raw.wasm --manifest action.toml \
    -o target/{{name}}.wasm
