//! Rewrapping: a new set of recipients for an existing file, without re-encrypting its payload.
//!
//! The file key is unwrapped once with the caller's identities and verified by the header MAC
//! before anything is written; the new header keeps the selected old stanzas, adds stanzas
//! wrapped for new recipients, and gets a new MAC (docs/FORMAT.md §4.5). The payload nonce and
//! chunks are copied byte for byte, and every chunk is authenticated on the way through, so a
//! rewrap never produces a file whose payload the new recipients cannot read. Armored input
//! gives armored output.
//!
//! ```
//! use std::io::{Read, Write};
//! use angou::format::{rewrap::Rewrap, Decryptor, Encryptor};
//! use angou::pk::x25519::SecretKey;
//!
//! let (alice, bob) = (SecretKey::generate()?, SecretKey::generate()?);
//! let mut file = Vec::new();
//! let mut w = Encryptor::with_recipients([&alice.public_key()])?.wrap_output(&mut file)?;
//! w.write_all(b"moving to bob")?;
//! w.finish()?;
//!
//! // Drop alice's stanza, add one for bob.
//! let rewrapped = Rewrap::new(&file[..])?.rewrap([&alice], |_, _| false, [&bob.public_key()], Vec::new())?;
//! let mut plaintext = Vec::new();
//! Decryptor::new(&rewrapped[..])?.decrypt([&bob])?.read_to_end(&mut plaintext)?;
//! assert_eq!(plaintext, b"moving to bob");
//! assert!(Decryptor::new(&rewrapped[..])?.decrypt([&alice]).is_err());
//! # Ok::<(), angou::Error>(())
//! ```
//!
//! # Security
//! Rewrapping changes who can unwrap the file key *from this copy's header*. It does not change
//! the file key or the payload: anyone who unwrapped the file key before (any old recipient who
//! read the file) can still read the payload of the rewrapped file, and the old and new files
//! share their payload bytes. Revoking a reader for good means re-encrypting (a new file key).

use std::io::{self, BufRead, Read, Write};

use super::armor::ArmoredWriter;
use super::header::{Header, PayloadCipher};
use super::stream::{PAYLOAD_NONCE_LEN, StreamReader, payload_key};
use super::{Decryptor, Input, find_file_key, read_exact_or};
use crate::error::{Error, FormatError};
use crate::recipient::{
    Identity, KMS_STANZA, MLKEM768X25519_STANZA, RSA_STANZA, Recipient, SCRYPT_STANZA,
    SYMMETRIC_STANZA, Stanza, X25519_STANZA, check_post_quantum_mix, ssh,
};
use crate::secret::FileKey;

/// Stanza type of a file key wrapped by a KMS the user's AWS configuration reaches (issue 12's
/// shared design; docs/FORMAT.md documents it).
pub const AWS_KMS_STANZA: &str = "angou.dev/v1/aws-kms";

/// The key a stanza was wrapped for, as far as the header says it without any secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyRef {
    /// A key in the local KMS store (`angou.dev/v1/kms`), by the ARN the stanza records.
    LocalKms {
        /// The key ARN.
        arn: String,
    },
    /// A key in an AWS (or AWS-compatible) KMS (`angou.dev/v1/aws-kms`), by ARN.
    AwsKms {
        /// The key ARN.
        arn: String,
    },
    /// An RSA key, by the first 8 bytes of SHA-256 of its SubjectPublicKeyInfo (base64).
    Rsa {
        /// The fingerprint, as in the stanza.
        fingerprint: String,
    },
    /// A shared symmetric key, by its public id (base64).
    Symmetric {
        /// The key id, as in the stanza.
        id: String,
    },
    /// An SSH key, by its 4-byte tag: a probable name, not a proof (tags can collide).
    Ssh {
        /// The stanza type (`ssh-ed25519`, `ssh-rsa`).
        kind: String,
        /// The tag, as in the stanza.
        tag: String,
    },
    /// A passphrase.
    Passphrase,
    /// X25519 and ML-KEM-768+X25519 stanzas name no key by design (age: recipients are
    /// unlinkable); only the holder of the identity can tell the stanza is theirs.
    Unlinkable {
        /// The stanza type.
        kind: String,
    },
    /// A stanza type angou does not know.
    Unknown {
        /// The stanza type.
        kind: String,
    },
}

impl KeyRef {
    /// What `stanza` says about its key. Call it on stanzas that passed
    /// [`crate::recipient::check_stanza`] (as every stanza of a [`Rewrap`] or [`Decryptor`] has).
    pub fn of(stanza: &Stanza) -> KeyRef {
        let arg = || stanza.args.first().cloned().unwrap_or_default();
        match stanza.kind.as_str() {
            KMS_STANZA => KeyRef::LocalKms { arn: arg() },
            AWS_KMS_STANZA => KeyRef::AwsKms { arn: arg() },
            RSA_STANZA => KeyRef::Rsa { fingerprint: arg() },
            SYMMETRIC_STANZA => KeyRef::Symmetric { id: arg() },
            ssh::SSH_ED25519_STANZA | ssh::SSH_RSA_STANZA => KeyRef::Ssh {
                kind: stanza.kind.clone(),
                tag: arg(),
            },
            SCRYPT_STANZA => KeyRef::Passphrase,
            X25519_STANZA | MLKEM768X25519_STANZA => KeyRef::Unlinkable {
                kind: stanza.kind.clone(),
            },
            other => KeyRef::Unknown {
                kind: other.to_owned(),
            },
        }
    }

