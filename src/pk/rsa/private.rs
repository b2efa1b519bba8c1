//! The private key: generation, reading PKCS#8 and PKCS#1 PEM or DER, writing PKCS#8, and
//! blinded OAEP decryption on either backend.

use core::fmt;

use getrandom::SysRng;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

#[cfg(feature = "aws-lc")]
use super::backend_of;
use super::{GENERATE_BITS, PublicKey, check_bits, oaep, pem_label, rsa_failure};
use crate::backend::Backend;
use crate::error::{Error, KeyError};
use crate::secret::SecretVec;

/// An RSA private key used for OAEP-SHA-256 decryption. Prints as `[redacted]`;
/// the `rsa` crate zeroizes its private components on drop, and aws-lc (in builds with the
/// `aws-lc` feature) wipes every allocation it frees.
///
/// ```
/// use angou::pk::rsa::PrivateKey;
///
/// let private = PrivateKey::generate(2048)?;                 // also 3072, 4096
/// let pem = private.to_pem()?;                               // PKCS#8, zeroized on drop
/// let again = PrivateKey::from_pem(&pem)?;
/// assert_eq!(again.public_key(), private.public_key());
/// assert_eq!(format!("{again:?}"), "[redacted]");
/// # Ok::<(), angou::Error>(())
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    key: rsa::PrivateKey,
    #[cfg(feature = "aws-lc")]
    lc: Option<std::sync::Arc<aws_lc_rs::rsa::OaepPrivateDecryptingKey>>,
}
impl PrivateKey {
    /// The backend [`PrivateKey::decrypt`] uses for this key, as for [`PublicKey::backend`].
    pub fn backend(&self) -> Backend {
        #[cfg(feature = "aws-lc")]
        return backend_of(&self.lc);
        #[cfg(not(feature = "aws-lc"))]
        Backend::RustCrypto
    }

    fn wrap(key: rsa::PrivateKey) -> Self {
        #[cfg(feature = "aws-lc")]
        let lc = key
            .to_pkcs8_der()
            .ok()
            .and_then(|der| aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(der.as_bytes()).ok())
            .and_then(|k| aws_lc_rs::rsa::OaepPrivateDecryptingKey::new(k).ok())
            .map(std::sync::Arc::new);
        PrivateKey {
            key,
            #[cfg(feature = "aws-lc")]
            lc,
        }
    }
}
fn bits_of_private_der(pkcs8_or_pkcs1: &[u8]) -> Option<usize> {
    use rsa::pkcs1::der::Decode;
    let pkcs1 = rsa::pkcs1::RsaPrivateKeyRef::from_der(pkcs8_or_pkcs1)
        .ok()
        .or_else(|| {
            let info = rsa::pkcs8::PrivateKeyInfoRef::from_der(pkcs8_or_pkcs1).ok()?;
            rsa::pkcs1::RsaPrivateKeyRef::from_der(info.private_key.as_bytes()).ok()
        })?;
    let n = pkcs1.modulus.as_bytes();
    let first = *n.first()?;
    Some((n.len() - 1) * 8 + (8 - first.leading_zeros() as usize))
}
impl PrivateKey {
    /// A fresh key of `bits` bits (2048, 3072 or 4096), exponent 65537.
    ///
    /// # Errors
    /// [`KeyError::UnsupportedKeySize`] (or [`KeyError::KeyTooSmall`]) for other sizes; [`Error::Rng`].
    pub fn generate(bits: usize) -> Result<Self, Error> {
        check_bits(bits)?;
        if !GENERATE_BITS.contains(&bits) {
            return Err(KeyError::UnsupportedKeySize { bits }.into());
        }
        let key = rsa::PrivateKey::new(&mut SysRng, bits).map_err(rsa_failure)?;
        Ok(PrivateKey::wrap(key))
    }

