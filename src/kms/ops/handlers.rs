//! The handlers [`dispatch`](super::dispatch) routes to for keys, aliases, rotation and
//! cryptography (tags and import have their own modules), and the helpers every handler
//! shares: required members, store results, unsupported members, `DryRun`, encryption
//! context, algorithms and pagination.

use super::shapes::*;
use super::wire::{self, Blob, SecretBlob};
use super::{ApiError, ErrorKind, tags};
use crate::error::Error;
use crate::kms::{DataKeySize, EncryptionAlgorithm, EncryptionContext, KeyId, KeySpec, Kms};

/// A required member, present after validation.
pub(super) fn key(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

/// A store result: its errors are already in the audit log.
pub(super) fn store<T>(r: Result<T, Error>) -> Result<T, ApiError> {
    r.map_err(ApiError::from_store)
}

pub(super) fn arn_of(kms: &Kms, id: &str) -> String {
    KeyId::parse(id).map_or_else(|| id.to_owned(), |k| kms.key_arn(&k))
}

pub(super) fn unsupported_if(cond: bool, what: &str) -> Result<(), ApiError> {
    if cond {
        return Err(ApiError::new(
            ErrorKind::UnsupportedOperation,
            format!("{what}: not supported by angou"),
        ));
    }
    Ok(())
}

pub(super) fn dry_run(flag: Option<bool>) -> Result<(), ApiError> {
    if flag == Some(true) {
        return Err(ApiError::new(
            ErrorKind::DryRunOperation,
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    Ok(())
}

pub(super) fn context(c: &Option<Context>) -> EncryptionContext {
    let mut ctx = EncryptionContext::new();
    for (k, v) in c.iter().flatten() {
        ctx.insert(k.clone(), v.clone());
    }
    ctx
}

/// An algorithm member; absent means `SYMMETRIC_DEFAULT`, as in AWS.
pub(super) fn algorithm(v: &Option<String>) -> Option<EncryptionAlgorithm> {
    let name = v.as_deref().unwrap_or("SYMMETRIC_DEFAULT");
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

pub(super) fn pem_body(pem: &str) -> Result<Vec<u8>, ApiError> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    <base64ct::Base64 as base64ct::Encoding>::decode_vec(&b64).map_err(|_| {
        ApiError::new(
            ErrorKind::KmsInternal,
            "the public key could not be encoded",
        )
    })
}

/// Pagination: `Marker` is `angou-1:<offset>`; anything else is an `InvalidMarkerException`.
pub(super) fn page<T>(
    items: Vec<T>,
    limit: Option<i64>,
    default: usize,
    marker: &Option<String>,
) -> Result<(Vec<T>, Option<String>, bool), ApiError> {
    let start = match marker {
        None => 0,
        Some(m) => m
            .strip_prefix("angou-1:")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::InvalidMarker,
                    "the marker is not one this server returned",
                )
            })?,
    };
    let limit = limit.map_or(default, |l| l as usize);
    let end = start.saturating_add(limit).min(items.len());
    let truncated = end < items.len();
    let next = truncated.then(|| format!("angou-1:{end}"));
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
        truncated,
    ))
}

