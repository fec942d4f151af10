#!/usr/bin/env bash
# The airlock demo, as an operator would do it: vet and pin actions, run
# them, watch airlock refuse what was not granted, and verify the audit log.
#
#   ./demo/run.sh        (needs: rustup target add wasm32-wasip2)
#
# Everything it writes is under target/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "Building airlock and the example actions (plugins/ -> target/plugins/*.wasm)"
cargo build --quiet -p airlock -p airlock-test-artifacts
airlock="$PWD/target/debug/airlock"
demo="$PWD/target/demo"
rm -rf "$demo" && mkdir -p "$demo/release/bin" "$demo/reports"
cp target/plugins/file-digest.wasm target/plugins/sign-payload.wasm "$demo/"
printf '## 1.0.0\n- first release\n' > "$demo/release/CHANGELOG.md"
printf 'pretend binary\n' > "$demo/release/bin/tool"
cd "$demo"

say "Vet: what does file-digest ask for, and what is its digest?"
run "$airlock" inspect file-digest.wasm
digest() { "$airlock" inspect --json "$1" | sed -n 's/^  "digest": "\(.*\)",$/\1/p'; }

say "Approve: pin both actions by digest and grant mounts and a secret (airlock.toml)"
cat > airlock.toml <<TOML
[actions.file-digest]
path = "file-digest.wasm"
digest = "$(digest file-digest.wasm)"

[actions.sign-payload]
path = "sign-payload.wasm"
digest = "$(digest sign-payload.wasm)"

[mounts.source]
path = "release"
access = "read"

[mounts.reports]
path = "reports"
access = "read-write"

[secrets.WEBHOOK_SIGNING_KEY]
env = "DEMO_SIGNING_KEY"
TOML
cat airlock.toml

say "Run: file-digest reads /source and writes its report to /reports (allowed)"
run "$airlock" run file-digest --input '{}'
run cat reports/digests.txt
(cd release && run sha256sum -c ../reports/digests.txt)

say "Run: sign-payload reads its exposed key from the operator's environment (allowed)"
export DEMO_SIGNING_KEY="demo-key-3f8a9c1e77b2"
run "$airlock" run sign-payload --input '{"body": "{\"release\": \"1.0.0\"}"}'

say "Refuse: the operator lowers /reports to read-only; the action's write is refused"
sed -i 's/access = "read-write"/access = "read"/' airlock.toml
set +e
run "$airlock" run file-digest --input '{"report": "again.txt"}'
echo "exit code: $? (1: the action ran and failed, because its write was refused)"
set -e
test ! -e reports/again.txt && echo "reports/again.txt was not written"

say "Refuse: one byte of the vetted component changes; it no longer runs"
cp file-digest.wasm tampered.wasm
printf '\x01' | dd of=tampered.wasm bs=1 seek=$(( $(stat -c %s tampered.wasm) - 2 )) conv=notrunc status=none
set +e
run "$airlock" run tampered.wasm --input '{}'
echo "exit code: $? (3: refused before running)"
set -e

say "Audit: every run, every file opened, every refusal, and no secret value"
grep -o '"event":"[a-z.]*"' airlock-audit.jsonl | sort | uniq -c
echo "refusals recorded:"
grep '"decision":"deny"' airlock-audit.jsonl | sed 's/.*"event":"\([a-z.]*\)".*"reason":"\([^"]*\)".*/  \1: \2/'
if grep -q "$DEMO_SIGNING_KEY" airlock-audit.jsonl; then echo "the key leaked!"; exit 1; fi
echo "the signing key appears nowhere in the log"
run "$airlock" audit verify airlock-audit.jsonl --key airlock-audit.pub --max-gap 10m

say "Prove: hand an auditor one record (the first file write) with its inclusion proof"
seq=$(grep -m1 '"phase":"intent"' airlock-audit.jsonl | sed 's/.*"seq":\([0-9]*\).*/\1/')
run "$airlock" audit prove airlock-audit.jsonl --seq "$seq" --out proof
run "$airlock" audit verify-inclusion --record "proof/record-$seq.json" --proof "proof/proof-$seq.json" \
    --checkpoint "$(ls proof/checkpoint-*)" --key airlock-audit.pub
run "$airlock" audit show airlock-audit.jsonl --decision deny

say "Tamper with the log: change one recorded byte, and verification names the record"
cp airlock-audit.jsonl tampered-audit.jsonl
cp airlock-audit.checkpoints tampered-audit.checkpoints
cp airlock-audit.pub tampered-audit.pub
sed -i '2s/"allow"/"deny"/' tampered-audit.jsonl
set +e
run "$airlock" audit verify tampered-audit.jsonl
echo "exit code: $?"
set -e

say "Done. The files are in $demo"
