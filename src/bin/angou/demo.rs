//! `angou demo`: the two halves of modern encryption side by side, measured on this machine.
//!
//! Runs in a fresh temporary directory (removed at the end) with no set-up. Every number
//! printed is measured in this run.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use angou::aead::{Algorithm, Cipher, Key};
use angou::format::header::PayloadCipher;
use angou::format::{Decryptor, Encryptor};
use angou::passphrase::{PassphraseIdentity, PassphraseRecipient};
use angou::pk::{rsa, x25519};
use angou::recipient::{Identity, Recipient, SymmetricKey};
use angou::secret::{FileKey, SecretVec};

use crate::failure::Failure;

const MIB: usize = 1024 * 1024;

fn rate(bytes: usize, t: Duration) -> String {
    let per_sec = bytes as f64 / t.as_secs_f64();
    if per_sec >= 1e9 {
        format!("{:.2} GB/s", per_sec / 1e9)
    } else {
        format!("{:.0} MB/s", per_sec / 1e6)
    }
}

fn micros(t: Duration) -> String {
    let us = t.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
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

fn heading(title: &str, line: &str) {
    println!("\n== {title} ==");
    println!("{line}");
}

fn fail<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> Failure + '_ {
    move |e| Failure::new(format!("demo: {what}: {e}"))
}

pub fn run() -> Result<(), Failure> {
    let dir = tempfile::Builder::new()
        .prefix("angou-demo-")
        .tempdir()
        .map_err(fail("cannot create a temporary directory"))?;
    println!("angou demo — every figure below was measured just now on this machine.");
    println!("working in {} (removed at the end)", dir.path().display());

    let aead_rates = shared_key()?;
    let pk = key_pairs(dir.path())?;
    hybrid(&aead_rates, &pk)?;
    files(dir.path())?;
    println!(
        "\nDone. Try it yourself: angou keygen -o me.key; angou encrypt -r age1… -o file.age file"
    );
    Ok(())
}

/// Seal throughput in bytes per second, per algorithm.
struct AeadRates(Vec<(Algorithm, f64)>);

fn shared_key() -> Result<AeadRates, Failure> {
    heading(
        "1. Shared-key encryption (AEAD)",
        "Both sides hold the same 256-bit key. Fast, but the key itself must reach the other side safely.",
    );
    let key = Key::generate()?;
    let size = 16 * MIB;
    let rounds = 8;
    println!(
        "{:<20} {:>12} {:>12} {:>22}",
        "algorithm", "seal", "open", "tampered / wrong AAD"
    );
    let mut rates = Vec::new();
    for alg in Algorithm::ALL {
        let cipher = Cipher::new(alg, &key);
        let mut buf = vec![0x61u8; size];
        let mut sealed = Vec::new();
        let seal = time_per(rounds, || {
            buf.fill(0x61);
            sealed.push(cipher.seal_in_place_detached(b"demo", &mut buf));
        });
        let (nonce, tag) = sealed
            .pop()
            .ok_or_else(|| Failure::new("demo: nothing sealed"))??;
        let ciphertext = buf.clone();
        let open = time_per(rounds, || {
            buf.copy_from_slice(&ciphertext);
            cipher.open_in_place_detached(&nonce, b"demo", &mut buf, &tag)
        });
        let round_trip = buf.iter().all(|&b| b == 0x61);
        let mut flipped = ciphertext.clone();
        flipped[size / 2] ^= 1;
        let tamper_rejected = cipher
            .open_in_place_detached(&nonce, b"demo", &mut flipped, &tag)
            .is_err();
        let mut again = ciphertext.clone();
        let aad_rejected = cipher
            .open_in_place_detached(&nonce, b"other", &mut again, &tag)
            .is_err();
        if !round_trip || !tamper_rejected || !aad_rejected {
            return Err(Failure::new(format!(
                "demo: {alg} did not behave as an AEAD must"
            )));
        }
        println!(
            "{:<20} {:>12} {:>12} {:>22}",
            alg.name(),
            rate(size, seal),
            rate(size, open),
            "rejected / rejected"
        );
        rates.push((alg, size as f64 / seal.as_secs_f64()));
    }
    println!(
        "(16 MiB buffers, {rounds} rounds each; nonces are chosen by angou, never by the caller)"
    );
    Ok(AeadRates(rates))
}

/// What the key-pair section measured, for the hybrid comparison.
struct PkFigures {
    rsa2048_encrypt: Duration,
    rsa2048_decrypt: Duration,
    rsa2048_max: usize,
    x25519_wrap: Duration,
    x25519_unwrap: Duration,
}

