//! `angou kms <operation>`: the local KMS with the AWS CLI's flag names, answers and errors.
//! Every AWS operation is a typed request of [`angou::kms::ops`] run by the same
//! [`ops::dispatch_local`] the HTTP server runs, so `angou kms` prints what `aws kms` prints.

use std::path::{Path, PathBuf};

use angou::kms::ops::{self, Backend, import, shapes, tags};
use angou::kms::{self, AuditFilter, Clock, EncryptionContext, Kms};
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::{Value, json};

use crate::aws_cli::{self, OutputFormat, Printer};
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

/// The store a command uses: `--home`, `$ANGOU_HOME`, or the XDG data folder.
pub fn open_store(home: Option<&Path>) -> Result<Kms, Failure> {
    let home: PathBuf = match home {
        Some(h) => h.to_path_buf(),
        None => kms::default_home().ok_or_else(|| {
            Failure::usage("cannot find a home for the key store")
                .hint("pass --home DIR or set ANGOU_HOME")
        })?,
    };
    let clock = Clock::from_env().map_err(angou::Error::from)?;
    let mut kms = Kms::open(home, clock);
    if let Some(marks) = kms::default_state_dir() {
        kms = kms.with_high_water_marks(marks);
    }
    if let Some(p) = std::env::var_os(PASSPHRASE_VAR) {
        return Ok(kms.with_passphrase(angou::secret::SecretVec::from_vec(p.into_encoded_bytes())));
    }
    if kms.is_passphrase_protected() {
        let pass = crate::passphrase::prompt_only("key store passphrase: ").map_err(|f| {
            f.hint(format!(
                "this key store is passphrase-protected; set {PASSPHRASE_VAR} for scripts"
            ))
        })?;
        return Ok(kms.with_passphrase(pass));
    }
    Ok(kms)
}

/// Environment variable holding the passphrase of a passphrase-protected key store.
pub const PASSPHRASE_VAR: &str = "ANGOU_KMS_PASSPHRASE";

/// Runs one AWS operation through the operation layer, as the server does.
fn call<Req: Serialize>(kms: &dyn Backend, operation: &str, req: &Req) -> Result<Value, Failure> {
    // The request may hold a plaintext: its JSON is wiped after use.
    let mut body = zeroize::Zeroizing::new(Vec::with_capacity(8 * 1024));
    serde_json::to_writer(&mut *body, req)
        .map_err(|e| Failure::new(format!("cannot encode the {operation} request: {e}")))?;
    let out = kms
        .invoke(operation, &body)
        .map_err(|e| aws_cli::failure(operation, &e))?;
    let mut v: Value = serde_json::from_slice(&out)
        .map_err(|e| Failure::new(format!("cannot read the {operation} answer: {e}")))?;
    aws_cli::cli_timestamps(&mut v);
    Ok(v)
}

