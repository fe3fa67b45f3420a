//! An SQS queue: no role of EventBridge's (like Lambda), a statement in the queue's policy
//! instead (principal `events.amazonaws.com`, `sqs:SendMessage` on the queue, `SourceArn` =
//! the rule), and `SqsParameters.MessageGroupId` on the rule's target for a FIFO queue.
//! Its statement is one contribution to `Desired::queue_permissions` (the dead-letter queue's
//! is another), under a Sid of its own, so the target queue may also be the dead-letter queue.
//! A queue in another account of the rule's region is delivered to directly (mode
//! DirectDelivery): the rule account's execution role gets `sqs:SendMessage` on the queue, and
//! the queue's policy names that role instead of `events.amazonaws.com` ([`direct_permission`]).

use serde_json::{json, Value};

use super::super::validate::{bad, check_arn, SpecError};
use super::super::{names, DesiredQueuePermission, DesiredRule, Owner, QueuePurpose};
use super::KindFacts;
use crate::api::{CrossAccountMode, EventBridgeIntegrationSpec, SqsTarget, TargetKind};
use crate::iam::{AccountArn, Arn};

pub(super) const FIELD: &str = "spec.target.sqs.queueArn";

pub(super) const FACTS: KindFacts = KindFacts {
    kind: TargetKind::Sqs,
    spec_field: "sqs",
    label: "SQS",
    service: "sqs",
    resource_prefix: "",
    role_actions: &["sqs:SendMessage"],
    invoked_with_role: false,
    scheduler_actions: &["sqs:SendMessage"],
    eventbridge_delivers_across_accounts: true,
    built_across_accounts: &[CrossAccountMode::DirectDelivery],
};
pub(super) const GROUP_FIELD: &str = "spec.target.sqs.messageGroupId";

/// `SqsParameters.MessageGroupId`'s limit in EventBridge's API, in characters (SQS itself takes
/// 128, but `PutTargets` refuses more than 100).
const MAX_GROUP_ID: usize = 100;

/// Checks the queue's ARN and `messageGroupId` against the queue's type (FIFO: name ends in
/// `.fifo`): required for a FIFO queue, refused for a standard one. The queue's ARN, parsed.
pub(super) fn validate(queue_arn: &str, message_group_id: Option<&str>) -> Result<Arn, SpecError> {
    let queue = check_arn(FIELD, queue_arn, "sqs", "")?;
    if queue.resource.is_empty() || queue.resource.contains(['/', ':']) {
        return Err(bad(
            FIELD,
            format!(
                "`{queue_arn}` names no queue; expected arn:aws:sqs:REGION:ACCOUNT_ID:QUEUE_NAME"
            ),
        ));
    }
    let fifo = queue.resource.ends_with(".fifo");
    match (fifo, message_group_id) {
        (true, None) => Err(bad(GROUP_FIELD, format!("the queue `{}` is FIFO (its name ends in .fifo) and EventBridge needs a message group ID to send to it; set {GROUP_FIELD}", queue.resource))),
        (true, Some(g)) if g.is_empty() || g.chars().count() > MAX_GROUP_ID => Err(bad(
            GROUP_FIELD,
            format!("must be 1 to {MAX_GROUP_ID} characters; set a shorter, non-empty message group ID"),
        )),
        (false, Some(_)) => Err(bad(GROUP_FIELD, format!("the queue `{}` is a standard queue and EventBridge's MessageGroupId applies only to FIFO queues (name ending in .fifo); remove {GROUP_FIELD}", queue.resource))),
        _ => Ok(queue),
    }
}

/// Checks the kind's fields and what it rules out elsewhere in `spec`: a role (the queue's
/// policy admits EventBridge instead). The mode across accounts is checked from `FACTS`.
pub(super) fn validate_spec(
    sqs: &SqsTarget,
    spec: &EventBridgeIntegrationSpec,
) -> Result<Arn, SpecError> {
    let queue = validate(&sqs.queue_arn, sqs.message_group_id.as_deref())?;
    // A schedule invokes every kind through a role, which spec.role may name or bring.
    if spec.role.is_some() && spec.schedule.is_none() {
        return Err(bad(
            "spec.role",
            "SQS targets are sent to through the queue's policy, not a role; remove spec.role",
        ));
    }
    Ok(queue)
}

/// What the execution role needs for direct delivery to a queue in another account.
pub(super) fn invoke_statements(sqs: &SqsTarget) -> Vec<Value> {
    vec![json!({
        "Sid": "SendMessage",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": sqs.queue_arn
    })]
}

