//! End to end on the moto emulator: `diagnose --all` and `collect` against rules, roles and
//! functions seeded directly with the AWS SDK (the controller never saw them). Each test owns
//! an event bus with a unique name, so tests sharing one emulator do not see each other's rules.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::{
    AwsVpcConfiguration, EcsParameters, LaunchType, NetworkConfiguration, Target,
};
use serde_json::{json, Value};
use support::*;

const LAMBDA_ROLE: &str = "arn:aws:iam::123456789012:role/order-notifier-lambda";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eventbridge-integration-controller"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// `AWS calls: N (Service:Operation=n …)` from stderr, keyed `service:Operation`.
fn calls(stderr: &[u8]) -> BTreeMap<String, u64> {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .find(|l| l.starts_with("AWS calls: "))
        .unwrap_or_else(|| panic!("a call summary on stderr: {text}"));
    let inner = line.split_once('(').unwrap().1.trim_end_matches(')');
    // `Service:Operation=n`, where a service's name may hold a space (`CloudWatch Logs`).
    let mut out = BTreeMap::new();
    let mut pending = String::new();
    for token in inner.split_whitespace() {
        if !pending.is_empty() {
            pending.push(' ');
        }
        pending.push_str(token);
        if let Some((k, v)) = pending.rsplit_once('=') {
            let (service, op) = k.split_once(':').unwrap();
            out.insert(
                format!("{}:{op}", service.to_lowercase()),
                v.parse().unwrap(),
            );
            pending.clear();
        }
    }
    assert!(pending.is_empty(), "an unparsed call count: {pending}");
    out
}

/// The smallest valid zip archive (no entries): moto stores the code, never runs it.
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

struct Account {
    aws: Aws,
}

impl Account {
    async fn new() -> Account {
        require_env();
        Account { aws: aws().await }
    }

    async fn bus(&self, name: &str) {
        self.aws
            .events
            .create_event_bus()
            .name(name)
            .send()
            .await
            .unwrap();
    }

    async fn rule(&self, bus: &str, name: &str) -> String {
        self.aws
            .events
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .event_pattern(json!({"source": ["com.example.audit"]}).to_string())
            .send()
            .await
            .unwrap()
            .rule_arn
            .unwrap()
    }

    async fn target(&self, bus: &str, rule: &str, target: Target) {
        let out = self
            .aws
            .events
            .put_targets()
            .rule(rule)
            .event_bus_name(bus)
            .targets(target)
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_entry_count, 0, "{out:?}");
    }

    async fn function(&self, name: &str) -> String {
        self.aws
            .lambda
            .create_function()
            .function_name(name)
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .role(LAMBDA_ROLE)
            .handler("handler.handler")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_smithy_types::Blob::new(EMPTY_ZIP.to_vec()))
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .function_arn
            .unwrap()
    }

    async fn allow_rule_to_invoke(&self, function: &str, rule_arn: &str) {
        self.aws
            .lambda
            .add_permission()
            .function_name(function)
            .statement_id("events")
            .action("lambda:InvokeFunction")
            .principal("events.amazonaws.com")
            .source_arn(rule_arn)
            .send()
            .await
            .unwrap();
    }

    /// A role EventBridge may assume (with a source condition), with these inline policies.
    async fn role(&self, name: &str, policies: &[(&str, Value)]) -> String {
        let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":ACCOUNT}}}]});
        let arn = self
            .aws
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .unwrap()
            .role
            .unwrap()
            .arn;
        for (policy, doc) in policies {
            self.aws
                .iam
                .put_role_policy()
                .role_name(name)
                .policy_name(*policy)
                .policy_document(doc.to_string())
                .send()
                .await
                .unwrap();
        }
        arn
    }
}

impl Account {
    async fn managed_policy(&self, name: &str, doc: Value) -> String {
        self.aws
            .iam
            .create_policy()
            .policy_name(name)
            .policy_document(doc.to_string())
            .send()
            .await
            .unwrap()
            .policy
            .unwrap()
            .arn
            .unwrap()
    }
}

fn lambda_target(id: &str, arn: &str) -> Target {
    Target::builder().id(id).arn(arn).build().unwrap()
}

