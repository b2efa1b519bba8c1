//! SSH keys as age recipients and identities: `ssh-ed25519` and `ssh-rsa`, as age v1 uses them.
//!
//! Most people already hold an SSH key pair, and their public keys are published in
//! `authorized_keys` files and code-hosting sites. age defines two stanza types for them
//! (docs/FORMAT.md §5.7); this module holds the keys and their key-wrapping arithmetic, and
//! [`crate::recipient`] turns them into stanzas.
//!
//! * The **tag** that names a key in its stanza is the first [`TAG_LEN`] bytes of
//!   SHA-256 over the key's SSH wire encoding (RFC 4253 §6.6: `string type` then the key's
//!   fields), the same bytes the base64 field of an `authorized_keys` line holds.
//! * **`ssh-ed25519`**: the Ed25519 public point is mapped to its X25519 (Montgomery)
//!   u-coordinate, and the private key's X25519 scalar is the first 32 bytes of
//!   SHA-512(seed), the scalar Ed25519 itself derives (RFC 8032 §5.1.5). Wrapping is age's
//!   X25519 recipient with one extra step: the shared secret is multiplied by a tweak,
//!   `HKDF-SHA-256(ikm = empty, salt = wire key, info = ED25519_LABEL)`, so the wrap key
//!   depends on the whole SSH key. Salt and info of the wrap key are as for X25519 with
//!   [`ED25519_LABEL`] as info.
//! * **`ssh-rsa`**: RSA-OAEP-SHA-256 of the file key with [`RSA_LABEL`] as OAEP label;
//!   keys under 2048 bits are refused.
//! * Key files are read with RustCrypto's `ssh-key` crate: the OpenSSH private key format
//!   (`-----BEGIN OPENSSH PRIVATE KEY-----`), plain or protected by a passphrase
//!   (bcrypt-pbkdf with aes256-ctr, aes256-gcm or chacha20-poly1305, as ssh-keygen writes
//!   it). The older PEM RSA private key (`-----BEGIN RSA PRIVATE KEY-----`) is read by
//!   [`crate::pk::rsa`]; [`PrivateKey::from_rsa`] gives it its SSH identity.
//!
//! ```
//! use angou::pk::ssh::PublicKey;
//! let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5NE1yQnnAC59rlN1TLw1Z6MxDeWm1vn/xKInR3kHWj test-ed25519@angou";
//! let key = PublicKey::parse_line(line)?;
//! assert_eq!(key.kind(), "ssh-ed25519");
//! assert_eq!(key.tag_b64().len(), 6);
//! # Ok::<(), angou::KeyError>(())
//! ```

mod key_type;
mod private;
mod public;

use hkdf::Hkdf;
use sha2::Sha256;

use crate::aead::{Key, TAG_LEN as AEAD_TAG_LEN};
use crate::error::KeyError;
use crate::pk::x25519;
use crate::secret::SecretArray;

/// Key type name, stanza type and wire-format type string of an SSH Ed25519 key.
pub const ED25519_TYPE: &str = "ssh-ed25519";
/// Key type name, stanza type and wire-format type string of an SSH RSA key.
pub const RSA_TYPE: &str = "ssh-rsa";
/// HKDF info of the tweak and of the wrap key of an `ssh-ed25519` stanza.
pub const ED25519_LABEL: &[u8] = b"age-encryption.org/v1/ssh-ed25519";
/// OAEP label of an `ssh-rsa` stanza.
pub const RSA_LABEL: &[u8] = b"age-encryption.org/v1/ssh-rsa";
/// Bytes of SHA-256(wire key) that name an SSH key in its stanza.
pub const TAG_LEN: usize = 4;
/// Length of an `ssh-ed25519` stanza body: the 16-byte file key and a 16-byte tag.
pub const ED25519_BODY_LEN: usize = 16 + AEAD_TAG_LEN;

const PUBLIC: &str = "ssh public key";
const PRIVATE: &str = "ssh private key";

/// ChaCha20-Poly1305 with a zero nonce is safe here: each wrap key seals one message.
const WRAP_NONCE: [u8; 12] = [0u8; 12];

pub use key_type::is_key_type;
pub use private::{EncryptedPrivateKey, PrivateKey, PrivateKeyFile};
pub use public::PublicKey;

/// A file key wrapped to an `ssh-ed25519` key: the contents of its stanza but the tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519Wrapped {
    /// The sender's ephemeral X25519 share (the stanza's second argument).
    pub share: [u8; 32],
    /// The encrypted file key and its tag (the stanza's body).
    pub body: [u8; ED25519_BODY_LEN],
}
/// The ed25519 wrap key: the X25519 shared secret, tweaked by a scalar derived from the SSH key,
/// then HKDF'd with salt `share || recipient` (age's agessh package, docs/FORMAT.md §5.7).
fn ed25519_wrap_key(
    wire: &[u8],
    shared: &SecretArray<32>,
    share: &[u8; 32],
    recipient: &[u8; 32],
) -> Result<Key, KeyError> {
    let mut tweak = SecretArray::<32>::zeroed();
    // 32 bytes is far below HKDF-SHA-256's limit: expand cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(wire), &[]).expand(ED25519_LABEL, tweak.expose_secret_mut());
    let tweaked = x25519::SecretKey::from_secret(tweak)
        .diffie_hellman(&x25519::PublicKey::from_bytes(*shared.expose_secret()))?;
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(share);
    salt[32..].copy_from_slice(recipient);
    let mut okm = SecretArray::<32>::zeroed();
    let _ = Hkdf::<Sha256>::new(Some(&salt), tweaked.expose_secret())
        .expand(ED25519_LABEL, okm.expose_secret_mut());
    Ok(Key::from_secret(okm))
}
