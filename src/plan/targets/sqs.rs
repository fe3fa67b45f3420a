//! An SQS queue: no role of EventBridge's (like Lambda), a statement in the queue's policy
//! instead (principal `events.amazonaws.com`, `sqs:SendMessage` on the queue, `SourceArn` =
//! the rule), and `SqsParameters.MessageGroupId` on the rule's target for a FIFO queue.
//!
//! Not registered yet (issue 19 §1): `api::TargetSpec` has no `sqs` field and
//! [`super::ValidTarget`] no variant, so nothing calls this module outside its tests. The
//! registration, the second queue statement in `Desired`, apply/observe, diagnosis, tenancy
//! and the e2e test are the next steps.
#![allow(dead_code)]

use serde_json::Value;

use super::super::validate::{bad, check_arn, SpecError};
use crate::iam::Arn;

pub(super) const FIELD: &str = "spec.target.sqs.queueArn";
pub(super) const GROUP_FIELD: &str = "spec.target.sqs.messageGroupId";

/// `SqsParameters.MessageGroupId`'s limit, in characters.
const MAX_GROUP_ID: usize = 128;

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
}
