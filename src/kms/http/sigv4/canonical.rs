//! The canonical request (SigV4 task 1): URI, query, headers and payload hash in the one
//! byte form both sides sign.

use sha2::{Digest, Sha256};

use super::{Request, hex};

pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// A header value trimmed with inner runs of white space collapsed to one space.
fn push_value(out: &mut Vec<u8>, value: &[u8]) {
    let mut first = true;
    for word in value.split(|b| is_space(*b)).filter(|w| !w.is_empty()) {
        if !first {
            out.push(b' ');
        }
        out.extend_from_slice(word);
        first = false;
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn push_encoded(out: &mut Vec<u8>, bytes: &[u8], keep_slash: bool) {
    for &b in bytes {
        if unreserved(b) || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

/// The canonical URI of a non-S3 service: dot segments and empty segments removed, then each
/// byte outside the unreserved set percent-encoded (so a path sent percent-encoded is encoded
/// twice, as the SDKs do).
fn canonical_uri(out: &mut Vec<u8>, path: &str) {
    let mut segments: Vec<&str> = Vec::new();
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    out.push(b'/');
    push_encoded(out, segments.join("/").as_bytes(), true);
    if path.ends_with('/') && !segments.is_empty() {
        out.push(b'/');
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The canonical query: each name and value decoded, then encoded with the unreserved set,
/// sorted by name then value.
fn canonical_query(out: &mut Vec<u8>, query: &str) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = query
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let mut ek = Vec::new();
            push_encoded(&mut ek, &percent_decode(k), false);
            let mut ev = Vec::new();
            push_encoded(&mut ev, &percent_decode(v), false);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(k);
        out.push(b'=');
        out.extend_from_slice(v);
    }
}

/// The canonical request (SigV4 task 1). `signed` are lower-case, sorted header names; a
/// header given several times contributes its values joined by commas.
pub(super) fn canonical_request(req: &Request<'_>, signed: &[&str], payload_hash: &str) -> Vec<u8> {
    let mut c = Vec::with_capacity(256);
    c.extend_from_slice(req.method.as_bytes());
    c.push(b'\n');
    canonical_uri(&mut c, req.path);
    c.push(b'\n');
    canonical_query(&mut c, req.query);
    c.push(b'\n');
    for name in signed {
        c.extend_from_slice(name.as_bytes());
        c.push(b':');
        for (i, v) in req.values(name).enumerate() {
            if i > 0 {
                c.push(b',');
            }
            push_value(&mut c, v);
        }
        c.push(b'\n');
    }
    c.push(b'\n');
    c.extend_from_slice(signed.join(";").as_bytes());
    c.push(b'\n');
    c.extend_from_slice(payload_hash.as_bytes());
    c
}

#[doc(hidden)]
/// The canonical request as text, for comparing with the AWS test suite.
pub fn canonical_request_text(request: &Request<'_>, signed_headers: &[&str]) -> Vec<u8> {
    canonical_request(request, signed_headers, &hex(&Sha256::digest(request.body)))
}
