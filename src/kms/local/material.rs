//! Key material: each master key's material sealed under the store's key-encryption key,
//! bound to its key id and material number.

use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::clock;
use super::key::{KeyId, hex};
use super::session::Session;
use super::store::{StoredKey, StoredMaterial};
use crate::aead::{Algorithm, Cipher, Key};
use crate::error::{Error, KmsError};
use crate::pk::rsa;
use crate::secret::{SecretArray, SecretVec};

const MATERIAL_LABEL: &[u8] = b"angou.dev/v1/kms material\0";
const MATERIAL_ID_LABEL: &[u8] = b"angou.dev/v1/kms key material id\0";

/// The KeyMaterialId of material number `number` of key `key`, as angou names new material:
/// 64 hex digits, like AWS's, = hex(SHA-256(label ‖ key id (16 bytes) ‖ number (u32 BE))).
/// It names the material without saying anything of its bytes; the same material imported
/// again keeps its number and so its id.
pub(super) fn new_material_id(key: &KeyId, number: u32) -> String {
    let mut h = Sha256::new();
    h.update(MATERIAL_ID_LABEL);
    h.update(key.to_bytes());
    h.update(number.to_be_bytes());
    hex(&h.finalize())
}

/// The KeyMaterialId of material made before angou named material as AWS does: its number
/// as 8 hex digits. Such material keeps that id for good.
fn legacy_material_id(number: u32) -> String {
    format!("{number:08x}")
}

/// The KeyMaterialId `stored` holds, or the legacy one of `number` when it holds none.
pub(super) fn stored_material_id(stored: Option<&String>, number: u32) -> String {
    stored
        .cloned()
        .unwrap_or_else(|| legacy_material_id(number))
}

/// The KeyMaterialId of material number `number` of `k` (also the material waiting for
/// rotation); a number `k` does not hold gets the id it would have.
pub(super) fn material_name(k: &StoredKey, number: u32) -> String {
    if let Some(m) = k.materials.iter().find(|m| m.id == number) {
        return stored_material_id(m.key_material_id.as_ref(), number);
    }
    if let Some(p) = k
        .import
        .as_ref()
        .and_then(|x| x.pending_rotation.as_ref())
        .filter(|p| p.id == number)
    {
        return stored_material_id(p.key_material_id.as_ref(), number);
    }
    new_material_id(&k.metadata.key_id, number)
}

pub(super) fn material_aad(id: &KeyId, material: u32) -> Vec<u8> {
    let mut a = MATERIAL_LABEL.to_vec();
    a.extend_from_slice(&id.to_bytes());
    a.extend_from_slice(&material.to_be_bytes());
    a
}

/// Generates new key material for `k`, wraps it under the KEK and appends it.
pub(super) fn add_material(
    k: &mut StoredKey,
    kek: &Key,
    now: OffsetDateTime,
    kind: &str,
) -> Result<u32, Error> {
    let id = k.materials.last().map(|m| m.id + 1).unwrap_or(1);
    let secret: SecretVec = match k.metadata.key_spec.rsa_bits() {
        None => SecretVec::from_vec(SecretArray::<32>::generate()?.expose_secret().to_vec()),
        Some(bits) => {
            let key = rsa::PrivateKey::generate(bits)?;
            let pem = key.to_pem()?;
            SecretVec::from_vec(pem.as_bytes().to_vec())
        }
    };
    let sealed = Cipher::new(Algorithm::XChaCha20Poly1305, kek).seal(
        &material_aad(&k.metadata.key_id, id),
        secret.expose_secret(),
    )?;
    k.materials.push(StoredMaterial {
        id,
        created: clock::format_time(now),
        kind: kind.into(),
        wrapped: Base64::encode_string(&sealed),
        imported: None,
        key_material_id: Some(new_material_id(&k.metadata.key_id, id)),
    });
    k.metadata.current_key_material_id = material_name(k, id);
    Ok(id)
}

