//! AWS Signature Version 4 for the KMS JSON protocol: [`verify`] checks a request the way AWS
//! does before any operation runs; [`sign`] signs one for angou's own clients, tests and
//! benchmarks.
//!
//! Implements "Signature Version 4 for API requests" (AWS IAM User Guide: create a canonical
//! request, a string to sign, the derived signing key and the signature) for requests signed
//! in the `Authorization` header with `AWS4-HMAC-SHA256`, checked against the AWS SigV4 test
//! suite (`tests/data/sigv4/`) and botocore. What a signature protects, and where it stops,
//! is in docs/DESIGN.md §5.
//!
//! Stricter than the spec requires, on purpose: every header that chooses or shapes the
//! operation (`host`, `x-amz-date`, `x-amz-target`, and `content-type`, `content-encoding`,
//! `x-amz-content-sha256`, `x-amz-security-token` when present) must be signed and must
//! appear once, so the operation the server runs is the one the key holder signed; the
//! body is always hashed here (never `UNSIGNED-PAYLOAD`); `SignedHeaders` must be sorted,
//! lower-case and without repeats, as every SDK writes it.
//!
//! Messages use AWS's wording (capitalised, with a full stop), since clients show them as
//! AWS would; none holds a secret or the signature the server expected.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
use zeroize::Zeroizing;

use crate::secret::SecretAccessKey;

/// The one signing algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The service every credential scope must name.
pub const SERVICE: &str = "kms";
/// How far `X-Amz-Date` may be from the server's clock, either way (AWS's limit).
pub const MAX_SKEW: Duration = Duration::minutes(5);
/// The last element of a credential scope.
const TERMINATOR: &str = "aws4_request";
/// Headers a KMS request must carry and sign.
const KMS_REQUIRED: [&str; 3] = ["host", "x-amz-date", "x-amz-target"];
/// Headers that change what the server does with a request: signed whenever present.
const SIGNED_IF_PRESENT: [&str; 4] = [
    "content-type",
    "content-encoding",
    "x-amz-content-sha256",
    "x-amz-security-token",
];
/// Headers that may appear at most once: a second copy could make the server and this check
/// read different values.
const SINGLE: [&str; 9] = [
    "authorization",
    "host",
    "x-amz-date",
    "x-amz-target",
    "content-type",
    "content-encoding",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "content-length",
];
/// Most characters of request text quoted in a message.
const SHOWN_MAX: usize = 64;

/// A request as the HTTP door parsed it, borrowed: nothing is copied to check it.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// The method (`POST`).
    pub method: &'a str,
    /// The path as it appeared on the request line, still percent-encoded (`/`).
    pub path: &'a str,
    /// The query as it appeared on the request line, without `?` (empty for KMS).
    pub query: &'a str,
    /// Every header in arrival order, repeats included; names in any case.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body.
    pub body: &'a [u8],
}

impl fmt::Debug for Request<'_> {
    /// Header names and the body's length only: values and body may carry plaintext or a
    /// session token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl<'a> Request<'a> {
    fn values<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    fn has(&self, name: &str) -> bool {
        self.values(name).next().is_some()
    }
}

/// What a valid signature proves about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key that signed it.
    pub access_key_id: String,
    /// The region of its credential scope: the region the request is for.
    pub region: String,
    /// The date of its credential scope.
    pub date: Date,
    /// Its `X-Amz-Date`.
    pub time: OffsetDateTime,
    /// The headers the signature covers (lower-case, sorted).
    pub signed_headers: Vec<String>,
}