/// A List operation read to its end, as the AWS CLI's paginators do: `{result_key: [...]}`.
fn call_all<Req: Serialize>(
    kms: &dyn Backend,
    operation: &str,
    result_key: &str,
    mut req: impl FnMut(Option<String>) -> Req,
) -> Result<Value, Failure> {
    let mut all = Vec::new();
    let mut marker = None;
    loop {
        let page = call(kms, operation, &req(marker.take()))?;
        if let Some(Value::Array(items)) = page.get(result_key) {
            all.extend(items.iter().cloned());
        }
        match page.get("NextMarker").and_then(Value::as_str) {
            Some(m) if page.get("Truncated") == Some(&Value::Bool(true)) => {
                marker = Some(m.to_owned());
            }
            _ => break,
        }
    }
    Ok(json!({ result_key: all }))
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

/// An encryption context member: absent when empty, as the AWS CLI sends none.
fn wire_context(ctx: &EncryptionContext) -> Option<shapes::Context> {
    (!ctx.is_empty()).then(|| ctx.entries().clone())
}

pub fn run(args: KmsArgs, home: Option<&Path>) -> Result<(), Failure> {
    let printer = Printer::new(args.output, args.query.as_deref())?;
    if let Some(target) = args.remote.target(args.region.as_deref()) {
        if let Some(name) = local_only(&args.op) {
            return Err(crate::remote::refuse_local_only(name));
        }
        let backend = crate::remote::connect(&target)?;
        return printer.print(operation(backend.as_ref(), args.op)?);
    }
    let region = args.region.as_deref().unwrap_or(kms::key::DEFAULT_REGION);
    let region = kms::Home::new(region, &args.account_id)
        .map_err(angou::Error::from)
        .map_err(|f| {
            Failure::from(f).hint("pass --region like us-east-1 and a 12-digit --account-id")
        })?;
    if let Op::Serve(a) = args.op {
        return crate::serve::run(open_store(home)?.with_region(region), a);
    }
    let kms = open_store(home)?.with_region(region);
    let answer = match args.op {
        Op::Serve(_) => return Ok(()),
        Op::Init {
            passphrase,
            fake_clock,
        } => {
            let options = kms::InitOptions { fake_clock };
            if passphrase {
                let store = if std::env::var_os(PASSPHRASE_VAR).is_some() {
                    kms.clone()
                } else {
                    kms.clone()
                        .with_passphrase(crate::passphrase::obtain_for_store()?)
                };
                store.init(options)?;
            } else {
                kms.init(options)?;
            }
            json!({"Home": kms.home().display().to_string(), "PassphraseProtected": kms.is_passphrase_protected(), "FakeClock": fake_clock})
        }
        Op::CreateAccessKey { user } => {
            let user = user.unwrap_or_else(|| {
                std::env::var("USER")
                    .ok()
                    .filter(|u| {
                        !u.is_empty()
                            && u.len() <= 64
                            && u.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
                    })
                    .unwrap_or_else(|| "default".into())
            });
            let k = kms.create_access_key(&user)?;
            // The secret is printed here only, at the user's request; ASCII by construction.
            let secret = String::from_utf8_lossy(k.secret_access_key.expose_secret()).into_owned();
            eprintln!(
                "the secret access key is shown only now; for AWS clients of `angou kms serve`:\n  export AWS_ACCESS_KEY_ID={}\n  export AWS_SECRET_ACCESS_KEY=<SecretAccessKey above>\n(or store both with `aws configure`)",
                k.access_key_id
            );
            json!({"AccessKey": {
                "UserName": k.user_name,
                "AccessKeyId": k.access_key_id,
                "Status": "Active",
                "SecretAccessKey": secret,
                "CreateDate": k.create_date,
            }})
        }
        Op::ListAccessKeys => {
            let list: Vec<Value> = kms
                .list_access_keys()?
                .into_iter()
                .map(|k| json!({"UserName": k.user_name, "AccessKeyId": k.access_key_id, "Status": "Active", "CreateDate": k.create_date}))
                .collect();
            json!({ "AccessKeyMetadata": list })
        }
        Op::DeleteAccessKey { access_key_id } => {
            kms.delete_access_key(&access_key_id)?;
            json!({})
        }
        Op::Audit(a) => match audit(&kms, a)? {
            Some(v) => v,
            None => return Ok(()),
        },
        op => operation(&kms, op)?,
    };
    printer.print(answer)
}

/// The subcommands that are not AWS operations: they work on the local store only.
fn local_only(op: &Op) -> Option<&'static str> {
    Some(match op {
        Op::Init { .. } => "init",
        Op::Serve(_) => "serve",
        Op::CreateAccessKey { .. } => "create-access-key",
        Op::ListAccessKeys => "list-access-keys",
        Op::DeleteAccessKey { .. } => "delete-access-key",
        Op::Audit(_) => "audit",
        _ => return None,
    })
}

