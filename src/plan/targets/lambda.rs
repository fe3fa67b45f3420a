//! A Lambda function: no role of EventBridge's, a statement in the function's resource-based
//! policy instead (principal `events.amazonaws.com`, `SourceArn` = the rule).

use serde_json::{json, Value};

use super::super::validate::{bad, check_arn, SpecError};
use super::super::DesiredPermission;
use super::KindFacts;
use crate::api::{CrossAccountMode, EventBridgeIntegrationSpec, LambdaTarget, TargetKind};
use crate::iam::{AccountId, Arn, FunctionArn};

pub(super) const FIELD: &str = "spec.target.lambda.functionArn";

pub(super) const FACTS: KindFacts = KindFacts {
    kind: TargetKind::Lambda,
    spec_field: "lambda",
    label: "Lambda",
    service: "lambda",
    resource_prefix: "function:",
    role_actions: &["lambda:InvokeFunction"],
    invoked_with_role: false,
    scheduler_actions: &["lambda:InvokeFunction"],
    eventbridge_delivers_across_accounts: true,
    built_across_accounts: &[
        CrossAccountMode::DirectDelivery,
        CrossAccountMode::EventBusForwarding,
    ],
};

pub(super) fn validate(
    lambda: &LambdaTarget,
    spec: &EventBridgeIntegrationSpec,
) -> Result<Arn, SpecError> {
    let function = check_arn(FIELD, &lambda.function_arn, "lambda", "function:")?;
    function_of(lambda)?;
    // A schedule invokes every kind through a role, which spec.role may name or bring.
    if spec.role.is_some() && spec.schedule.is_none() {
        return Err(bad("spec.role", "Lambda targets are invoked through the function's resource-based policy, not a role; remove spec.role"));
    }
    Ok(function)
}

/// What a chained role needs (RoleChain: the role of the function's account).
pub(super) fn invoke_statements(lambda: &LambdaTarget) -> Vec<Value> {
    vec![json!({
        "Sid": "InvokeFunction",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": lambda.function_arn
    })]
}

pub(super) fn permission(
    lambda: &LambdaTarget,
    statement_id: String,
    principal: &str,
    source: Option<(&str, &AccountId)>,
) -> Result<DesiredPermission, SpecError> {
    Ok(DesiredPermission {
        function_arn: function_of(lambda)?,
        statement_id,
        principal: principal.to_string(),
        source_arn: source.map(|(arn, _)| arn.to_string()),
        source_account: source.map(|(_, account)| account.clone()),
    })
}

/// The function, parsed: a name, at most one version or alias.
fn function_of(lambda: &LambdaTarget) -> Result<FunctionArn, SpecError> {
    FunctionArn::parse(&lambda.function_arn).map_err(|e| bad(FIELD, e.to_string()))
}
