//! One trait for every KMS angou can use: the local store ([`crate::kms::Kms`]) and, with the
//! `aws` feature, a remote KMS reached through the AWS SDK (AWS KMS itself, or any endpoint
//! that speaks its API: `angou kms serve`, LocalStack, moto). Envelope code written against
//! [`Backend`] runs on either, chosen at run time.
//!
//! The trait has one required method, [`Backend::invoke`], which runs an AWS operation by
//! name with its JSON request body (AWS JSON 1.1, the shapes of [`super::shapes`]); the typed
//! methods are built on it, so a backend implements one thing and every caller gets types.

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::error::{ApiError, ErrorKind};
use super::shapes::{
    DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse, GenerateDataKeyRequest,
    GenerateDataKeyResponse, KeyMetadataResponse, KeyRequest, ReEncryptRequest, ReEncryptResponse,
};
use crate::kms::Kms;

/// A KMS that runs the AWS KMS operations.
///
/// # Security
/// Responses may hold plaintexts and data keys: [`Backend::invoke`] returns them in a buffer
/// that is wiped on drop, and the typed methods keep them in [`super::wire::SecretBlob`].
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Runs `operation` (an AWS name such as `GenerateDataKey`) with the JSON `body`, and
    /// returns the JSON response body.
    ///
    /// # Errors
    /// [`ApiError`] naming AWS's exception (`NotFoundException`, `AccessDeniedException`,
    /// `KMSInvalidStateException`, …); a remote backend reports what the far side said.
    fn invoke(&self, operation: &str, body: &[u8]) -> Result<Zeroizing<Vec<u8>>, ApiError>;

    /// Where the keys live, for messages ("the local key store at …", "the KMS at …").
    fn location(&self) -> String;

    /// `DescribeKey`.
    ///
    /// # Errors
    /// As [`Backend::invoke`].
    fn describe_key(&self, request: &KeyRequest) -> Result<KeyMetadataResponse, ApiError> {
        call(self, "DescribeKey", request)
    }

    /// `Encrypt`.
    ///
    /// # Errors
    /// As [`Backend::invoke`].
    fn encrypt(&self, request: &EncryptRequest) -> Result<EncryptResponse, ApiError> {
        call(self, "Encrypt", request)
    }

    /// `Decrypt`.
    ///
    /// # Errors
    /// As [`Backend::invoke`].
    fn decrypt(&self, request: &DecryptRequest) -> Result<DecryptResponse, ApiError> {
        call(self, "Decrypt", request)
    }

    /// `ReEncrypt`.
    ///
    /// # Errors
    /// As [`Backend::invoke`].
    fn re_encrypt(&self, request: &ReEncryptRequest) -> Result<ReEncryptResponse, ApiError> {
        call(self, "ReEncrypt", request)
    }

    /// `GenerateDataKey`.
    ///
    /// # Errors
    /// As [`Backend::invoke`].
    fn generate_data_key(
        &self,
        request: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, ApiError> {
        call(self, "GenerateDataKey", request)
    }
}

/// Runs `operation` on any backend with a typed request and response.
///
/// # Errors
/// As [`Backend::invoke`]; `SerializationException` if the answer is not of the expected
/// shape.
pub fn call<B, Req, Resp>(backend: &B, operation: &str, request: &Req) -> Result<Resp, ApiError>
where
    B: Backend + ?Sized,
    Req: Serialize,
    Resp: DeserializeOwned,
{
    let body = Zeroizing::new(serde_json::to_vec(request).map_err(|_| {
        ApiError::new(ErrorKind::Serialization, "the request could not be encoded")
    })?);
    let answer = backend.invoke(operation, &body)?;
    serde_json::from_slice(&answer).map_err(|_| {
        ApiError::new(
            ErrorKind::Serialization,
            format!("the answer to {operation} is not of the shape the AWS KMS model gives it"),
        )
    })
}

/// The local store: operations run by [`super::dispatch_local`], as the `angou kms` CLI runs
/// them (the handle's region, the local user in the audit log).
impl Backend for Kms {
    fn invoke(&self, operation: &str, body: &[u8]) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        super::dispatch_local(self, operation, body)
    }

    fn location(&self) -> String {
        format!("the local key store at {}", self.home().display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::{Clock, KeySpec};
    use std::collections::BTreeMap;

    /// Envelope code written once against `dyn Backend`: a data key made under a context
    /// decrypts under that context only, through the trait's typed methods.
    #[test]
    fn the_local_store_is_a_backend() {
        let dir = tempfile::tempdir().unwrap();
        let kms = Kms::open(dir.path(), Clock::System);
        let id = kms
            .create_key("", KeySpec::SymmetricDefault)
            .unwrap()
            .key_id
            .to_string();
        let backend: &dyn Backend = &kms;
        assert!(
            backend
                .location()
                .contains(&dir.path().display().to_string())
        );
        let context: BTreeMap<String, String> = [("file".to_owned(), "a".to_owned())].into();
        let made = backend
            .generate_data_key(&GenerateDataKeyRequest {
                key_id: Some(id.clone()),
                number_of_bytes: Some(16),
                encryption_context: Some(context.clone()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(made.plaintext.0.expose_secret().len(), 16);
        let back = backend
            .decrypt(&DecryptRequest {
                ciphertext_blob: Some(made.ciphertext_blob.clone()),
                encryption_context: Some(context),
                key_id: Some(made.key_id.clone()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            back.plaintext.0.expose_secret(),
            made.plaintext.0.expose_secret()
        );
        let refused = backend
            .decrypt(&DecryptRequest {
                ciphertext_blob: Some(made.ciphertext_blob),
                encryption_context: Some([("file".to_owned(), "b".to_owned())].into()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(refused.kind, ErrorKind::InvalidCiphertext);
        let missing = backend
            .describe_key(&KeyRequest {
                key_id: Some("alias/none".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(missing.kind, ErrorKind::NotFound);
    }
}
