//! The file format through the library API: sizes, recipients, and the tamper matrix.
//! Every failure case checks the error variant and that nothing unverified was released.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::sync::OnceLock;

use angou::error::{Error, FormatError};
use angou::format::header::{Header, PayloadCipher, Stanza};
use angou::format::stream::{CHUNK_LEN, ENCRYPTED_CHUNK_LEN, PAYLOAD_NONCE_LEN};
use angou::format::{Decryptor, Encryptor};
use angou::passphrase::{PassphraseIdentity, PassphraseRecipient};
use angou::pk::{rsa, x25519};
use angou::recipient::{Identity, Recipient, SymmetricKey};
use angou::secret::{FileKey, SecretVec};
use proptest::prelude::*;

const SIZES: [usize; 7] = [
    0,
    1,
    CHUNK_LEN - 1,
    CHUNK_LEN,
    CHUNK_LEN + 1,
    3 * CHUNK_LEN,
    3 * CHUNK_LEN + 17,
];

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 % 241) as u8).collect()
}

fn rsa_key() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::PrivateKey::generate(2048).unwrap())
}

fn encrypt(
    recipients: &[&dyn Recipient],
    cipher: PayloadCipher,
    plain: &[u8],
    piece: usize,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Encryptor::with_recipients(recipients.iter().copied())
        .unwrap()
        .with_cipher(cipher)
        .wrap_output(&mut out)
        .unwrap();
    for p in plain.chunks(piece.max(1)) {
        w.write_all(p).unwrap();
    }
    w.finish().unwrap();
    out
}

/// Decrypts, returning the result and every byte released before it.
fn decrypt(file: &[u8], identity: &dyn Identity) -> (Result<(), Error>, Vec<u8>) {
    let mut released = Vec::new();
    let result = (|| {
        let mut r = Decryptor::new(file)?.decrypt([identity])?;
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => released.extend_from_slice(&buf[..n]),
                Err(e) => return Err(Error::from(e)),
            }
        }
    })();
    (result, released)
}

#[test]
fn round_trips_every_size_cipher_and_recipient_kind() {
    let x = x25519::SecretKey::generate().unwrap();
    let sym = SymmetricKey::generate().unwrap();
    let rsa = rsa_key();
    let (xp, rp) = (x.public_key(), rsa.public_key());
    for cipher in [PayloadCipher::ChaCha20Poly1305, PayloadCipher::Aes256Gcm] {
        for len in SIZES {
            let plain = data(len);
            let file = encrypt(&[&xp, &rp, &sym], cipher, &plain, 7919);
            let same = encrypt(&[&xp], cipher, &plain, 1 << 20);
            assert_eq!(
                file.len() - Decryptor::new(&file[..]).unwrap().header().encoded_len(),
                same.len() - Decryptor::new(&same[..]).unwrap().header().encoded_len(),
                "payload length depends only on the plaintext"
            );
            for id in [&x as &dyn Identity, rsa, &sym] {
                let (r, out) = decrypt(&file, id);
                r.unwrap();
                assert_eq!(out, plain, "len {len} {cipher:?}");
            }
        }
    }
}

#[test]
fn passphrase_round_trip_and_wrong_passphrase() {
    let r = PassphraseRecipient::new(SecretVec::from_vec(b"pw".to_vec())).with_work_factor(10);
    let file = encrypt(&[&r], PayloadCipher::ChaCha20Poly1305, &data(5000), 100);
    let good = PassphraseIdentity::new(SecretVec::from_vec(b"pw".to_vec()));
    let (res, out) = decrypt(&file, &good);
    res.unwrap();
    assert_eq!(out, data(5000));
    let bad = PassphraseIdentity::new(SecretVec::from_vec(b"pW".to_vec()));
    let (res, out) = decrypt(&file, &bad);
    assert!(
        matches!(res, Err(Error::Format(FormatError::NoMatch))),
        "{res:?}"
    );
    assert!(out.is_empty());
}

fn payload_start(file: &[u8]) -> usize {
    Decryptor::new(file).unwrap().header().encoded_len() + PAYLOAD_NONCE_LEN
}

/// A four-chunk file (the last one short) and the identity that opens it.
fn four_chunks() -> (Vec<u8>, Vec<u8>, x25519::SecretKey) {
    let id = x25519::SecretKey::generate().unwrap();
    let plain = data(3 * CHUNK_LEN + 1000);
    let file = encrypt(
        &[&id.public_key()],
        PayloadCipher::ChaCha20Poly1305,
        &plain,
        65536,
    );
    (file, plain, id)
}

fn chunk(file: &[u8], i: usize) -> std::ops::Range<usize> {
    let start = payload_start(file) + i * ENCRYPTED_CHUNK_LEN;
    start..(start + ENCRYPTED_CHUNK_LEN).min(file.len())
}

