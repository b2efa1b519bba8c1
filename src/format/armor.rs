//! ASCII armor: the whole binary file as strict PEM-style text (C2SP age spec, "ASCII armor").
//!
//! ```text
//! -----BEGIN AGE ENCRYPTED FILE-----
//! <standard base64 with padding: 64 columns per line, the last line 1 to 64 columns>
//! -----END AGE ENCRYPTED FILE-----
//! ```
//!
//! [`ArmoredWriter`] writes exactly that, with LF line endings and an LF after the END line.
//! [`ArmoredReader`] accepts that and these variations only, as age 1.3 does:
//!
//! - each line may end in LF or CRLF, and the END line may end the input with no line ending;
//! - whole lines of whitespace (space, tab, CR, LF) before the BEGIN line, and whitespace after
//!   the END line, each fewer than 1,024 bytes.
//!
//! Everything else is rejected with [`FormatError::Armor`]: headers (`Comment: …`), blank
//! lines, whitespace inside or around a line, a line longer than 64 columns, a short or padded
//! line that is not the last, missing padding, non-canonical base64 (stray bits in the last
//! character), another label or case, a PGP checksum line, a missing END line, and any
//! non-whitespace byte before BEGIN or after END. An empty body (BEGIN then END) is valid
//! armor for the empty file; the header parser then rejects it.
//!
//! Decoding streams in constant memory: one line (at most 66 bytes with its CRLF) and its
//! 48 decoded bytes at a time, whatever the size of the file.

use std::io::{self, BufRead, Read, Write};

use base64ct::{Base64, Encoding};

use crate::error::{Error, FormatError};

/// The first line of an armored file (without its line ending).
pub const BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
/// The last line of an armored file (without its line ending).
pub const END: &str = "-----END AGE ENCRYPTED FILE-----";
/// Columns (base64 characters) of every body line but the last.
pub(crate) const LINE_LEN: usize = 64;
/// The reader's bound on whitespace before BEGIN and, separately, after END (bytes):
/// it accepts fewer than this many, which age 1.3 (bounding both near 1 KiB) accepts too.
pub(crate) const MAX_WHITESPACE_LEN: usize = 1024;

/// Binary bytes encoded by one full line.
const LINE_INPUT_LEN: usize = LINE_LEN / 4 * 3;
/// The longest line the reader buffers: 64 columns and a CRLF (bytes).
const MAX_LINE_LEN: usize = LINE_LEN + 2;
/// Encoded text the writer collects before writing it to its inner writer (bytes).
const OUT_BUF_LEN: usize = 16 * 1024;

/// The whitespace allowed around the armor (RFC 4648 text never contains it).
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn armor_err(reason: &'static str) -> io::Error {
    Error::from(FormatError::Armor { reason }).into_io()
}

/// Whether a file starting with `prefix` is to be read as armor rather than binary.
///
/// `prefix` is the file's first bytes, as many as are at hand (for example a
/// [`BufRead::fill_buf`]); at least 16 make the answer reliable. The binary format starts
/// with `age-encryption.org/v1` or `angou.dev/v1/`, never with a dash, so the rule is: after
/// leading whitespace, the prefix starts with `-----` (or is a shorter run of dashes).
/// Mangled BEGIN lines (`----- BEGIN`, another label) therefore count as armor and get the
/// precise [`FormatError::Armor`] from [`ArmoredReader`] instead of an unknown version.
///
/// One more case counts as armor: a prefix that is not a binary version line yet contains the
/// whole BEGIN line further on (garbage before the armor, which the reader then rejects).
pub fn is_armored(prefix: &[u8]) -> bool {
    let start = prefix
        .iter()
        .position(|&b| !is_ws(b))
        .unwrap_or(prefix.len());
    let rest = &prefix[start..];
    let dashes = &BEGIN.as_bytes()[..5];
    let n = rest.len().min(dashes.len());
    if n > 0 && rest[..n] == dashes[..n] {
        return true;
    }
    let binary = rest.starts_with(b"age-encryption.org/") || rest.starts_with(b"angou.dev/");
    !binary && rest.windows(BEGIN.len()).any(|w| w == BEGIN.as_bytes())
}

