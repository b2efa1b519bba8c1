//! Key pairs through the public API: X25519 encodings and stanza wrapping (checked against
//! stanzas written by age, from the C2SP CCTV kit in `tests/data/age-cctv`), RSA-OAEP-SHA-256
//! keys, limits and PEM, and interoperability with the `openssl` command in both directions.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use angou::error::{Error, KeyError};
use angou::pk::{rsa, x25519};
use angou::secret::{FileKey, SecretArray};
use base64ct::{Base64Unpadded, Encoding};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

#[path = "support/tools.rs"]
mod tools;

/// Whether the `openssl` command is here (see `tools::available`).
fn have_openssl() -> bool {
    tools::available("openssl", "OpenSSL 3 (Debian package openssl)")
}

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

/// X25519 public keys whose shared secret with any (clamped) scalar is all zeros: the
/// points of order 1, 2, 4 and 8 and their non-canonical encodings (u + p).
const LOW_ORDER: [&str; 7] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

fn low_order_points() -> impl Iterator<Item = x25519::PublicKey> {
    LOW_ORDER
        .iter()
        .map(|h| x25519::PublicKey::from_bytes(hex::decode(h).unwrap().try_into().unwrap()))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn x25519_encodings_round_trip(bytes in any::<[u8; 32]>()) {
        let sk = x25519::SecretKey::from_secret(SecretArray::from_array(bytes));
        let text = sk.encode();
        prop_assert!(text.starts_with("AGE-SECRET-KEY-1"));
        prop_assert_eq!(text.to_uppercase(), text.as_str());
        let parsed = x25519::SecretKey::parse(&text).unwrap();
        prop_assert_eq!(parsed.expose_secret(), &bytes);
        // Bech32 is case-insensitive as long as the case is not mixed.
        let lower = x25519::SecretKey::parse(&text.to_lowercase()).unwrap();
        prop_assert_eq!(lower.expose_secret(), &bytes);

        let pk = sk.public_key();
        let encoded = pk.encode();
        prop_assert!(encoded.starts_with("age1"));
        prop_assert_eq!(pk.to_string(), encoded.as_str());
        prop_assert_eq!(x25519::PublicKey::parse(&encoded).unwrap(), pk);
        prop_assert_eq!(encoded.parse::<x25519::PublicKey>().unwrap(), pk);
        prop_assert_eq!(x25519::PublicKey::from_bytes(pk.to_bytes()), pk);
        prop_assert_eq!(parsed.public_key(), pk);
    }

    #[test]
    fn x25519_public_keys_round_trip(bytes in any::<[u8; 32]>()) {
        let pk = x25519::PublicKey::from_bytes(bytes);
        prop_assert_eq!(x25519::PublicKey::parse(&pk.encode()).unwrap().to_bytes(), bytes);
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
fn x25519_wraps_use_fresh_shares() {
    let id = x25519::SecretKey::generate().unwrap();
    let fk = FileKey::generate().unwrap();
    let a = id.public_key().wrap(&fk).unwrap();
    let b = id.public_key().wrap(&fk).unwrap();
    assert_ne!(a.ephemeral_share, b.ephemeral_share);
    assert_ne!(a.body, b.body);
}

#[test]
fn x25519_wrong_identity_cannot_unwrap() {
    let a = x25519::SecretKey::generate().unwrap();
    let b = x25519::SecretKey::generate().unwrap();
    let w = a.public_key().wrap(&FileKey::generate().unwrap()).unwrap();
    assert_eq!(b.unwrap(&w).unwrap_err(), KeyError::UnwrapFailed);
}

#[test]
fn x25519_low_order_points_are_refused() {
    let id = x25519::SecretKey::generate().unwrap();
    let fk = FileKey::generate().unwrap();
    let good = id.public_key().wrap(&fk).unwrap();
    for (point, hex) in low_order_points().zip(LOW_ORDER) {
        // As a recipient: nothing is wrapped.
        assert!(
            matches!(point.wrap(&fk), Err(Error::Key(KeyError::LowOrderPoint))),
            "recipient {hex}"
        );
        // As a stanza's ephemeral share.
        let mut bad = good.clone();
        bad.ephemeral_share = point.to_bytes();
        assert_eq!(
            id.unwrap(&bad).unwrap_err(),
            KeyError::LowOrderPoint,
            "share {hex}"
        );
        assert_eq!(
            id.diffie_hellman(&point).unwrap_err(),
            KeyError::LowOrderPoint,
            "{hex}"
        );
    }
}

#[test]
fn x25519_rejects_bad_text() {
    let pk = x25519::SecretKey::generate().unwrap().public_key().encode();
    let mut mixed = pk.clone();
    mixed.replace_range(..4, "AGE1");
    for bad in [
        mixed,                          // mixed case
        pk.replacen("age1", "agf1", 1), // wrong HRP, so wrong checksum
        format!("{pk}q"),               // extra data
        pk[..pk.len() - 1].to_owned(),  // truncated
        String::new(),
    ] {
        assert!(
            matches!(
                x25519::PublicKey::parse(&bad),
                Err(KeyError::InvalidEncoding { .. })
            ),
            "{bad}"
        );
    }
    // An identity is not a recipient and vice versa.
    let sk = x25519::SecretKey::generate().unwrap();
    assert!(x25519::PublicKey::parse(&sk.encode()).is_err());
    assert!(x25519::SecretKey::parse(&pk).is_err());
    let err = x25519::SecretKey::parse("AGE-SECRET-KEY-1QQQQ").unwrap_err();
    assert!(matches!(err, KeyError::InvalidEncoding { .. }));
    assert!(
        !err.to_string().contains("QQQQ"),
        "error echoes key text: {err}"
    );
    assert_eq!(format!("{sk:?}"), "[redacted]");
}

/// One file of the C2SP CCTV age kit: its `key: value` header and its X25519 stanzas.
struct CctvFile {
    fields: Vec<(String, String)>,
    stanzas: Vec<x25519::WrappedKey>,
}

impl CctvFile {
    fn read(name: &str) -> CctvFile {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/age-cctv/testdata")
            .join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // The vector header and the age header are text; the payload after them is not.
        let text = String::from_utf8_lossy(&bytes);
        let (head, age) = text.split_once("\n\n").unwrap();
        let fields = head
            .lines()
            .map(|l| {
                let (k, v) = l.split_once(": ").unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let mut lines = age.lines();
        assert_eq!(lines.next(), Some("age-encryption.org/v1"), "{name}");
        let mut stanzas = Vec::new();
        while let Some(line) = lines.next() {
            if line.starts_with("---") {
                break;
            }
            if let Some(share) = line.strip_prefix("-> X25519 ") {
                // A 32-byte body is 43 base64 characters: a single, final, short line.
                let body = lines.next().unwrap();
                stanzas.push(x25519::WrappedKey {
                    ephemeral_share: b64(share).try_into().unwrap(),
                    body: b64(body).try_into().unwrap(),
                });
            }
        }
        CctvFile { fields, stanzas }
    }

    fn field(&self, key: &str) -> &str {
        &self.fields.iter().find(|(k, _)| k == key).unwrap().1
    }

    fn identity(&self) -> x25519::SecretKey {
        x25519::SecretKey::parse(self.field("identity")).unwrap()
    }
}

/// age's stanza encoding: standard alphabet, no padding, canonical.
fn b64(text: &str) -> Vec<u8> {
    Base64Unpadded::decode_vec(text).unwrap()
}

/// Byte compatibility with age: stanzas written by age unwrap to the vector's file key.
#[test]
fn unwraps_age_x25519_stanzas() {
    for name in ["x25519", "x25519_grease"] {
        let v = CctvFile::read(name);
        assert_eq!(v.field("expect"), "success");
        assert_eq!(v.stanzas.len(), 1, "{name}");
        let fk = v.identity().unwrap(&v.stanzas[0]).unwrap();
        assert_eq!(
            hex::encode(fk.expose_secret()),
            v.field("file key"),
            "{name}"
        );
    }
    // Two recipients: exactly one stanza is ours; the other is refused as not ours.
    let v = CctvFile::read("x25519_multiple_recipients");
    assert_eq!(v.field("expect"), "success");
    let id = v.identity();
    let results: Vec<_> = v.stanzas.iter().map(|w| id.unwrap(w)).collect();
    assert_eq!(results.len(), 2);
    let opened: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(opened.len(), 1);
    assert_eq!(hex::encode(opened[0].expose_secret()), v.field("file key"));
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(KeyError::UnwrapFailed)))
    );
}

/// age's negative stanza vectors, at the stanza level.
#[test]
fn refuses_bad_age_x25519_stanzas() {
    for (name, expected) in [
        ("x25519_bad_tag", KeyError::UnwrapFailed),
        ("x25519_no_match", KeyError::UnwrapFailed),
        ("x25519_low_order", KeyError::LowOrderPoint),
        ("x25519_identity", KeyError::LowOrderPoint),
    ] {
        let v = CctvFile::read(name);
        assert_eq!(v.stanzas.len(), 1, "{name}");
        assert_eq!(
            v.identity().unwrap(&v.stanzas[0]).unwrap_err(),
            expected,
            "{name}"
        );
    }
}

/// One 2048-bit key for the whole file: generation is the slow part.
fn rsa2048() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::PrivateKey::generate(2048).unwrap())
}

