//! I/O policy: stdin/stdout with `-`, nothing but text to a terminal, no silent overwrite,
//! input != output, FIFOs and devices written into (never replaced), and regular-file output
//! through a temp file that becomes the target only on success.

pub mod pending;
mod text;

use std::fs::{self, File};
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use crate::failure::Failure;
use indicatif::{ProgressBar, ProgressStyle};
use pending::{CommitError, Pending};
use text::TextOnly;

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

/// What is written, for the terminal rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Binary ciphertext: refused on a terminal.
    Binary,
    /// Text angou made itself (armor): allowed on a terminal.
    Text,
    /// Decrypted plaintext: reaches a terminal only while it is printable text.
    Plaintext,
}

/// Where output goes.
enum Target {
    Stdout,
    /// An existing FIFO or character device: written straight into, never replaced.
    Stream(PathBuf),
    /// A regular file, new or (with `--force`) replaced through a temp file.
    File {
        path: PathBuf,
        force: bool,
    },
}

/// A validated output choice.
pub struct OutputSpec {
    target: Target,
    content: Content,
}

/// Whether two paths name the same file (device and inode).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// What is at an output path now (following symlinks, as opening it would).
enum Existing {
    Absent,
    Regular,
    /// A FIFO or character device.
    Stream,
}

fn existing(path: &Path) -> Result<Existing, Failure> {
    use std::os::unix::fs::FileTypeExt;
    let m = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(e) => {
            return Err(
                Failure::new(format!("cannot use output {}: {e}", path.display()))
                    .hint("check the path and its permissions"),
            );
        }
    };
    let t = m.file_type();
    let refuse = |what: &str, hint: &str| {
        Err(Failure::usage(format!("output {} is {what}", path.display())).hint(hint.to_owned()))
    };
    if t.is_file() {
        Ok(Existing::Regular)
    } else if t.is_fifo() || t.is_char_device() {
        Ok(Existing::Stream)
    } else if t.is_dir() {
        refuse("a folder", "name a file inside it: -o FOLDER/NAME")
    } else if t.is_block_device() {
        refuse(
            "a block device; angou does not write to disks",
            "write to a file, then copy it to the device yourself",
        )
    } else if t.is_socket() {
        refuse(
            "a socket",
            "angou writes to files, FIFOs and character devices; pipe standard output instead",
        )
    } else {
        refuse(
            "neither a file, a FIFO nor a character device",
            "choose a file name",
        )
    }
}

fn refuse_binary() -> Failure {
    Failure::usage("refusing to write binary output to a terminal")
        .hint("use -a for armored text, -o FILE, or redirect standard output")
}

fn refuse_not_text() -> Failure {
    Failure::usage("refusing to write decrypted output that is not text to a terminal").hint(
        "write it to a file with -o FILE, or pipe it to a program; nothing but printable text reached the terminal",
    )
}

/// Opens an existing FIFO or character device for writing: no create, no truncate, never
/// made our controlling terminal. It must still be a FIFO or character device once open.
fn open_stream(path: &Path) -> Result<File, Failure> {
    use rustix::fs::{FileType, Mode, OFlags};
    let cannot = |e: &dyn std::fmt::Display| {
        Failure::new(format!("cannot open output {}: {e}", path.display()))
            .hint("check the path and its permissions")
    };
    let fd = rustix::fs::open(
        path,
        OFlags::WRONLY | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| cannot(&io::Error::from(e)))?;
    let kind = rustix::fs::fstat(&fd)
        .map(|st| FileType::from_raw_mode(st.st_mode))
        .map_err(|e| cannot(&io::Error::from(e)))?;
    if !matches!(kind, FileType::Fifo | FileType::CharacterDevice) {
        return Err(Failure::new(format!(
            "output {} changed while angou was running",
            path.display()
        ))
        .hint("nothing was written; run the command again"));
    }
    Ok(File::from(fd))
}

