//! The load's client: one keep-alive connection that signs every request (SigV4) and reads
//! the answer's status and body.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use angou::kms::http::sigv4::{self, Credentials};
use angou::secret::SecretAccessKey;
use serde_json::Value;

use super::REGION;
use crate::failure::Failure;

/// One keep-alive connection that signs every request.
pub(crate) struct Client {
    addr: String,
    conn: Option<BufReader<TcpStream>>,
    creds: Arc<(String, SecretAccessKey)>,
}

impl Client {
    pub(crate) fn new(addr: &str, creds: Arc<(String, SecretAccessKey)>) -> Client {
        Client {
            addr: addr.to_owned(),
            conn: None,
            creds,
        }
    }

    /// Sends one request; (status, body). Reconnects when the server closed the connection
    /// (moto's server speaks HTTP/1.0 and closes after each answer).
    pub(super) fn call(&mut self, op: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
        let target = format!("TrentService.{op}");
        let headers: [(&str, &[u8]); 3] = [
            ("host", self.addr.as_bytes()),
            ("content-type", b"application/x-amz-json-1.1"),
            ("x-amz-target", target.as_bytes()),
        ];
        let req = sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body,
        };
        let signed = sigv4::sign(
            &req,
            Credentials {
                access_key_id: &self.creds.0,
                secret: &self.creds.1,
            },
            REGION,
            time::OffsetDateTime::now_utc(),
        );
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {target}\r\nX-Amz-Date: {}\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            signed.x_amz_date,
            signed.authorization,
            body.len()
        );
        if self.conn.is_none() {
            let s = TcpStream::connect(&self.addr).map_err(|e| e.to_string())?;
            let _ = s.set_nodelay(true);
            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
            self.conn = Some(BufReader::new(s));
        }
        let conn = self.conn.as_mut().ok_or("no connection")?;
        let mut msg = head.into_bytes();
        msg.extend_from_slice(body);
        conn.get_mut().write_all(&msg).map_err(|e| e.to_string())?;
        let mut status_line = String::new();
        conn.read_line(&mut status_line)
            .map_err(|e| e.to_string())?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let mut len = None;
        let mut close = status_line.starts_with("HTTP/1.0");
        loop {
            let mut line = String::new();
            conn.read_line(&mut line).map_err(|e| e.to_string())?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                len = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let mut body = Vec::new();
        match len {
            Some(n) => {
                body.resize(n, 0);
                conn.read_exact(&mut body).map_err(|e| e.to_string())?;
            }
            None => {
                conn.read_to_end(&mut body).map_err(|e| e.to_string())?;
                close = true;
            }
        }
        if close {
            self.conn = None;
        }
        Ok((status, body))
    }

    pub(crate) fn call_ok(&mut self, op: &str, body: &Value) -> Result<Value, Failure> {
        let (status, out) = self
            .call(op, body.to_string().as_bytes())
            .map_err(|e| Failure::new(format!("bench: {op} failed: {e}")))?;
        if status != 200 {
            return Err(Failure::new(format!(
                "bench: {op} answered {status}: {}",
                String::from_utf8_lossy(&out)
            )));
        }
        serde_json::from_slice(&out).map_err(|e| Failure::new(format!("bench: {op}: {e}")))
    }
}
