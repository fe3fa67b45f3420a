//! The clean-up half: remove exactly what the ownership record lists, each resource in the
//! account and region it was recorded in and only after it proves it is ours. The
//! finalizer is released only when the record is empty (or `deletionPolicy: Retain`).
//! Nothing here depends on the spec still planning, or on anything it refers to existing.

use crate::controller::events::EventType;
use kube::runtime::controller::Action;
use kube::Api;
use tracing::info;

use super::admission::admit;
use super::converge::{legacy_via_role, remove_recorded};
use super::record::{clients_for, owner_of, RecordKeeper};
use crate::api::{DeletionPolicy, EventBridgeIntegration, OwnedKind, OwnedResource};
use crate::aws::remove::Removal;
use crate::controller::events::publish;
use crate::controller::Context;
use crate::Error;

pub(in crate::controller) async fn cleanup(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    api: &Api<EventBridgeIntegration>,
) -> Result<Action, Error> {
    let owner = owner_of(obj, ctx);
    ctx.metrics.object_state(&owner.key(), None);
    let mut keeper = RecordKeeper::from_status(obj, legacy_via_role(obj));
    // A record older than the ConfigMap of places: kept there before removal can fail halfway.
    if let Err(e) = ctx.locations.remember(keeper.entries()).await {
        tracing::warn!("cannot keep this object's locations for the orphan report: {e}");
    }
    // An unparsable spec.region never planned anything there; each entry names its region.
    let region = super::converge::region_of(obj, ctx)
        .unwrap_or_else(|_| ctx.settings.default_region.clone());
    let local = ctx.aws.clients(&region);
    // Today's way into the target account, if the object is still admitted: tried before
    // the way each entry was recorded with (a rotated provisioning role or external ID).
    let admission = admit(obj, ctx, &region, &Default::default()).await.ok();
    if obj.spec.deletion_policy == DeletionPolicy::Retain {
        return retain(obj, ctx, api, &owner, &local, keeper, admission.as_ref()).await;
    }
    let mut outcomes: Vec<(OwnedResource, Removal)> = Vec::new();
    let entries = keeper.entries().to_vec();
    for entry in entries {
        match remove_recorded(obj, ctx, &owner, &local, &entry, admission.as_ref()).await {
            Ok(removal) => {
                keeper.forget(&entry);
                outcomes.push((entry, removal));
            }
            Err(failure) => {
                return pending(ctx, obj, api, &mut keeper, &outcomes, &entry, failure).await;
            }
        }
    }
    report(ctx, obj, &outcomes).await;
    info!(removed = outcomes.len(), "clean-up done");
    ctx.forget(obj);
    Ok(Action::await_change())
}

/// `deletionPolicy: Retain`: everything stays in AWS, but no longer proves it is this
/// object's. Each recorded rule and role loses its owner-UID tag (the owner, cluster and
/// managed-by tags stay, for people), so no orphan report, of this version or an older one,
/// ever takes it for an orphan of this cluster; an object of the same namespace and name
/// takes it over again, and another only by adoption. Statements carry no tags: they stay
/// as they are, and are found by the orphan report only through a rule that is an orphan.
async fn retain(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    api: &Api<EventBridgeIntegration>,
    owner: &crate::plan::Owner,
    local: &crate::aws::Clients,
    mut keeper: RecordKeeper,
    admission: Option<&super::admission::Admission>,
) -> Result<Action, Error> {
    let entries: Vec<OwnedResource> = keeper.entries().to_vec();
    let mut released = Vec::new();
    for entry in entries {
        if !matches!(entry.kind, OwnedKind::Rule | OwnedKind::Role) {
            continue;
        }
        let result = match clients_for(obj, ctx, local, &entry, admission).await {
            Ok(clients) => crate::aws::remove::retain(&clients, &entry, owner)
                .await
                .map_err(Error::from),
            Err(failure) => Err(failure),
        };
        match result {
            Ok(outcome) => {
                released.push(outcome.describe(&entry));
                keeper.forget(&entry);
            }
            Err(failure) => {
                return pending(ctx, obj, api, &mut keeper, &[], &entry, failure).await;
            }
        }
    }
    publish(
        ctx,
        obj,
        EventType::Normal,
        "Retained",
        "Delete",
        &format!(
            "deletionPolicy Retain: the rule, target, role and permissions stay in AWS, no longer this cluster's (their owner-UID tags were removed, so the orphan report never lists them){}",
            if released.is_empty() {
                String::new()
            } else {
                format!(": {}", released.join("; "))
            }
        ),
    )
    .await;
    ctx.forget(obj);
    Ok(Action::await_change())
}

/// A removal (or release) failed: what is done leaves the record now, so a retry starts
/// where this one stopped; the finalizer stays.
async fn pending(
    ctx: &Context,
    obj: &EventBridgeIntegration,
    api: &Api<EventBridgeIntegration>,
    keeper: &mut RecordKeeper,
    outcomes: &[(OwnedResource, Removal)],
    entry: &OwnedResource,
    failure: Error,
) -> Result<Action, Error> {
    keeper.write(api, obj).await.ok();
    report(ctx, obj, outcomes).await;
    publish(
        ctx,
        obj,
        EventType::Warning,
        crate::api::Reason::CleanupPending.as_str(),
        "Delete",
        &format!(
            "could not remove {}: {}; retrying. The object stays until everything it recorded is removed (or set deletionPolicy: Retain to keep the rest)",
            entry.describe(),
            failure
        ),
    )
    .await;
    Err(failure)
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
