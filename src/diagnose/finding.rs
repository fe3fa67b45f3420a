//! Findings: a named cause, who it concerns, and the exact fix.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every cause the engine can name. The names are a stable interface: they appear in
/// `status.findings`, the `AccessVerified` reason, metrics labels and `diagnose` output.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
)]
pub enum Code {
    RuleNotFound,
    RuleDisabled,
    TargetNotFound,
    TargetRoleMissing,
    TargetRoleNotFound,
    TargetRoleIsTaskRole,
    TrustPolicyMissingServicePrincipal,
    TrustPolicyConditionMismatch,
    RunTaskNotAllowed,
    PassRoleMissing,
    StartExecutionNotAllowed,
    PutRecordNotAllowed,
    InvokeApiNotAllowed,
    ExplicitDeny,
    PermissionsBoundaryBlocks,
    LambdaPermissionMissing,
    LambdaPermissionSourceArnMismatch,
    LambdaPermissionSourceAccountMismatch,
    ArnMissingAccountId,
    ArnMalformed,
    CrossAccountTrustMissing,
    CrossAccountAssumeRoleNotAllowed,
    CrossAccountUnsupportedTarget,
    OverlyBroadPermission,
    ConfusedDeputyUnprotected,
    ServiceControlPolicyBlocks,
    ResourceControlPolicyBlocks,
    DeadLetterQueueNotFound,
    DeadLetterQueuePermissionMissing,
    DeadLetterQueueKmsKeyNotPermitted,
    DeadLetterQueueInOtherRegion,
    SqsQueuePolicyMissing,
    SqsQueueKmsKeyNotPermitted,
    SnsTopicPolicyMissing,
    SnsTopicKmsKeyNotPermitted,
    LogsResourcePolicyMissing,
    InvokeApiDestinationNotAllowed,
    ConnectionNotAuthorized,
    RoleChainNotFollowed,
    SendMessageNotAllowed,
    PublishNotAllowed,
    KinesisStreamPolicyMissing,
    /// A REST API of another account, called directly: its resource policy does not let the
    /// rule's execution role `execute-api:Invoke` the method.
    ApiGatewayPolicyMissing,
    ScheduleNotFound,
    ScheduleDisabled,
    SchedulerTrustMissing,
    InvokeFunctionNotAllowed,
    ScheduleDeadLetterNotAllowed,
    ScheduleDeadLetterQueueIsFifo,
    /// Scheduler's templated SNS target names a FIFO topic: it sends no message group ID,
    /// so SNS refuses every publish (the universal target `aws-sdk:sns:publish` can).
    ScheduleTopicNeedsMessageGroup,
    /// The schedule's end date, or its one-time `at()`, has passed: Scheduler invokes its
    /// target no more (a warning: a one-time schedule that ran is done).
    ScheduleEnded,
    /// The target's role may not do what a kind without a code of its own needs on the
    /// target (Firehose's PutRecord and PutRecordBatch); the message names the action. The
    /// kinds that came first keep their codes (`StartExecutionNotAllowed`, …).
    TargetActionNotAllowed,
    /// Not a static cause: AWS's own metrics report failed invocations of the rule (see
    /// `delivery`). Not in `ALL`, the causes the static evaluator names.
    DeliveryFailing,
    /// A REST API of another account: the controller wrote its resource policy after the
    /// stage's deployment, so the stage still serves the policy it was deployed with. Judged
    /// from the record's time of that write (`diagnose::stage_not_deployed`), not from a
    /// snapshot: not in `ALL`.
    ApiGatewayStageNotDeployed,
}

