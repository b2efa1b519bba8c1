//! The cryptographic operations (Encrypt, Decrypt, ReEncrypt, data keys and key pairs,
//! GenerateRandom, GetPublicKey) and the import of key material: requests onto the SDK's
//! builders, answers back into angou's shapes. Secrets the KMS returns are moved into
//! [`SecretBlob`]s.

use aws_sdk_kms::primitives::{Blob as SdkBlob, DateTime};
use zeroize::Zeroizing;

use super::Remote;
use super::map::{blob, context, e, int, json, name, names, no_recipient, sdk_blob, secret, secs};
use crate::kms::ops::import::{
    DeleteImportedKeyMaterialRequest, GenerateDataKeyPairRequest, GenerateDataKeyPairResponse,
    GetParametersForImportRequest, GetParametersForImportResponse, ImportKeyMaterialRequest,
    KeyMaterialResponse,
};
use crate::kms::ops::shapes::*;
use crate::kms::ops::{ApiError, ErrorKind, parse};

/// Runs `op`, one of this module's operations, with the JSON `body`.
pub(super) async fn run(r: &Remote, op: &str, body: &[u8]) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let c = &r.client;
    match op {
        "Encrypt" => {
            let q: EncryptRequest = parse(body)?;
            // The SDK takes the plaintext by value; that copy lives in its buffers.
            let plaintext = q
                .plaintext
                .map(|p| SdkBlob::new(p.0.expose_secret().to_vec()));
            let o = send!(
                r,
                c.encrypt()
                    .set_key_id(q.key_id)
                    .set_plaintext(plaintext)
                    .set_encryption_context(context(q.encryption_context))
                    .set_grant_tokens(q.grant_tokens)
                    .set_encryption_algorithm(e(q.encryption_algorithm))
                    .set_dry_run(q.dry_run)
            );
            json(&EncryptResponse {
                ciphertext_blob: blob(o.ciphertext_blob),
                key_id: o.key_id.unwrap_or_default(),
                encryption_algorithm: name(o.encryption_algorithm),
            })
        }
        "Decrypt" => {
            let q: DecryptRequest = parse(body)?;
            no_recipient(&q.recipient)?;
            let o = send!(
                r,
                c.decrypt()
                    .set_ciphertext_blob(sdk_blob(q.ciphertext_blob))
                    .set_encryption_context(context(q.encryption_context))
                    .set_grant_tokens(q.grant_tokens)
                    .set_key_id(q.key_id)
                    .set_encryption_algorithm(e(q.encryption_algorithm))
                    .set_dry_run(q.dry_run)
            );
            json(&DecryptResponse {
                key_id: o.key_id.unwrap_or_default(),
                plaintext: secret(o.plaintext),
                encryption_algorithm: name(o.encryption_algorithm),
                key_material_id: o.key_material_id,
            })
        }
        "ReEncrypt" => {
            let q: ReEncryptRequest = parse(body)?;
            let o = send!(
                r,
                c.re_encrypt()
                    .set_ciphertext_blob(sdk_blob(q.ciphertext_blob))
                    .set_source_encryption_context(context(q.source_encryption_context))
                    .set_source_key_id(q.source_key_id)
                    .set_destination_key_id(q.destination_key_id)
                    .set_destination_encryption_context(context(q.destination_encryption_context))
                    .set_source_encryption_algorithm(e(q.source_encryption_algorithm))
                    .set_destination_encryption_algorithm(e(q.destination_encryption_algorithm))
                    .set_grant_tokens(q.grant_tokens)
                    .set_dry_run(q.dry_run)
            );
            json(&ReEncryptResponse {
                ciphertext_blob: blob(o.ciphertext_blob),
                source_key_id: o.source_key_id.unwrap_or_default(),
                key_id: o.key_id.unwrap_or_default(),
                source_encryption_algorithm: name(o.source_encryption_algorithm),
                destination_encryption_algorithm: name(o.destination_encryption_algorithm),
                source_key_material_id: o.source_key_material_id,
                destination_key_material_id: o.destination_key_material_id,
            })
        }
        "GenerateDataKey" => {
            let q: GenerateDataKeyRequest = parse(body)?;
            no_recipient(&q.recipient)?;
            let o = send!(
                r,
                c.generate_data_key()
                    .set_key_id(q.key_id)
                    .set_encryption_context(context(q.encryption_context))
                    .set_number_of_bytes(int("NumberOfBytes", q.number_of_bytes)?)
                    .set_key_spec(e(q.key_spec))
                    .set_grant_tokens(q.grant_tokens)
                    .set_dry_run(q.dry_run)
            );
            json(&GenerateDataKeyResponse {
                ciphertext_blob: blob(o.ciphertext_blob),
                plaintext: secret(o.plaintext),
                key_id: o.key_id.unwrap_or_default(),
                key_material_id: o.key_material_id,
            })
        }
        "GenerateDataKeyWithoutPlaintext" => {
            let q: GenerateDataKeyRequest = parse(body)?;
            no_recipient(&q.recipient)?;
            let o = send!(
                r,
                c.generate_data_key_without_plaintext()
                    .set_key_id(q.key_id)
                    .set_encryption_context(context(q.encryption_context))
                    .set_number_of_bytes(int("NumberOfBytes", q.number_of_bytes)?)
                    .set_key_spec(e(q.key_spec))
                    .set_grant_tokens(q.grant_tokens)
                    .set_dry_run(q.dry_run)
            );
            json(&GenerateDataKeyWithoutPlaintextResponse {
                ciphertext_blob: blob(o.ciphertext_blob),
                key_id: o.key_id.unwrap_or_default(),
                key_material_id: o.key_material_id,
            })
        }
        "GenerateDataKeyPair" => {
            let q: GenerateDataKeyPairRequest = parse(body)?;
            no_recipient(&q.recipient)?;
            let o = send!(
                r,
                c.generate_data_key_pair()
                    .set_encryption_context(context(q.encryption_context))
                    .set_key_id(q.key_id)
                    .set_key_pair_spec(e(q.key_pair_spec))
                    .set_grant_tokens(q.grant_tokens)
                    .set_dry_run(q.dry_run)
            );
            json(&GenerateDataKeyPairResponse {
                private_key_ciphertext_blob: blob(o.private_key_ciphertext_blob),
                private_key_plaintext: Some(secret(o.private_key_plaintext)),
                public_key: blob(o.public_key),
                key_id: o.key_id.unwrap_or_default(),
                key_pair_spec: name(o.key_pair_spec),
                key_material_id: o.key_material_id,
            })
        }
        "GenerateDataKeyPairWithoutPlaintext" => {
            let q: GenerateDataKeyPairRequest = parse(body)?;
            no_recipient(&q.recipient)?;
            let o = send!(
                r,
                c.generate_data_key_pair_without_plaintext()
                    .set_encryption_context(context(q.encryption_context))
                    .set_key_id(q.key_id)
                    .set_key_pair_spec(e(q.key_pair_spec))
                    .set_grant_tokens(q.grant_tokens)
                    .set_dry_run(q.dry_run)
            );
            json(&GenerateDataKeyPairResponse {
                private_key_ciphertext_blob: blob(o.private_key_ciphertext_blob),
                private_key_plaintext: None,
                public_key: blob(o.public_key),
                key_id: o.key_id.unwrap_or_default(),
                key_pair_spec: name(o.key_pair_spec),
                key_material_id: o.key_material_id,
            })
        }
        "GenerateRandom" => {
            let q: GenerateRandomRequest = parse(body)?;
            no_recipient(&q.recipient)?;
            let o = send!(
                r,
                c.generate_random()
                    .set_number_of_bytes(int("NumberOfBytes", q.number_of_bytes)?)
                    .set_custom_key_store_id(q.custom_key_store_id)
            );
            json(&GenerateRandomResponse {
                plaintext: secret(o.plaintext),
            })
        }
        "GetPublicKey" => {
            let q: KeyRequest = parse(body)?;
            let o = send!(
                r,
                c.get_public_key()
                    .set_key_id(q.key_id)
                    .set_grant_tokens(q.grant_tokens)
            );
            // The deprecated twin of KeySpec, which AWS still returns and angou's shape keeps.
            #[allow(deprecated)]
            let customer_master_key_spec = name(o.customer_master_key_spec);
            json(&GetPublicKeyResponse {
                key_id: o.key_id.unwrap_or_default(),
                public_key: blob(o.public_key),
                customer_master_key_spec,
                key_spec: name(o.key_spec),
                key_usage: name(o.key_usage),
                encryption_algorithms: names(o.encryption_algorithms),
            })
        }
        "GetParametersForImport" => {
            let q: GetParametersForImportRequest = parse(body)?;
            let o = send!(
                r,
                c.get_parameters_for_import()
                    .set_key_id(q.key_id)
                    .set_wrapping_algorithm(e(q.wrapping_algorithm))
                    .set_wrapping_key_spec(e(q.wrapping_key_spec))
            );
            json(&GetParametersForImportResponse {
                key_id: o.key_id.unwrap_or_default(),
                import_token: blob(o.import_token),
                public_key: blob(o.public_key),
                parameters_valid_to: secs(o.parameters_valid_to.as_ref()).unwrap_or(0.0),
            })
        }
        "ImportKeyMaterial" => {
            let q: ImportKeyMaterialRequest = parse(body)?;
            let o = send!(
                r,
                c.import_key_material()
                    .set_key_id(q.key_id)
                    .set_import_token(sdk_blob(q.import_token))
                    .set_encrypted_key_material(sdk_blob(q.encrypted_key_material))
                    .set_valid_to(q.valid_to.map(DateTime::from_secs_f64))
                    .set_expiration_model(e(q.expiration_model))
                    .set_import_type(e(q.import_type))
                    .set_key_material_description(q.key_material_description)
                    .set_key_material_id(q.key_material_id)
            );
            json(&KeyMaterialResponse {
                key_id: o.key_id.unwrap_or_default(),
                key_material_id: o.key_material_id.unwrap_or_default(),
            })
        }
        "DeleteImportedKeyMaterial" => {
            let q: DeleteImportedKeyMaterialRequest = parse(body)?;
            let o = send!(
                r,
                c.delete_imported_key_material()
                    .set_key_id(q.key_id)
                    .set_key_material_id(q.key_material_id)
            );
            json(&KeyMaterialResponse {
                key_id: o.key_id.unwrap_or_default(),
                key_material_id: o.key_material_id.unwrap_or_default(),
            })
        }
        _ => Err(ApiError::new(
            ErrorKind::UnknownOperation,
            format!(
                "operation {:?} is not one angou runs",
                op.chars().take(64).collect::<String>()
            ),
        )),
    }
}
