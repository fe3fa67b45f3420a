//! Tenancy, pure: may this namespace's integration ask for what its spec names? The
//! controller holds IAM power the authors of its objects do not, so under
//! `--policy-mode enforce` an integration is acted on only when one
//! `EventBridgeIntegrationPolicy` that selects its namespace grants every reference in it:
//! the accounts and region, the buses, an explicit rule name, every target ARN, every role
//! passed, every role named, the dead-letter queue, adoption, the boundary. Which policies
//! select a namespace (label selectors) is the caller's to work out; this module decides.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::api::{
    AccountGrant, CrossAccountMode, EventBridgeIntegrationPolicySpec, EventBridgeIntegrationSpec,
    SecretKeyRef,
};
use crate::iam::arn::arn_like;
use crate::iam::{glob, Arn};
use crate::plan::ValidTarget;

/// `run --policy-mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PolicyMode {
    /// Every integration must be granted by a policy selecting its namespace.
    #[default]
    Enforce,
    /// No policies: any namespace may ask for anything within the global flags (a
    /// single-tenant cluster).
    Off,
}

/// What is decided about: one integration, where it lives, and the facts that fix the
/// ARNs its spec only implies.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub namespace: &'a str,
    pub spec: &'a EventBridgeIntegrationSpec,
    /// The account of the controller's own credentials: where the rule is.
    pub controller_account: &'a str,
    /// The region the integration acts in (`spec.region` or the controller's).
    pub region: &'a str,
    /// The IAM path of a role the controller would create (spec, operator, or `/`).
    pub role_path: &'a str,
    /// The roles each ECS target's task definition hands to ECS, by the ARN the spec names,
    /// once read (ECS without `passRoleArns`); one not read yet is absent.
    pub task_roles: &'a BTreeMap<String, Vec<String>>,
}

/// One policy that selects the subject's namespace.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub spec: &'a EventBridgeIntegrationPolicySpec,
}

/// How the controller reaches the target account, as a policy grants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provisioning {
    pub role_arn: String,
    pub external_id: Option<SecretKeyRef>,
}

/// What the permitting policy adds to the integration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The policy that permits it.
    pub policy: String,
    /// The boundary every role created for it must carry.
    pub permissions_boundary_arn: Option<String>,
    /// Cross-account: the way into the target account.
    pub provisioning: Option<Provisioning>,
    adopt: bool,
    rule_names: Vec<String>,
    roles: Vec<String>,
}

impl Grant {
    /// Whether an untagged rule of this name may be adopted.
    pub fn may_adopt_rule(&self, name: &str) -> bool {
        self.adopt && self.rule_names.iter().any(|p| grants(p, name))
    }

    /// Whether an untagged role of this ARN may be adopted.
    pub fn may_adopt_role(&self, arn: &str) -> bool {
        self.adopt && self.roles.iter().any(|p| grants(p, arn))
    }
}

/// Why no policy permits the integration: the field and value the first policy refuses,
/// and every selecting policy's own first refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub namespace: String,
    pub field: String,
    pub value: String,
    /// (policy, why it refuses); empty when no policy selects the namespace.
    pub by_policy: Vec<(String, String)>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.by_policy.is_empty() {
            return write!(
                f,
                "no EventBridgeIntegrationPolicy selects namespace `{}`, so the controller acts on no integration of it; ask the platform team for a policy whose namespaceSelector matches this namespace's labels",
                self.namespace
            );
        }
        let mut why = String::new();
        for (i, (policy, reason)) in self.by_policy.iter().enumerate() {
            let _ = write!(why, "{}{policy}: {reason}", if i > 0 { "; " } else { "" });
        }
        write!(
            f,
            "{} `{}` is not granted by the EventBridgeIntegrationPolicies that select namespace `{}` ({why}); one policy must grant every reference of the integration: change the spec, or ask the platform team to extend a policy",
            self.field, self.value, self.namespace
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Permitted(Grant),
    NotPermitted(Refusal),
}

