//! Reading identity files and recipients files, the same way `angou decrypt -i` and
//! `angou encrypt -r`/`-R` read them.
//!
//! - An **identity file** is one of: lines of `AGE-SECRET-KEY-1…` (X25519, as `age-keygen`
//!   and `angou keygen` write them), `AGE-SECRET-KEY-PQ-1…` (post-quantum, age 1.3) or
//!   `ANGOU-SYMMETRIC-KEY-1…`, with `#` comments and blank lines; an OpenSSH private key
//!   (`ssh-ed25519` or `ssh-rsa`, as `ssh-keygen` writes it, plain or passphrase-protected);
//!   or a PEM RSA private key (PKCS#8, or PKCS#1 as older `ssh-keygen -m PEM` writes it: it
//!   answers `ssh-rsa` stanzas too).
//! - A **recipients file** holds, in any mix, with `#` comments and blank lines: `age1…`
//!   (X25519) and `age1pq1…` (post-quantum) recipients; SSH public keys, one per line
//!   (`ssh-ed25519 …` and `ssh-rsa …` as in a `.pub` file, an `authorized_keys` file with
//!   options, or `https://github.com/NAME.keys`); and PEM RSA public keys.
//!
//! Refused by name: a secret key where a recipient belongs, SSH key types age has no stanza
//! for (ecdsa, security keys, DSA, certificates), `ssh-rsa` keys under 2048 bits, plugin
//! recipients. Errors name the line and what was found there, never its text: a line of a key
//! file is a secret, and a secret pasted into a recipients file must not end up in a log.
//!
//! A passphrase-protected SSH key is returned locked ([`Identities::SshLocked`]); the
//! caller supplies the passphrase with [`Identities::unlock`] or
//! [`read_identities_with_passphrase`]. The library never prompts.
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
//! let recipients_file = format!(
//!     "# the team\n\n{}\n# alice, from https://github.com/alice.keys\n{}\n",
//!     key.public_key(),
//!     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5NE1yQnnAC59rlN1TLw1Z6MxDeWm1vn/xKInR3kHWj");
//!
//! let recipients = keyfile::parse_recipients(&recipients_file)?;
//! assert_eq!(recipients.len(), 2);
//! let mut file = Vec::new();
//! let mut w = Encryptor::with_recipients(&recipients)?.wrap_output(&mut file)?;
//! w.write_all(b"read from key files")?;
//! w.finish()?;
//!
//! let identities = keyfile::parse_identities(&identity_file)?.into_identities()?;
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
use crate::pk::{mlkem768x25519, rsa, ssh, x25519};
use crate::recipient::{Identity, Recipient, SymmetricKey};
use crate::secret::SecretVec;

/// The keys of one identity file: one kind per file.
pub enum Identities {
    /// `AGE-SECRET-KEY-1…` lines.
    X25519(Vec<x25519::SecretKey>),
    /// A PEM RSA private key (it answers both RSA-OAEP and `ssh-rsa` stanzas).
    Rsa(Box<rsa::PrivateKey>),
    /// `ANGOU-SYMMETRIC-KEY-1…` lines.
    Symmetric(Vec<SymmetricKey>),
    /// `AGE-SECRET-KEY-PQ-1…` lines, with any `AGE-SECRET-KEY-1…` lines of the same file.
    PostQuantum(Vec<mlkem768x25519::SecretKey>, Vec<x25519::SecretKey>),
    /// An OpenSSH private key (`ssh-ed25519` or `ssh-rsa`), stored without a passphrase or
    /// already unlocked.
    Ssh(Box<ssh::PrivateKey>),
    /// A passphrase-protected OpenSSH private key: its public half is readable; pass its
    /// passphrase to [`Identities::unlock`] before decrypting.
    SshLocked(Box<ssh::EncryptedPrivateKey>),
}

impl Identities {
    /// The public key of a passphrase-protected SSH key that waits for its passphrase
    /// (to name it in a prompt), or `None` when the keys are ready to use.
    pub fn passphrase_needed(&self) -> Option<&ssh::PublicKey> {
        match self {
            Identities::SshLocked(k) => Some(k.public_key()),
            _ => None,
        }
    }

    /// Unlocks a passphrase-protected SSH key (bcrypt-pbkdf, then the file's cipher); keys
    /// of every other kind are returned as they are.
    ///
    /// # Errors
    /// [`KeyFileError::Ssh`] for a wrong passphrase or a damaged key file (the two cannot be
    /// told apart).
    pub fn unlock(self, passphrase: &SecretVec) -> Result<Identities, KeyFileError> {
        match self {
            Identities::SshLocked(k) => k
                .decrypt(passphrase)
                .map(|k| Identities::Ssh(Box::new(k)))
                .map_err(KeyFileError::Ssh),
            ready => Ok(ready),
        }
    }

