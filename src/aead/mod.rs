//! Shared-key authenticated encryption: AES-256-GCM, ChaCha20-Poly1305, XChaCha20-Poly1305.
//!
//! One [`Algorithm`] enum, one 32-byte [`Key`] type, and a [`Cipher`] that binds the two.
//! [`Cipher`] picks every nonce itself from the operating system's generator, so callers
//! never touch nonces:
//!
//! * **XChaCha20-Poly1305** takes a 192-bit random nonce. Collisions are negligible for
//!   any number of messages a key will ever see; it is the right choice for long-lived keys.
//! * **AES-256-GCM** and **ChaCha20-Poly1305** take 96-bit nonces. With random nonces
//!   NIST SP 800-38D §8.3 limits one key to 2^32 messages (collision probability below
//!   2^-32). A [`Cipher`] counts what it seals and refuses the 2^32+1-th message with
//!   [`AeadError::KeyExhausted`]. The count lives in the `Cipher` value, not in the key:
//!   a key that is stored and reused by several processes must stay within the budget
//!   across all of them, or use XChaCha20-Poly1305.
//!
//! A sealed message is `nonce || ciphertext || tag` (see `docs/FORMAT.md`, "One-shot AEAD").
//! A failed open releases no plaintext and leaves the caller's buffer as it was.
//!
//! ```
//! use angou::aead::{Algorithm, Cipher, Key};
//! let key = Key::generate()?;
//! let cipher = Cipher::new(Algorithm::XChaCha20Poly1305, &key);
//! let sealed = cipher.seal(b"header", b"attack at dawn")?;
//! let opened = cipher.open(b"header", &sealed)?;
//! assert_eq!(opened.expose_secret(), b"attack at dawn");
//! assert!(cipher.open(b"other header", &sealed).is_err());
//! # Ok::<(), angou::Error>(())
//! ```

pub mod hazmat;

use core::fmt;
use core::str::FromStr;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::error::{AeadError, Error};
use crate::secret::{SecretArray, SecretVec, random_array};

/// Key length of every supported algorithm, in bytes.
pub const KEY_LEN: usize = 32;
/// Authentication tag length of every supported algorithm, in bytes.
pub const TAG_LEN: usize = 16;
/// Largest nonce length of any supported algorithm (XChaCha20-Poly1305), in bytes.
pub(crate) const MAX_NONCE_LEN: usize = 24;

/// Messages one key may seal with random 96-bit nonces (NIST SP 800-38D §8.3).
pub(crate) const RANDOM_NONCE_96_LIMIT: u64 = 1 << 32;

/// An AEAD algorithm. Names are parsed once, at the edge, with [`FromStr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// AES-256 in Galois/Counter Mode (NIST SP 800-38D), 96-bit nonce.
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RFC 8439), 96-bit nonce.
    ChaCha20Poly1305,
    /// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha), 192-bit nonce.
    XChaCha20Poly1305,
}

impl Algorithm {
    /// Every supported algorithm, in a stable order.
    pub const ALL: [Algorithm; 3] = [
        Algorithm::Aes256Gcm,
        Algorithm::ChaCha20Poly1305,
        Algorithm::XChaCha20Poly1305,
    ];

    /// The canonical lower-case name (`aes-256-gcm`, `chacha20-poly1305`, `xchacha20-poly1305`).
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Aes256Gcm => "aes-256-gcm",
            Algorithm::ChaCha20Poly1305 => "chacha20-poly1305",
            Algorithm::XChaCha20Poly1305 => "xchacha20-poly1305",
        }
    }

    /// Nonce length in bytes.
    pub const fn nonce_len(self) -> usize {
        match self {
            Algorithm::Aes256Gcm | Algorithm::ChaCha20Poly1305 => 12,
            Algorithm::XChaCha20Poly1305 => 24,
        }
    }

    /// How many messages one [`Cipher`] may seal with random nonces.
    pub const fn random_nonce_limit(self) -> u64 {
        match self {
            Algorithm::Aes256Gcm | Algorithm::ChaCha20Poly1305 => RANDOM_NONCE_96_LIMIT,
            // 2^64 messages at 2^-192 per pair: a collision is never expected.
            Algorithm::XChaCha20Poly1305 => u64::MAX,
        }
    }

    /// Bytes a sealed message adds to its plaintext: nonce plus tag.
    pub const fn overhead(self) -> usize {
        self.nonce_len() + TAG_LEN
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = AeadError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| AeadError::UnknownAlgorithm {
                found: s.to_owned(),
            })
    }
}

