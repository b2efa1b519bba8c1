//! The `angou` command. Thin: parse, dispatch, report.
#![forbid(unsafe_code)]

mod aws_cli;
mod batch;
mod bench;
mod bench_kms;
mod bench_marvin;
mod cli;
mod decrypt;
mod demo;
mod encrypt;
mod failure;
mod inspect;
mod inventory;
mod io;
mod keygen;
mod keyring;
mod keys;
mod kms;
mod manual;
mod passphrase;
mod remote;
mod remote_keys;
mod rewrap;
mod serve;

use clap::Parser;

use cli::{Cli, Command};
use failure::Failure;

fn run(cli: Cli) -> Result<(), Failure> {
    check_paths(&cli.command)?;
    let home = cli.home.as_deref();
    match cli.command {
        Command::Demo => demo::run(),
        Command::Keygen(a) => keygen::keygen(a),
        Command::Pubkey(a) => keygen::pubkey(a),
        Command::Encrypt(a) => encrypt::run(a, home),
        Command::Decrypt(a) => decrypt::run(a, home),
        Command::Kms(a) => kms::run(a, home),
        Command::Bench(a) => bench::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Rewrap(a) => rewrap::run(a, home),
        Command::Completions(a) => manual::completions(a),
        Command::Man(a) => manual::man(a),
    }
}

/// Refuses, before any work, a path argument that names nothing (exit 2). The path is not
/// repeated: a user who typed a key, a passphrase or a key file's contents where a path belongs
/// would otherwise see it echoed into their terminal, logs and CI output.
/// The path arguments `encrypt` and `decrypt` share: `-k` files, `--passphrase-file` and the
/// data input, each with its description and flag for [`check_paths`].
fn keys_passphrase_and_input<'a>(
    key_files: &'a [std::path::PathBuf],
    passphrase_file: Option<&'a std::path::Path>,
    inputs: &'a [std::path::PathBuf],
) -> impl Iterator<Item = (&'static str, &'static str, &'a std::path::Path)> {
    key_files
        .iter()
        .map(|p| ("key file", "-k", p.as_path()))
        .chain(passphrase_file.map(|p| ("passphrase file", "--passphrase-file", p)))
        .chain(data_inputs(inputs).map(|p| ("input file", "", p)))
}

fn check_paths(command: &Command) -> Result<(), Failure> {
    use std::path::Path;
    let mut named: Vec<(&str, &str, &Path)> = Vec::new();
    match command {
        Command::Encrypt(a) => {
            named.extend(
                a.recipients_files
                    .iter()
                    .map(|p| ("recipients file", "-R", p.as_path())),
            );
            named.extend(keys_passphrase_and_input(
                &a.key_files,
                a.passphrase_file.as_deref(),
                &a.inputs,
            ));
        }
        Command::Decrypt(a) => {
            named.extend(
                a.ids
                    .identities
                    .iter()
                    .map(|p| ("identity file", "-i", p.as_path())),
            );
            named.extend(keys_passphrase_and_input(
                &a.ids.key_files,
                a.ids.passphrase_file.as_deref(),
                &a.inputs,
            ));
        }
        Command::Inspect(a) => {
            named.extend(a.inputs.iter().map(|p| ("input file", "", p.as_path())));
        }
        Command::Pubkey(a) => named.push(("identity file", "-i", a.identity.as_path())),
        Command::Kms(a) => {
            let at =
                |flag: &'static str, v: &str| -> Option<(&'static str, &'static str, String)> {
                    v.strip_prefix('@')
                        .or_else(|| v.strip_prefix("fileb://"))
                        .or_else(|| v.strip_prefix("file://"))
                        .map(|p| ("file", flag, p.to_owned()))
                };
            let file = match &a.op {
                kms::Op::Encrypt { plaintext, .. } => {
                    at("--plaintext fileb://FILE (or @FILE)", plaintext)
                }
                kms::Op::Decrypt {
                    ciphertext_blob, ..
                }
                | kms::Op::ReEncrypt {
                    ciphertext_blob, ..
                } => at("--ciphertext-blob fileb://FILE (or @FILE)", ciphertext_blob),
                _ => None,
            };
            if let Some((what, flag, p)) = file
                && p != "-"
                && std::fs::symlink_metadata(&p).is_err()
            {
                return Err(missing(what, flag));
            }
        }
        Command::Rewrap(a) => {
            named.extend(
                a.ids
                    .identities
                    .iter()
                    .map(|p| ("identity file", "-i", p.as_path())),
            );
            named.extend(
                a.ids
                    .key_files
                    .iter()
                    .map(|p| ("key file", "-k", p.as_path())),
            );
            named.extend(
                a.ids
                    .passphrase_file
                    .as_deref()
                    .map(|p| ("passphrase file", "--passphrase-file", p)),
            );
            named.extend(
                a.recipients_files
                    .iter()
                    .map(|p| ("recipients file", "-R", p.as_path())),
            );
            named.extend(
                a.add_key_files
                    .iter()
                    .map(|p| ("key file", "--add-key-file", p.as_path())),
            );
            named.extend(a.files.iter().map(|p| ("input file", "", p.as_path())));
        }
        Command::Demo
        | Command::Keygen(_)
        | Command::Bench(_)
        | Command::Completions(_)
        | Command::Man(_) => {}
    }
    one_reader_of_stdin(&named)?;
    for (what, flag, path) in named {
        if path.as_os_str() != "-" && std::fs::symlink_metadata(path).is_err() {
            return Err(missing(what, flag));
        }
    }
    Ok(())
}

