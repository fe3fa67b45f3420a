//! The apply half of a pass: facts → plan (pure) → observe every account → diff (pure) →
//! record what will be owned → apply → remove what the record holds but the plan no
//! longer wants → diagnose (pure). No AWS write happens before every account was diffed
//! and the ownership record lists everything about to be created.

use std::collections::BTreeMap;

use std::time::Duration;

use kube::Api;
use tracing::info;

use super::admission::{admit, Admission};
use super::observe::{observe_and_diff, read_directly};
use super::part::{Evidence, Part};
use super::record::{self as io_record, RecordKeeper};
use crate::api::{EventBridgeIntegration, OwnedKind, OwnedResource};
use crate::aws::delivery::RuleKey;
use crate::aws::kms;
use crate::aws::organization::{self, OrgPolicies};
use crate::aws::remove::Removal;
use crate::aws::{apply, observe, AwsError, Clients};
use crate::controller::Context;
use crate::diagnose::bus_log::BusLogFailure;
use crate::diagnose::delivery::{self as observed_delivery, Observation as Delivery};
use crate::diagnose::trail::TrailFailure;
use crate::diagnose::Finding;
use crate::iam::Region;
use crate::plan::diff::{self, Adoption, Change, NotOwned, TaskDefinitions};
use crate::plan::{self, record, Claim, Desired, DesiredRole, Facts, Owner, Plan, Side};
use crate::Error;

pub(in crate::controller) struct Pass {
    pub plan: Plan,
    pub parts: Vec<Part>,
    pub findings: Vec<Finding>,
    /// What the diagnosis could not evaluate, and why (`status.notEvaluated`).
    pub not_evaluated: Vec<String>,
    /// What removing superseded resources did (moves, renames), for Events.
    pub removed: Vec<String>,
    /// Superseded resources whose removal failed, and why: they stay in the record, the
    /// object is Ready, and the removal is retried with backoff.
    pub left_behind: Vec<String>,
    /// What AWS's metrics say of the delivery of the integration's rules.
    pub delivery: Delivery,
    /// The newest dead-letter message of the rule (`--read-dead-letters`).
    pub dead_letter: Option<observed_delivery::DeadLetter>,
    /// The newest failure the rule's event bus logged (when the metrics report failures).
    pub bus_log: Option<BusLogFailure>,
    /// The newest failed call of EventBridge's for the role, from CloudTrail (likewise).
    pub trail: Option<TrailFailure>,
}

impl Pass {
    pub(in crate::controller) fn changes(&self) -> Vec<Change> {
        self.parts
            .iter()
            .flat_map(|p| p.changes.iter().cloned())
            .collect()
    }
}

/// `spec.region`, or the controller's. Validation refused an unparsable one before any pass
/// reaches AWS; this says so again rather than assume it.
pub(in crate::controller) fn region_of(
    obj: &EventBridgeIntegration,
    ctx: &Context,
) -> Result<Region, Error> {
    match &obj.spec.region {
        None => Ok(ctx.settings.default_region.clone()),
        Some(text) => Region::parse(text).map_err(|e| {
            Error::Plan(
                plan::SpecError {
                    field: "spec.region".into(),
                    message: e.to_string(),
                }
                .into(),
            )
        }),
    }
}

/// Clients for each side, the plan, and the task definitions. No AWS write happens before
/// the plan exists.
pub(in crate::controller) struct Planned {
    local: Clients,
    remote: Option<Clients>,
    plan: Plan,
    /// The ECS targets' task definitions, by the ARN the spec names.
    task_definitions: TaskDefinitions,
    /// What the pass may do, decided before anything was read in AWS.
    admission: Admission,
}

impl Planned {
    #[allow(
        clippy::expect_used,
        reason = "a plan has a remote part only with spec.crossAccount, for which remote clients are made"
    )]
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

pub(in crate::controller) async fn plan_for(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    owner: &Owner,
    recorded: &[OwnedResource],
) -> Result<Planned, Error> {
    // Each target as the one target of a spec of its own (`spec.targets` holds up to five).
    let views = plan::target_list::views(&obj.spec);
    let mut valid = Vec::with_capacity(views.len());
    for (field, view) in &views {
        let v = plan::validate(view)
            .map_err(|e| Error::Plan(plan::target_list::of_entry(field, e).into()))?;
        valid.push(v.target);
    }
    let region = region_of(obj, ctx)?;
    // Nothing of the object is read or written in AWS before it is admitted.
    let mut admission = admit(obj, ctx, &region, &BTreeMap::new()).await?;
    let local = ctx.aws.clients(&region);
    let account_id = ctx.aws.account_id(&local).await?;
    // The API destinations' credentials: read from the object's namespace, before planning.
    let destinations: Vec<(&str, &crate::api::ConnectionSpec)> = views
        .iter()
        .zip(&valid)
        .filter_map(|((field, _), t)| match t {
            plan::ValidTarget::ApiDestination(d) => Some((field.as_str(), &d.connection)),
            _ => None,
        })
        .collect();
    let connection_secrets =
        super::connection_secret::read_all(&ctx.client, &owner.namespace, &destinations)
            .await
            .map_err(Error::Dependency)?;
    let facts = |task_roles: BTreeMap<String, Vec<String>>, admission: &Admission| Facts {
        connection_secrets: connection_secrets.clone(),
        account_id: account_id.clone(),
        region: region.clone(),
        task_roles,
        provisioning_role_arn: admission.via_role().map(str::to_string),
        recorded_roles: recorded
            .iter()
            .filter(|e| e.kind == OwnedKind::Role)
            .map(|e| e.arn.clone())
            .collect(),
    };
    let mut remote = None;
    if let (Some(x), Some(access)) = (&obj.spec.cross_account, &admission.remote) {
        // Everything the planner refuses (spec, guardrails) is refused before assuming
        // anything in the other account; planning is pure and cheap.
        plan::plan(
            &obj.spec,
            owner,
            &facts(BTreeMap::new(), &admission),
            &admission.guardrails,
        )
        .map_err(Error::Plan)?;
        remote = Some(
            ctx.aws
                .remote_clients(&region, access, &x.target_account_id)
                .await?,
        );
    }
    let ecs_targets: Vec<(&str, &crate::api::EcsTarget)> = views
        .iter()
        .zip(&valid)
        .filter_map(|((field, _), t)| match t {
            plan::ValidTarget::Ecs(e) => Some((field.as_str(), *e)),
            _ => None,
        })
        .collect();
    // The task definitions live where the workload runs.
    let (task_definitions, task_roles) =
        read_task_definitions(remote.as_ref().unwrap_or(&local), &ecs_targets).await?;
    // The roles the created role will pass are the task definitions' own: they must be
    // granted too, and may make another policy the one that permits.
    let read_for_passing = ecs_targets.iter().any(|(_, e)| {
        e.pass_role_arns.is_none() && task_roles.contains_key(&e.task_definition_arn)
    });
    if read_for_passing {
        let again = admit(obj, ctx, &region, &task_roles).await?;
        if again.remote != admission.remote {
            if let (Some(x), Some(access)) = (&obj.spec.cross_account, &again.remote) {
                remote = Some(
                    ctx.aws
                        .remote_clients(&region, access, &x.target_account_id)
                        .await?,
                );
            }
        }
        admission = again;
    }
    let plan = plan::plan(
        &obj.spec,
        owner,
        &facts(task_roles, &admission),
        &admission.guardrails,
    )
    .map_err(Error::Plan)?;
    if let Some(policy) = admission.policy() {
        tracing::debug!(policy, "admitted");
    }
    Ok(Planned {
        local,
        remote,
        plan,
        task_definitions,
        admission,
    })
}

