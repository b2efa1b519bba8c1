//! The file format: age v1, and angou's extensions in the same grammar.
//!
//! A file is a [`header::Header`] (version line, recipient stanzas, HMAC) followed by
//! the payload: a 16-byte nonce and the [`stream`] of 64 KiB chunks. Optional
//! [`armor`] wraps the whole file in PEM-style text. Every byte is described in
//! `docs/FORMAT.md`.
//!
//! ```
//! use std::io::{Read, Write};
//! use angou::format::{Decryptor, Encryptor};
//! use angou::pk::x25519::SecretKey;
//!
//! let identity = SecretKey::generate()?;
//! let recipient = identity.public_key();
//! let mut file = Vec::new();
//! let mut writer = Encryptor::with_recipients([&recipient])?.wrap_output(&mut file)?;
//! writer.write_all(b"hello, age")?;
//! writer.finish()?; // mandatory: without it the file has no last chunk and never decrypts
//!
//! let mut reader = Decryptor::new(&file[..])?.decrypt([&identity])?;
//! let mut plaintext = Vec::new();
//! reader.read_to_end(&mut plaintext)?;
//! assert_eq!(plaintext, b"hello, age");
//! # Ok::<(), angou::Error>(())
//! ```

pub mod armor;
pub mod header;
pub mod rewrap;
pub mod stream;

use std::io::{self, BufRead, BufReader, Read, Write};

use crate::error::{Error, FormatError};
use crate::passphrase::PassphraseRecipient;
use crate::recipient::{Identity, Recipient, SCRYPT_STANZA, Stanza, check_stanza};
use crate::secret::{FileKey, SecretVec, random_array};
use header::{Header, PayloadCipher};
use stream::{PAYLOAD_NONCE_LEN, StreamReader, StreamWriter, payload_key};

/// Encrypts a file: builds the header for a set of recipients and starts the payload.
///
/// Recipients of one kind are passed as they are; recipients of different kinds as
/// `&dyn Recipient` (only the first needs the cast) or as the boxes that
/// [`crate::keyfile`] returns:
///
/// ```
/// use std::io::Write;
/// use angou::format::Encryptor;
/// use angou::pk::{rsa, x25519};
/// use angou::Recipient;
///
/// let alice = x25519::SecretKey::generate()?.public_key();
/// let bob = x25519::SecretKey::generate()?.public_key();
/// let carol = rsa::PrivateKey::generate(2048)?.public_key();
///
/// // One kind: no cast.
/// let mut file = Vec::new();
/// let mut w = Encryptor::with_recipients([&alice, &bob])?.wrap_output(&mut file)?;
/// w.write_all(b"for alice and bob")?;
/// w.finish()?;
///
/// // Mixed kinds: trait objects.
/// let mixed: [&dyn Recipient; 2] = [&alice, &carol];
/// let mut file = Vec::new();
/// let mut w = Encryptor::with_recipients(mixed)?.wrap_output(&mut file)?;
/// w.write_all(b"for alice and carol")?;
/// w.finish()?;
/// # Ok::<(), angou::Error>(())
/// ```
///
/// The writer that [`Encryptor::wrap_output`] returns must be finished with
/// [`StreamWriter::finish`]; see there for why dropping it does not finish it.
pub struct Encryptor<'a> {
    recipients: Vec<Box<dyn Recipient + 'a>>,
    passphrase: Option<PassphraseRecipient>,
    cipher: PayloadCipher,
}

