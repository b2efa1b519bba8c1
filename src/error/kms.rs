//! Failures of the KMS.

use thiserror::Error;

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
    /// The sealed store state (`store.json`, `store.next`, `store.wal`) fails verification or is missing
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
