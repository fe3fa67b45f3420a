//! End to end: observed delivery. Metrics put into the emulator's CloudWatch for a rule's
//! dimensions (`AWS/Events`, `RuleName` on the default bus) become the `Delivering`
//! condition, read in one bulk GetMetricData per window; `Ready` does not move.

mod support;

use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use support::*;

/// What EventBridge would record for `rule`: each (metric, value) once, now.
async fn put(cw: &aws_sdk_cloudwatch::Client, rule: &str, data: &[(&str, f64)]) {
    let mut req = cw.put_metric_data().namespace("AWS/Events");
    for (metric, value) in data {
        req = req.metric_data(
            MetricDatum::builder()
                .metric_name(*metric)
                .dimensions(Dimension::builder().name("RuleName").value(rule).build())
                .value(*value)
                .unit(StandardUnit::Count)
                .timestamp(std::time::SystemTime::now().into())
                .build(),
        );
    }
    req.send().await.expect("PutMetricData");
}

/// Waits (longer than `wait_condition`: a rule registered after a read waits for the next
/// one, a window later) for the condition's status.
async fn wait_delivering(
    api: &kube::Api<ebi::api::EventBridgeIntegration>,
    name: &str,
    status: &str,
) -> (String, String, String) {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < Duration::from_secs(150) {
        last = condition(api, name, "Delivering").await;
        if last.as_ref().is_some_and(|(s, _, _)| s == status) {
            return last.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{name}: Delivering never became {status}; last: {last:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_aws_records_become_the_delivering_condition() {
    let ns = namespace("e2e-delivery");
    let config = sdk_config().await;
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let failing = derived(&ns, "failing");
    let delivering = derived(&ns, "delivering");
    // EventBridge keeps recording while the rules are in use: a point every few seconds,
    // so that whichever one-minute window a read covers holds some.
    let feeder = {
        let (cw, failing, delivering) = (cw.clone(), failing.clone(), delivering.clone());
        tokio::spawn(async move {
            loop {
                put(
                    &cw,
                    &failing,
                    &[("Invocations", 3.0), ("FailedInvocations", 2.0)],
                )
                .await;
                put(&cw, &delivering, &[("Invocations", 5.0)]).await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        })
    };
    let ctl = Controller::start(&ns, &["--delivery-window", "1m"]);
    let api = kube_api(&ns).await;
    for name in ["failing", "delivering", "quiet"] {
        apply(&sfn_yaml(&ns, name));
    }
    for name in ["failing", "delivering", "quiet"] {
        wait_condition(&api, name, "Ready", "True", Some("Converged")).await;
    }

    let (_, reason, message) = wait_delivering(&api, "failing", "False").await;
    assert_eq!(reason, "DeliveryFailing");
    assert!(
        message.starts_with("AWS reports ")
            && message.contains(" failed invocations in the last 1m"),
        "{message}"
    );
    assert!(message.contains("FailedInvocations="), "{message}");
    assert!(!message.contains("FailedInvocations=0,"), "{message}");
    // What happened is not what is configured: Ready stays True.
    let (ready, _, _) = condition(&api, "failing", "Ready").await.unwrap();
    assert_eq!(ready, "True");
    let status = api.get("failing").await.unwrap().status.unwrap();
    let linked = status
        .findings
        .iter()
        .find(|f| f.code == ebi::diagnose::Code::DeliveryFailing)
        .expect("a DeliveryFailing finding");
    assert!(
        linked
            .message
            .ends_with("the evaluator predicted no cause: please report it"),
        "{}",
        linked.message
    );

    let (_, reason, message) = wait_delivering(&api, "delivering", "True").await;
    assert_eq!(reason, "Delivering", "{message}");
    assert!(message.contains("and no failures"), "{message}");

    let (_, reason, message) = wait_delivering(&api, "quiet", "Unknown").await;
    assert!(
        reason == "NoTraffic" || reason == "NotObserved",
        "{reason}: {message}"
    );
    wait_delivering(&api, "quiet", "Unknown").await;
    let start = Instant::now();
    while condition(&api, "quiet", "Delivering").await.unwrap().1 != "NoTraffic" {
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "quiet: never read"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let gauge = ctl
        .metrics_text()
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                r#"ebi_integrations_not_delivering{reason="DeliveryFailing",predicted="none"} "#,
            )
            .map(|v| v.trim().parse::<f64>().unwrap())
        })
        .expect("the gauge");
    assert_eq!(gauge, 1.0);
    // One bulk read serves every rule of the account and region.
    let reads: u64 = ctl
        .aws_calls()
        .iter()
        .filter(|((_, op), _)| op == "GetMetricData")
        .map(|(_, n)| n)
        .sum();
    assert!(reads >= 1, "{:?}", ctl.aws_calls());
    assert!(reads <= 5, "one read a window, not one a pass: {reads}");
    feeder.abort();
    delete_and_wait(&ns, &["failing", "delivering", "quiet"]);
}

/// With `--read-dead-letters`, the messages EventBridge leaves in a rule's dead-letter queue
/// (with the message attributes AWS documents) bring AWS's own words into `Delivering` and
/// into the `DeliveryFailing` finding, linked to the static diagnosis; another rule's
/// messages in the same queue are not this rule's, and every message stays in the queue.
#[tokio::test(flavor = "multi_thread")]
async fn dead_letter_messages_bring_aws_words_with_read_dead_letters() {
    use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
    let ns = namespace("e2e-dead-letters");
    let config = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = derived(&ns, "dlq");
    let url = sqs
        .create_queue()
        .queue_name(&queue)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .unwrap();
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}");
    let _ctl = Controller::start(&ns, &["--delivery-window", "1m", "--read-dead-letters"]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: dead-lettered, namespace: {ns}}}
spec:
  rule: {{scheduleExpression: "rate(5 minutes)"}}
  target:
    stepFunctions: {{stateMachineArn: "arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:order-pipeline"}}
    deadLetterQueueArn: "{queue_arn}"
"#
    ));
    wait_condition(&api, "dead-lettered", "Ready", "True", Some("Converged")).await;
    let rule_arn = api
        .get("dead-lettered")
        .await
        .unwrap()
        .status
        .unwrap()
        .rule_arn
        .expect("status.ruleArn");
    // What EventBridge writes: the event as the body, why in the attributes.
    let dead_letter = |rule: &str, code: &str, message: &str| {
        let text = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .unwrap()
        };
        sqs.send_message()
            .queue_url(&url)
            .message_body(r#"{"source":"aws.events","detail-type":"Scheduled Event"}"#)
            .message_attributes("RULE_ARN", text(rule))
            .message_attributes(
                "TARGET_ARN",
                text("arn:aws:states:us-east-1:123456789012:stateMachine:order-pipeline"),
            )
            .message_attributes("ERROR_CODE", text(code))
            .message_attributes("ERROR_MESSAGE", text(message))
            .message_attributes("RETRY_ATTEMPTS", text("0"))
            .message_attributes("EXHAUSTED_RETRY_CONDITION", text("MaximumRetryAttempts"))
            .send()
    };
    dead_letter(
        &rule_arn,
        "NO_PERMISSIONS",
        "User is not authorized to perform: states:StartExecution",
    )
    .await
    .expect("SendMessage");
    dead_letter(
        &format!("{rule_arn}-someone-else"),
        "THROTTLING",
        "Rate exceeded",
    )
    .await
    .expect("SendMessage");

    // The queue is read once a window: the read after the messages tells.
    let start = Instant::now();
    let message = loop {
        let (_, _, message) = condition(&api, "dead-lettered", "Delivering")
            .await
            .unwrap_or_default();
        if message.contains("NO_PERMISSIONS") {
            break message;
        }
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "Delivering never carried the dead letter: {message}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        message.contains(
            "the newest of its dead-letter queue's messages for this rule: NO_PERMISSIONS (\"User is not authorized to perform: states:StartExecution\"), sent at "
        ),
        "{message}"
    );
    assert!(!message.contains("THROTTLING"), "another rule's: {message}");
    let status = api.get("dead-lettered").await.unwrap().status.unwrap();
    let linked = status
        .findings
        .iter()
        .find(|f| f.code == ebi::diagnose::Code::DeliveryFailing)
        .expect("a DeliveryFailing finding");
    // The integration is configured right: nothing predicted a refused permission.
    assert!(
        linked.message.starts_with(
            "its dead-letter queue holds 1 message(s) for this rule, the newest NO_PERMISSIONS"
        ) && linked
            .message
            .ends_with("the evaluator predicted no cause: please report it"),
        "{}",
        linked.message
    );
    let (ready, _, _) = condition(&api, "dead-lettered", "Ready").await.unwrap();
    assert_eq!(ready, "True", "what happened is not what is configured");
    // Read, not consumed: both messages are still there for the queue's own consumers.
    let left = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(
        left.attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .map(String::as_str),
        Some("2")
    );
    delete_and_wait(&ns, &["dead-lettered"]);
    sqs.delete_queue().queue_url(&url).send().await.unwrap();
}
