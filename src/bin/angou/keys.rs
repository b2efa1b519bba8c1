//! Reading recipients, identities and key files named on the command line.

use std::fs;
use std::io::Read;
use std::path::Path;

use angou::error::SecretKind;
use angou::keyfile;
use angou::pk::ssh;
use angou::recipient::{Identity, Recipient, SymmetricKey};
use angou::secret::SecretVec;
use angou::{KeyError, KeyFileError};
use zeroize::Zeroizing;

use crate::failure::Failure;

/// Whether a file argument is `-`, which names standard input wherever angou reads a file.
/// `main::check_paths` lets at most one argument of a command read it.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// A file argument as messages name it: its path, or "standard input" for `-`.
pub fn name(path: &Path) -> String {
    if is_stdin(path) {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    }
}

/// The bytes of a file argument, or of standard input for `-`.
fn read_arg(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    if !is_stdin(path) {
        return fs::read(path).map(Zeroizing::new);
    }
    // Room for any key file up front: growing the buffer would leave copies of a secret in
    // freed memory.
    let mut bytes = Zeroizing::new(Vec::with_capacity(64 * 1024));
    std::io::stdin().lock().read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A file argument (or standard input for `-`) that should hold text.
fn read_text_arg(path: &Path, what: &str) -> Result<String, Failure> {
    let bytes = read_arg(path).map_err(|e| {
        Failure::usage(format!("cannot read {what} {}: {e}", name(path)))
            .hint("check the path and that you may read it")
    })?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Failure::usage(format!("{what} {} is not text", name(path))))
}

