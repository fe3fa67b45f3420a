//! Issue 17, section 4: nothing hangs, and only one writer. Against the real kube-apiserver
//! and moto (hack/test-env.sh).

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use support::*;

/// A TCP endpoint that accepts connections and never answers (a hung AWS endpoint). The
/// connections are kept open for the life of the process, so the client sees no reset.
fn hung_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = vec![];
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_lambda_endpoint_stalls_only_the_lambda_integration() {
    let ns = namespace("hung-lambda");
    let hung = hung_endpoint();
    let ctl = Controller::start_with_env(
        &ns,
        &[
            "--aws-operation-timeout",
            "4s",
            "--aws-attempt-timeout",
            "1s",
        ],
        &[("AWS_ENDPOINT_URL_LAMBDA", &hung)],
    );
    let api = kube_api(&ns).await;
    apply(&lambda_yaml(&ns, "needs-lambda", FUNCTION));
    apply(&sfn_yaml(&ns, "no-lambda"));
    apply(&ecs_yaml(&ns, "no-lambda-ecs", ""));
    // The others converge while Lambda hangs.
    wait_condition(&api, "no-lambda", "Ready", "True", None).await;
    wait_condition(&api, "no-lambda-ecs", "Ready", "True", None).await;
    // The Lambda one says why, as a transient failure naming the timeout.
    let (_, reason, message) = wait_condition(&api, "needs-lambda", "Ready", "False", None).await;
    assert!(
        message.contains("did not answer") && message.contains("timeout"),
        "{reason}: {message}"
    );
    assert!(message.contains("lambda"), "names the service: {message}");
    // The pass writes the status before it logs its verdict: under load the condition can
    // be read before the log line is written.
    wait_until(
        "the failure is retried as transient",
        Duration::from_secs(20),
        || {
            let log = std::fs::read_to_string(Controller::log_path(&ns)).unwrap_or_default();
            log.lines()
                .any(|l| l.contains("did not answer") && l.contains("\"transient\""))
        },
    );
    // Timed-out attempts are counted as such.
    assert!(ctl.counter("ebi_aws_calls_total", "outcome=\"timeout\"") > 0.0);
    // One hung service is not a controller that cannot make progress.
    let stuck_passes = ctl.reconciles();
    wait_until("more passes end", Duration::from_secs(30), || {
        ctl.reconciles() > stuck_passes
    });
    for path in ["/healthz", "/readyz"] {
        let (line, body) = ctl.probe(path).expect("the probe answers");
        assert!(line.contains(" 200 "), "{path}: {line} {body}");
    }
}

/// Reads the AWS requests a fault proxy has seen.
fn seen(proxy: &FaultProxy) -> u64 {
    proxy.stats()["requests"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leader_resumed_after_losing_its_lease_writes_nothing() {
    let ns = namespace("fence");
    let args = leader_election_args(&ns);
    let args = args.each_ref().map(String::as_str);
    // Each replica reaches AWS through its own proxy, which counts what arrives. The first
    // one's answers are slow, so it can be stopped in the middle of a pass.
    let slow = [
        "--fault-rate",
        "1",
        "--fault-kinds",
        "latency",
        "--latency-ms",
        "1500",
    ];
    let (pa, pb) = (FaultProxy::start(&slow), FaultProxy::start(&[]));
    let start = |p: &FaultProxy| {
        Controller::start_with_resync(&ns, "300s", &args, &[("AWS_ENDPOINT_URL", &p.endpoint)])
    };
    let old = start(&pa);
    wait_until("the first replica leads", Duration::from_secs(30), || {
        old.metric("ebi_leader") == Some(1.0)
    });
    let new = start(&pb);
    let writes = |c: &Controller| c.counter("ebi_kubernetes_writes_total", "");
    wait_until("the leader is idle", Duration::from_secs(30), || {
        let before = seen(&pa);
        std::thread::sleep(Duration::from_secs(2));
        seen(&pa) == before
    });
    // Stop the leader while a pass waits for an AWS answer.
    let idle = seen(&pa);
    apply(&sfn_yaml(&ns, "first"));
    wait_until(
        "the leader's pass calls AWS",
        Duration::from_secs(30),
        || seen(&pa) > idle,
    );
    let kube_writes = writes(&old);
    old.signal("STOP");
    std::thread::sleep(Duration::from_secs(2));
    let aws_requests = seen(&pa);
    // Past the Lease: the standby takes over and converges, also a new object.
    wait_until("the standby leads", Duration::from_secs(30), || {
        new.metric("ebi_leader") == Some(1.0)
    });
    let api = kube_api(&ns).await;
    apply(&sfn_yaml(&ns, "second"));
    wait_condition(&api, "second", "Ready", "True", None).await;
    wait_condition(&api, "first", "Ready", "True", None).await;
    old.signal("CONT");
    let resumed = Instant::now();
    // It stands by again, and in all that time sends nothing to AWS or the API server.
    wait_until("the old leader stands by", Duration::from_secs(20), || {
        old.metric("ebi_leader") == Some(0.0)
    });
    std::thread::sleep(Duration::from_secs(8).saturating_sub(resumed.elapsed()));
    assert_eq!(
        seen(&pa),
        aws_requests,
        "the resumed old leader sent AWS requests"
    );
    assert_eq!(
        writes(&old),
        kube_writes,
        "the resumed old leader wrote to Kubernetes"
    );
    let fenced = old.counter("ebi_fenced_requests_total", "");
    println!("[figures] fence: the resumed leader tried {fenced} requests, all refused");
}
