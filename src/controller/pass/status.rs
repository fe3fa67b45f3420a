//! From how a pass ended to the object's status, pure: the verdict (conditions, category,
//! when to look again) and the status fields. Unit-tested without a cluster or AWS.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{conditions, Outcome};
use crate::api::status::{merge_conditions, TargetAccountStatus};
use crate::api::{EventBridgeIntegrationStatus, OwnedResource, Reason};
use crate::aws::{AwsError, ErrorKind};
use crate::diagnose::Finding;
use crate::plan::{Plan, PlanError};
use crate::Category;

/// When to reconcile again after a pass that did not converge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Exponential backoff from 2 s (transient faults).
    Backoff,
    /// Backoff starting slower (a dependency that someone must create).
    Slow,
    /// Only at the resync interval or on a change of the object: retrying the same request
    /// sooner cannot help (invalid spec, rejected by AWS, credentials).
    AtResync,
}

/// What a failed pass means for status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub category: Category,
    /// Blocked (Stalled=True, a person must act) or retrying (Reconciling=True).
    pub blocked: bool,
    pub reason: Reason,
    pub message: String,
    pub retry: Retry,
}

impl Verdict {
    pub(in crate::controller) fn outcome(&self) -> Outcome<'static> {
        if self.blocked {
            Outcome::Blocked {
                reason: self.reason,
                message: self.message.clone(),
            }
        } else {
            Outcome::Retrying {
                reason: self.reason,
                message: self.message.clone(),
            }
        }
    }
}

fn verdict(category: Category, reason: Reason, message: String, retry: Retry) -> Verdict {
    let blocked = matches!(retry, Retry::AtResync)
        || matches!(category, Category::AccessDenied | Category::Credentials);
    Verdict {
        category,
        blocked,
        reason,
        message,
        retry,
    }
}

pub fn plan_verdict(e: &PlanError) -> Verdict {
    let reason = match e {
        PlanError::InvalidSpec(_) => Reason::InvalidSpec,
        PlanError::Guardrail(_) => Reason::GuardrailViolation,
    };
    verdict(
        Category::InvalidSpec,
        reason,
        e.to_string(),
        Retry::AtResync,
    )
}

/// No policy selecting the namespace grants what the spec asks for: nothing is done in AWS
/// until the spec or a policy changes (either re-queues the object at once).
pub fn not_permitted_verdict(message: String) -> Verdict {
    verdict(
        Category::InvalidSpec,
        Reason::NotPermitted,
        message,
        Retry::AtResync,
    )
}

pub fn not_owned_verdict(message: String) -> Verdict {
    verdict(
        Category::InvalidSpec,
        Reason::ResourceNotOwned,
        message,
        Retry::AtResync,
    )
}

pub fn dependency_verdict(message: String) -> Verdict {
    verdict(
        Category::Dependency,
        Reason::DependencyNotFound,
        message,
        Retry::Slow,
    )
}

pub fn kubernetes_verdict(message: String) -> Verdict {
    verdict(
        Category::Kubernetes,
        Reason::Progressing,
        message,
        Retry::Backoff,
    )
}

