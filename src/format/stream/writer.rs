//! Encrypting a payload: [`StreamWriter`], a `Write` adapter.

use std::io::{self, Read, Write};

use zeroize::Zeroizing;

use super::pipeline::{
    BATCH_CHUNKS, Batch, Done, Job, Pool, empty_batch, read_retrying, seal_batch, worker_count,
};
use super::{CHUNK_LEN, ENCRYPTED_CHUNK_LEN};
use crate::aead::TAG_LEN;
use crate::aead::hazmat::LessSafeKey;
use crate::error::{Error, FormatError};

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

impl<W: Write> StreamWriter<W> {
    /// Starts a payload on `inner` (the payload nonce must already be written).
    pub(crate) fn new(inner: W, key: LessSafeKey) -> Self {
        Self::with_workers(inner, key, worker_count())
    }

    pub(super) fn with_workers(inner: W, key: LessSafeKey, workers: usize) -> Self {
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
