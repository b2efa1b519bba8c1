//! The only home of raw key bytes.
//!
//! Every secret in angou lives in one of the two types here. Both zeroize their
//! bytes on drop, print as `[redacted]`, implement neither `Display`, `PartialEq`
//! nor any serialisation, and hand out their bytes through one greppable accessor,
//! [`SecretArray::expose_secret`] / [`SecretVec::expose_secret`].
//!
//! Randomness comes from the operating system (`getrandom`), never from a
//! user-space generator seeded once.

use core::fmt;

use zeroize::Zeroize;

use crate::error::{Error, KeyError};

/// The text every secret prints as, through `Debug`.
pub(crate) const REDACTED: &str = "[redacted]";

/// A fixed-size secret of `N` bytes, boxed so that moving it never leaves a copy behind.
pub struct SecretArray<const N: usize>(Box<[u8; N]>);

impl<const N: usize> SecretArray<N> {
    /// A fresh secret of `N` bytes from the operating system's generator.
    ///
    /// # Errors
    /// [`Error::Rng`] if the operating system's generator fails.
    pub fn generate() -> Result<Self, Error> {
        let mut secret = Self(Box::new([0u8; N]));
        fill_random(secret.0.as_mut_slice())?;
        Ok(secret)
    }

    /// Boxes `bytes` and zeroizes the by-value argument. Arrays are `Copy`: a caller's own
    /// variable is not wiped by this, so callers that hold key bytes should keep them in a
    /// `Zeroizing` buffer or fill the secret in place.
    pub fn from_array(mut bytes: [u8; N]) -> Self {
        let secret = Self(Box::new(bytes));
        bytes.zeroize();
        secret
    }

    /// Copies `bytes` into a new secret.
    ///
    /// # Errors
    /// [`KeyError::InvalidLength`] if `bytes` is not exactly `N` bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != N {
            return Err(KeyError::InvalidLength {
                expected: N,
                found: bytes.len(),
            });
        }
        let mut secret = Self(Box::new([0u8; N]));
        secret.0.copy_from_slice(bytes);
        Ok(secret)
    }

    /// The raw bytes. Every use of this accessor is a place where a secret leaves its box.
    pub fn expose_secret(&self) -> &[u8; N] {
        &self.0
    }

    /// Mutable access for filling a secret in place (KDF output, decryption).
    pub(crate) fn expose_secret_mut(&mut self) -> &mut [u8; N] {
        &mut self.0
    }

    /// A secret of all zero bytes, to be filled in place by a KDF.
    pub(crate) fn zeroed() -> Self {
        Self(Box::new([0u8; N]))
    }
}

impl<const N: usize> Clone for SecretArray<N> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<const N: usize> Drop for SecretArray<N> {
    fn drop(&mut self) {
        self.0.as_mut_slice().zeroize();
    }
}

impl<const N: usize> fmt::Debug for SecretArray<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// A variable-length secret: decrypted key material, a passphrase, plaintext that must not linger.
pub struct SecretVec(Vec<u8>);

impl SecretVec {
    /// Takes ownership of `bytes`; they are zeroized when the secret is dropped.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The raw bytes. Every use of this accessor is a place where a secret leaves its box.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Clone for SecretVec {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl Drop for SecretVec {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// The 128-bit key that encrypts one file's payload (age v1 §"File key").
pub type FileKey = SecretArray<16>;

/// The secret half of a KMS access key: 40 ASCII characters, as AWS secret access keys are,
/// shown once by `angou kms create-access-key` and otherwise kept encrypted in the store.
pub type SecretAccessKey = SecretArray<40>;

/// Fills `buf` from the operating system's generator. For public random values
/// (nonces, salts); secrets should use [`SecretArray::generate`].
///
/// # Errors
/// [`Error::Rng`] if the operating system's generator fails.
pub fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|_| Error::Rng)
}

/// A public random array (a nonce, a salt).
///
/// # Errors
/// [`Error::Rng`] if the operating system's generator fails.
pub fn random_array<const N: usize>() -> Result<[u8; N], Error> {
    let mut out = [0u8; N];
    fill_random(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretArray::<32>::from_array([0x41; 32]);
        assert_eq!(format!("{s:?}"), "[redacted]");
        let v = SecretVec::from_vec(b"hunter2".to_vec());
        assert_eq!(format!("{v:?}"), "[redacted]");
    }

    #[test]
    fn generate_is_not_constant() {
        let a = SecretArray::<32>::generate().unwrap();
        let b = SecretArray::<32>::generate().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn from_slice_checks_length() {
        assert!(matches!(
            SecretArray::<16>::from_slice(&[0; 15]),
            Err(KeyError::InvalidLength {
                expected: 16,
                found: 15
            })
        ));
        assert!(SecretArray::<16>::from_slice(&[7; 16]).is_ok());
    }
}
