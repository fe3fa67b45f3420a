//! From the outcome of one reconcile pass to status conditions, pure. Follows the
//! Kubernetes conventions kstatus reads: `Ready`, `Reconciling`, `Stalled`.

use crate::api::{condition as c, reason as r, ConditionValue, TargetKind};
use crate::diagnose::Finding;
use crate::plan::diff::{Change, Observed};
use crate::plan::{Desired, DesiredRole};

/// How a pass ended.
pub enum Outcome<'a> {
    /// Everything applied; `findings` from the diagnosis of what now exists.
    Converged {
        desired: &'a Desired,
        observed: &'a Observed,
        changes: &'a [Change],
        findings: &'a [Finding],
    },
    /// A human must act: invalid spec, guardrail, not owned, controller AccessDenied.
    Blocked {
        reason: &'static str,
        message: String,
    },
    /// Will be retried: throttling, 5xx, a dependency not there yet.
    Retrying {
        reason: &'static str,
        message: String,
    },
}

pub fn conditions(outcome: &Outcome<'_>) -> Vec<ConditionValue> {
    match outcome {
        Outcome::Blocked { reason, message } => vec![
            ConditionValue::new(c::READY, false, *reason, message.clone()),
            ConditionValue::new(
                c::RECONCILING,
                false,
                *reason,
                "waiting for a change of the object or of the controller's configuration",
            ),
            ConditionValue::new(c::STALLED, true, *reason, message.clone()),
        ],
        Outcome::Retrying { reason, message } => vec![
            ConditionValue::new(c::READY, false, *reason, message.clone()),
            ConditionValue::new(
                c::RECONCILING,
                true,
                *reason,
                format!("retrying with backoff: {message}"),
            ),
            ConditionValue::new(
                c::STALLED,
                false,
                *reason,
                "the controller retries on its own",
            ),
        ],
        Outcome::Converged {
            desired,
            observed,
            changes,
            findings,
        } => converged(desired, observed, changes, findings),
    }
}

fn change_reason(changes: &[Change], pred: impl Fn(&Change) -> bool) -> &'static str {
    let creating = changes
        .iter()
        .any(|c| matches!(c, Change::CreateRole | Change::PutRule { created: true }));
    if creating && changes.iter().any(&pred) {
        r::CREATED
    } else if changes.iter().any(pred) {
        r::UPDATED
    } else {
        r::IN_SYNC
    }
}

fn converged(
    desired: &Desired,
    observed: &Observed,
    changes: &[Change],
    findings: &[Finding],
) -> Vec<ConditionValue> {
    let errors: Vec<&Finding> = findings.iter().filter(|f| f.is_error()).collect();
    let role = match &desired.role {
        DesiredRole::NotNeeded => ConditionValue::new(
            c::ROLE_READY,
            true,
            r::NOT_REQUIRED,
            "Lambda targets are invoked through the function's resource-based policy",
        ),
        DesiredRole::BringYourOwn { arn } => match &observed.role {
            Some(_) => ConditionValue::new(
                c::ROLE_READY,
                true,
                r::BRING_YOUR_OWN,
                format!("using {arn} as is (never modified)"),
            ),
            None => ConditionValue::new(
                c::ROLE_READY,
                false,
                "TargetRoleNotFound",
                format!("role {arn} does not exist"),
            ),
        },
        DesiredRole::Managed(m) => {
            let reason = change_reason(changes, |c| {
                matches!(
                    c,
                    Change::CreateRole
                        | Change::TagRole
                        | Change::UpdateTrustPolicy
                        | Change::PutPermissionsBoundary(_)
                        | Change::DeletePermissionsBoundary
                        | Change::PutRolePolicy
                )
            });
            ConditionValue::new(c::ROLE_READY, true, reason, format!("role {} trusts events.amazonaws.com for this rule only and holds least-privilege permissions", m.arn))
        }
    };
    let rule_reason = change_reason(changes, |c| {
        matches!(c, Change::PutRule { .. } | Change::TagRule)
    });
    let rule_msg = if desired.rule.enabled {
        format!("rule {} is enabled", desired.rule.arn)
    } else {
        format!("rule {} is disabled as the spec requests", desired.rule.arn)
    };
    let rule = ConditionValue::new(c::RULE_READY, true, rule_reason, rule_msg);
    let target_reason = change_reason(changes, |c| {
        matches!(c, Change::PutTarget | Change::RemoveTargets(_))
    });
    let target = ConditionValue::new(
        c::TARGET_READY,
        true,
        target_reason,
        format!("target {} → {}", desired.target.id, desired.target.arn),
    );
    let permission = match &desired.permission {
        None => ConditionValue::new(
            c::INVOKE_PERMISSION_READY,
            true,
            r::NOT_REQUIRED,
            "the target is invoked through the role",
        ),
        Some(p) => ConditionValue::new(
            c::INVOKE_PERMISSION_READY,
            true,
            change_reason(changes, |c| matches!(c, Change::AddPermission { .. })),
            format!(
                "statement {} lets this rule invoke {}",
                p.statement_id, p.function_arn
            ),
        ),
    };
    let access = match errors.first() {
        None => ConditionValue::new(
            c::ACCESS_VERIFIED,
            true,
            r::NO_ERRORS,
            "no cause of AccessDenied found for this rule's target",
        ),
        Some(f) => ConditionValue::new(
            c::ACCESS_VERIFIED,
            false,
            f.code.as_str(),
            format!("{} Fix: {}", f.message, f.remediation),
        ),
    };
    let parts_ready = [&role, &rule, &target, &permission]
        .iter()
        .all(|c| c.status);
    let (ready, stalled) = match (errors.first(), parts_ready) {
        (None, true) => (
            ConditionValue::new(
                c::READY,
                true,
                r::CONVERGED,
                format!(
                    "{} integration in sync; invocations are permitted",
                    kind_name(desired.kind)
                ),
            ),
            ConditionValue::new(
                c::STALLED,
                false,
                r::CONVERGED,
                "nothing blocks this integration",
            ),
        ),
        (Some(f), _) => (
            ConditionValue::new(c::READY, false, f.code.as_str(), f.message.clone()),
            ConditionValue::new(
                c::STALLED,
                true,
                f.code.as_str(),
                format!("{} Fix: {}", f.message, f.remediation),
            ),
        ),
        (None, false) => {
            let bad = [&role, &rule, &target, &permission]
                .into_iter()
                .find(|c| !c.status)
                .expect("one is false");
            (
                ConditionValue::new(c::READY, false, bad.reason.clone(), bad.message.clone()),
                ConditionValue::new(c::STALLED, true, bad.reason.clone(), bad.message.clone()),
            )
        }
    };
    let reconciling =
        ConditionValue::new(c::RECONCILING, false, r::CONVERGED, "AWS matches the spec");
    vec![
        ready,
        role,
        rule,
        target,
        permission,
        access,
        reconciling,
        stalled,
    ]
}

fn kind_name(kind: TargetKind) -> &'static str {
    kind.as_str()
}
