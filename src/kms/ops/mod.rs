//! The AWS KMS operations as typed requests and responses, one door-independent layer: a
//! door (the HTTP server, and next the CLI and a remote client) hands [`dispatch`] an
//! operation name and a JSON body, and gets AWS's JSON answer or an [`ApiError`] naming
//! AWS's exception. Requests are checked against the service model once, in
//! [`shapes::Validate`]; the work is done by [`Kms`], never twice.
//!
//! Every request is audited: what the store runs records itself, and what this layer
//! refuses before the store (a body that does not parse, a value out of range, an unknown
//! operation, `DryRun`) is recorded with [`Kms::record_refused`].

pub mod backend;
pub mod error;
pub mod import;
pub mod shapes;
pub mod tags;
pub mod validate;
pub mod wire;

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

pub use backend::Backend;
pub use error::{ApiError, ErrorKind};
use shapes::*;
use wire::{Blob, SecretBlob};

use crate::error::Error;
use crate::kms::{DataKeySize, EncryptionAlgorithm, EncryptionContext, Home, KeyId, KeySpec, Kms};

/// Who calls, and where: the region and account the request is for (keys elsewhere are not
/// found), the principal recorded in the audit log, and the caller's network address.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// Region and account.
    pub home: Home,
    /// The principal (an access key id, or `unsigned`).
    pub caller: String,
    /// The caller's address, when it came over a network.
    pub source: Option<String>,
    /// The access key the request was signed with, and its user (`None` for unsigned
    /// requests).
    pub access_key: Option<(String, String)>,
}

/// The operations [`dispatch`] serves, by their AWS names.
pub const OPERATIONS: &[&str] = &[
    "CancelKeyDeletion",
    "CreateAlias",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DeleteImportedKeyMaterial",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ReEncrypt",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateKeyDescription",
];

/// Runs operation `operation` (an AWS name such as `Encrypt`) with the JSON `body`.
///
/// Returns the JSON response body; it may hold a plaintext or data key, so it is wiped when
/// dropped.
///
/// # Errors
/// [`ApiError`] with AWS's exception name: `UnknownOperationException` for a name not in
/// [`OPERATIONS`], `SerializationException` for a body that is not JSON of the operation's
/// shape, `ValidationException` for a value outside the service model, and the store's
/// errors mapped to AWS's.
pub fn dispatch(
    kms: &Kms,
    call: &CallContext,
    operation: &str,
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let mut kms = kms
        .clone()
        .with_region(call.home.clone())
        .with_caller(call.caller.clone(), call.source.clone());
    if let Some((id, user)) = &call.access_key {
        kms = kms.with_access_key(id.clone(), Some(user.clone()));
    }
    dispatch_local(&kms, operation, body)
}

/// [`dispatch`] for a door on this machine (the `angou kms` CLI): the handle's own region,
/// and the local user as the caller in the audit log.
///
/// # Errors
/// As [`dispatch`]; an error the store returned keeps it ([`ApiError::source_error`]), so a
/// local door can show the operator the whole story.
pub fn dispatch_local(
    kms: &Kms,
    operation: &str,
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let result = route(kms, operation, body);
    if let Err(e) = &result
        && !e.audited
    {
        let name = if OPERATIONS.contains(&operation) {
            operation
        } else {
            "UnknownOperation"
        };
        if let Err(err) = kms.record_refused(name, e.kind.name()) {
            return Err(ApiError::from(err));
        }
    }
    result
}

