//! A store kept open by a long-running door (`angou kms serve`): the verified state, the root
//! key's subkeys and what the files looked like when they were last verified, and group
//! commit of concurrent operations. docs/DESIGN.md §5 ("A server's resident state") says what
//! each request checks and what is left to the next full check.
//!
//! Every batch of operations runs under the store lock, as a single operation does:
//! 1. the first caller to find no batch open takes the lock and compares the store with what
//!    it verified last: the exact bytes of `store.json` and of the root key file (or the
//!    Argon2id parameters), no `store.next`, and the `stat` of the audit log and of `store.wal`
//!    (device, inode, length, modification and status-change times). Anything different, and
//!    the whole store is opened and checked again exactly as a CLI command does
//!    (`integrity::open`: seal, interrupted commit, write-ahead log, whole audit chain,
//!    high-water mark);
//! 2. that caller (the leader) and every caller that arrives while the batch is open run
//!    their operations one after another on the state in memory, each seeing the ones before
//!    it;
//! 3. the leader prepares the batch's record (integrity.rs, `prepare_commit`) and at once opens
//!    the next batch on the state it leaves, still under the same hold of the lock, so callers
//!    arriving now collect there instead of waiting; then it appends the record to
//!    `store.wal` with one flush (`append_commit`), and only then is any of its members
//!    answered. Records are written one at a time, in order. A failed commit fails every
//!    operation of its batch and of the batch opened on its state, and drops the resident
//!    state, so the next batch opens the store from scratch. After [`PIPELINE`] batches in a
//!    row, or when no caller joined the next batch, the lock is let go, and the next batch
//!    starts at step 1;
//! 4. once answered, and still under the lock, the leader brings `store.json` and `audit.log`
//!    up to date with the write-ahead log when it is due ([`SETTLE_RECORDS`], [`SETTLE_BYTES`],
//!    [`SETTLE_AGE`]); a server also does so when idle ([`Resident::settle_idle`]) and when it
//!    stops. Whoever opens the store first after a crash applies the records left.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::access::StoredAccessKey;
use super::integrity;
use super::store::{self, FileStamp, Paths, RootKeys, State};
use crate::error::{Error, KmsError};
use crate::secret::SecretVec;

/// What the store looked like when it was last verified or written by this process.
struct Verified {
    keys: Arc<RootKeys>,
    root_source: zeroize::Zeroizing<Vec<u8>>,
    state_bytes: Vec<u8>,
    /// `store.json`'s `stat`, taken before its bytes were last read or right after this
    /// process wrote them.
    state_stamp: Option<FileStamp>,
    state: State,
    log: Option<FileStamp>,
    /// `store.wal`'s `stat` after this process last appended to it or emptied it.
    wal: Option<FileStamp>,
    /// Records of this process in `store.wal` not yet applied, when the first was written,
    /// and their audit lines (the log past `store.json`'s sealed end once applied).
    unapplied: usize,
    since: Option<Instant>,
    tail: Vec<u8>,
}

/// A batch brings `store.json` and the log up to date once `store.wal` holds this many
/// records, ...
pub(crate) const SETTLE_RECORDS: usize = 1024;
/// ... or this many bytes (each record holds the whole state), ...
pub(crate) const SETTLE_BYTES: u64 = 2 << 20;
/// ... or its oldest record is this old.
pub(crate) const SETTLE_AGE: Duration = Duration::from_secs(1);

/// What a signature check needs from the last verified state, and the `stat` of the
/// `store.json` it came from ([`Resident::peek_access`]).
struct Snapshot {
    state_stamp: FileStamp,
    wal: Option<FileStamp>,
    keys: Arc<RootKeys>,
    access: Vec<StoredAccessKey>,
}

impl Verified {
    /// Whether the records this process left in `store.wal` should be applied now.
    fn due(&self) -> bool {
        !settling_held()
            && self.unapplied > 0
            && (self.unapplied >= SETTLE_RECORDS
                || self.wal.as_ref().is_some_and(|w| w.len() >= SETTLE_BYTES)
                || self.since.is_some_and(|t| t.elapsed() >= SETTLE_AGE))
    }

