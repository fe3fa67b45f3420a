//! Planning, pure: an `EventBridgeIntegration` spec plus a few observed facts (account,
//! region, the task's roles) → the desired AWS state. Never a `*` resource.

pub mod diff;
pub mod names;
pub mod validate;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::api::{EventBridgeIntegrationSpec, TargetKind, TaskDefinitionScope};
use crate::diagnose::remedy::{family_pattern, split_function_arn};
use crate::iam::Arn;
pub use validate::{validate, SpecError};

pub const OWNER_TAG: &str = "eventbridge.dev/owner";
pub const OWNER_UID_TAG: &str = "eventbridge.dev/owner-uid";
pub const MANAGED_BY_TAG: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "eventbridge-integration-controller";
/// The inline policy the controller writes on roles it manages.
pub const POLICY_NAME: &str = "eventbridge-integration";
pub const ECS_TASKS_SERVICE: &str = "ecs-tasks.amazonaws.com";

/// Which Kubernetes object owns the AWS resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl Owner {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (OWNER_TAG.to_string(), self.key()),
            (OWNER_UID_TAG.to_string(), self.uid.clone()),
            (MANAGED_BY_TAG.to_string(), MANAGED_BY.to_string()),
        ])
    }
}

/// Operator-set limits (flags of `run`), not settable from a namespaced object: creating IAM
/// roles from a namespace is a privilege, and these bound it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Guardrails {
    /// Accounts the controller may act in; empty means any.
    pub allowed_account_ids: Vec<String>,
    /// Prefix of every role name the controller creates (derived names get it; explicit
    /// names must carry it).
    pub role_name_prefix: Option<String>,
    /// IAM path every created role must have.
    pub role_path: Option<String>,
    /// Permissions boundary every created role must have.
    pub permissions_boundary_arn: Option<String>,
}

