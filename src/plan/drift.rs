//! Drift events, pure (`run --drift-events`): the rule pattern that selects the CloudTrail
//! events of the calls that can change what the controller owns, the names of the rule and
//! queue that carry them, and the mapping from one such event to the recorded resources it
//! names. The I/O (ensuring the rule and queue, long-polling, re-queuing) is
//! `controller::runtime::drift_events`.
//!
//! CloudTrail delivers "AWS API Call via CloudTrail" events to the default bus of the
//! region the call was made in. IAM is global and its calls are recorded in us-east-1 (in
//! the `aws` partition; `aws-cn` in cn-north-1, `aws-us-gov` in us-gov-west-1), so only the
//! rule in that region selects IAM's events: a role's drift is heard there, whichever
//! region its rule is in.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::api::{OwnedKind, OwnedResource};

/// The tag that marks the drift rule and queue as the controller's own plumbing (with the
/// cluster tag): not an object's resource, so the orphan report never takes them for one
/// (they carry no owner UID).
pub const PURPOSE_TAG: &str = "eventbridge.dev/purpose";
pub const PURPOSE: &str = "drift-events";
/// The rule's only target id.
pub const TARGET_ID: &str = "ebi-drift-queue";

/// The drift queue's attributes, as SQS names and reports them: an unread event is kept an
/// hour (older ones are worth no more than the next resync), a receive long-polls 20 s, and
/// no delay postpones an event. A hand edit of one is corrected like any other drift.
pub const QUEUE_ATTRIBUTES: [(&str, &str); 3] = [
    ("MessageRetentionPeriod", "3600"),
    ("ReceiveMessageWaitTimeSeconds", "20"),
    ("DelaySeconds", "0"),
];

/// The attributes of `observed` (the queue's, as `GetQueueAttributes` gave them) that are
/// not [`QUEUE_ATTRIBUTES`]'s values, with those values.
pub fn queue_attributes_to_correct(
    observed: &std::collections::BTreeMap<String, String>,
) -> Vec<(&'static str, &'static str)> {
    QUEUE_ATTRIBUTES
        .into_iter()
        .filter(|(name, value)| observed.get(*name).map(String::as_str) != Some(*value))
        .collect()
}

/// One service's calls that change what the controller owns: exact names, and prefixes for
/// the names CloudTrail suffixes with an API version (Lambda's `AddPermission20150331v2`).
pub struct Watched {
    /// The event's `source`.
    pub source: &'static str,
    /// `detail.eventSource`.
    pub event_source: &'static str,
    pub names: &'static [&'static str],
    pub prefixes: &'static [&'static str],
    /// Recorded only in the partition's IAM region (global service).
    pub global: bool,
}

pub const WATCHED: [Watched; 9] = [
    Watched {
        source: "aws.events",
        event_source: "events.amazonaws.com",
        names: &[
            "PutRule",
            "DeleteRule",
            "DisableRule",
            "EnableRule",
            "PutTargets",
            "RemoveTargets",
            "PutPermission",
            "RemovePermission",
            "UpdateApiDestination",
            "DeleteApiDestination",
            "UpdateConnection",
            "DeleteConnection",
            "DeauthorizeConnection",
        ],
        prefixes: &[],
        global: false,
    },
    Watched {
        source: "aws.iam",
        event_source: "iam.amazonaws.com",
        names: &[
            "PutRolePolicy",
            "DeleteRolePolicy",
            "UpdateAssumeRolePolicy",
            "DeleteRole",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "PutRolePermissionsBoundary",
            "DeleteRolePermissionsBoundary",
        ],
        prefixes: &[],
        global: true,
    },
    Watched {
        source: "aws.lambda",
        event_source: "lambda.amazonaws.com",
        names: &[],
        prefixes: &["AddPermission", "RemovePermission"],
        global: false,
    },
    Watched {
        source: "aws.sqs",
        event_source: "sqs.amazonaws.com",
        names: &["SetQueueAttributes"],
        prefixes: &[],
        global: false,
    },
    // SNS target topics: their policy is rewritten whole, like a queue's.
    Watched {
        source: "aws.sns",
        event_source: "sns.amazonaws.com",
        names: &["SetTopicAttributes"],
        prefixes: &[],
        global: false,
    },
    // Log group targets: the account's logs resource policy of the controller's name.
    Watched {
        source: "aws.logs",
        event_source: "logs.amazonaws.com",
        names: &["PutResourcePolicy", "DeleteResourcePolicy"],
        prefixes: &[],
        global: false,
    },
    // Streams of another account delivered to directly: their resource policy.
    Watched {
        source: "aws.kinesis",
        event_source: "kinesis.amazonaws.com",
        names: &["PutResourcePolicy", "DeleteResourcePolicy"],
        prefixes: &[],
        global: false,
    },
    // REST APIs of another account called directly: their resource policy (UpdateRestApi
    // also records other edits of the API; the re-read finds nothing to do then).
    Watched {
        source: "aws.apigateway",
        event_source: "apigateway.amazonaws.com",
        names: &["UpdateRestApi"],
        prefixes: &[],
        global: false,
    },
    // Scheduler schedules (`spec.schedule`): an update replaces every field.
    Watched {
        source: "aws.scheduler",
        event_source: "scheduler.amazonaws.com",
        names: &["UpdateSchedule", "DeleteSchedule"],
        prefixes: &[],
        global: false,
    },
];

