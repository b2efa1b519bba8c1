//! The errors of the AWS KMS API: an exception name and a message, mapped once from the
//! crate's [`Error`].

use crate::error::{Error, KmsError};

/// An AWS KMS exception name (the `__type` of an error response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `AlreadyExistsException`.
    AlreadyExists,
    /// `DisabledException`.
    Disabled,
    /// `DryRunOperationException`: the request would have succeeded.
    DryRunOperation,
    /// `IncorrectKeyException`.
    IncorrectKey,
    /// `InvalidAliasNameException`.
    InvalidAliasName,
    /// `InvalidArnException`.
    InvalidArn,
    /// `InvalidCiphertextException`.
    InvalidCiphertext,
    /// `InvalidKeyUsageException`.
    InvalidKeyUsage,
    /// `InvalidMarkerException`.
    InvalidMarker,
    /// `KMSInternalException` (a fault: HTTP 500).
    KmsInternal,
    /// `KMSInvalidStateException`.
    KmsInvalidState,
    /// `LimitExceededException`.
    LimitExceeded,
    /// `NotFoundException`.
    NotFound,
    /// `ValidationException`.
    Validation,
    /// `UnsupportedOperationException`.
    UnsupportedOperation,
    /// `SerializationException`: the body is not JSON of the operation's shape.
    Serialization,
    /// `UnknownOperationException`: no such operation.
    UnknownOperation,
    /// `MissingAuthenticationTokenException`: the request is not signed.
    MissingAuthenticationToken,
    /// `IncompleteSignatureException`: the signature is malformed.
    IncompleteSignature,
    /// `InvalidSignatureException`: the signature does not match.
    InvalidSignature,
    /// `UnrecognizedClientException`: the access key is unknown.
    UnrecognizedClient,
    /// `AccessDeniedException`.
    AccessDenied,
    /// `TagException`: a tag breaks the tag rules.
    Tag,
    /// `IncorrectKeyMaterialException`: imported material is not the key's.
    IncorrectKeyMaterial,
    /// `InvalidImportTokenException`.
    InvalidImportToken,
    /// `ExpiredImportTokenException`.
    ExpiredImportToken,
    /// `ThrottlingException`: the KMS refused the rate (reported after the client's retries).
    Throttling,
    /// `DependencyTimeoutException`: the KMS timed out on a service it depends on.
    DependencyTimeout,
    /// `KeyUnavailableException`: the key is momentarily unreachable (a fault).
    KeyUnavailable,
    /// `InvalidGrantTokenException`.
    InvalidGrantToken,
    /// `InvalidGrantIdException`.
    InvalidGrantId,
    /// `MalformedPolicyDocumentException`.
    MalformedPolicyDocument,
    /// `ConflictException`.
    Conflict,
    /// `KMSInvalidMacException`.
    KmsInvalidMac,
    /// `KMSInvalidSignatureException`.
    KmsInvalidSignature,
    /// `ExpiredTokenException`: the session token of the credentials has expired.
    ExpiredToken,
    /// `InvalidClientTokenId`: the access key id is not valid.
    InvalidClientTokenId,
    /// `RequestExpired`: the request's signing time is too far from the server's clock.
    RequestExpired,
    /// `ServiceUnavailable`: the KMS is overloaded or down (a fault).
    ServiceUnavailable,
    /// `InternalFailure`: an unknown fault of the KMS.
    InternalFailure,
    /// An exception the far side named that this list does not know:
    /// [`ApiError::code`] gives its name.
    Other,
    /// No AWS name: the KMS could not be reached or did not answer (connection refused,
    /// DNS, TLS, timeout), or the request could not be made (no credentials).
    Transport,
}

