//! An Amazon Data Firehose stream (a "delivery stream" in its API and ARN): a role of
//! EventBridge's with `firehose:PutRecord` and `firehose:PutRecordBatch` on that stream only.
//! AWS's pages disagree on which of the two EventBridge calls (one names PutRecordBatch); the
//! role the EventBridge console creates and CDK's `KinesisFirehoseStream` target grant both,
//! and so does this, and the diagnosis asks a hand-made role for both. The rule's target takes no parameter block: EventBridge tells the kind by the
//! ARN. A stream in another account is reached bus to bus (EventBridge does not deliver to
//! Firehose across accounts directly). A schedule puts to it through Scheduler's templated
//! Firehose target (the stream's ARN, the input as the record), whose role needs
//! `firehose:PutRecord` only ([`scheduled_statements`]).

use serde_json::{json, Value};

use super::super::validate::{bad, check_arn, SpecError};
use super::KindFacts;
use crate::api::{CrossAccountMode, FirehoseTarget, TargetKind};
use crate::iam::Arn;

pub(super) const FIELD: &str = "spec.target.firehose.deliveryStreamArn";

const ACTIONS: [&str; 2] = ["firehose:PutRecord", "firehose:PutRecordBatch"];

pub(super) const FACTS: KindFacts = KindFacts {
    kind: TargetKind::Firehose,
    spec_field: "firehose",
    label: "Firehose",
    service: "firehose",
    resource_prefix: "deliverystream/",
    role_actions: &ACTIONS,
    invoked_with_role: true,
    scheduler_actions: &["firehose:PutRecord"],
    eventbridge_delivers_across_accounts: false,
    built_across_accounts: &[CrossAccountMode::EventBusForwarding],
};

/// Firehose's limit on a stream's name (`CreateDeliveryStream`'s `DeliveryStreamName`).
const MAX_STREAM_NAME: usize = 64;

/// Checks the stream's ARN: Firehose's service, `deliverystream/` and a name Firehose
/// accepts. The stream's ARN, parsed.
pub(super) fn validate(firehose: &FirehoseTarget) -> Result<Arn, SpecError> {
    let stream = check_arn(
        FIELD,
        &firehose.delivery_stream_arn,
        "firehose",
        "deliverystream/",
    )?;
    let name = &stream.resource["deliverystream/".len()..];
    if !super::is_stream_name(name, MAX_STREAM_NAME) {
        return Err(bad(
            FIELD,
            format!(
                "`{}` names no Firehose stream; expected arn:aws:firehose:REGION:ACCOUNT_ID:deliverystream/STREAM_NAME (1 to {MAX_STREAM_NAME} letters, digits, _, . and -), as `aws firehose describe-delivery-stream` shows it",
                firehose.delivery_stream_arn
            ),
        ));
    }
    Ok(stream)
}

/// A schedule's role: Scheduler's templated Firehose target calls PutRecord, one record per
/// run, never the batch call.
pub(super) fn scheduled_statements(firehose: &FirehoseTarget) -> Vec<Value> {
    vec![json!({
        "Sid": "PutRecord",
        "Effect": "Allow",
        "Action": "firehose:PutRecord",
        "Resource": firehose.delivery_stream_arn
    })]
}

pub(super) fn invoke_statements(firehose: &FirehoseTarget) -> Vec<Value> {
    vec![json!({
        "Sid": "PutRecords",
        "Effect": "Allow",
        "Action": ACTIONS,
        "Resource": firehose.delivery_stream_arn
    })]
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "arn:aws:firehose:us-east-1:123456789012:deliverystream/orders.v2";

    fn check(arn: &str) -> Result<Arn, SpecError> {
        validate(&FirehoseTarget {
            delivery_stream_arn: arn.into(),
        })
    }

    #[test]
    fn a_stream_arn_is_valid_and_anything_else_names_the_field_and_the_fix() {
        assert_eq!(check(STREAM).unwrap().resource, "deliverystream/orders.v2");
        for (arn, words) in [
            (
                "arn:aws:firehose:us-east-1::deliverystream/orders",
                "12-digit account ID",
            ),
            (
                "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
                "not a firehose",
            ),
            (
                "arn:aws:firehose:us-east-1:123456789012:stream/orders",
                "not a firehose deliverystream/",
            ),
            (
                "arn:aws:firehose:us-east-1:123456789012:deliverystream/a b",
                "names no Firehose stream",
            ),
            (
                &format!(
                    "arn:aws:firehose:us-east-1:123456789012:deliverystream/{}",
                    "a".repeat(65)
                ),
                "1 to 64",
            ),
        ] {
            let err = check(arn).expect_err(arn).to_string();
            assert!(err.contains(FIELD) && err.contains(words), "{arn}: {err}");
        }
    }

    #[test]
    fn the_role_may_put_records_on_this_stream_only() {
        let target = FirehoseTarget {
            delivery_stream_arn: STREAM.into(),
        };
        assert_eq!(
            invoke_statements(&target),
            vec![json!({"Sid": "PutRecords", "Effect": "Allow",
                "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"], "Resource": STREAM})]
        );
    }
}
