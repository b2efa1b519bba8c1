//! Reading recipients, identities and key files named on the command line.

use std::fs;
use std::io::Read;
use std::path::Path;

use angou::KeyFileError;
use angou::keyfile;
use angou::pk::{mlkem768x25519 as pq, rsa, ssh, x25519};
use angou::recipient::{Identity, Recipient, SymmetricKey};
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

fn is_pem(text: &str) -> bool {
    text.contains("-----BEGIN ")
}

/// Case-insensitive prefix test (key encodings are Bech32: either case is the same key).
fn starts_with_ci(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// What a piece of key text (a line, or a whole `-r` argument) is, judged by its prefix only.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyText {
    AgeIdentity,
    SymmetricKey,
    PluginIdentity,
    AgeRecipient,
    PemPrivate,
    PemPublic,
    SshPrivate,
    SshPublic,
    Other,
}

fn classify(text: &str) -> KeyText {
    let t = text.trim();
    if starts_with_ci(t, "AGE-PLUGIN-") {
        KeyText::PluginIdentity
    } else if starts_with_ci(t, "AGE-SECRET-KEY-") {
        KeyText::AgeIdentity
    } else if starts_with_ci(t, "ANGOU-SYMMETRIC-KEY-") {
        KeyText::SymmetricKey
    } else if starts_with_ci(t, "age1") {
        KeyText::AgeRecipient
    } else if t.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
        KeyText::SshPrivate
    } else if ssh::is_key_type(t.split_ascii_whitespace().next().unwrap_or("")) {
        KeyText::SshPublic
    } else if t.contains("-----BEGIN ") && t.contains("PRIVATE KEY-----") {
        KeyText::PemPrivate
    } else if t.contains("-----BEGIN ") && t.contains("PUBLIC KEY-----") {
        KeyText::PemPublic
    } else {
        KeyText::Other
    }
}

/// What a whole file holds, judged by its first non-comment line (or its PEM label).
fn classify_file(text: &str) -> KeyText {
    if text.contains("-----BEGIN ") {
        return classify(text);
    }
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map_or(KeyText::Other, classify)
}

/// The refusal for a secret given where a recipient (public key) belongs. `origin` names where
/// it was found (a file, a line, or "the -r argument"); the secret itself is never repeated.
fn secret_as_recipient(kind: KeyText, origin: &str, file: Option<&str>) -> Option<Failure> {
    let pubkey = match file {
        Some(f) => format!("angou pubkey -i {f}"),
        None => "angou pubkey -i IDENTITY_FILE".to_owned(),
    };
    let mut f = match kind {
        KeyText::AgeIdentity => Failure::usage(format!(
            "{origin} is an age identity (a secret key), not a recipient"
        ))
        .hint(format!(
            "encrypt to its public half, the age1… (or age1pq1…) recipient that `{pubkey}` prints"
        )),
        KeyText::PemPrivate => {
            Failure::usage(format!("{origin} is an RSA private key, not a recipient")).hint(
                format!("encrypt to its public key: `{pubkey} > key.pub.pem`, then -r key.pub.pem"),
            )
        }
        KeyText::SshPrivate => Failure::usage(format!(
            "{origin} is an SSH private key, not a recipient"
        ))
        .hint("encrypt to its public key, the .pub file beside it: -R ~/.ssh/id_ed25519.pub"),
        KeyText::SymmetricKey => {
            Failure::usage(format!("{origin} is a symmetric key, not a recipient"))
                .hint("a symmetric key has no public half: pass its key file with -k KEY_FILE")
        }
        KeyText::PluginIdentity => Failure::usage(format!(
            "{origin} is an age plugin identity (a secret key), not a recipient"
        ))
        .hint("angou does not support plugin keys; use an X25519, post-quantum or RSA recipient"),
        _ => return None,
    };
    Some(match (file, f.hint.take()) {
        // Typed on the command line: it is now in the shell history and the process list.
        (None, Some(h)) => f.hint(format!(
            "{h}; a secret key typed on the command line may be in your shell history"
        )),
        (_, h) => Failure { hint: h, ..f },
    })
}

/// A key file's contents, parsed.
pub enum SecretKeyFile {
    X25519(Vec<x25519::SecretKey>),
    /// At least one post-quantum identity, and the X25519 ones beside it (age files may mix).
    PostQuantum(Vec<pq::SecretKey>, Vec<x25519::SecretKey>),
    Rsa(Box<rsa::PrivateKey>),
    Symmetric(Vec<SymmetricKey>),
    Ssh(ssh::PrivateKeyFile),
}

