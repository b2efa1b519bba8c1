//! SSH keys as recipients and identities (issue 13, "SSH recipients and identities"): age's
//! `ssh-ed25519` and `ssh-rsa` stanzas, read and written exactly as age does.
//!
//! * Vectors: files that Debian's `age` 1.1.1 encrypted to throwaway `ssh-keygen` keys
//!   (tests/data/ssh/README.md) decrypt with angou, with no outside tool needed.
//! * Live interop, both ways, with `ssh-keygen` and `age` (skipped with a printed reason when
//!   either is missing, unless `ANGOU_REQUIRE_TOOLS=1`).
//! * Key files as people have them: `.pub`, `authorized_keys` with options and comments,
//!   GitHub's `NAME.keys`; unsupported types and small RSA keys refused by name.
//! * Tamper cases for both stanzas, and no private SSH key material in any message.
#![allow(clippy::unwrap_used)]

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use angou::error::{Error, FormatError, KeyError};
use angou::format::{Decryptor, Encryptor, Input};
use angou::pk::ssh::{PrivateKey, PrivateKeyFile, PublicKey};
use angou::recipient::{Identity, Recipient};
use angou::secret::SecretVec;
use assert_cmd::Command;
use base64ct::{Base64, Encoding};
use tempfile::TempDir;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ssh");
const PASSPHRASE: &str = "correct horse";

