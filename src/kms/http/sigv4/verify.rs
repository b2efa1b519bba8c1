//! Verification: [`verify`] checks a request's `Authorization` header, date, scope, signed
//! headers and signature the way AWS does, and names a refusal with [`AuthError`].

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{OffsetDateTime, UtcOffset};

use super::canonical::{canonical_request, is_space};
use super::sign::signature;
use super::{
    ALGORITHM, MAX_SKEW, Request, SERVICE, TERMINATOR, Verified, amz_date, hex, parse_amz_date,
    valid_region,
};
use crate::secret::SecretAccessKey;

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
