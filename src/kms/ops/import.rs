//! GenerateDataKeyPair(+WithoutPlaintext), GetParametersForImport, ImportKeyMaterial and
//! DeleteImportedKeyMaterial: typed requests and responses with AWS's member names, the
//! service model's constraints, and the handlers [`super::dispatch`] routes to.

use serde::{Deserialize, Serialize};

use super::error::ErrorKind;
use super::shapes::{Context, Validate};
use super::validate::Checks;
use super::wire::{self, Blob, SecretBlob};
use super::{ApiError, context, dry_run, key, store, unsupported_if};
use crate::kms::{
    DataKeyPairSpec, ExpirationModel, ImportRequest, ImportType, Kms, WrappingAlgorithm,
};

/// The model's `DataKeyPairSpec` values.
const DATA_KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
];

/// `GenerateDataKeyPair` and `GenerateDataKeyPairWithoutPlaintext`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyPairRequest {
    /// Bound to the encrypted private key.
    pub encryption_context: Option<Context>,
    /// The symmetric KMS key.
    pub key_id: Option<String>,
    /// `RSA_2048`, `RSA_3072` or `RSA_4096` (the ECC and SM2 specs are refused).
    pub key_pair_spec: Option<String>,
    /// Accepted and ignored: angou has no grants.
    pub grant_tokens: Option<Vec<String>>,
    /// Refused: no Nitro Enclaves attestation.
    pub recipient: Option<serde_json::Value>,
    /// Checks the request only.
    pub dry_run: Option<bool>,
}

impl Validate for GenerateDataKeyPairRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.required("keyPairSpec", &self.key_pair_spec);
        c.one_of(
            "keyPairSpec",
            self.key_pair_spec.as_deref(),
            DATA_KEY_PAIR_SPECS,
        );
        c.grant_tokens(&self.grant_tokens);
    }
}

/// The response of `GenerateDataKeyPair` (and, without `PrivateKeyPlaintext`,
/// `GenerateDataKeyPairWithoutPlaintext`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyPairResponse {
    /// The private key (PKCS#8 DER), encrypted under the KMS key.
    pub private_key_ciphertext_blob: Blob,
    /// The private key, PKCS#8 DER (GenerateDataKeyPair only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_plaintext: Option<SecretBlob>,
    /// The public key, DER SubjectPublicKeyInfo.
    pub public_key: Blob,
    /// The KMS key ARN.
    pub key_id: String,
    /// The spec made.
    pub key_pair_spec: String,
    /// The KMS key material that encrypted the private key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

/// `GetParametersForImport`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportRequest {
    /// The `EXTERNAL` key.
    pub key_id: Option<String>,
    /// `RSAES_OAEP_SHA_256` or `RSA_AES_KEY_WRAP_SHA_256`.
    pub wrapping_algorithm: Option<String>,
    /// `RSA_2048`, `RSA_3072` or `RSA_4096`.
    pub wrapping_key_spec: Option<String>,
}

impl Validate for GetParametersForImportRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.required("wrappingAlgorithm", &self.wrapping_algorithm);
        c.one_of(
            "wrappingAlgorithm",
            self.wrapping_algorithm.as_deref(),
            &[
                "RSAES_PKCS1_V1_5",
                "RSAES_OAEP_SHA_1",
                "RSAES_OAEP_SHA_256",
                "RSA_AES_KEY_WRAP_SHA_1",
                "RSA_AES_KEY_WRAP_SHA_256",
                "SM2PKE",
            ],
        );
        c.required("wrappingKeySpec", &self.wrapping_key_spec);
        c.one_of(
            "wrappingKeySpec",
            self.wrapping_key_spec.as_deref(),
            &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"],
        );
    }
}

/// The response of `GetParametersForImport`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportResponse {
    /// The key ARN.
    pub key_id: String,
    /// The import token.
    pub import_token: Blob,
    /// The wrapping public key, DER SubjectPublicKeyInfo.
    pub public_key: Blob,
    /// When the token and wrapping key expire, epoch seconds.
    pub parameters_valid_to: f64,
}

/// `ImportKeyMaterial`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportKeyMaterialRequest {
    /// The `EXTERNAL` key.
    pub key_id: Option<String>,
    /// The import token of GetParametersForImport.
    pub import_token: Option<Blob>,
    /// The material wrapped to the token's public key.
    pub encrypted_key_material: Option<Blob>,
    /// When the material expires, epoch seconds.
    pub valid_to: Option<f64>,
    /// `KEY_MATERIAL_EXPIRES` or `KEY_MATERIAL_DOES_NOT_EXPIRE`.
    pub expiration_model: Option<String>,
    /// `NEW_KEY_MATERIAL` or `EXISTING_KEY_MATERIAL`.
    pub import_type: Option<String>,
    /// Refused: angou keeps no material descriptions.
    pub key_material_description: Option<String>,
    /// With material the key had: the KeyMaterialId the imported material must have.
    pub key_material_id: Option<String>,
}

fn material_id(c: &mut Checks, v: &Option<String>) {
    // The model says 64 hex digits; angou's material ids are 8 (docs/API.md).
    c.length("keyMaterialId", v.as_deref(), (1, 64));
    c.pattern("keyMaterialId", v.as_deref(), "^[a-f0-9]+$", |ch| {
        ch.is_ascii_digit() || ('a'..='f').contains(&ch)
    });
}

