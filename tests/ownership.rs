//! The ownership record and the lifecycle built on it, end to end on the local
//! kube-apiserver + moto: moves, statement ids, foreign attachments, partial failures,
//! rejected writes and the orphan report. Each test failed before the record existed.

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

#[tokio::test(flavor = "multi_thread")]
async fn the_orphan_report_lists_and_removes_what_lost_its_object() {
    let ns = namespace("own-orphans");
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&sfn_yaml(&ns, "abandoned"));
    wait_condition(&api, "abandoned", "Ready", "True", None).await;
    drop(ctl);
    // The object goes without its clean-up: a finalizer removed by hand.
    kubectl(
        &[
            "patch",
            "ebi",
            "abandoned",
            "-n",
            &ns,
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
        None,
    );
    delete_and_wait(&ns, &["abandoned"]);
    let name = derived(&ns, "abandoned");
    let orphans = |extra: &[&str]| orphans_of(&ns, extra);
    let found = orphans(&[]);
    let kinds: Vec<&str> = found.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(kinds, vec!["Rule", "Role"], "{found:?}");
    let aws = aws().await;
    assert!(aws.rule_exists(&name).await, "read-only by default");
    let removed = orphans(&["--delete"]);
    assert!(
        removed.iter().all(|o| o["removal"] == "removed"),
        "{removed:?}"
    );
    assert!(!aws.rule_exists(&name).await && !aws.role_exists(&name).await);
    assert!(orphans(&[]).is_empty(), "nothing left");
}

/// A region only a deleted object used is still searched: the controller keeps every place
/// it writes to in a ConfigMap (`controller::locations`), which outlives the objects.
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
            ebi::controller::locations::CONFIGMAP,
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
    // The object goes without its clean-up: a finalizer removed by hand.
    kubectl(
        &[
            "patch",
            "ebi",
            "far",
            "-n",
            &ns,
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
        None,
    );
    delete_and_wait(&ns, &["far"]);
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

    let report = orphan_report(&["--locations-namespace", &ns]);
    assert!(searched(&report), "{report}");
    assert_eq!(in_region(&report), vec![rule.clone()], "{report}");
    let removed = orphan_report(&["--locations-namespace", &ns, "--delete"]);
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
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_name = format!("dlq-{ns}");
    let url = sqs
        .create_queue()
        .queue_name(&queue_name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}");
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
    let sid = ebi::plan::names::statement_id(&derived(&ns, "with-dlq"), &rule_arn);
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
/// status in 120 s; see `src/controller/gate.rs`). Served in turn, the six first passes
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
