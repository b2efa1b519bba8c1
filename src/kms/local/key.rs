//! Key identity and lifecycle: ids, aliases, specs, states, metadata with the cloud's field names.
//!
//! Allowed state transitions:
//!
//! | from | operation | to |
//! | --- | --- | --- |
//! | Enabled | disable-key | Disabled |
//! | Disabled | enable-key | Enabled |
//! | Enabled, Disabled | schedule-key-deletion | PendingDeletion |
//! | PendingDeletion | cancel-key-deletion | Disabled |
//! | PendingDeletion | window passes | purged (with its aliases) |
//! | (create-key --origin EXTERNAL) | | PendingImport |
//! | PendingImport | import-key-material | Enabled |
//! | Enabled, Disabled | delete-imported-key-material, material expires | PendingImport |
//! | PendingDeletion | cancel-key-deletion, no usable material | PendingImport |

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::error::KmsError;

/// The account of keys made without naming one (the placeholder other local emulators use).
pub const DEFAULT_ACCOUNT: &str = "000000000000";
/// The region of keys made without naming one.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The prefix of ARNs written before angou used real AWS ARNs (region `local`, account
/// `000000000000`): still accepted as a key reference, and upgraded in the store to
/// [`DEFAULT_REGION`] and [`DEFAULT_ACCOUNT`].
pub(crate) const LEGACY_ARN_PREFIX: &str = "arn:angou:kms:local:000000000000:";

/// A key's id: a lower-case UUID (version 4, random).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// A fresh random id.
    ///
    /// # Errors
    /// [`crate::Error::Rng`].
    pub fn generate() -> Result<KeyId, crate::Error> {
        let mut b: [u8; 16] = crate::secret::random_array()?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Ok(KeyId::from_bytes(b))
    }

    /// Parses a UUID-shaped id.
    ///
    /// # Errors
    /// [`KmsError::NotFound`] style validation is left to the store; this only checks the shape.
    pub fn parse(text: &str) -> Option<KeyId> {
        let ok = text.len() == 36
            && text.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
            });
        ok.then(|| KeyId(text.to_owned()))
    }

    /// The 16 bytes of the UUID (for the ciphertext blob).
    pub fn to_bytes(&self) -> [u8; 16] {
        let digits: String = self.0.chars().filter(|c| *c != '-').collect();
        let mut out = [0u8; 16];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).unwrap_or(0);
        }
        out
    }

    /// The id from the 16 bytes of a UUID.
    pub fn from_bytes(b: [u8; 16]) -> KeyId {
        let h = hex(&b);
        KeyId(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        ))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's ARN in `region` and `account`: `arn:aws:kms:<region>:<account>:key/<id>`.
    pub fn arn(&self, home: &Home) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{}",
            home.region, home.account, self.0
        )
    }
}

/// Where a key lives: an AWS region name and a 12-digit account id. A key belongs to the
/// region and account it was created in and is not found from another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Home {
    region: String,
    account: String,
}

impl Default for Home {
    fn default() -> Self {
        Home {
            region: DEFAULT_REGION.into(),
            account: DEFAULT_ACCOUNT.into(),
        }
    }
}

impl Home {
    /// A region and an account.
    ///
    /// # Errors
    /// [`KmsError::Validation`] unless the region is 1 to 32 lower-case letters, digits and
    /// `-` (as `us-east-1`), and the account is 12 digits.
    pub fn new(region: &str, account: &str) -> Result<Home, KmsError> {
        let region_ok = (1..=32).contains(&region.len())
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(KmsError::Validation {
                reason: format!(
                    "region {:?} is not a region name, expected lower-case letters, digits and - (as us-east-1)",
                    region.chars().take(40).collect::<String>()
                ),
            });
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(KmsError::Validation {
                reason: format!(
                    "account id {:?} is not 12 digits",
                    account.chars().take(40).collect::<String>()
                ),
            });
        }
        Ok(Home {
            region: region.into(),
            account: account.into(),
        })
    }

    /// The region name.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account id.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The region and account an `arn:aws:kms:…` ARN names, and the resource after them
    /// (`key/<id>` or `alias/<name>`). `None` for anything else.
    pub fn split_arn(arn: &str) -> Option<(Home, &str)> {
        let rest = arn.strip_prefix("arn:aws:kms:")?;
        let mut parts = rest.splitn(3, ':');
        let region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        Some((Home::new(region, account).ok()?, resource))
    }

    /// The home of a stored key, from its ARN (legacy ARNs belong to the default home).
    pub(crate) fn of_arn(arn: &str) -> Home {
        Home::split_arn(arn).map(|(h, _)| h).unwrap_or_default()
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    // A table rather than `format!` per byte: commits hex-encode whole audit tails, and the
    // formatting machinery was a tenth of a server's time per request (docs/PERFORMANCE.md).
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 0x0f)]));
    }
    s
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An alias: `alias/` followed by letters, digits, `/`, `_` or `-`; 1 to 256 characters in all.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Alias(String);