/// The ECS task definitions by the ARN each target names, and the roles each hands to ECS
/// (for the targets without `passRoleArns`, whose PassRole they decide). One that cannot
/// be described stops the pass unless its target names its roles itself.
async fn read_task_definitions(
    clients: &Clients,
    ecs_targets: &[(&str, &crate::api::EcsTarget)],
) -> Result<(TaskDefinitions, BTreeMap<String, Vec<String>>), Error> {
    let mut found = TaskDefinitions::new();
    let mut roles = BTreeMap::new();
    for (field, ecs) in ecs_targets {
        let arn = &ecs.task_definition_arn;
        if found.contains_key(arn) {
            continue;
        }
        match (
            observe::task_definition_or_reason(clients, arn).await?,
            &ecs.pass_role_arns,
        ) {
            (Ok(td), _) => {
                roles.insert(arn.clone(), td.roles_to_pass());
                found.insert(arn.clone(), td);
            }
            (Err(_), Some(_)) => {}
            (Err(why), None) => {
                return Err(Error::Dependency(format!(
                    "ECS could not describe task definition {arn}: {why}. Register it (or grant the controller ecs:DescribeTaskDefinition on it), or set {field}.ecs.passRoleArns"
                )))
            }
        }
    }
    Ok((found, roles))
}

/// Applies a part's changes in order. `rest_api_writes` gets each REST API policy written,
/// with the time its write returned, even when a later change fails: a stage serves the
/// policy it was deployed with, so the record must know when the policy changed.
async fn apply_changes(
    part: &Part,
    owner: &Owner,
    rest_api_writes: &mut Vec<(String, k8s_openapi::jiff::Timestamp)>,
) -> Result<(), Error> {
    for change in &part.changes {
        info!(side = ?part.side, account = %part.desired.account_id, ?change, "applying");
        apply::apply(&part.clients, &part.desired, change)
            .await
            .map_err(|e| {
                let written = match change {
                    diff::Change::AddPermission { function_arn, .. } => part
                        .desired
                        .permissions
                        .iter()
                        .find(|p| p.function_arn == *function_arn),
                    _ => None,
                };
                match (e.code == apply::STATEMENT_NOT_OWNED, written) {
                    (true, Some(p)) => Error::NotOwned(NotOwned {
                        kind: "Lambda permission",
                        name: format!("{} on {}", p.statement_id, p.function_arn),
                        found: e.message,
                        advice: diff::ADVICE_STATEMENT,
                        foreign: false,
                    }),
                    _ => Error::Aws(e),
                }
            })?;
        if let Change::PutQueueStatements { queue_arn, .. } = change {
            if crate::plan::PolicyHolder::of_arn(queue_arn) == crate::plan::PolicyHolder::RestApi {
                rest_api_writes.push((queue_arn.clone(), k8s_openapi::jiff::Timestamp::now()));
            }
        }
        if let Change::PutRule { created: true } = change {
            settle_rule_claim(part, owner).await?;
        }
    }
    Ok(())
}

/// [`apply_changes`], then the record notes when each REST API policy was written.
async fn apply_and_note(
    part: &Part,
    owner: &Owner,
    keeper: &mut RecordKeeper,
) -> Result<(), Error> {
    let mut rest_api_writes = vec![];
    let result = apply_changes(part, owner, &mut rest_api_writes).await;
    for (arn, at) in rest_api_writes {
        keeper.note_policy_written(&arn, at);
    }
    result
}

/// IAM's answer to CreateRole for a name that exists.
const TAKEN: &str = "EntityAlreadyExists";

/// The role was created without looking first (the record said none) and IAM says the name
/// is taken: the part is read again and diffed as for any existing role, so `part.changes`
/// says what is left to write (ours, or adoptable), or the role is not ours (`NotOwned`).
/// Role changes come first, so nothing of the part was written before.
async fn reread_taken_role(
    part: &mut Part,
    task_definitions: &TaskDefinitions,
    owner: &Owner,
    adopt: Adoption,
) -> Result<(), Error> {
    part.observed = read_directly(part, task_definitions, owner).await?;
    part.changes =
        diff::diff(&part.desired, &part.observed, owner, adopt).map_err(Error::NotOwned)?;
    Ok(())
}

