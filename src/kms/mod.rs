//! A local twin of a cloud KMS: master keys that never leave the store, data keys for
//! envelope encryption, encryption context, aliases, enable/disable, rotation that keeps old
//! material decrypting, scheduled deletion, and a tamper-evident audit trail.
//!
//! Operation names mirror the cloud's verbs (`create_key`, `generate_data_key`,
//! `re_encrypt`, …). Every operation, successful or not, appends an audit entry.
//!
//! Envelope encryption: the KMS makes a data key and returns it twice, in the clear (use it,
//! then drop it) and wrapped under the master key (store it beside the data). Only the KMS
//! can unwrap it, and only with the same encryption context:
//!
//! ```
//! use angou::aead::{self, Algorithm, Key};
//! use angou::kms::{Clock, DataKeySize, EncryptionContext, KeySpec, Kms};
//! use angou::secret::SecretArray;
//!
//! // A store in a fresh temporary folder, removed at the end.
//! let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
//! let home = std::env::temp_dir().join(format!("angou-kms-doc-{}-{nanos}", std::process::id()));
//! let kms = Kms::open(&home, Clock::System);
//!
//! let key = kms.create_key("reports", KeySpec::SymmetricDefault)?;
//! let mut ctx = EncryptionContext::new();
//! ctx.insert("team", "finance");
//! let dk = kms.generate_data_key(key.key_id.as_str(), DataKeySize::Aes256, &ctx)?;
//!
//! // Encrypt locally with the plaintext data key; keep only `dk.ciphertext_blob`.
//! let data_key = Key::from_secret(SecretArray::from_slice(dk.plaintext.expose_secret())?);
//! let sealed = aead::seal(Algorithm::Aes256Gcm, &data_key, b"", b"q3 figures")?;
//!
//! // Later: the KMS unwraps the stored data key, under the same context only.
//! let again = kms.decrypt(&dk.ciphertext_blob, &ctx, None)?;
//! let data_key = Key::from_secret(SecretArray::from_slice(again.plaintext.expose_secret())?);
//! let opened = aead::open(Algorithm::Aes256Gcm, &data_key, b"", &sealed)?;
//! assert_eq!(opened.expose_secret(), b"q3 figures");
//! assert!(kms.decrypt(&dk.ciphertext_blob, &EncryptionContext::new(), None).is_err());
//!
//! std::fs::remove_dir_all(&home)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// access keys and request signatures (issue 11, `kms serve` authentication)
mod access;
pub mod audit;
pub mod blob;
pub mod clock;
pub mod context;
pub mod http;
// bring your own key material (Origin EXTERNAL): import.rs
mod import;
mod integrity;
pub mod key;
pub mod ops;
mod resident;
// data key pairs (GenerateDataKeyPair): pair.rs
mod pair;
mod store;
// tags and descriptions (TagResource, UpdateKeyDescription): tags.rs
mod tags;

use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

pub use access::{AccessKey, AccessKeyInfo};
pub use clock::Clock;
pub use context::EncryptionContext;
pub use import::{
    ExpirationModel, IMPORT_PARAMETERS_HOURS, IMPORT_TOKEN_LEN, ImportParameters, ImportRequest,
    ImportType, WrappingAlgorithm,
};
pub use integrity::Checkpoint;
pub use key::{
    Alias, EncryptionAlgorithm, Home, KeyId, KeyManager, KeyMetadata, KeySpec, KeyState,
};
pub use pair::{DataKeyPair, DataKeyPairSpec};
pub use tags::{CreateKeyOptions, MAX_TAGS, Tag};

use crate::aead::{Algorithm, Cipher, Key};
use crate::error::{Error, KmsError};
use crate::pk::rsa;
use crate::recipient::{Identity, Recipient, Stanza};
use crate::secret::{FileKey, SecretArray, SecretVec};
use blob::BlobHeader;
use store::{Paths, Rotation, State, StoredKey, StoredMaterial};

/// Environment variable naming the store folder.
pub const HOME_VAR: &str = "ANGOU_HOME";
/// Most bytes `encrypt` takes.
pub const MAX_ENCRYPT_LEN: usize = 4096;
/// Most on-demand rotations per key.
pub const MAX_ON_DEMAND_ROTATIONS: u32 = 25;
/// Allowed deletion windows, in days.
pub const PENDING_WINDOW_DAYS: std::ops::RangeInclusive<u32> = 7..=30;
/// Allowed rotation periods, in days.
pub const ROTATION_PERIOD_DAYS: std::ops::RangeInclusive<u32> = 90..=2560;
/// Stanza type of a file key wrapped through the local KMS.
pub use crate::recipient::KMS_STANZA;
const MATERIAL_LABEL: &[u8] = b"angou.dev/v1/kms material\0";

/// The default store folder: `$ANGOU_HOME`, else `$XDG_DATA_HOME/angou`, else `~/.local/share/angou`.
pub fn default_home() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os(HOME_VAR) {
        return Some(PathBuf::from(h));
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("angou"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/angou"))
}

/// Environment variable naming the folder of high-water marks (see
/// [`Kms::with_high_water_marks`]).
pub const STATE_DIR_VAR: &str = "ANGOU_STATE_DIR";

/// The default folder of high-water marks: `$ANGOU_STATE_DIR`, else `$XDG_STATE_HOME/angou`,
/// else `~/.local/state/angou`.
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os(STATE_DIR_VAR).filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(h));
    }
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("angou"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/angou"))
}

/// How [`Kms::init`] makes a store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InitOptions {
    /// Let a fixed clock ([`Clock::Fixed`], `ANGOU_FAKE_NOW`) drive this store, for tests and
    /// tours that cross deletion windows and rotation periods. Stores made without it refuse
    /// a fixed clock, so time travel can never purge or rotate real keys.
    pub fake_clock: bool,
}

/// What [`Kms::audit_repair`] found and accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    /// One sentence per problem accepted or discarded; empty when the store was whole.
    pub findings: Vec<String>,
    /// Audit entries after the repair.
    pub entries: u64,
}

/// Size of a generated data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKeySize {
    /// 32 bytes.
    Aes256,
    /// 16 bytes.
    Aes128,
    /// 1 to 1024 bytes.
    Bytes(usize),
}

/// Result of `encrypt`, `generate_data_key_without_plaintext` and `re_encrypt`.
#[derive(Debug, Clone)]
pub struct Encrypted {
    /// The ciphertext (a blob for symmetric keys, raw RSA-OAEP for RSA keys).
    pub ciphertext_blob: Vec<u8>,
    /// ARN of the key used.
    pub key_id: String,
    /// The key material used (symmetric keys).
    pub key_material_id: Option<String>,
    /// `SYMMETRIC_DEFAULT` or `RSAES_OAEP_SHA_256`.
    pub encryption_algorithm: String,
    /// For `re_encrypt`: ARN of the source key.
    pub source_key_id: Option<String>,
}

/// Result of `decrypt` and `generate_data_key`.
#[derive(Debug)]
pub struct Decrypted {
    /// The plaintext (or new data key).
    pub plaintext: SecretVec,
    /// For `generate_data_key`: the data key encrypted under the master key.
    pub ciphertext_blob: Vec<u8>,
    /// ARN of the key.
    pub key_id: String,
    /// The key material that was used.
    pub key_material_id: Option<String>,
    /// The algorithm.
    pub encryption_algorithm: String,
}

/// One alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasEntry {
    /// `alias/…`.
    pub alias_name: String,
    /// ARN of the alias.
    pub alias_arn: String,
    /// The key it points at.
    pub target_key_id: String,
}

/// Rotation settings of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationStatus {
    /// Whether automatic rotation is on.
    pub key_rotation_enabled: bool,
    /// The period, when on.
    pub rotation_period_in_days: Option<u32>,
    /// When the next automatic rotation is due, when on.
    pub next_rotation_date: Option<String>,
    /// The key id.
    pub key_id: String,
}

/// One key material of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotation {
    /// The key id.
    pub key_id: String,
    /// The material id.
    pub key_material_id: String,
    /// When it was made.
    pub rotation_date: String,
    /// `INITIAL`, `AUTOMATIC` or `ON_DEMAND`.
    pub rotation_type: String,
}

/// Filters for [`Kms::audit_entries`].
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries about this key (id or ARN or alias, resolved at query time).
    pub key_id: Option<String>,
    /// Only this operation (e.g. `Encrypt`).
    pub operation: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<OffsetDateTime>,
}

