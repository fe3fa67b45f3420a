//! End to end: the real controller binary, a real kube-apiserver, the moto AWS emulator,
//! driven with kubectl. See tests/support for the harness.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

use std::time::Duration;

use ebi::iam::{documents_equivalent, PolicyDocument};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn ecs_target_converges_with_least_privilege_role() {
    let ns = namespace("e2e-ecs");
    converge_and_count("ECS", &ns, "orders", ecs_yaml(&ns, "orders", "")).await;
    let aws = aws().await;
    let role_name = derived(&ns, "orders");
    let rule_name = derived(&ns, "orders");
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule_name}");
    let role = aws
        .iam
        .get_role()
        .role_name(&role_name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let trust = json!({"Version":"2012-10-17","Statement":[{"Sid":"EventBridgeRuleOnly","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sts:AssumeRole",
        "Condition":{"StringEquals":{"aws:SourceAccount":ACCOUNT},"ArnEquals":{"aws:SourceArn":rule_arn}}}]});
    assert!(
        documents_equivalent(&json!(role.assume_role_policy_document().unwrap()), &trust),
        "trust: {:?}",
        role.assume_role_policy_document()
    );
    assert!(role
        .tags()
        .iter()
        .any(|t| t.key() == "eventbridge.dev/owner" && t.value() == format!("{ns}/orders")));
    let policy = aws.inline_policy(&role_name).await.unwrap();
    let expected = json!({"Version":"2012-10-17","Statement":[
        {"Sid":"RunTask","Effect":"Allow","Action":"ecs:RunTask","Resource":"arn:aws:ecs:us-east-1:123456789012:task-definition/orders-worker:*","Condition":{"ArnEquals":{"ecs:cluster":CLUSTER}}},
        {"Sid":"PassTaskRoles","Effect":"Allow","Action":"iam:PassRole","Resource":[EXECUTION_ROLE, TASK_ROLE],"Condition":{"StringLike":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}}]});
    assert!(
        documents_equivalent(&json!(policy), &expected),
        "policy: {}",
        policy
    );
    let doc = PolicyDocument::parse(&json!(policy)).unwrap();
    assert!(
        doc.statements.iter().all(|s| s
            .resource
            .as_ref()
            .unwrap()
            .patterns
            .iter()
            .all(|p| p != "*")),
        "no * resources"
    );
    let targets = aws
        .events
        .list_targets_by_rule()
        .rule(&rule_name)
        .send()
        .await
        .unwrap();
    let t = &targets.targets()[0];
    assert_eq!(t.role_arn(), Some(role.arn()));
    let ecs = t.ecs_parameters().unwrap();
    assert_eq!(ecs.task_definition_arn(), TASK_DEFINITION);
    assert_eq!(ecs.launch_type().unwrap().as_str(), "FARGATE");
    assert_eq!(
        ecs.network_configuration()
            .unwrap()
            .awsvpc_configuration()
            .unwrap()
            .subnets(),
        ["subnet-0a1b2c3d"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn step_functions_target_converges() {
    let ns = namespace("e2e-sfn");
    converge_and_count("StepFunctions", &ns, "pipeline", sfn_yaml(&ns, "pipeline")).await;
    let aws = aws().await;
    let name = derived(&ns, "pipeline");
    let policy = aws.inline_policy(&name).await.unwrap();
    let expected = json!({"Statement":[{"Sid":"StartExecution","Effect":"Allow","Action":"states:StartExecution","Resource":STATE_MACHINE}]});
    assert!(documents_equivalent(&json!(policy), &expected));
    let rule = aws.events.describe_rule().name(&name).send().await.unwrap();
    assert_eq!(rule.schedule_expression(), Some("rate(5 minutes)"));
    let t = aws
        .events
        .list_targets_by_rule()
        .rule(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(t.targets()[0].input(), Some(r#"{"trigger":"schedule"}"#));
}

#[tokio::test(flavor = "multi_thread")]
async fn lambda_target_gets_a_resource_permission_on_the_qualified_arn() {
    let ns = namespace("e2e-lambda");
    let qualified = format!("{FUNCTION}:live");
    converge_and_count(
        "Lambda",
        &ns,
        "notify",
        lambda_yaml(&ns, "notify", &qualified),
    )
    .await;
    let aws = aws().await;
    let name = derived(&ns, "notify");
    // No role for Lambda.
    assert!(!aws.role_exists(&name).await);
    let policy = aws
        .lambda
        .get_policy()
        .function_name(FUNCTION)
        .qualifier("live")
        .send()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let stmt = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| is_statement_of(s["Sid"].as_str().unwrap_or_default(), &statement_id(&name)))
        .expect("our statement");
    assert_eq!(stmt["Principal"]["Service"], "events.amazonaws.com");
    assert_eq!(stmt["Action"], "lambda:InvokeFunction");
    assert_eq!(stmt["Resource"], qualified);
    assert_eq!(
        stmt["Condition"]["ArnLike"]["AWS:SourceArn"],
        format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}")
    );
    let t = aws
        .events
        .list_targets_by_rule()
        .rule(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(t.targets()[0].arn(), qualified);
    assert_eq!(t.targets()[0].role_arn(), None);
}

/// An in-sync resync costs at most two AWS calls per integration and pass: its rule's
/// targets (EventBridge has no bulk read of them), plus a share of one ListRules per bus and
/// one GetAccountAuthorizationDetails that every integration of the account uses. On its
/// own, a Step Functions pass made seven reads.
///
/// The shared reads come about once per snapshot window (a tenth of the resync), and the
/// resync slots spread the objects over nine of them whatever the resync, so their share of
/// a pass falls as integrations grow. The rules are on a bus of their own: on the default
/// bus, which the other tests fill with rules, ListRules took two pages of 100 or more, and
/// 20 integrations sat at 1.9-2.0 calls a pass and failed now and then.
#[tokio::test(flavor = "multi_thread")]
async fn an_in_sync_resync_costs_at_most_two_calls_per_integration() {
    let ns = namespace("e2e-shared-reads");
    // Left from an earlier run with the same process ID, it is as good.
    let _ = aws().await.events.create_event_bus().name(&ns).send().await;
    let ctl = Controller::start_with_resync(&ns, "10s", &[], &[]);
    let api = kube_api(&ns).await;
    let n = 40;
    for i in 0..n {
        apply(&format!(
            r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: shared-{i}, namespace: {ns}}}
spec:
  rule: {{eventBusName: {ns}, eventPattern: {{source: ["com.example.shared-{i}"]}}}}
  target:
    stepFunctions: {{stateMachineArn: {STATE_MACHINE}}}
"#
        ));
    }
    for i in 0..n {
        wait_condition(&api, &format!("shared-{i}"), "Ready", "True", None).await;
    }
    // One more pass each first: a role enters the shared snapshot once a pass asked for it.
    // A pass is counted after its status write, so some converging passes may not be in
    // `converged` yet: wait for two rounds, so every object has had one after converging.
    let converged = ctl.successful_reconciles();
    wait_until(
        "every object resynced at least once",
        Duration::from_secs(90),
        || ctl.successful_reconciles() >= converged + 2 * n,
    );
    let before = ctl.aws_calls();
    let start = ctl.successful_reconciles();
    wait_until(
        "two more resyncs of every object",
        Duration::from_secs(60),
        || ctl.successful_reconciles() >= start + 2 * n,
    );
    let after = ctl.aws_calls();
    let passes = ctl.successful_reconciles() - start;
    let (total, writes, write_ops) = calls_between(&before, &after);
    assert_eq!(writes, 0, "in sync, yet wrote {write_ops:?}");
    let per_pass = total as f64 / passes as f64;
    let by_operation: Vec<String> = after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| format!("{}×{d}", k.1))
        })
        .collect();
    println!(
        "[figures] in-sync resync, {n} Step Functions integrations: {total} calls in {passes} passes = {per_pass:.2} per pass ({})",
        by_operation.join(", ")
    );
    assert!(
        per_pass <= 2.0,
        "{per_pass:.2} calls per in-sync pass: {by_operation:?}"
    );
    assert!(
        !by_operation
            .iter()
            .any(|o| o.starts_with("GetRole") || o.starts_with("DescribeRule")),
        "no per-object read of what the shared snapshots hold: {by_operation:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_of_every_kind_is_corrected() {
    let ns = namespace("e2e-drift");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&ecs_yaml(&ns, "ecs", ""));
    apply(&lambda_yaml(&ns, "fn", FUNCTION));
    wait_condition(&api, "ecs", "Ready", "True", None).await;
    wait_condition(&api, "fn", "Ready", "True", None).await;
    let aws = aws().await;
    let ecs_name = derived(&ns, "ecs");
    let fn_rule = derived(&ns, "fn");
    let statement_id = support::owned_statement_id(&fn_rule, &uid_of(&api, "fn").await);
    let policy_of = |name: String| {
        let aws = &aws;
        async move { aws.inline_policy(&name).await }
    };
    let original_policy = policy_of(ecs_name.clone()).await.unwrap();

    // 1. The inline policy is deleted.
    aws.iam
        .delete_role_policy()
        .role_name(&ecs_name)
        .policy_name("eventbridge-integration")
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the inline policy to be restored",
        Duration::from_secs(30),
        || async {
            policy_of(ecs_name.clone())
                .await
                .is_some_and(|p| documents_equivalent(&json!(p), &json!(original_policy)))
        },
    )
    .await;

    // 2. The inline policy is widened to *.
    let wide = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}).to_string();
    aws.iam
        .put_role_policy()
        .role_name(&ecs_name)
        .policy_name("eventbridge-integration")
        .policy_document(&wide)
        .send()
        .await
        .unwrap();
    wait_until_async(
        "least privilege to be restored",
        Duration::from_secs(30),
        || async {
            policy_of(ecs_name.clone())
                .await
                .is_some_and(|p| documents_equivalent(&json!(p), &json!(original_policy)))
        },
    )
    .await;

    // 3. The trust policy is changed to trust anyone in the account.
    let open = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":format!("arn:aws:iam::{ACCOUNT}:root")},"Action":"sts:AssumeRole"}]}).to_string();
    aws.iam
        .update_assume_role_policy()
        .role_name(&ecs_name)
        .policy_document(&open)
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the trust policy to be restored",
        Duration::from_secs(30),
        || async {
            let r = aws
                .iam
                .get_role()
                .role_name(&ecs_name)
                .send()
                .await
                .unwrap();
            let doc = r
                .role()
                .unwrap()
                .assume_role_policy_document()
                .unwrap()
                .to_string();
            doc.contains("events.amazonaws.com") && !documents_equivalent(&json!(doc), &json!(open))
        },
    )
    .await;

    // 4. The rule is disabled.
    aws.events
        .disable_rule()
        .name(&ecs_name)
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the rule to be re-enabled",
        Duration::from_secs(30),
        || async {
            aws.events
                .describe_rule()
                .name(&ecs_name)
                .send()
                .await
                .unwrap()
                .state()
                .map(|s| s.as_str().to_string())
                == Some("ENABLED".into())
        },
    )
    .await;

    // 5. The event pattern is changed.
    aws.events
        .put_rule()
        .name(&ecs_name)
        .event_pattern(r#"{"source":["evil"]}"#)
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the pattern to be restored",
        Duration::from_secs(30),
        || async {
            aws.events
                .describe_rule()
                .name(&ecs_name)
                .send()
                .await
                .unwrap()
                .event_pattern()
                .is_some_and(|p| p.contains("com.example.orders"))
        },
    )
    .await;

    // 6. The target is removed.
    aws.events
        .remove_targets()
        .rule(&ecs_name)
        .ids("1")
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the target to be restored",
        Duration::from_secs(30),
        || async {
            !aws.events
                .list_targets_by_rule()
                .rule(&ecs_name)
                .send()
                .await
                .unwrap()
                .targets()
                .is_empty()
        },
    )
    .await;

    // 7. The target is changed (another task count) and a foreign target is added.
    let mut changed = aws
        .events
        .list_targets_by_rule()
        .rule(&ecs_name)
        .send()
        .await
        .unwrap()
        .targets()[0]
        .clone();
    changed.ecs_parameters = changed.ecs_parameters.map(|mut e| {
        e.task_count = Some(7);
        e
    });
    let foreign = aws_sdk_eventbridge::types::Target::builder()
        .id("intruder")
        .arn(FUNCTION)
        .build()
        .unwrap();
    aws.events
        .put_targets()
        .rule(&ecs_name)
        .targets(changed)
        .targets(foreign)
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the target to be restored and the intruder removed",
        Duration::from_secs(30),
        || async {
            let t = aws
                .events
                .list_targets_by_rule()
                .rule(&ecs_name)
                .send()
                .await
                .unwrap();
            t.targets().len() == 1
                && t.targets()[0].ecs_parameters().and_then(|e| e.task_count()) == Some(1)
        },
    )
    .await;

    // 8. The Lambda permission is removed.
    aws.lambda
        .remove_permission()
        .function_name(FUNCTION)
        .statement_id(&statement_id)
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the Lambda permission to be restored",
        Duration::from_secs(30),
        || async {
            aws.lambda
                .get_policy()
                .function_name(FUNCTION)
                .send()
                .await
                .ok()
                .and_then(|p| p.policy)
                .is_some_and(|p| p.contains(&statement_id))
        },
    )
    .await;

    let (ok, events) = kubectl(
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
    assert!(
        ok && events.contains("DriftCorrected"),
        "a DriftCorrected event is published: {events}"
    );
}

