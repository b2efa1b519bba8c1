//! The `angou kms` command line: global flags, one subcommand per operation with the AWS
//! CLI's flag names, and the parsing of `-c` and `--tags` values.

use std::path::PathBuf;

use angou::kms::ops::tags;
use angou::kms::{self, EncryptionContext};
use clap::{Args, Subcommand};

use crate::aws_cli::{self, OutputFormat};
use crate::failure::Failure;

#[derive(Debug, Args)]
pub struct KmsArgs {
    #[command(subcommand)]
    pub op: Op,
    /// The AWS region keys and aliases are made in and looked up in (those of another region
    /// are not found); default us-east-1 for the local store, and for a remote KMS the AWS
    /// SDK's own (AWS_REGION, the profile's region)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    #[command(flatten)]
    pub remote: crate::remote::RemoteArgs,
    /// The 12-digit account in every ARN
    #[arg(long = "account-id", global = true, default_value = kms::key::DEFAULT_ACCOUNT, value_name = "ID")]
    pub account_id: String,
    /// json (indented, the default) or text (tab-separated, the AWS CLI's text rules)
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "json",
        value_name = "FORMAT"
    )]
    pub output: OutputFormat,
    /// A JMESPath expression applied to the answer, as in the AWS CLI (e.g. CiphertextBlob)
    #[arg(long, global = true, value_name = "JMESPATH")]
    pub query: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeyIdArg {
    /// Key id, key ARN, alias name (alias/…) or alias ARN
    #[arg(long = "key-id", value_name = "KEY")]
    pub key_id: String,
}

#[derive(Debug, Args, Default)]
pub struct ContextArgs {
    /// Encryption context: k1=v1,k2=v2 (AWS shorthand) or a JSON object; repeatable, merged
    #[arg(short = 'c', long = "encryption-context", value_name = "K=V,…|JSON")]
    pub context: Vec<String>,
}

/// Parses `-c` values (AWS shorthand `k1=v1,k2=v2` or JSON objects), merged; ambiguous
/// shorthand and repeated keys are refused.
pub fn parse_context(values: &[String]) -> Result<EncryptionContext, Failure> {
    aws_cli::context(values, "--encryption-context")
}

