//! Drift events (`run --drift-events`): the controller hears of a hand edit within seconds
//! instead of at the next resync.
//!
//! In each place it writes to (account, region, and the role that reaches the account), the
//! controller owns a queue and a rule of the same name (`plan::drift::resource_name`) on the
//! default bus, whose pattern (`plan::drift::pattern`) selects CloudTrail's events of the
//! calls that change what it owns; the queue's policy admits that rule only (the statement
//! the dead-letter queues get). One task per place long-polls the queue (20 s, 10 messages),
//! maps each event to the objects whose ownership record names the resource (an index kept
//! in memory from the records, `Index`), re-queues them in the gate's urgent lane, exactly
//! as a policy change does, and deletes the messages. An event nobody's record names, a
//! failed call, or the controller's own write re-queues nothing.
//!
//! The rule and queue are recorded before they are created, in a ConfigMap of their own
//! (`CONFIGMAP`, in the namespace of the ConfigMap of places), one key per place: a place no
//! record uses any more loses them, and a controller started without `--drift-events`
//! removes every one that ConfigMap lists (reading it is the only call it makes for this
//! when the ConfigMap does not exist). Both carry the cluster tag and
//! `eventbridge.dev/purpose: drift-events`, and no owner UID: the orphan report never takes
//! them for an object's. A rule or queue of that name without our tags is never touched.
//!
//! Polling stays the safety net: a missed event (CloudTrail's delivery is best effort, and
//! takes from seconds to minutes) is still found at the next resync.

use crate::sync::Locked;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AbortOnDrop;
use crate::api::{EventBridgeIntegration, OwnedResource};
use crate::aws::errors::classify;
use crate::aws::{drift_plumbing, observe, AwsError, Clients, ErrorKind, RemoteAccess};
use crate::controller::Context;
use crate::locations::Location;
use crate::plan::drift::{self, ResourceKey};
use crate::plan::{CLUSTER_TAG, MANAGED_BY, MANAGED_BY_TAG};
use crate::FIELD_MANAGER;

/// The ConfigMap that records every place holding a drift rule and queue.
pub(in crate::controller) const CONFIGMAP: &str = "eventbridge-integration-controller-drift-events";
/// The queue policy statement's id.
const STATEMENT_ID: &str = "ebi-drift-events";
/// A receive's long poll, the queue's `ReceiveMessageWaitTimeSeconds` too.
const WAIT_SECONDS: i32 = 20;

/// `namespace`, `name` of an object.
pub(in crate::controller) type Key = (String, String);

/// One place that holds a drift rule and queue.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(in crate::controller) struct Place {
    pub(in crate::controller) partition: String,
    pub(in crate::controller) account_id: String,
    pub(in crate::controller) region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(in crate::controller) via_role_arn: Option<String>,
}

impl Place {
    fn key(&self) -> String {
        Location {
            account_id: self.account_id.clone(),
            region: Some(self.region.clone()),
            via_role_arn: self.via_role_arn.clone(),
        }
        .key()
    }
}

/// Which objects' records name each resource, and the places they use.
#[derive(Default)]
pub(in crate::controller) struct Index {
    by_resource: HashMap<ResourceKey, BTreeSet<Key>>,
    by_object: HashMap<Key, (Vec<ResourceKey>, BTreeSet<Place>)>,
}

impl Index {
    /// `object`'s record is now `record`. Whether a place came in that no object used.
    pub(in crate::controller) fn set(&mut self, object: &Key, record: &[OwnedResource]) -> bool {
        let before = self.places();
        self.remove(object);
        if record.is_empty() {
            return false;
        }
        let keys: Vec<ResourceKey> = record.iter().map(drift::key_of).collect();
        for k in &keys {
            self.by_resource
                .entry(k.clone())
                .or_default()
                .insert(object.clone());
        }
        let places: BTreeSet<Place> = drift::places_of(record)
            .into_iter()
            .map(|(partition, account_id, region, via_role_arn)| Place {
                partition,
                account_id,
                region,
                via_role_arn,
            })
            .collect();
        let new = places.iter().any(|p| !before.contains(p));
        self.by_object.insert(object.clone(), (keys, places));
        new
    }

