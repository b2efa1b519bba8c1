//! Issue 10 §1: the KMS store and its audit log attacked by someone who can edit the store
//! folder but holds neither the root key nor the passphrase, and by a careless owner (a fake
//! clock, a wrong root key, a deleted file, a killed process). Each attack must make every
//! operation refuse, leave the store as it was, and never be repaired silently.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{Env, Run, angou, run};

/// A store folder and, beside it (outside the folder), the machine's high-water marks.
struct Store {
    env: Env,
    home: PathBuf,
    marks: PathBuf,
}

impl Store {
    fn new() -> Store {
        let env = Env::new();
        let home = env.p("store");
        let marks = env.p("marks");
        Store { env, home, marks }
    }

    fn kms_env(&self, home: &Path, args: &[&str], fake_now: Option<&str>) -> Run {
        let mut c = angou();
        c.arg("--home").arg(home).arg("kms").args(args);
        c.env("ANGOU_STATE_DIR", &self.marks);
        if let Some(t) = fake_now {
            c.env("ANGOU_FAKE_NOW", t);
        }
        run(&mut c)
    }

    fn kms(&self, args: &[&str]) -> Run {
        self.kms_env(&self.home, args, None)
    }

    fn ok(&self, args: &[&str]) -> Value {
        let r = self.kms(args);
        assert_eq!(r.code, 0, "kms {args:?}: {}", r.stderr);
        serde_json::from_slice(&r.stdout).unwrap_or(Value::Null)
    }

    fn key(&self) -> String {
        self.ok(&["create-key"])["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.home.join(name)
    }

    fn read_json(&self, name: &str) -> Value {
        serde_json::from_slice(&fs::read(self.file(name)).unwrap()).unwrap()
    }

    fn write_json(&self, name: &str, v: &Value) {
        fs::write(self.file(name), serde_json::to_vec_pretty(v).unwrap()).unwrap();
    }

    /// Every file of the store folder, by name, except the lock.
    fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = fs::read_dir(&self.home)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name() != "store.lock")
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Copies the store folder to `name` beside it.
    fn copy_to(&self, name: &str) -> PathBuf {
        let to = self.env.p(name);
        fs::create_dir_all(&to).unwrap();
        for e in fs::read_dir(&self.home).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
        to
    }

    /// Replaces the store folder's files with those of `from`.
    fn restore_from(&self, from: &Path) {
        fs::remove_dir_all(&self.home).unwrap();
        fs::create_dir_all(&self.home).unwrap();
        for e in fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), self.home.join(e.file_name())).unwrap();
        }
    }
}

/// The operation refused with an `error:` line containing `needle`, and a hint.
fn refused(r: &Run, needle: &str) {
    assert_ne!(r.code, 0, "must refuse, got stdout {}", r.out());
    let first = r.stderr.lines().next().unwrap_or("");
    assert!(
        first.starts_with("error: ") && first.contains(needle),
        "want an error naming {needle:?}, got: {}",
        r.stderr
    );
    assert!(r.stderr.contains("hint: "), "{}", r.stderr);
}

/// After an attack: every kind of operation refuses, and none changes a byte of the store.
fn every_operation_refuses(s: &Store, key: &str, needle: &str) {
    let before = s.snapshot();
    for args in [
        vec!["list-keys"],
        vec!["describe-key", "--key-id", key],
        vec!["encrypt", "--key-id", key, "--plaintext", "aGk="],
        vec!["create-key"],
        vec!["audit", "verify"],
        vec!["audit"],
        vec!["audit", "checkpoint"],
    ] {
        refused(&s.kms(&args), needle);
    }
    assert!(
        s.snapshot() == before,
        "a refused operation changed the store"
    );
}

/// The hash chain of FORMAT.md §5.4, recomputed by an attacker (it needs no key).
fn rechain(lines: &[&str]) -> (u64, u64, String) {
    let mut h = [0u8; 32];
    let mut len = 0u64;
    for l in lines {
        let mut d = Sha256::new();
        d.update(b"angou.dev/v2/kms audit\0");
        d.update(h);
        d.update(l.as_bytes());
        h = d.finalize().into();
        len += l.len() as u64 + 1;
    }
    (lines.len() as u64, len, hex::encode(h))
}