fn key_pairs(dir: &Path) -> Result<PkFigures, Failure> {
    heading(
        "2. Key-pair encryption (public key)",
        "Anyone may encrypt to a public key; only the private key decrypts. Slow, and it seals only a few bytes.",
    );
    // X25519, age-compatible.
    let t = Instant::now();
    let id = x25519::SecretKey::generate()?;
    let x_gen = t.elapsed();
    let recipient = id.public_key();
    let file_key = FileKey::generate()?;
    let x_wrap = time_per(200, || recipient.wrap(&file_key));
    let wrapped = recipient.wrap(&file_key)?;
    let x_unwrap = time_per(200, || id.unwrap(&wrapped));
    if id.unwrap(&wrapped)?.expose_secret() != file_key.expose_secret() {
        return Err(Failure::new("demo: x25519 round trip failed"));
    }
    let id_path = dir.join("x25519.key");
    crate::io::write_new_secret_file(
        &id_path,
        format!("# public key: {recipient}\n{}\n", id.encode().as_str()).as_bytes(),
    )?;
    println!("X25519 recipient (public, shareable): {recipient}");
    println!(
        "X25519 identity written to {} (mode 0600)",
        id_path.display()
    );

    println!(
        "\n{:<14} {:>10} {:>14} {:>14} {:>16}",
        "key", "generate", "wrap (encrypt)", "unwrap", "max bytes/op"
    );
    println!(
        "{:<14} {:>10} {:>14} {:>14} {:>16}",
        "X25519",
        micros(x_gen),
        micros(x_wrap),
        micros(x_unwrap),
        "16 (a file key)"
    );
    let mut rsa2048 = None;
    for bits in [2048usize, 3072, 4096] {
        let t = Instant::now();
        let key = rsa::PrivateKey::generate(bits)?;
        let gen_time = t.elapsed();
        let public = key.public_key();
        let max = public.max_plaintext_len();
        let msg = vec![0x6bu8; max];
        let enc = time_per(20, || public.encrypt(b"demo", &msg));
        let sealed = public.encrypt(b"demo", &msg)?;
        let dec = time_per(5, || key.decrypt(b"demo", &sealed));
        if key.decrypt(b"demo", &sealed)?.expose_secret() != msg.as_slice() {
            return Err(Failure::new("demo: rsa round trip failed"));
        }
        println!(
            "{:<14} {:>10} {:>14} {:>14} {:>16}",
            format!("RSA-{bits}"),
            micros(gen_time),
            micros(enc),
            micros(dec),
            format!("{max} (k - 66)")
        );
        if bits == 2048 {
            let too_long = public.encrypt(b"demo", &vec![0u8; max + 1]);
            let err = too_long.err().map(|e| e.to_string()).unwrap_or_default();
            let pem = dir.join("rsa-2048.pem");
            let pem_text = key.to_pem()?;
            crate::io::write_new_secret_file(&pem, pem_text.as_bytes())?;
            fs::write(dir.join("rsa-2048.pub.pem"), public.to_pem())
                .map_err(fail("cannot write"))?;
            rsa2048 = Some((enc, dec, max, err, pem));
        }
    }
    let (enc, dec, max, err, pem) =
        rsa2048.ok_or_else(|| Failure::new("demo: no RSA-2048 figures"))?;
    println!(
        "RSA-2048 private key written to {} (PKCS#8 PEM, openssl reads it)",
        pem.display()
    );
    println!("Sealing {} bytes with RSA-2048 fails: {err}", max + 1);
    Ok(PkFigures {
        rsa2048_encrypt: enc,
        rsa2048_decrypt: dec,
        rsa2048_max: max,
        x25519_wrap: x_wrap,
        x25519_unwrap: x_unwrap,
    })
}