/// Where the reader is in the armor.
#[derive(Clone, Copy)]
enum State {
    /// Skipping whitespace before the BEGIN line.
    Leading,
    /// Reading the BEGIN line.
    BeginLine,
    /// Reading body lines; `last` once a short or padded line was read (END must follow).
    Body { last: bool },
    /// Checking that only whitespace follows the END line.
    Trailing,
    /// The armor was whole; the decoded file has ended.
    Done,
    /// The armor is malformed; every later read fails with this reason.
    Failed(&'static str),
}

/// How [`ArmoredReader::read_line`] ended.
enum LineEnd {
    /// End of input before any byte of the line.
    Eof,
    /// The line ended with LF (or CRLF).
    Newline,
    /// The input ended inside the line.
    Unterminated,
    /// The line is longer than [`MAX_LINE_LEN`] bytes.
    TooLong,
}

/// Why a step of the reader failed.
enum Fail {
    /// The armor is malformed (final).
    Armor(&'static str),
    /// The inner reader failed (the step may be retried).
    Io(io::Error),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Fail::Io(e)
    }
}

/// Decodes armor from a buffered reader: a [`Read`] (and [`BufRead`]) adapter yielding the
/// binary file, line by line, in constant memory.
///
/// # Errors
///
/// Reads fail with an [`io::Error`] carrying [`FormatError::Armor`] (recover it with
/// [`Error::from_io`]) when the armor is malformed (see the [module docs](self) for the
/// rules); the end of the decoded file is reported only once the END line and the
/// whitespace after it have been checked. After an armor error every read fails the same
/// way. Errors of the inner reader are passed on unchanged and may be retried: no input is
/// lost.
pub struct ArmoredReader<R: BufRead> {
    inner: R,
    state: State,
    /// The line being read; `line[..line_len]` holds its bytes so far. Both buffers are
    /// boxed so the reader stays small inside enums such as [`super::Input`].
    line: Box<[u8; MAX_LINE_LEN]>,
    line_len: usize,
    /// Decoded bytes of the last line; `decoded[pos..end]` is not yet returned.
    decoded: Box<[u8; LINE_INPUT_LEN]>,
    pos: usize,
    end: usize,
    /// Whitespace bytes skipped before BEGIN or after END.
    whitespace: usize,
    /// The last whitespace byte skipped before BEGIN.
    last_ws: u8,
}

impl<R: BufRead> ArmoredReader<R> {
    /// Wraps `inner`, which should start (after optional whitespace lines) with the BEGIN line.
    /// Nothing is read until the first read.
    pub fn new(inner: R) -> Self {
        ArmoredReader {
            inner,
            state: State::Leading,
            line: Box::new([0; MAX_LINE_LEN]),
            line_len: 0,
            decoded: Box::new([0; LINE_INPUT_LEN]),
            pos: 0,
            end: 0,
            whitespace: 0,
            last_ws: b'\n',
        }
    }