impl OutputSpec {
    /// Validates the output choice before any work is done.
    pub fn plan(
        arg: Option<&Path>,
        input: &InputSpec,
        force: bool,
        content: Content,
    ) -> Result<Self, Failure> {
        let path = match arg {
            None => None,
            Some(p) if p.as_os_str() == "-" => None,
            Some(p) => Some(p.to_path_buf()),
        };
        let target = match path {
            None => {
                if content == Content::Binary && io::stdout().is_terminal() {
                    return Err(refuse_binary());
                }
                Target::Stdout
            }
            Some(path) => match existing(&path)? {
                Existing::Stream => Target::Stream(path),
                found => {
                    if let InputSpec::File(inp) = input
                        && same_file(inp, &path)
                    {
                        return Err(Failure::usage(format!(
                            "input and output are the same file: {}",
                            path.display()
                        ))
                        .hint("write to a different file, then rename it"));
                    }
                    if matches!(found, Existing::Regular) && !force {
                        return Err(already_exists(&path));
                    }
                    Target::File { path, force }
                }
            },
        };
        Ok(OutputSpec { target, content })
    }

    /// Opens the output: standard output, the FIFO or device itself, or for a regular file a
    /// temp file beside the target.
    pub fn open(&self) -> Result<Output, Failure> {
        let stream = |file: File, name: String| -> Result<Output, Failure> {
            let text = if file.is_terminal() {
                match self.content {
                    Content::Binary => return Err(refuse_binary()),
                    Content::Text => None,
                    Content::Plaintext => Some(TextOnly::default()),
                }
            } else {
                None
            };
            Ok(Output {
                sink: Sink::Stream {
                    writer: BufWriter::with_capacity(256 * 1024, Counted { file, written: 0 }),
                    name,
                },
                text,
            })
        };
        match &self.target {
            Target::Stdout => {
                // A duplicate of fd 1 as a plain File: no line buffering, no lock per write.
                use std::os::fd::AsFd;
                let fd = io::stdout()
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| Failure::new(format!("cannot use standard output: {e}")))?;
                stream(File::from(fd), "standard output".into())
            }
            Target::Stream(path) => stream(open_stream(path)?, path.display().to_string()),
            Target::File { path, force } => {
                // Decrypted plaintext is as private as the key that protected it: 0600. An
                // encrypted file is made to be shared: 0666 less the umask, as any new file.
                let mode = match self.content {
                    Content::Plaintext => PRIVATE_MODE,
                    Content::Binary | Content::Text => SHARED_MODE,
                };
                let pending = Pending::create(path, mode).map_err(|e| {
                    let dir = pending::parent_dir(path);
                    Failure::new(format!("cannot create a file in {}: {e}", dir.display()))
                        .hint("check that the folder exists and is writable")
                })?;
                Ok(Output {
                    sink: Sink::File {
                        writer: BufWriter::with_capacity(256 * 1024, pending),
                        path: path.clone(),
                        force: *force,
                    },
                    text: None,
                })
            }
        }
    }
}

/// Mode (less the umask) of files holding plaintext or keys.
const PRIVATE_MODE: u32 = 0o600;
/// Mode (less the umask) of encrypted files.
const SHARED_MODE: u32 = 0o666;

fn already_exists(path: &Path) -> Failure {
    Failure::new(format!("output file {} already exists", path.display()))
        .hint("choose another name, or pass --force to overwrite it")
}

