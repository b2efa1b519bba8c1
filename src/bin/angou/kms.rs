//! `angou kms <operation>`: the local KMS with the cloud CLI's flag names and JSON field names.

use std::path::{Path, PathBuf};

use angou::kms::{self, AuditFilter, Clock, DataKeySize, EncryptionContext, KeySpec, Kms};
use base64ct::{Base64, Encoding};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::failure::Failure;

#[derive(Debug, Args)]
pub struct KmsArgs {
    #[command(subcommand)]
    pub op: Op,
    /// The AWS region keys are made in and looked up in (keys of another region are not found)
    #[arg(long, global = true, default_value = kms::key::DEFAULT_REGION, value_name = "REGION")]
    pub region: String,
    /// The 12-digit account in every ARN
    #[arg(long = "account-id", global = true, default_value = kms::key::DEFAULT_ACCOUNT, value_name = "ID")]
    pub account_id: String,
}

#[derive(Debug, Args)]
pub struct KeyIdArg {
    /// Key id, key ARN, alias name (alias/…) or alias ARN
    #[arg(long = "key-id", value_name = "KEY")]
    pub key_id: String,
}

#[derive(Debug, Args, Default)]
pub struct ContextArgs {
    /// Encryption context entry key=value (repeatable), or a JSON object
    #[arg(short = 'c', long = "encryption-context", value_name = "K=V|JSON")]
    pub context: Vec<String>,
}

