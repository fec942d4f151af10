#!/bin/sh
# Build target/{{name}}.wasm: componentize-py 0.25.1 compiles app.py, with the
# airlock SDK in airlock_sdk/, against the WIT world in wit/; airlock pack
# embeds action.toml. COMPONENTIZE_PY and AIRLOCK name other binaries.
set -eu
cd "$(dirname "$0")"
mkdir -p target
"${COMPONENTIZE_PY:-componentize-py}" -q -d wit -w airlock:action/action \
    componentize app -p . -o target/{{name}}.raw.wasm
"${AIRLOCK:-airlock}" pack target/{{name}}.raw.wasm --manifest action.toml \
    -o target/{{name}}.wasm