/// A 256-bit shared key, usable with any [`Algorithm`]. Zeroized on drop; prints as `[redacted]`.
///
/// # Security
/// Use one key with one algorithm. The type does not stop a caller from using the
/// same bytes under two algorithms, but nothing in angou does so.
///
/// ```
/// use angou::aead::{self, Algorithm, Key};
/// use angou::secret::SecretArray;
///
/// let key = Key::generate()?;
/// assert_eq!(format!("{key:?}"), "Key([redacted])");
/// // Key bytes you already hold (a KMS data key, a derived key) go through `SecretArray`.
/// let same = Key::from_secret(SecretArray::from_slice(key.expose_secret())?);
/// let sealed = aead::seal(Algorithm::Aes256Gcm, &key, b"", b"hi")?;
/// assert!(aead::open(Algorithm::Aes256Gcm, &same, b"", &sealed).is_ok());
/// # Ok::<(), angou::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Key(SecretArray<KEY_LEN>);

impl Key {
    /// A fresh random key from the operating system's generator.
    ///
    /// # Errors
    /// [`Error::Rng`] if the generator fails.
    pub fn generate() -> Result<Self, Error> {
        Ok(Key(SecretArray::generate()?))
    }

    /// Wraps existing key bytes.
    pub fn from_secret(secret: SecretArray<KEY_LEN>) -> Self {
        Key(secret)
    }

    /// The raw key bytes.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        self.0.expose_secret()
    }
}

/// A nonce chosen by a [`Cipher`], returned by the detached seal for storage beside the ciphertext.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Nonce {
    bytes: [u8; MAX_NONCE_LEN],
    len: usize,
}

impl Nonce {
    /// Parses a stored nonce for `algorithm`.
    ///
    /// # Errors
    /// [`AeadError::InvalidNonceLength`] if `bytes` is not `algorithm.nonce_len()` long.
    pub fn from_slice(algorithm: Algorithm, bytes: &[u8]) -> Result<Self, AeadError> {
        let expected = algorithm.nonce_len();
        if bytes.len() != expected {
            return Err(AeadError::InvalidNonceLength {
                algorithm: algorithm.name(),
                expected,
                found: bytes.len(),
            });
        }
        let mut out = [0u8; MAX_NONCE_LEN];
        out[..expected].copy_from_slice(bytes);
        Ok(Nonce {
            bytes: out,
            len: expected,
        })
    }

    /// The nonce bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A key bound to an algorithm, with its key schedule computed once. Picks its own nonces.
///
/// Each [`Cipher::seal`] draws a fresh random nonce and puts it in front of the ciphertext
/// (`nonce ‖ ciphertext ‖ tag`), and counts the messages so a key is never used past the
/// algorithm's safe limit for random nonces. [`Cipher::open`] releases nothing unless the
/// whole message authenticates.
///
/// ```
/// use angou::aead::{Algorithm, Cipher, Key};
///
/// let cipher = Cipher::new(Algorithm::ChaCha20Poly1305, &Key::generate()?);
/// let sealed = cipher.seal(b"header v1", b"attack at dawn")?;
/// assert_eq!(cipher.open(b"header v1", &sealed)?.expose_secret(), b"attack at dawn");
///
/// // Other associated data, or one flipped bit: refused, nothing released.
/// assert!(cipher.open(b"header v2", &sealed).is_err());
/// let mut tampered = sealed.clone();
/// tampered[20] ^= 1;
/// assert!(cipher.open(b"header v1", &tampered).is_err());
/// # Ok::<(), angou::Error>(())
/// ```
pub struct Cipher {
    key: hazmat::LessSafeKey,
    sealed: AtomicU64,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cipher")
            .field("algorithm", &self.algorithm())
            .field("backend", &self.backend())
            .field("key", &crate::secret::REDACTED)
            .finish()
    }
}