#[test]
fn rsa_encrypt_decrypt_with_labels() {
    let key = rsa2048();
    let public = key.public_key();
    assert_eq!(key.bits(), 2048);
    assert_eq!(
        (public.bits(), public.size(), public.max_plaintext_len()),
        (2048, 256, 190)
    );
    let long_label = vec![0x5a; 1000];
    let labels: [&[u8]; 4] = [b"", b"label", b"label\0", &long_label];
    for label in labels {
        for msg in [&b""[..], b"k", &[7u8; 32], &[9u8; 190]] {
            let ct = public.encrypt(label, msg).unwrap();
            assert_eq!(ct.len(), 256);
            assert_eq!(key.decrypt(label, &ct).unwrap().expose_secret(), msg);
            for other in labels {
                if other != label {
                    assert_eq!(key.decrypt(other, &ct).unwrap_err(), KeyError::UnwrapFailed);
                }
            }
        }
    }
    // Randomised padding: the same message never encrypts the same way twice.
    assert_ne!(
        public.encrypt(b"", b"same").unwrap(),
        public.encrypt(b"", b"same").unwrap()
    );
}

/// Ciphertexts from each backend decrypt on every backend in the build, and a wrong label
/// fails the same way everywhere.
#[test]
fn rsa_backends_interoperate() {
    use angou::Backend;
    let key = rsa2048();
    let public = key.public_key();
    for &a in Backend::available() {
        for &b in Backend::available() {
            for label in [&b""[..], b"angou"] {
                let ct = public.encrypt_with(a, label, b"file key 16 byte").unwrap();
                assert_eq!(ct.len(), 256);
                let pt = key.decrypt_with(b, label, &ct).unwrap();
                assert_eq!(pt.expose_secret(), b"file key 16 byte", "{a} -> {b}");
                assert_eq!(
                    key.decrypt_with(b, b"other", &ct).unwrap_err(),
                    KeyError::UnwrapFailed,
                    "{a} -> {b}"
                );
            }
        }
    }
    // The default path runs on the build's RSA backend.
    assert_eq!(public.backend(), Backend::for_rsa());
    assert_eq!(key.backend(), Backend::for_rsa());
    if !Backend::AwsLc.is_available() {
        assert!(public.encrypt_with(Backend::AwsLc, b"", b"k").is_err());
        assert!(key.decrypt_with(Backend::AwsLc, b"", &[0u8; 256]).is_err());
    }
}

