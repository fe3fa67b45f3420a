//! The controller's own IAM policy, as shipped in `deploy/iam/`, proven with the project's
//! own evaluator (`simulate`, the binary): every call the controller makes is allowed, and
//! what it must never do is not (a role without the boundary or outside the prefix and path,
//! a role passed to another service, a provisioning role outside the pattern or organisation).
//! The list of calls is checked against the source: a new AWS call without a case here fails.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

const ACCOUNT: &str = "123456789012";
const OTHER: &str = "222222222222";
const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/ebi-boundary";
const ORG: &str = "o-abc123def4";
const PROVISIONER: &str = "eventbridge-integration-provisioner";
const CONTROLLER: &str = "arn:aws:sts::123456789012:assumed-role/ebi-controller/pod";

/// A shipped file with its placeholders filled in as an operator would.
fn shipped(file: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/deploy/iam/{file}", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    let filled = [
        ("${PARTITION}", "aws"),
        ("${ACCOUNT_ID}", ACCOUNT),
        ("${ROLE_PATH}", "/eventbridge/"),
        ("${ROLE_PREFIX}", "ebi-"),
        ("${BOUNDARY_ARN}", BOUNDARY),
        ("${PROVISIONING_ROLE_NAME}", PROVISIONER),
        ("${ORG_ID}", ORG),
        (
            "${OIDC_PROVIDER}",
            "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
        ),
        ("${NAMESPACE}", "eventbridge-system"),
        ("${SERVICE_ACCOUNT}", "eventbridge-integration-controller"),
        ("${CONTROLLER_ROLE_NAME}", "ebi-controller"),
        ("${EXTERNAL_ID}", "example-external-id"),
    ]
    .iter()
    .fold(text, |t, (k, v)| t.replace(k, v));
    assert!(
        !filled.contains("${"),
        "{file}: a placeholder is not documented here: {filled}"
    );
    serde_json::from_str(&filled).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"))
}

/// The ARN of the role the controller creates for an object with these guardrails (the
/// planner's own naming, so the file and the code cannot drift apart).
fn created_role() -> String {
    use ebi::plan::{plan, DesiredRole, Facts, Guardrails, Owner};
    let spec: ebi::api::EventBridgeIntegrationSpec = serde_norway::from_str(&format!(
        "rule: {{eventPattern: {{source: [orders]}}}}\ntarget: {{stepFunctions: {{stateMachineArn: \"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:p\"}}}}"
    ))
    .unwrap();
    let owner = Owner {
        cluster: "c".into(),
        namespace: "team-a".into(),
        name: "orders".into(),
        uid: "u".into(),
    };
    let facts = Facts {
        account_id: ACCOUNT.parse().unwrap(),
        region: "us-east-1".parse().unwrap(),
        task_roles: Default::default(),
        provisioning_role_arn: None,
        recorded_roles: vec![],
        connection_secrets: Default::default(),
    };
    let guard = Guardrails {
        allowed_account_ids: vec![],
        role_name_prefix: Some("ebi-".into()),
        role_path: Some("/eventbridge/".into()),
        permissions_boundary_arn: Some(BOUNDARY.into()),
    };
    match plan(&spec, &owner, &facts, &guard).unwrap().local.role {
        DesiredRole::Managed(m) => {
            assert_eq!(m.permissions_boundary_arn.as_deref(), Some(BOUNDARY));
            m.arn.to_string()
        }
        other => panic!("{other:?}"),
    }
}

struct Case {
    name: String,
    principal: String,
    action: String,
    resource: String,
    /// The account that owns the resource (an AWS managed policy counts as the caller's).
    resource_account: String,
    context: Value,
    policies: Vec<Value>,
    /// The resource's own policy, where AWS requires one (a KMS key policy, the trust policy
    /// of a role in another account).
    resource_policy: Option<Value>,
    allowed: bool,
}

fn case(action: &str, resource: &str, context: Value, allowed: bool) -> Case {
    Case {
        name: format!("{action} on {resource} {context}"),
        principal: CONTROLLER.into(),
        action: action.into(),
        resource: resource.into(),
        resource_account: ebi::iam::arn::account_of(resource)
            .filter(|a| a.chars().all(|c| c.is_ascii_digit()))
            .unwrap_or_else(|| ACCOUNT.into()),
        context,
        policies: vec![shipped("controller-policy.json")],
        resource_policy: None,
        allowed,
    }
}

