//! Post-quantum hybrid recipients (`mlkem768x25519`) through the public API: ML-KEM-768
//! known answers through the `ml-kem` crate angou builds on (NIST ACVP vectors,
//! tests/data/mlkem768-acvp), files made with age 1.3's vector identity, tampered stanzas,
//! and age 1.3's rule against mixing post-quantum and classic recipients.
//!
//! The C2SP CCTV `hybrid*` vectors (written by age 1.3) run in tests/cctv.rs.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};

use angou::error::{Error, FormatError, KeyError};
use angou::format::header::{Header, PayloadCipher, Stanza};
use angou::format::{Decryptor, Encryptor};
use angou::pk::{mlkem768x25519 as pq, x25519};
use angou::recipient::{Identity, MLKEM768X25519_STANZA, Recipient, SymmetricKey};
use angou::secret::FileKey;
use base64ct::{Base64Unpadded, Encoding};
use ml_kem::kem::{Decapsulate, DecapsulationKey, EncapsulationKey};
use ml_kem::{B32, EncapsulateDeterministic, EncodedSizeUser, KemCore, MlKem768, MlKem768Params};

/// The identity of the CCTV `hybrid*` vectors (written by age 1.3).
const CCTV_IDENTITY: &str =
    "AGE-SECRET-KEY-PQ-1HZLGZUPT4ETPKDEV8HSGFDCYZ4E522W0A7PU2LHT8EH9W6YLNC3SW78XKG";

fn vectors() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/mlkem768-acvp/vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex_field(v: &serde_json::Value, k: &str) -> Vec<u8> {
    hex::decode(v[k].as_str().unwrap()).unwrap()
}

fn b32(bytes: &[u8]) -> B32 {
    let mut out = B32::default();
    out.copy_from_slice(bytes);
    out
}

/// FIPS 203 ML-KEM-768 key generation, encapsulation and decapsulation (including implicit
/// rejection of modified ciphertexts) reproduce NIST's ACVP answers through the crate.
#[test]
fn mlkem768_acvp_known_answers() {
    let v = vectors();
    for t in v["keyGen"].as_array().unwrap() {
        let (dk, ek) =
            MlKem768::generate_deterministic(&b32(&hex_field(t, "d")), &b32(&hex_field(t, "z")));
        assert_eq!(
            ek.as_bytes().to_vec(),
            hex_field(t, "ek"),
            "keyGen {}",
            t["tcId"]
        );
        assert_eq!(
            dk.as_bytes().to_vec(),
            hex_field(t, "dk"),
            "keyGen {}",
            t["tcId"]
        );
    }
    for t in v["encapsulation"].as_array().unwrap() {
        let ek_bytes = hex_field(t, "ek");
        let ek =
            EncapsulationKey::<MlKem768Params>::from_bytes(ek_bytes.as_slice().try_into().unwrap());
        let (c, k) = ek
            .encapsulate_deterministic(&b32(&hex_field(t, "m")))
            .unwrap();
        assert_eq!(c.to_vec(), hex_field(t, "c"), "encapsulation {}", t["tcId"]);
        assert_eq!(k.to_vec(), hex_field(t, "k"), "encapsulation {}", t["tcId"]);
    }
    let dec = &v["decapsulation"];
    let dk_bytes = hex_field(dec, "dk");
    let dk =
        DecapsulationKey::<MlKem768Params>::from_bytes(dk_bytes.as_slice().try_into().unwrap());
    let tests = dec["tests"].as_array().unwrap();
    assert!(tests.iter().any(|t| t["reason"] == "modify ciphertext"));
    for t in tests {
        let c = hex_field(t, "c");
        let k = dk.decapsulate(c.as_slice().try_into().unwrap()).unwrap();
        assert_eq!(k.to_vec(), hex_field(t, "k"), "decapsulation {}", t["tcId"]);
    }
}

fn encrypt(recipients: &[&dyn Recipient], plain: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut w = Encryptor::with_recipients(recipients.iter().copied())?.wrap_output(&mut out)?;
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    Ok(out)
}

fn decrypt(file: &[u8], identity: &dyn Identity) -> Result<Vec<u8>, Error> {
    let mut r = Decryptor::new(file)?.decrypt([identity])?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).map_err(Error::from)?;
    Ok(out)
}

