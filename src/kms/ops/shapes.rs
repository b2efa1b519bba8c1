//! One request and one response per AWS KMS operation, with AWS's member names
//! (botocore's `kms/2014-11-01/service-2.json` is the reference), and the model's
//! constraints checked once in [`Validate`].
//!
//! Enum members are read as text and checked here, so a value outside the model is a
//! `ValidationException` (as AWS answers) rather than a `SerializationException`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::validate::{self as v, Checks};
use super::wire::{Blob, KeyMetadata, SecretBlob};

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

fn algorithm(c: &mut Checks, field: &str, value: &Option<String>) {
    c.one_of(field, value.as_deref(), v::ENCRYPTION_ALGORITHMS);
}

fn alias_name(c: &mut Checks, value: &Option<String>) {
    c.required("aliasName", value);
    c.length("aliasName", value.as_deref(), (1, 256));
    c.pattern("aliasName", value.as_deref(), "^[a-zA-Z0-9:/_-]+$", |ch| {
        ch.is_ascii_alphanumeric() || matches!(ch, ':' | '/' | '_' | '-')
    });
}

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
    pub tags: Option<Vec<super::tags::TagShape>>,
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
        super::tags::check_tags(c, "tags", &self.tags);
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

/// `CreateAlias` and `UpdateAlias`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasRequest {
    /// `alias/…`.
    pub alias_name: Option<String>,
    /// The key.
    pub target_key_id: Option<String>,
}

impl Validate for AliasRequest {
    fn check(&self, c: &mut Checks) {
        alias_name(c, &self.alias_name);
        c.key_id("targetKeyId", &self.target_key_id, true);
    }
}

/// `DeleteAlias`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAliasRequest {
    /// `alias/…`.
    pub alias_name: Option<String>,
}

impl Validate for DeleteAliasRequest {
    fn check(&self, c: &mut Checks) {
        alias_name(c, &self.alias_name);
    }
}

/// `ListAliases`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesRequest {
    /// Only the aliases of this key.
    pub key_id: Option<String>,
    /// 1 to 1000 (default 50).
    pub limit: Option<i64>,
    /// The `NextMarker` of the previous page.
    pub marker: Option<String>,
}

impl Validate for ListAliasesRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, false);
        c.page(self.limit, &self.marker);
    }
}

/// One entry of `ListAliases`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasListEntry {
    /// `alias/…`.
    pub alias_name: String,
    /// The alias ARN.
    pub alias_arn: String,
    /// The key id it points at.
    pub target_key_id: String,
}

/// The response of `ListAliases`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    /// This page.
    pub aliases: Vec<AliasListEntry>,
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

/// The response of operations that answer with the key's ARN only (`CancelKeyDeletion`,
/// `RotateKeyOnDemand`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdResponse {
    /// The key ARN.
    pub key_id: String,
}

/// `EnableKeyRotation`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnableKeyRotationRequest {
    /// The key.
    pub key_id: Option<String>,
    /// 90 to 2560 (default 365).
    pub rotation_period_in_days: Option<i64>,
}

impl Validate for EnableKeyRotationRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.range(
            "rotationPeriodInDays",
            self.rotation_period_in_days,
            (90, 2560),
        );
    }
}

/// The response of `GetKeyRotationStatus`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyRotationStatusResponse {
    /// Whether automatic rotation is on.
    pub key_rotation_enabled: bool,
    /// The key ARN.
    pub key_id: String,
    /// The period, when on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<u32>,
    /// The next automatic rotation, epoch seconds, when on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<f64>,
}

/// `ListKeyRotations`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyRotationsRequest {
    /// The key.
    pub key_id: Option<String>,
    /// `ROTATIONS_ONLY` (default) or `ALL_KEY_MATERIAL` (the initial material too).
    pub include_key_material: Option<String>,
    /// 1 to 1000 (default 100).
    pub limit: Option<i64>,
    /// The `NextMarker` of the previous page.
    pub marker: Option<String>,
}

impl Validate for ListKeyRotationsRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.one_of(
            "includeKeyMaterial",
            self.include_key_material.as_deref(),
            &["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"],
        );
        c.page(self.limit, &self.marker);
    }
}

