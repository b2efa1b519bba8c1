//! `angou bench`: cipher throughput on this machine, in one table (or stable JSON).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use angou::Backend;
use angou::aead::{Algorithm, Cipher, Key};
use angou::format::header::PayloadCipher;
use angou::format::{Decryptor, Encryptor};
use angou::pk::{mlkem768x25519 as pq, rsa, x25519};
use angou::recipient::{Identity, Recipient};
use angou::secret::FileKey;
use serde_json::{Value, json};

use crate::failure::Failure;

/// Version of the `--json` layout (documented in docs/PERFORMANCE.md).
pub const JSON_VERSION: u32 = 2;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Shorter measurements (about 20 s in all)
    #[arg(long)]
    pub quick: bool,
    /// Print JSON (stable layout, version 2) instead of tables
    #[arg(long)]
    pub json: bool,
    /// Only these AEADs (aes-256-gcm, chacha20-poly1305, xchacha20-poly1305; repeatable)
    #[arg(long = "algorithm", value_name = "A")]
    pub algorithms: Vec<Algorithm>,
    /// Implementations to compare: rustcrypto, aws-lc (in builds with the aws-lc feature);
    /// repeatable; default: every one in this build
    #[arg(long = "backend", value_name = "B")]
    pub backends: Vec<Backend>,
    /// What to measure instead of the ciphers
    #[command(subcommand)]
    pub target: Option<BenchTarget>,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchTarget {
    /// Load on `angou kms serve` (and moto's server, as ratios): requests/s, p50/p99, peak RSS
    Kms(crate::bench_kms::KmsBenchArgs),
    /// Marvin timing study of RSA-OAEP decryption: valid and invalid ciphertext classes over
    /// `angou kms serve` and in process, with statistical tests per pair (docs/MARVIN.md)
    Marvin(crate::bench_marvin::MarvinBenchArgs),
}

