//! When an in-sync object is checked again, and why a restart does not check them all at
//! once (issue 22).
//!
//! **Slots.** Every object is re-checked on slots of its own: `period` apart (the resync
//! interval less the snapshot age, `Settings::in_sync_requeue`), at a phase within the
//! period picked by a digest of its UID. Objects created together resync apart, and any
//! process (this one after a restart, a new leader) computes the same slots without reading
//! anything.
//!
//! **Heartbeat.** The leader writes, every `beat_every(period)`, that it has kept every
//! object's slots from `since` (when the objects it found at start-up had all had their first
//! pass or been scheduled) up to `at` (now, or earlier if a resync still waits at the gate).
//! One key of one ConfigMap per controller (its cluster ID and watched namespaces), a write
//! every few seconds to a minute, never one per object.
//!
//! **A restart.** One paginated list of the watched objects (with status), read once the
//! watches have their own initial list (kube-runtime starts no pass before that, and the two
//! lists at once slowed each other): an object new to the controller (no finalizer yet) or
//! being deleted goes at once; only objects that may have been in sync wait for it. An object whose status says Ready at its current generation, and whose latest slot
//! falls within the last heartbeat, was checked at that slot: its first pass waits for its
//! next slot, in the background lane. One whose slot fell while no controller kept the
//! schedule is overdue: passed now, in the background lane. One never seen in sync, changed
//! while the controller was down, or being deleted, is urgent. So no object goes longer than
//! one period unchecked because of a restart, and the start-up burst is only the objects
//! whose slots were missed. One exception, bounded: a pass in flight when the process dies
//! counts as kept, so up to `--max-concurrent-reconciles` objects may wait two periods.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::gate::hash_of;
use crate::api::EventBridgeIntegration;
use crate::controller::Context;
use crate::sync::Locked;
use crate::FIELD_MANAGER;

/// How long the start-up list waits for the watches' own initial lists.
const WATCHES_SYNCED_WITHIN: Duration = Duration::from_secs(30);

/// The ConfigMap of heartbeats, in the namespace of the ConfigMap of places.
pub(in crate::controller) const CONFIGMAP: &str = "eventbridge-integration-controller-schedule";

/// Milliseconds since the Unix epoch (slots and heartbeats are wall-clock times: another
/// process, on another node, reads them).
pub(in crate::controller) type Millis = u64;

pub(in crate::controller) fn millis(t: SystemTime) -> Millis {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as Millis
}

/// Every object's slots, `period` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slots {
    period: Millis,
}

impl Slots {
    pub fn new(period: Duration) -> Slots {
        Slots {
            period: (period.as_millis() as Millis).max(1),
        }
    }

    /// Where in the period `uid`'s slots fall: a digest, so the same in every process and
    /// version (std's hasher is neither).
    pub fn phase_of(&self, uid: &str) -> Millis {
        let digest = Sha256::digest(uid.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % self.period
    }

    /// The latest slot at or before `t`.
    pub fn latest_at_or_before(&self, t: Millis, phase: Millis) -> Millis {
        if t < phase {
            // Before the epoch's first slot: there is none; report one period before it.
            return phase.saturating_sub(self.period);
        }
        t - (t - phase) % self.period
    }

    /// The first slot strictly after `t`.
    pub fn first_after(&self, t: Millis, phase: Millis) -> Millis {
        self.latest_at_or_before(t, phase) + self.period
    }

    /// How long an object checked now waits for its next check: until its next slot, at
    /// most a period (the resync interval less the snapshot age: drift is still found
    /// within one interval). A pass off its slot (a change, a retry) may be followed soon by
    /// its slot's pass: one read, never a later check.
    pub fn until_next(&self, now: Millis, uid: &str) -> Duration {
        Duration::from_millis(self.first_after(now, self.phase_of(uid)) - now)
    }
}

/// How often the leader writes its heartbeat: a twentieth of a period, between 1 s and 60 s.
pub(in crate::controller) fn beat_every(period: Duration) -> Duration {
    (period / 20).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// What the leader writes: every object's slots from `since` to `at` were kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(in crate::controller) struct Heartbeat {
    /// The slots' period; a heartbeat of another period (the interval was changed) says
    /// nothing of today's slots.
    pub period_millis: Millis,
    pub since_millis: Millis,
    pub at_millis: Millis,
}

/// An object found at start-up, as the list showed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::controller) struct Found {
    pub uid: String,
    pub generation: Option<i64>,
    /// Ready=True at its current generation, and not being deleted.
    pub in_sync: bool,
}

