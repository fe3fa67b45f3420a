//! Desired vs observed → the changes to make, pure. An object already in sync yields no
//! change, so a resync makes zero write calls.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{
    Claim, Desired, DesiredPermission, DesiredRole, DesiredRule, ManagedRole, Owner, QueuePurpose,
    TargetShape, TaskDefinition, OWNER_TAG,
};
use crate::iam::{documents_equivalent, PolicyDocument};

/// Task definitions by the ARN a target names (a family, or one revision).
pub type TaskDefinitions = BTreeMap<String, TaskDefinition>;

/// What the controller found in AWS. Plain data, filled by `aws::observe`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub rule: Option<ObservedRule>,
    pub targets: Vec<TargetShape>,
    /// The role the target uses: the managed one, or the user's own.
    pub role: Option<ObservedRole>,
    /// The function policy document, when the function has one.
    /// The policies of the functions the plan grants, by the function ARN as the target
    /// uses it (qualified or not); a function without a policy is absent.
    pub lambda_policies: BTreeMap<String, Value>,
    /// The ECS targets' task definitions, by the ARN each target names.
    pub task_definitions: TaskDefinitions,
    /// EventBusForwarding: the target bus's resource policy.
    pub bus_policy: Option<Value>,
    /// The queues whose policy holds a statement of ours (the dead-letter queue, an SQS
    /// target), by queue ARN, those that exist.
    pub queues: BTreeMap<String, ObservedQueue>,
    /// The API destination targets' destinations and connections, by the planned name.
    pub api_destinations: BTreeMap<String, ObservedApiDestinationPair>,
    /// `spec.schedule`: the schedule of the planned name and group, if it exists.
    pub schedule: Option<ObservedSchedule>,
}

/// A schedule as `GetSchedule` shows it, in the plan's terms (defaults filled in).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedSchedule {
    pub arn: String,
    pub expression: String,
    /// As Scheduler reports it (`UTC` when none was given).
    pub timezone: String,
    /// Minutes of a `FLEXIBLE` window; None: `OFF`.
    pub flexible_window: Option<i32>,
    /// `yyyy-mm-ddThh:mm:ssZ`.
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub enabled: bool,
    pub description: String,
    pub target_arn: String,
    pub role_arn: String,
    pub input: Option<Value>,
    /// (attempts, event age in seconds), as Scheduler fills them in.
    pub retry: (i32, i32),
    pub dead_letter_arn: Option<String>,
    /// The target's parameter block (ECS, Kinesis's key, SQS's message group), as a rule
    /// target's is compared.
    pub parameters: super::TargetParameters,
}

/// An API destination of a planned name and its connection (of the same name), each as
/// found (None: it does not exist).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedApiDestinationPair {
    pub destination: Option<ObservedApiDestination>,
    pub connection: Option<ObservedConnection>,
}

/// An API destination as `DescribeApiDestination` shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedApiDestination {
    pub arn: String,
    pub connection_arn: String,
    pub endpoint: String,
    pub http_method: String,
    pub rate_limit: Option<i32>,
    pub description: String,
}

/// A connection as `DescribeConnection` shows it (never its secret values).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedConnection {
    pub arn: String,
    pub authorization_type: String,
    /// `AUTHORIZED`, `AUTHORIZING`, `DEAUTHORIZED`, …
    pub state: String,
    /// AWS's words when it is not authorized.
    pub state_reason: Option<String>,
    pub description: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedQueue {
    pub url: String,
    /// Every attribute, as `aws sqs get-queue-attributes --attribute-names All` gives them
    /// (the policy, `KmsMasterKeyId`, …).
    pub attributes: BTreeMap<String, String>,
}

impl ObservedQueue {
    pub fn policy(&self) -> Option<Value> {
        self.attributes
            .get("Policy")
            .filter(|p| !p.is_empty())
            .map(|p| Value::String(p.clone()))
    }
}

/// A rule as EventBridge shows it (`diagnose::Rule` is this type).
#[derive(Clone, Debug, Default, PartialEq)]
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

/// A role as IAM shows it, for the diff (ownership by its tags) and for the diagnosis
/// (`diagnose::Role` is this type).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedRole {
    pub arn: String,
    pub name: String,
    pub trust_policy: Value,
    pub tags: BTreeMap<String, String>,
    /// Inline policies: name → document.
    pub inline_policies: BTreeMap<String, Value>,
    /// Attached managed policies: ARN → default version's document.
    pub attached_policies: BTreeMap<String, Value>,
    /// Permissions boundary: ARN and document.
    pub permissions_boundary: Option<(String, Value)>,
}

