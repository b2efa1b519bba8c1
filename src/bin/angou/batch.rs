//! Several files in one invocation (`encrypt`, `decrypt`, `rewrap` with several inputs or
//! `--output-dir`): every output is named and checked before any work, then the files are
//! processed on a small thread pool so that their KMS calls overlap, and every failure is
//! reported per file.
//!
//! The policy, in one place:
//! - several inputs need `--output-dir DIR` (`-o` names one output and is refused); standard
//!   input cannot be one of them;
//! - `encrypt` writes `DIR/NAME.age` (armored or not: `angou decrypt` detects armor), `decrypt`
//!   writes `DIR/NAME` for `NAME.age` and refuses, before any work, an input whose name does
//!   not end in `.age` (decrypt it alone with `-o`);
//! - two inputs that would give one output name, an output that is one of the inputs, and an
//!   existing output without `--force` are refused before anything is written;
//! - each file gets its own file key and its own KMS calls; one failing file does not stop the
//!   others and leaves nothing at its output (the temp-file rule of [`crate::io`]);
//! - errors are printed one line per file, in input order whatever `--jobs`, then a summary;
//!   the exit status is 1 if any file failed.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use angou::format::header::Header;
use angou::format::{Decryptor, Input};

use crate::failure::Failure;
use crate::io::{Content, InputSpec, OutputSpec};

/// Files processed at once unless `--jobs` says otherwise: enough to overlap the round trips
/// of a remote KMS, few enough for a laptop's disk and a KMS's request rate.
pub const DEFAULT_JOBS: u16 = 4;

/// Suffix of encrypted files in an output folder.
pub const SUFFIX: &str = ".age";

/// Stack of a worker thread: generous, as the main thread's, since a worker runs what the
/// main thread runs for one file.
const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;

/// What a command does to a file's name in the output folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `NAME` → `NAME.age`.
    AddSuffix,
    /// `NAME.age` → `NAME`; refuses other names.
    StripSuffix,
}

/// One file of a batch: where it is read from and where its result goes.
pub struct Job {
    /// The input as given on the command line.
    pub path: PathBuf,
    pub input: InputSpec,
    pub output: OutputSpec,
}

/// Decides whether the command runs on several files and, if it does, plans every output
/// before any work. `Ok(None)`: one input (or standard input) without `--output-dir`, the
/// single-file path.
///
/// # Errors
/// Usage errors (exit 2): `-o` with several inputs, several inputs without `--output-dir`,
/// standard input among them, a folder as input, an output folder that is not one, an input
/// name that cannot be mapped, two inputs with one output name, an output that is an input,
/// an existing output without `force`.
pub fn plan(
    inputs: &[PathBuf],
    output: Option<&Path>,
    output_dir: Option<&Path>,
    naming: Naming,
    force: bool,
    content: Content,
) -> Result<Option<Vec<Job>>, Failure> {
    if inputs.len() > 1 && output.is_some() {
        return Err(
            Failure::usage("-o names one output, but several input files were given")
                .hint("use --output-dir DIR to write one output per input"),
        );
    }
    let Some(dir) = output_dir else {
        if inputs.len() > 1 {
            return Err(
                Failure::usage("several input files need --output-dir DIR").hint(format!(
                    "angou writes one file per input into DIR ({}); pass --output-dir DIR",
                    match naming {
                        Naming::AddSuffix => "NAME becomes NAME.age",
                        Naming::StripSuffix => "NAME.age becomes NAME",
                    }
                )),
            );
        }
        return Ok(None);
    };
    if inputs.is_empty() || inputs.iter().any(|p| p.as_os_str() == "-") {
        return Err(
            Failure::usage("--output-dir needs input files; standard input has no name")
                .hint("name the input files, or leave out --output-dir and use -o FILE"),
        );
    }
    if !fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Err(
            Failure::usage(format!("output folder {} is not a folder", dir.display()))
                .hint("create it first (mkdir), or name an existing folder"),
        );
    }
    let ids: Vec<Option<(u64, u64)>> = inputs.iter().map(|p| file_id(p)).collect();
    let mut seen = BTreeSet::new();
    let mut jobs = Vec::with_capacity(inputs.len());
    for input in inputs {
        if fs::metadata(input).is_ok_and(|m| m.is_dir()) {
            return Err(
                Failure::usage(format!("input {} is a folder", input.display()))
                    .hint("name the files inside it (for example DIR/*)"),
            );
        }
        let name = output_name(input, naming)?;
        if !seen.insert(name.clone()) {
            return Err(Failure::usage(format!(
                "two inputs would both be written to {}",
                dir.join(&name).display()
            ))
            .hint(
                "rename one of them, or process them in separate runs with different --output-dir",
            ));
        }
        let target = dir.join(&name);
        if let Some(id) = file_id(&target)
            && ids.contains(&Some(id))
        {
            return Err(Failure::usage(format!(
                "output {} is one of the input files",
                target.display()
            ))
            .hint("choose another --output-dir"));
        }
        let spec = InputSpec::File(input.clone());
        let output = OutputSpec::plan(Some(&target), &spec, force, content)?;
        jobs.push(Job {
            path: input.clone(),
            input: spec,
            output,
        });
    }
    Ok(Some(jobs))
}

