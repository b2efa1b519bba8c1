//! Bring your own key material (keys with Origin `EXTERNAL`, docs/FORMAT.md §5.7):
//! GetParametersForImport hands out an RSA wrapping public key and an import token,
//! ImportKeyMaterial unwraps the caller's 256-bit material with the matching private key and
//! makes the key usable, DeleteImportedKeyMaterial takes it away again (PendingImport) until
//! the same material is imported again, and RotateKeyOnDemand makes material imported with
//! `ImportType: NEW_KEY_MATERIAL` current.
//!
//! The wrapping private keys live in the sealed state, encrypted under the material KEK like
//! key material, and are dropped when their 24 hours pass. The import token is authenticated
//! by the store (HMAC-SHA-256 under a key derived from the KEK) and binds the key id, the
//! wrapping key and its expiry: a token for another key, an expired, altered or forged token
//! is refused before any RSA operation.

mod deletion;
mod token;

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::material::{material_aad, material_name, new_material_id, stored_material_id};
use super::session::{Kms, Session};
use super::store::{StoredMaterial, ct_eq, derive, hmac_parts};
use super::{clock, key::hex, validation};
use crate::aead::{Algorithm, Cipher};
use crate::error::{Error, KmsError};
use crate::kms::{KeyId, KeyMetadata, KeyState};
use crate::secret::SecretArray;

/// The `Origin` of a key whose material is imported.
pub(crate) const ORIGIN_EXTERNAL: &str = "EXTERNAL";
/// How long import parameters (wrapping key and token) stay valid: 24 hours, as in AWS.
pub const IMPORT_PARAMETERS_HOURS: i64 = 24;
/// Most outstanding wrapping keys per key; asking for more drops the oldest.
const MAX_WRAPPING_KEYS: usize = 10;
/// Bytes of an import token.
pub const IMPORT_TOKEN_LEN: usize = 4 + 16 + 16 + 8 + 1 + 1 + 32;
const TOKEN_MAGIC: &[u8; 4] = b"AGI1";
const TOKEN_KEY_LABEL: &[u8] = b"angou.dev/v1/kms import token key";
const TOKEN_MAC_LABEL: &[u8] = b"angou.dev/v1/kms import token\0";
const COMMIT_KEY_LABEL: &[u8] = b"angou.dev/v1/kms imported material commitment key";
const COMMIT_LABEL: &[u8] = b"angou.dev/v1/kms imported material\0";
const WRAPPING_LABEL: &[u8] = b"angou.dev/v1/kms wrapping key\0";
const PENDING_LABEL: &[u8] = b"angou.dev/v1/kms pending material\0";
/// Bytes of symmetric key material (SYMMETRIC_DEFAULT).
const MATERIAL_LEN: usize = 32;
/// Bytes of the ephemeral AES key of RSA_AES_KEY_WRAP_SHA_256.
const AES_KEY_LEN: usize = 32;

/// An outstanding wrapping key of an `EXTERNAL` key (stored sealed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WrappingKeyRecord {
    /// 16 random bytes, hex: the id the import token names.
    pub id: String,
    /// `RSA_2048`, `RSA_3072` or `RSA_4096`.
    pub spec: String,
    /// `RSAES_OAEP_SHA_256` or `RSA_AES_KEY_WRAP_SHA_256`.
    pub algorithm: String,
    /// When it (and its token) expire (RFC 3339).
    pub expires: String,
    /// base64 of the XChaCha20-Poly1305-sealed PKCS#8 DER private key.
    pub wrapped: String,
}

/// Material imported with `NEW_KEY_MATERIAL`, waiting for RotateKeyOnDemand.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PendingMaterial {
    /// The material id it will get.
    pub id: u32,
    /// When it was imported (RFC 3339).
    pub created: String,
    /// base64 of the sealed material.
    pub wrapped: String,
    /// As [`ImportedMaterial`].
    pub imported: ImportedMaterial,
    /// The KeyMaterialId it will have (as [`StoredMaterial`]'s; absent: `id` as 8 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

/// Import state of an `EXTERNAL` key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportState {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wrapping: Vec<WrappingKeyRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_rotation: Option<PendingMaterial>,
}

