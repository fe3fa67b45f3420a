//! The account-wide, read-only view: `diagnose --all` walks every rule of a region (every
//! bus, or one) and diagnoses each target, whoever created it; `collect` writes one rule's
//! bundle for `diagnose --bundle`. Both read through [`CachedReader`], which reads each role,
//! function policy and task definition once per run, so an audit's calls grow with the
//! distinct resources, not with rules × targets. Rate limits apply below, on the clients
//! (`aws::rate_limit`).

use crate::sync::Locked;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::aws::delivery_evidence::EvidenceReader;
use crate::aws::errors::classify;
use crate::aws::kms::{self, KeyPolicy};
use crate::aws::organization::{self, OrgPolicies};
use crate::aws::ttl_cache::TtlCache;
use crate::aws::{observe, policy_holder, schedule, AwsError, Clients};
use crate::diagnose::{
    self, Expectations, Finding, Role, Rule, Schedule, Snapshot, Target, TaskDefinition,
};
use crate::iam::Arn;
use crate::plan::TargetShape;

/// Rules diagnosed at once. Small: the rate limiter paces the calls anyway, this only keeps
/// a few rules' reads in flight.
pub const CONCURRENCY: usize = 4;

type Cache<T> = Mutex<HashMap<String, Arc<OnceCell<T>>>>;

/// Reads shared by all the rules of one run. Each resource is read at most once: concurrent
/// askers wait for the first read. A failed read is not remembered (the next asker retries).
pub struct CachedReader {
    clients: Clients,
    roles: Cache<Option<Role>>,
    lambda_policies: Cache<Option<Value>>,
    task_definitions: Cache<Option<TaskDefinition>>,
    queues: Cache<Option<crate::plan::diff::ObservedQueue>>,
    /// The account's CloudWatch Logs resource policies (log group targets), once per run.
    logs_policies: Cache<Vec<(String, Option<String>)>>,
    /// Reads organisation policies: the clients' own, or a role's in the management or a
    /// delegated administrator account (`--organization-role-arn`).
    organizations: aws_sdk_organizations::Client,
    /// Per account, once per run (a failed read is not remembered, as above).
    organization: TtlCache<OrgPolicies>,
    key_policies: TtlCache<KeyPolicy>,
    /// What AWS recorded of each rule's deliveries (`--delivery-window`); None: not read.
    delivery: Option<EvidenceReader>,
}

/// Longer than any run: each is read once.
const RUN: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

async fn cached<T, F, Fut>(cache: &Cache<T>, key: &str, read: F) -> Result<T, AwsError>
where
    T: Clone,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let cell = cache.locked().entry(key.to_string()).or_default().clone();
    cell.get_or_try_init(read).await.cloned()
}

impl CachedReader {
    pub fn new(clients: Clients) -> CachedReader {
        CachedReader {
            organizations: clients.organizations.clone(),
            clients,
            roles: Default::default(),
            lambda_policies: Default::default(),
            task_definitions: Default::default(),
            queues: Default::default(),
            logs_policies: Default::default(),
            organization: TtlCache::new(RUN),
            key_policies: TtlCache::new(RUN),
            delivery: None,
        }
    }

    /// Each snapshot also carries what AWS recorded of the rule's deliveries over the last
    /// `window` (metrics; for a failing rule, its bus's log and CloudTrail).
    pub fn with_delivery_window(mut self, window: std::time::Duration) -> Self {
        self.delivery = Some(EvidenceReader::new(window));
        self
    }

    /// Organisation policies are read with this client (e.g. a role in the management
    /// account) instead of the clients' own.
    pub fn with_organizations_client(mut self, client: aws_sdk_organizations::Client) -> Self {
        self.organizations = client;
        self
    }

    /// The SCPs and RCPs that apply to `account`, or why they could not be read.
    pub async fn organization(&self, account: &str) -> OrgPolicies {
        self.organization
            .get(account, || async {
                let read = organization::read(&self.organizations, account).await;
                let keep = read.cacheable();
                (read, keep)
            })
            .await
    }

