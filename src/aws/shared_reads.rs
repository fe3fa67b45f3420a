//! Reads shared by every integration of one account and region, so that an in-sync resync
//! costs about one call per integration instead of seven: one `ListRules` per event bus,
//! one `GetAccountAuthorizationDetails` for the roles, one `GetPolicy` per function, one
//! `GetQueueAttributes` per dead-letter queue, each reused for at most `max_age`.
//!
//! A snapshot only ever *confirms* what a pass expects: the pass reads anything it is about
//! to write directly (see `controller::pass::converge`). Every write this process makes marks what
//! it wrote, and a snapshot taken before that write is not trusted for it, so no pass sees
//! its own stale past.

use crate::sync::Locked;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tracing::warn;

use super::errors::{classify, AwsError, ErrorKind};
use super::{observe, Clients};
use crate::diagnose::bus_log::BusLogFailure;
use crate::diagnose::delivery::DeadLetter;
use crate::diagnose::trail::TrailFailure;
use crate::plan::diff::{
    ObservedApiDestination, ObservedApiDestinationPair, ObservedConnection, ObservedQueue,
    ObservedRole, ObservedRule,
};

/// What an API destination's and its connection's lists do not show (see `SharedReads`).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiDestinationDetails {
    pub destination_description: String,
    pub rate_limit: Option<i32>,
    pub connection_description: String,
}

/// What a shared read knows about one resource.
#[derive(Clone, Debug, PartialEq)]
pub enum Shared<T> {
    /// From a snapshot taken after this process last wrote the resource.
    Known(T),
    /// No usable snapshot (not yet taken, not readable, or older than our last write):
    /// read it directly.
    Unknown,
}

/// Whether a snapshot taken at `taken` may still be used at `now`.
pub fn fresh(taken: Instant, now: Instant, max_age: Duration) -> bool {
    now.saturating_duration_since(taken) < max_age
}

/// Whether an asker that began waiting at `asked` shares the failure of a read that ended
/// at `failed`: only when it was already waiting for that read.
pub fn shared_failure(asked: Instant, failed: Instant) -> bool {
    asked <= failed
}

/// Whether a snapshot taken at `taken` can speak for a resource this process last wrote at
/// `written`: only if it was taken after the write (a read that began before the write may
/// have been answered before it).
pub fn after_last_write(written: Option<Instant>, taken: Instant) -> bool {
    written.is_none_or(|w| w < taken)
}

/// One snapshot and the writes made since: single-flight (concurrent readers wait for the
/// one read in progress, they do not start their own).
pub(crate) struct Snapshot<T> {
    taken: tokio::sync::Mutex<Slot<T>>,
    writes: Mutex<HashMap<String, Instant>>,
}

/// The snapshot, and how the last read failed and when.
struct Slot<T> {
    value: Option<(Instant, Arc<T>)>,
    failed: Option<(Instant, AwsError)>,
}

impl<T> Default for Snapshot<T> {
    fn default() -> Self {
        Snapshot {
            taken: tokio::sync::Mutex::new(Slot {
                value: None,
                failed: None,
            }),
            writes: Default::default(),
        }
    }
}

impl<T> Snapshot<T> {
    async fn get<F, Fut>(&self, max_age: Duration, read: F) -> Result<(Instant, Arc<T>), AwsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let asked = Instant::now();
        let mut slot = self.taken.lock().await;
        if let Some((at, value)) = slot.value.as_ref() {
            if fresh(*at, Instant::now(), max_age) {
                return Ok((*at, value.clone()));
            }
        }
        // A read that failed while this asker waited for it answers this asker too. Reading
        // again, one waiter after the other, would keep the last of N waiters N operation
        // timeouts behind an endpoint that does not answer (the read itself is bounded by
        // the clients' timeouts, see `aws::Timeouts`). Who asks after the failure reads again.
        if let Some((failed_at, e)) = &slot.failed {
            if shared_failure(asked, *failed_at) {
                return Err(e.clone());
            }
        }
        // The stale one goes before the new one is read: at 10,000 roles or rules, two
        // snapshots at once would be the controller's peak.
        slot.value = None;
        let at = Instant::now();
        // Every pass of the account waits for this read, urgent ones too: its calls are not
        // a resync's, whichever pass happened to start it (in a resync's lane, its pages
        // queued behind every resync call: the first apply after a restart at 10,000 objects
        // waited ~20 s for ListRules' 100 pages).
        let value = match super::rate_limit::in_lane(false, read()).await {
            Ok(v) => Arc::new(v),
            Err(e) => {
                slot.failed = Some((Instant::now(), e.clone()));
                return Err(e);
            }
        };
        slot.value = Some((at, value.clone()));
        slot.failed = None;
        // Writes before this snapshot are in it; only later ones need remembering.
        self.writes.locked().retain(|_, w| *w >= at);
        Ok((at, value))
    }

    /// The value, read once for the life of the process (or until a read succeeds): for
    /// facts that never change, such as the account of the controller's own credentials.
    pub(crate) async fn once<F, Fut>(&self, read: F) -> Result<Arc<T>, AwsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        self.get(Duration::MAX, read).await.map(|(_, v)| v)
    }

    fn wrote(&self, key: &str) {
        self.writes.locked().insert(key.to_string(), Instant::now());
    }

    fn trusted(&self, key: &str, taken: Instant) -> bool {
        let written = self.writes.locked().get(key).copied();
        after_last_write(written, taken)
    }
}

