//! `spec.targets`: up to five targets on one rule. Each target is planned as the one target
//! of a spec of its own (its view: the same rule, role and options), and the views' plans are
//! merged into one part: one rule, one role holding every target's statements, the targets,
//! and each target's grant. What a view says is wrong is said of its entry
//! (`spec.targets[i]…`).
//!
//! With `crossAccount`, every entry is in the target account and the list takes one mode:
//! DirectDelivery merges the execution role here and the grants there; EventBusForwarding
//! keeps one forwarding rule here (its one target, the bus, none of the entries') and merges
//! the rule, role and grants there. Several ECS tasks share the role: each entry's RunTask
//! and PassRole statements are its own, numbered by position. Several API
//! destinations each take the entry's name (the rule's and the id), so each has its own
//! destination, connection and statement.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::validate::{bad, SpecError};
use super::{
    names, plan, DesiredRole, Facts, Guardrails, Owner, Plan, PlanError, QueuePurpose, ValidTarget,
};
use crate::api::{CrossAccountMode, EventBridgeIntegrationSpec};

/// The spec of one entry: the list's rule and options, that entry as its target, and the
/// role only for a kind invoked through one (a function, queue, topic or log group ignores
/// it, as a single target of that kind refuses it).
pub fn views(spec: &EventBridgeIntegrationSpec) -> Vec<(String, EventBridgeIntegrationSpec)> {
    spec.target_entries()
        .into_iter()
        .map(|(field, entry)| {
            let role_used = ValidTarget::of(entry).is_none_or(|t| t.needs_role());
            let view = EventBridgeIntegrationSpec {
                target: entry.clone(),
                targets: None,
                role: spec.role.clone().filter(|_| role_used),
                ..spec.clone()
            };
            (field, view)
        })
        .collect()
}

/// Said of `spec.target…` in a view, said of the entry `field` of the list.
pub fn of_entry(field: &str, e: SpecError) -> SpecError {
    match e.field.strip_prefix("spec.target") {
        Some(rest) => SpecError {
            field: format!("{field}{rest}"),
            message: e.message,
        },
        None => e,
    }
}

/// What the list itself must be, beyond each entry: what CEL also refuses, so a cluster
/// without CEL (before 1.25) refuses it too.
fn check_list(
    spec: &EventBridgeIntegrationSpec,
    list: &[crate::api::TargetSpec],
) -> Result<(), SpecError> {
    if !spec.target.is_unset() {
        return Err(bad(
            "spec.targets",
            "set exactly one of spec.target (one target) and spec.targets (up to five)",
        ));
    }
    if spec.schedule.is_some() {
        return Err(bad(
            "spec.targets",
            "a schedule invokes one target: use spec.target",
        ));
    }
    if list.is_empty() || list.len() > 5 {
        return Err(bad(
            "spec.targets",
            format!("holds {} targets; a rule takes 1 to 5", list.len()),
        ));
    }
    let mut ids = BTreeSet::new();
    for (i, t) in list.iter().enumerate() {
        let Some(id) = &t.id else {
            return Err(bad(
                &format!("spec.targets[{i}].id"),
                "required in a list: give each target an id, unique on the rule",
            ));
        };
        if !ids.insert(id.as_str()) {
            return Err(bad(
                &format!("spec.targets[{i}].id"),
                format!("`{id}` is the id of an earlier target; ids are unique on the rule"),
            ));
        }
    }
    let kinds: Vec<Option<ValidTarget>> = list.iter().map(ValidTarget::of).collect();
    if spec.role.is_some() && kinds.iter().flatten().all(|t| !t.needs_role()) {
        return Err(bad("spec.role", "none of spec.targets is invoked through a role (Lambda, SQS, SNS and log groups are granted by their own policies); remove spec.role"));
    }
    Ok(())
}

/// The id of the forwarding rule's one target (the target account's bus) in a list: every
/// entry forwards the same way, so it is none of theirs.
pub const FORWARDING_TARGET_ID: &str = "to-target-account";

