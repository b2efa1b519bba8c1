//! Getting a passphrase: `--passphrase-file`, then `ANGOU_PASSPHRASE`, then a no-echo prompt.

use std::io::IsTerminal;
use std::path::Path;

use angou::secret::SecretVec;

use crate::failure::Failure;

/// Environment variable read for non-interactive passphrases.
pub const ENV_VAR: &str = "ANGOU_PASSPHRASE";

fn from_file(path: &Path) -> Result<SecretVec, Failure> {
    let text = crate::keys::read_secret_file(path, "passphrase file")?;
    crate::keys::warn_if_shared(path, "passphrase file");
    // One trailing newline is the file's line ending, not part of the passphrase.
    let line = text.strip_suffix('\n').unwrap_or(&text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    Ok(SecretVec::from_vec(line.as_bytes().to_vec()))
}

fn prompt(text: &str) -> Result<SecretVec, Failure> {
    rpassword::prompt_password(text)
        .map(|s| SecretVec::from_vec(s.into_bytes()))
        .map_err(|e| Failure::new(format!("cannot read the passphrase: {e}")))
}

/// The passphrase, from the first source that has one. `confirm` asks twice at a prompt.
pub fn obtain(file: Option<&Path>, confirm: bool) -> Result<SecretVec, Failure> {
    let pass = if let Some(path) = file {
        from_file(path)?
    } else if let Some(v) = std::env::var_os(ENV_VAR) {
        SecretVec::from_vec(v.into_encoded_bytes())
    } else if std::io::stdin().is_terminal() || std::io::stderr().is_terminal() {
        let first = prompt("passphrase: ")?;
        if confirm {
            let second = prompt("confirm passphrase: ")?;
            if first.expose_secret() != second.expose_secret() {
                return Err(Failure::new("the passphrases do not match").hint("try again"));
            }
        }
        first
    } else {
        return Err(
            Failure::usage("a passphrase is needed but there is no terminal to ask on")
                .hint(format!("pass --passphrase-file FILE or set {ENV_VAR}")),
        );
    };
    if pass.is_empty() {
        return Err(Failure::usage("the passphrase is empty").hint("choose a non-empty passphrase"));
    }
    Ok(pass)
}

/// A new passphrase for a key store (`angou kms init --passphrase`): a confirmed prompt.
/// Scripts set [`crate::kms::PASSPHRASE_VAR`], which every later `kms` command reads too;
/// `ANGOU_PASSPHRASE` (for files) is deliberately not read here, or a store would be created
/// under a passphrase that the next command cannot find.
pub fn obtain_for_store() -> Result<SecretVec, Failure> {
    let store_var = crate::kms::PASSPHRASE_VAR;
    if !(std::io::stdin().is_terminal() || std::io::stderr().is_terminal()) {
        let also = if std::env::var_os(ENV_VAR).is_some() {
            format!(" ({ENV_VAR} is for encrypted files; the key store does not read it)")
        } else {
            String::new()
        };
        return Err(
            Failure::usage("a passphrase is needed but there is no terminal to ask on").hint(
                format!("set {store_var}, which every later `angou kms` command reads too{also}"),
            ),
        );
    }
    let first = prompt("new key store passphrase: ")?;
    let second = prompt("confirm passphrase: ")?;
    if first.expose_secret() != second.expose_secret() {
        return Err(Failure::usage("the passphrases do not match").hint("try again"));
    }
    if first.is_empty() {
        return Err(Failure::usage("the passphrase is empty").hint("choose a non-empty passphrase"));
    }
    Ok(first)
}

/// A no-echo prompt on the terminal, or a usage error when there is none.
pub fn prompt_only(text: &str) -> Result<SecretVec, Failure> {
    if !(std::io::stdin().is_terminal() || std::io::stderr().is_terminal()) {
        return Err(Failure::usage(
            "a passphrase is needed but there is no terminal to ask on",
        ));
    }
    prompt(text)
}
