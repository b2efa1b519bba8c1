//! Section 3: hybrid encryption, a key pair wrapping a shared key, against key pairs alone.

use std::time::Duration;

use angou::aead::{self, Algorithm, Key};
use angou::pk::x25519;
use angou::secret::SecretArray;

use super::key_pairs::KeyPairs;
use super::shared_key::AeadRates;
use super::{HYBRID_LEN, HYBRID_TRIPS, LABEL, dur, heading, self_check, timed};
use crate::failure::Failure;

pub(super) fn hybrid(aead: &AeadRates, pk: &KeyPairs) -> Result<(), Failure> {
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