pub(super) fn create_key(kms: &Kms, r: CreateKeyRequest) -> Result<KeyMetadataResponse, ApiError> {
    if r.key_spec.is_some() && r.customer_master_key_spec.is_some() {
        return Err(ApiError::new(
            ErrorKind::Validation,
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
        ));
    }
    unsupported_if(r.policy.is_some(), "key policies (Policy)")?;
    unsupported_if(r.multi_region == Some(true), "multi-Region keys")?;
    unsupported_if(
        r.custom_key_store_id.is_some() || r.xks_key_id.is_some(),
        "custom and external key stores",
    )?;
    unsupported_if(
        r.origin
            .as_deref()
            .is_some_and(|o| o != "AWS_KMS" && o != "EXTERNAL"),
        "key origins other than AWS_KMS and EXTERNAL",
    )?;
    unsupported_if(
        r.key_usage
            .as_deref()
            .is_some_and(|u| u != "ENCRYPT_DECRYPT"),
        "key usages other than ENCRYPT_DECRYPT",
    )?;
    let spec_name = r
        .key_spec
        .as_deref()
        .or(r.customer_master_key_spec.as_deref())
        .unwrap_or("SYMMETRIC_DEFAULT");
    let spec = KeySpec::parse(spec_name).map_err(|_| {
        ApiError::new(
            ErrorKind::UnsupportedOperation,
            format!("key spec {spec_name} is not supported by angou (SYMMETRIC_DEFAULT, RSA_2048, RSA_3072, RSA_4096 are)"),
        )
    })?;
    let m = store(kms.create_key_with(&crate::kms::CreateKeyOptions {
        description: r.description.clone().unwrap_or_default(),
        spec,
        tags: tags::tags_of(&r.tags),
        external: r.origin.as_deref() == Some("EXTERNAL"),
    }))?;
    Ok(KeyMetadataResponse {
        key_metadata: (&m).into(),
    })
}

pub(super) fn list_keys(kms: &Kms, r: ListKeysRequest) -> Result<ListKeysResponse, ApiError> {
    let all = store(kms.list_keys())?;
    let (page, next_marker, truncated) = page(all, r.limit, 100, &r.marker)?;
    Ok(ListKeysResponse {
        keys: page
            .into_iter()
            .map(|(id, arn)| KeyListEntry {
                key_id: id.to_string(),
                key_arn: arn,
            })
            .collect(),
        next_marker,
        truncated,
    })
}

pub(super) fn list_aliases(
    kms: &Kms,
    r: ListAliasesRequest,
) -> Result<ListAliasesResponse, ApiError> {
    let all = store(kms.list_aliases(r.key_id.as_deref()))?;
    let (page, next_marker, truncated) = page(all, r.limit, 50, &r.marker)?;
    Ok(ListAliasesResponse {
        aliases: page
            .into_iter()
            .map(|a| AliasListEntry {
                alias_name: a.alias_name,
                alias_arn: a.alias_arn,
                target_key_id: a.target_key_id,
            })
            .collect(),
        next_marker,
        truncated,
    })
}

pub(super) fn list_key_rotations(
    kms: &Kms,
    r: ListKeyRotationsRequest,
) -> Result<ListKeyRotationsResponse, ApiError> {
    let all_material = r.include_key_material.as_deref() == Some("ALL_KEY_MATERIAL");
    let all: Vec<_> = store(kms.list_key_rotations(key(&r.key_id)))?
        .into_iter()
        .filter(|k| all_material || k.rotation_type != "INITIAL")
        .collect();
    let (page, next_marker, truncated) = page(all, r.limit, 100, &r.marker)?;
    Ok(ListKeyRotationsResponse {
        rotations: page
            .into_iter()
            .map(|k| RotationsListEntry {
                key_id: k.key_id,
                rotation_date: wire::epoch(&k.rotation_date).unwrap_or(0.0),
                rotation_type: k.rotation_type,
                key_material_id: Some(k.key_material_id),
            })
            .collect(),
        next_marker,
        truncated,
    })
}

pub(super) fn encrypt(kms: &Kms, r: EncryptRequest) -> Result<EncryptResponse, ApiError> {
    dry_run(r.dry_run)?;
    let plaintext = r
        .plaintext
        .as_ref()
        .map(|p| p.0.expose_secret())
        .unwrap_or_default();
    let e = store(kms.encrypt_as(
        key(&r.key_id),
        plaintext,
        &context(&r.encryption_context),
        algorithm(&r.encryption_algorithm),
    ))?;
    Ok(EncryptResponse {
        ciphertext_blob: Blob(e.ciphertext_blob),
        key_id: e.key_id,
        encryption_algorithm: e.encryption_algorithm,
    })
}