/// Parses `-c` values: `key=value` pairs and/or JSON objects, merged.
pub fn parse_context(values: &[String]) -> Result<EncryptionContext, Failure> {
    let mut ctx = EncryptionContext::new();
    for v in values {
        if v.trim_start().starts_with('{') {
            for (k, val) in EncryptionContext::from_json(v)
                .map_err(angou::Error::from)?
                .entries()
            {
                ctx.insert(k.clone(), val.clone());
            }
        } else {
            let (k, val) = EncryptionContext::parse_pair(v).map_err(angou::Error::from)?;
            ctx.insert(k, val);
        }
    }
    Ok(ctx)
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
        #[arg(long, default_value = "")]
        description: String,
        /// SYMMETRIC_DEFAULT (AES-256-GCM), RSA_2048, RSA_3072 or RSA_4096
        #[arg(long = "key-spec", default_value = "SYMMETRIC_DEFAULT")]
        key_spec: String,
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
    /// List a key's materials
    ListKeyRotations(KeyIdArg),
    /// Encrypt 1-4096 bytes under a key
    Encrypt {
        #[command(flatten)]
        key: KeyIdArg,
        /// base64 text, or @FILE for raw bytes (@- reads standard input)
        #[arg(long)]
        plaintext: String,
        #[command(flatten)]
        context: ContextArgs,
    },
    /// Decrypt a ciphertext blob (the blob names its key)
    Decrypt {
        /// base64 text, or @FILE for raw bytes (@- reads standard input)
        #[arg(long = "ciphertext-blob")]
        ciphertext_blob: String,
        #[arg(long = "key-id")]
        key_id: Option<String>,
        #[command(flatten)]
        context: ContextArgs,
    },
    /// Re-encrypt under another key or context without exposing the plaintext
    ReEncrypt {
        #[arg(long = "ciphertext-blob")]
        ciphertext_blob: String,
        #[arg(long = "source-key-id")]
        source_key_id: Option<String>,
        /// Source context entry key=value or JSON (repeatable)
        #[arg(long = "source-encryption-context")]
        source_context: Vec<String>,
        #[arg(long = "destination-key-id")]
        destination_key_id: String,
        /// Destination context entry key=value or JSON (repeatable)
        #[arg(long = "destination-encryption-context")]
        destination_context: Vec<String>,
    },
    /// A fresh data key, in plaintext and encrypted under the key
    GenerateDataKey(DataKeyArgs),
    /// A fresh data key, encrypted only
    GenerateDataKeyWithoutPlaintext(DataKeyArgs),
    /// 1-1024 random bytes
    GenerateRandom {
        #[arg(long = "number-of-bytes")]
        number_of_bytes: usize,
    },
    /// The public key (SPKI PEM) of an RSA key
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
pub struct DataKeyArgs {
    #[command(flatten)]
    pub key: KeyIdArg,
    /// AES_256 or AES_128
    #[arg(long = "key-spec", conflicts_with = "number_of_bytes")]
    pub key_spec: Option<String>,
    /// 1-1024
    #[arg(long = "number-of-bytes")]
    pub number_of_bytes: Option<usize>,
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

fn binary_arg(text: &str, what: &str) -> Result<Vec<u8>, Failure> {
    if let Some(path) = text.strip_prefix('@') {
        if path == "-" {
            let mut bytes = Vec::new();
            return std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
                .map(|_| bytes)
                .map_err(|e| Failure::new(format!("cannot read {what} from standard input: {e}")));
        }
        return std::fs::read(path).map_err(|e| {
            Failure::new(format!("cannot read {what} file {path}: {e}"))
                .hint("check the path after @")
        });
    }
    Base64::decode_vec(text.trim()).map_err(|_| {
        Failure::usage(format!("{what} is not base64"))
            .hint("pass base64 text (as printed by angou kms), or @FILE for raw bytes")
    })
}

fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

fn print(v: Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

pub fn run(args: KmsArgs, home: Option<&Path>) -> Result<(), Failure> {
    let region = kms::Home::new(&args.region, &args.account_id)
        .map_err(angou::Error::from)
        .map_err(|f| Failure::from(f).hint("pass --region like us-east-1 and a 12-digit --account-id"))?;
    let kms = open_store(home)?.with_region(region);
    match args.op {
        Op::Serve(a) => return crate::serve::run(kms, a),
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
            print(
                json!({"Home": kms.home().display().to_string(), "PassphraseProtected": kms.is_passphrase_protected(), "FakeClock": fake_clock}),
            );
        }
        Op::CreateKey {
            description,
            key_spec,
        } => {
            let spec = KeySpec::parse(&key_spec).map_err(angou::Error::from)?;
            let m = kms.create_key(&description, spec)?;
            print(json!({ "KeyMetadata": m }));
        }
        Op::DescribeKey(k) => print(json!({ "KeyMetadata": kms.describe_key(&k.key_id)? })),
        Op::ListKeys => {
            let keys: Vec<Value> = kms
                .list_keys()?
                .into_iter()
                .map(|(id, arn)| json!({"KeyId": id, "KeyArn": arn}))
                .collect();
            print(json!({ "Keys": keys }));
        }
        Op::CreateAlias {
            alias_name,
            target_key_id,
        } => kms.create_alias(&alias_name, &target_key_id)?,
        Op::UpdateAlias {
            alias_name,
            target_key_id,
        } => kms.update_alias(&alias_name, &target_key_id)?,
        Op::DeleteAlias { alias_name } => kms.delete_alias(&alias_name)?,
        Op::ListAliases { key_id } => {
            let list: Vec<Value> = kms
                .list_aliases(key_id.as_deref())?
                .into_iter()
                .map(|a| json!({"AliasName": a.alias_name, "AliasArn": a.alias_arn, "TargetKeyId": a.target_key_id}))
                .collect();
            print(json!({ "Aliases": list }));
        }
        Op::EnableKey(k) => kms.enable_key(&k.key_id)?,
        Op::DisableKey(k) => kms.disable_key(&k.key_id)?,
        Op::ScheduleKeyDeletion {
            key,
            pending_window_in_days,
        } => {
            let (id, at, days) = kms.schedule_key_deletion(&key.key_id, pending_window_in_days)?;
            print(
                json!({"KeyId": kms.key_arn(&id), "DeletionDate": at, "KeyState": "PendingDeletion", "PendingWindowInDays": days}),
            );
        }
        Op::CancelKeyDeletion(k) => {
            let id = kms.cancel_key_deletion(&k.key_id)?;
            print(json!({"KeyId": kms.key_arn(&id)}));
        }
        Op::EnableKeyRotation {
            key,
            rotation_period_in_days,
        } => kms.enable_key_rotation(&key.key_id, rotation_period_in_days)?,
        Op::DisableKeyRotation(k) => kms.disable_key_rotation(&k.key_id)?,
        Op::GetKeyRotationStatus(k) => {
            let s = kms.get_key_rotation_status(&k.key_id)?;
            let mut v = json!({"KeyRotationEnabled": s.key_rotation_enabled, "KeyId": s.key_id});
            if let Some(p) = s.rotation_period_in_days {
                v["RotationPeriodInDays"] = json!(p);
            }
            if let Some(n) = s.next_rotation_date {
                v["NextRotationDate"] = json!(n);
            }
            print(v);
        }
        Op::RotateKeyOnDemand(k) => print(json!({"KeyId": kms.rotate_key_on_demand(&k.key_id)?})),
        Op::ListKeyRotations(k) => {
            let list: Vec<Value> = kms
                .list_key_rotations(&k.key_id)?
                .into_iter()
                .map(|r| json!({"KeyId": r.key_id, "KeyMaterialId": r.key_material_id, "RotationDate": r.rotation_date, "RotationType": r.rotation_type}))
                .collect();
            print(json!({ "Rotations": list }));
        }
        Op::Encrypt {
            key,
            plaintext,
            context,
        } => {
            let pt = zeroize::Zeroizing::new(binary_arg(&plaintext, "--plaintext")?);
            let ctx = parse_context(&context.context)?;
            let e = kms.encrypt(&key.key_id, &pt, &ctx)?;
            print(
                json!({"CiphertextBlob": b64(&e.ciphertext_blob), "KeyId": e.key_id, "EncryptionAlgorithm": e.encryption_algorithm, "KeyMaterialId": e.key_material_id}),
            );
        }
        Op::Decrypt {
            ciphertext_blob,
            key_id,
            context,
        } => {
            let blob = binary_arg(&ciphertext_blob, "--ciphertext-blob")?;
            let ctx = parse_context(&context.context)?;
            let d = kms.decrypt(&blob, &ctx, key_id.as_deref())?;
            print(
                json!({"KeyId": d.key_id, "Plaintext": b64(d.plaintext.expose_secret()), "EncryptionAlgorithm": d.encryption_algorithm, "KeyMaterialId": d.key_material_id}),
            );
        }
        Op::ReEncrypt {
            ciphertext_blob,
            source_key_id,
            source_context,
            destination_key_id,
            destination_context,
        } => {
            let blob = binary_arg(&ciphertext_blob, "--ciphertext-blob")?;
            let src = parse_context(&source_context)?;
            let dst = parse_context(&destination_context)?;
            let e = kms.re_encrypt(
                &blob,
                &src,
                source_key_id.as_deref(),
                &destination_key_id,
                &dst,
            )?;
            print(
                json!({"CiphertextBlob": b64(&e.ciphertext_blob), "SourceKeyId": e.source_key_id, "KeyId": e.key_id, "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": e.encryption_algorithm}),
            );
        }
        Op::GenerateDataKey(a) => {
            let (size, ctx) = data_key_args(&a)?;
            let d = kms.generate_data_key(&a.key.key_id, size, &ctx)?;
            print(
                json!({"CiphertextBlob": b64(&d.ciphertext_blob), "Plaintext": b64(d.plaintext.expose_secret()), "KeyId": d.key_id, "KeyMaterialId": d.key_material_id}),
            );
        }
        Op::GenerateDataKeyWithoutPlaintext(a) => {
            let (size, ctx) = data_key_args(&a)?;
            let e = kms.generate_data_key_without_plaintext(&a.key.key_id, size, &ctx)?;
            print(
                json!({"CiphertextBlob": b64(&e.ciphertext_blob), "KeyId": e.key_id, "KeyMaterialId": e.key_material_id}),
            );
        }
        Op::GenerateRandom { number_of_bytes } => {
            let r = kms.generate_random(number_of_bytes)?;
            print(json!({"Plaintext": b64(r.expose_secret())}));
        }
        Op::GetPublicKey(k) => {
            let (m, pem) = kms.get_public_key(&k.key_id)?;
            print(
                json!({"KeyId": m.arn, "PublicKey": pem, "KeySpec": m.key_spec, "KeyUsage": m.key_usage, "EncryptionAlgorithms": m.encryption_algorithms}),
            );
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
            print(json!({"AccessKey": {
                "UserName": k.user_name,
                "AccessKeyId": k.access_key_id,
                "Status": "Active",
                "SecretAccessKey": secret,
                "CreateDate": k.create_date,
            }}));
            eprintln!(
                "the secret access key is shown only now; for AWS clients of `angou kms serve`:\n  export AWS_ACCESS_KEY_ID={}\n  export AWS_SECRET_ACCESS_KEY=<SecretAccessKey above>\n(or store both with `aws configure`)",
                k.access_key_id
            );
        }
        Op::ListAccessKeys => {
            let list: Vec<Value> = kms
                .list_access_keys()?
                .into_iter()
                .map(|k| json!({"UserName": k.user_name, "AccessKeyId": k.access_key_id, "Status": "Active", "CreateDate": k.create_date}))
                .collect();
            print(json!({ "AccessKeyMetadata": list }));
        }
        Op::DeleteAccessKey { access_key_id } => kms.delete_access_key(&access_key_id)?,
        Op::Audit(a) => match a.action.as_deref() {
            Some("verify") => {
                let n = match &a.checkpoint {
                    Some(path) => {
                        let text = std::fs::read(path).map_err(|e| {
                            Failure::usage(format!(
                                "cannot read checkpoint {}: {e}",
                                path.display()
                            ))
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
                print(
                    json!({"Verified": true, "Entries": n, "Checkpoint": a.checkpoint.is_some()}),
                );
            }
            Some("checkpoint") => {
                let c = kms.audit_checkpoint()?;
                print(serde_json::to_value(&c).unwrap_or_default());
            }
            Some("repair") => {
                let r = kms.audit_repair()?;
                print(
                    json!({"Repaired": !r.findings.is_empty(), "Findings": r.findings, "Entries": r.entries}),
                );
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
            }
        },
    }
    Ok(())
}

fn data_key_args(a: &DataKeyArgs) -> Result<(DataKeySize, EncryptionContext), Failure> {
    let size = match (a.key_spec.as_deref(), a.number_of_bytes) {
        (Some("AES_256"), None) => DataKeySize::Aes256,
        (Some("AES_128"), None) => DataKeySize::Aes128,
        (Some(other), None) => {
            return Err(Failure::usage(format!(
                "--key-spec {other} is not AES_256 or AES_128"
            ))
            .hint("--key-spec AES_256 (32 bytes) is the usual choice; --number-of-bytes N for other sizes"));
        }
        (None, Some(n)) => DataKeySize::Bytes(n),
        (None, None) => {
            return Err(
                Failure::usage("give --key-spec AES_256|AES_128 or --number-of-bytes N")
                    .hint("--key-spec AES_256 is the usual choice"),
            );
        }
        (Some(_), Some(_)) => {
            return Err(Failure::usage(
                "give --key-spec or --number-of-bytes, not both",
            ));
        }
    };
    Ok((size, parse_context(&a.context.context)?))
}