fn ecs_target(id: &str, role: &str) -> Target {
    Target::builder()
        .id(id)
        .arn(CLUSTER)
        .role_arn(role)
        .ecs_parameters(
            EcsParameters::builder()
                .task_definition_arn(TASK_DEFINITION)
                .launch_type(LaunchType::Fargate)
                .network_configuration(
                    NetworkConfiguration::builder()
                        .awsvpc_configuration(
                            AwsVpcConfiguration::builder()
                                .subnets("subnet-0a1b2c3d")
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn run_task() -> Value {
    json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:RunTask","Resource":"arn:aws:ecs:us-east-1:123456789012:task-definition/orders-worker:*"}]})
}

fn pass_role() -> Value {
    json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":[EXECUTION_ROLE, TASK_ROLE],"Condition":{"StringLike":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}}]})
}

/// On bus `tag`: `lambda-ok` (permitted), `lambda-bare` (function without permission),
/// `ecs-0..2` (one shared role without iam:PassRole), `ecs-ok` (a role with both), and
/// `two-targets` (the permitted function and the bare one).
async fn seed(tag: &str) -> Account {
    let a = Account::new().await;
    a.bus(tag).await;
    let ok_fn = a.function(&format!("{tag}-ok")).await;
    let bare_fn = a.function(&format!("{tag}-bare")).await;
    let arn = a.rule(tag, "lambda-ok").await;
    a.allow_rule_to_invoke(&format!("{tag}-ok"), &arn).await;
    a.target(tag, "lambda-ok", lambda_target("fn", &ok_fn))
        .await;
    a.rule(tag, "lambda-bare").await;
    a.target(tag, "lambda-bare", lambda_target("fn", &bare_fn))
        .await;
    let no_pass = a
        .role(&format!("{tag}-nopass"), &[("run", run_task())])
        .await;
    for i in 0..3 {
        let rule = format!("ecs-{i}");
        a.rule(tag, &rule).await;
        a.target(tag, &rule, ecs_target("task", &no_pass)).await;
    }
    // PassRole from a managed policy, under a permissions boundary that allows both.
    let good = a.role(&format!("{tag}-good"), &[("run", run_task())]).await;
    let pass = a.managed_policy(&format!("{tag}-pass"), pass_role()).await;
    a.aws
        .iam
        .attach_role_policy()
        .role_name(format!("{tag}-good"))
        .policy_arn(&pass)
        .send()
        .await
        .unwrap();
    let boundary = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecs:RunTask","iam:PassRole"],"Resource":"*"}]});
    let boundary = a.managed_policy(&format!("{tag}-boundary"), boundary).await;
    a.aws
        .iam
        .put_role_permissions_boundary()
        .role_name(format!("{tag}-good"))
        .permissions_boundary(&boundary)
        .send()
        .await
        .unwrap();
    a.rule(tag, "ecs-ok").await;
    a.target(tag, "ecs-ok", ecs_target("task", &good)).await;
    // The same permitted function from a second rule: its permission names only lambda-ok.
    a.rule(tag, "two-targets").await;
    a.target(tag, "two-targets", lambda_target("bare", &bare_fn))
        .await;
    a.target(tag, "two-targets", lambda_target("ok", &ok_fn))
        .await;
    a
}

fn json_rows(out: &Output) -> Vec<Value> {
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap_or_else(|e| {
            panic!(
                "JSON on stdout ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .as_array()
        .unwrap()
        .clone()
}

/// (rule, target) → (verdict, first code) from the JSON rows.
fn verdicts(rows: &[Value]) -> BTreeMap<(String, String), (String, String)> {
    rows.iter()
        .map(|r| {
            (
                (
                    r["rule"].as_str().unwrap().to_string(),
                    r["targetId"].as_str().unwrap_or("-").to_string(),
                ),
                (
                    r["verdict"].as_str().unwrap().to_string(),
                    r["firstCode"].as_str().unwrap_or("-").to_string(),
                ),
            )
        })
        .collect()
}

fn v(verdict: &str, code: &str) -> (String, String) {
    (verdict.to_string(), code.to_string())
}

fn k(rule: &str, target: &str) -> (String, String) {
    (rule.to_string(), target.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_audit_of_a_bus_names_each_broken_target_and_reads_each_resource_once() {
    let tag = unique("audit");
    seed(&tag).await;

    let out = run(&["diagnose", "--all", "--event-bus", &tag, "--output", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "errors exit 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json_rows(&out);
    let got = verdicts(&rows);
    let want = BTreeMap::from([
        (k("ecs-0", "task"), v("error", "PassRoleMissing")),
        (k("ecs-1", "task"), v("error", "PassRoleMissing")),
        (k("ecs-2", "task"), v("error", "PassRoleMissing")),
        (k("ecs-ok", "task"), v("ok", "-")),
        (
            k("lambda-bare", "fn"),
            v("error", "LambdaPermissionMissing"),
        ),
        (k("lambda-ok", "fn"), v("ok", "-")),
        (
            k("two-targets", "bare"),
            v("error", "LambdaPermissionMissing"),
        ),
        (
            k("two-targets", "ok"),
            v("error", "LambdaPermissionSourceArnMismatch"),
        ),
    ]);
    assert_eq!(got, want, "{rows:#?}");
    assert!(rows.iter().all(|r| r["eventBus"] == json!(tag)));
    let ecs_0 = rows.iter().find(|r| r["rule"] == "ecs-0").unwrap();
    let passed: Vec<&str> = ecs_0["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["resource"].as_str().unwrap())
        .collect();
    assert_eq!(passed, vec![EXECUTION_ROLE, TASK_ROLE], "{ecs_0}");

    // Calls grow with distinct resources: 2 roles, 2 functions, 1 task definition for
    // 7 rules and 8 targets; one ListTargetsByRule per rule.
    let calls = calls(&out.stderr);
    println!("audit of 7 rules, 8 targets: {calls:?}");
    assert_eq!(
        calls.get("eventbridge:ListEventBuses"),
        None,
        "one bus named: {calls:?}"
    );
    let want = BTreeMap::from([
        ("eventbridge:ListRules", 1),
        ("eventbridge:ListTargetsByRule", 7),
        ("iam:GetRole", 2),
        ("iam:ListRolePolicies", 2),
        ("iam:GetRolePolicy", 2),
        ("iam:ListAttachedRolePolicies", 2),
        // The attached policy and the boundary of the good role.
        ("iam:GetPolicy", 2),
        ("iam:GetPolicyVersion", 2),
        ("lambda:GetPolicy", 2),
        ("ecs:DescribeTaskDefinition", 1),
        // Organisation policies, once per run: the emulator's default account is in no
        // organisation, which DescribeOrganization says in one call.
        ("organizations:DescribeOrganization", 1),
        // Delivery: the seven rules' metrics in one bulk read (100 rules a call); none
        // reports a failure, so no bus log and no CloudTrail read follow.
        ("cloudwatch:GetMetricData", 1),
    ]);
    let got: BTreeMap<&str, u64> = calls.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(got, want);
    let writes: Vec<_> = calls
        .keys()
        .filter(|op| ebi::aws::is_write_operation(op))
        .collect();
    assert!(writes.is_empty(), "read-only: {writes:?}");

    // The table: one line per target, bus/rule, short target ARN.
    let out = run(&["diagnose", "--all", "--event-bus", &tag]);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("RULE") && header.contains("TARGET") && header.contains("FIRST CODE"),
        "{table}"
    );
    let line = |rule: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{tag}/{rule} ")))
            .unwrap_or_else(|| panic!("a line for {rule}: {table}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line("lambda-bare"),
        vec![
            format!("{tag}/lambda-bare").as_str(),
            "fn",
            &format!("(function:{tag}-bare)"),
            "error",
            "LambdaPermissionMissing"
        ]
    );
    assert_eq!(line("ecs-ok")[3..], ["ok", "-"]);
    assert!(table.contains("7 rule(s), 8 line(s): 6 error, 0 warning, 2 ok, 0 unreadable"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_audit_exits_0_when_all_is_well_and_2_when_it_cannot_look() {
    let tag = unique("audit-ok");
    let a = Account::new().await;
    a.bus(&tag).await;
    let function = a.function(&format!("{tag}-fn")).await;
    let arn = a.rule(&tag, "fine").await;
    a.allow_rule_to_invoke(&format!("{tag}-fn"), &arn).await;
    a.target(&tag, "fine", lambda_target("fn", &function)).await;
    a.rule(&tag, "no-targets").await;
    let out = run(&[
        "diagnose",
        "--all",
        "--event-bus",
        &tag,
        "--output",
        "table",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let got = verdicts(&json_rows(&run(&[
        "diagnose",
        "--all",
        "--event-bus",
        &tag,
        "--output",
        "json",
    ])));
    assert_eq!(
        got,
        BTreeMap::from([
            (k("fine", "fn"), v("ok", "-")),
            (k("no-targets", "-"), v("ok", "-")),
        ])
    );

    // Every bus by default: this bus and the default bus are both walked.
    let default_rule = unique("audit-default");
    a.rule("default", &default_rule).await;
    let out = run(&["diagnose", "--all", "--output", "json"]);
    // Other tests' rules are on these buses too, some broken, some deleted while we look.
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json_rows(&out);
    assert!(rows
        .iter()
        .any(|r| r["eventBus"] == json!(tag) && r["rule"] == "fine"));
    assert!(rows
        .iter()
        .any(|r| r["eventBus"] == "default" && r["rule"] == json!(default_rule)));
    assert!(calls(&out.stderr).contains_key("eventbridge:ListEventBuses"));
    a.aws
        .events
        .delete_rule()
        .name(&default_rule)
        .send()
        .await
        .unwrap();

    // A bus that does not exist, and an emulator that does not answer: exit 2, saying which.
    let out = run(&[
        "diagnose",
        "--all",
        "--event-bus",
        &format!("{tag}-missing"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no event bus"));
    let out = bin()
        .args(["diagnose", "--all"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("could not list the rules"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["diagnose", "--all", "--rule", "x"]);
    assert_eq!(out.status.code(), Some(2), "bad usage exits 2");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_audit_keeps_to_its_rate_limit() {
    let tag = unique("audit-rate");
    let a = Account::new().await;
    a.bus(&tag).await;
    for i in 0..6 {
        a.rule(&tag, &format!("r{i}")).await;
    }
    // 1 ListRules + 6 ListTargetsByRule at 2 per second with a burst of 2: ≥ 2.5 s.
    let start = Instant::now();
    let out = run(&[
        "diagnose",
        "--all",
        "--event-bus",
        &tag,
        "--max-calls-per-second",
        "2",
    ]);
    let elapsed = start.elapsed();
    assert_eq!(out.status.code(), Some(0));
    assert!(elapsed >= Duration::from_millis(2400), "{elapsed:?}");
    let start = Instant::now();
    run(&["diagnose", "--all", "--event-bus", &tag]);
    assert!(
        start.elapsed() < elapsed,
        "the default (10 per second) is faster"
    );
    assert_eq!(
        run(&["diagnose", "--all", "--max-calls-per-second", "0"])
            .status
            .code(),
        Some(2)
    );
}

/// `collect`, then `diagnose --bundle` on its output, gives what `diagnose --rule` gives
/// online, for correct and broken rules.
#[tokio::test(flavor = "multi_thread")]
async fn a_collected_bundle_diagnoses_like_the_live_account() {
    let tag = unique("collect");
    seed(&tag).await;
    let dir = tempfile::tempdir().unwrap();
    for (rule, want_codes) in [
        ("lambda-ok", vec![]),
        ("lambda-bare", vec!["LambdaPermissionMissing"]),
        ("ecs-0", vec!["PassRoleMissing", "PassRoleMissing"]),
        ("ecs-ok", vec![]),
        (
            "two-targets",
            vec![
                "LambdaPermissionMissing",
                "LambdaPermissionSourceArnMismatch",
            ],
        ),
    ] {
        let online = run(&[
            "diagnose",
            "--rule",
            rule,
            "--event-bus",
            &tag,
            "--output",
            "json",
        ]);
        let collected = run(&["collect", "--rule", rule, "--event-bus", &tag]);
        assert_eq!(
            collected.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&collected.stderr)
        );
        let bundle: Value = serde_json::from_slice(&collected.stdout).unwrap();
        assert_eq!(bundle["rule"]["Name"], json!(rule));
        assert_eq!(bundle["rule"]["EventBusName"], json!(tag));
        let path = dir.path().join(format!("{rule}.json"));
        std::fs::write(&path, &collected.stdout).unwrap();
        let offline = run(&[
            "diagnose",
            "--bundle",
            path.to_str().unwrap(),
            "--output",
            "json",
        ]);
        let findings = |o: &Output| -> Value {
            serde_json::from_slice::<Value>(&o.stdout).unwrap()["findings"].clone()
        };
        assert_eq!(
            findings(&offline),
            findings(&online),
            "{rule}: offline from the bundle as online\n{bundle:#}"
        );
        assert_eq!(offline.status.code(), online.status.code(), "{rule}");
        let codes: Vec<String> = findings(&online)
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(codes, want_codes, "{rule}");
        let want_exit = if want_codes.is_empty() { 0 } else { 1 };
        assert_eq!(online.status.code(), Some(want_exit), "{rule}");
    }

    // The bundle carries what the CLI prints: decoded policy documents, ECS parameters.
    let out = run(&["collect", "--rule", "ecs-0", "--event-bus", &tag]);
    let bundle: Value = serde_json::from_slice(&out.stdout).unwrap();
    let role = &bundle["roles"][0];
    assert_eq!(
        role["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "events.amazonaws.com"
    );
    assert_eq!(role["RolePolicies"][0]["PolicyDocument"], run_task());
    assert_eq!(
        bundle["targets"]["Targets"][0]["EcsParameters"]["TaskDefinitionArn"],
        TASK_DEFINITION
    );
    assert_eq!(
        bundle["taskDefinitions"][TASK_DEFINITION]["taskDefinition"]["executionRoleArn"],
        EXECUTION_ROLE
    );

    let out = run(&["collect", "--rule", "ecs-ok", "--event-bus", &tag]);
    let bundle: Value = serde_json::from_slice(&out.stdout).unwrap();
    let role = &bundle["roles"][0];
    assert_eq!(role["AttachedPolicies"][0]["Document"], pass_role());
    assert!(role["PermissionsBoundary"]["PolicyArn"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":policy/{tag}-boundary")));

    let missing = run(&["collect", "--rule", "no-such-rule", "--event-bus", &tag]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no rule no-such-rule"));
    assert!(missing.stdout.is_empty(), "no bundle for a missing rule");
}

/// Two rules, one broken, on a bus of their own.
async fn seed_small(tag: &str) {
    let a = Account::new().await;
    a.bus(tag).await;
    let function = a.function(&format!("{tag}-fn")).await;
    a.rule(tag, "bare").await;
    a.target(tag, "bare", lambda_target("fn", &function)).await;
    a.rule(tag, "empty").await;
}

// The SDK's adaptive retry slows a throttled client right down (about a minute for these
// few throttles), so the two throttling tests are separate, to run in parallel.

/// Throttled calls are retried (and counted per attempt) and the audit completes.
#[tokio::test(flavor = "multi_thread")]
async fn an_audit_survives_throttling() {
    let tag = unique("audit-throttled");
    seed_small(&tag).await;
    // Two of every three ListTargetsByRule attempts are throttled.
    let proxy = FaultProxy::start(&["-", "AWSEvents.ListTargetsByRule", "2"]);
    let out = run_through(
        &proxy,
        &["diagnose", "--all", "--event-bus", &tag, "--output", "json"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        verdicts(&json_rows(&out)),
        BTreeMap::from([
            (k("bare", "fn"), v("error", "LambdaPermissionMissing")),
            (k("empty", "-"), v("ok", "-")),
        ])
    );
    assert_eq!(
        calls(&out.stderr).get("eventbridge:ListTargetsByRule"),
        Some(&6),
        "two rules, three attempts each"
    );
}

/// A rule whose reads keep failing is reported unreadable, and the audit exits 2: incomplete.
#[tokio::test(flavor = "multi_thread")]
async fn an_audit_that_cannot_read_a_rule_says_it_is_incomplete() {
    let tag = unique("audit-unreadable");
    seed_small(&tag).await;
    // Throttled more times than the SDK retries.
    let proxy = FaultProxy::start(&["-", "AWSEvents.ListTargetsByRule", "100"]);
    let out = run_through(
        &proxy,
        &["diagnose", "--all", "--event-bus", &tag, "--output", "json"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the audit is incomplete"), "{stderr}");
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 2, "{rows:#?}");
    for r in &rows {
        assert_eq!(r["verdict"], "unreadable", "{r}");
        assert_eq!(
            r["firstCode"], "events:ListTargetsByRule ThrottlingException",
            "{r}"
        );
    }
}

/// A target whose dead-letter queue EventBridge may not write to: the audit names the
/// queue's missing statement, and a collected bundle carries the queue (and says the same).
#[tokio::test(flavor = "multi_thread")]
async fn an_audit_reads_dead_letter_queues_and_collect_carries_them() {
    let a = Account::new().await;
    let tag = unique("audit-dlq");
    a.bus(&tag).await;
    let function = a.function(&format!("{tag}-fn")).await;
    let rule_arn = a.rule(&tag, "with-dlq").await;
    a.allow_rule_to_invoke(&function, &rule_arn).await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = format!("{tag}-dlq");
    sqs.create_queue().queue_name(&queue).send().await.unwrap();
    let queue_arn = format!("arn:aws:sqs:us-east-1:123456789012:{queue}");
    a.target(
        &tag,
        "with-dlq",
        Target::builder()
            .id("fn")
            .arn(&function)
            .dead_letter_config(
                aws_sdk_eventbridge::types::DeadLetterConfig::builder()
                    .arn(&queue_arn)
                    .build(),
            )
            .build()
            .unwrap(),
    )
    .await;
    let out = run(&["diagnose", "--all", "--event-bus", &tag, "--output", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json_rows(&out);
    assert_eq!(
        verdicts(&rows).get(&k("with-dlq", "fn")),
        Some(&v("error", "DeadLetterQueuePermissionMissing")),
        "{rows:?}"
    );
    let collected = run(&["collect", "--rule", "with-dlq", "--event-bus", &tag]);
    assert!(collected.status.success());
    let bundle: Value = serde_json::from_slice(&collected.stdout).unwrap();
    assert_eq!(
        bundle["deadLetterQueues"][&queue_arn]["Attributes"]["QueueArn"],
        json!(queue_arn)
    );
    let path = std::env::temp_dir().join(format!("{tag}.json"));
    std::fs::write(&path, &collected.stdout).unwrap();
    let offline = run(&[
        "diagnose",
        "--bundle",
        path.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(offline.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&offline.stdout).contains("DeadLetterQueuePermissionMissing"),
        "{}",
        String::from_utf8_lossy(&offline.stdout)
    );
}

/// An SNS target whose topic policy does not admit EventBridge: `diagnose --all` reads the
/// topic and names `SnsTopicPolicyMissing`; `collect` carries the topic, and the bundle says
/// the same offline. Once the statement is there, the target is clean.
#[tokio::test(flavor = "multi_thread")]
async fn an_audit_reads_an_sns_targets_topic_and_collect_carries_it() {
    let a = Account::new().await;
    let tag = unique("audit-sns");
    a.bus(&tag).await;
    let rule_arn = a.rule(&tag, "to-topic").await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let sns = aws_sdk_sns::Client::new(&config);
    let topic_arn = sns
        .create_topic()
        .name(format!("{tag}-topic"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    a.target(
        &tag,
        "to-topic",
        Target::builder()
            .id("topic")
            .arn(&topic_arn)
            .build()
            .unwrap(),
    )
    .await;
    let verdict = || {
        let out = run(&["diagnose", "--all", "--event-bus", &tag, "--output", "json"]);
        let rows = json_rows(&out);
        (
            out.status.code(),
            verdicts(&rows).get(&k("to-topic", "topic")).cloned(),
        )
    };
    assert_eq!(
        verdict(),
        (Some(1), Some(v("error", "SnsTopicPolicyMissing")))
    );
    let collected = run(&["collect", "--rule", "to-topic", "--event-bus", &tag]);
    assert!(collected.status.success());
    let bundle: Value = serde_json::from_slice(&collected.stdout).unwrap();
    assert_eq!(
        bundle["deadLetterQueues"][&topic_arn]["Attributes"]["TopicArn"],
        json!(topic_arn)
    );
    let path = std::env::temp_dir().join(format!("{tag}.json"));
    std::fs::write(&path, &collected.stdout).unwrap();
    let offline = run(&[
        "diagnose",
        "--bundle",
        path.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(offline.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&offline.stdout).contains("SnsTopicPolicyMissing"));

    let admitted = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Events", "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish", "Resource": topic_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]});
    sns.set_topic_attributes()
        .topic_arn(&topic_arn)
        .attribute_name("Policy")
        .attribute_value(admitted.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(verdict(), (Some(0), Some(v("ok", "-"))));
}

/// A log group target: `diagnose --all` reads the account's CloudWatch Logs resource policies
/// and names `LogsResourcePolicyMissing` until one grants the rule; then the target is clean.
#[tokio::test(flavor = "multi_thread")]
async fn an_audit_reads_the_accounts_logs_resource_policies_for_a_log_group_target() {
    let a = Account::new().await;
    let tag = unique("audit-logs");
    a.bus(&tag).await;
    let rule_arn = a.rule(&tag, "to-log").await;
    let group = format!("arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/{tag}");
    a.target(
        &tag,
        "to-log",
        Target::builder().id("log").arn(&group).build().unwrap(),
    )
    .await;
    let verdict = || {
        let out = run(&["diagnose", "--all", "--event-bus", &tag, "--output", "json"]);
        let rows = json_rows(&out);
        (
            out.status.code(),
            verdicts(&rows).get(&k("to-log", "log")).cloned(),
        )
    };
    assert_eq!(
        verdict(),
        (Some(1), Some(v("error", "LogsResourcePolicyMissing")))
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let name = format!("{tag}-events");
    let grant = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": format!("{group}:*"),
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]});
    logs.put_resource_policy()
        .policy_name(&name)
        .policy_document(grant.to_string())
        .send()
        .await
        .unwrap();
    let after = verdict();
    logs.delete_resource_policy()
        .policy_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(after, (Some(0), Some(v("ok", "-"))));
}

/// An API destination target: `diagnose --all` judges the role's `events:InvokeApiDestination`
/// on the destination, and reads its connection, which `collect` carries: a bundle whose
/// connection is DEAUTHORIZED (the emulator's are always AUTHORIZED) names the cause offline.
#[tokio::test(flavor = "multi_thread")]
async fn an_audit_reads_an_api_destination_and_its_connection_and_collect_carries_them() {
    use aws_sdk_eventbridge::types as eb;
    let a = Account::new().await;
    let tag = unique("audit-dest");
    a.bus(&tag).await;
    a.rule(&tag, "to-webhook").await;
    let connection_arn = a
        .aws
        .events
        .create_connection()
        .name(&tag)
        .authorization_type(eb::ConnectionAuthorizationType::ApiKey)
        .auth_parameters(
            eb::CreateConnectionAuthRequestParameters::builder()
                .api_key_auth_parameters(
                    eb::CreateConnectionApiKeyAuthRequestParameters::builder()
                        .api_key_name("x-api-key")
                        .api_key_value("k")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .connection_arn
        .unwrap();
    let destination_arn = a
        .aws
        .events
        .create_api_destination()
        .name(&tag)
        .connection_arn(&connection_arn)
        .invocation_endpoint("https://hooks.example.com/orders")
        .http_method(eb::ApiDestinationHttpMethod::Post)
        .send()
        .await
        .unwrap()
        .api_destination_arn
        .unwrap();
    // The role may put events on buses, not invoke the destination.
    let role = a
        .role(
            &format!("{tag}-role"),
            &[(
                "put",
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "events:PutEvents",
                    "Resource": format!("arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{tag}")}]}),
            )],
        )
        .await;
    a.target(
        &tag,
        "to-webhook",
        Target::builder()
            .id("webhook")
            .arn(&destination_arn)
            .role_arn(&role)
            .build()
            .unwrap(),
    )
    .await;
    let out = run(&["diagnose", "--all", "--event-bus", &tag, "--output", "json"]);
    assert_eq!(
        (
            out.status.code(),
            verdicts(&json_rows(&out))
                .get(&k("to-webhook", "webhook"))
                .cloned()
        ),
        (Some(1), Some(v("error", "InvokeApiDestinationNotAllowed")))
    );
    let collected = run(&["collect", "--rule", "to-webhook", "--event-bus", &tag]);
    assert!(collected.status.success());
    let mut bundle: Value = serde_json::from_slice(&collected.stdout).unwrap();
    let entry = &mut bundle["apiDestinations"][&destination_arn];
    assert_eq!(entry["ConnectionArn"], json!(connection_arn));
    assert_eq!(entry["Connection"]["ConnectionState"], json!("AUTHORIZED"));
    entry["Connection"]["ConnectionState"] = json!("DEAUTHORIZED");
    entry["Connection"]["StateReason"] = json!("The authorization server responded with 401");
    let path = std::env::temp_dir().join(format!("{tag}.json"));
    std::fs::write(&path, bundle.to_string()).unwrap();
    let offline = run(&[
        "diagnose",
        "--bundle",
        path.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(offline.status.code(), Some(1));
    let said = String::from_utf8_lossy(&offline.stdout);
    assert!(
        said.contains("ConnectionNotAuthorized")
            && said.contains("responded with 401")
            && said.contains("InvokeApiDestinationNotAllowed"),
        "{said}"
    );
}

/// Schedules: `diagnose --all --schedule-group` walks one group's schedules (and no rules),
/// `diagnose --schedule` reads one, and `collect --schedule` writes the bundle that gives the
/// same findings offline.
#[tokio::test(flavor = "multi_thread")]
async fn schedules_are_diagnosed_in_a_walk_by_name_and_from_a_collected_bundle() {
    let group = unique("sched-audit");
    let a = Account::new().await;
    let config = sdk_config().await;
    let scheduler = new_schedule_group(&config, &group).await;
    let invoke = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "lambda:InvokeFunction", "Resource": FUNCTION}]});
    let start = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "states:StartExecution", "Resource": STATE_MACHINE}]});
    let iam = &a.aws.iam;
    let scheduler_trust = "scheduler.amazonaws.com";
    let good = group_role(iam, &group, "good", scheduler_trust, Some(invoke)).await;
    let reused = group_role(iam, &group, "rule", "events.amazonaws.com", Some(start)).await;
    let bare = group_role(iam, &group, "bare", scheduler_trust, None).await;
    for (name, target, role_arn) in [
        ("good", FUNCTION, &good),
        ("reused-role", STATE_MACHINE, &reused),
        ("no-invoke", FUNCTION, &bare),
    ] {
        create_schedule(&scheduler, &group, name, target, role_arn).await;
    }

    // The walk of the group: one line per schedule, no rules.
    let out = run(&[
        "diagnose",
        "--all",
        "--schedule-group",
        &group,
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "an error finding exits 1");
    let rows = json_rows(&out);
    assert!(
        rows.iter()
            .all(|r| r["invoker"] == "schedule" && r["eventBus"] == json!(group)),
        "{rows:?}"
    );
    assert_eq!(
        verdicts(&rows),
        BTreeMap::from([
            (k("good", "-"), v("ok", "-")),
            (k("reused-role", "-"), v("error", "SchedulerTrustMissing")),
            (k("no-invoke", "-"), v("error", "InvokeFunctionNotAllowed")),
        ])
    );
    let calls = calls(&out.stderr);
    assert_eq!(calls.get("scheduler:ListSchedules"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("scheduler:GetSchedule"), Some(&3), "{calls:?}");
    assert!(!calls.contains_key("eventbridge:ListRules"), "{calls:?}");
    let table =
        String::from_utf8_lossy(&run(&["diagnose", "--all", "--schedule-group", &group]).stdout)
            .to_string();
    assert!(
        table.contains(&format!("schedule {group}/reused-role"))
            && table.contains("0 rule(s), 3 schedule(s), 3 line(s): 2 error, 0 warning, 1 ok"),
        "{table}"
    );

    // One schedule by name; one that does not exist.
    let out = run(&[
        "diagnose",
        "--schedule",
        &format!("{group}/reused-role"),
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["code"], "SchedulerTrustMissing");
    assert_eq!(report["findings"].as_array().unwrap().len(), 1, "{report}");
    let out = run(&["diagnose", "--schedule", &format!("{group}/missing")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ScheduleNotFound"));

    // Collected, then diagnosed offline: the same finding.
    let out = run(&["collect", "--schedule", &format!("{group}/no-invoke")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(bundle["schedule"]["Target"]["RoleArn"], json!(bare));
    let path = std::env::temp_dir().join(format!("{group}.json"));
    std::fs::write(&path, &out.stdout).unwrap();
    let offline = run(&[
        "diagnose",
        "--bundle",
        path.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(offline.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&offline.stdout).unwrap();
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["InvokeFunctionNotAllowed"]);
    let _ = std::fs::remove_file(&path);
    let missing = run(&["collect", "--schedule", &format!("{group}/missing")]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no schedule missing in group"));
}

/// Credentials made for rules alone (no scheduler:ListSchedules) still audit every bus: the
/// schedules not walked are said on stderr, not made a failure; asked for by group, the
/// same denial is one (exit 2).
#[tokio::test(flavor = "multi_thread")]
async fn an_audit_without_scheduler_permissions_still_audits_the_rules() {
    let tag = unique("audit-no-scheduler");
    let a = Account::new().await;
    a.bus(&tag).await;
    a.rule(&tag, "no-targets").await;
    let proxy = FaultProxy::start(&["--deny-get-path", "/schedules"]);
    let out = run_through(&proxy, &["diagnose", "--all", "--output", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Other tests' rules share the emulator, some broken: 0 or 1, never 2.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    assert!(
        stderr.contains("note: schedules: not walked") && stderr.contains("AccessDenied"),
        "{stderr}"
    );
    let rows = json_rows(&out);
    assert!(rows
        .iter()
        .any(|r| r["eventBus"] == json!(tag) && r["rule"] == "no-targets"));
    assert!(
        rows.iter().all(|r| r["invoker"] == "rule"),
        "no schedule rows"
    );
    let out = run_through(
        &proxy,
        &["diagnose", "--all", "--schedule-group", "default"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Listed, but each schedule unreadable (GetSchedule denied): one note, the same exit.
    let config = sdk_config().await;
    let scheduler = aws_sdk_scheduler::Client::new(&config);
    let name = format!("{tag}-s");
    create_schedule(
        &scheduler,
        "default",
        &name,
        STATE_MACHINE,
        &format!("arn:aws:iam::{ACCOUNT}:role/none"),
    )
    .await;
    let get_denied = FaultProxy::start(&["--deny-get-path", "/schedules/"]);
    let out = run_through(&get_denied, &["diagnose", "--all", "--output", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    assert!(
        stderr.contains("not read") && stderr.contains("scheduler:GetSchedule"),
        "{stderr}"
    );
    assert!(json_rows(&out).iter().all(|r| r["invoker"] == "rule"));
    scheduler
        .delete_schedule()
        .name(&name)
        .send()
        .await
        .unwrap();
}

/// The binary with `args`, its AWS calls going through `proxy`.
fn run_through(proxy: &FaultProxy, args: &[&str]) -> Output {
    bin()
        .args(args)
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .output()
        .unwrap()
}

/// A schedule's queue under a customer managed key that leaves the key to IAM policies, and
/// a role that may send but not use the key: found by the walk and by name, and carried by
/// `collect` (the queue and its key policy) so the offline diagnosis finds it too.
#[tokio::test(flavor = "multi_thread")]
async fn a_schedules_queue_key_is_read_online_and_carried_by_collect() {
    let group = unique("sched-kms");
    let a = Account::new().await;
    let config = sdk_config().await;
    let scheduler = new_schedule_group(&config, &group).await;
    let key = key_granting_the_account(&config, ACCOUNT).await;
    let queue_arn = queue_under_key(&config, ACCOUNT, &group, key.key_id()).await;
    let send = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "sqs:SendMessage", "Resource": queue_arn}]});
    let role_arn = group_role(
        &a.aws.iam,
        &group,
        "keyed",
        "scheduler.amazonaws.com",
        Some(send),
    )
    .await;
    create_schedule(&scheduler, &group, "keyed", &queue_arn, &role_arn).await;

    let out = run(&[
        "diagnose",
        "--all",
        "--schedule-group",
        &group,
        "--output",
        "json",
    ]);
    assert_eq!(
        verdicts(&json_rows(&out)),
        BTreeMap::from([(k("keyed", "-"), v("error", "SqsQueueKmsKeyNotPermitted"))])
    );
    let calls = calls(&out.stderr);
    assert_eq!(calls.get("kms:GetKeyPolicy"), Some(&1), "{calls:?}");

    let out = run(&["collect", "--schedule", &format!("{group}/keyed")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        bundle["keyPolicies"]
            .as_object()
            .is_some_and(|k| k.len() == 1),
        "{bundle:#}"
    );
    let path = std::env::temp_dir().join(format!("{group}.json"));
    std::fs::write(&path, &out.stdout).unwrap();
    let offline = run(&[
        "diagnose",
        "--bundle",
        path.to_str().unwrap(),
        "--output",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&offline.stdout).unwrap();
    let _ = std::fs::remove_file(&path);
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["SqsQueueKmsKeyNotPermitted"], "{report:#}");
}

/// A new schedule group `group` of this account; the client that made it.
async fn new_schedule_group(
    config: &aws_config::SdkConfig,
    group: &str,
) -> aws_sdk_scheduler::Client {
    let scheduler = aws_sdk_scheduler::Client::new(config);
    scheduler
        .create_schedule_group()
        .name(group)
        .send()
        .await
        .unwrap();
    scheduler
}

/// The role `GROUP-SUFFIX`, trusting `service` for this account's schedule group `group`,
/// with `policy` inline when given; its ARN.
async fn group_role(
    iam: &aws_sdk_iam::Client,
    group: &str,
    suffix: &str,
    service: &str,
    policy: Option<Value>,
) -> String {
    let group_arn = format!("arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{group}");
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": service}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnEquals": {"aws:SourceArn": group_arn}}}]});
    let name = format!("{group}-{suffix}");
    let arn = iam
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    if let Some(p) = policy {
        iam.put_role_policy()
            .role_name(&name)
            .policy_name("invoke")
            .policy_document(p.to_string())
            .send()
            .await
            .unwrap();
    }
    arn
}

/// A schedule made by hand (not the controller's): `rate(1 hour)` to `target` with `role`.
async fn create_schedule(
    scheduler: &aws_sdk_scheduler::Client,
    group: &str,
    name: &str,
    target: &str,
    role: &str,
) {
    scheduler
        .create_schedule()
        .name(name)
        .group_name(group)
        .schedule_expression("rate(1 hour)")
        .flexible_time_window(
            aws_sdk_scheduler::types::FlexibleTimeWindow::builder()
                .mode(aws_sdk_scheduler::types::FlexibleTimeWindowMode::Off)
                .build()
                .unwrap(),
        )
        .target(
            aws_sdk_scheduler::types::Target::builder()
                .arn(target)
                .role_arn(role)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}
