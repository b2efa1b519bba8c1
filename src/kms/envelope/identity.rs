//! The identity: stanzas opened through `Decrypt`, for allowed keys only, with every
//! failure named.

use std::sync::{Arc, Mutex, PoisonError};

use super::{AllowPolicy, Arn, Regions, remote, unexpected, wire_context};
use crate::error::{Error, FormatError, KmsError};
use crate::kms::EncryptionContext;
use crate::kms::ops::shapes::DecryptRequest;
use crate::kms::ops::wire::Blob;
use crate::recipient::{AWS_KMS_STANZA, Identity, Stanza};
use crate::secret::FileKey;

/// Why one stanza did not open.
#[derive(Debug)]
enum Outcome {
    NotAllowed,
    Failed(Error),
}

/// Opens `angou.dev/v1/aws-kms` stanzas through the KMS of the key's region, with `Decrypt`
/// (`KeyId` pinned to the stanza's key ARN, the context as `EncryptionContext`), for the keys
/// the [`AllowPolicy`] allows.
///
/// A stanza whose key is not allowed, or whose KMS refuses or fails (AccessDenied, a network
/// failure, a disabled key, a wrong context), is answered "not mine", so the next stanza is
/// tried; each is remembered, and [`AwsKmsIdentity::explain`] turns the `NoMatch` that ends
/// such a search into [`KmsError::NoKeyOpened`], naming every key and why.
#[derive(Debug)]
pub struct AwsKmsIdentity {
    regions: Arc<Regions>,
    allow: AllowPolicy,
    context: EncryptionContext,
    attempts: Mutex<Vec<(Arn, Outcome)>>,
}

impl AwsKmsIdentity {
    /// An identity for the keys `allow` allows, reached through `regions`, expecting
    /// `context`.
    pub fn new(regions: Arc<Regions>, allow: AllowPolicy, context: EncryptionContext) -> Self {
        AwsKmsIdentity {
            regions,
            allow,
            context,
            attempts: Mutex::new(Vec::new()),
        }
    }

    /// `err` as the caller should see it: a [`FormatError::NoMatch`] after this identity saw
    /// `aws-kms` stanzas becomes [`KmsError::NoKeyOpened`], naming each key it would have
    /// needed and why it did not open (not allowed; or the KMS's exception name); any other
    /// error is returned unchanged.
    pub fn explain(&self, err: Error) -> Error {
        if !matches!(err, Error::Format(FormatError::NoMatch)) {
            return err;
        }
        let attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        if attempts.is_empty() {
            return err;
        }
        let mut not_allowed = Vec::new();
        let described: Vec<String> = attempts
            .iter()
            .map(|(key, outcome)| match outcome {
                Outcome::NotAllowed => {
                    not_allowed.push(key.to_string());
                    format!("{key} is not allowed (not contacted)")
                }
                Outcome::Failed(Error::Kms(KmsError::RemoteCall {
                    exception, message, ..
                })) => format!("{key}: {exception}: {message}"),
                Outcome::Failed(e) => format!("{key}: {e}"),
            })
            .collect();
        KmsError::NoKeyOpened {
            attempts: described.join("; "),
            not_allowed,
        }
        .into()
    }

    fn open(&self, key: &Arn, body: &[u8]) -> Result<FileKey, Error> {
        const OP: &str = "Decrypt";
        let answer = self
            .regions
            .backend(key.region())?
            .decrypt(&DecryptRequest {
                ciphertext_blob: Some(Blob(body.to_vec())),
                encryption_context: wire_context(&self.context),
                key_id: Some(key.to_string()),
                ..Default::default()
            })
            .map_err(|e| remote(OP, key, &e))?;
        if answer.key_id != key.as_str() {
            return Err(unexpected(OP, key, "it names another key"));
        }
        FileKey::from_slice(answer.plaintext.0.expose_secret())
            .map_err(|_| unexpected(OP, key, "the plaintext is not a 16-byte file key"))
    }
}

impl Identity for AwsKmsIdentity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>> {
        if stanza.kind != AWS_KMS_STANZA {
            return None;
        }
        // `Decryptor::new` checked the shape already; a caller offering stanzas directly gets
        // the same refusal.
        if let Err(e) = crate::recipient::check_stanza(stanza) {
            return Some(Err(e.into()));
        }
        let key = match Arn::parse_key(&stanza.args[0]) {
            Ok(key) => key,
            Err(e) => return Some(Err(e.into())),
        };
        let outcome = if self.allow.allows(&key) {
            match self.open(&key, &stanza.body) {
                Ok(file_key) => return Some(Ok(file_key)),
                Err(e) => Outcome::Failed(e),
            }
        } else {
            Outcome::NotAllowed
        };
        self.attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((key, outcome));
        None
    }
}
