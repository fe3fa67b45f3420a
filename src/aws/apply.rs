//! Writes: carry out the planner's changes, and clean up on deletion. Every create treats
//! "already exists" as a conflict for the next pass to resolve; every delete treats
//! "not found" as success.

use crate::sync::Locked;
use std::collections::BTreeMap;

use aws_sdk_eventbridge::types as eb;
use aws_sdk_iam::types as iam;

use super::errors::{classify, AwsError, ErrorKind};
use super::Clients;
use crate::plan::diff::Change;
use crate::plan::{Desired, DesiredRole, ManagedRole, TargetShape};

#[allow(
    clippy::expect_used,
    reason = "the SDK's builder fails only when key or value is unset; both are set"
)]
fn iam_tags(tags: &BTreeMap<String, String>) -> Vec<iam::Tag> {
    tags.iter()
        .map(|(k, v)| {
            iam::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("key and value set")
        })
        .collect()
}

#[allow(
    clippy::expect_used,
    reason = "the SDK's builder fails only when key or value is unset; both are set"
)]
fn eb_tags(tags: &BTreeMap<String, String>) -> Vec<eb::Tag> {
    tags.iter()
        .map(|(k, v)| {
            eb::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .expect("key and value set")
        })
        .collect()
}

/// The description of every role the controller creates: how the orphan report finds them
/// without reading the tags of every role in the account.
pub const ROLE_DESCRIPTION: &str =
    "EventBridge invocation role managed by eventbridge-integration-controller";

fn rejected(operation: &'static str, message: String) -> AwsError {
    AwsError::new(operation, ErrorKind::Rejected, "InvalidRequest", message)
}

/// A change whose data the plan does not hold (a planner bug): refused, not a panic.
fn unplanned(change: &Change) -> AwsError {
    rejected(
        "plan",
        format!("{change:?} planned without what it writes; please report this"),
    )
}

/// Applies one change. The role ARN used by the target is the desired one.
pub async fn apply(c: &Clients, desired: &Desired, change: &Change) -> Result<(), AwsError> {
    let result = write(c, desired, change).await;
    // Marked after the write, failed or not (a lost response may still have written): no
    // shared snapshot that began before this moment speaks for it again.
    mark_written(c, desired, change);
    result
}

fn mark_written(c: &Clients, desired: &Desired, change: &Change) {
    match change {
        Change::CreateRole
        | Change::TagRole
        | Change::UpdateTrustPolicy
        | Change::PutPermissionsBoundary(_)
        | Change::DeletePermissionsBoundary
        | Change::PutRolePolicy => {
            if let DesiredRole::Managed(m) = &desired.role {
                c.shared.wrote_role(&m.name);
            }
        }
        Change::PutRule { .. } | Change::TagRule => {
            let r = desired.rule();
            c.shared.wrote_rule(&r.event_bus_name, &r.name);
        }
        Change::AddPermission { function_arn, .. } => {
            if let Some(p) = desired
                .permissions
                .iter()
                .find(|p| p.function_arn == *function_arn)
            {
                c.shared
                    .wrote_lambda_policy(p.function_arn.unqualified(), p.function_arn.qualifier());
            }
        }
        Change::PutQueueStatements { queue_arn, .. } => {
            if let Some(q) = desired.queue_statements(queue_arn).next() {
                c.shared.wrote_queue(&q.queue_name, &q.queue_account);
            }
        }
        Change::PutConnection { name, .. } | Change::PutApiDestination { name, .. } => {
            c.shared.wrote_api_destination(name);
        }
        // Targets, bus policies and schedules are always read directly.
        Change::PutTarget
        | Change::RemoveTargets(_)
        | Change::PutBusPermission { .. }
        | Change::PutSchedule { .. } => {}
    }
}

