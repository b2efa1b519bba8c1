//! The AWS operations of `angou kms`: each subcommand becomes the typed request of
//! [`angou::kms::ops`] and runs through a [`Backend`], the local store or a remote KMS alike.

use angou::kms::ops::{self, Backend, import, shapes, tags};
use angou::kms::{self, EncryptionContext};
use serde::Serialize;
use serde_json::{Value, json};

use crate::aws_cli::{self};
use crate::failure::Failure;

use super::args::{DataKeyArgs, KeyIdArg, Op, PairArgs, parse_context, parse_tags};
use super::local_only;

/// Runs one AWS operation through the operation layer, as the server does.
fn call<Req: Serialize>(kms: &dyn Backend, operation: &str, req: &Req) -> Result<Value, Failure> {
    // The request may hold a plaintext: its JSON is wiped after use.
    let mut body = zeroize::Zeroizing::new(Vec::with_capacity(8 * 1024));
    serde_json::to_writer(&mut *body, req)
        .map_err(|e| Failure::new(format!("cannot encode the {operation} request: {e}")))?;
    let out = kms
        .invoke(operation, &body)
        .map_err(|e| aws_cli::failure(operation, &e))?;
    let mut v: Value = serde_json::from_slice(&out)
        .map_err(|e| Failure::new(format!("cannot read the {operation} answer: {e}")))?;
    aws_cli::cli_timestamps(&mut v);
    Ok(v)
}

