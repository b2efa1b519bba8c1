//! Outside programs that some tests run (`age`, `openssl`, `script`, `bash`): a test calls
//! [`available`] first and returns early when it says no.
//!
//! On a machine with only the Rust toolchain `cargo test` passes: a missing program skips the
//! test with a line on stderr that libtest does not capture (it is written to the stderr
//! handle, not through `eprintln!`), so the skip is seen. With `ANGOU_REQUIRE_TOOLS=1` (set by
//! `.ci/run`) a missing program fails the test instead: CI runs every test or fails.
//!
//! Included by each test binary that needs it with `#[path = …] mod tools;`.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// The variable that turns a skip into a failure.
pub const REQUIRE_VAR: &str = "ANGOU_REQUIRE_TOOLS";

/// Whether `program` is an executable file in a `PATH` folder. When it is not, prints why the
/// calling test is skipped (and the caller returns), or panics if `ANGOU_REQUIRE_TOOLS=1`.
/// `package` names what provides it, for the message.
pub fn available(program: &str, package: &str) -> bool {
    if on_path(program) {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") {
        panic!(
            "`{program}` not found on PATH, and {REQUIRE_VAR}=1 requires it: install {package} \
             (.ci/run does)"
        );
    }
    // Straight to the stderr handle: libtest captures `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "skipped: what {test} does with `{program}`: not found on PATH (install {package}; \
         {REQUIRE_VAR}=1 makes this a failure)"
    );
    false
}

fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let candidate = Path::new(&dir).join(program);
        std::fs::metadata(&candidate)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// A Python interpreter that can import `module`: `$ANGOU_PYTHON` (set by `.ci/run` to its
/// virtual environment), else `python3` on `PATH`. When there is none, prints why the calling
/// test is skipped (and the caller returns), or panics if `ANGOU_REQUIRE_TOOLS=1`.
pub fn python_with(module: &str, install: &str) -> Option<std::path::PathBuf> {
    python_from(&["ANGOU_PYTHON"], module, install)
}

/// [`python_with`], but the interpreter is named by the first of `vars` that is set (else
/// `python3`): for packages that cannot share the main venv (`.ci/run` makes a second one).
pub fn python_from(vars: &[&str], module: &str, install: &str) -> Option<std::path::PathBuf> {
    let python = vars
        .iter()
        .find_map(std::env::var_os)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") {
        panic!(
            "{} cannot import {module}, and {REQUIRE_VAR}=1 requires it: {install} (.ci/run does, in a virtual environment named by {})",
            python.display(),
            vars.first().unwrap_or(&"ANGOU_PYTHON")
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "skipped: what {test} does with Python's `{module}`: {} cannot import it ({install}; \
         {REQUIRE_VAR}=1 makes this a failure)",
        python.display()
    );
    None
}

/// `PATH` with the folder of the `angou` binary under test first, for tests that run shell
/// lines as a user would type them.
pub fn path_with_angou() -> String {
    let bin = assert_cmd::cargo::cargo_bin("angou");
    let dir = bin.parent().unwrap_or(Path::new("."));
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// moto's server (`moto[server]` in the Python that [`python_with`] finds) on 127.0.0.1, a
/// free port; killed and reaped on drop.
pub struct Moto {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The Python it runs in (which also has boto3, moto's own dependency).
    pub python: std::path::PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto's server and waits until it listens, or says why the calling test is skipped
/// (the caller returns on `None`).
pub fn moto() -> Option<Moto> {
    let python = python_with("moto.server", "pip install 'moto[server]'")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(&python)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
        python,
    };
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "moto's server did not listen"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Some(moto)
}