    fn remove(&mut self, object: &Key) {
        if let Some((keys, _)) = self.by_object.remove(object) {
            for k in keys {
                if let Some(set) = self.by_resource.get_mut(&k) {
                    set.remove(object);
                    if set.is_empty() {
                        self.by_resource.remove(&k);
                    }
                }
            }
        }
    }

    /// Takes every object of `newer` as it says, over what this index says of it.
    fn absorb(&mut self, newer: Index) {
        for (object, (keys, places)) in newer.by_object {
            self.remove(&object);
            for k in &keys {
                self.by_resource
                    .entry(k.clone())
                    .or_default()
                    .insert(object.clone());
            }
            self.by_object.insert(object, (keys, places));
        }
    }

    pub(in crate::controller) fn objects(&self, resource: &ResourceKey) -> Vec<Key> {
        self.by_resource
            .get(resource)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(in crate::controller) fn places(&self) -> BTreeSet<Place> {
        self.by_object
            .values()
            .flat_map(|(_, p)| p.iter().cloned())
            .collect()
    }
}

/// The runtime half, shared by the term's passes (which keep the index) and its tasks.
pub(in crate::controller) struct DriftEvents {
    /// The rule's and queue's name.
    pub(in crate::controller) name: String,
    index: Mutex<Index>,
    subscribers: Mutex<Vec<UnboundedSender<Key>>>,
    /// A place came in, or a poller lost its queue: ensure now, not at the next interval.
    wake: tokio::sync::Notify,
    /// When the start-up list built the index, until `run` takes it.
    startup_listed: Mutex<Option<std::time::Instant>>,
}

/// An object's key and its record.
pub(in crate::controller) fn record_of(obj: &EventBridgeIntegration) -> (Key, &[OwnedResource]) {
    let key = (obj.namespace().unwrap_or_default(), obj.name_any());
    let record = obj
        .status
        .as_ref()
        .and_then(|s| s.resources.as_deref())
        .unwrap_or_default();
    (key, record)
}

impl DriftEvents {
    pub(in crate::controller) fn new(cluster_id: &str, namespaces: &[String]) -> DriftEvents {
        DriftEvents {
            name: drift::resource_name(cluster_id, namespaces),
            index: Mutex::default(),
            subscribers: Mutex::default(),
            wake: tokio::sync::Notify::new(),
            startup_listed: Mutex::default(),
        }
    }

    /// The record of `obj` as a pass read or wrote it.
    pub(in crate::controller) fn observe(&self, obj: &EventBridgeIntegration) {
        let (key, record) = record_of(obj);
        self.observe_record(&key, record);
    }

    /// The index built from the start-up list (`schedule::plan_startup` reads every object
    /// once for both): `run` takes it instead of listing again.
    pub(in crate::controller) fn index_from_startup(&self, mut index: Index) {
        // The term's index began empty: all it holds now is what this term's passes saw
        // (new objects do not wait for the list, and may have written their record after
        // it read them), which is at least as new as the list.
        let mut current = self.index.locked();
        index.absorb(std::mem::take(&mut *current));
        *current = index;
        *self.startup_listed.locked() = Some(std::time::Instant::now());
    }

    pub(in crate::controller) fn observe_record(&self, key: &Key, record: &[OwnedResource]) {
        if self.index.locked().set(key, record) {
            self.wake.notify_one();
        }
    }

    /// Objects to re-queue, as `(namespace, name)`; each watch keeps those it holds.
    pub(in crate::controller) fn subscribe(&self) -> UnboundedReceiver<Key> {
        let (tx, rx) = unbounded();
        self.subscribers.locked().push(tx);
        rx
    }

