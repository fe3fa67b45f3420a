//! An SNS topic: no role of EventBridge's (like SQS), a statement in the topic's policy
//! instead (principal `events.amazonaws.com`, `sns:Publish` on the topic, `SourceArn` = the
//! rule), and `SqsParameters.MessageGroupId` on the rule's target for a FIFO topic (EventBridge
//! uses that block for FIFO topics too). Its statement is one contribution to
//! `Desired::queue_permissions`, the list of our statements in resource policies that are
//! rewritten whole (SQS queues, SNS topics): a holder is a queue or a topic by its ARN's
//! service. A topic in another account of the rule's region is delivered to directly (mode
//! DirectDelivery): the rule account's execution role gets `sns:Publish`, and the topic's
//! policy names that role ([`direct_permission`]).

use serde_json::{json, Value};

use super::super::validate::{bad, check_arn, SpecError};
use super::super::{names, DesiredQueuePermission, DesiredRule, Owner, QueuePurpose};
use super::KindFacts;
use crate::api::{CrossAccountMode, EventBridgeIntegrationSpec, SnsTarget, TargetKind};
use crate::iam::{AccountArn, Arn};

pub(super) const FIELD: &str = "spec.target.sns.topicArn";

pub(super) const FACTS: KindFacts = KindFacts {
    kind: TargetKind::Sns,
    spec_field: "sns",
    label: "SNS",
    service: "sns",
    resource_prefix: "",
    role_actions: &["sns:Publish"],
    invoked_with_role: false,
    scheduler_actions: &["sns:Publish"],
    eventbridge_delivers_across_accounts: true,
    built_across_accounts: &[CrossAccountMode::DirectDelivery],
};
pub(super) const GROUP_FIELD: &str = "spec.target.sns.messageGroupId";

/// `SqsParameters.MessageGroupId`'s limit in EventBridge's API, in characters.
const MAX_GROUP_ID: usize = 100;

/// SNS's limit on a topic's name (a FIFO topic's `.fifo` included).
const MAX_TOPIC_NAME: usize = 256;

/// Checks the topic's ARN and `messageGroupId` against the topic's type (FIFO: name ends in
/// `.fifo`): required for a FIFO topic, refused for a standard one. The topic's ARN, parsed.
pub(super) fn validate(topic_arn: &str, message_group_id: Option<&str>) -> Result<Arn, SpecError> {
    let topic = check_arn(FIELD, topic_arn, "sns", "")?;
    let name_ok = !topic.resource.is_empty()
        && topic.resource.chars().count() <= MAX_TOPIC_NAME
        && topic
            .resource
            .trim_end_matches(".fifo")
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(bad(
            FIELD,
            format!(
                "`{topic_arn}` names no topic; expected arn:aws:sns:REGION:ACCOUNT_ID:TOPIC_NAME (1 to 256 letters, digits, - and _, a FIFO topic's ending in .fifo)"
            ),
        ));
    }
    let fifo = topic.resource.ends_with(".fifo");
    match (fifo, message_group_id) {
        (true, None) => Err(bad(GROUP_FIELD, format!("the topic `{}` is FIFO (its name ends in .fifo) and EventBridge needs a message group ID to publish to it; set {GROUP_FIELD}", topic.resource))),
        (true, Some(g)) if g.is_empty() || g.chars().count() > MAX_GROUP_ID => Err(bad(
            GROUP_FIELD,
            format!("must be 1 to {MAX_GROUP_ID} characters; set a shorter, non-empty message group ID"),
        )),
        (false, Some(_)) => Err(bad(GROUP_FIELD, format!("the topic `{}` is a standard topic and EventBridge's MessageGroupId applies only to FIFO topics (name ending in .fifo); remove {GROUP_FIELD}", topic.resource))),
        _ => Ok(topic),
    }
}

/// Checks the kind's fields and what it rules out elsewhere in `spec`: a role (the topic's
/// policy admits EventBridge instead). The mode across accounts is checked from `FACTS`.
pub(super) fn validate_spec(
    sns: &SnsTarget,
    spec: &EventBridgeIntegrationSpec,
) -> Result<Arn, SpecError> {
    let topic = validate(&sns.topic_arn, sns.message_group_id.as_deref())?;
    // A schedule invokes every kind through a role, which spec.role may name or bring.
    if spec.role.is_some() && spec.schedule.is_none() {
        return Err(bad(
            "spec.role",
            "SNS targets are published to through the topic's policy, not a role; remove spec.role",
        ));
    }
    Ok(topic)
}

