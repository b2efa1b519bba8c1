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

use core::fmt;

use curve25519_dalek::edwards::CompressedEdwardsY;
use hkdf::Hkdf;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

use crate::aead::hazmat::LessSafeKey;
use crate::aead::{Algorithm, Key, TAG_LEN as AEAD_TAG_LEN};
use crate::b64::encode_b64;
use crate::error::{Error, KeyError};
use crate::pk::{rsa as angou_rsa, x25519};
use crate::secret::{FileKey, SecretArray, SecretVec};

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

/// Key types OpenSSH knows that age has no stanza for, each with the refusal to give.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp256 keys cannot be encrypted to (age defines no ecdsa recipient); use an ssh-ed25519 or ssh-rsa key",
    ),
    (
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp384 keys cannot be encrypted to (age defines no ecdsa recipient); use an ssh-ed25519 or ssh-rsa key",
    ),
    (
        "ecdsa-sha2-nistp521",
        "ecdsa-sha2-nistp521 keys cannot be encrypted to (age defines no ecdsa recipient); use an ssh-ed25519 or ssh-rsa key",
    ),
    (
        "sk-ssh-ed25519@openssh.com",
        "sk-ssh-ed25519@openssh.com (security key) keys cannot be encrypted to: the secret stays in the hardware token; use an ssh-ed25519 or ssh-rsa key",
    ),
    (
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com (security key) keys cannot be encrypted to: the secret stays in the hardware token; use an ssh-ed25519 or ssh-rsa key",
    ),
    (
        "ssh-dss",
        "ssh-dss (DSA) keys cannot be encrypted to (age defines no DSA recipient, and OpenSSH has retired DSA); use an ssh-ed25519 or ssh-rsa key",
    ),
];

/// Whether `name` is an SSH key type name that OpenSSH writes at the start of a key: the two
/// angou uses, the ones it refuses by name, and certificates (`…-cert-v01@openssh.com`).
pub fn is_key_type(name: &str) -> bool {
    name == ED25519_TYPE
        || name == RSA_TYPE
        || UNSUPPORTED.iter().any(|(n, _)| *n == name)
        || (name.ends_with("-cert-v01@openssh.com") && name.is_ascii())
}

fn unsupported(name: &str) -> KeyError {
    let reason = UNSUPPORTED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r)
        .unwrap_or(if name.ends_with("-cert-v01@openssh.com") {
            "ssh certificates cannot be encrypted to; use the plain ssh-ed25519 or ssh-rsa public key"
        } else {
            "not an ssh-ed25519 or ssh-rsa key"
        });
    KeyError::InvalidEncoding {
        what: PUBLIC,
        reason,
    }
}

/// The key type named in the unencrypted public key section of an OpenSSH private key file
/// (PROTOCOL.key: magic, cipher, kdf, kdf options, key count, then the first public key,
/// whose first field is its type), if it is one OpenSSH writes. Used only to name a key
/// `ssh_key` cannot read (built without ecdsa support, it does not say which type it met);
/// the name is returned only if [`is_key_type`] knows it, so no key text is ever repeated.
fn openssh_key_type(text: &str) -> Option<&'static str> {
    use base64ct::{Base64, Encoding};
    fn string<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        let (field, rest) = rest.split_at_checked(len)?;
        *bytes = rest;
        Some(field)
    }
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    let blob = Base64::decode_vec(&body).ok()?;
    let mut rest = blob.strip_prefix(b"openssh-key-v1\0")?;
    for _ in 0..3 {
        string(&mut rest)?;
    }
    rest = rest.get(4..)?;
    let mut public = string(&mut rest)?;
    let name = std::str::from_utf8(string(&mut public)?).ok()?;
    UNSUPPORTED
        .iter()
        .map(|(n, _)| *n)
        .chain([ED25519_TYPE, RSA_TYPE])
        .find(|n| *n == name)
}

/// A file key wrapped to an `ssh-ed25519` key: the contents of its stanza but the tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519Wrapped {
    /// The sender's ephemeral X25519 share (the stanza's second argument).
    pub share: [u8; 32],
    /// The encrypted file key and its tag (the stanza's body).
    pub body: [u8; ED25519_BODY_LEN],
}

/// An SSH public key that files can be encrypted to.
#[derive(Clone)]
pub struct PublicKey {
    wire: Vec<u8>,
    inner: PublicInner,
}

