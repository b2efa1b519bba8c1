//! The header: version line, recipient stanzas, and the HMAC that binds them.
//!
//! Grammar (C2SP age spec, "Header"), with angou's one extension — a second version line:
//!
//! ```text
//! header   = version LF *stanza "---" SP mac LF
//! version  = "age-encryption.org/v1" / "angou.dev/v1/aes-256-gcm"
//! stanza   = "->" 1*(SP arg) LF body       ; arg = 1*VCHAR, the first arg is the type
//! body     = *(64base64 LF) short-line     ; short-line: 0 to 63 base64 chars, then LF
//! mac      = 43base64                      ; HMAC-SHA-256, canonical unpadded base64
//! ```
//!
//! Parsing rejects rather than repairs: CR, non-canonical base64, padding, empty
//! arguments, overlong lines, more than 256 stanzas or 64 KiB.

use std::io::{BufRead, Read};

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::b64::{decode_b64, encode_b64};
use crate::error::{Error, FormatError};
pub use crate::recipient::Stanza;
use crate::secret::{FileKey, SecretArray};

/// Version line of an age v1 file (ChaCha20-Poly1305 payload).
pub(crate) const VERSION_AGE_V1: &str = "age-encryption.org/v1";
/// Version line of angou's AES-256-GCM variant.
pub(crate) const VERSION_ANGOU_AES: &str = "angou.dev/v1/aes-256-gcm";
/// Largest header angou reads, in bytes.
pub(crate) const MAX_HEADER_LEN: usize = 64 * 1024;
/// Most stanzas angou reads in one header.
pub(crate) const MAX_STANZAS: usize = 256;
/// Columns of a full body line.
pub(crate) const BODY_LINE_LEN: usize = 64;
/// Length of the header MAC, in bytes.
pub(crate) const MAC_LEN: usize = 32;
/// HKDF info for the header MAC key (age v1).
pub(crate) const MAC_KEY_LABEL: &[u8] = b"header";

/// The cipher that protects the payload, named by the version line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PayloadCipher {
    /// age v1: ChaCha20-Poly1305 STREAM.
    ChaCha20Poly1305,
    /// angou extension: AES-256-GCM STREAM.
    Aes256Gcm,
}

impl PayloadCipher {
    /// The version line that announces this cipher.
    pub const fn version_line(self) -> &'static str {
        match self {
            PayloadCipher::ChaCha20Poly1305 => VERSION_AGE_V1,
            PayloadCipher::Aes256Gcm => VERSION_ANGOU_AES,
        }
    }

    /// The lower-case cipher name (`chacha20-poly1305`, `aes-256-gcm`).
    pub const fn name(self) -> &'static str {
        match self {
            PayloadCipher::ChaCha20Poly1305 => "chacha20-poly1305",
            PayloadCipher::Aes256Gcm => "aes-256-gcm",
        }
    }

    /// The AEAD algorithm of the payload chunks.
    pub const fn algorithm(self) -> crate::aead::Algorithm {
        match self {
            PayloadCipher::ChaCha20Poly1305 => crate::aead::Algorithm::ChaCha20Poly1305,
            PayloadCipher::Aes256Gcm => crate::aead::Algorithm::Aes256Gcm,
        }
    }
}

impl core::str::FromStr for PayloadCipher {
    type Err = crate::error::AeadError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "chacha20-poly1305" => Ok(PayloadCipher::ChaCha20Poly1305),
            "aes-256-gcm" => Ok(PayloadCipher::Aes256Gcm),
            other => Err(crate::error::AeadError::UnknownPayloadCipher {
                found: other.to_owned(),
            }),
        }
    }
}

/// A parsed header.
#[derive(Debug, Clone)]
pub struct Header {
    cipher: PayloadCipher,
    stanzas: Vec<Stanza>,
    mac: [u8; MAC_LEN],
    /// The exact bytes the MAC covers: from the version line through `---`.
    mac_input: Vec<u8>,
    /// Length of the whole header on the wire, including the MAC line.
    encoded_len: usize,
}

fn is_vchar(b: u8) -> bool {
    (33..=126).contains(&b)
}

fn malformed(reason: &'static str) -> Error {
    FormatError::MalformedHeader { reason }.into()
}

fn mac_key(file_key: &FileKey) -> SecretArray<32> {
    let mut key = SecretArray::<32>::zeroed();
    // 32 bytes never exceeds HKDF-SHA-256's output limit.
    let _ = Hkdf::<Sha256>::new(None, file_key.expose_secret())
        .expand(MAC_KEY_LABEL, key.expose_secret_mut());
    key
}

fn compute_mac(file_key: &FileKey, input: &[u8]) -> Hmac<Sha256> {
    let key = mac_key(file_key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(input);
    mac
}

struct LineReader<'a, R> {
    inner: &'a mut R,
    read: usize,
}

