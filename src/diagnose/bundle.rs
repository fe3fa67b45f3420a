//! `diagnose --bundle FILE`: a snapshot pasted from the AWS CLI. Each part is exactly what
//! the named CLI command prints, so anyone can gather it from their account:
//! `rule` = `aws events describe-rule`, `targets` = `aws events list-targets-by-rule`,
//! `roles[]` = `{"Role": aws iam get-role .Role, "RolePolicies": [aws iam get-role-policy …],
//! "AttachedPolicies": [{"PolicyArn", "Document"}], "PermissionsBoundary": {"PolicyArn", "Document"}}`,
//! `lambdaPolicies` = `{function ARN: aws lambda get-policy}`,
//! `taskDefinitions` = `{ARN: aws ecs describe-task-definition}`, `chains` = `[{"from", "to"}]`,
//! and optionally `expectTargetId`: check only that target, and report it if it is missing.
//! Optional evidence for the dead-letter queue and the organisation:
//! `deadLetterQueues` = `{queue ARN or URL: aws sqs get-queue-attributes --attribute-names All}`
//! (or a list of those outputs; each is keyed by its `QueueArn`),
//! `keyPolicies` = `{KmsMasterKeyId as the queue names it: aws kms get-key-policy}`,
//! `organization` = `{"Organization": aws organizations describe-organization .Organization,
//! "serviceControlPolicies": [{"targetId": "r-…|ou-…|ACCOUNT", "policies": [aws organizations
//! describe-policy]}], "resourceControlPolicies": [same]}`, levels from the root down.
//! A schedule instead of a rule: `schedule` = `aws scheduler get-schedule` (null: it does not
//! exist), with its role in `roles` and its ECS task definition in `taskDefinitions`, and
//! `collectedAt` (`yyyy-mm-ddThh:mm:ssZ`), when the bundle was read: its end date and a
//! one-time expression are judged against it.
//! What AWS recorded of the rule's deliveries, as `collect` writes it: `delivery` =
//! `{"windowSeconds": N, "metrics": {"Invocations": n, "FailedInvocations": n, …} (the sums of
//! aws cloudwatch get-metric-data over the window), "busLogRecords": [the event bus log's
//! records of the rule, as JSON text or objects], "cloudTrailEvents": [aws cloudtrail
//! lookup-events .Events[].CloudTrailEvent], "unreadable": ["what could not be read"]}`.
//!
//! Every value is type-checked: a wrong JSON type is an error naming its path and the
//! expected type, never a silent default.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::delivery::{DeliveryCounts, DeliveryEvidence, METRICS};
use super::snapshot::{
    Chain, Expectations, Organization, Queue, Role, Rule, Snapshot, Target, TaskDefinition,
};
use crate::iam::request::{Named, OrgLevel};
use crate::iam::{PolicyDocument, PolicyError};
use crate::input::{self, InputError};

/// Unusable input, with the JSON path of the problem.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct BundleError {
    pub path: String,
    pub problem: String,
}

impl From<InputError> for BundleError {
    fn from(e: InputError) -> BundleError {
        BundleError {
            path: e.path,
            problem: e.problem,
        }
    }
}

fn err(path: impl Into<String>, problem: impl Into<String>) -> BundleError {
    BundleError {
        path: path.into(),
        problem: problem.into(),
    }
}

/// A policy document must parse; a bad one is the user's input error, reported with its path.
fn document(v: Option<&Value>, path: &str) -> Result<Value, BundleError> {
    let v = v
        .filter(|v| !v.is_null())
        .ok_or_else(|| err(path, "missing"))?;
    parse_document(v, path)?;
    Ok(v.clone())
}

fn parse_document(v: &Value, path: &str) -> Result<PolicyDocument, BundleError> {
    if !v.is_object() && !v.is_string() {
        return Err(
            InputError::expected(path, "a policy document (an object or JSON text)", v).into(),
        );
    }
    PolicyDocument::parse(v).map_err(|e| match e {
        PolicyError::BadStatement { index, problem } => {
            err(format!("{path}.Statement[{index}]"), problem)
        }
        PolicyError::StatementNotList(got) => err(
            format!("{path}.Statement"),
            crate::iam::policy::statement_not_list(&got),
        ),
        other => err(path, other.to_string()),
    })
}

