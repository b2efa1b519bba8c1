//! Failures reading identity and recipients files.

use thiserror::Error;

use super::KeyError;

/// What kind of secret key was found where a recipient (a public key) belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretKind {
    /// An age identity, `AGE-SECRET-KEY-1…` or `AGE-SECRET-KEY-PQ-1…`.
    AgeIdentity,
    /// An age plugin identity, `AGE-PLUGIN-…`.
    PluginIdentity,
    /// A PEM private key.
    PemPrivateKey,
    /// An OpenSSH private key, `-----BEGIN OPENSSH PRIVATE KEY-----`.
    SshPrivateKey,
    /// An angou symmetric key, `ANGOU-SYMMETRIC-KEY-1…` (it has no public half).
    SymmetricKey,
}

impl std::fmt::Display for SecretKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SecretKind::AgeIdentity => "an age identity (a secret key)",
            SecretKind::PluginIdentity => "an age plugin identity (a secret key)",
            SecretKind::PemPrivateKey => "a private key",
            SecretKind::SshPrivateKey => "an SSH private key",
            SecretKind::SymmetricKey => "a symmetric key",
        })
    }
}

/// Failures reading an identity file or a recipients file ([`crate::keyfile`]).
///
/// Messages name the line and what was found, never the line's text: it may be a secret.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file is not UTF-8 text.
    #[error("the file is not text, expected an identity or recipients file")]
    NotText,
    /// An identity file holds a PEM public key.
    #[error("the file is a public key (a recipient), not an identity")]
    PublicKeyNotIdentity,
    /// An identity file holds an SSH public key (a `.pub` or `authorized_keys` file).
    #[error("the file is an SSH public key (a recipient), not an identity")]
    SshPublicKeyNotIdentity,
    /// An identity file is a PEM private key encrypted the legacy way (`Proc-Type: 4,ENCRYPTED`).
    #[error(
        "the file is a passphrase-protected PEM private key, a legacy format angou does not read"
    )]
    LegacyEncryptedPem,
    /// An OpenSSH private key that does not parse, has an unsupported type (named), or whose
    /// passphrase is wrong.
    #[error("{0}")]
    Ssh(KeyError),
    /// A passphrase-protected SSH key was used before [`crate::keyfile::Identities::unlock`].
    #[error(
        "the SSH private key is passphrase-protected, expected it unlocked with its passphrase"
    )]
    PassphraseRequired,
    /// An identity file holds `age1…` recipients.
    #[error("the file holds age1… recipients (public keys), not an identity")]
    RecipientsNotIdentity,
    /// An identity file is an encrypted file.
    #[error("the file is an encrypted file, not an identity")]
    EncryptedFile,
    /// A line holds an identity type angou does not support (plugin).
    #[error(
        "line {line}: unsupported identity type, expected AGE-SECRET-KEY-1…, AGE-SECRET-KEY-PQ-1…, an OpenSSH or PEM private key, or a symmetric key"
    )]
    UnsupportedIdentity {
        /// 1-based line number.
        line: usize,
    },
    /// A line of an identity file is not a key.
    #[error(
        "line {line}: not an identity, expected AGE-SECRET-KEY-1…, AGE-SECRET-KEY-PQ-1…, ANGOU-SYMMETRIC-KEY-1…, an OpenSSH or a PEM private key"
    )]
    NotAnIdentity {
        /// 1-based line number.
        line: usize,
    },
    /// A line looks like a key of a known kind but does not parse.
    #[error("line {line}: {source}")]
    Key {
        /// 1-based line number.
        line: usize,
        /// Why the key did not parse.
        source: KeyError,
    },
    /// A PEM key in the file does not parse.
    #[error("{0}")]
    Pem(KeyError),
    /// The file holds no key or recipient.
    #[error("no key found in the file, expected at least one key line")]
    Empty,
    /// An identity file mixes X25519 identities and symmetric keys.
    #[error("the file mixes X25519 identities and symmetric keys, expected one kind")]
    MixedIdentities,
    /// A secret key where a recipient belongs (never repeated).
    #[error("line {line}: {kind}, not a recipient")]
    SecretNotRecipient {
        /// 1-based line number (of the PEM block's first line for PEM).
        line: usize,
        /// What was found.
        kind: SecretKind,
    },
    /// An age recipient type angou does not support (a plugin), named by its prefix.
    #[error(
        "line {line}: {kind} recipients (an age plugin or other recipient type) are not supported"
    )]
    UnsupportedRecipient {
        /// 1-based line number.
        line: usize,
        /// The recipient's Bech32 prefix, such as `age1yubikey1…` (`age1…1…` when unusual).
        kind: String,
    },
    /// An `age1…` recipient mixes upper and lower case (Bech32 allows one or the other).
    #[error("line {line}: age recipient mixes upper and lower case letters, expected one case")]
    MixedCase {
        /// 1-based line number.
        line: usize,
    },
    /// A line of a recipients file is not a recipient.
    #[error(
        "line {line}: not a recipient, expected age1…, age1pq1…, an ssh-ed25519 or ssh-rsa public key, or a PEM public key"
    )]
    NotARecipient {
        /// 1-based line number.
        line: usize,
    },
    /// A PEM block with no END line.
    #[error("unterminated PEM block starting on line {line}")]
    UnterminatedPem {
        /// 1-based line number of the BEGIN line.
        line: usize,
    },
}
