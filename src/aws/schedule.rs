//! An EventBridge Scheduler schedule (`spec.schedule`): read, written, removed. A schedule
//! takes no tags, so its description says whose it is (as an API destination's does);
//! instants are compared as `yyyy-mm-ddThh:mm:ssZ` text, the form the spec takes.

use aws_sdk_scheduler::types as sch;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

use super::apply::ignore_not_found;
use super::errors::{classify, AwsError, ErrorKind};
use super::observe::found;
use super::Clients;
use crate::plan::diff::{ObservedSchedule, SCHEDULER_DEFAULT_RETRY};
use crate::plan::schedule::DesiredSchedule;

/// The schedule `name` of `group`; None: it does not exist.
pub async fn schedule(
    c: &Clients,
    group: &str,
    name: &str,
) -> Result<Option<ObservedSchedule>, AwsError> {
    let out = found(
        c.scheduler
            .get_schedule()
            .group_name(group)
            .name(name)
            .send()
            .await
            .map_err(|e| classify("scheduler:GetSchedule", e)),
    )?;
    Ok(out.map(|o| {
        let target = o.target();
        let retry = target.and_then(|t| t.retry_policy());
        ObservedSchedule {
            arn: o.arn().unwrap_or_default().to_string(),
            expression: o.schedule_expression().unwrap_or_default().to_string(),
            timezone: o
                .schedule_expression_timezone()
                .filter(|z| !z.is_empty())
                .unwrap_or("UTC")
                .to_string(),
            flexible_window: o
                .flexible_time_window()
                .filter(|w| w.mode() == &sch::FlexibleTimeWindowMode::Flexible)
                .and_then(|w| w.maximum_window_in_minutes()),
            start_date: o.start_date().and_then(instant_text),
            end_date: o.end_date().and_then(instant_text),
            enabled: o.state() != Some(&sch::ScheduleState::Disabled),
            description: o.description().unwrap_or_default().to_string(),
            target_arn: target.map(|t| t.arn().to_string()).unwrap_or_default(),
            role_arn: target.map(|t| t.role_arn().to_string()).unwrap_or_default(),
            input: target
                .and_then(|t| t.input())
                .map(super::observe::parse_json),
            retry: (
                retry
                    .and_then(|r| r.maximum_retry_attempts())
                    .unwrap_or(SCHEDULER_DEFAULT_RETRY.0),
                retry
                    .and_then(|r| r.maximum_event_age_in_seconds())
                    .unwrap_or(SCHEDULER_DEFAULT_RETRY.1),
            ),
            dead_letter_arn: target
                .and_then(|t| t.dead_letter_config())
                .and_then(|d| d.arn())
                .map(str::to_string),
            parameters: target
                .map(super::target_parameters::scheduled)
                .unwrap_or_default(),
        }
    }))
}

fn instant_text(d: &DateTime) -> Option<String> {
    d.fmt(Format::DateTime).ok()
}

fn instant(operation: &'static str, text: &str) -> Result<DateTime, AwsError> {
    DateTime::from_str(text, Format::DateTime).map_err(|e| {
        AwsError::new(
            operation,
            ErrorKind::Rejected,
            "InvalidRequest",
            format!("`{text}` is not an instant: {e}"),
        )
    })
}

