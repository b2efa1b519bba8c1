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

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::error::KmsError;

/// The account part of every ARN: the store is local, so it is a fixed placeholder.
pub(crate) const ACCOUNT: &str = "000000000000";
/// The region part of every ARN.
pub(crate) const REGION: &str = "local";

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

    /// The key's ARN-style name.
    pub fn arn(&self) -> String {
        format!("arn:angou:kms:{REGION}:{ACCOUNT}:key/{}", self.0)
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
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
/// Alias prefix reserved for keys angou manages itself.
pub(crate) const RESERVED_ANGOU: &str = "alias/angou/";
/// The angou-managed default key.
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

    /// Parses an alias a user may create: not in the reserved `alias/aws/` or `alias/angou/` spaces.
    ///
    /// # Errors
    /// [`KmsError::InvalidAliasName`].
    pub fn parse_user(name: &str) -> Result<Alias, KmsError> {
        let a = Alias::parse(name)?;
        if name.starts_with(RESERVED_AWS) || name.starts_with(RESERVED_ANGOU) {
            return Err(KmsError::InvalidAliasName {
                name: name.to_owned(),
                reason: "alias/aws/ and alias/angou/ are reserved",
            });
        }
        Ok(a)
    }

    /// The alias text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The alias's ARN-style name.
    pub fn arn(&self) -> String {
        format!("arn:angou:kms:{REGION}:{ACCOUNT}:{}", self.0)
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
}

impl KeyState {
    /// The state's name as the cloud spells it.
    pub fn name(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
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
    /// Always `ANGOU_KMS` (key material generated in the local store).
    pub origin: String,
    /// Who manages the key.
    pub key_manager: KeyManager,
    /// Key material kind.
    pub key_spec: KeySpec,
    /// Supported encryption algorithms.
    pub encryption_algorithms: Vec<String>,
    /// The id of the key material new encryptions use.
    pub current_key_material_id: String,
}
