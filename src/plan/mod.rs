//! Planning, pure: an `EventBridgeIntegration` spec plus a few observed facts (account,
//! region, the task's roles) → the desired AWS state. Never a `*` resource.

mod cross_account;
pub mod described;
pub mod diff;
pub mod drift;
pub mod names;
pub mod record;
pub mod schedule;
pub mod target_list;
mod targets;
pub use targets::api_destination;
pub use targets::logs::{holder_arn as logs_policy_arn, POLICY_NAME as LOGS_POLICY_NAME};
pub mod validate;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::api::{CrossAccountMode, EventBridgeIntegrationSpec, TargetKind};
use crate::iam::documents::events_trust_policy;
use crate::iam::{AccountArn, AccountId, Arn, FunctionArn, Partition, Region, RoleArn, RuleArn};
pub use targets::{
    cross_account_mode, kind_of_arn, spec_fields, KindFacts, TargetParameters, ValidTarget, KINDS,
};
pub use validate::{validate, SpecError, ValidSpec};

/// `namespace/name` of the owning object: for people reading tags in the console.
pub const OWNER_TAG: &str = "eventbridge.dev/owner";
/// The owning object's UID: with the cluster tag, the proof of ownership.
pub const OWNER_UID_TAG: &str = "eventbridge.dev/owner-uid";
/// The identity of the cluster whose controller created the resource (`--cluster-id`), so
/// two clusters with objects of the same namespace and name never claim each other's.
pub const CLUSTER_TAG: &str = "eventbridge.dev/cluster";
pub const MANAGED_BY_TAG: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "eventbridge-integration-controller";
/// When the controller created a rule (Unix seconds; EventBridge keeps no date of its own):
/// the orphan report treats what is younger than its grace period as not yet orphaned.
pub const CREATED_TAG: &str = "eventbridge.dev/created";
/// The inline policy the controller writes on roles it manages.
/// Every tag that says whose a resource is (`Owner::tags`).
pub const OWNER_TAG_KEYS: [&str; 4] = [OWNER_TAG, OWNER_UID_TAG, CLUSTER_TAG, MANAGED_BY_TAG];
pub const POLICY_NAME: &str = "eventbridge-integration";
pub const ECS_TASKS_SERVICE: &str = "ecs-tasks.amazonaws.com";

/// Which Kubernetes object, in which cluster, owns the AWS resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// Whose a tagged AWS resource is, as far as this owner can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This object's: UID and cluster match (a resource tagged before the cluster tag
    /// existed counts when its UID matches; the next pass adds the cluster tag).
    Ours,
    /// Tagged for this namespace/name in this cluster, by an earlier object of the same name
    /// (deleted with `deletionPolicy: Retain`, then re-created): adoptable on request.
    PreviousIncarnation,
    /// No owner tag at all: adoptable on request.
    Untagged,
    /// Another object's, or another cluster's: never taken over.
    Foreign(String),
}

impl Owner {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (OWNER_TAG.to_string(), self.key()),
            (OWNER_UID_TAG.to_string(), self.uid.clone()),
            (CLUSTER_TAG.to_string(), self.cluster.clone()),
            (MANAGED_BY_TAG.to_string(), MANAGED_BY.to_string()),
        ])
    }

    /// Reads a resource's tags.
    pub fn claim(&self, tags: &BTreeMap<String, String>) -> Claim {
        let cluster_ok = tags.get(CLUSTER_TAG).is_none_or(|c| *c == self.cluster);
        let describe = || {
            format!(
                "{}={}, {}={}",
                OWNER_TAG,
                tags.get(OWNER_TAG).map_or("<none>", String::as_str),
                CLUSTER_TAG,
                tags.get(CLUSTER_TAG).map_or("<none>", String::as_str)
            )
        };
        match (tags.get(OWNER_UID_TAG), tags.get(OWNER_TAG)) {
            (Some(uid), _) if *uid == self.uid && cluster_ok => Claim::Ours,
            (_, Some(key)) if *key == self.key() && cluster_ok => Claim::PreviousIncarnation,
            (None, None) => Claim::Untagged,
            _ => Claim::Foreign(describe()),
        }
    }
}