pub(super) fn decrypt(kms: &Kms, r: DecryptRequest) -> Result<DecryptResponse, ApiError> {
    unsupported_if(
        r.recipient.is_some(),
        "Recipient (Nitro Enclaves attestation)",
    )?;
    dry_run(r.dry_run)?;
    let blob = r.ciphertext_blob.map(|b| b.0).unwrap_or_default();
    let d = store(kms.decrypt_as(
        &blob,
        &context(&r.encryption_context),
        r.key_id.as_deref(),
        algorithm(&r.encryption_algorithm),
    ))?;
    Ok(DecryptResponse {
        key_id: d.key_id,
        plaintext: SecretBlob(d.plaintext),
        encryption_algorithm: d.encryption_algorithm,
        key_material_id: d.key_material_id,
    })
}

pub(super) fn re_encrypt(kms: &Kms, r: ReEncryptRequest) -> Result<ReEncryptResponse, ApiError> {
    dry_run(r.dry_run)?;
    let blob = r.ciphertext_blob.map(|b| b.0).unwrap_or_default();
    let source_alg = algorithm(&r.source_encryption_algorithm);
    let e = store(kms.re_encrypt_as(
        &blob,
        &context(&r.source_encryption_context),
        r.source_key_id.as_deref(),
        key(&r.destination_key_id),
        &context(&r.destination_encryption_context),
        [source_alg, algorithm(&r.destination_encryption_algorithm)],
    ))?;
    Ok(ReEncryptResponse {
        ciphertext_blob: Blob(e.ciphertext_blob),
        source_key_id: e.source_key_id.unwrap_or_default(),
        key_id: e.key_id,
        source_encryption_algorithm: source_alg
            .map_or("SYMMETRIC_DEFAULT", EncryptionAlgorithm::name)
            .into(),
        destination_encryption_algorithm: e.encryption_algorithm,
        source_key_material_id: e.source_key_material_id,
        destination_key_material_id: e.key_material_id,
    })
}

fn data_key_size(r: &GenerateDataKeyRequest) -> Result<DataKeySize, ApiError> {
    match (r.key_spec.as_deref(), r.number_of_bytes) {
        (Some(_), Some(_)) | (None, None) => Err(ApiError::new(
            ErrorKind::Validation,
            "Please specify either number of bytes or key spec.",
        )),
        (Some("AES_128"), None) => Ok(DataKeySize::Aes128),
        (Some(_), None) => Ok(DataKeySize::Aes256),
        (None, Some(n)) => Ok(DataKeySize::Bytes(n as usize)),
    }
}

pub(super) fn generate_data_key(
    kms: &Kms,
    r: GenerateDataKeyRequest,
) -> Result<GenerateDataKeyResponse, ApiError> {
    unsupported_if(
        r.recipient.is_some(),
        "Recipient (Nitro Enclaves attestation)",
    )?;
    let size = data_key_size(&r)?;
    dry_run(r.dry_run)?;
    let d = store(kms.generate_data_key(key(&r.key_id), size, &context(&r.encryption_context)))?;
    Ok(GenerateDataKeyResponse {
        ciphertext_blob: Blob(d.ciphertext_blob),
        plaintext: SecretBlob(d.plaintext),
        key_id: d.key_id,
        key_material_id: d.key_material_id,
    })
}

pub(super) fn generate_data_key_without_plaintext(
    kms: &Kms,
    r: GenerateDataKeyRequest,
) -> Result<GenerateDataKeyWithoutPlaintextResponse, ApiError> {
    unsupported_if(r.recipient.is_some(), "Recipient")?;
    let size = data_key_size(&r)?;
    dry_run(r.dry_run)?;
    let e = store(kms.generate_data_key_without_plaintext(
        key(&r.key_id),
        size,
        &context(&r.encryption_context),
    ))?;
    Ok(GenerateDataKeyWithoutPlaintextResponse {
        ciphertext_blob: Blob(e.ciphertext_blob),
        key_id: e.key_id,
        key_material_id: e.key_material_id,
    })
}