fn assert_fails(
    file: &[u8],
    id: &dyn Identity,
    released_chunks: usize,
    plain: &[u8],
    what: &str,
) -> Error {
    let (res, out) = decrypt(file, id);
    let err = res.expect_err(what);
    let max = (released_chunks * CHUNK_LEN).min(plain.len());
    assert!(
        out.len() <= max && plain.starts_with(&out),
        "{what}: released unverified data"
    );
    err
}

#[test]
fn flipped_bytes_in_header_nonce_chunks_and_tags() {
    let (file, plain, id) = four_chunks();
    let header_len = Decryptor::new(&file[..]).unwrap().header().encoded_len();
    // Each header line, the MAC, and the payload nonce.
    let mut positions: Vec<usize> = file[..header_len]
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i.saturating_sub(3))
        .collect();
    positions.push(header_len + 3);
    for at in positions {
        let mut bad = file.clone();
        bad[at] ^= 0x01;
        let err = assert_fails(&bad, &id, 0, &plain, &format!("header/nonce flip at {at}"));
        assert!(
            matches!(
                err,
                Error::Format(
                    FormatError::HeaderMac
                        | FormatError::NoMatch
                        | FormatError::MalformedHeader { .. }
                        | FormatError::MalformedStanza { .. }
                        | FormatError::UnknownVersion { .. }
                        | FormatError::PayloadAuthentication
                )
            ),
            "{at}: {err:?}"
        );
    }
    for i in 0..4 {
        let r = chunk(&file, i);
        for at in [r.start, r.start + 1000.min(r.len() - 17), r.end - 1] {
            let mut bad = file.clone();
            bad[at] ^= 0x80;
            let err = assert_fails(&bad, &id, i, &plain, &format!("chunk {i} flip at {at}"));
            assert!(
                matches!(err, Error::Format(FormatError::PayloadAuthentication)),
                "{err:?}"
            );
            let (_, out) = decrypt(&bad, &id);
            assert_eq!(
                out.len(),
                i * CHUNK_LEN,
                "verified chunks before {i} are released"
            );
        }
    }
}

#[test]
fn truncation_at_every_boundary() {
    let (file, plain, id) = four_chunks();
    let start = payload_start(&file);
    let mut cuts = vec![
        0,
        1,
        20,
        start - PAYLOAD_NONCE_LEN - 1,
        start - PAYLOAD_NONCE_LEN,
        start - 1,
        start,
    ];
    for i in 1..4 {
        let b = start + i * ENCRYPTED_CHUNK_LEN;
        cuts.extend([b - 1, b, b + 1, b + 16]);
    }
    cuts.push(file.len() - 1);
    for cut in cuts {
        let err = assert_fails(&file[..cut], &id, 3, &plain, &format!("cut at {cut}"));
        assert!(
            matches!(
                err,
                Error::Format(
                    FormatError::Empty
                        | FormatError::Truncated { .. }
                        | FormatError::PayloadAuthentication
                        | FormatError::UnknownVersion { .. }
                )
            ),
            "cut {cut}: {err:?}"
        );
    }
}

#[test]
fn reordered_duplicated_dropped_chunks_and_trailing_data() {
    let (file, plain, id) = four_chunks();
    let start = payload_start(&file);
    let c = |i: usize| file[chunk(&file, i)].to_vec();
    let build = |order: &[usize]| {
        let mut f = file[..start].to_vec();
        for &i in order {
            f.extend(c(i));
        }
        f
    };
    for (order, what) in [
        (vec![1, 0, 2, 3], "swap first two"),
        (vec![0, 0, 1, 2, 3], "duplicate first"),
        (vec![0, 2, 3], "drop second"),
        (vec![0, 1, 2], "drop last"),
        (vec![0, 1, 3], "drop third"),
        (vec![0, 1, 2, 3, 3], "duplicate last"),
    ] {
        let err = assert_fails(&build(&order), &id, 3, &plain, what);
        assert!(
            matches!(
                err,
                Error::Format(
                    FormatError::PayloadAuthentication
                        | FormatError::Truncated { .. }
                        | FormatError::TrailingData
                )
            ),
            "{what}: {err:?}"
        );
    }
    for extra in [1usize, 100, ENCRYPTED_CHUNK_LEN] {
        let mut f = file.clone();
        f.extend(vec![0u8; extra]);
        assert_fails(&f, &id, 4, &plain, &format!("{extra} trailing bytes"));
    }
    // A full last chunk followed by data is named precisely.
    let id2 = x25519::SecretKey::generate().unwrap();
    let full = encrypt(
        &[&id2.public_key()],
        PayloadCipher::ChaCha20Poly1305,
        &data(CHUNK_LEN),
        999,
    );
    let mut f = full.clone();
    f.push(0);
    let err = assert_fails(&f, &id2, 1, &data(CHUNK_LEN), "trailing after full chunk");
    assert!(
        matches!(err, Error::Format(FormatError::TrailingData)),
        "{err:?}"
    );
}

