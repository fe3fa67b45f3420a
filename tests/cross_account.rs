//! Cross-account integrations end to end, across two accounts of the emulator: the
//! controller's (123456789012) and a target account (222222222222) it reaches by assuming
//! the provisioning role there.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

use std::time::Duration;

use ebi::iam::{documents_equivalent, PolicyDocument};
use serde_json::{json, Value};

use support::*;

const B: &str = OTHER_ACCOUNT;

fn in_b(arn: &str) -> String {
    arn.replace(ACCOUNT, B)
}

fn cross_yaml(ns: &str, name: &str, target: &str, cross: &str) -> String {
    format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: {name}, namespace: {ns}}}
spec:
  rule:
    eventPattern: {{source: ["com.example.orders"]}}
  target:
{target}
  crossAccount:
    targetAccountId: "{B}"
    provisioningRoleArn: {PROVISIONER}
{cross}"#
    )
}

fn ecs_target_in_b() -> String {
    format!(
        "    ecs:\n      clusterArn: {}\n      taskDefinitionArn: {}\n      networkConfiguration: {{subnets: [subnet-0a1b2c3d]}}\n",
        in_b(CLUSTER),
        in_b(TASK_DEFINITION)
    )
}

fn policy_doc(text: &str) -> PolicyDocument {
    PolicyDocument::parse(&json!(text)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_delivery_reaches_lambda_in_another_account_with_no_role_there() {
    let ns = namespace("x-direct");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let function_b = in_b(FUNCTION);
    let target = format!("    lambda: {{functionArn: \"{function_b}\"}}\n");
    apply(&cross_yaml(
        &ns,
        "direct",
        &target,
        "    mode: DirectDelivery\n",
    ));
    wait_condition(&api, "direct", "Ready", "True", None).await;
    wait_condition(&api, "direct", "CrossAccountReady", "True", None).await;
    let name = derived(&ns, "direct");
    let a = aws().await;
    let b = aws_in(B).await;
    let source = a
        .iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    // The execution role may invoke exactly the function, and assume nothing.
    let sp = a.inline_policy(&name).await.unwrap();
    let expected = json!({"Statement": [{"Sid": "InvokeCrossAccount", "Effect": "Allow",
        "Action": "lambda:InvokeFunction", "Resource": function_b}]});
    assert!(documents_equivalent(&json!(sp), &expected), "{sp}");
    assert!(!b.role_exists(&name).await, "B: no role is created there");
    // EventBridge delivers directly: the rule in A targets the function in B with the
    // execution role, and the function's policy in B lets that role invoke it.
    let t = a
        .events
        .list_targets_by_rule()
        .rule(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(t.targets()[0].arn(), function_b);
    assert_eq!(t.targets()[0].role_arn(), Some(source.arn()));
    let fp = policy_doc(
        b.lambda
            .get_policy()
            .function_name(&function_b)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    );
    let stmt = fp
        .statements
        .iter()
        .find(|s| {
            s.sid
                .as_deref()
                .is_some_and(|sid| is_statement_of(sid, &statement_id(&name)))
        })
        .expect("our statement in B");
    // AWS writes {"AWS": ARN}; the emulator a bare ARN. Both name the same principal.
    assert_eq!(
        stmt.principal.as_ref().unwrap().entries,
        vec![(
            ebi::iam::policy::PrincipalKind::Aws,
            source.arn().to_string()
        )]
    );
    assert_eq!(
        fp.statements.iter().filter(|s| s.sid == stmt.sid).count(),
        1,
        "one statement, not one per pass"
    );

    delete_and_wait(&ns, &["direct"]);
    assert!(!a.role_exists(&name).await, "A: source role gone");
    assert!(!a.rule_exists(&name).await, "A: rule gone");
    let fp = b.function_policy(&function_b).await;
    assert!(!fp.contains(&statement_id(&name)), "B: permission gone");
}

/// An earlier version's RoleChain created a role in B (trusting the execution role, never
/// assumed by EventBridge) and recorded it: the record is the migration, the role leaves with
/// it, and an object still written with `mode: RoleChain` and `targetRoleName` applies.
#[tokio::test(flavor = "multi_thread")]
async fn rolechains_role_of_an_earlier_version_is_removed_from_the_target_account() {
    let ns = namespace("x-chain-old");
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let function_b = in_b(FUNCTION);
    let chained_name = format!("chained-{ns}");
    apply(&cross_yaml(
        &ns,
        "chain",
        &format!("    lambda: {{functionArn: \"{function_b}\"}}\n"),
        &format!("    mode: RoleChain\n    targetRoleName: {chained_name}\n"),
    ));
    wait_condition(&api, "chain", "Ready", "True", None).await;
    // No pass may run while the record is edited: one in flight would write its own record
    // over the injected entry, and the old role would never be found.
    drop(ctl);
    let name = derived(&ns, "chain");
    let a = aws().await;
    let b = aws_in(B).await;
    assert!(!b.role_exists(&chained_name).await, "nothing created in B");
    // What the earlier version left: the role in B, tagged as the source role is, and its
    // record entry (reached through the provisioning role).
    let source = a
        .iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": source.arn()}, "Action": "sts:AssumeRole"}]});
    let chained = b
        .iam
        .create_role()
        .role_name(&chained_name)
        .assume_role_policy_document(trust.to_string())
        .set_tags(Some(source.tags().to_vec()))
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let mut status = api.get_status("chain").await.unwrap().status.unwrap();
    let mut resources = status.resources.take().unwrap();
    let mut entry = resources
        .iter()
        .find(|r| r.kind == ebi::api::OwnedKind::Role)
        .unwrap()
        .clone();
    entry.account_id = B.to_string();
    entry.arn = chained.arn().to_string();
    entry.name = chained_name.clone();
    entry.via_role_arn = Some(PROVISIONER.to_string());
    resources.push(entry);
    status.resources = Some(resources);
    api.patch_status(
        "chain",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"status": status})),
    )
    .await
    .unwrap();
    // The same resync as `start`, appending to the first run's log.
    let _ctl = Controller::start_with_resync(&ns, "3s", &[], &[]);
    wait_until_async(
        "RoleChain's old role to leave B",
        Duration::from_secs(30),
        || async { !b.role_exists(&chained_name).await },
    )
    .await;
    // The pass writes the record after the removal it made: wait for that status write (Ready
    // was already True, so waiting for it proves nothing).
    wait_until_async(
        "the entry to leave the record with the role",
        Duration::from_secs(30),
        || async {
            let recorded = api.get_status("chain").await.unwrap().status.unwrap();
            recorded
                .resources
                .unwrap_or_default()
                .iter()
                .all(|r| r.account_id != B || r.kind != ebi::api::OwnedKind::Role)
        },
    )
    .await;
    wait_condition(&api, "chain", "Ready", "True", None).await;
    delete_and_wait(&ns, &["chain"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_delivery_refuses_ecs_and_a_boundary_without_invoke_breaks_it() {
    let ns = namespace("x-chain-broken");
    let a = aws().await;
    // The operator's mandatory boundary forgot lambda:InvokeFunction.
    let boundary_name = format!("boundary-{ns}");
    let boundary = a
        .iam
        .create_policy()
        .policy_name(&boundary_name)
        .policy_document(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "events:PutEvents"], "Resource": "*"}]}).to_string())
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    let _ctl = Controller::start(&ns, &["--permissions-boundary-arn", &boundary]);
    let api = kube_api(&ns).await;
    apply(&cross_yaml(
        &ns,
        "chain-ecs",
        &ecs_target_in_b(),
        "    mode: DirectDelivery\n",
    ));
    let (_, _, m) = wait_condition(&api, "chain-ecs", "Ready", "False", Some("InvalidSpec")).await;
    assert!(
        m.contains("spec.crossAccount.mode") && m.contains("EventBusForwarding"),
        "{m}"
    );
    assert!(
        !a.rule_exists(&derived(&ns, "chain-ecs")).await,
        "nothing created"
    );

    let target = format!("    lambda: {{functionArn: \"{}\"}}\n", in_b(FUNCTION));
    apply(&cross_yaml(
        &ns,
        "chain-bounded",
        &target,
        "    mode: RoleChain\n",
    ));
    let (_, reason, message) =
        wait_condition(&api, "chain-bounded", "AccessVerified", "False", None).await;
    assert_eq!(reason, "PermissionsBoundaryBlocks", "{message}");
    assert!(
        message.contains("lambda:InvokeFunction") && message.contains(&boundary),
        "{message}"
    );
    wait_condition(
        &api,
        "chain-bounded",
        "Ready",
        "False",
        Some("PermissionsBoundaryBlocks"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provisioning_role_that_cannot_be_assumed_gives_a_clear_condition() {
    let ns = namespace("x-deny");
    let proxy = FaultProxy::start(&["cannot-assume"]);
    let ctl = Controller::start_with_env(&ns, &[], &[("AWS_ENDPOINT_URL", &proxy.endpoint)]);
    let api = kube_api(&ns).await;
    let yaml = cross_yaml(
        &ns,
        "denied",
        &ecs_target_in_b(),
        "    mode: EventBusForwarding\n",
    )
    .replace(PROVISIONER, "arn:aws:iam::222222222222:role/cannot-assume");
    apply(&yaml);
    let (_, _, message) = wait_condition(
        &api,
        "denied",
        "Ready",
        "False",
        Some("ProvisioningRoleNotAssumable"),
    )
    .await;
    assert!(
        message.contains("arn:aws:iam::222222222222:role/cannot-assume")
            && message.contains("trust policy"),
        "{message}"
    );
    wait_condition(
        &api,
        "denied",
        "Stalled",
        "True",
        Some("ProvisioningRoleNotAssumable"),
    )
    .await;
    let writes: u64 = ctl
        .aws_calls()
        .iter()
        .filter(|((_, op), _)| ebi::aws::is_write_operation(op))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(writes, 0, "nothing is written in either account");
    drop(proxy);
}

/// STS throttling is AWS being busy, not a refusal: the pass is retried and converges, and
/// no condition ever says the provisioning role cannot be assumed.
#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_assume_role_is_retried_not_reported_as_a_role_that_cannot_be_assumed() {
    const THROTTLED: u64 = 5;
    let ns = namespace("x-sts-busy");
    let b = aws_in(B).await;
    let bus = bus_in_b(&b, &ns).await;
    let proxy = FaultProxy::start(&["--throttle-assume-role", &THROTTLED.to_string()]);
    let _ctl = Controller::start_with_env(&ns, &[], &[("AWS_ENDPOINT_URL", &proxy.endpoint)]);
    let api = kube_api(&ns).await;
    apply(&cross_yaml(
        &ns,
        "busy",
        &ecs_target_in_b(),
        &forwarding(&bus),
    ));
    let start = std::time::Instant::now();
    let mut reasons = std::collections::BTreeSet::new();
    while condition(&api, "busy", "Ready").await.map(|c| c.0) != Some("True".into()) {
        for type_ in ["Ready", "Stalled", "CrossAccountReady"] {
            if let Some((_, reason, _)) = condition(&api, "busy", type_).await {
                reasons.insert(reason);
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "never Ready; reasons seen: {reasons:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !reasons.contains("ProvisioningRoleNotAssumable"),
        "a throttled AssumeRole was reported as a refusal: {reasons:?}"
    );
    assert_eq!(
        proxy.injected("assume_role_throttle"),
        THROTTLED,
        "every throttle was met"
    );
}

/// A bus of its own in account B per test, so parallel tests share no bus policy.
async fn bus_in_b(b: &Aws, ns: &str) -> String {
    let bus = format!("bus-{ns}");
    b.events.create_event_bus().name(&bus).send().await.unwrap();
    bus
}

async fn bus_policy(b: &Aws, bus: &str) -> String {
    b.events
        .describe_event_bus()
        .name(bus)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap_or_default()
        .to_string()
}

async fn rule_on(
    b: &Aws,
    bus: &str,
    name: &str,
) -> Option<aws_sdk_eventbridge::operation::describe_rule::DescribeRuleOutput> {
    use aws_sdk_eventbridge::operation::describe_rule::DescribeRuleError;
    // None only for NotFound: "the rule is gone" must not pass because the emulator is down.
    match b
        .events
        .describe_rule()
        .name(name)
        .event_bus_name(bus)
        .send()
        .await
    {
        Ok(rule) => Some(rule),
        Err(e) => match e.into_service_error() {
            DescribeRuleError::ResourceNotFoundException(_) => None,
            other => panic!("DescribeRule {bus}/{name}: {other:?}"),
        },
    }
}

fn forwarding(bus: &str) -> String {
    format!("    mode: EventBusForwarding\n    targetEventBusName: {bus}\n")
}

/// The id of the bus statement of the integration whose source rule (in A) is `rule`.
fn own_statement(rule: &str) -> String {
    ebi::plan::names::bus_statement_id(&format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn event_bus_forwarding_reaches_ecs_in_another_account() {
    let ns = namespace("x-fwd");
    let a = aws().await;
    let b = aws_in(B).await;
    let bus = bus_in_b(&b, &ns).await;
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let before = ctl.aws_calls();
    apply(&cross_yaml(
        &ns,
        "fwd",
        &ecs_target_in_b(),
        &forwarding(&bus),
    ));
    wait_condition(&api, "fwd", "Ready", "True", None).await;
    let (_, _, message) = wait_condition(&api, "fwd", "CrossAccountReady", "True", None).await;
    assert!(
        message.contains(&format!("event-bus/{bus}")) && message.contains(ACCOUNT),
        "{message}"
    );
    let converged = ctl.aws_calls();
    let reconciles = ctl.successful_reconciles();
    // The converging pass may be counted after this reading (a pass counts after its
    // status write): wait for two, so one resync at least falls in the window.
    wait_until("one resync", Duration::from_secs(20), || {
        ctl.successful_reconciles() >= reconciles + 2
    });
    let (total, writes, _) = calls_between(&before, &converged);
    let (resync, resync_writes, ops) = calls_between(&converged, &ctl.aws_calls());
    assert_eq!(
        resync_writes, 0,
        "an in-sync resync writes nothing in either account: {ops:?}"
    );
    println!("[figures] EventBusForwarding (ECS in another account): convergence {total} calls ({writes} writes, both accounts); in-sync resync {resync} calls, 0 writes");

    let name = derived(&ns, "fwd");
    let bus_arn = format!("arn:aws:events:{REGION}:{B}:event-bus/{bus}");
    // Account A: the source rule forwards to B's bus with a role that may only PutEvents there.
    let t = a
        .events
        .list_targets_by_rule()
        .rule(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(t.targets().len(), 1);
    assert_eq!(t.targets()[0].arn(), bus_arn);
    let forwarder = a
        .iam
        .get_role_policy()
        .role_name(&name)
        .policy_name("eventbridge-integration")
        .send()
        .await
        .unwrap();
    assert!(documents_equivalent(
        &json!(forwarder.policy_document()),
        &json!({"Statement": [{"Sid": "ForwardToTargetBus", "Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn}]})
    ));
    // Account B: the bus admits exactly A's forwarding role; a rule there runs the task with
    // B's roles.
    let policy: Value = serde_json::from_str(&bus_policy(&b, &bus).await).unwrap();
    let stmt = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == own_statement(&name))
        .expect("the bus statement of this integration");
    assert_eq!(
        stmt["Principal"]["AWS"],
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
    assert_eq!(
        stmt["Condition"]["ArnEquals"]["aws:PrincipalArn"],
        format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
        "only the forwarding role, not the whole account"
    );
    assert_eq!(stmt["Action"], "events:PutEvents");
    let rule_b = rule_on(&b, &bus, &name).await.expect("the rule on B's bus");
    assert!(rule_b
        .event_pattern()
        .unwrap()
        .contains("com.example.orders"));
    let tb = b
        .events
        .list_targets_by_rule()
        .rule(&name)
        .event_bus_name(&bus)
        .send()
        .await
        .unwrap();
    assert_eq!(tb.targets()[0].arn(), in_b(CLUSTER));
    let role_b = b
        .iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    assert_eq!(tb.targets()[0].role_arn(), Some(role_b.arn()));
    let trust = policy_doc(role_b.assume_role_policy_document().unwrap());
    let source_arn = &trust.statements[0]
        .conditions
        .iter()
        .find(|c| c.key == "aws:SourceArn")
        .unwrap()
        .values[0];
    assert_eq!(
        source_arn,
        &format!("arn:aws:events:{REGION}:{B}:rule/{bus}/{name}"),
        "B's role trusts only B's rule"
    );
    let work = policy_doc(b.inline_policy(&name).await.unwrap().as_str());
    let pass = work
        .statements
        .iter()
        .find(|s| s.sid.as_deref() == Some("PassTaskRoles"))
        .unwrap();
    assert_eq!(
        pass.resource.as_ref().unwrap().patterns,
        vec![in_b(EXECUTION_ROLE), in_b(TASK_ROLE)],
        "B's task roles, found in B"
    );
    let status = api.get("fwd").await.unwrap().status.unwrap();
    let ta = status.target_account.unwrap();
    assert_eq!(ta.account_id, B);
    assert_eq!(
        ta.rule_arn.as_deref(),
        Some(format!("arn:aws:events:{REGION}:{B}:rule/{bus}/{name}").as_str())
    );

    // Drift in the target account is corrected.
    b.iam
        .delete_role_policy()
        .role_name(&name)
        .policy_name("eventbridge-integration")
        .send()
        .await
        .unwrap();
    b.events
        .remove_permission()
        .event_bus_name(&bus)
        .statement_id(own_statement(&name))
        .send()
        .await
        .unwrap();
    b.events
        .disable_rule()
        .name(&name)
        .event_bus_name(&bus)
        .send()
        .await
        .unwrap();
    wait_until_async(
        "drift in account B to be corrected",
        Duration::from_secs(30),
        || async {
            let policy_back = b.inline_policy(&name).await.is_some();
            let bus_back = bus_policy(&b, &bus).await.contains(&own_statement(&name));
            let enabled = rule_on(&b, &bus, &name)
                .await
                .and_then(|r| r.state().map(|s| s.as_str().to_string()))
                == Some("ENABLED".into());
            policy_back && bus_back && enabled
        },
    )
    .await;

    // Deletion leaves nothing in either account.
    delete_and_wait(&ns, &["fwd"]);
    assert!(!a.rule_exists(&name).await, "A: rule gone");
    assert!(!a.role_exists(&name).await, "A: role gone");
    assert!(rule_on(&b, &bus, &name).await.is_none(), "B: rule gone");
    assert!(!b.role_exists(&name).await, "B: role gone");
    let left = bus_policy(&b, &bus).await;
    assert!(!left.contains("ebi-fwd-"), "B: bus statement gone: {left}");
}

/// Integrations forwarding from one account to one bus each have a statement of their own,
/// admitting their own forwarding role: they never evict each other, and each goes with its
/// integration.
#[tokio::test(flavor = "multi_thread")]
async fn integrations_on_one_bus_each_have_their_own_statement() {
    let ns = namespace("x-share");
    let b = aws_in(B).await;
    let bus = bus_in_b(&b, &ns).await;
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&cross_yaml(
        &ns,
        "one",
        &ecs_target_in_b(),
        &forwarding(&bus),
    ));
    apply(
        &cross_yaml(&ns, "two", &ecs_target_in_b(), &forwarding(&bus))
            .replace("com.example.orders", "com.example.refunds"),
    );
    wait_condition(&api, "one", "Ready", "True", None).await;
    wait_condition(&api, "two", "Ready", "True", None).await;
    let settled = ctl.aws_calls();
    let reconciles = ctl.successful_reconciles();
    // Two rounds: the converging passes may be counted after this reading.
    wait_until("a resync of both", Duration::from_secs(30), || {
        ctl.successful_reconciles() >= reconciles + 4
    });
    let (_, writes, ops) = calls_between(&settled, &ctl.aws_calls());
    assert_eq!(
        writes, 0,
        "two integrations on one bus do not fight over its policy: {ops:?}"
    );
    let (one, two) = (
        own_statement(&derived(&ns, "one")),
        own_statement(&derived(&ns, "two")),
    );
    let policy = bus_policy(&b, &bus).await;
    assert!(policy.contains(&one) && policy.contains(&two), "{policy}");
    delete_and_wait(&ns, &["one"]);
    let policy = bus_policy(&b, &bus).await;
    assert!(
        !policy.contains(&one) && policy.contains(&two),
        "one's statement went with it, two's stays: {policy}"
    );
    // "two" stays Ready through a resync after "one" is gone. Two passes: the cleanup pass
    // of "one" may be counted only after kubectl saw it gone.
    let passes = ctl.reconciles();
    wait_until("a resync of two", Duration::from_secs(20), || {
        ctl.reconciles() >= passes + 2
    });
    wait_condition(&api, "two", "Ready", "True", None).await;
    delete_and_wait(&ns, &["two"]);
    assert!(
        !bus_policy(&b, &bus).await.contains("ebi-fwd-"),
        "gone with the last integration"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_forwarders_deleted_at_once_leave_no_bus_statement() {
    let ns = namespace("x-together");
    let b = aws_in(B).await;
    let bus = bus_in_b(&b, &ns).await;
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&cross_yaml(
        &ns,
        "one",
        &ecs_target_in_b(),
        &forwarding(&bus),
    ));
    apply(
        &cross_yaml(&ns, "two", &ecs_target_in_b(), &forwarding(&bus))
            .replace("com.example.orders", "com.example.refunds"),
    );
    wait_condition(&api, "one", "Ready", "True", None).await;
    wait_condition(&api, "two", "Ready", "True", None).await;
    assert!(bus_policy(&b, &bus)
        .await
        .contains(&own_statement(&derived(&ns, "one"))));
    // Both clean-ups run side by side, each removing its own statement.
    delete_and_wait(&ns, &["one", "two"]);
    assert!(
        !bus_policy(&b, &bus).await.contains("ebi-fwd-"),
        "both statements go with two integrations deleted together"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn renaming_a_forwarding_rule_leaves_nothing_behind_in_either_account() {
    let ns = namespace("x-rename");
    let a = aws().await;
    let b = aws_in(B).await;
    let bus = bus_in_b(&b, &ns).await;
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let yaml = |rule: &str| {
        cross_yaml(&ns, "moved", &ecs_target_in_b(), &forwarding(&bus))
            .replace("  rule:\n", &format!("  rule:\n    name: {rule}\n"))
    };
    let first = format!("first-{ns}");
    let second = format!("second-{ns}");
    apply(&yaml(&first));
    wait_condition(&api, "moved", "Ready", "True", None).await;
    assert!(a.rule_exists(&first).await && rule_on(&b, &bus, &first).await.is_some());
    apply(&yaml(&second));
    wait_until_async(
        "the old rule to go from both accounts",
        Duration::from_secs(30),
        || async {
            !a.rule_exists(&first).await
                && rule_on(&b, &bus, &first).await.is_none()
                && rule_on(&b, &bus, &second).await.is_some()
        },
    )
    .await;
    wait_condition(&api, "moved", "Ready", "True", None).await;
    wait_until_async(
        "the old rule's statement to go",
        Duration::from_secs(30),
        || async {
            let policy = bus_policy(&b, &bus).await;
            policy.contains(&own_statement(&second)) && !policy.contains(&own_statement(&first))
        },
    )
    .await;
    delete_and_wait(&ns, &["moved"]);
    assert!(!bus_policy(&b, &bus).await.contains("ebi-fwd-"));
}

/// An older version wrote one statement per source account (`ebi-from-ACCOUNT`), admitting
/// the whole account. Once every forwarder from that account has its own statement, the
/// shared one is removed: a record naming it is migrated, not kept for ever.
#[tokio::test(flavor = "multi_thread")]
async fn the_shared_statement_of_older_versions_is_migrated_away() {
    let ns = namespace("x-legacy-bus");
    let b = aws_in(B).await;
    let bus = bus_in_b(&b, &ns).await;
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&cross_yaml(
        &ns,
        "old",
        &ecs_target_in_b(),
        &forwarding(&bus),
    ));
    wait_condition(&api, "old", "Ready", "True", None).await;
    // No pass may run while the record is edited: one in flight would write its own record
    // over the injected entry, and the shared statement would stay for ever (CI saw it).
    drop(ctl);
    // What the older version left: the shared statement, and its entry in the record.
    let legacy = format!("ebi-from-{ACCOUNT}");
    b.events
        .put_permission()
        .event_bus_name(&bus)
        .action("events:PutEvents")
        .principal(ACCOUNT)
        .statement_id(&legacy)
        .send()
        .await
        .unwrap();
    let mut status = api.get_status("old").await.unwrap().status.unwrap();
    let mut resources = status.resources.take().unwrap();
    let mut entry = resources
        .iter()
        .find(|r| r.kind == ebi::api::OwnedKind::BusPermission)
        .unwrap()
        .clone();
    entry.statement_id = Some(legacy.clone());
    entry.proof = Some(ACCOUNT.to_string());
    resources.push(entry);
    status.resources = Some(resources);
    api.patch_status(
        "old",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"status": status})),
    )
    .await
    .unwrap();
    // The same resync as `start`, appending to the first run's log.
    let _ctl = Controller::start_with_resync(&ns, "3s", &[], &[]);
    wait_until_async(
        "the shared statement to go",
        Duration::from_secs(30),
        || async {
            let policy = bus_policy(&b, &bus).await;
            !policy.contains(&legacy) && policy.contains(&own_statement(&derived(&ns, "old")))
        },
    )
    .await;
    delete_and_wait(&ns, &["old"]);
}

/// The record entry of the Lambda statement in account B.
async fn statement_entry(
    api: &kube::Api<ebi::api::EventBridgeIntegration>,
    name: &str,
) -> ebi::api::OwnedResource {
    api.get(name)
        .await
        .unwrap()
        .status
        .and_then(|s| s.resources)
        .unwrap_or_default()
        .into_iter()
        .find(|r| r.kind == ebi::api::OwnedKind::LambdaPermission)
        .expect("the statement is recorded")
}

/// The principals of the statements in B's function policy that are `name`'s rule's.
async fn chain_principals(b: &Aws, function: &str, rule: &str) -> Vec<String> {
    let text = b.function_policy(function).await;
    if text.is_empty() {
        return vec![];
    }
    policy_doc(&text)
        .statements
        .into_iter()
        .filter(|s| {
            s.sid
                .as_deref()
                .is_some_and(|sid| is_statement_of(sid, &statement_id(rule)))
        })
        .flat_map(|s| s.principal.map(|p| p.entries).unwrap_or_default())
        .map(|(_, v)| v)
        .collect()
}

/// RoleChain's statement in B is proven by the source role it admits: when that role is
/// renamed (here by the operator's `--role-name-prefix`; a Lambda spec names no role), the
/// statement is rewritten for the new one and the record's proof follows, so deletion still
/// finds the statement its own and removes it.
#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_role_chain_source_role_keeps_the_record_true() {
    let ns = namespace("x-chainrename");
    let mut ctl = Controller::start(&ns, &["--role-name-prefix", "ebi-first-"]);
    let api = kube_api(&ns).await;
    let function_b = in_b(FUNCTION);
    let target = format!("    lambda: {{functionArn: \"{function_b}\"}}\n");
    apply(&cross_yaml(&ns, "chain", &target, "    mode: RoleChain\n"));
    let role = |prefix: &str| {
        let name = ebi::plan::names::derived_name(prefix, &ns, "chain");
        format!("arn:aws:iam::{ACCOUNT}:role/{name}")
    };
    let (first, second) = (role("ebi-first-"), role("ebi-second-"));
    wait_condition(&api, "chain", "Ready", "True", None).await;
    let b = aws_in(B).await;
    let rule = derived(&ns, "chain");
    assert_eq!(
        chain_principals(&b, &function_b, &rule).await,
        vec![first.clone()]
    );
    assert_eq!(statement_entry(&api, "chain").await.proof, Some(first));

    ctl.kill();
    let _ctl = Controller::start(&ns, &["--role-name-prefix", "ebi-second-"]);
    wait_until_async(
        "the statement to admit the renamed source role",
        Duration::from_secs(60),
        || async { chain_principals(&b, &function_b, &rule).await == vec![second.clone()] },
    )
    .await;
    wait_until_async(
        "the record's proof to follow",
        Duration::from_secs(30),
        || async { statement_entry(&api, "chain").await.proof.as_deref() == Some(second.as_str()) },
    )
    .await;
    wait_condition(&api, "chain", "Ready", "True", None).await;

    delete_and_wait(&ns, &["chain"]);
    assert!(
        chain_principals(&b, &function_b, &rule).await.is_empty(),
        "the statement is removed with the object"
    );
}

/// The provisioning role is rotated (the old one may no longer be assumed): the record's way
/// in follows the live one, and clean-up and the orphan report get in through the new role.
#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_provisioning_role_is_the_way_in_for_clean_up_and_orphans() {
    let ns = namespace("x-rotate");
    let mut ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let function_b = in_b(FUNCTION);
    let target = format!("    lambda: {{functionArn: \"{function_b}\"}}\n");
    let yaml = cross_yaml(&ns, "rotated", &target, "    mode: RoleChain\n");
    apply(&yaml);
    wait_condition(&api, "rotated", "Ready", "True", None).await;
    ctl.kill();
    // From now on the old role cannot be assumed; its successor can.
    let rotated = format!("arn:aws:iam::{B}:role/ebi-provisioner-v2");
    let proxy = FaultProxy::start(&["role/eventbridge-integration-provisioner"]);
    let env = [("AWS_ENDPOINT_URL", proxy.endpoint.as_str())];
    apply(&yaml.replace(PROVISIONER, &rotated));
    let _ctl = Controller::start_with_env(&ns, &[], &env);
    wait_until_async(
        "the record to name the rotated role",
        Duration::from_secs(60),
        || async {
            statement_entry(&api, "rotated")
                .await
                .via_role_arn
                .as_deref()
                == Some(rotated.as_str())
        },
    )
    .await;
    wait_condition(&api, "rotated", "Ready", "True", None).await;
    // The place kept for the old role is reached through the new one.
    let report = orphan_report_with(&["--locations-namespace", &ns], &env);
    assert!(
        report["searched"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("{B}/{REGION}"))),
        "{report}"
    );
    delete_and_wait(&ns, &["rotated"]);
    let b = aws_in(B).await;
    let rule = derived(&ns, "rotated");
    assert!(chain_principals(&b, &function_b, &rule).await.is_empty());
    assert!(!b.role_exists(&rule).await, "B: chained role gone");
}

/// A queue `orders-NS` in account B whose policy lets B's own principals receive: its URL,
/// its ARN and that consumer's statement.
async fn queue_in_b_with_consumer(
    sqs_b: &aws_sdk_sqs::Client,
    ns: &str,
) -> (String, String, Value) {
    let queue_name = format!("orders-{ns}");
    let queue_url = sqs_b
        .create_queue()
        .queue_name(&queue_name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = format!("arn:aws:sqs:{REGION}:{B}:{queue_name}");
    let consumer = json!({"Sid": "Consumer", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{B}:root")}, "Action": "sqs:ReceiveMessage", "Resource": queue_arn});
    sqs_b
        .set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::Policy,
            json!({"Version": "2012-10-17", "Statement": [consumer]}).to_string(),
        )
        .send()
        .await
        .unwrap();
    (queue_url, queue_arn, consumer)
}

/// The statements of the queue's policy now.
async fn queue_statements(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    statements_of(Some(&queue_policy_text(sqs, url).await))
}

/// The statements of a queue's or topic's policy (an empty list when it has none).
fn statements_of(policy: Option<&str>) -> Vec<Value> {
    let Some(text) = policy.filter(|p| !p.is_empty()) else {
        return vec![];
    };
    match serde_json::from_str::<Value>(text).unwrap()["Statement"].clone() {
        Value::Array(list) => list,
        one => vec![one],
    }
}

/// EventBridge sends to an SQS queue and publishes to an SNS topic of another account of the
/// same region directly, with the rule account's execution role, which the queue's and the
/// topic's policies name: each gets one owned statement there (written through the
/// provisioning role, the others kept), restored when removed by hand, removed on delete.
#[tokio::test(flavor = "multi_thread")]
async fn direct_delivery_reaches_a_queue_and_a_topic_in_another_account() {
    let ns = namespace("x-direct-qt");
    let config_b = sdk_config_in(B).await;
    let sqs_b = aws_sdk_sqs::Client::new(&config_b);
    let sns_b = aws_sdk_sns::Client::new(&config_b);
    let (queue_url, queue_arn, consumer) = queue_in_b_with_consumer(&sqs_b, &ns).await;
    let topic_arn = sns_b
        .create_topic()
        .name(format!("notices-{ns}"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    // The same resync as `start`, appending to the first run's log.
    let _ctl = Controller::start_with_resync(&ns, "3s", &[], &[]);
    let api = kube_api(&ns).await;
    apply(&cross_yaml(
        &ns,
        "to-queue",
        &format!("    sqs: {{queueArn: \"{queue_arn}\"}}\n"),
        "    mode: DirectDelivery\n",
    ));
    apply(&cross_yaml(
        &ns,
        "to-topic",
        &format!("    sns: {{topicArn: \"{topic_arn}\"}}\n"),
        // No mode: a topic of another account is delivered to directly by default.
        "",
    ));
    wait_condition(&api, "to-queue", "Ready", "True", None).await;
    wait_condition(&api, "to-topic", "Ready", "True", None).await;
    let a = aws().await;
    let queue_policy = || queue_statements(&sqs_b, &queue_url);
    let topic_policy = || async {
        let out = sns_b
            .get_topic_attributes()
            .topic_arn(&topic_arn)
            .send()
            .await
            .unwrap();
        statements_of(
            out.attributes()
                .and_then(|m| m.get("Policy"))
                .map(String::as_str),
        )
    };
    for (object, resource, action, policy) in [
        (
            "to-queue",
            queue_arn.clone(),
            "sqs:SendMessage",
            queue_policy().await,
        ),
        (
            "to-topic",
            topic_arn.clone(),
            "sns:Publish",
            topic_policy().await,
        ),
    ] {
        let name = derived(&ns, object);
        let role = execution_role_of(&a, &name, action, &resource).await;
        let ours: Vec<&Value> = policy
            .iter()
            .filter(|s| {
                s["Principal"]["AWS"] == json!(role) || s["Principal"] == json!({"AWS": [role]})
            })
            .collect();
        assert_eq!(
            ours.len(),
            1,
            "{object}: one statement for the role: {policy:?}"
        );
        assert_eq!(ours[0]["Action"], json!(action));
        assert!(!b_role_of(&name).await, "{object}: no role in B");
    }
    assert!(
        queue_policy().await.contains(&consumer),
        "the consumer's statement is kept verbatim"
    );

    // Our queue statement removed by hand is put back; the consumer's stays.
    sqs_b
        .set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::Policy,
            json!({"Version": "2012-10-17", "Statement": [consumer]}).to_string(),
        )
        .send()
        .await
        .unwrap();
    wait_until_async(
        "the queue statement to be restored",
        Duration::from_secs(30),
        || async { queue_policy().await.len() == 2 },
    )
    .await;

    delete_and_wait(&ns, &["to-queue", "to-topic"]);
    assert_eq!(
        queue_policy().await,
        vec![consumer],
        "only the consumer's statement is left"
    );
    let role_statements = topic_policy()
        .await
        .into_iter()
        .filter(|s| {
            s["Principal"]
                .get("AWS")
                .is_some_and(|p| p.to_string().contains(&ns))
        })
        .count();
    assert_eq!(role_statements, 0, "the topic statement is removed");
}

/// `spec.targets` across accounts: a queue and a topic of B on one rule, delivered directly
/// (the default for both). One execution role here may send to the one and publish to the
/// other; each policy there names it once. The topic leaves the list: its target, its
/// statement there and the role's statement go; the queue's stay.
#[tokio::test(flavor = "multi_thread")]
async fn a_list_delivered_directly_to_another_account_and_one_entry_removed() {
    let ns = namespace("x-direct-list");
    let config_b = sdk_config_in(B).await;
    let sqs_b = aws_sdk_sqs::Client::new(&config_b);
    let sns_b = aws_sdk_sns::Client::new(&config_b);
    let (queue_url, queue_arn, consumer) = queue_in_b_with_consumer(&sqs_b, &ns).await;
    let topic_arn = sns_b
        .create_topic()
        .name(format!("notices-{ns}"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let queue_entry = format!("  - id: queue\n    sqs: {{queueArn: \"{queue_arn}\"}}\n");
    let topic_entry = format!("  - id: notices\n    sns: {{topicArn: \"{topic_arn}\"}}\n");
    let yaml = |entries: &[&str]| {
        format!(
            "apiVersion: eventbridge.dev/v1alpha1\nkind: EventBridgeIntegration\nmetadata: {{name: fan, namespace: {ns}}}\nspec:\n  rule: {{eventPattern: {{source: [com.example.orders]}}}}\n  crossAccount: {{targetAccountId: \"{B}\", provisioningRoleArn: \"{PROVISIONER}\"}}\n  targets:\n{}",
            entries.concat()
        )
    };
    apply(&yaml(&[&queue_entry, &topic_entry]));
    wait_condition(&api, "fan", "Ready", "True", Some("Converged")).await;
    let a = aws().await;
    let name = derived(&ns, "fan");
    let role = a
        .iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    let granted = || async {
        let doc = policy_doc(&a.inline_policy(&name).await.unwrap());
        let mut pairs: Vec<(String, String)> = doc
            .statements
            .iter()
            .map(|s| {
                (
                    s.action.patterns.join(","),
                    s.resource.clone().unwrap().patterns.join(","),
                )
            })
            .collect();
        pairs.sort();
        pairs
    };
    assert_eq!(
        granted().await,
        [
            ("sns:Publish".to_string(), topic_arn.clone()),
            ("sqs:SendMessage".to_string(), queue_arn.clone())
        ]
    );
    let targets = || async {
        let out = a
            .events
            .list_targets_by_rule()
            .rule(&name)
            .send()
            .await
            .unwrap();
        let mut found: Vec<(String, String, String)> = out
            .targets()
            .iter()
            .map(|t| {
                let role = t.role_arn().unwrap_or_default().to_string();
                (t.id().to_string(), t.arn().to_string(), role)
            })
            .collect();
        found.sort();
        found
    };
    assert_eq!(
        targets().await,
        [
            ("notices".to_string(), topic_arn.clone(), role.clone()),
            ("queue".to_string(), queue_arn.clone(), role.clone())
        ]
    );
    let naming_role = |statements: Vec<Value>| {
        statements
            .into_iter()
            .filter(|s| s.to_string().contains(&role))
            .count()
    };
    let topic_statements = || async {
        let out = sns_b
            .get_topic_attributes()
            .topic_arn(&topic_arn)
            .send()
            .await
            .unwrap();
        statements_of(
            out.attributes()
                .and_then(|m| m.get("Policy"))
                .map(String::as_str),
        )
    };
    assert_eq!(naming_role(queue_statements(&sqs_b, &queue_url).await), 1);
    assert_eq!(naming_role(topic_statements().await), 1);
    assert!(!b_role_of(&name).await, "no role in B");

    // The topic leaves the list.
    apply(&yaml(&[&queue_entry]));
    wait_until_async(
        "the topic's statement to go",
        Duration::from_secs(60),
        || async { naming_role(topic_statements().await) == 0 },
    )
    .await;
    wait_until_async(
        "the topic to leave the rule and the role",
        Duration::from_secs(30),
        || async { targets().await.len() == 1 && granted().await.len() == 1 },
    )
    .await;
    assert_eq!(targets().await[0].0, "queue");
    assert_eq!(
        granted().await,
        [("sqs:SendMessage".to_string(), queue_arn.clone())]
    );
    assert_eq!(naming_role(queue_statements(&sqs_b, &queue_url).await), 1);

    delete_and_wait(&ns, &["fan"]);
    assert_eq!(
        queue_statements(&sqs_b, &queue_url).await,
        vec![consumer],
        "only the consumer's statement is left"
    );
}

/// `spec.targets` bus to bus: an ECS task and a state machine of B on one rule (both forwarded
/// by default). Here one forwarding rule with one target, B's bus; there one rule with both
/// targets and one role holding what each needs. The state machine leaves the list: its
/// target and statement go there, the forwarding stays.
#[tokio::test(flavor = "multi_thread")]
async fn a_list_forwarded_to_another_accounts_bus_and_one_entry_removed() {
    let ns = namespace("x-fwd-list");
    let a = aws().await;
    let b = aws_in(B).await;
    let bus = bus_in_b(&b, &ns).await;
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    let task_entry = format!("  - id: worker\n{}", ecs_target_in_b());
    let pipeline_entry = format!(
        "  - id: pipeline\n    stepFunctions: {{stateMachineArn: \"{}\"}}\n",
        in_b(STATE_MACHINE)
    );
    let yaml = |entries: &[&str]| {
        format!(
            "apiVersion: eventbridge.dev/v1alpha1\nkind: EventBridgeIntegration\nmetadata: {{name: fan, namespace: {ns}}}\nspec:\n  rule: {{eventPattern: {{source: [com.example.orders]}}}}\n  crossAccount: {{targetAccountId: \"{B}\", provisioningRoleArn: \"{PROVISIONER}\", targetEventBusName: {bus}}}\n  targets:\n{}",
            entries.concat()
        )
    };
    apply(&yaml(&[&task_entry, &pipeline_entry]));
    wait_condition(&api, "fan", "Ready", "True", Some("Converged")).await;
    let name = derived(&ns, "fan");
    let bus_arn = format!("arn:aws:events:{REGION}:{B}:event-bus/{bus}");
    // A: one forwarding target, and a role that only forwards.
    let here = a
        .events
        .list_targets_by_rule()
        .rule(&name)
        .send()
        .await
        .unwrap();
    let here: Vec<(&str, &str)> = here.targets().iter().map(|t| (t.id(), t.arn())).collect();
    assert_eq!(here, [("to-target-account", bus_arn.as_str())]);
    let actions = |policy: String| {
        let mut found: Vec<String> = policy_doc(&policy)
            .statements
            .iter()
            .flat_map(|s| s.action.patterns.clone())
            .collect();
        found.sort();
        found
    };
    assert_eq!(
        actions(a.inline_policy(&name).await.unwrap()),
        ["events:PutEvents"]
    );
    // B: one rule on the bus with both targets, one role running the task, passing its
    // roles and starting the state machine; the bus admits the forwarding role.
    let there = || async {
        let out = b
            .events
            .list_targets_by_rule()
            .rule(&name)
            .event_bus_name(&bus)
            .send()
            .await
            .unwrap();
        let mut ids: Vec<String> = out.targets().iter().map(|t| t.id().to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(there().await, ["pipeline", "worker"]);
    let b_actions = || async { actions(b.inline_policy(&name).await.unwrap()) };
    assert_eq!(
        b_actions().await,
        ["ecs:RunTask", "iam:PassRole", "states:StartExecution"]
    );
    assert!(bus_policy(&b, &bus).await.contains(&own_statement(&name)));

    // The state machine leaves the list.
    apply(&yaml(&[&task_entry]));
    wait_until_async(
        "the state machine to leave B's rule and role",
        Duration::from_secs(60),
        || async {
            there().await == ["worker"]
                && !b_actions()
                    .await
                    .contains(&"states:StartExecution".to_string())
        },
    )
    .await;
    assert_eq!(
        actions(a.inline_policy(&name).await.unwrap()),
        ["events:PutEvents"],
        "the forwarding is unchanged"
    );

    delete_and_wait(&ns, &["fan"]);
    assert!(
        rule_on(&b, &bus, &name).await.is_none(),
        "B's rule is removed"
    );
    assert!(!bus_policy(&b, &bus).await.contains(&own_statement(&name)));
    assert!(!a.rule_exists(&name).await);
}

/// The execution role of the rule `name` (both named `name`): it may `action` on exactly
/// `resource`, and the rule targets `resource` with it. Its ARN.
async fn execution_role_of(a: &Aws, name: &str, action: &str, resource: &str) -> String {
    let role = a
        .iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let inline = a.inline_policy(name).await.unwrap();
    let p = policy_doc(&inline);
    assert_eq!(
        (
            p.statements.len(),
            p.statements[0].action.patterns.clone(),
            p.statements[0].resource.clone().unwrap().patterns
        ),
        (1, vec![action.to_string()], vec![resource.to_string()]),
        "{name}: the execution role may {action} on exactly the target: {inline}"
    );
    let t = a
        .events
        .list_targets_by_rule()
        .rule(name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (t.targets()[0].arn(), t.targets()[0].role_arn()),
        (resource, Some(role.arn())),
        "{name}: the rule targets the resource in B with the execution role"
    );
    role.arn().to_string()
}

async fn b_role_of(name: &str) -> bool {
    aws_in(B).await.role_exists(name).await
}

/// EventBridge puts records to a Kinesis stream of another account of the same region
/// directly (no mode given: the default for a stream), with the rule account's execution
/// role, which the stream's resource policy names: one owned statement beside a foreign one,
/// restored when removed by hand, removed on delete; a policy left with no statement is
/// deleted (a stream takes no empty policy).
#[tokio::test(flavor = "multi_thread")]
async fn direct_delivery_puts_to_a_stream_in_another_account() {
    let ns = namespace("x-direct-kin");
    let kinesis_b = aws_sdk_kinesis::Client::new(&sdk_config_in(B).await);
    let mut streams = vec![];
    for name in [format!("clicks-{ns}"), format!("bare-{ns}")] {
        kinesis_b
            .create_stream()
            .stream_name(&name)
            .shard_count(1)
            .send()
            .await
            .unwrap();
        streams.push(format!("arn:aws:kinesis:{REGION}:{B}:stream/{name}"));
    }
    let (stream_arn, bare_arn) = (streams[0].clone(), streams[1].clone());
    let reader = json!({"Sid": "Analytics", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{B}:root")}, "Action": "kinesis:GetRecords", "Resource": stream_arn});
    let put_policy = |statements: Vec<Value>| {
        kinesis_b
            .put_resource_policy()
            .resource_arn(&stream_arn)
            .policy(json!({"Version": "2012-10-17", "Statement": statements}).to_string())
            .send()
    };
    put_policy(vec![reader.clone()]).await.unwrap();
    let policy_of = |arn: String| {
        let kinesis_b = kinesis_b.clone();
        async move {
            let out = kinesis_b
                .get_resource_policy()
                .resource_arn(&arn)
                .send()
                .await
                .unwrap();
            statements_of(Some(out.policy()).filter(|p| *p != "{}"))
        }
    };
    let yaml = |object: &str, arn: &str| {
        cross_yaml(
            &ns,
            object,
            &format!("    kinesis: {{streamArn: \"{arn}\", partitionKeyPath: \"$.detail.id\"}}\n"),
            "",
        )
    };
    let resync = converge_and_count(
        "Kinesis stream of another account",
        &ns,
        "to-stream",
        yaml("to-stream", &stream_arn),
    )
    .await;
    // In sync, the stream's policy is read once: Kinesis has no bulk read of resource
    // policies, so this kind costs one call per integration beyond the shared reads.
    assert_eq!(resync.get("GetResourcePolicy"), Some(&1), "{resync:?}");
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&yaml("to-bare", &bare_arn));
    wait_condition(&api, "to-stream", "Ready", "True", None).await;
    wait_condition(&api, "to-bare", "Ready", "True", None).await;
    let a = aws().await;
    let name = derived(&ns, "to-stream");
    let role = execution_role_of(&a, &name, "kinesis:PutRecord", &stream_arn).await;
    let ours = |policy: &[Value]| -> Vec<Value> {
        policy
            .iter()
            .filter(|s| s["Principal"]["AWS"] == json!(role))
            .cloned()
            .collect()
    };
    let policy = policy_of(stream_arn.clone()).await;
    assert_eq!(ours(&policy).len(), 1, "{policy:?}");
    assert_eq!(ours(&policy)[0]["Action"], json!("kinesis:PutRecord"));
    assert!(policy.contains(&reader), "the reader's statement is kept");
    assert!(!b_role_of(&name).await, "no role in B");

    // Removed by hand, our statement is put back; the reader's stays.
    put_policy(vec![reader.clone()]).await.unwrap();
    wait_until_async(
        "the stream statement to be restored",
        Duration::from_secs(30),
        || async { policy_of(stream_arn.clone()).await.len() == 2 },
    )
    .await;

    delete_and_wait(&ns, &["to-stream", "to-bare"]);
    assert_eq!(
        policy_of(stream_arn.clone()).await,
        vec![reader],
        "only the reader's statement is left"
    );
    let bare = kinesis_b
        .get_resource_policy()
        .resource_arn(&bare_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        bare.policy(),
        "{}",
        "the policy that held only our statement is deleted, not left empty"
    );
}

/// A REST API of account B with a POST /orders method on a deployed stage `prod`, and a
/// foreign statement in its resource policy; its ID and that statement.
async fn rest_api_in_b(apigw_b: &aws_sdk_apigateway::Client, ns: &str) -> (String, Value) {
    let api = apigw_b
        .create_rest_api()
        .name(format!("orders-{ns}"))
        .send()
        .await
        .unwrap();
    let id = api.id().unwrap().to_string();
    let resources = apigw_b
        .get_resources()
        .rest_api_id(&id)
        .send()
        .await
        .unwrap();
    let root = resources.items()[0].id().unwrap().to_string();
    let orders = apigw_b
        .create_resource()
        .rest_api_id(&id)
        .parent_id(&root)
        .path_part("orders")
        .send()
        .await
        .unwrap();
    let resource = orders.id().unwrap();
    apigw_b
        .put_method()
        .rest_api_id(&id)
        .resource_id(resource)
        .http_method("POST")
        .authorization_type("AWS_IAM")
        .send()
        .await
        .unwrap();
    apigw_b
        .put_integration()
        .rest_api_id(&id)
        .resource_id(resource)
        .http_method("POST")
        .r#type(aws_sdk_apigateway::types::IntegrationType::Mock)
        .send()
        .await
        .unwrap();
    let partners = json!({"Sid": "Partners", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{B}:root")}, "Action": "execute-api:Invoke",
        "Resource": format!("arn:aws:execute-api:{REGION}:{B}:{id}/*/GET/orders")});
    set_rest_api_policy(apigw_b, &id, vec![partners.clone()]).await;
    deploy_stage(apigw_b, &id).await;
    (id, partners)
}

async fn set_rest_api_policy(
    apigw_b: &aws_sdk_apigateway::Client,
    id: &str,
    statements: Vec<Value>,
) {
    let policy = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    set_raw_rest_api_policy(apigw_b, id, &policy).await;
}

async fn set_raw_rest_api_policy(apigw_b: &aws_sdk_apigateway::Client, id: &str, policy: &str) {
    apigw_b
        .update_rest_api()
        .rest_api_id(id)
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/policy")
                .value(policy)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// The statements of a REST API's resource policy in B (none without a policy).
async fn rest_api_statements(apigw_b: &aws_sdk_apigateway::Client, id: &str) -> Vec<Value> {
    let api = apigw_b.get_rest_api().rest_api_id(id).send().await.unwrap();
    statements_of(api.policy().filter(|p| !p.is_empty()))
}

async fn deploy_stage(apigw_b: &aws_sdk_apigateway::Client, id: &str) {
    apigw_b
        .create_deployment()
        .rest_api_id(id)
        .stage_name("prod")
        .send()
        .await
        .unwrap();
}

/// The codes of an object's findings.
async fn finding_codes(
    api: &kube::Api<ebi::api::EventBridgeIntegration>,
    name: &str,
) -> Vec<ebi::diagnose::Code> {
    let obj = api.get(name).await.unwrap();
    obj.status
        .map(|s| s.findings.iter().map(|f| f.code).collect())
        .unwrap_or_default()
}

/// EventBridge calls a method of a REST API of another account of the same region directly
/// (no mode given: the default for a REST API), with the rule account's execution role,
/// which the API's resource policy names for exactly that method: one owned statement beside
/// a foreign one, restored when removed by hand, removed on delete. The controller never
/// deploys the stage: until someone does, a finding names the command, and it clears once
/// the stage's deployment is newer than the controller's write.
#[tokio::test(flavor = "multi_thread")]
async fn direct_delivery_calls_a_rest_api_in_another_account() {
    let ns = namespace("x-direct-apigw");
    let apigw_b = aws_sdk_apigateway::Client::new(&sdk_config_in(B).await);
    let (id, partners) = rest_api_in_b(&apigw_b, &ns).await;
    let method_arn = format!("arn:aws:execute-api:{REGION}:{B}:{id}/prod/POST/orders");
    let policy_of = || rest_api_statements(&apigw_b, &id);
    let stage_finding = |api: kube::Api<ebi::api::EventBridgeIntegration>| async move {
        finding_codes(&api, "to-api")
            .await
            .contains(&ebi::diagnose::Code::ApiGatewayStageNotDeployed)
    };
    let yaml = format!(
        "    apiGateway: {{restApiArn: \"arn:aws:apigateway:{REGION}::/restapis/{id}\", stage: prod, method: POST, path: /orders}}\n"
    );
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&cross_yaml(&ns, "to-api", &yaml, ""));
    // The stage was deployed before the controller wrote the policy: not in effect yet, so
    // the rule's calls would be refused.
    wait_condition(
        &api,
        "to-api",
        "Ready",
        "False",
        Some("ApiGatewayStageNotDeployed"),
    )
    .await;
    let a = aws().await;
    let name = derived(&ns, "to-api");
    let role = execution_role_of(&a, &name, "execute-api:Invoke", &method_arn).await;
    let policy = policy_of().await;
    let ours: Vec<&Value> = policy
        .iter()
        .filter(|s| s["Principal"]["AWS"] == json!(role))
        .collect();
    assert_eq!(ours.len(), 1, "{policy:?}");
    assert_eq!(
        (&ours[0]["Action"], &ours[0]["Resource"]),
        (&json!("execute-api:Invoke"), &json!(method_arn)),
        "exactly the method the rule calls"
    );
    assert!(
        policy.contains(&partners),
        "the partners' statement is kept"
    );
    assert!(!b_role_of(&name).await, "no role in B");
    let status = api.get("to-api").await.unwrap().status.unwrap();
    let stage = status
        .findings
        .iter()
        .find(|f| f.code == ebi::diagnose::Code::ApiGatewayStageNotDeployed)
        .expect("a finding that the stage serves the old policy");
    assert!(
        stage.remediation.contains(&format!(
            "aws apigateway create-deployment --rest-api-id {id} --stage-name prod"
        )),
        "{}",
        stage.remediation
    );
    let record = status.resources.unwrap_or_default();
    assert!(
        record
            .iter()
            .any(|r| r.arn == method_arn && r.policy_written_at.is_some()),
        "the record keeps when the policy was written: {record:?}"
    );

    // Deployed by its owner: the finding clears, and stays cleared while in sync. (A
    // deployment of the write's own second may predate it and does not count.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    deploy_stage(&apigw_b, &id).await;
    wait_condition(&api, "to-api", "Ready", "True", Some("Converged")).await;
    // In sync, the API's policy and its stage are read (API Gateway has no bulk read of
    // either); the deployment the stage serves, which never changes, is not read again.
    let resync = count_an_in_sync_resync(&ctl, "API Gateway REST API of another account");
    assert_eq!(resync.get("GetRestApi"), Some(&1), "{resync:?}");
    assert_eq!(resync.get("GetStage"), Some(&1), "{resync:?}");
    assert_eq!(resync.get("GetDeployment"), None, "{resync:?}");
    assert!(!stage_finding(api.clone()).await);

    // Removed by hand, our statement is put back, and the stage needs deploying again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    set_rest_api_policy(&apigw_b, &id, vec![partners.clone()]).await;
    wait_until_async(
        "the REST API statement to be restored",
        Duration::from_secs(30),
        || async { policy_of().await.len() == 2 },
    )
    .await;
    wait_until_async(
        "the stage finding to return",
        Duration::from_secs(30),
        || stage_finding(api.clone()),
    )
    .await;

    // A policy that is not JSON is never rewritten: as ours alone it would lose every
    // statement of its owner. The object says why it is stuck.
    set_raw_rest_api_policy(&apigw_b, &id, "{not json").await;
    let (_, _, message) =
        wait_condition(&api, "to-api", "Stalled", "True", Some("PolicyUnreadable")).await;
    assert!(message.contains("not JSON"), "{message}");
    let raw = apigw_b
        .get_rest_api()
        .rest_api_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        raw.policy(),
        Some("{not json"),
        "left as its owner wrote it"
    );
    set_rest_api_policy(&apigw_b, &id, vec![partners.clone()]).await;

    delete_and_wait(&ns, &["to-api"]);
    assert_eq!(
        policy_of().await,
        vec![partners],
        "only the partners' statement is left"
    );
}

/// Two methods of one REST API of B on one rule (`spec.targets`): two statements of the one
/// policy, each naming the execution role and its own method, written under one lock per
/// API; each target has its own stage finding until the stage is deployed. The GET entry
/// leaves the list: its statement goes, the POST one and the partners' stay.
#[tokio::test(flavor = "multi_thread")]
async fn two_methods_of_one_rest_api_share_its_policy_and_one_leaves() {
    let ns = namespace("x-apigw-list");
    let apigw_b = aws_sdk_apigateway::Client::new(&sdk_config_in(B).await);
    let (id, partners) = rest_api_in_b(&apigw_b, &ns).await;
    let method = |verb: &str| format!("arn:aws:execute-api:{REGION}:{B}:{id}/prod/{verb}/orders");
    let entry = |verb: &str| {
        format!(
            "  - id: {}\n    apiGateway: {{restApiArn: \"arn:aws:apigateway:{REGION}::/restapis/{id}\", stage: prod, method: {verb}, path: /orders}}\n",
            verb.to_lowercase()
        )
    };
    let yaml = |entries: &[String]| {
        format!(
            "apiVersion: eventbridge.dev/v1alpha1\nkind: EventBridgeIntegration\nmetadata: {{name: api-fan, namespace: {ns}}}\nspec:\n  rule: {{eventPattern: {{source: [com.example.orders]}}}}\n  crossAccount: {{targetAccountId: \"{B}\", provisioningRoleArn: \"{PROVISIONER}\"}}\n  targets:\n{}",
            entries.concat()
        )
    };
    let ours = || {
        let apigw_b = apigw_b.clone();
        let id = id.clone();
        let partners = partners.clone();
        async move {
            let policy = rest_api_statements(&apigw_b, &id).await;
            let mut methods: Vec<String> = policy
                .iter()
                .filter(|s| {
                    s["Action"] == json!("execute-api:Invoke") && s["Sid"] != json!("Partners")
                })
                .map(|s| s["Resource"].as_str().unwrap_or_default().to_string())
                .collect();
            methods.sort();
            (methods, policy.contains(&partners))
        }
    };
    let _ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&yaml(&[entry("POST"), entry("GET")]));
    wait_condition(
        &api,
        "api-fan",
        "Ready",
        "False",
        Some("ApiGatewayStageNotDeployed"),
    )
    .await;
    assert_eq!(ours().await, (vec![method("GET"), method("POST")], true));
    let status = api.get("api-fan").await.unwrap().status.unwrap();
    let mut stale: Vec<Option<String>> = status
        .findings
        .iter()
        .filter(|f| f.code == ebi::diagnose::Code::ApiGatewayStageNotDeployed)
        .map(|f| f.target_id.clone())
        .collect();
    stale.sort();
    assert_eq!(stale, [Some("get".to_string()), Some("post".to_string())]);

    apply(&yaml(&[entry("POST")]));
    wait_until_async(
        "the GET statement to go",
        Duration::from_secs(45),
        || async { ours().await == (vec![method("POST")], true) },
    )
    .await;
    delete_and_wait(&ns, &["api-fan"]);
    assert_eq!(
        ours().await,
        (vec![], true),
        "only the partners' statement is left"
    );
}

/// An object that delivered directly to a queue of another account lost its clean-up (its
/// finalizer removed by hand): the orphan report finds, with its rule and role, the statement
/// the queue's policy holds in the other account (it names the role, not the rule), and
/// `--delete` removes it there, keeping the consumer's statement.
#[tokio::test(flavor = "multi_thread")]
async fn the_orphan_report_finds_a_direct_grant_in_the_other_account() {
    let ns = namespace("x-orphan-direct");
    let sqs_b = aws_sdk_sqs::Client::new(&sdk_config_in(B).await);
    let (queue_url, queue_arn, consumer) = queue_in_b_with_consumer(&sqs_b, &ns).await;
    let queue_policy = || queue_statements(&sqs_b, &queue_url);
    let ctl = Controller::start(&ns, &[]);
    let api = kube_api(&ns).await;
    apply(&cross_yaml(
        &ns,
        "gone",
        &format!("    sqs: {{queueArn: \"{queue_arn}\"}}\n"),
        "",
    ));
    wait_condition(&api, "gone", "Ready", "True", None).await;
    assert_eq!(queue_policy().await.len(), 2);
    drop(ctl);
    kubectl(
        &[
            "patch",
            "ebi",
            "gone",
            "-n",
            &ns,
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
        None,
    );
    delete_and_wait(&ns, &["gone"]);

    let grace = [("EBI_ORPHAN_GRACE_PERIOD", "0s")];
    let args = [
        "--namespace",
        ns.as_str(),
        "--locations-namespace",
        ns.as_str(),
    ];
    let ours = |report: &Value| -> Vec<(String, String)> {
        report["orphans"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["owner"] == format!("{ns}/gone"))
            .map(|o| {
                (
                    o["kind"].as_str().unwrap().to_string(),
                    o["accountId"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let found = orphan_report_with(&args, &grace);
    let account_a = ACCOUNT.to_string();
    assert_eq!(
        ours(&found),
        vec![
            ("Rule".to_string(), account_a.clone()),
            ("QueuePermission".to_string(), B.to_string()),
            ("Role".to_string(), account_a),
        ],
        "{found}"
    );
    assert_eq!(queue_policy().await.len(), 2, "read-only by default");
    let mut delete = args.to_vec();
    delete.push("--delete");
    let removed = orphan_report_with(&delete, &grace);
    assert!(
        removed["orphans"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["owner"] == format!("{ns}/gone"))
            .all(|o| o["removal"] == "removed"),
        "{removed}"
    );
    assert_eq!(
        queue_policy().await,
        vec![consumer],
        "our statement in B is gone, the consumer's kept"
    );
}
