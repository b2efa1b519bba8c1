#!/usr/bin/env bash
# angou against its peers, in one run on this machine: `openssl speed` for the primitives and
# Debian's `age` for files. Prints ratios (angou / peer; above 1 means angou is faster).
# Usage: scripts/bench-vs-peers.sh [SIZE_MIB]   (file size for the age comparison, default 1024)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIZE_MIB="${1:-1024}"
cargo build --release -q
ANGOU="$PWD/target/release/angou"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "== angou bench --quick (JSON)" >&2
"$ANGOU" bench --quick --json > "$WORK/angou.json"

ossl() { # ossl ARGS... -> the 64 KiB (or op/s) figure of `openssl speed`
    openssl speed -seconds 2 "$@" 2>/dev/null
}
echo "== openssl speed" >&2
ossl -evp aes-256-gcm -bytes 65536 > "$WORK/gcm.txt"
ossl -evp chacha20-poly1305 -bytes 65536 > "$WORK/chacha.txt"
ossl rsa2048 rsa3072 rsa4096 > "$WORK/rsa.txt"
ossl ecdhx25519 > "$WORK/x25519.txt"

age_rows=""
if command -v age >/dev/null 2>&1; then
    echo "== files: ${SIZE_MIB} MiB to /dev/null, angou vs age" >&2
    head -c "$((SIZE_MIB * 1024 * 1024))" /dev/zero > "$WORK/big"
    "$ANGOU" keygen -o "$WORK/id" 2>/dev/null
    R="$("$ANGOU" pubkey -i "$WORK/id")"
    "$ANGOU" encrypt -q -r "$R" -o "$WORK/big.angou" "$WORK/big"
    age -e -r "$R" -o "$WORK/big.age" "$WORK/big"
    t() { local s e; s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
    ae=$(t "$ANGOU" encrypt -q -r "$R" "$WORK/big")
    ge=$(t age -e -r "$R" "$WORK/big")
    ad=$(t "$ANGOU" decrypt -q -i "$WORK/id" "$WORK/big.age")
    gd=$(t age -d -i "$WORK/id" "$WORK/big.age")
    aa=$(t "$ANGOU" encrypt -q --cipher aes-256-gcm -r "$R" "$WORK/big")
    age_rows="$ae $ge $ad $gd $aa"
else
    echo "(age is not installed: skipping the file comparison; apt-get install age)" >&2
fi

python3 - "$WORK" "$SIZE_MIB" "$age_rows" <<'PY'
import json, re, sys
work, size_mib, age_rows = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
a = json.load(open(f"{work}/angou.json"))
def aead(alg):
    return next(r["seal_bytes_per_s"] for r in a["aead"] if r["algorithm"] == alg and r["bytes"] == 65536)
def pk(name, op):
    return next(r["ops_per_s"] for r in a["public_key"] if r["name"] == name and r["operation"] == op)
def ossl_bytes(path):
    # the last column of the "evp" row is in thousands of bytes per second
    for line in open(path):
        if line.lower().startswith(("aes-256-gcm", "chacha20-poly1305")):
            return float(line.split()[-1].rstrip("k")) * 1000
def ossl_rsa(path, bits):
    for line in open(path):
        m = re.match(rf"rsa\s+{bits}\s+bits\s+\S+\s+\S+\s+(\S+)\s+(\S+)", line)
        if m:
            return float(m.group(1)), float(m.group(2))  # sign/s, verify/s
def ossl_x25519(path):
    for line in open(path):
        if "X25519" in line and "op/s" not in line:
            return float(line.split()[-1])
rows = []
g, c = ossl_bytes(f"{work}/gcm.txt"), ossl_bytes(f"{work}/chacha.txt")
rows.append(("AES-256-GCM seal 64 KiB (MB/s)", aead("aes-256-gcm") / 1e6, g / 1e6))
rows.append(("ChaCha20-Poly1305 seal 64 KiB (MB/s)", aead("chacha20-poly1305") / 1e6, c / 1e6))
for bits in (2048, 3072):
    s, v = ossl_rsa(f"{work}/rsa.txt", bits)
    rows.append((f"RSA-{bits} private op (decrypt vs sign)/s", pk(f"rsa-{bits}-oaep-sha256", "decrypt"), s))
    rows.append((f"RSA-{bits} public op (encrypt vs verify)/s", pk(f"rsa-{bits}-oaep-sha256", "encrypt"), v))
x = ossl_x25519(f"{work}/x25519.txt")
if x:
    rows.append(("X25519 (unwrap vs ECDH op)/s", pk("x25519", "unwrap"), x))
print(f"{'measure':<44} {'angou':>12} {'peer':>12} {'ratio':>7}")
for name, mine, peer in rows:
    print(f"{name:<44} {mine:>12.0f} {peer:>12.0f} {mine / peer:>7.2f}")
if age_rows:
    ae, ge, ad, gd, aa = map(float, age_rows)
    print(f"\n{size_mib} MiB to /dev/null (seconds; ratio = age time / angou time)")
    print(f"{'encrypt (chacha20-poly1305)':<44} {ae:>12.2f} {ge:>12.2f} {ge / ae:>7.2f}")
    print(f"{'decrypt':<44} {ad:>12.2f} {gd:>12.2f} {gd / ad:>7.2f}")
    print(f"{'encrypt --cipher aes-256-gcm vs age':<44} {aa:>12.2f} {ge:>12.2f} {ge / aa:>7.2f}")
PY
