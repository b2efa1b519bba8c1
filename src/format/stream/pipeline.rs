//! The parallel pipeline: batches of chunks sealed or opened on a pool of worker threads,
//! results handed back in submission order.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use zeroize::Zeroizing;

use super::{ENCRYPTED_CHUNK_LEN, chunk_nonce};
use crate::aead::TAG_LEN;
use crate::aead::hazmat::LessSafeKey;
use crate::error::FormatError;

/// Chunks per batch handed to a worker (512 KiB of plaintext).
pub(crate) const BATCH_CHUNKS: usize = 8;
/// Most worker threads one stream starts (besides the calling thread).
pub(crate) const MAX_WORKERS: usize = 8;
/// Ciphertext bytes of a full batch.
pub(super) const BATCH_ENC_LEN: usize = BATCH_CHUNKS * ENCRYPTED_CHUNK_LEN;

/// Worker threads beside the calling thread: one per core but one.
pub(super) fn worker_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .saturating_sub(1)
        .min(MAX_WORKERS)
}

/// A batch: chunk slots of [`ENCRYPTED_CHUNK_LEN`] bytes laid end to end, the last one
/// possibly short. `len` counts the bytes in use (with tags once sealed).
pub(super) struct Batch {
    pub(super) seq: u64,
    pub(super) first_counter: u64,
    /// Whether the batch holds the final chunk of the stream.
    pub(super) last: bool,
    pub(super) buf: Zeroizing<Vec<u8>>,
    /// Plaintext length of each chunk.
    pub(super) chunk_lens: Vec<usize>,
    /// A structural defect found after this batch's chunks (reading only): raised once
    /// they have been released.
    pub(super) tail_error: Option<FormatError>,
}

/// What a worker returns for a batch it opened: the verified chunk count and, when a chunk
/// failed, why. Chunks before the failure are decrypted in place and may be released.
pub(super) struct Opened {
    pub(super) batch: Batch,
    pub(super) verified: usize,
    pub(super) error: Option<FormatError>,
}

pub(super) fn seal_batch(key: &LessSafeKey, batch: &mut Batch) {
    let n = batch.chunk_lens.len();
    for (i, &len) in batch.chunk_lens.iter().enumerate() {
        let at = i * ENCRYPTED_CHUNK_LEN;
        let last = batch.last && i + 1 == n;
        let nonce = chunk_nonce(batch.first_counter + i as u64, last);
        let (data, rest) = batch.buf[at..].split_at_mut(len);
        // Chunks are at most CHUNK_LEN bytes, far below either cipher's limit.
        if let Ok(tag) = key.seal_in_place_detached(&nonce, b"", data) {
            rest[..TAG_LEN].copy_from_slice(&tag);
        }
    }
}

pub(super) fn open_chunk(key: &LessSafeKey, chunk: &mut [u8], counter: u64, last: bool) -> bool {
    let (data, tag) = chunk.split_at_mut(chunk.len() - TAG_LEN);
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(tag);
    key.open_in_place_detached(&chunk_nonce(counter, last), b"", data, &t)
        .is_ok()
}

pub(super) fn open_batch(key: &LessSafeKey, mut batch: Batch) -> Opened {
    let n = batch.chunk_lens.len();
    for i in 0..n {
        let at = i * ENCRYPTED_CHUNK_LEN;
        let enc_len = batch.chunk_lens[i] + TAG_LEN;
        let last = batch.last && i + 1 == n;
        let counter = batch.first_counter + i as u64;
        let chunk = &mut batch.buf[at..at + enc_len];
        if open_chunk(key, chunk, counter, last) {
            continue;
        }
        // A full chunk that authenticates under the other flag is genuine: release it, then
        // report why the stream is still wrong (age releases it too; CCTV checks this).
        let (verified, error) =
            if enc_len == ENCRYPTED_CHUNK_LEN && open_chunk(key, chunk, counter, !last) {
                let error = if last {
                    FormatError::Truncated {
                        what: "payload: the last chunk is missing",
                    }
                } else {
                    FormatError::TrailingData
                };
                (i + 1, error)
            } else {
                (i, FormatError::PayloadAuthentication)
            };
        return Opened {
            batch,
            verified,
            error: Some(error),
        };
    }
    Opened {
        batch,
        verified: n,
        error: None,
    }
}

pub(super) enum Job {
    Seal(Batch),
    Open(Batch),
}

pub(super) enum Done {
    Sealed(Batch),
    Opened(Opened),
}

impl Done {
    pub(super) fn seq(&self) -> u64 {
        match self {
            Done::Sealed(b) => b.seq,
            Done::Opened(o) => o.batch.seq,
        }
    }
}

pub(super) fn run_job(key: &LessSafeKey, job: Job) -> Done {
    match job {
        Job::Seal(mut b) => {
            seal_batch(key, &mut b);
            Done::Sealed(b)
        }
        Job::Open(b) => Done::Opened(open_batch(key, b)),
    }
}