/// A List operation read to its end, as the AWS CLI's paginators do: `{result_key: [...]}`.
fn call_all<Req: Serialize>(
    kms: &dyn Backend,
    operation: &str,
    result_key: &str,
    mut req: impl FnMut(Option<String>) -> Req,
) -> Result<Value, Failure> {
    let mut all = Vec::new();
    let mut marker = None;
    loop {
        let page = call(kms, operation, &req(marker.take()))?;
        if let Some(Value::Array(items)) = page.get(result_key) {
            all.extend(items.iter().cloned());
        }
        match page.get("NextMarker").and_then(Value::as_str) {
            Some(m) if page.get("Truncated") == Some(&Value::Bool(true)) => {
                marker = Some(m.to_owned());
            }
            _ => break,
        }
    }
    Ok(json!({ result_key: all }))
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

/// An encryption context member: absent when empty, as the AWS CLI sends none.
fn wire_context(ctx: &EncryptionContext) -> Option<shapes::Context> {
    (!ctx.is_empty()).then(|| ctx.entries().clone())
}

/// Runs one AWS operation on `kms`, the local store or a remote KMS alike.
pub(super) fn operation(kms: &dyn Backend, op: Op) -> Result<Value, Failure> {
    Ok(match op {
        Op::CreateKey {
            description,
            key_spec,
            key_usage,
            origin,
            tags,
        } => call(
            kms,
            "CreateKey",
            &shapes::CreateKeyRequest {
                description,
                key_spec,
                key_usage,
                origin,
                tags: (!tags.is_empty()).then(|| parse_tags(&tags)).transpose()?,
                ..Default::default()
            },
        )?,
        Op::TagResource { key, tags } => call(
            kms,
            "TagResource",
            &tags::TagResourceRequest {
                key_id: some(&key.key_id),
                tags: Some(parse_tags(&tags)?),
            },
        )?,
        Op::UntagResource { key, tag_keys } => call(
            kms,
            "UntagResource",
            &tags::UntagResourceRequest {
                key_id: some(&key.key_id),
                tag_keys: Some(tag_keys),
            },
        )?,
        Op::ListResourceTags(k) => call_all(kms, "ListResourceTags", "Tags", |marker| {
            tags::ListResourceTagsRequest {
                key_id: some(&k.key_id),
                limit: Some(50),
                marker,
            }
        })?,
        Op::UpdateKeyDescription { key, description } => call(
            kms,
            "UpdateKeyDescription",
            &tags::UpdateKeyDescriptionRequest {
                key_id: some(&key.key_id),
                description: Some(description),
            },
        )?,
        Op::GenerateDataKeyPair(a) => call(kms, "GenerateDataKeyPair", &pair_request(&a)?)?,
        Op::GenerateDataKeyPairWithoutPlaintext(a) => call(
            kms,
            "GenerateDataKeyPairWithoutPlaintext",
            &pair_request(&a)?,
        )?,
        Op::GetParametersForImport {
            key,
            wrapping_algorithm,
            wrapping_key_spec,
        } => call(
            kms,
            "GetParametersForImport",
            &import::GetParametersForImportRequest {
                key_id: some(&key.key_id),
                wrapping_algorithm: Some(wrapping_algorithm),
                wrapping_key_spec: Some(wrapping_key_spec),
            },
        )?,
        Op::ImportKeyMaterial {
            key,
            import_token,
            encrypted_key_material,
            expiration_model,
            valid_to,
            import_type,
            key_material_id,
        } => {
            let valid_to = match valid_to.as_deref() {
                None => None,
                Some(t) => Some(
                    kms::clock::parse_time(t)
                        .map_err(|_| {
                            Failure::usage(format!("--valid-to {t:?} is not an RFC 3339 time"))
                                .hint("write it like 2030-01-01T00:00:00Z")
                        })?
                        .unix_timestamp() as f64,
                ),
            };
            call(
                kms,
                "ImportKeyMaterial",
                &import::ImportKeyMaterialRequest {
                    key_id: some(&key.key_id),
                    import_token: Some(ops::wire::Blob(
                        aws_cli::blob(&import_token, "--import-token")?.to_vec(),
                    )),
                    encrypted_key_material: Some(ops::wire::Blob(
                        aws_cli::blob(&encrypted_key_material, "--encrypted-key-material")?
                            .to_vec(),
                    )),
                    valid_to,
                    expiration_model,
                    import_type,
                    key_material_id,
                    ..Default::default()
                },
            )?
        }
        Op::DeleteImportedKeyMaterial {
            key,
            key_material_id,
        } => call(
            kms,
            "DeleteImportedKeyMaterial",
            &import::DeleteImportedKeyMaterialRequest {
                key_id: some(&key.key_id),
                key_material_id,
            },
        )?,
        Op::DescribeKey(k) => call(kms, "DescribeKey", &key_request(&k))?,
        Op::ListKeys => call_all(kms, "ListKeys", "Keys", |marker| shapes::ListKeysRequest {
            limit: Some(1000),
            marker,
        })?,
        Op::CreateAlias {
            alias_name,
            target_key_id,
        } => call(
            kms,
            "CreateAlias",
            &shapes::AliasRequest {
                alias_name: Some(alias_name),
                target_key_id: Some(target_key_id),
            },
        )?,
        Op::UpdateAlias {
            alias_name,
            target_key_id,
        } => call(
            kms,
            "UpdateAlias",
            &shapes::AliasRequest {
                alias_name: Some(alias_name),
                target_key_id: Some(target_key_id),
            },
        )?,
        Op::DeleteAlias { alias_name } => call(
            kms,
            "DeleteAlias",
            &shapes::DeleteAliasRequest {
                alias_name: Some(alias_name),
            },
        )?,
        Op::ListAliases { key_id } => call_all(kms, "ListAliases", "Aliases", |marker| {
            shapes::ListAliasesRequest {
                key_id: key_id.clone(),
                limit: Some(1000),
                marker,
            }
        })?,
        Op::EnableKey(k) => call(kms, "EnableKey", &key_request(&k))?,
        Op::DisableKey(k) => call(kms, "DisableKey", &key_request(&k))?,
        Op::ScheduleKeyDeletion {
            key,
            pending_window_in_days,
        } => call(
            kms,
            "ScheduleKeyDeletion",
            &shapes::ScheduleKeyDeletionRequest {
                key_id: some(&key.key_id),
                pending_window_in_days: pending_window_in_days.map(i64::from),
            },
        )?,
        Op::CancelKeyDeletion(k) => call(kms, "CancelKeyDeletion", &key_request(&k))?,
        Op::EnableKeyRotation {
            key,
            rotation_period_in_days,
        } => call(
            kms,
            "EnableKeyRotation",
            &shapes::EnableKeyRotationRequest {
                key_id: some(&key.key_id),
                rotation_period_in_days: rotation_period_in_days.map(i64::from),
            },
        )?,
        Op::DisableKeyRotation(k) => call(kms, "DisableKeyRotation", &key_request(&k))?,
        Op::GetKeyRotationStatus(k) => call(kms, "GetKeyRotationStatus", &key_request(&k))?,
        Op::RotateKeyOnDemand(k) => call(kms, "RotateKeyOnDemand", &key_request(&k))?,
        Op::ListKeyRotations(k) => call_all(kms, "ListKeyRotations", "Rotations", |marker| {
            shapes::ListKeyRotationsRequest {
                key_id: some(&k.key_id),
                limit: Some(1000),
                marker,
                ..Default::default()
            }
        })?,
        Op::Encrypt {
            key,
            plaintext,
            context,
            encryption_algorithm,
        } => {
            let ctx = parse_context(&context.context)?;
            let pt = aws_cli::blob(&plaintext, "--plaintext")?;
            call(
                kms,
                "Encrypt",
                &shapes::EncryptRequest {
                    key_id: some(&key.key_id),
                    plaintext: Some(ops::wire::SecretBlob(angou::secret::SecretVec::from_vec(
                        pt.to_vec(),
                    ))),
                    encryption_context: wire_context(&ctx),
                    encryption_algorithm,
                    ..Default::default()
                },
            )?
        }
        Op::Decrypt {
            ciphertext_blob,
            key_id,
            context,
            encryption_algorithm,
        } => {
            let ctx = parse_context(&context.context)?;
            let blob = aws_cli::blob(&ciphertext_blob, "--ciphertext-blob")?;
            call(
                kms,
                "Decrypt",
                &shapes::DecryptRequest {
                    ciphertext_blob: Some(ops::wire::Blob(blob.to_vec())),
                    encryption_context: wire_context(&ctx),
                    key_id,
                    encryption_algorithm,
                    ..Default::default()
                },
            )?
        }
        Op::ReEncrypt {
            ciphertext_blob,
            source_key_id,
            source_context,
            destination_key_id,
            destination_context,
            source_encryption_algorithm,
            destination_encryption_algorithm,
        } => {
            let src = aws_cli::context(&source_context, "--source-encryption-context")?;
            let dst = aws_cli::context(&destination_context, "--destination-encryption-context")?;
            let blob = aws_cli::blob(&ciphertext_blob, "--ciphertext-blob")?;
            call(
                kms,
                "ReEncrypt",
                &shapes::ReEncryptRequest {
                    ciphertext_blob: Some(ops::wire::Blob(blob.to_vec())),
                    source_encryption_context: wire_context(&src),
                    source_key_id,
                    destination_key_id: Some(destination_key_id),
                    destination_encryption_context: wire_context(&dst),
                    source_encryption_algorithm,
                    destination_encryption_algorithm,
                    ..Default::default()
                },
            )?
        }
        Op::GenerateDataKey(a) => call(kms, "GenerateDataKey", &data_key_request(&a)?)?,
        Op::GenerateDataKeyWithoutPlaintext(a) => call(
            kms,
            "GenerateDataKeyWithoutPlaintext",
            &data_key_request(&a)?,
        )?,
        Op::GenerateRandom { number_of_bytes } => call(
            kms,
            "GenerateRandom",
            &shapes::GenerateRandomRequest {
                number_of_bytes,
                ..Default::default()
            },
        )?,
        Op::GetPublicKey(k) => call(kms, "GetPublicKey", &key_request(&k))?,
        op => {
            return Err(crate::remote::refuse_local_only(
                local_only(&op).unwrap_or("?"),
            ));
        }
    })
}

fn key_request(k: &KeyIdArg) -> shapes::KeyRequest {
    shapes::KeyRequest {
        key_id: some(&k.key_id),
        grant_tokens: None,
    }
}

fn data_key_request(a: &DataKeyArgs) -> Result<shapes::GenerateDataKeyRequest, Failure> {
    match (a.key_spec.as_deref(), a.number_of_bytes) {
        (Some(_), None) | (None, Some(_)) => {}
        (None, None) => {
            return Err(
                Failure::usage("give --key-spec AES_256|AES_128 or --number-of-bytes N")
                    .hint("--key-spec AES_256 is the usual choice"),
            );
        }
        (Some(_), Some(_)) => {
            return Err(
                Failure::usage("give --key-spec or --number-of-bytes, not both")
                    .hint("--key-spec AES_256 (32 bytes) is the usual choice"),
            );
        }
    }
    Ok(shapes::GenerateDataKeyRequest {
        key_id: some(&a.key.key_id),
        encryption_context: wire_context(&parse_context(&a.context.context)?),
        number_of_bytes: a.number_of_bytes,
        key_spec: a.key_spec.clone(),
        ..Default::default()
    })
}

fn pair_request(a: &PairArgs) -> Result<import::GenerateDataKeyPairRequest, Failure> {
    Ok(import::GenerateDataKeyPairRequest {
        key_id: some(&a.key.key_id),
        key_pair_spec: Some(a.key_pair_spec.clone()),
        encryption_context: wire_context(&parse_context(&a.context.context)?),
        ..Default::default()
    })
}
