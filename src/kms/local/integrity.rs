//! Opening, committing and repairing a store, and the two rollback detectors that live
//! outside it (checkpoints and the machine's high-water marks). docs/DESIGN.md §5 says what
//! each check catches and where it stops.
//!
//! Commit protocol (one operation = one commit):
//! 1. write `store.next`: the next state and the audit lines it adds, sealed (atomic);
//! 2. append those lines to `audit.log` at the sealed end (fsync);
//! 3. replace `store.json` with the next state (atomic);
//! 4. remove `store.next`.
//!
//! A writer killed anywhere leaves `store.json` at the old state and either no `store.next`
//! (killed in 1: the log is untouched) or a sealed `store.next` whose lines the log holds a
//! prefix of (killed in 2 or 3): the next operation completes that commit. Nothing else is
//! ever accepted: a log longer or shorter than the sealed head, or a `store.next` that does
//! not continue `store.json`, is tampering, and only `angou kms audit repair` (which needs the
//! root key and records what it accepted) moves past it.
//!
//! A server commits a batch with one flush instead ([`prepare_commit`], [`append_commit`]): the same sealed record is
//! appended to `store.wal`, and [`settle`] later appends the lines of every record to the log,
//! replaces `store.json` once with the newest state and empties the file. Until then the
//! records are part of the store: every open applies them first ([`recover`]), each record
//! continuing the one before, the log holding a prefix of their lines; a record cut short at
//! the end of the file was never acknowledged and is dropped.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::store::{self, Paths, RootKeys, State};
use super::wal;

pub use super::checkpoint::Checkpoint;
pub(crate) use super::checkpoint::{check_checkpoint, make_checkpoint};
use crate::error::{Error, KmsError};
use crate::kms::audit;
use crate::kms::key::hex;
use crate::secret::SecretVec;

/// A store that passed every check, ready for one operation.
pub(crate) struct Opened {
    pub keys: RootKeys,
    pub state: State,
    /// The sealed log (for `audit verify` and listings).
    pub log: Vec<u8>,
}

/// Where the machine keeps high-water marks, if anywhere.
pub(crate) type MarkDir<'a> = Option<&'a Path>;

#[derive(Debug, Serialize, Deserialize)]
struct Mark {
    store_id: String,
    generation: u64,
    count: u64,
    hash: String,
    home: String,
}

fn mark_path(dir: &Path, store_id: &str) -> PathBuf {
    dir.join("stores").join(format!("{store_id}.json"))
}

fn read_mark(dir: MarkDir<'_>, store_id: &str) -> Result<Option<Mark>, Error> {
    let Some(dir) = dir else { return Ok(None) };
    match fs::read(mark_path(dir, store_id)) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|_| {
            KmsError::RolledBack {
                reason: format!(
                    "the high-water mark {} is not readable",
                    mark_path(dir, store_id).display()
                ),
            }
            .into()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(store::store_err("cannot read the high-water mark", e)),
    }
}

