//! `angou decrypt`.

use std::io::BufReader;
use std::path::PathBuf;

use angou::format::{Decryptor, Input};
use angou::recipient::Identity;

use crate::failure::Failure;
use crate::io::{Content, InputSpec, OutputSpec};

#[derive(Debug, clap::Args)]
pub struct DecryptArgs {
    #[command(flatten)]
    pub ids: crate::keyring::IdentityArgs,
    #[command(flatten)]
    pub allow: crate::remote_keys::AllowArgs,
    #[command(flatten)]
    pub remote: crate::remote_keys::RemoteArgs,
    /// Write to FILE (default: standard output). Nothing is left there unless the whole file
    /// verifies; a FIFO or device gets verified chunks as they come and is never replaced
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write each NAME.age to DIR/NAME (inputs must end in .age); needed with several inputs
    #[arg(long, value_name = "DIR", conflicts_with = "output")]
    pub output_dir: Option<PathBuf>,
    /// With --output-dir: decrypt N files at once, so their KMS calls overlap
    #[arg(short = 'j', long, value_name = "N", default_value_t = crate::batch::DEFAULT_JOBS,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Replace OUTPUT (or the files in --output-dir) if it is an existing regular file
    #[arg(long)]
    pub force: bool,
    /// No progress bar
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// File to decrypt, binary or armored (default or "-": standard input); several need --output-dir
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
}

pub fn run(args: DecryptArgs, home: Option<&std::path::Path>) -> Result<(), Failure> {
    let flags = args.ids.flags(&args.allow);
    let files = crate::keyring::identity_files(&flags)?;
    let stores = crate::keyring::Stores::with_remote(args.remote.clone());
    let batch = crate::batch::plan(
        &args.inputs,
        args.output.as_deref(),
        args.output_dir.as_deref(),
        crate::batch::Naming::StripSuffix,
        args.force,
        Content::Plaintext,
    )?;
    if let Some(jobs) = batch {
        // What the headers call for that may ask the user (the key store's passphrase, a
        // passphrase file's) is asked now, once, not by several workers at once.
        crate::batch::prepare(jobs.iter().map(|j| j.path.as_path()), |header| {
            let _ =
                crate::keyring::header_identities(header, !files.is_empty(), &flags, home, &stores);
        });
        let results = crate::batch::run_pool(&jobs, args.jobs.into(), |job| {
            decrypt_file(&job.input, &job.output, true, &files, &flags, home, &stores)
        });
        let paths = jobs.iter().map(|j| j.path.as_path());
        return crate::batch::report(
            paths.zip(results),
            "decrypted",
            "nothing was left in --output-dir for them",
        );
    }
    let input = InputSpec::from_arg(args.inputs.first().map(PathBuf::as_path));
    let output = OutputSpec::plan(
        args.output.as_deref(),
        &input,
        args.force,
        Content::Plaintext,
    )?;
    decrypt_file(&input, &output, args.quiet, &files, &flags, home, &stores)
}

/// Decrypts `input` to `output` with `files` (identity files) and what its header calls for.
fn decrypt_file(
    input: &InputSpec,
    output: &OutputSpec,
    quiet: bool,
    files: &[Box<dyn Identity>],
    flags: &crate::keyring::IdentityFlags<'_>,
    home: Option<&std::path::Path>,
    stores: &crate::keyring::Stores,
) -> Result<(), Failure> {
    let reader = input.open(quiet)?;
    let detected = Input::detect(BufReader::with_capacity(256 * 1024, reader))?;
    let decryptor =
        Decryptor::new(detected).map_err(|e| Failure::from(e).context(input.describe()))?;
    let extra = crate::keyring::header_identities(
        decryptor.header(),
        !files.is_empty(),
        flags,
        home,
        stores,
    )?;
    let identities = files
        .iter()
        .map(|b| b.as_ref() as &dyn Identity)
        .chain(extra.iter().map(|b| b.as_ref() as &dyn Identity));
    let passphrase_file = decryptor.is_passphrase();
    let mut plaintext =
        decryptor
            .decrypt(identities)
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