/// A key spec's AWS name.
fn wire_spec(spec: KeySpec) -> String {
    serde_json::to_value(spec)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn material_name(id: u32) -> String {
    format!("{id:08x}")
}

fn validation(reason: impl Into<String>) -> Error {
    KmsError::Validation {
        reason: reason.into(),
    }
    .into()
}

#[derive(Default)]
struct AuditInfo {
    key_id: Option<String>,
    material: Option<u32>,
    context: Option<EncryptionContext>,
    /// Parameters learned while the operation ran, added to the entry's `parameters` (the
    /// user of a deleted access key; access.rs).
    extra: Map<String, Value>,
}

struct Session<'a> {
    /// The region and account of the caller: keys elsewhere are not found.
    home: &'a Home,
    /// Whether resolving `alias/angou/default` may create that key (only operations that
    /// encrypt; a read such as `decrypt` must never write a key because a file named one).
    create_default: bool,
    state: &'a mut State,
    kek: &'a Key,
    now: OffsetDateTime,
    info: AuditInfo,
}

/// A store opened and checked for one operation, with the lock held until dropped.
struct Checked {
    _lock: store::Lock,
    opened: integrity::Opened,
    /// Audit entries of a store created for this operation.
    created: Vec<Map<String, Value>>,
}

/// Who is calling (recorded in every audit entry).
#[derive(Debug, Clone)]
struct Caller {
    user: String,
    uid: Option<u32>,
    pid: u32,
    /// Set by a door that serves remote callers: who they are and where they called from.
    remote: Option<Remote>,
}

/// A remote caller, as a door that serves them knows it.
#[derive(Debug, Clone)]
struct Remote {
    /// An access key id, `unsigned` or `unauthenticated`.
    principal: String,
    /// The network address.
    source: Option<String>,
    /// The access key the request names (claimed, for a refused request), and its user.
    access_key: Option<(String, Option<String>)>,
}

impl Caller {
    fn current() -> Caller {
        let uid = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|u| u.parse().ok())
            });
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| {
                uid.map(|u| format!("uid {u}"))
                    .unwrap_or_else(|| "unknown".into())
            });
        Caller {
            user,
            uid,
            pid: std::process::id(),
            remote: None,
        }
    }
}

/// A handle on a local key store. Cheap to create; every operation locks, reads, changes and
/// atomically rewrites the store, so many processes can share one store.
///
/// ```
/// use angou::kms::{Clock, KeySpec, Kms};
///
/// let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
/// let home = std::env::temp_dir().join(format!("angou-kms-type-doc-{}-{nanos}", std::process::id()));
/// let kms = Kms::open(&home, Clock::System);           // creates the store on first use
/// let key = kms.create_key("notes", KeySpec::SymmetricDefault)?;
/// let sealed = kms.encrypt(key.key_id.as_str(), b"a small secret", &Default::default())?;
/// kms.rotate_key_on_demand(key.key_id.as_str())?;      // new material; old blobs still open
/// let opened = kms.decrypt(&sealed.ciphertext_blob, &Default::default(), None)?;
/// assert_eq!(opened.plaintext.expose_secret(), b"a small secret");
/// std::fs::remove_dir_all(&home)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Kms {
    paths: Paths,
    clock: Clock,
    caller: Caller,
    passphrase: Option<SecretVec>,
    marks: Option<PathBuf>,
    home_region: Home,
    /// Set by [`Kms::with_resident_state`]; shared by clones.
    resident: Option<std::sync::Arc<resident::Resident>>,
}

impl Kms {
    /// A handle on the store in `home`. Nothing is read or created until an operation runs;
    /// `create_key`, `generate_data_key*` and `encrypt` create the store (folder mode 0700)
    /// when the folder holds none, every other operation refuses with
    /// [`KmsError::NoStore`].
    pub fn open(home: impl AsRef<Path>, clock: Clock) -> Kms {
        Kms {
            paths: Paths {
                home: home.as_ref().to_path_buf(),
            },
            clock,
            caller: Caller::current(),
            passphrase: None,
            marks: None,
            home_region: Home::default(),
            resident: None,
        }
    }

    /// Keeps the store open between operations, for a long-running door (`angou kms serve`):
    /// the verified state and the root key's subkeys stay in memory, shared by this handle's
    /// clones, and concurrent operations are committed together (one intent, one log append,
    /// one state replacement), each answered only once its batch is durable.
    ///
    /// # Security
    /// Each operation still takes the store lock and sees every other process's commit, but
    /// it re-verifies the seal and the whole audit chain only when a store file differs from
    /// what this process last verified or wrote (same bytes of `store.json` and the root key
    /// file, no `store.next`, same `stat` of `audit.log`). docs/DESIGN.md §5 says what that
    /// leaves to the next full check.
    pub fn with_resident_state(mut self) -> Kms {
        self.resident = Some(std::sync::Arc::default());
        self
    }

    /// The region and account this handle works in (default `us-east-1`, `000000000000`):
    /// keys it creates belong there, and keys of another region or account are not found.
    pub fn with_region(mut self, home: Home) -> Kms {
        self.home_region = home;
        self
    }

    /// The region and account this handle works in.
    pub fn region(&self) -> &Home {
        &self.home_region
    }

    /// Records `principal` (an access key, `unsigned`, …) and the caller's network address in
    /// the audit entries of this handle's operations, instead of the local user. For doors
    /// that serve remote callers (`angou kms serve`).
    pub fn with_caller(mut self, principal: impl Into<String>, source: Option<String>) -> Kms {
        self.caller.remote = Some(Remote {
            principal: principal.into(),
            source,
            access_key: None,
        });
        self
    }

    /// Records the access key a remote request was signed with (or claims, when refused) and
    /// its user, beside the principal of [`Kms::with_caller`] (which it needs first).
    pub fn with_access_key(
        mut self,
        access_key_id: impl Into<String>,
        user: Option<String>,
    ) -> Kms {
        if let Some(r) = &mut self.caller.remote {
            r.access_key = Some((access_key_id.into(), user));
        }
        self
    }

    /// The ARN of a key id in this handle's region and account.
    pub fn key_arn(&self, id: &KeyId) -> String {
        id.arn(&self.home_region)
    }

    /// Supplies the passphrase of a passphrase-protected store (see [`Kms::init`]).
    pub fn with_passphrase(mut self, passphrase: SecretVec) -> Kms {
        self.passphrase = Some(passphrase);
        // Subkeys derived under another passphrase must not be reused.
        if self.resident.is_some() {
            self.resident = Some(std::sync::Arc::default());
        }
        self
    }

    /// Keeps a high-water mark of this store (its newest commit and audit head) in `dir`,
    /// outside the store folder, and refuses a store older than, or forked from, the mark
    /// with [`KmsError::RolledBack`]. The CLI uses [`default_state_dir`].
    ///
    /// # Security
    /// This catches a store folder replaced by an older copy on the same machine; it cannot
    /// catch someone who also rolls back or deletes `dir`. A checkpoint kept elsewhere
    /// ([`Kms::audit_checkpoint`]) can.
    pub fn with_high_water_marks(mut self, dir: impl AsRef<Path>) -> Kms {
        self.marks = Some(dir.as_ref().to_path_buf());
        if self.resident.is_some() {
            self.resident = Some(std::sync::Arc::default());
        }
        self
    }

    /// Makes a new, empty store: a 0600 root key file, or, when a passphrase was given with
    /// [`Kms::with_passphrase`], a root key derived with Argon2id (RFC 9106 §4 second
    /// recommended option: 64 MiB, 3 passes, 4 lanes) that never touches the disk.
    ///
    /// # Errors
    /// [`KmsError::AlreadyExists`] if the folder already holds a store (or part of one).
    pub fn init(&self, options: InitOptions) -> Result<(), Error> {
        let _lock = store::lock(&self.paths, true)?;
        if self.paths.present().unwrap_or(true) {
            return Err(KmsError::AlreadyExists {
                what: format!("a key store in {}", self.paths.home.display()),
            }
            .into());
        }
        let now = self.clock.now();
        let mut o = integrity::create(
            &self.paths,
            self.passphrase.as_ref(),
            options.fake_clock,
            &clock::format_time(now),
        )?;
        let entry = self.entry(
            now,
            "CreateStore",
            json!({"FakeClock": options.fake_clock, "PassphraseProtected": self.passphrase.is_some()}),
            &AuditInfo::default(),
            None,
        );
        integrity::commit(
            &self.paths,
            &o.keys,
            &mut o.state,
            vec![entry],
            self.marks.as_deref(),
        )
    }

    /// Makes a new, empty passphrase-protected store ([`Kms::init`] with a passphrase).
    ///
    /// # Errors
    /// [`KmsError::AlreadyExists`] if the folder already holds a store;
    /// [`KmsError::Validation`] without a passphrase.
    pub fn init_with_passphrase(&self) -> Result<(), Error> {
        if self.passphrase.is_none() {
            return Err(validation("a passphrase is required"));
        }
        self.init(InitOptions::default())
    }

    /// Whether the store's root key comes from a passphrase.
    pub fn is_passphrase_protected(&self) -> bool {
        self.paths.passphrase_protected()
    }

    /// The store folder.
    pub fn home(&self) -> &Path {
        &self.paths.home
    }

