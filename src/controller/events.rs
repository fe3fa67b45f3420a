//! Kubernetes Events: what a pass changed in AWS, and transitions of Ready, readable in
//! `kubectl describe`. Reasons are bounded constants; notes carry the detail.
//!
//! Published by [`Publisher`], not kube-runtime's `Recorder`: the Recorder keeps every Event
//! it published (the whole object and its key, about 2.4 KB in its map) for six minutes and
//! prunes only when it publishes again, scanning the whole map under a write lock. With
//! 10,000 objects that is about 47 MB still held when everything is in sync (nothing is
//! published then, so nothing is pruned), and a scan of 20,000 entries per publish while
//! converging. client-go bounds the same cache at 4,096 entries; so does this one, and it
//! keeps a few dozen bytes per entry rather than the Event.

use crate::sync::Locked;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as KubeEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource};
use serde_json::json;
use tracing::warn;

use crate::api::{EventBridgeIntegration, EventBridgeIntegrationStatus};
use crate::controller::Context;
use crate::plan::diff::Change;

/// Normal or Warning, as Kubernetes spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// What one Event says about an object.
pub struct EventText<'a> {
    pub type_: EventType,
    pub reason: &'a str,
    pub action: &'a str,
    pub note: &'a str,
}

/// How long a repeat of an Event counts as the same series (client-go's and kube-runtime's
/// six minutes), and how many recent Events are remembered for that (client-go's 4,096).
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
const REMEMBERED: usize = 4096;

/// Creates Events (events.k8s.io/v1); an identical Event about the same object within
/// `SERIES_WINDOW` increments the first one's series instead of adding another.
pub struct Publisher {
    client: Client,
    controller: String,
    instance: String,
    recent: Mutex<Recent>,
}

impl Publisher {
    pub fn new(client: Client, controller: &str, instance: Option<String>) -> Publisher {
        Publisher {
            client,
            controller: controller.to_string(),
            instance: instance.unwrap_or_else(|| controller.to_string()),
            recent: Mutex::new(Recent::new(SERIES_WINDOW, REMEMBERED)),
        }
    }

    /// Publishes one Event about `regarding`.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        text: &EventText<'_>,
    ) -> Result<(), kube::Error> {
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let events: Api<KubeEvent> = Api::namespaced(self.client.clone(), namespace);
        let key = series_key(regarding, text);
        let now = jiff::Timestamp::now();
        let repeat = self.recent.locked().repeat(key, Instant::now());
        if let Some((name, count)) = repeat {
            let series = EventSeries {
                count,
                last_observed_time: MicroTime(now),
            };
            let patch = json!({ "series": series });
            match events
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    self.recent.locked().counted(key, count, Instant::now());
                    return Ok(());
                }
                // Expired on the server (its own TTL): a new Event starts a new series.
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let event = self.event(regarding, text, now);
        let name = event.metadata.name.clone().unwrap_or_default();
        events.create(&PostParams::default(), &event).await?;
        self.recent.locked().remember(key, name, Instant::now());
        Ok(())
    }

    /// The Event as kube-runtime's Recorder writes it, so tools reading either see the same.
    fn event(
        &self,
        regarding: &ObjectReference,
        text: &EventText<'_>,
        now: jiff::Timestamp,
    ) -> KubeEvent {
        let subject = regarding.name.as_deref().unwrap_or(&self.controller);
        KubeEvent {
            action: Some(text.action.into()),
            reason: Some(text.reason.into()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            note: Some(text.note.into()),
            metadata: ObjectMeta {
                namespace: regarding.namespace.clone(),
                name: Some(format!("{subject}.{:x}", now.as_nanosecond())),
                ..Default::default()
            },
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            type_: Some(text.type_.as_str().into()),
            ..Default::default()
        }
    }
}

/// An Event's identity for series: the object (by UID, so a re-created object starts
/// afresh), type, reason, action and note. Kept as a hash: 8 bytes rather than the strings.
fn series_key(regarding: &ObjectReference, text: &EventText<'_>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        &regarding.namespace,
        &regarding.name,
        &regarding.uid,
        text.type_,
        text.reason,
        text.action,
        text.note,
    )
        .hash(&mut h);
    h.finish()
}

/// The series seen within the window, at most `capacity` of them, the least recently seen
/// forgotten first. Pure: the caller passes the time.
struct Recent {
    window: Duration,
    capacity: usize,
    by_key: HashMap<u64, Series>,
    /// (key, when seen) for every time a series was seen, oldest first. An entry whose time
    /// is not its series' `last` is stale (seen again since) and skipped; stale entries are
    /// dropped when they reach the front, or all at once past twice the capacity.
    order: VecDeque<(u64, Instant)>,
}