    fn snapshot(&self) -> Option<Arc<Snapshot>> {
        Some(Arc::new(Snapshot {
            state_stamp: self.state_stamp.clone()?,
            wal: self.wal.clone(),
            keys: self.keys.clone(),
            access: self.state.access_keys.clone(),
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    /// No batch: the next caller leads one.
    #[default]
    Idle,
    /// A leader is taking the lock and checking the store.
    Opening,
    /// Operations are being applied to the state in memory (while the batch before, if any,
    /// is being written).
    Open,
    /// Nothing may join: an idle settle, or a batch being written with no next one open.
    Committing,
}

/// How one batch ended, set once by its leader and read by every member: `None` when its
/// commit is durable, `Some(why)` when it failed; unset until then.
type Batch = OnceLock<Option<String>>;

#[derive(Default)]
struct Inner {
    verified: Option<Verified>,
    /// Taken from `verified` whenever it is (re)verified or committed; `None` after a failure.
    snapshot: Option<Arc<Snapshot>>,
    phase: Phase,
    lock: Option<store::Lock>,
    /// The state of the open batch, with its operations applied.
    work: Option<State>,
    /// The root key's subkeys, for the open batch's operations.
    keys: Option<Arc<RootKeys>>,
    entries: Vec<Map<String, Value>>,
    /// The open batch, shared by its members.
    batch: Arc<Batch>,
    /// Whether the open batch has a leader.
    led: bool,
    /// Callers that arrived while no batch was open and wait to join the next one.
    waiting: usize,
    /// Whether the leader sleeps until `waiting` is zero.
    draining: bool,
    /// Whether a batch is being written (the next one may be open meanwhile).
    committing: bool,
    /// Batches opened while the one before was being written, since the store was last
    /// checked ([`PIPELINE`]).
    chain: usize,
}

/// At most this many batches follow each other under one hold of the store lock; then the
/// lock is let go, so other processes get their turn, and the next batch checks the files
/// again.
const PIPELINE: usize = 16;

/// The resident state of one process's handles on one store (shared by [`crate::kms::Kms`]
/// clones).
#[derive(Default)]
pub(crate) struct Resident {
    inner: Mutex<Inner>,
    /// Callers waiting for a batch to open (or for the open one to finish and the next to
    /// start).
    joinable: Condvar,
    /// The leader, waiting for the callers that queued for its batch to apply their
    /// operations.
    drained: Condvar,
    /// Callers waiting for their batch's commit.
    done: Condvar,
    /// A leader waiting for the batch before its own to be written.
    committed: Condvar,
}

impl std::fmt::Debug for Resident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resident { .. }")
    }
}

/// How to open the store in full.
pub(crate) struct Opener<'a> {
    pub paths: &'a Paths,
    pub passphrase: Option<&'a SecretVec>,
    pub marks: integrity::MarkDir<'a>,
}

/// One operation's effect: its result and the audit entries it adds.
pub(crate) type Applied<T> = (Result<T, Error>, Vec<Map<String, Value>>);

/// Debug builds only: `ANGOU_TEST_SETTLE=hold` keeps a server's records in `store.wal` until
/// it stops (no settling when due or idle), so tests can attack a store whose newest commits
/// are only there. Release builds compile this away.
pub(crate) fn settling_held() -> bool {
    cfg!(debug_assertions) && std::env::var("ANGOU_TEST_SETTLE").is_ok_and(|v| v == "hold")
}

fn internal(reason: impl Into<String>) -> Error {
    KmsError::Store {
        reason: reason.into(),
    }
    .into()
}

impl Resident {
    fn guard(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits on `cv`. Each kind of waiter has its own condition variable, so a change wakes
    /// only the threads it concerns: on this project's 2-core VM a needless wake-up of the
    /// other request threads costs more than the operation itself (docs/PERFORMANCE.md).
    fn wait<'a>(&self, cv: &Condvar, g: MutexGuard<'a, Inner>) -> MutexGuard<'a, Inner> {
        cv.wait(g).unwrap_or_else(PoisonError::into_inner)
    }

