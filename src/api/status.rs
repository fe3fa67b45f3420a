//! Status of an `EventBridgeIntegration`: what exists in AWS, typed conditions, and the
//! diagnosis findings. Only deterministic fields: no timestamps that change every pass.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnose::Finding;

/// What the controller found and did: the AWS resources that exist, typed conditions, and
/// the diagnosis. Written by the controller only.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventBridgeIntegrationStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// ARN of the EventBridge rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_arn: Option<String>,
    /// Name of the EventBridge rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    /// ARN of the Scheduler schedule (`spec.schedule`, instead of a rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_arn: Option<String>,
    /// ARN of the role EventBridge assumes (ECS and Step Functions targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// ID of the target on the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// The target's kind (`TargetKind`): ECS, StepFunctions, Lambda, SQS, SNS, Kinesis,
    /// Firehose, APIGateway, Logs or APIDestination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_kind: Option<String>,
    /// The half of a cross-account integration that lives in the target account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_account: Option<TargetAccountStatus>,
    /// Ready, RoleReady, RuleReady, TargetReady, InvokePermissionReady, AccessVerified,
    /// CrossAccountReady, ResourcesLeftBehind (only while some are), Reconciling, Stalled,
    /// and Delivering (what AWS's metrics report; not part of Ready).
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Why an invocation would fail (errors) or is weaker than it should be (warnings),
    /// each with the exact fix.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// What the diagnosis could not evaluate, and why: an absent finding there proves
    /// nothing (e.g. the organisation's SCPs and RCPs, when they could not be read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_evaluated: Vec<String>,
    /// The ownership record: every AWS resource this object created or is about to create,
    /// with its full identity. Written before the first write to AWS and kept up to date as
    /// writes and removals succeed; removal (renames, moves, deletion) reads only this list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<OwnedResource>>,
}

/// What kind of AWS resource an ownership record entry is.
#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
pub enum OwnedKind {
    /// An EventBridge rule (with its targets).
    Rule,
    /// A statement of a Lambda function's resource-based policy.
    LambdaPermission,
    /// A statement of an event bus's resource-based policy (cross-account forwarding).
    BusPermission,
    /// A statement of a dead-letter queue's policy (EventBridge may send this rule's
    /// undeliverable events).
    QueuePermission,
    /// An IAM role (with the controller's inline policy).
    Role,
    /// An EventBridge API destination (named as the rule; `arn` without AWS's ID).
    ApiDestination,
    /// An EventBridge connection of an API destination (likewise).
    Connection,
    /// An EventBridge Scheduler schedule (`spec.schedule`; `arn` names its group).
    Schedule,
}

/// One AWS resource the controller owns, with everything needed to find it again and to
/// prove it is ours without reading the current spec.
#[derive(
    Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct OwnedResource {
    /// Rule, Role, LambdaPermission, BusPermission, QueuePermission, ApiDestination,
    /// Connection or Schedule.
    pub kind: OwnedKind,
    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub partition: String,
    /// The AWS account the resource lives in.
    pub account_id: String,
    /// None for IAM roles (IAM is global). (Not an empty string: server-side apply on
    /// Kubernetes 1.20 turns "" into null, which the schema then refuses.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Rule: the rule's ARN. Role: the role's ARN. LambdaPermission: the function ARN as the
    /// target uses it. BusPermission: the event bus's ARN.
    pub arn: String,
    /// Rule, role, function or event bus name.
    pub name: String,
    /// Rule: its event bus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    /// LambdaPermission: the function's qualifier (alias or version), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    /// LambdaPermission and BusPermission: the policy statement's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_id: Option<String>,
    /// LambdaPermission and QueuePermission: what proves the statement is ours, with its
    /// id (which ends in a hash of the owning object's UID): the rule ARN of its
    /// `aws:SourceArn` condition, or (RoleChain) the ARN of its principal role.
    /// BusPermission: the forwarding role the statement admits (`aws:PrincipalArn`; an
    /// account for the shared statements of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
    /// The role the controller assumes to reach `accountId` (cross-account), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_role_arn: Option<String>,
    /// Rule and Role adopted with `adoptExisting`: what they were before the controller
    /// took them over, put back when they are released (they are never deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<Restore>,
    /// A resource this object no longer uses (after a move or a rename) that could not be
    /// removed yet, and why. It stays listed until its removal succeeds, which is retried
    /// with backoff; the object is Ready meanwhile (condition `ResourcesLeftBehind`), and
    /// the `orphans` report lists it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_behind: Option<String>,
    /// QueuePermission in an API Gateway REST API's policy: when the controller last wrote
    /// that policy (RFC 3339). The stage serves it once deployed after this time; until
    /// then a finding `ApiGatewayStageNotDeployed` names the deployment to make.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_written_at: Option<String>,
}

