//! A CloudWatch Logs log group: no role of EventBridge's (AWS ignores one for this kind), a
//! statement in a CloudWatch Logs resource policy instead. Log groups have no policy of
//! their own in that API: an account and region holds at most 10 resource policies, each of
//! at most 5,120 characters, that grant its log groups. The controller keeps its statements
//! in one policy of its own name ([`POLICY_NAME`]), one statement per integration (principal
//! `events.amazonaws.com` and `delivery.logs.amazonaws.com`, as AWS's example grants,
//! `logs:CreateLogStream` and `logs:PutLogEvents` on the log group, `aws:SourceArn` = the
//! rule), rewritten whole with every other statement kept: the path SQS queues and SNS topics
//! take (`PolicyHolder::LogsPolicy`). The other policies of the account are never written.

use serde_json::{json, Value};

use super::super::validate::{bad, check_arn, SpecError};
use super::super::{names, DesiredQueuePermission, DesiredRule, Owner, QueuePurpose};
use super::KindFacts;
use crate::api::{EventBridgeIntegrationSpec, LogsTarget, TargetKind};
use crate::iam::{AccountArn, Arn};

pub(super) const FIELD: &str = "spec.target.logs.logGroupArn";

pub(super) const FACTS: KindFacts = KindFacts {
    kind: TargetKind::Logs,
    spec_field: "logs",
    label: "CloudWatch Logs",
    service: "logs",
    resource_prefix: "log-group:",
    role_actions: &["logs:CreateLogStream", "logs:PutLogEvents"],
    invoked_with_role: false,
    scheduler_actions: &[],
    eventbridge_delivers_across_accounts: false,
    built_across_accounts: &[],
};

/// The CloudWatch Logs resource policy that holds the controller's statements.
pub const POLICY_NAME: &str = "EventBridgeIntegrationController";

/// CloudWatch Logs' limit on a log group's name.
const MAX_GROUP_NAME: usize = 512;

/// The log group's ARN without IAM's `:*` (the form a rule's target takes).
pub(super) fn group_arn(logs: &LogsTarget) -> &str {
    logs.log_group_arn.trim_end_matches(":*")
}

/// Checks the log group's ARN and what the kind rules out elsewhere in `spec` (a role,
/// `spec.crossAccount`). The log group's ARN, parsed.
pub(super) fn validate(
    logs: &LogsTarget,
    spec: &EventBridgeIntegrationSpec,
) -> Result<Arn, SpecError> {
    let group = check_arn(FIELD, group_arn(logs), "logs", "log-group:")?;
    let name = &group.resource["log-group:".len()..];
    let name_ok = !name.is_empty()
        && name.len() <= MAX_GROUP_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '.' | '#' | '-'));
    if !name_ok {
        return Err(bad(
            FIELD,
            format!(
                "`{}` names no log group; expected arn:aws:logs:REGION:ACCOUNT_ID:log-group:NAME (1 to {MAX_GROUP_NAME} letters, digits, _, /, ., # and -)",
                logs.log_group_arn
            ),
        ));
    }
    if spec.role.is_some() {
        return Err(bad(
            "spec.role",
            "CloudWatch Logs targets are written to through the account's logs resource policy, not a role; remove spec.role",
        ));
    }
    if spec.cross_account.is_some() {
        return Err(bad(FIELD, "cross-account delivery to a log group is not supported; use a log group in the rule's account and remove spec.crossAccount"));
    }
    Ok(group)
}

/// What the resource policy grants EventBridge, for a role (never used: no role, no chain).
pub(super) fn invoke_statements(logs: &LogsTarget) -> Vec<Value> {
    vec![json!({
        "Sid": "WriteLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": format!("{}:*", group_arn(logs))
    })]
}

/// The ARN by which the planner names the holder: the policy [`POLICY_NAME`] of the log
/// group's account and region (CloudWatch Logs gives resource policies no ARN).
pub fn holder_arn(partition: &str, region: &str, account: &str) -> String {
    format!("arn:{partition}:logs:{region}:{account}:resource-policy:{POLICY_NAME}")
}

