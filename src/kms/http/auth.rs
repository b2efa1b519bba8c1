//! Authentication: AWS Signature Version 4 against the store's access keys, or
//! `--allow-unsigned`; what a refused request leaves in the audit log.

use time::OffsetDateTime;

use super::Request;
use super::server::Shared;
use super::sigv4::{self, AuthError};
use crate::kms::ops::{ApiError, ErrorKind};

/// Who a request is from and which region it is for.
#[derive(Debug, Clone)]
pub(super) struct Principal {
    /// The access key id, or `unsigned`.
    pub(super) caller: String,
    pub(super) region: Option<String>,
    /// The access key id and its user, for a signed request.
    pub(super) access_key: Option<(String, String)>,
}
/// A request the authentication step refused: the error for the caller, and what the audit
/// entry records (never a secret or a signature).
pub(super) struct Refusal {
    pub(super) error: ApiError,
    /// A fixed phrase per cause ([`audit_reason`]); no request text.
    pub(super) reason: &'static str,
    /// The access key id the request names, when it is well formed.
    pub(super) claimed: Option<String>,
    /// That key's user, when the store holds it.
    pub(super) user: Option<String>,
}

/// The API error AWS answers an [`AuthError`] with.
pub fn auth_api_error(e: &AuthError) -> ApiError {
    let kind = match e {
        AuthError::MissingAuthenticationToken => ErrorKind::MissingAuthenticationToken,
        AuthError::IncompleteSignature { .. } => ErrorKind::IncompleteSignature,
        AuthError::UnrecognizedClient => ErrorKind::UnrecognizedClient,
        _ => ErrorKind::InvalidSignature,
    };
    debug_assert_eq!(kind.name(), e.aws_type());
    debug_assert_eq!(kind.http_status(), e.http_status());
    ApiError::new(kind, e.message())
}

/// Why a request was refused, for the audit log: fixed text, so no header value (a
/// signature, a token) can reach the log through it.
fn audit_reason(e: &AuthError) -> &'static str {
    match e {
        AuthError::MissingAuthenticationToken => "no Authorization header",
        AuthError::IncompleteSignature { .. } => "malformed or incomplete signature",
        AuthError::InvalidScope { .. } => {
            "credential scope or payload hash does not match the request"
        }
        AuthError::Expired { .. } => "X-Amz-Date more than 5 minutes in the past",
        AuthError::NotYetCurrent { .. } => "X-Amz-Date more than 5 minutes in the future",
        AuthError::SignatureMismatch => "signature does not match",
        AuthError::UnrecognizedClient => "unknown access key or a session token",
    }
}

/// The authentication step: AWS Signature Version 4 against the store's access keys
/// ([`sigv4::verify`]; the region is the credential scope's), or, with `--allow-unsigned`,
/// anything, recorded as `unsigned` (the region is then read from an `Authorization`
/// header's credential scope when there is one, unchecked).
pub(super) fn authenticate(shared: &Shared, req: &Request) -> Result<Principal, Box<Refusal>> {
    if shared.config.allow_unsigned {
        return Ok(Principal {
            caller: "unsigned".into(),
            region: req.header("authorization").and_then(scope_region),
            access_key: None,
        });
    }
    let headers: Vec<(&str, &[u8])> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let signed = sigv4::Request {
        method: &req.method,
        path,
        query,
        headers: &headers,
        body: &req.body,
    };
    let mut user = None;
    let mut store_error = None;
    let verified = sigv4::verify(&signed, OffsetDateTime::now_utc(), |id| {
        match shared.kms.access_key_secret(id) {
            Ok(Some(c)) => {
                user = Some(c.user);
                Some(c.secret)
            }
            Ok(None) => None,
            Err(e) => {
                store_error = Some(e);
                None
            }
        }
    });
    if let Some(e) = store_error {
        return Err(Box::new(Refusal {
            error: ApiError::from(e),
            reason: "the key store could not look up the access key",
            claimed: None,
            user: None,
        }));
    }
    match verified {
        Ok(v) => Ok(Principal {
            caller: v.access_key_id.clone(),
            region: Some(v.region),
            access_key: Some((v.access_key_id, user.unwrap_or_default())),
        }),
        Err(e) => Err(Box::new(Refusal {
            error: auth_api_error(&e),
            reason: audit_reason(&e),
            claimed: req.header("authorization").and_then(claimed_access_key),
            user,
        })),
    }
}

/// The region of an `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/kms/aws4_request, …`.
fn scope_region(auth: &str) -> Option<String> {
    let cred = auth
        .split([' ', ','])
        .find_map(|p| p.trim().strip_prefix("Credential="))?;
    let mut parts = cred.split('/');
    let region = parts.nth(2)?;
    Some(region.to_owned())
}

/// The access key id an `Authorization` header names, when it looks like one (1 to 128
/// letters and digits): recorded for refused requests, so nothing else of the header is.
fn claimed_access_key(auth: &str) -> Option<String> {
    let cred = auth
        .split([' ', ','])
        .find_map(|p| p.trim().strip_prefix("Credential="))?;
    let id = cred.split('/').next()?;
    ((1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_from_credential_scope() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-2/kms/aws4_request, SignedHeaders=host, Signature=00";
        assert_eq!(scope_region(auth).as_deref(), Some("eu-west-2"));
        assert_eq!(scope_region("Bearer x"), None);
    }
}
