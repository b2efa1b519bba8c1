//! The private key: OpenSSH private key files, plain or passphrase-protected, the PEM RSA
//! key's SSH identity, and unwrapping a file key with it.

use core::fmt;

use rsa::pkcs8::EncodePrivateKey;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::key_type::{openssh_key_type, unsupported};
use super::public::PublicInner;
use super::{
    ED25519_BODY_LEN, ED25519_TYPE, PRIVATE, PublicKey, RSA_LABEL, RSA_TYPE, WRAP_NONCE,
    ed25519_wrap_key,
};
use crate::aead::hazmat::LessSafeKey;
use crate::aead::{Algorithm, TAG_LEN as AEAD_TAG_LEN};
use crate::error::KeyError;
use crate::pk::{rsa as angou_rsa, x25519};
use crate::secret::{FileKey, SecretArray, SecretVec};

/// An SSH private key that can decrypt files: an `ssh-ed25519` or `ssh-rsa` identity.
/// Prints as `[redacted]` plus its public tag; the secret parts live in [`crate::secret`] types.
#[derive(Clone)]
pub struct PrivateKey {
    public: PublicKey,
    inner: PrivateInner,
}

#[derive(Clone)]
enum PrivateInner {
    /// The X25519 scalar: SHA-512(seed)[..32].
    Ed25519(x25519::SecretKey),
    Rsa(Box<angou_rsa::PrivateKey>),
}

/// An OpenSSH private key file: readable now, or waiting for its passphrase.
#[derive(Debug)]
pub enum PrivateKeyFile {
    /// A key stored without a passphrase.
    Plain(PrivateKey),
    /// A passphrase-protected key: its public half is readable, the rest needs
    /// [`EncryptedPrivateKey::decrypt`].
    Encrypted(Box<EncryptedPrivateKey>),
}

/// A passphrase-protected OpenSSH private key (bcrypt-pbkdf).
pub struct EncryptedPrivateKey {
    inner: ssh_key::PrivateKey,
    public: PublicKey,
}

impl fmt::Debug for EncryptedPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ssh::EncryptedPrivateKey({:?})", self.public)
    }
}

impl EncryptedPrivateKey {
    /// The public half, stored unencrypted in the file.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Decrypts the key with `passphrase` (bcrypt-pbkdf, then the file's cipher).
    ///
    /// # Errors
    /// [`KeyError::InvalidEncoding`] for a wrong passphrase or a damaged file (the two cannot
    /// be told apart), and as [`PrivateKey::from_openssh`].
    pub fn decrypt(&self, passphrase: &SecretVec) -> Result<PrivateKey, KeyError> {
        let key = self
            .inner
            .decrypt(passphrase.expose_secret())
            .map_err(|_| KeyError::InvalidEncoding {
                what: PRIVATE,
                reason: "wrong passphrase, or the key file is damaged",
            })?;
        let key = PrivateKey::from_ssh_key(&key)?;
        if key.public != self.public {
            return Err(KeyError::InvalidEncoding {
                what: PRIVATE,
                reason: "the decrypted key does not match the file's public key",
            });
        }
        Ok(key)
    }
}

impl PrivateKey {
    /// Reads an OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`), as `ssh-keygen`
    /// writes it, with or without a passphrase.
    ///
    /// # Errors
    /// [`KeyError::InvalidEncoding`] for a malformed file or a key type other than
    /// `ssh-ed25519` and `ssh-rsa` (named); [`KeyError::KeyTooSmall`] for RSA under 2048 bits.
    /// Messages never hold key material.
    pub fn from_openssh(text: &str) -> Result<PrivateKeyFile, KeyError> {
        let key = ssh_key::PrivateKey::from_openssh(text.trim()).map_err(|e| match e {
            ssh_key::Error::AlgorithmUnsupported { algorithm } => unsupported(algorithm.as_str()),
            _ => match openssh_key_type(text) {
                Some(name) if name != ED25519_TYPE && name != RSA_TYPE => unsupported(name),
                _ => KeyError::InvalidEncoding {
                    what: PRIVATE,
                    reason: "not a valid OpenSSH private key",
                },
            },
        })?;
        if key.is_encrypted() {
            let public = PublicKey::from_ssh_key(key.public_key())?;
            return Ok(PrivateKeyFile::Encrypted(Box::new(EncryptedPrivateKey {
                inner: key,
                public,
            })));
        }
        Ok(PrivateKeyFile::Plain(Self::from_ssh_key(&key)?))
    }

