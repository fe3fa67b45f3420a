//! The CRD's CEL rules (`x-kubernetes-validations`), which API servers from 1.25 enforce at
//! `kubectl apply`, evaluated here with kube's client-side CEL (the local 1.20 API server
//! ignores them), on valid and invalid objects; and the reconcile-time checks, which older
//! servers rely on, agree with them case by case.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::collections::BTreeSet;

use ebi::api::{EventBridgeIntegration, EventBridgeIntegrationSpec};
use ebi::plan::{plan, validate, Facts, Guardrails, Owner, PlanError};
use kube::core::cel::Validator;
use serde::Deserialize;
use serde_json::{json, Value};

const A: &str = "123456789012";
const B: &str = "222222222222";

fn schema() -> Value {
    let crd = ebi::api::crd();
    serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .unwrap(),
    )
    .unwrap()
}

fn object(spec: &Value) -> Value {
    json!({"apiVersion": "eventbridge.dev/v1alpha1", "kind": "EventBridgeIntegration",
           "metadata": {"name": "orders", "namespace": "team-a"}, "spec": spec})
}

/// The CEL verdict: the failing rules' messages (empty: accepted).
fn cel(spec: &Value) -> Vec<(String, String)> {
    match Validator::new().validate(&schema(), &object(spec), None) {
        Ok(()) => vec![],
        Err(errors) => errors
            .into_iter()
            .map(|e| (e.rule.clone(), e.message.clone()))
            .collect(),
    }
}

/// The reconcile-time verdict: the refused field, if any.
fn reconcile(spec: &Value) -> Option<String> {
    let spec: EventBridgeIntegrationSpec = serde_json::from_value(spec.clone()).unwrap();
    // As the controller does: each target as the one target of a spec of its own.
    for (field, view) in ebi::plan::target_list::views(&spec) {
        if let Err(e) = validate(&view) {
            return Some(ebi::plan::target_list::of_entry(&field, e).field);
        }
    }
    let owner = Owner {
        cluster: "c".into(),
        namespace: "team-a".into(),
        name: "orders".into(),
        uid: "u".into(),
    };
    let facts = Facts {
        account_id: A.parse().unwrap(),
        region: spec
            .region
            .as_deref()
            .unwrap_or("us-east-1")
            .parse()
            .unwrap(),
        // The roles of every task definition a case names, as the controller reads them.
        task_roles: spec
            .target_entries()
            .into_iter()
            .filter_map(|(_, t)| t.ecs.as_ref())
            .map(|e| {
                (
                    e.task_definition_arn.clone(),
                    vec![format!("arn:aws:iam::{A}:role/exec")],
                )
            })
            .collect(),
        recorded_roles: vec![],
        provisioning_role_arn: spec
            .cross_account
            .as_ref()
            .and_then(|x| x.provisioning_role_arn.clone()),
        // As the controller reads them from the connections' Secrets.
        connection_secrets: spec
            .target_entries()
            .into_iter()
            .filter_map(|(_, t)| t.api_destination.as_ref())
            .map(|d| {
                let secret = ebi::plan::ConnectionSecret {
                    version: format!("{}@1", d.connection.secret_ref.name),
                    first: "x-api-key".into(),
                    second: "secret".into(),
                };
                (d.connection.secret_ref.name.clone(), secret)
            })
            .collect(),
    };
    match plan(&spec, &owner, &facts, &Guardrails::default()) {
        Ok(_) => None,
        Err(PlanError::InvalidSpec(e)) => Some(e.field),
        Err(PlanError::Guardrail(g)) => Some(g),
    }
}

fn lambda(function: &str) -> Value {
    json!({"rule": {"eventPattern": {"source": ["orders"]}}, "target": {"lambda": {"functionArn": function}}})
}

fn function(account: &str, region: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:notifier")
}

fn ecs(extra: Value) -> Value {
    let mut e = json!({"clusterArn": format!("arn:aws:ecs:us-east-1:{A}:cluster/c"),
                       "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:{A}:task-definition/w:3"),
                       "networkConfiguration": {"subnets": ["subnet-0a1b2c3d"]}});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            e.as_object_mut().unwrap().remove(k);
        } else {
            e[k] = v.clone();
        }
    }
    json!({"rule": {"eventPattern": {"source": ["orders"]}}, "target": {"ecs": e}})
}

fn sqs(queue: &str, group: Option<&str>) -> Value {
    let mut q = json!({"queueArn": queue});
    if let Some(g) = group {
        q["messageGroupId"] = json!(g);
    }
    json!({"rule": {"eventPattern": {"source": ["orders"]}}, "target": {"sqs": q}})
}

fn queue(account: &str, region: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:{account}:{name}")
}

fn sns(topic: &str, group: Option<&str>) -> Value {
    let mut t = json!({"topicArn": topic});
    if let Some(g) = group {
        t["messageGroupId"] = json!(g);
    }
    json!({"rule": {"eventPattern": {"source": ["orders"]}}, "target": {"sns": t}})
}

fn topic(account: &str, region: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{account}:{name}")
}

fn kinesis(stream: &str, partition_key_path: Option<&str>) -> Value {
    let mut t = json!({"streamArn": stream});
    if let Some(p) = partition_key_path {
        t["partitionKeyPath"] = json!(p);
    }
    json!({"rule": {"eventPattern": {"source": ["orders"]}}, "target": {"kinesis": t}})
}

fn stream(account: &str, region: &str, name: &str) -> String {
    format!("arn:aws:kinesis:{region}:{account}:stream/{name}")
}

fn api_gateway(region: &str, method: &str, path: &str) -> Value {
    json!({"rule": {"eventPattern": {"source": ["orders"]}}, "target": {"apiGateway": {
        "restApiArn": format!("arn:aws:apigateway:{region}::/restapis/a1b2c3d4e5"),
        "stage": "prod", "method": method, "path": path}}})
}