impl ErrorKind {
    /// The exception name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::AlreadyExists => "AlreadyExistsException",
            ErrorKind::Disabled => "DisabledException",
            ErrorKind::DryRunOperation => "DryRunOperationException",
            ErrorKind::IncorrectKey => "IncorrectKeyException",
            ErrorKind::InvalidAliasName => "InvalidAliasNameException",
            ErrorKind::InvalidArn => "InvalidArnException",
            ErrorKind::InvalidCiphertext => "InvalidCiphertextException",
            ErrorKind::InvalidKeyUsage => "InvalidKeyUsageException",
            ErrorKind::InvalidMarker => "InvalidMarkerException",
            ErrorKind::KmsInternal => "KMSInternalException",
            ErrorKind::KmsInvalidState => "KMSInvalidStateException",
            ErrorKind::LimitExceeded => "LimitExceededException",
            ErrorKind::NotFound => "NotFoundException",
            ErrorKind::Validation => "ValidationException",
            ErrorKind::UnsupportedOperation => "UnsupportedOperationException",
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::IncompleteSignature => "IncompleteSignatureException",
            ErrorKind::InvalidSignature => "InvalidSignatureException",
            ErrorKind::UnrecognizedClient => "UnrecognizedClientException",
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::Tag => "TagException",
            ErrorKind::IncorrectKeyMaterial => "IncorrectKeyMaterialException",
            ErrorKind::InvalidImportToken => "InvalidImportTokenException",
            ErrorKind::ExpiredImportToken => "ExpiredImportTokenException",
            ErrorKind::Throttling => "ThrottlingException",
            ErrorKind::DependencyTimeout => "DependencyTimeoutException",
            ErrorKind::KeyUnavailable => "KeyUnavailableException",
            ErrorKind::InvalidGrantToken => "InvalidGrantTokenException",
            ErrorKind::InvalidGrantId => "InvalidGrantIdException",
            ErrorKind::MalformedPolicyDocument => "MalformedPolicyDocumentException",
            ErrorKind::Conflict => "ConflictException",
            ErrorKind::KmsInvalidMac => "KMSInvalidMacException",
            ErrorKind::KmsInvalidSignature => "KMSInvalidSignatureException",
            ErrorKind::ExpiredToken => "ExpiredTokenException",
            ErrorKind::InvalidClientTokenId => "InvalidClientTokenId",
            ErrorKind::RequestExpired => "RequestExpired",
            ErrorKind::ServiceUnavailable => "ServiceUnavailable",
            ErrorKind::InternalFailure => "InternalFailure",
            ErrorKind::Other => "UnknownError",
            ErrorKind::Transport => "TransportError",
        }
    }

    /// Every kind, for looking one up by its wire name.
    const ALL: &'static [ErrorKind] = &[
        ErrorKind::AlreadyExists,
        ErrorKind::Disabled,
        ErrorKind::DryRunOperation,
        ErrorKind::IncorrectKey,
        ErrorKind::InvalidAliasName,
        ErrorKind::InvalidArn,
        ErrorKind::InvalidCiphertext,
        ErrorKind::InvalidKeyUsage,
        ErrorKind::InvalidMarker,
        ErrorKind::KmsInternal,
        ErrorKind::KmsInvalidState,
        ErrorKind::LimitExceeded,
        ErrorKind::NotFound,
        ErrorKind::Validation,
        ErrorKind::UnsupportedOperation,
        ErrorKind::Serialization,
        ErrorKind::UnknownOperation,
        ErrorKind::MissingAuthenticationToken,
        ErrorKind::IncompleteSignature,
        ErrorKind::InvalidSignature,
        ErrorKind::UnrecognizedClient,
        ErrorKind::AccessDenied,
        ErrorKind::Tag,
        ErrorKind::IncorrectKeyMaterial,
        ErrorKind::InvalidImportToken,
        ErrorKind::ExpiredImportToken,
        ErrorKind::Throttling,
        ErrorKind::DependencyTimeout,
        ErrorKind::KeyUnavailable,
        ErrorKind::InvalidGrantToken,
        ErrorKind::InvalidGrantId,
        ErrorKind::MalformedPolicyDocument,
        ErrorKind::Conflict,
        ErrorKind::KmsInvalidMac,
        ErrorKind::KmsInvalidSignature,
        ErrorKind::ExpiredToken,
        ErrorKind::InvalidClientTokenId,
        ErrorKind::RequestExpired,
        ErrorKind::ServiceUnavailable,
        ErrorKind::InternalFailure,
    ];

    /// The kind whose wire name is `code` (`NotFoundException`, …), if angou knows it.
    pub fn from_name(code: &str) -> Option<ErrorKind> {
        Self::ALL.iter().copied().find(|k| k.name() == code)
    }

    /// The HTTP status: 500 for the model's fault errors, 403 for an unsigned request (AWS
    /// "Common Errors"), 400 for every other client error.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::KmsInternal
            | ErrorKind::KeyUnavailable
            | ErrorKind::InternalFailure
            | ErrorKind::Transport => 500,
            ErrorKind::ServiceUnavailable => 503,
            ErrorKind::MissingAuthenticationToken => 403,
            _ => 400,
        }
    }
}

