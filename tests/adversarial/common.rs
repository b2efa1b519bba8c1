//! Running the `angou` binary in a scratch folder and reading what it did.
#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;

use assert_cmd::Command;
use tempfile::TempDir;

/// The binary under test, with no passphrase or fake clock inherited from the caller.
pub fn angou() -> Command {
    let mut c = Command::cargo_bin("angou").unwrap();
    for v in [
        "ANGOU_PASSPHRASE",
        "ANGOU_KMS_PASSPHRASE",
        "ANGOU_FAKE_NOW",
        "ANGOU_HOME",
    ] {
        c.env_remove(v);
    }
    c
}

/// What a finished child did.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// stdout as text (lossy).
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `cmd` to completion; a child killed by a signal says so in `stderr`.
pub fn run(cmd: &mut Command) -> Run {
    use std::os::unix::process::ExitStatusExt;
    let out = cmd.output().unwrap();
    let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if let Some(signal) = out.status.signal() {
        stderr.push_str(&format!("[test harness: killed by signal {signal}]"));
    }
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr,
    }
}

/// A scratch folder removed when dropped.
pub struct Env {
    pub dir: TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            dir: TempDir::new().unwrap(),
        }
    }

    pub fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.p(name);
        fs::write(&p, bytes).unwrap();
        p
    }
}

/// The binary under test as a `std::process::Command` (for children the test must signal or
/// feed while they run), with the same environment as [`angou`].
pub fn angou_std() -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("angou"));
    for v in [
        "ANGOU_PASSPHRASE",
        "ANGOU_KMS_PASSPHRASE",
        "ANGOU_FAKE_NOW",
        "ANGOU_HOME",
    ] {
        c.env_remove(v);
    }
    c
}

/// Whether the outside program `tool` runs (`args` should make it exit at once). A missing
/// tool prints why the caller skips, and fails the test when `ANGOU_REQUIRE_TOOLS=1`.
pub fn tool_available(tool: &str, args: &[&str]) -> bool {
    let found = std::process::Command::new(tool)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var("ANGOU_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "`{tool}` is required (ANGOU_REQUIRE_TOOLS=1) but was not found"
        );
        eprintln!("skipped: `{tool}` is not installed");
    }
    found
}

/// Creates a symmetric key in the store at `home` through the CLI; returns its id.
pub fn create_kms_key(home: &std::path::Path) -> String {
    let r = run(angou().arg("--home").arg(home).args(["kms", "create-key"]));
    assert_eq!(r.code, 0, "kms create-key: {}", r.stderr);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
}
