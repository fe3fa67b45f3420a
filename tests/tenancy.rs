//! Tenancy end to end (`--policy-mode enforce`, the default): an integration is acted on only
//! when an EventBridgeIntegrationPolicy that selects its namespace grants every reference in
//! it. Each test labels its own namespace and writes a policy selecting only that label
//! (policies are cluster-scoped, and the tests run side by side).

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

use std::time::{Duration, Instant};

use ebi::iam::{documents_equivalent, PolicyDocument};
use serde_json::json;

use support::*;

const LABEL: &str = "ebi-test-tenant";

/// A namespace of its own, labelled for its policy.
fn tenant(name: &str) -> String {
    let ns = namespace(name);
    label(&ns, &ns);
    ns
}

fn label(ns: &str, value: &str) {
    let (ok, out) = kubectl(
        &[
            "label",
            "namespace",
            ns,
            &format!("{LABEL}={value}"),
            "--overwrite",
        ],
        None,
    );
    assert!(ok, "{out}");
}

/// A cluster-scoped policy, deleted when dropped.
struct Policy(String);

impl Policy {
    fn apply(name: &str, selects: &str, grants: &str) -> Policy {
        support::apply(&format!(
            r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegrationPolicy
metadata: {{name: {name}}}
spec:
  namespaceSelector: {{matchLabels: {{{LABEL}: {selects}}}}}
{grants}"#
        ));
        Policy(name.to_string())
    }
}

impl Drop for Policy {
    fn drop(&mut self) {
        kubectl(
            &[
                "delete",
                "ebipolicy",
                &self.0,
                "--ignore-not-found",
                "--wait=false",
            ],
            None,
        );
    }
}

/// What the team of these tests may use: the seeded workloads of the controller's account,
/// names starting with `team-`, and the other account through the provisioning role.
fn team_grants() -> String {
    format!(
        r#"  accounts:
  - accountId: "{ACCOUNT}"
    regions: [{REGION}]
  - accountId: "{OTHER_ACCOUNT}"
    provisioningRoleArn: {PROVISIONER}
  eventBuses: [default]
  scheduleGroups: [default]
  ruleNames: ["team-*"]
  targets:
  - "arn:aws:lambda:*:{ACCOUNT}:function:order-notifier*"
  - "arn:aws:lambda:*:{OTHER_ACCOUNT}:function:order-notifier*"
  - "arn:aws:apigateway:*::/restapis/0rders*"
  - {CLUSTER}
  - "arn:aws:ecs:*:{ACCOUNT}:task-definition/orders-worker:*"
  - {STATE_MACHINE}
  passRoles: [{EXECUTION_ROLE}, {TASK_ROLE}]
  roles: ["arn:aws:iam::{ACCOUNT}:role/team-*"]
  deadLetterQueues: ["arn:aws:sqs:{REGION}:{ACCOUNT}:team-*"]
"#
    )
}

fn enforcing(ns: &str, resync: &str) -> Controller {
    Controller::start_with_resync(
        ns,
        resync,
        &["--policy-mode", "enforce", "--secrets-namespace", ns],
        &[],
    )
}

fn object(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: eventbridge.dev/v1alpha1\nkind: EventBridgeIntegration\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}"
    )
}

