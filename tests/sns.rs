//! SNS targets end to end on the local kube-apiserver + moto (issue 19 §1): the rule targets
//! the topic (with `SqsParameters.MessageGroupId` for a FIFO topic), the topic's policy
//! carries our statement next to a foreign one kept verbatim, drift is corrected, and
//! deleting the object removes our statement only, never the topic.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;

async fn clients() -> (aws_sdk_sns::Client, aws_sdk_eventbridge::Client) {
    let config = sdk_config().await;
    (
        aws_sdk_sns::Client::new(&config),
        aws_sdk_eventbridge::Client::new(&config),
    )
}

fn policy_with(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

async fn set_policy(sns: &aws_sdk_sns::Client, arn: &str, policy: String) {
    sns.set_topic_attributes()
        .topic_arn(arn)
        .attribute_name("Policy")
        .attribute_value(policy)
        .send()
        .await
        .unwrap();
}

/// The topic's statements; None when the topic does not exist.
async fn statements(sns: &aws_sdk_sns::Client, arn: &str) -> Option<Vec<Value>> {
    let out = sns
        .get_topic_attributes()
        .topic_arn(arn)
        .send()
        .await
        .ok()?;
    let policy = out
        .attributes()
        .and_then(|a| a.get("Policy"))
        .cloned()
        .unwrap_or_default();
    if policy.is_empty() {
        return Some(vec![]);
    }
    let doc: Value = serde_json::from_str(&policy).unwrap();
    Some(match &doc["Statement"] {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    })
}

/// Creates the topic (FIFO when the name ends in `.fifo`) with a foreign statement; its ARN
/// and that statement.
async fn topic_with_foreign(sns: &aws_sdk_sns::Client, name: &str) -> (String, Value) {
    let mut create = sns.create_topic().name(name);
    if name.ends_with(".fifo") {
        create = create
            .attributes("FifoTopic", "true")
            .attributes("ContentBasedDeduplication", "true");
    }
    let arn = create.send().await.unwrap().topic_arn.unwrap();
    assert_eq!(arn, format!("arn:aws:sns:{REGION}:{ACCOUNT}:{name}"));
    let foreign = json!({"Sid": "TeamSubscribes", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sns:Subscribe", "Resource": arn});
    set_policy(sns, &arn, policy_with(json!([foreign]))).await;
    (arn, foreign)
}

/// Our statement for the rule: EventBridge may Publish to the topic from this rule only.
fn ours(rule_name: &str, rule_arn: &str, topic_arn: &str, uid: &str) -> Value {
    let sid = ebi::plan::names::owned_statement_id(rule_name, &format!("{rule_arn}#target"), uid);
    assert!(ebi::plan::names::statement_id_of_owner(&sid, uid));
    json!({"Sid": sid, "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish", "Resource": topic_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standard_topic_target_gets_our_statement_beside_the_others_until_deleted() {
    let ns = namespace("sns-std");
    let (sns, events) = clients().await;
    let (topic_arn, foreign) = topic_with_foreign(&sns, &format!("orders-{ns}")).await;
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: to-topic, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target:
    sns: {{topicArn: {topic_arn}}}
"#
    ));
    wait_condition(&api, "to-topic", "Ready", "True", None).await;
    let rule_name = derived(&ns, "to-topic");
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule_name}");
    let ours = ours(
        &rule_name,
        &rule_arn,
        &topic_arn,
        &uid_of(&api, "to-topic").await,
    );
    assert_eq!(
        statements(&sns, &topic_arn).await,
        Some(vec![foreign.clone(), ours.clone()])
    );
    let targets = events
        .list_targets_by_rule()
        .rule(&rule_name)
        .send()
        .await
        .unwrap();
    let target = &targets.targets()[0];
    assert_eq!(target.arn(), topic_arn);
    assert_eq!(target.role_arn(), None, "SNS takes no role");
    assert!(target
        .sqs_parameters()
        .and_then(|p| p.message_group_id())
        .is_none());
    let status = api.get("to-topic").await.unwrap().status.unwrap();
    assert_eq!(status.target_kind.as_deref(), Some("SNS"));
    assert!(status.findings.is_empty(), "{:?}", status.findings);

    // Drift: the policy is rewritten without our statement; it comes back, theirs stays.
    let other = json!({"Sid": "Audit", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sns:GetTopicAttributes", "Resource": topic_arn});
    set_policy(&sns, &topic_arn, policy_with(json!([foreign, other]))).await;
    wait_until_async(
        "our statement to be restored",
        Duration::from_secs(30),
        || async {
            statements(&sns, &topic_arn)
                .await
                .is_some_and(|s| s.contains(&ours))
        },
    )
    .await;
    assert_eq!(
        statements(&sns, &topic_arn).await,
        Some(vec![foreign.clone(), other.clone(), ours])
    );

    delete_and_wait(&ns, &["to-topic"]);
    assert_eq!(
        statements(&sns, &topic_arn).await,
        Some(vec![foreign, other]),
        "deletion removes our statement only, and never the topic"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fifo_topic_target_carries_its_message_group() {
    let ns = namespace("sns-fifo");
    let (sns, events) = clients().await;
    let (topic_arn, foreign) = topic_with_foreign(&sns, &format!("orders-{ns}.fifo")).await;
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: to-fifo, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target:
    sns: {{topicArn: {topic_arn}, messageGroupId: orders}}
"#
    ));
    wait_condition(&api, "to-fifo", "Ready", "True", None).await;
    let rule_name = derived(&ns, "to-fifo");
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule_name}");
    let uid = uid_of(&api, "to-fifo").await;
    assert_eq!(
        statements(&sns, &topic_arn).await,
        Some(vec![
            foreign.clone(),
            ours(&rule_name, &rule_arn, &topic_arn, &uid)
        ])
    );
    let targets = events
        .list_targets_by_rule()
        .rule(&rule_name)
        .send()
        .await
        .unwrap();
    let target = &targets.targets()[0];
    assert_eq!(target.arn(), topic_arn);
    assert_eq!(
        target.sqs_parameters().and_then(|p| p.message_group_id()),
        Some("orders")
    );

    delete_and_wait(&ns, &["to-fifo"]);
    assert_eq!(statements(&sns, &topic_arn).await, Some(vec![foreign]));
}
