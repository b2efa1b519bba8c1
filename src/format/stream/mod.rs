//! The payload: a 16-byte nonce, then STREAM chunks (age v1 §"Payload").
//!
//! The payload key is `HKDF-SHA-256(ikm = file key, salt = nonce, info = label)` where the
//! label is `payload` for age v1 (ChaCha20-Poly1305) and `angou.dev/v1/aes-256-gcm payload`
//! for the AES-256-GCM variant. The plaintext is cut into chunks of [`CHUNK_LEN`] bytes;
//! chunk `i` is sealed with nonce `i` as an 11-byte big-endian counter followed by one byte,
//! `0x01` for the last chunk and `0x00` otherwise, and empty associated data. The last
//! chunk may be full; it may be empty only when the whole plaintext is empty.
//!
//! [`StreamReader`] releases a chunk only after its tag verifies, and knows a chunk is the
//! last one only by reaching the end of input after it, so truncation, reordering,
//! duplication and trailing data all fail.
//!
//! Both adapters seal or open batches of 8 chunks on a pool of worker
//! threads (one per core but one, at most 8) while the calling thread reads,
//! writes, and seals or opens a batch itself whenever every worker has two queued. Batches
//! are written or released strictly in order, with at most two per worker plus one in
//! flight, so memory stays constant for any input size (and within a batch or two of what a
//! 1 MiB file needs). Output is byte-identical to sealing the chunks one by one; on one
//! core, and for inputs that fit in one batch, no thread is started.

use hkdf::Hkdf;
use sha2::Sha256;

use super::header::PayloadCipher;
use crate::aead::hazmat::LessSafeKey;
use crate::aead::{Key, TAG_LEN};
use crate::secret::{FileKey, SecretArray};

mod pipeline;
mod reader;
mod writer;

pub use reader::StreamReader;
pub use writer::StreamWriter;

/// Plaintext bytes per chunk.
pub const CHUNK_LEN: usize = 64 * 1024;
/// Ciphertext bytes per full chunk.
pub const ENCRYPTED_CHUNK_LEN: usize = CHUNK_LEN + TAG_LEN;
/// Length of the payload nonce that salts the payload key, in bytes.
pub const PAYLOAD_NONCE_LEN: usize = 16;
/// HKDF info of the age v1 payload key.
pub(crate) const PAYLOAD_LABEL_AGE: &[u8] = b"payload";
/// HKDF info of the AES-256-GCM variant's payload key.
pub(crate) const PAYLOAD_LABEL_AES: &[u8] = b"angou.dev/v1/aes-256-gcm payload";

/// The payload key for `cipher`, from the file key and payload nonce.
pub(crate) fn payload_key(
    cipher: PayloadCipher,
    file_key: &FileKey,
    nonce: &[u8; PAYLOAD_NONCE_LEN],
) -> LessSafeKey {
    let label = match cipher {
        PayloadCipher::ChaCha20Poly1305 => PAYLOAD_LABEL_AGE,
        PayloadCipher::Aes256Gcm => PAYLOAD_LABEL_AES,
    };
    let mut okm = SecretArray::<32>::zeroed();
    // 32 bytes never exceeds HKDF-SHA-256's output limit.
    let _ = Hkdf::<Sha256>::new(Some(nonce), file_key.expose_secret())
        .expand(label, okm.expose_secret_mut());
    LessSafeKey::new(cipher.algorithm(), &Key::from_secret(okm))
}

/// The 12-byte nonce of chunk `counter`.
pub(crate) fn chunk_nonce(counter: u64, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::pipeline::BATCH_CHUNKS;
    use super::*;
    use crate::aead::Algorithm;
    use crate::error::{Error, FormatError};

    fn key() -> LessSafeKey {
        LessSafeKey::new(
            Algorithm::ChaCha20Poly1305,
            &Key::from_secret(SecretArray::from_array([7u8; 32])),
        )
    }

    /// The format by the book: one chunk at a time, no batches, no threads.
    fn reference(plain: &[u8]) -> Vec<u8> {
        let k = key();
        let mut out = Vec::new();
        let chunks: Vec<&[u8]> = if plain.is_empty() {
            vec![&[][..]]
        } else {
            plain.chunks(CHUNK_LEN).collect()
        };
        for (i, c) in chunks.iter().enumerate() {
            let mut buf = c.to_vec();
            let tag = k
                .seal_in_place_detached(
                    &chunk_nonce(i as u64, i + 1 == chunks.len()),
                    b"",
                    &mut buf,
                )
                .unwrap();
            out.extend_from_slice(&buf);
            out.extend_from_slice(&tag);
        }
        out
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn parallel_output_is_byte_identical_to_the_reference() {
        let sizes = [
            0,
            1,
            CHUNK_LEN - 1,
            CHUNK_LEN,
            CHUNK_LEN + 1,
            BATCH_CHUNKS * CHUNK_LEN,
            BATCH_CHUNKS * CHUNK_LEN + 1,
            3 * BATCH_CHUNKS * CHUNK_LEN + 12345,
            2 * BATCH_CHUNKS * CHUNK_LEN,
        ];
        // 0 workers: everything inline; 1: the two-core split; 3: more workers than batches
        // in flight at the start.
        for (len, workers) in sizes
            .into_iter()
            .flat_map(|l| [0, 1, 3].map(move |w| (l, w)))
        {
            let plain = pattern(len);
            let expected = reference(&plain);
            let what = format!("len {len}, {workers} workers");
            // Through Write, in odd pieces.
            let mut w = StreamWriter::with_workers(Vec::new(), key(), workers);
            for piece in plain.chunks(70_001) {
                w.write_all(piece).unwrap();
            }
            assert_eq!(w.finish().unwrap(), expected, "write, {what}");
            // Through copy_from.
            let mut w = StreamWriter::with_workers(Vec::new(), key(), workers);
            w.copy_from(&mut &plain[..]).unwrap();
            assert_eq!(w.finish().unwrap(), expected, "copy_from, {what}");
            // And back, through Read and through copy_to.
            let mut r = StreamReader::with_workers(&expected[..], key(), workers);
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, plain, "read, {what}");
            let mut r = StreamReader::with_workers(&expected[..], key(), workers);
            let mut got = Vec::new();
            r.copy_to(&mut got).unwrap();
            assert_eq!(got, plain, "copy_to, {what}");
        }
    }

    #[test]
    fn releases_only_verified_chunks_before_a_bad_one() {
        let plain = pattern(4 * BATCH_CHUNKS * CHUNK_LEN + 100);
        let mut enc = reference(&plain);
        let bad_chunk = 3 * BATCH_CHUNKS + 2;
        enc[bad_chunk * ENCRYPTED_CHUNK_LEN + 5] ^= 1;
        for workers in [0, 1, 3] {
            let mut r = StreamReader::with_workers(&enc[..], key(), workers);
            let mut got = Vec::new();
            let err = r.copy_to(&mut got).unwrap_err();
            assert!(matches!(
                Error::from_io(err),
                Error::Format(FormatError::PayloadAuthentication)
            ));
            assert_eq!(got, plain[..bad_chunk * CHUNK_LEN], "{workers} workers");
        }
    }
}