/// Records the store's newest commit outside its folder. Best effort: the commit has already
/// happened, and a missing mark only weakens rollback detection on this machine.
///
/// The mark is rewritten in place, padded with spaces to the file's length (JSON allows
/// trailing whitespace), and not synced: a server writes it after every batch, and a rename
/// would make each batch's flush carry a new file's data too (docs/PERFORMANCE.md). Every
/// reader and writer of a store's mark holds that store's lock, so none sees it half-written;
/// after a machine crash it may name an older commit (still a valid floor), never a newer one.
fn write_mark(dir: MarkDir<'_>, paths: &Paths, state: &State) {
    use std::io::{Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let Some(dir) = dir else { return };
    let m = Mark {
        store_id: state.store_id.clone(),
        generation: state.generation,
        count: state.audit.count,
        hash: state.audit.hash.clone(),
        home: paths.home.display().to_string(),
    };
    let Ok(mut bytes) = serde_json::to_vec_pretty(&m) else {
        return;
    };
    let path = mark_path(dir, &state.store_id);
    let open = || {
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
    };
    let file = open().or_else(|_| {
        fs::create_dir_all(dir.join("stores"))?;
        open()
    });
    let Ok(mut f) = file else { return };
    let len = f.metadata().map_or(0, |m| m.len()) as usize;
    bytes.resize(bytes.len().max(len), b' ');
    let _ = f.rewind().and_then(|()| f.write_all(&bytes));
}

fn forget_mark(dir: MarkDir<'_>, store_id: &str) -> bool {
    dir.is_some_and(|d| fs::remove_file(mark_path(d, store_id)).is_ok())
}

/// Whether `next` continues `prev` by one commit that appends `tail` to the log: same store,
/// the next generation, and a tail that chains from `prev`'s audit head to `next`'s.
fn follows(prev: &State, next: &State, tail: &[u8]) -> bool {
    next.store_id == prev.store_id
        && next.generation == prev.generation + 1
        && next.audit.len == prev.audit.len + tail.len() as u64
        && audit::parse_hash(&prev.audit.hash).is_some_and(|h| {
            audit::walk_from(prev.audit.count, h, tail, &[]).is_ok_and(|w| {
                w.count == next.audit.count && Some(w.hash) == audit::parse_hash(&next.audit.hash)
            })
        })
}

/// Completes an interrupted commit if `store.next` continues `store.json` (removing a stale
/// one), then applies the records of `store.wal` that `store.json` does not have yet.
/// Returns the log after recovery.
fn recover(
    paths: &Paths,
    keys: &RootKeys,
    state: &mut State,
    mut log: Vec<u8>,
) -> Result<Vec<u8>, Error> {
    if let Some((next, tail)) = store::load_pending(paths, keys)? {
        if next.store_id == state.store_id && next.generation <= state.generation {
            // Killed after step 3: the commit is complete.
            store::remove_pending(paths)?;
        } else {
            let base = state.audit.len as usize;
            let continues = follows(state, &next, &tail)
                && log.len() >= base
                && log.len() - base <= tail.len()
                && log[base..] == tail[..log.len() - base];
            if !continues {
                return Err(store::tampered(format!(
                    "{} does not continue {}: it was planted or the state was replaced",
                    store::PENDING_FILE,
                    store::STATE_FILE
                )));
            }
            store::write_log_at(paths, state.audit.len, &tail)?;
            store::save_state(paths, keys, &next)?;
            store::remove_pending(paths)?;
            log.truncate(base);
            log.extend_from_slice(&tail);
            *state = next;
        }
    }
    let base = state.audit.len as usize;
    let cut = log.len() < base;
    if let Some(tails) = replay(paths, keys, state, log.get(base..).unwrap_or_default(), cut)? {
        log.truncate(base);
        log.extend_from_slice(&tails);
    }
    Ok(log)
}

/// The records of `records` that continue `state`, in order (module docs): the newest state
/// and their concatenated lines (`None` when none is new), how many records were taken
/// (stale ones included), and the rule the next one breaks, if any.
fn continuing(
    state: &State,
    records: Vec<(State, Vec<u8>)>,
) -> (Option<State>, Vec<u8>, usize, Option<&'static str>) {
    let mut newest: Option<State> = None;
    let mut tails = Vec::new();
    let mut prev_gen = None;
    let mut taken = 0;
    for (next, tail) in records {
        let broken = if next.store_id != state.store_id {
            Some("a record belongs to another store")
        } else if prev_gen.is_some_and(|g| next.generation != g + 1) {
            Some("its records are out of order, repeated or missing")
        } else if next.generation > state.generation
            && !follows(newest.as_ref().unwrap_or(state), &next, &tail)
        {
            Some("a record was planted or the state was replaced")
        } else {
            None
        };
        if broken.is_some() {
            return (newest, tails, taken, broken);
        }
        taken += 1;
        prev_gen = Some(next.generation);
        if next.generation > state.generation {
            tails.extend_from_slice(&tail);
            newest = Some(next);
        }
        // Otherwise applied already; its removal was undone by a crash.
    }
    (newest, tails, taken, None)
}

fn wal_broken(why: &str) -> Error {
    store::tampered(format!(
        "{} does not continue {}: {why}",
        store::WAL_FILE,
        store::STATE_FILE
    ))
}

/// Applies the records of `store.wal` that continue `state` (module docs): `after` is what the
/// log holds past `state`'s sealed end, which must be a prefix of the records' lines (`cut`:
/// the log is shorter than that end). Returns the lines now past that end, or `None` when
/// there was nothing to apply; `state` becomes the newest record's.
fn replay(
    paths: &Paths,
    keys: &RootKeys,
    state: &mut State,
    after: &[u8],
    cut: bool,
) -> Result<Option<Vec<u8>>, Error> {
    let found = wal::read(paths, keys)?;
    let any = !found.records.is_empty() || found.torn > 0;
    let (newest, tails, _, broken) = continuing(state, found.records);
    if let Some(why) = broken {
        return Err(wal_broken(why));
    }
    let Some(newest) = newest else {
        if any {
            wal::clear(paths)?;
        }
        return Ok(None);
    };
    if cut || after.len() > tails.len() || after != &tails[..after.len()] {
        return Err(store::tampered(format!(
            "the audit log's bytes past its sealed end are not the lines {} adds: lines were appended, changed or cut",
            store::WAL_FILE
        )));
    }
    apply(paths, keys, state.audit.len, &tails, &newest)?;
    *state = newest;
    Ok(Some(tails))
}

/// `audit repair`'s replay: applies the records that verify and continue `state`, up to the
/// first that does not, over whatever the log holds past the sealed end, and empties the
/// file. Returns what it discarded, in sentences.
fn replay_what_continues(
    paths: &Paths,
    keys: &RootKeys,
    state: &mut State,
) -> Result<Vec<String>, Error> {
    let (found, bad) = wal::read_prefix(paths, keys)?;
    let (newest, tails, taken, broken) = continuing(state, found.records);
    let mut discarded = Vec::new();
    let why = broken
        .map(|w| wal_broken(w).to_string())
        .or_else(|| bad.map(|e| e.to_string()));
    if let Some(why) = why {
        discarded.push(format!(
            "discarded the records of {} from record {} on ({why})",
            store::WAL_FILE,
            taken + 1
        ));
    }
    let log = store::read_log(paths)?;
    let base = state.audit.len as usize;
    match (newest, log.get(base..)) {
        (Some(newest), Some(after)) => {
            if after.len() > tails.len() || after != &tails[..after.len()] {
                discarded.push(format!(
                    "discarded {} bytes past the sealed end of the log that were not the lines of {}",
                    after.len(),
                    store::WAL_FILE
                ));
            }
            apply(paths, keys, state.audit.len, &tails, &newest)?;
            *state = newest;
        }
        (Some(_), None) => {
            // The log lost lines the state seals: the records cannot follow it.
            discarded.push(format!(
                "discarded the records of {} (the log is shorter than its sealed end)",
                store::WAL_FILE
            ));
            wal::clear(paths)?;
        }
        (None, _) => wal::clear(paths)?,
    }
    Ok(discarded)
}

/// Appends `tail` to the log at `base` (its sealed end), replaces `store.json` with `newest`
/// and empties `store.wal`: the last steps of applying records. Returns the bytes now in
/// `store.json`.
fn apply(
    paths: &Paths,
    keys: &RootKeys,
    base: u64,
    tail: &[u8],
    newest: &State,
) -> Result<Vec<u8>, Error> {
    crash_point("before-settle");
    store::write_log_at(paths, base, tail)?;
    crash_point("after-settle-log");
    let sealed = store::save_state(paths, keys, newest)?;
    crash_point("after-settle-state");
    wal::clear(paths)?;
    Ok(sealed)
}

/// Brings `store.json` and `audit.log` up to date with the records this process appended to
/// `store.wal` since the log was `base` bytes long: `tail` is their lines, `newest` the last
/// one's state. Call under the lock, on files this process just checked or wrote
/// (resident.rs); a log of another length is refused. Returns the bytes now in `store.json`.
pub(crate) fn settle(
    paths: &Paths,
    keys: &RootKeys,
    base: u64,
    tail: &[u8],
    newest: &State,
) -> Result<Vec<u8>, Error> {
    let len = store::stamp(&paths.file(store::AUDIT_FILE))?.map_or(0, |s| s.len());
    if len != base {
        return Err(store::tampered(format!(
            "the audit log changed while the records of {} were waiting to be applied",
            store::WAL_FILE
        )));
    }
    apply(paths, keys, base, tail, newest)
}

/// Opens an existing store: root key, sealed state, interrupted commit, whole log, and the
/// machine's high-water mark, in that order. Call under the lock.
pub(crate) fn open(
    paths: &Paths,
    passphrase: Option<&SecretVec>,
    marks: MarkDir<'_>,
) -> Result<Opened, Error> {
    let keys = store::read_root(paths, passphrase)?;
    let mut state = store::load_state(paths, &keys)?;
    let log = store::read_log(paths)?;
    let log = recover(paths, &keys, &mut state, log)?;
    let mark = read_mark(marks, &state.store_id)?;
    let probe: Vec<u64> = mark.iter().map(|m| m.count).collect();
    let walk = audit::check(&log, &state.audit, &probe)?;
    if let Some(m) = mark {
        if m.generation > state.generation || m.count > state.audit.count {
            return Err(KmsError::RolledBack {
                reason: format!(
                    "this store is at commit {} but commit {} was seen on this machine: the folder was replaced by an older copy",
                    state.generation, m.generation
                ),
            }
            .into());
        }
        let seen = walk.probes.iter().find(|(c, _)| *c == m.count).map(|p| p.1);
        if seen.map(|h| hex(&h)) != Some(m.hash.clone()) {
            return Err(KmsError::RolledBack {
                reason: format!(
                    "this store's history differs from the one seen on this machine at entry {}: the folder was replaced by a copy that forked",
                    m.count
                ),
            }
            .into());
        }
    }
    Ok(Opened { keys, state, log })
}

/// Creates a store: root key (or passphrase parameters), then the sealed genesis state.
pub(crate) fn create(
    paths: &Paths,
    passphrase: Option<&SecretVec>,
    fake_clock: bool,
    now: &str,
) -> Result<Opened, Error> {
    let keys = store::create_root(paths, passphrase)?;
    let state = State::genesis(&keys, now, fake_clock)?;
    store::save_state(paths, &keys, &state)?;
    Ok(Opened {
        keys,
        state,
        log: Vec::new(),
    })
}

/// Commits `state` with `entries` appended to the log (the protocol in the module docs).
pub(crate) fn commit(
    paths: &Paths,
    keys: &RootKeys,
    state: &mut State,
    entries: Vec<Map<String, Value>>,
    marks: MarkDir<'_>,
) -> Result<(), Error> {
    let base = state.audit.len;
    let (tail, head) = audit::encode(&state.audit, entries);
    state.generation += 1;
    state.audit = head;
    store::save_pending(paths, keys, state, &tail)?;
    crash_point("after-intent");
    if crash_here("mid-log") {
        let _ = store::write_log_at(paths, base, &tail[..tail.len() / 2]);
        std::process::exit(CRASH_EXIT);
    }
    store::write_log_at(paths, base, &tail)?;
    crash_point("after-log");
    store::save_state(paths, keys, state)?;
    crash_point("after-state");
    store::remove_pending(paths)?;
    write_mark(marks, paths, state);
    Ok(())
}

/// Commits `state` with `entries` by appending one record to `store.wal` (one flush; wal.rs):
/// a server's batch. Returns the audit lines the record adds. `store.json` and `audit.log`
/// are brought up to date by [`settle`] later, or by whoever opens the store next.
#[cfg(test)]
pub(crate) fn commit_wal(
    paths: &Paths,
    keys: &RootKeys,
    state: &mut State,
    entries: Vec<Map<String, Value>>,
    marks: MarkDir<'_>,
) -> Result<Vec<u8>, Error> {
    let tail = prepare_commit(state, entries);
    append_commit(paths, keys, state, &tail, marks)?;
    Ok(tail)
}

/// The first half of a server's commit, in memory: `state` becomes the next state (the next
/// generation, `entries` appended to its audit head); returns their lines. A batch that
/// follows this one may start from `state` at once (resident.rs).
pub(crate) fn prepare_commit(state: &mut State, entries: Vec<Map<String, Value>>) -> Vec<u8> {
    let (tail, head) = audit::encode(&state.audit, entries);
    state.generation += 1;
    state.audit = head;
    tail
}

/// The second half: appends the sealed record of `state` and `tail` to `store.wal` and syncs
/// it (one flush; wal.rs), then the high-water mark.
pub(crate) fn append_commit(
    paths: &Paths,
    keys: &RootKeys,
    state: &State,
    tail: &[u8],
    marks: MarkDir<'_>,
) -> Result<(), Error> {
    wal::append(paths, keys, state, tail)?;
    crash_point("after-wal");
    write_mark(marks, paths, state);
    Ok(())
}

/// Debug builds only: `ANGOU_TEST_CRASH_POINT=NAME` aborts the process at that step of a
/// commit, so tests can show what each possible crash leaves and that the next operation
/// completes it. Release builds compile this away.
pub(crate) fn crash_here(name: &str) -> bool {
    cfg!(debug_assertions) && std::env::var("ANGOU_TEST_CRASH_POINT").is_ok_and(|p| p == name)
}

fn crash_point(name: &str) {
    if crash_here(name) {
        // Exits without unwinding or cleanup, as a killed process would (no core file).
        std::process::exit(CRASH_EXIT);
    }
}

pub(crate) const CRASH_EXIT: i32 = 86;

/// Accepts a damaged store as it is, recording what was accepted or discarded. Needs the
/// root key; refuses a wrong one. Returns the findings (empty when the store was whole).
pub(crate) fn repair(
    paths: &Paths,
    passphrase: Option<&SecretVec>,
    marks: MarkDir<'_>,
) -> Result<(Opened, Vec<String>), Error> {
    let keys = store::read_root(paths, passphrase)?;
    let mut found = Vec::new();
    let mut state = match store::load_state(paths, &keys) {
        Ok(s) => s,
        Err(Error::Kms(KmsError::StateTampered { reason })) => {
            let s = store::load_state_unchecked(paths)?;
            if !store::ct_eq(s.root_check.as_bytes(), keys.check.as_bytes()) {
                return Err(KmsError::WrongRootKey {
                    detail: format!("{} belongs to another root key", store::STATE_FILE),
                }
                .into());
            }
            found.push(format!(
                "accepted {} as found ({reason})",
                store::STATE_FILE
            ));
            s
        }
        Err(e) => return Err(e),
    };
    let mut log = store::read_log(paths)?;
    match recover(paths, &keys, &mut state, log.clone()) {
        Ok(l) => log = l,
        Err(Error::Kms(KmsError::StateTampered { reason })) => {
            if paths.file(store::PENDING_FILE).exists() {
                store::remove_pending(paths)?;
                found.push(format!("discarded {} ({reason})", store::PENDING_FILE));
            }
            match recover(paths, &keys, &mut state, log.clone()) {
                Ok(l) => log = l,
                Err(Error::Kms(KmsError::StateTampered { .. })) => {
                    found.extend(replay_what_continues(paths, &keys, &mut state)?);
                    log = store::read_log(paths)?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    }
    if audit::check(&log, &state.audit, &[]).is_err() {
        let sealed = state.audit.len as usize;
        let prefix_ok =
            sealed <= log.len() && audit::check(&log[..sealed], &state.audit, &[]).is_ok();
        if prefix_ok {
            found.push(format!(
                "discarded {} bytes after the sealed end of the log",
                log.len() - sealed
            ));
            log.truncate(sealed);
        } else {
            let whole = log.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            if whole < log.len() {
                found.push(format!(
                    "discarded a partial last line of {} bytes",
                    log.len() - whole
                ));
                log.truncate(whole);
            }
            let w = audit::walk(&log, &[])?;
            found.push(format!(
                "accepted a log of {} entries whose chain did not match the sealed head ({} entries, hash {})",
                w.count, state.audit.count, state.audit.hash
            ));
            state.audit = store::AuditHead {
                count: w.count,
                len: log.len() as u64,
                hash: hex(&w.hash),
            };
        }
        store::write_log_at(paths, log.len() as u64, &[])?;
    }
    if let Some(m) = read_mark(marks, &state.store_id).ok().flatten() {
        let probe = audit::walk(&log, &[m.count]).ok();
        let matches = probe
            .and_then(|w| w.probes.first().map(|p| hex(&p.1)))
            .is_some_and(|h| h == m.hash);
        if m.generation > state.generation || !matches {
            forget_mark(marks, &state.store_id);
            found.push(format!(
                "accepted a store older than or forked from commit {} seen on this machine",
                m.generation
            ));
        }
    } else if marks.is_some() {
        forget_mark(marks, &state.store_id);
    }
    Ok((Opened { keys, state, log }, found))
}

/// The audit entry that records a repair.
pub(crate) fn repair_params(found: &[String]) -> Value {
    json!({ "findings": found })
}

#[cfg(test)]
#[path = "integrity_wal_tests.rs"]
mod wal_tests;
