//! `EventBridgeIntegration`: one object for the whole integration — role, rule, target and
//! invoke permission. Validation lives in the schema (patterns, enums, `oneOf` of `required`)
//! because API servers before CEL ignore `x-kubernetes-validations`; the same rules are
//! checked again at reconcile time (`plan::validate`).

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::status::EventBridgeIntegrationStatus;

pub const ROLE_ARN_PATTERN: &str = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$";
pub const POLICY_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]{1,512}$";
pub const CLUSTER_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster/[A-Za-z0-9_-]{1,255}$";
pub const TASK_DEFINITION_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[A-Za-z0-9_-]{1,255}(:[1-9][0-9]*)?$";
pub const STATE_MACHINE_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$";
pub const FUNCTION_ARN_PATTERN: &str = r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?$";
pub const QUEUE_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$";
/// SNS topic names: 1-256 of letters, digits, `-` and `_`, a FIFO topic's ending in `.fifo`.
pub const TOPIC_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:([A-Za-z0-9_-]{1,256}|[A-Za-z0-9_-]{1,251}\.fifo)$";
/// Kinesis stream names: 1-128 of letters, digits, `_`, `.` and `-`.
pub const STREAM_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/[A-Za-z0-9_.-]{1,128}$";
/// Firehose stream names: 1-64 of letters, digits, `_`, `.` and `-`.
pub const FIREHOSE_STREAM_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:firehose:[a-z0-9-]+:\d{12}:deliverystream/[A-Za-z0-9_.-]{1,64}$";
/// A REST API's ARN, as API Gateway writes it: no account (`arn:aws:apigateway:REGION::/restapis/ID`).
pub const REST_API_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:apigateway:[a-z0-9-]+::/restapis/[a-z0-9]{10}$";
/// A log group's ARN, with or without the `:*` that IAM resources add.
pub const LOG_GROUP_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:[A-Za-z0-9_/.#-]{1,512}(:\*)?$";
pub const NAME_PATTERN: &str = r"^[.\-_A-Za-z0-9]{1,64}$";
pub const SCHEDULE_PATTERN: &str =
    r"^(rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\)|cron\(\S+ \S+ \S+ \S+ \S+ \S+\))$";

/// Declares an AWS EventBridge integration: the rule, its single target, and whatever the
/// target needs to be invoked — an IAM role for ECS and Step Functions, a resource-based
/// permission for Lambda. The controller creates and keeps these in sync, and reports in
/// `status.findings` anything that would make an invocation fail with AccessDenied.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "eventbridge.dev",
    version = "v1alpha1",
    kind = "EventBridgeIntegration",
    namespaced,
    shortname = "ebi",
    status = "EventBridgeIntegrationStatus",
    doc = "An AWS EventBridge integration: one rule, its single target (ECS task, Step Functions state machine, Lambda function, SQS queue, SNS topic, Kinesis stream, API Gateway REST API, CloudWatch Logs log group or HTTPS API destination), and the IAM role, Lambda permission or queue or topic policy statement EventBridge needs to invoke it. The controller creates and keeps these in sync, and `status.findings` names anything that would make an invocation fail with AccessDenied, with the fix.",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","description":"Reason of the Ready condition","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".status.targetKind"}"#,
    printcolumn = r#"{"name":"Rule","type":"string","jsonPath":".status.ruleName"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Role","type":"string","priority":1,"description":"ARN of the role EventBridge assumes","jsonPath":".status.roleArn"}"#,
    printcolumn = r#"{"name":"Account","type":"string","priority":1,"description":"Account of the target when it is another account (spec.crossAccount)","jsonPath":".spec.crossAccount.targetAccountId"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "has(self.rule) != has(self.schedule)",
     "fieldPath": ".schedule",
     "message": "spec.schedule: set exactly one of spec.rule (an EventBridge rule) and spec.schedule (an EventBridge Scheduler schedule)"},
    {"rule": "!has(self.schedule) || !has(self.targets)",
     "fieldPath": ".targets",
     "message": "spec.targets: a schedule invokes one target: use spec.target"},
    {"rule": "!has(self.schedule) || !has(self.crossAccount)",
     "fieldPath": ".crossAccount",
     "message": "spec.crossAccount: not yet with spec.schedule: the schedule's target must be in the controller's account"},
    {"rule": "!has(self.schedule) || !has(self.target) || !(has(self.target.inputPath) || has(self.target.inputTransformer))",
     "fieldPath": ".target",
     "message": "spec.target: a schedule has no event to take a path or transform from: use input (the JSON the target receives)"},
    {"rule": "!has(self.schedule) || !has(self.target) || has(self.target.lambda) || has(self.target.stepFunctions) || has(self.target.ecs) || has(self.target.kinesis) || has(self.target.firehose) || has(self.target.sqs) || has(self.target.sns)",
     "fieldPath": ".target",
     "message": "spec.target: a schedule invokes a Lambda function, a state machine, an ECS task, a Kinesis or Firehose stream, an SQS queue or an SNS topic; Scheduler cannot call log groups, API Gateway stages or API destinations: use spec.rule with a scheduleExpression for those"},
    {"rule": "!has(self.schedule) || !has(self.schedule.kmsKeyArns) || !has(self.role) || !has(self.role.arn)",
     "fieldPath": ".schedule.kmsKeyArns",
     "message": "spec.schedule.kmsKeyArns: grants keys to the role the controller creates, and spec.role.arn brings a role of yours, which is never modified: allow kms:GenerateDataKey and kms:Decrypt on the keys in your role's policy, and remove kmsKeyArns"},
    {"rule": "!has(self.schedule) || !has(self.schedule.kmsKeyArns) || (has(self.target) && (has(self.target.sqs) || has(self.target.sns) || has(self.target.deadLetterQueueArn)))",
     "fieldPath": ".schedule.kmsKeyArns",
     "message": "spec.schedule.kmsKeyArns: the schedule sends to no queue or topic (neither its target nor a dead-letter queue), so its role uses no key: remove it"},
    {"rule": "!has(self.schedule) || !has(self.target) || !has(self.target.deadLetterQueueArn) || !self.target.deadLetterQueueArn.endsWith('.fifo')",
     "fieldPath": ".target.deadLetterQueueArn",
     "message": "spec.target.deadLetterQueueArn: EventBridge Scheduler sends undelivered invocations only to a standard queue, not a FIFO one"},
    {"rule": "!has(self.schedule) || !has(self.target) || !has(self.target.kinesis) || !has(self.target.kinesis.partitionKeyPath)",
     "fieldPath": ".target.kinesis.partitionKeyPath",
     "message": "spec.target.kinesis.partitionKeyPath: a schedule sends no event to take a path from: name the key itself in partitionKey"},
    {"rule": "!has(self.schedule) || !has(self.target) || !has(self.target.kinesis) || has(self.target.kinesis.partitionKey)",
     "fieldPath": ".target.kinesis.partitionKey",
     "message": "spec.target.kinesis.partitionKey: required with a schedule: Scheduler puts every record under this key"},
    {"rule": "has(self.schedule) || !has(self.target) || !has(self.target.kinesis) || !has(self.target.kinesis.partitionKey)",
     "fieldPath": ".target.kinesis.partitionKey",
     "message": "spec.target.kinesis.partitionKey: a fixed partition key is for a schedule; a rule takes the key from the event: use partitionKeyPath"},
    {"rule": "!has(self.targets) || self.targets.all(t, !has(t.kinesis) || !has(t.kinesis.partitionKey))",
     "fieldPath": ".targets",
     "message": "spec.targets: kinesis.partitionKey is for a schedule; a rule takes the key from the event: use partitionKeyPath"},
    {"rule": "has(self.schedule) || !has(self.target) || (!has(self.target.lambda) || !has(self.role))",
     "fieldPath": ".role",
     "message": "spec.role: Lambda targets are invoked through the function's resource-based policy, not a role; remove spec.role"},
    {"rule": "has(self.schedule) || !has(self.target) || (!has(self.target.sqs) || !has(self.role))",
     "fieldPath": ".role",
     "message": "spec.role: SQS targets are sent to through the queue's policy, not a role; remove spec.role"},
    {"rule": "!has(self.target) || (!has(self.target.sqs) || !has(self.crossAccount) || !has(self.crossAccount.mode) || self.crossAccount.mode != 'EventBusForwarding')",
     "fieldPath": ".target.sqs.queueArn",
     "message": "spec.target.sqs.queueArn: a queue in another account is sent to directly: set spec.crossAccount.mode: DirectDelivery"},
    {"rule": "has(self.schedule) || !has(self.target) || (!has(self.target.sns) || !has(self.role))",
     "fieldPath": ".role",
     "message": "spec.role: SNS targets are published to through the topic's policy, not a role; remove spec.role"},
    {"rule": "!has(self.target) || (!has(self.target.sns) || !has(self.crossAccount) || !has(self.crossAccount.mode) || self.crossAccount.mode != 'EventBusForwarding')",
     "fieldPath": ".target.sns.topicArn",
     "message": "spec.target.sns.topicArn: a topic in another account is published to directly: set spec.crossAccount.mode: DirectDelivery"},
    {"rule": "!has(self.target) || (!has(self.target.kinesis) || !has(self.crossAccount) || !has(self.crossAccount.mode) || self.crossAccount.mode != 'EventBusForwarding')",
     "fieldPath": ".target.kinesis.streamArn",
     "message": "spec.target.kinesis.streamArn: a stream in another account is put to directly: set spec.crossAccount.mode: DirectDelivery"},
    {"rule": "!has(self.target) || (!has(self.target.logs) || !has(self.role))",
     "fieldPath": ".role",
     "message": "spec.role: CloudWatch Logs targets are written to through the account's logs resource policy, not a role; remove spec.role"},
    {"rule": "!has(self.target) || (!has(self.target.logs) || !has(self.crossAccount))",
     "fieldPath": ".target.logs.logGroupArn",
     "message": "spec.target.logs.logGroupArn: cross-account delivery to a log group is not supported; use a log group in the rule's account and remove spec.crossAccount"},
    {"rule": "!has(self.target) || (!has(self.target.apiDestination) || !has(self.crossAccount))",
     "fieldPath": ".target.apiDestination.endpoint",
     "message": "spec.target.apiDestination.endpoint: an API destination is an HTTPS endpoint called from the rule's account; remove spec.crossAccount"},
    {"rule": "!has(self.target) || (!has(self.target.apiGateway) || !has(self.crossAccount) || !has(self.crossAccount.mode) || self.crossAccount.mode != 'EventBusForwarding')",
     "fieldPath": ".target.apiGateway.restApiArn",
     "message": "spec.target.apiGateway.restApiArn: a REST API in another account is called directly: set spec.crossAccount.mode: DirectDelivery"},
    {"rule": "!has(self.target) || (!has(self.crossAccount) || !has(self.crossAccount.mode) || self.crossAccount.mode == 'EventBusForwarding' || has(self.target.lambda) || has(self.target.sqs) || has(self.target.sns) || has(self.target.kinesis) || has(self.target.apiGateway))",
     "fieldPath": ".crossAccount.mode",
     "message": "spec.crossAccount.mode: EventBridge delivers directly to a Lambda function, SQS queue, SNS topic, Kinesis stream or API Gateway REST API of another account, and reaches ECS and Step Functions there only bus to bus; use mode EventBusForwarding"},
    {"rule": "!has(self.target) || (!has(self.crossAccount) || !has(self.crossAccount.targetEventBusName) || (has(self.crossAccount.mode) ? self.crossAccount.mode == 'EventBusForwarding' : !(has(self.target.lambda) || has(self.target.sqs) || has(self.target.sns) || has(self.target.kinesis) || has(self.target.apiGateway))))",
     "fieldPath": ".crossAccount.targetEventBusName",
     "message": "spec.crossAccount.targetEventBusName: applies to mode EventBusForwarding (a function, queue, topic, stream or REST API of another account is delivered to directly by default); remove it, or set mode: EventBusForwarding for a Lambda function"},
    {"rule": "!has(self.crossAccount) || !has(self.role) || !has(self.role.arn)",
     "fieldPath": ".role.arn",
     "message": "spec.role.arn: a bring-your-own role is not supported with spec.crossAccount (the controller creates the roles in both accounts); remove spec.role.arn"},
    {"rule": "!has(self.target) || (!has(self.region) || [has(self.target.ecs) ? self.target.ecs.clusterArn : '', has(self.target.stepFunctions) ? self.target.stepFunctions.stateMachineArn : '', has(self.target.lambda) ? self.target.lambda.functionArn : '', has(self.target.sqs) ? self.target.sqs.queueArn : '', has(self.target.sns) ? self.target.sns.topicArn : '', has(self.target.kinesis) ? self.target.kinesis.streamArn : '', has(self.target.firehose) ? self.target.firehose.deliveryStreamArn : '', has(self.target.apiGateway) ? self.target.apiGateway.restApiArn : '', has(self.target.logs) ? self.target.logs.logGroupArn : ''].all(a, a == '' || a.split(':')[3] == self.region))",
     "fieldPath": ".region",
     "message": "spec.region: the target is in another region; EventBridge targets are regional: set spec.region to the target's region"},
    {"rule": "!has(self.target) || (!has(self.region) || !has(self.target.deadLetterQueueArn) || self.target.deadLetterQueueArn.split(':')[3] == self.region)",
     "fieldPath": ".target.deadLetterQueueArn",
     "message": "spec.target.deadLetterQueueArn: EventBridge only sends to a dead-letter queue in the rule's region; use a queue in spec.region"},
    {"rule": "!has(self.target) || (!has(self.crossAccount) || [has(self.target.ecs) ? self.target.ecs.clusterArn : '', has(self.target.stepFunctions) ? self.target.stepFunctions.stateMachineArn : '', has(self.target.lambda) ? self.target.lambda.functionArn : '', has(self.target.sqs) ? self.target.sqs.queueArn : '', has(self.target.sns) ? self.target.sns.topicArn : '', has(self.target.kinesis) ? self.target.kinesis.streamArn : '', has(self.target.firehose) ? self.target.firehose.deliveryStreamArn : ''].all(a, a == '' || a.split(':')[4] == self.crossAccount.targetAccountId))",
     "fieldPath": ".crossAccount.targetAccountId",
     "message": "spec.crossAccount.targetAccountId: the target is in another account; set targetAccountId to the account in the target's ARN"},
    {"rule": "!has(self.crossAccount) || !has(self.crossAccount.provisioningRoleArn) || self.crossAccount.provisioningRoleArn.split(':')[4] == self.crossAccount.targetAccountId",
     "fieldPath": ".crossAccount.provisioningRoleArn",
     "message": "spec.crossAccount.provisioningRoleArn: must be a role in the target account (spec.crossAccount.targetAccountId)"},
    {"rule": "has(self.target) != has(self.targets)",
     "fieldPath": ".targets",
     "message": "spec.targets: set exactly one of spec.target (one target) and spec.targets (up to five)"},
    {"rule": "!has(self.targets) || self.targets.all(t, has(t.id)) && self.targets.all(a, self.targets.exists_one(b, b.id == a.id))",
     "fieldPath": ".targets",
     "message": "spec.targets: every target needs an id, unique on the rule"},
    {"rule": "!has(self.targets) || !has(self.crossAccount) || has(self.crossAccount.mode) || self.targets.all(t, has(t.lambda) || has(t.sqs) || has(t.sns) || has(t.kinesis) || has(t.apiGateway)) || self.targets.all(t, !has(t.lambda) && !has(t.sqs) && !has(t.sns) && !has(t.kinesis) && !has(t.apiGateway))",
     "fieldPath": ".crossAccount.mode",
     "message": "spec.crossAccount.mode: the targets take different modes by default (DirectDelivery for a function, queue, topic, stream or REST API; EventBusForwarding for the rest), and one rule does one: split the list (a queue, topic, stream or REST API of another account is delivered to directly only; a function may also be forwarded, with mode EventBusForwarding)"},
    {"rule": "!has(self.targets) || !has(self.role) || self.targets.exists(t, has(t.ecs) || has(t.stepFunctions) || has(t.kinesis) || has(t.firehose) || has(t.apiGateway) || has(t.apiDestination))",
     "fieldPath": ".role",
     "message": "spec.role: none of spec.targets is invoked through a role (Lambda, SQS, SNS and log groups are granted by their own policies); remove spec.role"},
]))]
pub struct EventBridgeIntegrationSpec {
    /// AWS region of the rule and its target. Default: the controller's region (AWS_REGION).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::iam::REGION_PATTERN))]
    pub region: Option<String>,

