//! An ECS task: RunTask on the task definition in the cluster, and PassRole for the task's
//! roles (EventBridge passes them to ECS).

use serde_json::{json, Value};

use super::super::validate::{bad, check_arn, SpecError};
use super::super::{EcsShape, Facts, ECS_TASKS_SERVICE};
use super::KindFacts;
use crate::api::{CrossAccountMode, EcsTarget, LaunchType, TargetKind, TaskDefinitionScope};
use crate::iam::arn::family_pattern;
use crate::iam::Arn;

pub(super) const FIELD: &str = "spec.target.ecs.clusterArn";

pub(super) const FACTS: KindFacts = KindFacts {
    kind: TargetKind::Ecs,
    spec_field: "ecs",
    label: "ECS",
    service: "ecs",
    resource_prefix: "",
    role_actions: &["ecs:RunTask"],
    invoked_with_role: true,
    scheduler_actions: &["ecs:RunTask"],
    eventbridge_delivers_across_accounts: false,
    built_across_accounts: &[CrossAccountMode::EventBusForwarding],
};

pub(super) fn validate(ecs: &EcsTarget) -> Result<Arn, SpecError> {
    let cluster = check_arn(FIELD, &ecs.cluster_arn, "ecs", "cluster/")?;
    let td = check_arn(
        "spec.target.ecs.taskDefinitionArn",
        &ecs.task_definition_arn,
        "ecs",
        "task-definition/",
    )?;
    if ecs.task_definition_scope == TaskDefinitionScope::Revision && !td.resource.contains(':') {
        return Err(bad("spec.target.ecs.taskDefinitionArn", "taskDefinitionScope Revision needs a revision in the ARN (…:task-definition/NAME:REVISION)"));
    }
    if !(1..=10).contains(&ecs.task_count) {
        return Err(bad("spec.target.ecs.taskCount", "must be 1-10"));
    }
    if ecs.launch_type == LaunchType::FARGATE && ecs.network_configuration.is_none() {
        return Err(bad(
            "spec.target.ecs.networkConfiguration",
            "FARGATE tasks use awsvpc networking: set networkConfiguration.subnets",
        ));
    }
    if let Some(n) = &ecs.network_configuration {
        if n.subnets.is_empty() || n.subnets.len() > 16 {
            return Err(bad(
                "spec.target.ecs.networkConfiguration.subnets",
                "list 1-16 subnet IDs",
            ));
        }
    }
    for (i, r) in ecs.pass_role_arns.iter().flatten().enumerate() {
        check_arn(
            &format!("spec.target.ecs.passRoleArns[{i}]"),
            r,
            "iam",
            "role/",
        )?;
    }
    Ok(cluster)
}

/// RunTask on the task definition (its family, or the one revision) in this cluster only,
/// and PassRole for the task's roles, to ECS tasks only.
pub(super) fn invoke_statements(ecs: &EcsTarget, facts: &Facts) -> Vec<Value> {
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
        .or_else(|| facts.task_roles.get(&ecs.task_definition_arn).cloned())
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

pub(super) fn parameters(e: &EcsTarget) -> EcsShape {
    let network = e.network_configuration.as_ref();
    EcsShape {
        task_definition_arn: e.task_definition_arn.clone(),
        task_count: e.task_count,
        launch_type: e.launch_type.as_str().into(),
        platform_version: e.platform_version.clone(),
        subnets: network.map(|n| n.subnets.clone()).unwrap_or_default(),
        security_groups: network
            .and_then(|n| n.security_groups.clone())
            .unwrap_or_default(),
        assign_public_ip: network.map(|n| format!("{:?}", n.assign_public_ip)),
    }
}
