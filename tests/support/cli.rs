//! Running the `angou` binary from tests: the command, what a run left, and the assertions the
//! CLI tests repeat (success and its standard output; failure with an exit code and its
//! standard error; the one `error:` line plus one `hint:` line shape). Each test binary keeps
//! its own environment (home, state folder, variables) and hands the command here.
//!
//! Included by each test binary that needs it with `#[path = "support/cli.rs"] mod cli;`.
#![allow(dead_code)]

use std::process::Command;

/// The binary under test, with no argument and the caller's environment.
pub fn angou() -> Command {
    Command::new(env!("CARGO_BIN_EXE_angou"))
}

/// What a finished run left.
pub struct Run {
    /// The exit code; -1 if a signal ended the process.
    pub code: i32,
    pub stdout: Vec<u8>,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

/// Runs `cmd` to the end, capturing both outputs.
pub fn run(cmd: &mut Command) -> Run {
    let o = cmd.output().unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: o.stdout,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// The command's arguments, for assertion messages.
fn args(cmd: &Command) -> Vec<String> {
    cmd.get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// Runs `cmd`, which must exit 0; its standard output.
pub fn ok(cmd: &mut Command) -> Vec<u8> {
    let r = run(cmd);
    assert_eq!(r.code, 0, "angou {:?}: {}", args(cmd), r.stderr);
    r.stdout
}

/// Runs `cmd`, which must exit with `code`; its standard error.
pub fn fails(cmd: &mut Command, code: i32) -> String {
    let r = run(cmd);
    assert_eq!(r.code, code, "angou {:?}: {}", args(cmd), r.stderr);
    r.stderr
}

/// `err` is the CLI's failure shape: one `error: …` line, then one hint line.
pub fn assert_error_and_hint(err: &str) {
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 2, "one error and one hint line: {err}");
}
