//! The diagnosis corpus (tests/corpus/*.json, written by tests/corpus/generate.py): each
//! bundle carries the codes a person expects; the engine must find exactly those.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use ebi::diagnose::{bundle::parse_bundle, diagnose, Code, Severity};
use serde_json::Value;

fn corpus() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

fn codes(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_bundle_yields_exactly_the_expected_findings() {
    let cases = corpus();
    assert!(cases.len() >= 40, "the corpus has {} bundles", cases.len());
    let mut failures = vec![];
    let mut covered = BTreeSet::new();
    let mut clean = 0;
    for (name, text) in &cases {
        let expect: Value = serde_json::from_str::<Value>(text).unwrap()["expect"].clone();
        let (snapshot, expectations) = parse_bundle(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let findings = diagnose(&snapshot, &expectations);
        let errors: BTreeSet<String> = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.code.to_string())
            .collect();
        let warnings: BTreeSet<String> = findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .map(|f| f.code.to_string())
            .collect();
        if errors != codes(&expect["errors"]) || warnings != codes(&expect["warnings"]) {
            failures.push(format!("{name}: expected errors {:?} warnings {:?}, got errors {errors:?} warnings {warnings:?}\n  {findings:#?}", codes(&expect["errors"]), codes(&expect["warnings"])));
        }
        for f in &findings {
            assert!(
                !f.message.is_empty() && !f.remediation.is_empty(),
                "{name}: {:?} lacks a message or a fix",
                f.code
            );
        }
        if errors.is_empty() {
            clean += 1;
        }
        covered.extend(errors.into_iter().chain(warnings));
    }
    assert!(
        failures.is_empty(),
        "{} of {} bundles differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let missing: Vec<_> = Code::ALL
        .iter()
        .map(|c| c.to_string())
        .filter(|c| !covered.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes not covered by the corpus: {missing:?}"
    );
    println!(
        "[figures] diagnosis corpus: {} bundles, {clean} without errors, all {} codes covered",
        cases.len(),
        Code::ALL.len()
    );
}

#[test]
fn remediations_name_the_exact_fix() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/passrole-execution-only.json"),
    )
    .unwrap();
    let (s, e) = parse_bundle(&text).unwrap();
    let f = diagnose(&s, &e)
        .into_iter()
        .find(|f| f.code == Code::PassRoleMissing)
        .unwrap();
    assert_eq!(
        f.resource.as_deref(),
        Some("arn:aws:iam::111122223333:role/orders-task"),
        "names the role that cannot be passed"
    );
    assert!(
        f.remediation.contains("\"iam:PassRole\"")
            && f.remediation.contains("ecs-tasks.amazonaws.com")
            && f.remediation
                .contains("put-role-policy --role-name eventbridge-orders"),
        "{}",
        f.remediation
    );

    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/lambda-alias-vs-unqualified.json"),
    )
    .unwrap();
    let (s, e) = parse_bundle(&text).unwrap();
    let f = diagnose(&s, &e)
        .into_iter()
        .find(|f| f.code == Code::LambdaPermissionMissing)
        .unwrap();
    assert!(
        f.remediation.contains("--qualifier live")
            && f.remediation.contains("--principal events.amazonaws.com")
            && f.remediation
                .contains("--source-arn arn:aws:events:us-east-1:111122223333:rule/orders"),
        "{}",
        f.remediation
    );

    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/trust-source-arn-mismatch.json"),
    )
    .unwrap();
    let (s, e) = parse_bundle(&text).unwrap();
    let f = diagnose(&s, &e)
        .into_iter()
        .find(|f| f.code == Code::TrustPolicyConditionMismatch)
        .unwrap();
    assert!(
        f.message.contains("rule/refunds") && f.message.contains("rule/orders"),
        "says what is there and what is needed: {}",
        f.message
    );
    assert!(f
        .remediation
        .starts_with("aws iam update-assume-role-policy --role-name eventbridge-orders"));
}