    /// The key policy of a dead-letter queue's key, named as the queue names it.
    pub async fn key_policy(&self, key: &str) -> KeyPolicy {
        self.key_policies
            .get(key, || async {
                let read = kms::key_policy(&self.clients.kms, key).await;
                let keep = read.cacheable();
                (read, keep)
            })
            .await
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// The role at `arn`, when it is in `account` (the credentials' account: IAM cannot read
    /// a role elsewhere, and a same-named local role is a different role). None: not found or
    /// not readable here; the checks report that.
    pub async fn role(&self, arn: &str, account: &str) -> Result<Option<Role>, AwsError> {
        let Ok(parsed) = Arn::parse(arn) else {
            return Ok(None);
        };
        if parsed.account != account {
            return Ok(None);
        }
        cached(&self.roles, arn, || async {
            Ok(observe::role(&self.clients, parsed.resource_name())
                .await?
                .filter(|o| o.arn == arn))
        })
        .await
    }

    /// The resource policy of the function exactly as the target names it (with qualifier).
    pub async fn lambda_policy(&self, function_arn: &str) -> Result<Option<Value>, AwsError> {
        cached(&self.lambda_policies, function_arn, || async {
            let (function, qualifier) = diagnose::remedy::split_function_arn(function_arn);
            observe::lambda_policy(&self.clients, &function, qualifier.as_deref()).await
        })
        .await
    }

    pub async fn task_definition(&self, arn: &str) -> Result<Option<TaskDefinition>, AwsError> {
        cached(&self.task_definitions, arn, || async {
            observe::task_definition(&self.clients, arn).await
        })
        .await
    }

    /// A dead-letter queue, an SQS target's queue or an SNS target's topic, with every
    /// attribute (None: it does not exist, or it is in another account, where these
    /// credentials cannot read it).
    pub async fn queue(
        &self,
        queue_arn: &str,
        account: &str,
    ) -> Result<Option<crate::plan::diff::ObservedQueue>, AwsError> {
        let Ok(parsed) = Arn::parse(queue_arn) else {
            return Ok(None);
        };
        if parsed.account != account {
            return Ok(None);
        }
        cached(&self.queues, queue_arn, || async {
            policy_holder::read(&self.clients, queue_arn, &parsed.resource, &parsed.account).await
        })
        .await
    }

    /// What the diagnosis needs about one rule, from the cache.
    /// An API destination target of the rule's account and its connection's state (None:
    /// not such a target, or no such destination).
    async fn api_destination(
        &self,
        target_arn: &str,
        account: &str,
    ) -> Result<Option<diagnose::ApiDestination>, AwsError> {
        let Some(name) = Arn::parse(target_arn)
            .ok()
            .filter(|a| a.service == "events" && a.account == account)
            .and_then(|a| {
                a.resource
                    .strip_prefix("api-destination/")
                    .and_then(|r| r.split('/').next())
                    .map(str::to_string)
            })
        else {
            return Ok(None);
        };
        use crate::aws::api_destination as api;
        let Some(d) = api::api_destination(&self.clients, &name).await? else {
            return Ok(None);
        };
        let connection_name = d
            .connection_arn
            .rsplit(":connection/")
            .next()
            .and_then(|n| n.split('/').next())
            .unwrap_or_default();
        let connection = api::connection(&self.clients, connection_name)
            .await?
            .filter(|c| c.arn == d.connection_arn);
        Ok(Some(diagnose::ApiDestination {
            arn: d.arn,
            connection_arn: d.connection_arn,
            connection_state: connection.as_ref().map(|c| c.state.clone()),
            connection_state_reason: connection.and_then(|c| c.state_reason),
        }))
    }

    pub async fn snapshot(
        &self,
        rule: &Rule,
        targets: &[TargetShape],
    ) -> Result<Snapshot, AwsError> {
        let account = Arn::parse(&rule.arn).map(|a| a.account).unwrap_or_default();
        let mut snap = Snapshot {
            rule: Some(rule.clone()),
            ..Default::default()
        };
        for t in targets {
            if let Some(role_arn) = &t.role_arn {
                if let Some(role) = self.role(role_arn, &account).await? {
                    snap.roles.insert(role.arn.clone(), role);
                }
            }
            if let Some(ecs) = t.parameters.ecs() {
                if let Some(td) = self.task_definition(&ecs.task_definition_arn).await? {
                    snap.task_definitions
                        .insert(ecs.task_definition_arn.clone(), td);
                }
            }
            if is_lambda(&t.arn) {
                if let Some(p) = self.lambda_policy(&t.arn).await? {
                    snap.lambda_policies.insert(t.arn.clone(), p);
                }
            }
            // The dead-letter queue and an SQS target's queue or SNS target's topic: each
            // policy must let EventBridge send (the diagnosis finds a topic among the queues).
            // One of another account (direct delivery) is not readable with this account's
            // credentials: not gathered, so only the execution role is judged.
            let holder_target = Arn::parse(&t.arn)
                .is_ok_and(|a| (a.service == "sqs" || a.service == "sns") && a.account == account)
                .then_some(&t.arn);
            for dlq in t.dead_letter_arn.iter().chain(holder_target) {
                self.gather_holder(dlq, &account, &mut snap).await?;
            }
            // A log group target: the account's logs resource policies grant together, each
            // held among the queues under `…:resource-policy:NAME`.
            if let Some(group) = Arn::parse(&t.arn)
                .ok()
                .filter(|a| a.service == "logs" && a.account == account)
            {
                let holders = snap.dead_letter_queues.get_or_insert_with(Default::default);
                let policies = cached(&self.logs_policies, &account, || {
                    policy_holder::logs_policies(&self.clients)
                })
                .await?;
                let name_of = |name: &str| {
                    format!(
                        "arn:{}:logs:{}:{}:resource-policy:{name}",
                        group.partition, group.region, group.account
                    )
                };
                if policies.is_empty() {
                    // Gathered, and none: the check says so.
                    let key = name_of(crate::plan::LOGS_POLICY_NAME);
                    holders.insert(
                        key.clone(),
                        diagnose::Queue {
                            arn: key,
                            ..Default::default()
                        },
                    );
                }
                for (name, document) in policies {
                    let key = name_of(&name);
                    holders.insert(
                        key.clone(),
                        diagnose::Queue {
                            arn: key,
                            policy: document.map(Value::String),
                            kms_key: None,
                        },
                    );
                }
            }
            if let Some(d) = self.api_destination(&t.arn, &account).await? {
                snap.api_destinations.insert(t.arn.clone(), d);
            }
            snap.targets.push(Target {
                id: t.id.clone(),
                arn: t.arn.clone(),
                role_arn: t.role_arn.clone(),
                task_definition_arn: t.parameters.ecs().map(|e| e.task_definition_arn.clone()),
                dead_letter_arn: t.dead_letter_arn.clone(),
            });
        }
        if !account.is_empty() {
            self.organization(&account).await.fill(&mut snap);
        }
        if let Some(delivery) = &self.delivery {
            let roles: Vec<&str> = targets
                .iter()
                .filter_map(|t| t.role_arn.as_deref())
                .collect();
            snap.delivery = Some(delivery.read(&self.clients, rule, &roles).await);
        }
        Ok(snap)
    }
}

impl CachedReader {
    /// Everything the diagnosis needs about one schedule: its role, its ECS task definition
    /// and the account's organisation policies (Scheduler reads no function or queue policy:
    /// it invokes every target with the role).
    /// A queue or topic into the snapshot's holders, with its key's policy when a customer
    /// managed key encrypts it; an empty holder list when it does not exist (gathered, so the
    /// checks that need it apply).
    async fn gather_holder(
        &self,
        arn: &str,
        account: &str,
        snap: &mut Snapshot,
    ) -> Result<(), AwsError> {
        snap.dead_letter_queues.get_or_insert_with(Default::default);
        if let Some(q) = self.queue(arn, account).await? {
            let key = q.attributes.get("KmsMasterKeyId").cloned();
            if let Some(key) = key.as_deref().filter(|k| kms::needs_key_policy(k)) {
                self.key_policy(key).await.fill(key, snap);
            }
            let queue = diagnose::Queue {
                arn: arn.to_string(),
                policy: q.policy(),
                kms_key: key,
            };
            let queues = snap.dead_letter_queues.get_or_insert_with(Default::default);
            queues.insert(arn.to_string(), queue);
        }
        Ok(())
    }

