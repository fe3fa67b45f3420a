//! Removal of what the ownership record lists, one typed resource at a time. Nothing is
//! removed before it proves it is ours: owner tags for rules and roles; for a policy
//! statement, its id and what it grants to (its `aws:SourceArn`, its principal). What does
//! not prove it is left alone and leaves the record. "Not found" is success.

use std::collections::BTreeMap;
use std::time::Duration;

use super::errors::{classify, AwsError};
use super::shared_reads::Shared;
use super::{apply, observe, Clients};
use crate::api::status::Restore;
use crate::api::{OwnedKind, OwnedResource};
use crate::iam::PolicyDocument;
use crate::plan::{Claim, Owner, POLICY_NAME};

/// How the removal of one recorded resource ended. Every variant but an error means the
/// entry leaves the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    Removed,
    /// Already gone.
    Gone,
    /// It exists but does not prove it is ours (tags, statement): left untouched.
    NotOurs(String),
    /// A role that also carries policies the controller did not put there: our inline
    /// policy and tags were removed, the role itself stays.
    Released(String),
    /// A shared statement still used by others: it stays, this object no longer counts on it.
    StillShared(String),
}

impl Removal {
    pub fn describe(&self, what: &OwnedResource) -> String {
        let w = what.describe();
        match self {
            Removal::Removed => format!("removed {w}"),
            Removal::Gone => format!("{w} was already gone"),
            Removal::NotOurs(why) => format!("left {w} untouched: {why}"),
            Removal::Released(why) => format!("released {w}: {why}"),
            Removal::StillShared(why) => format!("kept {w}: {why}"),
        }
    }
}

/// `snapshot_max_age`: a role's tags may come from a shared snapshot this old (the
/// controller, removing many at once); None reads each role (the orphan report).
pub async fn remove(
    c: &Clients,
    r: &OwnedResource,
    owner: &Owner,
    snapshot_max_age: Option<Duration>,
) -> Result<Removal, AwsError> {
    let result = match r.kind {
        OwnedKind::Rule => remove_rule(c, r, owner).await,
        OwnedKind::Role => remove_role(c, r, owner, snapshot_max_age).await,
        OwnedKind::LambdaPermission => remove_lambda_permission(c, r, owner).await,
        OwnedKind::BusPermission => remove_bus_permission(c, r).await,
        OwnedKind::QueuePermission => remove_queue_permission(c, r, owner).await,
        OwnedKind::ApiDestination | OwnedKind::Connection => {
            remove_api_destination_part(c, r, owner).await
        }
        OwnedKind::Schedule => remove_schedule(c, r, owner).await,
    };
    // Shared snapshots taken before the removal no longer speak for it.
    match r.kind {
        OwnedKind::Rule => c
            .shared
            .wrote_rule(r.event_bus_name.as_deref().unwrap_or("default"), &r.name),
        OwnedKind::Role => c.shared.wrote_role(&r.name),
        OwnedKind::LambdaPermission => c
            .shared
            .wrote_lambda_policy(&r.name, r.qualifier.as_deref()),
        OwnedKind::QueuePermission => c.shared.wrote_queue(&r.name, &r.account_id),
        OwnedKind::ApiDestination | OwnedKind::Connection => {
            c.shared.wrote_api_destination(&r.name)
        }
        OwnedKind::BusPermission | OwnedKind::Schedule => {}
    }
    result
}