/// Reading "no such rule" and then creating it is a check-then-write: another object (or
/// another cluster's controller) may have created the same name in between, and PutRule
/// creates or replaces without telling which. The owner tags read right after the write
/// settle it before anything else is written to the rule (its target, its statements):
/// exactly one owner holds a name, and the other stops here, `ResourceNotOwned` naming it.
/// (On AWS, PutRule applies tags only when it creates the rule, so the tags read now name
/// its creator. The emulator applies them on a replace too, where two interleaved writers
/// could each read their own; the one whose tags are overwritten finds another owner's at
/// its next pass and stops the same way.)
async fn settle_rule_claim(part: &Part, owner: &Owner) -> Result<(), Error> {
    let rule = part.desired.rule();
    for attempt in 0..3 {
        let tags = observe::rule_tags(&part.clients, &rule.arn).await?;
        let claim = tags.as_ref().map(|t| owner.claim(t));
        match claim {
            Some(Claim::Ours) => return Ok(()),
            Some(Claim::Foreign(found)) => {
                return Err(Error::NotOwned(NotOwned {
                    kind: "EventBridge rule",
                    name: rule.name.clone(),
                    found: format!(
                        "{found}: another object claimed this name at the same moment and holds it"
                    ),
                    advice: "choose another spec.rule.name (or remove the other object)",
                    foreign: true,
                }))
            }
            // Tags not visible yet (or the rule deleted at once): read again, briefly.
            _ if attempt < 2 => tokio::time::sleep(Duration::from_millis(200)).await,
            _ => {}
        }
    }
    Err(Error::Aws(AwsError::new(
        "events:ListTagsForResource",
        crate::aws::ErrorKind::Transient,
        "OwnerTagsNotVisible",
        format!(
            "rule {} was created but its owner tags could not be read back; retrying",
            rule.arn
        ),
    )))
}

/// A rule or role that the diff found tagged for another owner leaves the record: it is
/// provably not this object's, so clean-up must not count it (statements this object wrote
/// stay: their ids carry its UID, and they are removed with it).
fn forget_foreign(keeper: &mut RecordKeeper, desired: &Desired, not_owned: &NotOwned) {
    if !not_owned.foreign {
        return;
    }
    let arn = match not_owned.kind {
        "EventBridge rule" => desired.rule.as_ref().map(|r| r.arn.as_str()),
        "IAM role" => desired.role.arn(),
        _ => None,
    };
    let entry = keeper
        .entries()
        .iter()
        .find(|e| {
            matches!(e.kind, OwnedKind::Rule | OwnedKind::Role) && Some(e.arn.as_str()) == arn
        })
        .cloned();
    if let Some(entry) = entry {
        keeper.forget(&entry);
    }
}

fn forget_role(keeper: &mut RecordKeeper, desired: &Desired) {
    if let DesiredRole::Managed(m) = &desired.role {
        let role = keeper
            .entries()
            .iter()
            .find(|e| e.kind == OwnedKind::Role && e.arn == m.arn)
            .cloned();
        if let Some(role) = role {
            keeper.forget(&role);
        }
    }
}

/// The spec's provisioning role: how a status that predates the ownership record reached
/// the target account (such records were written before policies supplied the role).
pub(in crate::controller) fn legacy_via_role(obj: &EventBridgeIntegration) -> Option<&str> {
    obj.spec
        .cross_account
        .as_ref()
        .and_then(|x| x.provisioning_role_arn.as_deref())
}

/// Where a pass keeps its ownership record: status, in a reconcile ([`StatusRecord`]).
pub(in crate::controller) trait Record {
    /// Records `wanted` before anything of it is written (`RecordKeeper::extend`).
    async fn extend(&mut self, wanted: &[OwnedResource]) -> Result<(), Error>;
    fn keeper(&mut self) -> &mut RecordKeeper;
}

/// The record in the object's status.
struct StatusRecord<'a> {
    keeper: &'a mut RecordKeeper,
    api: &'a Api<EventBridgeIntegration>,
    obj: &'a EventBridgeIntegration,
}

impl Record for StatusRecord<'_> {
    async fn extend(&mut self, wanted: &[OwnedResource]) -> Result<(), Error> {
        self.keeper.extend(self.api, self.obj, wanted).await
    }
    fn keeper(&mut self) -> &mut RecordKeeper {
        self.keeper
    }
}

/// The write half of a pass: everything the parts may create is recorded first, then each
/// part is written. A role name taken since it was read is read again and decided as any
/// existing role (ours, adoptable, or not ours); what proves not ours leaves the record.
/// On failure the record still lists everything that may exist.
async fn record_then_write(
    parts: &mut [Part],
    optimistic: Vec<(bool, Adoption)>,
    wanted: &mut [OwnedResource],
    record: &mut impl Record,
    task_definitions: &TaskDefinitions,
    owner: &Owner,
) -> Result<(), Error> {
    record.extend(wanted).await?;
    for (part, (optimistic, adopt)) in parts.iter_mut().zip(optimistic) {
        match apply_and_note(part, owner, record.keeper()).await {
            // The role was created without looking first and its name is taken: read it
            // and decide as for any existing role (ours, adoptable, or not ours). Role
            // changes come first, so nothing of this part was written yet.
            Err(Error::Aws(e)) if optimistic && e.code == TAKEN => {
                match reread_taken_role(part, task_definitions, owner, adopt).await {
                    Err(Error::NotOwned(not_owned)) => {
                        // Not ours: it must not stay in our record.
                        forget_role(record.keeper(), &part.desired);
                        forget_foreign(record.keeper(), &part.desired, &not_owned);
                        return Err(Error::NotOwned(not_owned));
                    }
                    other => other?,
                }
                // Taken over now: what it was is recorded before it is changed.
                record::note_adoptions(wanted, &part.desired, &part.observed, owner);
                record.extend(wanted).await?;
                if let Err(failure) = apply_and_note(part, owner, record.keeper()).await {
                    if let Error::NotOwned(n) = &failure {
                        forget_foreign(record.keeper(), &part.desired, n);
                    }
                    return Err(failure);
                }
            }
            Err(Error::NotOwned(n)) => {
                forget_foreign(record.keeper(), &part.desired, &n);
                return Err(Error::NotOwned(n));
            }
            other => other?,
        }
        if !part.changes.is_empty() {
            // What was just written is known without reading it back (the next resync reads
            // it for real); only a write whose result needs reading is followed by a read.
            part.observed =
                match diff::after_writes(&part.desired, &part.observed, &part.changes, owner) {
                    Some(after) => after,
                    None => read_directly(part, task_definitions, owner).await?,
                };
        }
    }
    Ok(())
}

