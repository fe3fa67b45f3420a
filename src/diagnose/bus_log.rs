//! A rule's failures as its event bus's log records them, pure. Since July 2025 an event bus
//! can log each step of an event's processing (levels ERROR, INFO, TRACE) to CloudWatch Logs,
//! Firehose or S3, one JSON record a step, in the schema AWS documents
//! (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-logs-schema.html>):
//! `resource_arn` (the bus), `message_type` (the step), `message_timestamp_ms`, `details`
//! (for an invocation: `rule_arn`, `target_arn`, …) and, for a failed step, `error` with the
//! target service's own `error_message`. The records are read elsewhere (`aws::bus_logs`);
//! nothing here does I/O.

use std::time::Duration;

use serde_json::Value;

use super::delivery::ErrorClass;

/// The steps that say an invocation failed (ERROR level: logged at every level).
pub const FAILURE_STEPS: [&str; 4] = [
    "INVOCATION_ATTEMPT_PERMANENT_FAILURE",
    "INVOCATION_ATTEMPT_RETRYABLE_FAILURE",
    "INVOCATION_FAILURE",
    "INVOCATION_DLQ",
];

/// The newest failure of a rule among its bus's log records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusLogFailure {
    /// The step (`INVOCATION_ATTEMPT_PERMANENT_FAILURE`, …).
    pub step: String,
    /// The target service's words (`error.error_message`), empty when the record has none.
    pub error_message: String,
    /// The service that answered (`error.aws_service`) and its HTTP status.
    pub service: Option<String>,
    pub http_status: Option<u64>,
    pub target_arn: Option<String>,
    /// `message_timestamp_ms`, in Unix milliseconds.
    pub at_millis: Option<u64>,
    /// Failure records of this rule among those read.
    pub seen: u32,
}

impl BusLogFailure {
    /// The newest failure of `rule_arn` among `records` (each a log event's message); records
    /// that are not JSON, of another rule, or of a step that is not a failure are skipped.
    pub fn newest_of<'a>(
        rule_arn: &str,
        records: impl IntoIterator<Item = &'a str>,
    ) -> Option<BusLogFailure> {
        let mut newest: Option<BusLogFailure> = None;
        let mut seen = 0;
        for record in records {
            let Some(failure) = failure_of(rule_arn, record) else {
                continue;
            };
            seen += 1;
            if newest
                .as_ref()
                .is_none_or(|n| failure.at_millis > n.at_millis)
            {
                newest = Some(failure);
            }
        }
        newest.map(|n| BusLogFailure { seen, ..n })
    }

    /// What kind of failure it is, as a dead-letter message's `ERROR_CODE` is classed: the
    /// target refused EventBridge (HTTP 403, or AWS's words say so), the target is gone
    /// (HTTP 404, or so said), or anything else (its own error, a throttle, a timeout).
    pub fn class(&self) -> ErrorClass {
        let words = self.error_message.to_ascii_lowercase();
        let says = |any: &[&str]| any.iter().any(|w| words.contains(w));
        if self.http_status == Some(403)
            || says(&[
                "accessdenied",
                "access denied",
                "not authorized",
                "no permissions",
            ])
        {
            ErrorClass::Permission
        } else if self.http_status == Some(404)
            || says(&["resourcenotfound", "not found", "does not exist"])
        {
            ErrorClass::Missing
        } else {
            ErrorClass::Runtime
        }
    }

    /// "STEP: “error message” (service, HTTP status), logged at <UTC time>".
    pub fn describe(&self) -> String {
        let mut out = self.step.clone();
        if !self.error_message.is_empty() {
            out.push_str(&format!(": \"{}\"", self.error_message));
        }
        match (&self.service, self.http_status) {
            (Some(s), Some(h)) => out.push_str(&format!(" ({s}, HTTP {h})")),
            (Some(s), None) => out.push_str(&format!(" ({s})")),
            (None, Some(h)) => out.push_str(&format!(" (HTTP {h})")),
            (None, None) => {}
        }
        if let Some(ms) = self.at_millis {
            let at = std::time::UNIX_EPOCH + Duration::from_millis(ms);
            out.push_str(&format!(
                ", logged at {}",
                humantime::format_rfc3339_seconds(at)
            ));
        }
        out
    }
}

