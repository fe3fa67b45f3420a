//! Drift events (issue 20 §2, `run --drift-events`): a hand edit announced by a
//! CloudTrail-shaped event on the default bus is corrected within seconds although the
//! resync interval is an hour; an event for a resource no object owns re-queues nothing;
//! a controller started without the flag removes the rule and queue.
//!
//! Real kube-apiserver and moto over HTTP. moto routes `PutEvents` on the default bus
//! through the drift rule's pattern (exact names and `prefix`) to its SQS target, as
//! EventBridge routes CloudTrail's own events; on AWS, `PutEvents` with an `aws.*` source is
//! refused, and the events come from CloudTrail itself. The pattern and the mapping are
//! unit-tested in `src/plan/drift.rs`.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

use std::time::{Duration, Instant};

use ebi::plan::drift;
use support::*;

/// Puts a CloudTrail-shaped event of EventBridge's `call` on `rule` on the default bus.
async fn cloudtrail_event(aws: &Aws, call: &str, rule: &str) {
    let request = serde_json::json!({"rule": rule, "ids": ["1"]});
    put_cloudtrail_event(&aws.events, ("events", call), (ACCOUNT, REGION), request).await;
}

/// Puts on the default bus `events` reaches the event CloudTrail records for `service`'s
/// `call` (`events`, `PutTargets`) made in `account` and `region` with `request`.
async fn put_cloudtrail_event(
    events: &aws_sdk_eventbridge::Client,
    (service, call): (&str, &str),
    (account, region): (&str, &str),
    request: serde_json::Value,
) {
    let detail = serde_json::json!({
        "eventSource": format!("{service}.amazonaws.com"),
        "eventName": call,
        "awsRegion": region,
        // CloudTrail's record names the account (moto's envelope lacks `account`).
        "recipientAccountId": account,
        "userIdentity": {"arn": format!("arn:aws:iam::{account}:user/someone-by-hand")},
        "requestParameters": request,
    });
    let out = events
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source(format!("aws.{service}"))
                .detail_type("AWS API Call via CloudTrail")
                .detail(detail.to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_entry_count(), 0, "{out:?}");
}

/// The rule's targets; none while the rule does not exist (the controller makes the drift
/// queue before the rule that feeds it, so a barrier may look between the two).
async fn targets(aws: &Aws, rule: &str) -> Vec<aws_sdk_eventbridge::types::Target> {
    match aws.events.list_targets_by_rule().rule(rule).send().await {
        Ok(out) => out.targets().to_vec(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            vec![]
        }
        Err(e) => panic!("ListTargetsByRule {rule}: {e:?}"),
    }
}

async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk_config().await)
}