    /// The EventBridge rule: what triggers the target. Set this or `schedule`.
    #[serde(default, skip_serializing_if = "RuleSpec::is_unset")]
    pub rule: RuleSpec,

    /// An EventBridge Scheduler schedule instead of a rule: time zones, one-time `at()`
    /// schedules, flexible windows, start and end dates. Set this or `rule`; one `target`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSpec>,

    /// The rule's target: exactly one of `ecs`, `stepFunctions`, `lambda`, `sqs`, `sns`,
    /// `kinesis`, `firehose`, `apiGateway`, `logs` or `apiDestination`. Set this or `targets`.
    #[serde(default, skip_serializing_if = "TargetSpec::is_unset")]
    pub target: TargetSpec,

    /// Up to five targets of the rule, each of the same shape as `target` with its own `id`
    /// (unique): one role holds what every target needs, and a target removed from the list
    /// leaves the rule with its grants. Set this or `target`. With `crossAccount`, every
    /// target is in the target account and the list takes one mode. Each API destination of
    /// the list is named as the rule and its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 5))]
    pub targets: Option<Vec<TargetSpec>>,

    /// The IAM role EventBridge assumes to invoke an ECS or Step Functions target.
    /// Omit it to let the controller create a least-privilege role; set `arn` to bring your
    /// own role, which is then never modified, only diagnosed. Not used for Lambda.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleSpec>,

