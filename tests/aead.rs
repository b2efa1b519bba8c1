//! Shared-key AEAD through the public API: round trips and every way a message can be wrong.
#![allow(clippy::unwrap_used)]

use angou::aead::{self, Algorithm, Cipher, Key};
use angou::error::{AeadError, Error};
use proptest::prelude::*;

fn algorithms() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(Algorithm::ALL.to_vec())
}

fn is_auth(e: &Error) -> bool {
    matches!(e, Error::Aead(AeadError::Authentication))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn seal_open_round_trip(alg in algorithms(), aad in prop::collection::vec(any::<u8>(), 0..64),
                            msg in prop::collection::vec(any::<u8>(), 0..3000)) {
        let key = Key::generate().unwrap();
        let c = Cipher::new(alg, &key);
        let sealed = c.seal(&aad, &msg).unwrap();
        prop_assert_eq!(sealed.len(), msg.len() + alg.overhead());
        let opened = c.open(&aad, &sealed).unwrap();
        prop_assert_eq!(opened.expose_secret(), msg.as_slice());
        // One-shot functions and in-place variants agree with the Cipher.
        let opened = aead::open(alg, &key, &aad, &sealed).unwrap();
        prop_assert_eq!(opened.expose_secret(), msg.as_slice());
        let mut buf = msg.clone();
        c.seal_in_place(&aad, &mut buf).unwrap();
        c.open_in_place(&aad, &mut buf).unwrap();
        prop_assert_eq!(&buf, &msg);
        let mut buf = msg.clone();
        let (nonce, tag) = c.seal_in_place_detached(&aad, &mut buf).unwrap();
        c.open_in_place_detached(&nonce, &aad, &mut buf, &tag).unwrap();
        prop_assert_eq!(&buf, &msg);
    }

    #[test]
    fn any_flipped_bit_is_rejected_and_nothing_released(alg in algorithms(),
            msg in prop::collection::vec(any::<u8>(), 0..500), pos in any::<usize>(), bit in 0u8..8) {
        let key = Key::generate().unwrap();
        let c = Cipher::new(alg, &key);
        let mut sealed = c.seal(b"aad", &msg).unwrap();
        let i = pos % sealed.len();
        sealed[i] ^= 1 << bit;
        let before = sealed.clone();
        let err = c.open_in_place(b"aad", &mut sealed).unwrap_err();
        prop_assert!(is_auth(&err), "{:?}", err);
        prop_assert_eq!(sealed, before);
    }

    #[test]
    fn wrong_key_and_wrong_aad_are_rejected(alg in algorithms(), msg in prop::collection::vec(any::<u8>(), 0..500)) {
        let key = Key::generate().unwrap();
        let other = Key::generate().unwrap();
        let sealed = aead::seal(alg, &key, b"context a", &msg).unwrap();
        prop_assert!(is_auth(&aead::open(alg, &other, b"context a", &sealed).unwrap_err()));
        prop_assert!(is_auth(&aead::open(alg, &key, b"context b", &sealed).unwrap_err()));
        prop_assert!(is_auth(&aead::open(alg, &key, b"", &sealed).unwrap_err()));
    }

    #[test]
    fn truncation_is_rejected(alg in algorithms(), msg in prop::collection::vec(any::<u8>(), 0..200), cut in any::<usize>()) {
        let key = Key::generate().unwrap();
        let sealed = aead::seal(alg, &key, b"", &msg).unwrap();
        let keep = cut % sealed.len();
        let err = aead::open(alg, &key, b"", &sealed[..keep]).unwrap_err();
        if keep < alg.overhead() {
            let is_truncated = matches!(err, Error::Aead(AeadError::Truncated { .. }));
            prop_assert!(is_truncated, "{:?}", err);
        } else {
            prop_assert!(is_auth(&err), "{:?}", err);
        }
    }
}

#[test]
fn sizes_zero_and_one_and_a_large_message() {
    for alg in Algorithm::ALL {
        let key = Key::generate().unwrap();
        for len in [0usize, 1, 65535, 65536, 65537, 1 << 20] {
            let msg = vec![0xabu8; len];
            let sealed = aead::seal(alg, &key, b"", &msg).unwrap();
            assert_eq!(
                aead::open(alg, &key, b"", &sealed).unwrap().expose_secret(),
                msg.as_slice()
            );
        }
    }
}

#[test]
fn nonces_differ_between_seals() {
    for alg in Algorithm::ALL {
        let key = Key::generate().unwrap();
        let c = Cipher::new(alg, &key);
        let a = c.seal(b"", b"same").unwrap();
        let b = c.seal(b"", b"same").unwrap();
        assert_ne!(a[..alg.nonce_len()], b[..alg.nonce_len()], "{alg}");
        assert_ne!(a, b);
    }
}

#[test]
fn keys_and_ciphers_print_redacted() {
    let key = Key::generate().unwrap();
    assert_eq!(format!("{key:?}"), "Key([redacted])");
    let c = Cipher::new(Algorithm::Aes256Gcm, &key);
    let text = format!("{c:?}");
    assert!(text.contains("[redacted]") && !text.contains(&hex::encode(key.expose_secret())));
}

#[test]
fn algorithm_names_parse_and_display() {
    for alg in Algorithm::ALL {
        assert_eq!(alg.to_string().parse::<Algorithm>().unwrap(), alg);
    }
    let err = "aes-128-gcm".parse::<Algorithm>().unwrap_err();
    assert!(err.to_string().contains("unknown algorithm"));
}
