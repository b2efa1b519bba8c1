//! Section 4: encrypted files, to recipients and with a passphrase.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use angou::format::header::PayloadCipher;
use angou::format::{Decryptor, Encryptor};
use angou::passphrase::{PassphraseIdentity, PassphraseRecipient};
use angou::recipient::{Identity, Recipient, SymmetricKey};
use angou::secret::SecretVec;

use super::key_pairs::KeyPairs;
use super::{FILE_LEN, MIB, dur, heading, io_failure, self_check};
use crate::failure::Failure;

pub(super) fn files(dir: &Path, pk: &KeyPairs) -> Result<(), Failure> {
    heading(
        "4. Files (age v1 format; age and rage read these)",
        &[
            "One random file key per file, wrapped once per recipient; the payload is sealed",
            "in 64 KiB chunks under a key derived from it.",
        ],
    );
    let plain: Vec<u8> = (0..FILE_LEN).map(|i| (i % 251) as u8).collect();
    let x_id = &pk.x25519;
    let x_pub = x_id.public_key();
    let rsa_id = &pk.rsa2048;
    let rsa_pub = rsa_id.public_key();
    let sym = SymmetricKey::generate()?;
    let pass = || SecretVec::from_vec(b"correct horse battery staple".to_vec());
    let pass_recipient = PassphraseRecipient::new(pass());
    let pass_id = PassphraseIdentity::new(pass());
    type Case<'a> = (
        &'a str,
        Vec<&'a dyn Recipient>,
        &'a dyn Identity,
        PayloadCipher,
    );
    let cases: Vec<Case> = vec![
        (
            "X25519",
            vec![&x_pub],
            x_id,
            PayloadCipher::ChaCha20Poly1305,
        ),
        (
            "RSA-2048",
            vec![&rsa_pub],
            rsa_id,
            PayloadCipher::ChaCha20Poly1305,
        ),
        (
            "symmetric key",
            vec![&sym],
            &sym,
            PayloadCipher::ChaCha20Poly1305,
        ),
        (
            "passphrase (scrypt 2^18)",
            vec![&pass_recipient],
            &pass_id,
            PayloadCipher::ChaCha20Poly1305,
        ),
        (
            "all three keys, AES-256-GCM",
            vec![&x_pub, &rsa_pub, &sym],
            rsa_id,
            PayloadCipher::Aes256Gcm,
        ),
    ];
    println!(
        "{:<30} {:>8} {:>10} {:>10}  verified",
        "recipients", "header", "encrypt", "decrypt"
    );
    for (i, (name, recipients, identity, cipher)) in cases.into_iter().enumerate() {
        let out_path = dir.join(format!("file{i}.age"));
        let t = Instant::now();
        let mut out =
            fs::File::create(&out_path).map_err(|e| io_failure("create", &out_path, e))?;
        let mut w = Encryptor::with_recipients(recipients)?
            .with_cipher(cipher)
            .wrap_output(&mut out)?;
        w.write_all(&plain)?;
        w.finish()?;
        let enc = t.elapsed();
        let t = Instant::now();
        let file = fs::File::open(&out_path).map_err(|e| io_failure("open", &out_path, e))?;
        let d = Decryptor::new(std::io::BufReader::new(file))?;
        let header = d.header().encoded_len();
        let mut r = d.decrypt([identity])?;
        let mut back = Vec::with_capacity(FILE_LEN);
        r.read_to_end(&mut back)?;
        let dec = t.elapsed();
        let ok = back == plain;
        println!(
            "{:<30} {:>6} B {:>10} {:>10}  {}",
            name,
            header,
            dur(enc),
            dur(dec),
            if ok { "yes" } else { "NO" }
        );
        if !ok {
            return Err(self_check(format!("{name} file round trip failed")));
        }
    }
    println!(
        "\n{} MiB file each, written to and read back from the working folder. The passphrase",
        FILE_LEN / MIB
    );
    println!("row is dominated by scrypt's deliberate work factor, not by the encryption.");
    Ok(())
}