/// Runs one AWS operation on `kms`, the local store or a remote KMS alike.
fn operation(kms: &dyn Backend, op: Op) -> Result<Value, Failure> {
    Ok(match op {
        Op::CreateKey {
            description,
            key_spec,
            key_usage,
            origin,
            tags,
        } => call(
            kms,
            "CreateKey",
            &shapes::CreateKeyRequest {
                description,
                key_spec,
                key_usage,
                origin,
                tags: (!tags.is_empty()).then(|| parse_tags(&tags)).transpose()?,
                ..Default::default()
            },
        )?,
        Op::TagResource { key, tags } => call(
            kms,
            "TagResource",
            &tags::TagResourceRequest {
                key_id: some(&key.key_id),
                tags: Some(parse_tags(&tags)?),
            },
        )?,
        Op::UntagResource { key, tag_keys } => call(
            kms,
            "UntagResource",
            &tags::UntagResourceRequest {
                key_id: some(&key.key_id),
                tag_keys: Some(tag_keys),
            },
        )?,
        Op::ListResourceTags(k) => call_all(kms, "ListResourceTags", "Tags", |marker| {
            tags::ListResourceTagsRequest {
                key_id: some(&k.key_id),
                limit: Some(50),
                marker,
            }
        })?,
        Op::UpdateKeyDescription { key, description } => call(
            kms,
            "UpdateKeyDescription",
            &tags::UpdateKeyDescriptionRequest {
                key_id: some(&key.key_id),
                description: Some(description),
            },
        )?,
        Op::GenerateDataKeyPair(a) => call(kms, "GenerateDataKeyPair", &pair_request(&a)?)?,
        Op::GenerateDataKeyPairWithoutPlaintext(a) => call(
            kms,
            "GenerateDataKeyPairWithoutPlaintext",
            &pair_request(&a)?,
        )?,
        Op::GetParametersForImport {
            key,
            wrapping_algorithm,
            wrapping_key_spec,
        } => call(
            kms,
            "GetParametersForImport",
            &import::GetParametersForImportRequest {
                key_id: some(&key.key_id),
                wrapping_algorithm: Some(wrapping_algorithm),
                wrapping_key_spec: Some(wrapping_key_spec),
            },
        )?,
        Op::ImportKeyMaterial {
            key,
            import_token,
            encrypted_key_material,
            expiration_model,
            valid_to,
            import_type,
        } => {
            let valid_to = match valid_to.as_deref() {
                None => None,
                Some(t) => Some(
                    kms::clock::parse_time(t)
                        .map_err(|_| {
                            Failure::usage(format!("--valid-to {t:?} is not an RFC 3339 time"))
                                .hint("write it like 2030-01-01T00:00:00Z")
                        })?
                        .unix_timestamp() as f64,
                ),
            };
            call(
                kms,
                "ImportKeyMaterial",
                &import::ImportKeyMaterialRequest {
                    key_id: some(&key.key_id),
                    import_token: Some(ops::wire::Blob(
                        aws_cli::blob(&import_token, "--import-token")?.to_vec(),
                    )),
                    encrypted_key_material: Some(ops::wire::Blob(
                        aws_cli::blob(&encrypted_key_material, "--encrypted-key-material")?
                            .to_vec(),
                    )),
                    valid_to,
                    expiration_model,
                    import_type,
                    ..Default::default()
                },
            )?
        }
        Op::DeleteImportedKeyMaterial {
            key,
            key_material_id,
        } => call(
            kms,
            "DeleteImportedKeyMaterial",
            &import::DeleteImportedKeyMaterialRequest {
                key_id: some(&key.key_id),
                key_material_id,
            },
        )?,
        Op::DescribeKey(k) => call(kms, "DescribeKey", &key_request(&k))?,
        Op::ListKeys => call_all(kms, "ListKeys", "Keys", |marker| shapes::ListKeysRequest {
            limit: Some(1000),
            marker,
        })?,
        Op::CreateAlias {
            alias_name,
            target_key_id,
        } => call(
            kms,
            "CreateAlias",
            &shapes::AliasRequest {
                alias_name: Some(alias_name),
                target_key_id: Some(target_key_id),
            },
        )?,
        Op::UpdateAlias {
            alias_name,
            target_key_id,
        } => call(
            kms,
            "UpdateAlias",
            &shapes::AliasRequest {
                alias_name: Some(alias_name),
                target_key_id: Some(target_key_id),
            },
        )?,
        Op::DeleteAlias { alias_name } => call(
            kms,
            "DeleteAlias",
            &shapes::DeleteAliasRequest {
                alias_name: Some(alias_name),
            },
        )?,
        Op::ListAliases { key_id } => call_all(kms, "ListAliases", "Aliases", |marker| {
            shapes::ListAliasesRequest {
                key_id: key_id.clone(),
                limit: Some(1000),
                marker,
            }
        })?,
        Op::EnableKey(k) => call(kms, "EnableKey", &key_request(&k))?,
        Op::DisableKey(k) => call(kms, "DisableKey", &key_request(&k))?,
        Op::ScheduleKeyDeletion {
            key,
            pending_window_in_days,
        } => call(
            kms,
            "ScheduleKeyDeletion",
            &shapes::ScheduleKeyDeletionRequest {
                key_id: some(&key.key_id),
                pending_window_in_days: pending_window_in_days.map(i64::from),
            },
        )?,
        Op::CancelKeyDeletion(k) => call(kms, "CancelKeyDeletion", &key_request(&k))?,
        Op::EnableKeyRotation {
            key,
            rotation_period_in_days,
        } => call(
            kms,
            "EnableKeyRotation",
            &shapes::EnableKeyRotationRequest {
                key_id: some(&key.key_id),
                rotation_period_in_days: rotation_period_in_days.map(i64::from),
            },
        )?,
        Op::DisableKeyRotation(k) => call(kms, "DisableKeyRotation", &key_request(&k))?,
        Op::GetKeyRotationStatus(k) => call(kms, "GetKeyRotationStatus", &key_request(&k))?,
        Op::RotateKeyOnDemand(k) => call(kms, "RotateKeyOnDemand", &key_request(&k))?,
        Op::ListKeyRotations(k) => call_all(kms, "ListKeyRotations", "Rotations", |marker| {
            shapes::ListKeyRotationsRequest {
                key_id: some(&k.key_id),
                limit: Some(1000),
                marker,
                ..Default::default()
            }
        })?,
        Op::Encrypt {
            key,
            plaintext,
            context,
            encryption_algorithm,
        } => {
            let ctx = parse_context(&context.context)?;
            let pt = aws_cli::blob(&plaintext, "--plaintext")?;
            call(
                kms,
                "Encrypt",
                &shapes::EncryptRequest {
                    key_id: some(&key.key_id),
                    plaintext: Some(ops::wire::SecretBlob(angou::secret::SecretVec::from_vec(
                        pt.to_vec(),
                    ))),
                    encryption_context: wire_context(&ctx),
                    encryption_algorithm,
                    ..Default::default()
                },
            )?
        }
        Op::Decrypt {
            ciphertext_blob,
            key_id,
            context,
            encryption_algorithm,
        } => {
            let ctx = parse_context(&context.context)?;
            let blob = aws_cli::blob(&ciphertext_blob, "--ciphertext-blob")?;
            call(
                kms,
                "Decrypt",
                &shapes::DecryptRequest {
                    ciphertext_blob: Some(ops::wire::Blob(blob.to_vec())),
                    encryption_context: wire_context(&ctx),
                    key_id,
                    encryption_algorithm,
                    ..Default::default()
                },
            )?
        }
        Op::ReEncrypt {
            ciphertext_blob,
            source_key_id,
            source_context,
            destination_key_id,
            destination_context,
            source_encryption_algorithm,
            destination_encryption_algorithm,
        } => {
            let src = aws_cli::context(&source_context, "--source-encryption-context")?;
            let dst = aws_cli::context(&destination_context, "--destination-encryption-context")?;
            let blob = aws_cli::blob(&ciphertext_blob, "--ciphertext-blob")?;
            call(
                kms,
                "ReEncrypt",
                &shapes::ReEncryptRequest {
                    ciphertext_blob: Some(ops::wire::Blob(blob.to_vec())),
                    source_encryption_context: wire_context(&src),
                    source_key_id,
                    destination_key_id: Some(destination_key_id),
                    destination_encryption_context: wire_context(&dst),
                    source_encryption_algorithm,
                    destination_encryption_algorithm,
                    ..Default::default()
                },
            )?
        }
        Op::GenerateDataKey(a) => call(kms, "GenerateDataKey", &data_key_request(&a)?)?,
        Op::GenerateDataKeyWithoutPlaintext(a) => call(
            kms,
            "GenerateDataKeyWithoutPlaintext",
            &data_key_request(&a)?,
        )?,
        Op::GenerateRandom { number_of_bytes } => call(
            kms,
            "GenerateRandom",
            &shapes::GenerateRandomRequest {
                number_of_bytes,
                ..Default::default()
            },
        )?,
        Op::GetPublicKey(k) => call(kms, "GetPublicKey", &key_request(&k))?,
        op => {
            return Err(crate::remote::refuse_local_only(
                local_only(&op).unwrap_or("?"),
            ));
        }
    })
}

