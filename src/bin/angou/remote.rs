//! `angou kms --endpoint-url URL | --remote | --profile P`: the AWS operations of `angou kms`
//! sent to a remote KMS (AWS KMS, `angou kms serve`, LocalStack, moto) through
//! [`angou::kms::remote::Remote`], with the same flags and output as on the local store.
//! Built only with the `aws` feature; without it the flags exist and say how to get it.

use clap::Args;

use crate::failure::Failure;

/// The flags that choose a remote KMS.
#[derive(Debug, Args, Default)]
pub struct RemoteArgs {
    /// Send the operation to the KMS at URL (AWS KMS, `angou kms serve`, LocalStack, moto)
    /// instead of the local store, with the AWS SDK's credentials (needs the `aws` feature)
    #[arg(long = "endpoint-url", global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Send the operation to the KMS the AWS SDK's own configuration names (AWS_ENDPOINT_URL_KMS,
    /// AWS_ENDPOINT_URL, the profile; else AWS KMS of the region) instead of the local store
    #[arg(long, global = true)]
    pub remote: bool,
    /// The AWS shared-config profile for a remote KMS (implies --remote)
    #[arg(long, global = true, value_name = "PROFILE")]
    pub profile: Option<String>,
}

/// Where a remote operation goes: the flags given, the rest from the SDK.
// Without the `aws` feature only its presence is used: the refusal needs no fields.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[derive(Debug, Clone)]
pub struct Target {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
}

impl RemoteArgs {
    /// The remote KMS the flags ask for, if any; `region` is the `--region` given (none
    /// means the SDK's own).
    pub fn target(&self, region: Option<&str>) -> Option<Target> {
        (self.remote || self.endpoint_url.is_some() || self.profile.is_some()).then(|| Target {
            endpoint_url: self.endpoint_url.clone(),
            region: region.map(str::to_owned),
            profile: self.profile.clone(),
        })
    }
}

/// The refusal of a subcommand that is not an AWS operation.
pub fn refuse_local_only(name: &str) -> Failure {
    Failure::usage(format!(
        "`angou kms {name}` works on the local key store only, not on a remote KMS"
    ))
    .hint("drop --endpoint-url, --remote and --profile to run it on the local store (--home)")
}

/// Connects to the remote KMS.
#[cfg(feature = "aws")]
pub fn connect(target: &Target) -> Result<Box<dyn angou::kms::ops::Backend>, Failure> {
    use angou::kms::remote::{Remote, RemoteConfig};
    let remote = Remote::connect(&RemoteConfig {
        endpoint_url: target.endpoint_url.clone(),
        region: target.region.clone(),
        profile: target.profile.clone(),
    })
    .map_err(|e| {
        Failure::usage(e.to_string()).hint(
            "give --endpoint-url http(s)://HOST:PORT and --region, or configure them for the AWS SDK (AWS_REGION, AWS_ENDPOINT_URL_KMS, ~/.aws/config)",
        )
    })?;
    Ok(Box::new(remote))
}

/// Without the `aws` feature there is no remote client: say how to build one.
#[cfg(not(feature = "aws"))]
pub fn connect(target: &Target) -> Result<Box<dyn angou::kms::ops::Backend>, Failure> {
    let _ = target;
    Err(Failure::usage(
        "this angou was built without the `aws` feature: it cannot reach a remote KMS",
    )
    .hint("build it with `cargo install angou --features aws` (or `cargo build --release --features aws`)"))
}
