//! `angou kms serve`'s door: the AWS KMS JSON protocol over HTTP, starting with request authentication.

pub mod sigv4;