#[test]
fn rsa_rejections_are_uniform() {
    let key = rsa2048();
    let public = key.public_key();
    let ct = public.encrypt(b"label", b"sixteen byte key").unwrap();
    let mut cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        ct[..255].to_vec(),
        [&ct[..], &[0]].concat(),
        [&[0], &ct[..]].concat(),
        vec![0; 256],
        vec![0xff; 256],
    ];
    for i in [0, 1, 100, 255] {
        let mut flipped = ct.clone();
        flipped[i] ^= 0x01;
        cases.push(flipped);
    }
    for (i, bad) in cases.iter().enumerate() {
        assert_eq!(
            key.decrypt(b"label", bad).unwrap_err(),
            KeyError::UnwrapFailed,
            "case {i}"
        );
    }
    // A different key.
    let other = rsa::PrivateKey::generate(2048).unwrap();
    assert_eq!(
        other.decrypt(b"label", &ct).unwrap_err(),
        KeyError::UnwrapFailed
    );
}

#[test]
fn rsa_plaintext_limit() {
    let public = rsa2048().public_key();
    let max = public.max_plaintext_len();
    assert!(public.encrypt(b"", &vec![1; max]).is_ok());
    let err = public.encrypt(b"", &vec![1; max + 1]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Key(KeyError::PlaintextTooLong {
                max: 190,
                found: 191
            })
        ),
        "{err:?}"
    );
}

