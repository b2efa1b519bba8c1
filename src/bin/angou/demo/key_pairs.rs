//! Section 2: key pairs (X25519, RSA-OAEP), measured, and written as `angou keygen` does.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use angou::pk::{rsa, x25519};
use angou::secret::FileKey;
use zeroize::Zeroizing;

use super::{
    LABEL, RSA_DECRYPT_OPS, RSA_ENCRYPT_OPS, X25519_OPS, bytes, dur, heading, io_failure,
    self_check, stanza_len, time_per, timed,
};
use crate::failure::Failure;

/// Section 2's keys and measurements, reused by sections 3 and 4.
pub(super) struct KeyPairs {
    pub(super) x25519: x25519::SecretKey,
    pub(super) x25519_wrap: Duration,
    pub(super) x25519_unwrap: Duration,
    pub(super) rsa2048: rsa::PrivateKey,
    pub(super) rsa2048_encrypt: Duration,
    pub(super) rsa2048_decrypt: Duration,
}

pub(super) fn key_pairs(dir: &Path) -> Result<KeyPairs, Failure> {
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