/// A policy document as a snapshot keeps it. Roles of ours keep only a fingerprint of each
/// document's canonical form (at 10,000 roles the documents would be most of the
/// controller's memory): a pass that expects a document gets it back when the fingerprints
/// match, and reads the role directly when they do not.
#[derive(Clone, Debug)]
enum Document {
    /// The text as IAM returned it (URL-encoded JSON).
    Text(Box<str>),
    Fingerprint(u64),
}

/// The fingerprint of a document's meaning (see `PolicyDocument::canonical`); None when it
/// does not parse.
pub fn fingerprint(doc: &Value) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let canonical = crate::iam::PolicyDocument::parse(doc).ok()?.canonical();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    canonical.to_string().hash(&mut h);
    Some(h.finish())
}

impl Document {
    fn keep(text: &str, ours: bool) -> Document {
        let fingerprinted = ours
            .then(|| fingerprint(&Value::String(text.to_string())))
            .flatten();
        match fingerprinted {
            Some(fp) => Document::Fingerprint(fp),
            None => Document::Text(text.into()),
        }
    }

    /// The document, or None when only a fingerprint is kept and `expected` is not it.
    fn resolve(&self, expected: Option<&Value>) -> Option<Value> {
        match self {
            Document::Text(text) => Some(Value::String(text.to_string())),
            Document::Fingerprint(fp) => {
                let expected = expected?;
                (fingerprint(expected) == Some(*fp)).then(|| expected.clone())
            }
        }
    }
}

/// A role as `GetAccountAuthorizationDetails` describes it: everything but the documents
/// of attached managed policies, which are shared by roles and read (and cached) apart.
/// Boxed slices, not maps and vectors: one is kept per role of the account we manage
/// (10,000 roles: a map per role would be ~0.5 KB each, for a handful of entries).
#[derive(Debug)]
struct RoleDetail {
    arn: Box<str>,
    trust_policy: Document,
    /// Of a role of ours, only the owner tags (the rest decides nothing). Shared strings:
    /// every role of ours has the same keys, managed-by value and cluster.
    tags: Box<[(Arc<str>, Arc<str>)]>,
    inline_policies: Box<[(Box<str>, Document)]>,
    attached: Box<[Box<str>]>,
    permissions_boundary: Option<Box<str>>,
}

