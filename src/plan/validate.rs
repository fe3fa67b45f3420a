//! Reconcile-time validation: the schema's rules again (an object can reach the controller
//! through an older CRD or a server that ignored part of the schema), plus rules that need
//! more than one field. Every error names the field and the fix; nothing is created in AWS.

use super::targets::ValidTarget;
use crate::api::EventBridgeIntegrationSpec;
use crate::iam::{AccountId, Arn, RoleArn};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

pub(super) fn bad(field: &str, message: impl Into<String>) -> SpecError {
    SpecError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Checks an ARN field: right service, resource prefix, 12-digit account.
pub fn check_arn(
    field: &str,
    value: &str,
    service: &str,
    resource_prefix: &str,
) -> Result<Arn, SpecError> {
    let arn = Arn::parse(value).map_err(|_| bad(field, format!("`{value}` is not an ARN; expected arn:aws:{service}:REGION:ACCOUNT_ID:{resource_prefix}…")))?;
    if arn.service != service || !arn.resource.starts_with(resource_prefix) {
        return Err(bad(
            field,
            format!("`{value}` is not a {service} {resource_prefix}… ARN"),
        ));
    }
    if let Err(e) = crate::iam::Partition::parse(&arn.partition) {
        return Err(bad(field, format!("`{value}`: {e}")));
    }
    if crate::iam::AccountId::parse(&arn.account).is_err() {
        return Err(bad(
            field,
            format!(
                "`{value}` has no 12-digit account ID; write arn:{}:{}:{}:ACCOUNT_ID:{}",
                arn.partition, arn.service, arn.region, arn.resource
            ),
        ));
    }
    Ok(arn)
}

/// EventBridge's limit on an event pattern, in characters of its JSON.
pub const MAX_EVENT_PATTERN: usize = 2048;

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A rule's `scheduleExpression` (Scheduler takes the same `rate()` and `cron()`).
pub(super) fn valid_schedule(s: &str) -> bool {
    if let Some(inner) = s.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut parts = inner.split(' ');
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let Ok(n) = n.parse::<u32>() else {
            return false;
        };
        let singular = matches!(unit, "minute" | "hour" | "day");
        let plural = matches!(unit, "minutes" | "hours" | "days");
        // AWS: `rate(1 minute)` but `rate(5 minutes)`.
        return n >= 1 && ((n == 1 && singular) || (n > 1 && plural));
    }
    if let Some(inner) = s.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
        return inner.split(' ').filter(|f| !f.is_empty()).count() == 6;
    }
    false
}

/// What validation learned and the planner needs: the target with its data, and its ARN
/// parsed (for ECS, the cluster's).
#[derive(Clone, Debug, PartialEq)]
pub struct ValidSpec<'a> {
    pub target: ValidTarget<'a>,
    pub target_arn: Arn,
    /// `spec.role.arn`: a role of the user's, parsed (its account is known).
    pub own_role: Option<RoleArn>,
    /// `spec.crossAccount.targetAccountId`, parsed.
    pub target_account: Option<AccountId>,
}

pub fn validate(spec: &EventBridgeIntegrationSpec) -> Result<ValidSpec<'_>, SpecError> {
    if let Some(region) = &spec.region {
        crate::iam::Region::parse(region).map_err(|e| bad("spec.region", e.to_string()))?;
    }
    let target_account = match &spec.cross_account {
        Some(x) => Some(
            AccountId::parse(&x.target_account_id)
                .map_err(|e| bad("spec.crossAccount.targetAccountId", e.to_string()))?,
        ),
        None => None,
    };
    match &spec.schedule {
        Some(schedule) => super::schedule::validate(spec, schedule)?,
        None => check_rule(&spec.rule)?,
    }
    let target = &spec.target;
    if spec.targets.is_none() && target.is_unset() {
        return Err(bad(
            "spec.targets",
            "set exactly one of spec.target (one target) and spec.targets (up to five)",
        ));
    }
    if let Some(id) = &target.id {
        if !valid_name(id) {
            return Err(bad(
                "spec.target.id",
                "1-64 characters of letters, digits, `.`, `-`, `_`",
            ));
        }
    }
    let valid = ValidTarget::of(target).ok_or_else(|| {
        bad(
            "spec.target",
            format!("set exactly one of {}", super::targets::spec_fields()),
        )
    })?;
    check_delivery(target)?;
    let target_arn = valid.validate(spec)?;
    let own_role = match &spec.role {
        Some(role) => check_role(role)?,
        None => None,
    };
    Ok(ValidSpec {
        target: valid,
        target_arn,
        own_role,
        target_account,
    })
}

