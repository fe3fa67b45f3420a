//! Policy documents the controller writes and the diagnosis recommends, pure. Both the
//! planner and the remediation texts build on these, so what is created and what is
//! recommended can never drift apart.

use serde_json::{json, Value};

/// The statement a dead-letter queue's policy needs so that EventBridge may send it the
/// events one rule could not deliver, and only that rule's (the confused-deputy guard).
pub fn dead_letter_queue_statement(statement_id: &str, queue_arn: &str, rule_arn: &str) -> Value {
    json!({
        "Sid": statement_id,
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}
    })
}

/// The statement of a queue's or topic's policy that lets one execution role of another
/// account `action` on it (direct cross-account delivery: EventBridge sends with that role).
pub fn role_send_statement(
    statement_id: &str,
    action: &str,
    resource: &str,
    role_arn: &str,
) -> Value {
    json!({
        "Sid": statement_id,
        "Effect": "Allow",
        "Principal": {"AWS": role_arn},
        "Action": action,
        "Resource": resource
    })
}

/// The statement of a CloudWatch Logs resource policy that lets one rule's events be written
/// to a log group (principals as AWS's example grants them; `aws:SourceArn` = the rule).
pub fn logs_target_statement(statement_id: &str, log_group_arn: &str, rule_arn: &str) -> Value {
    json!({
        "Sid": statement_id,
        "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": format!("{log_group_arn}:*"),
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}
    })
}

/// The statement of a target account's event-bus policy that admits one forwarding role of
/// the source account: its account as principal, narrowed to the role by `aws:PrincipalArn`
/// (a principal naming the role itself would turn into the role's unique ID, and break, if
/// the role were ever re-created).
pub fn forwarding_bus_statement(
    statement_id: &str,
    bus_arn: &str,
    partition: &str,
    source_account: &str,
    role_arn: &str,
) -> Value {
    json!({
        "Sid": statement_id,
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:{partition}:iam::{source_account}:root")},
        "Action": "events:PutEvents",
        "Resource": bus_arn,
        "Condition": {"ArnEquals": {"aws:PrincipalArn": role_arn}}
    })
}

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

/// The trust of a schedule's role: Scheduler, for schedules of this account's `group_arn`
/// (Scheduler's `aws:SourceArn` is the schedule group's ARN, never a schedule's).
pub fn scheduler_trust_policy(account: &str, group_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnEquals": {"aws:SourceArn": group_arn}
            }
        }]
    })
}

/// The statements of a resource policy as raw JSON (a single statement object counts as a
/// list of one); `None` when the text is not a policy.
fn raw_statements(policy: &str) -> Option<(Value, Vec<Value>)> {
    let doc: Value = serde_json::from_str(policy).ok()?;
    let statements = match doc.get("Statement")? {
        Value::Array(list) => list.clone(),
        single @ Value::Object(_) => vec![single.clone()],
        _ => return None,
    };
    Some((doc, statements))
}

fn sid_of(statement: &Value) -> Option<&str> {
    statement.get("Sid").and_then(Value::as_str)
}

/// A policy document as JSON text, whether it came as an object, as text, or URL-encoded
/// from IAM's API.
pub fn document_text(document: &Value) -> String {
    match document {
        Value::String(text) => super::policy::decode_document_text(text),
        other => other.to_string(),
    }
}

/// The statement with `sid` in a resource policy, as written.
pub fn statement_with_sid(policy: &str, sid: &str) -> Option<Value> {
    raw_statements(policy)?
        .1
        .into_iter()
        .find(|s| sid_of(s) == Some(sid))
}

/// `policy` with `statement` in place of any statement of the same Sid; every other
/// statement, and the document's other keys (`Version`, `Id`), exactly as they were.
pub fn with_statement(policy: Option<&str>, statement: &Value) -> Value {
    let sid = sid_of(statement);
    let (mut doc, mut statements) = policy
        .and_then(raw_statements)
        .unwrap_or_else(|| (json!({"Version": "2012-10-17"}), vec![]));
    statements.retain(|s| sid.is_none() || sid_of(s) != sid);
    statements.push(statement.clone());
    doc["Statement"] = Value::Array(statements);
    doc
}

/// `policy` with each of `statements` in place of its Sid's (one rewrite; the others kept).
pub fn with_statements(policy: Option<&str>, statements: &[Value]) -> Value {
    let mut text = policy.map(str::to_string);
    let mut doc = None;
    for statement in statements {
        let next = with_statement(text.as_deref(), statement);
        text = Some(next.to_string());
        doc = Some(next);
    }
    doc.unwrap_or_else(|| {
        policy
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}))
    })
}

/// `policy` without the statement `sid`; `None` when nothing else is left (the policy
/// should then be removed, not written empty).
pub fn without_statement(policy: &str, sid: &str) -> Option<Value> {
    let (mut doc, mut statements) = raw_statements(policy)?;
    statements.retain(|s| sid_of(s) != Some(sid));
    if statements.is_empty() {
        return None;
    }
    doc["Statement"] = Value::Array(statements);
    Some(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_statement_is_replaced_and_the_others_are_kept_verbatim() {
        let foreign = json!({"Sid": "Ops", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "sqs:*", "Resource": "q"});
        let policy =
            json!({"Version": "2012-10-17", "Id": "keep-me", "Statement": foreign}).to_string();
        let ours = dead_letter_queue_statement("ebi-r-1", "q", "arn:aws:events:us-east-1:1:rule/r");
        let written = with_statement(Some(&policy), &ours);
        assert_eq!(written["Id"], "keep-me");
        assert_eq!(written["Statement"], json!([foreign, ours]));
        // Writing again replaces ours instead of adding a second one.
        let changed =
            dead_letter_queue_statement("ebi-r-1", "q", "arn:aws:events:us-east-1:1:rule/other");
        let again = with_statement(Some(&written.to_string()), &changed);
        assert_eq!(again["Statement"], json!([foreign, changed]));
        assert_eq!(
            statement_with_sid(&again.to_string(), "ebi-r-1"),
            Some(changed)
        );
        // Removal keeps the foreign statement; removing the last one removes the policy.
        let removed = without_statement(&again.to_string(), "ebi-r-1").unwrap();
        assert_eq!(removed["Statement"], json!([foreign]));
        assert_eq!(without_statement(&removed.to_string(), "Ops"), None);
        // No policy yet: one is made.
        assert_eq!(with_statement(None, &ours)["Statement"], json!([ours]));
    }

    #[test]
    fn several_statements_go_in_one_rewrite_next_to_the_foreign_ones() {
        let foreign = json!({"Sid": "Ops", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "sqs:*", "Resource": "q"});
        let policy = json!({"Version": "2012-10-17", "Statement": [foreign]}).to_string();
        let rule = "arn:aws:events:us-east-1:1:rule/r";
        let dlq = dead_letter_queue_statement("ebi-r-1", "q", rule);
        let target = dead_letter_queue_statement("ebi-t-1", "q", rule);
        let written = with_statements(Some(&policy), &[dlq.clone(), target.clone()]);
        assert_eq!(written["Statement"], json!([foreign, dlq, target]));
        let again = with_statements(Some(&written.to_string()), &[dlq.clone(), target.clone()]);
        assert_eq!(again["Statement"], json!([foreign, dlq, target]));
        assert_eq!(
            with_statements(None, std::slice::from_ref(&dlq))["Statement"],
            json!([dlq])
        );
    }
}
