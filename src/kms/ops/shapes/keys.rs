//! Keys: `CreateKey`, `DescribeKey`'s answer, `ListKeys` and `ScheduleKeyDeletion`.

use serde::{Deserialize, Serialize};

use super::Validate;
use crate::kms::ops::tags;
use crate::kms::ops::validate::Checks;
use crate::kms::ops::wire::KeyMetadata;

/// `CreateKey`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyRequest {
    /// Free text, at most 8192 characters.
    pub description: Option<String>,
    /// `ENCRYPT_DECRYPT` (the only usage angou has).
    pub key_usage: Option<String>,
    /// The key spec.
    pub key_spec: Option<String>,
    /// The deprecated twin of `KeySpec`.
    pub customer_master_key_spec: Option<String>,
    /// `AWS_KMS` (default) or `EXTERNAL` (material imported later).
    pub origin: Option<String>,
    /// Refused: angou does not enforce key policies.
    pub policy: Option<String>,
    /// Accepted without a policy.
    pub bypass_policy_lockout_safety_check: Option<bool>,
    /// Tags to put on the key.
    pub tags: Option<Vec<tags::TagShape>>,
    /// Refused when true.
    pub multi_region: Option<bool>,
    /// Refused: no custom key stores.
    pub custom_key_store_id: Option<String>,
    /// Refused: no external key stores.
    pub xks_key_id: Option<String>,
}

/// `KeySpec` values of the model.
pub(crate) const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
];

impl Validate for CreateKeyRequest {
    fn check(&self, c: &mut Checks) {
        c.length("description", self.description.as_deref(), (0, 8192));
        c.one_of(
            "keyUsage",
            self.key_usage.as_deref(),
            &[
                "SIGN_VERIFY",
                "ENCRYPT_DECRYPT",
                "GENERATE_VERIFY_MAC",
                "KEY_AGREEMENT",
            ],
        );
        c.one_of("keySpec", self.key_spec.as_deref(), KEY_SPECS);
        c.one_of(
            "customerMasterKeySpec",
            self.customer_master_key_spec.as_deref(),
            &KEY_SPECS[..13],
        );
        c.one_of(
            "origin",
            self.origin.as_deref(),
            &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"],
        );
        c.length("policy", self.policy.as_deref(), (1, 131_072));
        c.length(
            "customKeyStoreId",
            self.custom_key_store_id.as_deref(),
            (1, 64),
        );
        c.length("xksKeyId", self.xks_key_id.as_deref(), (1, 128));
        tags::check_tags(c, "tags", &self.tags);
    }
}

/// The response of `CreateKey` and `DescribeKey`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadataResponse {
    /// The key.
    pub key_metadata: KeyMetadata,
}

/// `ListKeys`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysRequest {
    /// 1 to 1000 (default 100).
    pub limit: Option<i64>,
    /// The `NextMarker` of the previous page.
    pub marker: Option<String>,
}

impl Validate for ListKeysRequest {
    fn check(&self, c: &mut Checks) {
        c.page(self.limit, &self.marker);
    }
}

/// One entry of `ListKeys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    /// The key id.
    pub key_id: String,
    /// The key ARN.
    pub key_arn: String,
}

/// The response of `ListKeys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysResponse {
    /// This page.
    pub keys: Vec<KeyListEntry>,
    /// Where the next page starts, when `Truncated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether more pages follow.
    pub truncated: bool,
}

/// `ScheduleKeyDeletion`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionRequest {
    /// The key.
    pub key_id: Option<String>,
    /// 7 to 30 (the model allows 1 to 365; AWS and angou take 7 to 30).
    pub pending_window_in_days: Option<i64>,
}

impl Validate for ScheduleKeyDeletionRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.range("pendingWindowInDays", self.pending_window_in_days, (1, 365));
    }
}

/// The response of `ScheduleKeyDeletion`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionResponse {
    /// The key ARN.
    pub key_id: String,
    /// When the key will be deleted, epoch seconds.
    pub deletion_date: f64,
    /// `PendingDeletion`.
    pub key_state: String,
    /// The window in days.
    pub pending_window_in_days: u32,
}
