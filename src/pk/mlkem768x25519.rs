//! Hybrid post-quantum key pairs: ML-KEM-768 + X25519 (X-Wing), as age 1.3 uses them.
//!
//! * An identity is 32 random bytes, encoded as upper-case Bech32 with HRP
//!   `AGE-SECRET-KEY-PQ-`; its recipient is the 1,216-byte X-Wing public key (ML-KEM-768
//!   encapsulation key, 1,184 bytes, then the X25519 public key, 32 bytes), encoded as Bech32
//!   with HRP `age1pq` (C2SP age spec, "The MLKEM768-X25519 hybrid post-quantum recipient type").
//! * [`PublicKey::wrap`] / [`SecretKey::unwrap`] implement the `mlkem768x25519` stanza body:
//!   RFC 9180 HPKE SealBase/OpenBase with the MLKEM768-X25519 KEM (id `0x647a`,
//!   draft-ietf-hpke-pq-03), HKDF-SHA256, ChaCha20-Poly1305, info
//!   `age-encryption.org/mlkem768x25519` and empty associated data. The encapsulated key is
//!   1,120 bytes (ML-KEM-768 ciphertext, 1,088, then the X25519 ephemeral share, 32); the
//!   body is the 16-byte file key and its 16-byte tag.
//! * The file key stays confidential as long as either ML-KEM-768 or X25519 holds: the KEM
//!   shared secret is SHA3-256 over both shared secrets, the X25519 ciphertext and public key,
//!   and the X-Wing label.
//! * All-zero X25519 shared secrets (low-order shares or keys) are refused on both sides, and
//!   an encapsulation key whose ML-KEM part is not canonical (a coefficient ≥ 3329) is refused
//!   when parsed (FIPS 203 §7.2).
//!
//! The HPKE key schedule and AEAD come from the `hpke` crate, ML-KEM-768 from RustCrypto's
//! `ml-kem`; the X-Wing combiner that joins ML-KEM-768 and X25519 is written here from the
//! spec, because the crate versions that ship it cannot be built beside the age crate this
//! project tests against (see Cargo.toml).
//!
//! ```
//! use angou::pk::mlkem768x25519::SecretKey;
//! use angou::secret::FileKey;
//! let identity = SecretKey::generate()?;
//! let recipient = identity.public_key();
//! assert!(recipient.to_string().starts_with("age1pq1"));
//! let file_key = FileKey::generate()?;
//! let wrapped = recipient.wrap(&file_key)?;
//! let unwrapped = identity.unwrap(&wrapped)?;
//! assert_eq!(unwrapped.expose_secret(), file_key.expose_secret());
//! # Ok::<(), angou::Error>(())
//! ```

use core::fmt;
use core::str::FromStr;

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Checksum, Hrp};
use hpke::aead::{AeadTag, ChaCha20Poly1305};
use hpke::kdf::HkdfSha256;
use hpke::{Deserializable, HpkeError, OpModeR, OpModeS, Serializable};
use zeroize::{Zeroize, Zeroizing};

use crate::aead::TAG_LEN;
use crate::error::{Error, KeyError};
use crate::secret::{FileKey, SecretArray};

mod kem;
use kem::{Drawn, Enc, Expanded, KemPublic, XWing};

/// Length of an identity (the X-Wing seed), in bytes.
pub const SEED_LEN: usize = 32;
/// Length of the ML-KEM-768 encapsulation key inside a public key, in bytes.
pub const MLKEM_PUBLIC_KEY_LEN: usize = 1184;
/// Length of the X25519 public key at the end of a public key, and of the ephemeral share at
/// the end of an encapsulated key, in bytes.
pub const X25519_LEN: usize = 32;
/// Length of a public key (recipient): ML-KEM-768 encapsulation key then X25519 key, in bytes.
pub const PUBLIC_KEY_LEN: usize = MLKEM_PUBLIC_KEY_LEN + X25519_LEN;
/// Length of the ML-KEM-768 ciphertext inside an encapsulated key, in bytes.
pub const MLKEM_CIPHERTEXT_LEN: usize = 1088;
/// Length of the encapsulated key (the stanza's argument), in bytes.
pub const ENC_LEN: usize = MLKEM_CIPHERTEXT_LEN + X25519_LEN;
/// Length of a wrapped file key (16-byte key + 16-byte tag), in bytes.
pub const WRAPPED_LEN: usize = 16 + TAG_LEN;
/// HPKE KEM identifier of MLKEM768-X25519 (draft-ietf-hpke-pq-03).
pub const KEM_ID: u16 = 0x647a;
/// HPKE `info` of the age stanza.
pub const HPKE_INFO: &[u8] = b"age-encryption.org/mlkem768x25519";
/// The X-Wing combiner's label: the six ASCII bytes `\.//^\`.
pub const XWING_LABEL: &[u8; 6] = br"\.//^\";
/// Bech32 human-readable part of a recipient.
pub const RECIPIENT_HRP: &str = "age1pq";
/// Bech32 human-readable part of an identity (encoded upper case).
pub const IDENTITY_HRP: &str = "age-secret-key-pq-";

