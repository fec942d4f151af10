#!/usr/bin/env bash
# airlock on Temporal: a Temporal dev server, two airlock workers on one
# task queue (each with its own audit log, one checkpoint key, one anchor),
# and a Python workflow that runs two example actions and meets a refusal
# as a typed error; then both logs are verified.
#
#   ./scripts/setup.sh && ./demo/temporal.sh
#
# Everything it writes is under target/demo-temporal/.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "Building airlock, airlock-worker and the example actions"
# The whole workspace, as `cargo test --workspace` builds it, so that one
# build serves both.
cargo build --locked --quiet --workspace
airlock="$PWD/target/debug/airlock"
venv="$PWD/.venv/bin"
demo="$PWD/target/demo-temporal"
rm -rf "$demo" && mkdir -p "$demo"
export AIRLOCK_CACHE_DIR="$demo/cache"
export PYTHONPATH="$PWD/clients/python/src"
mapfile -t built < <(target/debug/airlock-test-artifacts hello release-notes sign-payload)
cp "${built[0]}" "$demo/hello.wasm"
cp "${built[2]}" "$demo/sign-payload.wasm"
cd "$demo"
"$airlock" pack "${built[1]}" --manifest "$OLDPWD/demo/release-notes/1.0.0.toml" -o release-notes.wasm >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

say "A Temporal dev server on loopback (in memory)"
port=$("$venv/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/temporal" server start-dev --headless --ip 127.0.0.1 --port "$port" --log-level error \
    >temporal.log 2>&1 &
pids+=($!)
# wait_for WHAT COMMAND...: up to 60 s for COMMAND to succeed.
wait_for() {
    local what=$1; shift
    for _ in $(seq 120); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
    echo "demo: $what did not come up" >&2; exit 1
}
serving() { "$venv/temporal" operator cluster health --address "127.0.0.1:$port" | grep -q SERVING; }
wait_for "the Temporal dev server" serving
echo "serving on 127.0.0.1:$port"

say "The operator's policy: two actions approved, one checkpoint key and one anchor for every worker"
cat > airlock.toml <<TOML
[actions.hello]
path = "hello.wasm"
require_signature = false      # built in-house

[actions.release-notes]
path = "release-notes.wasm"
require_signature = false

[actions.sign-payload]         # in the policy, never approved
path = "sign-payload.wasm"
require_signature = false

[audit]
path = "audit/airlock-audit.jsonl"   # each worker writes audit/<instance>/airlock-audit.jsonl
key = "audit.key"                    # one signing key: one verifier key for all
anchor_dir = "anchor"                # each worker's checkpoints in anchor/<instance>/
TOML
cat airlock.toml
run "$airlock" audit keygen --name demo.example/airlock --out audit
run "$airlock" approve hello --yes
run "$airlock" approve release-notes --yes

say "Two airlock workers on the task queue 'airlock' (on one machine here; on N machines the same)"
for w in w1 w2; do
    "$airlock" worker --temporal "127.0.0.1:$port" --task-queue airlock --instance "$w" \
        >"worker-$w.log" 2>&1 &
    pids+=($!)
done
for w in w1 w2; do
    wait_for "worker $w (worker-$w.log)" grep -q polling "worker-$w.log"
    cat "worker-$w.log"
done

say "A Python workflow runs hello, then release-notes with hello's output; another meets a refusal"
run "$venv/python" "$OLDPWD/demo/temporal/workflow.py" "127.0.0.1:$port"

say "SIGTERM: each worker stops polling, finishes what it runs, and seals its log"
kill -TERM "${pids[1]}" "${pids[2]}"
wait "${pids[1]}" "${pids[2]}"
tail -n1 worker-w1.log worker-w2.log

say "Audit: both logs verify against the one key; the runs carry Temporal's names"
run "$airlock" audit verify audit/w1/airlock-audit.jsonl audit/w2/airlock-audit.jsonl --key audit.pub
run "$airlock" audit show audit/w1/airlock-audit.jsonl --event run. 
run "$airlock" audit show audit/w2/airlock-audit.jsonl --event run.
echo "The refusal, found by its workflow's id:"
for w in w1 w2; do
    "$airlock" audit show "audit/$w/airlock-audit.jsonl" --context temporal.workflow_id=harvest-1
done
run ls anchor

say "Done. The files are in $demo"