/// `deletionPolicy: Retain` of a recorded rule or role: it stays as it is, without its
/// owner-UID tag, the proof that it is this object's. Nothing removes it as an orphan then
/// (the report needs that tag), and only the next object of the same namespace and name
/// (or an adoption) takes it over. What does not prove it is ours is left as it is.
pub async fn retain(c: &Clients, r: &OwnedResource, owner: &Owner) -> Result<Removal, AwsError> {
    let uid_tag = vec![crate::plan::OWNER_UID_TAG.to_string()];
    match r.kind {
        OwnedKind::Rule => {
            let Some(tags) = observe::rule_tags(c, &r.arn).await? else {
                return Ok(Removal::Gone);
            };
            if let Some(why) = not_ours(owner.claim(&tags)) {
                return Ok(Removal::NotOurs(why));
            }
            apply::ignore_not_found(
                c.events
                    .untag_resource()
                    .resource_arn(&r.arn)
                    .set_tag_keys(Some(uid_tag))
                    .send()
                    .await
                    .map_err(|e| classify("events:UntagResource", e)),
            )?;
            c.shared
                .wrote_rule(r.event_bus_name.as_deref().unwrap_or("default"), &r.name);
        }
        OwnedKind::Role => {
            let Some((arn, tags)) = role_proof(c, &r.name, None).await? else {
                return Ok(Removal::Gone);
            };
            if arn != r.arn {
                return Ok(Removal::NotOurs(format!(
                    "a role of that name has ARN {arn}"
                )));
            }
            if let Some(why) = not_ours(owner.claim(&tags)) {
                return Ok(Removal::NotOurs(why));
            }
            apply::ignore_not_found(
                c.iam
                    .untag_role()
                    .role_name(&r.name)
                    .set_tag_keys(Some(uid_tag))
                    .send()
                    .await
                    .map_err(|e| classify("iam:UntagRole", e)),
            )?;
            c.shared.wrote_role(&r.name);
        }
        _ => {}
    }
    Ok(Removal::Released(
        "retained: its owner-UID tag was removed, so it is no longer this cluster's to remove"
            .into(),
    ))
}

/// A statement whose id does not carry this owner's UID (written before ids did, or
/// someone else's under an id of the old form) proves less than its id: it is removed only
/// if the rule it grants to is not another owner's. Two objects that once shared a rule
/// name shared such a statement, and the one that does not hold the rule must not remove
/// the grant of the one that does. The rule is in the statement's own account.
async fn rule_is_someone_elses(
    c: &Clients,
    r: &OwnedResource,
    owner: &Owner,
) -> Result<Option<String>, AwsError> {
    let sid = r.statement_id.as_deref().unwrap_or_default();
    let proof = r.proof.as_deref().unwrap_or_default();
    if crate::plan::names::statement_id_of_owner(sid, &owner.uid) || !proof.contains(":rule/") {
        return Ok(None);
    }
    let Some(tags) = observe::rule_tags(c, proof).await? else {
        return Ok(None);
    };
    Ok(match owner.claim(&tags) {
        Claim::Foreign(found) => Some(format!(
            "statement {sid} grants rule {proof}, which is another owner's ({found})"
        )),
        _ => None,
    })
}

fn not_ours(claim: Claim) -> Option<String> {
    match claim {
        Claim::Ours => None,
        Claim::Untagged => Some("it carries no owner tag".into()),
        Claim::PreviousIncarnation => {
            Some("it is tagged for an earlier object of this name".into())
        }
        Claim::Foreign(tags) => Some(format!("it is tagged for another owner ({tags})")),
    }
}

/// An API destination or connection: removed when its description names this owner (they
/// take no tags), and when it is the recorded one (the ARN up to AWS's ID).
async fn remove_api_destination_part(
    c: &Clients,
    r: &OwnedResource,
    owner: &Owner,
) -> Result<Removal, AwsError> {
    use super::api_destination as api;
    use crate::plan::api_destination::is_instance_of;
    let found = match r.kind {
        OwnedKind::Connection => api::connection(c, &r.name)
            .await?
            .map(|x| (x.arn, x.description)),
        _ => api::api_destination(c, &r.name)
            .await?
            .map(|x| (x.arn, x.description)),
    };
    let Some((arn, description)) = found else {
        return Ok(Removal::Gone);
    };
    if !is_instance_of(&arn, &r.arn) {
        return Ok(Removal::NotOurs(format!("the one of that name is {arn}")));
    }
    if let Some(not_ours) = not_described_as(owner, &description) {
        return Ok(not_ours);
    }
    match r.kind {
        OwnedKind::Connection => api::delete_connection(c, &r.name).await?,
        _ => api::delete_api_destination(c, &r.name).await?,
    }
    Ok(Removal::Removed)
}

