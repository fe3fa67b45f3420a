//! Remediation texts: the JSON statement to add or the `aws` CLI command to run, in the
//! style of AWS's troubleshooting guides. Pure string building, kept apart from the checks.

use serde_json::{json, Value};

use crate::iam::Arn;
// Policy and ARN builders shared with the planner live in the policy language itself.
pub use crate::iam::arn::{family_pattern, split_function_arn};
pub use crate::iam::documents::events_trust_policy;

pub fn role_name(role_arn: &str) -> String {
    Arn::parse(role_arn)
        .map(|a| a.resource_name().to_string())
        .unwrap_or_else(|_| role_arn.to_string())
}

pub fn update_trust(role_arn: &str, account: &str, rule_arn: &str) -> String {
    format!(
        "aws iam update-assume-role-policy --role-name {} --policy-document '{}'",
        role_name(role_arn),
        events_trust_policy(account, rule_arn)
    )
}

/// `aws iam put-role-policy` granting one statement.
pub fn put_statement(role_arn: &str, policy_name: &str, statement: Value) -> String {
    let doc = json!({"Version": "2012-10-17", "Statement": [statement]});
    format!(
        "Add this statement to a policy of role {role}:\n{stmt}\nfor example: aws iam put-role-policy --role-name {role} --policy-name {policy_name} --policy-document '{doc}'",
        role = role_name(role_arn),
        stmt = serde_json::to_string_pretty(&doc["Statement"][0]).unwrap_or_default(),
    )
}

pub fn run_task_statement(task_definition_arn: &str, cluster_arn: &str) -> Value {
    json!({
        "Effect": "Allow",
        "Action": "ecs:RunTask",
        "Resource": family_pattern(task_definition_arn),
        "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn}}
    })
}

pub fn pass_role_statement(role_arns: &[String]) -> Value {
    json!({
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": role_arns,
        "Condition": {"StringLike": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    })
}

pub fn start_execution_statement(state_machine_arn: &str) -> Value {
    json!({"Effect": "Allow", "Action": "states:StartExecution", "Resource": state_machine_arn})
}

/// `aws lambda add-permission` for the exact ARN the target uses.
pub fn add_lambda_permission(
    function_arn: &str,
    statement_id: &str,
    rule_arn: &str,
    account: &str,
) -> String {
    let (name, qualifier) = split_function_arn(function_arn);
    let qualifier = qualifier
        .map(|q| format!(" --qualifier {q}"))
        .unwrap_or_default();
    format!(
        "aws lambda add-permission --function-name {name}{qualifier} --statement-id {statement_id} --action lambda:InvokeFunction --principal events.amazonaws.com --source-arn {rule_arn} --source-account {account}"
    )
}
