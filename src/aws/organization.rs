//! Organisation policies online: the service control policies (SCPs) and resource control
//! policies (RCPs) that apply to one account, per level from the root down to the account,
//! for the diagnosis (`ServiceControlPolicyBlocks`, `ResourceControlPolicyBlocks`).
//!
//! Read with DescribeOrganization (the organisation and its management account), ListParents
//! (from the account up to the root), ListPoliciesForTarget per level and policy type, and
//! DescribePolicy per distinct policy. Only the management account or a delegated
//! administrator may call the last three: anyone else gets AccessDenied, and the diagnosis
//! says the policies were not evaluated, quoting AWS — it never treats them as allowing.
//!
//! The result is the bundle's `organization` value (what `collect` writes) and is parsed by
//! the bundle's own parser, so online and offline diagnoses judge the same documents.

use std::collections::BTreeMap;

use aws_sdk_organizations::types::{ParentType, PolicyType};
use serde_json::{json, Value};

use super::errors::{classify, AwsError, ErrorKind};
use crate::diagnose::{Organization, Snapshot};

/// What applies to one account.
#[derive(Clone, Debug, PartialEq)]
pub enum OrgPolicies {
    /// The policies per level: the bundle's `organization` value and its parse.
    Read {
        bundle: Value,
        organization: Organization,
    },
    /// No SCP or RCP applies, and why: the account is in no organisation, or it is the
    /// management account (which SCPs and RCPs do not affect).
    NoneApply(String),
    /// They could not be read. `reason` quotes AWS; `transient` (throttled, unreachable)
    /// results are not cached.
    Unreadable { reason: String, transient: bool },
}

impl OrgPolicies {
    /// Into a snapshot: the organisation's levels, an empty organisation when none apply,
    /// or the reason they were not evaluated.
    pub fn fill(&self, snapshot: &mut Snapshot) {
        match self {
            OrgPolicies::Read { organization, .. } => {
                snapshot.organization = Some(organization.clone())
            }
            OrgPolicies::NoneApply(_) => snapshot.organization = Some(Organization::default()),
            OrgPolicies::Unreadable { reason, .. } => {
                snapshot.organization = None;
                snapshot.organization_unreadable = Some(reason.clone());
            }
        }
    }

    /// The bundle's `organization` value (`collect`). None when unreadable: a bundle without
    /// it says the policies were not gathered.
    pub fn bundle(&self) -> Option<Value> {
        match self {
            OrgPolicies::Read { bundle, .. } => Some(bundle.clone()),
            OrgPolicies::NoneApply(_) => Some(json!({
                "serviceControlPolicies": [],
                "resourceControlPolicies": [],
            })),
            OrgPolicies::Unreadable { .. } => None,
        }
    }

    /// Whether a cache may keep it (not a throttle or an unreachable endpoint).
    pub fn cacheable(&self) -> bool {
        !matches!(
            self,
            OrgPolicies::Unreadable {
                transient: true,
                ..
            }
        )
    }
}

fn unreadable(e: AwsError) -> OrgPolicies {
    OrgPolicies::Unreadable {
        transient: e.kind == ErrorKind::Transient,
        reason: e.to_string(),
    }
}

/// The deepest organisation tree AWS allows is root + 5 OU levels; a longer walk is a loop.
const MAX_DEPTH: usize = 8;

/// The SCPs and RCPs that apply to `account`, read with `client` (the account's own
/// credentials, or a role in the management or a delegated administrator account).
pub async fn read(client: &aws_sdk_organizations::Client, account: &str) -> OrgPolicies {
    match read_levels(client, account).await {
        Ok(policies) => policies,
        Err(e) => unreadable(e),
    }
}