/// A schedule: removed when its description names this owner (schedules take no tags). Its
/// group is in the recorded ARN (`…:schedule/GROUP/NAME`).
async fn remove_schedule(
    c: &Clients,
    r: &OwnedResource,
    owner: &Owner,
) -> Result<Removal, AwsError> {
    let group = r
        .arn
        .rsplit_once(":schedule/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or("default");
    let Some(found) = super::schedule::schedule(c, group, &r.name).await? else {
        return Ok(Removal::Gone);
    };
    if let Some(not_ours) = not_described_as(owner, &found.description) {
        return Ok(not_ours);
    }
    super::schedule::delete_schedule(c, group, &r.name).await?;
    Ok(Removal::Removed)
}

/// A resource without tags is ours when its description names `owner` (see
/// `plan::described`); otherwise what it names.
fn not_described_as(owner: &Owner, description: &str) -> Option<Removal> {
    let tags = crate::plan::described::description_tags(description);
    (owner.claim(&tags) != Claim::Ours).then(|| {
        Removal::NotOurs(format!(
            "its description does not name this object (\"{description}\")"
        ))
    })
}

async fn remove_rule(c: &Clients, r: &OwnedResource, owner: &Owner) -> Result<Removal, AwsError> {
    let bus = r.event_bus_name.as_deref().unwrap_or("default");
    // The tags of the recorded ARN are the proof; a rule that is gone has none to read.
    let Some(tags) = observe::rule_tags(c, &r.arn).await? else {
        return Ok(Removal::Gone);
    };
    if let Some(why) = not_ours(owner.claim(&tags)) {
        return Ok(Removal::NotOurs(why));
    }
    if let Some(before) = &r.restore {
        return release_rule(c, r, bus, before, owner).await;
    }
    apply::delete_rule(c, &r.name, bus).await?;
    Ok(Removal::Removed)
}

/// An adopted rule is given back, not deleted: the integration's targets leave it, its
/// settings from before adoption and its tags without ours return; other targets stay.
async fn release_rule(
    c: &Clients,
    r: &OwnedResource,
    bus: &str,
    before: &Restore,
    owner: &Owner,
) -> Result<Removal, AwsError> {
    let present: Vec<String> = observe::targets(c, &r.name, bus)
        .await?
        .into_iter()
        .map(|t| t.id)
        .filter(|id| before.target_ids.contains(id))
        .collect();
    if !present.is_empty() {
        apply::ignore_not_found(
            c.events
                .remove_targets()
                .rule(&r.name)
                .event_bus_name(bus)
                .set_ids(Some(present))
                .send()
                .await
                .map_err(|e| classify("events:RemoveTargets", e)),
        )?;
    }
    let state = if before.enabled.unwrap_or(true) {
        aws_sdk_eventbridge::types::RuleState::Enabled
    } else {
        aws_sdk_eventbridge::types::RuleState::Disabled
    };
    c.events
        .put_rule()
        .name(&r.name)
        .event_bus_name(bus)
        .set_event_pattern(before.event_pattern.clone())
        .set_schedule_expression(before.schedule_expression.clone())
        .description(before.description.clone().unwrap_or_default())
        .state(state)
        .send()
        .await
        .map_err(|e| classify("events:PutRule", e))?;
    apply::ignore_not_found(
        c.events
            .untag_resource()
            .resource_arn(&r.arn)
            .set_tag_keys(Some(owner.tags().into_keys().collect()))
            .send()
            .await
            .map_err(|e| classify("events:UntagResource", e)),
    )?;
    Ok(Removal::Released(
        "it was adopted: the integration's targets were removed, its settings from before adoption restored and the owner tags removed; its other targets were left as they were".into(),
    ))
}

/// Our inline policy goes first, then the role, and IAM itself says whether anything else
/// is on it: DeleteRole is refused (`DeleteConflict`) while other inline or managed
/// policies or instance profiles remain, and the role is then released instead. Three
/// calls for a role that is only ours, not a read of every policy document.
async fn remove_role(
    c: &Clients,
    r: &OwnedResource,
    owner: &Owner,
    snapshot_max_age: Option<Duration>,
) -> Result<Removal, AwsError> {
    let Some((arn, tags)) = role_proof(c, &r.name, snapshot_max_age).await? else {
        return Ok(Removal::Gone);
    };
    if arn != r.arn {
        return Ok(Removal::NotOurs(format!(
            "a role of that name has ARN {arn}"
        )));
    }
    if let Some(why) = not_ours(owner.claim(&tags)) {
        return Ok(Removal::NotOurs(why));
    }
    if let Some(before) = &r.restore {
        return restore_role(c, &r.name, before, &tags, owner).await;
    }
    apply::ignore_not_found(
        c.iam
            .delete_role_policy()
            .role_name(&r.name)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .map_err(|e| classify("iam:DeleteRolePolicy", e)),
    )?;
    match c
        .iam
        .delete_role()
        .role_name(&r.name)
        .send()
        .await
        .map_err(|e| classify("iam:DeleteRole", e))
    {
        Ok(_) => Ok(Removal::Removed),
        Err(e) if e.is_not_found() => Ok(Removal::Gone),
        Err(e) if e.code == "DeleteConflict" => {
            let mut foreign = attachments(c, &r.name).await?;
            if foreign.is_empty() {
                foreign.push(e.message.clone());
            }
            release_role(c, &r.name, &tags, owner, &foreign).await
        }
        Err(e) => Err(e),
    }
}

/// A role's ARN and tags: from the shared snapshot when it has the role as ours (a role
/// the snapshot does not show as ours is read, so a snapshot never proves less than a read).
async fn role_proof(
    c: &Clients,
    name: &str,
    snapshot_max_age: Option<Duration>,
) -> Result<Option<(String, BTreeMap<String, String>)>, AwsError> {
    if let Some(max_age) = snapshot_max_age {
        if let Shared::Known(Some(proof)) = c.shared.role_tags(c, name, max_age).await? {
            return Ok(Some(proof));
        }
    }
    Ok(observe::get_role(c, name).await?.map(|role| {
        let tags = role
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        (role.arn().to_string(), tags)
    }))
}

/// An adopted role is given back, never deleted: its trust policy, permissions boundary and
/// the inline policy of our policy's name as they were before adoption, its tags without
/// ours.
async fn restore_role(
    c: &Clients,
    name: &str,
    before: &Restore,
    tags: &BTreeMap<String, String>,
    owner: &Owner,
) -> Result<Removal, AwsError> {
    let mut kept_boundary = None;
    if let Some(trust) = &before.trust_policy {
        c.iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(trust)
            .send()
            .await
            .map_err(|e| classify("iam:UpdateAssumeRolePolicy", e))?;
    }
    match &before.permissions_boundary_arn {
        Some(boundary) => {
            c.iam
                .put_role_permissions_boundary()
                .role_name(name)
                .permissions_boundary(boundary)
                .send()
                .await
                .map_err(|e| classify("iam:PutRolePermissionsBoundary", e))?;
        }
        None => {
            let dropped = apply::ignore_not_found(
                c.iam
                    .delete_role_permissions_boundary()
                    .role_name(name)
                    .send()
                    .await
                    .map_err(|e| classify("iam:DeleteRolePermissionsBoundary", e)),
            );
            match dropped {
                // The shipped controller policy (deploy/iam) never lets the controller drop
                // a boundary: the role keeps the one it was given, and the release says so.
                Err(e) if e.kind == super::ErrorKind::AccessDenied => {
                    kept_boundary = Some(e.message);
                }
                other => other?,
            }
        }
    }
    match &before.inline_policy {
        Some(document) => {
            c.iam
                .put_role_policy()
                .role_name(name)
                .policy_name(POLICY_NAME)
                .policy_document(document)
                .send()
                .await
                .map_err(|e| classify("iam:PutRolePolicy", e))?;
        }
        None => apply::ignore_not_found(
            c.iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(POLICY_NAME)
                .send()
                .await
                .map_err(|e| classify("iam:DeleteRolePolicy", e)),
        )?,
    }
    untag_role(c, name, tags, owner).await?;
    Ok(Removal::Released(match kept_boundary {
        None => "it was adopted: its trust policy, permissions boundary and inline policy from before adoption were restored and the owner tags removed".into(),
        Some(why) => format!("it was adopted: its trust policy and inline policy from before adoption were restored and the owner tags removed; it had no permissions boundary before, but the controller may not remove one ({why}), so the boundary it was given stays: remove it by hand if intended"),
    }))
}

async fn untag_role(
    c: &Clients,
    name: &str,
    tags: &BTreeMap<String, String>,
    owner: &Owner,
) -> Result<(), AwsError> {
    let ours: Vec<String> = owner
        .tags()
        .into_keys()
        .filter(|k| tags.contains_key(k))
        .collect();
    if ours.is_empty() {
        return Ok(());
    }
    apply::ignore_not_found(
        c.iam
            .untag_role()
            .role_name(name)
            .set_tag_keys(Some(ours))
            .send()
            .await
            .map_err(|e| classify("iam:UntagRole", e)),
    )
}

/// What else is on a role: managed policies, and inline policies other than ours.
async fn attachments(c: &Clients, role: &str) -> Result<Vec<String>, AwsError> {
    let attached = c
        .iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(|e| classify("iam:ListAttachedRolePolicies", e))?;
    let inline = c
        .iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(|e| classify("iam:ListRolePolicies", e))?;
    let attached: BTreeMap<String, serde_json::Value> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| {
            p.policy_arn()
                .map(|a| (a.to_string(), serde_json::Value::Null))
        })
        .collect();
    let inline: BTreeMap<String, serde_json::Value> = inline
        .policy_names()
        .iter()
        .map(|n| (n.clone(), serde_json::Value::Null))
        .collect();
    Ok(foreign_attachments(&attached, &inline))
}

