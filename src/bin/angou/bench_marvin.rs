//! `angou bench marvin`: a timing study of RSA-OAEP decryption, in the Marvin attack's way
//! (RUSTSEC-2023-0071; Kario, "Everlasting ROBOT: the Marvin Attack", 2023). A study, not a
//! test: it prints what it measured and the statistics; docs/MARVIN.md says how to read them.
//!
//! It builds ciphertext classes with the public key and raw RSA (`m^e mod n` for a chosen
//! encoded message `m`): valid OAEP-SHA-256, and the invalid kinds a padding oracle feeds on.
//! Each round sends one ciphertext of every class in a fresh random order, so drift on a busy
//! machine falls on every class alike and the samples of one round are paired. It measures
//! signed `Decrypt` requests to a real `angou kms serve` on loopback, and separately the
//! in-process decryption on every backend of this build, then tests every pair of classes:
//! Welch's t, Mann-Whitney U, Kolmogorov-Smirnov, the sign and Wilcoxon signed-rank tests on
//! the paired differences, the box test on low quantiles, and the 95% confidence interval of
//! the median paired difference (the smallest difference the run could have seen).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use angou::Backend;
use angou::kms::http::sigv4::{self, Credentials};
use angou::pk::rsa::PrivateKey;
use angou::secret::SecretAccessKey;
use base64ct::{Base64, Encoding};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::bench_kms::{self, Client};
use crate::failure::Failure;

#[derive(Debug, clap::Args)]
pub struct MarvinBenchArgs {
    /// RSA modulus size: 2048 or 3072
    #[arg(long, default_value_t = 2048, value_name = "BITS")]
    pub bits: usize,
    /// Rounds over the server; each sends one ciphertext of every class, in random order
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub rounds: usize,
    /// Rounds in process (no HTTP), per backend of this build (default: as --rounds)
    #[arg(long = "in-process-rounds", value_name = "N")]
    pub in_process_rounds: Option<usize>,
    /// Distinct ciphertexts per class, used in turn
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub pool: usize,
    /// Backends to measure in process (repeatable; default: every one in this build)
    #[arg(long = "backend", value_name = "B")]
    pub backends: Vec<Backend>,
    /// Do not measure over the server
    #[arg(long = "no-server")]
    pub no_server: bool,
    /// Do not measure in process
    #[arg(long = "no-in-process")]
    pub no_in_process: bool,
    /// The angou program that serves (default: this one), e.g. a build with another backend
    #[arg(long, value_name = "PATH")]
    pub server: Option<PathBuf>,
    /// Where the temporary store goes (default: the system's temporary folder)
    #[arg(long = "store-dir", value_name = "DIR")]
    pub store_dir: Option<PathBuf>,
    /// Also write the raw samples here: one folder per measurement with timing.csv (a column
    /// per class, a row per round, seconds), the format tlsfuzzer's analysis.py reads
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print JSON instead of tables
    #[arg(long)]
    pub json: bool,
}

const HASH_LEN: usize = 32;

/// A kind of ciphertext; what its encoded message `m = c^d mod n` looks like.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Well-formed OAEP-SHA-256 with an empty label and a 32-byte message.
    Valid,
    /// Well formed but for the first octet, 0x01 (Manger's oracle: "is Y zero?").
    FirstByteNonzero,
    /// First octet zero, the label hash in DB wrong by one bit.
    WrongLabelHash,
    /// First octet zero, right label hash, DB all zero after it: no 0x01 separator.
    NoSeparator,
    /// First octet zero, right label hash, 0x02 where the 0x01 separator goes.
    BadSeparator,
    /// A random integer below n (the first octet is almost never zero).
    Random,
    /// m below 2^(8(k-8)): eight leading zero octets, then random (invalid), for big-integer
    /// code whose time follows the size of the number.
    LeadingZeros,
}