/// The first policy (by name) that grants every reference wins.
pub fn decide(subject: &Subject<'_>, candidates: &[Candidate<'_>]) -> Decision {
    let mut sorted: Vec<&Candidate<'_>> = candidates.iter().collect();
    sorted.sort_by_key(|c| c.name);
    let mut first: Option<Denied> = None;
    let mut by_policy = Vec::new();
    for candidate in sorted {
        match check(subject, candidate) {
            Ok(grant) => return Decision::Permitted(grant),
            Err(denied) => {
                by_policy.push((candidate.name.to_string(), denied.reason.clone()));
                first.get_or_insert(denied);
            }
        }
    }
    let (field, value) = match first {
        Some(d) => (d.field, d.value),
        None => first_reference(subject),
    };
    Decision::NotPermitted(Refusal {
        namespace: subject.namespace.to_string(),
        field,
        value,
        by_policy,
    })
}

/// IAM-style matching: ARNs component by component (as `ArnLike`, so a `*` in the region
/// never reaches into the account), anything else as one string.
pub fn grants(pattern: &str, value: &str) -> bool {
    if Arn::parse(value).is_ok() && Arn::parse(pattern).is_ok() {
        arn_like(pattern, value)
    } else {
        glob::matches(pattern, value)
    }
}

fn any_grants(patterns: &[String], value: &str) -> bool {
    patterns.iter().any(|p| grants(p, value))
}

/// One refused reference.
struct Denied {
    field: String,
    value: String,
    reason: String,
}

fn denied(field: impl Into<String>, value: impl Into<String>, reason: String) -> Denied {
    Denied {
        field: field.into(),
        value: value.into(),
        reason,
    }
}

/// A list grant: the value must match one of `patterns` (named `list` in the reason).
fn require(
    list: &str,
    patterns: &[String],
    field: impl Into<String>,
    value: &str,
) -> Result<(), Denied> {
    if any_grants(patterns, value) {
        return Ok(());
    }
    let field = field.into();
    let reason = if patterns.is_empty() {
        format!("grants no {list}, so refuses {field} `{value}`")
    } else {
        format!(
            "{list} [{}] do not match {field} `{value}`",
            patterns.join(", ")
        )
    };
    Err(denied(field, value, reason))
}

/// What is refused when no policy selects the namespace: the namespace itself.
fn first_reference(subject: &Subject<'_>) -> (String, String) {
    ("metadata.namespace".into(), subject.namespace.to_string())
}

/// The partition the integration acts in: the target's.
fn partition(spec: &EventBridgeIntegrationSpec) -> String {
    workload_arns(spec)
        .first()
        .and_then(|(_, a)| Arn::parse(a).ok())
        .map(|a| a.partition)
        .unwrap_or_else(|| "aws".into())
}

/// Every target's ARNs, each with its field (`spec.target…` or `spec.targets[i]…`).
fn workload_arns(spec: &EventBridgeIntegrationSpec) -> Vec<(String, String)> {
    let remote = spec
        .cross_account
        .as_ref()
        .map(|x| x.target_account_id.as_str());
    spec.target_entries()
        .into_iter()
        .flat_map(|(field, t)| {
            target_arns(t)
                .into_iter()
                .map(move |(f, arn)| (format!("{field}.{f}"), in_its_account(arn, remote)))
        })
        .collect()
}

/// An ARN as a grant must match it. A REST API's ARN names no account, so one of another
/// account (`spec.crossAccount`) is matched with that account written in
/// (`arn:aws:apigateway:REGION:ACCOUNT:/restapis/ID`): a grant of the namespace's own APIs
/// (`arn:aws:apigateway:*::/restapis/*`) never reaches another account's.
fn in_its_account(arn: &str, remote: Option<&str>) -> String {
    match (Arn::parse(arn), remote) {
        (Ok(a), Some(account)) if a.service == "apigateway" && a.account.is_empty() => format!(
            "arn:{}:{}:{}:{account}:{}",
            a.partition, a.service, a.region, a.resource
        ),
        _ => arn.to_string(),
    }
}

