//! The `mlkem768x25519` stanza (C2SP age spec, "mlkem768x25519 recipient stanza") and the
//! rule that keeps a post-quantum file post-quantum.

use super::{KMS_STANZA, Recipient, SYMMETRIC_STANZA, Stanza, arg_bytes, stanza_err};
use crate::b64::{decode_b64, encode_b64};
use crate::error::{Error, FormatError, KeyError};
use crate::pk::mlkem768x25519::{ENC_LEN, PublicKey, SecretKey, WRAPPED_LEN, WrappedKey};
use crate::recipient::Identity;
use crate::secret::FileKey;

/// Stanza type of age's hybrid post-quantum (ML-KEM-768 + X25519) recipient.
pub const MLKEM768X25519_STANZA: &str = "mlkem768x25519";

/// Stanza types that may share a file with a post-quantum stanza: ones a quantum computer
/// cannot open either. A 256-bit symmetric key and a KMS key are quantum-resistant; X25519,
/// RSA, SSH and any type angou does not know are not (or cannot be shown to be).
const QUANTUM_RESISTANT: [&str; 3] = [MLKEM768X25519_STANZA, SYMMETRIC_STANZA, KMS_STANZA];

/// The shape of an `mlkem768x25519` stanza: one argument, the canonical base64 of a
/// 1,120-byte encapsulated key, and a 32-byte body (checked before any decryption, against
/// partitioning oracles).
pub(super) fn check(stanza: &Stanza) -> Result<(), FormatError> {
    let kind = MLKEM768X25519_STANZA;
    if stanza.args.len() != 1 {
        return Err(stanza_err(
            kind,
            "expected exactly one argument (the encapsulated key)",
        ));
    }
    arg_bytes::<ENC_LEN>(
        &stanza.args[0],
        kind,
        "encapsulated key is not 1120 bytes of canonical base64",
    )?;
    if stanza.body.len() != WRAPPED_LEN {
        return Err(stanza_err(kind, "body is not 32 bytes"));
    }
    Ok(())
}

/// age 1.3's mixing rule, applied when encrypting: a file with a post-quantum stanza may not
/// also carry a stanza that a quantum computer could open, or the post-quantum recipient
/// would buy nothing. Files that break it are still decrypted (the spec rules only writers).
///
/// # Errors
/// [`FormatError::MixedPostQuantum`] naming the first classic stanza type.
pub fn check_post_quantum_mix(stanzas: &[Stanza]) -> Result<(), FormatError> {
    if !stanzas.iter().any(|s| s.kind == MLKEM768X25519_STANZA) {
        return Ok(());
    }
    match stanzas
        .iter()
        .find(|s| !QUANTUM_RESISTANT.contains(&s.kind.as_str()))
    {
        Some(classic) => Err(FormatError::MixedPostQuantum {
            classic: classic.kind.chars().take(64).collect(),
        }),
        None => Ok(()),
    }
}

impl Recipient for PublicKey {
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error> {
        let w = PublicKey::wrap(self, file_key)?;
        Ok(vec![Stanza {
            kind: MLKEM768X25519_STANZA.into(),
            args: vec![encode_b64(&w.enc[..])],
            body: w.body.to_vec(),
        }])
    }
}

impl Identity for SecretKey {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>> {
        if stanza.kind != MLKEM768X25519_STANZA {
            return None;
        }
        if let Err(e) = check(stanza) {
            return Some(Err(e.into()));
        }
        let enc: [u8; ENC_LEN] = decode_b64(&stanza.args[0])?.try_into().ok()?;
        let body = stanza.body.clone().try_into().ok()?;
        let wrapped = WrappedKey {
            enc: Box::new(enc),
            body,
        };
        // The stanza names no recipient: a body that does not open is "not ours"; a low-order
        // X25519 share is an error whoever it was meant for.
        match self.unwrap(&wrapped) {
            Ok(key) => Some(Ok(key)),
            Err(KeyError::UnwrapFailed) => None,
            Err(e) => Some(Err(e.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipient::X25519_STANZA;

    fn stanza(kind: &str) -> Stanza {
        Stanza {
            kind: kind.into(),
            args: vec![],
            body: vec![],
        }
    }

    #[test]
    fn mixing_rule() {
        let pq = stanza(MLKEM768X25519_STANZA);
        let x = stanza(X25519_STANZA);
        assert!(check_post_quantum_mix(&[x.clone(), x.clone()]).is_ok());
        assert!(check_post_quantum_mix(&[pq.clone(), pq.clone()]).is_ok());
        assert!(check_post_quantum_mix(&[pq.clone(), stanza(SYMMETRIC_STANZA)]).is_ok());
        for other in [
            X25519_STANZA,
            super::super::RSA_STANZA,
            "ssh-ed25519",
            "unknown",
        ] {
            assert_eq!(
                check_post_quantum_mix(&[stanza(other), pq.clone()]),
                Err(FormatError::MixedPostQuantum {
                    classic: other.into()
                })
            );
        }
    }
}