impl Code {
    /// Every cause the static evaluator can name (`DeliveryFailing` and
    /// `ApiGatewayStageNotDeployed` are observed, not evaluated, and are not among them).
    pub const ALL: [Code; 52] = [
        Code::RuleNotFound,
        Code::RuleDisabled,
        Code::TargetNotFound,
        Code::TargetRoleMissing,
        Code::TargetRoleNotFound,
        Code::TargetRoleIsTaskRole,
        Code::TrustPolicyMissingServicePrincipal,
        Code::TrustPolicyConditionMismatch,
        Code::RunTaskNotAllowed,
        Code::PassRoleMissing,
        Code::StartExecutionNotAllowed,
        Code::PutRecordNotAllowed,
        Code::InvokeApiNotAllowed,
        Code::ExplicitDeny,
        Code::PermissionsBoundaryBlocks,
        Code::LambdaPermissionMissing,
        Code::LambdaPermissionSourceArnMismatch,
        Code::LambdaPermissionSourceAccountMismatch,
        Code::ArnMissingAccountId,
        Code::ArnMalformed,
        Code::CrossAccountTrustMissing,
        Code::CrossAccountAssumeRoleNotAllowed,
        Code::CrossAccountUnsupportedTarget,
        Code::OverlyBroadPermission,
        Code::ConfusedDeputyUnprotected,
        Code::ServiceControlPolicyBlocks,
        Code::ResourceControlPolicyBlocks,
        Code::DeadLetterQueueNotFound,
        Code::DeadLetterQueuePermissionMissing,
        Code::DeadLetterQueueKmsKeyNotPermitted,
        Code::DeadLetterQueueInOtherRegion,
        Code::SqsQueuePolicyMissing,
        Code::SqsQueueKmsKeyNotPermitted,
        Code::SnsTopicPolicyMissing,
        Code::SnsTopicKmsKeyNotPermitted,
        Code::LogsResourcePolicyMissing,
        Code::InvokeApiDestinationNotAllowed,
        Code::ConnectionNotAuthorized,
        Code::RoleChainNotFollowed,
        Code::SendMessageNotAllowed,
        Code::PublishNotAllowed,
        Code::KinesisStreamPolicyMissing,
        Code::ApiGatewayPolicyMissing,
        Code::ScheduleNotFound,
        Code::ScheduleDisabled,
        Code::SchedulerTrustMissing,
        Code::InvokeFunctionNotAllowed,
        Code::ScheduleDeadLetterNotAllowed,
        Code::ScheduleDeadLetterQueueIsFifo,
        Code::ScheduleTopicNeedsMessageGroup,
        Code::ScheduleEnded,
        Code::TargetActionNotAllowed,
    ];

    /// The finding when a role lacks `action`, which a target needs on its ARN: each of the
    /// kinds that came first has its own code, named after its action.
    pub fn role_lacks(action: &str) -> Code {
        match action {
            "ecs:RunTask" => Code::RunTaskNotAllowed,
            "kinesis:PutRecord" => Code::PutRecordNotAllowed,
            "execute-api:Invoke" => Code::InvokeApiNotAllowed,
            "events:InvokeApiDestination" => Code::InvokeApiDestinationNotAllowed,
            "sqs:SendMessage" => Code::SendMessageNotAllowed,
            "sns:Publish" => Code::PublishNotAllowed,
            "lambda:InvokeFunction" => Code::InvokeFunctionNotAllowed,
            "states:StartExecution" => Code::StartExecutionNotAllowed,
            _ => Code::TargetActionNotAllowed,
        }
    }