impl Cipher {
    /// Binds `key` to `algorithm`.
    pub fn new(algorithm: Algorithm, key: &Key) -> Self {
        Cipher {
            key: hazmat::LessSafeKey::new(algorithm, key),
            sealed: AtomicU64::new(0),
        }
    }

    /// Binds `key` to `algorithm` on a chosen implementation (see [`crate::Backend`]).
    ///
    /// # Errors
    /// [`AeadError::BackendUnavailable`] or [`AeadError::BackendUnsupported`].
    pub fn with_backend(
        algorithm: Algorithm,
        key: &Key,
        backend: crate::Backend,
    ) -> Result<Self, AeadError> {
        Ok(Cipher {
            key: hazmat::LessSafeKey::with_backend(algorithm, key, backend)?,
            sealed: AtomicU64::new(0),
        })
    }

    /// The algorithm this cipher uses.
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// The implementation this cipher runs on.
    pub fn backend(&self) -> crate::Backend {
        self.key.backend()
    }

    fn fresh_nonce(&self) -> Result<Nonce, Error> {
        let alg = self.algorithm();
        let limit = alg.random_nonce_limit();
        self.sealed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                if n < limit { n.checked_add(1) } else { None }
            })
            .map_err(|_| AeadError::KeyExhausted {
                algorithm: alg.name(),
                limit,
            })?;
        let random: [u8; MAX_NONCE_LEN] = random_array()?;
        Ok(Nonce::from_slice(alg, &random[..alg.nonce_len()])?)
    }

    /// Seals `plaintext` with associated data `aad`: returns `nonce || ciphertext || tag`.
    ///
    /// # Errors
    /// [`AeadError::KeyExhausted`] past the per-key message limit, [`AeadError::MessageTooLong`]
    /// past the algorithm's length limit, [`Error::Rng`] if no nonce can be drawn.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let nonce_len = self.algorithm().nonce_len();
        let mut out = Vec::with_capacity(nonce_len + plaintext.len() + TAG_LEN);
        out.resize(nonce_len, 0);
        out.extend_from_slice(plaintext);
        let (nonce, tag) = self.seal_in_place_detached(aad, &mut out[nonce_len..])?;
        out[..nonce_len].copy_from_slice(nonce.as_bytes());
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens a message made by [`Cipher::seal`]. The plaintext comes back as a secret.
    ///
    /// # Errors
    /// [`AeadError::Truncated`] if `sealed` is shorter than nonce and tag;
    /// [`AeadError::Authentication`] for a wrong key, wrong `aad` or any modification.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<SecretVec, Error> {
        let mut buf = sealed.to_vec();
        match self.open_in_place(aad, &mut buf) {
            Ok(()) => Ok(SecretVec::from_vec(buf)),
            Err(e) => Err(e),
        }
    }

    /// Seals `buffer` in place: plaintext in, `nonce || ciphertext || tag` out.
    ///
    /// # Errors
    /// As [`Cipher::seal`]; on error `buffer` is left as it was.
    pub fn seal_in_place(&self, aad: &[u8], buffer: &mut Vec<u8>) -> Result<(), Error> {
        let (nonce, tag) = self.seal_in_place_detached(aad, buffer)?;
        buffer.reserve(self.algorithm().overhead());
        buffer.extend_from_slice(&tag);
        buffer.splice(0..0, nonce.as_bytes().iter().copied());
        Ok(())
    }

    /// Opens `buffer` in place: `nonce || ciphertext || tag` in, plaintext out.
    ///
    /// # Errors
    /// As [`Cipher::open`]; on error `buffer` is left exactly as it was and no plaintext is released.
    pub fn open_in_place(&self, aad: &[u8], buffer: &mut Vec<u8>) -> Result<(), Error> {
        let alg = self.algorithm();
        let nonce_len = alg.nonce_len();
        let minimum = alg.overhead();
        if buffer.len() < minimum {
            return Err(AeadError::Truncated {
                minimum,
                found: buffer.len(),
            }
            .into());
        }
        let nonce = Nonce::from_slice(alg, &buffer[..nonce_len])?;
        let tag_at = buffer.len() - TAG_LEN;
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&buffer[tag_at..]);
        self.open_in_place_detached(&nonce, aad, &mut buffer[nonce_len..tag_at], &tag)?;
        buffer.truncate(tag_at);
        buffer.drain(..nonce_len);
        Ok(())
    }

    /// The hot path: seals `buffer` in place and returns the nonce it chose and the tag.
    ///
    /// # Errors
    /// As [`Cipher::seal`]; on error `buffer` is left as it was.
    pub fn seal_in_place_detached(
        &self,
        aad: &[u8],
        buffer: &mut [u8],
    ) -> Result<(Nonce, [u8; TAG_LEN]), Error> {
        let nonce = self.fresh_nonce()?;
        let tag = self
            .key
            .seal_in_place_detached(nonce.as_bytes(), aad, buffer)?;
        Ok((nonce, tag))
    }

    /// The hot path: verifies `tag`, then decrypts `buffer` in place.
    ///
    /// # Errors
    /// [`AeadError::Authentication`] if the tag does not verify; `buffer` is then untouched.
    /// [`AeadError::InvalidNonceLength`] if `nonce` was parsed for another algorithm.
    pub fn open_in_place_detached(
        &self,
        nonce: &Nonce,
        aad: &[u8],
        buffer: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Error> {
        Ok(self
            .key
            .open_in_place_detached(nonce.as_bytes(), aad, buffer, tag)?)
    }
}

