//! The ownership record and the lifecycle built on it, end to end on the local
//! kube-apiserver + moto: moves, statement ids, foreign attachments, partial failures,
//! rejected writes and the orphan report. Each test failed before the record existed.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

use std::time::Duration;

use support::*;

fn sfn_in(ns: &str, name: &str, region: &str) -> String {
    format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: {name}, namespace: {ns}}}
spec:
  region: {region}
  rule: {{name: {name}-{ns}, scheduleExpression: "rate(5 minutes)"}}
  target:
    stepFunctions: {{stateMachineArn: "arn:aws:states:{region}:{ACCOUNT}:stateMachine:order-pipeline"}}
"#
    )
}

/// The objects go without their clean-up (their controller stopped): the finalizer is
/// removed by hand, then they are deleted.
fn abandon(ns: &str, names: &[&str]) {
    for name in names {
        kubectl(
            &[
                "patch",
                "ebi",
                name,
                "-n",
                ns,
                "--type=merge",
                "-p",
                r#"{"metadata":{"finalizers":null}}"#,
            ],
            None,
        );
    }
    delete_and_wait(ns, names);
}

/// A new queue named `name` in the test account: the client, its URL and its ARN.
async fn new_queue(name: &str) -> (aws_sdk_sqs::Client, String, String) {
    let sqs = aws_sdk_sqs::Client::new(&sdk_config().await);
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (sqs, url, format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"))
}

async fn aws_in_region(region: &str) -> aws_sdk_eventbridge::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await;
    aws_sdk_eventbridge::Client::new(&config)
}

/// True when the rule exists, false on NotFound; panics on any other error, so an
/// unreachable emulator never reads as "gone".
async fn rule_in(events: &aws_sdk_eventbridge::Client, name: &str, bus: &str) -> bool {
    match events
        .describe_rule()
        .name(name)
        .event_bus_name(bus)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            false
        }
        Err(e) => panic!("describe_rule {name}: {e:?}"),
    }
}

async fn recorded_resources(
    api: &kube::Api<ebi::api::EventBridgeIntegration>,
    name: &str,
) -> Vec<ebi::api::OwnedResource> {
    api.get(name)
        .await
        .unwrap()
        .status
        .and_then(|s| s.resources)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_region_change_moves_the_rule_and_removes_the_old_one() {
    let ns = namespace("own-region");
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let rule = format!("moving-{ns}");
    apply(&sfn_in(&ns, "moving", "us-east-1"));
    wait_condition(&api, "moving", "RuleReady", "True", None).await;
    let east = aws_in_region("us-east-1").await;
    let west = aws_in_region("us-west-2").await;
    assert!(rule_in(&east, &rule, "default").await);

    apply(&sfn_in(&ns, "moving", "us-west-2"));
    wait_until_async(
        "the rule to move to us-west-2",
        Duration::from_secs(60),
        || async {
            rule_in(&west, &rule, "default").await && !rule_in(&east, &rule, "default").await
        },
    )
    .await;
    // The pass deletes the old rule before it writes the record without it: wait for the
    // record rather than read it in between.
    let west_arn = format!("arn:aws:events:us-west-2:{ACCOUNT}:rule/{rule}");
    wait_until_async(
        "the record to hold only the us-west-2 rule",
        Duration::from_secs(30),
        || async {
            let recorded = recorded_resources(&api, "moving").await;
            recorded.iter().any(|r| r.arn == west_arn)
                && !recorded
                    .iter()
                    .any(|r| r.region.as_deref() == Some("us-east-1"))
        },
    )
    .await;
    // The new rule stays (it is not mistaken for the old one), through several resyncs.
    let recorded = recorded_resources(&api, "moving").await;
    assert!(
        recorded
            .iter()
            .any(|r| r.arn == format!("arn:aws:events:us-west-2:{ACCOUNT}:rule/{rule}")),
        "{recorded:?}"
    );
    assert!(
        !recorded
            .iter()
            .any(|r| r.region.as_deref() == Some("us-east-1")),
        "the old rule left the record: {recorded:?}"
    );
    // Two resyncs (3 s apart) read and diff again: they must not undo the move.
    let passes = ctl.reconciles();
    wait_until("two resyncs", Duration::from_secs(30), || {
        ctl.reconciles() >= passes + 2
    });
    assert!(
        rule_in(&west, &rule, "default").await,
        "the new rule survives resyncs"
    );
    assert!(!rule_in(&east, &rule, "default").await);

    delete_and_wait(&ns, &["moving"]);
    assert!(
        !rule_in(&west, &rule, "default").await,
        "deletion removes the rule where it is"
    );
}

fn lambda_on_bus(ns: &str, name: &str, rule: &str, bus: Option<&str>) -> String {
    let bus = bus
        .map(|b| format!("eventBusName: {b}, "))
        .unwrap_or_default();
    format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: {name}, namespace: {ns}}}
