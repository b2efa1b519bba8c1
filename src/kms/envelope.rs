//! Files whose key is wrapped by a KMS key that lives in AWS KMS or any KMS that speaks its
//! API: the `angou.dev/v1/aws-kms` stanza (docs/FORMAT.md §5.8), written against
//! [`Backend`] so the same code runs on AWS, on `angou kms serve`, moto, LocalStack, or the
//! local store in tests.
//!
//! * [`Regions`] gives the backend of each region, connecting lazily, once per region. The
//!   caller decides how a region is reached (endpoint, credentials, profile): nothing here,
//!   and nothing in a file, picks an endpoint or credentials.
//! * [`AwsKmsRecipient`] wraps a file key for one key ARN. The first one of a file has the KMS
//!   make the file key (`GenerateDataKey`, 16 bytes, through
//!   [`Recipient::generate_file_key`]); every further one `Encrypt`s it.
//! * [`AwsKmsIdentity`] opens stanzas through `Decrypt`, with the key id pinned to the
//!   recorded ARN, for the keys its [`AllowPolicy`] allows only (the AWS Encryption SDK's
//!   strict and discovery modes). A key that is not allowed is never contacted.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::sync::Arc;
//! use angou::format::{Decryptor, Encryptor};
//! use angou::kms::envelope::{AllowPolicy, AwsKmsIdentity, AwsKmsRecipient, Regions};
//! use angou::kms::ops::Backend;
//! use angou::kms::{Clock, EncryptionContext, Home, KeySpec, Kms};
//!
//! // The local store stands in for the remote KMS of region eu-west-1.
//! let dir = std::env::temp_dir().join(format!("angou-envelope-doc-{}", std::process::id()));
//! let home = Home::new("eu-west-1", "111122223333")?;
//! let key = Kms::open(&dir, Clock::System).with_region(home.clone())
//!     .create_key("files", KeySpec::SymmetricDefault)?.key_id.arn(&home);
//! let store = dir.clone();
//! let regions = Arc::new(Regions::new(move |region: &str| -> Result<Arc<dyn Backend>, angou::Error> {
//!     let home = Home::new(region, "111122223333")?;
//!     Ok(Arc::new(Kms::open(&store, Clock::System).with_region(home)))
//! }));
//! let mut context = EncryptionContext::new();
//! context.insert("purpose", "doc");
//!
//! let recipient = AwsKmsRecipient::new(Arc::clone(&regions), &key, context.clone())?;
//! let mut file = Vec::new();
//! let mut w = Encryptor::with_recipients([&recipient])?.wrap_output(&mut file)?;
//! w.write_all(b"kept under a KMS key")?;
//! w.finish()?;
//!
//! let identity = AwsKmsIdentity::new(regions, AllowPolicy::keys([key.as_str()])?, context);
//! let mut out = Vec::new();
//! Decryptor::new(&file[..])?.decrypt([&identity])?.read_to_end(&mut out)?;
//! assert_eq!(out, b"kept under a KMS key");
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use super::EncryptionContext;
use super::ops::backend::Backend;
use super::ops::error::ApiError;
use super::ops::shapes::{Context, DecryptRequest, EncryptRequest, GenerateDataKeyRequest};
use super::ops::wire::{Blob, SecretBlob};
use crate::error::{Error, FormatError, KmsError};
use crate::recipient::aws_kms::AWS_KMS_MAX_BODY_LEN;
use crate::recipient::{AWS_KMS_STANZA, Identity, Recipient, Stanza};
use crate::secret::{FileKey, SecretVec};

pub use crate::recipient::aws_kms::Arn;

/// Bytes of the file key the KMS is asked for (`NumberOfBytes`).
const FILE_KEY_BYTES: i64 = 16;
/// Longest KMS message kept in an error, in characters.
const MAX_MESSAGE_CHARS: usize = 300;
/// Environment variable holding the configured allow-list: key ARNs separated by commas or
/// white space (`angou decrypt` reads it; see [`AllowPolicy::parse_list`]).
pub const ALLOW_VAR: &str = "ANGOU_KMS_ALLOW";

/// How a region's KMS is reached: a function from a region name to a backend.
pub type Connect = dyn Fn(&str) -> Result<Arc<dyn Backend>, Error> + Send + Sync;

/// The KMS backend of each region, connected on first use and then shared.
///
/// The connect function is the caller's: the `angou` CLI passes one that builds
/// `Remote::connect(&RemoteConfig { region: Some(region), endpoint_url, profile })` from the
/// user's own flags and AWS configuration; tests pass the local store. The region comes from
/// a key ARN (the user's, or a file's for a key the [`AllowPolicy`] allows), and is all a file
/// can influence: which of the user's configured connections is used.
pub struct Regions {
    connect: Box<Connect>,
    open: Mutex<BTreeMap<String, Arc<dyn Backend>>>,
}