/// What the store keeps about one imported material.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportedMaterial {
    /// hex HMAC-SHA-256 commitment to the material (kept after deletion, so only the same
    /// material can be imported again).
    pub commitment: String,
    /// `KEY_MATERIAL_EXPIRES` or `KEY_MATERIAL_DOES_NOT_EXPIRE`.
    pub expiration_model: String,
    /// When it expires (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<String>,
    /// Deleted (DeleteImportedKeyMaterial, or expired): `wrapped` is empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// AWS's wrapping algorithms (`AlgorithmSpec`) that angou does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingAlgorithm {
    /// RSA-OAEP with SHA-256 (and MGF1-SHA-256) of the material itself.
    RsaesOaepSha256,
    /// RSA-OAEP-SHA-256 of an ephemeral AES-256 key, followed by the material wrapped under it
    /// with AES key wrap with padding (RFC 5649).
    RsaAesKeyWrapSha256,
}

impl WrappingAlgorithm {
    /// Parses AWS's name: the SHA-1, PKCS#1 v1.5 and SM2 algorithms of the model are refused
    /// with [`KmsError::Unsupported`].
    ///
    /// # Errors
    /// As above; [`KmsError::Validation`] for a name not in the model.
    pub fn parse(name: &str) -> Result<WrappingAlgorithm, KmsError> {
        match name {
            "RSAES_OAEP_SHA_256" => Ok(WrappingAlgorithm::RsaesOaepSha256),
            "RSA_AES_KEY_WRAP_SHA_256" => Ok(WrappingAlgorithm::RsaAesKeyWrapSha256),
            "RSAES_PKCS1_V1_5" | "RSAES_OAEP_SHA_1" | "RSA_AES_KEY_WRAP_SHA_1" | "SM2PKE" => {
                Err(KmsError::Unsupported {
                    reason: format!(
                        "wrapping algorithm {name} is not supported by angou (RSAES_OAEP_SHA_256 and RSA_AES_KEY_WRAP_SHA_256 are)"
                    ),
                })
            }
            _ => Err(KmsError::Validation {
                reason: "unknown wrapping algorithm".into(),
            }),
        }
    }

    /// AWS's name.
    pub fn name(self) -> &'static str {
        match self {
            WrappingAlgorithm::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            WrappingAlgorithm::RsaAesKeyWrapSha256 => "RSA_AES_KEY_WRAP_SHA_256",
        }
    }

    fn code(self) -> u8 {
        match self {
            WrappingAlgorithm::RsaesOaepSha256 => 1,
            WrappingAlgorithm::RsaAesKeyWrapSha256 => 2,
        }
    }
}

/// `ExpirationModel` of ImportKeyMaterial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpirationModel {
    /// `KEY_MATERIAL_EXPIRES`: needs a `ValidTo`.
    KeyMaterialExpires,
    /// `KEY_MATERIAL_DOES_NOT_EXPIRE`.
    KeyMaterialDoesNotExpire,
}

impl ExpirationModel {
    /// AWS's name.
    pub fn name(self) -> &'static str {
        match self {
            ExpirationModel::KeyMaterialExpires => "KEY_MATERIAL_EXPIRES",
            ExpirationModel::KeyMaterialDoesNotExpire => "KEY_MATERIAL_DOES_NOT_EXPIRE",
        }
    }
}

/// `ImportType` of ImportKeyMaterial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportType {
    /// `NEW_KEY_MATERIAL`: the first material, or new material for RotateKeyOnDemand.
    NewKeyMaterial,
    /// `EXISTING_KEY_MATERIAL`: material the key had (after deletion or expiry).
    ExistingKeyMaterial,
}

/// What GetParametersForImport returns.
#[derive(Debug, Clone)]
pub struct ImportParameters {
    /// ARN of the key.
    pub key_id: String,
    /// The import token ([`IMPORT_TOKEN_LEN`] bytes; docs/FORMAT.md §5.7).
    pub import_token: Vec<u8>,
    /// The wrapping public key, DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// When the token and wrapping key expire (RFC 3339).
    pub parameters_valid_to: String,
}

/// The key-state error of an `EXTERNAL` key without usable material.
pub(crate) fn pending_import(m: &KeyMetadata) -> Error {
    KmsError::InvalidState {
        id: m.key_id.to_string(),
        state: "PendingImport".into(),
        detail: "it has no usable key material; import it with import-key-material".into(),
    }
    .into()
}

/// A store-internal error: state that the seal vouches for, but that does not read back.
fn corrupt(what: &str) -> Error {
    KmsError::Store {
        reason: format!("{what} is corrupt"),
    }
    .into()
}

