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
use crate::backend::Backend;
use crate::error::AeadError;

enum Inner {
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha20Poly1305(Box<ChaCha20Poly1305>),
    XChaCha20Poly1305(Box<XChaCha20Poly1305>),
    #[cfg(feature = "aws-lc")]
    AwsLc(Box<aws_lc_rs::aead::LessSafeKey>),
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
            .field("backend", &self.backend())
            .field("key", &crate::secret::REDACTED)
            .finish()
    }
}

impl LessSafeKey {
    /// Computes the key schedule of `key` for `algorithm` on the build's default backend
    /// ([`Backend::for_aead`]).
    pub fn new(algorithm: Algorithm, key: &Key) -> Self {
        match Self::with_backend(algorithm, key, Backend::for_aead(algorithm)) {
            Ok(k) => k,
            // for_aead only names a backend that is compiled in and supports the algorithm.
            Err(_) => Self::rust_crypto(algorithm, key),
        }
    }

    /// Computes the key schedule of `key` for `algorithm` on `backend`.
    ///
    /// # Errors
    /// [`AeadError::BackendUnavailable`] if the backend is not in this build,
    /// [`AeadError::BackendUnsupported`] if it lacks the algorithm.
    pub fn with_backend(
        algorithm: Algorithm,
        key: &Key,
        backend: Backend,
    ) -> Result<Self, AeadError> {
        backend.check_available()?;
        if !backend.supports_aead(algorithm) {
            return Err(AeadError::BackendUnsupported {
                backend: backend.name(),
                algorithm: algorithm.name(),
            });
        }
        match backend {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => aws_lc_key(algorithm, key),
            _ => Ok(Self::rust_crypto(algorithm, key)),
        }
    }

    fn rust_crypto(algorithm: Algorithm, key: &Key) -> Self {
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

    /// The backend that runs this key.
    pub fn backend(&self) -> Backend {
        match self.inner {
            #[cfg(feature = "aws-lc")]
            Inner::AwsLc(_) => Backend::AwsLc,
            _ => Backend::RustCrypto,
        }
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
            #[cfg(feature = "aws-lc")]
            Inner::AwsLc(k) => {
                let tag = k
                    .seal_in_place_separate_tag(self.aws_lc_nonce(nonce)?, aws_lc_aad(aad), buffer)
                    .map_err(|_| AeadError::MessageTooLong {
                        algorithm: self.algorithm.name(),
                    })?;
                let mut out = [0u8; TAG_LEN];
                out.copy_from_slice(tag.as_ref());
                return Ok(out);
            }
        };
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&tag);
        Ok(out)
    }

    /// Verifies `tag` over `buffer` and `aad`, then decrypts `buffer` in place.
    ///
    /// # Errors
    /// [`AeadError::Authentication`] on any mismatch, and the buffer is then untouched
    /// (RustCrypto verifies before it decrypts; on aws-lc, which decrypts as it verifies, the
    /// ciphertext is copied aside first and put back), [`AeadError::InvalidNonceLength`].
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
            #[cfg(feature = "aws-lc")]
            Inner::AwsLc(k) => return aws_lc_open(k, self.aws_lc_nonce(nonce)?, aad, buffer, tag),
        }
        .map_err(auth)
    }

    #[cfg(feature = "aws-lc")]
    fn aws_lc_nonce(&self, nonce: &[u8]) -> Result<aws_lc_rs::aead::Nonce, AeadError> {
        aws_lc_rs::aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| self.nonce_err(nonce))
    }

    fn nonce_err(&self, nonce: &[u8]) -> AeadError {
        AeadError::InvalidNonceLength {
            algorithm: self.algorithm.name(),
            expected: self.algorithm.nonce_len(),
            found: nonce.len(),
        }
    }
}

#[cfg(feature = "aws-lc")]
fn aws_lc_key(algorithm: Algorithm, key: &Key) -> Result<LessSafeKey, AeadError> {
    use aws_lc_rs::aead::{AES_256_GCM, CHACHA20_POLY1305, UnboundKey};
    let alg = match algorithm {
        Algorithm::Aes256Gcm => &AES_256_GCM,
        Algorithm::ChaCha20Poly1305 => &CHACHA20_POLY1305,
        Algorithm::XChaCha20Poly1305 => {
            return Err(AeadError::BackendUnsupported {
                backend: Backend::AwsLc.name(),
                algorithm: algorithm.name(),
            });
        }
    };
    // A 32-byte key is the right length for both algorithms.
    let unbound =
        UnboundKey::new(alg, key.expose_secret()).map_err(|_| AeadError::BackendUnsupported {
            backend: Backend::AwsLc.name(),
            algorithm: algorithm.name(),
        })?;
    Ok(LessSafeKey {
        algorithm,
        inner: Inner::AwsLc(Box::new(aws_lc_rs::aead::LessSafeKey::new(unbound))),
    })
}

#[cfg(feature = "aws-lc")]
fn aws_lc_aad(aad: &[u8]) -> aws_lc_rs::aead::Aad<&[u8]> {
    aws_lc_rs::aead::Aad::from(aad)
}

#[cfg(feature = "aws-lc")]
std::thread_local! {
    /// Ciphertext set aside while aws-lc decrypts in place, so a failed open can restore it.
    static SET_ASIDE: core::cell::RefCell<Vec<u8>> = const { core::cell::RefCell::new(Vec::new()) };
}

/// Opens on aws-lc with the untouched-on-failure contract: aws-lc decrypts while it
/// authenticates and clears its output on failure, so the ciphertext is decrypted out of a
/// copy and restored from it when the tag does not verify.
#[cfg(feature = "aws-lc")]
fn aws_lc_open(
    key: &aws_lc_rs::aead::LessSafeKey,
    nonce: aws_lc_rs::aead::Nonce,
    aad: &[u8],
    buffer: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), AeadError> {
    SET_ASIDE.with(|cell| {
        let mut copy = cell.borrow_mut();
        copy.clear();
        copy.extend_from_slice(buffer);
        let result = key.open_separate_gather(nonce, aws_lc_aad(aad), &copy, tag, buffer);
        if result.is_err() {
            buffer.copy_from_slice(&copy);
        }
        // Large one-off messages do not pin their size in every thread.
        if copy.capacity() > 1 << 20 {
            *copy = Vec::new();
        }
        result.map_err(|_| AeadError::Authentication)
    })
}
