//! TLS for `angou kms serve` (`--tls-cert`, `--tls-key`): rustls with the *ring* provider,
//! TLS 1.2 and 1.3 with rustls's safe defaults, no client certificates.
//!
//! The connection's limits hold under TLS as without it: the handshake must finish within the
//! read timeout, read one TLS record at a time by this module so the deadline is looked at
//! after every socket read (rustls's own `complete_io` loops for as long as a client trickles
//! bytes); a request's bytes then obey the same deadline through [`TlsConn`]'s reads.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};
use zeroize::Zeroizing;

/// The certificate chain and private key files (PEM) of a TLS listener.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first (PEM `CERTIFICATE` blocks).
    pub cert: PathBuf,
    /// The leaf's private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key: PathBuf,
}

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot use {what} {path}: {reason}")]
pub struct TlsError {
    /// `certificate` or `private key`.
    pub what: &'static str,
    /// The file.
    pub path: String,
    /// Why.
    pub reason: String,
}

fn read(what: &'static str, path: &Path) -> Result<Zeroizing<Vec<u8>>, TlsError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| TlsError {
            what,
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

/// Loads the files into a rustls server configuration.
///
/// # Errors
/// [`TlsError`] for a file that cannot be read, holds no certificate or key, or a key that
/// does not match the certificate.
pub(crate) fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let fail = |what, path: &Path, reason: String| TlsError {
        what,
        path: path.display().to_string(),
        reason,
    };
    let cert_pem = read("certificate", &files.cert)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| fail("certificate", &files.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(fail(
            "certificate",
            &files.cert,
            "it holds no PEM CERTIFICATE block".into(),
        ));
    }
    let key_pem = read("private key", &files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        fail(
            "private key",
            &files.key,
            format!("it holds no PEM private key ({e})"),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail("certificate", &files.cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| fail("private key", &files.key, e.to_string()))?;
    Ok(Arc::new(config))
}

/// A server-side TLS connection whose reads keep a deadline across socket reads.
pub(crate) struct TlsConn {
    conn: ServerConnection,
    pub(crate) sock: TcpStream,
    deadline: Option<Instant>,
}

/// Runs the server side of a handshake on `sock`, within `timeout`; `None` when it fails,
/// the peer leaves, or time runs out (the connection is then dropped: for a client that
/// speaks plain HTTP, after rustls's alert).
pub(crate) fn accept(
    config: Arc<ServerConfig>,
    mut sock: TcpStream,
    timeout: Duration,
) -> Option<TlsConn> {
    let mut conn = ServerConnection::new(config).ok()?;
    let deadline = Instant::now() + timeout;
    while conn.is_handshaking() {
        while conn.wants_write() {
            conn.write_tls(&mut sock).ok()?;
        }
        if !conn.is_handshaking() || !conn.wants_read() {
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        match conn.read_tls(&mut sock) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
        if conn.process_new_packets().is_err() {
            // The alert that says why, then close.
            let _ = conn.write_tls(&mut sock);
            return None;
        }
    }
    while conn.wants_write() {
        conn.write_tls(&mut sock).ok()?;
    }
    Some(TlsConn {
        conn,
        sock,
        deadline: None,
    })
}

impl TlsConn {
    /// Every later read must end by `now + d`.
    pub(crate) fn set_deadline(&mut self, d: Duration) {
        self.deadline = Some(Instant::now() + d);
    }

    /// Whether decrypted bytes are waiting (read with the handshake's last flight, or after
    /// the previous request), so the socket may stay silent though a request is there.
    pub(crate) fn buffered(&mut self) -> bool {
        self.conn
            .process_new_packets()
            .is_ok_and(|s| s.plaintext_bytes_to_read() > 0)
    }

    fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        self.sock.flush()
    }
}

impl Read for TlsConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            self.flush_tls()?;
            if let Some(deadline) = self.deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                self.sock
                    .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            }
            if self.conn.read_tls(&mut self.sock)? == 0 {
                // The peer closed; rustls says whether cleanly (Ok(0)) or not.
                self.conn
                    .process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                return match self.conn.reader().read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
                    other => other,
                };
            }
            if let Err(e) = self.conn.process_new_packets() {
                let _ = self.conn.write_tls(&mut self.sock);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
    }
}

impl Write for TlsConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.conn.writer().write(buf)?;
        self.flush_tls()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.writer().flush()?;
        self.flush_tls()
    }
}