    /// Returns the inner reader, positioned wherever decoding stopped.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Reads the rest of a line into `line`, then strips its LF or CRLF. Bytes read before
    /// an I/O error stay in `line` for the next call.
    fn read_line(&mut self) -> io::Result<LineEnd> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                if self.line_len == 0 {
                    return Ok(LineEnd::Eof);
                }
                self.strip_cr();
                return Ok(LineEnd::Unterminated);
            }
            let room = MAX_LINE_LEN - self.line_len;
            let window = &buf[..buf.len().min(room)];
            let (take, newline) = match window.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (window.len(), false),
            };
            self.line[self.line_len..self.line_len + take].copy_from_slice(&window[..take]);
            self.line_len += take;
            self.inner.consume(take);
            if newline {
                self.line_len -= 1;
                self.strip_cr();
                return Ok(LineEnd::Newline);
            }
            if self.line_len == MAX_LINE_LEN {
                return Ok(LineEnd::TooLong);
            }
        }
    }

    fn strip_cr(&mut self) {
        if self.line_len > 0 && self.line[self.line_len - 1] == b'\r' {
            self.line_len -= 1;
        }
    }

    /// Skips whitespace before the BEGIN line, which must then start a line.
    fn skip_leading(&mut self) -> Result<(), Fail> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                // Only whitespace: the BEGIN line reports the missing armor.
                return Ok(());
            }
            let n = buf.iter().position(|&b| !is_ws(b)).unwrap_or(buf.len());
            let more = n == buf.len();
            if n > 0 {
                self.last_ws = buf[n - 1];
            }
            self.inner.consume(n);
            self.whitespace += n;
            if self.whitespace >= MAX_WHITESPACE_LEN {
                return Err(Fail::Armor("too much whitespace before the BEGIN line"));
            }
            if !more {
                break;
            }
        }
        if self.last_ws != b'\n' {
            return Err(Fail::Armor(
                "whitespace before the BEGIN line on the same line, expected whole lines",
            ));
        }
        Ok(())
    }

    /// Checks that only whitespace (and not too much) follows the END line.
    fn check_trailing(&mut self) -> Result<(), Fail> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            if !buf.iter().all(|&b| is_ws(b)) {
                return Err(Fail::Armor("data after the END line"));
            }
            let n = buf.len();
            self.inner.consume(n);
            self.whitespace += n;
            if self.whitespace >= MAX_WHITESPACE_LEN {
                return Err(Fail::Armor("too much whitespace after the END line"));
            }
        }
    }

    /// Decodes the body line in `line[..line_len]` into `decoded`; returns whether it must be
    /// the last line (shorter than 64 columns, or padded).
    fn decode_line(&mut self) -> Result<bool, Fail> {
        let line = &self.line[..self.line_len];
        if line.is_empty() {
            return Err(Fail::Armor("empty line, expected base64 or the END line"));
        }
        if line.len() > LINE_LEN {
            return Err(Fail::Armor("line longer than 64 columns"));
        }
        if !line.len().is_multiple_of(4) {
            return Err(Fail::Armor(
                "base64 line is not a multiple of 4 characters (missing padding or stray characters)",
            ));
        }
        let n = Base64::decode(line, &mut self.decoded[..])
            .map_err(|_| Fail::Armor("invalid character or padding in base64"))?
            .len();
        // Canonical means re-encoding gives the same text: no stray bits, padding only at the end.
        let mut again = [0u8; LINE_LEN];
        let canonical = Base64::encode(&self.decoded[..n], &mut again)
            .is_ok_and(|text| text.as_bytes() == line);
        if !canonical {
            return Err(Fail::Armor("non-canonical base64"));
        }
        self.pos = 0;
        self.end = n;
        Ok(line.len() < LINE_LEN || n < LINE_INPUT_LEN)
    }

    /// Advances the state machine by one line (or one whitespace run).
    fn step(&mut self) -> Result<(), Fail> {
        match self.state {
            State::Leading => {
                self.skip_leading()?;
                self.state = State::BeginLine;
            }
            State::BeginLine => {
                let end = self.read_line()?;
                let ok = matches!(end, LineEnd::Newline | LineEnd::Unterminated)
                    && &self.line[..self.line_len] == BEGIN.as_bytes();
                self.line_len = 0;
                if matches!(end, LineEnd::Eof) {
                    return Err(Fail::Armor("missing the BEGIN line"));
                }
                if !ok {
                    return Err(Fail::Armor(
                        "first line is not -----BEGIN AGE ENCRYPTED FILE-----",
                    ));
                }
                self.state = State::Body { last: false };
            }
            State::Body { last } => {
                let end = self.read_line()?;
                if matches!(end, LineEnd::Newline | LineEnd::Unterminated)
                    && &self.line[..self.line_len] == END.as_bytes()
                {
                    self.line_len = 0;
                    self.whitespace = 0;
                    self.state = State::Trailing;
                    return Ok(());
                }
                let result = match end {
                    LineEnd::Eof => Err(Fail::Armor("missing the END line")),
                    LineEnd::TooLong => Err(Fail::Armor("line longer than 64 columns")),
                    _ if last => Err(Fail::Armor(
                        "a line shorter than 64 columns or padded is not followed by the END line",
                    )),
                    LineEnd::Unterminated => Err(Fail::Armor("missing the END line")),
                    LineEnd::Newline => self.decode_line(),
                };
                self.line_len = 0;
                self.state = State::Body { last: result? };
            }
            State::Trailing => {
                self.check_trailing()?;
                self.state = State::Done;
            }
            State::Done | State::Failed(_) => {}
        }
        Ok(())
    }
}