/// An optional map of ARN (or ID) to a CLI output object.
fn optional_map<'a>(
    root: &'a Value,
    key: &str,
) -> Result<Vec<(&'a String, &'a Value, String)>, BundleError> {
    Ok(input::optional_object(root, key, "bundle")?
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k, v, format!("bundle.{key}[{k}]")))
                .collect()
        })
        .unwrap_or_default())
}

/// The bundle's own keys. `description`, `expect`, `doc` and `comment` are annotations (the
/// corpus's expected findings), read by people only. Inside the AWS CLI outputs the bundle
/// holds, other fields are AWS's and are ignored.
const BUNDLE_KEYS: &[&str] = &[
    "rule",
    "targets",
    "roles",
    "lambdaPolicies",
    "taskDefinitions",
    "chains",
    "expectTargetId",
    "deadLetterQueues",
    "keyPolicies",
    "organization",
    "delivery",
    "apiDestinations",
    "schedule",
    "collectedAt",
    "description",
    "expect",
    "doc",
    "comment",
];

pub fn parse_bundle(text: &str) -> Result<(Snapshot, Expectations), BundleError> {
    let root = input::parse_json(text, "bundle")?;
    if !root.is_object() {
        return Err(InputError::expected(
            "bundle",
            "an object with rule, targets, roles, …",
            &root,
        )
        .into());
    }
    input::known_keys(&root, BUNDLE_KEYS, "bundle")?;
    // `"rule": null` says the rule does not exist; a bundle that names neither a rule, its
    // targets nor a chain has nothing to diagnose, and is a mistake rather than a missing rule.
    if ["rule", "targets", "chains", "schedule"]
        .iter()
        .all(|k| root.get(k).is_none())
    {
        return Err(err(
            "bundle",
            "nothing to diagnose: expected \"rule\" (the output of `aws events describe-rule`, or null when the rule does not exist), \"targets\", \"chains\" or \"schedule\" (the output of `aws scheduler get-schedule`, or null)",
        ));
    }
    let rule = parse_rule(&root)?;
    let targets = parse_targets(&root)?;
    let roles = parse_roles(&root)?;
    let lambda_policies = parse_lambda_policies(&root)?;
    let task_definitions = parse_task_definitions(&root)?;
    let chains = parse_chains(&root)?;
    let dead_letter_queues = parse_dead_letter_queues(&root)?;
    let (key_policies, key_arns) = parse_key_policies(&root)?;
    let organization = match input::field(&root, "organization") {
        None => None,
        Some(o) => Some(parse_organization(o)?),
    };
    let delivery = match input::field(&root, "delivery") {
        None => None,
        Some(d) => Some(parse_delivery(d)?),
    };
    let api_destinations = parse_api_destinations(&root)?;
    if root.get("schedule").is_some()
        && (root.get("rule").is_some() || root.get("targets").is_some())
    {
        return Err(err(
            "bundle.schedule",
            "a bundle diagnoses a rule (rule, targets) or a schedule, not both: split it in two",
        ));
    }
    let schedule = match root.get("schedule") {
        None | Some(Value::Null) => None,
        Some(s) => Some(parse_schedule(s)?),
    };
    let expect = parse_expectations(&root)?;
    Ok((
        Snapshot {
            rule,
            targets,
            roles,
            lambda_policies,
            task_definitions,
            chains,
            dead_letter_queues,
            key_policies,
            key_arns,
            organization,
            delivery,
            api_destinations,
            schedule,
            now: collected_at(&root)?,
            ..Default::default()
        },
        expect,
    ))
}

/// `rule`: `aws events describe-rule`, or null when the rule does not exist.
fn parse_rule(root: &Value) -> Result<Option<Rule>, BundleError> {
    let rule = match input::field(root, "rule") {
        None => None,
        Some(r) => {
            input::object(r, "bundle.rule")?;
            Some(Rule {
                name: input::required_string(r, "Name", "bundle.rule")?,
                arn: input::required_string(r, "Arn", "bundle.rule")?,
                event_bus_name: input::optional_string(r, "EventBusName", "bundle.rule")?
                    .unwrap_or_else(|| "default".into()),
                enabled: input::optional_string(r, "State", "bundle.rule")?
                    .is_none_or(|s| s.starts_with("ENABLED")),
                ..Rule::default()
            })
        }
    };
    Ok(rule)
}

