//! Interoperability with age itself, both ways: the `age` crate (rage's library) in-process,
//! and the `age` command-line tool (Debian's package; `.ci/run` installs it).
#![allow(clippy::unwrap_used)]

use std::io::{BufReader, Read, Write};
use std::process::Command;
use std::str::FromStr;

use angou::format::armor::ArmoredWriter;
use angou::format::header::PayloadCipher;
use angou::format::{Decryptor, Encryptor, Input};
use angou::passphrase::{PassphraseIdentity, PassphraseRecipient};
use angou::pk::{rsa, x25519};
use angou::recipient::{Identity, Recipient};
use angou::secret::SecretVec;

#[path = "support/tools.rs"]
mod tools;

const SIZES: [usize; 5] = [0, 1, 65536, 65537, 200_000];

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

fn angou_encrypt(
    recipients: &[&dyn Recipient],
    plain: &[u8],
    armor: bool,
    cipher: PayloadCipher,
) -> Vec<u8> {
    let mut out = Vec::new();
    if armor {
        let a = ArmoredWriter::new(&mut out).unwrap();
        let mut w = Encryptor::with_recipients(recipients.iter().copied())
            .unwrap()
            .with_cipher(cipher)
            .wrap_output(a)
            .unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap().finish().unwrap();
    } else {
        let mut w = Encryptor::with_recipients(recipients.iter().copied())
            .unwrap()
            .with_cipher(cipher)
            .wrap_output(&mut out)
            .unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap();
    }
    out
}

fn angou_decrypt(file: &[u8], identity: &dyn Identity) -> Result<Vec<u8>, angou::Error> {
    let input = Input::detect(BufReader::new(file))?;
    let mut r = Decryptor::new(input)?.decrypt([identity])?;
    let mut out = Vec::new();
    r.read_to_end(&mut out)?;
    Ok(out)
}

fn age_encrypt(recipient: &dyn age::Recipient, plain: &[u8], armor: bool) -> Vec<u8> {
    let format = if armor {
        age::armor::Format::AsciiArmor
    } else {
        age::armor::Format::Binary
    };
    let mut out = Vec::new();
    let a = age::armor::ArmoredWriter::wrap_output(&mut out, format).unwrap();
    let mut w = age::Encryptor::with_recipients(std::iter::once(recipient))
        .unwrap()
        .wrap_output(a)
        .unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap().finish().unwrap();
    out
}

