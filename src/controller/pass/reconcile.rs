//! One reconcile: the finalizer splits it into the apply half (converge, then status) and
//! the clean-up half; this file only orchestrates. The steps live beside it: `converge`
//! (observe, plan, diff, record, apply), `status` (pure status building), `events`,
//! `cleanup`, `record` (the ownership record's I/O).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{finalizer, Event};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use tracing::{instrument, warn};

use super::cleanup;
use super::conditions::{Outcome, PartOutcome};
use super::converge::{converge, legacy_via_role, Pass};
use super::record::{owner_of, write_status, RecordKeeper};
use super::status::{self, Converged, Retry, Verdict};
use crate::api::EventBridgeIntegration;
use crate::controller::events;
use crate::controller::{Context, FINALIZER};
use crate::{Category, Error};

#[instrument(skip(obj, ctx), fields(namespace = %obj.namespace().unwrap_or_default(), name = %obj.name_any()))]
pub(in crate::controller) async fn reconcile(
    obj: Arc<EventBridgeIntegration>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let api: Api<EventBridgeIntegration> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let started = Instant::now();
    // A pass that ends blocked (invalid spec, rejected) returns Ok to the runtime, yet is
    // counted by its category, never as a success.
    let category: OnceLock<Category> = OnceLock::new();
    let result = finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Event::Apply(o) => apply_half(&o, &ctx, &api, &category).await,
            Event::Cleanup(o) => cleanup::cleanup(&o, &ctx, &api).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    let label = match (&result, category.get()) {
        (Err(e), _) => e.category().as_str(),
        (Ok(_), Some(c)) => c.as_str(),
        (Ok(_), None) => "success",
    };
    ctx.metrics
        .reconciled(label, started.elapsed().as_secs_f64());
    result
}

pub(in crate::controller) fn error_policy(
    key: &ObjectRef<EventBridgeIntegration>,
    err: &Error,
    ctx: Arc<Context>,
) -> Action {
    let retry = match err.category() {
        Category::Dependency => Retry::Slow,
        _ => Retry::Backoff,
    };
    let delay = ctx.backoff(key, retry);
    warn!(namespace = %key.namespace.as_deref().unwrap_or_default(), name = %key.name, category = err.category().as_str(), ?delay, "reconcile failed: {err}");
    Action::requeue(delay)
}

fn verdict_of(failure: &Error) -> Verdict {
    use kube::runtime::finalizer::Error as F;
    match failure {
        Error::Plan(e) => status::plan_verdict(e),
        Error::NotPermitted(r) => status::not_permitted_verdict(r.to_string()),
        Error::NotOwned(n) => status::not_owned_verdict(n.to_string()),
        Error::Aws(e) => status::aws_verdict(e),
        Error::Dependency(m) => status::dependency_verdict(m.clone()),
        Error::Kube(e) => status::kubernetes_verdict(e.to_string()),
        Error::Finalizer(inner) => match inner.as_ref() {
            F::ApplyFailed(e) | F::CleanupFailed(e) => verdict_of(e),
            other => status::kubernetes_verdict(other.to_string()),
        },
    }
}