impl Session<'_> {
    fn subkey(&self, label: &[u8]) -> SecretArray<32> {
        derive(&SecretArray::from_array(*self.kek.expose_secret()), label)
    }

    fn commitment(&self, id: &KeyId, material: &[u8]) -> String {
        let k = self.subkey(COMMIT_KEY_LABEL);
        hex(&hmac_parts(&k, &[COMMIT_LABEL, &id.to_bytes(), material]))
    }

    fn external(&self, i: usize) -> Result<(), Error> {
        let m = &self.key(i).metadata;
        if m.origin != ORIGIN_EXTERNAL {
            return Err(KmsError::Unsupported {
                reason: format!(
                    "key {} was not created with Origin EXTERNAL; only such keys take imported key material",
                    m.key_id
                ),
            }
            .into());
        }
        Ok(())
    }

    /// Refuses `what` for `EXTERNAL` keys (UnsupportedOperationException, as AWS).
    pub(super) fn not_external(&self, i: usize, what: &str) -> Result<(), Error> {
        let m = &self.key(i).metadata;
        if m.origin == ORIGIN_EXTERNAL {
            return Err(KmsError::Unsupported {
                reason: format!("{what} is not available for key {} (Origin EXTERNAL): import new material with ImportType NEW_KEY_MATERIAL and call rotate-key-on-demand", m.key_id),
            }
            .into());
        }
        Ok(())
    }

    /// EnableKey and DisableKey leave a key waiting for its material alone (AWS:
    /// KMSInvalidStateException).
    pub(super) fn not_pending_import(&self, i: usize) -> Result<(), Error> {
        let m = &self.key(i).metadata;
        if m.key_state == KeyState::PendingImport {
            return Err(pending_import(m));
        }
        Ok(())
    }

    /// Whether key `i` lacks usable material: none imported yet, or one (not waiting for
    /// rotation) deleted or expired.
    fn lacks_material(&self, i: usize) -> bool {
        let k = self.key(i);
        k.metadata.origin == ORIGIN_EXTERNAL
            && (k.materials.is_empty()
                || k.materials
                    .iter()
                    .any(|m| m.imported.as_ref().is_some_and(|x| x.deleted)))
    }

    /// After CancelKeyDeletion: an `EXTERNAL` key without usable material goes back to
    /// PendingImport, as in AWS.
    pub(super) fn pending_import_if_no_material(&mut self, i: usize) {
        if self.lacks_material(i) {
            let m = &mut self.state.keys[i].metadata;
            m.key_state = KeyState::PendingImport;
            m.enabled = false;
        }
    }

    /// RotateKeyOnDemand of an `EXTERNAL` key: the material imported with
    /// `NEW_KEY_MATERIAL` becomes current.
    pub(super) fn rotate_imported(&mut self, i: usize) -> Result<KeyId, Error> {
        let id = self.key(i).metadata.key_id.clone();
        if self.key(i).on_demand_rotations >= crate::kms::MAX_ON_DEMAND_ROTATIONS {
            return Err(KmsError::LimitExceeded {
                what: format!(
                    "at most {} on-demand rotations per key",
                    crate::kms::MAX_ON_DEMAND_ROTATIONS
                ),
            }
            .into());
        }
        let Some(p) = self
            .key(i)
            .import
            .as_ref()
            .and_then(|s| s.pending_rotation.clone())
        else {
            return Err(validation(format!(
                "key {id} has imported key material: import new key material with ImportType NEW_KEY_MATERIAL first, then rotate"
            )));
        };
        let cipher = Cipher::new(Algorithm::XChaCha20Poly1305, self.kek);
        let sealed = Base64::decode_vec(&p.wrapped).map_err(|_| corrupt("pending key material"))?;
        let mut aad = PENDING_LABEL.to_vec();
        aad.extend_from_slice(&id.to_bytes());
        let secret = cipher
            .open(&aad, &sealed)
            .map_err(|_| corrupt("pending key material"))?;
        let next = self.key(i).materials.last().map(|m| m.id + 1).unwrap_or(1);
        let resealed = cipher.seal(&material_aad(&id, next), secret.expose_secret())?;
        let now = clock::format_time(self.now);
        let k = &mut self.state.keys[i];
        k.materials.push(StoredMaterial {
            id: next,
            created: now,
            kind: "ON_DEMAND".into(),
            wrapped: Base64::encode_string(&resealed),
            imported: Some(p.imported.clone()),
            key_material_id: p.key_material_id.clone(),
        });
        if let Some(s) = k.import.as_mut() {
            s.pending_rotation = None;
        }
        k.on_demand_rotations += 1;
        let name = material_name(k, next);
        k.metadata.current_key_material_id = name.clone();
        k.metadata.expiration_model = Some(p.imported.expiration_model.clone());
        k.metadata.valid_to = p.imported.valid_to.clone();
        self.info.material = Some(name);
        Ok(id)
    }
}

