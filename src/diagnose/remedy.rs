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

/// `aws iam update-assume-role-policy` setting `policy`.
pub fn update_trust_to(role_arn: &str, policy: &Value) -> String {
    format!(
        "aws iam update-assume-role-policy --role-name {} --policy-document '{policy}'",
        role_name(role_arn),
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

/// The statement a role needs to call `action` on exactly `target_arn`.
pub fn invoke_statement(action: &str, target_arn: &str) -> Value {
    json!({"Effect": "Allow", "Action": action, "Resource": target_arn})
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

/// The queue-policy statement that lets EventBridge deliver one rule's failed events to its
/// dead-letter queue; the controller writes the same one.
pub use crate::iam::documents::dead_letter_queue_statement;

/// A statement ID unique to one rule, stable across passes, and alphanumeric as policy
/// grammars require: `EventBridgeDlq` and the first 16 hex digits of SHA-256(rule ARN).
pub fn dead_letter_queue_sid(rule_arn: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(rule_arn.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("EventBridgeDlq{hex}")
}

/// The queue-policy statement that lets EventBridge send one rule's events to its target
/// queue (the controller writes the same shape under its own Sid).
pub fn sqs_target_statement(statement_id: &str, queue_arn: &str, rule_arn: &str) -> Value {
    dead_letter_queue_statement(statement_id, queue_arn, rule_arn)
}

/// As [`dead_letter_queue_sid`], for the target queue's statement: `EventBridgeSqs` and the
/// first 16 hex digits of SHA-256(rule ARN).
pub fn sqs_target_sid(rule_arn: &str) -> String {
    dead_letter_queue_sid(rule_arn).replacen("EventBridgeDlq", "EventBridgeSqs", 1)
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME` → `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`.
pub fn queue_url(queue_arn: &str) -> String {
    match Arn::parse(queue_arn) {
        Ok(a) => format!(
            "https://sqs.{}.amazonaws.com/{}/{}",
            a.region, a.account, a.resource
        ),
        Err(_) => queue_arn.to_string(),
    }
}

/// Adding one statement to a queue policy. `set-queue-attributes` replaces the whole policy,
/// so the fix says to merge: the queue's other statements must be kept.
pub fn add_queue_statement(queue_arn: &str, statement: &Value) -> String {
    format!(
        "Add this statement to the policy of queue {queue_arn}, keeping its other statements:\n{}\nthen: aws sqs set-queue-attributes --queue-url {} --attributes file://attributes.json  (attributes.json: {{\"Policy\": \"<the whole policy as JSON text>\"}})",
        serde_json::to_string_pretty(statement).unwrap_or_default(),
        queue_url(queue_arn)
    )
}

/// As [`sqs_target_sid`], for a target topic's statement: `EventBridgeSns` and the first 16
/// hex digits of SHA-256(rule ARN).
pub fn sns_target_sid(rule_arn: &str) -> String {
    dead_letter_queue_sid(rule_arn).replacen("EventBridgeDlq", "EventBridgeSns", 1)
}

/// The statement of a topic's policy that lets `rule_arn` publish to it.
pub fn sns_target_statement(statement_id: &str, topic_arn: &str, rule_arn: &str) -> Value {
    json!({
        "Sid": statement_id,
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}
    })
}

pub fn logs_target_sid(rule_arn: &str) -> String {
    dead_letter_queue_sid(rule_arn).replacen("EventBridgeDlq", "EventBridgeLogs", 1)
}

/// Adding one statement to a CloudWatch Logs resource policy of the account (at most 10 a
/// region, 5,120 characters each): `put-resource-policy` replaces the named policy whole.
pub fn put_logs_resource_policy(statement: &Value) -> String {
    format!(
        "Add this statement to a CloudWatch Logs resource policy of the account (keeping that policy's other statements), or to a new one:\n{}\nthen: aws logs put-resource-policy --policy-name NAME --policy-document file://policy.json  (policy.json: the whole policy; aws logs describe-resource-policies lists the account's)",
        serde_json::to_string_pretty(statement).unwrap_or_default()
    )
}

/// Adding one statement to a topic policy: `set-topic-attributes` replaces the whole policy,
/// so the topic's other statements must be kept.
pub fn add_topic_statement(topic_arn: &str, statement: &Value) -> String {
    format!(
        "Add this statement to the policy of topic {topic_arn}, keeping its other statements:\n{}\nthen: aws sns set-topic-attributes --topic-arn {topic_arn} --attribute-name Policy --attribute-value file://policy.json  (policy.json: the whole policy)",
        serde_json::to_string_pretty(statement).unwrap_or_default()
    )
}

/// The key-policy statement that lets EventBridge write to an SQS queue encrypted with a
/// customer managed key ("Configure KMS permissions for AWS services", SQS developer guide).
pub fn dead_letter_key_statement() -> Value {
    json!({
        "Sid": "EventBridgeDeadLetterQueue",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": "*"
    })
}
