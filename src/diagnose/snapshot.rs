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
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub name: String,
    pub arn: String,
    pub event_bus_name: String,
    pub enabled: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Target {
    pub id: String,
    pub arn: String,
    pub role_arn: Option<String>,
    pub task_definition_arn: Option<String>,
    pub dead_letter_arn: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    pub arn: String,
    pub name: String,
    pub trust_policy: Value,
    /// Inline policies: name → document.
    pub inline_policies: BTreeMap<String, Value>,
    /// Attached managed policies: ARN → default version's document.
    pub attached_policies: BTreeMap<String, Value>,
    /// Permissions boundary: ARN and document.
    pub permissions_boundary: Option<(String, Value)>,
}

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
    pub target_id: Option<String>,
    pub target_arn: Option<String>,
    /// Roles the ECS task needs passed when the task definition is not in the snapshot.
    pub pass_role_arns: Vec<String>,
}
