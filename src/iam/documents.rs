//! Policy documents the controller writes and the diagnosis recommends, pure. Both the
//! planner and the remediation texts build on these, so what is created and what is
//! recommended can never drift apart.

use serde_json::{json, Value};

/// The trust policy EventBridge needs, protected against the confused deputy: only this
/// account's rule may make EventBridge assume the role. The planner creates roles with it.
pub fn events_trust_policy(account: &str, rule_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "EventBridgeRuleOnly",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnEquals": {"aws:SourceArn": rule_arn}
            }
        }]
    })
}