    /// The keys as identities for [`crate::format::Decryptor::decrypt`].
    ///
    /// # Errors
    /// [`KeyFileError::PassphraseRequired`] for an SSH key still locked: call
    /// [`Identities::unlock`] first.
    pub fn into_identities(self) -> Result<Vec<Box<dyn Identity>>, KeyFileError> {
        fn boxed<T: Identity + 'static>(v: Vec<T>) -> impl Iterator<Item = Box<dyn Identity>> {
            v.into_iter().map(|k| Box::new(k) as Box<dyn Identity>)
        }
        Ok(match self {
            Identities::X25519(v) => boxed(v).collect(),
            // A PEM RSA key (older ssh-keygen writes PKCS#1) also answers ssh-rsa stanzas.
            Identities::Rsa(k) => match ssh::PrivateKey::from_rsa((*k).clone()) {
                Ok(s) => vec![k as Box<dyn Identity>, Box::new(s)],
                Err(_) => vec![k as Box<dyn Identity>],
            },
            Identities::PostQuantum(p, x) => boxed(p).chain(boxed(x)).collect(),
            Identities::Symmetric(v) => boxed(v).collect(),
            Identities::Ssh(k) => vec![k as Box<dyn Identity>],
            Identities::SshLocked(_) => return Err(KeyFileError::PassphraseRequired),
        })
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

/// Whether a line is an SSH public key line: some field is a key type name OpenSSH writes
/// (after an `authorized_keys` options field, if any). [`ssh::PublicKey::parse_line`] then
/// reads it exactly, or names what is wrong.
fn is_ssh_line(text: &str) -> bool {
    text.split_ascii_whitespace().any(ssh::is_key_type)
}

/// The kind of secret a line or PEM block holds, judged by its prefix or label only.
fn secret_kind(text: &str) -> Option<SecretKind> {
    let t = text.trim();
    if starts_with_ci(t, "AGE-PLUGIN-") {
        Some(SecretKind::PluginIdentity)
    } else if starts_with_ci(t, "AGE-SECRET-KEY-") {
        Some(SecretKind::AgeIdentity)
    } else if starts_with_ci(t, "ANGOU-SYMMETRIC-KEY-") {
        Some(SecretKind::SymmetricKey)
    } else if t.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
        Some(SecretKind::SshPrivateKey)
    } else if is_pem(t) && t.contains("PRIVATE KEY-----") {
        Some(SecretKind::PemPrivateKey)
    } else {
        None
    }
}