    /// Take over AWS resources of the same name that carry no owner tag. Default false:
    /// such resources are left alone and the object reports `ResourceNotOwned`.
    #[serde(default)]
    pub adopt_existing: bool,

    /// What happens to the AWS resources when this object is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// The target lives in another account. The controller reaches that account by assuming
    /// `provisioningRoleArn` and builds both halves of the integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_account: Option<CrossAccountSpec>,
}

/// How the rule in this account reaches a target in another account.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "(has(self.mode) && self.mode == 'RoleChain') || !has(self.targetRoleName)",
     "fieldPath": ".targetRoleName",
     "message": "spec.crossAccount.targetRoleName: no role is created in the target account (EventBridge never assumes one there); remove it"}
]))]
pub struct CrossAccountSpec {
    /// The account of the target (12 digits).
    #[schemars(regex(pattern = r"^\d{12}$"))]
    pub target_account_id: String,

    /// `EventBusForwarding` (EventBridge's path for every target kind): the rule here
    /// forwards to the target account's event bus, whose policy admits this account, and a
    /// rule there invokes the target. `DirectDelivery` (Lambda, SQS, SNS, Kinesis, API Gateway;
    /// same region): the rule here invokes the target with an execution role of this account,
    /// which the target's own policy names; EventBridge never assumes a role in the target
    /// account.
    /// `RoleChain`: the former name of `DirectDelivery`, which also created a role in the
    /// target account trusting the execution role; EventBridge never used it, so it is no
    /// longer created, and one an earlier version created is removed.
    /// Default: DirectDelivery for a Lambda function, SQS queue, SNS topic, Kinesis stream or
    /// API Gateway REST API, EventBusForwarding for every other kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<CrossAccountMode>,