impl RoleDetail {
    fn tags(&self) -> BTreeMap<String, String> {
        self.tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// What a pass expects of a role it manages: the documents it would write.
pub struct ExpectedDocuments<'a> {
    pub trust_policy: &'a Value,
    pub policy_name: &'a str,
    pub policy: &'a Value,
}

/// The other roles asked about when the snapshot was taken, and the roles kept.
type RolesSnapshot = (BTreeSet<String>, HashMap<Box<str>, Arc<RoleDetail>>);

/// Snapshots by key (an event bus, a function, a queue, a managed policy).
type Keyed<T> = Mutex<HashMap<String, Arc<Snapshot<T>>>>;

/// How long a failed CloudTrail read answers for the next (AWS allows 2 reads a second).
const TRAIL_FAILURE_KEPT: Duration = Duration::from_secs(60);

/// The shared reads of one set of clients (one account and region).
#[derive(Default)]
pub struct SharedReads {
    rules: Keyed<HashMap<Box<str>, KeptRule>>,
    /// The other roles asked about when the snapshot was taken, and the roles kept.
    roles: Snapshot<RolesSnapshot>,
    /// Roles not tagged as ours that passes asked about (a role of the user's own): the
    /// authorization details list every role of the account, but only ours and these are
    /// kept.
    roles_wanted: Mutex<BTreeSet<String>>,
    managed_policies: Keyed<Option<Value>>,
    lambda_policies: Keyed<Option<Value>>,
    queues: Keyed<Option<ObservedQueue>>,
    /// By queue URL: the messages of one ReceiveMessage (`--read-dead-letters`).
    dead_letters: Keyed<Vec<DeadLetterMessage>>,
    /// The log group each event bus logs to, by bus ARN (`aws::bus_logs`).
    bus_log_groups: Snapshot<HashMap<String, String>>,
    /// By rule ARN: the rule's failure records in its bus's log group.
    bus_log_records: Keyed<Vec<String>>,
    /// The newest management events CloudTrail recorded (`aws::cloudtrail`), and when and
    /// how the last read failed.
    trail: Snapshot<Vec<String>>,
    trail_failed: Mutex<Option<(Instant, AwsError)>>,
    /// Every API destination and connection of the account and region, by name (their
    /// lists carry no description).
    api_destinations: Snapshot<HashMap<Box<str>, ObservedApiDestination>>,
    connections: Snapshot<HashMap<Box<str>, ObservedConnection>>,
    /// By name: what the lists do not carry, as this process last read or wrote it (the
    /// descriptions, which say whose they are and which Secret version the connection
    /// holds; the rate, which the emulator's list omits). Without it, a pass reads directly.
    api_destination_details: Mutex<HashMap<String, ApiDestinationDetails>>,
    /// Bulk reads AWS denied, and when.
    denied: Mutex<HashMap<&'static str, Instant>>,
    /// The per-rule CloudWatch metrics of every rule of this account and region.
    pub delivery: super::delivery::DeliveryReads,
}

impl std::fmt::Debug for SharedReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedReads")
    }
}

fn entry<T>(map: &Keyed<T>, key: &str) -> Arc<Snapshot<T>> {
    map.locked().entry(key.to_string()).or_default().clone()
}

fn lambda_key(function: &str, qualifier: Option<&str>) -> String {
    format!("{function}:{}", qualifier.unwrap_or(""))
}

fn queue_key(name: &str, account: &str) -> String {
    format!("{account}/{name}")
}