    /// `f` over the access keys of the state this process last verified or committed, without
    /// the store lock, while `store.json` and `store.wal` still have the `stat` they had then:
    /// any other process's commit replaces `store.json` or appends to `store.wal`, and an edit
    /// in place changes a file's times. `None` when there is no such state or the file changed; the caller then
    /// runs a batch, which checks the whole store. The request a signature admits still runs
    /// in a batch that checks everything, so this answers what a batch of its own, taken just
    /// before, would have.
    pub(crate) fn peek_access<T>(
        &self,
        paths: &Paths,
        f: impl FnOnce(&[StoredAccessKey], &RootKeys) -> T,
    ) -> Option<T> {
        let snap = self.guard().snapshot.clone()?;
        let now = store::stamp(&paths.file(store::STATE_FILE)).ok()??;
        let wal = store::stamp(&paths.file(store::WAL_FILE)).ok()?;
        (now == snap.state_stamp && wal == snap.wal).then(|| f(&snap.access, &snap.keys))
    }

    /// Applies the records this process left in `store.wal` when no batch is running: the
    /// server calls it when idle and when it stops, so `audit.log` trails by little. Files
    /// changed by another process are left to the next batch's full check.
    pub(crate) fn settle_idle(&self, opener: &Opener<'_>) -> Result<(), Error> {
        let mut g = self.guard();
        if g.phase != Phase::Idle || g.verified.as_ref().is_none_or(|v| v.unapplied == 0) {
            return Ok(());
        }
        g.phase = Phase::Committing;
        let mut verified = g.verified.take();
        drop(g);
        let settled = store::lock(opener.paths, false).and_then(|_lock| match verified.as_mut() {
            Some(v) if unchanged(v, opener.paths)? => settle(opener, v),
            _ => Ok(()),
        });
        // Records still unapplied: the files were not as this process left them.
        if settled.is_err() || verified.as_ref().is_some_and(|v| v.unapplied > 0) {
            verified = None;
        }
        g = self.guard();
        g.snapshot = verified.as_ref().and_then(Verified::snapshot);
        g.verified = verified;
        g.phase = Phase::Idle;
        self.joinable.notify_all();
        settled
    }

