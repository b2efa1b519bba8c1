//! The payload: a 16-byte nonce, then STREAM chunks (age v1 §"Payload").
//!
//! The payload key is `HKDF-SHA-256(ikm = file key, salt = nonce, info = label)` where the
//! label is `payload` for age v1 (ChaCha20-Poly1305) and `angou.dev/v1/aes-256-gcm payload`
//! for the AES-256-GCM variant. The plaintext is cut into chunks of [`CHUNK_LEN`] bytes;
//! chunk `i` is sealed with nonce `i` as an 11-byte big-endian counter followed by one byte,
//! `0x01` for the last chunk and `0x00` otherwise, and empty associated data. The last
//! chunk may be full; it may be empty only when the whole plaintext is empty.
//!
//! [`StreamReader`] releases a chunk only after its tag verifies, and knows a chunk is the
//! last one only by reaching the end of input after it, so truncation, reordering,
//! duplication and trailing data all fail.
//!
//! Both adapters seal or open batches of 8 chunks on a pool of worker
//! threads (one per core but one, at most 8) while the calling thread reads,
//! writes, and seals or opens a batch itself whenever every worker has two queued. Batches
//! are written or released strictly in order, with at most two per worker plus one in
//! flight, so memory stays constant for any input size (and within a batch or two of what a
//! 1 MiB file needs). Output is byte-identical to sealing the chunks one by one; on one
//! core, and for inputs that fit in one batch, no thread is started.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::header::PayloadCipher;
use crate::aead::hazmat::LessSafeKey;
use crate::aead::{Key, TAG_LEN};
use crate::error::{Error, FormatError};
use crate::secret::{FileKey, SecretArray};

/// Plaintext bytes per chunk.
pub const CHUNK_LEN: usize = 64 * 1024;
/// Ciphertext bytes per full chunk.
pub const ENCRYPTED_CHUNK_LEN: usize = CHUNK_LEN + TAG_LEN;
/// Length of the payload nonce that salts the payload key, in bytes.
pub const PAYLOAD_NONCE_LEN: usize = 16;
/// HKDF info of the age v1 payload key.
pub(crate) const PAYLOAD_LABEL_AGE: &[u8] = b"payload";
/// HKDF info of the AES-256-GCM variant's payload key.
pub(crate) const PAYLOAD_LABEL_AES: &[u8] = b"angou.dev/v1/aes-256-gcm payload";

/// The payload key for `cipher`, from the file key and payload nonce.
pub(crate) fn payload_key(
    cipher: PayloadCipher,
    file_key: &FileKey,
    nonce: &[u8; PAYLOAD_NONCE_LEN],
) -> LessSafeKey {
    let label = match cipher {
        PayloadCipher::ChaCha20Poly1305 => PAYLOAD_LABEL_AGE,
        PayloadCipher::Aes256Gcm => PAYLOAD_LABEL_AES,
    };
    let mut okm = SecretArray::<32>::zeroed();
    // 32 bytes never exceeds HKDF-SHA-256's output limit.
    let _ = Hkdf::<Sha256>::new(Some(nonce), file_key.expose_secret())
        .expand(label, okm.expose_secret_mut());
    LessSafeKey::new(cipher.algorithm(), &Key::from_secret(okm))
}

/// The 12-byte nonce of chunk `counter`.
pub(crate) fn chunk_nonce(counter: u64, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

/// Chunks per batch handed to a worker (512 KiB of plaintext).
pub(crate) const BATCH_CHUNKS: usize = 8;
/// Most worker threads one stream starts (besides the calling thread).
pub(crate) const MAX_WORKERS: usize = 8;
/// Ciphertext bytes of a full batch.
const BATCH_ENC_LEN: usize = BATCH_CHUNKS * ENCRYPTED_CHUNK_LEN;

/// Worker threads beside the calling thread: one per core but one.
fn worker_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .saturating_sub(1)
        .min(MAX_WORKERS)
}