impl SharedReads {
    /// A denied bulk read is not an error of the pass: the controller then reads each
    /// resource directly, as before (its policy may predate `events:ListRules` or
    /// `iam:GetAccountAuthorizationDetails`), and asks again only after ten snapshot ages
    /// (one resync interval), not on every pass.
    async fn unless_denied<T, Fut>(
        &self,
        operation: &'static str,
        max_age: Duration,
        read: Fut,
    ) -> Result<Shared<T>, AwsError>
    where
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let denied_at = self.denied.locked().get(operation).copied();
        if denied_at.is_some_and(|at| fresh(at, Instant::now(), max_age * 10)) {
            return Ok(Shared::Unknown);
        }
        match read.await {
            Ok(v) => Ok(Shared::Known(v)),
            Err(e) if e.kind == ErrorKind::AccessDenied => {
                warn!(error = %e, "a shared read was denied; reading each resource directly");
                self.denied.locked().insert(operation, Instant::now());
                Ok(Shared::Unknown)
            }
            Err(e) => Err(e),
        }
    }

    /// A rule as `ListRules` on its bus shows it (no tags: `ListRules` has none).
    pub async fn rule(
        &self,
        c: &Clients,
        bus: &str,
        name: &str,
        max_age: Duration,
    ) -> Result<Shared<Option<ObservedRule>>, AwsError> {
        let snapshot = entry(&self.rules, bus);
        let read = snapshot.get(max_age, || list_rules(c, bus));
        let got = self.unless_denied("ListRules", max_age, read).await?;
        Ok(match got {
            Shared::Known((taken, rules)) if snapshot.trusted(name, taken) => {
                Shared::Known(rules.get(name).map(|r| r.observed(name, bus)))
            }
            _ => Shared::Unknown,
        })
    }

    /// A role with its documents. A role of ours (managed-by tag) is in every snapshot; any
    /// other is kept from the snapshot after a pass first asked for it.
    pub async fn role(
        &self,
        c: &Clients,
        name: &str,
        expected: Option<ExpectedDocuments<'_>>,
        max_age: Duration,
    ) -> Result<Shared<Option<ObservedRole>>, AwsError> {
        let d = match self.role_detail(c, name, max_age).await? {
            Shared::Known(Some(d)) => d,
            Shared::Known(None) => return Ok(Shared::Known(None)),
            Shared::Unknown => return Ok(Shared::Unknown),
        };
        // A document kept as a fingerprint that is not the expected one is drift, or a
        // policy of someone else's: the pass reads the role itself.
        let Some(trust_policy) = d
            .trust_policy
            .resolve(expected.as_ref().map(|e| e.trust_policy))
        else {
            return Ok(Shared::Unknown);
        };
        let mut inline_policies = BTreeMap::new();
        for (policy_name, doc) in &d.inline_policies {
            let want = expected
                .as_ref()
                .filter(|e| e.policy_name == &**policy_name)
                .map(|e| e.policy);
            let Some(doc) = doc.resolve(want) else {
                return Ok(Shared::Unknown);
            };
            inline_policies.insert(policy_name.to_string(), doc);
        }
        let mut attached_policies = BTreeMap::new();
        for arn in &d.attached {
            if let Some(doc) = self.managed_policy(c, arn, max_age).await? {
                attached_policies.insert(arn.to_string(), doc);
            }
        }
        let permissions_boundary = match &d.permissions_boundary {
            Some(arn) => self
                .managed_policy(c, arn, max_age)
                .await?
                .map(|doc| (arn.to_string(), doc)),
            None => None,
        };
        Ok(Shared::Known(Some(ObservedRole {
            arn: d.arn.to_string(),
            name: name.to_string(),
            trust_policy,
            tags: d.tags(),
            inline_policies,
            attached_policies,
            permissions_boundary,
        })))
    }

    /// A role's ARN and tags: the proof of ownership its removal needs.
    pub async fn role_tags(
        &self,
        c: &Clients,
        name: &str,
        max_age: Duration,
    ) -> Result<Shared<Option<(String, BTreeMap<String, String>)>>, AwsError> {
        Ok(match self.role_detail(c, name, max_age).await? {
            Shared::Known(d) => Shared::Known(d.map(|d| (d.arn.to_string(), d.tags()))),
            Shared::Unknown => Shared::Unknown,
        })
    }

    async fn role_detail(
        &self,
        c: &Clients,
        name: &str,
        max_age: Duration,
    ) -> Result<Shared<Option<Arc<RoleDetail>>>, AwsError> {
        // The set is copied only when a snapshot is taken, not on every lookup.
        let read = || authorization_details(c, self.roles_wanted.locked().clone());
        let read = self.roles.get(max_age, read);
        let Shared::Known((taken, snapshot)) = self
            .unless_denied("GetAccountAuthorizationDetails", max_age, read)
            .await?
        else {
            return Ok(Shared::Unknown);
        };
        let (asked, roles) = &*snapshot;
        if !self.roles.trusted(name, taken) {
            return Ok(Shared::Unknown);
        }
        Ok(match roles.get(name) {
            Some(d) => Shared::Known(Some(d.clone())),
            // Absent from a snapshot that looked for it: it does not exist.
            None if asked.contains(name) => Shared::Known(None),
            // Not ours and not asked for then: the snapshot cannot tell; the next one will.
            None => {
                self.roles_wanted.locked().insert(name.to_string());
                Shared::Unknown
            }
        })
    }

    async fn managed_policy(
        &self,
        c: &Clients,
        arn: &str,
        max_age: Duration,
    ) -> Result<Option<Value>, AwsError> {
        let snapshot = entry(&self.managed_policies, arn);
        let (_, doc) = snapshot
            .get(max_age, || observe::managed_policy_document(c, arn))
            .await?;
        Ok((*doc).clone())
    }

    /// A function's resource policy, shared by every integration that targets it.
    pub async fn lambda_policy(
        &self,
        c: &Clients,
        function: &str,
        qualifier: Option<&str>,
        max_age: Duration,
    ) -> Result<Shared<Option<Value>>, AwsError> {
        let snapshot = entry(&self.lambda_policies, &lambda_key(function, qualifier));
        let (taken, policy) = snapshot
            .get(max_age, || observe::lambda_policy(c, function, qualifier))
            .await?;
        Ok(if snapshot.trusted("", taken) {
            Shared::Known((*policy).clone())
        } else {
            Shared::Unknown
        })
    }

    /// A dead-letter queue with its attributes, shared by every rule that sends to it.
    pub async fn queue(
        &self,
        c: &Clients,
        name: &str,
        account: &str,
        max_age: Duration,
    ) -> Result<Shared<Option<ObservedQueue>>, AwsError> {
        let snapshot = entry(&self.queues, &queue_key(name, account));
        let (taken, queue) = snapshot
            .get(max_age, || observe::queue(c, name, account))
            .await?;
        Ok(if snapshot.trusted("", taken) {
            Shared::Known((*queue).clone())
        } else {
            Shared::Unknown
        })
    }

    /// The newest message EventBridge left for `rule_arn` in the dead-letter queue at
    /// `queue_url`, from one ReceiveMessage per queue per `max_age` shared by every rule that
    /// uses the queue. At most 10 messages are seen (SQS's most per call), with a visibility
    /// timeout of 0: they stay visible to the queue's consumers, but each read counts as a
    /// receive (a queue with a redrive policy of its own moves them on after
    /// `maxReceiveCount` reads), which is why this is opt-in.
    pub async fn dead_letter(
        &self,
        c: &Clients,
        queue_url: &str,
        rule_arn: &str,
        max_age: Duration,
    ) -> Result<Option<DeadLetter>, AwsError> {
        let snapshot = entry(&self.dead_letters, queue_url);
        let (_, messages) = snapshot
            .get(max_age, || receive_dead_letters(c, queue_url))
            .await?;
        Ok(DeadLetter::newest_of(
            rule_arn,
            messages
                .iter()
                .map(|(attributes, sent)| (attributes, *sent)),
        ))
    }

    /// The newest failure of `rule_arn` in the log of `bus_arn`, where the bus logs to
    /// CloudWatch Logs: where each bus logs from one discovery per account and region and
    /// `max_age`, the rule's records from one read per rule and `max_age`. None: the bus
    /// logs nowhere this can read, or logged no failure of the rule.
    pub async fn bus_log_failure(
        &self,
        c: &Clients,
        bus_arn: &str,
        rule_arn: &str,
        max_age: Duration,
    ) -> Result<Option<BusLogFailure>, AwsError> {
        let (_, groups) = self
            .bus_log_groups
            .get(max_age, || super::bus_logs::log_groups(c))
            .await?;
        let Some(group) = groups.get(bus_arn) else {
            tracing::debug!(bus = bus_arn, logging = ?groups.keys().collect::<Vec<_>>(), "the bus logs to no log group");
            return Ok(None);
        };
        let (_, records) = entry(&self.bus_log_records, rule_arn)
            .get(max_age, || {
                super::bus_logs::failure_records(c, group, rule_arn, max_age)
            })
            .await?;
        tracing::debug!(
            group,
            rule = rule_arn,
            records = records.len(),
            "the bus's failure records read"
        );
        Ok(BusLogFailure::newest_of(
            rule_arn,
            records.iter().map(String::as_str),
        ))
    }

    /// The newest failed call EventBridge made for `role_arn` (its AssumeRole, or a call made
    /// with the role), from one read of CloudTrail per account, region and `max_age`.
    pub async fn trail_failure(
        &self,
        c: &Clients,
        role_arn: &str,
        max_age: Duration,
    ) -> Result<Option<TrailFailure>, AwsError> {
        // LookupEvents allows 2 calls a second per account and region: a read that failed
        // (denied, throttled) answers every pass for a while instead of being tried by each.
        if let Some((at, e)) = self.trail_failed.locked().clone() {
            if fresh(at, Instant::now(), TRAIL_FAILURE_KEPT.min(max_age)) {
                return Err(e);
            }
        }
        let read = self
            .trail
            .get(max_age, || {
                super::cloudtrail::recent_events(&c.cloudtrail, max_age)
            })
            .await;
        let events = match read {
            Ok((_, events)) => events,
            Err(e) => {
                *self.trail_failed.locked() = Some((Instant::now(), e.clone()));
                return Err(e);
            }
        };
        Ok(TrailFailure::newest_for(
            role_arn,
            events.iter().map(String::as_str),
        ))
    }

    /// An API destination and its connection of `name`, from the account's lists, with what
    /// the lists lack from this process's last direct read (none: Unknown).
    pub async fn api_destination(
        &self,
        c: &Clients,
        name: &str,
        max_age: Duration,
    ) -> Result<Shared<ObservedApiDestinationPair>, AwsError> {
        let Some(details) = self.api_destination_details.locked().get(name).cloned() else {
            return Ok(Shared::Unknown);
        };
        let read = self
            .api_destinations
            .get(max_age, || super::api_destination::list_api_destinations(c));
        let destinations = self
            .unless_denied("ListApiDestinations", max_age, read)
            .await?;
        let read = self
            .connections
            .get(max_age, || super::api_destination::list_connections(c));
        let connections = self.unless_denied("ListConnections", max_age, read).await?;
        let (Shared::Known((d_at, destinations)), Shared::Known((c_at, connections))) =
            (destinations, connections)
        else {
            return Ok(Shared::Unknown);
        };
        if !self.api_destinations.trusted(name, d_at) || !self.connections.trusted(name, c_at) {
            return Ok(Shared::Unknown);
        }
        let destination = destinations.get(name).map(|d| ObservedApiDestination {
            description: details.destination_description.clone(),
            rate_limit: d.rate_limit.or(details.rate_limit),
            ..d.clone()
        });
        let connection = connections.get(name).map(|x| ObservedConnection {
            description: details.connection_description.clone(),
            ..x.clone()
        });
        Ok(Shared::Known(ObservedApiDestinationPair {
            destination,
            connection,
        }))
    }

    /// What a direct read found of an API destination and its connection, for the lists.
    pub fn read_api_destination(
        &self,
        name: &str,
        destination: Option<&ObservedApiDestination>,
        connection: Option<&ObservedConnection>,
    ) {
        let mut details = self.api_destination_details.locked();
        match (destination, connection) {
            (Some(d), Some(x)) => {
                details.insert(
                    name.to_string(),
                    ApiDestinationDetails {
                        destination_description: d.description.clone(),
                        rate_limit: d.rate_limit,
                        connection_description: x.description.clone(),
                    },
                );
            }
            _ => {
                details.remove(name);
            }
        }
    }

    /// An API destination or connection of `name` was written: the lists taken before do
    /// not speak for it, and what a direct read found is out of date.
    pub fn wrote_api_destination(&self, name: &str) {
        self.api_destinations.wrote(name);
        self.connections.wrote(name);
        self.api_destination_details.locked().remove(name);
    }

    pub fn wrote_rule(&self, bus: &str, name: &str) {
        entry(&self.rules, bus).wrote(name);
    }

    pub fn wrote_role(&self, name: &str) {
        self.roles.wrote(name);
    }

    pub fn wrote_lambda_policy(&self, function: &str, qualifier: Option<&str>) {
        entry(&self.lambda_policies, &lambda_key(function, qualifier)).wrote("");
    }

    pub fn wrote_queue(&self, name: &str, account: &str) {
        entry(&self.queues, &queue_key(name, account)).wrote("");
    }
}

