//! The `angou.dev/v1/aws-kms` stanza: a file key wrapped by a KMS key that lives in AWS KMS or
//! any KMS that speaks its API (docs/FORMAT.md §5.8).
//!
//! ```text
//! -> angou.dev/v1/aws-kms arn:<partition>:kms:<region>:<account>:key/<key id>
//! <base64 body: the KMS's CiphertextBlob of the 16-byte file key, 1 to 6,144 bytes>
//! ```
//!
//! The format layer knows only the stanza's shape and the [`Arn`] grammar; wrapping and
//! unwrapping through a KMS is `angou::kms::envelope`.

use core::fmt;

use crate::error::FormatError;

use super::{Stanza, stanza_err};

/// Stanza type of a file key wrapped by a key in AWS KMS or a KMS-compatible endpoint.
pub const AWS_KMS_STANZA: &str = "angou.dev/v1/aws-kms";
/// Longest body of an `aws-kms` stanza, in bytes: the KMS API's `CiphertextBlob` limit.
pub const AWS_KMS_MAX_BODY_LEN: usize = 6144;
/// Longest ARN angou accepts, in characters (AWS's key ARNs are under 100; alias names are at
/// most 256).
const MAX_ARN_LEN: usize = 320;

/// An ARN of a KMS key (`arn:aws:kms:us-east-1:111122223333:key/<id>`) or of an alias
/// (`…:alias/<name>`), checked against the grammar AWS documents for KMS ARNs.
///
/// * partition: `aws` or `aws-` and lower-case words (`aws-cn`, `aws-us-gov`, …);
/// * region: lower-case letters and digits in `-`-separated words (`us-east-1`), at most 32;
/// * account: exactly 12 digits;
/// * key id: a lower-case UUID, or `mrk-` and 32 lower-case hex digits (multi-Region keys);
/// * alias name: `alias/` and 1 to 250 of `a-zA-Z0-9/_-`.
///
/// Anything else is refused, never repaired: the ARN decides where a request goes, so it must
/// mean exactly one thing.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arn {
    text: String,
    partition: String,
    region: String,
    account: String,
    alias: bool,
}

/// Why text is not a KMS ARN (for messages; names the rule, never repeats the text).
fn refuse(reason: &'static str) -> FormatError {
    stanza_err(AWS_KMS_STANZA, reason)
}

fn is_word_list(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_key_id(id: &str) -> bool {
    if let Some(hex) = id.strip_prefix("mrk-") {
        return hex.len() == 32 && is_lower_hex(hex);
    }
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && is_lower_hex(p))
}

impl Arn {
    /// Parses a key ARN or an alias ARN.
    ///
    /// # Errors
    /// [`FormatError::MalformedStanza`] (type `angou.dev/v1/aws-kms`) naming the part that
    /// breaks the grammar.
    pub fn parse(text: &str) -> Result<Arn, FormatError> {
        if text.len() > MAX_ARN_LEN {
            return Err(refuse("the key ARN is longer than 320 characters"));
        }
        let mut parts = text.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("kms"), Some(region), Some(account), Some(res)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(refuse(
                "the key is not an ARN of the form arn:<partition>:kms:<region>:<account>:key/<id>",
            ));
        };
        let partition_ok = partition == "aws"
            || partition.strip_prefix("aws-").is_some_and(|rest| {
                is_word_list(rest) && !rest.bytes().any(|b| b.is_ascii_digit())
            });
        if !partition_ok || partition.len() > 32 {
            return Err(refuse("the ARN's partition is not aws or aws-<name>"));
        }
        if !is_word_list(region) || region.len() > 32 {
            return Err(refuse("the ARN's region is not a region name"));
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse("the ARN's account is not 12 digits"));
        }
        let alias = if let Some(id) = res.strip_prefix("key/") {
            if !is_key_id(id) {
                return Err(refuse(
                    "the ARN's key id is not a lower-case UUID or mrk- and 32 hex digits",
                ));
            }
            false
        } else if let Some(name) = res.strip_prefix("alias/") {
            let ok = (1..=250).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'));
            if !ok {
                return Err(refuse(
                    "the ARN's alias name is not 1 to 250 of a-zA-Z0-9/_-",
                ));
            }
            true
        } else {
            return Err(refuse("the ARN names neither key/<id> nor alias/<name>"));
        };
        Ok(Arn {
            text: text.to_owned(),
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            alias,
        })
    }

    /// Parses a key ARN: an alias ARN is refused.
    ///
    /// # Errors
    /// As [`Arn::parse`], and for an alias ARN.
    pub fn parse_key(text: &str) -> Result<Arn, FormatError> {
        let arn = Arn::parse(text)?;
        if arn.alias {
            return Err(refuse("the argument is an alias ARN, expected a key ARN"));
        }
        Ok(arn)
    }

    /// Whether `text` looks meant as a KMS ARN (`arn:` then a partition then `:kms:`), valid or
    /// not: how the CLI tells an ARN from a local key id or alias.
    pub fn looks_like(text: &str) -> bool {
        let mut parts = text.splitn(4, ':');
        parts.next() == Some("arn") && parts.nth(1) == Some("kms")
    }

    /// The ARN as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The partition (`aws`, `aws-cn`, …).
    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// The region (`us-east-1`, …): which KMS the key lives in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The 12-digit account id.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Whether this is an alias ARN rather than a key ARN.
    pub fn is_alias(&self) -> bool {
        self.alias
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Arn({})", self.text)
    }
}