/// A batch: chunk slots of [`ENCRYPTED_CHUNK_LEN`] bytes laid end to end, the last one
/// possibly short. `len` counts the bytes in use (with tags once sealed).
struct Batch {
    seq: u64,
    first_counter: u64,
    /// Whether the batch holds the final chunk of the stream.
    last: bool,
    buf: Zeroizing<Vec<u8>>,
    /// Plaintext length of each chunk.
    chunk_lens: Vec<usize>,
    /// A structural defect found after this batch's chunks (reading only): raised once
    /// they have been released.
    tail_error: Option<FormatError>,
}

/// What a worker returns for a batch it opened: the verified chunk count and, when a chunk
/// failed, why. Chunks before the failure are decrypted in place and may be released.
struct Opened {
    batch: Batch,
    verified: usize,
    error: Option<FormatError>,
}

fn seal_batch(key: &LessSafeKey, batch: &mut Batch) {
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

fn open_chunk(key: &LessSafeKey, chunk: &mut [u8], counter: u64, last: bool) -> bool {
    let (data, tag) = chunk.split_at_mut(chunk.len() - TAG_LEN);
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(tag);
    key.open_in_place_detached(&chunk_nonce(counter, last), b"", data, &t)
        .is_ok()
}

fn open_batch(key: &LessSafeKey, mut batch: Batch) -> Opened {
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

enum Job {
    Seal(Batch),
    Open(Batch),
}

enum Done {
    Sealed(Batch),
    Opened(Opened),
}

impl Done {
    fn seq(&self) -> u64 {
        match self {
            Done::Sealed(b) => b.seq,
            Done::Opened(o) => o.batch.seq,
        }
    }
}

fn run_job(key: &LessSafeKey, job: Job) -> Done {
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
struct Pool {
    key: Arc<LessSafeKey>,
    /// Worker threads to start on first use (0: everything runs inline).
    target_workers: usize,
    jobs: Option<Sender<Job>>,
    done: Option<Receiver<Done>>,
    workers: Vec<JoinHandle<()>>,
    /// Submitted and not yet returned by `next`.
    in_flight: usize,
    /// Sent to the workers and not yet received back.
    at_workers: usize,
    next_out: u64,
    pending: BTreeMap<u64, Done>,
}

/// Batches queued per worker before the calling thread does the work itself.
const QUEUE_PER_WORKER: usize = 2;

impl Pool {
    fn with_workers(key: LessSafeKey, target_workers: usize) -> Self {
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
    fn max_in_flight(&self) -> usize {
        QUEUE_PER_WORKER * self.target_workers + 1
    }

    fn start(&mut self) -> io::Result<()> {
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
    fn submit(&mut self, job: Job) -> io::Result<()> {
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

    fn receive(&mut self, block: bool) -> io::Result<bool> {
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

    fn take_ready(&mut self) -> Option<Done> {
        let d = self.pending.remove(&self.next_out)?;
        self.next_out += 1;
        self.in_flight -= 1;
        Some(d)
    }

    /// The next result in order, blocking until it arrives.
    fn next(&mut self) -> io::Result<Done> {
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
    fn try_next(&mut self) -> io::Result<Option<Done>> {
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

/// Encrypts a payload: a `Write` adapter. [`StreamWriter::finish`] is mandatory.
///
/// # Finishing is mandatory
/// Write the plaintext (with `write_all`, `io::copy` or [`StreamWriter::copy_from`]), then
/// call [`StreamWriter::finish`]: it seals the last chunk, writes everything and flushes.
/// A writer dropped without `finish` leaves a payload with no last chunk, which fails
/// to decrypt with "the last chunk is missing". Dropping does not finish on purpose: a
/// writer dropped because an error cut the plaintext short would otherwise produce a
/// valid, authenticated, *shorter* file, the truncation that the STREAM construction exists
/// to prevent. The same choice as the `age` crate's `StreamWriter`.
///
/// To make the mistake hard to make and loud when made:
/// - the type is `#[must_use]`, so a writer that is created and never used warns at
///   compile time;
/// - in debug builds (`debug_assertions`), a writer dropped unfinished while no error had
///   come out of it and no panic is unwinding prints one warning line to standard error;
///   [`StreamWriter::abandon`] drops it on purpose without the warning.
///
/// ```
/// use std::io::Write;
/// use angou::format::{Decryptor, Encryptor};
/// use angou::pk::x25519::SecretKey;
///
/// let identity = SecretKey::generate()?;
/// let mut file = Vec::new();
/// let mut writer = Encryptor::with_recipients([&identity.public_key()])?.wrap_output(&mut file)?;
/// writer.write_all(b"a few bytes")?;
/// writer.abandon(); // as if dropped: no last chunk is written
/// assert!(Decryptor::new(&file[..])?.decrypt([&identity])?.copy_to(&mut Vec::new()).is_err());
/// # Ok::<(), angou::Error>(())
/// ```
///
/// # Security
/// A crash or an early return can never produce a valid truncated file.
#[must_use = "an encrypted file is complete only after `finish()`; dropping the writer leaves a file that never decrypts"]
pub struct StreamWriter<W: Write> {
    inner: W,
    pool: Pool,
    /// The batch being filled.
    cur: Batch,
    /// Sealed-batch buffers kept for reuse.
    spare: Vec<Zeroizing<Vec<u8>>>,
    next_seq: u64,
    guard: FinishGuard,
}

/// Notices a [`StreamWriter`] dropped without `finish` (see its docs).
struct FinishGuard {
    /// Set by `finish` and `abandon`: dropping is then expected.
    done: bool,
    /// An error came out of the writer: the caller is on its error path.
    failed: bool,
}

impl FinishGuard {
    fn track<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if result.is_err() {
            self.failed = true;
        }
        result
    }
}

impl Drop for FinishGuard {
    fn drop(&mut self) {
        if cfg!(debug_assertions) && !self.done && !self.failed && !std::thread::panicking() {
            eprintln!(
                "warning: angou::format::StreamWriter dropped without finish(): the encrypted output is incomplete and will not decrypt (call finish(), or abandon() to discard it on purpose)"
            );
        }
    }
}

/// Reads once into `buf`, retrying on interruption.
fn read_retrying<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// A batch with room for [`BATCH_CHUNKS`] sealed chunks and one look-ahead byte.
fn empty_batch(seq: u64, buf: Option<Zeroizing<Vec<u8>>>) -> Batch {
    let buf = buf.unwrap_or_else(|| Zeroizing::new(vec![0u8; BATCH_ENC_LEN + 1]));
    Batch {
        seq,
        first_counter: 0,
        last: false,
        buf,
        chunk_lens: Vec::with_capacity(BATCH_CHUNKS),
        tail_error: None,
    }
}

impl<W: Write> StreamWriter<W> {
    /// Starts a payload on `inner` (the payload nonce must already be written).
    pub(crate) fn new(inner: W, key: LessSafeKey) -> Self {
        Self::with_workers(inner, key, worker_count())
    }

    fn with_workers(inner: W, key: LessSafeKey, workers: usize) -> Self {
        StreamWriter {
            inner,
            pool: Pool::with_workers(key, workers),
            cur: empty_batch(0, None),
            spare: Vec::new(),
            next_seq: 1,
            guard: FinishGuard {
                done: false,
                failed: false,
            },
        }
    }

    /// Drops the writer on purpose without finishing it: the output stays incomplete and
    /// will not decrypt (nothing more is written). Use it on your own error path when the
    /// plaintext could not be completed; it only silences the debug-build warning.
    pub fn abandon(mut self) {
        self.guard.done = true;
    }

    fn set_counter(&self, batch: &mut Batch) -> io::Result<()> {
        batch.first_counter = batch
            .seq
            .checked_mul(BATCH_CHUNKS as u64)
            .filter(|c| c.checked_add(BATCH_CHUNKS as u64).is_some())
            .ok_or_else(|| Error::from(FormatError::CounterExhausted).into_io())?;
        Ok(())
    }

    fn write_sealed(&mut self, batch: Batch) -> io::Result<()> {
        let n = batch.chunk_lens.len();
        let total = match batch.chunk_lens.last() {
            Some(&l) => (n - 1) * ENCRYPTED_CHUNK_LEN + l + TAG_LEN,
            None => 0,
        };
        self.inner.write_all(&batch.buf[..total])?;
        self.spare.push(batch.buf);
        Ok(())
    }

    /// Hands the current (full) batch to the pool and starts a new one.
    fn submit_current(&mut self) -> io::Result<()> {
        let next = empty_batch(self.next_seq, self.spare.pop());
        self.next_seq += 1;
        let mut batch = std::mem::replace(&mut self.cur, next);
        self.set_counter(&mut batch)?;
        self.submit(batch)
    }

    fn submit(&mut self, batch: Batch) -> io::Result<()> {
        // Write what is already sealed, in order, then wait only if the pipeline is full.
        while let Some(done) = self.pool.try_next()? {
            self.write_done(done)?;
        }
        while self.pool.in_flight >= self.pool.max_in_flight() {
            let done = self.pool.next()?;
            self.write_done(done)?;
        }
        self.pool.submit(Job::Seal(batch))
    }

    fn write_done(&mut self, done: Done) -> io::Result<()> {
        match done {
            Done::Sealed(b) => self.write_sealed(b),
            Done::Opened(_) => Err(io::Error::other("stream pool returned an opened batch")),
        }
    }

    /// Encrypts everything `reader` yields, reading straight into the chunk buffers
    /// (one copy fewer than `io::copy`). Returns the bytes read. Call
    /// [`StreamWriter::finish`] afterwards.
    ///
    /// # Errors
    /// Read errors of `reader` and write errors of the inner writer.
    pub fn copy_from<R: Read + ?Sized>(&mut self, reader: &mut R) -> io::Result<u64> {
        let result = self.copy_from_inner(reader);
        self.guard.track(result)
    }

    fn copy_from_inner<R: Read + ?Sized>(&mut self, reader: &mut R) -> io::Result<u64> {
        let mut total = 0u64;
        loop {
            let n = self.cur.chunk_lens.len();
            if n == BATCH_CHUNKS && self.cur.chunk_lens[n - 1] == CHUNK_LEN {
                // Full batch: read into a fresh one; only data proves the old one is not the end.
                let mut next = empty_batch(self.next_seq, self.spare.pop());
                let got = read_retrying(reader, &mut next.buf[..CHUNK_LEN])?;
                if got == 0 {
                    self.spare.push(next.buf);
                    return Ok(total);
                }
                total += got as u64;
                next.chunk_lens.push(got);
                self.next_seq += 1;
                let mut batch = std::mem::replace(&mut self.cur, next);
                self.set_counter(&mut batch)?;
                self.submit(batch)?;
                continue;
            }
            if n == 0 || self.cur.chunk_lens[n - 1] == CHUNK_LEN {
                self.cur.chunk_lens.push(0);
                continue;
            }
            let used = self.cur.chunk_lens[n - 1];
            let at = (n - 1) * ENCRYPTED_CHUNK_LEN + used;
            let got = read_retrying(reader, &mut self.cur.buf[at..at + CHUNK_LEN - used])?;
            if got == 0 {
                if used == 0 {
                    self.cur.chunk_lens.pop();
                }
                return Ok(total);
            }
            total += got as u64;
            self.cur.chunk_lens[n - 1] += got;
        }
    }

    /// Seals the buffered tail as the last chunk, writes everything, flushes, and returns
    /// the inner writer.
    ///
    /// # Errors
    /// Any I/O error of the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.guard.done = true;
        let mut batch = std::mem::replace(&mut self.cur, empty_batch(0, None));
        if batch.chunk_lens.is_empty() {
            // Only an empty plaintext reaches here with no chunk: it gets one empty chunk.
            batch.chunk_lens.push(0);
        }
        batch.last = true;
        self.set_counter(&mut batch)?;
        while self.pool.in_flight > 0 {
            let done = self.pool.next()?;
            self.write_done(done)?;
        }
        // The last batch is sealed here: small inputs never start a thread.
        seal_batch(&self.pool.key, &mut batch);
        self.write_sealed(batch)?;
        self.inner.flush()?;
        let StreamWriter { inner, .. } = self;
        Ok(inner)
    }
}

impl<W: Write> Write for StreamWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let result = self.write_inner(data);
        self.guard.track(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = self.inner.flush();
        self.guard.track(result)
    }
}

impl<W: Write> StreamWriter<W> {
    fn write_inner(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;
        while !rest.is_empty() {
            let n = self.cur.chunk_lens.len();
            if n == 0 || self.cur.chunk_lens[n - 1] == CHUNK_LEN {
                // A full chunk is sealed as non-last only once more data proves it is not the end.
                if n == BATCH_CHUNKS {
                    self.submit_current()?;
                } else {
                    self.cur.chunk_lens.push(0);
                }
                continue;
            }
            let used = self.cur.chunk_lens[n - 1];
            let take = (CHUNK_LEN - used).min(rest.len());
            let at = (n - 1) * ENCRYPTED_CHUNK_LEN + used;
            self.cur.buf[at..at + take].copy_from_slice(&rest[..take]);
            self.cur.chunk_lens[n - 1] += take;
            rest = &rest[take..];
        }
        Ok(data.len())
    }
}

/// Decrypts a payload: a `Read` adapter that releases only authenticated chunks.
pub struct StreamReader<R: Read> {
    inner: R,
    pool: Pool,
    /// One byte read past the previous batch, proving it was not the end.
    lookahead: Option<u8>,
    /// The final batch has been read and submitted.
    eof: bool,
    next_seq: u64,
    /// The opened batch being released, the chunk within it, and the offset in that chunk.
    serving: Option<(Opened, usize, usize)>,
    spare: Vec<Zeroizing<Vec<u8>>>,
    failed: Option<FormatError>,
    done: bool,
}

impl<R: Read> StreamReader<R> {
    pub(crate) fn new(inner: R, key: LessSafeKey) -> Self {
        Self::with_workers(inner, key, worker_count())
    }

    fn with_workers(inner: R, key: LessSafeKey, workers: usize) -> Self {
        StreamReader {
            inner,
            pool: Pool::with_workers(key, workers),
            lookahead: None,
            eof: false,
            next_seq: 0,
            serving: None,
            spare: Vec::new(),
            failed: None,
            done: false,
        }
    }

    /// Reads up to one batch plus a look-ahead byte; splits it into chunks.
    fn read_batch(&mut self) -> io::Result<Batch> {
        let mut batch = empty_batch(self.next_seq, self.spare.pop());
        batch.first_counter = self
            .next_seq
            .checked_mul(BATCH_CHUNKS as u64)
            .filter(|c| c.checked_add(BATCH_CHUNKS as u64).is_some())
            .ok_or_else(|| Error::from(FormatError::CounterExhausted).into_io())?;
        self.next_seq += 1;
        let mut n = 0;
        if let Some(b) = self.lookahead.take() {
            batch.buf[0] = b;
            n = 1;
        }
        while n < BATCH_ENC_LEN + 1 {
            match self.inner.read(&mut batch.buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if n == BATCH_ENC_LEN + 1 {
            self.lookahead = Some(batch.buf[BATCH_ENC_LEN]);
            batch.chunk_lens = vec![CHUNK_LEN; BATCH_CHUNKS];
            return Ok(batch);
        }
        self.eof = true;
        let full = n / ENCRYPTED_CHUNK_LEN;
        let rem = n % ENCRYPTED_CHUNK_LEN;
        let first_batch = batch.seq == 0;
        batch.chunk_lens = vec![CHUNK_LEN; full];
        if rem == 0 {
            if full == 0 {
                batch.tail_error = Some(FormatError::Truncated {
                    what: "payload has no chunks",
                });
            } else {
                batch.last = true;
            }
        } else if rem < TAG_LEN {
            batch.tail_error = Some(FormatError::Truncated {
                what: "last chunk is shorter than its tag",
            });
        } else if rem == TAG_LEN && !(first_batch && full == 0) {
            // Only an empty plaintext has an empty last chunk.
            batch.tail_error = Some(FormatError::PayloadAuthentication);
        } else {
            batch.chunk_lens.push(rem - TAG_LEN);
            batch.last = true;
        }
        Ok(batch)
    }

    /// Keeps the pool busy, then takes the next opened batch in order.
    fn next_batch(&mut self) -> io::Result<()> {
        while !self.eof && self.pool.in_flight < self.pool.max_in_flight() {
            let batch = self.read_batch()?;
            if self.eof && self.pool.in_flight == 0 {
                // The final batch with nothing in flight: open it here (small files stay single-threaded).
                let opened = open_batch(&self.pool.key, batch);
                self.serving = Some((opened, 0, 0));
                return Ok(());
            }
            self.pool.submit(Job::Open(batch))?;
        }
        match self.pool.next()? {
            Done::Opened(o) => self.serving = Some((o, 0, 0)),
            Done::Sealed(_) => return Err(io::Error::other("stream pool returned a sealed batch")),
        }
        Ok(())
    }
}

impl<R: Read> StreamReader<R> {
    /// Writes all remaining verified plaintext to `out` straight from the chunk buffers
    /// (one copy fewer than `io::copy`). Returns the bytes written.
    ///
    /// # Errors
    /// The first authentication or structural error (everything before it has been
    /// written), or an I/O error.
    pub fn copy_to<W: Write + ?Sized>(&mut self, out: &mut W) -> io::Result<u64> {
        let mut total = 0u64;
        loop {
            if let Some((opened, idx, off)) = &mut self.serving {
                while *idx < opened.verified {
                    let at = *idx * ENCRYPTED_CHUNK_LEN;
                    let len = opened.batch.chunk_lens[*idx];
                    out.write_all(&opened.batch.buf[at + *off..at + len])?;
                    total += (len - *off) as u64;
                    *idx += 1;
                    *off = 0;
                }
            }
            // Reading with an empty buffer retires a finished batch and reports its outcome.
            let mut probe = [0u8; 1];
            match self.read(&mut probe)? {
                0 => return Ok(total),
                _ => {
                    out.write_all(&probe)?;
                    total += 1;
                }
            }
        }
    }
}

impl<R: Read> Read for StreamReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some((opened, idx, off)) = &mut self.serving {
                if *idx < opened.verified {
                    let len = opened.batch.chunk_lens[*idx];
                    let at = *idx * ENCRYPTED_CHUNK_LEN;
                    let n = out.len().min(len - *off);
                    out[..n].copy_from_slice(&opened.batch.buf[at + *off..at + *off + n]);
                    *off += n;
                    if *off == len {
                        *idx += 1;
                        *off = 0;
                    }
                    if n > 0 || out.is_empty() {
                        return Ok(n);
                    }
                    continue;
                }
                let error = opened.error.clone().or(opened.batch.tail_error.clone());
                let last = opened.batch.last;
                if let Some((o, _, _)) = self.serving.take() {
                    self.spare.push(o.batch.buf);
                }
                match error {
                    Some(e) => self.failed = Some(e),
                    None if last => self.done = true,
                    None => {}
                }
            }
            if let Some(e) = &self.failed {
                return Err(Error::from(e.clone()).into_io());
            }
            if self.done || out.is_empty() {
                return Ok(0);
            }
            if let Err(e) = self.next_batch() {
                return Err(match Error::from_io(e) {
                    Error::Format(f) => {
                        self.failed = Some(f.clone());
                        Error::from(f).into_io()
                    }
                    other => other.into_io(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aead::Algorithm;

    fn key() -> LessSafeKey {
        LessSafeKey::new(
            Algorithm::ChaCha20Poly1305,
            &Key::from_secret(SecretArray::from_array([7u8; 32])),
        )
    }

    /// The format by the book: one chunk at a time, no batches, no threads.
    fn reference(plain: &[u8]) -> Vec<u8> {
        let k = key();
        let mut out = Vec::new();
        let chunks: Vec<&[u8]> = if plain.is_empty() {
            vec![&[][..]]
        } else {
            plain.chunks(CHUNK_LEN).collect()
        };
        for (i, c) in chunks.iter().enumerate() {
            let mut buf = c.to_vec();
            let tag = k
                .seal_in_place_detached(
                    &chunk_nonce(i as u64, i + 1 == chunks.len()),
                    b"",
                    &mut buf,
                )
                .unwrap();
            out.extend_from_slice(&buf);
            out.extend_from_slice(&tag);
        }
        out
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn parallel_output_is_byte_identical_to_the_reference() {
        let sizes = [
            0,
            1,
            CHUNK_LEN - 1,
            CHUNK_LEN,
            CHUNK_LEN + 1,
            BATCH_CHUNKS * CHUNK_LEN,
            BATCH_CHUNKS * CHUNK_LEN + 1,
            3 * BATCH_CHUNKS * CHUNK_LEN + 12345,
            2 * BATCH_CHUNKS * CHUNK_LEN,
        ];
        // 0 workers: everything inline; 1: the two-core split; 3: more workers than batches
        // in flight at the start.
        for (len, workers) in sizes
            .into_iter()
            .flat_map(|l| [0, 1, 3].map(move |w| (l, w)))
        {
            let plain = pattern(len);
            let expected = reference(&plain);
            let what = format!("len {len}, {workers} workers");
            // Through Write, in odd pieces.
            let mut w = StreamWriter::with_workers(Vec::new(), key(), workers);
            for piece in plain.chunks(70_001) {
                w.write_all(piece).unwrap();
            }
            assert_eq!(w.finish().unwrap(), expected, "write, {what}");
            // Through copy_from.
            let mut w = StreamWriter::with_workers(Vec::new(), key(), workers);
            w.copy_from(&mut &plain[..]).unwrap();
            assert_eq!(w.finish().unwrap(), expected, "copy_from, {what}");
            // And back, through Read and through copy_to.
            let mut r = StreamReader::with_workers(&expected[..], key(), workers);
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, plain, "read, {what}");
            let mut r = StreamReader::with_workers(&expected[..], key(), workers);
            let mut got = Vec::new();
            r.copy_to(&mut got).unwrap();
            assert_eq!(got, plain, "copy_to, {what}");
        }
    }

    #[test]
    fn releases_only_verified_chunks_before_a_bad_one() {
        let plain = pattern(4 * BATCH_CHUNKS * CHUNK_LEN + 100);
        let mut enc = reference(&plain);
        let bad_chunk = 3 * BATCH_CHUNKS + 2;
        enc[bad_chunk * ENCRYPTED_CHUNK_LEN + 5] ^= 1;
        for workers in [0, 1, 3] {
            let mut r = StreamReader::with_workers(&enc[..], key(), workers);
            let mut got = Vec::new();
            let err = r.copy_to(&mut got).unwrap_err();
            assert!(matches!(
                Error::from_io(err),
                Error::Format(FormatError::PayloadAuthentication)
            ));
            assert_eq!(got, plain[..bad_chunk * CHUNK_LEN], "{workers} workers");
        }
    }
}
