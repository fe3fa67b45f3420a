//! The orphan report (`eventbridge-integration-controller orphans [--delete]`): AWS
//! resources that carry this cluster's owner tags but whose object no longer exists (a
//! finalizer removed by hand, a namespace force-deleted). Read-only unless asked to delete,
//! and then each resource proves it is this cluster's before it is removed.
//!
//! Where it looks: the controller's account in the given regions, every account and region
//! the live objects' ownership records name, and every one the controller has ever written
//! to (`locations`, which outlives deleted objects), each reached today's way
//! (the role a live record names for the account first, then the one recorded with the
//! place).
//!
//! What is an orphan: a rule or role tagged for this cluster whose owner UID is not a live
//! object's, that no live object's record lists, whose owner tag names no live object (an
//! object restored from a backup has a new UID and takes over what its name owned), and
//! that is older than the grace period (a rule's `eventbridge.dev/created` tag, a role's
//! creation date): a resource of an unknown owner created recently is more likely another
//! controller's that shares `--cluster-id`, and is reported as a warning, never removed.
//! Retained resources (`deletionPolicy: Retain`) carry no owner UID and are never orphans.
//! With an orphaned rule go the statements that grant it: Lambda permissions, the statements
//! of its dead-letter queue, SQS queue or SNS topic target, or of the account's logs resource
//! policy for a log group target, and for a rule receiving forwarded events, the bus
//! statement; for a queue, topic or stream of another account delivered to directly, the
//! statement there that names the rule's execution role. API destinations, connections and
//! Scheduler schedules take no tags: their descriptions say whose they are, and are judged as
//! tags are.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kube::api::ListParams;
use kube::core::DeserializeGuard;
use kube::{Api, Client, ResourceExt};
use serde::Serialize;

use crate::api::{EventBridgeIntegration, OwnedKind, OwnedResource};
use crate::aws::errors::classify;
use crate::aws::remove::{self, Removal};
use crate::aws::{observe, AwsContext, AwsError, Clients, ExternalId, RemoteAccess};
use crate::locations::Location as Persisted;
use crate::plan::{Owner, TargetShape, CLUSTER_TAG, CREATED_TAG, OWNER_TAG, OWNER_UID_TAG};

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
    /// When it was created (Unix seconds), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub cluster_id: String,
    /// `account/region` pairs searched.
    pub searched: Vec<String>,
    pub live_objects: usize,
    /// Resources younger than this are not orphans yet.
    pub grace_period_seconds: u64,
    pub orphans: Vec<Orphan>,
    /// Tagged for this cluster and an object unknown here, but younger than the grace
    /// period: never removed (another controller sharing `--cluster-id`, or an object
    /// deleted a moment ago).
    pub not_yet: Vec<Orphan>,
    /// Resources live objects no longer use (a move, a rename) whose removal failed: their
    /// controller retries it, and `leftBehind` in the object's record says why.
    pub left_behind: Vec<Orphan>,
    /// The controller's own drift rules and queues (`--drift-events`) found by their tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift_events: Vec<DriftPlumbing>,
    pub warnings: Vec<String>,
}

/// A drift rule and queue of this cluster (`controller::runtime::drift_events`): not an object's, so
/// never an orphan of one. In a place no live record uses, the controller removes them
/// itself at its next resync interval; `--delete` removes them now (e.g. after the
/// controller was uninstalled). In a place a live record uses, they are in use and kept.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftPlumbing {
    pub account_id: String,
    pub region: String,
    /// The rule's and the queue's name.
    pub name: String,
    pub in_use: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal: Option<String>,
}

impl Report {
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "cluster {}: {} live object(s); searched {}\n",
            self.cluster_id,
            self.live_objects,
            self.searched.join(", ")
        );
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        let table = |out: &mut String, rows: &[Orphan], last: &str| {
            out.push_str(&format!(
                "{:<18} {:<40} {:<60} {}\n",
                "KIND", "OWNER", "RESOURCE", last
            ));
            for o in rows {
                out.push_str(&format!(
                    "{:<18} {:<40} {:<60} {}\n",
                    format!("{:?}", o.resource.kind),
                    o.owner,
                    o.resource.describe(),
                    o.removal
                        .as_deref()
                        .or(o.resource.left_behind.as_deref())
                        .unwrap_or("-")
                ));
            }
        };
        if self.orphans.is_empty() {
            out.push_str("no orphaned resources\n");
        } else {
            table(&mut out, &self.orphans, "REMOVAL");
            out.push_str(&format!("{} orphaned resource(s)\n", self.orphans.len()));
        }
        if !self.not_yet.is_empty() {
            out.push_str(&format!(
                "{} resource(s) of objects unknown here, younger than the grace period ({} s): not orphans yet\n",
                self.not_yet.len(),
                self.grace_period_seconds
            ));
            table(&mut out, &self.not_yet, "REMOVAL");
        }
        for d in &self.drift_events {
            out.push_str(&format!(
                "drift events rule and queue {} in {}/{}: {}\n",
                d.name,
                d.account_id,
                d.region,
                d.removal.as_deref().unwrap_or(if d.in_use {
                    "in use (a live object's record uses this place)"
                } else {
                    "no live record uses this place (the controller removes it at its next resync; --delete removes it now)"
                })
            ));
        }
        if !self.left_behind.is_empty() {
            out.push_str(&format!(
                "{} resource(s) live objects no longer use and could not remove yet (their controller retries):\n",
                self.left_behind.len()
            ));
            table(&mut out, &self.left_behind, "WHY");
        }
        out
    }
}