#[test]
fn a_writer_dropped_without_finish_yields_an_undecryptable_file() {
    for len in [0, 1, CHUNK_LEN, 2 * CHUNK_LEN + 5, 40 * CHUNK_LEN] {
        let id = x25519::SecretKey::generate().unwrap();
        let mut out = Vec::new();
        {
            let mut w = Encryptor::with_recipients([&id.public_key() as &dyn Recipient])
                .unwrap()
                .wrap_output(&mut out)
                .unwrap();
            w.write_all(&data(len)).unwrap();
            // dropped here, no finish()
        }
        let (res, _) = decrypt(&out, &id);
        assert!(res.is_err(), "len {len}: an unfinished file decrypted");
    }
}

#[test]
fn wrong_identity_unknown_stanzas_mixed_scrypt_and_version_swaps() {
    let (file, plain, _) = four_chunks();
    let other = x25519::SecretKey::generate().unwrap();
    let err = assert_fails(&file, &other, 0, &plain, "wrong identity");
    assert!(matches!(err, Error::Format(FormatError::NoMatch)));
    let fk = FileKey::generate().unwrap();
    let unknown = Stanza {
        kind: "example.com/unknown".into(),
        args: vec!["a".into()],
        body: vec![1, 2, 3],
    };
    let mut f = Header::encode(
        PayloadCipher::ChaCha20Poly1305,
        std::slice::from_ref(&unknown),
        &fk,
    )
    .unwrap();
    f.extend([0u8; 100]);
    let (res, _) = decrypt(&f, &other);
    assert!(
        matches!(res, Err(Error::Format(FormatError::NoMatch))),
        "{res:?}"
    );
    // scrypt beside another stanza is refused, by the encryptor and the decryptor.
    let pr = PassphraseRecipient::new(SecretVec::from_vec(b"x".to_vec())).with_work_factor(10);
    let err = Encryptor::with_recipients([&pr as &dyn Recipient, &other.public_key()])
        .unwrap()
        .wrap_output(Vec::new())
        .err()
        .unwrap();
    assert!(
        matches!(err, Error::Format(FormatError::MixedScrypt)),
        "{err:?}"
    );
    let scrypt = Stanza {
        kind: "scrypt".into(),
        args: vec!["AAAAAAAAAAAAAAAAAAAAAA".into(), "10".into()],
        body: vec![0; 32],
    };
    let mut f = Header::encode(PayloadCipher::ChaCha20Poly1305, &[scrypt, unknown], &fk).unwrap();
    f.extend([0u8; 100]);
    let (res, _) = decrypt(
        &f,
        &PassphraseIdentity::new(SecretVec::from_vec(b"x".to_vec())),
    );
    assert!(
        matches!(res, Err(Error::Format(FormatError::MixedScrypt))),
        "{res:?}"
    );
    // Swapping the version line between the age and AES variants breaks the MAC.
    let id = x25519::SecretKey::generate().unwrap();
    for (cipher, from, to) in [
        (
            PayloadCipher::ChaCha20Poly1305,
            "age-encryption.org/v1",
            "angou.dev/v1/aes-256-gcm",
        ),
        (
            PayloadCipher::Aes256Gcm,
            "angou.dev/v1/aes-256-gcm",
            "age-encryption.org/v1",
        ),
    ] {
        let f = encrypt(&[&id.public_key()], cipher, b"downgrade me", 5);
        let mut swapped = to.as_bytes().to_vec();
        swapped.extend_from_slice(&f[from.len()..]);
        let (res, out) = decrypt(&swapped, &id);
        assert!(
            matches!(res, Err(Error::Format(FormatError::HeaderMac))),
            "{res:?}"
        );
        assert!(out.is_empty());
    }
    let mut v2 = b"age-encryption.org/v2".to_vec();
    v2.extend_from_slice(&file[21..]);
    let (res, _) = decrypt(&v2, &id);
    assert!(
        matches!(res, Err(Error::Format(FormatError::UnknownVersion { .. }))),
        "{res:?}"
    );
    let (res, _) = decrypt(b"", &id);
    assert!(
        matches!(res, Err(Error::Format(FormatError::Empty))),
        "{res:?}"
    );
}