    fn requeue(&self, key: &Key) {
        self.subscribers
            .locked()
            .retain(|s| s.unbounded_send(key.clone()).is_ok());
    }
}

/// What became of one message (the `outcome` of `ebi_drift_events_total`).
fn handle(events: &DriftEvents, body: &str, own_arn: Option<&str>) -> &'static str {
    let event = match drift::parse_event(body) {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!("drift queue: a message that is not a CloudTrail event of a watched call ({e}); deleted");
            return "unparsable";
        }
    };
    if event.failed || (own_arn.is_some() && event.caller_arn.as_deref() == own_arn) {
        return "ignored";
    }
    if event
        .resources
        .iter()
        .any(|r| r.name == events.name && r.named != drift::Named::Role)
    {
        // Our own rule or queue was edited: put it back now.
        events.wake.notify_one();
    }
    let objects: BTreeSet<Key> = {
        let index = events.index.locked();
        event
            .resources
            .iter()
            .flat_map(|r| index.objects(r))
            .collect()
    };
    if objects.is_empty() {
        return "unowned";
    }
    for o in &objects {
        tracing::info!(namespace = %o.0, name = %o.1, call = %event.event_name, "drift event: re-queued");
        events.requeue(o);
    }
    "requeued"
}

/// Keeps the drift rules and queues of every place the records use, and a poller on each,
/// for the whole term. The index is built from the start-up list of the watched objects
/// (`schedule::plan_startup`), and rebuilt from a list every resync interval (the passes keep
/// it current in between).
pub(in crate::controller) async fn run(ctx: Arc<Context>, events: Arc<DriftEvents>) {
    let cm: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ctx.settings.locations_namespace);
    let mut pollers: BTreeMap<Place, AbortOnDrop<()>> = BTreeMap::new();
    let mut failures = 0u32;
    // The first list is the start-up schedule's (one list of every object, not two).
    ctx.startup.listed().await;
    let mut listed_at = events.startup_listed.locked().take();
    loop {
        // The passes keep the index current; the list catches what they cannot tell (an
        // object deleted, a record written by another leader), once per interval.
        // A poller that ended lost its queue: deleted by hand, or by `orphans --delete` in a
        // place no record uses any more (which only a list tells, so the rule and queue are
        // not set up again there from a stale index).
        let lost = pollers.values().any(|p| p.0.is_finished());
        if lost || listed_at.is_none_or(|t| t.elapsed() >= ctx.settings.resync_interval) {
            listed_at = relist(&ctx, &events).await.then(std::time::Instant::now);
        }
        let listed = listed_at.is_some();
        let recorded = match recorded_places(&cm).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("drift events: {e}");
                BTreeSet::new()
            }
        };
        let wanted = events.index.locked().places();
        let mut failed = false;
        // Every place is checked each time (a rule or queue of ours edited by hand is put
        // back: at the interval, or at once when its own event is heard); a poller is
        // started where none runs.
        for place in &wanted {
            match ensure(&ctx, &events, &cm, place).await {
                Ok(_) if pollers.get(place).is_some_and(|p| !p.0.is_finished()) => {}
                Ok((clients, url, own)) => {
                    let task = tokio::spawn(poll(ctx.clone(), events.clone(), clients, url, own));
                    pollers.insert(place.clone(), AbortOnDrop(task));
                }
                Err(e) => {
                    failed = true;
                    tracing::warn!(account = %place.account_id, region = %place.region, "drift events: cannot set up the rule and queue {}: {e}", events.name);
                }
            }
        }
        // Only from a complete list: a place missing from a partial index is not unused.
        if listed {
            for place in recorded.iter().filter(|p| !wanted.contains(p)) {
                pollers.remove(place);
                if let Err(e) = remove_place(&ctx, &events.name, &cm, place).await {
                    failed = true;
                    tracing::warn!(account = %place.account_id, region = %place.region, "drift events: cannot remove the rule and queue {} no record uses any more: {e}", events.name);
                }
            }
        }
        failures = if failed || !listed { failures + 1 } else { 0 };
        let wait = if failures > 0 {
            Duration::from_secs(5 << failures.min(6)).min(ctx.settings.resync_interval)
        } else {
            ctx.settings.resync_interval
        };
        let _ = tokio::time::timeout(wait, events.wake.notified()).await;
    }
}