const CLASSES: [Class; 7] = [
    Class::Valid,
    Class::FirstByteNonzero,
    Class::WrongLabelHash,
    Class::NoSeparator,
    Class::BadSeparator,
    Class::Random,
    Class::LeadingZeros,
];

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Valid => "valid",
            Class::FirstByteNonzero => "first_byte_nonzero",
            Class::WrongLabelHash => "wrong_label_hash",
            Class::NoSeparator => "no_separator",
            Class::BadSeparator => "bad_separator",
            Class::Random => "random",
            Class::LeadingZeros => "leading_zeros",
        }
    }
}

/// splitmix64 seeded from the OS: the order of classes and the filler bytes. Not a secret.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        Rng(u64::from_le_bytes(b))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn fill(&mut self, b: &mut [u8]) {
        for x in b {
            *x = self.next() as u8;
        }
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// MGF1 with SHA-256 (RFC 8017 §B.2.1), XORed into `out`.
fn mgf1_xor(seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in out.chunks_mut(HASH_LEN).enumerate() {
        let mut h = Sha256::new();
        h.update(seed);
        h.update((counter as u32).to_be_bytes());
        for (o, m) in chunk.iter_mut().zip(h.finalize().iter()) {
            *o ^= m;
        }
    }
}

/// The encoded message of `class` for a `k`-byte modulus whose first octet is `n0`.
fn encoded(class: Class, k: usize, n0: u8, rng: &mut Rng) -> Vec<u8> {
    let mut em = vec![0u8; k];
    match class {
        Class::Random => {
            rng.fill(&mut em);
            em[0] %= n0; // below n
            return em;
        }
        Class::LeadingZeros => {
            rng.fill(&mut em[8..]);
            return em;
        }
        _ => {}
    }
    // DB = lHash || PS || 0x01 || M (RFC 8017 §7.1.1 step 2)
    let db_len = k - HASH_LEN - 1;
    let mut db = vec![0u8; db_len];
    db[..HASH_LEN].copy_from_slice(&Sha256::digest(b""));
    let msg_len = 32;
    let sep = db_len - msg_len - 1;
    match class {
        Class::NoSeparator => {}
        Class::BadSeparator => {
            db[sep] = 0x02;
            rng.fill(&mut db[sep + 1..]);
        }
        _ => {
            db[sep] = 0x01;
            rng.fill(&mut db[sep + 1..]);
        }
    }
    if class == Class::WrongLabelHash {
        db[0] ^= 0x01;
    }
    let mut seed = [0u8; HASH_LEN];
    rng.fill(&mut seed);
    mgf1_xor(&seed, &mut db);
    mgf1_xor(&db, &mut seed);
    em[1..1 + HASH_LEN].copy_from_slice(&seed);
    em[1 + HASH_LEN..].copy_from_slice(&db);
    if class == Class::FirstByteNonzero {
        em[0] = 0x01;
    }
    em
}

/// `em^e mod n` as `k` bytes: the ciphertext whose decryption is `em`.
fn raw_encrypt(key: &rsa::PublicKey, em: &[u8]) -> Result<Vec<u8>, Failure> {
    let bad = || Failure::new("bench: raw rsa failed on a chosen message");
    let m = rsa::BoxedUint::from_be_slice(em, key.n_bits_precision()).map_err(|_| bad())?;
    // Square-and-multiply over the public exponent's bits (public data: variable time is fine).
    let mut c: Option<rsa::BoxedUint> = None;
    for byte in key.e().to_be_bytes().iter() {
        for bit in (0..8).rev() {
            c = c.map(|x| x.mul_mod(&x, key.n()));
            if byte >> bit & 1 == 1 {
                c = Some(match c {
                    Some(x) => x.mul_mod(&m, key.n()),
                    None => m.clone(),
                });
            }
        }
    }
    let c = c.ok_or_else(bad)?;
    let bytes = c.to_be_bytes();
    let k = key.size();
    if bytes.len() < k || bytes[..bytes.len() - k].iter().any(|b| *b != 0) {
        return Err(bad());
    }
    Ok(bytes[bytes.len() - k..].to_vec())
}

