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

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The one signing algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The service every credential scope must name.
pub const SERVICE: &str = "kms";
/// How far `X-Amz-Date` may be from the server's clock, either way (AWS's limit).
pub const MAX_SKEW: Duration = Duration::minutes(5);
/// The last element of a credential scope.
const TERMINATOR: &str = "aws4_request";

mod canonical;
mod sign;
mod verify;

pub use canonical::canonical_request_text;
pub use sign::{Credentials, Signed, sign, sign_for};
pub use verify::{AuthError, verify, verify_for};

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

fn hex(bytes: &[u8]) -> String {
    crate::kms::key::hex(bytes)
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
