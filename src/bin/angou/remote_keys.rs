//! Keys in a remote KMS for `encrypt` and `decrypt` (docs/FORMAT.md §5.8): which `--kms` names
//! a remote key, how each region's KMS is reached (the user's AWS configuration and flags,
//! never the file), and which keys `decrypt` may contact.
//!
//! The rule for `encrypt --kms KEY`: a key id or alias is the local store's; an
//! `arn:…:kms:…` ARN is the local store's when the local store holds it, and otherwise names a
//! key in the KMS the AWS configuration reaches for the ARN's region. `decrypt` needs no such
//! rule: the stanza type says where the key lives (`kms`: the local store, `aws-kms`: remote).

use std::sync::{Arc, OnceLock};

use angou::error::{Error, KmsError};
use angou::format::header::Header;
use angou::kms::EncryptionContext;
use angou::kms::envelope::{ALLOW_VAR, AllowPolicy, Arn, AwsKmsIdentity, Regions};
use angou::recipient::AWS_KMS_STANZA;

use crate::failure::Failure;

/// How remote KMS requests are sent: the AWS SDK's configuration, with these overrides.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RemoteArgs {
    /// Send requests for remote KMS keys to URL (default: the AWS configuration's endpoint,
    /// AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL, else AWS KMS in the key's region)
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// AWS profile whose credentials and settings reach remote KMS keys (default: the AWS
    /// SDK's choice, AWS_PROFILE or "default")
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
}

/// Which remote KMS keys `decrypt` may contact (besides the key ARNs in ANGOU_KMS_ALLOW).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AllowArgs {
    /// Allow the remote KMS key ARN to open the file (repeatable); keys not allowed are never
    /// contacted. ANGOU_KMS_ALLOW adds more (ARNs separated by commas or spaces)
    #[arg(long = "kms", value_name = "KEY_ARN")]
    pub kms: Vec<String>,
    /// Allow any key of the --discovery-account accounts in --discovery-partition
    #[arg(long, requires = "discovery_accounts")]
    pub kms_discovery: bool,
    /// With --kms-discovery: an account whose keys may be contacted (12 digits; repeatable)
    #[arg(
        long = "discovery-account",
        value_name = "ID",
        requires = "kms_discovery"
    )]
    pub discovery_accounts: Vec<String>,
    /// With --kms-discovery: the partition of those accounts (aws, aws-cn, aws-us-gov, …)
    #[arg(long, value_name = "PARTITION", requires = "kms_discovery")]
    pub discovery_partition: Option<String>,
}

impl AllowArgs {
    /// The policy these flags and ANGOU_KMS_ALLOW give.
    pub fn policy(&self) -> Result<AllowPolicy, Failure> {
        let mut policy = AllowPolicy::keys(self.kms.iter().map(String::as_str))
            .map_err(|e| Failure::from(e).into_usage())?;
        if let Some(list) = std::env::var_os(ALLOW_VAR) {
            let list = list.to_string_lossy();
            policy.add_list(&list).map_err(|e| {
                Failure::from(e).into_usage().hint(format!(
                    "{ALLOW_VAR} holds key ARNs separated by commas or spaces"
                ))
            })?;
        }
        if self.kms_discovery {
            policy = policy
                .with_discovery(
                    self.discovery_partition.as_deref().unwrap_or("aws"),
                    self.discovery_accounts.iter().map(String::as_str),
                )
                .map_err(|e| Failure::from(e).into_usage())?;
        }
        Ok(policy)
    }
}

/// The remote KMS connections and identity of one command, made on first use.
#[derive(Debug, Default)]
pub struct RemoteKeys {
    args: RemoteArgs,
    regions: OnceLock<Arc<Regions>>,
    identity: OnceLock<AwsKmsIdentity>,
    /// The first remote key a file needed, when this build cannot reach it.
    unreachable: OnceLock<String>,
}

/// The failure for a remote key when angou was built without the `aws` feature.
pub fn needs_aws_feature(what: &str) -> Failure {
    Failure::new(format!(
        "{what} is a key in a remote KMS, and this angou was built without remote KMS support"
    ))
    .hint("build angou with `cargo build --release --features aws` (or `cargo install --features aws`)")
}

impl RemoteKeys {
    /// Connections made with `args`.
    pub fn new(args: RemoteArgs) -> RemoteKeys {
        RemoteKeys {
            args,
            ..RemoteKeys::default()
        }
    }

