//! Tags and descriptions of keys (TagResource, UntagResource, ListResourceTags,
//! UpdateKeyDescription, and `Tags` / `Origin` on CreateKey), with AWS's tag rules: a tag key
//! is 1 to 128 characters and may not start with `aws:` (any case), a value is 0 to 256
//! characters, a request names each tag key once, and a key holds at most [`MAX_TAGS`] tags.
//! A request past the count, or naming a key twice, is `TagException`, as AWS answers it
//! (AWS's own checks, as LocalStack's AWS-validated tests record them).

use serde_json::json;

use super::key::{KeyManager, KeyMetadata, KeySpec, KeyState};
use super::session::{Kms, Session};
use super::{import, validation};
use crate::error::{Error, KmsError};

/// Most tags one key holds (AWS's quota).
pub const MAX_TAGS: usize = 50;

/// One tag, with AWS's member names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// 1 to 128 characters, not starting with `aws:`.
    pub tag_key: String,
    /// 0 to 256 characters.
    pub tag_value: String,
}

/// What [`Kms::create_key_with`] makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKeyOptions {
    /// Free text, at most 8192 characters.
    pub description: String,
    /// The key spec.
    pub spec: KeySpec,
    /// Tags to put on the key.
    pub tags: Vec<Tag>,
    /// `Origin: EXTERNAL`: a key without material, PendingImport until ImportKeyMaterial
    /// (symmetric keys only).
    pub external: bool,
}

impl CreateKeyOptions {
    /// A key of `spec` with `description`, generated material and no tags.
    pub fn new(description: &str, spec: KeySpec) -> CreateKeyOptions {
        CreateKeyOptions {
            description: description.into(),
            spec,
            tags: Vec::new(),
            external: false,
        }
    }
}

/// Refuses a tag key AWS refuses (TagException): outside 1–128 characters, or in the
/// reserved `aws:` space (any case).
fn check_tag_key(key: &str) -> Result<(), Error> {
    let n = key.chars().count();
    if !(1..=128).contains(&n) {
        return Err(KmsError::Tag {
            reason: format!("a tag key must be 1 to 128 characters, got {n}"),
        }
        .into());
    }
    if key.len() >= 4 && key[..4].eq_ignore_ascii_case("aws:") {
        return Err(KmsError::Tag {
            reason: format!(
                "tag key {key:?} starts with aws:, which is reserved for AWS; use another prefix"
            ),
        }
        .into());
    }
    Ok(())
}

fn check_tag(t: &Tag) -> Result<(), Error> {
    check_tag_key(&t.tag_key)?;
    let n = t.tag_value.chars().count();
    if n > 256 {
        return Err(KmsError::Tag {
            reason: format!(
                "the value of tag {:?} must be 0 to 256 characters, got {n}",
                t.tag_key
            ),
        }
        .into());
    }
    Ok(())
}

impl Session<'_> {
    /// Adds or overwrites `tags` on key `i`, refusing the lot (nothing changes) when one breaks
    /// a rule or the key would hold more than [`MAX_TAGS`].
    fn add_tags(&mut self, i: usize, tags: &[Tag]) -> Result<(), Error> {
        for t in tags {
            check_tag(t)?;
        }
        let mut next = self.key(i).tags.clone();
        let mut named = std::collections::BTreeSet::new();
        for t in tags {
            if !named.insert(t.tag_key.as_str()) {
                return Err(KmsError::Tag {
                    reason: format!("duplicate tag keys: {:?} is named twice", t.tag_key),
                }
                .into());
            }
            next.insert(t.tag_key.clone(), t.tag_value.clone());
        }
        // Every key of `tags` is distinct (checked above), so `next` holds at least as many.
        if next.len() > MAX_TAGS {
            return Err(KmsError::Tag {
                reason: format!(
                    "too many tags: a key holds at most {MAX_TAGS}; key {} would hold {}",
                    self.key(i).metadata.key_id,
                    next.len()
                ),
            }
            .into());
        }
        self.state.keys[i].tags = next;
        Ok(())
    }

    /// Tagging and describing change a key: refused for keys pending deletion (AWS's key
    /// states table) and for the key angou manages itself.
    fn changeable(&self, i: usize, what: &str) -> Result<(), Error> {
        self.customer_managed(i, what)?;
        self.not_pending(i)
    }
}

fn tag_keys(tags: &[Tag]) -> Vec<&str> {
    tags.iter().map(|t| t.tag_key.as_str()).collect()
}

impl Kms {
    /// CreateKey with everything AWS's request carries that angou does: description, spec,
    /// tags and `Origin: EXTERNAL`.
    ///
    /// # Errors
    /// [`KmsError::Validation`] for a description over 8192 characters; [`KmsError::Tag`] for tags
    /// (out of bounds, `aws:`, a tag key twice, more than [`MAX_TAGS`]); [`KmsError::Unsupported`] for an `EXTERNAL` key
    /// of an RSA spec; store errors.
    pub fn create_key_with(&self, o: &CreateKeyOptions) -> Result<KeyMetadata, Error> {
        self.run_creating(
            "CreateKey",
            json!({"KeySpec": o.spec, "Description": o.description, "TagKeys": tag_keys(&o.tags),
                   "Origin": if o.external { "EXTERNAL" } else { "AWS_KMS" }}),
            |s| {
                if o.description.chars().count() > 8192 {
                    return Err(validation("description must be at most 8192 characters"));
                }
                for t in &o.tags {
                    check_tag(t)?;
                }
                if o.external && o.spec.rsa_bits().is_some() {
                    return Err(KmsError::Unsupported {
                        reason: "angou imports key material into SYMMETRIC_DEFAULT keys only"
                            .into(),
                    }
                    .into());
                }
                let mut meta = s.new_key(&o.description, o.spec, KeyManager::Customer)?;
                let i = s.state.keys.len() - 1;
                s.add_tags(i, &o.tags)?;
                if o.external {
                    let k = &mut s.state.keys[i];
                    k.materials.clear();
                    k.metadata.origin = import::ORIGIN_EXTERNAL.into();
                    k.metadata.key_state = KeyState::PendingImport;
                    k.metadata.enabled = false;
                    k.metadata.current_key_material_id = String::new();
                    s.info.material = None;
                    meta = k.metadata.clone();
                }
                Ok(meta)
            },
        )
    }

