//! The local store: keys, their material and aliases in one sealed, authenticated state file
//! beside a hash-chained audit log, both changed together under a lock and committed
//! atomically. [`Kms`] is its handle; every operation runs through [`session`].
//!
//! A newcomer's map: `key.rs` (ids, aliases, ARNs, states), `context.rs` (encryption context
//! to canonical bytes), `blob.rs` (ciphertext blobs), `clock.rs`; `store.rs` (the on-disk
//! state, lock, atomic writes), `root.rs` (the root key and its subkeys), `sealed.rs` (the sealed files: `store.json`,
//! `store.next`, `store.wal` records), `integrity.rs` (open, commit, recovery, high-water
//! marks, repair), `wal.rs` (a server's write-ahead log), `checkpoint.rs`, `resident.rs` (a
//! long-running door's state kept in memory and its group commit), `audit.rs` (the hash
//! chain); then the operations: `session.rs` (open, run, audit, commit), `caller.rs` (who calls, the audit entry), `keys.rs` (key
//! lifecycle and rotation), `aliases.rs`, `material.rs`, `crypto.rs`, `audit_ops.rs`,
//! `access.rs` (access keys for `kms serve`), `tags.rs`, `pair.rs` (data key pairs) and
//! `import/` (bring your own key material: `token.rs` the import parameters, `deletion.rs`
//! deletion and expiry).

pub mod audit;
pub mod blob;
pub mod clock;
pub mod context;
pub mod key;

// access keys and request signatures (issue 11, `kms serve` authentication)
pub(crate) mod access;
mod aliases;
mod audit_ops;
mod caller;
mod checkpoint;
mod crypto;
// bring your own key material (Origin EXTERNAL)
pub(crate) mod import;
pub(crate) mod integrity;
mod keys;
mod material;
// data key pairs (GenerateDataKeyPair)
pub(crate) mod pair;
pub(crate) mod resident;
mod root;
mod sealed;
mod session;
pub(crate) mod store;
// tags and descriptions (TagResource, UpdateKeyDescription)
pub(crate) mod tags;
mod wal;

pub use session::Kms;

use crate::error::{Error, KmsError};
use key::KeySpec;