fn cpu_features() -> Vec<(&'static str, bool)> {
    #[cfg(target_arch = "x86_64")]
    {
        vec![
            ("AES-NI", std::arch::is_x86_feature_detected!("aes")),
            (
                "PCLMULQDQ",
                std::arch::is_x86_feature_detected!("pclmulqdq"),
            ),
            ("AVX2", std::arch::is_x86_feature_detected!("avx2")),
            ("AVX-512F", std::arch::is_x86_feature_detected!("avx512f")),
            // With AVX-512F, what chacha20's AVX-512 ChaCha20 needs (.cargo/config.toml).
            ("AVX-512VL", std::arch::is_x86_feature_detected!("avx512vl")),
            ("VAES", std::arch::is_x86_feature_detected!("vaes")),
            (
                "VPCLMULQDQ",
                std::arch::is_x86_feature_detected!("vpclmulqdq"),
            ),
        ]
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

/// Repeats `f` until `budget` has passed (at least `min` times); returns calls per second.
fn rate(budget: Duration, min: u32, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let start = Instant::now();
    let mut n = 0u32;
    while n < min || start.elapsed() < budget {
        f();
        n += 1;
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

/// Opens per second. A successful open turns its buffer into plaintext, so each round opens
/// a fresh set of ciphertext copies (4 MiB in all) made before the clock starts: the copying
/// stays out of the figure.
fn open_rate(
    budget: Duration,
    sealed: &[u8],
    mut open: impl FnMut(&mut [u8]) -> bool,
) -> Result<f64, Failure> {
    let copies = (4 * 1024 * 1024 / sealed.len()).clamp(3, 4096);
    let mut bufs = vec![sealed.to_vec(); copies];
    let (mut timed, mut n) = (Duration::ZERO, 0u64);
    while n == 0 || timed < budget {
        for b in &mut bufs {
            b.copy_from_slice(sealed);
        }
        let start = Instant::now();
        for b in &mut bufs {
            if !open(b) {
                return Err(Failure::new("bench: a sealed message did not open"));
            }
        }
        timed += start.elapsed();
        n += copies as u64;
    }
    Ok(n as f64 / timed.as_secs_f64())
}

fn progress(quiet: bool, what: &str) {
    if !quiet {
        eprintln!("measuring {what}…");
    }
}

pub fn run(args: BenchArgs) -> Result<(), Failure> {
    match args.target {
        Some(BenchTarget::Kms(k)) => return crate::bench_kms::run(k),
        Some(BenchTarget::Marvin(m)) => return crate::bench_marvin::run(m),
        None => {}
    }
    // Every backend named, once each, in the order given (default: every one in the build).
    let mut backends: Vec<Backend> = Vec::new();
    for b in if args.backends.is_empty() {
        Backend::available()
    } else {
        &args.backends[..]
    } {
        if !backends.contains(b) {
            backends.push(*b);
        }
    }
    let budget = if args.quick {
        Duration::from_millis(250)
    } else {
        Duration::from_millis(1000)
    };
    let algorithms = if args.algorithms.is_empty() {
        Algorithm::ALL.to_vec()
    } else {
        args.algorithms.clone()
    };
    let sizes = [1024usize, 16 * 1024, 64 * 1024, 1024 * 1024];
    let key = Key::generate()?;

    let mut aead_rows = Vec::new();
    for (alg, backend) in algorithms
        .iter()
        .flat_map(|a| backends.iter().map(move |b| (*a, *b)))
    {
        if !backend.supports_aead(alg) {
            continue;
        }
        progress(false, &format!("{alg} ({backend})"));
        let cipher = Cipher::with_backend(alg, &key, backend).map_err(angou::Error::from)?;
        for size in sizes {
            let mut buf = vec![0x42u8; size];
            let seal = rate(budget, 3, || {
                let _ = cipher.seal_in_place_detached(b"", &mut buf);
            }) * size as f64;
            let mut sealed = vec![0x42u8; size];
            let (nonce, tag) = cipher.seal_in_place_detached(b"", &mut sealed)?;
            let open = open_rate(budget, &sealed, |work| {
                cipher
                    .open_in_place_detached(&nonce, b"", work, &tag)
                    .is_ok()
            })? * size as f64;
            aead_rows.push(
                json!({"algorithm": alg.name(), "backend": backend.name(), "bytes": size,
                "seal_bytes_per_s": seal.round(), "open_bytes_per_s": open.round()}),
            );
        }
    }

    progress(false, "X25519 and RSA-OAEP");
    let mut pk_rows = Vec::new();
    let id = x25519::SecretKey::generate()?;
    let fk = FileKey::generate()?;
    let recipient = id.public_key();
    let wrapped = recipient.wrap(&fk)?;
    pk_rows.push(json!({"name": "x25519", "backend": "rustcrypto", "operation": "wrap", "ops_per_s": rate(budget, 10, || { let _ = recipient.wrap(&fk); }).round()}));
    pk_rows.push(json!({"name": "x25519", "backend": "rustcrypto", "operation": "unwrap", "ops_per_s": rate(budget, 10, || { let _ = id.unwrap(&wrapped); }).round()}));
    pk_rows.push(json!({"name": "x25519", "backend": "rustcrypto", "operation": "generate", "ops_per_s": rate(budget, 10, || { let _ = x25519::SecretKey::generate().map(|k| k.public_key()); }).round()}));
    progress(false, "ML-KEM-768 + X25519 (post-quantum hybrid)");
    let pq_id = pq::SecretKey::generate()?;
    let pq_recipient = pq_id.public_key();
    let pq_wrapped = pq_recipient.wrap(&fk)?;
    pk_rows.push(json!({"name": "mlkem768x25519", "backend": "rustcrypto", "operation": "wrap", "ops_per_s": rate(budget, 10, || { let _ = pq_recipient.wrap(&fk); }).round()}));
    pk_rows.push(json!({"name": "mlkem768x25519", "backend": "rustcrypto", "operation": "unwrap", "ops_per_s": rate(budget, 10, || { let _ = pq_id.unwrap(&pq_wrapped); }).round()}));
    pk_rows.push(json!({"name": "mlkem768x25519", "backend": "rustcrypto", "operation": "generate", "ops_per_s": rate(budget, 10, || { let _ = pq::SecretKey::generate().map(|k| k.public_key()); }).round()}));
    let rsa_sizes: &[usize] = if args.quick {
        &[2048, 3072]
    } else {
        &[2048, 3072, 4096]
    };
    for &bits in rsa_sizes {
        let t = Instant::now();
        let k = rsa::PrivateKey::generate(bits)?;
        let gen_s = t.elapsed().as_secs_f64();
        let public = k.public_key();
        let name = format!("rsa-{bits}-oaep-sha256");
        for &backend in &backends {
            let ct = public.encrypt_with(backend, b"", fk.expose_secret())?;
            pk_rows.push(json!({"name": name, "backend": backend.name(), "operation": "encrypt", "ops_per_s": rate(budget, 5, || { let _ = public.encrypt_with(backend, b"", fk.expose_secret()); }).round()}));
            pk_rows.push(json!({"name": name, "backend": backend.name(), "operation": "decrypt", "ops_per_s": rate(budget, 3, || { let _ = k.decrypt_with(backend, b"", &ct); }).round()}));
        }
        // Key generation is pure Rust in every build.
        pk_rows.push(json!({"name": name, "backend": "rustcrypto", "operation": "generate", "ops_per_s": (1.0 / gen_s * 100.0).round() / 100.0}));
    }

    progress(false, "the file pipeline (64 MiB in memory)");
    let mut stream_rows = Vec::new();
    let data = vec![0x5au8; 64 * 1024 * 1024];
    for cipher in [PayloadCipher::ChaCha20Poly1305, PayloadCipher::Aes256Gcm] {
        let mut file = Vec::with_capacity(data.len() + 2 * 1024 * 1024);
        let enc = rate(budget, 2, || {
            file.clear();
            if let Ok(mut w) = Encryptor::with_recipients([&recipient as &dyn Recipient])
                .map(|e| e.with_cipher(cipher))
                .and_then(|e| e.wrap_output(&mut file))
            {
                let _ = w.write_all(&data);
                let _ = w.finish();
            }
        }) * data.len() as f64;
        let mut out = Vec::with_capacity(data.len());
        let dec = rate(budget, 2, || {
            out.clear();
            if let Ok(mut r) =
                Decryptor::new(&file[..]).and_then(|d| d.decrypt([&id as &dyn Identity]))
            {
                let _ = r.read_to_end(&mut out);
            }
        }) * data.len() as f64;
        if out != data {
            return Err(Failure::new("bench: the file pipeline did not round-trip"));
        }
        stream_rows.push(json!({"payload_cipher": cipher.name(),
            "backend": Backend::for_aead(cipher.algorithm()).name(), "bytes": data.len(),
            "encrypt_bytes_per_s": enc.round(), "decrypt_bytes_per_s": dec.round(),
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)}));
    }

    // The lesson: hybrid encryption of 1 MiB to one recipient.
    let mib: f64 = 1024.0 * 1024.0;
    // The hybrid figures use what angou itself runs: the build's default backends.
    let get = |rows: &[Value], name: &str, op: &str| {
        let preferred = rows.iter().find(|r| {
            r["name"] == name && r["operation"] == op && r["backend"] == Backend::for_rsa().name()
        });
        preferred
            .or_else(|| {
                rows.iter()
                    .find(|r| r["name"] == name && r["operation"] == op)
            })
            .and_then(|r| r["ops_per_s"].as_f64())
            .unwrap_or(f64::NAN)
    };
    let hybrid_alg = if algorithms.contains(&Algorithm::Aes256Gcm) {
        Algorithm::Aes256Gcm
    } else {
        algorithms[0]
    };
    let gcm_1m = aead_rows
        .iter()
        .filter(|r| r["bytes"] == 1024 * 1024 && r["algorithm"] == hybrid_alg.name())
        .max_by_key(|r| r["backend"] == Backend::for_aead(hybrid_alg).name())
        .and_then(|r| r["seal_bytes_per_s"].as_f64())
        .unwrap_or(f64::NAN);
    let rsa_dec = get(&pk_rows, "rsa-2048-oaep-sha256", "decrypt");
    let rsa_ops = (mib / 190.0).ceil();
    let hybrid = json!({
        "plaintext_bytes": 1024 * 1024,
        "aead_algorithm": hybrid_alg.name(),
        "aead_seconds": mib / gcm_1m,
        "x25519_hybrid_encrypt_seconds": mib / gcm_1m + 1.0 / get(&pk_rows, "x25519", "wrap"),
        "rsa2048_hybrid_decrypt_seconds": mib / gcm_1m + 1.0 / rsa_dec,
        "rsa2048_alone_decrypt_seconds": rsa_ops / rsa_dec,
        "rsa2048_alone_operations": rsa_ops,
    });

    let cpu: Vec<Value> = cpu_features()
        .into_iter()
        .map(|(n, on)| json!({"feature": n, "detected": on}))
        .collect();
    let report = json!({"version": JSON_VERSION, "quick": args.quick, "cpu": cpu, "aead": aead_rows,
        "public_key": pk_rows, "stream": stream_rows, "hybrid_1mib": hybrid});
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return Ok(());
    }
    print_tables(&report);
    Ok(())
}

fn mbs(v: &Value) -> String {
    format!("{:.0}", v.as_f64().unwrap_or(0.0) / 1e6)
}

fn print_tables(r: &Value) {
    let feats: Vec<String> = r["cpu"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{}{}",
                f["feature"].as_str().unwrap_or(""),
                if f["detected"] == true { "✓" } else { "✗" }
            )
        })
        .collect();
    println!("CPU: {}", feats.join("  "));
    println!("\nShared-key AEAD (MB/s, one thread)");
    println!(
        "Megabytes per second sealed (encrypted and authenticated) and opened, by message size.\n\
         Small messages pay a fixed cost per call (nonce, key schedule, tag), so rates rise with size."
    );
    println!(
        "{:<20} {:<11} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "algorithm",
        "backend",
        "1K seal",
        "open",
        "16K seal",
        "open",
        "64K seal",
        "open",
        "1M seal",
        "open"
    );
    let rows = r["aead"].as_array().cloned().unwrap_or_default();
    let mut lines: Vec<(String, String)> = rows
        .iter()
        .filter_map(|x| {
            Some((
                x["algorithm"].as_str()?.to_owned(),
                x["backend"].as_str()?.to_owned(),
            ))
        })
        .collect();
    lines.dedup();
    for (a, b) in lines {
        let mut line = format!("{a:<20} {b:<11}");
        for x in rows
            .iter()
            .filter(|x| x["algorithm"] == a.as_str() && x["backend"] == b.as_str())
        {
            line.push_str(&format!(
                " {:>8} {:>8}",
                mbs(&x["seal_bytes_per_s"]),
                mbs(&x["open_bytes_per_s"])
            ));
        }
        println!("{line}");
    }
    println!("\nKey pairs (operations per second)");
    println!(
        "One operation wraps or unwraps a 16-byte file key; RSA's private-key operations are\n\
         thousands of times slower per byte than an AEAD, which is why they never touch the data."
    );
    println!(
        "{:<24} {:<11} {:>10} {:>12}",
        "key", "backend", "operation", "ops/s"
    );
    for x in r["public_key"].as_array().into_iter().flatten() {
        let v = x["ops_per_s"].as_f64().unwrap_or(f64::NAN);
        let shown = format!("{v:.1}");
        println!(
            "{:<24} {:<11} {:>10} {:>12}",
            x["name"].as_str().unwrap_or(""),
            x["backend"].as_str().unwrap_or(""),
            x["operation"].as_str().unwrap_or(""),
            shown
        );
    }
    let rate_of = |name: &str, op: &str| {
        r["public_key"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["name"] == name && x["operation"] == op)
            .and_then(|x| x["ops_per_s"].as_f64())
            .unwrap_or(f64::NAN)
    };
    println!(
        "Post-quantum hybrid (mlkem768x25519, age1pq1…): the file key stays secret if either\n\
         ML-KEM-768 or X25519 holds, so a file stored today resists a future quantum computer.\n\
         It costs bytes and time: a {}-byte public key (X25519: {}), a {}-byte stanza argument\n\
         plus {}-byte body (X25519: {} + {}), and here {:.1}× the X25519 unwrap time.",
        pq::PUBLIC_KEY_LEN,
        x25519::KEY_LEN,
        pq::ENC_LEN,
        pq::WRAPPED_LEN,
        x25519::KEY_LEN,
        x25519::WRAPPED_LEN,
        rate_of("x25519", "unwrap") / rate_of("mlkem768x25519", "unwrap"),
    );
    println!("\nFile pipeline (64 MiB in memory, all cores)");
    println!(
        "A whole file through angou's format: 64 KiB chunks spread over one worker per core.\n\
         Other programs running at the same time take cores away, so this figure drops on a busy machine."
    );
    for x in r["stream"].as_array().into_iter().flatten() {
        println!(
            "{:<20} {:<11} encrypt {:>6} MB/s   decrypt {:>6} MB/s   ({} threads)",
            x["payload_cipher"].as_str().unwrap_or(""),
            x["backend"].as_str().unwrap_or(""),
            mbs(&x["encrypt_bytes_per_s"]),
            mbs(&x["decrypt_bytes_per_s"]),
            x["threads"]
        );
    }
    let h = &r["hybrid_1mib"];
    // Milliseconds below a second, seconds above: the RSA-alone total runs to seconds.
    let time = |v: &Value| {
        let t = v.as_f64().unwrap_or(f64::NAN);
        if t < 1.0 {
            format!("{:>9.2} ms", t * 1e3)
        } else {
            format!("{t:>9.2} s ")
        }
    };
    let aead = h["aead_algorithm"].as_str().unwrap_or("AEAD");
    println!("\nWhy hybrid: 1 MiB to one recipient (computed from the rates above)");
    println!(
        "Each key-pair operation seals at most a few hundred bytes, so encrypting data with RSA"
    );
    println!(
        "alone takes one slow operation per 190 bytes; a hybrid pays for one, then runs the AEAD."
    );
    let rows = [
        (
            format!("{aead} alone (key already shared)"),
            &h["aead_seconds"],
        ),
        (
            format!("X25519 wrap + {aead}"),
            &h["x25519_hybrid_encrypt_seconds"],
        ),
        (
            format!("RSA-2048 OAEP unwrap + {aead}"),
            &h["rsa2048_hybrid_decrypt_seconds"],
        ),
        (
            format!(
                "RSA-2048 OAEP alone, {:.0} decryptions",
                h["rsa2048_alone_operations"].as_f64().unwrap_or(f64::NAN)
            ),
            &h["rsa2048_alone_decrypt_seconds"],
        ),
    ];
    for (what, v) in rows {
        println!("  {what:<44} {}", time(v));
    }
}
