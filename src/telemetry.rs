//! Logs, metrics and health endpoints. Metric labels are bounded: no object names, no error
//! strings — only result classes, AWS service/operation names and finding codes.

use crate::sync::Locked;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsCallLabels {
    service: String,
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadyLabels {
    ready: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotDeliveringLabels {
    /// The `Delivering` condition's reason (`DeliveryFailing`).
    reason: &'static str,
    /// The static finding that predicted the failures, or `none`.
    predicted: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    api: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DriftEventLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FirstPassLabels {
    when: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KubeWriteLabels {
    resource: &'static str,
}

/// What became of a drift queue's message (`ebi_drift_events_total`).
pub const DRIFT_OUTCOMES: [&str; 4] = ["requeued", "unowned", "ignored", "unparsable"];

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabels, Counter>,
    reconcile_duration: Histogram,
    aws_calls: Family<AwsCallLabels, Counter>,
    integrations: Family<ReadyLabels, Gauge>,
    findings: Family<CodeLabels, Gauge>,
    not_delivering: Family<NotDeliveringLabels, Gauge>,
    leader: Gauge,
    /// Objects waiting at the concurrency gate (`controller::runtime::gate` moves it).
    pub reconcile_queue_depth: Gauge,
    fenced_requests: Family<ApiLabels, Counter>,
    kubernetes_writes: Family<KubeWriteLabels, Counter>,
    first_passes: Family<FirstPassLabels, Counter>,
    cache_synced: Gauge<f64, std::sync::atomic::AtomicU64>,
    drift_events: Family<DriftEventLabels, Counter>,
    /// Whether the controller makes progress (`/healthz`, `/readyz`).
    pub health: Health,
    /// Per object: ready, and its finding codes. The gauges move by each object's change,
    /// so a pass costs the same at 10 objects and at 10,000.
    per_object: Mutex<HashMap<String, ObjectState>>,
    pub ready: AtomicBool,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ebi");
        let reconciles = Family::<ResultLabels, Counter>::default();
        let reconcile_duration = Histogram::new(exponential_buckets(0.01, 2.0, 12));
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        let integrations = Family::<ReadyLabels, Gauge>::default();
        let findings = Family::<CodeLabels, Gauge>::default();
        let not_delivering = Family::<NotDeliveringLabels, Gauge>::default();
        registry.register(
            "reconciles",
            "Reconciliations by result: success, or the failure category (transient, dependency, rejected, access_denied, invalid_spec, credentials, kubernetes).",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconciliation",
            reconcile_duration.clone(),
        );
        registry.register("aws_calls", "AWS API call attempts by service, operation and outcome (success, throttled, client_error, server_error, network_error, timeout; fenced: refused before sending because this replica could not show it holds the leader Lease)", aws_calls.clone());
        registry.register(
            "integrations",
            "EventBridgeIntegrations by Ready state",
            integrations.clone(),
        );
        registry.register(
            "findings",
            "Current diagnosis findings by code, across all integrations",
            findings.clone(),
        );
        registry.register(
            "integrations_not_delivering",
            "EventBridgeIntegrations whose rules AWS reports failed invocations for (Delivering=False), by reason and by the static finding that predicted it (none: the evaluator predicted no cause)",
            not_delivering.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease (or runs without leader election)",
            leader.clone(),
        );
        let reconcile_queue_depth = Gauge::default();
        let fenced_requests = Family::<ApiLabels, Counter>::default();
        registry.register(
            "fenced_requests",
            "Requests refused before they were sent because this replica could not show it still holds the leader Lease, by api (aws: any request; kubernetes: writes)",
            fenced_requests.clone(),
        );
        let kubernetes_writes = Family::<KubeWriteLabels, Counter>::default();
        registry.register(
            "kubernetes_writes",
            "Writes sent to the Kubernetes API, by resource (status: an integration's status; other: objects, finalizers, Events, the ConfigMap of places)",
            kubernetes_writes.clone(),
        );
        let first_passes = Family::<FirstPassLabels, Counter>::default();
        registry.register(
            "first_passes",
            "First passes of the objects found when this replica began to lead, by when: urgent (never in sync, changed meanwhile, or being deleted: first), overdue (in sync, but a resync slot was missed while no controller kept the schedule: now, behind urgent passes), at_slot (in sync and checked at its last slot: at its next one)",
            first_passes.clone(),
        );
        for when in ["urgent", "overdue", "at_slot"] {
            first_passes
                .get_or_create(&FirstPassLabels { when })
                .inc_by(0);
        }
        let cache_synced = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "cache_synced_seconds",
            "Seconds from when this replica began to lead until its watches' initial lists were in kube-runtime's cache: no pass starts before, so an object applied at that moment waits at least this long (it grows with the number of objects)",
            cache_synced.clone(),
        );
        let drift_events = Family::<DriftEventLabels, Counter>::default();
        registry.register(
            "drift_events",
            "CloudTrail events read from the drift queues (--drift-events), by outcome: requeued (an object's record names the resource: its pass is urgent), unowned (no object's record names it: dropped), ignored (a call that failed, or the controller's own write), unparsable (not an event of the expected shape: deleted)",
            drift_events.clone(),
        );
        for outcome in crate::telemetry::DRIFT_OUTCOMES {
            drift_events
                .get_or_create(&DriftEventLabels { outcome })
                .inc_by(0);
        }
        for api in ["aws", "kubernetes"] {
            fenced_requests.get_or_create(&ApiLabels { api }).inc_by(0);
        }
        for resource in ["status", "other"] {
            kubernetes_writes
                .get_or_create(&KubeWriteLabels { resource })
                .inc_by(0);
        }
        registry.register(
            "reconcile_queue_depth",
            "Objects due for a reconciliation and waiting for one of the --max-concurrent-reconciles slots, across every watched namespace",
            reconcile_queue_depth.clone(),
        );
        // Every series from the start, at 0, so that a dashboard sees 0 rather than nothing.
        for ready in ["true", "false"] {
            integrations
                .get_or_create(&ReadyLabels {
                    ready: ready.into(),
                })
                .set(0);
        }
        for code in crate::diagnose::Code::ALL {
            findings
                .get_or_create(&CodeLabels {
                    code: code.as_str().into(),
                })
                .set(0);
        }
        not_delivering
            .get_or_create(&NotDeliveringLabels {
                reason: NOT_DELIVERING_REASON,
                predicted: "none",
            })
            .set(0);
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            aws_calls,
            integrations,
            findings,
            not_delivering,
            leader,
            reconcile_queue_depth,
            fenced_requests,
            kubernetes_writes,
            first_passes,
            cache_synced,
            drift_events,
            health: Health::default(),
            per_object: Default::default(),
            ready: AtomicBool::new(false),
        }
    }
}