/// The same drift corrected twice within six minutes is one Event whose series counts 2
/// (the publisher's PATCH of `series`, accepted by a real API server), not two Events.
#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_drift_counts_in_one_events_series() {
    let ns = namespace("e2e-series");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&sfn_yaml(&ns, "repeat"));
    wait_condition(&api, "repeat", "Ready", "True", None).await;
    let aws = aws().await;
    let rule = derived(&ns, "repeat");
    let targets = || async {
        aws.events
            .list_targets_by_rule()
            .rule(&rule)
            .send()
            .await
            .unwrap()
            .targets()
            .iter()
            .map(|t| t.id().to_string())
            .collect::<Vec<_>>()
    };
    let ids = targets().await;
    assert!(!ids.is_empty());
    for round in 1..=2 {
        aws.events
            .remove_targets()
            .rule(&rule)
            .set_ids(Some(ids.clone()))
            .send()
            .await
            .unwrap();
        wait_until_async(
            &format!("the target to be restored ({round})"),
            Duration::from_secs(30),
            || async { !targets().await.is_empty() },
        )
        .await;
    }
    let drift_events = || {
        let (ok, out) = kubectl(
            &["get", "events.events.k8s.io", "-n", &ns, "-o", "json"],
            None,
        );
        assert!(ok, "{out}");
        let list: serde_json::Value = serde_json::from_str(&out).unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["reason"] == "DriftCorrected")
            .cloned()
            .collect::<Vec<_>>()
    };
    // The publish follows the restore: wait for the count, then check there is one Event.
    wait_until("the series to count 2", Duration::from_secs(30), || {
        drift_events()
            .iter()
            .any(|e| e["series"]["count"].as_i64() == Some(2))
    });
    let events = drift_events();
    assert_eq!(
        events.len(),
        1,
        "one Event for the repeated drift: {events:?}"
    );
    assert_eq!(events[0]["regarding"]["name"], "repeat");
    assert!(
        events[0]["note"]
            .as_str()
            .is_some_and(|n| n.starts_with("Corrected drift in AWS")),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn spec_updates_apply_in_place() {
    let ns = namespace("e2e-update");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&ecs_yaml(&ns, "orders", ""));
    wait_condition(&api, "orders", "Ready", "True", None).await;
    let aws = aws().await;
    let name = derived(&ns, "orders");
    let role_arn = aws
        .iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    // New pattern, Revision scope, a task count and an input path: same rule, same role, updated.
    let updated = ecs_yaml(&ns, "orders", "")
        .replace("com.example.orders", "com.example.refunds")
        .replace(
            "      networkConfiguration:",
            "      taskCount: 2\n      taskDefinitionScope: Revision\n      networkConfiguration:",
        )
        + "    inputPath: $.detail\n";
    apply(&updated);
    wait_until_async(
        "the rule and target to follow the spec",
        Duration::from_secs(30),
        || async {
            let rule = aws.events.describe_rule().name(&name).send().await.unwrap();
            let t = aws
                .events
                .list_targets_by_rule()
                .rule(&name)
                .send()
                .await
                .unwrap();
            rule.event_pattern()
                .is_some_and(|p| p.contains("com.example.refunds"))
                && t.targets()[0].ecs_parameters().and_then(|e| e.task_count()) == Some(2)
                && t.targets()[0].input_path() == Some("$.detail")
        },
    )
    .await;
    wait_until_async(
        "RunTask to be scoped to the revision",
        Duration::from_secs(30),
        || async {
            let p = aws.inline_policy(&name).await.unwrap();
            let doc = PolicyDocument::parse(&json!(p)).unwrap();
            doc.statements
                .iter()
                .any(|s| s.resource.as_ref().unwrap().patterns == vec![TASK_DEFINITION.to_string()])
        },
    )
    .await;
    assert_eq!(
        aws.iam
            .get_role()
            .role_name(&name)
            .send()
            .await
            .unwrap()
            .role
            .unwrap()
            .arn,
        role_arn,
        "the role is updated in place, not replaced"
    );
    // The status write follows the last AWS write of the pass.
    wait_until_async(
        "the status to speak of the updated spec",
        Duration::from_secs(30),
        || async {
            let obj = api.get("orders").await.unwrap();
            obj.status.and_then(|s| s.observed_generation) == obj.metadata.generation
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_removes_everything_and_retain_keeps_it() {
    let ns = namespace("e2e-delete");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&ecs_yaml(&ns, "gone", ""));
    apply(&lambda_yaml(&ns, "gone-fn", FUNCTION));
    apply(&ecs_yaml(&ns, "kept", "  deletionPolicy: Retain\n"));
    for n in ["gone", "gone-fn", "kept"] {
        wait_condition(&api, n, "Ready", "True", None).await;
    }
    let aws = aws().await;
    delete_and_wait(&ns, &["gone", "gone-fn", "kept"]);
    let gone = derived(&ns, "gone");
    let gone_fn = derived(&ns, "gone-fn");
    let kept = derived(&ns, "kept");
    assert!(!aws.rule_exists(&gone).await, "rule deleted");
    assert!(!aws.role_exists(&gone).await, "role deleted");
    assert!(!aws.rule_exists(&gone_fn).await, "lambda rule deleted");
    let fn_policy = aws.function_policy(FUNCTION).await;
    assert!(
        !fn_policy.contains(&statement_id(&gone_fn)),
        "permission removed: {fn_policy}"
    );
    assert!(aws.rule_exists(&kept).await, "Retain keeps the rule");
    assert!(aws.role_exists(&kept).await, "Retain keeps the role");
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
        "Retain keeps the target"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_the_object_does_not_own_are_left_alone() {
    let ns = namespace("e2e-owner");
    let aws = aws().await;
    let name = derived(&ns, "squatter");
    // Someone else's rule and role with the very names the controller would use.
    aws.events
        .put_rule()
        .name(&name)
        .schedule_expression("rate(1 day)")
        .description("not yours")
        .send()
        .await
        .unwrap();
    let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}).to_string();
    aws.iam
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(&trust)
        .send()
        .await
        .unwrap();
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&ecs_yaml(&ns, "squatter", ""));
    let (_, reason, message) =
        wait_condition(&api, "squatter", "Ready", "False", Some("ResourceNotOwned")).await;
    assert!(message.contains("adoptExisting"), "{reason}: {message}");
    wait_condition(
        &api,
        "squatter",
        "Stalled",
        "True",
        Some("ResourceNotOwned"),
    )
    .await;
    // At least one more pass (a resync) over the stalled object, which must not touch what
    // it does not own. Any result counts: the pass happened. Two increments: a pass is
    // counted after its status write, so the first may be the pass that reported Stalled.
    let passes = ctl.reconciles();
    wait_until(
        "another pass over the stalled object",
        Duration::from_secs(20),
        || ctl.reconciles() >= passes + 2,
    );
    let role = aws
        .iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    assert!(
        role.assume_role_policy_document()
            .unwrap()
            .contains("ecs-tasks"),
        "trust untouched"
    );
    assert!(aws.inline_policy(&name).await.is_none(), "no policy added");
    let rule = aws.events.describe_rule().name(&name).send().await.unwrap();
    assert_eq!(rule.description(), Some("not yours"));
    assert!(
        aws.events
            .list_targets_by_rule()
            .rule(&name)
            .send()
            .await
            .unwrap()
            .targets()
            .is_empty(),
        "no target added"
    );
    // Deleting the object must not delete someone else's resources.
    delete_and_wait(&ns, &["squatter"]);
    assert!(aws.rule_exists(&name).await);
    assert!(aws.role_exists(&name).await);

    // With adoptExisting the controller takes an untagged rule over.
    let adopt = derived(&ns, "adopter");
    aws.events
        .put_rule()
        .name(&adopt)
        .event_pattern(r#"{"source":["old"]}"#)
        .send()
        .await
        .unwrap();
    apply(&ecs_yaml(&ns, "adopter", "  adoptExisting: true\n"));
    wait_condition(&api, "adopter", "Ready", "True", None).await;
    let arn = aws
        .events
        .describe_rule()
        .name(&adopt)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let tags = aws
        .events
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    assert!(tags
        .tags()
        .iter()
        .any(|t| t.key() == "eventbridge.dev/owner" && t.value() == format!("{ns}/adopter")));
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_specs_are_refused_and_create_nothing() {
    let ns = namespace("e2e-invalid");
    // The API server itself rejects what the schema can express.
    let (ok, out) = kubectl(
        &["apply", "-f", "-"],
        Some(&lambda_yaml(
            &ns,
            "no-account",
            "arn:aws:lambda:us-east-1::function:f",
        )),
    );
    assert!(!ok && out.contains("functionArn"), "{out}");
    let both = sfn_yaml(&ns, "both").replace(
        "rule: {scheduleExpression: \"rate(5 minutes)\"}",
        "rule: {scheduleExpression: \"rate(5 minutes)\", eventPattern: {source: [x]}}",
    );
    let (ok, out) = kubectl(&["apply", "-f", "-"], Some(&both));
    assert!(!ok && out.contains("oneOf"), "{out}");
    // The schema's region pattern and the planner's parse agree: a region the API server
    // takes is one the controller can build endpoints for, and the reverse.
    for region in [
        "eu-west-1",
        "us-gov-west-1",
        "us-isob-east-1",
        "eusc-de-east-1",
        "ap-southeast-12",
        "us_east_1",
        "us-east",
        "europe-west-1",
        "us-gov-west-east-1",
    ] {
        let object = format!(
            "{}  region: {region}\n",
            lambda_yaml(&ns, "region-shape", FUNCTION)
        );
        let (accepted, out) = kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(&object));
        assert_eq!(
            accepted,
            ebi::iam::Region::parse(region).is_ok(),
            "{region}: {out}"
        );
        if !accepted {
            assert!(out.contains("spec.region"), "{region}: {out}");
        }
    }
    // What needs more than one field is refused at reconcile time, naming the field.
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let fargate_without_network = ecs_yaml(&ns, "no-network", "").replace(
        "      networkConfiguration: {subnets: [subnet-0a1b2c3d], securityGroups: [sg-0a1b2c3d]}\n",
        "",
    );
    apply(&fargate_without_network);
    let lambda_with_role =
        lambda_yaml(&ns, "lambda-role", FUNCTION) + "  role: {name: not-for-lambda}\n";
    apply(&lambda_with_role);
    let bad_rate = sfn_yaml(&ns, "bad-rate").replace("rate(5 minutes)", "rate(1 minutes)");
    apply(&bad_rate);
    let (_, _, m) = wait_condition(&api, "no-network", "Ready", "False", Some("InvalidSpec")).await;
    assert!(m.contains("spec.target.ecs.networkConfiguration"), "{m}");
    let (_, _, m) =
        wait_condition(&api, "lambda-role", "Ready", "False", Some("InvalidSpec")).await;
    assert!(m.contains("spec.role"), "{m}");
    let (_, _, m) = wait_condition(&api, "bad-rate", "Ready", "False", Some("InvalidSpec")).await;
    assert!(m.contains("spec.rule.scheduleExpression"), "{m}");
    wait_condition(&api, "bad-rate", "Stalled", "True", Some("InvalidSpec")).await;
    let aws = aws().await;
    for n in ["no-network", "lambda-role", "bad-rate"] {
        assert!(
            !aws.rule_exists(&derived(&ns, n)).await,
            "{n}: no rule created"
        );
        assert!(
            !aws.role_exists(&derived(&ns, n)).await,
            "{n}: no role created"
        );
    }
    // Invalid objects are still deletable (nothing to clean up).
    delete_and_wait(&ns, &["--all"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bring_your_own_role_without_passrole_is_diagnosed() {
    let ns = namespace("e2e-byo");
    let aws = aws().await;
    let role_name = format!("byo-{ns}");
    let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":ACCOUNT}}}]});
    let role = aws
        .iam
        .create_role()
        .role_name(&role_name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let run_task = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:RunTask","Resource":"arn:aws:ecs:us-east-1:123456789012:task-definition/orders-worker:*"}]});
    aws.iam
        .put_role_policy()
        .role_name(&role_name)
        .policy_name("run")
        .policy_document(run_task.to_string())
        .send()
        .await
        .unwrap();
    let policy_before = aws
        .iam
        .get_role_policy()
        .role_name(&role_name)
        .policy_name("run")
        .send()
        .await
        .unwrap()
        .policy_document()
        .to_string();
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&ecs_yaml(
        &ns,
        "byo",
        &format!("  role: {{arn: {}}}\n", role.arn()),
    ));
    let (_, _, message) = wait_condition(
        &api,
        "byo",
        "AccessVerified",
        "False",
        Some("PassRoleMissing"),
    )
    .await;
    assert!(message.contains("iam:PassRole"), "{message}");
    assert!(
        message.contains("ecs-tasks.amazonaws.com") && message.contains("put-role-policy"),
        "the fix is in the message: {message}"
    );
    wait_condition(&api, "byo", "Ready", "False", Some("PassRoleMissing")).await;
    let status = api.get("byo").await.unwrap().status.unwrap();
    let pass_findings: Vec<_> = status
        .findings
        .iter()
        .filter(|f| f.code == ebi::diagnose::Code::PassRoleMissing)
        .collect();
    let roles: Vec<_> = pass_findings
        .iter()
        .filter_map(|f| f.resource.clone())
        .collect();
    assert!(
        roles.contains(&EXECUTION_ROLE.to_string()) && roles.contains(&TASK_ROLE.to_string()),
        "both task roles named: {roles:?}"
    );
    assert_eq!(status.role_arn.as_deref(), Some(role.arn()));
    // The role is never modified.
    let policy_after = aws
        .iam
        .get_role_policy()
        .role_name(&role_name)
        .policy_name("run")
        .send()
        .await
        .unwrap()
        .policy_document()
        .to_string();
    assert_eq!(policy_before, policy_after);
    assert_eq!(
        aws.iam
            .list_role_policies()
            .role_name(&role_name)
            .send()
            .await
            .unwrap()
            .policy_names()
            .len(),
        1
    );

    // The same diagnosis from the command line, online and read-only, from the rule's name.
    let rule_name = status.rule_name.clone().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eventbridge-integration-controller"))
        .args(["diagnose", "--rule", &rule_name, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "error findings exit 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        vec!["PassRoleMissing", "PassRoleMissing"],
        "{report}"
    );
    let missing =
        std::process::Command::new(env!("CARGO_BIN_EXE_eventbridge-integration-controller"))
            .args(["diagnose", "--rule", "no-such-rule"])
            .output()
            .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stdout).contains("RuleNotFound"));

    // Granting PassRole (as the finding says) makes it verified on the next resync.
    let pass = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":[EXECUTION_ROLE, TASK_ROLE],"Condition":{"StringLike":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}}]});
    aws.iam
        .put_role_policy()
        .role_name(&role_name)
        .policy_name("pass")
        .policy_document(pass.to_string())
        .send()
        .await
        .unwrap();
    wait_condition(&api, "byo", "AccessVerified", "True", None).await;
    wait_condition(&api, "byo", "Ready", "True", None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_controller_killed_mid_convergence_converges_without_duplicates_or_orphans() {
    let ns = namespace("e2e-kill");
    let mut ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let names: Vec<String> = (0..15).map(|i| format!("obj-{i:02}")).collect();
    let yaml: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| match i % 3 {
            0 => ecs_yaml(&ns, n, ""),
            1 => sfn_yaml(&ns, n),
            _ => lambda_yaml(&ns, n, FUNCTION),
        })
        .collect::<Vec<_>>()
        .join("---\n");
    apply(&yaml);
    // Kill as soon as AWS writes have started, while most objects are still converging.
    wait_until("the first AWS writes", Duration::from_secs(30), || {
        ctl.aws_calls()
            .iter()
            .any(|((_, op), n)| ebi::aws::is_write_operation(op) && *n > 0)
    });
    ctl.kill(); // SIGKILL: no graceful shutdown
    let ready_at_kill = {
        let mut n = 0;
        for name in &names {
            if condition(&api, name, "Ready")
                .await
                .is_some_and(|c| c.0 == "True")
            {
                n += 1;
            }
        }
        n
    };
    println!("[figures] SIGKILL with {ready_at_kill}/15 objects Ready");
    let _ctl2 = Controller::start(&ns, &[]);
    for name in &names {
        wait_condition(&api, name, "Ready", "True", None).await;
    }
    let aws = aws().await;
    // No duplicates: exactly one rule and one target per object, one permission statement per Lambda object.
    let prefix = format!("ebi-{ns}-");
    let rules = aws
        .events
        .list_rules()
        .name_prefix(&prefix)
        .send()
        .await
        .unwrap();
    assert_eq!(rules.rules().len(), 15, "one rule per object");
    for r in rules.rules() {
        assert_eq!(
            aws.events
                .list_targets_by_rule()
                .rule(r.name().unwrap())
                .send()
                .await
                .unwrap()
                .targets()
                .len(),
            1
        );
    }
    let roles = aws.iam.list_roles().max_items(1000).send().await.unwrap();
    let ours: Vec<_> = roles
        .roles()
        .iter()
        .filter(|r| r.role_name().starts_with(&prefix))
        .collect();
    assert_eq!(ours.len(), 10, "one role per ECS and Step Functions object");
    let fn_policy = aws
        .lambda
        .get_policy()
        .function_name(FUNCTION)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&fn_policy).unwrap();
    let statements = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["Sid"]
                .as_str()
                .unwrap_or("")
                .starts_with(&format!("ebi-{prefix}"))
        })
        .count();
    assert_eq!(statements, 5, "one permission per Lambda object");
    // No orphans: delete everything, nothing with our prefix remains.
    delete_and_wait(&ns, &["--all"]);
    assert!(
        aws.events
            .list_rules()
            .name_prefix(&prefix)
            .send()
            .await
            .unwrap()
            .rules()
            .is_empty(),
        "no rule left"
    );
    let roles = aws.iam.list_roles().max_items(1000).send().await.unwrap();
    assert!(
        !roles
            .roles()
            .iter()
            .any(|r| r.role_name().starts_with(&prefix)),
        "no role left"
    );
    let fn_policy = aws.function_policy(FUNCTION).await;
    assert!(
        !fn_policy.contains(&format!("ebi-{prefix}")),
        "no permission left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_have_one_writer_and_the_standby_takes_over() {
    let ns = namespace("e2e-leader");
    let args = leader_election_args(&ns);
    let args = args.each_ref().map(String::as_str);
    let mut a = Controller::start(&ns, &args);
    let mut b = Controller::start(&ns, &args);
    let leaders = |a: &Controller, b: &Controller| {
        a.metric("ebi_leader").unwrap_or(0.0) + b.metric("ebi_leader").unwrap_or(0.0)
    };
    wait_until("a leader", Duration::from_secs(30), || {
        leaders(&a, &b) == 1.0
    });
    let api = kube_api(&ns).await;
    apply(&sfn_yaml(&ns, "first"));
    wait_condition(&api, "first", "Ready", "True", None).await;
    let a_leads = a.metric("ebi_leader") == Some(1.0);
    {
        // A resync on the leader, to be sure the standby stays idle meanwhile. Two
        // increments: the first may be the converging pass, counted after its status write.
        let leader = if a_leads { &a } else { &b };
        let passes = leader.reconciles();
        wait_until("a resync on the leader", Duration::from_secs(20), || {
            leader.reconciles() >= passes + 2
        });
    }
    assert_eq!(leaders(&a, &b), 1.0, "exactly one leader");
    let (leader, standby) = if a_leads {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    assert!(leader.total_aws_calls() > 0, "the leader reconciles");
    assert_eq!(
        standby.total_aws_calls(),
        0,
        "the standby makes no AWS call"
    );
    assert_eq!(
        standby.successful_reconciles(),
        0,
        "the standby does not reconcile"
    );
    let (ok, holder) = kubectl(
        &[
            "get",
            "lease",
            "-n",
            &ns,
            "eventbridge-integration-controller",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
        None,
    );
    assert!(
        ok && !holder.is_empty(),
        "the Lease names its holder: {holder}"
    );

    leader.kill(); // SIGKILL: the Lease is not released, the standby must wait for it to expire
    let killed = std::time::Instant::now();
    apply(&sfn_yaml(&ns, "second"));
    wait_condition(&api, "second", "Ready", "True", None).await;
    let took = killed.elapsed();
    assert_eq!(
        standby.metric("ebi_leader"),
        Some(1.0),
        "the standby is the leader now"
    );
    assert!(standby.total_aws_calls() > 0);
    println!("[figures] leader election: standby converged a new object {:.1}s after the leader was killed (lease 6s)", took.as_secs_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn renaming_the_rule_or_role_leaves_no_orphan() {
    let ns = namespace("e2e-rename");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let aws = aws().await;
    let first_rule = format!("first-{ns}");
    let first_role = format!("ebi-first-{ns}");
    let spec = |rule: &str, role: &str| {
        ecs_yaml(&ns, "renamed", &format!("  role: {{name: {role}}}\n"))
            .replace("  rule:\n", &format!("  rule:\n    name: {rule}\n"))
    };
    apply(&spec(&first_rule, &first_role));
    wait_condition(&api, "renamed", "Ready", "True", None).await;
    assert!(aws.rule_exists(&first_rule).await);
    assert!(aws.role_exists(&first_role).await);

    let second_rule = format!("second-{ns}");
    let second_role = format!("ebi-second-{ns}");
    apply(&spec(&second_rule, &second_role));
    wait_until_async(
        "the renamed rule and role to replace the old ones",
        Duration::from_secs(30),
        || async { !aws.rule_exists(&first_rule).await && !aws.role_exists(&first_role).await },
    )
    .await;
    // Ready was True before the rename: wait for the status write of the pass that made it
    // (it follows the removals), not for Ready.
    wait_until_async(
        "the status to name the renamed rule",
        Duration::from_secs(30),
        || async {
            let obj = api.get("renamed").await.unwrap();
            let status = obj.status.unwrap_or_default();
            status.rule_name.as_deref() == Some(second_rule.as_str())
                && status.observed_generation == obj.metadata.generation
        },
    )
    .await;
    wait_condition(&api, "renamed", "Ready", "True", None).await;
    let t = aws
        .events
        .list_targets_by_rule()
        .rule(&second_rule)
        .send()
        .await
        .unwrap();
    assert!(t.targets()[0]
        .role_arn()
        .unwrap()
        .ends_with(&format!("role/{second_role}")));
    // The Events are published after the status write.
    let removed = format!("removed rule arn:aws:events:{REGION}:{ACCOUNT}:rule/{first_rule}");
    wait_until(
        "the Event naming the removed rule",
        Duration::from_secs(30),
        || {
            let (_, events) = kubectl(
                &[
                    "get",
                    "events",
                    "-n",
                    &ns,
                    "-o",
                    "jsonpath={.items[*].message}",
                ],
                None,
            );
            events.contains(&removed)
        },
    );
}

/// Throttling is retried (SDK adaptive retry, then per-object backoff) and counted; metric
/// labels stay bounded (no object names).
#[tokio::test(flavor = "multi_thread")]
async fn throttled_calls_are_retried_counted_and_converge() {
    let ns = namespace("e2e-throttle");
    // Two of every three DescribeRule calls (the first read of every pass) are throttled.
    let proxy = FaultProxy::start(&["-", "AWSEvents.DescribeRule", "2"]);
    let ctl = Controller::start_with_env(&ns, &[], &[("AWS_ENDPOINT_URL", &proxy.endpoint)]);
    let api = kube_api(&ns).await;
    apply(&sfn_yaml(&ns, "throttled"));
    wait_condition(&api, "throttled", "Ready", "True", None).await;
    let metrics = ctl.metrics_text();
    let throttled = metrics
        .lines()
        .find(|l| l.starts_with(r#"ebi_aws_calls_total{service="EventBridge",operation="DescribeRule",outcome="throttled"}"#))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(throttled >= 2, "throttled attempts are counted:\n{metrics}");
    println!("[figures] throttling: {throttled} throttled DescribeRule attempts retried; the object converged");
    for family in [
        "ebi_reconciles_total{result=\"success\"}",
        "ebi_reconcile_duration_seconds_bucket",
        "ebi_integrations{ready=\"true\"} 1",
        "ebi_findings{code=\"PassRoleMissing\"} 0",
        "ebi_leader 1",
    ] {
        assert!(metrics.contains(family), "{family} missing:\n{metrics}");
    }
    assert!(
        !metrics.contains(&ns),
        "labels never carry namespaces or names"
    );
    drop(proxy);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_object_whose_spec_became_invalid_still_cleans_up() {
    let ns = namespace("e2e-invalid-delete");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&ecs_yaml(&ns, "orders", ""));
    wait_condition(&api, "orders", "Ready", "True", None).await;
    // FARGATE without networkConfiguration passes the schema but not reconcile-time validation.
    let invalid = ecs_yaml(&ns, "orders", "").replace(
        "      networkConfiguration: {subnets: [subnet-0a1b2c3d], securityGroups: [sg-0a1b2c3d]}\n",
        "",
    );
    apply(&invalid);
    wait_condition(&api, "orders", "Ready", "False", Some("InvalidSpec")).await;
    delete_and_wait(&ns, &["orders"]);
    let aws = aws().await;
    let name = derived(&ns, "orders");
    assert!(
        !aws.rule_exists(&name).await,
        "the rule recorded in status is deleted"
    );
    assert!(
        !aws.role_exists(&name).await,
        "the role recorded in status is deleted"
    );
    let (_, events) = kubectl(
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
    // Clean-up reads the ownership record, not the (now invalid) spec.
    assert!(events.contains("Deleted"), "{events}");
}

/// The rule's one target, as EventBridge lists it.
async fn only_target(aws: &Aws, rule: &str) -> aws_sdk_eventbridge::types::Target {
    let out = aws
        .events
        .list_targets_by_rule()
        .rule(rule)
        .send()
        .await
        .unwrap();
    assert_eq!(out.targets().len(), 1, "{:?}", out.targets());
    out.targets()[0].clone()
}

/// The rule's one target, after checking that it names `arn` with the integration's role,
/// whose inline policy is `expected`.
async fn only_target_with_role(
    aws: &Aws,
    name: &str,
    arn: &str,
    expected: &serde_json::Value,
) -> aws_sdk_eventbridge::types::Target {
    let policy = aws.inline_policy(name).await.unwrap();
    assert!(
        documents_equivalent(&json!(policy), expected),
        "policy: {policy}"
    );
    let t = only_target(aws, name).await;
    assert_eq!(t.arn(), arn);
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{name}");
    assert_eq!(t.role_arn(), Some(role_arn.as_str()));
    t
}

fn partition_key_of(t: &aws_sdk_eventbridge::types::Target) -> Option<String> {
    t.kinesis_parameters()
        .map(|k| k.partition_key_path().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn kinesis_target_gets_put_record_on_its_stream_and_its_partition_key() {
    let ns = namespace("e2e-kinesis");
    let stream = format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/orders-{ns}");
    let yaml = |partition: &str| {
        format!(
            r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: records, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target:
    kinesis: {{streamArn: "{stream}"{partition}}}
"#
        )
    };
    converge_and_count(
        "Kinesis",
        &ns,
        "records",
        yaml(r#", partitionKeyPath: "$.detail.orderId""#),
    )
    .await;
    // converge_and_count's controller has stopped; this one corrects the drift below.
    let _ctl = Controller::start(&ns, &[]);
    let aws = aws().await;
    let name = derived(&ns, "records");
    let expected = json!({"Statement":[{"Sid":"PutRecord","Effect":"Allow","Action":"kinesis:PutRecord","Resource":stream}]});
    let t = only_target_with_role(&aws, &name, &stream, &expected).await;
    assert_eq!(partition_key_of(&t).as_deref(), Some("$.detail.orderId"));

    // A partition key changed by hand is put back.
    let mut edited = t.clone();
    edited.kinesis_parameters = Some(
        aws_sdk_eventbridge::types::KinesisParameters::builder()
            .partition_key_path("$.id")
            .build()
            .unwrap(),
    );
    aws.events
        .put_targets()
        .rule(&name)
        .targets(edited)
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the partition key to be restored",
        Duration::from_secs(30),
        || async {
            partition_key_of(&only_target(&aws, &name).await).as_deref() == Some("$.detail.orderId")
        },
    )
    .await;

    // Without partitionKeyPath the event's ID is the key: the block goes.
    apply(&yaml(""));
    wait_until_async(
        "the partition key to be removed",
        Duration::from_secs(30),
        || async { partition_key_of(&only_target(&aws, &name).await).is_none() },
    )
    .await;
    let api = kube_api(&ns).await;
    wait_condition(&api, "records", "Ready", "True", None).await;
}

/// The kind added to show the per-kind design (issue 18): one module, its registration and
/// the API's field. Created, verified, corrected on drift, removed from the record.
#[tokio::test(flavor = "multi_thread")]
async fn firehose_target_gets_put_record_batch_on_its_stream_and_is_corrected_and_removed() {
    let ns = namespace("e2e-firehose");
    let stream = format!("arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/orders-{ns}");
    let yaml = format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: archive, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target:
    firehose: {{deliveryStreamArn: "{stream}"}}
"#
    );
    converge_and_count("Firehose", &ns, "archive", yaml).await;
    let _ctl = Controller::start(&ns, &[]);
    let aws = aws().await;
    let api = kube_api(&ns).await;
    let name = derived(&ns, "archive");
    let expected = json!({"Statement":[{"Sid":"PutRecords","Effect":"Allow",
        "Action":["firehose:PutRecord","firehose:PutRecordBatch"],"Resource":stream}]});
    only_target_with_role(&aws, &name, &stream, &expected).await;
    // The diagnosis judges the role by the kind's own actions: nothing to say.
    wait_condition(&api, "archive", "AccessVerified", "True", None).await;
    let obj = api.get("archive").await.unwrap();
    let status = obj.status.unwrap();
    assert_eq!(status.target_kind.as_deref(), Some("Firehose"));

    // The batch call taken away by hand is put back.
    aws.iam
        .put_role_policy()
        .role_name(&name)
        .policy_name("eventbridge-integration")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": "firehose:PutRecord", "Resource": stream}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the role's policy to be restored",
        Duration::from_secs(30),
        || async {
            aws.inline_policy(&name)
                .await
                .is_some_and(|p| documents_equivalent(&json!(p), &expected))
        },
    )
    .await;

    delete_and_wait(&ns, &["archive"]);
    assert!(
        !aws.rule_exists(&name).await,
        "the rule outlived the object"
    );
    assert!(
        !aws.role_exists(&name).await,
        "the role outlived the object"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_gateway_target_calls_its_method_with_a_role_that_may_invoke_only_it() {
    let ns = namespace("e2e-apigw");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let yaml = |headers: &str| {
        format!(
            r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: calls, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target:
    apiGateway:
      restApiArn: "arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5"
      stage: prod
      method: POST
      path: /orders/*/events
      pathParameterValues: ["$.detail.orderId"]
{headers}"#
        )
    };
    apply(&yaml("      headerParameters: {X-Source: eventbridge}\n"));
    wait_condition(&api, "calls", "Ready", "True", Some("Converged")).await;
    let aws = aws().await;
    let name = derived(&ns, "calls");
    let method =
        format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/prod/POST/orders/*/events");
    let policy = aws.inline_policy(&name).await.unwrap();
    let expected = json!({"Statement":[{"Sid":"InvokeApi","Effect":"Allow","Action":"execute-api:Invoke","Resource":method}]});
    assert!(
        documents_equivalent(&json!(policy), &expected),
        "policy: {policy}"
    );
    let t = only_target(&aws, &name).await;
    assert_eq!(
        t.arn(),
        method,
        "the rule calls the method's execute-api ARN"
    );
    let http = t.http_parameters().expect("HttpParameters");
    assert_eq!(http.path_parameter_values(), ["$.detail.orderId"]);
    assert_eq!(
        http.header_parameters()
            .and_then(|h| h.get("X-Source"))
            .map(String::as_str),
        Some("eventbridge")
    );

    // A header removed from the spec leaves the target; the path value stays.
    apply(&yaml(""));
    wait_until_async(
        "the header to be removed",
        Duration::from_secs(30),
        || async {
            let t = only_target(&aws, &name).await;
            t.http_parameters().is_some_and(|h| {
                h.header_parameters().is_none_or(|m| m.is_empty())
                    && h.path_parameter_values() == ["$.detail.orderId"]
            })
        },
    )
    .await;
}

/// The statements of the account's CloudWatch Logs resource policy `name`; None when there
/// is no such policy.
async fn logs_policy_statements(
    logs: &aws_sdk_cloudwatchlogs::Client,
    name: &str,
) -> Option<Vec<serde_json::Value>> {
    let out = logs.describe_resource_policies().send().await.unwrap();
    let p = out
        .resource_policies()
        .iter()
        .find(|p| p.policy_name() == Some(name))?;
    let doc: serde_json::Value = serde_json::from_str(p.policy_document().unwrap()).unwrap();
    Some(match &doc["Statement"] {
        serde_json::Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn log_group_target_gets_our_statement_in_our_logs_resource_policy_until_deleted() {
    let ns = namespace("e2e-logs");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config().await);
    // Another policy of the account: never written.
    let foreign = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Vpc", "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"}, "Action": "logs:PutLogEvents",
        "Resource": format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/vpc/{ns}:*")}]});
    let foreign_name = format!("team-{ns}");
    logs.put_resource_policy()
        .policy_name(&foreign_name)
        .policy_document(foreign.to_string())
        .send()
        .await
        .unwrap();
    let group = format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/{ns}");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: audit-log, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target:
    logs: {{logGroupArn: "{group}:*"}}
"#
    ));
    wait_condition(&api, "audit-log", "Ready", "True", Some("Converged")).await;
    let rule_name = derived(&ns, "audit-log");
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule_name}");
    let sid = ebi::plan::names::owned_statement_id(
        &rule_name,
        &format!("{rule_arn}#target"),
        &uid_of(&api, "audit-log").await,
    );
    let ours = json!({"Sid": sid, "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": format!("{group}:*"),
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}});
    let policy = "EventBridgeIntegrationController";
    let mine = |statements: Option<Vec<serde_json::Value>>| {
        statements
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s["Sid"] == ours["Sid"])
            .collect::<Vec<_>>()
    };
    assert_eq!(
        mine(logs_policy_statements(&logs, policy).await),
        vec![ours.clone()]
    );
    assert_eq!(
        logs_policy_statements(&logs, &foreign_name).await,
        Some(foreign["Statement"].as_array().unwrap().clone())
    );
    let aws = aws().await;
    let t = only_target(&aws, &rule_name).await;
    assert_eq!(
        t.arn(),
        group,
        "the rule targets the group, without IAM's :*"
    );
    assert_eq!(
        t.role_arn(),
        None,
        "no role: AWS ignores one for log groups"
    );

    // Our statement removed by hand is put back; the foreign policy is left as it is.
    let others: Vec<serde_json::Value> = logs_policy_statements(&logs, policy)
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s["Sid"] != ours["Sid"])
        .collect();
    logs.put_resource_policy()
        .policy_name(policy)
        .policy_document(json!({"Version": "2012-10-17", "Statement": others}).to_string())
        .send()
        .await
        .unwrap();
    wait_until_async(
        "our statement to be restored",
        Duration::from_secs(30),
        || async { mine(logs_policy_statements(&logs, policy).await) == vec![ours.clone()] },
    )
    .await;

    delete_and_wait(&ns, &["audit-log"]);
    assert!(mine(logs_policy_statements(&logs, policy).await).is_empty());
    assert_eq!(
        logs_policy_statements(&logs, &foreign_name).await,
        Some(foreign["Statement"].as_array().unwrap().clone())
    );
    // An account holds at most 10 logs resource policies: leave none behind.
    logs.delete_resource_policy()
        .policy_name(&foreign_name)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn api_destination_gets_its_connection_from_a_secret_and_a_role_that_may_invoke_only_it() {
    let ns = namespace("e2e-apidest");
    let secret = |key_name: &str| {
        format!(
            r#"apiVersion: v1
kind: Secret
metadata: {{name: orders-api, namespace: {ns}}}
stringData: {{apiKeyName: {key_name}, apiKeyValue: s3cr3t-value}}
"#
        )
    };
    apply(&secret("x-api-key"));
    let yaml = format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: webhook, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target:
    apiDestination:
      endpoint: "https://api.example.com/orders/*"
      httpMethod: POST
      invocationRateLimitPerSecond: 20
      pathParameterValues: ["$.detail.orderId"]
      headerParameters: {{X-Source: eventbridge}}
      connection:
        authorizationType: API_KEY
        secretRef: {{name: orders-api}}
"#
    );
    let resync = converge_and_count("API destination", &ns, "webhook", yaml).await;
    // In sync, the account's lists confirm the destination and connection (shared by every
    // integration of the account and region); nothing is described.
    assert!(
        resync.contains_key("ListApiDestinations")
            && resync.contains_key("ListConnections")
            && !resync.contains_key("DescribeApiDestination")
            && !resync.contains_key("DescribeConnection"),
        "{resync:?}"
    );
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let aws = aws().await;
    let name = derived(&ns, "webhook");
    let uid = uid_of(&api, "webhook").await;
    let connection = aws
        .events
        .describe_connection()
        .name(&name)
        .send()
        .await
        .unwrap();
    let key_name =
        |c: &aws_sdk_eventbridge::operation::describe_connection::DescribeConnectionOutput| {
            c.auth_parameters()
                .and_then(|p| p.api_key_auth_parameters())
                .and_then(|k| k.api_key_name())
                .map(str::to_string)
        };
    assert_eq!(key_name(&connection).as_deref(), Some("x-api-key"));
    assert_eq!(
        connection.authorization_type().map(|t| t.as_str()),
        Some("API_KEY")
    );
    let described = connection.description().unwrap_or_default();
    assert!(
        described.contains(&format!("uid={uid}")) && !described.contains("s3cr3t"),
        "the description names the owner and no credential: {described}"
    );
    let destination = aws
        .events
        .describe_api_destination()
        .name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        destination.invocation_endpoint(),
        Some("https://api.example.com/orders/*")
    );
    assert_eq!(destination.http_method().map(|m| m.as_str()), Some("POST"));
    assert_eq!(destination.invocation_rate_limit_per_second(), Some(20));
    assert_eq!(destination.connection_arn(), connection.connection_arn());
    let destination_arn = destination.api_destination_arn().unwrap().to_string();

    let policy = aws.inline_policy(&name).await.unwrap();
    let expected = json!({"Statement":[{"Sid":"InvokeApiDestination","Effect":"Allow",
        "Action":"events:InvokeApiDestination",
        "Resource":format!("arn:aws:events:{REGION}:{ACCOUNT}:api-destination/{name}/*")}]});
    assert!(
        documents_equivalent(&json!(policy), &expected),
        "policy: {policy}"
    );
    let t = only_target(&aws, &name).await;
    assert_eq!(
        t.arn(),
        destination_arn,
        "the rule calls the destination AWS created"
    );
    assert!(t
        .role_arn()
        .is_some_and(|r| r.ends_with(&format!("/{name}"))));
    assert_eq!(
        t.http_parameters()
            .map(|h| h.path_parameter_values().to_vec()),
        Some(vec!["$.detail.orderId".to_string()])
    );

    // A rotated Secret reaches the connection at the next pass (AWS never shows the value:
    // the emulator shows the key's name, which the rotation changes too).
    apply(&secret("x-api-key-2"));
    wait_until_async(
        "the rotated key to reach the connection",
        Duration::from_secs(30),
        || async {
            let c = aws
                .events
                .describe_connection()
                .name(&name)
                .send()
                .await
                .unwrap();
            key_name(&c).as_deref() == Some("x-api-key-2")
        },
    )
    .await;

    // The endpoint changed by hand is restored, on the same destination.
    aws.events
        .update_api_destination()
        .name(&name)
        .invocation_endpoint("https://attacker.example.net/")
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the endpoint to be restored",
        Duration::from_secs(30),
        || async {
            let d = aws
                .events
                .describe_api_destination()
                .name(&name)
                .send()
                .await
                .unwrap();
            d.invocation_endpoint() == Some("https://api.example.com/orders/*")
        },
    )
    .await;
    assert_eq!(only_target(&aws, &name).await.arn(), destination_arn);

    delete_and_wait(&ns, &["webhook"]);
    let gone_destination = aws
        .events
        .describe_api_destination()
        .name(&name)
        .send()
        .await;
    assert!(
        gone_destination.is_err_and(|e| e.into_service_error().is_resource_not_found_exception()),
        "the destination is deleted"
    );
    let gone_connection = aws.events.describe_connection().name(&name).send().await;
    assert!(
        gone_connection.is_err_and(|e| e.into_service_error().is_resource_not_found_exception()),
        "the connection is deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_destination_whose_secret_is_missing_is_stalled_naming_the_secret_and_creates_nothing(
) {
    let ns = namespace("e2e-apidest-nosecret");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: webhook, namespace: {ns}}}
spec:
  rule: {{eventPattern: {{source: [orders]}}}}
  target:
    apiDestination:
      endpoint: "https://api.example.com/orders"
      httpMethod: POST
      connection:
        authorizationType: BASIC
        secretRef: {{name: partner-login}}
"#
    ));
    let (_, _, message) = wait_condition(&api, "webhook", "Ready", "False", None).await;
    assert!(
        message.contains(&format!("Secret {ns}/partner-login"))
            && message.contains("--from-literal=username=")
            && message.contains("--from-literal=password="),
        "{message}"
    );
    let aws = aws().await;
    let name = derived(&ns, "webhook");
    assert!(!aws.rule_exists(&name).await, "nothing is created");
    assert!(aws
        .events
        .describe_connection()
        .name(&name)
        .send()
        .await
        .is_err());
}

/// `spec.targets`: five targets on one rule, one role holding what the stream needs, each
/// queue, topic and function (two: the function and its alias) granting the rule; a target
/// removed from the list leaves the rule with its grant; a sixth is refused by the schema.
/// Two API destinations on one rule: each entry gets its own destination and connection
/// (named as the rule and its id, with its own Secret), the role may invoke each, and an
/// entry leaving the list takes its destination, connection, target and statement with it.
#[tokio::test(flavor = "multi_thread")]
async fn two_api_destinations_on_one_rule_each_with_its_own_connection() {
    let ns = namespace("e2e-two-apidest");
    apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: partner-key, namespace: {ns}}}\nstringData: {{apiKeyName: x-partner-key, apiKeyValue: k}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: audit-login, namespace: {ns}}}\nstringData: {{username: auditor, password: p}}\n"
    ));
    let partner_entry = "  - id: partner\n    apiDestination:\n      endpoint: \"https://partner.example.com/orders\"\n      httpMethod: POST\n      connection: {authorizationType: API_KEY, secretRef: {name: partner-key}}\n";
    let audit_entry = "  - id: audit\n    apiDestination:\n      endpoint: \"https://audit.example.net/events\"\n      httpMethod: PUT\n      connection: {authorizationType: BASIC, secretRef: {name: audit-login}}\n";
    let yaml = |entries: &[&str]| {
        format!(
            "apiVersion: eventbridge.dev/v1alpha1\nkind: EventBridgeIntegration\nmetadata: {{name: hooks, namespace: {ns}}}\nspec:\n  rule: {{eventPattern: {{source: [orders]}}}}\n  targets:\n{}",
            entries.concat()
        )
    };
    let resync = converge_and_count(
        "two API destinations",
        &ns,
        "hooks",
        yaml(&[partner_entry, audit_entry]),
    )
    .await;
    // In sync, both are confirmed from the account's lists: nothing is described.
    assert!(
        !resync.contains_key("DescribeApiDestination")
            && !resync.contains_key("DescribeConnection"),
        "{resync:?}"
    );
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let aws = aws().await;
    let rule = derived(&ns, "hooks");
    let (partner, audit) = (format!("{rule}-partner"), format!("{rule}-audit"));
    let destination = |name: String| {
        let events = aws.events.clone();
        async move { events.describe_api_destination().name(name).send().await }
    };
    let connection = |name: String| {
        let events = aws.events.clone();
        async move { events.describe_connection().name(name).send().await }
    };
    // Each destination calls its own endpoint through its own connection and Secret.
    let p = destination(partner.clone()).await.unwrap();
    let a = destination(audit.clone()).await.unwrap();
    assert_eq!(
        (p.invocation_endpoint(), p.http_method().map(|m| m.as_str())),
        (Some("https://partner.example.com/orders"), Some("POST"))
    );
    assert_eq!(
        (a.invocation_endpoint(), a.http_method().map(|m| m.as_str())),
        (Some("https://audit.example.net/events"), Some("PUT"))
    );
    let pc = connection(partner.clone()).await.unwrap();
    let ac = connection(audit.clone()).await.unwrap();
    assert_eq!(p.connection_arn(), pc.connection_arn());
    assert_eq!(a.connection_arn(), ac.connection_arn());
    let key_name = pc
        .auth_parameters()
        .and_then(|x| x.api_key_auth_parameters())
        .and_then(|k| k.api_key_name());
    assert_eq!(key_name, Some("x-partner-key"));
    let user = ac
        .auth_parameters()
        .and_then(|x| x.basic_auth_parameters())
        .and_then(|b| b.username());
    assert_eq!(user, Some("auditor"));
    // The rule calls each destination by the ARN AWS gave it.
    let targets = || {
        let events = aws.events.clone();
        let rule = rule.clone();
        async move {
            let out = events
                .list_targets_by_rule()
                .rule(rule)
                .send()
                .await
                .unwrap();
            let mut found: Vec<(String, String)> = out
                .targets()
                .iter()
                .map(|t| (t.id().to_string(), t.arn().to_string()))
                .collect();
            found.sort();
            found
        }
    };
    let (partner_arn, audit_arn) = (
        p.api_destination_arn().unwrap().to_string(),
        a.api_destination_arn().unwrap().to_string(),
    );
    assert_eq!(
        targets().await,
        [
            ("audit".to_string(), audit_arn.clone()),
            ("partner".to_string(), partner_arn.clone())
        ]
    );
    // One role: a statement per destination, each on that destination only.
    let invokable = || async {
        let policy = aws.inline_policy(&rule).await.unwrap();
        let doc = PolicyDocument::parse(&json!(policy)).unwrap();
        let mut resources: Vec<String> = doc
            .statements
            .iter()
            .flat_map(|s| s.resource.iter().flat_map(|r| r.patterns.clone()))
            .collect();
        resources.sort();
        resources
    };
    let on = |name: &str| format!("arn:aws:events:{REGION}:{ACCOUNT}:api-destination/{name}/*");
    assert_eq!(invokable().await, [on(&audit), on(&partner)]);

    // The audit entry leaves the list: its target, statement, destination and connection go.
    apply(&yaml(&[partner_entry]));
    wait_until_async(
        "the audit destination and connection to go",
        Duration::from_secs(60),
        || async {
            destination(audit.clone()).await.is_err() && connection(audit.clone()).await.is_err()
        },
    )
    .await;
    assert_eq!(
        targets().await,
        [("partner".to_string(), partner_arn.clone())]
    );
    assert_eq!(invokable().await, [on(&partner)]);
    wait_condition(&api, "hooks", "Ready", "True", None).await;
    assert_eq!(
        destination(partner.clone())
            .await
            .unwrap()
            .api_destination_arn(),
        Some(partner_arn.as_str()),
        "the remaining destination is the same one"
    );

    delete_and_wait(&ns, &["hooks"]);
    assert!(!aws.rule_exists(&rule).await);
    let gone = destination(partner.clone()).await;
    assert!(gone.is_err_and(|e| e.into_service_error().is_resource_not_found_exception()));
    let gone = connection(partner.clone()).await;
    assert!(gone.is_err_and(|e| e.into_service_error().is_resource_not_found_exception()));
}