/// What is live in the cluster: nothing of it is an orphan.
#[derive(Debug, Default)]
pub struct Live {
    pub uids: BTreeSet<String>,
    /// `namespace/name` of every object: an object restored with a new UID takes over what
    /// its name owned.
    pub keys: BTreeSet<String>,
    /// (kind, ARN) of every entry of every live record.
    pub recorded: BTreeSet<(OwnedKind, String)>,
}

impl Live {
    fn of(objects: &[DeserializeGuard<EventBridgeIntegration>]) -> Live {
        let mut live = Live::default();
        for o in objects {
            live.uids.extend(o.uid());
            live.keys.insert(format!(
                "{}/{}",
                o.namespace().unwrap_or_default(),
                o.name_any()
            ));
            if let Ok(obj) = &o.0 {
                for r in obj.status.iter().flat_map(|s| s.resources.iter().flatten()) {
                    live.recorded.insert((r.kind, r.arn.clone()));
                }
            }
        }
        live
    }
}

/// How a tagged resource stands, pure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Not this cluster's (or retained: no owner UID), or a live object's.
    NotOrphan,
    /// This cluster's, of an unknown object, but younger than the grace period.
    Young {
        owner: String,
        uid: String,
    },
    Orphan {
        owner: String,
        uid: String,
    },
}

/// What decides whether a tagged resource is an orphan: this cluster, what is live, now,
/// and the grace period.
pub struct Criteria<'a> {
    pub cluster: &'a str,
    pub live: &'a Live,
    /// Unix seconds.
    pub now: u64,
    pub grace: Duration,
    /// Only resources whose owner tag names one of these namespaces (empty: every one).
    pub namespaces: &'a [String],
}

impl Criteria<'_> {
    /// How a resource with `tags` (and its creation time, if known) stands.
    pub fn standing(
        &self,
        tags: &BTreeMap<String, String>,
        kind: OwnedKind,
        arn: &str,
        created: Option<u64>,
    ) -> Standing {
        if tags.get(CLUSTER_TAG).map(String::as_str) != Some(self.cluster) {
            return Standing::NotOrphan;
        }
        // A retained resource lost its UID tag: released, never an orphan.
        let Some(uid) = tags.get(OWNER_UID_TAG) else {
            return Standing::NotOrphan;
        };
        let owner = tags.get(OWNER_TAG).cloned().unwrap_or_default();
        let namespace = owner.split_once('/').map_or("", |(ns, _)| ns);
        if !self.namespaces.is_empty() && !self.namespaces.iter().any(|n| n == namespace) {
            return Standing::NotOrphan;
        }
        let live = self.live;
        if live.uids.contains(uid)
            || live.keys.contains(&owner)
            || live.recorded.contains(&(kind, arn.to_string()))
        {
            return Standing::NotOrphan;
        }
        let uid = uid.clone();
        // Unknown age (a rule created before rules carried their creation time): as old as
        // the version that wrote it, i.e. old.
        match created {
            Some(at) if self.now.saturating_sub(at) < self.grace.as_secs() => {
                Standing::Young { owner, uid }
            }
            _ => Standing::Orphan { owner, uid },
        }
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Where to look: (account, region), and the ways to reach it, best first.
type Places = BTreeMap<(String, String), Vec<Option<String>>>;

fn add_way(places: &mut Places, account: &str, region: &str, via: Option<String>) {
    let ways = places
        .entry((account.to_string(), region.to_string()))
        .or_default();
    if !ways.contains(&via) {
        ways.push(via);
    }
}

/// `external_ids`: by provisioning role, the external ID its trust policy asks for (from
/// the policies that name the role; never from the ConfigMap of places). `grace`: what is
/// younger is not an orphan yet. `namespaces`: only what objects of these namespaces owned
/// (empty: all).
#[allow(clippy::too_many_arguments)]
pub async fn report(
    client: &Client,
    aws: &AwsContext,
    cluster: &str,
    regions: &[String],
    persisted: &[Persisted],
    external_ids: &BTreeMap<String, ExternalId>,
    grace: Duration,
    namespaces: &[String],
    delete: bool,
) -> Result<Report, String> {
    let api: Api<DeserializeGuard<EventBridgeIntegration>> = Api::all(client.clone());
    let objects = api
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("cannot list EventBridgeIntegrations: {e}"))?;
    let live = Live::of(&objects.items);
    let home = aws.clients(&regions[0]);
    let account = aws
        .account_id(&home)
        .await
        .map_err(|e| format!("cannot identify the controller's account: {e}"))?;
    let (places, left_behind) = places_to_search(&objects.items, &account, regions, persisted);
    let by_account = ways_by_account(&places);
    let criteria = Criteria {
        cluster,
        live: &live,
        now: now_seconds(),
        grace,
        namespaces,
    };
    let sweep = Sweep {
        reach: Reach {
            aws,
            own_account: &account,
            by_account: &by_account,
            external_ids,
        },
        api: &api,
        cluster,
        delete,
        drift_name: crate::plan::drift::resource_name(cluster, namespaces),
        drift_places: drift_places(&objects.items, namespaces),
    };
    let mut found = Found::default();
    for ((acct, region), ways) in &places {
        let mut candidates = ways.clone();
        for w in by_account.get(acct).into_iter().flatten() {
            if !candidates.contains(w) {
                candidates.push(w.clone());
            }
        }
        let (clients, via) = reach(aws, &account, acct, region, &candidates, external_ids).await?;
        found.searched.push(format!("{acct}/{region}"));
        let place = Place {
            clients: &clients,
            criteria: &criteria,
            account: acct,
            region,
            via: &via,
        };
        sweep.search(&place, &mut found).await?;
        if delete {
            sweep.remove_found(&place, &mut found.orphans).await?;
        }
    }
    let Found {
        mut orphans,
        mut not_yet,
        searched,
        drift_events,
        not_searched,
        ..
    } = found;
    orphans.sort_by(|a, b| a.resource.cmp(&b.resource));
    not_yet.sort_by(|a, b| a.resource.cmp(&b.resource));
    let mut warnings = not_searched;
    if !not_yet.is_empty() {
        warnings.push(format!(
            "{} resource(s) carry this cluster's id ({cluster}) for objects unknown here and were created within the grace period ({} s): if no object was deleted here just now, another controller shares --cluster-id {cluster}; give each cluster its own (the default, the kube-system namespace's UID, is). They are not removed",
            not_yet.len(),
            grace.as_secs()
        ));
    }
    Ok(Report {
        cluster_id: cluster.to_string(),
        searched,
        live_objects: live.uids.len(),
        grace_period_seconds: grace.as_secs(),
        orphans,
        not_yet,
        left_behind,
        drift_events,
        warnings,
    })
}