    /// The regions' backends: `Remote::connect` with the ARN's region and the user's flags.
    #[cfg(feature = "aws")]
    pub fn regions(&self, _what: &str) -> Result<Arc<Regions>, Failure> {
        use angou::kms::ops::Backend;
        use angou::kms::remote::{Remote, RemoteConfig};
        if let Some(r) = self.regions.get() {
            return Ok(Arc::clone(r));
        }
        let (endpoint_url, profile) = (self.args.endpoint_url.clone(), self.args.profile.clone());
        let made = Arc::new(Regions::new(
            move |region: &str| -> Result<Arc<dyn Backend>, Error> {
                Ok(Arc::new(Remote::connect(&RemoteConfig {
                    endpoint_url: endpoint_url.clone(),
                    region: Some(region.to_owned()),
                    profile: profile.clone(),
                })?))
            },
        ));
        Ok(Arc::clone(self.regions.get_or_init(|| made)))
    }

    /// Without the `aws` feature there is no remote KMS.
    #[cfg(not(feature = "aws"))]
    pub fn regions(&self, what: &str) -> Result<Arc<Regions>, Failure> {
        let _ = (&self.args, &self.regions);
        Err(needs_aws_feature(what))
    }

    /// Refuses `--endpoint-url` and `--profile` when no remote key uses them, so a typo'd
    /// `--kms` is not silently sent to the local store with remote flags ignored.
    pub fn check_used(&self, used: bool) -> Result<(), Failure> {
        if used || (self.args.endpoint_url.is_none() && self.args.profile.is_none()) {
            return Ok(());
        }
        Err(Failure::usage(
            "--endpoint-url and --profile apply to remote KMS keys, and none is named",
        )
        .hint("remote keys are given as --kms arn:aws:kms:REGION:ACCOUNT:key/ID"))
    }

    /// The identity that opens the `aws-kms` stanzas of `header`, if it has any.
    pub fn identity(
        &self,
        header: &Header,
        allow: &AllowArgs,
        context: &EncryptionContext,
    ) -> Result<Option<&AwsKmsIdentity>, Failure> {
        let Some(first) = header.stanzas().iter().find(|s| s.kind == AWS_KMS_STANZA) else {
            return Ok(None);
        };
        let what = format!("the file's key {}", first.args.join(" "));
        if cfg!(not(feature = "aws")) {
            // Other stanzas may still open the file; `unavailable` and `failure` say why
            // this one could not.
            let _ = self.unreachable.set(what);
            return Ok(None);
        }
        let regions = self.regions(&what)?;
        let policy = allow.policy()?;
        Ok(Some(self.identity.get_or_init(|| {
            AwsKmsIdentity::new(regions, policy, context.clone())
        })))
    }

    /// Why a file's remote key cannot be used by this build, if it cannot.
    pub fn unavailable(&self) -> Option<Failure> {
        self.unreachable.get().map(|what| needs_aws_feature(what))
    }

    /// A decryption failure as the user should see it: when no remote key opened the file,
    /// each key and why, and how to allow the ones that were not.
    pub fn failure(&self, err: Error) -> Result<Failure, Error> {
        if let (Some(f), Error::Format(angou::error::FormatError::NoMatch)) =
            (self.unavailable(), &err)
        {
            return Ok(f);
        }
        let err = match self.identity.get() {
            Some(identity) => identity.explain(err),
            None => err,
        };
        let Error::Kms(KmsError::NoKeyOpened { not_allowed, .. }) = &err else {
            return Err(err);
        };
        let hint = if not_allowed.is_empty() {
            "check the encryption context (-c), your AWS credentials and region settings, and each key's state (aws kms describe-key)".to_owned()
        } else {
            let accounts: std::collections::BTreeSet<String> = not_allowed
                .iter()
                .filter_map(|a| Arn::parse(a).ok())
                .map(|a| a.account().to_owned())
                .collect();
            format!(
                "allow a key with --kms KEY_ARN or {ALLOW_VAR}=KEY_ARN, or every key of its account with --kms-discovery --discovery-account {}",
                accounts
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(" --discovery-account ")
            )
        };
        Ok(Failure::from(err).hint(hint))
    }
}

/// Whether `key` (an `encrypt --kms` argument) names a key in a remote KMS: an ARN that the
/// local store does not hold. Asks the local store only for ARNs.
pub fn is_remote(
    key: &str,
    local_holds: impl FnOnce() -> Result<bool, Failure>,
) -> Result<bool, Failure> {
    if !Arn::looks_like(key) {
        return Ok(false);
    }
    Ok(!local_holds()?)
}
