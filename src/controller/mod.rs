//! The reconcile loop: watch `EventBridgeIntegration`s, drive AWS to their spec, keep it
//! there (resync), report status, clean up behind a finalizer.
//!
//! One pass: validate (pure) → observe facts → plan (pure) → observe → diff (pure) →
//! record what will be owned → apply → remove what was superseded → diagnose (pure) →
//! status (pure) → write. Clean-up removes exactly what the ownership record lists.
//!
//! Two rooms: `runtime/` schedules passes, `pass/` is one pass. Here is what both use: the
//! settings, the `Context` (which holds the runtime's state), the Event publisher and
//! tenancy's watches.

mod events;
mod pass;
mod runtime;
pub mod tenancy;

pub use pass::status;
pub use runtime::{leader, run};

use runtime::{backoff, drift_events, gate, schedule, ObjectKey};

use crate::sync::Locked;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};

use crate::api::EventBridgeIntegration;
use crate::aws::kms::KeyPolicy;
use crate::aws::organization::OrgPolicies;
use crate::aws::ttl_cache::TtlCache;
use crate::aws::AwsContext;
use crate::locations;
use crate::plan::Guardrails;
use crate::telemetry::Metrics;
use crate::FIELD_MANAGER;

pub const FINALIZER: &str = "eventbridge.dev/cleanup";

#[derive(Clone, Debug)]
pub struct Settings {
    pub resync_interval: Duration,
    pub guardrails: Guardrails,
    pub default_region: crate::iam::Region,
    /// Watch these namespaces instead of all.
    pub namespaces: Vec<String>,
    /// Leader election; None: this process is the only writer.
    pub leader: Option<leader::LeaderSettings>,
    /// This cluster's identity in owner tags (`--cluster-id`, default the UID of the
    /// `kube-system` namespace).
    pub cluster_id: String,
    /// At most this many objects reconcile at once, across every watched namespace
    /// (0: unbounded). Enforced by `gate`: urgent passes first, then resyncs, each lane in order.
    pub max_concurrent_reconciles: u16,
    /// Namespace of the ConfigMap of every place written to (`locations`).
    pub locations_namespace: String,
    /// Organisation policies are read through this role (management or delegated
    /// administrator account); None: with each account's own credentials.
    pub organization_role_arn: Option<crate::iam::RoleArn>,
    /// Whether every integration must be granted by an EventBridgeIntegrationPolicy.
    pub policy_mode: crate::tenancy::PolicyMode,
    /// Namespace of the Secrets that hold the policies' external IDs (the controller's).
    pub secrets_namespace: String,
    /// The AWS clients' operation timeout (`aws::Timeouts`), for the health rule.
    pub aws_operation_timeout: Duration,
    /// Observed delivery: each rule's CloudWatch metrics are summed and read over this
    /// window (`aws::delivery`); None: not observed (`--observe-delivery=false`).
    /// Read the newest dead-letter message of each rule with a dead-letter queue (needs
    /// the delivery window: read once per window).
    pub read_dead_letters: bool,
    pub delivery_window: Option<Duration>,
    /// Drift events (`--drift-events`): a rule and queue per place written to carry
    /// CloudTrail's events of hand edits, which re-queue their objects (`drift_events`).
    pub drift_events: bool,
}

impl Settings {
    /// How old a shared snapshot (`aws::shared_reads`) may be when a pass uses it.
    pub fn snapshot_max_age(&self) -> Duration {
        self.resync_interval / 10
    }

    /// When an in-sync object is looked at again: early enough that drift is found within
    /// one resync interval even through a snapshot `snapshot_max_age` old.
    pub fn in_sync_requeue(&self) -> Duration {
        self.resync_interval - self.snapshot_max_age()
    }

    /// Every in-sync object's slots, `in_sync_requeue` apart (see `schedule`): objects
    /// created together resync apart, and a restart keeps each one's place.
    pub fn slots(&self) -> schedule::Slots {
        schedule::Slots::new(self.in_sync_requeue())
    }

    /// How long passes may be in flight with none ending (or the watch fail) before the
    /// controller counts as not making progress (`telemetry::Health`): three resync
    /// intervals, and at least three AWS operation timeouts (a pass blocked on one hung call
    /// ends after one, so this never flaps under a hung service).
    pub fn stall_after(&self) -> Duration {
        (self.resync_interval * 3).max(self.aws_operation_timeout * 3)
    }
}

/// Why the controller stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot list EventBridgeIntegrations ({0}); is the CRD installed (`eventbridge-integration-controller crd | kubectl apply -f -`) and may this service account list them?")]
    CannotList(kube::Error),
    #[error("leader election failed: {0}")]
    LeaderElection(String),
}

/// The cluster identity for owner tags: the UID of the `kube-system` namespace, which is
/// created with the cluster and never changes.
pub async fn default_cluster_id(client: &Client) -> Result<String, kube::Error> {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = namespaces.get("kube-system").await?;
    Ok(ns.uid().unwrap_or_default())
}