    /// Opens the store for one operation under the lock: every check in `integrity::open`,
    /// then the clock rule. Creates the store first when `create` and none is there.
    fn open_checked(&self, create: bool) -> Result<Checked, Error> {
        if !create && !self.paths.present()? {
            return Err(KmsError::NoStore {
                home: self.paths.home.display().to_string(),
            }
            .into());
        }
        let fixed = matches!(self.clock, Clock::Fixed(_));
        if fixed && !self.paths.present()? {
            return Err(KmsError::FakeClock {
                reason: format!(
                    "a fixed clock ({}) cannot create a store; make one for it with `angou kms init --fake-clock`",
                    clock::FAKE_NOW_VAR
                ),
            }
            .into());
        }
        let lock = store::lock(&self.paths, create)?;
        let mut created = Vec::new();
        let opened = if self.paths.present()? {
            integrity::open(&self.paths, self.passphrase.as_ref(), self.marks.as_deref())?
        } else if create {
            if fixed {
                return Err(KmsError::FakeClock {
                    reason: format!(
                        "a fixed clock ({}) cannot create a store; make one for it with `angou kms init --fake-clock`",
                        clock::FAKE_NOW_VAR
                    ),
                }
                .into());
            }
            let now = self.clock.now();
            let o = integrity::create(
                &self.paths,
                self.passphrase.as_ref(),
                false,
                &clock::format_time(now),
            )?;
            created.push(self.entry(
                now,
                "CreateStore",
                json!({"FakeClock": false, "PassphraseProtected": self.passphrase.is_some()}),
                &AuditInfo::default(),
                None,
            ));
            o
        } else {
            return Err(KmsError::NoStore {
                home: self.paths.home.display().to_string(),
            }
            .into());
        };
        if fixed && !opened.state.fake_clock {
            return Err(KmsError::FakeClock {
                reason: format!(
                    "{} (a fixed clock) is refused on this store, which holds real keys: it would purge and rotate them; use a store made with `angou kms init --fake-clock`",
                    clock::FAKE_NOW_VAR
                ),
            }
            .into());
        }
        Ok(Checked {
            _lock: lock,
            opened,
            created,
        })
    }

    fn entry(
        &self,
        now: OffsetDateTime,
        op: &str,
        params: Value,
        info: &AuditInfo,
        err: Option<&Error>,
    ) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("time".into(), Value::String(clock::format_time(now)));
        m.insert("operation".into(), Value::String(op.into()));
        m.insert(
            "key_id".into(),
            info.key_id
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        m.insert(
            "key_material_id".into(),
            info.material
                .map(|x| Value::String(material_name(x)))
                .unwrap_or(Value::Null),
        );
        m.insert(
            "encryption_context".into(),
            info.context
                .as_ref()
                .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
                .unwrap_or(Value::Null),
        );
        let mut params = params;
        if let Value::Object(p) = &mut params {
            p.extend(info.extra.clone());
        }
        m.insert("parameters".into(), params);
        let caller = match &self.caller.remote {
            None => {
                json!({"user": self.caller.user, "uid": self.caller.uid, "pid": self.caller.pid})
            }
            Some(r) => json!({
                "principal": r.principal,
                "access_key_id": r.access_key.as_ref().map(|a| &a.0),
                "user": r.access_key.as_ref().and_then(|a| a.1.as_ref()),
                "source": r.source,
                "region": self.home_region.region(),
                "server_pid": self.caller.pid,
            }),
        };
        m.insert("caller".into(), caller);
        match err {
            None => {
                m.insert("result".into(), Value::String("success".into()));
            }
            Some(e) => {
                m.insert("result".into(), Value::String("failure".into()));
                let code = match e {
                    Error::Kms(k) => k.code(),
                    Error::Key(_) => "InvalidKeyUsageException",
                    Error::Rng => "KMSInternalException",
                    _ => "KMSInternalException",
                };
                m.insert("error_code".into(), Value::String(code.into()));
            }
        }
        m
    }

