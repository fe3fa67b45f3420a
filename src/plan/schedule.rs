//! `spec.schedule`: an EventBridge Scheduler schedule instead of a rule. Scheduler invokes
//! every kind through a role (a function's or queue's own policy plays no part), so the plan
//! is one schedule and one role: trusted by `scheduler.amazonaws.com` for this account's
//! schedule group only, allowed exactly the target's action, and the dead-letter queue's
//! `sqs:SendMessage` when one is set (Scheduler sends there with the same role).
//!
//! A schedule takes no tags: its description says whose it is, as an API destination's does.
//! Not yet: several targets (a schedule has one) and another account. Not at all: log
//! groups, API Gateway and API destinations, which Scheduler cannot call (see
//! `ValidTarget::not_scheduled_because`). ECS and Kinesis take their parameters as for a
//! rule, except a stream's partition key, which a schedule names itself (`partitionKey`:
//! there is no event to take a path from). A FIFO topic is published to through Scheduler's
//! universal target (`targets::sns::scheduled_publish_request`).

use serde_json::json;

use super::validate::{bad, SpecError};
use super::{
    managed_role, Desired, DesiredRole, Facts, Guardrails, Owner, PartKind, Plan, PlanError,
    TargetShape, ValidTarget,
};
use crate::api::{EventBridgeIntegrationSpec, FlexibleMode, ScheduleSpec};
use crate::iam::documents::scheduler_trust_policy;
use crate::iam::{AccountArn, RoleArn};

/// A schedule of ours, as Scheduler holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredSchedule {
    pub name: String,
    pub group: String,
    /// `arn:…:schedule/GROUP/NAME`.
    pub arn: String,
    /// `arn:…:schedule-group/GROUP`: what the role's trust is limited to.
    pub group_arn: String,
    pub expression: String,
    /// None: UTC.
    pub timezone: Option<String>,
    /// Minutes of the flexible window; None: `OFF`.
    pub flexible_window: Option<i32>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub enabled: bool,
    /// Whose it is (schedules take no tags).
    pub description: String,
    /// The target: its ARN, the role, the kind's parameters, input, retry and dead letter.
    pub target: TargetShape,
}

/// What a schedule rules out elsewhere in the spec, and its own fields beyond the schema.
pub(super) fn validate(
    spec: &EventBridgeIntegrationSpec,
    schedule: &ScheduleSpec,
) -> Result<(), SpecError> {
    refuse_what_a_schedule_lacks(spec)?;
    check_target(spec)?;
    check_keys(spec, schedule)?;
    check_timing(schedule)
}

/// What a schedule does not have: a rule, several targets, another account, a FIFO
/// dead-letter queue, an event to take a path from.
fn refuse_what_a_schedule_lacks(spec: &EventBridgeIntegrationSpec) -> Result<(), SpecError> {
    if !spec.rule.is_unset() {
        return Err(bad(
            "spec.schedule",
            "set exactly one of spec.rule (an EventBridge rule) and spec.schedule (an EventBridge Scheduler schedule)",
        ));
    }
    if spec.targets.is_some() {
        return Err(bad(
            "spec.targets",
            "a schedule invokes one target: use spec.target",
        ));
    }
    if spec.cross_account.is_some() {
        return Err(bad(
            "spec.crossAccount",
            "not yet with spec.schedule: the schedule's target must be in the controller's account",
        ));
    }
    if spec
        .target
        .dead_letter_queue_arn
        .as_deref()
        .is_some_and(|dlq| dlq.ends_with(".fifo"))
    {
        return Err(bad(
            "spec.target.deadLetterQueueArn",
            "EventBridge Scheduler sends undelivered invocations only to a standard queue, not a FIFO one",
        ));
    }
    if spec.target.input_path.is_some() || spec.target.input_transformer.is_some() {
        return Err(bad(
            "spec.target",
            "a schedule has no event to take a path or transform from: use input (the JSON the target receives)",
        ));
    }
    Ok(())
}