async fn queue_url(sqs: &aws_sdk_sqs::Client, name: &str) -> Option<String> {
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .ok()
        .and_then(|o| o.queue_url)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cloudtrail_event_brings_a_drifted_integration_back_within_10s_with_an_hourly_resync() {
    let ns = namespace("drift-events");
    let cluster = format!("drift-e2e-{ns}");
    let plumbing = drift::resource_name(&cluster, std::slice::from_ref(&ns));
    let mut ctl = Controller::start_with_resync(
        &ns,
        "1h",
        &["--drift-events", "--cluster-id", &cluster],
        &[],
    );
    let api = kube_api(&ns).await;
    let aws = aws().await;
    let sqs = sqs().await;
    apply(&sfn_yaml(&ns, "orders"));
    wait_condition(&api, "orders", "Ready", "True", None).await;
    let rule = derived(&ns, "orders");

    // The drift rule and queue: our tags, CloudTrail's pattern of the watched calls (IAM's
    // too, in us-east-1), the queue as the only target, a statement admitting that rule.
    wait_until_async(
        "the drift rule, its target and the queue's statement",
        Duration::from_secs(20),
        || async {
            if !aws.rule_exists(&plumbing).await || targets(&aws, &plumbing).await.is_empty() {
                return false;
            }
            // The queue's statement is written after the rule's target.
            let Some(url) = queue_url(&sqs, &plumbing).await else {
                return false;
            };
            let policy = aws_sdk_sqs::types::QueueAttributeName::Policy;
            sqs.get_queue_attributes()
                .queue_url(&url)
                .attribute_names(policy.clone())
                .send()
                .await
                .ok()
                .and_then(|a| a.attributes().and_then(|m| m.get(&policy).cloned()))
                .is_some_and(|p| p.contains("ebi-drift-events"))
        },
    )
    .await;
    let described = aws
        .events
        .describe_rule()
        .name(&plumbing)
        .send()
        .await
        .unwrap();
    let pattern: serde_json::Value =
        serde_json::from_str(described.event_pattern().unwrap()).unwrap();
    assert_eq!(pattern, drift::pattern("aws", REGION));
    assert!(drift::selects(
        &pattern,
        "aws.iam",
        "iam.amazonaws.com",
        "PutRolePolicy"
    ));
    let rule_arn = described.arn().unwrap().to_string();
    let tags = aws
        .events
        .list_tags_for_resource()
        .resource_arn(&rule_arn)
        .send()
        .await
        .unwrap();
    let tag = |k: &str| {
        tags.tags()
            .iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_string())
    };
    assert_eq!(
        tag("eventbridge.dev/cluster").as_deref(),
        Some(cluster.as_str())
    );
    assert_eq!(
        tag("eventbridge.dev/purpose").as_deref(),
        Some("drift-events")
    );
    assert_eq!(
        tag("eventbridge.dev/owner-uid"),
        None,
        "plumbing, not an object's"
    );
    let url = queue_url(&sqs, &plumbing).await.expect("the drift queue");
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    let queue_arn = attributes
        .get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .unwrap()
        .clone();
    let drift_targets = targets(&aws, &plumbing).await;
    assert_eq!(drift_targets.len(), 1);
    assert_eq!(drift_targets[0].arn(), queue_arn);
    let policy: serde_json::Value = serde_json::from_str(
        attributes
            .get(&aws_sdk_sqs::types::QueueAttributeName::Policy)
            .expect("the queue policy"),
    )
    .unwrap();
    assert_eq!(
        policy["Statement"],
        serde_json::json!([{
            "Sid": "ebi-drift-events",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}
        }]),
    );
    let queue_tags = sqs.list_queue_tags().queue_url(&url).send().await.unwrap();
    assert_eq!(
        queue_tags
            .tags()
            .and_then(|t| t.get("eventbridge.dev/cluster"))
            .map(String::as_str),
        Some(cluster.as_str())
    );

    // An event for a rule no object owns re-queues nothing. (First, the passes of the
    // object's creation end: the finalizer's own pass comes after Ready.)
    let mut passes = ctl.reconciles();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = ctl.reconciles();
        if now == passes {
            break;
        }
        passes = now;
    }
    cloudtrail_event(&aws, "RemoveTargets", "someone-elses-rule").await;
    wait_until(
        "the foreign event to be read",
        Duration::from_secs(30),
        || ctl.counter("ebi_drift_events_total", "outcome=\"unowned\"") >= 1.0,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        ctl.reconciles(),
        passes,
        "a foreign rule's event re-queued a pass"
    );
    assert_eq!(
        ctl.counter("ebi_drift_events_total", "outcome=\"requeued\""),
        0.0
    );

    // A hand edit, announced: corrected within 10 s, with the next resync an hour away.
    let before = targets(&aws, &rule).await;
    assert_eq!(before.len(), 1);
    aws.events
        .remove_targets()
        .rule(&rule)
        .ids(before[0].id())
        .send()
        .await
        .unwrap();
    assert!(targets(&aws, &rule).await.is_empty());
    let edited = Instant::now();
    cloudtrail_event(&aws, "RemoveTargets", &rule).await;
    wait_until_async(
        "the target to be restored",
        Duration::from_secs(10),
        || async { targets(&aws, &rule).await.len() == 1 },
    )
    .await;
    let took = edited.elapsed();
    println!("hand edit → corrected in {took:?} (resync 1h)");
    assert_eq!(targets(&aws, &rule).await[0].arn(), before[0].arn());
    assert_eq!(
        ctl.counter("ebi_drift_events_total", "outcome=\"requeued\""),
        1.0
    );
    // Read messages are deleted.
    wait_until_async("the queue to be empty", Duration::from_secs(10), || async {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        attrs.attributes().unwrap().values().all(|v| v == "0")
    })
    .await;

    // The drift queue's own policy emptied by hand and its retention shortened, announced:
    // put back at once. (A delay set by hand would hold back its own announcement too; the
    // periodic check puts that back, unit-tested in `plan::drift`.)
    {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        sqs.set_queue_attributes()
            .queue_url(&url)
            .attributes(A::Policy, "")
            .attributes(A::MessageRetentionPeriod, "60")
            .send()
            .await
            .unwrap();
    }
    let detail = serde_json::json!({
        "eventSource": "sqs.amazonaws.com",
        "eventName": "SetQueueAttributes",
        "awsRegion": REGION,
        "recipientAccountId": "123456789012",
        "requestParameters": {"queueUrl": url, "attributes": {"Policy": ""}},
    });
    aws.events
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source("aws.sqs")
                .detail_type("AWS API Call via CloudTrail")
                .detail(detail.to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the drift queue's statement back",
        Duration::from_secs(10),
        || async {
            sqs.get_queue_attributes()
                .queue_url(&url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
                .send()
                .await
                .unwrap()
                .attributes()
                .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
                .is_some_and(|p| p.contains("ebi-drift-events"))
        },
    )
    .await;
    wait_until_async(
        "the drift queue's attributes back",
        Duration::from_secs(10),
        || async {
            let attributes = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                .send()
                .await
                .unwrap();
            let attributes = attributes.attributes().unwrap();
            drift::QUEUE_ATTRIBUTES.iter().all(|(name, value)| {
                attributes
                    .get(&aws_sdk_sqs::types::QueueAttributeName::from(*name))
                    .map(String::as_str)
                    == Some(*value)
            })
        },
    )
    .await;

    // The orphan report lists them as this cluster's drift plumbing, in use: `--delete`
    // keeps them.
    let report = |delete: bool| {
        let mut args = vec![
            "--cluster-id",
            cluster.as_str(),
            "--locations-namespace",
            ns.as_str(),
            "--namespace",
            ns.as_str(),
        ];
        if delete {
            args.push("--delete");
        }
        orphan_report(&args)["driftEvents"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|d| d["name"] == plumbing.as_str())
            .collect::<Vec<_>>()
    };
    let listed = report(true);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["inUse"], true);
    assert_eq!(listed[0]["region"], REGION);
    assert!(listed[0].get("removal").is_none(), "{listed:?}");
    assert!(aws.rule_exists(&plumbing).await && queue_url(&sqs, &plumbing).await.is_some());

    // Without the flag, the next controller removes the rule and queue (the ConfigMap lists
    // their place), and the object's own resources stay.
    ctl.kill();
    let _ctl = Controller::start_with_resync(&ns, "1h", &["--cluster-id", &cluster], &[]);
    wait_until_async(
        "the drift rule and queue to be removed",
        Duration::from_secs(20),
        || async {
            !aws.rule_exists(&plumbing).await && queue_url(&sqs, &plumbing).await.is_none()
        },
    )
    .await;
    assert!(aws.rule_exists(&rule).await);
    // Whether the drift ConfigMap no longer lists this account and region.
    let place_forgotten = || {
        let (_, recorded) = kubectl(
            &[
                "get",
                "configmap",
                "eventbridge-integration-controller-drift-events",
                "-n",
                &ns,
                "-o",
                "jsonpath={.data}",
            ],
            None,
        );
        !recorded.contains(&format!("123456789012.{REGION}"))
    };
    // The place leaves the ConfigMap after its rule and queue are gone.
    wait_until(
        "the place to leave the drift ConfigMap",
        Duration::from_secs(20),
        place_forgotten,
    );

    // With the flag again, they come back; once the object is deleted no record uses the
    // place, and `orphans --delete` removes them (the controller does at its next resync):
    // a controller that lost its queue lists the records again rather than set it up anew.
    drop(_ctl);
    let _ctl = Controller::start_with_resync(
        &ns,
        "1h",
        &["--drift-events", "--cluster-id", &cluster],
        &[],
    );
    wait_until_async(
        "the drift rule and queue again",
        Duration::from_secs(20),
        || async { aws.rule_exists(&plumbing).await && queue_url(&sqs, &plumbing).await.is_some() },
    )
    .await;
    delete_and_wait(&ns, &["orders"]);
    let listed = report(true);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["inUse"], false);
    assert_eq!(listed[0]["removal"], "removed");
    assert!(!aws.rule_exists(&plumbing).await);
    assert!(queue_url(&sqs, &plumbing).await.is_none());
    wait_until(
        "the controller to forget the place",
        Duration::from_secs(40),
        place_forgotten,
    );
    assert!(
        !aws.rule_exists(&plumbing).await,
        "set up again from a stale index"
    );
    assert!(queue_url(&sqs, &plumbing).await.is_none());
}

