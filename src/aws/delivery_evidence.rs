//! What AWS recorded of rules' deliveries, read for the CLI (`diagnose --rule`, `diagnose
//! --all`, `collect`): the controller's sources (`aws::delivery`'s metrics, `aws::bus_logs`,
//! `aws::cloudtrail`), read once per run rather than once per window, and kept raw
//! (`diagnose::delivery::DeliveryEvidence`) so that a collected bundle carries them and
//! `diagnose --bundle` judges them as the live account was judged.
//!
//! As in the controller, a rule whose metrics report no failure costs one share of a bulk
//! `GetMetricData` and nothing else; the bus's log and CloudTrail are read only for failing
//! rules. A source that cannot be read is named in `unreadable`, never a failed command.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::delivery::{period_of, read_counts, RuleKey};
use super::{bus_logs, cloudtrail, Clients};
use crate::diagnose::delivery::{DeliveryCounts, DeliveryEvidence};
use crate::diagnose::trail::TrailFailure;
use crate::diagnose::Rule;
use crate::sync::Locked;

pub struct EvidenceReader {
    window: Duration,
    /// The sums of the rules read in bulk (`prefetch`), or why the bulk read failed.
    prefetched: Mutex<Option<Result<HashMap<RuleKey, DeliveryCounts>, String>>>,
    /// Where each bus logs, by bus ARN (one discovery a run).
    log_groups: OnceCell<Result<HashMap<String, String>, String>>,
    /// The newest management events of the window (one `LookupEvents` read a run).
    trail: OnceCell<Result<Vec<String>, String>>,
}

impl EvidenceReader {
    /// Reads over the last `window`, rounded up to whole minutes (CloudWatch's periods).
    pub fn new(window: Duration) -> EvidenceReader {
        EvidenceReader {
            window: period_of(window),
            prefetched: Mutex::new(None),
            log_groups: OnceCell::new(),
            trail: OnceCell::new(),
        }
    }

    /// One bulk read of the metrics of `rules` (100 rules a `GetMetricData` call), for a walk
    /// over many rules (`diagnose --all`); a rule read later without it costs a call of its
    /// own.
    pub async fn prefetch(&self, c: &Clients, rules: &[Rule]) {
        let keys: Vec<RuleKey> = rules
            .iter()
            .map(|r| RuleKey::new(&r.event_bus_name, &r.name))
            .collect();
        let read = read_counts(&c.cloudwatch, &keys, self.window)
            .await
            .map_err(|e| e.to_string());
        *self.prefetched.locked() = Some(read);
    }

    /// What AWS recorded of `rule`'s deliveries, whose targets use `role_arns`.
    pub async fn read(&self, c: &Clients, rule: &Rule, role_arns: &[&str]) -> DeliveryEvidence {
        let mut evidence = DeliveryEvidence {
            window: self.window,
            ..Default::default()
        };
        match self.counts(c, rule).await {
            Ok(counts) => evidence.counts = Some(counts),
            Err(why) => {
                evidence
                    .unreadable
                    .push(format!("delivery (CloudWatch metrics): {why}"));
                return evidence;
            }
        }
        if !evidence.observation().failed() {
            return evidence;
        }
        match self.bus_log_records(c, rule).await {
            Ok(records) => evidence.bus_log_records = records,
            Err(why) => evidence
                .unreadable
                .push(format!("delivery (the event bus's log): {why}")),
        }
        if !role_arns.is_empty() {
            match self.trail_records(c, role_arns).await {
                Ok(records) => evidence.trail_records = records,
                Err(why) => evidence
                    .unreadable
                    .push(format!("delivery (CloudTrail): {why}")),
            }
        }
        evidence
    }

    async fn counts(&self, c: &Clients, rule: &Rule) -> Result<DeliveryCounts, String> {
        let key = RuleKey::new(&rule.event_bus_name, &rule.name);
        match &*self.prefetched.locked() {
            Some(Ok(counts)) if counts.contains_key(&key) => return Ok(counts[&key]),
            // The bulk read failed: the same read for one rule would fail alike.
            Some(Err(why)) => return Err(why.clone()),
            _ => {}
        }
        let read = read_counts(&c.cloudwatch, std::slice::from_ref(&key), self.window)
            .await
            .map_err(|e| e.to_string())?;
        Ok(read.get(&key).copied().unwrap_or_default())
    }

    /// The rule's failure records, where its bus logs to CloudWatch Logs (none elsewhere).
    async fn bus_log_records(&self, c: &Clients, rule: &Rule) -> Result<Vec<String>, String> {
        let Some(bus_arn) = bus_logs::bus_of_rule(&rule.arn, &rule.event_bus_name) else {
            return Ok(vec![]);
        };
        let groups = self
            .log_groups
            .get_or_init(|| async { bus_logs::log_groups(c).await.map_err(|e| e.to_string()) })
            .await
            .as_ref()
            .map_err(Clone::clone)?;
        let Some(group) = groups.get(&bus_arn) else {
            return Ok(vec![]);
        };
        bus_logs::failure_records(c, group, &rule.arn, self.window)
            .await
            .map_err(|e| e.to_string())
    }

    /// The records, among the window's newest management events, of failed calls EventBridge
    /// made for one of `role_arns` (the others are no part of the rule's evidence).
    async fn trail_records(&self, c: &Clients, role_arns: &[&str]) -> Result<Vec<String>, String> {
        let events = self
            .trail
            .get_or_init(|| async {
                cloudtrail::recent_events(&c.cloudtrail, self.window)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await
            .as_ref()
            .map_err(Clone::clone)?;
        Ok(events
            .iter()
            .filter(|record| {
                role_arns.iter().any(|role| {
                    TrailFailure::newest_for(role, std::iter::once(record.as_str())).is_some()
                })
            })
            .cloned()
            .collect())
    }
}