impl<R: BufRead> BufRead for ArmoredReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.end {
            match self.state {
                State::Done => break,
                State::Failed(reason) => return Err(armor_err(reason)),
                _ => {}
            }
            match self.step() {
                Ok(()) => {}
                Err(Fail::Io(e)) => return Err(e),
                Err(Fail::Armor(reason)) => {
                    self.state = State::Failed(reason);
                    self.pos = 0;
                    self.end = 0;
                    return Err(armor_err(reason));
                }
            }
        }
        Ok(&self.decoded[self.pos..self.end])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = self.end.min(self.pos.saturating_add(amt));
    }
}

impl<R: BufRead> Read for ArmoredReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let available = self.fill_buf()?;
        let n = out.len().min(available.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Encodes armor: a [`Write`] adapter. [`ArmoredWriter::new`] writes the BEGIN line, writes
/// become 64-column base64 lines, and [`ArmoredWriter::finish`] writes the last line and the
/// END line.
///
/// A writer dropped without `finish` leaves armor with no END line, which
/// [`ArmoredReader`] rejects. Encoded text is collected in a 16 KiB buffer between writes to
/// the inner writer.
pub struct ArmoredWriter<W: Write> {
    inner: W,
    /// Input not yet encoded: `pending[..pending_len]`, always less than a full line.
    pending: [u8; LINE_INPUT_LEN],
    pending_len: usize,
    /// Encoded text not yet written; `out[written..]` remains.
    out: Vec<u8>,
    written: usize,
}

impl<W: Write> ArmoredWriter<W> {
    /// Writes the BEGIN line to `inner` and returns the writer.
    ///
    /// # Errors
    ///
    /// I/O errors of `inner`.
    pub fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(BEGIN.as_bytes())?;
        inner.write_all(b"\n")?;
        Ok(ArmoredWriter {
            inner,
            pending: [0; LINE_INPUT_LEN],
            pending_len: 0,
            out: Vec::with_capacity(OUT_BUF_LEN),
            written: 0,
        })
    }

    /// Encodes the last (possibly partial, padded) line, writes the END line and an LF,
    /// flushes, and returns the inner writer. For an empty input the result is the BEGIN
    /// line directly followed by the END line.
    ///
    /// # Errors
    ///
    /// I/O errors of the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if self.pending_len > 0 {
            let pending = self.pending;
            self.encode_line(&pending[..self.pending_len])?;
            self.pending_len = 0;
        }
        self.out.extend_from_slice(END.as_bytes());
        self.out.push(b'\n');
        self.drain()?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Appends one line of base64 (of at most 48 bytes) and its LF to `out`.
    fn encode_line(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut text = [0u8; LINE_LEN];
        let text = Base64::encode(bytes, &mut text)
            .map_err(|_| io::Error::other("armor line longer than 48 bytes"))?;
        self.out.extend_from_slice(text.as_bytes());
        self.out.push(b'\n');
        Ok(())
    }

    /// Writes all of `out` to the inner writer; keeps what was not written on error.
    fn drain(&mut self) -> io::Result<()> {
        while self.written < self.out.len() {
            match self.inner.write(&self.out[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.written = 0;
        Ok(())
    }
}

impl<W: Write> Write for ArmoredWriter<W> {
    /// Encodes as much of `data` as fits the output buffer (at least one byte).
    ///
    /// # Errors
    ///
    /// I/O errors of the inner writer, in which case none of `data` was taken.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if self.out.len() + LINE_LEN >= OUT_BUF_LEN {
            self.drain()?;
        }
        let mut taken = 0;
        while taken < data.len() && self.out.len() + LINE_LEN < OUT_BUF_LEN {
            let n = (LINE_INPUT_LEN - self.pending_len).min(data.len() - taken);
            self.pending[self.pending_len..self.pending_len + n]
                .copy_from_slice(&data[taken..taken + n]);
            self.pending_len += n;
            taken += n;
            if self.pending_len == LINE_INPUT_LEN {
                let pending = self.pending;
                self.encode_line(&pending)?;
                self.pending_len = 0;
            }
        }
        Ok(taken)
    }

    /// Writes the complete lines encoded so far and flushes the inner writer; the last
    /// partial line waits for more input or [`ArmoredWriter::finish`].
    ///
    /// # Errors
    ///
    /// I/O errors of the inner writer.
    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::BufReader;
    use std::path::Path;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/age-cctv/testdata");

    /// Deterministic test bytes (xorshift64).
    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect()
    }

    fn armor_in_pieces(data: &[u8], piece: usize) -> Vec<u8> {
        let mut w = ArmoredWriter::new(Vec::new()).unwrap();
        for p in data.chunks(piece) {
            w.write_all(p).unwrap();
        }
        w.finish().unwrap()
    }

    fn armor(data: &[u8]) -> Vec<u8> {
        armor_in_pieces(data, 37)
    }

    fn dearmor(text: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        ArmoredReader::new(text)
            .read_to_end(&mut out)
            .map_err(Error::from_io)?;
        Ok(out)
    }

    /// Decodes through a 1-byte inner buffer with 1-byte reads: every line straddles calls.
    fn dearmor_bytewise(text: &[u8]) -> Result<Vec<u8>, Error> {
        let mut r = ArmoredReader::new(BufReader::with_capacity(1, text));
        let mut out = Vec::new();
        let mut b = [0u8; 1];
        loop {
            match r.read(&mut b) {
                Ok(0) => return Ok(out),
                Ok(_) => out.push(b[0]),
                Err(e) => return Err(Error::from_io(e)),
            }
        }
    }

    fn is_armor_err(r: &Result<Vec<u8>, Error>) -> bool {
        matches!(r, Err(Error::Format(FormatError::Armor { .. })))
    }

    fn assert_rejected(text: &[u8]) {
        let r = dearmor(text);
        assert!(
            is_armor_err(&r),
            "{:?}: {r:?}",
            String::from_utf8_lossy(text)
        );
        assert!(is_armor_err(&dearmor_bytewise(text)));
    }

    #[test]
    fn round_trips_at_line_boundaries() {
        let sizes = [
            0,
            1,
            2,
            3,
            47,
            48,
            49,
            95,
            96,
            97,
            64 * 48 - 1,
            64 * 48,
            64 * 48 + 1,
            (1 << 20) + 17,
        ];
        for (i, &len) in sizes.iter().enumerate() {
            let data = bytes(len, i as u64 + 1);
            for piece in [1, 37, 48, 4096, len.max(1)] {
                let text = armor_in_pieces(&data, piece);
                assert_eq!(text, armor(&data), "len {len} piece {piece}");
            }
            let text = armor(&data);
            assert!(is_armored(&text));
            assert_eq!(dearmor(&text).unwrap(), data, "len {len}");
            if len < 10_000 {
                assert_eq!(dearmor_bytewise(&text).unwrap(), data, "len {len}");
            }
            // Shape: BEGIN, full lines, a last line of 1 to 64 columns, END, final LF.
            let s = std::str::from_utf8(&text).unwrap();
            assert!(s.ends_with(&format!("\n{END}\n")));
            let lines: Vec<&str> = s.lines().collect();
            assert_eq!(lines[0], BEGIN);
            let body = &lines[1..lines.len() - 1];
            assert_eq!(body.len(), len.div_ceil(LINE_INPUT_LEN));
            for (j, l) in body.iter().enumerate() {
                if j + 1 < body.len() {
                    assert_eq!(l.len(), LINE_LEN);
                } else {
                    assert!((1..=LINE_LEN).contains(&l.len()));
                }
            }
        }
    }

    #[test]
    fn empty_input_is_begin_then_end() {
        let text = armor(b"");
        assert_eq!(text, format!("{BEGIN}\n{END}\n").as_bytes());
        assert_eq!(dearmor(&text).unwrap(), b"");
    }

    #[test]
    fn unfinished_writer_is_rejected() {
        let data = bytes(500, 9);
        let mut out = Vec::new();
        {
            let mut w = ArmoredWriter::new(&mut out).unwrap();
            w.write_all(&data).unwrap();
            w.flush().unwrap();
        }
        assert_rejected(&out);
    }

    #[test]
    fn reader_implements_bufread() {
        let data = bytes(200, 3);
        let text = armor(&data);
        let mut r = ArmoredReader::new(&text[..]);
        let first = r.fill_buf().unwrap().to_vec();
        assert_eq!(first, data[..LINE_INPUT_LEN]);
        r.consume(10);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, data[10..]);
    }

    #[test]
    fn accepts_crlf_and_outer_whitespace() {
        let data = bytes(130, 5);
        let text = String::from_utf8(armor(&data)).unwrap();
        let variants = [
            text.replace('\n', "\r\n"),
            text.replacen('\n', "\r\n", 2),
            text.trim_end().to_string(),
            format!("{}\r", text.trim_end()),
            format!("\n \t\r\n{text}  \r\n\t\n "),
            format!("{}{text}", " \n".repeat(511)),
            format!("{text}{}", " ".repeat(MAX_WHITESPACE_LEN - 2)),
        ];
        for v in variants {
            assert_eq!(dearmor(v.as_bytes()).unwrap(), data, "{v:?}");
            assert_eq!(dearmor_bytewise(v.as_bytes()).unwrap(), data, "{v:?}");
        }
    }

    #[test]
    fn rejects_malformed_armor() {
        let text = String::from_utf8(armor(&bytes(130, 7))).unwrap();
        let full_line = "A".repeat(LINE_LEN);
        let end_line = format!("{END}\n");
        let bad = [
            String::new(),
            " \n\t".into(),
            format!("{BEGIN}\n"),
            BEGIN.to_string(),
            format!("x{text}"),
            format!("  {text}"),
            format!("{}{text}", " \n".repeat(512)),
            format!("{text}x"),
            format!("{text}\0"),
            format!("{text}{}", " ".repeat(MAX_WHITESPACE_LEN)),
            format!("{text}{text}"),
            text.replace(&end_line, ""),
            text.replace(&end_line, &format!("{END} \n")),
            text.replace(&end_line, &format!(" {END}\n")),
            text.replacen('\n', "\n\n", 1),
            text.replacen('\n', "\n\n", 2),
            text.replace(&format!("\n{END}"), &format!("\n\n{END}")),
            text.replacen('\n', " \n", 2),
            text.replacen('\n', "\n ", 1),
            text.replacen('\n', "\r\r\n", 2),
            text.replacen('\n', "\r", 2),
            text.replace(BEGIN, "-----BEGIN age ENCRYPTED FILE-----"),
            text.replace(END, "-----END AGE ENCRYPTED MESSAGE-----"),
            text.replacen('\n', "\nComment: x\n", 1),
            text.replace(&format!("\n{END}"), &format!("\n=AAAA\n{END}")),
            // A padded full-length line is the last line.
            format!("{BEGIN}\n{}==\n{full_line}\n{END}\n", "A".repeat(62)),
            // A short line before the last.
            format!("{BEGIN}\nAAAA\n{full_line}\n{END}\n"),
            // Too long, with LF and with CRLF.
            format!("{BEGIN}\n{full_line}AAAA\n{END}\n"),
            format!("{BEGIN}\n{full_line}A\r\n{END}\n"),
            // No padding, padding in the middle, stray bits, bad characters.
            format!("{BEGIN}\nAAA\n{END}\n"),
            format!("{BEGIN}\nAA==AAAA\n{END}\n"),
            format!("{BEGIN}\nAB==\n{END}\n"),
            format!("{BEGIN}\nAAB=\n{END}\n"),
            format!("{BEGIN}\nAA-_\n{END}\n"),
            format!("{BEGIN}\nA===\n{END}\n"),
            format!("{BEGIN}\n====\n{END}\n"),
            // A body line with no line ending at the end of input.
            format!("{BEGIN}\nAAAA"),
        ];
        for b in &bad {
            assert_rejected(b.as_bytes());
        }
        // The error repeats on later reads.
        let mut r = ArmoredReader::new(&b"junk"[..]);
        assert!(r.read(&mut [0u8; 8]).is_err());
        assert!(r.read(&mut [0u8; 8]).is_err());
    }

    /// An inner reader that fails with `WouldBlock` once every few calls.
    struct Flaky<'a> {
        data: &'a [u8],
        calls: usize,
    }

    impl Read for Flaky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.data.read(buf)
        }
    }

    #[test]
    fn inner_io_errors_lose_no_input() {
        let data = bytes(1000, 11);
        let text = format!(" \n{}", String::from_utf8(armor(&data)).unwrap());
        let inner = BufReader::with_capacity(
            5,
            Flaky {
                data: text.as_bytes(),
                calls: 0,
            },
        );
        let mut r = ArmoredReader::new(inner);
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        let mut errors = 0;
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                    errors += 1;
                }
            }
        }
        assert!(errors > 0);
        assert_eq!(out, data);
    }

    /// An inner writer that takes at most 10 bytes per call and, while `flaky`, fails every
    /// third call.
    struct Stingy {
        out: Vec<u8>,
        calls: usize,
        flaky: bool,
    }

    impl Write for Stingy {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.flaky && self.calls.is_multiple_of(3) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(10);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn inner_write_errors_lose_no_output() {
        let data = bytes(50_000, 13);
        let inner = Stingy {
            out: Vec::new(),
            calls: 0,
            flaky: false,
        };
        let mut w = ArmoredWriter::new(inner).unwrap();
        w.inner.flaky = true;
        let mut rest = &data[..];
        let mut errors = 0;
        while !rest.is_empty() {
            match w.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                    errors += 1;
                }
            }
        }
        while let Err(e) = w.flush() {
            assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
            errors += 1;
        }
        assert!(errors > 0);
        w.inner.flaky = false;
        assert_eq!(w.finish().unwrap().out, armor(&data));
    }

    #[test]
    fn detects_armor() {
        let text = armor(b"age-encryption.org/v1\n");
        for n in 0..=16 {
            assert_eq!(is_armored(&text[..n]), n > 0, "prefix of {n} bytes");
        }
        assert!(is_armored(b"\r\n \t-----BEGIN AGE"));
        assert!(is_armored(b"----- BEGIN AGE ENCRYPTED FILE -----"));
        assert!(is_armored(format!("garbage\n{BEGIN}\n").as_bytes()));
        assert!(!is_armored(b""));
        assert!(!is_armored(b" \n"));
        assert!(!is_armored(b"age-encryption.org/v1\n-> X25519 "));
        assert!(!is_armored(b"angou.dev/v1/aes-256-gcm\n"));
        assert!(!is_armored(
            format!("age-encryption.org/v1\n-> x {BEGIN}\n").as_bytes()
        ));
    }

    /// Whatever the reader accepts is canonical armor up to outer whitespace and CRLF:
    /// checked on thousands of small edits (replace, insert, delete) of valid armor.
    #[test]
    fn accepted_edits_are_canonical() {
        const ALPHABET: &[u8] = b"A/+=\r\n \t-Ez9";
        let data = bytes(100, 17);
        let text = armor(&data);
        let mut rng = bytes(4 * 6000, 19).into_iter();
        let mut next = || usize::from(rng.next().unwrap());
        let mut accepted = 0;
        for _ in 0..2000 {
            let mut t = text.clone();
            for _ in 0..1 + next() % 2 {
                let at = (next() << 8 | next()) % (t.len() + 1);
                let c = ALPHABET[next() % ALPHABET.len()];
                match next() % 3 {
                    0 if at < t.len() => t[at] = c,
                    1 if at < t.len() => {
                        t.remove(at);
                    }
                    _ => t.insert(at, c),
                }
            }
            if let Ok(decoded) = dearmor(&t) {
                accepted += 1;
                assert_eq!(
                    armor(&decoded),
                    canonical(&t),
                    "{:?}",
                    String::from_utf8_lossy(&t)
                );
            } else {
                assert!(is_armor_err(&dearmor(&t)));
            }
        }
        println!("{accepted} of 2000 edits accepted");
        assert!(accepted > 0);
    }

    /// One CCTV vector file: its `key: value` header and its (inflated) body.
    fn read_vector(path: &Path) -> (Vec<(String, String)>, Vec<u8>) {
        let bytes = fs::read(path).unwrap();
        let split = bytes.windows(2).position(|w| w == b"\n\n").unwrap();
        let head = std::str::from_utf8(&bytes[..split]).unwrap();
        let fields: Vec<(String, String)> = head
            .lines()
            .map(|l| {
                let (k, v) = l.split_once(": ").unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let mut body = bytes[split + 2..].to_vec();
        if fields.iter().any(|(k, v)| k == "compressed" && v == "zlib") {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(&body[..])
                .read_to_end(&mut out)
                .unwrap();
            body = out;
        }
        (fields, body)
    }

    /// The canonical armor of a valid armored file: outer whitespace removed, LF line
    /// endings, a final LF.
    fn canonical(text: &[u8]) -> Vec<u8> {
        let s = std::str::from_utf8(text).unwrap();
        format!("{}\n", s.trim_matches(is_ws_char).replace("\r\n", "\n")).into_bytes()
    }

    fn is_ws_char(c: char) -> bool {
        u8::try_from(c).is_ok_and(is_ws)
    }

    #[test]
    fn cctv_armor_vectors() {
        let mut names: Vec<String> = fs::read_dir(VECTORS)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("armor_"))
            .collect();
        names.sort_unstable();
        assert!(!names.is_empty());
        let mut passed = Vec::new();
        let mut failed = Vec::new();
        for name in &names {
            let (fields, body) = read_vector(&Path::new(VECTORS).join(name));
            let field = |key: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(field("armored"), Some("yes"), "{name}");
            let expect_failure = field("expect") == Some("armor failure");
            let result = dearmor(&body);
            let ok = if expect_failure {
                is_armor_err(&result) && is_armor_err(&dearmor_bytewise(&body))
            } else {
                match &result {
                    Ok(decoded) => {
                        dearmor_bytewise(&body).as_ref().ok() == Some(decoded)
                            && armor(decoded) == canonical(&body)
                    }
                    Err(_) => false,
                }
            };
            if ok && is_armored(&body) {
                match &result {
                    Ok(d) => println!("{name}: decoded {} bytes", d.len()),
                    Err(e) => println!("{name}: rejected, {e}"),
                }
                passed.push(name.as_str());
            } else {
                failed.push(format!("{name}: {result:?}"));
            }
        }
        println!(
            "{} of {} armor_* CCTV vectors passed: {}",
            passed.len(),
            names.len(),
            passed.join(", ")
        );
        assert!(failed.is_empty(), "failed: {failed:#?}");
        assert_eq!(passed.len(), names.len());
    }
}
