#!/usr/bin/env bash
# Files per second for many small files: ONE angou process with --output-dir (files on a
# small thread pool, KMS calls overlapping) against ONE angou PROCESS PER FILE (how sops is
# run over many files). Encrypt, then decrypt; every output is compared with its input.
#
#   scripts/bench-files.sh [FILES] [SIZE_BYTES]          (defaults: 1000 files of 1024 bytes)
#
# Environment:
#   ANGOU=PATH        the binary (default target/release/angou; build it with --release)
#   JOBS="1 4 16"     the -j values tried for the one-process runs (default "4")
#   STORE_DIR=DIR     where the key stores live (default a temp folder on disk; /dev/shm
#                     takes the disk's fsync time out)
#   REMOTE=0          skip part 2 even if the binary has the aws feature
#
# Part 1, local: `--kms KEY` on a local store (every wrap and unwrap is one store operation:
# lock, verify the state and the whole audit log, append, fsyncs; a new store for every run). Part 2, remote: when the binary was built with
# `--features aws`, `angou kms serve` on 127.0.0.1 (a free port) over its own store, an access
# key from `angou kms create-access-key`, and the client sent there through
# AWS_ENDPOINT_URL_KMS with `--kms arn:aws:kms:…` (the client has no local store). Speed is
# never asserted anywhere; this prints a table.
set -euo pipefail

FILES=${1:-1000}
SIZE=${2:-1024}
ANGOU=${ANGOU:-target/release/angou}
JOBS=${JOBS:-4}
[[ -x $ANGOU ]] || { echo "no binary at $ANGOU: cargo build --release [--features aws]" >&2; exit 2; }
ANGOU=$(cd "$(dirname "$ANGOU")" && pwd)/$(basename "$ANGOU")

work=$(mktemp -d "${TMPDIR:-/tmp}/angou-bench-files.XXXXXX")
stores=$(mktemp -d "${STORE_DIR:-$work}/angou-bench-stores.XXXXXX")
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work" "$stores"
}
trap cleanup EXIT
cd "$work"

export ANGOU_STATE_DIR=$stores/marks
unset ANGOU_HOME ANGOU_PASSPHRASE ANGOU_KMS_PASSPHRASE ANGOU_FAKE_NOW ANGOU_KMS_ALLOW

mkdir in
for i in $(seq -w 1 "$FILES"); do head -c "$SIZE" /dev/urandom > "in/f$i"; done

now() { date +%s.%N; }
rate() { awk -v n="$FILES" -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", n / (b - a) }'; }
same() { # every decrypted file equals its input
    diff -r -q in "$1" > /dev/null || { echo "MISMATCH in $1" >&2; exit 1; }
}

echo "angou: $("$ANGOU" --version | head -1); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "files: $FILES x $SIZE bytes; stores in $(df -P "$stores" | awk 'NR==2 { print $1 }')"
printf '%-8s %-28s %12s %12s\n' part mode "encrypt f/s" "decrypt f/s"

# run PART: one process per file, then one process with --output-dir for each -j in JOBS.
# Before each of them the part's "fresh" function sets ENC and DEC (the flags of encrypt and
# decrypt) and may start over with a new store, so that no run pays for the audit log the
# previous one left; every angou call goes through the part's function "a".
run() {
    local part=$1
    rm -rf e1 d1 && mkdir e1 d1
    fresh
    local t0 t1 t2
    t0=$(now)
    for f in in/*; do a encrypt "${ENC[@]}" -o "e1/${f##*/}.age" "$f"; done
    t1=$(now)
    for f in e1/*; do local n=${f##*/}; a decrypt "${DEC[@]}" -o "d1/${n%.age}" "$f"; done
    t2=$(now)
    same d1
    local per_enc per_dec
    per_enc=$(rate "$t0" "$t1"); per_dec=$(rate "$t1" "$t2")
    printf '%-8s %-28s %12s %12s\n' "$part" "one process per file" "$per_enc" "$per_dec"
    for j in $JOBS; do
        rm -rf e2 d2 && mkdir e2 d2
        fresh
        t0=$(now)
        a encrypt "${ENC[@]}" -j "$j" --output-dir e2 in/*
        t1=$(now)
        a decrypt "${DEC[@]}" -j "$j" --output-dir d2 e2/*
        t2=$(now)
        same d2
        local e d
        e=$(rate "$t0" "$t1"); d=$(rate "$t1" "$t2")
        printf '%-8s %-28s %12s %12s   (%s× / %s× one process per file)\n' "$part" \
            "one process, -j $j" "$e" "$d" \
            "$(awk -v x="$e" -v y="$per_enc" 'BEGIN { printf "%.1f", x / y }')" \
            "$(awk -v x="$d" -v y="$per_dec" 'BEGIN { printf "%.1f", x / y }')"
    done
}

# Part 1: a key in the local store, a new store for every run.
round=0
fresh() {
    round=$((round + 1))
    local_home=$stores/local-$round
    "$ANGOU" --home "$local_home" kms init > /dev/null
    local key
    key=$("$ANGOU" --home "$local_home" kms create-key | sed -n 's/.*"Arn": *"\([^"]*\)".*/\1/p' | head -1)
    ENC=(--kms "$key" -c bench=files)
    DEC=(-c bench=files)
}
a() { "$ANGOU" --home "$local_home" "$@"; }
run local

# Part 2: a remote key through `angou kms serve`.
if [[ ${REMOTE:-1} == 0 ]]; then exit 0; fi
probe=$("$ANGOU" kms --endpoint-url http://127.0.0.1:9 list-keys 2>&1 || true)
if [[ $probe == *'without the `aws` feature'* ]]; then
    echo "remote: skipped: $ANGOU was built without the aws feature (cargo build --release --features aws)"
    exit 0
fi
server_home=$stores/server
"$ANGOU" --home "$server_home" kms init > /dev/null
arn=$("$ANGOU" --home "$server_home" kms create-key | sed -n 's/.*"Arn": *"\([^"]*\)".*/\1/p' | head -1)
access=$("$ANGOU" --home "$server_home" kms create-access-key --user bench 2> /dev/null)
key_id=$(sed -n 's/.*"AccessKeyId": *"\([^"]*\)".*/\1/p' <<< "$access")
secret=$(sed -n 's/.*"SecretAccessKey": *"\([^"]*\)".*/\1/p' <<< "$access")
"$ANGOU" --home "$server_home" kms serve --listen 127.0.0.1:0 > serve.out 2> serve.err &
server_pid=$!
for _ in $(seq 100); do [[ -s serve.out ]] && break; sleep 0.1; done
endpoint=$(sed -n 's/.*"Endpoint": *"\([^"]*\)".*/\1/p' serve.out | head -1)
[[ -n $endpoint ]] || { echo "angou kms serve did not start: $(cat serve.err)" >&2; exit 1; }
echo "remote: angou kms serve at $endpoint, key $arn"
a() {
    env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL -u HTTP_PROXY -u HTTPS_PROXY \
        AWS_ACCESS_KEY_ID="$key_id" AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=us-east-1 \
        AWS_ENDPOINT_URL_KMS="$endpoint" AWS_CONFIG_FILE="$work/none" \
        AWS_SHARED_CREDENTIALS_FILE="$work/none" AWS_EC2_METADATA_DISABLED=true \
        "$ANGOU" --home "$work/no-local-store" "$@"
}
# The server keeps its verified state between requests (resident state), so its growing audit
# log costs nothing per request and one server serves every run.
fresh() {
    ENC=(--kms "$arn" -c bench=files)
    DEC=(--kms "$arn" -c bench=files)
}
run remote