async fn read_levels(
    client: &aws_sdk_organizations::Client,
    account: &str,
) -> Result<OrgPolicies, AwsError> {
    let described = client
        .describe_organization()
        .send()
        .await
        .map_err(|e| classify("organizations:DescribeOrganization", e));
    let org = match described {
        Err(e) if e.code == "AWSOrganizationsNotInUseException" => {
            return Ok(OrgPolicies::NoneApply(format!(
                "account {account} is not in an organisation"
            )))
        }
        other => other?,
    };
    let org = org.organization();
    let org_id = org.and_then(|o| o.id()).map(str::to_string);
    if org.and_then(|o| o.master_account_id()) == Some(account) {
        return Ok(OrgPolicies::NoneApply(format!(
            "account {account} is the management account of organisation {}, which service and resource control policies do not affect",
            org_id.as_deref().unwrap_or("?")
        )));
    }
    // From the account up to the root, then root first.
    let mut path = vec![account.to_string()];
    let mut child = account.to_string();
    loop {
        let out = client
            .list_parents()
            .child_id(&child)
            .send()
            .await
            .map_err(|e| classify("organizations:ListParents", e))?;
        let Some(parent) = out.parents().first() else {
            return Err(AwsError::new(
                "organizations:ListParents",
                ErrorKind::Rejected,
                "NoParent",
                format!("{child} has no parent, so the path to the root is unknown"),
            ));
        };
        let id = parent.id().unwrap_or_default().to_string();
        let is_root = parent.r#type() == Some(&ParentType::Root) || id.starts_with("r-");
        path.push(id.clone());
        child = id;
        if is_root {
            break;
        }
        if path.len() > MAX_DEPTH {
            return Err(AwsError::new(
                "organizations:ListParents",
                ErrorKind::Rejected,
                "TooDeep",
                format!("no root within {MAX_DEPTH} levels above {account}: {path:?}"),
            ));
        }
    }
    path.reverse();
    let mut described: BTreeMap<String, Value> = BTreeMap::new();
    let mut by_type = Vec::new();
    for kind in [
        PolicyType::ServiceControlPolicy,
        PolicyType::ResourceControlPolicy,
    ] {
        let mut levels = Vec::new();
        for target in &path {
            let mut policies = Vec::new();
            for id in policies_for_target(client, target, &kind).await? {
                if !described.contains_key(&id) {
                    let policy = describe_policy(client, &id).await?;
                    described.insert(id.clone(), policy);
                }
                policies.push(described[&id].clone());
            }
            levels.push(json!({"targetId": target, "policies": policies}));
        }
        // AWS keeps at least one policy of an enabled type on every root, OU and account
        // (FullAWSAccess, RCPFullAWSAccess); none anywhere means the type is not enabled,
        // so it does not restrict anything.
        if levels
            .iter()
            .all(|l| l["policies"].as_array().is_none_or(Vec::is_empty))
        {
            levels.clear();
        }
        by_type.push(levels);
    }
    let resource_control = by_type.pop().unwrap_or_default();
    let service_control = by_type.pop().unwrap_or_default();
    let mut bundle = json!({
        "serviceControlPolicies": service_control,
        "resourceControlPolicies": resource_control,
    });
    if let Some(id) = &org_id {
        bundle["Organization"] = json!({"Id": id});
    }
    match crate::diagnose::bundle::parse_organization(&bundle) {
        Ok(organization) => Ok(OrgPolicies::Read {
            bundle,
            organization,
        }),
        Err(e) => Err(AwsError::new(
            "organizations:DescribePolicy",
            ErrorKind::Rejected,
            "UnusablePolicy",
            format!("a policy could not be evaluated: {e}"),
        )),
    }
}

/// The IDs of the policies of `kind` attached directly to `target` (paginated).
async fn policies_for_target(
    client: &aws_sdk_organizations::Client,
    target: &str,
    kind: &PolicyType,
) -> Result<Vec<String>, AwsError> {
    let pages = client
        .list_policies_for_target()
        .target_id(target)
        .filter(kind.clone())
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| classify("organizations:ListPoliciesForTarget", e))?;
    Ok(pages
        .iter()
        .flat_map(|page| page.policies())
        .filter_map(|p| p.id())
        .map(str::to_string)
        .collect())
}

/// One policy as `aws organizations describe-policy` prints it.
async fn describe_policy(
    client: &aws_sdk_organizations::Client,
    id: &str,
) -> Result<Value, AwsError> {
    let out = client
        .describe_policy()
        .policy_id(id)
        .send()
        .await
        .map_err(|e| classify("organizations:DescribePolicy", e))?;
    let policy = out.policy();
    let summary = policy.and_then(|p| p.policy_summary());
    Ok(json!({"Policy": {
        "PolicySummary": {
            "Id": summary.and_then(|s| s.id()).unwrap_or(id),
            "Name": summary.and_then(|s| s.name()).unwrap_or(id),
        },
        "Content": policy.and_then(|p| p.content()).unwrap_or_default(),
    }}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_read_fills_the_snapshot_and_the_bundle_alike() {
        let none = OrgPolicies::NoneApply("account 1 is not in an organisation".into());
        let mut s = Snapshot::default();
        none.fill(&mut s);
        assert_eq!(s.organization, Some(Organization::default()));
        let parsed = crate::diagnose::bundle::parse_organization(&none.bundle().unwrap()).unwrap();
        assert_eq!(
            Some(parsed),
            s.organization,
            "collect writes what was judged"
        );

        let denied = OrgPolicies::Unreadable {
            reason: "organizations:ListParents failed (AccessDeniedException): no".into(),
            transient: false,
        };
        let mut s = Snapshot::default();
        denied.fill(&mut s);
        assert_eq!(s.organization, None);
        assert!(denied.bundle().is_none());
        assert!(denied.cacheable());
        assert!(!OrgPolicies::Unreadable {
            reason: String::new(),
            transient: true
        }
        .cacheable());
    }
}
