//! Reading one HTTP/1.1 request from a connection, within limits: a head of at most
//! [`super::Limits::max_head`] bytes parsed strictly (`httparse`), a `Content-Length` body of
//! at most [`super::Limits::max_body`] bytes (no chunked bodies), all of it within
//! [`super::Limits::read_timeout`] of the first byte.

use std::io::{ErrorKind as IoKind, Read, Write};
use std::time::Instant;

use zeroize::Zeroizing;

/// Most header lines in a head.
pub(crate) const MAX_HEADERS: usize = 64;

/// A request head and body.
#[derive(Debug)]
pub struct Request {
    /// `POST`, …
    pub method: String,
    /// The request target.
    pub path: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (wiped on drop: it may hold a plaintext).
    pub body: Zeroizing<Vec<u8>>,
}

impl Request {
    /// The value of header `name` (lower case), when it appears exactly once.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut it = self.headers.iter().filter(|(n, _)| n == name);
        let first = it.next()?;
        it.next().is_none().then_some(first.1.as_str())
    }

    /// Whether the connection stays open after the response.
    pub fn keep_alive(&self) -> bool {
        let conn = self.header("connection").map(str::to_ascii_lowercase);
        match self.minor_version {
            0 => conn.as_deref() == Some("keep-alive"),
            _ => conn.as_deref() != Some("close"),
        }
    }
}

/// Why a request could not be read: each answers with a status and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// 400: the head does not parse, or its framing headers are wrong.
    BadRequest(&'static str),
    /// 408: the request did not arrive in time.
    Timeout,
    /// 413: the body is over the limit.
    BodyTooLarge,
    /// 431: the head is over the limit.
    HeadTooLarge,
    /// 411: no `Content-Length`.
    LengthRequired,
    /// 501: a `Transfer-Encoding` (chunked bodies are not served).
    NotImplemented,
}

impl HttpError {
    /// The status code and reason phrase.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            HttpError::BadRequest(_) => (400, "Bad Request"),
            HttpError::Timeout => (408, "Request Timeout"),
            HttpError::BodyTooLarge => (413, "Payload Too Large"),
            HttpError::HeadTooLarge => (431, "Request Header Fields Too Large"),
            HttpError::LengthRequired => (411, "Length Required"),
            HttpError::NotImplemented => (501, "Not Implemented"),
        }
    }

    /// A message for the error body.
    pub fn message(&self) -> &'static str {
        match self {
            HttpError::BadRequest(why) => why,
            HttpError::Timeout => "the request did not arrive within the read timeout",
            HttpError::BodyTooLarge => "the request body is larger than this server accepts",
            HttpError::HeadTooLarge => "the request head is larger than this server accepts",
            HttpError::LengthRequired => "a Content-Length header is required",
            HttpError::NotImplemented => "Transfer-Encoding is not supported; send Content-Length",
        }
    }
}

/// Parses a complete head in `buf` (which ends at or after the blank line); returns the
/// request without a body and the head's length.
///
/// # Errors
/// [`HttpError`] for a head that does not parse or breaks the framing rules.
pub fn parse_head(buf: &[u8], max_head: usize) -> Result<Option<(Request, usize)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let status = req.parse(buf).map_err(|e| match e {
        httparse::Error::TooManyHeaders => HttpError::HeadTooLarge,
        _ => HttpError::BadRequest("the request head is not valid HTTP/1.1"),
    })?;
    let head_len = match status {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => {
            if buf.len() > max_head {
                return Err(HttpError::HeadTooLarge);
            }
            return Ok(None);
        }
    };
    if head_len > max_head {
        return Err(HttpError::HeadTooLarge);
    }
    let mut out = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| HttpError::BadRequest("a header value is not UTF-8"))?;
        out.push((h.name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Some((
        Request {
            method: req.method.unwrap_or_default().to_owned(),
            path: req.path.unwrap_or_default().to_owned(),
            minor_version: req.version.unwrap_or(1),
            headers: out,
            body: Zeroizing::new(Vec::new()),
        },
        head_len,
    )))
}