#[derive(Clone)]
enum PublicInner {
    /// The X25519 u-coordinate of the Ed25519 point.
    Ed25519([u8; 32]),
    Rsa(angou_rsa::PublicKey),
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.wire == other.wire
    }
}

impl Eq for PublicKey {}

/// Splits the options field off an `authorized_keys` line the way sshd does: it runs to the
/// first space or tab outside double quotes, and `\"` inside quotes is not a closing quote.
fn skip_options(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() && (quoted || (bytes[i] != b' ' && bytes[i] != b'\t')) {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'"') {
            i += 1;
        } else if bytes[i] == b'"' {
            quoted = !quoted;
        }
        i += 1;
    }
    (!quoted).then(|| line[i..].trim_start_matches([' ', '\t']))
}

fn first_field(text: &str) -> &str {
    text.split([' ', '\t']).next().unwrap_or("")
}

impl PublicKey {
    /// Parses one public key line as OpenSSH writes and reads it: `TYPE BASE64 [COMMENT]`
    /// (a `.pub` file, one line of `https://github.com/NAME.keys`), optionally preceded by an
    /// `authorized_keys` options field (`no-pty,command="…" ssh-ed25519 …`).
    ///
    /// # Errors
    /// [`KeyError::InvalidEncoding`] naming an unsupported key type (ecdsa, security keys,
    /// DSA, certificates) or a malformed line; [`KeyError::KeyTooSmall`] for an `ssh-rsa`
    /// key under 2048 bits; [`KeyError::UnsupportedKeySize`] over 8192.
    pub fn parse_line(line: &str) -> Result<Self, KeyError> {
        let line = line.trim_matches([' ', '\t', '\r', '\n']);
        let key = if is_key_type(first_field(line)) {
            line
        } else {
            let rest = skip_options(line).ok_or(KeyError::InvalidEncoding {
                what: PUBLIC,
                reason: "unterminated quote in the options field",
            })?;
            if !is_key_type(first_field(rest)) {
                return Err(KeyError::InvalidEncoding {
                    what: PUBLIC,
                    reason: "expected an ssh-ed25519 or ssh-rsa key type, optionally after an authorized_keys options field",
                });
            }
            rest
        };
        let mut fields = key.split([' ', '\t']).filter(|f| !f.is_empty());
        let kind = fields.next().unwrap_or("");
        if kind != ED25519_TYPE && kind != RSA_TYPE {
            return Err(unsupported(kind));
        }
        let b64 = fields.next().ok_or(KeyError::InvalidEncoding {
            what: PUBLIC,
            reason: "the base64 key field is missing",
        })?;
        let parsed = ssh_key::PublicKey::from_openssh(&format!("{kind} {b64}")).map_err(|_| {
            KeyError::InvalidEncoding {
                what: PUBLIC,
                reason: "the base64 key field is not a valid key of its type",
            }
        })?;
        Self::from_ssh_key(&parsed)
    }

    fn from_ssh_key(key: &ssh_key::PublicKey) -> Result<Self, KeyError> {
        let invalid = |reason| KeyError::InvalidEncoding {
            what: PUBLIC,
            reason,
        };
        let wire = key
            .to_bytes()
            .map_err(|_| invalid("cannot be encoded in the ssh wire format"))?;
        let inner = match key.key_data() {
            ssh_key::public::KeyData::Ed25519(pk) => {
                let point = CompressedEdwardsY(pk.0)
                    .decompress()
                    .ok_or(invalid("the ed25519 key is not a point on the curve"))?;
                PublicInner::Ed25519(point.to_montgomery().to_bytes())
            }
            ssh_key::public::KeyData::Rsa(pk) => PublicInner::Rsa(rsa_public(
                pk.n().as_positive_bytes(),
                pk.e().as_positive_bytes(),
            )?),
            other => {
                return Err(unsupported(other.algorithm().as_str()));
            }
        };
        Ok(PublicKey { wire, inner })
    }

