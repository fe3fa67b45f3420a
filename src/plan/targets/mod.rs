//! One module per target kind: what a kind means to the planner. Each holds the checks of
//! its own spec fields, the statements a role needs to invoke it, the resource-based
//! permission it takes instead of a role (Lambda), and its parameters on the rule's
//! target (ECS, SQS, SNS, Kinesis, API Gateway), and the statement it needs in a queue's or topic's policy
//! (SQS, SNS). Adding a kind: a module here, a variant of [`ValidTarget`] with its arms below, and the kind's field in
//! `api::TargetSpec` (docs/architecture.md).

pub mod api_destination;
mod api_gateway;
mod ecs;
mod firehose;
mod kinesis;
mod lambda;
pub(super) mod logs;
mod sns;
mod sqs;
mod step_functions;

use std::collections::BTreeMap;

use serde_json::Value;

use super::validate::{self, SpecError};
use super::{
    ConnectionSecret, DesiredApiDestination, DesiredPermission, DesiredQueuePermission,
    DesiredRule, EcsShape, Facts, HttpShape, Owner,
};
use crate::api::{
    ApiDestinationTarget, ApiGatewayTarget, CrossAccountMode, EcsTarget,
    EventBridgeIntegrationSpec, FirehoseTarget, KinesisTarget, LambdaTarget, LogsTarget, SnsTarget,
    SqsTarget, StepFunctionsTarget, TargetKind, TargetSpec,
};
use crate::iam::{AccountArn, AccountId, Arn};

