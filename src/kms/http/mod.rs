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

mod answer;
mod auth;
mod connection;
mod request;
mod server;
pub mod sigv4;
mod tls;

pub use auth::auth_api_error;
pub use request::{HttpError, Request, body_len, parse_head};
pub use server::{Config, Limits, REFUSERS, ServeError, Server, Stopper};
pub use tls::{TlsError, TlsFiles};

/// The `X-Amz-Target` prefix of the AWS KMS API.
pub const TARGET_PREFIX: &str = "TrentService.";
/// The content type of requests and responses.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
