#!/usr/bin/env bash
# The airlock demo, as a publisher and an operator would do it: sign
# actions, vet and approve them, run them, watch airlock refuse what was not
# granted or not approved — including an upgrade that quietly adds a host —
# and verify the audit log.
#
#   ./scripts/setup.sh && ./demo/run.sh
#
# Everything it writes is under target/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "Building airlock and the example actions (plugins/)"
# The whole workspace, so that the features match `cargo test --workspace`'s
# and either command reuses the other's build instead of building wasmtime twice.
cargo build --locked --quiet --workspace
airlock="$PWD/target/debug/airlock"
demo="$PWD/target/demo"
rm -rf "$demo" && mkdir -p "$demo/release/bin" "$demo/reports"
# The compile cache too, not the user's.
export AIRLOCK_CACHE_DIR="$demo/cache"
# Where the build left the example actions.
mapfile -t built < <(target/debug/airlock-test-artifacts file-digest sign-payload release-notes)
cp "${built[0]}" "${built[1]}" "$demo/"
cp "${built[2]}" "$demo/release-notes-unpacked.wasm"
cp demo/release-notes/1.0.0.toml demo/release-notes/1.1.0.toml "$demo/"
printf '## 1.0.0\n- first release\n' > "$demo/release/CHANGELOG.md"
printf 'pretend binary\n' > "$demo/release/bin/tool"
cd "$demo"

say "Publish: the publisher makes a signing key and signs both actions (minisign format)"
run "$airlock" keygen --public-key publisher.pub --secret-key publisher.key
run "$airlock" sign file-digest.wasm --secret-key publisher.key
run "$airlock" sign sign-payload.wasm --secret-key publisher.key

say "Vet: what does file-digest ask for, who built it, and what is its digest?"
run "$airlock" inspect file-digest.wasm

say "Configure: the operator trusts the publisher's key, maps mounts and a secret (airlock.toml)"
cat > airlock.toml <<TOML
[publishers.airlock-examples]
keys = ["$(sed -n 2p publisher.pub)"]

[actions.file-digest]
path = "file-digest.wasm"

[actions.sign-payload]
path = "sign-payload.wasm"

[actions.release-notes]
path = "release-notes.wasm"

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

say "Approve: a person reviews each action and records it in airlock.lock"
run "$airlock" approve file-digest --yes
run "$airlock" approve sign-payload --yes
cat airlock.lock

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

say "Upgrade, part 1: release-notes 1.0.0 is packed, signed, approved, and runs"
run "$airlock" pack release-notes-unpacked.wasm --manifest 1.0.0.toml -o release-notes.wasm
run "$airlock" sign release-notes.wasm --secret-key publisher.key
run "$airlock" approve release-notes --yes
notes='{"project": "airlock", "version": "1.0.0", "changes": ["first release"]}'
run "$airlock" run release-notes --input "$notes"

say "Upgrade, part 2: version 1.1.0 of the same action adds a host; it is signed, but not approved"
run "$airlock" pack release-notes-unpacked.wasm --manifest 1.1.0.toml -o release-notes.wasm
run "$airlock" sign release-notes.wasm --secret-key publisher.key
set +e
run "$airlock" run release-notes --input "$notes"
echo "exit code: $? (3: refused before running, as capability drift)"
run "$airlock" diff release-notes release-notes.wasm
echo "exit code: $? (1: the new version asks for more)"
set -e

say "Upgrade, part 3: a person reviews the difference and approves it; now it runs"
cp airlock.lock airlock.lock.before
run "$airlock" approve release-notes --yes
echo "The lock's change, as a reviewer sees it in version control:"
diff -u airlock.lock.before airlock.lock || true
run "$airlock" run release-notes --input '{"project": "airlock", "version": "1.1.0", "changes": ["faster digests"]}'

say "Audit: every run, every file opened, every refusal, and no secret value"
grep -o '"event":"[a-z.]*"' airlock-audit.jsonl | sort | uniq -c
echo "refusals recorded:"
run "$airlock" audit show airlock-audit.jsonl --decision deny
if grep -q "$DEMO_SIGNING_KEY" airlock-audit.jsonl; then echo "the key leaked!"; exit 1; fi
echo "the signing key appears nowhere in the log"
run "$airlock" audit verify airlock-audit.jsonl --key airlock-audit.pub --max-gap 10m
echo "who approved what, and what changed: the log of approvals"
run "$airlock" audit show approvals/airlock-audit.jsonl --event approval
run "$airlock" audit verify approvals/airlock-audit.jsonl

say "Prove: hand an auditor one record (the first file write) with its inclusion proof"
seq=$(grep -m1 '"phase":"intent"' airlock-audit.jsonl | sed 's/.*"seq":\([0-9]*\).*/\1/')
run "$airlock" audit prove airlock-audit.jsonl --seq "$seq" --out proof
run "$airlock" audit verify-inclusion --record "proof/record-$seq.json" --proof "proof/proof-$seq.json" \
    --checkpoint "$(ls proof/checkpoint-*)" --key airlock-audit.pub

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
