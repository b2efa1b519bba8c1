//! The ciphertext classes: what each decrypts to, built with the public key and raw RSA.

use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use crate::failure::Failure;

const HASH_LEN: usize = 32;

/// A kind of ciphertext; what its encoded message `m = c^d mod n` looks like.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// Well-formed OAEP-SHA-256 with an empty label and a 32-byte message.
    Valid,
    /// Well formed but for the first octet, 0x01 (Manger's oracle: "is Y zero?").
    FirstByteNonzero,
    /// First octet zero, the label hash in DB wrong by one bit.
    WrongLabelHash,
    /// First octet zero, right label hash, DB all zero after it: no 0x01 separator.
    NoSeparator,
    /// First octet zero, right label hash, 0x02 where the 0x01 separator goes.
    BadSeparator,
    /// A random integer below n (the first octet is almost never zero).
    Random,
    /// m below 2^(8(k-8)): eight leading zero octets, then random (invalid), for big-integer
    /// code whose time follows the size of the number.
    LeadingZeros,
}

pub(super) const CLASSES: [Class; 7] = [
    Class::Valid,
    Class::FirstByteNonzero,
    Class::WrongLabelHash,
    Class::NoSeparator,
    Class::BadSeparator,
    Class::Random,
    Class::LeadingZeros,
];

impl Class {
    pub(super) fn name(self) -> &'static str {
        match self {
            Class::Valid => "valid",
            Class::FirstByteNonzero => "first_byte_nonzero",
            Class::WrongLabelHash => "wrong_label_hash",
            Class::NoSeparator => "no_separator",
            Class::BadSeparator => "bad_separator",
            Class::Random => "random",
            Class::LeadingZeros => "leading_zeros",
        }
    }
}

/// splitmix64 seeded from the OS: the order of classes and the filler bytes. Not a secret.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn new() -> Rng {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        Rng(u64::from_le_bytes(b))
    }
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn fill(&mut self, b: &mut [u8]) {
        for x in b {
            *x = self.next() as u8;
        }
    }
    pub(super) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// MGF1 with SHA-256 (RFC 8017 §B.2.1), XORed into `out`.
fn mgf1_xor(seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in out.chunks_mut(HASH_LEN).enumerate() {
        let mut h = Sha256::new();
        h.update(seed);
        h.update((counter as u32).to_be_bytes());
        for (o, m) in chunk.iter_mut().zip(h.finalize().iter()) {
            *o ^= m;
        }
    }
}

/// The encoded message of `class` for a `k`-byte modulus whose first octet is `n0`.
fn encoded(class: Class, k: usize, n0: u8, rng: &mut Rng) -> Vec<u8> {
    let mut em = vec![0u8; k];
    match class {
        Class::Random => {
            rng.fill(&mut em);
            em[0] %= n0; // below n
            return em;
        }
        Class::LeadingZeros => {
            rng.fill(&mut em[8..]);
            return em;
        }
        _ => {}
    }
    // DB = lHash || PS || 0x01 || M (RFC 8017 §7.1.1 step 2)
    let db_len = k - HASH_LEN - 1;
    let mut db = vec![0u8; db_len];
    db[..HASH_LEN].copy_from_slice(&Sha256::digest(b""));
    let msg_len = 32;
    let sep = db_len - msg_len - 1;
    match class {
        Class::NoSeparator => {}
        Class::BadSeparator => {
            db[sep] = 0x02;
            rng.fill(&mut db[sep + 1..]);
        }
        _ => {
            db[sep] = 0x01;
            rng.fill(&mut db[sep + 1..]);
        }
    }
    if class == Class::WrongLabelHash {
        db[0] ^= 0x01;
    }
    let mut seed = [0u8; HASH_LEN];
    rng.fill(&mut seed);
    mgf1_xor(&seed, &mut db);
    mgf1_xor(&db, &mut seed);
    em[1..1 + HASH_LEN].copy_from_slice(&seed);
    em[1 + HASH_LEN..].copy_from_slice(&db);
    if class == Class::FirstByteNonzero {
        em[0] = 0x01;
    }
    em
}

/// `em^e mod n` as `k` bytes: the ciphertext whose decryption is `em`.
fn raw_encrypt(key: &rsa::PublicKey, em: &[u8]) -> Result<Vec<u8>, Failure> {
    let bad = || Failure::new("bench: raw rsa failed on a chosen message");
    let m = rsa::BoxedUint::from_be_slice(em, key.n_bits_precision()).map_err(|_| bad())?;
    // Square-and-multiply over the public exponent's bits (public data: variable time is fine).
    let mut c: Option<rsa::BoxedUint> = None;
    for byte in key.e().to_be_bytes().iter() {
        for bit in (0..8).rev() {
            c = c.map(|x| x.mul_mod(&x, key.n()));
            if byte >> bit & 1 == 1 {
                c = Some(match c {
                    Some(x) => x.mul_mod(&m, key.n()),
                    None => m.clone(),
                });
            }
        }
    }
    let c = c.ok_or_else(bad)?;
    let bytes = c.to_be_bytes();
    let k = key.size();
    if bytes.len() < k || bytes[..bytes.len() - k].iter().any(|b| *b != 0) {
        return Err(bad());
    }
    Ok(bytes[bytes.len() - k..].to_vec())
}

/// `pool` ciphertexts of every class, in [`CLASSES`] order.
pub(super) fn ciphertexts(spki_der: &[u8], pool: usize) -> Result<Vec<Vec<Vec<u8>>>, Failure> {
    let key = rsa::PublicKey::from_public_key_der(spki_der)
        .map_err(|e| Failure::new(format!("bench: the public key does not parse: {e}")))?;
    let k = key.size();
    let n0 = key.n().to_be_bytes()[key.n().to_be_bytes().len() - k];
    let mut rng = Rng::new();
    CLASSES
        .iter()
        .map(|c| {
            (0..pool)
                .map(|_| raw_encrypt(&key, &encoded(*c, k, n0, &mut rng)))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use angou::Backend;
    use angou::pk::rsa::PrivateKey;

    use super::*;

    #[test]
    fn classes_decode_as_built() {
        let key = PrivateKey::generate(2048).unwrap();
        let cts = ciphertexts(&key.public_key().to_der(), 2).unwrap();
        for (c, class) in CLASSES.iter().enumerate() {
            for ct in &cts[c] {
                let got = key.decrypt_with(Backend::RustCrypto, b"", ct).is_ok();
                // The rsa crate ignores the first octet (RFC 8017 §7.1.2 step 3g says refuse).
                let want = matches!(class, Class::Valid | Class::FirstByteNonzero);
                assert_eq!(got, want, "{}", class.name());
                for &b in Backend::available() {
                    let ok = key.decrypt_with(b, b"", ct).is_ok();
                    if b != Backend::RustCrypto {
                        assert_eq!(ok, *class == Class::Valid, "{} on {b}", class.name());
                    }
                }
            }
        }
    }
}