fn hybrid(aead: &AeadRates, pk: &PkFigures) -> Result<(), Failure> {
    heading(
        "3. Why hybrid encryption exists",
        "Public-key operations wrap one small random key; the fast AEAD encrypts the data with it.",
    );
    let data = MIB;
    let ops = data.div_ceil(pk.rsa2048_max);
    let rsa_direct_enc = pk.rsa2048_encrypt * ops as u32;
    let rsa_direct_dec = pk.rsa2048_decrypt * ops as u32;
    let gcm = aead
        .0
        .iter()
        .find(|(a, _)| *a == Algorithm::Aes256Gcm)
        .map(|(_, r)| *r)
        .unwrap_or(1.0);
    let aead_time = Duration::from_secs_f64(data as f64 / gcm);
    println!("To encrypt 1 MiB for one recipient:");
    println!(
        "  RSA-2048 alone : {ops} operations of {} bytes → encrypt {}, decrypt {}",
        pk.rsa2048_max,
        micros(rsa_direct_enc),
        micros(rsa_direct_dec)
    );
    println!(
        "  AES-256-GCM    : {} for the data ({:.2} GB/s) — but the key must still reach the recipient",
        micros(aead_time),
        gcm / 1e9
    );
    println!(
        "  hybrid (RSA)   : 1 RSA wrap + AEAD → encrypt {}, decrypt {}",
        micros(pk.rsa2048_encrypt + aead_time),
        micros(pk.rsa2048_decrypt + aead_time)
    );
    println!(
        "  hybrid (X25519): 1 X25519 wrap + AEAD → encrypt {}, decrypt {}",
        micros(pk.x25519_wrap + aead_time),
        micros(pk.x25519_unwrap + aead_time)
    );
    // One real hybrid round trip: RSA-OAEP carries a fresh AEAD key.
    let rsa_key = rsa::PrivateKey::generate(2048)?;
    let data_key = Key::generate()?;
    let wrapped = rsa_key
        .public_key()
        .encrypt(b"angou demo hybrid", data_key.expose_secret())?;
    let payload = vec![0x68u8; data];
    let sealed = Cipher::new(Algorithm::Aes256Gcm, &data_key).seal(b"", &payload)?;
    let unwrapped = rsa_key.decrypt(b"angou demo hybrid", &wrapped)?;
    let key_again = Key::from_secret(angou::secret::SecretArray::from_slice(
        unwrapped.expose_secret(),
    )?);
    let opened = Cipher::new(Algorithm::Aes256Gcm, &key_again).open(b"", &sealed)?;
    if opened.expose_secret() != payload.as_slice() {
        return Err(Failure::new("demo: hybrid round trip failed"));
    }
    println!(
        "Round trip done: {} bytes of RSA-wrapped key + {} bytes of AEAD ciphertext for 1 MiB.",
        wrapped.len(),
        sealed.len()
    );
    Ok(())
}

fn files(dir: &Path) -> Result<(), Failure> {
    heading(
        "4. Files (age v1 format; age and rage read these)",
        "One file key per file, wrapped once per recipient; the payload is sealed in 64 KiB chunks.",
    );
    let size = 8 * MIB;
    let plain: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let plain_path = dir.join("plain.bin");
    fs::write(&plain_path, &plain).map_err(fail("cannot write the sample file"))?;
    let x_id = x25519::SecretKey::generate()?;
    let x_pub = x_id.public_key();
    let rsa_id = rsa::PrivateKey::generate(2048)?;
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
            &x_id,
            PayloadCipher::ChaCha20Poly1305,
        ),
        (
            "RSA-2048",
            vec![&rsa_pub],
            &rsa_id,
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
            &rsa_id,
            PayloadCipher::Aes256Gcm,
        ),
    ];
    println!(
        "{:<30} {:>10} {:>12} {:>12} {:>9}",
        "recipients", "header", "encrypt", "decrypt", "verified"
    );
    for (i, (name, recipients, identity, cipher)) in cases.into_iter().enumerate() {
        let out_path = dir.join(format!("file{i}.age"));
        let t = Instant::now();
        let mut out = fs::File::create(&out_path).map_err(fail("cannot create"))?;
        let mut w = Encryptor::with_recipients(recipients)?
            .with_cipher(cipher)
            .wrap_output(&mut out)?;
        w.write_all(&plain)?;
        w.finish()?;
        let enc = t.elapsed();
        let t = Instant::now();
        let file = fs::File::open(&out_path).map_err(fail("cannot open"))?;
        let d = Decryptor::new(std::io::BufReader::new(file))?;
        let header = d.header().encoded_len();
        let mut r = d.decrypt([identity])?;
        let mut back = Vec::with_capacity(size);
        r.read_to_end(&mut back)?;
        let dec = t.elapsed();
        let ok = back == plain;
        println!(
            "{:<30} {:>8} B {:>12} {:>12} {:>9}",
            name,
            header,
            micros(enc),
            micros(dec),
            if ok { "yes" } else { "NO" }
        );
        if !ok {
            return Err(Failure::new(format!("demo: {name} round trip failed")));
        }
    }
    println!("(8 MiB file; the passphrase row is dominated by scrypt's deliberate work factor)");
    Ok(())
}
