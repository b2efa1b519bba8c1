//! Answering one request: the method and path, authentication, the content type, the
//! operation layer, and the HTTP response (200 with JSON, the AWS error shape, the 503).

use std::io::Write;

use zeroize::Zeroizing;

use super::auth::authenticate;
use super::server::Shared;
use super::{CONTENT_TYPE, Request, TARGET_PREFIX};
use crate::kms::ops::{self, ApiError, CallContext, ErrorKind};
use crate::kms::{Home, KeyId};

/// Writes a store failure that no request is answered with (the server's idle work) to
/// stderr, as request failures' details are.
pub(super) fn report_internal(e: &crate::Error) {
    let _ = writeln!(std::io::stderr(), "angou kms serve: internal error: {e}");
}

/// Answers one request: status and body.
pub(super) fn handle(
    shared: &Shared,
    req: &Request,
    peer: Option<String>,
) -> (u16, Zeroizing<Vec<u8>>) {
    let fail = |e: ApiError| {
        if let Some(d) = e.detail() {
            let _ = writeln!(std::io::stderr(), "angou kms serve: internal error: {d}");
        }
        (e.kind.http_status(), Zeroizing::new(e.to_json()))
    };
    let op = req
        .header("x-amz-target")
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or("");
    if req.method != "POST" || req.path != "/" {
        return fail(ApiError::new(
            ErrorKind::UnknownOperation,
            "only POST / is served (the AWS KMS JSON 1.1 protocol)",
        ));
    }
    let principal = match authenticate(shared, req) {
        Ok(p) => p,
        Err(r) => {
            let mut kms = shared.kms.clone().with_caller("unauthenticated", peer);
            if let Some(id) = r.claimed {
                kms = kms.with_access_key(id, r.user);
            }
            if let Err(e) =
                kms.record_refused_because(audit_name(op), r.error.kind.name(), Some(r.reason))
            {
                return fail(ApiError::from(e));
            }
            return fail(r.error);
        }
    };
    let home = match principal.region.as_deref() {
        Some(r) => match Home::new(r, shared.config.home.account()) {
            Ok(h) => h,
            Err(_) => {
                return fail(ApiError::new(
                    ErrorKind::IncompleteSignature,
                    "the credential scope names no valid region",
                ));
            }
        },
        None => shared.config.home.clone(),
    };
    let call = CallContext {
        home,
        caller: principal.caller,
        source: peer,
        access_key: principal.access_key,
    };
    let content_type_ok = req.header("content-type").is_none_or(|t| {
        let t = t.to_ascii_lowercase();
        t.starts_with(CONTENT_TYPE) || t.starts_with("application/x-amz-json-1.0")
    });
    if !content_type_ok {
        let e = ApiError::new(
            ErrorKind::Serialization,
            format!("the content type must be {CONTENT_TYPE}"),
        );
        let mut kms = shared
            .kms
            .clone()
            .with_region(call.home.clone())
            .with_caller(call.caller.clone(), call.source.clone());
        if let Some((id, user)) = &call.access_key {
            kms = kms.with_access_key(id.clone(), Some(user.clone()));
        }
        let _ = kms.record_refused(audit_name(op), e.kind.name());
        return fail(e);
    }
    match ops::dispatch(&shared.kms, &call, op, &req.body) {
        Ok(body) => (200, body),
        Err(e) => fail(e),
    }
}

fn audit_name(op: &str) -> &str {
    if ops::OPERATIONS.contains(&op) {
        op
    } else {
        "UnknownOperation"
    }
}
/// The 503 of a server with no worker free.
pub(super) fn write_busy<W: Write>(stream: &mut W) {
    let e = ApiError::new(ErrorKind::KmsInternal, "the server is busy; retry");
    let _ = write_response(stream, 503, "Service Unavailable", &e.to_json(), false);
}
pub(super) fn write_response(
    stream: &mut impl Write,
    code: u16,
    reason: &str,
    body: &[u8],
    keep_alive: bool,
) -> std::io::Result<()> {
    let request_id = KeyId::generate().map(|k| k.to_string()).unwrap_or_default();
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nx-amzn-RequestId: {request_id}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\n{}\r\n",
        body.len(),
        if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        }
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}