/// A kind Scheduler invokes, and a Kinesis stream's key named outright.
fn check_target(spec: &EventBridgeIntegrationSpec) -> Result<(), SpecError> {
    if let Some(kind) = ValidTarget::of(&spec.target) {
        if let Some(why) = kind.not_scheduled_because() {
            return Err(bad(
                "spec.target",
                format!(
                    "a schedule invokes a Lambda function, a state machine, an ECS task, a Kinesis or Firehose stream, an SQS queue or an SNS topic, not this {} target: {why}; use spec.rule with a scheduleExpression (UTC) for it",
                    kind.kind().as_str()
                ),
            ));
        }
    }
    if let Some(kinesis) = &spec.target.kinesis {
        if kinesis.partition_key_path.is_some() {
            return Err(bad(
                "spec.target.kinesis.partitionKeyPath",
                "a schedule sends no event to take a path from: name the key itself in partitionKey",
            ));
        }
        if kinesis.partition_key.is_none() {
            return Err(bad(
                "spec.target.kinesis.partitionKey",
                "required with a schedule: Scheduler puts every record under this key (e.g. the schedule's name)",
            ));
        }
    }
    Ok(())
}

/// `kmsKeyArns`: only for the created role, and only when it sends to a queue or topic.
fn check_keys(spec: &EventBridgeIntegrationSpec, schedule: &ScheduleSpec) -> Result<(), SpecError> {
    let sends_to_holder = spec.target.sqs.is_some()
        || spec.target.sns.is_some()
        || spec.target.dead_letter_queue_arn.is_some();
    if schedule.kms_key_arns.is_some() && spec.role.as_ref().is_some_and(|r| r.arn.is_some()) {
        return Err(bad(
            "spec.schedule.kmsKeyArns",
            "grants keys to the role the controller creates, and spec.role.arn brings a role of yours, which is never modified: allow kms:GenerateDataKey and kms:Decrypt on the keys in your role's policy, and remove kmsKeyArns",
        ));
    }
    if schedule.kms_key_arns.is_some() && !sends_to_holder {
        return Err(bad(
            "spec.schedule.kmsKeyArns",
            "the schedule sends to no queue or topic (neither its target nor a dead-letter queue), so its role uses no key: remove it",
        ));
    }
    Ok(())
}

/// The expression, its time zone, the flexible window and the dates.
fn check_timing(schedule: &ScheduleSpec) -> Result<(), SpecError> {
    let expression = &schedule.expression;
    if !valid_expression(expression) {
        return Err(bad(
            "spec.schedule.expression",
            format!("`{expression}` is not rate(N minutes|hours|days), a six-field cron(…) or at(yyyy-mm-ddThh:mm:ss)"),
        ));
    }
    if schedule.timezone.is_some() && expression.starts_with("rate(") {
        return Err(bad(
            "spec.schedule.timezone",
            "applies to cron() and at() expressions; a rate() runs at fixed intervals: remove it",
        ));
    }
    if let Some(w) = &schedule.flexible_time_window {
        let minutes_ok = w
            .maximum_window_in_minutes
            .is_some_and(|m| (1..=1440).contains(&m));
        if (w.mode == FlexibleMode::FLEXIBLE) != minutes_ok
            || (w.mode == FlexibleMode::OFF && w.maximum_window_in_minutes.is_some())
        {
            return Err(bad(
                "spec.schedule.flexibleTimeWindow.maximumWindowInMinutes",
                "required exactly with mode FLEXIBLE (1 to 1440)",
            ));
        }
    }
    for (field, date) in [
        ("spec.schedule.startDate", &schedule.start_date),
        ("spec.schedule.endDate", &schedule.end_date),
    ] {
        if date.as_deref().is_some_and(|d| !valid_instant(d)) {
            return Err(bad(
                field,
                "an instant in UTC to the second, e.g. 2027-01-01T00:00:00Z",
            ));
        }
    }
    if let (Some(start), Some(end)) = (&schedule.start_date, &schedule.end_date) {
        // Same format, fixed width: the text orders as the instants do.
        if start >= end {
            return Err(bad(
                "spec.schedule.endDate",
                format!("{end} is not after startDate {start}"),
            ));
        }
    }
    Ok(())
}

/// A rule's `rate()` or `cron()`, or `at(yyyy-mm-ddThh:mm:ss)`.
fn valid_expression(e: &str) -> bool {
    match e.strip_prefix("at(").and_then(|r| r.strip_suffix(')')) {
        Some(at) => valid_instant(&format!("{at}Z")),
        None => super::validate::valid_schedule(e),
    }
}

