//! `angou kms` corrected against the AWS CLI (issue 11): the same flags, answers, errors and
//! recipes as `aws kms`, and the same refusals, so a script written for one runs on the other.

use base64ct::{Base64, Encoding};
use serde_json::{Value, json};

use super::*;
use crate::server::{Server, Stderr};

/// A throw-away store and the `angou kms` commands run on it.
struct Kms {
    e: Env,
}

impl Kms {
    fn new() -> Kms {
        Kms { e: Env::new() }
    }

    fn cmd<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = angou();
        c.env("ANGOU_STATE_DIR", self.e.p("marks"))
            .env_remove("ANGOU_KMS_PASSPHRASE")
            .env_remove("ANGOU_FAKE_NOW")
            .env_remove("ANGOU_HOME")
            .arg("--home")
            .arg(self.e.p("home"))
            .arg("kms")
            .args(args);
        c
    }

    fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Run {
        run(&mut self.cmd(args))
    }

    /// Succeeds and answers JSON (or nothing).
    fn ok<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(&self, args: &[S]) -> Value {
        let r = self.run(args);
        assert_eq!(r.code, 0, "kms {args:?}: {}", r.stderr);
        if r.stdout.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&r.stdout).unwrap()
    }

    /// Succeeds; standard output as text.
    fn text(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "kms {args:?}: {}", r.stderr);
        String::from_utf8(r.stdout).unwrap()
    }

    /// Refused with exit `code`, an AWS-worded error naming `exception` and `operation`, a
    /// hint, and nothing on standard output.
    fn refused<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(
        &self,
        args: &[S],
        code: i32,
        exception: &str,
        operation: &str,
    ) -> String {
        let r = self.run(args);
        assert_eq!(r.code, code, "kms {args:?}: {}", r.stderr);
        let lines: Vec<&str> = r.stderr.lines().collect();
        let want = format!(
            "error: An error occurred ({exception}) when calling the {operation} operation: "
        );
        assert!(
            lines[0].starts_with(&want),
            "kms {args:?}: want {want:?}, got {}",
            r.stderr
        );
        assert!(
            lines.len() == 2 && lines[1].starts_with("hint: "),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "refused but printed {:?}", r.stdout);
        r.stderr
    }

    /// Refused before any operation: exit 2, `error:` naming `needle`, a hint.
    fn usage(&self, args: &[&str], needle: &str, hint: &str) {
        let r = self.run(args);
        assert_eq!(r.code, 2, "kms {args:?}: {}", r.stderr);
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(needle),
            "{}",
            r.stderr
        );
        assert!(
            lines[1].starts_with("hint: ") && lines[1].contains(hint),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty());
    }

    fn key(&self, spec: &str) -> String {
        self.ok(&["create-key", "--key-spec", spec])["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn sh(&self, line: &str) -> std::process::Output {
        StdCommand::new("sh")
            .args(["-c", line])
            .current_dir(self.e.dir.path())
            .env("PATH", tools::path_with_angou())
            .env("ANGOU_HOME", self.e.p("home"))
            .env("ANGOU_STATE_DIR", self.e.p("marks"))
            .env_remove("ANGOU_FAKE_NOW")
            .output()
            .unwrap()
    }
}

fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// `-c a=1,b=2` is the two pairs a=1 and b=2, as in the AWS CLI's shorthand: the blob opens
/// with the JSON of two pairs, and not with the one pair `a` = `1,b=2` that angou read before
/// (a different context, silently). Repeated `-c` and JSON say the same.
#[test]
fn encryption_context_shorthand_is_two_pairs() {
    let k = Kms::new();
    let key = k.key("SYMMETRIC_DEFAULT");
    let blob = k.ok(&[
        "encrypt",
        "--key-id",
        &key,
        "--plaintext",
        "aGk=",
        "-c",
        "a=1,b=2",
    ])["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();
    for same in [
        vec!["-c", r#"{"a":"1","b":"2"}"#],
        vec!["-c", "a=1", "-c", "b=2"],
        vec!["--encryption-context", "b=2,a=1"],
        vec!["-c", "a=1", "-c", r#"{"b":"2"}"#],
    ] {
        let mut args = vec!["decrypt", "--ciphertext-blob", &blob];
        args.extend(same.iter().copied());
        assert_eq!(k.ok(&args)["Plaintext"], "aGk=", "{same:?}");
    }
    for other in [vec!["-c", r#"{"a":"1,b=2"}"#], vec!["-c", "a=1"], vec![]] {
        let mut args = vec!["decrypt", "--ciphertext-blob", &blob];
        args.extend(other.iter().copied());
        k.refused(&args, 1, "InvalidCiphertextException", "Decrypt");
    }
    // A comma inside a value is said in JSON, and means one pair.
    let one = k.ok(&[
        "encrypt",
        "--key-id",
        &key,
        "--plaintext",
        "aGk=",
        "-c",
        r#"{"a":"1,b=2"}"#,
    ])["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();
    k.refused(
        &["decrypt", "--ciphertext-blob", &one, "-c", "a=1,b=2"],
        1,
        "InvalidCiphertextException",
        "Decrypt",
    );
    assert_eq!(
        k.ok(&[
            "decrypt",
            "--ciphertext-blob",
            &one,
            "-c",
            r#"{"a":"1,b=2"}"#
        ])["Plaintext"],
        "aGk="
    );
}

/// What the shorthand cannot say without guessing is refused with a hint to use JSON, before
/// anything is encrypted: never read as some other context.
#[test]
fn ambiguous_encryption_context_is_refused() {
    let k = Kms::new();
    let key = k.key("SYMMETRIC_DEFAULT");
    for bad in [
        vec!["-c", "a=1,2"],
        vec!["-c", "a=1,"],
        vec!["-c", "a"],
        vec!["-c", "=1"],
        vec!["-c", "a= 1"],
        vec!["-c", " a=1"],
        vec!["-c", r#"a="1,2""#],
        vec!["-c", "a='x'"],
        vec!["-c", "a=1", "-c", "a=2"],
        vec!["-c", "a=1,a=1"],
        vec!["-c", r#"{"a":"1","a":"2"}"#],
        vec!["-c", r#"{"a":1}"#],
        vec!["-c", "{not json"],
    ] {
        let mut args = vec!["encrypt", "--key-id", &key, "--plaintext", "aGk="];
        args.extend(bad.iter().copied());
        k.usage(&args, "--encryption-context", "JSON");
    }
    // Nothing reached the store: the audit log holds the key's creation only.
    let log = k.text(&["audit", "--operation", "Encrypt"]);
    assert_eq!(log, "", "a refused context was sent to the store");
}

/// Blobs: base64 text (AWS CLI v2), `fileb://` and `@` for raw bytes, `file://` for a file of
/// base64 text; and the AWS CLI's own recipe runs unchanged with `angou kms`.
#[test]
fn blob_arguments_and_the_aws_cli_recipe() {
    let k = Kms::new();
    let key = k.key("SYMMETRIC_DEFAULT");
    k.ok(&[
        "create-alias",
        "--alias-name",
        "alias/x",
        "--target-key-id",
        &key,
    ]);
    let secret = b"raw \x00\xff bytes\n";
    let f = k.e.write("f", secret);
    k.e.write("f.b64", b64(secret).as_bytes());
    let fileb = format!("fileb://{}", f.display());
    let at = format!("@{}", f.display());
    let file = format!("file://{}", k.e.p("f.b64").display());
    for form in [fileb.as_str(), at.as_str(), &b64(secret), file.as_str()] {
        let out = k.ok(&["encrypt", "--key-id", "alias/x", "--plaintext", form]);
        let blob = Base64::decode_vec(out["CiphertextBlob"].as_str().unwrap()).unwrap();
        k.e.write("blob", &blob);
        let blob_arg = format!("fileb://{}", k.e.p("blob").display());
        let d = k.ok(&["decrypt", "--ciphertext-blob", &blob_arg]);
        assert_eq!(
            Base64::decode_vec(d["Plaintext"].as_str().unwrap()).unwrap(),
            secret
        );
    }
    // Text that is not base64 is refused, not encrypted as the text's own bytes.
    k.usage(
        &[
            "encrypt",
            "--key-id",
            "alias/x",
            "--plaintext",
            "hello world",
        ],
        "not base64",
        "fileb://",
    );
    if !tools::available("base64", "coreutils") {
        return;
    }
    let enc = k.sh(
        "printf 'meet at noon' > f && angou kms encrypt --key-id alias/x --plaintext fileb://f \
         --query CiphertextBlob --output text | base64 -d > blob",
    );
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    let dec = k.sh(
        "angou kms decrypt --ciphertext-blob fileb://blob --query Plaintext --output text | base64 -d",
    );
    assert!(
        dec.status.success(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    assert_eq!(dec.stdout, b"meet at noon");
}

/// Errors say `An error occurred (<Exception>) when calling the <Operation> operation`, as
/// the AWS CLI does, with angou's exit codes: 1 when the work failed, 2 for a command line
/// that cannot be used.
#[test]
fn errors_name_the_aws_exception() {
    let k = Kms::new();
    let key = k.key("SYMMETRIC_DEFAULT");
    let missing = "1234abcd-12ab-34cd-56ef-1234567890ab";
    k.refused(
        &["describe-key", "--key-id", missing],
        1,
        "NotFoundException",
        "DescribeKey",
    );
    k.refused(
        &["generate-random", "--number-of-bytes", "1025"],
        2,
        "ValidationException",
        "GenerateRandom",
    );
    k.refused(
        &[
            "create-alias",
            "--alias-name",
            "nope",
            "--target-key-id",
            &key,
        ],
        2,
        "InvalidAliasNameException",
        "CreateAlias",
    );
    k.ok(&["disable-key", "--key-id", &key]);
    k.refused(
        &["encrypt", "--key-id", &key, "--plaintext", "aGk="],
        1,
        "DisabledException",
        "Encrypt",
    );
    k.refused(
        &["create-key", "--key-usage", "SIGN_VERIFY"],
        1,
        "UnsupportedOperationException",
        "CreateKey",
    );
    k.refused(
        &["create-key", "--key-usage", "SIGN"],
        2,
        "ValidationException",
        "CreateKey",
    );
    assert_eq!(
        k.ok(&["create-key", "--key-usage", "ENCRYPT_DECRYPT"])["KeyMetadata"]["KeyUsage"],
        "ENCRYPT_DECRYPT"
    );
}

/// RSA keys as AWS has them: the algorithm is required and checked, an encryption context is
/// refused (RSA-OAEP binds none), and data keys come from symmetric keys only.
#[test]
fn rsa_keys_refuse_what_aws_refuses() {
    let k = Kms::new();
    let rsa = k.key("RSA_2048");
    let enc = |extra: &[&'static str]| -> Vec<String> {
        let mut a: Vec<String> = ["encrypt", "--key-id", &rsa, "--plaintext", "aGk="]
            .map(str::to_owned)
            .to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    k.refused(&enc(&[]), 1, "InvalidKeyUsageException", "Encrypt");
    k.refused(
        &enc(&["--encryption-algorithm", "SYMMETRIC_DEFAULT"]),
        1,
        "InvalidKeyUsageException",
        "Encrypt",
    );
    k.refused(
        &enc(&["--encryption-algorithm", "RSAES_OAEP_SHA_1"]),
        1,
        "UnsupportedOperationException",
        "Encrypt",
    );
    k.refused(
        &enc(&["--encryption-algorithm", "RSA_OAEP"]),
        2,
        "ValidationException",
        "Encrypt",
    );
    k.refused(
        &enc(&["--encryption-algorithm", "RSAES_OAEP_SHA_256", "-c", "a=1"]),
        2,
        "ValidationException",
        "Encrypt",
    );
    let out = k.ok(&enc(&["--encryption-algorithm", "RSAES_OAEP_SHA_256"]));
    assert_eq!(out["EncryptionAlgorithm"], "RSAES_OAEP_SHA_256");
    let blob = out["CiphertextBlob"].as_str().unwrap();
    let dec = |extra: &[&'static str]| -> Vec<String> {
        let mut a: Vec<String> = ["decrypt", "--ciphertext-blob", blob, "--key-id", &rsa]
            .map(str::to_owned)
            .to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    k.refused(
        &dec(&["--encryption-algorithm", "RSAES_OAEP_SHA_256", "-c", "a=1"]),
        2,
        "ValidationException",
        "Decrypt",
    );
    k.refused(&dec(&[]), 1, "InvalidKeyUsageException", "Decrypt");
    assert_eq!(
        k.ok(&dec(&["--encryption-algorithm", "RSAES_OAEP_SHA_256"]))["Plaintext"],
        "aGk="
    );
    for op in ["generate-data-key", "generate-data-key-without-plaintext"] {
        let name = if op == "generate-data-key" {
            "GenerateDataKey"
        } else {
            "GenerateDataKeyWithoutPlaintext"
        };
        k.refused(
            &[op, "--key-id", &rsa, "--key-spec", "AES_256"],
            1,
            "InvalidKeyUsageException",
            name,
        );
    }
    // A symmetric key refuses the RSA algorithm.
    let sym = k.key("SYMMETRIC_DEFAULT");
    k.refused(
        &[
            "encrypt",
            "--key-id",
            &sym,
            "--plaintext",
            "aGk=",
            "--encryption-algorithm",
            "RSAES_OAEP_SHA_256",
        ],
        1,
        "InvalidKeyUsageException",
        "Encrypt",
    );
}

/// GetPublicKey answers base64 DER SubjectPublicKeyInfo, as AWS does: the AWS recipe through
/// `openssl pkey` reads it, and what openssl encrypts to it with OAEP-SHA-256 angou decrypts.
#[test]
fn get_public_key_is_der_spki_that_openssl_reads() {
    if !tools::available("openssl", "openssl") || !tools::available("base64", "coreutils") {
        return;
    }
    let k = Kms::new();
    let rsa = k.key("RSA_2048");
    let pem = k.sh(&format!(
        "angou kms get-public-key --key-id {rsa} --query PublicKey --output text | base64 -d \
         | openssl pkey -pubin -inform DER -out pub.pem && cat pub.pem"
    ));
    assert!(
        pem.status.success(),
        "{}",
        String::from_utf8_lossy(&pem.stderr)
    );
    assert!(String::from_utf8_lossy(&pem.stdout).starts_with("-----BEGIN PUBLIC KEY-----"));
    let enc = k.sh(
        "printf 'from openssl' | openssl pkeyutl -encrypt -pubin -inkey pub.pem \
         -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
         -out ct",
    );
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    let ct = format!("fileb://{}", k.e.p("ct").display());
    let d = k.ok(&[
        "decrypt",
        "--ciphertext-blob",
        &ct,
        "--key-id",
        &rsa,
        "--encryption-algorithm",
        "RSAES_OAEP_SHA_256",
    ]);
    assert_eq!(d["Plaintext"], b64(b"from openssl"));
    let g = k.ok(&["get-public-key", "--key-id", &rsa]);
    assert_eq!(g["KeySpec"], "RSA_2048");
    assert_eq!(g["EncryptionAlgorithms"], json!(["RSAES_OAEP_SHA_256"]));
}

/// UpdateAlias moves an alias between keys of one type only (AWS: same type and key usage);
/// RSA keys of other sizes are the same type.
#[test]
fn update_alias_stays_within_a_key_type() {
    let k = Kms::new();
    let (s1, s2) = (k.key("SYMMETRIC_DEFAULT"), k.key("SYMMETRIC_DEFAULT"));
    let (r1, r2) = (k.key("RSA_2048"), k.key("RSA_3072"));
    k.ok(&[
        "create-alias",
        "--alias-name",
        "alias/s",
        "--target-key-id",
        &s1,
    ]);
    k.ok(&[
        "create-alias",
        "--alias-name",
        "alias/r",
        "--target-key-id",
        &r1,
    ]);
    k.refused(
        &[
            "update-alias",
            "--alias-name",
            "alias/s",
            "--target-key-id",
            &r1,
        ],
        2,
        "ValidationException",
        "UpdateAlias",
    );
    k.refused(
        &[
            "update-alias",
            "--alias-name",
            "alias/r",
            "--target-key-id",
            &s1,
        ],
        2,
        "ValidationException",
        "UpdateAlias",
    );
    let target = |alias: &str| {
        k.ok(&["describe-key", "--key-id", alias])["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(target("alias/s"), s1, "a refused update moved the alias");
    assert_eq!(target("alias/r"), r1, "a refused update moved the alias");
    k.ok(&[
        "update-alias",
        "--alias-name",
        "alias/s",
        "--target-key-id",
        &s2,
    ]);
    k.ok(&[
        "update-alias",
        "--alias-name",
        "alias/r",
        "--target-key-id",
        &r2,
    ]);
    assert_eq!(target("alias/s"), s2);
    assert_eq!(target("alias/r"), r2);
}

/// `alias/aws/` is reserved as on AWS; `alias/angou/…` is an ordinary name (AWS allows it)
/// except angou's own `alias/angou/default`, which still makes and names the default key.
#[test]
fn alias_angou_is_legal_and_the_default_key_still_works() {
    let k = Kms::new();
    let key = k.key("SYMMETRIC_DEFAULT");
    k.ok(&[
        "create-alias",
        "--alias-name",
        "alias/angou/app",
        "--target-key-id",
        &key,
    ]);
    assert_eq!(
        k.ok(&["describe-key", "--key-id", "alias/angou/app"])["KeyMetadata"]["KeyId"],
        key.as_str()
    );
    for reserved in ["alias/aws/app", "alias/angou/default"] {
        k.refused(
            &[
                "create-alias",
                "--alias-name",
                reserved,
                "--target-key-id",
                &key,
            ],
            2,
            "InvalidAliasNameException",
            "CreateAlias",
        );
    }
    k.refused(
        &[
            "update-alias",
            "--alias-name",
            "alias/angou/default",
            "--target-key-id",
            &key,
        ],
        2,
        "InvalidAliasNameException",
        "UpdateAlias",
    );
    let dk = k.ok(&[
        "generate-data-key",
        "--key-id",
        "alias/angou/default",
        "--key-spec",
        "AES_256",
    ]);
    let default = k.ok(&["describe-key", "--key-id", "alias/angou/default"]);
    assert_eq!(default["KeyMetadata"]["KeyManager"], "AWS");
    assert_eq!(dk["KeyId"], default["KeyMetadata"]["Arn"]);
    assert_ne!(default["KeyMetadata"]["KeyId"], key.as_str());
}

/// ListKeyRotations lists rotations only, as AWS does: none for a new key.
#[test]
fn list_key_rotations_lists_rotations_only() {
    let k = Kms::new();
    let key = k.key("SYMMETRIC_DEFAULT");
    assert_eq!(
        k.ok(&["list-key-rotations", "--key-id", &key]),
        json!({"Rotations": []})
    );
    k.ok(&["rotate-key-on-demand", "--key-id", &key]);
    let r = k.ok(&["list-key-rotations", "--key-id", &key])["Rotations"].clone();
    assert_eq!(r.as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r[0]["RotationType"], "ON_DEMAND");
}

/// `--query` and `--output text` follow the AWS CLI: a scalar alone on its line, a list of
/// scalars tab-separated, a list of objects one line each under the member's upper-cased
/// name, True/False/None for JSON's literals; an empty answer prints nothing.
#[test]
fn query_and_text_output_follow_the_aws_cli() {
    let k = Kms::new();
    let a = k.key("SYMMETRIC_DEFAULT");
    let b = k.key("SYMMETRIC_DEFAULT");
    let id = |args: &[&str]| k.text(args);
    assert_eq!(
        id(&[
            "describe-key",
            "--key-id",
            &a,
            "--query",
            "KeyMetadata.KeyId",
            "--output",
            "text"
        ]),
        format!("{a}\n")
    );
    assert_eq!(
        id(&[
            "describe-key",
            "--key-id",
            &a,
            "--query",
            "KeyMetadata.KeyId"
        ]),
        format!("\"{a}\"\n")
    );
    assert_eq!(
        id(&[
            "describe-key",
            "--key-id",
            &a,
            "--query",
            "KeyMetadata.Enabled",
            "--output",
            "text"
        ]),
        "True\n"
    );
    assert_eq!(
        id(&[
            "describe-key",
            "--key-id",
            &a,
            "--query",
            "KeyMetadata.DeletionDate",
            "--output",
            "text"
        ]),
        "None\n"
    );
    let arn = |id: &str| format!("arn:aws:kms:us-east-1:000000000000:key/{id}");
    let mut ids = [a.clone(), b.clone()];
    ids.sort();
    let listed = id(&["list-keys", "--query", "Keys[].KeyId", "--output", "text"]);
    let mut got: Vec<&str> = listed.trim_end_matches('\n').split('\t').collect();
    got.sort();
    assert_eq!(got, ids, "{listed:?}");
    assert_eq!(listed.lines().count(), 1);
    let table = id(&["list-keys", "--output", "text"]);
    let mut rows: Vec<&str> = table.lines().collect();
    rows.sort();
    let mut want: Vec<String> = ids
        .iter()
        .map(|i| format!("KEYS\t{}\t{i}", arn(i)))
        .collect();
    want.sort();
    assert_eq!(rows, want);
    // Text of an object: its scalars in key order, then its nested members.
    let meta = id(&["describe-key", "--key-id", &a, "--output", "text"]);
    let lines: Vec<&str> = meta.lines().collect();
    assert!(
        lines[0].starts_with("KEYMETADATA\t000000000000\t"),
        "{meta}"
    );
    assert_eq!(
        lines[1], "ENCRYPTIONALGORITHMS\tSYMMETRIC_DEFAULT",
        "{meta}"
    );
    // Nothing to say, nothing printed; a query that cannot be parsed is a usage error.
    assert_eq!(id(&["enable-key", "--key-id", &a]), "");
    k.usage(
        &["describe-key", "--key-id", &a, "--query", "KeyMetadata.["],
        "--query",
        "--query",
    );
    // Timestamps read as the AWS CLI v2 prints them.
    let created = id(&[
        "describe-key",
        "--key-id",
        &a,
        "--query",
        "KeyMetadata.CreationDate",
        "--output",
        "text",
    ]);
    assert!(
        created.len() >= 26
            && created.trim_end().ends_with("+00:00")
            && created.as_bytes()[10] == b'T',
        "{created:?}"
    );
}

/// A running `angou kms serve` on `k`'s store for `aws kms` to talk to, unsigned requests
/// allowed; stopped when dropped.
fn serve(k: &Kms) -> Server {
    Server::start_with(
        &k.e.p("home"),
        &k.e.p("marks"),
        &["--allow-unsigned"],
        Stderr::Discard,
    )
}

/// Fields that differ between two runs by nature: ids, ARNs, dates, ciphertexts, data keys.
const VARYING: &[&str] = &[
    "KeyId",
    "Arn",
    "KeyArn",
    "AliasArn",
    "TargetKeyId",
    "SourceKeyId",
    "CreationDate",
    "DeletionDate",
    "NextRotationDate",
    "RotationDate",
    "CurrentKeyMaterialId",
    "KeyMaterialId",
    "SourceKeyMaterialId",
    "DestinationKeyMaterialId",
    "CiphertextBlob",
    "Plaintext",
    "PublicKey",
];

/// Compares `aws` (what the AWS CLI printed) with `ours` (what angou kms printed) member by
/// member: every member the AWS CLI shows is there with the same value, except the varying
/// ones, which must be there with the same JSON type.
fn same_shape(step: &str, aws: &Value, ours: &Value, path: &str) {
    match (aws, ours) {
        (Value::Object(a), Value::Object(o)) => {
            for (k, av) in a {
                let p = format!("{path}.{k}");
                let ov = o
                    .get(k)
                    .unwrap_or_else(|| panic!("{step}: angou kms lacks {p} ({aws} vs {ours})"));
                if VARYING.contains(&k.as_str()) {
                    let kind = |v: &Value| {
                        std::mem::discriminant(&if v.is_number() {
                            Value::String(String::new())
                        } else {
                            v.clone()
                        })
                    };
                    assert_eq!(kind(av), kind(ov), "{step}: {p}: {av} vs {ov}");
                } else {
                    same_shape(step, av, ov, &p);
                }
            }
        }
        (Value::Array(a), Value::Array(o)) => {
            assert_eq!(a.len(), o.len(), "{step}: {path}: {aws} vs {ours}");
            for (i, (av, ov)) in a.iter().zip(o).enumerate() {
                same_shape(step, av, ov, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(aws, ours, "{step}: {path}"),
    }
}

/// The same scenario through `aws kms` against `angou kms serve` and through `angou kms`
/// directly prints the same JSON (ids, ARNs, dates and random bytes aside), fails with the
/// same exception names, and the blobs of one decrypt through the other.
#[test]
fn aws_kms_against_the_server_prints_what_angou_kms_prints() {
    let Some(python) = tools::python_with("awscli", "pip install awscli") else {
        return;
    };
    let theirs = Kms::new();
    let server = serve(&theirs);
    let endpoint = server.endpoint();
    let aws = |args: &[&str]| -> (i32, Value, String) {
        let out = std::process::Command::new(&python)
            .args([
                "-m",
                "awscli",
                "--endpoint-url",
                &endpoint,
                "--no-sign-request",
            ])
            .args(["--region", "us-east-1", "--output", "json", "kms"])
            .args(args)
            .current_dir(theirs.e.dir.path())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_PAGER", "")
            .output()
            .unwrap();
        let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code().unwrap_or(-1),
            v,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ours = Kms::new();
    let angou = |args: &[&str]| -> (i32, Value, String) {
        let r = ours.run(args);
        let v = serde_json::from_slice(&r.stdout).unwrap_or(Value::Null);
        (r.code, v, r.stderr)
    };
    // Each step: the arguments, with KEY, RSA and BLOB put in by each side for its own.
    let dirs = [&theirs, &ours];
    for d in dirs {
        d.e.write("data", b"the same bytes");
    }
    let mut ids: [(String, String, String); 2] = Default::default();
    let steps: Vec<(&str, Vec<&str>)> = vec![
        ("create-key", vec!["create-key", "--description", "same"]),
        ("create-rsa", vec!["create-key", "--key-spec", "RSA_2048"]),
        (
            "create-alias",
            vec![
                "create-alias",
                "--alias-name",
                "alias/same",
                "--target-key-id",
                "KEY",
            ],
        ),
        (
            "describe-key",
            vec!["describe-key", "--key-id", "alias/same"],
        ),
        ("list-aliases", vec!["list-aliases", "--key-id", "KEY"]),
        (
            "encrypt",
            vec![
                "encrypt",
                "--key-id",
                "alias/same",
                "--plaintext",
                "DATA",
                "--encryption-context",
                "a=1,b=2",
            ],
        ),
        (
            "decrypt",
            vec![
                "decrypt",
                "--ciphertext-blob",
                "BLOB",
                "--encryption-context",
                "a=1,b=2",
            ],
        ),
        (
            "decrypt-wrong-context",
            vec![
                "decrypt",
                "--ciphertext-blob",
                "BLOB",
                "--encryption-context",
                "a=1",
            ],
        ),
        (
            "gdk",
            vec![
                "generate-data-key",
                "--key-id",
                "KEY",
                "--key-spec",
                "AES_128",
            ],
        ),
        (
            "gdk-rsa",
            vec![
                "generate-data-key",
                "--key-id",
                "RSA",
                "--key-spec",
                "AES_256",
            ],
        ),
        (
            "encrypt-rsa-no-alg",
            vec!["encrypt", "--key-id", "RSA", "--plaintext", "DATA"],
        ),
        (
            "encrypt-rsa-context",
            vec![
                "encrypt",
                "--key-id",
                "RSA",
                "--plaintext",
                "DATA",
                "--encryption-algorithm",
                "RSAES_OAEP_SHA_256",
                "--encryption-context",
                "a=1",
            ],
        ),
        (
            "update-alias-to-rsa",
            vec![
                "update-alias",
                "--alias-name",
                "alias/same",
                "--target-key-id",
                "RSA",
            ],
        ),
        (
            "create-reserved-alias",
            vec![
                "create-alias",
                "--alias-name",
                "alias/aws/x",
                "--target-key-id",
                "KEY",
            ],
        ),
        ("rotate", vec!["rotate-key-on-demand", "--key-id", "KEY"]),
        (
            "list-key-rotations",
            vec!["list-key-rotations", "--key-id", "KEY"],
        ),
        (
            "rotation-status",
            vec!["get-key-rotation-status", "--key-id", "KEY"],
        ),
        ("get-public-key", vec!["get-public-key", "--key-id", "RSA"]),
        ("disable", vec!["disable-key", "--key-id", "KEY"]),
        (
            "encrypt-disabled",
            vec!["encrypt", "--key-id", "KEY", "--plaintext", "DATA"],
        ),
        (
            "schedule",
            vec![
                "schedule-key-deletion",
                "--key-id",
                "KEY",
                "--pending-window-in-days",
                "7",
            ],
        ),
        ("cancel", vec!["cancel-key-deletion", "--key-id", "KEY"]),
        (
            "describe-missing",
            vec![
                "describe-key",
                "--key-id",
                "1234abcd-12ab-34cd-56ef-1234567890ab",
            ],
        ),
    ];
    for (step, args) in steps {
        let mut results = Vec::new();
        for (side, run) in [
            (0usize, &aws as &dyn Fn(&[&str]) -> (i32, Value, String)),
            (1, &angou),
        ] {
            let (key, rsa, blob) = &ids[side];
            let args: Vec<String> = args
                .iter()
                .map(|a| match *a {
                    "KEY" => key.clone(),
                    "RSA" => rsa.clone(),
                    "BLOB" => format!("fileb://{}", dirs[side].e.p(blob).display()),
                    "DATA" => format!("fileb://{}", dirs[side].e.p("data").display()),
                    other => other.to_owned(),
                })
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, v, err) = run(&args);
            let exception = err
                .split("An error occurred (")
                .nth(1)
                .and_then(|r| r.split(')').next())
                .map(str::to_owned);
            results.push((code == 0, v, exception, err));
        }
        let (a, o) = (&results[0], &results[1]);
        let expected = match step {
            "decrypt-wrong-context" => Some("InvalidCiphertextException"),
            "gdk-rsa" | "encrypt-rsa-no-alg" => Some("InvalidKeyUsageException"),
            "encrypt-rsa-context" | "update-alias-to-rsa" => Some("ValidationException"),
            "create-reserved-alias" => Some("InvalidAliasNameException"),
            "encrypt-disabled" => Some("DisabledException"),
            "describe-missing" => Some("NotFoundException"),
            _ => None,
        };
        assert_eq!(o.2.as_deref(), expected, "{step}: angou kms: {}", o.3);
        assert_eq!(
            a.0, o.0,
            "{step}: aws ok={} ({}), angou ok={} ({})",
            a.0, a.3, o.0, o.3
        );
        assert_eq!(
            a.2, o.2,
            "{step}: exception names differ: {} / {}",
            a.3, o.3
        );
        if a.0 {
            same_shape(step, &a.1, &o.1, "");
        }
        for side in 0..2 {
            let v = &results[side].1;
            match step {
                "create-key" => {
                    ids[side].0 = v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
                }
                "create-rsa" => {
                    ids[side].1 = v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
                }
                "encrypt" => {
                    let blob = Base64::decode_vec(v["CiphertextBlob"].as_str().unwrap()).unwrap();
                    dirs[side].e.write(&format!("blob{side}"), &blob);
                    ids[side].2 = format!("blob{side}");
                }
                "decrypt" => assert_eq!(v["Plaintext"], b64(b"the same bytes")),
                _ => {}
            }
        }
    }
}

/// Tags and descriptions as `aws kms` takes and shows them: `--tags TagKey=…,TagValue=…` on
/// create-key and tag-resource, list-resource-tags, untag-resource; AWS's tag rules refused
/// with TagException (the `aws:` prefix) and ValidationException (lengths), nothing changed.
#[test]
fn tags_and_descriptions_follow_aws() {
    let k = Kms::new();
    let id = k.ok(&[
        "create-key",
        "--description",
        "first",
        "--tags",
        "TagKey=team,TagValue=finance",
        "TagKey=env,TagValue=",
    ])["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        k.ok(&["list-resource-tags", "--key-id", &id])["Tags"],
        json!([{"TagKey": "env", "TagValue": ""}, {"TagKey": "team", "TagValue": "finance"}])
    );
    k.ok(&[
        "tag-resource",
        "--key-id",
        &id,
        "--tags",
        r#"[{"TagKey":"team","TagValue":"ops"}]"#,
    ]);
    k.refused(
        &[
            "tag-resource",
            "--key-id",
            &id,
            "--tags",
            "TagKey=aws:owner,TagValue=x",
        ],
        1,
        "TagException",
        "TagResource",
    );
    let long = format!("TagKey={},TagValue=x", "k".repeat(129));
    k.refused(
        &["tag-resource", "--key-id", &id, "--tags", &long],
        2,
        "ValidationException",
        "TagResource",
    );
    k.ok(&["untag-resource", "--key-id", &id, "--tag-keys", "env"]);
    assert_eq!(
        k.text(&["list-resource-tags", "--key-id", &id, "--output", "text"]),
        "TAGS\tteam\tops\n"
    );
    k.ok(&[
        "update-key-description",
        "--key-id",
        &id,
        "--description",
        "second",
    ]);
    assert_eq!(
        k.ok(&["describe-key", "--key-id", &id])["KeyMetadata"]["Description"],
        "second"
    );
    k.ok(&[
        "schedule-key-deletion",
        "--key-id",
        &id,
        "--pending-window-in-days",
        "7",
    ]);
    k.refused(
        &[
            "update-key-description",
            "--key-id",
            &id,
            "--description",
            "x",
        ],
        1,
        "KMSInvalidStateException",
        "UpdateKeyDescription",
    );
}

/// generate-data-key-pair: the private key is PKCS#8 DER of the public key's pair (openssl
/// reads it), the encrypted copy decrypts to it under the same context only; the
/// WithoutPlaintext form has no plaintext; ECC specs and RSA KMS keys are refused.
#[test]
fn data_key_pairs_are_pkcs8_under_the_context() {
    let k = Kms::new();
    let sym = k.key("SYMMETRIC_DEFAULT");
    let p = k.ok(&[
        "generate-data-key-pair",
        "--key-id",
        &sym,
        "--key-pair-spec",
        "RSA_2048",
        "-c",
        "app=pay",
    ]);
    assert_eq!(p["KeyPairSpec"], "RSA_2048");
    let blob = p["PrivateKeyCiphertextBlob"].as_str().unwrap();
    let d = k.ok(&["decrypt", "--ciphertext-blob", blob, "-c", "app=pay"]);
    assert_eq!(d["Plaintext"], p["PrivateKeyPlaintext"]);
    k.refused(
        &["decrypt", "--ciphertext-blob", blob],
        1,
        "InvalidCiphertextException",
        "Decrypt",
    );
    let w = k.ok(&[
        "generate-data-key-pair-without-plaintext",
        "--key-id",
        &sym,
        "--key-pair-spec",
        "RSA_2048",
    ]);
    assert!(w.get("PrivateKeyPlaintext").is_none());
    k.refused(
        &[
            "generate-data-key-pair",
            "--key-id",
            &sym,
            "--key-pair-spec",
            "ECC_NIST_P256",
        ],
        1,
        "UnsupportedOperationException",
        "GenerateDataKeyPair",
    );
    let rsa = k.key("RSA_2048");
    k.refused(
        &[
            "generate-data-key-pair",
            "--key-id",
            &rsa,
            "--key-pair-spec",
            "RSA_2048",
        ],
        1,
        "InvalidKeyUsageException",
        "GenerateDataKeyPair",
    );
    if !tools::available("openssl", "openssl") {
        return;
    }
    let priv_der = Base64::decode_vec(p["PrivateKeyPlaintext"].as_str().unwrap()).unwrap();
    std::fs::write(k.e.p("priv.der"), &priv_der).unwrap();
    let out = k.sh("openssl pkey -inform DER -in priv.der -pubout -outform DER | base64 -w0");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        p["PublicKey"].as_str().unwrap()
    );
}

/// Bring your own key as the AWS docs show it, with openssl: create-key --origin EXTERNAL,
/// get-parameters-for-import, `openssl pkeyutl -encrypt … rsa_oaep_md:sha256` (and the
/// RSA_AES_KEY_WRAP_SHA_256 recipe with `openssl enc -id-aes256-wrap-pad`), import-key-material
/// with fileb://, then delete-imported-key-material: blobs fail until the same material
/// comes back; different material is IncorrectKeyMaterialException.
#[test]
fn byok_with_openssl_as_the_aws_docs_show_it() {
    if !tools::available("openssl", "openssl") || !tools::available("base64", "coreutils") {
        return;
    }
    let k = Kms::new();
    let id = k.ok(&["create-key", "--origin", "EXTERNAL"])["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        k.text(&[
            "describe-key",
            "--key-id",
            &id,
            "--query",
            "KeyMetadata.[KeyState,Origin]",
            "--output",
            "text"
        ]),
        "PendingImport\tEXTERNAL\n"
    );
    // The wrapping public key (DER) and the import token, written as files as the AWS docs do.
    let params = |alg: &str, spec: &str, tag: &str| {
        let p = k.ok(&[
            "get-parameters-for-import",
            "--key-id",
            &id,
            "--wrapping-algorithm",
            alg,
            "--wrapping-key-spec",
            spec,
        ]);
        for (field, file) in [("PublicKey", "pub"), ("ImportToken", "token")] {
            let bytes = Base64::decode_vec(p[field].as_str().unwrap()).unwrap();
            std::fs::write(
                k.e.p(&format!(
                    "{file}{tag}.{}",
                    if file == "pub" { "der" } else { "bin" }
                )),
                bytes,
            )
            .unwrap();
        }
    };
    params("RSAES_OAEP_SHA_256", "RSA_2048", "1");
    let wrap = k.sh("openssl rand -out material.bin 32 && \
         openssl pkeyutl -encrypt -in material.bin -out wrapped.bin -inkey pub1.der -keyform DER \
         -pubin -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256");
    assert!(
        wrap.status.success(),
        "{}",
        String::from_utf8_lossy(&wrap.stderr)
    );
    let fileb = |name: &str| format!("fileb://{}", k.e.p(name).display());
    let import = |material: &str, token: &str| -> Vec<String> {
        vec![
            "import-key-material".into(),
            "--key-id".into(),
            id.clone(),
            "--encrypted-key-material".into(),
            fileb(material),
            "--import-token".into(),
            fileb(token),
            "--expiration-model".into(),
            "KEY_MATERIAL_DOES_NOT_EXPIRE".into(),
        ]
    };
    k.ok(&import("wrapped.bin", "token1.bin"));
    let blob = k.text(&[
        "encrypt",
        "--key-id",
        &id,
        "--plaintext",
        &b64(b"byok"),
        "--query",
        "CiphertextBlob",
        "--output",
        "text",
    ]);
    let blob = blob.trim();
    k.ok(&["delete-imported-key-material", "--key-id", &id]);
    k.refused(
        &["decrypt", "--ciphertext-blob", blob],
        1,
        "KMSInvalidStateException",
        "Decrypt",
    );
    // Different material, wrapped the AWS way with RSA_AES_KEY_WRAP_SHA_256.
    params("RSA_AES_KEY_WRAP_SHA_256", "RSA_3072", "2");
    let wrap2 = k.sh(
        "openssl rand -out other.bin 32 && openssl rand -out aes.bin 32 && \
         openssl enc -id-aes256-wrap-pad -K \"$(od -An -tx1 -v aes.bin | tr -d ' \\n')\" \
         -iv A65959A6 -in other.bin -out other.kwp && \
         openssl pkeyutl -encrypt -in aes.bin -out aes.enc -inkey pub2.der -keyform DER -pubin \
         -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 && \
         cat aes.enc other.kwp > other.wrapped && \
         openssl enc -id-aes256-wrap-pad -K \"$(od -An -tx1 -v aes.bin | tr -d ' \\n')\" \
         -iv A65959A6 -in material.bin -out material.kwp && \
         cat aes.enc material.kwp > material.wrapped",
    );
    assert!(
        wrap2.status.success(),
        "{}",
        String::from_utf8_lossy(&wrap2.stderr)
    );
    k.refused(
        &import("other.wrapped", "token2.bin"),
        1,
        "IncorrectKeyMaterialException",
        "ImportKeyMaterial",
    );
    // Material wrapped to the first wrapping key, presented with the second token.
    k.refused(
        &import("wrapped.bin", "token2.bin"),
        1,
        "InvalidCiphertextException",
        "ImportKeyMaterial",
    );
    k.ok(&import("material.wrapped", "token2.bin"));
    let d = k.ok(&["decrypt", "--ciphertext-blob", blob]);
    assert_eq!(d["Plaintext"], b64(b"byok"));
}
