//! Shared-key AEAD through the public API: round trips on every path (owned, in place,
//! detached, one-shot) and every way a sealed message can be wrong. On each failure the test
//! checks the error variant and that the caller's buffer is exactly as it was.
#![allow(clippy::unwrap_used)]

use angou::aead::{self, Algorithm, Cipher, Key, Nonce, TAG_LEN};
use angou::error::{AeadError, Error};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        // Integration tests have no lib.rs beside them; keep regressions next to this file.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

fn algorithms() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(Algorithm::ALL.to_vec())
}

/// Messages of every small size, with 0 and 1 byte drawn as often as the rest.
fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        any::<u8>().prop_map(|b| vec![b]),
        prop::collection::vec(any::<u8>(), 2..2048),
    ]
}

fn aad() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

fn opened(c: &Cipher, aad: &[u8], sealed: &[u8]) -> Vec<u8> {
    c.open(aad, sealed).unwrap().expose_secret().to_vec()
}

fn is_auth(e: &Error) -> bool {
    matches!(e, Error::Aead(AeadError::Authentication))
}

/// Splits `nonce || ciphertext || tag` for the detached API.
fn split(alg: Algorithm, sealed: &[u8]) -> (Nonce, Vec<u8>, [u8; TAG_LEN]) {
    let n = alg.nonce_len();
    let tag_at = sealed.len() - TAG_LEN;
    (
        Nonce::from_slice(alg, &sealed[..n]).unwrap(),
        sealed[n..tag_at].to_vec(),
        sealed[tag_at..].try_into().unwrap(),
    )
}

