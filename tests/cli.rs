//! The `angou` command end to end: exit codes, the error line, and that a failed
//! decryption leaves nothing at `-o`.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use tempfile::TempDir;

#[path = "support/tools.rs"]
mod tools;

#[path = "support/server.rs"]
mod server;

#[path = "cli/conveniences.rs"]
mod conveniences;

#[path = "cli/aws_cli.rs"]
mod aws_cli;

fn angou() -> Command {
    let mut c = Command::cargo_bin("angou").unwrap();
    c.env_remove("ANGOU_PASSPHRASE");
    c
}

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    use std::os::unix::process::ExitStatusExt;
    let out = cmd.output().unwrap();
    let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // A process killed by a signal has no exit code: say which signal, so that a failing
    // assertion that prints stderr tells a crash from an error.
    if let Some(signal) = out.status.signal() {
        stderr.push_str(&format!("[test harness: killed by signal {signal}]"));
    }
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr,
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 % 251) as u8).collect()
}

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            dir: TempDir::new().unwrap(),
        }
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn keygen(&self, kind: &str, name: &str) -> Run {
        run(angou().args(["keygen", "-t", kind, "-o"]).arg(self.p(name)))
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.p(name);
        fs::write(&p, bytes).unwrap();
        p
    }

    fn recipient(&self, id: &str) -> String {
        let r = run(angou().args(["pubkey", "-i"]).arg(self.p(id)));
        assert_eq!(r.code, 0, "{}", r.stderr);
        String::from_utf8(r.stdout).unwrap().trim().to_owned()
    }
}

fn assert_fails(r: &Run, code: i32, needle: &str) {
    assert_eq!(r.code, code, "stderr: {}", r.stderr);
    let first = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or("");
    assert!(
        first.contains(needle),
        "expected an error line containing {needle:?}, got {:?}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: "), "no hint in {:?}", r.stderr);
}

