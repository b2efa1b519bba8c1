//! Signing (SigV4 tasks 2 to 4): the string to sign, the derived signing key and the
//! signature, and [`sign`] for angou's own clients, tests and benchmarks.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::canonical::canonical_request;
use super::{ALGORITHM, Request, SERVICE, TERMINATOR, amz_date, hex};
use crate::secret::SecretAccessKey;

pub(super) fn hmac(key: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(data);
    Zeroizing::new(m.finalize().into_bytes().into())
}

/// The signature (SigV4 tasks 2 to 4) over a canonical request.
pub(super) fn signature(
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
