//! A restart is not a storm (issue 22): objects in sync keep their resync slots across a
//! restart, objects changed while the controller was down go first, and without a
//! heartbeat every object in sync is checked at once, behind them.
//!
//! Real kube-apiserver and moto; the decisions themselves (slots, heartbeat windows) are
//! unit-tested in `src/controller/runtime/schedule.rs`.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

use std::time::Duration;

use support::*;

const SCHEDULE_CONFIGMAP: &str = "eventbridge-integration-controller-schedule";

/// The heartbeat the controller of `ns` wrote: (sinceMillis, atMillis, periodMillis).
fn heartbeat(ns: &str) -> Option<(u64, u64, u64)> {
    let (ok, out) = kubectl(
        &[
            "get",
            "configmap",
            SCHEDULE_CONFIGMAP,
            "-n",
            ns,
            "-o",
            "json",
        ],
        None,
    );
    if !ok {
        return None;
    }
    let cm: serde_json::Value = serde_json::from_str(&out).ok()?;
    let data = cm["data"].as_object()?;
    let (key, value) = data.iter().find(|(k, _)| k.starts_with("heartbeat."))?;
    assert_eq!(
        data.len(),
        1,
        "one controller, one heartbeat key: {key} in {data:?}"
    );
    let beat: serde_json::Value = serde_json::from_str(value.as_str()?).ok()?;
    Some((
        beat["sinceMillis"].as_u64()?,
        beat["atMillis"].as_u64()?,
        beat["periodMillis"].as_u64()?,
    ))
}

fn first_passes(ctl: &Controller, when: &str) -> f64 {
    ctl.counter("ebi_first_passes_total", &format!("when=\"{when}\""))
}

fn all_first_passes(ctl: &Controller) -> f64 {
    ["urgent", "overdue", "at_slot"]
        .iter()
        .map(|w| first_passes(ctl, w))
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_restart_objects_in_sync_keep_their_slots_and_changed_ones_go_first() {
    let ns = namespace("restart-schedule");
    // Slots 18 s apart (0.9 of the interval), a heartbeat every second.
    let resync = "20s";
    let period_ms = 18_000;
    let mut first = Controller::start_with_resync(&ns, resync, &[], &[]);
    let api = kube_api(&ns).await;
    let n = 6;
    for i in 0..n {
        apply(&sfn_yaml(&ns, &format!("slot-{i}")));
    }
    for i in 0..n {
        wait_condition(&api, &format!("slot-{i}"), "Ready", "True", None).await;
    }
    // A whole period of heartbeats: every object's latest slot then falls within them.
    wait_until("a period of heartbeats", Duration::from_secs(60), || {
        heartbeat(&ns).is_some_and(|(since, at, _)| at >= since + period_ms + 1_000)
    });
    let (_, _, period) = heartbeat(&ns).expect("a heartbeat");
    assert_eq!(period, period_ms, "the heartbeat names the slots' period");

    // Down; meanwhile slot-0 changes (its generation moves past its status).
    first.kill();
    apply(
        &sfn_yaml(&ns, "slot-0").replace("\"trigger\": \"schedule\"", "\"trigger\": \"changed\""),
    );
    let restarted_at = std::time::SystemTime::now();
    let second = Controller::start_with_resync(&ns, resync, &[], &[]);
    wait_until(
        "every object's first pass decided",
        Duration::from_secs(20),
        || all_first_passes(&second) >= n as f64,
    );
    let (urgent, overdue, at_slot) = (
        first_passes(&second, "urgent"),
        first_passes(&second, "overdue"),
        first_passes(&second, "at_slot"),
    );
    println!("[figures] restart with {n} objects, one changed while down: urgent {urgent}, overdue {overdue}, at their next slot {at_slot}");
    // No first pass before the watch's initial list is in the cache: the gauge says when.
    let synced: f64 = second
        .metrics_text()
        .lines()
        .find_map(|l| l.strip_prefix("ebi_cache_synced_seconds "))
        .and_then(|v| v.trim().parse().ok())
        .expect("ebi_cache_synced_seconds");
    let since_restart = restarted_at.elapsed().unwrap().as_secs_f64();
    assert!(
        synced > 0.0 && synced < since_restart,
        "the cache synced {synced} s after the term began, {since_restart} s since the restart"
    );
    assert_eq!(
        urgent, 1.0,
        "only the object changed while the controller was down is urgent"
    );
    assert_eq!(overdue + at_slot, (n - 1) as f64);
    // Each object in sync is overdue only if its latest slot fell in the second or two the
    // controller was down: all five are with a probability of about 1e-4.
    assert!(
        at_slot >= 1.0,
        "in-sync objects wait for their slots: {at_slot}"
    );

    // The changed object converges at once, not at a slot.
    let converged = tokio::time::Instant::now();
    wait_until_async(
        "slot-0 at its new generation",
        Duration::from_secs(15),
        || async {
            let obj = api.get("slot-0").await.expect("slot-0");
            let generation = obj.metadata.generation;
            obj.status.is_some_and(|s| {
                s.observed_generation == generation
                    && s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        },
    )
    .await;
    println!(
        "[figures] the object changed while the controller was down: Ready at its new generation {:.1}s after the restart's first passes",
        converged.elapsed().as_secs_f64()
    );
    // Every object is checked within one period of the restart (the slots it kept).
    wait_until(
        "a pass of every object within a period",
        Duration::from_millis(period_ms + 8_000),
        || second.successful_reconciles() >= n as u64,
    );
    // The new process writes its own heartbeat, from after its start-up passes.
    let restarted_ms = restarted_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    wait_until(
        "the new process's heartbeat",
        Duration::from_secs(20),
        || heartbeat(&ns).is_some_and(|(since, _, _)| since >= restarted_ms),
    );

    // Without a heartbeat (lost, or never written by an older version) nothing says which
    // slots were kept: every object in sync is overdue, none urgent, none deferred.
    let mut second = second;
    second.kill();
    kubectl(
        &["delete", "configmap", SCHEDULE_CONFIGMAP, "-n", &ns],
        None,
    );
    let third = Controller::start_with_resync(&ns, resync, &[], &[]);
    wait_until(
        "every object's first pass decided",
        Duration::from_secs(20),
        || all_first_passes(&third) >= n as f64,
    );
    assert_eq!(first_passes(&third, "overdue"), n as f64);
    assert_eq!(first_passes(&third, "urgent"), 0.0);
    assert_eq!(first_passes(&third, "at_slot"), 0.0);
    wait_until(
        "the overdue objects passed at once",
        Duration::from_secs(20),
        || third.successful_reconciles() >= n as u64,
    );
}
