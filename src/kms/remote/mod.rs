//! A remote KMS as a [`Backend`]: AWS KMS itself, or any endpoint that speaks its API
//! (`angou kms serve`, LocalStack, moto), reached through the official AWS SDK for Rust.
//!
//! The SDK does everything that is easy to get subtly wrong: the credential chain
//! (environment, shared `config` and `credentials` files, profiles, SSO, `credential_process`,
//! container and instance metadata), region resolution, SigV4, the endpoint overrides
//! (`AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, the profile's `endpoint_url`), and standard
//! retries with exponential backoff (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE` apply). angou maps
//! each operation's JSON request onto the SDK's builder and the SDK's answer back onto the
//! shapes of [`super::ops::shapes`], so envelope code written against [`Backend`] runs here
//! unchanged.
//!
//! ```no_run
//! use angou::kms::ops::Backend;
//! use angou::kms::ops::shapes::GenerateDataKeyRequest;
//! use angou::kms::remote::{Remote, RemoteConfig};
//!
//! let kms = Remote::connect(&RemoteConfig {
//!     endpoint_url: Some("http://127.0.0.1:4566".into()),
//!     region: Some("eu-west-1".into()),
//!     ..Default::default()
//! })?;
//! let made = kms
//!     .generate_data_key(&GenerateDataKeyRequest {
//!         key_id: Some("alias/reports".into()),
//!         key_spec: Some("AES_256".into()),
//!         ..Default::default()
//!     })
//!     .map_err(|e| format!("{}: {}", e.code(), e.message))?;
//! assert_eq!(made.plaintext.0.expose_secret().len(), 32);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// Sends a fluent builder and maps its failure.
macro_rules! send {
    ($remote:expr, $builder:expr) => {
        $builder.send().await.map_err(|e| $remote.failure(e))?
    };
}

mod crypto;
mod map;

use std::fmt;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls;
use zeroize::Zeroizing;

use super::ops::{ApiError, Backend, ErrorKind};
use crate::error::{Error, KmsError};

/// How long one attempt to open a connection may take before the SDK retries (the SDK's own
/// default for current behavior versions).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// How long one attempt of an operation may take, so an endpoint that accepts connections but
/// never answers cannot hang a command (KMS answers in milliseconds; the SDK retries).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to reach a remote KMS. Every field left `None` is resolved by the AWS SDK
/// as the AWS CLI would resolve it.
#[derive(Debug, Clone, Default)]
pub struct RemoteConfig {
    /// The endpoint (`http://127.0.0.1:4566`); else `AWS_ENDPOINT_URL_KMS`,
    /// `AWS_ENDPOINT_URL`, the profile's `endpoint_url`, else AWS KMS of the region.
    pub endpoint_url: Option<String>,
    /// The region; else `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, instance
    /// metadata.
    pub region: Option<String>,
    /// The shared-config profile; else `AWS_PROFILE`, else `default`.
    pub profile: Option<String>,
}

/// A remote KMS reached through the AWS SDK.
///
/// It owns a small private Tokio runtime, so [`Backend::invoke`] is an ordinary blocking
/// call that several threads may make at once (the runtime's two workers drive them all).
///
/// # Security
/// Requests go where the user's configuration sends them and nowhere else: the endpoint and
/// credentials come from [`RemoteConfig`] and the SDK's configuration, never from data being
/// decrypted. Plaintexts and data keys the KMS returns are moved into wiped buffers; copies in
/// the SDK's and HTTP client's own buffers are beyond angou's reach. Do not call
/// [`Backend::invoke`] from inside an async runtime (it blocks the thread).
pub struct Remote {
    client: aws_sdk_kms::Client,
    runtime: tokio::runtime::Runtime,
    region: String,
    endpoint: String,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn setup(reason: impl Into<String>) -> Error {
    Error::Kms(KmsError::Remote {
        reason: reason.into(),
    })
}

impl Remote {
    /// Loads the AWS SDK's configuration (env, shared config/credentials files, profiles, SSO,
    /// container/instance metadata; AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL) with the
    /// overrides in `config`.
    ///
    /// Credentials are resolved lazily, on the first call, and refreshed by the SDK.
    ///
    /// # Errors
    /// [`KmsError::Remote`] when no region can be found, the endpoint URL is not an
    /// `http(s)://` URL, or the runtime cannot start.
    pub fn connect(config: &RemoteConfig) -> Result<Remote, Error> {
        if let Some(url) = &config.endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(setup(format!(
                "the endpoint URL {:?} is not an http:// or https:// URL",
                redact_url(url)
            )));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("angou-kms-remote")
            .enable_all()
            .build()
            .map_err(|e| setup(format!("cannot start the client runtime: {e}")))?;
        // TLS through rustls with ring (already in angou's tree) instead of the SDK's
        // default aws-lc build; the same client serves the credential providers (SSO, STS,
        // instance metadata).
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .build(),
            );
        if let Some(p) = &config.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &config.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(u) = &config.endpoint_url {
            loader = loader.endpoint_url(u);
        }
        let shared = runtime.block_on(loader.load());
        let region = shared
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or_else(|| {
                setup("no AWS region: pass --region, set AWS_REGION, or set region in the profile")
            })?;
        let endpoint = config
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_KMS").ok())
            .or_else(|| shared.endpoint_url().map(str::to_owned))
            .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com"));
        if plain_http_off_loopback(&endpoint)
            && std::env::var_os(ALLOW_PLAIN_HTTP_ENV).is_none_or(|v| v != "1")
        {
            return Err(setup(format!(
                "refusing plain http:// to {}: plaintexts and data keys would cross the network unencrypted; use https://, a loopback address, or set {ALLOW_PLAIN_HTTP_ENV}=1 for a network you trust",
                redact_url(&endpoint)
            )));
        }
        let client = aws_sdk_kms::Client::new(&shared);
        Ok(Remote {
            client,
            runtime,
            region,
            endpoint: redact_url(&endpoint),
        })
    }