/// `targets`: `aws events list-targets-by-rule`, or a list of its targets.
fn parse_targets(root: &Value) -> Result<Vec<Target>, BundleError> {
    let (targets_list, targets_path): (&[Value], &str) = match input::field(root, "targets") {
        None => (&[], "bundle.targets"),
        Some(Value::Array(a)) => (a.as_slice(), "bundle.targets"),
        Some(obj @ Value::Object(_)) => match input::field(obj, "Targets") {
            Some(Value::Array(a)) => (a.as_slice(), "bundle.targets.Targets"),
            Some(other) => {
                return Err(InputError::expected("bundle.targets.Targets", "a list", other).into())
            }
            None => return Err(err(
                "bundle.targets",
                "expected the output of `aws events list-targets-by-rule` ({\"Targets\": [...]})",
            )),
        },
        Some(other) => {
            return Err(InputError::expected(
                "bundle.targets",
                "the output of `aws events list-targets-by-rule` (an object) or a list of targets",
                other,
            )
            .into())
        }
    };
    let mut targets = Vec::new();
    for (i, t) in targets_list.iter().enumerate() {
        let path = format!("{targets_path}[{i}]");
        input::object(t, &path)?;
        let ecs = input::optional_object(t, "EcsParameters", &path)?;
        let dlq = input::optional_object(t, "DeadLetterConfig", &path)?;
        targets.push(Target {
            id: input::required_string(t, "Id", &path)?,
            arn: input::required_string(t, "Arn", &path)?,
            role_arn: input::optional_string(t, "RoleArn", &path)?,
            task_definition_arn: match ecs {
                Some(_) => input::optional_string(
                    &t["EcsParameters"],
                    "TaskDefinitionArn",
                    &format!("{path}.EcsParameters"),
                )?,
                None => None,
            },
            dead_letter_arn: match dlq {
                Some(_) => input::optional_string(
                    &t["DeadLetterConfig"],
                    "Arn",
                    &format!("{path}.DeadLetterConfig"),
                )?,
                None => None,
            },
        });
    }
    Ok(targets)
}

/// `roles`: each `aws iam get-role`, with its inline and attached policies and boundary.
fn parse_roles(root: &Value) -> Result<BTreeMap<String, Role>, BundleError> {
    let mut roles = BTreeMap::new();
    for (i, r) in input::optional_list(root, "roles", "bundle")?
        .iter()
        .enumerate()
    {
        let path = format!("bundle.roles[{i}]");
        input::object(r, &path)?;
        input::known_keys(
            r,
            &[
                "Role",
                "RolePolicies",
                "AttachedPolicies",
                "PermissionsBoundary",
            ],
            &path,
        )?;
        let role = input::field(r, "Role").ok_or_else(|| {
            err(
                format!("{path}.Role"),
                "missing (the \"Role\" of `aws iam get-role`)",
            )
        })?;
        let rpath = format!("{path}.Role");
        input::object(role, &rpath)?;
        let arn = input::required_string(role, "Arn", &rpath)?;
        let name = input::optional_string(role, "RoleName", &rpath)?
            .unwrap_or_else(|| super::remedy::role_name(&arn));
        let trust_policy = document(
            role.get("AssumeRolePolicyDocument"),
            &format!("{rpath}.AssumeRolePolicyDocument"),
        )?;
        let mut inline_policies = BTreeMap::new();
        for (j, p) in input::optional_list(r, "RolePolicies", &path)?
            .iter()
            .enumerate()
        {
            let ppath = format!("{path}.RolePolicies[{j}]");
            input::object(p, &ppath)?;
            inline_policies.insert(
                input::required_string(p, "PolicyName", &ppath)?,
                document(p.get("PolicyDocument"), &format!("{ppath}.PolicyDocument"))?,
            );
        }
        let mut attached_policies = BTreeMap::new();
        for (j, p) in input::optional_list(r, "AttachedPolicies", &path)?
            .iter()
            .enumerate()
        {
            let ppath = format!("{path}.AttachedPolicies[{j}]");
            input::object(p, &ppath)?;
            input::known_keys(p, &["PolicyArn", "PolicyName", "Document"], &ppath)?;
            attached_policies.insert(
                input::required_string(p, "PolicyArn", &ppath)?,
                document(p.get("Document"), &format!("{ppath}.Document"))?,
            );
        }
        let permissions_boundary = match input::field(r, "PermissionsBoundary") {
            None => None,
            Some(b) => {
                let bpath = format!("{path}.PermissionsBoundary");
                input::object(b, &bpath)?;
                input::known_keys(b, &["PolicyArn", "PolicyName", "Document"], &bpath)?;
                Some((
                    input::required_string(b, "PolicyArn", &bpath)?,
                    document(b.get("Document"), &format!("{bpath}.Document"))?,
                ))
            }
        };
        roles.insert(
            arn.clone(),
            Role {
                arn,
                name,
                trust_policy,
                inline_policies,
                attached_policies,
                permissions_boundary,
                // A bundle carries no tags: the checks do not read them.
                tags: BTreeMap::new(),
            },
        );
    }
    Ok(roles)
}

