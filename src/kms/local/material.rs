//! Key material: each master key's material sealed under the store's key-encryption key,
//! bound to its key id and material number.

use base64ct::{Base64, Encoding};
use time::OffsetDateTime;

use super::clock;
use super::key::KeyId;
use super::session::Session;
use super::store::{StoredKey, StoredMaterial};
use crate::aead::{Algorithm, Cipher, Key};
use crate::error::{Error, KmsError};
use crate::pk::rsa;
use crate::secret::{SecretArray, SecretVec};

const MATERIAL_LABEL: &[u8] = b"angou.dev/v1/kms material\0";

pub(super) fn material_name(id: u32) -> String {
    format!("{id:08x}")
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
    });
    k.metadata.current_key_material_id = material_name(id);
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
                material_name(material),
                k.metadata.key_id
            ),
        })?;
        Cipher::new(Algorithm::XChaCha20Poly1305, self.kek)
            .open(&material_aad(&k.metadata.key_id, material), &sealed)
            .map_err(|_| {
                KmsError::Store {
                    reason: format!(
                        "key material {} of key {} does not authenticate under this root key",
                        material_name(material),
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
