//! Several files in one `angou encrypt` / `angou decrypt` (`--output-dir`, `-j`): names,
//! refusals before any write, a fresh file key per file, one bad file failing alone with
//! nothing left behind, and the same results whatever the number of workers.
#![allow(clippy::unwrap_used)]

#[path = "support/cli.rs"]
mod cli;

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use angou::format::header::Header;
use angou::format::stream::CHUNK_LEN;
use angou::recipient::{Identity, X25519_STANZA};

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
    fn s(&self, name: &str) -> String {
        self.p(name).to_str().unwrap().to_owned()
    }
    fn cmd(&self) -> Command {
        let mut c = cli::angou();
        c.arg("--home")
            .arg(self.p("home"))
            .env_remove("ANGOU_FAKE_NOW")
            .env_remove("ANGOU_HOME")
            .env_remove("ANGOU_PASSPHRASE")
            .env_remove("ANGOU_TEST_NAMED_TEMP")
            .env("ANGOU_STATE_DIR", self.p("marks"))
            .stdin(Stdio::null());
        c
    }
    /// Runs angou; returns (exit code, stderr).
    fn run(&self, args: &[&str]) -> (i32, String) {
        let r = cli::run(self.cmd().args(args));
        (r.code, r.stderr)
    }
    fn ok(&self, args: &[&str]) -> Vec<u8> {
        cli::ok(self.cmd().args(args))
    }
    /// A new symmetric key in the local store; returns its ARN.
    fn kms_key(&self) -> String {
        let out = self.ok(&["kms", "create-key"]);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        v["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
    }
    /// A new age identity file NAME.key; returns its recipient.
    fn age_identity(&self, name: &str) -> String {
        let key = self.s(&format!("{name}.key"));
        self.ok(&["keygen", "-o", &key]);
        String::from_utf8(self.ok(&["pubkey", "-i", &key]))
            .unwrap()
            .trim()
            .to_owned()
    }
    /// Every name in folder `sub`, sorted (temp files and leftovers included).
    fn names(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.p(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
    fn mkdir(&self, sub: &str) {
        fs::create_dir_all(self.p(sub)).unwrap();
    }
}

fn plaintext(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed * 7) % 251) as u8)
        .collect()
}

/// The sizes every batch test uses: empty, one byte, one chunk exactly, several chunks.
const SIZES: [(&str, usize); 5] = [
    ("empty", 0),
    ("one", 1),
    ("chunk", CHUNK_LEN),
    ("chunks", 3 * CHUNK_LEN + 5),
    ("small.txt", 1024),
];

/// Writes the SIZES files into `sub` and returns their paths.
fn write_inputs(e: &Env, sub: &str) -> Vec<String> {
    e.mkdir(sub);
    SIZES
        .iter()
        .enumerate()
        .map(|(seed, (name, len))| {
            let path = format!("{sub}/{name}");
            fs::write(e.p(&path), plaintext(*len, seed)).unwrap();
            e.s(&path)
        })
        .collect()
}

fn header_of(path: &std::path::Path) -> Header {
    Header::read(&mut &fs::read(path).unwrap()[..]).unwrap()
}