/// One series: the Event that carries it, its count on the server, when last seen. It ends
/// `window` after it was last seen, as kube-runtime's and client-go's do.
struct Series {
    name: String,
    count: i32,
    last: Instant,
}

impl Recent {
    fn new(window: Duration, capacity: usize) -> Recent {
        Recent {
            window,
            capacity,
            by_key: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// For a repeat within the window: the Event to patch and the count to patch in. Kept
    /// only once the patch succeeded (`counted`).
    fn repeat(&mut self, key: u64, now: Instant) -> Option<(String, i32)> {
        self.forget_expired(now);
        let series = self.by_key.get(&key)?;
        Some((series.name.clone(), series.count + 1))
    }

    fn counted(&mut self, key: u64, count: i32, now: Instant) {
        if let Some(series) = self.by_key.get_mut(&key) {
            series.count = count;
            series.last = now;
            self.order.push_back((key, now));
            self.compact();
        }
    }

    /// A new Event (first of its series, or one replacing an Event the server no longer has).
    fn remember(&mut self, key: u64, name: String, now: Instant) {
        self.forget_expired(now);
        let series = Series {
            name,
            count: 1,
            last: now,
        };
        self.by_key.insert(key, series);
        self.order.push_back((key, now));
        while self.by_key.len() > self.capacity {
            let Some((oldest, at)) = self.order.pop_front() else {
                break;
            };
            if self.current(oldest, at) {
                self.by_key.remove(&oldest);
            }
        }
        self.compact();
    }

    fn current(&self, key: u64, at: Instant) -> bool {
        self.by_key.get(&key).is_some_and(|s| s.last == at)
    }

    /// Amortised O(1): only the front of `order` is looked at.
    fn forget_expired(&mut self, now: Instant) {
        while let Some(&(key, at)) = self.order.front() {
            let current = self.current(key, at);
            if current && now.saturating_duration_since(at) < self.window {
                break;
            }
            self.order.pop_front();
            if current {
                self.by_key.remove(&key);
            }
        }
    }

    /// Keeps `order` within twice the capacity however often series repeat.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.capacity.max(1) {
            let by_key = &self.by_key;
            self.order
                .retain(|(k, at)| by_key.get(k).is_some_and(|s| s.last == *at));
        }
    }
}

/// Publishes one Event about `obj`; a failure to publish is logged, never fatal.
pub(in crate::controller) async fn publish(
    ctx: &Context,
    obj: &EventBridgeIntegration,
    type_: EventType,
    reason: &str,
    action: &str,
    note: &str,
) {
    let note = truncate(note, 1000);
    if let Err(e) = ctx
        .events
        .publish(
            &obj.object_ref(&()),
            &EventText {
                type_,
                reason,
                action,
                note: &note,
            },
        )
        .await
    {
        warn!("could not publish event: {e}");
    }
}

pub(in crate::controller) async fn publish_changes(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    changes: &[Change],
    removed: &[String],
    status: &EventBridgeIntegrationStatus,
) {
    let previous_ready = obj.status.as_ref().and_then(|s| {
        s.condition(crate::api::condition::READY)
            .map(|c| (c.status.clone(), c.reason.clone()))
    });
    let now_ready = status
        .condition(crate::api::condition::READY)
        .map(|c| (c.status.clone(), c.reason.clone()));
    let mut events: Vec<(EventType, String, &str, String)> = Vec::new();
    if !changes.is_empty() || !removed.is_empty() {
        let what: Vec<String> = changes
            .iter()
            .map(Change::describe)
            .chain(removed.iter().cloned())
            .collect();
        let first_time = obj
            .status
            .as_ref()
            .and_then(|s| s.rule_arn.as_ref())
            .is_none();
        let spec_changed =
            obj.status.as_ref().and_then(|s| s.observed_generation) != obj.metadata.generation;
        let (reason, action, text) = if first_time {
            ("Created", "Create", "Created")
        } else if spec_changed {
            ("Updated", "Update", "Applied the new spec")
        } else {
            ("DriftCorrected", "CorrectDrift", "Corrected drift")
        };
        events.push((
            EventType::Normal,
            reason.into(),
            action,
            format!("{text} in AWS: {}", what.join("; ")),
        ));
    }
    if previous_ready != now_ready {
        if let Some(ready) = status.condition(crate::api::condition::READY) {
            let (t, reason) = if ready.status == "True" {
                (EventType::Normal, "Ready".to_string())
            } else {
                (EventType::Warning, ready.reason.clone())
            };
            events.push((t, reason, "Reconcile", ready.message.clone()));
        }
    }
    for (type_, reason, action, note) in events {
        publish(ctx, obj, type_, &reason, action, &note).await;
    }
}

