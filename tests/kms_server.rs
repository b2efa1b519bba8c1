//! `angou kms serve`: the real binary on 127.0.0.1 (a free port), driven by a minimal raw
//! HTTP client and, when installed, by the real AWS CLI and boto3.

#[path = "support/server.rs"]
mod server;
#[path = "support/tools.rs"]
mod tools;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use serde_json::{Value, json};
use server::{Server, access_key, angou, audit, aws_env_without_endpoint, store};

/// Requests on fresh connections, without a signature.
trait Raw {
    /// One request on a fresh connection; (status, JSON body).
    fn call(&self, op: &str, body: Value) -> (u16, Value) {
        self.call_as(op, body, None)
    }

    /// The same, with an `Authorization` header naming `region` when given (a signature
    /// that cannot be right).
    fn call_as(&self, op: &str, body: Value, region: Option<&str>) -> (u16, Value);
}

impl Raw for Server {
    fn call_as(&self, op: &str, body: Value, region: Option<&str>) -> (u16, Value) {
        let body = body.to_string();
        let auth = region.map_or(String::new(), |r| {
            format!("Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/{r}/kms/aws4_request, SignedHeaders=host, Signature=00\r\n")
        });
        let raw = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: TrentService.{op}\r\nContent-Type: application/x-amz-json-1.1\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let (status, body) = raw_exchange(&self.addr, raw.as_bytes());
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

/// Sends `raw` and reads one response: (status, body).
fn raw_exchange(addr: &str, raw: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(raw).unwrap();
    read_response(&mut s)
}

fn read_response(s: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).unwrap() == 0 {
            panic!(
                "connection closed in the response head: {:?}",
                String::from_utf8_lossy(&buf)
            );
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap();
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (status, body)
}

/// The audit log as text, to search for what must never be in it.
fn audit_text(home: &Path) -> String {
    audit(home)
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A request signed with `key` for `region` at `at` (SigV4, the way the SDKs sign: every
/// header), whose body is then replaced by `sent` (the signed body when `None`). Also
/// returns the signature.
fn signed_request(
    addr: &str,
    op: &str,
    body: &str,
    key: (&str, &str),
    region: &str,
    at: time::OffsetDateTime,
    sent: Option<&str>,
) -> (Vec<u8>, String) {
    use angou::kms::http::sigv4;
    let target = format!("TrentService.{op}");
    let headers: Vec<(&str, &[u8])> = vec![
        ("Host", addr.as_bytes()),
        ("Content-Type", b"application/x-amz-json-1.1"),
        ("X-Amz-Target", target.as_bytes()),
    ];
    let secret = angou::secret::SecretAccessKey::from_slice(key.1.as_bytes()).unwrap();
    let signed = sigv4::sign(
        &sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: body.as_bytes(),
        },
        sigv4::Credentials {
            access_key_id: key.0,
            secret: &secret,
        },
        region,
        at,
    );
    let sent = sent.unwrap_or(body);
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {target}\r\nX-Amz-Date: {}\r\nAuthorization: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sent}",
        signed.x_amz_date,
        signed.authorization,
        sent.len()
    );
    let sig = signed
        .authorization
        .rsplit("Signature=")
        .next()
        .unwrap()
        .to_owned();
    (raw.into_bytes(), sig)
}

/// Sends a signed request (see [`signed_request`]): (status, JSON body).
fn signed_call(addr: &str, op: &str, body: Value, key: (&str, &str), region: &str) -> (u16, Value) {
    let (raw, _) = signed_request(
        addr,
        op,
        &body.to_string(),
        key,
        region,
        time::OffsetDateTime::now_utc(),
        None,
    );
    let (st, b) = raw_exchange(addr, &raw);
    (st, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn b64(b: &[u8]) -> String {
    Base64::encode_string(b)
}

fn create_key(s: &Server) -> (String, String) {
    let (st, v) = s.call("CreateKey", json!({"Description": "test"}));
    assert_eq!(st, 200, "{v}");
    (
        v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned(),
        v["KeyMetadata"]["Arn"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn operations_answer_with_aws_shapes_and_errors() {
    let (_d, home) = store();
    let s = Server::start(&home, &["--allow-unsigned"]);
    let (st, v) = s.call("CreateKey", json!({"Description": "reports"}));
    assert_eq!(st, 200, "{v}");
    let m = &v["KeyMetadata"];
    let id = m["KeyId"].as_str().unwrap();
    assert_eq!(
        m["Arn"],
        format!("arn:aws:kms:us-east-1:000000000000:key/{id}")
    );
    for field in [
        "AWSAccountId",
        "CreationDate",
        "Enabled",
        "Description",
        "KeyUsage",
        "KeyState",
        "KeySpec",
        "CustomerMasterKeySpec",
        "EncryptionAlgorithms",
        "KeyManager",
        "Origin",
        "MultiRegion",
    ] {
        assert!(!m[field].is_null(), "KeyMetadata lacks {field}: {m}");
    }
    assert!(m["CreationDate"].is_number());
    assert_eq!(m["Origin"], "AWS_KMS");

    // Encrypt and decrypt with a context; a wrong or missing context is InvalidCiphertext.
    let (st, e) = s.call(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"hello"), "EncryptionContext": {"team": "a"}}),
    );
    assert_eq!(st, 200, "{e}");
    let blob = e["CiphertextBlob"].as_str().unwrap();
    let (st, d) = s.call(
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": {"team": "a"}}),
    );
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["Plaintext"], b64(b"hello"));
    assert_eq!(d["KeyId"], m["Arn"]);
    for ctx in [json!({}), json!({"team": "b"})] {
        let (st, d) = s.call(
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
        );
        assert_eq!(
            (st, d["__type"].as_str()),
            (400, Some("InvalidCiphertextException")),
            "{d}"
        );
        assert!(d.get("Plaintext").is_none());
    }

    // The model's constraints, in AWS's wording, every one reported.
    let (st, v) = s.call(
        "GenerateDataKey",
        json!({"KeyId": "", "NumberOfBytes": 2000}),
    );
    assert_eq!(
        (st, v["__type"].as_str()),
        (400, Some("ValidationException"))
    );
    assert_eq!(
        v["message"],
        "2 validation errors detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '2000' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"
    );
    let (_, v) = s.call(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(&[0u8; 4097])}),
    );
    assert_eq!(v["__type"], "ValidationException");
    assert!(
        !v["message"].as_str().unwrap().contains("AAAA"),
        "the plaintext is not echoed"
    );
    let (_, v) = s.call(
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_512"}),
    );
    assert_eq!(v["__type"], "ValidationException");
    let (_, v) = s.call("Decrypt", json!({}));
    assert!(v["message"].as_str().unwrap().contains(
        "Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"
    ));