fn key_request(k: &KeyIdArg) -> shapes::KeyRequest {
    shapes::KeyRequest {
        key_id: some(&k.key_id),
        grant_tokens: None,
    }
}

/// `audit …`: its answer, or `None` when it printed audit lines itself.
fn audit(kms: &Kms, a: AuditArgs) -> Result<Option<Value>, Failure> {
    Ok(Some(match a.action.as_deref() {
        Some("verify") => {
            let n = match &a.checkpoint {
                Some(path) => {
                    let text = std::fs::read(path).map_err(|e| {
                        Failure::usage(format!("cannot read checkpoint {}: {e}", path.display()))
                            .hint("pass the file `angou kms audit checkpoint` wrote")
                    })?;
                    let c: kms::Checkpoint = serde_json::from_slice(&text).map_err(|e| {
                        Failure::usage(format!("{} is not a checkpoint: {e}", path.display()))
                            .hint("pass the file `angou kms audit checkpoint` wrote")
                    })?;
                    kms.audit_verify_checkpoint(&c)?
                }
                None => kms.audit_verify()?,
            };
            json!({"Verified": true, "Entries": n, "Checkpoint": a.checkpoint.is_some()})
        }
        Some("checkpoint") => serde_json::to_value(kms.audit_checkpoint()?).unwrap_or_default(),
        Some("repair") => {
            let r = kms.audit_repair()?;
            json!({"Repaired": !r.findings.is_empty(), "Findings": r.findings, "Entries": r.entries})
        }
        Some(other) => {
            return Err(Failure::usage(format!("unknown audit action {other:?}"))
                .hint("use `angou kms audit verify`, or `angou kms audit` with filters to list entries"));
        }
        None => {
            let since = match a.since.as_deref() {
                Some(t) => Some(kms::clock::parse_time(t).map_err(angou::Error::from)?),
                None => None,
            };
            let entries = kms.audit_entries(&AuditFilter {
                key_id: a.key,
                operation: a.operation,
                since,
            })?;
            for e in entries {
                println!("{e}");
            }
            return Ok(None);
        }
    }))
}