/// One-shot seal with a fresh [`Cipher`]: `nonce || ciphertext || tag`.
///
/// # Errors
/// As [`Cipher::seal`].
pub fn seal(
    algorithm: Algorithm,
    key: &Key,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    Cipher::new(algorithm, key).seal(aad, plaintext)
}

/// One-shot open of a message made by [`seal`].
///
/// # Errors
/// As [`Cipher::open`].
pub fn open(
    algorithm: Algorithm,
    key: &Key,
    aad: &[u8],
    sealed: &[u8],
) -> Result<SecretVec, Error> {
    Cipher::new(algorithm, key).open(aad, sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Algorithm::ALL {
            assert_eq!(a.name().parse::<Algorithm>().unwrap(), a);
        }
        assert!("AES-256-GCM".parse::<Algorithm>().is_err());
    }

    #[test]
    fn exhausted_key_refuses_to_seal() {
        let key = Key::generate().unwrap();
        let c = Cipher::new(Algorithm::Aes256Gcm, &key);
        c.sealed.store(RANDOM_NONCE_96_LIMIT - 1, Ordering::Relaxed);
        assert!(c.seal(b"", b"last").is_ok());
        let err = c.seal(b"", b"one too many").unwrap_err();
        assert!(matches!(err, Error::Aead(AeadError::KeyExhausted { .. })));
    }

    #[test]
    fn failed_open_leaves_buffer_untouched() {
        for alg in Algorithm::ALL {
            let key = Key::generate().unwrap();
            let c = Cipher::new(alg, &key);
            let mut sealed = c.seal(b"aad", &[0x5a; 100]).unwrap();
            let last = sealed.len() - 1;
            sealed[last] ^= 1;
            let before = sealed.clone();
            let err = c.open_in_place(b"aad", &mut sealed).unwrap_err();
            assert!(matches!(err, Error::Aead(AeadError::Authentication)));
            assert_eq!(sealed, before, "{alg}");
        }
    }

    #[test]
    fn in_place_matches_layout() {
        for alg in Algorithm::ALL {
            let key = Key::generate().unwrap();
            let c = Cipher::new(alg, &key);
            let mut buf = b"hello".to_vec();
            c.seal_in_place(b"", &mut buf).unwrap();
            assert_eq!(buf.len(), 5 + alg.overhead());
            c.open_in_place(b"", &mut buf).unwrap();
            assert_eq!(buf, b"hello");
        }
    }
}