fn simulate(cases: &[Case]) -> Vec<(String, String)> {
    let requests: Vec<Value> = cases
        .iter()
        .map(|c| {
            let mut request = json!({
                "name": c.name,
                "request": {"action": c.action, "principal": c.principal,
                    "resource": {"resource": c.resource, "accountId": c.resource_account},
                    "context": c.context},
                "identityPolicies": c.policies,
            });
            if let Some(p) = &c.resource_policy {
                request["resourcePolicy"] = p.clone();
            }
            request
        })
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventbridge-integration-controller"))
        .args(["simulate", "--request", "-", "--output", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(Value::Array(requests).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let results: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("simulate: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["response"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn check(cases: Vec<Case>) {
    let results = simulate(&cases);
    let wrong: Vec<String> = cases
        .iter()
        .zip(&results)
        .filter(|(c, (_, response))| (response == "Allowed") != c.allowed)
        .map(|(c, (_, response))| format!("{}: {response}", c.name))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

fn boundary() -> Value {
    json!({"iam:PermissionsBoundary": BOUNDARY})
}

/// Every call the controller makes, with the resource it makes it on.
fn every_call(role: &str) -> Vec<Case> {
    let rule = format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/ebi-team-a-orders-1a2b3c4d");
    let bus = format!("arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default");
    let function = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:order-notifier:live");
    let queue = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:orders-dlq");
    let key = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let byo = format!("arn:aws:iam::{ACCOUNT}:role/orders-byo-role");
    let none = json!({});
    let mut cases = vec![];
    for action in [
        "iam:CreateRole",
        "iam:PutRolePermissionsBoundary",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
    ] {
        cases.push(case(action, role, boundary(), true));
    }
    for action in [
        "iam:UpdateAssumeRolePolicy",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:DeleteRole",
    ] {
        cases.push(case(action, role, none.clone(), true));
    }
    cases.push(case(
        "iam:PassRole",
        role,
        json!({"iam:PassedToService": "events.amazonaws.com"}),
        true,
    ));
    for action in [
        "iam:GetRole",
        "iam:GetRolePolicy",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:ListRoleTags",
    ] {
        cases.push(case(action, &byo, none.clone(), true));
    }
    for action in ["iam:GetPolicy", "iam:GetPolicyVersion"] {
        cases.push(case(
            action,
            "arn:aws:iam::aws:policy/AmazonEC2ContainerServiceEventsRole",
            none.clone(),
            true,
        ));
        cases.push(case(action, BOUNDARY, none.clone(), true));
    }
    for action in [
        "iam:GetAccountAuthorizationDetails",
        "iam:ListRoles",
        "events:ListRules",
        "events:ListEventBuses",
        "events:ListApiDestinations",
        "events:ListConnections",
        "scheduler:ListSchedules",
        "ecs:DescribeTaskDefinition",
    ] {
        cases.push(case(action, "*", none.clone(), true));
    }
    for action in [
        "events:PutRule",
        "events:DeleteRule",
        "events:DescribeRule",
        "events:PutTargets",
        "events:RemoveTargets",
        "events:ListTargetsByRule",
        "events:TagResource",
        "events:UntagResource",
        "events:ListTagsForResource",
    ] {
        cases.push(case(action, &rule, none.clone(), true));
    }
    for action in [
        "events:DescribeEventBus",
        "events:PutPermission",
        "events:RemovePermission",
    ] {
        cases.push(case(action, &bus, none.clone(), true));
    }
    // API destination targets: the destination and its connection, named as the rule.
    let destination =
        format!("arn:aws:events:us-east-1:{ACCOUNT}:api-destination/ebi-team-a-orders/0b1c2d3e");
    for action in [
        "events:CreateApiDestination",
        "events:UpdateApiDestination",
        "events:DeleteApiDestination",
        "events:DescribeApiDestination",
    ] {
        cases.push(case(action, &destination, none.clone(), true));
    }
    let connection =
        format!("arn:aws:events:us-east-1:{ACCOUNT}:connection/ebi-team-a-orders/4f5a6b7c");
    for action in [
        "events:CreateConnection",
        "events:UpdateConnection",
        "events:DeleteConnection",
        "events:DescribeConnection",
    ] {
        cases.push(case(action, &connection, none.clone(), true));
    }
    // EventBridge keeps a connection's credentials through its service-linked role, created
    // with the account's first connection.
    cases.push(case(
        "iam:CreateServiceLinkedRole",
        &format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/apidestinations.events.amazonaws.com/AWSServiceRoleForAmazonEventBridgeApiDestinations"),
        json!({"iam:AWSServiceName": "apidestinations.events.amazonaws.com"}),
        true,
    ));
    for action in [
        "lambda:AddPermission",
        "lambda:RemovePermission",
        "lambda:GetPolicy",
    ] {
        cases.push(case(action, &function, none.clone(), true));
    }
    for action in [
        "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
    ] {
        cases.push(case(action, &queue, none.clone(), true));
    }
    // SNS targets: the topic's policy, read and rewritten like a queue's.
    let topic = format!("arn:aws:sns:us-east-1:{ACCOUNT}:orders");
    for action in ["sns:GetTopicAttributes", "sns:SetTopicAttributes"] {
        cases.push(case(action, &topic, none.clone(), true));
    }
    // Direct delivery to a stream (in a target account, through the provisioning role, which
    // holds this policy there): the stream's resource policy, and no other stream's data.
    let stream = format!("arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/orders");
    for action in [
        "kinesis:GetResourcePolicy",
        "kinesis:PutResourcePolicy",
        "kinesis:DeleteResourcePolicy",
    ] {
        cases.push(case(action, &stream, none.clone(), true));
    }
    cases.push(case("kinesis:PutRecord", &stream, none.clone(), false));
    // Direct delivery to a REST API: the API's policy (PATCH on the API itself), its stage and
    // that stage's deployment (GET); never a change to its stages, methods or deployments
    // (deploying is the API owner's call), nor a call of the API.
    let rest_api = "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5";
    cases.push(case("apigateway:GET", rest_api, none.clone(), true));
    cases.push(case("apigateway:PATCH", rest_api, none.clone(), true));
    // API Gateway asks for both on a change of the policy.
    cases.push(case(
        "apigateway:UpdateRestApiPolicy",
        rest_api,
        none.clone(),
        true,
    ));
    for sub in ["/stages/prod", "/deployments/abc123"] {
        let sub = format!("{rest_api}{sub}");
        cases.push(case("apigateway:GET", &sub, none.clone(), true));
        cases.push(case("apigateway:PATCH", &sub, none.clone(), false));
    }
    cases.push(case(
        "apigateway:POST",
        &format!("{rest_api}/deployments"),
        none.clone(),
        false,
    ));
    cases.push(case(
        "apigateway:PATCH",
        &format!("{rest_api}/resources/r1/methods/POST"),
        none.clone(),
        false,
    ));
    cases.push(case(
        "execute-api:Invoke",
        &format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:a1b2c3d4e5/prod/POST/orders"),
        none.clone(),
        false,
    ));
    // spec.schedule: the schedules of this account (a schedule takes its role, passed to
    // Scheduler like the others to EventBridge).
    let schedule = format!("arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/default/ebi-x");
    for action in [
        "scheduler:GetSchedule",
        "scheduler:CreateSchedule",
        "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule",
    ] {
        cases.push(case(action, &schedule, none.clone(), true));
    }
    let group = format!("arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule-group/reports");
    cases.push(case(
        "scheduler:GetScheduleGroup",
        &group,
        none.clone(),
        true,
    ));
    cases.push(case(
        "scheduler:CreateScheduleGroup",
        &group,
        none.clone(),
        false,
    ));
    cases.push(case(
        "iam:PassRole",
        role,
        json!({"iam:PassedToService": "scheduler.amazonaws.com"}),
        true,
    ));
    // --drift-events: its own queues (the rule is a rule like the others: rule/ebi-drift-…).
    let drift_queue = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:ebi-drift-0123456789ab");
    for action in [
        "sqs:CreateQueue",
        "sqs:TagQueue",
        "sqs:ListQueueTags",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:DeleteQueue",
        "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
    ] {
        cases.push(case(action, &drift_queue, none.clone(), true));
    }
    // A KMS key's own policy must let the account's IAM policies work (the default key
    // policy does).
    let default_key_policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Enable IAM policies",
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"}]});
    // --read-dead-letters: the dead-letter queues' messages, with the policy shipped for that
    // opt-in beside the controller's (which alone reads no queue but its drift queues).
    cases.push(Case {
        policies: vec![
            shipped("controller-policy.json"),
            shipped("read-dead-letters-policy.json"),
        ],
        ..case("sqs:ReceiveMessage", &queue, none.clone(), true)
    });
    // The per-rule metrics of AWS/Events, for the Delivering condition (no resource types).
    cases.push(case("cloudwatch:GetMetricData", "*", none.clone(), true));
    // EventBridge's failed calls, from CloudTrail's management events (no resource types).
    cases.push(case("cloudtrail:LookupEvents", "*", none.clone(), true));
    // Where event buses log, and a rule's failure records there (no resource types for the
    // two listings).
    for action in ["logs:DescribeDeliverySources", "logs:DescribeDeliveries"] {
        cases.push(case(action, "*", none.clone(), true));
    }
    // The controller's statements for log group targets, in the account's CloudWatch Logs
    // resource policy of its name (no resource types).
    for action in [
        "logs:DescribeResourcePolicies",
        "logs:PutResourcePolicy",
        "logs:DeleteResourcePolicy",
    ] {
        cases.push(case(action, "*", none.clone(), true));
    }
    cases.push(case(
        "logs:GetDeliveryDestination",
        &format!("arn:aws:logs:us-east-1:{ACCOUNT}:delivery-destination:default-bus-errors"),
        none.clone(),
        true,
    ));
    cases.push(case(
        "logs:FilterLogEvents",
        &format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/vendedlogs/events/default"),
        none.clone(),
        true,
    ));
    for action in ["kms:DescribeKey", "kms:GetKeyPolicy"] {
        cases.push(Case {
            resource_policy: Some(default_key_policy.clone()),
            ..case(action, &key, none.clone(), true)
        });
    }
    // A role of another account: its trust policy (the shipped one) must admit the controller.
    cases.push(Case {
        resource_policy: Some(shipped("provisioning-role-trust.json")),
        ..case(
            "sts:AssumeRole",
            &format!("arn:aws:iam::{OTHER}:role/{PROVISIONER}"),
            json!({"aws:ResourceOrgID": ORG, "sts:ExternalId": "example-external-id"}),
            true,
        )
    });
    // Needs no permission at all (AWS: "No permissions are required to perform this
    // operation"), which the evaluator knows.
    cases.push(case("sts:GetCallerIdentity", "*", none.clone(), true));
    // Read by --organization-role-arn, a role of the management account.
    let org = |action: &str, resource: &str| Case {
        principal: "arn:aws:sts::111111111111:assumed-role/organization-reader/ebi".into(),
        resource_account: "111111111111".into(),
        policies: vec![shipped("organizations-read-policy.json")],
        ..case(action, resource, json!({}), true)
    };
    cases.push(org("organizations:DescribeOrganization", "*"));
    cases.push(org(
        "organizations:ListParents",
        &format!("arn:aws:organizations::111111111111:account/{ORG}/{ACCOUNT}"),
    ));
    cases.push(org(
        "organizations:ListPoliciesForTarget",
        &format!("arn:aws:organizations::111111111111:ou/{ORG}/ou-ab12-cdef3456"),
    ));
    cases.push(org(
        "organizations:DescribePolicy",
        &format!(
            "arn:aws:organizations::111111111111:policy/{ORG}/service_control_policy/p-abcd1234"
        ),
    ));
    cases
}

#[test]
fn every_call_the_controller_makes_is_allowed() {
    let role = created_role();
    assert_eq!(
        role,
        format!(
            "arn:aws:iam::{ACCOUNT}:role/eventbridge/ebi-team-a-orders-{}",
            &role[role.len() - 8..]
        ),
        "the role the controller creates is under the path and prefix the policy names"
    );
    check(every_call(&role));
}

#[test]
fn what_the_controller_must_never_do_is_not_allowed() {
    check(never(&created_role()));
}

fn never(role: &str) -> Vec<Case> {
    let role = role.to_string();
    let none = json!({});
    vec![
        // No other service-linked role.
        case(
            "iam:CreateServiceLinkedRole",
            &format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS"),
            json!({"iam:AWSServiceName": "ecs.amazonaws.com"}),
            false,
        ),
        // Only the drift queues are created, read, emptied or deleted; a dead-letter queue
        // (anyone's queue) only has its policy written.
        case(
            "sqs:DeleteQueue",
            &format!("arn:aws:sqs:us-east-1:{ACCOUNT}:orders-dlq"),
            none.clone(),
            false,
        ),
        case(
            "sqs:ReceiveMessage",
            &format!("arn:aws:sqs:us-east-1:{ACCOUNT}:orders-dlq"),
            none.clone(),
            false,
        ),
        case(
            "sqs:CreateQueue",
            &format!("arn:aws:sqs:us-east-1:{ACCOUNT}:orders"),
            none.clone(),
            false,
        ),
        // No role without the boundary, with another one, outside the prefix or the path.
        case("iam:CreateRole", &role, none.clone(), false),
        case(
            "iam:CreateRole",
            &role,
            json!({"iam:PermissionsBoundary": format!("arn:aws:iam::{ACCOUNT}:policy/admin")}),
            false,
        ),
        case(
            "iam:CreateRole",
            &format!("arn:aws:iam::{ACCOUNT}:role/eventbridge/admin"),
            boundary(),
            false,
        ),
        case(
            "iam:CreateRole",
            &format!("arn:aws:iam::{ACCOUNT}:role/ebi-team-a-orders"),
            boundary(),
            false,
        ),
        case("iam:PutRolePolicy", &role, none.clone(), false),
        case(
            "iam:PutRolePolicy",
            &format!("arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"),
            boundary(),
            false,
        ),
        case(
            "iam:UpdateAssumeRolePolicy",
            &format!("arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"),
            none.clone(),
            false,
        ),
        case(
            "iam:DeleteRolePermissionsBoundary",
            &role,
            none.clone(),
            false,
        ),
        // Its roles go to EventBridge, and only its roles.
        case(
            "iam:PassRole",
            &role,
            json!({"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
            false,
        ),
        case(
            "iam:PassRole",
            &format!("arn:aws:iam::{ACCOUNT}:role/admin"),
            json!({"iam:PassedToService": "events.amazonaws.com"}),
            false,
        ),
        // Only the provisioning roles, only in the organisation.
        case(
            "sts:AssumeRole",
            &format!("arn:aws:iam::{OTHER}:role/OrganizationAccountAccessRole"),
            json!({"aws:ResourceOrgID": ORG}),
            false,
        ),
        case(
            "sts:AssumeRole",
            &format!("arn:aws:iam::{OTHER}:role/{PROVISIONER}"),
            json!({"aws:ResourceOrgID": "o-someoneelse"}),
            false,
        ),
        // Nothing of another account.
        case(
            "events:PutRule",
            "arn:aws:events:us-east-1:999999999999:rule/x",
            none.clone(),
            false,
        ),
        case(
            "lambda:AddPermission",
            "arn:aws:lambda:us-east-1:999999999999:function:f",
            none.clone(),
            false,
        ),
        case(
            "sqs:SetQueueAttributes",
            "arn:aws:sqs:us-east-1:999999999999:q",
            none.clone(),
            false,
        ),
    ]
}

#[test]
fn no_allow_is_on_every_resource_where_the_action_has_resource_level_permissions() {
    let policy = shipped("controller-policy.json");
    // The actions of the service authorization reference without resource types.
    let none = BTreeSet::from([
        "iam:GetAccountAuthorizationDetails",
        "iam:ListRoles",
        "events:ListRules",
        "events:ListEventBuses",
        "events:ListApiDestinations",
        "events:ListConnections",
        "scheduler:ListSchedules",
        "ecs:DescribeTaskDefinition",
        "cloudwatch:GetMetricData",
        "logs:DescribeDeliverySources",
        "logs:DescribeDeliveries",
        "cloudtrail:LookupEvents",
        "logs:DescribeResourcePolicies",
        "logs:PutResourcePolicy",
        "logs:DeleteResourcePolicy",
    ]);
    for s in policy["Statement"].as_array().unwrap() {
        if s["Effect"] != "Allow" || s["Resource"] != "*" {
            continue;
        }
        for action in s["Action"].as_array().unwrap() {
            assert!(
                none.contains(action.as_str().unwrap()),
                "{action} allowed on *"
            );
        }
    }
}

/// Every AWS operation the source makes (each is named in its `classify("service:Op", …)`)
/// has a case above; a new call fails this test until the shipped policy and the cases say
/// whether it is allowed.
#[test]
fn the_cases_cover_every_call_in_the_source() {
    let mut made = BTreeSet::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for piece in text.split("classify(").skip(1) {
                let quoted = piece
                    .trim_start()
                    .strip_prefix('"')
                    .and_then(|p| p.split('"').next());
                if let Some(op) = quoted.filter(|op| op.contains(':')) {
                    made.insert(op.to_string());
                }
            }
        }
    }
    made.insert("sts:AssumeRole".into()); // the SDK's AssumeRoleProvider
    assert!(made.len() > 40, "found the calls: {made:?}");
    let covered: BTreeSet<String> = every_call("arn:aws:iam::1:role/x")
        .into_iter()
        .chain(never("arn:aws:iam::1:role/x"))
        .map(|c| c.action)
        .collect();
    let missing: Vec<&String> = made.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "calls without a case (and maybe without a grant): {missing:?}"
    );
}

#[test]
fn the_trust_policies_parse_and_name_their_principals() {
    for (file, principal) in [
        (
            "trust-irsa.json",
            "oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
        ),
        ("trust-pod-identity.json", "pods.eks.amazonaws.com"),
        ("provisioning-role-trust.json", "role/ebi-controller"),
    ] {
        let doc = shipped(file);
        ebi::iam::PolicyDocument::parse(&doc).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(doc.to_string().contains(principal), "{file}");
    }
}