impl std::fmt::Debug for Regions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Regions")
            .field("open", &open.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Regions {
    /// Backends made by `connect`, once per region.
    pub fn new<F>(connect: F) -> Regions
    where
        F: Fn(&str) -> Result<Arc<dyn Backend>, Error> + Send + Sync + 'static,
    {
        Regions {
            connect: Box::new(connect),
            open: Mutex::new(BTreeMap::new()),
        }
    }

    /// The backend of `region`, connecting on first use. A failed connection is not kept: the
    /// next call tries again.
    ///
    /// # Errors
    /// Whatever the connect function fails with.
    pub fn backend(&self, region: &str) -> Result<Arc<dyn Backend>, Error> {
        if let Some(b) = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(region)
        {
            return Ok(Arc::clone(b));
        }
        // Connecting may be slow (the SDK loads its configuration): not under the lock. Two
        // threads racing for one region both connect; the first stored is kept.
        let made = (self.connect)(region)?;
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(Arc::clone(open.entry(region.to_owned()).or_insert(made)))
    }
}

fn wire_context(context: &EncryptionContext) -> Option<Context> {
    (!context.is_empty()).then(|| context.entries().clone())
}

/// Keeps a KMS's message printable and short: it comes from the far side and goes to a
/// terminal.
fn clean(message: &str) -> String {
    message
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn remote(operation: &'static str, key: &Arn, e: &ApiError) -> Error {
    KmsError::Remote {
        operation,
        key: key.to_string(),
        exception: e.kind.name().to_owned(),
        message: clean(&e.message),
    }
    .into()
}

fn unexpected(operation: &'static str, key: &Arn, reason: impl Into<String>) -> Error {
    KmsError::UnexpectedAnswer {
        operation,
        key: key.to_string(),
        reason: reason.into(),
    }
    .into()
}

/// The key ARN a KMS answered with, checked against the ARN asked for: a key ARN (never an
/// alias), the same one when a key ARN was asked for, and in the same partition, region and
/// account when an alias ARN was.
fn answered_key(operation: &'static str, asked: &Arn, answer: &str) -> Result<Arn, Error> {
    let Ok(key) = Arn::parse_key(answer) else {
        return Err(unexpected(operation, asked, "its KeyId is not a key ARN"));
    };
    let same_place = (key.partition(), key.region(), key.account())
        == (asked.partition(), asked.region(), asked.account());
    if (!asked.is_alias() && key != *asked) || !same_place {
        return Err(unexpected(
            operation,
            asked,
            format!("it names another key, {key}"),
        ));
    }
    Ok(key)
}

fn stanza(operation: &'static str, asked: &Arn, key: &Arn, body: Vec<u8>) -> Result<Stanza, Error> {
    if !(1..=AWS_KMS_MAX_BODY_LEN).contains(&body.len()) {
        return Err(unexpected(
            operation,
            asked,
            "its CiphertextBlob is not 1 to 6144 bytes",
        ));
    }
    Ok(Stanza {
        kind: AWS_KMS_STANZA.into(),
        args: vec![key.to_string()],
        body,
    })
}

/// Wraps file keys with a key in a remote KMS (`angou encrypt --kms arn:aws:kms:…`).
///
/// The first `AwsKmsRecipient` of a file has the KMS generate the file key
/// (`GenerateDataKey`, `NumberOfBytes` 16, the context as `EncryptionContext`); every other
/// one wraps it with `Encrypt`. Either way the stanza records the key ARN the KMS answered
/// with (an alias ARN is resolved by the KMS, at encryption time) and its `CiphertextBlob`.
#[derive(Debug)]
pub struct AwsKmsRecipient {
    regions: Arc<Regions>,
    key: Arn,
    context: EncryptionContext,
}

impl AwsKmsRecipient {
    /// A recipient for `key`, a key ARN or alias ARN, reached through `regions` by the ARN's
    /// region, with `context` bound to the wrapped file key.
    ///
    /// # Errors
    /// [`FormatError::MalformedStanza`] if `key` is not a KMS key or alias ARN.
    pub fn new(
        regions: Arc<Regions>,
        key: &str,
        context: EncryptionContext,
    ) -> Result<Self, Error> {
        Ok(AwsKmsRecipient {
            regions,
            key: Arn::parse(key)?,
            context,
        })
    }

    fn backend(&self) -> Result<Arc<dyn Backend>, Error> {
        self.regions.backend(self.key.region())
    }
}

impl Recipient for AwsKmsRecipient {
    fn wrap(&self, file_key: &FileKey) -> Result<Vec<Stanza>, Error> {
        const OP: &str = "Encrypt";
        let answer = self
            .backend()?
            .encrypt(&EncryptRequest {
                key_id: Some(self.key.to_string()),
                plaintext: Some(SecretBlob(SecretVec::from_vec(
                    file_key.expose_secret().to_vec(),
                ))),
                encryption_context: wire_context(&self.context),
                ..Default::default()
            })
            .map_err(|e| remote(OP, &self.key, &e))?;
        let key = answered_key(OP, &self.key, &answer.key_id)?;
        Ok(vec![stanza(OP, &self.key, &key, answer.ciphertext_blob.0)?])
    }

    fn generate_file_key(&self) -> Option<Result<(FileKey, Vec<Stanza>), Error>> {
        const OP: &str = "GenerateDataKey";
        let made = || -> Result<(FileKey, Vec<Stanza>), Error> {
            let answer = self
                .backend()?
                .generate_data_key(&GenerateDataKeyRequest {
                    key_id: Some(self.key.to_string()),
                    number_of_bytes: Some(FILE_KEY_BYTES),
                    encryption_context: wire_context(&self.context),
                    ..Default::default()
                })
                .map_err(|e| remote(OP, &self.key, &e))?;
            let key = answered_key(OP, &self.key, &answer.key_id)?;
            let file_key = FileKey::from_slice(answer.plaintext.0.expose_secret())
                .map_err(|_| unexpected(OP, &self.key, "its data key is not 16 bytes"))?;
            let stanza = stanza(OP, &self.key, &key, answer.ciphertext_blob.0)?;
            Ok((file_key, vec![stanza]))
        };
        Some(made())
    }
}

/// Which remote KMS keys `angou decrypt` may ask to open a file (the AWS Encryption SDK's
/// strict model): the key ARNs listed, plus, in discovery mode, any key of the listed
/// accounts in one partition. Nothing else is ever contacted; the empty policy allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowPolicy {
    keys: BTreeSet<Arn>,
    discovery: Option<Discovery>,
}

/// Discovery mode: any key of these accounts, in this partition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Discovery {
    partition: String,
    accounts: BTreeSet<String>,
}

