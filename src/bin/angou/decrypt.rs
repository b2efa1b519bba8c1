//! `angou decrypt`.

use std::io::BufReader;
use std::path::PathBuf;

use angou::format::{Decryptor, Input};

use crate::failure::Failure;
use crate::io::{Content, InputSpec, OutputSpec};

#[derive(Debug, clap::Args)]
pub struct DecryptArgs {
    /// Identity file: age identities (AGE-SECRET-KEY-1…) or a PEM RSA private key (repeatable; - reads standard input)
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY_FILE")]
    pub identities: Vec<PathBuf>,
    /// Symmetric key file from `angou keygen -t symmetric` (repeatable; - reads standard input)
    #[arg(short = 'k', long = "key-file", value_name = "KEY_FILE")]
    pub key_files: Vec<PathBuf>,
    /// Encryption context of KMS-wrapped files: key=value (repeatable) or JSON
    #[arg(short = 'c', long = "encryption-context", value_name = "K=V")]
    pub context: Vec<String>,
    #[command(flatten)]
    pub allow: crate::remote_keys::AllowArgs,
    #[command(flatten)]
    pub remote: crate::remote_keys::RemoteArgs,
    /// Read the passphrase from FILE (first line; - reads standard input) instead of ANGOU_PASSPHRASE or a prompt
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Write to FILE (default: standard output). Nothing is left there unless the whole file
    /// verifies; a FIFO or device gets verified chunks as they come and is never replaced
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace OUTPUT if it is an existing regular file
    #[arg(long)]
    pub force: bool,
    /// No progress bar
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// File to decrypt, binary or armored (default or "-": standard input)
    pub input: Option<PathBuf>,
}

pub fn run(args: DecryptArgs, home: Option<&std::path::Path>) -> Result<(), Failure> {
    let flags = crate::keyring::IdentityFlags {
        identities: &args.identities,
        key_files: &args.key_files,
        context: &args.context,
        passphrase_file: args.passphrase_file.as_deref(),
        allow: Some(&args.allow),
    };
    let files = crate::keyring::identity_files(&flags)?;
    let input = InputSpec::from_arg(args.input.as_deref());
    let output = OutputSpec::plan(
        args.output.as_deref(),
        &input,
        args.force,
        Content::Plaintext,
    )?;
    let reader = input.open(args.quiet)?;
    let detected = Input::detect(BufReader::with_capacity(256 * 1024, reader))?;
    let decryptor =
        Decryptor::new(detected).map_err(|e| Failure::from(e).context(input.describe()))?;
    let stores = crate::keyring::Stores::with_remote(args.remote.clone());
    let identities =
        crate::keyring::identities_for(decryptor.header(), files, &flags, home, &stores)?;
    let passphrase_file = decryptor.is_passphrase();
    let mut plaintext = decryptor
        .decrypt(identities.iter().map(|b| b.as_ref()))
        .map_err(|e| match stores.remote.failure(e) {
            Ok(explained) => explained,
            Err(e) => crate::failure::decrypt_failure(e, passphrase_file),
        })?;
    // A regular file is written to a temp file that becomes the target only after the last
    // chunk verifies; on any error it is removed. A stream (standard output, a FIFO, a
    // device) gets each chunk once it verifies, and a failure says how much went out.
    let mut out = output.open()?;
    match plaintext.copy_to(&mut out) {
        Ok(_) => out.commit(),
        Err(e) => Err(out.fail(e)),
    }
}