fn data_key_request(a: &DataKeyArgs) -> Result<shapes::GenerateDataKeyRequest, Failure> {
    match (a.key_spec.as_deref(), a.number_of_bytes) {
        (Some(_), None) | (None, Some(_)) => {}
        (None, None) => {
            return Err(
                Failure::usage("give --key-spec AES_256|AES_128 or --number-of-bytes N")
                    .hint("--key-spec AES_256 is the usual choice"),
            );
        }
        (Some(_), Some(_)) => {
            return Err(
                Failure::usage("give --key-spec or --number-of-bytes, not both")
                    .hint("--key-spec AES_256 (32 bytes) is the usual choice"),
            );
        }
    }
    Ok(shapes::GenerateDataKeyRequest {
        key_id: some(&a.key.key_id),
        encryption_context: wire_context(&parse_context(&a.context.context)?),
        number_of_bytes: a.number_of_bytes,
        key_spec: a.key_spec.clone(),
        ..Default::default()
    })
}

fn pair_request(a: &PairArgs) -> Result<import::GenerateDataKeyPairRequest, Failure> {
    Ok(import::GenerateDataKeyPairRequest {
        key_id: some(&a.key.key_id),
        key_pair_spec: Some(a.key_pair_spec.clone()),
        encryption_context: wire_context(&parse_context(&a.context.context)?),
        ..Default::default()
    })
}

/// `--tags` as the AWS CLI reads it: `TagKey=K,TagValue=V` items (shorthand) or one JSON list
/// of `{"TagKey": …, "TagValue": …}`.
fn parse_tags(values: &[String]) -> Result<Vec<tags::TagShape>, Failure> {
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