    /// EventBusForwarding: the event bus in the target account. Default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[/.\-_A-Za-z0-9]{1,256}$"))]
    pub target_event_bus_name: Option<String>,

    /// Deprecated, ignored: the name of the role RoleChain created in the target account,
    /// which is no longer created (EventBridge never assumed it). Accepted with mode
    /// RoleChain only, so that objects written for an earlier version still apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[\w+=,.@-]{1,64}$"))]
    pub target_role_name: Option<String>,

    /// A role in the target account the controller assumes to act there. Under
    /// `--policy-mode enforce` it may be omitted: the role of the
    /// EventBridgeIntegrationPolicy's entry for the target account is used (a role given
    /// here must match that entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ROLE_ARN_PATTERN))]
    pub provisioning_role_arn: Option<String>,

    /// External ID the provisioning role's trust policy requires, if any. Refused under
    /// `--policy-mode enforce`, where the external ID comes from the policy's Secret and is
    /// never written into an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224))]
    pub external_id: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum CrossAccountMode {
    EventBusForwarding,
    DirectDelivery,
    /// The former name of `DirectDelivery`.
    RoleChain,
}

impl EventBridgeIntegrationSpec {
    /// Each target with the field path that names it (`spec.target`, or `spec.targets[i]`).
    pub fn target_entries(&self) -> Vec<(String, &TargetSpec)> {
        match &self.targets {
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("spec.targets[{i}]"), t))
                .collect(),
            None => vec![("spec.target".to_string(), &self.target)],
        }
    }

    /// The kinds of the targets, for status and metrics (`Lambda`, or `Lambda,SQS` for a
    /// list); None when one is not a single kind.
    pub fn kinds_label(&self) -> Option<String> {
        let kinds: Option<Vec<&str>> = self
            .target_entries()
            .iter()
            .map(|(_, t)| t.kind().map(TargetKind::as_str))
            .collect();
        kinds.map(|k| k.join(","))
    }
}

impl CrossAccountMode {
    /// Whether the rule here invokes the target in the other account itself.
    pub fn is_direct(self) -> bool {
        matches!(
            self,
            CrossAccountMode::DirectDelivery | CrossAccountMode::RoleChain
        )
    }
}

/// When the object is deleted: `Delete` removes every AWS resource the controller created;
/// `Retain` leaves them in place and releases them: the owner-UID tag is removed, so no
/// orphan sweep ever takes them.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    #[default]
    Delete,
    Retain,
}

/// The EventBridge rule. Exactly one of `eventPattern` and `scheduleExpression`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend(
    "oneOf" = [{"required": ["eventPattern"]}, {"required": ["scheduleExpression"]}],
    "x-kubernetes-validations" = [
        {"rule": "!has(self.scheduleExpression) || !has(self.eventBusName) || self.eventBusName == 'default'",
         "fieldPath": ".eventBusName",
         "message": "spec.rule.eventBusName: scheduled rules run only on the default event bus; remove eventBusName"},
        {"rule": "!has(self.scheduleExpression) || !self.scheduleExpression.startsWith('rate(') || self.scheduleExpression.matches('^rate\\\\(1 (minute|hour|day)\\\\)$') || self.scheduleExpression.matches('^rate\\\\(([2-9]|[1-9][0-9]+) (minutes|hours|days)\\\\)$')",
         "fieldPath": ".scheduleExpression",
         "message": "spec.rule.scheduleExpression: rate(1 minute|hour|day) is singular, rate(N minutes|hours|days) plural for N > 1"},
        {"rule": "!has(self.eventPattern) || size(self.eventPattern) > 0",
         "fieldPath": ".eventPattern",
         "message": "spec.rule.eventPattern: must be a non-empty JSON object such as {\"source\": [\"aws.s3\"]}"}
    ]
))]
pub struct RuleSpec {
    /// Rule name. Default: derived from the namespace and name of this object (stable, unique).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = NAME_PATTERN))]
    pub name: Option<String>,

    /// Event bus of the rule. Default: `default`. Schedules only run on the default bus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[/.\-_A-Za-z0-9]{1,256}$"))]
    pub event_bus_name: Option<String>,

    /// Rule description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub description: Option<String>,

    /// Event pattern (a JSON object), as in the EventBridge console, e.g.
    /// `{"source": ["aws.s3"], "detail-type": ["Object Created"]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "json_object")]
    pub event_pattern: Option<serde_json::Value>,

    /// Schedule: `rate(N minute|minutes|hour|hours|day|days)` or a six-field `cron(...)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = SCHEDULE_PATTERN
    ))]
    pub schedule_expression: Option<String>,

    /// Whether the rule is enabled. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl Default for RuleSpec {
    fn default() -> RuleSpec {
        RuleSpec {
            name: None,
            event_bus_name: None,
            description: None,
            event_pattern: None,
            schedule_expression: None,
            enabled: true,
        }
    }
}

