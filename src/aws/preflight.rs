//! Before the first read: credentials resolve and the endpoint answers
//! (one STS `GetCallerIdentity`) within seconds, or the command stops with
//! the cause and the fix — no credentials, an endpoint that cannot be
//! reached, a region with no endpoint, credentials AWS refuses or that have
//! expired. Without it an unreachable endpoint meant minutes of silence.

use std::error::Error as StdError;
use std::time::Duration;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::Clients;

/// The whole check, credentials resolution included.
pub const LIMIT: Duration = Duration::from_secs(10);

/// [`LIMIT`], or `INFRA_PREFLIGHT_TIMEOUT` (`30s`) where an endpoint is known
/// to be slow to answer (an emulator on a loaded machine: the test suite).
pub fn limit() -> Duration {
    std::env::var("INFRA_PREFLIGHT_TIMEOUT")
        .ok()
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(LIMIT)
}

/// Why the cloud cannot be used, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{cause}\n  fix: {fix}")]
pub struct PreflightError {
    pub cause: String,
    pub fix: String,
}

/// Where STS calls go, for messages: the endpoint override, or AWS's own.
pub fn endpoint(region: &str) -> String {
    ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"))
}

/// The caller once a check passed: one check a process (the S3 state
/// backend checks too, before its first read, for the commands that build
/// no other client).
static PASSED: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Checks credentials and the endpoint; returns the caller's ARN.
pub async fn check(
    clients: &Clients,
    region: &str,
    limit: Duration,
) -> Result<String, PreflightError> {
    check_sts(&clients.sts, region, limit).await
}

/// [`check`] with one STS client.
pub async fn check_sts(
    sts: &aws_sdk_sts::Client,
    region: &str,
    limit: Duration,
) -> Result<String, PreflightError> {
    if let Some(caller) = PASSED.get() {
        return Ok(caller.clone());
    }
    let caller = check_once(sts, region, limit).await?;
    Ok(PASSED.get_or_init(|| caller).clone())
}

async fn check_once(
    sts: &aws_sdk_sts::Client,
    region: &str,
    limit: Duration,
) -> Result<String, PreflightError> {
    let endpoint = endpoint(region);
    // Throttling and 5xx are sent again (a few times, within the limit):
    // they say the endpoint is there.
    let call = async {
        let mut attempt = 0;
        loop {
            match sts.get_caller_identity().send().await {
                Err(e) if attempt < 3 && transient(&e) => {
                    attempt += 1;
                    tokio::time::sleep(super::backoff(attempt)).await;
                }
                other => return other,
            }
        }
    };
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(out)) => Ok(out.arn().unwrap_or_default().to_string()),
        Ok(Err(e)) => Err(classify(&e, region, &endpoint)),
        Err(_) => Err(PreflightError {
            cause: format!("no answer from AWS at {endpoint} within {}s (resolving credentials and calling STS GetCallerIdentity)", limit.as_secs()),
            fix: "check AWS_ENDPOINT_URL, the network, proxy (HTTPS_PROXY) and firewall; a credential process or SSO login that waits for input also blocks here".into(),
        }),
    }
}

fn transient<E: ProvideErrorMetadata>(
    e: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> bool {
    let status = e.raw_response().map(|r| r.status().as_u16());
    matches!(e, SdkError::ServiceError(_) | SdkError::ResponseError(_))
        && matches!(
            super::classify(e.code().unwrap_or(""), status),
            super::ErrorClass::Throttled | super::ErrorClass::Server
        )
}

/// Every error in the chain, outermost first.
fn chain<'a>(
    e: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(e), |e: &&'a (dyn StdError + 'static)| (*e).source())
}