/// Alias prefix reserved for the cloud's own keys (refused, as the cloud refuses it).
pub(crate) const RESERVED_AWS: &str = "alias/aws/";
/// The angou-managed default key: the one alias under `alias/angou/` angou keeps for itself
/// (the rest of `alias/angou/` is an ordinary name, as it is on AWS).
pub const DEFAULT_ALIAS: &str = "alias/angou/default";

impl Alias {
    /// Parses an alias a user may create or use.
    ///
    /// # Errors
    /// [`KmsError::InvalidAliasName`] naming the rule broken.
    pub fn parse(name: &str) -> Result<Alias, KmsError> {
        let bad = |reason| KmsError::InvalidAliasName {
            name: name.chars().take(300).collect(),
            reason,
        };
        let rest = name
            .strip_prefix("alias/")
            .ok_or(bad("must start with alias/"))?;
        if rest.is_empty() || name.len() > 256 {
            return Err(bad(
                "must be 7 to 256 characters including the alias/ prefix",
            ));
        }
        if !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
        {
            return Err(bad("may contain only letters, digits, /, _ and -"));
        }
        Ok(Alias(name.to_owned()))
    }

    /// Parses an alias a user may create: not in AWS's reserved `alias/aws/` space, and not
    /// angou's own [`DEFAULT_ALIAS`].
    ///
    /// # Errors
    /// [`KmsError::InvalidAliasName`].
    pub fn parse_user(name: &str) -> Result<Alias, KmsError> {
        let a = Alias::parse(name)?;
        if name.starts_with(RESERVED_AWS) {
            return Err(KmsError::InvalidAliasName {
                name: name.to_owned(),
                reason: "alias/aws/ is reserved for AWS managed keys",
            });
        }
        if name == DEFAULT_ALIAS {
            return Err(KmsError::InvalidAliasName {
                name: name.to_owned(),
                reason: "alias/angou/default names the key angou manages itself",
            });
        }
        Ok(a)
    }

    /// The alias text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The alias's ARN in `home`: `arn:aws:kms:<region>:<account>:alias/<name>`.
    pub fn arn(&self, home: &Home) -> String {
        format!("arn:aws:kms:{}:{}:{}", home.region, home.account, self.0)
    }
}

/// What kind of key material a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeySpec {
    /// AES-256-GCM (the cloud's default symmetric spec).
    #[serde(rename = "SYMMETRIC_DEFAULT")]
    SymmetricDefault,
    /// RSA-2048, OAEP with SHA-256.
    #[serde(rename = "RSA_2048")]
    Rsa2048,
    /// RSA-3072, OAEP with SHA-256.
    #[serde(rename = "RSA_3072")]
    Rsa3072,
    /// RSA-4096, OAEP with SHA-256.
    #[serde(rename = "RSA_4096")]
    Rsa4096,
}

impl KeySpec {
    /// Parses the cloud's spelling.
    ///
    /// # Errors
    /// [`KmsError::Validation`] listing the accepted values.
    pub fn parse(text: &str) -> Result<KeySpec, KmsError> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| KmsError::Validation {
            reason: format!("key spec {text:?} is not one of SYMMETRIC_DEFAULT, RSA_2048, RSA_3072, RSA_4096"),
        })
    }

    /// RSA modulus size, if an RSA spec.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            KeySpec::SymmetricDefault => None,
            KeySpec::Rsa2048 => Some(2048),
            KeySpec::Rsa3072 => Some(3072),
            KeySpec::Rsa4096 => Some(4096),
        }
    }

    /// The encryption algorithm names this spec supports.
    pub fn encryption_algorithms(self) -> Vec<String> {
        match self {
            KeySpec::SymmetricDefault => vec!["SYMMETRIC_DEFAULT".into()],
            _ => vec!["RSAES_OAEP_SHA_256".into()],
        }
    }
}

/// A key's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    /// Usable.
    Enabled,
    /// Kept, but refused for cryptographic operations.
    Disabled,
    /// Unusable, and purged when its deletion date passes.
    PendingDeletion,
    /// An `EXTERNAL` key without usable key material: waiting for ImportKeyMaterial.
    PendingImport,
}