impl Validate for ImportKeyMaterialRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.ciphertext("importToken", self.import_token.as_ref().map(|b| b.0.len()));
        c.ciphertext(
            "encryptedKeyMaterial",
            self.encrypted_key_material.as_ref().map(|b| b.0.len()),
        );
        c.one_of(
            "expirationModel",
            self.expiration_model.as_deref(),
            &["KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"],
        );
        c.one_of(
            "importType",
            self.import_type.as_deref(),
            &["NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"],
        );
        c.length(
            "keyMaterialDescription",
            self.key_material_description.as_deref(),
            (0, 256),
        );
        material_id(c, &self.key_material_id);
    }
}

/// The response of `ImportKeyMaterial` and `DeleteImportedKeyMaterial`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMaterialResponse {
    /// The key ARN.
    pub key_id: String,
    /// The material imported or deleted.
    pub key_material_id: String,
}

/// `DeleteImportedKeyMaterial`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteImportedKeyMaterialRequest {
    /// The `EXTERNAL` key.
    pub key_id: Option<String>,
    /// The material to delete (default: the current one).
    pub key_material_id: Option<String>,
}

impl Validate for DeleteImportedKeyMaterialRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        material_id(c, &self.key_material_id);
    }
}

pub(crate) fn generate_data_key_pair(
    kms: &Kms,
    r: GenerateDataKeyPairRequest,
    plaintext: bool,
) -> Result<GenerateDataKeyPairResponse, ApiError> {
    unsupported_if(
        r.recipient.is_some(),
        "Recipient (Nitro Enclaves attestation)",
    )?;
    let spec = DataKeyPairSpec::parse(key(&r.key_pair_spec))
        .map_err(|e| ApiError::from(crate::Error::from(e)))?;
    dry_run(r.dry_run)?;
    let ctx = context(&r.encryption_context);
    let p = if plaintext {
        store(kms.generate_data_key_pair(key(&r.key_id), spec, &ctx))?
    } else {
        store(kms.generate_data_key_pair_without_plaintext(key(&r.key_id), spec, &ctx))?
    };
    Ok(GenerateDataKeyPairResponse {
        private_key_ciphertext_blob: Blob(p.private_key_ciphertext_blob),
        private_key_plaintext: p.private_key_plaintext.map(SecretBlob),
        public_key: Blob(p.public_key),
        key_id: p.key_id,
        key_pair_spec: spec.name().into(),
        key_material_id: p.key_material_id,
    })
}

pub(crate) fn get_parameters_for_import(
    kms: &Kms,
    r: GetParametersForImportRequest,
) -> Result<GetParametersForImportResponse, ApiError> {
    let alg = WrappingAlgorithm::parse(key(&r.wrapping_algorithm))
        .map_err(|e| ApiError::from(crate::Error::from(e)))?;
    let spec = key(&r.wrapping_key_spec);
    unsupported_if(spec == "SM2", "wrapping key spec SM2")?;
    let p = store(kms.get_parameters_for_import(key(&r.key_id), alg, spec))?;
    Ok(GetParametersForImportResponse {
        key_id: p.key_id,
        import_token: Blob(p.import_token),
        public_key: Blob(p.public_key),
        parameters_valid_to: wire::epoch(&p.parameters_valid_to).unwrap_or(0.0),
    })
}

pub(crate) fn import_key_material(
    kms: &Kms,
    r: ImportKeyMaterialRequest,
) -> Result<KeyMaterialResponse, ApiError> {
    unsupported_if(
        r.key_material_description.is_some(),
        "KeyMaterialDescription",
    )?;
    let valid_to = match r.valid_to {
        None => None,
        Some(secs) if secs.is_finite() => Some(
            time::OffsetDateTime::from_unix_timestamp(secs.floor() as i64)
                .map_err(|_| ApiError::new(ErrorKind::Validation, "ValidTo is out of range"))?,
        ),
        Some(_) => {
            return Err(ApiError::new(
                ErrorKind::Validation,
                "ValidTo is not a time",
            ));
        }
    };
    let expiration_model = r.expiration_model.as_deref().map(|m| match m {
        "KEY_MATERIAL_EXPIRES" => ExpirationModel::KeyMaterialExpires,
        _ => ExpirationModel::KeyMaterialDoesNotExpire,
    });
    let import_type = r.import_type.as_deref().map(|t| match t {
        "NEW_KEY_MATERIAL" => ImportType::NewKeyMaterial,
        _ => ImportType::ExistingKeyMaterial,
    });
    let token = r.import_token.map(|b| b.0).unwrap_or_default();
    let material = r.encrypted_key_material.map(|b| b.0).unwrap_or_default();
    let (key_id, key_material_id) = store(kms.import_key_material(&ImportRequest {
        key: key(&r.key_id),
        import_token: &token,
        encrypted_key_material: &material,
        expiration_model,
        valid_to,
        import_type,
        key_material_id: r.key_material_id.as_deref(),
    }))?;
    Ok(KeyMaterialResponse {
        key_id,
        key_material_id,
    })
}

pub(crate) fn delete_imported_key_material(
    kms: &Kms,
    r: DeleteImportedKeyMaterialRequest,
) -> Result<KeyMaterialResponse, ApiError> {
    let (key_id, key_material_id) =
        store(kms.delete_imported_key_material(key(&r.key_id), r.key_material_id.as_deref()))?;
    Ok(KeyMaterialResponse {
        key_id,
        key_material_id,
    })
}