/// One write, in the order they must run.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// CreateConnection or (`created: false`) UpdateConnection with the Secret's credentials,
    /// for the API destination `name`.
    PutConnection {
        name: String,
        created: bool,
    },
    /// CreateApiDestination or UpdateApiDestination.
    PutApiDestination {
        name: String,
        created: bool,
    },
    /// CreateSchedule or (`created: false`) UpdateSchedule: the whole schedule.
    PutSchedule {
        created: bool,
    },
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
        /// The function ARN as the target uses it: which of the plan's permissions.
        function_arn: String,
        replace: bool,
    },
    /// Writes our statements into a queue's policy (one rewrite), keeping the others;
    /// `purposes`: those of our statements that were missing or differed.
    PutQueueStatements {
        queue_arn: String,
        purposes: Vec<QueuePurpose>,
    },
}

impl Change {
    /// Drift means an existing resource was changed or removed behind our back.
    pub fn describe(&self) -> String {
        match self {
            Change::PutConnection {
                name,
                created: true,
            } => format!("created the connection of API destination {name}"),
            Change::PutConnection {
                name,
                created: false,
            } => format!("wrote the authorization of connection {name} (its Secret changed, or the connection did)"),
            Change::PutApiDestination {
                name,
                created: true,
            } => format!("created API destination {name}"),
            Change::PutApiDestination {
                name,
                created: false,
            } => format!("restored API destination {name}'s endpoint, method, rate or connection"),
            Change::PutSchedule { created: true } => "created the schedule".into(),
            Change::PutSchedule { created: false } => {
                "restored the schedule's expression, window, dates, state or target".into()
            }
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
            Change::PutTarget => "wrote the rule's targets".into(),
            Change::RemoveTargets(ids) => format!("removed foreign targets {ids:?} from the rule"),
            Change::PutBusPermission { replace: false } => {
                "let the source account put events on the target bus".into()
            }
            Change::PutBusPermission { replace: true } => {
                "restored the target bus's policy statement".into()
            }
            Change::AddPermission {
                replace: false,
                function_arn,
            } => format!("granted EventBridge permission to invoke {function_arn}"),
            Change::AddPermission {
                replace: true,
                function_arn,
            } => format!("replaced the invoke permission of {function_arn}"),
            Change::PutQueueStatements { purposes, .. } => purposes
                .iter()
                .map(|p| p.describe())
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// A same-named resource the object does not own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {name} exists but is not owned by this object ({found}); {advice}")]
pub struct NotOwned {
    pub kind: &'static str,
    pub name: String,
    pub found: String,
    /// What a person can do about it.
    pub advice: &'static str,
    /// A rule or role tagged for another object or cluster: provably someone else's, so
    /// an entry for it does not stay in this object's record.
    pub foreign: bool,
}

/// For a rule or role of the wanted name that is not this object's.
pub const ADVICE_ADOPT: &str =
    "set spec.adoptExisting: true to take over an untagged resource, or choose another name";
/// For a policy statement under this object's statement ID that grants something else.
pub const ADVICE_STATEMENT: &str = "the controller never replaces a statement it cannot prove is its own: remove the statement if it is stale, or give the rule another name";

/// What a resource-policy statement grants, as far as proving whose it is goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatementGrant {
    pub principals: Vec<String>,
    /// Its `aws:SourceArn` condition's values (any operator).
    pub source_arns: Vec<String>,
    /// Its `aws:PrincipalArn` condition's values (a bus statement admitting one role).
    pub principal_arns: Vec<String>,
}

impl StatementGrant {
    pub fn of(s: &crate::iam::policy::Statement) -> StatementGrant {
        let condition = |key: &str| {
            s.conditions
                .iter()
                .find(|c| c.key.eq_ignore_ascii_case(key))
                .map(|c| c.values.clone())
                .unwrap_or_default()
        };
        StatementGrant {
            principals: s
                .principal
                .iter()
                .flat_map(|p| p.entries.iter().map(|(_, v)| v.clone()))
                .collect(),
            source_arns: condition("aws:SourceArn"),
            principal_arns: condition("aws:PrincipalArn"),
        }
    }

    /// One statement as JSON (a policy's `Statement` entry).
    pub fn of_value(statement: &Value) -> Option<StatementGrant> {
        let doc =
            PolicyDocument::parse(&json!({"Version": "2012-10-17", "Statement": [statement]}))
                .ok()?;
        doc.statements.first().map(StatementGrant::of)
    }

    /// Proven by `proof` (a record's): its `aws:SourceArn` is exactly it; or, without one,
    /// its only principal (or `aws:PrincipalArn`) is it.
    pub fn proven_by(&self, proof: &str) -> bool {
        self.source_arns == [proof]
            || (self.source_arns.is_empty()
                && (self.principals == [proof] || self.principal_arns == [proof]))
    }

    pub fn describe(&self) -> String {
        let mut out = format!("it grants {}", self.principals.join(", "));
        if !self.source_arns.is_empty() {
            out.push_str(&format!(
                " with aws:SourceArn {}",
                self.source_arns.join(", ")
            ));
        }
        if !self.principal_arns.is_empty() {
            out.push_str(&format!(
                " with aws:PrincipalArn {}",
                self.principal_arns.join(", ")
            ));
        }
        out
    }
}

/// Whether an existing resource may be used, and whether its owner tags need writing.
fn ownership(
    tags: &BTreeMap<String, String>,
    owner: &Owner,
    adopt: bool,
    kind: &'static str,
    name: &str,
) -> Result<bool, NotOwned> {
    let retag = || owner.tags().iter().any(|(k, v)| tags.get(k) != Some(v));
    match owner.claim(tags) {
        Claim::Ours => Ok(retag()),
        // The same namespace/name in this cluster, an earlier incarnation of the object:
        // it was ours by name, so the new object takes it over.
        Claim::PreviousIncarnation => Ok(true),
        Claim::Untagged if adopt => Ok(true),
        Claim::Untagged => Err(NotOwned {
            kind,
            name: name.into(),
            found: format!("no {OWNER_TAG} tag"),
            advice: ADVICE_ADOPT,
            foreign: false,
        }),
        // Another object's or another cluster's: never taken over, adopt or not.
        Claim::Foreign(found) => Err(NotOwned {
            kind,
            name: name.into(),
            found,
            advice: ADVICE_ADOPT,
            foreign: true,
        }),
    }
}

/// What a pass may take over, and how it treats the other targets of an adopted rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Adoption {
    /// An untagged rule of the desired name may be taken over.
    pub rule: bool,
    /// An untagged role of the desired ARN may be taken over.
    pub role: bool,
    /// The rule was adopted by an earlier pass (the record keeps what it was): its targets
    /// with other ids are someone else's and stay.
    pub rule_adopted: bool,
    /// The record holds the desired schedule: an earlier pass created it. A schedule whose
    /// description no longer names an owner is still ours then (UpdateSchedule replaces
    /// every field, so an edit that omits the description erases it).
    pub schedule_recorded: bool,
    /// What the record says this object's policy statements grant to (their proofs). A
    /// statement under this object's statement ID that differs from the plan is replaced
    /// only when it grants to what the plan or the record names: one that grants to
    /// something else is someone else's, reported and left alone.
    pub statement_proofs: Vec<String>,
}

impl Adoption {
    /// `spec.adoptExisting` alone, for both kinds (no policy narrows it).
    pub fn both(adopt: bool) -> Adoption {
        Adoption {
            rule: adopt,
            role: adopt,
            ..Default::default()
        }
    }
}

/// Whether a rule's settings (not its tags) are the desired ones.
pub fn rule_matches(want: &DesiredRule, r: &ObservedRule) -> bool {
    r.enabled == want.enabled
        && r.description.as_deref().unwrap_or("") == want.description.as_deref().unwrap_or("")
        && r.event_pattern == want.event_pattern
        && r.schedule_expression == want.schedule_expression
}

pub fn diff(
    desired: &Desired,
    observed: &Observed,
    owner: &Owner,
    adopt: Adoption,
) -> Result<Vec<Change>, NotOwned> {
    let mut changes = api_destination_changes(desired, observed, owner, &adopt)?;
    changes.extend(role_changes(desired, observed, owner, &adopt)?);
    changes.extend(rule_changes(desired, observed, owner, &adopt)?);
    changes.extend(bus_permission_changes(desired, observed, &adopt)?);
    changes.extend(lambda_permission_changes(desired, observed, &adopt)?);
    changes.extend(queue_statement_changes(desired, observed, &adopt)?);
    changes.extend(schedule_change(desired, observed, owner, &adopt)?);
    Ok(changes)
}

/// The managed role: created, tagged, its trust, boundary and policy put back.
fn role_changes(
    desired: &Desired,
    observed: &Observed,
    owner: &Owner,
    adopt: &Adoption,
) -> Result<Vec<Change>, NotOwned> {
    let mut changes = vec![];
    if let DesiredRole::Managed(role) = &desired.role {
        match &observed.role {
            None => changes.extend([Change::CreateRole, Change::PutRolePolicy]),
            Some(r) => {
                if ownership(&r.tags, owner, adopt.role, "IAM role", &role.name)? {
                    changes.push(Change::TagRole);
                }
                // A role of this name at another path: a role name is unique in the account
                // whatever its path, so it cannot be the wanted one, nor exist beside it.
                // (A move of a role the record lists goes through a second name instead.)
                if r.arn != role.arn {
                    return Err(NotOwned {
                        kind: "IAM role",
                        name: role.name.clone(),
                        found: format!("a role of this name exists as {}, which this object's record does not list, and IAM role names are unique in an account whatever the path", r.arn),
                        advice: "remove or rename that role, or choose another spec.role.name",
                        foreign: false,
                    });
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
    Ok(changes)
}

/// The rule and its targets: created or put back, tagged, targets not ours removed.
fn rule_changes(
    desired: &Desired,
    observed: &Observed,
    owner: &Owner,
    adopt: &Adoption,
) -> Result<Vec<Change>, NotOwned> {
    let mut changes = vec![];
    if let (Some(want), false) = (&desired.rule, desired.targets.is_empty()) {
        match &observed.rule {
            None => changes.push(Change::PutRule { created: true }),
            Some(r) => {
                let retag = ownership(&r.tags, owner, adopt.rule, "EventBridge rule", &want.name)?;
                if !rule_matches(want, r) {
                    changes.push(Change::PutRule { created: false });
                }
                if retag {
                    changes.push(Change::TagRule);
                }
            }
        }
        let targets: Vec<TargetShape> = desired
            .targets
            .iter()
            .map(|t| resolved_target(desired, observed, t))
            .collect();
        if targets.iter().any(|t| !observed.targets.contains(t)) {
            changes.push(Change::PutTarget);
        }
        let foreign: Vec<String> = observed
            .targets
            .iter()
            .filter(|t| !targets.iter().any(|want| want.id == t.id))
            .map(|t| t.id.clone())
            .collect();
        // A rule of ours carries our targets only (another one is drift, or one removed from
        // spec.targets); an adopted rule's other targets were there before us.
        if !foreign.is_empty() && !keeps_other_targets(observed, owner, adopt) {
            changes.push(Change::RemoveTargets(foreign));
        }
    }
    Ok(changes)
}

/// EventBusForwarding: our statement in the target bus's policy.
fn bus_permission_changes(
    desired: &Desired,
    observed: &Observed,
    adopt: &Adoption,
) -> Result<Vec<Change>, NotOwned> {
    let mut changes = vec![];
    if let Some(b) = &desired.bus_permission {
        let text = observed
            .bus_policy
            .as_ref()
            .map(crate::iam::documents::document_text);
        let ours = text
            .as_deref()
            .and_then(|p| crate::iam::documents::statement_with_sid(p, &b.statement_id));
        match ours {
            None => changes.push(Change::PutBusPermission { replace: false }),
            Some(s) => {
                let same = documents_equivalent(
                    &json!({"Statement": [s]}),
                    &json!({"Statement": [b.statement.clone()]}),
                );
                if !same {
                    provably_ours(
                        &s,
                        &b.principal_role_arn,
                        &adopt.statement_proofs,
                        "event-bus policy statement",
                        &format!("{} on {}", b.statement_id, b.event_bus_arn),
                    )?;
                    changes.push(Change::PutBusPermission { replace: true });
                }
            }
        }
    }
    Ok(changes)
}

/// Our statement in each function's policy.
fn lambda_permission_changes(
    desired: &Desired,
    observed: &Observed,
    adopt: &Adoption,
) -> Result<Vec<Change>, NotOwned> {
    let mut changes = vec![];
    for p in &desired.permissions {
        let existing = observed
            .lambda_policies
            .get(p.function_arn.as_str())
            .and_then(|v| PolicyDocument::parse(v).ok())
            .and_then(|doc| {
                doc.statements
                    .into_iter()
                    .find(|s| s.sid.as_deref() == Some(p.statement_id.as_str()))
            });
        match existing {
            None => changes.push(Change::AddPermission {
                function_arn: p.function_arn.to_string(),
                replace: false,
            }),
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
                    .is_some_and(|r| r.patterns == vec![p.function_arn.to_string()]);
                let condition = |key: &str| {
                    s.conditions
                        .iter()
                        .find(|c| c.key.eq_ignore_ascii_case(key))
                        .map(|c| c.values.clone())
                };
                // Exactly the conditions we grant with, and none when we grant without.
                let source_ok = condition("AWS:SourceArn") == p.source_arn.clone().map(|v| vec![v])
                    && condition("AWS:SourceAccount")
                        == p.source_account.as_ref().map(|v| vec![v.to_string()]);
                if !(principal_ok && action_ok && resource_ok && source_ok) {
                    // Replaced only when it grants to what this object grants (or granted):
                    // a statement under our id that grants something else is someone
                    // else's (Lambda answers 409 to a duplicate id, and a copy or a hand
                    // edit can put one there).
                    let grant = StatementGrant::of(&s);
                    let proof = p.source_arn.as_deref().unwrap_or(&p.principal);
                    if !grant.proven_by(proof)
                        && !adopt.statement_proofs.iter().any(|r| grant.proven_by(r))
                    {
                        return Err(NotOwned {
                            kind: "Lambda permission",
                            name: format!("{} on {}", p.statement_id, p.function_arn),
                            found: grant.describe(),
                            advice: ADVICE_STATEMENT,
                            foreign: false,
                        });
                    }
                    changes.push(Change::AddPermission {
                        function_arn: p.function_arn.to_string(),
                        replace: true,
                    });
                }
            }
        }
    }
    Ok(changes)
}

/// Our statements in each queue's, topic's, stream's or logs resource policy, one rewrite per holder.
fn queue_statement_changes(
    desired: &Desired,
    observed: &Observed,
    adopt: &Adoption,
) -> Result<Vec<Change>, NotOwned> {
    let mut changes = vec![];
    for first in desired.permitted_queues() {
        // A missing queue is the diagnosis's to report (DeadLetterQueueNotFound), not ours
        // to create.
        let Some(queue) = observed.queues.get(&first.queue_arn) else {
            continue;
        };
        let mut purposes = vec![];
        for q in desired.queue_statements(&first.queue_arn) {
            let ours = queue
                .attributes
                .get("Policy")
                .and_then(|p| crate::iam::documents::statement_with_sid(p, &q.statement_id));
            let same = ours.as_ref().is_some_and(|s| {
                documents_equivalent(
                    &serde_json::json!({"Statement": [s]}),
                    &serde_json::json!({"Statement": [q.statement.clone()]}),
                )
            });
            if let (false, Some(s)) = (same, &ours) {
                provably_ours(
                    s,
                    &q.proof,
                    &adopt.statement_proofs,
                    q.purpose.statement_kind(),
                    &format!("{} on {}", q.statement_id, q.queue_arn),
                )?;
            }
            if !same {
                purposes.push(q.purpose);
            }
        }
        if !purposes.is_empty() {
            changes.push(Change::PutQueueStatements {
                queue_arn: first.queue_arn.clone(),
                purposes,
            });
        }
    }
    Ok(changes)
}

/// A statement under this object's id that differs from the plan may be rewritten only
/// when it grants to `proof` (the plan's) or to a proof the record holds.
fn provably_ours(
    statement: &Value,
    proof: &str,
    recorded: &[String],
    kind: &'static str,
    name: &str,
) -> Result<(), NotOwned> {
    let grant = StatementGrant::of_value(statement).unwrap_or_default();
    if grant.proven_by(proof) || recorded.iter().any(|r| grant.proven_by(r)) {
        return Ok(());
    }
    Err(NotOwned {
        kind,
        name: name.to_string(),
        found: grant.describe(),
        advice: ADVICE_STATEMENT,
        foreign: false,
    })
}

/// Whether the rule's targets with other ids stay: it is adopted, or being adopted now.
pub fn keeps_other_targets(observed: &Observed, owner: &Owner, adopt: &Adoption) -> bool {
    adopt.rule_adopted
        || observed
            .rule
            .as_ref()
            .is_some_and(|r| owner.claim(&r.tags) == Claim::Untagged)
}

/// The connection's and the API destination's writes, before anything that uses them. Neither
/// takes tags: their descriptions say whose they are, and an untagged one is taken over only
/// with `spec.adoptExisting` (as a rule is).
fn api_destination_changes(
    desired: &Desired,
    observed: &Observed,
    owner: &Owner,
    adopt: &Adoption,
) -> Result<Vec<Change>, NotOwned> {
    let mut changes = vec![];
    for want in &desired.api_destinations {
        let found = observed.api_destinations.get(&want.name);
        let found = found.cloned().unwrap_or_default();
        changes.extend(connection_change(
            want,
            found.connection.as_ref(),
            owner,
            adopt,
        )?);
        changes.extend(destination_change(want, &found, owner, adopt)?);
    }
    Ok(changes)
}

fn connection_change(
    want: &super::DesiredApiDestination,
    found: Option<&ObservedConnection>,
    owner: &Owner,
    adopt: &Adoption,
) -> Result<Option<Change>, NotOwned> {
    use super::described::description_tags;
    let name = want.name.clone();
    let Some(c) = found else {
        return Ok(Some(Change::PutConnection {
            name,
            created: true,
        }));
    };
    let tags = description_tags(&c.description);
    ownership(&tags, owner, adopt.rule, "EventBridge connection", &name)?;
    // Deauthorized by a call (an API key or basic login is not refused by AWS): writing the
    // credentials again authorizes it. An OAuth connection deauthorized by its token
    // endpoint is the diagnosis's to report, rewritten when its Secret changes, not on
    // every pass.
    let deauthorized = c.state == "DEAUTHORIZED"
        && want.connection.authorization_type
            != crate::api::AuthorizationType::OAUTH_CLIENT_CREDENTIALS;
    let changed = c.description != want.connection.description
        || c.authorization_type != want.connection.authorization_type.as_str()
        || deauthorized;
    Ok(changed.then_some(Change::PutConnection {
        name,
        created: false,
    }))
}

fn destination_change(
    want: &super::DesiredApiDestination,
    found: &ObservedApiDestinationPair,
    owner: &Owner,
    adopt: &Adoption,
) -> Result<Option<Change>, NotOwned> {
    use super::described::description_tags;
    use super::targets::api_destination::DEFAULT_RATE;
    let name = want.name.clone();
    let Some(a) = &found.destination else {
        return Ok(Some(Change::PutApiDestination {
            name,
            created: true,
        }));
    };
    let tags = description_tags(&a.description);
    ownership(
        &tags,
        owner,
        adopt.rule,
        "EventBridge API destination",
        &name,
    )?;
    let connection_ok = found
        .connection
        .as_ref()
        .is_some_and(|c| c.arn == a.connection_arn);
    let same = a.endpoint == want.endpoint
        && a.http_method == want.http_method
        && a.rate_limit.unwrap_or(DEFAULT_RATE) == want.rate_limit
        && a.description == want.description;
    Ok(
        (!(same && connection_ok)).then_some(Change::PutApiDestination {
            name,
            created: false,
        }),
    )
}

/// Scheduler's retry policy when a schedule names none: 185 attempts within a day.
pub const SCHEDULER_DEFAULT_RETRY: (i32, i32) = (185, 86_400);

/// The schedule's write, after the role it names. A schedule takes no tags: its description
/// says whose it is, and one made by hand is taken over only with `spec.adoptExisting`.
fn schedule_change(
    desired: &Desired,
    observed: &Observed,
    owner: &Owner,
    adopt: &Adoption,
) -> Result<Option<Change>, NotOwned> {
    let Some(want) = &desired.schedule else {
        return Ok(None);
    };
    let Some(found) = &observed.schedule else {
        return Ok(Some(Change::PutSchedule { created: true }));
    };
    let tags = super::described::description_tags(&found.description);
    ownership(
        &tags,
        owner,
        adopt.rule || adopt.schedule_recorded,
        "EventBridge Scheduler schedule",
        &want.name,
    )?;
    // Every field but the ARN, which AWS names from the group and name compared already.
    let same = *found
        == ObservedSchedule {
            arn: found.arn.clone(),
            ..schedule_as_written(want)
        };
    Ok((!same).then_some(Change::PutSchedule { created: false }))
}

/// The schedule as `GetSchedule` shows it once `want` is written: Scheduler's defaults
/// filled in (UTC, its retry policy).
pub fn schedule_as_written(want: &super::schedule::DesiredSchedule) -> ObservedSchedule {
    let t = &want.target;
    ObservedSchedule {
        arn: want.arn.clone(),
        expression: want.expression.clone(),
        timezone: want.timezone.clone().unwrap_or_else(|| "UTC".into()),
        flexible_window: want.flexible_window,
        start_date: want.start_date.clone(),
        end_date: want.end_date.clone(),
        enabled: want.enabled,
        description: want.description.clone(),
        target_arn: t.arn.clone(),
        role_arn: t.role_arn.clone().unwrap_or_default(),
        input: t.input.clone(),
        retry: t.retry.map_or(SCHEDULER_DEFAULT_RETRY, |(attempts, age)| {
            (
                attempts.unwrap_or(SCHEDULER_DEFAULT_RETRY.0),
                age.unwrap_or(SCHEDULER_DEFAULT_RETRY.1),
            )
        }),
        dead_letter_arn: t.dead_letter_arn.clone(),
        parameters: t.parameters.clone(),
    }
}

/// The desired target as AWS would hold it: an API destination's ARN ends in the ID AWS gave
/// the destination, so it is the observed destination's (none yet: the planned ARN, which no
/// target has, so the target is written once the destination exists).
pub fn resolved_target(
    desired: &Desired,
    observed: &Observed,
    target: &TargetShape,
) -> TargetShape {
    let observed_arn = desired
        .api_destinations
        .iter()
        .find(|want| target.arn == want.arn)
        .and_then(|want| {
            let found = observed.api_destinations.get(&want.name)?;
            found
                .destination
                .as_ref()
                .filter(|a| super::targets::api_destination::is_instance_of(&a.arn, &want.arn))
                .map(|a| a.arn.clone())
        });
    match observed_arn {
        Some(arn) => TargetShape {
            arn,
            ..target.clone()
        },
        None => target.clone(),
    }
}

/// What AWS holds once `changes` were applied to `before`: the desired state where the
/// changes wrote, the rest as observed. Lets a pass diagnose what it just wrote without
/// reading it back (the next resync reads it for real, so drift is still found). `None`
/// when a write's result cannot be known without reading (a new permissions boundary,
/// whose document the diagnosis evaluates).
pub fn after_writes(
    desired: &Desired,
    before: &Observed,
    changes: &[Change],
    owner: &Owner,
) -> Option<Observed> {
    if changes
        .iter()
        .any(|c| matches!(c, Change::PutPermissionsBoundary(_)))
    {
        return None;
    }
    // An API destination written by this pass has an ARN only AWS knows: read it back.
    if !desired.api_destinations.is_empty() && !changes.is_empty() {
        return None;
    }
    let mut after = before.clone();
    let wrote = |pred: fn(&Change) -> bool| changes.iter().any(pred);
    if let DesiredRole::Managed(m) = &desired.role {
        if wrote(|c| {
            matches!(
                c,
                Change::CreateRole
                    | Change::TagRole
                    | Change::UpdateTrustPolicy
                    | Change::PutRolePolicy
                    | Change::DeletePermissionsBoundary
            )
        }) {
            after.role = Some(role_as_written(m, before.role.as_ref(), owner));
        }
    }
    if let Some(schedule) = &desired.schedule {
        if wrote(|c| matches!(c, Change::PutSchedule { .. })) {
            after.schedule = Some(schedule_as_written(schedule));
        }
    }
    if let (Some(rule), false) = (&desired.rule, desired.targets.is_empty()) {
        if wrote(|c| matches!(c, Change::PutRule { .. } | Change::TagRule)) {
            after.rule = Some(rule_as_written(rule, before.rule.as_ref(), owner));
        }
        if wrote(|c| matches!(c, Change::PutTarget)) {
            for target in &desired.targets {
                after.targets.retain(|t| t.id != target.id);
                after.targets.push(target.clone());
            }
        }
        if let Some(Change::RemoveTargets(ids)) = changes
            .iter()
            .find(|c| matches!(c, Change::RemoveTargets(_)))
        {
            after.targets.retain(|t| !ids.contains(&t.id));
        }
    }
    for p in desired.permissions.iter().filter(|p| {
        changes.iter().any(|c| {
            matches!(c, Change::AddPermission { function_arn, .. } if *function_arn == p.function_arn)
        })
    }) {
        let statement = permission_as_written(p);
        after.lambda_policies.insert(
            p.function_arn.to_string(),
            rewritten(before.lambda_policies.get(p.function_arn.as_str()), &statement),
        );
    }
    if let (Some(b), true) = (
        &desired.bus_permission,
        wrote(|c| matches!(c, Change::PutBusPermission { .. })),
    ) {
        after.bus_policy = Some(rewritten(before.bus_policy.as_ref(), &b.statement));
    }
    write_queue_statements(desired, changes, &mut after);
    Some(after)
}

/// The role as `m` writes it over what was observed: trust, tags, our inline policy, and no
/// boundary when none is wanted.
fn role_as_written(m: &ManagedRole, before: Option<&ObservedRole>, owner: &Owner) -> ObservedRole {
    let mut role = before.cloned().unwrap_or_else(|| ObservedRole {
        arn: m.arn.to_string(),
        name: m.name.clone(),
        trust_policy: Value::Null,
        tags: BTreeMap::new(),
        inline_policies: BTreeMap::new(),
        attached_policies: BTreeMap::new(),
        permissions_boundary: None,
    });
    role.trust_policy = m.trust_policy.clone();
    role.tags.extend(owner.tags());
    role.inline_policies
        .insert(super::POLICY_NAME.to_string(), m.policy.clone());
    if m.permissions_boundary_arn.is_none() {
        role.permissions_boundary = None;
    }
    role
}

/// The rule as `PutRule` writes it, keeping the tags it had besides ours.
fn rule_as_written(
    rule: &DesiredRule,
    before: Option<&ObservedRule>,
    owner: &Owner,
) -> ObservedRule {
    let mut tags = before.map(|r| r.tags.clone()).unwrap_or_default();
    tags.extend(owner.tags());
    ObservedRule {
        name: rule.name.clone(),
        arn: rule.arn.to_string(),
        event_bus_name: rule.event_bus_name.clone(),
        enabled: rule.enabled,
        description: rule.description.clone(),
        event_pattern: rule.event_pattern.clone(),
        schedule_expression: rule.schedule_expression.clone(),
        tags,
    }
}

/// The statement `AddPermission` puts in the function's policy, in the form `GetPolicy`
/// returns it (`ArnLike` on the source, `StringEquals` on its account).
fn permission_as_written(p: &DesiredPermission) -> Value {
    let mut condition = serde_json::Map::new();
    if let Some(arn) = &p.source_arn {
        condition.insert("ArnLike".into(), json!({"AWS:SourceArn": arn}));
    }
    if let Some(account) = &p.source_account {
        condition.insert("StringEquals".into(), json!({"AWS:SourceAccount": account}));
    }
    let principal = if p.principal.ends_with(".amazonaws.com") {
        json!({"Service": p.principal})
    } else {
        json!({"AWS": p.principal})
    };
    let mut statement = json!({"Sid": p.statement_id, "Effect": "Allow", "Principal": principal,
        "Action": "lambda:InvokeFunction", "Resource": p.function_arn});
    if !condition.is_empty() {
        statement["Condition"] = Value::Object(condition);
    }
    statement
}

/// Each queue or topic policy a change rewrote, with our statements in place.
fn write_queue_statements(desired: &Desired, changes: &[Change], after: &mut Observed) {
    for change in changes {
        let Change::PutQueueStatements { queue_arn, .. } = change else {
            continue;
        };
        let Some(queue) = after.queues.get_mut(queue_arn) else {
            continue;
        };
        let statements: Vec<Value> = desired
            .queue_statements(queue_arn)
            .map(|q| q.statement.clone())
            .collect();
        let current = queue.attributes.get("Policy").cloned();
        let policy = crate::iam::documents::with_statements(current.as_deref(), &statements);
        queue
            .attributes
            .insert("Policy".to_string(), policy.to_string());
    }
}

/// A resource policy (as observed: text or JSON) with `statement` in place of its Sid's.
fn rewritten(policy: Option<&Value>, statement: &Value) -> Value {
    let text = policy.map(|p| match p {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    crate::iam::documents::with_statement(text.as_deref(), statement)
}
