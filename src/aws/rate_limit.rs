//! Client-side rate limits on AWS calls: one token bucket per service, applied below the
//! SDK at the HTTP layer, so every attempt (retries and paginated pages included) waits for
//! a token, whichever code path made it. Used by the read-only account audit
//! (`diagnose --all`, `collect`); kept apart so the controller can share it.
//!
//! The defaults sit well under AWS's own request quotas, which are per account and region
//! and shared with everything else the account runs: Lambda's control plane allows 15
//! requests per second (GetPolicy included), EventBridge's control-plane APIs 50 per second
//! in most regions, IAM and ECS throttle at unpublished or per-action rates. An audit that
//! takes a third of a quota cannot starve the account's own deployments. The SDK's adaptive
//! retry still backs off on top of this when AWS throttles anyway.

use crate::sync::Locked;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::time::Instant;

use super::Clients;

tokio::task_local! {
    /// Set (true) while a resync pass runs (`controller::runtime::gate`'s background lane): its calls
    /// give way to every other call in each bucket (`TokenBucket::acquire`).
    static RESYNC: bool;
}

/// Runs `work` with its AWS calls marked as a resync's (`resync`) or not: a pass someone
/// waits for then never waits in a bucket behind the calls of resyncs in flight.
/// A plain function, not an `async fn`: the wrapper adds nothing to the size of `work`'s
/// future (an `async fn` held it twice, and a pass's future in a debug build overflowed a
/// worker's stack).
pub fn in_lane<F: std::future::Future>(
    resync: bool,
    work: F,
) -> tokio::task::futures::TaskLocalFuture<bool, F> {
    RESYNC.scope(resync, work)
}

fn is_resync() -> bool {
    RESYNC.try_with(|r| *r).unwrap_or(false)
}

/// A token bucket: `rate` tokens per second, at most `burst` saved up. Callers reserve a
/// token and sleep until it is theirs, so waiters are served in arrival order; a resync's
/// calls (`in_lane`) instead queue behind one another and take a token only once no other
/// call has reserved it: with 7 resyncs in flight, a new object's pass waited ~0.35 s per
/// call behind their reservations (p95 2.7 s from apply to Ready during a restart backlog).
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    /// Tokens available (negative: reserved ahead), as of the instant.
    state: Mutex<(f64, Instant)>,
    /// Resync calls wait here in arrival order (tokio's mutex is fair, and a call dropped
    /// while waiting leaves the queue).
    resyncs: tokio::sync::Mutex<()>,
}