pub use crate::iam::ids::iam_region;

/// The drift rule's pattern in `region` of `partition`: IAM's calls only where they are
/// recorded, the regional services' everywhere.
pub fn pattern(partition: &str, region: &str) -> Value {
    let with_iam = region == iam_region(partition);
    let watched: Vec<&Watched> = WATCHED.iter().filter(|w| !w.global || with_iam).collect();
    let mut names: Vec<Value> = vec![];
    for w in &watched {
        names.extend(w.names.iter().map(|n| json!(n)));
        names.extend(w.prefixes.iter().map(|p| json!({"prefix": p})));
    }
    json!({
        "detail-type": ["AWS API Call via CloudTrail"],
        "source": watched.iter().map(|w| w.source).collect::<Vec<_>>(),
        "detail": {
            "eventSource": watched.iter().map(|w| w.event_source).collect::<Vec<_>>(),
            "eventName": names,
        }
    })
}

/// The name of the drift rule and of its queue: `ebi-drift-` and a digest of the cluster
/// and of the watched namespaces (sorted; none: every namespace). Two controllers of one
/// cluster that watch different namespaces each have their own queue: a shared one would
/// hand each of them half of the other's events, which it would drop.
pub fn resource_name(cluster_id: &str, namespaces: &[String]) -> String {
    let mut sorted: Vec<&str> = namespaces.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut h = Sha256::new().chain_update(cluster_id.as_bytes());
    for ns in sorted {
        h = h.chain_update(b"\n").chain_update(ns.as_bytes());
    }
    let digest = h.finalize();
    let mut name = "ebi-drift-".to_string();
    for b in &digest[..6] {
        name.push_str(&format!("{b:02x}"));
    }
    name
}

/// What an event or a record entry names, as the index keys it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Named {
    Rule,
    Role,
    Function,
    Queue,
    Bus,
    /// An API destination or its connection (both are named as the rule).
    ApiDestination,
    /// A Scheduler schedule, by its name (two groups' schedules of one name share a key,
    /// which costs at most an extra pass).
    Schedule,
}

/// One resource: its kind, account, region (None for IAM) and bare name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    pub named: Named,
    pub account: String,
    pub region: Option<String>,
    pub name: String,
}

/// The keys under which a drift event for `entry` finds its object.
pub fn key_of(entry: &OwnedResource) -> ResourceKey {
    let named = match entry.kind {
        OwnedKind::Rule => Named::Rule,
        OwnedKind::Role => Named::Role,
        OwnedKind::LambdaPermission => Named::Function,
        OwnedKind::QueuePermission => Named::Queue,
        OwnedKind::BusPermission => Named::Bus,
        OwnedKind::ApiDestination | OwnedKind::Connection => Named::ApiDestination,
        OwnedKind::Schedule => Named::Schedule,
    };
    let name = match named {
        Named::Function => function_name(&entry.name),
        Named::Bus => bus_name(&entry.name),
        _ => entry.name.clone(),
    };
    ResourceKey {
        named,
        account: entry.account_id.clone(),
        region: if named == Named::Role {
            None
        } else {
            entry.region.clone()
        },
        name,
    }
}

/// Where a record's drift rules must be: (partition, account, region, the role that reaches
/// the account) for every regional entry, and the partition's IAM region for every role.
pub fn places_of(record: &[OwnedResource]) -> BTreeSet<(String, String, String, Option<String>)> {
    record
        .iter()
        .filter_map(|e| {
            let region = match (&e.region, e.kind) {
                (_, OwnedKind::Role) | (None, _) => iam_region(&e.partition).to_string(),
                (Some(r), _) => r.clone(),
            };
            (!e.account_id.is_empty() && !region.is_empty()).then(|| {
                (
                    e.partition.clone(),
                    e.account_id.clone(),
                    region,
                    e.via_role_arn.clone(),
                )
            })
        })
        .collect()
}

