//! The cloud side: SDK clients built once from the standard AWS configuration,
//! one error type for every service, bounded retries, and the waiters.

pub mod calls;
pub mod fence;
pub mod identity;
pub mod kinds;
pub mod preflight;
mod retry;

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use retry::{Budget, backoff};

use crate::report::{Event, Reporter};

/// Every service client infra uses, sharing one configuration.
#[derive(Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub eks: aws_sdk_eks::Client,
    pub rds: aws_sdk_rds::Client,
    pub route53: aws_sdk_route53::Client,
    pub acm: aws_sdk_acm::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub kms: aws_sdk_kms::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    /// Reads only the standard AWS configuration (profile, credentials,
    /// `AWS_ENDPOINT_URL[_<SERVICE>]`); the region comes from the plan.
    pub async fn load(region: &str) -> Clients {
        // The SDK makes one attempt per call: infra retries itself, because a
        // create whose response was lost must be looked up before it is sent
        // again, which a transport-level retry cannot know.
        let retry = RetryConfig::standard().with_max_attempts(1);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(Duration::from_secs(90))
            .build();
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .retry_config(retry)
            .timeout_config(timeouts)
            .load()
            .await;
        // Every client logs its calls (`-v`, `INFRA_LOG`) and is fenced by
        // the state lease (S3 backend).
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(&conf)
                        .interceptor(calls::CallLog)
                        .interceptor(fence::Fence)
                        .build(),
                )
            };
        }
        Clients {
            ec2: client!(aws_sdk_ec2),
            iam: client!(aws_sdk_iam),
            eks: client!(aws_sdk_eks),
            rds: client!(aws_sdk_rds),
            route53: client!(aws_sdk_route53),
            acm: client!(aws_sdk_acm),
            sqs: client!(aws_sdk_sqs),
            events: client!(aws_sdk_eventbridge),
            kms: client!(aws_sdk_kms),
            elbv2: client!(aws_sdk_elasticloadbalancingv2),
            sts: client!(aws_sdk_sts),
        }
    }
}

/// How an error should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request was refused before it acted: safe to send again.
    Throttled,
    /// A 5xx: the call may or may not have acted.
    Server,
    /// No response: the call may or may not have acted.
    Transport,
    NotFound,
    /// Something else still uses the resource (`DependencyViolation`).
    Dependency,
    /// IAM eventual consistency: a role or profile just made is not yet visible.
    NotYetConsistent,
    /// A request error that will not go away by itself.
    Client,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation}: {code}: {message}")]
pub struct AwsError {
    pub operation: String,
    pub code: String,
    pub message: String,
    pub class: ErrorClass,
}

impl AwsError {
    pub fn new(operation: &str, code: &str, message: impl Into<String>, class: ErrorClass) -> Self {
        AwsError {
            operation: operation.into(),
            code: code.into(),
            message: message.into(),
            class,
        }
    }

    /// An error infra itself raised (a wait that timed out, a missing field).
    pub fn local(operation: &str, message: impl Into<String>) -> Self {
        AwsError::new(operation, "infra", message, ErrorClass::Client)
    }

    pub fn is_retryable(&self) -> bool {
        matches!(
            self.class,
            ErrorClass::Throttled | ErrorClass::Server | ErrorClass::Transport
        )
    }

    /// True when a mutating call may have taken effect without our knowing.
    pub fn maybe_applied(&self) -> bool {
        matches!(self.class, ErrorClass::Server | ErrorClass::Transport)
    }
}

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "PriorRequestNotComplete",
    "SlowDown",
];

/// "Something else still uses it", as each service spells it.
const IN_USE: &[&str] = &[
    "DependencyViolation",
    "ResourceInUse",
    "DeleteConflict",
    // ACM (a listener holds the certificate), EKS.
    "ResourceInUseException",
    // Route53: records someone else made are left in the zone.
    "HostedZoneNotEmpty",
    // RDS: a DB instance still uses the group.
    "InvalidDBSubnetGroupStateFault",
    "InvalidDBParameterGroupState",
];

pub fn classify(code: &str, status: Option<u16>) -> ErrorClass {
    if THROTTLING.contains(&code) || status == Some(429) {
        ErrorClass::Throttled
    } else if status.is_some_and(|s| s >= 500)
        || code == "InternalError"
        || code == "ServiceUnavailable"
    {
        ErrorClass::Server
    } else if IN_USE.contains(&code) {
        ErrorClass::Dependency
    } else if code.ends_with("NotFound")
        || code.ends_with(".NotFound")
        || code.ends_with("NotFoundException")
        || code.ends_with("NotFoundFault")
        || code == "NoSuchEntity"
        || code == "NoSuchHostedZone"
        || code.starts_with("InvalidAllocationID")
        || code.contains("NonExistentQueue")
        || code == "QueueDoesNotExist"
    {
        ErrorClass::NotFound
    } else {
        ErrorClass::Client
    }
}