/// `pool` ciphertexts of every class, in [`CLASSES`] order.
fn ciphertexts(spki_der: &[u8], pool: usize) -> Result<Vec<Vec<Vec<u8>>>, Failure> {
    let key = rsa::PublicKey::from_public_key_der(spki_der)
        .map_err(|e| Failure::new(format!("bench: the public key does not parse: {e}")))?;
    let k = key.size();
    let n0 = key.n().to_be_bytes()[key.n().to_be_bytes().len() - k];
    let mut rng = Rng::new();
    CLASSES
        .iter()
        .map(|c| {
            (0..pool)
                .map(|_| raw_encrypt(&key, &encoded(*c, k, n0, &mut rng)))
                .collect()
        })
        .collect()
}

/// Runs `rounds` rounds of every class in random order; `time(class, i)` measures one
/// decryption and says whether it succeeded. Returns the samples (ns) per class in round order
/// and, per class, how many decryptions succeeded.
fn rounds(
    rounds: usize,
    pool: usize,
    quiet: bool,
    what: &str,
    mut time: impl FnMut(usize, usize) -> Result<(u64, bool), Failure>,
) -> Result<(Vec<Vec<u64>>, Vec<usize>), Failure> {
    let mut rng = Rng::new();
    let mut samples = vec![Vec::with_capacity(rounds); CLASSES.len()];
    let mut ok = vec![0usize; CLASSES.len()];
    let mut order: Vec<usize> = (0..CLASSES.len()).collect();
    // Warm-up: caches, branch predictors, the server's first connection.
    for c in 0..CLASSES.len() {
        for i in 0..pool.min(16) {
            time(c, i)?;
        }
    }
    let start = Instant::now();
    let mut last = Instant::now();
    for r in 0..rounds {
        rng.shuffle(&mut order);
        for &c in &order {
            let (ns, good) = time(c, r % pool)?;
            samples[c].push(ns);
            ok[c] += usize::from(good);
        }
        if !quiet && last.elapsed() > Duration::from_secs(10) {
            last = Instant::now();
            let done = (r + 1) as f64 / rounds as f64;
            let left = start.elapsed().as_secs_f64() * (1.0 - done) / done;
            eprintln!(
                "  {what}: {}/{rounds} rounds, about {left:.0} s left",
                r + 1
            );
        }
    }
    Ok((samples, ok))
}

// ---- statistics ----------------------------------------------------------------------

/// The complementary error function (Numerical Recipes' erfcc; relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Two-sided p-value of a standard normal statistic.
fn p_normal(z: f64) -> f64 {
    if !z.is_finite() {
        return if z.is_nan() { 1.0 } else { 0.0 };
    }
    erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (n - 1.0);
    (m, v)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - pos.floor())
}

/// Average ranks (1-based) of `v`, and the tie term Σ(t³ - t).
fn ranks(v: &[f64]) -> (Vec<f64>, f64) {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|a, b| v[*a].total_cmp(&v[*b]));
    let mut r = vec![0.0; v.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    (r, ties)
}

/// Welch's t-test (large samples: the t distribution is taken as normal).
fn welch(a: &[f64], b: &[f64]) -> (f64, f64, f64) {
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    let se = (va / a.len() as f64 + vb / b.len() as f64).sqrt();
    let d = ma - mb;
    (d, 1.96 * se, p_normal(d / se))
}

fn mann_whitney(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let all: Vec<f64> = a.iter().chain(b).copied().collect();
    let (r, ties) = ranks(&all);
    let r1: f64 = r[..a.len()].iter().sum();
    let u = r1 - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    p_normal((u - n1 * n2 / 2.0) / var.sqrt())
}

