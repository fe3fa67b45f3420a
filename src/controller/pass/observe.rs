//! The observe step of a pass: what exists of a part in its account, read through the
//! account's shared snapshots where the record proves it ours, directly otherwise, and
//! read again directly before anything a snapshot showed is written.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::shared_reads::{ExpectedDocuments, Shared};
use crate::aws::{observe, AwsError, Clients};
use crate::iam::Arn;
use crate::plan::diff::{
    self, Adoption, Change, Observed, ObservedApiDestinationPair, ObservedQueue, ObservedRole,
    ObservedRule, ObservedSchedule, TaskDefinitions,
};
use crate::plan::{record, Desired, DesiredRole, Owner};
use crate::Error;

use super::part::Part;

/// How a pass reads what exists.
#[derive(Clone, Debug)]
pub(super) enum Reads {
    /// Every resource on its own: before writing what a shared snapshot showed, and after
    /// an optimistic create found the name taken.
    Direct,
    /// What the record held before this pass is confirmed from the shared snapshots
    /// (`aws::shared_reads`); a managed role not yet recorded is not looked for at all.
    Shared {
        recorded: record::AlreadyRecorded,
        max_age: Duration,
    },
}

/// What a part's reads found, and how.
pub(super) struct Observation {
    pub observed: Observed,
    /// Some of it came from a shared snapshot, which may be `max_age` old.
    pub from_snapshots: bool,
    /// The managed role was not read: the pass creates it, and IAM refuses a taken name.
    pub role_assumed_absent: bool,
}

pub(super) async fn observe_all(
    clients: &Clients,
    desired: &Desired,
    task_definitions: &TaskDefinitions,
    owner: &Owner,
    reads: Reads,
) -> Result<Observation, AwsError> {
    let mut reader = Reader::new(clients, reads);
    let rule = reader.rule(desired, owner).await?;
    let targets = match (&desired.rule, &rule) {
        (Some(want), Some(_)) => {
            observe::targets(clients, &want.name, &want.event_bus_name).await?
        }
        _ => vec![],
    };
    let (role, role_assumed_absent) = reader.role(desired).await?;
    let lambda_policies = reader.lambda_policies(desired).await?;
    let bus_policy = match &desired.bus_permission {
        Some(b) => observe::bus_policy(clients, &b.event_bus_name).await?,
        None => None,
    };
    let mut queues = reader.policy_holders(desired).await?;
    if let Some(s) = &desired.schedule {
        queues.extend(read_schedule_holders(clients, &clients.shared, s, reader.max_age).await?);
    }
    let api_destinations = reader.api_destinations(desired).await?;
    let schedule = read_schedule(clients, desired).await?;
    Ok(Observation {
        observed: Observed {
            rule,
            targets,
            role,
            lambda_policies,
            task_definitions: of_ecs_targets(desired, task_definitions),
            bus_policy,
            queues,
            api_destinations,
            schedule,
        },
        from_snapshots: reader.from_snapshots,
        role_assumed_absent,
    })
}

/// One observation's reads: what the record proves ours through the account's shared
/// snapshots (no older than `max_age`), the rest directly; `from_snapshots` says whether a
/// snapshot answered any.
struct Reader<'a> {
    clients: &'a Clients,
    recorded: record::AlreadyRecorded,
    /// None: every read is direct.
    max_age: Option<Duration>,
    from_snapshots: bool,
}

impl<'a> Reader<'a> {
    fn new(clients: &'a Clients, reads: Reads) -> Self {
        let (recorded, max_age) = match reads {
            Reads::Shared { recorded, max_age } => (recorded, Some(max_age)),
            Reads::Direct => (Default::default(), None),
        };
        Reader {
            clients,
            recorded,
            max_age,
            from_snapshots: false,
        }
    }

    /// A snapshot's answer, noted as such; None: the snapshot does not know.
    fn known<T>(&mut self, answer: Shared<T>) -> Option<T> {
        match answer {
            Shared::Known(value) => {
                self.from_snapshots = true;
                Some(value)
            }
            Shared::Unknown => None,
        }
    }

