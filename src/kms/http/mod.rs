//! `angou kms serve`: the AWS KMS JSON 1.1 protocol over HTTP/1.1, a thin door onto
//! [`crate::kms::ops::dispatch`]. It reads a request within limits, authenticates it (AWS
//! Signature V4 against the store's access keys, [`sigv4::verify`]; the request's region is
//! its credential scope's), hands
//! the operation named by `X-Amz-Target: TrentService.<Operation>` and the body to the
//! operation layer, and writes its answer: 200 with JSON, or 400 (500 for faults) with
//! `{"__type": …, "message": …}`.
//!
//! A fixed pool of worker threads serves connections (HTTP/1.1 keep-alive); a request is read
//! whole, within a size limit and a read timeout, before the store is touched, so a slow
//! client holds one worker for at most the read timeout and never holds the store lock.
//!
//! When every worker is busy and the queue is full, a connection goes to one of
//! [`REFUSERS`] refusal threads, which (after the TLS handshake, under TLS) read its request
//! within the read timeout and answer 503 (`KMSInternalException`, "the server is busy;
//! retry"), which the AWS SDKs retry. A slow client holds a refusal thread for at most the
//! handshake's and the request's read timeouts, never a worker; when the refusal threads
//! and their queue are taken too, a plain connection gets the 503 at once without its request
//! being read, and a TLS connection is closed, since answering it would mean a handshake on
//! the accepting thread, which one slow client could then stall for everyone.

mod request;
pub mod sigv4;
mod tls;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use zeroize::Zeroizing;

pub use request::{HttpError, Request, body_len, parse_head};
pub use tls::{TlsError, TlsFiles};

use crate::kms::ops::{self, ApiError, CallContext, ErrorKind};
use crate::kms::{Home, KeyId, Kms};
use sigv4::AuthError;