/// Names the cause of a failed `GetCallerIdentity` and its fix.
pub fn classify<E>(
    e: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
    region: &str,
    endpoint: &str,
) -> PreflightError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let err: &(dyn StdError + 'static) = e;
    if let Some(c) = chain(err).find_map(|e| e.downcast_ref::<CredentialsError>()) {
        return credentials(c);
    }
    let detail = super::causes(err);
    match e {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) if e.code().is_none() => {
            let status = e.raw_response().map(|r| r.status().as_u16().to_string()).unwrap_or_else(|| "?".into());
            PreflightError {
                cause: format!("{endpoint} answered HTTP {status} without an AWS error: it does not look like an AWS endpoint"),
                fix: "check AWS_ENDPOINT_URL (unset it to use AWS itself) and any proxy in between, then rerun".into(),
            }
        }
        SdkError::ServiceError(_) => service(e.code().unwrap_or("Unknown"), e.message().unwrap_or(""), region, endpoint),
        SdkError::TimeoutError(_) => PreflightError {
            cause: format!("no answer from AWS at {endpoint} (the call timed out)"),
            fix: "check AWS_ENDPOINT_URL, the network, proxy (HTTPS_PROXY) and firewall, then rerun".into(),
        },
        SdkError::DispatchFailure(d) if d.is_timeout() => PreflightError {
            cause: format!("no answer from AWS at {endpoint} (connecting timed out)"),
            fix: "check AWS_ENDPOINT_URL, the network, proxy (HTTPS_PROXY) and firewall, then rerun".into(),
        },
        SdkError::DispatchFailure(d) if d.is_io() => unreachable(&detail, region, endpoint),
        _ => PreflightError {
            cause: format!("calling AWS at {endpoint} failed before any answer: {detail}"),
            fix: "check the AWS configuration (AWS_PROFILE, ~/.aws/config, AWS_ENDPOINT_URL), then rerun".into(),
        },
    }
}

/// AWS's regions when this was written: a name outside it whose endpoint
/// does not resolve is most likely a typo in the plan file.
const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

fn unreachable(detail: &str, region: &str, endpoint: &str) -> PreflightError {
    let lower = detail.to_lowercase();
    let dns = [
        "dns error",
        "failed to lookup",
        "name or service not known",
        "no address associated",
        "nodename nor servname",
    ]
    .iter()
    .any(|s| lower.contains(s));
    if dns
        && endpoint.ends_with(&format!(".{region}.amazonaws.com"))
        && !KNOWN_REGIONS.contains(&region)
    {
        return PreflightError {
            cause: format!("region `{region}` has no AWS endpoint ({endpoint} does not resolve)"),
            fix: "check the spelling of `region` in the plan file (e.g. us-east-1), or the network's DNS, then rerun".into(),
        };
    }
    let why = if dns {
        "the host name does not resolve"
    } else if lower.contains("refused") {
        "connection refused"
    } else {
        "connection failed"
    };
    PreflightError {
        cause: format!("cannot reach AWS at {endpoint}: {why}"),
        fix: "check AWS_ENDPOINT_URL (unset it to use AWS itself; for the local emulator start it with `bash localstack/start.sh`), the network, proxy and firewall, then rerun".into(),
    }
}

fn credentials(c: &CredentialsError) -> PreflightError {
    let detail = super::causes(c);
    match c {
        CredentialsError::CredentialsNotLoaded(_) => PreflightError {
            cause: "no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), the profile's files (~/.aws/credentials, ~/.aws/config), web identity, the container or instance metadata".into(),
            fix: "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or set AWS_PROFILE to a configured profile (`aws configure`, or `aws sso login --profile NAME`), then rerun".into(),
        },
        CredentialsError::ProviderTimedOut(_) => PreflightError {
            cause: format!("resolving AWS credentials timed out ({detail})"),
            fix: "check the profile's credential source (SSO, credential_process, instance metadata), then rerun".into(),
        },
        CredentialsError::InvalidConfiguration(_) => PreflightError {
            cause: format!("the AWS credential configuration is invalid: {detail}"),
            fix: "fix the profile in ~/.aws/config or ~/.aws/credentials (or AWS_PROFILE), then rerun".into(),
        },
        _ if detail.to_lowercase().contains("expired") => PreflightError {
            cause: format!("the AWS credentials have expired: {detail}"),
            fix: "log in again (`aws sso login --profile NAME`) or get new temporary credentials, then rerun".into(),
        },
        _ => PreflightError {
            cause: format!("AWS credentials could not be loaded: {detail}"),
            fix: "check AWS_PROFILE and its credential source (SSO, role, credential_process), then rerun".into(),
        },
    }
}