/// `spec.target` to `spec.targets`: the API destination named as the rule gives way to the
/// one named as the rule and the entry's id (the record removes the old pair once the rule
/// calls the new one).
#[tokio::test(flavor = "multi_thread")]
async fn an_api_destination_moved_into_a_list_is_renamed_and_the_old_one_removed() {
    let ns = namespace("e2e-apidest-move");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let aws = aws().await;
    apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: hook-key, namespace: {ns}}}\nstringData: {{apiKeyName: x-key, apiKeyValue: k}}\n"
    ));
    let destination = "apiDestination:\n      endpoint: \"https://hooks.example.com/in\"\n      httpMethod: POST\n      connection: {authorizationType: API_KEY, secretRef: {name: hook-key}}\n";
    let object = |target: &str| {
        format!("apiVersion: eventbridge.dev/v1alpha1\nkind: EventBridgeIntegration\nmetadata: {{name: hook, namespace: {ns}}}\nspec:\n  rule: {{eventPattern: {{source: [orders]}}}}\n{target}")
    };
    apply(&object(&format!("  target:\n    {destination}")));
    wait_condition(&api, "hook", "Ready", "True", Some("Converged")).await;
    let rule = derived(&ns, "hook");
    let exists = |name: String| {
        let events = aws.events.clone();
        async move {
            let d = events.describe_api_destination().name(&name).send().await;
            let c = events.describe_connection().name(&name).send().await;
            (d.is_ok(), c.is_ok())
        }
    };
    assert_eq!(exists(rule.clone()).await, (true, true));

    apply(&object(&format!(
        "  targets:\n  - id: partner\n    {destination}"
    )));
    let renamed = format!("{rule}-partner");
    wait_until_async(
        "the old destination and connection to give way to the entry's",
        Duration::from_secs(60),
        || async {
            exists(rule.clone()).await == (false, false)
                && exists(renamed.clone()).await == (true, true)
        },
    )
    .await;
    let called = aws
        .events
        .describe_api_destination()
        .name(&renamed)
        .send()
        .await
        .unwrap();
    assert_eq!(
        only_target(&aws, &rule).await.arn(),
        called.api_destination_arn().unwrap(),
        "the rule calls the renamed destination"
    );
    delete_and_wait(&ns, &["hook"]);
    assert_eq!(exists(renamed).await, (false, false));
}