/// Drives AWS to the plan. `keeper` holds the ownership record: it is extended (and written
/// to status) before the first write, and shrinks as superseded resources are removed; on
/// failure it still says exactly what may exist.
pub(in crate::controller) async fn converge(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    owner: &Owner,
    api: &Api<EventBridgeIntegration>,
    keeper: &mut RecordKeeper,
) -> Result<Pass, Error> {
    let planned = plan_for(obj, ctx, owner, keeper.entries()).await?;
    let via = planned.admission.via_role();
    let mut wanted = record::inventory(&planned.plan, via);
    // Observe and diff every account before writing anything: a resource we do not own in
    // either account stops the whole pass, so nothing is half-applied.
    let (mut parts, optimistic) = observe_parts(ctx, owner, keeper, &planned, &mut wanted).await?;
    let mut record = StatusRecord {
        keeper: &mut *keeper,
        api,
        obj,
    };
    record_then_write(
        &mut parts,
        optimistic,
        &mut wanted,
        &mut record,
        &planned.task_definitions,
        owner,
    )
    .await?;
    // Every part is as planned: the record's proofs and ways in are what is live now.
    keeper.refresh(&wanted);
    // Moves and renames: the new resources exist now, so the old ones can go. One that
    // cannot be removed yet (its region unreachable, its account's role gone) stays in the
    // record, says why, and is tried again with backoff: the integration itself is in place.
    let (removed, left_behind) =
        remove_superseded(obj, ctx, owner, keeper, &planned, &wanted).await;
    let (diagnosis, observed) =
        diagnose_and_observe_delivery(obj, ctx, &planned.plan, &parts).await;
    Ok(Pass {
        plan: planned.plan,
        parts,
        findings: diagnosis.findings,
        not_evaluated: diagnosis.not_evaluated,
        removed,
        left_behind,
        delivery: observed.delivery,
        dead_letter: observed.dead_letter,
        bus_log: observed.bus_log,
        trail: observed.trail,
    })
}

/// Every part observed and diffed, with what an optimistic create may meet (whether the
/// managed role was assumed absent, and what may be adopted); what is adopted is noted in
/// `wanted`. A resource not ours in any account stops the pass here, before any write, and
/// is forgotten by the record.
async fn observe_parts(
    ctx: &Context,
    owner: &Owner,
    keeper: &mut RecordKeeper,
    planned: &Planned,
    wanted: &mut [OwnedResource],
) -> Result<(Vec<Part>, Vec<(bool, Adoption)>), Error> {
    let via = planned.admission.via_role();
    let mut parts = Vec::new();
    let mut optimistic = Vec::new();
    for (side, desired) in planned.plan.parts() {
        let clients = planned.clients(side).clone();
        let part_via = (side == Side::Remote).then_some(via).flatten();
        let recorded = record::already_recorded(keeper.entries(), desired, part_via);
        let adopt = planned.admission.adoption(desired, keeper.entries());
        let (seen, changes) = match observe_and_diff(
            ctx.settings.snapshot_max_age(),
            owner,
            &clients,
            desired,
            &planned.task_definitions,
            recorded,
            adopt.clone(),
        )
        .await
        {
            Err(Error::NotOwned(n)) => {
                forget_foreign(keeper, desired, &n);
                return Err(Error::NotOwned(n));
            }
            other => other?,
        };
        record::note_adoptions(wanted, desired, &seen.observed, owner);
        optimistic.push((seen.role_assumed_absent, adopt));
        parts.push(Part {
            side,
            clients,
            desired: desired.clone(),
            observed: seen.observed,
            changes,
        });
    }
    Ok((parts, optimistic))
}

/// The recorded resources the plan no longer wants, removed; what was removed, and what was
/// left behind and why, each described.
async fn remove_superseded(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    owner: &Owner,
    keeper: &mut RecordKeeper,
    planned: &Planned,
    wanted: &[OwnedResource],
) -> (Vec<String>, Vec<String>) {
    let mut removed = Vec::new();
    let mut left_behind = Vec::new();
    for old in record::superseded(keeper.entries(), wanted) {
        match remove_recorded(
            obj,
            ctx,
            owner,
            &planned.local,
            &old,
            Some(&planned.admission),
        )
        .await
        {
            Ok(removal) => {
                if removal != Removal::Gone {
                    removed.push(removal.describe(&old));
                }
                keeper.forget(&old);
            }
            Err(failure) => {
                let why = failure.to_string();
                tracing::warn!(what = %old.describe(), "a superseded resource could not be removed: {why}");
                left_behind.push(format!("{}: {why}", old.describe()));
                keeper.left_behind(&old, why);
            }
        }
    }
    (removed, left_behind)
}

/// What AWS says of delivery since the last window, and where it failed.
struct DeliverySeen {
    delivery: Delivery,
    dead_letter: Option<observed_delivery::DeadLetter>,
    bus_log: Option<BusLogFailure>,
    trail: Option<TrailFailure>,
}

