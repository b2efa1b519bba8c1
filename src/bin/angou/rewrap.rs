//! `angou rewrap`: new recipients for existing files, payload untouched.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use angou::error::{Error, FormatError};
use angou::format::rewrap::{KeyRef, Rewrap};
use angou::recipient::Stanza;

use crate::failure::Failure;
use crate::io::pending::{CommitError, Pending};

/// The identity flags are decrypt's (`IdentityArgs`); the help of -i, -k and -c says what
/// they mean here, beside the flags that add recipients.
#[derive(Debug, clap::Args)]
#[command(
    after_help = REWRAP_HELP,
    mut_arg("identities", |a| a.help(
        "Unwrap with the identities in IDENTITY_FILE (as decrypt -i; repeatable; - reads standard input)")),
    mut_arg("key_files", |a| a.help(
        "Unwrap with the symmetric key in KEY_FILE (as decrypt -k; repeatable; - reads standard input)")),
    mut_arg("context", |a| a.help(
        "Encryption context of the file's KMS stanzas, also bound to the --add-kms ones")),
)]
pub struct RewrapArgs {
    #[command(flatten)]
    pub ids: crate::keyring::IdentityArgs,
    /// Add RECIPIENT: age1…, age1pq1…, ssh-… or a PEM RSA public key path (repeatable)
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,
    /// Add every recipient listed in FILE (repeatable)
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    pub recipients_files: Vec<PathBuf>,
    /// Add the symmetric key in KEY_FILE (repeatable)
    #[arg(long = "add-key-file", value_name = "KEY_FILE")]
    pub add_key_files: Vec<PathBuf>,
    /// Add a stanza wrapped through the local KMS with KEY (id, ARN or alias; repeatable)
    #[arg(long = "add-kms", value_name = "KEY")]
    pub add_kms: Vec<String>,
    /// Remove the stanzas of KMS key KEY (its ARN or key id, as `angou inspect` shows; repeatable)
    #[arg(long = "remove-kms", value_name = "KEY")]
    pub remove_kms: Vec<String>,
    /// Remove stanza N, counted from 1 as `angou inspect` lists them (repeatable)
    #[arg(long = "remove-stanza", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub remove_stanza: Vec<u16>,
    /// Remove every old stanza: the file keeps only the recipients added now
    #[arg(long, conflicts_with_all = ["remove_kms", "remove_stanza"])]
    pub replace: bool,
    /// Write to FILE instead of replacing the input (one input only)
    #[arg(short = 'o', long, value_name = "FILE", conflicts_with = "output_dir")]
    pub output: Option<PathBuf>,
    /// Write each result to DIR under the input's file name instead of replacing the input
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Replace an existing file at -o or in --output-dir
    #[arg(long)]
    pub force: bool,
    /// Rewrap N files at once, so their KMS calls overlap
    #[arg(short = 'j', long, value_name = "N", default_value_t = crate::batch::DEFAULT_JOBS,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Which remote KMS keys may unwrap the files' aws-kms stanzas (as decrypt)
    #[command(flatten)]
    pub allow: crate::remote_keys::AllowArgs,
    /// Where remote KMS keys are reached (as encrypt and decrypt)
    #[command(flatten)]
    pub remote: crate::remote_keys::RemoteArgs,
    /// Encrypted files to rewrap (in place unless -o or --output-dir)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

const REWRAP_HELP: &str = "\
Rewrap unwraps each file's key once (with -i, -k, the key store or the passphrase, as decrypt),
verifies the header MAC, writes a new header and copies the payload unchanged, checking every
chunk. In place by default: the new file is written beside the old one and renamed over it
only when complete, so the original stays whole on any failure.
It revokes future access only: whoever read the file before still knows its file key, and the
payload (same bytes before and after) opens with it. Re-encrypt to revoke for good.
Exit codes: 0 every file rewrapped; 1 some file failed (each listed); 2 the command line is wrong.";

/// Where a file's result goes.
enum Target {
    /// Over the input (its real path, symlinks resolved), keeping its permissions.
    InPlace(PathBuf),
    /// A new file (replaced only with --force).
    File(PathBuf),
}

pub fn run(args: RewrapArgs, home: Option<&Path>) -> Result<(), Failure> {
    let add = crate::keyring::RecipientFlags {
        recipients: &args.recipients,
        recipients_files: &args.recipients_files,
        key_files: &args.add_key_files,
        kms: &args.add_kms,
        context: &args.ids.context,
    };
    if !add.any() && !args.replace && args.remove_kms.is_empty() && args.remove_stanza.is_empty() {
        return Err(Failure::usage("nothing to change").hint(
            "add recipients (-r, -R, --add-key-file, --add-kms) or remove stanzas (--remove-kms, --remove-stanza, --replace)",
        ));
    }
    if args.output.is_some() && args.files.len() > 1 {
        return Err(
            Failure::usage("-o names one output, but several files were given")
                .hint("use --output-dir DIR, or rewrap the files in place"),
        );
    }
    let targets = plan_targets(&args)?;
    let ids = args.ids.flags(&args.allow);
    let files = crate::keyring::identity_files(&ids)?;
    let stores = crate::keyring::Stores::with_remote(args.remote.clone());
    let recipients = crate::keyring::recipients_from(&add, home, &stores)?;
    let jobs: Vec<_> = args.files.iter().zip(&targets).collect();
    let one = |(input, target): &(&PathBuf, &Target)| {
        rewrap_one(
            input,
            target,
            &args,
            &files,
            &ids,
            home,
            &stores,
            &recipients,
        )
    };
    if let [job] = &jobs[..] {
        return one(job);
    }
    // What the headers call for that may ask the user (the key store's passphrase, a
    // passphrase file's) is asked now, once, not by several workers at once.
    crate::batch::prepare(args.files.iter().map(PathBuf::as_path), |header| {
        let _ = crate::keyring::header_identities(header, !files.is_empty(), &ids, home, &stores);
    });
    let results = crate::batch::run_pool(&jobs, args.jobs.into(), one);
    let paths = args.files.iter().map(PathBuf::as_path);
    crate::batch::report(paths.zip(results), "rewrapped", "each was left as it was")
}

/// Decides every output before any work: refuses a missing input, -o naming the input, and
/// two inputs with one name in --output-dir.
fn plan_targets(args: &RewrapArgs) -> Result<Vec<Target>, Failure> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for input in &args.files {
        if !fs::metadata(input).is_ok_and(|m| m.is_file()) {
            return Err(
                Failure::usage(format!("{} is not a regular file", input.display()))
                    .hint("rewrap reads and replaces files; it does not read standard input"),
            );
        }
        let target = if let Some(o) = &args.output {
            Target::File(o.clone())
        } else if let Some(dir) = &args.output_dir {
            let name = input
                .file_name()
                .ok_or_else(|| Failure::usage(format!("{} has no file name", input.display())))?;
            if !seen.insert(name.to_owned()) {
                return Err(Failure::usage(format!(
                    "two inputs are named {}: their results would collide in {}",
                    Path::new(name).display(),
                    dir.display()
                ))
                .hint("rewrap them in separate runs or in place"));
            }
            Target::File(dir.join(name))
        } else {
            let real = fs::canonicalize(input)
                .map_err(|e| Failure::new(format!("cannot resolve {}: {e}", input.display())))?;
            Target::InPlace(real)
        };
        if let Target::File(path) = &target {
            if fs::canonicalize(path).ok() == fs::canonicalize(input).ok() {
                return Err(
                    Failure::usage(format!("{} is the input itself", path.display()))
                        .hint("leave out -o and --output-dir to rewrap in place"),
                );
            }
            if fs::symlink_metadata(path).is_ok() && !args.force {
                return Err(Failure::usage(format!(
                    "output file {} already exists",
                    path.display()
                ))
                .hint("choose another name, or pass --force to overwrite it"));
            }
        }
        out.push(target);
    }
    Ok(out)
}

