//! X25519 key pairs, encoded and used exactly as age v1 does.
//!
//! * Recipients encode as Bech32 with HRP `age` (`age1…`), identities as upper-case
//!   Bech32 with HRP `AGE-SECRET-KEY-` (`AGE-SECRET-KEY-1…`), so age keys work here
//!   and angou keys work in age (C2SP age spec, "The X25519 recipient type").
//! * [`PublicKey::wrap`] / [`SecretKey::unwrap`] implement the X25519 stanza body:
//!   an ephemeral share, HKDF-SHA-256 over the shared secret with salt
//!   `ephemeral share || recipient` and info `age-encryption.org/v1/X25519`, and
//!   ChaCha20-Poly1305 with an all-zero nonce over the 16-byte file key.
//! * All-zero shared secrets (low-order points) are rejected on both sides.
//!
//! ```
//! use angou::pk::x25519::SecretKey;
//! use angou::secret::FileKey;
//! let identity = SecretKey::generate()?;
//! let recipient = identity.public_key();
//! assert!(recipient.to_string().starts_with("age1"));
//! let file_key = FileKey::generate()?;
//! let wrapped = recipient.wrap(&file_key)?;
//! let unwrapped = identity.unwrap(&wrapped)?;
//! assert_eq!(unwrapped.expose_secret(), file_key.expose_secret());
//! # Ok::<(), angou::Error>(())
//! ```

use core::fmt;
use core::str::FromStr;

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32, Hrp};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::aead::hazmat::LessSafeKey;
use crate::aead::{Algorithm, Key, TAG_LEN};
use crate::error::{Error, KeyError};
use crate::secret::{FileKey, SecretArray};

/// Length of a public key, secret key and shared secret, in bytes.
pub const KEY_LEN: usize = 32;
/// HKDF info string of the age X25519 recipient.
pub(crate) const WRAP_LABEL: &[u8] = b"age-encryption.org/v1/X25519";
/// Bech32 human-readable part of a recipient.
pub(crate) const RECIPIENT_HRP: &str = "age";
/// Bech32 human-readable part of an identity (encoded upper case).
pub(crate) const IDENTITY_HRP: &str = "age-secret-key-";
/// Length of a wrapped file key (16-byte key + 16-byte tag), in bytes.
pub const WRAPPED_LEN: usize = 16 + TAG_LEN;

/// An X25519 public key: an age recipient, `age1…`.
///
/// ```
/// use angou::pk::x25519::{PublicKey, SecretKey};
///
/// let recipient: PublicKey = SecretKey::generate()?.public_key();
/// let text = recipient.to_string();
/// assert!(text.starts_with("age1"));
/// assert_eq!(text.parse::<PublicKey>()?, recipient);
/// # Ok::<(), angou::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; KEY_LEN]);

/// An X25519 secret key: an age identity. Zeroized on drop; prints as `[redacted]`.
///
/// [`SecretKey::parse`] reads one `AGE-SECRET-KEY-1…` string; for a whole identity file
/// (comments, blank lines, several keys) use [`crate::keyfile::parse_identities`].
///
/// ```
/// use angou::pk::x25519::SecretKey;
///
/// let identity = SecretKey::generate()?;
/// let text = identity.encode();                  // AGE-SECRET-KEY-1…, zeroized on drop
/// let again = SecretKey::parse(&text)?;
/// assert_eq!(again.public_key(), identity.public_key());
/// assert_eq!(format!("{again:?}"), "[redacted]");
/// # Ok::<(), angou::Error>(())
/// ```
#[derive(Clone)]
pub struct SecretKey {
    secret: SecretArray<KEY_LEN>,
    /// The matching public key, computed once: every unwrap needs it for the HKDF salt.
    public: [u8; KEY_LEN],
}

/// A file key wrapped to one X25519 recipient: the contents of an age X25519 stanza.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    /// The sender's ephemeral public share (the stanza's argument).
    pub ephemeral_share: [u8; KEY_LEN],
    /// The encrypted file key and its tag (the stanza's body).
    pub body: [u8; WRAPPED_LEN],
}

