//! A regular file being written: invisible until [`Pending::commit`], gone on any failure.
//!
//! On Linux the file is created unnamed (`O_TMPFILE` in the target's folder) and linked into
//! place only when complete, so not even SIGKILL or a power loss leaves plaintext behind. Where
//! the file system has no `O_TMPFILE` (or off Linux) a named `.angou-*.tmp` file is used, and
//! SIGINT, SIGTERM and SIGHUP remove it before the process ends the way the signal says.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Named temp files alive right now; the signal thread removes them.
static NAMED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn named() -> MutexGuard<'static, Vec<PathBuf>> {
    NAMED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether `signal` is ignored by this process (as `nohup` does for SIGHUP, or a shell for
/// the SIGINT of a background job); such a signal keeps being ignored.
fn ignored(signal: i32) -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| signal >= 1 && mask & (1u64 << (signal - 1)) != 0)
}

/// Starts (once) the thread that removes named temp files on SIGINT, SIGTERM and SIGHUP
/// (those not ignored), then ends the process as the signal's default action would. Only
/// the named fallback needs it: an unnamed file vanishes with the process.
fn install_cleanup() -> io::Result<()> {
    static INSTALLED: OnceLock<Result<(), io::ErrorKind>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let wanted = [SIGINT, SIGTERM, SIGHUP]
            .into_iter()
            .filter(|s| !ignored(*s));
        let mut signals = signal_hook::iterator::Signals::new(wanted).map_err(|e| e.kind())?;
        std::thread::Builder::new()
            .name("angou-cleanup".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    // The lock is held until the process ends, so no commit can race the cleanup.
                    let mut files = named();
                    for p in files.drain(..) {
                        let _ = fs::remove_file(p);
                    }
                    let _ = signal_hook::low_level::emulate_default_handler(signal);
                    std::process::exit(128 + signal);
                }
            })
            .map(drop)
            .map_err(|e| e.kind())
    });
    installed.map_err(io::Error::from)
}

/// Why a commit did not happen. The temp file is gone in every case.
#[derive(Debug)]
pub enum CommitError {
    /// The target exists and replacing it was not asked for.
    Exists,
    /// The target became something other than a regular file or symlink; it was left alone.
    NotRegular,
    /// Any other I/O failure.
    Io(io::Error),
}

impl From<io::Error> for CommitError {
    fn from(e: io::Error) -> Self {
        CommitError::Io(e)
    }
}

impl From<rustix::io::Errno> for CommitError {
    fn from(e: rustix::io::Errno) -> Self {
        CommitError::Io(e.into())
    }
}

enum Temp {
    /// `O_TMPFILE`: no name until linked.
    #[cfg(target_os = "linux")]
    Unnamed,
    /// A named file, registered in [`NAMED`].
    Named(PathBuf),
}

/// A file being written beside its target.
pub struct Pending {
    file: File,
    temp: Temp,
    target: PathBuf,
    dir: PathBuf,
}

/// The folder a target path lives in.
pub fn parent_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `.angou-<random>.tmp` in `dir`.
fn random_name(dir: &Path) -> io::Result<PathBuf> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(dir.join(format!(".angou-{hex}.tmp")))
}

/// Whether the named-file fallback is forced (debug builds only: lets the tests reach it).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn force_named() -> bool {
    cfg!(debug_assertions) && std::env::var_os("ANGOU_TEST_NAMED_TEMP").is_some()
}

