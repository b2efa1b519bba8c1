//! The root key of a store (docs/FORMAT.md §5.3): 32 random bytes in `root.key`, or derived
//! from a passphrase with Argon2id under parameters in `root.params.json` (bounded before any
//! work), and the subkeys derived from it, each for one purpose.

use std::fs;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::store::{Paths, ROOT_KEY_FILE, ROOT_PARAMS_FILE, atomic_write, ct_eq, store_err};
use crate::aead::Key;
use crate::error::{Error, KmsError};
use crate::kms::key::hex;
use crate::secret::{SecretArray, SecretVec};

/// Argon2id memory cost in KiB written by `init` (RFC 9106 §4, second recommended option).
const ARGON2_M_KIB: u32 = 64 * 1024;
/// Argon2id passes written by `init`.
const ARGON2_T: u32 = 3;
/// Argon2id lanes written by `init`.
const ARGON2_P: u32 = 4;
/// Bounds on Argon2id parameters read from disk, so a crafted `root.params.json` cannot
/// demand unbounded memory or time (as scrypt's work factor is bounded for files).
pub(crate) const ARGON2_M_KIB_MAX: u32 = 1024 * 1024;
pub(crate) const ARGON2_M_KIB_MIN: u32 = 8 * 1024;
pub(crate) const ARGON2_T_MAX: u32 = 16;
pub(crate) const ARGON2_P_MAX: u32 = 16;
const SALT_LEN: usize = 16;

const CHECK_LABEL: &[u8] = b"angou.dev/v1/kms root check";

/// HKDF-SHA-256 of the root key under `label` (no salt).
pub(crate) fn derive(root: &SecretArray<32>, label: &[u8]) -> SecretArray<32> {
    let mut out = SecretArray::<32>::zeroed();
    // 32 bytes never exceeds HKDF-SHA-256's output limit.
    let _ = hkdf::Hkdf::<Sha256>::new(None, root.expose_secret())
        .expand(label, out.expose_secret_mut());
    out
}

/// The subkeys of a root key, each for one purpose.
pub(crate) struct RootKeys {
    /// Wraps key material (XChaCha20-Poly1305).
    pub kek: Key,
    /// Seals the state and the commit intent (HMAC-SHA-256).
    pub state: SecretArray<32>,
    /// Seals checkpoints (HMAC-SHA-256).
    pub checkpoint: SecretArray<32>,
    /// HMAC(root, check label), hex: tells a wrong root key from a modified state.
    pub check: String,
}

impl RootKeys {
    fn new(root: &SecretArray<32>) -> RootKeys {
        RootKeys {
            kek: Key::from_secret(derive(root, b"angou.dev/v1/kms material kek")),
            state: derive(root, b"angou.dev/v2/kms state mac"),
            checkpoint: derive(root, b"angou.dev/v2/kms checkpoint"),
            check: check_tag(root),
        }
    }
}

fn check_tag(root: &SecretArray<32>) -> String {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(root.expose_secret())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(CHECK_LABEL);
    hex(&m.finalize().into_bytes())
}

/// How a passphrase-protected store derives its root key (no secret in it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

impl RootParams {
    /// Refuses parameters outside the documented bounds before any work is done.
    fn checked(&self) -> Result<Vec<u8>, Error> {
        use base64ct::Encoding;
        let bad = |what: String| -> Error {
            KmsError::Store {
                reason: format!("{ROOT_PARAMS_FILE}: {what}"),
            }
            .into()
        };
        if self.kdf != "argon2id" {
            return Err(bad(format!(
                "unknown key derivation {:?} (only \"argon2id\")",
                self.kdf
            )));
        }
        if !(1..=ARGON2_P_MAX).contains(&self.p_cost) {
            return Err(bad(format!(
                "Argon2id lanes {} outside 1..={ARGON2_P_MAX}",
                self.p_cost
            )));
        }
        if !(1..=ARGON2_T_MAX).contains(&self.t_cost) {
            return Err(bad(format!(
                "Argon2id passes {} outside 1..={ARGON2_T_MAX}",
                self.t_cost
            )));
        }
        if !(ARGON2_M_KIB_MIN..=ARGON2_M_KIB_MAX).contains(&self.m_cost_kib) {
            return Err(bad(format!(
                "Argon2id memory {} KiB outside {ARGON2_M_KIB_MIN}..={ARGON2_M_KIB_MAX} KiB",
                self.m_cost_kib
            )));
        }
        let salt = base64ct::Base64::decode_vec(&self.salt)
            .map_err(|_| bad("the salt is not base64".into()))?;
        if salt.len() != SALT_LEN {
            return Err(bad(format!(
                "the salt is {} bytes, expected {SALT_LEN}",
                salt.len()
            )));
        }
        Ok(salt)
    }

