//! Encryption context: a string-to-string map bound to a ciphertext as associated data.
//!
//! Canonical encoding (docs/FORMAT.md §5.2): entries sorted by key bytes, then
//! `u32 count ‖ (u32 len(key) ‖ key ‖ u32 len(value) ‖ value)*`, big-endian lengths.
//! Order-insensitive, case-sensitive, and injective: `{"a":"bc"}` and `{"ab":"c"}` differ.

use std::collections::BTreeMap;

use crate::error::KmsError;

/// An encryption context (AWS KMS `EncryptionContext`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// The empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces one entry.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    /// Parses `key=value` (the CLI's `-c`). The first `=` splits; the key must be non-empty.
    ///
    /// # Errors
    /// [`KmsError::Validation`] without an `=` or with an empty key.
    pub fn parse_pair(text: &str) -> Result<(String, String), KmsError> {
        match text.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err(KmsError::Validation {
                reason: format!("encryption context entry {text:?} must look like key=value"),
            }),
        }
    }

    /// Parses a JSON object of strings.
    ///
    /// # Errors
    /// [`KmsError::Validation`] for anything else.
    pub fn from_json(text: &str) -> Result<Self, KmsError> {
        serde_json::from_str(text).map_err(|_| KmsError::Validation {
            reason: "encryption context JSON must be an object of string values".into(),
        })
    }

    /// The entries, sorted.
    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The canonical, length-prefixed encoding bound as associated data.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.0.len() as u32).to_be_bytes());
        for (k, v) in &self.0 {
            for part in [k, v] {
                out.extend_from_slice(&(part.len() as u32).to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }
}

impl FromIterator<(String, String)> for EncryptionContext {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        EncryptionContext(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_collisions_and_order_insensitive() {
        assert_ne!(
            ctx(&[("a", "bc")]).canonical_bytes(),
            ctx(&[("ab", "c")]).canonical_bytes()
        );
        assert_ne!(
            ctx(&[("a", "b"), ("c", "")]).canonical_bytes(),
            ctx(&[("a", "b\0\0\0\0c")]).canonical_bytes()
        );
        assert_eq!(
            ctx(&[("x", "1"), ("y", "2")]).canonical_bytes(),
            ctx(&[("y", "2"), ("x", "1")]).canonical_bytes()
        );
        assert_ne!(
            ctx(&[("A", "1")]).canonical_bytes(),
            ctx(&[("a", "1")]).canonical_bytes()
        );
        assert_eq!(EncryptionContext::new().canonical_bytes(), vec![0, 0, 0, 0]);
    }

    #[test]
    fn parses_pairs() {
        assert_eq!(
            EncryptionContext::parse_pair("k=v=w").unwrap(),
            ("k".into(), "v=w".into())
        );
        assert!(EncryptionContext::parse_pair("=v").is_err());
        assert!(EncryptionContext::parse_pair("kv").is_err());
    }
}