    async fn rule(
        &mut self,
        desired: &Desired,
        owner: &Owner,
    ) -> Result<Option<ObservedRule>, AwsError> {
        let c = self.clients;
        let Some(want) = &desired.rule else {
            return Ok(None);
        };
        if let (Some(max_age), true) = (self.max_age, self.recorded.rule) {
            let seen = c
                .shared
                .rule(c, &want.event_bus_name, &want.name, max_age)
                .await?;
            // ListRules carries no tags; the record proves the rule of this ARN ours.
            if let Shared::Known(Some(r)) = seen {
                if r.arn == want.arn && diff::rule_matches(want, &r) {
                    self.from_snapshots = true;
                    return Ok(Some(ObservedRule {
                        tags: owner.tags(),
                        ..r
                    }));
                }
            }
        }
        observe::rule(c, &want.name, &want.event_bus_name).await
    }

    /// The role the target uses, and whether the managed one was assumed absent (not yet
    /// recorded: the pass creates it, and IAM refuses a taken name).
    async fn role(&mut self, desired: &Desired) -> Result<(Option<ObservedRole>, bool), AwsError> {
        let c = self.clients;
        let (name, expected) = match &desired.role {
            DesiredRole::NotNeeded => return Ok((None, false)),
            DesiredRole::Managed(m) => (
                m.name.clone(),
                Some(ExpectedDocuments {
                    trust_policy: &m.trust_policy,
                    policy_name: crate::plan::POLICY_NAME,
                    policy: &m.policy,
                }),
            ),
            DesiredRole::BringYourOwn { arn } => (
                Arn::parse(arn)
                    .map(|a| a.resource_name().to_string())
                    .unwrap_or_default(),
                None,
            ),
        };
        let managed = expected.is_some();
        let Some(max_age) = self.max_age else {
            return Ok((observe::role(c, &name).await?, false));
        };
        if managed && !self.recorded.role {
            return Ok((None, true));
        }
        // A role of the user's own is never written: a snapshot serves its diagnosis.
        match c.shared.role(c, &name, expected, max_age).await? {
            Shared::Known(Some(r)) => {
                self.from_snapshots = true;
                Ok((Some(r), false))
            }
            // Not in the snapshot (or not known): read on its own.
            _ => Ok((observe::role(c, &name).await?, false)),
        }
    }

    /// The policies of the functions the plan grants, by the function's ARN.
    async fn lambda_policies(
        &mut self,
        desired: &Desired,
    ) -> Result<BTreeMap<String, serde_json::Value>, AwsError> {
        let c = self.clients;
        let mut out = BTreeMap::new();
        for p in &desired.permissions {
            let (name, qualifier) = (p.function_arn.unqualified(), p.function_arn.qualifier());
            let snapshot = match self.max_age {
                Some(max_age) if self.recorded.permission => {
                    let seen = c.shared.lambda_policy(c, name, qualifier, max_age).await?;
                    self.known(seen)
                }
                _ => None,
            };
            let policy = match snapshot {
                Some(policy) => policy,
                None => observe::lambda_policy(c, name, qualifier).await?,
            };
            out.extend(policy.map(|policy| (p.function_arn.to_string(), policy)));
        }
        Ok(out)
    }

    /// The queues, topics, streams, REST APIs and logs policies holding a statement of ours,
    /// by ARN, those that exist. Only queues have a shared read. A REST API's holder also
    /// says which deployment its stage serves (`DeploymentId`, `DeploymentCreatedDate`): a
    /// policy written after it is not in effect.
    async fn policy_holders(
        &mut self,
        desired: &Desired,
    ) -> Result<BTreeMap<String, ObservedQueue>, AwsError> {
        let c = self.clients;
        let mut out = BTreeMap::new();
        for q in desired.permitted_queues() {
            let (name, account) = (&q.queue_name, &q.queue_account);
            let holder = if q.holder() != crate::plan::PolicyHolder::Queue {
                crate::aws::policy_holder::read(c, &q.queue_arn, name, account).await?
            } else {
                let snapshot = match self.max_age {
                    Some(max_age) if self.recorded.queue => {
                        let seen = c.shared.queue(c, name, account, max_age).await?;
                        self.known(seen)
                    }
                    _ => None,
                };
                match snapshot {
                    Some(queue) => queue,
                    None => observe::queue(c, name, account).await?,
                }
            };
            let holder = match holder {
                Some(h) if q.holder() == crate::plan::PolicyHolder::RestApi => {
                    Some(with_stage(c, h, &q.queue_arn).await?)
                }
                other => other,
            };
            out.extend(holder.map(|h| (q.queue_arn.clone(), h)));
        }
        Ok(out)
    }