/// What the execution role needs for direct delivery to a topic in another account.
pub(super) fn invoke_statements(sns: &SnsTarget) -> Vec<Value> {
    vec![json!({
        "Sid": "Publish",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": sns.topic_arn
    })]
}

/// Scheduler's universal target that publishes to a topic (its ARN names no account: the
/// call's resource is the input's `TopicArn`).
pub(super) fn universal_publish_arn(partition: &str) -> String {
    format!("arn:{partition}:scheduler:::aws-sdk:sns:publish")
}

/// What a schedule sends to a FIFO topic. Scheduler's templated SNS target takes no message
/// group (its only FIFO block is SQS's), so the schedule calls SNS Publish itself through
/// the universal target, whose input is Publish's request: the group, and a deduplication ID
/// made of the schedule's name, a hash of its group and name
/// (`names::schedule_deduplication_prefix`) and the time the run was scheduled for. It is the
/// same for every retry of one run (Scheduler gives each attempt its own execution ID, so
/// that would not do), and differs between runs and between schedules publishing to the topic;
/// the topic needs no content-based deduplication. The message is the spec's input as JSON
/// text, as the templated target sends it, or one that names the schedule and the time it
/// fired for.
pub(super) fn scheduled_publish_request(
    sns: &SnsTarget,
    group_id: &str,
    deduplication_prefix: &str,
    input: Option<&Value>,
) -> Value {
    let message = input.map_or_else(
        || {
            json!({"schedule": "<aws.scheduler.schedule-arn>", "scheduledTime": "<aws.scheduler.scheduled-time>"})
                .to_string()
        },
        Value::to_string,
    );
    json!({
        "TopicArn": sns.topic_arn,
        "Message": message,
        "MessageGroupId": group_id,
        "MessageDeduplicationId": format!("{deduplication_prefix}@<aws.scheduler.scheduled-time>"),
    })
}

/// The target's statement in the topic's policy, under the owner's statement ID for the rule
/// (`#target` in the hashed ARN, as for an SQS target).
pub(super) fn permission(
    sns: &SnsTarget,
    topic: &AccountArn,
    rule: &DesiredRule,
    owner: &Owner,
) -> DesiredQueuePermission {
    let statement_id =
        names::owned_statement_id(&rule.name, &format!("{}#target", rule.arn), &owner.uid);
    DesiredQueuePermission {
        purpose: QueuePurpose::TopicTarget,
        statement: statement(&statement_id, &sns.topic_arn, &rule.arn),
        queue_arn: sns.topic_arn.clone(),
        queue_name: topic.resource.clone(),
        queue_account: topic.account.clone(),
        statement_id,
        proof: rule.arn.to_string(),
    }
}

/// Direct delivery to a topic of another account: the statement of the topic's policy that
/// lets the rule account's execution role `role_arn` publish to it (proven by that role).
pub(super) fn direct_permission(
    sns: &SnsTarget,
    topic: &AccountArn,
    rule: &DesiredRule,
    owner: &Owner,
    role_arn: &str,
) -> DesiredQueuePermission {
    super::naming_role(permission(sns, topic, rule, owner), "sns:Publish", role_arn)
}

