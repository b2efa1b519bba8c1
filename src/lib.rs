//! # angou (暗号) — a local encryption toolkit
//!
//! Which type for which job:
//!
//! | job | use |
//! | --- | --- |
//! | encrypt a message with a key both sides hold | [`aead::Cipher`] (or [`aead::seal`] / [`aead::open`]) |
//! | encrypt to someone's public key (age-compatible) | [`pk::x25519::PublicKey::wrap`] |
//! | the same, safe against a future quantum computer (age 1.3) | [`pk::mlkem768x25519::PublicKey::wrap`] |
//! | encrypt to an RSA public key (PEM, openssl-compatible) | [`pk::rsa::PublicKey::encrypt`] |
//! | hold raw key bytes | [`secret::SecretArray`], [`secret::SecretVec`] |
//!
//! Shared-key AEAD, with the nonce chosen for you:
//!
//! ```
//! use angou::aead::{self, Algorithm, Key};
//! let key = Key::generate()?;
//! let sealed = aead::seal(Algorithm::Aes256Gcm, &key, b"context", b"plaintext")?;
//! let opened = aead::open(Algorithm::Aes256Gcm, &key, b"context", &sealed)?;
//! assert_eq!(opened.expose_secret(), b"plaintext");
//! # Ok::<(), angou::Error>(())
//! ```
//!
//! Hybrid encryption: a public key wraps a small file key, the file key seals the data:
//!
//! ```
//! use angou::aead::{Algorithm, Cipher, Key};
//! use angou::pk::x25519::SecretKey;
//! use angou::secret::SecretArray;
//! let identity = SecretKey::generate()?;
//! let data_key = SecretArray::<16>::generate()?;
//! let wrapped = identity.public_key().wrap(&data_key)?;
//! // ... send `wrapped` beside the ciphertext; the recipient unwraps it:
//! let again = identity.unwrap(&wrapped)?;
//! assert_eq!(again.expose_secret(), data_key.expose_secret());
//! # Ok::<(), angou::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod aead;
mod b64;
pub mod backend;
pub mod error;
pub mod format;
pub mod kms;
pub mod passphrase;
pub mod pk;
pub mod recipient;
pub mod secret;

pub use backend::Backend;
pub use error::{AeadError, Error, FormatError, KeyError, KmsError};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
