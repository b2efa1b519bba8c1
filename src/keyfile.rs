//! Reading identity files and recipients files, the same way `angou decrypt -i` and
//! `angou encrypt -R` read them.
//!
//! - An **identity file** is a PEM private key (RSA, PKCS#8 or PKCS#1), or lines of
//!   `AGE-SECRET-KEY-1…` (as `age-keygen` and `angou keygen` write them) or of
//!   `ANGOU-SYMMETRIC-KEY-1…`, with `#` comments and blank lines.
//! - A **recipients file** holds `age1…` lines and PEM public keys (SPKI), in any mix, with
//!   `#` comments and blank lines.
//!
//! Errors name the line and what was found there, never its text: a line of a key file is
//! a secret, and a secret pasted into a recipients file must not end up in a log.
//!
//! ```
//! use std::io::{Read, Write};
//! use angou::format::{Decryptor, Encryptor};
//! use angou::keyfile;
//! use angou::pk::x25519::SecretKey;
//!
//! let key = SecretKey::generate()?;
//! let identity_file = format!("# created: today\n# public key: {}\n{}\n",
//!     key.public_key(), key.encode().as_str());
//! let recipients_file = format!("# the team\n\n{}\n", key.public_key());
//!
//! let recipients = keyfile::parse_recipients(&recipients_file)?;
//! let mut file = Vec::new();
//! let mut w = Encryptor::with_recipients(&recipients)?.wrap_output(&mut file)?;
//! w.write_all(b"read from key files")?;
//! w.finish()?;
//!
//! let identities = keyfile::parse_identities(&identity_file)?.into_identities();
//! let mut plaintext = Vec::new();
//! Decryptor::new(&file[..])?.decrypt(&identities)?.read_to_end(&mut plaintext)?;
//! assert_eq!(plaintext, b"read from key files");
//! # Ok::<(), angou::Error>(())
//! ```
//!
//! [`read_identities`] and [`read_recipients`] do the same from a path.

use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, KeyFileError, SecretKind};
use crate::pk::{mlkem768x25519, rsa, x25519};
use crate::recipient::{Identity, Recipient, SymmetricKey};

/// The keys of one identity file: one kind per file.
pub enum Identities {
    /// `AGE-SECRET-KEY-1…` lines.
    X25519(Vec<x25519::SecretKey>),
    /// A PEM RSA private key.
    Rsa(Box<rsa::PrivateKey>),
    /// `ANGOU-SYMMETRIC-KEY-1…` lines.
    Symmetric(Vec<SymmetricKey>),
    /// `AGE-SECRET-KEY-PQ-1…` lines, with any `AGE-SECRET-KEY-1…` lines of the same file.
    PostQuantum(Vec<mlkem768x25519::SecretKey>, Vec<x25519::SecretKey>),
}

impl Identities {
    /// The keys as identities for [`crate::format::Decryptor::decrypt`].
    pub fn into_identities(self) -> Vec<Box<dyn Identity>> {
        match self {
            Identities::X25519(v) => v
                .into_iter()
                .map(|k| Box::new(k) as Box<dyn Identity>)
                .collect(),
            Identities::Rsa(k) => vec![k as Box<dyn Identity>],
            Identities::PostQuantum(p, x) => p
                .into_iter()
                .map(|k| Box::new(k) as Box<dyn Identity>)
                .chain(x.into_iter().map(|k| Box::new(k) as Box<dyn Identity>))
                .collect(),
            Identities::Symmetric(v) => v
                .into_iter()
                .map(|k| Box::new(k) as Box<dyn Identity>)
                .collect(),
        }
    }
}

