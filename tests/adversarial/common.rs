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
