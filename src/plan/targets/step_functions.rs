//! A Step Functions state machine: StartExecution on it.

use serde_json::{json, Value};

use super::super::validate::{check_arn, SpecError};
use super::KindFacts;
use crate::api::{CrossAccountMode, StepFunctionsTarget, TargetKind};
use crate::iam::Arn;

pub(super) const FIELD: &str = "spec.target.stepFunctions.stateMachineArn";

pub(super) const FACTS: KindFacts = KindFacts {
    kind: TargetKind::StepFunctions,
    spec_field: "stepFunctions",
    label: "Step Functions",
    service: "states",
    resource_prefix: "",
    role_actions: &["states:StartExecution"],
    invoked_with_role: true,
    scheduler_actions: &["states:StartExecution"],
    eventbridge_delivers_across_accounts: false,
    built_across_accounts: &[CrossAccountMode::EventBusForwarding],
};

pub(super) fn validate(sfn: &StepFunctionsTarget) -> Result<Arn, SpecError> {
    check_arn(FIELD, &sfn.state_machine_arn, "states", "stateMachine:")
}

pub(super) fn invoke_statements(sfn: &StepFunctionsTarget) -> Vec<Value> {
    vec![json!({
        "Sid": "StartExecution",
        "Effect": "Allow",
        "Action": "states:StartExecution",
        "Resource": sfn.state_machine_arn
    })]
}