fn kolmogorov_smirnov(sa: &[f64], sb: &[f64]) -> (f64, f64) {
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    let (na, nb) = (sa.len() as f64, sb.len() as f64);
    while i < sa.len() && j < sb.len() {
        let x = sa[i].min(sb[j]);
        while i < sa.len() && sa[i] <= x {
            i += 1;
        }
        while j < sb.len() && sb[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    let ne = (na * nb / (na + nb)).sqrt();
    let lambda = (ne + 0.12 + 0.11 / ne) * d;
    let mut p = 0.0;
    for k in 1..=100 {
        let k = f64::from(k);
        let term = 2.0 * (-1f64).powf(k - 1.0) * (-2.0 * k * k * lambda * lambda).exp();
        p += term;
        if term.abs() < 1e-12 {
            break;
        }
    }
    (d, p.clamp(0.0, 1.0))
}

/// The sign test and the Wilcoxon signed-rank test on paired differences `d`, and the
/// distribution-free 95% confidence interval of their median (order statistics of the sign
/// test).
fn paired(d: &[f64]) -> (f64, f64, f64, f64, f64) {
    let nz: Vec<f64> = d.iter().copied().filter(|x| *x != 0.0).collect();
    let n = nz.len() as f64;
    let pos = nz.iter().filter(|x| **x > 0.0).count() as f64;
    let p_sign = p_normal((pos - n / 2.0) / (n / 4.0).sqrt());
    let abs: Vec<f64> = nz.iter().map(|x| x.abs()).collect();
    let (r, ties) = ranks(&abs);
    let w: f64 = r
        .iter()
        .zip(&nz)
        .filter(|(_, x)| **x > 0.0)
        .map(|(r, _)| r)
        .sum();
    let var = n * (n + 1.0) * (2.0 * n + 1.0) / 24.0 - ties / 48.0;
    let p_wilcoxon = p_normal((w - n * (n + 1.0) / 4.0) / var.sqrt());
    let mut s = d.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() as f64;
    let k = ((m / 2.0 - 1.96 * m.sqrt() / 2.0).floor().max(0.0)) as usize;
    let lo = s[k.min(s.len() - 1)];
    let hi = s[(s.len() - 1).saturating_sub(k)];
    (p_sign, p_wilcoxon, quantile(&s, 0.5), lo, hi)
}

/// The box test (Crosby, Wallach and Riedi, 2009): the boxes between the 5th and 10th
/// percentiles of the two classes; disjoint boxes mean one is faster.
fn box_test(sa: &[f64], sb: &[f64]) -> &'static str {
    let (a0, a1) = (quantile(sa, 0.05), quantile(sa, 0.10));
    let (b0, b1) = (quantile(sb, 0.05), quantile(sb, 0.10));
    if a1 < b0 {
        "a faster"
    } else if b1 < a0 {
        "b faster"
    } else {
        "overlap"
    }
}

/// Every statistic of one measurement, as JSON (times in microseconds).
fn analyse(samples: &[Vec<u64>], ok: &[usize]) -> Value {
    let us: Vec<Vec<f64>> = samples
        .iter()
        .map(|s| s.iter().map(|ns| *ns as f64 / 1000.0).collect())
        .collect();
    let sorted: Vec<Vec<f64>> = us
        .iter()
        .map(|s| {
            let mut v = s.clone();
            v.sort_by(f64::total_cmp);
            v
        })
        .collect();
    let classes: Vec<Value> = CLASSES
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (m, v) = mean_var(&us[i]);
            let s = &sorted[i];
            json!({
                "class": c.name(),
                "n": s.len(),
                "decrypted": ok[i],
                "mean_us": m,
                "sd_us": v.sqrt(),
                "p05_us": quantile(s, 0.05),
                "p25_us": quantile(s, 0.25),
                "median_us": quantile(s, 0.5),
                "p75_us": quantile(s, 0.75),
                "p99_us": quantile(s, 0.99),
            })
        })
        .collect();
    let npairs = CLASSES.len() * (CLASSES.len() - 1) / 2;
    let mut pairs = Vec::new();
    for a in 0..CLASSES.len() {
        for b in a + 1..CLASSES.len() {
            let (dmean, dmean_ci, p_welch) = welch(&us[a], &us[b]);
            let p_mwu = mann_whitney(&us[a], &us[b]);
            let (ks_d, p_ks) = kolmogorov_smirnov(&sorted[a], &sorted[b]);
            let diffs: Vec<f64> = us[a].iter().zip(&us[b]).map(|(x, y)| x - y).collect();
            let (p_sign, p_wilcoxon, dmed, lo, hi) = paired(&diffs);
            let min_p = [p_welch, p_mwu, p_ks, p_sign, p_wilcoxon]
                .into_iter()
                .fold(1.0f64, f64::min);
            let both_refused = ok[a] == 0 && ok[b] == 0;
            // Bonferroni over the pairs and the five tests.
            let significant = min_p * ((npairs * 5) as f64) < 0.05;
            pairs.push(json!({
                "a": CLASSES[a].name(),
                "b": CLASSES[b].name(),
                "both_refused": both_refused,
                "mean_diff_us": dmean,
                "mean_diff_ci95_us": dmean_ci,
                "median_paired_diff_us": dmed,
                "median_paired_diff_ci95_us": [lo, hi],
                "p_welch": p_welch,
                "p_mann_whitney": p_mwu,
                "ks_d": ks_d,
                "p_ks": p_ks,
                "p_sign": p_sign,
                "p_wilcoxon": p_wilcoxon,
                "box_p05_p10": box_test(&sorted[a], &sorted[b]),
                "significant": significant,
            }));
        }
    }
    json!({"classes": classes, "pairs": pairs})
}

