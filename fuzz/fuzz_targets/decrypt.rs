//! A valid file with fuzzer-chosen bytes flipped, cut or appended: decryption either fails
//! or yields exactly the original plaintext, and what is released before a failure is a
//! prefix of it.
//!
//! The valid files are made once per process (`FILES`), not per input: encrypting up to half
//! a megabyte, an X25519 key agreement and a random file key on every input held this target
//! near 90 runs a second and made every run differ from the last (unstable coverage). They
//! cover both payload ciphers, binary and armored, every chunk-boundary case (empty, one
//! byte, one chunk minus / exactly / plus one byte, several chunks) and one passphrase file.
#![no_main]

use std::io::{Read, Write};
use std::sync::OnceLock;

use angou::format::armor::ArmoredWriter;
use angou::format::header::PayloadCipher;
use angou::format::stream::CHUNK_LEN;
use angou::format::{Decryptor, Encryptor};
use angou::passphrase::{PassphraseIdentity, PassphraseRecipient};
use angou::pk::x25519::SecretKey;
use angou::recipient::{Identity, Recipient, SCRYPT_STANZA};
use angou::secret::{SecretArray, SecretVec};
use libfuzzer_sys::fuzz_target;

/// Plaintext lengths of the X25519 files: the cases where the last chunk is decided.
const LENS: [usize; 7] = [
    0,
    1,
    1000,
    CHUNK_LEN - 1,
    CHUNK_LEN,
    CHUNK_LEN + 1,
    2 * CHUNK_LEN + 17,
];
/// The passphrase file's work factor: scrypt with N = 2 costs microseconds.
const WORK_FACTOR: u8 = 1;
/// Inputs whose header asks for more scrypt work than this are skipped before unwrapping:
/// angou would run scrypt up to 2^22 (about a second), a time sink with nothing to find.
const MAX_WORK_FACTOR: u8 = 4;

struct Fixture {
    x25519: SecretKey,
    passphrase: PassphraseIdentity,
    /// (plaintext, file) pairs.
    files: Vec<(Vec<u8>, Vec<u8>)>,
}

static FILES: OnceLock<Fixture> = OnceLock::new();

fn pass() -> SecretVec {
    SecretVec::from_vec(b"fuzz".to_vec())
}

fn encrypt(enc: Encryptor, plain: &[u8], armor: bool) -> Vec<u8> {
    let mut file = Vec::new();
    let mut w = enc.wrap_output(&mut file).expect("vec write");
    w.write_all(plain).expect("vec write");
    w.finish().expect("vec write");
    if armor {
        let mut a = ArmoredWriter::new(Vec::new()).expect("vec write");
        a.write_all(&file).expect("vec write");
        file = a.finish().expect("vec write");
    }
    file
}

fn fixture() -> Fixture {
    let x25519 = SecretKey::from_secret(SecretArray::from_array([9u8; 32]));
    let recipient = x25519.public_key();
    let mut files = Vec::new();
    for len in LENS {
        let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        for cipher in [PayloadCipher::ChaCha20Poly1305, PayloadCipher::Aes256Gcm] {
            for armor in [false, true] {
                let enc = Encryptor::with_recipients([&recipient as &dyn Recipient])
                    .expect("one recipient")
                    .with_cipher(cipher);
                files.push((plain.clone(), encrypt(enc, &plain, armor)));
            }
        }
    }
    let plain = b"a passphrase file".to_vec();
    let enc =
        Encryptor::with_passphrase(PassphraseRecipient::new(pass()).with_work_factor(WORK_FACTOR));
    files.push((plain.clone(), encrypt(enc, &plain, false)));
    Fixture {
        x25519,
        passphrase: PassphraseIdentity::new(pass()),
        files,
    }
}

fuzz_target!(|input: (u8, Vec<(u32, u8)>, u32, Vec<u8>)| {
    let (which, flips, cut, tail) = input;
    let fx = FILES.get_or_init(fixture);
    let (plain, original) = &fx.files[which as usize % fx.files.len()];
    let mut file = original.clone();
    for (at, x) in flips {
        if !file.is_empty() {
            let i = at as usize % file.len();
            file[i] ^= x;
        }
    }
    file.truncate(file.len().min(cut as usize));
    file.extend_from_slice(&tail);
    let Ok(d) = Decryptor::new(&file[..]) else {
        return;
    };
    let costly = d.header().stanzas().iter().any(|s| {
        s.kind == SCRYPT_STANZA
            && s.args
                .get(1)
                .and_then(|w| w.parse::<u8>().ok())
                .is_some_and(|w| w > MAX_WORK_FACTOR)
    });
    if costly {
        return;
    }
    let ids = [&fx.x25519 as &dyn Identity, &fx.passphrase];
    let Ok(mut r) = d.decrypt(ids) else { return };
    let mut out = Vec::new();
    match r.read_to_end(&mut out) {
        Ok(_) => assert_eq!(&out, plain, "modified file decrypted to other plaintext"),
        Err(_) => assert!(
            plain.starts_with(&out),
            "released bytes not in the plaintext"
        ),
    }
});
