//! Messages a new user met that mislead (issue 10 §5), and the exit-code rule:
//! 2 = the command line is wrong or names something unusable, found before any input is read
//! or output written; 1 = the work failed. Both `--help` and README.md state the rule.

use std::path::PathBuf;

use crate::common::{Env, Run, angou, create_kms_key, run};

fn ok(r: Run, what: &str) -> Run {
    assert_eq!(r.code, 0, "{what}: {}", r.stderr);
    r
}

struct Keys {
    env: Env,
    id: PathBuf,
    recipient: String,
    plain: PathBuf,
}

fn keys() -> Keys {
    let env = Env::new();
    let id = env.p("id.key");
    ok(run(angou().args(["keygen", "-o"]).arg(&id)), "keygen");
    let recipient = ok(run(angou().arg("pubkey").arg("-i").arg(&id)), "pubkey")
        .out()
        .trim()
        .to_owned();
    let plain = env.write("plain.txt", b"hello\n");
    Keys {
        env,
        id,
        recipient,
        plain,
    }
}

/// `--cipher xchacha20-poly1305` said "unknown algorithm …, expected one of …,
/// xchacha20-poly1305": it must say that XChaCha is not a file payload cipher.
#[test]
fn xchacha_is_named_as_not_a_payload_cipher() {
    let k = keys();
    let r = run(angou()
        .args([
            "encrypt",
            "-r",
            &k.recipient,
            "--cipher",
            "xchacha20-poly1305",
        ])
        .arg(&k.plain));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("xchacha20-poly1305 is not a file payload cipher"),
        "{}",
        r.stderr
    );
    let listed = r.stderr.split("expected").nth(1).unwrap_or_default();
    assert!(
        !listed.contains("xchacha20-poly1305,") && listed.contains("chacha20-poly1305"),
        "{}",
        r.stderr
    );
    let r = run(angou()
        .args(["encrypt", "-r", &k.recipient, "--cipher", "aes256"])
        .arg(&k.plain));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown payload cipher"), "{}", r.stderr);
    assert!(!r.stderr.contains("xchacha"), "{}", r.stderr);
}

/// `pubkey -i rsa.pub.pem` warned to chmod a public key, then called it a damaged private key.
#[test]
fn pubkey_of_a_public_key_says_it_is_one_already() {
    let k = keys();
    let rsa = k.env.p("rsa.pem");
    ok(
        run(angou().args(["keygen", "-t", "rsa-2048", "-o"]).arg(&rsa)),
        "keygen",
    );
    let public = ok(run(angou().arg("pubkey").arg("-i").arg(&rsa)), "pubkey").stdout;
    let pub_path = k.env.write("rsa.pub.pem", &public);
    // World-readable, as public keys are.
    std::fs::set_permissions(
        &pub_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let r = run(angou().arg("pubkey").arg("-i").arg(&pub_path));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains("chmod"), "{}", r.stderr);
    assert!(!r.stderr.contains("private key:"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("is a public key (a recipient), not an identity"),
        "{}",
        r.stderr
    );
    // An age recipients file given to -i is named too.
    let rfile = k
        .env
        .write("friends.txt", format!("{}\n", k.recipient).as_bytes());
    let r = run(angou().arg("pubkey").arg("-i").arg(&rfile));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("recipients (public keys), not an identity"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("chmod"), "{}", r.stderr);
}

/// A wrong passphrase said "no identity matched any of the file's recipients".
#[test]
fn wrong_passphrase_says_so() {
    let k = keys();
    let right = k.env.write("right.txt", b"right passphrase\n");
    let wrong = k.env.write("wrong.txt", b"wrong passphrase\n");
    let enc = k.env.p("p.age");
    ok(
        run(angou()
            .args(["encrypt", "--work-factor", "10", "--passphrase-file"])
            .arg(&right)
            .arg("-o")
            .arg(&enc)
            .arg(&k.plain)),
        "encrypt",
    );
    let r = run(angou()
        .args(["decrypt", "--passphrase-file"])
        .arg(&wrong)
        .arg(&enc));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("wrong passphrase"), "{}", r.stderr);
    assert!(!r.stderr.contains("no identity matched"), "{}", r.stderr);
    // Through the environment variable too.
    let r = run(angou()
        .env("ANGOU_PASSPHRASE", "also wrong")
        .arg("decrypt")
        .arg(&enc));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("wrong passphrase"), "{}", r.stderr);
}

/// `kms init --passphrase` with no terminal suggested `--passphrase-file` (it has none) and
/// `ANGOU_PASSPHRASE` (later kms commands read `ANGOU_KMS_PASSPHRASE`).
#[test]
fn kms_init_passphrase_without_terminal_names_the_kms_variable() {
    let env = Env::new();
    let r = run(angou()
        .arg("--home")
        .arg(env.p("store"))
        .args(["kms", "init", "--passphrase"])
        .write_stdin(""));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("ANGOU_KMS_PASSPHRASE"), "{}", r.stderr);
    assert!(!r.stderr.contains("--passphrase-file"), "{}", r.stderr);
    assert!(!r.stderr.contains("set ANGOU_PASSPHRASE"), "{}", r.stderr);

    // ANGOU_PASSPHRASE alone must not silently become the store's passphrase.
    let r = run(angou()
        .env("ANGOU_PASSPHRASE", "for files only")
        .arg("--home")
        .arg(env.p("store2"))
        .args(["kms", "init", "--passphrase"])
        .write_stdin(""));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("ANGOU_KMS_PASSPHRASE")
            && r.stderr.contains("ANGOU_PASSPHRASE is for encrypted files"),
        "{}",
        r.stderr
    );
}