/// The output file name of `input` under `naming`.
fn output_name(input: &Path, naming: Naming) -> Result<OsString, Failure> {
    let name = input.file_name().ok_or_else(|| {
        Failure::usage(format!("input {} has no file name", input.display()))
            .hint("name the file itself, not a folder such as . or ..")
    })?;
    match naming {
        Naming::AddSuffix => {
            let mut out = name.to_owned();
            out.push(SUFFIX);
            Ok(out)
        }
        Naming::StripSuffix => match name.as_encoded_bytes().strip_suffix(SUFFIX.as_bytes()) {
            Some(stem) if !stem.is_empty() && stem != b"." && stem != b".." => {
                Ok(os_from_prefix(name, stem.len()))
            }
            _ => Err(Failure::usage(format!(
                "input {} does not end in {SUFFIX}: there is no name to write its plaintext to",
                input.display()
            ))
            .hint(format!(
                "rename it to NAME{SUFFIX}, or decrypt it alone with -o FILE"
            ))),
        },
    }
}

/// The first `len` bytes of `name`, which end just before an ASCII suffix.
fn os_from_prefix(name: &std::ffi::OsStr, len: usize) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(&name.as_bytes()[..len]).to_owned()
}

/// Device and inode of the file at `path` (following symlinks), if it exists.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Reads the header of every input once, before the pool starts, and calls `prepare` with
/// it, so that whatever a header calls for that may ask the user something (the key store's
/// passphrase, a passphrase file's passphrase) is asked once, now, and not from several
/// workers at once. Unreadable inputs are skipped: their worker reports them.
pub fn prepare<'a>(inputs: impl IntoIterator<Item = &'a Path>, mut prepare: impl FnMut(&Header)) {
    for path in inputs {
        let Ok(file) = File::open(path) else {
            continue;
        };
        let Ok(detected) = Input::detect(BufReader::with_capacity(64 * 1024, file)) else {
            continue;
        };
        if let Ok(d) = Decryptor::new(detected) {
            prepare(d.header());
        }
    }
}

/// Runs `work` on every item, at most `jobs` at once, and returns the results in item order.
pub fn run_pool<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let jobs = jobs.clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                break done;
            };
            done.push((i, work(item)));
        }
    };
    let mut finished: Vec<(usize, R)> = Vec::with_capacity(items.len());
    if jobs == 1 {
        finished = worker();
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..jobs)
                .filter_map(|n| {
                    std::thread::Builder::new()
                        .name(format!("angou-batch-{n}"))
                        .stack_size(WORKER_STACK_BYTES)
                        .spawn_scoped(s, worker)
                        .ok()
                })
                .collect();
            // No thread could be started: the work is done here, one file at a time.
            if handles.is_empty() {
                finished = worker();
            }
            for h in handles {
                match h.join() {
                    Ok(done) => finished.extend(done),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
    }
    finished.sort_by_key(|(i, _)| *i);
    finished.into_iter().map(|(_, r)| r).collect()
}

/// Prints one `error:` line per failed file (in input order) and returns the summary failure
/// (exit 1) if any failed. `verb` is the past participle: "encrypted", "decrypted".
pub fn report<'a>(
    results: impl IntoIterator<Item = (&'a Path, Result<(), Failure>)>,
    verb: &str,
    left: &str,
) -> Result<(), Failure> {
    let mut total = 0usize;
    let mut hints = BTreeSet::new();
    let mut failed = 0usize;
    for (path, result) in results {
        total += 1;
        if let Err(f) = result {
            failed += 1;
            let name = path.display().to_string();
            // Some messages already start with the file's name (a parse error's context).
            let message = f
                .message
                .strip_prefix(&format!("{name}: "))
                .unwrap_or(&f.message);
            eprintln!(
                "error: {}: {}",
                crate::redact(&name),
                crate::redact(message)
            );
            if let Some(h) = f.hint {
                hints.insert(h);
            }
        }
    }
    if failed == 0 {
        return Ok(());
    }
    let hint = match hints.len() {
        1 => hints.pop_first().unwrap_or_default(),
        _ => "see the errors above; run one of those files alone for its hint".to_owned(),
    };
    Err(Failure::new(format!("{failed} of {total} files were not {verb}; {left}")).hint(hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_both_ways_and_refuse_what_has_no_name() {
        let enc = |p: &str| output_name(Path::new(p), Naming::AddSuffix).map_err(|f| f.message);
        let dec = |p: &str| output_name(Path::new(p), Naming::StripSuffix).map_err(|f| f.message);
        assert_eq!(enc("dir/a.txt").unwrap(), "a.txt.age");
        assert_eq!(enc(".env").unwrap(), ".env.age");
        assert_eq!(dec("dir/a.txt.age").unwrap(), "a.txt");
        assert_eq!(dec("x.age.age").unwrap(), "x.age");
        for bad in ["a.txt", ".age", "..age", "...age", "a.AGE", "dir/.."] {
            assert!(dec(bad).is_err(), "{bad}");
        }
        assert!(enc("..").is_err());
    }

    #[test]
    fn pool_keeps_item_order_whatever_the_jobs() {
        let items: Vec<usize> = (0..37).collect();
        for jobs in [1, 2, 4, 64] {
            let out = run_pool(&items, jobs, |i| i * 2);
            assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
        assert!(run_pool(&[] as &[u8], 4, |_| ()).is_empty());
    }
}
