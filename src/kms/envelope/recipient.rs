//! The recipient: a file key wrapped by a KMS key (`GenerateDataKey` for the first, then
//! `Encrypt`).

use std::sync::Arc;

use super::{Arn, Regions, answered_key, remote, stanza, unexpected, wire_context};
use crate::error::Error;
use crate::kms::EncryptionContext;
use crate::kms::ops::backend::Backend;
use crate::kms::ops::shapes::{EncryptRequest, GenerateDataKeyRequest};
use crate::kms::ops::wire::SecretBlob;
use crate::recipient::{Recipient, Stanza};
use crate::secret::{FileKey, SecretVec};

/// Bytes of the file key the KMS is asked for (`NumberOfBytes`).
const FILE_KEY_BYTES: i64 = 16;

/// Wraps file keys with a key in a remote KMS (`angou encrypt --kms arn:aws:kms:…`).
///
/// The first `AwsKmsRecipient` of a file has the KMS generate the file key
/// (`GenerateDataKey`, `NumberOfBytes` 16, the context as `EncryptionContext`); every other
/// one wraps it with `Encrypt`. Either way the stanza records the key ARN the KMS answered
/// with (an alias ARN is resolved by the KMS, at encryption time) and its `CiphertextBlob`.
#[derive(Debug)]
pub struct AwsKmsRecipient {
    regions: Arc<Regions>,
    key: Arn,
    context: EncryptionContext,
}

impl AwsKmsRecipient {
    /// A recipient for `key`, a key ARN or alias ARN, reached through `regions` by the ARN's
    /// region, with `context` bound to the wrapped file key.
    ///
    /// # Errors
    /// [`FormatError::MalformedStanza`](crate::error::FormatError::MalformedStanza) if `key`
    /// is not a KMS key or alias ARN.
    pub fn new(
        regions: Arc<Regions>,
        key: &str,
        context: EncryptionContext,
    ) -> Result<Self, Error> {
        Ok(AwsKmsRecipient {
            regions,
            key: Arn::parse(key)?,
            context,
        })
    }

    fn backend(&self) -> Result<Arc<dyn Backend>, Error> {
        self.regions.backend(self.key.region())
    }
}

impl Recipient for AwsKmsRecipient {
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error> {
        const OP: &str = "Encrypt";
        let answer = self
            .backend()?
            .encrypt(&EncryptRequest {
                key_id: Some(self.key.to_string()),
                plaintext: Some(SecretBlob(SecretVec::from_vec(
                    file_key.expose_secret().to_vec(),
                ))),
                encryption_context: wire_context(&self.context),
                ..Default::default()
            })
            .map_err(|e| remote(OP, &self.key, &e))?;
        let key = answered_key(OP, &self.key, &answer.key_id)?;
        Ok(vec![stanza(OP, &self.key, &key, answer.ciphertext_blob.0)?])
    }

    fn generate_file_key(&self) -> Option<Result<(FileKey, Vec<Stanza>), Error>> {
        const OP: &str = "GenerateDataKey";
        let made = || -> Result<(FileKey, Vec<Stanza>), Error> {
            let answer = self
                .backend()?
                .generate_data_key(&GenerateDataKeyRequest {
                    key_id: Some(self.key.to_string()),
                    number_of_bytes: Some(FILE_KEY_BYTES),
                    encryption_context: wire_context(&self.context),
                    ..Default::default()
                })
                .map_err(|e| remote(OP, &self.key, &e))?;
            let key = answered_key(OP, &self.key, &answer.key_id)?;
            let file_key = FileKey::from_slice(answer.plaintext.0.expose_secret())
                .map_err(|_| unexpected(OP, &self.key, "its data key is not 16 bytes"))?;
            let stanza = stanza(OP, &self.key, &key, answer.ciphertext_blob.0)?;
            Ok((file_key, vec![stanza]))
        };
        Some(made())
    }
}