/// What ImportKeyMaterial is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct ImportRequest<'a> {
    /// The key (id, ARN, alias or alias ARN).
    pub key: &'a str,
    /// The import token from GetParametersForImport.
    pub import_token: &'a [u8],
    /// The material, wrapped to the token's wrapping key.
    pub encrypted_key_material: &'a [u8],
    /// The expiration model (default: does not expire, or expires when `valid_to` is given).
    pub expiration_model: Option<ExpirationModel>,
    /// When the material expires.
    pub valid_to: Option<OffsetDateTime>,
    /// New material (for rotation) or material the key had.
    pub import_type: Option<ImportType>,
    /// With material the key had: the KeyMaterialId it must be (AWS checks the re-imported
    /// material against it); refused with `NewKeyMaterial`.
    pub key_material_id: Option<&'a str>,
}

impl Kms {
    /// ImportKeyMaterial: unwraps 32 bytes of material with the token's wrapping key and
    /// makes it the key's (first import, or `ExistingKeyMaterial` after deletion: the same
    /// material only), or keeps it for RotateKeyOnDemand (`NewKeyMaterial` on a key that has
    /// material). Returns the key ARN and the material id.
    ///
    /// # Errors
    /// [`KmsError::InvalidImportToken`], [`KmsError::ExpiredImportToken`],
    /// [`KmsError::InvalidCiphertext`] for material that does not unwrap,
    /// [`KmsError::IncorrectKeyMaterial`] for material that is not 32 bytes or not the key's,
    /// [`KmsError::Validation`] for expiry settings, key-state errors.
    pub fn import_key_material(&self, r: &ImportRequest<'_>) -> Result<(String, String), Error> {
        self.run(
            "ImportKeyMaterial",
            json!({"KeyId": r.key, "ExpirationModel": r.expiration_model.map(ExpirationModel::name),
                   "ValidTo": r.valid_to.map(clock::format_time),
                   "ImportType": r.import_type.map(|t| match t { ImportType::NewKeyMaterial => "NEW_KEY_MATERIAL", ImportType::ExistingKeyMaterial => "EXISTING_KEY_MATERIAL" }),
                   "KeyMaterialId": r.key_material_id}),
            |s| {
                let model = match (r.expiration_model, r.valid_to) {
                    (None | Some(ExpirationModel::KeyMaterialExpires), Some(t)) => {
                        if t <= s.now || t > s.now + Duration::days(365) {
                            return Err(validation("ValidTo must be in the future and at most 365 days away"));
                        }
                        ExpirationModel::KeyMaterialExpires
                    }
                    (Some(ExpirationModel::KeyMaterialExpires), None) => {
                        return Err(validation("ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES"));
                    }
                    (Some(ExpirationModel::KeyMaterialDoesNotExpire), Some(_)) => {
                        return Err(validation("ValidTo must be omitted when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE"));
                    }
                    (_, None) => ExpirationModel::KeyMaterialDoesNotExpire,
                };
                if r.key_material_id.is_some() && r.import_type == Some(ImportType::NewKeyMaterial) {
                    return Err(validation("KeyMaterialId cannot be given with ImportType NEW_KEY_MATERIAL: new material gets its id when it is imported"));
                }
                let i = s.resolve(r.key)?;
                s.external(i)?;
                s.not_pending(i)?;
                let record = s.check_token(i, r.import_token)?;
                let material = s.unwrap_material(i, &record, r.encrypted_key_material)?;
                if material.len() != MATERIAL_LEN {
                    return Err(KmsError::IncorrectKeyMaterial {
                        reason: format!(
                            "a SYMMETRIC_DEFAULT key takes {MATERIAL_LEN} bytes (256 bits) of key material, got {}",
                            material.len()
                        ),
                    }
                    .into());
                }
                let id = s.key(i).metadata.key_id.clone();
                let commitment = s.commitment(&id, material.expose_secret());
                let info = ImportedMaterial {
                    commitment: commitment.clone(),
                    expiration_model: model.name().into(),
                    valid_to: r.valid_to.map(clock::format_time),
                    deleted: false,
                };
                let cipher = Cipher::new(Algorithm::XChaCha20Poly1305, s.kek);
                let now = clock::format_time(s.now);
                let known = s.key(i).materials.iter().position(|m| {
                    m.imported.as_ref().is_some_and(|x| ct_eq(x.commitment.as_bytes(), commitment.as_bytes()))
                });
                let pending_same = s.key(i).import.as_ref().and_then(|x| x.pending_rotation.as_ref())
                    .is_some_and(|p| ct_eq(p.imported.commitment.as_bytes(), commitment.as_bytes()));
                let material_id = if s.key(i).materials.is_empty() {
                    let sealed = cipher.seal(&material_aad(&id, 1), material.expose_secret())?;
                    s.state.keys[i].materials.push(StoredMaterial {
                        id: 1,
                        created: now,
                        kind: "INITIAL".into(),
                        wrapped: Base64::encode_string(&sealed),
                        imported: Some(info.clone()),
                        key_material_id: Some(new_material_id(&id, 1)),
                    });
                    1
                } else if r.import_type == Some(ImportType::NewKeyMaterial) {
                    if known.is_some() || pending_same {
                        return Err(KmsError::IncorrectKeyMaterial {
                            reason: format!("key {id} already has this key material; NEW_KEY_MATERIAL takes material it never had"),
                        }
                        .into());
                    }
                    if s.lacks_material(i) {
                        return Err(pending_import(&s.key(i).metadata));
                    }
                    let next = s.key(i).materials.last().map_or(1, |m| m.id + 1);
                    let mut aad = PENDING_LABEL.to_vec();
                    aad.extend_from_slice(&id.to_bytes());
                    let sealed = cipher.seal(&aad, material.expose_secret())?;
                    let st = s.state.keys[i].import.get_or_insert_with(ImportState::default);
                    st.pending_rotation = Some(PendingMaterial {
                        id: next,
                        created: now,
                        wrapped: Base64::encode_string(&sealed),
                        imported: info.clone(),
                        key_material_id: Some(new_material_id(&id, next)),
                    });
                    next
                } else if let Some(p) = known {
                    let m_id = s.key(i).materials[p].id;
                    let sealed = cipher.seal(&material_aad(&id, m_id), material.expose_secret())?;
                    let m = &mut s.state.keys[i].materials[p];
                    m.wrapped = Base64::encode_string(&sealed);
                    m.imported = Some(info.clone());
                    m_id
                } else if pending_same {
                    let st = s.state.keys[i].import.get_or_insert_with(ImportState::default);
                    let p = st.pending_rotation.as_mut().ok_or_else(|| corrupt("pending key material"))?;
                    p.imported = ImportedMaterial { ..info.clone() };
                    p.id
                } else {
                    return Err(KmsError::IncorrectKeyMaterial {
                        reason: format!("this is not key material key {id} had; import the same material again, or new material with ImportType NEW_KEY_MATERIAL"),
                    }
                    .into());
                };
                let name = material_name(s.key(i), material_id);
                if let Some(want) = r.key_material_id
                    && want != name
                {
                    // AWS computes the id of the material imported and compares: the material
                    // found is the key's, but not the one named.
                    return Err(KmsError::IncorrectKeyMaterial {
                        reason: format!("the key material imported is {name} of key {id}, not {want}"),
                    }
                    .into());
                }
                s.info.material = Some(name.clone());
                s.refresh_external(i);
                Ok((s.key(i).metadata.arn.clone(), name))
            },
        )
    }
}