#[tokio::test(flavor = "multi_thread")]
async fn five_targets_on_one_rule_and_one_removed_with_its_grant() {
    let ns = namespace("e2e-fan");
    let config = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let sns = aws_sdk_sns::Client::new(&config);
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let name = format!("fan-{ns}");
    let queue_url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
    let topic_arn = sns
        .create_topic()
        .name(&name)
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    kinesis
        .create_stream()
        .stream_name(&name)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let stream_arn = format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}");
    let entries = [
        format!("  - id: notify\n    lambda: {{functionArn: \"{FUNCTION}\"}}\n"),
        format!("  - id: queue\n    sqs: {{queueArn: \"{queue_arn}\"}}\n"),
        format!("  - id: alerts\n    sns: {{topicArn: \"{topic_arn}\"}}\n"),
        format!("  - id: clicks\n    kinesis: {{streamArn: \"{stream_arn}\"}}\n"),
        format!("  - id: live\n    lambda: {{functionArn: \"{FUNCTION}:live\"}}\n"),
    ];
    let yaml = |entries: &[String]| {
        format!(
            "apiVersion: eventbridge.dev/v1alpha1\nkind: EventBridgeIntegration\nmetadata: {{name: fan, namespace: {ns}}}\nspec:\n  rule: {{eventPattern: {{source: [orders]}}}}\n  targets:\n{}",
            entries.concat()
        )
    };
    converge_and_count("five targets", &ns, "fan", yaml(&entries)).await;
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let aws = aws().await;
    let rule = derived(&ns, "fan");
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}");
    let targets = |aws: &Aws| {
        let rule = rule.clone();
        let events = aws.events.clone();
        async move {
            let out = events
                .list_targets_by_rule()
                .rule(&rule)
                .send()
                .await
                .unwrap();
            let mut ids: Vec<String> = out.targets().iter().map(|t| t.id().to_string()).collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(
        targets(&aws).await,
        ["alerts", "clicks", "live", "notify", "queue"]
    );
    // One role, for the two targets invoked through one.
    let policy = aws.inline_policy(&rule).await.unwrap();
    let doc = PolicyDocument::parse(&json!(policy)).unwrap();
    let mut granted: Vec<String> = doc
        .statements
        .iter()
        .flat_map(|s| s.action.patterns.clone())
        .collect();
    granted.sort();
    assert_eq!(granted, ["kinesis:PutRecord"], "{policy}");
    let queue_statements = || queue_policy_text(&sqs, &queue_url);
    assert!(queue_statements().await.contains(&rule_arn));
    let topic_policy = sns
        .get_topic_attributes()
        .topic_arn(&topic_arn)
        .send()
        .await
        .unwrap();
    assert!(topic_policy.attributes().unwrap()["Policy"].contains(&rule_arn));
    // Two functions (the function and its alias): each policy grants the rule.
    assert!(aws.function_policy(FUNCTION).await.contains(&rule_arn));
    let live_policy = || async {
        aws.lambda
            .get_policy()
            .function_name(FUNCTION)
            .qualifier("live")
            .send()
            .await
            .map(|p| p.policy.unwrap_or_default())
            .unwrap_or_default()
    };
    assert!(live_policy().await.contains(&rule_arn));
    let (_, kinds) = kubectl(
        &[
            "get",
            "ebi",
            "fan",
            "-n",
            &ns,
            "-o",
            "jsonpath={.status.targetKind}",
        ],
        None,
    );
    assert_eq!(kinds, "Lambda,SQS,SNS,Kinesis,Lambda");

    // The queue leaves the list: it leaves the rule, and its statement the queue's policy.
    let without_queue: Vec<String> = entries
        .iter()
        .filter(|e| !e.contains("id: queue"))
        .cloned()
        .collect();
    apply(&yaml(&without_queue));
    wait_until_async(
        "the queue target to leave the rule",
        Duration::from_secs(60),
        || async { targets(&aws).await == ["alerts", "clicks", "live", "notify"] },
    )
    .await;
    wait_until_async(
        "the queue statement to go",
        Duration::from_secs(60),
        || async { !queue_statements().await.contains(&rule_arn) },
    )
    .await;
    wait_condition(&api, "fan", "Ready", "True", None).await;

    // A sixth target is refused by the schema, naming the limit.
    let mut six = entries.to_vec();
    six.push(format!(
        "  - id: more\n    sqs: {{queueArn: \"{queue_arn}\"}}\n"
    ));
    let (ok, out) = kubectl(&["apply", "-f", "-"], Some(&yaml(&six)));
    assert!(!ok && out.contains("spec.targets"), "{out}");
    assert!(out.contains('5'), "{out}");

    delete_and_wait(&ns, &["fan"]);
    assert!(!aws.rule_exists(&rule).await);
    assert!(!aws.function_policy(FUNCTION).await.contains(&rule_arn));
    assert!(!live_policy().await.contains(&rule_arn));
    let topic_policy = sns
        .get_topic_attributes()
        .topic_arn(&topic_arn)
        .send()
        .await
        .unwrap();
    assert!(!topic_policy.attributes().unwrap()["Policy"].contains(&rule_arn));
}

/// Two ECS tasks on one rule: the role runs each task definition and passes each one's own
/// roles, read from ECS; the second task leaves the list with its statements.
#[tokio::test(flavor = "multi_thread")]
async fn two_ecs_tasks_on_one_rule_each_pass_their_own_roles() {
    let ns = namespace("e2e-two-ecs");
    let config = sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let aws = aws().await;
    // A second task definition, with an execution role of its own.
    let report_role = aws
        .iam
        .create_role()
        .role_name(format!("report-{ns}"))
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    let report = ecs
        .register_task_definition()
        .family(format!("report-{ns}"))
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .execution_role_arn(&report_role)
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("report")
                .image("public.ecr.aws/docker/library/busybox:latest")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap()
        .task_definition_arn
        .unwrap();
    let task = |id: &str, td: &str| {
        format!("  - id: {id}\n    ecs: {{clusterArn: {CLUSTER}, taskDefinitionArn: \"{td}\", networkConfiguration: {{subnets: [subnet-0a1b2c3d]}}}}\n")
    };
    let yaml = |entries: &[String]| {
        format!(
            "apiVersion: eventbridge.dev/v1alpha1\nkind: EventBridgeIntegration\nmetadata: {{name: tasks, namespace: {ns}}}\nspec:\n  rule: {{eventPattern: {{source: [orders]}}}}\n  targets:\n{}",
            entries.concat()
        )
    };
    let both = [task("worker", TASK_DEFINITION), task("report", &report)];
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&yaml(&both));
    wait_condition(&api, "tasks", "Ready", "True", None).await;
    let name = derived(&ns, "tasks");
    let family = |td: &str| format!("{}:*", td.rsplit_once(':').unwrap().0);
    let cond = json!({"StringLike": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}});
    let expected = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "RunTask1", "Effect": "Allow", "Action": "ecs:RunTask", "Resource": family(TASK_DEFINITION),
         "Condition": {"ArnEquals": {"ecs:cluster": CLUSTER}}},
        {"Sid": "PassTaskRoles1", "Effect": "Allow", "Action": "iam:PassRole",
         "Resource": [EXECUTION_ROLE, TASK_ROLE], "Condition": cond},
        {"Sid": "RunTask2", "Effect": "Allow", "Action": "ecs:RunTask", "Resource": family(&report),
         "Condition": {"ArnEquals": {"ecs:cluster": CLUSTER}}},
        {"Sid": "PassTaskRoles2", "Effect": "Allow", "Action": "iam:PassRole",
         "Resource": [report_role], "Condition": cond}]});
    let policy = aws.inline_policy(&name).await.unwrap();
    assert!(documents_equivalent(&json!(policy), &expected), "{policy}");
    let on_rule = || async {
        let out = aws
            .events
            .list_targets_by_rule()
            .rule(&name)
            .send()
            .await
            .unwrap();
        let mut found: Vec<(String, String)> = out
            .targets()
            .iter()
            .map(|t| {
                let td = t.ecs_parameters().unwrap().task_definition_arn();
                (t.id().to_string(), td.to_string())
            })
            .collect();
        found.sort();
        found
    };
    assert_eq!(
        on_rule().await,
        [
            ("report".to_string(), report.clone()),
            ("worker".to_string(), TASK_DEFINITION.to_string())
        ]
    );
    // The report task leaves: its target, and its statements with it.
    apply(&yaml(&both[..1]));
    wait_until_async(
        "the report task to leave the rule and the role",
        Duration::from_secs(60),
        || async {
            // The document as IAM returns it (URL-encoded), parsed.
            let policy = aws.inline_policy(&name).await.unwrap_or_default();
            let resources: Vec<String> = PolicyDocument::parse(&json!(policy))
                .map(|d| {
                    d.statements
                        .iter()
                        .flat_map(|s| s.resource.iter().flat_map(|r| r.patterns.clone()))
                        .collect()
                })
                .unwrap_or_default();
            on_rule().await.len() == 1
                && !resources.contains(&report_role)
                && resources.iter().any(|r| r == TASK_ROLE)
        },
    )
    .await;
    delete_and_wait(&ns, &["tasks"]);
    assert!(!aws.rule_exists(&name).await);
}