pub(crate) fn bech32_decode(
    s: &str,
    hrp: &str,
    what: &'static str,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let invalid = |reason| KeyError::InvalidEncoding { what, reason };
    let parsed = CheckedHrpstring::new::<Bech32>(s).map_err(|_| invalid("not valid bech32"))?;
    if !parsed.hrp().to_lowercase().eq(hrp) {
        return Err(invalid("wrong prefix"));
    }
    let bytes: Zeroizing<Vec<u8>> = Zeroizing::new(parsed.byte_iter().collect());
    // Reject non-canonical padding and mixed case: the canonical re-encoding must match.
    let hrp_value = Hrp::parse(hrp).map_err(|_| invalid("wrong prefix"))?;
    let again = Zeroizing::new(
        bech32::encode_lower::<Bech32>(hrp_value, &bytes)
            .map_err(|_| invalid("not valid bech32"))?,
    );
    let lower = Zeroizing::new(s.to_lowercase());
    if *again != *lower || (s != lower.as_str() && s != s.to_uppercase()) {
        return Err(invalid("not canonical bech32"));
    }
    if bytes.len() != KEY_LEN {
        return Err(invalid("wrong length"));
    }
    Ok(bytes)
}

fn derive_wrap_key(
    shared: &[u8; KEY_LEN],
    share: &[u8; KEY_LEN],
    recipient: &[u8; KEY_LEN],
) -> Key {
    let mut salt = [0u8; 2 * KEY_LEN];
    salt[..KEY_LEN].copy_from_slice(share);
    salt[KEY_LEN..].copy_from_slice(recipient);
    let mut okm = SecretArray::<32>::zeroed();
    // 32 bytes is far below HKDF-SHA-256's 255*32 limit, so expand cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(&salt), shared).expand(WRAP_LABEL, okm.expose_secret_mut());
    Key::from_secret(okm)
}

/// ChaCha20-Poly1305 with a zero nonce is safe here: each wrap key is used for one message.
const WRAP_NONCE: [u8; 12] = [0u8; 12];

fn contributory(shared: &x25519_dalek::SharedSecret) -> Result<(), KeyError> {
    if shared.was_contributory() {
        Ok(())
    } else {
        Err(KeyError::LowOrderPoint)
    }
}