/// A file that counts the bytes it has accepted.
struct Counted {
    file: File,
    written: u64,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

enum Sink {
    /// Standard output, a FIFO or a character device: bytes go out as they are released.
    Stream {
        writer: BufWriter<Counted>,
        name: String,
    },
    /// A temp file that becomes `path` on commit.
    File {
        writer: BufWriter<Pending>,
        path: PathBuf,
        force: bool,
    },
}

/// An open output. Dropping a file output without [`Output::commit`] removes the temp file.
pub struct Output {
    sink: Sink,
    /// Set when decrypted output goes to a terminal.
    text: Option<TextOnly>,
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let w: &mut dyn Write = match &mut self.sink {
            Sink::Stream { writer, .. } => writer,
            Sink::File { writer, .. } => writer,
        };
        match &mut self.text {
            None => w.write(buf),
            Some(check) => {
                let allowed = check.check(buf)?;
                w.write_all(&allowed.head)?;
                w.write_all(&buf[allowed.body])?;
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stream { writer, .. } => writer.flush(),
            Sink::File { writer, .. } => writer.flush(),
        }
    }
}

impl Output {
    /// Makes the output durable and visible. A stream is flushed; a file is flushed, fsynced
    /// and linked (or with `--force` renamed) into place, then its folder fsynced.
    pub fn commit(self) -> Result<(), Failure> {
        if let Some(check) = &self.text
            && let Err(e) = check.finish()
        {
            return Err(self.fail(e));
        }
        match self.sink {
            Sink::Stream { mut writer, name } => writer
                .flush()
                .map_err(|e| Failure::new(format!("cannot write to {name}: {e}"))),
            Sink::File {
                writer,
                path,
                force,
            } => {
                let fail = |e: &dyn std::fmt::Display| {
                    Failure::new(format!("cannot write {}: {e}", path.display()))
                        .hint("check free space and permissions")
                };
                let pending = writer
                    .into_inner()
                    .map_err(|e| fail(&e.error().to_string()))?;
                pending.commit(force).map_err(|e| match e {
                    CommitError::Exists => already_exists(&path),
                    CommitError::NotRegular => Failure::new(format!(
                        "output {} is no longer a regular file; it was left alone",
                        path.display()
                    ))
                    .hint("nothing was written; choose another name"),
                    CommitError::Io(e) => fail(&e),
                })
            }
        }
    }

    /// Gives up after `e`: a temp file is removed, bytes still buffered for a stream are
    /// dropped, and the failure says how many bytes had already gone out.
    pub fn fail(self, e: io::Error) -> Failure {
        let (released, name) = match self.sink {
            Sink::Stream { writer, name } => (writer.into_parts().0.written, name),
            // Dropping the writer removes the temp file.
            Sink::File { .. } => (0, String::new()),
        };
        if text::is_not_text(&e) {
            return refuse_not_text();
        }
        let mut f = Failure::from(e);
        if released > 0 {
            f.hint = Some(format!(
                "{released} bytes of plaintext had already been written to {name} before this \
                 was found; they are not trustworthy as a whole: discard them (with -o FILE \
                 nothing is kept unless the whole file verifies)"
            ));
        }
        f
    }
}

/// Writes a new secret file (mode 0600) atomically, refusing to replace an existing one. An
/// existing FIFO or character device is written straight into instead (never replaced).
pub fn write_new_secret_file(path: &Path, contents: &[u8]) -> Result<(), Failure> {
    let exists = || {
        Failure::new(format!(
            "{} already exists; angou never overwrites a key file",
            path.display()
        ))
        .hint("choose another file name, or move the old key away first")
    };
    let cannot = |e: &dyn std::fmt::Display| {
        Failure::new(format!("cannot write {}: {e}", path.display()))
            .hint("check that the folder exists and is writable")
    };
    match existing(path)? {
        Existing::Regular => Err(exists()),
        Existing::Stream => {
            let mut file = open_stream(path)?;
            if file.is_terminal() {
                eprintln!(
                    "warning: writing a private key to a terminal; use -o FILE to save it with mode 0600"
                );
            }
            file.write_all(contents)
                .and_then(|()| file.flush())
                .map_err(|e| cannot(&e))
        }
        Existing::Absent => {
            let mut pending = Pending::create(path, PRIVATE_MODE).map_err(|e| cannot(&e))?;
            pending.write_all(contents).map_err(|e| cannot(&e))?;
            pending.commit(false).map_err(|e| match e {
                CommitError::Exists => exists(),
                CommitError::NotRegular => exists(),
                CommitError::Io(e) => cannot(&e),
            })
        }
    }
}
