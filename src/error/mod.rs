//! Errors: one top-level [`enum@Error`] and one enum per area.
//!
//! Authentication failures are a single variant whatever their cause (wrong key,
//! wrong associated data, a flipped bit): an attacker learns nothing from which.
//! Structural problems are precise. No message ever contains secret bytes.

use thiserror::Error;

mod aead;
mod format;
mod key;
mod keyfile;
mod kms;

pub use aead::AeadError;
pub use format::FormatError;
pub use key::KeyError;
pub use keyfile::{KeyFileError, SecretKind};
pub use kms::KmsError;

/// Everything an angou operation can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A shared-key (AEAD) operation failed.
    #[error(transparent)]
    Aead(#[from] AeadError),
    /// A key could not be generated, parsed, used or unwrapped.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Rng,
    /// An encrypted file is malformed or does not authenticate.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A local KMS operation failed.
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// An identity file or recipients file could not be read ([`crate::keyfile`]).
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// Reading or writing failed.
    #[error("i/o error: {0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for Error {
    /// Recovers an angou error carried inside an I/O error (see [`Error::from_io`]).
    fn from(err: std::io::Error) -> Self {
        Error::from_io(err)
    }
}

impl Error {
    /// Recovers an angou error that travelled through an [`std::io::Error`] (from the
    /// streaming `Read`/`Write` adapters); other I/O errors stay [`Error::Io`].
    pub fn from_io(err: std::io::Error) -> Error {
        if !err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            return Error::Io(err);
        }
        let kind = err.kind();
        match err.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(e)) => *e,
            Some(Err(other)) => Error::Io(std::io::Error::new(kind, other)),
            None => Error::Io(kind.into()),
        }
    }

    /// Wraps this error in an [`std::io::Error`] for `Read`/`Write` adapters.
    pub fn into_io(self) -> std::io::Error {
        match self {
            Error::Io(e) => e,
            other => std::io::Error::other(other),
        }
    }
}
