//! The on-disk key store (docs/FORMAT.md §5.3): a state file sealed by an HMAC under a key
//! derived from the root key, a root key (or the Argon2id parameters that derive it), an
//! append-only audit log whose head the sealed state names, a commit intent written before the
//! log grows, and a lock file. Every operation, reads included, holds an exclusive `flock` on
//! `store.lock` and checks all of it before acting (see `integrity.rs`).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Error, KmsError};
use crate::kms::key::{KeyMetadata, hex};
use crate::secret::SecretArray;

pub(crate) use super::root::{RootKeys, create_root, derive, read_root, read_root_source};
pub(crate) use super::sealed::{
    load_pending, load_state, load_state_bytes, load_state_unchecked, remove_pending, save_pending,
    save_state,
};

/// The sealed state.
pub(crate) const STATE_FILE: &str = "store.json";
/// The commit intent: the next state and the audit lines it adds, sealed, written before the
/// log grows and removed after `store.json` is replaced.
pub(crate) const PENDING_FILE: &str = "store.next";
/// The root key (32 bytes, mode 0600) of a store that is not passphrase-protected.
pub(crate) const ROOT_KEY_FILE: &str = "root.key";
/// The audit log.
pub(crate) const AUDIT_FILE: &str = "audit.log";
/// The Argon2id parameters of a passphrase-protected store.
pub(crate) const ROOT_PARAMS_FILE: &str = "root.params.json";
/// The write-ahead log of a long-running server: sealed commits not yet applied to
/// `store.json` and `audit.log` (wal.rs).
pub(crate) const WAL_FILE: &str = "store.wal";
/// The lock file.
pub(crate) const LOCK_FILE: &str = "store.lock";
/// Prefix of the temporary files of atomic writes (removed under the lock when stale).
pub(crate) const TEMP_PREFIX: &str = ".angou-store-";
/// The state file's format tag.
pub(crate) const STATE_FORMAT: &str = "angou-kms-store-v2";

pub(crate) fn store_err(what: &str, e: impl std::fmt::Display) -> Error {
    KmsError::Store {
        reason: format!("{what}: {e}"),
    }
    .into()
}

pub(crate) fn tampered(reason: impl Into<String>) -> Error {
    KmsError::StateTampered {
        reason: reason.into(),
    }
    .into()
}

pub(crate) fn hmac_parts(key: &SecretArray<32>, parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Compares two byte strings in constant time (for equal lengths).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    a.len() == b.len() && std::hint::black_box(diff) == 0
}

/// One key material (version) of a key, encrypted under the root key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredMaterial {
    pub id: u32,
    pub created: String,
    /// `INITIAL`, `AUTOMATIC` or `ON_DEMAND`.
    pub kind: String,
    /// base64 of the XChaCha20-Poly1305-sealed material (docs/FORMAT.md §5.3); empty once
    /// imported material is deleted.
    pub wrapped: String,
    /// For material imported into an `EXTERNAL` key (import.rs; docs/FORMAT.md §5.7). Absent
    /// for generated material, so older stores keep their exact bytes and seal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<super::import::ImportedMaterial>,
    /// AWS's KeyMaterialId, 64 hex digits (material.rs). Absent in materials made before
    /// angou named them so; their KeyMaterialId stays `id` as 8 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

/// Automatic rotation settings of a symmetric key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rotation {
    pub period_days: u32,
    /// When the next automatic rotation is due (RFC 3339).
    pub next: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredKey {
    pub metadata: KeyMetadata,
    pub materials: Vec<StoredMaterial>,
    pub rotation: Option<Rotation>,
    pub on_demand_rotations: u32,
    /// Tag key → tag value (tags.rs). Absent while empty, so older stores keep their bytes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Wrapping keys and a material waiting for rotation of an `EXTERNAL` key (import.rs).
    /// Absent for keys that never asked for import parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<super::import::ImportState>,
}

/// The head of the audit chain, sealed with the rest of the state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditHead {
    /// Lines in the log.
    pub count: u64,
    /// Bytes in the log.
    pub len: u64,
    /// Hex chain hash after the last line (`audit::GENESIS` when empty).
    pub hash: String,
}

/// Everything the store knows, sealed as one value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    /// 16 random bytes, hex: names the store in checkpoints and high-water marks.
    pub store_id: String,
    /// Commits so far; every operation adds one.
    pub generation: u64,
    /// When the store was created (RFC 3339).
    pub created: String,
    /// Whether `ANGOU_FAKE_NOW` / [`crate::kms::Clock::Fixed`] may drive this store.
    pub fake_clock: bool,
    /// HMAC-SHA-256(root key, "angou.dev/v1/kms root check"), hex.
    pub root_check: String,
    pub keys: Vec<StoredKey>,
    /// alias name → key id.
    pub aliases: BTreeMap<String, String>,
    pub audit: AuditHead,
    /// Access keys for `angou kms serve` (access.rs; docs/FORMAT.md §5.3). Absent while there
    /// are none, so stores made before access keys existed keep their exact bytes and seal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_keys: Vec<super::access::StoredAccessKey>,
}

