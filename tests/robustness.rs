//! No input panics, and what is wrong with an input is said: property tests over the bundle,
//! `simulate` and policy parsers, and the real binary on odd input (operators with non-ASCII
//! characters, misspelt keys, a byte-order mark), closed pipes, a full disk and a log level
//! that is no level.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::io::Write;
use std::process::{Command, Stdio};

use ebi::diagnose::bundle::parse_bundle;
use ebi::iam::PolicyDocument;
use proptest::prelude::*;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_eventbridge-integration-controller");

fn run_with(args: &[&str], stdin: &str, stdout: Stdio) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The child may end (or fail) before reading all of it.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    run_with(args, stdin, Stdio::piped())
}

fn request(condition: Value) -> Value {
    json!({
        "request": {"action": "s3:GetObject", "resource": {"resource": "arn:aws:s3:::b/k", "accountId": "123456789012"},
                    "principal": "arn:aws:iam::123456789012:role/r", "context": {"aws:x": "y"}},
        "identityPolicies": [{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": condition}]}]
    })
}

fn bundle_path(name: &str) -> String {
    format!("{}/tests/corpus/{name}.json", env!("CARGO_MANIFEST_DIR"))
}

// --- no panic on any input ----------------------------------------------------------------

/// Any JSON value, a few levels deep, with keys and strings that include the grammar's own
/// words (so the parsers go past their first check) and non-ASCII text.
fn any_json() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        Just("Statement".to_string()),
        Just("Effect".to_string()),
        Just("Allow".to_string()),
        Just("Deny".to_string()),
        Just("Action".to_string()),
        Just("Resource".to_string()),
        Just("Principal".to_string()),
        Just("NotPrincipal".to_string()),
        Just("Condition".to_string()),
        Just("ForAnyValue:StringLikeIfExists".to_string()),
        Just("arn:aws:iam::123456789012:role/r".to_string()),
        Just("*".to_string()),
        "\\PC{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        word.clone().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(word.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A request whose parts are replaced by anything.
fn odd_request() -> impl Strategy<Value = Value> {
    (
        any_json(),
        any_json(),
        "\\PC{0,20}",
        prop::sample::select(vec![
            "identityPolicies",
            "resourcePolicy",
            "permissionBoundaries",
            "sessionPolicy",
            "serviceControlPolicies",
            "resourceControlPolicies",
        ]),
    )
        .prop_map(|(statement, value, operator, key)| {
            let mut v = request(json!({}));
            v["identityPolicies"][0]["Statement"][0]["Condition"] =
                json!({operator: {"aws:x": value}});
            v["identityPolicies"][0]["Statement"]
                .as_array_mut()
                .unwrap()
                .push(statement.clone());
            v[key] = match key {
                "resourcePolicy" | "sessionPolicy" => json!({"Statement": [statement]}),
                "serviceControlPolicies" | "resourceControlPolicies" => {
                    json!([{"orgIdentifier": "r-1", "policies": [{"Statement": statement}]}])
                }
                _ => json!([{"Statement": statement}]),
            };
            v
        })
}

/// A corpus bundle with one of its parts replaced by anything.
fn odd_bundle() -> impl Strategy<Value = Value> {
    let base: Value = serde_json::from_str(
        &std::fs::read_to_string(bundle_path("org-good-confused-deputy-rcp")).unwrap(),
    )
    .unwrap();
    (
        any_json(),
        prop::sample::select(vec![
            "/rule",
            "/targets",
            "/targets/Targets/0",
            "/roles/0",
            "/roles/0/Role/AssumeRolePolicyDocument",
            "/roles/0/RolePolicies/0/PolicyDocument/Statement",
            "/organization",
            "/organization/resourceControlPolicies/0/policies/0/Policy/Content",
            "/deadLetterQueues",
            "/taskDefinitions",
            "/chains",
            "/delivery",
        ]),
    )
        .prop_map(move |(value, at)| {
            let mut b = base.clone();
            match b.pointer_mut(at) {
                Some(slot) => *slot = value,
                None => {
                    b[at.trim_start_matches('/')] = value;
                }
            }
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_text_panics_a_parser(text in "\\PC{0,200}") {
        let _ = parse_bundle(&text);
        let _ = ebi::simulate::run(&text, true);
        let _ = PolicyDocument::parse_str(&text);
    }

    #[test]
    fn no_json_panics_a_parser(v in any_json()) {
        let text = v.to_string();
        let _ = parse_bundle(&text);
        let _ = ebi::simulate::run(&text, true);
        let _ = ebi::simulate::run(&text, false);
        let _ = PolicyDocument::parse(&v);
        let _ = PolicyDocument::parse(&json!({"Statement": v}));
    }

    #[test]
    fn no_request_panics_simulate(v in odd_request()) {
        let (code, out, err) = ebi::simulate::run(&v.to_string(), false);
        prop_assert!(code <= 2);
        prop_assert!(out.is_empty() != err.is_empty(), "either a result or an error: {out}{err}");
    }

    #[test]
    fn no_bundle_panics_the_diagnosis(v in odd_bundle()) {
        if let Ok((snapshot, expect)) = parse_bundle(&v.to_string()) {
            let _ = ebi::diagnose::examine(&snapshot, &expect);
        }
    }

    #[test]
    fn any_condition_operator_is_judged_or_named(operator in "\\PC{0,24}") {
        let (code, out, err) = ebi::simulate::run(&request(json!({operator.clone(): {"aws:x": "y"}})).to_string(), true);
        prop_assert!(code == 0 || code == 1, "{operator:?}: exit {code}: {err}");
        prop_assert!(serde_json::from_str::<Value>(&out).is_ok(), "{out}");
    }
}

// --- the binary on odd input ----------------------------------------------------------------

#[test]
fn an_operator_with_a_non_ascii_character_is_named_not_a_crash() {
    // Both cut a two-byte character where a byte-counted prefix or `IfExists` would end.
    for operator in ["Stringé1234567", "ForAnyValueéStringEquals"] {
        let text = request(json!({operator: {"aws:x": "y"}})).to_string();
        let (code, out, err) = run(&["simulate", "--request", "-", "--output", "text"], &text);
        assert_eq!(code, 1, "{operator}: {out}{err}");
        assert!(
            out.contains(&format!("unknown condition operator {operator}")),
            "{out}"
        );
        let mut bundle: Value =
            serde_json::from_str(&std::fs::read_to_string(bundle_path("ecs-good")).unwrap())
                .unwrap();
        bundle["roles"][0]["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] =
            json!({operator: {"aws:SourceAccount": "111122223333"}});
        let (code, out, err) = run(&["diagnose", "--bundle", "-"], &bundle.to_string());
        assert!(
            code == 0 || code == 1,
            "{operator}: exit {code}: {out}{err}"
        );
    }
}

#[test]
fn unknown_keys_are_named_with_the_nearest_known_one() {
    let (code, out, err) = run(
        &["diagnose", "--bundle", "-"],
        r#"{"rule": null, "Roles": []}"#,
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("bundle: unknown key \"Roles\" (did you mean \"roles\"?)"),
        "{err}"
    );
    let mut v = request(json!({}));
    v["identityPolicy"] = v["identityPolicies"].take();
    v.as_object_mut().unwrap().remove("identityPolicies");
    let (code, out, err) = run(&["simulate", "--request", "-"], &v.to_string());
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("$: unknown key \"identityPolicy\" (did you mean \"identityPolicies\"?)"),
        "{err}"
    );
    // A misspelt policy element would drop what it says (here: the condition).
    let mut v = request(json!({"StringEquals": {"aws:x": "z"}}));
    let statement = v["identityPolicies"][0]["Statement"][0]
        .as_object_mut()
        .unwrap();
    let condition = statement.remove("Condition").unwrap();
    statement.insert("Conditon".into(), condition);
    let (code, _, err) = run(&["simulate", "--request", "-"], &v.to_string());
    assert_eq!(code, 2);
    assert!(
        err.contains("$.identityPolicies[0].Statement[0]: unknown key \"Conditon\" (did you mean \"Condition\"?)"),
        "{err}"
    );
    let (code, _, err) = run(
        &["diagnose", "--bundle", "-"],
        r#"{"rule": null, "roles": [{"Role": {"Arn": "arn:aws:iam::1:role/r", "AssumeRolePolicyDocument": {"Statment": []}}}]}"#,
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("bundle.roles[0].Role.AssumeRolePolicyDocument: unknown key \"Statment\" (did you mean \"Statement\"?)"),
        "{err}"
    );
}

#[test]
fn an_empty_bundle_or_request_list_is_an_error_not_a_verdict() {
    let (code, out, err) = run(&["diagnose", "--bundle", "-"], "{}");
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("bundle: nothing to diagnose"), "{err}");
    let (code, out, err) = run(&["simulate", "--request", "-"], "[]");
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("$: an empty list: no request to evaluate"),
        "{err}"
    );
    assert!(out.is_empty());
}

#[test]
fn an_effect_that_is_neither_allow_nor_deny_is_quoted_plainly() {
    let mut v = request(json!({}));
    v["identityPolicies"][0]["Statement"][0]["Effect"] = json!("Allöw");
    let (code, _, err) = run(&["simulate", "--request", "-"], &v.to_string());
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "Statement[0]: Effect must be \"Allow\" or \"Deny\", got a string (\"Allöw\")"
        ),
        "{err}"
    );
    assert!(!err.contains("Some("), "no Rust debug text: {err}");
    v["identityPolicies"][0]["Statement"][0]
        .as_object_mut()
        .unwrap()
        .remove("Effect");
    let (_, _, err) = run(&["simulate", "--request", "-"], &v.to_string());
    assert!(err.contains("Effect is missing"), "{err}");
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let bundle = std::fs::read_to_string(bundle_path("ecs-good")).unwrap();
    let (code, out, err) = run(&["diagnose", "--bundle", "-"], &format!("\u{feff}{bundle}"));
    assert_eq!(code, 0, "{out}{err}");
    let text = request(json!({"StringEquals": {"aws:x": "y"}})).to_string();
    let (code, out, err) = run(&["simulate", "--request", "-"], &format!("\u{feff}{text}"));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_log_level_that_is_no_level_is_named() {
    let (code, out, err) = run(&["run", "--log-level", "verbose"], "");
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("verbose") && err.contains("is not a level"),
        "says what is wrong: {err}"
    );
    let (code, _, err) = run(&["run", "--log-level", "ebi=loud"], "");
    assert_eq!(code, 2);
    assert!(err.contains("ebi=loud"), "{err}");
}

