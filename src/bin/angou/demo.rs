//! `angou demo`: the two halves of modern encryption side by side, measured on this machine.
//!
//! Runs in a fresh temporary folder (removed at the end) with no set-up. Every number printed
//! is measured in this run or computed from those measurements; nothing is a constant.
//! No secret is ever printed: key files are written to the folder and only their paths shown.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use angou::aead::{self, Algorithm, Cipher, Key};
use angou::format::header::{Header, PayloadCipher};
use angou::format::{Decryptor, Encryptor};
use angou::passphrase::{PassphraseIdentity, PassphraseRecipient};
use angou::pk::{rsa, x25519};
use angou::recipient::{Identity, Recipient, SymmetricKey};
use angou::secret::{FileKey, SecretArray, SecretVec};
use zeroize::Zeroizing;

use crate::failure::Failure;

const MIB: usize = 1024 * 1024;
/// Buffer each AEAD seals and opens in section 1, in bytes.
const AEAD_BUF_LEN: usize = 16 * MIB;
/// Section 1 seals the buffer in pieces of this size, as the file format does (64 KiB
/// chunks): one piece stays in the CPU cache between encrypting and authenticating it.
const AEAD_CHUNK_LEN: usize = 64 * 1024;
/// Timed seals (and as many opens) per AEAD algorithm.
const AEAD_ROUNDS: usize = 8;
/// Data size of the hybrid comparison in section 3, in bytes.
const HYBRID_LEN: usize = MIB;
/// Real hybrid round trips timed in section 3.
const HYBRID_TRIPS: u32 = 5;
/// Sample file size for section 4, in bytes.
const FILE_LEN: usize = 8 * MIB;
/// Timed X25519 key generations, wraps and unwraps (each).
const X25519_OPS: u32 = 200;
/// Timed RSA-OAEP encryptions per key size.
const RSA_ENCRYPT_OPS: u32 = 50;
/// Timed RSA-OAEP decryptions per key size (14 ms each at 4096 bits).
const RSA_DECRYPT_OPS: u32 = 10;
/// OAEP label of the demo's RSA operations.
const LABEL: &[u8] = b"angou demo";

/// A byte count for the key-pair table.
fn bytes(n: usize) -> String {
    format!("{n} B")
}

/// The bytes one recipient's stanza adds to a file header: a real wrap of `file_key`,
/// encoded by the header writer, minus the header without it.
fn stanza_len(recipient: &dyn Recipient, file_key: &FileKey) -> Result<usize, Failure> {
    let stanzas = recipient.wrap(file_key)?;
    let cipher = PayloadCipher::ChaCha20Poly1305;
    let with = Header::encode(cipher, &stanzas, file_key)?.len();
    let without = Header::encode(cipher, &[], file_key)?.len();
    Ok(with - without)
}

/// A human duration: ns, µs, ms or s with three significant figures.
fn dur(t: Duration) -> String {
    let s = t.as_secs_f64();
    let (v, unit) = if s >= 1.0 {
        (s, "s")
    } else if s >= 1e-3 {
        (s * 1e3, "ms")
    } else if s >= 1e-6 {
        (s * 1e6, "µs")
    } else {
        (s * 1e9, "ns")
    };
    if v >= 100.0 {
        format!("{v:.0} {unit}")
    } else if v >= 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

/// A human rate from bytes per second.
fn rate(bytes_per_sec: f64) -> String {
    if bytes_per_sec >= 1e9 {
        format!("{:.2} GB/s", bytes_per_sec / 1e9)
    } else {
        format!("{:.0} MB/s", bytes_per_sec / 1e6)
    }
}

/// Runs `f` `n` times; returns the mean duration of one call.
fn time_per<T>(n: u32, mut f: impl FnMut() -> T) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f());
    }
    start.elapsed() / n
}

/// Runs `f` once; returns its result and how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn heading(title: &str, lines: &[&str]) {
    println!("\n== {title} ==");
    for line in lines {
        println!("{line}");
    }
    println!();
}

/// The demo checks angou against itself; a failed check is a bug, not a user mistake.
fn self_check(what: impl std::fmt::Display) -> Failure {
    Failure::new(format!("demo: {what}"))
        .hint("angou failed one of its own checks; please report this with the output above")
}

fn io_failure(what: impl std::fmt::Display, path: &Path, e: std::io::Error) -> Failure {
    Failure::new(format!("demo: cannot {what} {}: {e}", path.display()))
        .hint("check that the temporary folder (TMPDIR) exists, is writable and has free space")
}

