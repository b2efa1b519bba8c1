//! Recipients and identities: wrapping one file key into header stanzas, and back.
//!
//! | stanza type | recipient | identity |
//! | --- | --- | --- |
//! | `X25519` (age v1) | [`crate::pk::x25519::PublicKey`] | [`crate::pk::x25519::SecretKey`] |
//! | [`MLKEM768X25519_STANZA`] (age 1.3) | [`crate::pk::mlkem768x25519::PublicKey`] | [`crate::pk::mlkem768x25519::SecretKey`] |
//! | `scrypt` (age v1) | [`crate::passphrase::PassphraseRecipient`] | [`crate::passphrase::PassphraseIdentity`] |
//! | [`RSA_STANZA`] (angou) | [`crate::pk::rsa::PublicKey`] | [`crate::pk::rsa::PrivateKey`] |
//! | [`SYMMETRIC_STANZA`] (angou) | [`SymmetricKey`] | [`SymmetricKey`] |
//! | [`KMS_STANZA`] (angou) | `angou::kms::KmsRecipient` | `angou::kms::KmsIdentity` |
//! | [`AWS_KMS_STANZA`] (angou) | `angou::kms::envelope::AwsKmsRecipient` | `angou::kms::envelope::AwsKmsIdentity` |
//! | [`ssh::SSH_ED25519_STANZA`], [`ssh::SSH_RSA_STANZA`] (age v1) | [`crate::pk::ssh::PublicKey`] | [`crate::pk::ssh::PrivateKey`] |
//!
//! [`check_stanza`] knows the shape of all nine types, so a reader can refuse a malformed
//! stanza of any of them whatever identities it holds (docs/FORMAT.md §4.3).
//!
//! Every stanza in a header wraps the same file key; the header MAC, keyed from the
//! file key, makes a file whose stanzas disagree fail for every recipient but one.

use core::fmt;

use bech32::{Bech32, Hrp};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::aead::hazmat::LessSafeKey;
use crate::aead::{Algorithm, Key, TAG_LEN};
use crate::b64::{decode_b64, encode_b64};
use crate::error::{Error, FormatError, KeyError};
use crate::pk::{rsa, x25519};
use crate::secret::{FileKey, SecretArray, random_array};

pub mod aws_kms;
mod mlkem768x25519;
pub mod ssh;
pub use aws_kms::AWS_KMS_STANZA;
pub use mlkem768x25519::{MLKEM768X25519_STANZA, check_post_quantum_mix};

/// Stanza type of the age X25519 recipient.
pub const X25519_STANZA: &str = "X25519";
/// Stanza type of the age passphrase (scrypt) recipient.
pub const SCRYPT_STANZA: &str = "scrypt";
/// Stanza type of angou's RSA-OAEP-SHA-256 recipient; also the OAEP label.
pub const RSA_STANZA: &str = "angou.dev/v1/rsa-oaep-sha256";
/// Stanza type of angou's shared symmetric key recipient.
pub const SYMMETRIC_STANZA: &str = "angou.dev/v1/symmetric";
/// Stanza type of a file key wrapped through the KMS (docs/FORMAT.md §5.6).
///
/// Defined here, below `kms`, so the format layer can check the stanza's shape without
/// depending on the key store; `angou::kms::KMS_STANZA` is the same string.
pub const KMS_STANZA: &str = "angou.dev/v1/kms";
/// Body of a KMS stanza, in bytes: a version-1 KMS blob (docs/FORMAT.md §5.1) of the file key,
/// 1 + 16 + 4 header bytes, a 12-byte nonce, the 16-byte file key and a 16-byte tag.
pub(crate) const KMS_BODY_LEN: usize = 1 + 16 + 4 + 12 + FILE_KEY_LEN + TAG_LEN;
/// Bytes of SHA-256(SPKI DER) that name an RSA key in its stanza.
pub(crate) const RSA_FINGERPRINT_LEN: usize = 8;
/// Bytes of the HKDF-derived id that names a symmetric key in its stanza.
pub(crate) const SYMMETRIC_ID_LEN: usize = 8;
/// HKDF info that derives a symmetric key's public id.
pub(crate) const SYMMETRIC_ID_LABEL: &[u8] = b"angou.dev/v1/symmetric id";
/// HKDF info that derives a symmetric key's per-file wrap key.
pub(crate) const SYMMETRIC_WRAP_LABEL: &[u8] = b"angou.dev/v1/symmetric";
/// Bech32 human-readable part of a symmetric key file (encoded upper case).
pub(crate) const SYMMETRIC_HRP: &str = "angou-symmetric-key-";
/// File key length, in bytes.
pub(crate) const FILE_KEY_LEN: usize = 16;
/// Length of a file key sealed with ChaCha20-Poly1305 (X25519, scrypt, symmetric bodies).
pub(crate) const WRAPPED_FILE_KEY_LEN: usize = FILE_KEY_LEN + TAG_LEN;