/// An error of one API call: what AWS would name it, and a message for the caller.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The exception.
    pub kind: ErrorKind,
    /// The message sent to the caller (never a secret; internal details stay in [`ApiError::detail`]).
    pub message: String,
    /// Whether the store already recorded this failure in its audit log.
    pub(crate) audited: bool,
    detail: Option<String>,
    /// The exception name the far side sent, when it is not one [`ErrorKind`] knows.
    code: Option<String>,
    /// The crate's error behind it, for a local door (never sent over the network).
    source: Option<std::sync::Arc<Error>>,
}

impl PartialEq for ApiError {
    fn eq(&self, other: &ApiError) -> bool {
        (
            self.kind,
            &self.message,
            self.audited,
            &self.detail,
            &self.code,
        ) == (
            other.kind,
            &other.message,
            other.audited,
            &other.detail,
            &other.code,
        )
    }
}

impl Eq for ApiError {}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
            audited: false,
            detail: None,
            code: None,
            source: None,
        }
    }

    /// An error a remote KMS answered with: exception `code` (the `__type`, as AWS names
    /// it) and its `message`. A code angou does not know keeps its name in
    /// [`ApiError::code`], with kind [`ErrorKind::Other`].
    pub fn from_remote(code: &str, message: impl Into<String>) -> ApiError {
        // AWS JSON 1.1 may send `namespace#Name`; the name is what callers match on.
        let code = code.rsplit('#').next().unwrap_or(code);
        let kind = ErrorKind::from_name(code).unwrap_or(ErrorKind::Other);
        let mut e = ApiError::new(kind, message);
        if kind == ErrorKind::Other {
            e.code = Some(code.chars().take(128).collect());
        }
        e
    }

    /// The exception name: the kind's, or the far side's own name for [`ErrorKind::Other`].
    pub fn code(&self) -> &str {
        self.code.as_deref().unwrap_or(self.kind.name())
    }

    /// The crate's error this one was mapped from, when the store returned it: what a local
    /// door (the CLI) shows its own operator in full, with its own hint. Remote callers get
    /// [`ApiError::message`] only.
    pub fn source_error(&self) -> Option<&Error> {
        self.source.as_deref()
    }

    /// For a fault: what went wrong inside, for the server's own log (not sent to callers).
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The JSON error body AWS sends: `{"__type": …, "message": …}`.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "__type": self.code(),
            "message": self.message,
        }))
        .unwrap_or_default()
    }

    /// An error the store returned (and recorded in its audit log).
    pub(crate) fn from_store(err: Error) -> ApiError {
        let mut e = ApiError::from(err);
        e.audited = true;
        e
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> ApiError {
        let mut e = ApiError::mapped(&err);
        e.source = Some(std::sync::Arc::new(err));
        e
    }
}

impl ApiError {
    fn mapped(err: &Error) -> ApiError {
        let kind = match err {
            Error::Kms(k) => match k {
                KmsError::NotFound { .. } | KmsError::NoStore { .. } => ErrorKind::NotFound,
                KmsError::Disabled { .. } => ErrorKind::Disabled,
                KmsError::InvalidState { .. } => ErrorKind::KmsInvalidState,
                KmsError::InvalidCiphertext => ErrorKind::InvalidCiphertext,
                KmsError::IncorrectKey { .. } => ErrorKind::IncorrectKey,
                KmsError::InvalidAliasName { .. } => ErrorKind::InvalidAliasName,
                KmsError::AlreadyExists { .. } => ErrorKind::AlreadyExists,
                KmsError::LimitExceeded { .. } => ErrorKind::LimitExceeded,
                KmsError::Validation { .. } => ErrorKind::Validation,
                KmsError::InvalidKeyUsage { .. } => ErrorKind::InvalidKeyUsage,
                KmsError::Unsupported { .. } => ErrorKind::UnsupportedOperation,
                KmsError::Tag { .. } => ErrorKind::Tag,
                KmsError::IncorrectKeyMaterial { .. } => ErrorKind::IncorrectKeyMaterial,
                KmsError::InvalidImportToken { .. } => ErrorKind::InvalidImportToken,
                KmsError::ExpiredImportToken { .. } => ErrorKind::ExpiredImportToken,
                _ => ErrorKind::KmsInternal,
            },
            Error::Key(_) => ErrorKind::InvalidKeyUsage,
            _ => ErrorKind::KmsInternal,
        };
        if kind == ErrorKind::KmsInternal {
            // Store paths and integrity findings are for the operator, not for remote callers.
            let mut e = ApiError::new(kind, "the key store could not complete the request");
            e.detail = Some(err.to_string());
            return e;
        }
        if matches!(err, Error::Kms(KmsError::NoStore { .. })) {
            return ApiError::new(kind, "no such key: the key store holds no keys yet");
        }
        ApiError::new(kind, err.to_string())
    }
}