/// A key spec's AWS name.
pub(super) fn wire_spec(spec: KeySpec) -> String {
    serde_json::to_value(spec)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(crate) fn validation(reason: impl Into<String>) -> Error {
    KmsError::Validation {
        reason: reason.into(),
    }
    .into()
}

/// A store in `dir` (system clock) with one symmetric key, for unit tests: (handle, key id).
#[cfg(test)]
fn store_with_symmetric_key(dir: &std::path::Path) -> (Kms, String) {
    let k = Kms::open(dir, crate::kms::Clock::System);
    let id = k
        .create_key("", KeySpec::SymmetricDefault)
        .unwrap()
        .key_id
        .to_string();
    (k, id)
}

#[cfg(test)]
mod tests {
    use base64ct::{Base64, Encoding};
    use serde_json::json;

    use super::*;
    use crate::kms::{AuditFilter, Clock, EncryptionContext, Home};
    use crate::secret::SecretVec;

    /// A key stored with the ARN form angou wrote before real AWS ARNs still works: its
    /// blobs decrypt, the old ARN still names it, and the store upgrades it to
    /// `arn:aws:kms:us-east-1:000000000000:key/<id>`.
    #[test]
    fn keys_stored_with_old_arns_keep_working() {
        let dir = tempfile::tempdir().unwrap();
        let k = Kms::open(dir.path(), Clock::System);
        let id = k.create_key("", KeySpec::SymmetricDefault).unwrap().key_id;
        let blob = k
            .encrypt(id.as_str(), b"old", &EncryptionContext::new())
            .unwrap();
        let old = format!("{}key/{id}", key::LEGACY_ARN_PREFIX);
        // Put the store back as an older angou wrote it.
        k.run("Test", json!({}), |s| {
            s.state.keys[0].metadata.arn = old.clone();
            Ok(())
        })
        .unwrap();
        let d = k
            .decrypt(&blob.ciphertext_blob, &EncryptionContext::new(), Some(&old))
            .unwrap();
        assert_eq!(d.plaintext.expose_secret(), b"old");
        let new = format!("arn:aws:kms:us-east-1:000000000000:key/{id}");
        assert_eq!(d.key_id, new);
        assert_eq!(k.describe_key(&old).unwrap().arn, new);
        // Another region does not see it, by id or by its old name.
        let eu = k
            .clone()
            .with_region(Home::new("eu-west-1", key::DEFAULT_ACCOUNT).unwrap());
        assert!(matches!(
            eu.describe_key(&old),
            Err(Error::Kms(KmsError::NotFound { .. }))
        ));
        assert!(matches!(
            eu.decrypt(&blob.ciphertext_blob, &EncryptionContext::new(), None),
            Err(Error::Kms(KmsError::NotFound { .. }))
        ));
        // Nor does another account in the same region.
        let other = k
            .clone()
            .with_region(Home::new(key::DEFAULT_REGION, "111122223333").unwrap());
        assert!(matches!(
            other.describe_key(id.as_str()),
            Err(Error::Kms(KmsError::NotFound { .. }))
        ));
        assert!(other.list_keys().unwrap().is_empty());
    }

    /// A store written before aliases had a region keys them by name alone (one namespace):
    /// each alias still resolves, from its key's region and account only, lists there only,
    /// and the next commit rewrites it to its ARN there. Its key may also carry the old
    /// `arn:angou:kms:local` ARN (an alias of such a key belongs to the default home).
    #[test]
    fn aliases_stored_by_name_alone_keep_working() {
        let dir = tempfile::tempdir().unwrap();
        let us = Kms::open(dir.path(), Clock::System);
        let eu = us
            .clone()
            .with_region(Home::new("eu-west-1", key::DEFAULT_ACCOUNT).unwrap());
        let a = us.create_key("", KeySpec::SymmetricDefault).unwrap().key_id;
        let b = eu.create_key("", KeySpec::SymmetricDefault).unwrap().key_id;
        let old_arn = format!("{}key/{a}", key::LEGACY_ARN_PREFIX);
        // Put the store back as an older angou wrote it.
        us.run("Test", json!({}), |s| {
            s.state.keys[0].metadata.arn = old_arn.clone();
            s.state.aliases.clear();
            s.state.aliases.insert("alias/first".into(), a.to_string());
            s.state.aliases.insert("alias/second".into(), b.to_string());
            Ok(())
        })
        .unwrap();
        let state = || std::fs::read_to_string(dir.path().join(store::STATE_FILE)).unwrap();
        assert!(
            state().contains("\"alias/first\":"),
            "the old form was not written"
        );
        assert_eq!(us.describe_key("alias/first").unwrap().key_id, a);
        assert_eq!(eu.describe_key("alias/second").unwrap().key_id, b);
        let eu_arn = "arn:aws:kms:eu-west-1:000000000000:alias/second";
        assert_eq!(eu.describe_key(eu_arn).unwrap().key_id, b);
        for (k, r) in [
            (&us, "alias/second"),
            (&us, eu_arn),
            (&eu, "alias/first"),
            (&eu, "arn:aws:kms:eu-west-1:000000000000:alias/first"),
        ] {
            assert!(
                matches!(
                    k.describe_key(r),
                    Err(Error::Kms(KmsError::NotFound { .. }))
                ),
                "{r} from {:?}",
                k.region()
            );
        }
        let names = |k: &Kms| -> Vec<String> {
            k.list_aliases(None)
                .unwrap()
                .into_iter()
                .map(|e| e.alias_name)
                .collect()
        };
        assert_eq!(names(&us), ["alias/first"]);
        assert_eq!(names(&eu), ["alias/second"]);
        // Rewritten to the ARN form by the commits since.
        let s = state();
        assert!(s.contains("\"arn:aws:kms:us-east-1:000000000000:alias/first\":"));
        assert!(s.contains("\"arn:aws:kms:eu-west-1:000000000000:alias/second\":"));
        assert!(!s.contains("\"alias/first\":") && !s.contains("\"alias/second\":"));
        // The name is free in the other region now.
        eu.create_alias("alias/first", b.as_str()).unwrap();
        assert_eq!(eu.describe_key("alias/first").unwrap().key_id, b);
        assert_eq!(us.describe_key("alias/first").unwrap().key_id, a);
        // And the audit filter names an alias in the handle's region.
        let f = |alias: &str| AuditFilter {
            key_id: Some(alias.into()),
            operation: Some("DescribeKey".into()),
            since: None,
        };
        let ids = |k: &Kms, alias: &str| -> Vec<String> {
            k.audit_entries(&f(alias))
                .unwrap()
                .iter()
                .map(|e| e["key_id"].as_str().unwrap_or_default().to_owned())
                .collect()
        };
        assert!(ids(&us, "alias/first").iter().all(|x| x == a.as_str()));
        assert!(ids(&eu, "alias/first").iter().all(|x| x == b.as_str()));
        assert!(!ids(&eu, "alias/first").is_empty());
    }

    /// The at-rest check: no master key's bytes (raw, hex or base64) appear in any store file.
    #[test]
    fn master_key_bytes_never_appear_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let (k, sym) = store_with_symmetric_key(dir.path());
        k.rotate_key_on_demand(&sym).unwrap();
        let rsa_id = k
            .create_key("", KeySpec::Rsa2048)
            .unwrap()
            .key_id
            .to_string();
        let secrets: Vec<SecretVec> = k
            .run("Test", json!({}), |s| {
                let i = s.resolve(&sym)?;
                let r = s.resolve(&rsa_id)?;
                Ok(vec![
                    s.material_secret(i, 1)?,
                    s.material_secret(i, 2)?,
                    s.material_secret(r, 1)?,
                ])
            })
            .unwrap();
        let mut files = Vec::new();
        for e in std::fs::read_dir(dir.path()).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap() != store::ROOT_KEY_FILE {
                files.extend(std::fs::read(p).unwrap());
            }
        }
        let contains = |n: &[u8]| files.windows(n.len()).any(|w| w == n);
        for s in &secrets {
            let raw = s.expose_secret();
            // For the RSA key, look for a 32-byte slice of its PEM body and of the raw key.
            let probe = if raw.len() > 64 {
                &raw[raw.len() / 2..raw.len() / 2 + 32]
            } else {
                raw
            };
            assert!(!contains(probe), "raw key bytes in the store");
            assert!(
                !contains(key::hex(probe).as_bytes()),
                "hex key bytes in the store"
            );
            assert!(
                !contains(Base64::encode_string(&raw[..30]).as_bytes()),
                "base64 key bytes in the store"
            );
        }
    }
}