/// Several files both ways with an age recipient and a local KMS key (with a context), binary
/// and armored: NAME becomes NAME.age and back, every size decrypts to its plaintext through
/// either key alone, and every file has its own file key and its own KMS-wrapped stanza.
#[test]
fn several_files_both_ways_with_age_and_kms() {
    let e = Env::new();
    e.ok(&["kms", "init"]);
    let arn = e.kms_key();
    let age = e.age_identity("alice");
    let inputs = write_inputs(&e, "in");
    for armor in [false, true] {
        let (enc, by_age, by_kms) = if armor {
            ("enc-a", "age-a", "kms-a")
        } else {
            ("enc", "age", "kms")
        };
        for d in [enc, by_age, by_kms] {
            e.mkdir(d);
        }
        let mut args = vec![
            "encrypt",
            "-r",
            &age,
            "--kms",
            &arn,
            "-c",
            "app=batch",
            "--output-dir",
        ];
        let enc_dir = e.s(enc);
        args.push(&enc_dir);
        if armor {
            args.push("-a");
        }
        args.extend(inputs.iter().map(String::as_str));
        e.ok(&args);
        let expected: Vec<String> = {
            let mut v: Vec<String> = SIZES.iter().map(|(n, _)| format!("{n}.age")).collect();
            v.sort();
            v
        };
        assert_eq!(e.names(enc), expected);
        let encrypted: Vec<String> = SIZES
            .iter()
            .map(|(n, _)| e.s(&format!("{enc}/{n}.age")))
            .collect();
        // The age identity alone, then the KMS key alone (no -i: the store, with the context).
        let mut args = vec!["decrypt", "-i"];
        let key = e.s("alice.key");
        let dir = e.s(by_age);
        args.extend([key.as_str(), "--output-dir", &dir]);
        args.extend(encrypted.iter().map(String::as_str));
        e.ok(&args);
        let mut args = vec!["decrypt", "-c", "app=batch", "--output-dir"];
        let dir = e.s(by_kms);
        args.push(&dir);
        args.extend(encrypted.iter().map(String::as_str));
        e.ok(&args);
        for (seed, (name, len)) in SIZES.iter().enumerate() {
            for d in [by_age, by_kms] {
                let got = fs::read(e.p(&format!("{d}/{name}"))).unwrap();
                assert_eq!(got, plaintext(*len, seed), "{d}/{name}");
            }
        }
        // A wrong context opens none of them through the KMS, and leaves nothing.
        e.mkdir("wrong");
        let mut args = vec!["decrypt", "-c", "app=other", "--output-dir"];
        let dir = e.s("wrong");
        args.push(&dir);
        args.extend(encrypted.iter().map(String::as_str));
        let (code, err) = e.run(&args);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("5 of 5 files were not decrypted"), "{err}");
        assert!(e.names("wrong").is_empty(), "{:?}", e.names("wrong"));
    }
    // Each file: its own KMS stanza (own call, own blob) and its own file key.
    let identity = angou::keyfile::read_identities(e.p("alice.key")).unwrap();
    let mut file_keys = Vec::new();
    let mut blobs = Vec::new();
    for (name, _) in SIZES {
        let h = header_of(&e.p(&format!("enc/{name}.age")));
        let kinds: Vec<&str> = h.stanzas().iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, [X25519_STANZA, angou::kms::KMS_STANZA], "{name}");
        blobs.push(h.stanzas()[1].body.clone());
        let x = &h.stanzas()[0];
        let key = identity
            .iter()
            .find_map(|i| i.unwrap_stanza(x))
            .unwrap()
            .unwrap();
        file_keys.push(key.expose_secret().to_vec());
    }
    for list in [&file_keys, &blobs] {
        let mut unique = list.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), list.len(), "a file key or KMS blob repeats");
    }
}