/// Rebuilds the index from every watched object's record. Whether the list was complete.
async fn relist(ctx: &Context, events: &DriftEvents) -> bool {
    // Guarded (in `for_each_watched`): an object this version cannot read (written around
    // the schema) must not fail the whole list; it has no record to read anyway.
    let mut index = Index::default();
    let listed = super::for_each_watched(ctx, |obj| {
        let (key, record) = record_of(obj);
        index.set(&key, record);
    })
    .await;
    if let Err(e) = listed {
        tracing::warn!("drift events: cannot list the integrations to index their records: {e}");
        return false;
    }
    // A record written while the list ran is in the list or comes from its pass again.
    *events.index.locked() = index;
    true
}

async fn recorded_places(cm: &Api<ConfigMap>) -> Result<BTreeSet<Place>, String> {
    let found = cm
        .get_opt(CONFIGMAP)
        .await
        .map_err(|e| format!("cannot read ConfigMap {CONFIGMAP}: {e}"))?;
    Ok(found
        .and_then(|c| c.data)
        .unwrap_or_default()
        .values()
        .filter_map(|v| serde_json::from_str(v).ok())
        .collect())
}

/// One key per place, applied (server-side) by a field manager of its own, as the ConfigMap
/// of places is: the apply creates the ConfigMap on first use (so RBAC can name it) and
/// never touches another place's key.
async fn record_place(cm: &Api<ConfigMap>, place: &Place) -> Result<(), AwsError> {
    let key = place.key();
    let patch = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP},
        "data": {&key: serde_json::to_string(place).unwrap_or_default()},
    });
    cm.patch(
        CONFIGMAP,
        &PatchParams::apply(&format!("{FIELD_MANAGER}.drift.{key}")).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|_| ())
    .map_err(|e| {
        AwsError::new(
            "kubernetes:ConfigMap",
            ErrorKind::Transient,
            "Kubernetes",
            format!("cannot record the place in ConfigMap {CONFIGMAP}: {e}"),
        )
    })
}

fn merge_params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..Default::default()
    }
}