/// The plan of a spec with `targets`: each entry's, merged.
pub fn plan_list(
    spec: &EventBridgeIntegrationSpec,
    list: &[crate::api::TargetSpec],
    owner: &Owner,
    facts: &Facts,
    guard: &Guardrails,
) -> Result<Plan, PlanError> {
    check_list(spec, list)?;
    let views = views(spec);
    check_one_mode(&views)?;
    let mut merged: Option<Plan> = None;
    let mut statements: Vec<Value> = vec![];
    let mut seen_resources = BTreeSet::new();
    for (i, (field, view)) in views.into_iter().enumerate() {
        let mut part = plan(&view, owner, facts, guard).map_err(|e| match e {
            PlanError::InvalidSpec(e) => PlanError::InvalidSpec(of_entry(&field, e)),
            other => other,
        })?;
        let id = view.target.id.clone().unwrap_or_default();
        let local_rule = part.local.rule.clone();
        let forwarding = part.mode == Some(CrossAccountMode::EventBusForwarding);
        let workload = match (forwarding, part.remote.as_mut()) {
            (true, Some(remote)) => remote,
            _ => &mut part.local,
        };
        super::api_destination::name_for_entry(workload, &id);
        if let Some(resource) = workload.targets.first().map(resource_of) {
            if !seen_resources.insert(resource.clone()) {
                return Err(PlanError::InvalidSpec(bad(
                    &field,
                    format!(
                        "targets {resource} as an earlier target does: one target per resource"
                    ),
                )));
            }
        }
        // The role invoking the workload holds every entry's statements, numbered by the
        // entry's position (IAM wants Sids unique in a policy).
        if let DesiredRole::Managed(m) = &workload.role {
            statements.extend(numbered(&m.policy, i + 1));
        }
        for d in std::iter::once(&mut part.local).chain(part.remote.as_mut()) {
            let rule = d.rule.clone().or_else(|| local_rule.clone());
            if let Some(rule) = rule {
                name_statements_for_entry(d, &rule, &id, owner);
            }
        }
        merged = Some(match merged.take() {
            None => part,
            Some(mut into) => {
                merge(&mut into, part);
                into
            }
        });
    }
    let mut plan = merged.ok_or_else(|| {
        PlanError::InvalidSpec(bad("spec.targets", "holds no target; a rule takes 1 to 5"))
    })?;
    let forwarding = plan.mode == Some(CrossAccountMode::EventBusForwarding);
    if forwarding {
        for t in &mut plan.local.targets {
            t.id = FORWARDING_TARGET_ID.to_string();
        }
    }
    let workload = match (forwarding, plan.remote.as_mut()) {
        (true, Some(remote)) => remote,
        _ => &mut plan.local,
    };
    if let DesiredRole::Managed(m) = &mut workload.role {
        m.policy = json!({"Version": "2012-10-17", "Statement": statements});
    }
    Ok(plan)
}

/// What "one target per resource" compares: the target's ARN, and for ECS (whose ARN is the
/// cluster's, which two tasks may share) the task definition with it.
fn resource_of(target: &super::TargetShape) -> String {
    match target.parameters.ecs() {
        Some(e) => format!(
            "{} with task definition {}",
            target.arn, e.task_definition_arn
        ),
        None => target.arn.clone(),
    }
}

/// The target's own statements (function, queue, topic, log group; in either account) under
/// an id of the entry's: two entries may name one function's version and its alias, or
/// share a policy. A dead-letter statement is the rule's, shared by the entries that name
/// the queue.
fn name_statements_for_entry(
    d: &mut super::Desired,
    rule: &super::DesiredRule,
    id: &str,
    owner: &Owner,
) {
    let statement_id =
        names::owned_statement_id(&rule.name, &format!("{}#target/{id}", rule.arn), &owner.uid);
    for p in &mut d.permissions {
        p.statement_id = statement_id.clone();
    }
    for q in d
        .queue_permissions
        .iter_mut()
        .filter(|q| q.purpose != QueuePurpose::DeadLetter)
    {
        q.statement_id = statement_id.clone();
        q.statement["Sid"] = json!(statement_id);
    }
}

/// With `crossAccount`, one mode for the whole list: its default is by kind (DirectDelivery
/// for a function, queue, topic or stream; EventBusForwarding for the rest), and a list
/// mixing both is one rule that cannot do both.
fn check_one_mode(views: &[(String, EventBridgeIntegrationSpec)]) -> Result<(), SpecError> {
    let direct = |m: CrossAccountMode| m.is_direct();
    let mut modes = views
        .iter()
        .filter_map(|(field, v)| Some((field, super::cross_account_mode(v)?)));
    let Some((first_field, first)) = modes.next() else {
        return Ok(());
    };
    match modes.find(|(_, m)| direct(*m) != direct(first)) {
        None => Ok(()),
        Some((field, other)) => Err(bad(
            "spec.crossAccount.mode",
            format!(
                "{first_field} is delivered by {first:?} and {field} by {other:?} by default, and one rule does one: split the list (a queue, topic or stream of another account is delivered to directly only; a function may also be forwarded, with mode EventBusForwarding)"
            ),
        )),
    }
}

/// `policy`'s statements, each Sid suffixed with `n` (IAM wants Sids unique in a policy).
fn numbered(policy: &Value, n: usize) -> Vec<Value> {
    policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let mut s = s.clone();
            if let Some(sid) = s["Sid"].as_str() {
                s["Sid"] = json!(format!("{sid}{n}"));
            }
            s
        })
        .collect()
}

/// `part`'s targets and grants join `into`'s, account by account (the same rules, the same
/// role names).
fn merge(into: &mut Plan, part: Plan) {
    merge_part(&mut into.local, part.local);
    if let (Some(to), Some(d)) = (into.remote.as_mut(), part.remote) {
        merge_part(to, d);
    }
}

fn merge_part(to: &mut super::Desired, d: super::Desired) {
    // Every entry forwards to the same bus with the same role: the first's stands for all.
    if d.kind == super::PartKind::ForwardingRule {
        return;
    }
    to.targets.extend(d.targets);
    to.permissions.extend(d.permissions);
    to.api_destinations.extend(d.api_destinations);
    for q in d.queue_permissions {
        if !to
            .queue_permissions
            .iter()
            .any(|p| p.queue_arn == q.queue_arn && p.statement_id == q.statement_id)
        {
            to.queue_permissions.push(q);
        }
    }
    if to.bus_permission.is_none() {
        to.bus_permission = d.bus_permission;
    }
    if matches!(to.role, DesiredRole::NotNeeded) {
        to.role = d.role;
    }
}
