//! The recipients and identities a command line names, built in one place for every command
//! that wraps or unwraps file keys (`encrypt`, `decrypt`, `rewrap`): a new kind of key is
//! added here once and all of them accept it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use angou::format::header::Header;
use angou::passphrase::PassphraseIdentity;
use angou::recipient::{Identity, Recipient};

use crate::failure::Failure;

/// The key stores a command opened, alive as long as the recipients and identities that
/// borrow them. Each is opened at most once, and only when a key or stanza needs it.
#[derive(Default)]
pub struct Stores {
    local: OnceLock<angou::kms::Kms>,
    /// Keys in a remote KMS (`--kms arn:…` not in the local store, `aws-kms` stanzas).
    pub remote: crate::remote_keys::RemoteKeys,
    /// The passphrase of passphrase files, or why there is none: asked for once per command.
    passphrase: Mutex<Option<Result<angou::secret::SecretVec, Failure>>>,
}

impl Stores {
    /// Stores whose remote KMS requests follow `remote` (--endpoint-url, --profile).
    pub fn with_remote(remote: crate::remote_keys::RemoteArgs) -> Stores {
        Stores {
            local: OnceLock::new(),
            remote: crate::remote_keys::RemoteKeys::new(remote),
            passphrase: Mutex::default(),
        }
    }

    /// Whether the local store holds `key` (an ARN): false when there is no store at all.
    fn local_holds(&self, home: Option<&Path>, key: &str) -> Result<bool, Failure> {
        match self.local(home)?.describe_key(key) {
            Ok(_) => Ok(true),
            Err(angou::Error::Kms(
                angou::error::KmsError::NotFound { .. } | angou::error::KmsError::NoStore { .. },
            )) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The local key store at `home`, opened on first use.
    pub fn local(&self, home: Option<&Path>) -> Result<&angou::kms::Kms, Failure> {
        if let Some(kms) = self.local.get() {
            return Ok(kms);
        }
        let opened = crate::kms::open_store(home)?;
        Ok(self.local.get_or_init(|| opened))
    }

    /// The passphrase for passphrase files (`file`, else ANGOU_PASSPHRASE, else a prompt),
    /// obtained on first use; later calls, from any thread, get the same answer (or the same
    /// failure) without asking again.
    pub fn passphrase(&self, file: Option<&Path>) -> Result<angou::secret::SecretVec, Failure> {
        let mut slot = self.passphrase.lock().unwrap_or_else(|e| e.into_inner());
        let got = slot.get_or_insert_with(|| crate::passphrase::obtain(file, false));
        match got {
            Ok(pass) => Ok(pass.clone()),
            Err(f) => Err(Failure {
                message: f.message.clone(),
                hint: f.hint.clone(),
                code: f.code,
            }),
        }
    }
}

/// The flags that name recipients to wrap a file key for.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecipientFlags<'a> {
    /// `-r`: age1…, age1pq1…, ssh-… recipients or PEM public key paths.
    pub recipients: &'a [String],
    /// `-R`: recipients files.
    pub recipients_files: &'a [PathBuf],
    /// Symmetric key files.
    pub key_files: &'a [PathBuf],
    /// Local KMS keys (id, ARN or alias).
    pub kms: &'a [String],
    /// `-c`: the encryption context bound to KMS-wrapped file keys.
    pub context: &'a [String],
}

impl RecipientFlags<'_> {
    /// Whether any recipient is named.
    pub fn any(&self) -> bool {
        !self.recipients.is_empty()
            || !self.recipients_files.is_empty()
            || !self.key_files.is_empty()
            || !self.kms.is_empty()
    }
}

/// Every recipient `flags` name, in flag order (-r, -R, -k, --kms). Opens the local store in
/// `stores` if a KMS key is named.
pub fn recipients_from<'s>(
    flags: &RecipientFlags<'_>,
    home: Option<&Path>,
    stores: &'s Stores,
) -> Result<Vec<Box<dyn Recipient + 's>>, Failure> {
    let mut recipients: Vec<Box<dyn Recipient + 's>> = Vec::new();
    for r in flags.recipients {
        recipients.push(crate::keys::parse_recipient_arg(r)?);
    }
    for f in flags.recipients_files {
        recipients.extend(crate::keys::load_recipients_file(f)?);
    }
    for f in flags.key_files {
        for k in crate::keys::load_symmetric_keys(f)? {
            recipients.push(Box::new(k));
        }
    }
    let context = crate::kms::parse_context(flags.context)?;
    let mut any_remote = false;
    for key in flags.kms {
        // An ARN the local store does not hold is a key in a remote KMS (remote_keys.rs).
        if crate::remote_keys::is_remote(key, || stores.local_holds(home, key))? {
            any_remote = true;
            angou::kms::envelope::Arn::parse(key).map_err(|e| {
                Failure::from(e)
                    .into_usage()
                    .hint("a remote KMS key is arn:aws:kms:REGION:ACCOUNT:key/ID or …:alias/NAME")
            })?;
            let regions = stores.remote.regions(key)?;
            recipients.push(Box::new(
                angou::kms::envelope::AwsKmsRecipient::new(regions, key, context.clone())
                    .map_err(|e| Failure::from(e).into_usage())?,
            ));
        } else {
            recipients.push(Box::new(angou::kms::KmsRecipient {
                kms: stores.local(home)?,
                key: key.clone(),
                context: context.clone(),
            }));
        }
    }
    stores.remote.check_used(any_remote)?;
    Ok(recipients)
}