/// The target's statement in the queue's policy. Its Sid is the owner's statement ID for the
/// rule with `#target` in the hashed ARN, distinct from the dead-letter statement's when one
/// queue is both.
pub(super) fn permission(
    sqs: &SqsTarget,
    queue: &AccountArn,
    rule: &DesiredRule,
    owner: &Owner,
) -> DesiredQueuePermission {
    let statement_id =
        names::owned_statement_id(&rule.name, &format!("{}#target", rule.arn), &owner.uid);
    DesiredQueuePermission {
        purpose: QueuePurpose::Target,
        statement: statement(&statement_id, &sqs.queue_arn, &rule.arn),
        queue_arn: sqs.queue_arn.clone(),
        queue_name: queue.resource.clone(),
        queue_account: queue.account.clone(),
        statement_id,
        proof: rule.arn.to_string(),
    }
}

/// Direct delivery to a queue of another account: the statement of the queue's policy that
/// lets the rule account's execution role `role_arn` send to it (proven by that role).
pub(super) fn direct_permission(
    sqs: &SqsTarget,
    queue: &AccountArn,
    rule: &DesiredRule,
    owner: &Owner,
    role_arn: &str,
) -> DesiredQueuePermission {
    super::naming_role(
        permission(sqs, queue, rule, owner),
        "sqs:SendMessage",
        role_arn,
    )
}

/// The owned statement of the queue's policy that lets the rule send to it: the same shape as
/// the dead-letter queue's, told apart from it by its Sid.
pub(super) fn statement(statement_id: &str, queue_arn: &str, rule_arn: &str) -> Value {
    crate::iam::documents::dead_letter_queue_statement(statement_id, queue_arn, rule_arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STANDARD: &str = "arn:aws:sqs:us-east-1:222222222222:orders";
    const FIFO: &str = "arn:aws:sqs:us-east-1:222222222222:orders.fifo";

    #[test]
    fn fifo_queue_needs_a_message_group_id() {
        let e = validate(FIFO, None).unwrap_err();
        assert_eq!(e.field, GROUP_FIELD);
        assert!(
            e.message.contains("set spec.target.sqs.messageGroupId"),
            "{}",
            e.message
        );
        assert_eq!(validate(FIFO, Some("g1")).unwrap().resource, "orders.fifo");
    }

    #[test]
    fn standard_queue_refuses_a_message_group_id() {
        let e = validate(STANDARD, Some("g1")).unwrap_err();
        assert_eq!(e.field, GROUP_FIELD);
        assert!(
            e.message.contains("remove spec.target.sqs.messageGroupId"),
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
        for arn in [
            "arn:aws:sqs:us-east-1::orders",
            "arn:aws:sns:us-east-1:222222222222:orders",
            "arn:aws:sqs:us-east-1:222222222222:",
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
                "Action": "sqs:SendMessage",
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
    fn a_fifo_queue_is_planned_without_a_role_with_its_group_and_statement() {
        let plan = planned(json!({"sqs": {"queueArn": FIFO, "messageGroupId": "g1"}})).unwrap();
        let d = &plan.local;
        assert_eq!(d.role, crate::plan::DesiredRole::NotNeeded);
        let target = d.targets.first().unwrap();
        assert_eq!(target.arn, FIFO);
        assert_eq!(target.role_arn, None);
        assert_eq!(target.parameters.message_group_id(), Some("g1"));
        assert_eq!(d.queue_permissions.len(), 1);
        let q = &d.queue_permissions[0];
        assert_eq!(q.purpose, QueuePurpose::Target);
        assert_eq!(q.queue_name, "orders.fifo");
        assert_eq!(q.statement, statement(&q.statement_id, FIFO, &d.rule().arn));
        assert!(names::statement_id_of_owner(&q.statement_id, "uid-1"));
    }

    #[test]
    fn the_target_queue_as_dead_letter_queue_gets_two_statements_with_distinct_sids() {
        let plan = planned(json!({"sqs": {"queueArn": STANDARD}, "deadLetterQueueArn": STANDARD}))
            .unwrap();
        let d = &plan.local;
        let sids: Vec<_> = d
            .queue_permissions
            .iter()
            .map(|q| &q.statement_id)
            .collect();
        assert_eq!(sids.len(), 2);
        assert_ne!(sids[0], sids[1]);
        assert_eq!(d.permitted_queues().len(), 1);
        assert_eq!(
            d.targets.first().unwrap().parameters,
            super::super::TargetParameters::None
        );
    }

    #[test]
    fn a_queue_in_another_account_or_with_cross_account_is_refused_naming_the_field() {
        let other = "arn:aws:sqs:us-east-1:333333333333:orders";
        let e = planned(json!({"sqs": {"queueArn": other}})).unwrap_err();
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
