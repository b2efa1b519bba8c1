//! Key lifecycle: creating and describing keys, enabling and disabling, scheduled deletion,
//! automatic and on-demand rotation, and the state checks the other operations share.

use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use super::clock;
use super::key::{Home, KeyId, KeyManager, KeyMetadata, KeySpec, KeyState};
use super::material::{add_material, material_name, stored_material_id};
use super::session::{AuditInfo, Kms, Session};
use super::store::{Rotation, State, StoredKey};
use super::{import, validation};
use crate::aead::Key;
use crate::error::{Error, KmsError};
use crate::kms::{
    KeyRotation, MAX_ON_DEMAND_ROTATIONS, PENDING_WINDOW_DAYS, ROTATION_PERIOD_DAYS, RotationStatus,
};

impl Kms {
    /// Purges keys whose deletion date has passed and performs due automatic rotations.
    pub(super) fn maintain(
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
                material: Some(material_name(k, id)),
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

impl Session<'_> {
    pub(super) fn index(&self, id: &KeyId) -> Option<usize> {
        self.state
            .keys
            .iter()
            .position(|k| &k.metadata.key_id == id)
    }

    /// Whether key `i` lives in the caller's region and account.
    pub(super) fn here(&self, i: usize) -> bool {
        Home::of_arn(&self.key(i).metadata.arn) == *self.home
    }

    pub(super) fn new_key(
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
        self.info.material = Some(material_name(&k, m));
        let meta = k.metadata.clone();
        self.state.keys.push(k);
        Ok(meta)
    }

    pub(super) fn key(&self, i: usize) -> &StoredKey {
        &self.state.keys[i]
    }

    pub(super) fn usable(&self, i: usize) -> Result<(), Error> {
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

    pub(super) fn customer_managed(&self, i: usize, what: &str) -> Result<(), Error> {
        let m = &self.key(i).metadata;
        if m.key_manager == KeyManager::Angou {
            return Err(KmsError::Unsupported {
                reason: format!("key {} is managed by angou; you cannot {what} it", m.key_id),
            }
            .into());
        }
        Ok(())
    }

    pub(super) fn not_pending(&self, i: usize) -> Result<(), Error> {
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

    /// Data keys come from symmetric keys only, as in AWS (InvalidKeyUsageException).
    pub(super) fn data_key_capable(&self, i: usize) -> Result<(), Error> {
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

    pub(super) fn symmetric(&self, i: usize, what: &str) -> Result<(), Error> {
        if self.key(i).metadata.key_spec.rsa_bits().is_some() {
            return Err(KmsError::Unsupported {
                reason: format!("angou cannot {what} RSA keys; create a new key instead"),
            }
            .into());
        }
        Ok(())
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
            s.info.material = Some(material_name(k, m));
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
                    key_material_id: stored_material_id(m.key_material_id.as_ref(), m.id),
                    rotation_date: m.created.clone(),
                    rotation_type: m.kind.clone(),
                })
                .collect())
        })
    }
}
