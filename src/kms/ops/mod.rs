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

mod decode;
mod handlers;

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

pub use backend::Backend;
pub use decode::{decode, parse};
pub use error::{ApiError, ErrorKind};
use handlers::{
    arn_of, context, create_key, decrypt, dry_run, encrypt, generate_data_key,
    generate_data_key_without_plaintext, key, list_aliases, list_key_rotations, list_keys, page,
    pem_body, re_encrypt, store, unsupported_if,
};
use shapes::*;
use wire::{Blob, SecretBlob};

use crate::error::Error;
use crate::kms::{Home, Kms};

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
