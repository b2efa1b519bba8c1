//! The C2SP CCTV age test kit (tests/data/age-cctv, copied unmodified; see its README).
//!
//! Each vector names the expected outcome; this harness checks it, and checks the SHA-256 of
//! all plaintext released — also for `payload failure` vectors, where only the authenticated
//! prefix may be released. One test per vector file, none ignored: the 19 post-quantum
//! `hybrid*` vectors run through `angou::pk::mlkem768x25519` (identities `AGE-SECRET-KEY-PQ-1…`).
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::{BufReader, Read};
use std::path::Path;

use angou::error::{Error, FormatError, KeyError};
use angou::format::{Decryptor, Input};
use angou::passphrase::PassphraseIdentity;
use angou::pk::mlkem768x25519;
use angou::pk::x25519::SecretKey;
use angou::recipient::Identity;
use angou::secret::SecretVec;
use sha2::{Digest, Sha256};

struct Vector {
    expect: String,
    payload: Option<String>,
    identities: Vec<String>,
    passphrases: Vec<String>,
    armored: bool,
    body: Vec<u8>,
}

fn parse(bytes: &[u8]) -> Vector {
    let split = bytes.windows(2).position(|w| w == b"\n\n").unwrap();
    let head = std::str::from_utf8(&bytes[..split]).unwrap();
    let mut v = Vector {
        expect: String::new(),
        payload: None,
        identities: vec![],
        passphrases: vec![],
        armored: false,
        body: bytes[split + 2..].to_vec(),
    };
    let mut compressed = false;
    for line in head.lines() {
        let (k, val) = line.split_once(": ").unwrap();
        match k {
            "expect" => v.expect = val.into(),
            "payload" => v.payload = Some(val.into()),
            "identity" => v.identities.push(val.into()),
            "passphrase" => v.passphrases.push(val.into()),
            "armored" => v.armored = val == "yes",
            "compressed" => compressed = val == "zlib",
            "file key" | "comment" => {}
            other => panic!("unknown vector header key {other}"),
        }
    }
    if compressed {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(&v.body[..])
            .read_to_end(&mut out)
            .unwrap();
        v.body = out;
    }
    v
}

/// Runs one vector: `(outcome, released plaintext)`.
fn run(v: &Vector) -> (Result<(), Error>, Vec<u8>) {
    let mut ids: Vec<Box<dyn Identity>> = Vec::new();
    for i in &v.identities {
        if i.starts_with("AGE-SECRET-KEY-PQ-1") {
            ids.push(Box::new(mlkem768x25519::SecretKey::parse(i).unwrap()));
        } else {
            ids.push(Box::new(SecretKey::parse(i).unwrap()));
        }
    }
    for p in &v.passphrases {
        ids.push(Box::new(PassphraseIdentity::new(SecretVec::from_vec(
            p.as_bytes().to_vec(),
        ))));
    }
    let mut released = Vec::new();
    let outcome = (|| {
        let input = Input::detect(BufReader::new(&v.body[..])).map_err(Error::from_io)?;
        if input.is_armored() != v.armored {
            return Err(Error::Io(std::io::Error::other(
                "armor detection disagrees with the vector",
            )));
        }
        let d = Decryptor::new(input)?;
        let mut r = d.decrypt(ids.iter().map(|b| b.as_ref()))?;
        let mut buf = [0u8; 4096];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => released.extend_from_slice(&buf[..n]),
                Err(e) => return Err(Error::from_io(e)),
            }
        }
    })();
    (outcome, released)
}

fn kind_matches(expect: &str, result: &Result<(), Error>) -> bool {
    use FormatError as F;
    matches!(
        (expect, result),
        ("success", Ok(()))
            | ("no match", Err(Error::Format(F::NoMatch)))
            | ("HMAC failure", Err(Error::Format(F::HeaderMac)))
            | ("armor failure", Err(Error::Format(F::Armor { .. })))
            | (
                "header failure",
                Err(Error::Format(
                    F::MalformedHeader { .. }
                        | F::MalformedStanza { .. }
                        | F::UnknownVersion { .. }
                        | F::MixedScrypt
                        | F::WorkFactorTooLarge { .. }
                        | F::HeaderTooLarge { .. }
                        | F::TooManyStanzas { .. }
                        | F::Empty
                        | F::Truncated {
                            what: "header" | "payload nonce",
                        },
                ) | Error::Key(KeyError::LowOrderPoint),),
            )
            | (
                "payload failure",
                Err(Error::Format(
                    F::PayloadAuthentication | F::Truncated { .. } | F::TrailingData
                )),
            )
    )
}

/// Runs one vector file and checks outcome, released-plaintext hash, and that nothing
/// was released where the vector expects nothing.
fn check(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/age-cctv/testdata")
        .join(name);
    let v = parse(&fs::read(path).unwrap());
    let (result, released) = run(&v);
    assert!(
        kind_matches(&v.expect, &result),
        "{name}: expected {}, got {result:?}",
        v.expect
    );
    match &v.payload {
        Some(h) => assert_eq!(
            hex::encode(Sha256::digest(&released)),
            *h,
            "{name}: released plaintext differs"
        ),
        None => assert!(released.is_empty(), "{name}: released plaintext"),
    }
}

