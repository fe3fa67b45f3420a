//! One module per target kind: what a kind means to the planner. Each holds the checks of
//! its own spec fields, the statements a role needs to invoke it, the resource-based
//! permission it takes instead of a role (Lambda), and its parameters on the rule's
//! target (ECS). Adding a kind: a module here, a variant of [`ValidTarget`] with its arms
//! below, and the kind's field in `api::TargetSpec` (docs/architecture.md).

mod ecs;
mod lambda;
mod sqs;
mod step_functions;

use serde_json::Value;

use super::validate::SpecError;
use super::{DesiredPermission, EcsShape, Facts};
use crate::api::{
    EcsTarget, EventBridgeIntegrationSpec, LambdaTarget, StepFunctionsTarget, TargetKind,
    TargetSpec,
};
use crate::iam::Arn;

/// The spec's target once validated: its kind together with its data, so that nothing
/// downstream asks the spec again which of its optional fields is set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValidTarget<'a> {
    Ecs(&'a EcsTarget),
    StepFunctions(&'a StepFunctionsTarget),
    Lambda(&'a LambdaTarget),
}

impl<'a> ValidTarget<'a> {
    /// The one kind set in `target`, if exactly one is.
    pub(super) fn of(target: &'a TargetSpec) -> Option<ValidTarget<'a>> {
        match (&target.ecs, &target.step_functions, &target.lambda) {
            (Some(e), None, None) => Some(ValidTarget::Ecs(e)),
            (None, Some(s), None) => Some(ValidTarget::StepFunctions(s)),
            (None, None, Some(l)) => Some(ValidTarget::Lambda(l)),
            _ => None,
        }
    }

    pub fn kind(self) -> TargetKind {
        match self {
            ValidTarget::Ecs(_) => TargetKind::Ecs,
            ValidTarget::StepFunctions(_) => TargetKind::StepFunctions,
            ValidTarget::Lambda(_) => TargetKind::Lambda,
        }
    }

    /// The ARN of the rule's target (for ECS, the cluster).
    pub fn arn(self) -> &'a str {
        match self {
            ValidTarget::Ecs(e) => &e.cluster_arn,
            ValidTarget::StepFunctions(s) => &s.state_machine_arn,
            ValidTarget::Lambda(l) => &l.function_arn,
        }
    }

    /// The spec field that names [`ValidTarget::arn`], for messages.
    pub fn field(self) -> &'static str {
        match self {
            ValidTarget::Ecs(_) => ecs::FIELD,
            ValidTarget::StepFunctions(_) => step_functions::FIELD,
            ValidTarget::Lambda(_) => lambda::FIELD,
        }
    }

    /// Checks the kind's own fields (and what it rules out elsewhere in `spec`); the
    /// target's ARN, parsed.
    pub(super) fn validate(self, spec: &EventBridgeIntegrationSpec) -> Result<Arn, SpecError> {
        match self {
            ValidTarget::Ecs(e) => ecs::validate(e),
            ValidTarget::StepFunctions(s) => step_functions::validate(s),
            ValidTarget::Lambda(l) => lambda::validate(l, spec),
        }
    }

    /// Whether EventBridge invokes it with a role (false: through the target's own
    /// resource-based policy).
    pub fn needs_role(self) -> bool {
        !matches!(self, ValidTarget::Lambda(_))
    }

    /// What a role needs to invoke it, least privilege, never `*`. For a kind that needs
    /// no role of EventBridge's, what a chained role needs (RoleChain).
    pub fn invoke_statements(self, facts: &Facts) -> Vec<Value> {
        match self {
            ValidTarget::Ecs(e) => ecs::invoke_statements(e, facts),
            ValidTarget::StepFunctions(s) => step_functions::invoke_statements(s),
            ValidTarget::Lambda(l) => lambda::invoke_statements(l),
        }
    }

    /// The statement the target's own policy needs for a rule to invoke it, if the kind
    /// takes one: `statement_id` under `principal`, limited to `source` (the rule's ARN
    /// and account) when given.
    pub fn resource_permission(
        self,
        statement_id: String,
        principal: &str,
        source: Option<(&str, &str)>,
    ) -> Option<DesiredPermission> {
        match self {
            ValidTarget::Lambda(l) => Some(lambda::permission(l, statement_id, principal, source)),
            ValidTarget::Ecs(_) | ValidTarget::StepFunctions(_) => None,
        }
    }

    /// The kind's launch parameters on the rule's target.
    pub fn ecs_parameters(self) -> Option<EcsShape> {
        match self {
            ValidTarget::Ecs(e) => Some(ecs::parameters(e)),
            ValidTarget::StepFunctions(_) | ValidTarget::Lambda(_) => None,
        }
    }
}
