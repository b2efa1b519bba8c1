//! Decrypting a payload: [`StreamReader`], a `Read` adapter that releases only authenticated
//! chunks.

use std::io::{self, Read, Write};

use zeroize::Zeroizing;

use super::pipeline::{
    BATCH_CHUNKS, BATCH_ENC_LEN, Batch, Done, Job, Opened, Pool, empty_batch_of, open_batch,
    worker_count,
};
use super::{CHUNK_LEN, ENCRYPTED_CHUNK_LEN};
use crate::aead::TAG_LEN;
use crate::aead::hazmat::LessSafeKey;
use crate::error::{Error, FormatError};

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

    pub(super) fn with_workers(inner: R, key: LessSafeKey, workers: usize) -> Self {
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
        // A new buffer starts at one sealed chunk and doubles while the input lasts: a small
        // file then allocates, and wipes when done, a chunk's worth rather than a whole batch
        // (a 1 KiB file used to zero 512 KiB twice).
        let mut batch = empty_batch_of(self.next_seq, self.spare.pop(), ENCRYPTED_CHUNK_LEN + 1);
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
            if n == batch.buf.len() {
                // The old buffer holds only ciphertext read so far (plaintext of an earlier
                // batch was overwritten by it or is past `n` and wiped with it on drop).
                let grown = (n * 2).clamp(ENCRYPTED_CHUNK_LEN + 1, BATCH_ENC_LEN + 1);
                let mut bigger = Zeroizing::new(vec![0u8; grown]);
                bigger[..n].copy_from_slice(&batch.buf[..n]);
                batch.buf = bigger;
            }
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