/// Decodes and validates a request of `operation` without running it: what [`dispatch`]
/// does before the store is touched (for fuzzing the request decoder, and for doors that
/// check early).
///
/// # Errors
/// As [`dispatch`] before the store: `UnknownOperationException`, `SerializationException`,
/// `ValidationException`.
pub fn decode(operation: &str, body: &[u8]) -> Result<(), ApiError> {
    fn check<R: DeserializeOwned + Validate>(body: &[u8]) -> Result<(), ApiError> {
        parse::<R>(body)?.validate()
    }
    match operation {
        "CreateKey" => check::<CreateKeyRequest>(body),
        "DescribeKey"
        | "EnableKey"
        | "DisableKey"
        | "CancelKeyDeletion"
        | "DisableKeyRotation"
        | "GetKeyRotationStatus"
        | "RotateKeyOnDemand"
        | "GetPublicKey" => check::<KeyRequest>(body),
        "ListKeys" => check::<ListKeysRequest>(body),
        "CreateAlias" | "UpdateAlias" => check::<AliasRequest>(body),
        "DeleteAlias" => check::<DeleteAliasRequest>(body),
        "ListAliases" => check::<ListAliasesRequest>(body),
        "ScheduleKeyDeletion" => check::<ScheduleKeyDeletionRequest>(body),
        "EnableKeyRotation" => check::<EnableKeyRotationRequest>(body),
        "ListKeyRotations" => check::<ListKeyRotationsRequest>(body),
        "Encrypt" => check::<EncryptRequest>(body),
        "Decrypt" => check::<DecryptRequest>(body),
        "ReEncrypt" => check::<ReEncryptRequest>(body),
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            check::<GenerateDataKeyRequest>(body)
        }
        "GenerateRandom" => check::<GenerateRandomRequest>(body),
        "TagResource" => check::<tags::TagResourceRequest>(body),
        "UntagResource" => check::<tags::UntagResourceRequest>(body),
        "ListResourceTags" => check::<tags::ListResourceTagsRequest>(body),
        "UpdateKeyDescription" => check::<tags::UpdateKeyDescriptionRequest>(body),
        "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
            check::<import::GenerateDataKeyPairRequest>(body)
        }
        "GetParametersForImport" => check::<import::GetParametersForImportRequest>(body),
        "ImportKeyMaterial" => check::<import::ImportKeyMaterialRequest>(body),
        "DeleteImportedKeyMaterial" => check::<import::DeleteImportedKeyMaterialRequest>(body),
        _ => Err(ApiError::new(
            ErrorKind::UnknownOperation,
            "no such operation",
        )),
    }
}