    /// Runs one operation under the store lock: checks, maintenance, the operation, audit and
    /// one commit.
    fn run<T>(
        &self,
        op: &'static str,
        params: Value,
        f: impl FnOnce(&mut Session<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.run_with(op, false, params, f)
    }

    /// [`Kms::run`] for the operations that may create the store.
    fn run_creating<T>(
        &self,
        op: &'static str,
        params: Value,
        f: impl FnOnce(&mut Session<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.run_with(op, true, params, f)
    }

    fn run_with<T>(
        &self,
        op: &'static str,
        create: bool,
        params: Value,
        f: impl FnOnce(&mut Session<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if let Some(r) = &self.resident
            && self.paths.present()?
        {
            return r.run(&self.opener(), |state, keys| {
                self.apply(state, &keys.kek, create, Some((op, params)), f)
            });
        }
        let Checked {
            _lock,
            opened,
            created: mut entries,
        } = self.open_checked(create)?;
        let integrity::Opened {
            keys, mut state, ..
        } = opened;
        let (result, more) = self.apply(&mut state, &keys.kek, create, Some((op, params)), f)?;
        entries.extend(more);
        integrity::commit(
            &self.paths,
            &keys,
            &mut state,
            entries,
            self.marks.as_deref(),
        )?;
        result
    }

    fn opener(&self) -> resident::Opener<'_> {
        resident::Opener {
            paths: &self.paths,
            passphrase: self.passphrase.as_ref(),
            marks: self.marks.as_deref(),
        }
    }

    /// One operation on an opened state: the clock rule, maintenance, the operation (its
    /// changes undone when it fails) and, when `audit` names it, its audit entry. An `Err`
    /// means nothing could be recorded (the state is then as found).
    fn apply<T>(
        &self,
        state: &mut State,
        kek: &Key,
        create: bool,
        audit: Option<(&'static str, Value)>,
        f: impl FnOnce(&mut Session<'_>) -> Result<T, Error>,
    ) -> Result<resident::Applied<T>, Error> {
        if matches!(self.clock, Clock::Fixed(_)) && !state.fake_clock {
            return Err(KmsError::FakeClock {
                reason: format!(
                    "{} (a fixed clock) is refused on this store, which holds real keys: it would purge and rotate them; use a store made with `angou kms init --fake-clock`",
                    clock::FAKE_NOW_VAR
                ),
            }
            .into());
        }
        let now = self.clock.now();
        let before = state.clone();
        for k in &mut state.keys {
            // Keys made before angou used AWS ARNs belong to the default region and account.
            if k.metadata.arn.starts_with(key::LEGACY_ARN_PREFIX) {
                k.metadata.arn = k.metadata.key_id.arn(&Home::default());
            }
        }
        let mut entries = match self.maintain(state, kek, now) {
            Ok(e) => e,
            Err(e) => {
                *state = before;
                return Err(e);
            }
        };
        let snapshot = state.clone();
        let mut session = Session {
            home: &self.home_region,
            create_default: create,
            state,
            kek,
            now,
            info: AuditInfo::default(),
        };
        let result = f(&mut session);
        let info = std::mem::take(&mut session.info);
        if result.is_err() {
            *state = snapshot;
        }
        if let Some((op, params)) = audit {
            entries.push(self.entry(now, op, params, &info, result.as_ref().err()));
        }
        Ok((result, entries))
    }

    /// Purges keys whose deletion date has passed and performs due automatic rotations.
    fn maintain(
        &self,
        state: &mut State,
        kek: &Key,
        now: OffsetDateTime,
    ) -> Result<Vec<Map<String, Value>>, Error> {
        let mut entries = Vec::new();
        let mut purged = Vec::new();
        state.keys.retain(|k| {
            let due = k.metadata.key_state == KeyState::PendingDeletion
                && k.metadata
                    .deletion_date
                    .as_deref()
                    .and_then(|d| clock::parse_time(d).ok())
                    .is_some_and(|d| d <= now);
            if due {
                purged.push(k.metadata.key_id.clone());
            }
            !due
        });
        for id in purged {
            state.aliases.retain(|_, target| target != id.as_str());
            let info = AuditInfo {
                key_id: Some(id.to_string()),
                ..Default::default()
            };
            entries.push(self.entry(
                now,
                "DeleteKey",
                json!({"reason": "pending deletion window passed"}),
                &info,
                None,
            ));
        }
        entries.extend(self.expire_imported(state, now));
        for k in state.keys.iter_mut() {
            let Some(rot) = k.rotation.clone() else {
                continue;
            };
            let Ok(next) = clock::parse_time(&rot.next) else {
                continue;
            };
            if next > now || k.metadata.key_state != KeyState::Enabled {
                continue;
            }
            let id = add_material(k, kek, now, "AUTOMATIC")?;
            k.rotation = Some(Rotation {
                period_days: rot.period_days,
                next: clock::format_time(now + Duration::days(rot.period_days.into())),
            });
            let info = AuditInfo {
                key_id: Some(k.metadata.key_id.to_string()),
                material: Some(id),
                ..Default::default()
            };
            entries.push(self.entry(
                now,
                "RotateKey",
                json!({"RotationType": "AUTOMATIC"}),
                &info,
                None,
            ));
        }
        Ok(entries)
    }
}

fn material_aad(id: &KeyId, material: u32) -> Vec<u8> {
    let mut a = MATERIAL_LABEL.to_vec();
    a.extend_from_slice(&id.to_bytes());
    a.extend_from_slice(&material.to_be_bytes());
    a
}

/// Generates new key material for `k`, wraps it under the KEK and appends it.
fn add_material(
    k: &mut StoredKey,
    kek: &Key,
    now: OffsetDateTime,
    kind: &str,
) -> Result<u32, Error> {
    let id = k.materials.last().map(|m| m.id + 1).unwrap_or(1);
    let secret: SecretVec = match k.metadata.key_spec.rsa_bits() {
        None => SecretVec::from_vec(SecretArray::<32>::generate()?.expose_secret().to_vec()),
        Some(bits) => {
            let key = rsa::PrivateKey::generate(bits)?;
            let pem = key.to_pem()?;
            SecretVec::from_vec(pem.as_bytes().to_vec())
        }
    };
    let sealed = Cipher::new(Algorithm::XChaCha20Poly1305, kek).seal(
        &material_aad(&k.metadata.key_id, id),
        secret.expose_secret(),
    )?;
    k.materials.push(StoredMaterial {
        id,
        created: clock::format_time(now),
        kind: kind.into(),
        wrapped: Base64::encode_string(&sealed),
        imported: None,
    });
    k.metadata.current_key_material_id = material_name(id);
    Ok(id)
}

impl Session<'_> {
    fn index(&self, id: &KeyId) -> Option<usize> {
        self.state
            .keys
            .iter()
            .position(|k| &k.metadata.key_id == id)
    }

    /// Whether key `i` lives in the caller's region and account.
    fn here(&self, i: usize) -> bool {
        Home::of_arn(&self.key(i).metadata.arn) == *self.home
    }

    /// Resolves a key id, key ARN, alias or alias ARN in the caller's region and account (an
    /// ARN of another region or account, or a key that lives elsewhere, is not found).
    /// `alias/angou/default` is created on first use.
    fn resolve(&mut self, key_ref: &str) -> Result<usize, Error> {
        let not_found = |r: &str| -> Error {
            KmsError::NotFound {
                what: if r.starts_with("alias/") {
                    format!("alias {r}")
                } else {
                    format!("key {r}")
                },
            }
            .into()
        };
        let r = if let Some(rest) = key_ref.strip_prefix(key::LEGACY_ARN_PREFIX) {
            rest.strip_prefix("key/").unwrap_or(rest)
        } else if key_ref.starts_with("arn:") {
            match Home::split_arn(key_ref) {
                Some((home, rest)) if home == *self.home => {
                    rest.strip_prefix("key/").unwrap_or(rest)
                }
                _ => return Err(not_found(key_ref)),
            }
        } else {
            key_ref
        };
        let found = if r.starts_with("alias/") {
            let alias = Alias::parse(r)?;
            match self.state.aliases.get(alias.as_str()).cloned() {
                Some(id) => KeyId::parse(&id).and_then(|id| self.index(&id)),
                None if self.create_default && alias.as_str() == key::DEFAULT_ALIAS => {
                    Some(self.create_default()?)
                }
                None => None,
            }
        } else {
            KeyId::parse(r).and_then(|id| self.index(&id))
        };
        let i = found
            .filter(|i| self.here(*i))
            .ok_or_else(|| not_found(r))?;
        self.info.key_id = Some(self.state.keys[i].metadata.key_id.to_string());
        Ok(i)
    }

    fn create_default(&mut self) -> Result<usize, Error> {
        let meta = self.new_key(
            "Default key that protects your files when no key is named (managed by angou)",
            KeySpec::SymmetricDefault,
            KeyManager::Angou,
        )?;
        let i = self.state.keys.len() - 1;
        self.state.keys[i].rotation = Some(Rotation {
            period_days: 365,
            next: clock::format_time(self.now + Duration::days(365)),
        });
        self.state
            .aliases
            .insert(key::DEFAULT_ALIAS.into(), meta.key_id.to_string());
        Ok(i)
    }

    fn new_key(
        &mut self,
        description: &str,
        spec: KeySpec,
        manager: KeyManager,
    ) -> Result<KeyMetadata, Error> {
        let id = KeyId::generate()?;
        let metadata = KeyMetadata {
            arn: id.arn(self.home),
            key_id: id,
            creation_date: clock::format_time(self.now),
            enabled: true,
            description: description.into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_state: KeyState::Enabled,
            deletion_date: None,
            pending_deletion_window_in_days: None,
            origin: "ANGOU_KMS".into(),
            key_manager: manager,
            key_spec: spec,
            encryption_algorithms: spec.encryption_algorithms(),
            current_key_material_id: String::new(),
            expiration_model: None,
            valid_to: None,
        };
        let mut k = StoredKey {
            metadata,
            materials: Vec::new(),
            rotation: None,
            on_demand_rotations: 0,
            tags: Default::default(),
            import: None,
        };
        let m = add_material(&mut k, self.kek, self.now, "INITIAL")?;
        self.info.key_id = Some(k.metadata.key_id.to_string());
        self.info.material = Some(m);
        let meta = k.metadata.clone();
        self.state.keys.push(k);
        Ok(meta)
    }

    fn key(&self, i: usize) -> &StoredKey {
        &self.state.keys[i]
    }

    fn usable(&self, i: usize) -> Result<(), Error> {
        let m = &self.key(i).metadata;
        match m.key_state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(KmsError::Disabled {
                id: m.key_id.to_string(),
            }
            .into()),
            KeyState::PendingDeletion => Err(KmsError::InvalidState {
                id: m.key_id.to_string(),
                state: "PendingDeletion".into(),
                detail: format!(
                    "it will be deleted at {}; cancel-key-deletion keeps it",
                    m.deletion_date.clone().unwrap_or_default()
                ),
            }
            .into()),
            KeyState::PendingImport => Err(import::pending_import(m)),
        }
    }

    fn customer_managed(&self, i: usize, what: &str) -> Result<(), Error> {
        let m = &self.key(i).metadata;
        if m.key_manager == KeyManager::Angou {
            return Err(KmsError::Unsupported {
                reason: format!("key {} is managed by angou; you cannot {what} it", m.key_id),
            }
            .into());
        }
        Ok(())
    }

    fn material_secret(&self, i: usize, material: u32) -> Result<SecretVec, Error> {
        let k = self.key(i);
        let m = k
            .materials
            .iter()
            .find(|m| m.id == material)
            .ok_or(KmsError::InvalidCiphertext)?;
        let sealed = Base64::decode_vec(&m.wrapped).map_err(|_| KmsError::Store {
            reason: format!(
                "key material {} of key {} is corrupt",
                material_name(material),
                k.metadata.key_id
            ),
        })?;
        Cipher::new(Algorithm::XChaCha20Poly1305, self.kek)
            .open(&material_aad(&k.metadata.key_id, material), &sealed)
            .map_err(|_| {
                KmsError::Store {
                    reason: format!(
                        "key material {} of key {} does not authenticate under this root key",
                        material_name(material),
                        k.metadata.key_id
                    ),
                }
                .into()
            })
    }

    fn symmetric_key(&self, i: usize, material: u32) -> Result<Key, Error> {
        let s = self.material_secret(i, material)?;
        Ok(Key::from_secret(SecretArray::from_slice(
            s.expose_secret(),
        )?))
    }

    fn rsa_key(&self, i: usize) -> Result<rsa::PrivateKey, Error> {
        let m = self.key(i).materials.last().map(|m| m.id).unwrap_or(1);
        let s = self.material_secret(i, m)?;
        let pem = std::str::from_utf8(s.expose_secret()).map_err(|_| KmsError::Store {
            reason: "rsa key material is corrupt".into(),
        })?;
        Ok(rsa::PrivateKey::from_pem(pem)?)
    }

    /// Refuses `alg` (when named) for key `i`: see [`EncryptionAlgorithm::check`].
    fn check_algorithm(&self, i: usize, alg: Option<EncryptionAlgorithm>) -> Result<(), Error> {
        let m = &self.key(i).metadata;
        match alg {
            Some(a) => Ok(a.check(m.key_spec, &m.key_id)?),
            None => Ok(()),
        }
    }

    /// AWS's RSAES_OAEP algorithms take no encryption context; a context given with an RSA key
    /// is refused (ValidationException) rather than silently left unbound.
    fn no_context_for_rsa(&self, i: usize, ctx: &EncryptionContext) -> Result<(), Error> {
        let m = &self.key(i).metadata;
        if m.key_spec.rsa_bits().is_some() && !ctx.is_empty() {
            return Err(validation(format!(
                "an encryption context is not supported with asymmetric key {} ({}): only symmetric encryption keys bind one",
                m.key_id,
                wire_spec(m.key_spec)
            )));
        }
        Ok(())
    }

    fn encrypt_with(
        &mut self,
        i: usize,
        plaintext: &[u8],
        ctx: &EncryptionContext,
        alg: Option<EncryptionAlgorithm>,
    ) -> Result<Encrypted, Error> {
        self.check_algorithm(i, alg)?;
        self.no_context_for_rsa(i, ctx)?;
        self.usable(i)?;
        let k = self.key(i);
        let arn = k.metadata.arn.clone();
        if k.metadata.key_spec.rsa_bits().is_some() {
            let ct = self.rsa_key(i)?.public_key().encrypt(b"", plaintext)?;
            return Ok(Encrypted {
                ciphertext_blob: ct,
                key_id: arn,
                key_material_id: None,
                encryption_algorithm: "RSAES_OAEP_SHA_256".into(),
                source_key_id: None,
            });
        }
        let material = k.materials.last().map(|m| m.id).ok_or(KmsError::Store {
            reason: "key has no material".into(),
        })?;
        let header = BlobHeader {
            key_id: k.metadata.key_id.clone(),
            material,
        };
        let key = self.symmetric_key(i, material)?;
        let blob = blob::seal(&key, &header, ctx, plaintext)?;
        self.info.material = Some(material);
        Ok(Encrypted {
            ciphertext_blob: blob,
            key_id: arn,
            key_material_id: Some(material_name(material)),
            encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
            source_key_id: None,
        })
    }

    fn decrypt_with(
        &mut self,
        blob_bytes: &[u8],
        ctx: &EncryptionContext,
        key_ref: Option<&str>,
        alg: Option<EncryptionAlgorithm>,
    ) -> Result<Decrypted, Error> {
        let named = match key_ref {
            Some(r) => Some(self.resolve(r)?),
            None => None,
        };
        if let Some(i) = named {
            self.check_algorithm(i, alg)?;
        }
        if let Some(i) = named
            && self.key(i).metadata.key_spec.rsa_bits().is_some()
        {
            self.no_context_for_rsa(i, ctx)?;
            self.usable(i)?;
            let pt = self
                .rsa_key(i)?
                .decrypt(b"", blob_bytes)
                .map_err(|_| KmsError::InvalidCiphertext)?;
            return Ok(Decrypted {
                plaintext: pt,
                ciphertext_blob: Vec::new(),
                key_id: self.key(i).metadata.arn.clone(),
                key_material_id: None,
                encryption_algorithm: "RSAES_OAEP_SHA_256".into(),
            });
        }
        let header = BlobHeader::parse(blob_bytes)?;
        let i = match self.index(&header.key_id).filter(|i| self.here(*i)) {
            Some(i) => i,
            None => {
                return Err(KmsError::NotFound {
                    what: format!("key {} (named by the ciphertext)", header.key_id),
                }
                .into());
            }
        };
        if let Some(n) = named
            && n != i
        {
            return Err(KmsError::IncorrectKey {
                given: self.key(n).metadata.key_id.to_string(),
                actual: header.key_id.to_string(),
            }
            .into());
        }
        self.info.key_id = Some(header.key_id.to_string());
        self.info.material = Some(header.material);
        self.check_algorithm(i, alg)?;
        self.usable(i)?;
        let key = self.symmetric_key(i, header.material)?;
        let plaintext = blob::open(&key, blob_bytes, ctx)?;
        Ok(Decrypted {
            plaintext,
            ciphertext_blob: Vec::new(),
            key_id: self.key(i).metadata.arn.clone(),
            key_material_id: Some(material_name(header.material)),
            encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
        })
    }
}

impl Kms {
    /// Creates a customer-managed key.
    ///
    /// # Errors
    /// [`KmsError::Validation`] for a description over 8192 characters; store errors.
    pub fn create_key(&self, description: &str, spec: KeySpec) -> Result<KeyMetadata, Error> {
        self.run_creating(
            "CreateKey",
            json!({"KeySpec": spec, "Description": description}),
            |s| {
                if description.chars().count() > 8192 {
                    return Err(validation("description must be at most 8192 characters"));
                }
                s.new_key(description, spec, KeyManager::Customer)
            },
        )
    }

    /// Describes a key.
    ///
    /// # Errors
    /// [`KmsError::NotFound`].
    pub fn describe_key(&self, key: &str) -> Result<KeyMetadata, Error> {
        self.run("DescribeKey", json!({"KeyId": key}), |s| {
            let i = s.resolve(key)?;
            Ok(s.key(i).metadata.clone())
        })
    }

    /// Lists every key of this handle's region and account (id and ARN), oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub fn list_keys(&self) -> Result<Vec<(KeyId, String)>, Error> {
        self.run("ListKeys", json!({}), |s| {
            let home = s.home;
            Ok(s.state
                .keys
                .iter()
                .filter(|k| Home::of_arn(&k.metadata.arn) == *home)
                .map(|k| (k.metadata.key_id.clone(), k.metadata.arn.clone()))
                .collect())
        })
    }

    /// Creates an alias for a key.
    ///
    /// # Errors
    /// [`KmsError::InvalidAliasName`], [`KmsError::AlreadyExists`], [`KmsError::NotFound`],
    /// [`KmsError::InvalidState`] for a key pending deletion.
    pub fn create_alias(&self, alias: &str, target: &str) -> Result<(), Error> {
        self.run(
            "CreateAlias",
            json!({"AliasName": alias, "TargetKeyId": target}),
            |s| {
                let a = Alias::parse_user(alias)?;
                if s.state.aliases.contains_key(a.as_str()) {
                    return Err(KmsError::AlreadyExists {
                        what: format!("alias {alias}"),
                    }
                    .into());
                }
                let i = s.resolve(target)?;
                s.not_pending(i)?;
                let id = s.key(i).metadata.key_id.to_string();
                s.state.aliases.insert(a.as_str().into(), id);
                Ok(())
            },
        )
    }

    /// Points an existing alias at another key.
    ///
    /// # Errors
    /// As [`Kms::create_alias`], and [`KmsError::NotFound`] for an unknown alias.
    pub fn update_alias(&self, alias: &str, target: &str) -> Result<(), Error> {
        self.run(
            "UpdateAlias",
            json!({"AliasName": alias, "TargetKeyId": target}),
            |s| {
                let a = Alias::parse_user(alias)?;
                let Some(current) = s.state.aliases.get(a.as_str()).cloned() else {
                    return Err(KmsError::NotFound {
                        what: format!("alias {alias}"),
                    }
                    .into());
                };
                let i = s.resolve(target)?;
                s.not_pending(i)?;
                s.same_kind_as(&current, i, alias)?;
                let id = s.key(i).metadata.key_id.to_string();
                s.state.aliases.insert(a.as_str().into(), id);
                Ok(())
            },
        )
    }

    /// Deletes an alias (the key stays).
    ///
    /// # Errors
    /// [`KmsError::InvalidAliasName`], [`KmsError::NotFound`].
    pub fn delete_alias(&self, alias: &str) -> Result<(), Error> {
        self.run("DeleteAlias", json!({"AliasName": alias}), |s| {
            let a = Alias::parse_user(alias)?;
            s.state
                .aliases
                .remove(a.as_str())
                .map(|_| ())
                .ok_or_else(|| {
                    KmsError::NotFound {
                        what: format!("alias {alias}"),
                    }
                    .into()
                })
        })
    }

    /// Lists the aliases of this handle's region and account (an alias lives where its key
    /// does), optionally only those of one key.
    ///
    /// # Errors
    /// [`KmsError::NotFound`] for an unknown key.
    pub fn list_aliases(&self, key: Option<&str>) -> Result<Vec<AliasEntry>, Error> {
        self.run("ListAliases", json!({"KeyId": key}), |s| {
            let only = match key {
                Some(k) => {
                    let i = s.resolve(k)?;
                    Some(s.key(i).metadata.key_id.to_string())
                }
                None => None,
            };
            let home = s.home;
            let here: std::collections::BTreeSet<&str> = s
                .state
                .keys
                .iter()
                .filter(|k| Home::of_arn(&k.metadata.arn) == *home)
                .map(|k| k.metadata.key_id.as_str())
                .collect();
            Ok(s.state
                .aliases
                .iter()
                .filter(|(_, t)| here.contains(t.as_str()))
                .filter(|(_, t)| only.as_ref().is_none_or(|o| o == *t))
                .map(|(name, target)| AliasEntry {
                    alias_name: name.clone(),
                    alias_arn: Alias::parse(name).map(|a| a.arn(home)).unwrap_or_default(),
                    target_key_id: target.clone(),
                })
                .collect())
        })
    }

    /// Enables a disabled key.
    ///
    /// # Errors
    /// [`KmsError::InvalidState`] for a key pending deletion; [`KmsError::Unsupported`] for angou-managed keys.
    pub fn enable_key(&self, key: &str) -> Result<(), Error> {
        self.set_enabled("EnableKey", key, true)
    }

    /// Disables a key: it stays, but every cryptographic operation is refused.
    ///
    /// # Errors
    /// As [`Kms::enable_key`].
    pub fn disable_key(&self, key: &str) -> Result<(), Error> {
        self.set_enabled("DisableKey", key, false)
    }

    fn set_enabled(&self, op: &'static str, key: &str, enabled: bool) -> Result<(), Error> {
        self.run(op, json!({"KeyId": key}), |s| {
            let i = s.resolve(key)?;
            s.customer_managed(i, if enabled { "enable" } else { "disable" })?;
            s.not_pending(i)?;
            s.not_pending_import(i)?;
            let m = &mut s.state.keys[i].metadata;
            m.enabled = enabled;
            m.key_state = if enabled {
                KeyState::Enabled
            } else {
                KeyState::Disabled
            };
            Ok(())
        })
    }

    /// Schedules deletion after `days` (7–30, default 30). Returns the deletion date.
    ///
    /// # Errors
    /// [`KmsError::Validation`] for a window outside 7–30; [`KmsError::InvalidState`] if already pending.
    pub fn schedule_key_deletion(
        &self,
        key: &str,
        days: Option<u32>,
    ) -> Result<(KeyId, String, u32), Error> {
        self.run(
            "ScheduleKeyDeletion",
            json!({"KeyId": key, "PendingWindowInDays": days}),
            |s| {
                let days = days.unwrap_or(30);
                if !PENDING_WINDOW_DAYS.contains(&days) {
                    return Err(validation(format!(
                        "pending window must be 7 to 30 days, got {days}"
                    )));
                }
                let i = s.resolve(key)?;
                s.customer_managed(i, "delete")?;
                s.not_pending(i)?;
                let at = clock::format_time(s.now + Duration::days(days.into()));
                let m = &mut s.state.keys[i].metadata;
                m.key_state = KeyState::PendingDeletion;
                m.enabled = false;
                m.deletion_date = Some(at.clone());
                m.pending_deletion_window_in_days = Some(days);
                Ok((m.key_id.clone(), at, days))
            },
        )
    }

    /// Cancels a scheduled deletion; the key is left Disabled.
    ///
    /// # Errors
    /// [`KmsError::InvalidState`] if the key is not pending deletion.
    pub fn cancel_key_deletion(&self, key: &str) -> Result<KeyId, Error> {
        self.run("CancelKeyDeletion", json!({"KeyId": key}), |s| {
            let i = s.resolve(key)?;
            let m = &mut s.state.keys[i].metadata;
            if m.key_state != KeyState::PendingDeletion {
                return Err(KmsError::InvalidState {
                    id: m.key_id.to_string(),
                    state: m.key_state.name().into(),
                    detail: "only a key pending deletion can have its deletion cancelled".into(),
                }
                .into());
            }
            m.key_state = KeyState::Disabled;
            m.deletion_date = None;
            m.pending_deletion_window_in_days = None;
            let id = m.key_id.clone();
            s.pending_import_if_no_material(i);
            Ok(id)
        })
    }

    /// Turns on automatic rotation every `days` (90–2560, default 365).
    ///
    /// # Errors
    /// [`KmsError::Validation`]; [`KmsError::Unsupported`] for RSA keys.
    pub fn enable_key_rotation(&self, key: &str, days: Option<u32>) -> Result<(), Error> {
        self.run(
            "EnableKeyRotation",
            json!({"KeyId": key, "RotationPeriodInDays": days}),
            |s| {
                let days = days.unwrap_or(365);
                if !ROTATION_PERIOD_DAYS.contains(&days) {
                    return Err(validation(format!(
                        "rotation period must be 90 to 2560 days, got {days}"
                    )));
                }
                let i = s.resolve(key)?;
                s.symmetric(i, "rotate")?;
                s.not_external(i, "automatic rotation")?;
                s.customer_managed(i, "change rotation of")?;
                s.usable(i)?;
                s.state.keys[i].rotation = Some(Rotation {
                    period_days: days,
                    next: clock::format_time(s.now + Duration::days(days.into())),
                });
                Ok(())
            },
        )
    }

    /// Turns off automatic rotation.
    ///
    /// # Errors
    /// As [`Kms::enable_key_rotation`].
    pub fn disable_key_rotation(&self, key: &str) -> Result<(), Error> {
        self.run("DisableKeyRotation", json!({"KeyId": key}), |s| {
            let i = s.resolve(key)?;
            s.symmetric(i, "rotate")?;
            s.customer_managed(i, "change rotation of")?;
            s.usable(i)?;
            s.state.keys[i].rotation = None;
            Ok(())
        })
    }

    /// Rotation settings of a key.
    ///
    /// # Errors
    /// [`KmsError::NotFound`].
    pub fn get_key_rotation_status(&self, key: &str) -> Result<RotationStatus, Error> {
        self.run("GetKeyRotationStatus", json!({"KeyId": key}), |s| {
            let i = s.resolve(key)?;
            let k = s.key(i);
            Ok(RotationStatus {
                key_rotation_enabled: k.rotation.is_some(),
                rotation_period_in_days: k.rotation.as_ref().map(|r| r.period_days),
                next_rotation_date: k.rotation.as_ref().map(|r| r.next.clone()),
                key_id: k.metadata.key_id.to_string(),
            })
        })
    }

    /// Adds new key material now (at most 25 times per key). Old material keeps decrypting.
    ///
    /// # Errors
    /// [`KmsError::LimitExceeded`] after 25; [`KmsError::Unsupported`] for RSA keys.
    pub fn rotate_key_on_demand(&self, key: &str) -> Result<KeyId, Error> {
        self.run("RotateKeyOnDemand", json!({"KeyId": key}), |s| {
            let i = s.resolve(key)?;
            s.symmetric(i, "rotate")?;
            s.usable(i)?;
            if s.key(i).metadata.origin == import::ORIGIN_EXTERNAL {
                return s.rotate_imported(i);
            }
            if s.key(i).on_demand_rotations >= MAX_ON_DEMAND_ROTATIONS {
                return Err(KmsError::LimitExceeded {
                    what: format!("at most {MAX_ON_DEMAND_ROTATIONS} on-demand rotations per key"),
                }
                .into());
            }
            let now = s.now;
            let kek = s.kek;
            let k = &mut s.state.keys[i];
            let m = add_material(k, kek, now, "ON_DEMAND")?;
            k.on_demand_rotations += 1;
            s.info.material = Some(m);
            Ok(s.key(i).metadata.key_id.clone())
        })
    }

    /// Every key material of a key, oldest first.
    ///
    /// # Errors
    /// [`KmsError::NotFound`].
    pub fn list_key_rotations(&self, key: &str) -> Result<Vec<KeyRotation>, Error> {
        self.run("ListKeyRotations", json!({"KeyId": key}), |s| {
            let i = s.resolve(key)?;
            let k = s.key(i);
            Ok(k.materials
                .iter()
                .map(|m| KeyRotation {
                    key_id: k.metadata.key_id.to_string(),
                    key_material_id: material_name(m.id),
                    rotation_date: m.created.clone(),
                    rotation_type: m.kind.clone(),
                })
                .collect())
        })
    }

    /// Encrypts 1 to 4096 bytes under a key (a blob for symmetric keys, RSA-OAEP-SHA-256 for RSA).
    ///
    /// # Errors
    /// [`KmsError::Validation`] for the size; [`KmsError::Disabled`]; [`KmsError::InvalidState`].
    pub fn encrypt(
        &self,
        key: &str,
        plaintext: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<Encrypted, Error> {
        self.encrypt_as(key, plaintext, ctx, None)
    }

    /// [`Kms::encrypt`] with the algorithm the caller names: refused with
    /// [`KmsError::InvalidKeyUsage`] when the key does not do it (`None`: the key's own).
    ///
    /// # Errors
    /// As [`Kms::encrypt`]; [`KmsError::InvalidKeyUsage`]; [`KmsError::Unsupported`].
    pub fn encrypt_as(
        &self,
        key: &str,
        plaintext: &[u8],
        ctx: &EncryptionContext,
        alg: Option<EncryptionAlgorithm>,
    ) -> Result<Encrypted, Error> {
        self.run_creating(
            "Encrypt",
            json!({"KeyId": key, "PlaintextLength": plaintext.len()}),
            |s| {
                s.info.context = Some(ctx.clone());
                if plaintext.is_empty() || plaintext.len() > MAX_ENCRYPT_LEN {
                    return Err(validation(format!(
                        "plaintext must be 1 to 4096 bytes, got {}",
                        plaintext.len()
                    )));
                }
                let i = s.resolve(key)?;
                s.encrypt_with(i, plaintext, ctx, alg)
            },
        )
    }

    /// Decrypts a ciphertext. The blob names its key; naming another key is [`KmsError::IncorrectKey`].
    /// RSA ciphertexts need `key`.
    ///
    /// # Errors
    /// [`KmsError::InvalidCiphertext`] (also for a wrong context), [`KmsError::Disabled`], …
    pub fn decrypt(
        &self,
        blob: &[u8],
        ctx: &EncryptionContext,
        key: Option<&str>,
    ) -> Result<Decrypted, Error> {
        self.decrypt_as(blob, ctx, key, None)
    }

    /// [`Kms::decrypt`] with the algorithm the caller names (`None`: the key's own).
    ///
    /// # Errors
    /// As [`Kms::decrypt`]; [`KmsError::InvalidKeyUsage`]; [`KmsError::Unsupported`].
    pub fn decrypt_as(
        &self,
        blob: &[u8],
        ctx: &EncryptionContext,
        key: Option<&str>,
        alg: Option<EncryptionAlgorithm>,
    ) -> Result<Decrypted, Error> {
        self.run("Decrypt", json!({"KeyId": key}), |s| {
            s.info.context = Some(ctx.clone());
            s.decrypt_with(blob, ctx, key, alg)
        })
    }

    /// Decrypts under the source context and re-encrypts to `dest_key` under `dest_ctx`; the
    /// plaintext never leaves the library.
    ///
    /// # Errors
    /// As [`Kms::decrypt`] and [`Kms::encrypt`].
    pub fn re_encrypt(
        &self,
        blob: &[u8],
        source_ctx: &EncryptionContext,
        source_key: Option<&str>,
        dest_key: &str,
        dest_ctx: &EncryptionContext,
    ) -> Result<Encrypted, Error> {
        self.re_encrypt_as(
            blob,
            source_ctx,
            source_key,
            dest_key,
            dest_ctx,
            [None, None],
        )
    }

    /// [`Kms::re_encrypt`] with the source and destination algorithms the caller names.
    ///
    /// # Errors
    /// As [`Kms::re_encrypt`]; [`KmsError::InvalidKeyUsage`]; [`KmsError::Unsupported`].
    pub fn re_encrypt_as(
        &self,
        blob: &[u8],
        source_ctx: &EncryptionContext,
        source_key: Option<&str>,
        dest_key: &str,
        dest_ctx: &EncryptionContext,
        [source_alg, dest_alg]: [Option<EncryptionAlgorithm>; 2],
    ) -> Result<Encrypted, Error> {
        self.run(
            "ReEncrypt",
            json!({"SourceKeyId": source_key, "DestinationKeyId": dest_key, "DestinationEncryptionContext": dest_ctx}),
            |s| {
                s.info.context = Some(source_ctx.clone());
                let d = s.decrypt_with(blob, source_ctx, source_key, source_alg)?;
                let i = s.resolve(dest_key)?;
                let mut e = s.encrypt_with(i, d.plaintext.expose_secret(), dest_ctx, dest_alg)?;
                e.source_key_id = Some(d.key_id);
                Ok(e)
            },
        )
    }

    /// A fresh random data key of the requested size.
    fn fresh_data_key(size: DataKeySize) -> Result<SecretVec, Error> {
        let mut dk = vec![0u8; Self::data_key_len(size)?];
        crate::secret::fill_random(&mut dk)?;
        Ok(SecretVec::from_vec(dk))
    }

    fn data_key_len(size: DataKeySize) -> Result<usize, Error> {
        match size {
            DataKeySize::Aes256 => Ok(32),
            DataKeySize::Aes128 => Ok(16),
            DataKeySize::Bytes(n) if (1..=1024).contains(&n) => Ok(n),
            DataKeySize::Bytes(n) => Err(validation(format!(
                "number of bytes must be 1 to 1024, got {n}"
            ))),
        }
    }

    /// `GenerateDataKey`: a fresh data key in plaintext and encrypted under `key`.
    ///
    /// # Errors
    /// As [`Kms::encrypt`]; [`KmsError::Validation`] for the size.
    pub fn generate_data_key(
        &self,
        key: &str,
        size: DataKeySize,
        ctx: &EncryptionContext,
    ) -> Result<Decrypted, Error> {
        self.run_creating(
            "GenerateDataKey",
            json!({"KeyId": key, "Size": format!("{size:?}")}),
            |s| {
                s.info.context = Some(ctx.clone());
                let dk = Self::fresh_data_key(size)?;
                let i = s.resolve(key)?;
                s.data_key_capable(i)?;
                let e = s.encrypt_with(i, dk.expose_secret(), ctx, None)?;
                Ok(Decrypted {
                    plaintext: dk,
                    ciphertext_blob: e.ciphertext_blob,
                    key_id: e.key_id,
                    key_material_id: e.key_material_id,
                    encryption_algorithm: e.encryption_algorithm,
                })
            },
        )
    }

    /// `GenerateDataKeyWithoutPlaintext`: only the encrypted data key.
    ///
    /// # Errors
    /// As [`Kms::generate_data_key`].
    pub fn generate_data_key_without_plaintext(
        &self,
        key: &str,
        size: DataKeySize,
        ctx: &EncryptionContext,
    ) -> Result<Encrypted, Error> {
        self.run_creating(
            "GenerateDataKeyWithoutPlaintext",
            json!({"KeyId": key, "Size": format!("{size:?}")}),
            |s| {
                s.info.context = Some(ctx.clone());
                let dk = Self::fresh_data_key(size)?;
                let i = s.resolve(key)?;
                s.data_key_capable(i)?;
                s.encrypt_with(i, dk.expose_secret(), ctx, None)
            },
        )
    }

    /// `GenerateRandom`: 1 to 1024 random bytes from the OS.
    ///
    /// # Errors
    /// [`KmsError::Validation`] for the size.
    pub fn generate_random(&self, n: usize) -> Result<SecretVec, Error> {
        self.run("GenerateRandom", json!({"NumberOfBytes": n}), |_| {
            if !(1..=1024).contains(&n) {
                return Err(validation(format!(
                    "number of bytes must be 1 to 1024, got {n}"
                )));
            }
            let mut out = vec![0u8; n];
            crate::secret::fill_random(&mut out)?;
            Ok(SecretVec::from_vec(out))
        })
    }

    /// The public key of an RSA key, as SPKI PEM.
    ///
    /// # Errors
    /// [`KmsError::Unsupported`] for symmetric keys; state errors.
    pub fn get_public_key(&self, key: &str) -> Result<(KeyMetadata, String), Error> {
        self.run("GetPublicKey", json!({"KeyId": key}), |s| {
            let i = s.resolve(key)?;
            if s.key(i).metadata.key_spec.rsa_bits().is_none() {
                return Err(KmsError::Unsupported {
                    reason: "a symmetric key has no public key".into(),
                }
                .into());
            }
            s.usable(i)?;
            Ok((
                s.key(i).metadata.clone(),
                s.rsa_key(i)?.public_key().to_pem(),
            ))
        })
    }

    /// Appends an audit entry for a request a door refused before it reached an operation
    /// (no signature, an unknown operation, a body that does not parse, a parameter out of
    /// range): `code` is the AWS exception name returned. Without a store there is nothing to
    /// record into, and nothing is created.
    ///
    /// # Errors
    /// Store errors.
    pub fn record_refused(&self, operation: &str, code: &str) -> Result<(), Error> {
        self.record_refused_because(operation, code, None)
    }

    /// [`Kms::record_refused`] with a reason recorded beside the code (`reason` in the entry);
    /// the door chooses it and keeps secrets and signatures out of it.
    ///
    /// # Errors
    /// Store errors.
    pub fn record_refused_because(
        &self,
        operation: &str,
        code: &str,
        reason: Option<&str>,
    ) -> Result<(), Error> {
        if !self.paths.present()? {
            return Ok(());
        }
        let refused = |now| {
            let mut e = self.entry(now, operation, json!({}), &AuditInfo::default(), None);
            e.insert("result".into(), Value::String("failure".into()));
            e.insert("error_code".into(), Value::String(code.into()));
            if let Some(r) = reason {
                e.insert("reason".into(), Value::String(r.into()));
            }
            e
        };
        if let Some(r) = &self.resident {
            return r.run(&self.opener(), |_, _| {
                Ok((Ok(()), vec![refused(self.clock.now())]))
            });
        }
        let Checked {
            _lock,
            opened,
            created: mut entries,
        } = self.open_checked(false)?;
        let integrity::Opened {
            keys, mut state, ..
        } = opened;
        entries.push(refused(self.clock.now()));
        integrity::commit(
            &self.paths,
            &keys,
            &mut state,
            entries,
            self.marks.as_deref(),
        )
    }

    /// Opens the store without an operation of its own (audit reads), completing an
    /// interrupted commit if one is pending.
    fn open_for_audit(&self) -> Result<integrity::Opened, Error> {
        self.open_checked(false).map(|c| c.opened)
    }

    /// Verifies the whole store: the sealed state, the audit chain against its sealed head,
    /// every entry's sequence number, and the machine's high-water mark; returns the number
    /// of entries. Every other operation runs the same checks except the per-entry one.
    ///
    /// # Errors
    /// [`KmsError::AuditTampered`], [`KmsError::StateTampered`], [`KmsError::RolledBack`],
    /// [`KmsError::WrongRootKey`] naming the first problem.
    pub fn audit_verify(&self) -> Result<u64, Error> {
        let o = self.open_for_audit()?;
        audit::check_entries(&o.log)
    }

    /// [`Kms::audit_verify`], and that the store is the one `checkpoint` was made of, at or
    /// after it, with the checkpointed history unchanged.
    ///
    /// # Errors
    /// As [`Kms::audit_verify`]; [`KmsError::RolledBack`] when the store is older than, or
    /// forked from, the checkpoint.
    pub fn audit_verify_checkpoint(&self, checkpoint: &Checkpoint) -> Result<u64, Error> {
        let o = self.open_for_audit()?;
        let n = audit::check_entries(&o.log)?;
        integrity::check_checkpoint(&o, checkpoint)?;
        Ok(n)
    }

    /// A sealed checkpoint of the store's current audit head, to keep outside the store
    /// folder (another machine, a ticket, a notebook): [`Kms::audit_verify_checkpoint`] later
    /// detects a store rolled back to before it, or one whose history forked.
    ///
    /// # Errors
    /// As [`Kms::audit_verify`].
    pub fn audit_checkpoint(&self) -> Result<Checkpoint, Error> {
        let o = self.open_for_audit()?;
        audit::check_entries(&o.log)?;
        Ok(integrity::make_checkpoint(
            &o,
            &clock::format_time(self.clock.now()),
        ))
    }

    /// Accepts a store that fails verification as it is, when its owner decides to: discards
    /// an unsealed log tail or a stray commit intent, accepts a modified state or a log whose
    /// chain does not match, forgets a high-water mark the store is older than, and appends
    /// an audit entry `RepairStore` listing each finding. Needs the root key (or passphrase).
    /// A whole store is left untouched.
    ///
    /// # Errors
    /// [`KmsError::WrongRootKey`] (nothing to accept with a key that is not the store's);
    /// [`KmsError::NoStore`]; store I/O errors.
    pub fn audit_repair(&self) -> Result<RepairReport, Error> {
        if !self.paths.present()? {
            return Err(KmsError::NoStore {
                home: self.paths.home.display().to_string(),
            }
            .into());
        }
        let _lock = store::lock(&self.paths, false)?;
        let (o, findings) =
            integrity::repair(&self.paths, self.passphrase.as_ref(), self.marks.as_deref())?;
        let integrity::Opened {
            keys, mut state, ..
        } = o;
        if !findings.is_empty() {
            let entry = self.entry(
                self.clock.now(),
                "RepairStore",
                integrity::repair_params(&findings),
                &AuditInfo::default(),
                None,
            );
            integrity::commit(
                &self.paths,
                &keys,
                &mut state,
                vec![entry],
                self.marks.as_deref(),
            )?;
        }
        Ok(RepairReport {
            findings,
            entries: state.audit.count,
        })
    }

    /// Audit entries matching `filter` (sealed entries only), oldest first.
    ///
    /// # Errors
    /// As [`Kms::audit_verify`].
    pub fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<Value>, Error> {
        let o = self.open_for_audit()?;
        let key = filter.key_id.as_deref().map(|k| {
            o.state
                .aliases
                .get(k)
                .cloned()
                .unwrap_or_else(|| k.rsplit('/').next().unwrap_or(k).to_owned())
        });
        Ok(audit::entries(&o.log)
            .into_iter()
            .filter(|e| key.as_ref().is_none_or(|k| e["key_id"].as_str() == Some(k)))
            .filter(|e| {
                filter
                    .operation
                    .as_ref()
                    .is_none_or(|o| e["operation"].as_str() == Some(o))
            })
            .filter(|e| {
                filter.since.is_none_or(|t| {
                    e["time"]
                        .as_str()
                        .and_then(|s| clock::parse_time(s).ok())
                        .is_some_and(|x| x >= t)
                })
            })
            .collect())
    }
}

impl Session<'_> {
    fn not_pending(&self, i: usize) -> Result<(), Error> {
        let m = &self.key(i).metadata;
        if m.key_state == KeyState::PendingDeletion {
            return Err(KmsError::InvalidState {
                id: m.key_id.to_string(),
                state: "PendingDeletion".into(),
                detail: format!(
                    "it will be deleted at {}; cancel-key-deletion keeps it",
                    m.deletion_date.clone().unwrap_or_default()
                ),
            }
            .into());
        }
        Ok(())
    }

    /// UpdateAlias moves an alias only between keys of one type (symmetric or asymmetric) and
    /// one key usage, as AWS requires (ValidationException): a caller that encrypts under the
    /// alias must not find it now names a key of another kind.
    fn same_kind_as(&self, current: &str, i: usize, alias: &str) -> Result<(), Error> {
        let Some(c) = KeyId::parse(current).and_then(|id| self.index(&id)) else {
            return Ok(());
        };
        let (from, to) = (&self.key(c).metadata, &self.key(i).metadata);
        if from.key_spec.rsa_bits().is_some() != to.key_spec.rsa_bits().is_some()
            || from.key_usage != to.key_usage
        {
            return Err(validation(format!(
                "{alias} points at a {} {} key; it can only be moved to a key of the same type and key usage, and {} is a {} {} key",
                wire_spec(from.key_spec),
                from.key_usage,
                to.key_id,
                wire_spec(to.key_spec),
                to.key_usage
            )));
        }
        Ok(())
    }

    /// Data keys come from symmetric keys only, as in AWS (InvalidKeyUsageException).
    fn data_key_capable(&self, i: usize) -> Result<(), Error> {
        let m = &self.key(i).metadata;
        if m.key_spec.rsa_bits().is_some() {
            return Err(KmsError::InvalidKeyUsage {
                reason: format!(
                    "key {} is an asymmetric key ({}); data keys are generated under symmetric keys",
                    m.key_id,
                    serde_json::to_value(m.key_spec)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ),
            }
            .into());
        }
        Ok(())
    }

    fn symmetric(&self, i: usize, what: &str) -> Result<(), Error> {
        if self.key(i).metadata.key_spec.rsa_bits().is_some() {
            return Err(KmsError::Unsupported {
                reason: format!("angou cannot {what} RSA keys; create a new key instead"),
            }
            .into());
        }
        Ok(())
    }
}

/// Wraps file keys through the local KMS (`angou encrypt --kms KEY`): the stanza holds the
/// key's ARN and the ciphertext blob; the encryption context is bound, not stored.
#[derive(Debug)]
pub struct KmsRecipient<'a> {
    /// The store.
    pub kms: &'a Kms,
    /// Key id, ARN or alias.
    pub key: String,
    /// Context bound to the wrapped file key.
    pub context: EncryptionContext,
}