impl RuleSpec {
    /// Not given (the spec has a `schedule` instead).
    pub fn is_unset(&self) -> bool {
        *self == RuleSpec::default()
    }
}

/// An EventBridge Scheduler schedule: what invokes the target, at what times.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend(
    "x-kubernetes-validations" = [
        {"rule": "!has(self.timezone) || !self.expression.startsWith('rate(')",
         "fieldPath": ".timezone",
         "message": "spec.schedule.timezone: applies to cron() and at() expressions; a rate() runs at fixed intervals: remove it"}
    ]
))]
pub struct ScheduleSpec {
    /// `rate(5 minutes)`, a six-field `cron(0 9 ? * MON-FRI *)`, or `at(2027-01-01T09:00:00)`
    /// for once.
    #[schemars(regex(pattern = SCHEDULER_EXPRESSION_PATTERN))]
    pub expression: String,

    /// The IANA time zone `cron()` and `at()` are read in, e.g. `Europe/Paris`. Default UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$"),
        length(max = 50)
    )]
    pub timezone: Option<String>,

    /// `mode: FLEXIBLE` with `maximumWindowInMinutes` (1 to 1440): the target is invoked at
    /// some time in that window after each scheduled time, spreading load. Default: on time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flexible_time_window: Option<FlexibleTimeWindow>,

    /// No invocation before this instant (`2027-01-01T00:00:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INSTANT_PATTERN))]
    pub start_date: Option<String>,

    /// No invocation after this instant (`2027-12-31T23:59:59Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = INSTANT_PATTERN))]
    pub end_date: Option<String>,

    /// The schedule group the schedule is created in (it must exist). Default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-zA-Z\-_.]{1,64}$"))]
    pub group: Option<String>,

    /// Whether the schedule is enabled. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// The customer managed KMS keys (key ARNs) of the queue, topic or dead-letter queue the
    /// schedule sends to. SQS and SNS use a key as the schedule's role, not as a service, so
    /// the role created for the schedule may use these (`kms:GenerateDataKey` and
    /// `kms:Decrypt`, through SQS or SNS only), and the key policy must grant the account
    /// (as AWS's default key policy does) or the role. Not needed for SSE-SQS or the AWS
    /// managed keys (`alias/aws/sqs`, `alias/aws/sns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2), inner(regex(pattern = KMS_KEY_ARN_PATTERN)))]
    pub kms_key_arns: Option<Vec<String>>,
}

/// A KMS key's ARN (not an alias: an IAM policy grants a key by its ARN).
pub const KMS_KEY_ARN_PATTERN: &str =
    r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,128}$";

/// `rate(…)`, `cron(…)` or `at(yyyy-mm-ddThh:mm:ss)`.
pub const SCHEDULER_EXPRESSION_PATTERN: &str = r"^(rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\)|at\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\))$";
/// An instant in UTC, to the second.
pub const INSTANT_PATTERN: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$";

/// Scheduler's flexible time window.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend(
    "x-kubernetes-validations" = [
        {"rule": "(self.mode == 'FLEXIBLE') == has(self.maximumWindowInMinutes)",
         "fieldPath": ".maximumWindowInMinutes",
         "message": "spec.schedule.flexibleTimeWindow.maximumWindowInMinutes: required exactly with mode FLEXIBLE (1 to 1440)"}
    ]
))]
pub struct FlexibleTimeWindow {
    /// `OFF` (on time) or `FLEXIBLE`.
    pub mode: FlexibleMode,
    /// With `FLEXIBLE`: the window's length, 1 to 1440 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1440))]
    pub maximum_window_in_minutes: Option<i32>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(
    clippy::upper_case_acronyms,
    reason = "Scheduler's own spelling, as users write it"
)]
pub enum FlexibleMode {
    OFF,
    FLEXIBLE,
}

impl FlexibleMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FlexibleMode::OFF => "OFF",
            FlexibleMode::FLEXIBLE => "FLEXIBLE",
        }
    }
}

/// A target of the rule. Exactly one of `ecs`, `stepFunctions`, `lambda`, `sqs`, `sns`,
/// `kinesis`, `firehose`, `apiGateway`, `logs`, `apiDestination`; at most one of `input`, `inputPath`, `inputTransformer`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend(
    "oneOf" = [{"required": ["ecs"]}, {"required": ["stepFunctions"]}, {"required": ["lambda"]}, {"required": ["sqs"]}, {"required": ["sns"]}, {"required": ["kinesis"]}, {"required": ["firehose"]}, {"required": ["apiGateway"]}, {"required": ["logs"]}, {"required": ["apiDestination"]}],
    "not" = {"anyOf": [
        {"required": ["input", "inputPath"]},
        {"required": ["input", "inputTransformer"]},
        {"required": ["inputPath", "inputTransformer"]}
    ]}
))]
pub struct TargetSpec {
    /// Target ID on the rule. Default `1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = NAME_PATTERN))]
    pub id: Option<String>,

    /// Run an ECS task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs: Option<EcsTarget>,

    /// Start a Step Functions state machine execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_functions: Option<StepFunctionsTarget>,

    /// Invoke a Lambda function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<LambdaTarget>,

    /// Send to an SQS queue (standard or FIFO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs: Option<SqsTarget>,

    /// Publish to an SNS topic (standard or FIFO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sns: Option<SnsTarget>,

    /// Put each event as a record in a Kinesis data stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis: Option<KinesisTarget>,

    /// Put events as records in an Amazon Data Firehose stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firehose: Option<FirehoseTarget>,

    /// Call a method of an API Gateway REST API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_gateway: Option<ApiGatewayTarget>,

    /// Write each event to a CloudWatch Logs log group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<LogsTarget>,

    /// Call an HTTPS endpoint outside AWS (an EventBridge API destination and its connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_destination: Option<ApiDestinationTarget>,

    /// Constant JSON passed to the target instead of the event: any JSON value (object, array,
    /// string, number), so the schema gives it no single type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_json")]
    pub input: Option<serde_json::Value>,

    /// JSONPath of the part of the event to pass, e.g. `$.detail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub input_path: Option<String>,

    /// Input transformer: values extracted from the event into a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<InputTransformer>,

