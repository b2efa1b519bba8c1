//! The KMS as a file recipient: `angou encrypt --kms KEY` wraps a file key through the local
//! store, and `angou decrypt` unwraps `angou.dev/v1/kms` stanzas through it.

use super::{EncryptionContext, Kms};
use crate::error::{Error, KmsError};
use crate::recipient::{Identity, KMS_STANZA, Recipient, Stanza};
use crate::secret::FileKey;

/// Wraps file keys through the local KMS (`angou encrypt --kms KEY`): the stanza holds the
/// key's ARN and the ciphertext blob; the encryption context is bound, not stored.
#[derive(Debug)]
pub struct KmsRecipient<'a> {
    /// The store.
    pub kms: &'a Kms,
    /// Key id, ARN or alias.
    pub key: String,
    /// Context bound to the wrapped file key.
    pub context: EncryptionContext,
}

impl Recipient for KmsRecipient<'_> {
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error> {
        let e = self
            .kms
            .encrypt(&self.key, file_key.expose_secret(), &self.context)?;
        if e.key_material_id.is_none() {
            return Err(KmsError::Unsupported {
                reason: "file keys are wrapped with symmetric KMS keys; use -r with the RSA public key instead".into(),
            }
            .into());
        }
        Ok(vec![Stanza {
            kind: KMS_STANZA.into(),
            args: vec![e.key_id],
            body: e.ciphertext_blob,
        }])
    }
}

/// Unwraps `angou.dev/v1/kms` stanzas through the local KMS, with the given context.
#[derive(Debug)]
pub struct KmsIdentity<'a> {
    /// The store.
    pub kms: &'a Kms,
    /// The context the file key was bound to.
    pub context: EncryptionContext,
}

impl Identity for KmsIdentity<'_> {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>> {
        if stanza.kind != KMS_STANZA {
            return None;
        }
        if stanza.args.len() != 1 {
            return Some(Err(crate::error::FormatError::MalformedStanza {
                kind: KMS_STANZA,
                reason: "expected exactly one argument (the key ARN)",
            }
            .into()));
        }
        // A blob for a key this store does not hold is "not mine"; anything else is an error.
        match self
            .kms
            .decrypt(&stanza.body, &self.context, Some(&stanza.args[0]))
        {
            Ok(d) => Some(
                FileKey::from_slice(d.plaintext.expose_secret())
                    .map_err(|_| KmsError::InvalidCiphertext.into()),
            ),
            // No store at all, or no such key in it: the stanza is for someone else.
            Err(Error::Kms(KmsError::NotFound { .. } | KmsError::NoStore { .. })) => None,
            Err(e) => Some(Err(e)),
        }
    }
}
