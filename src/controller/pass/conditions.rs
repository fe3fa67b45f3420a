//! From the outcome of one reconcile pass to status conditions, pure. Follows the
//! Kubernetes conventions kstatus reads: `Ready`, `Reconciling`, `Stalled`.

use crate::api::{condition as c, ConditionValue, CrossAccountMode, Reason};
use crate::diagnose::delivery::{self, AwsWords, Observation};
use crate::diagnose::{Code, Finding};
use crate::plan::diff::{Change, Observed};
use crate::plan::{Desired, DesiredRole, Side};

/// One account's share of a converged pass.
pub(in crate::controller) struct PartOutcome<'a> {
    pub(in crate::controller) side: Side,
    pub(in crate::controller) desired: &'a Desired,
    pub(in crate::controller) observed: &'a Observed,
    pub(in crate::controller) changes: &'a [Change],
}

/// How a pass ended.
pub(in crate::controller) enum Outcome<'a> {
    /// Everything applied; `findings` from the diagnosis of what now exists.
    Converged {
        mode: Option<CrossAccountMode>,
        parts: &'a [PartOutcome<'a>],
        findings: &'a [Finding],
        /// Superseded resources whose removal failed, each with why.
        left_behind: &'a [String],
        /// What AWS's metrics say of delivery: `Delivering`, never part of `Ready`.
        delivery: &'a Observation,
        /// AWS's own words: the newest dead-letter message of the rule
        /// (`--read-dead-letters`), the newest failure its bus logged.
        words: AwsWords<'a>,
    },
    /// A human must act: invalid spec, guardrail, not owned, controller AccessDenied.
    Blocked { reason: Reason, message: String },
    /// Will be retried: throttling, 5xx, a dependency not there yet.
    Retrying { reason: Reason, message: String },
}

pub(in crate::controller) fn conditions(outcome: &Outcome<'_>) -> Vec<ConditionValue> {
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
            mode,
            parts,
            findings,
            left_behind,
            delivery,
            words,
        } => {
            let mut out = converged(*mode, parts, findings);
            out.push(delivering(delivery, *words));
            if !left_behind.is_empty() {
                // Not a reason to be un-Ready: the integration is in place. It says what is
                // still in AWS although nothing uses it, and that it is tried again.
                out.push(ConditionValue::new(
                    c::RESOURCES_LEFT_BEHIND,
                    true,
                    Reason::CleanupPending,
                    format!(
                        "no longer used, not removed yet (retried with backoff; `orphans` lists them): {}",
                        left_behind.join("; ")
                    ),
                ));
            }
            out
        }
    }
}

/// The `Delivering` condition: what AWS reports, not what is configured (not in `Ready`).
pub(in crate::controller) fn delivering(
    observation: &Observation,
    words: AwsWords<'_>,
) -> ConditionValue {
    let d = delivery::delivery(observation, words);
    let reason = match d.reason {
        delivery::DeliveryReason::Delivering => Reason::Delivering,
        delivery::DeliveryReason::DeliveryFailing => Reason::DeliveryFailing,
        delivery::DeliveryReason::NoTraffic => Reason::NoTraffic,
        delivery::DeliveryReason::NotObserved => Reason::NotObserved,
    };
    match d.status {
        Some(status) => ConditionValue::new(c::DELIVERING, status, reason, d.message),
        None => ConditionValue::unknown(c::DELIVERING, reason, d.message),
    }
}

fn change_reason(changes: &[Change], pred: impl Fn(&Change) -> bool) -> Reason {
    let creating = changes
        .iter()
        .any(|c| matches!(c, Change::CreateRole | Change::PutRule { created: true }));
    if creating && changes.iter().any(&pred) {
        Reason::Created
    } else if changes.iter().any(pred) {
        Reason::Updated
    } else {
        Reason::InSync
    }
}

