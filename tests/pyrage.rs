//! Interop with pyrage (Python bindings to rage, the Rust age implementation): files rage
//! writes to SSH and X25519 keys decrypt with angou, and the other way round. Needs a Python
//! that can `import pyrage` (`pip install pyrage`; `.ci/run` makes a virtual environment and
//! names it in `ANGOU_PYTHON`); skipped with a printed reason otherwise.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/tools.rs"]
mod tools;

const PLAIN: &[u8] = b"from one age implementation to another\n";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ssh")
        .join(name)
}

fn angou() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("angou"));
    c.env_remove("ANGOU_PASSPHRASE");
    c
}

fn ok(c: &mut Command, what: &str) -> Vec<u8> {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `pyrage.encrypt(PLAIN, [recipient])` where `recipient` is built by `ctor` from `key`.
fn pyrage_encrypt(python: &Path, ctor: &str, key: &str, out: &Path) {
    let script = format!(
        "import sys, pyrage\n\
         r = {ctor}(sys.argv[1])\n\
         open(sys.argv[2], 'wb').write(pyrage.encrypt(sys.stdin.buffer.read(), [r]))\n"
    );
    let mut c = Command::new(python);
    c.args(["-c", &script, key]).arg(out);
    c.stdin(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(PLAIN).unwrap();
    assert!(child.wait().unwrap().success(), "pyrage encrypt");
}

/// `pyrage.decrypt(file, [identity])` with the identity built by `ctor` from the key file.
fn pyrage_decrypt(python: &Path, ctor: &str, key_file: &Path, file: &Path) -> Vec<u8> {
    let script = format!(
        "import sys, pyrage\n\
         i = {ctor}(open(sys.argv[1], 'rb').read())\n\
         sys.stdout.buffer.write(pyrage.decrypt(open(sys.argv[2], 'rb').read(), [i]))\n"
    );
    ok(
        Command::new(python)
            .args(["-c", &script])
            .arg(key_file)
            .arg(file),
        "pyrage decrypt",
    )
}

#[test]
fn ssh_keys_both_ways_with_pyrage() {
    let Some(python) = tools::python_with("pyrage", "pip install pyrage") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for key in ["id_ed25519", "id_rsa"] {
        let public = fs::read_to_string(data(&format!("{key}.pub"))).unwrap();
        // rage → angou
        let from_rage = dir.path().join(format!("{key}.rage.age"));
        pyrage_encrypt(
            &python,
            "pyrage.ssh.Recipient.from_str",
            public.trim(),
            &from_rage,
        );
        let plain = ok(
            angou()
                .args(["decrypt", "-i"])
                .arg(data(key))
                .arg(&from_rage),
            "angou decrypt",
        );
        assert_eq!(plain, PLAIN, "{key}: rage → angou");
        // angou → rage
        let plain_file = dir.path().join("plain.txt");
        fs::write(&plain_file, PLAIN).unwrap();
        let from_angou = dir.path().join(format!("{key}.angou.age"));
        ok(
            angou()
                .args(["encrypt", "-R"])
                .arg(data(&format!("{key}.pub")))
                .arg("-o")
                .arg(&from_angou)
                .arg(&plain_file),
            "angou encrypt",
        );
        let back = pyrage_decrypt(
            &python,
            "pyrage.ssh.Identity.from_buffer",
            &data(key),
            &from_angou,
        );
        assert_eq!(back, PLAIN, "{key}: angou → rage");
    }
}

#[test]
fn x25519_keys_both_ways_with_pyrage() {
    let Some(python) = tools::python_with("pyrage", "pip install pyrage") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let id = dir.path().join("me.key");
    ok(angou().args(["keygen", "-o"]).arg(&id), "keygen");
    let recipient = String::from_utf8(ok(angou().args(["pubkey", "-i"]).arg(&id), "pubkey"))
        .unwrap()
        .trim()
        .to_owned();
    let from_rage = dir.path().join("rage.age");
    pyrage_encrypt(
        &python,
        "pyrage.x25519.Recipient.from_str",
        &recipient,
        &from_rage,
    );
    let plain = ok(
        angou().args(["decrypt", "-i"]).arg(&id).arg(&from_rage),
        "angou decrypt",
    );
    assert_eq!(plain, PLAIN);
    let plain_file = dir.path().join("plain.txt");
    fs::write(&plain_file, PLAIN).unwrap();
    let from_angou = dir.path().join("angou.age");
    ok(
        angou()
            .args(["encrypt", "-r", &recipient, "-o"])
            .arg(&from_angou)
            .arg(&plain_file),
        "angou encrypt",
    );
    // pyrage's x25519 identity takes the AGE-SECRET-KEY-1… line, not the whole file.
    let line = fs::read_to_string(&id)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .to_owned();
    let line_file = dir.path().join("line.key");
    fs::write(&line_file, &line).unwrap();
    let back = pyrage_decrypt(
        &python,
        "(lambda b: pyrage.x25519.Identity.from_str(b.decode()))",
        &line_file,
        &from_angou,
    );
    assert_eq!(back, PLAIN);
}