/// What every kind's target may carry: one way to shape the input, a dead-letter queue, a
/// retry policy within EventBridge's bounds.
fn check_delivery(target: &crate::api::TargetSpec) -> Result<(), SpecError> {
    let inputs = [
        target.input.is_some(),
        target.input_path.is_some(),
        target.input_transformer.is_some(),
    ];
    if inputs.iter().filter(|x| **x).count() > 1 {
        return Err(bad(
            "spec.target",
            "set at most one of input, inputPath, inputTransformer",
        ));
    }
    if let Some(dlq) = &target.dead_letter_queue_arn {
        check_arn("spec.target.deadLetterQueueArn", dlq, "sqs", "")?;
    }
    if let Some(r) = &target.retry_policy {
        if r.maximum_retry_attempts
            .is_some_and(|n| !(0..=185).contains(&n))
        {
            return Err(bad(
                "spec.target.retryPolicy.maximumRetryAttempts",
                "must be 0-185",
            ));
        }
        if r.maximum_event_age_in_seconds
            .is_some_and(|n| !(60..=86400).contains(&n))
        {
            return Err(bad(
                "spec.target.retryPolicy.maximumEventAgeInSeconds",
                "must be 60-86400",
            ));
        }
    }
    Ok(())
}

/// `spec.role`: a name for the role the controller creates, or your own role's ARN (returned
/// parsed), not both.
fn check_role(role: &crate::api::RoleSpec) -> Result<Option<RoleArn>, SpecError> {
    let mut own_role = None;
    if role.name.is_some() && role.arn.is_some() {
        return Err(bad(
            "spec.role",
            "set name (a role the controller creates) or arn (your own role), not both",
        ));
    }
    if let Some(arn) = &role.arn {
        own_role = Some(RoleArn::parse(arn).map_err(|e| bad("spec.role.arn", e.to_string()))?);
        if role.path.is_some() || role.permissions_boundary_arn.is_some() {
            return Err(bad("spec.role", "path and permissionsBoundaryArn apply to a role the controller creates; a bring-your-own role (arn) is never modified"));
        }
    }
    if let Some(name) = &role.name {
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        {
            return Err(bad(
                "spec.role.name",
                "1-64 characters of letters, digits and +=,.@_-",
            ));
        }
    }
    if let Some(path) = &role.path {
        if !path.starts_with('/') || !path.ends_with('/') {
            return Err(bad(
                "spec.role.path",
                "an IAM path starts and ends with `/`, e.g. /eventbridge/",
            ));
        }
    }
    if let Some(b) = &role.permissions_boundary_arn {
        check_arn("spec.role.permissionsBoundaryArn", b, "iam", "policy/").or_else(|e| {
            // AWS managed policies have `aws` in the account field.
            match Arn::parse(b) {
                Ok(arn) if b.starts_with("arn:aws:iam::aws:policy/") => Ok(arn),
                _ => Err(e),
            }
        })?;
    }
    Ok(own_role)
}

/// The rule's own fields: a name, exactly one of a pattern and a schedule expression.
fn check_rule(rule: &crate::api::RuleSpec) -> Result<(), SpecError> {
    if let Some(name) = &rule.name {
        if !valid_name(name) {
            return Err(bad(
                "spec.rule.name",
                "1-64 characters of letters, digits, `.`, `-`, `_`",
            ));
        }
    }
    match (&rule.event_pattern, &rule.schedule_expression) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(bad(
                "spec.rule",
                "set exactly one of eventPattern and scheduleExpression",
            ));
        }
        (Some(p), None) => {
            if p.as_object().is_none_or(|o| o.is_empty()) {
                return Err(bad(
                    "spec.rule.eventPattern",
                    "must be a non-empty JSON object such as {\"source\": [\"aws.s3\"]}",
                ));
            }
            // As PutRule receives it. CEL has no way to measure a serialised object, so this
            // rule is refused here only (at reconcile time), never at apply time.
            let length = p.to_string().chars().count();
            if length > MAX_EVENT_PATTERN {
                return Err(bad(
                    "spec.rule.eventPattern",
                    format!("is {length} characters as JSON; EventBridge takes at most {MAX_EVENT_PATTERN}: split the rule, or match on fewer values"),
                ));
            }
        }
        (None, Some(s)) => {
            if !valid_schedule(s) {
                return Err(bad("spec.rule.scheduleExpression", format!("`{s}` is not rate(N minute|minutes|hour|hours|day|days) or a six-field cron(…)")));
            }
            if rule
                .event_bus_name
                .as_deref()
                .is_some_and(|b| b != "default")
            {
                return Err(bad(
                    "spec.rule.eventBusName",
                    "scheduled rules run only on the default event bus; remove eventBusName",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        assert!(valid_schedule("rate(1 minute)"));
        assert!(valid_schedule("rate(5 minutes)"));
        assert!(!valid_schedule("rate(5 minute)"));
        assert!(!valid_schedule("rate(1 minutes)"));
        assert!(!valid_schedule("rate(0 minutes)"));
        assert!(valid_schedule("cron(0 12 * * ? *)"));
        assert!(!valid_schedule("cron(0 12 * * ?)"));
        assert!(!valid_schedule("every 5 minutes"));
    }
}