/// `spec.schedule`: an EventBridge Scheduler schedule with a time zone and a flexible window
/// sends to a queue through a role Scheduler alone may assume, for this account's schedule
/// group only, allowed exactly `sqs:SendMessage` on the queue. A schedule edited by hand is
/// put back; a spec change updates it in place; delete removes the schedule and the role.
/// The schedule `name` of the default group, as Scheduler holds it.
async fn get_schedule(
    scheduler: &aws_sdk_scheduler::Client,
    name: &str,
) -> Result<
    aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput,
    aws_sdk_scheduler::operation::get_schedule::GetScheduleError,
> {
    scheduler
        .get_schedule()
        .name(name)
        .send()
        .await
        .map_err(|e| e.into_service_error())
}

/// After delete: the schedule `name` and its role of the same name are gone.
async fn assert_schedule_and_role_gone(
    scheduler: &aws_sdk_scheduler::Client,
    aws: &Aws,
    name: &str,
) {
    assert!(
        get_schedule(scheduler, name)
            .await
            .is_err_and(|e| e.is_resource_not_found_exception()),
        "schedule {name} is deleted"
    );
    assert!(!aws.role_exists(name).await, "role {name} is deleted");
}

/// A schedule's time window as an edit by hand sets it: none.
fn window_off() -> aws_sdk_scheduler::types::FlexibleTimeWindow {
    aws_sdk_scheduler::types::FlexibleTimeWindow::builder()
        .mode(aws_sdk_scheduler::types::FlexibleTimeWindowMode::Off)
        .build()
        .unwrap()
}

