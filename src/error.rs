//! Errors: one top-level [`enum@Error`] and one enum per area.
//!
//! Authentication failures are a single variant whatever their cause (wrong key,
//! wrong associated data, a flipped bit): an attacker learns nothing from which.
//! Structural problems are precise. No message ever contains secret bytes.

use thiserror::Error;

/// Everything an angou operation can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A shared-key (AEAD) operation failed.
    #[error(transparent)]
    Aead(#[from] AeadError),
    /// A key could not be generated, parsed, used or unwrapped.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Rng,
    /// An encrypted file is malformed or does not authenticate.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A local KMS operation failed.
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// An identity file or recipients file could not be read ([`crate::keyfile`]).
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// Reading or writing failed.
    #[error("i/o error: {0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for Error {
    /// Recovers an angou error carried inside an I/O error (see [`Error::from_io`]).
    fn from(err: std::io::Error) -> Self {
        Error::from_io(err)
    }
}

impl Error {
    /// Recovers an angou error that travelled through an [`std::io::Error`] (from the
    /// streaming `Read`/`Write` adapters); other I/O errors stay [`Error::Io`].
    pub fn from_io(err: std::io::Error) -> Error {
        if !err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            return Error::Io(err);
        }
        let kind = err.kind();
        match err.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(e)) => *e,
            Some(Err(other)) => Error::Io(std::io::Error::new(kind, other)),
            None => Error::Io(kind.into()),
        }
    }

    /// Wraps this error in an [`std::io::Error`] for `Read`/`Write` adapters.
    pub fn into_io(self) -> std::io::Error {
        match self {
            Error::Io(e) => e,
            other => std::io::Error::other(other),
        }
    }
}

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

/// Failures of key handling ([`crate::pk`], [`crate::secret`]).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Raw key bytes of the wrong length.
    #[error("key is {found} bytes, expected {expected}")]
    InvalidLength {
        /// Required length in bytes.
        expected: usize,
        /// Supplied length in bytes.
        found: usize,
    },
    /// An RSA key below angou's 2048-bit floor.
    #[error("rsa key is {bits} bits, below the 2048-bit minimum")]
    KeyTooSmall {
        /// The key's modulus size.
        bits: usize,
    },
    /// An RSA key size angou does not generate or accept.
    #[error(
        "rsa key size {bits} is not supported, expected 2048, 3072 or 4096 (at most 8192 when reading)"
    )]
    UnsupportedKeySize {
        /// The requested or found modulus size.
        bits: usize,
    },
    /// Key text or bytes could not be decoded.
    #[error("invalid {what}: {reason}")]
    InvalidEncoding {
        /// What was being decoded (e.g. "age recipient", "PKCS#8 private key").
        what: &'static str,
        /// What was wrong with it (never contains key bytes).
        reason: &'static str,
    },
    /// The X25519 exchange produced the all-zero shared secret (a low-order public key).
    #[error("x25519 public key is a low-order point: the shared secret would be all zeros")]
    LowOrderPoint,
    /// A wrapped key could not be unwrapped: wrong key, or the wrapped data was modified.
    ///
    /// Every RSA-OAEP decryption failure maps here, whatever its cause.
    #[error("could not unwrap the key: wrong private key, or the wrapped key was modified")]
    UnwrapFailed,
    /// The plaintext is too long to be sealed with RSA-OAEP under this key.
    #[error("rsa-oaep can seal at most {max} bytes with this key, got {found}")]
    PlaintextTooLong {
        /// The maximum for this key (modulus bytes - 66).
        max: usize,
        /// The length given.
        found: usize,
    },
}

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