/// `lambdaPolicies`: `aws lambda get-policy` by function ARN.
fn parse_lambda_policies(root: &Value) -> Result<BTreeMap<String, Value>, BundleError> {
    let mut lambda_policies = BTreeMap::new();
    for (arn, p, path) in optional_map(root, "lambdaPolicies")? {
        // `aws lambda get-policy` prints {"Policy": "<JSON text>", "RevisionId": …}.
        let doc = input::field(p, "Policy").unwrap_or(p);
        lambda_policies.insert(arn.clone(), document(Some(doc), &format!("{path}.Policy"))?);
    }
    Ok(lambda_policies)
}

/// `taskDefinitions`: `aws ecs describe-task-definition` by ARN.
fn parse_task_definitions(root: &Value) -> Result<BTreeMap<String, TaskDefinition>, BundleError> {
    let mut task_definitions = BTreeMap::new();
    for (arn, td, path) in optional_map(root, "taskDefinitions")? {
        input::object(td, &path)?;
        let td = input::field(td, "taskDefinition").ok_or_else(|| {
            err(
                format!("{path}.taskDefinition"),
                "missing (the output of `aws ecs describe-task-definition`)",
            )
        })?;
        let tpath = format!("{path}.taskDefinition");
        input::object(td, &tpath)?;
        let entry = TaskDefinition {
            arn: input::optional_string(td, "taskDefinitionArn", &tpath)?
                .unwrap_or_else(|| arn.clone()),
            execution_role_arn: input::optional_string(td, "executionRoleArn", &tpath)?,
            task_role_arn: input::optional_string(td, "taskRoleArn", &tpath)?,
        };
        task_definitions.insert(arn.clone(), entry);
    }
    Ok(task_definitions)
}

/// `chains`: the role chains to follow, `{from, to}`.
fn parse_chains(root: &Value) -> Result<Vec<Chain>, BundleError> {
    let mut chains = Vec::new();
    for (i, c) in input::optional_list(root, "chains", "bundle")?
        .iter()
        .enumerate()
    {
        let path = format!("bundle.chains[{i}]");
        input::object(c, &path)?;
        input::known_keys(c, &["from", "to"], &path)?;
        chains.push(Chain {
            from: input::required_string(c, "from", &path)?,
            to: input::required_string(c, "to", &path)?,
        });
    }
    Ok(chains)
}

