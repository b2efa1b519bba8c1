//! Cryptographic operations: `Encrypt`, `Decrypt`, `ReEncrypt`, the data keys,
//! `GenerateRandom` and `GetPublicKey`.

use serde::{Deserialize, Serialize};

use super::{Context, Validate};
use crate::kms::ops::validate::{self as v, Checks};
use crate::kms::ops::wire::{Blob, SecretBlob};

fn algorithm(c: &mut Checks, field: &str, value: &Option<String>) {
    c.one_of(field, value.as_deref(), v::ENCRYPTION_ALGORITHMS);
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