/// `yyyy-mm-ddThh:mm:ssZ`, with plausible fields.
fn valid_instant(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let number = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
    b.len() == 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'Z'
        && (1..=12).contains(&number(5..7))
        && (1..=31).contains(&number(8..10))
        && number(11..13) < 24
        && number(14..16) < 60
        && number(17..19) < 60
}

/// A schedule, its role and its dead-letter queue are the controller's account's, in its
/// region: Scheduler passes only a role of the schedule's account, and another account's
/// target is not yet reached (it would be granted without that account's consent).
fn check_same_account(
    spec: &EventBridgeIntegrationSpec,
    workload: ValidTarget<'_>,
    target: &AccountArn,
    own_role: Option<&RoleArn>,
    account: &str,
    region: &str,
) -> Result<(), PlanError> {
    let other = |field: &str, what: &str, found: &str| {
        super::invalid(
            field,
            format!("{what} is in account {found} but the schedule would be in account {account}: a schedule reaches its own account only (not yet another); use one of account {account}"),
        )
    };
    if target.account != account {
        return Err(other(workload.field(), "the target", &target.account));
    }
    if let Some(own) = own_role.filter(|r| r.account() != account) {
        return Err(other(
            "spec.role.arn",
            "the role (Scheduler passes only a role of the schedule's account)",
            own.account(),
        ));
    }
    let schedule = spec.schedule.as_ref();
    for (i, key) in schedule
        .and_then(|s| s.kms_key_arns.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = format!("spec.schedule.kmsKeyArns[{i}]");
        let parsed = super::validate::check_arn(&field, key, "kms", "")?;
        let key_id = parsed.resource.strip_prefix("key/").unwrap_or_default();
        let key_id_ok = (1..=128).contains(&key_id.len())
            && key_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !key_id_ok {
            return Err(super::invalid(&field, format!("`{key}` is not a key's ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY_ID): an IAM policy grants a key by its ARN, not an alias; aws kms describe-key --key-id ALIAS prints it")));
        }
        if parsed.account != account {
            return Err(other(&field, "the key", &parsed.account));
        }
        if parsed.region != region {
            return Err(super::invalid(&field, format!("the key is in {} but the schedule's queue or topic is in {region}, and SQS and SNS use a key of their own region: name the key of the queue or topic (its KmsMasterKeyId)", parsed.region)));
        }
    }
    if let Some(dlq) = &spec.target.dead_letter_queue_arn {
        let field = "spec.target.deadLetterQueueArn";
        let queue = super::validate::check_arn(field, dlq, "sqs", "")?;
        if queue.account != account {
            return Err(other(field, "the dead-letter queue", &queue.account));
        }
        if queue.region != region {
            return Err(super::invalid(field, format!("the queue is in {} but the schedule is in {region}; Scheduler sends only to a dead-letter queue of its region: use a queue in {region}", queue.region)));
        }
    }
    Ok(())
}

/// The role's use of the keys of the queue, topic or dead-letter queue: only through the
/// services that encrypt with them for this schedule (`kms:ViaService`), so the role cannot
/// decrypt anything else with them.
fn keys_statement(
    keys: &[String],
    workload: ValidTarget<'_>,
    dead_letter: bool,
    region: &str,
    partition: &str,
) -> serde_json::Value {
    let mut via = vec![];
    if matches!(workload, ValidTarget::Sqs(_)) || dead_letter {
        via.push(crate::iam::arn::service_host("sqs", region, partition));
    }
    if matches!(workload, ValidTarget::Sns(_)) {
        via.push(crate::iam::arn::service_host("sns", region, partition));
    }
    json!({
        "Sid": "QueueAndTopicKeys",
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": keys,
        "Condition": {"StringEquals": {"kms:ViaService": via}}
    })
}

