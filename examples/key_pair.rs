//! Key pairs: anyone can encrypt to a public key, only the private key decrypts. X25519 (as
//! age uses it) and RSA-OAEP, and why neither encrypts a large file on its own.
//!
//! Run: `cargo run --release --example key_pair`

use std::time::Instant;

use angou::aead::{Algorithm, Cipher, Key};
use angou::pk::{rsa, x25519};
use angou::secret::FileKey;

fn main() -> Result<(), angou::Error> {
    println!("Key pairs: a public key that anyone may hold, and a private key kept secret.\n");

    println!("1. X25519 (the curve age uses)");
    let identity = x25519::SecretKey::generate()?;
    let recipient = identity.public_key();
    println!("   public key (share it):   {recipient}");
    println!("   private key (keep it):   AGE-SECRET-KEY-1… (never printed here)");
    let file_key = FileKey::generate()?;
    let wrapped = recipient.wrap(&file_key)?;
    let unwrapped = identity.unwrap(&wrapped)?;
    assert_eq!(unwrapped.expose_secret(), file_key.expose_secret());
    println!(
        "   wrapped a {}-byte key into {} bytes (a fresh 32-byte public share + the sealed key)",
        file_key.expose_secret().len(),
        wrapped.ephemeral_share.len() + wrapped.body.len()
    );
    println!("   X25519 is key agreement, not a cipher: it lets two sides derive the same");
    println!(
        "   secret, which then seals a small key with an AEAD. It cannot encrypt data itself.\n"
    );

    println!("2. RSA-OAEP-SHA-256, 2048-bit");
    let started = Instant::now();
    let private = rsa::PrivateKey::generate(2048)?;
    println!(
        "   generated a key pair in {:.2} s (finding two large primes is slow)",
        started.elapsed().as_secs_f64()
    );
    let public = private.public_key();
    let sealed = public.encrypt(b"label", file_key.expose_secret())?;
    let opened = private.decrypt(b"label", &sealed)?;
    assert_eq!(opened.expose_secret(), file_key.expose_secret());
    println!(
        "   sealed a 16-byte key into {} bytes and opened it again",
        sealed.len()
    );
    let limit = public.max_plaintext_len();
    match public.encrypt(b"label", &vec![0u8; limit + 1]) {
        Err(e) => println!("   {} bytes is one too many: {e}", limit + 1),
        Ok(_) => unreachable!("RSA sealed more than its limit"),
    }

    println!("\n3. Why not encrypt a whole file with the key pair?");
    if cfg!(debug_assertions) {
        println!(
            "   (a debug build: the AEAD figure below is about 100 times lower than with --release)"
        );
    }
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        private.decrypt(b"label", &sealed)?;
    }
    let rsa_per_op = started.elapsed().as_secs_f64() / f64::from(rounds);
    let rsa_bytes_per_s = limit as f64 / rsa_per_op;
    let cipher = Cipher::new(Algorithm::ChaCha20Poly1305, &Key::generate()?);
    let chunk = vec![0u8; 64 * 1024];
    let started = Instant::now();
    let mut sealed_bytes = 0usize;
    while started.elapsed().as_secs_f64() < 0.2 {
        sealed_bytes += cipher.seal(b"", &chunk)?.len() - 28;
    }
    let aead_bytes_per_s = sealed_bytes as f64 / started.elapsed().as_secs_f64();
    println!(
        "   RSA-2048 opens at most {limit} bytes per operation, {:.1} ms each: about {:.0} KB/s",
        rsa_per_op * 1e3,
        rsa_bytes_per_s / 1e3
    );
    println!(
        "   ChaCha20-Poly1305 opens about {:.0} MB/s on this machine: roughly {:.0} times faster",
        aead_bytes_per_s / 1e6,
        aead_bytes_per_s / rsa_bytes_per_s
    );
    println!("   and every RSA block would also need its own padding and ordering.");
    println!("\nSo files use hybrid encryption: a random file key encrypts the data with an AEAD,");
    println!("and each public key wraps only that 16-byte file key (see hybrid_file).");
    Ok(())
}