fn invalid(reason: impl Into<String>) -> Error {
    KmsError::Validation {
        reason: reason.into(),
    }
    .into()
}

impl AllowPolicy {
    /// Allows exactly these key ARNs.
    ///
    /// # Errors
    /// [`KmsError::Validation`] for an alias ARN (a file records key ARNs; which key an alias
    /// names can only be known by asking the KMS, and the list decides what may be asked);
    /// [`FormatError::MalformedStanza`] for text that is not a key ARN.
    pub fn keys<'s>(keys: impl IntoIterator<Item = &'s str>) -> Result<AllowPolicy, Error> {
        let mut policy = AllowPolicy::default();
        policy.add_keys(keys)?;
        Ok(policy)
    }

    /// Adds key ARNs (see [`AllowPolicy::keys`]).
    ///
    /// # Errors
    /// As [`AllowPolicy::keys`].
    pub fn add_keys<'s>(&mut self, keys: impl IntoIterator<Item = &'s str>) -> Result<(), Error> {
        for text in keys {
            let arn = Arn::parse(text)?;
            if arn.is_alias() {
                return Err(invalid(format!(
                    "{arn} is an alias ARN; decrypt allows key ARNs only (aws kms describe-key names its key ARN)"
                )));
            }
            self.keys.insert(arn);
        }
        Ok(())
    }

    /// Parses a configured allow-list (the value of [`ALLOW_VAR`]): key ARNs separated by
    /// commas and/or white space; empty entries are ignored.
    ///
    /// # Errors
    /// As [`AllowPolicy::keys`].
    pub fn parse_list(text: &str) -> Result<AllowPolicy, Error> {
        AllowPolicy::keys(
            text.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty()),
        )
    }

    /// Adds discovery mode: any key of `accounts` (at least one, 12 digits each) in
    /// `partition` (`aws`, `aws-cn`, `aws-us-gov`, …).
    ///
    /// # Errors
    /// [`KmsError::Validation`] for no account, an account that is not 12 digits, or a
    /// partition that is not `aws` or `aws-<name>`.
    pub fn with_discovery<'s>(
        mut self,
        partition: &str,
        accounts: impl IntoIterator<Item = &'s str>,
    ) -> Result<AllowPolicy, Error> {
        let accounts: BTreeSet<String> = accounts.into_iter().map(str::to_owned).collect();
        if accounts.is_empty() {
            return Err(invalid(
                "discovery needs at least one account id it may contact keys of",
            ));
        }
        if let Some(bad) = accounts
            .iter()
            .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid(format!(
                "account id {:?} is not 12 digits",
                bad.chars().take(40).collect::<String>()
            )));
        }
        // The partition's grammar is the ARN's.
        let probe = format!("arn:{partition}:kms:us-east-1:000000000000:alias/x");
        if Arn::parse(&probe).is_err() {
            return Err(invalid(format!(
                "partition {:?} is not aws or aws-<name> (aws-cn, aws-us-gov, …)",
                partition.chars().take(40).collect::<String>()
            )));
        }
        self.discovery = Some(Discovery {
            partition: partition.to_owned(),
            accounts,
        });
        Ok(self)
    }

    /// Whether `key` may be contacted.
    pub fn allows(&self, key: &Arn) -> bool {
        self.keys.contains(key)
            || self.discovery.as_ref().is_some_and(|d| {
                d.partition == key.partition() && d.accounts.contains(key.account())
            })
    }

    /// Whether the policy allows nothing.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.discovery.is_none()
    }
}

