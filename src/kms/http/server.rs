//! The server: its limits and configuration, binding (the address rules), the accept loop,
//! the worker pool and the refusal threads that answer 503 when every worker is busy.

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::answer::write_busy;
use super::connection::{refuse_busy, serve_connection};
use super::tls::{self, TlsError, TlsFiles};
use crate::kms::{Home, Kms};

/// How often an idle server applies its write-ahead log.
const SETTLE_EVERY: Duration = Duration::from_millis(200);

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
        // Between requests, bring store.json and audit.log up to date with the write-ahead log
        // (kms/local/resident.rs), so the log trails the answers by little.
        let (tick_tx, tick_rx) = sync_channel::<()>(0);
        let kms = self.kms.clone();
        let ticker = std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = tick_rx.recv_timeout(SETTLE_EVERY) {
                if let Err(e) = kms.settle_idle() {
                    super::answer::report_internal(&e);
                }
            }
        });
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
        drop(tick_tx);
        let _ = ticker.join();
        // Every answered request is durable already; this leaves the files settled.
        if let Err(e) = self.kms.settle() {
            super::answer::report_internal(&e);
        }
        Ok(())
    }
}

pub(super) struct Shared {
    pub(super) kms: Kms,
    pub(super) config: Config,
    pub(super) tls: Option<Arc<rustls::ServerConfig>>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) queued: Arc<AtomicUsize>,
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
        refuse_busy(stream, shared);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
