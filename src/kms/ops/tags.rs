//! TagResource, UntagResource, ListResourceTags and UpdateKeyDescription: typed requests and
//! responses with AWS's member names, the service model's constraints, and the handlers
//! [`super::dispatch`] routes to.

use serde::{Deserialize, Serialize};

use super::shapes::{Empty, Validate};
use super::validate::Checks;
use super::{ApiError, key, page, store};
use crate::kms::{Kms, Tag};

/// A tag on the wire (`Tag`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct TagShape {
    /// 1 to 128 characters.
    pub tag_key: Option<String>,
    /// 0 to 256 characters.
    pub tag_value: Option<String>,
}

/// The model's constraints on a `TagList` member named `field`.
pub(crate) fn check_tags(c: &mut Checks, field: &str, tags: &Option<Vec<TagShape>>) {
    for t in tags.iter().flatten() {
        c.required(&format!("{field}.member.tagKey"), &t.tag_key);
        c.required(&format!("{field}.member.tagValue"), &t.tag_value);
        c.length(
            &format!("{field}.member.tagKey"),
            t.tag_key.as_deref(),
            (1, 128),
        );
        c.length(
            &format!("{field}.member.tagValue"),
            t.tag_value.as_deref(),
            (0, 256),
        );
    }
}

/// Tags of a validated request.
pub(crate) fn tags_of(tags: &Option<Vec<TagShape>>) -> Vec<Tag> {
    tags.iter()
        .flatten()
        .map(|t| Tag {
            tag_key: t.tag_key.clone().unwrap_or_default(),
            tag_value: t.tag_value.clone().unwrap_or_default(),
        })
        .collect()
}

/// `TagResource`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceRequest {
    /// The key.
    pub key_id: Option<String>,
    /// The tags to add or overwrite.
    pub tags: Option<Vec<TagShape>>,
}

impl Validate for TagResourceRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.required("tags", &self.tags);
        check_tags(c, "tags", &self.tags);
    }
}

/// `UntagResource`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceRequest {
    /// The key.
    pub key_id: Option<String>,
    /// The tag keys to remove.
    pub tag_keys: Option<Vec<String>>,
}

impl Validate for UntagResourceRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.required("tagKeys", &self.tag_keys);
        for k in self.tag_keys.iter().flatten() {
            c.length("tagKeys.member", Some(k), (1, 128));
        }
    }
}

/// `ListResourceTags`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsRequest {
    /// The key.
    pub key_id: Option<String>,
    /// 1 to 1000 (default 50).
    pub limit: Option<i64>,
    /// The `NextMarker` of the previous page.
    pub marker: Option<String>,
}

impl Validate for ListResourceTagsRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.page(self.limit, &self.marker);
    }
}

/// The response of `ListResourceTags`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsResponse {
    /// This page, sorted by tag key.
    pub tags: Vec<TagShape>,
    /// Where the next page starts, when `Truncated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Whether more pages follow.
    pub truncated: bool,
}

/// `UpdateKeyDescription`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateKeyDescriptionRequest {
    /// The key.
    pub key_id: Option<String>,
    /// 0 to 8192 characters.
    pub description: Option<String>,
}

impl Validate for UpdateKeyDescriptionRequest {
    fn check(&self, c: &mut Checks) {
        c.key_id("keyId", &self.key_id, true);
        c.required("description", &self.description);
        c.length("description", self.description.as_deref(), (0, 8192));
    }
}

pub(crate) fn tag_resource(kms: &Kms, r: TagResourceRequest) -> Result<Empty, ApiError> {
    store(kms.tag_resource(key(&r.key_id), &tags_of(&r.tags)))?;
    Ok(Empty {})
}

pub(crate) fn untag_resource(kms: &Kms, r: UntagResourceRequest) -> Result<Empty, ApiError> {
    store(kms.untag_resource(key(&r.key_id), r.tag_keys.as_deref().unwrap_or_default()))?;
    Ok(Empty {})
}

pub(crate) fn list_resource_tags(
    kms: &Kms,
    r: ListResourceTagsRequest,
) -> Result<ListResourceTagsResponse, ApiError> {
    let all = store(kms.list_resource_tags(key(&r.key_id)))?;
    let (page, next_marker, truncated) = page(all, r.limit, 50, &r.marker)?;
    Ok(ListResourceTagsResponse {
        tags: page
            .into_iter()
            .map(|t| TagShape {
                tag_key: Some(t.tag_key),
                tag_value: Some(t.tag_value),
            })
            .collect(),
        next_marker,
        truncated,
    })
}

pub(crate) fn update_key_description(
    kms: &Kms,
    r: UpdateKeyDescriptionRequest,
) -> Result<Empty, ApiError> {
    store(kms.update_key_description(key(&r.key_id), key(&r.description)))?;
    Ok(Empty {})
}
