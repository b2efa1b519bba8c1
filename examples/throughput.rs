//! A small, honest throughput measurement with the library's own API: the two file payload
//! ciphers, streamed through `Encryptor`/`Decryptor`, and one key-pair operation each for
//! X25519 and RSA. For careful numbers use `cargo bench` or `angou bench`.
//!
//! Run: `cargo run --release --example throughput`

use std::io::{self, Write};
use std::time::{Duration, Instant};

use angou::format::header::PayloadCipher;
use angou::pk::{rsa, x25519};
use angou::secret::FileKey;
use angou::{Decryptor, Encryptor};

/// Plaintext per measured run, in bytes: 16 MiB, or 256 KiB in a debug build, where the
/// library's generic cipher code runs unoptimised and 100 times slower.
const SIZE: usize = if cfg!(debug_assertions) {
    256 * 1024
} else {
    16 * 1024 * 1024
};
/// Timed runs per figure; the median is reported (the first, untimed run warms caches).
const RUNS: usize = 3;

fn main() -> Result<(), angou::Error> {
    if cfg!(debug_assertions) {
        println!("Note: this is a debug build, about 100 times slower at encrypting and measuring");
        println!("only 256 KiB; add --release for real figures.\n");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "File encryption: {} KiB in memory, median of {RUNS} runs after one warm-up run,",
        SIZE >> 10
    );
    println!("using the file format's 64 KiB chunks on up to {cores} core(s). Other programs");
    println!("running at the same time lower these figures; run it twice to see the spread.\n");

    let identity = x25519::SecretKey::generate()?;
    let recipient = identity.public_key();
    let plaintext = vec![0x5au8; SIZE];
    for cipher in [PayloadCipher::ChaCha20Poly1305, PayloadCipher::Aes256Gcm] {
        let mut file = Vec::with_capacity(SIZE + SIZE / 1000 + 4096);
        let encrypt = median(|| {
            file.clear();
            let mut w = Encryptor::with_recipients([&recipient])?
                .with_cipher(cipher)
                .wrap_output(&mut file)?;
            w.write_all(&plaintext)?;
            w.finish()?;
            Ok(())
        })?;
        let decrypt = median(|| {
            let mut r = Decryptor::new(&file[..])?.decrypt([&identity])?;
            let n = r.copy_to(&mut io::sink())?;
            assert_eq!(n as usize, SIZE);
            Ok(())
        })?;
        println!(
            "{:<18} encrypt {:>7.0} MB/s   decrypt {:>7.0} MB/s",
            cipher.name(),
            mb_per_s(encrypt),
            mb_per_s(decrypt)
        );
    }

    println!("\nKey-pair operations (one file key each; a file needs one per recipient):");
    let file_key = FileKey::generate()?;
    let wrap = per_op(200, || {
        recipient.wrap(&file_key)?;
        Ok(())
    })?;
    println!(
        "X25519 wrap          {:>9.0} per second ({:.3} ms each)",
        1.0 / wrap.as_secs_f64(),
        wrap.as_secs_f64() * 1e3
    );
    let rsa_key = rsa::PrivateKey::generate(2048)?;
    let sealed = rsa_key
        .public_key()
        .encrypt(b"", file_key.expose_secret())?;
    let unwrap = per_op(20, || {
        rsa_key.decrypt(b"", &sealed)?;
        Ok(())
    })?;
    println!(
        "RSA-2048 decrypt     {:>9.0} per second ({:.3} ms each)",
        1.0 / unwrap.as_secs_f64(),
        unwrap.as_secs_f64() * 1e3
    );
    println!("\nThe AEAD's cost grows with the bytes; a key-pair operation costs a fixed time");
    println!("whatever the file size, and is paid once per recipient. Files therefore use both:");
    println!("hybrid encryption.");
    Ok(())
}

/// Runs `f` once untimed, then `RUNS` times, and returns the median duration.
fn median(mut f: impl FnMut() -> Result<(), angou::Error>) -> Result<Duration, angou::Error> {
    f()?;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[RUNS / 2])
}

/// The mean time of one call of `f` over `n` calls, after one untimed call.
fn per_op(
    n: u32,
    mut f: impl FnMut() -> Result<(), angou::Error>,
) -> Result<Duration, angou::Error> {
    f()?;
    let start = Instant::now();
    for _ in 0..n {
        f()?;
    }
    Ok(start.elapsed() / n)
}

fn mb_per_s(d: Duration) -> f64 {
    SIZE as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}
