//! End-to-end test support: the real controller binary against a real kube-apiserver and
//! the moto AWS emulator, both started by `make test` (hack/test-env.sh), found through
//! KUBECONFIG and AWS_ENDPOINT_URL. Each test owns a namespace and runs its own controller
//! watching only that namespace, so tests run in parallel without sharing objects.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ebi::api::EventBridgeIntegration;
use kube::api::Api;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
pub const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/demo";
pub const TASK_DEFINITION: &str =
    "arn:aws:ecs:us-east-1:123456789012:task-definition/orders-worker:1";
pub const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/orders-worker-execution";
pub const TASK_ROLE: &str = "arn:aws:iam::123456789012:role/orders-worker-task";
pub const STATE_MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:order-pipeline";
pub const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:order-notifier";

pub fn require_env() {
    for var in ["KUBECONFIG", "AWS_ENDPOINT_URL"] {
        assert!(
            std::env::var(var).is_ok(),
            "{var} is not set: end-to-end tests need the local kube-apiserver and moto. Run `make test`, or `make env && set -a && . .tmp/env/env`."
        );
    }
}

pub fn kubectl(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("kubectl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("kubectl finishes");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

pub fn apply(yaml: &str) {
    let (ok, out) = kubectl(&["apply", "-f", "-"], Some(yaml));
    assert!(ok, "kubectl apply failed: {out}\n{yaml}");
}

/// `kubectl delete` that waits for the finalizer, i.e. for the AWS cleanup to finish.
pub fn delete_and_wait(ns: &str, names: &[&str]) {
    let mut args = vec!["delete", "-n", ns, "ebi"];
    args.extend_from_slice(names);
    args.extend_from_slice(&["--wait=true", "--timeout=90s"]);
    let (ok, out) = kubectl(&args, None);
    assert!(ok, "kubectl delete {names:?} failed: {out}");
}

/// Installs the CRD from crds/ (what users apply) once per test binary.
pub fn install_crd() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let (ok, out) = kubectl(
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "-f",
                // The local API server is 1.20: the CRDs without their CEL rules, which
                // servers before 1.25 do not know (tests/cel_rules.rs evaluates them).
                concat!(env!("CARGO_MANIFEST_DIR"), "/crds/pre-1.25/"),
            ],
            None,
        );
        assert!(ok, "installing the CRD failed: {out}");
        let (ok, out) = kubectl(
            &[
                "wait",
                "--for=condition=Established",
                "crd/eventbridgeintegrations.eventbridge.dev",
                "--timeout=30s",
            ],
            None,
        );
        assert!(ok, "CRD not established: {out}");
    });
}

/// A fresh namespace for one test.
pub fn namespace(name: &str) -> String {
    require_env();
    install_crd();
    let ns = format!("{name}-{}", std::process::id() % 100000);
    kubectl(&["create", "namespace", &ns], None);
    ns
}

pub struct Controller {
    child: Child,
    pub metrics_port: u16,
    pub namespace: String,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Controller {
    pub fn start(namespace: &str, extra: &[&str]) -> Controller {
        Controller::start_with_env(namespace, extra, &[])
    }

    pub fn start_with_env(namespace: &str, extra: &[&str], env: &[(&str, &str)]) -> Controller {
        // A fresh log per start, as before.
        let _ = std::fs::remove_file(Controller::log_path(namespace));
        Controller::start_with_resync(namespace, "3s", extra, env)
    }