/// What the gauges count of one object.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectState {
    pub ready: bool,
    pub codes: Box<[crate::diagnose::Code]>,
    /// Delivering=False: AWS reports failed invocations; with the static finding that
    /// predicted them, if any.
    pub not_delivering: Option<NotDelivering>,
}

/// Why an integration is not delivering, as the gauge labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotDelivering {
    pub predicted: Option<crate::diagnose::Code>,
}

/// The only reason of Delivering=False.
const NOT_DELIVERING_REASON: &str = "DeliveryFailing";

impl Metrics {
    pub fn reconciled(&self, result: &str, seconds: f64) {
        self.reconciles
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
        self.reconcile_duration.observe(seconds);
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(leader as i64);
    }

    /// A request refused at the fence (`api`: aws or kubernetes).
    pub fn fenced_request(&self, api: &'static str) {
        self.fenced_requests.get_or_create(&ApiLabels { api }).inc();
    }

    /// A write sent to the Kubernetes API (`status`: an object's status subresource).
    pub fn kubernetes_write(&self, status: bool) {
        let resource = if status { "status" } else { "other" };
        self.kubernetes_writes
            .get_or_create(&KubeWriteLabels { resource })
            .inc();
    }

    /// One message of a drift queue, by what became of it (one of `DRIFT_OUTCOMES`).
    pub fn drift_event(&self, outcome: &'static str) {
        self.drift_events
            .get_or_create(&DriftEventLabels { outcome })
            .inc();
    }

    /// Every watch of the term has its initial list in the cache, `after` the term began.
    pub fn cache_synced(&self, after: std::time::Duration) {
        self.cache_synced.set(after.as_secs_f64());
    }

    /// How an object found at start-up got its first pass (`controller::runtime::schedule`).
    pub fn first_pass(&self, when: &'static str) {
        self.first_passes
            .get_or_create(&FirstPassLabels { when })
            .inc();
    }