impl<R: BufRead> LineReader<'_, R> {
    /// Next line without its LF. `Ok(None)` at a clean end of input.
    fn next(&mut self, raw: &mut Vec<u8>) -> Result<Option<String>, Error> {
        let limit = MAX_HEADER_LEN - self.read;
        let mut line = Vec::new();
        let n = (&mut *self.inner)
            .take(limit as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(None);
        }
        self.read += n;
        if self.read > MAX_HEADER_LEN {
            return Err(FormatError::HeaderTooLarge {
                limit: MAX_HEADER_LEN,
            }
            .into());
        }
        if line.last() != Some(&b'\n') {
            return Err(FormatError::Truncated { what: "header" }.into());
        }
        raw.extend_from_slice(&line);
        line.pop();
        if line.contains(&b'\r') {
            return Err(malformed(
                "carriage return in header (lines must end with LF only)",
            ));
        }
        if !line.iter().all(|&b| b == b' ' || is_vchar(b)) {
            return Err(malformed("non-printable character in header"));
        }
        // All bytes are printable ASCII, so this cannot fail.
        String::from_utf8(line)
            .map(Some)
            .map_err(|_| malformed("non-ASCII header"))
    }
}

impl Header {
    /// Reads a header from `input`, leaving it positioned at the payload nonce.
    ///
    /// # Errors
    /// [`FormatError::Empty`], [`FormatError::UnknownVersion`], [`FormatError::MalformedHeader`],
    /// [`FormatError::HeaderTooLarge`], [`FormatError::TooManyStanzas`], [`FormatError::Truncated`],
    /// or an I/O error.
    pub fn read<R: BufRead>(input: &mut R) -> Result<Header, Error> {
        let mut raw = Vec::new();
        let mut lines = LineReader {
            inner: input,
            read: 0,
        };
        let first = match lines.next(&mut raw) {
            Ok(Some(line)) => line,
            Ok(None) => return Err(FormatError::Empty.into()),
            Err(Error::Format(FormatError::MalformedHeader { .. }))
            | Err(Error::Format(FormatError::Truncated { .. })) => {
                return Err(FormatError::unknown_version(&raw[..raw.len().min(64)]).into());
            }
            Err(e) => return Err(e),
        };
        let cipher = match first.as_str() {
            VERSION_AGE_V1 => PayloadCipher::ChaCha20Poly1305,
            VERSION_ANGOU_AES => PayloadCipher::Aes256Gcm,
            other => {
                return Err(FormatError::unknown_version(other.as_bytes()).into());
            }
        };
        let mut stanzas = Vec::new();
        loop {
            let line = lines
                .next(&mut raw)?
                .ok_or(FormatError::Truncated { what: "header" })?;
            if let Some(rest) = line.strip_prefix("-> ") {
                if stanzas.len() == MAX_STANZAS {
                    return Err(FormatError::TooManyStanzas { limit: MAX_STANZAS }.into());
                }
                let mut parts = rest.split(' ');
                let kind = parts.next().unwrap_or_default().to_owned();
                let args: Vec<String> = parts.map(str::to_owned).collect();
                if kind.is_empty() || args.iter().any(String::is_empty) {
                    return Err(malformed("empty stanza argument"));
                }
                let mut text = String::new();
                loop {
                    let body_line = lines
                        .next(&mut raw)?
                        .ok_or(FormatError::Truncated { what: "header" })?;
                    if body_line.len() > BODY_LINE_LEN {
                        return Err(malformed("stanza body line longer than 64 columns"));
                    }
                    if body_line.starts_with("-> ") || body_line.starts_with("---") {
                        return Err(malformed("stanza body missing its final short line"));
                    }
                    let full = body_line.len() == BODY_LINE_LEN;
                    text.push_str(&body_line);
                    if !full {
                        break;
                    }
                }
                let body = decode_b64(&text)
                    .ok_or_else(|| malformed("stanza body is not canonical unpadded base64"))?;
                stanzas.push(Stanza { kind, args, body });
            } else if let Some(rest) = line.strip_prefix("---") {
                let mac_text = rest
                    .strip_prefix(' ')
                    .ok_or_else(|| malformed("MAC line must be \"--- \" and the MAC"))?;
                let mac_bytes = decode_b64(mac_text)
                    .filter(|m| m.len() == MAC_LEN)
                    .ok_or_else(|| malformed("header MAC is not 32 bytes of canonical base64"))?;
                let mut mac = [0u8; MAC_LEN];
                mac.copy_from_slice(&mac_bytes);
                let encoded_len = raw.len();
                // The MAC covers everything up to and including "---", not the space after it.
                let covered = encoded_len - 1 - mac_text.len() - 1;
                raw.truncate(covered);
                return Ok(Header {
                    cipher,
                    stanzas,
                    mac,
                    mac_input: raw,
                    encoded_len,
                });
            } else {
                return Err(malformed(
                    "expected a stanza (\"-> \") or the MAC line (\"--- \")",
                ));
            }
        }
    }