fn write_csv(dir: &std::path::Path, samples: &[Vec<u64>]) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::new(format!("bench: cannot make {}: {e}", dir.display())))?;
    let mut out = CLASSES
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for r in 0..samples[0].len() {
        let row: Vec<String> = samples
            .iter()
            .map(|s| format!("{:.9e}", s[r] as f64 / 1e9))
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    let path = dir.join("timing.csv");
    std::fs::write(&path, out)
        .map_err(|e| Failure::new(format!("bench: cannot write {}: {e}", path.display())))
}

// ---- the server ----------------------------------------------------------------------

/// One keep-alive connection; requests are signed before the clock starts.
struct Conn {
    addr: String,
    stream: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: &str) -> Result<Conn, Failure> {
        let s = TcpStream::connect(addr)
            .map_err(|e| Failure::new(format!("bench: cannot connect to {addr}: {e}")))?;
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        Ok(Conn {
            addr: addr.to_owned(),
            stream: BufReader::new(s),
        })
    }

    fn signed(&self, creds: &(String, SecretAccessKey), body: &[u8]) -> Vec<u8> {
        let target = "TrentService.Decrypt";
        let headers: [(&str, &[u8]); 3] = [
            ("host", self.addr.as_bytes()),
            ("content-type", b"application/x-amz-json-1.1"),
            ("x-amz-target", target.as_bytes()),
        ];
        let signed = sigv4::sign(
            &sigv4::Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body,
            },
            Credentials {
                access_key_id: &creds.0,
                secret: &creds.1,
            },
            bench_kms::REGION,
            time::OffsetDateTime::now_utc(),
        );
        let mut msg = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {target}\r\nX-Amz-Date: {}\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            signed.x_amz_date,
            signed.authorization,
            body.len()
        )
        .into_bytes();
        msg.extend_from_slice(body);
        msg
    }

    /// Sends `msg`, reads the whole answer: (status, body, nanoseconds).
    fn exchange(&mut self, msg: &[u8]) -> Result<(u16, Vec<u8>, u64), Failure> {
        let io = |e: std::io::Error| Failure::new(format!("bench: decrypt request failed: {e}"));
        let t0 = Instant::now();
        self.stream.get_mut().write_all(msg).map_err(io)?;
        let mut line = String::new();
        self.stream.read_line(&mut line).map_err(io)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| Failure::new(format!("bench: bad status line {line:?}")))?;
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            self.stream.read_line(&mut h).map_err(io)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                len = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).map_err(io)?;
        let ns = t0.elapsed().as_nanos() as u64;
        Ok((status, body, ns))
    }
}

struct ServerRun {
    samples: Vec<Vec<u64>>,
    ok: Vec<usize>,
    errors: Vec<String>,
}