impl KeyState {
    /// The state's name as the cloud spells it.
    pub fn name(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
        }
    }
}

/// Who manages a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyManager {
    /// Made by the user.
    #[serde(rename = "CUSTOMER")]
    Customer,
    /// Made by angou on first use (like the cloud's service-managed keys); rotated
    /// automatically; the user cannot disable or delete it.
    #[serde(rename = "ANGOU")]
    Angou,
}

/// Everything public about a key, with the cloud's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    /// The key id.
    pub key_id: KeyId,
    /// The ARN-style name.
    pub arn: String,
    /// Creation time (RFC 3339).
    pub creation_date: String,
    /// Whether the key is Enabled.
    pub enabled: bool,
    /// Free text.
    pub description: String,
    /// Always `ENCRYPT_DECRYPT`.
    pub key_usage: String,
    /// Lifecycle state.
    pub key_state: KeyState,
    /// When a pending deletion completes (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub deletion_date: Option<String>,
    /// The pending window chosen, in days.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pending_deletion_window_in_days: Option<u32>,
    /// `ANGOU_KMS` (key material generated in the local store) or `EXTERNAL` (imported).
    pub origin: String,
    /// Who manages the key.
    pub key_manager: KeyManager,
    /// Key material kind.
    pub key_spec: KeySpec,
    /// Supported encryption algorithms.
    pub encryption_algorithms: Vec<String>,
    /// The id of the key material new encryptions use.
    pub current_key_material_id: String,
    /// For `EXTERNAL` keys with imported material: `KEY_MATERIAL_EXPIRES` or
    /// `KEY_MATERIAL_DOES_NOT_EXPIRE` (of the current material).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expiration_model: Option<String>,
    /// When the current imported material expires (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid_to: Option<String>,
}

/// An encryption algorithm by its AWS name (`EncryptionAlgorithmSpec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EncryptionAlgorithm {
    /// AES-256-GCM blobs of a symmetric key.
    #[serde(rename = "SYMMETRIC_DEFAULT")]
    SymmetricDefault,
    /// RSA-OAEP with SHA-1 (AWS offers it; angou does not).
    #[serde(rename = "RSAES_OAEP_SHA_1")]
    RsaesOaepSha1,
    /// RSA-OAEP with SHA-256 (what angou's RSA keys do).
    #[serde(rename = "RSAES_OAEP_SHA_256")]
    RsaesOaepSha256,
    /// SM2 public-key encryption (China regions on AWS; angou does not).
    #[serde(rename = "SM2PKE")]
    Sm2Pke,
}

impl EncryptionAlgorithm {
    /// The AWS name.
    pub fn name(self) -> &'static str {
        match self {
            EncryptionAlgorithm::SymmetricDefault => "SYMMETRIC_DEFAULT",
            EncryptionAlgorithm::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            EncryptionAlgorithm::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            EncryptionAlgorithm::Sm2Pke => "SM2PKE",
        }
    }

    /// Whether a key of `spec` may use this algorithm: `Ok` when it may,
    /// [`KmsError::InvalidKeyUsage`] when AWS refuses the pair too, and
    /// [`KmsError::Unsupported`] for what AWS allows and angou does not do (RSA-OAEP-SHA-1).
    ///
    /// # Errors
    /// As above.
    pub fn check(self, spec: KeySpec, key: &KeyId) -> Result<(), KmsError> {
        match (spec.rsa_bits(), self) {
            (None, EncryptionAlgorithm::SymmetricDefault)
            | (Some(_), EncryptionAlgorithm::RsaesOaepSha256) => Ok(()),
            (Some(_), EncryptionAlgorithm::RsaesOaepSha1) => Err(KmsError::Unsupported {
                reason: format!(
                    "angou's RSA keys use RSAES_OAEP_SHA_256 only; RSAES_OAEP_SHA_1 is not supported (key {key})"
                ),
            }),
            _ => Err(KmsError::InvalidKeyUsage {
                reason: format!(
                    "{} is not supported by key {key} ({})",
                    self.name(),
                    spec.encryption_algorithms().join(", ")
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::hex;

    #[test]
    fn hex_is_lowercase_two_digits_per_byte_in_order() {
        let all: Vec<u8> = (0..=255u8).collect();
        assert_eq!(hex(&all), ::hex::encode(&all));
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x0f, 0xa0]), "0fa0");
    }
}
