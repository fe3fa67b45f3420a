//! A Kinesis data stream: a role of EventBridge's with `kinesis:PutRecord` on the stream (one
//! record per event; EventBridge does not batch into PutRecords), and
//! `KinesisParameters.PartitionKeyPath` on the rule's target when the spec names one (without
//! it, EventBridge uses the event's ID as the partition key); a schedule, which has no event,
//! names the key itself (`partitionKey`, Scheduler's `KinesisParameters.PartitionKey`). A stream in another account of
//! the rule's region is put to directly (mode DirectDelivery): the rule account's execution
//! role gets `kinesis:PutRecord` on it, and the stream's resource policy gets one owned
//! statement naming that role ([`direct_permission`]).

use serde_json::{json, Value};

use super::super::validate::{bad, check_arn, SpecError};
use super::super::{names, DesiredQueuePermission, DesiredRule, Owner, QueuePurpose};
use super::{KindFacts, TargetParameters};
use crate::api::{CrossAccountMode, EventBridgeIntegrationSpec, KinesisTarget, TargetKind};
use crate::iam::{AccountArn, Arn};

pub(super) const FIELD: &str = "spec.target.kinesis.streamArn";

pub(super) const FACTS: KindFacts = KindFacts {
    kind: TargetKind::Kinesis,
    spec_field: "kinesis",
    label: "Kinesis",
    service: "kinesis",
    resource_prefix: "",
    role_actions: &["kinesis:PutRecord"],
    invoked_with_role: true,
    scheduler_actions: &["kinesis:PutRecord"],
    eventbridge_delivers_across_accounts: true,
    built_across_accounts: &[CrossAccountMode::DirectDelivery],
};
const PARTITION_KEY_FIELD: &str = "spec.target.kinesis.partitionKeyPath";

/// `KinesisParameters.PartitionKeyPath`'s limit in EventBridge's API, in characters.
const MAX_PARTITION_KEY_PATH: usize = 256;

/// Kinesis's limit on a stream's name.
const MAX_STREAM_NAME: usize = 128;

/// Checks the stream's ARN, the partition key's JSONPath, and a fixed partition key outside
/// a schedule. The stream's ARN, parsed.
pub(super) fn validate(
    kinesis: &KinesisTarget,
    spec: &EventBridgeIntegrationSpec,
) -> Result<Arn, SpecError> {
    let stream = check_arn(FIELD, &kinesis.stream_arn, "kinesis", "stream/")?;
    let name = &stream.resource["stream/".len()..];
    if !super::is_stream_name(name, MAX_STREAM_NAME) {
        return Err(bad(
            FIELD,
            format!(
                "`{}` names no stream; expected arn:aws:kinesis:REGION:ACCOUNT_ID:stream/STREAM_NAME (1 to {MAX_STREAM_NAME} letters, digits, _, . and -)",
                kinesis.stream_arn
            ),
        ));
    }
    if let Some(path) = &kinesis.partition_key_path {
        if !path.starts_with('$') || path.chars().count() > MAX_PARTITION_KEY_PATH {
            return Err(bad(
                PARTITION_KEY_FIELD,
                format!("`{path}` is not a JSONPath of at most {MAX_PARTITION_KEY_PATH} characters; write the event field to partition by, e.g. $.detail.orderId, or remove it to partition by the event's ID"),
            ));
        }
    }
    if kinesis.partition_key.is_some() && spec.schedule.is_none() {
        return Err(bad(
            "spec.target.kinesis.partitionKey",
            "a fixed partition key is for a schedule; a rule takes the key from the event: use partitionKeyPath",
        ));
    }
    Ok(stream)
}

/// Direct delivery to a stream of another account: the statement of the stream's resource
/// policy that lets the rule account's execution role `role_arn` put records to it, under the
/// owner's statement ID for the rule (`#target`, as for queues and topics), proven by that
/// role.
pub(super) fn direct_permission(
    kinesis: &KinesisTarget,
    stream: &AccountArn,
    rule: &DesiredRule,
    owner: &Owner,
    role_arn: &str,
) -> DesiredQueuePermission {
    let statement_id =
        names::owned_statement_id(&rule.name, &format!("{}#target", rule.arn), &owner.uid);
    let p = DesiredQueuePermission {
        purpose: QueuePurpose::StreamTarget,
        statement: Value::Null,
        queue_arn: kinesis.stream_arn.clone(),
        queue_name: stream.resource.trim_start_matches("stream/").to_string(),
        queue_account: stream.account.clone(),
        statement_id,
        proof: rule.arn.to_string(),
    };
    super::naming_role(p, "kinesis:PutRecord", role_arn)
}

