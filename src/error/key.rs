//! Failures of key handling.

use thiserror::Error;

/// Failures of key handling ([`crate::pk`], [`crate::secret`]).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Raw key bytes of the wrong length.
    #[error("key is {found} bytes, expected {expected}")]
    InvalidLength {
        /// Required length in bytes.
        expected: usize,
        /// Supplied length in bytes.
        found: usize,
    },
    /// An RSA key below angou's 2048-bit floor.
    #[error("rsa key is {bits} bits, below the 2048-bit minimum")]
    KeyTooSmall {
        /// The key's modulus size.
        bits: usize,
    },
    /// An RSA key size angou does not generate or accept.
    #[error(
        "rsa key size {bits} is not supported, expected 2048, 3072 or 4096 (at most 8192 when reading)"
    )]
    UnsupportedKeySize {
        /// The requested or found modulus size.
        bits: usize,
    },
    /// Key text or bytes could not be decoded.
    #[error("invalid {what}: {reason}")]
    InvalidEncoding {
        /// What was being decoded (e.g. "age recipient", "PKCS#8 private key").
        what: &'static str,
        /// What was wrong with it (never contains key bytes).
        reason: &'static str,
    },
    /// The X25519 exchange produced the all-zero shared secret (a low-order public key).
    #[error("x25519 public key is a low-order point: the shared secret would be all zeros")]
    LowOrderPoint,
    /// A wrapped key could not be unwrapped: wrong key, or the wrapped data was modified.
    ///
    /// Every RSA-OAEP decryption failure maps here, whatever its cause.
    #[error("could not unwrap the key: wrong private key, or the wrapped key was modified")]
    UnwrapFailed,
    /// The plaintext is too long to be sealed with RSA-OAEP under this key.
    #[error("rsa-oaep can seal at most {max} bytes with this key, got {found}")]
    PlaintextTooLong {
        /// The maximum for this key (modulus bytes - 66).
        max: usize,
        /// The length given.
        found: usize,
    },
}
