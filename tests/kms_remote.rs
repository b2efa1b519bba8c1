//! A remote KMS through the AWS SDK for Rust (`angou::kms::remote::Remote`, `angou kms
//! --endpoint-url`), against `angou kms serve` (signed with a real access key) and moto's
//! server, both started here on 127.0.0.1.
//!
//! The library tests need the SDK's environment (credentials, no config files of the
//! machine); a test process cannot change its own environment safely, so each runs its
//! scenario in a child: this test binary again, running one `#[ignore]`d inner test with the
//! environment set.
#![cfg(feature = "aws")]

#[path = "support/server.rs"]
mod server;
#[path = "support/tools.rs"]
mod tools;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use angou::kms::ops::shapes::{DecryptRequest, GenerateDataKeyRequest, KeyRequest};
use angou::kms::ops::{Backend, ErrorKind};
use angou::kms::remote::{Remote, RemoteConfig};
use serde_json::{Value, json};
use server::{Server, access_key, angou, aws_env_without_endpoint, store};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `angou kms serve` over a fresh store with an access key: (folder, server, key).
fn angou_serve() -> (tempfile::TempDir, Server, (String, String)) {
    let (dir, home) = store();
    angou(&home, &["kms", "init"]);
    let key = access_key(&home, "remote-test");
    let server = Server::start(&home, &[]);
    (dir, server, key)
}

/// The SDK's environment for a child: the access key, no config files, instance metadata,
/// proxy or endpoint of the machine (region from `--region` or `AWS_REGION` per test).
fn sdk_env(cmd: &mut Command, dir: &Path, key: (&str, &str)) {
    aws_env_without_endpoint(cmd, dir, key);
    cmd.env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_REGION")
        .env("HOME", dir);
}

/// Runs the inner test `name` of this binary with the SDK's environment and `vars`.
fn run_inner(name: &str, dir: &Path, key: (&str, &str), vars: &[(&str, &str)]) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    sdk_env(&mut cmd, dir, key);
    cmd.env("ANGOU_REMOTE_INNER", "1");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} failed:\n{text}");
    assert!(text.contains("1 passed"), "{name} did not run:\n{text}");
}

fn inner() -> bool {
    std::env::var("ANGOU_REMOTE_INNER").as_deref() == Ok("1")
}

fn remote_from_env() -> Remote {
    Remote::connect(&RemoteConfig {
        endpoint_url: std::env::var("ANGOU_REMOTE_ENDPOINT").ok(),
        region: Some("eu-west-1".into()),
        profile: None,
    })
    .unwrap()
}

