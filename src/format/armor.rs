//! ASCII armor: the whole file as strict PEM-style text (C2SP age spec, "ASCII armor").
//!
//! ```text
//! -----BEGIN AGE ENCRYPTED FILE-----
//! <standard base64 with padding, 64 columns per line, the last line 1 to 64>
//! -----END AGE ENCRYPTED FILE-----
//! ```
//!
//! Readers accept LF or CRLF line endings and whitespace (space, tab, CR, LF) before the
//! BEGIN line and after the END line, and nothing else: no headers, no blank lines, no
//! short line before the last, no whitespace inside lines, no missing or misplaced padding,
//! no non-canonical base64, no garbage before or after. Decoding streams in constant memory.

use std::io::{self, BufRead, Read, Write};

use base64ct::{Base64, Encoding};
use zeroize::Zeroizing;

use crate::error::{Error, FormatError};

/// The first line of an armored file.
pub const BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
/// The last line of an armored file.
pub const END: &str = "-----END AGE ENCRYPTED FILE-----";
/// Columns of a full base64 line.
pub const LINE_LEN: usize = 64;
/// Bytes encoded by one full line.
const LINE_BYTES: usize = LINE_LEN / 4 * 3;

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether a file starting with `prefix` (its first bytes, as many as are buffered)
/// should be read as armor: after optional whitespace it starts with `-----`, or its
/// first line is not a binary version line yet a BEGIN line follows (garbage before the
/// armor, reported as an armor error rather than an unknown version).
pub fn is_armored(prefix: &[u8]) -> bool {
    let start = prefix
        .iter()
        .position(|&b| !is_ws(b))
        .unwrap_or(prefix.len());
    let rest = &prefix[start..];
    if rest.starts_with(b"-----") || (!rest.is_empty() && b"-----".starts_with(rest)) {
        return true;
    }
    let binary = rest.starts_with(b"age-encryption.org/") || rest.starts_with(b"angou.dev/");
    !binary && rest.windows(BEGIN.len()).any(|w| w == BEGIN.as_bytes())
}

fn armor_err(reason: &'static str) -> io::Error {
    Error::from(FormatError::Armor { reason }).into_io()
}

enum State {
    /// Before the BEGIN line.
    Start,
    /// Inside the base64 body; `short` once a line shorter than 64 columns was read.
    Body { short: bool },
    /// After the END line (trailing whitespace checked).
    Done,
    /// A previous error; every later read fails the same way.
    Failed(&'static str),
}

/// Decodes armor from a buffered reader: a `Read` adapter yielding the binary file.
pub struct ArmoredReader<R: BufRead> {
    inner: R,
    state: State,
    /// Decoded bytes of the current line not yet returned.
    decoded: Zeroizing<Vec<u8>>,
    pos: usize,
    line: Vec<u8>,
}

impl<R: BufRead> ArmoredReader<R> {
    /// Wraps `inner`, which must start (after optional whitespace) with the BEGIN line.
    pub fn new(inner: R) -> Self {
        ArmoredReader {
            inner,
            state: State::Start,
            decoded: Zeroizing::new(Vec::with_capacity(LINE_BYTES)),
            pos: 0,
            line: Vec::with_capacity(LINE_LEN + 2),
        }
    }

    /// Reads one line (without its LF or CRLF). `Ok(false)` at end of input with no bytes.
    /// `eol` tells whether a line ending was present.
    fn read_line(&mut self) -> io::Result<(bool, bool)> {
        self.line.clear();
        let n = (&mut self.inner)
            .take(LINE_LEN as u64 + 2)
            .read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Ok((false, false));
        }
        let eol = self.line.last() == Some(&b'\n');
        if eol {
            self.line.pop();
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
        } else if n == LINE_LEN + 2 {
            return Err(armor_err("line longer than 64 columns"));
        }
        if self.line.contains(&b'\r') {
            return Err(armor_err("stray carriage return"));
        }
        Ok((true, eol))
    }