/// The `X-Amz-Target` prefix of the AWS KMS API.
pub const TARGET_PREFIX: &str = "TrentService.";
/// The content type of requests and responses.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Size and time limits of one connection.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most bytes in a request head (16 KiB).
    pub max_head: usize,
    /// Most bytes in a request body (256 KiB: the largest valid body, a ReEncrypt of a
    /// 6 KiB ciphertext with contexts, is far below it).
    pub max_body: usize,
    /// Time from a request's first byte to its last (10 s).
    pub read_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request (60 s).
    pub idle_timeout: Duration,
    /// Worker threads, each serving one connection at a time (128: enough for 64 busy
    /// keep-alive clients with room for stalled ones; each idle thread costs little memory).
    pub workers: usize,
    /// Accepted connections waiting for a worker (256); past it, 503.
    pub queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 16 * 1024,
            max_body: 256 * 1024,
            read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            workers: 128,
            queue: 256,
        }
    }
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on (`127.0.0.1:4599`; port 0 picks a free port).
    pub listen: String,
    /// The region of requests that name none, and the account of every ARN.
    pub home: Home,
    /// Serve requests without a signature (throw-away test stores on loopback only).
    pub allow_unsigned: bool,
    /// Serve TLS with this certificate and key (required off loopback).
    pub tls: Option<TlsFiles>,
    /// Size and time limits.
    pub limits: Limits,
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// `--allow-unsigned` on an address other hosts can reach.
    #[error(
        "--allow-unsigned is refused on {addr}: unsigned requests are served on loopback addresses only (127.0.0.1, ::1)"
    )]
    UnsignedNotLoopback {
        /// The address.
        addr: SocketAddr,
    },
    /// A non-loopback address without TLS.
    #[error(
        "listening on {addr} requires TLS (--tls-cert/--tls-key): requests and their answers (data keys, plaintexts) would cross the network in the clear"
    )]
    TlsRequired {
        /// The address.
        addr: SocketAddr,
    },
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The address does not parse or resolve.
    #[error("cannot use listen address {given:?}: {reason}")]
    Address {
        /// What was given.
        given: String,
        /// Why.
        reason: String,
    },
    /// Binding or serving failed.
    #[error("cannot listen on {addr}: {source}")]
    Io {
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Stops a running [`Server`] from another thread (a signal handler's).
#[derive(Debug, Clone)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl Stopper {
    /// Asks the server to stop: it accepts nothing more, finishes the requests in flight, and
    /// [`Server::run`] returns.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        // Wakes the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// A bound server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    kms: Kms,
    config: Config,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: Arc<AtomicBool>,
}

/// Who a request is from and which region it is for.
#[derive(Debug, Clone)]
struct Principal {
    /// The access key id, or `unsigned`.
    caller: String,
    region: Option<String>,
    /// The access key id and its user, for a signed request.
    access_key: Option<(String, String)>,
}

impl Server {
    /// Binds the listen address, after the address rules: `allow_unsigned` on loopback only,
    /// and any other address with TLS only; loads the TLS certificate and key.
    ///
    /// # Errors
    /// [`ServeError`].
    pub fn bind(kms: Kms, config: Config) -> Result<Server, ServeError> {
        let addr = config
            .listen
            .to_socket_addrs()
            .map_err(|e| ServeError::Address {
                given: config.listen.clone(),
                reason: e.to_string(),
            })?
            .next()
            .ok_or_else(|| ServeError::Address {
                given: config.listen.clone(),
                reason: "it resolves to no address".into(),
            })?;
        if !addr.ip().is_loopback() {
            if config.allow_unsigned {
                return Err(ServeError::UnsignedNotLoopback { addr });
            }
            if config.tls.is_none() {
                return Err(ServeError::TlsRequired { addr });
            }
        }
        let tls = config.tls.as_ref().map(tls::load).transpose()?;
        let listener = TcpListener::bind(addr).map_err(|source| ServeError::Io {
            addr: addr.to_string(),
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Io {
            addr: addr.to_string(),
            source,
        })?;
        Ok(Server {
            listener,
            addr,
            // One process serving many requests: keep the store open (kms/local/resident.rs).
            kms: kms.with_resident_state(),
            config,
            tls,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The bound address (with the port picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL clients use: `https://` when TLS is served.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// A handle that stops the server.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            flag: self.stop.clone(),
            addr: self.addr,
        }
    }

    /// Serves until stopped, then finishes the requests in flight and returns.
    ///
    /// # Errors
    /// [`ServeError::Io`] when accepting fails for good.
    pub fn run(self) -> Result<(), ServeError> {
        let limits = self.config.limits.clone();
        let (tx, rx) = sync_channel::<TcpStream>(limits.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let queued = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared {
            kms: self.kms.clone(),
            config: self.config.clone(),
            tls: self.tls.clone(),
            stop: self.stop.clone(),
            queued: queued.clone(),
        });
        let workers: Vec<_> = (0..limits.workers.max(1))
            .map(|_| {
                let rx = rx.clone();
                let shared = shared.clone();
                std::thread::spawn(move || worker(&rx, &shared))
            })
            .collect();
        let (refuse_tx, refuse_rx) = sync_channel::<TcpStream>(REFUSERS);
        let refuse_rx = Arc::new(Mutex::new(refuse_rx));
        let refusers: Vec<_> = (0..REFUSERS)
            .map(|_| {
                let rx = refuse_rx.clone();
                let shared = shared.clone();
                std::thread::spawn(move || refuser(&rx, &shared))
            })
            .collect();
        for conn in self.listener.incoming() {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = conn else { continue };
            queued.fetch_add(1, Ordering::SeqCst);
            match tx.try_send(stream) {
                Ok(()) => {}
                Err(TrySendError::Full(s) | TrySendError::Disconnected(s)) => {
                    queued.fetch_sub(1, Ordering::SeqCst);
                    match refuse_tx.try_send(s) {
                        Ok(()) => {}
                        // Every refusal thread is taken (module docs): a TLS connection is
                        // closed, since its handshake must not run on this thread.
                        Err(TrySendError::Full(_) | TrySendError::Disconnected(_))
                            if self.tls.is_some() => {}
                        Err(TrySendError::Full(mut s) | TrySendError::Disconnected(mut s)) => {
                            let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
                            write_busy(&mut s);
                        }
                    }
                }
            }
        }
        drop(tx);
        drop(refuse_tx);
        for w in workers.into_iter().chain(refusers) {
            let _ = w.join();
        }
        Ok(())
    }
}

struct Shared {
    kms: Kms,
    config: Config,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
}

fn worker(rx: &Mutex<Receiver<TcpStream>>, shared: &Shared) {
    while let Some(stream) = next_connection(rx) {
        shared.queued.fetch_sub(1, Ordering::SeqCst);
        serve_connection(stream, shared);
    }
}

/// The next connection of a pool's queue; `None` once the server stops.
fn next_connection(rx: &Mutex<Receiver<TcpStream>>) -> Option<TcpStream> {
    rx.lock().ok()?.recv().ok()
}

/// Threads that answer 503 to connections no worker can take (module docs).
pub const REFUSERS: usize = 4;

/// A refusal thread: answers 503 to each connection it is given.
fn refuser(rx: &Mutex<Receiver<TcpStream>>, shared: &Shared) {
    while let Some(stream) = next_connection(rx) {
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(shared.config.limits.read_timeout));
        match &shared.tls {
            None => refuse_busy(stream, shared),
            Some(config) => {
                if let Some(conn) =
                    tls::accept(config.clone(), stream, shared.config.limits.read_timeout)
                {
                    refuse_busy(conn, shared);
                }
            }
        }
    }
}

/// Reads the request (within the read timeout; whatever it is) and answers 503. Reading it
/// first matters: closing a socket with unread bytes resets the connection, and the client
/// could lose the answer.
fn refuse_busy<C: Conn>(mut stream: C, shared: &Shared) {
    let mut buf = Zeroizing::new(Vec::new());
    let set_timeout = |s: &mut C, d: Duration| s.limit_reads(d);
    let _ = request::read_request(&mut stream, &mut buf, &shared.config.limits, &set_timeout);
    write_busy(&mut stream);
}

/// The 503 of a server with no worker free.
fn write_busy<W: Write>(stream: &mut W) {
    let e = ApiError::new(ErrorKind::KmsInternal, "the server is busy; retry");
    let _ = write_response(stream, 503, "Service Unavailable", &e.to_json(), false);
}

/// How often an idle connection looks at the stop flag and the queue.
const IDLE_SLICE: Duration = Duration::from_millis(100);

/// Waits for the first byte of the next request; closes when the peer does, when idle too
/// long, when the server stops, or when others wait for a worker.
fn wait_for_request<C: Conn>(stream: &mut C, buf: &[u8], shared: &Shared) -> bool {
    if !buf.is_empty() || stream.buffered() {
        return true;
    }
    let start = Instant::now();
    let mut probe = [0u8; 1];
    loop {
        if shared.stop.load(Ordering::SeqCst)
            || start.elapsed() >= shared.config.limits.idle_timeout
            || shared.queued.load(Ordering::SeqCst) > 0 && start.elapsed() >= IDLE_SLICE
        {
            return false;
        }
        let _ = stream.tcp().set_read_timeout(Some(IDLE_SLICE));
        match stream.tcp().peek(&mut probe) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return false,
        }
    }
}

/// A connection, plain or TLS.
trait Conn: std::io::Read + Write {
    /// The socket underneath.
    fn tcp(&self) -> &TcpStream;
    /// Every read from now on must end within `d`.
    fn limit_reads(&mut self, d: Duration);
    /// Whether request bytes already arrived and wait in a buffer (TLS).
    fn buffered(&mut self) -> bool {
        false
    }
}

impl Conn for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }

    fn limit_reads(&mut self, d: Duration) {
        let _ = self.set_read_timeout(Some(d.max(Duration::from_millis(1))));
    }
}