impl<'a> Encryptor<'a> {
    /// Encrypts to `recipients` (at least one) with the age v1 payload cipher.
    ///
    /// Any iterable of recipients works: `[&public_key]`, `vec![&a, &b]`, an array of
    /// `&dyn Recipient` for mixed kinds, or `&Vec<Box<dyn Recipient>>`.
    ///
    /// # Errors
    /// [`FormatError::NoRecipients`] for an empty list.
    pub fn with_recipients<I>(recipients: I) -> Result<Self, Error>
    where
        I: IntoIterator,
        I::Item: Recipient + 'a,
    {
        let recipients: Vec<Box<dyn Recipient + 'a>> = recipients
            .into_iter()
            .map(|r| Box::new(r) as Box<dyn Recipient + 'a>)
            .collect();
        if recipients.is_empty() {
            return Err(FormatError::NoRecipients.into());
        }
        Ok(Encryptor {
            recipients,
            passphrase: None,
            cipher: PayloadCipher::ChaCha20Poly1305,
        })
    }

    /// Encrypts to a passphrase (scrypt, the only stanza of the file).
    pub fn with_passphrase(passphrase: PassphraseRecipient) -> Self {
        Encryptor {
            recipients: Vec::new(),
            passphrase: Some(passphrase),
            cipher: PayloadCipher::ChaCha20Poly1305,
        }
    }

    /// Convenience for [`Encryptor::with_passphrase`] at the default work factor.
    pub fn with_passphrase_bytes(passphrase: SecretVec) -> Self {
        Self::with_passphrase(PassphraseRecipient::new(passphrase))
    }

    /// Chooses the payload cipher. [`PayloadCipher::Aes256Gcm`] writes angou's version
    /// line, which age tools refuse cleanly.
    #[must_use]
    pub fn with_cipher(mut self, cipher: PayloadCipher) -> Self {
        self.cipher = cipher;
        self
    }

    /// Writes the header and payload nonce to `output` and returns the payload writer.
    ///
    /// The file key is the one the first recipient whose [`Recipient::generate_file_key`]
    /// answers supplies (a KMS's `GenerateDataKey`), else 16 bytes from the OS; every other
    /// recipient wraps it. Stanzas are written in the recipients' order.
    ///
    /// The writer must be finished with [`StreamWriter::finish`]: a writer dropped
    /// without it leaves a file that never decrypts. For armored output, wrap `output` in
    /// [`armor::ArmoredWriter`] and finish both (`writer.finish()?.finish()?`).
    ///
    /// # Errors
    /// Wrapping or key-generating failures, [`FormatError::MixedScrypt`] if a recipient produced a passphrase
    /// stanza beside others, [`FormatError::MixedPostQuantum`] if a post-quantum recipient is
    /// mixed with a classic one, or I/O errors.
    #[must_use = "the writer must be given the plaintext and then finished with `finish()`"]
    pub fn wrap_output<W: Write>(self, mut output: W) -> Result<StreamWriter<W>, Error> {
        // One recipient may supply the file key (a KMS's GenerateDataKey,
        // `Recipient::generate_file_key`): the first that does, in order; the others wrap it.
        // Stanzas stay in recipient order either way.
        let mut made: Vec<Option<Vec<Stanza>>> = Vec::with_capacity(self.recipients.len());
        let mut supplied = None;
        for r in &self.recipients {
            if let Some(result) = r.generate_file_key() {
                let (key, own) = result?;
                supplied = Some(key);
                made.push(Some(own));
                break;
            }
            made.push(None);
        }
        let file_key = match supplied {
            Some(key) => key,
            None => FileKey::generate()?,
        };
        let mut stanzas = Vec::new();
        for (i, r) in self.recipients.iter().enumerate() {
            match made.get_mut(i).and_then(Option::take) {
                Some(own) => stanzas.extend(own),
                None => stanzas.extend(r.wrap(&file_key)?),
            }
        }
        if let Some(p) = &self.passphrase {
            stanzas.extend(p.wrap(&file_key)?);
        }
        if stanzas.len() > 1 && stanzas.iter().any(|s| s.kind == SCRYPT_STANZA) {
            return Err(FormatError::MixedScrypt.into());
        }
        crate::recipient::check_post_quantum_mix(&stanzas)?;
        let header = Header::encode(self.cipher, &stanzas, &file_key)?;
        let nonce: [u8; PAYLOAD_NONCE_LEN] = random_array()?;
        output.write_all(&header)?;
        output.write_all(&nonce)?;
        Ok(StreamWriter::new(
            output,
            payload_key(self.cipher, &file_key, &nonce),
        ))
    }
}

/// Decrypts a file: reads its header, then unwraps the file key with the caller's identities.
///
/// Binary and ASCII-armored files are both accepted: [`Decryptor::new`] looks at the first
/// bytes and decodes armor when it finds it.
///
/// ```
/// use std::io::{Read, Write};
/// use angou::format::{armor::ArmoredWriter, Decryptor, Encryptor};
/// use angou::pk::x25519::SecretKey;
///
/// let identity = SecretKey::generate()?;
/// let mut armored = Vec::new();
/// let w = Encryptor::with_recipients([&identity.public_key()])?
///     .wrap_output(ArmoredWriter::new(&mut armored)?)?;
/// w.finish()?.finish()?; // the stream, then the armor
/// assert!(armored.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
///
/// let decryptor = Decryptor::new(&armored[..])?;
/// assert!(decryptor.is_armored());
/// let mut plaintext = Vec::new();
/// decryptor.decrypt([&identity])?.read_to_end(&mut plaintext)?;
/// assert!(plaintext.is_empty());
/// # Ok::<(), angou::Error>(())
/// ```
pub struct Decryptor<R: BufRead> {
    input: Input<R>,
    header: Header,
}

impl<R: BufRead> Decryptor<R> {
    /// Reads the header of a binary or armored file (armor is detected from the first
    /// bytes) and checks the shape of every stanza of a known type, whatever identities
    /// will be tried later (docs/FORMAT.md §4.3).
    ///
    /// # Errors
    /// Any header error ([`FormatError`]), an armor error, [`FormatError::MalformedStanza`]
    /// for the first malformed stanza of a known type (even if another stanza would match),
    /// [`FormatError::MixedScrypt`], or an I/O error.
    pub fn new(input: R) -> Result<Self, Error> {
        let mut input = Input::detect(input)?;
        let header = Header::read(&mut input)?;
        let stanzas = header.stanzas();
        for s in stanzas {
            check_stanza(s)?;
        }
        if stanzas.len() > 1 && stanzas.iter().any(|s| s.kind == SCRYPT_STANZA) {
            return Err(FormatError::MixedScrypt.into());
        }
        Ok(Decryptor { input, header })
    }

