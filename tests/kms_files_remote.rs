//! Files to keys in a remote KMS, end to end through the `angou` binary: `angou encrypt --kms
//! arn:…` and `angou decrypt --kms ARN` against `angou kms serve` (signed with an access key)
//! and moto's server, both started here on 127.0.0.1. The client sees only the test's AWS
//! environment (no ~/.aws) and a local store folder that holds no key, so every ARN is remote.
#![cfg(feature = "aws")]

#[path = "support/cli.rs"]
mod cli;
#[path = "support/server.rs"]
mod server;
#[path = "support/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use server::{Server, access_key, angou, audit, aws_env, store};

const AGE_SECRET: &str =
    "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX";

/// A client: the test's AWS environment pointed at `endpoint`, and a local store folder that
/// does not exist (so `--kms ARN` is never the local store's).
struct Client {
    dir: tempfile::TempDir,
    key: (String, String),
    endpoint: String,
}

impl Client {
    fn new(key: (String, String), endpoint: String) -> Client {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("age.key"), format!("{AGE_SECRET}\n")).unwrap();
        Client { dir, key, endpoint }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `angou ARGS` with this client's environment and `vars`.
    fn cmd(&self, args: &[&str], vars: &[(&str, &str)]) -> Command {
        let mut cmd = cli::angou();
        cmd.arg("--home").arg(self.path("no-local-store"));
        aws_env(
            &mut cmd,
            self.dir.path(),
            (&self.key.0, &self.key.1),
            &self.endpoint,
        );
        cmd.env("ANGOU_STATE_DIR", self.path("marks"))
            .env_remove("ANGOU_KMS_ALLOW")
            .args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs a command that must succeed; its standard output.
    fn ok(&self, args: &[&str], vars: &[(&str, &str)]) -> Vec<u8> {
        cli::ok(&mut self.cmd(args, vars))
    }

    /// Runs a command that must fail with exit 1 and one error and one hint line; its
    /// standard error.
    fn fails(&self, args: &[&str], vars: &[(&str, &str)]) -> String {
        let err = cli::fails(&mut self.cmd(args, vars), 1);
        cli::assert_error_and_hint(&err);
        err
    }

    fn age_recipient(&self) -> String {
        let out = cli::ok(
            cli::angou()
                .args(["pubkey", "-i"])
                .arg(self.path("age.key")),
        );
        String::from_utf8(out).unwrap().trim().to_owned()
    }
}

/// Plaintext of several 64 KiB chunks and a partial one.
fn plaintext() -> Vec<u8> {
    (0..3 * 65536 + 17).map(|i| (i * 7 % 251) as u8).collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `angou kms serve` over a store with one key in each of two regions: (folder, store, server,
/// access key, eu key ARN, us key ARN).
fn serve_two_regions() -> (
    tempfile::TempDir,
    PathBuf,
    Server,
    (String, String),
    String,
    String,
) {
    let (dir, home) = store();
    angou(&home, &["kms", "init"]);
    let key = access_key(&home, "files");
    let make = |region: &str| {
        angou(&home, &["kms", "--region", region, "create-key"])["KeyMetadata"]["Arn"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (eu, us) = (make("eu-west-1"), make("us-west-2"));
    let server = Server::start(&home, &[]);
    (dir, home, server, key, eu, us)
}

/// Encrypts `plaintext()` to the age key and both KMS keys under context `file=a`.
fn encrypt_to_both(client: &Client, eu: &str, us: &str) -> PathBuf {
    let input = client.path("plain");
    std::fs::write(&input, plaintext()).unwrap();
    let file = client.path("file.age");
    let age = client.age_recipient();
    client.ok(
        &[
            "encrypt",
            "-r",
            &age,
            "--kms",
            eu,
            "--kms",
            us,
            "-c",
            "file=a",
            "-o",
            path_str(&file),
            path_str(&input),
        ],
        &[],
    );
    file
}

fn decrypt_args<'a>(file: &'a Path, out: &'a Path, context: &'a str) -> Vec<&'a str> {
    vec![
        "decrypt",
        "-c",
        context,
        "--force",
        "-o",
        path_str(out),
        path_str(file),
    ]
}

/// A file to keys in two regions and an age key decrypts with each key alone, the other
/// disabled; with the age key and no KMS at all; and its header records both key ARNs.
#[test]
fn two_regions_and_an_age_key_each_decrypt_alone_through_angou_serve() {
    let (_d, home, server, key, eu, us) = serve_two_regions();
    let client = Client::new(key, server.endpoint());
    let file = encrypt_to_both(&client, &eu, &us);
    let header = String::from_utf8_lossy(&std::fs::read(&file).unwrap()[..600]).into_owned();
    assert!(
        header.contains(&format!("-> angou.dev/v1/aws-kms {eu}\n")),
        "{header}"
    );
    assert!(
        header.contains(&format!("-> angou.dev/v1/aws-kms {us}\n")),
        "{header}"
    );
    let out = client.path("out");
    for (open, other, region) in [(&eu, &us, "us-west-2"), (&us, &eu, "eu-west-1")] {
        angou(
            &home,
            &["kms", "--region", region, "disable-key", "--key-id", other],
        );
        let mut args = decrypt_args(&file, &out, "file=a");
        args.extend(["--kms", open.as_str()]);
        client.ok(&args, &[]);
        assert_eq!(std::fs::read(&out).unwrap(), plaintext());
        angou(
            &home,
            &["kms", "--region", region, "enable-key", "--key-id", other],
        );
    }
    // The configured allow-list and discovery mode open it too.
    client.ok(
        &decrypt_args(&file, &out, "file=a"),
        &[("ANGOU_KMS_ALLOW", &format!("{us}, {eu}"))],
    );
    let mut discovery = decrypt_args(&file, &out, "file=a");
    discovery.extend(["--kms-discovery", "--discovery-account", "000000000000"]);
    client.ok(&discovery, &[]);
    // The age identity alone: no KMS request.
    let before = audit(&home).len();
    client.ok(
        &[
            "decrypt",
            "-i",
            path_str(&client.path("age.key")),
            "--force",
            "-o",
            path_str(&out),
            path_str(&file),
        ],
        &[],
    );
    assert_eq!(std::fs::read(&out).unwrap(), plaintext());
    assert_eq!(audit(&home).len(), before);
}

/// A wrong context is refused by the server; no output is left.
#[test]
fn a_wrong_context_is_refused_and_leaves_no_output() {
    let (_d, _home, server, key, eu, us) = serve_two_regions();
    let client = Client::new(key, server.endpoint());
    let file = encrypt_to_both(&client, &eu, &us);
    let out = client.path("wrong");
    let mut args = decrypt_args(&file, &out, "file=b");
    args.extend(["--kms", eu.as_str(), "--kms", us.as_str()]);
    let err = client.fails(&args, &[]);
    assert!(err.contains("InvalidCiphertextException"), "{err}");
    assert!(err.contains(&eu) && err.contains(&us), "{err}");
    assert!(!out.exists());
}

/// A key not allowed is refused without any request reaching the server (its audit log,
/// which records every request, refused ones included, does not grow); the error names the
/// key and the hint how to allow it.
#[test]
fn a_key_not_allowed_is_refused_without_a_request() {
    let (_d, home, server, key, eu, us) = serve_two_regions();
    let client = Client::new(key, server.endpoint());
    let input = client.path("plain");
    std::fs::write(&input, b"only eu").unwrap();
    let file = client.path("eu.age");
    client.ok(
        &[
            "encrypt",
            "--kms",
            &eu,
            "-o",
            path_str(&file),
            path_str(&input),
        ],
        &[],
    );
    let out = client.path("out");
    let before = audit(&home).len();
    for extra in [
        vec![],
        vec!["--kms", us.as_str()],
        vec!["--kms-discovery", "--discovery-account", "111122223333"],
        vec![
            "--kms-discovery",
            "--discovery-account",
            "000000000000",
            "--discovery-partition",
            "aws-cn",
        ],
    ] {
        let mut args = vec!["decrypt", "-o", path_str(&out), path_str(&file)];
        args.extend(extra.iter().copied());
        let err = client.fails(&args, &[]);
        assert!(err.contains(&format!("{eu} is not allowed")), "{err}");
        assert!(
            err.contains("hint: allow a key with --kms KEY_ARN"),
            "{err}"
        );
        assert!(!out.exists());
    }
    assert_eq!(audit(&home).len(), before, "a request reached the server");
}

/// A disabled key: DisabledException, by name.
#[test]
fn a_disabled_key_is_named() {
    let (_d, home, server, key, eu, _us) = serve_two_regions();
    let client = Client::new(key, server.endpoint());
    let input = client.path("plain");
    std::fs::write(&input, b"x").unwrap();
    let file = client.path("eu.age");
    client.ok(
        &[
            "encrypt",
            "--kms",
            &eu,
            "-o",
            path_str(&file),
            path_str(&input),
        ],
        &[],
    );
    angou(
        &home,
        &[
            "kms",
            "--region",
            "eu-west-1",
            "disable-key",
            "--key-id",
            &eu,
        ],
    );
    let out = client.path("out");
    let err = client.fails(
        &[
            "decrypt",
            "--kms",
            &eu,
            "-o",
            path_str(&out),
            path_str(&file),
        ],
        &[],
    );
    assert!(err.contains(&format!("{eu}: DisabledException")), "{err}");
    assert!(!out.exists());
    let err = client.fails(
        &[
            "encrypt",
            "--kms",
            &eu,
            "-o",
            path_str(&client.path("new")),
            path_str(&input),
        ],
        &[],
    );
    assert!(err.contains("DisabledException"), "{err}");
    assert!(!client.path("new").exists());
}

/// With the server stopped, decrypt fails and leaves no output file.
#[test]
fn a_network_failure_leaves_no_output() {
    let (_d, _home, server, key, eu, us) = serve_two_regions();
    let client = Client::new(key, server.endpoint());
    let file = encrypt_to_both(&client, &eu, &us);
    server.stop();
    let out = client.path("out");
    let mut args = decrypt_args(&file, &out, "file=a");
    args.extend(["--kms", eu.as_str(), "--kms", us.as_str()]);
    let err = client.fails(&args, &[]);
    assert!(err.contains(&eu) && err.contains(&us), "{err}");
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(client.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp") || n.starts_with(".angou"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Against moto: two keys in two regions and an age key; each key alone decrypts (the other
/// not allowed); a wrong context is refused.
#[test]
fn moto_two_regions_each_decrypt_alone() {
    let Some(moto) = tools::moto() else { return };
    let python = &moto.python;
    let client = Client::new(
        (
            "AKIAIOSFODNN7EXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        ),
        moto.endpoint.clone(),
    );
    // Keys are made with boto3 (moto's own dependency), as a user of moto would.
    let make = |region: &str| {
        let script = format!(
            "import boto3; print(boto3.client('kms', region_name='{region}', endpoint_url='{}', \
             aws_access_key_id='x', aws_secret_access_key='x').create_key()['KeyMetadata']['Arn'])",
            moto.endpoint
        );
        let out = Command::new(python).args(["-c", &script]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let (eu, us) = (make("eu-west-1"), make("us-west-2"));
    let file = encrypt_to_both(&client, &eu, &us);
    let out = client.path("out");
    for open in [&eu, &us] {
        let mut args = decrypt_args(&file, &out, "file=a");
        args.extend(["--kms", open.as_str()]);
        client.ok(&args, &[]);
        assert_eq!(std::fs::read(&out).unwrap(), plaintext());
    }
    let mut args = decrypt_args(&file, &out, "file=b");
    args.extend(["--kms", eu.as_str()]);
    let err = client.fails(&args, &[]);
    assert!(err.contains("InvalidCiphertextException"), "{err}");
}

/// Moving files to another remote key without re-encrypting them: `angou rewrap --add-kms
/// NEW --remove-kms OLD` through `angou kms serve`; the payload bytes stay, the old key is then
/// disabled and the file still opens with the new key alone, not with the old one; the
/// inventory names exactly the new key.
#[test]
fn rewrap_moves_a_file_from_one_remote_key_to_another() {
    let (_d, home, server, key, eu, us) = serve_two_regions();
    let client = Client::new(key, server.endpoint());
    let input = client.path("plain");
    std::fs::write(&input, plaintext()).unwrap();
    let file = client.path("file.age");
    client.ok(
        &[
            "encrypt",
            "--kms",
            &eu,
            "-c",
            "file=a",
            "-o",
            path_str(&file),
            path_str(&input),
        ],
        &[],
    );
    let before = std::fs::read(&file).unwrap();
    client.ok(
        &[
            "rewrap",
            "--kms",
            &eu,
            "-c",
            "file=a",
            "--add-kms",
            &us,
            "--remove-kms",
            &eu,
            path_str(&file),
        ],
        &[],
    );
    let after = std::fs::read(&file).unwrap();
    let body = |b: &[u8]| {
        let end = b.windows(4).position(|w| w == b"\n---").unwrap();
        let mac_end = end + b[end + 1..].iter().position(|&c| c == b'\n').unwrap() + 2;
        b[mac_end..].to_vec()
    };
    assert_eq!(
        body(&before),
        body(&after),
        "the payload is copied unchanged"
    );
    let header = String::from_utf8_lossy(&after[..after.len().min(600)]).into_owned();
    assert!(
        header.contains(&format!("-> angou.dev/v1/aws-kms {us}\n")),
        "{header}"
    );
    assert!(!header.contains(&eu), "{header}");

    angou(
        &home,
        &[
            "kms",
            "--region",
            "eu-west-1",
            "disable-key",
            "--key-id",
            &eu,
        ],
    );
    let out = client.path("out");
    let mut with_us = decrypt_args(&file, &out, "file=a");
    with_us.extend(["--kms", us.as_str()]);
    client.ok(&with_us, &[]);
    assert_eq!(std::fs::read(&out).unwrap(), plaintext());
    std::fs::remove_file(&out).unwrap();
    let mut with_eu = decrypt_args(&file, &out, "file=a");
    with_eu.extend(["--kms", eu.as_str()]);
    let err = client.fails(&with_eu, &[]);
    assert!(
        err.contains(&us),
        "the error names the key the file needs: {err}"
    );
    assert!(!out.exists());

    let listed = client.ok(&["inspect", "--json", path_str(&file)], &[]);
    let v: serde_json::Value = serde_json::from_slice(&listed).unwrap();
    let keys: Vec<&str> = v["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 1, "{v}");
    assert!(keys[0].ends_with(us.as_str()), "{v}");
}

/// Real AWS KMS, only where a key and credentials exist: `ANGOU_TEST_AWS_KMS_KEY_ARN` names a
/// symmetric key the SDK's own configuration (profile, environment, SSO, instance role) may
/// use for GenerateDataKey and Decrypt. Never in CI here (no network); skipped with a printed
/// reason otherwise, whatever ANGOU_REQUIRE_TOOLS says.
#[test]
fn real_aws_kms_round_trip_where_credentials_exist() {
    let Ok(arn) = std::env::var("ANGOU_TEST_AWS_KMS_KEY_ARN") else {
        eprintln!(
            "skipped: real AWS KMS test needs ANGOU_TEST_AWS_KMS_KEY_ARN (a key ARN) and AWS credentials"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("plain");
    std::fs::write(&input, plaintext()).unwrap();
    let file = dir.path().join("file.age");
    let out = dir.path().join("out");
    let run = |args: &[&str]| {
        cli::ok(
            cli::angou()
                .arg("--home")
                .arg(dir.path().join("no-local-store"))
                .env("ANGOU_STATE_DIR", dir.path().join("marks"))
                .env_remove("ANGOU_KMS_ALLOW")
                .args(args),
        );
    };
    run(&[
        "encrypt",
        "--kms",
        &arn,
        "-c",
        "test=angou",
        "-o",
        path_str(&file),
        path_str(&input),
    ]);
    run(&[
        "decrypt",
        "--kms",
        &arn,
        "-c",
        "test=angou",
        "-o",
        path_str(&out),
        path_str(&file),
    ]);
    assert_eq!(std::fs::read(&out).unwrap(), plaintext());
}