/// An AWS error, by what can be done about it. AWS's own message is kept whole.
pub fn aws_verdict(e: &AwsError) -> Verdict {
    let category = Category::of_aws(e.kind);
    match e.kind {
        _ if e.code == crate::aws::errors::PROVISIONING_ROLE_NOT_ASSUMABLE => verdict(
            category,
            Reason::ProvisioningRoleNotAssumable,
            format!(
                "{}. The controller reaches the target account through spec.crossAccount.provisioningRoleArn: its trust policy must allow the controller's role (and the external ID, if set), and the controller's role needs sts:AssumeRole on it.",
                e.message
            ),
            Retry::Backoff,
        ),
        ErrorKind::AccessDenied => verdict(
            category,
            Reason::ControllerAccessDenied,
            format!(
                "the controller's AWS credentials lack {}: {} ({}). Grant {} to the controller's IAM role.",
                e.operation, e.message, e.code, e.operation
            ),
            Retry::Backoff,
        ),
        ErrorKind::Credentials => verdict(
            category,
            Reason::InvalidCredentials,
            format!(
                "AWS does not accept the controller's credentials ({}: {}) on {}: they are unknown, expired or mis-signed, which no IAM permission fixes. Check the controller's AWS credentials (IRSA/Pod Identity role, access key, clock).",
                e.code, e.message, e.operation
            ),
            Retry::Backoff,
        ),
        ErrorKind::Rejected if e.code == crate::aws::errors::UNREADABLE_POLICY => verdict(
            category,
            Reason::PolicyUnreadable,
            format!(
                "{}. Make it a JSON policy document (or remove it) in AWS; the controller adds its statement at the next resync.",
                e.message
            ),
            Retry::AtResync,
        ),
        ErrorKind::Rejected => verdict(
            category,
            Reason::RejectedByAws,
            format!(
                "AWS rejected {} ({}): {}. Retrying the same request cannot succeed; change the spec (or the account's limits) and the controller tries again.",
                e.operation, e.code, e.message
            ),
            Retry::AtResync,
        ),
        ErrorKind::NotFound => verdict(
            Category::Dependency,
            Reason::DependencyNotFound,
            e.to_string(),
            Retry::Slow,
        ),
        ErrorKind::Transient | ErrorKind::Conflict => {
            verdict(category, Reason::AwsError, e.to_string(), Retry::Backoff)
        }
    }
}

/// What a converged pass contributes to status.
pub(in crate::controller) struct Converged<'a> {
    pub(in crate::controller) plan: &'a Plan,
    pub(in crate::controller) findings: &'a [Finding],
    pub(in crate::controller) not_evaluated: &'a [String],
}

