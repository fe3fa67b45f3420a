//! End to end: observed delivery. Metrics put into the emulator's CloudWatch for a rule's
//! dimensions (`AWS/Events`, `RuleName` on the default bus) become the `Delivering`
//! condition, read in one bulk GetMetricData per window; `Ready` does not move.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

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

/// A bus of its own named `bus` (no other test's rules), logging its errors to a log group
/// of its own through a CloudWatch Logs delivery, as the console sets it up: the bus, its
/// ARN and the group.
async fn logging_bus(
    logs: &aws_sdk_cloudwatchlogs::Client,
    events: &aws_sdk_eventbridge::Client,
    bus: &str,
) -> (String, String, String) {
    let bus_arn = events
        .create_event_bus()
        .name(bus)
        .send()
        .await
        .expect("CreateEventBus")
        .event_bus_arn
        .unwrap();
    let group = format!("/aws/vendedlogs/events/{bus}");
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .expect("CreateLogGroup");
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("error")
        .send()
        .await
        .expect("CreateLogStream");
    logs.put_delivery_source()
        .name(format!("{bus}-errors"))
        .resource_arn(&bus_arn)
        .log_type("ERROR_LOGS")
        .send()
        .await
        .expect("PutDeliverySource");
    let destination = logs
        .put_delivery_destination()
        .name(format!("{bus}-group"))
        .delivery_destination_configuration(
            aws_sdk_cloudwatchlogs::types::DeliveryDestinationConfiguration::builder()
                .destination_resource_arn(format!(
                    "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("PutDeliveryDestination")
        .delivery_destination
        .unwrap();
    logs.create_delivery()
        .delivery_source_name(format!("{bus}-errors"))
        .delivery_destination_arn(destination.arn().unwrap())
        .send()
        .await
        .expect("CreateDelivery");

    (bus.to_string(), bus_arn, group)
}

/// One point of a rule's metric on a custom bus, as EventBridge records it (both dimensions).
fn bus_rule_datum(
    bus: &str,
    rule: &str,
    metric: &str,
    value: f64,
    at: std::time::SystemTime,
) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(metric)
        .value(value)
        .unit(StandardUnit::Count)
        .timestamp(at.into())
        .dimensions(Dimension::builder().name("EventBusName").value(bus).build())
        .dimensions(Dimension::builder().name("RuleName").value(rule).build())
        .build()
}

/// A record of the bus's log in AWS's documented schema (a target of Step Functions).
fn bus_log_record(bus_arn: &str, rule_arn: &str, step: &str, message: &str, status: u16) -> String {
    serde_json::json!({
        "resource_arn": bus_arn,
        "request_id": "6f5c1a3e-0000-4000-8000-000000000001",
        "event_id": "6f5c1a3e-0000-4000-8000-000000000002",
        "invocation_id": "6f5c1a3e-0000-4000-8000-000000000003",
        "message_timestamp_ms": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string(),
        "message_type": step,
        "log_level": "ERROR",
        "details": {"rule_arn": rule_arn, "target_arn": STATE_MACHINE},
        "error": {
            "http_status_code": status,
            "error_message": message,
            "aws_service": "states",
            "request_id": "svc-1"
        }
    })
    .to_string()
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

/// Where a bus logs to CloudWatch Logs (a delivery from the bus, as a delivery source, to a
/// log group), the failure records of a rule whose metrics report failures, in AWS's
/// documented schema, bring the target service's own words into `Delivering` and into the
/// `DeliveryFailing` finding; another rule's records and successes are not this rule's.
#[tokio::test(flavor = "multi_thread")]
async fn a_bus_log_record_brings_the_target_services_words() {
    let ns = namespace("e2e-bus-log");
    let config = sdk_config().await;
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let events = aws_sdk_eventbridge::Client::new(&config);
    let (bus, bus_arn, group) = logging_bus(&logs, &events, &format!("bus-{ns}")).await;
    let _ctl = Controller::start(&ns, &["--delivery-window", "1m"]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: logged, namespace: {ns}}}
spec:
  rule:
    eventBusName: {bus}
    eventPattern: {{source: ["com.example.orders"]}}
  target:
    stepFunctions: {{stateMachineArn: "{STATE_MACHINE}"}}
"#
    ));
    wait_condition(&api, "logged", "Ready", "True", Some("Converged")).await;
    let status = api.get("logged").await.unwrap().status.unwrap();
    let (rule_arn, rule) = (status.rule_arn.unwrap(), status.rule_name.unwrap());
    let record = move |rule_arn: &str, step: &str, message: &str, status: u16| {
        bus_log_record(&bus_arn, rule_arn, step, message, status)
    };
    let now = move || {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap()
    };
    let denied = "User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to perform: states:StartExecution on resource: arn:aws:states:us-east-1:123456789012:stateMachine:order-pipeline";
    // While the rule is used, EventBridge logs each failure and counts it in the metrics (for
    // a rule on a custom bus, with both dimensions): a record and a point every few seconds,
    // so that whichever one-minute window a read covers holds some.
    let feeder = {
        let (cw, logs, bus, rule, group) = (
            cw.clone(),
            logs.clone(),
            bus.clone(),
            rule.clone(),
            group.clone(),
        );
        tokio::spawn(async move {
            loop {
                for message in [
                    record(
                        &rule_arn,
                        "INVOCATION_ATTEMPT_PERMANENT_FAILURE",
                        denied,
                        403,
                    ),
                    record(
                        &format!("{rule_arn}-other"),
                        "INVOCATION_FAILURE",
                        "another rule's",
                        500,
                    ),
                    record(&rule_arn, "INVOCATION_SUCCESS", "", 200),
                ] {
                    logs.put_log_events()
                        .log_group_name(&group)
                        .log_stream_name("error")
                        .log_events(
                            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                                .timestamp(now())
                                .message(message)
                                .build()
                                .unwrap(),
                        )
                        .send()
                        .await
                        .expect("PutLogEvents");
                }
                let datum = |metric: &str, value: f64| {
                    bus_rule_datum(&bus, &rule, metric, value, std::time::SystemTime::now())
                };
                cw.put_metric_data()
                    .namespace("AWS/Events")
                    .metric_data(datum("Invocations", 1.0))
                    .metric_data(datum("FailedInvocations", 1.0))
                    .send()
                    .await
                    .expect("PutMetricData");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        })
    };

    let start = Instant::now();
    let message = loop {
        let (status, _, message) = condition(&api, "logged", "Delivering")
            .await
            .unwrap_or_default();
        if status == "False" && message.contains("event bus logged") {
            break message;
        }
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "Delivering never quoted the bus's log: {status} {message}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        message.contains(&format!(
            "; the newest failure its event bus logged for this rule: INVOCATION_ATTEMPT_PERMANENT_FAILURE: \"{denied}\" (states, HTTP 403), logged at "
        )),
        "{message}"
    );
    assert!(!message.contains("another rule's"), "{message}");
    let status = api.get("logged").await.unwrap().status.unwrap();
    let linked = status
        .findings
        .iter()
        .find(|f| f.code == ebi::diagnose::Code::DeliveryFailing)
        .expect("a DeliveryFailing finding");
    assert!(
        linked.message.contains(
            " failure(s) of this rule, the newest INVOCATION_ATTEMPT_PERMANENT_FAILURE: \"User: "
        ),
        "{}",
        linked.message
    );
    // Configured right, so nothing predicted the refusal: a report for us.
    assert!(
        linked
            .message
            .ends_with("the evaluator predicted no cause: please report it"),
        "{}",
        linked.message
    );
    feeder.abort();
    delete_and_wait(&ns, &["logged"]);
}

