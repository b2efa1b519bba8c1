//! Section 1: shared-key encryption (AEAD), measured and attacked.

use std::time::{Duration, Instant};

use angou::aead::{Algorithm, Cipher, Key};

use super::{AEAD_BUF_LEN, AEAD_CHUNK_LEN, AEAD_ROUNDS, MIB, heading, rate, self_check};
use crate::failure::Failure;

/// Section 1's measurements, in bytes per second, per algorithm.
pub(super) struct AeadRates(Vec<(Algorithm, f64, f64)>);

impl AeadRates {
    pub(super) fn get(&self, alg: Algorithm) -> Result<(f64, f64), Failure> {
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

pub(super) fn shared_key() -> Result<AeadRates, Failure> {
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
