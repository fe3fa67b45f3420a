//! Kubernetes Events: what a pass changed in AWS, and transitions of Ready, readable in
//! `kubectl describe`. Reasons are bounded constants; notes carry the detail.

use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::Resource;
use tracing::warn;

use super::Context;
use crate::api::{EventBridgeIntegration, EventBridgeIntegrationStatus};
use crate::plan::diff::Change;

/// Publishes one Event about `obj`; a failure to publish is logged, never fatal.
pub(super) async fn publish(
    ctx: &Context,
    obj: &EventBridgeIntegration,
    type_: EventType,
    reason: &str,
    action: &str,
    note: &str,
) {
    let ev = KubeEvent {
        type_,
        reason: reason.into(),
        note: Some(truncate(note, 1000)),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &obj.object_ref(&())).await {
        warn!("could not publish event: {e}");
    }
}

pub(super) async fn publish_changes(
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

pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