pub fn run() -> Result<(), Failure> {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("angou-demo-")
        .tempdir()
        .map_err(|e| {
            // tempfile's message already names the path it tried.
            Failure::new(format!("demo: cannot create a temporary folder: {e}"))
                .hint("check that TMPDIR names a writable folder with free space")
        })?;
    let dir_path = dir.path().to_path_buf();
    println!("angou demo: shared-key and key-pair encryption, timed on this machine just now");
    println!(
        "working folder: {} (removed at the end)",
        dir_path.display()
    );

    let aead = shared_key()?;
    let pk = key_pairs(&dir_path)?;
    hybrid(&aead, &pk)?;
    files(&dir_path, &pk)?;
    envelope(&dir_path)?;
    client_or_server_side(&dir_path)?;

    dir.close()
        .map_err(|e| io_failure("remove", &dir_path, e))?;
    println!(
        "\nRemoved {}. Whole demo: {}.",
        dir_path.display(),
        dur(started.elapsed())
    );
    println!("\nTry it in an empty folder (with angou on PATH: README.md, Install):");
    for line in TRY_IT.lines() {
        println!("  {line}");
    }
    Ok(())
}

/// The closing commands, as printed; tests/cli/conveniences.rs runs them as written.
const TRY_IT: &str = include_str!("try_it.sh");

/// Section 1's measurements, in bytes per second, per algorithm.
struct AeadRates(Vec<(Algorithm, f64, f64)>);

impl AeadRates {
    fn get(&self, alg: Algorithm) -> Result<(f64, f64), Failure> {
        self.0
            .iter()
            .find(|(a, _, _)| *a == alg)
            .map(|&(_, seal, open)| (seal, open))
            .ok_or_else(|| self_check(format!("no measurement for {alg}")))
    }
}

fn verdict(rejected: bool) -> &'static str {
    if rejected { "rejected" } else { "ACCEPTED" }
}

fn shared_key() -> Result<AeadRates, Failure> {
    heading(
        "1. Shared-key encryption (AEAD)",
        &[
            "Both sides hold the same 256-bit key. Fast, and every byte is authenticated,",
            "but that key must somehow reach the other side safely first.",
        ],
    );
    println!(
        "{:<32} {:>10} {:>10}   {:<11} {:<12} wrong AAD",
        "algorithm [backend]", "seal", "open", "round trip", "flipped bit"
    );
    let plain: Vec<u8> = (0..AEAD_BUF_LEN).map(|i| (i % 251) as u8).collect();
    let aad = b"demo: section 1";
    let mut rates = Vec::new();
    for alg in Algorithm::ALL {
        let key = Key::generate()?;
        let cipher = Cipher::new(alg, &key);
        let mut buf = plain.clone();
        // Seal the buffer in layers (each seal encrypts the previous ciphertext), chunk by
        // chunk as the file format does, then open the layers in reverse: every timed call
        // does real work on a fresh message, no copies are timed, and getting `plain` back at
        // the end checks all of them. The first layer is an untimed warm-up.
        let seal_layer = |buf: &mut [u8]| -> Result<Vec<_>, Failure> {
            buf.chunks_mut(AEAD_CHUNK_LEN)
                .map(|c| cipher.seal_in_place_detached(aad, c).map_err(Failure::from))
                .collect()
        };
        let mut layers = Vec::with_capacity(AEAD_ROUNDS + 1);
        layers.push(seal_layer(&mut buf)?);
        let start = Instant::now();
        for _ in 0..AEAD_ROUNDS {
            layers.push(seal_layer(&mut buf)?);
        }
        let seal = start.elapsed();
        let mut open = Duration::ZERO;
        for (i, layer) in layers.iter().enumerate().rev() {
            let start = Instant::now();
            for (c, (nonce, tag)) in buf.chunks_mut(AEAD_CHUNK_LEN).zip(layer) {
                cipher.open_in_place_detached(nonce, aad, c, tag)?;
            }
            if i > 0 {
                open += start.elapsed();
            }
        }
        let round_trip = buf == plain;

        // Tampering: one flipped ciphertext bit, then the right ciphertext with the wrong AAD.
        let (nonce, tag) = cipher.seal_in_place_detached(aad, &mut buf)?;
        buf[AEAD_BUF_LEN / 2] ^= 0x01;
        let flipped = cipher
            .open_in_place_detached(&nonce, aad, &mut buf, &tag)
            .is_err();
        buf[AEAD_BUF_LEN / 2] ^= 0x01;
        let wrong_aad = cipher
            .open_in_place_detached(&nonce, b"demo: other context", &mut buf, &tag)
            .is_err();
        // A failed open leaves the buffer untouched, so the right call still succeeds.
        let intact = cipher
            .open_in_place_detached(&nonce, aad, &mut buf, &tag)
            .is_ok()
            && buf == plain;

        let total = (AEAD_BUF_LEN * AEAD_ROUNDS) as f64;
        let (seal_rate, open_rate) = (total / seal.as_secs_f64(), total / open.as_secs_f64());
        println!(
            "{:<32} {:>10} {:>10}   {:<11} {:<12} {}",
            format!("{} [{}]", alg.name(), cipher.backend()),
            rate(seal_rate),
            rate(open_rate),
            if round_trip && intact { "ok" } else { "FAILED" },
            verdict(flipped),
            verdict(wrong_aad)
        );
        if !(round_trip && intact && flipped && wrong_aad) {
            return Err(self_check(format!("{alg} did not behave as an AEAD must")));
        }
        rates.push((alg, seal_rate, open_rate));
    }
    println!(
        "\n{} MiB sealed and opened {AEAD_ROUNDS} times per algorithm in {} KiB messages (the file",
        AEAD_BUF_LEN / MIB,
        AEAD_CHUNK_LEN / 1024
    );
    println!("format's chunk size), a fresh key each; `angou bench` has other sizes.");
    println!("angou picks every nonce itself; the caller never sees one before sealing.");
    Ok(AeadRates(rates))
}

