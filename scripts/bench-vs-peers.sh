#!/usr/bin/env bash
# angou against its peers, in one run on this machine: `openssl speed` for the primitives and
# Debian's `age` for files. Prints ratios (above 1 means angou is faster).
#
# Usage: scripts/bench-vs-peers.sh [SIZE_MIB] [ROUNDS]
#   SIZE_MIB  file size for the age comparison (default 1024)
#   ROUNDS    rounds of the file comparison, interleaved; medians are reported (default 3)
# Set ANGOU_NO_AWS_LC=1 to skip the aws-lc build (it needs a C compiler; ~1 min to build).
#
# Builds: target/release/angou (default, pure Rust) and, unless skipped,
# target/aws-lc/release/angou (`--features aws-lc`). The primitives table comes from one
# `angou bench --quick --json` of the aws-lc build, which measures both backends in one
# process; openssl runs right after it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIZE_MIB="${1:-1024}"
ROUNDS="${2:-3}"
echo "== building (release)" >&2
cargo build --release -q
BUILDS="default=$PWD/target/release/angou"
BENCH_BIN="$PWD/target/release/angou"
if [ "${ANGOU_NO_AWS_LC:-0}" != 1 ]; then
    cargo build --release -q --features aws-lc --target-dir target/aws-lc
    BUILDS="$BUILDS aws-lc=$PWD/target/aws-lc/release/angou"
    BENCH_BIN="$PWD/target/aws-lc/release/angou"
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Two interleaved rounds of each side; the best of each is compared (machine speed drifts).
ossl() { openssl speed -seconds 2 "$@" 2>/dev/null; }
for round in 1 2; do
    echo "== openssl speed (round $round)" >&2
    ossl -evp aes-256-gcm -bytes 65536 > "$WORK/gcm.$round.txt"
    ossl -evp chacha20-poly1305 -bytes 65536 > "$WORK/chacha.$round.txt"
    ossl rsa2048 rsa3072 > "$WORK/rsa.$round.txt"
    ossl ecdhx25519 > "$WORK/x25519.$round.txt"
    echo "== angou bench --quick --json ($BENCH_BIN, round $round)" >&2
    "$BENCH_BIN" bench --quick --json --algorithm aes-256-gcm --algorithm chacha20-poly1305 \
        > "$WORK/angou.$round.json"
done

if command -v age >/dev/null 2>&1; then
    echo "== files: ${SIZE_MIB} MiB to /dev/null, angou vs age, $ROUNDS rounds" >&2
    head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$WORK/big"
    head -c "$((1024 * 1024))" /dev/urandom > "$WORK/small"
    HAVE_AGE=1
else
    echo "(age is not installed: skipping the file comparison; apt-get install age)" >&2
    HAVE_AGE=0
fi

python3 - "$WORK" "$SIZE_MIB" "$ROUNDS" "$HAVE_AGE" $BUILDS <<'PY'
import json, os, re, statistics, subprocess, sys, time

work, size_mib, rounds, have_age = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
builds = dict(b.split("=", 1) for b in sys.argv[5:])
runs = [json.load(open(f"{work}/angou.{r}.json")) for r in (1, 2)]
assert all(a["version"] == 2 for a in runs), "unexpected angou bench --json version"
backends = sorted({r["backend"] for r in runs[0]["aead"]}, key=lambda b: b != "rustcrypto")