fn cli(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventbridge-integration-controller"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
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

#[test]
fn diagnose_command_exit_codes_and_outputs() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/");
    let (code, out, _) = cli(
        &["diagnose", "--bundle", &format!("{dir}ecs-good.json")],
        None,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("No problems found"));

    let (code, out, _) = cli(
        &[
            "diagnose",
            "--bundle",
            &format!("{dir}passrole-missing.json"),
            "--output",
            "json",
        ],
        None,
    );
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).expect("JSON output");
    let findings = v["findings"].as_array().unwrap();
    assert!(
        findings.iter().all(|f| f["code"] == "PassRoleMissing"
            && f["severity"] == "error"
            && f["targetId"] == "1"),
        "{out}"
    );
    assert_eq!(findings.len(), 2, "one finding per role to pass");

    let (code, out, _) = cli(
        &[
            "diagnose",
            "--bundle",
            &format!("{dir}trust-unprotected.json"),
        ],
        None,
    );
    assert_eq!(code, 0, "warnings alone do not fail: {out}");
    assert!(out.contains("WARNING ConfusedDeputyUnprotected"));

    let text = std::fs::read_to_string(format!("{dir}rule-disabled.json")).unwrap();
    let (code, out, _) = cli(&["diagnose", "--bundle", "-"], Some(&text));
    assert_eq!(code, 1);
    assert!(
        out.contains("aws events enable-rule --name orders"),
        "{out}"
    );

    // Unusable input: exit 2, the message says what and where.
    let (code, _, err) = cli(&["diagnose", "--bundle", "-"], Some("{not json"));
    assert_eq!(code, 2);
    assert!(err.contains("not JSON"), "{err}");
    let (code, _, err) = cli(
        &["diagnose", "--bundle", "-"],
        Some(r#"{"rule": {"Name": "x"}}"#),
    );
    assert_eq!(code, 2);
    assert!(err.contains("bundle.rule.Arn: missing"), "{err}");
    let bad_doc = r#"{"rule": {"Name": "x", "Arn": "arn:aws:events:us-east-1:1:rule/x"}, "roles": [{"Role": {"Arn": "arn:aws:iam::1:role/r", "AssumeRolePolicyDocument": {"Version": "2012-10-17"}}}]}"#;
    let (code, _, err) = cli(&["diagnose", "--bundle", "-"], Some(bad_doc));
    assert_eq!(code, 2);
    assert!(
        err.contains("bundle.roles[0].Role.AssumeRolePolicyDocument")
            && err.contains("no Statement"),
        "{err}"
    );
    let (code, _, err) = cli(&["diagnose", "--bundle", "/nonexistent/bundle.json"], None);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read bundle"), "{err}");
}

#[test]
fn the_committed_crds_are_the_generated_ones() {
    let read = |file: &str| {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("crds")
                .join(file),
        )
        .unwrap()
    };
    assert!(
        read("eventbridgeintegrations.eventbridge.dev.yaml") == ebi::api::crd_yaml()
            && read("eventbridgeintegrationpolicies.eventbridge.dev.yaml")
                == ebi::api::policy_crd_yaml()
            && read("pre-1.25/eventbridge.dev.yaml") == ebi::api::all_crds_yaml_without_cel(),
        "crds/ is stale: run `make crd` and commit the result"
    );
    assert!(!read("pre-1.25/eventbridge.dev.yaml").contains("x-kubernetes-validations"));
    assert!(
        read("eventbridgeintegrations.eventbridge.dev.yaml").contains("x-kubernetes-validations")
    );
    // `crd` prints both, as one stream kubectl applies.
    let (code, out, _) = cli(&["crd"], None);
    assert_eq!(code, 0);
    let documents: Vec<&str> = out.split("\n---\n").collect();
    assert_eq!(documents.len(), 2, "{out}");
    assert!(documents[1].contains("kind: EventBridgeIntegrationPolicy"));
}

/// A corpus bundle, read as `diagnose --bundle` reads it.
fn case(name: &str) -> (ebi::diagnose::Snapshot, ebi::diagnose::Expectations) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/corpus/{name}.json")),
    )
    .unwrap();
    parse_bundle(&text).unwrap()
}

fn findings_of(name: &str) -> Vec<ebi::diagnose::Finding> {
    let (s, e) = case(name);
    diagnose(&s, &e)
}