/// Opens `sealed` on all three paths, expecting the same failure from each and no change
/// to any buffer.
fn assert_rejected(c: &Cipher, aad: &[u8], sealed: &[u8]) -> Result<(), TestCaseError> {
    let err = c.open(aad, sealed).unwrap_err();
    prop_assert!(is_auth(&err), "open: {:?}", err);
    let mut buf = sealed.to_vec();
    let err = c.open_in_place(aad, &mut buf).unwrap_err();
    prop_assert!(is_auth(&err), "open_in_place: {:?}", err);
    prop_assert_eq!(&buf, sealed, "open_in_place changed the buffer");
    let (nonce, ct, tag) = split(c.algorithm(), sealed);
    let mut buf = ct.clone();
    let err = c
        .open_in_place_detached(&nonce, aad, &mut buf, &tag)
        .unwrap_err();
    prop_assert!(is_auth(&err), "open_in_place_detached: {:?}", err);
    prop_assert_eq!(buf, ct, "open_in_place_detached changed the buffer");
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn seal_open_round_trip(alg in algorithms(), aad in aad(), msg in message()) {
        let key = Key::generate().unwrap();
        let c = Cipher::new(alg, &key);

        let sealed = c.seal(&aad, &msg).unwrap();
        prop_assert_eq!(sealed.len(), msg.len() + alg.overhead());
        prop_assert_eq!(&opened(&c, &aad, &sealed), &msg);
        // A fresh Cipher and the one-shot functions read the same bytes.
        let one_shot = aead::open(alg, &key, &aad, &sealed).unwrap();
        prop_assert_eq!(one_shot.expose_secret(), msg.as_slice());
        let sealed = aead::seal(alg, &key, &aad, &msg).unwrap();
        prop_assert_eq!(&opened(&c, &aad, &sealed), &msg);

        let mut buf = msg.clone();
        c.seal_in_place(&aad, &mut buf).unwrap();
        prop_assert_eq!(buf.len(), msg.len() + alg.overhead());
        prop_assert_eq!(&opened(&c, &aad, &buf), &msg);
        c.open_in_place(&aad, &mut buf).unwrap();
        prop_assert_eq!(&buf, &msg);

        let mut buf = msg.clone();
        let (nonce, tag) = c.seal_in_place_detached(&aad, &mut buf).unwrap();
        prop_assert_eq!(nonce.as_bytes().len(), alg.nonce_len());
        // Detached parts reassembled are an ordinary sealed message.
        let joined = [nonce.as_bytes(), &buf, &tag].concat();
        prop_assert_eq!(&opened(&c, &aad, &joined), &msg);
        c.open_in_place_detached(&nonce, &aad, &mut buf, &tag).unwrap();
        prop_assert_eq!(&buf, &msg);
    }

    #[test]
    fn any_flipped_bit_is_rejected(alg in algorithms(), aad in aad(), msg in message(),
                                   pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let key = Key::generate().unwrap();
        let c = Cipher::new(alg, &key);
        let mut sealed = c.seal(&aad, &msg).unwrap();
        // Anywhere: nonce, ciphertext or tag.
        let i = pos.index(sealed.len());
        sealed[i] ^= 1 << bit;
        assert_rejected(&c, &aad, &sealed)?;
    }

    #[test]
    fn wrong_key_or_aad_is_rejected(alg in algorithms(), aad in aad(), msg in message(),
                                    extra in any::<u8>()) {
        let key = Key::generate().unwrap();
        let sealed = aead::seal(alg, &key, &aad, &msg).unwrap();
        let wrong_key = Cipher::new(alg, &Key::generate().unwrap());
        assert_rejected(&wrong_key, &aad, &sealed)?;
        let right_key = Cipher::new(alg, &key);
        let mut longer = aad.clone();
        longer.push(extra);
        assert_rejected(&right_key, &longer, &sealed)?;
        if let Some((_, shorter)) = aad.split_last() {
            assert_rejected(&right_key, shorter, &sealed)?;
        } else {
            assert_rejected(&right_key, b"x", &sealed)?;
        }
    }

    #[test]
    fn truncated_or_extended_is_rejected(alg in algorithms(), msg in message(),
                                         cut in any::<prop::sample::Index>(), extra in any::<u8>()) {
        let key = Key::generate().unwrap();
        let c = Cipher::new(alg, &key);
        let sealed = c.seal(b"aad", &msg).unwrap();
        let keep = cut.index(sealed.len());
        let mut buf = sealed[..keep].to_vec();
        let err = c.open_in_place(b"aad", &mut buf).unwrap_err();
        if keep < alg.overhead() {
            let expected = AeadError::Truncated { minimum: alg.overhead(), found: keep };
            let ok = matches!(&err, Error::Aead(e) if *e == expected);
            prop_assert!(ok, "{:?}", err);
        } else {
            prop_assert!(is_auth(&err), "{:?}", err);
        }
        prop_assert_eq!(buf.as_slice(), &sealed[..keep]);
        let mut appended = sealed.clone();
        appended.push(extra);
        assert_rejected(&c, b"aad", &appended)?;
    }

    #[test]
    fn another_algorithm_cannot_open(msg in message(), a in algorithms(), b in algorithms()) {
        prop_assume!(a != b);
        let key = Key::generate().unwrap();
        let sealed = aead::seal(a, &key, b"", &msg).unwrap();
        let mut buf = sealed.clone();
        let err = Cipher::new(b, &key).open_in_place(b"", &mut buf).unwrap_err();
        let ok = matches!(err, Error::Aead(AeadError::Authentication | AeadError::Truncated { .. }));
        prop_assert!(ok, "{:?}", err);
        prop_assert_eq!(buf, sealed);
    }
}

#[test]
fn sizes_around_64_kib_and_a_mebibyte() {
    for alg in Algorithm::ALL {
        let key = Key::generate().unwrap();
        let c = Cipher::new(alg, &key);
        for len in [0usize, 1, 65535, 65536, 65537, 3 * 65536, 1 << 20] {
            let msg: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let sealed = c.seal(b"", &msg).unwrap();
            assert_eq!(sealed.len(), len + alg.overhead(), "{alg} {len}");
            assert_eq!(
                c.open(b"", &sealed).unwrap().expose_secret(),
                msg.as_slice(),
                "{alg} {len}"
            );
            let mut buf = msg.clone();
            c.seal_in_place(b"", &mut buf).unwrap();
            c.open_in_place(b"", &mut buf).unwrap();
            assert_eq!(buf, msg, "{alg} {len}");
        }
    }
}