spec:
  rule: {{name: {rule}, {bus}eventPattern: {{source: ["com.example.orders"]}}}}
  target:
    lambda: {{functionArn: "{FUNCTION}"}}
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn two_rules_of_one_name_on_two_buses_share_a_function_without_fighting() {
    let ns = namespace("own-twobus");
    let aws = aws().await;
    let bus = format!("orders-{ns}");
    aws.events
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .unwrap();
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let rule = format!("same-{ns}");
    apply(&lambda_on_bus(&ns, "on-default", &rule, None));
    apply(&lambda_on_bus(&ns, "on-bus", &rule, Some(&bus)));
    wait_condition(&api, "on-default", "Ready", "True", None).await;
    wait_condition(&api, "on-bus", "Ready", "True", None).await;
    let policy = aws.function_policy(FUNCTION).await;
    let on_default = statement_id(&rule);
    let on_bus = ebi::plan::names::statement_id(
        &rule,
        &format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/{rule}"),
    );
    assert_ne!(on_default, on_bus);
    assert!(
        policy.contains(&on_default) && policy.contains(&on_bus),
        "{policy}"
    );

    // Resyncs write nothing: the two statements no longer replace each other.
    let before = ctl.aws_calls();
    let reconciles = ctl.successful_reconciles();
    wait_until("two resyncs", Duration::from_secs(30), || {
        ctl.successful_reconciles() >= reconciles + 4
    });
    let (_, writes, ops) = calls_between(&before, &ctl.aws_calls());
    assert_eq!(writes, 0, "resyncs wrote {ops:?}");

    delete_and_wait(&ns, &["on-default", "on-bus"]);
    let policy = aws.function_policy(FUNCTION).await;
    assert!(
        !policy.contains(&on_default) && !policy.contains(&on_bus),
        "{policy}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_adopted_role_with_a_foreign_managed_policy_releases_it() {
    let ns = namespace("own-release");
    let aws = aws().await;
    let role = format!("shared-{ns}");
    aws.iam
        .create_role()
        .role_name(&role)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let policy_arn = aws
        .iam
        .create_policy()
        .policy_name(format!("audit-{ns}"))
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:PutLogEvents","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    aws.iam
        .attach_role_policy()
        .role_name(&role)
        .policy_arn(&policy_arn)
        .send()
        .await
        .unwrap();
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&ecs_yaml(
        &ns,
        "adopter",
        &format!("  adoptExisting: true\n  role: {{name: {role}}}\n"),
    ));
    wait_condition(&api, "adopter", "RoleReady", "True", None).await;
    assert!(
        aws.inline_policy(&role).await.is_some(),
        "adopted and written"
    );

    // Deletion finishes (no DeleteConflict loop) and leaves the role with what is not ours.
    delete_and_wait(&ns, &["adopter"]);
    assert!(
        aws.role_exists(&role).await,
        "the role is released, not deleted"
    );
    let attached = aws
        .iam
        .list_attached_role_policies()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn())
            .collect::<Vec<_>>(),
        vec![policy_arn.as_str()],
        "the foreign managed policy stays attached"
    );
    assert_eq!(
        aws.inline_policy(&role).await,
        None,
        "our inline policy is removed"
    );
    let tags = aws
        .iam
        .list_role_tags()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    assert!(
        !tags
            .tags()
            .iter()
            .any(|t| t.key().starts_with("eventbridge.dev/")),
        "our owner tags are removed: {:?}",
        tags.tags()
    );
    let (_, reasons) = kubectl(
        &[
            "get",
            "events",
            "-n",
            &ns,
            "-o",
            "jsonpath={.items[*].reason}",
        ],
        None,
    );
    assert!(reasons.contains("Released"), "{reasons}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_pass_that_failed_halfway_orphans_nothing_on_delete() {
    let ns = namespace("own-halfway");
    // Every PutRule is throttled: the role gets written, the rule never does.
    let proxy = FaultProxy::start(&["no-role-is-denied", "AWSEvents.PutRule", "1000000"]);
    let _ctl =
        Controller::start_with_env(&ns, &[], &[("AWS_ENDPOINT_URL", proxy.endpoint.as_str())]);
    let api = kube_api(&ns).await;
    apply(&sfn_yaml(&ns, "halfway"));
    let aws = aws().await;
    let role = derived(&ns, "halfway");
    wait_until_async(
        "the role to be written",
        Duration::from_secs(60),
        || async { aws.role_exists(&role).await },
    )
    .await;
    let recorded = api
        .get("halfway")
        .await
        .unwrap()
        .status
        .and_then(|s| s.resources);
    let kinds: Vec<_> = recorded.iter().flatten().map(|r| r.kind).collect();
    assert!(
        kinds.contains(&ebi::api::OwnedKind::Role) && kinds.contains(&ebi::api::OwnedKind::Rule),
        "both recorded before the first write: {kinds:?}"
    );
    delete_and_wait(&ns, &["halfway"]);
    assert!(
        !aws.role_exists(&role).await,
        "the role written by the failed pass is removed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_aws_rejects_stalls_with_aws_message_instead_of_retrying() {
    let ns = namespace("own-rejected");
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    // Passes the schema (a pattern is free JSON), but EventBridge refuses it.
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: refused, namespace: {ns}}}
spec:
  rule:
    eventPattern: {{source: "not-a-list"}}
  target:
    lambda: {{functionArn: "{FUNCTION}"}}
"#
    ));
    wait_condition(&api, "refused", "Stalled", "True", Some("RejectedByAws")).await;
    let (_, _, message) = condition(&api, "refused", "Ready").await.unwrap();
    assert!(message.contains("events:PutRule"), "{}", message);
    // No hot retry: over a few seconds the rejected write is not repeated more than the
    // resync interval (3 s) allows.
    let put_rules = |calls: &std::collections::BTreeMap<(String, String), u64>| {
        calls
            .iter()
            .filter(|((_, op), _)| op == "PutRule")
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let before = put_rules(&ctl.aws_calls());
    tokio::time::sleep(Duration::from_secs(7)).await;
    let after = put_rules(&ctl.aws_calls());
    assert!(
        after - before <= 3,
        "PutRule retried {} times in 7 s",
        after - before
    );
    assert!(
        ctl.metrics_text()
            .contains("ebi_reconciles_total{result=\"rejected\"}"),
        "a rejected pass is counted as such, not as a success"
    );
}

/// What lost its object is an orphan once older than the grace period: listed, and with
/// `--delete` removed, with the dead-letter queue statement that granted its rule. Younger,
/// it is only reported (with a warning: another controller may share the cluster id).
#[tokio::test(flavor = "multi_thread")]
async fn the_orphan_report_lists_and_removes_what_lost_its_object() {
    let ns = namespace("own-orphans");
    let queue_name = format!("dlq-{ns}");
    let (sqs, url, queue_arn) = new_queue(&queue_name).await;
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        "{}    deadLetterQueueArn: {queue_arn}\n",
        sfn_yaml(&ns, "abandoned")
    ));
    wait_condition(&api, "abandoned", "Ready", "True", None).await;
    drop(ctl);
    abandon(&ns, &["abandoned"]);
    let name = derived(&ns, "abandoned");
    let aws = aws().await;
    let ours = |report: &serde_json::Value, list: &str| -> Vec<String> {
        report[list]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["owner"] == format!("{ns}/abandoned"))
            .map(|o| o["kind"].as_str().unwrap().to_string())
            .collect()
    };

    // Seconds old: not an orphan yet under the default grace period, not even with --delete.
    let young = orphan_report(&["--delete"]);
    assert!(ours(&young, "orphans").is_empty(), "{young}");
    assert_eq!(ours(&young, "notYet"), vec!["Rule", "Role"], "{young}");
    assert!(
        young["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("--cluster-id")),
        "{young}"
    );
    assert!(aws.rule_exists(&name).await && aws.role_exists(&name).await);

    let grace = [("EBI_ORPHAN_GRACE_PERIOD", "0s")];
    // Scoped to this test's namespace: a parallel test's objects are not swept from under it.
    let found = orphan_report_with(&["--namespace", &ns], &grace);
    assert_eq!(
        ours(&found, "orphans"),
        vec!["Rule", "QueuePermission", "Role"],
        "the queue statement that grants the rule too: {found}"
    );
    assert!(aws.rule_exists(&name).await, "read-only by default");
    let removed = orphan_report_with(&["--delete", "--namespace", &ns], &grace);
    let removals: Vec<_> = removed["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["owner"] == format!("{ns}/abandoned"))
        .map(|o| o["removal"].clone())
        .collect();
    assert!(
        removals.len() == 3 && removals.iter().all(|r| r == "removed"),
        "{removed}"
    );
    assert!(!aws.rule_exists(&name).await && !aws.role_exists(&name).await);
    let policy = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .unwrap();
    let policy = policy
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
        .cloned()
        .unwrap_or_default();
    assert!(
        !policy.contains(&name),
        "the queue statement is gone: {policy}"
    );
    assert!(
        ours(
            &orphan_report_with(&["--namespace", &ns], &grace),
            "orphans"
        )
        .is_empty(),
        "nothing left"
    );
}

/// The kinds that grant their rule through a resource policy, or take no tags, are found
/// too: an SQS target's statement in its queue's policy (beside a foreign one, kept), and an
/// API destination and its connection, whose descriptions say whose they are. `--delete`
/// removes each and nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn the_orphan_report_finds_queue_statements_api_destinations_and_connections() {
    let ns = namespace("own-orphan-kinds");
    let queue_name = format!("orders-{ns}");
    let (sqs, url, queue_arn) = new_queue(&queue_name).await;
    let foreign = serde_json::json!({"Sid": "TeamReader", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
        "Action": "sqs:ReceiveMessage", "Resource": queue_arn});
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::Policy,
            serde_json::json!({"Version": "2012-10-17", "Statement": [foreign]}).to_string(),
        )
        .send()
        .await
        .unwrap();
    apply(&format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: hook-key, namespace: {ns}}}
