//! Shared-key encryption (AEAD): one key, known to both sides, seals and opens messages.
//!
//! Run: `cargo run --release --example shared_key`

use angou::aead::{Algorithm, Cipher, Key};

fn main() -> Result<(), angou::Error> {
    println!("Shared-key encryption: both sides hold the same 256-bit key.");
    println!("An AEAD (authenticated encryption with associated data) hides the message and");
    println!("adds a 16-byte tag, so any change to the ciphertext is detected when opening.\n");

    let message = b"meet at the north gate at nine";
    let associated = b"to: bob; from: alice"; // sent in the clear, but protected from changes
    let key = Key::generate()?;

    for algorithm in Algorithm::ALL {
        let cipher = Cipher::new(algorithm, &key);
        let sealed = cipher.seal(associated, message)?;
        let opened = cipher.open(associated, &sealed)?;
        assert_eq!(opened.expose_secret(), message);
        println!(
            "{:<20} {} bytes in, {} bytes out = {}-byte nonce (random, chosen by angou) + {} bytes of ciphertext + 16-byte tag",
            algorithm.name(),
            message.len(),
            sealed.len(),
            algorithm.nonce_len(),
            message.len()
        );
    }

    println!("\nWhat the tag catches (ChaCha20-Poly1305 here, the same for all three):");
    let cipher = Cipher::new(Algorithm::ChaCha20Poly1305, &key);
    let sealed = cipher.seal(associated, message)?;

    let other = Cipher::new(Algorithm::ChaCha20Poly1305, &Key::generate()?);
    match other.open(associated, &sealed) {
        Err(e) => println!("- a wrong key was refused: {e}"),
        Ok(_) => return Err(unexpected("a wrong key opened the message")),
    }

    match cipher.open(b"to: eve; from: alice", &sealed) {
        Err(e) => println!("- changed associated data was refused: {e}"),
        Ok(_) => return Err(unexpected("changed associated data was accepted")),
    }

    let mut flipped = sealed.clone();
    let at = Algorithm::ChaCha20Poly1305.nonce_len() + 3;
    flipped[at] ^= 0x01; // one bit of the ciphertext
    match cipher.open(associated, &flipped) {
        Err(e) => println!("- a flipped bit was refused: {e}"),
        Ok(_) => return Err(unexpected("a flipped bit was accepted")),
    }

    println!("\nIn every case nothing of the message is released: opening is all or nothing.");
    println!("The catch: both sides must already share the key. The key_pair example shows");
    println!("how public keys solve that, and hybrid_file how the two are combined.");
    Ok(())
}

fn unexpected(what: &str) -> angou::Error {
    angou::Error::Io(std::io::Error::other(what.to_owned()))
}
