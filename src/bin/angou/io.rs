//! I/O policy: stdin/stdout with `-`, no binary to a terminal, no silent overwrite,
//! input != output, and file output through a temp file renamed only on success.

use std::fs::{self, File};
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use tempfile::NamedTempFile;

use crate::failure::Failure;

/// Inputs at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 64 * 1024 * 1024;

/// Where input comes from.
pub enum InputSpec {
    Stdin,
    File(PathBuf),
}

impl InputSpec {
    pub fn from_arg(arg: Option<&Path>) -> Self {
        match arg {
            None => InputSpec::Stdin,
            Some(p) if p.as_os_str() == "-" => InputSpec::Stdin,
            Some(p) => InputSpec::File(p.to_path_buf()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            InputSpec::Stdin => "standard input".into(),
            InputSpec::File(p) => p.display().to_string(),
        }
    }

    /// Opens the input, with a progress bar on stderr for large files unless `quiet`.
    pub fn open(&self, quiet: bool) -> Result<Box<dyn Read>, Failure> {
        let (reader, len): (Box<dyn Read>, Option<u64>) = match self {
            InputSpec::Stdin => (Box::new(io::stdin().lock()), None),
            InputSpec::File(p) => {
                let f = File::open(p).map_err(|e| {
                    Failure::new(format!("cannot open input {}: {e}", p.display()))
                        .hint("check the path and its permissions")
                })?;
                let len = f.metadata().ok().map(|m| m.len());
                (Box::new(f), len)
            }
        };
        if quiet || !io::stderr().is_terminal() || len.is_some_and(|l| l < PROGRESS_MIN_BYTES) {
            return Ok(reader);
        }
        let bar = match len {
            Some(l) => ProgressBar::new(l),
            None => ProgressBar::no_length(),
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} {bar:30} {binary_bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Ok(Box::new(bar.wrap_read(reader)))
    }
}

/// Where output goes.
pub enum OutputSpec {
    Stdout,
    File { path: PathBuf, force: bool },
}

/// Whether two paths name the same file (device and inode).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

impl OutputSpec {
    /// Validates the output choice before any work is done.
    pub fn plan(
        arg: Option<&Path>,
        input: &InputSpec,
        force: bool,
        binary: bool,
    ) -> Result<Self, Failure> {
        let spec = match arg {
            None => OutputSpec::Stdout,
            Some(p) if p.as_os_str() == "-" => OutputSpec::Stdout,
            Some(p) => OutputSpec::File {
                path: p.to_path_buf(),
                force,
            },
        };
        match &spec {
            OutputSpec::Stdout => {
                if binary && io::stdout().is_terminal() {
                    return Err(
                        Failure::usage("refusing to write binary output to a terminal")
                            .hint("use -a for armored text, -o FILE, or redirect standard output"),
                    );
                }
            }
            OutputSpec::File { path, force } => {
                if let InputSpec::File(inp) = input
                    && same_file(inp, path)
                {
                    return Err(Failure::usage(format!(
                        "input and output are the same file: {}",
                        path.display()
                    ))
                    .hint("write to a different file, then rename it"));
                }
                if path.exists() && !force {
                    return Err(Failure::new(format!(
                        "output file {} already exists",
                        path.display()
                    ))
                    .hint("choose another name, or pass --force to overwrite it"));
                }
            }
        }
        Ok(spec)
    }

    /// Opens the output. For a file this is a temp file beside the target.
    pub fn open(&self) -> Result<Output, Failure> {
        match self {
            OutputSpec::Stdout => {
                // A duplicate of fd 1 as a plain File: no line buffering, no lock per write.
                use std::os::fd::AsFd;
                let fd = io::stdout()
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| Failure::new(format!("cannot use standard output: {e}")))?;
                Ok(Output::Stdout(BufWriter::with_capacity(
                    256 * 1024,
                    File::from(fd),
                )))
            }
            OutputSpec::File { path, force } => {
                let dir = match path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let tmp = tempfile::Builder::new()
                    .prefix(".angou-")
                    .suffix(".tmp")
                    .tempfile_in(&dir)
                    .map_err(|e| {
                        Failure::new(format!("cannot create a file in {}: {e}", dir.display()))
                            .hint("check that the folder exists and is writable")
                    })?;
                Ok(Output::File {
                    writer: BufWriter::with_capacity(256 * 1024, tmp),
                    path: path.clone(),
                    dir,
                    force: *force,
                })
            }
        }
    }
}

/// An open output. Dropping a file output without [`Output::commit`] deletes the temp file.
pub enum Output {
    Stdout(BufWriter<File>),
    File {
        writer: BufWriter<NamedTempFile>,
        path: PathBuf,
        dir: PathBuf,
        force: bool,
    },
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::File { writer, .. } => writer.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::File { writer, .. } => writer.flush(),
        }
    }
}

impl Output {
    /// Makes the output durable and visible: flush, fsync, rename over the target, fsync the folder.
    pub fn commit(self) -> Result<(), Failure> {
        match self {
            Output::Stdout(mut w) => w
                .flush()
                .map_err(|e| Failure::new(format!("cannot write to standard output: {e}"))),
            Output::File {
                writer,
                path,
                dir,
                force,
            } => {
                let fail = |e: &dyn std::fmt::Display| {
                    Failure::new(format!("cannot write {}: {e}", path.display()))
                        .hint("check free space and permissions")
                };
                let tmp = writer
                    .into_inner()
                    .map_err(|e| fail(&e.error().to_string()))?;
                tmp.as_file().sync_all().map_err(|e| fail(&e))?;
                let persisted = if force {
                    tmp.persist(&path).map_err(|e| e.error)
                } else {
                    tmp.persist_noclobber(&path).map_err(|e| e.error)
                };
                persisted.map_err(|e| {
                    if e.kind() == io::ErrorKind::AlreadyExists {
                        Failure::new(format!("output file {} already exists", path.display()))
                            .hint("choose another name, or pass --force to overwrite it")
                    } else {
                        fail(&e)
                    }
                })?;
                if let Ok(d) = File::open(&dir) {
                    let _ = d.sync_all();
                }
                Ok(())
            }
        }
    }
}

/// Writes a new secret file (mode 0600) atomically, refusing to replace an existing one:
/// a temp file in the same folder, fsync, then a no-clobber rename and a folder fsync.
pub fn write_new_secret_file(path: &Path, contents: &[u8]) -> Result<(), Failure> {
    let exists = || {
        Failure::new(format!(
            "{} already exists; angou never overwrites a key file",
            path.display()
        ))
        .hint("choose another file name, or move the old key away first")
    };
    if path.exists() {
        return Err(exists());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let cannot = |e: &dyn std::fmt::Display| {
        Failure::new(format!("cannot write {}: {e}", path.display()))
            .hint("check that the folder exists and is writable")
    };
    // tempfile creates files with mode 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".angou-key-")
        .tempfile_in(&dir)
        .map_err(|e| cannot(&e))?;
    tmp.write_all(contents).map_err(|e| cannot(&e))?;
    tmp.as_file().sync_all().map_err(|e| cannot(&e))?;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == io::ErrorKind::AlreadyExists {
            exists()
        } else {
            cannot(&e.error)
        }
    })?;
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