#[test]
fn rsa_generation_sizes() {
    for bits in [0, 512, 1024, 2047] {
        assert!(
            matches!(
                rsa::PrivateKey::generate(bits),
                Err(Error::Key(KeyError::KeyTooSmall { bits: b })) if b == bits
            ),
            "{bits}"
        );
    }
    // Sizes angou reads but does not generate, and sizes above what it reads.
    for bits in [2049, 4095, 5000, 8192, 16384] {
        assert!(
            matches!(
                rsa::PrivateKey::generate(bits),
                Err(Error::Key(KeyError::UnsupportedKeySize { bits: b })) if b == bits
            ),
            "{bits}"
        );
    }
}

#[test]
fn rsa_pem_round_trips() {
    let key = rsa2048();
    let pem = key.to_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
    assert!(!pem.contains('\r'));
    let again = rsa::PrivateKey::from_pem(&pem).unwrap();
    assert_eq!(again.public_key(), key.public_key());
    assert_eq!(
        *again.to_pem().unwrap(),
        *pem,
        "PKCS#8 encoding is canonical"
    );
    // The reloaded key decrypts what the original's public key encrypted.
    let ct = key.public_key().encrypt(b"l", b"m").unwrap();
    assert_eq!(again.decrypt(b"l", &ct).unwrap().expose_secret(), b"m");

    let public = key.public_key();
    let pub_pem = public.to_pem();
    assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    let parsed = rsa::PublicKey::from_pem(&pub_pem).unwrap();
    assert_eq!(parsed, public);
    assert_eq!(parsed.to_pem(), pub_pem);
    assert_eq!(rsa::PublicKey::from_der(&public.to_der()).unwrap(), public);
    assert_eq!(format!("{public:?}"), "rsa::PublicKey(2048 bits)");
    assert_eq!(format!("{key:?}"), "[redacted]");

    // Wrong kinds of input.
    let invalid = |r: Result<_, KeyError>| matches!(r, Err(KeyError::InvalidEncoding { .. }));
    assert!(invalid(rsa::PrivateKey::from_pem("not a key").map(drop)));
    assert!(invalid(rsa::PrivateKey::from_pem(&pub_pem).map(drop)));
    assert!(invalid(rsa::PublicKey::from_pem(&pem).map(drop)));
    let corrupt = pem.replacen("MII", "MIJ", 1);
    assert!(rsa::PrivateKey::from_pem(&corrupt).is_err());
    assert!(invalid(
        rsa::PrivateKey::from_der(b"\x30\x03\x02\x01\x00").map(drop)
    ));
}

/// Runs `openssl` in `dir`. Callers check `have_openssl()` first: a missing openssl skips
/// with a printed reason, or fails under `ANGOU_REQUIRE_TOOLS=1`.
fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("could not run `openssl` ({e}): install OpenSSL 3 (the CI script does) to run the interop tests")
        });
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `pkeyutl` options for RSA-OAEP with SHA-256 for the label hash and MGF1.
const OAEP_SHA256: [&str; 6] = [
    "-pkeyopt",
    "rsa_padding_mode:oaep",
    "-pkeyopt",
    "rsa_oaep_md:sha256",
    "-pkeyopt",
    "rsa_mgf1_md:sha256",
];

fn pkeyutl(dir: &Path, op: &str, key_args: &[&str], input: &str, extra: &[&str]) -> Vec<u8> {
    let mut args = vec!["pkeyutl", op];
    args.extend_from_slice(key_args);
    args.extend_from_slice(&["-in", input]);
    args.extend_from_slice(&OAEP_SHA256);
    args.extend_from_slice(extra);
    openssl(&args, dir)
}

