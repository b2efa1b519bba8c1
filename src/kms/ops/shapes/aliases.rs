//! Aliases: `CreateAlias`, `UpdateAlias`, `DeleteAlias` and `ListAliases`.

use serde::{Deserialize, Serialize};

use super::Validate;
use crate::kms::ops::validate::Checks;

fn alias_name(c: &mut Checks, value: &Option<String>) {
    c.required("aliasName", value);
    c.length("aliasName", value.as_deref(), (1, 256));
    c.pattern("aliasName", value.as_deref(), "^[a-zA-Z0-9:/_-]+$", |ch| {
        ch.is_ascii_alphanumeric() || matches!(ch, ':' | '/' | '_' | '-')
    });
}

/// `CreateAlias` and `UpdateAlias`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasRequest {
    /// `alias/…`.
    pub alias_name: Option<String>,
    /// The key.
    pub target_key_id: Option<String>,
}

impl Validate for AliasRequest {
    fn check(&self, c: &mut Checks) {
        alias_name(c, &self.alias_name);
        c.key_id("targetKeyId", &self.target_key_id, true);
    }
}

/// `DeleteAlias`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAliasRequest {
    /// `alias/…`.
    pub alias_name: Option<String>,
}

impl Validate for DeleteAliasRequest {
    fn check(&self, c: &mut Checks) {
        alias_name(c, &self.alias_name);
    }
}

/// `ListAliases`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesRequest {
    /// Only the aliases of this key.
    pub key_id: Option<String>,
    /// 1 to 1000 (default 50).
    pub limit: Option<i64>,
    /// The `NextMarker` of the previous page.
    pub marker: Option<String>,
}

impl Validate for ListAliasesRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, false);
        c.page(self.limit, &self.marker);
    }
}

/// One entry of `ListAliases`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasListEntry {
    /// `alias/…`.
    pub alias_name: String,
    /// The alias ARN.
    pub alias_arn: String,
    /// The key id it points at.
    pub target_key_id: String,
}

/// The response of `ListAliases`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    /// This page.
    pub aliases: Vec<AliasListEntry>,
    /// Where the next page starts, when `Truncated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether more pages follow.
    pub truncated: bool,
}
