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

pub mod envelope;
pub mod http;
mod local;
pub mod ops;
mod recipient;
#[cfg(feature = "aws")]
pub mod remote;

use std::path::PathBuf;

use time::OffsetDateTime;

pub use local::access::{AccessKey, AccessKeyInfo};
pub use local::clock::Clock;
pub use local::context::EncryptionContext;
pub use local::import::{
    ExpirationModel, IMPORT_PARAMETERS_HOURS, IMPORT_TOKEN_LEN, ImportParameters, ImportRequest,
    ImportType, WrappingAlgorithm,
};
pub use local::integrity::Checkpoint;
pub use local::key::{
    Alias, EncryptionAlgorithm, Home, KeyId, KeyManager, KeyMetadata, KeySpec, KeyState,
};
pub use local::pair::{DataKeyPair, DataKeyPairSpec};
pub use local::tags::{CreateKeyOptions, MAX_TAGS, Tag};
pub use local::{Kms, audit, blob, clock, context, key};
pub use recipient::{KmsIdentity, KmsRecipient};

use crate::secret::SecretVec;

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
    /// For `re_encrypt`: the key material that decrypted the source (symmetric keys).
    pub source_key_material_id: Option<String>,
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