/// The drift rule's pattern in a place, once the rule is there with its queue as target.
async fn drift_rule_in(
    events: &aws_sdk_eventbridge::Client,
    name: &str,
    place: &str,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(rule) = events.describe_rule().name(name).send().await {
            let queued = events
                .list_targets_by_rule()
                .rule(name)
                .send()
                .await
                .is_ok_and(|t| t.targets().iter().any(|t| t.arn().contains(":sqs:")));
            if queued {
                return serde_json::from_str(rule.event_pattern().unwrap_or_default()).unwrap();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no drift rule {name} with its queue in {place} after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// IAM is global and CloudTrail records its calls in us-east-1 only: an integration whose
/// rule is in eu-west-1 hears its role's drift from the drift rule in us-east-1, and the one
/// in eu-west-1 does not ask for IAM's events.
#[tokio::test(flavor = "multi_thread")]
async fn a_role_edit_is_heard_in_us_east_1_for_an_integration_in_another_region() {
    const ELSEWHERE: &str = "eu-west-1";
    let ns = namespace("drift-iam");
    let cluster = format!("drift-e2e-{ns}");
    let plumbing = drift::resource_name(&cluster, std::slice::from_ref(&ns));
    let _ctl = Controller::start_with_resync(
        &ns,
        "1h",
        &["--drift-events", "--cluster-id", &cluster],
        &[],
    );
    let api = kube_api(&ns).await;
    let aws = aws().await;
    let elsewhere = aws_sdk_eventbridge::Client::new(
        &sdk_config()
            .await
            .to_builder()
            .region(aws_config::Region::new(ELSEWHERE))
            .build(),
    );
    let state_machine = STATE_MACHINE.replace(REGION, ELSEWHERE);
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: orders, namespace: {ns}}}
spec:
  region: {ELSEWHERE}
  rule: {{scheduleExpression: "rate(5 minutes)"}}
  target:
    stepFunctions: {{stateMachineArn: {state_machine}}}
"#
    ));
    wait_condition(&api, "orders", "Ready", "True", None).await;
    let role = derived(&ns, "orders");
    let policy = aws.inline_policy(&role).await.expect("the role's policy");

    let regional = drift_rule_in(&elsewhere, &plumbing, ELSEWHERE).await;
    assert_eq!(regional, drift::pattern("aws", ELSEWHERE));
    assert!(
        !drift::selects(
            &regional,
            "aws.iam",
            "iam.amazonaws.com",
            "DeleteRolePolicy"
        ),
        "IAM's events are never recorded in {ELSEWHERE}: {regional}"
    );
    let global = drift_rule_in(&aws.events, &plumbing, REGION).await;
    assert!(drift::selects(
        &global,
        "aws.iam",
        "iam.amazonaws.com",
        "DeleteRolePolicy"
    ));

    // The role's policy deleted by hand; CloudTrail records it in us-east-1.
    aws.iam
        .delete_role_policy()
        .role_name(&role)
        .policy_name("eventbridge-integration")
        .send()
        .await
        .unwrap();
    let edited = Instant::now();
    put_cloudtrail_event(
        &aws.events,
        ("iam", "DeleteRolePolicy"),
        (ACCOUNT, REGION),
        serde_json::json!({"roleName": role, "policyName": "eventbridge-integration"}),
    )
    .await;
    wait_until_async(
        "the role's policy to be restored",
        Duration::from_secs(10),
        || async { aws.inline_policy(&role).await.is_some() },
    )
    .await;
    println!(
        "role edit → corrected in {:?} (rule in {ELSEWHERE}, resync 1h)",
        edited.elapsed()
    );
    assert_eq!(aws.inline_policy(&role).await, Some(policy));
    delete_and_wait(&ns, &["orders"]);
}

