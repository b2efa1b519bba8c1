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

use core::fmt;

use getrandom::SysRng;
use rsa::Oaep;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::traits::PublicKeyParts;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::backend::Backend;
use crate::error::{Error, KeyError};
use crate::secret::SecretVec;

/// Smallest modulus angou accepts, in bits.
pub const MIN_BITS: usize = 2048;
/// Largest modulus angou reads, in bits.
pub const MAX_BITS: usize = 8192;
/// Modulus sizes angou generates, in bits.
pub const GENERATE_BITS: [usize; 3] = [2048, 3072, 4096];
/// Bytes OAEP-SHA-256 takes from each message: `2 * 32 + 2`.
pub(crate) const OAEP_OVERHEAD: usize = 66;

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

/// The backend that runs a key: aws-lc when it holds a parsed copy, else RustCrypto.
#[cfg(feature = "aws-lc")]
fn backend_of<T>(lc: &Option<T>) -> Backend {
    if lc.is_some() {
        Backend::AwsLc
    } else {
        Backend::RustCrypto
    }
}

impl PublicKey {
    /// The backend [`PublicKey::encrypt`] uses for this key: [`Backend::for_rsa`], or
    /// RustCrypto for a key that aws-lc refused (none known; the two accept the same sizes).
    pub fn backend(&self) -> Backend {
        #[cfg(feature = "aws-lc")]
        return backend_of(&self.lc);
        #[cfg(not(feature = "aws-lc"))]
        Backend::RustCrypto
    }

    fn wrap(key: rsa::PublicKey) -> Self {
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

fn pem_label(pem: &str) -> Option<&str> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let len = pem[start..].find("-----")?;
    Some(&pem[start..start + len])
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
        let max = self.max_plaintext_len();
        if plaintext.len() > max {
            return Err(KeyError::PlaintextTooLong {
                max,
                found: plaintext.len(),
            }
            .into());
        }
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
