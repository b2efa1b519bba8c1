//! # angou (暗号) — a local encryption toolkit
//!
//! Which type for which job:
//!
//! | job | use |
//! | --- | --- |
//! | encrypt a message with a key both sides hold | [`aead::Cipher`] (or [`aead::seal`] / [`aead::open`]) |
//! | encrypt a file or stream to public keys, age-compatible | [`Encryptor`] / [`Decryptor`] with [`pk::x25519`] keys |
//! | read identity files (age, post-quantum, symmetric, OpenSSH, PEM RSA) and recipients files (`age1…`, `age1pq1…`, SSH public keys, PEM), as the CLI does | [`keyfile`] |
//! | encrypt to someone's public key, safe against a future quantum computer (age 1.3) | [`pk::mlkem768x25519::PublicKey::wrap`] |
//! | encrypt to an RSA public key (PEM, openssl-compatible) | [`pk::rsa::PublicKey`] |
//! | wrap a small key for one X25519 recipient | [`pk::x25519::PublicKey::wrap`] |
//! | envelope encryption: master keys in a store, data keys, context, rotation | [`kms::Kms`] |
//! | hold raw key bytes | [`secret::SecretArray`], [`secret::SecretVec`] |
//!
//! Every example below and on each type's page runs as a test; nothing is hidden but the
//! final `Ok`. The `examples/` folder of the repository has longer programs
//! (`cargo run --example shared_key`, `key_pair`, `hybrid_file`, `envelope_kms`,
//! `throughput`).
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
//! A file to an X25519 recipient (an age file: `age -d` opens it). Any recipient type is
//! passed as it is, and the writer must be finished:
//!
//! ```
//! use std::io::{Read, Write};
//! use angou::{Decryptor, Encryptor};
//! use angou::pk::x25519::SecretKey;
//!
//! let identity = SecretKey::generate()?;         // AGE-SECRET-KEY-1…
//! let recipient = identity.public_key();         // age1…
//! let mut file = Vec::new();
//! let mut writer = Encryptor::with_recipients([&recipient])?.wrap_output(&mut file)?;
//! writer.write_all(b"a large file, streamed in 64 KiB chunks")?;
//! writer.finish()?;
//!
//! let mut reader = Decryptor::new(&file[..])?.decrypt([&identity])?;   // binary or armored
//! let mut plaintext = Vec::new();
//! reader.read_to_end(&mut plaintext)?;
//! assert_eq!(plaintext, b"a large file, streamed in 64 KiB chunks");
//! # Ok::<(), angou::Error>(())
//! ```
//!
//! Hybrid encryption by hand: a public key wraps a small file key, the file key seals the
//! data:
//!
//! ```
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
//!
//! Envelope encryption through the local KMS is shown on [`kms`].
//!
//! # Speed in your own debug builds
//!
//! Cryptography compiled without optimisation is about 100 times slower (encrypting
//! 50 MB: 41.5 s in a debug build, 0.39 s in release). angou's own `Cargo.toml` optimises
//! its dependencies in debug builds, but a profile setting never reaches the crates that
//! depend on it: add this to **your** `Cargo.toml` to keep `cargo run` and `cargo test`
//! fast (only dependencies are optimised; your code still builds quickly and debugs well):
//!
//! ```toml
//! [profile.dev.package."*"]
//! opt-level = 3
//! ```
//!
//! To optimise only angou and its cryptography, name them instead of `"*"`: `angou`,
//! `aes-gcm`, `aes`, `chacha20poly1305`, `chacha20`, `poly1305`, `polyval`, `ghash`,
//! `x25519-dalek`, `curve25519-dalek`, `rsa`, `crypto-bigint`, `crypto-primes`, `sha2`,
//! `scrypt`, `salsa20`, `argon2`, `blake2` (one `[profile.dev.package.NAME]` table each;
//! `"*"` needs no list to keep up to date).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod aead;
mod b64;
pub mod backend;
pub mod error;
pub mod format;
pub mod keyfile;
pub mod kms;
pub mod passphrase;
pub mod pk;
pub mod recipient;
pub mod secret;

pub use backend::Backend;
pub use error::{AeadError, Error, FormatError, KeyError, KeyFileError, KmsError};
pub use format::{Decryptor, Encryptor};
pub use recipient::{Identity, Recipient};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