#[derive(Debug, Subcommand)]
pub enum Op {
    /// Create the key store now (create-key and generate-data-key otherwise create it on
    /// first use); --passphrase derives its root key from a passphrase (Argon2id) instead of a
    /// 0600 root key file; --fake-clock makes a store that ANGOU_FAKE_NOW may drive (for
    /// tests and tours: stores without it refuse a fake clock)
    Init {
        #[arg(long)]
        passphrase: bool,
        #[arg(long = "fake-clock")]
        fake_clock: bool,
    },
    /// Create a customer-managed key
    CreateKey {
        #[arg(long)]
        description: Option<String>,
        /// SYMMETRIC_DEFAULT (AES-256-GCM), RSA_2048, RSA_3072 or RSA_4096
        #[arg(long = "key-spec")]
        key_spec: Option<String>,
        /// ENCRYPT_DECRYPT (the only usage angou's keys have; others are refused)
        #[arg(long = "key-usage")]
        key_usage: Option<String>,
        /// AWS_KMS (the store makes the material, the default) or EXTERNAL (a key without
        /// material, PendingImport until import-key-material)
        #[arg(long)]
        origin: Option<String>,
        /// Tags: TagKey=K,TagValue=V (repeatable, or several after one --tags) or a JSON list
        #[arg(long, num_args = 1.., value_name = "TagKey=K,TagValue=V")]
        tags: Vec<String>,
    },
    /// Add or overwrite tags on a key (at most 50 per key; keys 1-128, values 0-256
    /// characters; aws: is reserved)
    TagResource {
        #[command(flatten)]
        key: KeyIdArg,
        /// TagKey=K,TagValue=V (repeatable, or several after one --tags) or a JSON list
        #[arg(long, num_args = 1.., required = true, value_name = "TagKey=K,TagValue=V")]
        tags: Vec<String>,
    },
    /// Remove tags from a key by tag key
    UntagResource {
        #[command(flatten)]
        key: KeyIdArg,
        #[arg(long = "tag-keys", num_args = 1.., required = true, value_name = "KEY")]
        tag_keys: Vec<String>,
    },
    /// List a key's tags
    ListResourceTags(KeyIdArg),
    /// Change a key's description
    UpdateKeyDescription {
        #[command(flatten)]
        key: KeyIdArg,
        #[arg(long)]
        description: String,
    },
    /// A fresh RSA key pair: the private key (PKCS#8 DER) in plaintext and encrypted under a
    /// symmetric key, and the public key (DER SubjectPublicKeyInfo)
    GenerateDataKeyPair(PairArgs),
    /// A fresh RSA key pair with the private key encrypted only
    GenerateDataKeyPairWithoutPlaintext(PairArgs),
    /// An RSA wrapping public key and an import token (valid 24 hours) for an EXTERNAL key
    GetParametersForImport {
        #[command(flatten)]
        key: KeyIdArg,
        /// RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256
        #[arg(long = "wrapping-algorithm")]
        wrapping_algorithm: String,
        /// RSA_2048, RSA_3072 or RSA_4096
        #[arg(long = "wrapping-key-spec")]
        wrapping_key_spec: String,
    },
    /// Import 256-bit key material (wrapped to the public key of get-parameters-for-import)
    /// into an EXTERNAL key
    ImportKeyMaterial {
        #[command(flatten)]
        key: KeyIdArg,
        /// The import token: fileb://FILE, @FILE or base64
        #[arg(long = "import-token")]
        import_token: String,
        /// The wrapped material: fileb://FILE, @FILE or base64
        #[arg(long = "encrypted-key-material")]
        encrypted_key_material: String,
        /// KEY_MATERIAL_DOES_NOT_EXPIRE (default) or KEY_MATERIAL_EXPIRES (with --valid-to)
        #[arg(long = "expiration-model")]
        expiration_model: Option<String>,
        /// When the material expires (RFC 3339, e.g. 2030-01-01T00:00:00Z)
        #[arg(long = "valid-to")]
        valid_to: Option<String>,
        /// NEW_KEY_MATERIAL (for rotate-key-on-demand) or EXISTING_KEY_MATERIAL
        #[arg(long = "import-type")]
        import_type: Option<String>,
        /// With material the key had: the KeyMaterialId it must be (as list-key-rotations
        /// shows); not with NEW_KEY_MATERIAL
        #[arg(long = "key-material-id")]
        key_material_id: Option<String>,
    },
    /// Delete imported key material (the key is PendingImport until the same material is
    /// imported again)
    DeleteImportedKeyMaterial {
        #[command(flatten)]
        key: KeyIdArg,
        #[arg(long = "key-material-id")]
        key_material_id: Option<String>,
    },
    /// Show a key's metadata
    DescribeKey(KeyIdArg),
    /// List all keys
    ListKeys,
    /// Give a key a name (alias/…)
    CreateAlias {
        #[arg(long = "alias-name")]
        alias_name: String,
        #[arg(long = "target-key-id")]
        target_key_id: String,
    },
    /// Point an alias at another key
    UpdateAlias {
        #[arg(long = "alias-name")]
        alias_name: String,
        #[arg(long = "target-key-id")]
        target_key_id: String,
    },
    /// Delete an alias (not its key)
    DeleteAlias {
        #[arg(long = "alias-name")]
        alias_name: String,
    },
    /// List aliases
    ListAliases {
        #[arg(long = "key-id")]
        key_id: Option<String>,
    },
    /// Enable a disabled key
    EnableKey(KeyIdArg),
    /// Disable a key (kept, but unusable)
    DisableKey(KeyIdArg),
    /// Delete a key after a waiting period (7-30 days)
    ScheduleKeyDeletion {
        #[command(flatten)]
        key: KeyIdArg,
        #[arg(long = "pending-window-in-days")]
        pending_window_in_days: Option<u32>,
    },
    /// Cancel a scheduled deletion (the key stays Disabled)
    CancelKeyDeletion(KeyIdArg),
    /// Rotate a key automatically every N days (90-2560)
    EnableKeyRotation {
        #[command(flatten)]
        key: KeyIdArg,
        #[arg(long = "rotation-period-in-days")]
        rotation_period_in_days: Option<u32>,
    },
    /// Stop automatic rotation
    DisableKeyRotation(KeyIdArg),
    /// Show rotation settings
    GetKeyRotationStatus(KeyIdArg),
    /// Add new key material now (at most 25 times per key)
    RotateKeyOnDemand(KeyIdArg),
    /// List a key's rotations (not its initial material)
    ListKeyRotations(KeyIdArg),
    /// Encrypt 1-4096 bytes under a key
    Encrypt {
        #[command(flatten)]
        key: KeyIdArg,
        /// base64 text (AWS CLI v2), fileb://FILE or @FILE for raw bytes (@- reads standard input)
        #[arg(long)]
        plaintext: String,
        #[command(flatten)]
        context: ContextArgs,
        /// SYMMETRIC_DEFAULT (the default), or RSAES_OAEP_SHA_256 (required for RSA keys)
        #[arg(long = "encryption-algorithm")]
        encryption_algorithm: Option<String>,
    },
    /// Decrypt a ciphertext blob (a symmetric blob names its key)
    Decrypt {
        /// base64 text, fileb://FILE or @FILE for raw bytes (@- reads standard input)
        #[arg(long = "ciphertext-blob")]
        ciphertext_blob: String,
        /// The key (required for RSA ciphertexts)
        #[arg(long = "key-id")]
        key_id: Option<String>,
        #[command(flatten)]
        context: ContextArgs,
        /// SYMMETRIC_DEFAULT (the default), or RSAES_OAEP_SHA_256 (required for RSA keys)
        #[arg(long = "encryption-algorithm")]
        encryption_algorithm: Option<String>,
    },
    /// Re-encrypt under another key or context without exposing the plaintext
    ReEncrypt {
        #[arg(long = "ciphertext-blob")]
        ciphertext_blob: String,
        #[arg(long = "source-key-id")]
        source_key_id: Option<String>,
        /// Source context: k1=v1,k2=v2 or JSON (repeatable)
        #[arg(long = "source-encryption-context")]
        source_context: Vec<String>,
        #[arg(long = "destination-key-id")]
        destination_key_id: String,
        /// Destination context: k1=v1,k2=v2 or JSON (repeatable)
        #[arg(long = "destination-encryption-context")]
        destination_context: Vec<String>,
        #[arg(long = "source-encryption-algorithm")]
        source_encryption_algorithm: Option<String>,
        #[arg(long = "destination-encryption-algorithm")]
        destination_encryption_algorithm: Option<String>,
    },
    /// A fresh data key, in plaintext and encrypted under the key
    GenerateDataKey(DataKeyArgs),
    /// A fresh data key, encrypted only
    GenerateDataKeyWithoutPlaintext(DataKeyArgs),
    /// 1-1024 random bytes
    GenerateRandom {
        #[arg(long = "number-of-bytes")]
        number_of_bytes: Option<i64>,
    },
    /// The public key of an RSA key (base64 DER SubjectPublicKeyInfo, as AWS returns it)
    GetPublicKey(KeyIdArg),
    /// Serve this store over the AWS KMS JSON API (POST / with X-Amz-Target: TrentService.*),
    /// so the AWS CLI and SDKs work against it with --endpoint-url; the first line on standard
    /// output is a JSON object naming the bound address; SIGINT/SIGTERM stop it
    Serve(crate::serve::ServeArgs),
    /// Make an access key for `angou kms serve` clients: prints its id and secret once (the
    /// store keeps the secret encrypted and never shows it again)
    CreateAccessKey {
        /// Who the key is for (letters, digits, _+=,.@-; default: $USER, else "default")
        #[arg(long = "user", value_name = "NAME")]
        user: Option<String>,
    },
    /// List access keys (ids and users, never secrets)
    ListAccessKeys,
    /// Delete an access key: requests signed with it are refused from then on
    DeleteAccessKey {
        #[arg(long = "access-key-id", value_name = "ID")]
        access_key_id: String,
    },
    /// List audit entries; `audit verify [--checkpoint FILE]` checks the store and its log;
    /// `audit checkpoint` prints a sealed checkpoint to keep elsewhere; `audit repair` accepts
    /// a damaged store and records what it accepted
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
pub struct PairArgs {
    #[command(flatten)]
    pub key: KeyIdArg,
    /// RSA_2048, RSA_3072 or RSA_4096
    #[arg(long = "key-pair-spec")]
    pub key_pair_spec: String,
    #[command(flatten)]
    pub context: ContextArgs,
}

#[derive(Debug, Args)]
pub struct DataKeyArgs {
    #[command(flatten)]
    pub key: KeyIdArg,
    /// AES_256 or AES_128
    #[arg(long = "key-spec", conflicts_with = "number_of_bytes")]
    pub key_spec: Option<String>,
    /// 1-1024
    #[arg(long = "number-of-bytes")]
    pub number_of_bytes: Option<i64>,
    #[command(flatten)]
    pub context: ContextArgs,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// `verify` checks the store and the whole log; `checkpoint` prints a sealed checkpoint
    /// of the audit head; `repair` accepts a damaged store (needs the root key) and records
    /// what it accepted
    pub action: Option<String>,
    /// With `verify`: also check the store against a checkpoint file made earlier (fails on a
    /// store older than it, or forked from it)
    #[arg(long = "checkpoint", value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    #[arg(long = "key")]
    pub key: Option<String>,
    #[arg(long = "operation")]
    pub operation: Option<String>,
    /// RFC 3339 time
    #[arg(long = "since")]
    pub since: Option<String>,
}

/// `--tags` as the AWS CLI reads it: `TagKey=K,TagValue=V` items (shorthand) or one JSON list
/// of `{"TagKey": …, "TagValue": …}`.
pub(super) fn parse_tags(values: &[String]) -> Result<Vec<tags::TagShape>, Failure> {
    let hint = r#"write --tags TagKey=K,TagValue=V [TagKey=K2,TagValue=V2 …] or JSON: '[{"TagKey":"K","TagValue":"V"}]'"#;
    let mut out = Vec::new();
    for v in values {
        if v.trim_start().starts_with('[') {
            let list: Vec<tags::TagShape> = serde_json::from_str(v)
                .map_err(|_| Failure::usage("--tags: not a JSON list of tags").hint(hint))?;
            out.extend(list);
            continue;
        }
        let mut t = tags::TagShape::default();
        for part in v.split(',') {
            match part.split_once('=') {
                Some(("TagKey", k)) if t.tag_key.is_none() => t.tag_key = Some(k.to_owned()),
                Some(("TagValue", x)) if t.tag_value.is_none() => t.tag_value = Some(x.to_owned()),
                _ => {
                    return Err(Failure::usage(format!(
                        "--tags: {part:?} is not TagKey=… or TagValue=… (once each per tag)"
                    ))
                    .hint(hint));
                }
            }
        }
        if t.tag_key.is_none() {
            return Err(Failure::usage(format!("--tags: {v:?} has no TagKey")).hint(hint));
        }
        t.tag_value.get_or_insert_with(String::new);
        out.push(t);
    }
    Ok(out)
}