/// Shared by every reconcile of one leadership term (the whole run without leader
/// election).
pub struct Context {
    /// Every write through it passes the fence (`leader::fenced_client`).
    pub client: Client,
    /// The plain client, for the lease manager only.
    lease_client: Client,
    /// Whether this replica may write now (`crate::fence`).
    fence: Arc<crate::fence::Fence>,
    pub aws: AwsContext,
    pub events: events::Publisher,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    /// Consecutive failures per object, for exponential backoff.
    failures: Mutex<backoff::Backoffs<ObjectRef<EventBridgeIntegration>>>,
    /// The bound on passes in flight (see `gate` for why not kube-runtime's).
    gate: gate::Gate<ObjectKey>,
    /// Which of the gate's lanes a pass waits in (see `gate`).
    urgency: gate::Urgency,
    /// The first passes decided from the start-up list (see `schedule`), read while the
    /// watch reads its own.
    startup: schedule::Startup,
    /// Every place written to, for the orphan report.
    locations: Arc<locations::Locations>,
    /// The policies and namespaces admission reads; None with `--policy-mode off`.
    tenancy: Option<Arc<tenancy::Tenancy>>,
    /// Evidence for the diagnosis only, which changes rarely: read once per account (key)
    /// and resync interval, not once per object and pass.
    organizations: TtlCache<OrgPolicies>,
    key_policies: TtlCache<KeyPolicy>,
    /// The drift events' index and requeues; None without `--drift-events`.
    drift: Option<Arc<drift_events::DriftEvents>>,
}

impl Context {
    pub fn new(
        client: Client,
        aws: AwsContext,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Context {
        // With leader election, nothing is written until the Lease names this replica.
        let fence = match settings.leader {
            Some(_) => crate::fence::Fence::closed(),
            None => crate::fence::Fence::open(),
        };
        metrics.health.set_stall_after(settings.stall_after());
        let lease_client = client.clone();
        let client = leader::fenced_client(client, fence.clone(), metrics.clone());
        Context::for_term(
            client,
            lease_client,
            fence.clone(),
            aws.fenced_by(fence),
            metrics,
            settings,
        )
    }

    /// A context for the next leadership term: the same clients and fence, nothing else of
    /// the last term (its gate, backoffs, caches and AWS snapshots: the other leader wrote
    /// meanwhile).
    fn next_term(&self) -> Context {
        Context::for_term(
            self.client.clone(),
            self.lease_client.clone(),
            self.fence.clone(),
            self.aws.fresh(),
            self.metrics.clone(),
            self.settings.clone(),
        )
    }

    fn for_term(
        client: Client,
        lease_client: Client,
        fence: Arc<crate::fence::Fence>,
        aws: AwsContext,
        metrics: Arc<Metrics>,
        settings: Settings,
    ) -> Context {
        let events = events::Publisher::new(
            client.clone(),
            FIELD_MANAGER,
            std::env::var("POD_NAME").ok(),
        );
        let gate = gate::Gate::new(
            settings.max_concurrent_reconciles,
            metrics.reconcile_queue_depth.clone(),
        );
        let drift = settings.drift_events.then(|| {
            Arc::new(drift_events::DriftEvents::new(
                &settings.cluster_id,
                &settings.namespaces,
            ))
        });
        let mut places = locations::Locations::new(client.clone(), &settings.locations_namespace);
        if let Some(d) = &drift {
            let d = d.clone();
            places = places.telling(Box::new(move |ns, name, record| {
                d.observe_record(&(ns.to_string(), name.to_string()), record)
            }));
        }
        let locations = Arc::new(places);
        let tenancy = (settings.policy_mode == crate::tenancy::PolicyMode::Enforce).then(|| {
            Arc::new(tenancy::Tenancy::new(
                client.clone(),
                &settings.secrets_namespace,
            ))
        });
        Context {
            gate,
            urgency: gate::Urgency::default(),
            startup: schedule::Startup::listing(),
            locations,
            tenancy,
            client,
            lease_client,
            fence,
            aws,
            events,
            metrics,
            organizations: TtlCache::new(settings.resync_interval),
            key_policies: TtlCache::new(settings.resync_interval),
            drift,
            settings,
            failures: Default::default(),
        }
    }

    /// The next delay for `obj`'s consecutive failures (see `backoff::retry_delay`).
    fn backoff(&self, key: &ObjectRef<EventBridgeIntegration>, retry: status::Retry) -> Duration {
        self.failures
            .locked()
            .failed(key.clone(), retry, self.settings.resync_interval)
    }

    /// How long until `obj`'s next resync slot (its place is kept across restarts).
    fn until_next_slot(&self, obj: &EventBridgeIntegration) -> Duration {
        self.settings.slots().until_next(
            schedule::millis(SystemTime::now()),
            &obj.uid().unwrap_or_default(),
        )
    }

    /// A success resets the backoff.
    fn succeeded(&self, obj: &EventBridgeIntegration) {
        self.forget(obj);
    }

    /// The object is gone (or its clean-up finished): nothing of it is kept.
    fn forget(&self, obj: &EventBridgeIntegration) {
        self.failures.locked().forget(&ObjectRef::from(obj));
    }
}