fn converged(
    mode: Option<CrossAccountMode>,
    parts: &[PartOutcome<'_>],
    findings: &[Finding],
) -> Vec<ConditionValue> {
    let side = |s: Side| parts.iter().find(|p| p.side == s);
    #[allow(
        clippy::expect_used,
        reason = "plan::plan gives every plan a local part"
    )]
    let local = side(Side::Local).expect("every plan has a local part");
    // The part whose rule invokes the workload, and the part that only connects accounts.
    let (workload, connector) = match mode {
        Some(CrossAccountMode::EventBusForwarding) => {
            (side(Side::Remote).unwrap_or(local), Some(local))
        }
        Some(CrossAccountMode::DirectDelivery | CrossAccountMode::RoleChain) => {
            (local, side(Side::Remote))
        }
        None => (local, None),
    };
    let desired = workload.desired;
    let errors: Vec<&Finding> = findings.iter().filter(|f| f.is_error()).collect();
    let role = role_condition(workload);
    let rule = rule_condition(desired, workload.changes);
    let target = target_condition(workload);
    let permission = permission_condition(parts);
    let access = access_condition(&errors);
    let cross = connector.map(|part| cross_account_condition(part, local, mode, &errors));
    let mut parts_ready: Vec<&ConditionValue> = vec![&role, &rule, &target, &permission];
    parts_ready.extend(cross.iter());
    let (ready, stalled) = ready_and_stalled(desired, &errors, &parts_ready);
    let reconciling = ConditionValue::new(
        c::RECONCILING,
        false,
        Reason::Converged,
        "AWS matches the spec",
    );
    let mut out = vec![ready, role, rule, target, permission, access];
    out.extend(cross);
    out.extend([reconciling, stalled]);
    out
}