async fn write(c: &Clients, desired: &Desired, change: &Change) -> Result<(), AwsError> {
    match change {
        Change::PutConnection { name, created } => {
            let Some(d) = desired.api_destination(name) else {
                return Err(unplanned(change));
            };
            super::api_destination::put_connection(c, &d.name, &d.connection, *created).await?;
        }
        Change::PutApiDestination { name, created } => {
            let Some(d) = desired.api_destination(name) else {
                return Err(unplanned(change));
            };
            super::api_destination::put_api_destination(c, d, *created).await?;
        }
        Change::PutSchedule { created } => {
            let Some(d) = &desired.schedule else {
                return Err(unplanned(change));
            };
            super::schedule::put_schedule(c, d, *created).await?;
        }
        Change::CreateRole
        | Change::TagRole
        | Change::UpdateTrustPolicy
        | Change::PutPermissionsBoundary(_)
        | Change::DeletePermissionsBoundary
        | Change::PutRolePolicy => {
            // The planner asks role writes of managed roles only; a pass never panics on
            // a plan it did not expect, it refuses the write.
            let DesiredRole::Managed(m) = &desired.role else {
                return Err(unplanned(change));
            };
            write_role(c, m, &desired.tags, change).await?;
        }
        Change::PutRule { created } => put_rule(c, desired, *created).await?,
        Change::TagRule => {
            c.events
                .tag_resource()
                .resource_arn(desired.rule().arn.as_str())
                .set_tags(Some(eb_tags(&desired.tags)))
                .send()
                .await
                .map_err(|e| classify("events:TagResource", e))?;
        }
        Change::PutTarget => put_targets(c, desired, change).await?,
        Change::RemoveTargets(ids) => remove_targets(c, desired, ids).await?,
        Change::PutBusPermission { .. } => put_bus_permission(c, desired, change).await?,
        Change::PutQueueStatements { queue_arn, .. } => {
            // Every statement of ours in this queue's policy, in one rewrite.
            let ours: Vec<_> = desired.queue_statements(queue_arn).collect();
            let Some(q) = ours.first() else {
                return Err(unplanned(change));
            };
            edit_policy(c, queue_arn, &q.queue_name, &q.queue_account, |policy| {
                let statements: Vec<_> = ours.iter().map(|q| q.statement.clone()).collect();
                Some(crate::iam::documents::with_statements(policy, &statements))
            })
            .await?;
        }
        Change::AddPermission {
            replace,
            function_arn,
        } => {
            let Some(p) = desired
                .permissions
                .iter()
                .find(|p| p.function_arn == *function_arn)
            else {
                return Err(unplanned(change));
            };
            add_permission(&c.lambda, p, *replace).await?;
        }
    }
    Ok(())
}

/// The rule, created or updated in place (PutRule is both).
async fn put_rule(c: &Clients, desired: &Desired, created: bool) -> Result<(), AwsError> {
    let r = desired.rule();
    let state = if r.enabled {
        eb::RuleState::Enabled
    } else {
        eb::RuleState::Disabled
    };
    c.events
        .put_rule()
        .name(&r.name)
        .event_bus_name(&r.event_bus_name)
        .set_event_pattern(r.event_pattern.as_ref().map(|p| p.to_string()))
        .set_schedule_expression(r.schedule_expression.clone())
        .description(r.description.clone().unwrap_or_default())
        .state(state)
        // Tags on PutRule only apply on creation; TagRule handles existing rules.
        // A created rule also carries when it was created (EventBridge keeps no
        // date): the orphan report leaves alone what is younger than its grace.
        .set_tags(created.then(|| {
            let mut tags = desired.tags.clone();
            tags.insert(crate::plan::CREATED_TAG.to_string(), now_seconds());
            eb_tags(&tags)
        }))
        .send()
        .await
        .map_err(|e| classify("events:PutRule", e))?;
    Ok(())
}

/// Every target of the rule, in one PutTargets (which answers per target, in a 200).
async fn put_targets(c: &Clients, desired: &Desired, change: &Change) -> Result<(), AwsError> {
    if desired.targets.is_empty() {
        return Err(unplanned(change));
    }
    let mut targets = Vec::with_capacity(desired.targets.len());
    for t in &desired.targets {
        let mut target = t.clone();
        // An API destination's ARN ends in the ID AWS gave it.
        if let Some(d) = desired.api_destinations.iter().find(|d| d.arn == t.arn) {
            target.arn = super::api_destination::destination_arn(c, d).await?;
        }
        targets.push(sdk_target(&target).map_err(|m| rejected("events:PutTargets", m))?);
    }
    let out = c
        .events
        .put_targets()
        .rule(&desired.rule().name)
        .event_bus_name(&desired.rule().event_bus_name)
        .set_targets(Some(targets))
        .send()
        .await
        .map_err(|e| classify("events:PutTargets", e))?;
    // PutTargets reports per-target failures in a 200 response.
    if out.failed_entry_count() > 0 {
        let why: Vec<String> = out
            .failed_entries()
            .iter()
            .map(|f| {
                format!(
                    "{}: {} {}",
                    f.target_id().unwrap_or("?"),
                    f.error_code().unwrap_or(""),
                    f.error_message().unwrap_or("")
                )
            })
            .collect();
        return Err(AwsError::new(
            "events:PutTargets",
            ErrorKind::Rejected,
            "FailedEntries",
            why.join("; "),
        ));
    }
    Ok(())
}