impl From<keyfile::Identities> for SecretKeyFile {
    fn from(i: keyfile::Identities) -> Self {
        match i {
            keyfile::Identities::X25519(v) => SecretKeyFile::X25519(v),
            keyfile::Identities::Rsa(k) => SecretKeyFile::Rsa(k),
            keyfile::Identities::Symmetric(v) => SecretKeyFile::Symmetric(v),
            keyfile::Identities::PostQuantum(p, x) => SecretKeyFile::PostQuantum(p, x),
        }
    }
}

/// Parses an identity or key file: PEM RSA private key, or lines of `AGE-SECRET-KEY-1…` /
/// `ANGOU-SYMMETRIC-KEY-1…` with `#` comments and blank lines.
///
/// Every refusal is a usage error (exit 2): the file named on the command line cannot serve.
pub fn parse_secret_file(path: &Path, what: &str) -> Result<SecretKeyFile, Failure> {
    let text = read_secret_file(path, what)?;
    let at = |f: Failure| f.context(name(path)).into_usage();
    match classify_file(&text) {
        KeyText::SshPublic => {
            return Err(at(Failure::new(
                "is an SSH public key (a recipient), not an identity",
            )
            .hint(format!(
                "pass the private key (the same path without .pub) with -i; to encrypt to this key: angou encrypt -R {} …",
                path.display()
            ))));
        }
        // Unrecognised contents and public keys are refused by the parser; only a
        // recognised secret earns the warning.
        KeyText::Other | KeyText::PemPublic | KeyText::AgeRecipient => {}
        _ => warn_if_shared(path, what),
    }
    if kind_is_ssh_private(&text) {
        return ssh::PrivateKey::from_openssh(&text)
            .map(SecretKeyFile::Ssh)
            .map_err(|e| at(ssh_failure(e)));
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(at(Failure::new(
            "is a passphrase-protected PEM private key, a legacy format angou does not read",
        ))
        .hint(format!(
            "rewrite it in the OpenSSH format, keeping the passphrase: ssh-keygen -p -f {}",
            path.display()
        )));
    }
    // The library parses; the CLI adds the path, the exit code and the "what to do".
    keyfile::parse_identities(&text).map(SecretKeyFile::from).map_err(|e| {
        at(match e {
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
            KeyFileError::Key { line, source } => {
                Failure::from(source).context(format!("line {line}"))
            }
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
        })
    })
}

fn kind_is_ssh_private(text: &str) -> bool {
    classify(text) == KeyText::SshPrivate
}

/// An SSH key refusal, with the hint that fits it.
fn ssh_failure(e: angou::KeyError) -> Failure {
    let unsupported = matches!(&e, angou::KeyError::InvalidEncoding { reason, .. } if reason.contains("cannot be encrypted to"));
    let f = Failure::from(e).into_usage();
    if unsupported {
        f.hint("angou encrypts to ssh-ed25519 and ssh-rsa (2048 bits or more) keys; `ssh-keygen -t ed25519` makes one")
    } else {
        f
    }
}

/// Decrypts a passphrase-protected SSH key: the passphrase comes from `--passphrase-file`, then
/// `ANGOU_PASSPHRASE`, then a no-echo prompt that names the key file.
fn unlock_ssh(
    key: &ssh::EncryptedPrivateKey,
    path: &Path,
    passphrase_file: Option<&Path>,
) -> Result<ssh::PrivateKey, Failure> {
    let pass =
        if passphrase_file.is_some() || std::env::var_os(crate::passphrase::ENV_VAR).is_some() {
            crate::passphrase::obtain(passphrase_file, false)?
        } else {
            crate::passphrase::prompt_only(&format!("passphrase for SSH key {}: ", path.display()))
                .map_err(|f| {
                    f.hint(format!(
                        "{} is passphrase-protected: pass --passphrase-file FILE or set {}",
                        path.display(),
                        crate::passphrase::ENV_VAR
                    ))
                })?
        };
    key.decrypt(&pass).map_err(|e| {
        Failure::from(e)
            .context(path.display())
            .hint("check the passphrase (from --passphrase-file, ANGOU_PASSPHRASE or the prompt)")
    })
}

/// Identities from an `-i` file (any kind of secret key). A passphrase-protected SSH key is
/// unlocked here, with the passphrase from `passphrase_file`, the environment or a prompt.
pub fn load_identities(
    path: &Path,
    passphrase_file: Option<&Path>,
) -> Result<Vec<Box<dyn Identity>>, Failure> {
    Ok(match parse_secret_file(path, "identity file")? {
        SecretKeyFile::X25519(v) => v
            .into_iter()
            .map(|k| Box::new(k) as Box<dyn Identity>)
            .collect(),
        SecretKeyFile::PostQuantum(p, x) => p
            .into_iter()
            .map(|k| Box::new(k) as Box<dyn Identity>)
            .chain(x.into_iter().map(|k| Box::new(k) as Box<dyn Identity>))
            .collect(),
        // A PEM RSA key (older ssh-keygen writes PKCS#1) also answers ssh-rsa stanzas.
        SecretKeyFile::Rsa(k) => match ssh::PrivateKey::from_rsa((*k).clone()) {
            Ok(s) => vec![k as Box<dyn Identity>, Box::new(s)],
            Err(_) => vec![k as Box<dyn Identity>],
        },
        SecretKeyFile::Symmetric(v) => v
            .into_iter()
            .map(|k| Box::new(k) as Box<dyn Identity>)
            .collect(),
        SecretKeyFile::Ssh(ssh::PrivateKeyFile::Plain(k)) => vec![Box::new(k)],
        SecretKeyFile::Ssh(ssh::PrivateKeyFile::Encrypted(k)) => {
            vec![Box::new(unlock_ssh(&k, path, passphrase_file)?)]
        }
    })
}

