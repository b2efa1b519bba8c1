//! The local KMS: lifecycle through the CLI, limits, envelope files, concurrency, crash
//! safety and audit tamper detection.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use angou::error::{Error, KmsError};
use angou::kms::{Clock, DataKeySize, EncryptionContext, InitOptions, KeySpec, KeyState, Kms};
use assert_cmd::Command;
use base64ct::{Base64, Encoding};
use serde_json::Value;

fn cli(home: &Path) -> Command {
    let mut c = Command::cargo_bin("angou").unwrap();
    c.arg("--home")
        .arg(home)
        .env_remove("ANGOU_FAKE_NOW")
        .env_remove("ANGOU_HOME")
        .env("ANGOU_STATE_DIR", home.join("marks"));
    c
}

/// Runs `angou --home H kms ARGS`; returns (exit code, JSON stdout or Null, stderr).
fn kms(home: &Path, args: &[&str], fake_now: Option<&str>) -> (i32, Value, String) {
    let mut c = cli(home);
    c.arg("kms").args(args);
    if let Some(t) = fake_now {
        c.env("ANGOU_FAKE_NOW", t);
    }
    let out = c.output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(home: &Path, args: &[&str]) -> Value {
    let (code, v, err) = kms(home, args, None);
    assert_eq!(code, 0, "kms {args:?}: {err}");
    v
}

fn fails(home: &Path, args: &[&str], fake_now: Option<&str>, needle: &str) {
    let (code, _, err) = kms(home, args, fake_now);
    assert_eq!(code, 1, "kms {args:?} should fail: {err}");
    let line = err.lines().next().unwrap_or("");
    assert!(
        line.starts_with("error: ") && line.contains(needle),
        "kms {args:?}: {err}"
    );
    assert!(err.contains("hint: "), "{err}");
}

#[test]
fn lifecycle_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    // A store made for time travel: the test crosses a deletion window with ANGOU_FAKE_NOW.
    ok(h, &["init", "--fake-clock"]);
    let key = ok(h, &["create-key", "--description", "app key"]);
    assert_eq!(key["KeyMetadata"]["KeyState"], "Enabled");
    assert_eq!(key["KeyMetadata"]["KeySpec"], "SYMMETRIC_DEFAULT");
    let id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    ok(
        h,
        &[
            "create-alias",
            "--alias-name",
            "alias/app",
            "--target-key-id",
            &id,
        ],
    );
    let dk = ok(
        h,
        &[
            "generate-data-key",
            "--key-id",
            "alias/app",
            "--key-spec",
            "AES_256",
            "-c",
            "team=blue",
            "-c",
            "env=prod",
        ],
    );
    let blob = dk["CiphertextBlob"].as_str().unwrap().to_owned();
    assert_eq!(
        Base64::decode_vec(dk["Plaintext"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    // Decrypt: context order does not matter; missing or different context fails.
    let d = ok(
        h,
        &[
            "decrypt",
            "--ciphertext-blob",
            &blob,
            "-c",
            "env=prod",
            "-c",
            "team=blue",
        ],
    );
    assert_eq!(d["Plaintext"], dk["Plaintext"]);
    fails(
        h,
        &["decrypt", "--ciphertext-blob", &blob],
        None,
        "invalid ciphertext",
    );
    fails(
        h,
        &[
            "decrypt",
            "--ciphertext-blob",
            &blob,
            "-c",
            "env=prod",
            "-c",
            "team=Blue",
        ],
        None,
        "invalid ciphertext",
    );
    // Rotation: new material for new encryptions, the old blob still decrypts.
    ok(h, &["rotate-key-on-demand", "--key-id", &id]);
    let e = ok(h, &["encrypt", "--key-id", &id, "--plaintext", "aGVsbG8="]);
    let fresh = e["CiphertextBlob"].as_str().unwrap();
    // Material ids are 64 hex digits, as AWS's; each material has its own.
    let hex64 = |v: &Value| {
        let s = v.as_str().unwrap().to_owned();
        assert!(
            s.len() == 64
                && s.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{s}"
        );
        s
    };
    let second = hex64(&ok(h, &["decrypt", "--ciphertext-blob", fresh])["KeyMaterialId"]);
    let d = ok(
        h,
        &[
            "decrypt",
            "--ciphertext-blob",
            &blob,
            "-c",
            r#"{"env":"prod","team":"blue"}"#,
        ],
    );
    let first = hex64(&d["KeyMaterialId"]);
    assert_ne!(first, second);
    // Rotations only, as AWS lists them: the initial material is not a rotation.
    let rotations = ok(h, &["list-key-rotations", "--key-id", &id])["Rotations"].clone();
    assert_eq!(rotations.as_array().unwrap().len(), 1, "{rotations}");
    assert_eq!(rotations[0]["RotationType"], "ON_DEMAND");
    assert_eq!(rotations[0]["KeyMaterialId"], second.as_str());
    assert_eq!(
        ok(h, &["describe-key", "--key-id", &id])["KeyMetadata"]["CurrentKeyMaterialId"],
        second.as_str()
    );
    // Disable, enable.
    ok(h, &["disable-key", "--key-id", "alias/app"]);
    assert_eq!(
        ok(h, &["describe-key", "--key-id", &id])["KeyMetadata"]["KeyState"],
        "Disabled"
    );
    fails(
        h,
        &[
            "decrypt",
            "--ciphertext-blob",
            &blob,
            "-c",
            "env=prod",
            "-c",
            "team=blue",
        ],
        None,
        "disabled",
    );
    ok(h, &["enable-key", "--key-id", &id]);
    // Schedule deletion: pending errors; cancel leaves it Disabled.
    let s = ok(
        h,
        &[
            "schedule-key-deletion",
            "--key-id",
            &id,
            "--pending-window-in-days",
            "7",
        ],
    );
    assert_eq!(s["KeyState"], "PendingDeletion");
    fails(
        h,
        &["encrypt", "--key-id", &id, "--plaintext", "aGVsbG8="],
        None,
        "PendingDeletion",
    );
    ok(h, &["cancel-key-deletion", "--key-id", &id]);
    assert_eq!(
        ok(h, &["describe-key", "--key-id", &id])["KeyMetadata"]["KeyState"],
        "Disabled"
    );
    // Schedule again; before the window nothing is purged, after it key and alias are gone.
    ok(
        h,
        &[
            "schedule-key-deletion",
            "--key-id",
            &id,
            "--pending-window-in-days",
            "7",
        ],
    );
    let (code, _, _) = kms(
        h,
        &["describe-key", "--key-id", &id],
        Some("2099-01-01T00:00:00Z"),
    );
    assert_eq!(code, 1);
    assert_eq!(
        ok(h, &["list-aliases"])["Aliases"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    fails(h, &["describe-key", "--key-id", &id], None, "not found");
    // The whole history verifies, and recorded the purge.
    assert_eq!(ok(h, &["audit", "verify"])["Verified"], true);
    let out = cli(h)
        .args(["kms", "audit", "--operation", "DeleteKey"])
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout).unwrap();
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(lines.contains(&id));
}

#[test]
fn limits_and_validation() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kms::open(dir.path(), Clock::System);
    let id = k
        .create_key("", KeySpec::SymmetricDefault)
        .unwrap()
        .key_id
        .to_string();
    let ctx = EncryptionContext::new();
    assert!(k.encrypt(&id, &[1; 4096], &ctx).is_ok());
    for bad in [&[][..], &[1; 4097][..]] {
        assert!(matches!(
            k.encrypt(&id, bad, &ctx),
            Err(Error::Kms(KmsError::Validation { .. }))
        ));
    }
    for n in [0usize, 1025] {
        assert!(matches!(
            k.generate_random(n),
            Err(Error::Kms(KmsError::Validation { .. }))
        ));
        assert!(matches!(
            k.generate_data_key(&id, DataKeySize::Bytes(n), &ctx),
            Err(Error::Kms(KmsError::Validation { .. }))
        ));
    }
    assert_eq!(k.generate_random(1024).unwrap().len(), 1024);
    assert_eq!(
        k.generate_data_key(&id, DataKeySize::Aes128, &ctx)
            .unwrap()
            .plaintext
            .len(),
        16
    );
    for d in [6, 31] {
        assert!(matches!(
            k.schedule_key_deletion(&id, Some(d)),
            Err(Error::Kms(KmsError::Validation { .. }))
        ));
    }
    for d in [89, 2561] {
        assert!(matches!(
            k.enable_key_rotation(&id, Some(d)),
            Err(Error::Kms(KmsError::Validation { .. }))
        ));
    }
    for _ in 0..25 {
        k.rotate_key_on_demand(&id).unwrap();
    }
    assert!(matches!(
        k.rotate_key_on_demand(&id),
        Err(Error::Kms(KmsError::LimitExceeded { .. }))
    ));
    assert_eq!(k.list_key_rotations(&id).unwrap().len(), 26);
    for bad in [
        "app",
        "alias/",
        "alias/aws/x",
        "alias/angou/default",
        "alias/sp ace",
        &format!("alias/{}", "a".repeat(251)),
    ] {
        assert!(
            matches!(
                k.create_alias(bad, &id),
                Err(Error::Kms(KmsError::InvalidAliasName { .. }))
            ),
            "{bad}"
        );
    }
    k.create_alias("alias/x", &id).unwrap();
    assert!(matches!(
        k.create_alias("alias/x", &id),
        Err(Error::Kms(KmsError::AlreadyExists { .. }))
    ));
    // A blob names its key: naming another key is IncorrectKey.
    let other = k
        .create_key("", KeySpec::SymmetricDefault)
        .unwrap()
        .key_id
        .to_string();
    let e = k.encrypt(&id, b"x", &ctx).unwrap();
    assert!(matches!(
        k.decrypt(&e.ciphertext_blob, &ctx, Some(&other)),
        Err(Error::Kms(KmsError::IncorrectKey { .. }))
    ));
    let mut bad = e.ciphertext_blob.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        k.decrypt(&bad, &ctx, None).unwrap_err().to_string(),
        KmsError::InvalidCiphertext.to_string()
    );
    // {"a":"bc"} and {"ab":"c"} are different contexts.
    let mut a = EncryptionContext::new();
    a.insert("a", "bc");
    let mut b = EncryptionContext::new();
    b.insert("ab", "c");
    let e = k.encrypt(&id, b"x", &a).unwrap();
    assert!(k.decrypt(&e.ciphertext_blob, &b, None).is_err());
    assert!(k.decrypt(&e.ciphertext_blob, &a, None).is_ok());
}

#[test]
fn re_encrypt_rotation_when_due_default_key_and_rsa() {
    let dir = tempfile::tempdir().unwrap();
    let now = angou::kms::clock::parse_time("2030-01-01T00:00:00Z").unwrap();
    let k = Kms::open(dir.path(), Clock::Fixed(now));
    k.init(InitOptions { fake_clock: true }).unwrap();
    let a = k
        .create_key("a", KeySpec::SymmetricDefault)
        .unwrap()
        .key_id
        .to_string();
    let b = k
        .create_key("b", KeySpec::SymmetricDefault)
        .unwrap()
        .key_id
        .to_string();
    let mut c1 = EncryptionContext::new();
    c1.insert("v", "1");
    let mut c2 = EncryptionContext::new();
    c2.insert("v", "2");
    let e = k.encrypt(&a, b"move me", &c1).unwrap();
    let r = k
        .re_encrypt(&e.ciphertext_blob, &c1, None, &b, &c2)
        .unwrap();
    assert!(r.key_id.ends_with(&b));
    assert_eq!(
        k.decrypt(&r.ciphertext_blob, &c2, None)
            .unwrap()
            .plaintext
            .expose_secret(),
        b"move me"
    );
    // Automatic rotation really happens when due.
    k.enable_key_rotation(&a, Some(90)).unwrap();
    let later = Kms::open(dir.path(), Clock::Fixed(now + time::Duration::days(91)));
    assert_eq!(later.list_key_rotations(&a).unwrap().len(), 2);
    assert_eq!(
        later.list_key_rotations(&a).unwrap()[1].rotation_type,
        "AUTOMATIC"
    );
    assert_eq!(
        later
            .decrypt(&e.ciphertext_blob, &c1, None)
            .unwrap()
            .plaintext
            .expose_secret(),
        b"move me"
    );
    // The angou-managed default key appears on first use and cannot be disabled or deleted.
    let dk = k
        .generate_data_key("alias/angou/default", DataKeySize::Aes256, &c1)
        .unwrap();
    let meta = k.describe_key("alias/angou/default").unwrap();
    assert_eq!(meta.key_manager, angou::kms::KeyManager::Angou);
    assert!(
        k.get_key_rotation_status("alias/angou/default")
            .unwrap()
            .key_rotation_enabled
    );
    assert!(matches!(
        k.disable_key("alias/angou/default"),
        Err(Error::Kms(KmsError::Unsupported { .. }))
    ));
    assert!(matches!(
        k.schedule_key_deletion("alias/angou/default", None),
        Err(Error::Kms(KmsError::Unsupported { .. }))
    ));
    assert!(k.decrypt(&dk.ciphertext_blob, &c1, None).is_ok());
    // RSA: data encrypted offline to the public key decrypts through the KMS.
    let r = k
        .create_key("rsa", KeySpec::Rsa2048)
        .unwrap()
        .key_id
        .to_string();
    let (_, pem) = k.get_public_key(&r).unwrap();
    let public = angou::pk::rsa::PublicKey::from_pem(&pem).unwrap();
    let ct = public.encrypt(b"", b"offline secret").unwrap();
    let d = k.decrypt(&ct, &EncryptionContext::new(), Some(&r)).unwrap();
    assert_eq!(d.plaintext.expose_secret(), b"offline secret");
    assert!(matches!(
        k.rotate_key_on_demand(&r),
        Err(Error::Kms(KmsError::Unsupported { .. }))
    ));
    assert_eq!(k.describe_key(&r).unwrap().key_state, KeyState::Enabled);
}

#[test]
fn envelope_files_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("store");
    let key = ok(&h, &["create-key"]);
    let id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let plain = dir.path().join("plain");
    std::fs::write(&plain, vec![7u8; 100_000]).unwrap();
    let ct = dir.path().join("ct");
    let out = cli(&h)
        .args(["encrypt", "--kms", &id, "-c", "project=x", "-o"])
        .arg(&ct)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&h)
        .args(["decrypt", "-c", "project=x"])
        .arg(&ct)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, vec![7u8; 100_000]);
    let target = dir.path().join("out");
    let out = cli(&h)
        .args(["decrypt", "-c", "project=y", "-o"])
        .arg(&target)
        .arg(&ct)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid ciphertext"));
    assert!(!target.exists());
    // Disabling the master key stops decryption of the file.
    ok(&h, &["disable-key", "--key-id", &id]);
    let out = cli(&h)
        .args(["decrypt", "-c", "project=x"])
        .arg(&ct)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