/// CreateSchedule, or (`created: false`) UpdateSchedule, with every field of `d` (an update
/// replaces the whole schedule).
pub async fn put_schedule(c: &Clients, d: &DesiredSchedule, created: bool) -> Result<(), AwsError> {
    let operation = if created {
        "scheduler:CreateSchedule"
    } else {
        "scheduler:UpdateSchedule"
    };
    let build = |e: aws_smithy_types::error::operation::BuildError| {
        AwsError::new(
            operation,
            ErrorKind::Rejected,
            "InvalidRequest",
            e.to_string(),
        )
    };
    let window = match d.flexible_window {
        Some(minutes) => sch::FlexibleTimeWindow::builder()
            .mode(sch::FlexibleTimeWindowMode::Flexible)
            .maximum_window_in_minutes(minutes),
        None => sch::FlexibleTimeWindow::builder().mode(sch::FlexibleTimeWindowMode::Off),
    }
    .build()
    .map_err(build)?;
    let t = &d.target;
    let mut target = sch::Target::builder()
        .arn(&t.arn)
        .set_role_arn(t.role_arn.clone())
        .set_input(t.input.as_ref().map(|v| v.to_string()))
        .set_dead_letter_config(
            t.dead_letter_arn
                .as_ref()
                .map(|arn| sch::DeadLetterConfig::builder().arn(arn).build()),
        );
    if let Some((attempts, age)) = t.retry {
        target = target.retry_policy(
            sch::RetryPolicy::builder()
                .set_maximum_retry_attempts(attempts)
                .set_maximum_event_age_in_seconds(age)
                .build(),
        );
    }
    let target = super::target_parameters::with_scheduled_parameters(target, &t.parameters)
        .map_err(|problem| {
            AwsError::new(operation, ErrorKind::Rejected, "InvalidRequest", problem)
        })?
        .build()
        .map_err(build)?;
    let start = d
        .start_date
        .as_deref()
        .map(|s| instant(operation, s))
        .transpose()?;
    let end = d
        .end_date
        .as_deref()
        .map(|s| instant(operation, s))
        .transpose()?;
    let state = if d.enabled {
        sch::ScheduleState::Enabled
    } else {
        sch::ScheduleState::Disabled
    };
    // CreateSchedule and UpdateSchedule take the same fields on builders of two types.
    macro_rules! every_field {
        ($call:expr) => {
            $call
                .name(&d.name)
                .group_name(&d.group)
                .schedule_expression(&d.expression)
                .set_schedule_expression_timezone(d.timezone.clone())
                .flexible_time_window(window)
                .set_start_date(start)
                .set_end_date(end)
                .state(state)
                .description(&d.description)
                .target(target)
                .send()
                .await
                .map_err(|e| classify(operation, e))
        };
    }
    if created {
        every_field!(c.scheduler.create_schedule())?;
    } else {
        every_field!(c.scheduler.update_schedule())?;
    }
    Ok(())
}

pub async fn delete_schedule(c: &Clients, group: &str, name: &str) -> Result<(), AwsError> {
    ignore_not_found(
        c.scheduler
            .delete_schedule()
            .group_name(group)
            .name(name)
            .send()
            .await
            .map_err(|e| classify("scheduler:DeleteSchedule", e)),
    )
}

/// Every schedule of the region (of `group` only, when given), as (group, name), with the
/// SDK's paginator. A schedule's summary names its target but not its role: each is read
/// with [`schedule`].
pub async fn list_schedules(
    c: &Clients,
    group: Option<&str>,
) -> Result<Vec<(String, String)>, AwsError> {
    let mut pages = c
        .scheduler
        .list_schedules()
        .set_group_name(group.map(str::to_string))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("scheduler:ListSchedules", e))?;
        for s in page.schedules() {
            if let Some(name) = s.name() {
                out.push((
                    s.group_name().unwrap_or("default").to_string(),
                    name.to_string(),
                ));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Before a schedule is created in `group` (other than `default`, which every account has):
/// a group that does not exist is a dependency of the user's (the controller creates no
/// groups: they hold other schedules too), said before anything is written, naming the field
/// and the command. Real Scheduler would refuse CreateSchedule; the emulator fails with a 500.
pub async fn require_group(c: &Clients, group: &str) -> Result<(), AwsError> {
    if group == "default" {
        return Ok(());
    }
    let found = match found(
        c.scheduler
            .get_schedule_group()
            .name(group)
            .send()
            .await
            .map_err(|e| classify("scheduler:GetScheduleGroup", e)),
    ) {
        // A policy from before this check: CreateSchedule itself says what is missing.
        Err(e) if e.kind == ErrorKind::AccessDenied => return Ok(()),
        other => other?,
    };
    match found {
        Some(_) => Ok(()),
        None => Err(AwsError::new(
            "scheduler:GetScheduleGroup",
            ErrorKind::NotFound,
            "ResourceNotFoundException",
            format!("spec.schedule.group `{group}` is no schedule group of this account in {}: create it (aws scheduler create-schedule-group --name {group}); the controller creates no schedule groups, which hold other schedules too", c.region),
        )),
    }
}
