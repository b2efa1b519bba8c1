//! What the CLI reports when a command fails: one line of what, one line of what to do.

use std::fmt;

use angou::error::{AeadError, Error, FormatError, KeyError, KmsError};

/// Exit code for a failed operation.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code for a usage error (bad flags or arguments).
pub const EXIT_USAGE: i32 = 2;

/// A failed command: printed as `error: <message>` and, when present, `hint: <hint>`.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
    pub code: i32,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            hint: None,
            code: EXIT_FAILURE,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            ..Failure::new(message)
        }
    }

    /// The same failure as a usage error (exit 2): the command line named something unusable.
    pub fn into_usage(mut self) -> Self {
        self.code = EXIT_USAGE;
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with context, e.g. a file name.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

fn hint_for(err: &Error) -> Option<&'static str> {
    Some(match err {
        Error::Format(f) => match f {
            FormatError::Empty => "check that the input is the encrypted file",
            FormatError::UnknownVersion { .. } => {
                "the input is not an age or angou encrypted file (or was made by a newer version)"
            }
            FormatError::NoMatch => {
                "pass the identity the file was encrypted to with -i, a key with -k, or the passphrase"
            }
            FormatError::HeaderMac | FormatError::PayloadAuthentication => {
                "the file is corrupt or was tampered with; no plaintext was kept"
            }
            FormatError::Truncated { .. } => "the file is incomplete; fetch or copy it again",
            FormatError::TrailingData => {
                "extra bytes follow the encrypted data; the file was modified"
            }
            FormatError::MixedScrypt => "encrypt to a passphrase alone, or to keys alone",
            FormatError::MixedPostQuantum { .. } => {
                "encrypt to post-quantum (age1pq1…) recipients alone, as age 1.3 requires; ask the others for a post-quantum key (angou keygen -t pq)"
            }
            FormatError::WorkFactorTooLarge { .. } => {
                "the passphrase stanza demands more work than angou allows; it may be a denial-of-service file"
            }
            FormatError::NoRecipients => "add -r RECIPIENT, -R FILE, -k KEY_FILE or -p",
            _ => "the file does not follow the age format; it may be corrupt",
        },
        Error::Key(k) => match k {
            KeyError::KeyTooSmall { .. } => {
                "use an RSA key of at least 2048 bits (angou keygen -t rsa-3072)"
            }
            KeyError::UnsupportedKeySize { .. } => "use rsa-2048, rsa-3072 or rsa-4096",
            KeyError::UnwrapFailed => "this key does not match the file, or the file was modified",
            KeyError::LowOrderPoint => "the file or recipient is malicious or corrupt",
            KeyError::InvalidEncoding { .. } => "check the key text; it must be copied whole",
            _ => return None,
        },
        Error::Aead(AeadError::Authentication) => "wrong key, or the data was modified",
        Error::Kms(k) => match k {
            KmsError::NotFound { what } if what.starts_with("access key ") => {
                "list access keys with `angou kms list-access-keys`"
            }
            KmsError::NotFound { .. } => {
                "list keys with `angou kms list-keys` and aliases with `angou kms list-aliases`"
            }
            KmsError::Disabled { .. } => "enable it with `angou kms enable-key --key-id KEY`",
            KmsError::InvalidState { .. } => "see `angou kms describe-key --key-id KEY`",
            KmsError::InvalidCiphertext => {
                "pass the same encryption context (-c) used when encrypting, and an unmodified blob"
            }
            KmsError::IncorrectKey { .. } => {
                "omit --key-id, or name the key the ciphertext was made with"
            }
            KmsError::InvalidAliasName { .. } => {
                "use alias/ followed by letters, digits, /, _ or -"
            }
            KmsError::AlreadyExists { .. } => "pick another name, or update-alias to repoint it",
            KmsError::LimitExceeded { .. } => "create a new key and move to it with re-encrypt",
            KmsError::Validation { .. } => "check the value against the allowed range in --help",
            KmsError::Unsupported { .. } => "see docs/DESIGN.md for what each key kind supports",
            KmsError::InvalidKeyUsage { .. } => {
                "use a symmetric key for data keys and blobs, an RSA key with RSAES_OAEP_SHA_256"
            }
            KmsError::Store { .. } => {
                "check the key store folder (--home / ANGOU_HOME), its permissions and backups"
            }
            KmsError::AuditTampered { .. } | KmsError::StateTampered { .. } => {
                "the store was changed outside angou: keep a copy as evidence, restore the folder from a backup, or accept it as it is with `angou kms audit repair`"
            }
            KmsError::RolledBack { .. } => {
                "restore the newest copy of the store folder, or accept this one with `angou kms audit repair`"
            }
            KmsError::WrongRootKey { .. } => {
                "use this store's own root.key or passphrase (restore it from your backup); nothing was changed"
            }
            KmsError::NoStore { .. } => {
                "check --home / ANGOU_HOME, or create a store with `angou kms init` or `angou kms create-key`"
            }
            KmsError::FakeClock { .. } => {
                "unset ANGOU_FAKE_NOW, or make a separate store with `angou kms init --fake-clock --home DIR`"
            }
            KmsError::Tag { .. } => {
                "tag keys are 1-128 characters not starting with aws:, values 0-256 characters"
            }
            KmsError::IncorrectKeyMaterial { .. } => {
                "re-import the key material this key had, or create a new EXTERNAL key for new material"
            }
            KmsError::InvalidImportToken { .. } => {
                "use the import token get-parameters-for-import gave for this key, unmodified"
            }
            KmsError::ExpiredImportToken { .. } => {
                "run get-parameters-for-import again and wrap the material to the new public key"
            }
            KmsError::RemoteCall { .. } => {
                "check your AWS credentials, region and endpoint settings, and the key's state and policy (aws kms describe-key)"
            }
            KmsError::UnexpectedAnswer { .. } => {
                "the endpoint does not answer as AWS KMS does; check which one is configured (AWS_ENDPOINT_URL_KMS, --endpoint-url)"
            }
            _ => return None,
        },
        Error::Io(_) => "check the paths, permissions and free space",
        Error::Rng => "the operating system's random source is unavailable",
        _ => return None,
    })
}

