//! `angou bench kms`: load on `angou kms serve` (GenerateDataKey and Decrypt from 1, 8 and 64
//! concurrent keep-alive clients), and the same load on moto's server in the same run, as
//! ratios. A benchmark, not a test: it prints what it measured (docs/PERFORMANCE.md).

mod client;
mod measure;
mod report;
mod targets;

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::failure::Failure;
use measure::{body_for, measure, op_name};
use report::print_table;
use targets::{moto_program, start_moto};

pub(crate) use client::Client;
pub(crate) use targets::{Target, start_angou};

#[derive(Debug, clap::Args)]
pub struct KmsBenchArgs {
    /// Concurrent keep-alive clients, one run each (comma-separated)
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,8,64",
        value_name = "N,N,…"
    )]
    pub clients: Vec<usize>,
    /// Seconds each (operation, clients) cell runs
    #[arg(long, default_value_t = 3.0, value_name = "SECS")]
    pub seconds: f64,
    /// Run each cell for this many requests instead of a duration (e.g. 100000 to watch memory)
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// Operations to drive (generate-data-key, decrypt; comma-separated)
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "generate-data-key,decrypt"
    )]
    pub ops: Vec<String>,
    /// moto's server program (default: moto_server beside $ANGOU_PYTHON, else
    /// target/ci-venv/bin/moto_server, else on PATH)
    #[arg(long, value_name = "PATH")]
    pub moto: Option<PathBuf>,
    /// Do not measure moto
    #[arg(long = "no-moto")]
    pub no_moto: bool,
    /// Where the temporary store goes (default: the system's temporary folder); a tmpfs such
    /// as /dev/shm takes the disk's sync time out of the figures
    #[arg(long = "store-dir", value_name = "DIR")]
    pub store_dir: Option<PathBuf>,
    /// The angou program that serves (default: this one), e.g. an older build to compare with
    #[arg(long, value_name = "PATH")]
    pub server: Option<PathBuf>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

pub(crate) const REGION: &str = "us-east-1";
pub fn run(args: KmsBenchArgs) -> Result<(), Failure> {
    let ops: Vec<&'static str> = args
        .ops
        .iter()
        .map(|o| op_name(o))
        .collect::<Result<_, _>>()?;
    if args.clients.iter().any(|c| *c == 0 || *c > 1024) {
        return Err(Failure::usage(
            "bench: --clients must be between 1 and 1024",
        ));
    }
    let tmp = tempfile::Builder::new()
        .prefix("angou-bench-kms-")
        .tempdir_in(args.store_dir.clone().unwrap_or_else(std::env::temp_dir))
        .map_err(|e| Failure::new(format!("bench: cannot make a temporary store: {e}")))?;
    let home = tmp.path().join("store");
    let mut creds = None;
    let (angou, unsigned) = start_angou(args.server.as_deref(), &home, &mut creds)?;
    let creds = creds.ok_or_else(|| Failure::new("bench: no access key"))?;
    let mut notes = Vec::new();
    if unsigned {
        notes.push(
            "this build's server does not check signatures yet: it runs with --allow-unsigned; requests are still signed (SigV4), so the client side costs the same".to_owned(),
        );
    }
    let mut targets = vec![angou];
    if args.no_moto {
        notes.push("moto skipped (--no-moto)".into());
    } else {
        match moto_program(args.moto.as_deref()) {
            None => notes.push(
                "moto skipped: no moto_server found (install with: target/ci-venv/bin/pip install 'moto[server]', or pass --moto PATH)".into(),
            ),
            Some(p) => match start_moto(&p, creds.clone()) {
                Ok(t) => targets.push(t),
                Err(e) => notes.push(format!("moto skipped: {}", e.message)),
            },
        }
    }
    let mut rows = Vec::new();
    for op in &ops {
        for &clients in &args.clients {
            let mut row = json!({"operation": op, "clients": clients});
            for t in &targets {
                if !args.json {
                    eprintln!("measuring {op} on {} with {clients} clients…", t.name);
                }
                let body = body_for(t, op, &creds)?;
                let c = measure(t, op, &body, clients, &args, &creds);
                row[t.name] = json!({
                    "requests": c.requests,
                    "errors": c.errors,
                    "requests_per_s": (c.per_sec * 10.0).round() / 10.0,
                    "p50_ms": (c.p50_ms * 1000.0).round() / 1000.0,
                    "p99_ms": (c.p99_ms * 1000.0).round() / 1000.0,
                    "rss_kib": t.rss_kib("VmRSS:"),
                });
            }
            if let (Some(a), Some(m)) = (
                row["angou"]["requests_per_s"].as_f64(),
                row["moto"]["requests_per_s"].as_f64(),
            ) && m > 0.0
            {
                row["ratio"] = json!((a / m * 10.0).round() / 10.0);
            }
            rows.push(row);
        }
    }
    let peaks: Value = targets
        .iter()
        .map(|t| (t.name.to_owned(), json!(t.rss_kib("VmHWM:"))))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let report = json!({
        "store": tmp.path().display().to_string(),
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "signed": true,
        "server_checks_signatures": !unsigned,
        "rows": rows,
        "peak_rss_kib": peaks,
        "notes": notes,
    });
    if args.json {
        println!("{report}");
        return Ok(());
    }
    print_table(&report);
    Ok(())
}