fn data(name: &str) -> PathBuf {
    Path::new(DATA).join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

fn angou() -> Command {
    let mut c = Command::cargo_bin("angou").unwrap();
    for v in ["ANGOU_PASSPHRASE", "ANGOU_HOME"] {
        c.env_remove(v);
    }
    c
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(c: &mut Command) -> Run {
    let out = c.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A scratch folder holding copies of the test keys with mode 0600 (git does not keep modes).
struct Scratch(TempDir);

impl Scratch {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new().unwrap();
        for entry in std::fs::read_dir(DATA).unwrap() {
            let path = entry.unwrap().path();
            let to = dir.path().join(path.file_name().unwrap());
            std::fs::copy(&path, &to).unwrap();
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        Scratch(dir)
    }

    fn p(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.p(name);
        std::fs::write(&p, contents).unwrap();
        p
    }
}

/// Whether an outside tool can be used; a missing tool is a failure under ANGOU_REQUIRE_TOOLS=1.
fn have(tool: &str, probe: &[&str]) -> bool {
    let found = StdCommand::new(tool).args(probe).output().is_ok();
    if !found {
        assert!(
            std::env::var("ANGOU_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{tool} is required (ANGOU_REQUIRE_TOOLS=1) but not found"
        );
        eprintln!("skipping: {tool} not found");
    }
    found
}

fn identity(name: &str) -> PrivateKey {
    match PrivateKey::from_openssh(&read(name)).unwrap() {
        PrivateKeyFile::Plain(k) => k,
        PrivateKeyFile::Encrypted(k) => k
            .decrypt(&SecretVec::from_vec(PASSPHRASE.as_bytes().to_vec()))
            .unwrap(),
    }
}

fn encrypt(recipients: &[&dyn Recipient], plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Encryptor::with_recipients(recipients.iter().copied())
        .unwrap()
        .wrap_output(&mut out)
        .unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

fn decrypt(file: &[u8], identity: &dyn Identity) -> Result<Vec<u8>, Error> {
    let input = Input::detect(BufReader::new(file))?;
    let mut r = Decryptor::new(input)?.decrypt([identity])?;
    let mut out = Vec::new();
    r.read_to_end(&mut out)?;
    Ok(out)
}

/// Files `age` wrote to each kind of SSH key decrypt with angou: the library reads the key files
/// (plain, passphrase-protected, PEM RSA) and the CLI does the same from `-i`.
#[test]
fn files_age_encrypted_to_ssh_keys_decrypt() {
    let plain = read("plain.txt");
    for key in [
        "id_ed25519",
        "id_rsa",
        "id_ed25519_protected",
        "id_rsa_protected",
    ] {
        let file = std::fs::read(data(&format!("{key}.age"))).unwrap();
        let out = decrypt(&file, &identity(key)).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(out, plain.as_bytes(), "{key}");
    }
    let s = Scratch::new();
    for key in [
        "id_ed25519",
        "id_rsa",
        "id_rsa_pem",
        "id_ed25519_protected",
        "id_rsa_protected",
    ] {
        let r = run(angou()
            .env("ANGOU_PASSPHRASE", PASSPHRASE)
            .args(["decrypt", "-i"])
            .arg(s.p(key))
            .arg(s.p(&format!("{key}.age"))));
        assert_eq!(r.code, 0, "{key}: {}", r.stderr);
        assert_eq!(r.stdout, plain, "{key}");
    }
    // The passphrase from a file, as scripts pass it.
    let pass = s.write("pass.txt", &format!("{PASSPHRASE}\n"));
    let r = run(angou()
        .args(["decrypt", "--passphrase-file"])
        .arg(&pass)
        .arg("-i")
        .arg(s.p("id_ed25519_protected"))
        .arg(s.p("id_ed25519_protected.age")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, plain);
}

/// A wrong passphrase, or none and no terminal, is refused with a hint; nothing is written.
#[test]
fn protected_ssh_key_needs_its_passphrase() {
    let s = Scratch::new();
    let out = s.p("out.txt");
    let r = run(angou()
        .env("ANGOU_PASSPHRASE", "wrong horse")
        .args(["decrypt", "-o"])
        .arg(&out)
        .arg("-i")
        .arg(s.p("id_ed25519_protected"))
        .arg(s.p("id_ed25519_protected.age")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("wrong passphrase"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert!(!out.exists());
    let r = run(angou()
        .args(["decrypt", "-i"])
        .arg(s.p("id_rsa_protected"))
        .arg(s.p("id_rsa_protected.age")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--passphrase-file"), "{}", r.stderr);
}

/// angou's own files to SSH keys round-trip through the library, for both key types, and a
/// key that is not named in the file finds no stanza.
#[test]
fn library_round_trip_and_wrong_key() {
    let ed = PublicKey::parse_line(&read("id_ed25519.pub")).unwrap();
    let rsa = PublicKey::parse_line(&read("id_rsa.pub")).unwrap();
    let file = encrypt(&[&ed, &rsa], b"both");
    assert_eq!(decrypt(&file, &identity("id_ed25519")).unwrap(), b"both");
    assert_eq!(decrypt(&file, &identity("id_rsa")).unwrap(), b"both");
    let err = decrypt(&file, &identity("id_ed25519_protected")).unwrap_err();
    assert!(
        matches!(err, Error::Format(FormatError::NoMatch)),
        "{err:?}"
    );
    // The PEM RSA key is an ssh-rsa identity too.
    let pem = angou::pk::rsa::PrivateKey::from_pem(&read("id_rsa_pem")).unwrap();
    let pem = PrivateKey::from_rsa(pem).unwrap();
    let pem_pub = PublicKey::parse_line(&read("id_rsa_pem.pub")).unwrap();
    assert_eq!(pem.public_key(), &pem_pub);
    assert_eq!(
        decrypt(&encrypt(&[&pem_pub], b"pem"), &pem).unwrap(),
        b"pem"
    );
}

/// The stanza names the key with the first 4 bytes of SHA-256 over the wire-format key, the
/// base64 field of the `.pub` line, as age computes it (`-> ssh-ed25519 TAG SHARE`).
#[test]
fn stanza_tag_is_sha256_of_the_wire_key() {
    use sha2::{Digest, Sha256};
    for key in ["id_ed25519", "id_rsa"] {
        let line = read(&format!("{key}.pub"));
        let wire = Base64::decode_vec(line.split(' ').nth(1).unwrap()).unwrap();
        let tag = &Sha256::digest(&wire)[..4];
        let expected = base64ct::Base64Unpadded::encode_string(tag);
        let age_file = std::fs::read(data(&format!("{key}.age"))).unwrap();
        let header = String::from_utf8_lossy(&age_file[..age_file.len().min(120)]).into_owned();
        assert!(
            header.contains(&format!(
                "-> {} {expected}",
                line.split(' ').next().unwrap()
            )),
            "{key}: {header}"
        );
        assert_eq!(PublicKey::parse_line(&line).unwrap().tag_b64(), expected);
    }
}

/// The header's stanza line and body of a file encrypted to one SSH key.
fn stanza_parts(file: &[u8]) -> (String, String, usize) {
    let text = String::from_utf8_lossy(file);
    let start = text.find("\n-> ").unwrap() + 1;
    let line_end = start + text[start..].find('\n').unwrap();
    let body_end = line_end + 1 + text[line_end + 1..].find('\n').unwrap();
    (
        text[start..line_end].to_owned(),
        text[line_end + 1..body_end].to_owned(),
        start,
    )
}

fn with_stanza(file: &[u8], line: &str, body: &str) -> Vec<u8> {
    let (old_line, old_body, start) = stanza_parts(file);
    let mut out = file[..start].to_vec();
    out.extend_from_slice(format!("{line}\n{body}\n").as_bytes());
    out.extend_from_slice(&file[start + old_line.len() + old_body.len() + 2..]);
    out
}

fn assert_malformed(file: &[u8], kind: &str, what: &str) {
    let input = Input::detect(BufReader::new(file)).unwrap();
    match Decryptor::new(input) {
        Err(Error::Format(FormatError::MalformedStanza { kind: k, .. })) => {
            assert_eq!(k, kind, "{what}")
        }
        Err(e) => panic!("{what}: expected a malformed {kind} stanza, got {e:?}"),
        Ok(_) => panic!("{what}: a malformed {kind} stanza was accepted"),
    }
}

/// Each SSH stanza's shape is checked before any key is tried, whatever identities the reader
/// holds: argument count, tag and share sizes, canonical base64, body length. A wrong tag is
/// "not for this key" (no match), a tampered share or body fails authentication.
#[test]
fn tampered_ssh_stanzas_fail_cleanly() {
    let ed_key = identity("id_ed25519");
    let ed = ed_key.public_key().clone();
    let file = encrypt(&[&ed], b"secret");
    let (line, body, _) = stanza_parts(&file);
    let args: Vec<&str> = line.split(' ').collect();
    assert_eq!(args[..2], ["->", "ssh-ed25519"]);
    let (tag, share) = (args[2], args[3]);
    assert_eq!(tag.len(), 6);
    assert_eq!(share.len(), 43);
    assert_eq!(body.len(), 43);
    // A tag character with stray low bits: the same 4 bytes, non-canonical base64.
    // The last of 6 characters carries 2 of the 32 bits: setting its lowest bit keeps the
    // decoded bytes but makes the text non-canonical (A→B, Q→R, g→h, w→x).
    let stray = (tag.as_bytes()[5] + 1) as char;
    let bad_tag = format!("{}{stray}", &tag[..5]);
    let short_share = &share[..42];
    let raw_body = base64ct::Base64Unpadded::decode_vec(&body).unwrap();
    let body_31 = base64ct::Base64Unpadded::encode_string(&raw_body[..31]);
    let body_33 = base64ct::Base64Unpadded::encode_string(&[&raw_body[..], &[0]].concat());
    for (what, l, b) in [
        (
            "missing share",
            format!("-> ssh-ed25519 {tag}"),
            body.clone(),
        ),
        (
            "extra argument",
            format!("-> ssh-ed25519 {tag} {share} AAAA"),
            body.clone(),
        ),
        (
            "non-canonical tag",
            format!("-> ssh-ed25519 {bad_tag} {share}"),
            body.clone(),
        ),
        (
            "padded tag",
            format!("-> ssh-ed25519 {tag}== {share}"),
            body.clone(),
        ),
        (
            "short share",
            format!("-> ssh-ed25519 {tag} {short_share}"),
            body.clone(),
        ),
        ("short body", line.clone(), body_31),
        ("long body", line.clone(), body_33),
    ] {
        let tampered = with_stanza(&file, &l, &b);
        assert_malformed(&tampered, "ssh-ed25519", what);
    }
    // Another key's tag: not for this identity.
    let other = identity("id_ed25519_protected").public_key().tag_b64();
    let tampered = with_stanza(&file, &format!("-> ssh-ed25519 {other} {share}"), &body);
    assert!(matches!(
        decrypt(&tampered, &ed_key),
        Err(Error::Format(FormatError::NoMatch))
    ));
    // Right tag, another share: the body does not authenticate.
    let other_share = base64ct::Base64Unpadded::encode_string(&[9u8; 32]);
    let tampered = with_stanza(&file, &format!("-> ssh-ed25519 {tag} {other_share}"), &body);
    assert!(matches!(
        decrypt(&tampered, &ed_key),
        Err(Error::Key(KeyError::UnwrapFailed))
    ));
    // A low-order share is refused, never used.
    let zero = base64ct::Base64Unpadded::encode_string(&[0u8; 32]);
    let tampered = with_stanza(&file, &format!("-> ssh-ed25519 {tag} {zero}"), &body);
    assert!(matches!(
        decrypt(&tampered, &ed_key),
        Err(Error::Key(KeyError::LowOrderPoint))
    ));

    let rsa_key = identity("id_rsa");
    let file = encrypt(&[rsa_key.public_key()], b"secret");
    let (line, _, _) = stanza_parts(&file);
    let tag = line.split(' ').nth(2).unwrap().to_owned();
    let full_body: String = {
        let text = String::from_utf8_lossy(&file).into_owned();
        let start = text.find(&line).unwrap() + line.len() + 1;
        let end = text[start..].find("\n---").unwrap();
        text[start..start + end].to_owned()
    };
    let bad_tag = format!("{}{}", &tag[..5], (tag.as_bytes()[5] + 1) as char);
    // RSA bodies span several 64-column lines: rebuild the stanza whole.
    let rebuild = |l: &str, b: &str| {
        let text = String::from_utf8_lossy(&file).into_owned();
        text.replacen(&format!("{line}\n{full_body}\n"), &format!("{l}\n{b}\n"), 1)
            .into_bytes()
    };
    let short_body = {
        let raw = base64ct::Base64Unpadded::decode_vec(&full_body.replace('\n', "")).unwrap();
        let short = base64ct::Base64Unpadded::encode_string(&raw[..100]);
        short
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (what, l, b) in [
        ("no tag", "-> ssh-rsa".to_owned(), full_body.clone()),
        (
            "two arguments",
            format!("-> ssh-rsa {tag} {tag}"),
            full_body.clone(),
        ),
        (
            "non-canonical tag",
            format!("-> ssh-rsa {bad_tag}"),
            full_body.clone(),
        ),
        (
            "8-byte tag",
            "-> ssh-rsa AAAAAAAAAAA".to_owned(),
            full_body.clone(),
        ),
        ("short body", line.clone(), short_body),
    ] {
        assert_malformed(&rebuild(&l, &b), "ssh-rsa", what);
    }
    let other =
        PrivateKey::from_rsa(angou::pk::rsa::PrivateKey::from_pem(&read("id_rsa_pem")).unwrap())
            .unwrap();
    let swapped = rebuild(
        &format!("-> ssh-rsa {}", other.public_key().tag_b64()),
        &full_body,
    );
    assert!(matches!(
        decrypt(&swapped, &rsa_key),
        Err(Error::Format(FormatError::NoMatch))
    ));
    // The right tag with a flipped ciphertext byte: one uniform unwrap failure.
    let mut raw = base64ct::Base64Unpadded::decode_vec(&full_body.replace('\n', "")).unwrap();
    raw[10] ^= 1;
    let flipped = base64ct::Base64Unpadded::encode_string(&raw)
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(matches!(
        decrypt(&rebuild(&line, &flipped), &rsa_key),
        Err(Error::Key(KeyError::UnwrapFailed))
    ));
}

/// `-r` takes a public key line; `-R` takes `.pub`, `authorized_keys` (options, quoted spaces,
/// comments, blank lines) and `NAME.keys` files. Every listed key gets a stanza that its
/// private key opens, and `inspect -R` names which key each stanza is for.
#[test]
fn recipients_from_ssh_public_key_files() {
    let s = Scratch::new();
    let ed = read("id_ed25519.pub");
    let rsa = read("id_rsa.pub");
    let auth = s.write(
        "authorized_keys",
        &format!(
            "# keys allowed in\n\n{}  \nno-pty,command=\"echo \\\"hello world\\\"\",from=\"10.0.0.1\" {}",
            ed.trim(),
            rsa
        ),
    );
    let plain = s.write("plain.txt", "to my ssh keys\n");
    let out = s.p("out.age");
    let r = run(angou()
        .args(["encrypt", "-R"])
        .arg(&auth)
        .arg("-o")
        .arg(&out)
        .arg(&plain));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for key in ["id_ed25519", "id_rsa"] {
        let r = run(angou().args(["decrypt", "-i"]).arg(s.p(key)).arg(&out));
        assert_eq!(r.code, 0, "{key}: {}", r.stderr);
        assert_eq!(r.stdout, "to my ssh keys\n");
    }
    let r = run(angou().args(["inspect", "-R"]).arg(&auth).arg(&out));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("authorized_keys line 3 (test-ed25519@angou)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("authorized_keys line 4 (test-rsa@angou)"),
        "{}",
        r.stdout
    );
    // -r with the line itself, and with a .pub path; GitHub's NAME.keys has no comments.
    let keys = s.write(
        "alice.keys",
        &format!(
            "{}\n{}\n",
            ed.split(' ').take(2).collect::<Vec<_>>().join(" "),
            rsa.split(' ').take(2).collect::<Vec<_>>().join(" ")
        ),
    );
    for args in [
        vec!["-r".to_owned(), ed.trim().to_owned()],
        vec!["-r".to_owned(), s.p("id_rsa.pub").display().to_string()],
        vec!["-R".to_owned(), keys.display().to_string()],
    ] {
        let r = run(angou()
            .arg("encrypt")
            .args(&args)
            .arg("-o")
            .arg(&out)
            .arg("--force")
            .arg(&plain));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        let key = if args[1].contains("rsa") {
            "id_rsa"
        } else {
            "id_ed25519"
        };
        let r = run(angou().args(["decrypt", "-i"]).arg(s.p(key)).arg(&out));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
    // `pubkey` prints a private key's public line, even for a protected key.
    let r = run(angou()
        .args(["pubkey", "-i"])
        .arg(s.p("id_ed25519_protected")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pub_line = read("id_ed25519_protected.pub");
    let expected: Vec<&str> = pub_line.split(' ').take(2).collect();
    assert_eq!(r.stdout.trim(), expected.join(" "));
}

/// Key types age has no stanza for are refused by name with a hint, before anything is
/// written; RSA keys under 2048 bits are refused with their size.
#[test]
fn unsupported_ssh_keys_are_refused_by_name() {
    let s = Scratch::new();
    let plain = s.write("plain.txt", "x");
    let out = s.p("out.age");
    let fake = "AAAAC3NzaC1lZDI1NTE5AAAAIJ5NE1yQnnAC59rlN1TLw1Z6MxDeWm1vn/xKInR3kHWj";
    for (kind, line) in [
        (
            "ecdsa-sha2-nistp256",
            format!("ecdsa-sha2-nistp256 {fake} me@host"),
        ),
        (
            "sk-ssh-ed25519@openssh.com",
            format!("sk-ssh-ed25519@openssh.com {fake} token"),
        ),
        ("ssh-dss", format!("ssh-dss {fake}")),
        ("cert", format!("ssh-ed25519-cert-v01@openssh.com {fake}")),
    ] {
        for how in ["-r", "-R"] {
            let arg = if how == "-r" {
                line.clone()
            } else {
                s.write(
                    "keys",
                    &format!("{}\n{line}\n", read("id_ed25519.pub").trim()),
                )
                .display()
                .to_string()
            };
            let r = run(angou()
                .args(["encrypt", how, &arg, "-o"])
                .arg(&out)
                .arg(&plain));
            assert_eq!(r.code, 2, "{kind} {how}: {}", r.stderr);
            assert!(r.stderr.contains(kind), "{kind} {how}: {}", r.stderr);
            assert!(r.stderr.contains("hint:"), "{kind} {how}: {}", r.stderr);
            assert!(!r.stderr.contains(fake), "{kind} {how}: key text repeated");
            assert!(!out.exists());
        }
    }
    if have("ssh-keygen", &["-?"]) {
        let small = s.p("small");
        let ok = StdCommand::new("ssh-keygen")
            .args(["-q", "-t", "rsa", "-b", "1024", "-N", "", "-f"])
            .arg(&small)
            .status()
            .unwrap()
            .success();
        if ok {
            let line = std::fs::read_to_string(s.p("small.pub")).unwrap();
            let r = run(angou()
                .args(["encrypt", "-r", line.trim(), "-o"])
                .arg(&out)
                .arg(&plain));
            assert_eq!(r.code, 2, "{}", r.stderr);
            assert!(r.stderr.contains("1024 bits"), "{}", r.stderr);
            assert!(!out.exists());
        } else {
            eprintln!("skipping the 1024-bit part: this ssh-keygen refuses to make one");
        }
    }
}

/// Keys in the wrong place are named for what they are: a private key given as a recipient,
/// a `.pub` file given as an identity, a legacy passphrase-protected PEM key.
#[test]
fn ssh_keys_in_the_wrong_place() {
    let s = Scratch::new();
    let plain = s.write("plain.txt", "x");
    for how in ["-r", "-R"] {
        let r = run(angou()
            .args(["encrypt", how])
            .arg(s.p("id_ed25519"))
            .arg(&plain));
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            r.stderr.contains("SSH private key, not a recipient"),
            "{}",
            r.stderr
        );
    }
    let r = run(angou()
        .args(["decrypt", "-i"])
        .arg(s.p("id_ed25519.pub"))
        .arg(s.p("id_ed25519.age")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("SSH public key"), "{}", r.stderr);
    let legacy = s.write(
        "legacy",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    );
    let r = run(angou()
        .args(["decrypt", "-i"])
        .arg(&legacy)
        .arg(s.p("id_rsa.age")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("ssh-keygen -p -f"), "{}", r.stderr);
}

/// No piece of a private SSH key (the base64 lines of the file, the key's raw secret in hex
/// and base64) nor of its passphrase appears in any message, whatever argument it is given to.
#[test]
fn no_ssh_private_key_material_in_messages() {
    let s = Scratch::new();
    let plain = s.write("plain.txt", "x");
    let wrong = s.write("wrong.txt", "wrong horse\n");
    let mut needles: Vec<String> = Vec::new();
    for key in [
        "id_ed25519",
        "id_rsa",
        "id_rsa_pem",
        "id_ed25519_protected",
        "id_rsa_protected",
    ] {
        let text = read(key);
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
            .collect();
        let der = Base64::decode_vec(&body).unwrap();
        needles.extend(
            text.lines()
                .filter(|l| !l.starts_with("-----") && l.len() >= 8)
                .map(str::to_owned),
        );
        needles.push(hex::encode(&der));
    }
    // The Ed25519 seed itself, as hex and base64.
    let raw = ssh_key::PrivateKey::from_openssh(read("id_ed25519")).unwrap();
    let seed = raw.key_data().ed25519().unwrap().private.to_bytes();
    needles.push(hex::encode(seed));
    needles.push(Base64::encode_string(&seed));
    needles.push(PASSPHRASE.to_owned());
    // Public halves are printed legitimately (pubkey): drop any window they also contain.
    // (`pubkey` of a PEM RSA key prints its PEM public key, whose base64 shares runs with
    // the private key's.)
    let public: String = [
        "id_ed25519",
        "id_rsa",
        "id_rsa_pem",
        "id_ed25519_protected",
        "id_rsa_protected",
    ]
    .iter()
    .map(|k| read(&format!("{k}.pub")) + &run(angou().args(["pubkey", "-i"]).arg(s.p(k))).stdout)
    .collect();
    let check = |label: &str, r: &Run| {
        for needle in &needles {
            let chars: Vec<char> = needle.chars().collect();
            for w in chars.windows(12) {
                let w: String = w.iter().collect();
                if public.contains(&w) {
                    continue;
                }
                assert!(
                    !r.stdout.contains(&w) && !r.stderr.contains(&w),
                    "{label}: printed {w:?}\nstderr: {}",
                    r.stderr
                );
            }
        }
    };
    for key in [
        "id_ed25519",
        "id_rsa",
        "id_rsa_pem",
        "id_ed25519_protected",
        "id_rsa_protected",
    ] {
        let path = s.p(key).display().to_string();
        let text = read(key);
        let cases: Vec<(&str, Vec<String>)> = vec![
            ("-r path", vec!["encrypt".into(), "-r".into(), path.clone()]),
            ("-r text", vec!["encrypt".into(), "-r".into(), text.clone()]),
            ("-R path", vec!["encrypt".into(), "-R".into(), path.clone()]),
            ("-k path", vec!["encrypt".into(), "-k".into(), path.clone()]),
            (
                "decrypt -k",
                vec!["decrypt".into(), "-k".into(), path.clone()],
            ),
            ("inspect", vec!["inspect".into(), path.clone()]),
            (
                "inspect -R",
                vec!["inspect".into(), "-R".into(), path.clone()],
            ),
            ("pubkey", vec!["pubkey".into(), "-i".into(), path.clone()]),
        ];
        for (label, args) in cases {
            let mut c = angou();
            c.args(&args);
            if args[0] == "encrypt" {
                c.arg(&plain);
            } else if (args[0] != "pubkey" && args[0] != "inspect") || label == "inspect -R" {
                c.arg(s.p("id_ed25519.age"));
            }
            check(&format!("{key} {label}"), &run(&mut c));
        }
        // Decrypting with the wrong passphrase, and the right key for another file.
        let r = run(angou()
            .args(["decrypt", "--passphrase-file"])
            .arg(&wrong)
            .arg("-i")
            .arg(s.p(key))
            .arg(s.p("id_rsa.age")));
        check(&format!("{key} decrypt -i, wrong passphrase"), &r);
        let r = run(angou()
            .env("ANGOU_PASSPHRASE", PASSPHRASE)
            .args(["decrypt", "-i"])
            .arg(s.p(key))
            .arg(s.p("id_ed25519_protected.age")));
        check(&format!("{key} decrypt -i, another key's file"), &r);
    }
    // Debug output of the key types is redacted too.
    let k = identity("id_ed25519");
    let debug = format!("{k:?}");
    assert!(debug.contains("[redacted]"), "{debug}");
    for needle in &needles {
        assert!(!debug.contains(&needle[..12.min(needle.len())]));
    }
}

/// Live interop with `ssh-keygen` and `age`, both ways: fresh keys (plain and protected),
/// age encrypts and angou decrypts; angou encrypts and age decrypts (plain keys: age reads a
/// passphrase only from a terminal).
#[test]
fn live_interop_with_ssh_keygen_and_age() {
    if !have("ssh-keygen", &["-?"]) || !have("age", &["--version"]) {
        return;
    }
    let s = Scratch::new();
    let plain = s.write("msg.txt", "live interop\n");
    for (kind, bits, pass) in [
        ("ed25519", "256", ""),
        ("rsa", "3072", ""),
        ("ed25519", "256", "live pass"),
        ("rsa", "2048", "live pass"),
    ] {
        let key = s.p(&format!("live_{kind}_{}", pass.len()));
        assert!(
            StdCommand::new("ssh-keygen")
                .args(["-q", "-t", kind, "-b", bits, "-N", pass, "-C", "live", "-f"])
                .arg(&key)
                .status()
                .unwrap()
                .success()
        );
        let pubkey = PathBuf::from(format!("{}.pub", key.display()));
        let by_age = s.p("by_age.age");
        let _ = std::fs::remove_file(&by_age);
        assert!(
            StdCommand::new("age")
                .arg("-R")
                .arg(&pubkey)
                .arg("-o")
                .arg(&by_age)
                .arg(&plain)
                .status()
                .unwrap()
                .success()
        );
        let r = run(angou()
            .env("ANGOU_PASSPHRASE", pass)
            .args(["decrypt", "-i"])
            .arg(&key)
            .arg(&by_age));
        assert_eq!(r.code, 0, "{kind} {pass:?}: {}", r.stderr);
        assert_eq!(r.stdout, "live interop\n");
        let by_angou = s.p("by_angou.age");
        let r = run(angou()
            .args(["encrypt", "--force", "-R"])
            .arg(&pubkey)
            .arg("-o")
            .arg(&by_angou)
            .arg(&plain));
        assert_eq!(r.code, 0, "{}", r.stderr);
        if pass.is_empty() {
            let out = StdCommand::new("age")
                .arg("-d")
                .arg("-i")
                .arg(&key)
                .arg(&by_angou)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "age -d {kind}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout, b"live interop\n");
        }
    }
}