#[test]
fn new_codes_name_the_level_the_statement_and_the_exact_fix() {
    let rule = "arn:aws:events:us-east-1:111122223333:rule/orders";
    let f = findings_of("dlq-no-policy");
    let f = f
        .iter()
        .find(|f| f.code == Code::DeadLetterQueuePermissionMissing)
        .unwrap();
    assert_eq!(
        f.resource.as_deref(),
        Some("arn:aws:sqs:us-east-1:111122223333:orders-dlq")
    );
    for needle in [
        "\"events.amazonaws.com\"",
        "\"sqs:SendMessage\"",
        "\"aws:SourceArn\"",
        rule,
        "aws sqs set-queue-attributes --queue-url https://sqs.us-east-1.amazonaws.com/111122223333/orders-dlq",
        "keeping its other statements",
    ] {
        assert!(f.remediation.contains(needle), "{needle}: {}", f.remediation);
    }

    let f = findings_of("dlq-key-not-permitted");
    let f = f
        .iter()
        .find(|f| f.code == Code::DeadLetterQueueKmsKeyNotPermitted)
        .unwrap();
    assert!(
        f.remediation.contains("kms:GenerateDataKey")
            && f.remediation.contains("kms:Decrypt")
            && f.remediation
                .contains("aws kms put-key-policy --key-id 1234abcd-12ab-34cd-56ef-1234567890ab"),
        "{}",
        f.remediation
    );

    let f = findings_of("dlq-other-region");
    assert!(
        f[0].remediation.contains("--region us-east-1")
            && f[0]
                .remediation
                .contains("arn:aws:sqs:us-east-1:111122223333:orders-dlq"),
        "{}",
        f[0].remediation
    );

    let f = findings_of("scp-deny-runtask");
    let f = f
        .iter()
        .find(|f| f.code == Code::ServiceControlPolicyBlocks)
        .unwrap();
    assert_eq!(
        f.resource.as_deref(),
        Some("ou-ab12-prod"),
        "names the level"
    );
    assert!(
        f.message.contains("NoRunTask") && f.message.contains("NoEcs"),
        "names the statement and the policy: {}",
        f.message
    );
    assert!(
        f.remediation
            .contains("aws organizations update-policy --policy-id p-noecs"),
        "the policy's own ID: {}",
        f.remediation
    );

    let f = findings_of("scp-ou-allows-only-s3");
    let f = f
        .iter()
        .find(|f| f.code == Code::ServiceControlPolicyBlocks)
        .unwrap();
    assert!(
        f.remediation.contains(
            "aws organizations attach-policy --policy-id p-FullAWSAccess --target-id ou-ab12-prod"
        ),
        "{}",
        f.remediation
    );

    let f = findings_of("rcp-deny-assume-role");
    let f = f
        .iter()
        .find(|f| f.code == Code::ResourceControlPolicyBlocks)
        .unwrap();
    assert!(
        f.message.contains("OtherAccountOnly") && f.message.contains("sts:AssumeRole"),
        "{}",
        f.message
    );

    // A role calls as itself: the exception an RCP needs names the role, never
    // aws:SourceAccount, which only a service principal's call carries.
    let role = "arn:aws:iam::111122223333:role/scheduler-nightly";
    for (case, statement, call) in [
        (
            "schedule-sqs-rcp-denies-the-role",
            "OtherSendersOnly",
            "sqs:SendMessage on the target queue",
        ),
        (
            "schedule-dead-letter-rcp-denies-the-role",
            "#1",
            "sqs:SendMessage on the dead-letter queue",
        ),
        (
            "schedule-sqs-key-rcp-denies-the-role",
            "NoRoleKms",
            "kms:GenerateDataKey on arn:aws:kms:",
        ),
    ] {
        let f = findings_of(case);
        let f = f
            .iter()
            .find(|f| f.code == Code::ResourceControlPolicyBlocks)
            .unwrap();
        assert!(
            f.message.contains(&format!("Statement {statement} "))
                && f.message
                    .contains(&format!("role scheduler-nightly {call}")),
            "{case}: {}",
            f.message
        );
        assert!(
            f.remediation
                .contains(&format!("(ArnNotLike aws:PrincipalArn {role})"))
                && !f.remediation.contains("aws:SourceAccount"),
            "{case}: {}",
            f.remediation
        );
    }
}