    pub fn aws_call(&self, service: &str, operation: &str, outcome: &str) {
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                service: service.into(),
                operation: operation.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Records an object's current state (None: the object is gone).
    pub fn object_state(&self, key: &str, state: Option<ObjectState>) {
        let mut map = self.per_object.locked();
        let before = match &state {
            Some(now) => map.insert(key.to_string(), now.clone()),
            None => map.remove(key),
        };
        if before == state {
            return;
        }
        // The old state out before the new one in: a scrape in between never counts the
        // object twice.
        if let Some(before) = &before {
            self.count(before, -1);
        }
        if let Some(now) = &state {
            self.count(now, 1);
        }
    }

    fn count(&self, state: &ObjectState, by: i64) {
        let ready = if state.ready { "true" } else { "false" };
        self.integrations
            .get_or_create(&ReadyLabels {
                ready: ready.into(),
            })
            .inc_by(by);
        for code in state.codes.iter() {
            self.findings
                .get_or_create(&CodeLabels {
                    code: code.as_str().into(),
                })
                .inc_by(by);
        }
        if let Some(nd) = &state.not_delivering {
            self.not_delivering
                .get_or_create(&NotDeliveringLabels {
                    reason: NOT_DELIVERING_REASON,
                    predicted: nd.predicted.map_or("none", |c| c.as_str()),
                })
                .inc_by(by);
        }
    }

    #[allow(
        clippy::expect_used,
        reason = "prometheus-client writes to a String, which never refuses a write"
    )]
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Whether the controller makes progress, for `/healthz` and `/readyz`.
///
/// Progress is a pass that ends, whatever it concluded: a classified failure (AWS timed out,
/// access denied) is the controller doing its job and saying so. So one hung AWS service does
/// not make the controller unhealthy: the passes that need it end at the operation timeout
/// and report it, the others converge. What does:
/// - **stalled**: passes have been in flight and none has ended for `stall_after` (a call
///   with no deadline, a deadlock, a starved runtime). A restart can help: `/healthz` fails.
/// - **watch failing**: the watch of integrations has failed continuously for `stall_after`
///   (errors keep coming, none more than a minute apart, and no event in between): the
///   controller no longer learns of changes. A restart cannot fix the API server or RBAC, so
///   only `/readyz` fails.
///
/// `stall_after` is three resync intervals, and at least three AWS operation timeouts.
pub struct Health {
    stall_after: Mutex<Duration>,
    state: Mutex<HealthState>,
}

#[derive(Default)]
struct HealthState {
    in_flight: usize,
    /// When passes last went from none to some in flight.
    busy_since: Option<Instant>,
    last_ended: Option<Instant>,
    /// The first and the latest watch error of the current run of errors.
    watch_failing: Option<(Instant, Instant)>,
}

/// Watch errors further apart than this are not one continuous failure: the watch backs off
/// at most 30 s between attempts (kube-runtime's default backoff), and a watch that resumed
/// quietly (no events) yields nothing to say so.
const WATCH_ERRORS_APART: Duration = Duration::from_secs(60);

impl Default for Health {
    fn default() -> Health {
        Health {
            stall_after: Mutex::new(Duration::from_secs(1800)),
            state: Default::default(),
        }
    }
}

/// A pass in flight; dropped without `ended` (cancelled), it is no longer in flight but is
/// not progress either.
pub struct PassInFlight<'a> {
    health: &'a Health,
}

impl PassInFlight<'_> {
    pub fn ended(self) {
        self.health.lock().last_ended = Some(Instant::now());
    }
}