async fn remove_targets(c: &Clients, desired: &Desired, ids: &[String]) -> Result<(), AwsError> {
    let out = c
        .events
        .remove_targets()
        .rule(&desired.rule().name)
        .event_bus_name(&desired.rule().event_bus_name)
        .set_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| classify("events:RemoveTargets", e))?;
    if out.failed_entry_count() > 0 {
        return Err(AwsError::new(
            "events:RemoveTargets",
            ErrorKind::Rejected,
            "FailedEntries",
            format!("{:?}", out.failed_entries()),
        ));
    }
    Ok(())
}

/// The target bus's policy, written whole: every other statement as it is, ours in place of
/// any of its id. (PutPermission's Principal form admits a whole account.)
async fn put_bus_permission(
    c: &Clients,
    desired: &Desired,
    change: &Change,
) -> Result<(), AwsError> {
    let Some(b) = &desired.bus_permission else {
        return Err(unplanned(change));
    };
    let current = super::observe::bus_policy(c, &b.event_bus_name)
        .await?
        .map(|p| crate::iam::documents::document_text(&p));
    let policy = crate::iam::documents::with_statement(current.as_deref(), &b.statement);
    c.events
        .put_permission()
        .event_bus_name(&b.event_bus_name)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(|e| classify("events:PutPermission", e))?;
    Ok(())
}

/// The writes of a role the controller manages.
async fn write_role(
    c: &Clients,
    m: &ManagedRole,
    tags: &BTreeMap<String, String>,
    change: &Change,
) -> Result<(), AwsError> {
    match change {
        Change::CreateRole => {
            c.iam
                .create_role()
                .role_name(&m.name)
                .path(&m.path)
                .assume_role_policy_document(m.trust_policy.to_string())
                .set_permissions_boundary(m.permissions_boundary_arn.clone())
                .description(ROLE_DESCRIPTION)
                .set_tags(Some(iam_tags(tags)))
                .send()
                .await
                .map_err(|e| classify("iam:CreateRole", e))?;
        }
        Change::TagRole => {
            c.iam
                .tag_role()
                .role_name(&m.name)
                .set_tags(Some(iam_tags(tags)))
                .send()
                .await
                .map_err(|e| classify("iam:TagRole", e))?;
        }
        Change::UpdateTrustPolicy => {
            c.iam
                .update_assume_role_policy()
                .role_name(&m.name)
                .policy_document(m.trust_policy.to_string())
                .send()
                .await
                .map_err(|e| classify("iam:UpdateAssumeRolePolicy", e))?;
        }
        Change::PutPermissionsBoundary(arn) => {
            c.iam
                .put_role_permissions_boundary()
                .role_name(&m.name)
                .permissions_boundary(arn)
                .send()
                .await
                .map_err(|e| classify("iam:PutRolePermissionsBoundary", e))?;
        }
        Change::DeletePermissionsBoundary => {
            c.iam
                .delete_role_permissions_boundary()
                .role_name(&m.name)
                .send()
                .await
                .map_err(|e| classify("iam:DeleteRolePermissionsBoundary", e))?;
        }
        Change::PutRolePolicy => {
            c.iam
                .put_role_policy()
                .role_name(&m.name)
                .policy_name(crate::plan::POLICY_NAME)
                .policy_document(m.policy.to_string())
                .send()
                .await
                .map_err(|e| classify("iam:PutRolePolicy", e))?;
        }
        other => return Err(unplanned(other)),
    }
    Ok(())
}

/// Unix seconds now, as the `eventbridge.dev/created` tag holds it.
fn now_seconds() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        .to_string()
}

/// The code of the error `add_permission` returns for a statement under our id that is not
/// provably ours: the pass reports it (`ResourceNotOwned`) and writes nothing over it.
pub const STATEMENT_NOT_OWNED: &str = "StatementNotOwned";

