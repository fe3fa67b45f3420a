//! `spec.targets`: up to five targets on one rule. Each target is planned as the one target
//! of a spec of its own (its view: the same rule, role and options), and the views' plans are
//! merged into one part: one rule, one role holding every target's statements, the targets,
//! and each target's grant. What a view says is wrong is said of its entry
//! (`spec.targets[i]…`).
//!
//! Not yet: `crossAccount` with a list. Several ECS tasks share the role: each entry's
//! RunTask and PassRole statements are its own, numbered by position. Several API
//! destinations each take the entry's name (the rule's and the id), so each has its own
//! destination, connection and statement.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::validate::{bad, SpecError};
use super::{
    names, plan, DesiredRole, Facts, Guardrails, Owner, Plan, PlanError, QueuePurpose, ValidTarget,
};
use crate::api::EventBridgeIntegrationSpec;

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
    if spec.cross_account.is_some() {
        return Err(bad(
            "spec.crossAccount",
            "not yet with spec.targets; use spec.target for a target in another account",
        ));
    }
    let kinds: Vec<Option<ValidTarget>> = list.iter().map(ValidTarget::of).collect();
    if spec.role.is_some() && kinds.iter().flatten().all(|t| !t.needs_role()) {
        return Err(bad("spec.role", "none of spec.targets is invoked through a role (Lambda, SQS, SNS and log groups are granted by their own policies); remove spec.role"));
    }
    Ok(())
}

/// The plan of a spec with `targets`: each entry's, merged.
pub fn plan_list(
    spec: &EventBridgeIntegrationSpec,
    list: &[crate::api::TargetSpec],
    owner: &Owner,
    facts: &Facts,
    guard: &Guardrails,
) -> Result<Plan, PlanError> {
    check_list(spec, list)?;
    let mut merged: Option<Plan> = None;
    let mut statements: Vec<Value> = vec![];
    let mut seen_resources = BTreeSet::new();
    for (i, (field, view)) in views(spec).into_iter().enumerate() {
        let mut part = plan(&view, owner, facts, guard).map_err(|e| match e {
            PlanError::InvalidSpec(e) => PlanError::InvalidSpec(of_entry(&field, e)),
            other => other,
        })?;
        let d = &mut part.local;
        if let Some(id) = view.target.id.as_deref() {
            super::api_destination::name_for_entry(d, id);
        }
        let Some(target) = d.targets.first() else {
            continue;
        };
        // An ECS target's ARN is its cluster's: two tasks may share one.
        let resource = match target.parameters.ecs() {
            Some(e) => format!(
                "{} with task definition {}",
                target.arn, e.task_definition_arn
            ),
            None => target.arn.clone(),
        };
        if !seen_resources.insert(resource.clone()) {
            return Err(PlanError::InvalidSpec(bad(
                &field,
                format!("targets {resource} as an earlier target does: one target per resource"),
            )));
        }
        // Statement ids unique across the list: the role's by the entry's position, the
        // target's own statement (function, queue, topic, log group) by its id: two
        // entries may name one function's version and its alias, or share a policy.
        if let DesiredRole::Managed(m) = &d.role {
            statements.extend(numbered(&m.policy, i + 1));
        }
        let id = target.id.clone();
        let entry_statement = |rule: &super::DesiredRule| {
            names::owned_statement_id(&rule.name, &format!("{}#target/{id}", rule.arn), &owner.uid)
        };
        if let Some(rule) = d.rule.clone() {
            for p in &mut d.permissions {
                p.statement_id = entry_statement(&rule);
            }
            for q in d
                .queue_permissions
                .iter_mut()
                .filter(|q| q.purpose != QueuePurpose::DeadLetter)
            {
                q.statement_id = entry_statement(&rule);
                q.statement["Sid"] = json!(q.statement_id);
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
    // One role for the rule: the first entry's that takes one, holding every entry's
    // statements.
    if let DesiredRole::Managed(m) = &mut plan.local.role {
        m.policy = json!({"Version": "2012-10-17", "Statement": statements});
    }
    Ok(plan)
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

/// `part`'s target and grants join `into`'s (the same rule, the same role name).
fn merge(into: &mut Plan, part: Plan) {
    let d = part.local;
    let to = &mut into.local;
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
    if matches!(to.role, DesiredRole::NotNeeded) {
        to.role = d.role;
    }
}