/// A whole age file around a known file key: `stanzas`, the header MAC, and `plain` as one
/// final ChaCha20-Poly1305 chunk under HKDF-SHA-256(file key, nonce, "payload") (age v1).
fn file_with(stanzas: &[Stanza], file_key: &FileKey, plain: &[u8]) -> Vec<u8> {
    use chacha20poly1305::aead::{AeadInOut, KeyInit};
    let mut out = Header::encode(PayloadCipher::ChaCha20Poly1305, stanzas, file_key).unwrap();
    let nonce = [7u8; 16];
    let mut key = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&nonce), file_key.expose_secret())
        .expand(b"payload", &mut key)
        .unwrap();
    let mut chunk = plain.to_vec();
    // STREAM nonce of the first and last chunk: 11-byte big-endian counter 0, last flag 1.
    let mut chunk_nonce = [0u8; 12];
    chunk_nonce[11] = 1;
    let tag = chacha20poly1305::ChaCha20Poly1305::new(&key.into())
        .encrypt_inout_detached(&chunk_nonce.into(), b"", chunk.as_mut_slice().into())
        .unwrap();
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&tag);
    out
}

#[test]
fn round_trip_with_the_age_vector_identity_and_sizes() {
    let id = pq::SecretKey::parse(CCTV_IDENTITY).unwrap();
    let rcpt = id.public_key();
    let text = rcpt.encode();
    assert!(text.starts_with("age1pq1"));
    assert_eq!(text.len(), 1959);
    assert_eq!(pq::PublicKey::parse(&text).unwrap(), rcpt);
    // Either case, never mixed (BIP 173).
    assert_eq!(pq::PublicKey::parse(&text.to_uppercase()).unwrap(), rcpt);
    let at = 7 + text[7..].find(|c: char| c.is_ascii_lowercase()).unwrap();
    let mut mixed = text.clone();
    mixed.replace_range(at..at + 1, &text[at..at + 1].to_uppercase());
    assert!(pq::PublicKey::parse(&mixed).is_err());
    let file = encrypt(&[&rcpt], b"harvest now, decrypt never").unwrap();
    assert_eq!(decrypt(&file, &id).unwrap(), b"harvest now, decrypt never");
    let header = Header::read(&mut &file[..]).unwrap();
    let s = &header.stanzas()[0];
    assert_eq!(s.kind, MLKEM768X25519_STANZA);
    assert_eq!(s.args.len(), 1);
    assert_eq!(
        Base64Unpadded::decode_vec(&s.args[0]).unwrap().len(),
        pq::ENC_LEN
    );
    assert_eq!(s.body.len(), pq::WRAPPED_LEN);
    // Another identity: no match, not an error about the stanza.
    let other = pq::SecretKey::generate().unwrap();
    assert!(matches!(
        decrypt(&file, &other),
        Err(Error::Format(FormatError::NoMatch))
    ));
}

/// age 1.3 refuses to write a file readable by both a post-quantum and a classic recipient;
/// so does angou, in either order, before any byte is written. Quantum-resistant symmetric
/// keys may join; files that break the rule (written by others) still decrypt.
#[test]
fn pq_beside_classic_recipient_is_refused_when_encrypting() {
    let pq_id = pq::SecretKey::generate().unwrap();
    let pq_r = pq_id.public_key();
    let x_r = x25519::SecretKey::generate().unwrap().public_key();
    for order in [[&pq_r as &dyn Recipient, &x_r], [&x_r, &pq_r]] {
        let mut out = Vec::new();
        let err = Encryptor::with_recipients(order)
            .unwrap()
            .wrap_output(&mut out)
            .err()
            .unwrap();
        match err {
            Error::Format(FormatError::MixedPostQuantum { classic }) => {
                assert_eq!(classic, "X25519")
            }
            other => panic!("expected MixedPostQuantum, got {other:?}"),
        }
        assert!(out.is_empty(), "bytes written before the refusal");
    }
    let msg = FormatError::MixedPostQuantum {
        classic: "X25519".into(),
    }
    .to_string();
    assert!(
        msg.contains("post-quantum") && msg.contains("X25519"),
        "{msg}"
    );
    let sym = SymmetricKey::generate().unwrap();
    let file = encrypt(&[&pq_r, &sym], b"ok").unwrap();
    assert_eq!(decrypt(&file, &pq_id).unwrap(), b"ok");
    let two_pq = pq::SecretKey::generate().unwrap().public_key();
    assert!(encrypt(&[&pq_r, &two_pq], b"ok").is_ok());
}

