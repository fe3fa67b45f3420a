//! Observed delivery, pure: from the per-rule metrics AWS records (CloudWatch, `AWS/Events`)
//! to the `Delivering` condition, and to a `DeliveryFailing` finding that links what AWS
//! reports to what the static diagnosis predicted. The metrics are read elsewhere
//! (`aws::delivery`); nothing here does I/O.
//!
//! `Delivering` says what happened, not what is configured: it is kept out of `Ready`.

use std::time::Duration;

use super::finding::{Code, Finding};

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
}

impl Observation {
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
/// no traffic in the window, or nothing read.
pub fn delivery(observation: &Observation) -> Delivery {
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
    }
}

/// When AWS reports failures: a `DeliveryFailing` finding naming the static findings that
/// predicted them (errors), or saying that none did. None otherwise.
pub fn link(observation: &Observation, findings: &[Finding]) -> Option<Finding> {
    let Observation::Counts { counts, window } = observation else {
        return None;
    };
    if counts.failures() <= 0.0 {
        return None;
    }
    let mut predicted: Vec<&str> = findings
        .iter()
        .filter(|f| f.is_error() && f.code != Code::DeliveryFailing)
        .map(|f| f.code.as_str())
        .collect();
    predicted.dedup();
    let reported = format!(
        "AWS reports {} failed invocations in {}",
        counts.failures().round() as u64,
        window_text(*window)
    );
    let (message, remediation) = if predicted.is_empty() {
        (
            format!("{reported}; the evaluator predicted no cause: please report it"),
            "Read the target's own errors (its dead-letter queue's messages carry ERROR_CODE and ERROR_MESSAGE), and report the case so the diagnosis learns it".to_string(),
        )
    } else {
        (
            format!("{reported}; predicted: {}", predicted.join(", ")),
            format!("Fix the predicted causes: {}", predicted.join(", ")),
        )
    };
    Some(Finding::new(
        Code::DeliveryFailing,
        None,
        None,
        message,
        remediation,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let d = delivery(&counts(7.0, 3.0));
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
        let d = delivery(&counts(7.0, 0.0));
        assert_eq!(
            (d.status, d.reason),
            (Some(true), DeliveryReason::Delivering)
        );
        assert!(d.message.contains("7 invocations"), "{}", d.message);
        let d = delivery(&counts(0.0, 0.0));
        assert_eq!((d.status, d.reason), (None, DeliveryReason::NoTraffic));
        let mut dlq = DeliveryCounts::default();
        dlq.set("InvocationsFailedToBeSentToDlq", 2.0);
        let d = delivery(&Observation::Counts {
            counts: dlq,
            window: Duration::from_secs(300),
        });
        assert_eq!(d.status, Some(false), "lost events are failures");
    }

    #[test]
    fn nothing_read_is_unknown_with_why() {
        let d = delivery(&Observation::NotReadYet);
        assert_eq!((d.status, d.reason), (None, DeliveryReason::NotObserved));
        assert!(d.message.contains("not read yet"));
        let d = delivery(&Observation::Unreadable(
            "AccessDenied: not authorized to perform cloudwatch:GetMetricData".into(),
        ));
        assert_eq!(d.status, None);
        assert!(
            d.message.contains("cloudwatch:GetMetricData"),
            "{}",
            d.message
        );
        assert_eq!(delivery(&Observation::Off).status, None);
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
        let f = link(&counts(0.0, 4.0), &[passrole, broad.clone()]).expect("failing");
        assert_eq!(f.code, Code::DeliveryFailing);
        assert!(!f.is_error(), "kept out of Ready");
        assert_eq!(
            f.message,
            "AWS reports 4 failed invocations in 10m; predicted: PassRoleMissing"
        );
        let f = link(&counts(0.0, 1.0), &[broad]).expect("failing");
        assert!(
            f.message
                .ends_with("the evaluator predicted no cause: please report it"),
            "{}",
            f.message
        );
        assert_eq!(link(&counts(5.0, 0.0), &[]), None);
        assert_eq!(link(&Observation::NotReadYet, &[]), None);
    }

    #[test]
    fn several_rules_combine() {
        let c = Observation::combine(&[counts(2.0, 0.0), counts(0.0, 1.0)]);
        assert_eq!(delivery(&c).status, Some(false));
        let c = Observation::combine(&[counts(2.0, 0.0), Observation::NotReadYet]);
        assert_eq!(c, Observation::NotReadYet);
    }
}
