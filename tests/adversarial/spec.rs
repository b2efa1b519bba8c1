//! docs/FORMAT.md and the code agree (issue 10 §4): what an independent decoder written from
//! the page alone had to guess is now written down, and each rule is checked here.
//!
//! - every stanza of a known type is shape-checked when the header is read, whatever
//!   identities the reader holds (§4.3): a malformed `kms` stanza beside a valid X25519 stanza
//!   fails the whole file;
//! - the outcome never depends on the order of the identities (§4.3, "Finding the file key");
//! - `AGE1…` recipients are accepted like `age1…`, mixed case refused (§2, §4.4);
//! - key-file lines are trimmed of ASCII whitespace only (§4.4);
//! - armor whitespace before BEGIN and after END follows §4.7 exactly.

use std::fs;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;

use angou::error::{Error, FormatError, KeyError};
use angou::format::armor::ArmoredWriter;
use angou::format::{Decryptor, Encryptor, Input};
use angou::pk::{rsa, x25519};
use angou::recipient::{Identity, Recipient, Stanza, SymmetricKey};
use angou::secret::FileKey;

use crate::common::{Env, angou, run};

const PLAINTEXT: &[u8] = b"the spec and the code agree\n";
const KMS: &str = "angou.dev/v1/kms";
const RSA: &str = "angou.dev/v1/rsa-oaep-sha256";
const SYM: &str = "angou.dev/v1/symmetric";
const ARN: &str = "arn:angou:kms:local:000000000000:key/8a1c3e52-9a55-4d0e-8f3b-2f8d8f1f6a11";

/// Puts a fixed stanza into a file, as a hostile or buggy encoder would: the header MAC is
/// still computed by angou's encoder, so only the stanza itself is wrong.
struct Raw(Stanza);

impl Recipient for Raw {
    fn wrap(&self, _: &FileKey) -> Result<Vec<Stanza>, Error> {
        Ok(vec![self.0.clone()])
    }
}

fn stanza(kind: &str, args: &[&str], body_len: usize) -> Stanza {
    Stanza {
        kind: kind.into(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        body: vec![0x5a; body_len],
    }
}

/// Unpadded base64 of `n` zero bytes.
fn zeros_b64(n: usize) -> String {
    "A".repeat((4 * n).div_ceil(3))
}

fn rsa_key() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::PrivateKey::generate(2048).unwrap())
}

fn encrypt(recipients: &[&dyn Recipient]) -> Vec<u8> {
    let mut file = Vec::new();
    let mut w = Encryptor::with_recipients(recipients.iter().copied())
        .unwrap()
        .wrap_output(&mut file)
        .unwrap();
    w.write_all(PLAINTEXT).unwrap();
    w.finish().unwrap();
    file
}

/// Decrypts binary or armored `file`; the plaintext, or the first error of any step.
fn decrypt(file: &[u8], identities: &[&dyn Identity]) -> Result<Vec<u8>, Error> {
    let input = Input::detect(BufReader::new(file)).map_err(Error::from_io)?;
    let mut reader = Decryptor::new(input)?.decrypt(identities.iter().copied())?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).map_err(Error::from_io)?;
    Ok(out)
}

fn is_malformed(result: &Result<impl Sized, Error>, kind: &str) -> bool {
    matches!(result, Err(Error::Format(FormatError::MalformedStanza { kind: k, .. })) if *k == kind)
}