/// Waits for a condition and says how long it took (for "within seconds" claims).
async fn wait_within(
    api: &kube::Api<ebi::api::EventBridgeIntegration>,
    name: &str,
    type_: &str,
    status: &str,
    reason: Option<&str>,
    limit: Duration,
) -> (Duration, String) {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < limit {
        last = condition(api, name, type_).await;
        if let Some((s, r, m)) = &last {
            if s == status && reason.is_none_or(|want| want == r) {
                return (start.elapsed(), m.clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name}: {type_} did not become {status} {reason:?} within {limit:?}; last: {last:?}");
}

/// One refused reference: the object is Stalled with reason NotPermitted, the message names
/// the field, the value and the policy, and the controller made no AWS call for it (no read,
/// no AssumeRole, no write), neither on its first pass nor on the resyncs after.
async fn refused(case: &str, spec: &str, field: &str, value: &str) {
    let ns = tenant(case);
    let policy = Policy::apply(&ns, &ns, &team_grants());
    let ctl = enforcing(&ns, "2s");
    // The one call it makes for itself at start-up: its own identity (GetCallerIdentity).
    wait_until(
        "the controller's own identity",
        Duration::from_secs(20),
        || ctl.total_aws_calls() == 1,
    );
    let calls_before = ctl.total_aws_calls();
    apply(&object(&ns, "x", spec));
    let api = kube_api(&ns).await;
    let (_, _, message) = wait_condition(&api, "x", "Stalled", "True", Some("NotPermitted")).await;
    let (ready, reason, _) = condition(&api, "x", "Ready").await.unwrap();
    assert_eq!((ready.as_str(), reason.as_str()), ("False", "NotPermitted"));
    assert!(
        message.contains(field) && message.contains(value) && message.contains(&policy.0),
        "the message names {field}, `{value}` and the policy: {message}"
    );
    // Two more passes (resyncs every 2 s), still without a single AWS call.
    let passes = ctl.reconciles();
    wait_until("two more passes", Duration::from_secs(20), || {
        ctl.reconciles() >= passes + 2
    });
    assert_eq!(
        ctl.total_aws_calls(),
        calls_before,
        "no AWS call for an integration no policy permits: {:?}",
        ctl.aws_calls()
    );
    assert!(aws().await.tagged_resources(&ns).await.is_empty());
}

macro_rules! refused {
    ($test:ident, $ns:literal, $field:expr, $value:expr, $spec:expr) => {
        #[tokio::test(flavor = "multi_thread")]
        async fn $test() {
            refused($ns, &$spec, $field, AsRef::<str>::as_ref(&$value)).await;
        }
    };
}

fn lambda_spec(function: &str, extra: &str) -> String {
    format!(
        "  rule: {{eventPattern: {{source: [orders]}}}}\n  target:\n    lambda: {{functionArn: \"{function}\"}}\n{extra}"
    )
}

fn ecs_spec(cluster: &str, task_definition: &str, target_extra: &str, extra: &str) -> String {
    format!(
        "  rule: {{eventPattern: {{source: [orders]}}}}\n  target:\n    ecs:\n      clusterArn: {cluster}\n      taskDefinitionArn: {task_definition}\n      networkConfiguration: {{subnets: [subnet-0a1b2c3d]}}\n{target_extra}{extra}"
    )
}

fn sfn_spec(extra: &str) -> String {
    format!(
        "  rule: {{scheduleExpression: \"rate(5 minutes)\"}}\n  target:\n    stepFunctions: {{stateMachineArn: {STATE_MACHINE}}}\n{extra}"
    )
}

const PAYMENTS_FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:payments";

refused!(
    refuses_a_target_not_granted,
    "tn-target",
    "spec.target.lambda.functionArn",
    PAYMENTS_FUNCTION,
    lambda_spec(PAYMENTS_FUNCTION, "")
);
// spec.targets: every entry is checked before any AWS call; the granted first entry does not
// carry the second, which the refusal names by its position.
refused!(
    refuses_one_target_of_a_list_not_granted,
    "tn-list",
    "spec.targets[1].sqs.queueArn",
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:payments-events"),
    format!(
        "  rule: {{eventPattern: {{source: [orders]}}}}\n  targets:\n  - id: notify\n    lambda: {{functionArn: \"{FUNCTION}\"}}\n  - id: payments\n    sqs: {{queueArn: \"arn:aws:sqs:{REGION}:{ACCOUNT}:payments-events\"}}\n"
    )
);
// spec.schedule: its group is granted like a bus, its target like any target.
refused!(
    refuses_a_schedule_group_not_granted,
    "tn-sch-group",
    "spec.schedule.group",
    "payments",
    format!(
        "  schedule: {{expression: \"rate(5 minutes)\", group: payments}}\n  target:\n    lambda: {{functionArn: \"{FUNCTION}\"}}\n"
    )
);
// A key the schedule's created role would be allowed to use: granted in `kmsKeys` only.
refused!(
    refuses_a_schedules_queue_key_not_granted,
    "tn-sch-key",
    "spec.schedule.kmsKeyArns[0]",
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
    format!(
        "  schedule: {{expression: \"rate(5 minutes)\", kmsKeyArns: [\"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab\"]}}\n  target:\n    lambda: {{functionArn: \"{FUNCTION}\"}}\n    deadLetterQueueArn: \"arn:aws:sqs:{REGION}:{ACCOUNT}:team-dlq\"\n"
    )
);
refused!(
    refuses_a_schedules_target_not_granted,
    "tn-sch-target",
    "spec.target.lambda.functionArn",
    PAYMENTS_FUNCTION,
    format!(
        "  schedule: {{expression: \"rate(5 minutes)\"}}\n  target:\n    lambda: {{functionArn: \"{PAYMENTS_FUNCTION}\"}}\n"
    )
);
refused!(
    refuses_an_ecs_cluster_not_granted,
    "tn-cluster",
    "spec.target.ecs.clusterArn",
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/payments"),
    ecs_spec(
        &format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/payments"),
        TASK_DEFINITION,
        "",
        ""
    )
);
refused!(
    refuses_a_task_definition_not_granted,
    "tn-taskdef",
    "spec.target.ecs.taskDefinitionArn",
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/payments-worker:1"),
    ecs_spec(
        CLUSTER,
        &format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/payments-worker:1"),
        "",
        ""
    )
);
refused!(
    refuses_a_passed_role_not_granted,
    "tn-passrole",
    "spec.target.ecs.passRoleArns[0]",
    format!("arn:aws:iam::{ACCOUNT}:role/admin"),
    ecs_spec(
        CLUSTER,
        TASK_DEFINITION,
        &format!("      passRoleArns: [\"arn:aws:iam::{ACCOUNT}:role/admin\"]\n"),
        ""
    )
);
refused!(
    refuses_a_role_not_granted,
    "tn-role",
    "spec.role.arn",
    format!("arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"),
    sfn_spec(&format!(
        "  role: {{arn: \"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole\"}}\n"
    ))
);
refused!(
    refuses_a_role_name_not_granted,
    "tn-rolename",
    "spec.role.name",
    format!("arn:aws:iam::{ACCOUNT}:role/admin-runner"),
    sfn_spec("  role: {name: admin-runner}\n")
);
refused!(
    refuses_a_dead_letter_queue_not_granted,
    "tn-dlq",
    "spec.target.deadLetterQueueArn",
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:payments-dlq"),
    sfn_spec(&format!(
        "    deadLetterQueueArn: \"arn:aws:sqs:{REGION}:{ACCOUNT}:payments-dlq\"\n"
    ))
);
refused!(
    refuses_an_sqs_target_not_granted,
    "tn-sqs",
    "spec.target.sqs.queueArn",
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:payments-events"),
    format!(
        "  rule: {{eventPattern: {{source: [orders]}}}}\n  target:\n    sqs: {{queueArn: \"arn:aws:sqs:{REGION}:{ACCOUNT}:payments-events\"}}\n"
    )
);
refused!(
    refuses_an_sns_target_not_granted,
    "tn-sns",
    "spec.target.sns.topicArn",
    format!("arn:aws:sns:{REGION}:{ACCOUNT}:payments-events"),
    format!(
        "  rule: {{eventPattern: {{source: [orders]}}}}\n  target:\n    sns: {{topicArn: \"arn:aws:sns:{REGION}:{ACCOUNT}:payments-events\"}}\n"
    )
);
refused!(
    refuses_a_kinesis_target_not_granted,
    "tn-kinesis",
    "spec.target.kinesis.streamArn",
    format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/payments"),
    format!(
        "  rule: {{eventPattern: {{source: [orders]}}}}\n  target:\n    kinesis: {{streamArn: \"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/payments\"}}\n"
    )
);
// Firehose's stream is checked from its kind's own references (plan::targets), as every kind's.
refused!(
    refuses_a_firehose_target_not_granted,
    "tn-firehose",
    "spec.target.firehose.deliveryStreamArn",
    format!("arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/payments"),
    format!(
        "  rule: {{eventPattern: {{source: [orders]}}}}\n  target:\n    firehose: {{deliveryStreamArn: \"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/payments\"}}\n"
    )
);
refused!(
    refuses_an_api_gateway_target_not_granted,
    "tn-apigw",
    "spec.target.apiGateway.restApiArn",
    format!("arn:aws:apigateway:{REGION}::/restapis/p4yments00"),
    format!(
        "  rule: {{eventPattern: {{source: [orders]}}}}\n  target:\n    apiGateway: {{restApiArn: \"arn:aws:apigateway:{REGION}::/restapis/p4yments00\", stage: prod, method: POST, path: /pay}}\n"
    )
);
// A REST API's ARN names no account: one of another account is matched with that account
// written in, so the grant of the team's own APIs (`…::/restapis/0rders*`) does not reach it.
refused!(
    refuses_another_accounts_rest_api_not_granted,
    "tn-apigw-x",
    "spec.target.apiGateway.restApiArn",
    format!("arn:aws:apigateway:{REGION}:{OTHER_ACCOUNT}:/restapis/0rders0000"),
    format!(
        "  rule: {{eventPattern: {{source: [orders]}}}}\n  target:\n    apiGateway: {{restApiArn: \"arn:aws:apigateway:{REGION}::/restapis/0rders0000\", stage: prod, method: POST, path: /pay}}\n  crossAccount: {{targetAccountId: \"{OTHER_ACCOUNT}\", provisioningRoleArn: \"{PROVISIONER}\"}}\n"
    )
);
refused!(
    refuses_a_log_group_target_not_granted,
    "tn-logs",
    "spec.target.logs.logGroupArn",
    format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/payments"),
    format!(
        "  rule: {{eventPattern: {{source: [orders]}}}}\n  target:\n    logs: {{logGroupArn: \"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/payments\"}}\n"
    )
);
refused!(
    // Refused before its Secret is read (the Secret does not even exist) and before any call.
    refuses_an_api_destination_endpoint_not_granted,
    "tn-apidest",
    "spec.target.apiDestination.endpoint",
    "https://collector.elsewhere.example.net/events",
    "  rule: {eventPattern: {source: [orders]}}\n  target:\n    apiDestination:\n      endpoint: https://collector.elsewhere.example.net/events\n      httpMethod: POST\n      connection: {authorizationType: API_KEY, secretRef: {name: not-created}}\n"
);
refused!(
    refuses_a_bus_not_granted,
    "tn-bus",
    "spec.rule.eventBusName",
    "payments",
    lambda_spec(FUNCTION, "").replace(
        "rule: {eventPattern",
        "rule: {eventBusName: payments, eventPattern"
    )
);
refused!(
    refuses_a_rule_name_not_granted,
    "tn-rulename",
    "spec.rule.name",
    "payments-orders",
    lambda_spec(FUNCTION, "").replace(
        "rule: {eventPattern",
        "rule: {name: payments-orders, eventPattern"
    )
);
refused!(
    refuses_an_account_not_granted,
    "tn-account",
    "spec.crossAccount.targetAccountId",
    "333333333333",
    lambda_spec(
        "arn:aws:lambda:us-east-1:333333333333:function:order-notifier",
        "  crossAccount: {targetAccountId: \"333333333333\", mode: RoleChain, provisioningRoleArn: \"arn:aws:iam::333333333333:role/eventbridge-integration-provisioner\"}\n"
    )
);
refused!(
    refuses_a_region_not_granted,
    "tn-region",
    "spec.region",
    "eu-west-1",
    format!(
        "  region: eu-west-1\n  rule: {{scheduleExpression: \"rate(5 minutes)\"}}\n  target:\n    stepFunctions: {{stateMachineArn: \"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:order-pipeline\"}}\n"
    )
);
refused!(
    refuses_adoption_not_granted,
    "tn-adopt",
    "spec.adoptExisting",
    "true",
    sfn_spec("  adoptExisting: true\n")
);
refused!(
    refuses_an_external_id_in_the_spec,
    "tn-extid",
    "spec.crossAccount.externalId",
    "(set)",
    lambda_spec(
        &FUNCTION.replace(ACCOUNT, OTHER_ACCOUNT),
        &format!("  crossAccount: {{targetAccountId: \"{OTHER_ACCOUNT}\", mode: RoleChain, provisioningRoleArn: \"{PROVISIONER}\", externalId: plain-text-in-spec}}\n")
    )
);

/// The roles a task definition hands to ECS are passed by the role the controller would
/// create, so they must be granted too. Reading the task definition (a granted target) is
/// the only AWS call; nothing is written.
#[tokio::test(flavor = "multi_thread")]
async fn the_task_definitions_own_roles_must_be_granted() {
    let ns = tenant("tn-tdroles");
    let grants = team_grants().replace(&format!(", {TASK_ROLE}"), "");
    let _policy = Policy::apply(&ns, &ns, &grants);
    let ctl = enforcing(&ns, "3s");
    apply(&object(
        &ns,
        "x",
        &ecs_spec(CLUSTER, TASK_DEFINITION, "", ""),
    ));
    let api = kube_api(&ns).await;
    let (_, _, message) = wait_condition(&api, "x", "Stalled", "True", Some("NotPermitted")).await;
    assert!(
        message.contains(TASK_ROLE) && message.contains("spec.target.ecs.taskDefinitionArn"),
        "{message}"
    );
    let writes: u64 = ctl
        .aws_calls()
        .iter()
        .filter(|((_, op), _)| ebi::aws::is_write_operation(op))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(writes, 0, "{:?}", ctl.aws_calls());
    assert!(aws().await.tagged_resources(&ns).await.is_empty());
}

/// Two teams, two policies: each namespace gets what its own policy grants, and nothing of
/// what only the other's grants.
#[tokio::test(flavor = "multi_thread")]
async fn two_namespaces_with_two_policies_are_isolated() {
    let a = tenant("tn-team-a");
    let b = tenant("tn-team-b");
    let grants_a = team_grants().replace(&format!("  - {STATE_MACHINE}\n"), "");
    let grants_b = format!(
        "  accounts: [{{accountId: \"{ACCOUNT}\"}}]\n  eventBuses: [default]\n  targets: [{STATE_MACHINE}]\n"
    );
    let _pa = Policy::apply(&a, &a, &grants_a);
    let _pb = Policy::apply(&b, &b, &grants_b);
    let _ca = enforcing(&a, "3s");
    let _cb = enforcing(&b, "3s");
    apply(&object(&a, "lambda", &lambda_spec(FUNCTION, "")));
    apply(&object(&b, "lambda", &lambda_spec(FUNCTION, "")));
    apply(&object(&b, "pipeline", &sfn_spec("")));
    apply(&object(&a, "pipeline", &sfn_spec("")));
    let (api_a, api_b) = (kube_api(&a).await, kube_api(&b).await);
    wait_condition(&api_a, "lambda", "Ready", "True", None).await;
    wait_condition(&api_b, "pipeline", "Ready", "True", None).await;
    let (_, _, msg) =
        wait_condition(&api_b, "lambda", "Stalled", "True", Some("NotPermitted")).await;
    assert!(msg.contains(&b) && msg.contains(FUNCTION), "{msg}");
    assert!(
        !msg.contains(&format!("{a}:")),
        "team A's policy does not select team B: {msg}"
    );
    wait_condition(&api_a, "pipeline", "Stalled", "True", Some("NotPermitted")).await;
    let aws = aws().await;
    let tagged_a = aws.tagged_resources(&a).await;
    let tagged_b = aws.tagged_resources(&b).await;
    assert_eq!(
        tagged_a.rules.keys().collect::<Vec<_>>(),
        [&format!("{a}/lambda")]
    );
    assert_eq!(
        tagged_b.rules.keys().collect::<Vec<_>>(),
        [&format!("{b}/pipeline")]
    );
    // `kubectl get ebipolicy` shows what each selects (status written by the controller).
    wait_until(
        "the policy's status names its namespace",
        Duration::from_secs(20),
        || {
            let (ok, out) = kubectl(
                &[
                    "get",
                    "ebipolicy",
                    &a,
                    "-o",
                    "jsonpath={.status.namespaces}",
                ],
                None,
            );
            ok && out.contains(&a) && !out.contains(&b)
        },
    );
    let (ok, table) = kubectl(&["get", "ebipolicy", &b], None);
    assert!(
        ok && table.contains("NAMESPACES") && table.contains(&b),
        "{table}"
    );
    assert!(
        table.contains("GRANTS")
            && table.contains(&format!("accounts {ACCOUNT}; buses 1; targets 1;")),
        "{table}"
    );
    delete_and_wait(&a, &["lambda", "pipeline"]);
    delete_and_wait(&b, &["lambda", "pipeline"]);
}

/// A relabelled namespace and an edited policy re-queue the integrations they affect within
/// seconds (the resync here is an hour); a permission revoked stops every AWS write; the
/// object deleted afterwards still removes what its record lists.
#[tokio::test(flavor = "multi_thread")]
async fn policy_and_namespace_changes_take_effect_within_seconds() {
    let ns = namespace("tn-changes");
    label(&ns, "nobody");
    let policy = Policy::apply(&ns, &ns, &team_grants());
    let ctl = enforcing(&ns, "1h");
    apply(&object(&ns, "pipeline", &sfn_spec("")));
    let api = kube_api(&ns).await;
    let (_, _, msg) =
        wait_condition(&api, "pipeline", "Stalled", "True", Some("NotPermitted")).await;
    assert!(
        msg.contains("no EventBridgeIntegrationPolicy selects"),
        "{msg}"
    );

    // The namespace gets the label the policy selects.
    label(&ns, &ns);
    let (took, _) = wait_within(
        &api,
        "pipeline",
        "Ready",
        "True",
        None,
        Duration::from_secs(10),
    )
    .await;
    eprintln!("relabel -> Ready in {took:?}");

    // The policy stops granting the state machine: revoked within seconds.
    let _edited = Policy::apply(
        &policy.0,
        &ns,
        &team_grants().replace(&format!("  - {STATE_MACHINE}\n"), ""),
    );
    let (took, msg) = wait_within(
        &api,
        "pipeline",
        "Stalled",
        "True",
        Some("NotPermitted"),
        Duration::from_secs(10),
    )
    .await;
    eprintln!("policy edit -> NotPermitted in {took:?}");
    assert!(msg.contains(STATE_MACHINE), "{msg}");
    // Revoked: drift is no longer corrected, nothing is written.
    let writes = |c: &Controller| -> u64 {
        c.aws_calls()
            .iter()
            .filter(|((_, op), _)| ebi::aws::is_write_operation(op))
            .map(|(_, n)| n)
            .sum()
    };
    let before = writes(&ctl);
    let aws = aws().await;
    let rule = derived(&ns, "pipeline");
    aws.events
        .disable_rule()
        .name(&rule)
        .send()
        .await
        .expect("disable the rule by hand");
    // A spec change is a pass too (generation bumps); it stays refused and writes nothing.
    // The barrier is a status written for the new generation: a count of passes could be
    // met by one already under way for the old spec.
    apply(&object(
        &ns,
        "pipeline",
        &sfn_spec("    input: {changed: true}\n"),
    ));
    let generation = api.get("pipeline").await.unwrap().metadata.generation;
    wait_until_async(
        "a refused pass for the spec change",
        Duration::from_secs(20),
        || async {
            api.get("pipeline").await.is_ok_and(|o| {
                let status = o.status.unwrap_or_default();
                status.observed_generation == generation
                    && status.conditions.iter().any(|c| {
                        c.type_ == "Stalled" && c.status == "True" && c.reason == "NotPermitted"
                    })
            })
        },
    )
    .await;
    assert_eq!(writes(&ctl), before, "{:?}", ctl.aws_calls());
    let state = aws
        .events
        .describe_rule()
        .name(&rule)
        .send()
        .await
        .unwrap()
        .state;
    assert_eq!(
        state.unwrap().as_str(),
        "DISABLED",
        "the hand edit stays: no drift correction"
    );

    // Deleting it still removes what it recorded, permitted or not.
    delete_and_wait(&ns, &["pipeline"]);
    assert!(!aws.rule_exists(&rule).await);
    assert!(aws.tagged_resources(&ns).await.is_empty());
}

/// With a policy that grants adoption, an untagged role and rule are taken over and, when the
/// object lets go of them, given back as they were: the role's trust policy and boundary, the
/// rule's pattern and its other targets.
#[tokio::test(flavor = "multi_thread")]
async fn adoption_is_bounded_and_reversible() {
    let ns = tenant("tn-adoption");
    let name = format!("team-adopt-{}", std::process::id() % 100000);
    let aws = aws().await;
    let original_trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let boundary_doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}).to_string();
    let mut boundaries = vec![];
    for suffix in ["before", "policy"] {
        let arn = match aws
            .iam
            .create_policy()
            .policy_name(format!("{name}-{suffix}"))
            .policy_document(&boundary_doc)
            .send()
            .await
        {
            Ok(out) => out.policy.unwrap().arn.unwrap(),
            Err(_) => format!("arn:aws:iam::{ACCOUNT}:policy/{name}-{suffix}"),
        };
        boundaries.push(arn);
    }
    let _ = aws.iam.delete_role().role_name(&name).send().await;
    aws.iam
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(original_trust.to_string())
        .permissions_boundary(&boundaries[0])
        .send()
        .await
        .expect("the role to adopt");
    aws.events
        .put_rule()
        .name(&name)
        .event_pattern(r#"{"source":["theirs"]}"#)
        .send()
        .await
        .expect("the rule to adopt");
    aws.events
        .put_targets()
        .rule(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("theirs")
                .arn(FUNCTION)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let grants = format!(
        "{}  adoptExisting: true\n  permissionsBoundaryArn: {}\n",
        team_grants(),
        boundaries[1]
    );
    let _policy = Policy::apply(&ns, &ns, &grants);
    let _ctl = enforcing(&ns, "3s");
    let spec = format!(
        "  rule: {{name: {name}, eventPattern: {{source: [orders]}}}}\n  target:\n    stepFunctions: {{stateMachineArn: {STATE_MACHINE}}}\n  adoptExisting: true\n  role: {{name: {name}}}\n"
    );
    apply(&object(&ns, "adopter", &spec));
    let api = kube_api(&ns).await;
    wait_condition(&api, "adopter", "Ready", "True", None).await;

    let role = aws
        .iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let trust = PolicyDocument::parse(&json!(role.assume_role_policy_document().unwrap())).unwrap();
    assert!(
        trust
            .statements
            .iter()
            .any(|s| format!("{:?}", s.principal).contains("events.amazonaws.com")),
        "taken over: trusted by EventBridge now"
    );
    assert_eq!(
        role.permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(boundaries[1].as_str()),
        "the policy's boundary"
    );
    let targets = aws
        .events
        .list_targets_by_rule()
        .rule(&name)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = targets.targets().iter().map(|t| t.id()).collect();
    assert!(
        ids.contains(&"theirs") && ids.contains(&"1"),
        "their target stays: {ids:?}"
    );

    delete_and_wait(&ns, &["adopter"]);
    let role = aws
        .iam
        .get_role()
        .role_name(&name)
        .send()
        .await
        .expect("released, not deleted")
        .role
        .unwrap();
    assert!(documents_equivalent(
        &json!(role.assume_role_policy_document().unwrap()),
        &original_trust
    ));
    assert_eq!(
        role.permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(boundaries[0].as_str()),
        "the boundary from before adoption"
    );
    let tags = aws
        .iam
        .list_role_tags()
        .role_name(&name)
        .send()
        .await
        .unwrap();
    assert!(
        !tags
            .tags()
            .iter()
            .any(|t| t.key().starts_with("eventbridge.dev/")),
        "{:?}",
        tags.tags()
    );
    let inline = aws
        .iam
        .list_role_policies()
        .role_name(&name)
        .send()
        .await
        .unwrap();
    assert!(
        inline.policy_names().is_empty(),
        "{:?}",
        inline.policy_names()
    );
    let rule = aws
        .events
        .describe_rule()
        .name(&name)
        .send()
        .await
        .expect("released, not deleted");
    assert_eq!(rule.event_pattern(), Some(r#"{"source":["theirs"]}"#));
    let targets = aws
        .events
        .list_targets_by_rule()
        .rule(&name)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = targets.targets().iter().map(|t| t.id()).collect();
    assert_eq!(ids, ["theirs"]);
    let _ = aws
        .events
        .remove_targets()
        .rule(&name)
        .ids("theirs")
        .send()
        .await;
    let _ = aws.events.delete_rule().name(&name).send().await;
    let _ = aws.iam.delete_role().role_name(&name).send().await;
}

/// The way into another account comes from the policy: its provisioning role and its
/// external ID, read from a Secret. The external ID appears nowhere else: not in status,
/// Events, the controller's log, its metrics, or the ConfigMap of places.
#[tokio::test(flavor = "multi_thread")]
async fn an_external_id_comes_from_the_policy_and_is_never_echoed() {
    let ns = tenant("tn-extsecret");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let secret = format!("ext-{}-{nanos}", std::process::id());
    let (ok, out) = kubectl(
        &[
            "create",
            "secret",
            "generic",
            "provisioning",
            "-n",
            &ns,
            &format!("--from-literal=externalId={secret}"),
        ],
        None,
    );
    assert!(ok, "{out}");
    let grants = team_grants().replace(
        &format!("    provisioningRoleArn: {PROVISIONER}\n"),
        &format!("    provisioningRoleArn: {PROVISIONER}\n    externalIdSecretRef: {{name: provisioning, key: externalId}}\n"),
    );
    let _policy = Policy::apply(&ns, &ns, &grants);
    let ctl = enforcing(&ns, "3s");
    let function_b = FUNCTION.replace(ACCOUNT, OTHER_ACCOUNT);
    // No provisioning role in the spec: the policy's entry for the account supplies it.
    let spec = lambda_spec(
        &function_b,
        &format!("  crossAccount: {{targetAccountId: \"{OTHER_ACCOUNT}\", mode: RoleChain}}\n"),
    );
    apply(&object(&ns, "remote", &spec));
    let api = kube_api(&ns).await;
    wait_condition(&api, "remote", "Ready", "True", None).await;
    let (_, everything) = kubectl(
        &["get", "ebi,events,configmaps", "-n", &ns, "-o", "yaml"],
        None,
    );
    assert!(
        everything.contains("eventbridge-integration-controller-locations"),
        "the ConfigMap of places was read"
    );
    assert!(
        everything.contains(PROVISIONER),
        "the record names the way in"
    );
    let log = std::fs::read_to_string(Controller::log_path(&ns)).unwrap();
    for (what, text) in [
        ("objects, Events, ConfigMaps", &everything),
        ("log", &log),
        ("metrics", &ctl.metrics_text()),
    ] {
        assert!(
            !text.contains(&secret),
            "the external ID leaked into the {what}"
        );
    }
    delete_and_wait(&ns, &["remote"]);
    let b = aws_in(OTHER_ACCOUNT).await;
    assert!(
        b.tagged_resources(&ns).await.is_empty(),
        "removed through the policy's way in"
    );
}
