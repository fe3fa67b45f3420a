//! An event bus's own log of its failures (EventBridge event bus logging, since July 2025),
//! read where the bus logs to CloudWatch Logs. Where it logs is found as the console sets it
//! up: the bus is a CloudWatch Logs delivery *source* (log types ERROR_LOGS, INFO_LOGS,
//! TRACE_LOGS), a *delivery* links it to a delivery *destination*, and a destination of
//! type CWL names the log group. A bus that logs to S3 or Firehose only, or not at all, has
//! no log group here: the metrics and the dead-letter queue still speak for it.
//!
//! The failure records of one rule are read with one `FilterLogEvents` over the delivery
//! window, and only for a rule whose metrics report failures (`controller::pass::converge`), so an
//! integration that delivers costs no call here.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::errors::{classify, AwsError};
use super::Clients;
use crate::diagnose::bus_log::FAILURE_STEPS;

/// Records read at most for one rule and window (one page of `FilterLogEvents`).
const RECORDS_PER_READ: i32 = 100;

/// The log group each bus of the account and region logs to, by bus ARN: from the
/// deliveries whose source is a bus and whose destination is a log group (a few calls,
/// paginated by the SDK, shared by every rule of the account and region).
pub async fn log_groups(c: &Clients) -> Result<HashMap<String, String>, AwsError> {
    let sources = c
        .logs
        .describe_delivery_sources()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| classify("logs:DescribeDeliverySources", e))?;
    let bus_of: HashMap<String, String> = sources
        .iter()
        .filter_map(|s| {
            let bus = s.resource_arns().iter().find(|a| is_bus(a))?;
            Some((s.name()?.to_string(), bus.clone()))
        })
        .collect();
    if bus_of.is_empty() {
        return Ok(HashMap::new());
    }
    let deliveries = c
        .logs
        .describe_deliveries()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| classify("logs:DescribeDeliveries", e))?;
    let mut groups = HashMap::new();
    for d in deliveries {
        let (Some(bus), Some(destination)) = (
            d.delivery_source_name().and_then(|s| bus_of.get(s)),
            d.delivery_destination_arn(),
        ) else {
            continue;
        };
        if groups.contains_key(bus) {
            continue;
        }
        let name = destination
            .rsplit_once("delivery-destination:")
            .map_or(destination, |(_, n)| n);
        let found = c
            .logs
            .get_delivery_destination()
            .name(name)
            .send()
            .await
            .map_err(|e| classify("logs:GetDeliveryDestination", e))?;
        let group = found
            .delivery_destination()
            .and_then(|d| d.delivery_destination_configuration())
            .and_then(|c| log_group_name(c.destination_resource_arn()));
        if let Some(group) = group {
            groups.insert(bus.clone(), group);
        }
    }
    Ok(groups)
}

/// The failure records of `rule_arn` in `log_group` over the last `window`, newest page
/// first as CloudWatch Logs returns them (each a record's JSON text).
pub async fn failure_records(
    c: &Clients,
    log_group: &str,
    rule_arn: &str,
    window: Duration,
) -> Result<Vec<String>, AwsError> {
    let since = SystemTime::now()
        .checked_sub(window)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let out = c
        .logs
        .filter_log_events()
        .log_group_name(log_group)
        .start_time(since)
        .filter_pattern(failure_pattern(rule_arn))
        .limit(RECORDS_PER_READ)
        .send()
        .await
        .map_err(|e| classify("logs:FilterLogEvents", e))?;
    Ok(out
        .events()
        .iter()
        .filter_map(|e| e.message().map(str::to_string))
        .collect())
}

/// CloudWatch Logs' JSON filter for the failure steps of one rule: only those records leave
/// AWS. (The records are parsed again on this side, `diagnose::bus_log`: a filter the test
/// emulator does not understand selects every record.)
pub fn failure_pattern(rule_arn: &str) -> String {
    let steps: Vec<String> = FAILURE_STEPS
        .iter()
        .map(|s| format!("($.message_type = \"{s}\")"))
        .collect();
    format!(
        "{{ ($.details.rule_arn = \"{rule_arn}\") && ({}) }}",
        steps.join(" || ")
    )
}

/// The ARN of the bus `bus_name` a rule (`rule_arn`) is on: `…:rule/…` → `…:event-bus/NAME`.
pub fn bus_of_rule(rule_arn: &str, bus_name: &str) -> Option<String> {
    let (head, _) = rule_arn.split_once(":rule/")?;
    let bus = if bus_name.is_empty() {
        "default"
    } else {
        bus_name
    };
    Some(format!("{head}:event-bus/{bus}"))
}

fn is_bus(arn: &str) -> bool {
    arn.split(':').nth(2) == Some("events") && arn.contains(":event-bus/")
}

/// `arn:aws:logs:REGION:ACCOUNT:log-group:NAME` (with or without a trailing `:*`) → NAME.
pub fn log_group_name(arn: &str) -> Option<String> {
    let (_, rest) = arn.split_once(":log-group:")?;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_group_is_named_by_its_arn_with_or_without_the_stream_wildcard() {
        let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/events/default";
        assert_eq!(
            log_group_name(arn).as_deref(),
            Some("/aws/vendedlogs/events/default")
        );
        assert_eq!(
            log_group_name(&format!("{arn}:*")).as_deref(),
            Some("/aws/vendedlogs/events/default")
        );
        assert_eq!(log_group_name("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn the_filter_selects_the_rule_and_every_failure_step() {
        let p = failure_pattern("arn:aws:events:us-east-1:123456789012:rule/orders");
        assert!(p.starts_with(
            "{ ($.details.rule_arn = \"arn:aws:events:us-east-1:123456789012:rule/orders\") && ("
        ));
        for step in FAILURE_STEPS {
            assert!(p.contains(&format!("($.message_type = \"{step}\")")), "{p}");
        }
        assert_eq!(p.matches(" || ").count(), FAILURE_STEPS.len() - 1);
    }

    #[test]
    fn a_rule_is_on_its_bus_of_the_same_account_and_region() {
        assert_eq!(
            bus_of_rule(
                "arn:aws:events:eu-west-1:123456789012:rule/orders",
                "default"
            )
            .as_deref(),
            Some("arn:aws:events:eu-west-1:123456789012:event-bus/default")
        );
        assert_eq!(
            bus_of_rule(
                "arn:aws:events:eu-west-1:123456789012:rule/shop/orders",
                "shop"
            )
            .as_deref(),
            Some("arn:aws:events:eu-west-1:123456789012:event-bus/shop")
        );
        assert_eq!(bus_of_rule("orders", "default"), None);
    }

    #[test]
    fn only_an_event_bus_is_a_bus() {
        assert!(is_bus(
            "arn:aws:events:us-east-1:123456789012:event-bus/default"
        ));
        assert!(!is_bus("arn:aws:events:us-east-1:123456789012:rule/orders"));
        assert!(!is_bus("arn:aws:sso:::instance/x"));
    }
}
