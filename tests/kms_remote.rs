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
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use angou::kms::ops::shapes::{DecryptRequest, GenerateDataKeyRequest, KeyRequest};
use angou::kms::ops::{Backend, ErrorKind};
use angou::kms::remote::{Remote, RemoteConfig};
use serde_json::{Value, json};
use server::{Server, access_key, angou, aws_env_without_endpoint, store};

/// moto's server on 127.0.0.1, stopped on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts moto's server (from `$ANGOU_PYTHON`), or says why the test is skipped.
fn moto() -> Option<Moto> {
    let python = tools::python_with("moto.server", "pip install 'moto[server]'")?;
    let port = free_port();
    let child = Command::new(python)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "moto's server did not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
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
    let Some(moto) = moto() else { return };
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
