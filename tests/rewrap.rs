//! `angou rewrap` and `angou::format::rewrap`: new recipients, same payload bytes, the
//! original whole on every failure.
#![allow(clippy::unwrap_used)]

#[path = "support/cli.rs"]
mod cli;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use angou::error::{Error, FormatError};
use angou::format::header::Header;
use angou::format::rewrap::Rewrap;
use angou::format::stream::CHUNK_LEN;
use angou::format::{Decryptor, Encryptor, armor::ArmoredWriter};
use angou::pk::x25519::SecretKey;
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn home(&self) -> PathBuf {
        self.p("home")
    }
    fn cmd(&self) -> Command {
        let mut c = cli::angou();
        c.arg("--home")
            .arg(self.home())
            .env_remove("ANGOU_FAKE_NOW")
            .env_remove("ANGOU_HOME")
            .env_remove("ANGOU_PASSPHRASE")
            .env("ANGOU_STATE_DIR", self.p("marks"));
        c
    }
    /// Runs angou; returns (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, Vec<u8>, String) {
        self.run_at(args, None)
    }
    fn run_at(&self, args: &[&str], now: Option<&str>) -> (i32, Vec<u8>, String) {
        let mut c = self.cmd();
        c.args(args);
        if let Some(t) = now {
            c.env("ANGOU_FAKE_NOW", t);
        }
        let r = cli::run(&mut c);
        (r.code, r.stdout, r.stderr)
    }
    fn ok(&self, args: &[&str]) -> Vec<u8> {
        cli::ok(self.cmd().args(args))
    }
    fn kms_json(&self, args: &[&str]) -> Value {
        let mut a = vec!["kms"];
        a.extend_from_slice(args);
        serde_json::from_slice(&self.ok(&a)).unwrap()
    }
    /// A new symmetric KMS key; returns its ARN.
    fn kms_key(&self) -> String {
        self.kms_json(&["create-key"])["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap()
            .to_owned()
    }
    /// A new age identity file NAME.key; returns its recipient.
    fn age_identity(&self, name: &str) -> String {
        let key = self.p(&format!("{name}.key"));
        self.ok(&["keygen", "-o", key.to_str().unwrap()]);
        String::from_utf8(self.ok(&["pubkey", "-i", key.to_str().unwrap()]))
            .unwrap()
            .trim()
            .to_owned()
    }
    fn s(&self, name: &str) -> String {
        self.p(name).to_str().unwrap().to_owned()
    }
    /// The names in the temp folder's `sub` folder (to find leftovers).
    fn names(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.p(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// The bytes after the header (payload nonce and chunks) of a binary file.
fn payload(file: &[u8]) -> Vec<u8> {
    let mut input = file;
    Header::read(&mut input).unwrap();
    input.to_vec()
}

fn header_of(file: &[u8]) -> Header {
    Header::read(&mut &file[..]).unwrap()
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn encrypt_to(recipient: &SecretKey, data: &[u8], armor: bool) -> Vec<u8> {
    let mut file = Vec::new();
    let public = recipient.public_key();
    let e = Encryptor::with_recipients([&public]).unwrap();
    if armor {
        let mut w = e
            .wrap_output(ArmoredWriter::new(&mut file).unwrap())
            .unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap().finish().unwrap();
    } else {
        let mut w = e.wrap_output(&mut file).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap();
    }
    file
}

fn decrypt_with(identity: &SecretKey, file: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    Decryptor::new(file)?
        .decrypt([identity])?
        .read_to_end(&mut out)
        .map_err(Error::from_io)?;
    Ok(out)
}

/// Library: every size class, binary and armored; the payload bytes are the same before and
/// after, the new recipient reads the plaintext, the removed one cannot.
#[test]
fn library_rewrap_keeps_payload_bytes_for_every_size() {
    let alice = SecretKey::generate().unwrap();
    let bob = SecretKey::generate().unwrap();
    for len in [
        0,
        1,
        CHUNK_LEN - 1,
        CHUNK_LEN,
        CHUNK_LEN + 1,
        3 * CHUNK_LEN + 7,
    ] {
        let data = plaintext(len);
        let old = encrypt_to(&alice, &data, false);
        let new = Rewrap::new(&old[..])
            .unwrap()
            .rewrap([&alice], |_, _| false, [&bob.public_key()], Vec::new())
            .unwrap();
        assert_eq!(payload(&old), payload(&new), "size {len}");
        assert_ne!(header_of(&old).stanzas(), header_of(&new).stanzas());
        assert_eq!(decrypt_with(&bob, &new).unwrap(), data, "size {len}");
        assert!(matches!(
            decrypt_with(&alice, &new),
            Err(Error::Format(FormatError::NoMatch))
        ));
    }
    for len in [0, CHUNK_LEN + 1] {
        let data = plaintext(len);
        let old = encrypt_to(&alice, &data, true);
        let new = Rewrap::new(&old[..])
            .unwrap()
            .rewrap([&alice], |_, _| true, [&bob.public_key()], Vec::new())
            .unwrap();
        assert!(new.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(Decryptor::new(&new[..]).unwrap().is_armored());
        assert_eq!(decrypt_with(&bob, &new).unwrap(), data);
        assert_eq!(decrypt_with(&alice, &new).unwrap(), data);
    }
}

/// Library: a header that does not verify, a payload chunk that does not authenticate, an
/// empty result and a scrypt stanza beside others are refused.
#[test]
fn library_refuses_tampering_and_impossible_results() {
    let alice = SecretKey::generate().unwrap();
    let bob = SecretKey::generate().unwrap();
    let old = encrypt_to(&alice, &plaintext(CHUNK_LEN + 1), false);
    let header_len = header_of(&old).encoded_len();
    // A flipped byte in the stanza body: the file key unwraps (or not) but the MAC refuses.
    let mut bad = old.clone();
    bad[header_len - 50] ^= 1;
    let mut out = Vec::new();
    let r = Rewrap::new(&bad[..])
        .map(|rw| rw.rewrap([&alice], |_, _| true, [&bob.public_key()], &mut out));
    assert!(matches!(r, Err(_) | Ok(Err(_))), "tampered header accepted");
    assert!(out.is_empty(), "bytes written before the MAC verified");
    // A flipped byte in the last chunk: refused while copying.
    let mut bad = old.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let r = Rewrap::new(&bad[..]).unwrap().rewrap(
        [&alice],
        |_, _| true,
        [&bob.public_key()],
        Vec::new(),
    );
    assert!(matches!(
        r,
        Err(Error::Format(FormatError::PayloadAuthentication))
    ));
    // Appended bytes.
    let mut bad = old.clone();
    bad.push(0);
    assert!(
        Rewrap::new(&bad[..])
            .unwrap()
            .rewrap([&alice], |_, _| true, [&bob.public_key()], Vec::new())
            .is_err()
    );
    // No stanza left.
    let none: [&angou::pk::x25519::PublicKey; 0] = [];
    let r = Rewrap::new(&old[..])
        .unwrap()
        .rewrap([&alice], |_, _| false, none, Vec::new());
    assert!(matches!(r, Err(Error::Format(FormatError::NoStanzaLeft))));
    // Passphrase beside a recipient.
    let pass = angou::passphrase::PassphraseRecipient::new(angou::secret::SecretVec::from_vec(
        b"pw".to_vec(),
    ))
    .with_work_factor(10);
    let r = Rewrap::new(&old[..])
        .unwrap()
        .rewrap([&alice], |_, _| true, [&pass], Vec::new());
    assert!(matches!(r, Err(Error::Format(FormatError::MixedScrypt))));
}

/// The issue's scenario: a file moves from one local KMS key to another; the old key is then
/// scheduled for deletion and purged, and the file still decrypts with the new one (while a
/// copy taken before the rewrap does not).
#[test]
fn kms_rewrap_survives_deleting_the_old_key() {
    let e = Env::new();
    e.ok(&["kms", "init", "--fake-clock"]);
    let (k1, k2) = (e.kms_key(), e.kms_key());
    let data = plaintext(2 * CHUNK_LEN + 3);
    fs::write(e.p("plain"), &data).unwrap();
    e.ok(&[
        "encrypt",
        "--kms",
        &k1,
        "-c",
        "app=x",
        "-o",
        &e.s("f.age"),
        &e.s("plain"),
    ]);
    let before = fs::read(e.p("f.age")).unwrap();
    fs::copy(e.p("f.age"), e.p("old-copy.age")).unwrap();
    e.ok(&[
        "rewrap",
        "-c",
        "app=x",
        "--add-kms",
        &k2,
        "--remove-kms",
        &k1,
        &e.s("f.age"),
    ]);
    let after = fs::read(e.p("f.age")).unwrap();
    assert_eq!(payload(&before), payload(&after));
    let stanzas = header_of(&after).stanzas().to_vec();
    assert_eq!(stanzas.len(), 1);
    assert_eq!(stanzas[0].args, vec![k2.clone()]);
    // Delete k1 for good: schedule, then cross the window.
    e.kms_json(&[
        "schedule-key-deletion",
        "--key-id",
        &k1,
        "--pending-window-in-days",
        "7",
    ]);
    let (code, _, _) = e.run_at(
        &["kms", "describe-key", "--key-id", &k1],
        Some("2099-01-01T00:00:00Z"),
    );
    assert_eq!(code, 1, "k1 should be gone");
    let (code, _, err) = e.run(&["kms", "describe-key", "--key-id", &k1]);
    assert_eq!(code, 1, "{err}");
    let out = e.ok(&["decrypt", "-c", "app=x", &e.s("f.age")]);
    assert_eq!(out, data);
    let (code, out, err) = e.run(&["decrypt", "-c", "app=x", &e.s("old-copy.age")]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    // The inventory agrees: the rewrapped file depends on k2 only.
    let (_, out, _) = e.run(&["inspect", "--json", &e.s("f.age"), &e.s("old-copy.age")]);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["files"][0]["depends_only_on"], format!("kms:{k2}"));
    assert_eq!(v["files"][1]["depends_only_on"], format!("kms:{k1}"));
}

/// Adding an age recipient lets it decrypt; removing a recipient stops that identity;
/// wrong context, duplicate KMS key and an empty result are refused with the file unchanged.
#[test]
fn cli_add_remove_and_refusals() {
    let e = Env::new();
    e.ok(&["kms", "init"]);
    let k1 = e.kms_key();
    let alice = e.age_identity("alice");
    let bob = e.age_identity("bob");
    fs::write(e.p("plain"), plaintext(1000)).unwrap();
    e.ok(&["encrypt", "-r", &alice, "-o", &e.s("f.age"), &e.s("plain")]);
    let original = fs::read(e.p("f.age")).unwrap();
    // Add bob: both decrypt.
    e.ok(&["rewrap", "-i", &e.s("alice.key"), "-r", &bob, &e.s("f.age")]);
    for who in ["alice.key", "bob.key"] {
        assert_eq!(
            e.ok(&["decrypt", "-i", &e.s(who), &e.s("f.age")]),
            plaintext(1000)
        );
    }
    // Remove stanza 1 (alice's) with bob's key: alice no longer decrypts.
    e.ok(&[
        "rewrap",
        "-i",
        &e.s("bob.key"),
        "--remove-stanza",
        "1",
        &e.s("f.age"),
    ]);
    let (code, out, err) = e.run(&["decrypt", "-i", &e.s("alice.key"), &e.s("f.age")]);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.is_empty() && err.contains("no identity matched"),
        "{err}"
    );
    let now = fs::read(e.p("f.age")).unwrap();
    assert_eq!(payload(&original), payload(&now));
    // Add a KMS key with a context; adding it twice is refused and leaves the file as it was.
    e.ok(&[
        "rewrap",
        "-i",
        &e.s("bob.key"),
        "--add-kms",
        &k1,
        "-c",
        "a=b",
        &e.s("f.age"),
    ]);
    let with_kms = fs::read(e.p("f.age")).unwrap();
    let (code, _, err) = e.run(&[
        "rewrap",
        "-i",
        &e.s("bob.key"),
        "--add-kms",
        &k1,
        "-c",
        "a=b",
        &e.s("f.age"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("twice"), "{err}");
    assert_eq!(fs::read(e.p("f.age")).unwrap(), with_kms);
    // Unwrap through the KMS stanza alone (no -i), with the wrong context: refused.
    let (code, _, err) = e.run(&["rewrap", "-c", "a=c", "--remove-stanza", "1", &e.s("f.age")]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(fs::read(e.p("f.age")).unwrap(), with_kms);
    // Right context: bob's stanza removed through the KMS key; bob is out.
    e.ok(&["rewrap", "-c", "a=b", "--remove-stanza", "1", &e.s("f.age")]);
    let (code, _, _) = e.run(&["decrypt", "-i", &e.s("bob.key"), &e.s("f.age")]);
    assert_eq!(code, 1);
    assert_eq!(
        e.ok(&["decrypt", "-c", "a=b", &e.s("f.age")]),
        plaintext(1000)
    );
    // Removing the last stanza, a KMS key the file does not name, or nothing at all: refused.
    let last = fs::read(e.p("f.age")).unwrap();
    let (code, _, err) = e.run(&["rewrap", "-c", "a=b", "--replace", &e.s("f.age")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no recipient stanza"), "{err}");
    let (code, _, err) = e.run(&[
        "rewrap",
        "-c",
        "a=b",
        "--remove-kms",
        "arn:aws:kms:us-east-1:111122223333:key/nope",
        &e.s("f.age"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no stanza is for KMS key"), "{err}");
    let (code, _, _) = e.run(&["rewrap", "-c", "a=b", &e.s("f.age")]);
    assert_eq!(code, 2);
    assert_eq!(fs::read(e.p("f.age")).unwrap(), last);
    assert_eq!(
        e.names(""),
        ["alice.key", "bob.key", "f.age", "home", "marks", "plain"]
    );
}

/// A tampered header or payload, an output folder that cannot take the file, and a kill
/// partway: the original stays byte for byte what it was, and no temp file is left.
#[test]
fn original_stays_whole_on_every_failure() {
    let e = Env::new();
    fs::create_dir(e.p("d")).unwrap();
    let alice = e.age_identity("alice");
    let bob = e.age_identity("bob");
    fs::write(e.p("plain"), plaintext(3 * CHUNK_LEN)).unwrap();
    e.ok(&[
        "encrypt",
        "-r",
        &alice,
        "-o",
        &e.s("d/f.age"),
        &e.s("plain"),
    ]);
    let original = fs::read(e.p("d/f.age")).unwrap();
    let header_len = header_of(&original).encoded_len();
    let rewrap = |file: &str| -> (i32, String) {
        let (code, _, err) = e.run(&["rewrap", "-i", &e.s("alice.key"), "-r", &bob, file]);
        (code, err)
    };
    for (what, at) in [("header", header_len - 60), ("payload", original.len() - 5)] {
        let mut bad = original.clone();
        bad[at] ^= 0x20;
        fs::write(e.p("d/bad.age"), &bad).unwrap();
        let (code, err) = rewrap(&e.s("d/bad.age"));
        assert_eq!(code, 1, "{what}: {err}");
        assert_eq!(fs::read(e.p("d/bad.age")).unwrap(), bad, "{what}");
        fs::remove_file(e.p("d/bad.age")).unwrap();
    }
    assert_eq!(e.names("d"), ["f.age"]);
    // --output-dir that is a file: nothing is written, the input is untouched.
    fs::write(e.p("not-a-dir"), b"x").unwrap();
    let (code, _, err) = e.run(&[
        "rewrap",
        "-i",
        &e.s("alice.key"),
        "-r",
        &bob,
        "--output-dir",
        &e.s("not-a-dir"),
        &e.s("d/f.age"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(fs::read(e.p("d/f.age")).unwrap(), original);
    // A read-only folder (as disk full would): the in-place rewrap cannot start its temp file.
    if rustix_is_root() {
        eprintln!("skipping the read-only folder case: running as root, permissions do not bind");
    } else {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(e.p("d"), fs::Permissions::from_mode(0o555)).unwrap();
        let (code, err) = rewrap(&e.s("d/f.age"));
        fs::set_permissions(e.p("d"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(code, 1, "{err}");
        assert_eq!(fs::read(e.p("d/f.age")).unwrap(), original);
    }
    // SIGKILL partway through a large file: the file is the old one or the whole new one.
    let big = plaintext(32 * 1024 * 1024);
    fs::write(e.p("plain"), &big).unwrap();
    e.ok(&[
        "encrypt",
        "-r",
        &alice,
        "-o",
        &e.s("d/big.age"),
        "--force",
        &e.s("plain"),
    ]);
    let big_before = fs::read(e.p("d/big.age")).unwrap();
    let mut child = e
        .cmd()
        .args([
            "rewrap",
            "-i",
            &e.s("alice.key"),
            "-r",
            &bob,
            &e.s("d/big.age"),
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    let _ = child.kill();
    let _ = child.wait();
    let big_after = fs::read(e.p("d/big.age")).unwrap();
    if big_after != big_before {
        assert_eq!(payload(&big_before), payload(&big_after));
        assert_eq!(
            e.ok(&["decrypt", "-i", &e.s("bob.key"), &e.s("d/big.age")]),
            big
        );
    }
    assert_eq!(e.names("d"), ["big.age", "f.age"]);
}

fn rustix_is_root() -> bool {
    // The effective uid from /proc: root ignores folder permissions.
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Several files: --output-dir writes each under its name and leaves the inputs alone; -o with
/// several inputs and two inputs with one name are refused before any work.
#[test]
fn several_files_output_dir_and_collisions() {
    let e = Env::new();
    fs::create_dir_all(e.p("a")).unwrap();
    fs::create_dir_all(e.p("b")).unwrap();
    fs::create_dir_all(e.p("out")).unwrap();
    let alice = e.age_identity("alice");
    let bob = e.age_identity("bob");
    fs::write(e.p("plain"), b"x").unwrap();
    for f in ["a/one.age", "a/two.age", "b/one.age"] {
        e.ok(&["encrypt", "-r", &alice, "-o", &e.s(f), &e.s("plain")]);
    }
    let one = fs::read(e.p("a/one.age")).unwrap();
    let (code, _, err) = e.run(&[
        "rewrap",
        "-i",
        &e.s("alice.key"),
        "-r",
        &bob,
        "-o",
        &e.s("out/x"),
        &e.s("a/one.age"),
        &e.s("a/two.age"),
    ]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = e.run(&[
        "rewrap",
        "-i",
        &e.s("alice.key"),
        "-r",
        &bob,
        "--output-dir",
        &e.s("out"),
        &e.s("a/one.age"),
        &e.s("b/one.age"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("collide"), "{err}");
    assert!(e.names("out").is_empty());
    e.ok(&[
        "rewrap",
        "-i",
        &e.s("alice.key"),
        "-r",
        &bob,
        "--output-dir",
        &e.s("out"),
        &e.s("a/one.age"),
        &e.s("a/two.age"),
    ]);
    assert_eq!(e.names("out"), ["one.age", "two.age"]);
    assert_eq!(fs::read(e.p("a/one.age")).unwrap(), one);
    assert_eq!(
        e.ok(&["decrypt", "-i", &e.s("bob.key"), &e.s("out/two.age")]),
        b"x"
    );
    // One bad file among several: the others are rewrapped, the exit status says 1.
    fs::write(e.p("a/junk.age"), b"not an age file\n").unwrap();
    let (code, _, err) = e.run(&[
        "rewrap",
        "-i",
        &e.s("alice.key"),
        "-r",
        &bob,
        &e.s("a/junk.age"),
        &e.s("a/one.age"),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("junk.age") && err.contains("1 of 2"), "{err}");
    assert_eq!(fs::read(e.p("a/junk.age")).unwrap(), b"not an age file\n");
    assert_eq!(
        header_of(&fs::read(e.p("a/one.age")).unwrap())
            .stanzas()
            .len(),
        2
    );
}

/// `inspect --json -r DIR` on a folder of mixed files lists exactly the keys each file names,
/// errors for the files that are not encrypted (without echoing a key file), and the files
/// that depend only on each key.
#[test]
fn inspect_inventory_of_a_folder() {
    let e = Env::new();
    e.ok(&["kms", "init"]);
    let (k1, k2) = (e.kms_key(), e.kms_key());
    let alice = e.age_identity("alice");
    let sym = e.s("sym.key");
    e.ok(&["keygen", "-t", "symmetric", "-o", &sym]);
    let rsa = e.s("rsa.pem");
    e.ok(&["keygen", "-t", "rsa-2048", "-o", &rsa]);
    let rsa_pub = e.s("rsa.pub.pem");
    fs::write(&rsa_pub, e.ok(&["pubkey", "-i", &rsa])).unwrap();
    fs::create_dir_all(e.p("set/sub")).unwrap();
    fs::write(e.p("plain"), b"data").unwrap();
    let enc = |out: &str, extra: &[&str]| {
        let mut a = vec!["encrypt", "-o"];
        let o = e.s(out);
        a.push(&o);
        a.extend_from_slice(extra);
        let p = e.s("plain");
        a.push(&p);
        e.ok(&a);
    };
    enc("set/k1.age", &["--kms", &k1]);
    enc("set/k1k2.age", &["--kms", &k1, "--kms", &k2]);
    enc("set/sub/k2age.age", &["--kms", &k2, "-r", &alice]);
    enc("set/sym.age", &["-k", &sym]);
    enc("set/sub/rsa.age", &["-r", &rsa_pub, "-a"]);
    fs::write(e.p("set/notes.txt"), b"hello\n").unwrap();
    fs::copy(e.p("alice.key"), e.p("set/leaked.key")).unwrap();
    let (code, out, err) = e.run(&["inspect", "--json", "-r", &e.s("set")]);
    assert_eq!(code, 0, "{err}");
    let text = String::from_utf8(out).unwrap();
    let secret = fs::read_to_string(e.p("alice.key")).unwrap();
    let secret_line = secret
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    assert!(!text.contains(secret_line), "the key file was echoed");
    let v: Value = serde_json::from_str(&text).unwrap();
    let file = |name: &str| {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} missing: {text}"))
            .clone()
    };
    let keys = |name: &str| file(name)["keys"].clone();
    let kms1 = format!("kms:{k1}");
    let kms2 = format!("kms:{k2}");
    assert_eq!(keys("/k1.age"), serde_json::json!([kms1]));
    let mut both = vec![kms1.clone(), kms2.clone()];
    both.sort();
    assert_eq!(keys("/k1k2.age"), serde_json::json!(both));
    assert_eq!(keys("/k2age.age"), serde_json::json!([kms2]));
    let kinds: Vec<Value> = file("/k2age.age")["stanzas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key_kind"].clone())
        .collect();
    assert_eq!(kinds, ["unlinkable", "kms"]);
    assert!(
        keys("/sym.age")[0]
            .as_str()
            .unwrap()
            .starts_with("symmetric:")
    );
    assert!(keys("/rsa.age")[0].as_str().unwrap().starts_with("rsa:"));
    assert_eq!(file("/rsa.age")["armored"], true);
    assert_eq!(v["files"].as_array().unwrap().len(), 5, "{text}");
    let errors: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 2, "{text}");
    assert!(errors.iter().any(|p| p.ends_with("notes.txt")));
    assert!(errors.iter().any(|p| p.ends_with("leaked.key")));
    let summary = |key: &str| {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key"] == key)
            .unwrap()
            .clone()
    };
    let names = |val: &Value| -> Vec<String> {
        val.as_array()
            .unwrap()
            .iter()
            .map(|p| {
                Path::new(p.as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    };
    assert_eq!(names(&summary(&kms1)["files"]), ["k1.age", "k1k2.age"]);
    assert_eq!(names(&summary(&kms1)["only_on_this_key"]), ["k1.age"]);
    assert_eq!(names(&summary(&kms2)["files"]), ["k1k2.age", "k2age.age"]);
    assert!(names(&summary(&kms2)["only_on_this_key"]).is_empty());
    assert_eq!(v["keys"].as_array().unwrap().len(), 4, "{text}");
    // A folder without -r is refused; a single file keeps the one-file report.
    let (code, _, _) = e.run(&["inspect", "--json", &e.s("set")]);
    assert_eq!(code, 2);
    let (code, out, _) = e.run(&["inspect", "--json", &e.s("set/k1.age")]);
    assert_eq!(code, 0);
    let one: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(one["plaintext_bytes"], 4);
    assert_eq!(one["recipients"][0]["key"], kms1);
}