#[test]
fn what_could_not_be_evaluated_is_said_on_the_finding() {
    // An SCP that blocks at the OU (no Allow), and a Deny at the root conditioned on a key
    // whose value is not known offline: the finding names the level and says what it could
    // not evaluate.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/scp-ou-allows-only-s3.json"),
    )
    .unwrap();
    let mut bundle: Value = serde_json::from_str(&text).unwrap();
    let levels = bundle["organization"]["serviceControlPolicies"]
        .as_array_mut()
        .unwrap();
    levels[0]["policies"].as_array_mut().unwrap().push(serde_json::json!({"Policy": {
        "PolicySummary": {"Id": "p-perim", "Name": "Perimeter"},
        "Content": r#"{"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-mine"}}}]}"#
    }}));
    let (s, e) = parse_bundle(&bundle.to_string()).unwrap();
    let f = diagnose(&s, &e)
        .into_iter()
        .find(|f| f.code == Code::ServiceControlPolicyBlocks)
        .unwrap();
    assert!(
        f.not_evaluated
            .iter()
            .any(|n| n.contains("aws:PrincipalOrgID")
                && n.contains("not known")
                && n.contains("(for role ")),
        "{:?}",
        f.not_evaluated
    );
    let (code, out, _) = cli(&["diagnose", "--bundle", "-"], Some(&bundle.to_string()));
    assert_eq!(code, 1);
    assert!(
        out.contains("  Note: not evaluated: Deny statement #1 of Perimeter"),
        "{out}"
    );
    let (_, out, _) = cli(
        &["diagnose", "--bundle", "-", "--output", "json"],
        Some(&bundle.to_string()),
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["findings"][0]["notEvaluated"][0]
        .as_str()
        .unwrap()
        .contains("aws:PrincipalOrgID"));
}