async fn forget_place(cm: &Api<ConfigMap>, place: &Place) -> Result<(), String> {
    let patch = json!({"data": {place.key(): null}});
    match cm
        .patch(CONFIGMAP, &merge_params(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(format!("cannot update ConfigMap {CONFIGMAP}: {e}")),
    }
}

/// Clients for a place: the controller's own credentials in its own account, or the role
/// recorded with the place (with the external ID a policy gives for it).
async fn clients_for(ctx: &Context, place: &Place) -> Result<Clients, AwsError> {
    let Some(via) = &place.via_role_arn else {
        let c = ctx.aws.clients(&place.region);
        let account = ctx.aws.account_id(&c).await?;
        if account != place.account_id {
            return Err(AwsError::new(
                "sts:GetCallerIdentity",
                ErrorKind::Rejected,
                "OtherAccount",
                format!("the place is in account {} but the controller's credentials are for account {account}", place.account_id),
            ));
        }
        return Ok(c);
    };
    let roles = BTreeSet::from([via.clone()]);
    let ids = crate::controller::tenancy::external_ids_for(
        &ctx.client,
        &ctx.settings.secrets_namespace,
        &roles,
    )
    .await
    .map_err(|e| AwsError::new("sts:AssumeRole", ErrorKind::Transient, "ExternalId", e))?;
    let access = RemoteAccess {
        role_arn: via.clone(),
        external_id: ids.get(via).cloned(),
    };
    ctx.aws
        .remote_clients(&place.region, &access, &place.account_id)
        .await
}

fn tags(ctx: &Context) -> BTreeMap<String, String> {
    BTreeMap::from([
        (CLUSTER_TAG.to_string(), ctx.settings.cluster_id.clone()),
        (MANAGED_BY_TAG.to_string(), MANAGED_BY.to_string()),
        (drift::PURPOSE_TAG.to_string(), drift::PURPOSE.to_string()),
    ])
}

/// Whether `found` tags say the resource is this cluster's drift plumbing.
fn ours(ctx: &Context, found: &BTreeMap<String, String>) -> bool {
    drift_plumbing::is_clusters(found, &ctx.settings.cluster_id)
}

fn not_ours(what: &str, name: &str) -> AwsError {
    AwsError::new(
        "drift-events",
        ErrorKind::Rejected,
        "NotOwned",
        format!("a {what} named {name} exists without this cluster's drift-events tags; it is left alone (rename it, or tag it {CLUSTER_TAG} and {}={} to hand it over)", drift::PURPOSE_TAG, drift::PURPOSE),
    )
}

/// The place's queue and rule, as they should be: (clients, queue URL, the controller's
/// caller ARN there, whose own writes are ignored).
async fn ensure(
    ctx: &Context,
    events: &DriftEvents,
    cm: &Api<ConfigMap>,
    place: &Place,
) -> Result<(Clients, String, Option<String>), AwsError> {
    let name = events.name.as_str();
    // Recorded before anything is created, as every owned resource is.
    record_place(cm, place).await?;
    let c = clients_for(ctx, place).await?;
    let (url, arn) = ensure_queue(ctx, &c, name, place).await?;
    let rule_arn = ensure_rule(ctx, &c, name, place).await?;
    ensure_target(&c, name, &arn).await?;
    let statement =
        crate::iam::documents::dead_letter_queue_statement(STATEMENT_ID, &arn, &rule_arn);
    crate::aws::apply::edit_queue_policy(&c, name, place.account_id.as_str(), |policy| {
        Some(crate::iam::documents::with_statement(policy, &statement))
    })
    .await?;
    let own = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .ok()
        .and_then(|o| o.arn);
    Ok((c, url, own))
}

/// The queue, created or its attributes corrected: (URL, ARN). One of the same name without
/// this cluster's tags is not taken.
async fn ensure_queue(
    ctx: &Context,
    c: &Clients,
    name: &str,
    place: &Place,
) -> Result<(String, String), AwsError> {
    let account = place.account_id.as_str();
    if let Some(q) = observe::queue(c, name, account).await? {
        if !ours(ctx, &drift_plumbing::queue_tags(c, &q.url).await?) {
            return Err(not_ours("queue", name));
        }
        let arn = q.attributes.get("QueueArn").cloned().unwrap_or_default();
        correct_queue_attributes(c, &q.url, &q.attributes).await?;
        return Ok((q.url, arn));
    }
    let url = c
        .sqs
        .create_queue()
        .queue_name(name)
        .set_tags(Some(tags(ctx).into_iter().collect()))
        .set_attributes(Some(queue_attributes(&drift::QUEUE_ATTRIBUTES)))
        .send()
        .await
        .map_err(|e| classify("sqs:CreateQueue", e))?
        .queue_url
        .unwrap_or_default();
    let arn = format!(
        "arn:{}:sqs:{}:{account}:{name}",
        place.partition, place.region
    );
    Ok((url, arn))
}

/// The rule on the default bus, matching the place's CloudTrail events: its ARN. Written
/// only when absent, disabled or matching something else; tagged only when created.
async fn ensure_rule(
    ctx: &Context,
    c: &Clients,
    name: &str,
    place: &Place,
) -> Result<String, AwsError> {
    let pattern = drift::pattern(&place.partition, &place.region);
    let found = match observe::rule(c, name, "default").await? {
        Some(r) if !ours(ctx, &r.tags) => return Err(not_ours("rule", name)),
        Some(r) if r.enabled && r.event_pattern.as_ref() == Some(&pattern) => return Ok(r.arn),
        found => found,
    };
    let mut put = c
        .events
        .put_rule()
        .name(name)
        .event_bus_name("default")
        .event_pattern(pattern.to_string())
        .state(aws_sdk_eventbridge::types::RuleState::Enabled)
        .description("eventbridge-integration-controller: CloudTrail events of calls that change what it owns (--drift-events)");
    if found.is_none() {
        for (k, v) in tags(ctx) {
            put = put.tags(
                aws_sdk_eventbridge::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| {
                        AwsError::new("events:PutRule", ErrorKind::Rejected, "Tag", e.to_string())
                    })?,
            );
        }
    }
    Ok(put
        .send()
        .await
        .map_err(|e| classify("events:PutRule", e))?
        .rule_arn
        .unwrap_or_default())
}

