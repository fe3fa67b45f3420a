//! One reconcile pass, and cleanup.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::runtime::finalizer::{finalizer, Event};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, instrument, warn};

use super::conditions::{conditions, Outcome, PartOutcome};
use super::{Context, FIELD_MANAGER, FINALIZER};
use crate::api::status::{merge_conditions, TargetAccountStatus};
use crate::api::{reason as r, EventBridgeIntegration, EventBridgeIntegrationStatus, TargetKind};
use crate::aws::apply::{self, OwnedParts};
use crate::aws::{observe, AwsError, Clients, ErrorKind};
use crate::diagnose::{self, Chain, Code, Expectations, Finding, TaskDefinition};
use crate::iam::Arn;
use crate::plan::diff::{self, Change, NotOwned, Observed};
use crate::plan::{self, Desired, DesiredRole, Facts, Owner, Plan, PlanError, Side, OWNER_TAG};
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

/// One account's share of a pass.
struct Part {
    side: Side,
    clients: Clients,
    desired: Desired,
    observed: Observed,
    changes: Vec<Change>,
}

struct Pass {
    plan: Plan,
    parts: Vec<Part>,
    findings: Vec<Finding>,
}

impl Pass {
    fn changes(&self) -> Vec<Change> {
        self.parts
            .iter()
            .flat_map(|p| p.changes.iter().cloned())
            .collect()
    }
}

