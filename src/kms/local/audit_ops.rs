//! The audit operations: refusals recorded by a door, verification against the sealed head
//! and a checkpoint, checkpoints, repair, and reading entries.

use serde_json::{Value, json};

use super::audit;
use super::clock;
use super::integrity::{self, Checkpoint};
use super::key::Alias;
use super::session::{AuditInfo, Kms};
use super::store;
use crate::error::{Error, KmsError};
use crate::kms::{AuditFilter, RepairReport};

impl Kms {
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
        self.commit_checked(false, |_, _| Ok(((), vec![refused(self.clock.now())])))
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
        let mut o = self.open_for_audit()?;
        super::aliases::upgrade_aliases(&mut o.state);
        // An alias name is looked up in this handle's region and account; an alias ARN as is.
        let key = filter.key_id.as_deref().map(|k| {
            let arn = Alias::parse(k).map(|a| a.arn(&self.home_region));
            o.state
                .aliases
                .get(arn.as_deref().unwrap_or(k))
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