/// An error and its sources as one line (`dispatch failure: io error: …:
/// Connection refused`), without the SDK's debug dump.
pub fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        // Wrappers often repeat their source's text.
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// On delete, "not found" means done: `delete(…).await.gone_is_done()`.
pub trait GoneIsDone {
    fn gone_is_done(self) -> Result<(), AwsError>;
}

impl<T> GoneIsDone for Result<T, AwsError> {
    fn gone_is_done(self) -> Result<(), AwsError> {
        match self {
            Err(e) if e.class != ErrorClass::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// On a read of one resource, "not found" means it is not there:
/// `describe(…).await.or_missing()?` is `None` then.
pub trait OrMissing<T> {
    fn or_missing(self) -> Result<Option<T>, AwsError>;
}

impl<T> OrMissing<T> for Result<T, AwsError> {
    fn or_missing(self) -> Result<Option<T>, AwsError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.class == ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// `.aws("CreateVpc")?` turns any SDK error into an [`AwsError`].
pub trait SdkResultExt<T> {
    fn aws(self, operation: &str) -> Result<T, AwsError>;
}

impl<T, E> SdkResultExt<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn aws(self, operation: &str) -> Result<T, AwsError> {
        self.map_err(|err| {
            let status = err.raw_response().map(|r| r.status().as_u16());
            // Refused by the state lease's fence: never sent, never retried.
            if let Some(fenced) = fence::refusal(&err) {
                return AwsError {
                    operation: operation.into(),
                    code: "LeaseLost".into(),
                    message: fenced.to_string(),
                    class: ErrorClass::Client,
                };
            }
            match &err {
                SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
                    AwsError::new(operation, "Transport", causes(&err), ErrorClass::Transport)
                }
                SdkError::ResponseError(_) => AwsError::new(
                    operation,
                    "ResponseError",
                    format!(
                        "{}",
                        aws_smithy_types::error::display::DisplayErrorContext(&err)
                    ),
                    if status.is_some_and(|s| s >= 500) {
                        ErrorClass::Server
                    } else {
                        ErrorClass::Transport
                    },
                ),
                _ => {
                    let code = err.code().unwrap_or("Unknown").to_string();
                    let message = err.message().unwrap_or("").to_string();
                    let class = classify(&code, status);
                    AwsError {
                        operation: operation.into(),
                        code,
                        message,
                        class,
                    }
                }
            }
        })
    }
}

/// Why a retry happens, in a line: the code, and the first part of the message.
fn retry_reason(e: &AwsError) -> String {
    let what = match e.class {
        ErrorClass::Transport => "no answer",
        ErrorClass::Throttled => "throttled",
        _ => "server error",
    };
    // The root cause reads best: `Connection refused (os error 111)`.
    let root = e.message.rsplit(": ").next().unwrap_or(&e.message);
    let mut message: String = root.chars().take(160).collect();
    if message.len() < root.len() {
        message.push('…');
    }
    format!("{what}: {message}")
}

/// `90s`, `5m`, `1h30m`: a limit as people say it.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// Limits for waits, read from the plan and flags.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// Retrying throttling and 5xx for one action.
    pub retry_budget: Duration,
    /// NAT gateways becoming available or deleted.
    pub nat: Duration,
    /// An EKS cluster becoming ACTIVE (real clusters take 9–16 minutes).
    pub cluster: Duration,
    /// A managed node group becoming ACTIVE.
    pub nodegroup: Duration,
    /// An add-on becoming ACTIVE.
    pub addon: Duration,
    /// A DB instance becoming available or going away.
    pub database: Duration,
    /// Waiting out `DependencyViolation` on delete.
    pub dependency: Duration,
    /// Retries of a call that got no answer at all (the first call of a
    /// command has already shown the endpoint answers).
    pub transport_retries: u32,
    /// IAM eventual consistency after a role is made.
    pub iam_propagation: Duration,
    /// First poll interval of a waiter; doubles to 15 s.
    pub poll: Duration,
    /// How long a create whose answer was lost is looked up, with backoff,
    /// before it is sent again, for kinds with no idempotency token or
    /// unique name (EC2 and KMS list a new resource only after a while).
    pub lost_create_lookup: Duration,
}

/// [`Timeouts::lost_create_lookup`]: 60 s, or `INFRA_LOST_CREATE_LOOKUP`
/// (`10s`; the test suite shortens it).
pub fn lost_create_lookup() -> Duration {
    std::env::var("INFRA_LOST_CREATE_LOOKUP")
        .ok()
        .and_then(|v| humantime::parse_duration(v.trim()).ok())
        .unwrap_or(Duration::from_secs(60))
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            retry_budget: Duration::from_secs(300),
            nat: Duration::from_secs(15 * 60),
            cluster: Duration::from_secs(30 * 60),
            nodegroup: Duration::from_secs(30 * 60),
            addon: Duration::from_secs(20 * 60),
            database: Duration::from_secs(40 * 60),
            dependency: Duration::from_secs(5 * 60),
            transport_retries: 3,
            iam_propagation: Duration::from_secs(90),
            poll: Duration::from_millis(500),
            lost_create_lookup: lost_create_lookup(),
        }
    }
}