/// Symmetric keys from a `-k` file.
pub fn load_symmetric_keys(path: &Path) -> Result<Vec<SymmetricKey>, Failure> {
    match parse_secret_file(path, "key file")? {
        SecretKeyFile::Symmetric(v) => Ok(v),
        _ => Err(
            Failure::usage(format!("{} is not a symmetric key file", name(path)))
                .hint("use -i for age identities and RSA private keys, -r/-R for public keys"),
        ),
    }
}

fn parse_public_pem(text: &str, origin: &str) -> Result<Box<dyn Recipient>, Failure> {
    if let Some(f) = secret_as_recipient(classify(text), origin, Some(origin)) {
        return Err(f);
    }
    rsa::PublicKey::from_pem(text)
        .map(|k| Box::new(k) as Box<dyn Recipient>)
        .map_err(|e| Failure::from(e).context(origin).into_usage())
}

/// A `-r FILE`: a PEM public key. Files of other kinds are named for what they hold.
fn parse_recipient_file(text: &str, origin: &str) -> Result<Box<dyn Recipient>, Failure> {
    let kind = classify_file(text);
    if let Some(f) = secret_as_recipient(kind, origin, Some(origin)) {
        return Err(f);
    }
    if kind == KeyText::SshPublic {
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        return match (lines.next(), lines.next()) {
            (Some(line), None) => parse_ssh_line(line, origin),
            _ => Err(Failure::usage(format!(
                "{origin} holds several SSH keys; -r takes one recipient"
            ))
            .hint(format!("pass the file with -R {origin}"))),
        };
    }
    if kind == KeyText::Other && !is_pem(text) {
        return Err(Failure::usage(format!(
            "{origin} is not a recipient: it holds no age1… recipient or PEM public key"
        ))
        .hint("-r takes age1… text or the path of an RSA public key (PEM); -R takes a file of age1… lines"));
    }
    if kind == KeyText::AgeRecipient {
        return Err(Failure::usage(format!(
            "{origin} is a recipients file; -r takes one recipient or a PEM public key"
        ))
        .hint(format!("pass the file with -R {origin}")));
    }
    parse_public_pem(text, origin)
}

/// The human-readable part of a Bech32 string: everything before its last `1` (BIP 173).
/// The data characters never include `1`, so this is exact even when the data starts with
/// letters that look like a longer prefix.
fn bech32_hrp(text: &str) -> &str {
    text.rfind('1').map_or(text, |at| &text[..at])
}

/// A `-r` argument: an `age1…` recipient (or `AGE1…`: Bech32 may be all upper case, BIP 173)
/// or the path of a PEM public key. The argument is repeated in a message only when it is an
/// existing file's path: anything else may be a secret typed in the wrong place.
pub fn parse_recipient_arg(arg: &str) -> Result<Box<dyn Recipient>, Failure> {
    parse_recipient_text(arg, "the -r argument")
}