    pub async fn schedule_snapshot(&self, schedule: Schedule) -> Result<Snapshot, AwsError> {
        let account = Arn::parse(&schedule.arn)
            .map(|a| a.account)
            .unwrap_or_default();
        let mut snap = Snapshot::default();
        // What Scheduler sends to with the role, for their keys.
        // One these credentials may not read is left out: the note says its key was not read.
        for holder in diagnose::schedule_sends_to(&schedule) {
            match self.gather_holder(&holder, &account, &mut snap).await {
                Err(e) if e.kind == crate::aws::ErrorKind::AccessDenied => {}
                other => other?,
            }
        }
        if !schedule.role_arn.is_empty() {
            if let Some(role) = self.role(&schedule.role_arn, &account).await? {
                snap.roles.insert(role.arn.clone(), role);
            }
        }
        if let Some(ecs) = schedule.parameters.ecs() {
            if let Some(td) = self.task_definition(&ecs.task_definition_arn).await? {
                snap.task_definitions
                    .insert(ecs.task_definition_arn.clone(), td);
            }
        }
        if !account.is_empty() {
            self.organization(&account).await.fill(&mut snap);
        }
        snap.schedule = Some(schedule);
        snap.now =
            Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string());
        Ok(snap)
    }
}

/// Everything the diagnosis needs about the schedule `name` of `group` (`diagnose
/// --schedule`); an empty snapshot when it does not exist, which the checks report.
pub async fn snapshot_of_schedule(
    reader: &CachedReader,
    group: &str,
    name: &str,
) -> Result<Snapshot, AwsError> {
    match schedule::schedule(reader.clients(), group, name).await? {
        Some(s) => reader.schedule_snapshot(s).await,
        None => Ok(Snapshot::default()),
    }
}

fn is_lambda(arn: &str) -> bool {
    arn.starts_with("arn:") && arn.split(':').nth(2) == Some("lambda")
}

/// Every rule of a bus, as the diagnosis sees a rule.
pub async fn rules(c: &Clients, bus: &str) -> Result<Vec<Rule>, AwsError> {
    Ok(observe::list_rules(c, bus)
        .await?
        .iter()
        .filter_map(|r| {
            Some(Rule {
                name: r.name()?.to_string(),
                arn: r.arn()?.to_string(),
                event_bus_name: r.event_bus_name().unwrap_or(bus).to_string(),
                enabled: r.state().is_none_or(|s| s.as_str().starts_with("ENABLED")),
                ..Rule::default()
            })
        })
        .collect())
}

/// Every target of a rule (paginated). A rule deleted meanwhile has none.
/// Everything the diagnosis needs about one rule (`diagnose --rule`); an empty snapshot
/// when the rule does not exist, which the checks report.
pub async fn snapshot_of_rule(
    reader: &CachedReader,
    name: &str,
    bus: &str,
) -> Result<Snapshot, AwsError> {
    let Some(r) = observe::rule(reader.clients(), name, bus).await? else {
        return Ok(Snapshot::default());
    };
    let targets = observe::targets(reader.clients(), name, bus).await?;
    reader.snapshot(&r, &targets).await
}

/// What invokes the audited targets: a rule, or an EventBridge Scheduler schedule.
#[derive(Serialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Invoker {
    #[default]
    Rule,
    Schedule,
}

/// What `diagnose --all` walks: every event bus and every schedule group, or only the bus
/// or group named (naming one of them leaves the other kind out).
#[derive(Clone, Debug, Default)]
pub struct AuditScope {
    pub event_bus: Option<String>,
    pub schedule_group: Option<String>,
}

impl AuditScope {
    fn rules(&self) -> bool {
        self.event_bus.is_some() || self.schedule_group.is_none()
    }
    fn schedules(&self) -> bool {
        self.schedule_group.is_some() || self.event_bus.is_none()
    }
}