stringData: {{apiKeyName: x-api-key, apiKeyValue: not-a-real-key}}
---
apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: queue, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target: {{sqs: {{queueArn: "{queue_arn}"}}}}
---
apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: hook, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target:
    apiDestination:
      endpoint: "https://hooks.example.com/orders"
      httpMethod: POST
      connection: {{authorizationType: API_KEY, secretRef: {{name: hook-key}}}}
---
apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: nightly, namespace: {ns}}}
spec:
  schedule: {{expression: "rate(1 hour)"}}
  target: {{sqs: {{queueArn: "{queue_arn}"}}}}
"#
    ));
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    for name in ["queue", "hook", "nightly"] {
        wait_condition(&api, name, "Ready", "True", None).await;
    }
    drop(ctl);
    abandon(&ns, &["queue", "hook", "nightly"]);
    let kinds_of = |report: &serde_json::Value, owner: &str| -> Vec<String> {
        report["orphans"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["owner"] == format!("{ns}/{owner}"))
            .map(|o| o["kind"].as_str().unwrap().to_string())
            .collect()
    };
    let grace = [("EBI_ORPHAN_GRACE_PERIOD", "0s")];
    let found = orphan_report_with(&["--namespace", &ns], &grace);
    assert_eq!(
        kinds_of(&found, "queue"),
        vec!["Rule", "QueuePermission"],
        "the target queue's statement goes with its rule: {found}"
    );
    assert_eq!(
        kinds_of(&found, "hook"),
        vec!["Rule", "Role", "ApiDestination", "Connection"],
        "{found}"
    );
    assert_eq!(
        kinds_of(&found, "nightly"),
        vec!["Role", "Schedule"],
        "a schedule is found by its description: {found}"
    );

    let removed = orphan_report_with(&["--delete", "--namespace", &ns], &grace);
    let removals: Vec<_> = removed["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            o["owner"]
                .as_str()
                .is_some_and(|o| o.starts_with(&format!("{ns}/")))
        })
        .map(|o| o["removal"].clone())
        .collect();
    assert!(
        removals.len() == 8 && removals.iter().all(|r| r == "removed"),
        "{removed}"
    );
    let scheduler = aws_sdk_scheduler::Client::new(&sdk_config().await);
    assert!(
        scheduler
            .get_schedule()
            .name(derived(&ns, "nightly"))
            .send()
            .await
            .is_err_and(|e| e.into_service_error().is_resource_not_found_exception()),
        "the schedule is gone"
    );
    let policy = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(
        policy
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        policy["Statement"],
        serde_json::json!([foreign]),
        "only our statement went"
    );
    let events = aws().await.events;
    let hook = derived(&ns, "hook");
    assert!(
        events
            .describe_api_destination()
            .name(&hook)
            .send()
            .await
            .is_err_and(|e| e.into_service_error().is_resource_not_found_exception()),
        "the API destination is gone"
    );
    assert!(
        events
            .describe_connection()
            .name(&hook)
            .send()
            .await
            .is_err_and(|e| e.into_service_error().is_resource_not_found_exception()),
        "the connection is gone"
    );
    let after = orphan_report_with(&["--namespace", &ns], &grace);
    assert!(
        kinds_of(&after, "hook").is_empty() && kinds_of(&after, "nightly").is_empty(),
        "nothing left"
    );
}

/// `orphans --delete` over the whole account removes nothing that is kept or live: a
/// retained object's rule and role (`deletionPolicy: Retain` released them: no owner UID
/// tag), a live object's, and another cluster's rule.
#[tokio::test(flavor = "multi_thread")]
async fn orphans_delete_never_removes_what_is_retained_live_or_another_clusters() {
    let ns = namespace("own-kept");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&sfn_yaml(&ns, "live"));
    apply(&format!(
        "{}  deletionPolicy: Retain\n",
        sfn_yaml(&ns, "kept")
    ));
    wait_condition(&api, "live", "Ready", "True", None).await;
    wait_condition(&api, "kept", "Ready", "True", None).await;
    delete_and_wait(&ns, &["kept"]);
    let aws = aws().await;
    let kept = derived(&ns, "kept");
    let live = derived(&ns, "live");
    // Released: the owner UID (the proof of ownership) is gone, the rest stays for people.
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{kept}");
    let rule_tags = aws
        .events
        .list_tags_for_resource()
        .resource_arn(&rule_arn)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = rule_tags.tags().iter().map(|t| t.key()).collect();
    assert!(
        !keys.contains(&"eventbridge.dev/owner-uid") && keys.contains(&"eventbridge.dev/owner"),
        "{keys:?}"
    );
    let role_tags = aws
        .iam
        .list_role_tags()
        .role_name(&kept)
        .send()
        .await
        .unwrap();
    assert!(
        !role_tags
            .tags()
            .iter()
            .any(|t| t.key() == "eventbridge.dev/owner-uid"),
        "{:?}",
        role_tags.tags()
    );
    // Another cluster's rule, with an owner this cluster has never heard of.
    let foreign = format!("other-cluster-{ns}");
    aws.events
        .put_rule()
        .name(&foreign)
        .schedule_expression("rate(1 day)")
        .tags(tag("eventbridge.dev/cluster", "another-cluster"))
        .tags(tag(
            "eventbridge.dev/owner-uid",
            "00000000-0000-0000-0000-000000000000",
        ))
        .tags(tag("eventbridge.dev/owner", &format!("{ns}/elsewhere")))
        .send()
        .await
        .unwrap();

    let report = orphan_report(&["--delete"]);
    let mentioned: Vec<&serde_json::Value> = ["orphans", "notYet"]
        .iter()
        .flat_map(|list| report[*list].as_array().unwrap())
        .filter(|o| {
            o["owner"]
                .as_str()
                .is_some_and(|owner| owner.starts_with(&format!("{ns}/")))
        })
        .collect();
    assert!(mentioned.is_empty(), "{mentioned:?}");
    for name in [&kept, &live] {
        assert!(aws.rule_exists(name).await, "{name}: rule kept");
        assert!(aws.role_exists(name).await, "{name}: role kept");
    }
    assert!(
        aws.rule_exists(&foreign).await,
        "another cluster's rule kept"
    );
    assert_eq!(
        aws.events
            .list_targets_by_rule()
            .rule(&kept)
            .send()
            .await
            .unwrap()
            .targets()
            .len(),
        1,
        "the retained rule keeps its target"
    );
    // Nothing of ours stays behind for the emulator's other tests.
    for name in [&kept, &foreign] {
        let ids: Vec<String> = aws
            .events
            .list_targets_by_rule()
            .rule(name.as_str())
            .send()
            .await
            .unwrap()
            .targets()
            .iter()
            .map(|t| t.id().to_string())
            .collect();
        if !ids.is_empty() {
            aws.events
                .remove_targets()
                .rule(name.as_str())
                .set_ids(Some(ids))
                .send()
                .await
                .unwrap();
        }
        aws.events
            .delete_rule()
            .name(name.as_str())
            .send()
            .await
            .unwrap();
    }
    let _ = aws
        .iam
        .delete_role_policy()
        .role_name(&kept)
        .policy_name("eventbridge-integration")
        .send()
        .await;
    let _ = aws.iam.delete_role().role_name(&kept).send().await;
    delete_and_wait(&ns, &["live"]);
}

