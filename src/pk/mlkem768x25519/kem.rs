//! MLKEM768-X25519 (X-Wing, draft-connolly-cfrg-xwing-kem; draft-ietf-hpke-pq-03) as an
//! RFC 9180 KEM for the `hpke` crate: key expansion from the seed, encapsulation,
//! decapsulation and the SHA3-256 combiner (docs/FORMAT.md §2.1). Private to
//! [`super`]: nothing here is reachable from outside the crate.

use core::fmt;

use hpke::generic_array::GenericArray;
use hpke::generic_array::typenum::{Sum, U32, U96, U192, U1024};
use hpke::kem::SharedSecret;
use hpke::rand_core::{CryptoRng, RngCore};
use hpke::{Deserializable, HpkeError, Serializable};
use ml_kem::kem::{Decapsulate, DecapsulationKey, EncapsulationKey};
use ml_kem::{B32, EncapsulateDeterministic, EncodedSizeUser, KemCore, MlKem768, MlKem768Params};
use sha3::digest::{ExtendableOutput, Update, XofReader};
use sha3::{Digest, Sha3_256, Shake256};
use zeroize::{Zeroize, Zeroizing};

use super::{
    ENC_LEN, KEM_ID, MLKEM_CIPHERTEXT_LEN, MLKEM_PUBLIC_KEY_LEN, PUBLIC_KEY_LEN, SEED_LEN,
    X25519_LEN, XWING_LABEL,
};
use crate::secret::SecretArray;

/// Randomness one encapsulation draws: 32 bytes for ML-KEM's `m`, 32 for the X25519 share.
pub(super) const ENCAP_RANDOM_LEN: usize = 64;
/// ML-KEM-768 modulus q (FIPS 203).
const MLKEM_Q: u16 = 3329;
/// Bytes of the encoded polynomial vector t̂ in an ML-KEM-768 encapsulation key (then 32 of ρ).
const MLKEM_T_HAT_LEN: usize = 1152;
/// Whether the ML-KEM-768 encapsulation key is canonical: every 12-bit coefficient of t̂ is
/// below q, so that decoding and re-encoding gives the same bytes (FIPS 203 §7.2, input check).
pub(super) fn mlkem_key_is_canonical(ek: &[u8]) -> bool {
    ek.len() == MLKEM_PUBLIC_KEY_LEN
        && ek[..MLKEM_T_HAT_LEN].chunks_exact(3).all(|b| {
            let lo = u16::from(b[0]) | (u16::from(b[1] & 0x0f) << 8);
            let hi = u16::from(b[1] >> 4) | (u16::from(b[2]) << 4);
            lo < MLKEM_Q && hi < MLKEM_Q
        })
}

/// SHA3-256(ss_M || ss_X || ct_X || pk_X || label): the X-Wing combiner.
fn combine(
    ss_m: &[u8],
    ss_x: &[u8; 32],
    ct_x: &[u8; 32],
    pk_x: &[u8; 32],
) -> GenericArray<u8, U32> {
    let mut h = Sha3_256::new();
    Digest::update(&mut h, ss_m);
    Digest::update(&mut h, ss_x);
    Digest::update(&mut h, ct_x);
    Digest::update(&mut h, pk_x);
    Digest::update(&mut h, XWING_LABEL);
    let out = h.finalize();
    let mut ss = GenericArray::<u8, U32>::default();
    ss.copy_from_slice(&out);
    ss
}

/// Moves a 32-byte shared secret out of the crate's array type into a zeroizing one.
fn take_secret(ss: &mut [u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(ss);
    ss.zeroize();
    out
}

type PublicKeySize = Sum<U1024, U192>;
type EncSize = Sum<U1024, U96>;

/// The public key as the HPKE KEM sees it.
#[derive(Clone)]
pub(super) struct KemPublic {
    pub(super) ek_m: EncapsulationKey<MlKem768Params>,
    pub(super) bytes: Box<[u8; PUBLIC_KEY_LEN]>,
}

impl KemPublic {
    fn pk_x(&self) -> [u8; X25519_LEN] {
        let mut out = [0u8; X25519_LEN];
        out.copy_from_slice(&self.bytes[MLKEM_PUBLIC_KEY_LEN..]);
        out
    }
}

impl fmt::Debug for KemPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KemPublic")
    }
}