#[test]
fn too_many_stanzas_and_non_canonical_bodies() {
    let fk = FileKey::generate().unwrap();
    let s = Stanza {
        kind: "x".into(),
        args: vec![],
        body: vec![],
    };
    let many = vec![s; 257];
    let f = Header::encode(PayloadCipher::ChaCha20Poly1305, &many, &fk).unwrap();
    assert!(matches!(
        Header::read(&mut &f[..]),
        Err(Error::Format(FormatError::TooManyStanzas { limit: 256 }))
    ));
    // "AB" decodes with non-zero trailing bits ("AA" is the canonical form of that byte).
    let bad = b"age-encryption.org/v1\n-> x\nAB\n--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
    assert!(matches!(
        Header::read(&mut &bad[..]),
        Err(Error::Format(FormatError::MalformedHeader { .. }))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn header_encode_read_round_trip(
        stanzas in prop::collection::vec(
            ("[!-~]{1,20}", prop::collection::vec("[!-~]{1,12}", 0..4), prop::collection::vec(any::<u8>(), 0..300)),
            0..6,
        ),
        aes in any::<bool>(),
    ) {
        let stanzas: Vec<Stanza> = stanzas
            .into_iter()
            .map(|(kind, args, body)| Stanza { kind, args, body })
            .collect();
        let cipher = if aes { PayloadCipher::Aes256Gcm } else { PayloadCipher::ChaCha20Poly1305 };
        let fk = FileKey::generate().unwrap();
        let bytes = Header::encode(cipher, &stanzas, &fk).unwrap();
        let h = Header::read(&mut &bytes[..]).unwrap();
        prop_assert_eq!(h.stanzas(), &stanzas[..]);
        prop_assert_eq!(h.cipher(), cipher);
        prop_assert_eq!(h.encoded_len(), bytes.len());
        prop_assert!(h.verify_mac(&fk).is_ok());
    }
}

/// Recipients and identities of any type go in without casts: one kind as plain references,
/// owned keys, mixed kinds as `&dyn`, and the boxes `keyfile` returns. Before, only
/// `&dyn Recipient` / `&dyn Identity` items were accepted and this did not compile.
#[test]
fn recipients_and_identities_of_any_type_need_no_casts() {
    let alice = x25519::SecretKey::generate().unwrap();
    let bob = x25519::SecretKey::generate().unwrap();
    let rsa = rsa_key();
    let sym = SymmetricKey::generate().unwrap();
    let plain = data(CHUNK_LEN + 3);
    let seal = |e: Encryptor<'_>| {
        let mut out = Vec::new();
        let mut w = e.wrap_output(&mut out).unwrap();
        w.write_all(&plain).unwrap();
        w.finish().unwrap();
        out
    };
    let open = |file: &[u8], ids: Vec<Box<dyn Identity>>| {
        let mut out = Vec::new();
        Decryptor::new(file)
            .unwrap()
            .decrypt(&ids)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let one_kind =
        seal(Encryptor::with_recipients([&alice.public_key(), &bob.public_key()]).unwrap());
    let owned = seal(Encryptor::with_recipients(vec![alice.public_key()]).unwrap());
    let mixed: [&dyn Recipient; 3] = [&alice.public_key(), &rsa.public_key(), &sym];
    let mixed = seal(Encryptor::with_recipients(mixed).unwrap());
    let boxed: Vec<Box<dyn Recipient>> = vec![Box::new(bob.public_key()), Box::new(sym.clone())];
    let boxed = seal(Encryptor::with_recipients(&boxed).unwrap());

    for file in [&one_kind, &owned, &mixed] {
        let mut out = Vec::new();
        Decryptor::new(&file[..])
            .unwrap()
            .decrypt([&alice])
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, plain);
    }
    assert_eq!(open(&mixed, vec![Box::new(rsa.clone())]), plain);
    assert_eq!(open(&boxed, vec![Box::new(sym)]), plain);
    let mixed_ids: [&dyn Identity; 2] = [&alice, &bob];
    let mut out = Vec::new();
    Decryptor::new(&boxed[..])
        .unwrap()
        .decrypt(mixed_ids)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);
}