    /// The API destinations and their connections, by planned name. Recorded ones are
    /// confirmed from the account's lists (which carry no description: what the last direct
    /// read found stands for it); anything else is described.
    async fn api_destinations(
        &mut self,
        desired: &Desired,
    ) -> Result<BTreeMap<String, ObservedApiDestinationPair>, AwsError> {
        let c = self.clients;
        let mut out = BTreeMap::new();
        for d in &desired.api_destinations {
            let snapshot = match self.max_age {
                Some(max_age) if self.recorded.api_destinations.contains(&d.name) => {
                    let seen = c.shared.api_destination(c, &d.name, max_age).await?;
                    self.known(seen)
                }
                _ => None,
            };
            let pair = match snapshot {
                Some(pair) => pair,
                None => describe_api_destination(c, &d.name).await?,
            };
            out.insert(d.name.clone(), pair);
        }
        Ok(out)
    }
}

/// A REST API's holder with the deployment the stage of `method_arn` serves.
async fn with_stage(
    c: &Clients,
    mut holder: ObservedQueue,
    method_arn: &str,
) -> Result<ObservedQueue, AwsError> {
    let stage = crate::aws::policy_holder::stage_deployment(c, &holder.url, method_arn).await?;
    if let Some((id, created)) = stage {
        holder.attributes.insert("DeploymentId".into(), id);
        holder
            .attributes
            .insert("DeploymentCreatedDate".into(), created.to_string());
    }
    Ok(holder)
}

/// `spec.schedule`'s schedule, read directly: Scheduler's list carries none of what the
/// diff compares. One to be created needs its group, or nothing (its role) is written.
async fn read_schedule(
    clients: &Clients,
    desired: &Desired,
) -> Result<Option<ObservedSchedule>, AwsError> {
    let Some(s) = &desired.schedule else {
        return Ok(None);
    };
    let found = crate::aws::schedule::schedule(clients, &s.group, &s.name).await?;
    if found.is_none() {
        crate::aws::schedule::require_group(clients, &s.group).await?;
    }
    Ok(found)
}

/// The task definitions of this part's ECS targets (the workload's side).
fn of_ecs_targets(desired: &Desired, task_definitions: &TaskDefinitions) -> TaskDefinitions {
    desired
        .targets
        .iter()
        .filter_map(|t| t.parameters.ecs())
        .filter_map(|e| {
            let td = task_definitions.get(&e.task_definition_arn)?;
            Some((e.task_definition_arn.clone(), td.clone()))
        })
        .collect()
}

