//! Key pairs: X25519 (age-compatible), hybrid post-quantum ML-KEM-768 + X25519 (age 1.3's
//! `mlkem768x25519`), RSA-OAEP-SHA-256, and SSH keys as age uses them.
//!
//! Public-key encryption is slow per byte and can only seal a few hundred bytes,
//! so angou uses it only to wrap a small file key; the bulk data goes through
//! [`crate::aead`]. That split is hybrid encryption.

pub mod mlkem768x25519;
pub mod rsa;
pub mod ssh;
pub mod x25519;
