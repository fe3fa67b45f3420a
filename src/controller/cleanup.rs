//! The clean-up half: remove exactly what the ownership record lists, each resource in the
//! account and region it was recorded in and only after it proves it is ours. The
//! finalizer is released only when the record is empty (or `deletionPolicy: Retain`).
//! Nothing here depends on the spec still planning, or on anything it refers to existing.

use super::events::EventType;
use kube::runtime::controller::Action;
use kube::Api;
use tracing::info;

use super::converge::{legacy_via_role, remove_recorded, Failure};
use super::events::publish;
use super::reconcile::owner_of;
use super::record::RecordKeeper;
use super::Context;
use crate::api::{DeletionPolicy, EventBridgeIntegration, OwnedResource};
use crate::aws::remove::Removal;
use crate::plan::{self, record, Facts};
use crate::Error;

pub(super) async fn cleanup(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    api: &Api<EventBridgeIntegration>,
) -> Result<Action, Error> {
    let owner = owner_of(obj, ctx);
    ctx.metrics.object_state(&owner.key(), None);
    if obj.spec.deletion_policy == DeletionPolicy::Retain {
        publish(
            ctx,
            obj,
            EventType::Normal,
            "Retained",
            "Delete",
            "deletionPolicy Retain: the rule, target, role and permissions stay in AWS",
        )
        .await;
        ctx.forget(obj);
        return Ok(Action::await_change());
    }
    let mut keeper = RecordKeeper::from_status(obj, legacy_via_role(obj));
    // A record older than the ConfigMap of places: kept there before removal can fail halfway.
    if let Err(e) = ctx.locations.remember(keeper.entries()).await {
        tracing::warn!("cannot keep this object's locations for the orphan report: {e}");
    }
    let region = super::converge::region_of(obj, ctx);
    let local = ctx.aws.clients(&region);
    // A status older than the record names no Lambda statement: the spec's plan says which
    // function it was on. Planning is pure; if the spec no longer plans, there is none to find.
    if obj.status.as_ref().is_some_and(|s| s.resources.is_none()) {
        if let Ok(account_id) = ctx.aws.account_id(&local).await {
            let facts = Facts {
                account_id,
                region: region.clone(),
                task_roles: None,
                provisioning_role_arn: legacy_via_role(obj).map(str::to_string),
            };
            if let Ok(p) = plan::plan(&obj.spec, &owner, &facts, &ctx.settings.guardrails) {
                keeper.adopt_legacy(obj, &record::inventory(&p, legacy_via_role(obj)));
            }
        }
    }
    let mut outcomes: Vec<(OwnedResource, Removal)> = Vec::new();
    let entries = keeper.entries().to_vec();
    for entry in entries {
        match remove_recorded(obj, ctx, &owner, &local, &entry, None).await {
            Ok(removal) => {
                keeper.forget(&entry);
                outcomes.push((entry, removal));
            }
            Err(failure) => {
                // What is gone leaves the record now, so a retry starts where this one stopped.
                keeper.write(api, obj).await.ok();
                report(ctx, obj, &outcomes).await;
                publish(
                    ctx,
                    obj,
                    EventType::Warning,
                    "CleanupPending",
                    "Delete",
                    &format!(
                        "could not remove {}: {}; retrying. The object stays until everything it recorded is removed (or set deletionPolicy: Retain to keep the rest)",
                        entry.describe(),
                        describe(&failure)
                    ),
                )
                .await;
                return Err(into_error(failure));
            }
        }
    }
    report(ctx, obj, &outcomes).await;
    info!(removed = outcomes.len(), "clean-up done");
    ctx.forget(obj);
    Ok(Action::await_change())
}

/// One Event for what was removed, one Warning per resource released or left alone.
async fn report(
    ctx: &Context,
    obj: &EventBridgeIntegration,
    outcomes: &[(OwnedResource, Removal)],
) {
    let removed: Vec<String> = outcomes
        .iter()
        .filter(|(_, r)| {
            matches!(
                r,
                Removal::Removed | Removal::Gone | Removal::StillShared(_)
            )
        })
        .map(|(e, r)| r.describe(e))
        .collect();
    if !removed.is_empty() {
        publish(
            ctx,
            obj,
            EventType::Normal,
            "Deleted",
            "Delete",
            &format!(
                "Deleted the AWS resources this object owned: {}",
                removed.join("; ")
            ),
        )
        .await;
    }
    for (entry, removal) in outcomes {
        let reason = match removal {
            Removal::Released(_) => "Released",
            Removal::NotOurs(_) => "NotOwned",
            _ => continue,
        };
        publish(
            ctx,
            obj,
            EventType::Warning,
            reason,
            "Delete",
            &removal.describe(entry),
        )
        .await;
    }
}

fn describe(f: &Failure) -> String {
    match f {
        Failure::Plan(e) => e.to_string(),
        Failure::NotPermitted(r) => r.to_string(),
        Failure::NotOwned(e) => e.to_string(),
        Failure::Aws(e) => e.to_string(),
        Failure::Dependency(m) => m.clone(),
        Failure::Kube(e) => e.to_string(),
    }
}

fn into_error(f: Failure) -> Error {
    match f {
        Failure::Aws(e) => Error::Aws(e),
        Failure::Kube(e) => Error::Kube(e),
        other => Error::Dependency(describe(&other)),
    }
}