/// Case-insensitive prefix test (key encodings are Bech32: either case is the same key).
fn starts_with_ci(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn is_pem(text: &str) -> bool {
    text.contains("-----BEGIN ")
}

/// The kind of secret a line or PEM block holds, judged by its prefix or label only.
fn secret_kind(text: &str) -> Option<SecretKind> {
    let t = text.trim();
    if starts_with_ci(t, "AGE-PLUGIN-") || starts_with_ci(t, "AGE-SECRET-KEY-PQ-") {
        Some(SecretKind::PluginIdentity)
    } else if starts_with_ci(t, "AGE-SECRET-KEY-") {
        Some(SecretKind::AgeIdentity)
    } else if starts_with_ci(t, "ANGOU-SYMMETRIC-KEY-") {
        Some(SecretKind::SymmetricKey)
    } else if is_pem(t) && t.contains("PRIVATE KEY-----") {
        Some(SecretKind::PemPrivateKey)
    } else {
        None
    }
}

/// Parses an identity file's contents.
///
/// # Errors
/// [`KeyFileError`]: a file of the wrong kind (public key, recipients, encrypted file), a
/// line that is not a supported key, a key that does not parse, no key, or X25519 and
/// symmetric keys mixed in one file.
pub fn parse_identities(text: &str) -> Result<Identities, KeyFileError> {
    if is_pem(text) {
        if text.contains("PUBLIC KEY-----") && !text.contains("PRIVATE KEY-----") {
            return Err(KeyFileError::PublicKeyNotIdentity);
        }
        return rsa::PrivateKey::from_pem(text)
            .map(|k| Identities::Rsa(Box::new(k)))
            .map_err(KeyFileError::Pem);
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    if first.is_some_and(|l| starts_with_ci(l, "age1")) {
        return Err(KeyFileError::RecipientsNotIdentity);
    }
    let mut x = Vec::new();
    let mut sym = Vec::new();
    let mut pq = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = n + 1;
        if line.starts_with("AGE-SECRET-KEY-1") {
            x.push(
                x25519::SecretKey::parse(line)
                    .map_err(|source| KeyFileError::Key { line: at, source })?,
            );
        } else if line.starts_with("ANGOU-SYMMETRIC-KEY-1") {
            sym.push(
                SymmetricKey::parse(line)
                    .map_err(|source| KeyFileError::Key { line: at, source })?,
            );
        } else if line.starts_with("AGE-SECRET-KEY-PQ-1") {
            pq.push(
                mlkem768x25519::SecretKey::parse(line)
                    .map_err(|source| KeyFileError::Key { line: at, source })?,
            );
        } else if line.starts_with("AGE-PLUGIN-") || line.starts_with("AGE-SECRET-KEY-PQ-") {
            return Err(KeyFileError::UnsupportedIdentity { line: at });
        } else if line.starts_with("age-encryption.org/") || line.starts_with("angou.dev/") {
            return Err(KeyFileError::EncryptedFile);
        } else {
            return Err(KeyFileError::NotAnIdentity { line: at });
        }
    }
    if !pq.is_empty() {
        return if sym.is_empty() {
            Ok(Identities::PostQuantum(pq, x))
        } else {
            Err(KeyFileError::MixedIdentities)
        };
    }
    match (x.is_empty(), sym.is_empty()) {
        (false, true) => Ok(Identities::X25519(x)),
        (true, false) => Ok(Identities::Symmetric(sym)),
        (true, true) => Err(KeyFileError::Empty),
        (false, false) => Err(KeyFileError::MixedIdentities),
    }
}

/// Reads and parses an identity file. The text read is zeroized after parsing.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, else [`parse_identities`]'s errors.
pub fn read_identities(path: impl AsRef<Path>) -> Result<Vec<Box<dyn Identity>>, Error> {
    let bytes = Zeroizing::new(std::fs::read(path)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| KeyFileError::NotText)?;
    Ok(parse_identities(text)?.into_identities())
}

/// The human-readable part of a Bech32 string: everything before its last `1` (BIP 173).
fn bech32_hrp(text: &str) -> &str {
    text.rfind('1').map_or(text, |at| &text[..at])
}

/// One `age1…` line (either case, BIP 173): X25519 only; plugin and post-quantum types are
/// refused by their Bech32 prefix, not by a text prefix of the data.
fn parse_age_recipient(line: &str, at: usize) -> Result<Box<dyn Recipient>, KeyFileError> {
    if !bech32_hrp(line).eq_ignore_ascii_case("age") {
        return Err(KeyFileError::UnsupportedRecipient { line: at });
    }
    x25519::PublicKey::parse(line)
        .map(|k| Box::new(k) as Box<dyn Recipient>)
        .map_err(|source| KeyFileError::Key { line: at, source })
}

/// Parses a recipients file's contents: `age1…` lines and PEM public keys.
///
/// # Errors
/// [`KeyFileError`]: a secret key where a recipient belongs (named by kind, never
/// repeated), an unsupported or malformed recipient, an unterminated PEM block, or no
/// recipient at all.
pub fn parse_recipients(text: &str) -> Result<Vec<Box<dyn Recipient>>, KeyFileError> {
    let mut out = Vec::new();
    let mut pem = Zeroizing::new(String::new());
    let mut pem_start = 0;
    for (n, line) in text.lines().enumerate() {
        let at = n + 1;
        let trimmed = line.trim_ascii();
        if !pem.is_empty() || trimmed.starts_with("-----BEGIN ") {
            if pem.is_empty() {
                pem_start = at;
            }
            pem.push_str(trimmed);
            pem.push('\n');
            if trimmed.starts_with("-----END ") {
                if let Some(kind) = secret_kind(&pem) {
                    return Err(KeyFileError::SecretNotRecipient {
                        line: pem_start,
                        kind,
                    });
                }
                let key = rsa::PublicKey::from_pem(&pem).map_err(KeyFileError::Pem)?;
                out.push(Box::new(key) as Box<dyn Recipient>);
                pem.clear();
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(kind) = secret_kind(trimmed) {
            return Err(KeyFileError::SecretNotRecipient { line: at, kind });
        }
        if starts_with_ci(trimmed, "age1") {
            out.push(parse_age_recipient(trimmed, at)?);
        } else {
            return Err(KeyFileError::NotARecipient { line: at });
        }
    }
    if !pem.is_empty() {
        return Err(KeyFileError::UnterminatedPem { line: pem_start });
    }
    if out.is_empty() {
        return Err(KeyFileError::Empty);
    }
    Ok(out)
}

/// Reads and parses a recipients file.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, else [`parse_recipients`]'s errors.
pub fn read_recipients(path: impl AsRef<Path>) -> Result<Vec<Box<dyn Recipient>>, Error> {
    let bytes = Zeroizing::new(std::fs::read(path)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| KeyFileError::NotText)?;
    Ok(parse_recipients(text)?)
}