// --- output that cannot be written ------------------------------------------------------------

/// Standard output whose reader is already gone: every write fails with EPIPE.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer.into()
}

fn full_disk() -> Stdio {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
        .into()
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_commands_own_status() {
    let bundle = std::fs::read_to_string(bundle_path("passrole-execution-only")).unwrap();
    let request = request(json!({"StringEquals": {"aws:x": "y"}})).to_string();
    for (args, stdin, status) in [
        (vec!["crd"], "", 0),
        (vec!["diagnose", "--bundle", "-"], bundle.as_str(), 1),
        (
            vec!["diagnose", "--bundle", "-", "--output", "json"],
            bundle.as_str(),
            1,
        ),
        (vec!["simulate", "--request", "-"], request.as_str(), 0),
    ] {
        let (code, _, err) = run_with(&args, stdin, closed_pipe());
        assert_eq!(code, status, "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?} ends quietly: {err}");
    }
}

#[test]
fn a_full_disk_is_an_error_that_names_it() {
    let bundle = std::fs::read_to_string(bundle_path("passrole-execution-only")).unwrap();
    let request = request(json!({"StringEquals": {"aws:x": "y"}})).to_string();
    for (args, stdin) in [
        (vec!["crd"], ""),
        (vec!["diagnose", "--bundle", "-"], bundle.as_str()),
        (
            vec!["simulate", "--request", "-", "--output", "text"],
            request.as_str(),
        ),
    ] {
        let (code, _, err) = run_with(&args, stdin, full_disk());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("cannot write the output") && err.contains("No space left on device"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn unusable_delivery_evidence_in_a_bundle_is_named_with_its_path() {
    for (delivery, says) in [
        (json!({"metrics": {}}), "bundle.delivery.windowSeconds: missing"),
        (
            json!({"windowSeconds": 0}),
            "bundle.delivery.windowSeconds: expected a whole number of seconds above 0",
        ),
        (
            json!({"windowSeconds": 60, "metrics": {"Failures": 1}}),
            "bundle.delivery.metrics.Failures: not a metric of AWS/Events read here; expected one of Invocations, FailedInvocations,",
        ),
        (
            json!({"windowSeconds": 60, "metrics": {"FailedInvocations": -1}}),
            "bundle.delivery.metrics.FailedInvocations: expected a sum (a number, 0 or more)",
        ),
        (
            json!({"windowSeconds": 60, "busLogRecords": [7]}),
            "bundle.delivery.busLogRecords[0]: expected a record (JSON text or an object)",
        ),
        (
            json!({"windowSeconds": 60, "cloudtrailEvents": []}),
            "bundle.delivery: unknown key \"cloudtrailEvents\" (did you mean \"cloudTrailEvents\"?)",
        ),
    ] {
        let bundle = json!({"rule": null, "delivery": delivery});
        let (code, out, err) = run(&["diagnose", "--bundle", "-"], &bundle.to_string());
        assert_eq!(code, 2, "{delivery}: {out}");
        assert!(err.contains(says), "{delivery}: {err}");
    }
}
