//! Observed delivery, pure: from the per-rule metrics AWS records (CloudWatch, `AWS/Events`)
//! to the `Delivering` condition, and to a `DeliveryFailing` finding that links what AWS
//! reports to what the static diagnosis predicted. The metrics are read elsewhere
//! (`aws::delivery`); nothing here does I/O.
//!
//! `Delivering` says what happened, not what is configured: it is kept out of `Ready`.

use std::time::Duration;

use super::bus_log::BusLogFailure;
use super::finding::{Code, Finding};
use super::trail::TrailFailure;

/// The per-rule metrics of `AWS/Events`, in the order they are read.
pub const METRICS: [&str; 5] = [
    "Invocations",
    "FailedInvocations",
    "InvocationsFailedToBeSentToDlq",
    "DeadLetterInvocations",
    "ThrottledRules",
];

/// The sums of a rule's metrics over one window (0 where AWS has no data point).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DeliveryCounts {
    pub invocations: f64,
    pub failed_invocations: f64,
    pub failed_to_dead_letter: f64,
    pub dead_letter_invocations: f64,
    pub throttled: f64,
}

impl DeliveryCounts {
    /// Sets the metric named `metric` (one of `METRICS`); other names are ignored.
    pub fn set(&mut self, metric: &str, sum: f64) {
        match metric {
            "Invocations" => self.invocations = sum,
            "FailedInvocations" => self.failed_invocations = sum,
            "InvocationsFailedToBeSentToDlq" => self.failed_to_dead_letter = sum,
            "DeadLetterInvocations" => self.dead_letter_invocations = sum,
            "ThrottledRules" => self.throttled = sum,
            _ => {}
        }
    }

    pub fn add(&mut self, other: &DeliveryCounts) {
        self.invocations += other.invocations;
        self.failed_invocations += other.failed_invocations;
        self.failed_to_dead_letter += other.failed_to_dead_letter;
        self.dead_letter_invocations += other.dead_letter_invocations;
        self.throttled += other.throttled;
    }

    fn failures(&self) -> f64 {
        self.failed_invocations + self.failed_to_dead_letter
    }

    fn traffic(&self) -> f64 {
        self.invocations
            + self.failed_invocations
            + self.failed_to_dead_letter
            + self.dead_letter_invocations
            + self.throttled
    }

    fn describe(&self) -> String {
        let n = |v: f64| format!("{}", v.round() as u64);
        format!(
            "Invocations={}, FailedInvocations={}, InvocationsFailedToBeSentToDlq={}, DeadLetterInvocations={}, ThrottledRules={}",
            n(self.invocations),
            n(self.failed_invocations),
            n(self.failed_to_dead_letter),
            n(self.dead_letter_invocations),
            n(self.throttled)
        )
    }
}

/// What is known of a rule's delivery.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// The sums over `window`, from a read that covered the rule.
    Counts {
        counts: DeliveryCounts,
        window: Duration,
    },
    /// The rule was registered after the last read: it is in the next one.
    NotReadYet,
    /// The read failed (AWS's error, e.g. AccessDenied on cloudwatch:GetMetricData).
    Unreadable(String),
    /// Observation is switched off (`--observe-delivery=false`).
    Off,
    /// A schedule's: EventBridge Scheduler publishes its invocation metrics per account and
    /// schedule group, never per schedule, so one schedule's delivery cannot be told apart.
    NotPerSchedule,
}

impl Observation {
    /// Whether the metrics report failed invocations (the only case where AWS's own words
    /// are worth a read: the bus's log is read then, and only then).
    pub fn failed(&self) -> bool {
        matches!(self, Observation::Counts { counts, .. } if counts.failures() > 0.0)
    }

    /// One observation for several rules (a cross-account integration's two): the sums
    /// when every rule was read, else the first rule that was not.
    pub fn combine(all: &[Observation]) -> Observation {
        let mut total = DeliveryCounts::default();
        let mut span = None;
        for o in all {
            match o {
                Observation::Counts { counts, window } => {
                    total.add(counts);
                    span = Some(span.map_or(*window, |w: Duration| w.max(*window)));
                }
                other => return other.clone(),
            }
        }
        match span {
            Some(window) => Observation::Counts {
                counts: total,
                window,
            },
            None => Observation::NotReadYet,
        }
    }
}