    fn derive(&self, passphrase: &SecretVec) -> Result<SecretArray<32>, Error> {
        let salt = self.checked()?;
        let params = argon2::Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))
            .map_err(|e| store_err("invalid Argon2id parameters", e))?;
        let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut root = SecretArray::<32>::zeroed();
        a.hash_password_into(passphrase.expose_secret(), &salt, root.expose_secret_mut())
            .map_err(|e| store_err("Argon2id failed", e))?;
        Ok(root)
    }
}

/// Writes a new root key (file store) or Argon2id parameters (passphrase store) and returns
/// the root's subkeys. Refuses if either already exists.
pub(crate) fn create_root(
    paths: &Paths,
    passphrase: Option<&SecretVec>,
) -> Result<RootKeys, Error> {
    use base64ct::Encoding;
    for f in [ROOT_KEY_FILE, ROOT_PARAMS_FILE] {
        if paths.exists(f) {
            return Err(KmsError::AlreadyExists {
                what: format!("a key store in {}", paths.home.display()),
            }
            .into());
        }
    }
    let root = match passphrase {
        Some(pass) => {
            let salt: [u8; SALT_LEN] = crate::secret::random_array()?;
            let mut p = RootParams {
                kdf: "argon2id".into(),
                m_cost_kib: ARGON2_M_KIB,
                t_cost: ARGON2_T,
                p_cost: ARGON2_P,
                salt: base64ct::Base64::encode_string(&salt),
                check: String::new(),
            };
            let root = p.derive(pass)?;
            p.check = check_tag(&root);
            let bytes = serde_json::to_vec_pretty(&p)
                .map_err(|e| store_err("cannot encode root parameters", e))?;
            atomic_write(&paths.home, &paths.file(ROOT_PARAMS_FILE), &bytes)?;
            root
        }
        None => {
            let key = SecretArray::<32>::generate()?;
            atomic_write(&paths.home, &paths.file(ROOT_KEY_FILE), key.expose_secret())?;
            key
        }
    };
    Ok(RootKeys::new(&root))
}

/// Reads the root key of an existing store and returns its subkeys. A passphrase store's
/// parameters are bounded before Argon2id runs, and the passphrase is checked.
pub(crate) fn read_root(paths: &Paths, passphrase: Option<&SecretVec>) -> Result<RootKeys, Error> {
    if paths.passphrase_protected() {
        let bytes = fs::read(paths.file(ROOT_PARAMS_FILE))
            .map_err(|e| store_err("cannot read root parameters", e))?;
        let p: RootParams = serde_json::from_slice(&bytes)
            .map_err(|e| store_err(&format!("{ROOT_PARAMS_FILE} is corrupt"), e))?;
        p.checked()?;
        let pass = passphrase.ok_or_else(|| KmsError::Store {
            reason: "this key store is protected by a passphrase and none was given".into(),
        })?;
        let root = p.derive(pass)?;
        if !ct_eq(check_tag(&root).as_bytes(), p.check.as_bytes()) {
            return Err(KmsError::WrongRootKey {
                detail: "wrong passphrase for this key store".into(),
            }
            .into());
        }
        return Ok(RootKeys::new(&root));
    }
    let path = paths.file(ROOT_KEY_FILE);
    match fs::read(&path) {
        Ok(bytes) => {
            let bytes = zeroize::Zeroizing::new(bytes);
            let root = SecretArray::<32>::from_slice(&bytes).map_err(|_| KmsError::Store {
                reason: format!("{} is not a 32-byte root key", path.display()),
            })?;
            Ok(RootKeys::new(&root))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(KmsError::Store {
            reason: format!(
                "the root key {} is missing but keys exist; restore it from your backup",
                path.display()
            ),
        }
        .into()),
        Err(e) => Err(store_err("cannot read the root key", e)),
    }
}

/// The bytes the root key comes from: `root.key`, or `root.params.json` of a passphrase store
/// (a resident state re-derives nothing while these bytes stay the same; resident.rs).
pub(crate) fn read_root_source(paths: &Paths) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    let name = if paths.passphrase_protected() {
        ROOT_PARAMS_FILE
    } else {
        ROOT_KEY_FILE
    };
    fs::read(paths.file(name))
        .map(zeroize::Zeroizing::new)
        .map_err(|e| store_err(&format!("cannot read {name}"), e))
}