fn store_files(home: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(home).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && p.file_name().unwrap() != "root.key" {
            all.extend(std::fs::read(p).unwrap());
        }
    }
    all
}

#[test]
fn plaintext_and_data_keys_never_reach_the_store_files() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kms::open(dir.path(), Clock::System);
    let id = k
        .create_key("", KeySpec::SymmetricDefault)
        .unwrap()
        .key_id
        .to_string();
    let dk = k
        .generate_data_key(&id, DataKeySize::Aes256, &EncryptionContext::new())
        .unwrap();
    let secret = b"a very recognisable plaintext 0123456789";
    k.encrypt(&id, secret, &EncryptionContext::new()).unwrap();
    let files = store_files(dir.path());
    let contains = |needle: &[u8]| files.windows(needle.len()).any(|w| w == needle);
    for needle in [
        dk.plaintext.expose_secret().to_vec(),
        Base64::encode_string(dk.plaintext.expose_secret()).into_bytes(),
        hex::encode(dk.plaintext.expose_secret()).into_bytes(),
        secret.to_vec(),
    ] {
        assert!(!contains(&needle), "secret bytes found in the store files");
    }
}

fn entry_lines(home: &Path) -> Vec<String> {
    std::fs::read_to_string(home.join("audit.log"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn verify_fails(home: &Path, what: &str) {
    let k = Kms::open(home, Clock::System);
    let err = k.audit_verify().unwrap_err();
    assert!(
        matches!(err, Error::Kms(KmsError::AuditTampered { .. })),
        "{what}: {err:?}"
    );
}

#[test]
fn audit_tampering_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let k = Kms::open(&base, Clock::System);
    let id = k
        .create_key("", KeySpec::SymmetricDefault)
        .unwrap()
        .key_id
        .to_string();
    for _ in 0..4 {
        k.encrypt(&id, b"x", &EncryptionContext::new()).unwrap();
    }
    let _ = k.disable_key("alias/missing");
    // CreateStore, CreateKey, 4 × Encrypt, the failed DisableKey.
    assert_eq!(k.audit_verify().unwrap(), 7);
    let lines = entry_lines(&base);
    let variant = |name: &str, lines: Vec<String>| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        for f in ["root.key", "store.json"] {
            std::fs::copy(base.join(f), d.join(f)).unwrap();
        }
        std::fs::write(d.join("audit.log"), lines.join("\n") + "\n").unwrap();
        d
    };
    let mut edited = lines.clone();
    edited[2] = edited[2].replace("\"success\"", "\"failure\"");
    verify_fails(&variant("edit", edited), "edit");
    let mut deleted = lines.clone();
    deleted.remove(1);
    verify_fails(&variant("delete", deleted), "delete");
    let mut inserted = lines.clone();
    inserted.insert(2, lines[2].clone());
    verify_fails(&variant("insert", inserted), "insert");
    let mut reordered = lines.clone();
    reordered.swap(1, 2);
    verify_fails(&variant("reorder", reordered), "reorder");
    verify_fails(&variant("truncate", lines[..4].to_vec()), "truncate");
    // The untouched copy still verifies.
    assert_eq!(
        Kms::open(variant("intact", lines), Clock::System)
            .audit_verify()
            .unwrap(),
        7
    );
}

/// Eight processes creating, rotating and using keys at once: nothing is lost.
#[test]
fn eight_processes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    let seed = ok(h, &["create-key"]);
    let shared = seed["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let bin = assert_cmd::cargo::cargo_bin("angou");
    let script = format!(
        "for i in 1 2 3; do {b} --home {h} kms create-key >/dev/null || exit 1; \
         {b} --home {h} kms rotate-key-on-demand --key-id {k} >/dev/null || exit 1; \
         {b} --home {h} kms generate-data-key --key-id {k} --key-spec AES_256 > /dev/null || exit 1; done",
        b = bin.display(),
        h = h.display(),
        k = shared
    );
    let children: Vec<_> = (0..8)
        .map(|_| StdCommand::new("sh").args(["-c", &script]).spawn().unwrap())
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let keys = ok(h, &["list-keys"]);
    assert_eq!(keys["Keys"].as_array().unwrap().len(), 1 + 8 * 3);
    let rotations = ok(h, &["list-key-rotations", "--key-id", &shared]);
    assert_eq!(rotations["Rotations"].as_array().unwrap().len(), 24);
    let v = ok(h, &["audit", "verify"]);
    // CreateStore + 1 seed + 8 × 3 × 3 operations + list-keys + list-key-rotations.
    assert_eq!(v["Entries"], 1 + 1 + 72 + 2);
}

/// Processes killed at random points of their writes leave a store that loads, keeps every
/// committed key, and whose audit log verifies once the next operation repairs the tail.
#[test]
fn killed_writers_leave_old_or_new_state() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    ok(h, &["create-key"]);
    let bin = assert_cmd::cargo::cargo_bin("angou");
    for round in 0..12u64 {
        let mut child = StdCommand::new(&bin)
            .arg("--home")
            .arg(h)
            .args(["kms", "create-key", "--key-spec", "RSA_2048"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 + round * 17 % 120));
        let _ = child.kill();
        let _ = child.wait();
        // The store still parses and serves requests.
        let keys = ok(h, &["list-keys"]);
        assert!(!keys["Keys"].as_array().unwrap().is_empty());
        assert_eq!(
            ok(h, &["audit", "verify"])["Verified"],
            true,
            "round {round}"
        );
    }
}

