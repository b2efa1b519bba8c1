//! Constraints of the AWS KMS service model (lengths, ranges, patterns, enums), checked once
//! with AWS's `ValidationException` wording: "1 validation error detected: Value 'x' at
//! 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048".

use super::error::{ApiError, ErrorKind};

/// The model's `KeyIdType` length bounds.
pub(crate) const KEY_ID_LEN: (usize, usize) = (1, 2048);
/// The model's `LimitType` range.
pub(crate) const LIMIT: (i64, i64) = (1, 1000);
/// The model's `MarkerType` length bounds.
pub(crate) const MARKER_LEN: (usize, usize) = (1, 1024);
/// The model's `NumberOfBytesType` range.
pub(crate) const NUMBER_OF_BYTES: (i64, i64) = (1, 1024);
/// The model's `CiphertextType` length bounds (bytes).
pub(crate) const CIPHERTEXT_LEN: (usize, usize) = (1, 6144);
/// The model's `PlaintextType` length bounds (bytes).
pub(crate) const PLAINTEXT_LEN: (usize, usize) = (1, 4096);
/// The model's `GrantTokenList` length bound, and `GrantTokenType` length bounds.
pub(crate) const GRANT_TOKENS: usize = 10;
pub(crate) const GRANT_TOKEN_LEN: (usize, usize) = (1, 8192);
/// The model's `EncryptionAlgorithmSpec` values.
pub(crate) const ENCRYPTION_ALGORITHMS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];

/// Collects every constraint a request breaks, then reports them all at once as AWS does.
#[derive(Debug, Default)]
pub struct Checks {
    found: Vec<String>,
}

fn quoted(value: &str) -> String {
    value.replace('\'', "\\'")
}

impl Checks {
    fn fail(&mut self, value: Option<&str>, field: &str, rule: String) {
        self.found.push(match value {
            Some(v) => format!(
                "Value '{}' at '{field}' failed to satisfy constraint: {rule}",
                quoted(v)
            ),
            None => format!("Value at '{field}' failed to satisfy constraint: {rule}"),
        });
    }

    /// A required member.
    pub(crate) fn required<T>(&mut self, field: &str, value: &Option<T>) {
        if value.is_none() {
            self.found.push(format!(
                "Value null at '{field}' failed to satisfy constraint: Member must not be null"
            ));
        }
    }

    /// A string's length, in characters, within `(min, max)`.
    pub(crate) fn length(&mut self, field: &str, value: Option<&str>, (min, max): (usize, usize)) {
        let Some(v) = value else { return };
        let n = v.chars().count();
        if n < min {
            self.fail(
                Some(v),
                field,
                format!("Member must have length greater than or equal to {min}"),
            );
        } else if n > max {
            self.fail(
                Some(v),
                field,
                format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// A blob's length, in bytes; the value is not repeated (it may be a secret).
    pub(crate) fn blob_length(
        &mut self,
        field: &str,
        len: Option<usize>,
        (min, max): (usize, usize),
    ) {
        let Some(n) = len else { return };
        if n < min {
            self.fail(
                None,
                field,
                format!("Member must have length greater than or equal to {min}"),
            );
        } else if n > max {
            self.fail(
                None,
                field,
                format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// An integer within `(min, max)`.
    pub(crate) fn range(&mut self, field: &str, value: Option<i64>, (min, max): (i64, i64)) {
        let Some(v) = value else { return };
        let text = v.to_string();
        if v < min {
            self.fail(
                Some(&text),
                field,
                format!("Member must have value greater than or equal to {min}"),
            );
        } else if v > max {
            self.fail(
                Some(&text),
                field,
                format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// One of an enum's values.
    pub(crate) fn one_of(&mut self, field: &str, value: Option<&str>, values: &[&str]) {
        let Some(v) = value else { return };
        if !values.contains(&v) {
            self.fail(
                Some(v),
                field,
                format!(
                    "Member must satisfy enum value set: [{}]",
                    values.join(", ")
                ),
            );
        }
    }

    /// Every character passes `ok`; `pattern` is the model's pattern, for the message.
    pub(crate) fn pattern(
        &mut self,
        field: &str,
        value: Option<&str>,
        pattern: &str,
        ok: impl Fn(char) -> bool,
    ) {
        let Some(v) = value else { return };
        if !v.chars().all(ok) {
            self.fail(
                Some(v),
                field,
                format!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// A key id, key ARN, alias name or alias ARN: 1 to 2048 characters, and there when
    /// `required`.
    pub(crate) fn key_id(&mut self, field: &str, value: &Option<String>, required: bool) {
        if required {
            self.required(field, value);
        }
        self.length(field, value.as_deref(), KEY_ID_LEN);
    }

    /// A required ciphertext blob (of `len` bytes when there), 1 to 6144 bytes.
    pub(crate) fn ciphertext(&mut self, field: &str, len: Option<usize>) {
        self.required(field, &len);
        self.blob_length(field, len, CIPHERTEXT_LEN);
    }

    /// `Limit` (1 to 1000) and `Marker` of a paged list.
    pub(crate) fn page(&mut self, limit: Option<i64>, marker: &Option<String>) {
        self.range("limit", limit, LIMIT);
        self.marker(marker.as_deref());
    }

    /// `GrantTokens`: at most 10, each 1 to 8192 characters.
    pub(crate) fn grant_tokens(&mut self, value: &Option<Vec<String>>) {
        let Some(tokens) = value else { return };
        if tokens.len() > GRANT_TOKENS {
            self.fail(
                None,
                "grantTokens",
                format!("Member must have length less than or equal to {GRANT_TOKENS}"),
            );
        }
        for t in tokens {
            self.length("grantTokens.member", Some(t), GRANT_TOKEN_LEN);
        }
    }

    /// `Marker`: 1 to 1024 characters of U+0020 to U+00FF.
    pub(crate) fn marker(&mut self, value: Option<&str>) {
        self.length("marker", value, MARKER_LEN);
        self.pattern("marker", value, "[\\u0020-\\u00FF]*", |c| {
            ('\u{20}'..='\u{ff}').contains(&c)
        });
    }

    /// `Ok` when nothing was found, else one `ValidationException` naming everything.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        match self.found.len() {
            0 => Ok(()),
            1 => Err(ApiError::new(
                ErrorKind::Validation,
                format!("1 validation error detected: {}", self.found[0]),
            )),
            n => Err(ApiError::new(
                ErrorKind::Validation,
                format!("{n} validation errors detected: {}", self.found.join("; ")),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_aws_wording() {
        let mut c = Checks::default();
        c.length("keyId", Some(""), KEY_ID_LEN);
        let e = c.finish().unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        let mut c = Checks::default();
        c.range("numberOfBytes", Some(2000), NUMBER_OF_BYTES);
        c.one_of("keySpec", Some("AES_512"), &["AES_256", "AES_128"]);
        let e = c.finish().unwrap_err();
        assert!(e.message.starts_with("2 validation errors detected: Value '2000' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024; "));
        assert!(
            e.message
                .ends_with("Member must satisfy enum value set: [AES_256, AES_128]")
        );
    }
}