    /// Runs `op` on the store's state in a batch (module docs) and returns its result once
    /// the batch is durable. `op` gets the state and the root key's subkeys; on error it must
    /// leave the state as it found it.
    pub(crate) fn run<T>(
        &self,
        opener: &Opener<'_>,
        op: impl FnOnce(&mut State, &RootKeys) -> Result<Applied<T>, Error>,
    ) -> Result<T, Error> {
        let mut g = self.guard();
        let mut counted = false;
        let mut leader = false;
        loop {
            match g.phase {
                Phase::Open => {
                    if !g.led {
                        // A batch opened while the one before was being written.
                        g.led = true;
                        leader = true;
                    }
                    break;
                }
                Phase::Idle => {
                    if counted {
                        g.waiting -= 1;
                        counted = false;
                    }
                    g.phase = Phase::Opening;
                    let mut verified = g.verified.take();
                    drop(g);
                    let opened = store::lock(opener.paths, false).and_then(|lock| {
                        refresh(&mut verified, opener)?;
                        Ok(lock)
                    });
                    g = self.guard();
                    g.snapshot = verified.as_ref().and_then(Verified::snapshot);
                    g.verified = verified;
                    match opened {
                        Ok(lock) => {
                            g.lock = Some(lock);
                            g.work = g.verified.as_ref().map(|v| v.state.clone());
                            g.keys = g.verified.as_ref().map(|v| v.keys.clone());
                            g.entries.clear();
                            g.batch = Arc::default();
                            g.led = true;
                            g.chain = 0;
                            g.phase = Phase::Open;
                            leader = true;
                            self.joinable.notify_all();
                            break;
                        }
                        Err(e) => {
                            g.verified = None;
                            g.snapshot = None;
                            g.phase = Phase::Idle;
                            self.joinable.notify_all();
                            return Err(e);
                        }
                    }
                }
                Phase::Opening | Phase::Committing => {
                    if !counted {
                        g.waiting += 1;
                        counted = true;
                    }
                    g = self.wait(&self.joinable, g);
                }
            }
        }
        if counted {
            g.waiting -= 1;
        }
        let batch = g.batch.clone();
        let keys = g.keys.clone();
        let applied = match (g.work.as_mut(), keys) {
            (Some(state), Some(keys)) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op(state, &keys)))
                    .unwrap_or_else(|_| Err(internal("an operation failed unexpectedly")))
            }
            _ => Err(internal("the resident key store state is missing")),
        };
        let result = match applied {
            Ok((result, entries)) => {
                g.entries.extend(entries);
                result
            }
            Err(e) => {
                // The operation could not even be recorded: the state it may have touched is
                // not trusted; the batch is abandoned and the store opened afresh.
                g.work = None;
                Err(e)
            }
        };
        if g.draining && g.waiting == 0 {
            self.drained.notify_one();
        }
        if leader {
            while g.waiting > 0 {
                g.draining = true;
                g = self.wait(&self.drained, g);
            }
            g.draining = false;
            // One batch is written at a time, in order; the next one collects meanwhile.
            while g.committing {
                g = self.wait(&self.committed, g);
            }
            g.committing = true;
            let mut work = g.work.take();
            let entries = std::mem::take(&mut g.entries);
            let tail = match (work.as_mut(), entries.is_empty()) {
                (Some(state), false) => Some(integrity::prepare_commit(state, entries)),
                _ => None,
            };
            match &work {
                Some(state) if tail.is_some() && g.chain < PIPELINE => {
                    // The next batch opens at once on this one's final state; it is written
                    // after this one, and fails if this one does.
                    g.chain += 1;
                    g.work = Some(state.clone());
                    g.batch = Arc::default();
                    g.led = false;
                    g.phase = Phase::Open;
                    self.joinable.notify_all();
                }
                _ => g.phase = Phase::Committing,
            }
            let mut verified = g.verified.take();
            drop(g);
            let outcome = match (work, tail, verified.as_mut()) {
                (Some(_), None, _) => Ok(()),
                (Some(state), Some(tail), Some(v)) => {
                    commit(opener, v, &state, &tail).map(|()| v.state = state)
                }
                _ => Err(internal(
                    "an operation of this batch (or of the one before it) failed unexpectedly; nothing was committed",
                )),
            };
            g = self.guard();
            match &outcome {
                Ok(()) => {
                    g.snapshot = verified.as_ref().and_then(Verified::snapshot);
                    g.verified = verified;
                }
                Err(_) => {
                    g.snapshot = None;
                    g.verified = None;
                    // The batch opened on this one's state must not be written.
                    g.work = None;
                }
            }
            let _ = batch.set(outcome.as_ref().err().map(ToString::to_string));
            self.done.notify_all();
            // Answered; still under the lock, apply the write-ahead log when due.
            if g.verified.as_ref().is_some_and(Verified::due) {
                let mut verified = g.verified.take();
                drop(g);
                if verified
                    .as_mut()
                    .is_some_and(|v| settle(opener, v).is_err())
                {
                    verified = None;
                }
                g = self.guard();
                if verified.is_none() {
                    g.work = None;
                }
                g.snapshot = verified.as_ref().and_then(Verified::snapshot);
                g.verified = verified;
            }
            g.committing = false;
            self.committed.notify_all();
            let next_led = g.phase == Phase::Open && g.led;
            if !next_led {
                // No batch follows this one: release the store.
                g.work = None;
                g.lock = None;
                g.phase = Phase::Idle;
                self.joinable.notify_all();
            }
            drop(g);
            outcome?;
            return result;
        }
        loop {
            if let Some(outcome) = batch.get() {
                return match outcome {
                    None => result,
                    Some(why) => Err(internal(format!(
                        "the commit of this request's batch failed: {why}"
                    ))),
                };
            }
            g = self.wait(&self.done, g);
        }
    }
}