/// `Decryptor::new` reads an armored file as it reads a binary one. Before, it failed on the
/// armor's BEGIN line with a "version line" error and the caller had to know to wrap the
/// input in `Input::detect` first.
#[test]
fn decryptor_new_reads_armored_and_binary_files() {
    use angou::format::armor::ArmoredWriter;
    let id = x25519::SecretKey::generate().unwrap();
    for len in [0, 1, CHUNK_LEN, 2 * CHUNK_LEN + 5] {
        let plain = data(len);
        let mut armored = Vec::new();
        let mut w = Encryptor::with_recipients([&id.public_key()])
            .unwrap()
            .wrap_output(ArmoredWriter::new(&mut armored).unwrap())
            .unwrap();
        w.write_all(&plain).unwrap();
        w.finish().unwrap().finish().unwrap();
        let binary = encrypt(
            &[&id.public_key()],
            PayloadCipher::ChaCha20Poly1305,
            &plain,
            999,
        );
        for (file, is_armored) in [(&armored, true), (&binary, false)] {
            let d = Decryptor::new(&file[..]).unwrap();
            assert_eq!(d.is_armored(), is_armored);
            let mut out = Vec::new();
            d.decrypt([&id]).unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, plain, "len {len}, armored {is_armored}");
        }
        // Armor with one payload bit flipped still fails as a forgery, not as a format error.
        let mut text = String::from_utf8(armored.clone()).unwrap();
        let at = text.rfind("\n-----END").unwrap() - 3;
        let c = if &text[at..at + 1] == "A" { "B" } else { "A" };
        text.replace_range(at..at + 1, c);
        let (res, _) = decrypt(text.as_bytes(), &id);
        assert!(res.is_err(), "len {len}: tampered armor decrypted");
    }
}

/// `abandon()` is a deliberate drop: the output stays unfinished and never decrypts.
#[test]
fn an_abandoned_writer_yields_an_undecryptable_file() {
    let id = x25519::SecretKey::generate().unwrap();
    for len in [0, 1, CHUNK_LEN, 9 * CHUNK_LEN + 1] {
        let mut out = Vec::new();
        let mut w = Encryptor::with_recipients([&id.public_key()])
            .unwrap()
            .wrap_output(&mut out)
            .unwrap();
        w.write_all(&data(len)).unwrap();
        w.abandon();
        let (res, released) = decrypt(&out, &id);
        assert!(res.is_err(), "len {len}: an abandoned file decrypted");
        assert!(
            released.len() < len.max(1),
            "len {len}: everything was released"
        );
    }
}

mod keyfiles {
    use super::*;
    use angou::KeyFileError;
    use angou::error::SecretKind;
    use angou::keyfile;