/// Why one stanza did not open.
#[derive(Debug)]
enum Outcome {
    NotAllowed,
    Failed(Error),
}

/// Opens `angou.dev/v1/aws-kms` stanzas through the KMS of the key's region, with `Decrypt`
/// (`KeyId` pinned to the stanza's key ARN, the context as `EncryptionContext`), for the keys
/// the [`AllowPolicy`] allows.
///
/// A stanza whose key is not allowed, or whose KMS refuses or fails (AccessDenied, a network
/// failure, a disabled key, a wrong context), is answered "not mine", so the next stanza is
/// tried; each is remembered, and [`AwsKmsIdentity::explain`] turns the `NoMatch` that ends
/// such a search into [`KmsError::NoKeyOpened`], naming every key and why.
#[derive(Debug)]
pub struct AwsKmsIdentity {
    regions: Arc<Regions>,
    allow: AllowPolicy,
    context: EncryptionContext,
    attempts: Mutex<Vec<(Arn, Outcome)>>,
}

impl AwsKmsIdentity {
    /// An identity for the keys `allow` allows, reached through `regions`, expecting
    /// `context`.
    pub fn new(regions: Arc<Regions>, allow: AllowPolicy, context: EncryptionContext) -> Self {
        AwsKmsIdentity {
            regions,
            allow,
            context,
            attempts: Mutex::new(Vec::new()),
        }
    }

    /// `err` as the caller should see it: a [`FormatError::NoMatch`] after this identity saw
    /// `aws-kms` stanzas becomes [`KmsError::NoKeyOpened`], naming each key it would have
    /// needed and why it did not open (not allowed; or the KMS's exception name); any other
    /// error is returned unchanged.
    pub fn explain(&self, err: Error) -> Error {
        if !matches!(err, Error::Format(FormatError::NoMatch)) {
            return err;
        }
        let attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        if attempts.is_empty() {
            return err;
        }
        let mut not_allowed = Vec::new();
        let described: Vec<String> = attempts
            .iter()
            .map(|(key, outcome)| match outcome {
                Outcome::NotAllowed => {
                    not_allowed.push(key.to_string());
                    format!("{key} is not allowed (not contacted)")
                }
                Outcome::Failed(Error::Kms(KmsError::Remote {
                    exception, message, ..
                })) => format!("{key}: {exception}: {message}"),
                Outcome::Failed(e) => format!("{key}: {e}"),
            })
            .collect();
        KmsError::NoKeyOpened {
            attempts: described.join("; "),
            not_allowed,
        }
        .into()
    }

    fn open(&self, key: &Arn, body: &[u8]) -> Result<FileKey, Error> {
        const OP: &str = "Decrypt";
        let answer = self
            .regions
            .backend(key.region())?
            .decrypt(&DecryptRequest {
                ciphertext_blob: Some(Blob(body.to_vec())),
                encryption_context: wire_context(&self.context),
                key_id: Some(key.to_string()),
                ..Default::default()
            })
            .map_err(|e| remote(OP, key, &e))?;
        if answer.key_id != key.as_str() {
            return Err(unexpected(OP, key, "it names another key"));
        }
        FileKey::from_slice(answer.plaintext.0.expose_secret())
            .map_err(|_| unexpected(OP, key, "the plaintext is not a 16-byte file key"))
    }
}

impl Identity for AwsKmsIdentity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, Error>> {
        if stanza.kind != AWS_KMS_STANZA {
            return None;
        }
        // `Decryptor::new` checked the shape already; a caller offering stanzas directly gets
        // the same refusal.
        if let Err(e) = crate::recipient::check_stanza(stanza) {
            return Some(Err(e.into()));
        }
        let key = match Arn::parse_key(&stanza.args[0]) {
            Ok(key) => key,
            Err(e) => return Some(Err(e.into())),
        };
        let outcome = if self.allow.allows(&key) {
            match self.open(&key, &stanza.body) {
                Ok(file_key) => return Some(Ok(file_key)),
                Err(e) => Outcome::Failed(e),
            }
        } else {
            Outcome::NotAllowed
        };
        self.attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((key, outcome));
        None
    }
}

#[cfg(test)]
mod tests;