    /// Like `start_with_env`, with another resync interval (the flag is single-valued, so
    /// `extra` cannot override the default 3 s). The log is appended to, so a test that
    /// restarts its controller keeps every run's log in one file.
    pub fn start_with_resync(
        namespace: &str,
        resync: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Controller {
        let metrics_port = free_port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(Controller::log_path(namespace))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_eventbridge-integration-controller"))
            .args([
                "run",
                "--watch-namespace",
                namespace,
                "--resync-interval",
                resync,
                "--metrics-addr",
                &format!("127.0.0.1:{metrics_port}"),
            ])
            // Each test's controller keeps the places it wrote to in its own namespace:
            // tests run controllers with other accounts' credentials side by side, and one
            // shared list would send every orphan report to all of their accounts.
            .args(
                (!extra.contains(&"--locations-namespace"))
                    .then_some(["--locations-namespace", namespace])
                    .into_iter()
                    .flatten(),
            )
            // The suites that predate policies run single-tenant; tests/tenancy.rs asks for
            // `--policy-mode enforce` (the default of the binary and the chart).
            .args(
                (!extra.contains(&"--policy-mode"))
                    .then_some(["--policy-mode", "off"])
                    .into_iter()
                    .flatten(),
            )
            .args(extra)
            .env("RUST_LOG", "info,ebi=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the controller binary starts");
        let c = Controller {
            child,
            metrics_port,
            namespace: namespace.to_string(),
        };
        wait_until("the controller's /readyz", Duration::from_secs(30), || {
            c.get("/readyz").is_some_and(|b| b == "ready")
        });
        c
    }

    pub fn log_path(namespace: &str) -> String {
        format!(
            "{}/controller-{namespace}.log",
            std::env::temp_dir().display()
        )
    }

    /// The process has not exited (no crash, no exit on a lost watch).
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal by name (`STOP`, `CONT`) to the controller process.
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// `/healthz` or `/readyz`: (HTTP status line, body).
    pub fn probe(&self, path: &str) -> Option<(String, String)> {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
        let mut buf = String::new();
        s.read_to_string(&mut buf).ok()?;
        let (head, body) = buf.split_once("\r\n\r\n")?;
        Some((head.lines().next()?.to_string(), body.to_string()))
    }

    /// A labelled counter summed over the series whose labels contain `filter`.
    pub fn counter(&self, name: &str, filter: &str) -> f64 {
        self.metrics_text()
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(filter))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn get(&self, path: &str) -> Option<String> {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
        let mut buf = String::new();
        s.read_to_string(&mut buf).ok()?;
        buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
    }

    /// `ebi_aws_calls_total` by (service, operation), all outcomes.
    pub fn aws_calls(&self) -> BTreeMap<(String, String), u64> {
        let text = self.get("/metrics").expect("metrics");
        let mut out = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| l.starts_with("ebi_aws_calls_total{"))
        {
            let labels = &line[line.find('{').unwrap() + 1..line.find('}').unwrap()];
            let value: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            let get = |k: &str| {
                labels
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(&format!("{k}=\"")))
                    .map(|v| v.trim_end_matches('"').to_string())
                    .unwrap()
            };
            *out.entry((get("service"), get("operation"))).or_insert(0) += value;
        }
        out
    }

    pub fn metrics_text(&self) -> String {
        self.get("/metrics").expect("metrics")
    }

    /// An unlabelled metric's value (e.g. `ebi_leader`).
    pub fn metric(&self, name: &str) -> Option<f64> {
        let text = self.get("/metrics")?;
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    pub fn total_aws_calls(&self) -> u64 {
        self.aws_calls().values().sum()
    }

    /// `ebi_aws_calls_total` summed by outcome (success, throttled, client_error,
    /// server_error, network_error), all services and operations.
    pub fn aws_outcomes(&self) -> BTreeMap<String, u64> {
        let text = self.get("/metrics").expect("metrics");
        let mut out = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| l.starts_with("ebi_aws_calls_total{"))
        {
            let labels = &line[line.find('{').unwrap() + 1..line.find('}').unwrap()];
            let value: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
            let outcome = labels
                .split(',')
                .find_map(|kv| kv.strip_prefix("outcome=\""))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap();
            *out.entry(outcome).or_insert(0) += value;
        }
        out
    }

