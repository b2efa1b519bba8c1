//! Reading a request: the body as JSON of the operation's shape, then the service model's
//! checks, without touching the store.

use serde::de::DeserializeOwned;

use super::shapes::*;
use super::{ApiError, ErrorKind, import, tags};

/// Decodes and validates a request of `operation` without running it: what
/// [`dispatch`](super::dispatch) does before the store is touched (for fuzzing the request
/// decoder, and for doors that check early).
///
/// # Errors
/// As [`dispatch`](super::dispatch) before the store: `UnknownOperationException`,
/// `SerializationException`, `ValidationException`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::ops::OPERATIONS;
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
