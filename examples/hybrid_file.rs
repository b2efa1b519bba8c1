//! Hybrid encryption of a file: stream it to age recipients with `Encryptor`, back with
//! `Decryptor`, in binary and armored form, with keys read from an identity file and a
//! recipients file, exactly as `angou encrypt -R` and `angou decrypt -i` read them.
//!
//! Run: `cargo run --release --example hybrid_file`

#[path = "support/scratch.rs"]
mod scratch;
use scratch::TempDir;

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};

use angou::format::armor::ArmoredWriter;
use angou::keyfile;
use angou::pk::{rsa, x25519};
use angou::{Decryptor, Encryptor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = TempDir::new("hybrid_file")?;
    println!("Working in a temporary folder: {}", dir.0.display());

    // Two people: Alice has an age (X25519) identity, Bob an RSA key.
    let alice = x25519::SecretKey::generate()?;
    let bob = rsa::PrivateKey::generate(2048)?;
    let alice_file = dir.0.join("alice.key");
    fs::write(
        &alice_file,
        format!(
            "# created by the hybrid_file example\n# public key: {}\n{}\n",
            alice.public_key(),
            alice.encode().as_str()
        ),
    )?;
    let bob_file = dir.0.join("bob.pem");
    fs::write(&bob_file, bob.to_pem()?.as_bytes())?;
    let recipients_file = dir.0.join("recipients.txt");
    fs::write(
        &recipients_file,
        format!(
            "# Alice (age)\n{}\n\n# Bob (RSA)\n{}",
            alice.public_key(),
            bob.public_key().to_pem()
        ),
    )?;
    println!("Wrote alice.key (an age identity file), bob.pem (an RSA private key) and");
    println!("recipients.txt (Alice's age1… line and Bob's PEM public key).\n");

    let plain = dir.0.join("report.txt");
    let mut w = BufWriter::new(File::create(&plain)?);
    for i in 0..20_000 {
        writeln!(w, "line {i:05}: quarterly figures, confidential")?;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let size = fs::metadata(&plain)?.len();
    println!("report.txt: {size} bytes of plaintext.");

    // The recipients file gives boxed recipients of both kinds; no casts needed.
    let recipients = keyfile::read_recipients(&recipients_file)?;
    println!(
        "Read {} recipients from recipients.txt. A random 16-byte file key encrypts the data;",
        recipients.len()
    );
    println!("each recipient's public key wraps only that file key, in the file's header.\n");

    let binary = dir.0.join("report.txt.age");
    let mut writer = Encryptor::with_recipients(&recipients)?
        .wrap_output(BufWriter::new(File::create(&binary)?))?;
    io::copy(&mut File::open(&plain)?, &mut writer)?;
    writer.finish()?.flush()?; // finish() seals the last chunk: without it the file never decrypts
    println!(
        "report.txt.age:     {} bytes (binary: header + 16-byte nonce + 64 KiB chunks, 16-byte tag each)",
        fs::metadata(&binary)?.len()
    );

    let armored = dir.0.join("report.txt.age.asc");
    let out = ArmoredWriter::new(BufWriter::new(File::create(&armored)?))?;
    let mut writer = Encryptor::with_recipients(&recipients)?.wrap_output(out)?;
    io::copy(&mut File::open(&plain)?, &mut writer)?;
    writer.finish()?.finish()?.flush()?; // the stream, then the armor's END line
    println!(
        "report.txt.age.asc: {} bytes (armored: the same file as base64 text, about 4/3 the size)\n",
        fs::metadata(&armored)?.len()
    );

    // Alice decrypts with her identity file, Bob with his PEM key; both files, both forms.
    let original = fs::read(&plain)?;
    for (who, key_file) in [("Alice", &alice_file), ("Bob", &bob_file)] {
        let identities = keyfile::read_identities(key_file)?;
        for file in [&binary, &armored] {
            let decryptor = Decryptor::new(BufReader::new(File::open(file)?))?;
            let form = if decryptor.is_armored() {
                "armored"
            } else {
                "binary"
            };
            let mut out = Vec::new();
            decryptor.decrypt(&identities)?.copy_to(&mut out)?;
            assert_eq!(out, original);
            println!(
                "{who} decrypted the {form} file with {}: all {} bytes match",
                key_file.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
                out.len()
            );
        }
    }

    // Someone else's key does not open it.
    let eve = x25519::SecretKey::generate()?;
    let refused = Decryptor::new(BufReader::new(File::open(&binary)?))?
        .decrypt([&eve])
        .err()
        .map(|e| e.to_string());
    println!(
        "\nEve, who is not a recipient: {}",
        refused.unwrap_or_default()
    );
    println!(
        "\nBoth files decrypted for both recipients. Removing {}",
        dir.0.display()
    );
    Ok(())
}