/// A rule as `ListRules` shows it (no tags: `ListRules` has none), kept as text: one is
/// kept per rule of the bus, and an event pattern parsed into a map costs ~1 KB.
#[derive(Debug)]
struct KeptRule {
    arn: Box<str>,
    event_bus_name: Box<str>,
    enabled: bool,
    description: Option<Box<str>>,
    event_pattern: Option<Box<str>>,
    schedule_expression: Option<Box<str>>,
}

impl KeptRule {
    fn observed(&self, name: &str, bus: &str) -> ObservedRule {
        ObservedRule {
            name: name.to_string(),
            arn: self.arn.to_string(),
            event_bus_name: if self.event_bus_name.is_empty() {
                bus.to_string()
            } else {
                self.event_bus_name.to_string()
            },
            enabled: self.enabled,
            description: self.description.as_deref().map(str::to_string),
            event_pattern: self.event_pattern.as_deref().map(observe::parse_json),
            schedule_expression: self.schedule_expression.as_deref().map(str::to_string),
            tags: BTreeMap::new(),
        }
    }
}

/// Every rule of a bus, by name.
async fn list_rules(c: &Clients, bus: &str) -> Result<HashMap<Box<str>, KeptRule>, AwsError> {
    let text = |t: Option<&str>| t.filter(|t| !t.is_empty()).map(Into::into);
    let mut rules = HashMap::new();
    observe::for_each_rule(c, bus, |r| {
        let Some(name) = r.name() else { return };
        let rule = KeptRule {
            arn: r.arn().unwrap_or_default().into(),
            // Empty when it is the snapshot's own bus (the usual case): nothing kept.
            event_bus_name: r
                .event_bus_name()
                .filter(|b| *b != bus)
                .unwrap_or("")
                .into(),
            enabled: r.state().is_none_or(|s| s.as_str().starts_with("ENABLED")),
            description: text(r.description()),
            event_pattern: r.event_pattern().map(Into::into),
            schedule_expression: text(r.schedule_expression()),
        };
        rules.insert(name.into(), rule);
    })
    .await?;
    Ok(rules)
}

