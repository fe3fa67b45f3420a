//! The ownership record, pure: which AWS resources a plan will create (their full identity),
//! and, against what an object's status recorded, which recorded ones are no longer wanted.
//!
//! The record is written to status before the first write to AWS and is the only source of
//! truth for removal, so a change of region, bus, name, path or account, a pass that failed
//! halfway or a retry can never orphan a resource, or remove one that the current spec
//! still uses.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::status::Restore;
use crate::api::{
    CrossAccountMode, EventBridgeIntegrationSpec, EventBridgeIntegrationStatus, OwnedKind,
    OwnedResource, TargetKind,
};
use crate::iam::documents::document_text;
use crate::iam::{Arn, RuleArn};

use super::diff::Observed;
use super::{names, Claim, Desired, DesiredRole, Owner, Plan, Side, POLICY_NAME};

/// Everything `plan` makes the controller own, in removal order (see [`removal_order`]).
/// `via_role_arn`: the role the controller assumes to reach the remote account.
pub fn inventory(plan: &Plan, via_role_arn: Option<&str>) -> Vec<OwnedResource> {
    let mut out = Vec::new();
    for (side, desired) in plan.parts() {
        let via = (side == Side::Remote)
            .then(|| via_role_arn.map(str::to_string))
            .flatten();
        out.extend(part_inventory(desired, via));
    }
    out.sort_by_key(removal_order);
    out
}

fn part_inventory(d: &Desired, via: Option<String>) -> Vec<OwnedResource> {
    let entry = |kind, arn: &str, name: &str, region: Option<&str>| OwnedResource {
        kind,
        partition: partition_of(arn),
        account_id: d.account_id.to_string(),
        region: region.map(str::to_string),
        arn: arn.to_string(),
        name: name.to_string(),
        event_bus_name: None,
        qualifier: None,
        statement_id: None,
        proof: None,
        via_role_arn: via.clone(),
        restore: None,
        left_behind: None,
        policy_written_at: None,
    };
    let mut out = Vec::new();
    if let Some(s) = &d.schedule {
        out.push(entry(OwnedKind::Schedule, &s.arn, &s.name, Some(&d.region)));
    }
    if let Some(rule) = &d.rule {
        out.push(OwnedResource {
            event_bus_name: Some(rule.event_bus_name.clone()),
            ..entry(OwnedKind::Rule, &rule.arn, &rule.name, Some(&d.region))
        });
    }
    for p in &d.permissions {
        out.push(OwnedResource {
            qualifier: p.function_arn.qualifier().map(str::to_string),
            statement_id: Some(p.statement_id.clone()),
            // events.amazonaws.com grants are proven by their SourceArn, RoleChain's by the
            // principal role.
            proof: Some(p.source_arn.clone().unwrap_or_else(|| p.principal.clone())),
            ..entry(
                OwnedKind::LambdaPermission,
                &p.function_arn,
                p.function_arn.unqualified(),
                Some(&d.region),
            )
        });
    }
    if let Some(b) = &d.bus_permission {
        out.push(OwnedResource {
            statement_id: Some(b.statement_id.clone()),
            proof: Some(b.principal_role_arn.to_string()),
            ..entry(
                OwnedKind::BusPermission,
                &b.event_bus_arn,
                &b.event_bus_name,
                Some(&d.region),
            )
        });
    }
    for q in &d.queue_permissions {
        out.push(OwnedResource {
            statement_id: Some(q.statement_id.clone()),
            proof: Some(q.proof.clone()),
            ..entry(
                OwnedKind::QueuePermission,
                &q.queue_arn,
                &q.queue_name,
                Some(&d.region),
            )
        });
    }
    for a in &d.api_destinations {
        out.push(entry(
            OwnedKind::ApiDestination,
            &a.arn,
            &a.name,
            Some(&d.region),
        ));
        out.push(entry(
            OwnedKind::Connection,
            &a.connection.arn,
            &a.name,
            Some(&d.region),
        ));
    }
    if let DesiredRole::Managed(m) = &d.role {
        out.push(entry(OwnedKind::Role, &m.arn, &m.name, None));
    }
    out
}

