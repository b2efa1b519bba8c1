//! Explicit-nonce AEAD for protocol code that derives its own nonces (the file
//! format's STREAM construction, key wrapping with a single-use key).
//!
//! # Security
//! The caller must never use the same (key, nonce) pair twice. Everything outside a
//! format implementation should use [`super::Cipher`], which picks nonces itself.

use core::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};

use super::{Algorithm, Key, TAG_LEN};
use crate::error::AeadError;

enum Inner {
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha20Poly1305(Box<ChaCha20Poly1305>),
    XChaCha20Poly1305(Box<XChaCha20Poly1305>),
}

/// A key with its schedule computed, sealing under nonces the caller chooses.
///
/// # Security
/// Reusing a nonce under one key breaks confidentiality and, for GCM and Poly1305,
/// lets an attacker forge messages. The name says so on purpose.
pub struct LessSafeKey {
    algorithm: Algorithm,
    inner: Inner,
}

impl fmt::Debug for LessSafeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LessSafeKey")
            .field("algorithm", &self.algorithm)
            .field("key", &crate::secret::REDACTED)
            .finish()
    }
}

impl LessSafeKey {
    /// Computes the key schedule of `key` for `algorithm`.
    pub fn new(algorithm: Algorithm, key: &Key) -> Self {
        let k = key.expose_secret();
        let inner = match algorithm {
            Algorithm::Aes256Gcm => Inner::Aes256Gcm(Box::new(Aes256Gcm::new(k.into()))),
            Algorithm::ChaCha20Poly1305 => {
                Inner::ChaCha20Poly1305(Box::new(ChaCha20Poly1305::new(k.into())))
            }
            Algorithm::XChaCha20Poly1305 => {
                Inner::XChaCha20Poly1305(Box::new(XChaCha20Poly1305::new(k.into())))
            }
        };
        LessSafeKey { algorithm, inner }
    }

    /// The algorithm this key is scheduled for.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    fn check_nonce(&self, nonce: &[u8]) -> Result<(), AeadError> {
        let expected = self.algorithm.nonce_len();
        if nonce.len() == expected {
            Ok(())
        } else {
            Err(AeadError::InvalidNonceLength {
                algorithm: self.algorithm.name(),
                expected,
                found: nonce.len(),
            })
        }
    }

    /// Encrypts `buffer` in place under `nonce` and returns the tag.
    ///
    /// # Errors
    /// [`AeadError::InvalidNonceLength`], or [`AeadError::MessageTooLong`] past the
    /// algorithm's limit; `buffer` is then untouched.
    pub fn seal_in_place_detached(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buffer: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AeadError> {
        self.check_nonce(nonce)?;
        let too_long = |_| AeadError::MessageTooLong {
            algorithm: self.algorithm.name(),
        };
        let tag = match &self.inner {
            Inner::Aes256Gcm(c) => c
                .encrypt_inout_detached(
                    nonce.try_into().map_err(|_| self.nonce_err(nonce))?,
                    aad,
                    buffer.into(),
                )
                .map_err(too_long)?,
            Inner::ChaCha20Poly1305(c) => c
                .encrypt_inout_detached(
                    nonce.try_into().map_err(|_| self.nonce_err(nonce))?,
                    aad,
                    buffer.into(),
                )
                .map_err(too_long)?,
            Inner::XChaCha20Poly1305(c) => c
                .encrypt_inout_detached(
                    nonce.try_into().map_err(|_| self.nonce_err(nonce))?,
                    aad,
                    buffer.into(),
                )
                .map_err(too_long)?,
        };
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&tag);
        Ok(out)
    }

    /// Verifies `tag` over `buffer` and `aad`, then decrypts `buffer` in place.
    ///
    /// # Errors
    /// [`AeadError::Authentication`] on any mismatch (the buffer is untouched: both
    /// backends verify before they decrypt), [`AeadError::InvalidNonceLength`].
    pub fn open_in_place_detached(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buffer: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AeadError> {
        self.check_nonce(nonce)?;
        let auth = |_| AeadError::Authentication;
        match &self.inner {
            Inner::Aes256Gcm(c) => c.decrypt_inout_detached(
                nonce.try_into().map_err(|_| self.nonce_err(nonce))?,
                aad,
                buffer.into(),
                tag.into(),
            ),
            Inner::ChaCha20Poly1305(c) => c.decrypt_inout_detached(
                nonce.try_into().map_err(|_| self.nonce_err(nonce))?,
                aad,
                buffer.into(),
                tag.into(),
            ),
            Inner::XChaCha20Poly1305(c) => c.decrypt_inout_detached(
                nonce.try_into().map_err(|_| self.nonce_err(nonce))?,
                aad,
                buffer.into(),
                tag.into(),
            ),
        }
        .map_err(auth)
    }

    fn nonce_err(&self, nonce: &[u8]) -> AeadError {
        AeadError::InvalidNonceLength {
            algorithm: self.algorithm.name(),
            expected: self.algorithm.nonce_len(),
            found: nonce.len(),
        }
    }
}
