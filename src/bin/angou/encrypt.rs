//! `angou encrypt`.

use std::io;
use std::path::PathBuf;

use angou::error::Error;
use angou::format::Encryptor;
use angou::format::armor::ArmoredWriter;
use angou::format::header::PayloadCipher;

use crate::failure::Failure;
use crate::io::{Content, InputSpec, OutputSpec};

#[derive(Debug, clap::Args)]
pub struct EncryptArgs {
    /// Encrypt to RECIPIENT: an age1… X25519 recipient or a path to a PEM RSA public key (repeatable)
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,
    /// Encrypt to every recipient listed in FILE (age1… lines and PEM public keys; repeatable; - reads standard input)
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    pub recipients_files: Vec<PathBuf>,
    /// Encrypt to the symmetric key in KEY_FILE (from `angou keygen -t symmetric`; repeatable; - reads standard input)
    #[arg(short = 'k', long = "key-file", value_name = "KEY_FILE")]
    pub key_files: Vec<PathBuf>,
    /// Wrap the file key with KMS key KEY (repeatable): a key id or alias of the local store,
    /// or an ARN: the local store's if it holds it, else a key in the remote KMS the AWS
    /// configuration reaches for the ARN's region (key or alias ARN; needs the aws feature)
    #[arg(long = "kms", value_name = "KEY")]
    pub kms: Vec<String>,
    #[command(flatten)]
    pub remote: crate::remote_keys::RemoteArgs,
    /// Encryption context bound to the KMS-wrapped file key: key=value (repeatable) or JSON
    #[arg(short = 'c', long = "encryption-context", value_name = "K=V")]
    pub context: Vec<String>,
    /// Encrypt to a passphrase (prompted for, or from ANGOU_PASSPHRASE)
    #[arg(short = 'p', long)]
    pub passphrase: bool,
    /// Encrypt to the passphrase in FILE (first line; - reads standard input); implies -p
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// scrypt work factor (log2 N) for -p
    #[arg(long, value_name = "N", default_value_t = angou::passphrase::DEFAULT_WORK_FACTOR,
          value_parser = clap::value_parser!(u8).range(10..=22))]
    pub work_factor: u8,
    /// Payload cipher: chacha20-poly1305 (age v1, default) or aes-256-gcm (angou extension; age cannot read it)
    #[arg(long, value_name = "CIPHER", default_value = "chacha20-poly1305")]
    pub cipher: PayloadCipher,
    /// Write PEM-style ASCII armor
    #[arg(short = 'a', long)]
    pub armor: bool,
    /// Write to FILE (default: standard output); a FIFO or device is written into, never replaced
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write each INPUT to DIR/INPUT.age (armored or not); needed with several inputs
    #[arg(long, value_name = "DIR", conflicts_with = "output")]
    pub output_dir: Option<PathBuf>,
    /// With --output-dir: encrypt N files at once, so their KMS calls overlap
    #[arg(short = 'j', long, value_name = "N", default_value_t = crate::batch::DEFAULT_JOBS,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Replace OUTPUT (or the files in --output-dir) if it is an existing regular file
    #[arg(long)]
    pub force: bool,
    /// No progress bar
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// File to encrypt (default or "-": standard input); several need --output-dir
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
}

