//! Issue 11: access keys for `angou kms serve`, attacked through the store folder by someone
//! without the root key. Access keys are part of the sealed state: adding, removing, swapping
//! or editing one by hand is tampering, refused by every operation, and nothing is written.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use crate::common::{Env, Run, angou, run};

fn kms(home: &PathBuf, args: &[&str]) -> Run {
    run(angou().arg("--home").arg(home).arg("kms").args(args))
}

fn ok(home: &PathBuf, args: &[&str]) -> Value {
    let r = kms(home, args);
    assert_eq!(r.code, 0, "kms {args:?}: {}", r.stderr);
    serde_json::from_slice(&r.stdout).unwrap_or(Value::Null)
}

fn snapshot(home: &PathBuf) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(home)
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

/// A hand edit of an access key: change the user, swap two wrapped secrets, drop one, plant
/// one. Each is refused by every operation (the access-key ones included) and changes nothing.
#[test]
fn a_hand_edited_access_key_is_tampering() {
    type Edit = fn(&mut Vec<Value>);
    let edits: [(&str, Edit); 4] = [
        ("rename the user", |keys| keys[0]["user"] = "root".into()),
        ("swap two secrets", |keys| {
            let a = keys[0]["wrapped"].clone();
            keys[0]["wrapped"] = keys[1]["wrapped"].clone();
            keys[1]["wrapped"] = a;
        }),
        ("drop a key", |keys| {
            keys.remove(0);
        }),
        ("plant a key", |keys| {
            let mut k = keys[0].clone();
            k["access_key_id"] = "AKIAATTACKERATTACKER".into();
            keys.push(k);
        }),
    ];
    for (what, edit) in edits {
        let env = Env::new();
        let home = env.p("store");
        let key = ok(&home, &["create-key"])["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_owned();
        let id = ok(&home, &["create-access-key", "--user", "alice"])["AccessKey"]["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_owned();
        ok(&home, &["create-access-key", "--user", "bob"]);
        // Edited the way an attacker would: the state parsed, changed and written back.
        let path = home.join("store.json");
        let mut doc: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let mut keys = doc["state"]["access_keys"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 2, "{what}");
        edit(&mut keys);
        doc["state"]["access_keys"] = Value::Array(keys);
        fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();

        let before = snapshot(&home);
        for args in [
            vec!["list-access-keys"],
            vec!["create-access-key", "--user", "mallory"],
            vec!["delete-access-key", "--access-key-id", &id],
            vec!["describe-key", "--key-id", &key],
            vec!["list-keys"],
            vec!["audit", "verify"],
        ] {
            let r = kms(&home, &args);
            assert_ne!(r.code, 0, "{what}: {args:?} accepted");
            let first = r.stderr.lines().next().unwrap_or("");
            assert!(
                first.starts_with("error: ")
                    && first.contains("key store verification failed")
                    && first.contains("modified"),
                "{what}: {args:?}: {}",
                r.stderr
            );
        }
        assert!(
            snapshot(&home) == before,
            "{what}: a refused operation wrote"
        );
    }
}

/// A store made before access keys existed has no `access_keys` member, and one whose keys
/// were all deleted goes back to having none: old stores keep their exact bytes and seal.
#[test]
fn stores_without_access_keys_keep_their_layout() {
    let env = Env::new();
    let home = env.p("store");
    ok(&home, &["create-key"]);
    let text = fs::read_to_string(home.join("store.json")).unwrap();
    assert!(!text.contains("access_keys"), "{text}");
    let id = ok(&home, &["create-access-key", "--user", "ci"])["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        fs::read_to_string(home.join("store.json"))
            .unwrap()
            .contains("access_keys")
    );
    ok(&home, &["delete-access-key", "--access-key-id", &id]);
    assert!(
        !fs::read_to_string(home.join("store.json"))
            .unwrap()
            .contains("access_keys")
    );
    assert_eq!(
        ok(&home, &["list-access-keys"])["AccessKeyMetadata"],
        Value::Array(vec![])
    );
    let r = kms(&home, &["delete-access-key", "--access-key-id", &id]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("not found") && r.stderr.contains("list-access-keys"),
        "{}",
        r.stderr
    );
}
