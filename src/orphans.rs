//! The orphan report (`eventbridge-integration-controller orphans [--delete]`): AWS
//! resources that carry this cluster's owner tags but whose object no longer exists (a
//! finalizer removed by hand, a namespace force-deleted). Read-only unless asked to delete,
//! and then each resource proves it is this cluster's before it is removed.
//!
//! Where it looks: the controller's account in the given regions, every account and region
//! the live objects' ownership records name, and every one the controller has ever written
//! to (`controller::locations`, which outlives deleted objects), each reached the way it was.

use std::collections::{BTreeMap, BTreeSet};

use kube::api::ListParams;
use kube::core::DeserializeGuard;
use kube::{Api, Client, ResourceExt};
use serde::Serialize;

use crate::api::{EventBridgeIntegration, OwnedKind, OwnedResource};
use crate::aws::errors::classify;
use crate::aws::remove::{self, Removal};
use crate::aws::{observe, AwsContext, AwsError, Clients, ExternalId, RemoteAccess};
use crate::controller::locations::Location as Persisted;
use crate::plan::{Owner, CLUSTER_TAG, OWNER_TAG, OWNER_UID_TAG};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Orphan {
    #[serde(flatten)]
    pub resource: OwnedResource,
    /// `namespace/name` of the object it was created for.
    pub owner: String,
    pub owner_uid: String,
    /// With `--delete`: what removing it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub cluster_id: String,
    /// `account/region` pairs searched.
    pub searched: Vec<String>,
    pub live_objects: usize,
    pub orphans: Vec<Orphan>,
}

impl Report {
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "cluster {}: {} live object(s); searched {}\n",
            self.cluster_id,
            self.live_objects,
            self.searched.join(", ")
        );
        if self.orphans.is_empty() {
            out.push_str("no orphaned resources\n");
            return out;
        }
        out.push_str(&format!(
            "{:<18} {:<40} {:<60} {}\n",
            "KIND", "OWNER", "RESOURCE", "REMOVAL"
        ));
        for o in &self.orphans {
            out.push_str(&format!(
                "{:<18} {:<40} {:<60} {}\n",
                format!("{:?}", o.resource.kind),
                o.owner,
                o.resource.describe(),
                o.removal.as_deref().unwrap_or("-")
            ));
        }
        out.push_str(&format!("{} orphaned resource(s)\n", self.orphans.len()));
        out
    }
}

/// Where to look: (account, region, role to assume).
type Location = (String, String, Option<String>);