#[test]
fn empty_input_is_truncated_not_a_panic() {
    for alg in Algorithm::ALL {
        let key = Key::generate().unwrap();
        let err = aead::open(alg, &key, b"", b"").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Aead(AeadError::Truncated { minimum, found: 0 }) if minimum == alg.overhead()
            ),
            "{alg}: {err:?}"
        );
    }
}

#[test]
fn two_seals_of_the_same_plaintext_differ() {
    for alg in Algorithm::ALL {
        let key = Key::generate().unwrap();
        let c = Cipher::new(alg, &key);
        let a = c.seal(b"", b"same").unwrap();
        let b = c.seal(b"", b"same").unwrap();
        assert_ne!(a[..alg.nonce_len()], b[..alg.nonce_len()], "{alg}: nonce");
        assert_ne!(a, b, "{alg}");
        let (mut x, mut y) = (b"same".to_vec(), b"same".to_vec());
        let (nx, _) = c.seal_in_place_detached(b"", &mut x).unwrap();
        let (ny, _) = c.seal_in_place_detached(b"", &mut y).unwrap();
        assert_ne!(nx, ny, "{alg}: detached nonce");
        assert_ne!(x, y, "{alg}: detached ciphertext");
        // One-shot seals with the same key draw fresh nonces too.
        let p = aead::seal(alg, &key, b"", b"same").unwrap();
        let q = aead::seal(alg, &key, b"", b"same").unwrap();
        assert_ne!(p, q, "{alg}: one-shot");
    }
}