impl State {
    pub(crate) fn genesis(keys: &RootKeys, now: &str, fake_clock: bool) -> Result<State, Error> {
        let id: [u8; 16] = crate::secret::random_array()?;
        Ok(State {
            store_id: hex(&id),
            generation: 0,
            created: now.into(),
            fake_clock,
            root_check: keys.check.clone(),
            keys: Vec::new(),
            aliases: BTreeMap::new(),
            audit: AuditHead {
                count: 0,
                len: 0,
                hash: crate::kms::audit::GENESIS.into(),
            },
            access_keys: Vec::new(),
        })
    }
}

/// The store folder and its files.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub home: PathBuf,
}

impl Paths {
    pub fn file(&self, name: &str) -> PathBuf {
        self.home.join(name)
    }

    pub(crate) fn exists(&self, name: &str) -> bool {
        fs::symlink_metadata(self.file(name)).is_ok()
    }

    /// Whether a store is here. A folder holding some store files but no `store.json` is
    /// an error, never a new store.
    pub fn present(&self) -> Result<bool, Error> {
        if self.exists(STATE_FILE) {
            return Ok(true);
        }
        for f in [
            ROOT_KEY_FILE,
            ROOT_PARAMS_FILE,
            AUDIT_FILE,
            PENDING_FILE,
            WAL_FILE,
        ] {
            if self.exists(f) {
                return Err(tampered(format!(
                    "{} is missing but {f} is there: the key store lost its state (deleted or not restored); restore {STATE_FILE} from a backup of this folder",
                    self.file(STATE_FILE).display()
                )));
            }
        }
        Ok(false)
    }

    /// Whether the store derives its root key from a passphrase.
    pub fn passphrase_protected(&self) -> bool {
        self.exists(ROOT_PARAMS_FILE)
    }
}

/// Holds the exclusive lock until dropped.
pub(crate) struct Lock {
    file: File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Takes the exclusive lock, creating the store folder (mode 0700) only if `create`.
pub(crate) fn lock(paths: &Paths, create: bool) -> Result<Lock, Error> {
    if !paths.home.is_dir() {
        if !create {
            return Err(KmsError::NoStore {
                home: paths.home.display().to_string(),
            }
            .into());
        }
        fs::create_dir_all(&paths.home)
            .map_err(|e| store_err("cannot create the key store folder", e))?;
        fs::set_permissions(&paths.home, fs::Permissions::from_mode(0o700))
            .map_err(|e| store_err("cannot restrict the key store folder", e))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(paths.file(LOCK_FILE))
        .map_err(|e| store_err("cannot open the lock file", e))?;
    file.lock()
        .map_err(|e| store_err("cannot lock the key store", e))?;
    remove_stale_temps(&paths.home);
    Ok(Lock { file })
}

/// Removes temporary files left by writers killed mid-write. Only called under the lock, so
/// no live writer owns one.
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = fs::remove_file(e.path());
        }
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| store_err("cannot sync the key store folder", e))
}

/// Writes `bytes` to `path` atomically with mode 0600 (temp file, fsync, rename, folder fsync).
pub(crate) fn atomic_write(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| store_err("cannot create a temporary file in the key store", e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| store_err("cannot write the key store", e))?;
    tmp.persist(path)
        .map_err(|e| store_err("cannot replace the key store file", e.error))?;
    sync_dir(dir)
}

/// The bytes of `store.json` (for a resident state to compare against; resident.rs).
pub(crate) fn read_state_bytes(paths: &Paths) -> Result<Vec<u8>, Error> {
    fs::read(paths.file(STATE_FILE)).map_err(|e| store_err(&format!("cannot read {STATE_FILE}"), e))
}

/// What `stat` says of a file: enough to notice that anyone wrote to it, renamed another file
/// over it or changed its times (a write changes the status-change time, which only the
/// kernel sets). `None` when the file does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

pub(crate) fn stamp(path: &Path) -> Result<Option<FileStamp>, Error> {
    use std::os::unix::fs::MetadataExt;
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(store_err(&format!("cannot inspect {}", path.display()), e)),
    }
}

impl FileStamp {
    /// The file's length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}

/// The audit log's bytes (empty when the file does not exist).
pub(crate) fn read_log(paths: &Paths) -> Result<Vec<u8>, Error> {
    match fs::read(paths.file(AUDIT_FILE)) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(store_err("cannot read the audit log", e)),
    }
}

/// Appends `bytes` at offset `at` of the log (cutting anything after `at`) and fsyncs.
pub(crate) fn write_log_at(paths: &Paths, at: u64, bytes: &[u8]) -> Result<(), Error> {
    use std::io::{Seek, SeekFrom};
    // The folder needs a sync only when the log is created; growing an existing file is made
    // durable by the file's own sync (its size is file metadata).
    let created = !paths.exists(AUDIT_FILE);
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(paths.file(AUDIT_FILE))
        .map_err(|e| store_err("cannot open the audit log", e))?;
    f.set_len(at)
        .and_then(|()| f.seek(SeekFrom::Start(at)).map(|_| ()))
        .and_then(|()| f.write_all(bytes))
        .and_then(|()| f.sync_all())
        .map_err(|e| store_err("cannot append to the audit log", e))?;
    if created {
        sync_dir(&paths.home)?;
    }
    Ok(())
}