/// Managed policies and inline policies on a role that the controller did not put there.
pub fn foreign_attachments(
    attached: &BTreeMap<String, serde_json::Value>,
    inline: &BTreeMap<String, serde_json::Value>,
) -> Vec<String> {
    attached
        .keys()
        .map(|arn| format!("managed policy {arn}"))
        .chain(
            inline
                .keys()
                .filter(|n| n.as_str() != POLICY_NAME)
                .map(|n| format!("inline policy {n}")),
        )
        .collect()
}

/// Takes the controller's share off a role others also use: its inline policy and its
/// owner tags. The role and everything else on it stay.
async fn release_role(
    c: &Clients,
    name: &str,
    tags: &BTreeMap<String, String>,
    owner: &Owner,
    foreign: &[String],
) -> Result<Removal, AwsError> {
    apply::ignore_not_found(
        c.iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .map_err(|e| classify("iam:DeleteRolePolicy", e)),
    )?;
    untag_role(c, name, tags, owner).await?;
    Ok(Removal::Released(format!(
        "it also carries {}, which the controller did not attach; the controller's inline policy {POLICY_NAME} and owner tags were removed and the role was left in place",
        foreign.join(", ")
    )))
}

async fn remove_lambda_permission(
    c: &Clients,
    r: &OwnedResource,
    owner: &Owner,
) -> Result<Removal, AwsError> {
    let sid = r.statement_id.as_deref().unwrap_or_default();
    let Some(policy) = observe::lambda_policy(c, &r.name, r.qualifier.as_deref()).await? else {
        return Ok(Removal::Gone);
    };
    let Some(statement) = statement(&policy, sid) else {
        return Ok(Removal::Gone);
    };
    let proof = r.proof.as_deref().unwrap_or_default();
    let source_arns = source_arns(&statement);
    let principals: Vec<&str> = statement
        .principal
        .iter()
        .flat_map(|p| p.entries.iter().map(|(_, v)| v.as_str()))
        .collect();
    let proven = source_arns == [proof] || (source_arns.is_empty() && principals == [proof]);
    if !proven {
        return Ok(Removal::NotOurs(format!(
            "statement {sid} grants to {principals:?} with SourceArn {source_arns:?}, not to what this object recorded ({proof})"
        )));
    }
    if let Some(why) = rule_is_someone_elses(c, r, owner).await? {
        return Ok(Removal::NotOurs(why));
    }
    apply::remove_permission(&c.lambda, &r.name, r.qualifier.as_deref(), sid).await?;
    Ok(Removal::Removed)
}