/// Why a request is refused, as AWS names it ([`AuthError::aws_type`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header (MissingAuthenticationTokenException).
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// The `Authorization` header, `X-Amz-Date` or the signed-header list is malformed or
    /// incomplete, or a header that must be signed is not (IncompleteSignatureException).
    #[error("{message}")]
    IncompleteSignature {
        /// AWS-style explanation (request text quoted is bounded and printable).
        message: String,
    },
    /// The credential scope names another service, an invalid region, another date or
    /// terminator, or the payload hash header is wrong (InvalidSignatureException).
    #[error("{message}")]
    InvalidScope {
        /// AWS-style explanation.
        message: String,
    },
    /// `X-Amz-Date` is more than [`MAX_SKEW`] before the server's clock
    /// (InvalidSignatureException).
    #[error("Signature expired: {request} is now earlier than {limit} ({now} - 5 min.)")]
    Expired {
        /// The request's `X-Amz-Date`.
        request: String,
        /// The earliest time accepted.
        limit: String,
        /// The server's time.
        now: String,
    },
    /// `X-Amz-Date` is more than [`MAX_SKEW`] after the server's clock
    /// (InvalidSignatureException).
    #[error("Signature not yet current: {request} is still later than {limit} ({now} + 5 min.)")]
    NotYetCurrent {
        /// The request's `X-Amz-Date`.
        request: String,
        /// The latest time accepted.
        limit: String,
        /// The server's time.
        now: String,
    },
    /// The signature does not verify under the access key's secret
    /// (InvalidSignatureException).
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureMismatch,
    /// The access key id is unknown, or the request carries a session token, which angou never
    /// issues (UnrecognizedClientException).
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
}

impl AuthError {
    /// The AWS exception name (`__type` of the JSON error).
    pub fn aws_type(&self) -> &'static str {
        match self {
            AuthError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            AuthError::IncompleteSignature { .. } => "IncompleteSignatureException",
            AuthError::InvalidScope { .. }
            | AuthError::Expired { .. }
            | AuthError::NotYetCurrent { .. }
            | AuthError::SignatureMismatch => "InvalidSignatureException",
            AuthError::UnrecognizedClient => "UnrecognizedClientException",
        }
    }

    /// The HTTP status AWS answers with (AWS "Common Errors": 403 for a missing token, 400
    /// otherwise).
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::MissingAuthenticationToken => 403,
            _ => 400,
        }
    }

    /// The message (the `message` of the JSON error).
    pub fn message(&self) -> String {
        self.to_string()
    }
}

fn incomplete(message: impl Into<String>) -> AuthError {
    AuthError::IncompleteSignature {
        message: message.into(),
    }
}

fn scope(message: impl Into<String>) -> AuthError {
    AuthError::InvalidScope {
        message: message.into(),
    }
}

/// Request text for a message: printable ASCII only, at most [`SHOWN_MAX`] characters.
fn shown(bytes: &[u8]) -> String {
    let mut s: String = bytes
        .iter()
        .filter(|b| b.is_ascii_graphic() || **b == b' ')
        .take(SHOWN_MAX)
        .map(|b| char::from(*b))
        .collect();
    if bytes.len() > SHOWN_MAX {
        s.push_str("...");
    }
    s
}

/// The parts of an `Authorization` header.
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &[u8]) -> Result<Authorization<'_>, AuthError> {
    let text = std::str::from_utf8(value)
        .ok()
        .filter(|t| t.is_ascii())
        .ok_or_else(|| incomplete("Authorization header is not ASCII text."))?;
    let (algorithm, rest) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported AWS 'algorithm': '{}', expected '{ALGORITHM}'.",
            shown(algorithm.as_bytes())
        )));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            incomplete(format!(
                "Authorization header element '{}' is not 'name=value'.",
                shown(part.as_bytes())
            ))
        })?;
        let slot = match k {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            other => {
                return Err(incomplete(format!(
                    "Authorization header has an unknown element '{}'.",
                    shown(other.as_bytes())
                )));
            }
        };
        if slot.replace(v).is_some() {
            return Err(incomplete(format!(
                "Authorization header has '{k}' more than once."
            )));
        }
    }
    let mut missing = String::new();
    for (name, v) in [
        ("Credential", &credential),
        ("Signature", &signature),
        ("SignedHeaders", &signed),
    ] {
        if v.is_none_or(|v| v.is_empty()) {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete(missing.trim_end()));
    };
    if !missing.is_empty() {
        return Err(incomplete(missing.trim_end()));
    }
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else {
        return Err(incomplete(format!(
            "Credential should have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'.",
            shown(credential.as_bytes())
        )));
    };
    let signed_headers: Vec<&str> = signed.split(';').collect();
    let well_formed = signed_headers.iter().all(|h| {
        !h.is_empty()
            && h.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.!#$%&'*+^`|~".contains(&b)
            })
    }) && signed_headers.windows(2).all(|w| w[0] < w[1]);
    if !well_formed {
        return Err(incomplete(format!(
            "SignedHeaders must be lower-case header names, sorted, each once, separated by ';', got '{}'.",
            shown(signed.as_bytes())
        )));
    }
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        terminator,
        signed_headers,
        signature,
    })
}