fn tag(key: &str, value: &str) -> aws_sdk_eventbridge::types::Tag {
    aws_sdk_eventbridge::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .unwrap()
}

/// A region only a deleted object used is still searched: the controller keeps every place
/// it writes to in a ConfigMap (`ebi::locations`), which outlives the objects.
/// ca-central-1 is used by no other test, so no live object's record names it.
#[tokio::test(flavor = "multi_thread")]
async fn the_orphan_report_searches_a_region_only_a_deleted_object_used() {
    let ns = namespace("own-places");
    let region = "ca-central-1";
    // The ConfigMap in the test's own namespace, as a deployment's is in its own.
    let ctl = Controller::start(&ns, &["--locations-namespace", &ns]);
    let api = kube_api(&ns).await;
    apply(&sfn_in(&ns, "far", region));
    wait_condition(&api, "far", "Ready", "True", None).await;
    let (ok, kept) = kubectl(
        &[
            "get",
            "configmap",
            ebi::locations::CONFIGMAP,
            "-n",
            &ns,
            "-o",
            "jsonpath={.data}",
        ],
        None,
    );
    assert!(ok, "{kept}");
    let kept: std::collections::BTreeMap<String, String> = serde_json::from_str(&kept).unwrap();
    assert_eq!(
        kept.get(&format!("{ACCOUNT}.{region}")).map(String::as_str),
        Some(format!(r#"{{"accountId":"{ACCOUNT}","region":"{region}"}}"#).as_str()),
        "{kept:?}"
    );
    assert!(kept.contains_key(&format!("{ACCOUNT}.iam")), "{kept:?}");
    // Written once per place, not on every pass: two resyncs later, still two applies.
    let passes = ctl.reconciles();
    wait_until("two resyncs", Duration::from_secs(30), || {
        ctl.reconciles() >= passes + 2
    });
    let log = std::fs::read_to_string(Controller::log_path(&ns)).unwrap();
    assert_eq!(
        log.matches("location kept for the orphan report").count(),
        2,
        "{log}"
    );
    drop(ctl);
    abandon(&ns, &["far"]);
    let rule = format!("far-{ns}");
    let far = aws_in_region(region).await;
    assert!(rule_in(&far, &rule, "default").await);
    let in_region = |report: &serde_json::Value| {
        report["orphans"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["owner"] == format!("{ns}/far") && o["region"] == region)
            .map(|o| o["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let searched = |report: &serde_json::Value| {
        report["searched"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(format!("{ACCOUNT}/{region}")))
    };

    // Without the ConfigMap nothing names the region any more: the report cannot see it.
    let absent = format!("{ns}-absent");
    let blind = orphan_report(&["--locations-namespace", &absent]);
    assert!(!searched(&blind) && in_region(&blind).is_empty(), "{blind}");

    // Deleted a moment ago: old enough only with no grace period.
    let report = orphan_report_with(
        &["--locations-namespace", &ns],
        &[("EBI_ORPHAN_GRACE_PERIOD", "0s")],
    );
    assert!(searched(&report), "{report}");
    assert_eq!(in_region(&report), vec![rule.clone()], "{report}");
    let removed = orphan_report_with(
        &["--locations-namespace", &ns, "--delete", "--namespace", &ns],
        &[("EBI_ORPHAN_GRACE_PERIOD", "0s")],
    );
    let ours: Vec<_> = removed["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["owner"] == format!("{ns}/far"))
        .collect();
    assert!(
        ours.len() == 2 && ours.iter().all(|o| o["removal"] == "removed"),
        "the rule and the role: {ours:?}"
    );
    assert!(!rule_in(&far, &rule, "default").await);
    assert!(!aws().await.role_exists(&derived(&ns, "far")).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_letter_queue_gets_our_statement_and_keeps_the_others() {
    let ns = namespace("own-dlq");
    let queue_name = format!("dlq-{ns}");
    let (sqs, url, queue_arn) = new_queue(&queue_name).await;
    let foreign = serde_json::json!({"Sid": "OpsReads", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sqs:ReceiveMessage", "Resource": queue_arn});
    let policy_with = |statements: serde_json::Value| {
        serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
    };
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::Policy,
            policy_with(serde_json::json!([foreign])),
        )
        .send()
        .await
        .unwrap();
    let statements = || {
        let sqs = sqs.clone();
        let url = url.clone();
        async move {
            let out = sqs
                .get_queue_attributes()
                .queue_url(&url)
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
            let doc: serde_json::Value = serde_json::from_str(&policy).unwrap();
            match &doc["Statement"] {
                serde_json::Value::Array(list) => list.clone(),
                one => vec![one.clone()],
            }
        }
    };
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: with-dlq, namespace: {ns}}}
spec:
  rule: {{scheduleExpression: "rate(5 minutes)"}}
  target:
    stepFunctions: {{stateMachineArn: {STATE_MACHINE}}}
    retryPolicy: {{maximumRetryAttempts: 3, maximumEventAgeInSeconds: 600}}
    deadLetterQueueArn: {queue_arn}
"#
    ));
    wait_condition(&api, "with-dlq", "Ready", "True", None).await;
    let rule_arn = format!(
        "arn:aws:events:{REGION}:{ACCOUNT}:rule/{}",
        derived(&ns, "with-dlq")
    );
    let sid = owned_statement_id(&derived(&ns, "with-dlq"), &uid_of(&api, "with-dlq").await);
    let ours = serde_json::json!({"Sid": sid, "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}});
    assert_eq!(statements().await, vec![foreign.clone(), ours.clone()]);
    // Everything was evaluated: the queue was read, it uses no KMS key, and the account is
    // in no organisation, so no SCP or RCP applies (tests/organization.rs covers the
    // policies that could not be read).
    let status = api.get("with-dlq").await.unwrap().status.unwrap();
    assert!(
        status.not_evaluated.is_empty(),
        "{:?}",
        status.not_evaluated
    );

    // Drift: someone rewrites the policy without our statement; it comes back, theirs stays.
    let other = serde_json::json!({"Sid": "Audit", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sqs:GetQueueAttributes", "Resource": queue_arn});
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::Policy,
            policy_with(serde_json::json!([foreign, other])),
        )
        .send()
        .await
        .unwrap();
    wait_until_async(
        "our statement to be restored",
        Duration::from_secs(30),
        || async { statements().await.contains(&ours) },
    )
    .await;
    assert_eq!(
        statements().await,
        vec![foreign.clone(), other.clone(), ours.clone()]
    );

    delete_and_wait(&ns, &["with-dlq"]);
    assert_eq!(
        statements().await,
        vec![foreign, other],
        "deletion removes our statement only"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_letter_queue_in_another_region_is_refused_naming_the_field() {
    let ns = namespace("own-dlq-region");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: far-dlq, namespace: {ns}}}
spec:
  rule: {{scheduleExpression: "rate(5 minutes)"}}
  target:
    stepFunctions: {{stateMachineArn: {STATE_MACHINE}}}
    deadLetterQueueArn: arn:aws:sqs:eu-west-1:{ACCOUNT}:far
"#
    ));
    wait_condition(&api, "far-dlq", "Ready", "False", Some("InvalidSpec")).await;
    let (_, _, message) = condition(&api, "far-dlq", "Ready").await.unwrap();
    assert!(
        message.contains("spec.target.deadLetterQueueArn")
            && message.contains("DeadLetterQueueInOtherRegion"),
        "{message}"
    );
    let aws = aws().await;
    assert!(
        !aws.rule_exists(&derived(&ns, "far-dlq")).await,
        "nothing is created"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_definition_ecs_cannot_describe_is_reported_in_ecs_own_words() {
    let ns = namespace("own-taskdef");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let missing = TASK_DEFINITION.replace("task-definition/", "task-definition/never-registered-");
    apply(&ecs_yaml(&ns, "orphan-td", "").replace(TASK_DEFINITION, &missing));
    wait_condition(
        &api,
        "orphan-td",
        "Ready",
        "False",
        Some("DependencyNotFound"),
    )
    .await;
    let (_, _, message) = condition(&api, "orphan-td", "Ready").await.unwrap();
    // ECS's ClientException covers "does not exist" and "may not see it": its message is
    // passed on instead of a guess that it does not exist.
    assert!(message.contains("ClientException"), "{message}");
    assert!(message.contains(&missing), "{message}");
    let aws = aws().await;
    assert!(
        !aws.rule_exists(&derived(&ns, "orphan-td")).await,
        "nothing is created while the task definition cannot be read"
    );
}

/// An object the controller cannot read (a field of the wrong type, stored while the schema
/// was looser, as after a CRD downgrade) does not stop the watch of the others: it gets an
/// `InvalidObject` Event, and a valid object beside it converges.
#[tokio::test(flavor = "multi_thread")]
async fn one_unreadable_object_does_not_stop_the_watch() {
    let ns = namespace("own-unreadable");
    // The CRD as the 1.20 API server takes it (crds/pre-1.25/: without CEL rules).
    let installed = serde_json::to_string(&ebi::api::without_cel(ebi::api::crd())).unwrap();
    let mut loose: serde_json::Value = serde_json::from_str(&installed).unwrap();
    loose["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] =
        serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    // Loosened for a moment (valid objects of other tests are unaffected), then restored:
    // the API server keeps what it stored, and lists it as stored.
    let apply_crd = |doc: &str| {
        let (ok, out) = kubectl(
            &["apply", "--server-side", "--force-conflicts", "-f", "-"],
            Some(doc),
        );
        assert!(ok, "{out}");
    };
    apply_crd(&loose.to_string());
    let created = (|| {
        for _ in 0..20 {
            let (ok, _) = kubectl(
                &["apply", "-f", "-"],
                Some(&format!(
                    r#"{{"apiVersion": "eventbridge.dev/v1alpha1", "kind": "EventBridgeIntegration",
                        "metadata": {{"name": "unreadable", "namespace": "{ns}"}},
                        "spec": {{"rule": {{"enabled": "sometimes"}}, "target": "not an object"}}}}"#
                )),
            );
            if ok {
                return true;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        false
    })();
    apply_crd(&installed);
    assert!(
        created,
        "the malformed object was stored under the loosened schema"
    );

    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&sfn_yaml(&ns, "readable"));
    wait_condition(&api, "readable", "Ready", "True", None).await;
    wait_until("the InvalidObject event", Duration::from_secs(30), || {
        let (_, reasons) = kubectl(
            &[
                "get",
                "events",
                "-n",
                &ns,
                "-o",
                "jsonpath={.items[*].reason}",
            ],
            None,
        );
        reasons.contains("InvalidObject")
    });
    kubectl(
        &["delete", "ebi", "unreadable", "-n", &ns, "--wait=false"],
        None,
    );
    delete_and_wait(&ns, &["readable"]);
}

/// `--max-concurrent-reconciles` bounds the calls in flight: with every AWS answer delayed
/// by 250 ms, six objects applied at once, a bound of 1 never has two AWS calls in flight
/// (a pass makes its calls one after another), a bound of 8 does.
///
/// At bound 1 the controller is overloaded on purpose: a resync pass is ~8 calls (~2 s) and
/// the resync interval 3 s, so six converged objects bring four times what one slot serves.
/// Every object must still be reconciled: under kube-runtime's own bound the first objects'
/// resyncs were served over and over and three objects never had a pass (no finalizer, no
/// status in 120 s; see `src/controller/runtime/gate.rs`). Served in turn, the six first passes
/// (~6 calls each) take ~10 s at bound 1 and ~2 s at bound 8: far inside the 120 s wait.
#[tokio::test(flavor = "multi_thread")]
async fn the_concurrency_bound_limits_the_calls_in_flight() {
    let run = |bound: &str, ns: &str| {
        let proxy = FaultProxy::start(&[
            "--fault-rate",
            "1.0",
            "--fault-kinds",
            "latency",
            "--latency-ms",
            "250",
        ]);
        let ctl = Controller::start_with_env(
            ns,
            &["--max-concurrent-reconciles", bound],
            &[("AWS_ENDPOINT_URL", proxy.endpoint.as_str())],
        );
        for i in 0..6 {
            apply(&sfn_yaml(ns, &format!("bounded-{i}")));
        }
        let started = std::time::Instant::now();
        wait_until("six objects Ready", Duration::from_secs(120), || {
            let (_, ready) = kubectl(
                &[
                    "get",
                    "ebi",
                    "-n",
                    ns,
                    "-o",
                    "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
                ],
                None,
            );
            ready.lines().filter(|l| l.trim() == "True").count() == 6
        });
        let stats = proxy.stats();
        let figures = (
            stats["peak_in_flight"].as_u64().unwrap(),
            stats["peak_rps"].as_u64().unwrap(),
            stats["requests"].as_u64().unwrap(),
            ctl.reconciles(),
            started.elapsed(),
        );
        drop(ctl);
        figures
    };
    let one = namespace("own-bound-one");
    let eight = namespace("own-bound-eight");
    let (serial, serial_rps, calls, passes, took) = run("1", &one);
    println!("[figures] bound 1: all Ready in {took:?}, {calls} calls in {passes} passes, peak {serial} in flight, {serial_rps} calls/s");
    let (parallel, parallel_rps, calls, passes, took) = run("8", &eight);
    println!("[figures] bound 8: all Ready in {took:?}, {calls} calls in {passes} passes, peak {parallel} in flight, {parallel_rps} calls/s");
    assert_eq!(serial, 1, "one pass at a time, one call at a time");
    // Calls of 250 ms one after another: at most 4 start in any wall-clock second.
    assert!(serial_rps <= 4, "peak {serial_rps} calls/s at bound 1");
    assert!(
        parallel > 1 && parallel <= 8,
        "a higher bound overlaps passes: {parallel} in flight"
    );
    assert!(parallel_rps > serial_rps, "{parallel_rps} vs {serial_rps}");
}

/// A role the record does not list is created without a GetRole first. When the name is
/// taken, IAM's refusal is the read: a foreign role is left as it is and kept out of the
/// record; an untagged one is taken over with `adoptExisting`.
#[tokio::test(flavor = "multi_thread")]
async fn a_role_created_without_looking_first_never_takes_a_taken_name() {
    let ns = namespace("own-optimistic");
    let aws = aws().await;
    let trust = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}).to_string();
    for name in ["taken", "untagged"] {
        aws.iam
            .create_role()
            .role_name(derived(&ns, name))
            .assume_role_policy_document(&trust)
            .send()
            .await
            .unwrap();
    }
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&sfn_yaml(&ns, "taken"));
    wait_condition(&api, "taken", "Ready", "False", Some("ResourceNotOwned")).await;
    let role = derived(&ns, "taken");
    let got = aws.iam.get_role().role_name(&role).send().await.unwrap();
    assert!(
        got.role()
            .unwrap()
            .assume_role_policy_document()
            .unwrap()
            .contains("ecs-tasks"),
        "the foreign role's trust is untouched"
    );
    assert!(aws.inline_policy(&role).await.is_none(), "no policy added");
    assert!(
        !aws.rule_exists(&role).await,
        "nothing written after the refusal"
    );
    let obj = api.get("taken").await.unwrap();
    let recorded: Vec<String> = obj
        .status
        .and_then(|s| s.resources)
        .unwrap_or_default()
        .iter()
        .filter(|r| r.kind == ebi::api::OwnedKind::Role)
        .map(|r| r.name.clone())
        .collect();
    assert!(
        recorded.is_empty(),
        "a role that is not ours is not recorded: {recorded:?}"
    );

    let adopt = sfn_yaml(&ns, "untagged").replace("spec:\n", "spec:\n  adoptExisting: true\n");
    apply(&adopt);
    wait_condition(&api, "untagged", "Ready", "True", None).await;
    let role = derived(&ns, "untagged");
    let got = aws.iam.get_role().role_name(&role).send().await.unwrap();
    let got = got.role().unwrap();
    assert!(got
        .assume_role_policy_document()
        .unwrap()
        .contains("events.amazonaws.com"));
    assert!(got
        .tags()
        .iter()
        .any(|t| t.key() == "eventbridge.dev/owner" && t.value() == format!("{ns}/untagged")));
    assert!(aws.inline_policy(&role).await.is_some());
    drop(ctl);
}

/// The rule's target as (role ARN, whether GetRole of that ARN's name answers that very
/// ARN). None while the rule has no target.
async fn target_role(aws: &Aws, rule: &str) -> Option<(String, bool)> {
    use aws_sdk_iam::operation::get_role::GetRoleError;
    let targets = aws
        .events
        .list_targets_by_rule()
        .rule(rule)
        .send()
        .await
        .ok()?;
    let arn = targets.targets().first()?.role_arn()?.to_string();
    let name = arn.rsplit('/').next().unwrap_or_default().to_string();
    let exists = match aws.iam.get_role().role_name(&name).send().await {
        Ok(out) => out.role().is_some_and(|r| r.arn() == arn),
        Err(e) => match e.into_service_error() {
            GetRoleError::NoSuchEntityException(_) => false,
            other => panic!("GetRole {name}: {other:?}"),
        },
    };
    Some((arn, exists))
}

/// Waits until the rule's target names `arn`, which exists, and status says so.
async fn settled_at(
    aws: &Aws,
    api: &kube::Api<ebi::api::EventBridgeIntegration>,
    rule: &str,
    arn: String,
) {
    wait_until_async(
        &format!("the target to name {arn}"),
        Duration::from_secs(60),
        || async {
            target_role(aws, rule).await == Some((arn.clone(), true))
                && api
                    .get("mover")
                    .await
                    .unwrap()
                    .status
                    .and_then(|s| s.role_arn)
                    == Some(arn.clone())
        },
    )
    .await;
}

/// A role moves to another IAM path (`spec.role.path`, then the operator's `--role-path`)
/// without a moment in which the target names a role that does not exist: IAM role names
/// are unique whatever the path, so the move goes through a second name. Sampled every
/// 200 ms from the first apply to the end of both moves.
#[tokio::test(flavor = "multi_thread")]
async fn a_role_path_move_never_leaves_the_target_without_its_role() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let ns = namespace("own-path");
    let mut ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let name = derived(&ns, "mover");
    let spec = |path: Option<&str>| {
        let role = path
            .map(|p| format!("  role: {{path: {p}}}\n"))
            .unwrap_or_default();
        format!("{}{role}", sfn_yaml(&ns, "mover"))
    };
    apply(&spec(Some("/team-a/")));
    let role_at = |path: &str| format!("arn:aws:iam::{ACCOUNT}:role{path}{name}");
    wait_condition(&api, "mover", "Ready", "True", None).await;

    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let sampler = {
        let (stop, seen, name) = (stop.clone(), seen.clone(), name.clone());
        tokio::spawn(async move {
            let aws = aws().await;
            while !stop.load(Ordering::Relaxed) {
                if let Some(sample) = target_role(&aws, &name).await {
                    seen.lock().unwrap().push(sample);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let aws = aws().await;
    apply(&spec(Some("/team-b/")));
    settled_at(&aws, &api, &name, role_at("/team-b/")).await;
    // The operator's --role-path moves every object whose spec names no path.
    apply(&spec(None));
    ctl.kill();
    let _ctl = Controller::start(&ns, &["--role-path", "/platform/"]);
    settled_at(&aws, &api, &name, role_at("/platform/")).await;
    stop.store(true, Ordering::Relaxed);
    sampler.await.unwrap();

    let seen = seen.lock().unwrap().clone();
    let missing: Vec<&(String, bool)> = seen.iter().filter(|(_, exists)| !exists).collect();
    assert!(
        missing.is_empty(),
        "the target named a role that did not exist: {missing:?}"
    );
    let arns: std::collections::BTreeSet<&str> = seen.iter().map(|(a, _)| a.as_str()).collect();
    println!(
        "[figures] path move: {} samples, role ARNs the target named: {arns:?}",
        seen.len()
    );
    assert!(arns.contains(role_at("/platform/").as_str()), "{arns:?}");
    // Only the final role is left, and the record lists only it.
    let roles: Vec<String> = recorded_resources(&api, "mover")
        .await
        .into_iter()
        .filter(|r| r.kind == ebi::api::OwnedKind::Role)
        .map(|r| r.arn)
        .collect();
    assert_eq!(roles, vec![role_at("/platform/")]);
    let tagged = aws.tagged_resources(&ns).await;
    assert_eq!(
        tagged.roles.get(&format!("{ns}/mover")),
        Some(&vec![name.clone()]),
        "no second role left behind: {tagged:?}"
    );
    delete_and_wait(&ns, &["mover"]);
    assert!(!aws.role_exists(&name).await);
}

/// The statements of a function's policy that grant `rule_arn` (their Sids).
async fn grants_to(aws: &Aws, function: &str, rule_arn: &str) -> Vec<String> {
    let text = aws.function_policy(function).await;
    if text.is_empty() {
        return vec![];
    }
    ebi::iam::PolicyDocument::parse(&serde_json::Value::String(text))
        .unwrap()
        .statements
        .into_iter()
        .filter(|s| {
            s.conditions.iter().any(|c| {
                c.key.eq_ignore_ascii_case("aws:SourceArn") && c.values == [rule_arn.to_string()]
            })
        })
        .filter_map(|s| s.sid)
        .collect()
}

/// Two objects claim one rule name at the same moment (every AWS answer delayed 300 ms, so
/// both read "no such rule" before either creates it). Exactly one owns it; the other is
/// Stalled naming the owner, and wrote no grant to a rule that is not its own; deleting it
/// leaves the owner's rule and grant in place.
#[tokio::test(flavor = "multi_thread")]
async fn two_objects_racing_for_one_rule_name_leave_one_owner() {
    let ns = namespace("own-race");
    let proxy = FaultProxy::start(&[
        "--fault-rate",
        "1.0",
        "--fault-kinds",
        "latency",
        "--latency-ms",
        "300",
    ]);
    let ctl = Controller::start_with_env(&ns, &[], &[("AWS_ENDPOINT_URL", &proxy.endpoint)]);
    let api = kube_api(&ns).await;
    let rule = format!("contested-{ns}");
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}");
    apply(&format!(
        "{}---\n{}",
        lambda_on_bus(&ns, "first", &rule, None),
        lambda_on_bus(&ns, "second", &rule, None)
    ));
    let stalled = |c: &Option<(String, String, String)>| {
        c.as_ref()
            .is_some_and(|(s, r, _)| s == "False" && r == "ResourceNotOwned")
    };
    let up = |c: &Option<(String, String, String)>| c.as_ref().is_some_and(|(s, _, _)| s == "True");
    let started = std::time::Instant::now();
    let outcome = loop {
        let (a, b) = (
            condition(&api, "first", "Ready").await,
            condition(&api, "second", "Ready").await,
        );
        if up(&a) && stalled(&b) {
            break Some(("first", "second", b.unwrap().2));
        }
        if up(&b) && stalled(&a) {
            break Some(("second", "first", a.unwrap().2));
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "never one owner Ready and the other Stalled: {a:?} {b:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let (winner, loser, message) = outcome.unwrap();
    assert!(
        message.contains(&format!("eventbridge.dev/owner={ns}/{winner}")),
        "the loser names the owner: {message}"
    );
    let aws = aws().await;
    let tags = aws
        .events
        .list_tags_for_resource()
        .resource_arn(&rule_arn)
        .send()
        .await
        .unwrap();
    assert!(tags
        .tags()
        .iter()
        .any(|t| t.key() == "eventbridge.dev/owner" && t.value() == format!("{ns}/{winner}")));
    // Two more passes of each: the outcome holds, and only the owner grants the rule.
    let passes = ctl.reconciles();
    wait_until("more passes", Duration::from_secs(60), || {
        ctl.reconciles() >= passes + 4
    });
    let grants = grants_to(&aws, FUNCTION, &rule_arn).await;
    assert_eq!(grants.len(), 1, "one grant, the owner's: {grants:?}");
    let loser_record = recorded_resources(&api, loser).await;
    assert!(
        !loser_record
            .iter()
            .any(|r| r.kind == ebi::api::OwnedKind::Rule && r.arn == rule_arn),
        "the loser's record does not list the owner's rule: {loser_record:?}"
    );

    delete_and_wait(&ns, &[loser]);
    assert!(aws.rule_exists(&rule).await, "the owner's rule stays");
    assert_eq!(
        grants_to(&aws, FUNCTION, &rule_arn).await,
        grants,
        "the owner's grant stays"
    );
    wait_condition(&api, winner, "Ready", "True", None).await;
    delete_and_wait(&ns, &[winner]);
    assert!(grants_to(&aws, FUNCTION, &rule_arn).await.is_empty());
}

/// A statement under the controller's statement id that grants something else is someone
/// else's: it is reported (Stalled, naming its principal and source) and never replaced,
/// and deleting the object leaves it. (Lambda answers a second AddPermission of an id with
/// 409; that path is `tests/aws_behaviour.rs`.)
#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_statement_under_our_statement_id_is_reported_not_replaced() {
    let ns = namespace("own-sid");
    let api = kube_api(&ns).await;
    let rule = format!("guarded-{ns}");
    apply(&lambda_on_bus(&ns, "guarded", &rule, None));
    let uid = uid_of(&api, "guarded").await;
    let foreign_rule = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/someone-else-{ns}");
    let aws = aws().await;
    // Under the id the controller uses, and under the one it used before ids carried their
    // owner.
    let ids = [owned_statement_id(&rule, &uid), statement_id(&rule)];
    for sid in &ids {
        aws.lambda
            .add_permission()
            .function_name(FUNCTION)
            .statement_id(sid)
            .action("lambda:InvokeFunction")
            .principal("events.amazonaws.com")
            .source_arn(&foreign_rule)
            .send()
            .await
            .unwrap();
    }
    let ctl = Controller::start(&ns, &[]);
    let (_, _, message) =
        wait_condition(&api, "guarded", "Ready", "False", Some("ResourceNotOwned")).await;
    assert!(
        message.contains(&ids[0]) && message.contains(&foreign_rule),
        "names the statement and what it grants: {message}"
    );
    wait_condition(&api, "guarded", "Stalled", "True", Some("ResourceNotOwned")).await;
    let passes = ctl.reconciles();
    wait_until("two more passes", Duration::from_secs(30), || {
        ctl.reconciles() >= passes + 2
    });
    let foreign = grants_to(&aws, FUNCTION, &foreign_rule).await;
    assert_eq!(
        foreign.len(),
        2,
        "both foreign statements as they were: {foreign:?}"
    );
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}");
    assert!(grants_to(&aws, FUNCTION, &rule_arn).await.is_empty());
    delete_and_wait(&ns, &["guarded"]);
    assert_eq!(grants_to(&aws, FUNCTION, &foreign_rule).await.len(), 2);
    for sid in &ids {
        aws.lambda
            .remove_permission()
            .function_name(FUNCTION)
            .statement_id(sid)
            .send()
            .await
            .unwrap();
    }
}

/// An object whose status predates the ownership record, whose first pass after the upgrade
/// fails before planning (here a guardrail): the record that pass writes still lists the
/// Lambda statement under its old id, so the next pass migrates it away and nothing leaks.
#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_lambda_statement_is_migrated_even_when_the_first_pass_fails_early() {
    use kube::api::{Patch, PatchParams};
    let ns = namespace("own-legacy");
    let api = kube_api(&ns).await;
    let rule = format!("legacy-{ns}");
    let cluster = format!("legacy-{ns}");
    apply(&lambda_on_bus(&ns, "old", &rule, None));
    let uid = uid_of(&api, "old").await;
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}");
    let aws = aws().await;
    // What an older controller left: the rule with its owner tags and target, and the
    // statement under the old id.
    aws.events
        .put_rule()
        .name(&rule)
        .event_pattern(r#"{"source":["com.example.orders"]}"#)
        .tags(tag("eventbridge.dev/owner", &format!("{ns}/old")))
        .tags(tag("eventbridge.dev/owner-uid", &uid))
        .tags(tag("eventbridge.dev/cluster", &cluster))
        .tags(tag(
            "app.kubernetes.io/managed-by",
            "eventbridge-integration-controller",
        ))
        .send()
        .await
        .unwrap();
    aws.events
        .put_targets()
        .rule(&rule)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("1")
                .arn(FUNCTION)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let legacy = format!("ebi-{rule}");
    aws.lambda
        .add_permission()
        .function_name(FUNCTION)
        .statement_id(&legacy)
        .action("lambda:InvokeFunction")
        .principal("events.amazonaws.com")
        .source_arn(&rule_arn)
        .source_account(ACCOUNT)
        .send()
        .await
        .unwrap();
    api.patch_status(
        "old",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"status": {
            "ruleArn": rule_arn, "ruleName": rule, "targetKind": "Lambda", "targetId": "1"}})),
    )
    .await
    .unwrap();
    // The first pass of the new version stops at a guardrail, before planning.
    let mut ctl = Controller::start(
        &ns,
        &[
            "--cluster-id",
            &cluster,
            "--allowed-account-ids",
            "999999999999",
        ],
    );
    wait_condition(&api, "old", "Ready", "False", Some("GuardrailViolation")).await;
    let recorded = recorded_resources(&api, "old").await;
    assert!(
        recorded
            .iter()
            .any(|r| r.statement_id.as_deref() == Some(legacy.as_str())),
        "the record written by the failed pass lists the old statement: {recorded:?}"
    );
    ctl.kill();
    let _ctl = Controller::start(&ns, &["--cluster-id", &cluster]);
    wait_until_async(
        "the old statement to be migrated away",
        Duration::from_secs(60),
        || async {
            let grants = grants_to(&aws, FUNCTION, &rule_arn).await;
            grants == vec![owned_statement_id(&rule, &uid)]
        },
    )
    .await;
    wait_condition(&api, "old", "Ready", "True", None).await;
    delete_and_wait(&ns, &["old"]);
    assert!(grants_to(&aws, FUNCTION, &rule_arn).await.is_empty());
    assert!(!aws.rule_exists(&rule).await);
}

/// A move whose old resource cannot be removed (its region denies the controller now) does
/// not hold the object un-Ready: it is Ready, `ResourcesLeftBehind` says what is left and
/// why, the record keeps it, the orphan report lists it, and once the region answers again
/// the removal (retried with backoff) succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn a_superseded_resource_that_cannot_be_removed_leaves_the_object_ready() {
    let ns = namespace("own-left");
    let old_region = "eu-west-1";
    let mut ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&sfn_in(&ns, "stranded", old_region));
    wait_condition(&api, "stranded", "Ready", "True", None).await;
    ctl.kill();
    let proxy = FaultProxy::start(&["--deny-region", old_region]);
    let mut ctl = Controller::start_with_env(&ns, &[], &[("AWS_ENDPOINT_URL", &proxy.endpoint)]);
    apply(&sfn_in(&ns, "stranded", REGION));
    let rule = format!("stranded-{ns}");
    let old_arn = format!("arn:aws:events:{old_region}:{ACCOUNT}:rule/{rule}");
    let (_, _, message) = wait_condition(
        &api,
        "stranded",
        "ResourcesLeftBehind",
        "True",
        Some("CleanupPending"),
    )
    .await;
    assert!(message.contains(&old_arn), "{message}");
    let obj = api.get("stranded").await.unwrap();
    let status = obj.status.clone().unwrap();
    let ready = status.condition("Ready").unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.observed_generation),
        ("True", obj.metadata.generation),
        "{ready:?}"
    );
    let left: Vec<_> = status
        .resources
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.left_behind.is_some())
        .map(|r| r.arn)
        .collect();
    assert_eq!(left, vec![old_arn.clone()]);
    let report = orphan_report(&["--locations-namespace", &ns]);
    assert!(
        report["leftBehind"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["arn"] == old_arn && o["owner"] == format!("{ns}/stranded")),
        "{report}"
    );
    ctl.kill();
    drop(proxy);
    let _ctl = Controller::start(&ns, &[]);
    let old_region_events = aws_in_region(old_region).await;
    wait_until_async(
        "the old rule to be removed once its region answers",
        Duration::from_secs(120),
        || async { !rule_in(&old_region_events, &rule, "default").await },
    )
    .await;
    wait_until_async(
        "ResourcesLeftBehind to go",
        Duration::from_secs(30),
        || async {
            condition(&api, "stranded", "ResourcesLeftBehind")
                .await
                .is_none()
        },
    )
    .await;
    delete_and_wait(&ns, &["stranded"]);
}

/// Credentials without Scheduler's list still get the rest of the orphan report, with a
/// warning naming what was not searched and the permission to grant.
#[tokio::test(flavor = "multi_thread")]
async fn the_orphan_report_without_scheduler_permissions_warns_and_goes_on() {
    require_env();
    let proxy = FaultProxy::start(&["--deny-get-path", "/schedules"]);
    let report = orphan_report_with(&[], &[("AWS_ENDPOINT_URL", proxy.endpoint.as_str())]);
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .is_some_and(|w| w.contains("schedules of") && w.contains("scheduler:ListSchedules"))),
        "{report}"
    );
    assert!(report["searched"].as_array().is_some_and(|s| !s.is_empty()));
}
