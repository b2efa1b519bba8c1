//! Key pairs through the public API: encodings, wrap/unwrap, age compatibility, RSA and openssl.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use angou::error::{Error, KeyError};
use angou::pk::{rsa, x25519};
use angou::secret::{FileKey, SecretArray};
use base64ct::{Base64Unpadded, Encoding};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn x25519_encodings_round_trip(bytes in any::<[u8; 32]>()) {
        let sk = x25519::SecretKey::from_secret(SecretArray::from_array(bytes));
        let text = sk.encode();
        prop_assert!(text.starts_with("AGE-SECRET-KEY-1"));
        let parsed = x25519::SecretKey::parse(&text).unwrap();
        prop_assert_eq!(parsed.expose_secret(), &bytes);
        let pk = sk.public_key();
        prop_assert_eq!(x25519::PublicKey::parse(&pk.encode()).unwrap(), pk);
        prop_assert_eq!(pk.encode().parse::<x25519::PublicKey>().unwrap(), pk);
    }

    #[test]
    fn x25519_wrap_round_trip_and_tamper(key in any::<[u8; 16]>(), pos in 0usize..64, bit in 0u8..8) {
        let id = x25519::SecretKey::generate().unwrap();
        let fk = FileKey::from_array(key);
        let w = id.public_key().wrap(&fk).unwrap();
        let unwrapped = id.unwrap(&w).unwrap();
        prop_assert_eq!(unwrapped.expose_secret(), &key);
        let mut bad = w.clone();
        if pos < 32 { bad.ephemeral_share[pos] ^= 1 << bit } else { bad.body[pos - 32] ^= 1 << bit }
        let err = id.unwrap(&bad).unwrap_err();
        prop_assert!(matches!(err, KeyError::UnwrapFailed | KeyError::LowOrderPoint), "{:?}", err);
    }
}

#[test]
fn x25519_wrong_identity_and_low_order_points() {
    let a = x25519::SecretKey::generate().unwrap();
    let b = x25519::SecretKey::generate().unwrap();
    let w = a.public_key().wrap(&FileKey::generate().unwrap()).unwrap();
    assert_eq!(b.unwrap(&w).unwrap_err(), KeyError::UnwrapFailed);
    let zero = x25519::PublicKey::from_bytes([0; 32]);
    assert!(matches!(
        zero.wrap(&FileKey::generate().unwrap()),
        Err(Error::Key(KeyError::LowOrderPoint))
    ));
    let mut low = w.clone();
    low.ephemeral_share = [0; 32];
    assert_eq!(a.unwrap(&low).unwrap_err(), KeyError::LowOrderPoint);
}

#[test]
fn x25519_rejects_bad_text() {
    let pk = x25519::SecretKey::generate().unwrap().public_key().encode();
    for bad in [
        pk.to_uppercase().replacen("AGE1", "age1", 1), // mixed case
        pk.replacen("age1", "agf1", 1),                // wrong HRP / checksum
        format!("{pk}q"),                              // extra data
        pk[..pk.len() - 1].to_owned(),                 // truncated
        String::new(),
    ] {
        assert!(x25519::PublicKey::parse(&bad).is_err(), "{bad}");
    }
    let err = x25519::SecretKey::parse("AGE-SECRET-KEY-1QQQQ").unwrap_err();
    assert!(matches!(err, KeyError::InvalidEncoding { .. }));
    assert!(
        !err.to_string().contains("QQQQ"),
        "error echoes key text: {err}"
    );
}

/// Byte compatibility with age: unwrap the X25519 stanza of a CCTV vector made by age.
#[test]
fn unwraps_an_age_x25519_stanza() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/age-cctv/testdata/x25519");
    let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .trim()
            .to_owned()
    };
    let id = x25519::SecretKey::parse(&field("identity: ")).unwrap();
    let share = Base64Unpadded::decode_vec(&field("-> X25519 ")).unwrap();
    let stanza_line = text
        .lines()
        .position(|l| l.starts_with("-> X25519 "))
        .unwrap();
    let body = Base64Unpadded::decode_vec(text.lines().nth(stanza_line + 1).unwrap()).unwrap();
    let w = x25519::WrappedKey {
        ephemeral_share: share.try_into().unwrap(),
        body: body.try_into().unwrap(),
    };
    let fk = id.unwrap(&w).unwrap();
    assert_eq!(hex::encode(fk.expose_secret()), field("file key: "));
}

fn rsa2048() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::PrivateKey::generate(2048).unwrap())
}