pub(in crate::controller) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_repeat_within_the_window_counts_in_the_first_events_series() {
        let t0 = Instant::now();
        let mut recent = Recent::new(6 * MINUTE, 10);
        assert_eq!(recent.repeat(1, t0), None, "nothing published yet");
        recent.remember(1, "obj.1".into(), t0);
        assert_eq!(recent.repeat(1, t0 + MINUTE), Some(("obj.1".into(), 2)));
        // A patch that failed is not counted: the next repeat asks for 2 again.
        assert_eq!(recent.repeat(1, t0 + MINUTE), Some(("obj.1".into(), 2)));
        recent.counted(1, 2, t0 + MINUTE);
        assert_eq!(recent.repeat(1, t0 + 2 * MINUTE), Some(("obj.1".into(), 3)));
        assert_eq!(recent.repeat(2, t0 + 2 * MINUTE), None, "another key");
    }

    #[test]
    fn a_series_ends_a_window_after_it_was_last_seen() {
        let t0 = Instant::now();
        let mut recent = Recent::new(6 * MINUTE, 10);
        recent.remember(1, "obj.1".into(), t0);
        recent.remember(2, "obj.2".into(), t0 + 3 * MINUTE);
        assert_eq!(recent.repeat(1, t0 + 6 * MINUTE), None);
        assert_eq!(recent.repeat(2, t0 + 6 * MINUTE), Some(("obj.2".into(), 2)));
        recent.counted(2, 2, t0 + 6 * MINUTE);
        // Seen at 6 min: still a series at 11, over at 12.
        assert_eq!(
            recent.repeat(2, t0 + 11 * MINUTE),
            Some(("obj.2".into(), 3))
        );
        assert_eq!(recent.repeat(2, t0 + 12 * MINUTE), None);
        assert!(recent.by_key.is_empty() && recent.order.is_empty());
    }

    #[test]
    fn a_replaced_event_keeps_its_place_by_its_latest_time() {
        let t0 = Instant::now();
        let mut recent = Recent::new(6 * MINUTE, 2);
        recent.remember(1, "obj.1".into(), t0);
        recent.remember(2, "obj.2".into(), t0 + MINUTE);
        // Key 1's Event was gone on the server: a new one replaces it, seen last.
        recent.remember(1, "obj.1b".into(), t0 + 2 * MINUTE);
        recent.remember(3, "obj.3".into(), t0 + 3 * MINUTE);
        assert_eq!(recent.repeat(2, t0 + 3 * MINUTE), None, "least recent went");
        assert_eq!(
            recent.repeat(1, t0 + 3 * MINUTE),
            Some(("obj.1b".into(), 2))
        );
        // Many repeats of one series keep `order` bounded.
        for i in 0..100u64 {
            recent.counted(3, 2, t0 + 3 * MINUTE + Duration::from_millis(i));
        }
        assert!(recent.order.len() <= 4, "{}", recent.order.len());
    }

    #[test]
    fn at_most_capacity_events_are_remembered_oldest_forgotten_first() {
        let t0 = Instant::now();
        let mut recent = Recent::new(6 * MINUTE, 3);
        for key in 0..10u64 {
            recent.remember(key, format!("obj.{key}"), t0);
        }
        assert_eq!(recent.by_key.len(), 3);
        assert_eq!(recent.order.len(), 3);
        assert_eq!(recent.repeat(6, t0), None, "forgotten");
        assert_eq!(recent.repeat(9, t0), Some(("obj.9".into(), 2)));
    }

    #[test]
    fn the_series_key_tells_notes_and_objects_apart() {
        let obj = |uid: &str| ObjectReference {
            namespace: Some("ns".into()),
            name: Some("orders".into()),
            uid: Some(uid.into()),
            ..Default::default()
        };
        let key = |o: &ObjectReference, note: &str| {
            let text = EventText {
                type_: EventType::Normal,
                reason: "DriftCorrected",
                action: "CorrectDrift",
                note,
            };
            series_key(o, &text)
        };
        assert_eq!(key(&obj("a"), "put rule"), key(&obj("a"), "put rule"));
        assert_ne!(key(&obj("a"), "put rule"), key(&obj("a"), "put targets"));
        assert_ne!(key(&obj("a"), "put rule"), key(&obj("b"), "put rule"));
    }
}