    fn round_trip(recipients: &[Box<dyn Recipient>], identities: &[Box<dyn Identity>]) {
        let mut file = Vec::new();
        let mut w = Encryptor::with_recipients(recipients)
            .unwrap()
            .wrap_output(&mut file)
            .unwrap();
        w.write_all(b"key files").unwrap();
        w.finish().unwrap();
        let mut out = Vec::new();
        Decryptor::new(&file[..])
            .unwrap()
            .decrypt(identities)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"key files");
    }

    /// An identity file as age-keygen writes it (comments, blank lines, CRLF, several keys),
    /// and a recipients file of every supported kind mixed: the loaders read both. Before,
    /// there were no library loaders and `SecretKey::parse` on a file's text failed.
    #[test]
    fn identity_and_recipients_files_of_every_kind_load() {
        let a = x25519::SecretKey::generate().unwrap();
        let b = x25519::SecretKey::generate().unwrap();
        let rsa = rsa_key();
        let identity_text = format!(
            "# created: 2030-01-01T00:00:00Z\r\n# public key: {}\r\n{}\r\n\n  {}  \n# end\n",
            a.public_key(),
            a.encode().as_str(),
            b.encode().as_str()
        );
        let ids = keyfile::parse_identities(&identity_text).unwrap();
        assert!(matches!(&ids, keyfile::Identities::X25519(v) if v.len() == 2));
        let ids = ids.into_identities().unwrap();

        let upper = a.public_key().to_string().to_ascii_uppercase();
        let recipients_text = format!(
            "# team\n\n{}\n{upper}\n   {}\n# rsa\n{}\n",
            b.public_key(),
            a.public_key(),
            rsa.public_key().to_pem()
        );
        let recipients = keyfile::parse_recipients(&recipients_text).unwrap();
        assert_eq!(recipients.len(), 4);
        round_trip(&recipients, &ids);

        let rsa_ids = keyfile::parse_identities(&rsa.to_pem().unwrap())
            .unwrap()
            .into_identities()
            .unwrap();
        round_trip(&recipients[3..], &rsa_ids);

        let sym = SymmetricKey::generate().unwrap();
        let sym_ids = keyfile::parse_identities(&format!("# shared\n{}\n", sym.encode().as_str()))
            .unwrap()
            .into_identities()
            .unwrap();
        round_trip(&[Box::new(sym) as Box<dyn Recipient>], &sym_ids);

        // From paths, as the CLI reads them.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("me.key"), &identity_text).unwrap();
        std::fs::write(dir.path().join("team.txt"), &recipients_text).unwrap();
        let ids = keyfile::read_identities(dir.path().join("me.key")).unwrap();
        let recipients = keyfile::read_recipients(dir.path().join("team.txt")).unwrap();
        round_trip(&recipients, &ids);
    }

    /// Files of the wrong kind are refused by kind and line, and no message repeats a line:
    /// a secret pasted into a recipients file must not reach a log through the error.
    #[test]
    fn wrong_files_are_named_by_kind_and_line_never_echoed() {
        let key = x25519::SecretKey::generate().unwrap();
        let secret = key.encode().to_string();
        let sym = SymmetricKey::generate().unwrap().encode().to_string();
        let private_pem = rsa_key().to_pem().unwrap().to_string();
        let public = key.public_key().to_string();
        let cases: Vec<(String, KeyFileError)> = vec![
            (
                format!("# ok\n{public}\n{secret}\n"),
                KeyFileError::SecretNotRecipient {
                    line: 3,
                    kind: SecretKind::AgeIdentity,
                },
            ),
            (
                format!("{public}\n\n{sym}\n"),
                KeyFileError::SecretNotRecipient {
                    line: 3,
                    kind: SecretKind::SymmetricKey,
                },
            ),
            (
                format!("# x\n{private_pem}"),
                KeyFileError::SecretNotRecipient {
                    line: 2,
                    kind: SecretKind::PemPrivateKey,
                },
            ),
            (
                "AGE-PLUGIN-YUBIKEY-1QQQQQQQQQQ\n".into(),
                KeyFileError::SecretNotRecipient {
                    line: 1,
                    kind: SecretKind::PluginIdentity,
                },
            ),
            (
                format!("{public}\nage1yubikey1{}\n", &public[4..]),
                KeyFileError::UnsupportedRecipient {
                    line: 2,
                    kind: "age1yubikey1…".into(),
                },
            ),
            (
                "hunter2 is my password\n".into(),
                KeyFileError::NotARecipient { line: 1 },
            ),
            ("# nothing\n\n".into(), KeyFileError::Empty),
            (
                rsa_key().public_key().to_pem()[..40].to_string(),
                KeyFileError::UnterminatedPem { line: 1 },
            ),
        ];
        for (text, expected) in cases {
            let err = keyfile::parse_recipients(&text).err().unwrap();
            assert_eq!(err, expected, "{text}");
            let message = err.to_string();
            for line in text.lines().filter(|l| l.len() > 12) {
                assert!(!message.contains(line.trim()), "{message:?} repeats a line");
            }
        }

        let id_cases: Vec<(String, KeyFileError)> = vec![
            (format!("{public}\n"), KeyFileError::RecipientsNotIdentity),
            (
                rsa_key().public_key().to_pem(),
                KeyFileError::PublicKeyNotIdentity,
            ),
            (format!("{secret}\n{sym}\n"), KeyFileError::MixedIdentities),
            (
                format!("# x\n{secret}\nsomething else\n"),
                KeyFileError::NotAnIdentity { line: 3 },
            ),
            (
                "age-encryption.org/v1\n-> X25519 abc\n".into(),
                KeyFileError::EncryptedFile,
            ),
            ("\n# only comments\n".into(), KeyFileError::Empty),
        ];
        for (text, expected) in id_cases {
            let err = keyfile::parse_identities(&text).err().unwrap();
            assert_eq!(err, expected, "{text}");
        }
        // A key line with one character changed: the line number and the Bech32 problem,
        // never the key text.
        let mut broken = secret.clone();
        broken.replace_range(20..21, if &secret[20..21] == "Q" { "P" } else { "Q" });
        let err = keyfile::parse_identities(&format!("# me\n{broken}\n"))
            .err()
            .unwrap();
        assert!(matches!(err, KeyFileError::Key { line: 2, .. }), "{err:?}");
        assert!(!err.to_string().contains(&broken[15..]), "{err}");
    }

    fn ssh_data(name: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/ssh")
                .join(name),
        )
        .unwrap()
    }

    fn opens_age_vector(identities: &[Box<dyn Identity>], vector: &str) {
        let file = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/ssh")
                .join(vector),
        )
        .unwrap();
        let mut out = Vec::new();
        Decryptor::new(&file[..])
            .unwrap()
            .decrypt(identities)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, ssh_data("plain.txt").as_bytes(), "{vector}");
    }

    /// Every kind `-r`/`-R` takes is read by the library loader: age1…, age1pq1…, SSH keys as
    /// a `.pub` line, an `authorized_keys` line with quoted options, a bare `NAME.keys` line,
    /// and a PEM key; each listed key gets a stanza its private key opens, and the listing
    /// names each SSH key's line and comment.
    #[test]
    fn recipients_files_take_post_quantum_and_ssh_keys() {
        let x = x25519::SecretKey::generate().unwrap();
        let pq = angou::pk::mlkem768x25519::SecretKey::generate().unwrap();
        let ed = ssh_data("id_ed25519.pub");
        let rsa_pub = ssh_data("id_rsa.pub");
        let bare_rsa: Vec<&str> = rsa_pub.split_whitespace().take(2).collect();
        let text = format!(
            "# pq\n{}\n# ssh\n{}\nno-pty,command=\"echo \\\"a b\\\"\" {}\n{}\n",
            pq.public_key(),
            ed.trim(),
            ed.trim(),
            bare_rsa.join(" ")
        );
        let lines = keyfile::parse_recipient_lines(&text).unwrap();
        let summary: Vec<(usize, &str, Option<&str>)> = lines
            .iter()
            .map(|r| {
                let kind = match &r.key {
                    keyfile::RecipientKey::PostQuantum(_) => "pq",
                    keyfile::RecipientKey::Ssh(k) => k.kind(),
                    _ => "other",
                };
                (r.line, kind, r.comment.as_deref())
            })
            .collect();
        assert_eq!(
            summary,
            [
                (2, "pq", None),
                (4, "ssh-ed25519", Some("test-ed25519@angou")),
                (5, "ssh-ed25519", Some("test-ed25519@angou")),
                (6, "ssh-rsa", None),
            ]
        );
        // PQ recipients are not mixed with classic ones in one file (enforced by the
        // Encryptor); each kind is checked on its own.
        let pq_only = keyfile::parse_recipients(&format!("{}\n", pq.public_key())).unwrap();
        round_trip(&pq_only, &[Box::new(pq) as Box<dyn Identity>]);
        let classic = keyfile::parse_recipients(&format!(
            "{}\n{}\n{}",
            x.public_key(),
            ed.trim(),
            bare_rsa.join(" ")
        ))
        .unwrap();
        for key in ["id_ed25519", "id_rsa"] {
            let ids = keyfile::parse_identities(&ssh_data(key))
                .unwrap()
                .into_identities()
                .unwrap();
            round_trip(&classic, &ids);
        }
        round_trip(&classic, &[Box::new(x) as Box<dyn Identity>]);
        // The listing for `inspect -R` passes over what it cannot name.
        let listed = keyfile::list_ssh_keys(&format!(
            "{}\n{}",
            ssh_data("id_ecdsa.pub").trim(),
            ed.trim()
        ));
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].line, 2);
    }

    /// OpenSSH private keys (ed25519, RSA, and both passphrase-protected) and the PEM RSA
    /// key older ssh-keygen writes are read as identities and open the files `age` made for
    /// them. A protected key comes back locked: unusable until its passphrase is given, and a
    /// wrong passphrase is refused.
    #[test]
    fn identity_files_take_openssh_keys_plain_and_protected() {
        for (key, vector) in [
            ("id_ed25519", "id_ed25519.age"),
            ("id_rsa", "id_rsa.age"),
            ("id_rsa_pem", "id_rsa_pem.age"),
        ] {
            let ids = keyfile::parse_identities(&ssh_data(key)).unwrap();
            assert!(ids.passphrase_needed().is_none(), "{key}");
            opens_age_vector(&ids.into_identities().unwrap(), vector);
        }
        for (key, vector) in [
            ("id_ed25519_protected", "id_ed25519_protected.age"),
            ("id_rsa_protected", "id_rsa_protected.age"),
        ] {
            let locked = keyfile::parse_identities(&ssh_data(key)).unwrap();
            let public = locked.passphrase_needed().unwrap().to_openssh();
            let line = ssh_data(&format!("{key}.pub"));
            let expected: Vec<&str> = line.split_whitespace().take(2).collect();
            assert_eq!(public, expected.join(" "), "{key}");
            assert!(matches!(
                keyfile::parse_identities(&ssh_data(key))
                    .unwrap()
                    .into_identities(),
                Err(KeyFileError::PassphraseRequired)
            ));
            let wrong = SecretVec::from_vec(b"wrong horse".to_vec());
            let err = keyfile::parse_identities(&ssh_data(key))
                .unwrap()
                .unlock(&wrong)
                .err()
                .unwrap();
            assert!(matches!(err, KeyFileError::Ssh(_)), "{err:?}");
            let right = SecretVec::from_vec(b"correct horse".to_vec());
            let ids = locked.unlock(&right).unwrap().into_identities().unwrap();
            opens_age_vector(&ids, vector);
        }
        // From a path, with the passphrase from a callback that is told which key it is for;
        // the callback is not called for a plain key.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        std::fs::write(&path, ssh_data("id_ed25519_protected")).unwrap();
        let mut asked = Vec::new();
        let ids = keyfile::read_identities_with_passphrase(&path, |k| {
            asked.push(k.kind());
            Ok(SecretVec::from_vec(b"correct horse".to_vec()))
        })
        .unwrap();
        assert_eq!(asked, ["ssh-ed25519"]);
        opens_age_vector(&ids, "id_ed25519_protected.age");
        assert!(matches!(
            keyfile::read_identities(&path),
            Err(Error::KeyFile(KeyFileError::PassphraseRequired))
        ));
        std::fs::write(&path, ssh_data("id_rsa")).unwrap();
        let ids = keyfile::read_identities_with_passphrase(&path, |_| {
            panic!("asked for a passphrase for a plain key")
        })
        .unwrap();
        opens_age_vector(&ids, "id_rsa.age");
    }

    /// SSH keys in the wrong place or of a kind age cannot use are refused by kind and line
    /// (unsupported types by name), and no message repeats key text.
    #[test]
    fn ssh_key_refusals_name_the_kind_never_the_key() {
        let ecdsa_pub = ssh_data("id_ecdsa.pub");
        let small = ssh_data("id_rsa_1024.pub");
        let fake = "AAAAC3NzaC1lZDI1NTE5AAAAIJ5NE1yQnnAC59rlN1TLw1Z6MxDeWm1vn/xKInR3kHWj";
        let ed = ssh_data("id_ed25519.pub");
        for (text, line, needle) in [
            (
                format!("{}\n{ecdsa_pub}", ed.trim()),
                2,
                "ecdsa-sha2-nistp256",
            ),
            (
                format!("sk-ssh-ed25519@openssh.com {fake} t\n"),
                1,
                "security key",
            ),
            (format!("# old\nssh-dss {fake}\n"), 2, "ssh-dss"),
            (
                format!("ssh-ed25519-cert-v01@openssh.com {fake}\n"),
                1,
                "certificates",
            ),
            (
                format!("command=\"x\" ecdsa-sha2-nistp384 {fake}\n"),
                1,
                "ecdsa-sha2-nistp384",
            ),
        ] {
            let err = keyfile::parse_recipients(&text).err().unwrap();
            assert!(
                matches!(&err, KeyFileError::Key { line: l, source: angou::KeyError::InvalidEncoding { .. } } if *l == line),
                "{text}: {err:?}"
            );
            let message = err.to_string();
            assert!(message.contains(needle), "{message}");
            assert!(message.contains("ssh-ed25519 or ssh-rsa"), "{message}");
            assert!(!message.contains(&fake[20..40]), "{message}");
        }
        let err = keyfile::parse_recipients(&small).err().unwrap();
        assert_eq!(
            err,
            KeyFileError::Key {
                line: 1,
                source: angou::KeyError::KeyTooSmall { bits: 1024 }
            }
        );
        // A private key where a recipient belongs, whole or cut off.
        for key in ["id_ed25519", "id_rsa_protected", "id_ecdsa"] {
            let text = ssh_data(key);
            for t in [text.clone(), format!("# mine\n{}", &text[..text.len() / 2])] {
                let err = keyfile::parse_recipients(&t).err().unwrap();
                assert!(
                    matches!(
                        err,
                        KeyFileError::SecretNotRecipient {
                            kind: SecretKind::SshPrivateKey,
                            ..
                        }
                    ),
                    "{key}: {err:?}"
                );
                let message = err.to_string();
                for l in text.lines().filter(|l| !l.starts_with("-----")) {
                    assert!(!message.contains(&l[..l.len().min(16)]), "{message}");
                }
            }
        }
        // A public key where an identity belongs; a key type age cannot decrypt with; the
        // legacy encrypted PEM format.
        for name in ["id_ed25519.pub", "id_rsa.pub"] {
            assert_eq!(
                keyfile::parse_identities(&ssh_data(name)).err(),
                Some(KeyFileError::SshPublicKeyNotIdentity)
            );
        }
        let err = keyfile::parse_identities(&ssh_data("id_ecdsa"))
            .err()
            .unwrap();
        assert!(matches!(err, KeyFileError::Ssh(_)), "{err:?}");
        assert!(err.to_string().contains("ecdsa-sha2-nistp256"), "{err}");
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(
            keyfile::parse_identities(legacy).err(),
            Some(KeyFileError::LegacyEncryptedPem)
        );
        // age1… recipients in mixed case are refused as such.
        let public = x25519::SecretKey::generate()
            .unwrap()
            .public_key()
            .to_string();
        let mixed = format!("AGE{}", &public[3..]);
        assert_eq!(
            keyfile::parse_recipients(&mixed).err(),
            Some(KeyFileError::MixedCase { line: 1 })
        );
    }
}