/// RoleReady: the role of the part that invokes the workload, or why it has none.
fn role_condition(workload: &PartOutcome<'_>) -> ConditionValue {
    let desired = workload.desired;
    match &desired.role {
        DesiredRole::NotNeeded => ConditionValue::new(
            c::ROLE_READY,
            true,
            Reason::NotRequired,
            "every target is invoked through its own resource-based policy (a function's, queue's or topic's policy, or the account's logs resource policy), not a role",
        ),
        DesiredRole::BringYourOwn { arn } => match &workload.observed.role {
            Some(_) => ConditionValue::new(
                c::ROLE_READY,
                true,
                Reason::BringYourOwnRole,
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
            let reason = change_reason(workload.changes, |c| {
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
            let trusted = match &desired.schedule {
                Some(s) => format!(
                    "scheduler.amazonaws.com for schedule group {} only",
                    s.group_arn
                ),
                None => "events.amazonaws.com for this rule only".to_string(),
            };
            ConditionValue::new(
                c::ROLE_READY,
                true,
                reason,
                format!(
                    "role {} trusts {trusted} and holds least-privilege permissions",
                    m.arn
                ),
            )
        }
    }
}

/// TargetReady: the rule's targets, or the schedule's.
fn target_condition(workload: &PartOutcome<'_>) -> ConditionValue {
    let desired = workload.desired;
    let target_want: Vec<String> = match &desired.schedule {
        Some(s) => vec![format!("schedule target → {}", s.target.arn)],
        None => desired
            .targets
            .iter()
            .map(|t| format!("target {} → {}", t.id, t.arn))
            .collect(),
    };
    let target_reason = change_reason(workload.changes, |c| {
        matches!(
            c,
            Change::PutTarget | Change::RemoveTargets(_) | Change::PutSchedule { .. }
        )
    });
    ConditionValue::new(c::TARGET_READY, true, target_reason, target_want.join("; "))
}

/// InvokePermissionReady: the statements of functions' policies, in either account.
fn permission_condition(parts: &[PartOutcome<'_>]) -> ConditionValue {
    let granted: Vec<(&PartOutcome<'_>, &crate::plan::DesiredPermission)> = parts
        .iter()
        .flat_map(|part| part.desired.permissions.iter().map(move |p| (part, p)))
        .collect();
    match granted.first() {
        None => ConditionValue::new(
            c::INVOKE_PERMISSION_READY,
            true,
            Reason::NotRequired,
            "the target is invoked through the role",
        ),
        Some((part, _)) => ConditionValue::new(
            c::INVOKE_PERMISSION_READY,
            true,
            change_reason(part.changes, |c| matches!(c, Change::AddPermission { .. })),
            granted
                .iter()
                .map(|(_, p)| {
                    format!(
                        "statement {} lets {} invoke {}",
                        p.statement_id, p.principal, p.function_arn
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}

/// AccessVerified: the first error of the diagnosis, or none.
fn access_condition(errors: &[&Finding]) -> ConditionValue {
    match errors.first() {
        None => ConditionValue::new(
            c::ACCESS_VERIFIED,
            true,
            Reason::NoAccessDeniedCauses,
            "no cause of AccessDenied found for this rule's target",
        ),
        Some(f) => ConditionValue::new(
            c::ACCESS_VERIFIED,
            false,
            f.code.as_str(),
            format!("{} Fix: {}", f.message, f.remediation),
        ),
    }
}

/// CrossAccountReady: the part that connects the accounts (`part`), in its mode.
fn cross_account_condition(
    part: &PartOutcome<'_>,
    local: &PartOutcome<'_>,
    mode: Option<CrossAccountMode>,
    errors: &[&Finding],
) -> ConditionValue {
    let cross_errors: Vec<&&Finding> = errors
        .iter()
        .filter(|f| {
            matches!(
                f.code,
                Code::CrossAccountTrustMissing
                    | Code::CrossAccountAssumeRoleNotAllowed
                    | Code::CrossAccountUnsupportedTarget
            )
        })
        .collect();
    let reason = change_reason(part.changes, |_| true);
    match (cross_errors.first(), mode) {
        (Some(f), _) => ConditionValue::new(
            c::CROSS_ACCOUNT_READY,
            false,
            f.code.as_str(),
            format!("{} Fix: {}", f.message, f.remediation),
        ),
        (None, Some(CrossAccountMode::EventBusForwarding)) => {
            let target = part
                .desired
                .targets
                .first()
                .map(|t| t.arn.clone())
                .unwrap_or_default();
            ConditionValue::new(
                c::CROSS_ACCOUNT_READY,
                true,
                reason,
                format!("rule {} forwards to {target} with role {}, the only principal the bus's policy admits for it; a rule there invokes the target", part.desired.rule().arn, part.desired.role.arn().unwrap_or_default()),
            )
        }
        (None, _) => {
            // Every function, queue, topic or stream a list delivers to there.
            let targets: Vec<&str> = part
                .desired
                .permissions
                .iter()
                .map(|p| p.function_arn.as_str())
                .chain(
                    part.desired
                        .queue_permissions
                        .iter()
                        .map(|q| q.queue_arn.as_str()),
                )
                .collect();
            let target = targets.join(", ");
            ConditionValue::new(
                c::CROSS_ACCOUNT_READY,
                true,
                reason,
                format!("the rule delivers to {target} in account {} directly with role {}, which each one's policy names (no role is assumed in that account)", part.desired.account_id, local.desired.role.arn().unwrap_or_default()),
            )
        }
    }
}

/// Ready and Stalled: the first error, else the first part not ready, else converged.
fn ready_and_stalled(
    desired: &crate::plan::Desired,
    errors: &[&Finding],
    parts_ready: &[&ConditionValue],
) -> (ConditionValue, ConditionValue) {
    match (errors.first(), parts_ready.iter().find(|c| !c.status)) {
        (None, None) => (
            ConditionValue::new(
                c::READY,
                true,
                Reason::Converged,
                format!(
                    "{} integration in sync; invocations are permitted",
                    desired.kind.as_str()
                ),
            ),
            ConditionValue::new(
                c::STALLED,
                false,
                Reason::Converged,
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
        (None, Some(bad)) => (
            ConditionValue::new(c::READY, false, bad.reason.clone(), bad.message.clone()),
            ConditionValue::new(c::STALLED, true, bad.reason.clone(), bad.message.clone()),
        ),
    }
}

/// RuleReady: the rule, or the schedule standing for it (`spec.schedule`).
fn rule_condition(desired: &crate::plan::Desired, changes: &[Change]) -> ConditionValue {
    let state = |enabled: bool| match enabled {
        true => "is enabled",
        false => "is disabled as the spec requests",
    };
    match (&desired.schedule, &desired.rule) {
        (Some(s), _) => ConditionValue::new(
            c::RULE_READY,
            true,
            change_reason(changes, |c| matches!(c, Change::PutSchedule { .. })),
            format!(
                "schedule {} ({} in {}) {}",
                s.arn,
                s.expression,
                s.timezone.as_deref().unwrap_or("UTC"),
                state(s.enabled)
            ),
        ),
        (None, Some(rule)) => ConditionValue::new(
            c::RULE_READY,
            true,
            change_reason(changes, |c| {
                matches!(c, Change::PutRule { .. } | Change::TagRule)
            }),
            format!("rule {} {}", rule.arn, state(rule.enabled)),
        ),
        (None, None) => ConditionValue::new(
            c::RULE_READY,
            true,
            Reason::NotRequired,
            "this account holds no rule",
        ),
    }
}
