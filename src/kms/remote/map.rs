//! Each AWS KMS operation of [`crate::kms::ops::OPERATIONS`]: its JSON request (parsed into
//! the shapes of [`crate::kms::ops::shapes`]) onto the SDK's fluent builder, and the SDK's
//! answer back into angou's response shapes, so a caller sees the same JSON from either
//! backend. Key management is here; the cryptographic operations are in
//! [`super::crypto`].
//!
//! Requests are not validated here against the service model: the remote KMS is the
//! authority on what it accepts, and answers `ValidationException` itself.

use std::collections::HashMap;

use aws_sdk_kms::primitives::{Blob as SdkBlob, DateTime};
use aws_sdk_kms::types as aws;
use serde::Serialize;
use zeroize::Zeroizing;

use super::Remote;
use crate::kms::ops::shapes::*;
use crate::kms::ops::tags::{
    ListResourceTagsRequest, ListResourceTagsResponse, TagResourceRequest, TagShape,
    UntagResourceRequest, UpdateKeyDescriptionRequest,
};
use crate::kms::ops::wire::{Blob, KeyMetadata, SecretBlob};
use crate::kms::ops::{ApiError, ErrorKind, parse};
use crate::secret::SecretVec;

/// Runs `op` with the JSON `body` on the remote KMS.
pub(super) async fn run(r: &Remote, op: &str, body: &[u8]) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let c = &r.client;
    match op {
        "CreateKey" => {
            let q: CreateKeyRequest = parse(body)?;
            // CustomerMasterKeySpec is deprecated in the model but still accepted by AWS.
            #[allow(deprecated)]
            let request = c
                .create_key()
                .set_description(q.description)
                .set_key_usage(e(q.key_usage))
                .set_key_spec(e(q.key_spec))
                .set_customer_master_key_spec(e(q.customer_master_key_spec))
                .set_origin(e(q.origin))
                .set_policy(q.policy)
                .set_bypass_policy_lockout_safety_check(q.bypass_policy_lockout_safety_check)
                .set_tags(tags(q.tags)?)
                .set_multi_region(q.multi_region)
                .set_custom_key_store_id(q.custom_key_store_id)
                .set_xks_key_id(q.xks_key_id);
            let o = send!(r, request);
            json(&metadata_response(o.key_metadata)?)
        }
        "DescribeKey" => {
            let q: KeyRequest = parse(body)?;
            let o = send!(
                r,
                c.describe_key()
                    .set_key_id(q.key_id)
                    .set_grant_tokens(q.grant_tokens)
            );
            json(&metadata_response(o.key_metadata)?)
        }
        "ListKeys" => {
            let q: ListKeysRequest = parse(body)?;
            let o = send!(
                r,
                c.list_keys()
                    .set_limit(int("Limit", q.limit)?)
                    .set_marker(q.marker)
            );
            json(&ListKeysResponse {
                keys: o
                    .keys
                    .unwrap_or_default()
                    .into_iter()
                    .map(|k| KeyListEntry {
                        key_id: k.key_id.unwrap_or_default(),
                        key_arn: k.key_arn.unwrap_or_default(),
                    })
                    .collect(),
                next_marker: o.next_marker,
                truncated: o.truncated,
            })
        }
        "CreateAlias" => {
            let q: AliasRequest = parse(body)?;
            send!(
                r,
                c.create_alias()
                    .set_alias_name(q.alias_name)
                    .set_target_key_id(q.target_key_id)
            );
            json(&Empty {})
        }
        "UpdateAlias" => {
            let q: AliasRequest = parse(body)?;
            send!(
                r,
                c.update_alias()
                    .set_alias_name(q.alias_name)
                    .set_target_key_id(q.target_key_id)
            );
            json(&Empty {})
        }
        "DeleteAlias" => {
            let q: DeleteAliasRequest = parse(body)?;
            send!(r, c.delete_alias().set_alias_name(q.alias_name));
            json(&Empty {})
        }
        "ListAliases" => {
            let q: ListAliasesRequest = parse(body)?;
            let o = send!(
                r,
                c.list_aliases()
                    .set_key_id(q.key_id)
                    .set_limit(int("Limit", q.limit)?)
                    .set_marker(q.marker)
            );
            json(&ListAliasesResponse {
                aliases: o
                    .aliases
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| AliasListEntry {
                        alias_name: a.alias_name.unwrap_or_default(),
                        alias_arn: a.alias_arn.unwrap_or_default(),
                        target_key_id: a.target_key_id.unwrap_or_default(),
                    })
                    .collect(),
                next_marker: o.next_marker,
                truncated: o.truncated,
            })
        }
        "EnableKey" => {
            let q: KeyRequest = parse(body)?;
            send!(r, c.enable_key().set_key_id(q.key_id));
            json(&Empty {})
        }
        "DisableKey" => {
            let q: KeyRequest = parse(body)?;
            send!(r, c.disable_key().set_key_id(q.key_id));
            json(&Empty {})
        }
        "ScheduleKeyDeletion" => {
            let q: ScheduleKeyDeletionRequest = parse(body)?;
            let o = send!(
                r,
                c.schedule_key_deletion()
                    .set_key_id(q.key_id)
                    .set_pending_window_in_days(int(
                        "PendingWindowInDays",
                        q.pending_window_in_days
                    )?)
            );
            json(&ScheduleKeyDeletionResponse {
                key_id: o.key_id.unwrap_or_default(),
                deletion_date: secs(o.deletion_date.as_ref()).unwrap_or(0.0),
                key_state: name(o.key_state),
                pending_window_in_days: days(o.pending_window_in_days).unwrap_or(0),
            })
        }
        "CancelKeyDeletion" => {
            let q: KeyRequest = parse(body)?;
            let o = send!(r, c.cancel_key_deletion().set_key_id(q.key_id));
            json(&KeyIdResponse {
                key_id: o.key_id.unwrap_or_default(),
            })
        }
        "EnableKeyRotation" => {
            let q: EnableKeyRotationRequest = parse(body)?;
            send!(
                r,
                c.enable_key_rotation()
                    .set_key_id(q.key_id)
                    .set_rotation_period_in_days(int(
                        "RotationPeriodInDays",
                        q.rotation_period_in_days
                    )?)
            );
            json(&Empty {})
        }
        "DisableKeyRotation" => {
            let q: KeyRequest = parse(body)?;
            send!(r, c.disable_key_rotation().set_key_id(q.key_id));
            json(&Empty {})
        }
        "GetKeyRotationStatus" => {
            let q: KeyRequest = parse(body)?;
            let o = send!(r, c.get_key_rotation_status().set_key_id(q.key_id));
            json(&GetKeyRotationStatusResponse {
                key_rotation_enabled: o.key_rotation_enabled,
                key_id: o.key_id.unwrap_or_default(),
                rotation_period_in_days: days(o.rotation_period_in_days),
                next_rotation_date: secs(o.next_rotation_date.as_ref()),
            })
        }
        "RotateKeyOnDemand" => {
            let q: KeyRequest = parse(body)?;
            let o = send!(r, c.rotate_key_on_demand().set_key_id(q.key_id));
            json(&KeyIdResponse {
                key_id: o.key_id.unwrap_or_default(),
            })
        }
        "ListKeyRotations" => {
            let q: ListKeyRotationsRequest = parse(body)?;
            let o = send!(
                r,
                c.list_key_rotations()
                    .set_key_id(q.key_id)
                    .set_include_key_material(e(q.include_key_material))
                    .set_limit(int("Limit", q.limit)?)
                    .set_marker(q.marker)
            );
            json(&ListKeyRotationsResponse {
                rotations: o
                    .rotations
                    .unwrap_or_default()
                    .into_iter()
                    .map(|k| RotationsListEntry {
                        key_id: k.key_id.unwrap_or_default(),
                        rotation_date: secs(k.rotation_date.as_ref()).unwrap_or(0.0),
                        rotation_type: name(k.rotation_type),
                        key_material_id: k.key_material_id,
                    })
                    .collect(),
                next_marker: o.next_marker,
                truncated: o.truncated,
            })
        }
        "TagResource" => {
            let q: TagResourceRequest = parse(body)?;
            send!(
                r,
                c.tag_resource()
                    .set_key_id(q.key_id)
                    .set_tags(tags(q.tags)?)
            );
            json(&Empty {})
        }
        "UntagResource" => {
            let q: UntagResourceRequest = parse(body)?;
            send!(
                r,
                c.untag_resource()
                    .set_key_id(q.key_id)
                    .set_tag_keys(q.tag_keys)
            );
            json(&Empty {})
        }
        "ListResourceTags" => {
            let q: ListResourceTagsRequest = parse(body)?;
            let o = send!(
                r,
                c.list_resource_tags()
                    .set_key_id(q.key_id)
                    .set_limit(int("Limit", q.limit)?)
                    .set_marker(q.marker)
            );
            json(&ListResourceTagsResponse {
                tags: o
                    .tags
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| TagShape {
                        tag_key: Some(t.tag_key),
                        tag_value: Some(t.tag_value),
                    })
                    .collect(),
                next_marker: o.next_marker,
                truncated: o.truncated,
            })
        }
        "UpdateKeyDescription" => {
            let q: UpdateKeyDescriptionRequest = parse(body)?;
            send!(
                r,
                c.update_key_description()
                    .set_key_id(q.key_id)
                    .set_description(q.description)
            );
            json(&Empty {})
        }
        _ => super::crypto::run(r, op, body).await,
    }
}

