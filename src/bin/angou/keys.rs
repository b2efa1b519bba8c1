//! Reading recipients, identities and key files named on the command line.

use std::fs;
use std::path::Path;

use angou::pk::{rsa, x25519};
use angou::recipient::{Identity, Recipient, SymmetricKey};
use zeroize::Zeroizing;

use crate::failure::Failure;

/// Reads a file that holds secrets, warning when other users can read it.
pub fn read_secret_file(path: &Path, what: &str) -> Result<Zeroizing<String>, Failure> {
    use std::os::unix::fs::PermissionsExt;
    let bytes = Zeroizing::new(fs::read(path).map_err(|e| {
        Failure::new(format!("cannot read {what} {}: {e}", path.display()))
            .hint("check the path and that you may read it")
    })?);
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
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Failure::new(format!("{what} {} is not text", path.display()))
            .hint("pass an age identity file, a PEM private key or an angou symmetric key file")
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}

fn is_pem(text: &str) -> bool {
    text.contains("-----BEGIN ")
}

/// A key file's contents, parsed.
pub enum SecretKeyFile {
    X25519(Vec<x25519::SecretKey>),
    Rsa(Box<rsa::PrivateKey>),
    Symmetric(Vec<SymmetricKey>),
}

/// Parses an identity or key file: PEM RSA private key, or lines of `AGE-SECRET-KEY-1…` /
/// `ANGOU-SYMMETRIC-KEY-1…` with `#` comments and blank lines.
pub fn parse_secret_file(path: &Path, what: &str) -> Result<SecretKeyFile, Failure> {
    let text = read_secret_file(path, what)?;
    let at = |f: Failure| f.context(path.display());
    if is_pem(&text) {
        return rsa::PrivateKey::from_pem(&text)
            .map(|k| SecretKeyFile::Rsa(Box::new(k)))
            .map_err(|e| at(e.into()));
    }
    let mut x = Vec::new();
    let mut sym = Vec::new();
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
        } else if line.starts_with("AGE-PLUGIN-") || line.starts_with("AGE-SECRET-KEY-PQ-") {
            return Err(at(Failure::new(format!("line {lineno}: unsupported identity type"))
                .hint("angou reads X25519 (AGE-SECRET-KEY-1…), RSA PEM and symmetric keys; plugin and post-quantum identities are not supported")));
        } else {
            return Err(at(Failure::new(format!("line {lineno}: not an identity"))
                .hint(
                    "expected AGE-SECRET-KEY-1…, ANGOU-SYMMETRIC-KEY-1… or a PEM private key",
                )));
        }
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
            Failure::new(format!("{} is not a symmetric key file", path.display()))
                .hint("use -i for age identities and RSA private keys, -r/-R for public keys"),
        ),
    }
}

fn parse_public_pem(text: &str, origin: &str) -> Result<Box<dyn Recipient>, Failure> {
    if text.contains("PRIVATE KEY-----") {
        return Err(
            Failure::new(format!("{origin} holds a private key, not a recipient"))
                .hint("pass the public key: angou pubkey -i FILE > key.pub.pem"),
        );
    }
    rsa::PublicKey::from_pem(text)
        .map(|k| Box::new(k) as Box<dyn Recipient>)
        .map_err(|e| Failure::from(e).context(origin))
}

/// The human-readable part of a Bech32 string: everything before its last `1` (BIP 173).
/// The data characters never include `1`, so this is exact even when the data starts with
/// letters that look like a longer prefix.
fn bech32_hrp(text: &str) -> &str {
    text.rfind('1').map_or(text, |at| &text[..at])
}

/// A `-r` argument: an `age1…` recipient (or `AGE1…`: Bech32 may be all upper case, BIP 173)
/// or the path of a PEM public key.
pub fn parse_recipient_arg(arg: &str) -> Result<Box<dyn Recipient>, Failure> {
    if arg.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("age1")) {
        if arg != arg.to_ascii_lowercase() && arg != arg.to_ascii_uppercase() {
            return Err(
                Failure::new("age recipient mixes upper and lower case letters").hint(
                    "write it all in lower case, as angou keygen prints it, or all in upper case",
                ),
            );
        }
        let lower = arg.to_ascii_lowercase();
        // The type is the HRP, not a text prefix: an X25519 recipient (HRP `age`) whose data
        // begins with "pq" is still X25519, one key in 1,024.
        let refused = match bech32_hrp(&lower) {
            "age1pq" => Some("post-quantum age recipients (age1pq1…) are not supported".to_owned()),
            hrp if hrp.starts_with("age1") => Some(format!(
                "{hrp}1… recipients (an age plugin or other recipient type) are not supported"
            )),
            _ => None,
        };
        if let Some(message) = refused {
            return Err(Failure::new(message).hint("use an X25519 (age1…) or RSA recipient"));
        }
        return x25519::PublicKey::parse(arg)
            .map(|k| Box::new(k) as Box<dyn Recipient>)
            .map_err(|e| {
                Failure::from(e).hint("an age recipient looks like age1 followed by 58 characters")
            });
    }
    let path = Path::new(arg);
    if path.is_file() {
        let text = fs::read_to_string(path)
            .map_err(|e| Failure::new(format!("cannot read recipient file {arg}: {e}")))?;
        return parse_public_pem(&text, arg);
    }
    Err(Failure::usage(format!(
        "{arg:?} is neither an age1… recipient nor a readable PEM public key file"
    ))
    .hint("pass age1… text, or the path of an RSA public key (PEM)"))
}

/// An `-R` file: `age1…` lines, PEM public keys, `#` comments, blank lines.
pub fn load_recipients_file(path: &Path) -> Result<Vec<Box<dyn Recipient>>, Failure> {
    let text = fs::read_to_string(path).map_err(|e| {
        Failure::new(format!(
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
        out.push(
            parse_recipient_arg(trimmed)
                .map_err(|f| f.context(format!("{origin} line {}", n + 1)))?,
        );
    }
    if !pem.is_empty() {
        return Err(Failure::new(format!("{origin}: unterminated PEM block")));
    }
    if out.is_empty() {
        return Err(Failure::new(format!("{origin} holds no recipients"))
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
