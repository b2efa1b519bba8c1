//! The measurement driver: rounds of every class in random order, over a real
//! `angou kms serve` on loopback or in process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use angou::Backend;
use angou::kms::http::sigv4::{self, Credentials};
use angou::pk::rsa::PrivateKey;
use angou::secret::SecretAccessKey;
use base64ct::{Base64, Encoding};
use serde_json::json;

use super::MarvinBenchArgs;
use super::classes::{CLASSES, Rng, ciphertexts};
use crate::bench_kms::{self, Client};
use crate::failure::Failure;

/// Runs `rounds` rounds of every class in random order; `time(class, i)` measures one
/// decryption and says whether it succeeded. Returns the samples (ns) per class in round order
/// and, per class, how many decryptions succeeded.
fn rounds(
    rounds: usize,
    pool: usize,
    quiet: bool,
    what: &str,
    mut time: impl FnMut(usize, usize) -> Result<(u64, bool), Failure>,
) -> Result<(Vec<Vec<u64>>, Vec<usize>), Failure> {
    let mut rng = Rng::new();
    let mut samples = vec![Vec::with_capacity(rounds); CLASSES.len()];
    let mut ok = vec![0usize; CLASSES.len()];
    let mut order: Vec<usize> = (0..CLASSES.len()).collect();
    // Warm-up: caches, branch predictors, the server's first connection.
    for c in 0..CLASSES.len() {
        for i in 0..pool.min(16) {
            time(c, i)?;
        }
    }
    let start = Instant::now();
    let mut last = Instant::now();
    for r in 0..rounds {
        rng.shuffle(&mut order);
        for &c in &order {
            let (ns, good) = time(c, r % pool)?;
            samples[c].push(ns);
            ok[c] += usize::from(good);
        }
        if !quiet && last.elapsed() > Duration::from_secs(10) {
            last = Instant::now();
            let done = (r + 1) as f64 / rounds as f64;
            let left = start.elapsed().as_secs_f64() * (1.0 - done) / done;
            eprintln!(
                "  {what}: {}/{rounds} rounds, about {left:.0} s left",
                r + 1
            );
        }
    }
    Ok((samples, ok))
}

// ---- the server ----------------------------------------------------------------------

/// One keep-alive connection; requests are signed before the clock starts.
struct Conn {
    addr: String,
    stream: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: &str) -> Result<Conn, Failure> {
        let s = TcpStream::connect(addr)
            .map_err(|e| Failure::new(format!("bench: cannot connect to {addr}: {e}")))?;
        let _ = s.set_nodelay(true);
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        Ok(Conn {
            addr: addr.to_owned(),
            stream: BufReader::new(s),
        })
    }

    fn signed(&self, creds: &(String, SecretAccessKey), body: &[u8]) -> Vec<u8> {
        let target = "TrentService.Decrypt";
        let headers: [(&str, &[u8]); 3] = [
            ("host", self.addr.as_bytes()),
            ("content-type", b"application/x-amz-json-1.1"),
            ("x-amz-target", target.as_bytes()),
        ];
        let signed = sigv4::sign(
            &sigv4::Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body,
            },
            Credentials {
                access_key_id: &creds.0,
                secret: &creds.1,
            },
            bench_kms::REGION,
            time::OffsetDateTime::now_utc(),
        );
        let mut msg = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {target}\r\nX-Amz-Date: {}\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            signed.x_amz_date,
            signed.authorization,
            body.len()
        )
        .into_bytes();
        msg.extend_from_slice(body);
        msg
    }

    /// Sends `msg`, reads the whole answer: (status, body, nanoseconds).
    fn exchange(&mut self, msg: &[u8]) -> Result<(u16, Vec<u8>, u64), Failure> {
        let io = |e: std::io::Error| Failure::new(format!("bench: decrypt request failed: {e}"));
        let t0 = Instant::now();
        self.stream.get_mut().write_all(msg).map_err(io)?;
        let mut line = String::new();
        self.stream.read_line(&mut line).map_err(io)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| Failure::new(format!("bench: bad status line {line:?}")))?;
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            self.stream.read_line(&mut h).map_err(io)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                len = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).map_err(io)?;
        let ns = t0.elapsed().as_nanos() as u64;
        Ok((status, body, ns))
    }
}