/// Library errors that mean the command line itself was wrong (exit 2), whatever the store or
/// input holds; every other library error is a failure of the work (exit 1).
fn is_usage(err: &Error) -> bool {
    matches!(
        err,
        Error::Kms(KmsError::Validation { .. } | KmsError::InvalidAliasName { .. })
            | Error::Aead(
                AeadError::UnknownAlgorithm { .. } | AeadError::UnknownPayloadCipher { .. }
            )
            | Error::Key(KeyError::UnsupportedKeySize { .. })
            | Error::Format(FormatError::NoRecipients | FormatError::MixedPostQuantum { .. })
    )
}

impl Failure {
    /// The failure for a library error: its message, hint and exit code.
    pub fn of(err: &Error) -> Self {
        let hint = hint_for(err);
        let mut f = Failure::new(err.to_string());
        f.hint = hint.map(str::to_owned);
        if is_usage(err) {
            f.code = EXIT_USAGE;
        }
        f
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::of(&err)
    }
}

/// A failed `Decryptor::decrypt`. A passphrase file has exactly one stanza and only the
/// passphrase can open it, so "no identity matched" there means the passphrase is wrong (or
/// the stanza was altered, which looks the same).
pub fn decrypt_failure(err: Error, passphrase_file: bool) -> Failure {
    match err {
        Error::Format(FormatError::NoMatch) if passphrase_file => Failure::new(
            "wrong passphrase: it does not open this file (or the file's passphrase stanza was modified)",
        )
        .hint("check the passphrase (--passphrase-file takes the first line; ANGOU_PASSPHRASE is read when set)"),
        other => Failure::from(other),
    }
}

impl From<KeyError> for Failure {
    fn from(err: KeyError) -> Self {
        Failure::from(Error::from(err))
    }
}

impl From<FormatError> for Failure {
    fn from(err: FormatError) -> Self {
        Failure::from(Error::from(err))
    }
}

impl From<std::io::Error> for Failure {
    fn from(err: std::io::Error) -> Self {
        Failure::from(Error::from_io(err))
    }
}
