//! Import parameters and tokens: GetParametersForImport, the import token and its check,
//! and unwrapping the caller's material with the wrapping key the token names.

use base64ct::{Base64, Encoding};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::super::clock;
use super::super::key::hex;
use super::super::session::{Kms, Session};
use super::super::store::{ct_eq, hmac_parts};
use super::{
    AES_KEY_LEN, IMPORT_PARAMETERS_HOURS, IMPORT_TOKEN_LEN, ImportParameters, ImportState,
    MAX_WRAPPING_KEYS, TOKEN_KEY_LABEL, TOKEN_MAC_LABEL, TOKEN_MAGIC, WRAPPING_LABEL,
    WrappingAlgorithm, WrappingKeyRecord, corrupt,
};
use crate::aead::{Algorithm, Cipher};
use crate::error::{Error, KmsError};
use crate::kms::KeyId;
use crate::pk::rsa;
use crate::secret::SecretVec;

fn spec_bits(spec: &str) -> Option<(usize, u8)> {
    match spec {
        "RSA_2048" => Some((2048, 1)),
        "RSA_3072" => Some((3072, 2)),
        "RSA_4096" => Some((4096, 3)),
        _ => None,
    }
}

fn spec_of_code(code: u8) -> Option<&'static str> {
    match code {
        1 => Some("RSA_2048"),
        2 => Some("RSA_3072"),
        3 => Some("RSA_4096"),
        _ => None,
    }
}

fn bad_token(reason: &str) -> Error {
    KmsError::InvalidImportToken {
        reason: reason.into(),
    }
    .into()
}

impl Session<'_> {
    fn token_mac(&self, body: &[u8]) -> [u8; 32] {
        let k = self.subkey(TOKEN_KEY_LABEL);
        hmac_parts(&k, &[TOKEN_MAC_LABEL, body])
    }

    /// Checks an import token for key `i` and returns its wrapping key record.
    pub(super) fn check_token(&self, i: usize, token: &[u8]) -> Result<WrappingKeyRecord, Error> {
        if token.len() != IMPORT_TOKEN_LEN || &token[..4] != TOKEN_MAGIC {
            return Err(bad_token("it is not an import token angou issued"));
        }
        let (body, tag) = token.split_at(IMPORT_TOKEN_LEN - 32);
        if !ct_eq(&self.token_mac(body), tag) {
            return Err(bad_token(
                "it does not authenticate: it was altered, or another store issued it",
            ));
        }
        let mut kid = [0u8; 16];
        kid.copy_from_slice(&body[4..20]);
        let id = &self.key(i).metadata.key_id;
        if KeyId::from_bytes(kid) != *id {
            return Err(bad_token(&format!(
                "it was issued for key {}, not {id}",
                KeyId::from_bytes(kid)
            )));
        }
        let wrapping_id = hex(&body[20..36]);
        let mut secs = [0u8; 8];
        secs.copy_from_slice(&body[36..44]);
        let expires = OffsetDateTime::from_unix_timestamp(i64::from_be_bytes(secs))
            .map_err(|_| bad_token("its expiry is out of range"))?;
        if expires <= self.now {
            return Err(KmsError::ExpiredImportToken {
                at: clock::format_time(expires),
            }
            .into());
        }
        let record = self
            .key(i)
            .import
            .as_ref()
            .and_then(|s| s.wrapping.iter().find(|w| w.id == wrapping_id))
            .cloned()
            .ok_or_else(|| bad_token("its wrapping key is no longer held"))?;
        let spec_ok = spec_of_code(body[44]) == Some(record.spec.as_str());
        let alg_ok = WrappingAlgorithm::parse(&record.algorithm).map(|a| a.code()) == Ok(body[45]);
        if !spec_ok || !alg_ok {
            return Err(bad_token("it does not match its wrapping key"));
        }
        Ok(record)
    }

    /// Unwraps the caller's material with the wrapping key of `record`. Every failure is one
    /// InvalidCiphertextException, whatever the cause (no padding oracle on the wrapping key).
    pub(super) fn unwrap_material(
        &self,
        i: usize,
        record: &WrappingKeyRecord,
        encrypted: &[u8],
    ) -> Result<SecretVec, Error> {
        let id = &self.key(i).metadata.key_id;
        let sealed = Base64::decode_vec(&record.wrapped).map_err(|_| corrupt("a wrapping key"))?;
        let mut aad = WRAPPING_LABEL.to_vec();
        aad.extend_from_slice(&id.to_bytes());
        aad.extend_from_slice(record.id.as_bytes());
        let der = Cipher::new(Algorithm::XChaCha20Poly1305, self.kek)
            .open(&aad, &sealed)
            .map_err(|_| corrupt("a wrapping key"))?;
        let sk = rsa::PrivateKey::from_der(der.expose_secret())?;
        let alg = WrappingAlgorithm::parse(&record.algorithm)?;
        let fail = || -> Error { KmsError::InvalidCiphertext.into() };
        match alg {
            WrappingAlgorithm::RsaesOaepSha256 => sk.decrypt(b"", encrypted).map_err(|_| fail()),
            WrappingAlgorithm::RsaAesKeyWrapSha256 => {
                let n = sk.public_key().size();
                if encrypted.len() <= n {
                    return Err(fail());
                }
                let (head, wrapped) = encrypted.split_at(n);
                let aes = sk.decrypt(b"", head).map_err(|_| fail())?;
                if aes.len() != AES_KEY_LEN {
                    return Err(fail());
                }
                kwp_unwrap(aes.expose_secret(), wrapped).ok_or_else(fail)
            }
        }
    }
}