/// Section 2's keys and measurements, reused by sections 3 and 4.
struct KeyPairs {
    x25519: x25519::SecretKey,
    x25519_wrap: Duration,
    x25519_unwrap: Duration,
    rsa2048: rsa::PrivateKey,
    rsa2048_encrypt: Duration,
    rsa2048_decrypt: Duration,
}

fn key_pairs(dir: &Path) -> Result<KeyPairs, Failure> {
    heading(
        "2. Key-pair encryption (public key)",
        &[
            "Anyone may encrypt to a public key; only the private key decrypts. Each",
            "operation is slow and seals only a few bytes, so key pairs wrap small keys.",
        ],
    );
    // X25519, age-compatible: a file key is wrapped to an `age1…` recipient.
    let x_gen = time_per(X25519_OPS, || {
        x25519::SecretKey::generate().map(|k| k.public_key())
    });
    let id = x25519::SecretKey::generate()?;
    let recipient = id.public_key();
    let file_key = FileKey::generate()?;
    let x_wrap = time_per(X25519_OPS, || recipient.wrap(&file_key));
    let wrapped = recipient.wrap(&file_key)?;
    let x_unwrap = time_per(X25519_OPS, || id.unwrap(&wrapped));
    if id.unwrap(&wrapped)?.expose_secret() != file_key.expose_secret() {
        return Err(self_check("x25519 wrap/unwrap round trip failed"));
    }
    println!("X25519 recipient (public, safe to share):\n  {recipient}\n");

    println!(
        "{:<9} {:>7} {:>7} {:>10} {:>10} {:>10}  what one encrypt seals",
        "key", "public", "stanza", "generate", "encrypt", "decrypt"
    );
    let x_sizes = (
        recipient.to_bytes().len(),
        stanza_len(&recipient, &file_key)?,
    );
    println!(
        "{:<9} {:>7} {:>7} {:>10} {:>10} {:>10}  no limit of its own: agrees a key, an AEAD wraps the file key",
        "X25519",
        bytes(x_sizes.0),
        bytes(x_sizes.1),
        dur(x_gen),
        dur(x_wrap),
        dur(x_unwrap),
    );

    // The post-quantum hybrid (age 1.3): ML-KEM-768 and X25519 together.
    let (pq_sizes, pq_unwrap) = {
        use angou::pk::mlkem768x25519 as pq;
        let pq_gen = time_per(X25519_OPS / 4, || {
            pq::SecretKey::generate().map(|k| k.public_key())
        });
        let pq_id = pq::SecretKey::generate()?;
        let pq_recipient = pq_id.public_key();
        let pq_wrap = time_per(X25519_OPS / 4, || pq_recipient.wrap(&file_key));
        let pq_wrapped = pq_recipient.wrap(&file_key)?;
        let pq_unwrap = time_per(X25519_OPS / 4, || pq_id.unwrap(&pq_wrapped));
        let pq_sizes = (
            pq_recipient.to_bytes().len(),
            stanza_len(&pq_recipient, &file_key)?,
        );
        if pq_id.unwrap(&pq_wrapped)?.expose_secret() != file_key.expose_secret() {
            return Err(self_check(
                "ML-KEM-768 + X25519 wrap/unwrap round trip failed",
            ));
        }
        println!(
            "{:<9} {:>7} {:>7} {:>10} {:>10} {:>10}  no limit of its own: as X25519, plus ML-KEM-768",
            "PQ hybrid",
            bytes(pq_sizes.0),
            bytes(pq_sizes.1),
            dur(pq_gen),
            dur(pq_wrap),
            dur(pq_unwrap),
        );
        (pq_sizes, pq_unwrap)
    };

    let mut rsa2048 = None;
    for bits in rsa::GENERATE_BITS {
        let (key, gen_time) = timed(|| rsa::PrivateKey::generate(bits));
        let key = key?;
        let public = key.public_key();
        let max = public.max_plaintext_len();
        let msg = vec![0x6bu8; max];
        let enc = time_per(RSA_ENCRYPT_OPS, || public.encrypt(LABEL, &msg));
        let sealed = public.encrypt(LABEL, &msg)?;
        let dec = time_per(RSA_DECRYPT_OPS, || key.decrypt(LABEL, &sealed));
        if key.decrypt(LABEL, &sealed)?.expose_secret() != msg.as_slice() {
            return Err(self_check(format!("rsa-{bits} round trip failed")));
        }
        let name = format!("RSA-{bits}");
        println!(
            "{name:<9} {:>7} {:>7} {:>10} {:>10} {:>10}  {max} bytes (k - 66, k = {})",
            bytes(public.to_der().len()),
            bytes(stanza_len(&public, &file_key)?),
            dur(gen_time),
            dur(enc),
            dur(dec),
            public.size()
        );
        if bits == 2048 {
            rsa2048 = Some((key, enc, dec));
        }
    }
    let (rsa_key, rsa_enc, rsa_dec) =
        rsa2048.ok_or_else(|| self_check("no RSA-2048 measurements"))?;
    println!(
        "\npublic: the public key's bytes (raw for X25519 and the PQ hybrid, SPKI DER for RSA);\n\
         stanza: the bytes one recipient adds to a file's header (base64 text, as written), from\n\
         a real wrap of a 16-byte file key to the key above.\n\
         X25519: mean of {X25519_OPS} each; PQ hybrid (ML-KEM-768 + X25519, age 1.3): mean of {}.\n\
         RSA (OAEP-SHA-256): one key generation (a random prime search; it varies a lot), mean of\n\
         {RSA_ENCRYPT_OPS} encryptions, {RSA_DECRYPT_OPS} decryptions.",
        X25519_OPS / 4
    );
    println!(
        "The PQ hybrid keeps a file secret if either ML-KEM-768 or X25519 holds, so a file stored\n\
         today resists a future quantum computer. It costs bytes (a {}-byte key and a {}-byte\n\
         stanza, against {} and {}) and time ({:.1}× X25519's decrypt), once per file, not per byte.",
        pq_sizes.0,
        pq_sizes.1,
        x_sizes.0,
        x_sizes.1,
        pq_unwrap.as_secs_f64() / x_unwrap.as_secs_f64().max(f64::MIN_POSITIVE),
    );

    let public = rsa_key.public_key();
    let too_long = public.max_plaintext_len() + 1;
    match public.encrypt(LABEL, &vec![0u8; too_long]) {
        Ok(_) => {
            return Err(self_check(format!(
                "rsa-2048 sealed {too_long} bytes, more than OAEP allows"
            )));
        }
        Err(e) => println!("Sealing {too_long} bytes (k - 65) with RSA-2048 is refused:\n  {e}"),
    }

    write_key_files(dir, &id, &rsa_key)?;
    Ok(KeyPairs {
        x25519: id,
        x25519_wrap: x_wrap,
        x25519_unwrap: x_unwrap,
        rsa2048: rsa_key,
        rsa2048_encrypt: rsa_enc,
        rsa2048_decrypt: rsa_dec,
    })
}

