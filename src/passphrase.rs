//! The passphrase recipient: scrypt, exactly as age v1 (C2SP age spec, "The scrypt recipient type").
//!
//! Wrap key = `scrypt(passphrase, salt = "age-encryption.org/v1/scrypt" || 16 random bytes,
//! N = 2^work_factor, r = 8, p = 1, 32 bytes)`; body = ChaCha20-Poly1305 (zero nonce) over the
//! file key. Stanza: `-> scrypt <base64 salt> <work factor in decimal>`. A passphrase stanza
//! must be the only stanza of its file.

use crate::aead::Key;
use crate::b64::{decode_b64, encode_b64};
use crate::error::{Error, FormatError};
use crate::recipient::{
    Identity, Recipient, SCRYPT_STANZA, Stanza, check_stanza, open_file_key, seal_file_key,
};
use crate::secret::{FileKey, SecretArray, SecretVec, random_array};

/// Salt prefix (scrypt's salt is this label followed by the stanza's 16 random bytes).
pub(crate) const SCRYPT_LABEL: &[u8] = b"age-encryption.org/v1/scrypt";
/// log2(N) used when encrypting: about a second on a current machine.
pub const DEFAULT_WORK_FACTOR: u8 = 18;
/// Largest log2(N) accepted when decrypting (a bigger one is a denial of service).
pub const MAX_WORK_FACTOR: u8 = 22;

/// Parses a work factor: decimal, no sign, no leading zero, 1 to 63.
pub(crate) fn parse_work_factor(text: &str) -> Result<u8, FormatError> {
    let err = FormatError::MalformedStanza {
        kind: SCRYPT_STANZA,
        reason: "work factor must be a decimal number from 1 to 63 without leading zeros",
    };
    if text.is_empty()
        || text.len() > 2
        || !text.bytes().all(|b| b.is_ascii_digit())
        || text.starts_with('0')
    {
        return Err(err);
    }
    match text.parse::<u8>() {
        Ok(n) if (1..=63).contains(&n) => Ok(n),
        _ => Err(err),
    }
}

fn derive(passphrase: &SecretVec, salt: &[u8; 16], work_factor: u8) -> Result<Key, Error> {
    let mut full_salt = SCRYPT_LABEL.to_vec();
    full_salt.extend_from_slice(salt);
    let params =
        scrypt::Params::new(work_factor, 8, 1).map_err(|_| FormatError::MalformedStanza {
            kind: SCRYPT_STANZA,
            reason: "work factor out of range",
        })?;
    let mut okm = SecretArray::<32>::zeroed();
    scrypt::scrypt(
        passphrase.expose_secret(),
        &full_salt,
        &params,
        okm.expose_secret_mut(),
    )
    .map_err(|_| FormatError::MalformedStanza {
        kind: SCRYPT_STANZA,
        reason: "scrypt rejected its parameters",
    })?;
    Ok(Key::from_secret(okm))
}

/// Encrypts to a passphrase (scrypt, age-compatible).
///
/// ```
/// use std::io::{Read, Write};
/// use angou::format::{Decryptor, Encryptor};
/// use angou::passphrase::{PassphraseIdentity, PassphraseRecipient};
/// use angou::secret::SecretVec;
///
/// let pass = || SecretVec::from_vec(b"correct horse battery staple".to_vec());
/// // A low work factor keeps this example fast; keep the default for real files.
/// let recipient = PassphraseRecipient::new(pass()).with_work_factor(10);
/// let mut file = Vec::new();
/// let mut w = Encryptor::with_passphrase(recipient).wrap_output(&mut file)?;
/// w.write_all(b"hi")?;
/// w.finish()?;
/// let mut out = Vec::new();
/// Decryptor::new(&file[..])?.decrypt([PassphraseIdentity::new(pass())])?.read_to_end(&mut out)?;
/// assert_eq!(out, b"hi");
/// # Ok::<(), angou::Error>(())
/// ```
#[derive(Debug)]
pub struct PassphraseRecipient {
    passphrase: SecretVec,
    work_factor: u8,
}

impl PassphraseRecipient {
    /// A recipient with the default work factor ([`DEFAULT_WORK_FACTOR`]).
    pub fn new(passphrase: SecretVec) -> Self {
        PassphraseRecipient {
            passphrase,
            work_factor: DEFAULT_WORK_FACTOR,
        }
    }

    /// Sets log2(N); values are clamped to 1..=[`MAX_WORK_FACTOR`] so angou can read its own files.
    pub fn with_work_factor(mut self, work_factor: u8) -> Self {
        self.work_factor = work_factor.clamp(1, MAX_WORK_FACTOR);
        self
    }
}

impl Recipient for PassphraseRecipient {
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error> {
        let salt: [u8; 16] = random_array()?;
        let key = derive(&self.passphrase, &salt, self.work_factor)?;
        Ok(vec![Stanza {
            kind: SCRYPT_STANZA.into(),
            args: vec![encode_b64(&salt), self.work_factor.to_string()],
            body: seal_file_key(&key, file_key)?,
        }])
    }
}

/// Decrypts with a passphrase.
#[derive(Debug)]
pub struct PassphraseIdentity {
    passphrase: SecretVec,
    max_work_factor: u8,
}

impl PassphraseIdentity {
    /// An identity accepting work factors up to [`MAX_WORK_FACTOR`].
    pub fn new(passphrase: SecretVec) -> Self {
        PassphraseIdentity {
            passphrase,
            max_work_factor: MAX_WORK_FACTOR,
        }
    }
}

impl Identity for PassphraseIdentity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>> {
        if stanza.kind != SCRYPT_STANZA {
            return None;
        }
        if let Err(e) = check_stanza(stanza) {
            return Some(Err(e.into()));
        }
        let salt: [u8; 16] = decode_b64(&stanza.args[0])?.try_into().ok()?;
        let work_factor = parse_work_factor(&stanza.args[1]).ok()?;
        if work_factor > self.max_work_factor {
            return Some(Err(FormatError::WorkFactorTooLarge {
                found: work_factor,
                max: self.max_work_factor,
            }
            .into()));
        }
        let key = match derive(&self.passphrase, &salt, work_factor) {
            Ok(k) => k,
            Err(e) => return Some(Err(e)),
        };
        // A wrong passphrase is "not mine": the file may still match another identity.
        open_file_key(&key, &stanza.body).map(Ok)
    }
}