/// The body length a head announces.
///
/// # Errors
/// [`HttpError`] for chunked or missing or repeated or malformed lengths, or one over `max_body`.
pub fn body_len(req: &Request, max_body: usize) -> Result<usize, HttpError> {
    if req.headers.iter().any(|(n, _)| n == "transfer-encoding") {
        return Err(HttpError::NotImplemented);
    }
    let lengths: Vec<&str> = req
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .map(|(_, v)| v.as_str())
        .collect();
    let text = match lengths.as_slice() {
        [] => return Err(HttpError::LengthRequired),
        [one] => *one,
        _ => return Err(HttpError::BadRequest("more than one Content-Length header")),
    };
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HttpError::BadRequest(
            "Content-Length is not a decimal number",
        ));
    }
    let n: usize = text
        .parse()
        .map_err(|_| HttpError::BadRequest("Content-Length is not a decimal number"))?;
    if n > max_body {
        return Err(HttpError::BodyTooLarge);
    }
    Ok(n)
}

/// Reads into `buf` until `want` bytes are there, by `deadline`.
fn fill<S: Read>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    deadline: Instant,
    set_timeout: &dyn Fn(&mut S, std::time::Duration),
    mut done: impl FnMut(&[u8]) -> Result<bool, HttpError>,
) -> Result<(), HttpError> {
    let mut chunk = Zeroizing::new([0u8; 8192]);
    loop {
        if done(buf)? {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HttpError::Timeout);
        }
        set_timeout(stream, left);
        match stream.read(&mut chunk[..]) {
            Ok(0) => return Err(HttpError::BadRequest("the connection closed mid-request")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), IoKind::WouldBlock | IoKind::TimedOut) => {
                return Err(HttpError::Timeout);
            }
            Err(e) if e.kind() == IoKind::Interrupted => {}
            Err(_) => return Err(HttpError::BadRequest("the connection failed mid-request")),
        }
    }
}

/// Reads one request whose first byte is in `buf` or on the stream. Bytes after it (a
/// pipelined next request) stay in `buf`.
pub(crate) fn read_request<S: Read + Write>(
    stream: &mut S,
    buf: &mut Zeroizing<Vec<u8>>,
    limits: &super::Limits,
    set_timeout: &dyn Fn(&mut S, std::time::Duration),
) -> Result<Request, HttpError> {
    let deadline = Instant::now() + limits.read_timeout;
    let mut parsed = None;
    fill(stream, buf, deadline, set_timeout, |b| {
        parsed = parse_head(b, limits.max_head)?;
        Ok(parsed.is_some())
    })?;
    let Some((mut req, head_len)) = parsed else {
        return Err(HttpError::BadRequest("the request head is incomplete"));
    };
    let n = body_len(&req, limits.max_body)?;
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        && buf.len() < head_len + n
    {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let total = head_len + n;
    fill(stream, buf, deadline, set_timeout, |b| Ok(b.len() >= total))?;
    req.body = Zeroizing::new(buf[head_len..total].to_vec());
    let rest = buf[total..].to_vec();
    buf.clear();
    buf.extend_from_slice(&rest);
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_rules() {
        let head = b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}";
        let (r, _) = parse_head(head, 16384).unwrap().unwrap();
        assert!(matches!(body_len(&r, 100), Err(HttpError::BadRequest(_))));
        let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let (r, _) = parse_head(head, 16384).unwrap().unwrap();
        assert_eq!(body_len(&r, 100), Err(HttpError::NotImplemented));
        let head = b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n";
        let (r, _) = parse_head(head, 16384).unwrap().unwrap();
        assert!(matches!(body_len(&r, 100), Err(HttpError::BadRequest(_))));
        let head = b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
        let (r, _) = parse_head(head, 16384).unwrap().unwrap();
        assert_eq!(body_len(&r, 100), Err(HttpError::BodyTooLarge));
        assert!(
            parse_head(b"POST / HTTP/1.1\r\nHost: x\r\n", 16384)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            parse_head(&[b'a'; 100], 50).map(|_| ()),
            Err(HttpError::HeadTooLarge)
        );
        assert_eq!(
            parse_head(b"G\x01T / HTTP/1.1\r\n\r\n", 50).map(|_| ()),
            Err(HttpError::BadRequest(
                "the request head is not valid HTTP/1.1"
            ))
        );
    }
}