/// Writes the demo's key pairs the way `angou keygen` does and lists them with their modes.
fn write_key_files(
    dir: &Path,
    id: &x25519::SecretKey,
    rsa_key: &rsa::PrivateKey,
) -> Result<(), Failure> {
    let recipient = id.public_key();
    let identity = dir.join("x25519.key");
    let identity_text = Zeroizing::new(format!(
        "# angou demo identity\n# public key: {recipient}\n{}\n",
        id.encode().as_str()
    ));
    crate::io::write_new_secret_file(&identity, identity_text.as_bytes())?;
    let recipient_file = dir.join("x25519.pub");
    fs::write(&recipient_file, format!("{recipient}\n"))
        .map_err(|e| io_failure("write", &recipient_file, e))?;
    let rsa_private = dir.join("rsa-2048.pem");
    crate::io::write_new_secret_file(&rsa_private, rsa_key.to_pem()?.as_bytes())?;
    let rsa_public = dir.join("rsa-2048.pub.pem");
    fs::write(&rsa_public, rsa_key.public_key().to_pem())
        .map_err(|e| io_failure("write", &rsa_public, e))?;

    let files: [(PathBuf, &str); 4] = [
        (identity, "age identity (secret; age -d -i reads it)"),
        (recipient_file, "age recipient (public)"),
        (rsa_private, "RSA private key, PKCS#8 PEM (secret)"),
        (rsa_public, "RSA public key, SPKI PEM (public)"),
    ];
    println!("\nKey files written (contents not shown):");
    for (path, what) in &files {
        let mode = fs::metadata(path)
            .map_err(|e| io_failure("read", path, e))?
            .permissions()
            .mode()
            & 0o777;
        println!("  {mode:04o}  {:<40} {what}", path.display());
    }
    Ok(())
}

