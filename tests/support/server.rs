//! `angou kms serve` for tests that drive it with outside clients: start the real binary on
//! 127.0.0.1 (a free port) over a store, stop it with SIGTERM or on drop, make access keys,
//! and give the AWS tools an environment that sees only the test's credentials.
//!
//! Included by each test binary that needs it with `#[path = …] mod server;` (tests/cli.rs
//! includes it for tests/cli/aws_cli.rs).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// Where a server's standard error goes.
pub enum Stderr {
    /// To the test's own standard error.
    Inherit,
    /// Nowhere.
    Discard,
    /// Into a buffer that [`Server::log`] reads.
    Keep,
}

/// A running server, stopped (and reaped) on drop.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`, where it listens.
    pub addr: String,
    first: Value,
    stderr: Option<Arc<Mutex<String>>>,
}

impl Server {
    /// Starts `angou kms serve` on `home` (marks in `HOME.marks`) and waits for its first
    /// stdout line; its standard error goes to the test's.
    pub fn start(home: &Path, args: &[&str]) -> Server {
        Server::start_with(home, &home.with_extension("marks"), args, Stderr::Inherit)
    }

    /// Starts `angou kms serve` on `home` with `ANGOU_STATE_DIR=marks` and waits for its
    /// first stdout line, which must name a `Listen` address on 127.0.0.1 and the
    /// `Endpoint` (`https://` with `--tls-cert`, else `http://`) of that address.
    pub fn start_with(home: &Path, marks: &Path, args: &[&str], stderr: Stderr) -> Server {
        Server::start_env(home, marks, args, stderr, &[])
    }

    /// [`Server::start_with`] with more environment variables (the debug builds' test hooks,
    /// `ANGOU_TEST_*`).
    pub fn start_env(
        home: &Path,
        marks: &Path,
        args: &[&str],
        stderr: Stderr,
        env: &[(&str, &str)],
    ) -> Server {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("angou"))
            .arg("--home")
            .arg(home)
            .args(["kms", "serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("ANGOU_FAKE_NOW")
            .env("ANGOU_STATE_DIR", marks)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(match stderr {
                Stderr::Inherit => Stdio::inherit(),
                Stderr::Discard => Stdio::null(),
                Stderr::Keep => Stdio::piped(),
            })
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let first: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let addr = first["Listen"].as_str().unwrap().to_owned();
        let scheme = if args.contains(&"--tls-cert") {
            "https"
        } else {
            "http"
        };
        assert_eq!(first["Endpoint"], format!("{scheme}://{addr}"));
        assert!(addr.starts_with("127.0.0.1:"));
        let stderr = child.stderr.take().map(|mut err| {
            let kept = Arc::new(Mutex::new(String::new()));
            let sink = kept.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
            kept
        });
        Server {
            child,
            addr,
            first,
            stderr,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The first line the server printed, as JSON.
    pub fn first(&self) -> &Value {
        &self.first
    }

    /// What the server told its operator since it started (started with [`Stderr::Keep`]).
    pub fn log(&self) -> String {
        // The detail is written before the answer is sent, but let the pipe drain.
        std::thread::sleep(Duration::from_millis(100));
        self.stderr
            .as_ref()
            .expect("started with Stderr::Keep")
            .lock()
            .unwrap()
            .clone()
    }

    /// Sends signal `which` (`-TERM`, `-INT`, …) and waits for the server to exit.
    pub fn signal(&mut self, which: &str) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([which, &pid])
                .status()
                .unwrap()
                .success()
        );
        self.child.wait().unwrap()
    }

    /// SIGTERM, then waits.
    pub fn sigterm(&mut self) -> ExitStatus {
        self.signal("-TERM")
    }

    /// Waits for the server to exit by itself (a debug build's crash point); its exit code.
    pub fn wait_code(&mut self) -> Option<i32> {
        self.child.wait().unwrap().code()
    }

    /// SIGKILL, then waits: the server gets no chance to finish anything.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits: the server must finish and exit 0.
    pub fn stop(mut self) {
        assert!(self.sigterm().success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh folder and the store path inside it (not created yet).
pub fn store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("store");
    (dir, home)
}

/// Runs `angou --home HOME ARGS`, which must succeed; its stdout as JSON (`Null` if not JSON).
pub fn angou(home: &Path, args: &[&str]) -> Value {
    let out = Command::new(assert_cmd::cargo::cargo_bin("angou"))
        .arg("--home")
        .arg(home)
        .env("ANGOU_STATE_DIR", home.with_extension("marks"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "angou {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// An access key made by `angou kms create-access-key --user USER`: (id, secret).
pub fn access_key(home: &Path, user: &str) -> (String, String) {
    let v = angou(home, &["kms", "create-access-key", "--user", user]);
    (
        v["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned(),
        v["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// The audit entries (`angou kms audit` prints one JSON object a line).
pub fn audit(home: &Path) -> Vec<Value> {
    let out = Command::new(assert_cmd::cargo::cargo_bin("angou"))
        .arg("--home")
        .arg(home)
        .env("ANGOU_STATE_DIR", home.with_extension("marks"))
        .args(["kms", "audit"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Environment for the AWS clients: the access key `(id, secret)`, the server as the KMS
/// endpoint through `AWS_ENDPOINT_URL_KMS` (what the README tells users to export), region
/// `us-east-1`, `HOME` in `dir`, and what [`aws_env_without_endpoint`] sets.
pub fn aws_env(cmd: &mut Command, dir: &Path, key: (&str, &str), endpoint: &str) {
    aws_env_without_endpoint(cmd, dir, key);
    cmd.env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_KMS", endpoint)
        .env("HOME", dir);
}

/// Environment for AWS clients given their endpoint otherwise (`--endpoint-url`): the access
/// key `(id, secret)`, default region `us-east-1`, no endpoint, config files, instance
/// metadata or proxy of the machine.
pub fn aws_env_without_endpoint(cmd: &mut Command, dir: &Path, key: (&str, &str)) {
    cmd.env("AWS_ACCESS_KEY_ID", key.0)
        .env("AWS_SECRET_ACCESS_KEY", key.1)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_KMS")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy");
}