    /// The parsed header (for `inspect`: needs no key).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Whether the file was ASCII-armored.
    pub fn is_armored(&self) -> bool {
        self.input.is_armored()
    }

    /// Whether the file is encrypted to a passphrase.
    pub fn is_passphrase(&self) -> bool {
        self.header
            .stanzas()
            .iter()
            .any(|s| s.kind == SCRYPT_STANZA)
    }

    /// Finds the file key: stanzas in file order, each offered to every identity.
    ///
    /// Any iterable of identities works: `[&secret_key]`, an array of `&dyn Identity` for
    /// mixed kinds, or `&Vec<Box<dyn Identity>>` from [`crate::keyfile`].
    ///
    /// The first stanza that some identity unwraps gives the file key, which must then verify
    /// the header MAC. A stanza that an identity claims but cannot unwrap (an RSA stanza with
    /// its fingerprint that does not decrypt, a low-order X25519 share, …) ends the search with
    /// that error, unless another identity unwraps the same stanza. The order of `identities`
    /// therefore never changes the outcome (docs/FORMAT.md §4.3, "Finding the file key").
    ///
    /// # Errors
    /// An identity's own error, [`FormatError::HeaderMac`], [`FormatError::NoMatch`], or
    /// [`FormatError::Truncated`] if the payload nonce is missing.
    pub fn decrypt<I>(mut self, identities: I) -> Result<StreamReader<Input<R>>, Error>
    where
        I: IntoIterator,
        I::Item: Identity,
    {
        let file_key = find_file_key(&self.header, identities)?;
        let mut nonce = [0u8; PAYLOAD_NONCE_LEN];
        read_exact_or(&mut self.input, &mut nonce, "payload nonce")?;
        Ok(StreamReader::new(
            self.input,
            payload_key(self.header.cipher(), &file_key, &nonce),
        ))
    }
}

/// The file key of `header`, verified by its MAC: stanzas in file order, each offered to
/// every identity (see [`Decryptor::decrypt`]).
pub(crate) fn find_file_key<I>(header: &Header, identities: I) -> Result<FileKey, Error>
where
    I: IntoIterator,
    I::Item: Identity,
{
    let identities: Vec<I::Item> = identities.into_iter().collect();
    let mut file_key = None;
    'search: for s in header.stanzas() {
        let mut failure = None;
        for identity in &identities {
            match identity.unwrap_stanza(s) {
                Some(Ok(key)) => {
                    file_key = Some(key);
                    break 'search;
                }
                Some(Err(e)) => {
                    failure.get_or_insert(e);
                }
                None => {}
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
    }
    let file_key = file_key.ok_or(FormatError::NoMatch)?;
    header.verify_mac(&file_key)?;
    Ok(file_key)
}

fn read_exact_or<R: Read>(r: &mut R, buf: &mut [u8], what: &'static str) -> Result<(), Error> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            FormatError::Truncated { what }.into()
        } else {
            Error::from_io(e)
        }
    })
}

/// Binary or armored input, detected from its first bytes. [`Decryptor::new`] does this
/// itself; use it directly to know before decrypting whether a file is armored.
pub enum Input<R: BufRead> {
    /// The binary format.
    Binary(R),
    /// ASCII armor, decoded on the fly.
    Armored(BufReader<armor::ArmoredReader<R>>),
}

impl<R: BufRead> Input<R> {
    /// Looks at the first bytes of `input` and decodes armor if present.
    ///
    /// # Errors
    /// I/O errors while peeking.
    pub fn detect(mut input: R) -> io::Result<Self> {
        let armored = armor::is_armored(input.fill_buf()?);
        Ok(if armored {
            Input::Armored(BufReader::with_capacity(
                stream::ENCRYPTED_CHUNK_LEN,
                armor::ArmoredReader::new(input),
            ))
        } else {
            Input::Binary(input)
        })
    }

    /// Whether the input is armored.
    pub fn is_armored(&self) -> bool {
        matches!(self, Input::Armored(_))
    }
}

impl<R: BufRead> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::Binary(r) => r.read(buf),
            Input::Armored(r) => r.read(buf),
        }
    }
}

impl<R: BufRead> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Input::Binary(r) => r.fill_buf(),
            Input::Armored(r) => r.fill_buf(),
        }
    }

    fn consume(&mut self, amt: usize) {
        match self {
            Input::Binary(r) => r.consume(amt),
            Input::Armored(r) => r.consume(amt),
        }
    }
}