/// `deadLetterQueues`: `aws sqs get-queue-attributes` by queue ARN (or URL), or a list.
fn parse_dead_letter_queues(root: &Value) -> Result<Option<BTreeMap<String, Queue>>, BundleError> {
    let dead_letter_queues = match input::field(root, "deadLetterQueues") {
        None => None,
        Some(given) => {
            // A map {queue ARN: output}, or a list of outputs, each naming its QueueArn.
            let entries: Vec<(String, &Value, String)> = match given {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, q)| {
                        let path = format!("bundle.deadLetterQueues[{i}]");
                        input::object(q, &path)?;
                        let attributes = input::required(q, "Attributes", &path)?;
                        input::object(attributes, &format!("{path}.Attributes"))?;
                        let arn = input::required_string(
                            attributes,
                            "QueueArn",
                            &format!("{path}.Attributes"),
                        )?;
                        Ok((arn, q, path))
                    })
                    .collect::<Result<_, InputError>>()?,
                _ => optional_map(root, "deadLetterQueues")?
                    .into_iter()
                    .map(|(k, v, p)| (k.clone(), v, p))
                    .collect(),
            };
            let mut queues = BTreeMap::new();
            for (arn, q, path) in entries {
                input::object(q, &path)?;
                let attributes = input::required(q, "Attributes", &path)?;
                let apath = format!("{path}.Attributes");
                input::object(attributes, &apath)?;
                let policy = match input::optional_string(attributes, "Policy", &apath)? {
                    None => None,
                    Some(text) => Some(document(
                        Some(&Value::String(text)),
                        &format!("{apath}.Policy"),
                    )?),
                };
                let queue = Queue {
                    arn: input::optional_string(attributes, "QueueArn", &apath)?
                        .unwrap_or_else(|| arn.clone()),
                    policy,
                    kms_key: input::optional_string(attributes, "KmsMasterKeyId", &apath)?,
                };
                // Keyed by the ARN the queue reports, so a map keyed by queue URL works too.
                queues.insert(queue.arn.clone(), queue);
            }
            Some(queues)
        }
    };
    Ok(dead_letter_queues)
}

/// `keyPolicies`: `aws kms get-key-policy` by key, with the ARN of a key named by alias.
#[allow(clippy::type_complexity)]
fn parse_key_policies(
    root: &Value,
) -> Result<(BTreeMap<String, Value>, BTreeMap<String, String>), BundleError> {
    let mut key_policies = BTreeMap::new();
    let mut key_arns = BTreeMap::new();
    for (key, p, path) in optional_map(root, "keyPolicies")? {
        input::object(p, &path)?;
        // `aws kms get-key-policy` prints {"Policy": "<JSON text>", "PolicyName": "default"}.
        key_policies.insert(
            key.clone(),
            document(p.get("Policy"), &format!("{path}.Policy"))?,
        );
        // `collect` adds the key's ARN for a key named by alias (aws kms describe-key).
        if let Some(arn) = input::optional_string(p, "KeyArn", &path)? {
            key_arns.insert(key.clone(), arn);
        }
    }
    Ok((key_policies, key_arns))
}

/// What the bundle expects to exist: a schedule (`"schedule": null`), a target ID.
fn parse_expectations(root: &Value) -> Result<Expectations, BundleError> {
    let expect = Expectations {
        // `"schedule": null`: a schedule is expected and does not exist.
        schedule_name: root
            .get("schedule")
            .is_some_and(Value::is_null)
            .then(|| "<group>/<schedule>".to_string()),
        targets: match input::field(root, "expectTargetId") {
            None => vec![],
            Some(Value::String(s)) => vec![(s.clone(), "<target ARN>".to_string())],
            Some(other) => {
                return Err(InputError::expected(
                    "bundle.expectTargetId",
                    "a target ID string",
                    other,
                )
                .into())
            }
        },
        ..Default::default()
    };
    Ok(expect)
}

/// `collectedAt`, an instant (an offset or `Z`), or absent; anything else is refused
/// rather than silently not judging the schedule's dates.
fn collected_at(root: &Value) -> Result<Option<String>, BundleError> {
    let Some(text) = input::optional_string(root, "collectedAt", "bundle")? else {
        return Ok(None);
    };
    match crate::iam::eval::parse_date(&text) {
        Some(_) => Ok(Some(text)),
        None => Err(err(
            "bundle.collectedAt",
            format!(
                "`{text}` is not an instant: write it as 2026-12-05T10:00:00Z (or with an offset)"
            ),
        )),
    }
}