/// Commits a batch to `store.wal` and records what the file now looks like.
fn commit(opener: &Opener<'_>, v: &mut Verified, state: &State, tail: &[u8]) -> Result<(), Error> {
    integrity::append_commit(opener.paths, &v.keys, state, tail, opener.marks)?;
    v.wal = store::stamp(&opener.paths.file(store::WAL_FILE))?;
    v.tail.extend_from_slice(tail);
    v.unapplied += 1;
    v.since.get_or_insert_with(Instant::now);
    Ok(())
}

/// Applies the records this process appended to `store.wal` to `store.json` and the log
/// (integrity.rs, `settle`) and records what the files now look like. Call under the lock,
/// on files just checked or written by this process.
fn settle(opener: &Opener<'_>, v: &mut Verified) -> Result<(), Error> {
    let paths = opener.paths;
    let base = v.log.as_ref().map_or(0, FileStamp::len);
    v.state_bytes = integrity::settle(paths, &v.keys, base, &v.tail, &v.state)?;
    let log = store::stamp(&paths.file(store::AUDIT_FILE))?;
    if log.as_ref().map(FileStamp::len) != Some(v.state.audit.len) {
        return Err(store::tampered(
            "the audit log changed while this process was writing it",
        ));
    }
    v.state_stamp = store::stamp(&paths.file(store::STATE_FILE))?;
    v.log = log;
    v.wal = store::stamp(&paths.file(store::WAL_FILE))?;
    v.unapplied = 0;
    v.since = None;
    // Kept allocated: reused by the next records rather than taken afresh from whichever
    // thread's allocator arena commits next (a flat footprint; docs/PERFORMANCE.md).
    v.tail.clear();
    Ok(())
}

/// Keeps `verified` if the store is as it was verified; otherwise opens and checks it in full.
fn refresh(verified: &mut Option<Verified>, opener: &Opener<'_>) -> Result<(), Error> {
    if let Some(v) = verified.as_mut() {
        let state_stamp = store::stamp(&opener.paths.file(store::STATE_FILE))?;
        if unchanged(v, opener.paths)? {
            v.state_stamp = state_stamp;
            return Ok(());
        }
    }
    *verified = None;
    // A change in the middle of the full check (an attacker is not bound by the lock) shows
    // as a difference between the two looks; the check then runs again.
    for _ in 0..3 {
        let root_before = store::read_root_source(opener.paths)?;
        let log_before = store::stamp(&opener.paths.file(store::AUDIT_FILE))?;
        let wal_before = store::stamp(&opener.paths.file(store::WAL_FILE))?;
        let state_stamp = store::stamp(&opener.paths.file(store::STATE_FILE))?;
        let opened = integrity::open(opener.paths, opener.passphrase, opener.marks)?;
        let (state, state_bytes) = store::load_state_bytes(opener.paths, &opened.keys)?;
        let log = store::stamp(&opener.paths.file(store::AUDIT_FILE))?;
        let wal = store::stamp(&opener.paths.file(store::WAL_FILE))?;
        let root_source = store::read_root_source(opener.paths)?;
        // An interrupted commit completed by the open changes the log: the next look is then
        // stable.
        let same = store::ct_eq(&root_before, &root_source)
            && log_before == log
            && wal_before == wal
            && state.generation == opened.state.generation
            && state.audit == opened.state.audit
            && log.as_ref().map_or(0, FileStamp::len) == state.audit.len;
        if same {
            *verified = Some(Verified {
                keys: Arc::new(opened.keys),
                root_source,
                state_bytes,
                state_stamp,
                state,
                log,
                wal,
                unapplied: 0,
                since: None,
                tail: Vec::new(),
            });
            return Ok(());
        }
    }
    Err(store::tampered(
        "the key store kept changing while it was being checked",
    ))
}

/// Whether the store's files are exactly as this process last verified or wrote them.
fn unchanged(v: &Verified, paths: &Paths) -> Result<bool, Error> {
    Ok(store::stamp(&paths.file(store::PENDING_FILE))?.is_none()
        && store::stamp(&paths.file(store::AUDIT_FILE))? == v.log
        && store::stamp(&paths.file(store::WAL_FILE))? == v.wal
        && store::read_state_bytes(paths)? == v.state_bytes
        && store::ct_eq(&store::read_root_source(paths)?, &v.root_source))
}