#[test]
fn rsa_round_trips_labels_and_limits() {
    let key = rsa2048();
    let public = key.public_key();
    assert_eq!(
        (public.bits(), public.size(), public.max_plaintext_len()),
        (2048, 256, 190)
    );
    let max = vec![1u8; 190];
    let ct = public.encrypt(b"label", &max).unwrap();
    assert_eq!(ct.len(), 256);
    assert_eq!(
        key.decrypt(b"label", &ct).unwrap().expose_secret(),
        max.as_slice()
    );
    assert_eq!(
        key.decrypt(b"other", &ct).unwrap_err(),
        KeyError::UnwrapFailed
    );
    assert_eq!(
        key.decrypt(b"label", &ct[..255]).unwrap_err(),
        KeyError::UnwrapFailed
    );
    let mut flipped = ct.clone();
    flipped[100] ^= 1;
    assert_eq!(
        key.decrypt(b"label", &flipped).unwrap_err(),
        KeyError::UnwrapFailed
    );
    let other = rsa::PrivateKey::generate(2048).unwrap();
    assert_eq!(
        other.decrypt(b"label", &ct).unwrap_err(),
        KeyError::UnwrapFailed
    );
    assert!(matches!(
        public.encrypt(b"label", &[0u8; 191]),
        Err(Error::Key(KeyError::PlaintextTooLong {
            max: 190,
            found: 191
        }))
    ));
    assert!(format!("{key:?}") == "[redacted]");
}

#[test]
fn rsa_pem_round_trips_and_size_rules() {
    let key = rsa2048();
    let pem = key.to_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let again = rsa::PrivateKey::from_pem(&pem).unwrap();
    assert_eq!(again.public_key(), key.public_key());
    let pub_pem = key.public_key().to_pem();
    assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert_eq!(
        rsa::PublicKey::from_pem(&pub_pem).unwrap(),
        key.public_key()
    );
    assert!(matches!(
        rsa::PrivateKey::generate(1024),
        Err(Error::Key(KeyError::KeyTooSmall { bits: 1024 }))
    ));
    assert!(matches!(
        rsa::PrivateKey::generate(5000),
        Err(Error::Key(KeyError::UnsupportedKeySize { bits: 5000 }))
    ));
    assert!(rsa::PrivateKey::from_pem("not a key").is_err());
    assert!(
        rsa::PublicKey::from_pem(&pem).is_err(),
        "a private key is not a public key"
    );
}

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed to run this test (.ci/run installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const OAEP: [&str; 6] = [
    "-pkeyopt",
    "rsa_padding_mode:oaep",
    "-pkeyopt",
    "rsa_oaep_md:sha256",
    "-pkeyopt",
    "rsa_mgf1_md:sha256",
];

#[test]
fn openssl_interop_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // openssl key -> angou
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "o.pem",
        ],
        d,
    );
    let key =
        rsa::PrivateKey::from_pem(&std::fs::read_to_string(d.join("o.pem")).unwrap()).unwrap();
    std::fs::write(d.join("msg"), b"sixteen byte key").unwrap();
    let mut args = vec![
        "pkeyutl", "-encrypt", "-inkey", "o.pem", "-in", "msg", "-out", "ct",
    ];
    args.extend(OAEP);
    openssl(&args, d);
    let ct = std::fs::read(d.join("ct")).unwrap();
    // openssl uses an empty label.
    assert_eq!(
        key.decrypt(b"", &ct).unwrap().expose_secret(),
        b"sixteen byte key"
    );
    // angou key -> openssl
    let mine = rsa2048();
    std::fs::write(d.join("a.pem"), mine.to_pem().unwrap().as_bytes()).unwrap();
    openssl(&["pkey", "-in", "a.pem", "-noout"], d);
    std::fs::write(d.join("a.pub"), mine.public_key().to_pem()).unwrap();
    openssl(&["pkey", "-pubin", "-in", "a.pub", "-noout"], d);
    let ct = mine.public_key().encrypt(b"", b"from angou").unwrap();
    std::fs::write(d.join("ct2"), ct).unwrap();
    let mut args = vec!["pkeyutl", "-decrypt", "-inkey", "a.pem", "-in", "ct2"];
    args.extend(OAEP);
    assert_eq!(openssl(&args, d), b"from angou");
    // traditional PKCS#1 keys load; 1024-bit keys are refused with their size.
    openssl(&["genrsa", "-traditional", "-out", "t.pem", "2048"], d);
    let t = std::fs::read_to_string(d.join("t.pem")).unwrap();
    assert!(t.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert_eq!(rsa::PrivateKey::from_pem(&t).unwrap().bits(), 2048);
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            "s.pem",
        ],
        d,
    );
    let small = std::fs::read_to_string(d.join("s.pem")).unwrap();
    assert_eq!(
        rsa::PrivateKey::from_pem(&small).unwrap_err(),
        KeyError::KeyTooSmall { bits: 1024 }
    );
}