impl Conn for tls::TlsConn {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }

    fn limit_reads(&mut self, d: Duration) {
        self.set_deadline(d);
    }

    fn buffered(&mut self) -> bool {
        tls::TlsConn::buffered(self)
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(shared.config.limits.read_timeout));
    let peer = stream.peer_addr().ok().map(|a| a.to_string());
    match &shared.tls {
        None => serve_requests(stream, shared, peer),
        Some(config) => {
            // The handshake gets the read timeout, as a request does.
            if let Some(conn) =
                tls::accept(config.clone(), stream, shared.config.limits.read_timeout)
            {
                serve_requests(conn, shared, peer);
            }
        }
    }
}

fn serve_requests<C: Conn>(mut stream: C, shared: &Shared, peer: Option<String>) {
    let mut buf = Zeroizing::new(Vec::new());
    let set_timeout = |s: &mut C, d: Duration| s.limit_reads(d);
    loop {
        if !wait_for_request(&mut stream, &buf, shared) {
            return;
        }
        let req =
            match request::read_request(&mut stream, &mut buf, &shared.config.limits, &set_timeout)
            {
                Ok(r) => r,
                Err(e) => {
                    let (code, reason) = e.status();
                    let kind = match e {
                        HttpError::BodyTooLarge | HttpError::HeadTooLarge => ErrorKind::Validation,
                        _ => ErrorKind::Serialization,
                    };
                    let body = ApiError::new(kind, e.message()).to_json();
                    let _ = write_response(&mut stream, code, reason, &body, false);
                    return;
                }
            };
        let keep = req.keep_alive() && !shared.stop.load(Ordering::SeqCst);
        let (code, body) = handle(shared, &req, peer.clone());
        let reason = match code {
            200 => "OK",
            403 => "Forbidden",
            500 => "Internal Server Error",
            _ => "Bad Request",
        };
        if write_response(&mut stream, code, reason, &body, keep).is_err() || !keep {
            return;
        }
    }
}

/// Answers one request: status and body.
fn handle(shared: &Shared, req: &Request, peer: Option<String>) -> (u16, Zeroizing<Vec<u8>>) {
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

/// A request the authentication step refused: the error for the caller, and what the audit
/// entry records (never a secret or a signature).
struct Refusal {
    error: ApiError,
    /// A fixed phrase per cause ([`audit_reason`]); no request text.
    reason: &'static str,
    /// The access key id the request names, when it is well formed.
    claimed: Option<String>,
    /// That key's user, when the store holds it.
    user: Option<String>,
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
fn authenticate(shared: &Shared, req: &Request) -> Result<Principal, Box<Refusal>> {
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

fn write_response(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_from_credential_scope() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-2/kms/aws4_request, SignedHeaders=host, Signature=00";
        assert_eq!(scope_region(auth).as_deref(), Some("eu-west-2"));
        assert_eq!(scope_region("Bearer x"), None);
    }

    #[test]
    fn non_loopback_is_refused() {
        let kms = Kms::open("/nonexistent", crate::kms::Clock::System);
        let config = |listen: &str, allow_unsigned| Config {
            listen: listen.into(),
            home: Home::default(),
            allow_unsigned,
            tls: None,
            limits: Limits::default(),
        };
        assert!(matches!(
            Server::bind(kms.clone(), config("0.0.0.0:0", true)),
            Err(ServeError::UnsignedNotLoopback { .. })
        ));
        let e = Server::bind(kms, config("0.0.0.0:0", false)).unwrap_err();
        assert!(e.to_string().contains("--tls-cert/--tls-key"));
    }
}