/// One entry of `ListKeyRotations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationsListEntry {
    /// The key id.
    pub key_id: String,
    /// When the material was made, epoch seconds.
    pub rotation_date: f64,
    /// `AUTOMATIC` or `ON_DEMAND` (`INITIAL` with `ALL_KEY_MATERIAL` is angou's name for
    /// the first material).
    pub rotation_type: String,
    /// The key material: 64 hex digits (8 for material made before angou 0.x named them so).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

/// The response of `ListKeyRotations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyRotationsResponse {
    /// This page.
    pub rotations: Vec<RotationsListEntry>,
    /// Where the next page starts, when `Truncated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether more pages follow.
    pub truncated: bool,
}

/// `Encrypt`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptRequest {
    /// The key.
    pub key_id: Option<String>,
    /// 1 to 4096 bytes.
    pub plaintext: Option<SecretBlob>,
    /// Bound to the ciphertext.
    pub encryption_context: Option<Context>,
    /// Accepted and ignored: angou has no grants.
    pub grant_tokens: Option<Vec<String>>,
    /// `SYMMETRIC_DEFAULT` (default) or `RSAES_OAEP_SHA_256` for RSA keys.
    pub encryption_algorithm: Option<String>,
    /// Checks the request only.
    pub dry_run: Option<bool>,
}

impl Validate for EncryptRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.required("plaintext", &self.plaintext);
        c.blob_length(
            "plaintext",
            self.plaintext.as_ref().map(|p| p.0.expose_secret().len()),
            v::PLAINTEXT_LEN,
        );
        c.grant_tokens(&self.grant_tokens);
        algorithm(c, "encryptionAlgorithm", &self.encryption_algorithm);
    }
}

/// The response of `Encrypt`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptResponse {
    /// The ciphertext.
    pub ciphertext_blob: Blob,
    /// The key ARN.
    pub key_id: String,
    /// The algorithm used.
    pub encryption_algorithm: String,
}

/// `Decrypt`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptRequest {
    /// The ciphertext.
    pub ciphertext_blob: Option<Blob>,
    /// The context it was bound to.
    pub encryption_context: Option<Context>,
    /// Accepted and ignored: angou has no grants.
    pub grant_tokens: Option<Vec<String>>,
    /// The key (required for RSA ciphertexts; a symmetric blob names its key).
    pub key_id: Option<String>,
    /// `SYMMETRIC_DEFAULT` (default) or `RSAES_OAEP_SHA_256`.
    pub encryption_algorithm: Option<String>,
    /// Refused: no Nitro Enclaves attestation.
    pub recipient: Option<serde_json::Value>,
    /// Checks the request only.
    pub dry_run: Option<bool>,
}

impl Validate for DecryptRequest {
    fn check(&self, c: &mut Checks) {
        c.ciphertext(
            "ciphertextBlob",
            self.ciphertext_blob.as_ref().map(|b| b.0.len()),
        );
        c.grant_tokens(&self.grant_tokens);
        c.key_id("keyId", &self.key_id, false);
        algorithm(c, "encryptionAlgorithm", &self.encryption_algorithm);
    }
}

/// The response of `Decrypt`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptResponse {
    /// The key ARN.
    pub key_id: String,
    /// The plaintext.
    pub plaintext: SecretBlob,
    /// The algorithm used.
    pub encryption_algorithm: String,
    /// The key material that decrypted it (symmetric keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

/// `ReEncrypt`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptRequest {
    /// The ciphertext.
    pub ciphertext_blob: Option<Blob>,
    /// Its context.
    pub source_encryption_context: Option<Context>,
    /// Its key (required for RSA).
    pub source_key_id: Option<String>,
    /// The key to re-encrypt under.
    pub destination_key_id: Option<String>,
    /// The context to bind.
    pub destination_encryption_context: Option<Context>,
    /// The source algorithm.
    pub source_encryption_algorithm: Option<String>,
    /// The destination algorithm.
    pub destination_encryption_algorithm: Option<String>,
    /// Accepted and ignored: angou has no grants.
    pub grant_tokens: Option<Vec<String>>,
    /// Checks the request only.
    pub dry_run: Option<bool>,
}