/// Everything that can be known before any work is refused before anything is written:
/// two inputs with one output name, an output that is one of the inputs (even with --force),
/// -o with several inputs, several inputs without --output-dir, a decrypt input without .age,
/// standard input, a missing output folder; an existing output without --force.
#[test]
fn collisions_and_existing_outputs_refused_before_writing() {
    let e = Env::new();
    let age = e.age_identity("alice");
    e.mkdir("a");
    e.mkdir("b");
    e.mkdir("out");
    for f in ["a/x", "a/y", "b/x"] {
        fs::write(e.p(f), f.as_bytes()).unwrap();
    }
    let (ax, ay, bx, out) = (e.s("a/x"), e.s("a/y"), e.s("b/x"), e.s("out"));
    let refused: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["encrypt", "-r", &age, "--output-dir", &out, &ay, &ax, &bx],
            "two inputs would both be written to",
        ),
        (
            vec!["encrypt", "-r", &age, "-o", &out, &ax, &ay],
            "-o names one output",
        ),
        (
            vec!["encrypt", "-r", &age, &ax, &ay],
            "several input files need --output-dir",
        ),
        (
            vec!["encrypt", "-r", &age, "--output-dir", &out, "-", &ax],
            "standard input has no name",
        ),
        (
            vec![
                "encrypt",
                "-r",
                &age,
                "--output-dir",
                "/nonexistent/dir",
                &ax,
            ],
            "is not a folder",
        ),
        (
            vec!["decrypt", "-i", "alice.key", "--output-dir", &out, &ax],
            "does not end in .age",
        ),
    ];
    for (args, expect) in refused {
        let mut c = e.cmd();
        c.current_dir(e.dir.path()).args(&args);
        let err = cli::fails(&mut c, 2);
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(e.names("out").is_empty(), "{args:?}: {:?}", e.names("out"));
    }
    // decrypt: two NAME.age in different folders collide too.
    e.ok(&["encrypt", "-r", &age, "--output-dir", &e.s("a"), &ax, &ay]);
    e.ok(&["encrypt", "-r", &age, "--output-dir", &e.s("b"), &bx]);
    let (code, err) = e.run(&[
        "decrypt",
        "-i",
        &e.s("alice.key"),
        "--output-dir",
        &out,
        &e.s("a/y.age"),
        &e.s("a/x.age"),
        &e.s("b/x.age"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(e.names("out").is_empty());
    // An output that is an input: a/x.age is both the result of a/x and an input.
    let before = fs::read(e.p("a/x.age")).unwrap();
    let (code, err) = e.run(&[
        "encrypt",
        "-r",
        &age,
        "--force",
        "--output-dir",
        &e.s("a"),
        &e.s("a/x.age"),
        &ax,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is one of the input files"), "{err}");
    assert_eq!(fs::read(e.p("a/x.age")).unwrap(), before);
    assert_eq!(e.names("a"), ["x", "x.age", "y", "y.age"]);
    // An existing output: refused before any file is written; --force replaces it.
    fs::write(e.p("out/y.age"), b"keep me").unwrap();
    let (code, err) = e.run(&["encrypt", "-r", &age, "--output-dir", &out, &ax, &ay]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(e.names("out"), ["y.age"]);
    assert_eq!(fs::read(e.p("out/y.age")).unwrap(), b"keep me");
    e.ok(&[
        "encrypt",
        "-r",
        &age,
        "--force",
        "--output-dir",
        &out,
        &ax,
        &ay,
    ]);
    assert_eq!(e.names("out"), ["x.age", "y.age"]);
    let back = e.ok(&["decrypt", "-i", &e.s("alice.key"), &e.s("out/y.age")]);
    assert_eq!(back, b"a/y");
}

/// Whether the effective uid is 0 (from /proc): root reads files whatever their mode.
fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Builds a batch of encrypted files in `enc` with good ones and bad ones: a payload byte
/// flipped in the last chunk (so earlier chunks verify and are written before the failure),
/// a truncated file, a file that is not encrypted, a dangling symlink and (not as root) a
/// file without read permission.
/// Returns the inputs in order and the names that must fail.
fn mixed_batch(e: &Env, age: &str) -> (Vec<String>, Vec<&'static str>) {
    let inputs = write_inputs(e, "in");
    e.mkdir("enc");
    let mut args = vec!["encrypt", "-r", age, "--output-dir"];
    let enc = e.s("enc");
    args.push(&enc);
    args.extend(inputs.iter().map(String::as_str));
    e.ok(&args);
    let mut flipped = fs::read(e.p("enc/chunks.age")).unwrap();
    let at = flipped.len() - 3;
    flipped[at] ^= 1;
    fs::write(e.p("enc/flipped.age"), flipped).unwrap();
    let whole = fs::read(e.p("enc/chunk.age")).unwrap();
    fs::write(e.p("enc/truncated.age"), &whole[..whole.len() - 100]).unwrap();
    fs::write(e.p("enc/junk.age"), b"not an age file\n").unwrap();
    // A name that leads nowhere by the time it is read (a dangling symlink): unreadable even
    // for root.
    std::os::unix::fs::symlink(e.p("nowhere"), e.p("enc/gone.age")).unwrap();
    let mut bad = vec!["flipped", "truncated", "junk", "gone"];
    if !is_root() {
        fs::copy(e.p("enc/one.age"), e.p("enc/locked.age")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(e.p("enc/locked.age"), fs::Permissions::from_mode(0o000)).unwrap();
        bad.push("locked");
    } else {
        eprintln!("skipping the unreadable input: running as root reads any file");
    }
    // Good and bad interleaved, so a failure is followed by files that must still be done.
    let order = [
        "flipped",
        "empty",
        "truncated",
        "one",
        "junk",
        "gone",
        "chunk",
        "locked",
        "chunks",
    ];
    let inputs = order
        .iter()
        .filter(|n| **n != "locked" || bad.contains(&"locked"))
        .map(|n| e.s(&format!("enc/{n}.age")))
        .collect();
    (inputs, bad)
}

/// One corrupt, truncated, foreign or unreadable input among good ones: the good ones are
/// written, each bad one is listed on its own line with its name, nothing is left for it (no
/// partial plaintext, no temp file, also with named temp files), and the exit status is 1
/// with a summary.
#[test]
fn bad_inputs_fail_alone_and_leave_nothing() {
    let e = Env::new();
    let age = e.age_identity("alice");
    let (inputs, bad) = mixed_batch(&e, &age);
    for named_temp in [false, true] {
        let dir = if named_temp { "dec-named" } else { "dec" };
        e.mkdir(dir);
        let out = e.s(dir);
        let mut c = e.cmd();
        if named_temp {
            c.env("ANGOU_TEST_NAMED_TEMP", "1");
        }
        let key = e.s("alice.key");
        c.args(["decrypt", "-i", &key, "--output-dir", &out]);
        c.args(&inputs);
        let err = cli::fails(&mut c, 1);
        let lines: Vec<&str> = err.lines().collect();
        for name in &bad {
            let path = e.s(&format!("enc/{name}.age"));
            let mine: Vec<&&str> = lines
                .iter()
                .filter(|l| l.starts_with(&format!("error: {path}: ")))
                .collect();
            assert_eq!(mine.len(), 1, "{name}: {err}");
        }
        assert!(
            err.contains(&format!(
                "{} of {} files were not decrypted",
                bad.len(),
                inputs.len()
            )),
            "{err}"
        );
        let mut good: Vec<&str> = vec!["chunk", "chunks", "empty", "one"];
        good.sort();
        assert_eq!(e.names(dir), good, "{err}");
        for (seed, (name, len)) in SIZES.iter().enumerate() {
            if good.contains(name) {
                assert_eq!(
                    fs::read(e.p(&format!("{dir}/{name}"))).unwrap(),
                    plaintext(*len, seed)
                );
            }
        }
    }
    // Encrypting: an input that cannot be read (a dangling symlink; as a normal user also a
    // file without read permission) leaves nothing; the others are written.
    std::os::unix::fs::symlink(e.p("nowhere"), e.p("in/gone")).unwrap();
    let mut unreadable = vec![e.s("in/gone")];
    if !is_root() {
        use std::os::unix::fs::PermissionsExt;
        fs::write(e.p("in/locked"), b"secret").unwrap();
        fs::set_permissions(e.p("in/locked"), fs::Permissions::from_mode(0o000)).unwrap();
        unreadable.push(e.s("in/locked"));
    }
    e.mkdir("enc2");
    let enc2 = e.s("enc2");
    let (one, empty) = (e.s("in/one"), e.s("in/empty"));
    let mut args = vec!["encrypt", "-r", &age, "--output-dir", &enc2, &one];
    args.extend(unreadable.iter().map(String::as_str));
    args.push(&empty);
    let (code, err) = e.run(&args);
    assert_eq!(code, 1, "{err}");
    for path in &unreadable {
        assert!(err.contains(&format!("error: {path}: ")), "{err}");
    }
    let summary = format!(
        "{} of {} files were not encrypted",
        unreadable.len(),
        unreadable.len() + 2
    );
    assert!(err.contains(&summary), "{err}");
    assert_eq!(e.names("enc2"), ["empty.age", "one.age"]);
}

/// `-j 1`, the default and `-j 64` give the same exit status, the same stderr (errors in input
/// order) and the same outputs.
#[test]
fn jobs_do_not_change_results() {
    let e = Env::new();
    let age = e.age_identity("alice");
    let (inputs, _) = mixed_batch(&e, &age);
    let mut seen = Vec::new();
    for jobs in ["1", "4", "64"] {
        let dir = format!("dec-{jobs}");
        e.mkdir(&dir);
        let out = e.s(&dir);
        let key = e.s("alice.key");
        let mut args = vec!["decrypt", "-j", jobs, "-i", &key, "--output-dir", &out];
        args.extend(inputs.iter().map(String::as_str));
        let (code, err) = e.run(&args);
        let files: Vec<(String, Vec<u8>)> = e
            .names(&dir)
            .into_iter()
            .map(|n| {
                let bytes = fs::read(e.p(&format!("{dir}/{n}"))).unwrap();
                (n, bytes)
            })
            .collect();
        let err = err.replace(&out, "OUT");
        seen.push((code, err, files));
    }
    assert_eq!(seen[0].0, 1);
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    let (code, _) = e.run(&[
        "decrypt",
        "-j",
        "0",
        "--output-dir",
        &e.s("dec-1"),
        &inputs[0],
    ]);
    assert_eq!(code, 2);
}

/// A passphrase is obtained once for the whole batch: `--passphrase-file -` (standard input,
/// which can be read only once) opens every file, on encrypt and on decrypt.
#[test]
fn passphrase_read_once_for_all_files() {
    let e = Env::new();
    let inputs = write_inputs(&e, "in");
    e.mkdir("enc");
    e.mkdir("dec");
    let run_with_stdin = |args: &[&str]| {
        let mut c = e.cmd();
        c.args(args).stdin(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"correct horse\n")
            .unwrap();
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    };
    let mut args = vec![
        "encrypt",
        "--passphrase-file",
        "-",
        "--work-factor",
        "10",
        "--output-dir",
    ];
    let enc = e.s("enc");
    args.push(&enc);
    args.extend(inputs.iter().map(String::as_str));
    run_with_stdin(&args);
    let encrypted: Vec<String> = SIZES
        .iter()
        .map(|(n, _)| e.s(&format!("enc/{n}.age")))
        .collect();
    let mut args = vec!["decrypt", "--passphrase-file", "-", "--output-dir"];
    let dec = e.s("dec");
    args.push(&dec);
    args.extend(encrypted.iter().map(String::as_str));
    run_with_stdin(&args);
    for (seed, (name, len)) in SIZES.iter().enumerate() {
        assert_eq!(
            fs::read(e.p(&format!("dec/{name}"))).unwrap(),
            plaintext(*len, seed)
        );
    }
}
