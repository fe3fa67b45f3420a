//! What the engine reasons over: the state of the rule's account(s) as far as this rule
//! is concerned. Built from the AWS SDK (controller, online `diagnose`) or from AWS CLI
//! output (offline `diagnose --bundle`). The snapshot is the whole truth: a role it does
//! not list does not exist; a function with no policy entry has no resource policy.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub rule: Option<Rule>,
    pub targets: Vec<Target>,
    /// Keyed by role ARN.
    pub roles: BTreeMap<String, Role>,
    /// Function policy documents, keyed by the function ARN exactly as the target uses it.
    pub lambda_policies: BTreeMap<String, Value>,
    /// Keyed by task definition ARN.
    pub task_definitions: BTreeMap<String, TaskDefinition>,
    /// Cross-account role chains to verify.
    pub chains: Vec<Chain>,
    /// The queues the rules send to, by queue ARN (`aws sqs get-queue-attributes`):
    /// dead-letter queues and SQS targets (the name is the bundle's `deadLetterQueues`,
    /// kept). None: not gathered, so only what the ARN itself shows (its region) is checked;
    /// a dead-letter queue missing from a gathered map does not exist.
    pub dead_letter_queues: Option<BTreeMap<String, Queue>>,
    /// KMS key policies (`aws kms get-key-policy`), keyed as the queue names the key
    /// (key ID, key ARN or alias).
    pub key_policies: BTreeMap<String, Value>,
    /// The key ARN of a key named by alias, keyed like `key_policies` (DescribeKey's; a
    /// bundle's `keyPolicies[…].KeyArn`): IAM policies grant a key by its ARN only.
    pub key_arns: BTreeMap<String, String>,
    /// Service and resource control policies of the account's organisation. None: not
    /// gathered, so organisation policies are not evaluated.
    pub organization: Option<Organization>,
    /// Why the organisation's policies could not be read online (AWS's reason, quoted in
    /// the "not evaluated" note). Only meaningful with `organization: None`.
    pub organization_unreadable: Option<String>,
    /// Key policies that could not be read online, keyed like `key_policies`, with AWS's
    /// reason (quoted in the "not evaluated" note).
    pub key_policies_unreadable: BTreeMap<String, String>,
    /// What AWS recorded of the rule's deliveries (the CLI's online reads, a bundle's
    /// `delivery`). None: not gathered; the controller links its own (`Delivering`).
    pub delivery: Option<super::delivery::DeliveryEvidence>,
    /// The API destinations the targets name, by ARN, with their connection's state. A
    /// destination missing from the map was not gathered: its connection is not judged.
    pub api_destinations: BTreeMap<String, ApiDestination>,
    /// An EventBridge Scheduler schedule, diagnosed instead of a rule (its target, role and
    /// dead-letter queue). None: not gathered, or (with `Expectations::schedule_name`) it
    /// does not exist.
    pub schedule: Option<Schedule>,
    /// When the snapshot was read (`yyyy-mm-ddThh:mm:ssZ`): a schedule's end date and
    /// one-time expression are judged against it. None: not judged.
    pub now: Option<String>,
}

/// An API destination and what its connection's state says of EventBridge's calls.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApiDestination {
    pub arn: String,
    pub connection_arn: String,
    /// `AUTHORIZED`, `AUTHORIZING`, `DEAUTHORIZED`, … (None: the connection does not exist).
    pub connection_state: Option<String>,
    /// AWS's `StateReason`, when it gives one.
    pub connection_state_reason: Option<String>,
}

/// An SQS queue as far as EventBridge's delivery to it is concerned.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Queue {
    pub arn: String,
    /// The queue policy document, if the queue has one.
    pub policy: Option<Value>,
    /// `KmsMasterKeyId`: None for no encryption or SSE-SQS.
    pub kms_key: Option<String>,
}

/// SCPs and RCPs per level of the organisation, root first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Organization {
    /// `o-…`, when known: the value of `aws:PrincipalOrgID` for the account's principals.
    pub id: Option<String>,
    pub service_control: Vec<crate::iam::request::OrgLevel>,
    pub resource_control: Vec<crate::iam::request::OrgLevel>,
}

/// A schedule as read: the one type the diff and the checks share (the checks read its ARN,
/// state, target, role, dead-letter queue and ECS task definition).
pub use crate::plan::diff::ObservedSchedule as Schedule;

/// A rule as read: the one type the diff and the checks share (the checks read its name,
/// ARN, bus and state).
pub use crate::plan::diff::ObservedRule as Rule;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Target {
    pub id: String,
    pub arn: String,
    pub role_arn: Option<String>,
    pub task_definition_arn: Option<String>,
    pub dead_letter_arn: Option<String>,
}

/// A role as read: the one type the diff and the checks share (the checks ignore its tags).
pub use crate::plan::diff::ObservedRole as Role;

/// The task definition's roles, a planning fact the checks read too.
pub use crate::plan::TaskDefinition;

#[derive(Clone, Debug, PartialEq)]
pub struct Chain {
    pub from: String,
    pub to: String,
}

/// What the caller expects to find, when it knows (the controller does; a bundle may not).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expectations {
    pub rule_name: Option<String>,
    pub event_bus_name: Option<String>,
    /// The rule's targets the caller expects, by ID, with the ARN each should have (empty:
    /// every target the rule has is checked).
    pub targets: Vec<(String, String)>,
    /// Roles the ECS task needs passed when the task definition is not in the snapshot.
    pub pass_role_arns: Vec<String>,
    /// A schedule is expected (`GROUP/NAME`): its absence is a finding.
    pub schedule_name: Option<String>,
}