/// Grants EventBridge the invoke permission. `replace`: a statement with our ID exists but
/// differs, and the diff proved it ours (it grants to this rule, or to what the record
/// names). A 409 (the statement ID exists although the read before did not show it: a
/// concurrent pass, a stale read) is resolved by reading the policy again: the desired
/// statement already there is success, one that grants to this rule (or principal) is ours
/// and replaced, and any other is someone else's and left alone ([`STATEMENT_NOT_OWNED`]).
pub async fn add_permission(
    lambda: &aws_sdk_lambda::Client,
    p: &crate::plan::DesiredPermission,
    replace: bool,
) -> Result<(), AwsError> {
    if replace {
        remove_permission(
            lambda,
            p.function_arn.unqualified(),
            p.function_arn.qualifier(),
            &p.statement_id,
        )
        .await?;
    }
    let add = || {
        lambda
            .add_permission()
            .function_name(p.function_arn.unqualified())
            .set_qualifier(p.function_arn.qualifier().map(str::to_string))
            .statement_id(&p.statement_id)
            .action("lambda:InvokeFunction")
            .principal(&p.principal)
            .set_source_arn(p.source_arn.clone())
            .set_source_account(p.source_account.as_ref().map(ToString::to_string))
            .send()
    };
    match add().await.map_err(|e| classify("lambda:AddPermission", e)) {
        Err(e) if e.kind == ErrorKind::Conflict => {
            let policy = super::observe::found(
                lambda
                    .get_policy()
                    .function_name(p.function_arn.unqualified())
                    .set_qualifier(p.function_arn.qualifier().map(str::to_string))
                    .send()
                    .await
                    .map_err(|e| classify("lambda:GetPolicy", e)),
            )?
            .and_then(|o| o.policy);
            let statement = policy.and_then(|text| {
                crate::iam::PolicyDocument::parse(&serde_json::Value::String(text))
                    .ok()?
                    .statements
                    .into_iter()
                    .find(|s| s.sid.as_deref() == Some(p.statement_id.as_str()))
            });
            let Some(statement) = statement else {
                // Gone again since the 409: add it now.
                add()
                    .await
                    .map_err(|e| classify("lambda:AddPermission", e))?;
                return Ok(());
            };
            let grant = crate::plan::diff::StatementGrant::of(&statement);
            let proof = p.source_arn.as_deref().unwrap_or(&p.principal);
            if !grant.proven_by(proof) {
                return Err(AwsError::new(
                    "lambda:AddPermission",
                    ErrorKind::Rejected,
                    STATEMENT_NOT_OWNED,
                    format!(
                        "statement {} on {} exists and is not this object's: {}",
                        p.statement_id,
                        p.function_arn,
                        grant.describe()
                    ),
                ));
            }
            if grant_is_desired(&grant, p) {
                return Ok(());
            }
            remove_permission(
                lambda,
                p.function_arn.unqualified(),
                p.function_arn.qualifier(),
                &p.statement_id,
            )
            .await?;
            add()
                .await
                .map_err(|e| classify("lambda:AddPermission", e))?;
            Ok(())
        }
        other => other.map(|_| ()),
    }
}

/// Whether a statement found under our id already grants exactly what is desired (the
/// principal, and the source conditions as AddPermission writes them).
fn grant_is_desired(
    grant: &crate::plan::diff::StatementGrant,
    p: &crate::plan::DesiredPermission,
) -> bool {
    grant.principals == [p.principal.clone()]
        && grant.source_arns == p.source_arn.clone().into_iter().collect::<Vec<_>>()
}

