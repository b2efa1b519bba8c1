//! The `ssh-ed25519` and `ssh-rsa` stanzas (age v1, docs/FORMAT.md §5.7).
//!
//! ```text
//! -> ssh-ed25519 TAG SHARE      body: 32 bytes (ChaCha20-Poly1305 of the file key)
//! -> ssh-rsa TAG                body: RSA-OAEP-SHA-256 ciphertext, as long as the modulus
//! ```
//! `TAG` is 4 bytes and `SHARE` 32 bytes, both canonical unpadded base64.

use crate::b64::decode_b64;
use crate::error::{Error, FormatError};
use crate::pk::rsa;
use crate::pk::ssh::{ED25519_BODY_LEN, ED25519_TYPE, PrivateKey, PublicKey, RSA_TYPE, TAG_LEN};
use crate::secret::FileKey;

use super::{Identity, Recipient, Stanza, arg_bytes, stanza_err};

/// Stanza type of age's SSH Ed25519 recipient.
pub const SSH_ED25519_STANZA: &str = ED25519_TYPE;
/// Stanza type of age's SSH RSA recipient.
pub const SSH_RSA_STANZA: &str = RSA_TYPE;

/// The shape of an `ssh-ed25519` or `ssh-rsa` stanza; `None` for other types.
pub(super) fn check(stanza: &Stanza) -> Option<Result<(), FormatError>> {
    Some(match stanza.kind.as_str() {
        SSH_ED25519_STANZA => check_ed25519(stanza),
        SSH_RSA_STANZA => check_rsa(stanza),
        _ => return None,
    })
}

fn check_ed25519(stanza: &Stanza) -> Result<(), FormatError> {
    let kind = SSH_ED25519_STANZA;
    if stanza.args.len() != 2 {
        return Err(stanza_err(
            kind,
            "expected two arguments (key tag, ephemeral share)",
        ));
    }
    arg_bytes::<TAG_LEN>(
        &stanza.args[0],
        kind,
        "key tag is not 4 bytes of canonical base64",
    )?;
    arg_bytes::<32>(
        &stanza.args[1],
        kind,
        "ephemeral share is not 32 bytes of canonical base64",
    )?;
    if stanza.body.len() != ED25519_BODY_LEN {
        return Err(stanza_err(kind, "body is not 32 bytes"));
    }
    Ok(())
}

fn check_rsa(stanza: &Stanza) -> Result<(), FormatError> {
    let kind = SSH_RSA_STANZA;
    if stanza.args.len() != 1 {
        return Err(stanza_err(kind, "expected exactly one argument (key tag)"));
    }
    arg_bytes::<TAG_LEN>(
        &stanza.args[0],
        kind,
        "key tag is not 4 bytes of canonical base64",
    )?;
    if !(rsa::MIN_BITS / 8..=rsa::MAX_BITS / 8).contains(&stanza.body.len()) {
        return Err(stanza_err(
            kind,
            "body is not an RSA ciphertext of 2048 to 8192 bits",
        ));
    }
    Ok(())
}

impl Recipient for PublicKey {
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error> {
        let tag = self.tag_b64();
        let stanza = if let Some(wrapped) = self.wrap_ed25519(file_key) {
            let crate::pk::ssh::Ed25519Wrapped { share, body } = wrapped?;
            Stanza {
                kind: SSH_ED25519_STANZA.into(),
                args: vec![tag, crate::b64::encode_b64(&share)],
                body: body.to_vec(),
            }
        } else if let Some(body) = self.wrap_rsa(file_key) {
            Stanza {
                kind: SSH_RSA_STANZA.into(),
                args: vec![tag],
                body: body?,
            }
        } else {
            return Err(FormatError::NoRecipients.into());
        };
        Ok(vec![stanza])
    }
}

impl Identity for PrivateKey {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>> {
        if stanza.kind != self.public_key().kind() {
            return None;
        }
        if let Err(e) = super::check_stanza(stanza) {
            return Some(Err(e.into()));
        }
        if stanza.args[0] != self.public_key().tag_b64() {
            return None;
        }
        // The tag names this key: from here on a failure is an error, not "not mine".
        let result = match stanza.kind.as_str() {
            SSH_ED25519_STANZA => {
                let share: [u8; 32] = decode_b64(&stanza.args[1])?.try_into().ok()?;
                let body: [u8; ED25519_BODY_LEN] = stanza.body.clone().try_into().ok()?;
                self.unwrap_ed25519(&share, &body)?
            }
            _ => self.unwrap_rsa(&stanza.body)?,
        };
        Some(result.map_err(Error::from))
    }
}
