//! What users expect of a command-line tool of this kind (issue 14): shell completions and man
//! pages generated from the parser, `-` for standard input wherever a file is read, and the
//! demo's closing "Try it" lines working as printed.

use super::*;

const COMMANDS: [&str; 10] = [
    "demo",
    "keygen",
    "pubkey",
    "encrypt",
    "decrypt",
    "inspect",
    "bench",
    "kms",
    "completions",
    "man",
];

#[test]
fn completion_scripts_cover_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = run(angou().args(["completions", shell]));
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        let text = String::from_utf8(r.stdout).unwrap();
        for command in COMMANDS {
            assert!(text.contains(command), "{shell} completion lacks {command}");
        }
    }
    let r = run(angou().args(["completions", "bash"]));
    let script = String::from_utf8(r.stdout).unwrap();
    assert!(script.contains("complete -F _angou"), "{script}");
    // Flags of subcommands are completed too.
    assert!(script.contains("--recipients-file") && script.contains("--passphrase-file"));
    assert_eq!(run(angou().args(["completions", "tcsh"])).code, 2);
    if tools::available("bash", "bash") {
        let e = Env::new();
        let path = e.write("angou.bash", script.as_bytes());
        let out = StdCommand::new("bash")
            .arg("-n")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bash -n: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn man_page_is_roff_with_exit_status() {
    let r = run(angou().arg("man"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = String::from_utf8(r.stdout).unwrap();
    assert!(page.starts_with(".TH angou 1 "), "{page}");
    assert!(page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"));
    assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");
    assert!(page.contains("2  the command line is wrong"), "{page}");
    assert!(page.contains("1  the work failed"), "{page}");
    for command in COMMANDS {
        assert!(
            page.contains(&format!("angou\\-{command}(1)")),
            "the page does not list {command}"
        );
    }
    // --dir writes one page per command, each a man page of its own.
    let e = Env::new();
    let r = run(angou().args(["man", "--dir"]).arg(e.dir.path()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fs::read_to_string(e.p("angou.1")).unwrap(), page);
    let encrypt = fs::read_to_string(e.p("angou-encrypt.1")).unwrap();
    assert!(encrypt.starts_with(".TH angou-encrypt 1 "), "{encrypt}");
    assert!(encrypt.contains("\\-\\-recipients\\-file") && encrypt.contains("EXIT STATUS"));
    assert!(e.p("angou-kms-create-key.1").is_file());
    let r = run(angou().args(["man", "--dir"]).arg(e.p("missing")));
    assert_fails(&r, 2, "is not a folder");
}

/// `angou` with `bytes` on standard input.
fn with_stdin(bytes: &[u8]) -> Command {
    let mut c = angou();
    c.write_stdin(bytes.to_vec());
    c
}

#[test]
fn dash_reads_key_files_from_standard_input() {
    let e = Env::new();
    e.keygen("x25519", "id");
    let id = fs::read(e.p("id")).unwrap();
    let recipient = e.recipient("id");
    // pubkey -i -
    let r = run(with_stdin(&id).args(["pubkey", "-i", "-"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(String::from_utf8(r.stdout).unwrap().trim(), recipient);
    // encrypt -R -, then decrypt -i - FILE.
    let plain = e.write("plain", &data(70_000));
    let r = run(with_stdin(format!("# me\n{recipient}\n").as_bytes())
        .args(["encrypt", "-R", "-", "-o"])
        .arg(e.p("ct"))
        .arg(&plain));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(with_stdin(&id)
        .args(["decrypt", "-i", "-", "-o"])
        .arg(e.p("out"))
        .arg(e.p("ct")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fs::read(e.p("out")).unwrap(), data(70_000));
    // -k - both ways.
    assert_eq!(e.keygen("symmetric", "sym").code, 0);
    let sym = fs::read(e.p("sym")).unwrap();
    let r = run(with_stdin(&sym)
        .args(["encrypt", "-k", "-", "-o"])
        .arg(e.p("ct-sym"))
        .arg(&plain));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(with_stdin(&sym)
        .args(["decrypt", "-k", "-", "-o"])
        .arg(e.p("out-sym"))
        .arg(e.p("ct-sym")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fs::read(e.p("out-sym")).unwrap(), data(70_000));
    // --passphrase-file - both ways (a low work factor keeps the test quick).
    let r = run(with_stdin(b"correct horse\n")
        .args([
            "encrypt",
            "--work-factor",
            "10",
            "--passphrase-file",
            "-",
            "-o",
        ])
        .arg(e.p("ct-pass"))
        .arg(&plain));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(with_stdin(b"correct horse\n")
        .args(["decrypt", "--passphrase-file", "-", "-o"])
        .arg(e.p("out-pass"))
        .arg(e.p("ct-pass")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fs::read(e.p("out-pass")).unwrap(), data(70_000));
    // The wrong passphrase from standard input fails like any wrong passphrase.
    let r = run(with_stdin(b"wrong\n")
        .args(["decrypt", "--passphrase-file", "-", "-o"])
        .arg(e.p("out-wrong"))
        .arg(e.p("ct-pass")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!e.p("out-wrong").exists());
    // A key file read from standard input is named as such, and gets no chmod warning.
    let r = run(with_stdin(recipient.as_bytes()).args(["pubkey", "-i", "-"]));
    assert_fails(&r, 2, "standard input");
}

/// Standard input can serve one argument: two readers, or a key file and the data, are a
/// usage error (exit 2) found before anything is read or written.
#[test]
fn standard_input_serves_one_argument_only() {
    let e = Env::new();
    e.keygen("x25519", "id");
    let id = fs::read(e.p("id")).unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["decrypt", "-i", "-"],
            "-i - reads standard input, and so does the data",
        ),
        (
            &["decrypt", "-i", "-", "-"],
            "-i - reads standard input, and so does the data",
        ),
        (
            &["decrypt", "-k", "-"],
            "-k - reads standard input, and so does the data",
        ),
        (
            &["decrypt", "--passphrase-file", "-"],
            "--passphrase-file - reads standard input, and so does the data",
        ),
        (
            &["encrypt", "-R", "-"],
            "-R - reads standard input, and so does the data",
        ),
        (
            &["encrypt", "-R", "-", "-k", "-", "plain"],
            "-R - and -k - both read standard input",
        ),
        (
            &["decrypt", "-i", "-", "-i", "-", "ct"],
            "-i - and -i - both read standard input",
        ),
    ];
    e.write("plain", b"x");
    e.write("ct", b"x");
    for (args, needle) in cases {
        let r = run(with_stdin(&id)
            .current_dir(e.dir.path())
            .args(args)
            .args(["-o", "out"]));
        assert_fails(&r, 2, needle);
        assert!(!e.p("out").exists(), "{args:?}");
        // The key was not echoed back.
        assert!(!r.stderr.contains("AGE-SECRET-KEY-1"), "{}", r.stderr);
    }
}

/// `--plaintext @-` and `--ciphertext-blob @-` read the KMS's raw bytes from standard input.
#[test]
fn kms_reads_raw_bytes_from_standard_input() {
    let e = Env::new();
    let kms = |stdin: &[u8], args: &[&str]| {
        let mut c = with_stdin(stdin);
        c.env("ANGOU_STATE_DIR", e.p("marks"))
            .env_remove("ANGOU_KMS_PASSPHRASE")
            .arg("--home")
            .arg(e.p("home"))
            .arg("kms")
            .args(args);
        let r = run(&mut c);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        serde_json::from_slice::<serde_json::Value>(&r.stdout).unwrap()
    };
    let key = kms(b"", &["create-key"])["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let blob = kms(
        b"secret bytes",
        &["encrypt", "--key-id", &key, "--plaintext", "@-"],
    )["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw = {
        use base64ct::{Base64, Encoding};
        Base64::decode_vec(&blob).unwrap()
    };
    let plain = kms(&raw, &["decrypt", "--ciphertext-blob", "@-"])["Plaintext"]
        .as_str()
        .unwrap()
        .to_owned();
    let plain = {
        use base64ct::{Base64, Encoding};
        Base64::decode_vec(&plain).unwrap()
    };
    assert_eq!(plain, b"secret bytes");
}

/// The demo's closing "Try it" lines (src/bin/angou/try_it.sh, printed as written), run
/// one by one in an empty folder with `angou` on PATH: each succeeds and the last prints the
/// note back.
#[test]
fn the_demos_try_it_lines_work_as_printed() {
    let lines = include_str!("../../src/bin/angou/try_it.sh");
    let e = Env::new();
    let path = tools::path_with_angou();
    let mut last = Vec::new();
    for line in lines.lines() {
        let out = StdCommand::new("sh")
            .args(["-c", line])
            .current_dir(e.dir.path())
            .env("PATH", &path)
            .env("HOME", e.dir.path())
            .env_remove("ANGOU_PASSPHRASE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        last = out.stdout;
    }
    assert_eq!(String::from_utf8(last).unwrap(), "meet at noon\n");
}