/// A place in another account: the drift rule and queue are set up there too (through the
/// provisioning role), and a hand edit there, on the target account's bus, is corrected
/// within 10 s with an hourly resync.
#[tokio::test(flavor = "multi_thread")]
async fn a_hand_edit_in_the_target_account_is_heard_there() {
    const B: &str = OTHER_ACCOUNT;
    let ns = namespace("drift-x");
    let cluster = format!("drift-e2e-{ns}");
    let plumbing = drift::resource_name(&cluster, std::slice::from_ref(&ns));
    let b = aws_in(B).await;
    let bus = format!("bus-{ns}");
    b.events.create_event_bus().name(&bus).send().await.unwrap();
    let _ctl = Controller::start_with_resync(
        &ns,
        "1h",
        &["--drift-events", "--cluster-id", &cluster],
        &[],
    );
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: fwd, namespace: {ns}}}
spec:
  rule:
    eventPattern: {{source: ["com.example.orders"]}}
  target:
    ecs:
      clusterArn: {cluster_b}
      taskDefinitionArn: {task_b}
      networkConfiguration: {{subnets: [subnet-0a1b2c3d]}}
  crossAccount:
    targetAccountId: "{B}"
    provisioningRoleArn: {PROVISIONER}
    mode: EventBusForwarding
    targetEventBusName: {bus}
