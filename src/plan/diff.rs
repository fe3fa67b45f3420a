//! Desired vs observed → the changes to make, pure. An object already in sync yields no
//! change, so a resync makes zero write calls.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Desired, DesiredRole, Owner, TargetShape, OWNER_TAG, OWNER_UID_TAG};
use crate::diagnose::{self, Snapshot, TaskDefinition};
use crate::iam::{documents_equivalent, PolicyDocument};

/// What the controller found in AWS. Plain data, filled by `aws::observe`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub rule: Option<ObservedRule>,
    pub targets: Vec<TargetShape>,
    /// The role the target uses: the managed one, or the user's own.
    pub role: Option<ObservedRole>,
    /// The function policy document, when the function has one.
    pub lambda_policy: Option<Value>,
    pub task_definition: Option<TaskDefinition>,
    /// EventBusForwarding: the target bus's resource policy.
    pub bus_policy: Option<Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedRule {
    pub name: String,
    pub arn: String,
    pub event_bus_name: String,
    pub enabled: bool,
    pub description: Option<String>,
    pub event_pattern: Option<Value>,
    pub schedule_expression: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservedRole {
    pub arn: String,
    pub name: String,
    pub trust_policy: Value,
    pub tags: BTreeMap<String, String>,
    pub inline_policies: BTreeMap<String, Value>,
    pub attached_policies: BTreeMap<String, Value>,
    pub permissions_boundary: Option<(String, Value)>,
}

impl From<ObservedRole> for diagnose::Role {
    fn from(r: ObservedRole) -> Self {
        diagnose::Role {
            arn: r.arn,
            name: r.name,
            trust_policy: r.trust_policy,
            inline_policies: r.inline_policies,
            attached_policies: r.attached_policies,
            permissions_boundary: r.permissions_boundary,
        }
    }
}

/// One write, in the order they must run.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    CreateRole,
    TagRole,
    UpdateTrustPolicy,
    PutPermissionsBoundary(String),
    DeletePermissionsBoundary,
    PutRolePolicy,
    /// PutRule creates or updates; `created` says which, for events.
    PutRule {
        created: bool,
    },
    TagRule,
    PutTarget,
    RemoveTargets(Vec<String>),
    /// `replace`: our statement exists on the bus policy but differs.
    PutBusPermission {
        replace: bool,
    },
    /// `replace`: a statement with our ID exists but differs; remove it first.
    AddPermission {
        replace: bool,
    },
    /// A resource of the previous spec (a renamed rule or role) was removed.
    RemovedPrevious(String),
}

impl Change {
    /// Drift means an existing resource was changed or removed behind our back.
    pub fn describe(&self) -> String {
        match self {
            Change::CreateRole => "created the IAM role".into(),
            Change::TagRole => "tagged the IAM role with its owner".into(),
            Change::UpdateTrustPolicy => "restored the role's trust policy".into(),
            Change::PutPermissionsBoundary(b) => {
                format!("set the role's permissions boundary to {b}")
            }
            Change::DeletePermissionsBoundary => "removed the role's permissions boundary".into(),
            Change::PutRolePolicy => "wrote the role's permissions policy".into(),
            Change::PutRule { created: true } => "created the rule".into(),
            Change::PutRule { created: false } => "restored the rule's settings".into(),
            Change::TagRule => "tagged the rule with its owner".into(),
            Change::PutTarget => "wrote the rule's target".into(),
            Change::RemoveTargets(ids) => format!("removed foreign targets {ids:?} from the rule"),
            Change::PutBusPermission { replace: false } => {
                "let the source account put events on the target bus".into()
            }
            Change::PutBusPermission { replace: true } => {
                "restored the target bus's policy statement".into()
            }
            Change::RemovedPrevious(what) => format!("removed {what}, replaced by the new name"),
            Change::AddPermission { replace: false } => {
                "granted EventBridge permission to invoke the function".into()
            }
            Change::AddPermission { replace: true } => {
                "replaced the function's invoke permission".into()
            }
        }
    }
}

/// A same-named resource the object does not own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {name} exists but is not owned by this object (tag {OWNER_TAG}={found}); set spec.adoptExisting: true to take it over, or choose another name")]
pub struct NotOwned {
    pub kind: &'static str,
    pub name: String,
    pub found: String,
}

fn ownership(
    tags: &BTreeMap<String, String>,
    owner: &Owner,
    adopt: bool,
    kind: &'static str,
    name: &str,
) -> Result<bool, NotOwned> {
    match tags.get(OWNER_TAG) {
        Some(o) if *o == owner.key() => Ok(tags.get(OWNER_UID_TAG) != Some(&owner.uid)),
        // Owned by another object: never taken over, adopt or not.
        Some(other) => Err(NotOwned {
            kind,
            name: name.into(),
            found: other.clone(),
        }),
        None if adopt => Ok(true),
        None => Err(NotOwned {
            kind,
            name: name.into(),
            found: "<none>".into(),
        }),
    }
}

