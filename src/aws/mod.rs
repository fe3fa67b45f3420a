//! The AWS side: shared SDK clients, observation (reads) and application (writes).
//! Everything that talks to AWS lives here; the planner and the diagnosis never do.

pub mod api_destination;
pub mod apply;
pub mod bus_logs;
pub mod cloudtrail;
pub mod delivery;
pub mod delivery_evidence;
pub mod drift_plumbing;
pub mod errors;
#[cfg(test)]
pub(crate) mod fake;
pub mod kms;
pub mod observe;
pub mod organization;
pub mod policy_holder;
pub mod rate_limit;
pub mod remove;
pub mod schedule;
pub mod shared_reads;
pub mod target_parameters;
pub mod ttl_cache;

use crate::iam::AccountId;
use crate::sync::Locked;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

pub use errors::{AwsError, ErrorKind};

use crate::fence::{Fence, Fenced};
use crate::telemetry::Metrics;

/// How long AWS may take to answer. Every client the controller builds carries them.
///
/// - `attempt`: one HTTP attempt, from the moment the request leaves the client-side rate
///   limiter (`rate_limit`) until AWS's response headers, connection included. It is the
///   SDK's read timeout, which runs inside the HTTP connector, below the token bucket's wait:
///   a request queued behind a rate limit is waiting its turn, not hanging, and is never
///   timed out for it. (The SDK's own attempt timeout would start before that wait, so it is
///   left unset.) AWS's control-plane calls answer in well under a second; the largest page
///   the controller reads (`GetAccountAuthorizationDetails`, 1,000 roles) in a few seconds.
/// - `operation`: one call as a whole — every attempt, the retry backoff between them and
///   the rate-limit waits. It bounds how long a pass (and any lock or shared read it holds)
///   waits for one hung endpoint. Standard retry makes up to 5 attempts with up to 1+2+4+8 s
///   of jittered backoff; a throttled call that finally succeeds takes well under 30 s, and a
///   queue of 8 passes (`--max-concurrent-reconciles`) behind the slowest default rate
///   (Organizations, 2 a second) waits 4 s. Against an endpoint that never answers, 30 s is
///   about three attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub operation: Duration,
    pub attempt: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            operation: Duration::from_secs(30),
            attempt: Duration::from_secs(10),
        }
    }
}

impl Timeouts {
    fn config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .operation_timeout(self.operation)
            .read_timeout(self.attempt)
            // A host that does not even accept the connection is known sooner.
            .connect_timeout(self.attempt.min(Duration::from_secs(5)))
            .build()
    }

    /// Timeouts that cannot work: zero, or an attempt longer than the operation.
    pub fn validate(&self) -> Result<(), String> {
        if self.operation.is_zero() || self.attempt.is_zero() {
            return Err(
                "--aws-operation-timeout and --aws-attempt-timeout must be above zero".into(),
            );
        }
        if self.attempt > self.operation {
            return Err(format!(
                "--aws-attempt-timeout ({:?}) is longer than --aws-operation-timeout ({:?}): no retry could ever run",
                self.attempt, self.operation
            ));
        }
        Ok(())
    }

    /// A warning when `passes` calls queued at once behind the slowest rate limit (one each)
    /// would wait for their tokens more than half the operation timeout: such calls would
    /// time out while only waiting their turn.
    pub fn queue_warning(&self, limits: &rate_limit::RateLimits, passes: u16) -> Option<String> {
        let (service, slowest) = rate_limit::SERVICES
            .iter()
            .map(|s| (*s, limits.per_second(s)))
            .fold(("", f64::MAX), |a, b| if b.1 < a.1 { b } else { a });
        let queue = Duration::from_secs_f64(f64::from(passes.max(1)) / slowest);
        (queue * 2 > self.operation).then(|| {
            format!(
                "{passes} passes at once behind the {service} rate limit ({slowest}/s) may queue {queue:?} for a token, more than half of --aws-operation-timeout ({:?}): raise the timeout or the rate, or lower --max-concurrent-reconciles, or calls may time out while only waiting their turn",
                self.operation
            )
        })
    }
}