/// What a schedule sends to with its role (its queue or topic, its dead-letter queue), read
/// for their keys, which the diagnosis judges: no statement of ours is in their policies. A
/// queue comes from the account's shared read when one is allowed; one the controller may
/// not read is left out (the diagnosis says its key was not read) rather than failing the
/// pass.
async fn read_schedule_holders(
    clients: &Clients,
    shared: &crate::aws::shared_reads::SharedReads,
    schedule: &crate::plan::schedule::DesiredSchedule,
    max_age: Option<Duration>,
) -> Result<Vec<(String, crate::plan::diff::ObservedQueue)>, AwsError> {
    let as_written = crate::plan::diff::schedule_as_written(schedule);
    let mut out = vec![];
    for arn in crate::diagnose::schedule_sends_to(&as_written) {
        let Ok(holder) = crate::iam::Arn::parse(&arn) else {
            continue;
        };
        let name = holder.resource_name().to_string();
        let read = match max_age {
            Some(max_age) if holder.service == "sqs" => {
                match shared.queue(clients, &name, &holder.account, max_age).await {
                    Ok(Shared::Known(queue)) => Ok(queue),
                    Ok(Shared::Unknown) => observe::queue(clients, &name, &holder.account).await,
                    Err(e) => Err(e),
                }
            }
            _ => crate::aws::policy_holder::read(clients, &arn, &name, &holder.account).await,
        };
        match read {
            Ok(queue) => out.extend(queue.map(|q| (arn, q))),
            Err(e) if e.kind == crate::aws::ErrorKind::AccessDenied => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// An API destination and its connection, described (and remembered for the lists).
async fn describe_api_destination(
    clients: &Clients,
    name: &str,
) -> Result<ObservedApiDestinationPair, AwsError> {
    use crate::aws::api_destination as api;
    let destination = api::api_destination(clients, name).await?;
    let connection = api::connection(clients, name).await?;
    clients
        .shared
        .read_api_destination(name, destination.as_ref(), connection.as_ref());
    Ok(ObservedApiDestinationPair {
        destination,
        connection,
    })
}

tokio::task_local! {
    /// Set (true) for a pass an event re-queued (a drift event, a policy change): AWS
    /// changed, so a shared snapshot taken before may hide the change, and waiting for the
    /// next one (a `ListRules` of every rule on the bus, paged at the account's rate) would
    /// hold the correction back by seconds. Such a pass reads its own resources directly.
    pub(super) static HEARD_OF_A_CHANGE: bool;
}

/// Runs a pass (`work`, boxed: see `reconcile_gated`) reading AWS directly when `heard` of
/// a change, from shared snapshots otherwise.
pub(in crate::controller) fn reading_directly<F: std::future::Future>(
    heard: bool,
    work: F,
) -> tokio::task::futures::TaskLocalFuture<bool, std::pin::Pin<Box<F>>> {
    HEARD_OF_A_CHANGE.scope(heard, Box::pin(work))
}

fn heard_of_a_change() -> bool {
    HEARD_OF_A_CHANGE.try_with(|h| *h).unwrap_or(false)
}

/// Observes and diffs one part. Snapshots only confirm: when they show anything to change,
/// the part is read again directly, so no write follows from a read up to `max_age` old. A
/// pass re-queued by an event reads directly from the start.
pub(super) async fn observe_and_diff(
    snapshot_max_age: Duration,
    owner: &Owner,
    clients: &Clients,
    desired: &Desired,
    task_definitions: &TaskDefinitions,
    recorded: record::AlreadyRecorded,
    adopt: Adoption,
) -> Result<(Observation, Vec<Change>), Error> {
    let reads = if heard_of_a_change() {
        Reads::Direct
    } else {
        Reads::Shared {
            recorded,
            max_age: snapshot_max_age,
        }
    };
    let seen = observe_all(clients, desired, task_definitions, owner, reads).await?;
    let changes =
        diff::diff(desired, &seen.observed, owner, adopt.clone()).map_err(Error::NotOwned)?;
    if changes.is_empty() || !seen.from_snapshots {
        return Ok((seen, changes));
    }
    let seen = observe_all(clients, desired, task_definitions, owner, Reads::Direct).await?;
    let changes = diff::diff(desired, &seen.observed, owner, adopt).map_err(Error::NotOwned)?;
    Ok((seen, changes))
}

/// Everything of a part, read on its own (no snapshot, no assumption).
pub(super) async fn read_directly(
    part: &Part,
    task_definitions: &TaskDefinitions,
    owner: &Owner,
) -> Result<Observed, AwsError> {
    let direct = Reads::Direct;
    let seen = observe_all(
        &part.clients,
        &part.desired,
        task_definitions,
        owner,
        direct,
    );
    Ok(seen.await?.observed)
}
