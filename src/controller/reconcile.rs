//! One reconcile pass, and cleanup.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::runtime::finalizer::{finalizer, Event};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, instrument, warn, Span};

use super::conditions::{conditions, Outcome};
use super::{Context, FIELD_MANAGER, FINALIZER};
use crate::api::status::merge_conditions;
use crate::api::{reason as r, EventBridgeIntegration, EventBridgeIntegrationStatus, TargetKind};
use crate::aws::apply::{self, OwnedParts};
use crate::aws::{observe, AwsError, Clients, ErrorKind};
use crate::diagnose::{self, Code, Expectations, Finding};
use crate::iam::Arn;
use crate::plan::diff::{self, Change, NotOwned, Observed};
use crate::plan::{self, Desired, DesiredRole, Facts, Owner, PlanError, OWNER_TAG};
use crate::Error;

#[instrument(skip(obj, ctx), fields(namespace = %obj.namespace().unwrap_or_default(), name = %obj.name_any()))]
pub async fn reconcile(
    obj: Arc<EventBridgeIntegration>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let api: Api<EventBridgeIntegration> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let started = Instant::now();
    let result = finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Event::Apply(o) => apply_pass(&o, &ctx, &api).await,
            Event::Cleanup(o) => cleanup(&o, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    ctx.metrics.reconciled(
        if result.is_ok() { "success" } else { "error" },
        started.elapsed().as_secs_f64(),
    );
    result
}

pub fn error_policy(obj: Arc<EventBridgeIntegration>, err: &Error, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff(&obj);
    warn!(namespace = %obj.namespace().unwrap_or_default(), name = %obj.name_any(), category = err.category(), ?delay, "reconcile failed: {err}");
    Action::requeue(delay)
}

fn owner_of(obj: &EventBridgeIntegration) -> Owner {
    Owner {
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
        uid: obj.uid().unwrap_or_default(),
    }
}

/// Failures of a pass, by what a person or the controller does about them.
enum Failure {
    Plan(PlanError),
    NotOwned(NotOwned),
    Aws(AwsError),
    /// Something the spec refers to does not exist yet.
    Dependency(String),
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Self {
        Failure::Aws(e)
    }
}

struct Pass {
    desired: Desired,
    observed: Observed,
    changes: Vec<Change>,
    findings: Vec<Finding>,
}

async fn apply_pass(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    api: &Api<EventBridgeIntegration>,
) -> Result<Action, Error> {
    let owner = owner_of(obj);
    let result = converge(obj, ctx, &owner).await;
    let resync = Action::requeue(ctx.settings.resync_interval);
    let (outcome, action, err) = match &result {
        Ok(pass) => {
            ctx.succeeded(obj);
            (
                Outcome::Converged {
                    desired: &pass.desired,
                    observed: &pass.observed,
                    changes: &pass.changes,
                    findings: &pass.findings,
                },
                resync,
                None,
            )
        }
        Err(Failure::Plan(PlanError::InvalidSpec(e))) => (
            Outcome::Blocked {
                reason: r::INVALID_SPEC,
                message: e.to_string(),
            },
            resync,
            None,
        ),
        Err(Failure::Plan(PlanError::Guardrail(m))) => (
            Outcome::Blocked {
                reason: r::GUARDRAIL,
                message: m.clone(),
            },
            resync,
            None,
        ),
        Err(Failure::NotOwned(n)) => (
            Outcome::Blocked {
                reason: r::RESOURCE_NOT_OWNED,
                message: n.to_string(),
            },
            resync,
            None,
        ),
        Err(Failure::Aws(e)) if e.kind == ErrorKind::AccessDenied => {
            let message = format!("the controller's AWS credentials lack {}: {} ({}). Grant {} to the controller's IAM role.", e.operation, e.message, e.code, e.operation);
            // Not retried at full speed: backoff up to the resync interval.
            (
                Outcome::Blocked {
                    reason: r::CONTROLLER_ACCESS_DENIED,
                    message,
                },
                Action::requeue(ctx.backoff(obj)),
                None,
            )
        }
        Err(Failure::Aws(e)) => (
            Outcome::Retrying {
                reason: r::AWS_ERROR,
                message: e.to_string(),
            },
            resync,
            Some(Error::Aws(e.clone())),
        ),
        Err(Failure::Dependency(m)) => (
            Outcome::Retrying {
                reason: "DependencyNotFound",
                message: m.clone(),
            },
            Action::requeue(ctx.backoff(obj)),
            None,
        ),
    };
    let mut status = EventBridgeIntegrationStatus {
        observed_generation: obj.metadata.generation,
        target_kind: obj.spec.target.kind().map(|k| k.as_str().to_string()),
        ..Default::default()
    };
    if let Ok(pass) = &result {
        status.rule_arn = Some(pass.desired.rule.arn.clone());
        status.rule_name = Some(pass.desired.rule.name.clone());
        status.role_arn = pass.desired.role.arn().map(str::to_string);
        status.target_id = Some(pass.desired.target.id.clone());
        status.findings = pass.findings.clone();
    } else if let Some(previous) = &obj.status {
        // Keep what we know exists while a pass fails, so cleanup and users can find it.
        status.rule_arn = previous.rule_arn.clone();
        status.rule_name = previous.rule_name.clone();
        status.role_arn = previous.role_arn.clone();
        status.target_id = previous.target_id.clone();
        status.findings = previous.findings.clone();
    }
    let previous_conditions = obj
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    status.conditions = merge_conditions(
        &previous_conditions,
        &conditions(&outcome),
        obj.metadata.generation,
        Time(k8s_openapi::jiff::Timestamp::now()),
    );

    let ready = status
        .condition(crate::api::condition::READY)
        .is_some_and(|c| c.status == "True");
    let codes: Vec<String> = status
        .findings
        .iter()
        .map(|f| f.code.as_str().to_string())
        .collect();
    ctx.metrics.object_state(&owner.key(), Some((ready, codes)));

    if obj.status.as_ref() != Some(&status) {
        let patch = json!({"apiVersion": "eventbridge.dev/v1alpha1", "kind": "EventBridgeIntegration", "status": status});
        api.patch_status(
            &obj.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    }
    publish_events(obj, ctx, &result, &status).await;
    match err {
        Some(e) => Err(e),
        None => Ok(action),
    }
}

async fn publish_events(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    result: &Result<Pass, Failure>,
    status: &EventBridgeIntegrationStatus,
) {
    let previous_ready = obj.status.as_ref().and_then(|s| {
        s.condition(crate::api::condition::READY)
            .map(|c| (c.status.clone(), c.reason.clone()))
    });
    let now_ready = status
        .condition(crate::api::condition::READY)
        .map(|c| (c.status.clone(), c.reason.clone()));
    let mut events = Vec::new();
    match result {
        Ok(pass) if !pass.changes.is_empty() => {
            let what: Vec<String> = pass.changes.iter().map(Change::describe).collect();
            let first_time = obj
                .status
                .as_ref()
                .and_then(|s| s.rule_arn.as_ref())
                .is_none();
            let spec_changed =
                obj.status.as_ref().and_then(|s| s.observed_generation) != obj.metadata.generation;
            let (reason, action) = if first_time {
                ("Created", "Create")
            } else if spec_changed {
                ("Updated", "Update")
            } else {
                ("DriftCorrected", "CorrectDrift")
            };
            events.push((
                EventType::Normal,
                reason,
                action,
                format!("{} in AWS: {}", reason_text(reason), what.join("; ")),
            ));
        }
        _ => {}
    }
    if previous_ready != now_ready {
        if let Some(ready) = status.condition(crate::api::condition::READY) {
            let t = if ready.status == "True" {
                EventType::Normal
            } else {
                EventType::Warning
            };
            let reason = if ready.status == "True" {
                "Ready".to_string()
            } else {
                ready.reason.clone()
            };
            events.push((
                t,
                Box::leak(reason.into_boxed_str()),
                "Reconcile",
                ready.message.clone(),
            ));
        }
    }
    for (type_, reason, action, note) in events {
        let ev = KubeEvent {
            type_,
            reason: reason.into(),
            note: Some(truncate(&note, 1000)),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&ev, &obj.object_ref(&())).await {
            warn!("could not publish event: {e}");
        }
    }
}

fn reason_text(reason: &str) -> &'static str {
    match reason {
        "Created" => "Created",
        "Updated" => "Applied the new spec",
        _ => "Corrected drift",
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn region_of(obj: &EventBridgeIntegration, ctx: &Context) -> String {
    obj.spec
        .region
        .clone()
        .unwrap_or_else(|| ctx.settings.default_region.clone())
}

/// Facts, then the plan. No AWS write happens before the plan exists.
async fn plan_for(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    owner: &Owner,
) -> Result<(Clients, Desired, Option<crate::diagnose::TaskDefinition>), Failure> {
    let kind = plan::validate(&obj.spec).map_err(|e| Failure::Plan(e.into()))?;
    let region = region_of(obj, ctx);
    let clients = ctx.aws.clients(&region);
    let account_id = ctx.aws.account_id(&clients).await?;
    let mut task_definition = None;
    let mut task_roles = None;
    if kind == TargetKind::Ecs {
        let ecs = obj.spec.target.ecs.as_ref().expect("kind");
        task_definition = observe::task_definition(&clients, &ecs.task_definition_arn).await?;
        match (&task_definition, &ecs.pass_role_arns) {
            (Some(td), _) => task_roles = Some(td.roles_to_pass()),
            (None, Some(_)) => {}
            (None, None) => {
                return Err(Failure::Dependency(format!(
                    "task definition {} was not found in account {account_id}; register it, or set spec.target.ecs.passRoleArns",
                    ecs.task_definition_arn
                )))
            }
        }
    }
    let facts = Facts {
        account_id,
        region,
        task_roles,
    };
    let desired =
        plan::plan(&obj.spec, owner, &facts, &ctx.settings.guardrails).map_err(Failure::Plan)?;
    Ok((clients, desired, task_definition))
}

async fn observe_all(
    clients: &Clients,
    desired: &Desired,
    task_definition: Option<crate::diagnose::TaskDefinition>,
) -> Result<Observed, AwsError> {
    let rule = observe::rule(clients, &desired.rule.name, &desired.rule.event_bus_name).await?;
    let targets = if rule.is_some() {
        observe::targets(clients, &desired.rule.name, &desired.rule.event_bus_name).await?
    } else {
        vec![]
    };
    let role = match &desired.role {
        DesiredRole::NotNeeded => None,
        DesiredRole::Managed(m) => observe::role(clients, &m.name).await?,
        DesiredRole::BringYourOwn { arn } => {
            let name = Arn::parse(arn)
                .map(|a| a.resource_name().to_string())
                .unwrap_or_default();
            observe::role(clients, &name).await?
        }
    };
    let lambda_policy = match &desired.permission {
        Some(p) => {
            observe::lambda_policy(clients, &p.function_name, p.qualifier.as_deref()).await?
        }
        None => None,
    };
    Ok(Observed {
        rule,
        targets,
        role,
        lambda_policy,
        task_definition,
    })
}

async fn converge(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    owner: &Owner,
) -> Result<Pass, Failure> {
    let (clients, desired, task_definition) = plan_for(obj, ctx, owner).await?;
    let mut observed = observe_all(&clients, &desired, task_definition.clone()).await?;
    let changes = diff::diff(&desired, &observed, owner, obj.spec.adopt_existing)
        .map_err(Failure::NotOwned)?;
    for change in &changes {
        info!(?change, "applying");
        apply::apply(&clients, &desired, change).await?;
    }
    if !changes.is_empty() {
        // Diagnose what exists now, not what we believe we wrote.
        observed = observe_all(&clients, &desired, task_definition).await?;
    }
    let expectations = Expectations {
        rule_name: Some(desired.rule.name.clone()),
        event_bus_name: Some(desired.rule.event_bus_name.clone()),
        target_id: Some(desired.target.id.clone()),
        target_arn: Some(desired.target.arn.clone()),
        pass_role_arns: obj
            .spec
            .target
            .ecs
            .as_ref()
            .and_then(|e| e.pass_role_arns.clone())
            .unwrap_or_default(),
    };
    let mut findings = diagnose::diagnose(&diff::snapshot(&desired, &observed), &expectations);
    if !desired.rule.enabled {
        // The spec asks for a disabled rule: that is intent, not a fault.
        findings.retain(|f| f.code != Code::RuleDisabled);
    }
    Span::current().record("changes", changes.len());
    Ok(Pass {
        desired,
        observed,
        changes,
        findings,
    })
}

/// Removes what this object owns (unless `deletionPolicy: Retain`). Resources without our
/// owner tag are never touched.
async fn cleanup(obj: &EventBridgeIntegration, ctx: &Context) -> Result<Action, Error> {
    let owner = owner_of(obj);
    ctx.metrics.object_state(&owner.key(), None);
    let publish = |type_, reason: &'static str, note: String| async move {
        let ev = KubeEvent {
            type_,
            reason: reason.into(),
            note: Some(truncate(&note, 1000)),
            action: "Delete".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&ev, &obj.object_ref(&())).await {
            warn!("could not publish event: {e}");
        }
    };
    if obj.spec.deletion_policy == crate::api::DeletionPolicy::Retain {
        publish(
            EventType::Normal,
            "Retained",
            "deletionPolicy Retain: the rule, target, role and permission stay in AWS".into(),
        )
        .await;
        return Ok(Action::await_change());
    }
    let (clients, desired, _) = match plan_for(obj, ctx, &owner).await {
        Ok(p) => p,
        Err(Failure::Aws(e)) => return Err(Error::Aws(e)),
        Err(_)
            if obj
                .status
                .as_ref()
                .and_then(|s| s.rule_arn.as_ref())
                .is_none() =>
        {
            // Never planned successfully, so nothing was ever created.
            return Ok(Action::await_change());
        }
        Err(Failure::Plan(e)) => {
            publish(EventType::Warning, "CleanupBlocked", format!("cannot plan the deletion ({e}); fix the spec or delete the AWS resources named in status by hand")).await;
            return Ok(Action::await_change());
        }
        Err(Failure::Dependency(_)) | Err(Failure::NotOwned(_)) => {
            return Ok(Action::await_change())
        }
    };
    let rule = observe::rule(&clients, &desired.rule.name, &desired.rule.event_bus_name).await?;
    let owns = |tags: &std::collections::BTreeMap<String, String>| {
        tags.get(OWNER_TAG) == Some(&owner.key())
    };
    let role_owned = match &desired.role {
        DesiredRole::Managed(m) => observe::role(&clients, &m.name)
            .await?
            .is_some_and(|r| owns(&r.tags)),
        _ => false,
    };
    let owned = OwnedParts {
        rule: rule.as_ref().is_some_and(|r| owns(&r.tags)),
        role: role_owned,
    };
    // The Lambda permission is removed only if the rule was ours: its statement ID is derived from our rule.
    let mut desired = desired;
    if !owned.rule {
        desired.permission = None;
    }
    apply::delete(&clients, &desired, owned).await?;
    info!(?owned, "deleted AWS resources");
    publish(
        EventType::Normal,
        "Deleted",
        format!(
            "Deleted the AWS resources this object owned (rule: {}, role: {})",
            owned.rule, owned.role
        ),
    )
    .await;
    Ok(Action::await_change())
}