impl Found {
    pub(in crate::controller) fn of(obj: &EventBridgeIntegration) -> Found {
        let generation = obj.metadata.generation;
        let in_sync = obj.metadata.deletion_timestamp.is_none()
            && obj.status.as_ref().is_some_and(|s| {
                s.observed_generation == generation
                    && s.condition(crate::api::condition::READY)
                        .is_some_and(|c| c.status == "True")
            });
        Found {
            uid: obj.uid().unwrap_or_default(),
            generation,
            in_sync,
        }
    }
}

/// When an object found at start-up gets its first pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::controller) enum FirstPass {
    /// Never seen in sync, changed while no controller ran, or being deleted: now, urgent.
    Urgent,
    /// In sync, but its latest slot fell outside the heartbeat: now, in the background lane.
    Overdue,
    /// In sync and checked at its latest slot: at its next slot (this wall-clock time), in
    /// the background lane.
    AtSlot(Millis),
}

impl FirstPass {
    pub(in crate::controller) fn label(&self) -> &'static str {
        match self {
            FirstPass::Urgent => "urgent",
            FirstPass::Overdue => "overdue",
            FirstPass::AtSlot(_) => "at_slot",
        }
    }
}

/// The first pass of `found`, given the last heartbeat, at `now`.
pub(in crate::controller) fn first_pass(
    found: &Found,
    slots: Slots,
    heartbeat: Option<&Heartbeat>,
    now: Millis,
) -> FirstPass {
    if !found.in_sync {
        return FirstPass::Urgent;
    }
    let Some(beat) = heartbeat.filter(|b| b.period_millis == slots.period) else {
        return FirstPass::Overdue;
    };
    let phase = slots.phase_of(&found.uid);
    let latest = slots.latest_at_or_before(now, phase);
    if beat.since_millis <= latest && latest <= beat.at_millis {
        FirstPass::AtSlot(latest + slots.period)
    } else {
        FirstPass::Overdue
    }
}

/// A decision of the start-up list: the generation it was taken at, and the first pass.
type Decisions = HashMap<u64, (Option<i64>, FirstPass)>;

/// Where start-up stands.
enum Phase {
    /// The list is being read, beside the watch's own. Objects handed over meanwhile that
    /// need no decision of it (new to the controller, being deleted) go at once; the list's
    /// decisions for them are dropped when it ends.
    Listing { contacted: HashSet<u64> },
    /// Decided: the first passes not yet taken.
    Decided { waiting: Decisions },
}

/// What the start-up list says of an object handed to the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::controller) enum Contact {
    /// Its first pass, if the list decided one; None: decide as for any pass.
    Decided(Option<FirstPass>),
    /// It may have been in sync: ask again once the list is read (`Startup::listed`).
    AfterTheList,
}

/// The first passes decided at start-up, taken one by one as kube-runtime hands each
/// object to the controller. The list is read while the watch reads its own, so an object
/// new to the controller never waits for it. Once all are taken (or a period has gone by:
/// an object deleted between the list and the watch is never handed over), the schedule is
/// kept for every object from then on: the heartbeat's `since`.
pub(in crate::controller) struct Startup {
    /// Watches whose initial list is in kube-runtime's cache (`watch_synced`).
    watches_synced: tokio::sync::watch::Sender<usize>,
    phase: Mutex<Phase>,
    /// Whether the list has been read (and decided, or given up).
    listed: tokio::sync::watch::Sender<bool>,
    kept_since: Mutex<Option<Millis>>,
}

impl Startup {
    /// Before the list is read.
    pub(in crate::controller) fn listing() -> Startup {
        Startup {
            watches_synced: tokio::sync::watch::Sender::new(0),
            phase: Mutex::new(Phase::Listing {
                contacted: HashSet::new(),
            }),
            listed: tokio::sync::watch::Sender::new(false),
            kept_since: Mutex::new(None),
        }
    }

