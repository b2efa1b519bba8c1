//! `angou demo`: the two halves of modern encryption side by side, measured on this machine.
//!
//! Runs in a fresh temporary folder (removed at the end) with no set-up. Every number printed
//! is measured in this run or computed from those measurements; nothing is a constant.
//! No secret is ever printed: key files are written to the folder and only their paths shown.

use std::path::Path;
use std::time::{Duration, Instant};

use angou::format::header::{Header, PayloadCipher};
use angou::recipient::Recipient;
use angou::secret::FileKey;

use crate::failure::Failure;

mod envelope;
mod files;
mod hybrid;
mod key_pairs;
mod server_side;
mod shared_key;

use envelope::envelope;
use files::files;
use hybrid::hybrid;
use key_pairs::key_pairs;
use server_side::client_or_server_side;
use shared_key::shared_key;

const MIB: usize = 1024 * 1024;
/// Buffer each AEAD seals and opens in section 1, in bytes.
const AEAD_BUF_LEN: usize = 16 * MIB;
/// Section 1 seals the buffer in pieces of this size, as the file format does (64 KiB
/// chunks): one piece stays in the CPU cache between encrypting and authenticating it.
const AEAD_CHUNK_LEN: usize = 64 * 1024;
/// Timed seals (and as many opens) per AEAD algorithm.
const AEAD_ROUNDS: usize = 8;
/// Data size of the hybrid comparison in section 3, in bytes.
const HYBRID_LEN: usize = MIB;
/// Real hybrid round trips timed in section 3.
const HYBRID_TRIPS: u32 = 5;
/// Sample file size for section 4, in bytes.
const FILE_LEN: usize = 8 * MIB;
/// Timed X25519 key generations, wraps and unwraps (each).
const X25519_OPS: u32 = 200;
/// Timed RSA-OAEP encryptions per key size.
const RSA_ENCRYPT_OPS: u32 = 50;
/// Timed RSA-OAEP decryptions per key size (14 ms each at 4096 bits).
const RSA_DECRYPT_OPS: u32 = 10;
/// OAEP label of the demo's RSA operations.
const LABEL: &[u8] = b"angou demo";

/// A byte count for the key-pair table.
fn bytes(n: usize) -> String {
    format!("{n} B")
}

/// The bytes one recipient's stanza adds to a file header: a real wrap of `file_key`,
/// encoded by the header writer, minus the header without it.
fn stanza_len(recipient: &dyn Recipient, file_key: &FileKey) -> Result<usize, Failure> {
    let stanzas = recipient.wrap(file_key)?;
    let cipher = PayloadCipher::ChaCha20Poly1305;
    let with = Header::encode(cipher, &stanzas, file_key)?.len();
    let without = Header::encode(cipher, &[], file_key)?.len();
    Ok(with - without)
}

/// A human duration: ns, µs, ms or s with three significant figures.
fn dur(t: Duration) -> String {
    let s = t.as_secs_f64();
    let (v, unit) = if s >= 1.0 {
        (s, "s")
    } else if s >= 1e-3 {
        (s * 1e3, "ms")
    } else if s >= 1e-6 {
        (s * 1e6, "µs")
    } else {
        (s * 1e9, "ns")
    };
    if v >= 100.0 {
        format!("{v:.0} {unit}")
    } else if v >= 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

/// A human rate from bytes per second.
fn rate(bytes_per_sec: f64) -> String {
    if bytes_per_sec >= 1e9 {
        format!("{:.2} GB/s", bytes_per_sec / 1e9)
    } else {
        format!("{:.0} MB/s", bytes_per_sec / 1e6)
    }
}

/// Runs `f` `n` times; returns the mean duration of one call.
fn time_per<T>(n: u32, mut f: impl FnMut() -> T) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f());
    }
    start.elapsed() / n
}

/// Runs `f` once; returns its result and how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn heading(title: &str, lines: &[&str]) {
    println!("\n== {title} ==");
    for line in lines {
        println!("{line}");
    }
    println!();
}

/// The demo checks angou against itself; a failed check is a bug, not a user mistake.
fn self_check(what: impl std::fmt::Display) -> Failure {
    Failure::new(format!("demo: {what}"))
        .hint("angou failed one of its own checks; please report this with the output above")
}

fn io_failure(what: impl std::fmt::Display, path: &Path, e: std::io::Error) -> Failure {
    Failure::new(format!("demo: cannot {what} {}: {e}", path.display()))
        .hint("check that the temporary folder (TMPDIR) exists, is writable and has free space")
}

pub fn run() -> Result<(), Failure> {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("angou-demo-")
        .tempdir()
        .map_err(|e| {
            // tempfile's message already names the path it tried.
            Failure::new(format!("demo: cannot create a temporary folder: {e}"))
                .hint("check that TMPDIR names a writable folder with free space")
        })?;
    let dir_path = dir.path().to_path_buf();
    println!("angou demo: shared-key and key-pair encryption, timed on this machine just now");
    println!(
        "working folder: {} (removed at the end)",
        dir_path.display()
    );

    let aead = shared_key()?;
    let pk = key_pairs(&dir_path)?;
    hybrid(&aead, &pk)?;
    files(&dir_path, &pk)?;
    envelope(&dir_path)?;
    client_or_server_side(&dir_path)?;

    dir.close()
        .map_err(|e| io_failure("remove", &dir_path, e))?;
    println!(
        "\nRemoved {}. Whole demo: {}.",
        dir_path.display(),
        dur(started.elapsed())
    );
    println!("\nTry it in an empty folder (with angou on PATH: README.md, Install):");
    for line in TRY_IT.lines() {
        println!("  {line}");
    }
    Ok(())
}

/// The closing commands, as printed; tests/cli/conveniences.rs runs them as written.
const TRY_IT: &str = include_str!("../try_it.sh");