/// Where to look, and the live records' resources whose removal failed (`leftBehind`):
/// the places the live records name (their ways in are today's: each pass refreshes them),
/// the controller's account in `regions`, and every place the controller kept.
fn places_to_search(
    objects: &[DeserializeGuard<EventBridgeIntegration>],
    account: &str,
    regions: &[String],
    persisted: &[Persisted],
) -> (Places, Vec<Orphan>) {
    let mut places: Places = BTreeMap::new();
    let mut left_behind = Vec::new();
    for guarded in objects {
        let Ok(obj) = &guarded.0 else { continue };
        for r in obj.status.iter().flat_map(|s| s.resources.iter().flatten()) {
            if r.left_behind.is_some() {
                left_behind.push(Orphan {
                    resource: r.clone(),
                    owner: format!(
                        "{}/{}",
                        guarded.namespace().unwrap_or_default(),
                        guarded.name_any()
                    ),
                    owner_uid: guarded.uid().unwrap_or_default(),
                    removal: None,
                    created: None,
                });
            }
            // Without a role, these credentials reach only their own account: a record of
            // another account without one was written by a controller with other
            // credentials, and searching "it" here would search (and label, and delete in)
            // this account instead.
            if r.via_role_arn.is_none() && r.account_id != account {
                continue;
            }
            if let Some(region) = &r.region {
                add_way(&mut places, &r.account_id, region, r.via_role_arn.clone());
            }
        }
    }
    for r in regions {
        add_way(&mut places, account, r, None);
    }
    // IAM-only places have no region: any reaches IAM.
    for p in persisted {
        let region = p.region.clone().unwrap_or_else(|| regions[0].clone());
        add_way(&mut places, &p.account_id, &region, p.via_role_arn.clone());
    }
    (places, left_behind)
}

/// A way into an account reaches every region of it.
fn ways_by_account(places: &Places) -> BTreeMap<String, Vec<Option<String>>> {
    places
        .iter()
        .fold(BTreeMap::new(), |mut acc, ((a, _), ways)| {
            let all: &mut Vec<Option<String>> = acc.entry(a.clone()).or_default();
            for w in ways {
                if !all.contains(w) {
                    all.push(w.clone());
                }
            }
            acc
        })
}

/// The places drift rules belong in: those of every live record of the namespaces the
/// controller watches. Its rules are named after them (`plan::drift::resource_name`), so
/// only the one named after `namespaces` (all: empty, as `--watch-namespace`) is judged
/// here; another is taken to be in use.
fn drift_places(
    objects: &[DeserializeGuard<EventBridgeIntegration>],
    namespaces: &[String],
) -> BTreeSet<(String, String)> {
    objects
        .iter()
        .filter_map(|g| g.0.as_ref().ok())
        .filter(|o| {
            namespaces.is_empty() || o.namespace().is_some_and(|ns| namespaces.contains(&ns))
        })
        .flat_map(|o| {
            crate::plan::drift::places_of(
                o.status
                    .as_ref()
                    .and_then(|s| s.resources.as_deref())
                    .unwrap_or_default(),
            )
        })
        .map(|(_, account, region, _)| (account, region))
        .collect()
}

/// What the report has found so far.
#[derive(Default)]
struct Found {
    orphans: Vec<Orphan>,
    not_yet: Vec<Orphan>,
    searched: Vec<String>,
    drift_events: Vec<DriftPlumbing>,
    /// IAM is global: one search per account.
    roles_searched: BTreeSet<String>,
    /// What could not be searched at all (and why), for the report's warnings.
    not_searched: Vec<String>,
}

/// What holds for every place of one report.
struct Sweep<'a> {
    reach: Reach<'a>,
    api: &'a Api<DeserializeGuard<EventBridgeIntegration>>,
    cluster: &'a str,
    delete: bool,
    drift_name: String,
    drift_places: BTreeSet<(String, String)>,
}