/// The rule's one target, the queue: any other target of the rule removed.
async fn ensure_target(c: &Clients, name: &str, queue_arn: &str) -> Result<(), AwsError> {
    let targets = observe::targets(c, name, "default").await?;
    if targets.len() == 1 && targets[0].id == drift::TARGET_ID && targets[0].arn == queue_arn {
        return Ok(());
    }
    let strays: Vec<String> = targets
        .iter()
        .map(|t| t.id.clone())
        .filter(|id| id != drift::TARGET_ID)
        .collect();
    if !strays.is_empty() {
        c.events
            .remove_targets()
            .rule(name)
            .event_bus_name("default")
            .set_ids(Some(strays))
            .send()
            .await
            .map_err(|e| classify("events:RemoveTargets", e))?;
    }
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id(drift::TARGET_ID)
        .arn(queue_arn)
        .build()
        .map_err(|e| {
            AwsError::new(
                "events:PutTargets",
                ErrorKind::Rejected,
                "Target",
                e.to_string(),
            )
        })?;
    c.events
        .put_targets()
        .rule(name)
        .event_bus_name("default")
        .targets(target)
        .send()
        .await
        .map_err(|e| classify("events:PutTargets", e))?;
    Ok(())
}

/// `attributes` as the SDK takes them.
fn queue_attributes(
    attributes: &[(&str, &str)],
) -> HashMap<aws_sdk_sqs::types::QueueAttributeName, String> {
    attributes
        .iter()
        .map(|(k, v)| {
            (
                aws_sdk_sqs::types::QueueAttributeName::from(*k),
                v.to_string(),
            )
        })
        .collect()
}

/// Puts back the drift queue's attributes edited by hand (one call, none when none was).
async fn correct_queue_attributes(
    c: &Clients,
    url: &str,
    observed: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let wrong = drift::queue_attributes_to_correct(observed);
    if wrong.is_empty() {
        return Ok(());
    }
    tracing::info!(queue = url, attributes = ?wrong, "drift events: the queue's attributes were edited; putting them back");
    c.sqs
        .set_queue_attributes()
        .queue_url(url)
        .set_attributes(Some(queue_attributes(&wrong)))
        .send()
        .await
        .map_err(|e| classify("sqs:SetQueueAttributes", e))?;
    Ok(())
}