/// One copy of each string that repeats across roles; a string seen once is kept once.
#[derive(Default)]
struct Interner(std::collections::HashSet<Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(kept) = self.0.get(s) {
            return kept.clone();
        }
        let kept: Arc<str> = s.into();
        self.0.insert(kept.clone());
        kept
    }
}

/// From `GetAccountAuthorizationDetails` (roles only; paginated, up to 1,000 a page): the
/// roles this controller manages (its managed-by tag), and the others asked for.
async fn authorization_details(
    c: &Clients,
    wanted: BTreeSet<String>,
) -> Result<RolesSnapshot, AwsError> {
    let mut roles = HashMap::new();
    let mut strings = Interner::default();
    // The SDK's paginator follows `Marker`, which IAM returns only while `IsTruncated`.
    let mut pages = c
        .iam
        .get_account_authorization_details()
        .filter(aws_sdk_iam::types::EntityType::Role)
        .max_items(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("iam:GetAccountAuthorizationDetails", e))?;
        for r in page.role_detail_list() {
            let ours = r.tags().iter().any(|t| {
                t.key() == crate::plan::MANAGED_BY_TAG && t.value() == crate::plan::MANAGED_BY
            });
            let Some(name) = r.role_name().filter(|n| ours || wanted.contains(*n)) else {
                continue;
            };
            let tags = r
                .tags()
                .iter()
                .filter(|t| !ours || crate::plan::OWNER_TAG_KEYS.contains(&t.key()))
                .map(|t| (strings.get(t.key()), strings.get(t.value())))
                .collect();
            roles.insert(
                name.into(),
                Arc::new(RoleDetail {
                    arn: r.arn().unwrap_or_default().into(),
                    trust_policy: Document::keep(
                        r.assume_role_policy_document().unwrap_or_default(),
                        ours,
                    ),
                    tags,
                    inline_policies: r
                        .role_policy_list()
                        .iter()
                        .filter_map(|p| {
                            Some((
                                p.policy_name()?.into(),
                                Document::keep(p.policy_document()?, ours),
                            ))
                        })
                        .collect(),
                    attached: r
                        .attached_managed_policies()
                        .iter()
                        .filter_map(|p| p.policy_arn().map(Into::into))
                        .collect(),
                    permissions_boundary: r
                        .permissions_boundary()
                        .and_then(|b| b.permissions_boundary_arn())
                        .map(Into::into),
                }),
            );
        }
    }
    Ok((wanted, roles))
}

