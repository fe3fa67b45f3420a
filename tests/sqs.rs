//! SQS targets end to end on the local kube-apiserver + moto (issue 19 §1): the rule
//! targets the queue (with `SqsParameters.MessageGroupId` for a FIFO queue), the queue's
//! policy carries our statement next to a foreign one kept verbatim, drift is corrected,
//! and deleting the object removes our statement only.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;

async fn clients() -> (aws_sdk_sqs::Client, aws_sdk_eventbridge::Client) {
    let config = sdk_config().await;
    (
        aws_sdk_sqs::Client::new(&config),
        aws_sdk_eventbridge::Client::new(&config),
    )
}

fn policy_with(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

async fn set_policy(sqs: &aws_sdk_sqs::Client, url: &str, policy: String) {
    sqs.set_queue_attributes()
        .queue_url(url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, policy)
        .send()
        .await
        .unwrap();
}

async fn statements(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .unwrap();
    let policy = out
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
        .cloned()
        .unwrap_or_default();
    if policy.is_empty() {
        return vec![];
    }
    let doc: Value = serde_json::from_str(&policy).unwrap();
    match &doc["Statement"] {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    }
}

/// Creates the queue (FIFO when the name ends in `.fifo`) with a foreign statement; its URL,
/// ARN and that statement.
async fn queue_with_foreign(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String, Value) {
    let mut create = sqs.create_queue().queue_name(name);
    if name.ends_with(".fifo") {
        create = create
            .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::ContentBasedDeduplication,
                "true",
            );
    }
    let url = create.send().await.unwrap().queue_url.unwrap();
    let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
    let foreign = json!({"Sid": "ConsumerReads", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sqs:ReceiveMessage", "Resource": arn});
    set_policy(sqs, &url, policy_with(json!([foreign]))).await;
    (url, arn, foreign)
}

/// Our statement for the rule: EventBridge may SendMessage to the queue from this rule only.
fn ours(rule_name: &str, rule_arn: &str, queue_arn: &str, uid: &str) -> Value {
    let sid = ebi::plan::names::owned_statement_id(rule_name, &format!("{rule_arn}#target"), uid);
    assert!(ebi::plan::names::statement_id_of_owner(&sid, uid));
    json!({"Sid": sid, "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standard_queue_target_gets_our_statement_beside_the_others_until_deleted() {
    let ns = namespace("sqs-std");
    let (sqs, events) = clients().await;
    let (url, queue_arn, foreign) = queue_with_foreign(&sqs, &format!("orders-{ns}")).await;
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: to-queue, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target:
    sqs: {{queueArn: {queue_arn}}}
"#
    ));
    wait_condition(&api, "to-queue", "Ready", "True", None).await;
    let rule_name = derived(&ns, "to-queue");
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule_name}");
    let ours = ours(
        &rule_name,
        &rule_arn,
        &queue_arn,
        &uid_of(&api, "to-queue").await,
    );
    assert_eq!(
        statements(&sqs, &url).await,
        vec![foreign.clone(), ours.clone()]
    );
    let targets = events
        .list_targets_by_rule()
        .rule(&rule_name)
        .send()
        .await
        .unwrap();
    let target = &targets.targets()[0];
    assert_eq!(target.arn(), queue_arn);
    assert_eq!(target.role_arn(), None, "SQS takes no role");
    assert!(target
        .sqs_parameters()
        .and_then(|p| p.message_group_id())
        .is_none());
    let status = api.get("to-queue").await.unwrap().status.unwrap();
    assert_eq!(status.target_kind.as_deref(), Some("SQS"));
    assert!(status.findings.is_empty(), "{:?}", status.findings);

    // Drift: the policy is rewritten without our statement; it comes back, theirs stays.
    let other = json!({"Sid": "Audit", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sqs:GetQueueAttributes", "Resource": queue_arn});
    set_policy(&sqs, &url, policy_with(json!([foreign, other]))).await;
    wait_until_async(
        "our statement to be restored",
        Duration::from_secs(30),
        || async { statements(&sqs, &url).await.contains(&ours) },
    )
    .await;
    assert_eq!(
        statements(&sqs, &url).await,
        vec![foreign.clone(), other.clone(), ours]
    );

    delete_and_wait(&ns, &["to-queue"]);
    assert_eq!(
        statements(&sqs, &url).await,
        vec![foreign, other],
        "deletion removes our statement only"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fifo_queue_target_carries_its_message_group_and_its_dead_letter_queue_keeps_its_own_statement(
) {
    let ns = namespace("sqs-fifo");
    let (sqs, events) = clients().await;
    let (url, queue_arn, foreign) = queue_with_foreign(&sqs, &format!("orders-{ns}.fifo")).await;
    let dlq_name = format!("dlq-{ns}");
    let dlq_url = sqs
        .create_queue()
        .queue_name(&dlq_name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{dlq_name}");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: to-fifo, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target:
    sqs: {{queueArn: {queue_arn}, messageGroupId: orders}}
    deadLetterQueueArn: {dlq_arn}
"#
    ));
    wait_condition(&api, "to-fifo", "Ready", "True", None).await;
    let rule_name = derived(&ns, "to-fifo");
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule_name}");
    let uid = uid_of(&api, "to-fifo").await;
    assert_eq!(
        statements(&sqs, &url).await,
        vec![
            foreign.clone(),
            ours(&rule_name, &rule_arn, &queue_arn, &uid)
        ]
    );
    let dlq_statements = statements(&sqs, &dlq_url).await;
    assert_eq!(dlq_statements.len(), 1, "{dlq_statements:?}");
    assert_eq!(
        dlq_statements[0]["Sid"],
        owned_statement_id(&rule_name, &uid),
        "the dead-letter statement keeps its own Sid"
    );
    let targets = events
        .list_targets_by_rule()
        .rule(&rule_name)
        .send()
        .await
        .unwrap();
    let target = &targets.targets()[0];
    assert_eq!(target.arn(), queue_arn);
    assert_eq!(
        target.sqs_parameters().and_then(|p| p.message_group_id()),
        Some("orders")
    );
    let recorded: Vec<String> = api
        .get("to-fifo")
        .await
        .unwrap()
        .status
        .unwrap()
        .resources
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{:?}", r.kind))
        .collect();
    assert_eq!(
        recorded.iter().filter(|k| *k == "QueuePermission").count(),
        2,
        "one record entry per statement: {recorded:?}"
    );

    delete_and_wait(&ns, &["to-fifo"]);
    assert_eq!(statements(&sqs, &url).await, vec![foreign]);
    assert!(statements(&sqs, &dlq_url).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_queue_as_target_and_dead_letter_queue_holds_both_statements_under_their_own_sids() {
    let ns = namespace("sqs-both");
    let (sqs, _) = clients().await;
    let (url, queue_arn, foreign) = queue_with_foreign(&sqs, &format!("orders-{ns}")).await;
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: both, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target:
    sqs: {{queueArn: {queue_arn}}}
    deadLetterQueueArn: {queue_arn}
"#
    ));
    wait_condition(&api, "both", "Ready", "True", None).await;
    let rule_name = derived(&ns, "both");
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule_name}");
    let uid = uid_of(&api, "both").await;
    let target_statement = ours(&rule_name, &rule_arn, &queue_arn, &uid);
    let got = statements(&sqs, &url).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], foreign);
    assert!(got.contains(&target_statement), "{got:?}");
    assert!(
        got.iter()
            .any(|s| s["Sid"] == owned_statement_id(&rule_name, &uid)),
        "the dead-letter statement: {got:?}"
    );
    delete_and_wait(&ns, &["both"]);
    assert_eq!(statements(&sqs, &url).await, vec![foreign]);
}