/// The data inputs of encrypt and decrypt: standard input unless files are named.
fn data_inputs(args: &[std::path::PathBuf]) -> impl Iterator<Item = &std::path::Path> {
    let stdin = args.is_empty().then(|| std::path::Path::new("-"));
    args.iter().map(|p| p.as_path()).chain(stdin)
}

/// Refuses (exit 2) a command line on which two arguments would read standard input: the
/// first would take it all and the second would find it empty, or worse, a key file read
/// from the pipe that was meant to carry the data.
fn one_reader_of_stdin(named: &[(&str, &str, &std::path::Path)]) -> Result<(), Failure> {
    let readers: Vec<_> = named
        .iter()
        .filter(|(_, _, p)| keys::is_stdin(p))
        .map(|&(what, flag, _)| (what, flag))
        .collect();
    let [first, second, ..] = readers[..] else {
        return Ok(());
    };
    Err(match (first, second) {
        ((_, a), (_, "")) => Failure::usage(format!(
            "{a} - reads standard input, and so does the data (no input file given, or -)"
        ))
        .hint("name the file to read as the last argument, or give the key file's path"),
        ((_, a), (_, b)) => Failure::usage(format!(
            "{a} - and {b} - both read standard input; only one argument can"
        ))
        .hint("give all but one of them as a file path"),
    })
}

fn missing(what: &str, flag: &str) -> Failure {
    let (named, takes) = match flag {
        "" => (
            format!("the {what}"),
            "the last argument is the path of the file to read (or - for standard input)"
                .to_owned(),
        ),
        _ => (
            format!("the {what} given with {flag}"),
            format!("{flag} takes the path of a file"),
        ),
    };
    Failure::usage(format!(
        "{named} does not exist (the name is not repeated here in case it is a secret)"
    ))
    .hint(format!(
        "{takes}; check the path, and never type a key or passphrase in its place"
    ))
}

/// Prefixes of angou's secret key encodings. Any word that starts with one is replaced in
/// whatever angou prints on failure: the last guard behind the messages themselves, which
/// never quote key files (a key id or alias echoed by the KMS, or a clap error quoting a stray
/// argument, could otherwise carry a pasted key).
const SECRET_PREFIXES: [&str; 3] = ["AGE-SECRET-KEY-", "ANGOU-SYMMETRIC-KEY-", "AGE-PLUGIN-"];

/// Shortest word that is redacted: a prefix plus the few characters of a format name is not a
/// key (the shortest angou key encoding is 74 characters).
const MIN_REDACTED_LEN: usize = 32;