    /// Retry policy for failed invocations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,

    /// SQS queue that receives events that could not be delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = QUEUE_ARN_PATTERN
    ))]
    pub dead_letter_queue_arn: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputTransformer {
    /// Names to JSONPaths into the event, e.g. `{"id": "$.detail.id"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_paths_map: Option<BTreeMap<String, String>>,
    /// Template using `<name>` placeholders from `inputPathsMap`.
    #[schemars(length(min = 1, max = 8192))]
    pub input_template: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Retries before the event is dropped or sent to the dead-letter queue (0-185).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 185))]
    pub maximum_retry_attempts: Option<i32>,
    /// Maximum age of an event still retried, in seconds (60-86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 60, max = 86400))]
    pub maximum_event_age_in_seconds: Option<i32>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.launchType != 'FARGATE' || has(self.networkConfiguration)",
     "fieldPath": ".networkConfiguration",
     "message": "spec.target.ecs.networkConfiguration: FARGATE tasks use awsvpc networking: set networkConfiguration.subnets"},
    {"rule": "self.taskDefinitionScope != 'Revision' || self.taskDefinitionArn.matches(':[1-9][0-9]*$')",
     "fieldPath": ".taskDefinitionArn",
     "message": "spec.target.ecs.taskDefinitionArn: taskDefinitionScope Revision needs a revision in the ARN (…:task-definition/NAME:REVISION)"}
]))]
pub struct EcsTarget {
    /// ARN of the ECS cluster, with its account ID.
    #[schemars(regex(
        pattern = CLUSTER_ARN_PATTERN
    ))]
    pub cluster_arn: String,

    /// ARN of the task definition, with or without a revision.
    #[schemars(regex(
        pattern = TASK_DEFINITION_ARN_PATTERN
    ))]
    pub task_definition_arn: String,

    /// Launch type. Default FARGATE (which requires `networkConfiguration`).
    #[serde(default)]
    pub launch_type: LaunchType,

    /// Tasks to start per event (1-10). Default 1.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 10))]
    pub task_count: i32,

    /// Fargate platform version, e.g. `LATEST` or `1.4.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(LATEST|[0-9]+\.[0-9]+\.[0-9]+)$"))]
    pub platform_version: Option<String>,

    /// awsvpc network configuration; required for FARGATE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<NetworkConfiguration>,

    /// Roles the task needs passed (`iam:PassRole`). Default: the task definition's
    /// `executionRoleArn` and `taskRoleArn`, read with `ecs:DescribeTaskDefinition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(regex(pattern = ROLE_ARN_PATTERN)))]
    pub pass_role_arns: Option<Vec<String>>,

    /// Scope of `ecs:RunTask` in the generated policy: `Family` allows every revision of the
    /// task definition's family (`task-definition/NAME:*`), `Revision` only the exact ARN.
    #[serde(default)]
    pub task_definition_scope: TaskDefinitionScope,
}

fn one() -> i32 {
    1
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum LaunchType {
    #[default]
    FARGATE,
    EC2,
    EXTERNAL,
}

impl LaunchType {
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchType::FARGATE => "FARGATE",
            LaunchType::EC2 => "EC2",
            LaunchType::EXTERNAL => "EXTERNAL",
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum TaskDefinitionScope {
    #[default]
    Family,
    Revision,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfiguration {
    /// Subnet IDs (1-16).
    #[schemars(
        length(min = 1, max = 16),
        inner(regex(pattern = r"^subnet-[0-9a-f]{1,32}$"))
    )]
    pub subnets: Vec<String>,
    /// Security group IDs (up to 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 5), inner(regex(pattern = r"^sg-[0-9a-f]{1,32}$")))]
    pub security_groups: Option<Vec<String>>,
    /// Whether the task gets a public IP (Fargate only). Default DISABLED, as in AWS.
    #[serde(default)]
    pub assign_public_ip: AssignPublicIp,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum AssignPublicIp {
    ENABLED,
    #[default]
    DISABLED,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepFunctionsTarget {
    /// ARN of the state machine, with its account ID.
    #[schemars(regex(
        pattern = STATE_MACHINE_ARN_PATTERN
    ))]
    pub state_machine_arn: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LambdaTarget {
    /// ARN of the function. A qualified ARN (`:alias` or `:version`) is invoked as such, and
    /// the invoke permission is granted on exactly that qualifier.
    #[schemars(regex(
        pattern = FUNCTION_ARN_PATTERN
    ))]
    pub function_arn: String,
}

/// An SQS queue: EventBridge sends through the queue's policy (no role), where the controller
/// keeps one statement of its own (`events.amazonaws.com`, `sqs:SendMessage`, `aws:SourceArn`
/// = the rule) beside the others, kept verbatim.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.queueArn.endsWith('.fifo') == has(self.messageGroupId)",
     "fieldPath": ".messageGroupId",
     "message": "spec.target.sqs.messageGroupId: required for a FIFO queue (name ending in .fifo), and applies only to one; set it for a FIFO queue, remove it for a standard one"}
]))]
pub struct SqsTarget {
    /// ARN of the queue, in the rule's account and region.
    #[schemars(regex(pattern = QUEUE_ARN_PATTERN))]
    pub queue_arn: String,

    /// The message group of the events, for a FIFO queue (required there, refused for a
    /// standard queue). The queue needs content-based deduplication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub message_group_id: Option<String>,
}

/// An SNS topic: EventBridge publishes through the topic's policy (no role), where the
/// controller keeps one statement of its own (`events.amazonaws.com`, `sns:Publish`,
/// `aws:SourceArn` = the rule) beside the others, kept verbatim.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.topicArn.endsWith('.fifo') == has(self.messageGroupId)",
     "fieldPath": ".messageGroupId",
     "message": "spec.target.sns.messageGroupId: required for a FIFO topic (name ending in .fifo), and applies only to one; set it for a FIFO topic, remove it for a standard one"}
]))]
pub struct SnsTarget {
    /// ARN of the topic, in the rule's account and region.
    #[schemars(regex(pattern = TOPIC_ARN_PATTERN))]
    pub topic_arn: String,