impl PartialEq for KemPublic {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for KemPublic {}

impl Serializable for KemPublic {
    type OutputSize = PublicKeySize;
    fn write_exact(&self, buf: &mut [u8]) {
        buf.copy_from_slice(&self.bytes[..]);
    }
}

impl Deserializable for KemPublic {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        let bytes: [u8; PUBLIC_KEY_LEN] = encoded
            .try_into()
            .map_err(|_| HpkeError::IncorrectInputLength(PUBLIC_KEY_LEN, encoded.len()))?;
        if !mlkem_key_is_canonical(&bytes[..MLKEM_PUBLIC_KEY_LEN]) {
            return Err(HpkeError::ValidationError);
        }
        let mut ek = ml_kem::Encoded::<EncapsulationKey<MlKem768Params>>::default();
        ek.copy_from_slice(&bytes[..MLKEM_PUBLIC_KEY_LEN]);
        Ok(KemPublic {
            ek_m: EncapsulationKey::from_bytes(&ek),
            bytes: Box::new(bytes),
        })
    }
}

/// The identity expanded once: the seed, the ML-KEM-768 decapsulation key, the X25519 secret
/// and the public key. The seed lives in a [`SecretArray`]; the expanded halves live in their
/// crates' types, which zeroize on drop.
#[derive(Clone)]
pub(super) struct Expanded {
    pub(super) seed: SecretArray<SEED_LEN>,
    dk_m: DecapsulationKey<MlKem768Params>,
    sk_x: x25519_dalek::StaticSecret,
    pub(super) public: KemPublic,
}

impl Expanded {
    /// SHAKE256(seed) → 64 bytes of ML-KEM-768 key generation seed (d || z), then 32 bytes of
    /// X25519 secret key (draft-connolly-cfrg-xwing-kem, `expandDecapsulationKey`).
    pub(super) fn from_seed(seed: SecretArray<SEED_LEN>) -> Self {
        let mut xof = Shake256::default();
        xof.update(seed.expose_secret());
        let mut reader = xof.finalize_xof();
        let mut d = B32::default();
        let mut z = B32::default();
        let mut x = Zeroizing::new([0u8; 32]);
        reader.read(&mut d);
        reader.read(&mut z);
        reader.read(&mut x[..]);
        let (dk_m, ek_m) = MlKem768::generate_deterministic(&d, &z);
        d.zeroize();
        z.zeroize();
        let sk_x = x25519_dalek::StaticSecret::from(*x);
        let pk_x = x25519_dalek::PublicKey::from(&sk_x);
        let mut bytes = Box::new([0u8; PUBLIC_KEY_LEN]);
        bytes[..MLKEM_PUBLIC_KEY_LEN].copy_from_slice(&ek_m.as_bytes());
        bytes[MLKEM_PUBLIC_KEY_LEN..].copy_from_slice(pk_x.as_bytes());
        Expanded {
            seed,
            dk_m,
            sk_x,
            public: KemPublic { ek_m, bytes },
        }
    }
}

impl PartialEq for Expanded {
    fn eq(&self, other: &Self) -> bool {
        let a = self.seed.expose_secret();
        let b = other.seed.expose_secret();
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for Expanded {}

impl Serializable for Expanded {
    type OutputSize = U32;
    fn write_exact(&self, buf: &mut [u8]) {
        buf.copy_from_slice(self.seed.expose_secret());
    }
}

impl Deserializable for Expanded {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        let seed = SecretArray::from_slice(encoded)
            .map_err(|_| HpkeError::IncorrectInputLength(SEED_LEN, encoded.len()))?;
        Ok(Expanded::from_seed(seed))
    }
}

/// The encapsulated key: ML-KEM-768 ciphertext then X25519 ephemeral share.
#[derive(Clone)]
pub(super) struct Enc(pub(super) Box<[u8; ENC_LEN]>);

impl Enc {
    fn ct_x(&self) -> [u8; X25519_LEN] {
        let mut out = [0u8; X25519_LEN];
        out.copy_from_slice(&self.0[MLKEM_CIPHERTEXT_LEN..]);
        out
    }
}

impl Serializable for Enc {
    type OutputSize = EncSize;
    fn write_exact(&self, buf: &mut [u8]) {
        buf.copy_from_slice(&self.0[..]);
    }
}

impl Deserializable for Enc {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        let bytes: [u8; ENC_LEN] = encoded
            .try_into()
            .map_err(|_| HpkeError::IncorrectInputLength(ENC_LEN, encoded.len()))?;
        Ok(Enc(Box::new(bytes)))
    }
}

/// MLKEM768-X25519 as an RFC 9180 KEM. Base mode only: HPKE's authenticated modes are
/// refused (the hybrid KEM has no sender key).
pub(super) struct XWing;

impl hpke::Kem for XWing {
    type PublicKey = KemPublic;
    type PrivateKey = Expanded;
    type EncappedKey = Enc;
    type NSecret = U32;
    const KEM_ID: u16 = KEM_ID;

    fn sk_to_pk(sk: &Expanded) -> KemPublic {
        sk.public.clone()
    }

