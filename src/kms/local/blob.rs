//! The ciphertext blob of `encrypt` / `generate-data-key` for symmetric keys (docs/FORMAT.md §5.1).
//!
//! ```text
//! blob   = version(1) ‖ key id(16) ‖ material id(4, big-endian) ‖ nonce(12) ‖ ciphertext ‖ tag(16)
//! aad    = "angou.dev/v1/kms blob" ‖ 0x00 ‖ blob[0..21] ‖ canonical(encryption context)
//! cipher = AES-256-GCM under the key material named by (key id, material id)
//! ```
//! The context is bound, not stored: decrypting needs the same context.

use crate::aead::{Algorithm, Cipher, Key, Nonce, TAG_LEN};
use crate::error::{Error, KmsError};
use crate::kms::context::EncryptionContext;
use crate::kms::key::KeyId;
use crate::secret::SecretVec;

/// Blob format version.
pub(crate) const VERSION: u8 = 1;
/// Bytes before the nonce: version, key id, material id.
pub(crate) const HEADER_LEN: usize = 1 + 16 + 4;
/// Nonce length (AES-256-GCM).
pub(crate) const NONCE_LEN: usize = 12;
/// Smallest possible blob (empty plaintext).
pub(crate) const MIN_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// Domain separation prefix of the associated data.
pub(crate) const AAD_LABEL: &[u8] = b"angou.dev/v1/kms blob\0";

/// The parsed public part of a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHeader {
    /// The key the blob was made under.
    pub key_id: KeyId,
    /// The key material (version) used.
    pub material: u32,
}

impl BlobHeader {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0] = VERSION;
        h[1..17].copy_from_slice(&self.key_id.to_bytes());
        h[17..21].copy_from_slice(&self.material.to_be_bytes());
        h
    }

    /// Reads the header of a blob without decrypting it.
    ///
    /// # Errors
    /// [`KmsError::InvalidCiphertext`] for a short blob or an unknown version.
    pub fn parse(blob: &[u8]) -> Result<BlobHeader, KmsError> {
        if blob.len() < MIN_LEN || blob[0] != VERSION {
            return Err(KmsError::InvalidCiphertext);
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&blob[1..17]);
        let mut m = [0u8; 4];
        m.copy_from_slice(&blob[17..21]);
        Ok(BlobHeader {
            key_id: KeyId::from_bytes(id),
            material: u32::from_be_bytes(m),
        })
    }
}

fn aad(header: &[u8; HEADER_LEN], context: &EncryptionContext) -> Vec<u8> {
    let mut a = AAD_LABEL.to_vec();
    a.extend_from_slice(header);
    a.extend_from_slice(&context.canonical_bytes());
    a
}

/// Seals `plaintext` under a key material with a fresh random nonce.
pub(crate) fn seal(
    material_key: &Key,
    header: &BlobHeader,
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let h = header.encode();
    let cipher = Cipher::new(Algorithm::Aes256Gcm, material_key);
    let mut buf = plaintext.to_vec();
    let (nonce, tag) = cipher.seal_in_place_detached(&aad(&h, context), &mut buf)?;
    Ok(assemble(&h, nonce.as_bytes(), &buf, &tag))
}

fn assemble(h: &[u8; HEADER_LEN], nonce: &[u8], ct: &[u8], tag: &[u8; TAG_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ct.len() + TAG_LEN);
    out.extend_from_slice(h);
    out.extend_from_slice(nonce);
    out.extend_from_slice(ct);
    out.extend_from_slice(tag);
    out
}

/// Opens a blob with its material key and the encryption context it was sealed with.
pub(crate) fn open(
    material_key: &Key,
    blob: &[u8],
    context: &EncryptionContext,
) -> Result<SecretVec, KmsError> {
    let header = BlobHeader::parse(blob)?;
    let h = header.encode();
    let nonce = Nonce::from_slice(
        Algorithm::Aes256Gcm,
        &blob[HEADER_LEN..HEADER_LEN + NONCE_LEN],
    )
    .map_err(|_| KmsError::InvalidCiphertext)?;
    let body = &blob[HEADER_LEN + NONCE_LEN..];
    let (ct, tag) = body.split_at(body.len() - TAG_LEN);
    let mut tag16 = [0u8; TAG_LEN];
    tag16.copy_from_slice(tag);
    let mut buf = ct.to_vec();
    Cipher::new(Algorithm::Aes256Gcm, material_key)
        .open_in_place_detached(&nonce, &aad(&h, context), &mut buf, &tag16)
        .map_err(|_| KmsError::InvalidCiphertext)?;
    Ok(SecretVec::from_vec(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aead::hazmat::LessSafeKey;
    use crate::secret::SecretArray;

    /// Known answer: tests/data/kms/blob-v1.txt fixes every input and the expected bytes, so
    /// the layout (and the AAD construction) can never change silently.
    #[test]
    fn known_answer_blob() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/kms/blob-v1.txt"
        ))
        .unwrap();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
                .unwrap()
                .to_owned()
        };
        let unhex = |s: String| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let key = Key::from_secret(SecretArray::from_slice(&unhex(field("material key"))).unwrap());
        let header = BlobHeader {
            key_id: KeyId::parse(&field("key id")).unwrap(),
            material: field("material id").parse().unwrap(),
        };
        let context = EncryptionContext::from_json(&field("context")).unwrap();
        let nonce = unhex(field("nonce"));
        let plaintext = unhex(field("plaintext"));
        let expected = unhex(field("blob"));
        // Build with the fixed nonce through the explicit-nonce path.
        let h = header.encode();
        let mut buf = plaintext.clone();
        let tag = LessSafeKey::new(Algorithm::Aes256Gcm, &key)
            .seal_in_place_detached(&nonce, &aad(&h, &context), &mut buf)
            .unwrap();
        let blob = assemble(&h, &nonce, &buf, &tag);
        assert_eq!(hex(&blob), hex(&expected), "blob layout changed");
        assert_eq!(BlobHeader::parse(&expected).unwrap(), header);
        assert_eq!(
            open(&key, &expected, &context).unwrap().expose_secret(),
            plaintext.as_slice()
        );
        let mut other = context.clone();
        other.insert("extra", "x");
        assert_eq!(
            open(&key, &expected, &other).unwrap_err(),
            KmsError::InvalidCiphertext
        );
    }

    fn hex(b: &[u8]) -> String {
        crate::kms::key::hex(b)
    }
}
