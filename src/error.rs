//! Errors: one top-level [`Error`] and one enum per area.
//!
//! Authentication failures are a single variant whatever their cause (wrong key,
//! wrong associated data, a flipped bit): an attacker learns nothing from which.
//! Structural problems are precise. No message ever contains secret bytes.

use thiserror::Error;

/// Everything an angou operation can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A shared-key (AEAD) operation failed.
    #[error(transparent)]
    Aead(#[from] AeadError),
    /// A key could not be generated, parsed, used or unwrapped.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Rng,
    /// Reading or writing failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Failures of the shared-key AEAD layer ([`crate::aead`]).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AeadError {
    /// The ciphertext, its tag or the associated data did not authenticate under this key.
    #[error(
        "authentication failed: wrong key, wrong associated data, or the ciphertext was modified"
    )]
    Authentication,
    /// A nonce of the wrong length was supplied.
    #[error("nonce is {found} bytes, expected {expected} for {algorithm}")]
    InvalidNonceLength {
        /// The algorithm's name.
        algorithm: &'static str,
        /// Required length in bytes.
        expected: usize,
        /// Supplied length in bytes.
        found: usize,
    },
    /// A sealed message is shorter than its nonce and tag.
    #[error("sealed message is {found} bytes, shorter than the {minimum}-byte nonce and tag")]
    Truncated {
        /// The minimum length in bytes.
        minimum: usize,
        /// The length found.
        found: usize,
    },
    /// A message or its associated data exceeds the algorithm's length limit.
    #[error("message too long for {algorithm}")]
    MessageTooLong {
        /// The algorithm's name.
        algorithm: &'static str,
    },
    /// This key has sealed as many messages with random nonces as is safe.
    #[error(
        "this key has sealed {limit} messages with random nonces, the safe limit for {algorithm}; use a fresh key"
    )]
    KeyExhausted {
        /// The algorithm's name.
        algorithm: &'static str,
        /// The per-key message limit.
        limit: u64,
    },
    /// An algorithm name was not recognised.
    #[error(
        "unknown algorithm {found:?}, expected one of aes-256-gcm, chacha20-poly1305, xchacha20-poly1305"
    )]
    UnknownAlgorithm {
        /// The name given.
        found: String,
    },
}

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
        "rsa key size {bits} is not supported, expected 2048, 3072 or 4096 (at most 16384 when reading)"
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