/// A response as JSON, in a buffer wiped on drop (it may hold a plaintext or data key).
pub(super) fn json<T: Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    // Sized up front so a response holding a secret is not copied by reallocation.
    let mut out = Zeroizing::new(Vec::with_capacity(16 * 1024));
    serde_json::to_writer(&mut *out, value)
        .map_err(|_| ApiError::new(ErrorKind::Serialization, "the answer could not be encoded"))?;
    Ok(out)
}

/// An enum member, passed as text: a value the SDK does not know goes out unchanged and the
/// KMS judges it.
pub(super) fn e<T: for<'a> From<&'a str>>(value: Option<String>) -> Option<T> {
    value.as_deref().map(T::from)
}

pub(super) fn name<T: AsRef<str>>(value: Option<T>) -> String {
    value.map(|v| v.as_ref().to_owned()).unwrap_or_default()
}

pub(super) fn names<T: AsRef<str>>(values: Option<Vec<T>>) -> Vec<String> {
    values
        .unwrap_or_default()
        .iter()
        .map(|v| v.as_ref().to_owned())
        .collect()
}

pub(super) fn int(field: &str, value: Option<i64>) -> Result<Option<i32>, ApiError> {
    value
        .map(|v| {
            i32::try_from(v).map_err(|_| {
                ApiError::new(
                    ErrorKind::Validation,
                    format!("{field} {v} is outside the range of the service model"),
                )
            })
        })
        .transpose()
}

