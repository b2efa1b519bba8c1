//! Aliases: resolving a key reference (id, ARN, alias, alias ARN) in the caller's region and
//! account, and creating, moving, deleting and listing aliases.

use serde_json::json;
use time::Duration;

use super::clock;
use super::key::{self, Alias, Home, KeyId, KeyManager, KeySpec};
use super::session::{Kms, Session};
use super::store::{Rotation, State};
use super::{validation, wire_spec};
use crate::error::{Error, KmsError};
use crate::kms::AliasEntry;

/// Rewrites the aliases of a store written before aliases had a region (FORMAT.md §5.3):
/// such a store keys `aliases` by name (`alias/x`), one namespace for every region. Each such
/// alias now belongs to the region and account of the key it points at (the default home for
/// a key with the old ARN form or a key that is gone), keyed by its ARN there. An alias already
/// in the ARN form wins over an old one of the same name and home. Runs on the state as
/// verified, before each operation; the next commit seals the new form (as the old key ARN
/// form is handled).
pub(super) fn upgrade_aliases(state: &mut State) {
    if !state.aliases.keys().any(|k| k.starts_with("alias/")) {
        return;
    }
    let old: Vec<(String, String)> = state
        .aliases
        .iter()
        .filter(|(k, _)| k.starts_with("alias/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, target) in old {
        state.aliases.remove(&name);
        let home = state
            .keys
            .iter()
            .find(|k| k.metadata.key_id.as_str() == target)
            .map(|k| Home::of_arn(&k.metadata.arn))
            .unwrap_or_default();
        let arn = format!("arn:aws:kms:{}:{}:{name}", home.region(), home.account());
        state.aliases.entry(arn).or_insert(target);
    }
}

impl Session<'_> {
    /// Resolves a key id, key ARN, alias or alias ARN in the caller's region and account (an
    /// ARN of another region or account, or a key that lives elsewhere, is not found).
    /// `alias/angou/default` is created on first use.
    pub(super) fn resolve(&mut self, key_ref: &str) -> Result<usize, Error> {
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
            match self.state.aliases.get(&alias.arn(self.home)).cloned() {
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

    pub(super) fn create_default(&mut self) -> Result<usize, Error> {
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
        let default = Alias::parse(key::DEFAULT_ALIAS)?.arn(self.home);
        self.state.aliases.insert(default, meta.key_id.to_string());
        Ok(i)
    }

    /// UpdateAlias moves an alias only between keys of one type (symmetric or asymmetric) and
    /// one key usage, as AWS requires (ValidationException): a caller that encrypts under the
    /// alias must not find it now names a key of another kind.
    pub(super) fn same_kind_as(&self, current: &str, i: usize, alias: &str) -> Result<(), Error> {
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
}

impl Kms {
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
                if s.state.aliases.contains_key(&a.arn(s.home)) {
                    return Err(KmsError::AlreadyExists {
                        what: format!("alias {alias}"),
                    }
                    .into());
                }
                let i = s.resolve(target)?;
                s.not_pending(i)?;
                let id = s.key(i).metadata.key_id.to_string();
                s.state.aliases.insert(a.arn(s.home), id);
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
                let Some(current) = s.state.aliases.get(&a.arn(s.home)).cloned() else {
                    return Err(KmsError::NotFound {
                        what: format!("alias {alias}"),
                    }
                    .into());
                };
                let i = s.resolve(target)?;
                s.not_pending(i)?;
                s.same_kind_as(&current, i, alias)?;
                let id = s.key(i).metadata.key_id.to_string();
                s.state.aliases.insert(a.arn(s.home), id);
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
                .remove(&a.arn(s.home))
                .map(|_| ())
                .ok_or_else(|| {
                    KmsError::NotFound {
                        what: format!("alias {alias}"),
                    }
                    .into()
                })
        })
    }

    /// Lists the aliases of this handle's region and account (an alias belongs to the region
    /// and account it was created in, as on AWS; the same name may exist in another region),
    /// optionally only those of one key.
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
            Ok(s.state
                .aliases
                .iter()
                .filter(|(_, t)| only.as_ref().is_none_or(|o| o == *t))
                .filter_map(|(arn, target)| match Home::split_arn(arn) {
                    Some((h, name)) if h == *home => Some(AliasEntry {
                        alias_name: name.to_owned(),
                        alias_arn: arn.clone(),
                        target_key_id: target.clone(),
                    }),
                    _ => None,
                })
                .collect())
        })
    }
}