"#,
        cluster_b = CLUSTER.replace(ACCOUNT, B),
        task_b = TASK_DEFINITION.replace(ACCOUNT, B),
    ));
    wait_condition(&api, "fwd", "Ready", "True", None).await;
    let pattern = drift_rule_in(&b.events, &plumbing, &format!("account {B}")).await;
    assert_eq!(pattern, drift::pattern("aws", REGION));
    let queue = b
        .events
        .list_targets_by_rule()
        .rule(&plumbing)
        .send()
        .await
        .unwrap();
    assert!(
        queue.targets()[0]
            .arn()
            .contains(&format!(":sqs:{REGION}:{B}:")),
        "the drift queue is in the target account: {queue:?}"
    );

    // The rule on B's bus loses its target by hand; CloudTrail records it in B.
    let rule = derived(&ns, "fwd");
    let in_b = || async {
        b.events
            .list_targets_by_rule()
            .rule(&rule)
            .event_bus_name(&bus)
            .send()
            .await
            .unwrap()
            .targets()
            .to_vec()
    };
    let before = in_b().await;
    assert_eq!(before.len(), 1);
    b.events
        .remove_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .ids(before[0].id())
        .send()
        .await
        .unwrap();
    let edited = Instant::now();
    put_cloudtrail_event(
        &b.events,
        ("events", "RemoveTargets"),
        (B, REGION),
        serde_json::json!({"rule": rule, "eventBusName": bus, "ids": [before[0].id()]}),
    )
    .await;
    wait_until_async(
        "the target on B's bus to be restored",
        Duration::from_secs(10),
        || async { in_b().await.len() == 1 },
    )
    .await;
    println!(
        "hand edit in account {B} → corrected in {:?} (resync 1h)",
        edited.elapsed()
    );
    assert_eq!(in_b().await[0].arn(), before[0].arn());
    delete_and_wait(&ns, &["fwd"]);
}