/// One recipient stanza: a type, its arguments, and a binary body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    /// The stanza type (first argument), e.g. `X25519`.
    pub kind: String,
    /// The remaining arguments.
    pub args: Vec<String>,
    /// The decoded body.
    pub body: Vec<u8>,
}

/// Something a file can be encrypted to.
///
/// `Send + Sync` so that one set of recipients can serve several files at once (the CLI
/// encrypts many files on a small thread pool); every recipient is key material or a handle
/// on a thread-safe KMS backend.
pub trait Recipient: Send + Sync {
    /// Wraps `file_key` into one or more stanzas.
    ///
    /// # Errors
    /// Whatever wrapping fails with (randomness, a bad key).
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error>;

    /// Makes the file key itself, with its stanzas, instead of wrapping one it is given:
    /// the hook by which a KMS recipient has the KMS generate the file key
    /// (`GenerateDataKey`, docs/FORMAT.md §5.8). The default, `None`, leaves the file key to
    /// the format, which draws it from the OS.
    ///
    /// [`crate::format::Encryptor`] asks its recipients in order; the first that answers
    /// `Some` supplies the file's key and no later recipient is asked. Every other
    /// recipient, before or after it, [`Recipient::wrap`]s that key. A failure (`Some(Err)`)
    /// fails the encryption before anything is written.
    ///
    /// # Security
    /// An implementation must return 16 bytes drawn from a cryptographically secure
    /// generator it trusts as it trusts the OS's, never a derived or reused key: every
    /// recipient of the file is protected by this key alone.
    fn generate_file_key(&self) -> Option<Result<(FileKey, Vec<Stanza>), Error>> {
        None
    }
}

/// Something that can decrypt files: tries to unwrap the file key from one stanza.
///
/// `Send + Sync` for the same reason as [`Recipient`]: one set of identities opens many files
/// at once.
pub trait Identity: Send + Sync {
    /// `None` if the stanza is not for this identity (or it cannot tell);
    /// `Some(Err(_))` if it is, but is malformed or fails; `Some(Ok(key))` on success.
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>>;
}

// References and boxes of recipients and identities are recipients and identities too, so
// `Encryptor::with_recipients([&public_key])`, a `Vec<Box<dyn Recipient>>` from
// `keyfile::read_recipients` and a mixed `[&x25519 as &dyn Recipient, &rsa]` are all accepted
// without casts at the call site. `<T as Trait>::method` avoids the keys' inherent `wrap`.
impl<T: Recipient + ?Sized> Recipient for &T {
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error> {
        <T as Recipient>::wrap(*self, file_key)
    }

    fn generate_file_key(&self) -> Option<Result<(FileKey, Vec<Stanza>), Error>> {
        <T as Recipient>::generate_file_key(*self)
    }
}

impl<T: Recipient + ?Sized> Recipient for Box<T> {
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error> {
        <T as Recipient>::wrap(self, file_key)
    }

    fn generate_file_key(&self) -> Option<Result<(FileKey, Vec<Stanza>), Error>> {
        <T as Recipient>::generate_file_key(self)
    }
}

impl<T: Identity + ?Sized> Identity for &T {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>> {
        <T as Identity>::unwrap_stanza(*self, stanza)
    }
}

impl<T: Identity + ?Sized> Identity for Box<T> {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>> {
        <T as Identity>::unwrap_stanza(self, stanza)
    }
}

fn stanza_err(kind: &'static str, reason: &'static str) -> FormatError {
    FormatError::MalformedStanza { kind, reason }
}

fn arg_bytes<const N: usize>(
    arg: &str,
    kind: &'static str,
    reason: &'static str,
) -> Result<[u8; N], FormatError> {
    let bytes = decode_b64(arg).ok_or(stanza_err(kind, reason))?;
    bytes.try_into().map_err(|_| stanza_err(kind, reason))
}