/// A PQ stanza beside an X25519 one (as the CCTV `hybrid_and_x25519` file, written by a tool
/// that ignored the rule): each identity still finds its own stanza.
#[test]
fn pq_stanza_beside_x25519_stanza_decrypts_with_either() {
    let pq_id = pq::SecretKey::generate().unwrap();
    let x_id = x25519::SecretKey::generate().unwrap();
    let file_key = FileKey::generate().unwrap();
    let stanzas: Vec<Stanza> = [
        Recipient::wrap(&x_id.public_key(), &file_key).unwrap(),
        Recipient::wrap(&pq_id.public_key(), &file_key).unwrap(),
    ]
    .concat();
    let file = file_with(&stanzas, &file_key, b"mixed");
    assert_eq!(decrypt(&file, &pq_id).unwrap(), b"mixed");
    assert_eq!(decrypt(&file, &x_id).unwrap(), b"mixed");
}

/// Tampered `mlkem768x25519` stanzas under a valid header MAC: every structural defect is a
/// header error before any decryption, a low-order X25519 share is refused, and a modified
/// ML-KEM ciphertext or body is simply "not for this identity" (implicit rejection). No
/// plaintext is released in any case.
#[test]
fn tampered_stanzas_are_refused() {
    let id = pq::SecretKey::generate().unwrap();
    let file_key = FileKey::generate().unwrap();
    let good = Recipient::wrap(&id.public_key(), &file_key)
        .unwrap()
        .remove(0);
    assert_eq!(
        decrypt(
            &file_with(std::slice::from_ref(&good), &file_key, b"x"),
            &id
        )
        .unwrap(),
        b"x"
    );
    let enc = Base64Unpadded::decode_vec(&good.args[0]).unwrap();
    let with_enc = |bytes: &[u8]| Stanza {
        args: vec![Base64Unpadded::encode_string(bytes)],
        ..good.clone()
    };
    let malformed = |s: Stanza| {
        let r = decrypt(&file_with(std::slice::from_ref(&s), &file_key, b"x"), &id);
        assert!(
            matches!(
                r,
                Err(Error::Format(FormatError::MalformedStanza {
                    kind: MLKEM768X25519_STANZA,
                    ..
                }))
            ),
            "{s:?}: {r:?}"
        );
    };
    malformed(with_enc(&enc[..pq::ENC_LEN - 1]));
    malformed(with_enc(&[&enc[..], &[0]].concat()));
    malformed(Stanza {
        body: good.body[..31].to_vec(),
        ..good.clone()
    });
    malformed(Stanza {
        body: [&good.body[..], &[0]].concat(),
        ..good.clone()
    });
    malformed(Stanza {
        args: vec![good.args[0].clone(), "extra".into()],
        ..good.clone()
    });
    malformed(Stanza {
        args: vec![],
        ..good.clone()
    });
    // Non-canonical base64: 1,120 bytes leave 4 unused bits in the last character; set one.
    let mut noncanon = good.args[0].clone();
    let last = noncanon.pop().unwrap();
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let idx = ALPHABET.find(last).unwrap();
    noncanon.push(ALPHABET.as_bytes()[idx | 1] as char);
    assert_ne!(noncanon, good.args[0]);
    malformed(Stanza {
        args: vec![noncanon],
        ..good.clone()
    });
    // Low-order X25519 share (all zeros): refused, whoever the stanza was for.
    let mut low = enc.clone();
    low[pq::MLKEM_CIPHERTEXT_LEN..].fill(0);
    let r = decrypt(&file_with(&[with_enc(&low)], &file_key, b"x"), &id);
    assert!(
        matches!(r, Err(Error::Key(KeyError::LowOrderPoint))),
        "{r:?}"
    );
    // A flipped bit in the ML-KEM ciphertext, the X25519 share or the body: no match.
    for at in [
        0,
        pq::MLKEM_CIPHERTEXT_LEN - 1,
        pq::MLKEM_CIPHERTEXT_LEN + 3,
    ] {
        let mut e = enc.clone();
        e[at] ^= 0x01;
        let r = decrypt(&file_with(&[with_enc(&e)], &file_key, b"x"), &id);
        assert!(
            matches!(r, Err(Error::Format(FormatError::NoMatch))),
            "{at}: {r:?}"
        );
    }
    let mut body = good.body.clone();
    body[20] ^= 0x80;
    let r = decrypt(
        &file_with(
            &[Stanza {
                body,
                ..good.clone()
            }],
            &file_key,
            b"x",
        ),
        &id,
    );
    assert!(
        matches!(r, Err(Error::Format(FormatError::NoMatch))),
        "{r:?}"
    );
    // The stanza's type is case-sensitive: an upper-case type is someone else's stanza.
    let upper = Stanza {
        kind: MLKEM768X25519_STANZA.to_uppercase(),
        ..good.clone()
    };
    let r = decrypt(&file_with(&[upper], &file_key, b"x"), &id);
    assert!(
        matches!(r, Err(Error::Format(FormatError::NoMatch))),
        "{r:?}"
    );
    // A hybrid enc in an X25519 stanza is malformed for every reader.
    let r = decrypt(
        &file_with(
            &[Stanza {
                kind: "X25519".into(),
                ..good.clone()
            }],
            &file_key,
            b"x",
        ),
        &id,
    );
    assert!(
        matches!(
            r,
            Err(Error::Format(FormatError::MalformedStanza {
                kind: "X25519",
                ..
            }))
        ),
        "{r:?}"
    );
}

