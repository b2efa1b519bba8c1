//! The servers under load: `angou kms serve` on a fresh store, and moto's server, each with a
//! key to use; stopped and measured (RSS) through their process.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use angou::secret::SecretAccessKey;
use serde_json::{Value, json};

use super::Client;
use crate::failure::Failure;

/// A server under load: its address and process.
pub(crate) struct Target {
    pub(super) name: &'static str,
    pub(crate) addr: String,
    child: Child,
    pub(super) key_id: String,
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
    pub(super) fn rss_kib(&self, field: &str) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        s.lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
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

pub(super) fn moto_program(given: Option<&Path>) -> Option<PathBuf> {
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

pub(super) fn start_moto(
    program: &Path,
    creds: Arc<(String, SecretAccessKey)>,
) -> Result<Target, Failure> {
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
