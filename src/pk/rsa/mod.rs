//! RSA key pairs for RSA-OAEP with SHA-256 (RFC 8017 §7.1, MGF1-SHA-256).
//!
//! * Generation: 2048, 3072 or 4096 bits, public exponent 65537.
//! * Reading: standard PEM — PKCS#8 `PRIVATE KEY` (what `openssl genpkey` writes),
//!   PKCS#1 `RSA PRIVATE KEY`, SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY` — of
//!   2048 to 8192 bits. Keys under 2048 bits are refused with [`KeyError::KeyTooSmall`].
//! * Writing: PKCS#8 and SPKI PEM with LF line endings, which `openssl pkey` reads.
//! * Padding: OAEP with SHA-256 for both the label hash and MGF1, nothing else.
//!   PKCS#1 v1.5 encryption is not compiled in (the `rsa` crate's `pkcs1v15`
//!   feature is off).
//! * Every decryption failure is the single [`KeyError::UnwrapFailed`]; private-key
//!   operations are blinded with fresh OS randomness.
//!
//! ```
//! use angou::pk::rsa::PrivateKey;
//! let key = PrivateKey::generate(2048)?;
//! let public = key.public_key();
//! let sealed = public.encrypt(b"label", b"a 16-byte key...")?;
//! let opened = key.decrypt(b"label", &sealed)?;
//! assert_eq!(opened.expose_secret(), b"a 16-byte key...");
//! assert_eq!(public.max_plaintext_len(), 256 - 66);
//! # Ok::<(), angou::Error>(())
//! ```

mod private;
mod public;

use rsa::Oaep;
use sha2::Sha256;

#[cfg(feature = "aws-lc")]
use crate::backend::Backend;
use crate::error::{Error, KeyError};

pub use private::PrivateKey;
pub use public::PublicKey;

/// Smallest modulus angou accepts, in bits.
pub const MIN_BITS: usize = 2048;
/// Largest modulus angou reads, in bits.
pub const MAX_BITS: usize = 8192;
/// Modulus sizes angou generates, in bits.
pub const GENERATE_BITS: [usize; 3] = [2048, 3072, 4096];
/// Bytes OAEP-SHA-256 takes from each message: `2 * 32 + 2`.
pub(crate) const OAEP_OVERHEAD: usize = 66;
/// The backend that runs a key: aws-lc when it holds a parsed copy, else RustCrypto.
#[cfg(feature = "aws-lc")]
fn backend_of<T>(lc: &Option<T>) -> Backend {
    if lc.is_some() {
        Backend::AwsLc
    } else {
        Backend::RustCrypto
    }
}
fn oaep(label: &[u8]) -> Oaep<Sha256> {
    Oaep::<Sha256>::new_with_label(label)
}

/// Maps a failure of the `rsa` crate outside decryption: the RNG, or an internal error.
fn rsa_failure(e: rsa::Error) -> Error {
    match e {
        rsa::Error::Rng => Error::Rng,
        rsa::Error::LabelTooLong => KeyError::InvalidEncoding {
            what: "rsa-oaep label",
            reason: "too long",
        }
        .into(),
        _ => KeyError::InvalidEncoding {
            what: "rsa operation",
            reason: "the rsa implementation refused the key or input",
        }
        .into(),
    }
}

fn check_bits(bits: usize) -> Result<(), KeyError> {
    if bits < MIN_BITS {
        Err(KeyError::KeyTooSmall { bits })
    } else if bits > MAX_BITS {
        Err(KeyError::UnsupportedKeySize { bits })
    } else {
        Ok(())
    }
}
fn pem_label(pem: &str) -> Option<&str> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let len = pem[start..].find("-----")?;
    Some(&pem[start..start + len])
}