#[test]
fn nonces_of_the_wrong_length_are_refused() {
    for alg in Algorithm::ALL {
        for len in [0, 11, 12, 13, 23, 24, 25] {
            let result = Nonce::from_slice(alg, &vec![0u8; len]);
            if len == alg.nonce_len() {
                assert_eq!(result.unwrap().as_bytes().len(), len);
            } else {
                assert_eq!(
                    result.unwrap_err(),
                    AeadError::InvalidNonceLength {
                        algorithm: alg.name(),
                        expected: alg.nonce_len(),
                        found: len
                    }
                );
            }
        }
    }
    // A nonce parsed for XChaCha20 (24 bytes) handed to an AES-GCM cipher.
    let key = Key::generate().unwrap();
    let c = Cipher::new(Algorithm::Aes256Gcm, &key);
    let foreign = Nonce::from_slice(Algorithm::XChaCha20Poly1305, &[7; 24]).unwrap();
    let mut buf = vec![1u8; 10];
    let err = c
        .open_in_place_detached(&foreign, b"", &mut buf, &[0; TAG_LEN])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Aead(AeadError::InvalidNonceLength {
                expected: 12,
                found: 24,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(buf, [1u8; 10]);
}

#[test]
fn keys_and_ciphers_print_redacted() {
    // 0x41 is 65 in decimal and 'A' as text: none of those spellings may appear.
    let key = Key::from_secret(angou::secret::SecretArray::from_array([0x41; 32]));
    let text = format!("{key:?}");
    assert!(text.contains("[redacted]"), "{text}");
    assert!(!text.chars().any(|ch| ch.is_ascii_digit()), "{text}");
    assert!(!text.contains("AA"), "{text}");
    for alg in Algorithm::ALL {
        let text = format!("{:?}", Cipher::new(alg, &key));
        assert!(text.contains("[redacted]"), "{text}");
        for leak in ["65, 65", "41, 41", "4141", "AA"] {
            assert!(!text.contains(leak), "{text}");
        }
    }
}

#[test]
fn algorithm_names_parse_and_display() {
    let names = ["aes-256-gcm", "chacha20-poly1305", "xchacha20-poly1305"];
    for (alg, name) in Algorithm::ALL.into_iter().zip(names) {
        assert_eq!(alg.name(), name);
        assert_eq!(alg.to_string(), name);
        assert_eq!(name.parse::<Algorithm>().unwrap(), alg);
    }
    for bad in [
        "",
        "AES-256-GCM",
        "aes-128-gcm",
        "aes256gcm",
        " aes-256-gcm",
        "chacha20",
    ] {
        assert_eq!(
            bad.parse::<Algorithm>().unwrap_err(),
            AeadError::UnknownAlgorithm {
                found: bad.to_owned()
            },
            "{bad:?}"
        );
    }
    let msg = "aes-128-gcm".parse::<Algorithm>().unwrap_err().to_string();
    assert!(
        msg.starts_with("unknown algorithm \"aes-128-gcm\""),
        "{msg}"
    );
}

/// Every backend in the build opens what every other sealed, byte for byte, and refuses the
/// same tampering with the caller's buffer untouched. In the default build this checks
/// RustCrypto against itself and that asking for aws-lc is a clear error.
#[test]
fn backends_interoperate() {
    use angou::Backend;
    use angou::aead::hazmat::LessSafeKey;
    let key = Key::generate().unwrap();
    let sizes = [0usize, 1, 15, 16, 17, 4096, 65536, 65537, 1 << 20];
    for alg in Algorithm::ALL {
        let backends: Vec<Backend> = Backend::available()
            .iter()
            .copied()
            .filter(|b| b.supports_aead(alg))
            .collect();
        for &a in &backends {
            for &b in &backends {
                let sealer = LessSafeKey::with_backend(alg, &key, a).unwrap();
                let opener = LessSafeKey::with_backend(alg, &key, b).unwrap();
                assert_eq!((sealer.backend(), opener.backend()), (a, b));
                let nonce = vec![0x42u8; alg.nonce_len()];
                for &size in &sizes {
                    let msg: Vec<u8> = (0..size).map(|i| (i * 7 + size) as u8).collect();
                    let mut buf = msg.clone();
                    let tag = sealer
                        .seal_in_place_detached(&nonce, b"aad", &mut buf)
                        .unwrap();
                    let ct = buf.clone();
                    // The same backend-independent bytes: a reference seal on RustCrypto.
                    let reference = LessSafeKey::with_backend(alg, &key, Backend::RustCrypto)
                        .unwrap()
                        .seal_in_place_detached(&nonce, b"aad", &mut msg.clone())
                        .unwrap();
                    assert_eq!(tag, reference, "{alg} {a}->{b} {size}: tag");
                    let mut bad_tag = tag;
                    bad_tag[0] ^= 1;
                    let err = opener
                        .open_in_place_detached(&nonce, b"aad", &mut buf, &bad_tag)
                        .unwrap_err();
                    assert_eq!(err, AeadError::Authentication);
                    assert_eq!(buf, ct, "{alg} {a}->{b} {size}: buffer changed on failure");
                    opener
                        .open_in_place_detached(&nonce, b"aad", &mut buf, &tag)
                        .unwrap();
                    assert!(buf == msg, "{alg} {a}->{b} {size}: plaintext");
                }
            }
        }
    }
    let aws = LessSafeKey::with_backend(Algorithm::XChaCha20Poly1305, &key, Backend::AwsLc);
    let expected = if Backend::AwsLc.is_available() {
        AeadError::BackendUnsupported {
            backend: "aws-lc",
            algorithm: "xchacha20-poly1305",
        }
    } else {
        AeadError::BackendUnavailable { backend: "aws-lc" }
    };
    assert_eq!(aws.unwrap_err(), expected);
}