/// One target's ARNs, each with its field below the target: those its kind's module names
/// ([`ValidTarget::references`]), of every kind set (validation refuses two, but this must
/// not miss one if asked first). An API destination's is not an ARN but the URL events leave
/// AWS for, granted like one (`https://api.example.com/*`).
fn target_arns(t: &crate::api::TargetSpec) -> Vec<(&'static str, &str)> {
    ValidTarget::every_set(t)
        .into_iter()
        .flat_map(ValidTarget::references)
        .collect()
}

/// The roles an ECS target's created role may pass: the spec's, or its task definition's.
fn pass_roles_granted(
    subject: &Subject<'_>,
    policy: &crate::api::EventBridgeIntegrationPolicySpec,
    field: &str,
    target: &crate::api::TargetSpec,
) -> Result<(), Denied> {
    let Some(ecs) = &target.ecs else {
        return Ok(());
    };
    for (i, role) in ecs.pass_role_arns.iter().flatten().enumerate() {
        require(
            "passRoles",
            &policy.pass_roles,
            format!("{field}.ecs.passRoleArns[{i}]"),
            role,
        )?;
    }
    if ecs.pass_role_arns.is_none() {
        for role in subject
            .task_roles
            .get(&ecs.task_definition_arn)
            .into_iter()
            .flatten()
        {
            require(
                "passRoles",
                &policy.pass_roles,
                format!(
                    "{field}.ecs.taskDefinitionArn (the role its task definition {} hands to ECS)",
                    ecs.task_definition_arn
                ),
                role,
            )?;
        }
    }
    Ok(())
}

fn check(subject: &Subject<'_>, candidate: &Candidate<'_>) -> Result<Grant, Denied> {
    let spec = subject.spec;
    let policy = candidate.spec;
    let partition = partition(spec);
    account(
        policy,
        subject.controller_account,
        subject.region,
        "the controller's account",
    )?;
    let provisioning = cross_account(subject, policy, &partition)?;
    // A schedule uses no event bus: its group is what it is created in.
    match &spec.schedule {
        Some(schedule) => {
            let group = schedule.group.as_deref().unwrap_or("default");
            let arn = format!(
                "arn:{partition}:scheduler:{}:{}:schedule-group/{group}",
                subject.region, subject.controller_account
            );
            if !policy.schedule_groups.iter().any(|p| grants(p, &arn)) {
                require(
                    "scheduleGroups",
                    &policy.schedule_groups,
                    "spec.schedule.group",
                    group,
                )?;
            }
            for (i, key) in schedule.kms_key_arns.iter().flatten().enumerate() {
                require(
                    "kmsKeys",
                    &policy.kms_keys,
                    format!("spec.schedule.kmsKeyArns[{i}]"),
                    key,
                )?;
            }
        }
        None => {
            let bus = spec.rule.event_bus_name.as_deref().unwrap_or("default");
            bus_granted(
                policy,
                "spec.rule.eventBusName",
                bus,
                &partition,
                subject.region,
                subject.controller_account,
            )?;
        }
    }
    if let Some(name) = &spec.rule.name {
        require("ruleNames", &policy.rule_names, "spec.rule.name", name)?;
    }
    for (field, arn) in workload_arns(spec) {
        require("targets", &policy.targets, field, &arn)?;
    }
    for (field, target) in spec.target_entries() {
        pass_roles_granted(subject, policy, &field, target)?;
        if let Some(dlq) = &target.dead_letter_queue_arn {
            require(
                "deadLetterQueues",
                &policy.dead_letter_queues,
                format!("{field}.deadLetterQueueArn"),
                dlq,
            )?;
        }
    }
    roles(subject, policy, &partition)?;
    if spec.adopt_existing && !policy.adopt_existing {
        return Err(denied(
            "spec.adoptExisting",
            "true",
            "does not grant adoptExisting, so refuses spec.adoptExisting `true`".into(),
        ));
    }
    let boundary = boundary(spec, policy)?;
    Ok(Grant {
        policy: candidate.name.to_string(),
        permissions_boundary_arn: boundary,
        provisioning,
        adopt: spec.adopt_existing && policy.adopt_existing,
        rule_names: policy.rule_names.clone(),
        roles: policy.roles.clone(),
    })
}