/// Long-polls one place's queue for the whole term.
async fn poll(
    ctx: Arc<Context>,
    events: Arc<DriftEvents>,
    c: Clients,
    url: String,
    own: Option<String>,
) {
    // A long poll outlasts the clients' attempt timeout (`aws::Timeouts`): this call gets
    // its own, past the wait.
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .read_timeout(Duration::from_secs(WAIT_SECONDS as u64 + 10))
        .operation_timeout(Duration::from_secs(WAIT_SECONDS as u64 + 40))
        .build();
    let mut failures = 0u32;
    loop {
        let received = c
            .sqs
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(WAIT_SECONDS)
            .max_number_of_messages(10)
            .customize()
            .config_override(
                aws_sdk_sqs::config::Builder::default().timeout_config(timeouts.clone()),
            )
            .send()
            .await
            .map_err(|e| classify("sqs:ReceiveMessage", e));
        let messages = match received {
            Ok(out) => {
                failures = 0;
                out.messages.unwrap_or_default()
            }
            Err(e) => {
                tracing::warn!(queue = %url, "drift events: cannot read the queue: {e}");
                if e.is_not_found() {
                    // Deleted by hand: set up again, with a new poller.
                    events.wake.notify_one();
                    return;
                }
                failures += 1;
                tokio::time::sleep(Duration::from_secs(1 << failures.min(6))).await;
                continue;
            }
        };
        let mut done = vec![];
        for (i, m) in messages.iter().enumerate() {
            let outcome = handle(&events, m.body().unwrap_or_default(), own.as_deref());
            ctx.metrics.drift_event(outcome);
            if let Some(receipt) = m.receipt_handle() {
                done.push(
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .build(),
                );
            }
        }
        let done: Vec<_> = done.into_iter().filter_map(Result::ok).collect();
        // DeleteMessageBatch is authorised as sqs:DeleteMessage (the name classified).
        if !done.is_empty() {
            if let Err(e) = c
                .sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(done))
                .send()
                .await
                .map_err(|e| classify("sqs:DeleteMessage", e))
            {
                // Read again after the visibility timeout: one more urgent pass, no harm.
                tracing::warn!(queue = %url, "drift events: cannot delete read messages: {e}");
            }
        }
    }
}

/// Removes a place's rule and queue (each only when tagged as ours), then its record.
async fn remove_place(
    ctx: &Context,
    name: &str,
    cm: &Api<ConfigMap>,
    place: &Place,
) -> Result<(), String> {
    let c = clients_for(ctx, place).await.map_err(|e| e.to_string())?;
    drift_plumbing::remove(&c, name, &ctx.settings.cluster_id, &place.account_id)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(account = %place.account_id, region = %place.region, "drift events: removed rule and queue {name}");
    forget_place(cm, place).await
}