/// Which old stanzas stay; refuses a --remove-kms or --remove-stanza that names none.
fn keep_list(stanzas: &[Stanza], args: &RewrapArgs) -> Result<Vec<bool>, Failure> {
    if args.replace {
        return Ok(vec![false; stanzas.len()]);
    }
    let mut keep = vec![true; stanzas.len()];
    for &n in &args.remove_stanza {
        let i = usize::from(n) - 1;
        if i >= stanzas.len() {
            return Err(Failure::new(format!(
                "there is no stanza {n}: the file has {}",
                stanzas.len()
            ))
            .hint("angou inspect FILE lists the stanzas, numbered from 1"));
        }
        keep[i] = false;
    }
    for key in &args.remove_kms {
        let mut found = false;
        for (i, s) in stanzas.iter().enumerate() {
            let arn = match KeyRef::of(s) {
                KeyRef::LocalKms { arn } | KeyRef::AwsKms { arn } => arn,
                _ => continue,
            };
            let id = arn.rsplit_once(":key/").map(|(_, id)| id);
            if arn == *key || id == Some(key.as_str()) {
                keep[i] = false;
                found = true;
            }
        }
        if !found {
            return Err(Failure::new(format!(
                "no stanza is for KMS key {key}; nothing was changed"
            ))
            .hint("give the key's ARN or key id as angou inspect shows it (an alias is not recorded in files)"));
        }
    }
    Ok(keep)
}