fn hybrid(aead: &AeadRates, pk: &KeyPairs) -> Result<(), Failure> {
    let public = pk.rsa2048.public_key();
    let max = public.max_plaintext_len();
    let k = public.size();
    let cost = format!(
        "RSA-2048 seals at most {max} bytes per operation and one decryption costs {}.",
        dur(pk.rsa2048_decrypt)
    );
    heading(
        "3. Why hybrid encryption exists",
        &[
            cost.as_str(),
            "Hybrid encryption wraps one small random key with the public key and seals the",
            "data under that key with a fast AEAD. Sending 1 MiB to one recipient:",
        ],
    );
    let gcm = Algorithm::Aes256Gcm;
    let (seal_rate, open_rate) = aead.get(gcm)?;
    let data_seal = Duration::from_secs_f64(HYBRID_LEN as f64 / seal_rate);
    let data_open = Duration::from_secs_f64(HYBRID_LEN as f64 / open_rate);
    let ops = HYBRID_LEN.div_ceil(max);
    let times = |d: Duration| d.checked_mul(ops as u32).unwrap_or(Duration::MAX);
    let aead_bytes = HYBRID_LEN + gcm.overhead();

    println!(
        "{:<38} {:>6} {:>10} {:>10} {:>11}",
        "approach", "pk ops", "encrypt", "decrypt", "bytes sent"
    );
    let row = |name: &str, ops: usize, enc: Duration, dec: Duration, sent: usize| {
        println!(
            "{name:<38} {ops:>6} {:>10} {:>10} {sent:>11}",
            dur(enc),
            dur(dec)
        );
    };
    row(
        &format!("RSA-2048 alone, {max}-byte blocks"),
        ops,
        times(pk.rsa2048_encrypt),
        times(pk.rsa2048_decrypt),
        ops * k,
    );
    row(
        "AES-256-GCM alone (key already shared)",
        0,
        data_seal,
        data_open,
        aead_bytes,
    );
    row(
        "hybrid: RSA-2048 wrap + AES-256-GCM",
        1,
        pk.rsa2048_encrypt + data_seal,
        pk.rsa2048_decrypt + data_open,
        k + aead_bytes,
    );
    row(
        "hybrid: X25519 wrap + AES-256-GCM",
        1,
        pk.x25519_wrap + data_seal,
        pk.x25519_unwrap + data_open,
        x25519::KEY_LEN + x25519::WRAPPED_LEN + aead_bytes,
    );
    // Real hybrid round trips: RSA-OAEP carries a fresh 32-byte AES-256-GCM key each time.
    let payload: Vec<u8> = (0..HYBRID_LEN).map(|i| (i % 241) as u8).collect();
    let mut enc_total = Duration::ZERO;
    let mut dec_total = Duration::ZERO;
    let mut last = None;
    for _ in 0..HYBRID_TRIPS {
        let (sent, enc_time) = timed(|| -> Result<_, Failure> {
            let data_key = Key::generate()?;
            let wrapped_key = public.encrypt(LABEL, data_key.expose_secret())?;
            let sealed = aead::seal(gcm, &data_key, &wrapped_key, &payload)?;
            Ok((wrapped_key, sealed))
        });
        let (wrapped_key, sealed) = sent?;
        let (opened, dec_time) = timed(|| -> Result<_, Failure> {
            let key_bytes = pk.rsa2048.decrypt(LABEL, &wrapped_key)?;
            let data_key = Key::from_secret(SecretArray::from_slice(key_bytes.expose_secret())?);
            Ok(aead::open(gcm, &data_key, &wrapped_key, &sealed)?)
        });
        if opened?.expose_secret() != payload.as_slice() {
            return Err(self_check("hybrid round trip returned different data"));
        }
        enc_total += enc_time;
        dec_total += dec_time;
        last = Some((wrapped_key.len(), sealed.len()));
    }
    let (wrapped_len, sealed_len) = last.ok_or_else(|| self_check("no hybrid round trip"))?;
    row(
        "measured: real RSA-2048 hybrid trips",
        1,
        enc_total / HYBRID_TRIPS,
        dec_total / HYBRID_TRIPS,
        wrapped_len + sealed_len,
    );
    println!("\nRows 1-4: computed from sections 1 and 2 (X25519 wraps a 16-byte file key; the");
    println!(
        "AEAD key is derived from it, as age does). Last row: mean of {HYBRID_TRIPS} real round trips,"
    );
    println!("each a fresh AES-256-GCM key, RSA-wrapped, sealed, unwrapped, opened and compared;");
    println!("each sends {wrapped_len} bytes of wrapped key + {sealed_len} bytes of ciphertext,");
    println!("and the wrapped key is the ciphertext's associated data, binding the two.");
    Ok(())
}

