//! Reading recipients, identities and key files named on the command line.

use std::fs;
use std::path::Path;

use angou::pk::{mlkem768x25519 as pq, rsa, x25519};
use angou::recipient::{Identity, Recipient, SymmetricKey};
use zeroize::Zeroizing;

use crate::failure::Failure;

/// Reads a file named on the command line as holding a secret. Nothing from its contents is
/// ever put in a message; errors name the path only (it exists: a path that names no file is
/// refused, unrepeated, before any command runs; see `main::check_paths`).
pub fn read_secret_file(path: &Path, what: &str) -> Result<Zeroizing<String>, Failure> {
    let bytes = Zeroizing::new(fs::read(path).map_err(|e| {
        Failure::usage(format!("cannot read {what} {}: {e}", path.display()))
            .hint("check the path and that you may read it")
    })?);
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Failure::usage(format!("{what} {} is not text", path.display()))
            .hint("pass an age identity file, a PEM private key or an angou symmetric key file")
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// Warns when a file that holds a secret can be read by other users. Called only once the
/// contents are known to be secret: a public key needs no chmod.
pub fn warn_if_shared(path: &Path, what: &str) {
    use std::os::unix::fs::PermissionsExt;
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
}

/// Parses an identity or key file: PEM RSA private key, or lines of `AGE-SECRET-KEY-1…` /
/// `ANGOU-SYMMETRIC-KEY-1…` with `#` comments and blank lines.
///
/// Every refusal is a usage error (exit 2): the file named on the command line cannot serve.
pub fn parse_secret_file(path: &Path, what: &str) -> Result<SecretKeyFile, Failure> {
    let text = read_secret_file(path, what)?;
    let at = |f: Failure| f.context(path.display()).into_usage();
    match classify_file(&text) {
        KeyText::PemPublic => {
            return Err(at(Failure::new(
                "is a public key (a recipient), not an identity",
            )
            .hint(format!(
                "a public key is already what others encrypt to: angou encrypt -r {} …; decrypting needs the private key",
                path.display()
            ))));
        }
        KeyText::AgeRecipient => {
            return Err(at(Failure::new(
                "holds age1… recipients (public keys), not an identity",
            )
            .hint(format!(
                "pass it to encrypt with -R {}; decrypting needs the AGE-SECRET-KEY-1… file",
                path.display()
            ))));
        }
        // Unrecognised contents are refused below; only a recognised secret earns the warning.
        KeyText::Other => {}
        _ => warn_if_shared(path, what),
    }
    if is_pem(&text) {
        return rsa::PrivateKey::from_pem(&text)
            .map(|k| SecretKeyFile::Rsa(Box::new(k)))
            .map_err(|e| at(e.into()));
    }
    let mut x = Vec::new();
    let mut sym = Vec::new();
    let mut pqs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let lineno = n + 1;
        if line.starts_with("AGE-SECRET-KEY-1") {
            x.push(
                x25519::SecretKey::parse(line)
                    .map_err(|e| at(Failure::from(e).context(format!("line {lineno}"))))?,
            );
        } else if line.starts_with("ANGOU-SYMMETRIC-KEY-1") {
            sym.push(
                SymmetricKey::parse(line)
                    .map_err(|e| at(Failure::from(e).context(format!("line {lineno}"))))?,
            );
        } else if line.starts_with("AGE-SECRET-KEY-PQ-1") {
            pqs.push(
                pq::SecretKey::parse(line)
                    .map_err(|e| at(Failure::from(e).context(format!("line {lineno}"))))?,
            );
        } else if line.starts_with("AGE-PLUGIN-") {
            return Err(at(Failure::new(format!("line {lineno}: unsupported identity type"))
                .hint("angou reads X25519 (AGE-SECRET-KEY-1…), post-quantum (AGE-SECRET-KEY-PQ-1…), RSA PEM and symmetric keys; plugin identities are not supported")));
        } else if line.starts_with("age-encryption.org/") || line.starts_with("angou.dev/") {
            return Err(at(Failure::new("is an encrypted file, not an identity"))
                .hint("put the identity after -i and the encrypted file last: angou decrypt -i KEY FILE"));
        } else {
            return Err(at(Failure::new(format!("line {lineno}: not an identity"))
                .hint(
                    "expected AGE-SECRET-KEY-1…, ANGOU-SYMMETRIC-KEY-1… or a PEM private key",
                )));
        }
    }
    if !pqs.is_empty() {
        if !sym.is_empty() {
            return Err(at(Failure::new("mixes age identities and symmetric keys"))
                .hint("keep symmetric keys in their own file and pass it with -k"));
        }
        return Ok(SecretKeyFile::PostQuantum(pqs, x));
    }
    match (x.is_empty(), sym.is_empty()) {
        (false, true) => Ok(SecretKeyFile::X25519(x)),
        (true, false) => Ok(SecretKeyFile::Symmetric(sym)),
        (true, true) => Err(at(Failure::new("no key found in the file"))
            .hint("the file must hold at least one key line")),
        (false, false) => Err(
            at(Failure::new("mixes X25519 identities and symmetric keys"))
                .hint("keep symmetric keys in their own file and pass it with -k"),
        ),
    }
}

/// Identities from an `-i` file (any kind of secret key).
pub fn load_identities(path: &Path) -> Result<Vec<Box<dyn Identity>>, Failure> {
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
        SecretKeyFile::Rsa(k) => vec![k as Box<dyn Identity>],
        SecretKeyFile::Symmetric(v) => v
            .into_iter()
            .map(|k| Box::new(k) as Box<dyn Identity>)
            .collect(),
    })
}

/// Symmetric keys from a `-k` file.
pub fn load_symmetric_keys(path: &Path) -> Result<Vec<SymmetricKey>, Failure> {
    match parse_secret_file(path, "key file")? {
        SecretKeyFile::Symmetric(v) => Ok(v),
        _ => Err(
            Failure::usage(format!("{} is not a symmetric key file", path.display()))
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
    let path = Path::new(arg);
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

/// An `-R` file: `age1…` lines, PEM public keys, `#` comments, blank lines.
pub fn load_recipients_file(path: &Path) -> Result<Vec<Box<dyn Recipient>>, Failure> {
    let text = fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!(
            "cannot read recipients file {}: {e}",
            path.display()
        ))
        .hint("check the path and that you may read it")
    })?;
    let origin = path.display().to_string();
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
