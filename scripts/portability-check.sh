#!/usr/bin/env bash
# Runs angou on emulated CPUs that lack the features its fast paths use, to show that a
# build works without them (runtime detection, no -C target-cpu): `qemu64` (SSE2 only: no
# AES-NI, PCLMULQDQ, AVX, AVX2 or AVX-512), `Nehalem` (SSE4.2, no AES-NI or AVX), `Haswell`
# (AES-NI, PCLMULQDQ, AVX2; no VAES, no AVX-512) and `Icelake-Server` (reports VAES and
# VPCLMULQDQ; qemu's TCG has no AVX-512, so it runs as an AVX2 CPU with VAES, like the project
# machine). No CPU here, emulated or real, runs the AVX-512 paths: see docs/PERFORMANCE.md.
# For each build (default; with ANGOU_NO_AWS_LC unset also --features aws-lc) and each CPU:
# keygen, encrypt 3 MB with both payload ciphers to an X25519 and an openssl RSA key,
# decrypt with each, compare, and decrypt once more natively. Then the Wycheproof suite on
# the same CPUs (scripts/vectors-on-emulated-cpus.sh), for each build.
# Needs qemu-user (apt-get install qemu-user) and openssl. Not part of CI (it takes minutes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v qemu-x86_64 >/dev/null || { echo "error: qemu-x86_64 not found; apt-get install qemu-user" >&2; exit 1; }
cargo build --release -q
BUILDS=("$PWD/target/release/angou")
NAMES=(default)
if [ "${ANGOU_NO_AWS_LC:-0}" != 1 ]; then
    cargo build --release -q --features aws-lc --target-dir target/aws-lc
    BUILDS+=("$PWD/target/aws-lc/release/angou")
    NAMES+=(aws-lc)
fi
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/rsa.pem" 2>/dev/null
openssl pkey -in "$W/rsa.pem" -pubout -out "$W/rsa.pub"
head -c 3000000 /dev/urandom > "$W/plain"
# qemu warns once per CPU feature of the model that TCG cannot emulate; drop only those lines.
emu() {
    local cpu="$1"
    shift
    qemu-x86_64 -cpu "$cpu" "$@" 2> >(grep -v "TCG doesn't support requested feature" >&2)
}
fail=0
for i in "${!BUILDS[@]}"; do
    exe="${BUILDS[$i]}"
    for cpu in qemu64 Nehalem Haswell Icelake-Server; do
        d="$(mktemp -d -p "$W")"
        q=(emu "$cpu" "$exe")
        "${q[@]}" keygen -o "$d/id" 2>/dev/null
        r="$("${q[@]}" pubkey -i "$d/id")"
        ok=yes
        for c in chacha20-poly1305 aes-256-gcm; do
            "${q[@]}" encrypt -q --cipher "$c" -r "$r" -r "$W/rsa.pub" -o "$d/ct.$c" "$W/plain" &&
                "${q[@]}" decrypt -q -i "$d/id" -o "$d/x.$c" "$d/ct.$c" && cmp -s "$d/x.$c" "$W/plain" &&
                "${q[@]}" decrypt -q -i "$W/rsa.pem" -o "$d/r.$c" "$d/ct.$c" && cmp -s "$d/r.$c" "$W/plain" &&
                "$exe" decrypt -q -i "$d/id" "$d/ct.$c" | cmp -s - "$W/plain" || ok=no
        done
        echo "build ${NAMES[$i]} on -cpu $cpu: round trips $ok"
        [ "$ok" = yes ] || fail=1
    done
done
echo "== the Wycheproof suite on the same emulated CPUs"
scripts/vectors-on-emulated-cpus.sh || fail=1
if [ "${ANGOU_NO_AWS_LC:-0}" != 1 ]; then
    scripts/vectors-on-emulated-cpus.sh --features aws-lc || fail=1
fi
exit "$fail"