#[test]
fn passphrase_protected_store() {
    let dir = tempfile::tempdir().unwrap();
    let pass = || angou::secret::SecretVec::from_vec(b"correct horse".to_vec());
    let k = Kms::open(dir.path(), Clock::System).with_passphrase(pass());
    k.init_with_passphrase().unwrap();
    assert!(k.is_passphrase_protected());
    let id = k
        .create_key("", KeySpec::SymmetricDefault)
        .unwrap()
        .key_id
        .to_string();
    let e = k.encrypt(&id, b"x", &EncryptionContext::new()).unwrap();
    assert!(!dir.path().join("root.key").exists(), "no root key on disk");
    let wrong = Kms::open(dir.path(), Clock::System)
        .with_passphrase(angou::secret::SecretVec::from_vec(b"wrong".to_vec()));
    assert!(matches!(
        wrong.list_keys(),
        Err(Error::Kms(KmsError::WrongRootKey { .. }))
    ));
    let none = Kms::open(dir.path(), Clock::System);
    assert!(matches!(
        none.list_keys(),
        Err(Error::Kms(KmsError::Store { .. }))
    ));
    let again = Kms::open(dir.path(), Clock::System).with_passphrase(pass());
    assert_eq!(
        again
            .decrypt(&e.ciphertext_blob, &EncryptionContext::new(), None)
            .unwrap()
            .plaintext
            .expose_secret(),
        b"x"
    );
    assert!(matches!(
        again.init_with_passphrase(),
        Err(Error::Kms(KmsError::AlreadyExists { .. }))
    ));
    assert!(again.audit_verify().is_ok());
}
