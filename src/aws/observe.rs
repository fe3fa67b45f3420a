//! Reads: what exists in AWS, as plain data (`plan::diff::Observed`). NotFound is an
//! answer here, not an error.

use crate::sync::Locked;
use std::collections::BTreeMap;

use serde_json::Value;

use super::errors::{classify, AwsError};
use super::Clients;
use crate::diagnose::TaskDefinition;
use crate::plan::diff::{ObservedQueue, ObservedRole, ObservedRule};
use crate::plan::TargetShape;

/// Turns NotFound into `None`.
pub fn found<T>(r: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// A rule's tags by ARN (None: the rule does not exist).
pub async fn rule_tags(
    c: &Clients,
    arn: &str,
) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    Ok(found(
        c.events
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| classify("events:ListTagsForResource", e)),
    )?
    .map(|out| {
        out.tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    }))
}

pub async fn rule(c: &Clients, name: &str, bus: &str) -> Result<Option<ObservedRule>, AwsError> {
    let out = found(
        c.events
            .describe_rule()
            .name(name)
            .event_bus_name(bus)
            .send()
            .await
            .map_err(|e| classify("events:DescribeRule", e)),
    )?;
    let Some(out) = out else { return Ok(None) };
    let arn = out.arn().unwrap_or_default().to_string();
    // Deleted between the two reads (another writer, a concurrent clean-up): gone.
    let Some(tags) = rule_tags(c, &arn).await? else {
        return Ok(None);
    };
    Ok(Some(ObservedRule {
        name: out.name().unwrap_or(name).to_string(),
        arn,
        event_bus_name: out.event_bus_name().unwrap_or(bus).to_string(),
        enabled: out
            .state()
            .is_none_or(|s| s.as_str().starts_with("ENABLED")),
        description: out
            .description()
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        event_pattern: out.event_pattern().map(parse_json),
        schedule_expression: out
            .schedule_expression()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        tags,
    }))
}

/// Every target of a rule, none when the rule is gone. A rule holds at most five, but
/// AWS may still page; the EventBridge SDK has no paginators (its model declares none), so
/// the token is followed here.
pub async fn targets(c: &Clients, rule: &str, bus: &str) -> Result<Vec<TargetShape>, AwsError> {
    let mut targets = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .events
            .list_targets_by_rule()
            .rule(rule)
            .event_bus_name(bus)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify("events:ListTargetsByRule", e));
        let page = match page {
            Err(e) if e.is_not_found() => return Ok(targets),
            other => other?,
        };
        targets.extend(page.targets().iter().map(target_shape));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(targets);
        }
    }
}

/// The SDK's target in the planner's comparable shape.
pub fn target_shape(t: &aws_sdk_eventbridge::types::Target) -> TargetShape {
    TargetShape {
        id: t.id().to_string(),
        arn: t.arn().to_string(),
        role_arn: t.role_arn().map(str::to_string),
        parameters: super::target_parameters::observed(t),
        input: t.input().map(parse_json),
        input_path: t.input_path().map(str::to_string),
        input_transformer: t.input_transformer().map(|x| {
            (
                x.input_paths_map()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .collect::<BTreeMap<_, _>>(),
                x.input_template().to_string(),
            )
        }),
        retry: t
            .retry_policy()
            .map(|r| (r.maximum_retry_attempts(), r.maximum_event_age_in_seconds())),
        dead_letter_arn: t
            .dead_letter_config()
            .and_then(|d| d.arn())
            .map(str::to_string),
    }
}