pub fn run(args: EncryptArgs, home: Option<&std::path::Path>) -> Result<(), Failure> {
    let use_passphrase = args.passphrase || args.passphrase_file.is_some();
    let has_keys = recipient_flags(&args).any();
    if !args.context.is_empty() && args.kms.is_empty() {
        return Err(Failure::usage("an encryption context (-c) needs --kms")
            .hint("the context is bound to the KMS-wrapped file key; add --kms KEY"));
    }
    if use_passphrase && has_keys {
        return Err(Failure::usage("a passphrase cannot be combined with recipients or keys")
            .hint("age files protected by a passphrase have exactly one stanza; encrypt twice if you need both"));
    }
    if !use_passphrase && !has_keys {
        return Err(Failure::usage("no recipients given")
            .hint("add -r age1…, -r key.pub.pem, -R FILE, -k KEY_FILE, --kms KEY or -p"));
    }
    // Parse and validate everything before touching the output.
    let stores = crate::keyring::Stores::with_remote(args.remote.clone());
    let recipients = crate::keyring::recipients_from(&recipient_flags(&args), home, &stores)?;
    let content = if args.armor {
        Content::Text
    } else {
        Content::Binary
    };
    let batch = crate::batch::plan(
        &args.inputs,
        args.output.as_deref(),
        args.output_dir.as_deref(),
        crate::batch::Naming::AddSuffix,
        args.force,
        content,
    )?;
    // Asked only once the outputs are planned, so a refused command line prompts for nothing.
    let passphrase = || {
        use_passphrase
            .then(|| crate::passphrase::obtain(args.passphrase_file.as_deref(), true))
            .transpose()
    };
    if let Some(jobs) = batch {
        let pass = passphrase()?;
        // Each file gets its own Encryptor, so its own file key and its own KMS calls.
        let results = crate::batch::run_pool(&jobs, args.jobs.into(), |job| {
            let encryptor = encryptor(&args, &recipients, pass.clone())?;
            encrypt_file(encryptor, args.armor, &job.input, &job.output, true)
        });
        let paths = jobs.iter().map(|j| j.path.as_path());
        return crate::batch::report(
            paths.zip(results),
            "encrypted",
            "nothing was left in --output-dir for them",
        );
    }
    let input = InputSpec::from_arg(args.inputs.first().map(PathBuf::as_path));
    let output = OutputSpec::plan(args.output.as_deref(), &input, args.force, content)?;
    let pass = passphrase()?;
    let encryptor = encryptor(&args, &recipients, pass)?;
    encrypt_file(encryptor, args.armor, &input, &output, args.quiet)
}

/// The Encryptor for one file: to the passphrase if there is one, else to `recipients`.
fn encryptor<'a>(
    args: &EncryptArgs,
    recipients: &'a [Box<dyn angou::recipient::Recipient + 'a>],
    pass: Option<angou::secret::SecretVec>,
) -> Result<Encryptor<'a>, Failure> {
    Ok(match pass {
        Some(pass) => Encryptor::with_passphrase(
            angou::passphrase::PassphraseRecipient::new(pass).with_work_factor(args.work_factor),
        ),
        None => Encryptor::with_recipients(recipients.iter().map(|b| b.as_ref()))?,
    }
    .with_cipher(args.cipher))
}

/// Encrypts `input` to `output` (a temp file, committed only when complete).
fn encrypt_file(
    encryptor: Encryptor<'_>,
    armor: bool,
    input: &InputSpec,
    output: &OutputSpec,
    quiet: bool,
) -> Result<(), Failure> {
    let mut reader = input.open(quiet)?;
    let mut out = output.open()?;
    if armor {
        let armored = ArmoredWriter::new(&mut out)?;
        let mut w = encryptor.wrap_output(armored)?;
        w.copy_from(&mut reader)
            .map_err(|e| read_failure(e, input))?;
        w.finish()?.finish()?;
    } else {
        let mut w = encryptor.wrap_output(&mut out)?;
        w.copy_from(&mut reader)
            .map_err(|e| read_failure(e, input))?;
        w.finish()?;
    }
    out.commit()
}

/// The recipients that `args` name.
fn recipient_flags(args: &EncryptArgs) -> crate::keyring::RecipientFlags<'_> {
    crate::keyring::RecipientFlags {
        recipients: &args.recipients,
        recipients_files: &args.recipients_files,
        key_files: &args.key_files,
        kms: &args.kms,
        context: &args.context,
    }
}

fn read_failure(e: io::Error, input: &InputSpec) -> Failure {
    match Error::from_io(e) {
        Error::Io(e) => Failure::new(format!("cannot encrypt {}: {e}", input.describe()))
            .hint("check the input file, the output device and free space"),
        other => Failure::from(other),
    }
}
