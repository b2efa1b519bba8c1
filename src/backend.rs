//! Which implementation runs the hot paths: the shared-key AEADs and RSA-OAEP.
//!
//! * [`Backend::RustCrypto`] — pure Rust (`aes-gcm`, `chacha20poly1305`, `rsa`), always
//!   compiled in, the default of the default build.
//! * [`Backend::AwsLc`] — aws-lc-rs (AWS-LC: C and assembly), compiled in only with the
//!   `aws-lc` cargo feature, and then the default for what it covers: AES-256-GCM,
//!   ChaCha20-Poly1305 and RSA-OAEP-SHA-256 encryption and decryption. AWS-LC has no
//!   XChaCha20-Poly1305, so that algorithm always runs on RustCrypto.
//!
//! Both backends implement the same byte-level algorithms: a message sealed by one opens
//! with the other (the vector and cross-backend tests check it). Everything else — X25519,
//! HKDF, scrypt, Argon2id, RSA key generation and PEM handling — is pure Rust in every build.
//!
//! ```
//! use angou::Backend;
//! use angou::aead::Algorithm;
//! assert!(Backend::available().contains(&Backend::RustCrypto));
//! // XChaCha20-Poly1305 runs on RustCrypto whatever the build.
//! assert_eq!(Backend::for_aead(Algorithm::XChaCha20Poly1305), Backend::RustCrypto);
//! assert_eq!("rustcrypto".parse::<Backend>()?, Backend::RustCrypto);
//! # Ok::<(), angou::Error>(())
//! ```

use core::fmt;
use core::str::FromStr;

use crate::aead::Algorithm;
use crate::error::{AeadError, Error};

/// An implementation of the hot paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// The pure-Rust RustCrypto crates. Always available.
    RustCrypto,
    /// aws-lc-rs. Available only in builds with the `aws-lc` cargo feature.
    AwsLc,
}

impl Backend {
    /// Every backend angou knows, compiled in or not, in a stable order.
    pub const ALL: [Backend; 2] = [Backend::RustCrypto, Backend::AwsLc];

    /// The name used on the command line and in `angou bench --json`: `rustcrypto`, `aws-lc`.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::RustCrypto => "rustcrypto",
            Backend::AwsLc => "aws-lc",
        }
    }

    /// Whether this build contains the backend.
    pub const fn is_available(self) -> bool {
        match self {
            Backend::RustCrypto => true,
            Backend::AwsLc => cfg!(feature = "aws-lc"),
        }
    }

    /// The backends this build contains, in [`Backend::ALL`] order.
    pub fn available() -> &'static [Backend] {
        #[cfg(feature = "aws-lc")]
        {
            &[Backend::RustCrypto, Backend::AwsLc]
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            &[Backend::RustCrypto]
        }
    }

    /// Whether this backend implements `algorithm` (AWS-LC has no XChaCha20-Poly1305).
    pub const fn supports_aead(self, algorithm: Algorithm) -> bool {
        match self {
            Backend::RustCrypto => true,
            Backend::AwsLc => !matches!(algorithm, Algorithm::XChaCha20Poly1305),
        }
    }

    /// The backend angou uses for `algorithm`: aws-lc when compiled in and able, else RustCrypto.
    pub const fn for_aead(algorithm: Algorithm) -> Backend {
        if Backend::AwsLc.is_available() && Backend::AwsLc.supports_aead(algorithm) {
            Backend::AwsLc
        } else {
            Backend::RustCrypto
        }
    }

    /// The backend angou uses for RSA-OAEP: aws-lc when compiled in, else RustCrypto.
    pub const fn for_rsa() -> Backend {
        if Backend::AwsLc.is_available() {
            Backend::AwsLc
        } else {
            Backend::RustCrypto
        }
    }

    /// Fails unless this build contains the backend.
    ///
    /// # Errors
    /// [`AeadError::BackendUnavailable`].
    pub fn check_available(self) -> Result<(), AeadError> {
        if self.is_available() {
            Ok(())
        } else {
            Err(AeadError::BackendUnavailable {
                backend: self.name(),
            })
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = Error;

    /// Parses `rustcrypto` or `aws-lc` (also `awslc`, `aws-lc-rs`); a known backend that is
    /// not in this build is an error too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let backend = match s {
            "rustcrypto" | "rust-crypto" => Backend::RustCrypto,
            "aws-lc" | "awslc" | "aws-lc-rs" => Backend::AwsLc,
            _ => {
                return Err(AeadError::UnknownBackend {
                    found: s.to_owned(),
                }
                .into());
            }
        };
        backend.check_available()?;
        Ok(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for b in Backend::available() {
            assert_eq!(b.name().parse::<Backend>().unwrap(), *b);
            assert!(b.is_available());
        }
        assert!("openssl".parse::<Backend>().is_err());
    }

    #[test]
    fn defaults_follow_the_build() {
        assert_eq!(
            Backend::for_aead(Algorithm::XChaCha20Poly1305),
            Backend::RustCrypto
        );
        let expected = if cfg!(feature = "aws-lc") {
            Backend::AwsLc
        } else {
            Backend::RustCrypto
        };
        assert_eq!(Backend::for_aead(Algorithm::Aes256Gcm), expected);
        assert_eq!(Backend::for_aead(Algorithm::ChaCha20Poly1305), expected);
        assert_eq!(Backend::for_rsa(), expected);
        assert_eq!(
            "aws-lc".parse::<Backend>().is_ok(),
            cfg!(feature = "aws-lc")
        );
    }
}