/// Without `--drift-events`: removes every drift rule and queue the ConfigMap records (a
/// controller that had it on before). No ConfigMap: no AWS call.
pub(in crate::controller) async fn remove_all(ctx: Arc<Context>) {
    let cm: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ctx.settings.locations_namespace);
    let name = drift::resource_name(&ctx.settings.cluster_id, &ctx.settings.namespaces);
    let places = match recorded_places(&cm).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("drift events are off, but {e}: any drift rules and queues left are not removed now");
            return;
        }
    };
    for place in &places {
        if let Err(e) = remove_place(&ctx, &name, &cm, place).await {
            tracing::warn!(account = %place.account_id, region = %place.region, "drift events are off; cannot remove the rule and queue {name}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::OwnedKind;
    use crate::plan::drift::tests::entry;

    #[test]
    fn the_receive_waits_as_long_as_the_queue_says() {
        assert!(drift::QUEUE_ATTRIBUTES.contains(&(
            "ReceiveMessageWaitTimeSeconds",
            WAIT_SECONDS.to_string().as_str()
        )));
    }

    fn event(name: &str, params: serde_json::Value, caller: &str) -> String {
        json!({"account": "222222222222", "region": "us-east-1",
               "detail": {"eventSource": "events.amazonaws.com", "eventName": name,
                          "userIdentity": {"arn": caller}, "requestParameters": params}})
        .to_string()
    }

    #[test]
    fn an_event_requeues_the_objects_whose_record_names_it_and_nothing_else() {
        let events = DriftEvents::new("c1", &[]);
        let mut rx = events.subscribe();
        let a = ("ns".to_string(), "a".to_string());
        let b = ("ns".to_string(), "b".to_string());
        events.observe_record(
            &a,
            &[
                entry(OwnedKind::Rule, "ebi-a", Some("us-east-1")),
                entry(OwnedKind::Role, "ebi-a", None),
            ],
        );
        events.observe_record(&b, &[entry(OwnedKind::Rule, "ebi-b", Some("us-east-1"))]);
        let alice = "arn:aws:iam::222222222222:user/alice";
        assert_eq!(
            handle(
                &events,
                &event("RemoveTargets", json!({"rule": "ebi-a"}), alice),
                None
            ),
            "requeued"
        );
        assert_eq!(rx.try_recv().unwrap(), a.clone());
        assert!(rx.try_recv().is_err(), "only a");
        for (body, outcome) in [
            (
                event("RemoveTargets", json!({"rule": "foreign"}), alice),
                "unowned",
            ),
            (
                event("RemoveTargets", json!({"rule": "ebi-a"}), "arn:me"),
                "ignored",
            ),
            ("{".to_string(), "unparsable"),
            (event("RemoveTargets", json!({}), alice), "unparsable"),
        ] {
            assert_eq!(handle(&events, &body, Some("arn:me")), outcome, "{body}");
        }
        assert!(rx.try_recv().is_err(), "nothing re-queued");
        // A record that no longer names the rule: its events find nobody.
        events.observe_record(&a, &[]);
        assert_eq!(
            handle(
                &events,
                &event("PutRule", json!({"name": "ebi-a"}), alice),
                None
            ),
            "unowned"
        );
        assert_eq!(events.index.locked().places().len(), 1);
    }

    /// The start-up list's index does not lose what a pass recorded meanwhile (a new object
    /// does not wait for the list, and its record may be newer than what the list read).
    #[test]
    fn the_start_up_index_keeps_what_passes_recorded_meanwhile() {
        let events = DriftEvents::new("c1", &[]);
        let (new, listed) = (
            ("ns".to_string(), "new".to_string()),
            ("ns".to_string(), "listed".to_string()),
        );
        // A pass records `new` while the list runs; the list saw `new` before its record.
        events.observe_record(
            &new,
            &[entry(OwnedKind::Rule, "ebi-new", Some("us-west-2"))],
        );
        let mut from_list = Index::default();
        from_list.set(&new, &[]);
        from_list.set(
            &listed,
            &[entry(OwnedKind::Rule, "ebi-listed", Some("us-east-1"))],
        );
        events.index_from_startup(from_list);
        let index = events.index.locked();
        let rule = |name: &str, region| drift::key_of(&entry(OwnedKind::Rule, name, Some(region)));
        assert_eq!(index.places().len(), 2, "both places are kept");
        assert_eq!(
            index.objects(&rule("ebi-new", "us-west-2")),
            vec![new.clone()]
        );
        assert_eq!(
            index.objects(&rule("ebi-listed", "us-east-1")),
            vec![listed.clone()]
        );
        assert!(events.startup_listed.locked().is_some());
    }

    #[test]
    fn a_new_place_is_announced_once() {
        let mut index = Index::default();
        let a = ("ns".to_string(), "a".to_string());
        let b = ("ns".to_string(), "b".to_string());
        assert!(index.set(&a, &[entry(OwnedKind::Rule, "r", Some("eu-west-1"))]));
        assert!(!index.set(&b, &[entry(OwnedKind::Rule, "r2", Some("eu-west-1"))]));
        // A role's IAM events are heard in us-east-1.
        assert!(index.set(&b, &[entry(OwnedKind::Role, "role", None)]));
        let regions: Vec<String> = index.places().into_iter().map(|p| p.region).collect();
        assert_eq!(regions, ["eu-west-1", "us-east-1"]);
    }
}