    // What does not parse, and what does not exist.
    let (st, v) = s.call("NoSuchOperation", json!({}));
    assert_eq!(
        (st, v["__type"].as_str()),
        (400, Some("UnknownOperationException"))
    );
    let raw = "POST / HTTP/1.1\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{\"Limit\":";
    let (st, v) = raw_exchange(&s.addr, raw.as_bytes());
    let v: Value = serde_json::from_slice(&v).unwrap();
    assert_eq!(
        (st, v["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let (_, v) = s.call("ListKeys", json!({"Limit": "ten"}));
    assert_eq!(v["__type"], "SerializationException");
    let (_, v) = s.call("Decrypt", json!({"CiphertextBlob": "not base64!"}));
    assert_eq!(v["__type"], "SerializationException");
    let (st, v) = s.call("DescribeKey", json!({"KeyId": "alias/none"}));
    assert_eq!((st, v["__type"].as_str()), (400, Some("NotFoundException")));

    // Aliases and all four identifier forms.
    let (st, _) = s.call(
        "CreateAlias",
        json!({"AliasName": "alias/reports", "TargetKeyId": id}),
    );
    assert_eq!(st, 200);
    let arn = m["Arn"].as_str().unwrap();
    let alias_arn = "arn:aws:kms:us-east-1:000000000000:alias/reports";
    for r in [id, arn, "alias/reports", alias_arn] {
        let (st, v) = s.call("DescribeKey", json!({"KeyId": r}));
        assert_eq!(
            (st, v["KeyMetadata"]["KeyId"].as_str()),
            (200, Some(id)),
            "{r}"
        );
    }
    let (_, v) = s.call("ListAliases", json!({}));
    assert_eq!(v["Aliases"][0]["AliasArn"], alias_arn);
    let (_, v) = s.call(
        "CreateAlias",
        json!({"AliasName": "reports", "TargetKeyId": id}),
    );
    assert_eq!(v["__type"], "InvalidAliasNameException");

    // RSA keys: GetPublicKey is DER SPKI; no data keys; the algorithm is required.
    let (st, v) = s.call("CreateKey", json!({"KeySpec": "RSA_2048"}));
    assert_eq!(st, 200, "{v}");
    let rsa = v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let (_, v) = s.call("GetPublicKey", json!({"KeyId": rsa}));
    let der = Base64::decode_vec(v["PublicKey"].as_str().unwrap()).unwrap();
    assert_eq!(der[0], 0x30, "DER SEQUENCE");
    let (_, v) = s.call(
        "GenerateDataKey",
        json!({"KeyId": rsa, "KeySpec": "AES_256"}),
    );
    assert_eq!(v["__type"], "InvalidKeyUsageException");
    let (_, v) = s.call("Encrypt", json!({"KeyId": rsa, "Plaintext": b64(b"x")}));
    assert_eq!(v["__type"], "InvalidKeyUsageException");
    let (st, v) = s.call(
        "Encrypt",
        json!({"KeyId": rsa, "Plaintext": b64(b"x"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = s.call(
        "Decrypt",
        json!({"KeyId": rsa, "CiphertextBlob": v["CiphertextBlob"], "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    assert_eq!(
        (st, v["Plaintext"].as_str()),
        (200, Some(b64(b"x").as_str()))
    );

    // DryRun checks the request and does nothing.
    let (_, v) = s.call(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"x"), "DryRun": true}),
    );
    assert_eq!(v["__type"], "DryRunOperationException");
}

#[test]
fn list_operations_page_with_limit_and_marker() {
    let (_d, home) = store();
    let s = Server::start(&home, &["--allow-unsigned"]);
    let ids: Vec<String> = (0..3).map(|_| create_key(&s).0).collect();
    let (_, p1) = s.call("ListKeys", json!({"Limit": 2}));
    assert_eq!(p1["Truncated"], true);
    assert_eq!(p1["Keys"].as_array().unwrap().len(), 2);
    let (_, p2) = s.call("ListKeys", json!({"Limit": 2, "Marker": p1["NextMarker"]}));
    assert_eq!(p2["Truncated"], false);
    assert!(p2.get("NextMarker").is_none());
    let got: Vec<&str> = p1["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["Keys"].as_array().unwrap())
        .map(|k| k["KeyId"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids);
    let (_, v) = s.call("ListKeys", json!({"Marker": "forged"}));
    assert_eq!(v["__type"], "InvalidMarkerException");
    let (_, v) = s.call("ListKeys", json!({"Limit": 0}));
    assert_eq!(v["__type"], "ValidationException");
    // Rotations only by default, the initial material too on request.
    s.call("RotateKeyOnDemand", json!({"KeyId": ids[0]}));
    let (_, v) = s.call("ListKeyRotations", json!({"KeyId": ids[0]}));
    assert_eq!(v["Rotations"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["Rotations"][0]["RotationType"], "ON_DEMAND");
    let (_, v) = s.call(
        "ListKeyRotations",
        json!({"KeyId": ids[0], "IncludeKeyMaterial": "ALL_KEY_MATERIAL", "Limit": 1}),
    );
    assert_eq!(
        (v["Rotations"].as_array().unwrap().len(), &v["Truncated"]),
        (1, &json!(true))
    );
}

#[test]
fn a_key_is_not_found_from_another_region() {
    let (_d, home) = store();
    let s = Server::start(&home, &["--allow-unsigned"]);
    let (st, v) = s.call_as("CreateKey", json!({}), Some("eu-west-2"));
    assert_eq!(st, 200);
    let id = v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let arn = v["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    assert_eq!(arn, format!("arn:aws:kms:eu-west-2:000000000000:key/{id}"));
    let (st, e) = s.call_as(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"x")}),
        Some("eu-west-2"),
    );
    assert_eq!(st, 200);
    // From the server's default region (no credential scope) and from a third region:
    for region in [None, Some("us-east-1"), Some("ap-south-1")] {
        for r in [id.as_str(), arn.as_str()] {
            let (st, v) = s.call_as("DescribeKey", json!({"KeyId": r}), region);
            assert_eq!(
                (st, v["__type"].as_str()),
                (400, Some("NotFoundException")),
                "{region:?} {r}"
            );
        }
        let (_, v) = s.call_as(
            "Decrypt",
            json!({"CiphertextBlob": e["CiphertextBlob"]}),
            region,
        );
        assert_eq!(v["__type"], "NotFoundException", "{region:?}");
        let (_, v) = s.call_as("ListKeys", json!({}), region);
        assert_eq!(v["Keys"], json!([]));
    }
    let (_, v) = s.call_as(
        "Decrypt",
        json!({"CiphertextBlob": e["CiphertextBlob"]}),
        Some("eu-west-2"),
    );
    assert_eq!(v["Plaintext"], b64(b"x"));
    // The CLI is region-bound the same way.
    let out = Command::new(assert_cmd::cargo::cargo_bin("angou"))
        .arg("--home")
        .arg(&home)
        .env("ANGOU_STATE_DIR", home.with_extension("marks"))
        .args(["kms", "describe-key", "--key-id", &id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = angou(
        &home,
        &[
            "kms",
            "--region",
            "eu-west-2",
            "describe-key",
            "--key-id",
            &id,
        ],
    );
    assert_eq!(v["KeyMetadata"]["Arn"], arn);
}

#[test]
fn cli_blobs_decrypt_through_the_server_and_back() {
    let (_d, home) = store();
    let k = angou(&home, &["kms", "create-key"]);
    let id = k["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let e = angou(
        &home,
        &[
            "kms",
            "encrypt",
            "--key-id",
            &id,
            "--plaintext",
            &b64(b"from cli"),
            "-c",
            "a=1",
        ],
    );
    let s = Server::start(&home, &["--allow-unsigned"]);
    let (st, d) = s.call(
        "Decrypt",
        json!({"CiphertextBlob": e["CiphertextBlob"], "EncryptionContext": {"a": "1"}}),
    );
    assert_eq!(
        (st, d["Plaintext"].as_str()),
        (200, Some(b64(b"from cli").as_str())),
        "{d}"
    );
    let (_, e) = s.call(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"from server"), "EncryptionContext": {"b": "2"}}),
    );
    let d = angou(
        &home,
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            e["CiphertextBlob"].as_str().unwrap(),
            "-c",
            "b=2",
        ],
    );
    assert_eq!(d["Plaintext"], b64(b"from server"));
}

/// Two servers and the CLI on one store at once: the store's lock serialises them, nothing
/// is lost, and the audit log verifies afterwards.
#[test]
fn two_servers_and_the_cli_share_one_store() {
    let (_d, home) = store();
    let a = Server::start(&home, &["--allow-unsigned"]);
    let b = Server::start(&home, &["--allow-unsigned"]);
    let (id, _) = create_key(&a);
    let before = audit(&home).len();
    std::thread::scope(|scope| {
        for s in [&a, &b] {
            for t in 0..3 {
                let id = id.clone();
                scope.spawn(move || {
                    for i in 0..5 {
                        let text = format!("{t}-{i}");
                        let (st, e) = s.call(
                            "Encrypt",
                            json!({"KeyId": id, "Plaintext": b64(text.as_bytes())}),
                        );
                        assert_eq!(st, 200, "{e}");
                        let (st, d) =
                            s.call("Decrypt", json!({"CiphertextBlob": e["CiphertextBlob"]}));
                        assert_eq!(
                            (st, d["Plaintext"].as_str()),
                            (200, Some(b64(text.as_bytes()).as_str()))
                        );
                    }
                });
            }
        }
        let home = home.clone();
        scope.spawn(move || {
            for _ in 0..5 {
                angou(&home, &["kms", "create-key"]);
            }
        });
    });
    // 2 servers × 3 clients × 5 × (Encrypt + Decrypt), and 5 CLI CreateKey, one entry each.
    assert_eq!(audit(&home).len() - before, 2 * 3 * 5 * 2 + 5);
    let (_, keys) = b.call("ListKeys", json!({}));
    assert_eq!(keys["Keys"].as_array().unwrap().len(), 6);
    angou(&home, &["kms", "audit", "verify"]);
}

#[test]
fn oversized_heads_and_bodies_are_refused_and_the_server_goes_on() {
    let (_d, home) = store();
    let s = Server::start(&home, &["--allow-unsigned"]);
    let raw = "POST / HTTP/1.1\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Length: 10000000\r\n\r\n";
    let (st, _) = raw_exchange(&s.addr, raw.as_bytes());
    assert_eq!(st, 413);
    let big = format!(
        "POST / HTTP/1.1\r\nX-Pad: {}\r\nContent-Length: 2\r\n\r\n{{}}",
        "a".repeat(20_000)
    );
    let (st, _) = raw_exchange(&s.addr, big.as_bytes());
    assert_eq!(st, 431);
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (st, _) = raw_exchange(
        &s.addr,
        format!("POST / HTTP/1.1\r\n{many}Content-Length: 2\r\n\r\n{{}}").as_bytes(),
    );
    assert_eq!(st, 431);
    let (st, _) = raw_exchange(
        &s.addr,
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(st, 501);
    let (st, _) = raw_exchange(
        &s.addr,
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    );
    assert_eq!(st, 400);
    let (st, _) = raw_exchange(&s.addr, b"NOT HTTP AT ALL\r\n\r\n");
    assert_eq!(st, 400);
    let (st, v) = s.call("ListKeys", json!({}));
    assert_eq!(st, 200, "{v}");
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let (_d, home) = store();
    let s = Server::start(&home, &["--allow-unsigned"]);
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    for i in 0..5 {
        let body = json!({"NumberOfBytes": i + 1}).to_string();
        let raw = format!(
            "POST / HTTP/1.1\r\nX-Amz-Target: TrentService.GenerateRandom\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        c.write_all(raw.as_bytes()).unwrap();
        let (st, b) = read_response(&mut c);
        assert_eq!(st, 200);
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            Base64::decode_vec(v["Plaintext"].as_str().unwrap())
                .unwrap()
                .len(),
            i + 1
        );
    }
}

#[test]
fn a_slow_client_blocks_neither_others_nor_the_store() {
    let (_d, home) = store();
    angou(&home, &["kms", "create-key"]);
    let s = Server::start(&home, &["--allow-unsigned", "--read-timeout", "2"]);
    // Half a request, then silence.
    let mut slow = TcpStream::connect(&s.addr).unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Length: 50\r\n\r\n{\"Li").unwrap();
    // Others are served meanwhile, and the CLI uses the store.
    let (st, _) = s.call("ListKeys", json!({}));
    assert_eq!(st, 200);
    angou(&home, &["kms", "create-key"]);
    // The slow one is cut off after the read timeout with 408.
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let (st, _) = read_response(&mut slow);
    assert_eq!(st, 408);
    let mut rest = Vec::new();
    assert_eq!(
        slow.read_to_end(&mut rest).unwrap(),
        0,
        "closed after the 408"
    );
}

#[test]
fn every_request_is_audited_with_its_caller() {
    let (_d, home) = store();
    angou(&home, &["kms", "create-key"]);
    let s = Server::start(&home, &["--allow-unsigned"]);
    let before = audit(&home).len();
    s.call("ListKeys", json!({}));
    s.call("DescribeKey", json!({"KeyId": "alias/none"}));
    s.call("GenerateRandom", json!({"NumberOfBytes": 0}));
    s.call("Bogus", json!({}));
    s.call("ListKeys", json!({"Limit": "x"}));
    s.call(
        "Encrypt",
        json!({"KeyId": "alias/x", "Plaintext": b64(b"x"), "DryRun": true}),
    );
    let mut strict = Server::start(&home, &[]);
    let (st, v) = strict.call("ListKeys", json!({}));
    assert_eq!(
        (st, v["__type"].as_str()),
        (403, Some("MissingAuthenticationTokenException"))
    );
    assert!(strict.sigterm().success());
    let entries = audit(&home);
    let new: Vec<&Value> = entries[before..].iter().collect();
    let got: Vec<(&str, &str)> = new
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap(),
                e["error_code"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("ListKeys", "-"),
            ("DescribeKey", "NotFoundException"),
            ("GenerateRandom", "ValidationException"),
            ("UnknownOperation", "UnknownOperationException"),
            ("ListKeys", "SerializationException"),
            ("Encrypt", "DryRunOperationException"),
            ("ListKeys", "MissingAuthenticationTokenException"),
        ]
    );
    for e in &new[..6] {
        assert_eq!(e["caller"]["principal"], "unsigned");
        assert!(
            e["caller"]["source"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
    }
    assert_eq!(new[6]["caller"]["principal"], "unauthenticated");
}

/// Without `--allow-unsigned`, every request is checked with Signature V4 against the store's
/// access keys: unsigned, stale, future, tampered, wrongly signed, malformed and unknown-key
/// requests get AWS's errors; a signed one runs in the region of its credential scope.
#[test]
fn requests_are_checked_with_signature_v4() {
    use time::{Duration as Span, OffsetDateTime};
    let (_d, home) = store();
    let (id, secret) = access_key(&home, "alice");
    let s = Server::start(&home, &[]);
    let key = (id.as_str(), secret.as_str());
    let (st, v) = signed_call(&s.addr, "ListKeys", json!({}), key, "us-east-1");
    assert_eq!(st, 200, "{v}");
    // The region is the credential scope's.
    let (st, v) = signed_call(&s.addr, "CreateKey", json!({}), key, "eu-west-2");
    assert_eq!(st, 200, "{v}");
    let arn = v["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    assert!(arn.starts_with("arn:aws:kms:eu-west-2:"), "{arn}");
    let (st, v) = signed_call(
        &s.addr,
        "DescribeKey",
        json!({"KeyId": arn}),
        key,
        "us-east-1",
    );
    assert_eq!((st, v["__type"].as_str()), (400, Some("NotFoundException")));

    let refused = |raw: &[u8]| -> (u16, String, String) {
        let (st, b) = raw_exchange(&s.addr, raw);
        let v: Value = serde_json::from_slice(&b).unwrap();
        (
            st,
            v["__type"].as_str().unwrap().to_owned(),
            v["message"].as_str().unwrap().to_owned(),
        )
    };
    // Unsigned: 403, as AWS.
    let (st, v) = s.call("ListKeys", json!({}));
    assert_eq!(
        (st, v["__type"].as_str()),
        (403, Some("MissingAuthenticationTokenException"))
    );
    let now = OffsetDateTime::now_utc();
    let body = r#"{"Limit":10}"#;
    // A replay: a request signed 6 minutes ago, and one dated 6 minutes ahead.
    for (at, words) in [
        (now - Span::minutes(6), "Signature expired"),
        (now + Span::minutes(6), "Signature not yet current"),
    ] {
        let (raw, _) = signed_request(&s.addr, "ListKeys", body, key, "us-east-1", at, None);
        let (st, ty, msg) = refused(&raw);
        assert_eq!((st, ty.as_str()), (400, "InvalidSignatureException"));
        assert!(msg.starts_with(words), "{msg}");
    }
    // Within the window it is served (the check is the clock, not the request's age alone).
    let (raw, _) = signed_request(
        &s.addr,
        "ListKeys",
        body,
        key,
        "us-east-1",
        now - Span::minutes(4),
        None,
    );
    assert_eq!(raw_exchange(&s.addr, &raw).0, 200);
    // A body changed after signing (same length, so only the signature can tell).
    let (raw, _) = signed_request(
        &s.addr,
        "ListKeys",
        body,
        key,
        "us-east-1",
        now,
        Some(r#"{"Limit":11}"#),
    );
    assert_eq!(
        refused(&raw).1,
        "InvalidSignatureException",
        "a tampered body must not verify"
    );
    // Another secret, and an access key the store does not hold.
    let wrong = "A".repeat(40);
    let (st, v) = signed_call(&s.addr, "ListKeys", json!({}), (&id, &wrong), "us-east-1");
    assert_eq!(
        (st, v["__type"].as_str()),
        (400, Some("InvalidSignatureException"))
    );
    let (st, v) = signed_call(
        &s.addr,
        "ListKeys",
        json!({}),
        ("AKIAUNKNOWNUNKNOWN00", &secret),
        "us-east-1",
    );
    assert_eq!(
        (st, v["__type"].as_str()),
        (400, Some("UnrecognizedClientException"))
    );
    // A malformed Authorization header.
    let (st, v) = s.call_as("ListKeys", json!({}), Some("us-east-1"));
    assert_eq!(
        (st, v["__type"].as_str()),
        (400, Some("IncompleteSignatureException"))
    );
}

/// A deleted access key is refused at once, by a server that was running when it was deleted
/// (by another process, the CLI); the other keys keep working.
#[test]
fn a_deleted_access_key_is_refused_at_once() {
    let (_d, home) = store();
    let (gone, gone_secret) = access_key(&home, "leaver");
    let (kept, kept_secret) = access_key(&home, "stayer");
    let s = Server::start(&home, &[]);
    let call = |k: (&str, &str)| signed_call(&s.addr, "ListKeys", json!({}), k, "us-east-1");
    assert_eq!(call((&gone, &gone_secret)).0, 200);
    angou(
        &home,
        &["kms", "delete-access-key", "--access-key-id", &gone],
    );
    let (st, v) = call((&gone, &gone_secret));
    assert_eq!(
        (st, v["__type"].as_str()),
        (400, Some("UnrecognizedClientException"))
    );
    assert_eq!(call((&kept, &kept_secret)).0, 200);
    // Deleted between two requests of the same key, the second refused at once.
    assert_eq!(call((&kept, &kept_secret)).0, 200);
    angou(
        &home,
        &["kms", "delete-access-key", "--access-key-id", &kept],
    );
    assert_eq!(
        call((&kept, &kept_secret)).1["__type"].as_str(),
        Some("UnrecognizedClientException")
    );
    // A key made by another process while the server runs is accepted at once.
    let (new, new_secret) = access_key(&home, "joiner");
    assert_eq!(call((&new, &new_secret)).0, 200);
}

/// The audit log names the access key and user of every signed request; refused requests
/// are audited with the AWS error, a fixed reason and the access key id they claim; no
/// secret and no signature is ever written to it.
#[test]
fn signed_and_refused_requests_are_audited_without_secrets() {
    let (_d, home) = store();
    let (id, secret) = access_key(&home, "alice");
    let s = Server::start(&home, &[]);
    let key = (id.as_str(), secret.as_str());
    let before = audit(&home).len();
    let now = time::OffsetDateTime::now_utc();
    let mut signatures = Vec::new();
    let mut send = |raw: (Vec<u8>, String)| {
        signatures.push(raw.1);
        raw_exchange(&s.addr, &raw.0).0
    };
    let ok = send(signed_request(
        &s.addr,
        "ListKeys",
        "{}",
        key,
        "us-east-1",
        now,
        None,
    ));
    assert_eq!(ok, 200);
    let bad = send(signed_request(
        &s.addr,
        "DescribeKey",
        r#"{"KeyId":"alias/none"}"#,
        key,
        "eu-west-1",
        now,
        None,
    ));
    assert_eq!(bad, 400);
    let stale = send(signed_request(
        &s.addr,
        "ListKeys",
        "{}",
        key,
        "us-east-1",
        now - time::Duration::minutes(10),
        None,
    ));
    assert_eq!(stale, 400);
    let tampered = send(signed_request(
        &s.addr,
        "ListKeys",
        "{}",
        key,
        "us-east-1",
        now,
        Some("[]"),
    ));
    assert_eq!(tampered, 400);
    let wrong = "B".repeat(40);
    let forged = send(signed_request(
        &s.addr,
        "ListKeys",
        "{}",
        (&id, &wrong),
        "us-east-1",
        now,
        None,
    ));
    assert_eq!(forged, 400);
    s.call("ListKeys", json!({}));
    let entries = audit(&home);
    let new = &entries[before..];
    let got: Vec<(&str, &str, &str, &str)> = new
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap(),
                e["error_code"].as_str().unwrap_or("-"),
                e["caller"]["principal"].as_str().unwrap(),
                e["caller"]["access_key_id"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("ListKeys", "-", id.as_str(), id.as_str()),
            ("DescribeKey", "NotFoundException", id.as_str(), id.as_str()),
            (
                "ListKeys",
                "InvalidSignatureException",
                "unauthenticated",
                id.as_str()
            ),
            (
                "ListKeys",
                "InvalidSignatureException",
                "unauthenticated",
                id.as_str()
            ),
            (
                "ListKeys",
                "InvalidSignatureException",
                "unauthenticated",
                id.as_str()
            ),
            (
                "ListKeys",
                "MissingAuthenticationTokenException",
                "unauthenticated",
                "-"
            ),
        ]
    );
    assert_eq!(new[0]["caller"]["user"], "alice");
    assert_eq!(new[1]["caller"]["region"], "eu-west-1");
    assert_eq!(
        new[2]["reason"],
        "X-Amz-Date more than 5 minutes in the past"
    );
    assert_eq!(new[3]["reason"], "signature does not match");
    assert_eq!(new[4]["caller"]["user"], "alice");
    assert_eq!(new[5]["reason"], "no Authorization header");
    for e in new {
        assert!(
            e["caller"]["source"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
    }
    let text = audit_text(&home);
    assert!(!text.contains(&secret), "the secret is in the audit log");
    assert!(!text.contains(&wrong));
    for sig in &signatures {
        assert!(
            !text.contains(sig.as_str()),
            "a signature is in the audit log"
        );
    }
}

#[test]
fn sigterm_and_sigint_finish_and_exit_zero() {
    let (_d, home) = store();
    let mut s = Server::start(&home, &["--allow-unsigned"]);
    // An idle kept-alive connection does not hold the server up.
    let idle = TcpStream::connect(&s.addr).unwrap();
    assert_eq!(s.call("ListKeys", json!({})).0, 200);
    let status = s.sigterm();
    assert_eq!(status.code(), Some(0));
    assert!(
        TcpStream::connect(&s.addr).is_err(),
        "nothing listens after the stop"
    );
    drop(idle);
    let mut s = Server::start(&home, &["--allow-unsigned"]);
    assert_eq!(s.call("ListKeys", json!({})).0, 200);
    assert_eq!(s.signal("-INT").code(), Some(0));
}

#[test]
fn unsigned_and_plain_http_are_refused_off_loopback() {
    let (_d, home) = store();
    let run = |args: &[&str]| {
        Command::new(assert_cmd::cargo::cargo_bin("angou"))
            .arg("--home")
            .arg(&home)
            .args(["kms", "serve"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--listen", "0.0.0.0:0", "--allow-unsigned"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--allow-unsigned is refused on 0.0.0.0")
    );
    let out = run(&["--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("requires TLS (--tls-cert/--tls-key)"), "{err}");
    assert!(
        err.contains("hint: add --tls-cert FILE --tls-key FILE"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no endpoint line when refused");
}

/// A self-signed certificate for 127.0.0.1 and localhost, written to `dir`: (cert path, key
/// path, certificate DER).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf, Vec<u8>) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key, ck.cert.der().to_vec())
}

/// A TLS connection to `addr` (127.0.0.1), trusting only `ca` (DER); the handshake runs with
/// the first write.
fn tls_connect(addr: &str, ca: &[u8]) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use std::sync::Arc;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca.to_vec()))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    rustls::StreamOwned::new(conn, sock)
}

/// One request over TLS to `addr`, trusting only `ca` (DER): (status, body).
fn tls_exchange(addr: &str, ca: &[u8], raw: &[u8]) -> (u16, Vec<u8>) {
    let mut tls = tls_connect(addr, ca);
    tls.write_all(raw).unwrap();
    let mut all = Vec::new();
    // The server closes after a `Connection: close` request; a missing close_notify is fine.
    let _ = tls.read_to_end(&mut all);
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, all[split..].to_vec())
}

/// `--tls-cert/--tls-key`: HTTPS with signed requests (a raw rustls client, and the AWS CLI
/// and boto3 trusting the test's own CA when installed); plain HTTP to the TLS port gets no
/// answer and the server goes on; a client that stalls or trickles its handshake is cut off
/// at the read timeout while others are served.
#[test]
fn tls_serves_signed_requests_and_keeps_its_limits() {
    let (dir, home) = store();
    let (cert, key, der) = self_signed(dir.path());
    let (id, secret) = access_key(&home, "tls");
    let s = Server::start(
        &home,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--read-timeout",
            "2",
        ],
    );
    let signed = |op: &str, body: &str| {
        signed_request(
            &s.addr,
            op,
            body,
            (&id, &secret),
            "us-east-1",
            time::OffsetDateTime::now_utc(),
            None,
        )
        .0
    };
    // A handshake that trickles (a byte of a ClientHello record every 300 ms, for far longer
    // than the 2 s read timeout), and one that stops after its first bytes.
    let trickler = {
        let addr = s.addr.clone();
        std::thread::spawn(move || {
            let mut t = TcpStream::connect(&addr).unwrap();
            let hello = [
                0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
            ];
            for round in 0..60 {
                let b = hello[round % hello.len()];
                if t.write_all(&[b]).is_err() {
                    return Some(round);
                }
                std::thread::sleep(Duration::from_millis(300));
                let mut probe = [0u8; 64];
                t.set_nonblocking(true).unwrap();
                let r = t.read(&mut probe);
                t.set_nonblocking(false).unwrap();
                if matches!(r, Ok(0))
                    || r.as_ref()
                        .is_err_and(|e| e.kind() != std::io::ErrorKind::WouldBlock)
                {
                    return Some(round);
                }
            }
            None
        })
    };
    let mut stalled = TcpStream::connect(&s.addr).unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).unwrap();
    // Others are served meanwhile, signed, over TLS.
    let (st, body) = tls_exchange(&s.addr, &der, &signed("CreateKey", "{}"));
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    let (st, body) = tls_exchange(&s.addr, &der, &signed("ListKeys", "{}"));
    assert_eq!(st, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["Keys"].as_array().unwrap().len(), 1);
    // Half a request over TLS, then silence: 408 at the read timeout, as without TLS.
    let (st, _) = tls_exchange(
        &s.addr,
        &der,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"Li",
    );
    assert_eq!(st, 408);
    // Unsigned over TLS is still refused.
    let unsigned = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    assert_eq!(tls_exchange(&s.addr, &der, unsigned).0, 403);
    // The stalled handshake is closed (after the read timeout), without an HTTP answer.
    stalled
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut got = Vec::new();
    let _ = stalled.read_to_end(&mut got);
    assert!(!got.starts_with(b"HTTP/"), "{got:?}");
    let cut = trickler.join().unwrap();
    assert!(
        cut.is_some(),
        "a trickled handshake held its worker for 18 s, past the 2 s read timeout"
    );
    // Plain HTTP to the TLS port: no HTTP answer, no request served, and the server goes on.
    let before = audit(&home).len();
    let mut plain = TcpStream::connect(&s.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    plain.write_all(&signed("CreateKey", "{}")).unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(
        audit(&home).len(),
        before,
        "a plain request reached the store"
    );
    assert_eq!(
        tls_exchange(&s.addr, &der, &signed("ListKeys", "{}")).0,
        200
    );

    // The real clients, trusting the test's certificate.
    if let Some(python) = tools::python_with("awscli", "pip install awscli") {
        let endpoint = format!("https://{}", s.addr);
        let aws = |args: &[&str], ca: &Path| {
            let mut c = Command::new(&python);
            c.args([
                "-m",
                "awscli",
                "kms",
                "--endpoint-url",
                &endpoint,
                "--output",
                "json",
                "--ca-bundle",
            ])
            .arg(ca)
            .args(args);
            aws_env_without_endpoint(&mut c, dir.path(), (&id, &secret));
            c.output().unwrap()
        };
        let out = aws(
            &[
                "generate-data-key",
                "--key-id",
                v["Keys"][0]["KeyId"].as_str().unwrap(),
                "--key-spec",
                "AES_256",
            ],
            &cert,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dk: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            Base64::decode_vec(dk["Plaintext"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        // Another CA: the client refuses the server.
        let (other, _, _) = self_signed(&dir.path().join("other").tap_mkdir());
        let out = aws(&["list-keys"], &other);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("SSL"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if let Some(python) = tools::python_with("boto3", "pip install boto3") {
        let script = r#"
import sys, boto3
kms = boto3.client("kms", endpoint_url=sys.argv[1], verify=sys.argv[2])
k = kms.create_key(Description="over tls")["KeyMetadata"]["KeyId"]
blob = kms.encrypt(KeyId=k, Plaintext=b"tls")["CiphertextBlob"]
assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"tls"
"#;
        let mut c = Command::new(&python);
        c.args(["-c", script, &format!("https://{}", s.addr)])
            .arg(&cert);
        aws_env_without_endpoint(&mut c, dir.path(), (&id, &secret));
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

/// TLS is required off loopback, and `--allow-unsigned` stays refused there even with TLS;
/// a certificate or key that cannot be used stops the server before it listens.
#[test]
fn off_loopback_needs_tls_and_never_serves_unsigned() {
    let (dir, home) = store();
    let (cert, key, _) = self_signed(dir.path());
    let run = |args: &[&str]| {
        Command::new(assert_cmd::cargo::cargo_bin("angou"))
            .arg("--home")
            .arg(&home)
            .args(["kms", "serve"])
            .args(args)
            .output()
            .unwrap()
    };
    let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let out = run(&[
        "--listen",
        "0.0.0.0:0",
        "--allow-unsigned",
        "--tls-cert",
        c,
        "--tls-key",
        k,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--allow-unsigned is refused on 0.0.0.0")
    );
    assert!(out.stdout.is_empty());
    // The key file in place of the certificate, and the reverse, and a missing file.
    for args in [
        ["--tls-cert", k, "--tls-key", k],
        ["--tls-cert", c, "--tls-key", c],
        ["--tls-cert", "/nonexistent/c.pem", "--tls-key", k],
    ] {
        let mut all = vec!["--listen", "127.0.0.1:0"];
        all.extend(args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: cannot use "), "{err}");
        assert!(!err.contains("PRIVATE KEY-----"), "{err}");
        assert!(out.stdout.is_empty());
    }
    // Half a pair is a usage error.
    let out = run(&["--listen", "127.0.0.1:0", "--tls-cert", c]);
    assert_eq!(out.status.code(), Some(2));
}

/// A file whose `kms` stanza names its key by the ARN form angou wrote before AWS ARNs
/// (`arn:angou:kms:local:000000000000:key/<id>`) still decrypts, with the server running.
#[test]
fn files_with_old_arn_stanzas_still_decrypt() {
    use angou::kms::{Clock, EncryptionContext, Kms};
    use angou::recipient::{Recipient, Stanza};
    struct OldArn<'a>(&'a Kms, String);
    impl Recipient for OldArn<'_> {
        fn wrap(&self, file_key: &angou::secret::FileKey) -> Result<Vec<Stanza>, angou::Error> {
            let e = self
                .0
                .encrypt(&self.1, file_key.expose_secret(), &EncryptionContext::new())?;
            Ok(vec![Stanza {
                kind: angou::kms::KMS_STANZA.into(),
                args: vec![format!("arn:angou:kms:local:000000000000:key/{}", self.1)],
                body: e.ciphertext_blob,
            }])
        }
    }
    let (dir, home) = store();
    let kms = Kms::open(&home, Clock::System).with_high_water_marks(home.with_extension("marks"));
    let id = kms
        .create_key("", angou::kms::KeySpec::SymmetricDefault)
        .unwrap()
        .key_id
        .to_string();
    let file = dir.path().join("old.age");
    let mut w = angou::format::Encryptor::with_recipients([OldArn(&kms, id.clone())])
        .unwrap()
        .wrap_output(std::fs::File::create(&file).unwrap())
        .unwrap();
    w.write_all(b"written before real ARNs").unwrap();
    w.finish().unwrap();
    let _s = Server::start(&home, &["--allow-unsigned"]);
    let out = Command::new(assert_cmd::cargo::cargo_bin("angou"))
        .arg("--home")
        .arg(&home)
        .env("ANGOU_STATE_DIR", home.with_extension("marks"))
        .arg("decrypt")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"written before real ARNs");
}

/// The issue's flow with the real AWS CLI (`awscli` from PyPI), unchanged but for
/// `--endpoint-url`: CreateKey, CreateAlias, GenerateDataKey with a context, Decrypt with it
/// (InvalidCiphertextException without it), ReEncrypt, RotateKeyOnDemand, Decrypt of the old
/// blob, DisableKey (DisabledException), ScheduleKeyDeletion, CancelKeyDeletion (Disabled),
/// a wrong signature refused; and a blob made by `angou kms encrypt` decrypts through it.
/// Every request is signed with an access key made by `angou kms create-access-key`.
#[test]
fn the_aws_cli_runs_the_flow_unchanged() {
    let Some(python) = tools::python_with("awscli", "pip install awscli") else {
        return;
    };
    let (dir, home) = store();
    let (key_id, secret) = access_key(&home, "awscli");
    let s = Server::start(&home, &[]);
    let endpoint = s.endpoint();
    let aws_as = |key: (&str, &str), args: &[&str]| -> (i32, Value, String) {
        let mut c = Command::new(&python);
        c.args([
            "-m",
            "awscli",
            "kms",
            "--endpoint-url",
            &endpoint,
            "--output",
            "json",
        ])
        .args(args);
        aws_env_without_endpoint(&mut c, dir.path(), key);
        let out = c.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let aws = |args: &[&str]| aws_as((&key_id, &secret), args);
    let ok = |args: &[&str]| -> Value {
        let (code, v, err) = aws(args);
        assert_eq!(code, 0, "aws kms {args:?}: {err}");
        v
    };
    let fails = |args: &[&str], exception: &str| {
        let (code, _, err) = aws(args);
        assert_ne!(code, 0, "aws kms {args:?} succeeded");
        assert!(
            err.contains(&format!("({exception})")),
            "aws kms {args:?}: {err}"
        );
    };
    let blob_file = |name: &str, b64text: &str| -> String {
        let p = dir.path().join(name);
        std::fs::write(&p, Base64::decode_vec(b64text).unwrap()).unwrap();
        format!("fileb://{}", p.display())
    };

    let k = ok(&["create-key", "--description", "aws cli"]);
    let id = k["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    assert!(
        k["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:kms:us-east-1:000000000000:key/")
    );
    ok(&[
        "create-alias",
        "--alias-name",
        "alias/awscli",
        "--target-key-id",
        &id,
    ]);
    let dk = ok(&[
        "generate-data-key",
        "--key-id",
        "alias/awscli",
        "--key-spec",
        "AES_256",
        "--encryption-context",
        "purpose=test,team=a",
    ]);
    let blob = blob_file("dk", dk["CiphertextBlob"].as_str().unwrap());
    let d = ok(&[
        "decrypt",
        "--ciphertext-blob",
        &blob,
        "--encryption-context",
        "purpose=test,team=a",
    ]);
    assert_eq!(d["Plaintext"], dk["Plaintext"]);
    fails(
        &["decrypt", "--ciphertext-blob", &blob],
        "InvalidCiphertextException",
    );
    fails(
        &[
            "decrypt",
            "--ciphertext-blob",
            &blob,
            "--encryption-context",
            "purpose=test",
        ],
        "InvalidCiphertextException",
    );
    let re = ok(&[
        "re-encrypt",
        "--ciphertext-blob",
        &blob,
        "--source-encryption-context",
        "purpose=test,team=a",
        "--destination-key-id",
        &id,
        "--destination-encryption-context",
        "purpose=moved",
    ]);
    let moved = blob_file("moved", re["CiphertextBlob"].as_str().unwrap());
    let d = ok(&[
        "decrypt",
        "--ciphertext-blob",
        &moved,
        "--encryption-context",
        "purpose=moved",
    ]);
    assert_eq!(d["Plaintext"], dk["Plaintext"]);
    ok(&["rotate-key-on-demand", "--key-id", &id]);
    let r = ok(&["list-key-rotations", "--key-id", &id]);
    assert_eq!(r["Rotations"].as_array().unwrap().len(), 1);
    let d = ok(&[
        "decrypt",
        "--ciphertext-blob",
        &blob,
        "--encryption-context",
        "purpose=test,team=a",
    ]);
    assert_eq!(d["Plaintext"], dk["Plaintext"]);
    // A blob made by angou's own CLI.
    let e = angou(
        &home,
        &[
            "kms",
            "encrypt",
            "--key-id",
            &id,
            "--plaintext",
            &b64(b"angou made"),
            "-c",
            "x=1",
        ],
    );
    let cli_blob = blob_file("cli", e["CiphertextBlob"].as_str().unwrap());
    let d = ok(&[
        "decrypt",
        "--ciphertext-blob",
        &cli_blob,
        "--encryption-context",
        "x=1",
    ]);
    assert_eq!(d["Plaintext"], b64(b"angou made"));
    ok(&["disable-key", "--key-id", &id]);
    fails(
        &[
            "decrypt",
            "--ciphertext-blob",
            &blob,
            "--encryption-context",
            "purpose=test,team=a",
        ],
        "DisabledException",
    );
    let del = ok(&[
        "schedule-key-deletion",
        "--key-id",
        &id,
        "--pending-window-in-days",
        "7",
    ]);
    assert_eq!(del["KeyState"], "PendingDeletion");
    fails(
        &[
            "decrypt",
            "--ciphertext-blob",
            &blob,
            "--encryption-context",
            "purpose=test,team=a",
        ],
        "KMSInvalidStateException",
    );
    ok(&["cancel-key-deletion", "--key-id", &id]);
    let m = ok(&["describe-key", "--key-id", "alias/awscli"]);
    assert_eq!(m["KeyMetadata"]["KeyState"], "Disabled");
    fails(
        &["describe-key", "--key-id", "alias/nothing"],
        "NotFoundException",
    );
    // A wrong signature (the right id, another secret) and an unknown access key.
    let wrong = "x".repeat(40);
    let (code, _, err) = aws_as((&key_id, &wrong), &["list-keys"]);
    assert_ne!(code, 0);
    assert!(err.contains("(InvalidSignatureException)"), "{err}");
    let (code, _, err) = aws_as(("AKIAUNKNOWNUNKNOWN00", &secret), &["list-keys"]);
    assert_ne!(code, 0);
    assert!(err.contains("(UnrecognizedClientException)"), "{err}");
    // Audited with the access key and its user; the refusals too, without the secret.
    let entries = audit(&home);
    let served = entries
        .iter()
        .filter(|e| e["caller"]["access_key_id"] == key_id.as_str() && e["result"] == "success")
        .count();
    assert_eq!(
        served, 14,
        "every successful aws call is audited with its access key"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["caller"]["principal"] != "unsigned")
    );
    let refused: Vec<&Value> = entries
        .iter()
        .filter(|e| e["caller"]["principal"] == "unauthenticated")
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0]["error_code"], "InvalidSignatureException");
    assert_eq!(refused[0]["caller"]["user"], "awscli");
    assert_eq!(refused[1]["error_code"], "UnrecognizedClientException");
    assert!(!audit_text(&home).contains(&secret));
}

/// The same flow with boto3, plus its paginator over ListKeys, and blobs exchanged with the
/// angou CLI both ways.
#[test]
fn boto3_runs_the_flow_unchanged() {
    let Some(python) = tools::python_with("boto3", "pip install boto3") else {
        return;
    };
    let (dir, home) = store();
    let k = angou(&home, &["kms", "create-key"]);
    let cli_key = k["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let e = angou(
        &home,
        &[
            "kms",
            "encrypt",
            "--key-id",
            &cli_key,
            "--plaintext",
            &b64(b"from cli"),
            "-c",
            "a=1",
        ],
    );
    let (key_id, secret) = access_key(&home, "boto3");
    let s = Server::start(&home, &[]);
    let script = r#"
import base64, os, sys
import boto3
from botocore.exceptions import ClientError

endpoint, cli_blob, cli_key = sys.argv[1], base64.b64decode(sys.argv[2]), sys.argv[3]
kms = boto3.client("kms", endpoint_url=endpoint)

def code(f, **kw):
    try:
        f(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise SystemExit("no error from %s" % f.__name__)

k = kms.create_key(Description="boto3")["KeyMetadata"]
assert k["Arn"] == "arn:aws:kms:us-east-1:000000000000:key/" + k["KeyId"], k
kid = k["KeyId"]
kms.create_alias(AliasName="alias/boto3", TargetKeyId=kid)
ctx = {"purpose": "test"}
dk = kms.generate_data_key(KeyId="alias/boto3", KeySpec="AES_256", EncryptionContext=ctx)
assert len(dk["Plaintext"]) == 32
assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == dk["Plaintext"]
assert code(kms.decrypt, CiphertextBlob=dk["CiphertextBlob"]) == "InvalidCiphertextException"
re = kms.re_encrypt(CiphertextBlob=dk["CiphertextBlob"], SourceEncryptionContext=ctx,
                    DestinationKeyId=kid, DestinationEncryptionContext={"purpose": "moved"})
assert re["SourceKeyId"] == k["Arn"]
assert kms.decrypt(CiphertextBlob=re["CiphertextBlob"], EncryptionContext={"purpose": "moved"})["Plaintext"] == dk["Plaintext"]
kms.rotate_key_on_demand(KeyId=kid)
assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == dk["Plaintext"]
kms.disable_key(KeyId=kid)
assert code(kms.decrypt, CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx) == "DisabledException"
d = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
assert d["KeyState"] == "PendingDeletion" and d["DeletionDate"].year >= 2024, d
kms.cancel_key_deletion(KeyId=kid)
assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Disabled"
assert code(kms.describe_key, KeyId="alias/none") == "NotFoundException"
pages = list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1}))
assert len(pages) == 2 and [p["Keys"][0]["KeyId"] for p in pages] == [cli_key, kid], pages
# Blobs made by the angou CLI decrypt here, and the reverse.
assert kms.decrypt(CiphertextBlob=cli_blob, EncryptionContext={"a": "1"})["Plaintext"] == b"from cli"
out = kms.encrypt(KeyId=cli_key, Plaintext=b"from boto3", EncryptionContext={"b": "2"})
# A wrong signature (the right id, another secret) and an unknown access key.
wrong = boto3.client("kms", endpoint_url=endpoint,
                     aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key="x" * 40)
assert code(wrong.list_keys) == "InvalidSignatureException"
unknown = boto3.client("kms", endpoint_url=endpoint,
                       aws_access_key_id="AKIAUNKNOWNUNKNOWN00",
                       aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"])
assert code(unknown.list_keys) == "UnrecognizedClientException"
print(base64.b64encode(out["CiphertextBlob"]).decode())
"#;
    let mut c = Command::new(&python);
    c.args([
        "-c",
        script,
        &s.endpoint(),
        e["CiphertextBlob"].as_str().unwrap(),
        &cli_key,
    ]);
    aws_env_without_endpoint(&mut c, dir.path(), (&key_id, &secret));
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "boto3 flow: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blob = String::from_utf8(out.stdout).unwrap();
    let d = angou(
        &home,
        &[
            "kms",
            "decrypt",
            "--ciphertext-blob",
            blob.trim(),
            "-c",
            "b=2",
        ],
    );
    assert_eq!(d["Plaintext"], b64(b"from boto3"));
}

/// Tags, descriptions, data key pairs and bring-your-own-key through boto3 against the
/// server: TagResource/ListResourceTags/UntagResource with TagException for `aws:`, more than
/// 50 tags and a tag key named twice (ValidationException for over-long keys and values),
/// UpdateKeyDescription, GenerateDataKeyPair (the encrypted private key decrypts to the
/// plaintext one), then CreateKey Origin=EXTERNAL, GetParametersForImport, the material wrapped
/// here with RSA-OAEP-SHA-256, ImportKeyMaterial, DeleteImportedKeyMaterial
/// (KMSInvalidStateException) and re-import; a token for another key is
/// InvalidImportTokenException and different material IncorrectKeyMaterialException.
#[test]
fn boto3_tags_pairs_and_byok() {
    let Some(python) = tools::python_with("boto3", "pip install boto3") else {
        return;
    };
    let (dir, home) = store();
    let (key_id, secret) = access_key(&home, "boto3");
    let s = Server::start(&home, &[]);
    let run = |script: &str, args: &[&str]| -> Value {
        let mut c = Command::new(&python);
        c.arg("-c").arg(script).arg(s.endpoint()).args(args);
        aws_env_without_endpoint(&mut c, dir.path(), (&key_id, &secret));
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "boto3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let prelude = r#"
import base64, json, sys
import boto3
from botocore.exceptions import ClientError
kms = boto3.client("kms", endpoint_url=sys.argv[1])
def code(f, **kw):
    try:
        f(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise SystemExit("no error from %s" % f.__name__)
"#;
    let first = format!(
        "{prelude}{}",
        r#"
k = kms.create_key(Description="tags", Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyMetadata"]["KeyId"]
kms.tag_resource(KeyId=k, Tags=[{"TagKey": "env", "TagValue": "test"}])
assert code(kms.tag_resource, KeyId=k, Tags=[{"TagKey": "aws:x", "TagValue": "1"}]) == "TagException"
assert code(kms.tag_resource, KeyId=k, Tags=[{"TagKey": "AWS:x", "TagValue": "1"}]) == "TagException"
# AWS's answers past the tag rules: more than 50 tags on a key, or one tag key twice, is
# TagException; a key over 128 or a value over 256 characters is the model's ValidationException.
before = len(kms.list_keys()["Keys"])
many = lambda n: [{"TagKey": "t%d" % i, "TagValue": ""} for i in range(n)]
assert code(kms.create_key, Tags=many(51)) == "TagException"
assert len(kms.list_keys()["Keys"]) == before
assert code(kms.tag_resource, KeyId=k, Tags=many(49)) == "TagException"
assert code(kms.tag_resource, KeyId=k, Tags=[{"TagKey": "d", "TagValue": "1"}, {"TagKey": "d", "TagValue": "2"}]) == "TagException"
assert code(kms.tag_resource, KeyId=k, Tags=[{"TagKey": "k" * 129, "TagValue": ""}]) == "ValidationException"
assert code(kms.tag_resource, KeyId=k, Tags=[{"TagKey": "v", "TagValue": "v" * 257}]) == "ValidationException"
kms.tag_resource(KeyId=k, Tags=many(48))
assert len(kms.list_resource_tags(KeyId=k)["Tags"]) == 50
kms.untag_resource(KeyId=k, TagKeys=[t["TagKey"] for t in many(48)])
tags = kms.list_resource_tags(KeyId=k)["Tags"]
assert tags == [{"TagKey": "env", "TagValue": "test"}, {"TagKey": "team", "TagValue": "a"}], tags
kms.untag_resource(KeyId=k, TagKeys=["env"])
assert len(kms.list_resource_tags(KeyId=k)["Tags"]) == 1
kms.update_key_description(KeyId=k, Description="renamed")
assert kms.describe_key(KeyId=k)["KeyMetadata"]["Description"] == "renamed"
p = kms.generate_data_key_pair(KeyId=k, KeyPairSpec="RSA_2048", EncryptionContext={"c": "1"})
assert kms.decrypt(CiphertextBlob=p["PrivateKeyCiphertextBlob"], EncryptionContext={"c": "1"})["Plaintext"] == p["PrivateKeyPlaintext"]
w = kms.generate_data_key_pair_without_plaintext(KeyId=k, KeyPairSpec="RSA_2048")
assert "PrivateKeyPlaintext" not in w and w["KeyPairSpec"] == "RSA_2048"
assert code(kms.generate_data_key_pair, KeyId=k, KeyPairSpec="ECC_NIST_P256") == "UnsupportedOperationException"
x = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
assert x["KeyState"] == "PendingImport" and x["Origin"] == "EXTERNAL", x
other = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
ip = kms.get_parameters_for_import(KeyId=x["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
op = kms.get_parameters_for_import(KeyId=other, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
print(json.dumps({"key": x["KeyId"], "other": other, "pub": base64.b64encode(ip["PublicKey"]).decode(),
                  "token": base64.b64encode(ip["ImportToken"]).decode(),
                  "other_token": base64.b64encode(op["ImportToken"]).decode()}))
"#
    );
    let p = run(&first, &[]);
    let public = angou::pk::rsa::PublicKey::from_der(
        &Base64::decode_vec(p["pub"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let wrapped = public.encrypt(b"", &[0x5au8; 32]).unwrap();
    let different = public.encrypt(b"", &[0xa5u8; 32]).unwrap();
    let second = format!(
        "{prelude}{}",
        r#"
key, token, other_token = sys.argv[2], base64.b64decode(sys.argv[3]), base64.b64decode(sys.argv[4])
wrapped, different = base64.b64decode(sys.argv[5]), base64.b64decode(sys.argv[6])
assert code(kms.import_key_material, KeyId=key, ImportToken=other_token, EncryptedKeyMaterial=wrapped,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE") == "InvalidImportTokenException"
kms.import_key_material(KeyId=key, ImportToken=token, EncryptedKeyMaterial=wrapped,
                        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
m = kms.describe_key(KeyId=key)["KeyMetadata"]
assert m["KeyState"] == "Enabled" and m["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE", m
blob = kms.encrypt(KeyId=key, Plaintext=b"byok")["CiphertextBlob"]
kms.delete_imported_key_material(KeyId=key)
assert code(kms.decrypt, CiphertextBlob=blob) == "KMSInvalidStateException"
assert code(kms.import_key_material, KeyId=key, ImportToken=token, EncryptedKeyMaterial=different,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE") == "IncorrectKeyMaterialException"
mid = m["CurrentKeyMaterialId"]
assert code(kms.import_key_material, KeyId=key, ImportToken=token, EncryptedKeyMaterial=wrapped,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", KeyMaterialId="ab" * 32) == "IncorrectKeyMaterialException"
assert code(kms.import_key_material, KeyId=key, ImportToken=token, EncryptedKeyMaterial=wrapped,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", KeyMaterialId=mid,
            ImportType="NEW_KEY_MATERIAL") == "ValidationException"
got = kms.import_key_material(KeyId=key, ImportToken=token, EncryptedKeyMaterial=wrapped,
                              ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", KeyMaterialId=mid,
                              ImportType="EXISTING_KEY_MATERIAL")
assert got["KeyMaterialId"] == mid, got
assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"byok"
print("{}")
"#
    );
    run(
        &second,
        &[
            p["key"].as_str().unwrap(),
            p["token"].as_str().unwrap(),
            p["other_token"].as_str().unwrap(),
            &b64(&wrapped),
            &b64(&different),
        ],
    );
}

/// Aliases belong to a region, as on AWS: the same name (`alias/sops`) in two regions names
/// two keys, each region resolves and lists its own, an alias ARN of another region is not
/// found, and `alias/angou/default` is one key per region. Through the server and the CLI.
#[test]
fn an_alias_name_belongs_to_each_region() {
    let (_d, home) = store();
    let s = Server::start(&home, &["--allow-unsigned"]);
    let regions = ["us-east-1", "eu-west-1"];
    let mut keys = Vec::new();
    for r in regions {
        let (st, v) = s.call_as("CreateKey", json!({}), Some(r));
        assert_eq!(st, 200, "{v}");
        let id = v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
        let (st, v) = s.call_as(
            "CreateAlias",
            json!({"AliasName": "alias/sops", "TargetKeyId": id}),
            Some(r),
        );
        assert_eq!(st, 200, "{r}: {v}");
        keys.push(id);
    }
    for (r, id) in regions.iter().zip(&keys) {
        let alias_arn = format!("arn:aws:kms:{r}:000000000000:alias/sops");
        let key_arn = format!("arn:aws:kms:{r}:000000000000:key/{id}");
        for name in ["alias/sops", alias_arn.as_str()] {
            let (st, v) = s.call_as(
                "Encrypt",
                json!({"KeyId": name, "Plaintext": b64(b"x")}),
                Some(r),
            );
            assert_eq!((st, v["KeyId"].as_str()), (200, Some(key_arn.as_str())));
        }
        let (_, v) = s.call_as("ListAliases", json!({}), Some(r));
        assert_eq!(
            v["Aliases"],
            json!([{"AliasName": "alias/sops", "AliasArn": alias_arn, "TargetKeyId": id}]),
            "{r}"
        );
        let (_, v) = s.call_as(
            "CreateAlias",
            json!({"AliasName": "alias/sops", "TargetKeyId": id}),
            Some(r),
        );
        assert_eq!(v["__type"], "AlreadyExistsException", "{r}");
        // The other region's alias ARN is not found from here.
        let other = regions.iter().find(|o| *o != r).unwrap();
        let theirs = format!("arn:aws:kms:{other}:000000000000:alias/sops");
        for op in ["DescribeKey", "Encrypt"] {
            let (st, v) = s.call_as(
                op,
                json!({"KeyId": theirs, "Plaintext": b64(b"x")}),
                Some(r),
            );
            assert_eq!(
                (st, v["__type"].as_str()),
                (400, Some("NotFoundException")),
                "{op} {theirs} from {r}"
            );
        }
    }
    // A region without the alias does not see it; deleting one leaves the other.
    let (_, v) = s.call_as(
        "DescribeKey",
        json!({"KeyId": "alias/sops"}),
        Some("ap-south-1"),
    );
    assert_eq!(v["__type"], "NotFoundException");
    let (st, _) = s.call_as(
        "DeleteAlias",
        json!({"AliasName": "alias/sops"}),
        Some("eu-west-1"),
    );
    assert_eq!(st, 200);
    let (_, v) = s.call_as(
        "DescribeKey",
        json!({"KeyId": "alias/sops"}),
        Some("eu-west-1"),
    );
    assert_eq!(v["__type"], "NotFoundException");
    let (_, v) = s.call_as(
        "DescribeKey",
        json!({"KeyId": "alias/sops"}),
        Some("us-east-1"),
    );
    assert_eq!(v["KeyMetadata"]["KeyId"], keys[0]);
    drop(s);

    // The CLI with --region: the same name in two regions, each its own key.
    for (r, id) in regions.iter().zip(&keys) {
        angou(
            &home,
            &[
                "kms",
                "--region",
                r,
                "create-alias",
                "--alias-name",
                "alias/cli",
                "--target-key-id",
                id,
            ],
        );
    }
    for (r, id) in regions.iter().zip(&keys) {
        let v = angou(
            &home,
            &[
                "kms",
                "--region",
                r,
                "describe-key",
                "--key-id",
                "alias/cli",
            ],
        );
        assert_eq!(v["KeyMetadata"]["KeyId"], id.as_str(), "{r}");
        let v = angou(&home, &["kms", "--region", r, "list-aliases"]);
        let names: Vec<&str> = v["Aliases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["AliasName"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["alias/cli", "alias/sops"][..names.len()],
            "{r}: {v}"
        );
    }
    let out = Command::new(assert_cmd::cargo::cargo_bin("angou"))
        .arg("--home")
        .arg(&home)
        .env("ANGOU_STATE_DIR", home.with_extension("marks"))
        .args([
            "kms",
            "--region",
            "us-east-1",
            "describe-key",
            "--key-id",
            "arn:aws:kms:eu-west-1:000000000000:alias/cli",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("(NotFoundException)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // alias/angou/default: one key per region, made on first use in each.
    let mut defaults = Vec::new();
    for r in regions {
        let v = angou(
            &home,
            &[
                "kms",
                "--region",
                r,
                "encrypt",
                "--key-id",
                "alias/angou/default",
                "--plaintext",
                "aGk=",
            ],
        );
        let arn = v["KeyId"].as_str().unwrap().to_owned();
        assert!(arn.starts_with(&format!("arn:aws:kms:{r}:")), "{arn}");
        let again = angou(
            &home,
            &[
                "kms",
                "--region",
                r,
                "describe-key",
                "--key-id",
                "alias/angou/default",
            ],
        );
        assert_eq!(again["KeyMetadata"]["Arn"], arn.as_str());
        defaults.push(arn);
    }
    assert_ne!(defaults[0], defaults[1]);
}

/// Every answer that names key material names it as AWS does, with one 64-hex-digit
/// KeyMaterialId per material: DescribeKey (`CurrentKeyMaterialId`), Decrypt,
/// GenerateDataKey(WithoutPlaintext), ReEncrypt (source and destination) and
/// ListKeyRotations; after a rotation new material has a new id and old blobs keep theirs.
#[test]
fn key_material_ids_are_64_hex_on_the_wire() {
    let (_d, home) = store();
    let s = Server::start(&home, &["--allow-unsigned"]);
    let (id, _) = create_key(&s);
    let hex64 = |v: &Value, what: &str| -> String {
        let t = v.as_str().unwrap_or_else(|| panic!("{what} missing"));
        assert!(
            t.len() == 64
                && t.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{what}: {t}"
        );
        t.to_owned()
    };
    let call = |op: &str, body: Value| {
        let (st, v) = s.call(op, body);
        assert_eq!(st, 200, "{op}: {v}");
        v
    };
    let current = || {
        hex64(
            &call("DescribeKey", json!({"KeyId": id}))["KeyMetadata"]["CurrentKeyMaterialId"],
            "CurrentKeyMaterialId",
        )
    };
    let first = current();
    let dk = call(
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_256"}),
    );
    assert_eq!(hex64(&dk["KeyMaterialId"], "GenerateDataKey"), first);
    let wo = call(
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": id, "NumberOfBytes": 16}),
    );
    assert_eq!(hex64(&wo["KeyMaterialId"], "WithoutPlaintext"), first);
    let blob = dk["CiphertextBlob"].clone();
    call("RotateKeyOnDemand", json!({"KeyId": id}));
    let second = current();
    assert_ne!(first, second);
    let d = call("Decrypt", json!({"CiphertextBlob": blob}));
    assert_eq!(hex64(&d["KeyMaterialId"], "Decrypt"), first);
    let re = call(
        "ReEncrypt",
        json!({"CiphertextBlob": blob, "DestinationKeyId": id}),
    );
    assert_eq!(hex64(&re["SourceKeyMaterialId"], "Source"), first);
    assert_eq!(
        hex64(&re["DestinationKeyMaterialId"], "Destination"),
        second
    );
    let all = call(
        "ListKeyRotations",
        json!({"KeyId": id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
    );
    let listed: Vec<String> = all["Rotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| hex64(&r["KeyMaterialId"], "ListKeyRotations"))
        .collect();
    assert_eq!(listed, [first, second]);
    // An RSA key has no CurrentKeyMaterialId, as on AWS.
    let rsa = call(
        "CreateKey",
        json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
    );
    assert_eq!(rsa["KeyMetadata"]["KeySpec"], "RSA_2048");
    assert!(
        rsa["KeyMetadata"]["CurrentKeyMaterialId"].is_null(),
        "{rsa}"
    );
}

/// Temporary credentials (an access key with a session token, as STS issues them) are
/// refused with the answer AWS gives an invalid token, which boto3 understands: HTTP 400
/// `UnrecognizedClientException`, "The security token included in the request is invalid.";
/// the same access key without the token is served, and the refusal is audited without the
/// token's text.
#[test]
fn session_tokens_are_refused_as_aws_refuses_an_invalid_one() {
    let Some(python) = tools::python_with("boto3", "pip install boto3") else {
        return;
    };
    let (dir, home) = store();
    let (key_id, secret) = access_key(&home, "temporary");
    let s = Server::start(&home, &[]);
    let token = "FwoGZXIvYXdzEXAMPLEsessiontoken0123456789";
    let script = r#"
import json, sys
import boto3
from botocore.exceptions import ClientError
kms = boto3.client("kms", endpoint_url=sys.argv[1])
try:
    kms.list_keys()
    print(json.dumps({"ok": True}))
except ClientError as e:
    print(json.dumps({"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"],
                      "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}))
"#;
    let run = |t: &str| -> Value {
        let mut c = Command::new(&python);
        c.arg("-c").arg(script).arg(s.endpoint());
        aws_env_without_endpoint(&mut c, dir.path(), (&key_id, &secret));
        if !t.is_empty() {
            c.env("AWS_SESSION_TOKEN", t);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "boto3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let refused = run(token);
    assert_eq!(refused["code"], "UnrecognizedClientException", "{refused}");
    assert_eq!(
        refused["message"],
        "The security token included in the request is invalid."
    );
    assert_eq!(refused["status"], 400);
    assert_eq!(run("")["ok"], true);
    let log = audit_text(&home);
    assert!(
        log.contains("unknown access key or a session token"),
        "{log}"
    );
    assert!(!log.contains(token), "the token reached the audit log");
}

/// A server (the library's, so its pool can be one worker with a queue of one) over a fresh
/// store on 127.0.0.1, stopped and joined on drop.
struct Tiny {
    addr: String,
    stop: Option<angou::kms::http::Stopper>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Tiny {
    fn start(tls: Option<angou::kms::http::TlsFiles>) -> Tiny {
        use angou::kms::http::{Config, Limits, Server as HttpServer};
        let dir = tempfile::tempdir().unwrap();
        let kms = angou::kms::Kms::open(dir.path(), angou::kms::Clock::System);
        kms.create_key("", angou::kms::KeySpec::SymmetricDefault)
            .unwrap();
        let config = Config {
            listen: "127.0.0.1:0".into(),
            home: angou::kms::Home::default(),
            allow_unsigned: true,
            tls,
            limits: Limits {
                workers: 1,
                queue: 1,
                read_timeout: Duration::from_secs(5),
                ..Limits::default()
            },
        };
        let server = HttpServer::bind(kms, config).unwrap();
        let addr = server.local_addr().to_string();
        let stop = server.stopper();
        let thread = std::thread::spawn(move || server.run().unwrap());
        Tiny {
            addr,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }
}

impl Drop for Tiny {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            s.stop();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An unsigned request for `addr`, kept alive or not.
fn plain_request(addr: &str, op: &str, keep: bool) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: TrentService.{op}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n{}\r\n{{}}",
        if keep { "" } else { "Connection: close\r\n" }
    )
    .into_bytes()
}

/// The busy answer: 503 with AWS's error shape.
fn assert_busy(status: u16, body: &[u8]) {
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(body));
    let v: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["__type"], "KMSInternalException", "{v}");
    assert!(v["message"].as_str().unwrap().contains("busy"), "{v}");
}

/// With its only worker held by a slow request and its queue full, the server answers the
/// next plain-HTTP connection 503 (`KMSInternalException`), after reading its request, and
/// serves again once the worker is free.
#[test]
fn a_full_server_answers_503_over_plain_http() {
    let t = Tiny::start(None);
    // The worker: one answered request, then half of the next one.
    let mut held = TcpStream::connect(&t.addr).unwrap();
    held.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    held.write_all(&plain_request(&t.addr, "ListKeys", true))
        .unwrap();
    assert_eq!(read_response(&mut held).0, 200);
    held.write_all(b"POST / HTTP/1.1\r\n").unwrap();
    // The queue: a connection that says nothing.
    let queued = TcpStream::connect(&t.addr).unwrap();
    let (st, body) = raw_exchange(&t.addr, &plain_request(&t.addr, "ListKeys", false));
    assert_busy(st, &body);
    drop((held, queued));
    // Served again once the worker is free (the queued connection goes first).
    let mut tries = 0;
    loop {
        let (st, body) = raw_exchange(&t.addr, &plain_request(&t.addr, "ListKeys", false));
        if st == 200 {
            break;
        }
        assert_busy(st, &body);
        tries += 1;
        assert!(tries < 100, "never served again");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The same over TLS: the refused connection gets its handshake and the 503 answer, not a
/// silent close.
#[test]
fn a_full_server_answers_503_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = self_signed(dir.path());
    let t = Tiny::start(Some(angou::kms::http::TlsFiles { cert, key }));
    let mut held = tls_connect(&t.addr, &der);
    // The worker: one answered request over TLS, then half of the next one.
    held.write_all(&plain_request(&t.addr, "ListKeys", true))
        .unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(held.read(&mut byte).unwrap(), 1);
        got.push(byte[0]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    held.write_all(b"POST / HTTP/1.1\r\n").unwrap();
    held.flush().unwrap();
    // The queue: a connection that says nothing.
    let queued = TcpStream::connect(&t.addr).unwrap();
    let (st, body) = tls_exchange(&t.addr, &der, &plain_request(&t.addr, "ListKeys", false));
    assert_busy(st, &body);
    drop((held, queued));
}

/// Multi-Region keys are not served: CreateKey with `MultiRegion: true` is
/// UnsupportedOperationException and makes no key (never a silent single-Region key);
/// ReplicateKey and UpdatePrimaryRegion are UnknownOperationException and replicate nothing;
/// an `mrk-` key id is an id like any other, not found.
#[test]
fn multi_region_keys_are_refused_never_made_single_region() {
    let (_d, home) = store();
    let s = Server::start(&home, &["--allow-unsigned"]);
    let keys = |region: &str| {
        let (st, v) = s.call_as("ListKeys", json!({}), Some(region));
        assert_eq!(st, 200, "{v}");
        v["Keys"].as_array().unwrap().len()
    };
    let (id, arn) = create_key(&s);
    for body in [
        json!({"MultiRegion": true}),
        json!({"MultiRegion": true, "Description": "replicated", "KeySpec": "SYMMETRIC_DEFAULT"}),
    ] {
        let (st, v) = s.call("CreateKey", body);
        assert_eq!(
            (st, v["__type"].as_str()),
            (400, Some("UnsupportedOperationException")),
            "{v}"
        );
        assert!(
            v["message"].as_str().unwrap().contains("multi-Region"),
            "{v}"
        );
    }
    assert_eq!(keys("us-east-1"), 1, "a refused CreateKey made a key");
    let (st, v) = s.call("CreateKey", json!({"MultiRegion": false}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["KeyMetadata"]["MultiRegion"], false);
    assert!(
        !v["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .starts_with("mrk-")
    );

    for (op, body) in [
        (
            "ReplicateKey",
            json!({"KeyId": arn, "ReplicaRegion": "eu-west-1"}),
        ),
        (
            "UpdatePrimaryRegion",
            json!({"KeyId": id, "PrimaryRegion": "eu-west-1"}),
        ),
    ] {
        let (st, v) = s.call(op, body);
        assert_eq!(
            (st, v["__type"].as_str()),
            (400, Some("UnknownOperationException")),
            "{op}: {v}"
        );
    }
    assert_eq!(keys("eu-west-1"), 0, "ReplicateKey made a replica");
    let (st, v) = s.call(
        "DescribeKey",
        json!({"KeyId": "mrk-0123456789abcdef0123456789abcdef"}),
    );
    assert_eq!((st, v["__type"].as_str()), (400, Some("NotFoundException")));
    let (st, v) = s.call("DescribeKey", json!({"KeyId": id}));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["KeyMetadata"]["MultiRegion"], false);
    s.stop();

    let refused: Vec<(String, String)> = audit(&home)
        .iter()
        .filter(|e| e["result"] == "failure")
        .map(|e| {
            (
                e["operation"].as_str().unwrap_or("-").to_owned(),
                e["error_code"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            ("CreateKey", "UnsupportedOperationException"),
            ("CreateKey", "UnsupportedOperationException"),
            // Operations it does not serve are audited under one name.
            ("UnknownOperation", "UnknownOperationException"),
            ("UnknownOperation", "UnknownOperationException"),
            ("DescribeKey", "NotFoundException"),
        ]
        .map(|(o, c)| (o.to_owned(), c.to_owned()))
    );
}