#[test]
fn wiping_the_head_and_the_log_is_refused_and_never_repaired() {
    let s = Store::new();
    let key = s.key();
    s.ok(&["encrypt", "--key-id", &key, "--plaintext", "aGk="]);
    // The empty head an attacker can write without the key, and no log.
    let mut st = s.read_json("store.json");
    st["state"]["audit"] = serde_json::json!({"count": 0, "len": 0, "hash": "0".repeat(64)});
    s.write_json("store.json", &st);
    let log = fs::read(s.file("audit.log")).unwrap();
    fs::remove_file(s.file("audit.log")).unwrap();
    every_operation_refuses(&s, &key, "modified");
    // Keeping the log instead: still refused, and an ordinary operation does not cut it.
    fs::write(s.file("audit.log"), &log).unwrap();
    every_operation_refuses(&s, &key, "modified");
    assert_eq!(fs::read(s.file("audit.log")).unwrap(), log);
}

#[test]
fn a_rewritten_history_is_refused_before_and_after_the_owners_next_operation() {
    let s = Store::new();
    let key = s.key();
    for _ in 0..3 {
        s.ok(&["encrypt", "--key-id", &key, "--plaintext", "aGk="]);
    }
    let text = fs::read_to_string(s.file("audit.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Drop the encryptions, renumber nothing, rebuild the chain and the head.
    let kept: Vec<&str> = lines[..2].to_vec();
    let (count, len, hash) = rechain(&kept);
    fs::write(s.file("audit.log"), kept.join("\n") + "\n").unwrap();
    let mut st = s.read_json("store.json");
    st["state"]["audit"] = serde_json::json!({"count": count, "len": len, "hash": hash});
    st["mac"] = Value::String("00".repeat(32));
    s.write_json("store.json", &st);
    every_operation_refuses(&s, &key, "modified");
    // Without touching store.json: the log alone was rewritten.
    let s2 = Store::new();
    let key2 = s2.key();
    s2.ok(&["encrypt", "--key-id", &key2, "--plaintext", "aGk="]);
    let text = fs::read_to_string(s2.file("audit.log")).unwrap();
    let edited = text.replace("\"success\"", "\"failure\"");
    fs::write(s2.file("audit.log"), edited).unwrap();
    every_operation_refuses(&s2, &key2, "do not hash to the sealed head");
}

#[test]
fn editing_a_key_state_by_hand_is_refused() {
    let s = Store::new();
    let key = s.key();
    s.ok(&["disable-key", "--key-id", &key]);
    let text = fs::read_to_string(s.file("store.json")).unwrap();
    assert!(text.contains("\"KeyState\": \"Disabled\""), "{text}");
    fs::write(
        s.file("store.json"),
        text.replace("\"KeyState\": \"Disabled\"", "\"KeyState\": \"Enabled\"")
            .replace("\"Enabled\": false", "\"Enabled\": true"),
    )
    .unwrap();
    every_operation_refuses(&s, &key, "modified");
}

#[test]
fn an_older_state_file_alone_cannot_resurrect_a_key_or_undo_a_disable() {
    let s = Store::new();
    let key = s.key();
    let old_state = fs::read(s.file("store.json")).unwrap();
    s.ok(&["disable-key", "--key-id", &key]);
    fs::write(s.file("store.json"), &old_state).unwrap();
    let log = fs::read(s.file("audit.log")).unwrap();
    every_operation_refuses(&s, &key, "follow the sealed end");
    assert_eq!(
        fs::read(s.file("audit.log")).unwrap(),
        log,
        "the newer log was cut"
    );
}

#[test]
fn a_deleted_state_file_is_refused_never_a_new_empty_store() {
    let s = Store::new();
    let key = s.key();
    fs::remove_file(s.file("store.json")).unwrap();
    let log = fs::read(s.file("audit.log")).unwrap();
    for args in [
        vec!["list-keys"],
        vec!["describe-key", "--key-id", &key],
        vec!["create-key"],
        vec!["audit", "verify"],
    ] {
        refused(&s.kms(&args), "store.json is missing");
    }
    assert!(!s.file("store.json").exists(), "a new state was written");
    assert_eq!(fs::read(s.file("audit.log")).unwrap(), log);
}

#[test]
fn another_stores_root_key_is_refused_before_any_operation() {
    let s = Store::new();
    let key = s.key();
    let other = Store::new();
    other.key();
    let before = s.snapshot();
    fs::copy(other.file("root.key"), s.file("root.key")).unwrap();
    let with_wrong = s.snapshot();
    for args in [
        vec!["describe-key", "--key-id", key.as_str()],
        vec!["create-key"],
        vec!["list-keys"],
        vec!["audit", "verify"],
        vec!["audit", "repair"],
    ] {
        refused(&s.kms(&args), "wrong root key");
    }
    assert!(s.snapshot() == with_wrong, "the store was re-sealed");
    // Putting the right key back makes everything work again: nothing was damaged.
    fs::write(
        s.file("root.key"),
        &before.iter().find(|(n, _)| n == "root.key").unwrap().1,
    )
    .unwrap();
    s.ok(&["describe-key", "--key-id", &key]);
    assert_eq!(s.ok(&["audit", "verify"])["Verified"], true);
}

#[test]
fn crafted_kdf_parameters_are_refused_before_any_work() {
    let s = Store::new();
    let init = {
        let mut c = angou();
        c.arg("--home")
            .arg(&s.home)
            .args(["kms", "init", "--passphrase"])
            .env("ANGOU_KMS_PASSPHRASE", "correct horse battery")
            .env("ANGOU_STATE_DIR", &s.marks);
        run(&mut c)
    };
    assert_eq!(init.code, 0, "{}", init.stderr);
    let good = s.read_json("root.params.json");
    for (field, value, needle) in [
        ("t_cost", Value::from(u32::MAX), "passes"),
        ("m_cost_kib", Value::from(u32::MAX), "memory"),
        ("p_cost", Value::from(1000), "lanes"),
        ("kdf", Value::from("scrypt"), "unknown key derivation"),
        ("kdf", Value::from("Argon2id "), "unknown key derivation"),
    ] {
        let mut p = good.clone();
        p[field] = value;
        s.write_json("root.params.json", &p);
        let mut c = angou();
        c.arg("--home")
            .arg(&s.home)
            .args(["kms", "list-keys"])
            .env("ANGOU_KMS_PASSPHRASE", "correct horse battery")
            .env("ANGOU_STATE_DIR", &s.marks);
        // A hang or a multi-gigabyte allocation would time the suite out; a refusal is
        // immediate.
        let r = run(&mut c);
        refused(&r, needle);
    }
}

#[test]
fn a_fake_clock_never_purges_or_rotates_a_real_store() {
    let s = Store::new();
    let key = s.key();
    s.ok(&[
        "create-alias",
        "--alias-name",
        "alias/precious",
        "--target-key-id",
        &key,
    ]);
    s.ok(&["enable-key-rotation", "--key-id", &key]);
    s.ok(&[
        "schedule-key-deletion",
        "--key-id",
        &key,
        "--pending-window-in-days",
        "7",
    ]);
    let before = s.snapshot();
    for args in [
        vec!["describe-key", "--key-id", key.as_str()],
        vec!["list-keys"],
        vec!["audit", "verify"],
    ] {
        refused(
            &s.kms_env(&s.home, &args, Some("2030-01-01T00:00:00Z")),
            "fake clock refused",
        );
    }
    assert!(
        s.snapshot() == before,
        "the fake clock changed a real store"
    );
    assert_eq!(
        s.ok(&["describe-key", "--key-id", "alias/precious"])["KeyMetadata"]["KeyState"],
        "PendingDeletion"
    );
    s.ok(&["cancel-key-deletion", "--key-id", &key]);
    // A fake clock cannot create a store either; a store made for it can travel in time.
    let tour = s.env.p("tour");
    let r = s.kms_env(&tour, &["create-key"], Some("2030-01-01T00:00:00Z"));
    refused(&r, "fake clock refused");
    assert!(!tour.join("store.json").exists());
    let init = s.kms_env(&tour, &["init", "--fake-clock"], None);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let r = s.kms_env(&tour, &["create-key"], Some("2030-01-01T00:00:00Z"));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn read_only_operations_never_create_a_store() {
    let s = Store::new();
    let missing = s.env.p("nowhere");
    let empty = s.env.p("empty");
    fs::create_dir(&empty).unwrap();
    for home in [&missing, &empty] {
        for args in [
            vec!["describe-key", "--key-id", "alias/x"],
            vec!["list-keys"],
            vec!["list-aliases"],
            vec!["decrypt", "--ciphertext-blob", "AAAA"],
            vec!["audit", "verify"],
            vec!["audit"],
        ] {
            refused(&s.kms_env(home, &args, None), "no key store");
        }
    }
    assert!(!missing.exists(), "a read created the store folder");
    assert_eq!(
        fs::read_dir(&empty).unwrap().count(),
        0,
        "a read wrote files"
    );
}

/// A writer killed at each step of a commit leaves a store the next operation completes;
/// nothing is discarded and the log verifies.
#[test]
fn a_killed_writer_is_told_apart_from_tampering() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: the crash points exist only in debug builds");
        return;
    }
    for point in ["after-intent", "mid-log", "after-log", "after-state"] {
        let s = Store::new();
        let key = s.key();
        let mut c = angou();
        c.arg("--home")
            .arg(&s.home)
            .args([
                "kms",
                "create-alias",
                "--alias-name",
                "alias/late",
                "--target-key-id",
                &key,
            ])
            .env("ANGOU_STATE_DIR", &s.marks)
            .env("ANGOU_TEST_CRASH_POINT", point);
        let r = run(&mut c);
        assert_ne!(r.code, 0, "{point}: the crash point did not fire");
        // The interrupted commit is completed by the next operation, not thrown away.
        let aliases = s.ok(&["list-aliases"]);
        assert_eq!(aliases["Aliases"].as_array().unwrap().len(), 1, "{point}");
        let v = s.ok(&["audit", "verify"]);
        // CreateStore, CreateKey, CreateAlias, ListAliases.
        assert_eq!(v["Entries"], 4, "{point}");
        assert!(!s.file("store.next").exists(), "{point}");
    }
}

#[test]
fn lines_appended_after_the_sealed_end_are_tampering_not_a_crash() {
    let s = Store::new();
    let key = s.key();
    let text = fs::read_to_string(s.file("audit.log")).unwrap();
    let last = text.lines().last().unwrap().to_owned();
    let forged = last.replace("\"seq\":2", "\"seq\":3");
    fs::write(s.file("audit.log"), format!("{text}{forged}\n")).unwrap();
    every_operation_refuses(&s, &key, "follow the sealed end");
    // A planted commit intent (no root key, so no valid seal) does not help.
    fs::write(
        s.file("store.next"),
        fs::read(s.file("store.json")).unwrap(),
    )
    .unwrap();
    every_operation_refuses(&s, &key, "verification failed");
}

#[test]
fn repair_is_explicit_needs_the_root_key_and_is_recorded() {
    let s = Store::new();
    let key = s.key();
    let text = fs::read_to_string(s.file("audit.log")).unwrap();
    fs::write(s.file("audit.log"), format!("{text}{{\"seq\":3}}\n")).unwrap();
    refused(&s.kms(&["list-keys"]), "follow the sealed end");
    // Without the root key, repair is refused.
    let root = fs::read(s.file("root.key")).unwrap();
    fs::write(s.file("root.key"), [7u8; 32]).unwrap();
    refused(&s.kms(&["audit", "repair"]), "wrong root key");
    fs::write(s.file("root.key"), &root).unwrap();
    let r = s.ok(&["audit", "repair"]);
    assert_eq!(r["Repaired"], true);
    let findings = r["Findings"].to_string();
    assert!(findings.contains("discarded 10 bytes"), "{findings}");
    assert_eq!(s.ok(&["audit", "verify"])["Verified"], true);
    let repairs = s.kms(&["audit", "--operation", "RepairStore"]);
    assert_eq!(repairs.out().lines().count(), 1, "{}", repairs.out());
    assert!(repairs.out().contains("discarded 10 bytes"));
    s.ok(&["describe-key", "--key-id", &key]);
    // A whole store has nothing to repair and is not touched.
    let before = s.snapshot();
    assert_eq!(s.ok(&["audit", "repair"])["Repaired"], false);
    assert!(s.snapshot() == before);
}

#[test]
fn a_checkpoint_catches_a_rolled_back_or_forked_folder() {
    let s = Store::new();
    let key = s.key();
    let old = s.copy_to("old");
    s.ok(&["disable-key", "--key-id", &key]);
    let cp = s.ok(&["audit", "checkpoint"]);
    let cp_file = s.env.write("checkpoint.json", cp.to_string().as_bytes());
    let cp_arg = cp_file.to_str().unwrap();
    assert_eq!(
        s.ok(&["audit", "verify", "--checkpoint", cp_arg])["Verified"],
        true
    );
    s.ok(&["enable-key", "--key-id", &key]);
    assert_eq!(
        s.ok(&["audit", "verify", "--checkpoint", cp_arg])["Verified"],
        true,
        "a store that moved on still extends its checkpoint"
    );
    // The whole folder rolled back (marks deleted too, as an attacker with the folder would).
    s.restore_from(&old);
    fs::remove_dir_all(&s.marks).unwrap();
    refused(
        &s.kms(&["audit", "verify", "--checkpoint", cp_arg]),
        "rolled back",
    );
    // Forked: the old copy moves on past the checkpoint's length with another history.
    for _ in 0..4 {
        s.ok(&["list-keys"]);
    }
    refused(
        &s.kms(&["audit", "verify", "--checkpoint", cp_arg]),
        "forked",
    );
    // A checkpoint edited by hand (to match) is refused.
    let mut forged = cp.clone();
    forged["generation"] = Value::from(1);
    let f = s.env.write("forged.json", forged.to_string().as_bytes());
    refused(
        &s.kms(&["audit", "verify", "--checkpoint", f.to_str().unwrap()]),
        "modified",
    );
}

#[test]
fn the_high_water_mark_catches_a_rolled_back_folder_on_this_machine() {
    let s = Store::new();
    let key = s.key();
    let old = s.copy_to("old");
    s.ok(&["disable-key", "--key-id", &key]);
    s.restore_from(&old);
    every_operation_refuses(&s, &key, "rollback detected");
    // Forked and moved past the mark: still caught.
    let s2 = Store::new();
    let key2 = s2.key();
    let old2 = s2.copy_to("old");
    s2.ok(&["disable-key", "--key-id", &key2]);
    s2.restore_from(&old2);
    let marks = s2.env.p("marks");
    let saved = fs::read_dir(marks.join("stores"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    let mark = fs::read(&saved).unwrap();
    fs::remove_file(&saved).unwrap();
    for _ in 0..3 {
        s2.ok(&["list-keys"]);
    }
    fs::write(&saved, mark).unwrap();
    refused(&s2.kms(&["list-keys"]), "forked");
    // The owner can accept the old copy explicitly.
    let r = s2.ok(&["audit", "repair"]);
    assert!(r["Findings"].to_string().contains("older than or forked"));
    s2.ok(&["describe-key", "--key-id", &key2]);
}

#[test]
fn stale_temporary_files_of_killed_writers_are_removed_under_the_lock() {
    let s = Store::new();
    s.key();
    let stale = s.file(".angou-store-KILLED");
    fs::write(&stale, b"half a state").unwrap();
    s.ok(&["list-keys"]);
    assert!(!stale.exists());
}

#[test]
fn a_version_1_store_is_refused_with_a_clear_message() {
    let s = Store::new();
    fs::create_dir_all(&s.home).unwrap();
    fs::write(s.file("root.key"), [1u8; 32]).unwrap();
    fs::write(
        s.file("store.json"),
        br#"{"format":"angou-kms-store-v1","keys":[],"aliases":{},"audit":{"count":0,"len":0,"hash":"","mac":""}}"#,
    )
    .unwrap();
    refused(&s.kms(&["list-keys"]), "older angou");
}

/// The README's KMS tour, run line by line as printed (KEY_ID and BASE64 filled in from the
/// output before them, `~` and `/tmp/tour` moved into a scratch folder): every command
/// succeeds and no key is lost.
#[test]
fn the_readme_kms_tour_runs_as_written_and_loses_no_key() {
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Envelope encryption with the local KMS")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let mut commands = Vec::new();
    let mut in_block = false;
    for line in section.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if in_block && !line.trim().is_empty() {
            // Drop the trailing comment (two spaces, then '#').
            let cmd = line.split("  #").next().unwrap().trim_end().to_owned();
            commands.push(cmd);
        }
    }
    assert!(commands.len() >= 14, "{commands:?}");
    let e = Env::new();
    let home = e.p("home");
    fs::create_dir(&home).unwrap();
    e.write("q3.pdf", b"quarterly numbers");
    let path = crate::tools::path_with_angou();
    let (mut key_id, mut blob, mut main_key) = (String::new(), String::new(), String::new());
    for cmd in &commands {
        let cmd = cmd
            .replace("KEY_ID", &key_id)
            .replace("BASE64", &blob)
            .replace("/tmp/tour", e.p("tour").to_str().unwrap());
        let mut c = std::process::Command::new("sh");
        c.arg("-c")
            .arg(&cmd)
            .current_dir(e.dir.path())
            .env("PATH", &path)
            .env("HOME", &home)
            .env("ANGOU_STATE_DIR", e.p("marks"))
            .env_remove("ANGOU_HOME")
            .env_remove("ANGOU_FAKE_NOW")
            .env_remove("XDG_DATA_HOME")
            .env_remove("ANGOU_KMS_PASSPHRASE");
        let out = c.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "README command failed: {cmd}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Ok(v) = serde_json::from_str::<Value>(&stdout) {
            if let Some(id) = v["KeyMetadata"]["KeyId"].as_str() {
                key_id = id.to_owned();
                if main_key.is_empty() {
                    main_key = id.to_owned();
                }
            }
            if let Some(b) = v["CiphertextBlob"].as_str() {
                blob = b.to_owned();
            }
            if cmd.contains("ANGOU_FAKE_NOW") {
                assert_eq!(v["Keys"].as_array().unwrap().len(), 0, "the tour's purge");
            }
        }
    }
    assert_eq!(fs::read(e.p("q3-copy.pdf")).unwrap(), b"quarterly numbers");
    // The user's real store still has its key, enabled, and the data key still decrypts.
    let mut c = angou();
    c.arg("--home")
        .arg(home.join(".local/share/angou"))
        .args(["kms", "describe-key", "--key-id", &main_key])
        .env("ANGOU_STATE_DIR", e.p("marks"));
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.out().contains("\"KeyState\": \"Enabled\""), "{}", r.out());
}