fn age_decrypt(file: &[u8], identity: &dyn age::Identity) -> Result<Vec<u8>, String> {
    let d = age::Decryptor::new(age::armor::ArmoredReader::new(file)).map_err(|e| e.to_string())?;
    let mut r = d
        .decrypt(std::iter::once(identity))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The same X25519 key in both libraries.
fn key_pair() -> (x25519::SecretKey, age::x25519::Identity) {
    let ours = x25519::SecretKey::generate().unwrap();
    let theirs = age::x25519::Identity::from_str(&ours.encode()).unwrap();
    assert_eq!(
        theirs.to_public().to_string(),
        ours.public_key().to_string()
    );
    (ours, theirs)
}

#[test]
fn age_crate_reads_angou_files_and_angou_reads_age_files() {
    let (ours, theirs) = key_pair();
    for armor in [false, true] {
        for len in SIZES {
            let plain = data(len);
            let file = angou_encrypt(
                &[&ours.public_key()],
                &plain,
                armor,
                PayloadCipher::ChaCha20Poly1305,
            );
            assert_eq!(
                age_decrypt(&file, &theirs).unwrap(),
                plain,
                "age reads angou, len {len} armor {armor}"
            );
            let file = age_encrypt(&theirs.to_public(), &plain, armor);
            assert_eq!(
                angou_decrypt(&file, &ours).unwrap(),
                plain,
                "angou reads age, len {len} armor {armor}"
            );
        }
    }
}

#[test]
fn passphrase_files_interoperate() {
    let plain = data(70_000);
    let theirs =
        age::scrypt::Identity::new(age::secrecy::SecretString::from("a passphrase".to_owned()));
    let ours_r = PassphraseRecipient::new(SecretVec::from_vec(b"a passphrase".to_vec()))
        .with_work_factor(12);
    let file = angou_encrypt(&[&ours_r], &plain, false, PayloadCipher::ChaCha20Poly1305);
    assert_eq!(age_decrypt(&file, &theirs).unwrap(), plain);
    let mut r =
        age::scrypt::Recipient::new(age::secrecy::SecretString::from("a passphrase".to_owned()));
    r.set_work_factor(12);
    let file = age_encrypt(&r, &plain, true);
    let ours_i = PassphraseIdentity::new(SecretVec::from_vec(b"a passphrase".to_vec()));
    assert_eq!(angou_decrypt(&file, &ours_i).unwrap(), plain);
}

#[test]
fn age_ignores_angou_stanzas_and_refuses_the_aes_variant_cleanly() {
    let (ours, theirs) = key_pair();
    let rsa_key = rsa::PrivateKey::generate(2048).unwrap();
    let plain = data(1000);
    // Mixed X25519 + RSA: age skips the stanza type it does not know.
    let file = angou_encrypt(
        &[&rsa_key.public_key(), &ours.public_key()],
        &plain,
        false,
        PayloadCipher::ChaCha20Poly1305,
    );
    assert_eq!(age_decrypt(&file, &theirs).unwrap(), plain);
    assert_eq!(angou_decrypt(&file, &rsa_key).unwrap(), plain);
    // RSA only: age finds nothing for its identity.
    let file = angou_encrypt(
        &[&rsa_key.public_key()],
        &plain,
        false,
        PayloadCipher::ChaCha20Poly1305,
    );
    assert!(age_decrypt(&file, &theirs).is_err());
    // AES-256-GCM payload: a different version line, which age rejects as a header error.
    let file = angou_encrypt(
        &[&ours.public_key()],
        &plain,
        false,
        PayloadCipher::Aes256Gcm,
    );
    let err = age_decrypt(&file, &theirs).unwrap_err();
    assert!(!err.is_empty());
    assert_eq!(angou_decrypt(&file, &ours).unwrap(), plain);
}

#[test]
fn age_binary_interop_both_ways() {
    if !tools::available("age", "age (Debian package age)") {
        return;
    }
    let age = "age";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ours = x25519::SecretKey::generate().unwrap();
    let id_path = d.join("id.txt");
    std::fs::write(&id_path, format!("{}\n", ours.encode().as_str())).unwrap();
    let recipient = ours.public_key().to_string();
    for armor in [false, true] {
        for len in SIZES {
            let plain = data(len);
            // angou -> age
            let file = angou_encrypt(
                &[&ours.public_key()],
                &plain,
                armor,
                PayloadCipher::ChaCha20Poly1305,
            );
            let ct = d.join("from-angou");
            std::fs::write(&ct, &file).unwrap();
            let out = Command::new(age)
                .arg("-d")
                .arg("-i")
                .arg(&id_path)
                .arg(&ct)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                out.stdout, plain,
                "age binary reads angou, len {len} armor {armor}"
            );
            // age -> angou
            let pt = d.join("plain");
            std::fs::write(&pt, &plain).unwrap();
            let ct = d.join(format!("from-age-{len}-{armor}"));
            let mut cmd = Command::new(age);
            cmd.arg("-e").arg("-r").arg(&recipient).arg("-o").arg(&ct);
            if armor {
                cmd.arg("-a");
            }
            let out = cmd.arg(&pt).output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let file = std::fs::read(&ct).unwrap();
            assert_eq!(
                angou_decrypt(&file, &ours).unwrap(),
                plain,
                "angou reads age binary, len {len} armor {armor}"
            );
        }
    }
    // The AES variant is refused by the age binary with an error, not garbage.
    let file = angou_encrypt(&[&ours.public_key()], b"x", false, PayloadCipher::Aes256Gcm);
    let ct = d.join("aes");
    std::fs::write(&ct, file).unwrap();
    let out = Command::new(age)
        .arg("-d")
        .arg("-i")
        .arg(&id_path)
        .arg(&ct)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}