/// The identity flags of the commands that unwrap file keys (`decrypt`, `rewrap`), flattened
/// into each so that both accept the same spellings. A command may reword a flag's help for
/// its own context (`#[command(mut_arg(…))]`).
#[derive(Debug, clap::Args)]
pub struct IdentityArgs {
    /// Identity file: age identities (AGE-SECRET-KEY-1…) or a PEM RSA private key (repeatable; - reads standard input)
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY_FILE")]
    pub identities: Vec<PathBuf>,
    /// Symmetric key file from `angou keygen -t symmetric` (repeatable; - reads standard input)
    #[arg(short = 'k', long = "key-file", value_name = "KEY_FILE")]
    pub key_files: Vec<PathBuf>,
    /// Encryption context of KMS-wrapped files: key=value (repeatable) or JSON
    #[arg(short = 'c', long = "encryption-context", value_name = "K=V")]
    pub context: Vec<String>,
    /// Read the passphrase from FILE (first line; - reads standard input) instead of ANGOU_PASSPHRASE or a prompt
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

impl IdentityArgs {
    /// These flags with the remote KMS keys the command may contact.
    pub fn flags<'a>(&'a self, allow: &'a crate::remote_keys::AllowArgs) -> IdentityFlags<'a> {
        IdentityFlags {
            identities: &self.identities,
            key_files: &self.key_files,
            context: &self.context,
            passphrase_file: self.passphrase_file.as_deref(),
            allow: Some(allow),
        }
    }
}

/// The flags that name identities to unwrap a file key with.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityFlags<'a> {
    /// `-i`: identity files.
    pub identities: &'a [PathBuf],
    /// `-k`: symmetric key files.
    pub key_files: &'a [PathBuf],
    /// `-c`: the encryption context of KMS-wrapped file keys.
    pub context: &'a [String],
    /// `--passphrase-file`.
    pub passphrase_file: Option<&'a Path>,
    /// The remote KMS keys decrypt may contact (`--kms`, `--kms-discovery`, …).
    pub allow: Option<&'a crate::remote_keys::AllowArgs>,
}

/// The identities in the files `flags` name (-i, then -k). Read before any input, so a wrong
/// key file is refused before anything else happens.
pub fn identity_files(flags: &IdentityFlags<'_>) -> Result<Vec<Box<dyn Identity>>, Failure> {
    let mut identities: Vec<Box<dyn Identity>> = Vec::new();
    for f in flags.identities {
        identities.extend(crate::keys::load_identities(f, flags.passphrase_file)?);
    }
    for f in flags.key_files {
        for k in crate::keys::load_symmetric_keys(f)? {
            identities.push(Box::new(k));
        }
    }
    Ok(identities)
}

/// What `header`'s stanzas call for beyond the identity files (from [`identity_files`], kept
/// for every input): the local store for `angou.dev/v1/kms` stanzas, the passphrase for a
/// passphrase file (asked for once per command, see [`Stores::passphrase`]).
///
/// # Errors
/// "no identities given" (usage) when `have_files` is false and nothing else could open it.
pub fn header_identities<'s>(
    header: &Header,
    have_files: bool,
    flags: &IdentityFlags<'_>,
    home: Option<&Path>,
    stores: &'s Stores,
) -> Result<Vec<Box<dyn Identity + 's>>, Failure> {
    let mut identities: Vec<Box<dyn Identity + 's>> = Vec::new();
    let stanzas = header.stanzas();
    if stanzas.iter().any(|s| s.kind == angou::kms::KMS_STANZA) {
        identities.push(Box::new(angou::kms::KmsIdentity {
            kms: stores.local(home)?,
            context: crate::kms::parse_context(flags.context)?,
        }));
    }
    let no_allow = crate::remote_keys::AllowArgs::default();
    if let Some(remote) = stores.remote.identity(
        header,
        flags.allow.unwrap_or(&no_allow),
        &crate::kms::parse_context(flags.context)?,
    )? {
        identities.push(Box::new(remote));
    }
    if stanzas
        .iter()
        .any(|s| s.kind == angou::recipient::SCRYPT_STANZA)
    {
        let pass = stores.passphrase(flags.passphrase_file)?;
        identities.push(Box::new(PassphraseIdentity::new(pass)));
    } else if identities.is_empty() && !have_files {
        if let Some(f) = stores.remote.unavailable() {
            return Err(f);
        }
        return Err(Failure::usage("no identities given").hint(
            "pass -i IDENTITY_FILE or -k KEY_FILE (angou inspect shows who the file is for)",
        ));
    }
    Ok(identities)
}