    /// Start-up with the list read and these decisions taken at `now` (tests).
    #[cfg(test)]
    pub(in crate::controller) fn new(decided: Decisions, now: Millis) -> Startup {
        let startup = Startup::listing();
        startup.decide(decided, now);
        startup
    }

    /// The list is read: `decided` are the first passes of the objects it found, at `now`.
    pub(in crate::controller) fn decide(&self, mut decided: Decisions, now: Millis) {
        let mut phase = self.phase.locked();
        if let Phase::Listing { contacted } = &*phase {
            for key in contacted {
                decided.remove(key);
            }
        }
        if decided.is_empty() {
            self.kept_since.locked().get_or_insert(now);
        }
        *phase = Phase::Decided { waiting: decided };
        self.listed.send_replace(true);
    }

    /// The list could not be read: every object is passed as any pass is (now), and the
    /// schedule counts as kept only once a period has gone by (`stop_waiting`).
    pub(in crate::controller) fn decide_nothing(&self) {
        *self.phase.locked() = Phase::Decided {
            waiting: HashMap::new(),
        };
        self.listed.send_replace(true);
    }

    /// One more watch has its initial list in kube-runtime's cache; how many have.
    pub(in crate::controller) fn watch_synced(&self) -> usize {
        let mut synced = 0;
        self.watches_synced.send_modify(|n| {
            *n += 1;
            synced = *n;
        });
        synced
    }

    /// Waits until `watches` watches have their initial list.
    async fn watches_synced(&self, watches: usize) {
        let mut synced = self.watches_synced.subscribe();
        // The sender lives as long as `self`.
        let _ = synced.wait_for(|n| *n >= watches).await;
    }

    /// Waits until the list is read.
    pub(in crate::controller) async fn listed(&self) {
        let mut listed = self.listed.subscribe();
        // The sender lives as long as `self`: the wait ends only by the list being read.
        let _ = listed.wait_for(|listed| *listed).await;
    }

    /// The first pass decided for `key`, if it was found at start-up, still is at the
    /// generation the list showed, and is not being deleted. While the list is read, an
    /// object without the controller's finalizer (never passed) or being deleted goes as
    /// any pass does; any other waits for the list.
    pub(in crate::controller) fn first_contact<K: Hash>(
        &self,
        key: &K,
        generation: Option<i64>,
        deleting: bool,
        finalized: bool,
        now: Millis,
    ) -> Contact {
        let mut phase = self.phase.locked();
        let waiting = match &mut *phase {
            // Its first contact was before: a new object's second pass (the first only adds
            // the finalizer) does not wait for the list either.
            Phase::Listing { contacted }
                if deleting || !finalized || contacted.contains(&hash_of(key)) =>
            {
                contacted.insert(hash_of(key));
                return Contact::Decided(None);
            }
            Phase::Listing { .. } => return Contact::AfterTheList,
            Phase::Decided { waiting } => waiting,
        };
        let Some((listed_at, decided)) = waiting.remove(&hash_of(key)) else {
            return Contact::Decided(None);
        };
        if waiting.is_empty() {
            self.kept_since.locked().get_or_insert(now);
        }
        Contact::Decided((listed_at == generation && !deleting).then_some(decided))
    }

    /// Called once a period after start-up: whatever was never handed over is gone.
    pub(in crate::controller) fn stop_waiting(&self, now: Millis) {
        let mut phase = self.phase.locked();
        let Phase::Decided { waiting } = &mut *phase else {
            // Still listing after a period: nothing is kept yet.
            return;
        };
        if !waiting.is_empty() {
            tracing::debug!(
                never_handed_over = waiting.len(),
                "start-up objects never handed to the controller (deleted meanwhile)"
            );
            *waiting = HashMap::new();
        }
        self.kept_since.locked().get_or_insert(now);
    }

    /// Since when every object's slots are kept; None while start-up passes remain.
    pub(in crate::controller) fn kept_since(&self) -> Option<Millis> {
        *self.kept_since.locked()
    }
}