/// BIP 173 Bech32 without its 90-character limit: a recipient is 1,216 bytes (1,959
/// characters), which the checksum still covers as age encodes it. The bound keeps absurd
/// input out.
enum Bech32Long {}

impl Checksum for Bech32Long {
    type MidstateRepr = u32;
    const CODE_LENGTH: usize = 4096;
    const CHECKSUM_LENGTH: usize = bech32::Bech32::CHECKSUM_LENGTH;
    const GENERATOR_SH: [u32; 5] = bech32::Bech32::GENERATOR_SH;
    const TARGET_RESIDUE: u32 = bech32::Bech32::TARGET_RESIDUE;
}

fn bech32_decode(
    s: &str,
    hrp: &str,
    len: usize,
    what: &'static str,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let invalid = |reason| KeyError::InvalidEncoding { what, reason };
    let parsed = CheckedHrpstring::new::<Bech32Long>(s).map_err(|_| invalid("not valid bech32"))?;
    if !parsed.hrp().to_lowercase().eq(hrp) {
        return Err(invalid("wrong prefix"));
    }
    let bytes: Zeroizing<Vec<u8>> = Zeroizing::new(parsed.byte_iter().collect());
    // Reject non-canonical padding and mixed case: the canonical re-encoding must match.
    let again = Zeroizing::new(bech32_encode(hrp, &bytes).ok_or(invalid("not valid bech32"))?);
    let lower = Zeroizing::new(s.to_lowercase());
    if *again != *lower || (s != lower.as_str() && s != s.to_uppercase()) {
        return Err(invalid("not canonical bech32"));
    }
    if bytes.len() != len {
        return Err(invalid("wrong length"));
    }
    Ok(bytes)
}

fn bech32_encode(hrp: &str, bytes: &[u8]) -> Option<String> {
    let hrp = Hrp::parse(hrp).ok()?;
    bech32::encode_lower::<Bech32Long>(hrp, bytes).ok()
}

/// An ML-KEM-768 + X25519 public key: an `age1pq1…` recipient.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(KemPublic);

/// An ML-KEM-768 + X25519 secret key: an `AGE-SECRET-KEY-PQ-1…` identity. Expanded once when
/// made; zeroized on drop; prints as `[redacted]`.
#[derive(Clone)]
pub struct SecretKey(Box<Expanded>);

/// A file key wrapped to one hybrid recipient: the contents of an `mlkem768x25519` stanza.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The HPKE encapsulated key (the stanza's argument): ML-KEM-768 ciphertext, then the
    /// X25519 ephemeral share.
    pub enc: Box<[u8; ENC_LEN]>,
    /// The encrypted file key and its tag (the stanza's body).
    pub body: [u8; WRAPPED_LEN],
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WrappedKey {{ enc: {ENC_LEN} bytes, body: {WRAPPED_LEN} bytes }}"
        )
    }
}

fn hpke_failure(e: HpkeError) -> Error {
    match e {
        HpkeError::EncapError | HpkeError::DecapError => KeyError::LowOrderPoint.into(),
        _ => KeyError::UnwrapFailed.into(),
    }
}

