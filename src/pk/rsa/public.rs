//! The public key: reading SPKI and PKCS#1 PEM or DER, writing SPKI, and OAEP encryption on
//! either backend.

use core::fmt;

use getrandom::SysRng;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;

#[cfg(feature = "aws-lc")]
use super::backend_of;
use super::{OAEP_OVERHEAD, check_bits, oaep, pem_label, rsa_failure};
use crate::backend::Backend;
use crate::error::{Error, KeyError};

/// An RSA public key used for OAEP-SHA-256 encryption.
///
/// It seals at most [`PublicKey::max_plaintext_len`] bytes (190 for RSA-2048): enough for a
/// file key, which is how [`crate::format::Encryptor`] uses it. PEM (SPKI) as openssl
/// writes it (`openssl pkey -pubout`).
///
/// ```
/// use angou::pk::rsa::{PrivateKey, PublicKey};
///
/// let private = PrivateKey::generate(2048)?;
/// let public = PublicKey::from_pem(&private.public_key().to_pem())?;
/// assert_eq!(public.bits(), 2048);
/// let sealed = public.encrypt(b"label", b"a 16-byte secret")?;
/// assert_eq!(private.decrypt(b"label", &sealed)?.expose_secret(), b"a 16-byte secret");
/// assert!(public.encrypt(b"label", &[0; 191]).is_err()); // too long for one RSA block
/// # Ok::<(), angou::Error>(())
/// ```
#[derive(Clone)]
pub struct PublicKey {
    key: rsa::PublicKey,
    /// The same key parsed by aws-lc (`None` only if aws-lc refused a key `rsa` accepted).
    #[cfg(feature = "aws-lc")]
    lc: Option<std::sync::Arc<aws_lc_rs::rsa::OaepPublicEncryptingKey>>,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for PublicKey {}
impl PublicKey {
    /// The backend [`PublicKey::encrypt`] uses for this key: [`Backend::for_rsa`], or
    /// RustCrypto for a key that aws-lc refused (none known; the two accept the same sizes).
    pub fn backend(&self) -> Backend {
        #[cfg(feature = "aws-lc")]
        return backend_of(&self.lc);
        #[cfg(not(feature = "aws-lc"))]
        Backend::RustCrypto
    }