/// Failures of the local KMS ([`crate::kms`]), named after the cloud's error codes.
/// Messages name the object, never a secret.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KmsError {
    /// No key or alias with that name (NotFoundException).
    #[error("{what} not found")]
    NotFound {
        /// What was looked up, e.g. `key 1234…` or `alias alias/x`.
        what: String,
    },
    /// The key is disabled (DisabledException).
    #[error("key {id} is disabled")]
    Disabled {
        /// The key id.
        id: String,
    },
    /// The key's state forbids the operation (KMSInvalidStateException).
    #[error("key {id} is {state}: {detail}")]
    InvalidState {
        /// The key id.
        id: String,
        /// The key state (`PendingDeletion`, `Enabled`, …).
        state: String,
        /// What that means for this operation.
        detail: String,
    },
    /// The ciphertext blob is malformed or does not authenticate (InvalidCiphertextException),
    /// including a wrong encryption context.
    #[error("invalid ciphertext: it was modified, or the encryption context does not match")]
    InvalidCiphertext,
    /// The ciphertext names a different key than the one given (IncorrectKeyException).
    #[error("the ciphertext was encrypted under key {actual}, not {given}")]
    IncorrectKey {
        /// The key the caller named.
        given: String,
        /// The key the blob names.
        actual: String,
    },
    /// An alias name breaks the rules (InvalidAliasNameException).
    #[error("invalid alias name {name:?}: {reason}")]
    InvalidAliasName {
        /// The name given.
        name: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The object already exists (AlreadyExistsException).
    #[error("{what} already exists")]
    AlreadyExists {
        /// What exists.
        what: String,
    },
    /// A quota would be exceeded (LimitExceededException).
    #[error("limit exceeded: {what}")]
    LimitExceeded {
        /// Which limit.
        what: String,
    },
    /// A parameter is out of range or malformed (ValidationException).
    #[error("invalid parameter: {reason}")]
    Validation {
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// The key's spec or usage does not allow this algorithm or operation
    /// (InvalidKeyUsageException).
    #[error("invalid key usage: {reason}")]
    InvalidKeyUsage {
        /// What was asked and what the key allows.
        reason: String,
    },
    /// The operation does not apply to this key (UnsupportedOperationException).
    #[error("unsupported operation: {reason}")]
    Unsupported {
        /// Why.
        reason: String,
    },
    /// A KMS reached through [`crate::kms::ops::Backend`] answered with an error; the AWS
    /// exception name is kept (`AccessDeniedException`, `DisabledException`, …).
    #[error("{operation} with {key} failed: {exception}: {message}")]
    RemoteCall {
        /// The AWS operation (`GenerateDataKey`, `Encrypt`, `Decrypt`).
        operation: &'static str,
        /// The key ARN asked for.
        key: String,
        /// The AWS exception name.
        exception: String,
        /// The KMS's message (control characters replaced, at most 300 characters).
        message: String,
    },
    /// A KMS answered with something angou refuses: another key than the one asked for, a
    /// data key that is not 16 bytes, a ciphertext that no stanza can hold.
    #[error("the KMS answered {operation} with {key} wrongly: {reason}")]
    UnexpectedAnswer {
        /// The AWS operation.
        operation: &'static str,
        /// The key ARN asked for.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// None of a file's `angou.dev/v1/aws-kms` stanzas could be opened (docs/FORMAT.md §5.8).
    #[error("no KMS key could open the file: {attempts}")]
    NoKeyOpened {
        /// Per stanza: its key ARN and why it did not open (not allowed, or the exception).
        attempts: String,
        /// The key ARNs that were not allowed, and so never contacted.
        not_allowed: Vec<String>,
    },
    /// The key store cannot be read or written safely.
    #[error("key store error: {reason}")]
    Store {
        /// What went wrong (never key bytes).
        reason: String,
    },
    /// The audit log fails verification.
    #[error("audit log verification failed: {reason}")]
    AuditTampered {
        /// Where and how.
        reason: String,
    },
    /// The sealed store state (`store.json`, `store.next`) fails verification or is missing
    /// beside other store files.
    #[error("key store verification failed: {reason}")]
    StateTampered {
        /// Which file and how.
        reason: String,
    },
    /// The store is older than, or forked from, a checkpoint or this machine's high-water mark.
    #[error("key store rollback detected: {reason}")]
    RolledBack {
        /// What was seen before and what is there now.
        reason: String,
    },
    /// The root key or passphrase is not this store's.
    #[error("wrong root key: {detail}")]
    WrongRootKey {
        /// Which check failed.
        detail: String,
    },
    /// The folder holds no key store and the operation does not create one.
    #[error("no key store in {home}")]
    NoStore {
        /// The folder.
        home: String,
    },
    /// A fixed clock was used on a store not made for it, or to create a store.
    #[error("fake clock refused: {reason}")]
    FakeClock {
        /// Why.
        reason: String,
    },
    /// A tag breaks AWS's tag rules (TagException).
    #[error("invalid tag: {reason}")]
    Tag {
        /// The rule broken.
        reason: String,
    },
    /// Imported key material is not the key's material (IncorrectKeyMaterialException).
    #[error("incorrect key material: {reason}")]
    IncorrectKeyMaterial {
        /// What was expected.
        reason: String,
    },
    /// An import token is not one this store issued for this key (InvalidImportTokenException).
    #[error("invalid import token: {reason}")]
    InvalidImportToken {
        /// Why it was refused.
        reason: String,
    },
    /// An import token's 24 hours have passed (ExpiredImportTokenException).
    #[error("the import token expired at {at}; get new parameters with get-parameters-for-import")]
    ExpiredImportToken {
        /// When it expired (RFC 3339).
        at: String,
    },
    /// A remote KMS client could not be set up (no region, a bad endpoint URL, no runtime).
    #[error("remote KMS: {reason}")]
    Remote {
        /// What is missing or wrong.
        reason: String,
    },
}

impl KmsError {
    /// The cloud-style error code (`NotFoundException`, …) recorded in the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            KmsError::NotFound { .. } => "NotFoundException",
            KmsError::Disabled { .. } => "DisabledException",
            KmsError::InvalidState { .. } => "KMSInvalidStateException",
            KmsError::InvalidCiphertext => "InvalidCiphertextException",
            KmsError::IncorrectKey { .. } => "IncorrectKeyException",
            KmsError::InvalidAliasName { .. } => "InvalidAliasNameException",
            KmsError::AlreadyExists { .. } => "AlreadyExistsException",
            KmsError::LimitExceeded { .. } => "LimitExceededException",
            KmsError::Validation { .. } => "ValidationException",
            KmsError::InvalidKeyUsage { .. } => "InvalidKeyUsageException",
            KmsError::Unsupported { .. } => "UnsupportedOperationException",
            KmsError::Store { .. } => "KMSInternalException",
            KmsError::AuditTampered { .. } => "AuditTamperedException",
            KmsError::StateTampered { .. } => "KMSInternalException",
            KmsError::RolledBack { .. } => "KMSInternalException",
            KmsError::WrongRootKey { .. } => "KMSInternalException",
            KmsError::NoStore { .. } => "NotFoundException",
            KmsError::FakeClock { .. } => "ValidationException",
            KmsError::Tag { .. } => "TagException",
            KmsError::IncorrectKeyMaterial { .. } => "IncorrectKeyMaterialException",
            KmsError::InvalidImportToken { .. } => "InvalidImportTokenException",
            KmsError::ExpiredImportToken { .. } => "ExpiredImportTokenException",
            KmsError::Remote { .. } => "ValidationException",
            // Errors of a remote KMS's answers: never the local store's, so never in its log.
            KmsError::RemoteCall { .. }
            | KmsError::UnexpectedAnswer { .. }
            | KmsError::NoKeyOpened { .. } => "KMSInternalException",
        }
    }
}