    fn skip_leading_whitespace(&mut self) -> io::Result<()> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            let n = buf.iter().position(|&b| !is_ws(b)).unwrap_or(buf.len());
            let done = n < buf.len();
            self.inner.consume(n);
            if done {
                return Ok(());
            }
        }
    }

    fn check_trailing_whitespace(&mut self) -> io::Result<()> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            if !buf.iter().all(|&b| is_ws(b)) {
                return Err(armor_err("data after the END line"));
            }
            let n = buf.len();
            self.inner.consume(n);
        }
    }

    /// Advances the state machine until there are decoded bytes or the end.
    fn step(&mut self) -> io::Result<()> {
        match self.state {
            State::Start => {
                self.skip_leading_whitespace()?;
                let (got, _) = self.read_line()?;
                if !got || self.line != BEGIN.as_bytes() {
                    return Err(armor_err(
                        "expected the line -----BEGIN AGE ENCRYPTED FILE-----",
                    ));
                }
                self.state = State::Body { short: false };
            }
            State::Body { short } => {
                let (got, eol) = self.read_line()?;
                if !got {
                    return Err(armor_err("missing the END line"));
                }
                if self.line == END.as_bytes() {
                    self.state = State::Done;
                    return self.check_trailing_whitespace();
                }
                if !eol {
                    return Err(armor_err("missing the END line"));
                }
                let len = self.line.len();
                if len == 0 {
                    return Err(armor_err("empty line"));
                }
                if short {
                    return Err(armor_err(
                        "a line shorter than 64 columns before the last line",
                    ));
                }
                if len > LINE_LEN {
                    return Err(armor_err("line longer than 64 columns"));
                }
                if !len.is_multiple_of(4) {
                    return Err(armor_err(
                        "base64 is not padded to a multiple of 4 characters",
                    ));
                }
                if !self
                    .line
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
                {
                    return Err(armor_err("invalid character in base64"));
                }
                let padded = self.line.contains(&b'=');
                self.decoded.resize(LINE_BYTES, 0);
                let n = Base64::decode(&self.line, &mut self.decoded)
                    .map_err(|_| armor_err("invalid or non-canonical base64"))?
                    .len();
                self.decoded.truncate(n);
                // Canonical: re-encoding gives the same text (no stray bits, padding only at the end).
                let mut again = [0u8; LINE_LEN];
                let re = Base64::encode(&self.decoded, &mut again)
                    .map_err(|_| armor_err("invalid or non-canonical base64"))?;
                if re.as_bytes() != self.line.as_slice() {
                    return Err(armor_err("non-canonical base64"));
                }
                self.pos = 0;
                self.state = State::Body {
                    short: len < LINE_LEN || padded,
                };
            }
            State::Done | State::Failed(_) => {}
        }
        Ok(())
    }
}

impl<R: BufRead> Read for ArmoredReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.decoded.len() {
                let n = out.len().min(self.decoded.len() - self.pos);
                out[..n].copy_from_slice(&self.decoded[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            match self.state {
                State::Done => return Ok(0),
                State::Failed(reason) => return Err(armor_err(reason)),
                _ => {}
            }
            if out.is_empty() {
                return Ok(0);
            }
            self.decoded.clear();
            self.pos = 0;
            if let Err(e) = self.step() {
                if let Some(Error::Format(FormatError::Armor { reason })) =
                    e.get_ref().and_then(|i| i.downcast_ref::<Error>())
                {
                    self.state = State::Failed(reason);
                }
                return Err(e);
            }
        }
    }
}

/// Encodes armor: a `Write` adapter. Call [`ArmoredWriter::finish`] to write the END line.
pub struct ArmoredWriter<W: Write> {
    inner: W,
    /// Input bytes not yet encoded (fewer than one line's worth).
    pending: Vec<u8>,
    out: Vec<u8>,
}