fn files(dir: &Path, pk: &KeyPairs) -> Result<(), Failure> {
    heading(
        "4. Files (age v1 format; age and rage read these)",
        &[
            "One random file key per file, wrapped once per recipient; the payload is sealed",
            "in 64 KiB chunks under a key derived from it.",
        ],
    );
    let plain: Vec<u8> = (0..FILE_LEN).map(|i| (i % 251) as u8).collect();
    let x_id = &pk.x25519;
    let x_pub = x_id.public_key();
    let rsa_id = &pk.rsa2048;
    let rsa_pub = rsa_id.public_key();
    let sym = SymmetricKey::generate()?;
    let pass = || SecretVec::from_vec(b"correct horse battery staple".to_vec());
    let pass_recipient = PassphraseRecipient::new(pass());
    let pass_id = PassphraseIdentity::new(pass());
    type Case<'a> = (
        &'a str,
        Vec<&'a dyn Recipient>,
        &'a dyn Identity,
        PayloadCipher,
    );
    let cases: Vec<Case> = vec![
        (
            "X25519",
            vec![&x_pub],
            x_id,
            PayloadCipher::ChaCha20Poly1305,
        ),
        (
            "RSA-2048",
            vec![&rsa_pub],
            rsa_id,
            PayloadCipher::ChaCha20Poly1305,
        ),
        (
            "symmetric key",
            vec![&sym],
            &sym,
            PayloadCipher::ChaCha20Poly1305,
        ),
        (
            "passphrase (scrypt 2^18)",
            vec![&pass_recipient],
            &pass_id,
            PayloadCipher::ChaCha20Poly1305,
        ),
        (
            "all three keys, AES-256-GCM",
            vec![&x_pub, &rsa_pub, &sym],
            rsa_id,
            PayloadCipher::Aes256Gcm,
        ),
    ];
    println!(
        "{:<30} {:>8} {:>10} {:>10}  verified",
        "recipients", "header", "encrypt", "decrypt"
    );
    for (i, (name, recipients, identity, cipher)) in cases.into_iter().enumerate() {
        let out_path = dir.join(format!("file{i}.age"));
        let t = Instant::now();
        let mut out =
            fs::File::create(&out_path).map_err(|e| io_failure("create", &out_path, e))?;
        let mut w = Encryptor::with_recipients(recipients)?
            .with_cipher(cipher)
            .wrap_output(&mut out)?;
        w.write_all(&plain)?;
        w.finish()?;
        let enc = t.elapsed();
        let t = Instant::now();
        let file = fs::File::open(&out_path).map_err(|e| io_failure("open", &out_path, e))?;
        let d = Decryptor::new(std::io::BufReader::new(file))?;
        let header = d.header().encoded_len();
        let mut r = d.decrypt([identity])?;
        let mut back = Vec::with_capacity(FILE_LEN);
        r.read_to_end(&mut back)?;
        let dec = t.elapsed();
        let ok = back == plain;
        println!(
            "{:<30} {:>6} B {:>10} {:>10}  {}",
            name,
            header,
            dur(enc),
            dur(dec),
            if ok { "yes" } else { "NO" }
        );
        if !ok {
            return Err(self_check(format!("{name} file round trip failed")));
        }
    }
    println!(
        "\n{} MiB file each, written to and read back from the working folder. The passphrase",
        FILE_LEN / MIB
    );
    println!("row is dominated by scrypt's deliberate work factor, not by the encryption.");
    Ok(())
}

