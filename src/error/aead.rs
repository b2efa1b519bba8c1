//! Failures of the shared-key AEAD layer.

use thiserror::Error;

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
    /// A payload cipher name was not recognised. XChaCha20-Poly1305 is an AEAD algorithm of
    /// [`crate::aead`] but not a file payload cipher: the file format's STREAM nonces are
    /// derived, so the extended nonce would buy nothing.
    #[error("{}", payload_cipher_message(found))]
    UnknownPayloadCipher {
        /// The name given.
        found: String,
    },
    /// An algorithm name was not recognised.
    #[error(
        "unknown algorithm {found:?}, expected one of aes-256-gcm, chacha20-poly1305, xchacha20-poly1305"
    )]
    UnknownAlgorithm {
        /// The name given.
        found: String,
    },
    /// A backend name was not recognised.
    #[error("unknown backend {found:?}, expected rustcrypto or aws-lc")]
    UnknownBackend {
        /// The name given.
        found: String,
    },
    /// The backend is known but not compiled into this build.
    #[error(
        "backend {backend} is not in this build; rebuild with `cargo build --release --features aws-lc`"
    )]
    BackendUnavailable {
        /// The backend's name.
        backend: &'static str,
    },
    /// The backend does not implement the algorithm.
    #[error("backend {backend} does not implement {algorithm}")]
    BackendUnsupported {
        /// The backend's name.
        backend: &'static str,
        /// The algorithm's name.
        algorithm: &'static str,
    },
}

fn payload_cipher_message(found: &str) -> String {
    const FILE_CIPHERS: &str =
        "chacha20-poly1305 (age v1, the default) or aes-256-gcm (angou extension)";
    if found == "xchacha20-poly1305" {
        format!(
            "xchacha20-poly1305 is not a file payload cipher, expected {FILE_CIPHERS}: file chunks use derived nonces, so XChaCha's random-nonce margin buys nothing there (it is offered for one-shot `aead` use)"
        )
    } else {
        format!("unknown payload cipher {found:?}, expected {FILE_CIPHERS}")
    }
}