impl Pending {
    /// Creates an empty file in `target`'s folder with `mode` less the umask (0600 for
    /// secrets and plaintext, 0666 for ciphertext, as any new file).
    pub fn create(target: &Path, mode: u32) -> io::Result<Pending> {
        let dir = parent_dir(target);
        #[cfg(target_os = "linux")]
        if !force_named() && Path::new("/proc/self/fd").is_dir() {
            use rustix::fs::{Mode, OFlags};
            let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
            match rustix::fs::open(&dir, flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => {
                    return Ok(Pending {
                        file: File::from(fd),
                        temp: Temp::Unnamed,
                        target: target.to_path_buf(),
                        dir,
                    });
                }
                // No O_TMPFILE on this file system (or kernel): fall back to a named file.
                Err(e)
                    if e == rustix::io::Errno::OPNOTSUPP
                        || e == rustix::io::Errno::ISDIR
                        || e == rustix::io::Errno::INVAL => {}
                Err(e) => return Err(e.into()),
            }
        }
        install_cleanup()?;
        // Created and registered under the lock, so a signal cannot fall in between.
        let mut files = named();
        loop {
            let path = random_name(&dir)?;
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&path)
            {
                Ok(file) => {
                    files.push(path.clone());
                    return Ok(Pending {
                        file,
                        temp: Temp::Named(path),
                        target: target.to_path_buf(),
                        dir,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The open file (for its permissions; writes go through [`Write`]).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Makes the file durable and puts it at the target: fsync, link (or rename when
    /// `replace`), fsync the folder. Without `replace` an existing target is never touched;
    /// with it, only a regular file or a symlink is replaced, never a device or FIFO.
    pub fn commit(mut self, replace: bool) -> Result<(), CommitError> {
        self.file.sync_all()?;
        match &self.temp {
            #[cfg(target_os = "linux")]
            Temp::Unnamed => self.link_unnamed(replace)?,
            Temp::Named(tmp) => {
                let tmp = tmp.clone();
                let mut files = named();
                if replace {
                    check_replaceable(&self.target)?;
                    fs::rename(&tmp, &self.target)?;
                } else {
                    rename_noreplace(&tmp, &self.target)?;
                }
                files.retain(|p| p != &tmp);
                // Committed: Drop must not remove anything.
                self.temp = Temp::Named(PathBuf::new());
            }
        }
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    #[cfg(target_os = "linux")]
    fn link_unnamed(&self, replace: bool) -> Result<(), CommitError> {
        use std::os::fd::AsRawFd;

        use rustix::fs::{AtFlags, CWD};
        let me = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        if !replace {
            return match rustix::fs::linkat(CWD, &me, CWD, &self.target, AtFlags::SYMLINK_FOLLOW) {
                Err(rustix::io::Errno::EXIST) => Err(CommitError::Exists),
                other => Ok(other?),
            };
        }
        // linkat cannot replace: link to a fresh name, then rename that over the target.
        let mut files = named();
        let tmp = loop {
            let tmp = random_name(&self.dir)?;
            match rustix::fs::linkat(CWD, &me, CWD, &tmp, AtFlags::SYMLINK_FOLLOW) {
                Ok(()) => break tmp,
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        files.push(tmp.clone());
        let renamed = check_replaceable(&self.target)
            .and_then(|()| fs::rename(&tmp, &self.target).map_err(CommitError::Io));
        if renamed.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        files.retain(|p| p != &tmp);
        renamed
    }
}

/// Refuses to rename over anything but a regular file or a symlink (the symlink itself is
/// replaced, not what it points to). A small race with another process remains; see DESIGN.md.
fn check_replaceable(target: &Path) -> Result<(), CommitError> {
    match fs::symlink_metadata(target) {
        Ok(m) if m.file_type().is_file() || m.file_type().is_symlink() => Ok(()),
        Ok(_) => Err(CommitError::NotRegular),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Renames `from` to `to` unless `to` exists (atomically where the system can).
fn rename_noreplace(from: &Path, to: &Path) -> Result<(), CommitError> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags};
        match rustix::fs::renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::EXIST) => return Err(CommitError::Exists),
            // Not supported by this file system: link and unlink below.
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {}
            Err(e) => return Err(e.into()),
        }
    }
    match fs::hard_link(from, to) {
        Ok(()) => {
            let _ = fs::remove_file(from);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(CommitError::Exists),
        Err(e) => Err(e.into()),
    }
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Temp::Named(p) = &self.temp
            && !p.as_os_str().is_empty()
        {
            let mut files = named();
            let _ = fs::remove_file(p);
            files.retain(|q| q != p);
        }
    }
}