/// Writes a key file with mode 0600 (no permission warning in the way).
fn key_file(env: &Env, name: &str, text: &str) -> PathBuf {
    let p = env.write(name, text.as_bytes());
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// FORMAT §4.3: "a stanza of a known type with the wrong number or size of arguments or body
/// fails the whole file (MalformedStanza), even if another stanza would match". Before, a
/// `kms` stanza was looked at only by a KMS identity, so the X25519 stanza beside it decrypted.
#[test]
fn malformed_kms_stanza_beside_valid_x25519_fails_the_file() {
    let me = x25519::SecretKey::generate().unwrap();
    let bad_kms = [
        stanza(KMS, &[ARN, ARN], 65),
        stanza(KMS, &[], 65),
        stanza(KMS, &[ARN], 64),
        stanza(KMS, &[ARN], 66),
        stanza(KMS, &[ARN], 0),
    ];
    for bad in bad_kms {
        let raw = Raw(bad.clone());
        for file in [
            encrypt(&[&me.public_key(), &raw]),
            encrypt(&[&raw, &me.public_key()]),
        ] {
            let result = decrypt(&file, &[&me]);
            assert!(is_malformed(&result, KMS), "{bad:?}: {result:?}");
        }
    }
    // The well-formed stanza of a key this reader does not have is skipped, as before.
    let fine = Raw(stanza(KMS, &[ARN], 65));
    let file = encrypt(&[&fine, &me.public_key()]);
    assert_eq!(decrypt(&file, &[&me]).unwrap(), PLAINTEXT);
}

/// The same through the CLI: refused before any key store is opened, nothing written.
#[test]
fn malformed_kms_stanza_fails_the_file_on_the_cli() {
    let env = Env::new();
    let me = x25519::SecretKey::generate().unwrap();
    let id = key_file(&env, "me.key", &format!("{}\n", me.encode().as_str()));
    let home = env.p("kms-home");
    for (name, bad) in [
        ("two-args.age", stanza(KMS, &[ARN, "extra"], 65)),
        ("short-body.age", stanza(KMS, &[ARN], 64)),
    ] {
        let file = env.write(name, &encrypt(&[&me.public_key(), &Raw(bad)]));
        let out = env.p(&format!("{name}.out"));
        let r = run(angou()
            .env("ANGOU_HOME", &home)
            .args(["decrypt", "-i"])
            .arg(&id)
            .arg("-o")
            .arg(&out)
            .arg(&file));
        assert_ne!(r.code, 0, "{name} decrypted: {}", r.stderr);
        assert!(
            r.stderr.contains("malformed angou.dev/v1/kms stanza"),
            "{name}: {}",
            r.stderr
        );
        assert!(!out.exists(), "{name}: output left behind");
        assert!(!home.exists(), "{name}: the key store was opened");
    }
}

/// Every type angou knows is shape-checked when the header is read, before any identity is
/// tried: `Decryptor::new` refuses the file whatever keys the reader holds. Before, only
/// `decrypt` checked, and never the `kms` type.
#[test]
fn every_known_stanza_type_is_shape_checked_when_the_header_is_read() {
    let me = x25519::SecretKey::generate().unwrap();
    let (a8, a16, a32) = (zeros_b64(8), zeros_b64(16), zeros_b64(32));
    let cases: Vec<(&str, Stanza)> = vec![
        ("X25519", stanza("X25519", &[], 32)),
        ("X25519", stanza("X25519", &[&a32, &a32], 32)),
        ("X25519", stanza("X25519", &[&zeros_b64(31)], 32)),
        ("X25519", stanza("X25519", &[&a32], 31)),
        ("X25519", stanza("X25519", &[&a32], 33)),
        ("scrypt", stanza("scrypt", &[&a16], 32)),
        ("scrypt", stanza("scrypt", &[&a16, "10", "10"], 32)),
        ("scrypt", stanza("scrypt", &[&zeros_b64(15), "10"], 32)),
        ("scrypt", stanza("scrypt", &[&a16, "010"], 32)),
        ("scrypt", stanza("scrypt", &[&a16, "10"], 31)),
        (RSA, stanza(RSA, &[], 256)),
        (RSA, stanza(RSA, &[&a8, &a8], 256)),
        (RSA, stanza(RSA, &[&zeros_b64(7)], 256)),
        (RSA, stanza(RSA, &[&a8], 255)),
        (RSA, stanza(RSA, &[&a8], 1025)),
        (SYM, stanza(SYM, &[&a8], 32)),
        (SYM, stanza(SYM, &[&a8, &a16, &a16], 32)),
        (SYM, stanza(SYM, &[&a8, &zeros_b64(15)], 32)),
        (SYM, stanza(SYM, &[&a8, &a16], 33)),
        (KMS, stanza(KMS, &[ARN, ARN], 65)),
        (KMS, stanza(KMS, &[ARN], 64)),
    ];
    for (kind, bad) in cases {
        // angou's encoder refuses scrypt beside another stanza, so that one stands alone.
        let raw = Raw(bad.clone());
        let file = if kind == "scrypt" {
            encrypt(&[&raw])
        } else {
            encrypt(&[&me.public_key(), &raw])
        };
        let header_only = Decryptor::new(&file[..]).map(|_| ());
        assert!(is_malformed(&header_only, kind), "{bad:?}: {header_only:?}");
        let result = decrypt(&file, &[&me]);
        assert!(is_malformed(&result, kind), "{bad:?}: {result:?}");
    }
    // Each shape above differs from a valid one by one defect: the valid ones pass.
    for ok in [
        stanza(RSA, &[&a8], 256),
        stanza(RSA, &[&a8], 1024),
        stanza(SYM, &[&a8, &a16], 32),
        stanza(KMS, &[ARN], 65),
    ] {
        let file = encrypt(&[&me.public_key(), &Raw(ok.clone())]);
        assert_eq!(decrypt(&file, &[&me]).unwrap(), PLAINTEXT, "{ok:?}");
    }
}

/// A stanza that names one of the reader's keys but does not open: the symmetric key's id or
/// the RSA key's fingerprint is right, the body is not.
fn bogus_stanzas() -> (SymmetricKey, Raw, Raw) {
    let sym = SymmetricKey::generate().unwrap();
    let other = FileKey::generate().unwrap();
    let mut s = sym.wrap(&other).unwrap().remove(0);
    s.body[0] ^= 1;
    let mut r = rsa_key().public_key().wrap(&other).unwrap().remove(0);
    r.body[0] ^= 1;
    (sym, Raw(s), Raw(r))
}

fn outcome(result: Result<Vec<u8>, Error>) -> String {
    match result {
        Ok(p) if p == PLAINTEXT => "decrypted".into(),
        Ok(_) => "wrong plaintext".into(),
        Err(e) => format!("{e:?}"),
    }
}

/// FORMAT §4.3 "Finding the file key": stanzas in file order, each offered to every
/// identity; the order of the identities never changes the outcome. Before, identities were
/// tried one after the other, so a bad RSA or symmetric stanza ended the search when its key
/// came first and was never reached when the X25519 key came first.
#[test]
fn identity_order_does_not_change_the_outcome() {
    let me = x25519::SecretKey::generate().unwrap();
    let (sym, bad_sym, bad_rsa) = bogus_stanzas();
    let rsa_id = rsa_key();
    let pairs: [(&dyn Identity, &Raw); 2] = [(&sym, &bad_sym), (rsa_id, &bad_rsa)];
    for (other, bad) in pairs {
        let good_first = encrypt(&[&me.public_key(), bad]);
        let bad_first = encrypt(&[bad, &me.public_key()]);
        for (file, expected) in [
            (&good_first, "decrypted".to_owned()),
            (
                &bad_first,
                format!("{:?}", Error::Key(KeyError::UnwrapFailed)),
            ),
        ] {
            let forward = outcome(decrypt(file, &[&me, other]));
            let backward = outcome(decrypt(file, &[other, &me]));
            assert_eq!(forward, backward, "{}: order matters", bad.0.kind);
            assert_eq!(forward, expected, "{}", bad.0.kind);
        }
    }
}

/// The same on the command line, with `-i`/`-k` in both orders.
#[test]
fn identity_order_does_not_change_the_outcome_on_the_cli() {
    let env = Env::new();
    let me = x25519::SecretKey::generate().unwrap();
    let (sym, bad_sym, bad_rsa) = bogus_stanzas();
    let x = key_file(&env, "x.key", &format!("{}\n", me.encode().as_str()));
    let s = key_file(&env, "sym.key", &format!("{}\n", sym.encode().as_str()));
    let r = key_file(&env, "rsa.pem", rsa_key().to_pem().unwrap().as_str());
    let flags = |first: (&str, &PathBuf), second: (&str, &PathBuf)| {
        vec![
            first.0.to_owned(),
            first.1.display().to_string(),
            second.0.to_owned(),
            second.1.display().to_string(),
        ]
    };
    let cases = [
        (
            &bad_sym,
            flags(("-i", &x), ("-i", &s)),
            flags(("-i", &s), ("-i", &x)),
        ),
        (
            &bad_sym,
            flags(("-i", &x), ("-k", &s)),
            flags(("-k", &s), ("-i", &x)),
        ),
        (
            &bad_rsa,
            flags(("-i", &x), ("-i", &r)),
            flags(("-i", &r), ("-i", &x)),
        ),
    ];
    for (n, (bad, forward, backward)) in cases.iter().enumerate() {
        for (tag, file, decrypts) in [
            ("good-first", encrypt(&[&me.public_key(), *bad]), true),
            ("bad-first", encrypt(&[*bad, &me.public_key()]), false),
        ] {
            let path = env.write(&format!("{n}-{tag}.age"), &file);
            let go = |args: &Vec<String>| {
                run(angou()
                    .env("ANGOU_HOME", env.p("kms-home"))
                    .arg("decrypt")
                    .args(args)
                    .arg(&path))
            };
            let (a, b) = (go(forward), go(backward));
            assert_eq!(
                (a.code, &a.stdout),
                (b.code, &b.stdout),
                "{n} {tag}: {forward:?} vs {backward:?}: {} / {}",
                a.stderr,
                b.stderr
            );
            assert_eq!(a.code == 0, decrypts, "{n} {tag}: {}", a.stderr);
            if decrypts {
                assert_eq!(a.stdout, PLAINTEXT);
            } else {
                assert!(a.stdout.is_empty());
            }
        }
    }
}

/// FORMAT §2: Bech32 may be all upper case (BIP 173) and readers accept it; the CLI now does
/// too, in `-r` and in `-R` files. Mixed case stays refused, with a message that says so.
#[test]
fn upper_case_recipient_accepted_mixed_case_refused() {
    let env = Env::new();
    let me = x25519::SecretKey::generate().unwrap();
    let id = key_file(&env, "me.key", &format!("{}\n", me.encode().as_str()));
    let lower = me.public_key().encode();
    let upper = lower.to_ascii_uppercase();
    let plain = env.write("plain.txt", PLAINTEXT);
    let list = env.write("upper.txt", format!("# upper case\n{upper}\n").as_bytes());
    let forms: [(&str, Vec<String>); 2] = [
        ("-r", vec!["-r".into(), upper.clone()]),
        ("-R", vec!["-R".into(), list.display().to_string()]),
    ];
    for (how, args) in forms {
        let ct = env.p(&format!("upper{how}.age"));
        let r = run(angou()
            .arg("encrypt")
            .args(&args)
            .arg("-o")
            .arg(&ct)
            .arg(&plain));
        assert_eq!(r.code, 0, "{how} {upper}: {}", r.stderr);
        let d = run(angou().args(["decrypt", "-i"]).arg(&id).arg(&ct));
        assert_eq!(d.code, 0, "{}", d.stderr);
        assert_eq!(d.stdout, PLAINTEXT);
    }
    let mut first_upper = lower.clone();
    first_upper.replace_range(..1, "A");
    let mut last_upper = lower.clone();
    let at = last_upper.rfind(|c: char| c.is_ascii_lowercase()).unwrap();
    let c = last_upper[at..=at].to_ascii_uppercase();
    last_upper.replace_range(at..=at, &c);
    let mut upper_data = upper.clone();
    upper_data.replace_range(..3, "age");
    for mixed in [first_upper, last_upper, upper_data] {
        let list = env.write("mixed.txt", format!("{mixed}\n").as_bytes());
        for args in [
            vec!["-r".to_owned(), mixed.clone()],
            vec!["-R".to_owned(), list.display().to_string()],
        ] {
            let ct = env.p("mixed.age");
            let r = run(angou()
                .arg("encrypt")
                .args(&args)
                .arg("-o")
                .arg(&ct)
                .arg(&plain));
            assert_ne!(r.code, 0, "{mixed} accepted");
            assert!(
                r.stderr.contains("mixes upper and lower case"),
                "{args:?}: {}",
                r.stderr
            );
            assert!(!ct.exists());
        }
    }
}

/// FORMAT §4.4: key-file lines are trimmed of ASCII whitespace (space, tab, FF, CR) at both
/// ends, nothing else. Before, any Unicode whitespace was trimmed, so a line wrapped in
/// no-break spaces was read as a key although no rule said so.
#[test]
fn key_file_lines_are_trimmed_of_ascii_whitespace_only() {
    let env = Env::new();
    let me = x25519::SecretKey::generate().unwrap();
    let recipient = me.public_key().encode();
    let plain = env.write("plain.txt", PLAINTEXT);
    let ct = env.p("ct.age");
    let ok = key_file(
        &env,
        "ascii.key",
        &format!(" \t\x0c{} \t\x0c\r\n", me.encode().as_str()),
    );
    let list = env.write("ascii.txt", format!("\t {recipient} \r\n").as_bytes());
    let r = run(angou()
        .args(["encrypt", "-R"])
        .arg(&list)
        .arg("-o")
        .arg(&ct)
        .arg(&plain));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = run(angou().args(["decrypt", "-i"]).arg(&ok).arg(&ct));
    assert_eq!((d.code, &d.stdout[..]), (0, PLAINTEXT), "{}", d.stderr);
    for pad in ["\u{a0}", "\u{2003}", "\u{3000}", "\u{85}"] {
        let id = key_file(
            &env,
            "unicode.key",
            &format!("{pad}{}{pad}\n", me.encode().as_str()),
        );
        let d = run(angou().args(["decrypt", "-i"]).arg(&id).arg(&ct));
        assert_ne!(d.code, 0, "{pad:?} around an identity was accepted");
        assert!(d.stdout.is_empty());
        let list = env.write("unicode.txt", format!("{pad}{recipient}\n").as_bytes());
        let out = env.p("unicode.age");
        let r = run(angou()
            .args(["encrypt", "-R"])
            .arg(&list)
            .arg("-o")
            .arg(&out)
            .arg(&plain));
        assert_ne!(r.code, 0, "{pad:?} before a recipient was accepted");
        assert!(!out.exists());
    }
}

/// FORMAT §4.7, exactly: before BEGIN, 0 to 1,023 bytes of SP, HTAB, CR, LF whose last byte
/// (if any) is LF; the END line ends with LF, CRLF, a lone CR at the end of input, or nothing;
/// after its line ending, 0 to 1,023 bytes of SP, HTAB, CR, LF. Everything else is `Armor`.
#[test]
fn armor_whitespace_follows_the_documented_rule() {
    let me = x25519::SecretKey::generate().unwrap();
    let mut w = ArmoredWriter::new(Vec::new()).unwrap();
    w.write_all(&encrypt(&[&me.public_key()])).unwrap();
    let armored = String::from_utf8(w.finish().unwrap()).unwrap();
    let core = armored.strip_suffix('\n').unwrap();
    let accepted: Vec<(String, String)> = vec![
        (String::new(), String::new()),
        (String::new(), "\n".into()),
        (String::new(), "\r\n".into()),
        (String::new(), "\r".into()),
        ("\n".into(), "\n".into()),
        ("\r\n".into(), "\r\n".into()),
        (" \t\r\n\n\t \n".into(), "\n \t\r\n\n".into()),
        ("\n".repeat(1023), "\n".into()),
        (" ".repeat(1022) + "\n", "\n".into()),
        (String::new(), "\n".to_owned() + &" ".repeat(1023)),
        (String::new(), "\r\n".to_owned() + &"\t".repeat(1023)),
    ];
    for (before, after) in &accepted {
        let text = format!("{before}{core}{after}");
        assert_eq!(
            decrypt(text.as_bytes(), &[&me]).unwrap(),
            PLAINTEXT,
            "refused: {before:?} … {after:?}"
        );
    }
    let refused: Vec<(String, String)> = vec![
        ("\n".repeat(1024), "\n".into()),
        (" ".repeat(1023) + "\n", "\n".into()),
        (" ".into(), "\n".into()),
        ("\n ".into(), "\n".into()),
        ("\n\t".into(), "\n".into()),
        ("\r".into(), "\n".into()),
        ("\x0b\n".into(), "\n".into()),
        ("\x0c\n".into(), "\n".into()),
        ("\u{a0}\n".into(), "\n".into()),
        (String::new(), "\n".to_owned() + &" ".repeat(1024)),
        (String::new(), " \n".into()),
        (String::new(), "\t".into()),
        (String::new(), "\r\r\n".into()),
        (String::new(), "\n\x0c".into()),
        (String::new(), "\n\x0b\n".into()),
        (String::new(), "\n\u{a0}".into()),
        (String::new(), "\nx".into()),
    ];
    for (before, after) in &refused {
        let text = format!("{before}{core}{after}");
        let result = decrypt(text.as_bytes(), &[&me]);
        assert!(
            matches!(result, Err(Error::Format(FormatError::Armor { .. }))),
            "{before:?} … {after:?}: {result:?}"
        );
    }
}