/// The target's statement in the controller's resource policy, under the owner's statement
/// ID for the rule (`#target`, as for SQS and SNS targets).
pub(super) fn permission(
    logs: &LogsTarget,
    group: &AccountArn,
    rule: &DesiredRule,
    owner: &Owner,
) -> DesiredQueuePermission {
    let statement_id =
        names::owned_statement_id(&rule.name, &format!("{}#target", rule.arn), &owner.uid);
    let (partition, region, account) = (&group.partition, &group.region, &group.account);
    DesiredQueuePermission {
        purpose: QueuePurpose::LogGroupTarget,
        statement: crate::iam::documents::logs_target_statement(
            &statement_id,
            group_arn(logs),
            &rule.arn,
        ),
        queue_arn: holder_arn(partition, region, account),
        queue_name: POLICY_NAME.to_string(),
        queue_account: account.clone(),
        statement_id,
        proof: rule.arn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP: &str = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/orders";

    fn spec(extra: Value) -> EventBridgeIntegrationSpec {
        let mut v = json!({"rule": {"scheduleExpression": "rate(5 minutes)"},
            "target": {"logs": {"logGroupArn": GROUP}}});
        if let Value::Object(m) = extra {
            for (k, x) in m {
                v[k] = x;
            }
        }
        serde_json::from_value(v).unwrap()
    }

    fn check(arn: &str, extra: Value) -> Result<Arn, SpecError> {
        let mut spec = spec(extra);
        spec.target.logs.as_mut().unwrap().log_group_arn = arn.into();
        validate(spec.target.logs.as_ref().unwrap(), &spec)
    }

    #[test]
    fn a_log_group_with_or_without_iams_star_is_the_same_group() {
        assert_eq!(
            check(GROUP, json!({})).unwrap().resource,
            "log-group:/aws/events/orders"
        );
        assert_eq!(
            check(&format!("{GROUP}:*"), json!({})).unwrap().resource,
            "log-group:/aws/events/orders"
        );
    }

    #[test]
    fn bad_input_names_the_field_and_the_fix() {
        for (arn, extra, field, words) in [
            (
                "arn:aws:logs:us-east-1::log-group:/a",
                json!({}),
                FIELD,
                "12-digit account ID",
            ),
            (
                "arn:aws:logs:us-east-1:123456789012:log-group:a b",
                json!({}),
                FIELD,
                "names no log group",
            ),
            (
                "arn:aws:logs:us-east-1:123456789012:destination:d",
                json!({}),
                FIELD,
                "not a logs log-group:",
            ),
            (
                GROUP,
                json!({"role": {"name": "r"}}),
                "spec.role",
                "not a role",
            ),
        ] {
            let err = check(arn, extra).expect_err(arn).to_string();
            assert!(err.contains(field) && err.contains(words), "{arn}: {err}");
        }
    }

    #[test]
    fn the_statement_admits_this_rule_to_this_group_in_the_controllers_policy() {
        let spec = spec(json!({}));
        let rule = DesiredRule {
            arn: crate::iam::RuleArn::parse("arn:aws:events:us-east-1:123456789012:rule/r")
                .unwrap(),
            name: "r".into(),
            event_bus_name: "default".into(),
            description: None,
            event_pattern: None,
            schedule_expression: Some("rate(5 minutes)".into()),
            enabled: true,
        };
        let owner = Owner {
            cluster: String::new(),
            namespace: "ns".into(),
            name: "n".into(),
            uid: "8d3f6c1e-0000-4000-8000-000000000000".into(),
        };
        let logs = spec.target.logs.as_ref().unwrap();
        let home = "123456789012".parse().unwrap();
        let group = AccountArn::in_account(Arn::parse(group_arn(logs)).unwrap(), &home).unwrap();
        let p = permission(logs, &group, &rule, &owner);
        assert_eq!(p.queue_name, POLICY_NAME);
        assert_eq!(
            p.queue_arn,
            "arn:aws:logs:us-east-1:123456789012:resource-policy:EventBridgeIntegrationController"
        );
        assert_eq!(p.holder(), crate::plan::PolicyHolder::LogsPolicy);
        assert_eq!(p.statement["Resource"], format!("{GROUP}:*"));
        assert_eq!(
            p.statement["Condition"]["ArnEquals"]["aws:SourceArn"],
            rule.arn.as_str()
        );
    }
}
