//! One connection: plain or TLS, its keep-alive loop (waiting for the next request, reading it
//! within the limits, answering it), and the busy answer of a refusal thread.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::answer::{handle, write_busy, write_response};
use super::request::{self, HttpError};
use super::server::Shared;
use super::tls;
use crate::kms::ops::{ApiError, ErrorKind};

/// Accepts the connection ([`accept`]), reads its request (within the read timeout; whatever
/// it is) and answers 503. Reading it
/// first matters: closing a socket with unread bytes resets the connection, and the client
/// could lose the answer.
pub(super) fn refuse_busy(stream: TcpStream, shared: &Shared) {
    let Some(mut stream) = accept(stream, shared) else {
        return;
    };
    let mut buf = Zeroizing::new(Vec::new());
    let set_timeout = |s: &mut Box<dyn Conn>, d: Duration| s.limit_reads(d);
    let _ = request::read_request(&mut stream, &mut buf, &shared.config.limits, &set_timeout);
    write_busy(&mut stream);
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
pub(super) trait Conn: std::io::Read + Write {
    /// The socket underneath.
    fn tcp(&self) -> &TcpStream;
    /// Every read from now on must end within `d`.
    fn limit_reads(&mut self, d: Duration);
    /// Whether request bytes already arrived and wait in a buffer (TLS).
    fn buffered(&mut self) -> bool {
        false
    }
}

impl<T: Conn + ?Sized> Conn for Box<T> {
    fn tcp(&self) -> &TcpStream {
        (**self).tcp()
    }

    fn limit_reads(&mut self, d: Duration) {
        (**self).limit_reads(d);
    }

    fn buffered(&mut self) -> bool {
        (**self).buffered()
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

pub(super) fn serve_connection(stream: TcpStream, shared: &Shared) {
    let peer = stream.peer_addr().ok().map(|a| a.to_string());
    if let Some(conn) = accept(stream, shared) {
        serve_requests(conn, shared, peer);
    }
}

/// A new connection as workers and refusal threads both take it: the socket options every
/// connection gets, then, under TLS, the handshake, which gets the read timeout as a request
/// does. `None` when the handshake fails.
fn accept(stream: TcpStream, shared: &Shared) -> Option<Box<dyn Conn>> {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(shared.config.limits.read_timeout));
    match &shared.tls {
        None => Some(Box::new(stream)),
        Some(config) => tls::accept(config.clone(), stream, shared.config.limits.read_timeout)
            .map(|c| Box::new(c) as Box<dyn Conn>),
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