/// The SDK clients for one region. Cheap to clone (clients share connection pools).
#[derive(Clone, Debug)]
pub struct Clients {
    pub region: String,
    pub iam: aws_sdk_iam::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sts: aws_sdk_sts::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    /// A stream's resource policy, for direct delivery from another account.
    pub kinesis: aws_sdk_kinesis::Client,
    /// A REST API's resource policy and its stage's deployment, for direct delivery from
    /// another account.
    pub apigateway: aws_sdk_apigateway::Client,
    /// EventBridge Scheduler: a `spec.schedule`'s schedule.
    pub scheduler: aws_sdk_scheduler::Client,
    /// Read-only: organisation policies (SCPs, RCPs) for the diagnosis.
    pub organizations: aws_sdk_organizations::Client,
    /// Read-only: key policies of dead-letter queues' KMS keys, for the diagnosis.
    pub kms: aws_sdk_kms::Client,
    /// Read-only: the per-rule metrics of `AWS/Events` (GetMetricData), for the observed
    /// delivery (`delivery`).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Read-only: where an event bus logs (CloudWatch Logs deliveries) and its failure
    /// records there, for the observed delivery (`bus_logs`).
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Read-only: EventBridge's failed calls as CloudTrail records them (`cloudtrail`).
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    /// Task definitions by ARN with a revision: a revision never changes, so it is read once
    /// per account and region, not once per object and pass.
    pub task_definitions: Arc<Mutex<HashMap<String, crate::plan::TaskDefinition>>>,
    /// When each REST API deployment was created (seconds since the epoch), by
    /// `API_ID/DEPLOYMENT_ID`: a deployment never changes, so it is read once, and a resync
    /// reads only which one the stage serves.
    pub deployments: Arc<Mutex<HashMap<String, i64>>>,
    /// Bulk reads shared by every integration of this account and region.
    pub shared: Arc<shared_reads::SharedReads>,
}

/// What a provisioning role's trust policy requires of whoever assumes it. Not a secret
/// to AWS, but a tenant's: it is read from a Secret and never printed (`Debug` hides it),
/// logged, written to status, Events, metrics or the locations ConfigMap.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ExternalId(String);

impl ExternalId {
    pub fn new(value: impl Into<String>) -> ExternalId {
        ExternalId(value.into())
    }

    /// The value, for the STS request only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ExternalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExternalId(<redacted>)")
    }
}

/// The way into another account: the role the controller assumes there, and the external
/// ID its trust policy asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RemoteAccess {
    pub role_arn: String,
    pub external_id: Option<ExternalId>,
}

impl RemoteAccess {
    pub fn role(role_arn: impl Into<String>) -> RemoteAccess {
        RemoteAccess {
            role_arn: role_arn.into(),
            external_id: None,
        }
    }
}

/// Clients per region, built once from the standard SDK configuration chain
/// (AWS_REGION, AWS_ENDPOINT_URL, credentials, IRSA / Pod Identity).
#[derive(Clone)]
pub struct AwsContext {
    base: SdkConfig,
    metrics: Arc<Metrics>,
    by_region: Arc<Mutex<HashMap<String, Clients>>>,
    /// Read once; concurrent first askers share one read, and its failure (see
    /// `shared_reads::Snapshot`).
    account: Arc<shared_reads::Snapshot<String>>,
    /// Client-side rate limits, one bucket per account, service and (for regional services)
    /// region, whichever way the account is reached.
    buckets: Option<Arc<rate_limit::Buckets>>,
    /// Checked by every request right before it is sent (see `fence`).
    fence: Arc<Fence>,
}

/// The account key of the controller's own credentials in the rate-limit buckets (its
/// account number is learnt later; no other account is reached without a role).
const OWN_ACCOUNT: &str = "self";

impl AwsContext {
    pub async fn from_env(metrics: Arc<Metrics>) -> AwsContext {
        // Standard retry: exponential backoff with jitter on throttling and 5xx. Pacing is the
        // token buckets' job; the SDK's adaptive mode also slept 13-19 s after a throttle.
        let base = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .timeout_config(Timeouts::default().config())
            .load()
            .await;
        AwsContext {
            base,
            metrics,
            by_region: Default::default(),
            account: Default::default(),
            buckets: None,
            fence: Fence::open(),
        }
    }