    /// The region requests are signed for and keys are looked up in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// An SDK failure as an [`ApiError`]: the far side's exception name and message when it
    /// answered, else a [`ErrorKind::Transport`] error naming the endpoint (never a
    /// credential: the SDK's errors hold none).
    fn failure<E>(&self, err: SdkError<E, HttpResponse>) -> ApiError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if let Some(code) = err.code() {
            return ApiError::from_remote(code, err.message().unwrap_or_default());
        }
        let endpoint = &self.endpoint;
        let message = match &err {
            SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
                let status = err
                    .raw_response()
                    .map_or(String::new(), |r| format!("HTTP {} ", r.status().as_u16()));
                format!(
                    "the KMS at {endpoint} answered {status}with something that is not an AWS KMS answer"
                )
            }
            // Credentials that cannot be loaded surface as an unclassified dispatch failure.
            SdkError::ConstructionFailure(_) => format!(
                "could not make a request to the KMS at {endpoint}: {}",
                chain(&err)
            ),
            SdkError::DispatchFailure(d) if d.is_other() || d.is_user() => format!(
                "could not make a request to the KMS at {endpoint}: {}",
                chain(&err)
            ),
            _ => format!("could not reach the KMS at {endpoint}: {}", chain(&err)),
        };
        ApiError::new(ErrorKind::Transport, message)
    }
}

/// An error and its sources, each once, joined with `: `, without the SDK's category words
/// (its own rendering adds its `Debug` form, which is for developers).
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    const CATEGORIES: &[&str] = &[
        "dispatch failure",
        "failed to construct request",
        "io error",
        "other",
        "timeout",
        "user error",
    ];
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !CATEGORIES.contains(&text.as_str()) && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

impl Backend for Remote {
    fn invoke(&self, operation: &str, body: &[u8]) -> Result<Zeroizing<Vec<u8>>, ApiError> {
        self.runtime.block_on(map::run(self, operation, body))
    }

    fn location(&self) -> String {
        format!("the KMS at {} (region {})", self.endpoint, self.region)
    }
}

/// The environment variable that lets a remote KMS be reached over plain `http://` on an
/// address other than loopback (`1`): LocalStack or moto in a container network. Without it
/// such an endpoint is refused, as `angou kms serve` refuses to listen off loopback without
/// TLS: Decrypt and GenerateDataKey answers carry plaintexts and data keys.
pub const ALLOW_PLAIN_HTTP_ENV: &str = "ANGOU_KMS_ALLOW_PLAIN_HTTP";

/// Whether `url` is `http://` to a host that is not loopback (`localhost`, `127.0.0.0/8`,
/// `::1`).
fn plain_http_off_loopback(url: &str) -> bool {
    let Some(rest) = url
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .map(|_| &url[7..])
    else {
        return false;
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

/// `url` without user information (`https://user:secret@host` → `https://host`), for
/// messages.
fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain http is for loopback test servers only: a data key must not cross a network
    /// unencrypted because an endpoint was written with http://.
    #[test]
    fn plain_http_is_refused_off_loopback() {
        for url in [
            "http://127.0.0.1:4566",
            "http://127.9.9.9",
            "HTTP://localhost:1/x",
            "http://[::1]:4599/",
            "https://kms.eu-west-1.amazonaws.com",
            "https://10.0.0.1:443",
        ] {
            assert!(!plain_http_off_loopback(url), "{url}");
        }
        for url in [
            "http://10.0.0.1:4566",
            "http://localstack:4566",
            "http://127.0.0.1.evil.example/",
            "http://u:p@10.1.1.1",
            "http://[2001:db8::1]:80",
            "http://kms.eu-west-1.amazonaws.com",
        ] {
            assert!(plain_http_off_loopback(url), "{url}");
        }
        if std::env::var_os(ALLOW_PLAIN_HTTP_ENV).is_none() {
            let e = Remote::connect(&RemoteConfig {
                endpoint_url: Some("http://u:s3cret@10.0.0.1:4566".into()),
                region: Some("eu-west-1".into()),
                profile: None,
            })
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("refusing plain http://") && e.contains(ALLOW_PLAIN_HTTP_ENV),
                "{e}"
            );
            assert!(!e.contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn user_information_never_reaches_a_message() {
        assert_eq!(
            redact_url("https://AKIA:s3cret@kms.example:443/x"),
            "https://kms.example:443/x"
        );
        assert_eq!(redact_url("http://127.0.0.1:1"), "http://127.0.0.1:1");
        let e = Remote::connect(&RemoteConfig {
            endpoint_url: Some("ftp://u:s3cret@h".into()),
            region: Some("eu-west-1".into()),
            profile: None,
        })
        .unwrap_err()
        .to_string();
        assert!(!e.contains("s3cret") && e.contains("not an http"), "{e}");
    }
}