    fn from_ssh_key(key: &ssh_key::PrivateKey) -> Result<Self, KeyError> {
        let invalid = |reason| KeyError::InvalidEncoding {
            what: PRIVATE,
            reason,
        };
        let public = PublicKey::from_ssh_key(key.public_key())?;
        let inner = match (key.key_data(), &public.inner) {
            (ssh_key::private::KeypairData::Ed25519(pair), PublicInner::Ed25519(mont)) => {
                let seed = Zeroizing::new(pair.private.to_bytes());
                let mut hash = Zeroizing::new([0u8; 64]);
                hash.copy_from_slice(&Sha512::digest(*seed));
                let secret = x25519::SecretKey::from_secret(SecretArray::from_slice(&hash[..32])?);
                if secret.public_key().to_bytes() != *mont {
                    return Err(invalid("the private key does not match its public key"));
                }
                PrivateInner::Ed25519(secret)
            }
            (ssh_key::private::KeypairData::Rsa(pair), PublicInner::Rsa(_)) => {
                let part = |m: &ssh_key::Mpint| {
                    m.as_positive_bytes()
                        .map(rsa::BoxedUint::from_be_slice_vartime)
                        .ok_or(invalid("an rsa component is not positive"))
                };
                let key = rsa::PrivateKey::from_components(
                    part(pair.public().n())?,
                    part(pair.public().e())?,
                    part(pair.private().d())?,
                    vec![part(pair.private().p())?, part(pair.private().q())?],
                )
                .map_err(|_| invalid("inconsistent rsa key components"))?;
                let der = key
                    .to_pkcs8_der()
                    .map_err(|_| invalid("the rsa key cannot be encoded"))?;
                PrivateInner::Rsa(Box::new(angou_rsa::PrivateKey::from_der(der.as_bytes())?))
            }
            _ => return Err(unsupported(key.algorithm().as_str())),
        };
        Ok(PrivateKey { public, inner })
    }

    /// The `ssh-rsa` identity of an RSA key read from PEM (`-----BEGIN RSA PRIVATE KEY-----`,
    /// which older `ssh-keygen` writes, or PKCS#8).
    ///
    /// # Errors
    /// [`KeyError::InvalidEncoding`] if the key cannot be expressed in the SSH wire format.
    pub fn from_rsa(key: angou_rsa::PrivateKey) -> Result<Self, KeyError> {
        use rsa::pkcs8::DecodePublicKey;
        use rsa::traits::PublicKeyParts;
        let invalid = KeyError::InvalidEncoding {
            what: PRIVATE,
            reason: "the rsa key cannot be expressed as an ssh key",
        };
        let public = rsa::PublicKey::from_public_key_der(&key.public_key().to_der())
            .map_err(|_| invalid.clone())?;
        let ssh_public = ssh_key::public::RsaPublicKey::new(
            ssh_key::Mpint::from_positive_bytes(&public.e().to_be_bytes()),
            ssh_key::Mpint::from_positive_bytes(&public.n().to_be_bytes()),
        )
        .map_err(|_| invalid.clone())?;
        let public = PublicKey::from_ssh_key(&ssh_key::PublicKey::new(
            ssh_key::public::KeyData::Rsa(ssh_public),
            "",
        ))?;
        Ok(PrivateKey {
            public,
            inner: PrivateInner::Rsa(Box::new(key)),
        })
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Unwraps an `ssh-ed25519` body with its ephemeral share; `None` for an `ssh-rsa` key.
    ///
    /// # Errors
    /// [`KeyError::LowOrderPoint`] for a low-order share, [`KeyError::UnwrapFailed`] when the
    /// body does not authenticate.
    pub fn unwrap_ed25519(
        &self,
        share: &[u8; 32],
        body: &[u8; ED25519_BODY_LEN],
    ) -> Option<Result<FileKey, KeyError>> {
        let PrivateInner::Ed25519(secret) = &self.inner else {
            return None;
        };
        let PublicInner::Ed25519(ours) = &self.public.inner else {
            return None;
        };
        Some((|| {
            let shared = secret.diffie_hellman(&x25519::PublicKey::from_bytes(*share))?;
            let key = ed25519_wrap_key(&self.public.wire, &shared, share, ours)?;
            let mut file_key = FileKey::zeroed();
            file_key.expose_secret_mut().copy_from_slice(&body[..16]);
            let mut tag = [0u8; AEAD_TAG_LEN];
            tag.copy_from_slice(&body[16..]);
            LessSafeKey::new(Algorithm::ChaCha20Poly1305, &key)
                .open_in_place_detached(&WRAP_NONCE, b"", file_key.expose_secret_mut(), &tag)
                .map(|()| file_key)
                .map_err(|_| KeyError::UnwrapFailed)
        })())
    }

    /// Unwraps an `ssh-rsa` body; `None` for an `ssh-ed25519` key.
    ///
    /// # Errors
    /// [`KeyError::UnwrapFailed`] for every failure, whatever the cause.
    pub fn unwrap_rsa(&self, body: &[u8]) -> Option<Result<FileKey, KeyError>> {
        let PrivateInner::Rsa(key) = &self.inner else {
            return None;
        };
        Some(
            key.decrypt(RSA_LABEL, body)
                .and_then(|pt| {
                    FileKey::from_slice(pt.expose_secret()).map_err(|_| KeyError::UnwrapFailed)
                })
                .map_err(|_| KeyError::UnwrapFailed),
        )
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ssh::PrivateKey({} {})",
            crate::secret::REDACTED,
            self.public.tag_b64()
        )
    }
}