def best(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None
def aead(alg, backend):
    return best(next((r["seal_bytes_per_s"] for r in a["aead"]
                      if r["algorithm"] == alg and r["bytes"] == 65536 and r["backend"] == backend), None)
                for a in runs)
def pk(name, op, backend):
    return best(next((r["ops_per_s"] for r in a["public_key"]
                      if r["name"] == name and r["operation"] == op and r["backend"] == backend), None)
                for a in runs)
def ossl_bytes(kind):
    # the last column of the evp row is in thousands of bytes per second
    def one(path):
        for line in open(path):
            if line.lower().startswith(("aes-256-gcm", "chacha20-poly1305")):
                return float(line.split()[-1].rstrip("k")) * 1000
    return best(one(f"{work}/{kind}.{r}.txt") for r in (1, 2))
def ossl_rsa(bits):
    def one(path):
        for line in open(path):
            m = re.match(rf"rsa\s+{bits}\s+bits\s+\S+\s+\S+\s+(\S+)\s+(\S+)", line)
            if m:
                return float(m.group(1)), float(m.group(2))  # sign/s, verify/s
    pairs = [one(f"{work}/rsa.{r}.txt") for r in (1, 2)]
    return best(p[0] for p in pairs if p), best(p[1] for p in pairs if p)
def ossl_x25519():
    def one(path):
        for line in open(path):
            if "X25519" in line and "op/s" not in line:
                return float(line.split()[-1])
    return best(one(f"{work}/x25519.{r}.txt") for r in (1, 2))

rows = []
g, c = ossl_bytes("gcm"), ossl_bytes("chacha")
for b in backends:
    rows.append((f"AES-256-GCM seal 64 KiB MB/s [{b}]", aead("aes-256-gcm", b), g, 1e6))
for b in backends:
    rows.append((f"ChaCha20-Poly1305 seal 64 KiB MB/s [{b}]", aead("chacha20-poly1305", b), c, 1e6))
for bits in (2048, 3072):
    s, v = ossl_rsa(bits)
    for b in backends:
        rows.append((f"RSA-{bits} decrypt/s vs sign/s [{b}]", pk(f"rsa-{bits}-oaep-sha256", "decrypt", b), s, 1))
    for b in backends:
        rows.append((f"RSA-{bits} encrypt/s vs verify/s [{b}]", pk(f"rsa-{bits}-oaep-sha256", "encrypt", b), v, 1))
x = ossl_x25519()
if x:
    rows.append(("X25519 unwrap/s vs ECDH/s [rustcrypto]", pk("x25519", "unwrap", "rustcrypto"), x, 1))
print(f"{'primitive, best of 2 (angou vs openssl speed)':<46} {'angou':>10} {'openssl':>10} {'ratio':>7}")
for name, mine, peer, unit in rows:
    if mine is None or peer is None:
        continue
    print(f"{name:<46} {mine / unit:>10.0f} {peer / unit:>10.0f} {mine / peer:>7.2f}")

if not have_age:
    sys.exit(0)

def run(cmd, stdin_path):
    """(wall seconds, CPU seconds: user + system) of cmd, stdin from a file, stdout to /dev/null."""
    with open(stdin_path, "rb") as fin, open(os.devnull, "wb") as fout:
        t = time.perf_counter()
        child = subprocess.Popen(cmd, stdin=fin, stdout=fout)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - t
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise subprocess.CalledProcessError(child.returncode, cmd)
        return wall, usage.ru_utime + usage.ru_stime

def peak_rss(cmd, stdin_path):
    """Peak RSS in KiB, from GNU time (the child's own, not counting this Python process)."""
    with open(stdin_path, "rb") as fin, open(os.devnull, "wb") as fout:
        r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], stdin=fin, stdout=fout,
                           stderr=subprocess.PIPE, text=True, check=True)
    return int(r.stderr.strip().splitlines()[-1])

first = next(iter(builds.values()))
subprocess.run([first, "keygen", "-o", f"{work}/id"], check=True, stderr=subprocess.DEVNULL)
rcpt = subprocess.run([first, "pubkey", "-i", f"{work}/id"], check=True, capture_output=True, text=True).stdout.strip()
for f in ("big", "small"):
    subprocess.run(["age", "-e", "-r", rcpt, "-o", f"{work}/{f}.age", f"{work}/{f}"], check=True)

cases = {"age encrypt": (["age", "-e", "-r", rcpt], "big"),
         "age decrypt": (["age", "-d", "-i", f"{work}/id"], "big.age")}
for name, exe in builds.items():
    cases[f"angou[{name}] encrypt"] = ([exe, "encrypt", "-q", "-r", rcpt], "big")
    cases[f"angou[{name}] encrypt --cipher aes-256-gcm"] = ([exe, "encrypt", "-q", "--cipher", "aes-256-gcm", "-r", rcpt], "big")
    cases[f"angou[{name}] decrypt"] = ([exe, "decrypt", "-q", "-i", f"{work}/id"], "big.age")
times = {k: [] for k in cases}
cpus = {k: [] for k in cases}
for _ in range(rounds):
    for k, (cmd, f) in cases.items():
        wall, cpu = run(cmd, f"{work}/{f}")
        times[k].append(wall)
        cpus[k].append(cpu)
med = {k: statistics.median(v) for k, v in times.items()}
med_cpu = {k: statistics.median(v) for k, v in cpus.items()}
cores = os.cpu_count() or 1
print(f"\n{size_mib} MiB to /dev/null, median of {rounds} (ratio = age time / angou time; target >= 2)")
print(f"ceiling = the ratio angou would reach if its CPU time (user + system) were spread perfectly "
      f"over all {cores} cores: age seconds / (angou CPU seconds / {cores})")
print(f"{'run':<46} {'seconds':>10} {'CPU s':>7} {'age':>10} {'age CPU':>8} {'ratio':>7} {'ceiling':>8}")
for k in cases:
    if k.startswith("age"):
        continue
    peer_key = "age decrypt" if k.endswith("decrypt") else "age encrypt"
    peer = med[peer_key]
    print(f"{k:<46} {med[k]:>10.2f} {med_cpu[k]:>7.2f} {peer:>10.2f} {med_cpu[peer_key]:>8.2f} "
          f"{peer / med[k]:>7.2f} {peer / (med_cpu[k] / cores):>8.2f}")

if not os.access("/usr/bin/time", os.X_OK):
    print("\n(peak RSS skipped: /usr/bin/time not found; apt-get install time)")
    sys.exit(0)
print(f"\npeak RSS, {size_mib} MiB vs 1 MiB (KiB; target: within 2048 KiB)")
for name, exe in builds.items():
    for op, cmd, f in (("encrypt", [exe, "encrypt", "-q", "-r", rcpt], ""), ("decrypt", [exe, "decrypt", "-q", "-i", f"{work}/id"], ".age")):
        big = peak_rss(cmd, f"{work}/big{f}")
        small = peak_rss(cmd, f"{work}/small{f}")
        print(f"angou[{name}] {op:<8} {big:>8} vs {small:>8}  difference {big - small:>6}")
PY