fn days(value: Option<i32>) -> Option<u32> {
    value.and_then(|d| u32::try_from(d).ok())
}

pub(super) fn secs(value: Option<&DateTime>) -> Option<f64> {
    value.map(DateTime::as_secs_f64)
}

pub(super) fn context(c: Option<Context>) -> Option<HashMap<String, String>> {
    c.map(|c| c.into_iter().collect())
}

pub(super) fn sdk_blob(b: Option<Blob>) -> Option<SdkBlob> {
    b.map(|b| SdkBlob::new(b.0))
}

pub(super) fn blob(b: Option<SdkBlob>) -> Blob {
    Blob(b.map(SdkBlob::into_inner).unwrap_or_default())
}

/// A secret the KMS returned, moved (not copied) into a wiped buffer.
pub(super) fn secret(b: Option<SdkBlob>) -> SecretBlob {
    SecretBlob(SecretVec::from_vec(
        b.map(SdkBlob::into_inner).unwrap_or_default(),
    ))
}

pub(super) fn no_recipient(recipient: &Option<serde_json::Value>) -> Result<(), ApiError> {
    if recipient.is_some() {
        return Err(ApiError::new(
            ErrorKind::UnsupportedOperation,
            "Recipient (Nitro Enclaves attestation): not supported by angou",
        ));
    }
    Ok(())
}

fn tags(t: Option<Vec<TagShape>>) -> Result<Option<Vec<aws::Tag>>, ApiError> {
    t.map(|t| {
        t.into_iter()
            .map(|t| {
                aws::Tag::builder()
                    .set_tag_key(t.tag_key)
                    .set_tag_value(t.tag_value)
                    .build()
                    .map_err(|_| {
                        ApiError::new(
                            ErrorKind::Validation,
                            "every tag needs a TagKey and a TagValue",
                        )
                    })
            })
            .collect()
    })
    .transpose()
}

fn metadata_response(m: Option<aws::KeyMetadata>) -> Result<KeyMetadataResponse, ApiError> {
    let m = m.ok_or_else(|| {
        ApiError::new(ErrorKind::Serialization, "the answer holds no KeyMetadata")
    })?;
    Ok(KeyMetadataResponse {
        key_metadata: metadata(m),
    })
}

// `CustomerMasterKeySpec`: deprecated in the model, still in AWS's answers and angou's shape.
#[allow(deprecated)]
fn metadata(m: aws::KeyMetadata) -> KeyMetadata {
    KeyMetadata {
        aws_account_id: m.aws_account_id.unwrap_or_default(),
        key_id: m.key_id,
        arn: m.arn.unwrap_or_default(),
        creation_date: secs(m.creation_date.as_ref()).unwrap_or(0.0),
        enabled: m.enabled,
        description: m.description.unwrap_or_default(),
        key_usage: name(m.key_usage),
        key_state: name(m.key_state),
        deletion_date: secs(m.deletion_date.as_ref()),
        origin: name(m.origin),
        expiration_model: m.expiration_model.map(|x| x.as_str().to_owned()),
        valid_to: secs(m.valid_to.as_ref()),
        key_manager: name(m.key_manager),
        customer_master_key_spec: name(m.customer_master_key_spec),
        key_spec: name(m.key_spec),
        encryption_algorithms: names(m.encryption_algorithms),
        multi_region: m.multi_region.unwrap_or(false),
        pending_deletion_window_in_days: days(m.pending_deletion_window_in_days),
        current_key_material_id: m.current_key_material_id,
    }
}
