//! Logs, metrics and health endpoints. Metric labels are bounded: no object names, no error
//! strings — only result classes, AWS service/operation names and finding codes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabels, Counter>,
    reconcile_duration: Histogram,
    aws_calls: Family<AwsCallLabels, Counter>,
    integrations: Family<ReadyLabels, Gauge>,
    findings: Family<CodeLabels, Gauge>,
    leader: Gauge,
    /// Objects waiting at the concurrency gate (`controller::gate` moves it).
    pub reconcile_queue_depth: Gauge,
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
        registry.register("aws_calls", "AWS API call attempts by service, operation and outcome (success, throttled, client_error, server_error, network_error)", aws_calls.clone());
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
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease (or runs without leader election)",
            leader.clone(),
        );
        let reconcile_queue_depth = Gauge::default();
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
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            aws_calls,
            integrations,
            findings,
            leader,
            reconcile_queue_depth,
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
}

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
        let mut map = self.per_object.lock().expect("metrics lock");
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
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Serves `/metrics`, `/healthz` (process alive) and `/readyz` (controller started).
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
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let m = metrics.clone();
                async move {
                    if m.ready.load(Ordering::Relaxed) {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "starting")
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
}
