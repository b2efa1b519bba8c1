//! The allow-list: which KMS keys a file may be sent to for opening (strict and discovery
//! modes).

use std::collections::BTreeSet;

use super::Arn;
use crate::error::{Error, KmsError};

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
    /// [`FormatError::MalformedStanza`](crate::error::FormatError::MalformedStanza) for text
    /// that is not a key ARN.
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

    /// Parses a configured allow-list (the value of [`ALLOW_VAR`](super::ALLOW_VAR)): key ARNs
    /// separated by commas and/or white space; empty entries are ignored.
    ///
    /// # Errors
    /// As [`AllowPolicy::keys`].
    pub fn parse_list(text: &str) -> Result<AllowPolicy, Error> {
        let mut policy = AllowPolicy::default();
        policy.add_list(text)?;
        Ok(policy)
    }

    /// Adds the key ARNs of a configured allow-list (see [`AllowPolicy::parse_list`]).
    ///
    /// # Errors
    /// As [`AllowPolicy::keys`].
    pub fn add_list(&mut self, text: &str) -> Result<(), Error> {
        self.add_keys(
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