macro_rules! vectors {
    ($($(#[$attr:meta])* $name:ident,)*) => {
        $(
            #[test]
            $(#[$attr])*
            fn $name() {
                check(stringify!($name));
            }
        )*

        /// Every file in the kit has a test above: none is silently left out.
        #[test]
        fn every_vector_file_has_a_test() {
            let mut listed = vec![$(stringify!($name)),*];
            listed.sort_unstable();
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/age-cctv/testdata");
            let mut files: Vec<String> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            files.sort_unstable();
            assert_eq!(listed, files);
        }
    };
}

vectors! {
    armor_crlf,
    armor_empty,
    armor_empty_last_line,
    armor_empty_line_begin,
    armor_empty_line_end,
    armor_eol_between_padding,
    armor_full_last_line,
    armor_garbage_encoded,
    armor_garbage_leading,
    armor_garbage_trailing,
    armor_header_crlf,
    armor_headers,
    armor_hybrid,
    armor_invalid_character_header,
    armor_invalid_character_payload,
    armor_long_line,
    armor_lowercase,
    armor_no_end_line,
    armor_no_eol,
    armor_no_match,
    armor_no_padding,
    armor_not_canonical,
    armor_pgp_checksum,
    armor_scrypt,
    armor_short_line,
    armor_whitespace_begin,
    armor_whitespace_end,
    armor_whitespace_eol,
    armor_whitespace_last_line,
    armor_whitespace_line_start,
    armor_whitespace_outside,
    armor_wrong_type,
    armor_x25519,
    empty,
    header_crlf,
    hmac_bad,
    hmac_extra_space,
    hmac_garbage,
    hmac_missing,
    hmac_no_space,
    hmac_not_canonical,
    hmac_trailing_space,
    hmac_truncated,
    hybrid,
    hybrid_and_x25519,
    hybrid_bad_tag,
    hybrid_currupted_enc_mlkem,
    hybrid_currupted_enc_x25519,
    hybrid_extra_argument,
    hybrid_grease,
    hybrid_identity,
    hybrid_long_file_key,
    hybrid_long_share,
    hybrid_low_order,
    hybrid_multiple_recipients,
    hybrid_no_match,
    hybrid_not_canonical_body,
    hybrid_not_canonical_enc,
    hybrid_short_share,
    hybrid_uppercase,
    hybrid_x25519_arg,
    scrypt,
    scrypt_and_x25519,
    scrypt_bad_tag,
    scrypt_double,
    scrypt_extra_argument,
    scrypt_long_file_key,
    scrypt_no_match,
    scrypt_not_canonical_body,
    scrypt_not_canonical_salt,
    scrypt_salt_long,
    scrypt_salt_missing,
    scrypt_salt_short,
    scrypt_uppercase,
    scrypt_work_factor_23,
    scrypt_work_factor_hex,
    scrypt_work_factor_leading_garbage,
    scrypt_work_factor_leading_plus,
    scrypt_work_factor_leading_zero_decimal,
    scrypt_work_factor_leading_zero_octal,
    scrypt_work_factor_missing,
    scrypt_work_factor_negative,
    scrypt_work_factor_overflow,
    scrypt_work_factor_trailing_garbage,
    scrypt_work_factor_wrong,
    scrypt_work_factor_zero,
    stanza_bad_start,
    stanza_base64_padding,
    stanza_empty_argument,
    stanza_empty_body,
    stanza_empty_last_line,
    stanza_invalid_character,
    stanza_long_line,
    stanza_missing_body,
    stanza_missing_final_line,
    stanza_multiple_short_lines,
    stanza_no_arguments,
    stanza_not_canonical,
    stanza_spurious_cr,
    stanza_valid_characters,
    stream_257_chunks,
    stream_257_chunks_full,
    stream_258_chunks,
    stream_bad_tag,
    stream_bad_tag_second_chunk,
    stream_bad_tag_second_chunk_full,
    stream_empty_payload,
    stream_last_chunk_empty,
    stream_last_chunk_full,
    stream_last_chunk_full_second,
    stream_missing_tag,
    stream_no_chunks,
    stream_no_final,
    stream_no_final_full,
    stream_no_final_two_chunks,
    stream_no_final_two_chunks_full,
    stream_no_nonce,
    stream_short_chunk,
    stream_short_nonce,
    stream_short_second_chunk,
    stream_three_chunks,
    stream_trailing_garbage_long,
    stream_trailing_garbage_short,
    stream_two_chunks,
    stream_two_final_chunks,
    stream_two_final_chunks_full,
    stream_two_final_chunks_second,
    stream_two_final_chunks_short,
    version_unsupported,
    x25519,
    x25519_bad_tag,
    x25519_extra_argument,
    x25519_grease,
    x25519_identity,
    x25519_long_file_key,
    x25519_long_share,
    x25519_low_order,
    x25519_lowercase,
    x25519_multiple_recipients,
    x25519_no_match,
    x25519_not_canonical_body,
    x25519_not_canonical_share,
    x25519_short_share,
}