    /// The message group of the events, for a FIFO topic (required there, refused for a
    /// standard topic). The topic needs content-based deduplication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub message_group_id: Option<String>,
}

/// A Kinesis data stream: EventBridge puts each event as one record with the integration's
/// role, which gets `kinesis:PutRecord` on this stream only.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KinesisTarget {
    /// ARN of the stream, in the rule's account and region.
    #[schemars(regex(pattern = STREAM_ARN_PATTERN))]
    pub stream_arn: String,

    /// JSONPath of the event field whose value is the record's partition key (which shard it
    /// goes to), e.g. `$.detail.orderId`. Default: EventBridge uses the event's ID, which
    /// spreads events over the shards with no order between related ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^\$"))]
    pub partition_key_path: Option<String>,

    /// The record's partition key itself, for a schedule (`spec.schedule`, where it is
    /// required): a schedule sends no event to take a path from. Not with a rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub partition_key: Option<String>,
}

/// An Amazon Data Firehose stream: EventBridge puts events to it with the integration's
/// role, which gets `firehose:PutRecord` and `firehose:PutRecordBatch` on this stream only.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseTarget {
    /// ARN of the stream (`arn:aws:firehose:REGION:ACCOUNT_ID:deliverystream/NAME`), in the
    /// rule's region; in another account, reached bus to bus.
    #[schemars(regex(pattern = FIREHOSE_STREAM_ARN_PATTERN))]
    pub delivery_stream_arn: String,
}

/// A method of an API Gateway REST API: EventBridge calls it with the integration's role,
/// which gets `execute-api:Invoke` on exactly this stage, method and path. An API of another
/// account (`spec.crossAccount`) is called directly: its resource policy gets a statement
/// naming that role and method, in effect once the stage is deployed again.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiGatewayTarget {
    /// ARN of the REST API (`arn:aws:apigateway:REGION::/restapis/API_ID`, as API Gateway
    /// writes it, without an account: the API is in the rule's account, or in
    /// `spec.crossAccount.targetAccountId`).
    #[schemars(regex(pattern = REST_API_ARN_PATTERN))]
    pub rest_api_arn: String,

    /// The deployed stage, e.g. `prod`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,128}$"))]
    pub stage: String,

    /// The HTTP method, or `ANY` for every method of the resource.
    pub method: HttpMethod,

    /// The resource path, from `/`, e.g. `/orders`; a path parameter is `*`
    /// (`/orders/*/items`), its value in `pathParameterValues`.
    // Go's regexp (the API server's) allows repeat counts up to 1000: the length is separate.
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$")
    )]
    pub path: String,

    /// The values of the path's `*` segments, in order (as many as there are `*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_parameter_values: Vec<String>,

    /// Headers added to the request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub header_parameters: BTreeMap<String, String>,

    /// Query string parameters added to the request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query_string_parameters: BTreeMap<String, String>,
}

/// A CloudWatch Logs log group in the rule's account: EventBridge writes each event to a log
/// stream of its own there, through the account's CloudWatch Logs resource policy (no role),
/// where the controller keeps one statement of its own in a policy of its name.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogsTarget {
    /// ARN of the log group, e.g. `arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/orders`
    /// (a trailing `:*` is accepted).
    #[schemars(regex(pattern = LOG_GROUP_ARN_PATTERN))]
    pub log_group_arn: String,
}

/// An HTTPS endpoint outside AWS, called through an EventBridge API destination: the
/// controller creates the connection (its credentials read from a Kubernetes Secret, never
/// written in the spec) and the API destination, and the integration's role gets
/// `events:InvokeApiDestination` on this destination only.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "self.endpoint.startsWith('https://')",
     "fieldPath": ".endpoint",
     "message": "spec.target.apiDestination.endpoint: EventBridge calls HTTPS endpoints only; use an https:// URL"}
]))]
pub struct ApiDestinationTarget {
    /// The URL called, `https://…`; a path parameter is `*`, its value in
    /// `pathParameterValues`.
    #[schemars(
        length(min = 9, max = 2048),
        regex(pattern = r"^https://[A-Za-z0-9%()_.!~*';/?:@&=+$,-]+$")
    )]
    pub endpoint: String,

    /// The HTTP method of the call.
    pub http_method: ApiDestinationMethod,

    /// The most calls a second EventBridge makes to the endpoint (1 to 300). Default 300;
    /// events beyond it wait, up to the retry policy's event age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 300))]
    pub invocation_rate_limit_per_second: Option<i32>,

    /// How EventBridge authenticates to the endpoint.
    pub connection: ConnectionSpec,

    /// The values of the endpoint's `*` segments, in order (as many as there are `*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_parameter_values: Vec<String>,

    /// Headers added to the request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub header_parameters: BTreeMap<String, String>,

    /// Query string parameters added to the request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query_string_parameters: BTreeMap<String, String>,
}

/// An API destination's HTTP method.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum ApiDestinationMethod {
    GET,
    POST,
    PUT,
    PATCH,
    DELETE,
    HEAD,
    OPTIONS,
}

impl ApiDestinationMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiDestinationMethod::GET => "GET",
            ApiDestinationMethod::POST => "POST",
            ApiDestinationMethod::PUT => "PUT",
            ApiDestinationMethod::PATCH => "PATCH",
            ApiDestinationMethod::DELETE => "DELETE",
            ApiDestinationMethod::HEAD => "HEAD",
            ApiDestinationMethod::OPTIONS => "OPTIONS",
        }
    }
}

/// The EventBridge connection of an API destination: its authorization, with the
/// credentials in a Secret of the object's namespace (keys by type: `API_KEY`: `apiKeyName`,
/// `apiKeyValue`; `BASIC`: `username`, `password`; `OAUTH_CLIENT_CREDENTIALS`: `clientId`,
/// `clientSecret`). A change of the Secret is written to the connection at the next pass.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "(self.authorizationType == 'OAUTH_CLIENT_CREDENTIALS') == has(self.oauth)",
     "fieldPath": ".oauth",
     "message": "spec.target.apiDestination.connection.oauth: required exactly when authorizationType is OAUTH_CLIENT_CREDENTIALS (the token endpoint and its method)"}
]))]
pub struct ConnectionSpec {
    /// `API_KEY`, `BASIC` or `OAUTH_CLIENT_CREDENTIALS`.
    pub authorization_type: AuthorizationType,