/// An adopted resource as it was before adoption: what the controller changes on it, and
/// puts back when the object lets go of it.
#[derive(
    Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct Restore {
    /// Role: its trust policy (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_policy: Option<String>,
    /// Role: its permissions boundary, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary_arn: Option<String>,
    /// Role: the inline policy of the controller's policy name, if it had one (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_policy: Option<String>,
    /// Rule: its event pattern (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    /// Rule: its schedule expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// Rule: whether it was enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Rule: its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Rule: the integration's target ids on it, removed on release (the others are never
    /// touched).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_ids: Vec<String>,
}

impl OwnedResource {
    /// Same resource (identity only; `viaRoleArn` is how to reach it, not what it is).
    pub fn same_as(&self, other: &OwnedResource) -> bool {
        self.kind == other.kind
            && self.partition == other.partition
            && self.account_id == other.account_id
            && self.region == other.region
            && self.arn == other.arn
            && self.statement_id == other.statement_id
    }

    /// For messages and Events: `rule arn:…`, `Lambda permission ebi-x on arn:…`.
    pub fn describe(&self) -> String {
        match self.kind {
            OwnedKind::Rule => format!("rule {}", self.arn),
            OwnedKind::Role => format!("role {}", self.arn),
            OwnedKind::LambdaPermission => format!(
                "Lambda permission {} on {}",
                self.statement_id.as_deref().unwrap_or("?"),
                self.arn
            ),
            OwnedKind::BusPermission => format!(
                "event-bus policy statement {} on {}",
                self.statement_id.as_deref().unwrap_or("?"),
                self.arn
            ),
            OwnedKind::QueuePermission => format!(
                "dead-letter queue policy statement {} on {}",
                self.statement_id.as_deref().unwrap_or("?"),
                self.arn
            ),
            OwnedKind::ApiDestination => format!("API destination {}", self.arn),
            OwnedKind::Connection => format!("connection {}", self.arn),
            OwnedKind::Schedule => format!("schedule {}", self.arn),
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetAccountStatus {
    /// The target account (12 digits).
    pub account_id: String,
    /// EventBusForwarding: the rule on the target account's bus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_arn: Option<String>,
    /// The role in the target account (the workload's invocation role, or RoleChain's role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

/// Condition types.
pub mod condition {
    pub const READY: &str = "Ready";
    pub const ROLE_READY: &str = "RoleReady";
    pub const RULE_READY: &str = "RuleReady";
    pub const TARGET_READY: &str = "TargetReady";
    pub const INVOKE_PERMISSION_READY: &str = "InvokePermissionReady";
    pub const ACCESS_VERIFIED: &str = "AccessVerified";
    pub const CROSS_ACCOUNT_READY: &str = "CrossAccountReady";
    pub const RECONCILING: &str = "Reconciling";
    pub const STALLED: &str = "Stalled";
    /// True while resources this object no longer uses (a move, a rename) could not be
    /// removed yet; absent otherwise. The integration itself may be Ready meanwhile.
    pub const RESOURCES_LEFT_BEHIND: &str = "ResourcesLeftBehind";
    /// Whether AWS delivers the rule's events, from its CloudWatch metrics over a window:
    /// True (invocations, no failures), False (failed invocations, with the counts), Unknown
    /// (no traffic, or not read). What happened, not what is configured: never in `Ready`.
    pub const DELIVERING: &str = "Delivering";
}

/// Condition reasons that are not diagnosis codes.
/// Why a condition is as it is, as the controller writes it (serialised as these strings;
/// the diagnosis's finding codes are reasons too, see `diagnose::Code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    InSync,
    Created,
    Updated,
    NotRequired,
    BringYourOwnRole,
    InvalidSpec,
    ResourceNotOwned,
    GuardrailViolation,
    /// No EventBridgeIntegrationPolicy selecting the namespace grants the spec's references.
    NotPermitted,
    ControllerAccessDenied,
    ProvisioningRoleNotAssumable,
    AwsError,
    NoAccessDeniedCauses,
    Converged,
    Progressing,
    RejectedByAws,
    /// A queue's, topic's, stream's or REST API's policy is not JSON: never rewritten.
    PolicyUnreadable,
    InvalidCredentials,
    DependencyNotFound,
    CleanupPending,
    /// Delivering: invocations and no failures in the window.
    Delivering,
    /// Delivering: AWS reports failed invocations in the window.
    DeliveryFailing,
    /// Delivering: no events matched the rule in the window.
    NoTraffic,
    /// Delivering: the metrics were not read (yet), could not be, or are not observed.
    NotObserved,
}

impl Reason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::InSync => "InSync",
            Reason::Created => "Created",
            Reason::Updated => "Updated",
            Reason::NotRequired => "NotRequired",
            Reason::BringYourOwnRole => "BringYourOwnRole",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::ResourceNotOwned => "ResourceNotOwned",
            Reason::GuardrailViolation => "GuardrailViolation",
            Reason::NotPermitted => "NotPermitted",
            Reason::ControllerAccessDenied => "ControllerAccessDenied",
            Reason::ProvisioningRoleNotAssumable => "ProvisioningRoleNotAssumable",
            Reason::AwsError => "AwsError",
            Reason::NoAccessDeniedCauses => "NoAccessDeniedCauses",
            Reason::Converged => "Converged",
            Reason::Progressing => "Progressing",
            Reason::RejectedByAws => "RejectedByAws",
            Reason::PolicyUnreadable => "PolicyUnreadable",
            Reason::InvalidCredentials => "InvalidCredentials",
            Reason::DependencyNotFound => "DependencyNotFound",
            Reason::CleanupPending => "CleanupPending",
            Reason::Delivering => "Delivering",
            Reason::DeliveryFailing => "DeliveryFailing",
            Reason::NoTraffic => "NoTraffic",
            Reason::NotObserved => "NotObserved",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Reason> for String {
    fn from(r: Reason) -> String {
        r.as_str().to_string()
    }
}

/// A condition as the reconciler decides it, before timestamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionValue {
    pub type_: &'static str,
    pub status: bool,
    /// Unknown (`status` is then false): neither True nor False can be said.
    pub unknown: bool,
    pub reason: String,
    pub message: String,
}

impl ConditionValue {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConditionValue {
            type_,
            status,
            unknown: false,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// A condition whose status is Unknown.
    pub fn unknown(
        type_: &'static str,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConditionValue {
            unknown: true,
            ..ConditionValue::new(type_, false, reason, message)
        }
    }
}

/// Builds the condition list, keeping `lastTransitionTime` from `previous` when the status
/// did not flip, so an unchanged reconcile produces a byte-identical status.
pub fn merge_conditions(
    previous: &[Condition],
    next: &[ConditionValue],
    generation: Option<i64>,
    now: Time,
) -> Vec<Condition> {
    next.iter()
        .map(|c| {
            let status = match (c.unknown, c.status) {
                (true, _) => "Unknown",
                (false, true) => "True",
                (false, false) => "False",
            }
            .to_string();
            let last_transition_time = previous
                .iter()
                .find(|p| p.type_ == c.type_ && p.status == status)
                .map(|p| p.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            Condition {
                type_: c.type_.to_string(),
                status,
                reason: c.reason.clone(),
                message: c.message.clone(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

impl EventBridgeIntegrationStatus {
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}