/// A recipient given as text; `origin` says where it came from (never the text itself).
fn parse_recipient_text(arg: &str, origin: &str) -> Result<Box<dyn Recipient>, Failure> {
    if arg.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("age1")) {
        if arg != arg.to_ascii_lowercase() && arg != arg.to_ascii_uppercase() {
            return Err(Failure::usage(format!(
                "{origin}: age recipient mixes upper and lower case letters"
            ))
            .hint("write it all in lower case, as angou keygen prints it, or all in upper case"));
        }
        let lower = arg.to_ascii_lowercase();
        // The type is the HRP, not a text prefix: an X25519 recipient (HRP `age`) whose data
        // begins with "pq" is still X25519, one key in 1,024.
        if bech32_hrp(&lower) == "age1pq" {
            return pq::PublicKey::parse(arg)
                .map(|k| Box::new(k) as Box<dyn Recipient>)
                .map_err(|e| {
                    Failure::from(e)
                        .context(origin)
                        .into_usage()
                        .hint("a post-quantum recipient is age1pq1 followed by 1,952 characters; check for a cut-off copy")
                });
        }
        let refused = match bech32_hrp(&lower) {
            hrp if hrp.starts_with("age1")
                && hrp.len() <= 32
                && hrp
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
            {
                Some(format!(
                    "{hrp}1… recipients (an age plugin or other recipient type) are not supported"
                ))
            }
            hrp if hrp.starts_with("age1") => Some(
                "age1…1… recipients (an age plugin or other recipient type) are not supported"
                    .to_owned(),
            ),
            _ => None,
        };
        if let Some(message) = refused {
            return Err(Failure::usage(message).hint("use an X25519 (age1…) or RSA recipient"));
        }
        return x25519::PublicKey::parse(arg)
            .map(|k| Box::new(k) as Box<dyn Recipient>)
            .map_err(|e| {
                Failure::from(e)
                    .context(origin)
                    .into_usage()
                    .hint("an age recipient is age1 followed by 58 characters; check for a typo or a cut-off copy")
            });
    }
    if let Some(f) = secret_as_recipient(classify(arg), origin, None) {
        return Err(f);
    }
    if classify(arg) == KeyText::SshPublic {
        return parse_ssh_line(arg, origin);
    }
    let path = Path::new(arg);
    // An authorized_keys line with options: `no-pty,command="…" ssh-ed25519 AAAA…`.
    if !path.is_file() && arg.split_ascii_whitespace().any(ssh::is_key_type) {
        return parse_ssh_line(arg, origin);
    }
    if path.is_file() {
        let text = fs::read_to_string(path).map_err(|e| {
            Failure::usage(format!("cannot read recipient file {arg}: {e}"))
                .hint("-r takes age1… text or the path of an RSA public key (PEM)")
        })?;
        return parse_recipient_file(&text, arg);
    }
    Err(Failure::usage(format!(
        "{origin} is neither an age1… recipient nor an existing file (not repeated here in case it is a secret)"
    ))
    .hint("pass age1… text, or the path of an RSA public key (PEM); `angou pubkey -i IDENTITY_FILE` prints an identity's recipient"))
}

/// An SSH public key line (`.pub`, `authorized_keys`, `NAME.keys`); the text is never repeated.
fn parse_ssh_line(line: &str, origin: &str) -> Result<Box<dyn Recipient>, Failure> {
    ssh::PublicKey::parse_line(line)
        .map(|k| Box::new(k) as Box<dyn Recipient>)
        .map_err(|e| ssh_failure(e).context(origin))
}

/// An `-R` file: `age1…` lines, SSH public keys (`.pub`, `authorized_keys` with options,
/// `https://github.com/NAME.keys`), PEM public keys, `#` comments, blank lines.
pub fn load_recipients_file(path: &Path) -> Result<Vec<Box<dyn Recipient>>, Failure> {
    let text = read_text_arg(path, "recipients file")?;
    let origin = name(path);
    let mut out = Vec::new();
    let mut pem = String::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_ascii();
        if !pem.is_empty() || trimmed.starts_with("-----BEGIN ") {
            pem.push_str(trimmed);
            pem.push('\n');
            if trimmed.starts_with("-----END ") {
                out.push(parse_public_pem(&pem, &origin)?);
                pem.clear();
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let line_origin = format!("{origin} line {}", n + 1);
        if let Some(f) = secret_as_recipient(classify(trimmed), &line_origin, Some(&origin)) {
            return Err(f);
        }
        out.push(parse_recipient_text(trimmed, &line_origin)?);
    }
    if !pem.is_empty() {
        return Err(Failure::usage(format!("{origin}: unterminated PEM block")));
    }
    if out.is_empty() {
        return Err(Failure::usage(format!("{origin} holds no recipients"))
            .hint("add age1… lines or PEM public keys"));
    }
    Ok(out)
}

/// The SSH public keys listed in `files` (for `inspect -R`), each with where it was found:
/// `FILE line N (COMMENT)`. Lines that are not SSH keys are passed over.
pub fn load_ssh_keys(
    files: &[std::path::PathBuf],
) -> Result<Vec<(String, ssh::PublicKey)>, Failure> {
    let mut out = Vec::new();
    for path in files {
        let text = fs::read_to_string(path).map_err(|e| {
            Failure::usage(format!(
                "cannot read recipients file {}: {e}",
                path.display()
            ))
            .hint("check the path and that you may read it")
        })?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('#') || !line.split_ascii_whitespace().any(ssh::is_key_type) {
                continue;
            }
            if let Ok(key) = ssh::PublicKey::parse_line(line) {
                let comment = line
                    .split_ascii_whitespace()
                    .skip_while(|f| !ssh::is_key_type(f))
                    .skip(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut at = format!("{} line {}", path.display(), n + 1);
                if !comment.is_empty() {
                    at.push_str(&format!(" ({comment})"));
                }
                out.push((at, key));
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
