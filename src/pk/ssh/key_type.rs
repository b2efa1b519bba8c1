//! The key type names OpenSSH writes: the two age has stanzas for, and the refusals, by name,
//! of the others (ecdsa, security keys, DSA, certificates).

use super::{ED25519_TYPE, PUBLIC, RSA_TYPE};
use crate::error::KeyError;

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

pub(super) fn unsupported(name: &str) -> KeyError {
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
pub(super) fn openssh_key_type(text: &str) -> Option<&'static str> {
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