/// Which of a part's resources the record held before this pass. A recorded resource was
/// created (or proven ours) by an earlier pass, so a shared bulk read may confirm it is in
/// sync; a managed role not yet recorded is created without looking first (IAM refuses a
/// duplicate name, and that refusal is the read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlreadyRecorded {
    pub rule: bool,
    pub role: bool,
    pub permission: bool,
    /// Every statement of ours in a queue policy is recorded.
    pub queue: bool,
    /// The names of the API destinations recorded with their connections.
    pub api_destinations: BTreeSet<String>,
}

pub fn already_recorded(
    recorded: &[OwnedResource],
    desired: &Desired,
    via_role_arn: Option<&str>,
) -> AlreadyRecorded {
    let mut out = AlreadyRecorded::default();
    let mut queue_statements = (0, 0); // (wanted, recorded)
    let mut permissions = (0, 0); // (wanted, recorded)
    let mut api_destination_parts: BTreeMap<String, usize> = BTreeMap::new();
    for wanted in part_inventory(desired, via_role_arn.map(str::to_string)) {
        let is_recorded = recorded.iter().any(|r| r.same_as(&wanted));
        if wanted.kind == OwnedKind::QueuePermission {
            queue_statements.0 += 1;
            queue_statements.1 += usize::from(is_recorded);
        }
        if wanted.kind == OwnedKind::LambdaPermission {
            permissions.0 += 1;
            permissions.1 += usize::from(is_recorded);
        }
        if !is_recorded {
            continue;
        }
        match wanted.kind {
            OwnedKind::Rule => out.rule = true,
            OwnedKind::Role => out.role = true,
            OwnedKind::LambdaPermission => {}
            OwnedKind::ApiDestination | OwnedKind::Connection => {
                *api_destination_parts
                    .entry(wanted.name.clone())
                    .or_default() += 1;
            }
            OwnedKind::QueuePermission | OwnedKind::BusPermission | OwnedKind::Schedule => {}
        }
    }
    out.api_destinations = api_destination_parts
        .into_iter()
        .filter(|(_, parts)| *parts == 2)
        .map(|(name, _)| name)
        .collect();
    // Every function's permission is recorded: each is confirmed from the shared snapshots.
    out.permission = permissions.0 > 0 && permissions.0 == permissions.1;
    out.queue = queue_statements.0 > 0 && queue_statements.0 == queue_statements.1;
    out
}

/// Rules and schedules go first (nothing invokes through a statement or role after its rule
/// is gone),
/// statements next, then an API destination before its connection, roles last.
pub fn removal_order(r: &OwnedResource) -> u8 {
    match r.kind {
        OwnedKind::Rule | OwnedKind::Schedule => 0,
        OwnedKind::LambdaPermission => 1,
        OwnedKind::BusPermission => 2,
        OwnedKind::QueuePermission => 3,
        OwnedKind::ApiDestination => 4,
        OwnedKind::Connection => 5,
        OwnedKind::Role => 6,
    }
}

/// The record to write before applying `wanted`: what was recorded, plus what is about to
/// be created or adopted (an entry recorded without what an adoption will change gets it).
/// `None` when the record already holds all of it (no status write needed).
pub fn before_writes(
    recorded: &[OwnedResource],
    wanted: &[OwnedResource],
) -> Option<Vec<OwnedResource>> {
    let mut all: Vec<OwnedResource> = recorded.to_vec();
    let mut grew = false;
    for w in wanted {
        match all.iter_mut().find(|r| r.same_as(w)) {
            Some(r) if r.restore.is_none() && w.restore.is_some() => {
                r.restore = w.restore.clone();
                r.left_behind = None;
                grew = true;
            }
            // Wanted again (a move undone) before its removal succeeded: in use, not left.
            Some(r) if r.left_behind.is_some() => {
                r.left_behind = None;
                grew = true;
            }
            Some(_) => {}
            None => {
                all.push(w.clone());
                grew = true;
            }
        }
    }
    if !grew {
        return None;
    }
    all.sort_by_key(removal_order);
    Some(all)
}

