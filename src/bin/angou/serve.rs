//! `angou kms serve`: the store over the AWS KMS JSON API (`angou::kms::http`).

use std::io::Write;

use angou::kms::Kms;
use angou::kms::http::{Config, Limits, Server};
use clap::Args;
use serde_json::json;

use crate::failure::Failure;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. Loopback only: other addresses need
    /// TLS, which is not served yet
    #[arg(long, default_value = "127.0.0.1:4599", value_name = "ADDR:PORT")]
    pub listen: String,
    /// Serve requests without an AWS signature (throw-away test stores only; refused on
    /// non-loopback addresses). Until signature checking is wired in, every request without
    /// this flag is refused with MissingAuthenticationTokenException
    #[arg(long = "allow-unsigned")]
    pub allow_unsigned: bool,
}

pub fn run(kms: Kms, args: ServeArgs) -> Result<(), Failure> {
    let home = kms.region().clone();
    let config = Config {
        listen: args.listen,
        home: home.clone(),
        allow_unsigned: args.allow_unsigned,
        limits: Limits::default(),
    };
    let server = Server::bind(kms, config).map_err(|e| {
        Failure::usage(e.to_string())
            .hint("listen on a loopback address such as 127.0.0.1:4599 (port 0 picks a free port)")
    })?;
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
        "Endpoint": format!("http://{addr}"),
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