/// Operator-set limits (flags of `run`), not settable from a namespaced object: creating IAM
/// roles from a namespace is a privilege, and these bound it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Guardrails {
    /// Accounts the controller may act in; empty means any.
    pub allowed_account_ids: Vec<AccountId>,
    /// Prefix of every role name the controller creates (derived names get it; explicit
    /// names must carry it).
    pub role_name_prefix: Option<String>,
    /// IAM path every created role must have.
    pub role_path: Option<String>,
    /// Permissions boundary every created role must have.
    pub permissions_boundary_arn: Option<String>,
}

/// Facts observed before planning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub account_id: AccountId,
    pub region: Region,
    /// The execution and task roles of each ECS target's task definition, by the ARN the
    /// spec names (ECS without `passRoleArns`); one not read is absent.
    pub task_roles: BTreeMap<String, Vec<String>>,
    /// Cross-account: the role the controller assumes in the target account (the spec's,
    /// or under a policy the one its account entry names).
    pub provisioning_role_arn: Option<String>,
    /// The ARNs of the roles the object's ownership record lists. A role whose name one of
    /// them holds at another path is reached through a second name first (see
    /// [`names::bridge_role_name`]): IAM role names are unique in an account whatever the
    /// path, and the target must never name a role that does not exist.
    pub recorded_roles: Vec<String>,
    /// The API destinations' connections: the credentials of each Secret they name, by the
    /// Secret's name (two destinations may share one).
    pub connection_secrets: BTreeMap<String, ConnectionSecret>,
}

impl Facts {
    /// The facts of an account and region where nothing else was read.
    pub fn new(account_id: AccountId, region: Region) -> Facts {
        Facts {
            account_id,
            region,
            task_roles: BTreeMap::new(),
            provisioning_role_arn: None,
            recorded_roles: Vec::new(),
            connection_secrets: BTreeMap::new(),
        }
    }
}

/// The credentials of an API destination's connection, as read from its Secret (the values
/// of the two keys its authorization type reads). Never printed: `Debug` shows the version.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConnectionSecret {
    /// `NAME@RESOURCE_VERSION` of the Secret: recorded in the connection's description, so a
    /// new version is written to AWS (which never returns a connection's secret values).
    pub version: String,
    /// API key name, user name or client ID.
    pub first: String,
    /// API key value, password or client secret.
    pub second: String,
}

impl std::fmt::Debug for ConnectionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionSecret")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// An ECS task definition, as far as planning and diagnosis need it: whose roles the
/// invocation role must be allowed to pass. A revision never changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskDefinition {
    pub arn: String,
    pub execution_role_arn: Option<String>,
    pub task_role_arn: Option<String>,
}

impl TaskDefinition {
    /// The roles ECS must be handed for this task, each once.
    pub fn roles_to_pass(&self) -> Vec<String> {
        let mut roles: Vec<String> = self
            .execution_role_arn
            .iter()
            .chain(self.task_role_arn.iter())
            .cloned()
            .collect();
        roles.dedup();
        roles
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    InvalidSpec(#[from] SpecError),
    #[error("{0}")]
    Guardrail(String),
}

/// What a part's rule delivers to: the spec's target, or (the source half of
/// EventBusForwarding) the target account's event bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartKind {
    Workload(TargetKind),
    ForwardingRule,
}

impl PartKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PartKind::Workload(kind) => kind.as_str(),
            PartKind::ForwardingRule => "EventBus",
        }
    }
}

/// The desired state in one account.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub kind: PartKind,
    pub account_id: AccountId,
    pub region: Region,
    pub tags: BTreeMap<String, String>,
    /// None: this account holds no rule (RoleChain's target account).
    pub rule: Option<DesiredRule>,
    pub role: DesiredRole,
    /// The rule's targets (one for `spec.target`, up to five for `spec.targets`); empty
    /// exactly when `rule` is None.
    pub targets: Vec<TargetShape>,
    /// The statements of Lambda functions' policies that let the rule invoke them, one per
    /// function target.
    pub permissions: Vec<DesiredPermission>,
    /// EventBusForwarding: the statement of the target bus's policy admitting the source account.
    pub bus_permission: Option<DesiredBusPermission>,
    /// Our statements in SQS queue policies, each contributed by what needs it (the
    /// dead-letter queue, an SQS target) under its own Sid. The statements of one queue are
    /// written in one policy rewrite.
    pub queue_permissions: Vec<DesiredQueuePermission>,
    /// The API destination targets' destinations, each with its connection.
    pub api_destinations: Vec<DesiredApiDestination>,
    /// `spec.schedule`: the Scheduler schedule invoking the target (then no rule).
    pub schedule: Option<schedule::DesiredSchedule>,
}