    /// A stable name for the key, for inventories: `kms:ARN`, `aws-kms:ARN`, `rsa:FINGERPRINT`,
    /// `symmetric:ID`, `ssh-ed25519:TAG`; `None` for passphrases, unlinkable and unknown stanzas.
    pub fn id(&self) -> Option<String> {
        match self {
            KeyRef::LocalKms { arn } => Some(format!("kms:{arn}")),
            KeyRef::AwsKms { arn } => Some(format!("aws-kms:{arn}")),
            KeyRef::Rsa { fingerprint } => Some(format!("rsa:{fingerprint}")),
            KeyRef::Symmetric { id } => Some(format!("symmetric:{id}")),
            KeyRef::Ssh { kind, tag } => Some(format!("{kind}:{tag}")),
            KeyRef::Passphrase | KeyRef::Unlinkable { .. } | KeyRef::Unknown { .. } => None,
        }
    }

    /// Whether two stanzas naming this key would be the same recipient twice. SSH tags are
    /// 32 bits and may collide, so they do not count.
    fn names_one_key(&self) -> bool {
        matches!(
            self,
            KeyRef::LocalKms { .. }
                | KeyRef::AwsKms { .. }
                | KeyRef::Rsa { .. }
                | KeyRef::Symmetric { .. }
        )
    }
}

/// An encrypted file about to get a new header: [`Rewrap::new`] reads the header,
/// [`Rewrap::rewrap`] writes the new file.
pub struct Rewrap<R: BufRead> {
    input: Input<R>,
    header: Header,
}

impl<R: BufRead> Rewrap<R> {
    /// Reads the header of a binary or armored file and checks every stanza, as
    /// [`Decryptor::new`] does.
    ///
    /// # Errors
    /// As [`Decryptor::new`].
    pub fn new(input: R) -> Result<Self, Error> {
        let Decryptor { input, header } = Decryptor::new(input)?;
        Ok(Rewrap { input, header })
    }

    /// The current header (stanzas in file order).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Whether the file is armored (the output will be too).
    pub fn is_armored(&self) -> bool {
        self.input.is_armored()
    }

    /// Writes the rewrapped file to `output` and returns it.
    ///
    /// The file key is found with `identities` (as [`Decryptor::decrypt`] does) and verified by
    /// the header MAC before any byte is written. The new header holds the old stanzas for which
    /// `keep(index, stanza)` is true (index from 0, file order), then the stanzas `add` wraps,
    /// under a new MAC; the payload nonce and chunks follow unchanged. Each chunk is
    /// authenticated as it is copied: on an error the output holds a partial file, which the
    /// caller must discard (write to a temp file and rename only on success).
    ///
    /// # Errors
    /// The identities' errors, [`FormatError::NoMatch`], [`FormatError::HeaderMac`] (nothing
    /// written); [`FormatError::NoStanzaLeft`], [`FormatError::MixedScrypt`],
    /// [`FormatError::MixedPostQuantum`], [`FormatError::DuplicateRecipient`] for a result that
    /// must not exist (nothing written); a recipient's wrapping error (nothing written); the
    /// payload's authentication or truncation errors, and I/O errors (partial output).
    pub fn rewrap<I, A, W, F>(
        mut self,
        identities: I,
        mut keep: F,
        add: A,
        output: W,
    ) -> Result<W, Error>
    where
        I: IntoIterator,
        I::Item: Identity,
        A: IntoIterator,
        A::Item: Recipient,
        W: Write,
        F: FnMut(usize, &Stanza) -> bool,
    {
        let file_key = find_file_key(&self.header, identities)?;
        let mut stanzas: Vec<Stanza> = self
            .header
            .stanzas()
            .iter()
            .enumerate()
            .filter(|(i, s)| keep(*i, s))
            .map(|(_, s)| s.clone())
            .collect();
        for r in add {
            stanzas.extend(r.wrap(&file_key)?);
        }
        check_stanza_set(&stanzas)?;
        let cipher = self.header.cipher();
        let header = Header::encode(cipher, &stanzas, &file_key)?;
        let mut nonce = [0u8; PAYLOAD_NONCE_LEN];
        read_exact_or(&mut self.input, &mut nonce, "payload nonce")?;
        if self.input.is_armored() {
            let mut armored = ArmoredWriter::new(output)?;
            copy_verified(
                &mut self.input,
                &mut armored,
                &header,
                cipher,
                &file_key,
                &nonce,
            )?;
            Ok(armored.finish()?)
        } else {
            let mut output = output;
            copy_verified(
                &mut self.input,
                &mut output,
                &header,
                cipher,
                &file_key,
                &nonce,
            )?;
            Ok(output)
        }
    }
}