fn route(kms: &Kms, op: &str, body: &[u8]) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    match op {
        "CreateKey" => call(body, |r| create_key(kms, r)),
        "DescribeKey" => call(body, |r: KeyRequest| {
            let m = store(kms.describe_key(key(&r.key_id)))?;
            Ok(KeyMetadataResponse {
                key_metadata: (&m).into(),
            })
        }),
        "ListKeys" => call(body, |r| list_keys(kms, r)),
        "CreateAlias" => call(body, |r: AliasRequest| {
            store(kms.create_alias(key(&r.alias_name), key(&r.target_key_id)))?;
            Ok(Empty {})
        }),
        "UpdateAlias" => call(body, |r: AliasRequest| {
            store(kms.update_alias(key(&r.alias_name), key(&r.target_key_id)))?;
            Ok(Empty {})
        }),
        "DeleteAlias" => call(body, |r: DeleteAliasRequest| {
            store(kms.delete_alias(key(&r.alias_name)))?;
            Ok(Empty {})
        }),
        "ListAliases" => call(body, |r| list_aliases(kms, r)),
        "EnableKey" => call(body, |r: KeyRequest| {
            store(kms.enable_key(key(&r.key_id)))?;
            Ok(Empty {})
        }),
        "DisableKey" => call(body, |r: KeyRequest| {
            store(kms.disable_key(key(&r.key_id)))?;
            Ok(Empty {})
        }),
        "ScheduleKeyDeletion" => call(body, |r: ScheduleKeyDeletionRequest| {
            let days = r.pending_window_in_days.map(|d| d as u32);
            let (id, at, days) = store(kms.schedule_key_deletion(key(&r.key_id), days))?;
            Ok(ScheduleKeyDeletionResponse {
                key_id: kms.key_arn(&id),
                deletion_date: wire::epoch(&at).unwrap_or(0.0),
                key_state: "PendingDeletion".into(),
                pending_window_in_days: days,
            })
        }),
        "CancelKeyDeletion" => call(body, |r: KeyRequest| {
            let id = store(kms.cancel_key_deletion(key(&r.key_id)))?;
            Ok(KeyIdResponse {
                key_id: kms.key_arn(&id),
            })
        }),
        "EnableKeyRotation" => call(body, |r: EnableKeyRotationRequest| {
            let days = r.rotation_period_in_days.map(|d| d as u32);
            store(kms.enable_key_rotation(key(&r.key_id), days))?;
            Ok(Empty {})
        }),
        "DisableKeyRotation" => call(body, |r: KeyRequest| {
            store(kms.disable_key_rotation(key(&r.key_id)))?;
            Ok(Empty {})
        }),
        "GetKeyRotationStatus" => call(body, |r: KeyRequest| {
            let s = store(kms.get_key_rotation_status(key(&r.key_id)))?;
            Ok(GetKeyRotationStatusResponse {
                key_rotation_enabled: s.key_rotation_enabled,
                key_id: arn_of(kms, &s.key_id),
                rotation_period_in_days: s.rotation_period_in_days,
                next_rotation_date: s.next_rotation_date.as_deref().and_then(wire::epoch),
            })
        }),
        "RotateKeyOnDemand" => call(body, |r: KeyRequest| {
            let id = store(kms.rotate_key_on_demand(key(&r.key_id)))?;
            Ok(KeyIdResponse {
                key_id: kms.key_arn(&id),
            })
        }),
        "ListKeyRotations" => call(body, |r| list_key_rotations(kms, r)),
        "Encrypt" => call(body, |r| encrypt(kms, r)),
        "Decrypt" => call(body, |r| decrypt(kms, r)),
        "ReEncrypt" => call(body, |r| re_encrypt(kms, r)),
        "GenerateDataKey" => call(body, |r| generate_data_key(kms, r)),
        "GenerateDataKeyWithoutPlaintext" => {
            call(body, |r| generate_data_key_without_plaintext(kms, r))
        }
        "GenerateRandom" => call(body, |r: GenerateRandomRequest| {
            unsupported_if(r.custom_key_store_id.is_some(), "custom key stores")?;
            unsupported_if(
                r.recipient.is_some(),
                "Recipient (Nitro Enclaves attestation)",
            )?;
            let n = r
                .number_of_bytes
                .map_or(Ok(32), usize::try_from)
                .unwrap_or(0);
            Ok(GenerateRandomResponse {
                plaintext: SecretBlob(store(kms.generate_random(n))?),
            })
        }),
        "GetPublicKey" => call(body, |r: KeyRequest| {
            let (m, pem) = store(kms.get_public_key(key(&r.key_id)))?;
            Ok(GetPublicKeyResponse {
                key_id: m.arn.clone(),
                public_key: Blob(pem_body(&pem)?),
                customer_master_key_spec: wire::spec_name(m.key_spec),
                key_spec: wire::spec_name(m.key_spec),
                key_usage: m.key_usage.clone(),
                encryption_algorithms: m.encryption_algorithms.clone(),
            })
        }),
        "TagResource" => call(body, |r| tags::tag_resource(kms, r)),
        "UntagResource" => call(body, |r| tags::untag_resource(kms, r)),
        "ListResourceTags" => call(body, |r| tags::list_resource_tags(kms, r)),
        "UpdateKeyDescription" => call(body, |r| tags::update_key_description(kms, r)),
        "GenerateDataKeyPair" => call(body, |r| import::generate_data_key_pair(kms, r, true)),
        "GenerateDataKeyPairWithoutPlaintext" => {
            call(body, |r| import::generate_data_key_pair(kms, r, false))
        }
        "GetParametersForImport" => call(body, |r| import::get_parameters_for_import(kms, r)),
        "ImportKeyMaterial" => call(body, |r| import::import_key_material(kms, r)),
        "DeleteImportedKeyMaterial" => call(body, |r| import::delete_imported_key_material(kms, r)),
        _ => Err(ApiError::new(
            ErrorKind::UnknownOperation,
            format!(
                "operation {:?} is not one angou serves",
                op.chars().take(64).collect::<String>()
            ),
        )),
    }
}

/// Parses, validates, runs and encodes one operation.
fn call<Req, Resp>(
    body: &[u8],
    f: impl FnOnce(Req) -> Result<Resp, ApiError>,
) -> Result<Zeroizing<Vec<u8>>, ApiError>
where
    Req: DeserializeOwned + Validate,
    Resp: Serialize,
{
    let req: Req = parse(body)?;
    req.validate()?;
    let resp = f(req)?;
    // Sized up front so a response holding a secret is not copied by reallocation.
    let mut out = Zeroizing::new(Vec::with_capacity(16 * 1024));
    serde_json::to_writer(&mut *out, &resp).map_err(|e| {
        ApiError::from(Error::from(crate::error::KmsError::Store {
            reason: format!("cannot encode a response: {e}"),
        }))
    })?;
    Ok(out)
}

/// Reads a request body: an empty body is `{}`, anything but a JSON object of the
/// operation's members is a `SerializationException`.
pub fn parse<Req: DeserializeOwned>(body: &[u8]) -> Result<Req, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            ErrorKind::Serialization,
            "the request body is not a JSON object",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorKind::Serialization,
            format!(
                "the request body does not match the operation's shape ({})",
                e.classify_message()
            ),
        )
    })
}

trait Classify {
    fn classify_message(&self) -> String;
}

