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
/// Name of the Argon2id parameters of a passphrase-protected store.
pub const ROOT_PARAMS_FILE: &str = "root.params.json";
/// Argon2id memory cost in KiB (RFC 9106 §4, second recommended option: 64 MiB).
pub const ARGON2_M_KIB: u32 = 64 * 1024;
/// Argon2id passes (RFC 9106 §4, second recommended option).
pub const ARGON2_T: u32 = 3;
/// Argon2id lanes (RFC 9106 §4).
pub const ARGON2_P: u32 = 4;
const CHECK_LABEL: &[u8] = b"angou.dev/v1/kms root check";

/// How a passphrase-protected store derives its root key (no secret in it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RootParams {
    pub kdf: String,
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
    /// base64 of 16 random bytes.
    pub salt: String,
    /// hex HMAC-SHA-256(root key, label): tells a wrong passphrase from a corrupt store.
    pub check: String,
}

fn argon2_root(
    passphrase: &crate::secret::SecretVec,
    p: &RootParams,
) -> Result<SecretArray<32>, Error> {
    use base64ct::Encoding;
    let salt = base64ct::Base64::decode_vec(&p.salt)
        .map_err(|e| store_err("corrupt root parameters", e))?;
    let params = argon2::Params::new(p.m_cost_kib, p.t_cost, p.p_cost, Some(32))
        .map_err(|e| store_err("invalid Argon2id parameters", e))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut root = SecretArray::<32>::zeroed();
    a.hash_password_into(passphrase.expose_secret(), &salt, root.expose_secret_mut())
        .map_err(|e| store_err("Argon2id failed", e))?;
    Ok(root)
}

fn check_tag(root: &SecretArray<32>) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut m = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(root.expose_secret())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(CHECK_LABEL);
    crate::kms::key::hex(&m.finalize().into_bytes())
}

/// Makes a new store passphrase-protected: writes Argon2id parameters, no root key file.
pub(crate) fn init_passphrase(
    paths: &Paths,
    passphrase: &crate::secret::SecretVec,
) -> Result<(), Error> {
    use base64ct::Encoding;
    for f in [STATE_FILE, ROOT_KEY_FILE, ROOT_PARAMS_FILE] {
        if paths.file(f).exists() {
            return Err(KmsError::AlreadyExists {
                what: format!("a key store in {}", paths.home.display()),
            }
            .into());
        }
    }
    let salt: [u8; 16] = crate::secret::random_array()?;
    let mut p = RootParams {
        kdf: "argon2id".into(),
        m_cost_kib: ARGON2_M_KIB,
        t_cost: ARGON2_T,
        p_cost: ARGON2_P,
        salt: base64ct::Base64::encode_string(&salt),
        check: String::new(),
    };
    p.check = check_tag(&argon2_root(passphrase, &p)?);
    let bytes =
        serde_json::to_vec_pretty(&p).map_err(|e| store_err("cannot encode root parameters", e))?;
    atomic_write(&paths.home, &paths.file(ROOT_PARAMS_FILE), &bytes)
}

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

/// Reads the root key, creating it (32 random bytes, mode 0600) on first use; for a
/// passphrase-protected store, derives it with Argon2id and checks it.
pub(crate) fn root_key(
    paths: &Paths,
    passphrase: Option<&crate::secret::SecretVec>,
) -> Result<SecretArray<32>, Error> {
    let params_path = paths.file(ROOT_PARAMS_FILE);
    if params_path.exists() {
        let bytes =
            fs::read(&params_path).map_err(|e| store_err("cannot read root parameters", e))?;
        let p: RootParams =
            serde_json::from_slice(&bytes).map_err(|e| store_err("corrupt root parameters", e))?;
        let pass = passphrase.ok_or_else(|| KmsError::Store {
            reason: "this key store is protected by a passphrase; set ANGOU_KMS_PASSPHRASE or run on a terminal".into(),
        })?;
        let root = argon2_root(pass, &p)?;
        if check_tag(&root) != p.check {
            return Err(KmsError::Store {
                reason: "wrong passphrase for this key store".into(),
            }
            .into());
        }
        return Ok(root);
    }
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