impl TokenBucket {
    /// `rate` calls per second (clamped to at least 0.1), evenly spaced: no tokens are saved
    /// up beyond one, so no one-second window ever holds more than `rate` + 1 calls (a bucket
    /// that saved a second's worth would allow twice the rate in a window after a pause).
    pub fn new(rate: f64) -> TokenBucket {
        let rate = rate.max(0.1);
        let burst = 1.0;
        TokenBucket {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
            resyncs: tokio::sync::Mutex::new(()),
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Waits until one call may go out.
    pub async fn acquire(&self) {
        if is_resync() {
            return self.acquire_behind().await;
        }
        let wait = {
            let mut state = self.state.locked();
            let now = Instant::now();
            let refilled = state.0 + now.duration_since(state.1).as_secs_f64() * self.rate;
            let tokens = refilled.min(self.burst) - 1.0;
            *state = (tokens, now);
            if tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-tokens / self.rate)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// A resync's call: first in the resyncs' queue, then a token no one has reserved. The
    /// same state as `acquire`, so the rate holds for both together.
    async fn acquire_behind(&self) {
        let _first_in_line = self.resyncs.lock().await;
        loop {
            let wait = {
                let mut state = self.state.locked();
                let now = Instant::now();
                let refilled = (state.0 + now.duration_since(state.1).as_secs_f64() * self.rate)
                    .min(self.burst);
                if refilled >= 1.0 {
                    *state = (refilled - 1.0, now);
                    return;
                }
                *state = (refilled, now);
                Duration::from_secs_f64((1.0 - refilled) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// Calls per second allowed for each AWS service (the SDK's short names: `events`, `iam`,
/// `lambda`, `ecs`, `sts`).
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimits {
    per_service: BTreeMap<&'static str, f64>,
}

pub const SERVICES: [&str; 15] = [
    "events",
    "iam",
    "lambda",
    "ecs",
    "sts",
    "sqs",
    "sns",
    "kinesis",
    "apigateway",
    "scheduler",
    "organizations",
    "kms",
    "cloudwatch",
    "logs",
    "cloudtrail",
];

impl Default for RateLimits {
    /// The controller's and the audit's defaults: well under AWS's per-account quotas, which
    /// every other tool in the account shares — Lambda's control plane (GetPolicy,
    /// AddPermission, …) allows 15 requests per second in all, EventBridge's control plane
    /// about 50; IAM and ECS throttle at unpublished rates, mutating calls first.
    fn default() -> RateLimits {
        RateLimits {
            per_service: BTreeMap::from([
                ("events", 20.0),
                ("iam", 10.0),
                ("lambda", 10.0),
                ("ecs", 10.0),
                ("sts", 10.0),
                ("sqs", 20.0),
                ("sns", 20.0),
                // Kinesis's resource-policy calls share the stream control plane's quota
                // (about 5 per second per account for most of its operations).
                ("kinesis", 5.0),
                // API Gateway's management API allows 10 requests per second per account
                // (burst 40) for all its operations together; a REST API target of another
                // account costs one GetRestApi and one GetStage a pass.
                ("apigateway", 5.0),
                // Scheduler's control plane: Get/Create/UpdateSchedule allow 50 per second
                // per account and region; one GetSchedule per schedule and resync.
                ("scheduler", 10.0),
                // AWS Organizations throttles hard (a few requests per second per account,
                // shared with every tool of the organisation); reads are cached for a resync
                // interval, so a handful per account is all the diagnosis needs.
                ("organizations", 2.0),
                // KMS's GetKeyPolicy/DescribeKey share a 50-per-second control-plane quota.
                ("kms", 10.0),
                // CloudWatch GetMetricData allows 50 per second per account and region; the
                // delivery read makes one call per 100 rules and resync interval.
                ("cloudwatch", 5.0),
                // CloudWatch Logs: FilterLogEvents allows 5 per second per account and
                // region (shared with every reader of the account's logs); a bus's log is
                // read only for a rule whose metrics report failures, once a window.
                ("logs", 2.0),
                // CloudTrail LookupEvents: 2 per second per account and region, AWS's own
                // limit; read once a window and account when a rule there fails.
                ("cloudtrail", 1.0),
            ]),
        }
    }
}

impl RateLimits {
    /// `events=20,iam=10`: these services' rates over `self`'s. An unknown service or a rate
    /// that is not a positive number is an error naming it.
    pub fn overridden(mut self, text: &str) -> Result<RateLimits, String> {
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (service, rate) = pair.split_once('=').ok_or_else(|| {
                format!("`{pair}`: expected SERVICE=CALLS_PER_SECOND, e.g. iam=10")
            })?;
            let service = SERVICES
                .iter()
                .find(|s| **s == service.trim())
                .ok_or_else(|| format!("`{service}` is not one of {}", SERVICES.join(", ")))?;
            let rate: f64 = rate
                .trim()
                .parse()
                .ok()
                .filter(|r: &f64| r.is_finite() && *r > 0.0)
                .ok_or_else(|| {
                    format!(
                        "`{rate}` for {service}: expected a positive number of calls per second"
                    )
                })?;
            self.per_service.insert(service, rate);
        }
        Ok(self)
    }

    /// The same rate for every service (`--max-calls-per-second`).
    pub fn uniform(per_second: f64) -> RateLimits {
        RateLimits {
            per_service: SERVICES.iter().map(|s| (*s, per_second)).collect(),
        }
    }

    pub fn per_second(&self, service: &str) -> f64 {
        self.per_service.get(service).copied().unwrap_or(5.0)
    }
}

/// Services AWS runs globally: one quota per account whatever region is asked.
pub const GLOBAL_SERVICES: [&str; 2] = ["iam", "organizations"];

/// The controller's buckets: one per account, service and, for regional services, region.
/// AWS's quotas are per account (and region), so a client of any region or any way into
/// an account (role, external ID) shares its account's bucket: varying them cannot
/// multiply the rate.
#[derive(Debug)]
pub struct Buckets {
    limits: RateLimits,
    by_key: Mutex<BTreeMap<BucketKey, Arc<TokenBucket>>>,
}

/// (account, region or `global`, service).
type BucketKey = (String, String, &'static str);

impl Buckets {
    pub fn new(limits: RateLimits) -> Buckets {
        Buckets {
            limits,
            by_key: Mutex::default(),
        }
    }

    /// The bucket of `service` in `account` (and `region`, unless the service is global).
    pub fn bucket(&self, account: &str, region: &str, service: &'static str) -> Arc<TokenBucket> {
        let region = if GLOBAL_SERVICES.contains(&service) {
            "global"
        } else {
            region
        };
        self.by_key
            .locked()
            .entry((account.to_string(), region.to_string(), service))
            .or_insert_with(|| Arc::new(TokenBucket::new(self.limits.per_second(service))))
            .clone()
    }

    /// A limiter for clients acting in `account` and `region`.
    pub fn limiter(&self, account: &str, region: &str) -> Limiter {
        Limiter {
            buckets: SERVICES
                .iter()
                .map(|s| (*s, self.bucket(account, region, s)))
                .collect(),
        }
    }
}

/// One bucket per service, shared by every client it limits.
#[derive(Clone, Debug)]
pub struct Limiter {
    buckets: BTreeMap<&'static str, Arc<TokenBucket>>,
}

impl Limiter {
    /// Buckets of its own (one read-only command's whole run).
    pub fn new(limits: &RateLimits) -> Limiter {
        Limiter {
            buckets: SERVICES
                .iter()
                .map(|s| (*s, Arc::new(TokenBucket::new(limits.per_second(s)))))
                .collect(),
        }
    }

    #[allow(
        clippy::expect_used,
        reason = "`limit` names only services of SERVICES, each given a bucket in `new`"
    )]
    fn bucket(&self, service: &str) -> Arc<TokenBucket> {
        self.buckets
            .get(service)
            .cloned()
            .expect("a bucket for every service in SERVICES")
    }

    /// The same clients (configuration, interceptors, retry) whose HTTP attempts wait for
    /// their service's bucket.
    pub fn limit(&self, c: &Clients) -> Clients {
        let http = |existing: Option<SharedHttpClient>, service: &str| RateLimitedHttpClient {
            inner: existing.unwrap_or_else(default_https_client),
            bucket: self.bucket(service),
        };
        Clients {
            region: c.region.clone(),
            iam: aws_sdk_iam::Client::from_conf(
                c.iam
                    .config()
                    .to_builder()
                    .http_client(http(c.iam.config().http_client(), "iam"))
                    .build(),
            ),
            events: aws_sdk_eventbridge::Client::from_conf(
                c.events
                    .config()
                    .to_builder()
                    .http_client(http(c.events.config().http_client(), "events"))
                    .build(),
            ),
            lambda: aws_sdk_lambda::Client::from_conf(
                c.lambda
                    .config()
                    .to_builder()
                    .http_client(http(c.lambda.config().http_client(), "lambda"))
                    .build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                c.sts
                    .config()
                    .to_builder()
                    .http_client(http(c.sts.config().http_client(), "sts"))
                    .build(),
            ),
            ecs: aws_sdk_ecs::Client::from_conf(
                c.ecs
                    .config()
                    .to_builder()
                    .http_client(http(c.ecs.config().http_client(), "ecs"))
                    .build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                c.sqs
                    .config()
                    .to_builder()
                    .http_client(http(c.sqs.config().http_client(), "sqs"))
                    .build(),
            ),
            sns: aws_sdk_sns::Client::from_conf(
                c.sns
                    .config()
                    .to_builder()
                    .http_client(http(c.sns.config().http_client(), "sns"))
                    .build(),
            ),
            kinesis: aws_sdk_kinesis::Client::from_conf(
                c.kinesis
                    .config()
                    .to_builder()
                    .http_client(http(c.kinesis.config().http_client(), "kinesis"))
                    .build(),
            ),
            apigateway: aws_sdk_apigateway::Client::from_conf(
                c.apigateway
                    .config()
                    .to_builder()
                    .http_client(http(c.apigateway.config().http_client(), "apigateway"))
                    .build(),
            ),
            scheduler: aws_sdk_scheduler::Client::from_conf(
                c.scheduler
                    .config()
                    .to_builder()
                    .http_client(http(c.scheduler.config().http_client(), "scheduler"))
                    .build(),
            ),
            organizations: aws_sdk_organizations::Client::from_conf(
                c.organizations
                    .config()
                    .to_builder()
                    .http_client(http(
                        c.organizations.config().http_client(),
                        "organizations",
                    ))
                    .build(),
            ),
            kms: aws_sdk_kms::Client::from_conf(
                c.kms
                    .config()
                    .to_builder()
                    .http_client(http(c.kms.config().http_client(), "kms"))
                    .build(),
            ),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                c.cloudwatch
                    .config()
                    .to_builder()
                    .http_client(http(c.cloudwatch.config().http_client(), "cloudwatch"))
                    .build(),
            ),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                c.logs
                    .config()
                    .to_builder()
                    .http_client(http(c.logs.config().http_client(), "logs"))
                    .build(),
            ),
            cloudtrail: aws_sdk_cloudtrail::Client::from_conf(
                c.cloudtrail
                    .config()
                    .to_builder()
                    .http_client(http(c.cloudtrail.config().http_client(), "cloudtrail"))
                    .build(),
            ),
            task_definitions: c.task_definitions.clone(),
            deployments: c.deployments.clone(),
            shared: c.shared.clone(),
        }
    }
}

/// What the SDK uses when no HTTP client is configured: hyper 1 with rustls on aws-lc.
pub(crate) fn default_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .build_https()
}

#[derive(Clone, Debug)]
struct RateLimitedHttpClient {
    inner: SharedHttpClient,
    bucket: Arc<TokenBucket>,
}

impl HttpClient for RateLimitedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(RateLimitedConnector {
            inner: self.inner.http_connector(settings, components),
            bucket: self.bucket.clone(),
        })
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct RateLimitedConnector {
    inner: SharedHttpConnector,
    bucket: Arc<TokenBucket>,
}

impl HttpConnector for RateLimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // The request is already signed; SigV4 signatures stay valid for minutes, far
        // longer than any wait here.
        let inner = self.inner.clone();
        let bucket = self.bucket.clone();
        HttpConnectorFuture::new(async move {
            bucket.acquire().await;
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Paused time: tokio's clock moves only when every task waits, straight to the next timer,
    // so these figures are the bucket's own arithmetic, not the speed of a shared machine
    // (wall-clock bounds failed when another build held both cores). Each sleep may end up to
    // a millisecond late (the timer's resolution), hence the small margins.

    #[tokio::test(start_paused = true)]
    async fn a_bucket_paces_calls_evenly_and_saves_up_no_burst() {
        let bucket = TokenBucket::new(20.0);
        let start = Instant::now();
        // 21 calls at 20 per second: the first goes at once, the others 50 ms apart.
        for _ in 0..21 {
            bucket.acquire().await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(999) && elapsed <= Duration::from_millis(1020),
            "21 calls take one second: {elapsed:?}"
        );
        // A pause saves up no more than one token: after it, the pace is the same.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after_pause = Instant::now();
        for _ in 0..11 {
            bucket.acquire().await;
        }
        let elapsed = after_pause.elapsed();
        assert!(
            elapsed >= Duration::from_millis(499) && elapsed <= Duration::from_millis(510),
            "no burst after a pause: {elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_someone_waits_for_goes_before_the_resyncs_calls_within_the_same_rate() {
        let bucket = Arc::new(TokenBucket::new(10.0));
        let start = Instant::now();
        let done = Arc::new(Mutex::new(Vec::new()));
        let call = |name: &'static str, resync: bool| {
            let (b, done) = (bucket.clone(), done.clone());
            tokio::spawn(in_lane(resync, async move {
                b.acquire().await;
                done.locked().push((name, start.elapsed()));
            }))
        };
        // Six resync calls queue (one goes at once, on the saved token) ...
        let resyncs: Vec<_> = (0..6).map(|_| call("resync", true)).collect();
        tokio::time::sleep(Duration::from_millis(1)).await;
        // ... then a pass someone waits for makes two calls: each takes the next token.
        let urgent = call("urgent", false);
        urgent.await.unwrap();
        call("urgent", false).await.unwrap();
        for r in resyncs {
            r.await.unwrap();
        }
        let done = done.locked().clone();
        let order: Vec<&str> = done.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            order,
            ["resync", "urgent", "urgent", "resync", "resync", "resync", "resync", "resync"]
        );
        let urgent_at: Vec<Duration> = done
            .iter()
            .filter(|(n, _)| *n == "urgent")
            .map(|(_, t)| *t)
            .collect();
        assert!(urgent_at[1] <= Duration::from_millis(205), "{urgent_at:?}");
        // Eight calls at 10 per second, the first on the saved token: 0.7 s, as without lanes.
        let last = done.last().map(|(_, t)| *t).unwrap_or_default();
        assert!(
            last >= Duration::from_millis(699) && last <= Duration::from_millis(720),
            "{last:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn resync_calls_alone_keep_the_rate_and_their_order() {
        let bucket = Arc::new(TokenBucket::new(20.0));
        let start = Instant::now();
        let done = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..21)
            .map(|i| {
                let (b, done) = (bucket.clone(), done.clone());
                tokio::spawn(in_lane(true, async move {
                    b.acquire().await;
                    done.locked().push(i);
                }))
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(999) && elapsed <= Duration::from_millis(1025),
            "21 calls take one second: {elapsed:?}"
        );
        assert_eq!(
            *done.locked(),
            (0..21).collect::<Vec<_>>(),
            "in arrival order"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_rate() {
        let bucket = Arc::new(TokenBucket::new(10.0));
        let start = Instant::now();
        let tasks: Vec<_> = (0..15)
            .map(|_| {
                let b = bucket.clone();
                tokio::spawn(async move { b.acquire().await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        // One saved token, then 14 more at 10 per second.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1399) && elapsed <= Duration::from_millis(1415),
            "{elapsed:?}"
        );
    }

    #[test]
    fn buckets_are_per_account_and_iam_is_global() {
        let buckets = Buckets::new(RateLimits::default());
        let a = buckets.bucket("111111111111", "us-east-1", "iam");
        // IAM is global: another region of the same account shares the bucket.
        assert!(Arc::ptr_eq(
            &a,
            &buckets.bucket("111111111111", "eu-west-1", "iam")
        ));
        assert!(!Arc::ptr_eq(
            &a,
            &buckets.bucket("222222222222", "us-east-1", "iam")
        ));
        let events = buckets.bucket("111111111111", "us-east-1", "events");
        assert!(!Arc::ptr_eq(
            &events,
            &buckets.bucket("111111111111", "eu-west-1", "events")
        ));
        // Two limiters for one account (two roles or external IDs into it) share buckets.
        let one = buckets.limiter("111111111111", "us-east-1");
        let two = buckets.limiter("111111111111", "eu-west-1");
        assert!(Arc::ptr_eq(&one.bucket("iam"), &two.bucket("iam")));
        assert!(!Arc::ptr_eq(&one.bucket("lambda"), &two.bucket("lambda")));
    }

    #[test]
    fn defaults_stay_well_under_the_known_quotas_and_overrides_name_what_is_wrong() {
        let d = RateLimits::default();
        assert!(
            d.per_second("lambda") <= 15.0 * 2.0 / 3.0,
            "a third of Lambda's left to others"
        );
        assert!(d.per_second("events") <= 50.0 / 2.0);
        let custom = RateLimits::default()
            .overridden("iam=5, lambda=2.5")
            .unwrap();
        assert_eq!(
            (custom.per_second("iam"), custom.per_second("lambda")),
            (5.0, 2.5)
        );
        assert_eq!(custom.per_second("events"), 20.0);
        assert!(RateLimits::default()
            .overridden("dynamodb=5")
            .unwrap_err()
            .contains("dynamodb"));
        assert!(RateLimits::default()
            .overridden("iam=0")
            .unwrap_err()
            .contains("positive"));
        assert_eq!(RateLimits::uniform(2.0).per_second("iam"), 2.0);
        assert!(
            d.per_second("organizations") < 5.0,
            "under Organizations' few requests per second"
        );
        assert_eq!(
            RateLimits::default()
                .overridden("organizations=1")
                .unwrap()
                .per_second("organizations"),
            1.0
        );
    }
}