/// A message of a dead-letter queue: its string message attributes and `SentTimestamp` (ms).
type DeadLetterMessage = (HashMap<String, String>, Option<u64>);

/// One ReceiveMessage of up to 10 messages that stay visible (see `SharedReads::dead_letter`).
async fn receive_dead_letters(
    c: &Clients,
    queue_url: &str,
) -> Result<Vec<DeadLetterMessage>, AwsError> {
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    let out = c
        .sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .wait_time_seconds(0)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
        .send()
        .await
        .map_err(|e| classify("sqs:ReceiveMessage", e))?;
    Ok(out
        .messages()
        .iter()
        .map(|m| {
            let attributes = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.string_value()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            let sent = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                .and_then(|t| t.parse().ok());
            (attributes, sent)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_used_only_while_younger_than_its_max_age() {
        let taken = Instant::now();
        let max_age = Duration::from_secs(30);
        assert!(fresh(taken, taken, max_age));
        assert!(fresh(taken, taken + Duration::from_secs(29), max_age));
        assert!(!fresh(taken, taken + Duration::from_secs(30), max_age));
        // A clock read before the snapshot (another thread) is not negative age.
        assert!(fresh(taken + Duration::from_secs(1), taken, max_age));
    }

    #[test]
    fn a_snapshot_speaks_only_for_what_was_written_before_it_began() {
        let t = Instant::now();
        assert!(after_last_write(None, t));
        assert!(after_last_write(Some(t), t + Duration::from_millis(1)));
        // Written while the read was in flight: the answer may predate the write.
        assert!(!after_last_write(Some(t), t));
        assert!(!after_last_write(Some(t + Duration::from_millis(1)), t));
    }

    #[tokio::test]
    async fn concurrent_readers_share_one_read_and_a_write_hides_the_key() {
        let snapshot: Snapshot<u32> = Snapshot::default();
        let reads = std::sync::atomic::AtomicU32::new(0);
        let read = || async {
            reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, AwsError>(7)
        };
        let max_age = Duration::from_secs(60);
        let (a, b) = tokio::join!(snapshot.get(max_age, read), snapshot.get(max_age, read));
        let ((taken, a), (_, b)) = (a.unwrap(), b.unwrap());
        assert_eq!((*a, *b), (7, 7));
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(snapshot.trusted("r", taken));
        snapshot.wrote("r");
        assert!(!snapshot.trusted("r", taken), "our own write outdates it");
        assert!(snapshot.trusted("other", taken));
        // An expired snapshot is read again, and then speaks for the key again.
        let (taken, _) = snapshot.get(Duration::ZERO, read).await.unwrap();
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(snapshot.trusted("r", taken));
    }

    /// A read that runs into the operation timeout answers everyone who was waiting for it:
    /// the last of N waiters is one timeout behind a hung endpoint, not N.
    #[tokio::test(start_paused = true)]
    async fn waiters_share_a_failed_read_and_later_askers_read_again() {
        let snapshot: Snapshot<u32> = Snapshot::default();
        let reads = std::sync::atomic::AtomicU32::new(0);
        let timeout = Duration::from_secs(30);
        let hung = || async {
            reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(timeout).await;
            Err::<u32, _>(AwsError::new(
                "iam:ListRoles",
                ErrorKind::Transient,
                "Timeout",
                "iam did not answer",
            ))
        };
        let max_age = Duration::from_secs(60);
        let started = tokio::time::Instant::now();
        let all = futures::future::join_all((0..4).map(|_| snapshot.get(max_age, hung))).await;
        assert!(all.iter().all(|r| r.is_err()));
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(started.elapsed(), timeout, "one timeout, not four in a row");
        // Whoever asks after the failure reads again.
        assert!(snapshot.get(max_age, hung).await.is_err());
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_denied_bulk_read_falls_back_and_is_not_asked_again_within_a_resync() {
        let shared = SharedReads::default();
        let asked = std::sync::atomic::AtomicU32::new(0);
        let denied = || async {
            asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err::<u32, _>(AwsError::new(
                "iam:GetAccountAuthorizationDetails",
                ErrorKind::AccessDenied,
                "AccessDenied",
                "not authorized",
            ))
        };
        let max_age = Duration::from_secs(60);
        let first = shared.unless_denied("GAAD", max_age, denied()).await;
        assert_eq!(
            first.unwrap(),
            Shared::Unknown,
            "denied: read directly instead"
        );
        let again = shared.unless_denied("GAAD", max_age, denied()).await;
        assert_eq!(again.unwrap(), Shared::Unknown);
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Another failure is the pass's error, not a fallback.
        let throttled = shared
            .unless_denied("ListRules", max_age, async {
                Err::<u32, _>(AwsError::new(
                    "events:ListRules",
                    ErrorKind::Transient,
                    "ThrottlingException",
                    "slow down",
                ))
            })
            .await;
        assert!(throttled.is_err());
        // Once the interval has passed, it is asked again.
        let later = shared.unless_denied("GAAD", Duration::ZERO, denied()).await;
        assert_eq!(later.unwrap(), Shared::Unknown);
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn a_fingerprint_gives_back_only_the_document_it_was_taken_of() {
        let ours = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "states:StartExecution", "Resource": "arn:aws:states:us-east-1:123456789012:stateMachine:a"}]});
        // As IAM returns it: URL-encoded, the action in a list, keys reordered.
        let as_iam = "%7B%22Statement%22%3A%5B%7B%22Resource%22%3A%22arn%3Aaws%3Astates%3Aus-east-1%3A123456789012%3AstateMachine%3Aa%22%2C%22Action%22%3A%5B%22states%3AStartExecution%22%5D%2C%22Effect%22%3A%22Allow%22%7D%5D%2C%22Version%22%3A%222012-10-17%22%7D";
        let kept = Document::keep(as_iam, true);
        assert!(matches!(kept, Document::Fingerprint(_)));
        assert_eq!(kept.resolve(Some(&ours)), Some(ours.clone()));
        let widened = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "states:*", "Resource": "*"}]});
        assert_eq!(kept.resolve(Some(&widened)), None, "drift: read it");
        assert_eq!(kept.resolve(None), None, "nothing expected: read it");
        // Someone else's role keeps its text.
        let text = Document::keep(as_iam, false);
        assert_eq!(text.resolve(None), Some(Value::String(as_iam.into())));
    }
}