impl Drop for PassInFlight<'_> {
    fn drop(&mut self) {
        self.health.lock().in_flight -= 1;
    }
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_stall_after(&self, after: Duration) {
        *self.stall_after.lock().unwrap_or_else(|p| p.into_inner()) = after;
    }

    fn stall_after(&self) -> Duration {
        *self.stall_after.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn pass_started(&self) -> PassInFlight<'_> {
        let mut s = self.lock();
        if s.in_flight == 0 {
            s.busy_since = Some(Instant::now());
        }
        s.in_flight += 1;
        PassInFlight { health: self }
    }

    /// What the watch of integrations yielded: an event (or a re-list) or an error.
    pub fn watch_result(&self, ok: bool) {
        let mut s = self.lock();
        let now = Instant::now();
        s.watch_failing = match (ok, s.watch_failing) {
            (true, _) => None,
            (false, Some((first, last))) if now.duration_since(last) <= WATCH_ERRORS_APART => {
                Some((first, now))
            }
            (false, _) => Some((now, now)),
        };
    }

    /// Why the controller is stalled (passes in flight, none ending), if it is.
    pub fn stalled(&self) -> Option<String> {
        self.stalled_at(Instant::now())
    }

    fn stalled_at(&self, now: Instant) -> Option<String> {
        let s = self.lock();
        let after = self.stall_after();
        let since = match (s.busy_since, s.last_ended) {
            (Some(b), Some(e)) => b.max(e),
            (b, e) => b.or(e)?,
        };
        (s.in_flight > 0 && now.duration_since(since) > after).then(|| {
            format!(
                "stalled: {} passes in flight and none has ended for {:?} (more than {after:?})",
                s.in_flight,
                now.duration_since(since)
            )
        })
    }

    /// Why the controller cannot make progress (stalled, or its watch failing), if so.
    pub fn not_progressing(&self) -> Option<String> {
        self.not_progressing_at(Instant::now())
    }

    fn not_progressing_at(&self, now: Instant) -> Option<String> {
        if let Some(stalled) = self.stalled_at(now) {
            return Some(stalled);
        }
        let after = self.stall_after();
        let (first, last) = self.lock().watch_failing?;
        (now.duration_since(first) > after && now.duration_since(last) <= WATCH_ERRORS_APART)
            .then(|| {
                format!(
                    "the watch of EventBridgeIntegrations has failed for {:?} (more than {after:?}); see the log for its errors",
                    now.duration_since(first)
                )
            })
    }
}