    pub(super) fn wrap(key: rsa::PublicKey) -> Self {
        #[cfg(feature = "aws-lc")]
        let lc = key
            .to_public_key_der()
            .ok()
            .and_then(|der| aws_lc_rs::rsa::PublicEncryptingKey::from_der(der.as_bytes()).ok())
            .and_then(|k| aws_lc_rs::rsa::OaepPublicEncryptingKey::new(k).ok())
            .map(std::sync::Arc::new);
        PublicKey {
            key,
            #[cfg(feature = "aws-lc")]
            lc,
        }
    }
}
/// Reads the modulus size out of a key the `rsa` crate refused, so a too-small key
/// gets [`KeyError::KeyTooSmall`] rather than a vague parse error.
fn bits_of_public_der(spki_or_pkcs1: &[u8]) -> Option<usize> {
    use rsa::pkcs1::der::Decode;
    let pkcs1 = rsa::pkcs1::RsaPublicKeyRef::from_der(spki_or_pkcs1)
        .ok()
        .or_else(|| {
            let spki = rsa::pkcs8::spki::SubjectPublicKeyInfoRef::from_der(spki_or_pkcs1).ok()?;
            rsa::pkcs1::RsaPublicKeyRef::from_der(spki.subject_public_key.raw_bytes()).ok()
        })?;
    let n = pkcs1.modulus.as_bytes();
    let first = *n.first()?;
    Some((n.len() - 1) * 8 + (8 - first.leading_zeros() as usize))
}
impl PublicKey {
    /// Reads an SPKI (`PUBLIC KEY`) or PKCS#1 (`RSA PUBLIC KEY`) PEM public key.
    ///
    /// # Errors
    /// [`KeyError::KeyTooSmall`] under 2048 bits, [`KeyError::UnsupportedKeySize`] over 8192,
    /// [`KeyError::InvalidEncoding`] for anything that is not such a key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let invalid = |reason| KeyError::InvalidEncoding {
            what: "rsa public key",
            reason,
        };
        let der = match pem_label(pem) {
            Some("PUBLIC KEY") => {
                rsa::pkcs8::der::pem::decode_vec(pem.as_bytes())
                    .map_err(|_| invalid("malformed PEM"))?
                    .1
            }
            Some("RSA PUBLIC KEY") => {
                rsa::pkcs8::der::pem::decode_vec(pem.as_bytes())
                    .map_err(|_| invalid("malformed PEM"))?
                    .1
            }
            Some(_) => {
                return Err(invalid(
                    "expected a PEM block labelled PUBLIC KEY or RSA PUBLIC KEY",
                ));
            }
            None => return Err(invalid("no PEM block found")),
        };
        Self::from_der(&der)
    }

    /// Reads a DER SPKI or PKCS#1 public key.
    ///
    /// # Errors
    /// As [`PublicKey::from_pem`].
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let parsed = rsa::PublicKey::from_public_key_der(der)
            .or_else(|_| rsa::PublicKey::from_pkcs1_der(der));
        match parsed {
            Ok(key) => {
                check_bits(key.n().bit_width_vartime() as usize)?;
                Ok(PublicKey::wrap(key))
            }
            Err(_) => match bits_of_public_der(der) {
                Some(bits) => {
                    check_bits(bits)?;
                    Err(KeyError::InvalidEncoding {
                        what: "rsa public key",
                        reason: "invalid modulus or exponent",
                    })
                }
                None => Err(KeyError::InvalidEncoding {
                    what: "rsa public key",
                    reason: "not an SPKI or PKCS#1 RSA public key",
                }),
            },
        }
    }

    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`), LF line endings.
    pub fn to_pem(&self) -> String {
        // Encoding a valid in-memory key cannot fail.
        self.key
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// SPKI DER: the bytes angou fingerprints.
    pub fn to_der(&self) -> Vec<u8> {
        self.key
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.n().bit_width_vartime() as usize
    }

    /// Modulus size in bytes (`k` in RFC 8017), which is also the ciphertext length.
    pub fn size(&self) -> usize {
        self.key.size()
    }

    /// Most bytes one OAEP-SHA-256 operation can seal: `k - 66`.
    pub fn max_plaintext_len(&self) -> usize {
        self.size() - OAEP_OVERHEAD
    }

    /// RSA-OAEP-SHA-256 encryption of `plaintext` under `label` (RFC 8017 §7.1.1).
    ///
    /// # Errors
    /// [`KeyError::PlaintextTooLong`] above [`PublicKey::max_plaintext_len`]; [`Error::Rng`].
    pub fn encrypt(&self, label: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        // `encrypt_with` checks the length; this key's own backend is always in the build.
        self.encrypt_with(self.backend(), label, plaintext)
    }

    /// [`PublicKey::encrypt`] on a chosen backend; the output decrypts on either.
    ///
    /// # Errors
    /// As [`PublicKey::encrypt`], plus [`crate::AeadError::BackendUnavailable`] for a backend
    /// not in this build.
    pub fn encrypt_with(
        &self,
        backend: Backend,
        label: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        backend.check_available()?;
        let max = self.max_plaintext_len();
        if plaintext.len() > max {
            return Err(KeyError::PlaintextTooLong {
                max,
                found: plaintext.len(),
            }
            .into());
        }
        match backend {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => {
                let refused = || {
                    Error::from(KeyError::InvalidEncoding {
                        what: "rsa operation",
                        reason: "the aws-lc backend refused the key or input; use the rustcrypto backend",
                    })
                };
                let lc = self.lc.as_ref().ok_or_else(refused)?;
                let mut out = vec![0u8; lc.ciphertext_size()];
                let len = lc
                    .encrypt(
                        &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
                        plaintext,
                        &mut out,
                        Some(label),
                    )
                    .map_err(|_| refused())?
                    .len();
                out.truncate(len);
                Ok(out)
            }
            _ => self
                .key
                .encrypt(&mut SysRng, oaep(label), plaintext)
                .map_err(rsa_failure),
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rsa::PublicKey({} bits)", self.bits())
    }
}