impl PublicKey {
    /// Parses an `age1pq1…` recipient string.
    ///
    /// # Errors
    /// [`KeyError::InvalidEncoding`] for bad Bech32, a wrong prefix, non-canonical text, a
    /// wrong length or a non-canonical ML-KEM-768 encapsulation key.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let bytes = bech32_decode(
            s,
            RECIPIENT_HRP,
            PUBLIC_KEY_LEN,
            "post-quantum age recipient",
        )?;
        Self::from_bytes(&bytes)
    }

    /// A public key from its 1,216 raw bytes (ML-KEM-768 encapsulation key, then X25519 key).
    ///
    /// # Errors
    /// [`KeyError::InvalidLength`], or [`KeyError::InvalidEncoding`] when the ML-KEM-768 part
    /// is not canonical.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        KemPublic::from_bytes(bytes)
            .map(PublicKey)
            .map_err(|e| match e {
                HpkeError::IncorrectInputLength(expected, found) => {
                    KeyError::InvalidLength { expected, found }
                }
                _ => KeyError::InvalidEncoding {
                    what: "post-quantum age recipient",
                    reason: "the ML-KEM-768 key has a coefficient outside 0..3329",
                },
            })
    }

    /// The 1,216 raw bytes.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        *self.0.bytes
    }

    /// The `age1pq1…` encoding.
    pub fn encode(&self) -> String {
        bech32_encode(RECIPIENT_HRP, &self.0.bytes[..]).unwrap_or_default()
    }

    /// Wraps `file_key` to this recipient: HPKE SealBase with a fresh encapsulation.
    ///
    /// # Errors
    /// [`KeyError::LowOrderPoint`] if the X25519 half of this key is a low-order point;
    /// [`Error::Rng`].
    pub fn wrap(&self, file_key: &FileKey) -> Result<WrappedKey, Error> {
        let mut rng = Drawn {
            bytes: SecretArray::generate()?,
            used: 0,
        };
        let mut body = [0u8; WRAPPED_LEN];
        body[..16].copy_from_slice(file_key.expose_secret());
        let sealed =
            hpke::single_shot_seal_in_place_detached::<ChaCha20Poly1305, HkdfSha256, XWing, _>(
                &OpModeS::Base,
                &self.0,
                HPKE_INFO,
                &mut body[..16],
                b"",
                &mut rng,
            );
        let (enc, tag) = match sealed {
            Ok(v) => v,
            Err(e) => {
                body.zeroize();
                return Err(hpke_failure(e));
            }
        };
        body[16..].copy_from_slice(&tag.to_bytes());
        Ok(WrappedKey { enc: enc.0, body })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.encode())
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl SecretKey {
    /// A fresh key from the operating system's generator.
    ///
    /// # Errors
    /// [`Error::Rng`] if the generator fails.
    pub fn generate() -> Result<Self, Error> {
        Ok(Self::from_secret(SecretArray::generate()?))
    }

    /// The key whose 32-byte seed is `seed` (the identity's raw bytes).
    pub fn from_secret(seed: SecretArray<SEED_LEN>) -> Self {
        SecretKey(Box::new(Expanded::from_seed(seed)))
    }

    /// Parses an `AGE-SECRET-KEY-PQ-1…` identity string.
    ///
    /// # Errors
    /// [`KeyError::InvalidEncoding`]; the message never contains key material.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let bytes = bech32_decode(s, IDENTITY_HRP, SEED_LEN, "post-quantum age identity")?;
        Ok(Self::from_secret(SecretArray::from_slice(&bytes)?))
    }

    /// The `AGE-SECRET-KEY-PQ-1…` encoding, in a string zeroized on drop.
    pub fn encode(&self) -> Zeroizing<String> {
        let lower = Zeroizing::new(
            bech32_encode(IDENTITY_HRP, self.0.seed.expose_secret()).unwrap_or_default(),
        );
        Zeroizing::new(lower.to_uppercase())
    }

    /// The 32-byte seed.
    pub fn expose_secret(&self) -> &[u8; SEED_LEN] {
        self.0.seed.expose_secret()
    }

    /// The matching public key (recipient), computed once when the key was made.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public.clone())
    }

    /// Unwraps a file key wrapped to this identity's public key (HPKE OpenBase).
    ///
    /// # Errors
    /// [`KeyError::LowOrderPoint`] when the X25519 share is a low-order point,
    /// [`KeyError::UnwrapFailed`] when the body does not authenticate (not for us, or modified).
    pub fn unwrap(&self, wrapped: &WrappedKey) -> Result<FileKey, KeyError> {
        let enc = Enc(wrapped.enc.clone());
        let tag = AeadTag::<ChaCha20Poly1305>::from_bytes(&wrapped.body[16..])
            .map_err(|_| KeyError::UnwrapFailed)?;
        // Decrypt straight into the secret's own box: no stack copy of the file key remains.
        let mut key = FileKey::zeroed();
        key.expose_secret_mut().copy_from_slice(&wrapped.body[..16]);
        hpke::single_shot_open_in_place_detached::<ChaCha20Poly1305, HkdfSha256, XWing>(
            &OpModeR::Base,
            &self.0,
            &enc,
            HPKE_INFO,
            key.expose_secret_mut(),
            b"",
            &tag,
        )
        .map(|()| key)
        .map_err(|e| match e {
            HpkeError::DecapError => KeyError::LowOrderPoint,
            _ => KeyError::UnwrapFailed,
        })
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::secret::REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The X-Wing known-answer vectors (draft-connolly-cfrg-xwing-kem, appendix "Test
    /// vectors"; tests/data/xwing/NOTICE.md): key generation from the seed, encapsulation with
    /// the given randomness, and decapsulation all reproduce the published values.
    #[test]
    fn xwing_known_answers() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/xwing/test-vectors.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(vectors.len(), 3);
        for v in vectors {
            let field = |k: &str| hex(v[k].as_str().unwrap());
            let seed = SecretArray::from_slice(&field("seed")).unwrap();
            let sk = SecretKey::from_secret(seed);
            assert_eq!(sk.public_key().to_bytes().to_vec(), field("pk"));
            let mut rng = Drawn {
                bytes: SecretArray::from_slice(&field("eseed")).unwrap(),
                used: 0,
            };
            let pk = sk.public_key();
            let (ss, enc) = <XWing as hpke::Kem>::encap(&pk.0, None, &mut rng).unwrap();
            assert_eq!(enc.0.to_vec(), field("ct"));
            assert_eq!(ss.0.to_vec(), field("ss"));
            let ss2 = <XWing as hpke::Kem>::decap(&sk.0, None, &enc).unwrap();
            assert_eq!(ss2.0.to_vec(), field("ss"));
        }
    }

    #[test]
    fn encode_parse_round_trip() {
        let sk = SecretKey::generate().unwrap();
        let text = sk.encode();
        assert!(text.starts_with("AGE-SECRET-KEY-PQ-1"));
        let again = SecretKey::parse(&text).unwrap();
        assert_eq!(again.expose_secret(), sk.expose_secret());
        let pk = sk.public_key();
        assert_eq!(PublicKey::parse(&pk.encode()).unwrap(), pk);
        assert_eq!(pk.to_bytes().len(), PUBLIC_KEY_LEN);
        assert_eq!(format!("{sk:?}"), "[redacted]");
    }

    #[test]
    fn non_canonical_mlkem_key_is_refused() {
        let mut bytes = SecretKey::generate().unwrap().public_key().to_bytes();
        // The first coefficient becomes 0xfff = 4095 ≥ q.
        bytes[0] = 0xff;
        bytes[1] |= 0x0f;
        assert!(matches!(
            PublicKey::from_bytes(&bytes),
            Err(KeyError::InvalidEncoding { .. })
        ));
        assert!(matches!(
            PublicKey::from_bytes(&bytes[1..]),
            Err(KeyError::InvalidLength { .. })
        ));
    }

    #[test]
    fn low_order_x25519_half_is_refused() {
        let mut bytes = SecretKey::generate().unwrap().public_key().to_bytes();
        bytes[MLKEM_PUBLIC_KEY_LEN..].fill(0);
        let pk = PublicKey::from_bytes(&bytes).unwrap();
        let fk = FileKey::generate().unwrap();
        assert!(matches!(
            pk.wrap(&fk),
            Err(Error::Key(KeyError::LowOrderPoint))
        ));
    }

    #[test]
    fn wrong_identity_or_modified_body_cannot_unwrap() {
        let a = SecretKey::generate().unwrap();
        let b = SecretKey::generate().unwrap();
        let fk = FileKey::generate().unwrap();
        let w = a.public_key().wrap(&fk).unwrap();
        assert_eq!(a.unwrap(&w).unwrap().expose_secret(), fk.expose_secret());
        assert_eq!(b.unwrap(&w).unwrap_err(), KeyError::UnwrapFailed);
        let mut bad = w.clone();
        bad.body[0] ^= 1;
        assert_eq!(a.unwrap(&bad).unwrap_err(), KeyError::UnwrapFailed);
        let mut bad = w.clone();
        bad.enc[0] ^= 1;
        assert_eq!(a.unwrap(&bad).unwrap_err(), KeyError::UnwrapFailed);
        let mut bad = w;
        bad.enc[MLKEM_CIPHERTEXT_LEN..].fill(0);
        assert_eq!(a.unwrap(&bad).unwrap_err(), KeyError::LowOrderPoint);
    }
}