/// NotFound is success: the permission is already gone.
pub async fn remove_permission(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    qualifier: Option<&str>,
    statement_id: &str,
) -> Result<(), AwsError> {
    match lambda
        .remove_permission()
        .function_name(function)
        .set_qualifier(qualifier.map(str::to_string))
        .statement_id(statement_id)
        .send()
        .await
        .map_err(|e| classify("lambda:RemovePermission", e))
    {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Rewrites a queue's policy with `edit` (None: remove the policy). SQS has no per-statement
/// call that takes conditions, so this is read-modify-write: the policy is read again right
/// before the write, under a lock per queue, so two integrations sharing one dead-letter
/// queue in this process never write over each other's statement.
pub async fn edit_queue_policy(
    c: &Clients,
    queue_name: &str,
    account: &str,
    edit: impl FnOnce(Option<&str>) -> Option<serde_json::Value>,
) -> Result<(), AwsError> {
    edit_policy(c, "", queue_name, account, edit).await
}

/// [`edit_queue_policy`] for the queue, SNS topic or CloudWatch Logs resource policy `arn`
/// names (`aws::policy_holder`).
pub async fn edit_policy(
    c: &Clients,
    arn: &str,
    queue_name: &str,
    account: &str,
    edit: impl FnOnce(Option<&str>) -> Option<serde_json::Value>,
) -> Result<(), AwsError> {
    let lock = match crate::plan::PolicyHolder::of_arn(arn) {
        crate::plan::PolicyHolder::Queue => {
            queue_lock(&format!("{account}/{}/{queue_name}", c.region))
        }
        crate::plan::PolicyHolder::Topic
        | crate::plan::PolicyHolder::LogsPolicy
        | crate::plan::PolicyHolder::Stream => queue_lock(arn),
        // Held by the API, not by the method the ARN names: two methods, one policy.
        crate::plan::PolicyHolder::RestApi => {
            queue_lock(&format!("{account}/{}/restapis/{queue_name}", c.region))
        }
    };
    let _held = lock.lock().await;
    let Some(queue) = super::policy_holder::read(c, arn, queue_name, account).await? else {
        return Ok(());
    };
    let current = queue.attributes.get("Policy").filter(|p| !p.is_empty());
    // A policy that is not JSON would be rewritten as ours alone, dropping every statement
    // of its owner (a Deny, a VPC condition): refused, for a person to look at.
    if let Some(unreadable) =
        current.filter(|p| serde_json::from_str::<serde_json::Value>(p).is_err())
    {
        return Err(AwsError::new(
            "policy:Read",
            super::errors::ErrorKind::Rejected,
            super::errors::UNREADABLE_POLICY,
            format!(
                "the policy of {} is not JSON this controller can read, so it is not rewritten (it would lose its owner's statements): {}",
                if arn.is_empty() { queue_name } else { arn },
                unreadable.chars().take(200).collect::<String>()
            ),
        ));
    }
    let next = edit(current.map(String::as_str))
        .map(|v| v.to_string())
        .unwrap_or_default();
    if current.map(String::as_str).unwrap_or_default() == next {
        return Ok(());
    }
    super::policy_holder::write_policy(c, arn, &queue, next).await
}

fn queue_lock(key: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    static LOCKS: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
    > = std::sync::LazyLock::new(Default::default);
    LOCKS.locked().entry(key.to_string()).or_default().clone()
}

/// Removes a statement from an event bus's policy; NotFound is success.
pub async fn remove_bus_statement(
    c: &Clients,
    bus: &str,
    statement_id: &str,
) -> Result<(), AwsError> {
    ignore_not_found(
        c.events
            .remove_permission()
            .event_bus_name(bus)
            .statement_id(statement_id)
            .send()
            .await
            .map_err(|e| classify("events:RemovePermission", e)),
    )
}

pub fn ignore_not_found<T>(r: Result<T, AwsError>) -> Result<(), AwsError> {
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Deletes a rule with its targets (a rule with targets cannot be deleted); each step
/// idempotent.
pub async fn delete_rule(c: &Clients, name: &str, bus: &str) -> Result<(), AwsError> {
    let ids = super::observe::targets(c, name, bus)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect::<Vec<_>>();
    if !ids.is_empty() {
        ignore_not_found(
            c.events
                .remove_targets()
                .rule(name)
                .event_bus_name(bus)
                .set_ids(Some(ids))
                .send()
                .await
                .map_err(|e| classify("events:RemoveTargets", e)),
        )?;
    }
    ignore_not_found(
        c.events
            .delete_rule()
            .name(name)
            .event_bus_name(bus)
            .send()
            .await
            .map_err(|e| classify("events:DeleteRule", e)),
    )
}

/// The planner's target as the SDK's.
pub fn sdk_target(t: &TargetShape) -> Result<eb::Target, String> {
    let mut b = eb::Target::builder()
        .id(&t.id)
        .arn(&t.arn)
        .set_role_arn(t.role_arn.clone())
        .set_input(t.input.as_ref().map(|v| v.to_string()))
        .set_input_path(t.input_path.clone());
    if let Some((paths, template)) = &t.input_transformer {
        let x = eb::InputTransformer::builder()
            .set_input_paths_map((!paths.is_empty()).then(|| paths.clone().into_iter().collect()))
            .input_template(template)
            .build()
            .map_err(|e| e.to_string())?;
        b = b.input_transformer(x);
    }
    if let Some((attempts, age)) = t.retry {
        b = b.retry_policy(
            eb::RetryPolicy::builder()
                .set_maximum_retry_attempts(attempts)
                .set_maximum_event_age_in_seconds(age)
                .build(),
        );
    }
    if let Some(dlq) = &t.dead_letter_arn {
        b = b.dead_letter_config(eb::DeadLetterConfig::builder().arn(dlq).build());
    }
    b = super::target_parameters::with_parameters(b, &t.parameters)?;
    b.build().map_err(|e| e.to_string())
}