/// Section 5: envelope encryption through the local KMS, in an embedded store in the
/// working folder.
fn envelope(dir: &Path) -> Result<(), Failure> {
    use angou::kms::{Clock, DataKeySize, EncryptionContext, KeySpec, Kms};
    use base64ct::{Base64, Encoding};
    heading(
        "5. Envelope encryption with the local KMS",
        &[
            "The master key never leaves the key store. GenerateDataKey returns a fresh data key",
            "twice: in plaintext, to encrypt locally, and encrypted under the master key, to store",
            "beside the ciphertext. The encryption context is bound to the encrypted data key.",
        ],
    );
    let home = dir.join("kms");
    let kms = Kms::open(&home, Clock::System);
    let meta = kms.create_key("demo master key", KeySpec::SymmetricDefault)?;
    let key_id = meta.key_id.to_string();
    kms.create_alias("alias/demo", &key_id)?;
    println!("key store: {} (created on first use)", home.display());
    println!(
        "master key: {} = alias/demo, material {}",
        key_id, meta.current_key_material_id
    );
    let mut ctx = EncryptionContext::new();
    ctx.insert("purpose", "demo");
    ctx.insert("team", "blue");
    let (dk, t_gen) = timed(|| kms.generate_data_key("alias/demo", DataKeySize::Aes256, &ctx));
    let dk = dk?;
    let shown = Base64::encode_string(&dk.plaintext.expose_secret()[..6]);
    println!(
        "\nGenerateDataKey ({}): data key {shown}… (32 bytes, plaintext; this demo's, discarded)",
        dur(t_gen)
    );
    println!(
        "  encrypted data key: {} bytes, names key and material",
        dk.ciphertext_blob.len()
    );
    // Encrypt 1 MiB locally with the data key, then forget the plaintext key.
    let payload = vec![0x65u8; MIB];
    let data_key = Key::from_secret(SecretArray::from_slice(dk.plaintext.expose_secret())?);
    let sealed =
        Cipher::new(Algorithm::Aes256Gcm, &data_key).seal(&dk.ciphertext_blob, &payload)?;
    drop(data_key);
    let stored_len = dk.ciphertext_blob.len() + sealed.len();
    let blob = dk.ciphertext_blob.clone();
    drop(dk);
    println!(
        "  stored: {} bytes of encrypted data key + {} bytes of ciphertext = {stored_len} bytes",
        blob.len(),
        sealed.len()
    );
    // Later: ask the KMS to decrypt the data key (same context), then open locally.
    let open = |kms: &Kms, ctx: &EncryptionContext| -> Result<(Vec<u8>, String), Failure> {
        let d = kms.decrypt(&blob, ctx, None)?;
        let k = Key::from_secret(SecretArray::from_slice(d.plaintext.expose_secret())?);
        let pt = Cipher::new(Algorithm::Aes256Gcm, &k).open(&blob, &sealed)?;
        Ok((
            pt.expose_secret().to_vec(),
            d.key_material_id.unwrap_or_default(),
        ))
    };
    let (back, material) = open(&kms, &ctx)?;
    if back != payload {
        return Err(self_check("the envelope round trip returned other bytes"));
    }
    println!("Decrypt + open: 1 MiB back intact (data key from material {material})");
    let mut wrong = ctx.clone();
    wrong.insert("team", "red");
    let refused = kms.decrypt(&blob, &wrong, None).is_err();
    println!(
        "Decrypt with context team=red: {}",
        if refused {
            "refused (InvalidCiphertext)"
        } else {
            "ACCEPTED"
        }
    );
    if !refused {
        return Err(self_check("a wrong encryption context was accepted"));
    }
    // Rotation: new material for new data keys; the old encrypted data key still works.
    kms.rotate_key_on_demand("alias/demo")?;
    let new_dk =
        kms.generate_data_key_without_plaintext("alias/demo", DataKeySize::Aes256, &ctx)?;
    let (again, old_material) = open(&kms, &ctx)?;
    if again != payload {
        return Err(self_check(
            "the old data key stopped decrypting after rotation",
        ));
    }
    println!(
        "RotateKeyOnDemand: new data keys use material {}; the old one still decrypts (material {old_material})",
        new_dk.key_material_id.unwrap_or_default()
    );
    let n = kms.audit_verify()?;
    println!("Audit trail: {n} entries, hash chain and sealed head verified");
    println!(
        "(CLI: angou kms generate-data-key --key-id alias/demo --key-spec AES_256 -c team=blue)"
    );
    Ok(())
}

/// A storage service that encrypts on the server side: it receives plaintext and encrypts
/// each object with a data key from the KMS key it was configured with (as a cloud object
/// store does), then decrypts for whoever reads.
struct StorageService<'a> {
    kms: &'a angou::kms::Kms,
    key: &'a str,
    objects: Vec<(String, Vec<u8>, Vec<u8>)>,
    plaintext_seen: usize,
}

impl StorageService<'_> {
    fn context(name: &str) -> angou::kms::EncryptionContext {
        let mut ctx = angou::kms::EncryptionContext::new();
        ctx.insert("service", "demo-storage");
        ctx.insert("object", name);
        ctx
    }

    fn put(&mut self, name: &str, plaintext: &[u8]) -> Result<(), Failure> {
        self.plaintext_seen += plaintext.len();
        let dk = self.kms.generate_data_key(
            self.key,
            angou::kms::DataKeySize::Aes256,
            &Self::context(name),
        )?;
        let k = Key::from_secret(SecretArray::from_slice(dk.plaintext.expose_secret())?);
        let sealed = Cipher::new(Algorithm::Aes256Gcm, &k).seal(name.as_bytes(), plaintext)?;
        self.objects
            .push((name.to_owned(), dk.ciphertext_blob.clone(), sealed));
        Ok(())
    }

    fn get(&self, name: &str) -> Result<Vec<u8>, Failure> {
        let (_, blob, sealed) = self
            .objects
            .iter()
            .find(|(n, _, _)| n == name)
            .ok_or_else(|| self_check(format!("no object {name}")))?;
        let d = self.kms.decrypt(blob, &Self::context(name), None)?;
        let k = Key::from_secret(SecretArray::from_slice(d.plaintext.expose_secret())?);
        let pt = Cipher::new(Algorithm::Aes256Gcm, &k).open(name.as_bytes(), sealed)?;
        Ok(pt.expose_secret().to_vec())
    }
}