/// Parses an identity file's contents.
///
/// # Errors
/// [`KeyFileError`]: a file of the wrong kind (PEM or SSH public key, recipients, encrypted
/// file, legacy encrypted PEM), a line that is not a supported key, a key that does not
/// parse (an unsupported SSH key type is named), no key, or X25519 and symmetric keys mixed
/// in one file. A passphrase-protected SSH key is not an error: it is returned as
/// [`Identities::SshLocked`].
pub fn parse_identities(text: &str) -> Result<Identities, KeyFileError> {
    if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
        return match ssh::PrivateKey::from_openssh(text).map_err(KeyFileError::Ssh)? {
            ssh::PrivateKeyFile::Plain(k) => Ok(Identities::Ssh(Box::new(k))),
            ssh::PrivateKeyFile::Encrypted(k) => Ok(Identities::SshLocked(k)),
        };
    }
    if is_pem(text) {
        if text.contains("PUBLIC KEY-----") && !text.contains("PRIVATE KEY-----") {
            return Err(KeyFileError::PublicKeyNotIdentity);
        }
        if text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(KeyFileError::LegacyEncryptedPem);
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
    if first.is_some_and(is_ssh_line) {
        return Err(KeyFileError::SshPublicKeyNotIdentity);
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
        let key = |source| KeyFileError::Key { line: at, source };
        if line.starts_with("AGE-SECRET-KEY-1") {
            x.push(x25519::SecretKey::parse(line).map_err(key)?);
        } else if line.starts_with("ANGOU-SYMMETRIC-KEY-1") {
            sym.push(SymmetricKey::parse(line).map_err(key)?);
        } else if line.starts_with("AGE-SECRET-KEY-PQ-1") {
            pq.push(mlkem768x25519::SecretKey::parse(line).map_err(key)?);
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

fn read_text(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let bytes = Zeroizing::new(std::fs::read(path)?);
    std::str::from_utf8(&bytes).map_err(|_| KeyFileError::NotText)?;
    Ok(bytes)
}

/// Reads and parses an identity file. The text read is zeroized after parsing.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, else [`parse_identities`]'s errors, and
/// [`KeyFileError::PassphraseRequired`] for a passphrase-protected SSH key (use
/// [`read_identities_with_passphrase`]).
pub fn read_identities(path: impl AsRef<Path>) -> Result<Vec<Box<dyn Identity>>, Error> {
    let bytes = read_text(path.as_ref())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| KeyFileError::NotText)?;
    Ok(parse_identities(text)?.into_identities()?)
}

/// Reads and parses an identity file, asking `passphrase` for the passphrase of a
/// passphrase-protected SSH key (it is given the key's public half, to name it). It is not
/// called for any other kind of file.
///
/// ```
/// use angou::keyfile;
/// use angou::secret::SecretVec;
/// # let dir = std::env::temp_dir().join(format!("angou-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("id.key");
/// # std::fs::write(&path, angou::pk::x25519::SecretKey::generate()?.encode().as_bytes())?;
/// let identities = keyfile::read_identities_with_passphrase(&path, |public_key| {
///     eprintln!("passphrase for {}:", public_key.to_openssh());
///     Ok(SecretVec::from_vec(b"read it without echo".to_vec()))
/// })?;
/// # std::fs::remove_dir_all(&dir)?;
/// # assert_eq!(identities.len(), 1);
/// # Ok::<(), angou::Error>(())
/// ```
///
/// # Errors
/// As [`read_identities`]; the callback's I/O error as [`Error::Io`]; a wrong passphrase as
/// [`KeyFileError::Ssh`].
pub fn read_identities_with_passphrase(
    path: impl AsRef<Path>,
    passphrase: impl FnOnce(&ssh::PublicKey) -> std::io::Result<SecretVec>,
) -> Result<Vec<Box<dyn Identity>>, Error> {
    let bytes = read_text(path.as_ref())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| KeyFileError::NotText)?;
    let mut identities = parse_identities(text)?;
    if let Some(public) = identities.passphrase_needed() {
        let pass = passphrase(public)?;
        identities = identities.unlock(&pass)?;
    }
    Ok(identities.into_identities()?)
}

/// One public key of a recipients file, by kind.
#[derive(Clone)]
pub enum RecipientKey {
    /// An `age1…` X25519 recipient.
    X25519(x25519::PublicKey),
    /// An `age1pq1…` post-quantum (ML-KEM-768 + X25519) recipient.
    PostQuantum(Box<mlkem768x25519::PublicKey>),
    /// An `ssh-ed25519` or `ssh-rsa` public key.
    Ssh(Box<ssh::PublicKey>),
    /// A PEM RSA public key.
    Rsa(Box<rsa::PublicKey>),
}

impl RecipientKey {
    /// The key as a recipient for [`crate::format::Encryptor::with_recipients`].
    pub fn into_recipient(self) -> Box<dyn Recipient> {
        match self {
            RecipientKey::X25519(k) => Box::new(k),
            RecipientKey::PostQuantum(k) => k,
            RecipientKey::Ssh(k) => k,
            RecipientKey::Rsa(k) => k,
        }
    }
}

/// A recipient of a recipients file and where it was found.
#[derive(Clone)]
pub struct RecipientLine {
    /// 1-based line number (of the `-----BEGIN` line for a PEM key).
    pub line: usize,
    /// The key.
    pub key: RecipientKey,
    /// An SSH key's comment (often `user@host`), if the line has one.
    pub comment: Option<String>,
}

/// The human-readable part of a Bech32 string: everything before its last `1` (BIP 173).
/// The data characters never include `1`, so this is exact even when the data starts with
/// letters that look like a longer prefix.
fn bech32_hrp(text: &str) -> &str {
    text.rfind('1').map_or(text, |at| &text[..at])
}

/// One `age1…` line (either case, BIP 173, never mixed). The type is the Bech32 HRP, not a
/// text prefix: an X25519 recipient whose data begins with "pq" is still X25519.
fn parse_age_recipient(text: &str, at: usize) -> Result<RecipientKey, KeyFileError> {
    if text != text.to_ascii_lowercase() && text != text.to_ascii_uppercase() {
        return Err(KeyFileError::MixedCase { line: at });
    }
    let key = |source| KeyFileError::Key { line: at, source };
    let lower = text.to_ascii_lowercase();
    match bech32_hrp(&lower) {
        "age" => x25519::PublicKey::parse(text)
            .map(RecipientKey::X25519)
            .map_err(key),
        "age1pq" => mlkem768x25519::PublicKey::parse(text)
            .map(|k| RecipientKey::PostQuantum(Box::new(k)))
            .map_err(key),
        // Only a short, plain HRP is repeated: it names a plugin, never a secret.
        hrp if hrp.starts_with("age1")
            && hrp.len() <= 32
            && hrp
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Err(KeyFileError::UnsupportedRecipient {
                line: at,
                kind: format!("{hrp}1…"),
            })
        }
        hrp if hrp.starts_with("age1") => Err(KeyFileError::UnsupportedRecipient {
            line: at,
            kind: "age1…1…".to_owned(),
        }),
        // No second `1`: an X25519 recipient with a damaged data part.
        _ => x25519::PublicKey::parse(text)
            .map(RecipientKey::X25519)
            .map_err(key),
    }
}