impl Recipient for KmsRecipient<'_> {
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error> {
        let e = self
            .kms
            .encrypt(&self.key, file_key.expose_secret(), &self.context)?;
        if e.key_material_id.is_none() {
            return Err(KmsError::Unsupported {
                reason: "file keys are wrapped with symmetric KMS keys; use -r with the RSA public key instead".into(),
            }
            .into());
        }
        Ok(vec![Stanza {
            kind: KMS_STANZA.into(),
            args: vec![e.key_id],
            body: e.ciphertext_blob,
        }])
    }
}

/// Unwraps `angou.dev/v1/kms` stanzas through the local KMS, with the given context.
#[derive(Debug)]
pub struct KmsIdentity<'a> {
    /// The store.
    pub kms: &'a Kms,
    /// The context the file key was bound to.
    pub context: EncryptionContext,
}

impl Identity for KmsIdentity<'_> {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>> {
        if stanza.kind != KMS_STANZA {
            return None;
        }
        if stanza.args.len() != 1 {
            return Some(Err(crate::error::FormatError::MalformedStanza {
                kind: KMS_STANZA,
                reason: "expected exactly one argument (the key ARN)",
            }
            .into()));
        }
        // A blob for a key this store does not hold is "not mine"; anything else is an error.
        match self
            .kms
            .decrypt(&stanza.body, &self.context, Some(&stanza.args[0]))
        {
            Ok(d) => Some(
                FileKey::from_slice(d.plaintext.expose_secret())
                    .map_err(|_| KmsError::InvalidCiphertext.into()),
            ),
            // No store at all, or no such key in it: the stanza is for someone else.
            Err(Error::Kms(KmsError::NotFound { .. } | KmsError::NoStore { .. })) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The at-rest check: no master key's bytes (raw, hex or base64) appear in any store file.
    #[test]
    fn master_key_bytes_never_appear_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let k = Kms::open(dir.path(), Clock::System);
        let sym = k
            .create_key("", KeySpec::SymmetricDefault)
            .unwrap()
            .key_id
            .to_string();
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
