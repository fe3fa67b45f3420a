//! The observed delivery of every rule of one account and region, read in bulk: each pass
//! registers its rule and asks for its counts; one snapshot of every registered rule's
//! per-rule `AWS/Events` metrics is read at most once per window, with as few
//! `GetMetricData` calls as possible (500 queries each, 5 metrics a rule: 100 rules a call).
//! A rule registered after the last snapshot is answered "not read yet" until the next.
//! A read that fails answers every rule with AWS's error; it never fails a pass.

use crate::sync::Locked;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};

use super::errors::{classify, AwsError};
use super::shared_reads::fresh;
use crate::diagnose::delivery::{DeliveryCounts, Observation, METRICS};

/// GetMetricData's most queries a call.
pub const QUERIES_PER_CALL: usize = 500;
/// Rules a call: every rule has one query per metric.
pub const RULES_PER_CALL: usize = QUERIES_PER_CALL / METRICS.len();
/// How long a failed read answers before the next asker reads again.
const FAILED_READ_KEPT: Duration = Duration::from_secs(60);

/// A rule as CloudWatch names it: `RuleName` alone on the default bus, `EventBusName` and
/// `RuleName` on a custom bus.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleKey {
    pub event_bus_name: String,
    pub rule_name: String,
}

impl RuleKey {
    pub fn new(event_bus_name: &str, rule_name: &str) -> RuleKey {
        RuleKey {
            event_bus_name: event_bus_name.to_string(),
            rule_name: rule_name.to_string(),
        }
    }

    /// The metric's dimensions, as AWS records them.
    pub fn dimensions(&self) -> Vec<(&'static str, &str)> {
        if self.event_bus_name == "default" || self.event_bus_name.is_empty() {
            vec![("RuleName", self.rule_name.as_str())]
        } else {
            vec![
                ("EventBusName", self.event_bus_name.as_str()),
                ("RuleName", self.rule_name.as_str()),
            ]
        }
    }
}

/// One snapshot: when it was taken, over which window, and each covered rule's counts (or
/// why it could not be read).
struct Snapshot {
    at: Instant,
    window: Duration,
    read: Result<HashMap<RuleKey, DeliveryCounts>, AwsError>,
}

/// The delivery reads of one account and region.
#[derive(Default)]
pub struct DeliveryReads {
    /// Every rule a pass asked about, and when it last did (a rule no pass asked about for
    /// three windows, its integration gone, is no longer read).
    registered: Mutex<BTreeMap<RuleKey, Instant>>,
    snapshot: tokio::sync::Mutex<Option<Snapshot>>,
}

impl std::fmt::Debug for DeliveryReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeliveryReads")
    }
}

/// The number of `GetMetricData` calls a snapshot of `rules` rules takes.
pub fn calls_for(rules: usize) -> usize {
    rules.div_ceil(RULES_PER_CALL)
}

/// A window CloudWatch accepts as a period: whole minutes, at least one.
pub fn period_of(window: Duration) -> Duration {
    Duration::from_secs(window.as_secs().div_ceil(60).max(1) * 60)
}

impl DeliveryReads {
    /// The counts of the rule `key` over `window`, from the current snapshot, or from a new
    /// one when the current is older than its window (or its failure older than a minute).
    pub async fn observe(
        &self,
        client: &aws_sdk_cloudwatch::Client,
        key: &RuleKey,
        window: Duration,
    ) -> Observation {
        let window = period_of(window);
        let now = Instant::now();
        self.registered.locked().insert(key.clone(), now);
        let mut slot = self.snapshot.lock().await;
        let kept = |s: &Snapshot| match s.read {
            Ok(_) => s.window.min(window),
            Err(_) => FAILED_READ_KEPT.min(window),
        };
        let snapshot: &Snapshot = match &mut *slot {
            Some(s) if fresh(s.at, Instant::now(), kept(s)) => s,
            stale => {
                let keys: Vec<RuleKey> = {
                    let mut registered = self.registered.locked();
                    registered.retain(|_, asked| fresh(*asked, now, window * 3));
                    registered.keys().cloned().collect()
                };
                let at = Instant::now();
                stale.insert(Snapshot {
                    at,
                    window,
                    read: read_counts(client, &keys, window).await,
                })
            }
        };
        match &snapshot.read {
            Ok(counts) => match counts.get(key) {
                Some(counts) => Observation::Counts {
                    counts: *counts,
                    window: snapshot.window,
                },
                None => Observation::NotReadYet,
            },
            Err(e) => Observation::Unreadable(e.to_string()),
        }
    }
}