/// A function's bare name from a name, a partial ARN (`123:function:f`) or an ARN, with or
/// without a qualifier.
pub fn function_name(given: &str) -> String {
    let rest = match given.find("function:") {
        Some(i) => &given[i + "function:".len()..],
        None => given,
    };
    rest.split(':').next().unwrap_or_default().to_string()
}

/// A bus's bare name from a name or an ARN (`…:event-bus/name`).
fn bus_name(given: &str) -> String {
    given
        .rsplit_once("event-bus/")
        .map_or(given, |(_, name)| name)
        .to_string()
}

/// A queue's name from its URL (`https://sqs.…/123456789012/name`) or ARN.
fn queue_name(given: &str) -> String {
    let trimmed = given.trim_end_matches('/');
    trimmed
        .rsplit(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// One parsed event: what call, by whom, and the resources it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriftEvent {
    pub event_name: String,
    /// `detail.userIdentity.arn`: who made the call (the controller's own writes are
    /// heard too).
    pub caller_arn: Option<String>,
    /// The call failed (`detail.errorCode`): it changed nothing.
    pub failed: bool,
    pub resources: Vec<ResourceKey>,
}

/// Why a message is not a drift event the controller can use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unparsable {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("no {0}")]
    Missing(&'static str),
}

/// Parses one message body (the event as EventBridge delivers it to a queue). Never
/// panics: whatever does not have the shape is `Unparsable`.
pub fn parse_event(body: &str) -> Result<DriftEvent, Unparsable> {
    let event: Value =
        serde_json::from_str(body).map_err(|e| Unparsable::NotJson(e.to_string()))?;
    let detail = event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or(Unparsable::Missing("detail"))?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let event_name =
        text(detail.get("eventName")).ok_or(Unparsable::Missing("detail.eventName"))?;
    let event_source = text(detail.get("eventSource")).unwrap_or_default();
    let account = text(detail.get("recipientAccountId"))
        .or_else(|| text(event.get("account")))
        .ok_or(Unparsable::Missing("account"))?;
    let region = text(detail.get("awsRegion")).or_else(|| text(event.get("region")));
    let params = detail
        .get("requestParameters")
        .cloned()
        .unwrap_or(Value::Null);
    let param = |k: &str| text(params.get(k)).filter(|v| !v.is_empty());
    let key = |named: Named, name: String| ResourceKey {
        named,
        account: account.clone(),
        region: if named == Named::Role {
            None
        } else {
            region.clone()
        },
        name,
    };
    let mut resources = vec![];
    match event_source.as_str() {
        "events.amazonaws.com" => match event_name.as_str() {
            "PutPermission" | "RemovePermission" => resources.push(key(
                Named::Bus,
                bus_name(&param("eventBusName").unwrap_or_else(|| "default".into())),
            )),
            // An API destination and its connection are named as their rule.
            "UpdateApiDestination"
            | "DeleteApiDestination"
            | "UpdateConnection"
            | "DeleteConnection"
            | "DeauthorizeConnection" => {
                resources.extend(param("name").map(|n| key(Named::ApiDestination, n)))
            }
            _ => {
                if let Some(rule) = param("name").or_else(|| param("rule")) {
                    // A rule may be named by its ARN (`…:rule/bus/name`).
                    let bare = rule.rsplit('/').next().unwrap_or_default().to_string();
                    resources.push(key(Named::Rule, bare));
                }
            }
        },
        "iam.amazonaws.com" => resources.extend(param("roleName").map(|r| key(Named::Role, r))),
        "lambda.amazonaws.com" => {
            resources.extend(param("functionName").map(|f| key(Named::Function, function_name(&f))))
        }
        "sqs.amazonaws.com" => {
            resources.extend(param("queueUrl").map(|q| key(Named::Queue, queue_name(&q))))
        }
        // A topic's statements are recorded as QueuePermission too (the holders share one
        // path), named by the topic's name: a queue and a topic of one name share a key, which
        // costs at most an extra pass.
        "sns.amazonaws.com" => {
            resources.extend(param("topicArn").map(|t| key(Named::Queue, queue_name(&t))))
        }
        // A logs resource policy is recorded as QueuePermission under the policy's name; every
        // log group target of the account and region shares it, so an edit re-queues them all.
        "logs.amazonaws.com" => resources.extend(param("policyName").map(|p| key(Named::Queue, p))),
        // A stream's resource policy is recorded as QueuePermission under the stream's name.
        // The schedule's name is a path label of the call; either spelling is read.
        "scheduler.amazonaws.com" => resources.extend(
            param("name")
                .or_else(|| param("Name"))
                .map(|n| key(Named::Schedule, n)),
        ),
        "kinesis.amazonaws.com" => resources.extend(
            param("resourceARN")
                .or_else(|| param("resourceArn"))
                .map(|a| {
                    key(
                        Named::Queue,
                        a.rsplit('/').next().unwrap_or_default().to_string(),
                    )
                }),
        ),
        // A REST API's policy is recorded as QueuePermission under the API's ID.
        "apigateway.amazonaws.com" => {
            resources.extend(param("restApiId").map(|id| key(Named::Queue, id)))
        }
        _ => {}
    }
    if resources.iter().any(|r| r.name.is_empty()) {
        resources.retain(|r| !r.name.is_empty());
    }
    if resources.is_empty() {
        return Err(Unparsable::Missing(
            "a resource name in detail.requestParameters",
        ));
    }
    Ok(DriftEvent {
        event_name,
        caller_arn: text(detail.get("userIdentity").and_then(|u| u.get("arn"))),
        failed: detail.get("errorCode").is_some_and(|c| !c.is_null()),
        resources,
    })
}

/// Whether `pattern`, as EventBridge reads it, selects an event of `source` and
/// `event_name`: the pattern's own language for the two fields it uses (exact strings and
/// `prefix`). For the tests, and for a reader who wants to check an operation.
pub fn selects(pattern: &Value, source: &str, event_source: &str, event_name: &str) -> bool {
    let listed = |v: Option<&Value>, s: &str| {
        v.and_then(Value::as_array).is_some_and(|a| {
            a.iter().any(|m| match m {
                Value::String(x) => x == s,
                Value::Object(o) => o
                    .get("prefix")
                    .and_then(Value::as_str)
                    .is_some_and(|p| s.starts_with(p)),
                _ => false,
            })
        })
    };
    let detail = pattern.get("detail");
    listed(pattern.get("detail-type"), "AWS API Call via CloudTrail")
        && listed(pattern.get("source"), source)
        && listed(detail.and_then(|d| d.get("eventSource")), event_source)
        && listed(detail.and_then(|d| d.get("eventName")), event_name)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record entry in account 222222222222 (also used by `controller::runtime::drift_events`).
    pub(crate) fn entry(kind: OwnedKind, name: &str, region: Option<&str>) -> OwnedResource {
        OwnedResource {
            kind,
            partition: "aws".into(),
            account_id: "222222222222".into(),
            region: region.map(Into::into),
            arn: format!("arn:x:{name}"),
            name: name.into(),
            event_bus_name: None,
            qualifier: None,
            statement_id: None,
            proof: None,
            via_role_arn: None,
            restore: None,
            left_behind: None,
            policy_written_at: None,
        }
    }

    fn cloudtrail(source: &str, name: &str, params: Value) -> String {
        json!({
            "version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail",
            "source": format!("aws.{}", source.split('.').next().unwrap()),
            "account": "222222222222", "region": "eu-west-1",
            "detail": {"eventSource": source, "eventName": name, "awsRegion": "eu-west-1",
                       "recipientAccountId": "222222222222",
                       "userIdentity": {"arn": "arn:aws:iam::222222222222:user/alice"},
                       "requestParameters": params}
        })
        .to_string()
    }

    #[test]
    fn the_pattern_selects_every_watched_call_and_iam_only_where_iam_is_recorded() {
        let home = pattern("aws", "us-east-1");
        let other = pattern("aws", "eu-west-1");
        for w in &WATCHED {
            for n in w.names {
                assert!(selects(&home, w.source, w.event_source, n), "{n}");
                assert_eq!(
                    selects(&other, w.source, w.event_source, n),
                    !w.global,
                    "{n}"
                );
            }
        }
        for n in ["AddPermission20150331v2", "RemovePermission20150331v2"] {
            assert!(
                selects(&other, "aws.lambda", "lambda.amazonaws.com", n),
                "{n}"
            );
        }
        // Reads, and calls that change nothing the controller owns, are not selected.
        for (s, es, n) in [
            ("aws.events", "events.amazonaws.com", "ListRules"),
            ("aws.events", "events.amazonaws.com", "PutEvents"),
            ("aws.iam", "iam.amazonaws.com", "CreateUser"),
            ("aws.lambda", "lambda.amazonaws.com", "Invoke"),
            ("aws.sqs", "sqs.amazonaws.com", "SendMessage"),
            ("aws.s3", "s3.amazonaws.com", "PutBucketPolicy"),
        ] {
            assert!(!selects(&home, s, es, n), "{n}");
        }
        assert!(selects(
            &pattern("aws-cn", "cn-north-1"),
            "aws.iam",
            "iam.amazonaws.com",
            "DeleteRole"
        ));
        assert!(!selects(
            &pattern("aws-cn", "us-east-1"),
            "aws.iam",
            "iam.amazonaws.com",
            "DeleteRole"
        ));
    }

    #[test]
    fn the_name_is_per_cluster_and_watched_namespaces_and_fits_both_services() {
        let a = resource_name("uid-1", &[]);
        assert_eq!(a, resource_name("uid-1", &[]));
        assert_ne!(a, resource_name("uid-2", &[]));
        assert_ne!(a, resource_name("uid-1", &["team-a".into()]));
        assert_eq!(
            resource_name("uid-1", &["b".into(), "a".into()]),
            resource_name("uid-1", &["a".into(), "b".into(), "a".into()])
        );
        assert!(a.starts_with("ebi-drift-") && a.len() == 22, "{a}");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn each_watched_call_names_the_key_its_record_entry_has() {
        let cases = [
            (
                "events.amazonaws.com",
                "RemoveTargets",
                json!({"rule": "ebi-r", "ids": ["t"]}),
                entry(OwnedKind::Rule, "ebi-r", Some("eu-west-1")),
            ),
            (
                "events.amazonaws.com",
                "PutRule",
                json!({"name": "ebi-r", "eventBusName": "b"}),
                entry(OwnedKind::Rule, "ebi-r", Some("eu-west-1")),
            ),
            (
                "events.amazonaws.com",
                "DeleteRule",
                json!({"name": "arn:aws:events:eu-west-1:222222222222:rule/b/ebi-r"}),
                entry(OwnedKind::Rule, "ebi-r", Some("eu-west-1")),
            ),
            (
                "events.amazonaws.com",
                "RemovePermission",
                json!({"eventBusName": "central", "statementId": "s"}),
                entry(OwnedKind::BusPermission, "central", Some("eu-west-1")),
            ),
            (
                "iam.amazonaws.com",
                "PutRolePolicy",
                json!({"roleName": "ebi-role", "policyName": "p"}),
                entry(OwnedKind::Role, "ebi-role", None),
            ),
            (
                "lambda.amazonaws.com",
                "RemovePermission20150331v2",
                json!({"functionName": "arn:aws:lambda:eu-west-1:222222222222:function:fn:live", "statementId": "s"}),
                entry(OwnedKind::LambdaPermission, "fn", Some("eu-west-1")),
            ),
            (
                "lambda.amazonaws.com",
                "AddPermission20150331v2",
                json!({"functionName": "fn"}),
                entry(OwnedKind::LambdaPermission, "fn", Some("eu-west-1")),
            ),
            (
                "sqs.amazonaws.com",
                "SetQueueAttributes",
                json!({"queueUrl": "https://sqs.eu-west-1.amazonaws.com/222222222222/dlq", "attributes": {}}),
                entry(OwnedKind::QueuePermission, "dlq", Some("eu-west-1")),
            ),
            (
                "sns.amazonaws.com",
                "SetTopicAttributes",
                json!({"topicArn": "arn:aws:sns:eu-west-1:222222222222:orders", "attributeName": "Policy", "attributeValue": "{}"}),
                entry(OwnedKind::QueuePermission, "orders", Some("eu-west-1")),
            ),
            (
                "logs.amazonaws.com",
                "PutResourcePolicy",
                json!({"policyName": "EventBridgeIntegrationController", "policyDocument": "{}"}),
                entry(
                    OwnedKind::QueuePermission,
                    "EventBridgeIntegrationController",
                    Some("eu-west-1"),
                ),
            ),
            (
                "kinesis.amazonaws.com",
                "PutResourcePolicy",
                json!({"resourceARN": "arn:aws:kinesis:eu-west-1:222222222222:stream/clicks", "policy": "{}"}),
                entry(OwnedKind::QueuePermission, "clicks", Some("eu-west-1")),
            ),
            (
                "apigateway.amazonaws.com",
                "UpdateRestApi",
                json!({"restApiId": "a1b2c3d4e5", "patchOperations": [{"op": "replace", "path": "/policy"}]}),
                entry(OwnedKind::QueuePermission, "a1b2c3d4e5", Some("eu-west-1")),
            ),
            (
                "events.amazonaws.com",
                "UpdateApiDestination",
                json!({"name": "ebi-r", "invocationEndpoint": "https://x.example"}),
                entry(OwnedKind::ApiDestination, "ebi-r", Some("eu-west-1")),
            ),
            (
                "events.amazonaws.com",
                "DeauthorizeConnection",
                json!({"name": "ebi-r"}),
                entry(OwnedKind::Connection, "ebi-r", Some("eu-west-1")),
            ),
            (
                "scheduler.amazonaws.com",
                "UpdateSchedule",
                json!({"name": "ebi-s", "groupName": "reports", "scheduleExpression": "rate(1 minute)"}),
                entry(OwnedKind::Schedule, "ebi-s", Some("eu-west-1")),
            ),
            (
                "scheduler.amazonaws.com",
                "DeleteSchedule",
                json!({"name": "ebi-s"}),
                entry(OwnedKind::Schedule, "ebi-s", Some("eu-west-1")),
            ),
        ];
        for (source, name, params, owned) in cases {
            let e = parse_event(&cloudtrail(source, name, params)).unwrap();
            assert_eq!(e.resources, vec![key_of(&owned)], "{name}");
            assert_eq!(e.event_name, name);
            assert_eq!(
                e.caller_arn.as_deref(),
                Some("arn:aws:iam::222222222222:user/alice")
            );
            assert!(!e.failed);
        }
        // Another account's, another region's or another name's resource is another key.
        let e = parse_event(&cloudtrail(
            "events.amazonaws.com",
            "RemoveTargets",
            json!({"rule": "ebi-r"}),
        ))
        .unwrap();
        assert_ne!(
            e.resources[0],
            key_of(&entry(OwnedKind::Rule, "ebi-r", Some("us-east-1")))
        );
        assert_ne!(
            e.resources[0],
            key_of(&entry(OwnedKind::Rule, "ebi-other", Some("eu-west-1")))
        );
    }

    #[test]
    fn what_is_not_a_usable_event_is_unparsable_never_a_panic() {
        for body in [
            "",
            "not json",
            "[]",
            "null",
            r#"{"detail": "x"}"#,
            r#"{"detail": {}}"#,
            r#"{"detail": {"eventName": 3, "eventSource": "iam.amazonaws.com"}}"#,
            r#"{"account": "1", "detail": {"eventName": "PutRolePolicy", "eventSource": "iam.amazonaws.com"}}"#,
            r#"{"account": "1", "detail": {"eventName": "PutRolePolicy", "eventSource": "iam.amazonaws.com", "requestParameters": {"roleName": ""}}}"#,
            r#"{"account": "1", "detail": {"eventName": "PutRolePolicy", "eventSource": "iam.amazonaws.com", "requestParameters": {"roleName": ["x"]}}}"#,
            r#"{"detail": {"eventName": "PutRolePolicy", "eventSource": "iam.amazonaws.com", "requestParameters": {"roleName": "r"}}}"#,
        ] {
            assert!(parse_event(body).is_err(), "{body}");
        }
        let failed = json!({"account": "1", "detail": {"eventName": "DeleteRole", "eventSource": "iam.amazonaws.com", "errorCode": "AccessDenied", "requestParameters": {"roleName": "r"}}});
        assert!(parse_event(&failed.to_string()).unwrap().failed);
    }

    #[test]
    fn places_cover_each_regional_entry_and_iam_region_for_roles() {
        let mut remote = entry(OwnedKind::Rule, "r2", Some("eu-west-1"));
        remote.account_id = "333333333333".into();
        remote.via_role_arn = Some("arn:aws:iam::333333333333:role/p".into());
        let places = places_of(&[
            entry(OwnedKind::Rule, "r", Some("eu-west-1")),
            entry(OwnedKind::LambdaPermission, "fn", Some("eu-west-1")),
            entry(OwnedKind::Role, "role", None),
            remote,
        ]);
        let got: Vec<_> = places
            .iter()
            .map(|(_, a, r, v)| (a.as_str(), r.as_str(), v.is_some()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("222222222222", "eu-west-1", false),
                ("222222222222", "us-east-1", false),
                ("333333333333", "eu-west-1", true)
            ]
        );
    }
}