/// The comment of an SSH public key line: the fields after the key type and its base64.
fn ssh_comment(line: &str) -> Option<String> {
    let comment = line
        .split_ascii_whitespace()
        .skip_while(|f| !ssh::is_key_type(f))
        .skip(2)
        .collect::<Vec<_>>()
        .join(" ");
    (!comment.is_empty()).then_some(comment)
}

/// One line of a recipients file (trimmed, not a comment or PEM).
fn parse_recipient_line(text: &str, at: usize) -> Result<RecipientLine, KeyFileError> {
    if let Some(kind) = secret_kind(text) {
        return Err(KeyFileError::SecretNotRecipient { line: at, kind });
    }
    let (key, comment) = if starts_with_ci(text, "age1") {
        (parse_age_recipient(text, at)?, None)
    } else if is_ssh_line(text) {
        let key = ssh::PublicKey::parse_line(text)
            .map_err(|source| KeyFileError::Key { line: at, source })?;
        (RecipientKey::Ssh(Box::new(key)), ssh_comment(text))
    } else {
        return Err(KeyFileError::NotARecipient { line: at });
    };
    Ok(RecipientLine {
        line: at,
        key,
        comment,
    })
}

/// Parses a recipients file's contents into its keys, each with its line (and an SSH key's
/// comment): what `angou inspect -R` shows beside a stanza.
///
/// # Errors
/// As [`parse_recipients`].
pub fn parse_recipient_lines(text: &str) -> Result<Vec<RecipientLine>, KeyFileError> {
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
                out.push(RecipientLine {
                    line: pem_start,
                    key: RecipientKey::Rsa(Box::new(key)),
                    comment: None,
                });
                pem.clear();
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        out.push(parse_recipient_line(trimmed, at)?);
    }
    if !pem.is_empty() {
        if let Some(kind) = secret_kind(&pem) {
            return Err(KeyFileError::SecretNotRecipient {
                line: pem_start,
                kind,
            });
        }
        return Err(KeyFileError::UnterminatedPem { line: pem_start });
    }
    if out.is_empty() {
        return Err(KeyFileError::Empty);
    }
    Ok(out)
}

/// The SSH public keys of a recipients or `authorized_keys` file that angou can encrypt to,
/// each with its line and comment, passing over every other line (keys of other types, other
/// recipients, comments). For naming the key an `ssh-ed25519`/`ssh-rsa` stanza is for, as
/// `angou inspect -R` does; to encrypt, use [`parse_recipients`], which refuses what it
/// cannot use.
pub fn list_ssh_keys(text: &str) -> Vec<RecipientLine> {
    text.lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line.trim_ascii()))
        .filter(|(_, line)| !line.starts_with('#') && is_ssh_line(line))
        .filter_map(|(at, line)| parse_recipient_line(line, at).ok())
        .filter(|r| matches!(r.key, RecipientKey::Ssh(_)))
        .collect()
}

/// Parses a recipients file's contents: `age1…` and `age1pq1…` lines, SSH public key lines
/// (`.pub`, `authorized_keys` with options, `NAME.keys`) and PEM public keys. A single
/// recipient typed on a command line parses the same way (as line 1).
///
/// # Errors
/// [`KeyFileError`]: a secret key where a recipient belongs (named by kind, never
/// repeated), an age recipient in mixed case, an unsupported recipient type (plugins, named
/// by their prefix), a malformed key or one of an unsupported SSH type or size
/// ([`KeyFileError::Key`], the type named), an unterminated PEM block, or no recipient.
pub fn parse_recipients(text: &str) -> Result<Vec<Box<dyn Recipient>>, KeyFileError> {
    Ok(parse_recipient_lines(text)?
        .into_iter()
        .map(|r| r.key.into_recipient())
        .collect())
}

/// Reads and parses a recipients file.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, else [`parse_recipients`]'s errors.
pub fn read_recipients(path: impl AsRef<Path>) -> Result<Vec<Box<dyn Recipient>>, Error> {
    let bytes = read_text(path.as_ref())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| KeyFileError::NotText)?;
    Ok(parse_recipients(text)?)
}