    /// `ssh-ed25519` or `ssh-rsa`: the key type, which is also its stanza type.
    pub fn kind(&self) -> &'static str {
        match self.inner {
            PublicInner::Ed25519(_) => ED25519_TYPE,
            PublicInner::Rsa(_) => RSA_TYPE,
        }
    }

    /// The SSH wire encoding (RFC 4253 §6.6) that the tag and the ed25519 tweak hash.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The tag that names this key in its stanzas: SHA-256(wire)[..4].
    pub fn tag(&self) -> [u8; TAG_LEN] {
        let digest = Sha256::digest(&self.wire);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&digest[..TAG_LEN]);
        tag
    }

    /// The tag as it appears in a stanza: unpadded base64, 6 characters.
    pub fn tag_b64(&self) -> String {
        encode_b64(&self.tag())
    }

    /// The `TYPE BASE64` line that `ssh-keygen -y` prints (without a comment).
    pub fn to_openssh(&self) -> String {
        use base64ct::{Base64, Encoding};
        format!("{} {}", self.kind(), Base64::encode_string(&self.wire))
    }

    /// Wraps `file_key` for an `ssh-ed25519` stanza; `None` for an `ssh-rsa` key.
    ///
    /// # Errors
    /// [`KeyError::LowOrderPoint`] if the key maps to a low-order X25519 point; [`Error::Rng`].
    pub fn wrap_ed25519(&self, file_key: &FileKey) -> Option<Result<Ed25519Wrapped, Error>> {
        let PublicInner::Ed25519(theirs) = &self.inner else {
            return None;
        };
        Some((|| {
            let ephemeral = x25519::SecretKey::generate()?;
            let share = ephemeral.public_key().to_bytes();
            let shared = ephemeral.diffie_hellman(&x25519::PublicKey::from_bytes(*theirs))?;
            let key = ed25519_wrap_key(&self.wire, &shared, &share, theirs)?;
            let mut body = [0u8; ED25519_BODY_LEN];
            body[..16].copy_from_slice(file_key.expose_secret());
            let tag = LessSafeKey::new(Algorithm::ChaCha20Poly1305, &key).seal_in_place_detached(
                &WRAP_NONCE,
                b"",
                &mut body[..16],
            )?;
            body[16..].copy_from_slice(&tag);
            Ok(Ed25519Wrapped { share, body })
        })())
    }

    /// Wraps `file_key` for an `ssh-rsa` stanza (RSA-OAEP-SHA-256, label [`RSA_LABEL`]);
    /// `None` for an `ssh-ed25519` key.
    ///
    /// # Errors
    /// [`Error::Rng`] or a failure of the RSA implementation.
    pub fn wrap_rsa(&self, file_key: &FileKey) -> Option<Result<Vec<u8>, Error>> {
        let PublicInner::Rsa(key) = &self.inner else {
            return None;
        };
        Some(key.encrypt(RSA_LABEL, file_key.expose_secret()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ssh::PublicKey({} {})", self.kind(), self.tag_b64())
    }
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

fn rsa_public(n: Option<&[u8]>, e: Option<&[u8]>) -> Result<angou_rsa::PublicKey, KeyError> {
    let invalid = |reason| KeyError::InvalidEncoding {
        what: PUBLIC,
        reason,
    };
    let (Some(n), Some(e)) = (n, e) else {
        return Err(invalid("the rsa modulus or exponent is not positive"));
    };
    let bits = bit_len(n);
    if bits < angou_rsa::MIN_BITS {
        return Err(KeyError::KeyTooSmall { bits });
    }
    if bits > angou_rsa::MAX_BITS {
        return Err(KeyError::UnsupportedKeySize { bits });
    }
    let key = rsa::PublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(n),
        rsa::BoxedUint::from_be_slice_vartime(e),
    )
    .map_err(|_| invalid("the rsa modulus or exponent is invalid"))?;
    let der = key
        .to_public_key_der()
        .map_err(|_| invalid("the rsa key cannot be encoded"))?;
    angou_rsa::PublicKey::from_der(der.as_bytes())
}

fn bit_len(be: &[u8]) -> usize {
    let be = &be[be.iter().take_while(|b| **b == 0).count()..];
    be.first()
        .map_or(0, |f| (be.len() - 1) * 8 + (8 - f.leading_zeros() as usize))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_skipped_as_sshd_does() {
        assert_eq!(
            skip_options(r#"no-pty,command="echo \"a b\" c" ssh-ed25519 AAAA x"#),
            Some("ssh-ed25519 AAAA x")
        );
        assert_eq!(skip_options("from=\"a b ssh-ed25519 AAAA"), None);
        assert_eq!(skip_options("restrict\tssh-rsa AAAA"), Some("ssh-rsa AAAA"));
    }

    #[test]
    fn bit_len_ignores_leading_zeros() {
        assert_eq!(bit_len(&[0, 0x80, 0]), 16);
        assert_eq!(bit_len(&[1]), 1);
        assert_eq!(bit_len(&[]), 0);
    }
}