    /// The Secret, in the object's namespace, holding the credentials.
    pub secret_ref: LocalSecretRef,

    /// OAuth client credentials: where EventBridge gets its token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthSpec>,
}

/// How EventBridge authorizes its calls to an API destination.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum AuthorizationType {
    API_KEY,
    BASIC,
    OAUTH_CLIENT_CREDENTIALS,
}

impl AuthorizationType {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizationType::API_KEY => "API_KEY",
            AuthorizationType::BASIC => "BASIC",
            AuthorizationType::OAUTH_CLIENT_CREDENTIALS => "OAUTH_CLIENT_CREDENTIALS",
        }
    }

    /// The Secret's keys the type reads, in the order AWS's parameters take them.
    pub fn secret_keys(self) -> [&'static str; 2] {
        match self {
            AuthorizationType::API_KEY => ["apiKeyName", "apiKeyValue"],
            AuthorizationType::BASIC => ["username", "password"],
            AuthorizationType::OAUTH_CLIENT_CREDENTIALS => ["clientId", "clientSecret"],
        }
    }
}

/// A Secret of the object's own namespace (no other namespace's Secret can be named).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalSecretRef {
    /// The Secret's name.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"))]
    pub name: String,
}

/// The OAuth token endpoint of a connection.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuthSpec {
    /// The token endpoint, `https://…`.
    #[schemars(
        length(min = 9, max = 2048),
        regex(pattern = r"^https://[A-Za-z0-9%()_.!~*';/?:@&=+$,-]+$")
    )]
    pub authorization_endpoint: String,

    /// `GET`, `POST` or `PUT`.
    pub http_method: OAuthMethod,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum OAuthMethod {
    GET,
    POST,
    PUT,
}

impl OAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthMethod::GET => "GET",
            OAuthMethod::POST => "POST",
            OAuthMethod::PUT => "PUT",
        }
    }
}

/// An HTTP method of API Gateway; `ANY` is every method of the resource.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum HttpMethod {
    GET,
    POST,
    PUT,
    PATCH,
    DELETE,
    HEAD,
    OPTIONS,
    ANY,
}

impl HttpMethod {
    /// As the method appears in an `execute-api` ARN (`*` for ANY).
    pub fn in_arn(self) -> &'static str {
        match self {
            HttpMethod::GET => "GET",
            HttpMethod::POST => "POST",
            HttpMethod::PUT => "PUT",
            HttpMethod::PATCH => "PATCH",
            HttpMethod::DELETE => "DELETE",
            HttpMethod::HEAD => "HEAD",
            HttpMethod::OPTIONS => "OPTIONS",
            HttpMethod::ANY => "*",
        }
    }
}

/// The IAM role EventBridge assumes. At most one of `name` and `arn`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend(
    "not" = {"required": ["name", "arn"]},
    "x-kubernetes-validations" = [
        {"rule": "!has(self.arn) || (!has(self.path) && !has(self.permissionsBoundaryArn))",
         "message": "spec.role: path and permissionsBoundaryArn apply to a role the controller creates; a bring-your-own role (arn) is never modified"}
    ]
))]
pub struct RoleSpec {
    /// Name of the role the controller creates. Default: derived from namespace and name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[\w+=,.@-]{1,64}$"))]
    pub name: Option<String>,

    /// IAM path of the created role. Default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/([\x21-\x7E]{0,510}/)?$"))]
    pub path: Option<String>,

    /// Permissions boundary for the created role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = POLICY_ARN_PATTERN))]
    pub permissions_boundary_arn: Option<String>,

    /// Bring your own role: the controller uses it as is, never modifies it, and diagnoses
    /// whether EventBridge could use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ROLE_ARN_PATTERN))]
    pub arn: Option<String>,
}

/// A JSON object with values of any kind. Written as a map of preserved values rather than a
/// preserved object: API servers publish a preserved object to OpenAPI v2 without its type,
/// so `kubectl explain` showed `<>`; a map shows `<map[string]>`. Both keep every value.
fn json_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "additionalProperties": {"x-kubernetes-preserve-unknown-fields": true}})
}

fn any_json(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"x-kubernetes-preserve-unknown-fields": true})
}

/// The kind of target, as shown in `kubectl get ebi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    Ecs,
    StepFunctions,
    Lambda,
    Sqs,
    Sns,
    Kinesis,
    Firehose,
    ApiGateway,
    Logs,
    ApiDestination,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Ecs => "ECS",
            TargetKind::StepFunctions => "StepFunctions",
            TargetKind::Lambda => "Lambda",
            TargetKind::Sqs => "SQS",
            TargetKind::Sns => "SNS",
            TargetKind::Kinesis => "Kinesis",
            TargetKind::Firehose => "Firehose",
            TargetKind::ApiGateway => "APIGateway",
            TargetKind::Logs => "Logs",
            TargetKind::ApiDestination => "APIDestination",
        }
    }
}

impl TargetSpec {
    /// Nothing set: the spec gives its targets as `targets`.
    pub fn is_unset(&self) -> bool {
        *self == TargetSpec::default()
    }

    /// The one kind set, if exactly one is.
    pub fn kind(&self) -> Option<TargetKind> {
        let set = [
            (self.ecs.is_some(), TargetKind::Ecs),
            (self.step_functions.is_some(), TargetKind::StepFunctions),
            (self.lambda.is_some(), TargetKind::Lambda),
            (self.sqs.is_some(), TargetKind::Sqs),
            (self.sns.is_some(), TargetKind::Sns),
            (self.kinesis.is_some(), TargetKind::Kinesis),
            (self.firehose.is_some(), TargetKind::Firehose),
            (self.api_gateway.is_some(), TargetKind::ApiGateway),
            (self.logs.is_some(), TargetKind::Logs),
            (self.api_destination.is_some(), TargetKind::ApiDestination),
        ];
        let mut kinds = set
            .into_iter()
            .filter(|(is_set, _)| *is_set)
            .map(|(_, k)| k);
        match (kinds.next(), kinds.next()) {
            (Some(kind), None) => Some(kind),
            _ => None,
        }
    }
}