/// The plan of a spec with a schedule: the role and the schedule, in the controller's
/// account (`target` is the validated target's ARN, in `account` and `region`).
#[allow(clippy::too_many_arguments)]
pub(super) fn plan(
    spec: &EventBridgeIntegrationSpec,
    schedule: &ScheduleSpec,
    owner: &Owner,
    workload: ValidTarget<'_>,
    target: &AccountArn,
    own_role: Option<&RoleArn>,
    facts: &Facts,
    guard: &Guardrails,
) -> Result<Plan, PlanError> {
    let (account, region, partition) = (&facts.account_id, &facts.region, &target.partition);
    check_same_account(spec, workload, target, own_role, account, region)?;
    let name = super::rule_name(spec, owner);
    let group = schedule.group.clone().unwrap_or_else(|| "default".into());
    let group_arn = format!("arn:{partition}:scheduler:{region}:{account}:schedule-group/{group}");
    let mut statements = workload.scheduled_statements(target, facts);
    if let Some(dlq) = &spec.target.dead_letter_queue_arn {
        statements.push(json!({"Sid": "DeadLetterQueue", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dlq}));
    }
    if let Some(keys) = &schedule.kms_key_arns {
        statements.push(keys_statement(
            keys,
            workload,
            spec.target.dead_letter_queue_arn.is_some(),
            region,
            partition,
        ));
    }
    let role = match own_role {
        // The user's role: used as is, and diagnosed (its trust for Scheduler and this
        // group, its permission for the target and the dead-letter queue).
        Some(own) => {
            super::check_account(guard, own.account(), "the account of spec.role.arn")?;
            DesiredRole::BringYourOwn { arn: own.clone() }
        }
        None => DesiredRole::Managed(managed_role(
            spec,
            owner,
            guard,
            (partition, account),
            scheduler_trust_policy(account, &group_arn),
            statements,
            &facts.recorded_roles,
        )?),
    };
    let (arn, parameters, input) = workload.scheduled_call(
        target,
        &super::names::schedule_deduplication_prefix(&group, &name),
        spec.target.input.as_ref(),
    );
    let target = TargetShape {
        id: String::new(),
        arn,
        role_arn: role.arn().map(str::to_string),
        parameters,
        input,
        input_path: None,
        input_transformer: None,
        retry: spec
            .target
            .retry_policy
            .as_ref()
            .map(|r| (r.maximum_retry_attempts, r.maximum_event_age_in_seconds)),
        dead_letter_arn: spec.target.dead_letter_queue_arn.clone(),
    };
    let desired_schedule = DesiredSchedule {
        arn: format!("arn:{partition}:scheduler:{region}:{account}:schedule/{group}/{name}"),
        name,
        group,
        group_arn,
        expression: schedule.expression.clone(),
        timezone: schedule.timezone.clone(),
        flexible_window: schedule
            .flexible_time_window
            .as_ref()
            .filter(|w| w.mode == FlexibleMode::FLEXIBLE)
            .and_then(|w| w.maximum_window_in_minutes),
        start_date: schedule.start_date.clone(),
        end_date: schedule.end_date.clone(),
        enabled: schedule.enabled,
        description: super::described::description(owner, None),
        target,
    };
    Ok(Plan {
        local: Desired {
            kind: PartKind::Workload(workload.kind()),
            account_id: account.clone(),
            region: region.clone(),
            tags: owner.tags(),
            rule: None,
            role,
            targets: vec![],
            permissions: vec![],
            bus_permission: None,
            queue_permissions: vec![],
            api_destinations: vec![],
            schedule: Some(desired_schedule),
        },
        remote: None,
        mode: None,
        chain: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_and_instants_are_checked_as_scheduler_reads_them() {
        for good in [
            "rate(1 hour)",
            "rate(5 minutes)",
            "cron(0 9 ? * MON-FRI *)",
            "at(2027-01-01T09:00:00)",
        ] {
            assert!(valid_expression(good), "{good}");
        }
        for bad in [
            "rate(1 hours)",
            "rate(0 minutes)",
            "cron(0 9 * * ?)",
            "at(2027-13-01T09:00:00)",
            "at(2027-01-01 09:00:00)",
            "every day",
        ] {
            assert!(!valid_expression(bad), "{bad}");
        }
        assert!(valid_instant("2027-01-01T00:00:00Z"));
        assert!(!valid_instant("2027-01-01T00:00:00+01:00"));
        assert!(!valid_instant("2027-01-01T24:00:00Z"));
    }
}
