#!/usr/bin/env bash
# Runs the Wycheproof suite (tests/wycheproof.rs) under qemu-user as CPUs that lack the
# features angou's fast paths use, so the fallback code the crates pick at run time is
# checked against the vectors too, not only the paths of the machine running the tests.
#
# Usage: scripts/vectors-on-emulated-cpus.sh [CARGO_TEST_ARGS...]
#   e.g. scripts/vectors-on-emulated-cpus.sh --features aws-lc
# CPUs: qemu64 (SSE2 only: the software AES, GHASH/POLYVAL, ChaCha20 and Poly1305),
# Nehalem (SSE4.2; no AES-NI, PCLMULQDQ or AVX), Haswell (AES-NI, PCLMULQDQ, AVX2; no VAES,
# no AVX-512), Icelake-Server (VAES and VPCLMULQDQ reported; qemu's TCG has no AVX-512).
# Needs qemu-user (apt-get install qemu-user). Called by .ci/run and
# scripts/portability-check.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v qemu-x86_64 >/dev/null || { echo "error: qemu-x86_64 not found; apt-get install qemu-user" >&2; exit 1; }
exe="$(cargo test -q "$@" --test wycheproof --no-run --message-format=json |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "wycheproof":
        print(m["executable"])')"
[ -x "$exe" ] || { echo "error: no wycheproof test binary was built" >&2; exit 1; }
fail=0
for cpu in qemu64 Nehalem Haswell Icelake-Server; do
    log="$(mktemp)"
    # qemu warns once per CPU feature of the model that TCG cannot emulate: not our output.
    if qemu-x86_64 -cpu "$cpu" "$exe" --nocapture > "$log" 2>&1; then
        echo "-cpu $cpu: $(grep -c "valid ok" "$log") suite runs pass, $(grep -o "[0-9]* passed" "$log" | tail -1) tests"
    else
        grep -v "TCG doesn't support requested feature" "$log" >&2
        echo "-cpu $cpu: FAILED" >&2
        fail=1
    fi
    rm -f "$log"
done
exit "$fail"