/// Facts observed before planning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub account_id: String,
    pub region: String,
    /// The task definition's execution and task roles (ECS without `passRoleArns`).
    pub task_roles: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    InvalidSpec(#[from] SpecError),
    #[error("{0}")]
    Guardrail(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub kind: TargetKind,
    pub account_id: String,
    pub region: String,
    pub tags: BTreeMap<String, String>,
    pub rule: DesiredRule,
    pub role: DesiredRole,
    pub target: TargetShape,
    pub permission: Option<DesiredPermission>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRule {
    pub name: String,
    pub event_bus_name: String,
    pub arn: String,
    pub description: Option<String>,
    pub event_pattern: Option<Value>,
    pub schedule_expression: Option<String>,
    pub enabled: bool,
}

#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per object; boxing buys nothing
pub enum DesiredRole {
    /// Lambda: invoked through a resource-based permission instead.
    NotNeeded,
    /// The user's role: used as is, only diagnosed.
    BringYourOwn {
        arn: String,
    },
    Managed(ManagedRole),
}

impl DesiredRole {
    pub fn arn(&self) -> Option<&str> {
        match self {
            DesiredRole::NotNeeded => None,
            DesiredRole::BringYourOwn { arn } => Some(arn),
            DesiredRole::Managed(m) => Some(&m.arn),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ManagedRole {
    pub name: String,
    pub path: String,
    pub arn: String,
    pub trust_policy: Value,
    pub policy: Value,
    pub permissions_boundary_arn: Option<String>,
}

/// A rule target in a form that compares equal exactly when AWS would behave the same:
/// built from the spec here, and from `ListTargetsByRule` in `aws::observe`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TargetShape {
    pub id: String,
    pub arn: String,
    pub role_arn: Option<String>,
    pub ecs: Option<EcsShape>,
    /// Parsed, so formatting differences of the JSON text do not count.
    pub input: Option<Value>,
    pub input_path: Option<String>,
    pub input_transformer: Option<(BTreeMap<String, String>, String)>,
    pub retry: Option<(Option<i32>, Option<i32>)>,
    pub dead_letter_arn: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct EcsShape {
    pub task_definition_arn: String,
    pub task_count: i32,
    pub launch_type: String,
    pub platform_version: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredPermission {
    /// The ARN exactly as the target uses it (qualified or not).
    pub function_arn: String,
    pub function_name: String,
    pub qualifier: Option<String>,
    pub statement_id: String,
    pub source_arn: String,
    pub source_account: String,
}

/// The role name the controller would create, for the owner, honouring the guardrails.
pub fn managed_role_name(
    spec: &EventBridgeIntegrationSpec,
    owner: &Owner,
    guard: &Guardrails,
) -> String {
    match spec.role.as_ref().and_then(|r| r.name.clone()) {
        Some(name) => name,
        None => names::derived_name(
            guard.role_name_prefix.as_deref().unwrap_or("ebi-"),
            &owner.namespace,
            &owner.name,
        ),
    }
}

pub fn rule_name(spec: &EventBridgeIntegrationSpec, owner: &Owner) -> String {
    spec.rule
        .name
        .clone()
        .unwrap_or_else(|| names::derived_name("ebi-", &owner.namespace, &owner.name))
}

pub fn plan(
    spec: &EventBridgeIntegrationSpec,
    owner: &Owner,
    facts: &Facts,
    guard: &Guardrails,
) -> Result<Desired, PlanError> {
    let kind = validate(spec)?;
    let account = &facts.account_id;
    check_account(guard, account, "the controller's AWS account")?;
    let target_arn = match kind {
        TargetKind::Ecs => spec.target.ecs.as_ref().expect("kind").cluster_arn.clone(),
        TargetKind::StepFunctions => spec
            .target
            .step_functions
            .as_ref()
            .expect("kind")
            .state_machine_arn
            .clone(),
        TargetKind::Lambda => spec
            .target
            .lambda
            .as_ref()
            .expect("kind")
            .function_arn
            .clone(),
    };
    let target = Arn::parse(&target_arn).expect("validated");
    let partition = target.partition.clone();
    let region = &facts.region;
    if &target.account != account {
        return Err(PlanError::InvalidSpec(SpecError {
            field: target_field(kind).into(),
            message: format!(
                "the target is in account {} but the rule would be in account {account}; a target in another account needs cross-account forwarding (EventBridge cannot invoke ECS or Step Functions in another account directly)",
                target.account
            ),
        }));
    }
    if &target.region != region {
        return Err(PlanError::InvalidSpec(SpecError {
            field: target_field(kind).into(),
            message: format!("the target is in region {} but the rule is in {region}; set spec.region: {} (EventBridge targets are regional)", target.region, target.region),
        }));
    }

    let rule_name = rule_name(spec, owner);
    let bus = spec
        .rule
        .event_bus_name
        .clone()
        .unwrap_or_else(|| "default".into());
    let bus_name_only = bus.rsplit('/').next().unwrap_or(&bus).to_string();
    let rule_arn = if bus_name_only == "default" {
        format!("arn:{partition}:events:{region}:{account}:rule/{rule_name}")
    } else {
        format!("arn:{partition}:events:{region}:{account}:rule/{bus_name_only}/{rule_name}")
    };
    let rule = DesiredRule {
        name: rule_name.clone(),
        event_bus_name: bus,
        arn: rule_arn.clone(),
        description: spec.rule.description.clone(),
        event_pattern: spec.rule.event_pattern.clone(),
        schedule_expression: spec.rule.schedule_expression.clone(),
        enabled: spec.rule.enabled,
    };

    let role = plan_role(
        spec, owner, kind, account, &partition, &rule_arn, facts, guard,
    )?;
    let target_id = spec.target.id.clone().unwrap_or_else(|| "1".into());
    let shape = TargetShape {
        id: target_id,
        arn: target_arn.clone(),
        role_arn: role.arn().map(str::to_string),
        ecs: spec.target.ecs.as_ref().map(|e| EcsShape {
            task_definition_arn: e.task_definition_arn.clone(),
            task_count: e.task_count,
            launch_type: e.launch_type.as_str().into(),
            platform_version: e.platform_version.clone(),
            subnets: e
                .network_configuration
                .as_ref()
                .map(|n| n.subnets.clone())
                .unwrap_or_default(),
            security_groups: e
                .network_configuration
                .as_ref()
                .and_then(|n| n.security_groups.clone())
                .unwrap_or_default(),
            assign_public_ip: e
                .network_configuration
                .as_ref()
                .map(|n| format!("{:?}", n.assign_public_ip)),
        }),
        input: spec.target.input.clone(),
        input_path: spec.target.input_path.clone(),
        input_transformer: spec.target.input_transformer.as_ref().map(|t| {
            (
                t.input_paths_map.clone().unwrap_or_default(),
                t.input_template.clone(),
            )
        }),
        retry: spec
            .target
            .retry_policy
            .as_ref()
            .map(|r| (r.maximum_retry_attempts, r.maximum_event_age_in_seconds)),
        dead_letter_arn: spec.target.dead_letter_queue_arn.clone(),
    };
    let permission = (kind == TargetKind::Lambda).then(|| {
        let (function_name, qualifier) = split_function_arn(&target_arn);
        DesiredPermission {
            function_arn: target_arn.clone(),
            function_name,
            qualifier,
            statement_id: names::statement_id(&rule_name),
            source_arn: rule_arn.clone(),
            source_account: account.clone(),
        }
    });
    Ok(Desired {
        kind,
        account_id: account.clone(),
        region: region.clone(),
        tags: owner.tags(),
        rule,
        role,
        target: shape,
        permission,
    })
}

fn target_field(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Ecs => "spec.target.ecs.clusterArn",
        TargetKind::StepFunctions => "spec.target.stepFunctions.stateMachineArn",
        TargetKind::Lambda => "spec.target.lambda.functionArn",
    }
}

fn check_account(guard: &Guardrails, account: &str, what: &str) -> Result<(), PlanError> {
    if !guard.allowed_account_ids.is_empty()
        && !guard.allowed_account_ids.iter().any(|a| a == account)
    {
        return Err(PlanError::Guardrail(format!(
            "{what} {account} is not in the operator's allowed accounts ({}); ask the operator to add it to --allowed-account-ids",
            guard.allowed_account_ids.join(", ")
        )));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn plan_role(
    spec: &EventBridgeIntegrationSpec,
    owner: &Owner,
    kind: TargetKind,
    account: &str,
    partition: &str,
    rule_arn: &str,
    facts: &Facts,
    guard: &Guardrails,
) -> Result<DesiredRole, PlanError> {
    if kind == TargetKind::Lambda {
        return Ok(DesiredRole::NotNeeded);
    }
    let role_spec = spec.role.clone().unwrap_or_default();
    if let Some(arn) = role_spec.arn {
        let role_account = Arn::parse(&arn).map(|a| a.account).unwrap_or_default();
        check_account(guard, &role_account, "the account of spec.role.arn")?;
        return Ok(DesiredRole::BringYourOwn { arn });
    }
    let name = managed_role_name(spec, owner, guard);
    if let Some(prefix) = &guard.role_name_prefix {
        if !name.starts_with(prefix.as_str()) {
            return Err(PlanError::Guardrail(format!(
                "spec.role.name `{name}` does not start with the operator's required prefix `{prefix}`; rename it or omit it to get a derived name"
            )));
        }
    }
    let path = match (&role_spec.path, &guard.role_path) {
        (Some(p), Some(required)) if p != required => {
            return Err(PlanError::Guardrail(format!("spec.role.path `{p}` differs from the operator's required path `{required}`; omit spec.role.path")));
        }
        (Some(p), _) => p.clone(),
        (None, Some(required)) => required.clone(),
        (None, None) => "/".into(),
    };
    let boundary = match (
        &role_spec.permissions_boundary_arn,
        &guard.permissions_boundary_arn,
    ) {
        (Some(b), Some(required)) if b != required => {
            return Err(PlanError::Guardrail(format!(
                "spec.role.permissionsBoundaryArn `{b}` differs from the operator's mandatory boundary `{required}`; omit it"
            )));
        }
        (Some(b), _) => Some(b.clone()),
        (None, required) => required.clone(),
    };
    let trust_policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "EventBridgeRuleOnly",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnEquals": {"aws:SourceArn": rule_arn}
            }
        }]
    });
    let statements = match kind {
        TargetKind::Ecs => {
            let ecs = spec.target.ecs.as_ref().expect("kind");
            let resource = match ecs.task_definition_scope {
                TaskDefinitionScope::Family => family_pattern(&ecs.task_definition_arn),
                TaskDefinitionScope::Revision => ecs.task_definition_arn.clone(),
            };
            let mut s = vec![json!({
                "Sid": "RunTask",
                "Effect": "Allow",
                "Action": "ecs:RunTask",
                "Resource": resource,
                "Condition": {"ArnEquals": {"ecs:cluster": ecs.cluster_arn}}
            })];
            let mut pass: Vec<String> = ecs
                .pass_role_arns
                .clone()
                .or_else(|| facts.task_roles.clone())
                .unwrap_or_default();
            pass.sort();
            pass.dedup();
            if !pass.is_empty() {
                s.push(json!({
                    "Sid": "PassTaskRoles",
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": pass,
                    "Condition": {"StringLike": {"iam:PassedToService": ECS_TASKS_SERVICE}}
                }));
            }
            s
        }
        TargetKind::StepFunctions => vec![json!({
            "Sid": "StartExecution",
            "Effect": "Allow",
            "Action": "states:StartExecution",
            "Resource": spec.target.step_functions.as_ref().expect("kind").state_machine_arn
        })],
        TargetKind::Lambda => unreachable!("handled above"),
    };
    let arn = format!("arn:{partition}:iam::{account}:role{path}{name}");
    Ok(DesiredRole::Managed(ManagedRole {
        name,
        path,
        arn,
        trust_policy,
        policy: json!({"Version": "2012-10-17", "Statement": statements}),
        permissions_boundary_arn: boundary,
    }))
}
