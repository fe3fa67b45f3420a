//! An integration whose target is in another account: both halves, each in its own
//! account. Bus to bus (EventBusForwarding: this rule forwards to the target account's bus,
//! where a rule of the same name invokes the target) reaches every kind; direct delivery
//! (DirectDelivery, and RoleChain's older name for it) reaches the kinds EventBridge invokes
//! in another account of the rule's region with this account's execution role, which the
//! target's own policy names.

use std::collections::BTreeMap;

use serde_json::json;

use super::{
    check_account, invalid, managed_role, names, plan_workload, target_shape, validate, Desired,
    DesiredBusPermission, DesiredRole, DesiredRule, Facts, PartKind, Placed, Plan, PlanError,
    TargetShape, ValidTarget,
};
use crate::api::EventBridgeIntegrationSpec;
use crate::api::{CrossAccountMode, CrossAccountSpec};
use crate::iam::documents::events_trust_policy;
use crate::iam::{AccountId, RoleArn, RuleArn};

pub(super) fn plan(
    placed: Placed<'_>,
    x: &CrossAccountSpec,
    target_account: Option<AccountId>,
) -> Result<Plan, PlanError> {
    let remote_account = remote_account(&placed, target_account)?;
    match super::cross_account_mode(placed.spec).unwrap_or(CrossAccountMode::EventBusForwarding) {
        CrossAccountMode::EventBusForwarding => forward_bus_to_bus(placed, x, remote_account),
        mode @ (CrossAccountMode::DirectDelivery | CrossAccountMode::RoleChain) => {
            deliver_directly(placed, x, remote_account, mode)
        }
    }
}

/// The target's account, once `spec.crossAccount` is shown to reach it: named, another
/// account than the controller's, the target's, allowed, with a provisioning role there.
fn remote_account(
    placed: &Placed<'_>,
    target_account: Option<AccountId>,
) -> Result<AccountId, PlanError> {
    let Placed {
        spec,
        facts,
        guard,
        workload,
        target,
        ..
    } = placed;
    let account = &facts.account_id;
    let Some(remote_account) = target_account else {
        return Err(invalid(
            "spec.crossAccount.targetAccountId",
            "required with spec.crossAccount",
        ));
    };
    if remote_account == *account {
        return Err(invalid(
            "spec.crossAccount.targetAccountId",
            format!("{remote_account} is the controller's own account; remove spec.crossAccount"),
        ));
    }
    if target.account != remote_account {
        return Err(invalid(workload.field(), format!("the target is in account {}, not in spec.crossAccount.targetAccountId {remote_account}", target.account)));
    }
    let provisioning_role = facts.provisioning_role_arn.as_deref().ok_or_else(|| {
        invalid(
            "spec.crossAccount.provisioningRoleArn",
            "required: name the role the controller assumes in the target account",
        )
    })?;
    let provisioning = validate::check_arn(
        "spec.crossAccount.provisioningRoleArn",
        provisioning_role,
        "iam",
        "role/",
    )?;
    if provisioning.account != remote_account {
        return Err(invalid(
            "spec.crossAccount.provisioningRoleArn",
            format!(
                "must be a role in the target account {remote_account}, not {}",
                provisioning.account
            ),
        ));
    }
    check_account(guard, &remote_account, "the target account")?;
    if spec.role.as_ref().is_some_and(|r| r.arn.is_some()) {
        return Err(invalid("spec.role.arn", "a bring-your-own role is not supported with spec.crossAccount; the controller creates the roles in both accounts"));
    }
    Ok(remote_account)
}