fn api_destination(endpoint: &str, connection: Value) -> Value {
    json!({"rule": {"eventPattern": {"source": ["orders"]}}, "target": {"apiDestination": {
        "endpoint": endpoint, "httpMethod": "POST", "connection": connection}}})
}

fn api_key() -> Value {
    json!({"authorizationType": "API_KEY", "secretRef": {"name": "orders-api"}})
}

fn logs(group: &str) -> Value {
    json!({"rule": {"eventPattern": {"source": ["orders"]}}, "target": {"logs": {"logGroupArn": group}}})
}

/// `object` with `key` set to `value`.
fn dict_with(mut object: Value, key: &str, value: &str) -> Value {
    object[key] = json!(value);
    object
}

fn with(mut spec: Value, path: &[&str], value: Value) -> Value {
    let mut at = &mut spec;
    for key in &path[..path.len() - 1] {
        at = &mut at[*key];
    }
    at[path[path.len() - 1]] = value;
    spec
}

/// (name, spec, the field CEL names or None, the field the reconcile-time check refuses).
fn cases() -> Vec<(
    &'static str,
    Value,
    Option<&'static str>,
    Option<&'static str>,
)> {
    let fwd = json!({"targetAccountId": B, "mode": "EventBusForwarding",
                     "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")});
    let chain = json!({"targetAccountId": B, "mode": "RoleChain",
                       "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")});
    let direct = json!({"targetAccountId": B, "mode": "DirectDelivery",
                        "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")});
    let in_b = |mut s: Value| {
        let text = s.to_string().replace(&format!(":{A}:"), &format!(":{B}:"));
        s = serde_json::from_str(&text).unwrap();
        s
    };
    vec![
        (
            "a Lambda target",
            lambda(&function(A, "us-east-1")),
            None,
            None,
        ),
        ("ECS on Fargate", ecs(json!({})), None, None),
        (
            "an SQS target",
            sqs(&queue(A, "us-east-1", "orders"), None),
            None,
            None,
        ),
        (
            "a FIFO SQS target with its message group",
            sqs(&queue(A, "us-east-1", "orders.fifo"), Some("g1")),
            None,
            None,
        ),
        (
            "a FIFO SQS target without a message group",
            sqs(&queue(A, "us-east-1", "orders.fifo"), None),
            Some("spec.target.sqs.messageGroupId"),
            Some("spec.target.sqs.messageGroupId"),
        ),
        (
            "a standard SQS target with a message group",
            sqs(&queue(A, "us-east-1", "orders"), Some("g1")),
            Some("spec.target.sqs.messageGroupId"),
            Some("spec.target.sqs.messageGroupId"),
        ),
        (
            "a role with an SQS target",
            with(
                sqs(&queue(A, "us-east-1", "orders"), None),
                &["role"],
                json!({"name": "ebi-r"}),
            ),
            Some("spec.role"),
            Some("spec.role"),
        ),
        (
            "an SQS target across accounts, bus to bus",
            with(
                sqs(&queue(B, "us-east-1", "orders"), None),
                &["crossAccount"],
                fwd.clone(),
            ),
            Some("spec.target.sqs.queueArn"),
            Some("spec.target.sqs.queueArn"),
        ),
        (
            "an SQS target across accounts, delivered directly",
            with(
                sqs(&queue(B, "us-east-1", "orders"), None),
                &["crossAccount"],
                direct.clone(),
            ),
            None,
            None,
        ),
        (
            "an SQS target of another account than targetAccountId",
            with(
                sqs(&queue("333333333333", "us-east-1", "orders"), None),
                &["crossAccount"],
                direct.clone(),
            ),
            Some("spec.crossAccount.targetAccountId"),
            Some("spec.target.sqs.queueArn"),
        ),
        (
            "an SQS queue not in spec.region",
            with(
                sqs(&queue(A, "us-east-1", "orders"), None),
                &["region"],
                json!("eu-west-1"),
            ),
            Some("spec.region"),
            Some("spec.target.sqs.queueArn"),
        ),
        (
            "an SNS target",
            sns(&topic(A, "us-east-1", "orders"), None),
            None,
            None,
        ),
        (
            "a FIFO SNS target with its message group",
            sns(&topic(A, "us-east-1", "orders.fifo"), Some("g1")),
            None,
            None,
        ),
        (
            "a FIFO SNS target without a message group",
            sns(&topic(A, "us-east-1", "orders.fifo"), None),
            Some("spec.target.sns.messageGroupId"),
            Some("spec.target.sns.messageGroupId"),
        ),
        (
            "a standard SNS target with a message group",
            sns(&topic(A, "us-east-1", "orders"), Some("g1")),
            Some("spec.target.sns.messageGroupId"),
            Some("spec.target.sns.messageGroupId"),
        ),
        (
            "a role with an SNS target",
            with(
                sns(&topic(A, "us-east-1", "orders"), None),
                &["role"],
                json!({"name": "ebi-r"}),
            ),
            Some("spec.role"),
            Some("spec.role"),
        ),
        (
            "an SNS target across accounts, bus to bus",
            with(
                sns(&topic(B, "us-east-1", "orders"), None),
                &["crossAccount"],
                fwd.clone(),
            ),
            Some("spec.target.sns.topicArn"),
            Some("spec.target.sns.topicArn"),
        ),
        (
            "an SNS target across accounts, delivered directly",
            with(
                sns(&topic(B, "us-east-1", "orders"), None),
                &["crossAccount"],
                direct.clone(),
            ),
            None,
            None,
        ),
        (
            "an SNS topic not in spec.region",
            with(
                sns(&topic(A, "us-east-1", "orders"), None),
                &["region"],
                json!("eu-west-1"),
            ),
            Some("spec.region"),
            Some("spec.target.sns.topicArn"),
        ),
        (
            "a Kinesis target",
            kinesis(&stream(A, "us-east-1", "orders"), None),
            None,
            None,
        ),
        (
            "a Kinesis target partitioned by a field, with a role named",
            with(
                kinesis(&stream(A, "us-east-1", "orders"), Some("$.detail.id")),
                &["role"],
                json!({"name": "ebi-r"}),
            ),
            None,
            None,
        ),
        (
            "a Kinesis target across accounts",
            with(
                kinesis(&stream(B, "us-east-1", "orders"), None),
                &["crossAccount"],
                fwd.clone(),
            ),
            Some("spec.target.kinesis.streamArn"),
            Some("spec.target.kinesis.streamArn"),
        ),
        (
            "a Kinesis target across accounts, delivered directly",
            with(
                kinesis(&stream(B, "us-east-1", "orders"), None),
                &["crossAccount"],
                direct.clone(),
            ),
            None,
            None,
        ),
        (
            "a Kinesis target across accounts, no mode: delivered directly",
            with(
                kinesis(&stream(B, "us-east-1", "orders"), None),
                &["crossAccount"],
                json!({"targetAccountId": B,
                       "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")}),
            ),
            None,
            None,
        ),
        (
            "a Kinesis target of another account than targetAccountId",
            with(
                kinesis(&stream("333333333333", "us-east-1", "orders"), None),
                &["crossAccount"],
                direct.clone(),
            ),
            Some("spec.crossAccount.targetAccountId"),
            Some("spec.target.kinesis.streamArn"),
        ),
        (
            "a Kinesis stream not in spec.region",
            with(
                kinesis(&stream(A, "us-east-1", "orders"), None),
                &["region"],
                json!("eu-west-1"),
            ),
            Some("spec.region"),
            Some("spec.target.kinesis.streamArn"),
        ),
        (
            "an API Gateway target",
            api_gateway("us-east-1", "POST", "/orders"),
            None,
            None,
        ),
        (
            "an API Gateway target with a path parameter and its value",
            with(
                api_gateway("us-east-1", "ANY", "/orders/*"),
                &["target", "apiGateway", "pathParameterValues"],
                json!(["$.detail.id"]),
            ),
            None,
            None,
        ),
        (
            "an API Gateway target across accounts",
            with(
                api_gateway("us-east-1", "POST", "/orders"),
                &["crossAccount"],
                fwd.clone(),
            ),
            Some("spec.target.apiGateway.restApiArn"),
            Some("spec.target.apiGateway.restApiArn"),
        ),
        (
            "an API Gateway target across accounts, called directly",
            with(
                api_gateway("us-east-1", "POST", "/orders"),
                &["crossAccount"],
                direct.clone(),
            ),
            None,
            None,
        ),
        (
            "an API Gateway target across accounts, no mode: called directly",
            with(
                api_gateway("us-east-1", "POST", "/orders"),
                &["crossAccount"],
                json!({"targetAccountId": B,
                       "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")}),
            ),
            None,
            None,
        ),
        (
            "an API Gateway API not in spec.region",
            with(
                api_gateway("us-east-1", "POST", "/orders"),
                &["region"],
                json!("eu-west-1"),
            ),
            Some("spec.region"),
            Some("spec.target.apiGateway.restApiArn"),
        ),
        (
            "an API destination with an API key",
            api_destination("https://api.example.com/orders", api_key()),
            None,
            None,
        ),
        (
            "an API destination with OAuth client credentials",
            api_destination(
                "https://api.example.com/orders",
                json!({"authorizationType": "OAUTH_CLIENT_CREDENTIALS", "secretRef": {"name": "s"},
                    "oauth": {"authorizationEndpoint": "https://auth.example.com/token", "httpMethod": "POST"}}),
            ),
            None,
            None,
        ),
        (
            "an API destination over plain HTTP",
            api_destination("http://api.example.com/orders", api_key()),
            Some("spec.target.apiDestination.endpoint"),
            Some("spec.target.apiDestination.endpoint"),
        ),
        (
            "OAuth client credentials without their token endpoint",
            api_destination(
                "https://api.example.com/orders",
                json!({"authorizationType": "OAUTH_CLIENT_CREDENTIALS", "secretRef": {"name": "s"}}),
            ),
            Some("spec.target.apiDestination.connection.oauth"),
            Some("spec.target.apiDestination.connection.oauth"),
        ),
        (
            "a token endpoint for an API key",
            api_destination(
                "https://api.example.com/orders",
                json!({"authorizationType": "API_KEY", "secretRef": {"name": "s"},
                    "oauth": {"authorizationEndpoint": "https://auth.example.com/token", "httpMethod": "POST"}}),
            ),
            Some("spec.target.apiDestination.connection.oauth"),
            Some("spec.target.apiDestination.connection.oauth"),
        ),
        (
            "an API destination across accounts",
            with(
                api_destination("https://api.example.com/orders", api_key()),
                &["crossAccount"],
                fwd.clone(),
            ),
            Some("spec.target.apiDestination.endpoint"),
            Some("spec.target.apiDestination.endpoint"),
        ),
        (
            "a log group target",
            logs(&format!(
                "arn:aws:logs:us-east-1:{A}:log-group:/aws/events/orders"
            )),
            None,
            None,
        ),
        (
            "a role with a log group target",
            with(
                logs(&format!(
                    "arn:aws:logs:us-east-1:{A}:log-group:/aws/events/orders"
                )),
                &["role"],
                json!({"name": "ebi-r"}),
            ),
            Some("spec.role"),
            Some("spec.role"),
        ),
        (
            "a log group target across accounts",
            with(
                logs(&format!(
                    "arn:aws:logs:us-east-1:{B}:log-group:/aws/events/orders"
                )),
                &["crossAccount"],
                fwd.clone(),
            ),
            Some("spec.target.logs.logGroupArn"),
            Some("spec.target.logs.logGroupArn"),
        ),
        (
            "a log group not in spec.region",
            with(
                logs(&format!(
                    "arn:aws:logs:us-east-1:{A}:log-group:/aws/events/orders"
                )),
                &["region"],
                json!("eu-west-1"),
            ),
            Some("spec.region"),
            Some("spec.target.logs.logGroupArn"),
        ),
        (
            "ECS on EC2 without network",
            ecs(json!({"launchType": "EC2", "networkConfiguration": null})),
            None,
            None,
        ),
        (
            "Fargate without network",
            ecs(json!({"networkConfiguration": null})),
            Some("spec.target.ecs.networkConfiguration"),
            Some("spec.target.ecs.networkConfiguration"),
        ),
        (
            "Revision scope with a revision",
            ecs(json!({"taskDefinitionScope": "Revision"})),
            None,
            None,
        ),
        (
            "Revision scope without one",
            ecs(
                json!({"taskDefinitionScope": "Revision", "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:{A}:task-definition/w")}),
            ),
            Some("spec.target.ecs.taskDefinitionArn"),
            Some("spec.target.ecs.taskDefinitionArn"),
        ),
        (
            "Lambda with a role",
            with(
                lambda(&function(A, "us-east-1")),
                &["role"],
                json!({"name": "r"}),
            ),
            Some("spec.role"),
            Some("spec.role"),
        ),
        (
            "a schedule",
            with(
                lambda(&function(A, "us-east-1")),
                &["rule"],
                json!({"scheduleExpression": "rate(5 minutes)"}),
            ),
            None,
            None,
        ),
        (
            "rate(1 minute)",
            with(
                lambda(&function(A, "us-east-1")),
                &["rule"],
                json!({"scheduleExpression": "rate(1 minute)"}),
            ),
            None,
            None,
        ),
        (
            "rate(1 minutes)",
            with(
                lambda(&function(A, "us-east-1")),
                &["rule"],
                json!({"scheduleExpression": "rate(1 minutes)"}),
            ),
            Some("spec.rule.scheduleExpression"),
            Some("spec.rule.scheduleExpression"),
        ),
        (
            "rate(5 minute)",
            with(
                lambda(&function(A, "us-east-1")),
                &["rule"],
                json!({"scheduleExpression": "rate(5 minute)"}),
            ),
            Some("spec.rule.scheduleExpression"),
            Some("spec.rule.scheduleExpression"),
        ),
        (
            "a schedule on a custom bus",
            with(
                lambda(&function(A, "us-east-1")),
                &["rule"],
                json!({"scheduleExpression": "rate(5 minutes)", "eventBusName": "orders"}),
            ),
            Some("spec.rule.eventBusName"),
            Some("spec.rule.eventBusName"),
        ),
        (
            "a schedule on the default bus named",
            with(
                lambda(&function(A, "us-east-1")),
                &["rule"],
                json!({"scheduleExpression": "rate(5 minutes)", "eventBusName": "default"}),
            ),
            None,
            None,
        ),
        (
            "an empty pattern",
            with(
                lambda(&function(A, "us-east-1")),
                &["rule"],
                json!({"eventPattern": {}}),
            ),
            Some("spec.rule.eventPattern"),
            Some("spec.rule.eventPattern"),
        ),
        (
            "a bring-your-own role with a path",
            with(
                ecs(json!({})),
                &["role"],
                json!({"arn": format!("arn:aws:iam::{A}:role/r"), "path": "/x/"}),
            ),
            Some("spec.role"),
            Some("spec.role"),
        ),
        (
            "a created role with a path",
            with(
                ecs(json!({})),
                &["role"],
                json!({"name": "r", "path": "/x/"}),
            ),
            None,
            None,
        ),
        (
            "spec.region matching the target",
            with(
                lambda(&function(A, "eu-west-1")),
                &["region"],
                json!("eu-west-1"),
            ),
            None,
            None,
        ),
        (
            "spec.region not the target's",
            with(
                lambda(&function(A, "us-east-1")),
                &["region"],
                json!("eu-west-1"),
            ),
            Some("spec.region"),
            Some("spec.target.lambda.functionArn"),
        ),
        (
            "a dead-letter queue in the region",
            with(
                with(
                    lambda(&function(A, "eu-west-1")),
                    &["region"],
                    json!("eu-west-1"),
                ),
                &["target", "deadLetterQueueArn"],
                json!(format!("arn:aws:sqs:eu-west-1:{A}:dlq")),
            ),
            None,
            None,
        ),
        (
            "a dead-letter queue in another region",
            with(
                with(
                    lambda(&function(A, "eu-west-1")),
                    &["region"],
                    json!("eu-west-1"),
                ),
                &["target", "deadLetterQueueArn"],
                json!(format!("arn:aws:sqs:us-east-1:{A}:dlq")),
            ),
            Some("spec.target.deadLetterQueueArn"),
            Some("spec.target.deadLetterQueueArn"),
        ),
        (
            "forwarding to ECS in B",
            with(in_b(ecs(json!({}))), &["crossAccount"], fwd.clone()),
            None,
            None,
        ),
        (
            "RoleChain to Lambda in B",
            with(
                lambda(&function(B, "us-east-1")),
                &["crossAccount"],
                chain.clone(),
            ),
            None,
            None,
        ),
        (
            "DirectDelivery to Lambda in B",
            with(
                lambda(&function(B, "us-east-1")),
                &["crossAccount"],
                direct.clone(),
            ),
            None,
            None,
        ),
        (
            "a function in B, no mode: delivered directly",
            with(
                lambda(&function(B, "us-east-1")),
                &["crossAccount"],
                json!({"targetAccountId": B, "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")}),
            ),
            None,
            None,
        ),
        (
            "ECS in B, no mode: bus to bus",
            with(
                in_b(ecs(json!({}))),
                &["crossAccount"],
                json!({"targetAccountId": B, "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")}),
            ),
            None,
            None,
        ),
        (
            "a target bus for a function in B, no mode",
            with(
                lambda(&function(B, "us-east-1")),
                &["crossAccount"],
                json!({"targetAccountId": B, "targetEventBusName": "central",
                       "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")}),
            ),
            Some("spec.crossAccount.targetEventBusName"),
            Some("spec.crossAccount.targetEventBusName"),
        ),
        (
            "DirectDelivery to ECS",
            with(in_b(ecs(json!({}))), &["crossAccount"], direct.clone()),
            Some("spec.crossAccount.mode"),
            Some("spec.crossAccount.mode"),
        ),
        (
            "RoleChain's former targetRoleName, still accepted",
            with(
                lambda(&function(B, "us-east-1")),
                &["crossAccount"],
                json!({"targetAccountId": B, "mode": "RoleChain", "targetRoleName": "old-invoker",
                       "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")}),
            ),
            None,
            None,
        ),
        (
            "targetRoleName with DirectDelivery",
            with(
                lambda(&function(B, "us-east-1")),
                &["crossAccount"],
                json!({"targetAccountId": B, "mode": "DirectDelivery", "targetRoleName": "old-invoker",
                       "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")}),
            ),
            Some("spec.crossAccount.targetRoleName"),
            Some("spec.crossAccount.targetRoleName"),
        ),
        (
            "RoleChain to ECS",
            with(in_b(ecs(json!({}))), &["crossAccount"], chain.clone()),
            Some("spec.crossAccount.mode"),
            Some("spec.crossAccount.mode"),
        ),
        (
            "a target outside the target account",
            with(ecs(json!({})), &["crossAccount"], fwd.clone()),
            Some("spec.crossAccount.targetAccountId"),
            Some("spec.target.ecs.clusterArn"),
        ),
        (
            "a provisioning role of another account",
            with(
                in_b(ecs(json!({}))),
                &["crossAccount"],
                with(
                    fwd.clone(),
                    &["provisioningRoleArn"],
                    json!(format!("arn:aws:iam::{A}:role/p")),
                ),
            ),
            Some("spec.crossAccount.provisioningRoleArn"),
            Some("spec.crossAccount.provisioningRoleArn"),
        ),
        (
            "a target role name when forwarding",
            with(
                in_b(ecs(json!({}))),
                &["crossAccount"],
                with(fwd.clone(), &["targetRoleName"], json!("r")),
            ),
            Some("spec.crossAccount.targetRoleName"),
            Some("spec.crossAccount.targetRoleName"),
        ),
        (
            "a target bus with RoleChain",
            with(
                lambda(&function(B, "us-east-1")),
                &["crossAccount"],
                with(chain.clone(), &["targetEventBusName"], json!("orders")),
            ),
            Some("spec.crossAccount.targetEventBusName"),
            Some("spec.crossAccount.targetEventBusName"),
        ),
        (
            "a bring-your-own role across accounts",
            with(
                with(in_b(ecs(json!({}))), &["crossAccount"], fwd.clone()),
                &["role"],
                json!({"arn": format!("arn:aws:iam::{A}:role/r")}),
            ),
            Some("spec.role.arn"),
            Some("spec.role.arn"),
        ),
        (
            "five targets on one rule",
            json!({"rule": {"eventPattern": {"source": ["orders"]}}, "targets": [
                dict_with(lambda(&function(A, "us-east-1"))["target"].clone(), "id", "notify"),
                dict_with(sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone(), "id", "queue"),
                dict_with(kinesis(&stream(A, "us-east-1", "clicks"), None)["target"].clone(), "id", "clicks"),
                dict_with(sns(&topic(A, "us-east-1", "alerts"), None)["target"].clone(), "id", "alerts"),
                dict_with(logs(&format!("arn:aws:logs:us-east-1:{A}:log-group:/aws/events/orders"))["target"].clone(), "id", "audit"),
            ]}),
            None,
            None,
        ),
        (
            "both target and targets",
            with(
                lambda(&function(A, "us-east-1")),
                &["targets"],
                json!([dict_with(
                    sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone(),
                    "id",
                    "q"
                )]),
            ),
            Some("spec.targets"),
            Some("spec.targets"),
        ),
        (
            "neither target nor targets",
            json!({"rule": {"eventPattern": {"source": ["orders"]}}}),
            Some("spec.targets"),
            Some("spec.targets"),
        ),
        (
            "two targets of one id",
            json!({"rule": {"eventPattern": {"source": ["orders"]}}, "targets": [
                dict_with(lambda(&function(A, "us-east-1"))["target"].clone(), "id", "t"),
                dict_with(sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone(), "id", "t"),
            ]}),
            Some("spec.targets"),
            Some("spec.targets[1].id"),
        ),
        (
            "a listed target without an id",
            json!({"rule": {"eventPattern": {"source": ["orders"]}}, "targets": [
                sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone(),
            ]}),
            Some("spec.targets"),
            Some("spec.targets[0].id"),
        ),
        (
            "a target list across accounts, delivered directly",
            json!({"rule": {"eventPattern": {"source": ["orders"]}}, "targets": [
                dict_with(sqs(&queue(B, "us-east-1", "orders"), None)["target"].clone(), "id", "q"),
                dict_with(lambda(&function(B, "us-east-1"))["target"].clone(), "id", "f"),
            ], "crossAccount": {"targetAccountId": B, "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")}}),
            None,
            None,
        ),
        (
            "a target list across accounts, bus to bus",
            json!({"rule": {"eventPattern": {"source": ["orders"]}}, "targets": [
                dict_with(in_b(ecs(json!({})))["target"].clone(), "id", "worker"),
                dict_with(in_b(ecs(json!({"taskDefinitionArn": format!("arn:aws:ecs:us-east-1:{A}:task-definition/report:1")})))["target"].clone(), "id", "report"),
            ], "crossAccount": {"targetAccountId": B, "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")}}),
            None,
            None,
        ),
        (
            "a target list across accounts whose kinds take different modes",
            json!({"rule": {"eventPattern": {"source": ["orders"]}}, "targets": [
                dict_with(sqs(&queue(B, "us-east-1", "orders"), None)["target"].clone(), "id", "q"),
                dict_with(in_b(ecs(json!({})))["target"].clone(), "id", "worker"),
            ], "crossAccount": {"targetAccountId": B, "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")}}),
            Some("spec.crossAccount.mode"),
            Some("spec.crossAccount.mode"),
        ),
        (
            "two Lambda functions in one list",
            json!({"rule": {"eventPattern": {"source": ["orders"]}}, "targets": [
                dict_with(lambda(&function(A, "us-east-1"))["target"].clone(), "id", "a"),
                dict_with(lambda(&function(A, "us-east-1").replace("notifier", "audit"))["target"].clone(), "id", "b"),
            ]}),
            None,
            None,
        ),
        (
            "two ECS tasks on one cluster in one list",
            json!({"rule": {"eventPattern": {"source": ["orders"]}}, "targets": [
                dict_with(ecs(json!({}))["target"].clone(), "id", "worker"),
                dict_with(ecs(json!({"taskDefinitionArn": format!("arn:aws:ecs:us-east-1:{A}:task-definition/report:1")}))["target"].clone(), "id", "report"),
            ]}),
            None,
            None,
        ),
        (
            "two API destinations in one list, each with its own Secret",
            json!({"rule": {"eventPattern": {"source": ["orders"]}}, "targets": [
                dict_with(api_destination("https://a.example.com/orders", api_key())["target"].clone(), "id", "a"),
                dict_with(api_destination("https://b.example.com/orders", json!({"authorizationType": "BASIC", "secretRef": {"name": "b-login"}}))["target"].clone(), "id", "b"),
            ]}),
            None,
            None,
        ),
        (
            "a schedule with a time zone and a flexible window, to a queue",
            json!({"schedule": {"expression": "cron(0 9 ? * MON-FRI *)", "timezone": "Europe/Paris",
                   "flexibleTimeWindow": {"mode": "FLEXIBLE", "maximumWindowInMinutes": 15}},
                   "target": sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone()}),
            None,
            None,
        ),
        (
            "a rule and a schedule",
            with(
                sqs(&queue(A, "us-east-1", "orders"), None),
                &["schedule"],
                json!({"expression": "rate(5 minutes)"}),
            ),
            Some("spec.schedule"),
            Some("spec.schedule"),
        ),
        (
            "a schedule with a list",
            json!({"schedule": {"expression": "rate(5 minutes)"}, "targets": [
                dict_with(sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone(), "id", "q"),
            ]}),
            Some("spec.targets"),
            Some("spec.targets"),
        ),
        (
            "a schedule to a target it does not reach yet",
            json!({"schedule": {"expression": "rate(5 minutes)"},
                   "target": {"logs": {"logGroupArn": format!("arn:aws:logs:us-east-1:{A}:log-group:/aws/events/orders")}}}),
            Some("spec.target"),
            Some("spec.target"),
        ),
        (
            "a schedule with a FIFO dead-letter queue",
            json!({"schedule": {"expression": "rate(5 minutes)"},
                   "target": dict_with(sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone(), "deadLetterQueueArn", &queue(A, "us-east-1", "orders-dlq.fifo"))}),
            Some("spec.target.deadLetterQueueArn"),
            Some("spec.target.deadLetterQueueArn"),
        ),
        (
            "a schedule invoking a function with a role of the user's",
            json!({"schedule": {"expression": "rate(5 minutes)"},
                   "role": {"arn": format!("arn:aws:iam::{A}:role/nightly")},
                   "target": {"lambda": {"functionArn": format!("arn:aws:lambda:us-east-1:{A}:function:f")}}}),
            None,
            None,
        ),
        (
            "a schedule running an ECS task",
            json!({"schedule": {"expression": "rate(5 minutes)"},
                   "target": ecs(json!({}))["target"].clone()}),
            None,
            None,
        ),
        (
            "a schedule publishing to a FIFO topic",
            json!({"schedule": {"expression": "rate(5 minutes)"},
                   "target": {"sns": {"topicArn": format!("arn:aws:sns:us-east-1:{A}:orders.fifo"), "messageGroupId": "nightly"}}}),
            None,
            None,
        ),
        (
            "a schedule naming a key though it sends to no queue or topic",
            json!({"schedule": {"expression": "rate(5 minutes)", "kmsKeyArns": [format!("arn:aws:kms:us-east-1:{A}:key/k")]},
                   "target": {"lambda": {"functionArn": format!("arn:aws:lambda:us-east-1:{A}:function:f")}}}),
            Some("spec.schedule.kmsKeyArns"),
            Some("spec.schedule.kmsKeyArns"),
        ),
        (
            "a schedule naming a key for a role of the user's",
            json!({"schedule": {"expression": "rate(5 minutes)", "kmsKeyArns": [format!("arn:aws:kms:us-east-1:{A}:key/1234abcd")]},
                   "role": {"arn": format!("arn:aws:iam::{A}:role/mine")},
                   "target": sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone()}),
            Some("spec.schedule.kmsKeyArns"),
            Some("spec.schedule.kmsKeyArns"),
        ),
        (
            "a schedule naming its queue's key",
            json!({"schedule": {"expression": "rate(5 minutes)", "kmsKeyArns": [format!("arn:aws:kms:us-east-1:{A}:key/1234abcd")]},
                   "target": sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone()}),
            None,
            None,
        ),
        (
            "a schedule to an API Gateway stage",
            json!({"schedule": {"expression": "rate(5 minutes)"},
                   "target": {"apiGateway": {"restApiArn": format!("arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5"), "stage": "prod", "method": "POST", "path": "/orders"}}}),
            Some("spec.target"),
            Some("spec.target"),
        ),
        (
            "a schedule putting to a stream under a fixed key",
            json!({"schedule": {"expression": "rate(5 minutes)"},
                   "target": {"kinesis": {"streamArn": format!("arn:aws:kinesis:us-east-1:{A}:stream/ticks"), "partitionKey": "ticks"}}}),
            None,
            None,
        ),
        (
            "a schedule putting to a stream without a key",
            json!({"schedule": {"expression": "rate(5 minutes)"},
                   "target": {"kinesis": {"streamArn": format!("arn:aws:kinesis:us-east-1:{A}:stream/ticks")}}}),
            Some("spec.target.kinesis.partitionKey"),
            Some("spec.target.kinesis.partitionKey"),
        ),
        (
            "a schedule putting to a stream by a path into an event it does not have",
            json!({"schedule": {"expression": "rate(5 minutes)"},
                   "target": {"kinesis": {"streamArn": format!("arn:aws:kinesis:us-east-1:{A}:stream/ticks"), "partitionKey": "ticks", "partitionKeyPath": "$.id"}}}),
            Some("spec.target.kinesis.partitionKeyPath"),
            Some("spec.target.kinesis.partitionKeyPath"),
        ),
        (
            "a rule putting to a stream under a fixed key",
            json!({"rule": {"eventPattern": {"source": ["orders"]}},
                   "target": {"kinesis": {"streamArn": format!("arn:aws:kinesis:us-east-1:{A}:stream/ticks"), "partitionKey": "ticks"}}}),
            Some("spec.target.kinesis.partitionKey"),
            Some("spec.target.kinesis.partitionKey"),
        ),
        (
            "a list entry putting to a stream under a fixed key",
            json!({"rule": {"eventPattern": {"source": ["orders"]}}, "targets": [
                {"id": "s", "kinesis": {"streamArn": format!("arn:aws:kinesis:us-east-1:{A}:stream/ticks"), "partitionKey": "ticks"}}]}),
            Some("spec.targets"),
            Some("spec.targets[0].kinesis.partitionKey"),
        ),
        (
            "a schedule across accounts",
            json!({"schedule": {"expression": "rate(5 minutes)"},
                   "target": sqs(&queue(B, "us-east-1", "orders"), None)["target"].clone(),
                   "crossAccount": direct.clone()}),
            Some("spec.crossAccount"),
            Some("spec.crossAccount"),
        ),
        (
            "a schedule with an input path",
            json!({"schedule": {"expression": "rate(5 minutes)"},
                   "target": dict_with(sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone(), "inputPath", "$.detail")}),
            Some("spec.target"),
            Some("spec.target"),
        ),
        (
            "a time zone for a rate()",
            json!({"schedule": {"expression": "rate(5 minutes)", "timezone": "Europe/Paris"},
                   "target": sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone()}),
            Some("spec.schedule.timezone"),
            Some("spec.schedule.timezone"),
        ),
        (
            "a flexible window without its length",
            json!({"schedule": {"expression": "rate(5 minutes)", "flexibleTimeWindow": {"mode": "FLEXIBLE"}},
                   "target": sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone()}),
            Some("spec.schedule.flexibleTimeWindow.maximumWindowInMinutes"),
            Some("spec.schedule.flexibleTimeWindow.maximumWindowInMinutes"),
        ),
        (
            "a role for a list that takes none",
            json!({"rule": {"eventPattern": {"source": ["orders"]}}, "role": {"name": "ebi-r"}, "targets": [
                dict_with(sqs(&queue(A, "us-east-1", "orders"), None)["target"].clone(), "id", "q"),
            ]}),
            Some("spec.role"),
            Some("spec.role"),
        ),
    ]
}