#[test]
fn openssl_keys_and_ciphertexts_work_in_angou() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
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
    let pem = std::fs::read_to_string(d.join("o.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let key = rsa::PrivateKey::from_pem(&pem).unwrap();
    assert_eq!(key.bits(), 2048);

    std::fs::write(d.join("msg"), b"sixteen byte key").unwrap();
    let ct = pkeyutl(d, "-encrypt", &["-inkey", "o.pem"], "msg", &[]);
    // openssl's default OAEP label is empty.
    assert_eq!(
        key.decrypt(b"", &ct).unwrap().expose_secret(),
        b"sixteen byte key"
    );
    assert_eq!(key.decrypt(b"x", &ct).unwrap_err(), KeyError::UnwrapFailed);
    let ct = pkeyutl(
        d,
        "-encrypt",
        &["-inkey", "o.pem"],
        "msg",
        &[
            "-pkeyopt",
            &format!("rsa_oaep_label:{}", hex::encode("angou")),
        ],
    );
    assert_eq!(
        key.decrypt(b"angou", &ct).unwrap().expose_secret(),
        b"sixteen byte key"
    );

    // Public keys in both PEM forms openssl writes.
    let spki = openssl(&["pkey", "-in", "o.pem", "-pubout"], d);
    let spki = rsa::PublicKey::from_pem(std::str::from_utf8(&spki).unwrap()).unwrap();
    assert_eq!(spki, key.public_key());
    let pkcs1 = openssl(&["rsa", "-in", "o.pem", "-RSAPublicKey_out"], d);
    let pkcs1 = std::str::from_utf8(&pkcs1).unwrap();
    assert!(pkcs1.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
    assert_eq!(rsa::PublicKey::from_pem(pkcs1).unwrap(), key.public_key());

    // Traditional PKCS#1 private keys load.
    openssl(&["genrsa", "-traditional", "-out", "t.pem", "2048"], d);
    let t = std::fs::read_to_string(d.join("t.pem")).unwrap();
    assert!(t.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert_eq!(rsa::PrivateKey::from_pem(&t).unwrap().bits(), 2048);

    // Passphrase-protected keys are refused with a reason, not misread.
    openssl(
        &[
            "pkey", "-in", "o.pem", "-aes256", "-passout", "pass:x", "-out", "e.pem",
        ],
        d,
    );
    let e = std::fs::read_to_string(d.join("e.pem")).unwrap();
    assert!(matches!(
        rsa::PrivateKey::from_pem(&e),
        Err(KeyError::InvalidEncoding { .. })
    ));

    // A 1024-bit key is refused with its size, as a private and as a public key.
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
    let small_pub = openssl(&["pkey", "-in", "s.pem", "-pubout"], d);
    assert_eq!(
        rsa::PublicKey::from_pem(std::str::from_utf8(&small_pub).unwrap()).unwrap_err(),
        KeyError::KeyTooSmall { bits: 1024 }
    );
}

#[test]
fn angou_keys_and_ciphertexts_work_in_openssl() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = rsa2048();
    std::fs::write(d.join("a.pem"), key.to_pem().unwrap().as_bytes()).unwrap();
    openssl(&["pkey", "-in", "a.pem", "-noout"], d);
    std::fs::write(d.join("a.pub"), key.public_key().to_pem()).unwrap();
    openssl(&["pkey", "-pubin", "-in", "a.pub", "-noout"], d);
    // openssl derives the same public key from angou's private key.
    let derived = openssl(&["pkey", "-in", "a.pem", "-pubout"], d);
    assert_eq!(
        std::str::from_utf8(&derived).unwrap(),
        key.public_key().to_pem()
    );

    let ct = key.public_key().encrypt(b"", b"from angou").unwrap();
    std::fs::write(d.join("ct"), ct).unwrap();
    let pt = pkeyutl(d, "-decrypt", &["-inkey", "a.pem"], "ct", &[]);
    assert_eq!(pt, b"from angou");

    let ct = key.public_key().encrypt(b"angou", b"with a label").unwrap();
    std::fs::write(d.join("ct2"), ct).unwrap();
    let label = format!("rsa_oaep_label:{}", hex::encode("angou"));
    let pt = pkeyutl(
        d,
        "-decrypt",
        &["-inkey", "a.pem"],
        "ct2",
        &["-pkeyopt", &label],
    );
    assert_eq!(pt, b"with a label");

    // And openssl encrypting to angou's public key file.
    std::fs::write(d.join("msg"), b"to angou").unwrap();
    let ct = pkeyutl(d, "-encrypt", &["-pubin", "-inkey", "a.pub"], "msg", &[]);
    assert_eq!(key.decrypt(b"", &ct).unwrap().expose_secret(), b"to angou");
}