/// Worker threads that seal or open batches, with the calling thread working beside them;
/// results come back in submission order.
///
/// The pool has one worker fewer than the machine has cores: the calling thread, which does
/// the reading and writing, seals or opens a batch itself whenever every worker already has
/// [`QUEUE_PER_WORKER`] batches waiting. Threads therefore rarely sleep and wake (which costs
/// more than the cipher work on small virtual machines), and on one core everything runs
/// inline without a thread.
pub(super) struct Pool {
    pub(super) key: Arc<LessSafeKey>,
    /// Worker threads to start on first use (0: everything runs inline).
    pub(super) target_workers: usize,
    pub(super) jobs: Option<Sender<Job>>,
    pub(super) done: Option<Receiver<Done>>,
    pub(super) workers: Vec<JoinHandle<()>>,
    /// Submitted and not yet returned by `next`.
    pub(super) in_flight: usize,
    /// Sent to the workers and not yet received back.
    pub(super) at_workers: usize,
    pub(super) next_out: u64,
    pub(super) pending: BTreeMap<u64, Done>,
}

/// Batches queued per worker before the calling thread does the work itself.
const QUEUE_PER_WORKER: usize = 2;

impl Pool {
    pub(super) fn with_workers(key: LessSafeKey, target_workers: usize) -> Self {
        Pool {
            key: Arc::new(key),
            target_workers,
            jobs: None,
            done: None,
            workers: Vec::new(),
            in_flight: 0,
            at_workers: 0,
            next_out: 0,
            pending: BTreeMap::new(),
        }
    }

    /// Batches that may be submitted and not yet taken back: the workers' queues plus one
    /// done inline.
    pub(super) fn max_in_flight(&self) -> usize {
        QUEUE_PER_WORKER * self.target_workers + 1
    }

    pub(super) fn start(&mut self) -> io::Result<()> {
        let (job_tx, job_rx) = channel::<Job>();
        let (done_tx, done_rx) = channel::<Done>();
        let job_rx = Arc::new(std::sync::Mutex::new(job_rx));
        for _ in 0..self.target_workers {
            let key = Arc::clone(&self.key);
            let rx = Arc::clone(&job_rx);
            let tx = done_tx.clone();
            let handle = std::thread::Builder::new()
                .name("angou-stream".into())
                .spawn(move || {
                    loop {
                        // A poisoned lock means a sibling panicked; stop quietly.
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        if tx.send(run_job(&key, job)).is_err() {
                            return;
                        }
                    }
                })?;
            self.workers.push(handle);
        }
        self.jobs = Some(job_tx);
        self.done = Some(done_rx);
        Ok(())
    }

    /// Hands `job` to a worker, or runs it here when the workers' queues are full.
    pub(super) fn submit(&mut self, job: Job) -> io::Result<()> {
        if self.at_workers >= QUEUE_PER_WORKER * self.target_workers {
            let done = run_job(&self.key, job);
            self.pending.insert(done.seq(), done);
            self.in_flight += 1;
            return Ok(());
        }
        if self.jobs.is_none() {
            self.start()?;
        }
        let sent = self.jobs.as_ref().is_some_and(|tx| tx.send(job).is_ok());
        if !sent {
            return Err(io::Error::other("stream worker threads stopped"));
        }
        self.at_workers += 1;
        self.in_flight += 1;
        Ok(())
    }

    pub(super) fn receive(&mut self, block: bool) -> io::Result<bool> {
        let Some(rx) = self.done.as_ref() else {
            return Ok(false);
        };
        let d = if block {
            rx.recv().ok()
        } else {
            match rx.try_recv() {
                Ok(d) => Some(d),
                Err(std::sync::mpsc::TryRecvError::Empty) => return Ok(false),
                Err(std::sync::mpsc::TryRecvError::Disconnected) => None,
            }
        };
        let d = d.ok_or_else(|| io::Error::other("stream worker threads stopped"))?;
        self.at_workers -= 1;
        self.pending.insert(d.seq(), d);
        Ok(true)
    }

    pub(super) fn take_ready(&mut self) -> Option<Done> {
        let d = self.pending.remove(&self.next_out)?;
        self.next_out += 1;
        self.in_flight -= 1;
        Some(d)
    }

    /// The next result in order, blocking until it arrives.
    pub(super) fn next(&mut self) -> io::Result<Done> {
        loop {
            if let Some(d) = self.take_ready() {
                return Ok(d);
            }
            if self.at_workers == 0 {
                return Err(io::Error::other("stream pool has no batch in flight"));
            }
            self.receive(true)?;
        }
    }

    /// The next result in order if it is already done.
    pub(super) fn try_next(&mut self) -> io::Result<Option<Done>> {
        while self.receive(false)? {}
        Ok(self.take_ready())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None;
        self.done = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Reads once into `buf`, retrying on interruption.
pub(super) fn read_retrying<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// A batch with room for [`BATCH_CHUNKS`] sealed chunks and one look-ahead byte.
pub(super) fn empty_batch(seq: u64, buf: Option<Zeroizing<Vec<u8>>>) -> Batch {
    empty_batch_of(seq, buf, BATCH_ENC_LEN + 1)
}

/// A batch whose buffer, when a new one is needed, starts at `len` bytes.
pub(super) fn empty_batch_of(seq: u64, buf: Option<Zeroizing<Vec<u8>>>, len: usize) -> Batch {
    let buf = buf.unwrap_or_else(|| Zeroizing::new(vec![0u8; len]));
    Batch {
        seq,
        first_counter: 0,
        last: false,
        buf,
        chunk_lens: Vec::with_capacity(BATCH_CHUNKS),
        tail_error: None,
    }
}