impl Validate for ReEncryptRequest {
    fn check(&self, c: &mut Checks) {
        c.ciphertext(
            "ciphertextBlob",
            self.ciphertext_blob.as_ref().map(|b| b.0.len()),
        );
        c.key_id("sourceKeyId", &self.source_key_id, false);
        c.key_id("destinationKeyId", &self.destination_key_id, true);
        algorithm(
            c,
            "sourceEncryptionAlgorithm",
            &self.source_encryption_algorithm,
        );
        algorithm(
            c,
            "destinationEncryptionAlgorithm",
            &self.destination_encryption_algorithm,
        );
        c.grant_tokens(&self.grant_tokens);
    }
}

/// The response of `ReEncrypt`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptResponse {
    /// The new ciphertext.
    pub ciphertext_blob: Blob,
    /// The source key ARN.
    pub source_key_id: String,
    /// The destination key ARN.
    pub key_id: String,
    /// The source algorithm.
    pub source_encryption_algorithm: String,
    /// The destination algorithm.
    pub destination_encryption_algorithm: String,
    /// The key material that decrypted the source (symmetric keys).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source_key_material_id: Option<String>,
    /// The key material that encrypted the result (symmetric keys).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub destination_key_material_id: Option<String>,
}

/// `GenerateDataKey` and `GenerateDataKeyWithoutPlaintext`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyRequest {
    /// The key.
    pub key_id: Option<String>,
    /// Bound to the encrypted data key.
    pub encryption_context: Option<Context>,
    /// 1 to 1024 (or `KeySpec`).
    pub number_of_bytes: Option<i64>,
    /// `AES_256` or `AES_128` (or `NumberOfBytes`).
    pub key_spec: Option<String>,
    /// Accepted and ignored: angou has no grants.
    pub grant_tokens: Option<Vec<String>>,
    /// Refused: no Nitro Enclaves attestation.
    pub recipient: Option<serde_json::Value>,
    /// Checks the request only.
    pub dry_run: Option<bool>,
}

impl Validate for GenerateDataKeyRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.range("numberOfBytes", self.number_of_bytes, v::NUMBER_OF_BYTES);
        c.one_of("keySpec", self.key_spec.as_deref(), &["AES_256", "AES_128"]);
        c.grant_tokens(&self.grant_tokens);
    }
}

/// The response of `GenerateDataKey`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyResponse {
    /// The data key, encrypted.
    pub ciphertext_blob: Blob,
    /// The data key.
    pub plaintext: SecretBlob,
    /// The key ARN.
    pub key_id: String,
    /// The key material that encrypted the data key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_material_id: Option<String>,
}

/// The response of `GenerateDataKeyWithoutPlaintext`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyWithoutPlaintextResponse {
    /// The data key, encrypted.
    pub ciphertext_blob: Blob,
    /// The key ARN.
    pub key_id: String,
    /// The key material that encrypted the data key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_material_id: Option<String>,
}

/// `GenerateRandom`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateRandomRequest {
    /// 1 to 1024.
    pub number_of_bytes: Option<i64>,
    /// Refused: no custom key stores.
    pub custom_key_store_id: Option<String>,
    /// Refused: no Nitro Enclaves attestation.
    pub recipient: Option<serde_json::Value>,
}

impl Validate for GenerateRandomRequest {
    fn check(&self, c: &mut Checks) {
        c.range("numberOfBytes", self.number_of_bytes, v::NUMBER_OF_BYTES);
        c.length(
            "customKeyStoreId",
            self.custom_key_store_id.as_deref(),
            (1, 64),
        );
    }
}

/// The response of `GenerateRandom`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateRandomResponse {
    /// The random bytes.
    pub plaintext: SecretBlob,
}

/// The response of `GetPublicKey`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPublicKeyResponse {
    /// The key ARN.
    pub key_id: String,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Blob,
    /// The deprecated twin of `KeySpec`.
    pub customer_master_key_spec: String,
    /// The key spec.
    pub key_spec: String,
    /// `ENCRYPT_DECRYPT`.
    pub key_usage: String,
    /// The algorithms it encrypts with.
    pub encryption_algorithms: Vec<String>,
}

/// An empty response (`{}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Empty {}