async fn apply_pass(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    api: &Api<EventBridgeIntegration>,
) -> Result<Action, Error> {
    let owner = owner_of(obj);
    let result = converge(obj, ctx, &owner).await;
    let resync = Action::requeue(ctx.settings.resync_interval);
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
    let (outcome, action, err) = match &result {
        Ok(pass) => {
            ctx.succeeded(obj);
            (
                Outcome::Converged {
                    mode: pass.plan.mode,
                    parts: &parts,
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
        Err(Failure::Aws(e)) if e.code == "ProvisioningRoleNotAssumable" => {
            let message = format!(
                "{}. The controller reaches the target account through spec.crossAccount.provisioningRoleArn: its trust policy must allow the controller's role (and the external ID, if set), and the controller's role needs sts:AssumeRole on it.",
                e.message
            );
            (
                Outcome::Blocked {
                    reason: r::PROVISIONING_ROLE_NOT_ASSUMABLE,
                    message,
                },
                Action::requeue(ctx.backoff(obj)),
                None,
            )
        }
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
    match (&result, &obj.status) {
        (Ok(pass), _) => {
            let local = &pass.plan.local;
            status.rule_arn = local.rule.as_ref().map(|r| r.arn.clone());
            status.rule_name = local.rule.as_ref().map(|r| r.name.clone());
            status.role_arn = local.role.arn().map(str::to_string);
            status.target_id = local.target.as_ref().map(|t| t.id.clone());
            status.target_account = pass.plan.remote.as_ref().map(|remote| TargetAccountStatus {
                account_id: remote.account_id.clone(),
                rule_arn: remote.rule.as_ref().map(|r| r.arn.clone()),
                role_arn: remote.role.arn().map(str::to_string),
            });
            status.findings = pass.findings.clone();
        }
        // Keep what we know exists while a pass fails, so cleanup and users can find it.
        (Err(_), Some(previous)) => {
            status.rule_arn = previous.rule_arn.clone();
            status.rule_name = previous.rule_name.clone();
            status.role_arn = previous.role_arn.clone();
            status.target_id = previous.target_id.clone();
            status.target_account = previous.target_account.clone();
            status.findings = previous.findings.clone();
        }
        (Err(_), None) => {}
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
    let changes = result.as_ref().map(Pass::changes).unwrap_or_default();
    publish_events(obj, ctx, &changes, &status).await;
    match err {
        Some(e) => Err(e),
        None => Ok(action),
    }
}

async fn publish_events(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    changes: &[Change],
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
    if !changes.is_empty() {
        let what: Vec<String> = changes.iter().map(Change::describe).collect();
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
        let ev = KubeEvent {
            type_,
            reason,
            note: Some(truncate(&note, 1000)),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&ev, &obj.object_ref(&())).await {
            warn!("could not publish event: {e}");
        }
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

/// Clients for each side, the plan, and the task definition. No AWS write happens before
/// the plan exists.
struct Planned {
    local: Clients,
    remote: Option<Clients>,
    plan: Plan,
    task_definition: Option<TaskDefinition>,
}

impl Planned {
    fn clients(&self, side: Side) -> &Clients {
        match side {
            Side::Local => &self.local,
            Side::Remote => self
                .remote
                .as_ref()
                .expect("a remote part has remote clients"),
        }
    }
}

async fn plan_for(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    owner: &Owner,
) -> Result<Planned, Failure> {
    let kind = plan::validate(&obj.spec).map_err(|e| Failure::Plan(e.into()))?;
    let region = region_of(obj, ctx);
    let local = ctx.aws.clients(&region);
    let account_id = ctx.aws.account_id(&local).await?;
    let remote = match &obj.spec.cross_account {
        None => None,
        Some(x) => {
            // Everything the planner refuses (spec, guardrails) is refused before assuming
            // anything in the other account; planning is pure and cheap.
            let preliminary = Facts {
                account_id: account_id.clone(),
                region: region.clone(),
                task_roles: None,
            };
            plan::plan(&obj.spec, owner, &preliminary, &ctx.settings.guardrails)
                .map_err(Failure::Plan)?;
            Some(
                ctx.aws
                    .remote_clients(
                        &region,
                        &x.provisioning_role_arn,
                        x.external_id.as_deref(),
                        &x.target_account_id,
                    )
                    .await?,
            )
        }
    };
    let mut task_definition = None;
    let mut task_roles = None;
    if kind == TargetKind::Ecs {
        let ecs = obj.spec.target.ecs.as_ref().expect("kind");
        // The task definition lives where the workload runs.
        let where_ = remote.as_ref().unwrap_or(&local);
        task_definition = observe::task_definition(where_, &ecs.task_definition_arn).await?;
        match (&task_definition, &ecs.pass_role_arns) {
            (Some(td), _) => task_roles = Some(td.roles_to_pass()),
            (None, Some(_)) => {}
            (None, None) => {
                return Err(Failure::Dependency(format!(
                    "task definition {} was not found; register it, or set spec.target.ecs.passRoleArns",
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
    let plan =
        plan::plan(&obj.spec, owner, &facts, &ctx.settings.guardrails).map_err(Failure::Plan)?;
    Ok(Planned {
        local,
        remote,
        plan,
        task_definition,
    })
}

async fn observe_all(
    clients: &Clients,
    desired: &Desired,
    task_definition: Option<TaskDefinition>,
) -> Result<Observed, AwsError> {
    let (rule, targets) = match &desired.rule {
        Some(want) => {
            let rule = observe::rule(clients, &want.name, &want.event_bus_name).await?;
            let targets = if rule.is_some() {
                observe::targets(clients, &want.name, &want.event_bus_name).await?
            } else {
                vec![]
            };
            (rule, targets)
        }
        None => (None, vec![]),
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
    let bus_policy = match &desired.bus_permission {
        Some(b) => observe::bus_policy(clients, &b.event_bus_name).await?,
        None => None,
    };
    let task_definition = if desired.target.as_ref().is_some_and(|t| t.ecs.is_some()) {
        task_definition
    } else {
        None
    };
    Ok(Observed {
        rule,
        targets,
        role,
        lambda_policy,
        task_definition,
        bus_policy,
    })
}

async fn converge(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    owner: &Owner,
) -> Result<Pass, Failure> {
    let planned = plan_for(obj, ctx, owner).await?;
    // Observe and diff every account before writing anything: a resource we do not own in
    // either account stops the whole pass, so nothing is half-applied.
    let mut parts = Vec::new();
    for (side, desired) in planned.plan.parts() {
        let clients = planned.clients(side).clone();
        let observed = observe_all(&clients, desired, planned.task_definition.clone()).await?;
        let changes = diff::diff(desired, &observed, owner, obj.spec.adopt_existing)
            .map_err(Failure::NotOwned)?;
        parts.push(Part {
            side,
            clients,
            desired: desired.clone(),
            observed,
            changes,
        });
    }
    for part in &mut parts {
        for change in &part.changes {
            info!(side = ?part.side, account = %part.desired.account_id, ?change, "applying");
            apply::apply(&part.clients, &part.desired, change).await?;
        }
        if !part.changes.is_empty() {
            // Diagnose what exists now, not what we believe we wrote.
            part.observed = observe_all(
                &part.clients,
                &part.desired,
                planned.task_definition.clone(),
            )
            .await?;
        }
    }
    let removed = remove_previous(obj, owner, &planned).await?;
    if let Some(local) = parts.iter_mut().find(|p| p.side == Side::Local) {
        local
            .changes
            .extend(removed.into_iter().map(Change::RemovedPrevious));
    }
    let findings = diagnose_parts(obj, &planned.plan, &parts);
    Ok(Pass {
        plan: planned.plan,
        parts,
        findings,
    })
}

/// After a rename (spec.rule.name, spec.role.name, the bus), the rule and role recorded in
/// status are no longer the desired ones: remove them once the new ones exist, if they
/// carry our owner tag. Returns what was removed.
async fn remove_previous(
    obj: &EventBridgeIntegration,
    owner: &Owner,
    planned: &Planned,
) -> Result<Vec<String>, AwsError> {
    let Some(previous) = &obj.status else {
        return Ok(vec![]);
    };
    let local = &planned.plan.local;
    let mut removed = Vec::new();
    if let (Some(old_arn), Some(rule)) = (&previous.rule_arn, &local.rule) {
        if old_arn != &rule.arn
            && delete_recorded_rule(&planned.local, owner, old_arn, local.permission.clone())
                .await?
        {
            removed.push(format!("the previous rule {old_arn}"));
        }
    }
    if let (Some(old_arn), DesiredRole::Managed(m)) = (&previous.role_arn, &local.role) {
        if old_arn != &m.arn && delete_recorded_role(&planned.local, owner, old_arn).await? {
            removed.push(format!("the previous role {old_arn}"));
        }
    }
    // The target account's half of a cross-account integration, likewise.
    if let (Some(before), Some(remote), Some(clients)) = (
        &previous.target_account,
        &planned.plan.remote,
        &planned.remote,
    ) {
        if let (Some(old_arn), Some(rule)) = (&before.rule_arn, &remote.rule) {
            if old_arn != &rule.arn
                && delete_recorded_rule(clients, owner, old_arn, remote.permission.clone()).await?
            {
                // The bus statement is per source account, so it stays for the renamed rule.
                removed.push(format!("the previous rule {old_arn}"));
            }
        }
        if let (Some(old_arn), DesiredRole::Managed(m)) = (&before.role_arn, &remote.role) {
            if old_arn != &m.arn && delete_recorded_role(clients, owner, old_arn).await? {
                removed.push(format!("the previous role {old_arn}"));
            }
        }
    }
    Ok(removed)
}

fn owned_by(owner: &Owner, tags: &BTreeMap<String, String>) -> bool {
    tags.get(OWNER_TAG) == Some(&owner.key())
}

/// Just enough of a `Desired` for `apply::delete` to remove resources known by name.
fn recorded(
    owner: &Owner,
    rule: Option<plan::DesiredRule>,
    role: DesiredRole,
    permission: Option<plan::DesiredPermission>,
) -> Desired {
    Desired {
        kind: TargetKind::Lambda,
        account_id: String::new(),
        region: String::new(),
        tags: owner.tags(),
        rule,
        role,
        target: None,
        permission,
        bus_permission: None,
    }
}

/// Deletes a rule recorded in status (its targets, the rule, and our statement on
/// `permission`'s function), if it carries our owner tag. True when it did.
async fn delete_recorded_rule(
    clients: &Clients,
    owner: &Owner,
    rule_arn: &str,
    permission: Option<plan::DesiredPermission>,
) -> Result<bool, AwsError> {
    let Some(resource) = Arn::parse(rule_arn)
        .ok()
        .and_then(|a| a.resource.strip_prefix("rule/").map(str::to_string))
    else {
        return Ok(false);
    };
    let (bus, name) = resource
        .rsplit_once('/')
        .map(|(b, n)| (b.to_string(), n.to_string()))
        .unwrap_or(("default".into(), resource.clone()));
    if !observe::rule(clients, &name, &bus)
        .await?
        .is_some_and(|r| owned_by(owner, &r.tags))
    {
        return Ok(false);
    }
    let rule = plan::DesiredRule {
        name: name.clone(),
        event_bus_name: bus,
        arn: rule_arn.to_string(),
        description: None,
        event_pattern: None,
        schedule_expression: None,
        enabled: true,
    };
    let permission = permission.map(|mut p| {
        p.statement_id = plan::names::statement_id(&name);
        p
    });
    apply::delete(
        clients,
        &recorded(owner, Some(rule), DesiredRole::NotNeeded, permission),
        OwnedParts {
            rule: true,
            role: false,
        },
    )
    .await?;
    Ok(true)
}

/// Deletes a role recorded in status, if it carries our owner tag (a bring-your-own role
/// never does). True when it did.
async fn delete_recorded_role(
    clients: &Clients,
    owner: &Owner,
    role_arn: &str,
) -> Result<bool, AwsError> {
    let name = Arn::parse(role_arn)
        .map(|a| a.resource_name().to_string())
        .unwrap_or_default();
    if !observe::role(clients, &name)
        .await?
        .is_some_and(|r| owned_by(owner, &r.tags))
    {
        return Ok(false);
    }
    let role = plan::ManagedRole {
        name,
        path: "/".into(),
        arn: role_arn.to_string(),
        trust_policy: serde_json::Value::Null,
        policy: serde_json::Value::Null,
        permissions_boundary_arn: None,
    };
    apply::delete(
        clients,
        &recorded(owner, None, DesiredRole::Managed(role), None),
        OwnedParts {
            rule: false,
            role: true,
        },
    )
    .await?;
    Ok(true)
}

/// The diagnosis of every rule of the integration, each seeing the roles and function
/// policies of both accounts, plus the RoleChain's trust chain.
fn diagnose_parts(obj: &EventBridgeIntegration, plan: &Plan, parts: &[Part]) -> Vec<Finding> {
    let snapshots: Vec<_> = parts
        .iter()
        .map(|p| (p, diff::snapshot(&p.desired, &p.observed)))
        .collect();
    let mut roles = BTreeMap::new();
    let mut lambda_policies = BTreeMap::new();
    for (_, s) in &snapshots {
        roles.extend(s.roles.clone());
        lambda_policies.extend(s.lambda_policies.clone());
    }
    let mut findings: Vec<Finding> = Vec::new();
    for (part, snapshot) in snapshots {
        let Some(rule) = &part.desired.rule else {
            continue;
        };
        let mut snapshot = snapshot;
        snapshot.roles = roles.clone();
        snapshot.lambda_policies = lambda_policies.clone();
        if part.side == Side::Local {
            snapshot.chains = plan
                .chain
                .iter()
                .map(|(from, to)| Chain {
                    from: from.clone(),
                    to: to.clone(),
                })
                .collect();
        }
        let expectations = Expectations {
            rule_name: Some(rule.name.clone()),
            event_bus_name: Some(rule.event_bus_name.clone()),
            target_id: part.desired.target.as_ref().map(|t| t.id.clone()),
            target_arn: part.desired.target.as_ref().map(|t| t.arn.clone()),
            pass_role_arns: obj
                .spec
                .target
                .ecs
                .as_ref()
                .and_then(|e| e.pass_role_arns.clone())
                .unwrap_or_default(),
        };
        for f in diagnose::diagnose(&snapshot, &expectations) {
            // The spec asks for a disabled rule: that is intent, not a fault.
            if f.code == Code::RuleDisabled && !rule.enabled {
                continue;
            }
            if !findings.contains(&f) {
                findings.push(f);
            }
        }
    }
    findings.sort_by_key(|f| f.severity);
    findings
}

/// Removes what this object owns in every account (unless `deletionPolicy: Retain`).
/// Resources without our owner tag are never touched.
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
    let planned = match plan_for(obj, ctx, &owner).await {
        Ok(p) => p,
        // Until the AWS resources are gone (or the object says Retain), the finalizer stays.
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
            // The spec no longer plans (it was edited into an invalid one): delete what status
            // recorded in the controller's account, by name, if it carries our owner tag.
            let status = obj.status.clone().unwrap_or_default();
            let region = status
                .rule_arn
                .as_deref()
                .and_then(|a| Arn::parse(a).ok())
                .map(|a| a.region)
                .unwrap_or_else(|| region_of(obj, ctx));
            let clients = ctx.aws.clients(&region);
            let mut removed = Vec::new();
            if let Some(rule_arn) = &status.rule_arn {
                if delete_recorded_rule(&clients, &owner, rule_arn, None).await? {
                    removed.push(rule_arn.clone());
                }
            }
            if let Some(role_arn) = &status.role_arn {
                if delete_recorded_role(&clients, &owner, role_arn).await? {
                    removed.push(role_arn.clone());
                }
            }
            publish(
                EventType::Warning,
                "CleanupFromStatus",
                format!(
                    "the spec no longer plans ({e}); deleted what status recorded: {}. A Lambda permission or resources in another account, if any, must be removed by hand",
                    if removed.is_empty() { "nothing owned was found".to_string() } else { removed.join(", ") }
                ),
            )
            .await;
            return Ok(Action::await_change());
        }
        Err(Failure::Dependency(_)) | Err(Failure::NotOwned(_)) => {
            return Ok(Action::await_change())
        }
    };
    let owns = |tags: &BTreeMap<String, String>| tags.get(OWNER_TAG) == Some(&owner.key());
    let mut summary = Vec::new();
    for (side, desired) in planned.plan.parts() {
        let clients = planned.clients(side);
        let rule_owned = match &desired.rule {
            Some(r) => observe::rule(clients, &r.name, &r.event_bus_name)
                .await?
                .is_some_and(|r| owns(&r.tags)),
            None => false,
        };
        let role_owned = match &desired.role {
            DesiredRole::Managed(m) => observe::role(clients, &m.name)
                .await?
                .is_some_and(|r| owns(&r.tags)),
            _ => false,
        };
        let owned = OwnedParts {
            rule: rule_owned,
            role: role_owned,
        };
        // Statement IDs are derived from our rule; remove them only where that rule (or, in a
        // part without a rule, our role) proves the integration was ours.
        let mut desired = desired.clone();
        let anchor_owned = if desired.rule.is_some() {
            rule_owned
        } else {
            role_owned
        };
        if !anchor_owned {
            desired.permission = None;
            desired.bus_permission = None;
        }
        // The bus statement is shared by every integration forwarding from the same account:
        // it goes with the last of them.
        if let (Some(b), Some(rule)) = (&desired.bus_permission, &desired.rule) {
            let others =
                observe::forwarding_rules(clients, &b.event_bus_name, &b.principal_account).await?;
            if others.iter().any(|name| name != &rule.name) {
                desired.bus_permission = None;
            }
        }
        apply::delete(clients, &desired, owned).await?;
        info!(?side, account = %desired.account_id, ?owned, "deleted AWS resources");
        summary.push(format!(
            "account {}: rule {}, role {}",
            desired.account_id, owned.rule, owned.role
        ));
    }
    publish(
        EventType::Normal,
        "Deleted",
        format!(
            "Deleted the AWS resources this object owned ({})",
            summary.join("; ")
        ),
    )
    .await;
    Ok(Action::await_change())
}
