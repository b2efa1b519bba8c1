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
//!   [`Recipient::generate_file_key`](crate::recipient::Recipient::generate_file_key));
//!   every further one `Encrypt`s it.
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

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::EncryptionContext;
use super::ops::backend::Backend;
use super::ops::error::ApiError;
use super::ops::shapes::Context;
use crate::error::{Error, KmsError};
use crate::recipient::aws_kms::AWS_KMS_MAX_BODY_LEN;
use crate::recipient::{AWS_KMS_STANZA, Stanza};

mod allow;
mod identity;
mod recipient;

pub use crate::recipient::aws_kms::Arn;
pub use allow::AllowPolicy;
pub use identity::AwsKmsIdentity;
pub use recipient::AwsKmsRecipient;

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
    KmsError::RemoteCall {
        operation,
        key: key.to_string(),
        exception: clean(e.code()),
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

#[cfg(test)]
mod tests {
    // The envelope over the local store as the KMS stand-in: one store, one handle per region,
    // every call counted.

    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use zeroize::Zeroizing;

    use super::*;
    use crate::error::FormatError;
    use crate::format::{Decryptor, Encryptor};
    use crate::kms::ops::{ApiError, ErrorKind};
    use crate::kms::{Clock, Home, KeySpec, Kms};
    use crate::pk::x25519;
    use crate::recipient::Recipient;

    const ACCOUNT: &str = "111122223333";
    const OTHER_ACCOUNT: &str = "444455556666";
    const EU: &str = "eu-west-1";
    const US: &str = "us-west-2";

    /// Edits a KMS's JSON answer to an operation.
    type Lie = fn(&str, &mut serde_json::Value);

    /// A backend that counts every operation it is asked to run, by name, then runs it on the
    /// store (or fails every call like a dead network, or edits the answers like a lying KMS).
    #[derive(Debug)]
    struct Counted {
        inner: Kms,
        calls: Arc<Mutex<Vec<String>>>,
        dead: bool,
        lie: Option<Lie>,
    }

    impl Backend for Counted {
        fn invoke(&self, operation: &str, body: &[u8]) -> Result<Zeroizing<Vec<u8>>, ApiError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("{}:{operation}", self.inner.region().region()));
            if self.dead {
                return Err(ApiError::new(
                    ErrorKind::KmsInternal,
                    "connection refused\u{1b}[31m (dispatch failure)",
                ));
            }
            let answer = self.inner.invoke(operation, body)?;
            let Some(lie) = self.lie else {
                return Ok(answer);
            };
            let mut value: serde_json::Value = serde_json::from_slice(&answer).unwrap();
            lie(operation, &mut value);
            Ok(Zeroizing::new(serde_json::to_vec(&value).unwrap()))
        }

        fn location(&self) -> String {
            self.inner.location()
        }
    }

    struct World {
        dir: tempfile::TempDir,
        calls: Arc<Mutex<Vec<String>>>,
        connects: Arc<AtomicUsize>,
    }

    impl World {
        fn new() -> World {
            World {
                dir: tempfile::tempdir().unwrap(),
                calls: Arc::default(),
                connects: Arc::default(),
            }
        }

        fn store(&self, region: &str, account: &str) -> Kms {
            Kms::open(self.dir.path(), Clock::System)
                .with_region(Home::new(region, account).unwrap())
        }

        /// A new key's ARN.
        fn key(&self, region: &str, account: &str) -> String {
            let home = Home::new(region, account).unwrap();
            self.store(region, account)
                .create_key("", KeySpec::SymmetricDefault)
                .unwrap()
                .key_id
                .arn(&home)
        }

        /// Regions served by the store in `ACCOUNT`; the regions in `dead` fail every call.
        fn regions(&self, dead: &[&str], lie: Option<Lie>) -> Arc<Regions> {
            let (dir, calls, connects) = (
                self.dir.path().to_owned(),
                Arc::clone(&self.calls),
                Arc::clone(&self.connects),
            );
            let dead: Vec<String> = dead.iter().map(|s| (*s).to_owned()).collect();
            Arc::new(Regions::new(
                move |region: &str| -> Result<Arc<dyn Backend>, Error> {
                    connects.fetch_add(1, Ordering::SeqCst);
                    Ok(Arc::new(Counted {
                        inner: Kms::open(&dir, Clock::System)
                            .with_region(Home::new(region, ACCOUNT)?),
                        calls: Arc::clone(&calls),
                        dead: dead.iter().any(|d| d == region),
                        lie,
                    }))
                },
            ))
        }

        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }

        fn forget_calls(&self) {
            self.calls.lock().unwrap().clear();
        }
    }

    fn context(v: &str) -> EncryptionContext {
        let mut c = EncryptionContext::new();
        c.insert("file", v);
        c
    }

    fn encrypt(recipients: &[&dyn Recipient], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut file = Vec::new();
        let mut w =
            Encryptor::with_recipients(recipients.iter().copied())?.wrap_output(&mut file)?;
        w.write_all(plaintext)?;
        w.finish()?;
        Ok(file)
    }

    fn decrypt(file: &[u8], identity: &AwsKmsIdentity) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        let mut r = Decryptor::new(file)
            .and_then(|d| d.decrypt([identity]))
            .map_err(|e| identity.explain(e))?;
        r.read_to_end(&mut out).map_err(Error::from_io)?;
        Ok(out)
    }

    fn stanzas(file: &[u8]) -> Vec<Stanza> {
        Decryptor::new(file).unwrap().header().stanzas().to_vec()
    }

    /// Encrypts to an X25519 key and two KMS keys in two regions: the first KMS key makes the
    /// file key (GenerateDataKey, once), the second wraps it (Encrypt, once), both record their
    /// key ARN; the file opens with either key alone, and its two blobs hold the same 16 bytes.
    #[test]
    fn the_first_kms_key_makes_the_file_key_and_each_key_alone_opens_the_file() {
        let world = World::new();
        let (eu, us) = (world.key(EU, ACCOUNT), world.key(US, ACCOUNT));
        let regions = world.regions(&[], None);
        let age = x25519::SecretKey::generate().unwrap();
        let a = AwsKmsRecipient::new(Arc::clone(&regions), &eu, context("x")).unwrap();
        let b = AwsKmsRecipient::new(Arc::clone(&regions), &us, context("x")).unwrap();
        let plaintext = vec![9u8; 3 * 65536 + 1];
        let file = encrypt(&[&age.public_key(), &a, &b], &plaintext).unwrap();
        assert_eq!(
            world.calls(),
            [format!("{EU}:GenerateDataKey"), format!("{US}:Encrypt")]
        );
        let s = stanzas(&file);
        let kinds: Vec<&str> = s.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, ["X25519", AWS_KMS_STANZA, AWS_KMS_STANZA]);
        assert_eq!(
            (s[1].args.clone(), s[2].args.clone()),
            (vec![eu.clone()], vec![us.clone()])
        );
        let blob_key = |stanza: &Stanza, region: &str| {
            world
                .store(region, ACCOUNT)
                .decrypt(&stanza.body, &context("x"), None)
                .unwrap()
                .plaintext
        };
        assert_eq!(
            blob_key(&s[1], EU).expose_secret(),
            blob_key(&s[2], US).expose_secret()
        );
        assert_eq!(blob_key(&s[1], EU).len(), 16);

        for key in [&eu, &us] {
            world.forget_calls();
            let only = AwsKmsIdentity::new(
                Arc::clone(&regions),
                AllowPolicy::keys([key.as_str()]).unwrap(),
                context("x"),
            );
            assert_eq!(decrypt(&file, &only).unwrap(), plaintext);
            let region = Arn::parse(key).unwrap().region().to_owned();
            assert_eq!(world.calls(), [format!("{region}:Decrypt")], "{key}");
        }
        // One connection per region, made lazily and then kept.
        assert_eq!(world.connects.load(Ordering::SeqCst), 2);
    }

    /// A stanza whose key is not allowed is never sent anywhere: no connection, no request; the
    /// error names the key it would have needed, as not allowed.
    #[test]
    fn a_key_not_allowed_is_refused_without_contacting_it() {
        let world = World::new();
        let (eu, other) = (world.key(EU, ACCOUNT), world.key(US, ACCOUNT));
        let regions = world.regions(&[], None);
        let file = encrypt(
            &[&AwsKmsRecipient::new(Arc::clone(&regions), &eu, context("x")).unwrap()],
            b"s",
        )
        .unwrap();
        world.forget_calls();
        let connects = world.connects.load(Ordering::SeqCst);
        let fresh = world.regions(&[], None);
        for policy in [
            AllowPolicy::default(),
            AllowPolicy::keys([other.as_str()]).unwrap(),
            AllowPolicy::default()
                .with_discovery("aws", [OTHER_ACCOUNT])
                .unwrap(),
            AllowPolicy::default()
                .with_discovery("aws-cn", [ACCOUNT])
                .unwrap(),
        ] {
            let identity = AwsKmsIdentity::new(Arc::clone(&fresh), policy.clone(), context("x"));
            match decrypt(&file, &identity) {
                Err(Error::Kms(KmsError::NoKeyOpened {
                    attempts,
                    not_allowed,
                })) => {
                    assert_eq!(not_allowed, std::slice::from_ref(&eu), "{policy:?}");
                    assert!(
                        attempts.contains(&eu) && attempts.contains("not allowed"),
                        "{attempts}"
                    );
                }
                other => panic!("{policy:?}: {other:?}"),
            }
        }
        assert!(world.calls().is_empty(), "{:?}", world.calls());
        assert_eq!(world.connects.load(Ordering::SeqCst), connects);
    }

    /// Discovery opens any key of its accounts in its partition, and nothing else.
    #[test]
    fn discovery_opens_keys_of_its_accounts_only() {
        let world = World::new();
        let eu = world.key(EU, ACCOUNT);
        let regions = world.regions(&[], None);
        let file = encrypt(
            &[&AwsKmsRecipient::new(Arc::clone(&regions), &eu, context("x")).unwrap()],
            b"d",
        )
        .unwrap();
        let policy = AllowPolicy::default()
            .with_discovery("aws", [OTHER_ACCOUNT, ACCOUNT])
            .unwrap();
        assert_eq!(
            decrypt(
                &file,
                &AwsKmsIdentity::new(Arc::clone(&regions), policy, context("x"))
            )
            .unwrap(),
            b"d"
        );
        for (partition, accounts) in [
            ("aws", vec![]),
            ("aws", vec!["12345"]),
            ("evil", vec![ACCOUNT]),
            ("aws-", vec![ACCOUNT]),
        ] {
            assert!(
                AllowPolicy::default()
                    .with_discovery(partition, accounts.clone())
                    .is_err(),
                "{partition} {accounts:?}"
            );
        }
    }

    /// The allow-list takes key ARNs only: an alias ARN (whose key only the KMS knows) and text
    /// that is not an ARN are refused; the configured list splits on commas and white space.
    #[test]
    fn the_allow_list_takes_key_arns_only() {
        let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let other = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
        let list = AllowPolicy::parse_list(&format!(" {key},\n{other} ,")).unwrap();
        assert!(list.allows(&Arn::parse(key).unwrap()) && list.allows(&Arn::parse(other).unwrap()));
        assert!(!list.allows(&Arn::parse(&key.replace("us-east-1", "us-east-2")).unwrap()));
        assert!(AllowPolicy::parse_list("").unwrap().is_empty());
        for bad in [
            "arn:aws:kms:us-east-1:111122223333:alias/files",
            "alias/files",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert!(AllowPolicy::keys([bad]).is_err(), "{bad}");
            assert!(
                AllowPolicy::parse_list(&format!("{key},{bad}")).is_err(),
                "{bad}"
            );
        }
    }

    /// A wrong context is refused by the KMS (the context is bound there, not stored in the
    /// file); the error keeps the exception name.
    #[test]
    fn a_wrong_context_is_refused() {
        let world = World::new();
        let eu = world.key(EU, ACCOUNT);
        let regions = world.regions(&[], None);
        let file = encrypt(
            &[&AwsKmsRecipient::new(Arc::clone(&regions), &eu, context("x")).unwrap()],
            b"c",
        )
        .unwrap();
        let allow = AllowPolicy::keys([eu.as_str()]).unwrap();
        for wrong in [context("y"), EncryptionContext::new()] {
            let err = decrypt(
                &file,
                &AwsKmsIdentity::new(Arc::clone(&regions), allow.clone(), wrong),
            )
            .unwrap_err();
            assert!(
                matches!(&err, Error::Kms(KmsError::NoKeyOpened { attempts, not_allowed })
                    if attempts.contains("InvalidCiphertextException") && not_allowed.is_empty()),
                "{err}"
            );
        }
    }

    /// When one key fails (disabled, or its KMS unreachable) the next stanza is tried; when all
    /// fail, the error names each key with its AWS exception, and the far side's message is made
    /// printable.
    #[test]
    fn a_failing_key_falls_through_to_the_next_and_all_failures_are_named() {
        let world = World::new();
        let (eu, us) = (world.key(EU, ACCOUNT), world.key(US, ACCOUNT));
        let regions = world.regions(&[], None);
        let file = encrypt(
            &[
                &AwsKmsRecipient::new(Arc::clone(&regions), &eu, context("x")).unwrap(),
                &AwsKmsRecipient::new(Arc::clone(&regions), &us, context("x")).unwrap(),
            ],
            b"f",
        )
        .unwrap();
        let both = AllowPolicy::keys([eu.as_str(), us.as_str()]).unwrap();
        world.store(EU, ACCOUNT).disable_key(&eu).unwrap();
        assert_eq!(
            decrypt(
                &file,
                &AwsKmsIdentity::new(Arc::clone(&regions), both.clone(), context("x"))
            )
            .unwrap(),
            b"f"
        );

        let us_dead = world.regions(&[US], None);
        let err = decrypt(
            &file,
            &AwsKmsIdentity::new(Arc::clone(&us_dead), both.clone(), context("x")),
        )
        .unwrap_err();
        let Error::Kms(KmsError::NoKeyOpened { attempts, .. }) = &err else {
            panic!("{err:?}");
        };
        assert!(
            attempts.contains(&format!("{eu}: DisabledException")),
            "{attempts}"
        );
        assert!(
            attempts.contains(&format!("{us}: KMSInternalException: connection refused")),
            "{attempts}"
        );
        assert!(!err.to_string().chars().any(char::is_control), "{err}");

        world.store(EU, ACCOUNT).enable_key(&eu).unwrap();
        assert_eq!(
            decrypt(
                &file,
                &AwsKmsIdentity::new(Arc::clone(&us_dead), both, context("x"))
            )
            .unwrap(),
            b"f"
        );
    }

    /// Decrypt pins the key: a stanza that names one allowed key but holds another key's blob is
    /// refused by the KMS (IncorrectKeyException), never opened with the blob's key.
    #[test]
    fn decrypt_pins_the_recorded_key() {
        let world = World::new();
        let (a, b) = (world.key(EU, ACCOUNT), world.key(EU, ACCOUNT));
        let regions = world.regions(&[], None);
        let file = encrypt(
            &[&AwsKmsRecipient::new(Arc::clone(&regions), &a, context("x")).unwrap()],
            b"p",
        )
        .unwrap();
        let text = String::from_utf8_lossy(&file[..200]).to_string();
        assert!(text.contains(&a));
        // The same length, so only the stanza's argument changes (the header MAC would fail too,
        // but the KMS refuses first).
        let swapped = file
            .windows(a.len())
            .position(|w| w == a.as_bytes())
            .map(|at| [&file[..at], b.as_bytes(), &file[at + a.len()..]].concat())
            .unwrap();
        world.forget_calls();
        let allow = AllowPolicy::keys([a.as_str(), b.as_str()]).unwrap();
        let err = decrypt(
            &swapped,
            &AwsKmsIdentity::new(Arc::clone(&regions), allow, context("x")),
        )
        .unwrap_err();
        assert!(err.to_string().contains("IncorrectKeyException"), "{err}");
        assert_eq!(world.calls(), [format!("{EU}:Decrypt")]);
    }

    /// An alias ARN given at encryption time is resolved by the KMS: the stanza records the key
    /// ARN it answered with.
    #[test]
    fn an_alias_arn_is_recorded_as_its_key_arn() {
        let world = World::new();
        let key = world.key(EU, ACCOUNT);
        world
            .store(EU, ACCOUNT)
            .create_alias("alias/files", &key)
            .unwrap();
        let regions = world.regions(&[], None);
        let alias = format!("arn:aws:kms:{EU}:{ACCOUNT}:alias/files");
        let first = AwsKmsRecipient::new(Arc::clone(&regions), &alias, context("x")).unwrap();
        let second = AwsKmsRecipient::new(Arc::clone(&regions), &alias, context("x")).unwrap();
        let file = encrypt(&[&first, &second], b"a").unwrap();
        for s in stanzas(&file) {
            assert_eq!(s.args, std::slice::from_ref(&key));
        }
        let allow = AllowPolicy::keys([key.as_str()]).unwrap();
        assert_eq!(
            decrypt(
                &file,
                &AwsKmsIdentity::new(Arc::clone(&regions), allow, context("x"))
            )
            .unwrap(),
            b"a"
        );
    }

    /// A KMS that answers for another key, with a data key of another size, or with a key id
    /// that is not a key ARN is refused before anything is written.
    #[test]
    fn a_kms_answering_wrongly_is_refused() {
        let world = World::new();
        let eu = world.key(EU, ACCOUNT);
        let lies: [(Lie, &str); 4] = [
            (
                |_, v| {
                    v["KeyId"] =
                        "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000"
                            .into()
                },
                "another key",
            ),
            (|_, v| v["KeyId"] = "alias/files".into(), "not a key ARN"),
            (
                |_, v| {
                    if v.get("Plaintext").is_some() {
                        v["Plaintext"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
                    }
                },
                "16 bytes",
            ),
            (|_, v| v["CiphertextBlob"] = "".into(), "1 to 6144 bytes"),
        ];
        for (lie, says) in lies {
            let regions = world.regions(&[], Some(lie));
            let r = AwsKmsRecipient::new(Arc::clone(&regions), &eu, context("x")).unwrap();
            let err = encrypt(&[&r], b"l").unwrap_err();
            assert!(
                matches!(&err, Error::Kms(KmsError::UnexpectedAnswer { reason, .. }) if reason.contains(says)),
                "{says}: {err}"
            );
        }
    }

    /// A file names a key, never where to send it: a stanza whose ARN carries anything but a
    /// region name where the region goes (a host, a port, a URL) is malformed before any key
    /// or connection is used, even in discovery mode; a valid one reaches only the connect
    /// function the caller gave, with the region name alone.
    #[test]
    fn a_file_cannot_choose_where_its_key_is_sent() {
        let world = World::new();
        let eu = world.key(EU, ACCOUNT);
        let regions = world.regions(&[], None);
        let file = encrypt(
            &[&AwsKmsRecipient::new(Arc::clone(&regions), &eu, context("x")).unwrap()],
            b"e",
        )
        .unwrap();
        let connects = world.connects.load(Ordering::SeqCst);
        let discovery = AllowPolicy::default()
            .with_discovery("aws", [ACCOUNT])
            .unwrap();
        for evil in [
            "eu-west-1.evil.example",
            "127.0.0.1:9",
            "http://evil.example/eu-west-1",
            "eu-west-1/..",
        ] {
            let arn = eu.replace(EU, evil);
            let at = file
                .windows(eu.len())
                .position(|w| w == eu.as_bytes())
                .unwrap();
            let edited = [&file[..at], arn.as_bytes(), &file[at + eu.len()..]].concat();
            let identity =
                AwsKmsIdentity::new(Arc::clone(&regions), discovery.clone(), context("x"));
            let err = decrypt(&edited, &identity).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Format(FormatError::MalformedStanza {
                        kind: AWS_KMS_STANZA,
                        ..
                    })
                ),
                "{evil}: {err}"
            );
        }
        assert_eq!(world.connects.load(Ordering::SeqCst), connects);
        assert!(world.calls().iter().all(|c| c.starts_with(EU)));
    }

    /// A recipient needs a KMS ARN: a key id or alias name alone says nothing about where the key
    /// lives.
    #[test]
    fn a_recipient_needs_an_arn() {
        let world = World::new();
        let regions = world.regions(&[], None);
        for bad in [
            "alias/files",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:1:key/x",
        ] {
            assert!(
                AwsKmsRecipient::new(Arc::clone(&regions), bad, context("x")).is_err(),
                "{bad}"
            );
        }
        assert_eq!(world.connects.load(Ordering::SeqCst), 0);
    }
}
