//! `store.wal`, the write-ahead log of a long-running server (docs/FORMAT.md §5.3): one sealed
//! record per line, each the next state and the audit lines its commit adds, exactly what
//! `store.next` holds for a single commit. A server's batch is durable once its record is
//! appended and the file's data synced (one flush); `store.json` and `audit.log` are brought
//! up to date later, for many records at once (integrity.rs, `settle`). Records stay in the
//! file until then, and whoever takes the lock next applies them before anything else.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use super::sealed::{self, Kind};
use super::store::{Paths, RootKeys, State, WAL_FILE, store_err, sync_dir};
use crate::error::Error;

/// What `store.wal` holds.
pub(crate) struct Records {
    /// Its whole records (LF-terminated lines), each authenticated, in file order.
    pub records: Vec<(State, Vec<u8>)>,
    /// Bytes after the last LF: a record whose append was cut short (never acknowledged).
    pub torn: usize,
}

/// Reads and authenticates every whole record of `store.wal` (none when it does not exist).
/// Call with the keys `store.json` verified under: a record sealed under another root key was
/// put there (the caller's key is right), so it is refused as tampering, which `audit repair`
/// can discard, not as a wrong root key.
pub(crate) fn read(paths: &Paths, keys: &RootKeys) -> Result<Records, Error> {
    let (records, bad) = read_prefix(paths, keys)?;
    match bad {
        Some(e) => Err(e),
        None => Ok(records),
    }
}

/// [`read`], keeping the records before the first that does not verify, and why that one
/// does not (`audit repair` keeps what it can).
pub(crate) fn read_prefix(
    paths: &Paths,
    keys: &RootKeys,
) -> Result<(Records, Option<Error>), Error> {
    let bytes = match fs::read(paths.file(WAL_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(store_err(&format!("cannot read {WAL_FILE}"), e)),
    };
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut records = Vec::new();
    let mut bad = None;
    for (i, line) in bytes[..whole].split_inclusive(|b| *b == b'\n').enumerate() {
        let name = format!("{WAL_FILE} record {}", i + 1);
        match sealed::decode_beside_state(keys, Kind::Wal, &line[..line.len() - 1], &name) {
            Ok(r) => records.push(r),
            Err(e) => {
                bad = Some(e);
                break;
            }
        }
    }
    let records = Records {
        records,
        torn: bytes.len() - whole,
    };
    Ok((records, bad))
}

/// Appends one sealed record (`state` and the audit lines `tail` its commit adds) and syncs
/// the file's data: the record is durable when this returns. The folder is synced only when
/// the file is created.
pub(crate) fn append(
    paths: &Paths,
    keys: &RootKeys,
    state: &State,
    tail: &[u8],
) -> Result<(), Error> {
    let mut line = sealed::encode(keys, Kind::Wal, state, tail)?;
    line.push(b'\n');
    let path = paths.file(WAL_FILE);
    let created = fs::symlink_metadata(&path).is_err();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| store_err(&format!("cannot open {WAL_FILE}"), e))?;
    if super::integrity::crash_here("mid-wal") {
        let _ = f.write_all(&line[..line.len() / 2]);
        let _ = f.sync_data();
        std::process::exit(super::integrity::CRASH_EXIT);
    }
    f.write_all(&line)
        .and_then(|()| f.sync_data())
        .map_err(|e| store_err(&format!("cannot append to {WAL_FILE}"), e))?;
    if created {
        sync_dir(&paths.home)?;
    }
    Ok(())
}

/// Empties `store.wal` once its records are applied. Not synced: records a crash brings back
/// name generations `store.json` already has, and are skipped (integrity.rs, `recover`).
pub(crate) fn clear(paths: &Paths) -> Result<(), Error> {
    match OpenOptions::new().write(true).open(paths.file(WAL_FILE)) {
        Ok(f) => f
            .set_len(0)
            .map_err(|e| store_err(&format!("cannot empty {WAL_FILE}"), e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(store_err(&format!("cannot open {WAL_FILE}"), e)),
    }
}