    /// Builds and encodes a header for `stanzas`, MACed under `file_key`.
    ///
    /// # Errors
    /// [`FormatError::MalformedStanza`] if a stanza's type or argument is empty or not VCHAR.
    pub fn encode(
        cipher: PayloadCipher,
        stanzas: &[Stanza],
        file_key: &FileKey,
    ) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        out.extend_from_slice(cipher.version_line().as_bytes());
        out.push(b'\n');
        for s in stanzas {
            let ok = |t: &str| !t.is_empty() && t.bytes().all(is_vchar);
            if !ok(&s.kind) || !s.args.iter().all(|a| ok(a)) {
                return Err(FormatError::MalformedStanza {
                    kind: "outgoing",
                    reason: "type and arguments must be non-empty printable ASCII without spaces",
                }
                .into());
            }
            out.extend_from_slice(b"->");
            for part in core::iter::once(&s.kind).chain(&s.args) {
                out.push(b' ');
                out.extend_from_slice(part.as_bytes());
            }
            out.push(b'\n');
            let text = encode_b64(&s.body);
            let mut chunks = text.as_bytes().chunks(BODY_LINE_LEN).peekable();
            let mut last_len = 0;
            while let Some(chunk) = chunks.next() {
                out.extend_from_slice(chunk);
                out.push(b'\n');
                last_len = chunk.len();
                if chunks.peek().is_none() {
                    break;
                }
            }
            // A body always ends with a short line; a body of full lines gets an empty one.
            if last_len == BODY_LINE_LEN || text.is_empty() {
                out.push(b'\n');
            }
        }
        out.extend_from_slice(b"---");
        let mac = compute_mac(file_key, &out).finalize().into_bytes();
        out.push(b' ');
        out.extend_from_slice(encode_b64(&mac).as_bytes());
        out.push(b'\n');
        Ok(out)
    }

    /// Checks the header MAC under `file_key` in constant time.
    ///
    /// # Errors
    /// [`FormatError::HeaderMac`] if it does not verify.
    pub fn verify_mac(&self, file_key: &FileKey) -> Result<(), Error> {
        compute_mac(file_key, &self.mac_input)
            .verify_slice(&self.mac)
            .map_err(|_| FormatError::HeaderMac.into())
    }

    /// The payload cipher named by the version line.
    pub fn cipher(&self) -> PayloadCipher {
        self.cipher
    }

    /// The recipient stanzas, in file order.
    pub fn stanzas(&self) -> &[Stanza] {
        &self.stanzas
    }

    /// Header length on the wire, in bytes (including the MAC line).
    pub fn encoded_len(&self) -> usize {
        self.encoded_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza(kind: &str, body_len: usize) -> Stanza {
        Stanza {
            kind: kind.into(),
            args: vec!["arg".into()],
            body: (0..body_len).map(|i| i as u8).collect(),
        }
    }

    #[test]
    fn encode_read_round_trip_all_body_lengths() {
        let fk = FileKey::generate().unwrap();
        for len in [0, 1, 47, 48, 49, 96, 200] {
            let stanzas = vec![stanza("X25519", len), stanza("other.example/x", 3)];
            let bytes = Header::encode(PayloadCipher::ChaCha20Poly1305, &stanzas, &fk).unwrap();
            let mut input = &bytes[..];
            let h = Header::read(&mut input).unwrap();
            assert!(input.is_empty());
            assert_eq!(h.stanzas(), &stanzas[..]);
            assert_eq!(h.encoded_len(), bytes.len());
            h.verify_mac(&fk).unwrap();
            let other = FileKey::generate().unwrap();
            assert!(matches!(
                h.verify_mac(&other),
                Err(Error::Format(FormatError::HeaderMac))
            ));
        }
    }

    #[test]
    fn rejects_crlf_and_unknown_version() {
        let fk = FileKey::generate().unwrap();
        let bytes = Header::encode(PayloadCipher::Aes256Gcm, &[stanza("a", 5)], &fk).unwrap();
        let crlf: Vec<u8> = String::from_utf8(bytes.clone())
            .unwrap()
            .replace('\n', "\r\n")
            .into_bytes();
        assert!(Header::read(&mut &crlf[..]).is_err());
        let mut wrong = bytes.clone();
        wrong[0] = b'b';
        assert!(matches!(
            Header::read(&mut &wrong[..]),
            Err(Error::Format(FormatError::UnknownVersion { .. }))
        ));
        assert!(matches!(
            Header::read(&mut &b""[..]),
            Err(Error::Format(FormatError::Empty))
        ));
    }

    #[test]
    fn bounds_header_size() {
        let mut big = b"age-encryption.org/v1\n".to_vec();
        for _ in 0..(MAX_HEADER_LEN / 10) {
            big.extend_from_slice(b"-> a b\nAA\n");
        }
        let err = Header::read(&mut &big[..]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Format(
                    FormatError::HeaderTooLarge { .. } | FormatError::TooManyStanzas { .. }
                )
            ),
            "{err:?}"
        );
    }
}