fn client_or_server_side(dir: &Path) -> Result<(), Failure> {
    use angou::kms::{Clock, DataKeySize, EncryptionContext, KeyManager, Kms};
    heading(
        "6. Client-side or server-side encryption, and whose key",
        &[
            "Client-side (what angou does): you encrypt before the data leaves you, so the",
            "storage service only ever holds ciphertext. Server-side: the service receives your",
            "plaintext and encrypts it with a KMS key, then decrypts it for whoever may read.",
            "The key is either customer-managed (yours: you can disable it) or managed by the",
            "service (alias/angou/default here, the local twin of a cloud's aws/<service> key).",
        ],
    );
    let kms = Kms::open(dir.join("kms"), Clock::System);
    let report: &[u8] = b"Q3 revenue: 1.2M; do not share outside finance";

    // Client-side, with the customer-managed key of section 5.
    let mut ctx = EncryptionContext::new();
    ctx.insert("object", "q3.txt");
    let dk = kms.generate_data_key("alias/demo", DataKeySize::Aes256, &ctx)?;
    let k = Key::from_secret(SecretArray::from_slice(dk.plaintext.expose_secret())?);
    let uploaded = Cipher::new(Algorithm::Aes256Gcm, &k).seal(&dk.ciphertext_blob, report)?;
    drop(k);
    // The client uploads bytes the service cannot read, with the encrypted data key beside
    // them; only a caller the KMS lets decrypt that data key can open them.
    let readable = uploaded
        .windows(report.len().min(8))
        .any(|w| w == &report[..report.len().min(8)]);
    println!(
        "client-side:  the service received {} bytes: the encrypted data key and the ciphertext;",
        uploaded.len() + dk.ciphertext_blob.len()
    );
    println!(
        "  the plaintext never left you (its first bytes appear in the upload: {})",
        if readable { "YES" } else { "no" }
    );
    if readable {
        return Err(self_check("client-side upload contains plaintext"));
    }
    drop(dk);

    // Server-side with the service-managed default key.
    let mut managed = StorageService {
        kms: &kms,
        key: "alias/angou/default",
        objects: Vec::new(),
        plaintext_seen: 0,
    };
    managed.put("q3.txt", report)?;
    let back = managed.get("q3.txt")?;
    if back != report {
        return Err(self_check("server-side round trip returned other bytes"));
    }
    let default = kms.describe_key("alias/angou/default")?;
    let can_disable = kms.disable_key("alias/angou/default").is_ok();
    println!(
        "server-side, service-managed key (KeyManager {}): the service saw {} bytes of plaintext",
        if default.key_manager == KeyManager::Angou {
            "ANGOU"
        } else {
            "CUSTOMER"
        },
        managed.plaintext_seen
    );
    println!(
        "  and returns it to any reader it trusts; you cannot disable its key: {}",
        if can_disable { "DISABLED" } else { "refused" }
    );
    if can_disable {
        return Err(self_check("a service-managed key was disabled"));
    }

    // Server-side with the customer-managed key: the customer holds the off switch.
    let mut customer = StorageService {
        kms: &kms,
        key: "alias/demo",
        objects: Vec::new(),
        plaintext_seen: 0,
    };
    customer.put("q3.txt", report)?;
    kms.disable_key("alias/demo")?;
    let blocked = customer.get("q3.txt").is_err();
    kms.enable_key("alias/demo")?;
    let after = customer.get("q3.txt")?;
    println!(
        "server-side, customer-managed key: the service saw {} bytes of plaintext; with the key",
        customer.plaintext_seen
    );
    println!(
        "  disabled it cannot read the object ({}); enabled again, it can ({})",
        if blocked { "refused" } else { "READ" },
        if after == report { "ok" } else { "FAILED" }
    );
    if !blocked || after != report {
        return Err(self_check(
            "disabling the customer key did not stop the service",
        ));
    }
    println!(
        "\n{:<32} {:<18} {:<20} who can cut off reads",
        "", "sees plaintext", "holds the key"
    );
    for (what, sees, holds, revoke) in [
        (
            "client-side, your key",
            "only you",
            "you (via the KMS)",
            "you",
        ),
        (
            "server-side, customer-managed",
            "the service",
            "you (via the KMS)",
            "you: disable the key",
        ),
        (
            "server-side, service-managed",
            "the service",
            "the service",
            "only the service",
        ),
    ] {
        println!("{what:<32} {sees:<18} {holds:<20} {revoke}");
    }
    println!(
        "Every one of these KMS calls is in the audit trail, with the service's context: {} entries now.",
        kms.audit_verify()?
    );
    Ok(())
}