/// A role with everything that decides what it may do: trust, inline and attached
/// policies, boundary. `name` is the role name (not the ARN).
pub async fn role(c: &Clients, name: &str) -> Result<Option<ObservedRole>, AwsError> {
    let Some(role) = get_role(c, name).await? else {
        return Ok(None);
    };
    let mut inline_policies = BTreeMap::new();
    let names = c
        .iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| classify("iam:ListRolePolicies", e))?;
    for policy in names.policy_names() {
        let doc = c
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| classify("iam:GetRolePolicy", e))?;
        inline_policies.insert(
            policy.clone(),
            Value::String(doc.policy_document().to_string()),
        );
    }
    let mut attached_policies = BTreeMap::new();
    let attached = c
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| classify("iam:ListAttachedRolePolicies", e))?;
    for p in attached.attached_policies() {
        if let Some(arn) = p.policy_arn() {
            if let Some(doc) = managed_policy_document(c, arn).await? {
                attached_policies.insert(arn.to_string(), doc);
            }
        }
    }
    let permissions_boundary = match role
        .permissions_boundary()
        .and_then(|b| b.permissions_boundary_arn())
    {
        Some(arn) => managed_policy_document(c, arn)
            .await?
            .map(|d| (arn.to_string(), d)),
        None => None,
    };
    Ok(Some(ObservedRole {
        arn: role.arn().to_string(),
        name: role.role_name().to_string(),
        trust_policy: Value::String(
            role.assume_role_policy_document()
                .unwrap_or_default()
                .to_string(),
        ),
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        inline_policies,
        attached_policies,
        permissions_boundary,
    }))
}

/// GetRole (None: no role of that name).
pub async fn get_role(
    c: &Clients,
    name: &str,
) -> Result<Option<aws_sdk_iam::types::Role>, AwsError> {
    let got = found(
        c.iam
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| classify("iam:GetRole", e)),
    )?;
    Ok(got.and_then(|o| o.role))
}

/// The default version's document of a managed policy.
pub(super) async fn managed_policy_document(
    c: &Clients,
    arn: &str,
) -> Result<Option<Value>, AwsError> {
    let policy = found(
        c.iam
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| classify("iam:GetPolicy", e)),
    )?;
    let Some(version) = policy
        .and_then(|p| p.policy)
        .and_then(|p| p.default_version_id)
    else {
        return Ok(None);
    };
    let v = c
        .iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| classify("iam:GetPolicyVersion", e))?;
    Ok(v.policy_version()
        .and_then(|pv| pv.document())
        .map(|d| Value::String(d.to_string())))
}

/// An SQS queue by name in `account` (None: it does not exist), with every attribute.
pub async fn queue(
    c: &Clients,
    name: &str,
    account: &str,
) -> Result<Option<ObservedQueue>, AwsError> {
    let Some(url) = found(
        c.sqs
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(|e| classify("sqs:GetQueueUrl", e)),
    )?
    .and_then(|o| o.queue_url) else {
        return Ok(None);
    };
    let Some(out) = found(
        c.sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| classify("sqs:GetQueueAttributes", e)),
    )?
    else {
        return Ok(None);
    };
    let attributes = out
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(ObservedQueue { url, attributes }))
}

/// The function's resource policy for exactly this qualifier (None: no policy).
pub async fn lambda_policy(
    c: &Clients,
    function_name: &str,
    qualifier: Option<&str>,
) -> Result<Option<Value>, AwsError> {
    let out = found(
        c.lambda
            .get_policy()
            .function_name(function_name)
            .set_qualifier(qualifier.map(str::to_string))
            .send()
            .await
            .map_err(|e| classify("lambda:GetPolicy", e)),
    )?;
    Ok(out.and_then(|o| o.policy).map(Value::String))
}

/// A task definition, or ECS's own words for why it could not be described. ECS answers
/// with `ClientException` both for a task definition that does not exist and for one the
/// caller may not see; which one it is, only its message says, so it is passed on whole.
pub async fn task_definition_or_reason(
    c: &Clients,
    arn: &str,
) -> Result<Result<TaskDefinition, String>, AwsError> {
    match describe_task_definition(c, arn).await {
        Ok(Some(td)) => Ok(Ok(td)),
        Ok(None) => Ok(Err("ECS returned no task definition".into())),
        Err(e) if e.code == "ClientException" => Ok(Err(format!("{} ({})", e.message, e.code))),
        Err(e) => Err(e),
    }
}

/// A task definition; None when ECS could not describe it (see `task_definition_or_reason`).
pub async fn task_definition(c: &Clients, arn: &str) -> Result<Option<TaskDefinition>, AwsError> {
    match describe_task_definition(c, arn).await {
        Err(e) if e.code == "ClientException" => Ok(None),
        other => other,
    }
}

