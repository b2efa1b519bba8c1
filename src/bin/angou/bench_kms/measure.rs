//! The measurement: one (operation, clients) cell driven from concurrent keep-alive clients,
//! its request rate and latency percentiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use angou::secret::SecretAccessKey;
use serde_json::json;

use super::{Client, KmsBenchArgs, Target};
use crate::failure::Failure;

/// What one cell measured.
pub(super) struct Cell {
    pub(super) requests: u64,
    pub(super) errors: u64,
    pub(super) per_sec: f64,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
}

pub(super) fn op_name(op: &str) -> Result<&'static str, Failure> {
    match op {
        "generate-data-key" => Ok("GenerateDataKey"),
        "decrypt" => Ok("Decrypt"),
        o => Err(Failure::usage(format!("bench: unknown operation {o:?}"))
            .hint("use generate-data-key or decrypt")),
    }
}

pub(super) fn body_for(
    t: &Target,
    op: &str,
    creds: &Arc<(String, SecretAccessKey)>,
) -> Result<Vec<u8>, Failure> {
    let context = json!({"purpose": "bench", "tenant": "t1"});
    let gdk = json!({"KeyId": t.key_id, "KeySpec": "AES_256", "EncryptionContext": context});
    Ok(match op {
        "GenerateDataKey" => gdk.to_string().into_bytes(),
        _ => {
            let v = Client::new(&t.addr, creds.clone()).call_ok("GenerateDataKey", &gdk)?;
            json!({"CiphertextBlob": v["CiphertextBlob"], "EncryptionContext": context})
                .to_string()
                .into_bytes()
        }
    })
}

pub(super) fn measure(
    t: &Target,
    op: &'static str,
    body: &[u8],
    clients: usize,
    args: &KmsBenchArgs,
    creds: &Arc<(String, SecretAccessKey)>,
) -> Cell {
    let deadline = Duration::from_secs_f64(args.seconds.max(0.1));
    let per_client = args.requests.map(|n| n.div_ceil(clients as u64));
    let start = Instant::now();
    let results: Vec<(Vec<u32>, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let mut c = Client::new(&t.addr, creds.clone());
                s.spawn(move || {
                    let mut lat = Vec::new();
                    let mut errors = 0u64;
                    loop {
                        let done = match per_client {
                            Some(n) => lat.len() as u64 + errors >= n,
                            None => start.elapsed() >= deadline,
                        };
                        if done {
                            break;
                        }
                        let t0 = Instant::now();
                        match c.call(op, body) {
                            Ok((200, _)) => {
                                lat.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                            }
                            _ => errors += 1,
                        }
                    }
                    (lat, errors)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let errors = results.iter().map(|r| r.1).sum();
    let mut all: Vec<u32> = results.into_iter().flat_map(|r| r.0).collect();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return f64::NAN;
        }
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        f64::from(all[i]) / 1000.0
    };
    Cell {
        requests: all.len() as u64,
        errors,
        per_sec: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}