/// The shape of an `aws-kms` stanza: one argument that is a key ARN, a body of 1 to 6,144
/// bytes.
pub(super) fn check(stanza: &Stanza) -> Result<(), FormatError> {
    if stanza.args.len() != 1 {
        return Err(refuse("expected exactly one argument (the key ARN)"));
    }
    Arn::parse_key(&stanza.args[0])?;
    if !(1..=AWS_KMS_MAX_BODY_LEN).contains(&stanza.body.len()) {
        return Err(refuse("body is not a KMS ciphertext of 1 to 6144 bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn arns_follow_the_grammar() {
        let k = Arn::parse_key(KEY).unwrap();
        assert_eq!(
            (k.partition(), k.region(), k.account(), k.is_alias()),
            ("aws", "us-east-1", "111122223333", false)
        );
        for good in [
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
            "arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eusc-de-east-1:111122223333:alias/app/key_1-x",
        ] {
            assert!(Arn::parse(good).is_ok(), "{good}");
        }
        assert!(
            Arn::parse("arn:aws:kms:us-east-1:111122223333:alias/x")
                .unwrap()
                .is_alias()
        );
        for bad in [
            "",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/x",
            "arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:evil:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws-1:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:US-EAST-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1.evil.example:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms::111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us--east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:11112222333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:key/1234ABCD-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab/x",
            "arn:aws:kms:us-east-1:111122223333:key/mrk-1234",
            "arn:aws:kms:us-east-1:111122223333:alias/",
            "arn:aws:kms:us-east-1:111122223333:alias/a b",
            "arn:aws:kms:us-east-1:111122223333:other/x",
        ] {
            assert!(Arn::parse(bad).is_err(), "{bad}");
        }
        assert!(Arn::parse_key("arn:aws:kms:us-east-1:111122223333:alias/x").is_err());
        assert!(Arn::looks_like("arn:aws:kms:whatever"));
        assert!(!Arn::looks_like("alias/x"));
        assert!(!Arn::looks_like("1234abcd-12ab-34cd-56ef-1234567890ab"));
    }

    #[test]
    fn stanza_shape_is_strict() {
        let ok = Stanza {
            kind: AWS_KMS_STANZA.into(),
            args: vec![KEY.into()],
            body: vec![7; 184],
        };
        assert!(check(&ok).is_ok());
        let mut longest = ok.clone();
        longest.body = vec![7; AWS_KMS_MAX_BODY_LEN];
        assert!(check(&longest).is_ok());
        let mut too_long = ok.clone();
        too_long.body.push(0);
        too_long.body = vec![7; AWS_KMS_MAX_BODY_LEN + 1];
        let mut empty = ok.clone();
        empty.body.clear();
        let mut alias = ok.clone();
        alias.args = vec!["arn:aws:kms:us-east-1:111122223333:alias/x".into()];
        let mut two = ok.clone();
        two.args.push(KEY.into());
        let mut none = ok.clone();
        none.args.clear();
        let mut bare = ok.clone();
        bare.args = vec!["1234abcd-12ab-34cd-56ef-1234567890ab".into()];
        for bad in [too_long, empty, alias, two, none, bare] {
            assert!(
                matches!(
                    super::super::check_stanza(&bad),
                    Err(FormatError::MalformedStanza {
                        kind: AWS_KMS_STANZA,
                        ..
                    })
                ),
                "{:?}",
                bad.args
            );
        }
    }
}