/// Serves `/metrics`, `/healthz` (alive, and not stalled) and `/readyz` (started, and making
/// progress; see `Health`).
pub async fn serve(addr: std::net::SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    use axum::{http::StatusCode, routing::get, Router};
    let m1 = metrics.clone();
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = m1.clone();
                async move {
                    (
                        [(
                            "content-type",
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        m.encode(),
                    )
                }
            }),
        )
        .route(
            "/healthz",
            get({
                let m = metrics.clone();
                move || {
                    let m = m.clone();
                    async move {
                        match m.health.stalled() {
                            None => (StatusCode::OK, "ok".to_string()),
                            Some(why) => (StatusCode::INTERNAL_SERVER_ERROR, why),
                        }
                    }
                }
            }),
        )
        .route(
            "/readyz",
            get(move || {
                let m = metrics.clone();
                async move {
                    if !m.ready.load(Ordering::Relaxed) {
                        return (StatusCode::SERVICE_UNAVAILABLE, "starting".to_string());
                    }
                    match m.health.not_progressing() {
                        None => (StatusCode::OK, "ready".to_string()),
                        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
    axum::serve(listener, app).await
}

/// Logs as text (default) or JSON; level from RUST_LOG or `--log-level`.
pub fn init_logging(json: bool, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Code;

    fn gauge(m: &Metrics, series: &str) -> i64 {
        let text = m.encode();
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} not in:\n{text}"))
    }

    fn state(ready: bool, codes: &[Code]) -> Option<ObjectState> {
        Some(ObjectState {
            ready,
            codes: codes.into(),
            not_delivering: None,
        })
    }

    #[test]
    fn gauges_follow_each_objects_latest_state() {
        let m = Metrics::default();
        let ready = r#"ebi_integrations{ready="true"}"#;
        let not_ready = r#"ebi_integrations{ready="false"}"#;
        let pass_role = r#"ebi_findings{code="PassRoleMissing"}"#;
        assert_eq!((gauge(&m, ready), gauge(&m, pass_role)), (0, 0));

        m.object_state("ns/a", state(false, &[Code::PassRoleMissing]));
        m.object_state("ns/b", state(true, &[]));
        assert_eq!((gauge(&m, ready), gauge(&m, not_ready)), (1, 1));
        assert_eq!(gauge(&m, pass_role), 1);
        // A pass that finds the same again changes nothing.
        m.object_state("ns/a", state(false, &[Code::PassRoleMissing]));
        assert_eq!((gauge(&m, not_ready), gauge(&m, pass_role)), (1, 1));
        // Fixed: moves from not ready to ready, and the finding goes.
        m.object_state("ns/a", state(true, &[]));
        assert_eq!((gauge(&m, ready), gauge(&m, not_ready)), (2, 0));
        assert_eq!(gauge(&m, pass_role), 0);
        // Deleted objects leave the counts; an unknown one changes nothing.
        m.object_state("ns/b", None);
        m.object_state("ns/never", None);
        assert_eq!((gauge(&m, ready), gauge(&m, not_ready)), (1, 0));
    }

    #[test]
    fn the_not_delivering_gauge_follows_each_objects_delivery() {
        let m = Metrics::default();
        let unpredicted =
            r#"ebi_integrations_not_delivering{reason="DeliveryFailing",predicted="none"}"#;
        let pass_role = r#"ebi_integrations_not_delivering{reason="DeliveryFailing",predicted="PassRoleMissing"}"#;
        assert_eq!(gauge(&m, unpredicted), 0);
        let failing = |predicted| ObjectState {
            ready: true,
            codes: [Code::DeliveryFailing].into(),
            not_delivering: Some(NotDelivering { predicted }),
        };
        m.object_state("ns/a", Some(failing(None)));
        m.object_state("ns/b", Some(failing(Some(Code::PassRoleMissing))));
        m.object_state("ns/a", Some(failing(None)));
        assert_eq!((gauge(&m, unpredicted), gauge(&m, pass_role)), (1, 1));
        m.object_state("ns/a", state(true, &[]));
        m.object_state("ns/b", None);
        assert_eq!((gauge(&m, unpredicted), gauge(&m, pass_role)), (0, 0));
    }

    /// The gauges and the histogram are exported from the start, so dashboards see 0 rather
    /// than nothing before the first reconciliation (the gate's own test checks the queue's
    /// value). The counters' families appear with their first series: prometheus-client
    /// writes no family that has none.
    #[test]
    fn gauges_and_histogram_are_exported_at_start_up() {
        let text = Metrics::default().encode();
        for family in [
            "ebi_reconcile_duration_seconds histogram",
            "ebi_integrations gauge",
            "ebi_findings gauge",
            "ebi_integrations_not_delivering gauge",
            "ebi_leader gauge",
            "ebi_reconcile_queue_depth gauge",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family}\n")),
                "{family}:\n{text}"
            );
        }
        assert!(text.contains("\nebi_reconcile_queue_depth "), "{text}");
    }

    /// Paused time: `advance` moves tokio's clock, which `Health` reads.
    #[tokio::test(start_paused = true)]
    async fn passes_in_flight_that_never_end_are_a_stall_and_ending_ones_are_not() {
        let h = Health::default();
        h.set_stall_after(Duration::from_secs(90));
        let sec = |s| tokio::time::advance(Duration::from_secs(s));
        assert_eq!(h.stalled(), None, "idle is not stalled");
        let hung = h.pass_started();
        sec(60).await;
        // Other passes keep ending (a hung service, the rest converging): progress.
        for _ in 0..3 {
            h.pass_started().ended();
            sec(60).await;
        }
        assert_eq!(h.stalled(), None);
        sec(31).await;
        let why = h
            .stalled()
            .expect("nothing ended for 91 s with a pass in flight");
        assert!(why.contains("1 passes in flight"), "{why}");
        assert!(h.not_progressing().is_some());
        // A cancelled pass is not progress, but no longer in flight either.
        drop(hung);
        assert_eq!(h.stalled(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_watch_failing_without_pause_is_not_progress_and_one_event_heals_it() {
        let h = Health::default();
        h.set_stall_after(Duration::from_secs(90));
        for _ in 0..4 {
            h.watch_result(false);
            tokio::time::advance(Duration::from_secs(30)).await;
        }
        assert!(h
            .not_progressing()
            .expect("failing for 120 s")
            .contains("watch"));
        assert_eq!(
            h.stalled(),
            None,
            "only readiness: a restart cannot fix the API"
        );
        h.watch_result(true);
        assert_eq!(h.not_progressing(), None);
        // Errors further apart than a backoff are not one failure.
        h.watch_result(false);
        tokio::time::advance(Duration::from_secs(120)).await;
        assert_eq!(h.not_progressing(), None);
    }
}