/// The bundle's `schedule`: `aws scheduler get-schedule`'s output, as far as the checks read
/// it (its ARN and state; its target's ARN, role, input, dead-letter queue and ECS task
/// definition).
fn parse_schedule(s: &Value) -> Result<super::Schedule, BundleError> {
    let path = "bundle.schedule";
    input::object(s, path)?;
    let target = input::field(s, "Target").ok_or_else(|| {
        err(
            format!("{path}.Target"),
            "missing (every schedule has a target)",
        )
    })?;
    let tpath = format!("{path}.Target");
    input::object(target, &tpath)?;
    let dead_letter_arn = match input::optional_object(target, "DeadLetterConfig", &tpath)? {
        Some(_) => input::optional_string(
            &target["DeadLetterConfig"],
            "Arn",
            &format!("{tpath}.DeadLetterConfig"),
        )?,
        None => None,
    };
    let parameters = match input::optional_object(target, "EcsParameters", &tpath)? {
        Some(_) => crate::plan::TargetParameters::Ecs(crate::plan::EcsShape {
            task_definition_arn: input::required_string(
                &target["EcsParameters"],
                "TaskDefinitionArn",
                &format!("{tpath}.EcsParameters"),
            )?,
            ..Default::default()
        }),
        None => crate::plan::TargetParameters::None,
    };
    Ok(super::Schedule {
        arn: input::required_string(s, "Arn", path)?,
        expression: input::optional_string(s, "ScheduleExpression", path)?.unwrap_or_default(),
        enabled: input::optional_string(s, "State", path)?.is_none_or(|state| state == "ENABLED"),
        end_date: input::optional_string(s, "EndDate", path)?,
        target_arn: input::required_string(target, "Arn", &tpath)?,
        role_arn: input::optional_string(target, "RoleArn", &tpath)?.unwrap_or_default(),
        dead_letter_arn,
        parameters,
        // A universal target's call and resource are in its input (text that is no JSON
        // stays text, as the controller reads it).
        input: input::optional_string(target, "Input", &tpath)?
            .map(|text| serde_json::from_str(&text).unwrap_or(Value::String(text))),
        ..Default::default()
    })
}

/// The bundle's `apiDestinations`: {destination ARN: `aws events describe-api-destination`'s
/// output, with the output of `aws events describe-connection` for its connection under
/// `Connection` (null or absent: the connection does not exist)}.
fn parse_api_destinations(
    root: &Value,
) -> Result<BTreeMap<String, super::ApiDestination>, BundleError> {
    let mut out = BTreeMap::new();
    for (arn, d, path) in optional_map(root, "apiDestinations")? {
        input::object(d, &path)?;
        let connection_arn = input::required_string(d, "ConnectionArn", &path)?;
        let (state, reason) = match input::field(d, "Connection") {
            None | Some(Value::Null) => (None, None),
            Some(c) => {
                let cpath = format!("{path}.Connection");
                input::object(c, &cpath)?;
                (
                    Some(input::required_string(c, "ConnectionState", &cpath)?),
                    input::optional_string(c, "StateReason", &cpath)?,
                )
            }
        };
        out.insert(
            arn.clone(),
            super::ApiDestination {
                arn: arn.clone(),
                connection_arn,
                connection_state: state,
                connection_state_reason: reason,
            },
        );
    }
    Ok(out)
}