impl Desired {
    #[allow(
        clippy::expect_used,
        reason = "called only for parts with a rule: every part but RoleChain's target account"
    )]
    pub fn rule(&self) -> &DesiredRule {
        self.rule.as_ref().expect("this part has a rule")
    }

    /// The queues whose policy holds a statement of ours, each once, in plan order: one of
    /// its statements (for its name and account).
    pub fn permitted_queues(&self) -> Vec<&DesiredQueuePermission> {
        let mut out: Vec<&DesiredQueuePermission> = vec![];
        for q in &self.queue_permissions {
            if !out.iter().any(|o| o.queue_arn == q.queue_arn) {
                out.push(q);
            }
        }
        out
    }

    /// Our statements in the policy of `queue_arn`.
    pub fn queue_statements<'a>(
        &'a self,
        queue_arn: &'a str,
    ) -> impl Iterator<Item = &'a DesiredQueuePermission> + 'a {
        self.queue_permissions
            .iter()
            .filter(move |q| q.queue_arn == queue_arn)
    }

    /// The dead-letter queue's statement, if the target names a queue.
    pub fn dead_letter_permission(&self) -> Option<&DesiredQueuePermission> {
        self.queue_permissions
            .iter()
            .find(|q| q.purpose == QueuePurpose::DeadLetter)
    }

    /// The API destination of that name, if the part holds one.
    pub fn api_destination(&self, name: &str) -> Option<&DesiredApiDestination> {
        self.api_destinations.iter().find(|d| d.name == name)
    }
}

/// Where a part of the plan lives: the controller's account, or the cross-account target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Local,
    Remote,
}

/// Everything to build, per account. Single-account integrations have only `local`.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub local: Desired,
    pub remote: Option<Desired>,
    pub mode: Option<CrossAccountMode>,
    /// RoleChain: (source role in the local account, role in the target account).
    pub chain: Option<(String, String)>,
}

impl Plan {
    /// A role moves to another path through a second name in this plan: the next pass
    /// (once the old role is gone) finishes the move.
    pub fn moving(&self) -> bool {
        self.parts()
            .iter()
            .any(|(_, d)| matches!(&d.role, DesiredRole::Managed(m) if m.bridge_for.is_some()))
    }

    /// The part whose rule invokes the workload (the local one, except when forwarding).
    pub fn workload(&self) -> &Desired {
        match (&self.mode, &self.remote) {
            (Some(CrossAccountMode::EventBusForwarding), Some(remote)) => remote,
            _ => &self.local,
        }
    }

    pub fn parts(&self) -> Vec<(Side, &Desired)> {
        std::iter::once((Side::Local, &self.local))
            .chain(self.remote.iter().map(|r| (Side::Remote, r)))
            .collect()
    }
}

/// What a statement of ours in a queue's policy is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueuePurpose {
    /// The rule's undeliverable events go to the queue.
    DeadLetter,
    /// The queue is the rule's target.
    Target,
    /// The SNS topic is the rule's target.
    TopicTarget,
    /// A CloudWatch Logs log group is the rule's target (the statement is in the account's
    /// resource policy of the controller's name).
    LogGroupTarget,
    /// A Kinesis stream of another account is the rule's target (direct delivery: the
    /// statement of its resource policy names the rule account's execution role).
    StreamTarget,
    /// A method of an API Gateway REST API of another account is the rule's target (direct
    /// delivery: the statement of the API's resource policy names the rule account's
    /// execution role and the method).
    RestApiTarget,
}

/// What holds a policy of statements rewritten whole: an SQS queue or an SNS topic (neither
/// has a per-statement call that takes conditions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyHolder {
    Queue,
    Topic,
    /// One CloudWatch Logs resource policy of the account and region, by name (log groups
    /// have no policy of their own there: the account's up to 10 policies grant them).
    LogsPolicy,
    /// A Kinesis data stream's resource policy (direct delivery from another account).
    Stream,
    /// An API Gateway REST API's resource policy (direct delivery from another account),
    /// named by the ARN of the method the statement grants, `arn:…:execute-api:REGION:
    /// ACCOUNT:API_ID/STAGE/METHOD/PATH`: the API's ARN names no account, and two methods of
    /// one API are two statements of one policy. In effect once the stage is deployed again.
    RestApi,
}