pub fn diff(
    desired: &Desired,
    observed: &Observed,
    owner: &Owner,
    adopt: bool,
) -> Result<Vec<Change>, NotOwned> {
    let mut changes = Vec::new();
    if let DesiredRole::Managed(role) = &desired.role {
        match &observed.role {
            None => changes.extend([Change::CreateRole, Change::PutRolePolicy]),
            Some(r) => {
                if ownership(&r.tags, owner, adopt, "IAM role", &role.name)? {
                    changes.push(Change::TagRole);
                }
                if !documents_equivalent(&r.trust_policy, &role.trust_policy) {
                    changes.push(Change::UpdateTrustPolicy);
                }
                match (&r.permissions_boundary, &role.permissions_boundary_arn) {
                    (Some((have, _)), Some(want)) if have == want => {}
                    (_, Some(want)) => changes.push(Change::PutPermissionsBoundary(want.clone())),
                    (Some(_), None) => changes.push(Change::DeletePermissionsBoundary),
                    (None, None) => {}
                }
                if !r
                    .inline_policies
                    .get(super::POLICY_NAME)
                    .is_some_and(|p| documents_equivalent(p, &role.policy))
                {
                    changes.push(Change::PutRolePolicy);
                }
            }
        }
    }
    if let (Some(want), Some(target)) = (&desired.rule, &desired.target) {
        match &observed.rule {
            None => changes.push(Change::PutRule { created: true }),
            Some(r) => {
                let retag = ownership(&r.tags, owner, adopt, "EventBridge rule", &want.name)?;
                if r.enabled != want.enabled
                    || r.description.as_deref().unwrap_or("")
                        != want.description.as_deref().unwrap_or("")
                    || r.event_pattern != want.event_pattern
                    || r.schedule_expression != want.schedule_expression
                {
                    changes.push(Change::PutRule { created: false });
                }
                if retag {
                    changes.push(Change::TagRule);
                }
            }
        }
        if !observed.targets.iter().any(|t| t == target) {
            changes.push(Change::PutTarget);
        }
        let foreign: Vec<String> = observed
            .targets
            .iter()
            .filter(|t| t.id != target.id)
            .map(|t| t.id.clone())
            .collect();
        if !foreign.is_empty() {
            changes.push(Change::RemoveTargets(foreign));
        }
    }
    if let Some(b) = &desired.bus_permission {
        let existing = observed
            .bus_policy
            .as_ref()
            .and_then(|v| PolicyDocument::parse(v).ok())
            .and_then(|doc| {
                doc.statements
                    .into_iter()
                    .find(|s| s.sid.as_deref() == Some(b.statement_id.as_str()))
            });
        match existing {
            None => changes.push(Change::PutBusPermission { replace: false }),
            Some(s) => {
                let root = format!("arn:aws:iam::{}:root", b.principal_account);
                let principal_ok = s.principal.as_ref().is_some_and(|p| {
                    !p.negated
                        && p.entries.len() == 1
                        && (p.entries[0].1 == root || p.entries[0].1 == b.principal_account)
                });
                let action_ok = s.action.patterns == vec!["events:PutEvents".to_string()];
                if !(principal_ok
                    && action_ok
                    && s.effect == crate::iam::policy::Effect::Allow
                    && s.conditions.is_empty())
                {
                    changes.push(Change::PutBusPermission { replace: true });
                }
            }
        }
    }
    if let Some(p) = &desired.permission {
        let existing = observed
            .lambda_policy
            .as_ref()
            .and_then(|v| PolicyDocument::parse(v).ok())
            .and_then(|doc| {
                doc.statements
                    .into_iter()
                    .find(|s| s.sid.as_deref() == Some(p.statement_id.as_str()))
            });
        match existing {
            None => changes.push(Change::AddPermission { replace: false }),
            Some(s) => {
                let principal_ok = s.principal.as_ref().is_some_and(|pr| {
                    !pr.negated && pr.entries.len() == 1 && pr.entries[0].1 == p.principal
                });
                let action_ok = s
                    .action
                    .patterns
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case("lambda:InvokeFunction"))
                    && s.action.patterns.len() == 1;
                let resource_ok = s
                    .resource
                    .as_ref()
                    .is_some_and(|r| r.patterns == vec![p.function_arn.clone()]);
                let condition = |key: &str| {
                    s.conditions
                        .iter()
                        .find(|c| c.key.eq_ignore_ascii_case(key))
                        .map(|c| c.values.clone())
                };
                // Exactly the conditions we grant with, and none when we grant without.
                let source_ok = condition("AWS:SourceArn") == p.source_arn.clone().map(|v| vec![v])
                    && condition("AWS:SourceAccount") == p.source_account.clone().map(|v| vec![v]);
                if !(principal_ok && action_ok && resource_ok && source_ok) {
                    changes.push(Change::AddPermission { replace: true });
                }
            }
        }
    }
    Ok(changes)
}

/// The diagnosis engine's view of what was observed.
pub fn snapshot(desired: &Desired, observed: &Observed) -> Snapshot {
    let rule = observed.rule.as_ref().map(|r| diagnose::Rule {
        name: r.name.clone(),
        arn: r.arn.clone(),
        event_bus_name: r.event_bus_name.clone(),
        enabled: r.enabled,
    });
    let targets = observed
        .targets
        .iter()
        .map(|t| diagnose::Target {
            id: t.id.clone(),
            arn: t.arn.clone(),
            role_arn: t.role_arn.clone(),
            task_definition_arn: t.ecs.as_ref().map(|e| e.task_definition_arn.clone()),
            dead_letter_arn: t.dead_letter_arn.clone(),
        })
        .collect();
    let mut roles = BTreeMap::new();
    for r in observed.role.iter() {
        roles.insert(r.arn.clone(), diagnose::Role::from(r.clone()));
    }
    let mut lambda_policies = BTreeMap::new();
    if let (Some(p), Some(doc)) = (&desired.permission, &observed.lambda_policy) {
        lambda_policies.insert(p.function_arn.clone(), doc.clone());
    }
    let mut task_definitions = BTreeMap::new();
    if let (Some(td), Some(ecs)) = (
        &observed.task_definition,
        desired.target.as_ref().and_then(|t| t.ecs.as_ref()),
    ) {
        task_definitions.insert(ecs.task_definition_arn.clone(), td.clone());
    }
    Snapshot {
        rule,
        targets,
        roles,
        lambda_policies,
        task_definitions,
        chains: vec![],
        ..Default::default()
    }
}
