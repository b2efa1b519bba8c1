//! `angou kms serve` for tests that drive it with outside clients: start the real binary on
//! 127.0.0.1 (a free port) over a store, stop it with SIGTERM or on drop, make access keys,
//! and give the AWS tools an environment that sees only the test's credentials.
//!
//! Included by each test binary that needs it with `#[path = …] mod server;`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running server, stopped (and reaped) on drop.
pub struct Server {
    child: Child,
    addr: String,
}

impl Server {
    /// Starts `angou kms serve` on `home` and waits for its first stdout line.
    pub fn start(home: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("angou"))
            .arg("--home")
            .arg(home)
            .args(["kms", "serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("ANGOU_FAKE_NOW")
            .env("ANGOU_STATE_DIR", home.with_extension("marks"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let first: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let addr = first["Listen"].as_str().unwrap().to_owned();
        assert!(addr.starts_with("127.0.0.1:"));
        Server { child, addr }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGTERM, then waits: the server must finish and exit 0.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        assert!(self.child.wait().unwrap().success());
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
/// `us-east-1`, no config files, instance metadata or proxy of the machine.
pub fn aws_env(cmd: &mut Command, dir: &Path, key: (&str, &str), endpoint: &str) {
    cmd.env("AWS_ACCESS_KEY_ID", key.0)
        .env("AWS_SECRET_ACCESS_KEY", key.1)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_KMS", endpoint)
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        .env("HOME", dir)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy");
}