/// The newest message EventBridge left for a rule in its dead-letter queue: the message
/// attributes AWS documents on every such message (`RULE_ARN`, `TARGET_ARN`, `ERROR_CODE`,
/// `ERROR_MESSAGE`, `EXHAUSTED_RETRY_CONDITION`, `RETRY_ATTEMPTS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub error_code: String,
    pub error_message: String,
    pub target_arn: Option<String>,
    /// When SQS received it (`SentTimestamp`), in Unix seconds.
    pub sent_at: Option<u64>,
    /// Messages for this rule among those read (one receive: at most 10 of the queue).
    pub seen: u32,
}

/// What kind of failure an `ERROR_CODE` is, for what the diagnosis can say of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// EventBridge was refused: a policy, a trust or a key (the static diagnosis's field).
    Permission,
    /// The target or the rule no longer exists.
    Missing,
    /// Anything else (the target's own error, throttling, a timeout, a bad parameter): not
    /// something a policy evaluation predicts.
    Runtime,
}

impl DeadLetter {
    /// The newest message of `rule_arn` among `messages` (each its message attributes and its
    /// `SentTimestamp` in milliseconds, as SQS returns them); None when none is the rule's
    /// or none carries an `ERROR_CODE`.
    pub fn newest_of<'a>(
        rule_arn: &str,
        messages: impl IntoIterator<Item = (&'a std::collections::HashMap<String, String>, Option<u64>)>,
    ) -> Option<DeadLetter> {
        let mut newest: Option<DeadLetter> = None;
        let mut seen = 0;
        for (attributes, sent_millis) in messages {
            if attributes.get("RULE_ARN").map(String::as_str) != Some(rule_arn) {
                continue;
            }
            let Some(code) = attributes.get("ERROR_CODE") else {
                continue;
            };
            seen += 1;
            let sent_at = sent_millis.map(|m| m / 1000);
            if newest.as_ref().is_some_and(|n| n.sent_at >= sent_at) {
                continue;
            }
            newest = Some(DeadLetter {
                error_code: code.clone(),
                error_message: attributes.get("ERROR_MESSAGE").cloned().unwrap_or_default(),
                target_arn: attributes.get("TARGET_ARN").cloned(),
                sent_at,
                seen: 0,
            });
        }
        newest.map(|n| DeadLetter { seen, ..n })
    }

    pub fn class(&self) -> ErrorClass {
        match self.error_code.as_str() {
            "NO_PERMISSIONS" | "FAILED_TO_ASSUME_ROLE" => ErrorClass::Permission,
            "NO_RESOURCE" | "RULE_NOT_FOUND" => ErrorClass::Missing,
            _ => ErrorClass::Runtime,
        }
    }

    /// "ERROR_CODE (“ERROR_MESSAGE”), sent at <UTC time>".
    pub fn describe(&self) -> String {
        let mut out = self.error_code.clone();
        if !self.error_message.is_empty() {
            out.push_str(&format!(" (\"{}\")", self.error_message));
        }
        if let Some(at) = self.sent_at {
            let at = std::time::UNIX_EPOCH + Duration::from_secs(at);
            out.push_str(&format!(
                ", sent at {}",
                humantime::format_rfc3339_seconds(at)
            ));
        }
        out
    }
}

/// What AWS itself said of a rule's failures, beside its counts: the newest message the rule
/// left in its dead-letter queue (`--read-dead-letters`), and the newest failure its bus
/// logged (where the bus logs to CloudWatch Logs), and the newest failed call of
/// EventBridge's for the integration's role that CloudTrail recorded.
#[derive(Clone, Copy, Debug, Default)]
pub struct AwsWords<'a> {
    pub dead_letter: Option<&'a DeadLetter>,
    pub bus_log: Option<&'a BusLogFailure>,
    /// The newest failed call CloudTrail recorded of EventBridge's for the role.
    pub trail: Option<&'a TrailFailure>,
}