/// The queries of one call: for each rule, one per metric, `Sum` over the whole window.
pub fn queries(rules: &[RuleKey], window: Duration) -> Vec<MetricDataQuery> {
    let period = i32::try_from(period_of(window).as_secs()).unwrap_or(i32::MAX);
    rules
        .iter()
        .enumerate()
        .flat_map(|(r, key)| {
            METRICS.iter().enumerate().map(move |(m, metric)| {
                let mut metric_builder = Metric::builder()
                    .namespace("AWS/Events")
                    .metric_name(*metric);
                for (name, value) in key.dimensions() {
                    metric_builder = metric_builder
                        .dimensions(Dimension::builder().name(name).value(value).build());
                }
                MetricDataQuery::builder()
                    .id(format!("r{r}m{m}"))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric_builder.build())
                            .period(period)
                            .stat("Sum")
                            .build(),
                    )
                    .return_data(true)
                    .build()
            })
        })
        .collect()
}

/// Reads every rule of `keys` over the last `window`, 100 rules a call.
pub async fn read_counts(
    client: &aws_sdk_cloudwatch::Client,
    keys: &[RuleKey],
    window: Duration,
) -> Result<HashMap<RuleKey, DeliveryCounts>, AwsError> {
    let end = SystemTime::now();
    let start = end - window;
    let mut out = HashMap::new();
    for chunk in keys.chunks(RULES_PER_CALL) {
        let mut counts = vec![DeliveryCounts::default(); chunk.len()];
        let mut pages = client
            .get_metric_data()
            .set_metric_data_queries(Some(queries(chunk, window)))
            .start_time(start.into())
            .end_time(end.into())
            .into_paginator()
            .send();
        while let Some(answer) = pages.next().await {
            let answer = answer.map_err(|e| classify("cloudwatch:GetMetricData", e))?;
            for result in answer.metric_data_results() {
                let Some((r, m)) = result.id().and_then(parse_id) else {
                    continue;
                };
                if let (Some(c), Some(metric)) = (counts.get_mut(r), METRICS.get(m)) {
                    let sum: f64 = result.values().iter().sum();
                    let before = match *metric {
                        "Invocations" => c.invocations,
                        "FailedInvocations" => c.failed_invocations,
                        "InvocationsFailedToBeSentToDlq" => c.failed_to_dead_letter,
                        "DeadLetterInvocations" => c.dead_letter_invocations,
                        _ => c.throttled,
                    };
                    // Pages of one query add up.
                    c.set(metric, before + sum);
                }
            }
        }
        out.extend(chunk.iter().cloned().zip(counts));
    }
    Ok(out)
}

/// `r{rule}m{metric}` back to the indices.
fn parse_id(id: &str) -> Option<(usize, usize)> {
    let (r, m) = id.strip_prefix('r')?.split_once('m')?;
    Some((r.parse().ok()?, m.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_reads_a_hundred_rules_and_names_them_as_aws_does() {
        assert_eq!(RULES_PER_CALL, 100);
        assert_eq!(calls_for(0), 0);
        assert_eq!(calls_for(100), 1);
        assert_eq!(calls_for(1000), 10);
        let rules: Vec<RuleKey> = (0..100)
            .map(|i| RuleKey::new(if i == 0 { "default" } else { "orders" }, &format!("r{i}")))
            .collect();
        let q = queries(&rules, Duration::from_secs(600));
        assert_eq!(q.len(), QUERIES_PER_CALL);
        let first = q[0].metric_stat().unwrap();
        assert_eq!(first.period(), Some(600));
        assert_eq!(first.stat(), Some("Sum"));
        let dims = first.metric().unwrap().dimensions();
        assert_eq!(dims.len(), 1, "the default bus: RuleName only");
        assert_eq!(
            q[5].metric_stat()
                .unwrap()
                .metric()
                .unwrap()
                .dimensions()
                .len(),
            2
        );
        assert_eq!(parse_id(q[7].id().unwrap()), Some((1, 2)));
    }

    #[test]
    fn a_window_is_whole_minutes() {
        assert_eq!(period_of(Duration::from_secs(10)), Duration::from_secs(60));
        assert_eq!(period_of(Duration::from_secs(61)), Duration::from_secs(120));
        assert_eq!(
            period_of(Duration::from_secs(600)),
            Duration::from_secs(600)
        );
    }
}