    /// Every client built from here on has these timeouts.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> AwsContext {
        self.base = self
            .base
            .to_builder()
            .timeout_config(timeouts.config())
            .build();
        self.by_region = Default::default();
        self
    }

    /// Every request of every client built from here on is sent only while `fence` allows.
    pub fn fenced_by(mut self, fence: Arc<Fence>) -> AwsContext {
        self.fence = fence;
        self.by_region = Default::default();
        self
    }

    /// The same configuration, rate limits and fence, with no client built yet: no shared
    /// snapshot of an earlier leadership term outlives it (another replica wrote meanwhile).
    pub fn fresh(&self) -> AwsContext {
        AwsContext {
            by_region: Default::default(),
            ..self.clone()
        }
    }

    /// Every client built from here on waits for its account's and service's bucket.
    pub fn with_rate_limits(mut self, limits: rate_limit::RateLimits) -> AwsContext {
        self.buckets = Some(Arc::new(rate_limit::Buckets::new(limits)));
        self
    }

    pub fn default_region(&self) -> Option<String> {
        self.base.region().map(|r| r.to_string())
    }

    pub fn clients(&self, region: &str) -> Clients {
        let mut map = self.by_region.locked();
        map.entry(region.to_string())
            .or_insert_with(|| {
                let config = self
                    .base
                    .to_builder()
                    .region(Region::new(region.to_string()))
                    .build();
                self.build_clients(region, &config, OWN_ACCOUNT)
            })
            .clone()
    }

    /// Clients acting in another account through `access` (cross-account integrations).
    /// The SDK's AssumeRoleProvider caches the credentials until they expire and refreshes
    /// them. The first use verifies the role can be assumed and lands in `account`. Every
    /// way into one account shares that account's rate limits.
    pub async fn remote_clients(
        &self,
        region: &str,
        access: &RemoteAccess,
        account: &str,
    ) -> Result<Clients, AwsError> {
        let role_arn = access.role_arn.as_str();
        let key = format!(
            "{region}|{role_arn}|{}",
            access.external_id.as_ref().map_or("", |e| e.expose())
        );
        if let Some(c) = self.by_region.locked().get(&key) {
            return Ok(c.clone());
        }
        let mut provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name("eventbridge-integration-controller")
            .region(Region::new(region.to_string()))
            .configure(&self.base);
        if let Some(id) = &access.external_id {
            provider = provider.external_id(id.expose());
        }
        let provider = provider.build().await;
        let config = self
            .base
            .to_builder()
            .region(Region::new(region.to_string()))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build();
        let clients = self.build_clients(region, &config, account);
        let who = clients
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| errors::assume_role_failure(role_arn, &e))?;
        if who.account() != Some(account) {
            return Err(AwsError::new(
                "sts:AssumeRole",
                ErrorKind::AccessDenied,
                errors::PROVISIONING_ROLE_NOT_ASSUMABLE,
                format!(
                    "assuming {role_arn} landed in account {:?}, not {account}",
                    who.account()
                ),
            ));
        }
        self.by_region.locked().insert(key, clients.clone());
        Ok(clients)
    }

    fn build_clients(&self, region: &str, config: &SdkConfig, account: &str) -> Clients {
        let counter = CallCounter {
            metrics: self.metrics.clone(),
        };
        // Below the rate limiter (which wraps whatever client is set here): the fence is
        // checked after the wait for a token, right before the request leaves.
        let fenced = FencedHttpClient {
            inner: config
                .http_client()
                .unwrap_or_else(rate_limit::default_https_client),
            fence: self.fence.clone(),
        };
        let config = &config.to_builder().http_client(fenced).build();
        let clients = Clients {
            region: region.to_string(),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            events: aws_sdk_eventbridge::Client::from_conf(
                aws_sdk_eventbridge::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            lambda: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            ecs: aws_sdk_ecs::Client::from_conf(
                aws_sdk_ecs::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            organizations: aws_sdk_organizations::Client::from_conf(
                aws_sdk_organizations::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            kms: aws_sdk_kms::Client::from_conf(
                aws_sdk_kms::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            sns: aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            kinesis: aws_sdk_kinesis::Client::from_conf(
                aws_sdk_kinesis::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            apigateway: aws_sdk_apigateway::Client::from_conf(
                aws_sdk_apigateway::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            scheduler: aws_sdk_scheduler::Client::from_conf(
                aws_sdk_scheduler::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(config)
                    .interceptor(counter.clone())
                    .build(),
            ),
            cloudtrail: aws_sdk_cloudtrail::Client::from_conf(
                aws_sdk_cloudtrail::config::Builder::from(config)
                    .interceptor(counter)
                    .build(),
            ),
            task_definitions: Default::default(),
            deployments: Default::default(),
            shared: Default::default(),
        };
        match &self.buckets {
            Some(buckets) => buckets.limiter(account, region).limit(&clients),
            None => clients,
        }
    }

    /// The account of the controller's credentials (STS GetCallerIdentity, once).
    pub async fn account_id(&self, clients: &Clients) -> Result<AccountId, AwsError> {
        self.account
            .once(|| async {
                let out = clients
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| errors::classify("sts:GetCallerIdentity", e))?;
                out.account.ok_or_else(|| {
                    AwsError::new(
                        "sts:GetCallerIdentity",
                        ErrorKind::Rejected,
                        "NoAccount",
                        "GetCallerIdentity returned no account",
                    )
                })
            })
            .await
            .and_then(|a| {
                AccountId::parse(&a).map_err(|e| {
                    AwsError::new(
                        "sts:GetCallerIdentity",
                        ErrorKind::Rejected,
                        "MalformedAccount",
                        e.to_string(),
                    )
                })
            })
    }
}

/// Counts every HTTP attempt by service, operation and outcome, for `/metrics` and for the
/// tests that prove an in-sync resync writes nothing.
#[derive(Clone, Debug)]
struct CallCounter {
    metrics: Arc<Metrics>,
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_default();
        let outcome = match context.response() {
            None => match context
                .output_or_error()
                .and_then(|r| r.err())
                .and_then(|e| e.as_connector_error())
            {
                Some(e) if is_fenced(e) => "fenced",
                Some(e) if e.is_timeout() => "timeout",
                _ => "network_error",
            },
            Some(r) => classify_attempt(
                r.status().as_u16(),
                r.headers().get("x-amzn-errortype"),
                r.body().bytes(),
            ),
        };
        if outcome == "fenced" {
            self.metrics.fenced_request("aws");
        }
        self.metrics.aws_call(&service, &operation, outcome);
        Ok(())
    }
}

/// Whether the connector refused the attempt at the fence (it was never sent).
fn is_fenced(e: &ConnectorError) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.is::<Fenced>())
}

/// An HTTP client whose requests leave only while the fence allows (see `fence`); a request
/// it refuses fails as a connector error the SDK does not retry.
#[derive(Clone, Debug)]
struct FencedHttpClient {
    inner: SharedHttpClient,
    fence: Arc<Fence>,
}

impl HttpClient for FencedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FencedConnector {
            inner: self.inner.http_connector(settings, components),
            fence: self.fence.clone(),
        })
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct FencedConnector {
    inner: SharedHttpConnector,
    fence: Arc<Fence>,
}