#[test]
fn keygen_writes_0600_never_overwrites_and_prints_the_public_key() {
    let e = Env::new();
    let r = e.keygen("x25519", "id");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("age1"), "{}", r.stderr);
    let mode = fs::metadata(e.p("id")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let before = fs::read(e.p("id")).unwrap();
    let again = e.keygen("x25519", "id");
    assert_fails(&again, 1, "already exists");
    assert_eq!(fs::read(e.p("id")).unwrap(), before, "key file was changed");
    for kind in ["rsa-2048", "symmetric"] {
        let r = e.keygen(kind, kind);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let mode = fs::metadata(e.p(kind)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{kind}");
    }
    let text = fs::read_to_string(e.p("rsa-2048")).unwrap();
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(
        e.recipient("rsa-2048")
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    assert!(e.recipient("id").starts_with("age1"));
    let sym = run(angou().args(["pubkey", "-i"]).arg(e.p("symmetric")));
    assert_fails(&sym, 1, "no public part");
}

#[test]
fn round_trips_for_every_recipient_kind_cipher_and_armor() {
    let e = Env::new();
    e.keygen("x25519", "id");
    e.keygen("rsa-2048", "rsa");
    e.keygen("symmetric", "sym");
    let rsa_pub = e.write("rsa.pub", e.recipient("rsa").as_bytes());
    let age_pub = e.recipient("id");
    for (i, len) in [0usize, 1, 65535, 65536, 65537, 300_000]
        .into_iter()
        .enumerate()
    {
        let plain = e.write(&format!("plain{i}"), &data(len));
        for cipher in ["chacha20-poly1305", "aes-256-gcm"] {
            for armor in [false, true] {
                let out = e.p(&format!("ct{i}-{cipher}-{armor}"));
                let mut cmd = angou();
                cmd.args(["encrypt", "-q", "--cipher", cipher, "-r", &age_pub, "-r"])
                    .arg(&rsa_pub)
                    .arg("-k")
                    .arg(e.p("sym"))
                    .arg("-o")
                    .arg(&out)
                    .arg(&plain);
                if armor {
                    cmd.arg("-a");
                }
                let r = run(&mut cmd);
                assert_eq!(r.code, 0, "{}", r.stderr);
                for (flag, key) in [("-i", "id"), ("-i", "rsa"), ("-k", "sym")] {
                    let r = run(angou().args(["decrypt", flag]).arg(e.p(key)).arg(&out));
                    assert_eq!(r.code, 0, "{flag} {key}: {}", r.stderr);
                    assert_eq!(r.stdout, data(len), "{flag} {key} len {len} {cipher}");
                }
            }
        }
    }
}

#[test]
fn passphrase_from_env_and_file() {
    let e = Env::new();
    let plain = e.write("plain", &data(1000));
    let r = run(angou()
        .env("ANGOU_PASSPHRASE", "correct horse")
        .args(["encrypt", "-p", "--work-factor", "10", "-o"])
        .arg(e.p("ct"))
        .arg(&plain));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pf = e.write("pass", b"correct horse\n");
    fs::set_permissions(&pf, fs::Permissions::from_mode(0o600)).unwrap();
    let r = run(angou()
        .args(["decrypt", "--passphrase-file"])
        .arg(&pf)
        .arg(e.p("ct")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, data(1000));
    let r = run(angou()
        .env("ANGOU_PASSPHRASE", "wrong")
        .args(["decrypt", "-o"])
        .arg(e.p("out"))
        .arg(e.p("ct")));
    assert_fails(&r, 1, "wrong passphrase");
    assert!(!e.p("out").exists());
    // A passphrase cannot be mixed with recipients.
    e.keygen("x25519", "id");
    let r = run(angou()
        .env("ANGOU_PASSPHRASE", "x")
        .args(["encrypt", "-p", "-r", &e.recipient("id")])
        .arg(&plain));
    assert_fails(&r, 2, "passphrase cannot be combined");
}

/// Encrypts `len` bytes to a fresh X25519 identity; returns (env, ciphertext path).
fn encrypted(len: usize) -> (Env, PathBuf) {
    let e = Env::new();
    e.keygen("x25519", "id");
    let plain = e.write("plain", &data(len));
    let ct = e.p("ct");
    let r = run(angou()
        .args(["encrypt", "-r", &e.recipient("id"), "-o"])
        .arg(&ct)
        .arg(&plain));
    assert_eq!(r.code, 0, "{}", r.stderr);
    (e, ct)
}

fn decrypt_to_file(e: &Env, ct: &Path) -> Run {
    run(angou()
        .args(["decrypt", "-i"])
        .arg(e.p("id"))
        .arg("-o")
        .arg(e.p("out"))
        .arg(ct))
}

#[test]
fn tampering_anywhere_fails_and_leaves_no_output_file() {
    let (e, ct) = encrypted(3 * 65536 + 100);
    let original = fs::read(&ct).unwrap();
    let len = original.len();
    // Header, MAC, nonce, first chunk, middle chunk tag, last byte.
    for at in [30, 120, 170, 200, 300, 65536 + 200, len - 1] {
        let mut bad = original.clone();
        bad[at] ^= 0x10;
        let p = e.write("bad", &bad);
        let r = decrypt_to_file(&e, &p);
        assert_eq!(r.code, 1, "flip at {at}: {}", r.stderr);
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        assert!(
            !e.p("out").exists(),
            "partial plaintext left after flip at {at}"
        );
    }
    for cut in [0, 10, 150, len - 65552, len - 17, len - 1] {
        let p = e.write("cut", &original[..cut]);
        let r = decrypt_to_file(&e, &p);
        assert_eq!(r.code, 1, "truncated at {cut}: {}", r.stderr);
        assert!(
            !e.p("out").exists(),
            "partial plaintext left after cut at {cut}"
        );
    }
    let mut longer = original.clone();
    longer.extend_from_slice(b"trailing");
    let p = e.write("long", &longer);
    assert_eq!(decrypt_to_file(&e, &p).code, 1);
    assert!(!e.p("out").exists());
    // The intact file still decrypts, to exactly the plaintext.
    let r = decrypt_to_file(&e, &ct);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fs::read(e.p("out")).unwrap(), data(3 * 65536 + 100));
}

#[test]
fn empty_input_wrong_key_and_garbage_have_clear_errors() {
    let (e, ct) = encrypted(10);
    let empty = e.write("empty", b"");
    assert_fails(&decrypt_to_file(&e, &empty), 1, "input is empty");
    let garbage = e.write("garbage", b"hello world\n");
    assert_fails(&decrypt_to_file(&e, &garbage), 1, "not an encrypted file");
    e.keygen("x25519", "other");
    let r = run(angou()
        .args(["decrypt", "-i"])
        .arg(e.p("other"))
        .arg("-o")
        .arg(e.p("out"))
        .arg(&ct));
    assert_fails(&r, 1, "no identity matched");
    assert!(!e.p("out").exists());
    let r = run(angou().args(["decrypt"]).arg(&ct));
    assert_fails(&r, 2, "no identities given");
    let r = run(angou().args(["decrypt", "-i"]).arg(e.p("missing")).arg(&ct));
    assert_fails(&r, 2, "identity file given with -i does not exist");
}

#[test]
fn output_policy_no_overwrite_and_not_onto_the_input() {
    let (e, ct) = encrypted(10);
    fs::write(e.p("out"), b"keep me").unwrap();
    assert_fails(&decrypt_to_file(&e, &ct), 1, "already exists");
    assert_eq!(fs::read(e.p("out")).unwrap(), b"keep me");
    let r = run(angou()
        .args(["decrypt", "--force", "-i"])
        .arg(e.p("id"))
        .arg("-o")
        .arg(e.p("out"))
        .arg(&ct));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fs::read(e.p("out")).unwrap(), data(10));
    let r = run(angou()
        .args(["encrypt", "--force", "-r", &e.recipient("id"), "-o"])
        .arg(&ct)
        .arg(&ct));
    assert_fails(&r, 2, "same file");
    let r = run(angou().args(["encrypt"]).arg(&ct));
    assert_fails(&r, 2, "no recipients");
}

#[test]
fn loose_key_file_permissions_warn() {
    let (e, ct) = encrypted(10);
    fs::set_permissions(e.p("id"), fs::Permissions::from_mode(0o644)).unwrap();
    let r = run(angou().args(["decrypt", "-i"]).arg(e.p("id")).arg(&ct));
    assert_eq!(r.code, 0);
    assert!(
        r.stderr.contains("warning:") && r.stderr.contains("chmod 600"),
        "{}",
        r.stderr
    );
}

#[test]
fn small_rsa_keys_from_openssl_are_refused() {
    if !tools::available("openssl", "OpenSSL (Debian package openssl)") {
        return;
    }
    let e = Env::new();
    let key = e.p("small.pem");
    let ok = StdCommand::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
        ])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let pubkey = e.p("small.pub");
    assert!(
        StdCommand::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&key)
            .arg("-out")
            .arg(&pubkey)
            .status()
            .unwrap()
            .success()
    );
    let plain = e.write("plain", b"x");
    // A key file that cannot serve is a usage error (exit 2): named before any work is done.
    let r = run(angou().args(["encrypt", "-r"]).arg(&pubkey).arg(&plain));
    assert_fails(&r, 2, "below the 2048-bit minimum");
    let r = run(angou().args(["pubkey", "-i"]).arg(&key));
    assert_fails(&r, 2, "below the 2048-bit minimum");
}