impl PolicyHolder {
    /// The holder an ARN names, by its service (`sns`: a topic; `logs`: a resource policy,
    /// `arn:…:logs:REGION:ACCOUNT:resource-policy:NAME`; `kinesis`: a stream; `execute-api`:
    /// a REST API, by one of its methods; anything else, a queue).
    pub fn of_arn(arn: &str) -> PolicyHolder {
        match arn.split(':').nth(2) {
            Some("sns") => PolicyHolder::Topic,
            Some("logs") => PolicyHolder::LogsPolicy,
            Some("kinesis") => PolicyHolder::Stream,
            Some("execute-api") => PolicyHolder::RestApi,
            _ => PolicyHolder::Queue,
        }
    }
}

impl QueuePurpose {
    /// What writing the statement does, for events.
    pub fn describe(self) -> &'static str {
        match self {
            QueuePurpose::DeadLetter => {
                "let EventBridge send undeliverable events to the dead-letter queue"
            }
            QueuePurpose::Target => "let EventBridge send the rule's events to the target queue",
            QueuePurpose::TopicTarget => {
                "let EventBridge publish the rule's events to the target topic"
            }
            QueuePurpose::LogGroupTarget => {
                "let EventBridge write the rule's events to the target log group"
            }
            QueuePurpose::StreamTarget => {
                "let the rule's execution role put the rule's events to the target stream"
            }
            QueuePurpose::RestApiTarget => {
                "let the rule's execution role invoke the target REST API's method"
            }
        }
    }

    /// For NotOwned messages.
    pub fn statement_kind(self) -> &'static str {
        match self {
            QueuePurpose::DeadLetter => "dead-letter queue policy statement",
            QueuePurpose::Target => "target queue policy statement",
            QueuePurpose::TopicTarget => "target topic policy statement",
            QueuePurpose::LogGroupTarget => "CloudWatch Logs resource policy statement",
            QueuePurpose::StreamTarget => "target stream resource policy statement",
            QueuePurpose::RestApiTarget => "target REST API resource policy statement",
        }
    }
}

/// Our statement in a queue's policy. SQS has no per-statement API for conditions, so the
/// policy is rewritten with every other statement kept as it is.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredQueuePermission {
    pub purpose: QueuePurpose,
    pub queue_arn: String,
    pub queue_name: String,
    pub queue_account: AccountId,
    pub statement_id: String,
    /// What proves the statement ours: the ARN of the rule its `aws:SourceArn` names, or for
    /// direct delivery from another account the execution role it names.
    pub proof: String,
    pub statement: Value,
}

impl DesiredQueuePermission {
    /// Whether the statement is in a queue's policy or a topic's.
    pub fn holder(&self) -> PolicyHolder {
        PolicyHolder::of_arn(&self.queue_arn)
    }
}

/// An API destination of ours and its connection, both named as the rule (in a list, as the
/// rule and the entry's id). Their ARNs end in an ID AWS picks: `arn` and `connection.arn`
/// stop before it.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredApiDestination {
    pub name: String,
    pub arn: String,
    pub endpoint: String,
    pub http_method: String,
    pub rate_limit: i32,
    /// Whose it is (destinations take no tags).
    pub description: String,
    pub connection: DesiredConnection,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredConnection {
    pub arn: String,
    pub authorization_type: crate::api::AuthorizationType,
    /// OAuth: the token endpoint and its method.
    pub oauth: Option<(String, String)>,
    pub secret: ConnectionSecret,
    /// Whose it is, and the Secret's version it holds.
    pub description: String,
}

