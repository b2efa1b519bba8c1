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

use std::io::{self, Read, Write};

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::header::PayloadCipher;
use crate::aead::hazmat::LessSafeKey;
use crate::aead::{Key, TAG_LEN};
use crate::error::{Error, FormatError};
use crate::secret::{FileKey, SecretArray};

/// Plaintext bytes per chunk.
pub const CHUNK_LEN: usize = 64 * 1024;
/// Ciphertext bytes per full chunk.
pub const ENCRYPTED_CHUNK_LEN: usize = CHUNK_LEN + TAG_LEN;
/// Length of the payload nonce that salts the payload key, in bytes.
pub const PAYLOAD_NONCE_LEN: usize = 16;
/// HKDF info of the age v1 payload key.
pub const PAYLOAD_LABEL_AGE: &[u8] = b"payload";
/// HKDF info of the AES-256-GCM variant's payload key.
pub const PAYLOAD_LABEL_AES: &[u8] = b"angou.dev/v1/aes-256-gcm payload";
/// Largest chunk counter: the nonce holds 88 bits, angou counts in 64.
const MAX_COUNTER: u64 = u64::MAX;

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
pub fn chunk_nonce(counter: u64, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

/// Encrypts a payload: a `Write` adapter. Call [`StreamWriter::finish`] to write the last chunk.
///
/// # Security
/// A writer dropped without `finish` leaves a payload with no last chunk, which fails
/// to decrypt: a crash can never produce a valid truncated file.
pub struct StreamWriter<W: Write> {
    inner: W,
    key: LessSafeKey,
    counter: u64,
    buf: Zeroizing<Vec<u8>>,
}

impl<W: Write> StreamWriter<W> {
    /// Starts a payload on `inner` (the payload nonce must already be written).
    pub(crate) fn new(inner: W, key: LessSafeKey) -> Self {
        StreamWriter {
            inner,
            key,
            counter: 0,
            buf: Zeroizing::new(Vec::with_capacity(ENCRYPTED_CHUNK_LEN)),
        }
    }

    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        if self.counter == MAX_COUNTER {
            return Err(Error::from(FormatError::CounterExhausted).into_io());
        }
        let nonce = chunk_nonce(self.counter, last);
        let tag = self
            .key
            .seal_in_place_detached(&nonce, b"", &mut self.buf)
            .map_err(|e| Error::from(e).into_io())?;
        self.buf.extend_from_slice(&tag);
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        self.counter += 1;
        Ok(())
    }

    /// Seals the buffered tail as the last chunk, flushes, and returns the inner writer.
    ///
    /// # Errors
    /// Any I/O error of the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.seal_chunk(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for StreamWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;
        while !rest.is_empty() {
            // A full buffer is sealed as non-last only once more data proves it is not the end.
            if self.buf.len() == CHUNK_LEN {
                self.seal_chunk(false)?;
            }
            let take = (CHUNK_LEN - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum State {
    Reading,
    Done,
    Failed(FormatError),
}

/// Decrypts a payload: a `Read` adapter that releases only authenticated chunks.
pub struct StreamReader<R: Read> {
    inner: R,
    key: LessSafeKey,
    counter: u64,
    /// Ciphertext being assembled: up to one chunk plus one byte of look-ahead.
    enc: Vec<u8>,
    /// Verified plaintext not yet returned, from `pos`.
    plain: Zeroizing<Vec<u8>>,
    pos: usize,
    state: State,
}

impl<R: Read> StreamReader<R> {
    pub(crate) fn new(inner: R, key: LessSafeKey) -> Self {
        StreamReader {
            inner,
            key,
            counter: 0,
            enc: Vec::with_capacity(ENCRYPTED_CHUNK_LEN + 1),
            plain: Zeroizing::new(Vec::with_capacity(ENCRYPTED_CHUNK_LEN + 1)),
            pos: 0,
            state: State::Reading,
        }
    }

    /// Fills `enc` to one chunk plus a byte, or to the end of input.
    fn fill(&mut self) -> io::Result<()> {
        while self.enc.len() < ENCRYPTED_CHUNK_LEN + 1 {
            let start = self.enc.len();
            self.enc.resize(ENCRYPTED_CHUNK_LEN + 1, 0);
            match self.inner.read(&mut self.enc[start..]) {
                Ok(0) => {
                    self.enc.truncate(start);
                    break;
                }
                Ok(n) => self.enc.truncate(start + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.enc.truncate(start),
                Err(e) => {
                    self.enc.truncate(start);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn open(&self, chunk: &mut [u8], last: bool) -> bool {
        let (data, tag) = chunk.split_at_mut(chunk.len() - TAG_LEN);
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(tag);
        self.key
            .open_in_place_detached(&chunk_nonce(self.counter, last), b"", data, &t)
            .is_ok()
    }

    /// Decrypts the next chunk into `plain`.
    fn next_chunk(&mut self) -> Result<(), FormatError> {
        self.fill().map_err(|_| FormatError::Truncated {
            what: "payload (read error)",
        })?;
        let len = self.enc.len();
        if len < TAG_LEN {
            return Err(if len == 0 && self.counter == 0 {
                FormatError::Truncated {
                    what: "payload: no chunks",
                }
            } else if len == 0 {
                // A clean end after a non-last chunk: the last chunk was dropped.
                FormatError::Truncated {
                    what: "payload: the last chunk is missing",
                }
            } else {
                FormatError::Truncated {
                    what: "payload: chunk shorter than its tag",
                }
            });
        }
        if self.counter == MAX_COUNTER {
            return Err(FormatError::CounterExhausted);
        }
        let last = len <= ENCRYPTED_CHUNK_LEN;
        let chunk_len = len.min(ENCRYPTED_CHUNK_LEN);
        if last && chunk_len == TAG_LEN && self.counter > 0 {
            // Only an empty plaintext has an empty last chunk.
            return Err(FormatError::PayloadAuthentication);
        }
        let mut chunk = std::mem::take(&mut self.enc);
        let ok = self.open(&mut chunk[..chunk_len], last);
        if !ok {
            // A full chunk sealed as last with bytes after it: name the trailing data.
            let trailing = !last && {
                let mut probe = chunk[..chunk_len].to_vec();
                self.open(&mut probe, true)
            };
            self.enc = chunk;
            return Err(if trailing {
                FormatError::TrailingData
            } else {
                FormatError::PayloadAuthentication
            });
        }
        self.plain.clear();
        self.plain.extend_from_slice(&chunk[..chunk_len - TAG_LEN]);
        self.pos = 0;
        self.counter += 1;
        // Keep the look-ahead byte (if any) for the next chunk.
        chunk.drain(..chunk_len);
        self.enc = chunk;
        if last {
            self.state = State::Done;
        }
        Ok(())
    }
}

impl<R: Read> Read for StreamReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.plain.len() {
                let n = out.len().min(self.plain.len() - self.pos);
                out[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            match &self.state {
                State::Done => return Ok(0),
                State::Failed(e) => return Err(Error::from(e.clone()).into_io()),
                State::Reading => {}
            }
            if out.is_empty() {
                return Ok(0);
            }
            if let Err(e) = self.next_chunk() {
                self.state = State::Failed(e.clone());
                return Err(Error::from(e).into_io());
            }
        }
    }
}