#[test]
fn excessive_scrypt_work_factor_is_refused() {
    let e = Env::new();
    let v = fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/age-cctv/testdata/scrypt_work_factor_23"),
    )
    .unwrap();
    let body = &v[v.windows(2).position(|w| w == b"\n\n").unwrap() + 2..];
    let ct = e.write("ct", body);
    let r = run(angou()
        .env("ANGOU_PASSPHRASE", "password")
        .args(["decrypt", "-o"])
        .arg(e.p("out"))
        .arg(&ct));
    assert_fails(&r, 1, "work factor 23 exceeds the maximum 22");
    assert!(!e.p("out").exists());
}

#[test]
fn inspect_needs_no_key() {
    let (_env, ct) = encrypted(200_000);
    let r = run(angou().args(["inspect"]).arg(&ct));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = String::from_utf8(r.stdout).unwrap();
    assert!(
        text.contains("age v1") && text.contains("X25519") && text.contains("200000 bytes"),
        "{text}"
    );
    let r = run(angou().args(["inspect", "--json"]).arg(&ct));
    let json: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(json["plaintext_bytes"], 200_000);
    assert_eq!(json["payload_cipher"], "chacha20-poly1305");
    assert_eq!(json["armored"], false);
    assert_eq!(json["stanzas"][0]["type"], "X25519");
}

#[test]
fn help_documents_exit_codes_and_usage_errors_exit_2() {
    let r = run(angou().arg("--help"));
    assert_eq!(r.code, 0);
    let text = String::from_utf8(r.stdout).unwrap();
    assert!(
        text.contains("Exit codes") && text.contains("2  the command line is wrong"),
        "{text}"
    );
    assert_eq!(run(angou().arg("--no-such-flag")).code, 2);
}

/// Binary output to a terminal is refused; `script` gives the command a pseudo-terminal.
#[test]
fn refuses_binary_output_to_a_terminal() {
    if !tools::available("script", "util-linux's script (Debian package bsdutils)") {
        return;
    }
    let e = Env::new();
    e.keygen("x25519", "id");
    let plain = e.write("plain", b"hello");
    let bin = assert_cmd::cargo::cargo_bin("angou");
    let inner = format!(
        "{} encrypt -r {} {}; echo exit=$?",
        bin.display(),
        e.recipient("id"),
        plain.display()
    );
    let out = StdCommand::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("refusing to write binary output to a terminal"),
        "{text}"
    );
    assert!(text.contains("exit=2"), "{text}");
    // With -a the same command writes armor to the terminal.
    let armored = format!(
        "{} encrypt -a -r {} {}",
        bin.display(),
        e.recipient("id"),
        plain.display()
    );
    let out = StdCommand::new("script")
        .args(["-qec", &armored, "/dev/null"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("-----BEGIN AGE ENCRYPTED FILE-----"));
}

