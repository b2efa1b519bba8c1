//! The public key: an `authorized_keys` or `.pub` line read as sshd reads it, its tag, and
//! wrapping a file key to it.

use core::fmt;

use curve25519_dalek::edwards::CompressedEdwardsY;
use rsa::pkcs8::EncodePublicKey;
use sha2::{Digest, Sha256};

use super::key_type::{is_key_type, unsupported};
use super::{
    ED25519_BODY_LEN, ED25519_TYPE, Ed25519Wrapped, PUBLIC, RSA_LABEL, RSA_TYPE, TAG_LEN,
    WRAP_NONCE, ed25519_wrap_key,
};
use crate::aead::Algorithm;
use crate::aead::hazmat::LessSafeKey;
use crate::b64::encode_b64;
use crate::error::{Error, KeyError};
use crate::pk::{rsa as angou_rsa, x25519};
use crate::secret::FileKey;

/// An SSH public key that files can be encrypted to.
#[derive(Clone)]
pub struct PublicKey {
    pub(super) wire: Vec<u8>,
    pub(super) inner: PublicInner,
}

#[derive(Clone)]
pub(super) enum PublicInner {
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

    pub(super) fn from_ssh_key(key: &ssh_key::PublicKey) -> Result<Self, KeyError> {
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