    /// Reconciliations of any result: a pass happened, whatever it concluded.
    pub fn reconciles(&self) -> u64 {
        let text = self.get("/metrics").expect("metrics");
        text.lines()
            .filter(|l| l.starts_with("ebi_reconciles_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    pub fn successful_reconciles(&self) -> u64 {
        let text = self.get("/metrics").expect("metrics");
        text.lines()
            .find(|l| l.starts_with("ebi_reconciles_total{result=\"success\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Calls made between two readings: (total, writes).
pub fn calls_between(
    before: &BTreeMap<(String, String), u64>,
    after: &BTreeMap<(String, String), u64>,
) -> (u64, u64, Vec<String>) {
    let mut total = 0;
    let mut writes = 0;
    let mut write_ops = vec![];
    for (k, v) in after {
        let d = v - before.get(k).copied().unwrap_or(0);
        total += d;
        if d > 0 && ebi::aws::is_write_operation(&k.1) {
            writes += d;
            write_ops.push(format!("{}:{}×{d}", k.0, k.1));
        }
    }
    (total, writes, write_ops)
}

/// hack/fault_proxy.py in front of the emulator; killed on drop.
pub struct FaultProxy {
    child: Child,
    pub endpoint: String,
}

impl FaultProxy {
    /// `args`: what to deny and throttle (see hack/fault_proxy.py).
    pub fn start(args: &[&str]) -> FaultProxy {
        let venv = std::env::var("EBI_PYTHON_VENV").expect("EBI_PYTHON_VENV (make test sets it)");
        let upstream = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
        let port = free_port();
        let child = Command::new(format!("{venv}/bin/python"))
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/hack/fault_proxy.py"))
            .args([port.to_string(), upstream])
            .args(args)
            .spawn()
            .expect("the fault proxy starts");
        wait_until("the fault proxy", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        FaultProxy {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl FaultProxy {
    /// What the proxy saw and injected (`GET /__faults`, see hack/fault_proxy.py).
    pub fn stats(&self) -> serde_json::Value {
        use std::io::Read;
        let addr = self.endpoint.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).expect("the fault proxy answers");
        write!(
            s,
            "GET /__faults HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        let body = buf.split_once("\r\n\r\n").expect("an HTTP response").1;
        serde_json::from_str(body).expect("JSON stats")
    }

    /// Injected faults of one kind (throttle, server_error, reset, latency).
    pub fn injected(&self, kind: &str) -> u64 {
        self.stats()["injected"][kind].as_u64().unwrap_or(0)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

pub async fn wait_until_async<F, Fut>(what: &str, timeout: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

pub async fn kube_api(ns: &str) -> Api<EventBridgeIntegration> {
    let client = kube::Client::try_default().await.expect("kube client");
    Api::namespaced(client, ns)
}

/// The condition (status, reason, message) of an object, if any.
pub async fn condition(
    api: &Api<EventBridgeIntegration>,
    name: &str,
    type_: &str,
) -> Option<(String, String, String)> {
    let obj = api.get_opt(name).await.ok()??;
    let c = obj
        .status?
        .conditions
        .into_iter()
        .find(|c| c.type_ == type_)?;
    Some((c.status, c.reason, c.message))
}

/// The condition as a pass over the object's current spec wrote it: None while the status
/// is of an earlier generation (a condition already true before a spec change is no sign
/// the change was applied). Once deletion has begun the generation moves on its own, so any
/// status stands.
async fn current_condition(
    api: &Api<EventBridgeIntegration>,
    name: &str,
    type_: &str,
) -> Option<(String, String, String)> {
    let obj = api.get_opt(name).await.ok()??;
    let deleting = obj.metadata.deletion_timestamp.is_some();
    let status = obj.status?;
    if !deleting && status.observed_generation < obj.metadata.generation {
        return None;
    }
    let c = status.conditions.into_iter().find(|c| c.type_ == type_)?;
    Some((c.status, c.reason, c.message))
}

/// Waits until the condition holds for the object's current spec (see [`current_condition`]).
pub async fn wait_condition(
    api: &Api<EventBridgeIntegration>,
    name: &str,
    type_: &str,
    status: &str,
    reason: Option<&str>,
) -> (String, String, String) {
    let mut last = None;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(45) {
        last = current_condition(api, name, type_).await;
        if let Some((s, r, _)) = &last {
            if s == status && reason.is_none_or(|want| want == r) {
                return last.unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{name}: condition {type_} never became {status} {reason:?}; last: {last:?}");
}

pub struct Aws {
    pub iam: aws_sdk_iam::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub lambda: aws_sdk_lambda::Client,
}

impl Aws {
    /// Whether the rule exists on the default bus. Only ResourceNotFoundException means
    /// "no": any other error (the emulator down, a bad request) fails the test, so an
    /// "is gone" assertion cannot pass by accident.
    pub async fn rule_exists(&self, name: &str) -> bool {
        use aws_sdk_eventbridge::operation::describe_rule::DescribeRuleError;
        match self.events.describe_rule().name(name).send().await {
            Ok(_) => true,
            Err(e) => match e.into_service_error() {
                DescribeRuleError::ResourceNotFoundException(_) => false,
                other => panic!("DescribeRule {name}: {other:?}"),
            },
        }
    }

    /// Whether the role exists. Only NoSuchEntity means "no"; any other error panics.
    pub async fn role_exists(&self, name: &str) -> bool {
        use aws_sdk_iam::operation::get_role::GetRoleError;
        match self.iam.get_role().role_name(name).send().await {
            Ok(_) => true,
            Err(e) => match e.into_service_error() {
                GetRoleError::NoSuchEntityException(_) => false,
                other => panic!("GetRole {name}: {other:?}"),
            },
        }
    }

    /// The controller's inline policy on a role, as IAM returns it (None when the role or
    /// the policy does not exist; any other error panics).
    pub async fn inline_policy(&self, role: &str) -> Option<String> {
        use aws_sdk_iam::operation::get_role_policy::GetRolePolicyError;
        match self
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name("eventbridge-integration")
            .send()
            .await
        {
            Ok(out) => Some(out.policy_document().to_string()),
            Err(e) => match e.into_service_error() {
                GetRolePolicyError::NoSuchEntityException(_) => None,
                other => panic!("GetRolePolicy {role}: {other:?}"),
            },
        }
    }

    /// The function's policy document as text ("" when it has none; any other error panics).
    pub async fn function_policy(&self, function: &str) -> String {
        use aws_sdk_lambda::operation::get_policy::GetPolicyError;
        match self
            .lambda
            .get_policy()
            .function_name(function)
            .send()
            .await
        {
            Ok(p) => p.policy.unwrap_or_default(),
            Err(e) => match e.into_service_error() {
                GetPolicyError::ResourceNotFoundException(_) => String::new(),
                other => panic!("GetPolicy {function}: {other:?}"),
            },
        }
    }

    /// Every AWS resource in this account and region attributed to `namespace`, read from
    /// the emulator directly: rules (on every bus) and roles whose owner tag
    /// (`eventbridge.dev/owner` = `namespace/name`) names the namespace, and Lambda
    /// permission statements whose ID the controller derived from a rule name of the
    /// namespace (statements cannot carry tags; their ID embeds `ebi-{namespace}-`).
    ///
    /// The emulator is shared with tests that create and delete concurrently, and its
    /// listings page by offset, so one listing can show a resource twice or skip it: each
    /// listing is read twice and merged by identity (ARN, role ID) before the tags are read,
    /// so a count of 2 is a real duplicate. A resource deleted between the listing and the
    /// tag read is skipped; any other error panics.
    pub async fn tagged_resources(&self, namespace: &str) -> TaggedResources {
        use aws_sdk_eventbridge::operation::list_tags_for_resource::ListTagsForResourceError;
        use aws_sdk_iam::operation::list_role_tags::ListRoleTagsError;
        use aws_sdk_lambda::operation::get_policy::GetPolicyError;
        use std::collections::BTreeSet;
        let owner_in_ns = |tags: &BTreeMap<String, String>| {
            tags.get(ebi::plan::OWNER_TAG)
                .filter(|o| o.split_once('/').is_some_and(|(ns, _)| ns == namespace))
                .cloned()
        };
        let mut out = TaggedResources::default();

        // Rules: (ARN, bus/name), twice.
        let mut rules = BTreeSet::new();
        for _ in 0..2 {
            let mut buses = vec![];
            let mut token = None;
            loop {
                let page = self
                    .events
                    .list_event_buses()
                    .set_next_token(token)
                    .send()
                    .await
                    .expect("ListEventBuses");
                buses.extend(page.event_buses().iter().filter_map(|b| b.name.clone()));
                token = page.next_token;
                if token.is_none() {
                    break;
                }
            }
            for bus in buses {
                let mut token = None;
                loop {
                    let page = self
                        .events
                        .list_rules()
                        .event_bus_name(&bus)
                        .limit(100)
                        .set_next_token(token)
                        .send()
                        .await
                        .expect("ListRules");
                    for rule in page.rules() {
                        if let (Some(name), Some(arn)) = (rule.name(), rule.arn()) {
                            rules.insert((arn.to_string(), format!("{bus}/{name}")));
                        }
                    }
                    token = page.next_token;
                    if token.is_none() {
                        break;
                    }
                }
            }
        }
        for (arn, bus_and_name) in rules {
            let tags = match self
                .events
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
            {
                Ok(t) => t
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
                Err(e) => match e.into_service_error() {
                    ListTagsForResourceError::ResourceNotFoundException(_) => continue,
                    other => panic!("ListTagsForResource {arn}: {other:?}"),
                },
            };
            if let Some(owner) = owner_in_ns(&tags) {
                out.rules.entry(owner).or_default().push(bus_and_name);
            }
        }

        // Roles: role ID → name, twice.
        let mut roles = BTreeMap::new();
        for _ in 0..2 {
            let mut marker = None;
            loop {
                let page = self
                    .iam
                    .list_roles()
                    .max_items(1000)
                    .set_marker(marker)
                    .send()
                    .await
                    .expect("ListRoles");
                for role in page.roles() {
                    roles.insert(role.role_id().to_string(), role.role_name().to_string());
                }
                marker = page.marker;
                if !page.is_truncated || marker.is_none() {
                    break;
                }
            }
        }
        for name in roles.into_values() {
            let tags = match self.iam.list_role_tags().role_name(&name).send().await {
                Ok(t) => t
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
                Err(e) => match e.into_service_error() {
                    ListRoleTagsError::NoSuchEntityException(_) => continue,
                    other => panic!("ListRoleTags {name}: {other:?}"),
                },
            };
            if let Some(owner) = owner_in_ns(&tags) {
                out.roles.entry(owner).or_default().push(name);
            }
        }

        // Lambda statements: every function's policy, by statement ID.
        let mut functions = BTreeSet::new();
        let mut marker = None;
        loop {
            let page = self
                .lambda
                .list_functions()
                .set_marker(marker)
                .send()
                .await
                .expect("ListFunctions");
            functions.extend(
                page.functions()
                    .iter()
                    .filter_map(|f| f.function_name().map(str::to_string)),
            );
            marker = page.next_marker;
            if marker.is_none() {
                break;
            }
        }
        let statement_prefix = format!("ebi-ebi-{namespace}-");
        for name in functions {
            let policy = match self.lambda.get_policy().function_name(&name).send().await {
                Ok(p) => p.policy.unwrap_or_default(),
                Err(e) => match e.into_service_error() {
                    GetPolicyError::ResourceNotFoundException(_) => continue,
                    other => panic!("GetPolicy {name}: {other:?}"),
                },
            };
            let doc: serde_json::Value =
                serde_json::from_str(&policy).expect("a JSON function policy");
            let statements = match &doc["Statement"] {
                serde_json::Value::Array(a) => a.clone(),
                serde_json::Value::Null => vec![],
                one => vec![one.clone()],
            };
            for st in statements {
                let sid = st["Sid"].as_str().unwrap_or_default();
                if sid.starts_with(&statement_prefix) {
                    out.statements
                        .entry(sid.to_string())
                        .or_default()
                        .push(name.clone());
                }
            }
        }
        out
    }
}

/// What `Aws::tagged_resources` found for a namespace.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TaggedResources {
    /// Owner (`namespace/name`) → rules tagged for it, as `bus/rule`.
    pub rules: BTreeMap<String, Vec<String>>,
    /// Owner → roles tagged for it.
    pub roles: BTreeMap<String, Vec<String>>,
    /// Lambda permission statement ID → the functions whose policy holds it (once per copy).
    pub statements: BTreeMap<String, Vec<String>>,
}

impl TaggedResources {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.roles.is_empty() && self.statements.is_empty()
    }
}

pub const OTHER_ACCOUNT: &str = "222222222222";

/// The Lambda statement id the controller uses for a rule on the default bus of `account`.
pub fn statement_id_in(account: &str, rule_name: &str) -> String {
    ebi::plan::names::statement_id(
        rule_name,
        &format!("arn:aws:events:{REGION}:{account}:rule/{rule_name}"),
    )
}

/// The same, in the controller's own account. Since statement ids carry their owner, this
/// is the prefix of the id ([`owned_statement_id`] is the whole).
pub fn statement_id(rule_name: &str) -> String {
    statement_id_in(ACCOUNT, rule_name)
}

/// The statement id of the object of UID `uid` for a rule on the default bus of `account`:
/// `ebi-{rule}-{hash8 of the rule ARN}-{hash8 of the owner's UID}` (computed here, not by the
/// crate, so the tests also build against the code before ids carried their owner).
pub fn owned_statement_id_in(account: &str, rule_name: &str, uid: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("owner:{uid}").as_bytes());
    let suffix: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}-{suffix}", statement_id_in(account, rule_name))
}

/// The same, in the controller's own account.
pub fn owned_statement_id(rule_name: &str, uid: &str) -> String {
    owned_statement_id_in(ACCOUNT, rule_name, uid)
}

/// An object's UID.
pub async fn uid_of(api: &Api<EventBridgeIntegration>, name: &str) -> String {
    api.get(name)
        .await
        .expect("the object exists")
        .metadata
        .uid
        .expect("a UID")
}

/// Whether `sid` is the statement id of a rule (any owner): `base` itself (written before
/// ids carried their owner) or `base-{8 hex}`.
pub fn is_statement_of(sid: &str, base: &str) -> bool {
    sid == base
        || sid.strip_prefix(base).is_some_and(|rest| {
            rest.len() == 9
                && rest.starts_with('-')
                && rest[1..].chars().all(|c| c.is_ascii_hexdigit())
        })
}
pub const PROVISIONER: &str = "arn:aws:iam::222222222222:role/eventbridge-integration-provisioner";

/// Clients acting in another account of the emulator (credentials from AssumeRole land there).
pub async fn aws_in(account: &str) -> Aws {
    clients(&sdk_config_in(account).await)
}

/// The SDK's configuration for another account of the emulator, through its provisioning role.
pub async fn sdk_config_in(account: &str) -> aws_config::SdkConfig {
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .load()
        .await;
    let provider = aws_config::sts::AssumeRoleProvider::builder(format!(
        "arn:aws:iam::{account}:role/eventbridge-integration-provisioner"
    ))
    .session_name("e2e")
    .configure(&base)
    .build()
    .await;
    base.to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build()
}

/// The SDK's configuration for the emulator's default account, in `REGION`.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .load()
        .await
}

pub async fn aws() -> Aws {
    clients(&sdk_config().await)
}

fn clients(config: &aws_config::SdkConfig) -> Aws {
    Aws {
        iam: aws_sdk_iam::Client::new(config),
        events: aws_sdk_eventbridge::Client::new(config),
        lambda: aws_sdk_lambda::Client::new(config),
    }
}

pub fn ecs_yaml(ns: &str, name: &str, extra_spec: &str) -> String {
    format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: {name}, namespace: {ns}}}
spec:
  rule:
    eventPattern: {{source: ["com.example.orders"]}}
  target:
    ecs:
      clusterArn: {CLUSTER}
      taskDefinitionArn: {TASK_DEFINITION}
      networkConfiguration: {{subnets: [subnet-0a1b2c3d], securityGroups: [sg-0a1b2c3d]}}
{extra_spec}"#
    )
}

pub fn sfn_yaml(ns: &str, name: &str) -> String {
    format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: {name}, namespace: {ns}}}
spec:
  rule: {{scheduleExpression: "rate(5 minutes)"}}
  target:
    stepFunctions: {{stateMachineArn: {STATE_MACHINE}}}
    input: {{"trigger": "schedule"}}
"#
    )
}

pub fn lambda_yaml(ns: &str, name: &str, function_arn: &str) -> String {
    format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: {name}, namespace: {ns}}}
spec:
  rule:
    eventPattern: {{source: ["com.example.orders"]}}
  target:
    lambda: {{functionArn: "{function_arn}"}}
"#
    )
}

/// The AWS names the controller derives for an object.
pub fn derived(ns: &str, name: &str) -> String {
    ebi::plan::names::derived_name("ebi-", ns, name)
}

/// The whole orphan report (`orphans --output json` and `extra`).
pub fn orphan_report(extra: &[&str]) -> serde_json::Value {
    orphan_report_with(extra, &[])
}

/// The same with more environment (`EBI_ORPHAN_GRACE_PERIOD`, `AWS_ENDPOINT_URL`).
pub fn orphan_report_with(extra: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_eventbridge-integration-controller"))
        .args(["orphans", "--output", "json"])
        .args(extra)
        .envs(env.iter().copied())
        .output()
        .expect("the orphans command runs");
    assert!(
        out.status.success(),
        "orphans failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

/// The orphan report (`orphans --output json`, read-only, or with `--delete`), filtered to
/// the resources whose owner tag names namespace `ns`.
pub fn orphans_of(ns: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    orphan_report(extra)["orphans"]
        .as_array()
        .expect("an orphans list")
        .iter()
        .filter(|o| {
            o["owner"]
                .as_str()
                .is_some_and(|owner| owner.starts_with(&format!("{ns}/")))
        })
        .cloned()
        .collect()
}

/// Two replicas electing a leader in `ns` with a short Lease (6 s, renewed 2 s before it
/// ends), so a takeover happens within a test's patience.
pub fn leader_election_args(ns: &str) -> [String; 7] {
    [
        "--leader-election",
        "--leader-election-namespace",
        ns,
        "--lease-duration-seconds",
        "6",
        "--lease-renew-grace-seconds",
        "2",
    ]
    .map(String::from)
}

/// Converges an object, then measures one in-sync resync: it must make zero writes.
/// Prints the call counts the README quotes; returns the resync's calls by operation.
pub async fn converge_and_count(
    kind: &str,
    ns: &str,
    name: &str,
    yaml: String,
) -> std::collections::BTreeMap<String, u64> {
    let ctl = Controller::start(ns, &[]);
    let api = kube_api(ns).await;
    let before = ctl.aws_calls();
    apply(&yaml);
    wait_condition(&api, name, "Ready", "True", Some("Converged")).await;
    let converged = ctl.aws_calls();
    let (total, writes, write_ops) = calls_between(&before, &converged);
    assert!(writes > 0, "convergence must have written something");
    println!(
        "[figures] {kind}: convergence {total} AWS calls ({writes} writes: {})",
        write_ops.join(", ")
    );
    count_an_in_sync_resync(&ctl, kind)
}

/// Measures one resync of a converged object: it must make zero writes. Prints its call
/// count (the README quotes it); returns its calls by operation.
pub fn count_an_in_sync_resync(
    ctl: &Controller,
    kind: &str,
) -> std::collections::BTreeMap<String, u64> {
    // A pass is counted after its status write, so the converging pass may not be counted
    // yet when Ready shows, and one increment could be that pass (no AWS call since
    // `converged`). Wait for one increment, then measure between it and the next: exactly
    // one resync (3 s apart; a pass takes well under that).
    let reconciles = ctl.successful_reconciles();
    wait_until("a counted pass", Duration::from_secs(20), || {
        ctl.successful_reconciles() > reconciles
    });
    let settled = ctl.aws_calls();
    let reconciles = ctl.successful_reconciles();
    wait_until("one resync", Duration::from_secs(20), || {
        ctl.successful_reconciles() > reconciles
    });
    let resynced = ctl.aws_calls();
    let (resync_total, resync_writes, resync_write_ops) = calls_between(&settled, &resynced);
    assert_eq!(
        resync_writes, 0,
        "an in-sync resync must not write, but made {resync_write_ops:?}"
    );
    assert!(resync_total > 0, "a resync must read AWS to detect drift");
    let by_operation: std::collections::BTreeMap<String, u64> = resynced
        .iter()
        .map(|(k, v)| (k.1.clone(), v - settled.get(k).copied().unwrap_or(0)))
        .filter(|(_, d)| *d > 0)
        .collect();
    println!("[figures] {kind}: in-sync resync {resync_total} calls, 0 writes: {by_operation:?}");
    by_operation
}

/// A KMS key whose policy is AWS's default: it grants the account (`kms:*` to its root), so
/// the account's IAM policies decide who may use it.
pub async fn key_granting_the_account(
    config: &aws_config::SdkConfig,
    account: &str,
) -> aws_sdk_kms::types::KeyMetadata {
    let root_only = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "Admins", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "kms:*", "Resource": "*"}]});
    aws_sdk_kms::Client::new(config)
        .create_key()
        .policy(root_only.to_string())
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
}

/// Creates the queue `name` encrypted with the KMS key `key_id`; its ARN.
pub async fn queue_under_key(
    config: &aws_config::SdkConfig,
    account: &str,
    name: &str,
    key_id: &str,
) -> String {
    aws_sdk_sqs::Client::new(config)
        .create_queue()
        .queue_name(name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::KmsMasterKeyId,
            key_id,
        )
        .send()
        .await
        .unwrap();
    format!("arn:aws:sqs:{REGION}:{account}:{name}")
}

/// The queue's policy as SQS holds it ("" when it has none).
pub async fn queue_policy_text(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .unwrap();
    out.attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
        .cloned()
        .unwrap_or_default()
}
