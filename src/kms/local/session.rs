//! One operation on the local store: the handle ([`Kms`]), the store opened and checked under
//! its lock, and the run that applies an operation, audits it and commits once (the caller
//! and the audit entry that names it: caller.rs).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::caller::{Caller, Remote};
use super::clock::{self, Clock};
use super::context::EncryptionContext;
use super::integrity;
use super::key::{self, Home, KeyId};
use super::store::{self, Paths, State};
use super::{resident, validation};
use crate::aead::Key;
use crate::error::{Error, KmsError};
use crate::kms::InitOptions;
use crate::secret::SecretVec;

#[derive(Default)]
pub(super) struct AuditInfo {
    pub(super) key_id: Option<String>,
    pub(super) material: Option<String>,
    pub(super) context: Option<EncryptionContext>,
    /// Parameters learned while the operation ran, added to the entry's `parameters` (the
    /// user of a deleted access key; access.rs).
    pub(super) extra: Map<String, Value>,
}

pub(super) struct Session<'a> {
    /// The region and account of the caller: keys elsewhere are not found.
    pub(super) home: &'a Home,
    /// Whether resolving `alias/angou/default` may create that key (only operations that
    /// encrypt; a read such as `decrypt` must never write a key because a file named one).
    pub(super) create_default: bool,
    pub(super) state: &'a mut State,
    pub(super) kek: &'a Key,
    pub(super) now: OffsetDateTime,
    pub(super) info: AuditInfo,
}

/// A store opened and checked for one operation, with the lock held until dropped.
pub(super) struct Checked {
    pub(super) _lock: store::Lock,
    pub(super) opened: integrity::Opened,
    /// Audit entries of a store created for this operation.
    pub(super) created: Vec<Map<String, Value>>,
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
    pub(super) paths: Paths,
    pub(super) clock: Clock,
    pub(super) caller: Caller,
    pub(super) passphrase: Option<SecretVec>,
    pub(super) marks: Option<PathBuf>,
    pub(super) home_region: Home,
    /// Set by [`Kms::with_resident_state`]; shared by clones.
    pub(super) resident: Option<std::sync::Arc<resident::Resident>>,
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
    /// file, no `store.next`, same `stat` of `audit.log` and `store.wal`). It commits through
    /// `store.wal` with one flush per batch and applies the records later; call
    /// [`Kms::settle`] when idle and before exiting. docs/DESIGN.md §5 says what that
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
    /// with [`KmsError::RolledBack`]. The CLI uses [`default_state_dir`](crate::kms::default_state_dir).
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
    pub(super) fn open_checked(&self, create: bool) -> Result<Checked, Error> {
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

    /// Runs one operation under the store lock: checks, maintenance, the operation, audit and
    /// one commit.
    pub(super) fn run<T>(
        &self,
        op: &'static str,
        params: Value,
        f: impl FnOnce(&mut Session<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.run_with(op, false, params, f)
    }

    /// [`Kms::run`] for the operations that may create the store.
    pub(super) fn run_creating<T>(
        &self,
        op: &'static str,
        params: Value,
        f: impl FnOnce(&mut Session<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.run_with(op, true, params, f)
    }

    pub(super) fn run_with<T>(
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
        self.commit_checked(create, |state, keys| {
            self.apply(state, &keys.kek, create, Some((op, params)), f)
        })?
    }

    /// Opens the store checked and under its lock (`create`: making it when absent), lets
    /// `f` change the state and name the audit entries to add after those of the opening,
    /// and commits them all; then `f`'s result.
    pub(super) fn commit_checked<T, F>(&self, create: bool, f: F) -> Result<T, Error>
    where
        F: FnOnce(&mut State, &store::RootKeys) -> Result<(T, Vec<Map<String, Value>>), Error>,
    {
        let Checked {
            _lock,
            opened,
            created: mut entries,
        } = self.open_checked(create)?;
        let integrity::Opened {
            keys, mut state, ..
        } = opened;
        let (out, more) = f(&mut state, &keys)?;
        entries.extend(more);
        integrity::commit(
            &self.paths,
            &keys,
            &mut state,
            entries,
            self.marks.as_deref(),
        )?;
        Ok(out)
    }

    /// With [`Kms::with_resident_state`]: applies the records this handle's batches left in
    /// `store.wal` to `store.json` and `audit.log`, unless a batch is running. Call it when
    /// idle and before the process exits (`angou kms serve` does both). Records left behind
    /// are not lost: whoever opens the store next applies them first. Nothing to do without
    /// a resident state.
    ///
    /// # Errors
    /// The store errors of a commit ([`KmsError::Store`], [`KmsError::StateTampered`]).
    pub fn settle(&self) -> Result<(), Error> {
        match &self.resident {
            Some(r) if self.paths.present()? => r.settle_idle(&self.opener()),
            _ => Ok(()),
        }
    }

    /// [`Kms::settle`] for a server's idle moments, which debug builds' tests can hold back
    /// (`ANGOU_TEST_SETTLE=hold`, resident.rs).
    pub(crate) fn settle_idle(&self) -> Result<(), Error> {
        if resident::settling_held() {
            return Ok(());
        }
        self.settle()
    }

    pub(super) fn opener(&self) -> resident::Opener<'_> {
        resident::Opener {
            paths: &self.paths,
            passphrase: self.passphrase.as_ref(),
            marks: self.marks.as_deref(),
        }
    }

    /// One operation on an opened state: the clock rule, maintenance, the operation (its
    /// changes undone when it fails) and, when `audit` names it, its audit entry. An `Err`
    /// means nothing could be recorded (the state is then as found).
    pub(super) fn apply<T>(
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
        // Aliases keyed by name alone (before aliases had a region) take their key's home.
        super::aliases::upgrade_aliases(state);
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
}