impl PublicKey {
    /// Parses an `age1…` recipient string.
    ///
    /// # Errors
    /// [`KeyError::InvalidEncoding`] for bad Bech32, a wrong prefix, non-canonical text or a wrong length.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let bytes = bech32_decode(s, RECIPIENT_HRP, "age recipient")?;
        let mut out = [0u8; KEY_LEN];
        out.copy_from_slice(&bytes);
        Ok(PublicKey(out))
    }

    /// The `age1…` encoding.
    pub fn encode(&self) -> String {
        // The HRP is a valid constant and 32 bytes fit any Bech32 length limit.
        Hrp::parse(RECIPIENT_HRP)
            .ok()
            .and_then(|hrp| bech32::encode_lower::<Bech32>(hrp, &self.0).ok())
            .unwrap_or_default()
    }

    /// A public key from its 32 raw bytes (RFC 7748 u-coordinate).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        PublicKey(bytes)
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; KEY_LEN] {
        self.0
    }

    /// Wraps `file_key` to this recipient with a fresh ephemeral key (age v1 X25519 stanza).
    ///
    /// # Errors
    /// [`KeyError::LowOrderPoint`] if this public key is a low-order point; [`Error::Rng`].
    pub fn wrap(&self, file_key: &FileKey) -> Result<WrappedKey, Error> {
        let ephemeral = SecretKey::generate()?;
        let share = ephemeral.public_key().0;
        let shared = ephemeral
            .dalek()
            .diffie_hellman(&x25519_dalek::PublicKey::from(self.0));
        contributory(&shared)?;
        let wrap_key = derive_wrap_key(shared.as_bytes(), &share, &self.0);
        let mut body = [0u8; WRAPPED_LEN];
        body[..16].copy_from_slice(file_key.expose_secret());
        let tag = LessSafeKey::new(Algorithm::ChaCha20Poly1305, &wrap_key).seal_in_place_detached(
            &WRAP_NONCE,
            b"",
            &mut body[..16],
        )?;
        body[16..].copy_from_slice(&tag);
        Ok(WrappedKey {
            ephemeral_share: share,
            body,
        })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.encode())
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl SecretKey {
    /// A fresh key from the operating system's generator.
    ///
    /// # Errors
    /// [`Error::Rng`] if the generator fails.
    pub fn generate() -> Result<Self, Error> {
        Ok(Self::from_secret(SecretArray::generate()?))
    }

    /// Wraps 32 raw secret bytes (clamping happens inside X25519, RFC 7748 §5).
    pub fn from_secret(secret: SecretArray<KEY_LEN>) -> Self {
        let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(
            *secret.expose_secret(),
        ))
        .to_bytes();
        SecretKey { secret, public }
    }

    /// Parses an `AGE-SECRET-KEY-1…` identity string.
    ///
    /// # Errors
    /// [`KeyError::InvalidEncoding`]; the message never contains key material.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let bytes = bech32_decode(s, IDENTITY_HRP, "age identity")?;
        Ok(Self::from_secret(SecretArray::from_slice(&bytes)?))
    }

    /// The `AGE-SECRET-KEY-1…` encoding, in a string zeroized on drop.
    pub fn encode(&self) -> Zeroizing<String> {
        let text = Hrp::parse(IDENTITY_HRP)
            .ok()
            .and_then(|hrp| bech32::encode_upper::<Bech32>(hrp, self.secret.expose_secret()).ok())
            .unwrap_or_default();
        Zeroizing::new(text)
    }

    /// The raw secret bytes.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        self.secret.expose_secret()
    }

    fn dalek(&self) -> x25519_dalek::StaticSecret {
        x25519_dalek::StaticSecret::from(*self.secret.expose_secret())
    }

    /// The matching public key (recipient).
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.public)
    }

    /// X25519 with `peer` (RFC 7748 §6.1), refusing the all-zero output.
    ///
    /// # Errors
    /// [`KeyError::LowOrderPoint`] if the shared secret is all zeros.
    pub fn diffie_hellman(&self, peer: &PublicKey) -> Result<SecretArray<KEY_LEN>, KeyError> {
        let shared = self
            .dalek()
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer.0));
        contributory(&shared)?;
        Ok(SecretArray::from_array(shared.to_bytes()))
    }

    /// Unwraps a file key wrapped to this identity's public key.
    ///
    /// # Errors
    /// [`KeyError::LowOrderPoint`] for an all-zero shared secret, [`KeyError::UnwrapFailed`]
    /// when the body does not authenticate (not for us, or modified).
    pub fn unwrap(&self, wrapped: &WrappedKey) -> Result<FileKey, KeyError> {
        let share = PublicKey(wrapped.ephemeral_share);
        let shared = self.diffie_hellman(&share)?;
        let wrap_key = derive_wrap_key(shared.expose_secret(), &share.0, &self.public_key().0);
        // Decrypt straight into the secret's own box: no stack copy of the file key remains.
        let mut key = FileKey::zeroed();
        key.expose_secret_mut().copy_from_slice(&wrapped.body[..16]);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&wrapped.body[16..]);
        LessSafeKey::new(Algorithm::ChaCha20Poly1305, &wrap_key)
            .open_in_place_detached(&WRAP_NONCE, b"", key.expose_secret_mut(), &tag)
            .map(|()| key)
            .map_err(|_| KeyError::UnwrapFailed)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::secret::REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_parse_round_trip() {
        let sk = SecretKey::generate().unwrap();
        let text = sk.encode();
        assert!(text.starts_with("AGE-SECRET-KEY-1"));
        let again = SecretKey::parse(&text).unwrap();
        assert_eq!(again.expose_secret(), sk.expose_secret());
        let pk = sk.public_key();
        assert_eq!(PublicKey::parse(&pk.encode()).unwrap(), pk);
    }

    #[test]
    fn rejects_mixed_case_and_wrong_hrp() {
        let pk = SecretKey::generate().unwrap().public_key().encode();
        let mut mixed = pk.clone();
        mixed.replace_range(4..5, &mixed[4..5].to_uppercase());
        if mixed != pk {
            assert!(PublicKey::parse(&mixed).is_err());
        }
        let sk = SecretKey::generate().unwrap();
        assert!(PublicKey::parse(&sk.encode()).is_err());
        assert!(SecretKey::parse(&pk).is_err());
    }

    #[test]
    fn low_order_recipient_is_refused() {
        let zero = PublicKey::from_bytes([0u8; 32]);
        let fk = FileKey::generate().unwrap();
        assert!(matches!(
            zero.wrap(&fk),
            Err(Error::Key(KeyError::LowOrderPoint))
        ));
    }

    #[test]
    fn wrong_identity_cannot_unwrap() {
        let a = SecretKey::generate().unwrap();
        let b = SecretKey::generate().unwrap();
        let fk = FileKey::generate().unwrap();
        let w = a.public_key().wrap(&fk).unwrap();
        assert_eq!(b.unwrap(&w).unwrap_err(), KeyError::UnwrapFailed);
        let mut bad = w.clone();
        bad.body[0] ^= 1;
        assert_eq!(a.unwrap(&bad).unwrap_err(), KeyError::UnwrapFailed);
    }
}