pub(super) fn invoke_statements(kinesis: &KinesisTarget) -> Vec<Value> {
    vec![json!({
        "Sid": "PutRecord",
        "Effect": "Allow",
        "Action": "kinesis:PutRecord",
        "Resource": kinesis.stream_arn
    })]
}

/// A rule's JSONPath into the event, or a schedule's fixed key (validation allows each only
/// where it applies).
pub(super) fn parameters(kinesis: &KinesisTarget) -> TargetParameters {
    if let Some(key) = &kinesis.partition_key {
        return TargetParameters::PartitionKey(key.clone());
    }
    kinesis
        .partition_key_path
        .clone()
        .map_or(TargetParameters::None, TargetParameters::PartitionKeyPath)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(target: serde_json::Value) -> EventBridgeIntegrationSpec {
        serde_json::from_value(json!({"rule": {"scheduleExpression": "rate(5 minutes)"},
            "target": {"kinesis": target}}))
        .unwrap()
    }

    fn check(target: serde_json::Value) -> Result<Arn, SpecError> {
        let spec = spec(target);
        validate(spec.target.kinesis.as_ref().unwrap(), &spec)
    }

    const STREAM: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/orders.v2";

    #[test]
    fn a_stream_with_or_without_a_partition_key_is_valid() {
        assert_eq!(
            check(json!({"streamArn": STREAM})).unwrap().resource,
            "stream/orders.v2"
        );
        check(json!({"streamArn": STREAM, "partitionKeyPath": "$.detail.orderId"})).unwrap();
    }

    #[test]
    fn bad_input_names_the_field_and_the_fix() {
        for (target, field, words) in [
            (
                json!({"streamArn": "arn:aws:kinesis:us-east-1::stream/orders"}),
                FIELD,
                "12-digit account ID",
            ),
            (
                json!({"streamArn": "arn:aws:kinesis:us-east-1:123456789012:orders"}),
                FIELD,
                "not a kinesis stream/",
            ),
            (
                json!({"streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/a b"}),
                FIELD,
                "names no stream",
            ),
            (
                json!({"streamArn": "arn:aws:sqs:us-east-1:123456789012:stream/a"}),
                FIELD,
                "not a kinesis",
            ),
            (
                json!({"streamArn": STREAM, "partitionKeyPath": "detail.id"}),
                PARTITION_KEY_FIELD,
                "e.g. $.detail.orderId",
            ),
            (
                json!({"streamArn": STREAM, "partitionKeyPath": format!("${}", ".a".repeat(200))}),
                PARTITION_KEY_FIELD,
                "at most 256",
            ),
        ] {
            let err = check(target.clone())
                .expect_err(&target.to_string())
                .to_string();
            assert!(
                err.contains(field) && err.contains(words),
                "{target}: {err}"
            );
        }
    }

    #[test]
    fn the_role_may_put_records_on_this_stream_only() {
        let k = KinesisTarget {
            stream_arn: STREAM.into(),
            partition_key_path: None,
            partition_key: None,
        };
        assert_eq!(
            invoke_statements(&k),
            vec![
                json!({"Sid": "PutRecord", "Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": STREAM})
            ]
        );
        assert_eq!(parameters(&k), TargetParameters::None);
        let keyed = KinesisTarget {
            partition_key_path: Some("$.id".into()),
            ..k
        };
        assert_eq!(
            parameters(&keyed),
            TargetParameters::PartitionKeyPath("$.id".into())
        );
        // A schedule's fixed key (validation allows it only with spec.schedule).
        let fixed = KinesisTarget {
            partition_key: Some("ticks".into()),
            ..KinesisTarget {
                stream_arn: STREAM.into(),
                partition_key_path: None,
                partition_key: None,
            }
        };
        assert_eq!(
            parameters(&fixed),
            TargetParameters::PartitionKey("ticks".into())
        );
    }
}