    /// draft-ietf-hpke-pq-03: seed = SHAKE256.LabeledDerive(ikm, "DeriveKeyPair", "", 32).
    /// Unused by angou (identities are 32 random bytes), present because the trait asks.
    fn derive_keypair(ikm: &[u8]) -> (Expanded, KemPublic) {
        let label = b"DeriveKeyPair";
        let mut xof = Shake256::default();
        xof.update(ikm);
        xof.update(b"HPKE-v1");
        xof.update(b"KEM");
        xof.update(&KEM_ID.to_be_bytes());
        xof.update(&(label.len() as u16).to_be_bytes());
        xof.update(label);
        xof.update(&(SEED_LEN as u16).to_be_bytes());
        let mut seed = SecretArray::<SEED_LEN>::zeroed();
        xof.finalize_xof().read(seed.expose_secret_mut());
        let sk = Expanded::from_seed(seed);
        let pk = sk.public.clone();
        (sk, pk)
    }

    fn decap(
        sk: &Expanded,
        pk_sender_id: Option<&KemPublic>,
        enc: &Enc,
    ) -> Result<SharedSecret<Self>, HpkeError> {
        if pk_sender_id.is_some() {
            return Err(HpkeError::DecapError);
        }
        let mut ct_m = ml_kem::Ciphertext::<MlKem768>::default();
        ct_m.copy_from_slice(&enc.0[..MLKEM_CIPHERTEXT_LEN]);
        // ML-KEM decapsulation never fails: a wrong ciphertext yields an unrelated secret
        // (implicit rejection) and the AEAD then fails to open.
        let mut ss = sk
            .dk_m
            .decapsulate(&ct_m)
            .map_err(|()| HpkeError::DecapError)?;
        let ss_m = take_secret(&mut ss);
        let ct_x = enc.ct_x();
        let ss_x = sk.sk_x.diffie_hellman(&x25519_dalek::PublicKey::from(ct_x));
        if !ss_x.was_contributory() {
            return Err(HpkeError::DecapError);
        }
        Ok(SharedSecret(combine(
            &ss_m[..],
            ss_x.as_bytes(),
            &ct_x,
            &sk.public.pk_x(),
        )))
    }

    fn encap<R: CryptoRng + RngCore>(
        pk: &KemPublic,
        sender_id_keypair: Option<(&Expanded, &KemPublic)>,
        csprng: &mut R,
    ) -> Result<(SharedSecret<Self>, Enc), HpkeError> {
        if sender_id_keypair.is_some() {
            return Err(HpkeError::EncapError);
        }
        let mut randomness = Zeroizing::new([0u8; ENCAP_RANDOM_LEN]);
        csprng.fill_bytes(&mut randomness[..]);
        let mut m = B32::default();
        m.copy_from_slice(&randomness[..32]);
        let (ct_m, ss_m) = pk
            .ek_m
            .encapsulate_deterministic(&m)
            .map_err(|()| HpkeError::EncapError)?;
        m.zeroize();
        let mut ss_m = ss_m;
        let ss_m = take_secret(&mut ss_m);
        let mut eph = [0u8; 32];
        eph.copy_from_slice(&randomness[32..]);
        let ek_x = x25519_dalek::StaticSecret::from(eph);
        eph.zeroize();
        let ct_x = x25519_dalek::PublicKey::from(&ek_x).to_bytes();
        let pk_x = pk.pk_x();
        let ss_x = ek_x.diffie_hellman(&x25519_dalek::PublicKey::from(pk_x));
        if !ss_x.was_contributory() {
            return Err(HpkeError::EncapError);
        }
        let mut enc = Box::new([0u8; ENC_LEN]);
        enc[..MLKEM_CIPHERTEXT_LEN].copy_from_slice(&ct_m);
        enc[MLKEM_CIPHERTEXT_LEN..].copy_from_slice(&ct_x);
        Ok((
            SharedSecret(combine(&ss_m[..], ss_x.as_bytes(), &ct_x, &pk_x)),
            Enc(enc),
        ))
    }
}

/// A generator that hands out bytes already drawn from the operating system, so that a
/// failing generator is an [`crate::Error::Rng`] before any key is touched instead of a panic inside
/// the KEM (whose interface takes an infallible generator). One encapsulation draws exactly
/// [`ENCAP_RANDOM_LEN`] bytes; should more ever be asked for, they come straight from the
/// operating system.
pub(super) struct Drawn {
    pub(super) bytes: SecretArray<ENCAP_RANDOM_LEN>,
    pub(super) used: usize,
}

impl RngCore for Drawn {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let left = &self.bytes.expose_secret()[self.used..];
        if dest.len() <= left.len() {
            dest.copy_from_slice(&left[..dest.len()]);
            self.used += dest.len();
            return;
        }
        #[allow(clippy::panic)]
        if getrandom::fill(dest).is_err() {
            panic!("the operating system's random number generator failed");
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), hpke::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Drawn {}
