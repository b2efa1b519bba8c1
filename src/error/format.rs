//! Failures of the file format.

use thiserror::Error;

/// Failures of the file format ([`crate::format`]).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// The input is empty.
    #[error("input is empty, expected an encrypted file")]
    Empty,
    /// The first line is not a version this build reads.
    #[error("{}", unknown_version_message(found))]
    UnknownVersion {
        /// The first line (at most 64 printable ASCII characters of it) when it names a format
        /// family (`age-encryption.org/…`, `angou.dev/…`); empty otherwise, because a file that
        /// is not an encrypted file may be a key file whose first line is the secret itself.
        found: String,
    },
    /// The header breaks the grammar.
    #[error("malformed header: {reason}")]
    MalformedHeader {
        /// What was wrong.
        reason: &'static str,
    },
    /// A recipient stanza of a known type is malformed.
    #[error("malformed {kind} stanza: {reason}")]
    MalformedStanza {
        /// The stanza type.
        kind: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// The header is larger than angou reads.
    #[error("header exceeds {limit} bytes")]
    HeaderTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The header has more stanzas than angou reads.
    #[error("header has more than {limit} recipient stanzas")]
    TooManyStanzas {
        /// The limit.
        limit: usize,
    },
    /// A passphrase (scrypt) stanza appeared beside other stanzas.
    #[error("a passphrase stanza must be the only stanza in the header")]
    MixedScrypt,
    /// A post-quantum stanza was to be written beside one a quantum computer could open
    /// (age 1.3's rule; see [`crate::recipient::check_post_quantum_mix`]).
    #[error(
        "cannot encrypt to post-quantum (age1pq1…) and {classic} recipients in one file: a quantum computer could recover the file key from the {classic} stanza"
    )]
    MixedPostQuantum {
        /// The stanza type that is not quantum-resistant (at most 64 characters).
        classic: String,
    },
    /// An scrypt work factor above the allowed maximum.
    #[error("scrypt work factor {found} exceeds the maximum {max}")]
    WorkFactorTooLarge {
        /// The log2(N) in the file.
        found: u8,
        /// The maximum accepted.
        max: u8,
    },
    /// The header MAC did not verify: the header was modified, or the file key is wrong.
    #[error(
        "header authentication failed: the header was modified or the file was crafted to deceive"
    )]
    HeaderMac,
    /// No identity could unwrap any stanza.
    #[error("no identity matched any of the file's recipients")]
    NoMatch,
    /// The file ended before the payload did.
    #[error("file is truncated: {what}")]
    Truncated {
        /// What was missing.
        what: &'static str,
    },
    /// Data follows the final chunk.
    #[error("trailing data after the final payload chunk")]
    TrailingData,
    /// A payload chunk did not authenticate (modified, reordered, dropped or truncated).
    #[error("payload authentication failed: the file was modified, truncated or reordered")]
    PayloadAuthentication,
    /// The ASCII armor is malformed.
    #[error("malformed armor: {reason}")]
    Armor {
        /// What was wrong.
        reason: &'static str,
    },
    /// The stream counter would wrap.
    #[error("payload too long: chunk counter exhausted")]
    CounterExhausted,
    /// Encryption was asked for with no recipients.
    #[error("no recipients given")]
    NoRecipients,
    /// A rewrap would leave the file with no recipient stanza.
    #[error("the result would have no recipient stanza, and nobody could decrypt it")]
    NoStanzaLeft,
    /// A header would hold the same recipient twice (or two identical stanzas).
    #[error("the result would hold {key} twice")]
    DuplicateRecipient {
        /// The key (as `angou inspect` names it) or the stanza type, at most 200 characters.
        key: String,
    },
}

/// Version-line families whose first line may be repeated in a message: text that starts
/// with one of these is a format name, not a secret.
const VERSION_FAMILIES: [&str; 2] = ["age-encryption.org/", "angou.dev/"];

impl FormatError {
    /// [`FormatError::UnknownVersion`] for a first line read from the input: the line is kept
    /// (printable ASCII, at most 64 characters) only when it names a format family.
    pub(crate) fn unknown_version(first_line: &[u8]) -> FormatError {
        let text = String::from_utf8_lossy(first_line);
        let found = if VERSION_FAMILIES.iter().any(|f| text.starts_with(f)) {
            text.chars()
                .filter(|c| c.is_ascii_graphic() || *c == ' ')
                .take(64)
                .collect()
        } else {
            String::new()
        };
        FormatError::UnknownVersion { found }
    }
}

fn unknown_version_message(found: &str) -> String {
    const EXPECTED: &str = "expected \"age-encryption.org/v1\" or \"angou.dev/v1/aes-256-gcm\"";
    if VERSION_FAMILIES.iter().any(|f| found.starts_with(f)) {
        format!("unsupported format version line {found:?}, {EXPECTED}")
    } else {
        format!(
            "not an encrypted file: the first line is not a format version line ({EXPECTED}; the line is not shown, it may be a key)"
        )
    }
}