impl Session<'_> {
    pub(super) fn material_secret(&self, i: usize, material: u32) -> Result<SecretVec, Error> {
        let k = self.key(i);
        let m = k
            .materials
            .iter()
            .find(|m| m.id == material)
            .ok_or(KmsError::InvalidCiphertext)?;
        let sealed = Base64::decode_vec(&m.wrapped).map_err(|_| KmsError::Store {
            reason: format!(
                "key material {} of key {} is corrupt",
                material_name(k, material),
                k.metadata.key_id
            ),
        })?;
        Cipher::new(Algorithm::XChaCha20Poly1305, self.kek)
            .open(&material_aad(&k.metadata.key_id, material), &sealed)
            .map_err(|_| {
                KmsError::Store {
                    reason: format!(
                        "key material {} of key {} does not authenticate under this root key",
                        material_name(k, material),
                        k.metadata.key_id
                    ),
                }
                .into()
            })
    }

    pub(super) fn symmetric_key(&self, i: usize, material: u32) -> Result<Key, Error> {
        let s = self.material_secret(i, material)?;
        Ok(Key::from_secret(SecretArray::from_slice(
            s.expose_secret(),
        )?))
    }

    pub(super) fn rsa_key(&self, i: usize) -> Result<rsa::PrivateKey, Error> {
        let m = self.key(i).materials.last().map(|m| m.id).unwrap_or(1);
        let s = self.material_secret(i, m)?;
        let pem = std::str::from_utf8(s.expose_secret()).map_err(|_| KmsError::Store {
            reason: "rsa key material is corrupt".into(),
        })?;
        Ok(rsa::PrivateKey::from_pem(pem)?)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::kms::local::store;
    use crate::kms::{AuditFilter, EncryptionContext};

    fn is_64_hex(s: &str) -> bool {
        s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    /// New material gets a 64-hex KeyMaterialId, as AWS's; every answer that names a
    /// material (Encrypt, Decrypt, DescribeKey, ListKeyRotations, the audit log) gives that
    /// one id, and no two materials share one.
    #[test]
    fn new_material_ids_are_64_hex_and_named_alike_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let (k, id) = crate::kms::local::store_with_symmetric_key(dir.path());
        let (_, other) = crate::kms::local::store_with_symmetric_key(dir.path());
        let ctx = EncryptionContext::new();
        let first = k.encrypt(&id, b"a", &ctx).unwrap();
        k.rotate_key_on_demand(&id).unwrap();
        let second = k.encrypt(&id, b"b", &ctx).unwrap();
        let (m1, m2) = (
            first.key_material_id.clone().unwrap(),
            second.key_material_id.clone().unwrap(),
        );
        assert!(is_64_hex(&m1) && is_64_hex(&m2), "{m1} {m2}");
        assert_ne!(m1, m2);
        assert_ne!(m1, k.describe_key(&other).unwrap().current_key_material_id);
        assert_eq!(k.describe_key(&id).unwrap().current_key_material_id, m2);
        let d = k.decrypt(&first.ciphertext_blob, &ctx, None).unwrap();
        assert_eq!(d.key_material_id.as_deref(), Some(m1.as_str()));
        let rotations: Vec<String> = k
            .list_key_rotations(&id)
            .unwrap()
            .into_iter()
            .map(|r| r.key_material_id)
            .collect();
        assert_eq!(rotations, [m1.clone(), m2.clone()]);
        let logged: Vec<String> = k
            .audit_entries(&AuditFilter {
                operation: Some("Encrypt".into()),
                ..Default::default()
            })
            .unwrap()
            .iter()
            .map(|e| e["key_material_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(logged, [m1, m2]);
    }

    /// A store written before material had 64-hex ids keeps its 8-hex ids: its blobs
    /// decrypt and name them, DescribeKey and ListKeyRotations show them, the state is not
    /// rewritten with new ones, and only material made from now on gets a 64-hex id.
    #[test]
    fn materials_of_older_stores_keep_their_8_hex_ids() {
        let dir = tempfile::tempdir().unwrap();
        let (k, id) = crate::kms::local::store_with_symmetric_key(dir.path());
        let ctx = EncryptionContext::new();
        let old_blob = k.encrypt(&id, b"old", &ctx).unwrap().ciphertext_blob;
        // Put the store back as an older angou wrote it.
        k.run("Test", json!({}), |s| {
            for m in &mut s.state.keys[0].materials {
                m.key_material_id = None;
            }
            s.state.keys[0].metadata.current_key_material_id = "00000001".into();
            Ok(())
        })
        .unwrap();
        let state = || std::fs::read_to_string(dir.path().join(store::STATE_FILE)).unwrap();
        assert!(
            !state().contains("key_material_id"),
            "the old form was not written"
        );
        assert_eq!(
            k.describe_key(&id).unwrap().current_key_material_id,
            "00000001"
        );
        let d = k.decrypt(&old_blob, &ctx, None).unwrap();
        assert_eq!(d.key_material_id.as_deref(), Some("00000001"));
        assert_eq!(
            k.encrypt(&id, b"x", &ctx)
                .unwrap()
                .key_material_id
                .as_deref(),
            Some("00000001")
        );
        assert!(
            !state().contains("key_material_id"),
            "old ids were rewritten"
        );
        k.rotate_key_on_demand(&id).unwrap();
        let rotations = k.list_key_rotations(&id).unwrap();
        assert_eq!(rotations[0].key_material_id, "00000001");
        let new = rotations[1].key_material_id.clone();
        assert!(is_64_hex(&new), "{new}");
        assert_eq!(new, new_material_id(&KeyId::parse(&id).unwrap(), 2));
        assert_eq!(k.describe_key(&id).unwrap().current_key_material_id, new);
        // The old blob still decrypts under its old name.
        let d = k.decrypt(&old_blob, &ctx, None).unwrap();
        assert_eq!(d.key_material_id.as_deref(), Some("00000001"));
    }
}