    /// TagResource: adds tags to a key, replacing the value of a tag key it already has.
    ///
    /// # Errors
    /// [`KmsError::Tag`] for a key or value out of bounds, an `aws:` key, a tag key named
    /// twice or more than [`MAX_TAGS`] tags on the key; [`KmsError::NotFound`];
    /// [`KmsError::InvalidState`] for a key pending deletion.
    pub fn tag_resource(&self, key: &str, tags: &[Tag]) -> Result<(), Error> {
        self.run(
            "TagResource",
            json!({"KeyId": key, "TagKeys": tag_keys(tags)}),
            |s| {
                let i = s.resolve(key)?;
                s.changeable(i, "tag")?;
                s.add_tags(i, tags)
            },
        )
    }

    /// UntagResource: removes tags by key (keys the key does not have are ignored, as in AWS).
    ///
    /// # Errors
    /// As [`Kms::tag_resource`].
    pub fn untag_resource(&self, key: &str, tag_keys: &[String]) -> Result<(), Error> {
        self.run(
            "UntagResource",
            json!({"KeyId": key, "TagKeys": tag_keys}),
            |s| {
                for k in tag_keys {
                    check_tag_key(k)?;
                }
                let i = s.resolve(key)?;
                s.changeable(i, "untag")?;
                let tags = &mut s.state.keys[i].tags;
                for k in tag_keys {
                    tags.remove(k);
                }
                Ok(())
            },
        )
    }

    /// ListResourceTags: a key's tags, sorted by tag key.
    ///
    /// # Errors
    /// [`KmsError::NotFound`].
    pub fn list_resource_tags(&self, key: &str) -> Result<Vec<Tag>, Error> {
        self.run("ListResourceTags", json!({"KeyId": key}), |s| {
            let i = s.resolve(key)?;
            Ok(s.key(i)
                .tags
                .iter()
                .map(|(k, v)| Tag {
                    tag_key: k.clone(),
                    tag_value: v.clone(),
                })
                .collect())
        })
    }

    /// UpdateKeyDescription.
    ///
    /// # Errors
    /// [`KmsError::Validation`] over 8192 characters; [`KmsError::NotFound`];
    /// [`KmsError::InvalidState`] for a key pending deletion.
    pub fn update_key_description(&self, key: &str, description: &str) -> Result<(), Error> {
        self.run(
            "UpdateKeyDescription",
            json!({"KeyId": key, "DescriptionLength": description.chars().count()}),
            |s| {
                if description.chars().count() > 8192 {
                    return Err(validation("description must be at most 8192 characters"));
                }
                let i = s.resolve(key)?;
                s.changeable(i, "describe")?;
                s.state.keys[i].metadata.description = description.into();
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            tag_key: k.into(),
            tag_value: v.into(),
        }
    }

    /// The tag rules hold at their edges, and a refused request changes nothing.
    #[test]
    fn tag_rules_hold_at_their_edges() {
        let dir = tempfile::tempdir().unwrap();
        let (k, id) = crate::kms::local::store_with_symmetric_key(dir.path());
        k.tag_resource(
            &id,
            &[tag(&"k".repeat(128), &"v".repeat(256)), tag("e", "")],
        )
        .unwrap();
        for bad in [
            tag("", "v"),
            tag(&"k".repeat(129), "v"),
            tag("ok", &"v".repeat(257)),
            tag("aws:x", "v"),
            tag("AWS:x", "v"),
            tag("Aws:", "v"),
        ] {
            let e = k.tag_resource(&id, &[tag("fine", "1"), bad]).unwrap_err();
            assert!(matches!(e, Error::Kms(KmsError::Tag { .. })), "{e:?}");
        }
        assert_eq!(k.list_resource_tags(&id).unwrap().len(), 2);
        let many: Vec<Tag> = (0..48).map(|n| tag(&format!("t{n}"), "x")).collect();
        k.tag_resource(&id, &many).unwrap();
        let e = k.tag_resource(&id, &[tag("one-more", "x")]).unwrap_err();
        assert!(matches!(e, Error::Kms(KmsError::Tag { .. })), "{e:?}");
        // One tag key twice in a request is refused, even under the count.
        let e = k
            .tag_resource(&id, &[tag("t1", "a"), tag("t1", "b")])
            .unwrap_err();
        assert!(matches!(e, Error::Kms(KmsError::Tag { .. })), "{e:?}");
        // Overwriting an existing tag key does not count as a new tag.
        k.tag_resource(&id, &[tag("t0", "y")]).unwrap();
        assert_eq!(k.list_resource_tags(&id).unwrap().len(), MAX_TAGS);
        k.untag_resource(&id, &["t0".into(), "absent".into()])
            .unwrap();
        assert_eq!(k.list_resource_tags(&id).unwrap().len(), MAX_TAGS - 1);
    }
}