/// The next status. `converged`: the pass's plan and findings, or None when it failed, in
/// which case what status knew is kept so users (and clean-up) can still find it.
pub(in crate::controller) fn next_status(
    previous: Option<&EventBridgeIntegrationStatus>,
    generation: Option<i64>,
    target_kind: Option<String>,
    converged: Option<Converged<'_>>,
    outcome: &Outcome<'_>,
    record: Vec<OwnedResource>,
    now: Time,
) -> EventBridgeIntegrationStatus {
    let mut status = EventBridgeIntegrationStatus {
        observed_generation: generation,
        target_kind,
        resources: Some(record),
        ..Default::default()
    };
    match (converged, previous) {
        (Some(c), _) => {
            let local = &c.plan.local;
            status.rule_arn = local.rule.as_ref().map(|r| r.arn.to_string());
            status.rule_name = local.rule.as_ref().map(|r| r.name.clone());
            status.schedule_arn = local.schedule.as_ref().map(|s| s.arn.clone());
            status.role_arn = local.role.arn().map(str::to_string);
            status.target_id = (!local.targets.is_empty()).then(|| {
                local
                    .targets
                    .iter()
                    .map(|t| t.id.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            });
            status.target_account = c.plan.remote.as_ref().map(|remote| TargetAccountStatus {
                account_id: remote.account_id.to_string(),
                rule_arn: remote.rule.as_ref().map(|r| r.arn.to_string()),
                role_arn: remote.role.arn().map(str::to_string),
            });
            status.findings = c.findings.to_vec();
            status.not_evaluated = c.not_evaluated.to_vec();
        }
        (None, Some(p)) => {
            status.rule_arn = p.rule_arn.clone();
            status.rule_name = p.rule_name.clone();
            status.schedule_arn = p.schedule_arn.clone();
            status.role_arn = p.role_arn.clone();
            status.target_id = p.target_id.clone();
            status.target_account = p.target_account.clone();
            status.findings = p.findings.clone();
            status.not_evaluated = p.not_evaluated.clone();
        }
        (None, None) => {}
    }
    let previous_conditions = previous.map(|s| s.conditions.clone()).unwrap_or_default();
    let failed = !matches!(outcome, Outcome::Converged { .. });
    status.conditions =
        merge_conditions(&previous_conditions, &conditions(outcome), generation, now);
    // A failed pass observes no delivery: what the last one observed stays.
    if failed {
        if let Some(d) = previous.and_then(|p| p.condition(crate::api::condition::DELIVERING)) {
            status.conditions.push(d.clone());
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::condition as c;

    fn aws(kind: ErrorKind, code: &str) -> AwsError {
        AwsError::new("iam:PutRolePolicy", kind, code, "AWS's own words")
    }

    #[test]
    fn rejected_writes_stall_with_aws_message_and_wait_for_resync() {
        let v = aws_verdict(&aws(ErrorKind::Rejected, "MalformedPolicyDocument"));
        assert_eq!(v.category, Category::Rejected);
        assert!(v.blocked);
        assert_eq!(v.retry, Retry::AtResync);
        assert_eq!(v.reason, Reason::RejectedByAws);
        assert!(v.message.contains("AWS's own words"), "{}", v.message);
        assert!(
            v.message.contains("MalformedPolicyDocument"),
            "{}",
            v.message
        );
    }

    #[test]
    fn a_policy_that_is_not_json_stalls_without_blaming_aws() {
        let v = aws_verdict(&aws(
            ErrorKind::Rejected,
            crate::aws::errors::UNREADABLE_POLICY,
        ));
        assert_eq!(v.category, Category::Rejected);
        assert!(v.blocked);
        assert_eq!(v.retry, Retry::AtResync);
        assert_eq!(v.reason, Reason::PolicyUnreadable);
        assert!(!v.message.contains("AWS rejected"), "{}", v.message);
        assert!(
            v.message.contains("Make it a JSON policy document"),
            "{}",
            v.message
        );
    }

    #[test]
    fn bad_credentials_are_not_access_denied() {
        let v = aws_verdict(&aws(ErrorKind::Credentials, "InvalidClientTokenId"));
        assert_eq!(v.category, Category::Credentials);
        assert_eq!(v.reason, Reason::InvalidCredentials);
        assert!(!v.message.contains("Grant"), "{}", v.message);
        let denied = aws_verdict(&aws(ErrorKind::AccessDenied, "AccessDenied"));
        assert_eq!(denied.reason, Reason::ControllerAccessDenied);
        assert!(denied.message.contains("Grant iam:PutRolePolicy"));
    }

    #[test]
    fn transient_faults_retry_with_backoff_and_do_not_stall() {
        let v = aws_verdict(&aws(ErrorKind::Transient, "ThrottlingException"));
        assert_eq!(v.category, Category::Transient);
        assert!(!v.blocked);
        let conds = conditions(&v.outcome());
        let stalled = conds.iter().find(|x| x.type_ == c::STALLED).unwrap();
        let reconciling = conds.iter().find(|x| x.type_ == c::RECONCILING).unwrap();
        assert!(!stalled.status && reconciling.status);
    }

    #[test]
    fn a_failed_pass_keeps_what_status_knew_and_carries_the_record() {
        let previous = EventBridgeIntegrationStatus {
            rule_arn: Some("arn:aws:events:us-east-1:1:rule/r".into()),
            ..Default::default()
        };
        let record = vec![OwnedResource {
            kind: crate::api::OwnedKind::Rule,
            partition: "aws".into(),
            account_id: "1".into(),
            region: Some("us-east-1".into()),
            arn: "arn:aws:events:us-east-1:1:rule/r".into(),
            name: "r".into(),
            event_bus_name: Some("default".into()),
            qualifier: None,
            statement_id: None,
            proof: None,
            via_role_arn: None,
            restore: None,
            left_behind: None,
            policy_written_at: None,
        }];
        let v = dependency_verdict("task definition missing".into());
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let s = next_status(
            Some(&previous),
            Some(3),
            Some("ECS".into()),
            None,
            &v.outcome(),
            record.clone(),
            now,
        );
        assert_eq!(s.rule_arn, previous.rule_arn);
        assert_eq!(s.resources, Some(record));
        assert_eq!(s.observed_generation, Some(3));
        let ready = s.condition(c::READY).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "DependencyNotFound")
        );
    }
}
