//! The on-disk key store: one JSON state file, a root key, an append-only audit log, and a
//! lock file. Every change happens under an exclusive `flock` on `store.lock`, and the state
//! file is replaced atomically (temp file, fsync, rename, folder fsync), so a process killed
//! at any point leaves the old state or the new one. The state file also seals the audit
//! head, which makes it the single commit point of an operation.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, KmsError};
use crate::kms::key::KeyMetadata;
use crate::secret::SecretArray;

/// Name of the state file inside the store folder.
pub const STATE_FILE: &str = "store.json";
/// Name of the root key file (mode 0600) inside the store folder.
pub const ROOT_KEY_FILE: &str = "root.key";
/// Name of the audit log inside the store folder.
pub const AUDIT_FILE: &str = "audit.log";
/// Name of the lock file inside the store folder.
pub const LOCK_FILE: &str = "store.lock";
/// The state file's format tag.
pub const STATE_FORMAT: &str = "angou-kms-store-v1";

pub(crate) fn store_err(what: &str, e: impl std::fmt::Display) -> Error {
    KmsError::Store {
        reason: format!("{what}: {e}"),
    }
    .into()
}

/// One key material (version) of a key, encrypted under the root key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredMaterial {
    pub id: u32,
    pub created: String,
    /// `INITIAL`, `AUTOMATIC` or `ON_DEMAND`.
    pub kind: String,
    /// base64 of the XChaCha20-Poly1305-sealed material (docs/FORMAT.md §5.3).
    pub wrapped: String,
}

/// Automatic rotation settings of a symmetric key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Rotation {
    pub period_days: u32,
    /// When the next automatic rotation is due (RFC 3339).
    pub next: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredKey {
    pub metadata: KeyMetadata,
    pub materials: Vec<StoredMaterial>,
    pub rotation: Option<Rotation>,
    pub on_demand_rotations: u32,
}

/// The sealed head of the audit chain.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct AuditHead {
    pub count: u64,
    pub len: u64,
    /// Hex SHA-256 of the last line's chain hash (64 zeros when empty).
    pub hash: String,
    /// Hex HMAC-SHA-256 over (count, len, hash) under the audit key.
    pub mac: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    pub format: String,
    pub keys: Vec<StoredKey>,
    /// alias name → key id.
    pub aliases: std::collections::BTreeMap<String, String>,
    pub audit: AuditHead,
}

impl Default for State {
    fn default() -> Self {
        State {
            format: STATE_FORMAT.into(),
            keys: Vec::new(),
            aliases: Default::default(),
            audit: AuditHead::default(),
        }
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

/// Creates the store folder (mode 0700) if needed and takes the exclusive lock.
pub(crate) fn lock(paths: &Paths) -> Result<Lock, Error> {
    if !paths.home.exists() {
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
    Ok(Lock { file })
}

/// Writes `bytes` to `path` atomically with mode 0600.
pub(crate) fn atomic_write(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".angou-store-")
        .tempfile_in(dir)
        .map_err(|e| store_err("cannot create a temporary file in the key store", e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| store_err("cannot write the key store", e))?;
    tmp.persist(path)
        .map_err(|e| store_err("cannot replace the key store file", e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| store_err("cannot sync the key store folder", e))?;
    Ok(())
}

/// Reads the root key, creating it (32 random bytes, mode 0600) on first use.
pub(crate) fn root_key(paths: &Paths) -> Result<SecretArray<32>, Error> {
    let path = paths.file(ROOT_KEY_FILE);
    match fs::read(&path) {
        Ok(bytes) => {
            let bytes = zeroize::Zeroizing::new(bytes);
            SecretArray::from_slice(&bytes).map_err(|_| {
                KmsError::Store {
                    reason: format!("{} is not a 32-byte root key", path.display()),
                }
                .into()
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if paths.file(STATE_FILE).exists() {
                return Err(KmsError::Store {
                    reason: format!(
                        "the root key {} is missing but keys exist; restore it from your backup",
                        path.display()
                    ),
                }
                .into());
            }
            let key = SecretArray::<32>::generate()?;
            atomic_write(&paths.home, &path, key.expose_secret())?;
            Ok(key)
        }
        Err(e) => Err(store_err("cannot read the root key", e)),
    }
}

pub(crate) fn load_state(paths: &Paths) -> Result<State, Error> {
    let path = paths.file(STATE_FILE);
    match fs::read(&path) {
        Ok(bytes) => {
            let state: State = serde_json::from_slice(&bytes)
                .map_err(|e| store_err("the key store file is corrupt", e))?;
            if state.format != STATE_FORMAT {
                return Err(KmsError::Store {
                    reason: format!("unknown key store format {:?}", state.format),
                }
                .into());
            }
            Ok(state)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(store_err("cannot read the key store", e)),
    }
}

pub(crate) fn save_state(paths: &Paths, state: &State) -> Result<(), Error> {
    let bytes = serde_json::to_vec_pretty(state)
        .map_err(|e| store_err("cannot encode the key store", e))?;
    atomic_write(&paths.home, &paths.file(STATE_FILE), &bytes)
}