impl HttpConnector for FencedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        match self.fence.check() {
            Ok(()) => self.inner.call(request),
            Err(fenced) => {
                HttpConnectorFuture::ready(Err(ConnectorError::other(Box::new(fenced), None)))
            }
        }
    }
}

/// The outcome label of one HTTP attempt. Throttling comes as 429, or as a 400 whose error
/// type names it: in a header for JSON protocols, in the body for IAM/STS's XML.
pub fn classify_attempt(
    status: u16,
    error_type: Option<&str>,
    body: Option<&[u8]>,
) -> &'static str {
    const THROTTLING: [&str; 4] = [
        "Throttling",
        "TooManyRequests",
        "RequestLimitExceeded",
        "SlowDown",
    ];
    let in_header = error_type.is_some_and(|t| THROTTLING.iter().any(|c| t.starts_with(c)));
    let in_body = || {
        body.and_then(|b| std::str::from_utf8(b).ok())
            .is_some_and(|text| {
                THROTTLING.iter().any(|c| {
                    text.contains(&format!("<Code>{c}")) || text.contains(&format!("\"{c}"))
                })
            })
    };
    match status {
        429 => "throttled",
        400 if in_header || in_body() => "throttled",
        s if s < 300 => "success",
        s if s < 500 => "client_error",
        _ => "server_error",
    }
}

/// Whether an operation name writes (for counting writes in tests and metrics).
pub fn is_write_operation(operation: &str) -> bool {
    [
        "Create", "Put", "Update", "Delete", "Add", "Remove", "Tag", "Untag", "Attach", "Detach",
        "Enable", "Disable", "Set",
    ]
    .iter()
    .any(|p| operation.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::{classify_attempt, rate_limit::RateLimits, Timeouts};
    use std::time::Duration;

    #[test]
    fn timeouts_that_cannot_work_are_refused() {
        let s = Duration::from_secs;
        assert!(Timeouts::default().validate().is_ok());
        let t = |operation, attempt| Timeouts { operation, attempt };
        assert!(t(s(0), s(1)).validate().is_err());
        assert!(t(s(30), s(0)).validate().is_err());
        assert!(t(s(5), s(10)).validate().unwrap_err().contains("no retry"));
    }

    #[test]
    fn a_queue_that_would_outwait_the_timeout_is_warned_about() {
        let limits = RateLimits::uniform(2.0);
        let t = Timeouts::default();
        assert_eq!(t.queue_warning(&limits, 8), None, "4 s of 30");
        let warning = t.queue_warning(&limits, 40).expect("20 s of 30");
        assert!(warning.contains("--max-concurrent-reconciles"), "{warning}");
    }

    #[test]
    fn attempts_are_labelled_by_outcome() {
        assert_eq!(classify_attempt(200, None, None), "success");
        assert_eq!(classify_attempt(429, None, None), "throttled");
        assert_eq!(
            classify_attempt(400, Some("ThrottlingException:http://internal"), None),
            "throttled"
        );
        let iam = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert_eq!(classify_attempt(400, None, Some(iam)), "throttled");
        assert_eq!(
            classify_attempt(400, None, Some(br#"{"__type":"ThrottlingException"}"#)),
            "throttled"
        );
        assert_eq!(
            classify_attempt(400, Some("ValidationException"), Some(b"{}")),
            "client_error"
        );
        assert_eq!(classify_attempt(404, None, None), "client_error");
        assert_eq!(classify_attempt(503, None, None), "server_error");
    }
}