/// The bundle's `delivery` (see the module's head).
fn parse_delivery(d: &Value) -> Result<DeliveryEvidence, BundleError> {
    const PATH: &str = "bundle.delivery";
    input::object(d, PATH)?;
    input::known_keys(
        d,
        &[
            "windowSeconds",
            "metrics",
            "busLogRecords",
            "cloudTrailEvents",
            "unreadable",
        ],
        PATH,
    )?;
    let window = match input::field(d, "windowSeconds") {
        Some(Value::Number(n)) if n.as_u64().is_some_and(|s| s > 0) => {
            Duration::from_secs(n.as_u64().unwrap_or_default())
        }
        Some(other) => {
            return Err(InputError::expected(
                format!("{PATH}.windowSeconds"),
                "a whole number of seconds above 0",
                other,
            )
            .into())
        }
        None => return Err(err(format!("{PATH}.windowSeconds"), "missing")),
    };
    let counts = match input::optional_object(d, "metrics", PATH)? {
        None => None,
        Some(metrics) => {
            let mut counts = DeliveryCounts::default();
            for (name, value) in metrics {
                let path = format!("{PATH}.metrics.{name}");
                if !METRICS.contains(&name.as_str()) {
                    return Err(err(
                        path,
                        format!(
                            "not a metric of AWS/Events read here; expected one of {}",
                            METRICS.join(", ")
                        ),
                    ));
                }
                let sum = value.as_f64().filter(|v| *v >= 0.0).ok_or_else(|| {
                    InputError::expected(&path, "a sum (a number, 0 or more)", value)
                })?;
                counts.set(name, sum);
            }
            Some(counts)
        }
    };
    // Each record as JSON text (as AWS returns them) or as the object itself.
    let records = |key: &str| -> Result<Vec<String>, BundleError> {
        input::optional_list(d, key, PATH)?
            .iter()
            .enumerate()
            .map(|(i, r)| match r {
                Value::String(text) => Ok(text.clone()),
                Value::Object(_) => Ok(r.to_string()),
                other => Err(InputError::expected(
                    format!("{PATH}.{key}[{i}]"),
                    "a record (JSON text or an object)",
                    other,
                )
                .into()),
            })
            .collect()
    };
    let unreadable = input::optional_list(d, "unreadable", PATH)?
        .iter()
        .enumerate()
        .map(|(i, v)| input::string(v, &format!("{PATH}.unreadable[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(DeliveryEvidence {
        window,
        counts,
        bus_log_records: records("busLogRecords")?,
        trail_records: records("cloudTrailEvents")?,
        unreadable,
    })
}

/// The bundle's `organization` value; online reads build the same value and parse it here,
/// so a collected bundle and the live account are judged alike.
pub fn parse_organization(o: &Value) -> Result<Organization, BundleError> {
    let path = "bundle.organization";
    input::object(o, path)?;
    input::known_keys(
        o,
        &[
            "Organization",
            "serviceControlPolicies",
            "resourceControlPolicies",
        ],
        path,
    )?;
    let id = match input::optional_object(o, "Organization", path)? {
        Some(_) => {
            input::optional_string(&o["Organization"], "Id", &format!("{path}.Organization"))?
        }
        None => None,
    };
    let levels = |key: &str| -> Result<Vec<OrgLevel>, BundleError> {
        let mut out = Vec::new();
        for (i, level) in input::optional_list(o, key, path)?.iter().enumerate() {
            let lpath = format!("{path}.{key}[{i}]");
            input::object(level, &lpath)?;
            input::known_keys(level, &["targetId", "policies"], &lpath)?;
            let id = input::required_string(level, "targetId", &lpath)?;
            let mut policies = Vec::new();
            for (j, p) in input::optional_list(level, "policies", &lpath)?
                .iter()
                .enumerate()
            {
                // `aws organizations describe-policy` prints {"Policy": {"PolicySummary": {…},
                // "Content": "<JSON text>"}}.
                let ppath = format!("{lpath}.policies[{j}]");
                input::object(p, &ppath)?;
                let policy = input::required(p, "Policy", &ppath)?;
                let ppath = format!("{ppath}.Policy");
                input::object(policy, &ppath)?;
                let (name, id) = match input::optional_object(policy, "PolicySummary", &ppath)? {
                    Some(_) => {
                        let spath = format!("{ppath}.PolicySummary");
                        let summary = &policy["PolicySummary"];
                        (
                            input::optional_string(summary, "Name", &spath)?,
                            input::optional_string(summary, "Id", &spath)?,
                        )
                    }
                    None => (None, None),
                };
                let name = name
                    .or(id.clone())
                    .unwrap_or_else(|| format!("policy #{}", j + 1));
                let content = input::required(policy, "Content", &ppath)?;
                let document = parse_document(content, &format!("{ppath}.Content"))?;
                policies.push(Named { name, id, document });
            }
            out.push(OrgLevel { id, policies });
        }
        Ok(out)
    };
    Ok(Organization {
        id,
        service_control: levels("serviceControlPolicies")?,
        resource_control: levels("resourceControlPolicies")?,
    })
}