/// `external_ids`: by provisioning role, the external ID its trust policy asks for (from
/// the policies that name the role; never from the ConfigMap of places).
pub async fn report(
    client: &Client,
    aws: &AwsContext,
    cluster: &str,
    regions: &[String],
    persisted: &[Persisted],
    external_ids: &BTreeMap<String, ExternalId>,
    delete: bool,
) -> Result<Report, String> {
    let api: Api<DeserializeGuard<EventBridgeIntegration>> = Api::all(client.clone());
    let objects = api
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("cannot list EventBridgeIntegrations: {e}"))?;
    let live: BTreeSet<String> = objects.items.iter().filter_map(|o| o.uid()).collect();
    let home = aws.clients(&regions[0]);
    let account = aws
        .account_id(&home)
        .await
        .map_err(|e| format!("cannot identify the controller's account: {e}"))?;
    let mut locations: BTreeSet<Location> = regions
        .iter()
        .map(|r| (account.clone(), r.clone(), None))
        .collect();
    for guarded in &objects.items {
        let Ok(obj) = &guarded.0 else { continue };
        for r in obj.status.iter().flat_map(|s| s.resources.iter().flatten()) {
            // Without a role, these credentials reach only their own account: a record of
            // another account without one was written by a controller with other
            // credentials, and searching "it" here would search (and label, and delete in)
            // this account instead.
            if r.via_role_arn.is_none() && r.account_id != account {
                continue;
            }
            if let Some(region) = &r.region {
                locations.insert((r.account_id.clone(), region.clone(), r.via_role_arn.clone()));
            }
        }
    }
    // IAM-only places have no region: any reaches IAM.
    locations.extend(persisted.iter().map(|p| {
        (
            p.account_id.clone(),
            p.region.clone().unwrap_or_else(|| regions[0].clone()),
            p.via_role_arn.clone(),
        )
    }));
    let mut orphans = Vec::new();
    let mut roles_searched = BTreeSet::new();
    let mut searched = Vec::new();
    for (acct, region, via) in &locations {
        let clients = match via {
            // The controller's credentials reach their own account only: searching another
            // account's place with them would search (and attribute) the wrong account.
            None if *acct != account => {
                return Err(format!(
                    "{acct}/{region} was written with the controller's credentials, which are now for account {account}: run the report with credentials for {acct}"
                ))
            }
            None => aws.clients(region),
            Some(role) => aws
                .remote_clients(
                    region,
                    &RemoteAccess {
                        role_arn: role.clone(),
                        external_id: external_ids.get(role).cloned(),
                    },
                    acct,
                )
                .await
                .map_err(|e| format!("cannot reach account {acct} through {role}: {e}"))?,
        };
        searched.push(format!("{acct}/{region}"));
        let found = tagged_rules(&clients, cluster, &live, acct, region, via)
            .await
            .map_err(|e| e.to_string())?;
        for rule in &found {
            orphans.extend(
                statements_of_rule(&clients, rule)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        orphans.extend(found);
        // IAM is global: one search per account.
        if roles_searched.insert(acct.clone()) {
            orphans.extend(
                tagged_roles(&clients, cluster, &live, acct, via)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        if delete {
            // Objects are listed again after AWS was: one created while this report ran
            // had its resources found, but was not in the first list. Its resources are not
            // orphans, and are never deleted.
            let live_now = live_uids(&api).await?;
            orphans.retain(|o| !live_now.contains(&o.owner_uid));
            for o in orphans.iter_mut().filter(|o| {
                o.removal.is_none()
                    && o.resource.account_id == *acct
                    && o.resource.region.as_ref().is_none_or(|r| r == region)
            }) {
                let owner = owner_of(cluster, o);
                let removal = remove::remove(&clients, &o.resource, &owner, None)
                    .await
                    .map_err(|e| e.to_string())?;
                o.removal = Some(match removal {
                    Removal::Removed => "removed".into(),
                    other => other.describe(&o.resource),
                });
            }
        }
    }
    orphans.sort_by(|a, b| a.resource.cmp(&b.resource));
    Ok(Report {
        cluster_id: cluster.to_string(),
        searched,
        live_objects: live.len(),
        orphans,
    })
}

async fn live_uids(
    api: &Api<DeserializeGuard<EventBridgeIntegration>>,
) -> Result<BTreeSet<String>, String> {
    let objects = api
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("cannot list EventBridgeIntegrations: {e}"))?;
    Ok(objects.items.iter().filter_map(|o| o.uid()).collect())
}

fn owner_of(cluster: &str, o: &Orphan) -> Owner {
    let (namespace, name) = o.owner.split_once('/').unwrap_or(("", &o.owner));
    Owner {
        cluster: cluster.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        uid: o.owner_uid.clone(),
    }
}

/// Tags of this cluster whose object is not live: (owner, uid).
fn orphaned_by(
    tags: &BTreeMap<String, String>,
    cluster: &str,
    live: &BTreeSet<String>,
) -> Option<(String, String)> {
    if tags.get(CLUSTER_TAG).map(String::as_str) != Some(cluster) {
        return None;
    }
    let uid = tags.get(OWNER_UID_TAG)?;
    (!live.contains(uid)).then(|| {
        (
            tags.get(OWNER_TAG).cloned().unwrap_or_default(),
            uid.clone(),
        )
    })
}

async fn tagged_rules(
    c: &Clients,
    cluster: &str,
    live: &BTreeSet<String>,
    account: &str,
    region: &str,
    via: &Option<String>,
) -> Result<Vec<Orphan>, AwsError> {
    let mut out = Vec::new();
    for bus in observe::event_buses(c).await? {
        let mut token = None;
        loop {
            let page = c
                .events
                .list_rules()
                .event_bus_name(&bus)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| classify("events:ListRules", e))?;
            for r in page.rules() {
                let (Some(name), Some(arn)) = (r.name(), r.arn()) else {
                    continue;
                };
                let Some(rule) = observe::rule(c, name, &bus).await? else {
                    continue;
                };
                if let Some((owner, owner_uid)) = orphaned_by(&rule.tags, cluster, live) {
                    out.push(Orphan {
                        resource: OwnedResource {
                            kind: OwnedKind::Rule,
                            partition: arn.split(':').nth(1).unwrap_or("aws").to_string(),
                            account_id: account.to_string(),
                            region: Some(region.to_string()),
                            arn: arn.to_string(),
                            name: name.to_string(),
                            event_bus_name: Some(bus.clone()),
                            qualifier: None,
                            statement_id: None,
                            proof: None,
                            via_role_arn: via.clone(),
                            restore: None,
                        },
                        owner,
                        owner_uid,
                        removal: None,
                    });
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

/// The Lambda statements that grant an orphaned rule (matched by their SourceArn).
async fn statements_of_rule(c: &Clients, rule: &Orphan) -> Result<Vec<Orphan>, AwsError> {
    let bus = rule.resource.event_bus_name.as_deref().unwrap_or("default");
    let mut out = Vec::new();
    for t in observe::targets(c, &rule.resource.name, bus).await? {
        if t.arn.split(':').nth(2) != Some("lambda") {
            continue;
        }
        let (function, qualifier) = crate::iam::arn::split_function_arn(&t.arn);
        let Some(policy) = observe::lambda_policy(c, &function, qualifier.as_deref()).await? else {
            continue;
        };
        let Ok(doc) = crate::iam::PolicyDocument::parse(&policy) else {
            continue;
        };
        for s in doc.statements {
            let grants_rule = s.conditions.iter().any(|k| {
                k.key.eq_ignore_ascii_case("aws:SourceArn")
                    && k.values == [rule.resource.arn.clone()]
            });
            if let (true, Some(sid)) = (grants_rule, s.sid) {
                out.push(Orphan {
                    resource: OwnedResource {
                        kind: OwnedKind::LambdaPermission,
                        arn: t.arn.clone(),
                        name: function.clone(),
                        event_bus_name: None,
                        qualifier: qualifier.clone(),
                        statement_id: Some(sid),
                        proof: Some(rule.resource.arn.clone()),
                        ..rule.resource.clone()
                    },
                    owner: rule.owner.clone(),
                    owner_uid: rule.owner_uid.clone(),
                    removal: None,
                });
            }
        }
    }
    Ok(out)
}

/// Roles the controller created (by their description) carrying this cluster's tags.
async fn tagged_roles(
    c: &Clients,
    cluster: &str,
    live: &BTreeSet<String>,
    account: &str,
    via: &Option<String>,
) -> Result<Vec<Orphan>, AwsError> {
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let page = c
            .iam
            .list_roles()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| classify("iam:ListRoles", e))?;
        for role in page.roles() {
            if role.description() != Some(crate::aws::apply::ROLE_DESCRIPTION) {
                continue;
            }
            // Deleted since the listing (a clean-up running now): nothing to report.
            let Some(tags) = observe::found(
                c.iam
                    .list_role_tags()
                    .role_name(role.role_name())
                    .send()
                    .await
                    .map_err(|e| classify("iam:ListRoleTags", e)),
            )?
            else {
                continue;
            };
            let tags: BTreeMap<String, String> = tags
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            if let Some((owner, owner_uid)) = orphaned_by(&tags, cluster, live) {
                out.push(Orphan {
                    resource: OwnedResource {
                        kind: OwnedKind::Role,
                        partition: role.arn().split(':').nth(1).unwrap_or("aws").to_string(),
                        account_id: account.to_string(),
                        region: None,
                        arn: role.arn().to_string(),
                        name: role.role_name().to_string(),
                        event_bus_name: None,
                        qualifier: None,
                        statement_id: None,
                        proof: None,
                        via_role_arn: via.clone(),
                        restore: None,
                    },
                    owner,
                    owner_uid,
                    removal: None,
                });
            }
        }
        marker = page.marker().map(str::to_string);
        if !page.is_truncated() || marker.is_none() {
            return Ok(out);
        }
    }
}