impl AwsWords<'_> {
    /// Each, as it is quoted: where AWS said it, and what.
    fn quoted(&self) -> Vec<String> {
        let mut out = vec![];
        if let Some(dl) = self.dead_letter {
            out.push(format!(
                "its dead-letter queue holds {} message(s) for this rule, the newest {}",
                dl.seen,
                dl.describe()
            ));
        }
        if let Some(log) = self.bus_log {
            out.push(format!(
                "its event bus logged {} failure(s) of this rule, the newest {}",
                log.seen,
                log.describe()
            ));
        }
        if let Some(trail) = self.trail {
            out.push(format!(
                "CloudTrail recorded {} failed call(s) EventBridge made for its role, the newest {}",
                trail.seen,
                trail.describe()
            ));
        }
        out
    }

    /// The words of a failure no policy evaluation predicts (the target's own error, a
    /// throttle, a timeout), if AWS's words say so.
    fn runtime_failure(&self) -> Option<String> {
        if let Some(dl) = self
            .dead_letter
            .filter(|dl| dl.class() == ErrorClass::Runtime)
        {
            return Some(dl.error_code.clone());
        }
        if let Some(log) = self
            .bus_log
            .filter(|log| log.class() == ErrorClass::Runtime)
        {
            return Some(match &log.service {
                Some(service) => format!("{service}'s error"),
                None => log.step.clone(),
            });
        }
        self.trail
            .filter(|t| t.class() == ErrorClass::Runtime)
            .map(|t| t.error_code.clone())
    }
}

/// The `Delivering` condition's value: `status` None is Unknown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub status: Option<bool>,
    pub reason: DeliveryReason,
    pub message: String,
}

/// Why `Delivering` is as it is (the controller writes each as the reason of that name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryReason {
    Delivering,
    DeliveryFailing,
    NoTraffic,
    NotObserved,
}

fn window_text(window: Duration) -> String {
    humantime::format_duration(window).to_string()
}

/// From the observation to the condition. True: invocations and no failures. False: failed
/// invocations (or events that could not even be sent to the dead-letter queue). Unknown:
/// no traffic in the window, or nothing read. AWS's own words (a dead-letter message, a
/// record of the bus's log) are added; they never change the status (they may be old).
pub fn delivery(observation: &Observation, words: AwsWords<'_>) -> Delivery {
    let mut d = from_metrics(observation);
    if d.status != Some(true) {
        if let Some(dl) = words.dead_letter {
            d.message.push_str(&format!(
                "; the newest of its dead-letter queue's messages for this rule: {}",
                dl.describe()
            ));
        }
        if let Some(log) = words.bus_log {
            d.message.push_str(&format!(
                "; the newest failure its event bus logged for this rule: {}",
                log.describe()
            ));
        }
        if let Some(trail) = words.trail {
            d.message.push_str(&format!(
                "; the newest failed call CloudTrail recorded of EventBridge's for its role: {}",
                trail.describe()
            ));
        }
    }
    d
}

fn from_metrics(observation: &Observation) -> Delivery {
    match observation {
        Observation::Counts { counts, window } => {
            let w = window_text(*window);
            if counts.failures() > 0.0 {
                Delivery {
                    status: Some(false),
                    reason: DeliveryReason::DeliveryFailing,
                    message: format!(
                        "AWS reports {} failed invocations in the last {w} ({})",
                        counts.failures().round() as u64,
                        counts.describe()
                    ),
                }
            } else if counts.traffic() > 0.0 {
                Delivery {
                    status: Some(true),
                    reason: DeliveryReason::Delivering,
                    message: format!(
                        "AWS reports {} invocations and no failures in the last {w} ({})",
                        counts.invocations.round() as u64,
                        counts.describe()
                    ),
                }
            } else {
                Delivery {
                    status: None,
                    reason: DeliveryReason::NoTraffic,
                    message: format!(
                        "no events matched the rule in the last {w}: AWS reports no invocations and no failures"
                    ),
                }
            }
        }
        Observation::NotReadYet => Delivery {
            status: None,
            reason: DeliveryReason::NotObserved,
            message: "not read yet: the rule's CloudWatch metrics are read with the next bulk read of its account and region".into(),
        },
        Observation::Unreadable(error) => Delivery {
            status: None,
            reason: DeliveryReason::NotObserved,
            message: format!("the rule's CloudWatch metrics could not be read: {error}"),
        },
        Observation::Off => Delivery {
            status: None,
            reason: DeliveryReason::NotObserved,
            message: "delivery is not observed (--observe-delivery=false)".into(),
        },
        Observation::NotPerSchedule => Delivery {
            status: None,
            reason: DeliveryReason::NotObserved,
            message: "not observed for a schedule: EventBridge Scheduler publishes its invocation metrics (AWS/Scheduler) per account and schedule group, not per schedule; a dead-letter queue on the target collects what it could not deliver".into(),
        },
    }
}