/// Notes on `wanted` what the pass is about to change on a resource it adopts (one that
/// exists with no owner tag): its settings before adoption, restored when it is released.
/// A resource tagged for this owner, or for an earlier object of its name, is no adoption.
pub fn note_adoptions(
    wanted: &mut [OwnedResource],
    desired: &Desired,
    observed: &Observed,
    owner: &Owner,
) {
    let untagged = |tags| owner.claim(tags) == Claim::Untagged;
    if let (Some(want), Some(rule)) = (&desired.rule, &observed.rule) {
        if untagged(&rule.tags) {
            let restore = Restore {
                event_pattern: rule.event_pattern.as_ref().map(|p| p.to_string()),
                schedule_expression: rule.schedule_expression.clone(),
                enabled: Some(rule.enabled),
                description: rule.description.clone(),
                target_ids: desired.targets.iter().map(|t| t.id.clone()).collect(),
                ..Default::default()
            };
            mark(wanted, OwnedKind::Rule, &want.arn, restore);
        }
    }
    if let (DesiredRole::Managed(m), Some(role)) = (&desired.role, &observed.role) {
        if untagged(&role.tags) && role.arn == m.arn {
            let restore = Restore {
                trust_policy: Some(document_text(&role.trust_policy)),
                permissions_boundary_arn: role
                    .permissions_boundary
                    .as_ref()
                    .map(|(a, _)| a.clone()),
                inline_policy: role.inline_policies.get(POLICY_NAME).map(document_text),
                ..Default::default()
            };
            mark(wanted, OwnedKind::Role, &m.arn, restore);
        }
    }
}

fn mark(wanted: &mut [OwnedResource], kind: OwnedKind, arn: &str, restore: Restore) {
    for w in wanted.iter_mut().filter(|w| w.kind == kind && w.arn == arn) {
        w.restore = Some(restore.clone());
    }
}

/// The record after a pass brought every part in line with the plan: each wanted entry's
/// proof (what its statement grants to: a renamed RoleChain source role) and way in (a
/// rotated provisioning role) are now what is live, so clean-up and the orphan report prove
/// and reach it as it is. Only entries whose resources exist as planned are refreshed;
/// `None` when nothing changed.
pub fn refreshed(
    recorded: &[OwnedResource],
    wanted: &[OwnedResource],
) -> Option<Vec<OwnedResource>> {
    let mut out = recorded.to_vec();
    let mut changed = false;
    for r in out.iter_mut() {
        let Some(w) = wanted.iter().find(|w| w.same_as(r)) else {
            continue;
        };
        if r.proof != w.proof || r.via_role_arn != w.via_role_arn {
            r.proof = w.proof.clone();
            r.via_role_arn = w.via_role_arn.clone();
            changed = true;
        }
    }
    changed.then_some(out)
}

/// What the record says this object's statements grant to (their proofs).
pub fn statement_proofs(recorded: &[OwnedResource]) -> Vec<String> {
    recorded
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                OwnedKind::LambdaPermission | OwnedKind::QueuePermission | OwnedKind::BusPermission
            )
        })
        .filter_map(|r| r.proof.clone())
        .collect()
}

/// Entries that are `rule` or exist only for it: the statements that grant to it (their
/// proof is its ARN). What a pass drops from its record when the rule turns out to be
/// someone else's.
pub fn of_rule(recorded: &[OwnedResource], rule_arn: &str) -> Vec<OwnedResource> {
    recorded
        .iter()
        .filter(|r| {
            (r.kind == OwnedKind::Rule && r.arn == rule_arn)
                || (r.kind != OwnedKind::Role && r.proof.as_deref() == Some(rule_arn))
        })
        .cloned()
        .collect()
}

