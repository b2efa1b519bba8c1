//! Taking imported material away: DeleteImportedKeyMaterial, and material whose `ValidTo`
//! has passed.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::super::clock;
use super::super::material::stored_material_id;
use super::super::session::{AuditInfo, Kms};
use super::super::store::State;
use super::{ImportedMaterial, ORIGIN_EXTERNAL};
use crate::error::{Error, KmsError};
use crate::kms::KeyState;

impl Kms {
    /// DeleteImportedKeyMaterial: deletes one imported material (the current one when
    /// `material` is `None`); the key is PendingImport (unless pending deletion) until the
    /// same material is imported again. Material waiting for rotation is simply dropped.
    ///
    /// # Errors
    /// [`KmsError::Unsupported`] for a key not created with Origin EXTERNAL;
    /// [`KmsError::NotFound`] for an unknown material id.
    pub fn delete_imported_key_material(
        &self,
        key: &str,
        material: Option<&str>,
    ) -> Result<(String, String), Error> {
        self.run(
            "DeleteImportedKeyMaterial",
            json!({"KeyId": key, "KeyMaterialId": material}),
            |s| {
                let i = s.resolve(key)?;
                s.external(i)?;
                let k = &s.key(i);
                let target = material
                    .unwrap_or(&k.metadata.current_key_material_id)
                    .to_owned();
                let pending = k
                    .import
                    .as_ref()
                    .and_then(|x| x.pending_rotation.as_ref())
                    .is_some_and(|p| {
                        stored_material_id(p.key_material_id.as_ref(), p.id) == target
                    });
                let arn = k.metadata.arn.clone();
                if pending {
                    if let Some(x) = s.state.keys[i].import.as_mut() {
                        x.pending_rotation = None;
                    }
                    return Ok((arn, target));
                }
                let Some(p) = k
                    .materials
                    .iter()
                    .position(|m| stored_material_id(m.key_material_id.as_ref(), m.id) == target)
                else {
                    return Err(KmsError::NotFound {
                        what: format!("key material {target} of key {}", k.metadata.key_id),
                    }
                    .into());
                };
                s.info.material = Some(target.clone());
                delete_material(&mut s.state.keys[i], p);
                Ok((arn, target))
            },
        )
    }

    /// Deletes imported material whose `ValidTo` has passed (run by every operation, before it).
    pub(in crate::kms::local) fn expire_imported(
        &self,
        state: &mut State,
        now: OffsetDateTime,
    ) -> Vec<Map<String, Value>> {
        let due = |x: &ImportedMaterial| {
            !x.deleted
                && x.valid_to
                    .as_deref()
                    .and_then(|t| clock::parse_time(t).ok())
                    .is_some_and(|t| t <= now)
        };
        let mut entries = Vec::new();
        for k in state.keys.iter_mut() {
            if k.metadata.origin != ORIGIN_EXTERNAL {
                continue;
            }
            if let Some(x) = k.import.as_mut() {
                x.wrapping
                    .retain(|w| clock::parse_time(&w.expires).is_ok_and(|t| t > now));
                if x.pending_rotation
                    .as_ref()
                    .is_some_and(|p| due(&p.imported))
                {
                    x.pending_rotation = None;
                }
            }
            let expired: Vec<usize> = (0..k.materials.len())
                .filter(|p| k.materials[*p].imported.as_ref().is_some_and(due))
                .collect();
            for p in expired {
                let info = AuditInfo {
                    key_id: Some(k.metadata.key_id.to_string()),
                    material: Some(stored_material_id(
                        k.materials[p].key_material_id.as_ref(),
                        k.materials[p].id,
                    )),
                    ..Default::default()
                };
                delete_material(k, p);
                entries.push(self.entry(
                    now,
                    "DeleteImportedKeyMaterial",
                    json!({"reason": "key material expired"}),
                    &info,
                    None,
                ));
            }
        }
        entries
    }
}

/// Forgets material `p` of `k` (keeping its commitment) and puts the key in PendingImport.
fn delete_material(k: &mut super::super::store::StoredKey, p: usize) {
    let m = &mut k.materials[p];
    m.wrapped = String::new();
    if let Some(x) = m.imported.as_mut() {
        x.deleted = true;
    }
    if k.metadata.key_state != KeyState::PendingDeletion {
        k.metadata.key_state = KeyState::PendingImport;
        k.metadata.enabled = false;
    }
}