/// The account entry that grants `account` in `region`.
fn account<'p>(
    policy: &'p EventBridgeIntegrationPolicySpec,
    account: &str,
    region: &str,
    what: &str,
) -> Result<&'p AccountGrant, Denied> {
    let for_account: Vec<&AccountGrant> = policy
        .accounts
        .iter()
        .filter(|a| a.account_id == "*" || a.account_id == account)
        .collect();
    if for_account.is_empty() {
        let granted: Vec<&str> = policy
            .accounts
            .iter()
            .map(|a| a.account_id.as_str())
            .collect();
        return Err(denied(
            what,
            account,
            format!(
                "accounts [{}] do not include {what} `{account}`",
                granted.join(", ")
            ),
        ));
    }
    for_account
        .iter()
        .find(|a| a.regions.is_empty() || a.regions.iter().any(|r| glob::matches(r, region)))
        .copied()
        .ok_or_else(|| {
            let regions: Vec<String> = for_account.iter().flat_map(|a| a.regions.clone()).collect();
            denied(
                "spec.region",
                region,
                format!(
                    "account {account} is granted in regions [{}] only, not `{region}`",
                    regions.join(", ")
                ),
            )
        })
}

fn bus_granted(
    policy: &EventBridgeIntegrationPolicySpec,
    field: &str,
    bus: &str,
    partition: &str,
    region: &str,
    account: &str,
) -> Result<(), Denied> {
    let name = bus.rsplit('/').next().unwrap_or(bus);
    let arn = format!("arn:{partition}:events:{region}:{account}:event-bus/{name}");
    if policy
        .event_buses
        .iter()
        .any(|p| grants(p, bus) || grants(p, &arn))
    {
        return Ok(());
    }
    require("eventBuses", &policy.event_buses, field, bus)
}

/// Every role the spec names: a bring-your-own ARN, an explicit name (as the ARN it would
/// get). Derived names need no grant (nor RoleChain's former `targetRoleName`: no role is
/// created in the target account).
fn roles(
    subject: &Subject<'_>,
    policy: &EventBridgeIntegrationPolicySpec,
    partition: &str,
) -> Result<(), Denied> {
    let spec = subject.spec;
    if let Some(role) = &spec.role {
        if let Some(arn) = &role.arn {
            require("roles", &policy.roles, "spec.role.arn", arn)?;
        }
        if let Some(name) = &role.name {
            let arn = format!(
                "arn:{partition}:iam::{}:role{}{name}",
                subject.controller_account, subject.role_path
            );
            require("roles", &policy.roles, "spec.role.name", &arn)?;
        }
    }
    Ok(())
}

/// The target account, its bus, and the way in: the spec's provisioning role must match the
/// entry's; omitted, the entry's is used (its `*` account filled in). An external ID comes
/// only from the policy's Secret.
fn cross_account(
    subject: &Subject<'_>,
    policy: &EventBridgeIntegrationPolicySpec,
    partition: &str,
) -> Result<Option<Provisioning>, Denied> {
    let Some(x) = &subject.spec.cross_account else {
        return Ok(None);
    };
    if x.external_id.is_some() {
        return Err(denied(
            "spec.crossAccount.externalId",
            "(set)",
            "an external ID is never taken from an integration under --policy-mode enforce; remove spec.crossAccount.externalId: the policy's accounts[].externalIdSecretRef supplies it".into(),
        ));
    }
    let target = x.target_account_id.as_str();
    let entry = account(
        policy,
        target,
        subject.region,
        "spec.crossAccount.targetAccountId",
    )?;
    if crate::plan::cross_account_mode(subject.spec) == Some(CrossAccountMode::EventBusForwarding) {
        let bus = x.target_event_bus_name.as_deref().unwrap_or("default");
        bus_granted(
            policy,
            "spec.crossAccount.targetEventBusName",
            bus,
            partition,
            subject.region,
            target,
        )?;
    }
    let Some(pattern) = &entry.provisioning_role_arn else {
        return Err(denied(
            "spec.crossAccount.targetAccountId",
            target,
            format!("its entry for account {} names no provisioningRoleArn, so the controller may not reach account {target}", entry.account_id),
        ));
    };
    let role_arn = match &x.provisioning_role_arn {
        Some(given) if grants(pattern, given) => given.clone(),
        Some(given) => {
            return Err(denied(
                "spec.crossAccount.provisioningRoleArn",
                given.as_str(),
                format!("account {target} is reached only through `{pattern}`"),
            ))
        }
        None => concrete_role(pattern, target).ok_or_else(|| {
            denied(
                "spec.crossAccount.provisioningRoleArn",
                "(omitted)",
                format!("its provisioningRoleArn for account {target} is a pattern (`{pattern}`): name the role in spec.crossAccount.provisioningRoleArn"),
            )
        })?,
    };
    Ok(Some(Provisioning {
        role_arn,
        external_id: entry.external_id_secret_ref.clone(),
    }))
}

