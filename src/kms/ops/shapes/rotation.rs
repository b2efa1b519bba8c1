//! Rotation: `EnableKeyRotation`, `GetKeyRotationStatus` and `ListKeyRotations`.

use serde::{Deserialize, Serialize};

use super::Validate;
use crate::kms::ops::validate::Checks;

/// `EnableKeyRotation`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnableKeyRotationRequest {
    /// The key.
    pub key_id: Option<String>,
    /// 90 to 2560 (default 365).
    pub rotation_period_in_days: Option<i64>,
}

impl Validate for EnableKeyRotationRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.range(
            "rotationPeriodInDays",
            self.rotation_period_in_days,
            (90, 2560),
        );
    }
}

/// The response of `GetKeyRotationStatus`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyRotationStatusResponse {
    /// Whether automatic rotation is on.
    pub key_rotation_enabled: bool,
    /// The key ARN.
    pub key_id: String,
    /// The period, when on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<u32>,
    /// The next automatic rotation, epoch seconds, when on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<f64>,
}

/// `ListKeyRotations`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyRotationsRequest {
    /// The key.
    pub key_id: Option<String>,
    /// `ROTATIONS_ONLY` (default) or `ALL_KEY_MATERIAL` (the initial material too).
    pub include_key_material: Option<String>,
    /// 1 to 1000 (default 100).
    pub limit: Option<i64>,
    /// The `NextMarker` of the previous page.
    pub marker: Option<String>,
}

impl Validate for ListKeyRotationsRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.one_of(
            "includeKeyMaterial",
            self.include_key_material.as_deref(),
            &["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"],
        );
        c.page(self.limit, &self.marker);
    }
}

/// One entry of `ListKeyRotations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationsListEntry {
    /// The key id.
    pub key_id: String,
    /// When the material was made, epoch seconds.
    pub rotation_date: f64,
    /// `AUTOMATIC` or `ON_DEMAND` (`INITIAL` with `ALL_KEY_MATERIAL` is angou's name for
    /// the first material).
    pub rotation_type: String,
    /// The key material: 64 hex digits (8 for material made before angou 0.x named them so).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

/// The response of `ListKeyRotations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyRotationsResponse {
    /// This page.
    pub rotations: Vec<RotationsListEntry>,
    /// Where the next page starts, when `Truncated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether more pages follow.
    pub truncated: bool,
}