async fn remove_bus_permission(c: &Clients, r: &OwnedResource) -> Result<Removal, AwsError> {
    let sid = r.statement_id.as_deref().unwrap_or_default();
    let proof = r.proof.as_deref().unwrap_or_default();
    let Some(policy) = observe::bus_policy(c, &r.name).await? else {
        return Ok(Removal::Gone);
    };
    let Some(statement) = statement(&policy, sid) else {
        return Ok(Removal::Gone);
    };
    // A statement of one forwarding role is proven by its `aws:PrincipalArn`; a record
    // whose proof is an account is the shared statement older versions wrote.
    if proof.starts_with("arn:") {
        let admits = statement
            .conditions
            .iter()
            .find(|k| k.key.eq_ignore_ascii_case("aws:PrincipalArn"))
            .map(|k| k.values.clone())
            .unwrap_or_default();
        if admits != [proof.to_string()] {
            return Ok(Removal::NotOurs(format!(
                "statement {sid} admits {admits:?}, not the forwarding role {proof} this object recorded"
            )));
        }
        apply::remove_bus_statement(c, &r.name, sid).await?;
        return Ok(Removal::Removed);
    }
    remove_shared_bus_statement(c, r, sid, proof, &statement).await
}

/// The statement older versions shared among every integration of one source account
/// (`ebi-from-ACCOUNT`): the last integration out removes it.
async fn remove_shared_bus_statement(
    c: &Clients,
    r: &OwnedResource,
    sid: &str,
    account: &str,
    statement: &crate::iam::policy::Statement,
) -> Result<Removal, AwsError> {
    let root = format!("arn:{}:iam::{account}:root", r.partition);
    let admits_account = statement
        .principal
        .iter()
        .any(|p| p.entries.iter().any(|(_, v)| v == &root || v == account));
    if !admits_account {
        return Ok(Removal::NotOurs(format!(
            "statement {sid} does not admit account {account}"
        )));
    }
    // Shared by every integration forwarding from the account. A forwarder that has its own
    // statement now (this version writes one per forwarding role) no longer depends on it;
    // once none does, it goes: it admits the whole account.
    let policy_text = observe::bus_policy(c, &r.name)
        .await?
        .map(|p| crate::iam::documents::document_text(&p))
        .unwrap_or_default();
    let others: Vec<String> = observe::forwarding_rules(c, &r.name, account)
        .await?
        .into_iter()
        .filter(|(_, source)| {
            let own = crate::plan::names::bus_statement_id(source);
            crate::iam::documents::statement_with_sid(&policy_text, &own).is_none()
        })
        .map(|(name, _)| name)
        .collect();
    if !others.is_empty() {
        return Ok(Removal::StillShared(format!(
            "{} other forwarding rule(s) from account {account} still use it",
            others.len()
        )));
    }
    apply::remove_bus_statement(c, &r.name, sid).await?;
    Ok(Removal::Removed)
}