/// The heartbeat's key: one per controller (cluster ID and watched namespaces), so test
/// controllers sharing an API server, or two installations watching different namespaces,
/// never read each other's.
pub(in crate::controller) fn heartbeat_key(cluster_id: &str, namespaces: &[String]) -> String {
    let mut namespaces = namespaces.to_vec();
    namespaces.sort();
    let mut digest = Sha256::new().chain_update(cluster_id.as_bytes());
    for ns in &namespaces {
        digest = digest.chain_update(b"\n").chain_update(ns.as_bytes());
    }
    let digest = digest.finalize();
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("heartbeat.{hex}")
}

fn heartbeats(ctx: &Context) -> Api<ConfigMap> {
    Api::namespaced(ctx.client.clone(), &ctx.settings.locations_namespace)
}

fn own_key(ctx: &Context) -> String {
    heartbeat_key(&ctx.settings.cluster_id, &ctx.settings.namespaces)
}

/// The last heartbeat this controller wrote; None when there is none, or it cannot be read
/// (then every in-sync object is overdue: passed now, in the background lane).
async fn last_heartbeat(ctx: &Context) -> Option<Heartbeat> {
    let key = own_key(ctx);
    match heartbeats(ctx).get_opt(CONFIGMAP).await {
        Ok(cm) => cm
            .and_then(|cm| cm.data)
            .and_then(|data| data.get(&key).cloned())
            .and_then(|value| serde_json::from_str(&value).ok()),
        Err(e) => {
            tracing::warn!("cannot read ConfigMap {CONFIGMAP} (the resync schedule's heartbeat): {e}; every object in sync is checked now");
            None
        }
    }
}

/// Lists every watched object (with its status, a page at a time: only what `Found` needs
/// is kept) and decides each one's first pass, once the `watches` watches have their own
/// initial list: kube-runtime starts no pass before its cache is complete, so a new object
/// waits for that list, and this one (10,000 objects with their status, from etcd) would
/// only slow it down. The objects that may have been in sync wait for both.
pub(in crate::controller) async fn plan_startup(ctx: std::sync::Arc<Context>, watches: usize) {
    // A watch that cannot list (its namespace's RBAC) must not hold the others' objects.
    let synced = tokio::time::timeout(WATCHES_SYNCED_WITHIN, ctx.startup.watches_synced(watches));
    if synced.await.is_err() {
        tracing::warn!("not every watch has its initial list after {WATCHES_SYNCED_WITHIN:?}; reading the start-up list anyway");
    }
    let slots = ctx.settings.slots();
    let heartbeat = last_heartbeat(&ctx).await;
    let now = millis(SystemTime::now());
    let mut decided = HashMap::new();
    let mut counts: HashMap<&'static str, u64> = HashMap::new();
    // With drift events, the same list builds their index (one list of every object, not
    // two at once at start-up).
    let mut drift_index = ctx
        .drift
        .as_ref()
        .map(|_| super::drift_events::Index::default());
    let listed = super::for_each_watched(&ctx, |obj| {
        if let Some(index) = drift_index.as_mut() {
            let (key, record) = super::drift_events::record_of(obj);
            index.set(&key, record);
        }
        let found = Found::of(obj);
        let decision = first_pass(&found, slots, heartbeat.as_ref(), now);
        *counts.entry(decision.label()).or_default() += 1;
        let key =
            super::ObjectKey::new(&obj.name_any()).within(&obj.namespace().unwrap_or_default());
        decided.insert(hash_of(&key), (found.generation, decision));
    })
    .await;
    if let Err(e) = listed {
        tracing::warn!("cannot list the watched objects for the restart schedule: {e}; every object gets its first pass now");
        ctx.startup.decide_nothing();
        return;
    }
    tracing::info!(
        at_slot = counts.get("at_slot").copied().unwrap_or(0),
        overdue = counts.get("overdue").copied().unwrap_or(0),
        urgent = counts.get("urgent").copied().unwrap_or(0),
        heartbeat = ?heartbeat,
        "first passes after start-up: in sync and checked at their last slot wait for the next one; overdue go now in the background lane; urgent go first"
    );
    if let (Some(events), Some(index)) = (&ctx.drift, drift_index) {
        events.index_from_startup(index);
    }
    ctx.startup.decide(decided, now);
}