/// Reads a file named on the command line (or standard input for `-`) as holding a secret.
/// Nothing from its contents is ever put in a message; errors name the path only (it exists:
/// a path that names no file is refused, unrepeated, before any command runs; see
/// `main::check_paths`).
pub fn read_secret_file(path: &Path, what: &str) -> Result<Zeroizing<String>, Failure> {
    let bytes = read_arg(path).map_err(|e| {
        Failure::usage(format!("cannot read {what} {}: {e}", name(path)))
            .hint("check the path and that you may read it")
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Failure::usage(format!("{what} {} is not text", name(path)))
            .hint("pass an age identity file, a PEM private key or an angou symmetric key file")
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// Warns when a file that holds a secret can be read by other users. Called only once the
/// contents are known to be secret: a public key needs no chmod.
pub fn warn_if_shared(path: &Path, what: &str) {
    use std::os::unix::fs::PermissionsExt;
    if is_stdin(path) {
        return;
    }
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: {what} {} is accessible by other users (mode {mode:03o}); run: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
    }
}

/// The refusal for a secret given where a recipient (public key) belongs. `origin` names where
/// it was found (a file, a line, or "the -r argument"); the secret itself is never repeated.
fn secret_as_recipient(kind: SecretKind, origin: &str, file: Option<&str>) -> Failure {
    let pubkey = match file {
        Some(f) => format!("angou pubkey -i {f}"),
        None => "angou pubkey -i IDENTITY_FILE".to_owned(),
    };
    let mut f = match kind {
        SecretKind::AgeIdentity => Failure::usage(format!(
            "{origin} is an age identity (a secret key), not a recipient"
        ))
        .hint(format!(
            "encrypt to its public half, the age1… (or age1pq1…) recipient that `{pubkey}` prints"
        )),
        SecretKind::SshPrivateKey => Failure::usage(format!(
            "{origin} is an SSH private key, not a recipient"
        ))
        .hint("encrypt to its public key, the .pub file beside it: -R ~/.ssh/id_ed25519.pub"),
        SecretKind::SymmetricKey => {
            Failure::usage(format!("{origin} is a symmetric key, not a recipient"))
                .hint("a symmetric key has no public half: pass its key file with -k KEY_FILE")
        }
        SecretKind::PluginIdentity => Failure::usage(format!(
            "{origin} is an age plugin identity (a secret key), not a recipient"
        ))
        .hint("angou does not support plugin keys; use an X25519, post-quantum or RSA recipient"),
        // A PEM private key, and any kind a newer library names.
        _ => Failure::usage(format!("{origin} is an RSA private key, not a recipient")).hint(
            format!("encrypt to its public key: `{pubkey} > key.pub.pem`, then -r key.pub.pem"),
        ),
    };
    match (file, f.hint.take()) {
        // Typed on the command line: it is now in the shell history and the process list.
        (None, Some(h)) => f.hint(format!(
            "{h}; a secret key typed on the command line may be in your shell history"
        )),
        (_, h) => Failure { hint: h, ..f },
    }
}

/// A key that did not parse, with the hint that fits its kind. The library message names the
/// kind and the problem, never the key text.
fn key_failure(source: KeyError, origin: &str) -> Failure {
    let hint = match &source {
        KeyError::InvalidEncoding { what, .. } if *what == "post-quantum age recipient" => Some(
            "a post-quantum recipient is age1pq1 followed by 1,952 characters; check for a cut-off copy",
        ),
        KeyError::InvalidEncoding { what, .. } if *what == "age recipient" => Some(
            "an age recipient is age1 followed by 58 characters; check for a typo or a cut-off copy",
        ),
        KeyError::InvalidEncoding { reason, .. } if reason.contains("cannot be encrypted to") => {
            Some(
                "angou encrypts to ssh-ed25519 and ssh-rsa (2048 bits or more) keys; `ssh-keygen -t ed25519` makes one",
            )
        }
        _ => None,
    };
    let f = Failure::from(source).context(origin).into_usage();
    match hint {
        Some(h) => f.hint(h),
        None => f,
    }
}

/// Identities from the library, with the CLI's messages: the path, exit code 2 (the file
/// named on the command line cannot serve) and the "what to do".
fn identity_failure(e: KeyFileError, path: &Path) -> Failure {
    let f = match e {
        KeyFileError::SshPublicKeyNotIdentity => Failure::new(
            "is an SSH public key (a recipient), not an identity",
        )
        .hint(format!(
            "pass the private key (the same path without .pub) with -i; to encrypt to this key: angou encrypt -R {} …",
            path.display()
        )),
        KeyFileError::LegacyEncryptedPem => Failure::new(
            "is a passphrase-protected PEM private key, a legacy format angou does not read",
        )
        .hint(format!(
            "rewrite it in the OpenSSH format, keeping the passphrase: ssh-keygen -p -f {}",
            path.display()
        )),
        KeyFileError::Ssh(e) => {
            let unsupported = matches!(&e, KeyError::InvalidEncoding { reason, .. } if reason.contains("cannot be encrypted to"));
            let f = Failure::from(e);
            if unsupported {
                f.hint("angou decrypts with ssh-ed25519 and ssh-rsa keys; `ssh-keygen -t ed25519` makes one")
            } else {
                f
            }
        }
        KeyFileError::PublicKeyNotIdentity => Failure::new(
            "is a public key (a recipient), not an identity",
        )
        .hint(format!(
            "a public key is already what others encrypt to: angou encrypt -r {} …; decrypting needs the private key",
            path.display()
        )),
        KeyFileError::RecipientsNotIdentity => Failure::new(
            "holds age1… recipients (public keys), not an identity",
        )
        .hint(format!(
            "pass it to encrypt with -R {}; decrypting needs the AGE-SECRET-KEY-1… file",
            path.display()
        )),
        KeyFileError::Pem(e) => e.into(),
        KeyFileError::Key { line, source } => Failure::from(source).context(format!("line {line}")),
        KeyFileError::UnsupportedIdentity { line } => Failure::new(format!("line {line}: unsupported identity type"))
            .hint("angou reads X25519 (AGE-SECRET-KEY-1…), post-quantum (AGE-SECRET-KEY-PQ-1…), RSA PEM, OpenSSH and symmetric keys; plugin identities are not supported"),
        KeyFileError::EncryptedFile => Failure::new("is an encrypted file, not an identity")
            .hint("put the identity after -i and the encrypted file last: angou decrypt -i KEY FILE"),
        KeyFileError::NotAnIdentity { line } => Failure::new(format!("line {line}: not an identity"))
            .hint("expected AGE-SECRET-KEY-1…, ANGOU-SYMMETRIC-KEY-1…, an OpenSSH private key or a PEM private key"),
        KeyFileError::Empty => Failure::new("no key found in the file")
            .hint("the file must hold at least one key line"),
        KeyFileError::MixedIdentities => Failure::new("mixes age identities and symmetric keys")
            .hint("keep symmetric keys in their own file and pass it with -k"),
        other => Failure::from(angou::Error::from(other)),
    };
    f.context(name(path)).into_usage()
}

/// Whether a refusal of an identity file means its contents are a secret (so a readable mode
/// deserves the warning); public keys and unrecognised text do not.
fn holds_secret(e: &KeyFileError) -> bool {
    !matches!(
        e,
        KeyFileError::SshPublicKeyNotIdentity
            | KeyFileError::PublicKeyNotIdentity
            | KeyFileError::RecipientsNotIdentity
            | KeyFileError::NotAnIdentity { .. }
            | KeyFileError::EncryptedFile
            | KeyFileError::Empty
            | KeyFileError::NotText
    )
}

/// Parses an identity or key file with [`keyfile::parse_identities`]; every refusal is a
/// usage error (exit 2) naming the path, never the contents.
pub fn parse_secret_file(path: &Path, what: &str) -> Result<keyfile::Identities, Failure> {
    let text = read_secret_file(path, what)?;
    match keyfile::parse_identities(&text) {
        Ok(ids) => {
            warn_if_shared(path, what);
            Ok(ids)
        }
        Err(e) => {
            if holds_secret(&e) {
                warn_if_shared(path, what);
            }
            Err(identity_failure(e, path))
        }
    }
}

/// The passphrase of a protected SSH key: from `--passphrase-file`, then `ANGOU_PASSPHRASE`,
/// then a no-echo prompt that names the key file.
fn ssh_passphrase(path: &Path, passphrase_file: Option<&Path>) -> Result<SecretVec, Failure> {
    if passphrase_file.is_some() || std::env::var_os(crate::passphrase::ENV_VAR).is_some() {
        return crate::passphrase::obtain(passphrase_file, false);
    }
    crate::passphrase::prompt_only(&format!("passphrase for SSH key {}: ", path.display())).map_err(
        |f| {
            f.hint(format!(
                "{} is passphrase-protected: pass --passphrase-file FILE or set {}",
                path.display(),
                crate::passphrase::ENV_VAR
            ))
        },
    )
}

/// Identities from an `-i` file (any kind of secret key). A passphrase-protected SSH key is
/// unlocked here, with the passphrase from `passphrase_file`, the environment or a prompt.
pub fn load_identities(
    path: &Path,
    passphrase_file: Option<&Path>,
) -> Result<Vec<Box<dyn Identity>>, Failure> {
    let mut ids = parse_secret_file(path, "identity file")?;
    if ids.passphrase_needed().is_some() {
        let pass = ssh_passphrase(path, passphrase_file)?;
        ids = ids.unlock(&pass).map_err(|e| {
            Failure::from(angou::Error::from(e))
                .context(path.display())
                .hint(
                    "check the passphrase (from --passphrase-file, ANGOU_PASSPHRASE or the prompt)",
                )
        })?;
    }
    ids.into_identities()
        .map_err(|e| Failure::from(angou::Error::from(e)).context(name(path)))
}

/// Symmetric keys from a `-k` file.
pub fn load_symmetric_keys(path: &Path) -> Result<Vec<SymmetricKey>, Failure> {
    match parse_secret_file(path, "key file")? {
        keyfile::Identities::Symmetric(v) => Ok(v),
        _ => Err(
            Failure::usage(format!("{} is not a symmetric key file", name(path)))
                .hint("use -i for age identities and RSA private keys, -r/-R for public keys"),
        ),
    }
}

/// A recipients-file refusal from the library, with the CLI's words. `origin` names a line
/// (`FILE line N`, or "the -r argument"); `file` is the file's name when there is one.
fn recipient_failure(
    e: KeyFileError,
    origin: impl Fn(usize) -> String,
    file: Option<&str>,
) -> Failure {
    let whole = file.unwrap_or("the -r argument");
    match e {
        KeyFileError::SecretNotRecipient { line, kind } => {
            secret_as_recipient(kind, &origin(line), file)
        }
        KeyFileError::MixedCase { line } => Failure::usage(format!(
            "{}: age recipient mixes upper and lower case letters",
            origin(line)
        ))
        .hint("write it all in lower case, as angou keygen prints it, or all in upper case"),
        KeyFileError::UnsupportedRecipient { kind, .. } => Failure::usage(format!(
            "{kind} recipients (an age plugin or other recipient type) are not supported"
        ))
        .hint("use an X25519 (age1…), post-quantum (age1pq1…), SSH or RSA recipient"),
        KeyFileError::Key { line, source } => key_failure(source, &origin(line)),
        KeyFileError::Pem(e) => Failure::from(e).context(whole).into_usage(),
        KeyFileError::NotARecipient { line } => Failure::usage(format!(
            "{} is not a recipient (not repeated here in case it is a secret)",
            origin(line)
        ))
        .hint(
            "expected age1…, age1pq1…, an ssh-ed25519/ssh-rsa public key line or a PEM public key",
        ),
        KeyFileError::UnterminatedPem { .. } => {
            Failure::usage(format!("{whole}: unterminated PEM block"))
        }
        KeyFileError::Empty => Failure::usage(format!("{whole} holds no recipients"))
            .hint("add age1… lines, SSH public key lines or PEM public keys"),
        other => Failure::from(angou::Error::from(other))
            .context(whole)
            .into_usage(),
    }
}

/// A `-r FILE`: a file holding one recipient (a PEM public key, a `.pub` file). A file of
/// several is pointed at `-R`.
fn parse_recipient_file(text: &str, origin: &str) -> Result<Box<dyn Recipient>, Failure> {
    let mut keys = keyfile::parse_recipient_lines(text).map_err(|e| match e {
        KeyFileError::NotARecipient { .. } | KeyFileError::Empty => Failure::usage(format!(
            "{origin} is not a recipient: it holds no age1… recipient, SSH public key or PEM public key"
        ))
        .hint("-r takes age1… text, an SSH public key line, or the path of a .pub or PEM public key file; -R takes a file of them"),
        e => recipient_failure(e, |n| format!("{origin} line {n}"), Some(origin)),
    })?;
    match keys.len() {
        1 => Ok(keys.remove(0).key.into_recipient()),
        n => Err(Failure::usage(format!(
            "{origin} holds {n} recipients; -r takes one recipient"
        ))
        .hint(format!("pass the file with -R {origin}"))),
    }
}

/// A `-r` argument: an `age1…`/`age1pq1…` recipient, an SSH public key line (with
/// `authorized_keys` options, if any), or the path of a file holding one public key. The
/// argument is repeated in a message only when it is an existing file's path: anything else
/// may be a secret typed in the wrong place.
pub fn parse_recipient_arg(arg: &str) -> Result<Box<dyn Recipient>, Failure> {
    let origin = "the -r argument";
    let path = Path::new(arg);
    let age = arg.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("age1"));
    if !age && path.is_file() {
        let text = fs::read_to_string(path).map_err(|e| {
            Failure::usage(format!("cannot read recipient file {arg}: {e}"))
                .hint("-r takes age1… text or the path of a public key file")
        })?;
        return parse_recipient_file(&text, arg);
    }
    let mut keys = keyfile::parse_recipient_lines(arg).map_err(|e| match e {
        KeyFileError::NotARecipient { .. } | KeyFileError::Empty => Failure::usage(format!(
            "{origin} is neither an age1… recipient nor an existing file (not repeated here in case it is a secret)"
        ))
        .hint("pass age1… text, an SSH public key line, or the path of a public key file; `angou pubkey -i IDENTITY_FILE` prints an identity's recipient"),
        e => recipient_failure(e, |_| origin.to_owned(), None),
    })?;
    match keys.len() {
        1 => Ok(keys.remove(0).key.into_recipient()),
        _ => Err(
            Failure::usage(format!("{origin} holds several recipients; -r takes one"))
                .hint("repeat -r for each recipient, or put them in a file and pass it with -R"),
        ),
    }
}

/// The recipients of an `-R` file (or standard input for `-`), read by
/// [`keyfile::parse_recipient_lines`].
fn recipient_lines(path: &Path) -> Result<Vec<keyfile::RecipientLine>, Failure> {
    let text = Zeroizing::new(read_text_arg(path, "recipients file")?);
    let origin = name(path);
    keyfile::parse_recipient_lines(&text)
        .map_err(|e| recipient_failure(e, |n| format!("{origin} line {n}"), Some(&origin)))
}

/// An `-R` file: `age1…` and `age1pq1…` lines, SSH public keys (`.pub`, `authorized_keys`
/// with options, `https://github.com/NAME.keys`), PEM public keys, `#` comments, blank lines.
pub fn load_recipients_file(path: &Path) -> Result<Vec<Box<dyn Recipient>>, Failure> {
    Ok(recipient_lines(path)?
        .into_iter()
        .map(|r| r.key.into_recipient())
        .collect())
}

/// The SSH public keys listed in `files` (for `inspect -R`), each with where it was found:
/// `FILE line N (COMMENT)`. Lines that are not usable SSH keys are passed over: an
/// `authorized_keys` file may list ecdsa keys beside the ones that matter here.
pub fn load_ssh_keys(
    files: &[std::path::PathBuf],
) -> Result<Vec<(String, ssh::PublicKey)>, Failure> {
    let mut out = Vec::new();
    for path in files {
        let text = Zeroizing::new(read_text_arg(path, "recipients file")?);
        for r in keyfile::list_ssh_keys(&text) {
            if let keyfile::RecipientKey::Ssh(key) = r.key {
                let mut at = format!("{} line {}", name(path), r.line);
                if let Some(comment) = r.comment {
                    at.push_str(&format!(" ({comment})"));
                }
                out.push((at, *key));
            }
        }
    }
    Ok(out)
}

/// For each SSH stanza: its type, its key tag and, when one of `listed` has that tag, where
/// that key was found. A tag is 32 bits: a match names the likely key, not a proven one.
pub fn ssh_stanza_keys(
    stanzas: &[angou::recipient::Stanza],
    listed: &[(String, ssh::PublicKey)],
) -> Vec<(String, String, Option<String>)> {
    stanzas
        .iter()
        .filter(|s| s.kind == ssh::ED25519_TYPE || s.kind == ssh::RSA_TYPE)
        .filter_map(|s| {
            let tag = s.args.first()?;
            let found = listed
                .iter()
                .find(|(_, k)| k.kind() == s.kind && k.tag_b64() == *tag)
                .map(|(at, _)| at.clone());
            Some((s.kind.clone(), tag.clone(), found))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use angou::pk::x25519;

    /// Every X25519 recipient parses as one, whatever its data begins with: the first two
    /// Bech32 data characters (10 bits) take all 1,024 values here, so no text prefix of an
    /// X25519 recipient can be mistaken for another type.
    #[test]
    fn every_leading_data_pattern_is_x25519() {
        for first10 in 0u16..1024 {
            let mut bytes = [0x5a; 32];
            bytes[0] = (first10 >> 2) as u8;
            bytes[1] = ((first10 & 0b11) << 6) as u8 | 0x15;
            let text = x25519::PublicKey::from_bytes(bytes).encode();
            assert!(
                parse_recipient_arg(&text).is_ok(),
                "{text} was not taken as an X25519 recipient"
            );
        }
    }
}