/// Checks the structure of stanzas whose type angou knows; unknown types pass untouched.
///
/// The number of arguments, each argument's decoded size (and the scrypt work factor's
/// syntax) and the body length: everything that can be judged without a key
/// (docs/FORMAT.md §4.3). [`crate::format::Decryptor::new`] applies it to every stanza.
///
/// # Errors
/// [`FormatError::MalformedStanza`] naming the type and the defect.
pub fn check_stanza(stanza: &Stanza) -> Result<(), FormatError> {
    if let Some(checked) = ssh::check(stanza) {
        return checked;
    }
    match stanza.kind.as_str() {
        X25519_STANZA => {
            let kind = X25519_STANZA;
            if stanza.args.len() != 1 {
                return Err(stanza_err(kind, "expected exactly one argument"));
            }
            arg_bytes::<32>(
                &stanza.args[0],
                kind,
                "ephemeral share is not 32 bytes of canonical base64",
            )?;
            if stanza.body.len() != WRAPPED_FILE_KEY_LEN {
                return Err(stanza_err(kind, "body is not 32 bytes"));
            }
        }
        MLKEM768X25519_STANZA => mlkem768x25519::check(stanza)?,
        AWS_KMS_STANZA => aws_kms::check(stanza)?,
        SCRYPT_STANZA => {
            let kind = SCRYPT_STANZA;
            if stanza.args.len() != 2 {
                return Err(stanza_err(kind, "expected a salt and a work factor"));
            }
            arg_bytes::<16>(
                &stanza.args[0],
                kind,
                "salt is not 16 bytes of canonical base64",
            )?;
            crate::passphrase::parse_work_factor(&stanza.args[1])?;
            if stanza.body.len() != WRAPPED_FILE_KEY_LEN {
                return Err(stanza_err(kind, "body is not 32 bytes"));
            }
        }
        RSA_STANZA => {
            let kind = RSA_STANZA;
            if stanza.args.len() != 1 {
                return Err(stanza_err(
                    kind,
                    "expected exactly one argument (key fingerprint)",
                ));
            }
            arg_bytes::<RSA_FINGERPRINT_LEN>(
                &stanza.args[0],
                kind,
                "fingerprint is not 8 bytes of canonical base64",
            )?;
            let n = stanza.body.len();
            if !(rsa::MIN_BITS / 8..=rsa::MAX_BITS / 8).contains(&n) {
                return Err(stanza_err(
                    kind,
                    "body is not an RSA ciphertext of 2048 to 8192 bits",
                ));
            }
        }
        SYMMETRIC_STANZA => {
            let kind = SYMMETRIC_STANZA;
            if stanza.args.len() != 2 {
                return Err(stanza_err(kind, "expected a key id and a salt"));
            }
            arg_bytes::<SYMMETRIC_ID_LEN>(
                &stanza.args[0],
                kind,
                "key id is not 8 bytes of canonical base64",
            )?;
            arg_bytes::<16>(
                &stanza.args[1],
                kind,
                "salt is not 16 bytes of canonical base64",
            )?;
            if stanza.body.len() != WRAPPED_FILE_KEY_LEN {
                return Err(stanza_err(kind, "body is not 32 bytes"));
            }
        }
        KMS_STANZA => {
            let kind = KMS_STANZA;
            // The argument is the key's ARN: any text the header grammar allows. What it names
            // is the key store's business; only its presence is the format's.
            if stanza.args.len() != 1 {
                return Err(stanza_err(
                    kind,
                    "expected exactly one argument (the key ARN)",
                ));
            }
            if stanza.body.len() != KMS_BODY_LEN {
                return Err(stanza_err(
                    kind,
                    "body is not a 65-byte KMS blob of a file key",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Seals a file key under a single-use wrap key (zero nonce): the age body construction.
pub(crate) fn seal_file_key(wrap_key: &Key, file_key: &FileKey) -> Result<Vec<u8>, Error> {
    let mut body = file_key.expose_secret().to_vec();
    let tag = LessSafeKey::new(Algorithm::ChaCha20Poly1305, wrap_key)
        .seal_in_place_detached(&[0u8; 12], b"", &mut body)?;
    body.extend_from_slice(&tag);
    Ok(body)
}

/// Opens a body made by [`seal_file_key`]; `None` if it does not authenticate.
pub(crate) fn open_file_key(wrap_key: &Key, body: &[u8]) -> Option<FileKey> {
    if body.len() != WRAPPED_FILE_KEY_LEN {
        return None;
    }
    let mut key = FileKey::zeroed();
    key.expose_secret_mut()
        .copy_from_slice(&body[..FILE_KEY_LEN]);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&body[FILE_KEY_LEN..]);
    LessSafeKey::new(Algorithm::ChaCha20Poly1305, wrap_key)
        .open_in_place_detached(&[0u8; 12], b"", key.expose_secret_mut(), &tag)
        .ok()?;
    Some(key)
}

impl Recipient for x25519::PublicKey {
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error> {
        let w = x25519::PublicKey::wrap(self, file_key)?;
        Ok(vec![Stanza {
            kind: X25519_STANZA.into(),
            args: vec![encode_b64(&w.ephemeral_share)],
            body: w.body.to_vec(),
        }])
    }
}

impl Identity for x25519::SecretKey {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>> {
        if stanza.kind != X25519_STANZA {
            return None;
        }
        if let Err(e) = check_stanza(stanza) {
            return Some(Err(e.into()));
        }
        let share = decode_b64(&stanza.args[0])?.try_into().ok()?;
        let body = stanza.body.clone().try_into().ok()?;
        let wrapped = x25519::WrappedKey {
            ephemeral_share: share,
            body,
        };
        match self.unwrap(&wrapped) {
            Ok(key) => Some(Ok(key)),
            Err(KeyError::UnwrapFailed) => None,
            Err(e) => Some(Err(e.into())),
        }
    }
}

/// The short public name of an RSA key in its stanza: SHA-256 of its SPKI DER, first 8 bytes.
pub fn rsa_fingerprint(key: &rsa::PublicKey) -> [u8; RSA_FINGERPRINT_LEN] {
    let digest = Sha256::digest(key.to_der());
    let mut out = [0u8; RSA_FINGERPRINT_LEN];
    out.copy_from_slice(&digest[..RSA_FINGERPRINT_LEN]);
    out
}

impl Recipient for rsa::PublicKey {
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error> {
        let body = self.encrypt(RSA_STANZA.as_bytes(), file_key.expose_secret())?;
        Ok(vec![Stanza {
            kind: RSA_STANZA.into(),
            args: vec![encode_b64(&rsa_fingerprint(self))],
            body,
        }])
    }
}

impl Identity for rsa::PrivateKey {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>> {
        if stanza.kind != RSA_STANZA {
            return None;
        }
        if let Err(e) = check_stanza(stanza) {
            return Some(Err(e.into()));
        }
        let public = self.public_key();
        if stanza.args[0] != encode_b64(&rsa_fingerprint(&public)) {
            return None;
        }
        // The fingerprint names this key: from here on a failure is an error, not "not mine".
        let result = self
            .decrypt(RSA_STANZA.as_bytes(), &stanza.body)
            .and_then(|pt| {
                FileKey::from_slice(pt.expose_secret()).map_err(|_| KeyError::UnwrapFailed)
            });
        Some(result.map_err(|_| KeyError::UnwrapFailed.into()))
    }
}

/// A 256-bit shared key that wraps file keys (`angou keygen -t symmetric`).
///
/// Its public id is `HKDF-SHA-256(ikm = key, salt = empty, info = "angou.dev/v1/symmetric id")`,
/// first 8 bytes: it names the key without revealing anything about it.
///
/// ```
/// use std::io::{Read, Write};
/// use angou::format::{Decryptor, Encryptor};
/// use angou::recipient::SymmetricKey;
///
/// let key = SymmetricKey::generate()?;
/// let text = key.encode();                    // ANGOU-SYMMETRIC-KEY-1…, keep it secret
/// let shared = SymmetricKey::parse(&text)?;   // the other side's copy
///
/// let mut file = Vec::new();
/// let mut w = Encryptor::with_recipients([&key])?.wrap_output(&mut file)?;
/// w.write_all(b"for whoever holds the key")?;
/// w.finish()?;
/// let mut out = Vec::new();
/// Decryptor::new(&file[..])?.decrypt([&shared])?.read_to_end(&mut out)?;
/// assert_eq!(out, b"for whoever holds the key");
/// # Ok::<(), angou::Error>(())
/// ```
#[derive(Clone)]
pub struct SymmetricKey(Key);

impl SymmetricKey {
    /// A fresh random key.
    ///
    /// # Errors
    /// [`Error::Rng`].
    pub fn generate() -> Result<Self, Error> {
        Ok(SymmetricKey(Key::generate()?))
    }

    /// Parses the `ANGOU-SYMMETRIC-KEY-1…` encoding.
    ///
    /// # Errors
    /// [`KeyError::InvalidEncoding`]; never includes key material.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let bytes = x25519::bech32_decode(s, SYMMETRIC_HRP, "symmetric key")?;
        Ok(SymmetricKey(Key::from_secret(SecretArray::from_slice(
            &bytes,
        )?)))
    }

    /// The `ANGOU-SYMMETRIC-KEY-1…` encoding, zeroized on drop.
    pub fn encode(&self) -> Zeroizing<String> {
        Zeroizing::new(
            Hrp::parse(SYMMETRIC_HRP)
                .ok()
                .and_then(|hrp| bech32::encode_upper::<Bech32>(hrp, self.0.expose_secret()).ok())
                .unwrap_or_default(),
        )
    }

    fn derive(&self, salt: Option<&[u8]>, label: &[u8]) -> SecretArray<32> {
        let mut okm = SecretArray::<32>::zeroed();
        // 32 bytes never exceeds HKDF-SHA-256's output limit.
        let _ = Hkdf::<Sha256>::new(salt, self.0.expose_secret())
            .expand(label, okm.expose_secret_mut());
        okm
    }

    /// The public id that names this key in stanzas.
    pub fn id(&self) -> [u8; SYMMETRIC_ID_LEN] {
        let okm = self.derive(None, SYMMETRIC_ID_LABEL);
        let mut id = [0u8; SYMMETRIC_ID_LEN];
        id.copy_from_slice(&okm.expose_secret()[..SYMMETRIC_ID_LEN]);
        id
    }

    fn wrap_key(&self, salt: &[u8; 16]) -> Key {
        Key::from_secret(self.derive(Some(salt), SYMMETRIC_WRAP_LABEL))
    }
}

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::secret::REDACTED)
    }
}

impl Recipient for SymmetricKey {
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error> {
        let salt: [u8; 16] = random_array()?;
        let body = seal_file_key(&self.wrap_key(&salt), file_key)?;
        Ok(vec![Stanza {
            kind: SYMMETRIC_STANZA.into(),
            args: vec![encode_b64(&self.id()), encode_b64(&salt)],
            body,
        }])
    }
}

impl Identity for SymmetricKey {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>> {
        if stanza.kind != SYMMETRIC_STANZA {
            return None;
        }
        if let Err(e) = check_stanza(stanza) {
            return Some(Err(e.into()));
        }
        if stanza.args[0] != encode_b64(&self.id()) {
            return None;
        }
        let salt: [u8; 16] = decode_b64(&stanza.args[1])?.try_into().ok()?;
        Some(
            open_file_key(&self.wrap_key(&salt), &stanza.body).ok_or(KeyError::UnwrapFailed.into()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The format layer's copy of the KMS stanza's type and size agrees with the KMS's own.
    #[test]
    fn kms_stanza_constants_agree_with_the_kms() {
        assert_eq!(KMS_STANZA, crate::kms::KMS_STANZA);
        assert_eq!(KMS_BODY_LEN, crate::kms::blob::MIN_LEN + FILE_KEY_LEN);
    }

    #[test]
    fn kms_stanza_shape() {
        let ok = Stanza {
            kind: KMS_STANZA.into(),
            args: vec!["arn:angou:kms:local:000000000000:key/x".into()],
            body: vec![1; KMS_BODY_LEN],
        };
        assert!(check_stanza(&ok).is_ok());
        let mut two_args = ok.clone();
        two_args.args.push("extra".into());
        let mut no_arg = ok.clone();
        no_arg.args.clear();
        let mut short = ok.clone();
        short.body.pop();
        let mut long = ok.clone();
        long.body.push(0);
        for bad in [two_args, no_arg, short, long] {
            assert!(
                matches!(
                    check_stanza(&bad),
                    Err(FormatError::MalformedStanza {
                        kind: KMS_STANZA,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }
}