/// One rule's (or schedule's) result: its targets and findings, or the read that failed.
#[derive(Debug)]
pub struct RuleAudit {
    pub invoker: Invoker,
    /// A rule; for a schedule, its name, ARN, state, and its group in `event_bus_name`.
    pub rule: Rule,
    pub targets: Vec<TargetShape>,
    pub outcome: Result<Vec<Finding>, AwsError>,
    /// What the diagnosis could not evaluate, and why (`diagnose::not_evaluated`).
    pub not_evaluated: Vec<String>,
}

/// Diagnoses every rule of `bus` (every bus when None). Listing buses and rules must
/// succeed (Err otherwise); a rule whose resources cannot be read is reported as such and
/// the walk goes on. Sorted by bus, then rule name.
pub async fn audit(reader: &CachedReader, scope: &AuditScope) -> Result<Audit, AwsError> {
    let c = reader.clients();
    let buses = match (&scope.event_bus, scope.rules()) {
        (_, false) => vec![],
        (Some(b), true) => vec![b.clone()],
        (None, true) => observe::event_buses(c).await?,
    };
    let mut all_rules = Vec::new();
    for b in &buses {
        all_rules.extend(rules(c, b).await?);
    }
    if let Some(delivery) = &reader.delivery {
        delivery.prefetch(c, &all_rules).await;
    }
    let mut audits: Vec<RuleAudit> = futures::stream::iter(all_rules)
        .map(|rule| async move {
            let read = async {
                let targets = observe::targets(c, &rule.name, &rule.event_bus_name).await?;
                let snap = reader.snapshot(&rule, &targets).await?;
                Ok::<_, AwsError>((targets, snap))
            };
            match read.await {
                Ok((targets, snap)) => {
                    let expect = Expectations {
                        rule_name: Some(rule.name.clone()),
                        event_bus_name: Some(rule.event_bus_name.clone()),
                        ..Default::default()
                    };
                    let diagnosis = diagnose::examine(&snap, &expect);
                    RuleAudit {
                        invoker: Invoker::Rule,
                        rule,
                        targets,
                        outcome: Ok(diagnosis.findings),
                        not_evaluated: diagnosis.not_evaluated,
                    }
                }
                Err(e) => RuleAudit {
                    invoker: Invoker::Rule,
                    rule,
                    targets: Vec::new(),
                    outcome: Err(e),
                    not_evaluated: Vec::new(),
                },
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut not_walked = Vec::new();
    if scope.schedules() {
        let names = match schedule::list_schedules(c, scope.schedule_group.as_deref()).await {
            Ok(names) => names,
            // Schedules were not asked for by name: credentials made for rules alone still
            // audit the rules, and say what they could not walk.
            Err(e)
                if scope.schedule_group.is_none()
                    && e.kind == crate::aws::ErrorKind::AccessDenied =>
            {
                not_walked.push(format!("schedules: not walked, {e}; grant scheduler:ListSchedules and scheduler:GetSchedule, or pass --event-bus to audit rules only"));
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let schedules: Vec<RuleAudit> = futures::stream::iter(names)
            .map(|(group, name)| audit_schedule(reader, group, name))
            .buffer_unordered(CONCURRENCY)
            .filter_map(|a| async move { a })
            .collect()
            .await;
        // Listed but not readable (GetSchedule denied), in a walk that did not ask for them
        // by group: one note, as for a list denied, not an incomplete rules audit.
        let (denied, schedules): (Vec<RuleAudit>, Vec<RuleAudit>) =
            schedules.into_iter().partition(|a| {
                scope.schedule_group.is_none()
                    && matches!(&a.outcome, Err(e) if e.kind == crate::aws::ErrorKind::AccessDenied)
            });
        if let Some(Err(e)) = denied.first().map(|a| &a.outcome) {
            not_walked.push(format!("schedules: {} not read, {e}; grant scheduler:GetSchedule, or pass --event-bus to audit rules only", denied.len()));
        }
        audits.extend(schedules);
    }
    audits.sort_by(|a, b| {
        (
            a.invoker == Invoker::Schedule,
            &a.rule.event_bus_name,
            &a.rule.name,
        )
            .cmp(&(
                b.invoker == Invoker::Schedule,
                &b.rule.event_bus_name,
                &b.rule.name,
            ))
    });
    Ok(Audit { audits, not_walked })
}

/// A walk's results, and what it could not walk at all (and why).
#[derive(Debug)]
pub struct Audit {
    pub audits: Vec<RuleAudit>,
    pub not_walked: Vec<String>,
}

/// One schedule's audit; None when it was deleted since it was listed.
async fn audit_schedule(reader: &CachedReader, group: String, name: String) -> Option<RuleAudit> {
    let unread = |e: AwsError| RuleAudit {
        invoker: Invoker::Schedule,
        rule: Rule {
            name: name.clone(),
            // Its ARN is not known unread: the name stands in.
            arn: format!("{group}/{name}"),
            event_bus_name: group.clone(),
            enabled: true,
            ..Rule::default()
        },
        targets: Vec::new(),
        outcome: Err(e),
        not_evaluated: Vec::new(),
    };
    let found = match schedule::schedule(reader.clients(), &group, &name).await {
        Ok(found) => found?,
        Err(e) => return Some(unread(e)),
    };
    let rule = Rule {
        name: name.clone(),
        arn: found.arn.clone(),
        event_bus_name: group.clone(),
        enabled: found.enabled,
        ..Rule::default()
    };
    let target = TargetShape {
        arn: found.target_arn.clone(),
        role_arn: Some(found.role_arn.clone()).filter(|r| !r.is_empty()),
        dead_letter_arn: found.dead_letter_arn.clone(),
        parameters: found.parameters.clone(),
        ..TargetShape::default()
    };
    let snap = match reader.schedule_snapshot(found).await {
        Ok(snap) => snap,
        Err(e) => return Some(unread(e)),
    };
    let expect = Expectations {
        schedule_name: Some(format!("{group}/{name}")),
        ..Default::default()
    };
    let diagnosis = diagnose::examine(&snap, &expect);
    Some(RuleAudit {
        invoker: Invoker::Schedule,
        rule,
        targets: vec![target],
        outcome: Ok(diagnosis.findings),
        not_evaluated: diagnosis.not_evaluated,
    })
}

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warning,
    Error,
    /// Its configuration could not be read: no verdict.
    Unreadable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Error => "error",
            Verdict::Unreadable => "unreadable",
        }
    }
}

/// One line of the audit: a rule's target, or the rule itself for findings about the rule
/// (disabled, malformed ARN), a rule with no targets, or a rule that could not be read.
#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    /// `rule` or `schedule`.
    pub invoker: Invoker,
    /// The rule's event bus, or the schedule's group.
    pub event_bus: String,
    pub rule: String,
    pub rule_arn: String,
    pub target_id: Option<String>,
    pub target_arn: Option<String>,
    pub verdict: Verdict,
    /// The most important finding's code (errors before warnings), or the failed read.
    pub first_code: Option<String>,
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
    /// What the diagnosis of this rule could not evaluate, and why (e.g. organisation
    /// policies the credentials may not read).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_evaluated: Vec<String>,
}

fn verdict(findings: &[Finding]) -> Verdict {
    if findings.iter().any(Finding::is_error) {
        Verdict::Error
    } else if findings.is_empty() {
        Verdict::Ok
    } else {
        Verdict::Warning
    }
}

pub fn rows(audits: &[RuleAudit]) -> Vec<AuditRow> {
    let mut rows = Vec::new();
    for a in audits {
        let row = |target: Option<&TargetShape>, findings: Vec<Finding>| AuditRow {
            invoker: a.invoker,
            event_bus: a.rule.event_bus_name.clone(),
            rule: a.rule.name.clone(),
            rule_arn: a.rule.arn.clone(),
            target_id: target.map(|t| t.id.clone()),
            target_arn: target.map(|t| t.arn.clone()),
            verdict: verdict(&findings),
            // The diagnosis sorts errors first.
            first_code: findings.first().map(|f| f.code.to_string()),
            findings,
            read_error: None,
            not_evaluated: a.not_evaluated.clone(),
        };
        let findings = match &a.outcome {
            Ok(f) => f,
            Err(e) => {
                rows.push(AuditRow {
                    verdict: Verdict::Unreadable,
                    first_code: Some(format!("{} {}", e.operation, e.code)),
                    read_error: Some(e.to_string()),
                    ..row(None, Vec::new())
                });
                continue;
            }
        };
        if a.invoker == Invoker::Schedule {
            // One target, without an ID, and every finding is the schedule's.
            rows.push(AuditRow {
                target_id: None,
                ..row(a.targets.first(), findings.clone())
            });
            continue;
        }
        let about_rule: Vec<Finding> = findings
            .iter()
            .filter(|f| f.target_id.is_none())
            .cloned()
            .collect();
        if !about_rule.is_empty() || a.targets.is_empty() {
            rows.push(row(None, about_rule));
        }
        for t in &a.targets {
            let mine = findings
                .iter()
                .filter(|f| f.target_id.as_deref() == Some(t.id.as_str()))
                .cloned()
                .collect();
            rows.push(row(Some(t), mine));
        }
    }
    rows
}

/// The resource part of an ARN (`function:orders`, `cluster/main`), for narrow columns.
fn short_arn(arn: &str) -> &str {
    arn.splitn(6, ':').nth(5).unwrap_or(arn)
}

/// RULE, TARGET, VERDICT, FIRST CODE, aligned, then a one-line summary.
pub fn table(rows: &[AuditRow]) -> String {
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                match r.invoker {
                    Invoker::Rule => format!("{}/{}", r.event_bus, r.rule),
                    Invoker::Schedule => format!("schedule {}/{}", r.event_bus, r.rule),
                },
                match (&r.target_id, &r.target_arn) {
                    (Some(id), Some(arn)) => format!("{id} ({})", short_arn(arn)),
                    (None, Some(arn)) => short_arn(arn).to_string(),
                    _ => "-".into(),
                },
                r.verdict.as_str().to_string(),
                r.first_code.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = ["RULE", "TARGET", "VERDICT", "FIRST CODE"].map(str::to_string);
    let mut widths = header.clone().map(|h| h.len());
    for c in &cells {
        for (w, v) in widths.iter_mut().zip(c) {
            *w = (*w).max(v.chars().count());
        }
    }
    let mut out = String::new();
    for line in std::iter::once(&header).chain(cells.iter()) {
        let text = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            line[0],
            line[1],
            line[2],
            line[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(text.trim_end());
        out.push('\n');
    }
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
    let of = |invoker: Invoker| {
        rows.iter()
            .filter(|r| r.invoker == invoker)
            .map(|r| &r.rule_arn)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let schedules = match of(Invoker::Schedule) {
        0 => String::new(),
        n => format!(", {n} schedule(s)"),
    };
    out.push_str(&format!(
        "{} rule(s){schedules}, {} line(s): {} error, {} warning, {} ok, {} unreadable\n",
        of(Invoker::Rule),
        rows.len(),
        count(Verdict::Error),
        count(Verdict::Warning),
        count(Verdict::Ok),
        count(Verdict::Unreadable),
    ));
    out
}

/// `collect`: the bundle `diagnose --bundle` reads, for one rule, in the AWS CLI's shapes
/// (see `diagnose::bundle`). None when the rule does not exist.
pub async fn collect(
    reader: &CachedReader,
    rule_name: &str,
    bus: &str,
) -> Result<Option<Value>, AwsError> {
    let c = reader.clients();
    let described = c
        .events
        .describe_rule()
        .name(rule_name)
        .event_bus_name(bus)
        .send()
        .await
        .map_err(|e| classify("events:DescribeRule", e));
    let described = match described {
        Err(e) if e.is_not_found() => return Ok(None),
        other => other?,
    };
    let rule = Rule {
        name: described.name().unwrap_or(rule_name).to_string(),
        arn: described.arn().unwrap_or_default().to_string(),
        event_bus_name: described.event_bus_name().unwrap_or(bus).to_string(),
        enabled: described
            .state()
            .is_none_or(|s| s.as_str().starts_with("ENABLED")),
        ..Rule::default()
    };
    let mut rule_json = json!({
        "Name": rule.name,
        "Arn": rule.arn,
        "EventBusName": rule.event_bus_name,
    });
    let fields = [
        ("State", described.state().map(|s| s.as_str())),
        ("Description", described.description()),
        ("EventPattern", described.event_pattern()),
        ("ScheduleExpression", described.schedule_expression()),
        ("RoleArn", described.role_arn()),
        ("ManagedBy", described.managed_by()),
        ("CreatedBy", described.created_by()),
    ];
    for (key, value) in fields {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            rule_json[key] = Value::String(v.to_string());
        }
    }
    let targets = observe::targets(c, &rule.name, &rule.event_bus_name).await?;
    let snap = reader.snapshot(&rule, &targets).await?;
    let mut bundle = bundle_json(rule_json, &targets, &snap);
    // The organisation's policies as read for the snapshot (cached: no second read); left
    // out when they could not be read, so the offline diagnosis says "not gathered".
    if let Ok(arn) = Arn::parse(&rule.arn) {
        if let Some(org) = reader.organization(&arn.account).await.bundle() {
            bundle["organization"] = org;
        }
    }
    Ok(Some(bundle))
}

/// `collect --schedule`: the bundle `diagnose --bundle` reads, for one schedule (its
/// `schedule`, role, task definition and organisation policies). None when it does not
/// exist.
pub async fn collect_schedule(
    reader: &CachedReader,
    group: &str,
    name: &str,
) -> Result<Option<Value>, AwsError> {
    let Some(found) = schedule::schedule(reader.clients(), group, name).await? else {
        return Ok(None);
    };
    let schedule = schedule_json(&found, group, name);
    let account = Arn::parse(&found.arn).map(|a| a.account).ok();
    let snap = reader.schedule_snapshot(found).await?;
    let mut bundle = evidence_json(&snap);
    bundle["schedule"] = schedule;
    // What the end date and a one-time expression are judged against offline.
    bundle["collectedAt"] = json!(snap.now);
    if let Some(account) = account {
        if let Some(org) = reader.organization(&account).await.bundle() {
            bundle["organization"] = org;
        }
    }
    Ok(Some(bundle))
}

/// A schedule as `aws scheduler get-schedule` prints it (what was read of it).
fn schedule_json(s: &Schedule, group: &str, name: &str) -> Value {
    let mut target = json!({
        "Arn": s.target_arn,
        "RoleArn": s.role_arn,
        "RetryPolicy": {"MaximumRetryAttempts": s.retry.0, "MaximumEventAgeInSeconds": s.retry.1},
    });
    if let Some(dlq) = &s.dead_letter_arn {
        target["DeadLetterConfig"] = json!({"Arn": dlq});
    }
    if let Some(input) = &s.input {
        target["Input"] = json!(match input {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        });
    }
    if let Some((key, block)) = crate::aws::target_parameters::cli_json(&s.parameters) {
        target[key] = block;
    }
    let mut out = json!({
        "Arn": s.arn,
        "Name": name,
        "GroupName": group,
        "State": if s.enabled { "ENABLED" } else { "DISABLED" },
        "ScheduleExpression": s.expression,
        "ScheduleExpressionTimezone": s.timezone,
        "FlexibleTimeWindow": match s.flexible_window {
            Some(minutes) => json!({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": minutes}),
            None => json!({"Mode": "OFF"}),
        },
        "Target": target,
    });
    for (key, value) in [("StartDate", &s.start_date), ("EndDate", &s.end_date)] {
        if let Some(v) = value {
            out[key] = json!(v);
        }
    }
    if !s.description.is_empty() {
        out["Description"] = json!(s.description);
    }
    out
}

/// A rule's bundle from what was read; documents decoded into JSON as the AWS CLI prints
/// them.
fn bundle_json(rule: Value, targets: &[TargetShape], snap: &Snapshot) -> Value {
    let mut bundle = evidence_json(snap);
    bundle["rule"] = rule;
    bundle["targets"] = json!({"Targets": targets.iter().map(target_json).collect::<Vec<_>>()});
    bundle
}

/// What a bundle holds besides the rule or schedule: roles, policies, task definitions,
/// queues, API destinations, key policies and delivery evidence.
fn evidence_json(snap: &Snapshot) -> Value {
    let roles: Vec<Value> = snap.roles.values().map(role_json).collect();
    // `aws lambda get-policy` prints the policy as JSON text.
    let lambda_policies: BTreeMap<&String, Value> = snap
        .lambda_policies
        .iter()
        .map(|(arn, p)| (arn, json!({"Policy": policy_text(p)})))
        .collect();
    let task_definitions: BTreeMap<&String, Value> = snap
        .task_definitions
        .iter()
        .map(|(arn, td)| (arn, task_definition_json(td)))
        .collect();
    let mut bundle = json!({
        "roles": roles,
        "lambdaPolicies": lambda_policies,
        "taskDefinitions": task_definitions,
    });
    if let Some(delivery) = &snap.delivery {
        bundle["delivery"] = delivery_json(delivery);
    }
    // A gathered map without a queue says the queue does not exist.
    if let Some(queues) = &snap.dead_letter_queues {
        let queues = queues
            .iter()
            .map(|(arn, q)| (arn.clone(), queue_json(q)))
            .collect();
        bundle["deadLetterQueues"] = Value::Object(queues);
    }
    if !snap.api_destinations.is_empty() {
        let destinations = snap
            .api_destinations
            .iter()
            .map(|(arn, d)| (arn.clone(), api_destination_json(d)))
            .collect();
        bundle["apiDestinations"] = Value::Object(destinations);
    }
    // As `aws kms get-key-policy` prints them, keyed as the queue names the key.
    if !snap.key_policies.is_empty() {
        let keys = snap
            .key_policies
            .iter()
            .map(|(key, policy)| {
                let mut out = json!({"Policy": policy_text(policy), "PolicyName": "default"});
                if let Some(arn) = snap.key_arns.get(key) {
                    out["KeyArn"] = json!(arn);
                }
                (key.clone(), out)
            })
            .collect();
        bundle["keyPolicies"] = Value::Object(keys);
    }
    bundle
}

/// A policy as the AWS CLI prints it: JSON text, whichever form it was read in.
fn policy_text(policy: &Value) -> String {
    match policy {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A role as `aws iam get-role`, `get-role-policy` and the attached policies' documents
/// print it, with its permissions boundary.
fn role_json(r: &diagnose::Role) -> Value {
    let mut entry = json!({
        "Role": {
            "RoleName": r.name,
            "Arn": r.arn,
            "AssumeRolePolicyDocument": document_json(&r.trust_policy),
        },
        "RolePolicies": r.inline_policies.iter().map(|(name, doc)| json!({
            "RoleName": r.name,
            "PolicyName": name,
            "PolicyDocument": document_json(doc),
        })).collect::<Vec<_>>(),
        "AttachedPolicies": r.attached_policies.iter().map(|(arn, doc)| json!({
            "PolicyArn": arn,
            "Document": document_json(doc),
        })).collect::<Vec<_>>(),
    });
    if let Some((arn, doc)) = &r.permissions_boundary {
        entry["PermissionsBoundary"] = json!({"PolicyArn": arn, "Document": document_json(doc)});
        entry["Role"]["PermissionsBoundary"] = json!({
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": arn,
        });
    }
    entry
}

/// As `aws ecs describe-task-definition` prints the roles of one.
fn task_definition_json(td: &diagnose::TaskDefinition) -> Value {
    let mut inner = json!({"taskDefinitionArn": td.arn});
    if let Some(r) = &td.execution_role_arn {
        inner["executionRoleArn"] = json!(r);
    }
    if let Some(r) = &td.task_role_arn {
        inner["taskRoleArn"] = json!(r);
    }
    json!({"taskDefinition": inner})
}

/// As `aws sqs get-queue-attributes` prints a queue, or `aws sns get-topic-attributes` a
/// topic (a target topic sits among the queues).
fn queue_json(q: &diagnose::Queue) -> Value {
    let arn_key = if Arn::parse(&q.arn).is_ok_and(|a| a.service == "sns") {
        "TopicArn"
    } else {
        "QueueArn"
    };
    let mut attributes = json!({ arn_key: q.arn });
    if let Some(policy) = &q.policy {
        attributes["Policy"] = Value::String(policy_text(policy));
    }
    if let Some(key) = &q.kms_key {
        attributes["KmsMasterKeyId"] = json!(key);
    }
    json!({"Attributes": attributes})
}

/// As `aws events describe-api-destination` prints one, with its connection as `aws events
/// describe-connection` does (null: it does not exist).
fn api_destination_json(d: &diagnose::ApiDestination) -> Value {
    let connection = d.connection_state.as_ref().map(|state| {
        let mut c = json!({"ConnectionArn": d.connection_arn, "ConnectionState": state});
        if let Some(reason) = &d.connection_state_reason {
            c["StateReason"] = json!(reason);
        }
        c
    });
    json!({"ApiDestinationArn": d.arn, "ConnectionArn": d.connection_arn, "Connection": connection})
}

/// The bundle's `delivery`, as `diagnose::bundle` reads it.
fn delivery_json(d: &diagnose::delivery::DeliveryEvidence) -> Value {
    let mut out = json!({
        "windowSeconds": d.window.as_secs(),
        "busLogRecords": d.bus_log_records,
        "cloudTrailEvents": d.trail_records,
    });
    if let Some(c) = &d.counts {
        out["metrics"] = json!({
            "Invocations": c.invocations,
            "FailedInvocations": c.failed_invocations,
            "InvocationsFailedToBeSentToDlq": c.failed_to_dead_letter,
            "DeadLetterInvocations": c.dead_letter_invocations,
            "ThrottledRules": c.throttled,
        });
    }
    if !d.unreadable.is_empty() {
        out["unreadable"] = json!(d.unreadable);
    }
    out
}

pub fn target_json(t: &TargetShape) -> Value {
    let mut v = json!({"Id": t.id, "Arn": t.arn});
    if let Some(r) = &t.role_arn {
        v["RoleArn"] = json!(r);
    }
    if let Some(input) = &t.input {
        // The CLI prints Input as the JSON text EventBridge stores.
        v["Input"] = json!(match input {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    }
    if let Some(p) = &t.input_path {
        v["InputPath"] = json!(p);
    }
    if let Some((paths, template)) = &t.input_transformer {
        v["InputTransformer"] = json!({"InputPathsMap": paths, "InputTemplate": template});
    }
    if let Some((block, json)) = crate::aws::target_parameters::cli_json(&t.parameters) {
        v[block] = json;
    }
    if let Some((attempts, age)) = t.retry {
        let mut retry = json!({});
        if let Some(a) = attempts {
            retry["MaximumRetryAttempts"] = json!(a);
        }
        if let Some(a) = age {
            retry["MaximumEventAgeInSeconds"] = json!(a);
        }
        v["RetryPolicy"] = retry;
    }
    if let Some(d) = &t.dead_letter_arn {
        v["DeadLetterConfig"] = json!({"Arn": d});
    }
    v
}

/// A policy document as the CLI prints it: IAM returns documents URL-encoded; the CLI
/// decodes them into JSON. Left as it is when it is not a document.
fn document_json(v: &Value) -> Value {
    let Value::String(text) = v else {
        return v.clone();
    };
    if let Ok(parsed) = serde_json::from_str::<Value>(text) {
        return parsed;
    }
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or_else(|_| v.clone())
}

/// AWS call attempts of this process by `service:Operation`, from the counters every client
/// reports to (`telemetry::Metrics`), for the summary the commands print on stderr.
pub fn call_counts(metrics: &crate::telemetry::Metrics) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with("ebi_aws_calls_total{"))
    {
        let (Some(open), Some(close)) = (line.find('{'), line.rfind('}')) else {
            continue;
        };
        let labels = &line[open + 1..close];
        let label = |k: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        let value: u64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        *out.entry(format!("{}:{}", label("service"), label("operation")))
            .or_insert(0) += value;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Code;

    fn rule(name: &str) -> Rule {
        Rule {
            name: name.into(),
            arn: format!("arn:aws:events:us-east-1:123456789012:rule/{name}"),
            event_bus_name: "default".into(),
            enabled: true,
            ..Rule::default()
        }
    }

    fn target(id: &str, arn: &str) -> TargetShape {
        TargetShape {
            id: id.into(),
            arn: arn.into(),
            ..Default::default()
        }
    }

    fn finding(code: Code, target: Option<&str>) -> Finding {
        Finding::new(code, target, None, String::new(), String::new())
    }

    #[test]
    fn rows_split_findings_by_target_and_rank_errors_first() {
        let audits = vec![
            RuleAudit {
                invoker: Invoker::Rule,
                rule: rule("a"),
                targets: vec![
                    target("ok", "arn:aws:lambda:us-east-1:123456789012:function:f"),
                    target("bad", "arn:aws:lambda:us-east-1:123456789012:function:g"),
                ],
                outcome: Ok(vec![
                    finding(Code::RuleDisabled, None),
                    finding(Code::LambdaPermissionMissing, Some("bad")),
                ]),
                not_evaluated: vec![],
            },
            RuleAudit {
                invoker: Invoker::Rule,
                rule: rule("b"),
                targets: vec![],
                outcome: Err(AwsError::new(
                    "iam:GetRole",
                    crate::aws::ErrorKind::AccessDenied,
                    "AccessDenied",
                    "no",
                )),
                not_evaluated: vec![],
            },
        ];
        let rows = rows(&audits);
        let summary: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.rule.as_str(),
                    r.target_id.as_deref(),
                    r.verdict,
                    r.first_code.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("a", None, Verdict::Error, Some("RuleDisabled")),
                ("a", Some("ok"), Verdict::Ok, None),
                (
                    "a",
                    Some("bad"),
                    Verdict::Error,
                    Some("LambdaPermissionMissing")
                ),
                (
                    "b",
                    None,
                    Verdict::Unreadable,
                    Some("iam:GetRole AccessDenied")
                ),
            ]
        );
        let text = table(&rows);
        assert!(text.starts_with("RULE"), "{text}");
        assert!(
            text.contains("default/a  bad (function:g)"),
            "bus/rule and a short ARN: {text}"
        );
        assert!(text.ends_with("2 rule(s), 4 line(s): 2 error, 0 warning, 1 ok, 1 unreadable\n"));
    }

    #[test]
    fn collected_documents_are_decoded_like_the_cli() {
        let encoded = Value::String("%7B%22Version%22%3A%222012-10-17%22%7D".into());
        assert_eq!(document_json(&encoded), json!({"Version": "2012-10-17"}));
        assert_eq!(
            document_json(&Value::String("{\"a\":1}".into())),
            json!({"a": 1})
        );
        let t = TargetShape {
            input: Some(json!({"k": "v"})),
            dead_letter_arn: Some("arn:aws:sqs:us-east-1:123456789012:dlq".into()),
            ..target("t", "arn:aws:lambda:us-east-1:123456789012:function:f")
        };
        let v = target_json(&t);
        assert_eq!(v["Input"], json!("{\"k\":\"v\"}"));
        assert_eq!(
            v["DeadLetterConfig"]["Arn"],
            json!("arn:aws:sqs:us-east-1:123456789012:dlq")
        );
    }
}
