//! `cargo bench --bench engine`: throughput of the pure core, printed as figures.
//! - the diagnosis of every corpus bundle (parse + evaluate), repeated;
//! - planning and diffing an in-sync ECS integration, repeated.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::hint::black_box;
use std::time::Instant;

use ebi::diagnose::{bundle::parse_bundle, diagnose};
use ebi::plan::diff::{diff, Observed};
use ebi::plan::{plan, Facts, Guardrails, Owner};

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
    let bundles: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let rounds = 200;
    let start = Instant::now();
    let mut findings = 0;
    for _ in 0..rounds {
        for b in &bundles {
            let (snapshot, expect) = parse_bundle(b).unwrap();
            findings += black_box(diagnose(&snapshot, &expect)).len();
        }
    }
    let elapsed = start.elapsed();
    let n = (rounds * bundles.len()) as f64;
    println!(
        "[figures] diagnosis: {} bundles x {rounds} = {n} diagnoses in {:.2}s: {:.1} us per bundle (parse + all checks), {:.0} per second ({findings} findings)",
        bundles.len(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / n,
        n / elapsed.as_secs_f64()
    );

    let spec: ebi::api::EventBridgeIntegrationSpec = serde_norway::from_str(
        "rule: {eventPattern: {source: [orders]}}\ntarget:\n  ecs:\n    clusterArn: arn:aws:ecs:us-east-1:111122223333:cluster/main\n    taskDefinitionArn: arn:aws:ecs:us-east-1:111122223333:task-definition/worker:4\n    networkConfiguration: {subnets: [subnet-1]}\n",
    )
    .unwrap();
    let facts = Facts {
        account_id: "111122223333".parse().unwrap(),
        region: "us-east-1".parse().unwrap(),
        task_roles: [(
            "arn:aws:ecs:us-east-1:111122223333:task-definition/worker:4".to_string(),
            vec!["arn:aws:iam::111122223333:role/exec".to_string()],
        )]
        .into(),
        provisioning_role_arn: None,
        recorded_roles: vec![],
        connection_secrets: Default::default(),
    };
    let owner = Owner {
        cluster: "bench".into(),
        namespace: "bench".into(),
        name: "orders".into(),
        uid: "u".into(),
    };
    let objects = 10_000;
    let start = Instant::now();
    let mut changes = 0;
    for _ in 0..objects {
        let p = plan(black_box(&spec), &owner, &facts, &Guardrails::default()).unwrap();
        changes += diff(
            &p.local,
            &Observed::default(),
            &owner,
            ebi::plan::diff::Adoption::both(false),
        )
        .unwrap()
        .len();
    }
    let elapsed = start.elapsed();
    println!(
        "[figures] plan + diff: {objects} objects in {:.2}s: {:.1} us per object ({changes} changes)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / objects as f64
    );
}