/// What a kind's calls get: clients, the env, limits, and where to report.
#[derive(Clone)]
pub struct Cx {
    pub clients: Clients,
    pub env: String,
    /// The plan's project: with the env, whose resources these are.
    pub project: String,
    pub timeouts: Timeouts,
    pub reporter: Arc<dyn Reporter>,
    /// Shared reads for one refresh (`None` outside a refresh).
    pub cache: Option<Arc<ReadCache>>,
}

/// Reads several kinds need from one call (route tables for tables, routes
/// and associations; IAM's account details for roles, attachments, inline
/// policies and profiles) are made once per refresh and shared, even when
/// the kinds are read concurrently.
#[derive(Default)]
pub struct ReadCache {
    cells: std::sync::Mutex<
        std::collections::HashMap<
            &'static str,
            Arc<tokio::sync::OnceCell<Arc<dyn std::any::Any + Send + Sync>>>,
        >,
    >,
}

impl Cx {
    /// How long NAT gateways may take to become available or go away.
    pub fn with_nat_timeout(mut self, nat: Duration) -> Cx {
        self.timeouts.nat = nat;
        self
    }

    pub fn owner(&self) -> crate::model::Owner<'_> {
        crate::model::Owner {
            project: &self.project,
            env: &self.env,
        }
    }

    /// A context whose shared reads are made once, for one refresh.
    pub fn with_read_cache(&self) -> Cx {
        Cx {
            cache: Some(Arc::new(ReadCache::default())),
            ..self.clone()
        }
    }

    /// `load()` once per refresh for `key`; every time outside a refresh, so a
    /// lookup after a lost response never sees a stale answer.
    pub async fn shared<T, F, Fut>(&self, key: &'static str, load: F) -> Result<Arc<T>, AwsError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let Some(cache) = &self.cache else {
            return load().await.map(Arc::new);
        };
        let cell = cache
            .cells
            .lock()
            .expect("cache lock")
            .entry(key)
            .or_default()
            .clone();
        let value = cell
            .get_or_try_init(|| async {
                load()
                    .await
                    .map(|t| Arc::new(t) as Arc<dyn std::any::Any + Send + Sync>)
            })
            .await?
            .clone();
        Ok(value.downcast::<T>().expect("one type per cache key"))
    }

    /// Retries throttling and 5xx within the budget, and a call that got no
    /// answer (transport) at most [`Timeouts::transport_retries`] times, each
    /// retry said on screen (throttling from its third). Only for calls that
    /// are safe to repeat (reads, modifies, deletes).
    pub async fn retry<T, F, Fut>(&self, mut call: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let budget = Budget::new(self.timeouts.retry_budget);
        let mut attempt = 0;
        let mut unanswered = 0;
        loop {
            match call().await {
                Err(e)
                    if e.class == ErrorClass::Transport
                        && unanswered >= self.timeouts.transport_retries =>
                {
                    return Err(AwsError {
                        message: format!(
                            "{} (no answer after {} tries)",
                            e.message,
                            unanswered + 1
                        ),
                        ..e
                    });
                }
                Err(e) if e.is_retryable() && !budget.expired() => {
                    attempt += 1;
                    let wait = backoff(attempt);
                    let max = (e.class == ErrorClass::Transport).then(|| {
                        unanswered += 1;
                        self.timeouts.transport_retries
                    });
                    tracing::debug!(target: "infra::aws", operation = %e.operation, code = %e.code, attempt, wait = ?wait, "retrying");
                    if e.class != ErrorClass::Throttled || attempt >= 3 {
                        self.reporter.report(Event::Retrying {
                            operation: e.operation.clone(),
                            error: retry_reason(&e),
                            attempt: max.map(|_| unanswered).unwrap_or(attempt),
                            max,
                            wait,
                        });
                    }
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    /// One SDK call, retried like [`Cx::retry`], its error as an
    /// [`AwsError`]: `cx.call("DeleteVpc", || { ec2.delete_vpc().vpc_id(id).send() })`.
    pub async fn call<T, E, F, Fut>(&self, operation: &str, mut send: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.retry(|| {
            let sent = send();
            async move { sent.await.aws(operation) }
        })
        .await
    }

    /// A delete call retried while the resource is still in use (`in_use`
    /// says by what) for the bounded dependency timeout; "not found" is done.
    pub async fn delete_in_use<T, E, F, Fut>(
        &self,
        address: &str,
        in_use: &str,
        operation: &str,
        mut send: F,
    ) -> Result<(), AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.delete_in_use_with(address, in_use, || {
            let sent = send();
            async move { sent.await.aws(operation) }
        })
        .await
    }

    /// [`Cx::delete_in_use`] for a delete whose error is already an [`AwsError`].
    pub async fn delete_in_use_with<T, F, Fut>(
        &self,
        address: &str,
        in_use: &str,
        delete: F,
    ) -> Result<(), AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let limit = self.timeouts.dependency;
        let deleted = self
            .retry_while(address, in_use, limit, ErrorClass::Dependency, delete)
            .await;
        deleted.gone_is_done()
    }

    /// Every item of a paginated list (`….into_paginator().items().send()`),
    /// the whole walk retried like [`Cx::retry`].
    pub async fn all<T, E, F>(&self, operation: &str, mut items: F) -> Result<Vec<T>, AwsError>
    where
        F: FnMut() -> PaginationStream<Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.retry(|| {
            let stream = items();
            async move { stream.collect::<Result<Vec<_>, _>>().await.aws(operation) }
        })
        .await
    }

    /// Retries errors of `class` (as well as transient ones) until `limit`,
    /// for waits such as IAM propagation or a dependency going away.
    pub async fn retry_while<T, F, Fut>(
        &self,
        address: &str,
        what: &str,
        limit: Duration,
        class: ErrorClass,
        mut call: F,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let budget = Budget::new(limit.max(self.timeouts.retry_budget.min(limit)));
        let started = std::time::Instant::now();
        let mut attempt = 0;
        loop {
            match call().await {
                Err(e) if (e.class == class || e.is_retryable()) && !budget.expired() => {
                    attempt += 1;
                    self.reporter.report(Event::Progress {
                        address: address.to_string(),
                        message: format!(
                            "{what}: {} ({}); waiting up to {}",
                            e.code,
                            e.message,
                            human(limit)
                        ),
                        elapsed: started.elapsed(),
                    });
                    tokio::time::sleep(backoff(attempt)).await;
                }
                other => return other,
            }
        }
    }

    /// Polls `check` until it yields a value, with a progress line and a timeout.
    pub async fn wait_for<T, F, Fut>(
        &self,
        address: &str,
        what: &str,
        timeout: Duration,
        mut check: F,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, AwsError>>,
    {
        let started = std::time::Instant::now();
        let mut interval = self.timeouts.poll;
        loop {
            if let Some(v) = self.retry(&mut check).await? {
                return Ok(v);
            }
            if started.elapsed() >= timeout {
                return Err(AwsError::local(
                    what,
                    format!(
                        "timed out after {}s waiting for {what}; raise the timeout or check the resource in the console",
                        timeout.as_secs()
                    ),
                ));
            }
            self.reporter.report(Event::Progress {
                address: address.to_string(),
                message: format!("waiting for {what} (up to {})", human(timeout)),
                elapsed: started.elapsed(),
            });
            tokio::time::sleep(interval).await;
            interval = (interval * 2).min(Duration::from_secs(15));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::from_secs(45)), "45s");
        assert_eq!(human(Duration::from_secs(30 * 60)), "30m");
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
    }

    #[test]
    fn each_service_spelling_of_in_use_is_a_dependency() {
        for code in [
            "DependencyViolation",
            "ResourceInUseException",
            "HostedZoneNotEmpty",
            "InvalidDBSubnetGroupStateFault",
            "InvalidDBParameterGroupState",
        ] {
            assert_eq!(classify(code, Some(400)), ErrorClass::Dependency, "{code}");
        }
        assert_eq!(
            classify("DBSubnetGroupNotFoundFault", Some(404)),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify("AWS.SimpleQueueService.NonExistentQueue", Some(400)),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify("InvalidParameterValue", Some(400)),
            ErrorClass::Client
        );
    }
}