/// The role's inline grants, statement by statement: (actions, resources).
async fn grants_of(aws: &Aws, role_name: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let doc = PolicyDocument::parse(&json!(aws.inline_policy(role_name).await.unwrap())).unwrap();
    doc.statements
        .iter()
        .map(|s| {
            (
                s.action.patterns.clone(),
                s.resource.clone().unwrap().patterns,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_with_a_time_zone_sends_to_a_queue_through_a_scheduler_role() {
    let ns = namespace("e2e-schedule");
    let config = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let scheduler = aws_sdk_scheduler::Client::new(&config);
    let queue = format!("reports-{ns}");
    sqs.create_queue().queue_name(&queue).send().await.unwrap();
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}");
    let yaml = |timezone: &str| {
        format!(
            r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: nightly, namespace: {ns}}}
spec:
  schedule:
    expression: "cron(0 9 ? * MON-FRI *)"
    timezone: {timezone}
    flexibleTimeWindow: {{mode: FLEXIBLE, maximumWindowInMinutes: 15}}
    startDate: "2030-01-01T00:00:00Z"
  target:
    sqs: {{queueArn: "{queue_arn}"}}
    input: {{job: report}}
"#
        )
    };
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&yaml("Europe/Paris"));
    wait_condition(&api, "nightly", "Ready", "True", Some("Converged")).await;
    // Scheduler publishes no per-schedule metrics: said, not left "not read yet" forever.
    let (_, _, delivering) = wait_condition(
        &api,
        "nightly",
        "Delivering",
        "Unknown",
        Some("NotObserved"),
    )
    .await;
    assert!(delivering.contains("not per schedule"), "{delivering}");
    let name = derived(&ns, "nightly");
    let get = || get_schedule(&scheduler, &name);
    let s = get().await.unwrap();
    assert_eq!(s.schedule_expression(), Some("cron(0 9 ? * MON-FRI *)"));
    assert_eq!(s.schedule_expression_timezone(), Some("Europe/Paris"));
    let window = s.flexible_time_window().unwrap();
    assert_eq!(
        (window.mode().as_str(), window.maximum_window_in_minutes()),
        ("FLEXIBLE", Some(15))
    );
    assert_eq!(
        s.start_date().map(|d| d
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap()),
        Some("2030-01-01T00:00:00Z".to_string())
    );
    let target = s.target().unwrap();
    assert_eq!(target.arn(), queue_arn);
    let input: serde_json::Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input, json!({"job": "report"}));
    // The role: Scheduler only, for this account's default group only; SendMessage on the
    // queue only.
    let aws = aws().await;
    let role = aws
        .iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    assert_eq!(target.role_arn(), role.arn());
    let trust =
        ebi::iam::PolicyDocument::parse(&json!(role.assume_role_policy_document().unwrap()))
            .unwrap();
    let principals: Vec<String> = trust.statements[0]
        .principal
        .iter()
        .flat_map(|p| p.entries.iter().map(|(_, v)| v.clone()))
        .collect();
    assert_eq!(principals, ["scheduler.amazonaws.com"]);
    let conditions: Vec<(String, Vec<String>)> = trust.statements[0]
        .conditions
        .iter()
        .map(|c| (c.key.to_lowercase(), c.values.clone()))
        .collect();
    assert!(
        conditions.contains(&(
            "aws:sourcearn".into(),
            vec![format!(
                "arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/default"
            )]
        )) && conditions.contains(&("aws:sourceaccount".into(), vec![ACCOUNT.into()])),
        "{conditions:?}"
    );
    let granted = grants_of(&aws, &name).await;
    assert_eq!(
        granted,
        [(vec!["sqs:SendMessage".to_string()], vec![queue_arn.clone()])]
    );
    let (_, schedule_arn) = kubectl(
        &[
            "get",
            "ebi",
            "nightly",
            "-n",
            &ns,
            "-o",
            "jsonpath={.status.scheduleArn}",
        ],
        None,
    );
    assert_eq!(Some(schedule_arn.as_str()), s.arn());

    // Edited by hand: put back.
    scheduler
        .update_schedule()
        .name(&name)
        .schedule_expression("rate(1 minute)")
        .flexible_time_window(window_off())
        .target(target.clone())
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the schedule to be put back",
        Duration::from_secs(30),
        || async {
            get().await.is_ok_and(|s| {
                s.schedule_expression() == Some("cron(0 9 ? * MON-FRI *)")
                    && s.schedule_expression_timezone() == Some("Europe/Paris")
            })
        },
    )
    .await;

    // Another time zone: the same schedule, updated.
    apply(&yaml("America/New_York"));
    wait_until_async("the new time zone", Duration::from_secs(30), || async {
        get().await.is_ok_and(|s| {
            s.schedule_expression_timezone() == Some("America/New_York")
                && s.arn() == Some(schedule_arn.as_str())
        })
    })
    .await;

    delete_and_wait(&ns, &["nightly"]);
    assert_schedule_and_role_gone(&scheduler, &aws, &name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_runs_an_ecs_task_and_puts_to_a_stream_under_a_fixed_key() {
    let ns = namespace("e2e-schedule-kinds");
    let config = sdk_config().await;
    let scheduler = aws_sdk_scheduler::Client::new(&config);
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    let stream = format!("ticks-{ns}");
    kinesis
        .create_stream()
        .stream_name(&stream)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let stream_arn = format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream}");
    let firehose_arn = format!("arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/archive-{ns}");
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: batch, namespace: {ns}}}
spec:
  schedule: {{expression: "rate(1 hour)"}}
  target:
    ecs:
      clusterArn: {CLUSTER}
      taskDefinitionArn: "{TASK_DEFINITION}"
      taskCount: 2
      networkConfiguration: {{subnets: [subnet-0a1b2c3d], assignPublicIp: DISABLED}}