/// When AWS reports failures (in the metrics, a dead-letter message of the rule, or its
/// bus's log): a `DeliveryFailing` finding naming the static findings that predicted them
/// (errors), or saying that none did. None otherwise.
pub fn link(
    observation: &Observation,
    words: AwsWords<'_>,
    findings: &[Finding],
) -> Option<Finding> {
    let mut reported = vec![];
    if let Observation::Counts { counts, window } = observation {
        if counts.failures() > 0.0 {
            reported.push(format!(
                "AWS reports {} failed invocations in {}",
                counts.failures().round() as u64,
                window_text(*window)
            ));
        }
    }
    reported.extend(words.quoted());
    if reported.is_empty() {
        return None;
    }
    let reported = reported.join("; ");
    let mut predicted: Vec<&str> = findings
        .iter()
        .filter(|f| f.is_error() && f.code != Code::DeliveryFailing)
        .map(|f| f.code.as_str())
        .collect();
    predicted.dedup();
    let (message, remediation) = match (words.runtime_failure(), predicted.is_empty()) {
        (Some(what), _) => (
            format!(
                "{reported}; {what} is the target's or the service's own failure, not a refused permission or a missing resource: no policy evaluation predicts it"
            ),
            "Read ERROR_MESSAGE and the target's own logs; for THROTTLING or TIMEOUT raise the target's limits or the target's retry policy (maximumRetryAttempts, maximumEventAgeInSeconds)".to_string(),
        ),
        (None, true) => (
            format!("{reported}; the evaluator predicted no cause: please report it"),
            "Read the target's own errors (its dead-letter queue's messages carry ERROR_CODE and ERROR_MESSAGE), and report the case so the diagnosis learns it".to_string(),
        ),
        (None, false) => (
            format!("{reported}; predicted: {}", predicted.join(", ")),
            format!("Fix the predicted causes: {}", predicted.join(", ")),
        ),
    };
    Some(Finding::new(
        Code::DeliveryFailing,
        None,
        None,
        message,
        remediation,
    ))
}

/// What AWS recorded of one rule's deliveries, as the CLI reads it online (`diagnose --rule`,
/// `diagnose --all`, `collect`) and a bundle carries it (`delivery`): the metric sums and the
/// raw records, never a verdict, so that a bundle is judged offline as the account was
/// online. The dead-letter queue's messages are not among them: reading them changes their
/// visibility, which a read-only command must not do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeliveryEvidence {
    /// The window everything was read over.
    pub window: Duration,
    /// The rule's metric sums over the window; None when they were not read (`unreadable`
    /// says why).
    pub counts: Option<DeliveryCounts>,
    /// The rule's failure records in its event bus's log (each record's JSON text), read only
    /// when the metrics report failures and the bus logs to CloudWatch Logs.
    pub bus_log_records: Vec<String>,
    /// CloudTrail's records (`CloudTrailEvent` JSON text) of calls EventBridge made for the
    /// rule's roles, read only when the metrics report failures.
    pub trail_records: Vec<String>,
    /// Each source that could not be read, with AWS's reason (`delivery (…): …`).
    pub unreadable: Vec<String>,
}

impl DeliveryEvidence {
    pub fn observation(&self) -> Observation {
        match (&self.counts, self.unreadable.first()) {
            (Some(counts), _) => Observation::Counts {
                counts: *counts,
                window: self.window,
            },
            (None, Some(why)) => Observation::Unreadable(why.clone()),
            (None, None) => Observation::NotReadYet,
        }
    }