/// The owned statement of the topic's policy that lets the rule publish to it.
pub(super) fn statement(statement_id: &str, topic_arn: &str, rule_arn: &str) -> Value {
    json!({
        "Sid": statement_id,
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STANDARD: &str = "arn:aws:sns:us-east-1:222222222222:orders";
    const FIFO: &str = "arn:aws:sns:us-east-1:222222222222:orders.fifo";

    #[test]
    fn fifo_topic_needs_a_message_group_id() {
        let e = validate(FIFO, None).unwrap_err();
        assert_eq!(e.field, GROUP_FIELD);
        assert!(
            e.message.contains("set spec.target.sns.messageGroupId"),
            "{}",
            e.message
        );
        assert_eq!(validate(FIFO, Some("g1")).unwrap().resource, "orders.fifo");
    }

    #[test]
    fn standard_topic_refuses_a_message_group_id() {
        let e = validate(STANDARD, Some("g1")).unwrap_err();
        assert_eq!(e.field, GROUP_FIELD);
        assert!(
            e.message.contains("remove spec.target.sns.messageGroupId"),
            "{}",
            e.message
        );
        assert_eq!(validate(STANDARD, None).unwrap().account, "222222222222");
    }

    #[test]
    fn empty_or_long_group_id_is_refused() {
        assert_eq!(validate(FIFO, Some("")).unwrap_err().field, GROUP_FIELD);
        let long = "g".repeat(MAX_GROUP_ID + 1);
        assert_eq!(validate(FIFO, Some(&long)).unwrap_err().field, GROUP_FIELD);
    }

    #[test]
    fn account_less_wrong_service_or_nameless_arns_are_refused() {
        let long = format!("arn:aws:sns:us-east-1:222222222222:{}", "t".repeat(257));
        for arn in [
            "arn:aws:sns:us-east-1::orders",
            "arn:aws:sqs:us-east-1:222222222222:orders",
            "arn:aws:sns:us-east-1:222222222222:",
            "arn:aws:sns:us-east-1:222222222222:orders:sub-id",
            long.as_str(),
            "orders",
        ] {
            let e = validate(arn, None).unwrap_err();
            assert_eq!(e.field, FIELD, "{arn}");
        }
    }

    #[test]
    fn statement_is_least_privilege_and_bound_to_the_rule() {
        let rule = "arn:aws:events:us-east-1:222222222222:rule/r";
        assert_eq!(
            statement("sid-1", STANDARD, rule),
            json!({
                "Sid": "sid-1",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": STANDARD,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule}}
            })
        );
    }

    fn planned(target: serde_json::Value) -> Result<crate::plan::Plan, crate::plan::PlanError> {
        let spec: EventBridgeIntegrationSpec = serde_json::from_value(json!({
            "rule": {"eventPattern": {"source": ["orders"]}},
            "target": target
        }))
        .unwrap();
        let owner = Owner {
            cluster: "c".into(),
            namespace: "team-a".into(),
            name: "orders".into(),
            uid: "uid-1".into(),
        };
        let facts = crate::plan::Facts::new(
            "222222222222".parse().unwrap(),
            "us-east-1".parse().unwrap(),
        );
        crate::plan::plan(&spec, &owner, &facts, &Default::default())
    }

    #[test]
    fn a_fifo_topic_is_planned_without_a_role_with_its_group_and_statement() {
        let plan = planned(json!({"sns": {"topicArn": FIFO, "messageGroupId": "g1"}})).unwrap();
        let d = &plan.local;
        assert_eq!(d.role, crate::plan::DesiredRole::NotNeeded);
        let target = d.targets.first().unwrap();
        assert_eq!(target.arn, FIFO);
        assert_eq!(target.role_arn, None);
        assert_eq!(target.parameters.message_group_id(), Some("g1"));
        assert_eq!(d.queue_permissions.len(), 1);
        let q = &d.queue_permissions[0];
        assert_eq!(q.purpose, QueuePurpose::TopicTarget);
        assert_eq!(q.holder(), crate::plan::PolicyHolder::Topic);
        assert_eq!(q.queue_name, "orders.fifo");
        assert_eq!(q.statement, statement(&q.statement_id, FIFO, &d.rule().arn));
        assert!(names::statement_id_of_owner(&q.statement_id, "uid-1"));
    }

    #[test]
    fn a_standard_topic_has_no_parameters_and_a_dead_letter_queue_is_its_own_holder() {
        let dlq = "arn:aws:sqs:us-east-1:222222222222:dlq";
        let plan =
            planned(json!({"sns": {"topicArn": STANDARD}, "deadLetterQueueArn": dlq})).unwrap();
        let d = &plan.local;
        assert_eq!(
            d.targets.first().unwrap().parameters,
            super::super::TargetParameters::None
        );
        let holders: Vec<_> = d
            .permitted_queues()
            .iter()
            .map(|q| (q.queue_arn.as_str(), q.holder()))
            .collect();
        assert_eq!(
            holders,
            vec![
                (STANDARD, crate::plan::PolicyHolder::Topic),
                (dlq, crate::plan::PolicyHolder::Queue)
            ]
        );
    }

    #[test]
    fn a_topic_in_another_account_or_with_cross_account_is_refused_naming_the_field() {
        let other = "arn:aws:sns:us-east-1:333333333333:orders";
        let e = planned(json!({"sns": {"topicArn": other}})).unwrap_err();
        let crate::plan::PlanError::InvalidSpec(e) = e else {
            panic!("{e}")
        };
        assert_eq!(e.field, FIELD);
        assert!(
            e.message
                .contains("set spec.crossAccount (mode DirectDelivery"),
            "{}",
            e.message
        );
    }
}
