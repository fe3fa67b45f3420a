//! `simulate` against tests/simulate/cases.json (written by tests/simulate/generate.py): each
//! case carries the response a person expects from AWS's documented evaluation logic and a
//! link to the page that states the rule (`doc`). The real binary is run, as users run it.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

fn cli(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventbridge-integration-controller"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cases_path() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/simulate/cases.json")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn every_case_gets_the_documented_response() {
    let path = cases_path();
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let (code, out, err) = cli(&["simulate", "--request", &path], None);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    let results: Vec<Value> = serde_json::from_str(&out).expect("a JSON list");
    assert_eq!(results.len(), cases.len());
    let mut failures = vec![];
    for (case, got) in cases.iter().zip(&results) {
        let name = case["name"].as_str().unwrap();
        assert_eq!(got["name"], case["name"]);
        let expect = &case["expect"];
        let mut wrong = vec![];
        if got["response"] != expect["response"] {
            wrong.push(format!(
                "response {} (expected {})",
                got["response"], expect["response"]
            ));
        }
        if let Some(blocked) = expect.get("blockedBy") {
            let mut a: Vec<&str> = got["blockedBy"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let mut b: Vec<&str> = blocked
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            a.sort();
            b.sort();
            if a != b {
                wrong.push(format!("blockedBy {a:?} (expected {b:?})"));
            }
        }
        if expect.get("notEvaluated") == Some(&json!(true)) && got.get("notEvaluated").is_none() {
            wrong.push("no notEvaluated note".into());
        }
        let root_user = case["request"]["principal"]
            .as_str()
            .is_some_and(|p| p.ends_with(":root"));
        // sts:GetCallerIdentity needs no permission: no statement decides it.
        let no_permission = case["request"]["action"] == "sts:GetCallerIdentity";
        if got["response"] == "Allowed"
            && got["explain"].as_array().unwrap().is_empty()
            && !root_user
            && !no_permission
        {
            wrong.push("an Allow with no statement in explain".into());
        }
        if got["response"] == "ExplicitlyDenied"
            && !got["explain"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["effect"] == "Deny")
        {
            wrong.push("an explicit deny with no Deny in explain".into());
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{name} [{}]: {}\n  got {got}",
                case["doc"].as_str().unwrap_or(""),
                wrong.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    println!(
        "[figures] simulate: {} cases agree with the documented logic",
        cases.len()
    );
}

#[test]
fn one_request_exit_codes_and_text_output() {
    let allowed = json!({
        "request": {"action": "s3:GetObject", "resource": {"resource": "arn:aws:s3:::b/k", "accountId": "123456789012"},
                    "principal": "arn:aws:iam::123456789012:role/r", "context": {"aws:SourceIp": "10.0.0.1"}},
        "identityPolicies": [{"Version": "2012-10-17", "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
                               "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}]
    });
    let (code, out, _) = cli(&["simulate", "--request", "-"], Some(&allowed.to_string()));
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["response"], "Allowed");
    assert_eq!(v["blockedBy"], json!([]));
    assert_eq!(v["explain"][0]["policyType"], "identity");
    assert_eq!(v["explain"][0]["sid"], "Read");

    let mut denied = allowed.clone();
    denied["request"]["context"]["aws:SourceIp"] = json!("192.0.2.1");
    let (code, out, _) = cli(
        &["simulate", "--request", "-", "--output", "text"],
        Some(&denied.to_string()),
    );
    assert_eq!(code, 1);
    assert!(
        out.starts_with("ImplicitlyDenied (blocked by: identity)"),
        "{out}"
    );

    let mut unknown = allowed.clone();
    unknown["identityPolicies"][0]["Statement"][0]["Condition"] =
        json!({"IpAddressLike": {"aws:SourceIp": "10.*"}});
    let (code, out, _) = cli(
        &["simulate", "--request", "-", "--output", "text"],
        Some(&unknown.to_string()),
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("not evaluated") && out.contains("unknown condition operator IpAddressLike"),
        "the engine says what it could not evaluate: {out}"
    );
}

#[test]
fn bad_input_exits_2_with_the_path_and_the_expected_type() {
    let base = json!({
        "request": {"action": "s3:GetObject", "resource": {"resource": "arn:aws:s3:::b/k"},
                    "principal": "arn:aws:iam::123456789012:role/r"},
        "identityPolicies": []
    });
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "a string where a list belongs",
            Box::new(|v| v["identityPolicies"] = json!("{}")),
            "$.identityPolicies: expected a list, got a string",
        ),
        (
            "an object where a string belongs",
            Box::new(|v| v["request"]["action"] = json!({"a": 1})),
            "$.request.action: expected a string, got an object",
        ),
        (
            "a number as a policy",
            Box::new(|v| v["identityPolicies"] = json!([7])),
            "$.identityPolicies[0]: expected an object, got a number (7)",
        ),
        (
            "a context value of the wrong type",
            Box::new(|v| v["request"]["context"] = json!({"aws:SourceIp": {"ip": "1"}})),
            "$.request.context[\"aws:SourceIp\"]: expected a string or a list of strings, got an object",
        ),
        (
            "a bad statement",
            Box::new(|v| {
                v["identityPolicies"] =
                    json!([{"Statement": [{"Effect": "Allow", "Action": "s3:*"}, {"Effect": "Maybe", "Action": "s3:*"}]}])
            }),
            "$.identityPolicies[0].Statement[1]: Effect must be",
        ),
        (
            "a string where the statements belong",
            Box::new(|v| v["identityPolicies"] = json!([{"Statement": "Allow everything"}])),
            "$.identityPolicies[0].Statement: expected a list of statements or one statement object, got \"Allow everything\"",
        ),
        (
            "a missing request",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("request");
            }),
            "$.request: missing",
        ),
        (
            "an SCP level without its identifier",
            Box::new(|v| v["serviceControlPolicies"] = json!([{"policies": []}])),
            "$.serviceControlPolicies[0].orgIdentifier: missing",
        ),
        (
            "an unusable principal",
            Box::new(|v| v["request"]["principal"] = json!("role/r")),
            "$.request.principal: expected an IAM ARN",
        ),
        (
            "a Sid that is not a string",
            Box::new(|v| {
                v["identityPolicies"] =
                    json!([{"Statement": [{"Sid": 3, "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}])
            }),
            "$.identityPolicies[0].Statement[0]: Sid must be a string",
        ),
    ];
    for (what, change, message) in cases {
        let mut v = base.clone();
        change(&mut v);
        let (code, out, err) = cli(&["simulate", "--request", "-"], Some(&v.to_string()));
        assert_eq!(code, 2, "{what}: {out}{err}");
        assert!(err.contains(message), "{what}: {err}");
        assert!(out.is_empty(), "{what}: no result on bad input: {out}");
    }
    let (code, _, err) = cli(&["simulate", "--request", "-"], Some("[{\"name\": 1}]"));
    assert_eq!(code, 2);
    assert!(
        err.contains("$[0].name: expected a string, got a number (1)"),
        "{err}"
    );
    let (code, _, err) = cli(&["simulate", "--request", "/nonexistent.json"], None);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn named_policy_wrappers_and_context_variables_are_read_too() {
    let v = json!([{
        "name": "wrapped",
        "request": {"action": "sqs:SendMessage", "resource": {"resource": "arn:aws:sqs:us-east-1:111111111111:q", "accountId": "111111111111"},
                    "principal": "arn:aws:iam::111111111111:user/alice", "contextVariables": {"aws:SourceVpc": "vpc-1"}},
        "identityPolicies": [{"name": "send", "policy": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}]}}],
        "serviceControlPolicies": [{"orgIdentifier": "r-1", "policies": [{"name": "FullAWSAccess", "policy": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]}]
    }]);
    let (code, out, err) = cli(&["simulate", "--request", "-"], Some(&v.to_string()));
    assert_eq!(code, 0, "{out}{err}");
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got[0]["response"], "Allowed");
    assert!(
        got[0]["explain"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["policy"] == "send"),
        "{out}"
    );
    let mut bad = v.clone();
    bad[0]["identityPolicies"][0]["policy"] = json!("Allow");
    let (code, _, err) = cli(&["simulate", "--request", "-"], Some(&bad.to_string()));
    assert_eq!(code, 2);
    assert!(
        err.contains("$[0].identityPolicies[0].policy: expected an object, got a string"),
        "{err}"
    );
}
