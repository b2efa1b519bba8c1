//! `angou bench kms`: load on `angou kms serve` (GenerateDataKey and Decrypt from 1, 8 and 64
//! concurrent keep-alive clients), and the same load on moto's server in the same run, as
//! ratios. A benchmark, not a test: it prints what it measured (docs/PERFORMANCE.md).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use angou::kms::http::sigv4::{self, Credentials};
use angou::secret::SecretAccessKey;
use serde_json::{Value, json};

use crate::failure::Failure;

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

/// A server under load: its address and process.
pub(crate) struct Target {
    name: &'static str,
    pub(crate) addr: String,
    child: Child,
    key_id: String,
}

impl Drop for Target {
    fn drop(&mut self) {
        // SIGTERM first so angou finishes in flight; then make sure it is gone.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Target {
    fn rss_kib(&self, field: &str) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        s.lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

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
    fn call(&mut self, op: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
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

fn free_port() -> Result<u16, Failure> {
    let l = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Failure::new(format!("bench: no free port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| Failure::new(format!("bench: no free port: {e}")))
}

/// Starts `angou kms serve` on a fresh store; signs with an access key made by
/// `create-access-key`. Falls back to `--allow-unsigned` when this build does not check
/// signatures yet (requests stay signed, so the client's cost is the same).
pub(crate) fn start_angou(
    server: Option<&Path>,
    home: &Path,
    creds: &mut Option<Arc<(String, SecretAccessKey)>>,
) -> Result<(Target, bool), Failure> {
    let exe = match server {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .map_err(|e| Failure::new(format!("bench: cannot find angou itself: {e}")))?,
    };
    let marks = home.with_extension("marks");
    let run = |args: &[&str]| {
        let mut c = Command::new(&exe);
        c.arg("--home")
            .arg(home)
            .args(args)
            .env("ANGOU_STATE_DIR", &marks)
            .env_remove("ANGOU_FAKE_NOW");
        c
    };
    let out = run(&["kms", "create-access-key", "--user", "bench"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| Failure::new(format!("bench: cannot run angou: {e}")))?;
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Failure::new(format!("bench: create-access-key: {e}")))?;
    let id = v["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let secret = v["AccessKey"]["SecretAccessKey"]
        .as_str()
        .unwrap_or_default();
    let secret = SecretAccessKey::from_slice(secret.as_bytes())
        .map_err(|_| Failure::new("bench: create-access-key printed no 40-byte secret"))?;
    let c = Arc::new((id, secret));
    *creds = Some(c.clone());
    for unsigned in [false, true] {
        let mut args = vec!["kms", "serve", "--listen", "127.0.0.1:0"];
        if unsigned {
            args.push("--allow-unsigned");
        }
        let mut child = run(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Failure::new(format!("bench: cannot start angou kms serve: {e}")))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let first: Value = serde_json::from_str(&line)
            .map_err(|e| Failure::new(format!("bench: angou kms serve did not start ({e})")))?;
        let addr = first["Listen"].as_str().unwrap_or_default().to_owned();
        let mut t = Target {
            name: "angou",
            addr,
            child,
            key_id: String::new(),
        };
        let mut client = Client::new(&t.addr, c.clone());
        match client.call_ok("CreateKey", &json!({"Description": "bench"})) {
            Ok(v) => {
                t.key_id = v["KeyMetadata"]["KeyId"]
                    .as_str()
                    .unwrap_or_default()
                    .into();
                return Ok((t, unsigned));
            }
            Err(e) if unsigned => return Err(e),
            Err(_) => {}
        }
    }
    Err(Failure::new("bench: angou kms serve refused every request"))
}

fn moto_program(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.to_path_buf());
    }
    let mut candidates = Vec::new();
    if let Some(py) = std::env::var_os("ANGOU_PYTHON")
        && let Some(dir) = Path::new(&py).parent()
    {
        candidates.push(dir.join("moto_server"));
    }
    candidates.push(PathBuf::from("target/ci-venv/bin/moto_server"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("moto_server")));
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn start_moto(program: &Path, creds: Arc<(String, SecretAccessKey)>) -> Result<Target, Failure> {
    let port = free_port()?;
    let child = Command::new(program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Failure::new(format!("bench: cannot start {}: {e}", program.display())))?;
    let addr = format!("127.0.0.1:{port}");
    let mut t = Target {
        name: "moto",
        addr,
        child,
        key_id: String::new(),
    };
    let start = Instant::now();
    while TcpStream::connect(&t.addr).is_err() {
        if start.elapsed() > Duration::from_secs(30) {
            return Err(Failure::new("bench: moto_server did not start within 30 s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let v = Client::new(&t.addr, creds).call_ok("CreateKey", &json!({"Description": "bench"}))?;
    t.key_id = v["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or_default()
        .into();
    Ok(t)
}

/// What one cell measured.
struct Cell {
    requests: u64,
    errors: u64,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn op_name(op: &str) -> Result<&'static str, Failure> {
    match op {
        "generate-data-key" => Ok("GenerateDataKey"),
        "decrypt" => Ok("Decrypt"),
        o => Err(Failure::usage(format!("bench: unknown operation {o:?}"))
            .hint("use generate-data-key or decrypt")),
    }
}

fn body_for(
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

fn measure(
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

fn print_table(r: &Value) {
    println!(
        "angou kms serve under load ({} build; keep-alive clients, SigV4-signed requests; store in {})",
        r["build"].as_str().unwrap_or("?"),
        r["store"].as_str().unwrap_or("?")
    );
    println!(
        "{:<16} {:>7} │ {:>10} {:>8} {:>8} │ {:>10} {:>8} {:>8} │ {:>7}",
        "operation",
        "clients",
        "angou/s",
        "p50 ms",
        "p99 ms",
        "moto/s",
        "p50 ms",
        "p99 ms",
        "ratio"
    );
    let f = |v: &Value, k: &str, w: usize, prec: usize| -> String {
        v.get(k)
            .and_then(Value::as_f64)
            .map_or(format!("{:>w$}", "-"), |x| format!("{x:>w$.prec$}"))
    };
    for row in r["rows"].as_array().into_iter().flatten() {
        let (a, m) = (&row["angou"], &row["moto"]);
        println!(
            "{:<16} {:>7} │ {} {} {} │ {} {} {} │ {}",
            row["operation"].as_str().unwrap_or("?"),
            row["clients"].as_u64().unwrap_or(0),
            f(a, "requests_per_s", 10, 0),
            f(a, "p50_ms", 8, 2),
            f(a, "p99_ms", 8, 2),
            f(m, "requests_per_s", 10, 0),
            f(m, "p50_ms", 8, 2),
            f(m, "p99_ms", 8, 2),
            row.get("ratio")
                .and_then(Value::as_f64)
                .map_or(format!("{:>7}", "-"), |x| format!("{x:>6.1}×")),
        );
        let errs = a["errors"].as_u64().unwrap_or(0) + m["errors"].as_u64().unwrap_or(0);
        if errs > 0 {
            println!("  ({errs} requests failed and are not counted)");
        }
    }
    for (name, kib) in r["peak_rss_kib"].as_object().into_iter().flatten() {
        if let Some(k) = kib.as_u64() {
            println!(
                "peak RSS of {name}'s server (VmHWM): {:.1} MiB",
                k as f64 / 1024.0
            );
        }
    }
    for n in r["notes"].as_array().into_iter().flatten() {
        println!("note: {}", n.as_str().unwrap_or_default());
    }
}