---
apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: ticks, namespace: {ns}}}
spec:
  schedule: {{expression: "rate(5 minutes)"}}
  target:
    kinesis: {{streamArn: "{stream_arn}", partitionKey: ticks}}
    input: {{tick: true}}
---
apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: archive, namespace: {ns}}}
spec:
  schedule: {{expression: "rate(1 day)"}}
  target:
    firehose: {{deliveryStreamArn: "{firehose_arn}"}}
    input: {{snapshot: daily}}
"#
    ));
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    wait_condition(&api, "batch", "Ready", "True", Some("Converged")).await;
    wait_condition(&api, "ticks", "Ready", "True", Some("Converged")).await;
    wait_condition(&api, "archive", "Ready", "True", Some("Converged")).await;
    let aws = aws().await;
    let get = |name: String| {
        let scheduler = scheduler.clone();
        async move {
            scheduler
                .get_schedule()
                .name(name)
                .send()
                .await
                .map_err(|e| e.into_service_error())
        }
    };

    // ECS: Scheduler's own EcsParameters, and the role runs this family in this cluster and
    // passes the task's two roles, nothing else.
    let batch = derived(&ns, "batch");
    let batch_schedule = get(batch.clone()).await.unwrap();
    let target = batch_schedule.target().unwrap().clone();
    assert_eq!(target.arn(), CLUSTER);
    let ecs = target.ecs_parameters().unwrap();
    assert_eq!(ecs.task_definition_arn(), TASK_DEFINITION);
    assert_eq!(ecs.task_count(), Some(2));
    let vpc = ecs
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .unwrap();
    assert_eq!(vpc.subnets(), ["subnet-0a1b2c3d"]);
    assert_eq!(vpc.assign_public_ip().map(|a| a.as_str()), Some("DISABLED"));
    let mut ecs_grants = grants_of(&aws, &batch).await;
    ecs_grants.sort();
    assert_eq!(
        ecs_grants,
        [
            (
                vec!["ecs:RunTask".to_string()],
                vec![format!("{}:*", TASK_DEFINITION.rsplit_once(':').unwrap().0)]
            ),
            (
                vec!["iam:PassRole".to_string()],
                vec![EXECUTION_ROLE.to_string(), TASK_ROLE.to_string()]
            ),
        ]
    );

    // Kinesis: the fixed key the spec names, and PutRecord on this stream only.
    let ticks = derived(&ns, "ticks");
    let s = get(ticks.clone()).await.unwrap();
    let t = s.target().unwrap();
    assert_eq!(t.arn(), stream_arn);
    assert_eq!(
        t.kinesis_parameters().map(|k| k.partition_key()),
        Some("ticks")
    );
    assert_eq!(
        grants_of(&aws, &ticks).await,
        [(
            vec!["kinesis:PutRecord".to_string()],
            vec![stream_arn.clone()]
        )]
    );

    // Firehose: Scheduler's templated target (the stream's ARN, the input as the record) and
    // PutRecord alone, not the batch call a rule's role gets.
    let archive = derived(&ns, "archive");
    let s = get(archive.clone()).await.unwrap();
    let t = s.target().unwrap();
    assert_eq!(t.arn(), firehose_arn);
    assert_eq!(t.input(), Some(r#"{"snapshot":"daily"}"#));
    assert_eq!(
        grants_of(&aws, &archive).await,
        [(
            vec!["firehose:PutRecord".to_string()],
            vec![firehose_arn.clone()]
        )]
    );
    wait_condition(&api, "archive", "AccessVerified", "True", None).await;

    // The task count edited by hand: put back, parameters and all.
    let mut edited = target.clone();
    edited.ecs_parameters = Some(
        aws_sdk_scheduler::types::EcsParameters::builder()
            .task_definition_arn(TASK_DEFINITION)
            .task_count(9)
            .build()
            .unwrap(),
    );
    scheduler
        .update_schedule()
        .name(&batch)
        .schedule_expression("rate(1 hour)")
        .description(batch_schedule.description().unwrap_or_default())
        .flexible_time_window(window_off())
        .target(edited)
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the task's parameters to be put back",
        Duration::from_secs(30),
        || async {
            get(batch.clone()).await.is_ok_and(|s| {
                s.target()
                    .and_then(|t| t.ecs_parameters())
                    .is_some_and(|e| {
                        e.task_count() == Some(2)
                            && e.network_configuration()
                                .and_then(|n| n.awsvpc_configuration())
                                .is_some_and(|v| v.subnets() == ["subnet-0a1b2c3d"])
                    })
            })
        },
    )
    .await;

    delete_and_wait(&ns, &["batch", "ticks", "archive"]);
    for name in [&batch, &ticks, &archive] {
        assert_schedule_and_role_gone(&scheduler, &aws, name).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_publishes_to_a_fifo_topic_through_the_universal_target() {
    let ns = namespace("e2e-schedule-fifo");
    let config = sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let scheduler = aws_sdk_scheduler::Client::new(&config);
    let topic_arn = sns
        .create_topic()
        .name(format!("orders-{ns}.fifo"))
        .attributes("FifoTopic", "true")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let policy_of = || async {
        sns.get_topic_attributes()
            .topic_arn(&topic_arn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default()
            .get("Policy")
            .cloned()
    };
    let policy_before = policy_of().await;
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: nightly, namespace: {ns}}}
spec:
  schedule: {{expression: "cron(0 2 * * ? *)", timezone: Europe/Paris}}
  target:
    sns: {{topicArn: "{topic_arn}", messageGroupId: nightly}}
    input: {{report: daily}}
"#
    ));
    // Ready: the diagnosis judged the universal call (sns:Publish on the input's topic) and
    // found the role allowed.
    wait_condition(&api, "nightly", "Ready", "True", Some("Converged")).await;
    let name = derived(&ns, "nightly");
    let get = || get_schedule(&scheduler, &name);
    let s = get().await.unwrap();
    let target = s.target().unwrap().clone();
    assert_eq!(target.arn(), "arn:aws:scheduler:::aws-sdk:sns:publish");
    assert!(target.sqs_parameters().is_none());
    let request: serde_json::Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(request["TopicArn"], topic_arn);
    assert_eq!(request["MessageGroupId"], "nightly");
    assert_eq!(
        request["MessageDeduplicationId"],
        format!(
            "{}@<aws.scheduler.scheduled-time>",
            ebi::plan::names::schedule_deduplication_prefix("default", &name)
        )
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(request["Message"].as_str().unwrap()).unwrap(),
        json!({"report": "daily"})
    );
    let aws = aws().await;
    let granted = grants_of(&aws, &name).await;
    assert_eq!(
        granted,
        [(vec!["sns:Publish".to_string()], vec![topic_arn.clone()])]
    );
    // Scheduler publishes with the role: the topic's own policy is left as it was.
    assert_eq!(policy_of().await, policy_before);

    // Another message group written by hand: put back.
    let mut edited = target.clone();
    let mut other = request.clone();
    other["MessageGroupId"] = json!("someone-else");
    edited.input = Some(other.to_string());
    scheduler
        .update_schedule()
        .name(&name)
        .schedule_expression("cron(0 2 * * ? *)")
        .schedule_expression_timezone("Europe/Paris")
        .description(s.description().unwrap_or_default())
        .flexible_time_window(window_off())
        .target(edited)
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the message group to be put back",
        Duration::from_secs(30),
        || async {
            get().await.is_ok_and(|s| {
                s.target()
                    .and_then(|t| t.input())
                    .and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok())
                    .is_some_and(|i| i["MessageGroupId"] == "nightly")
            })
        },
    )
    .await;

    delete_and_wait(&ns, &["nightly"]);
    assert_schedule_and_role_gone(&scheduler, &aws, &name).await;
}