impl Classify for serde_json::Error {
    /// Where and what kind of problem, without echoing the input (it may hold a secret).
    fn classify_message(&self) -> String {
        let what = match self.classify() {
            serde_json::error::Category::Syntax => "malformed JSON",
            serde_json::error::Category::Eof => "the JSON ends early",
            serde_json::error::Category::Data => "a member has the wrong type or encoding",
            serde_json::error::Category::Io => "the body could not be read",
        };
        format!("{what} at line {} column {}", self.line(), self.column())
    }
}

/// A required member, present after validation.
fn key(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

/// A store result: its errors are already in the audit log.
fn store<T>(r: Result<T, Error>) -> Result<T, ApiError> {
    r.map_err(ApiError::from_store)
}

fn arn_of(kms: &Kms, id: &str) -> String {
    KeyId::parse(id).map_or_else(|| id.to_owned(), |k| kms.key_arn(&k))
}

fn unsupported_if(cond: bool, what: &str) -> Result<(), ApiError> {
    if cond {
        return Err(ApiError::new(
            ErrorKind::UnsupportedOperation,
            format!("{what}: not supported by angou"),
        ));
    }
    Ok(())
}

fn dry_run(flag: Option<bool>) -> Result<(), ApiError> {
    if flag == Some(true) {
        return Err(ApiError::new(
            ErrorKind::DryRunOperation,
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    Ok(())
}

fn context(c: &Option<Context>) -> EncryptionContext {
    let mut ctx = EncryptionContext::new();
    for (k, v) in c.iter().flatten() {
        ctx.insert(k.clone(), v.clone());
    }
    ctx
}

/// An algorithm member; absent means `SYMMETRIC_DEFAULT`, as in AWS.
fn algorithm(v: &Option<String>) -> Option<EncryptionAlgorithm> {
    let name = v.as_deref().unwrap_or("SYMMETRIC_DEFAULT");
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

fn pem_body(pem: &str) -> Result<Vec<u8>, ApiError> {
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
fn page<T>(
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

fn create_key(kms: &Kms, r: CreateKeyRequest) -> Result<KeyMetadataResponse, ApiError> {
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

fn list_keys(kms: &Kms, r: ListKeysRequest) -> Result<ListKeysResponse, ApiError> {
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

fn list_aliases(kms: &Kms, r: ListAliasesRequest) -> Result<ListAliasesResponse, ApiError> {
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

fn list_key_rotations(
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

fn encrypt(kms: &Kms, r: EncryptRequest) -> Result<EncryptResponse, ApiError> {
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

fn decrypt(kms: &Kms, r: DecryptRequest) -> Result<DecryptResponse, ApiError> {
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

fn re_encrypt(kms: &Kms, r: ReEncryptRequest) -> Result<ReEncryptResponse, ApiError> {
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

fn generate_data_key(
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

fn generate_data_key_without_plaintext(
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The request decoder never panics, whatever the bytes (the fuzz target
        /// `kms_request` goes further).
        #[test]
        fn decoding_arbitrary_bytes_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            for op in OPERATIONS {
                let e = decode(op, &body);
                prop_assert!(e.is_ok() || e.is_err());
            }
        }

        /// Members of every type and range are refused with an AWS exception, never a panic.
        #[test]
        fn odd_members_are_refused_cleanly(n in any::<i64>(), s in "\\PC{0,40}") {
            let body = serde_json::json!({
                "KeyId": s, "NumberOfBytes": n, "Limit": n, "Marker": s, "AliasName": s,
                "TargetKeyId": s, "PendingWindowInDays": n, "RotationPeriodInDays": n,
                "KeySpec": s, "EncryptionAlgorithm": s, "Plaintext": s, "CiphertextBlob": s,
            })
            .to_string();
            for op in OPERATIONS {
                if let Err(e) = decode(op, body.as_bytes()) {
                    prop_assert!(matches!(
                        e.kind,
                        ErrorKind::Validation | ErrorKind::Serialization
                    ), "{op}: {e:?}");
                }
            }
        }
    }

    #[test]
    fn what_does_not_parse_is_named() {
        assert_eq!(
            decode("Nope", b"{}").unwrap_err().kind,
            ErrorKind::UnknownOperation
        );
        assert_eq!(
            decode("ListKeys", b"[]").unwrap_err().kind,
            ErrorKind::Serialization
        );
        assert_eq!(
            decode("ListKeys", b"{").unwrap_err().kind,
            ErrorKind::Serialization
        );
        assert!(decode("ListKeys", b"").is_ok());
        assert_eq!(
            decode("Encrypt", br#"{"KeyId":"k","Plaintext":"!!"}"#)
                .unwrap_err()
                .kind,
            ErrorKind::Serialization
        );
    }
}