/// Recipient and identity text: wrong prefix, a truncated key, a bad checksum and a secret
/// key where a public key belongs are refused, and no message repeats the key text.
#[test]
fn key_text_tampering_is_refused_without_echo() {
    let id = pq::SecretKey::generate().unwrap();
    let secret = id.encode();
    let text = id.public_key().encode();
    let bad_checksum = {
        let mut t = text.clone();
        let c = t.pop().unwrap();
        t.push(if c == 'q' { 'p' } else { 'q' });
        t
    };
    let truncated = {
        // Re-encode 1,215 bytes with a valid checksum: only the length is wrong.
        let bytes = &id.public_key().to_bytes()[..pq::PUBLIC_KEY_LEN - 1];
        bech32_long("age1pq", bytes)
    };
    for bad in [
        bad_checksum,
        truncated,
        text.replacen("age1pq1", "age1pz1", 1),
        secret.to_string(),
        x25519::SecretKey::generate().unwrap().public_key().encode(),
    ] {
        let err = pq::PublicKey::parse(&bad).unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains(&bad[8..40]), "{msg}");
    }
    assert!(matches!(
        pq::SecretKey::parse(&text),
        Err(KeyError::InvalidEncoding { .. })
    ));
    let err = pq::SecretKey::parse(&secret.replacen("PQ-1", "PQ-1Q", 1)).unwrap_err();
    assert!(!err.to_string().contains(&secret[20..40]));
    assert_eq!(format!("{id:?}"), "[redacted]");
}

fn bech32_long(hrp: &str, bytes: &[u8]) -> String {
    // Bech32 per BIP 173 (polymod over 5-bit groups), written out so the test does not share
    // angou's encoder.
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    fn polymod(values: &[u8]) -> u32 {
        const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
        let mut chk = 1u32;
        for v in values {
            let top = chk >> 25;
            chk = ((chk & 0x1ffffff) << 5) ^ u32::from(*v);
            for (i, g) in GEN.iter().enumerate() {
                if (top >> i) & 1 == 1 {
                    chk ^= g;
                }
            }
        }
        chk
    }
    let mut data = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            data.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        data.push(((acc << (5 - bits)) & 31) as u8);
    }
    let mut values: Vec<u8> = hrp.bytes().map(|c| c >> 5).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|c| c & 31));
    values.extend(&data);
    values.extend([0u8; 6]);
    let pm = polymod(&values) ^ 1;
    let mut out = format!("{hrp}1");
    for d in data
        .iter()
        .copied()
        .chain((0..6).map(|i| ((pm >> (5 * (5 - i))) & 31) as u8))
    {
        out.push(CHARSET[d as usize] as char);
    }
    out
}