#[test]
fn every_rule_fires_where_it_should_and_nowhere_else() {
    let mut fired = BTreeSet::new();
    let mut wrong = vec![];
    for (name, spec, expected, _) in cases() {
        let errors = cel(&spec);
        fired.extend(errors.iter().map(|(rule, _)| rule.clone()));
        match (expected, errors.as_slice()) {
            (None, []) => {}
            (Some(field), [(_, message)]) if message.starts_with(&format!("{field}:")) => {}
            _ => wrong.push(format!(
                "{name}: expected {expected:?}, CEL said {errors:?}"
            )),
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // Every rule in the CRD is exercised by at least one case.
    let mut rules = BTreeSet::new();
    collect_rules(&schema(), &mut rules);
    assert!(rules.len() >= 15, "{rules:#?}");
    let never: Vec<&String> = rules.difference(&fired).collect();
    assert!(never.is_empty(), "rules no case makes fail: {never:#?}");
}

#[test]
fn the_reconcile_time_check_agrees_with_the_cel_rules() {
    let mut disagree = vec![];
    for (name, spec, cel_field, reconcile_field) in cases() {
        let refused_by_cel = !cel(&spec).is_empty();
        assert_eq!(refused_by_cel, cel_field.is_some(), "{name}");
        let refused_later = reconcile(&spec);
        if refused_later.as_deref() != reconcile_field {
            disagree.push(format!(
                "{name}: CEL {cel_field:?}, reconcile {refused_later:?}"
            ));
        }
        // Refused at apply time exactly when refused at reconcile time.
        if refused_by_cel != refused_later.is_some() {
            disagree.push(format!(
                "{name}: CEL refuses: {refused_by_cel}, reconcile: {refused_later:?}"
            ));
        }
    }
    assert!(disagree.is_empty(), "{disagree:#?}");
}

/// What a kind's module says is built in another account (`KindFacts::built_across_accounts`)
/// is what the CEL rules and the planner accept, though the CEL rules are written out by
/// hand: each kind's target in account B, with no mode, DirectDelivery and
/// EventBusForwarding, is accepted by both exactly when the kind builds that mode (no mode:
/// when it builds any).
#[test]
fn every_kind_in_another_account_is_accepted_in_exactly_the_modes_its_module_builds() {
    use ebi::api::{CrossAccountMode, TargetKind};
    let in_b = |s: Value| -> Value {
        serde_json::from_str(&s.to_string().replace(&format!(":{A}:"), &format!(":{B}:"))).unwrap()
    };
    let rule = json!({"eventPattern": {"source": ["orders"]}});
    let kinds = vec![
        (TargetKind::Ecs, in_b(ecs(json!({})))),
        (
            TargetKind::StepFunctions,
            json!({"rule": rule, "target": {"stepFunctions": {
                "stateMachineArn": format!("arn:aws:states:us-east-1:{B}:stateMachine:s")}}}),
        ),
        (TargetKind::Lambda, lambda(&function(B, "us-east-1"))),
        (TargetKind::Sqs, sqs(&queue(B, "us-east-1", "orders"), None)),
        (TargetKind::Sns, sns(&topic(B, "us-east-1", "orders"), None)),
        (
            TargetKind::Kinesis,
            kinesis(&stream(B, "us-east-1", "orders"), None),
        ),
        (
            TargetKind::Firehose,
            json!({"rule": rule, "target": {"firehose": {
                "deliveryStreamArn": format!("arn:aws:firehose:us-east-1:{B}:deliverystream/s")}}}),
        ),
        (
            TargetKind::ApiGateway,
            api_gateway("us-east-1", "POST", "/orders"),
        ),
        (
            TargetKind::Logs,
            logs(&format!("arn:aws:logs:us-east-1:{B}:log-group:/orders")),
        ),
        (
            TargetKind::ApiDestination,
            api_destination("https://api.example.com/orders", api_key()),
        ),
    ];
    assert_eq!(kinds.len(), ebi::plan::KINDS.len(), "a kind without a case");
    for (kind, spec) in kinds {
        let facts = ebi::plan::KINDS.iter().find(|k| k.kind == kind).unwrap();
        for mode in [
            None,
            Some(CrossAccountMode::DirectDelivery),
            Some(CrossAccountMode::EventBusForwarding),
        ] {
            let mut x = json!({"targetAccountId": B,
                "provisioningRoleArn": format!("arn:aws:iam::{B}:role/p")});
            if let Some(m) = mode {
                x["mode"] = serde_json::to_value(m).unwrap();
            }
            let spec = with(spec.clone(), &["crossAccount"], x);
            let built = match mode {
                None => !facts.built_across_accounts.is_empty(),
                Some(m) => facts.builds(m),
            };
            let planner = reconcile(&spec);
            assert_eq!(
                planner.is_none(),
                built,
                "{kind:?} {mode:?}: the planner says {planner:?}"
            );
            let rules = cel(&spec);
            assert_eq!(
                rules.is_empty(),
                built,
                "{kind:?} {mode:?}: CEL says {rules:?}"
            );
        }
    }
}

#[test]
fn a_pattern_over_eventbridges_limit_is_refused_at_reconcile_time() {
    let values: Vec<String> = (0..300).map(|i| format!("value-{i}")).collect();
    let spec = with(
        lambda(&function(A, "us-east-1")),
        &["rule"],
        json!({"eventPattern": {"detail": {"id": values}}}),
    );
    assert!(
        cel(&spec).is_empty(),
        "CEL cannot measure a serialised object"
    );
    assert_eq!(reconcile(&spec).as_deref(), Some("spec.rule.eventPattern"));
}

#[test]
fn every_message_names_its_field_and_the_api_server_1_20_accepts_the_crd() {
    let mut rules = BTreeSet::new();
    let mut messages = vec![];
    collect_messages(&schema(), &mut messages);
    collect_rules(&schema(), &mut rules);
    // A target's own rules appear twice: under `target` and under `targets`' items.
    messages.sort();
    messages.dedup();
    assert_eq!(messages.len(), rules.len());
    for m in messages {
        assert!(m.starts_with("spec."), "{m}");
        assert!(m.contains(": "), "the field, then the fix: {m}");
    }
    // The objects the examples hold pass every rule.
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        // A file may hold several objects (an integration and its Secret).
        for part in serde_norway::Deserializer::from_str(&text) {
            let doc = Value::deserialize(part).unwrap();
            if doc["kind"] != "EventBridgeIntegration" {
                continue;
            }
            let obj: EventBridgeIntegration = serde_json::from_value(doc.clone()).unwrap();
            assert!(
                cel(&serde_json::to_value(&obj.spec).unwrap()).is_empty(),
                "{doc}"
            );
        }
    }
}

fn collect_rules(schema: &Value, out: &mut BTreeSet<String>) {
    walk(schema, &mut |rule| {
        out.insert(rule["rule"].as_str().unwrap().to_string());
    });
}

fn collect_messages(schema: &Value, out: &mut Vec<String>) {
    walk(schema, &mut |rule| {
        out.push(rule["message"].as_str().unwrap().to_string())
    });
}

fn walk(schema: &Value, visit: &mut impl FnMut(&Value)) {
    match schema {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "x-kubernetes-validations" {
                    v.as_array().unwrap().iter().for_each(&mut *visit);
                } else {
                    walk(v, visit);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, visit)),
        _ => {}
    }
}