impl Sweep<'_> {
    /// Everything of this cluster in one place: rules and what grants them (and, in another
    /// account, what grants their roles), drift plumbing, API destinations and connections,
    /// and the account's roles once.
    async fn search(&self, place: &Place<'_>, found: &mut Found) -> Result<(), String> {
        let (rules, young, plumbing) = tagged_rules(place).await.map_err(|e| e.to_string())?;
        for name in plumbing {
            found.drift_events.push(self.plumbing(place, name).await?);
        }
        for (rule, description) in &rules {
            let (statements, grants) =
                statements_of_rule(place.clients, rule, description.as_deref())
                    .await
                    .map_err(|e| e.to_string())?;
            found.orphans.extend(statements);
            for grant in grants {
                // Now, before this place's removals: once the execution role is deleted, AWS
                // shows its unique ID in the policies that named it.
                let delete = self.delete.then_some((self.api, self.cluster));
                found
                    .orphans
                    .extend(direct_statements(&self.reach, &grant, delete).await?);
            }
        }
        found
            .orphans
            .extend(rules.into_iter().map(|(rule, _)| rule));
        found.not_yet.extend(young);
        let (destinations, young) = described_api_destinations(place)
            .await
            .map_err(|e| e.to_string())?;
        found.orphans.extend(destinations);
        found.not_yet.extend(young);
        // Schedules live in the controller's own account only (another account's are
        // refused): elsewhere there is nothing to find, and nothing to ask its role for.
        let schedules = if place.account == self.reach.own_account {
            described_schedules(place).await
        } else {
            Ok((Vec::new(), Vec::new()))
        };
        match schedules {
            Ok((schedules, young)) => {
                found.orphans.extend(schedules);
                found.not_yet.extend(young);
            }
            // Credentials made before schedules existed: the rest of the report stands, and
            // says what it could not search.
            Err(e) if e.kind == crate::aws::ErrorKind::AccessDenied => found.not_searched.push(format!(
                "schedules of {}/{} not searched: {e}; grant scheduler:ListSchedules and scheduler:GetSchedule",
                place.account, place.region
            )),
            Err(e) => return Err(e.to_string()),
        }
        if found.roles_searched.insert(place.account.to_string()) {
            let (roles, young) = tagged_roles(place).await.map_err(|e| e.to_string())?;
            found.orphans.extend(roles);
            found.not_yet.extend(young);
        }
        Ok(())
    }

    /// A drift rule and queue of this cluster: in use where a live record is, and with
    /// `--delete` removed where none is.
    async fn plumbing(&self, place: &Place<'_>, name: String) -> Result<DriftPlumbing, String> {
        let here = (place.account.to_string(), place.region.to_string());
        let in_use = name != self.drift_name || self.drift_places.contains(&here);
        let removal = if self.delete && !in_use {
            crate::aws::drift_plumbing::remove(place.clients, &name, self.cluster, place.account)
                .await
                .map_err(|e| e.to_string())?;
            Some("removed".to_string())
        } else {
            None
        };
        Ok(DriftPlumbing {
            account_id: here.0,
            region: here.1,
            name,
            in_use,
            removal,
        })
    }

    /// `--delete` in one place: each orphan found there, after proving it is this cluster's.
    async fn remove_found(
        &self,
        place: &Place<'_>,
        orphans: &mut Vec<Orphan>,
    ) -> Result<(), String> {
        // Objects are listed again after AWS was: one created while this report ran had its
        // resources found, but was not in the first list. Its resources are not orphans,
        // and are never deleted.
        let live_now = live_uids(self.api).await?;
        orphans.retain(|o| !live_now.contains(&o.owner_uid));
        // In the controller's order: rules first, an API destination before its connection
        // (it refers to it), roles last.
        orphans.sort_by_key(|o| crate::plan::record::removal_order(&o.resource));
        for o in orphans.iter_mut().filter(|o| {
            o.removal.is_none()
                && o.resource.account_id == place.account
                && o.resource
                    .region
                    .as_deref()
                    .is_none_or(|r| r == place.region)
        }) {
            let removal =
                remove::remove(place.clients, &o.resource, &owner_of(self.cluster, o), None)
                    .await
                    .map_err(|e| e.to_string())?;
            o.removal = Some(match removal {
                Removal::Removed => "removed".into(),
                other => other.describe(&o.resource),
            });
        }
        Ok(())
    }
}

/// How the report gets into an account: its credentials' own account, and the ways into the
/// others.
struct Reach<'a> {
    aws: &'a AwsContext,
    own_account: &'a str,
    by_account: &'a BTreeMap<String, Vec<Option<String>>>,
    external_ids: &'a BTreeMap<String, ExternalId>,
}

/// The statements `grant` left in its target's account, reached the way a place of that
/// account is (an account no way reaches fails the report, as a place does). With `delete`
/// (the objects' API and the cluster), each is removed after its object is confirmed gone.
async fn direct_statements(
    way: &Reach<'_>,
    grant: &DirectGrant,
    delete: Option<(&Api<DeserializeGuard<EventBridgeIntegration>>, &str)>,
) -> Result<Vec<Orphan>, String> {
    let ways = way
        .by_account
        .get(&grant.account)
        .cloned()
        .unwrap_or_default();
    if ways.is_empty() {
        return Err(format!(
            "rule {} delivers to {} in account {}, which no record or kept place names a way into: pass --locations-namespace where the controller keeps its places, or run the report with credentials for {}",
            grant.rule.resource.arn, grant.holder_arn, grant.account, grant.account
        ));
    }
    let (clients, via) = reach(
        way.aws,
        way.own_account,
        &grant.account,
        &grant.region,
        &ways,
        way.external_ids,
    )
    .await?;
    let mut found = grant
        .statements(&clients, &via)
        .await
        .map_err(|e| e.to_string())?;
    let Some((api, cluster)) = delete else {
        return Ok(found);
    };
    let live_now = live_uids(api).await?;
    found.retain(|o| !live_now.contains(&o.owner_uid));
    for o in &mut found {
        let removal = remove::remove(&clients, &o.resource, &owner_of(cluster, o), None)
            .await
            .map_err(|e| e.to_string())?;
        o.removal = Some(match removal {
            Removal::Removed => "removed".into(),
            other => other.describe(&o.resource),
        });
    }
    Ok(found)
}