fn failure_of(rule_arn: &str, record: &str) -> Option<BusLogFailure> {
    let v: Value = serde_json::from_str(record).ok()?;
    let step = v.get("message_type")?.as_str()?;
    if !FAILURE_STEPS.contains(&step) {
        return None;
    }
    let details = v.get("details");
    let text = |parent: Option<&Value>, field: &str| {
        parent
            .and_then(|p| p.get(field))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if text(details, "rule_arn").as_deref() != Some(rule_arn) {
        return None;
    }
    let error = v.get("error");
    Some(BusLogFailure {
        step: step.to_string(),
        error_message: text(error, "error_message").unwrap_or_default(),
        service: text(error, "aws_service"),
        http_status: error
            .and_then(|e| e.get("http_status_code"))
            .and_then(number),
        target_arn: text(details, "target_arn"),
        at_millis: v.get("message_timestamp_ms").and_then(number),
        seen: 0,
    })
}

/// AWS's schema shows numbers as strings in places (`"message_timestamp_ms": "date_time"`):
/// either form is read.
fn number(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULE: &str = "arn:aws:events:us-east-1:123456789012:rule/orders";

    fn record(step: &str, rule: &str, at: u64, message: &str, status: u64) -> String {
        json!({
            "resource_arn": "arn:aws:events:us-east-1:123456789012:event-bus/default",
            "request_id": "r-1", "event_id": "e-1", "invocation_id": "i-1",
            "message_timestamp_ms": at.to_string(),
            "message_type": step,
            "log_level": "ERROR",
            "details": {
                "rule_arn": rule,
                "target_arn": "arn:aws:lambda:us-east-1:123456789012:function:notify",
            },
            "error": {
                "http_status_code": status,
                "error_message": message,
                "aws_service": "lambda",
                "request_id": "svc-1"
            }
        })
        .to_string()
    }

    #[test]
    fn the_newest_failure_of_the_rule_with_aws_words() {
        let records = [
            record("INVOCATION_ATTEMPT_PERMANENT_FAILURE", RULE, 1_000, "older", 403),
            record("INVOCATION_ATTEMPT_PERMANENT_FAILURE", RULE, 3_000, "User: arn:aws:sts::123456789012:assumed-role/x is not authorized to perform: lambda:InvokeFunction", 403),
            record("INVOCATION_ATTEMPT_PERMANENT_FAILURE", "arn:aws:events:us-east-1:123456789012:rule/other", 9_000, "another rule", 500),
            record("INVOCATION_SUCCESS", RULE, 8_000, "", 200),
            "not json".to_string(),
        ];
        let f = BusLogFailure::newest_of(RULE, records.iter().map(String::as_str)).unwrap();
        assert_eq!(
            f.seen, 2,
            "the other rule, the success and the stray line are not counted"
        );
        assert_eq!(f.at_millis, Some(3_000));
        assert!(f.error_message.starts_with("User: "));
        assert_eq!(f.class(), ErrorClass::Permission);
        let text = f.describe();
        assert!(
            text.starts_with("INVOCATION_ATTEMPT_PERMANENT_FAILURE: \"User: "),
            "{text}"
        );
        assert!(text.contains("(lambda, HTTP 403)"), "{text}");
        assert!(text.ends_with("logged at 1970-01-01T00:00:03Z"), "{text}");
    }

    #[test]
    fn a_throttle_is_the_targets_own_failure_and_a_404_a_missing_target() {
        let r = record(
            "INVOCATION_ATTEMPT_RETRYABLE_FAILURE",
            RULE,
            5,
            "Rate exceeded",
            429,
        );
        let f = BusLogFailure::newest_of(RULE, [r.as_str()]).unwrap();
        assert_eq!(f.class(), ErrorClass::Runtime);
        let r = record(
            "INVOCATION_FAILURE",
            RULE,
            5,
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:gone",
            404,
        );
        let f = BusLogFailure::newest_of(RULE, [r.as_str()]).unwrap();
        assert_eq!(f.class(), ErrorClass::Missing);
    }

    #[test]
    fn no_failure_of_the_rule_is_none() {
        let r = record("INVOCATION_SUCCESS", RULE, 5, "", 200);
        assert_eq!(BusLogFailure::newest_of(RULE, [r.as_str()]), None);
    }
}