    /// The `DeliveryFailing` finding of the rule `rule_arn`, whose targets use `role_arns`,
    /// linked to the static `findings` (as the controller's `Delivering` is): None when AWS
    /// reports no failure.
    pub fn finding(
        &self,
        rule_arn: &str,
        role_arns: &[&str],
        findings: &[Finding],
    ) -> Option<Finding> {
        let bus_log =
            BusLogFailure::newest_of(rule_arn, self.bus_log_records.iter().map(String::as_str));
        let trail = role_arns.iter().find_map(|role| {
            TrailFailure::newest_for(role, self.trail_records.iter().map(String::as_str))
        });
        let words = AwsWords {
            dead_letter: None,
            bus_log: bus_log.as_ref(),
            trail: trail.as_ref(),
        };
        link(&self.observation(), words, findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn dead_letter(dl: &DeadLetter) -> AwsWords<'_> {
        AwsWords {
            dead_letter: Some(dl),
            ..AwsWords::default()
        }
    }

    fn delivery_of(observation: &Observation) -> Delivery {
        delivery(observation, AwsWords::default())
    }

    fn counts(invocations: f64, failed: f64) -> Observation {
        Observation::Counts {
            counts: DeliveryCounts {
                invocations,
                failed_invocations: failed,
                ..Default::default()
            },
            window: Duration::from_secs(600),
        }
    }

    #[test]
    fn counts_become_the_condition() {
        let d = delivery_of(&counts(7.0, 3.0));
        assert_eq!(
            (d.status, d.reason),
            (Some(false), DeliveryReason::DeliveryFailing)
        );
        assert!(
            d.message.contains("3 failed invocations in the last 10m"),
            "{}",
            d.message
        );
        assert!(d.message.contains("Invocations=7"), "{}", d.message);
        let d = delivery_of(&counts(7.0, 0.0));
        assert_eq!(
            (d.status, d.reason),
            (Some(true), DeliveryReason::Delivering)
        );
        assert!(d.message.contains("7 invocations"), "{}", d.message);
        let d = delivery_of(&counts(0.0, 0.0));
        assert_eq!((d.status, d.reason), (None, DeliveryReason::NoTraffic));
        let mut dlq = DeliveryCounts::default();
        dlq.set("InvocationsFailedToBeSentToDlq", 2.0);
        let d = delivery_of(&Observation::Counts {
            counts: dlq,
            window: Duration::from_secs(300),
        });
        assert_eq!(d.status, Some(false), "lost events are failures");
    }

    #[test]
    fn nothing_read_is_unknown_with_why() {
        let d = delivery_of(&Observation::NotReadYet);
        assert_eq!((d.status, d.reason), (None, DeliveryReason::NotObserved));
        assert!(d.message.contains("not read yet"));
        let d = delivery_of(&Observation::Unreadable(
            "AccessDenied: not authorized to perform cloudwatch:GetMetricData".into(),
        ));
        assert_eq!(d.status, None);
        assert!(
            d.message.contains("cloudwatch:GetMetricData"),
            "{}",
            d.message
        );
        assert_eq!(delivery_of(&Observation::Off).status, None);
    }

    #[test]
    fn failures_are_linked_to_the_predicted_causes() {
        let passrole = Finding::new(Code::PassRoleMissing, None, None, "m".into(), "r".into());
        let broad = Finding::new(
            Code::OverlyBroadPermission,
            None,
            None,
            "m".into(),
            "r".into(),
        );
        let f = link(
            &counts(0.0, 4.0),
            AwsWords::default(),
            &[passrole, broad.clone()],
        )
        .expect("failing");
        assert_eq!(f.code, Code::DeliveryFailing);
        assert!(!f.is_error(), "kept out of Ready");
        assert_eq!(
            f.message,
            "AWS reports 4 failed invocations in 10m; predicted: PassRoleMissing"
        );
        let f = link(&counts(0.0, 1.0), AwsWords::default(), &[broad]).expect("failing");
        assert!(
            f.message
                .ends_with("the evaluator predicted no cause: please report it"),
            "{}",
            f.message
        );
        assert_eq!(link(&counts(5.0, 0.0), AwsWords::default(), &[]), None);
        assert_eq!(
            link(&Observation::NotReadYet, AwsWords::default(), &[]),
            None
        );
    }

    #[test]
    fn several_rules_combine() {
        let c = Observation::combine(&[counts(2.0, 0.0), counts(0.0, 1.0)]);
        assert_eq!(delivery_of(&c).status, Some(false));
        let c = Observation::combine(&[counts(2.0, 0.0), Observation::NotReadYet]);
        assert_eq!(c, Observation::NotReadYet);
    }

    fn message(rule: &str, code: &str, text: &str) -> HashMap<String, String> {
        HashMap::from([
            ("RULE_ARN".to_string(), rule.to_string()),
            (
                "TARGET_ARN".to_string(),
                "arn:aws:states:us-east-1:123456789012:stateMachine:sm".to_string(),
            ),
            ("ERROR_CODE".to_string(), code.to_string()),
            ("ERROR_MESSAGE".to_string(), text.to_string()),
        ])
    }

    const RULE: &str = "arn:aws:events:us-east-1:123456789012:rule/ebi-orders";

    #[test]
    fn the_newest_dead_letter_of_the_rule_is_kept() {
        let old = message(RULE, "NO_RESOURCE", "gone");
        let new = message(
            RULE,
            "NO_PERMISSIONS",
            "not authorized to perform states:StartExecution",
        );
        let other = message(
            "arn:aws:events:us-east-1:123456789012:rule/other",
            "THROTTLING",
            "",
        );
        let mut no_code = message(RULE, "", "");
        no_code.remove("ERROR_CODE");
        let read = [
            (&old, Some(1_700_000_000_000)),
            (&other, Some(1_800_000_000_000)),
            (&new, Some(1_700_000_060_000)),
            (&no_code, Some(1_900_000_000_000)),
        ];
        let dl = DeadLetter::newest_of(RULE, read).expect("the rule's");
        assert_eq!(dl.error_code, "NO_PERMISSIONS");
        assert_eq!((dl.sent_at, dl.seen), (Some(1_700_000_060), 2));
        assert_eq!(
            dl.describe(),
            "NO_PERMISSIONS (\"not authorized to perform states:StartExecution\"), sent at 2023-11-14T22:14:20Z"
        );
        assert_eq!(dl.class(), ErrorClass::Permission);
        assert_eq!(
            DeadLetter::newest_of("arn:aws:events:us-east-1:1:rule/none", [(&old, None)]),
            None
        );
    }

    #[test]
    fn a_dead_letter_adds_aws_words_and_is_linked_by_its_class() {
        let dl = DeadLetter::newest_of(
            RULE,
            [(
                &message(RULE, "NO_PERMISSIONS", "denied"),
                Some(1_700_000_000_000),
            )],
        )
        .expect("read");
        // In the condition: AWS's words, the status from the metrics alone.
        let d = delivery(&counts(0.0, 0.0), dead_letter(&dl));
        assert_eq!(d.status, None);
        assert!(
            d.message.ends_with(
                "for this rule: NO_PERMISSIONS (\"denied\"), sent at 2023-11-14T22:13:20Z"
            ),
            "{}",
            d.message
        );
        assert!(
            !delivery(&counts(3.0, 0.0), dead_letter(&dl))
                .message
                .contains("NO_PERMISSIONS"),
            "an old message is not news while delivering"
        );
        // Linked to the prediction, even with no failure in the metrics' window.
        let passrole = Finding::new(Code::PassRoleMissing, None, None, "m".into(), "r".into());
        let f = link(
            &Observation::Off,
            dead_letter(&dl),
            std::slice::from_ref(&passrole),
        )
        .expect("reported");
        assert_eq!(
            f.message,
            "its dead-letter queue holds 1 message(s) for this rule, the newest NO_PERMISSIONS (\"denied\"), sent at 2023-11-14T22:13:20Z; predicted: PassRoleMissing"
        );
        // A permission failure nothing predicted is a bug report; a runtime one is not.
        let f = link(&Observation::Off, dead_letter(&dl), &[]).expect("reported");
        assert!(
            f.message
                .ends_with("the evaluator predicted no cause: please report it"),
            "{}",
            f.message
        );
        let throttled = DeadLetter {
            error_code: "THROTTLING".into(),
            ..dl
        };
        let f = link(&counts(1.0, 2.0), dead_letter(&throttled), &[passrole]).expect("reported");
        assert!(
            f.message.starts_with(
                "AWS reports 2 failed invocations in 10m; its dead-letter queue holds"
            ),
            "{}",
            f.message
        );
        assert!(
            f.message
                .contains("THROTTLING is the target's or the service's own failure"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_bus_log_record_is_quoted_and_linked_like_a_dead_letter() {
        let log = BusLogFailure {
            step: "INVOCATION_ATTEMPT_PERMANENT_FAILURE".into(),
            error_message: "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: iam:PassRole".into(),
            service: Some("ecs".into()),
            http_status: Some(403),
            target_arn: None,
            at_millis: Some(1_700_000_000_000),
            seen: 2,
        };
        let words = AwsWords {
            bus_log: Some(&log),
            ..AwsWords::default()
        };
        let d = delivery(&counts(0.0, 2.0), words);
        assert_eq!(d.status, Some(false));
        assert!(
            d.message.ends_with("; the newest failure its event bus logged for this rule: INVOCATION_ATTEMPT_PERMANENT_FAILURE: \"User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: iam:PassRole\" (ecs, HTTP 403), logged at 2023-11-14T22:13:20Z"),
            "{}",
            d.message
        );
        let passrole = Finding::new(Code::PassRoleMissing, None, None, "m".into(), "r".into());
        let f = link(&counts(0.0, 2.0), words, std::slice::from_ref(&passrole)).unwrap();
        assert!(f.message.contains("its event bus logged 2 failure(s) of this rule, the newest INVOCATION_ATTEMPT_PERMANENT_FAILURE"), "{}", f.message);
        assert!(
            f.message.ends_with("; predicted: PassRoleMissing"),
            "{}",
            f.message
        );
        // The target's own failure is not a prediction's miss.
        let throttled = BusLogFailure {
            error_message: "Rate exceeded".into(),
            http_status: Some(429),
            ..log.clone()
        };
        let words = AwsWords {
            bus_log: Some(&throttled),
            ..AwsWords::default()
        };
        let f = link(&counts(0.0, 2.0), words, &[]).unwrap();
        assert!(
            f.message
                .contains("ecs's error is the target's or the service's own failure"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_failed_call_cloudtrail_recorded_is_quoted_and_linked() {
        let trail = TrailFailure {
            call: "sts.amazonaws.com:AssumeRole".into(),
            error_code: "AccessDenied".into(),
            error_message:
                "User: events.amazonaws.com is not authorized to perform: sts:AssumeRole".into(),
            at: "2026-12-05T10:00:00Z".into(),
            seen: 3,
        };
        let words = AwsWords {
            trail: Some(&trail),
            ..AwsWords::default()
        };
        let d = delivery(&counts(0.0, 3.0), words);
        assert!(
            d.message.ends_with("; the newest failed call CloudTrail recorded of EventBridge's for its role: sts.amazonaws.com:AssumeRole failed with AccessDenied (\"User: events.amazonaws.com is not authorized to perform: sts:AssumeRole\") at 2026-12-05T10:00:00Z"),
            "{}",
            d.message
        );
        let trust = Finding::new(
            Code::TrustPolicyMissingServicePrincipal,
            None,
            None,
            "m".into(),
            "r".into(),
        );
        let f = link(&counts(0.0, 3.0), words, std::slice::from_ref(&trust)).unwrap();
        assert!(
            f.message
                .contains("CloudTrail recorded 3 failed call(s) EventBridge made for its role"),
            "{}",
            f.message
        );
        assert!(
            f.message
                .ends_with("; predicted: TrustPolicyMissingServicePrincipal"),
            "{}",
            f.message
        );
    }
}