/// Clients for one place, through the first way in that works (today's first). A place no
/// way reaches fails the report, naming it: nothing is skipped silently.
async fn reach(
    aws: &AwsContext,
    own_account: &str,
    acct: &str,
    region: &str,
    ways: &[Option<String>],
    external_ids: &BTreeMap<String, ExternalId>,
) -> Result<(Clients, Option<String>), String> {
    let mut failures = Vec::new();
    for via in ways {
        match via {
            // The controller's credentials reach their own account only: searching another
            // account's place with them would search (and attribute) the wrong account.
            None if acct != own_account => failures.push(format!(
                "{acct}/{region} was written with the controller's credentials, which are now for account {own_account}: run the report with credentials for {acct}"
            )),
            None => return Ok((aws.clients(region), None)),
            Some(role) => match aws
                .remote_clients(
                    region,
                    &RemoteAccess {
                        role_arn: role.clone(),
                        external_id: external_ids.get(role).cloned(),
                    },
                    acct,
                )
                .await
            {
                Ok(c) => return Ok((c, Some(role.clone()))),
                Err(e) => failures.push(format!("cannot reach account {acct} through {role}: {e}")),
            },
        }
    }
    Err(failures.join("; "))
}

/// One place being searched, and what decides an orphan there.
struct Place<'a> {
    clients: &'a Clients,
    criteria: &'a Criteria<'a>,
    account: &'a str,
    region: &'a str,
    via: &'a Option<String>,
}

impl Place<'_> {
    fn standing(
        &self,
        tags: &BTreeMap<String, String>,
        kind: OwnedKind,
        arn: &str,
        created: Option<u64>,
    ) -> Standing {
        self.criteria.standing(tags, kind, arn, created)
    }

    fn entry(&self, kind: OwnedKind, arn: &str, name: &str) -> OwnedResource {
        OwnedResource {
            kind,
            partition: arn.split(':').nth(1).unwrap_or("aws").to_string(),
            account_id: self.account.to_string(),
            region: (kind != OwnedKind::Role).then(|| self.region.to_string()),
            arn: arn.to_string(),
            name: name.to_string(),
            event_bus_name: None,
            qualifier: None,
            statement_id: None,
            proof: None,
            via_role_arn: self.via.clone(),
            restore: None,
            left_behind: None,
            policy_written_at: None,
        }
    }
}

