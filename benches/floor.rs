//! The floor the controller is measured against: a bare SDK client that issues only the
//! writes N Step Functions integrations need (CreateRole, PutRolePolicy, PutRule,
//! PutTargets) and then only the deletes (RemoveTargets, DeleteRule, DeleteRolePolicy,
//! DeleteRole), with bounded concurrency, against the same emulator in the same run.
//! No reads, no Kubernetes, no diagnosis: what the work costs AWS and nothing else.
//!
//! `FLOOR_N` (default 200), `FLOOR_CONCURRENCY` (default 16), `FLOOR_PREFIX`; AWS from the
//! environment (`AWS_ENDPOINT_URL`, …). Prints one `[floor]` line per phase.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::time::Instant;

use aws_sdk_eventbridge::types::Target;
use futures::{stream, StreamExt};

const STATE_MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:order-pipeline";

fn var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let n = var("FLOOR_N", 200);
    let concurrency = var("FLOOR_CONCURRENCY", 16);
    let prefix = std::env::var("FLOOR_PREFIX").unwrap_or_else(|_| "floor".into());
    // FLOOR_RATE_LIMITS=controller: the same per-service token buckets as the controller's
    // defaults, so the ratio compares like with like under AWS's quotas.
    let limited = std::env::var("FLOOR_RATE_LIMITS").is_ok_and(|v| v == "controller");
    let (iam, events) = if limited {
        let metrics = std::sync::Arc::new(ebi::telemetry::Metrics::default());
        let aws = ebi::aws::AwsContext::from_env(metrics)
            .await
            .with_rate_limits(ebi::aws::rate_limit::RateLimits::default());
        let region = aws.default_region().unwrap_or_else(|| "us-east-1".into());
        let c = aws.clients(&region);
        (c.iam, c.events)
    } else {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        (
            aws_sdk_iam::Client::new(&config),
            aws_sdk_eventbridge::Client::new(&config),
        )
    };
    let mode = if limited {
        " (controller's rate limits)"
    } else {
        ""
    };
    let account = "123456789012";

    // With FLOOR_TRACE, the second at which each integration's last write returned (CSV).
    let trace = std::sync::Mutex::new(Vec::with_capacity(n));
    let started = Instant::now();
    stream::iter(0..n)
        .for_each_concurrent(concurrency, |i| {
            let (iam, events) = (iam.clone(), events.clone());
            let name = format!("{prefix}-{i}");
            let trace = &trace;
            async move {
                let rule_arn = format!("arn:aws:events:us-east-1:{account}:rule/{name}");
                let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole",
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]});
                let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Action": "states:StartExecution", "Resource": STATE_MACHINE}]});
                iam.create_role()
                    .role_name(&name)
                    .assume_role_policy_document(trust.to_string())
                    .send()
                    .await
                    .expect("CreateRole");
                iam.put_role_policy()
                    .role_name(&name)
                    .policy_name("eventbridge-integration")
                    .policy_document(policy.to_string())
                    .send()
                    .await
                    .expect("PutRolePolicy");
                events
                    .put_rule()
                    .name(&name)
                    .schedule_expression("rate(5 minutes)")
                    .send()
                    .await
                    .expect("PutRule");
                events
                    .put_targets()
                    .rule(&name)
                    .targets(
                        Target::builder()
                            .id("1")
                            .arn(STATE_MACHINE)
                            .role_arn(format!("arn:aws:iam::{account}:role/{name}"))
                            .build()
                            .expect("target"),
                    )
                    .send()
                    .await
                    .expect("PutTargets");
                trace
                    .lock()
                    .expect("trace")
                    .push(started.elapsed().as_secs_f64());
            }
        })
        .await;
    let create = started.elapsed().as_secs_f64();
    if let Ok(path) = std::env::var("FLOOR_TRACE") {
        let rows: Vec<String> = trace
            .into_inner()
            .expect("trace")
            .iter()
            .map(|t| format!("{t:.3}"))
            .collect();
        std::fs::write(&path, format!("t\n{}\n", rows.join("\n"))).expect("FLOOR_TRACE");
    }
    println!(
        "[floor] create{mode}: {n} integrations, {} writes, concurrency {concurrency}: {create:.2}s ({:.0} calls/s)",
        n * 4,
        (n * 4) as f64 / create
    );

    let started = Instant::now();
    stream::iter(0..n)
        .for_each_concurrent(concurrency, |i| {
            let (iam, events) = (iam.clone(), events.clone());
            let name = format!("{prefix}-{i}");
            async move {
                events
                    .remove_targets()
                    .rule(&name)
                    .ids("1")
                    .send()
                    .await
                    .expect("RemoveTargets");
                events
                    .delete_rule()
                    .name(&name)
                    .send()
                    .await
                    .expect("DeleteRule");
                iam.delete_role_policy()
                    .role_name(&name)
                    .policy_name("eventbridge-integration")
                    .send()
                    .await
                    .expect("DeleteRolePolicy");
                iam.delete_role()
                    .role_name(&name)
                    .send()
                    .await
                    .expect("DeleteRole");
            }
        })
        .await;
    let delete = started.elapsed().as_secs_f64();
    println!(
        "[floor] delete{mode}: {n} integrations, {} writes, concurrency {concurrency}: {delete:.2}s ({:.0} calls/s)",
        n * 4,
        (n * 4) as f64 / delete
    );
}
