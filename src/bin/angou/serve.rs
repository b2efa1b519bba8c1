//! `angou kms serve`: the store over the AWS KMS JSON API (`angou::kms::http`).

use std::io::Write;

use angou::kms::Kms;
use angou::kms::http::{Config, Limits, ServeError, Server, TlsFiles};
use clap::Args;
use serde_json::json;

use crate::failure::Failure;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. Addresses other than loopback need
    /// TLS (--tls-cert and --tls-key)
    #[arg(long, default_value = "127.0.0.1:4599", value_name = "ADDR:PORT")]
    pub listen: String,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key
    #[arg(long = "tls-cert", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long = "tls-key", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Serve requests without checking their AWS signature (throw-away test stores only;
    /// refused on non-loopback addresses). Without it every request must be signed (AWS
    /// Signature V4) with an access key from `angou kms create-access-key`
    #[arg(long = "allow-unsigned")]
    pub allow_unsigned: bool,
    /// Seconds a request may take from its first byte to its last before the connection is
    /// closed (a slow client holds one worker at most this long, and never the store lock)
    #[arg(long = "read-timeout", default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub read_timeout: u64,
    /// Seconds a kept-alive connection may wait for its next request
    #[arg(long = "idle-timeout", default_value_t = 60, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout: u64,
}

pub fn run(kms: Kms, args: ServeArgs) -> Result<(), Failure> {
    let home = kms.region().clone();
    let config = Config {
        listen: args.listen,
        home: home.clone(),
        allow_unsigned: args.allow_unsigned,
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            _ => None,
        },
        limits: Limits {
            read_timeout: std::time::Duration::from_secs(args.read_timeout),
            idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
            ..Limits::default()
        },
    };
    let kms_for_init = kms.clone();
    let server = Server::bind(kms, config).map_err(|e| match e {
        ServeError::Tls(_) => Failure::usage(e.to_string()).hint(
            "give a PEM certificate chain (leaf first) and its private key, e.g. made with `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem`",
        ),
        ServeError::TlsRequired { .. } => Failure::usage(e.to_string()).hint(
            "add --tls-cert FILE --tls-key FILE, or listen on a loopback address such as 127.0.0.1:4599",
        ),
        _ => Failure::usage(e.to_string()).hint(
            "listen on a loopback address such as 127.0.0.1:4599 (port 0 picks a free port)",
        ),
    })?;
    // A fresh folder gets its store now, so that every request, the first included, is
    // audited and a read such as ListKeys answers with an empty list.
    match kms_for_init.init(angou::kms::InitOptions::default()) {
        Ok(()) | Err(angou::Error::Kms(angou::error::KmsError::AlreadyExists { .. })) => {}
        Err(e) => return Err(e.into()),
    }
    let addr = server.local_addr();
    let stopper = server.stopper();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| Failure::new(format!("cannot install signal handlers: {e}")))?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            stopper.stop();
        }
    });
    // The first line on standard output, for scripts and tests that wait for it.
    let first = json!({
        "Listen": addr.to_string(),
        "Endpoint": server.endpoint(),
        "Tls": server.endpoint().starts_with("https:"),
        "Region": home.region(),
        "AccountId": home.account(),
        "AllowUnsigned": args.allow_unsigned,
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{first}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(format!("cannot write to standard output: {e}")))?;
    drop(out);
    server.run().map_err(|e| Failure::new(e.to_string()))
}