/// Refuses a stanza set no file may have: none at all, a passphrase beside anything (age's
/// rule), post-quantum beside classic (age 1.3's rule), or one recipient twice.
///
/// # Errors
/// [`FormatError::NoStanzaLeft`], [`FormatError::MixedScrypt`],
/// [`FormatError::MixedPostQuantum`], [`FormatError::DuplicateRecipient`].
pub fn check_stanza_set(stanzas: &[Stanza]) -> Result<(), Error> {
    if stanzas.is_empty() {
        return Err(FormatError::NoStanzaLeft.into());
    }
    if stanzas.len() > 1 && stanzas.iter().any(|s| s.kind == SCRYPT_STANZA) {
        return Err(FormatError::MixedScrypt.into());
    }
    check_post_quantum_mix(stanzas)?;
    for (i, a) in stanzas.iter().enumerate() {
        let key = KeyRef::of(a);
        for b in &stanzas[..i] {
            if a == b || (key.names_one_key() && KeyRef::of(b) == key) {
                let mut name = key.id().unwrap_or_else(|| a.kind.clone());
                name.truncate(200);
                return Err(FormatError::DuplicateRecipient { key: name }.into());
            }
        }
    }
    Ok(())
}

/// Writes `header` and `nonce`, then copies the payload from `input` to `output` while
/// authenticating every chunk under the file key.
fn copy_verified<R: Read, W: Write>(
    input: &mut R,
    output: &mut W,
    header: &[u8],
    cipher: PayloadCipher,
    file_key: &FileKey,
    nonce: &[u8; PAYLOAD_NONCE_LEN],
) -> Result<(), Error> {
    output.write_all(header)?;
    output.write_all(nonce)?;
    let tee = Tee { input, output };
    let mut check = StreamReader::new(tee, payload_key(cipher, file_key, nonce));
    io::copy(&mut check, &mut io::sink()).map_err(Error::from_io)?;
    Ok(())
}

/// A reader that writes every byte it reads to `output`.
struct Tee<'a, R, W> {
    input: &'a mut R,
    output: &'a mut W,
}

impl<R: Read, W: Write> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.output.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pk::x25519::SecretKey;

    fn stanza(kind: &str, arg: &str, body: u8) -> Stanza {
        Stanza {
            kind: kind.into(),
            args: vec![arg.into()],
            body: vec![body; 32],
        }
    }

    #[test]
    fn stanza_set_rules() {
        let kms = |arn: &str, b| stanza(KMS_STANZA, arn, b);
        assert!(matches!(
            check_stanza_set(&[]),
            Err(Error::Format(FormatError::NoStanzaLeft))
        ));
        check_stanza_set(&[kms("arn:a", 1), kms("arn:b", 2)]).unwrap();
        // The same key twice, even with different bodies.
        assert!(matches!(
            check_stanza_set(&[kms("arn:a", 1), kms("arn:a", 2)]),
            Err(Error::Format(FormatError::DuplicateRecipient { .. }))
        ));
        // Identical unlinkable stanzas.
        let x = stanza(X25519_STANZA, "AAAA", 3);
        assert!(matches!(
            check_stanza_set(&[x.clone(), x.clone()]),
            Err(Error::Format(FormatError::DuplicateRecipient { .. }))
        ));
        let mut y = x.clone();
        y.body[0] ^= 1;
        check_stanza_set(&[x.clone(), y]).unwrap();
        let scrypt = Stanza {
            kind: SCRYPT_STANZA.into(),
            args: vec!["salt".into(), "10".into()],
            body: vec![0; 32],
        };
        check_stanza_set(std::slice::from_ref(&scrypt)).unwrap();
        assert!(matches!(
            check_stanza_set(&[x, scrypt]),
            Err(Error::Format(FormatError::MixedScrypt))
        ));
    }

    #[test]
    fn nothing_written_before_the_mac_verifies() {
        use std::io::Write as _;
        let alice = SecretKey::generate().unwrap();
        let mallory = SecretKey::generate().unwrap();
        let mut file = Vec::new();
        let mut w = crate::format::Encryptor::with_recipients([&alice.public_key()])
            .unwrap()
            .wrap_output(&mut file)
            .unwrap();
        w.write_all(b"x").unwrap();
        w.finish().unwrap();
        let mut out = Vec::new();
        let e = Rewrap::new(&file[..]).unwrap().rewrap(
            [&mallory],
            |_, _| true,
            [&mallory.public_key()],
            &mut out,
        );
        assert!(matches!(e, Err(Error::Format(FormatError::NoMatch))));
        assert!(out.is_empty());
    }
}
