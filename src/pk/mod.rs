//! Key pairs: X25519 (age-compatible), hybrid post-quantum ML-KEM-768 + X25519 (age 1.3's
//! `mlkem768x25519`) and RSA-OAEP-SHA-256.
//!
//! Public-key encryption is slow per byte and can only seal a few hundred bytes,
//! so angou uses it only to wrap a small file key; the bulk data goes through
//! [`crate::aead`]. That split is hybrid encryption.

pub mod mlkem768x25519;
pub mod rsa;
pub mod x25519;
