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