    pub fn as_str(self) -> &'static str {
        // The Debug form is the variant name, which is the documented code.
        match self {
            Code::RuleNotFound => "RuleNotFound",
            Code::RuleDisabled => "RuleDisabled",
            Code::TargetNotFound => "TargetNotFound",
            Code::TargetRoleMissing => "TargetRoleMissing",
            Code::TargetRoleNotFound => "TargetRoleNotFound",
            Code::TargetRoleIsTaskRole => "TargetRoleIsTaskRole",
            Code::TrustPolicyMissingServicePrincipal => "TrustPolicyMissingServicePrincipal",
            Code::TrustPolicyConditionMismatch => "TrustPolicyConditionMismatch",
            Code::RunTaskNotAllowed => "RunTaskNotAllowed",
            Code::PassRoleMissing => "PassRoleMissing",
            Code::StartExecutionNotAllowed => "StartExecutionNotAllowed",
            Code::PutRecordNotAllowed => "PutRecordNotAllowed",
            Code::InvokeApiNotAllowed => "InvokeApiNotAllowed",
            Code::ExplicitDeny => "ExplicitDeny",
            Code::PermissionsBoundaryBlocks => "PermissionsBoundaryBlocks",
            Code::LambdaPermissionMissing => "LambdaPermissionMissing",
            Code::LambdaPermissionSourceArnMismatch => "LambdaPermissionSourceArnMismatch",
            Code::LambdaPermissionSourceAccountMismatch => "LambdaPermissionSourceAccountMismatch",
            Code::ArnMissingAccountId => "ArnMissingAccountId",
            Code::ArnMalformed => "ArnMalformed",
            Code::CrossAccountTrustMissing => "CrossAccountTrustMissing",
            Code::CrossAccountAssumeRoleNotAllowed => "CrossAccountAssumeRoleNotAllowed",
            Code::CrossAccountUnsupportedTarget => "CrossAccountUnsupportedTarget",
            Code::OverlyBroadPermission => "OverlyBroadPermission",
            Code::ConfusedDeputyUnprotected => "ConfusedDeputyUnprotected",
            Code::ServiceControlPolicyBlocks => "ServiceControlPolicyBlocks",
            Code::ResourceControlPolicyBlocks => "ResourceControlPolicyBlocks",
            Code::DeadLetterQueueNotFound => "DeadLetterQueueNotFound",
            Code::DeadLetterQueuePermissionMissing => "DeadLetterQueuePermissionMissing",
            Code::DeadLetterQueueKmsKeyNotPermitted => "DeadLetterQueueKmsKeyNotPermitted",
            Code::DeadLetterQueueInOtherRegion => "DeadLetterQueueInOtherRegion",
            Code::SqsQueuePolicyMissing => "SqsQueuePolicyMissing",
            Code::SqsQueueKmsKeyNotPermitted => "SqsQueueKmsKeyNotPermitted",
            Code::SnsTopicPolicyMissing => "SnsTopicPolicyMissing",
            Code::SnsTopicKmsKeyNotPermitted => "SnsTopicKmsKeyNotPermitted",
            Code::LogsResourcePolicyMissing => "LogsResourcePolicyMissing",
            Code::InvokeApiDestinationNotAllowed => "InvokeApiDestinationNotAllowed",
            Code::ConnectionNotAuthorized => "ConnectionNotAuthorized",
            Code::RoleChainNotFollowed => "RoleChainNotFollowed",
            Code::SendMessageNotAllowed => "SendMessageNotAllowed",
            Code::PublishNotAllowed => "PublishNotAllowed",
            Code::KinesisStreamPolicyMissing => "KinesisStreamPolicyMissing",
            Code::ApiGatewayPolicyMissing => "ApiGatewayPolicyMissing",
            Code::ApiGatewayStageNotDeployed => "ApiGatewayStageNotDeployed",
            Code::ScheduleNotFound => "ScheduleNotFound",
            Code::ScheduleDisabled => "ScheduleDisabled",
            Code::SchedulerTrustMissing => "SchedulerTrustMissing",
            Code::InvokeFunctionNotAllowed => "InvokeFunctionNotAllowed",
            Code::ScheduleDeadLetterNotAllowed => "ScheduleDeadLetterNotAllowed",
            Code::ScheduleDeadLetterQueueIsFifo => "ScheduleDeadLetterQueueIsFifo",
            Code::ScheduleTopicNeedsMessageGroup => "ScheduleTopicNeedsMessageGroup",
            Code::ScheduleEnded => "ScheduleEnded",
            Code::TargetActionNotAllowed => "TargetActionNotAllowed",
            Code::DeliveryFailing => "DeliveryFailing",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Code::OverlyBroadPermission | Code::ConfusedDeputyUnprotected | Code::ScheduleEnded => {
                Severity::Warning
            }
            // What happened, not what is configured: it never makes an integration un-Ready
            // (the static causes it is linked to do).
            Code::DeliveryFailing => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One diagnosed cause.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The cause, e.g. `PassRoleMissing`.
    pub code: Code,
    /// `error`: an invocation would fail. `warning`: it works but is weaker than it should be.
    pub severity: Severity,
    /// The rule target this concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// The AWS resource (ARN or name) at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// What is wrong, for a person.
    pub message: String,
    /// The exact fix: the policy statement to add or the `aws` CLI command to run.
    pub remediation: String,
    /// Conditions the engine could not evaluate for this finding (an unknown operator, a key
    /// whose value is not known): the finding may be incomplete or wrong for that reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_evaluated: Vec<String>,
}

impl Finding {
    pub fn new(
        code: Code,
        target_id: Option<&str>,
        resource: Option<&str>,
        message: String,
        remediation: String,
    ) -> Finding {
        Finding {
            code,
            severity: code.severity(),
            target_id: target_id.map(str::to_string),
            resource: resource.map(str::to_string),
            message,
            remediation,
            not_evaluated: vec![],
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