/// A new symmetric key: (id, ARN).
fn create_key(kms: &dyn Backend) -> (String, String) {
    let made: Value = serde_json::from_slice(
        &kms.invoke("CreateKey", br#"{"Description":"remote"}"#)
            .unwrap(),
    )
    .unwrap();
    let m = &made["KeyMetadata"];
    (
        m["KeyId"].as_str().unwrap().to_owned(),
        m["Arn"].as_str().unwrap().to_owned(),
    )
}

fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn data_key(
    kms: &dyn Backend,
    key: &str,
    context: &BTreeMap<String, String>,
) -> angou::kms::ops::ApiError {
    kms.generate_data_key(&GenerateDataKeyRequest {
        key_id: Some(key.to_owned()),
        key_spec: Some("AES_256".into()),
        encryption_context: Some(context.clone()),
        ..Default::default()
    })
    .unwrap_err()
}

/// The envelope code the local store runs (the same as `Backend`'s own unit test), written
/// once against `&dyn Backend`: a data key made under a context decrypts under that context
/// only; a disabled key (where the server has key states: moto 5 does not) and an unknown
/// key are refused with AWS's exceptions.
fn envelope(kms: &dyn Backend, key_states: bool) {
    let (id, arn) = create_key(kms);
    let context = ctx(&[("file", "a.txt"), ("team", "ops")]);
    let made = kms
        .generate_data_key(&GenerateDataKeyRequest {
            key_id: Some(arn.clone()),
            key_spec: Some("AES_256".into()),
            encryption_context: Some(context.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(made.plaintext.0.expose_secret().len(), 32);
    assert_eq!(made.key_id, arn);
    let back = kms
        .decrypt(&DecryptRequest {
            ciphertext_blob: Some(made.ciphertext_blob.clone()),
            encryption_context: Some(context.clone()),
            key_id: Some(arn.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        back.plaintext.0.expose_secret(),
        made.plaintext.0.expose_secret()
    );
    assert_eq!(back.key_id, arn);

    // One character of the context changed: refused, no plaintext.
    let wrong = kms
        .decrypt(&DecryptRequest {
            ciphertext_blob: Some(made.ciphertext_blob.clone()),
            encryption_context: Some(ctx(&[("file", "b.txt"), ("team", "ops")])),
            key_id: Some(arn.clone()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(wrong.kind, ErrorKind::InvalidCiphertext, "{wrong:?}");

    // Several threads at once through one client.
    std::thread::scope(|s| {
        for i in 0..4 {
            let (arn, kms) = (&arn, kms);
            s.spawn(move || {
                let c = ctx(&[("n", &i.to_string())]);
                let d = kms
                    .generate_data_key(&GenerateDataKeyRequest {
                        key_id: Some(arn.clone()),
                        number_of_bytes: Some(16),
                        encryption_context: Some(c.clone()),
                        ..Default::default()
                    })
                    .unwrap();
                let p = kms
                    .decrypt(&DecryptRequest {
                        ciphertext_blob: Some(d.ciphertext_blob),
                        encryption_context: Some(c),
                        ..Default::default()
                    })
                    .unwrap();
                assert_eq!(p.plaintext.0.expose_secret(), d.plaintext.0.expose_secret());
            });
        }
    });

    kms.invoke("DisableKey", json!({ "KeyId": id }).to_string().as_bytes())
        .unwrap();
    if key_states {
        let disabled = data_key(kms, &arn, &context);
        assert_eq!(disabled.kind, ErrorKind::Disabled, "{disabled:?}");
        assert!(!disabled.message.is_empty());
    }

    let missing = kms
        .describe_key(&KeyRequest {
            key_id: Some("0b0b0b0b-1111-2222-3333-444444444444".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound, "{missing:?}");
}

#[test]
#[ignore = "run by the library_* tests, in a child with the SDK's environment"]
fn inner_envelope() {
    if !inner() {
        return;
    }
    let kms = remote_from_env();
    assert_eq!(kms.region(), "eu-west-1");
    assert!(
        kms.location()
            .contains(&std::env::var("ANGOU_REMOTE_ENDPOINT").unwrap())
    );
    envelope(&kms, std::env::var("ANGOU_REMOTE_MOTO").is_err());
}

#[test]
fn library_envelope_against_angou_serve() {
    let (dir, server, key) = angou_serve();
    run_inner(
        "inner_envelope",
        dir.path(),
        (&key.0, &key.1),
        &[("ANGOU_REMOTE_ENDPOINT", &server.endpoint())],
    );
    server.stop();
}

#[test]
fn library_envelope_against_moto() {
    let Some(moto) = tools::moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    run_inner(
        "inner_envelope",
        dir.path(),
        ("AKIAMOTOTEST", "moto-secret"),
        &[
            ("ANGOU_REMOTE_ENDPOINT", &moto.endpoint),
            ("ANGOU_REMOTE_MOTO", "1"),
        ],
    );
}

/// The same envelope code on the local store, so the two backends are held to one test.
#[test]
fn library_envelope_on_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let kms = angou::kms::Kms::open(dir.path(), angou::kms::Clock::System);
    envelope(&kms, true);
}

/// `angou --home HOME kms ARGS` with the SDK's environment of `dir` and `key`.
fn cli(home: &Path, dir: &Path, key: (&str, &str), args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("angou"));
    cmd.arg("--home")
        .arg(home)
        .env("ANGOU_STATE_DIR", home.with_extension("marks"));
    sdk_env(&mut cmd, dir, key);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.arg("kms").args(args).output().unwrap()
}

/// Its stdout as JSON; it must succeed.
fn ok(out: Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// The failure's stderr: exit `code`, one `error:` line and one `hint:` line.
fn refused(out: Output, code: i32) -> String {
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(out.stdout.is_empty(), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("error: ") && lines[1].starts_with("hint: "),
        "{err}"
    );
    err
}

/// A JSON value's shape: members and types, not values (arrays by their first element).
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

/// Whether every member of `far`'s shape is in `local`'s with the same shape, at any depth
/// (moto leaves out optional members, such as `CurrentKeyMaterialId`, newer than it).
fn covers(local: &Value, far: &Value) -> bool {
    match (local, far) {
        (Value::Object(l), Value::Object(f)) => f
            .iter()
            .all(|(k, fv)| l.get(k).is_some_and(|lv| covers(lv, fv))),
        (Value::Array(l), Value::Array(f)) => {
            l.len() == f.len() && l.iter().zip(f).all(|(a, b)| covers(a, b))
        }
        _ => local == far,
    }
}

/// The CLI tour of the README, run on the local store and on the remote KMS (`remote` are
/// the flags that choose it): every answer has the local answer's shape (`exact`), or at
/// least the members every KMS returns (moto leaves out optional ones).
fn cli_tour(remote: &[&str], dir: &Path, key: (&str, &str), exact: bool) {
    let local_home = dir.join("local-store");
    let remote_home = dir.join("never-made");
    let plain = dir.join("plain.txt");
    std::fs::write(&plain, b"attack at dawn").unwrap();
    let plain_arg = format!("fileb://{}", plain.display());
    let mut answers: Vec<[Value; 2]> = Vec::new();
    let both = |args: &[&str], answers: &mut Vec<[Value; 2]>| -> [Value; 2] {
        let local = ok(
            cli(&local_home, dir, key, args, &[]),
            &format!("local {args:?}"),
        );
        let mut all = remote.to_vec();
        all.extend_from_slice(args);
        let far = ok(
            cli(&remote_home, dir, key, &all, &[]),
            &format!("remote {args:?}"),
        );
        answers.push([local.clone(), far.clone()]);
        [local, far]
    };
    let made = both(&["create-key", "--description", "tour"], &mut answers);
    let ids = made
        .clone()
        .map(|m| m["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned());
    let run = |which: usize, args: &[&str]| -> Value {
        let (home, mut all) = if which == 0 {
            (&local_home, Vec::new())
        } else {
            (&remote_home, remote.to_vec())
        };
        all.extend_from_slice(args);
        ok(cli(home, dir, key, &all, &[]), &format!("{which} {args:?}"))
    };
    for (i, id) in ids.iter().enumerate() {
        run(
            i,
            &[
                "create-alias",
                "--alias-name",
                "alias/tour",
                "--target-key-id",
                id,
            ],
        );
    }
    let sealed: Vec<Value> = (0..2)
        .map(|i| {
            run(
                i,
                &[
                    "encrypt",
                    "--key-id",
                    "alias/tour",
                    "--plaintext",
                    &plain_arg,
                    "-c",
                    "team=ops,file=a",
                ],
            )
        })
        .collect();
    answers.push([sealed[0].clone(), sealed[1].clone()]);
    for (i, sealed) in sealed.iter().enumerate() {
        let blob = sealed["CiphertextBlob"].as_str().unwrap();
        let opened = run(
            i,
            &[
                "decrypt",
                "--ciphertext-blob",
                blob,
                "-c",
                "file=a,team=ops",
            ],
        );
        assert_eq!(
            opened["Plaintext"],
            json!("YXR0YWNrIGF0IGRhd24="),
            "{i}: {opened}"
        );
        answers.push([opened.clone(), opened.clone()]);
        // The wrong context: refused with AWS's exception, in one line.
        let mut args = if i == 0 { Vec::new() } else { remote.to_vec() };
        args.extend_from_slice(&[
            "decrypt",
            "--ciphertext-blob",
            blob,
            "-c",
            "file=b,team=ops",
        ]);
        let home = if i == 0 { &local_home } else { &remote_home };
        let err = refused(cli(home, dir, key, &args, &[]), 1);
        assert!(
            err.starts_with("error: An error occurred (InvalidCiphertextException) when calling the Decrypt operation"),
            "{err}"
        );
    }
    let lists = both(&["list-keys"], &mut answers);
    for (i, l) in lists.iter().enumerate() {
        assert!(
            l["Keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["KeyId"] == json!(ids[i])),
            "{l}"
        );
    }
    let described: Vec<Value> = (0..2)
        .map(|i| run(i, &["describe-key", "--key-id", &ids[i]]))
        .collect();
    assert_eq!(described[1]["KeyMetadata"]["KeyState"], json!("Enabled"));
    assert_eq!(described[1]["KeyMetadata"]["Description"], json!("tour"));
    answers.push([described[0].clone(), described[1].clone()]);
    for (i, id) in ids.iter().enumerate() {
        run(i, &["enable-key-rotation", "--key-id", id]);
    }
    let status: Vec<Value> = (0..2)
        .map(|i| run(i, &["get-key-rotation-status", "--key-id", &ids[i]]))
        .collect();
    assert_eq!(
        status[1]["KeyRotationEnabled"],
        json!(true),
        "{}",
        status[1]
    );
    answers.push([status[0].clone(), status[1].clone()]);
    let deleting: Vec<Value> = (0..2)
        .map(|i| {
            run(
                i,
                &[
                    "schedule-key-deletion",
                    "--key-id",
                    &ids[i],
                    "--pending-window-in-days",
                    "7",
                ],
            )
        })
        .collect();
    // moto leaves KeyState out of this answer: ask again.
    assert!(deleting[1]["DeletionDate"].is_string(), "{}", deleting[1]);
    let after = run(1, &["describe-key", "--key-id", &ids[1]]);
    assert_eq!(
        after["KeyMetadata"]["KeyState"],
        json!("PendingDeletion"),
        "{after}"
    );
    answers.push([deleting[0].clone(), deleting[1].clone()]);

    for [local, far] in &answers {
        if exact {
            assert_eq!(shape(far), shape(local), "local {local}\nremote {far}");
        } else {
            assert!(
                covers(&shape(local), &shape(far)),
                "local {local}\nremote {far}"
            );
        }
    }
    // The remote tour never made a local store.
    assert!(!remote_home.exists());
}

#[test]
fn cli_tour_against_angou_serve_has_the_local_shape() {
    let (dir, server, key) = angou_serve();
    let endpoint = server.endpoint();
    cli_tour(
        &["--endpoint-url", &endpoint, "--region", "us-east-1"],
        dir.path(),
        (&key.0, &key.1),
        true,
    );
    server.stop();
}

#[test]
fn cli_tour_against_moto() {
    let Some(moto) = tools::moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    cli_tour(
        &["--endpoint-url", &moto.endpoint, "--region", "us-east-1"],
        dir.path(),
        ("AKIAMOTOTEST", "moto-secret"),
        false,
    );
}

/// `--region` (or the SDK's `AWS_REGION` when not given) chooses the region: a key made in
/// one is not found from another.
#[test]
fn the_region_reaches_keys_of_that_region_only() {
    let (dir, server, key) = angou_serve();
    let (d, k) = (dir.path(), (key.0.as_str(), key.1.as_str()));
    let home = d.join("unused");
    let url = server.endpoint();
    let made = ok(
        cli(
            &home,
            d,
            k,
            &[
                "--endpoint-url",
                &url,
                "--region",
                "eu-west-1",
                "create-key",
            ],
            &[],
        ),
        "create-key",
    );
    let id = made["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    assert!(
        made["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:kms:eu-west-1:")
    );
    let describe = |region: Option<&str>, env: &[(&str, &str)]| {
        let mut args = vec!["--endpoint-url", &url];
        if let Some(r) = region {
            args.extend(["--region", r]);
        }
        args.extend(["describe-key", "--key-id", &id]);
        cli(&home, d, k, &args, env)
    };
    ok(describe(Some("eu-west-1"), &[]), "same region");
    ok(describe(None, &[("AWS_REGION", "eu-west-1")]), "AWS_REGION");
    let err = refused(describe(Some("us-west-2"), &[]), 1);
    assert!(
        err.contains("(NotFoundException) when calling the DescribeKey operation"),
        "{err}"
    );
    // An explicit --region wins over the SDK's AWS_REGION.
    let err = refused(
        describe(Some("us-west-2"), &[("AWS_REGION", "eu-west-1")]),
        1,
    );
    assert!(err.contains("NotFoundException"), "{err}");
    let err = refused(describe(None, &[("AWS_REGION", "ap-south-1")]), 1);
    assert!(err.contains("NotFoundException"), "{err}");
    // No region anywhere: a clear refusal before any request.
    let err = refused(describe(None, &[]), 2);
    assert!(err.contains("no AWS region"), "{err}");
    server.stop();
}

/// A wrong secret key or an unknown access key: AWS's exception named in the one-line
/// error, the secret nowhere in it.
#[test]
fn wrong_credentials_are_named_in_one_line() {
    let (dir, server, key) = angou_serve();
    let url = server.endpoint();
    let args = [
        "--endpoint-url",
        url.as_str(),
        "--region",
        "us-east-1",
        "list-keys",
    ];
    let home = dir.path().join("unused");
    let wrong_secret = "wrongwrongwrongwrongwrongwrongwrongwrong";
    let err = refused(
        cli(&home, dir.path(), (&key.0, wrong_secret), &args, &[]),
        1,
    );
    assert!(
        err.starts_with("error: An error occurred (InvalidSignatureException) when calling the ListKeys operation"),
        "{err}"
    );
    assert!(
        !err.contains(wrong_secret) && !err.contains(&key.1),
        "{err}"
    );
    let err = refused(
        cli(
            &home,
            dir.path(),
            ("AKIAUNKNOWN0000000000", wrong_secret),
            &args,
            &[],
        ),
        1,
    );
    assert!(
        err.starts_with("error: An error occurred (UnrecognizedClientException) when calling the ListKeys operation"),
        "{err}"
    );
    assert!(err.contains("hint: check the credentials"), "{err}");
    server.stop();
}

/// An endpoint where nothing listens: one line naming it, never the secret, exit 1 (after
/// the SDK's retries; `AWS_MAX_ATTEMPTS` caps them).
#[test]
fn an_unreachable_endpoint_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let secret = "s3cr3t-that-must-not-leak-0000000000000";
    let out = cli(
        &dir.path().join("unused"),
        dir.path(),
        ("AKIAUNREACHABLE00000", secret),
        &[
            "--endpoint-url",
            &url,
            "--region",
            "us-east-1",
            "describe-key",
            "--key-id",
            "alias/x",
        ],
        &[("AWS_MAX_ATTEMPTS", "2")],
    );
    let err = refused(out, 1);
    assert!(
        err.starts_with(&format!("error: could not reach the KMS at {url}: ")),
        "{err}"
    );
    assert!(
        !err.contains(secret) && !err.contains("AKIAUNREACHABLE"),
        "{err}"
    );
}

/// Plain http:// to an address that is not loopback is refused before any request: a
/// Decrypt or GenerateDataKey answer would carry key bytes across the network unencrypted.
/// The same endpoint in AWS_ENDPOINT_URL_KMS is refused too.
#[test]
fn plain_http_off_loopback_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let k = ("AKIAPLAINHTTP0000000", "secret");
    let by_flag = cli(
        &dir.path().join("unused"),
        dir.path(),
        k,
        &[
            "--endpoint-url",
            "http://10.255.255.1:4566",
            "--region",
            "us-east-1",
            "list-keys",
        ],
        &[],
    );
    let err = refused(by_flag, 2);
    assert!(
        err.contains("refusing plain http:// to http://10.255.255.1:4566")
            && err.contains("ANGOU_KMS_ALLOW_PLAIN_HTTP"),
        "{err}"
    );
    let by_env = cli(
        &dir.path().join("unused"),
        dir.path(),
        k,
        &["--remote", "--region", "us-east-1", "list-keys"],
        &[("AWS_ENDPOINT_URL_KMS", "http://localstack:4566")],
    );
    let err = refused(by_env, 2);
    assert!(err.contains("refusing plain http://"), "{err}");
}

/// Subcommands that are not AWS operations refuse a remote KMS flag: one line and a hint,
/// exit 2, and nothing touched.
#[test]
fn local_only_subcommands_refuse_a_remote_kms() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("store");
    let k = ("AKIALOCALONLY0000000", "secret");
    for (flags, sub) in [
        (&["--endpoint-url", "http://127.0.0.1:9"][..], &["init"][..]),
        (&["--remote"][..], &["audit", "verify"][..]),
        (&["--profile", "prod"][..], &["create-access-key"][..]),
        (
            &["--endpoint-url", "http://127.0.0.1:9"][..],
            &["list-access-keys"][..],
        ),
        (
            &["--endpoint-url", "http://127.0.0.1:9"][..],
            &["serve"][..],
        ),
    ] {
        let mut args = flags.to_vec();
        args.extend_from_slice(sub);
        let err = refused(cli(&home, dir.path(), k, &args, &[]), 2);
        assert!(
            err.starts_with(&format!(
                "error: `angou kms {}` works on the local key store only",
                sub[0]
            )),
            "{err}"
        );
        assert!(!home.exists(), "{args:?} made a store");
    }
}