/// Converge, then write status and Events. Transient failures go back to the runtime as
/// errors (backoff); the others are reported in status and retried on their own schedule.
async fn apply_half(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    api: &Api<EventBridgeIntegration>,
    category: &OnceLock<Category>,
) -> Result<Action, Error> {
    let owner = owner_of(obj, ctx);
    let mut keeper =
        RecordKeeper::from_status(obj, legacy_via_role(obj)).remembering(ctx.locations.clone());
    let result = converge(obj, ctx, &owner, api, &mut keeper).await;
    let verdict = result.as_ref().err().map(verdict_of);
    let record = keeper.into_entries();
    let findings = findings_of(&result, &record);
    let parts: Vec<PartOutcome<'_>> = match &result {
        Ok(pass) => pass
            .parts
            .iter()
            .map(|p| PartOutcome {
                side: p.side,
                desired: &p.desired,
                observed: &p.observed,
                changes: &p.changes,
            })
            .collect(),
        Err(_) => vec![],
    };
    #[allow(
        clippy::expect_used,
        reason = "`verdict` is Some exactly when `result` is Err"
    )]
    let outcome = match &result {
        Ok(pass) => Outcome::Converged {
            mode: pass.plan.mode,
            parts: &parts,
            findings: &findings,
            left_behind: &pass.left_behind,
            delivery: &pass.delivery,
            words: crate::diagnose::delivery::AwsWords {
                dead_letter: pass.dead_letter.as_ref(),
                bus_log: pass.bus_log.as_ref(),
                trail: pass.trail.as_ref(),
            },
        },
        Err(_) => verdict.as_ref().expect("set for every failure").outcome(),
    };
    let status = status::next_status(
        obj.status.as_ref(),
        obj.metadata.generation,
        obj.spec.kinds_label(),
        result.as_ref().ok().map(|pass: &Pass| Converged {
            plan: &pass.plan,
            findings: &findings,
            not_evaluated: &pass.not_evaluated,
        }),
        &outcome,
        record,
        Time(k8s_openapi::jiff::Timestamp::now()),
    );
    ctx.metrics
        .object_state(&owner.key(), Some(object_state(&status)));
    if obj.status.as_ref() != Some(&status) {
        write_status(api, obj, &status).await?;
    }
    let (changes, removed) = match &result {
        Ok(pass) => (pass.changes(), pass.removed.clone()),
        Err(_) => (vec![], vec![]),
    };
    events::publish_changes(obj, ctx, &changes, &removed, &status).await;
    let (moving, leaving) = match &result {
        Ok(pass) => (pass.plan.moving(), !pass.left_behind.is_empty()),
        Err(_) => (false, false),
    };
    Ok(next_pass(obj, ctx, category, verdict, leaving, moving))
}

/// The pass's findings: the diagnosis's, and a REST API stage that serves a policy older
/// than the controller's last write to it (kept in the record, `record`).
fn findings_of(
    result: &Result<Pass, Error>,
    record: &[crate::api::OwnedResource],
) -> Vec<crate::diagnose::Finding> {
    match result {
        Ok(pass) => pass
            .findings
            .iter()
            .cloned()
            .chain(super::diagnosis::rest_api_stages(&pass.parts, record))
            .collect(),
        Err(_) => vec![],
    }
}

/// What the metrics say of an object, from its status.
fn object_state(
    status: &crate::api::EventBridgeIntegrationStatus,
) -> crate::telemetry::ObjectState {
    let not_delivering = status
        .condition(crate::api::condition::DELIVERING)
        .filter(|c| c.status == "False")
        .map(|_| crate::telemetry::NotDelivering {
            predicted: status
                .findings
                .iter()
                .find(|f| f.is_error())
                .map(|f| f.code),
        });
    crate::telemetry::ObjectState {
        ready: status
            .condition(crate::api::condition::READY)
            .is_some_and(|c| c.status == "True"),
        codes: status.findings.iter().map(|f| f.code).collect(),
        not_delivering,
    }
}

/// When the object is looked at again: after a failure, with backoff or at the resync as
/// its verdict says; with backoff when a removal was left for later; at once during a role's
/// move; otherwise at its next resync slot.
fn next_pass(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    category: &OnceLock<Category>,
    verdict: Option<Verdict>,
    leaving: bool,
    moving: bool,
) -> Action {
    match verdict {
        // What could not be removed is tried again with backoff, not only at the resync
        // (a failure, for the backoff, without making the object un-Ready).
        None if leaving => Action::requeue(ctx.backoff(&ObjectRef::from(obj), Retry::Slow)),
        // A role moving to another path went through its second name: the next pass
        // creates the wanted one (the old is gone now) and moves the target again.
        None if moving => {
            ctx.succeeded(obj);
            Action::requeue(std::time::Duration::from_secs(1))
        }
        None => {
            ctx.succeeded(obj);
            Action::requeue(ctx.until_next_slot(obj))
        }
        Some(v) => {
            let _ = category.set(v.category);
            warn!(
                category = v.category.as_str(),
                reason = v.reason.as_str(),
                "pass did not converge: {}",
                v.message
            );
            let delay = match v.retry {
                Retry::AtResync => ctx.settings.resync_interval,
                retry => ctx.backoff(&ObjectRef::from(obj), retry),
            };
            Action::requeue(delay)
        }
    }
}