/// AES-256 key unwrap with padding (RFC 5649); `None` when it does not authenticate.
fn kwp_unwrap(kek: &[u8], wrapped: &[u8]) -> Option<SecretVec> {
    use aes_kw::KeyInit;
    let kw = aes_kw::KwpAes256::new_from_slice(kek).ok()?;
    let mut buf = zeroize::Zeroizing::new(vec![0u8; wrapped.len()]);
    let out = kw.unwrap_key(wrapped, &mut buf).ok()?;
    Some(SecretVec::from_vec(out.to_vec()))
}

impl Kms {
    /// GetParametersForImport: a fresh RSA wrapping key pair for an `EXTERNAL` key and an
    /// import token naming it, both valid for [`IMPORT_PARAMETERS_HOURS`].
    ///
    /// # Errors
    /// [`KmsError::Unsupported`] for a key not created with Origin EXTERNAL, or an algorithm
    /// or spec angou does not do; [`KmsError::InvalidState`] for a key pending deletion.
    pub fn get_parameters_for_import(
        &self,
        key: &str,
        algorithm: WrappingAlgorithm,
        wrapping_key_spec: &str,
    ) -> Result<ImportParameters, Error> {
        // Generated before the store lock is taken (RSA-4096 takes seconds).
        let generated =
            spec_bits(wrapping_key_spec).map(|(bits, _)| rsa::PrivateKey::generate(bits));
        self.run(
            "GetParametersForImport",
            json!({"KeyId": key, "WrappingAlgorithm": algorithm.name(), "WrappingKeySpec": wrapping_key_spec}),
            |s| {
                let (_, spec_code) = spec_bits(wrapping_key_spec).ok_or_else(|| {
                    Error::from(KmsError::Unsupported {
                        reason: format!(
                            "wrapping key spec {wrapping_key_spec} is not supported by angou (RSA_2048, RSA_3072, RSA_4096 are)"
                        ),
                    })
                })?;
                let i = s.resolve(key)?;
                s.external(i)?;
                s.not_pending(i)?;
                let id = s.key(i).metadata.key_id.clone();
                let wrapping_id: [u8; 16] = crate::secret::random_array()?;
                let expires = s.now + Duration::hours(IMPORT_PARAMETERS_HOURS);
                let sk = generated.ok_or_else(|| corrupt("a wrapping key spec"))??;
                let der = sk.to_pkcs8_der()?;
                let mut aad = WRAPPING_LABEL.to_vec();
                aad.extend_from_slice(&id.to_bytes());
                aad.extend_from_slice(hex(&wrapping_id).as_bytes());
                let sealed =
                    Cipher::new(Algorithm::XChaCha20Poly1305, s.kek).seal(&aad, der.expose_secret())?;
                let mut token = Vec::with_capacity(IMPORT_TOKEN_LEN);
                token.extend_from_slice(TOKEN_MAGIC);
                token.extend_from_slice(&id.to_bytes());
                token.extend_from_slice(&wrapping_id);
                token.extend_from_slice(&expires.unix_timestamp().to_be_bytes());
                token.push(spec_code);
                token.push(algorithm.code());
                let tag = s.token_mac(&token);
                token.extend_from_slice(&tag);
                let now = s.now;
                let st = s.state.keys[i].import.get_or_insert_with(ImportState::default);
                st.wrapping.retain(|w| {
                    clock::parse_time(&w.expires).is_ok_and(|t| t > now)
                });
                while st.wrapping.len() >= MAX_WRAPPING_KEYS {
                    st.wrapping.remove(0);
                }
                st.wrapping.push(WrappingKeyRecord {
                    id: hex(&wrapping_id),
                    spec: wrapping_key_spec.into(),
                    algorithm: algorithm.name().into(),
                    expires: clock::format_time(expires),
                    wrapped: Base64::encode_string(&sealed),
                });
                Ok(ImportParameters {
                    key_id: s.key(i).metadata.arn.clone(),
                    import_token: token,
                    public_key: sk.public_key().to_der(),
                    parameters_valid_to: clock::format_time(expires),
                })
            },
        )
    }
}