fn service(code: &str, message: &str, region: &str, endpoint: &str) -> PreflightError {
    match code {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired" => PreflightError {
            cause: format!("the AWS session token has expired ({code}: {message})"),
            fix: "log in again (`aws sso login --profile NAME`) or get new temporary credentials (AWS_SESSION_TOKEN), then rerun".into(),
        },
        "InvalidClientTokenId" | "UnrecognizedClientException" | "InvalidAccessKeyId" | "AuthFailure" => PreflightError {
            cause: format!("AWS does not accept the credentials in region `{region}` ({code}: {message})"),
            fix: format!("check the access key (and AWS_SESSION_TOKEN for temporary ones); if region `{region}` is an opt-in region, enable it for the account or fix `region` in the plan file"),
        },
        "SignatureDoesNotMatch" => PreflightError {
            cause: format!("AWS refused the request signature ({code}: {message})"),
            fix: "the secret access key does not match the access key id: check AWS_SECRET_ACCESS_KEY (or the profile), and the machine's clock".into(),
        },
        _ => PreflightError {
            cause: format!("STS GetCallerIdentity at {endpoint} failed ({code}: {message})"),
            fix: "check the credentials, `region` in the plan file and AWS_ENDPOINT_URL, then rerun".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_codes_name_the_cause_and_the_fix() {
        let e = service(
            "ExpiredToken",
            "The security token included in the request is expired",
            "us-east-1",
            "https://sts.us-east-1.amazonaws.com",
        );
        assert!(
            e.cause.contains("expired") && e.fix.contains("sso login"),
            "{e}"
        );
        let e = service(
            "InvalidClientTokenId",
            "The security token included in the request is invalid",
            "ap-east-1",
            "x",
        );
        assert!(
            e.cause.contains("ap-east-1") && e.fix.contains("opt-in"),
            "{e}"
        );
        assert!(
            service("SignatureDoesNotMatch", "", "r", "x")
                .fix
                .contains("AWS_SECRET_ACCESS_KEY")
        );
    }

    #[test]
    fn a_region_that_does_not_resolve_is_named_as_such() {
        let e = unreachable(
            "dispatch failure: io error: dns error: failed to lookup address information",
            "us-eats-1",
            "https://sts.us-eats-1.amazonaws.com",
        );
        assert!(
            e.cause.contains("region `us-eats-1` has no AWS endpoint"),
            "{e}"
        );
        assert!(e.fix.contains("`region` in the plan file"), "{e}");
        let e = unreachable(
            "dns error: failed to lookup address information",
            "us-east-1",
            "https://sts.us-east-1.amazonaws.com",
        );
        assert_eq!(
            e.cause,
            "cannot reach AWS at https://sts.us-east-1.amazonaws.com: the host name does not resolve",
            "a known region: the network's fault"
        );
        let e = unreachable(
            "io error: Connection refused (os error 111)",
            "us-east-1",
            "http://127.0.0.1:9",
        );
        assert_eq!(
            e.cause,
            "cannot reach AWS at http://127.0.0.1:9: connection refused"
        );
        assert!(e.fix.contains("AWS_ENDPOINT_URL"));
    }

    #[test]
    fn missing_credentials_say_where_they_were_looked_for() {
        let e = credentials(&CredentialsError::not_loaded(
            "no providers in chain provided credentials",
        ));
        assert!(
            e.cause.starts_with("no AWS credentials") && e.fix.contains("AWS_ACCESS_KEY_ID"),
            "{e}"
        );
        let e = credentials(&CredentialsError::provider_error(
            "the SSO session has expired",
        ));
        assert!(
            e.cause.contains("expired") && e.fix.contains("sso login"),
            "{e}"
        );
    }
}