impl Session<'_> {
    /// After an import: the key is Enabled once no material is missing, and its metadata shows
    /// the current material's expiry.
    fn refresh_external(&mut self, i: usize) {
        let lacks = self.lacks_material(i);
        let k = &mut self.state.keys[i];
        if let Some(cur) = k.materials.last() {
            k.metadata.current_key_material_id =
                stored_material_id(cur.key_material_id.as_ref(), cur.id);
            if let Some(x) = &cur.imported {
                k.metadata.expiration_model = Some(x.expiration_model.clone());
                k.metadata.valid_to = x.valid_to.clone();
            }
        }
        if !lacks && k.metadata.key_state == KeyState::PendingImport {
            k.metadata.key_state = KeyState::Enabled;
            k.metadata.enabled = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::{Clock, CreateKeyOptions, EncryptionContext, InitOptions, KeySpec};
    use crate::pk::rsa;

    struct Fixture {
        _dir: tempfile::TempDir,
        home: std::path::PathBuf,
        now: OffsetDateTime,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let home = dir.path().join("store");
            Kms::open(&home, Clock::System)
                .init(InitOptions { fake_clock: true })
                .unwrap();
            Fixture {
                _dir: dir,
                home,
                now: OffsetDateTime::now_utc(),
            }
        }

        fn at(&self, hours: i64) -> Kms {
            Kms::open(&self.home, Clock::Fixed(self.now + Duration::hours(hours)))
        }

        fn external(&self) -> String {
            let mut o = CreateKeyOptions::new("byok", KeySpec::SymmetricDefault);
            o.external = true;
            self.at(0).create_key_with(&o).unwrap().key_id.to_string()
        }
    }

    fn oaep_wrap(p: &ImportParameters, material: &[u8]) -> Vec<u8> {
        rsa::PublicKey::from_der(&p.public_key)
            .unwrap()
            .encrypt(b"", material)
            .unwrap()
    }

    fn aes_wrap(p: &ImportParameters, material: &[u8]) -> Vec<u8> {
        use aes_kw::KeyInit;
        let aes = [7u8; 32];
        let mut out = rsa::PublicKey::from_der(&p.public_key)
            .unwrap()
            .encrypt(b"", &aes)
            .unwrap();
        let kw = aes_kw::KwpAes256::new_from_slice(&aes).unwrap();
        let mut buf = vec![0u8; material.len() + 16];
        out.extend_from_slice(kw.wrap_key(material, &mut buf).unwrap());
        out
    }

    fn import(
        k: &Kms,
        key: &str,
        p: &ImportParameters,
        wrapped: &[u8],
    ) -> Result<(String, String), Error> {
        k.import_key_material(&ImportRequest {
            key,
            import_token: &p.import_token,
            encrypted_key_material: wrapped,
            expiration_model: None,
            valid_to: None,
            import_type: None,
            key_material_id: None,
        })
    }

    fn params(k: &Kms, key: &str, alg: WrappingAlgorithm) -> ImportParameters {
        k.get_parameters_for_import(key, alg, "RSA_2048").unwrap()
    }

    fn is<T: std::fmt::Debug>(r: Result<T, Error>, f: impl Fn(&KmsError) -> bool) {
        match r {
            Err(Error::Kms(e)) if f(&e) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The BYOK flow with both wrapping algorithms: the key is PendingImport until the import,
    /// blobs fail after DeleteImportedKeyMaterial and decrypt again after the same material
    /// is imported; different material is IncorrectKeyMaterialException.
    #[test]
    fn import_delete_and_reimport_the_same_material_only() {
        let f = Fixture::new();
        let k = f.at(0);
        let id = f.external();
        let ctx = EncryptionContext::new();
        is(
            k.encrypt(&id, b"x", &ctx),
            |e| matches!(e, KmsError::InvalidState { state, .. } if state == "PendingImport"),
        );
        let material = [0x42u8; 32];
        let p = params(&k, &id, WrappingAlgorithm::RsaAesKeyWrapSha256);
        import(&k, &id, &p, &aes_wrap(&p, &material)).unwrap();
        let blob = k.encrypt(&id, b"secret", &ctx).unwrap().ciphertext_blob;
        k.delete_imported_key_material(&id, None).unwrap();
        is(k.decrypt(&blob, &ctx, None), |e| {
            matches!(e, KmsError::InvalidState { .. })
        });
        let p2 = params(&k, &id, WrappingAlgorithm::RsaesOaepSha256);
        is(import(&k, &id, &p2, &oaep_wrap(&p2, &[0x43u8; 32])), |e| {
            matches!(e, KmsError::IncorrectKeyMaterial { .. })
        });
        import(&k, &id, &p2, &oaep_wrap(&p2, &material)).unwrap();
        let d = k.decrypt(&blob, &ctx, None).unwrap();
        assert_eq!(d.plaintext.expose_secret(), b"secret");
    }

    /// Re-importing with `KeyMaterialId`: accepted when the material is the one named, else
    /// IncorrectKeyMaterialException (an id the key never had);
    /// ValidationException with NEW_KEY_MATERIAL; the failed imports change nothing.
    #[test]
    fn reimport_checks_the_key_material_id_it_names() {
        let f = Fixture::new();
        let k = f.at(0);
        let id = f.external();
        let ctx = EncryptionContext::new();
        let material = [0x42u8; 32];
        let p = params(&k, &id, WrappingAlgorithm::RsaesOaepSha256);
        let (_, first) = import(&k, &id, &p, &oaep_wrap(&p, &material)).unwrap();
        let blob = k.encrypt(&id, b"secret", &ctx).unwrap().ciphertext_blob;
        k.delete_imported_key_material(&id, None).unwrap();
        let with = |mid: &str, t: Option<ImportType>| {
            k.import_key_material(&ImportRequest {
                key: &id,
                import_token: &p.import_token,
                encrypted_key_material: &oaep_wrap(&p, &material),
                expiration_model: None,
                valid_to: None,
                import_type: t,
                key_material_id: Some(mid),
            })
        };
        let never = "ab".repeat(32);
        is(
            with(&never, None),
            |e| matches!(e, KmsError::IncorrectKeyMaterial { reason } if reason.contains(&never)),
        );
        is(with(&first, Some(ImportType::NewKeyMaterial)), |e| {
            matches!(e, KmsError::Validation { .. })
        });
        // Nothing of the refused imports stuck: the key still waits for its material.
        is(k.decrypt(&blob, &ctx, None), |e| {
            matches!(e, KmsError::InvalidState { .. })
        });
        let (_, again) = with(&first, Some(ImportType::ExistingKeyMaterial)).unwrap();
        assert_eq!(again, first);
        let d = k.decrypt(&blob, &ctx, None).unwrap();
        assert_eq!(d.plaintext.expose_secret(), b"secret");
    }

    /// Imported material never reaches the store files (state, audit log) in clear, hex or
    /// base64, and neither does a data key pair's private key.
    #[test]
    fn imported_material_never_reaches_the_store_files() {
        let f = Fixture::new();
        let k = f.at(0);
        let id = f.external();
        let material: Vec<u8> = (0u8..32)
            .map(|b| b.wrapping_mul(37).wrapping_add(11))
            .collect();
        let p = params(&k, &id, WrappingAlgorithm::RsaAesKeyWrapSha256);
        import(&k, &id, &p, &aes_wrap(&p, &material)).unwrap();
        let pair = k
            .generate_data_key_pair(
                &id,
                crate::kms::DataKeyPairSpec::Rsa2048,
                &EncryptionContext::new(),
            )
            .unwrap();
        k.delete_imported_key_material(&id, None).unwrap();
        let der = pair.private_key_plaintext.unwrap();
        let mut files = Vec::new();
        for e in std::fs::read_dir(&f.home).unwrap() {
            let path = e.unwrap().path();
            if path.file_name().unwrap() != crate::kms::local::store::ROOT_KEY_FILE {
                files.extend(std::fs::read(path).unwrap());
            }
        }
        let contains = |n: &[u8]| files.windows(n.len()).any(|w| w == n);
        let mid = &der.expose_secret()[der.len() / 2..der.len() / 2 + 32];
        for probe in [&material[..], mid] {
            assert!(!contains(probe));
            assert!(!contains(hex(probe).as_bytes()));
            assert!(!contains(Base64::encode_string(&probe[..30]).as_bytes()));
        }
    }

    /// Tokens: another key's, an expired one, any altered byte, another store's; material
    /// wrapped to another wrapping key; material that is not 32 bytes. Each is refused with
    /// AWS's exception and the key stays PendingImport.
    #[test]
    fn import_tokens_and_wrapping_are_checked() {
        let f = Fixture::new();
        let k = f.at(0);
        let id = f.external();
        let other = f.external();
        let material = [9u8; 32];
        let p = params(&k, &id, WrappingAlgorithm::RsaesOaepSha256);
        let p_other = params(&k, &other, WrappingAlgorithm::RsaesOaepSha256);
        // The other key's token, with material wrapped to its own public key.
        is(
            import(&k, &id, &p_other, &oaep_wrap(&p_other, &material)),
            |e| matches!(e, KmsError::InvalidImportToken { .. }),
        );
        // Every byte of the token matters.
        for i in 0..p.import_token.len() {
            let mut t = p.import_token.clone();
            t[i] ^= 1;
            let bad = ImportParameters {
                import_token: t,
                ..p.clone()
            };
            is(import(&k, &id, &bad, &oaep_wrap(&p, &material)), |e| {
                matches!(e, KmsError::InvalidImportToken { .. })
            });
        }
        let mut short = p.clone();
        short.import_token.pop();
        is(import(&k, &id, &short, &oaep_wrap(&p, &material)), |e| {
            matches!(e, KmsError::InvalidImportToken { .. })
        });
        // A token of another store (another root key) does not authenticate here.
        let g = Fixture::new();
        let gid = g.external();
        let gp = params(&g.at(0), &gid, WrappingAlgorithm::RsaesOaepSha256);
        is(import(&k, &id, &gp, &oaep_wrap(&gp, &material)), |e| {
            matches!(e, KmsError::InvalidImportToken { .. })
        });
        // Material wrapped to another wrapping key of the same key.
        let p2 = params(&k, &id, WrappingAlgorithm::RsaesOaepSha256);
        is(import(&k, &id, &p, &oaep_wrap(&p2, &material)), |e| {
            matches!(e, KmsError::InvalidCiphertext)
        });
        // Wrong sizes.
        for n in [0usize, 1, 16, 31, 33, 64] {
            let m = vec![5u8; n];
            is(import(&k, &id, &p, &oaep_wrap(&p, &m)), |e| {
                matches!(e, KmsError::IncorrectKeyMaterial { .. })
            });
        }
        // 24 hours later the token has expired (and its wrapping key is gone).
        is(import(&f.at(24), &id, &p, &oaep_wrap(&p, &material)), |e| {
            matches!(e, KmsError::ExpiredImportToken { .. })
        });
        assert_eq!(
            k.describe_key(&id).unwrap().key_state,
            KeyState::PendingImport
        );
        // A fresh token still works after all that.
        let p3 = params(&f.at(25), &id, WrappingAlgorithm::RsaesOaepSha256);
        import(&f.at(25), &id, &p3, &oaep_wrap(&p3, &material)).unwrap();
        assert_eq!(
            f.at(25).describe_key(&id).unwrap().key_state,
            KeyState::Enabled
        );
    }

    /// On-demand rotation of an imported key needs new material imported first; the new
    /// material becomes current and old blobs still decrypt; material with ValidTo expires.
    #[test]
    fn imported_keys_rotate_with_new_material_and_expire() {
        let f = Fixture::new();
        let k = f.at(0);
        let id = f.external();
        let ctx = EncryptionContext::new();
        let p = params(&k, &id, WrappingAlgorithm::RsaesOaepSha256);
        import(&k, &id, &p, &oaep_wrap(&p, &[1u8; 32])).unwrap();
        let old = k.encrypt(&id, b"old", &ctx).unwrap().ciphertext_blob;
        is(k.rotate_key_on_demand(&id), |e| {
            matches!(e, KmsError::Validation { .. })
        });
        is(k.enable_key_rotation(&id, None), |e| {
            matches!(e, KmsError::Unsupported { .. })
        });
        let (_, mid) = k
            .import_key_material(&ImportRequest {
                key: &id,
                import_token: &p.import_token,
                encrypted_key_material: &oaep_wrap(&p, &[2u8; 32]),
                expiration_model: Some(ExpirationModel::KeyMaterialExpires),
                valid_to: Some(f.now + Duration::hours(2)),
                import_type: Some(ImportType::NewKeyMaterial),
                key_material_id: None,
            })
            .unwrap();
        let kid = KeyId::parse(&id).unwrap();
        let (first, second) = (new_material_id(&kid, 1), new_material_id(&kid, 2));
        assert_eq!(mid, second);
        // Not current until the rotation.
        assert_eq!(
            k.encrypt(&id, b"x", &ctx)
                .unwrap()
                .key_material_id
                .as_deref(),
            Some(first.as_str())
        );
        k.rotate_key_on_demand(&id).unwrap();
        let new = k.encrypt(&id, b"new", &ctx).unwrap();
        assert_eq!(new.key_material_id.as_deref(), Some(second.as_str()));
        assert_eq!(
            k.decrypt(&old, &ctx, None)
                .unwrap()
                .plaintext
                .expose_secret(),
            b"old"
        );
        // Three hours on, material 2 has expired: the key waits for it again.
        let later = f.at(3);
        assert_eq!(
            later.describe_key(&id).unwrap().key_state,
            KeyState::PendingImport
        );
        is(later.decrypt(&new.ciphertext_blob, &ctx, None), |e| {
            matches!(e, KmsError::InvalidState { .. })
        });
    }
}
