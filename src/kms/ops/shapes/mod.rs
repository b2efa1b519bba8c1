//! One request and one response per AWS KMS operation, with AWS's member names
//! (botocore's `kms/2014-11-01/service-2.json` is the reference), and the model's
//! constraints checked once in [`Validate`].
//!
//! Enum members are read as text and checked here, so a value outside the model is a
//! `ValidationException` (as AWS answers) rather than a `SerializationException`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::validate::Checks;

mod aliases;
mod crypto;
mod keys;
mod rotation;

pub use aliases::*;
pub use crypto::*;
pub use keys::*;
pub use rotation::*;

/// A request's own checks of the service model's constraints.
pub trait Validate {
    /// Records every broken constraint in `c`.
    fn check(&self, c: &mut Checks);

    /// Every broken constraint as one `ValidationException`, in AWS's wording.
    ///
    /// # Errors
    /// [`super::ApiError`] of kind `Validation`.
    fn validate(&self) -> Result<(), super::ApiError> {
        let mut c = Checks::default();
        self.check(&mut c);
        c.finish()
    }
}

/// An encryption context on the wire.
pub type Context = BTreeMap<String, String>;

/// A request that names one key and nothing else (DescribeKey, EnableKey, DisableKey,
/// CancelKeyDeletion, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
/// GetPublicKey).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyRequest {
    /// Key id, key ARN, alias name or alias ARN.
    pub key_id: Option<String>,
    /// Accepted and ignored: angou has no grants.
    pub grant_tokens: Option<Vec<String>>,
}

impl Validate for KeyRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.grant_tokens(&self.grant_tokens);
    }
}

/// The response of operations that answer with the key's ARN only (`CancelKeyDeletion`,
/// `RotateKeyOnDemand`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdResponse {
    /// The key ARN.
    pub key_id: String,
}

/// An empty response (`{}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Empty {}