/// A role pattern as one role: its `*` account filled in with `account`; None while any
/// wildcard remains.
fn concrete_role(pattern: &str, account: &str) -> Option<String> {
    let mut arn = Arn::parse(pattern).ok()?;
    if arn.account == "*" {
        arn.account = account.to_string();
    }
    let text = arn.to_string();
    (!text.contains(['*', '?'])).then_some(text)
}

/// The boundary of created roles: the policy's, which a spec may repeat but not replace.
fn boundary(
    spec: &EventBridgeIntegrationSpec,
    policy: &EventBridgeIntegrationPolicySpec,
) -> Result<Option<String>, Denied> {
    let asked = spec
        .role
        .as_ref()
        .and_then(|r| r.permissions_boundary_arn.as_deref());
    match (&policy.permissions_boundary_arn, asked) {
        (Some(required), Some(asked)) if required != asked => Err(denied(
            "spec.role.permissionsBoundaryArn",
            asked,
            format!("every role created for this namespace carries the boundary `{required}`; omit spec.role.permissionsBoundaryArn"),
        )),
        (Some(required), _) => Ok(Some(required.clone())),
        (None, asked) => Ok(asked.map(str::to_string)),
    }
}

/// What a policy grants, in one line for `kubectl get ebipolicy`: `accounts 123456789012
/// (us-east-1), 210987654321 via role; buses 2; targets 3; passRoles 1; roles 0; queues 0;
/// ruleNames 1; adopt no; boundary yes`.
pub fn summary(policy: &EventBridgeIntegrationPolicySpec) -> String {
    let accounts: Vec<String> = policy
        .accounts
        .iter()
        .map(|a| {
            let mut s = a.account_id.clone();
            if !a.regions.is_empty() {
                s.push_str(&format!(" ({})", a.regions.join(" ")));
            }
            if a.provisioning_role_arn.is_some() {
                s.push_str(" via role");
            }
            s
        })
        .collect();
    let yes = |b: bool| if b { "yes" } else { "no" };
    format!(
        "accounts {}; buses {}; targets {}; passRoles {}; roles {}; queues {}; ruleNames {}; adopt {}; boundary {}",
        if accounts.is_empty() { "none".to_string() } else { accounts.join(", ") },
        policy.event_buses.len(),
        policy.targets.len(),
        policy.pass_roles.len(),
        policy.roles.len(),
        policy.dead_letter_queues.len(),
        policy.rule_names.len(),
        yes(policy.adopt_existing),
        yes(policy.permissions_boundary_arn.is_some()),
    )
}

/// The Secret a policy names for reaching another account through `role_arn`: what
/// clean-up and the orphan report need for a role recorded by an earlier pass.
pub fn external_id_ref_for<'p>(
    policy: &'p EventBridgeIntegrationPolicySpec,
    role_arn: &str,
) -> Option<&'p SecretKeyRef> {
    let account = Arn::parse(role_arn).ok()?.account;
    policy.accounts.iter().find_map(|a| {
        let reaches = (a.account_id == "*" || a.account_id == account)
            && a.provisioning_role_arn
                .as_deref()
                .is_some_and(|p| grants(p, role_arn));
        reaches
            .then_some(a.external_id_secret_ref.as_ref())
            .flatten()
    })
}

#[cfg(test)]
mod tests;