/// A hostile file's kms stanza naming `alias/angou/default` must not make a read create that
/// key in the reader's store; a reader without any store treats the stanza as not theirs.
#[test]
fn a_kms_stanza_cannot_make_a_read_create_a_key() {
    use angou::kms::{Clock, EncryptionContext, Kms, KmsIdentity};
    use angou::recipient::{Identity, Stanza};
    let s = Store::new();
    s.key();
    let kms = Kms::open(&s.home, Clock::System).with_high_water_marks(&s.marks);
    let id = KmsIdentity {
        kms: &kms,
        context: EncryptionContext::new(),
    };
    let stanza = Stanza {
        kind: angou::kms::KMS_STANZA.into(),
        args: vec!["alias/angou/default".into()],
        body: vec![1; 65],
    };
    assert!(id.unwrap_stanza(&stanza).is_none(), "not this store's key");
    let aliases = s.ok(&["list-aliases"]);
    assert_eq!(
        aliases["Aliases"].as_array().unwrap().len(),
        0,
        "a read created the default key: {aliases}"
    );
    assert_eq!(s.ok(&["list-keys"])["Keys"].as_array().unwrap().len(), 1);
    // No store at all: not mine, and still no store.
    let none = Kms::open(s.env.p("none"), Clock::System);
    let id = KmsIdentity {
        kms: &none,
        context: EncryptionContext::new(),
    };
    assert!(id.unwrap_stanza(&stanza).is_none());
    assert!(!s.env.p("none").exists());
}