/// Our statement in the target bus's policy (EventBusForwarding).
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredBusPermission {
    pub partition: Partition,
    pub event_bus_name: String,
    pub event_bus_arn: String,
    pub statement_id: String,
    /// The source account, whose forwarding role may `events:PutEvents`.
    pub principal_account: AccountId,
    /// The forwarding role, the only principal the statement admits (`aws:PrincipalArn`).
    pub principal_role_arn: RoleArn,
    pub statement: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRule {
    pub name: String,
    pub event_bus_name: String,
    pub arn: RuleArn,
    pub description: Option<String>,
    pub event_pattern: Option<Value>,
    pub schedule_expression: Option<String>,
    pub enabled: bool,
}

#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per object; boxing buys nothing
pub enum DesiredRole {
    /// Lambda: invoked through a resource-based permission instead.
    NotNeeded,
    /// The user's role: used as is, only diagnosed.
    BringYourOwn {
        arn: RoleArn,
    },
    Managed(ManagedRole),
}

impl DesiredRole {
    pub fn arn(&self) -> Option<&str> {
        match self {
            DesiredRole::NotNeeded => None,
            DesiredRole::BringYourOwn { arn } => Some(arn),
            DesiredRole::Managed(m) => Some(&m.arn),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ManagedRole {
    pub name: String,
    pub path: String,
    pub arn: RoleArn,
    pub trust_policy: Value,
    pub policy: Value,
    pub permissions_boundary_arn: Option<String>,
    /// During a move to another path: the name this role stands in for (see
    /// [`names::bridge_role_name`]); the pass after the old role is gone creates that one.
    pub bridge_for: Option<String>,
}

/// A rule target in a form that compares equal exactly when AWS would behave the same:
/// built from the spec here, and from `ListTargetsByRule` in `aws::observe`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TargetShape {
    pub id: String,
    pub arn: String,
    pub role_arn: Option<String>,
    /// The kind's own parameter block (ECS launch, a FIFO message group).
    pub parameters: TargetParameters,
    /// Parsed, so formatting differences of the JSON text do not count.
    pub input: Option<Value>,
    pub input_path: Option<String>,
    pub input_transformer: Option<(BTreeMap<String, String>, String)>,
    pub retry: Option<(Option<i32>, Option<i32>)>,
    pub dead_letter_arn: Option<String>,
}

/// `HttpParameters` of an API Gateway (or API destination) target.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct HttpShape {
    pub path_parameter_values: Vec<String>,
    pub header_parameters: BTreeMap<String, String>,
    pub query_string_parameters: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct EcsShape {
    pub task_definition_arn: String,
    pub task_count: i32,
    pub launch_type: String,
    pub platform_version: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredPermission {
    /// The function exactly as the target names it (qualified or not).
    pub function_arn: FunctionArn,
    pub statement_id: String,
    /// `events.amazonaws.com`, or (RoleChain) the ARN of the execution role EventBridge uses.
    pub principal: String,
    pub source_arn: Option<String>,
    pub source_account: Option<AccountId>,
}

/// The role name the controller would create, for the owner, honouring the guardrails.
pub fn managed_role_name(
    spec: &EventBridgeIntegrationSpec,
    owner: &Owner,
    guard: &Guardrails,
) -> String {
    match spec.role.as_ref().and_then(|r| r.name.clone()) {
        Some(name) => name,
        None => names::derived_name(
            guard.role_name_prefix.as_deref().unwrap_or("ebi-"),
            &owner.namespace,
            &owner.name,
        ),
    }
}

pub fn rule_name(spec: &EventBridgeIntegrationSpec, owner: &Owner) -> String {
    spec.rule
        .name
        .clone()
        .unwrap_or_else(|| names::derived_name("ebi-", &owner.namespace, &owner.name))
}

pub fn plan(
    spec: &EventBridgeIntegrationSpec,
    owner: &Owner,
    facts: &Facts,
    guard: &Guardrails,
) -> Result<Plan, PlanError> {
    if let Some(list) = &spec.targets {
        return target_list::plan_list(spec, list, owner, facts, guard);
    }
    let mut plan = plan_accounts(spec, owner, facts, guard)?;
    for desired in std::iter::once(&mut plan.local).chain(plan.remote.as_mut()) {
        let dead_letter = queue_permission(desired, owner)?;
        desired.queue_permissions.extend(dead_letter);
    }
    Ok(plan)
}

/// The dead-letter queue statement of the part whose target names a queue. The queue must
/// be where the rule is: EventBridge sends to a queue in the rule's region, and the
/// controller writes the queue's policy with that account's credentials.
fn queue_permission(
    d: &Desired,
    owner: &Owner,
) -> Result<Option<DesiredQueuePermission>, PlanError> {
    let (Some(rule), Some(queue_arn)) = (
        &d.rule,
        d.targets.first().and_then(|t| t.dead_letter_arn.as_ref()),
    ) else {
        return Ok(None);
    };
    let field = "spec.target.deadLetterQueueArn";
    let queue = validate::check_arn(field, queue_arn, "sqs", "")?;
    if queue.region != d.region {
        return Err(invalid(field, format!("DeadLetterQueueInOtherRegion: the queue is in {} but the rule is in {}; EventBridge only sends to a dead-letter queue in the rule's region: use a queue in {}", queue.region, d.region, d.region)));
    }
    if queue.account != d.account_id {
        return Err(invalid(field, format!("the queue is in account {} but the rule that uses it is in account {}; use a queue of account {} (the controller writes the queue's policy in the rule's account)", queue.account, d.account_id, d.account_id)));
    }
    let statement_id = names::owned_statement_id(&rule.name, &rule.arn, &owner.uid);
    Ok(Some(DesiredQueuePermission {
        purpose: QueuePurpose::DeadLetter,
        statement: crate::iam::documents::dead_letter_queue_statement(
            &statement_id,
            queue_arn,
            &rule.arn,
        ),
        queue_arn: queue_arn.clone(),
        queue_name: queue.resource.clone(),
        // The same account, checked above.
        queue_account: d.account_id.clone(),
        statement_id,
        proof: rule.arn.to_string(),
    }))
}

/// An integration's plan so far: validated, its target placed in its account, its rule in
/// the controller's. What each way of reaching the target starts from.
struct Placed<'a> {
    spec: &'a EventBridgeIntegrationSpec,
    owner: &'a Owner,
    facts: &'a Facts,
    guard: &'a Guardrails,
    workload: ValidTarget<'a>,
    target: AccountArn,
    own_role: Option<&'a RoleArn>,
    local_rule: DesiredRule,
}

fn plan_accounts(
    spec: &EventBridgeIntegrationSpec,
    owner: &Owner,
    facts: &Facts,
    guard: &Guardrails,
) -> Result<Plan, PlanError> {
    let ValidSpec {
        target: workload,
        target_arn,
        own_role,
        target_account,
    } = validate(spec)?;
    let own_role = own_role.as_ref();
    check_account(guard, &facts.account_id, "the controller's AWS account")?;
    let target = place_target(workload, target_arn, facts, target_account.as_ref())?;
    if let Some(schedule) = &spec.schedule {
        return schedule::plan(
            spec, schedule, owner, workload, &target, own_role, facts, guard,
        );
    }
    let local_rule = local_rule(spec, owner, &target, facts);
    let placed = Placed {
        spec,
        owner,
        facts,
        guard,
        workload,
        target,
        own_role,
        local_rule,
    };
    match &spec.cross_account {
        None => plan_in_one_account(placed),
        Some(x) => cross_account::plan(placed, x, target_account),
    }
}

/// The target's validated ARN in its account, which must be in the rule's region. A kind
/// whose ARN names no account (API Gateway's REST API) is in `spec.crossAccount`'s target
/// account if it names one, else in the rule's; one the spec names by no ARN at all (an API
/// destination), in its region and partition.
fn place_target(
    workload: ValidTarget<'_>,
    target: Arn,
    facts: &Facts,
    target_account: Option<&AccountId>,
) -> Result<AccountArn, PlanError> {
    let target = if target.account.is_empty() && target.region.is_empty() {
        Arn {
            region: facts.region.to_string(),
            partition: facts.region.partition().to_string(),
            ..target
        }
    } else {
        target
    };
    let home = target_account.unwrap_or(&facts.account_id);
    let target = AccountArn::in_account(target, home)
        .map_err(|e| invalid(workload.field(), e.to_string()))?;
    let region = &facts.region;
    if target.region != *region {
        return Err(invalid(
            workload.field(),
            format!("the target is in region {} but the rule is in {region}; set spec.region: {} (EventBridge targets are regional)", target.region, target.region),
        ));
    }
    Ok(target)
}

/// The integration's rule, in the controller's account and region.
fn local_rule(
    spec: &EventBridgeIntegrationSpec,
    owner: &Owner,
    target: &AccountArn,
    facts: &Facts,
) -> DesiredRule {
    let rule_name = rule_name(spec, owner);
    let bus = spec
        .rule
        .event_bus_name
        .clone()
        .unwrap_or_else(|| "default".into());
    DesiredRule {
        arn: RuleArn::new(
            &target.partition,
            &facts.region,
            &facts.account_id,
            &bus,
            &rule_name,
        ),
        name: rule_name,
        event_bus_name: bus,
        description: spec.rule.description.clone(),
        event_pattern: spec.rule.event_pattern.clone(),
        schedule_expression: spec.rule.schedule_expression.clone(),
        enabled: spec.rule.enabled,
    }
}

/// Target and rule in the controller's account: no `spec.crossAccount`, so a target of
/// another account is refused with the mode that would reach it.
fn plan_in_one_account(placed: Placed<'_>) -> Result<Plan, PlanError> {
    let Placed {
        spec,
        owner,
        facts,
        guard,
        workload,
        target,
        own_role,
        local_rule,
    } = placed;
    let account = facts.account_id.clone();
    let region = facts.region.clone();
    if target.account != account {
        let kind = workload.facts();
        let advice = match kind.default_mode() {
            None => format!(
                ": this controller builds {} targets in the rule's account only; use one in account {account}",
                kind.label
            ),
            Some(m) if m.is_direct() => "; set spec.crossAccount (mode DirectDelivery: EventBridge delivers to it directly with this account's execution role)".to_string(),
            Some(_) => "; set spec.crossAccount (mode EventBusForwarding: this rule forwards to that account's bus, and a rule there invokes the target)".to_string(),
        };
        return Err(invalid(
            workload.field(),
            format!(
                "the target is in account {} but the rule would be in account {account}{advice}",
                target.account
            ),
        ));
    }
    let local = plan_workload(
        spec, owner, workload, &target, own_role, &account, &region, local_rule, facts, guard,
    )?;
    Ok(Plan {
        local,
        remote: None,
        mode: None,
        chain: None,
    })
}

fn invalid(field: &str, message: impl Into<String>) -> PlanError {
    PlanError::InvalidSpec(SpecError {
        field: field.into(),
        message: message.into(),
    })
}

fn target_shape(
    spec: &EventBridgeIntegrationSpec,
    workload: ValidTarget<'_>,
    target: &AccountArn,
    rule_arn: &str,
    role_arn: Option<String>,
) -> TargetShape {
    TargetShape {
        id: spec.target.id.clone().unwrap_or_else(|| "1".into()),
        arn: workload.target_arn(target, rule_arn),
        role_arn,
        parameters: workload.parameters(),
        input: spec.target.input.clone(),
        input_path: spec.target.input_path.clone(),
        input_transformer: spec.target.input_transformer.as_ref().map(|t| {
            (
                t.input_paths_map.clone().unwrap_or_default(),
                t.input_template.clone(),
            )
        }),
        retry: spec
            .target
            .retry_policy
            .as_ref()
            .map(|r| (r.maximum_retry_attempts, r.maximum_event_age_in_seconds)),
        dead_letter_arn: spec.target.dead_letter_queue_arn.clone(),
    }
}

/// The workload's rule, role and permission in one account: the single-account case, and
/// the target-account half of EventBusForwarding.
#[allow(clippy::too_many_arguments)]
fn plan_workload(
    spec: &EventBridgeIntegrationSpec,
    owner: &Owner,
    workload: ValidTarget<'_>,
    target: &AccountArn,
    own_role: Option<&RoleArn>,
    account: &AccountId,
    region: &Region,
    rule: DesiredRule,
    facts: &Facts,
    guard: &Guardrails,
) -> Result<Desired, PlanError> {
    let role = plan_role(
        spec, owner, workload, own_role, account, target, &rule.arn, facts, guard,
    )?;
    let shape = target_shape(
        spec,
        workload,
        target,
        &rule.arn,
        role.arn().map(str::to_string),
    );
    let api_destination = workload.api_destination(&rule, owner, &facts.connection_secrets)?;
    let permission = workload.resource_permission(
        names::owned_statement_id(&rule.name, &rule.arn, &owner.uid),
        "events.amazonaws.com",
        Some((&rule.arn, account)),
    )?;
    let queue_permissions = workload
        .queue_permission(target, &rule, owner)
        .into_iter()
        .collect();
    Ok(Desired {
        kind: PartKind::Workload(workload.kind()),
        account_id: account.clone(),
        region: region.clone(),
        tags: owner.tags(),
        rule: Some(rule),
        role,
        targets: vec![shape],
        permissions: permission.into_iter().collect(),
        bus_permission: None,
        queue_permissions,
        api_destinations: api_destination.into_iter().collect(),
        schedule: None,
    })
}

fn check_account(guard: &Guardrails, account: &str, what: &str) -> Result<(), PlanError> {
    if !guard.allowed_account_ids.is_empty()
        && !guard.allowed_account_ids.iter().any(|a| a == account)
    {
        return Err(PlanError::Guardrail(format!(
            "{what} {account} is not in the operator's allowed accounts ({}); ask the operator to add it to --allowed-account-ids",
            guard
                .allowed_account_ids
                .iter()
                .map(AccountId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// Every role name the controller creates carries the operator's prefix, whichever field
/// names it.
fn check_role_prefix(guard: &Guardrails, field: &str, name: &str) -> Result<(), PlanError> {
    match &guard.role_name_prefix {
        Some(prefix) if !name.starts_with(prefix.as_str()) => Err(PlanError::Guardrail(format!(
            "{field} `{name}` does not start with the operator's required prefix `{prefix}`; rename it or omit it to get a derived name"
        ))),
        _ => Ok(()),
    }
}

/// The name and ARN of a role the controller creates in `account` at `path`. When the
/// ownership record lists a role of that name at another path (a move of `spec.role.path`
/// or `--role-path`), the role cannot be created beside it: IAM role names are unique in an
/// account whatever the path. The plan then uses a second name at the new path, so the
/// target moves to a role that exists before the old one goes; the pass after its removal
/// plans the wanted name again (now free), and the target moves once more. Two moves, and
/// at no moment does the target name a role that does not exist.
fn role_identity(
    partition: &Partition,
    account: &AccountId,
    path: &str,
    name: String,
    recorded_roles: &[String],
) -> (String, RoleArn, Option<String>) {
    let arn_of = |name: &str| RoleArn::new(partition, account, path, name);
    let arn = arn_of(&name);
    let held_elsewhere = recorded_roles.iter().any(|recorded| {
        *recorded != arn
            && RoleArn::parse(recorded)
                .is_ok_and(|r| r.account() == account && r.name().eq_ignore_ascii_case(&name))
    });
    if !held_elsewhere {
        return (name, arn, None);
    }
    let bridge = names::bridge_role_name(&name, &arn);
    let arn = arn_of(&bridge);
    (bridge, arn, Some(name))
}

/// A role the controller creates: name, path and boundary from the spec within the guardrails.
#[allow(clippy::too_many_arguments)]
fn managed_role(
    spec: &EventBridgeIntegrationSpec,
    owner: &Owner,
    guard: &Guardrails,
    (partition, account): (&Partition, &AccountId),
    trust_policy: Value,
    statements: Vec<Value>,
    recorded_roles: &[String],
) -> Result<ManagedRole, PlanError> {
    let role_spec = spec.role.clone().unwrap_or_default();
    let name = managed_role_name(spec, owner, guard);
    check_role_prefix(guard, "spec.role.name", &name)?;
    let path = match (&role_spec.path, &guard.role_path) {
        (Some(p), Some(required)) if p != required => {
            return Err(PlanError::Guardrail(format!("spec.role.path `{p}` differs from the operator's required path `{required}`; omit spec.role.path")));
        }
        (Some(p), _) => p.clone(),
        (None, Some(required)) => required.clone(),
        (None, None) => "/".into(),
    };
    let boundary = match (
        &role_spec.permissions_boundary_arn,
        &guard.permissions_boundary_arn,
    ) {
        (Some(b), Some(required)) if b != required => {
            return Err(PlanError::Guardrail(format!(
                "spec.role.permissionsBoundaryArn `{b}` differs from the operator's mandatory boundary `{required}`; omit it"
            )));
        }
        (Some(b), _) => Some(b.clone()),
        (None, required) => required.clone(),
    };
    let (name, arn, bridge_for) = role_identity(partition, account, &path, name, recorded_roles);
    Ok(ManagedRole {
        arn,
        name,
        bridge_for,
        path,
        trust_policy,
        policy: json!({"Version": "2012-10-17", "Statement": statements}),
        permissions_boundary_arn: boundary,
    })
}

#[allow(clippy::too_many_arguments)]
fn plan_role(
    spec: &EventBridgeIntegrationSpec,
    owner: &Owner,
    workload: ValidTarget<'_>,
    own_role: Option<&RoleArn>,
    account: &AccountId,
    target: &AccountArn,
    rule_arn: &str,
    facts: &Facts,
    guard: &Guardrails,
) -> Result<DesiredRole, PlanError> {
    if !workload.needs_role() {
        return Ok(DesiredRole::NotNeeded);
    }
    if let Some(own) = own_role {
        check_account(guard, own.account(), "the account of spec.role.arn")?;
        return Ok(DesiredRole::BringYourOwn { arn: own.clone() });
    }
    let role = managed_role(
        spec,
        owner,
        guard,
        (&target.partition, account),
        events_trust_policy(account, rule_arn),
        workload.invoke_statements(target, facts, rule_arn),
        &facts.recorded_roles,
    )?;
    Ok(DesiredRole::Managed(role))
}
