//! `angou bench marvin`: a timing study of RSA-OAEP decryption, in the Marvin attack's way
//! (RUSTSEC-2023-0071; Kario, "Everlasting ROBOT: the Marvin Attack", 2023). A study, not a
//! test: it prints what it measured and the statistics; docs/MARVIN.md says how to read them.
//!
//! It builds ciphertext classes with the public key and raw RSA (`m^e mod n` for a chosen
//! encoded message `m`): valid OAEP-SHA-256, and the invalid kinds a padding oracle feeds on.
//! Each round sends one ciphertext of every class in a fresh random order, so drift on a busy
//! machine falls on every class alike and the samples of one round are paired. It measures
//! signed `Decrypt` requests to a real `angou kms serve` on loopback, and separately the
//! in-process decryption on every backend of this build, then tests every pair of classes:
//! Welch's t, Mann-Whitney U, Kolmogorov-Smirnov, the sign and Wilcoxon signed-rank tests on
//! the paired differences, the box test on low quantiles, and the 95% confidence interval of
//! the median paired difference (the smallest difference the run could have seen).

use std::path::PathBuf;

use angou::Backend;
use angou::pk::rsa::PrivateKey;
use serde_json::{Value, json};

use crate::failure::Failure;

mod classes;
mod measure;
mod report;
mod stats;

use classes::ciphertexts;
use measure::{in_process, over_server};
use report::{print_report, write_csv};
use stats::analyse;

#[derive(Debug, clap::Args)]
pub struct MarvinBenchArgs {
    /// RSA modulus size: 2048 or 3072
    #[arg(long, default_value_t = 2048, value_name = "BITS")]
    pub bits: usize,
    /// Rounds over the server; each sends one ciphertext of every class, in random order
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub rounds: usize,
    /// Rounds in process (no HTTP), per backend of this build (default: as --rounds)
    #[arg(long = "in-process-rounds", value_name = "N")]
    pub in_process_rounds: Option<usize>,
    /// Distinct ciphertexts per class, used in turn
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub pool: usize,
    /// Backends to measure in process (repeatable; default: every one in this build)
    #[arg(long = "backend", value_name = "B")]
    pub backends: Vec<Backend>,
    /// Do not measure over the server
    #[arg(long = "no-server")]
    pub no_server: bool,
    /// Do not measure in process
    #[arg(long = "no-in-process")]
    pub no_in_process: bool,
    /// The angou program that serves (default: this one), e.g. a build with another backend
    #[arg(long, value_name = "PATH")]
    pub server: Option<PathBuf>,
    /// Where the temporary store goes (default: the system's temporary folder)
    #[arg(long = "store-dir", value_name = "DIR")]
    pub store_dir: Option<PathBuf>,
    /// Also write the raw samples here: one folder per measurement with timing.csv (a column
    /// per class, a row per round, seconds), the format tlsfuzzer's analysis.py reads
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print JSON instead of tables
    #[arg(long)]
    pub json: bool,
}

fn loadavg() -> Value {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .map_or(Value::Null, Value::from)
}

pub fn run(args: MarvinBenchArgs) -> Result<(), Failure> {
    if args.bits != 2048 && args.bits != 3072 {
        return Err(Failure::usage("bench: --bits must be 2048 or 3072"));
    }
    if args.rounds < 100 || args.pool == 0 {
        return Err(Failure::usage(
            "bench: --rounds must be at least 100 and --pool at least 1",
        ));
    }
    let mut runs = Vec::new();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load_before = loadavg();
    if !args.no_in_process {
        let key = PrivateKey::generate(args.bits)
            .map_err(|e| Failure::new(format!("bench: rsa key generation failed: {e}")))?;
        let cts = ciphertexts(&key.public_key().to_der(), args.pool)?;
        let backends = if args.backends.is_empty() {
            Backend::available().to_vec()
        } else {
            args.backends.clone()
        };
        for b in backends {
            if !args.json {
                eprintln!("measuring in-process decryption on {b}…");
            }
            let (samples, ok) = in_process(&args, b, &key, &cts)?;
            if let Some(dir) = &args.out {
                write_csv(&dir.join(format!("in-process-{b}")), &samples)?;
            }
            let mut r = analyse(&samples, &ok);
            r["measurement"] = json!(format!("in process, {b}"));
            runs.push(r);
        }
    }
    if !args.no_server {
        if !args.json {
            eprintln!("measuring Decrypt over angou kms serve on loopback…");
        }
        let s = over_server(&args)?;
        if let Some(dir) = &args.out {
            write_csv(&dir.join("server"), &s.samples)?;
        }
        let mut r = analyse(&s.samples, &s.ok);
        r["measurement"] = json!("signed Decrypt over angou kms serve (loopback, keep-alive)");
        r["server"] = json!(
            args.server
                .as_ref()
                .map_or("this program".to_owned(), |p| p.display().to_string())
        );
        r["distinct_error_answers"] = json!(s.errors);
        runs.push(r);
    }
    let report = json!({
        "bits": args.bits,
        "rounds": args.rounds,
        "in_process_rounds": args.in_process_rounds.unwrap_or(args.rounds),
        "pool": args.pool,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "backends_in_build": Backend::available().iter().map(|b| b.name()).collect::<Vec<_>>(),
        "cpus": cpus,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "runs": runs,
    });
    if args.json {
        println!("{report}");
    } else {
        print_report(&report);
    }
    Ok(())
}