/// The spec's target once validated: its kind together with its data, so that nothing
/// downstream asks the spec again which of its optional fields is set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValidTarget<'a> {
    Ecs(&'a EcsTarget),
    StepFunctions(&'a StepFunctionsTarget),
    Lambda(&'a LambdaTarget),
    Sqs(&'a SqsTarget),
    Sns(&'a SnsTarget),
    Kinesis(&'a KinesisTarget),
    Firehose(&'a FirehoseTarget),
    ApiGateway(&'a ApiGatewayTarget),
    Logs(&'a LogsTarget),
    ApiDestination(&'a ApiDestinationTarget),
}

/// What a kind is, stated once in its module, for the code that meets a kind by something
/// other than the spec: a rule's target read back from AWS (the diagnosis knows it by its
/// ARN), and the messages that list the kinds.
#[derive(Debug, PartialEq, Eq)]
pub struct KindFacts {
    pub kind: TargetKind,
    /// The kind's field under `spec.target` (`stepFunctions`).
    pub spec_field: &'static str,
    /// How findings name it (`Step Functions`).
    pub label: &'static str,
    /// The service in the ARN of the rule's target, and how its resource starts where the
    /// service alone does not tell the kind (`events`: an API destination, not a bus).
    pub service: &'static str,
    pub resource_prefix: &'static str,
    /// What a role needs on the rule target's ARN to invoke it: EventBridge's own role when
    /// the kind is invoked with one, otherwise a schedule's or a chained role's. ECS's RunTask
    /// is on the task definition, not the cluster the target names (`ecs`).
    pub role_actions: &'static [&'static str],
    /// Whether EventBridge invokes a rule's target of this kind with a role (false: through
    /// the target's own resource policy).
    pub invoked_with_role: bool,
    /// What a schedule's role needs on the kind's templated target in EventBridge Scheduler
    /// (empty: a schedule does not invoke it, or not through a templated target).
    pub scheduler_actions: &'static [&'static str],
    /// Whether EventBridge delivers to it in another account of the rule's region directly,
    /// with an execution role of the rule's account that the target's own policy names
    /// (since January 2025: API Gateway, Kinesis, Lambda, SNS, SQS). Otherwise another
    /// account is reached only bus to bus. EventBridge's fact, whatever is built here.
    pub eventbridge_delivers_across_accounts: bool,
    /// The `spec.crossAccount.mode`s this controller builds for a target of the kind in
    /// another account, the default first; empty: it must be in the rule's account.
    pub built_across_accounts: &'static [CrossAccountMode],
}

impl KindFacts {
    /// Whether this controller builds `mode` for the kind (RoleChain is DirectDelivery's
    /// older name).
    pub fn builds(&self, mode: CrossAccountMode) -> bool {
        self.built_across_accounts
            .iter()
            .any(|m| m.is_direct() == mode.is_direct())
    }

    /// The mode a target of the kind in another account takes when the spec names none.
    pub fn default_mode(&self) -> Option<CrossAccountMode> {
        self.built_across_accounts.first().copied()
    }
}

/// The `spec.crossAccount.mode` in effect: the spec's, or the targets' default by kind (the
/// first their modules build; a list whose kinds all default to DirectDelivery takes it,
/// any other EventBusForwarding). None without `crossAccount`.
pub fn cross_account_mode(spec: &EventBridgeIntegrationSpec) -> Option<CrossAccountMode> {
    let x = spec.cross_account.as_ref()?;
    // Any kind set counts, as admission may ask before validation refuses a target of two.
    let defaults_to_direct = |t: &TargetSpec| {
        ValidTarget::every_set(t)
            .into_iter()
            .any(|k| k.facts().default_mode().is_some_and(|m| m.is_direct()))
    };
    let entries = spec.target_entries();
    let all_direct = !entries.is_empty() && entries.iter().all(|(_, t)| defaults_to_direct(t));
    Some(x.mode.unwrap_or(if all_direct {
        CrossAccountMode::DirectDelivery
    } else {
        CrossAccountMode::EventBusForwarding
    }))
}

/// Every kind, as registered: one entry per module.
pub const KINDS: [&KindFacts; 10] = [
    &ecs::FACTS,
    &step_functions::FACTS,
    &lambda::FACTS,
    &sqs::FACTS,
    &sns::FACTS,
    &kinesis::FACTS,
    &firehose::FACTS,
    &api_gateway::FACTS,
    &logs::FACTS,
    &api_destination::FACTS,
];

/// The kind a rule target's ARN names, if it is one this controller builds.
pub fn kind_of_arn(arn: &Arn) -> Option<&'static KindFacts> {
    KINDS
        .into_iter()
        .find(|k| k.service == arn.service && arn.resource.starts_with(k.resource_prefix))
}

/// The kinds' fields under `spec.target`, for messages (`ecs, stepFunctions, …`).
pub fn spec_fields() -> String {
    KINDS.map(|k| k.spec_field).join(", ")
}

impl<'a> ValidTarget<'a> {
    /// The one kind set in `target`, if exactly one is.
    pub(super) fn of(target: &'a TargetSpec) -> Option<ValidTarget<'a>> {
        let mut kinds = ValidTarget::every_set(target).into_iter();
        match (kinds.next(), kinds.next()) {
            (Some(kind), None) => Some(kind),
            _ => None,
        }
    }

    /// Every kind set in `target`: one in a valid spec, but admission, which must not miss a
    /// reference, asks before validation has refused two.
    pub fn every_set(target: &'a TargetSpec) -> Vec<ValidTarget<'a>> {
        let set = [
            target.ecs.as_ref().map(ValidTarget::Ecs),
            target
                .step_functions
                .as_ref()
                .map(ValidTarget::StepFunctions),
            target.lambda.as_ref().map(ValidTarget::Lambda),
            target.sqs.as_ref().map(ValidTarget::Sqs),
            target.sns.as_ref().map(ValidTarget::Sns),
            target.kinesis.as_ref().map(ValidTarget::Kinesis),
            target.firehose.as_ref().map(ValidTarget::Firehose),
            target.api_gateway.as_ref().map(ValidTarget::ApiGateway),
            target.logs.as_ref().map(ValidTarget::Logs),
            target
                .api_destination
                .as_ref()
                .map(ValidTarget::ApiDestination),
        ];
        set.into_iter().flatten().collect()
    }

    /// What the kind is, from its module.
    pub fn facts(self) -> &'static KindFacts {
        match self {
            ValidTarget::Ecs(_) => &ecs::FACTS,
            ValidTarget::StepFunctions(_) => &step_functions::FACTS,
            ValidTarget::Lambda(_) => &lambda::FACTS,
            ValidTarget::Sqs(_) => &sqs::FACTS,
            ValidTarget::Sns(_) => &sns::FACTS,
            ValidTarget::Kinesis(_) => &kinesis::FACTS,
            ValidTarget::Firehose(_) => &firehose::FACTS,
            ValidTarget::ApiGateway(_) => &api_gateway::FACTS,
            ValidTarget::Logs(_) => &logs::FACTS,
            ValidTarget::ApiDestination(_) => &api_destination::FACTS,
        }
    }

    pub fn kind(self) -> TargetKind {
        self.facts().kind
    }

    /// Every ARN (or, for an API destination, URL) the spec names for the kind, as written,
    /// with its field below the target (`ecs.taskDefinitionArn`): what a namespace's policy
    /// must grant (`tenancy`).
    pub fn references(self) -> Vec<(&'static str, &'a str)> {
        let own = self.field().trim_start_matches("spec.target.");
        match self {
            ValidTarget::Ecs(e) => vec![
                (own, e.cluster_arn.as_str()),
                ("ecs.taskDefinitionArn", e.task_definition_arn.as_str()),
            ],
            // As written, `:*` and all: the policy grants what the author wrote.
            ValidTarget::Logs(l) => vec![(own, l.log_group_arn.as_str())],
            other => vec![(own, other.arn())],
        }
    }

    /// The ARN the spec names (for ECS, the cluster; for API Gateway, the REST API; for an
    /// API destination, which the spec names by its endpoint, the endpoint).
    pub fn arn(self) -> &'a str {
        match self {
            ValidTarget::Ecs(e) => &e.cluster_arn,
            ValidTarget::StepFunctions(s) => &s.state_machine_arn,
            ValidTarget::Lambda(l) => &l.function_arn,
            ValidTarget::Sqs(q) => &q.queue_arn,
            ValidTarget::Sns(t) => &t.topic_arn,
            ValidTarget::Kinesis(k) => &k.stream_arn,
            ValidTarget::Firehose(f) => &f.delivery_stream_arn,
            ValidTarget::ApiGateway(a) => &a.rest_api_arn,
            ValidTarget::Logs(l) => logs::group_arn(l),
            ValidTarget::ApiDestination(d) => &d.endpoint,
        }
    }

    /// The ARN of the rule's target: the spec's [`ValidTarget::arn`], but for API Gateway
    /// the called method's `execute-api` ARN, and for an API destination the destination
    /// named as `rule_arn`'s rule (without the ID AWS appends: see `api_destination`).
    /// `target` is the validated ARN, its account filled in where the spec's has none.
    pub fn target_arn(self, target: &AccountArn, rule_arn: &str) -> String {
        match self {
            ValidTarget::ApiGateway(a) => api_gateway::method_arn(a, target),
            ValidTarget::ApiDestination(_) => api_destination::destination_arn(rule_arn),
            other => other.arn().to_string(),
        }
    }

    /// The spec field that names [`ValidTarget::arn`], for messages.
    pub fn field(self) -> &'static str {
        match self {
            ValidTarget::Ecs(_) => ecs::FIELD,
            ValidTarget::StepFunctions(_) => step_functions::FIELD,
            ValidTarget::Lambda(_) => lambda::FIELD,
            ValidTarget::Sqs(_) => sqs::FIELD,
            ValidTarget::Sns(_) => sns::FIELD,
            ValidTarget::Kinesis(_) => kinesis::FIELD,
            ValidTarget::Firehose(_) => firehose::FIELD,
            ValidTarget::ApiGateway(_) => api_gateway::FIELD,
            ValidTarget::Logs(_) => logs::FIELD,
            ValidTarget::ApiDestination(_) => api_destination::FIELD,
        }
    }

    /// Checks the kind's own fields (and what it rules out elsewhere in `spec`); the
    /// target's ARN, parsed.
    pub(super) fn validate(self, spec: &EventBridgeIntegrationSpec) -> Result<Arn, SpecError> {
        let arn = self.validate_fields(spec)?;
        self.check_cross_account_mode(spec)?;
        Ok(arn)
    }

    fn validate_fields(self, spec: &EventBridgeIntegrationSpec) -> Result<Arn, SpecError> {
        match self {
            ValidTarget::Ecs(e) => ecs::validate(e),
            ValidTarget::StepFunctions(s) => step_functions::validate(s),
            ValidTarget::Lambda(l) => lambda::validate(l, spec),
            ValidTarget::Sqs(q) => sqs::validate_spec(q, spec),
            ValidTarget::Sns(t) => sns::validate_spec(t, spec),
            ValidTarget::Kinesis(k) => kinesis::validate(k, spec),
            ValidTarget::Firehose(f) => firehose::validate(f),
            ValidTarget::ApiGateway(a) => api_gateway::validate(a),
            ValidTarget::Logs(l) => logs::validate(l, spec),
            ValidTarget::ApiDestination(d) => api_destination::validate(d, spec),
        }
    }

    /// The mode `spec.crossAccount` takes, against the modes the kind's module builds. (A
    /// kind built in the rule's account only refuses `crossAccount` in its own checks, with
    /// its own reason.)
    fn check_cross_account_mode(self, spec: &EventBridgeIntegrationSpec) -> Result<(), SpecError> {
        let facts = self.facts();
        let Some(mode) = cross_account_mode(spec) else {
            return Ok(());
        };
        if facts.built_across_accounts.is_empty() || facts.builds(mode) {
            return Ok(());
        }
        if mode.is_direct() {
            return Err(validate::bad(
                "spec.crossAccount.mode",
                format!(
                    "CrossAccountUnsupportedTarget: EventBridge cannot invoke {} in another account directly; use mode EventBusForwarding (this rule forwards to the target account's bus, and a rule there invokes the target)",
                    facts.kind.as_str()
                ),
            ));
        }
        Err(validate::bad(
            self.field(),
            format!(
                "{} targets of another account are delivered to directly, with this account's execution role (this controller does not forward them bus to bus): set spec.crossAccount.mode: DirectDelivery",
                facts.label
            ),
        ))
    }

    /// Whether EventBridge invokes it with a role (false: through the target's own
    /// resource-based policy).
    pub fn needs_role(self) -> bool {
        self.facts().invoked_with_role
    }

    /// Why a schedule (`spec.schedule`) cannot invoke it; None: it can, through Scheduler's
    /// templated targets (ECS with its launch parameters, Kinesis with a fixed partition key,
    /// Firehose, SQS with its FIFO message group) or, for a FIFO topic, the universal target.
    pub fn not_scheduled_because(self) -> Option<&'static str> {
        match self {
            ValidTarget::StepFunctions(_)
            | ValidTarget::Lambda(_)
            | ValidTarget::Sqs(_)
            | ValidTarget::Sns(_)
            | ValidTarget::Ecs(_)
            | ValidTarget::Kinesis(_)
            | ValidTarget::Firehose(_) => None,
            ValidTarget::Logs(_) => Some("Scheduler has no templated target for a log group, and its universal PutLogEvents needs each event's timestamp in milliseconds, which no schedule attribute gives"),
            ValidTarget::ApiGateway(_) => Some("Scheduler has no target that calls an API Gateway stage (its universal targets call AWS's own APIs, not yours)"),
            ValidTarget::ApiDestination(_) => Some("Scheduler has no HTTP target and does not call API destinations"),
        }
    }

    /// A schedule's target: its ARN, the kind's parameters and the input, where Scheduler's
    /// templated target is the rule's (ARN, parameters, the spec's input) but for a FIFO
    /// topic, published to through the universal target with Publish's request as input.
    pub(super) fn scheduled_call(
        self,
        target: &AccountArn,
        deduplication_prefix: &str,
        input: Option<&Value>,
    ) -> (String, TargetParameters, Option<Value>) {
        match self {
            ValidTarget::Sns(t) => match t.message_group_id.as_deref() {
                Some(group) => (
                    sns::universal_publish_arn(&target.partition),
                    TargetParameters::None,
                    Some(sns::scheduled_publish_request(
                        t,
                        group,
                        deduplication_prefix,
                        input,
                    )),
                ),
                None => (t.topic_arn.clone(), TargetParameters::None, input.cloned()),
            },
            other => (
                other.target_arn(target, ""),
                other.parameters(),
                input.cloned(),
            ),
        }
    }

    /// What a schedule's role needs to invoke it (the rule's role's statements but for
    /// Firehose, which Scheduler's templated target puts to one record at a time).
    pub(super) fn scheduled_statements(self, target: &AccountArn, facts: &Facts) -> Vec<Value> {
        match self {
            ValidTarget::Firehose(f) => firehose::scheduled_statements(f),
            other => other.invoke_statements(target, facts, ""),
        }
    }

    /// What a role needs to invoke it, least privilege, never `*`. For a kind that needs
    /// no role of EventBridge's, what a chained role needs (RoleChain). `rule_arn`: the
    /// rule that invokes it (an API destination is named as its rule).
    pub fn invoke_statements(
        self,
        target: &AccountArn,
        facts: &Facts,
        rule_arn: &str,
    ) -> Vec<Value> {
        match self {
            ValidTarget::Ecs(e) => ecs::invoke_statements(e, facts),
            ValidTarget::StepFunctions(s) => step_functions::invoke_statements(s),
            ValidTarget::Lambda(l) => lambda::invoke_statements(l),
            ValidTarget::Sqs(q) => sqs::invoke_statements(q),
            ValidTarget::Sns(t) => sns::invoke_statements(t),
            ValidTarget::Kinesis(k) => kinesis::invoke_statements(k),
            ValidTarget::Firehose(f) => firehose::invoke_statements(f),
            ValidTarget::ApiGateway(a) => api_gateway::invoke_statements(a, target),
            ValidTarget::Logs(l) => logs::invoke_statements(l),
            ValidTarget::ApiDestination(_) => api_destination::invoke_statements(rule_arn),
        }
    }

    /// The statement the target's own policy needs for a rule to invoke it, if the kind
    /// takes one: `statement_id` under `principal`, limited to `source` (the rule's ARN
    /// and account) when given.
    pub fn resource_permission(
        self,
        statement_id: String,
        principal: &str,
        source: Option<(&str, &AccountId)>,
    ) -> Result<Option<DesiredPermission>, SpecError> {
        Ok(match self {
            ValidTarget::Lambda(l) => Some(lambda::permission(l, statement_id, principal, source)?),
            ValidTarget::Ecs(_)
            | ValidTarget::StepFunctions(_)
            | ValidTarget::Sqs(_)
            | ValidTarget::Sns(_)
            | ValidTarget::Kinesis(_)
            | ValidTarget::Firehose(_)
            | ValidTarget::ApiGateway(_)
            | ValidTarget::Logs(_)
            | ValidTarget::ApiDestination(_) => None,
        })
    }

    /// The statement the kind needs in a queue's or topic's policy (SQS: the target queue's,
    /// SNS: the target topic's, Logs: the account's resource policy), for `rule`, owned by
    /// `owner`. `target` is the kind's ARN as validation parsed it.
    pub fn queue_permission(
        self,
        target: &AccountArn,
        rule: &DesiredRule,
        owner: &Owner,
    ) -> Option<DesiredQueuePermission> {
        match self {
            ValidTarget::Sqs(q) => Some(sqs::permission(q, target, rule, owner)),
            ValidTarget::Sns(t) => Some(sns::permission(t, target, rule, owner)),
            ValidTarget::Logs(l) => Some(logs::permission(l, target, rule, owner)),
            ValidTarget::Ecs(_)
            | ValidTarget::StepFunctions(_)
            | ValidTarget::Lambda(_)
            | ValidTarget::Kinesis(_)
            | ValidTarget::Firehose(_)
            | ValidTarget::ApiGateway(_)
            | ValidTarget::ApiDestination(_) => None,
        }
    }

    /// The API destination and connection the kind needs (API destinations only), for
    /// `rule`, owned by `owner`, with the credentials read from the connection's Secret.
    pub fn api_destination(
        self,
        rule: &DesiredRule,
        owner: &Owner,
        secrets: &BTreeMap<String, ConnectionSecret>,
    ) -> Result<Option<DesiredApiDestination>, SpecError> {
        match self {
            ValidTarget::ApiDestination(d) => {
                api_destination::desired(d, rule, owner, secrets).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Direct delivery to another account: the statement the target's own policy needs for
    /// the rule account's execution role `role_arn` (SQS, SNS, Kinesis, API Gateway; Lambda's is
    /// [`ValidTarget::resource_permission`]).
    pub fn direct_queue_permission(
        self,
        target: &AccountArn,
        rule: &DesiredRule,
        owner: &Owner,
        role_arn: &str,
    ) -> Option<DesiredQueuePermission> {
        match self {
            ValidTarget::Sqs(q) => Some(sqs::direct_permission(q, target, rule, owner, role_arn)),
            ValidTarget::Sns(t) => Some(sns::direct_permission(t, target, rule, owner, role_arn)),
            ValidTarget::Kinesis(k) => {
                Some(kinesis::direct_permission(k, target, rule, owner, role_arn))
            }
            ValidTarget::ApiGateway(a) => Some(api_gateway::direct_permission(
                a, target, rule, owner, role_arn,
            )),
            _ => None,
        }
    }

    /// The kind's parameters on the rule's target.
    pub fn parameters(self) -> TargetParameters {
        match self {
            ValidTarget::Ecs(e) => TargetParameters::Ecs(ecs::parameters(e)),
            ValidTarget::Sqs(q) => q
                .message_group_id
                .clone()
                .map_or(TargetParameters::None, TargetParameters::MessageGroup),
            ValidTarget::Sns(t) => t
                .message_group_id
                .clone()
                .map_or(TargetParameters::None, TargetParameters::MessageGroup),
            ValidTarget::Kinesis(k) => kinesis::parameters(k),
            ValidTarget::ApiGateway(a) => api_gateway::parameters(a),
            ValidTarget::ApiDestination(d) => api_destination::parameters(d),
            ValidTarget::Logs(_) | ValidTarget::Firehose(_) => TargetParameters::None,
            ValidTarget::StepFunctions(_) | ValidTarget::Lambda(_) => TargetParameters::None,
        }
    }
}

/// Whether `name` is a stream's name as Kinesis and Firehose both take one: 1 to `max`
/// letters, digits, `_`, `.` and `-`.
fn is_stream_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A queue's or topic's statement for direct delivery from another account: `action` for the
/// execution role `role_arn` alone, which is also what proves the statement ours.
fn naming_role(
    mut p: DesiredQueuePermission,
    action: &str,
    role_arn: &str,
) -> DesiredQueuePermission {
    p.statement =
        crate::iam::documents::role_send_statement(&p.statement_id, action, &p.queue_arn, role_arn);
    p.proof = role_arn.to_string();
    p
}

/// The kind-specific parameters of a rule's target, one variant per parameter block of
/// EventBridge's `Target` that a kind uses: built from the spec by the kind's module, read
/// from and written to AWS by one mapping (`aws::target_parameters`). A kind that needs a new
/// block adds a variant here and its arm there.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum TargetParameters {
    /// None: the ARN (and the role, input and retry fields every kind has) say it all.
    #[default]
    None,
    /// `EcsParameters`: how to launch the task.
    Ecs(EcsShape),
    /// `SqsParameters.MessageGroupId`: the message group of a FIFO queue or topic.
    MessageGroup(String),
    /// `KinesisParameters.PartitionKeyPath`: the JSONPath of the record's partition key.
    PartitionKeyPath(String),
    /// Scheduler's `KinesisParameters.PartitionKey`: the record's partition key itself.
    PartitionKey(String),
    /// `HttpParameters`: path parameter values, headers and query string (API Gateway).
    Http(HttpShape),
}

impl TargetParameters {
    pub fn ecs(&self) -> Option<&EcsShape> {
        match self {
            TargetParameters::Ecs(e) => Some(e),
            _ => None,
        }
    }

    pub fn message_group_id(&self) -> Option<&str> {
        match self {
            TargetParameters::MessageGroup(g) => Some(g),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::iam::Region;

    const ACCOUNT: &str = "111122223333";
    const RULE: &str = "arn:aws:events:us-east-1:111122223333:rule/orders";

    /// One valid target of every kind registered.
    fn one_of_each() -> Vec<EventBridgeIntegrationSpec> {
        let a = |rest: &str| format!("arn:aws:{rest}");
        [
            json!({"ecs": {"clusterArn": a("ecs:us-east-1:111122223333:cluster/c"),
                "taskDefinitionArn": a("ecs:us-east-1:111122223333:task-definition/t:1"),
                "launchType": "EC2"}}),
            json!({"stepFunctions": {"stateMachineArn": a("states:us-east-1:111122223333:stateMachine:s")}}),
            json!({"lambda": {"functionArn": a("lambda:us-east-1:111122223333:function:f")}}),
            json!({"sqs": {"queueArn": a("sqs:us-east-1:111122223333:q")}}),
            json!({"sns": {"topicArn": a("sns:us-east-1:111122223333:t")}}),
            json!({"kinesis": {"streamArn": a("kinesis:us-east-1:111122223333:stream/s")}}),
            json!({"firehose": {"deliveryStreamArn": a("firehose:us-east-1:111122223333:deliverystream/s")}}),
            json!({"apiGateway": {"restApiArn": a("apigateway:us-east-1::/restapis/a1b2c3d4e5"),
                "stage": "prod", "method": "POST", "path": "/orders"}}),
            json!({"logs": {"logGroupArn": a("logs:us-east-1:111122223333:log-group:/orders")}}),
            json!({"apiDestination": {"endpoint": "https://api.example.com/orders", "httpMethod": "POST",
                "connection": {"authorizationType": "API_KEY",
                    "secretRef": {"name": "s", "key": "k"}}}}),
        ]
        .into_iter()
        .map(|target| {
            serde_json::from_value(json!({"rule": {"eventPattern": {"source": ["shop"]}}, "target": target}))
                .unwrap()
        })
        .collect()
    }

    /// The target's validated ARN, placed as the planner places it (an API destination's,
    /// which the spec names by no ARN, in the rule's region and partition).
    fn placed(kind: ValidTarget<'_>, spec: &EventBridgeIntegrationSpec) -> AccountArn {
        let mut parsed = kind.validate(spec).unwrap();
        if parsed.region.is_empty() {
            parsed.region = "us-east-1".into();
            parsed.partition = "aws".into();
        }
        AccountArn::in_account(parsed, &AccountId::parse(ACCOUNT).unwrap()).unwrap()
    }

    fn facts() -> Facts {
        Facts::new(
            AccountId::parse(ACCOUNT).unwrap(),
            Region::parse("us-east-1").unwrap(),
        )
    }

    /// The rule target's ARN as AWS holds it.
    fn target_arn(kind: ValidTarget<'_>, spec: &EventBridgeIntegrationSpec) -> String {
        kind.target_arn(&placed(kind, spec), RULE)
    }

    #[test]
    fn every_kind_is_registered_once_and_is_known_again_by_its_targets_arn() {
        let specs = one_of_each();
        let kinds: Vec<_> = specs
            .iter()
            .map(|s| ValidTarget::of(&s.target).unwrap())
            .collect();
        assert_eq!(kinds.len(), KINDS.len(), "a kind without an example here");
        for (kind, spec) in kinds.iter().zip(&specs) {
            let facts = kind.facts();
            assert_eq!(
                KINDS.iter().filter(|k| k.kind == facts.kind).count(),
                1,
                "{:?} is not in KINDS once",
                facts.kind
            );
            assert!(KINDS.contains(&facts));
            assert!(kind
                .field()
                .starts_with(&format!("spec.target.{}.", facts.spec_field)));
            let arn = target_arn(*kind, spec);
            let known = kind_of_arn(&Arn::parse(&arn).unwrap());
            assert_eq!(known.map(|k| k.kind), Some(facts.kind), "{arn}");
        }
        // A bus is a rule's target too, but no kind of the spec.
        let bus = Arn::parse("arn:aws:events:us-east-1:111122223333:event-bus/default").unwrap();
        assert_eq!(kind_of_arn(&bus), None);
    }

    /// What the diagnosis holds a role to is what the planner grants it.
    #[test]
    fn a_kinds_role_actions_are_those_its_statements_grant_on_its_target() {
        let facts = facts();
        for spec in one_of_each() {
            let kind = ValidTarget::of(&spec.target).unwrap();
            let placed = placed(kind, &spec);
            let granted = actions_of(&kind.invoke_statements(&placed, &facts, RULE));
            let mut stated: Vec<_> = kind.facts().role_actions.to_vec();
            stated.sort();
            assert_eq!(granted, stated, "{:?}", kind.kind());
        }
    }

    fn actions_of(statements: &[Value]) -> Vec<String> {
        let mut actions: Vec<String> = statements
            .iter()
            .flat_map(|s| match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|a| a.as_str().map(String::from))
                    .collect(),
                _ => vec![],
            })
            .filter(|a| a != "iam:PassRole")
            .collect();
        actions.sort();
        actions
    }

    /// A schedule's role gets what Scheduler's templated target calls, and a kind a schedule
    /// cannot invoke states no action for one.
    #[test]
    fn a_schedules_role_gets_the_kinds_scheduler_actions() {
        let facts = facts();
        for spec in one_of_each() {
            let kind = ValidTarget::of(&spec.target).unwrap();
            let stated = kind.facts().scheduler_actions;
            assert_eq!(
                stated.is_empty(),
                kind.not_scheduled_because().is_some(),
                "{:?}",
                kind.kind()
            );
            if stated.is_empty() {
                continue;
            }
            let mut stated: Vec<_> = stated.iter().map(|a| a.to_string()).collect();
            stated.sort();
            let granted = actions_of(&kind.scheduled_statements(&placed(kind, &spec), &facts));
            assert_eq!(granted, stated, "{:?}", kind.kind());
        }
    }

    /// The planner builds direct delivery only where EventBridge delivers so (which the
    /// diagnosis judges by), and only for a kind that grants it through the target's policy:
    /// the function's, or a statement of the queue's, topic's or stream's naming the role.
    #[test]
    fn direct_delivery_is_built_only_where_eventbridge_delivers_directly() {
        let role = "arn:aws:iam::111122223333:role/exec";
        let owner = Owner {
            cluster: "c".into(),
            namespace: "n".into(),
            name: "o".into(),
            uid: "u".into(),
        };
        for spec in one_of_each() {
            let kind = ValidTarget::of(&spec.target).unwrap();
            let facts = kind.facts();
            if !facts.builds(CrossAccountMode::DirectDelivery) {
                continue;
            }
            assert!(
                facts.eventbridge_delivers_across_accounts,
                "{:?}",
                facts.kind
            );
            let rule = DesiredRule {
                name: "orders".into(),
                event_bus_name: "default".into(),
                arn: crate::iam::RuleArn::parse(RULE).unwrap(),
                description: None,
                event_pattern: None,
                schedule_expression: None,
                enabled: true,
            };
            let grants = kind
                .direct_queue_permission(&placed(kind, &spec), &rule, &owner, role)
                .is_some();
            assert!(
                grants || facts.kind == TargetKind::Lambda,
                "{:?} builds DirectDelivery but its target's policy never names the role",
                facts.kind
            );
        }
    }

    #[test]
    fn every_kind_set_is_seen_so_that_admission_misses_none() {
        let two: TargetSpec = serde_json::from_value(json!({
            "lambda": {"functionArn": "arn:aws:lambda:us-east-1:111122223333:function:f"},
            "sqs": {"queueArn": "arn:aws:sqs:us-east-1:111122223333:q"}}))
        .unwrap();
        assert_eq!(ValidTarget::of(&two), None);
        let refs: Vec<_> = ValidTarget::every_set(&two)
            .into_iter()
            .flat_map(ValidTarget::references)
            .collect();
        assert_eq!(
            refs,
            [
                (
                    "lambda.functionArn",
                    "arn:aws:lambda:us-east-1:111122223333:function:f"
                ),
                ("sqs.queueArn", "arn:aws:sqs:us-east-1:111122223333:q")
            ]
        );
    }
}