#[test]
fn a_bundle_value_of_the_wrong_type_exits_2_with_path_and_expected_type() {
    let rule = r#""rule": {"Name": "x", "Arn": "arn:aws:events:us-east-1:1:rule/x"}"#;
    for (bundle, message) in [
        (
            format!(r#"{{{rule}, "roles": "arn:aws:iam::1:role/r"}}"#),
            "bundle.roles: expected a list, got a string",
        ),
        (
            r#"{"rule": {"Name": "x", "Arn": ["arn:aws:events:us-east-1:1:rule/x"]}}"#.to_string(),
            "bundle.rule.Arn: expected a string, got a list",
        ),
        (
            format!(r#"{{{rule}, "targets": {{"Targets": [{{"Id": "1", "Arn": "arn:aws:sqs:us-east-1:1:q", "RoleArn": 5}}]}}}}"#),
            "bundle.targets.Targets[0].RoleArn: expected a string, got a number (5)",
        ),
        (
            format!(r#"{{{rule}, "targets": {{"Targets": {{"Id": "1"}}}}}}"#),
            "bundle.targets.Targets: expected a list, got an object",
        ),
        (
            format!(r#"{{{rule}, "roles": [{{"Role": {{"Arn": "arn:aws:iam::1:role/r", "AssumeRolePolicyDocument": {{"Statement": "Allow"}}}}}}]}}"#),
            "bundle.roles[0].Role.AssumeRolePolicyDocument.Statement: expected a list of statements or one statement object, got \"Allow\"",
        ),
        (
            format!(r#"{{{rule}, "lambdaPolicies": []}}"#),
            "bundle.lambdaPolicies: expected an object, got a list",
        ),
        (
            format!(r#"{{{rule}, "roles": [{{"Role": {{"Arn": "arn:aws:iam::1:role/r", "AssumeRolePolicyDocument": {{"Statement": []}}}}, "RolePolicies": {{}}}}]}}"#),
            "bundle.roles[0].RolePolicies: expected a list, got an object",
        ),
        (
            format!(r#"{{{rule}, "deadLetterQueues": {{"arn:aws:sqs:us-east-1:1:q": {{"Attributes": "QueueArn"}}}}}}"#),
            "bundle.deadLetterQueues[arn:aws:sqs:us-east-1:1:q].Attributes: expected an object, got a string",
        ),
        (
            format!(r#"{{{rule}, "keyPolicies": {{"k": {{"Policy": 3}}}}}}"#),
            "bundle.keyPolicies[k].Policy: expected a policy document",
        ),
        (
            format!(r#"{{{rule}, "organization": {{"serviceControlPolicies": {{}}}}}}"#),
            "bundle.organization.serviceControlPolicies: expected a list, got an object",
        ),
        (
            format!(r#"{{{rule}, "organization": {{"resourceControlPolicies": [{{"targetId": "r-1", "policies": [{{"Policy": {{"Content": ["x"]}}}}]}}]}}}}"#),
            "bundle.organization.resourceControlPolicies[0].policies[0].Policy.Content: expected a policy document",
        ),
        (
            format!(r#"{{{rule}, "taskDefinitions": {{"td": {{"taskDefinition": {{"executionRoleArn": true}}}}}}}}"#),
            "bundle.taskDefinitions[td].taskDefinition.executionRoleArn: expected a string, got a boolean (true)",
        ),
    ] {
        let (code, _, err) = cli(&["diagnose", "--bundle", "-"], Some(&bundle));
        assert_eq!(code, 2, "{bundle}");
        assert!(err.contains(message), "expected {message:?} in {err}");
    }
}

#[test]
fn the_dead_letter_queue_statement_is_the_documented_one() {
    use ebi::diagnose::remedy::{dead_letter_queue_sid, dead_letter_queue_statement};
    let rule = "arn:aws:events:us-east-1:111122223333:rule/orders";
    let queue = "arn:aws:sqs:us-east-1:111122223333:orders-dlq";
    let sid = dead_letter_queue_sid(rule);
    assert!(sid.starts_with("EventBridgeDlq") && sid.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(sid, dead_letter_queue_sid(rule), "stable");
    assert_ne!(
        sid,
        dead_letter_queue_sid(&rule.replace("orders", "refunds"))
    );
    assert_eq!(
        dead_letter_queue_statement(&sid, queue, rule),
        serde_json::json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule}}
        })
    );
}

#[test]
fn what_the_snapshot_lacks_is_listed_as_not_evaluated() {
    let notes = |name: &str| ebi::diagnose::not_evaluated(&case(name).0);
    let n = notes("ok-dead-letter-queue");
    assert!(n.iter().any(|n| n.contains("SCPs, RCPs")), "{n:?}");
    assert!(
        n.iter().any(|n| n.contains("only its region was checked")),
        "{n:?}"
    );
    assert!(notes("org-good").is_empty(), "{:?}", notes("org-good"));
    let mut bundle: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/dlq-good-customer-key.json"),
        )
        .unwrap(),
    )
    .unwrap();
    bundle.as_object_mut().unwrap().remove("keyPolicies");
    let (s, e) = parse_bundle(&bundle.to_string()).unwrap();
    assert!(
        diagnose(&s, &e)
            .iter()
            .all(|f| f.code != Code::DeadLetterQueueKmsKeyNotPermitted),
        "an ungathered key policy is not a finding"
    );
    assert!(
        ebi::diagnose::not_evaluated(&s)
            .iter()
            .any(|n| n.contains("1234abcd-12ab-34cd-56ef-1234567890ab")
                && n.contains("not evaluated"))
    );
}

#[test]
fn an_organisation_level_that_blocks_several_calls_names_each_in_one_finding() {
    let f = findings_of("schedule-rcp-blocks-target-and-dead-letter");
    assert_eq!(f.len(), 1, "{f:?}");
    let m = &f[0].message;
    assert!(
        m.starts_with("Statement OnlyTheIngestRole (Deny sqs:SendMessage)")
            && m.contains("sqs:SendMessage on the target queue arn:aws:sqs:us-east-1:111122223333:reports.")
            && m.contains("It also denies role scheduler-nightly sqs:SendMessage on the dead-letter queue arn:aws:sqs:us-east-1:111122223333:reports-dlq."),
        "{m}"
    );
    // Both calls SQS makes with the key are asked: a Deny of Decrypt alone is found.
    let f = findings_of("schedule-sqs-key-scp-denies-decrypt");
    assert!(
        f[0].message.contains("kms:Decrypt on arn:aws:kms:"),
        "{}",
        f[0].message
    );
    // A service principal's exception is a condition that fails for this account, so the
    // Deny no longer applies to it.
    let f = findings_of("rcp-deny-assume-role");
    assert!(
        f[0].remediation
            .contains("(StringNotEqualsIfExists aws:SourceAccount 111122223333)"),
        "{}",
        f[0].remediation
    );
}

#[test]
fn an_organisation_deny_that_cannot_be_judged_is_said_even_without_a_finding() {
    let examined = |name: &str| {
        let (s, e) = case(name);
        ebi::diagnose::examine(&s, &e)
    };
    // A key's tags are not in a bundle: the SCP's Deny may apply or not, and silence would
    // read as "allowed".
    let d = examined("schedule-sqs-key-scp-deny-on-a-tag-is-said");
    assert!(d.findings.is_empty(), "{:?}", d.findings);
    let note = d
        .not_evaluated
        .iter()
        .find(|n| n.contains("OnlyApprovedKeys"))
        .unwrap_or_else(|| panic!("{:?}", d.not_evaluated));
    assert!(
        note.starts_with("service control policy Deny statement OnlyApprovedKeys of TaggedKeys")
            && note.contains("aws:ResourceTag/approved")
            && note
                .contains("it may deny role scheduler-nightly kms:GenerateDataKey on arn:aws:kms:"),
        "{note}"
    );
    // An SCP level's only Allow, on a key not known offline: the level may deny.
    let d = examined("schedule-scp-level-only-allow-unjudged");
    assert!(d.findings.is_empty(), "{:?}", d.findings);
    assert!(
        d.not_evaluated.iter().any(|n| n
            .starts_with("service control policy Allow statement TaggedPrincipals of TeamOnly")
            && n.contains("its level's only Allow")),
        "{:?}",
        d.not_evaluated
    );
    // A Deny whose condition is judged (kms:ViaService) is a finding, not a note.
    let d = examined("schedule-sqs-key-scp-denies-the-role");
    assert!(d
        .findings
        .iter()
        .any(|f| f.code == Code::ServiceControlPolicyBlocks));
    assert!(
        d.not_evaluated
            .iter()
            .all(|n| !n.contains("KeysOnlyThroughS3")),
        "{:?}",
        d.not_evaluated
    );
}

#[test]
fn an_account_or_region_no_arn_can_be_built_from_is_refused_at_start_naming_where_it_came_from() {
    let start = |args: &[&str], region: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_eventbridge-integration-controller"))
            .args(args)
            .env("AWS_REGION", region)
            .env_remove("EBI_ALLOWED_ACCOUNT_IDS")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap(), said)
    };
    // A blank entry is the chart's empty default; the short one is refused by name.
    let (code, said) = start(
        &["run", "--allowed-account-ids", "111122223333,,11112222333"],
        "us-east-1",
    );
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("--allowed-account-ids (EBI_ALLOWED_ACCOUNT_IDS)")
            && said.contains("`11112222333` is not an AWS account ID"),
        "{said}"
    );
    let (code, said) = start(&["run"], "us_east_1");
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("AWS_REGION") && said.contains("`us_east_1` is not an AWS region name"),
        "{said}"
    );
    // The CLI: clap refuses a region flag the same way.
    let (code, said) = start(&["diagnose", "--all", "--region", "useast1"], "us-east-1");
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("`useast1` is not an AWS region name"),
        "{said}"
    );
    // And the environment's region, for a read-only command as for the controller.
    let (code, said) = start(&["diagnose", "--all"], "us_east_1");
    assert_ne!(code, 0, "{said}");
    assert!(
        said.contains("AWS_REGION") && said.contains("`us_east_1` is not an AWS region name"),
        "{said}"
    );
}

#[test]
fn a_role_arn_flag_without_an_account_is_refused_before_anything_is_read() {
    // The controller: refused at start, before Kubernetes or AWS is reached (neither is
    // configured here), naming the flag and its variable.
    let (code, out, err) = cli(
        &[
            "run",
            "--organization-role-arn",
            "arn:aws:iam:::role/org-reader",
        ],
        None,
    );
    assert_eq!(code, 2, "{out}{err}");
    let said = format!("{out}{err}");
    assert!(
        said.contains("--organization-role-arn (EBI_ORGANIZATION_ROLE_ARN)")
            && said.contains("12-digit account"),
        "{said}"
    );
    // The CLI: clap refuses the value the same way.
    let (code, _, err) = cli(
        &[
            "diagnose",
            "--all",
            "--organization-role-arn",
            "arn:aws:iam::111122223333:user/me",
        ],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not an IAM role's ARN"), "{err}");
}