/// A schedule's queue under a customer managed key: SQS uses the key as the schedule's role,
/// so a key policy that grants the account leaves it to the role's own policy, which the
/// controller's role holds only for the keys `spec.schedule.kmsKeyArns` names.
#[tokio::test(flavor = "multi_thread")]
async fn a_schedules_queue_key_is_judged_for_the_schedules_role() {
    let ns = namespace("e2e-schedule-kms");
    let config = sdk_config().await;
    let key = key_granting_the_account(&config, ACCOUNT).await;
    let queue_arn = queue_under_key(&config, ACCOUNT, &format!("reports-{ns}"), key.key_id()).await;
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let yaml = |keys: &str| {
        format!(
            r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: nightly, namespace: {ns}}}
spec:
  schedule: {{expression: "rate(1 hour)"{keys}}}
  target:
    sqs: {{queueArn: "{queue_arn}"}}
"#
        )
    };
    apply(&yaml(""));
    let (_, _, message) = wait_condition(
        &api,
        "nightly",
        "AccessVerified",
        "False",
        Some("SqsQueueKmsKeyNotPermitted"),
    )
    .await;
    let key_arn = key.arn().unwrap().to_string();
    assert!(
        message.contains(key.key_id())
            && message.contains("leaves the key to IAM policies")
            && message.contains("spec.schedule.kmsKeyArns"),
        "names the key, why the role may not use it, and the field that fixes it: {message}"
    );
    // Named in the spec: the role may use the key through SQS only, and the finding clears.
    apply(&yaml(&format!(", kmsKeyArns: [\"{key_arn}\"]")));
    wait_condition(&api, "nightly", "Ready", "True", Some("Converged")).await;
    let aws = aws().await;
    let name = derived(&ns, "nightly");
    let doc = PolicyDocument::parse(&json!(aws.inline_policy(&name).await.unwrap())).unwrap();
    let keys = doc
        .statements
        .iter()
        .find(|s| s.action.patterns.iter().any(|a| a == "kms:GenerateDataKey"))
        .unwrap_or_else(|| panic!("a statement for the key: {doc:?}"));
    assert_eq!(keys.resource.clone().unwrap().patterns, [key_arn]);
    let conditions: Vec<(String, Vec<String>)> = keys
        .conditions
        .iter()
        .map(|c| (c.key.to_lowercase(), c.values.clone()))
        .collect();
    assert_eq!(
        conditions,
        [(
            "kms:viaservice".to_string(),
            vec![format!("sqs.{REGION}.amazonaws.com")]
        )]
    );
    delete_and_wait(&ns, &["nightly"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedules_own_role_is_diagnosed_for_schedulers_trust_and_its_dead_letter_queue() {
    let ns = namespace("e2e-schedule-byo");
    let config = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let aws = aws().await;
    let queue = format!("reports-{ns}");
    let dlq = format!("reports-dlq-{ns}");
    for q in [&queue, &dlq] {
        sqs.create_queue().queue_name(q).send().await.unwrap();
    }
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}");
    let dlq_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{dlq}");
    // A role made for an EventBridge rule, reused: it trusts events.amazonaws.com.
    let role_name = format!("nightly-{ns}");
    let trust = |service: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": service}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]})
        .to_string()
    };
    let role = aws
        .iam
        .create_role()
        .role_name(&role_name)
        .assume_role_policy_document(trust("events.amazonaws.com"))
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let send = |resource: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "sqs:SendMessage", "Resource": resource}]})
        .to_string()
    };
    aws.iam
        .put_role_policy()
        .role_name(&role_name)
        .policy_name("send")
        .policy_document(send(&queue_arn))
        .send()
        .await
        .unwrap();
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: nightly, namespace: {ns}}}
spec:
  schedule: {{expression: "rate(1 hour)"}}
  role: {{arn: "{}"}}
  target:
    sqs: {{queueArn: "{queue_arn}"}}
    deadLetterQueueArn: "{dlq_arn}"
"#,
        role.arn()
    ));
    // The schedule names the user's role, and the diagnosis says Scheduler cannot assume it.
    let (_, _, message) = wait_condition(
        &api,
        "nightly",
        "AccessVerified",
        "False",
        Some("SchedulerTrustMissing"),
    )
    .await;
    assert!(
        message.contains("events.amazonaws.com") && message.contains("scheduler.amazonaws.com"),
        "the message names the service it trusts and the one it must: {message}"
    );
    assert!(
        message.contains(&format!(
            "arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/default"
        )),
        "the fix scopes the trust to the schedule's group: {message}"
    );
    let scheduler = aws_sdk_scheduler::Client::new(&config);
    let name = derived(&ns, "nightly");
    let s = scheduler.get_schedule().name(&name).send().await.unwrap();
    assert_eq!(s.target().unwrap().role_arn(), role.arn());
    let status = api.get("nightly").await.unwrap().status.unwrap();
    let codes: Vec<String> = status.findings.iter().map(|f| f.code.to_string()).collect();
    assert_eq!(
        codes,
        ["SchedulerTrustMissing", "ScheduleDeadLetterNotAllowed"],
        "the trust, then the dead-letter queue, and nothing about the queue it may send to"
    );
    assert!(
        !status
            .not_evaluated
            .iter()
            .any(|n| n.contains("not yet diagnosed")),
        "{:?}",
        status.not_evaluated
    );

    // The trust fixed as the finding says: the dead-letter queue is what is left.
    aws.iam
        .update_assume_role_policy()
        .role_name(&role_name)
        .policy_document(trust("scheduler.amazonaws.com"))
        .send()
        .await
        .unwrap();
    wait_condition(
        &api,
        "nightly",
        "AccessVerified",
        "False",
        Some("ScheduleDeadLetterNotAllowed"),
    )
    .await;
    aws.iam
        .put_role_policy()
        .role_name(&role_name)
        .policy_name("dead-letter")
        .policy_document(send(&dlq_arn))
        .send()
        .await
        .unwrap();
    wait_condition(&api, "nightly", "AccessVerified", "True", None).await;
    wait_condition(&api, "nightly", "Ready", "True", None).await;
    // The user's role is never modified, and outlives the object.
    delete_and_wait(&ns, &["nightly"]);
    let policies = aws
        .iam
        .list_role_policies()
        .role_name(&role_name)
        .send()
        .await
        .unwrap();
    let mut names = policies.policy_names().to_vec();
    names.sort();
    assert_eq!(names, ["dead-letter", "send"]);
}

/// A schedule in sync costs one GetSchedule a resync (Scheduler has no bulk read of a
/// schedule's fields), besides the account's shared role read.
#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_in_sync_costs_one_read_of_its_own() {
    let ns = namespace("e2e-schedule-cost");
    let resync = converge_and_count(
        "schedule",
        &ns,
        "tick",
        format!(
            r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: tick, namespace: {ns}}}
spec:
  schedule: {{expression: "rate(1 hour)"}}
  target: {{stepFunctions: {{stateMachineArn: "{STATE_MACHINE}"}}}}
"#
        ),
    )
    .await;
    println!("[figures] schedule: in-sync resync by operation {resync:?}");
    assert_eq!(resync.get("GetSchedule"), Some(&1), "{resync:?}");
    let own: u64 = resync
        .iter()
        .filter(|(op, _)| op.as_str() != "GetAccountAuthorizationDetails")
        .map(|(_, n)| n)
        .sum();
    assert!(
        own <= 2,
        "at most two calls of its own a resync (the role comes from the account's shared read): {resync:?}"
    );
}

/// A schedule group is the user's to create: one that does not exist stops the pass with a
/// message naming the field and the command, creates nothing else, and is picked up once
/// the group exists.
#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_in_a_group_that_does_not_exist_says_so_and_converges_once_it_does() {
    let ns = namespace("e2e-schedule-group");
    let group = format!("reports-{ns}");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: weekly, namespace: {ns}}}
spec:
  schedule: {{expression: "rate(7 days)", group: {group}}}
  target: {{stepFunctions: {{stateMachineArn: "{STATE_MACHINE}"}}}}
"#
    ));
    let (_, reason, message) = wait_condition(&api, "weekly", "Ready", "False", None).await;
    println!("group missing: {reason}: {message}");
    assert!(
        message.contains("spec.schedule.group")
            && message.contains(&group)
            && message.contains("aws scheduler create-schedule-group"),
        "{reason}: {message}"
    );
    assert!(
        !aws().await.role_exists(&derived(&ns, "weekly")).await,
        "nothing is written before the group exists (not even the role)"
    );
    let scheduler = aws_sdk_scheduler::Client::new(&sdk_config().await);
    scheduler
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .unwrap();
    wait_condition(&api, "weekly", "Ready", "True", Some("Converged")).await;
    let s = scheduler
        .get_schedule()
        .group_name(&group)
        .name(derived(&ns, "weekly"))
        .send()
        .await
        .unwrap();
    assert_eq!(s.group_name(), Some(group.as_str()));
    delete_and_wait(&ns, &["weekly"]);
}

/// A schedule whose end date passes is still in sync, and says it will not fire again.
#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_whose_end_date_passes_says_it_will_not_fire_again() {
    let ns = namespace("e2e-schedule-ended");
    let end = std::time::SystemTime::now() + Duration::from_secs(8);
    let end = humantime::format_rfc3339_seconds(end).to_string();
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: brief, namespace: {ns}}}
spec:
  schedule: {{expression: "rate(1 minute)", endDate: "{end}"}}
  target: {{stepFunctions: {{stateMachineArn: "{STATE_MACHINE}"}}}}
"#
    ));
    wait_condition(&api, "brief", "Ready", "True", Some("Converged")).await;
    let ended = |s: &ebi::api::EventBridgeIntegrationStatus| {
        s.findings
            .iter()
            .any(|f| f.code == ebi::diagnose::Code::ScheduleEnded)
    };
    let status = api.get("brief").await.unwrap().status.unwrap();
    assert!(
        !ended(&status),
        "not before its end date: {:?}",
        status.findings
    );
    wait_until_async(
        "the end date to be noted",
        Duration::from_secs(45),
        || async {
            api.get("brief")
                .await
                .ok()
                .and_then(|o| o.status)
                .is_some_and(|s| ended(&s))
        },
    )
    .await;
    // A note, not a fault: the integration stays Ready.
    wait_condition(&api, "brief", "Ready", "True", None).await;
    let status = api.get("brief").await.unwrap().status.unwrap();
    let f = status
        .findings
        .iter()
        .find(|f| f.code == ebi::diagnose::Code::ScheduleEnded)
        .unwrap();
    assert!(f.message.contains(&end), "{}", f.message);
    delete_and_wait(&ns, &["brief"]);
}
