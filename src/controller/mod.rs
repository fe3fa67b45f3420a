//! The reconcile loop: watch `EventBridgeIntegration`s, drive AWS to their spec, keep it
//! there (resync), report status, clean up behind a finalizer.
//!
//! One pass: validate (pure) → observe facts → plan (pure) → observe → diff (pure) →
//! apply the changes → re-observe if anything was written → diagnose (pure) → status.

pub mod conditions;
pub mod leader;
mod reconcile;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Config as WatcherConfig;
use kube::runtime::{predicates, reflector, watcher, Controller, Predicate, WatchStreamExt};
use kube::{Api, Client, ResourceExt};

use crate::api::EventBridgeIntegration;
use crate::aws::AwsContext;
use crate::plan::Guardrails;
use crate::telemetry::Metrics;

pub const FINALIZER: &str = "eventbridge.dev/cleanup";
pub const FIELD_MANAGER: &str = "eventbridge-integration-controller";

#[derive(Clone, Debug)]
pub struct Settings {
    pub resync_interval: Duration,
    pub guardrails: Guardrails,
    pub default_region: String,
    /// Watch these namespaces instead of all.
    pub namespaces: Vec<String>,
    /// Leader election; None: this process is the only writer.
    pub leader: Option<leader::LeaderSettings>,
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub aws: AwsContext,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    /// Consecutive failures per object, for exponential backoff.
    failures: Mutex<HashMap<ObjectRef<EventBridgeIntegration>, u32>>,
}

impl Context {
    pub fn new(
        client: Client,
        aws: AwsContext,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Context {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let recorder = Recorder::new(client.clone(), reporter);
        Context {
            client,
            aws,
            recorder,
            metrics,
            settings,
            failures: Default::default(),
        }
    }

    /// 2s, 4s, 8s … capped at 5 minutes and at the resync interval.
    fn backoff(&self, obj: &EventBridgeIntegration) -> Duration {
        let mut map = self.failures.lock().expect("failures lock");
        let n = map.entry(ObjectRef::from(obj)).or_insert(0);
        *n = (*n + 1).min(16);
        let secs = 2u64.saturating_pow(*n).min(300);
        Duration::from_secs(secs).min(self.settings.resync_interval.max(Duration::from_secs(2)))
    }

    fn succeeded(&self, obj: &EventBridgeIntegration) {
        self.failures
            .lock()
            .expect("failures lock")
            .remove(&ObjectRef::from(obj));
    }
}

/// Runs until SIGTERM/SIGINT (or, with leader election, until the Lease is lost).
pub async fn run(ctx: Arc<Context>) {
    let apis: Vec<Api<EventBridgeIntegration>> = if ctx.settings.namespaces.is_empty() {
        vec![Api::all(ctx.client.clone())]
    } else {
        ctx.settings
            .namespaces
            .iter()
            .map(|ns| Api::namespaced(ctx.client.clone(), ns))
            .collect()
    };
    for api in &apis {
        if let Err(e) = api.list(&kube::api::ListParams::default().limit(1)).await {
            tracing::error!("cannot list EventBridgeIntegrations ({e}); is the CRD installed (`eventbridge-integration-controller crd | kubectl apply -f -`) and may this service account list them?");
            std::process::exit(1);
        }
    }
    // Healthy from here on, leader or standby.
    ctx.metrics
        .ready
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let leadership = match &ctx.settings.leader {
        None => None,
        Some(l) => match leader::acquire(ctx.client.clone(), l).await {
            Ok(channel) => Some(channel),
            Err(e) => {
                tracing::error!("leader election failed: {e}");
                std::process::exit(1);
            }
        },
    };
    ctx.metrics.set_leader(true);
    // One controller per watched namespace: each has its own cache, so one namespace's
    // re-list never drops another's objects.
    futures::future::join_all(
        apis.into_iter()
            .map(|api| run_one(api, ctx.clone(), leadership.clone())),
    )
    .await;
    if leadership.is_some_and(|c| !*c.borrow()) {
        ctx.metrics.set_leader(false);
        // Exit so the pod restarts as a standby; a replica that lost the Lease never writes.
        tracing::warn!("lost leadership; exiting");
        std::process::exit(1);
    }
}

async fn run_one(
    api: Api<EventBridgeIntegration>,
    ctx: Arc<Context>,
    leadership: Option<tokio::sync::watch::Receiver<bool>>,
) {
    let (reader, writer) = reflector::store();
    // Status-only updates do not pass the filter (generation is unchanged), so writing
    // status never wakes the controller; finalizer changes do pass.
    let stream = watcher(api, WatcherConfig::default().any_semantic())
        .default_backoff()
        .modify(|o: &mut EventBridgeIntegration| o.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::finalizers),
            Default::default(),
        );
    let mut controller = Controller::for_stream(stream, reader).shutdown_on_signal();
    if let Some(channel) = leadership {
        controller = controller.graceful_shutdown_on(leader::lost(channel));
    }
    controller
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("reconcile ended with error: {e}");
            }
        })
        .await;
}