async fn describe_task_definition(
    c: &Clients,
    arn: &str,
) -> Result<Option<TaskDefinition>, AwsError> {
    let pinned = arn
        .rsplit_once(':')
        .is_some_and(|(_, rev)| !rev.is_empty() && rev.chars().all(|ch| ch.is_ascii_digit()));
    if pinned {
        if let Some(td) = c.task_definitions.locked().get(arn) {
            return Ok(Some(td.clone()));
        }
    }
    let out = c
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| classify("ecs:DescribeTaskDefinition", e));
    let out = found(out)?;
    let td = out
        .and_then(|o| o.task_definition)
        .map(|td| TaskDefinition {
            arn: td.task_definition_arn().unwrap_or(arn).to_string(),
            execution_role_arn: td.execution_role_arn().map(str::to_string),
            task_role_arn: td.task_role_arn().map(str::to_string),
        });
    if let (true, Some(td)) = (pinned, &td) {
        c.task_definitions
            .locked()
            .insert(arn.to_string(), td.clone());
    }
    Ok(td)
}

/// The resource policy of an event bus (None: the bus has no policy).
pub async fn bus_policy(c: &Clients, bus: &str) -> Result<Option<Value>, AwsError> {
    let out = found(
        c.events
            .describe_event_bus()
            .name(bus)
            .send()
            .await
            .map_err(|e| classify("events:DescribeEventBus", e)),
    )?;
    Ok(out.and_then(|o| o.policy).map(Value::String))
}

/// Rules on `bus` that this controller created to receive events forwarded from `account`
/// (managed-by tag, and the description the planner writes), each with the ARN of the
/// source rule that forwards to it. Used to keep the shared bus-policy statement of older
/// versions while a forwarder still depends on it.
pub async fn forwarding_rules(
    c: &Clients,
    bus: &str,
    account: &str,
) -> Result<Vec<(String, String)>, AwsError> {
    let mut names = Vec::new();
    let suffix = format!(" in account {account}");
    for r in list_rules(c, bus).await? {
        let source = r.description().and_then(|d| {
            d.strip_prefix("Forwarded from ")?
                .strip_suffix(&suffix)
                .map(str::to_string)
        });
        let (Some(arn), Some(source)) = (r.arn(), source) else {
            continue;
        };
        let tags = c
            .events
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| classify("events:ListTagsForResource", e))?;
        if tags
            .tags()
            .iter()
            .any(|t| t.key() == crate::plan::MANAGED_BY_TAG && t.value() == crate::plan::MANAGED_BY)
        {
            names.push((r.name().unwrap_or_default().to_string(), source));
        }
    }
    Ok(names)
}

/// Every rule of a bus, as ListRules gives them (paginated, 100 a page).
pub async fn list_rules(
    c: &Clients,
    bus: &str,
) -> Result<Vec<aws_sdk_eventbridge::types::Rule>, AwsError> {
    let mut rules = Vec::new();
    for_each_rule(c, bus, |r| rules.push(r)).await?;
    Ok(rules)
}

/// Every rule of a bus, handed to `each` page by page: a caller that keeps less than the
/// SDK's whole `Rule` never holds all of them at once (10,000 rules: ~5 MB).
pub async fn for_each_rule(
    c: &Clients,
    bus: &str,
    mut each: impl FnMut(aws_sdk_eventbridge::types::Rule),
) -> Result<(), AwsError> {
    let mut token = None;
    loop {
        let page = c
            .events
            .list_rules()
            .event_bus_name(bus)
            .limit(100)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify("events:ListRules", e))?;
        token = page.next_token().map(str::to_string);
        page.rules
            .unwrap_or_default()
            .into_iter()
            .for_each(&mut each);
        if token.is_none() {
            return Ok(());
        }
    }
}

/// Every event bus of the region (paginated).
pub async fn event_buses(c: &Clients) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .events
            .list_event_buses()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify("events:ListEventBuses", e))?;
        names.extend(
            page.event_buses()
                .iter()
                .filter_map(|b| b.name().map(str::to_string)),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(names);
        }
    }
}