/// EventBusForwarding: the rule here forwards to the target account's bus with a role that
/// may only put events there; the bus's policy admits that role; a rule there of the same
/// name invokes the target as in one account.
fn forward_bus_to_bus(
    placed: Placed<'_>,
    x: &CrossAccountSpec,
    remote_account: AccountId,
) -> Result<Plan, PlanError> {
    let Placed {
        spec,
        owner,
        facts,
        guard,
        workload,
        target,
        own_role,
        local_rule,
    } = placed;
    let (account, region) = (facts.account_id.clone(), facts.region.clone());
    let partition = target.partition.clone();
    let tags = owner.tags();
    let mode = CrossAccountMode::EventBusForwarding;
    if x.target_role_name.is_some() {
        return Err(invalid(
            "spec.crossAccount.targetRoleName",
            "no role is created in the target account (EventBridge never assumes one there); remove it",
        ));
    }
    let target_bus = x
        .target_event_bus_name
        .clone()
        .unwrap_or_else(|| "default".into());
    let bus_name = target_bus
        .rsplit('/')
        .next()
        .unwrap_or(&target_bus)
        .to_string();
    let bus_arn = format!("arn:{partition}:events:{region}:{remote_account}:event-bus/{bus_name}");
    let remote_rule = forwarded_rule(spec, &local_rule, &remote_account, &target_bus);
    let remote_facts = Facts {
        account_id: remote_account.clone(),
        region: region.clone(),
        task_roles: facts.task_roles.clone(),
        provisioning_role_arn: None,
        recorded_roles: facts.recorded_roles.clone(),
        connection_secrets: BTreeMap::new(),
    };
    let mut remote = plan_workload(
        spec,
        owner,
        workload,
        &target,
        own_role,
        &remote_account,
        &region,
        remote_rule,
        &remote_facts,
        guard,
    )?;
    let role = managed_role(
        spec,
        owner,
        guard,
        (&partition, &account),
        events_trust_policy(&account, &local_rule.arn),
        vec![
            json!({"Sid": "ForwardToTargetBus", "Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn}),
        ],
        &facts.recorded_roles,
    )?;
    remote.bus_permission = Some(bus_permission(
        &local_rule.arn,
        target_bus,
        bus_arn.clone(),
        &role.arn,
    ));
    let target = TargetShape {
        id: spec.target.id.clone().unwrap_or_else(|| "1".into()),
        arn: bus_arn,
        role_arn: Some(role.arn.to_string()),
        ..Default::default()
    };
    let local = Desired {
        kind: PartKind::ForwardingRule,
        account_id: account,
        region,
        tags,
        rule: Some(local_rule),
        role: DesiredRole::Managed(role),
        targets: vec![target],
        permissions: vec![],
        bus_permission: None,
        queue_permissions: vec![],
        api_destinations: vec![],
        schedule: None,
    };
    Ok(Plan {
        local,
        remote: Some(remote),
        mode: Some(mode),
        chain: None,
    })
}

/// The rule in the target account: on its bus, matching what the source rule forwards (the
/// same pattern, or for a schedule, the scheduled events of exactly that rule).
fn forwarded_rule(
    spec: &EventBridgeIntegrationSpec,
    local_rule: &DesiredRule,
    remote_account: &AccountId,
    target_bus: &str,
) -> DesiredRule {
    let here = &local_rule.arn;
    let event_pattern = match &spec.rule.schedule_expression {
        Some(_) => Some(
            json!({"source": ["aws.events"], "detail-type": ["Scheduled Event"], "resources": [here]}),
        ),
        None => spec.rule.event_pattern.clone(),
    };
    DesiredRule {
        arn: RuleArn::new(
            here.partition(),
            here.region(),
            remote_account,
            target_bus,
            &local_rule.name,
        ),
        name: local_rule.name.clone(),
        event_bus_name: target_bus.to_string(),
        description: Some(format!(
            "Forwarded from {here} in account {}",
            here.account()
        )),
        event_pattern,
        schedule_expression: None,
        enabled: spec.rule.enabled,
    }
}

/// Our statement in the target bus's policy: one per integration, admitting its forwarding
/// role only. The policy is written whole (others' statements kept as they are), so
/// statements of one source account do not evict each other and none admits the whole
/// account.
fn bus_permission(
    local_rule: &RuleArn,
    event_bus_name: String,
    event_bus_arn: String,
    forwarding_role: &RoleArn,
) -> DesiredBusPermission {
    let statement_id = names::bus_statement_id(local_rule);
    let (partition, account) = (forwarding_role.partition(), forwarding_role.account());
    DesiredBusPermission {
        statement: crate::iam::documents::forwarding_bus_statement(
            &statement_id,
            &event_bus_arn,
            partition,
            account,
            forwarding_role,
        ),
        partition: partition.clone(),
        event_bus_name,
        event_bus_arn,
        statement_id,
        principal_account: account.clone(),
        principal_role_arn: forwarding_role.clone(),
    }
}

/// DirectDelivery: the rule here targets the resource in the other account with this
/// account's execution role, and the target's own policy (written there through the
/// provisioning role) names that role.
fn deliver_directly(
    placed: Placed<'_>,
    x: &CrossAccountSpec,
    remote_account: AccountId,
    mode: CrossAccountMode,
) -> Result<Plan, PlanError> {
    let Placed {
        spec,
        owner,
        facts,
        guard,
        workload,
        target,
        local_rule,
        ..
    } = placed;
    let (account, region) = (facts.account_id.clone(), facts.region.clone());
    let partition = target.partition.clone();
    let rule_name = local_rule.name.clone();
    let tags = owner.tags();
    if x.target_event_bus_name.is_some() {
        return Err(invalid(
            "spec.crossAccount.targetEventBusName",
            "applies to mode EventBusForwarding; remove it for DirectDelivery",
        ));
    }
    if x.target_role_name.is_some() && mode == CrossAccountMode::DirectDelivery {
        return Err(invalid(
            "spec.crossAccount.targetRoleName",
            "no role is created in the target account (EventBridge never assumes one there); remove it",
        ));
    }
    // EventBridge delivers with this execution role itself, which the target's own
    // policy names; it never assumes a role of the target's account, so none is
    // created there (`targetRoleName` is ignored; RoleChain's role of an earlier
    // version leaves with the record).
    let statements = match workload {
        ValidTarget::Lambda(lambda) => vec![
            json!({"Sid": "InvokeCrossAccount", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": lambda.function_arn}),
        ],
        other => other.invoke_statements(&target, facts, &local_rule.arn),
    };
    let source = managed_role(
        spec,
        owner,
        guard,
        (&partition, &account),
        events_trust_policy(&account, &local_rule.arn),
        statements,
        &facts.recorded_roles,
    )?;
    let shape = target_shape(
        spec,
        workload,
        &target,
        &local_rule.arn,
        Some(source.arn.to_string()),
    );
    let remote = Desired {
        kind: PartKind::Workload(workload.kind()),
        account_id: remote_account,
        region: region.clone(),
        tags: tags.clone(),
        rule: None,
        role: DesiredRole::NotNeeded,
        targets: vec![],
        permissions: workload
            .resource_permission(
                names::owned_statement_id(&rule_name, &local_rule.arn, &owner.uid),
                &source.arn,
                None,
            )?
            .into_iter()
            .collect(),
        bus_permission: None,
        queue_permissions: workload
            .direct_queue_permission(&target, &local_rule, owner, &source.arn)
            .into_iter()
            .collect(),
        api_destinations: vec![],
        schedule: None,
    };
    let local = Desired {
        kind: PartKind::Workload(workload.kind()),
        account_id: account,
        region,
        tags,
        rule: Some(local_rule),
        role: DesiredRole::Managed(source),
        targets: vec![shape],
        permissions: vec![],
        bus_permission: None,
        queue_permissions: vec![],
        api_destinations: vec![],
        schedule: None,
    };
    Ok(Plan {
        local,
        remote: Some(remote),
        mode: Some(mode),
        chain: None,
    })
}