pub(super) struct ServerRun {
    pub(super) samples: Vec<Vec<u64>>,
    pub(super) ok: Vec<usize>,
    pub(super) errors: Vec<String>,
}

pub(super) fn over_server(args: &MarvinBenchArgs) -> Result<ServerRun, Failure> {
    let tmp = tempfile::Builder::new()
        .prefix("angou-bench-marvin-")
        .tempdir_in(args.store_dir.clone().unwrap_or_else(std::env::temp_dir))
        .map_err(|e| Failure::new(format!("bench: cannot make a temporary store: {e}")))?;
    let home = tmp.path().join("store");
    let mut creds = None;
    let (server, unsigned) = bench_kms::start_angou(args.server.as_deref(), &home, &mut creds)?;
    if unsigned {
        return Err(Failure::new(
            "bench: this server does not check signatures; measure a build that does",
        ));
    }
    let creds: Arc<(String, SecretAccessKey)> =
        creds.ok_or_else(|| Failure::new("bench: no access key"))?;
    let mut admin = Client::new(&server.addr, creds.clone());
    let spec = format!("RSA_{}", args.bits);
    let created = admin.call_ok(
        "CreateKey",
        &json!({"KeySpec": spec, "KeyUsage": "ENCRYPT_DECRYPT", "Description": "marvin"}),
    )?;
    let key_id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let public = admin.call_ok("GetPublicKey", &json!({"KeyId": key_id}))?;
    let der = Base64::decode_vec(public["PublicKey"].as_str().unwrap_or_default())
        .map_err(|_| Failure::new("bench: GetPublicKey returned no base64 key"))?;
    let cts = ciphertexts(&der, args.pool)?;
    let bodies: Vec<Vec<Vec<u8>>> = cts
        .iter()
        .map(|class| {
            class
                .iter()
                .map(|ct| {
                    json!({
                        "KeyId": key_id,
                        "CiphertextBlob": Base64::encode_string(ct),
                        "EncryptionAlgorithm": "RSAES_OAEP_SHA_256",
                    })
                    .to_string()
                    .into_bytes()
                })
                .collect()
        })
        .collect();
    let mut conn = Conn::open(&server.addr)?;
    // The error answers, exactly as sent (they must all be one).
    let mut errors: Vec<String> = Vec::new();
    let mut signed_at = Instant::now();
    let mut signed: Vec<Vec<Vec<u8>>> = Vec::new();
    let (samples, ok) = rounds(args.rounds, args.pool, args.json, "server", |c, i| {
        // Signatures are valid for five minutes: sign afresh every minute, off the clock.
        if signed.is_empty() || signed_at.elapsed() > Duration::from_secs(60) {
            signed = bodies
                .iter()
                .map(|class| class.iter().map(|b| conn.signed(&creds, b)).collect())
                .collect();
            signed_at = Instant::now();
        }
        let (status, body, ns) = conn.exchange(&signed[c][i])?;
        if status != 200 {
            let text = String::from_utf8_lossy(&body).into_owned();
            if !errors.contains(&text) {
                errors.push(text);
            }
        }
        Ok((ns, status == 200))
    })?;
    drop(server);
    Ok(ServerRun {
        samples,
        ok,
        errors,
    })
}

pub(super) fn in_process(
    args: &MarvinBenchArgs,
    backend: Backend,
    key: &PrivateKey,
    cts: &[Vec<Vec<u8>>],
) -> Result<(Vec<Vec<u64>>, Vec<usize>), Failure> {
    let n = args.in_process_rounds.unwrap_or(args.rounds);
    rounds(n, args.pool, args.json, backend.name(), |c, i| {
        let t0 = Instant::now();
        let r = key.decrypt_with(backend, b"", &cts[c][i]);
        let ns = t0.elapsed().as_nanos() as u64;
        Ok((ns, r.is_ok()))
    })
}