/// `kms generate-data-key` with a wrong or no `--key-spec`: each refusal has a hint.
#[test]
fn kms_generate_data_key_without_valid_key_spec_has_a_hint() {
    let env = Env::new();
    let store = env.p("store");
    let key_id = create_kms_key(&store);
    for extra in [&[][..], &["--key-spec", "AES256"][..]] {
        let r = run(angou()
            .arg("--home")
            .arg(&store)
            .args(["kms", "generate-data-key", "--key-id", &key_id])
            .args(extra));
        assert_eq!(r.code, 2, "{extra:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("\nhint: ") && r.stderr.contains("AES_256"),
            "{extra:?}: {}",
            r.stderr
        );
    }
}

/// The exit-code rule, over the error paths a new user meets: a typo'd `age1…` and a missing
/// recipients file are both 2 (they used to be 1 and 2 the other way round), and so is every
/// path argument that names nothing or names the wrong kind of key; failures of the work
/// (wrong key, wrong passphrase, input that is not an encrypted file) are 1.
#[test]
fn exit_codes_follow_one_rule() {
    let k = keys();
    let typo = {
        let mut r = k.recipient.clone();
        let last = r.pop().unwrap();
        r.push(if last == 'q' { 'p' } else { 'q' });
        r
    };
    let enc = k.env.p("x.age");
    ok(
        run(angou()
            .args(["encrypt", "-r", &k.recipient, "-o"])
            .arg(&enc)
            .arg(&k.plain)),
        "encrypt",
    );
    let other = k.env.p("other.key");
    ok(run(angou().args(["keygen", "-o"]).arg(&other)), "keygen");
    let not_age = k.env.write("notes.txt", b"just text\n");
    let missing = k.env.p("missing").display().to_string();
    let id = k.id.display().to_string();
    let plain = k.plain.display().to_string();
    let enc_s = enc.display().to_string();
    let other_s = other.display().to_string();
    let not_age_s = not_age.display().to_string();

    let usage: Vec<Vec<&str>> = vec![
        vec!["encrypt", "-r", &typo, &plain],
        vec!["encrypt", "-r", &missing, &plain],
        vec!["encrypt", "-R", &missing, &plain],
        vec!["encrypt", "-R", &id, &plain],
        vec!["encrypt", "-k", &missing, &plain],
        vec!["encrypt", "-k", &id, &plain],
        vec!["encrypt", "-r", &k.recipient, &missing],
        vec!["encrypt", "--passphrase-file", &missing, &plain],
        vec!["encrypt", &plain],
        vec!["encrypt", "--no-such-flag"],
        vec!["decrypt", "-i", &missing, &enc_s],
        vec!["decrypt", "-i", &not_age_s, &enc_s],
        vec!["decrypt", "-i", &id, &missing],
        vec!["decrypt", &enc_s],
        vec!["inspect", &missing],
        vec!["pubkey", "-i", &missing],
        vec!["pubkey", "-i", &not_age_s],
    ];
    for args in &usage {
        let r = run(angou().args(args).write_stdin(""));
        assert_eq!(r.code, 2, "{args:?} should be a usage error: {}", r.stderr);
        assert!(r.stderr.starts_with("error: "), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("warning:"), "{args:?}: {}", r.stderr);
    }
    let work: Vec<Vec<&str>> = vec![
        vec!["decrypt", "-i", &other_s, &enc_s],
        vec!["decrypt", "-i", &id, &not_age_s],
        vec!["inspect", &not_age_s],
    ];
    for args in &work {
        let r = run(angou().args(args).write_stdin(""));
        assert_eq!(
            r.code, 1,
            "{args:?} should be a failure of the work: {}",
            r.stderr
        );
    }
    // A missing recipients file and a typo'd recipient now agree.
    let r = run(angou().args(["encrypt", "-r", &typo, &plain]));
    assert!(r.stderr.contains("check for a typo"), "{}", r.stderr);
}

/// The rule is documented where users look: `--help` and README.md.
#[test]
fn exit_code_rule_is_documented() {
    let r = ok(run(angou().arg("--help")), "--help");
    let help = r.out();
    assert!(
        help.contains("2  the command line is wrong"),
        "--help lacks the rule:\n{help}"
    );
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains("2 = the command line is wrong"),
        "README.md lacks the exit-code rule"
    );
}

/// A path typed wrong is refused without repeating it (it may be a secret typed in its place),
/// but the message still says which argument.
#[test]
fn missing_path_names_the_flag_not_the_text() {
    let k = keys();
    let r = run(angou()
        .args(["decrypt", "--passphrase-file", "my secret passphrase"])
        .arg(&k.plain));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--passphrase-file"), "{}", r.stderr);
    assert!(!r.stderr.contains("my secret"), "{}", r.stderr);
}