fn over_server(args: &MarvinBenchArgs) -> Result<ServerRun, Failure> {
    let tmp = tempfile::Builder::new()
        .prefix("angou-bench-marvin-")
        .tempdir_in(args.store_dir.clone().unwrap_or_else(std::env::temp_dir))
        .map_err(|e| Failure::new(format!("bench: cannot make a temporary store: {e}")))?;
    let home = tmp.path().join("store");
    let mut creds = None;
    let (server, unsigned) = bench_kms::start_angou(args.server.as_deref(), &home, &mut creds)?;
    if unsigned {
        return Err(Failure::new(
            "bench: this server does not check signatures; measure a build that does",
        ));
    }
    let creds: Arc<(String, SecretAccessKey)> =
        creds.ok_or_else(|| Failure::new("bench: no access key"))?;
    let mut admin = Client::new(&server.addr, creds.clone());
    let spec = format!("RSA_{}", args.bits);
    let created = admin.call_ok(
        "CreateKey",
        &json!({"KeySpec": spec, "KeyUsage": "ENCRYPT_DECRYPT", "Description": "marvin"}),
    )?;
    let key_id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let public = admin.call_ok("GetPublicKey", &json!({"KeyId": key_id}))?;
    let der = Base64::decode_vec(public["PublicKey"].as_str().unwrap_or_default())
        .map_err(|_| Failure::new("bench: GetPublicKey returned no base64 key"))?;
    let cts = ciphertexts(&der, args.pool)?;
    let bodies: Vec<Vec<Vec<u8>>> = cts
        .iter()
        .map(|class| {
            class
                .iter()
                .map(|ct| {
                    json!({
                        "KeyId": key_id,
                        "CiphertextBlob": Base64::encode_string(ct),
                        "EncryptionAlgorithm": "RSAES_OAEP_SHA_256",
                    })
                    .to_string()
                    .into_bytes()
                })
                .collect()
        })
        .collect();
    let mut conn = Conn::open(&server.addr)?;
    // The error answers, exactly as sent (they must all be one).
    let mut errors: Vec<String> = Vec::new();
    let mut signed_at = Instant::now();
    let mut signed: Vec<Vec<Vec<u8>>> = Vec::new();
    let (samples, ok) = rounds(args.rounds, args.pool, args.json, "server", |c, i| {
        // Signatures are valid for five minutes: sign afresh every minute, off the clock.
        if signed.is_empty() || signed_at.elapsed() > Duration::from_secs(60) {
            signed = bodies
                .iter()
                .map(|class| class.iter().map(|b| conn.signed(&creds, b)).collect())
                .collect();
            signed_at = Instant::now();
        }
        let (status, body, ns) = conn.exchange(&signed[c][i])?;
        if status != 200 {
            let text = String::from_utf8_lossy(&body).into_owned();
            if !errors.contains(&text) {
                errors.push(text);
            }
        }
        Ok((ns, status == 200))
    })?;
    drop(server);
    Ok(ServerRun {
        samples,
        ok,
        errors,
    })
}

fn in_process(
    args: &MarvinBenchArgs,
    backend: Backend,
    key: &PrivateKey,
    cts: &[Vec<Vec<u8>>],
) -> Result<(Vec<Vec<u64>>, Vec<usize>), Failure> {
    let n = args.in_process_rounds.unwrap_or(args.rounds);
    rounds(n, args.pool, args.json, backend.name(), |c, i| {
        let t0 = Instant::now();
        let r = key.decrypt_with(backend, b"", &cts[c][i]);
        let ns = t0.elapsed().as_nanos() as u64;
        Ok((ns, r.is_ok()))
    })
}

fn loadavg() -> Value {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .map_or(Value::Null, Value::from)
}