/// A schedule edited by hand is put back within seconds of CloudTrail's `UpdateSchedule`,
/// with the next resync an hour away.
#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_edited_by_hand_is_put_back_on_its_cloudtrail_event() {
    let ns = namespace("drift-schedule");
    let cluster = format!("drift-e2e-{ns}");
    let plumbing = drift::resource_name(&cluster, std::slice::from_ref(&ns));
    let _ctl = Controller::start_with_resync(
        &ns,
        "1h",
        &["--drift-events", "--cluster-id", &cluster],
        &[],
    );
    let api = kube_api(&ns).await;
    let aws = aws().await;
    let sqs = sqs().await;
    let queue = format!("ticks-{ns}");
    sqs.create_queue().queue_name(&queue).send().await.unwrap();
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: ticks, namespace: {ns}}}
spec:
  schedule: {{expression: "rate(1 hour)"}}
  target:
    sqs: {{queueArn: "arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"}}
"#
    ));
    wait_condition(&api, "ticks", "Ready", "True", None).await;
    wait_until_async(
        "the drift rule and the queue's statement",
        Duration::from_secs(20),
        || async {
            let Some(url) = queue_url(&sqs, &plumbing).await else {
                return false;
            };
            let policy = aws_sdk_sqs::types::QueueAttributeName::Policy;
            !targets(&aws, &plumbing).await.is_empty()
                && sqs
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(policy.clone())
                    .send()
                    .await
                    .ok()
                    .and_then(|a| a.attributes().and_then(|m| m.get(&policy).cloned()))
                    .is_some_and(|p| p.contains("ebi-drift-events"))
        },
    )
    .await;
    let scheduler = aws_sdk_scheduler::Client::new(&sdk_config().await);
    let name = derived(&ns, "ticks");
    let expression = || async {
        scheduler
            .get_schedule()
            .name(&name)
            .send()
            .await
            .unwrap()
            .schedule_expression()
            .map(str::to_string)
    };
    let s = scheduler.get_schedule().name(&name).send().await.unwrap();
    scheduler
        .update_schedule()
        .name(&name)
        .schedule_expression("rate(1 minute)")
        .description(s.description().unwrap_or_default())
        .flexible_time_window(s.flexible_time_window().unwrap().clone())
        .target(s.target().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(expression().await.as_deref(), Some("rate(1 minute)"));
    let edited = Instant::now();
    put_cloudtrail_event(
        &aws.events,
        ("scheduler", "UpdateSchedule"),
        (ACCOUNT, REGION),
        serde_json::json!({"name": name, "groupName": "default", "scheduleExpression": "rate(1 minute)"}),
    )
    .await;
    wait_until_async(
        "the schedule to be put back",
        Duration::from_secs(10),
        || async { expression().await.as_deref() == Some("rate(1 hour)") },
    )
    .await;
    println!(
        "schedule edited by hand → put back in {:?} (resync 1h)",
        edited.elapsed()
    );
    delete_and_wait(&ns, &["ticks"]);
}