impl<W: Write> ArmoredWriter<W> {
    /// Writes the BEGIN line to `inner`.
    ///
    /// # Errors
    /// I/O errors of `inner`.
    pub fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(BEGIN.as_bytes())?;
        inner.write_all(b"\n")?;
        Ok(ArmoredWriter {
            inner,
            pending: Vec::with_capacity(LINE_BYTES),
            out: Vec::with_capacity(64 * 1024),
        })
    }

    fn encode_line(out: &mut Vec<u8>, bytes: &[u8]) {
        let mut line = [0u8; LINE_LEN];
        // A line's worth of input always fits a 64-column buffer.
        if let Ok(text) = Base64::encode(bytes, &mut line) {
            out.extend_from_slice(text.as_bytes());
            out.push(b'\n');
        }
    }

    /// Encodes the final partial line, writes the END line and returns the inner writer.
    ///
    /// # Errors
    /// I/O errors of the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            Self::encode_line(&mut self.out, &pending);
        }
        self.out.extend_from_slice(END.as_bytes());
        self.out.push(b'\n');
        self.inner.write_all(&self.out)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ArmoredWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;
        if !self.pending.is_empty() {
            let take = (LINE_BYTES - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            // A full line is written only once more data arrives, so the last line is never empty.
            if self.pending.len() < LINE_BYTES || rest.is_empty() {
                return Ok(data.len());
            }
            let pending = std::mem::take(&mut self.pending);
            Self::encode_line(&mut self.out, &pending);
            self.pending = pending;
            self.pending.clear();
        }
        while rest.len() > LINE_BYTES {
            Self::encode_line(&mut self.out, &rest[..LINE_BYTES]);
            rest = &rest[LINE_BYTES..];
            if self.out.len() >= 60 * 1024 {
                self.inner.write_all(&self.out)?;
                self.out.clear();
            }
        }
        self.pending.extend_from_slice(rest);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.out)?;
        self.out.clear();
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn armor(data: &[u8]) -> Vec<u8> {
        let mut w = ArmoredWriter::new(Vec::new()).unwrap();
        for piece in data.chunks(37) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    fn dearmor(text: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        ArmoredReader::new(text)
            .read_to_end(&mut out)
            .map_err(Error::from_io)?;
        Ok(out)
    }

    #[test]
    fn round_trips_at_line_boundaries() {
        for len in [0, 1, 47, 48, 49, 96, 64 * 48, 64 * 48 + 5, 100_000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let text = armor(&data);
            assert!(is_armored(&text));
            assert_eq!(dearmor(&text).unwrap(), data, "len {len}");
            // Every line but the last is full; no empty line.
            let s = String::from_utf8(text).unwrap();
            let lines: Vec<&str> = s.lines().collect();
            let body = &lines[1..lines.len() - 1];
            for l in body.iter().take(body.len().saturating_sub(1)) {
                assert_eq!(l.len(), LINE_LEN);
            }
            assert!(body.iter().all(|l| !l.is_empty()));
        }
    }

    #[test]
    fn rejects_garbage_and_short_lines() {
        let text = String::from_utf8(armor(&[9u8; 200])).unwrap();
        let bad = [
            text.replace(
                "-----END AGE ENCRYPTED FILE-----\n",
                "-----END AGE ENCRYPTED FILE-----\nx",
            ),
            text.replacen('\n', "\n\n", 2),
            text.replace(BEGIN, "-----BEGIN AGE ENCRYPTED MESSAGE-----"),
            text.replace("-----END AGE ENCRYPTED FILE-----\n", ""),
            format!("{}A", &text[..BEGIN.len() + 10]),
        ];
        for b in bad {
            assert!(
                matches!(
                    dearmor(b.as_bytes()),
                    Err(Error::Format(FormatError::Armor { .. }))
                ),
                "{b:?}"
            );
        }
    }
}