/// `YYYYMMDDTHHMMSSZ` (ISO 8601 basic format, UTC), exactly.
fn parse_amz_date(text: &[u8]) -> Option<OffsetDateTime> {
    if text.len() != 16 || text[8] != b'T' || text[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        text[r].iter().try_fold(0u32, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let date = Date::from_calendar_date(
        i32::try_from(num(0..4)?).ok()?,
        Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?,
        u8::try_from(num(6..8)?).ok()?,
    )
    .ok()?;
    let time = Time::from_hms(
        u8::try_from(num(9..11)?).ok()?,
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(13..15)?).ok()?,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// `t` as `YYYYMMDDTHHMMSSZ` in UTC.
pub fn amz_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// AWS region names: lower-case words joined by `-`, ending in a number (`us-east-1`,
/// `us-gov-west-1`, `eu-isoe-west-1`).
pub fn valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    region.len() <= 32
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].len() <= 2
        && !parts[parts.len() - 1].is_empty()
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

fn is_space(b: u8) -> bool {
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
fn canonical_request(req: &Request<'_>, signed: &[&str], payload_hash: &str) -> Vec<u8> {
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

fn hex(bytes: &[u8]) -> String {
    crate::kms::key::hex(bytes)
}

fn hmac(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(data);
    Zeroizing::new(m.finalize().into_bytes().into())
}

/// The signature (SigV4 tasks 2 to 4) over a canonical request.
fn signature(
    secret: &SecretAccessKey,
    amz_date: &str,
    scope: [&str; 3],
    canonical: &[u8],
) -> Zeroizing<[u8; 32]> {
    let [date, region, service] = scope;
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{date}/{region}/{service}/{TERMINATOR}\n{}",
        hex(&Sha256::digest(canonical))
    );
    let mut k = Zeroizing::new(Vec::with_capacity(4 + secret.expose_secret().len()));
    k.extend_from_slice(b"AWS4");
    k.extend_from_slice(secret.expose_secret());
    let k_date = hmac(&k, date.as_bytes());
    let k_region = hmac(&*k_date, region.as_bytes());
    let k_service = hmac(&*k_region, service.as_bytes());
    let k_signing = hmac(&*k_service, TERMINATOR.as_bytes());
    hmac(&*k_signing, string_to_sign.as_bytes())
}

/// Checks a KMS request's signature and everything around it, in this order: an
/// `Authorization` header (one), its shape, `X-Amz-Date` (one, ISO 8601 basic), the
/// credential scope (`<X-Amz-Date's date>/<valid region>/kms/aws4_request`), that `host`,
/// `x-amz-date` and `x-amz-target` (and `content-type`, `content-encoding`,
/// `x-amz-content-sha256`, `x-amz-security-token` when present) are signed and appear once,
/// a clock skew of at most [`MAX_SKEW`], no session token, the access key (`lookup`), and
/// the signature, compared in constant time.
///
/// `lookup` maps an access key id to its secret. A lookup that cannot answer (the store
/// fails) should return `None` and keep its own error, which the caller reports instead.
///
/// # Errors
/// [`AuthError`], whose [`AuthError::aws_type`] is the AWS exception to answer with.
pub fn verify(
    request: &Request<'_>,
    now: OffsetDateTime,
    lookup: impl FnOnce(&str) -> Option<SecretAccessKey>,
) -> Result<Verified, AuthError> {
    verify_for(request, now, lookup, SERVICE, &KMS_REQUIRED)
}

fn single<'a>(req: &Request<'a>, name: &str) -> Result<Option<&'a [u8]>, AuthError> {
    let mut it = req.values(name);
    let first = it.next();
    if it.next().is_some() {
        return Err(incomplete(format!(
            "The request has more than one '{name}' header."
        )));
    }
    Ok(first)
}

#[doc(hidden)]
/// [`verify`] for another service name and set of required headers (the AWS test suite signs
/// for `service`, without `x-amz-target`). Not for the server.
pub fn verify_for(
    request: &Request<'_>,
    now: OffsetDateTime,
    lookup: impl FnOnce(&str) -> Option<SecretAccessKey>,
    service: &str,
    required: &[&str],
) -> Result<Verified, AuthError> {
    let auth = match single(request, "authorization")? {
        None => return Err(AuthError::MissingAuthenticationToken),
        Some(v) if v.iter().all(|b| is_space(*b)) => {
            return Err(AuthError::MissingAuthenticationToken);
        }
        Some(v) => parse_authorization(v)?,
    };
    for name in SINGLE {
        single(request, name)?;
    }
    let raw_date = single(request, "x-amz-date")?.ok_or_else(|| {
        incomplete("Authorization header requires existence of an 'X-Amz-Date' header.")
    })?;
    let time = parse_amz_date(raw_date).ok_or_else(|| {
        incomplete(format!(
            "X-Amz-Date must be in ISO 8601 basic format, YYYYMMDD'T'HHMMSS'Z', got '{}'.",
            shown(raw_date)
        ))
    })?;
    let date_text = &raw_date[..8];
    if auth.date.as_bytes() != date_text {
        return Err(scope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            shown(auth.date.as_bytes()),
            shown(date_text),
            shown(raw_date)
        )));
    }
    if !valid_region(auth.region) {
        return Err(scope("Credential should be scoped to a valid region."));
    }
    if auth.service != service {
        return Err(scope(format!(
            "Credential should be scoped to correct service: '{service}'."
        )));
    }
    if auth.terminator != TERMINATOR {
        return Err(scope(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{}'.",
            shown(auth.terminator.as_bytes())
        )));
    }
    for name in required {
        if !request.has(name) {
            return Err(incomplete(format!(
                "The request has no '{name}' header, which must be present and signed."
            )));
        }
    }
    for name in required
        .iter()
        .chain(SIGNED_IF_PRESENT.iter().filter(|n| request.has(n)))
    {
        if !auth.signed_headers.contains(name) {
            return Err(incomplete(format!(
                "'{name}' must be a 'SignedHeader' in the AWS Authorization."
            )));
        }
    }
    for name in &auth.signed_headers {
        if !request.has(name) {
            return Err(incomplete(format!(
                "The signed header '{}' is not in the request.",
                shown(name.as_bytes())
            )));
        }
    }
    let payload_hash = hex(&Sha256::digest(request.body));
    if let Some(claimed) = single(request, "x-amz-content-sha256")?
        && claimed != payload_hash.as_bytes()
    {
        return Err(scope(
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ));
    }
    let now = now.to_offset(UtcOffset::UTC);
    if time < now - MAX_SKEW {
        return Err(AuthError::Expired {
            request: amz_date(time),
            limit: amz_date(now - MAX_SKEW),
            now: amz_date(now),
        });
    }
    if time > now + MAX_SKEW {
        return Err(AuthError::NotYetCurrent {
            request: amz_date(time),
            limit: amz_date(now + MAX_SKEW),
            now: amz_date(now),
        });
    }
    if request.has("x-amz-security-token") {
        return Err(AuthError::UnrecognizedClient);
    }
    let id_ok = !auth.access_key_id.is_empty()
        && auth.access_key_id.len() <= 128
        && auth
            .access_key_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric());
    let secret = id_ok
        .then(|| lookup(auth.access_key_id))
        .flatten()
        .ok_or(AuthError::UnrecognizedClient)?;
    let given = decode_signature(auth.signature).ok_or(AuthError::SignatureMismatch)?;
    let canonical = canonical_request(request, &auth.signed_headers, &payload_hash);
    let expected = signature(
        &secret,
        std::str::from_utf8(raw_date).unwrap_or_default(),
        [auth.date, auth.region, service],
        &canonical,
    );
    if !bool::from(expected.ct_eq(&given)) {
        return Err(AuthError::SignatureMismatch);
    }
    Ok(Verified {
        access_key_id: auth.access_key_id.to_owned(),
        region: auth.region.to_owned(),
        date: time.date(),
        time,
        signed_headers: auth
            .signed_headers
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    })
}