/// The diagnosis of every part, then delivery: the metrics, and when they report failures
/// AWS's own words (a dead letter, the bus's log, CloudTrail) linked to the findings (a
/// warning: never un-Ready). What could not be read is said in `not_evaluated`.
async fn diagnose_and_observe_delivery(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    plan: &Plan,
    parts: &[Part],
) -> (super::diagnosis::Diagnosis, DeliverySeen) {
    let mut evidence = Vec::new();
    for part in parts {
        evidence.push(evidence_for(ctx, part).await);
    }
    let mut diagnosis = super::diagnosis::diagnose_parts(obj, plan, parts, &evidence);
    let delivery = delivery_of(ctx, parts).await;
    if let Delivery::Unreadable(why) = &delivery {
        diagnosis
            .not_evaluated
            .push(format!("delivery (CloudWatch metrics): {why}"));
    }
    let dead_letter = match dead_letter_of(ctx, parts).await {
        Ok(found) => found,
        Err(e) => {
            diagnosis
                .not_evaluated
                .push(format!("delivery (dead-letter queue): {e}"));
            None
        }
    };
    let bus_log = match bus_log_of(ctx, parts, &delivery).await {
        Ok(found) => found,
        Err(e) => {
            diagnosis
                .not_evaluated
                .push(format!("delivery (the event bus's log): {e}"));
            None
        }
    };
    let trail = match trail_of(ctx, parts, &delivery).await {
        Ok(found) => found,
        Err(e) => {
            diagnosis
                .not_evaluated
                .push(format!("delivery (CloudTrail): {e}"));
            None
        }
    };
    // What AWS reports, linked to what the diagnosis predicted (a warning: never un-Ready).
    let words = observed_delivery::AwsWords {
        dead_letter: dead_letter.as_ref(),
        bus_log: bus_log.as_ref(),
        trail: trail.as_ref(),
    };
    diagnosis.findings.extend(observed_delivery::link(
        &delivery,
        words,
        &diagnosis.findings,
    ));
    (
        diagnosis,
        DeliverySeen {
            delivery,
            dead_letter,
            bus_log,
            trail,
        },
    )
}