#[allow(clippy::too_many_arguments)]
fn rewrap_one<'s>(
    input: &Path,
    target: &Target,
    args: &RewrapArgs,
    files: &[Box<dyn angou::recipient::Identity>],
    ids: &crate::keyring::IdentityFlags<'_>,
    home: Option<&Path>,
    stores: &'s crate::keyring::Stores,
    recipients: &[Box<dyn angou::recipient::Recipient + 's>],
) -> Result<(), Failure> {
    let name = input.display().to_string();
    let file = File::open(input).map_err(|e| Failure::from(e).context(&name))?;
    let meta = file
        .metadata()
        .map_err(|e| Failure::from(e).context(&name))?;
    let rw = Rewrap::new(BufReader::with_capacity(256 * 1024, file))
        .map_err(|e| Failure::from(e).context(&name))?;
    let keep = keep_list(rw.header().stanzas(), args).map_err(|f| f.context(&name))?;
    let extra =
        crate::keyring::header_identities(rw.header(), !files.is_empty(), ids, home, stores)
            .map_err(|f| f.context(&name))?;
    let identities = files
        .iter()
        .map(|b| b.as_ref() as &dyn angou::recipient::Identity)
        .chain(
            extra
                .iter()
                .map(|b| b.as_ref() as &dyn angou::recipient::Identity),
        );
    let (path, replace) = match target {
        Target::InPlace(p) => (p.as_path(), true),
        Target::File(p) => (p.as_path(), args.force),
    };
    let pending = Pending::create(path, 0o666).map_err(|e| {
        Failure::new(format!(
            "cannot create a file in {}: {e}",
            crate::io::pending::parent_dir(path).display()
        ))
        .hint("check that the folder exists and is writable")
    })?;
    if matches!(target, Target::InPlace(_)) {
        pending
            .file()
            .set_permissions(meta.permissions())
            .map_err(|e| Failure::from(e).context(&name))?;
    }
    let passphrase = rw
        .header()
        .stanzas()
        .iter()
        .any(|s| s.kind == angou::recipient::SCRYPT_STANZA);
    let result = rw.rewrap(
        identities,
        |i, _| keep[i],
        recipients.iter().map(|b| b.as_ref()),
        BufWriter::with_capacity(256 * 1024, pending),
    );
    let written = match result {
        Ok(w) => w,
        Err(e) => return Err(rewrap_failure(e, passphrase).context(&name)),
    };
    let pending = written
        .into_inner()
        .map_err(|e| Failure::from(e.into_error()).context(&name))?;
    pending.commit(replace).map_err(|e| match e {
        CommitError::Exists => {
            Failure::new(format!("output file {} already exists", path.display()))
                .hint("choose another name, or pass --force to overwrite it")
        }
        CommitError::NotRegular => Failure::new(format!(
            "{} is no longer a regular file; it was left alone",
            path.display()
        )),
        CommitError::Io(e) => Failure::new(format!("cannot write {}: {e}", path.display()))
            .hint("check free space and permissions; the original is unchanged"),
    })?;
    Ok(())
}

fn rewrap_failure(e: Error, passphrase: bool) -> Failure {
    match e {
        Error::Format(FormatError::NoStanzaLeft) => Failure::usage(e.to_string()).hint(
            "add a recipient (-r, -R, --add-key-file, --add-kms) or remove fewer stanzas",
        ),
        Error::Format(FormatError::DuplicateRecipient { .. }) => Failure::usage(e.to_string())
            .hint("that key is already a recipient of the file; leave out the second one"),
        Error::Format(FormatError::MixedScrypt) => Failure::usage(e.to_string()).hint(
            "a passphrase file has exactly one stanza: pass --replace to swap the passphrase for recipients",
        ),
        other => crate::failure::decrypt_failure(other, passphrase),
    }
}
