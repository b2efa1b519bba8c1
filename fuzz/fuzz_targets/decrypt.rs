//! A valid file (made in the target) with fuzzer-chosen bytes flipped, cut or appended:
//! decryption either fails or yields exactly the original plaintext, never anything else.
#![no_main]

use std::io::{Read, Write};

use angou::format::{Decryptor, Encryptor, Input};
use angou::pk::x25519::SecretKey;
use angou::recipient::{Identity, Recipient};
use angou::secret::SecretArray;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, Vec<(u32, u8)>, u32, bool)| {
    let (len, flips, cut, armor) = input;
    let id = SecretKey::from_secret(SecretArray::from_array([9u8; 32]));
    let recipient = id.public_key();
    let plain: Vec<u8> = (0..(len as usize) * 8).map(|i| i as u8).collect();
    let mut file = Vec::new();
    let mut w = Encryptor::with_recipients([&recipient as &dyn Recipient])
        .expect("one recipient")
        .wrap_output(&mut file)
        .expect("vec write");
    w.write_all(&plain).expect("vec write");
    w.finish().expect("vec write");
    if armor {
        let mut a = angou::format::armor::ArmoredWriter::new(Vec::new()).expect("vec write");
        a.write_all(&file).expect("vec write");
        file = a.finish().expect("vec write");
    }
    for (at, x) in flips {
        if !file.is_empty() {
            let i = at as usize % file.len();
            file[i] ^= x;
        }
    }
    file.truncate(file.len().min(cut as usize));
    let Ok(detected) = Input::detect(&file[..]) else { return };
    let Ok(d) = Decryptor::new(detected) else { return };
    let Ok(mut r) = d.decrypt([&id as &dyn Identity]) else { return };
    let mut out = Vec::new();
    match r.read_to_end(&mut out) {
        Ok(_) => assert_eq!(out, plain, "modified file decrypted to other plaintext"),
        Err(_) => assert!(plain.starts_with(&out), "released bytes not in the plaintext"),
    }
});
