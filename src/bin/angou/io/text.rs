//! What may reach a terminal: printable UTF-8 text. Escape sequences (ESC and the other C0
//! controls, DEL, the C1 controls U+0080..U+009F), NULs and invalid UTF-8 retitle, reprogram
//! or garble a terminal, so decrypted output holding any of them is refused before it is written.

use std::fmt;
use std::io;

/// The output is not printable text.
#[derive(Debug)]
pub struct NotText;

impl fmt::Display for NotText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("output is not printable text")
    }
}

impl std::error::Error for NotText {}

/// Whether `e` is the refusal made by [`TextOnly`].
pub fn is_not_text(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<NotText>())
}

fn not_text() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, NotText)
}

fn printable(s: &str) -> bool {
    s.chars()
        .all(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
}

/// Checks a byte stream piece by piece; a UTF-8 sequence split between pieces is held back
/// until it is complete.
#[derive(Default)]
pub struct TextOnly {
    /// The start of a UTF-8 sequence that the previous piece ended in (at most 3 bytes).
    held: Vec<u8>,
}

/// What [`TextOnly::check`] allows to be written, in order.
pub struct Allowed {
    /// A sequence completed from held bytes and the start of the piece.
    pub head: Vec<u8>,
    /// The part of the piece after `head` that is whole text.
    pub body: std::ops::Range<usize>,
}

impl TextOnly {
    /// Checks `piece`. Nothing is allowed unless every complete character in it is printable.
    ///
    /// # Errors
    /// [`NotText`] (inside an [`io::Error`]) when `piece` holds anything that is not text.
    pub fn check(&mut self, piece: &[u8]) -> io::Result<Allowed> {
        let mut head = Vec::new();
        let mut start = 0;
        if !self.held.is_empty() {
            // Complete the held sequence one byte at a time: at most 3 more bytes.
            head = self.held.clone();
            loop {
                match std::str::from_utf8(&head) {
                    Ok(s) if printable(s) => break,
                    Ok(_) => return Err(not_text()),
                    Err(e) if e.error_len().is_some() => return Err(not_text()),
                    Err(_) if start < piece.len() => {
                        head.push(piece[start]);
                        start += 1;
                    }
                    Err(_) => {
                        // The piece ended inside the sequence again: keep holding it.
                        self.held = head;
                        return Ok(Allowed {
                            head: Vec::new(),
                            body: 0..0,
                        });
                    }
                }
            }
        }
        let rest = &piece[start..];
        let (whole, tail) = match std::str::from_utf8(rest) {
            Ok(s) => (s, &rest[rest.len()..]),
            Err(e) if e.error_len().is_none() => {
                let (ok, tail) = rest.split_at(e.valid_up_to());
                // Checked just above: the prefix up to `valid_up_to` is UTF-8.
                (std::str::from_utf8(ok).map_err(|_| not_text())?, tail)
            }
            Err(_) => return Err(not_text()),
        };
        if !printable(whole) {
            return Err(not_text());
        }
        self.held = tail.to_vec();
        Ok(Allowed {
            head,
            body: start..start + whole.len(),
        })
    }

    /// Ends the stream: a sequence still held is cut short, so the output was not text.
    ///
    /// # Errors
    /// [`NotText`] when a UTF-8 sequence was left incomplete.
    pub fn finish(&self) -> io::Result<()> {
        if self.held.is_empty() {
            Ok(())
        } else {
            Err(not_text())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `data` split at every position into two pieces; returns what was allowed or None.
    fn feed(pieces: &[&[u8]]) -> Option<Vec<u8>> {
        let mut t = TextOnly::default();
        let mut out = Vec::new();
        for p in pieces {
            let a = t.check(p).ok()?;
            out.extend_from_slice(&a.head);
            out.extend_from_slice(&p[a.body]);
        }
        t.finish().ok()?;
        Some(out)
    }

    #[test]
    fn text_passes_whole_at_every_split() {
        let text = "héllo wörld\tcafé ☕ 𝄞\r\n日本語\n".as_bytes();
        for i in 0..=text.len() {
            for j in i..=text.len() {
                let got = feed(&[&text[..i], &text[i..j], &text[j..]]);
                assert_eq!(got.as_deref(), Some(text), "split at {i},{j}");
            }
        }
    }

    #[test]
    fn controls_and_invalid_utf8_are_refused_at_every_split() {
        let bad: [&[u8]; 9] = [
            b"ab\x1b]0;pwned\x07cd",
            b"ab\x00cd",
            b"ab\x7fcd",
            "ab\u{9b}31mcd".as_bytes(),
            "ab\u{85}cd".as_bytes(),
            b"ab\xffcd",
            b"ab\xc3",
            b"ab\xe2\x98",
            b"ab\x08cd",
        ];
        for data in bad {
            for i in 0..=data.len() {
                assert_eq!(
                    feed(&[&data[..i], &data[i..]]),
                    None,
                    "{data:?} split at {i}"
                );
            }
        }
    }
}