/// Writes the heartbeat while this process leads: every `beat_every`, once start-up's
/// first passes are all taken. Its `at` is held back to the oldest resync still waiting at
/// the gate (that slot is not yet kept).
pub(in crate::controller) async fn beat(ctx: std::sync::Arc<Context>) {
    let slots = ctx.settings.slots();
    let every = beat_every(ctx.settings.in_sync_requeue());
    let started = tokio::time::Instant::now();
    let key = own_key(&ctx);
    let mut warned = false;
    loop {
        tokio::time::sleep(every).await;
        let startup = &ctx.startup;
        if started.elapsed() >= ctx.settings.in_sync_requeue() {
            startup.stop_waiting(millis(SystemTime::now()));
        }
        let Some(since) = startup.kept_since() else {
            continue;
        };
        let now = SystemTime::now();
        let at = match ctx.gate.oldest_background_wait() {
            Some(waited) => now.checked_sub(waited).unwrap_or(now),
            None => now,
        };
        let beat = Heartbeat {
            period_millis: slots.period,
            since_millis: since,
            at_millis: millis(at).max(since),
        };
        let patch = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP},
            "data": {key.clone(): serde_json::to_string(&beat).unwrap_or_default()},
        });
        let written = heartbeats(&ctx)
            .patch(
                CONFIGMAP,
                &PatchParams::apply(&format!("{FIELD_MANAGER}.{key}")).force(),
                &Patch::Apply(&patch),
            )
            .await;
        match written {
            Ok(_) => warned = false,
            Err(e) if !warned => {
                warned = true;
                tracing::warn!("cannot write the resync schedule's heartbeat to ConfigMap {CONFIGMAP}: {e}; after a restart, every object in sync is checked at once (in the background lane)");
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_secs(540);

    fn found(uid: &str, in_sync: bool) -> Found {
        Found {
            uid: uid.into(),
            generation: Some(3),
            in_sync,
        }
    }

    #[test]
    fn slots_are_a_period_apart_at_a_phase_fixed_by_the_uid() {
        let slots = Slots::new(PERIOD);
        let phase = slots.phase_of("8c1f0c9e-5b1a-4c55-9d2b-0d7d3b2f9a10");
        assert_eq!(
            phase,
            slots.phase_of("8c1f0c9e-5b1a-4c55-9d2b-0d7d3b2f9a10")
        );
        assert!(phase < 540_000);
        let now = 1_796_000_000_000;
        let latest = slots.latest_at_or_before(now, phase);
        assert!(latest <= now && now - latest < 540_000);
        assert_eq!((latest - phase) % 540_000, 0);
        assert_eq!(slots.first_after(now, phase), latest + 540_000);
        // A slot is its own latest, and the next one is a whole period on.
        assert_eq!(slots.latest_at_or_before(latest, phase), latest);
        assert_eq!(slots.first_after(latest, phase), latest + 540_000);
    }

    #[test]
    fn objects_created_together_resync_apart() {
        let slots = Slots::new(PERIOD);
        // 1,000 objects: their phases fill the period's ten tenths evenly (±30%).
        let mut tenths = [0u32; 10];
        for i in 0..1000 {
            let phase = slots.phase_of(&format!("uid-{i}"));
            tenths[(phase * 10 / 540_000) as usize] += 1;
        }
        assert!(tenths.iter().all(|n| (70..=130).contains(n)), "{tenths:?}");
    }

    #[test]
    fn the_next_check_is_never_later_than_a_period() {
        let slots = Slots::new(PERIOD);
        for (i, now) in (0..500u64)
            .map(|i| (i, 1_796_000_000_000 + i * 7_919))
            .collect::<Vec<_>>()
        {
            let wait = slots.until_next(now, &format!("uid-{i}"));
            assert!(wait > Duration::ZERO && wait <= PERIOD, "{wait:?}");
        }
        // At its slot, the next check is exactly one period on.
        let phase = slots.phase_of("uid-x");
        let slot = slots.first_after(1_796_000_000_000, phase);
        assert_eq!(
            slots.until_next(slot + 40, "uid-x"),
            PERIOD - Duration::from_millis(40)
        );
    }

    #[test]
    fn a_restart_waits_for_the_next_slot_of_objects_checked_at_their_last() {
        let slots = Slots::new(PERIOD);
        let object = found("uid-a", true);
        let phase = slots.phase_of("uid-a");
        let now = 1_796_000_000_000;
        let latest = slots.latest_at_or_before(now, phase);
        let beat = Heartbeat {
            period_millis: 540_000,
            since_millis: latest - 1,
            at_millis: latest + 1,
        };
        assert_eq!(
            first_pass(&object, slots, Some(&beat), now),
            FirstPass::AtSlot(latest + 540_000)
        );
    }

    #[test]
    fn a_slot_missed_while_no_controller_kept_the_schedule_is_overdue() {
        let slots = Slots::new(PERIOD);
        let object = found("uid-a", true);
        let phase = slots.phase_of("uid-a");
        let now = 1_796_000_000_000;
        let latest = slots.latest_at_or_before(now, phase);
        // The heartbeat ended before the slot (the controller was down at it) ...
        let ended_before = Heartbeat {
            period_millis: 540_000,
            since_millis: latest - 100_000,
            at_millis: latest - 1,
        };
        assert_eq!(
            first_pass(&object, slots, Some(&ended_before), now),
            FirstPass::Overdue
        );
        // ... or began after it (start-up passes still running then) ...
        let began_after = Heartbeat {
            since_millis: latest + 1,
            at_millis: latest + 2,
            ..ended_before
        };
        assert_eq!(
            first_pass(&object, slots, Some(&began_after), now),
            FirstPass::Overdue
        );
        // ... or was written for another period, or never.
        let other_period = Heartbeat {
            period_millis: 270_000,
            since_millis: latest - 1,
            at_millis: latest + 1,
        };
        assert_eq!(
            first_pass(&object, slots, Some(&other_period), now),
            FirstPass::Overdue
        );
        assert_eq!(first_pass(&object, slots, None, now), FirstPass::Overdue);
    }

    #[test]
    fn objects_not_in_sync_are_urgent_whatever_the_heartbeat() {
        let slots = Slots::new(PERIOD);
        let beat = Heartbeat {
            period_millis: 540_000,
            since_millis: 0,
            at_millis: u64::MAX,
        };
        assert_eq!(
            first_pass(
                &found("uid-a", false),
                slots,
                Some(&beat),
                1_796_000_000_000
            ),
            FirstPass::Urgent
        );
    }

    #[test]
    fn in_sync_means_ready_at_the_current_generation_and_not_deleting() {
        let mut obj: EventBridgeIntegration = serde_json::from_value(json!({
            "apiVersion": "eventbridge.dev/v1alpha1",
            "kind": "EventBridgeIntegration",
            "metadata": {"name": "a", "namespace": "n", "uid": "u", "generation": 2},
            "spec": {"rule": {"scheduleExpression": "rate(5 minutes)"},
                     "target": {"lambda": {"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}}},
            "status": {"observedGeneration": 2, "conditions": [
                {"type": "Ready", "status": "True", "reason": "Ready", "message": "",
                 "lastTransitionTime": "2026-12-04T00:00:00Z"}]}
        }))
        .expect("an object");
        assert!(Found::of(&obj).in_sync);
        // Changed while no controller ran: the status describes generation 2.
        obj.metadata.generation = Some(3);
        assert!(!Found::of(&obj).in_sync);
        obj.metadata.generation = Some(2);
        obj.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ));
        assert!(!Found::of(&obj).in_sync);
        obj.metadata.deletion_timestamp = None;
        if let Some(s) = obj.status.as_mut() {
            s.conditions[0].status = "False".into();
        }
        assert!(!Found::of(&obj).in_sync);
    }

    #[test]
    fn start_up_decisions_are_taken_once_and_only_at_the_listed_generation() {
        let key_a = ("ns", "a");
        let key_b = ("ns", "b");
        let decided = HashMap::from([
            (hash_of(&key_a), (Some(1), FirstPass::AtSlot(99))),
            (hash_of(&key_b), (Some(4), FirstPass::Overdue)),
        ]);
        let startup = Startup::new(decided, 10);
        assert_eq!(startup.kept_since(), None);
        assert_eq!(
            startup.first_contact(&key_a, Some(1), false, true, 20),
            Contact::Decided(Some(FirstPass::AtSlot(99)))
        );
        // Taken once: the next pass of `a` decides as any pass does.
        assert_eq!(
            startup.first_contact(&key_a, Some(1), false, true, 21),
            Contact::Decided(None)
        );
        assert_eq!(startup.kept_since(), None);
        // `b` changed since the list: no decision of the list applies.
        assert_eq!(
            startup.first_contact(&key_b, Some(5), false, true, 30),
            Contact::Decided(None)
        );
        assert_eq!(startup.kept_since(), Some(30));
    }

    /// While the list is read, a new object (no finalizer yet) or one being deleted goes at
    /// once; one that may have been in sync waits for the list. What the list then decides
    /// for the objects that went is dropped: they are not waited for.
    #[tokio::test(start_paused = true)]
    async fn new_objects_do_not_wait_for_the_start_up_list() {
        let (new, deleting, in_sync) = (("ns", "new"), ("ns", "gone"), ("ns", "kept"));
        let startup = std::sync::Arc::new(Startup::listing());
        assert_eq!(
            startup.first_contact(&new, Some(1), false, false, 5),
            Contact::Decided(None)
        );
        // Its next pass, with the finalizer the first added, does not wait either.
        assert_eq!(
            startup.first_contact(&new, Some(1), false, true, 6),
            Contact::Decided(None)
        );
        assert_eq!(
            startup.first_contact(&deleting, Some(2), true, true, 5),
            Contact::Decided(None)
        );
        assert_eq!(
            startup.first_contact(&in_sync, Some(3), false, true, 5),
            Contact::AfterTheList
        );
        let waiter = tokio::spawn({
            let startup = startup.clone();
            async move { startup.listed().await }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiter.is_finished(), "the list is not read yet");
        // The list found all three (the new one was created just before it).
        startup.decide(
            HashMap::from([
                (hash_of(&new), (Some(1), FirstPass::Urgent)),
                (hash_of(&deleting), (Some(2), FirstPass::Urgent)),
                (hash_of(&in_sync), (Some(3), FirstPass::AtSlot(700))),
            ]),
            10,
        );
        waiter.await.expect("the wait ends once the list is read");
        assert_eq!(startup.kept_since(), None, "`kept` not yet taken");
        assert_eq!(
            startup.first_contact(&in_sync, Some(3), false, true, 12),
            Contact::Decided(Some(FirstPass::AtSlot(700)))
        );
        assert_eq!(
            startup.kept_since(),
            Some(12),
            "the objects that went are not waited for"
        );
    }

    #[test]
    fn start_up_stops_waiting_for_objects_never_handed_over() {
        let startup = Startup::new(HashMap::from([(7, (Some(1), FirstPass::Overdue))]), 10);
        startup.stop_waiting(500);
        assert_eq!(startup.kept_since(), Some(500));
        // Nothing at start-up: the schedule is kept from the start.
        assert_eq!(Startup::new(HashMap::new(), 10).kept_since(), Some(10));
        // A list that failed: kept only once a period has gone by; one still being read
        // after a period keeps nothing.
        let failed = Startup::listing();
        failed.decide_nothing();
        assert_eq!(failed.kept_since(), None);
        failed.stop_waiting(600);
        assert_eq!(failed.kept_since(), Some(600));
        let stuck = Startup::listing();
        stuck.stop_waiting(600);
        assert_eq!(stuck.kept_since(), None);
    }

    #[test]
    fn heartbeat_keys_differ_by_controller_and_are_valid_configmap_keys() {
        let a = heartbeat_key("cluster-1", &["team-b".into(), "team-a".into()]);
        assert_eq!(
            a,
            heartbeat_key("cluster-1", &["team-a".into(), "team-b".into()])
        );
        assert_ne!(a, heartbeat_key("cluster-1", &["team-a".into()]));
        assert_ne!(
            a,
            heartbeat_key("cluster-2", &["team-a".into(), "team-b".into()])
        );
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)));
    }

    #[test]
    fn heartbeats_are_written_every_twentieth_of_a_period_within_bounds() {
        assert_eq!(
            beat_every(Duration::from_secs(540)),
            Duration::from_secs(27)
        );
        assert_eq!(
            beat_every(Duration::from_millis(2700)),
            Duration::from_secs(1)
        );
        assert_eq!(
            beat_every(Duration::from_secs(86_400)),
            Duration::from_secs(60)
        );
    }
}