/// The CLI shows the same evidence (issue 20): `diagnose --rule` and `diagnose --all` read a
/// failing rule's metrics and its bus's log and link them to the predicted cause; `collect`
/// writes them into the bundle, and `diagnose --bundle` says the same offline. The rule and
/// its role are made by hand (the controller never saw them): the role lacks
/// `states:StartExecution`.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_reads_and_bundles_what_aws_recorded_of_a_failing_rule() {
    let ns = namespace("cli-delivery");
    let config = sdk_config().await;
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let aws = aws().await;
    let (bus, bus_arn, group) = logging_bus(&logs, &aws.events, &format!("bus-{ns}")).await;
    let rule = "refused";
    let rule_arn = aws
        .events
        .put_rule()
        .name(rule)
        .event_bus_name(&bus)
        .event_pattern(r#"{"source":["com.example.orders"]}"#)
        .send()
        .await
        .unwrap()
        .rule_arn
        .unwrap();
    let role = format!("cli-{ns}");
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]});
    let role_arn = aws
        .iam
        .create_role()
        .role_name(&role)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    let describe_only = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "states:DescribeExecution", "Resource": "*"}]});
    aws.iam
        .put_role_policy()
        .role_name(&role)
        .policy_name("invoke")
        .policy_document(describe_only.to_string())
        .send()
        .await
        .unwrap();
    aws.events
        .put_targets()
        .rule(rule)
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("sfn")
                .arn(STATE_MACHINE)
                .role_arn(&role_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // What EventBridge records when it is refused: the metrics, and the bus's log record.
    // The points are half a minute old, as CloudWatch's are when read (a point stamped in
    // the very second of the read may fall after its end, which is sent in whole seconds).
    let recorded_at = std::time::SystemTime::now() - Duration::from_secs(30);
    let datum = |metric: &str, value: f64| bus_rule_datum(&bus, rule, metric, value, recorded_at);
    cw.put_metric_data()
        .namespace("AWS/Events")
        .metric_data(datum("Invocations", 3.0))
        .metric_data(datum("FailedInvocations", 3.0))
        .send()
        .await
        .expect("PutMetricData");
    let denied = format!("User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/events is not authorized to perform: states:StartExecution on resource: {STATE_MACHINE}");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name("error")
        .log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(i64::try_from(now_ms).unwrap())
                .message(bus_log_record(
                    &bus_arn,
                    &rule_arn,
                    "INVOCATION_ATTEMPT_PERMANENT_FAILURE",
                    &denied,
                    403,
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("PutLogEvents");

    let cli = |args: &[&str]| {
        let out =
            std::process::Command::new(env!("CARGO_BIN_EXE_eventbridge-integration-controller"))
                .args(args)
                .output()
                .expect("the binary runs");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        (
            out.status.code(),
            stdout,
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // The DeliveryFailing finding among a JSON report's findings.
    let delivery_failing = |findings: &serde_json::Value| -> String {
        findings
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "DeliveryFailing")
            .map(|f| f["message"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no DeliveryFailing among {findings}"))
    };
    let window = ["--delivery-window", "5m"];
    let (code, stdout, stderr) = cli(&[
        &[
            "diagnose",
            "--rule",
            rule,
            "--event-bus",
            &bus,
            "--output",
            "json",
        ][..],
        &window,
    ]
    .concat());
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let online = delivery_failing(&report["findings"]);
    assert!(online.starts_with("AWS reports 3 failed invocations in 5m; its event bus logged 1 failure(s) of this rule, the newest INVOCATION_ATTEMPT_PERMANENT_FAILURE: \"User: "), "{online}");
    assert!(
        online.contains("is not authorized to perform: states:StartExecution"),
        "{online}"
    );
    assert!(
        online.ends_with("; predicted: StartExecutionNotAllowed"),
        "{online}"
    );

    // The same rule in an audit of its bus: a row for the rule itself.
    let (code, stdout, _) = cli(&[
        &["diagnose", "--all", "--event-bus", &bus, "--output", "json"][..],
        &window,
    ]
    .concat());
    assert_eq!(code, Some(1));
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let rule_row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["targetId"].is_null())
        .unwrap_or_else(|| panic!("a row for the rule: {rows}"));
    assert_eq!(delivery_failing(&rule_row["findings"]), online);

    // Collected, then judged offline: the same words.
    let (code, bundle, stderr) = cli(&[
        &["collect", "--rule", rule, "--event-bus", &bus][..],
        &window,
    ]
    .concat());
    assert_eq!(code, Some(0), "{stderr}");
    let parsed: serde_json::Value = serde_json::from_str(&bundle).unwrap();
    assert_eq!(parsed["delivery"]["metrics"]["FailedInvocations"], 3.0);
    assert_eq!(parsed["delivery"]["windowSeconds"], 300);
    assert_eq!(
        parsed["delivery"]["busLogRecords"].as_array().map(Vec::len),
        Some(1)
    );
    let path = std::env::temp_dir().join(format!("{ns}.json"));
    std::fs::write(&path, &bundle).unwrap();
    let (code, stdout, _) = cli(&[
        "diagnose",
        "--bundle",
        path.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(delivery_failing(&report["findings"]), online);

    // `--delivery-window 0s` reads none of it.
    let (_, stdout, _) = cli(&[
        "diagnose",
        "--rule",
        rule,
        "--event-bus",
        &bus,
        "--output",
        "json",
        "--delivery-window",
        "0s",
    ]);
    assert!(!stdout.contains("DeliveryFailing"), "{stdout}");
}