/// Recorded resources the current plan no longer wants: moved or renamed ones, in removal
/// order. Removed only after the wanted ones exist, so nothing is left pointing at nothing.
pub fn superseded(recorded: &[OwnedResource], wanted: &[OwnedResource]) -> Vec<OwnedResource> {
    let mut out: Vec<OwnedResource> = recorded
        .iter()
        .filter(|r| !wanted.iter().any(|w| w.same_as(r)))
        .cloned()
        .collect();
    out.sort_by_key(removal_order);
    out
}

/// What status recorded. An object whose status predates the ownership record gets one
/// rebuilt from its older fields (`ruleArn`, `roleArn`, `targetAccount`, and for Lambda the
/// statement under its old id on the function the spec names), so it is cleaned up and
/// moved like any other. Rebuilt from status and spec alone, without planning: the first
/// pass after an upgrade may fail before it plans (a guardrail, a policy, a dependency), and
/// the record it writes then must already hold the statement. Each entry is still proven
/// (tags; statement id and SourceArn or principal) before anything is removed.
pub fn recorded(
    status: Option<&EventBridgeIntegrationStatus>,
    spec: &EventBridgeIntegrationSpec,
    via_role_arn: Option<&str>,
) -> Vec<OwnedResource> {
    let Some(status) = status else {
        return vec![];
    };
    if let Some(resources) = &status.resources {
        return resources.clone();
    }
    let mut out =
        legacy_rule_and_role(status.rule_arn.as_deref(), status.role_arn.as_deref(), None);
    if let Some(remote) = &status.target_account {
        out.extend(legacy_rule_and_role(
            remote.rule_arn.as_deref(),
            remote.role_arn.as_deref(),
            via_role_arn,
        ));
    }
    out.extend(legacy_statement(status, spec, via_role_arn));
    out.sort_by_key(removal_order);
    out
}

/// The Lambda statement of a status older than the record, under its old id
/// (`ebi-<rule name>`), on the function the spec names: in the rule's account, or in the
/// target account of a cross-account integration (proven there by the forwarded rule's
/// ARN, or for RoleChain by the source role it admits).
fn legacy_statement(
    status: &EventBridgeIntegrationStatus,
    spec: &EventBridgeIntegrationSpec,
    via_role_arn: Option<&str>,
) -> Option<OwnedResource> {
    if status.target_kind.as_deref() != Some(TargetKind::Lambda.as_str()) {
        return None;
    }
    let function_arn = &spec.target.lambda.as_ref()?.function_arn;
    let function = Arn::parse(function_arn).ok()?;
    let rule_name = status.rule_name.as_ref()?;
    let local_rule = status.rule_arn.as_ref()?;
    let remote = status.target_account.as_ref();
    let (proof, via) = match super::cross_account_mode(spec) {
        None => (local_rule.clone(), None),
        Some(CrossAccountMode::EventBusForwarding) => (
            remote.and_then(|r| r.rule_arn.clone())?,
            via_role_arn.map(str::to_string),
        ),
        Some(CrossAccountMode::DirectDelivery | CrossAccountMode::RoleChain) => {
            (status.role_arn.clone()?, via_role_arn.map(str::to_string))
        }
    };
    let (function_name, qualifier) = crate::iam::arn::split_function_arn(function_arn);
    Some(OwnedResource {
        kind: OwnedKind::LambdaPermission,
        partition: function.partition.clone(),
        account_id: function.account.clone(),
        region: Some(function.region.clone()),
        arn: function_arn.clone(),
        name: function_name,
        event_bus_name: None,
        qualifier,
        statement_id: Some(names::legacy_statement_id(rule_name)),
        proof: Some(proof),
        via_role_arn: via,
        restore: None,
        left_behind: None,
        policy_written_at: None,
    })
}