fn redact(text: &str) -> String {
    let upper = text.to_ascii_uppercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        let next = SECRET_PREFIXES
            .iter()
            .filter_map(|p| upper[at..].find(p).map(|i| at + i))
            .min();
        let Some(start) = next else { break };
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .map_or(text.len(), |i| start + i);
        out.push_str(&text[at..start]);
        // A bare prefix such as "AGE-SECRET-KEY-1…" in a hint names a format, not a key.
        if end - start >= MIN_REDACTED_LEN {
            out.push_str("[secret key not shown]");
        } else {
            out.push_str(&text[start..end]);
        }
        at = end;
    }
    out.push_str(&text[at..]);
    redact_access_key_secrets(&out)
}

/// Words shaped like an access key secret (`angou kms create-access-key`, as AWS's: exactly 40
/// base64 characters, upper and lower case) are replaced too: a secret pasted where a key id
/// or access key id belongs is echoed by "not found".
fn redact_access_key_secrets(text: &str) -> String {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(word) {
        let len = rest[start..]
            .find(|c: char| !word(c))
            .unwrap_or(rest.len() - start);
        let w = &rest[start..start + len];
        out.push_str(&rest[..start]);
        if len == 40
            && w.bytes().any(|b| b.is_ascii_lowercase())
            && w.bytes().any(|b| b.is_ascii_uppercase())
        {
            out.push_str("[secret key not shown]");
        } else {
            out.push_str(w);
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// clap quotes a rejected argument whole (an unexpected positional, a value that starts with
/// `-` such as a PEM block). An argument shaped like a secret (several lines, a PEM block, a
/// key encoding, or 40+ characters that name no file) is not repeated.
fn redact_args(text: &str) -> String {
    let mut out = redact(text);
    for arg in std::env::args_os().skip(1) {
        let arg = arg.to_string_lossy();
        let secret_shaped = arg.contains('\n')
            || arg.contains("-----BEGIN")
            || redact(&arg) != arg
            || (arg.chars().count() >= 40 && std::fs::symlink_metadata(&*arg).is_err());
        if !secret_shaped {
            continue;
        }
        // clap may quote only part of it: a `--name=value` split, or one line of several.
        let parts = [
            arg.as_ref(),
            arg.split('=').next().unwrap_or_default(),
            arg.trim(),
        ];
        for part in parts.into_iter().chain(arg.lines()) {
            if part.trim().len() >= 8 && out.contains(part) {
                out = out.replace(part, "[argument not shown]");
            }
        }
    }
    out
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let text = e.render().to_string();
            let shown = redact_args(&text);
            if shown == text {
                e.exit();
            }
            eprint!("{shown}");
            std::process::exit(e.exit_code());
        }
    };
    if let Err(f) = run(cli) {
        eprintln!("error: {}", redact(&f.message));
        if let Some(h) = &f.hint {
            eprintln!("hint: {}", redact(h));
        }
        std::process::exit(f.code);
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_replaces_whole_key_words_in_any_case() {
        let key = "age-secret-key-1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq";
        assert_eq!(
            redact(&format!("key \"{key}\" not found")),
            "key \"[secret key not shown]\" not found"
        );
        assert_eq!(
            redact(&format!(
                "{} and {}",
                key.to_uppercase(),
                key.replace("age-secret", "ANGOU-SYMMETRIC")
            )),
            "[secret key not shown] and [secret key not shown]"
        );
        assert_eq!(redact("nothing here"), "nothing here");
        assert_eq!(
            redact("key sTRvTwuCS3AzQXWV7DcfGBIq1OLxPKxR/KKxF7x6 not found"),
            "key [secret key not shown] not found"
        );
        let arn = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(redact(arn), arn);
        assert_eq!(
            redact("expected AGE-SECRET-KEY-1… or ANGOU-SYMMETRIC-KEY-1…"),
            "expected AGE-SECRET-KEY-1… or ANGOU-SYMMETRIC-KEY-1…"
        );
    }
}