    /// Reads a PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) PEM private key.
    ///
    /// # Errors
    /// [`KeyError::KeyTooSmall`] under 2048 bits, [`KeyError::InvalidEncoding`] otherwise
    /// (including passphrase-protected PEM, which angou does not read).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let invalid = |reason| KeyError::InvalidEncoding {
            what: "rsa private key",
            reason,
        };
        match pem_label(pem) {
            Some("PRIVATE KEY") | Some("RSA PRIVATE KEY") => {}
            Some("ENCRYPTED PRIVATE KEY") => {
                return Err(invalid(
                    "passphrase-protected PEM is not supported; remove the passphrase with `openssl pkey`",
                ));
            }
            Some(_) => {
                return Err(invalid(
                    "expected a PEM block labelled PRIVATE KEY or RSA PRIVATE KEY",
                ));
            }
            None => return Err(invalid("no PEM block found")),
        }
        let (_, der) = rsa::pkcs8::der::pem::decode_vec(pem.as_bytes())
            .map_err(|_| invalid("malformed PEM"))?;
        let der = Zeroizing::new(der);
        Self::from_der(&der)
    }

    /// Reads a DER PKCS#8 or PKCS#1 private key.
    ///
    /// # Errors
    /// As [`PrivateKey::from_pem`].
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let parsed =
            rsa::PrivateKey::from_pkcs8_der(der).or_else(|_| rsa::PrivateKey::from_pkcs1_der(der));
        match parsed {
            Ok(key) => {
                check_bits(key.n().bit_width_vartime() as usize)?;
                Ok(PrivateKey::wrap(key))
            }
            Err(_) => match bits_of_private_der(der) {
                Some(bits) => {
                    check_bits(bits)?;
                    Err(KeyError::InvalidEncoding {
                        what: "rsa private key",
                        reason: "inconsistent key components",
                    })
                }
                None => Err(KeyError::InvalidEncoding {
                    what: "rsa private key",
                    reason: "not a PKCS#8 or PKCS#1 RSA private key",
                }),
            },
        }
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) in a string zeroized on drop.
    ///
    /// # Errors
    /// [`KeyError::InvalidEncoding`] if the key cannot be encoded (not expected for valid keys).
    pub fn to_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::InvalidEncoding {
                what: "rsa private key",
                reason: "could not encode as PKCS#8",
            })
    }

    /// PKCS#8 DER (RFC 5208 `PrivateKeyInfo`), the form AWS KMS returns data key pairs in.
    ///
    /// # Errors
    /// [`KeyError::InvalidEncoding`] if the key cannot be encoded (not expected for valid keys).
    pub fn to_pkcs8_der(&self) -> Result<SecretVec, KeyError> {
        self.key
            .to_pkcs8_der()
            .map(|d| SecretVec::from_vec(d.as_bytes().to_vec()))
            .map_err(|_| KeyError::InvalidEncoding {
                what: "rsa private key",
                reason: "could not encode as PKCS#8",
            })
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::wrap(self.key.to_public_key())
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.n().bit_width_vartime() as usize
    }

    /// RSA-OAEP-SHA-256 decryption under `label` (RFC 8017 §7.1.2), blinded.
    ///
    /// # Errors
    /// [`KeyError::UnwrapFailed`] for every failure: wrong length, wrong key, wrong
    /// label, bad padding. The cause is not revealed.
    pub fn decrypt(&self, label: &[u8], ciphertext: &[u8]) -> Result<SecretVec, KeyError> {
        self.decrypt_with(self.backend(), label, ciphertext)
    }

    /// [`PrivateKey::decrypt`] on a chosen backend. Both blind the private-key operation.
    ///
    /// # Errors
    /// As [`PrivateKey::decrypt`]; a backend not in this build, or one that refused this
    /// key, is [`KeyError::InvalidEncoding`] (checked before any decryption).
    pub fn decrypt_with(
        &self,
        backend: Backend,
        label: &[u8],
        ciphertext: &[u8],
    ) -> Result<SecretVec, KeyError> {
        if !backend.is_available() {
            return Err(KeyError::InvalidEncoding {
                what: "rsa backend",
                reason: "not in this build; rebuild with --features aws-lc",
            });
        }
        match backend {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => {
                let lc = self.lc.as_ref().ok_or(KeyError::InvalidEncoding {
                    what: "rsa key",
                    reason: "the aws-lc backend refused this key; use the rustcrypto backend",
                })?;
                let mut out = Zeroizing::new(vec![0u8; lc.min_output_size()]);
                let len = lc
                    .decrypt(
                        &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256,
                        ciphertext,
                        &mut out,
                        Some(label),
                    )
                    .map_err(|_| KeyError::UnwrapFailed)?
                    .len();
                Ok(SecretVec::from_vec(out[..len].to_vec()))
            }
            _ => self
                .key
                .decrypt_blinded(&mut SysRng, oaep(label), ciphertext)
                .map(SecretVec::from_vec)
                .map_err(|_| KeyError::UnwrapFailed),
        }
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::secret::REDACTED)
    }
}