pub fn run(args: MarvinBenchArgs) -> Result<(), Failure> {
    if args.bits != 2048 && args.bits != 3072 {
        return Err(Failure::usage("bench: --bits must be 2048 or 3072"));
    }
    if args.rounds < 100 || args.pool == 0 {
        return Err(Failure::usage(
            "bench: --rounds must be at least 100 and --pool at least 1",
        ));
    }
    let mut runs = Vec::new();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load_before = loadavg();
    if !args.no_in_process {
        let key = PrivateKey::generate(args.bits)
            .map_err(|e| Failure::new(format!("bench: rsa key generation failed: {e}")))?;
        let cts = ciphertexts(&key.public_key().to_der(), args.pool)?;
        let backends = if args.backends.is_empty() {
            Backend::available().to_vec()
        } else {
            args.backends.clone()
        };
        for b in backends {
            if !args.json {
                eprintln!("measuring in-process decryption on {b}…");
            }
            let (samples, ok) = in_process(&args, b, &key, &cts)?;
            if let Some(dir) = &args.out {
                write_csv(&dir.join(format!("in-process-{b}")), &samples)?;
            }
            let mut r = analyse(&samples, &ok);
            r["measurement"] = json!(format!("in process, {b}"));
            runs.push(r);
        }
    }
    if !args.no_server {
        if !args.json {
            eprintln!("measuring Decrypt over angou kms serve on loopback…");
        }
        let s = over_server(&args)?;
        if let Some(dir) = &args.out {
            write_csv(&dir.join("server"), &s.samples)?;
        }
        let mut r = analyse(&s.samples, &s.ok);
        r["measurement"] = json!("signed Decrypt over angou kms serve (loopback, keep-alive)");
        r["server"] = json!(
            args.server
                .as_ref()
                .map_or("this program".to_owned(), |p| p.display().to_string())
        );
        r["distinct_error_answers"] = json!(s.errors);
        runs.push(r);
    }
    let report = json!({
        "bits": args.bits,
        "rounds": args.rounds,
        "in_process_rounds": args.in_process_rounds.unwrap_or(args.rounds),
        "pool": args.pool,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "backends_in_build": Backend::available().iter().map(|b| b.name()).collect::<Vec<_>>(),
        "cpus": cpus,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "runs": runs,
    });
    if args.json {
        println!("{report}");
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(r: &Value) {
    println!(
        "Marvin timing study: RSA-{} OAEP-SHA-256, {} rounds over the server, {} in process ({} build; {} CPUs; load average {} before, {} after)",
        r["bits"],
        r["rounds"],
        r["in_process_rounds"],
        r["build"].as_str().unwrap_or("?"),
        r["cpus"],
        r["loadavg_before"],
        r["loadavg_after"]
    );
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    for run in r["runs"].as_array().into_iter().flatten() {
        println!();
        println!("== {}", run["measurement"].as_str().unwrap_or("?"));
        if let Some(s) = run.get("server") {
            println!("   server: {}", s.as_str().unwrap_or("?"));
        }
        println!(
            "{:<20} {:>8} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "class",
            "n",
            "decrypted",
            "mean µs",
            "sd µs",
            "p05 µs",
            "median µs",
            "IQR µs",
            "p99 µs"
        );
        for c in run["classes"].as_array().into_iter().flatten() {
            println!(
                "{:<20} {:>8} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                c["class"].as_str().unwrap_or("?"),
                c["n"],
                c["decrypted"],
                f(&c["mean_us"]),
                f(&c["sd_us"]),
                f(&c["p05_us"]),
                f(&c["median_us"]),
                f(&c["p75_us"]) - f(&c["p25_us"]),
                f(&c["p99_us"]),
            );
        }
        println!(
            "{:<41} {:>8} {:>21} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
            "pair (a - b)",
            "Δmed µs",
            "95% CI µs",
            "Welch p",
            "MWU p",
            "KS p",
            "sign p",
            "Wilc. p",
            "box",
        );
        for p in run["pairs"].as_array().into_iter().flatten() {
            let ci = &p["median_paired_diff_ci95_us"];
            println!(
                "{:<41} {:>8.2} {:>21} {:>9.2e} {:>9.2e} {:>9.2e} {:>9.2e} {:>9.2e} {:>8} {}",
                format!(
                    "{} - {}",
                    p["a"].as_str().unwrap_or("?"),
                    p["b"].as_str().unwrap_or("?")
                ),
                f(&p["median_paired_diff_us"]),
                format!("[{:.2}, {:.2}]", f(&ci[0]), f(&ci[1])),
                f(&p["p_welch"]),
                f(&p["p_mann_whitney"]),
                f(&p["p_ks"]),
                f(&p["p_sign"]),
                f(&p["p_wilcoxon"]),
                p["box_p05_p10"].as_str().unwrap_or("?"),
                if p["significant"].as_bool() == Some(true) {
                    "DIFFERENT"
                } else {
                    ""
                }
            );
        }
        if let Some(errs) = run["distinct_error_answers"].as_array() {
            println!("distinct error answers: {}", errs.len());
            for e in errs {
                println!("  {}", e.as_str().unwrap_or("?"));
            }
        }
    }
    println!();
    println!(
        "A pair is marked DIFFERENT when one of its tests' p-values is below 0.05 after Bonferroni correction (21 pairs × 5 tests); Δmed is the median of the paired differences and its 95% CI bounds the smallest difference this run could have seen."
    );
    println!(
        "Valid and refused ciphertexts get different answers (a plaintext or InvalidCiphertextException), so a difference between them is expected and tells an attacker nothing the answer does not; what matters is any difference among refused classes."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_decode_as_built() {
        let key = PrivateKey::generate(2048).unwrap();
        let cts = ciphertexts(&key.public_key().to_der(), 2).unwrap();
        for (c, class) in CLASSES.iter().enumerate() {
            for ct in &cts[c] {
                let got = key.decrypt_with(Backend::RustCrypto, b"", ct).is_ok();
                // The rsa crate ignores the first octet (RFC 8017 §7.1.2 step 3g says refuse).
                let want = matches!(class, Class::Valid | Class::FirstByteNonzero);
                assert_eq!(got, want, "{}", class.name());
                for &b in Backend::available() {
                    let ok = key.decrypt_with(b, b"", ct).is_ok();
                    if b != Backend::RustCrypto {
                        assert_eq!(ok, *class == Class::Valid, "{} on {b}", class.name());
                    }
                }
            }
        }
    }

    #[test]
    fn statistics_see_a_shift_and_not_noise() {
        let mut rng = Rng(42);
        let a: Vec<f64> = (0..2000).map(|_| (rng.next() % 1000) as f64).collect();
        let b: Vec<f64> = (0..2000).map(|_| (rng.next() % 1000) as f64).collect();
        let shifted: Vec<f64> = a.iter().map(|x| x + 300.0).collect();
        assert!(mann_whitney(&a, &shifted) < 1e-10);
        assert!(welch(&a, &shifted).2 < 1e-10);
        let (mut sa, mut sb) = (a.clone(), shifted.clone());
        sa.sort_by(f64::total_cmp);
        sb.sort_by(f64::total_cmp);
        assert!(kolmogorov_smirnov(&sa, &sb).1 < 1e-10);
        // Differences symmetric about zero: no test may see a shift; shifted, all must.
        let d: Vec<f64> = a.iter().flat_map(|x| [x - 500.0, 500.0 - x]).collect();
        let (ps, pw, med, lo, hi) = paired(&d);
        assert!(ps > 0.99 && pw > 0.99 && med == 0.0 && lo < 0.0 && hi > 0.0);
        let d: Vec<f64> = d.iter().map(|x| x + 100.0).collect();
        let (ps, pw, med, lo, hi) = paired(&d);
        assert!(ps < 1e-10 && pw < 1e-10 && med == 100.0 && lo > 50.0 && hi < 150.0);
        assert!(mann_whitney(&a, &b) > 1e-3 && welch(&a, &b).2 > 1e-3);
        assert!((erfc(0.0) - 1.0).abs() < 1e-6 && (p_normal(1.96) - 0.05).abs() < 1e-3);
    }
}