/// `angou bench --backend`: unknown names and backends missing from this build are usage
/// errors that say what to do; a backend in the build is accepted (checked with --help, so
/// the measurement itself does not run).
#[test]
fn bench_backend_names_are_checked() {
    let r = run(angou().args(["bench", "--backend", "openssl"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("expected rustcrypto or aws-lc"),
        "{}",
        r.stderr
    );
    let r = run(angou().args(["bench", "--backend", "aws-lc", "--help"]));
    if angou::Backend::AwsLc.is_available() {
        assert_eq!(r.code, 0, "{}", r.stderr);
    } else {
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("--features aws-lc"), "{}", r.stderr);
    }
    let r = run(angou().args(["bench", "--help"]));
    assert_eq!(r.code, 0);
    let help = String::from_utf8_lossy(&r.stdout);
    assert!(help.contains("--backend"), "{help}");
}

#[test]
fn long_version_names_the_backends() {
    let r = run(angou().arg("--version"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(out.starts_with("angou "), "{out}");
    assert_eq!(
        out.contains("aws-lc runs"),
        angou::Backend::AwsLc.is_available(),
        "{out}"
    );
    assert!(out.contains("backends: rustcrypto"), "{out}");
}

/// Without the `aws` feature the remote KMS flags exist and say how to build with it,
/// before any store is touched (tests/kms_remote.rs covers the feature itself).
#[cfg(not(feature = "aws"))]
#[test]
fn remote_kms_flags_name_the_missing_aws_feature() {
    let dir = TempDir::new().unwrap();
    let home = dir.path().join("store");
    for flags in [
        &["--endpoint-url", "http://127.0.0.1:9"][..],
        &["--remote"][..],
        &["--profile", "prod"][..],
    ] {
        let r = run(angou()
            .arg("--home")
            .arg(&home)
            .arg("kms")
            .args(flags)
            .arg("list-keys"));
        assert_fails(&r, 2, "this angou was built without the `aws` feature");
        assert!(r.stderr.contains("--features aws"), "{}", r.stderr);
        assert!(!home.exists());
    }
}

/// An X25519 recipient is told apart by its Bech32 HRP (`age`), not by a text prefix: this
/// one's data happens to start with "pq" (one key in 1,024 does), and it must still work,
/// given with `-r` and in an `-R` file. A post-quantum (`age1pq1…`) recipient is parsed as
/// one (a cut-off one is refused as such) and plugin (`age1<name>1…`) recipients are refused
/// by name.
#[test]
fn x25519_recipient_starting_age1pq_is_x25519_and_other_types_are_named() {
    const IDENTITY: &str =
        "AGE-SECRET-KEY-1YFMZCWDQ9CD2MV0XZ5TVWHJZVV4PTYN60V54MZS5UR8TC9XHHKCSP7JTUJ\n";
    let e = Env::new();
    e.write("id", IDENTITY.as_bytes());
    let recipient = e.recipient("id");
    assert!(recipient.starts_with("age1pq"), "{recipient}");
    let plain = e.write("plain", &data(70_000));
    e.write("recipients", format!("# one key\n{recipient}\n").as_bytes());
    let recipients_file = e.p("recipients").display().to_string();
    for (flag, arg) in [("-r", &recipient), ("-R", &recipients_file)] {
        let ct = e.p("ct");
        let _ = fs::remove_file(&ct);
        let r = run(angou()
            .args(["encrypt", flag, arg, "-o"])
            .arg(&ct)
            .arg(&plain));
        assert_eq!(r.code, 0, "{flag}: {}", r.stderr);
        let r = decrypt_to_file(&e, &ct);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(fs::read(e.p("out")).unwrap(), data(70_000));
        fs::remove_file(e.p("out")).unwrap();
    }
    for (arg, needle) in [
        ("age1pq1qqqqqqqqqq", "invalid post-quantum age recipient"),
        ("age1yubikey1qqqqqqqq", "age1yubikey1… recipients"),
        ("age1tag1qqqqqqqq", "age1tag1… recipients"),
    ] {
        let r = run(angou().args(["encrypt", "-r", arg]).arg(&plain));
        assert_fails(&r, 2, needle);
    }
}