/// Sorts what `standing` says into orphans and the young.
fn sort_into(
    standing: Standing,
    resource: OwnedResource,
    created: Option<u64>,
    orphans: &mut Vec<Orphan>,
    young: &mut Vec<Orphan>,
) {
    let (list, owner, owner_uid) = match standing {
        Standing::NotOrphan => return,
        Standing::Young { owner, uid } => (young, owner, uid),
        Standing::Orphan { owner, uid } => (orphans, owner, uid),
    };
    list.push(Orphan {
        resource,
        owner,
        owner_uid,
        removal: None,
        created,
    });
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

/// Orphaned rules (each with its description), young ones, and the names of this cluster's
/// drift rules (on the default bus).
#[allow(clippy::type_complexity)]
async fn tagged_rules(
    p: &Place<'_>,
) -> Result<(Vec<(Orphan, Option<String>)>, Vec<Orphan>, Vec<String>), AwsError> {
    let (mut out, mut young, mut plumbing) = (Vec::new(), Vec::new(), Vec::new());
    for bus in observe::event_buses(p.clients).await? {
        for r in observe::list_rules(p.clients, &bus).await? {
            let (Some(name), Some(arn)) = (r.name(), r.arn()) else {
                continue;
            };
            // Deleted since the listing: nothing to report.
            let Some(tags) = observe::rule_tags(p.clients, arn).await? else {
                continue;
            };
            if bus == "default"
                && tags.get(CLUSTER_TAG).map(String::as_str) == Some(p.criteria.cluster)
                && tags
                    .get(crate::plan::drift::PURPOSE_TAG)
                    .map(String::as_str)
                    == Some(crate::plan::drift::PURPOSE)
            {
                plumbing.push(name.to_string());
                continue;
            }
            let created = tags.get(CREATED_TAG).and_then(|t| t.parse().ok());
            let resource = OwnedResource {
                event_bus_name: Some(bus.clone()),
                ..p.entry(OwnedKind::Rule, arn, name)
            };
            let standing = p.standing(&tags, OwnedKind::Rule, arn, created);
            let mut found = Vec::new();
            sort_into(standing, resource, created, &mut found, &mut young);
            out.extend(
                found
                    .into_iter()
                    .map(|o| (o, r.description().map(str::to_string))),
            );
        }
    }
    Ok((out, young, plumbing))
}

/// The statements that exist for an orphaned rule: Lambda permissions and dead-letter
/// queue statements that grant it (their `aws:SourceArn` is the rule), and for a rule that
/// receives forwarded events, the statement of its bus's policy admitting the forwarder.
async fn statements_of_rule(
    c: &Clients,
    rule: &Orphan,
    description: Option<&str>,
) -> Result<(Vec<Orphan>, Vec<DirectGrant>), AwsError> {
    let bus = rule.resource.event_bus_name.as_deref().unwrap_or("default");
    let rule_arn = rule.resource.arn.clone();
    let grants_rule = |s: &crate::iam::policy::Statement| {
        crate::plan::diff::StatementGrant::of(s).source_arns == [rule_arn.clone()]
    };
    let statement = |kind, arn: &str, name: &str, sid: String, proof: String| Orphan {
        resource: OwnedResource {
            kind,
            arn: arn.to_string(),
            name: name.to_string(),
            event_bus_name: None,
            qualifier: None,
            statement_id: Some(sid),
            proof: Some(proof),
            ..rule.resource.clone()
        },
        owner: rule.owner.clone(),
        owner_uid: rule.owner_uid.clone(),
        removal: None,
        created: rule.created,
    };
    let mut out = Vec::new();
    let mut direct = Vec::new();
    for t in observe::targets(c, &rule.resource.name, bus).await? {
        direct.extend(direct_grant_of(&t, rule));
        if t.arn.split(':').nth(2) == Some("lambda") {
            let (function, qualifier) = crate::iam::arn::split_function_arn(&t.arn);
            if let Some(policy) = observe::lambda_policy(c, &function, qualifier.as_deref()).await?
            {
                for s in policy_statements(&policy).iter().filter(|s| grants_rule(s)) {
                    if let Some(sid) = &s.sid {
                        let mut o = statement(
                            OwnedKind::LambdaPermission,
                            &t.arn,
                            &function,
                            sid.clone(),
                            rule_arn.clone(),
                        );
                        o.resource.qualifier = qualifier.clone();
                        out.push(o);
                    }
                }
            }
        }
        for (holder_arn, holder_name) in policy_holders_of(&t, &rule.resource) {
            let Some(policy) = crate::aws::policy_holder::read(
                c,
                &holder_arn,
                &holder_name,
                &rule.resource.account_id,
            )
            .await?
            .and_then(|h| h.policy()) else {
                continue;
            };
            for s in policy_statements(&policy).iter().filter(|s| grants_rule(s)) {
                if let Some(sid) = &s.sid {
                    out.push(statement(
                        OwnedKind::QueuePermission,
                        &holder_arn,
                        &holder_name,
                        sid.clone(),
                        rule_arn.clone(),
                    ));
                }
            }
        }
    }
    // A rule on a target account's bus that receives a forwarder's events: the bus
    // statement admitting the forwarder's role has the id the forwarder's rule ARN gives.
    let forwarded_from = description
        .and_then(|d| d.strip_prefix("Forwarded from "))
        .and_then(|d| d.split_once(" in account "))
        .map(|(source, _)| source);
    if let Some(source) = forwarded_from {
        let sid = crate::plan::names::bus_statement_id(source);
        if let Some(policy) = observe::bus_policy(c, bus).await? {
            if let Some(s) = policy_statements(&policy)
                .iter()
                .find(|s| s.sid.as_deref() == Some(sid.as_str()))
            {
                let admits = crate::plan::diff::StatementGrant::of(s).principal_arns;
                if let [role] = admits.as_slice() {
                    let bus_arn = format!(
                        "arn:{}:events:{}:{}:event-bus/{bus}",
                        rule.resource.partition,
                        rule.resource.region.as_deref().unwrap_or_default(),
                        rule.resource.account_id
                    );
                    out.push(statement(
                        OwnedKind::BusPermission,
                        &bus_arn,
                        bus,
                        sid,
                        role.clone(),
                    ));
                }
            }
        }
    }
    Ok((out, direct))
}

/// The policies that may hold a statement granting `rule` for its target `t`, as (holder
/// ARN, holder name): the dead-letter queue's, an SQS queue's or SNS topic's target, and for
/// a log group target the account's logs resource policy the controller keeps. Only those
/// of the rule's account: the statement of a queue, topic or stream of another account
/// (direct delivery) names the rule's role, not the rule ([`DirectGrant`]).
fn policy_holders_of(t: &TargetShape, rule: &OwnedResource) -> Vec<(String, String)> {
    let in_rule_account = |arn: &str| {
        crate::iam::Arn::parse(arn)
            .ok()
            .filter(|a| a.account == rule.account_id)
    };
    let mut out: Vec<(String, String)> = vec![];
    let mut add = |holder: (String, String)| {
        if !out.iter().any(|(arn, _)| *arn == holder.0) {
            out.push(holder);
        }
    };
    if let Some(queue) = t
        .dead_letter_arn
        .as_deref()
        .and_then(|q| in_rule_account(q).map(|a| (q, a)))
    {
        add((queue.0.to_string(), queue.1.resource));
    }
    if let Some(target) = in_rule_account(&t.arn) {
        match target.service.as_str() {
            "sqs" | "sns" => add((t.arn.clone(), target.resource)),
            "logs" => add((
                crate::plan::logs_policy_arn(&target.partition, &target.region, &target.account),
                crate::plan::LOGS_POLICY_NAME.to_string(),
            )),
            _ => {}
        }
    }
    out
}

/// An orphaned rule's target in another account, delivered to directly: the statement
/// granting it is in the target's own policy there and names the rule's execution role, not
/// the rule.
#[derive(Clone, Debug)]
struct DirectGrant {
    rule: Orphan,
    account: String,
    region: String,
    holder_arn: String,
    holder_name: String,
    role_arn: String,
}

/// The direct grant `t` of `rule` may have left: a queue, topic, stream or REST API (by its
/// method) of another account that the rule reaches with a role.
fn direct_grant_of(t: &TargetShape, rule: &Orphan) -> Option<DirectGrant> {
    let target = crate::iam::Arn::parse(&t.arn).ok()?;
    let role_arn = t.role_arn.clone()?;
    if target.account == rule.resource.account_id
        || !matches!(
            target.service.as_str(),
            "sqs" | "sns" | "kinesis" | "execute-api"
        )
    {
        return None;
    }
    let holder_name = match target.service.as_str() {
        // `API_ID/STAGE/METHOD/PATH`: the policy is the API's.
        "execute-api" => target.resource.split('/').next().unwrap_or_default(),
        _ => target
            .resource
            .strip_prefix("stream/")
            .unwrap_or(&target.resource),
    }
    .to_string();
    Some(DirectGrant {
        rule: rule.clone(),
        account: target.account,
        region: target.region,
        holder_arn: t.arn.clone(),
        holder_name,
        role_arn,
    })
}

impl DirectGrant {
    /// The statements of the target's policy that name exactly the execution role, each
    /// proven by it on removal. `via`: how this account was reached.
    async fn statements(&self, c: &Clients, via: &Option<String>) -> Result<Vec<Orphan>, AwsError> {
        let holder =
            crate::aws::policy_holder::read(c, &self.holder_arn, &self.holder_name, &self.account)
                .await?;
        let Some(policy) = holder.and_then(|h| h.policy()) else {
            return Ok(vec![]);
        };
        // A REST API's policy holds one statement per method: each is listed under its own
        // method (the rule's other targets of that API list theirs).
        let of_this_target = |s: &crate::iam::policy::Statement| {
            !self.holder_arn.contains(":execute-api:")
                || s.resource
                    .as_ref()
                    .is_some_and(|r| r.patterns.contains(&self.holder_arn))
        };
        Ok(policy_statements(&policy)
            .iter()
            .filter(|s| of_this_target(s))
            .filter(|s| crate::plan::diff::StatementGrant::of(s).proven_by(&self.role_arn))
            .filter_map(|s| s.sid.clone())
            .map(|sid| Orphan {
                resource: OwnedResource {
                    kind: OwnedKind::QueuePermission,
                    account_id: self.account.clone(),
                    region: Some(self.region.clone()),
                    arn: self.holder_arn.clone(),
                    name: self.holder_name.clone(),
                    event_bus_name: None,
                    qualifier: None,
                    statement_id: Some(sid),
                    proof: Some(self.role_arn.clone()),
                    via_role_arn: via.clone(),
                    ..self.rule.resource.clone()
                },
                owner: self.rule.owner.clone(),
                owner_uid: self.rule.owner_uid.clone(),
                removal: None,
                created: self.rule.created,
            })
            .collect())
    }
}

fn policy_statements(policy: &serde_json::Value) -> Vec<crate::iam::policy::Statement> {
    crate::iam::PolicyDocument::parse(policy)
        .map(|d| d.statements)
        .unwrap_or_default()
}

/// API destinations and connections whose description names this cluster (they take no
/// tags): orphans and young ones. Found by listing, not through a rule: a clean-up cut
/// short after the rule went leaves them with no rule pointing at them. The lists carry no
/// description, so each one listed is described (one call each; a report, not a pass).
async fn described_api_destinations(p: &Place<'_>) -> Result<(Vec<Orphan>, Vec<Orphan>), AwsError> {
    use crate::aws::api_destination as api;
    let (mut out, mut young) = (Vec::new(), Vec::new());
    let mut found = Vec::new();
    for name in api::list_api_destinations(p.clients).await?.into_keys() {
        let described = observe::found(
            p.clients
                .events
                .describe_api_destination()
                .name(name.as_ref())
                .send()
                .await
                .map_err(|e| classify("events:DescribeApiDestination", e)),
        )?;
        found.extend(described.map(|d| {
            (
                OwnedKind::ApiDestination,
                name,
                d.api_destination_arn().unwrap_or_default().to_string(),
                d.description().unwrap_or_default().to_string(),
                d.creation_time().map(|t| t.secs()),
            )
        }));
    }
    for name in api::list_connections(p.clients).await?.into_keys() {
        let described = observe::found(
            p.clients
                .events
                .describe_connection()
                .name(name.as_ref())
                .send()
                .await
                .map_err(|e| classify("events:DescribeConnection", e)),
        )?;
        found.extend(described.map(|d| {
            (
                OwnedKind::Connection,
                name,
                d.connection_arn().unwrap_or_default().to_string(),
                d.description().unwrap_or_default().to_string(),
                d.creation_time().map(|t| t.secs()),
            )
        }));
    }
    for (kind, name, arn, description, created) in found {
        let tags = crate::plan::described::description_tags(&description);
        // Recorded (and proven on removal) by the ARN up to the ID AWS appends.
        let arn = arn.rsplit_once('/').map_or(arn.as_str(), |(a, _)| a);
        let created = created.and_then(|t| u64::try_from(t).ok());
        let standing = p.standing(&tags, kind, arn, created);
        sort_into(
            standing,
            p.entry(kind, arn, &name),
            created,
            &mut out,
            &mut young,
        );
    }
    Ok((out, young))
}

/// Scheduler schedules whose description names this cluster (they take no tags): orphans
/// and young ones. The list names each schedule's group but not its description, so each
/// one listed is read (one call each; a report, not a pass).
async fn described_schedules(p: &Place<'_>) -> Result<(Vec<Orphan>, Vec<Orphan>), AwsError> {
    let (mut out, mut young) = (Vec::new(), Vec::new());
    for (group, name) in crate::aws::schedule::list_schedules(p.clients, None).await? {
        let read = observe::found(
            p.clients
                .scheduler
                .get_schedule()
                .group_name(&group)
                .name(&name)
                .send()
                .await
                .map_err(|e| classify("scheduler:GetSchedule", e)),
        )?;
        let Some(schedule) = read else {
            continue; // deleted since it was listed
        };
        let tags =
            crate::plan::described::description_tags(schedule.description().unwrap_or_default());
        let arn = schedule.arn().unwrap_or_default();
        let created = schedule
            .creation_date()
            .and_then(|t| u64::try_from(t.secs()).ok());
        let standing = p.standing(&tags, OwnedKind::Schedule, arn, created);
        sort_into(
            standing,
            p.entry(OwnedKind::Schedule, arn, &name),
            created,
            &mut out,
            &mut young,
        );
    }
    Ok((out, young))
}

/// Roles the controller created (by their description) carrying this cluster's tags:
/// orphans and young ones.
async fn tagged_roles(p: &Place<'_>) -> Result<(Vec<Orphan>, Vec<Orphan>), AwsError> {
    let (mut out, mut young) = (Vec::new(), Vec::new());
    let mut pages = p.clients.iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("iam:ListRoles", e))?;
        for role in page.roles() {
            if role.description() != Some(crate::aws::apply::ROLE_DESCRIPTION) {
                continue;
            }
            // Deleted since the listing (a clean-up running now): nothing to report.
            let Some(tags) = observe::found(
                p.clients
                    .iam
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
            let created = u64::try_from(role.create_date().secs()).ok();
            let standing = p.standing(&tags, OwnedKind::Role, role.arn(), created);
            let resource = p.entry(OwnedKind::Role, role.arn(), role.role_name());
            sort_into(standing, resource, created, &mut out, &mut young);
        }
    }
    Ok((out, young))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(cluster: &str, uid: Option<&str>, owner: &str) -> BTreeMap<String, String> {
        let mut t = BTreeMap::from([
            (CLUSTER_TAG.to_string(), cluster.to_string()),
            (OWNER_TAG.to_string(), owner.to_string()),
        ]);
        if let Some(uid) = uid {
            t.insert(OWNER_UID_TAG.to_string(), uid.to_string());
        }
        t
    }

    #[test]
    fn the_policies_searched_for_a_rules_statements_are_its_queue_topic_or_logs_policy_in_its_account(
    ) {
        let rule = OwnedResource {
            kind: OwnedKind::Rule,
            partition: "aws".into(),
            account_id: "111111111111".into(),
            region: Some("eu-west-1".into()),
            arn: "arn:aws:events:eu-west-1:111111111111:rule/r".into(),
            name: "r".into(),
            event_bus_name: Some("default".into()),
            qualifier: None,
            statement_id: None,
            proof: None,
            via_role_arn: None,
            restore: None,
            left_behind: None,
            policy_written_at: None,
        };
        let holders = |arn: &str, dlq: Option<&str>| {
            policy_holders_of(
                &TargetShape {
                    arn: arn.into(),
                    dead_letter_arn: dlq.map(str::to_string),
                    ..TargetShape::default()
                },
                &rule,
            )
        };
        let queue = "arn:aws:sqs:eu-west-1:111111111111:orders";
        let dlq = "arn:aws:sqs:eu-west-1:111111111111:orders-dlq";
        assert_eq!(
            holders(queue, Some(dlq)),
            vec![
                (dlq.to_string(), "orders-dlq".to_string()),
                (queue.to_string(), "orders".to_string())
            ]
        );
        // The queue that is both target and dead-letter queue is read once.
        assert_eq!(holders(queue, Some(queue)).len(), 1);
        let topic = "arn:aws:sns:eu-west-1:111111111111:alerts";
        assert_eq!(
            holders(topic, None),
            vec![(topic.to_string(), "alerts".to_string())]
        );
        assert_eq!(
            holders("arn:aws:logs:eu-west-1:111111111111:log-group:/audit", None),
            vec![(
                format!(
                    "arn:aws:logs:eu-west-1:111111111111:resource-policy:{}",
                    crate::plan::LOGS_POLICY_NAME
                ),
                crate::plan::LOGS_POLICY_NAME.to_string()
            )]
        );
        // Another account's queue (direct delivery) names the role, not the rule; roles and
        // functions hold no such statement.
        assert!(holders("arn:aws:sqs:eu-west-1:222222222222:orders", None).is_empty());
        assert!(holders("arn:aws:states:eu-west-1:111111111111:stateMachine:m", None).is_empty());
    }

    #[test]
    fn only_an_old_resource_of_an_unknown_object_of_this_cluster_is_an_orphan() {
        let live = Live {
            uids: BTreeSet::from(["live-uid".to_string()]),
            keys: BTreeSet::from(["ns/restored".to_string()]),
            recorded: BTreeSet::from([(OwnedKind::Rule, "arn:recorded".to_string())]),
        };
        let c = Criteria {
            cluster: "c1",
            live: &live,
            now: 10_000,
            grace: Duration::from_secs(3600),
            namespaces: &[],
        };
        let old = Some(1);
        let judge = |t: &BTreeMap<String, String>, arn: &str, created| {
            c.standing(t, OwnedKind::Rule, arn, created)
        };
        let orphan = Standing::Orphan {
            owner: "ns/gone".into(),
            uid: "dead".into(),
        };
        assert_eq!(
            judge(&tags("c1", Some("dead"), "ns/gone"), "arn:x", old),
            orphan
        );
        // Unknown age (created before rules carried it): old.
        assert_eq!(
            judge(&tags("c1", Some("dead"), "ns/gone"), "arn:x", None),
            orphan
        );
        // Another cluster's, a retained one (no UID), a live object's, one a live record
        // lists, one whose name a live object has (restored from a backup with a new UID).
        for (t, arn) in [
            (tags("c2", Some("dead"), "ns/gone"), "arn:x"),
            (tags("c1", None, "ns/gone"), "arn:x"),
            (tags("c1", Some("live-uid"), "ns/gone"), "arn:x"),
            (tags("c1", Some("dead"), "ns/gone"), "arn:recorded"),
            (tags("c1", Some("dead"), "ns/restored"), "arn:x"),
        ] {
            assert_eq!(judge(&t, arn, old), Standing::NotOrphan, "{t:?} {arn}");
        }
        // Created within the grace period: reported, not an orphan yet.
        assert_eq!(
            judge(&tags("c1", Some("dead"), "ns/gone"), "arn:x", Some(9_000)),
            Standing::Young {
                owner: "ns/gone".into(),
                uid: "dead".into()
            }
        );
        // Scoped to namespaces: another namespace's orphan is not this sweep's.
        let scoped = |namespaces: &[String]| {
            Criteria { namespaces, ..c }.standing(
                &tags("c1", Some("dead"), "ns/gone"),
                OwnedKind::Rule,
                "arn:x",
                old,
            )
        };
        assert_eq!(scoped(&["other".into()]), Standing::NotOrphan);
        assert_eq!(scoped(&["other".into(), "ns".into()]), orphan);
    }
}
