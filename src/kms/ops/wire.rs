//! Wire encodings shared by the shapes: base64 blobs, secret blobs, epoch-second timestamps
//! (AWS JSON 1.1), and the metadata of a key as AWS returns it.

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::kms::clock;
use crate::kms::key::{self, KeyManager, KeySpec};
use crate::secret::SecretVec;

/// Bytes carried as base64 text (a ciphertext, a public key).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blob(pub Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Base64::encode_string(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Base64::decode_vec(&text)
            .map(Blob)
            .map_err(|_| serde::de::Error::custom("a blob member is not valid base64"))
    }
}

/// Secret bytes carried as base64 text (a plaintext, a data key): held in a [`SecretVec`],
/// and the text form is wiped after use.
#[derive(Debug, Clone)]
pub struct SecretBlob(pub SecretVec);

impl Serialize for SecretBlob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(Base64::encode_string(self.0.expose_secret()));
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for SecretBlob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        Base64::decode_vec(&text)
            .map(|v| SecretBlob(SecretVec::from_vec(v)))
            .map_err(|_| serde::de::Error::custom("a blob member is not valid base64"))
    }
}

/// An RFC 3339 time of the store as epoch seconds (AWS JSON 1.1 timestamps).
pub(crate) fn epoch(text: &str) -> Option<f64> {
    clock::parse_time(text)
        .ok()
        .map(|t| t.unix_timestamp_nanos() as f64 / 1e9)
}

/// A key's metadata as AWS returns it (`KeyMetadata`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    /// The 12-digit account.
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    /// The key id.
    pub key_id: String,
    /// The key ARN.
    pub arn: String,
    /// Creation time, epoch seconds.
    pub creation_date: f64,
    /// Whether the key is Enabled.
    pub enabled: bool,
    /// Free text.
    pub description: String,
    /// `ENCRYPT_DECRYPT`.
    pub key_usage: String,
    /// `Enabled`, `Disabled`, `PendingDeletion` or `PendingImport`.
    pub key_state: String,
    /// When a pending deletion completes, epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    /// `AWS_KMS` (the store made the key material) or `EXTERNAL` (imported).
    pub origin: String,
    /// For imported material: `KEY_MATERIAL_EXPIRES` or `KEY_MATERIAL_DOES_NOT_EXPIRE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<String>,
    /// When imported material expires, epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<f64>,
    /// `CUSTOMER`, or `AWS` for the key angou manages itself.
    pub key_manager: String,
    /// The deprecated twin of `KeySpec`.
    pub customer_master_key_spec: String,
    /// `SYMMETRIC_DEFAULT`, `RSA_2048`, `RSA_3072` or `RSA_4096`.
    pub key_spec: String,
    /// The algorithms the key encrypts with.
    pub encryption_algorithms: Vec<String>,
    /// Always false: angou has no multi-Region keys.
    pub multi_region: bool,
    /// The pending window chosen, in days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_deletion_window_in_days: Option<u32>,
    /// The key material new encryptions use (symmetric keys that have material).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub current_key_material_id: Option<String>,
}

pub(crate) fn spec_name(spec: KeySpec) -> String {
    serde_json::to_value(spec)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl From<&key::KeyMetadata> for KeyMetadata {
    fn from(m: &key::KeyMetadata) -> KeyMetadata {
        let home = key::Home::of_arn(&m.arn);
        KeyMetadata {
            aws_account_id: home.account().to_owned(),
            key_id: m.key_id.to_string(),
            arn: m.arn.clone(),
            creation_date: epoch(&m.creation_date).unwrap_or(0.0),
            enabled: m.enabled,
            description: m.description.clone(),
            key_usage: m.key_usage.clone(),
            key_state: m.key_state.name().to_owned(),
            deletion_date: m.deletion_date.as_deref().and_then(epoch),
            origin: if m.origin == "EXTERNAL" {
                "EXTERNAL"
            } else {
                "AWS_KMS"
            }
            .into(),
            expiration_model: m.expiration_model.clone(),
            valid_to: m.valid_to.as_deref().and_then(epoch),
            key_manager: match m.key_manager {
                KeyManager::Customer => "CUSTOMER",
                KeyManager::Angou => "AWS",
            }
            .into(),
            customer_master_key_spec: spec_name(m.key_spec),
            key_spec: spec_name(m.key_spec),
            encryption_algorithms: m.encryption_algorithms.clone(),
            multi_region: false,
            pending_deletion_window_in_days: m.pending_deletion_window_in_days,
            current_key_material_id: (m.key_spec == KeySpec::SymmetricDefault
                && !m.current_key_material_id.is_empty())
            .then(|| m.current_key_material_id.clone()),
        }
    }
}
