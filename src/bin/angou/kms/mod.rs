//! `angou kms <operation>`: the local KMS with the AWS CLI's flag names, answers and errors.
//! Every AWS operation is a typed request of [`angou::kms::ops`] run by the same
//! [`ops::dispatch_local`](angou::kms::ops::dispatch_local) the HTTP server runs, so `angou kms` prints what `aws kms` prints.

use std::path::{Path, PathBuf};

use angou::kms::{self, AuditFilter, Clock, Kms};
use serde_json::{Value, json};

use crate::aws_cli::Printer;
use crate::failure::Failure;

mod args;
mod operations;

use args::AuditArgs;
pub use args::{KmsArgs, Op, parse_context};
use operations::operation;

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