/// When the metrics report failures: the newest failed call EventBridge made for the role
/// of a part (its AssumeRole, or a call made with it), from one CloudTrail read per account,
/// region and delivery window (`SharedReads::trail_failure`). A kind that takes no role
/// (Lambda, SQS) has none to look for: EventBridge calls it as itself.
async fn trail_of(
    ctx: &Context,
    parts: &[Part],
    delivery: &Delivery,
) -> Result<Option<TrailFailure>, crate::aws::AwsError> {
    let (Some(window), true) = (ctx.settings.delivery_window, delivery.failed()) else {
        return Ok(None);
    };
    for part in parts {
        let Some(role) = part.desired.role.arn() else {
            continue;
        };
        let clients = &part.clients;
        let found = clients.shared.trail_failure(clients, role, window).await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// When the metrics report failures: the newest failure the rule's event bus logged, where
/// the bus logs to CloudWatch Logs (one discovery per account and region and one read per
/// rule, each per delivery window, `SharedReads::bus_log_failure`). An integration that
/// delivers, or is not observed, costs no call here.
async fn bus_log_of(
    ctx: &Context,
    parts: &[Part],
    delivery: &Delivery,
) -> Result<Option<BusLogFailure>, crate::aws::AwsError> {
    let (Some(window), true) = (ctx.settings.delivery_window, delivery.failed()) else {
        return Ok(None);
    };
    for part in parts {
        let Some(rule) = &part.desired.rule else {
            continue;
        };
        let Some(bus_arn) = crate::aws::bus_logs::bus_of_rule(&rule.arn, &rule.event_bus_name)
        else {
            continue;
        };
        let clients = &part.clients;
        let found = clients
            .shared
            .bus_log_failure(clients, &bus_arn, &rule.arn, window)
            .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// With `--read-dead-letters`: the newest message the rule left in its dead-letter queue,
/// from one shared read of the queue per delivery window (`SharedReads::dead_letter`).
async fn dead_letter_of(
    ctx: &Context,
    parts: &[Part],
) -> Result<Option<observed_delivery::DeadLetter>, crate::aws::AwsError> {
    let (true, Some(window)) = (ctx.settings.read_dead_letters, ctx.settings.delivery_window)
    else {
        return Ok(None);
    };
    for part in parts {
        let dead_letter_queue = part
            .desired
            .dead_letter_permission()
            .and_then(|q| part.observed.queues.get(&q.queue_arn));
        let (Some(rule), Some(queue)) = (&part.desired.rule, dead_letter_queue) else {
            continue;
        };
        let clients = &part.clients;
        let found = clients
            .shared
            .dead_letter(clients, &queue.url, &rule.arn, window)
            .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The delivery of every rule of the pass, from its account's and region's shared read
/// (`aws::delivery`): never an error of the pass.
async fn delivery_of(ctx: &Context, parts: &[Part]) -> Delivery {
    let Some(window) = ctx.settings.delivery_window else {
        return Delivery::Off;
    };
    if parts
        .iter()
        .all(|p| p.desired.rule.is_none() && p.desired.schedule.is_some())
    {
        return Delivery::NotPerSchedule;
    }
    let mut each = Vec::new();
    for part in parts {
        if let Some(rule) = &part.desired.rule {
            let key = RuleKey::new(&rule.event_bus_name, &rule.name);
            let clients = &part.clients;
            each.push(
                clients
                    .shared
                    .delivery
                    .observe(&clients.cloudwatch, &key, window)
                    .await,
            );
        }
    }
    Delivery::combine(&each)
}

async fn evidence_for(ctx: &Context, part: &Part) -> Evidence {
    let account = part.desired.account_id.as_str();
    let organization = ctx
        .organizations
        .get(account, || async {
            let client = match &ctx.settings.organization_role_arn {
                None => part.clients.organizations.clone(),
                Some(role) => {
                    match ctx
                        .aws
                        .remote_clients(
                            &part.clients.region,
                            &crate::aws::RemoteAccess::role(role.as_str()),
                            role.account(),
                        )
                        .await
                    {
                        Ok(c) => c.organizations,
                        Err(e) => {
                            let read = OrgPolicies::Unreadable {
                                reason: format!("--organization-role-arn: {e}"),
                                transient: e.kind == crate::aws::ErrorKind::Transient,
                            };
                            return (read, false);
                        }
                    }
                }
            };
            let read = organization::read(&client, account).await;
            let keep = read.cacheable();
            (read, keep)
        })
        .await;
    let mut keys: Vec<&String> = part
        .observed
        .queues
        .values()
        .filter_map(|q| q.attributes.get("KmsMasterKeyId"))
        .filter(|k| kms::needs_key_policy(k))
        .collect();
    keys.sort();
    keys.dedup();
    let mut key_policies = vec![];
    for key in keys {
        let cache_key = format!("{account}|{}|{key}", part.clients.region);
        let policy = ctx
            .key_policies
            .get(&cache_key, || async {
                let read = kms::key_policy(&part.clients.kms, key).await;
                let keep = read.cacheable();
                (read, keep)
            })
            .await;
        key_policies.push((key.clone(), policy));
    }
    Evidence {
        organization,
        key_policies,
    }
}

/// Removes one recorded resource with clients for the account and region it was recorded
/// in (not today's spec's).
pub(in crate::controller) async fn remove_recorded(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    owner: &Owner,
    local: &Clients,
    entry: &OwnedResource,
    admitted: Option<&Admission>,
) -> Result<Removal, Error> {
    let clients = io_record::clients_for(obj, ctx, local, entry, admitted).await?;
    let removal = crate::aws::remove::remove(
        &clients,
        entry,
        owner,
        Some(ctx.settings.snapshot_max_age()),
    )
    .await?;
    info!(what = %entry.describe(), ?removal, "removed a recorded resource");
    Ok(removal)
}

#[cfg(test)]
mod tests {
    //! The pass's branches against an in-memory account (`aws::fake`): what is written, in
    //! which order, and where a pass stops when someone else writes at the same moment.

    use super::super::observe::{observe_all, Observation, Reads, HEARD_OF_A_CHANGE};
    use super::*;
    use crate::aws::fake::{FakeAccount, ACCOUNT, REGION};
    use crate::plan::{Guardrails, Plan};

    fn owner() -> Owner {
        Owner {
            cluster: "cluster-1".into(),
            namespace: "team-a".into(),
            name: "orders".into(),
            uid: "uid-1".into(),
        }
    }

    /// A rule starting a state machine through a role the controller creates.
    fn planned() -> Plan {
        let spec = serde_json::from_value(serde_json::json!({
            "rule": {"eventPattern": {"source": ["orders"]}},
            "target": {"stepFunctions": {"stateMachineArn":
                format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:orders")}}
        }))
        .unwrap();
        let facts = Facts::new(ACCOUNT.parse().unwrap(), REGION.parse().unwrap());
        crate::plan::plan(&spec, &owner(), &facts, &Guardrails::default()).unwrap()
    }

    /// Observes and diffs the plan's one part, as a pass that reads directly does.
    async fn observed_part(account: &FakeAccount, plan: &Plan) -> Part {
        let clients = account.clients();
        let seen = observe_all(
            &clients,
            &plan.local,
            &TaskDefinitions::default(),
            &owner(),
            Reads::Direct,
        )
        .await
        .unwrap();
        let changes = diff::diff(&plan.local, &seen.observed, &owner(), Adoption::default())
            .unwrap_or_else(|n| panic!("not owned: {n}"));
        Part {
            side: Side::Local,
            clients,
            desired: plan.local.clone(),
            observed: seen.observed,
            changes,
        }
    }

    /// Applies the part's changes; a failure fails the test.
    async fn applied(part: &Part) {
        if let Err(f) = apply_changes(part, &owner(), &mut vec![]).await {
            panic!("{}", f);
        }
    }

    /// The name of the role the plan creates.
    fn role_name(plan: &Plan) -> String {
        let arn = plan.local.role.arn().unwrap();
        arn.rsplit('/').next().unwrap().to_string()
    }

    fn position(writes: &[String], prefix: &str) -> usize {
        writes
            .iter()
            .position(|w| w.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} in {writes:?}"))
    }

    #[tokio::test]
    async fn an_empty_account_gets_the_role_before_the_target_that_names_it_and_the_next_pass_writes_nothing(
    ) {
        let account = FakeAccount::default();
        let plan = planned();
        let part = observed_part(&account, &plan).await;
        assert!(!part.changes.is_empty());
        applied(&part).await;
        let writes = account.writes();
        let targets = position(&writes, "events:PutTargets");
        assert!(position(&writes, "iam:CreateRole") < targets, "{writes:?}");
        assert!(
            position(&writes, "iam:PutRolePolicy") < targets,
            "{writes:?}"
        );
        assert!(position(&writes, "events:PutRule") < targets, "{writes:?}");
        // In sync: the next pass reads, finds nothing to change and writes nothing.
        let again = observed_part(&account, &plan).await;
        assert_eq!(again.changes, vec![]);
        applied(&again).await;
        assert_eq!(account.writes(), writes);
    }

    /// Snapshots only confirm: a pass that used one (the rule, from the account's list) and
    /// sees a change (the target removed by hand) reads the rule itself again before it
    /// writes, so no write follows from a read up to `max_age` old.
    #[tokio::test]
    async fn a_change_seen_beside_a_snapshot_is_read_again_directly_before_any_write() {
        let account = FakeAccount::default();
        let plan = planned();
        let part = observed_part(&account, &plan).await;
        applied(&part).await;
        let rule = plan.local.rule().name.clone();
        let recorded = record::AlreadyRecorded {
            rule: true,
            role: true,
            ..Default::default()
        };
        let (us, no_task_definitions) = (owner(), TaskDefinitions::default());
        let observe = |recorded: record::AlreadyRecorded| {
            heard_nothing(observe_and_diff(
                Duration::from_secs(60),
                &us,
                &part.clients,
                &plan.local,
                &no_task_definitions,
                recorded,
                Adoption::default(),
            ))
        };
        // In sync, the account's list confirms the rule: it is not read itself.
        account.state().rule_reads.clear();
        let (seen, changes) = observe(recorded.clone()).await;
        assert_eq!(changes, vec![]);
        assert!(seen.from_snapshots);
        assert_eq!(account.state().rule_reads, ["events:ListRules".to_string()]);
        // The target removed by hand; the kept list (younger than its age) serves again.
        account
            .state()
            .rules
            .get_mut(&rule)
            .unwrap()
            .targets
            .clear();
        account.state().rule_reads.clear();
        let (seen, changes) = observe(recorded).await;
        assert!(changes == [Change::PutTarget], "{changes:?}");
        assert!(
            !seen.from_snapshots,
            "what is written follows from direct reads"
        );
        assert_eq!(
            account.state().rule_reads,
            [format!("events:DescribeRule {rule}")],
            "the kept list confirmed the rule, then the change sent the pass to the rule itself"
        );
    }

    /// Converged, then removed from the record as clean-up does: what proves ours goes,
    /// what another owner holds now stays, and a role that carries a policy of someone
    /// else's is released (our policy and tags off), not deleted.
    #[tokio::test]
    async fn clean_up_removes_from_the_record_only_what_proves_ours() {
        let account = FakeAccount::default();
        let plan = planned();
        let part = observed_part(&account, &plan).await;
        applied(&part).await;
        let record = record::inventory(&plan, None);
        let remove = |entry: &OwnedResource| {
            let clients = part.clients.clone();
            let entry = entry.clone();
            async move { crate::aws::remove::remove(&clients, &entry, &owner(), None).await }
        };
        let rule = record.iter().find(|e| e.kind == OwnedKind::Rule).unwrap();
        let role = record.iter().find(|e| e.kind == OwnedKind::Role).unwrap();

        // The role now carries someone else's policy too: released, not deleted.
        account
            .state()
            .roles
            .get_mut(&role.name)
            .unwrap()
            .inline
            .insert("audit".into(), "{}".into());
        let released = remove(role).await.unwrap();
        assert!(matches!(released, Removal::Released(_)), "{released:?}");
        {
            let state = account.state();
            let left = &state.roles[&role.name];
            assert_eq!(left.inline.keys().collect::<Vec<_>>(), ["audit"]);
            assert!(owner().claim(&left.tags) != Claim::Ours, "{:?}", left.tags);
        }

        // The rule, tagged for another owner since: left untouched.
        let theirs = Owner {
            uid: "uid-2".into(),
            ..owner()
        };
        account.state().rules.get_mut(&rule.name).unwrap().tags = theirs.tags();
        let kept = remove(rule).await.unwrap();
        assert!(matches!(kept, Removal::NotOurs(_)), "{kept:?}");
        assert!(account.state().rules.contains_key(&rule.name));

        // Ours again: deleted; a second removal finds it gone.
        account.state().rules.get_mut(&rule.name).unwrap().tags = owner().tags();
        assert_eq!(remove(rule).await.unwrap(), Removal::Removed);
        assert!(!account.state().rules.contains_key(&rule.name));
        assert_eq!(remove(rule).await.unwrap(), Removal::Gone);
    }

    /// A pass not re-queued by an event: snapshots may serve.
    async fn heard_nothing(
        work: impl std::future::Future<Output = Result<(Observation, Vec<Change>), Error>>,
    ) -> (Observation, Vec<Change>) {
        match HEARD_OF_A_CHANGE.scope(false, work).await {
            Ok(out) => out,
            Err(f) => panic!("{}", f),
        }
    }

    #[tokio::test]
    async fn a_rule_another_object_claims_at_the_same_moment_stops_the_pass_before_its_target() {
        let account = FakeAccount::default();
        let plan = planned();
        let part = observed_part(&account, &plan).await;
        let theirs = Owner {
            uid: "uid-2".into(),
            name: "other".into(),
            ..owner()
        };
        account.state().rule_claimed_meanwhile = Some(theirs.tags());
        match apply_changes(&part, &owner(), &mut vec![]).await {
            Err(Error::NotOwned(n)) => {
                assert_eq!(n.kind, "EventBridge rule");
                assert!(
                    n.found.contains("claimed this name at the same moment"),
                    "{n}"
                );
            }
            Err(other) => panic!("expected NotOwned, got {}", other),
            Ok(()) => panic!("expected NotOwned"),
        }
        let writes = account.writes();
        assert!(writes.iter().any(|w| w.starts_with("events:PutRule")));
        assert!(
            !writes.iter().any(|w| w.starts_with("events:PutTargets")),
            "nothing is written to a rule someone else holds: {writes:?}"
        );
    }

    #[tokio::test]
    async fn owner_tags_that_never_show_are_a_transient_failure_not_a_claim() {
        let account = FakeAccount::default();
        let plan = planned();
        let part = observed_part(&account, &plan).await;
        account.state().rule_claimed_meanwhile = Some(Default::default());
        match apply_changes(&part, &owner(), &mut vec![]).await {
            Err(Error::Aws(e)) => {
                assert_eq!(
                    (e.code.as_str(), e.kind),
                    ("OwnerTagsNotVisible", crate::aws::ErrorKind::Transient)
                );
            }
            Err(other) => panic!("expected a transient error, got {}", other),
            Ok(()) => panic!("expected a transient error"),
        }
        assert!(!account
            .writes()
            .iter()
            .any(|w| w.starts_with("events:PutTargets")));
    }

    /// The record kept in memory; each write of it joins the account's write log, so the
    /// test sees it in order with AWS's writes. `refused`: the API server refuses it.
    struct LoggedRecord {
        keeper: RecordKeeper,
        account: FakeAccount,
        refused: bool,
    }

    impl LoggedRecord {
        fn new(account: &FakeAccount) -> LoggedRecord {
            LoggedRecord {
                keeper: RecordKeeper::empty(),
                account: account.clone(),
                refused: false,
            }
        }
    }

    impl Record for LoggedRecord {
        async fn extend(&mut self, wanted: &[OwnedResource]) -> Result<(), Error> {
            if !self.keeper.grow(wanted) {
                return Ok(());
            }
            if self.refused {
                let status =
                    kube::core::Status::failure("etcdserver: request timed out", "Timeout")
                        .with_code(504);
                return Err(Error::Kube(kube::Error::Api(Box::new(status))));
            }
            let what: Vec<String> = self.keeper.entries().iter().map(|e| e.describe()).collect();
            self.account
                .state()
                .writes
                .push(format!("record {}", what.join("; ")));
            self.keeper.mark_written();
            Ok(())
        }
        fn keeper(&mut self) -> &mut RecordKeeper {
            &mut self.keeper
        }
    }

    /// The write half as `converge` runs it, on the plan's one part.
    async fn write_half(
        account: &FakeAccount,
        plan: &Plan,
        record: &mut LoggedRecord,
        optimistic: bool,
    ) -> Result<Part, Error> {
        let mut parts = [observed_part(account, plan).await];
        let mut wanted = record::inventory(plan, None);
        record_then_write(
            &mut parts,
            vec![(optimistic, Adoption::default())],
            &mut wanted,
            record,
            &TaskDefinitions::default(),
            &owner(),
        )
        .await?;
        let [part] = parts;
        Ok(part)
    }

    #[tokio::test]
    async fn the_record_names_the_rule_and_role_before_aws_is_written_and_a_pass_in_sync_writes_neither(
    ) {
        let account = FakeAccount::default();
        let plan = planned();
        let mut record = LoggedRecord::new(&account);
        if let Err(f) = write_half(&account, &plan, &mut record, true).await {
            panic!("{f}");
        }
        let writes = account.writes();
        assert!(writes[0].starts_with("record "), "{writes:?}");
        assert!(
            writes[0].contains(&role_name(&plan)) && writes[0].contains(&plan.local.rule().name),
            "the first write records the role and the rule: {writes:?}"
        );
        assert_eq!(
            writes.iter().filter(|w| w.starts_with("record ")).count(),
            1
        );
        assert!(position(&writes, "iam:CreateRole") > 0 && position(&writes, "events:PutRule") > 0);
        // The next pass finds everything recorded and in sync: no write of either kind.
        if let Err(f) = write_half(&account, &plan, &mut record, true).await {
            panic!("{f}");
        }
        assert_eq!(account.writes(), writes);
    }

    #[tokio::test]
    async fn a_record_the_api_server_refuses_stops_the_pass_before_any_aws_write() {
        let account = FakeAccount::default();
        let plan = planned();
        let mut record = LoggedRecord {
            refused: true,
            ..LoggedRecord::new(&account)
        };
        match write_half(&account, &plan, &mut record, true).await {
            Err(Error::Kube(kube::Error::Api(status))) => assert_eq!(status.code, 504),
            Err(other) => panic!("expected the API server's refusal, got {other}"),
            Ok(_) => panic!("a pass whose record was not written must not write to AWS"),
        }
        assert_eq!(account.writes(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_role_name_taken_meanwhile_by_someone_else_leaves_the_record_and_nothing_is_written()
    {
        let account = FakeAccount::default();
        let plan = planned();
        let role = role_name(&plan);
        account.state().role_created_meanwhile = Some((role.clone(), Default::default()));
        let mut record = LoggedRecord::new(&account);
        match write_half(&account, &plan, &mut record, true).await {
            Err(Error::NotOwned(n)) => assert_eq!(n.kind, "IAM role"),
            Err(other) => panic!("expected NotOwned, got {other}"),
            Ok(_) => panic!("an untagged role of someone else's must not be taken"),
        }
        // Recorded before the attempt, as every write is; gone from the record once it
        // proved someone else's, so clean-up can never delete it.
        assert!(
            account.writes()[0].contains(&role),
            "{:?}",
            account.writes()
        );
        assert!(
            record
                .keeper
                .entries()
                .iter()
                .all(|e| e.kind != OwnedKind::Role),
            "{:?}",
            record.keeper.entries()
        );
        assert!(
            account.writes().iter().all(|w| w.starts_with("record ")),
            "nothing of the part was written to AWS: {:?}",
            account.writes()
        );
    }

    #[tokio::test]
    async fn a_role_name_taken_meanwhile_by_another_pass_of_the_same_object_is_finished_in_the_same_pass(
    ) {
        let account = FakeAccount::default();
        let plan = planned();
        account.state().role_created_meanwhile = Some((role_name(&plan), owner().tags()));
        let mut record = LoggedRecord::new(&account);
        if let Err(f) = write_half(&account, &plan, &mut record, true).await {
            panic!("{f}");
        }
        let writes = account.writes();
        let targets = position(&writes, "events:PutTargets");
        assert!(
            position(&writes, "iam:UpdateAssumeRolePolicy") < targets,
            "{writes:?}"
        );
        assert!(
            position(&writes, "iam:PutRolePolicy") < targets,
            "{writes:?}"
        );
        assert!(
            record
                .keeper
                .entries()
                .iter()
                .any(|e| e.kind == OwnedKind::Role),
            "ours: it stays recorded"
        );
        assert_eq!(observed_part(&account, &plan).await.changes, vec![]);
    }
}