fn legacy_rule_and_role(
    rule_arn: Option<&str>,
    role_arn: Option<&str>,
    via: Option<&str>,
) -> Vec<OwnedResource> {
    let mut out = Vec::new();
    if let Some(rule) = rule_arn.and_then(|a| RuleArn::parse(a).ok()) {
        out.push(OwnedResource {
            kind: OwnedKind::Rule,
            partition: rule.partition().to_string(),
            account_id: rule.account().to_string(),
            region: Some(rule.region().to_string()),
            arn: rule.to_string(),
            name: rule.name().to_string(),
            event_bus_name: Some(rule.bus().to_string()),
            qualifier: None,
            statement_id: None,
            proof: None,
            via_role_arn: via.map(str::to_string),
            restore: None,
            left_behind: None,
            policy_written_at: None,
        });
    }
    if let Some(arn) = role_arn.and_then(|a| Arn::parse(a).ok()) {
        out.push(OwnedResource {
            kind: OwnedKind::Role,
            partition: arn.partition.clone(),
            account_id: arn.account.clone(),
            region: None,
            arn: role_arn.unwrap_or_default().to_string(),
            name: arn.resource_name().to_string(),
            event_bus_name: None,
            qualifier: None,
            statement_id: None,
            proof: None,
            via_role_arn: via.map(str::to_string),
            restore: None,
            left_behind: None,
            policy_written_at: None,
        });
    }
    out
}

fn partition_of(arn: &str) -> String {
    Arn::parse(arn)
        .map(|a| a.partition)
        .unwrap_or_else(|_| "aws".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> EventBridgeIntegrationSpec {
        serde_norway::from_str(yaml).unwrap()
    }

    const RULE: &str = "arn:aws:events:us-east-1:111122223333:rule/r";

    #[test]
    fn a_legacy_lambda_statement_is_recorded_from_status_and_spec_alone() {
        let status = EventBridgeIntegrationStatus {
            rule_arn: Some(RULE.into()),
            rule_name: Some("r".into()),
            target_kind: Some("Lambda".into()),
            ..Default::default()
        };
        let s = spec("rule: {eventPattern: {source: [x]}}\ntarget:\n  lambda: {functionArn: \"arn:aws:lambda:us-east-1:111122223333:function:f:live\"}\n");
        let entries = recorded(Some(&status), &s, None);
        let statement = entries
            .iter()
            .find(|e| e.kind == OwnedKind::LambdaPermission)
            .expect("the old statement");
        assert_eq!(statement.statement_id.as_deref(), Some("ebi-r"));
        assert_eq!(statement.proof.as_deref(), Some(RULE));
        assert_eq!(statement.qualifier.as_deref(), Some("live"));
        assert_eq!(
            statement.name,
            "arn:aws:lambda:us-east-1:111122223333:function:f"
        );
        assert_eq!(statement.account_id, "111122223333");
    }

    #[test]
    fn proofs_and_ways_in_follow_what_is_live() {
        let entry = |proof: &str, via: Option<&str>| OwnedResource {
            kind: OwnedKind::LambdaPermission,
            partition: "aws".into(),
            account_id: "222222222222".into(),
            region: Some("us-east-1".into()),
            arn: "arn:aws:lambda:us-east-1:222222222222:function:f".into(),
            name: "f".into(),
            event_bus_name: None,
            qualifier: None,
            statement_id: Some("ebi-r-1-2".into()),
            proof: Some(proof.into()),
            via_role_arn: via.map(str::to_string),
            restore: None,
            left_behind: None,
            policy_written_at: None,
        };
        let before = vec![entry("arn:role/first", Some("arn:prov-1"))];
        let wanted = vec![entry("arn:role/second", Some("arn:prov-2"))];
        assert_eq!(refreshed(&before, &wanted), Some(wanted.clone()));
        assert_eq!(refreshed(&wanted, &wanted), None);
        // What the plan no longer wants is not touched.
        assert_eq!(refreshed(&before, &[]), None);
    }
}