/// 64 lower-case hex digits.
fn decode_signature(text: &str) -> Option<[u8; 32]> {
    let b = text.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(b[2 * i])? << 4 | digit(b[2 * i + 1])?;
    }
    Some(out)
}

/// An access key to sign with.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// Its secret.
    pub secret: &'a SecretAccessKey,
}

/// The two headers [`sign`] adds to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The `X-Amz-Date` value.
    pub x_amz_date: String,
    /// The `Authorization` value.
    pub authorization: String,
}

/// Signs `request` for KMS in `region` at `now`, covering every header it carries (its
/// names lower-cased) plus the `X-Amz-Date` it returns. `request` must carry neither
/// `X-Amz-Date` nor `Authorization`; add both returned values before sending.
pub fn sign(
    request: &Request<'_>,
    credentials: Credentials<'_>,
    region: &str,
    now: OffsetDateTime,
) -> Signed {
    let mut names: Vec<String> = request
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .chain(["x-amz-date".to_owned()])
        .collect();
    names.sort();
    names.dedup();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    sign_for(request, &names, credentials, region, SERVICE, now)
}

#[doc(hidden)]
/// [`sign`] with a chosen list of signed headers (lower-case, sorted) and service, for tests
/// that need a correctly signed request that leaves a header out. `x-amz-date` is added to
/// the request's headers for signing.
pub fn sign_for(
    request: &Request<'_>,
    signed_headers: &[&str],
    credentials: Credentials<'_>,
    region: &str,
    service: &str,
    now: OffsetDateTime,
) -> Signed {
    let x_amz_date = amz_date(now);
    let mut headers: Vec<(&str, &[u8])> = request.headers.to_vec();
    headers.push(("x-amz-date", x_amz_date.as_bytes()));
    let with_date = Request {
        headers: &headers,
        ..*request
    };
    let canonical = canonical_request(
        &with_date,
        signed_headers,
        &hex(&Sha256::digest(request.body)),
    );
    let date = &x_amz_date[..8];
    let sig = signature(
        credentials.secret,
        &x_amz_date,
        [date, region, service],
        &canonical,
    );
    let authorization = format!(
        "{ALGORITHM} Credential={}/{date}/{region}/{service}/{TERMINATOR}, SignedHeaders={}, Signature={}",
        credentials.access_key_id,
        signed_headers.join(";"),
        hex(&*sig)
    );
    Signed {
        x_amz_date,
        authorization,
    }
}

#[doc(hidden)]
/// The canonical request as text, for comparing with the AWS test suite.
pub fn canonical_request_text(request: &Request<'_>, signed_headers: &[&str]) -> Vec<u8> {
    canonical_request(request, signed_headers, &hex(&Sha256::digest(request.body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_are_strict() {
        assert!(parse_amz_date(b"20150830T123600Z").is_some());
        for bad in [
            &b"20150830T123600"[..],
            b"2015-08-30T12:36:00Z",
            b"20150830t123600z",
            b"20151330T123600Z",
            b"20150830T246000Z",
            b"+0150830T123600Z",
            b"20150830T12360\xffZ",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad:?}");
        }
        let t = parse_amz_date(b"20150830T123600Z").unwrap();
        assert_eq!(amz_date(t), "20150830T123600Z");
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "eu-isoe-west-1",
            "ap-southeast-5",
        ] {
            assert!(valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us-east-1 ",
            "us_east_1",
            "us--1",
            "us-east-123",
            "local",
            "us-east-1/",
            "ü-east-1",
        ] {
            assert!(!valid_region(bad), "{bad}");
        }
    }
}