async fn remove_queue_permission(
    c: &Clients,
    r: &OwnedResource,
    owner: &Owner,
) -> Result<Removal, AwsError> {
    let sid = r.statement_id.clone().unwrap_or_default();
    let proof = r.proof.clone().unwrap_or_default();
    let Some(queue) = super::policy_holder::read(c, &r.arn, &r.name, &r.account_id).await? else {
        return Ok(Removal::Gone);
    };
    let Some(policy) = queue.policy() else {
        return Ok(Removal::Gone);
    };
    let Some(s) = statement(&policy, &sid) else {
        return Ok(Removal::Gone);
    };
    // Proven by its aws:SourceArn (the rule), or for direct delivery from another account
    // by its only principal (the rule account's execution role).
    let grant = crate::plan::diff::StatementGrant::of(&s);
    if !grant.proven_by(&proof) {
        return Ok(Removal::NotOurs(format!(
            "statement {sid} is not for {proof} ({})",
            grant.describe()
        )));
    }
    if let Some(why) = rule_is_someone_elses(c, r, owner).await? {
        return Ok(Removal::NotOurs(why));
    }
    apply::edit_policy(c, &r.arn, &r.name, &r.account_id, |current| {
        current.and_then(|p| crate::iam::documents::without_statement(p, &sid))
    })
    .await?;
    Ok(Removal::Removed)
}

/// The values of a statement's `aws:SourceArn` condition (any operator).
fn source_arns(statement: &crate::iam::policy::Statement) -> Vec<String> {
    statement
        .conditions
        .iter()
        .find(|c| c.key.eq_ignore_ascii_case("aws:SourceArn"))
        .map(|c| c.values.clone())
        .unwrap_or_default()
}

fn statement(policy: &serde_json::Value, sid: &str) -> Option<crate::iam::policy::Statement> {
    PolicyDocument::parse(policy)
        .ok()?
        .statements
        .into_iter()
        .find(|s| s.sid.as_deref() == Some(sid))
}
