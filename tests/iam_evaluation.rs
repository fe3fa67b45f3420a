//! The evaluator against AWS's documented evaluation logic ("Policy evaluation logic",
//! "IAM JSON policy elements: Condition operators", "Permissions boundaries"). Each case's
//! expected decision is written from the documentation, not produced by the engine.
//!
//! The same identity-policy cases are also run through the `iam-rs` crate, to record how it
//! compares (the reason this project has its own evaluator); see `iam_rs_comparison`.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use ebi::iam::eval::{evaluate_identity, evaluate_resource_policy};
use ebi::iam::{Caller, Context, Decision, NamedPolicy, PolicyDocument, Request};
use serde_json::{json, Value};

const TD: &str = "arn:aws:ecs:us-east-1:111122223333:task-definition/app:7";
const CLUSTER: &str = "arn:aws:ecs:us-east-1:111122223333:cluster/main";
const ROLE: &str = "arn:aws:iam::111122223333:role/runner";

struct Case {
    name: &'static str,
    policy: Value,
    boundary: Option<Value>,
    action: &'static str,
    resource: &'static str,
    context: Vec<(&'static str, &'static str)>,
    expect: Decision,
}

fn allow(action: Value, resource: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})
}

fn case(
    name: &'static str,
    policy: Value,
    action: &'static str,
    resource: &'static str,
    expect: Decision,
) -> Case {
    Case {
        name,
        policy,
        boundary: None,
        action,
        resource,
        context: vec![],
        expect,
    }
}

fn identity_cases() -> Vec<Case> {
    use Decision::*;
    let cond = |c: Value| json!({"Statement": [{"Effect": "Allow", "Action": "ecs:RunTask", "Resource": "*", "Condition": c}]});
    let with = |mut c: Case, ctx: Vec<(&'static str, &'static str)>| {
        c.context = ctx;
        c
    };
    vec![
        case("exact action and resource", allow(json!("ecs:RunTask"), json!(TD)), "ecs:RunTask", TD, Allow),
        case("action names are case-insensitive", allow(json!("ECS:runtask"), json!(TD)), "ecs:RunTask", TD, Allow),
        case("action wildcard *", allow(json!("ecs:Run*"), json!(TD)), "ecs:RunTask", TD, Allow),
        case("action wildcard ?", allow(json!("ecs:Run?ask"), json!(TD)), "ecs:RunTask", TD, Allow),
        case("resource family wildcard matches a revision", allow(json!("ecs:RunTask"), json!("arn:aws:ecs:us-east-1:111122223333:task-definition/app:*")), "ecs:RunTask", TD, Allow),
        case("resource wildcard of another family", allow(json!("ecs:RunTask"), json!("arn:aws:ecs:us-east-1:111122223333:task-definition/other:*")), "ecs:RunTask", TD, ImplicitDeny),
        case("resources are case-sensitive", allow(json!("ecs:RunTask"), json!("arn:aws:ecs:us-east-1:111122223333:task-definition/APP:7")), "ecs:RunTask", TD, ImplicitDeny),
        case("resource list, one matches", allow(json!(["ecs:RunTask"]), json!(["arn:x", TD])), "ecs:RunTask", TD, Allow),
        case("NotAction excludes other services", json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}), "ecs:RunTask", TD, Allow),
        case("NotAction excludes this action", json!({"Statement": {"Effect": "Allow", "NotAction": "ecs:*", "Resource": "*"}}), "ecs:RunTask", TD, ImplicitDeny),
        case("NotResource allows everything else", json!({"Statement": {"Effect": "Allow", "Action": "ecs:RunTask", "NotResource": "arn:aws:ecs:*:*:task-definition/other:*"}}), "ecs:RunTask", TD, Allow),
        case("no statement applies: implicit deny", allow(json!("states:StartExecution"), json!("*")), "ecs:RunTask", TD, ImplicitDeny),
        case("explicit deny overrides allow", json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "ecs:RunTask", "Resource": "*"}]}), "ecs:RunTask", TD, ExplicitDeny),
        case("deny with NotResource spares the listed resource", json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "*", "NotResource": TD}]}), "ecs:RunTask", TD, Allow),
        with(case("ArnEquals on ecs:cluster holds", cond(json!({"ArnEquals": {"ecs:cluster": CLUSTER}})), "ecs:RunTask", TD, Allow), vec![("ecs:cluster", CLUSTER)]),
        with(case("ArnEquals on ecs:cluster fails", cond(json!({"ArnEquals": {"ecs:cluster": CLUSTER}})), "ecs:RunTask", TD, ImplicitDeny), vec![("ecs:cluster", "arn:aws:ecs:us-east-1:111122223333:cluster/other")]),
        with(case("ArnLike matches per component", cond(json!({"ArnLike": {"ecs:cluster": "arn:aws:ecs:*:111122223333:cluster/*"}})), "ecs:RunTask", TD, Allow), vec![("ecs:cluster", CLUSTER)]),
        with(case("condition keys are case-insensitive", cond(json!({"StringEquals": {"AWS:SourceAccount": "111122223333"}})), "ecs:RunTask", TD, Allow), vec![("aws:sourceaccount", "111122223333")]),
        with(case("condition values are case-sensitive", cond(json!({"StringEquals": {"aws:PrincipalTag/team": "Blue"}})), "ecs:RunTask", TD, ImplicitDeny), vec![("aws:PrincipalTag/team", "blue")]),
        with(case("StringEqualsIgnoreCase", cond(json!({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "Blue"}})), "ecs:RunTask", TD, Allow), vec![("aws:PrincipalTag/team", "blue")]),
        with(case("StringLike wildcard", cond(json!({"StringLike": {"iam:PassedToService": "ecs-tasks.*"}})), "ecs:RunTask", TD, Allow), vec![("iam:PassedToService", "ecs-tasks.amazonaws.com")]),
        case("StringEquals on an absent key is false", cond(json!({"StringEquals": {"aws:SourceAccount": "111122223333"}})), "ecs:RunTask", TD, ImplicitDeny),
        case("StringNotEquals on an absent key is true", cond(json!({"StringNotEquals": {"aws:SourceAccount": "111122223333"}})), "ecs:RunTask", TD, Allow),
        case("IfExists on an absent key is true", cond(json!({"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}})), "ecs:RunTask", TD, Allow),
        with(case("IfExists on a present key compares", cond(json!({"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}})), "ecs:RunTask", TD, ImplicitDeny), vec![("aws:SourceAccount", "444455556666")]),
        case("Null true: key absent", cond(json!({"Null": {"aws:SourceArn": "true"}})), "ecs:RunTask", TD, Allow),
        with(case("Null true: key present", cond(json!({"Null": {"aws:SourceArn": "true"}})), "ecs:RunTask", TD, ImplicitDeny), vec![("aws:SourceArn", "arn:aws:events:us-east-1:111122223333:rule/r")]),
        with(case("Bool", cond(json!({"Bool": {"aws:SecureTransport": "true"}})), "ecs:RunTask", TD, Allow), vec![("aws:SecureTransport", "true")]),
        with(case("NumericLessThan holds", cond(json!({"NumericLessThan": {"s3:max-keys": "10"}})), "ecs:RunTask", TD, Allow), vec![("s3:max-keys", "5")]),
        with(case("NumericLessThan fails", cond(json!({"NumericLessThan": {"s3:max-keys": "10"}})), "ecs:RunTask", TD, ImplicitDeny), vec![("s3:max-keys", "15")]),
        with(case("several values of one key: OR", cond(json!({"StringEquals": {"aws:SourceAccount": ["444455556666", "111122223333"]}})), "ecs:RunTask", TD, Allow), vec![("aws:SourceAccount", "111122223333")]),
        with(case("several keys: AND", cond(json!({"StringEquals": {"aws:SourceAccount": "111122223333", "aws:PrincipalAccount": "111122223333"}})), "ecs:RunTask", TD, ImplicitDeny), vec![("aws:SourceAccount", "111122223333"), ("aws:PrincipalAccount", "444455556666")]),
        with(case("ForAnyValue: one of several matches", cond(json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}})), "ecs:RunTask", TD, Allow), vec![("aws:TagKeys", "env"), ("aws:TagKeys", "team")]),
        case("ForAllValues over an absent key is true", cond(json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}})), "ecs:RunTask", TD, Allow),
        with(case("ForAllValues with a value outside the set", cond(json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}})), "ecs:RunTask", TD, ImplicitDeny), vec![("aws:TagKeys", "team"), ("aws:TagKeys", "env")]),
        case("ForAnyValue over an absent key is false", cond(json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}})), "ecs:RunTask", TD, ImplicitDeny),
        with(case("a Deny whose condition fails does not apply", json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"StringNotEquals": {"aws:SourceAccount": "111122223333"}}}]}), "ecs:RunTask", TD, Allow), vec![("aws:SourceAccount", "111122223333")]),
        with(case("policy variable in Resource", allow(json!("ecs:RunTask"), json!("arn:aws:ecs:us-east-1:${aws:PrincipalAccount}:task-definition/app:*")), "ecs:RunTask", TD, Allow), vec![("aws:PrincipalAccount", "111122223333")]),
        case("URL-encoded document", json!("%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22ecs%3ARunTask%22%2C%22Resource%22%3A%22*%22%7D%7D"), "ecs:RunTask", TD, Allow),
        Case { name: "boundary allows too", policy: allow(json!("ecs:RunTask"), json!(TD)), boundary: Some(allow(json!("ecs:*"), json!("*"))), action: "ecs:RunTask", resource: TD, context: vec![], expect: Allow },
        Case { name: "boundary does not allow", policy: allow(json!("ecs:RunTask"), json!(TD)), boundary: Some(allow(json!("iam:PassRole"), json!("*"))), action: "ecs:RunTask", resource: TD, context: vec![], expect: ImplicitDeny },
        Case { name: "boundary denies", policy: allow(json!("ecs:RunTask"), json!(TD)), boundary: Some(json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "ecs:RunTask", "Resource": "*"}]})), action: "ecs:RunTask", resource: TD, context: vec![], expect: ExplicitDeny },
        Case { name: "a boundary never grants", policy: allow(json!("iam:PassRole"), json!("*")), boundary: Some(allow(json!("*"), json!("*"))), action: "ecs:RunTask", resource: TD, context: vec![], expect: ImplicitDeny },
    ]
}

fn request(c: &Case) -> Request {
    let context = c
        .context
        .iter()
        .fold(Context::new(), |ctx, (k, v)| ctx.with(k, *v));
    Request {
        caller: Caller::Aws {
            arn: ROLE.into(),
            account: "111122223333".into(),
        },
        action: c.action.into(),
        resource: Some(c.resource.into()),
        context,
    }
}

#[test]
fn identity_evaluation_follows_aws_logic() {
    let mut failures = vec![];
    for c in identity_cases() {
        let doc = PolicyDocument::parse(&c.policy).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let boundary = c
            .boundary
            .as_ref()
            .map(|b| PolicyDocument::parse(b).unwrap());
        let named = [NamedPolicy {
            name: "p",
            document: &doc,
        }];
        let b = boundary.as_ref().map(|d| NamedPolicy {
            name: "boundary",
            document: d,
        });
        let got = evaluate_identity(&named, b.as_ref(), &request(&c));
        if got.decision != c.expect {
            failures.push(format!(
                "{}: expected {:?}, got {:?}",
                c.name, c.expect, got.decision
            ));
        }
        if c.name == "boundary does not allow" {
            assert!(got.boundary_blocks, "the boundary is named as the cause");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn trust_eval(trust: Value, caller: Caller, ctx: Vec<(&str, &str)>) -> ebi::iam::Evaluation {
    let doc = PolicyDocument::parse(&trust).unwrap();
    let context = ctx.iter().fold(Context::new(), |c, (k, v)| c.with(k, *v));
    let request = Request {
        caller,
        action: "sts:AssumeRole".into(),
        resource: None,
        context,
    };
    evaluate_resource_policy(
        &NamedPolicy {
            name: "trust",
            document: &doc,
        },
        &request,
    )
}

#[test]
fn principals_in_trust_and_resource_policies() {
    use Decision::*;
    let events = || Caller::Service("events.amazonaws.com".into());
    let role = |arn: &str| Caller::Aws {
        arn: arn.into(),
        account: arn.split(':').nth(4).unwrap().into(),
    };
    let trust = |p: Value| json!({"Statement": [{"Effect": "Allow", "Principal": p, "Action": "sts:AssumeRole"}]});
    assert_eq!(
        trust_eval(
            trust(json!({"Service": "events.amazonaws.com"})),
            events(),
            vec![]
        )
        .decision,
        Allow
    );
    assert_eq!(
        trust_eval(
            trust(json!({"Service": ["ecs-tasks.amazonaws.com", "events.amazonaws.com"]})),
            events(),
            vec![]
        )
        .decision,
        Allow
    );
    assert_eq!(
        trust_eval(
            trust(json!({"Service": "ecs-tasks.amazonaws.com"})),
            events(),
            vec![]
        )
        .decision,
        ImplicitDeny
    );
    assert_eq!(
        trust_eval(trust(json!("*")), events(), vec![]).decision,
        Allow
    );
    assert_eq!(
        trust_eval(trust(json!({"AWS": "111122223333"})), role(ROLE), vec![]).decision,
        Allow,
        "account ID"
    );
    assert_eq!(
        trust_eval(
            trust(json!({"AWS": "arn:aws:iam::111122223333:root"})),
            role(ROLE),
            vec![]
        )
        .decision,
        Allow,
        "account root"
    );
    assert_eq!(
        trust_eval(trust(json!({"AWS": ROLE})), role(ROLE), vec![]).decision,
        Allow,
        "exact role"
    );
    assert_eq!(
        trust_eval(
            trust(json!({"AWS": ROLE})),
            role("arn:aws:iam::111122223333:role/other"),
            vec![]
        )
        .decision,
        ImplicitDeny
    );
    assert_eq!(
        trust_eval(
            trust(json!({"AWS": "arn:aws:iam::444455556666:root"})),
            role(ROLE),
            vec![]
        )
        .decision,
        ImplicitDeny,
        "another account"
    );
    assert_eq!(
        trust_eval(
            trust(json!({"AWS": ROLE})),
            role("arn:aws:sts::111122223333:assumed-role/runner/session"),
            vec![]
        )
        .decision,
        Allow,
        "an assumed-role session acts as its role"
    );
    // NotPrincipal with Deny: everyone except the listed principal is denied.
    let not_principal = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}, {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "sts:AssumeRole"}]});
    assert_eq!(
        trust_eval(
            not_principal.clone(),
            role("arn:aws:iam::111122223333:role/other"),
            vec![]
        )
        .decision,
        ExplicitDeny
    );
    assert_eq!(
        trust_eval(not_principal, role(ROLE), vec![]).decision,
        Allow
    );
    // A condition that does not hold is reported as a near miss, not as a missing principal.
    let guarded = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole", "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:us-east-1:111122223333:rule/a"}}}]});
    let e = trust_eval(
        guarded.clone(),
        events(),
        vec![(
            "aws:SourceArn",
            "arn:aws:events:us-east-1:111122223333:rule/b",
        )],
    );
    assert_eq!(e.decision, ImplicitDeny);
    assert_eq!(e.near_misses.len(), 1);
    assert_eq!(e.near_misses[0].failed[0].key, "aws:SourceArn");
    assert_eq!(
        trust_eval(
            guarded,
            events(),
            vec![(
                "aws:SourceArn",
                "arn:aws:events:us-east-1:111122223333:rule/a"
            )]
        )
        .decision,
        Allow
    );
    // A statement without Principal applies to no one in a resource policy.
    assert_eq!(
        trust_eval(
            json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}),
            events(),
            vec![]
        )
        .decision,
        ImplicitDeny
    );
}

/// Runs the identity cases through `iam-rs` and checks the comparison the README states: it
/// agrees on 36 of 43, disagrees on the two named below, and cannot take the other five (no
/// permissions boundaries, no URL-encoded documents). A change in either engine shows here.
#[test]
fn iam_rs_comparison() {
    let mut agree = 0;
    let mut disagree = vec![];
    let mut unsupported = vec![];
    let cases = identity_cases();
    for c in &cases {
        if c.boundary.is_some() {
            unsupported.push(format!("{} (no permissions boundaries)", c.name));
            continue;
        }
        // To be fair, hand it a `Version` (AWS does not require one; iam-rs does).
        let text = match &c.policy {
            Value::String(s) => s.clone(),
            Value::Object(o) => {
                let mut o = o.clone();
                o.entry("Version").or_insert(json!("2012-10-17"));
                Value::Object(o).to_string()
            }
            v => v.to_string(),
        };
        let Ok(policy) = iam_rs::IAMPolicy::from_json(&text) else {
            unsupported.push(format!("{} (cannot parse the document)", c.name));
            continue;
        };
        let mut ctx = iam_rs::Context::new();
        for (k, v) in &c.context {
            ctx = ctx.with_string(*k, *v);
        }
        let principal = iam_rs::Principal::Aws(iam_rs::PrincipalId::String(ROLE.into()));
        let request = iam_rs::IAMRequest::new_with_context(
            principal,
            c.action,
            iam_rs::Arn::parse(c.resource).unwrap(),
            ctx,
        );
        let got = match iam_rs::evaluate_policy(&policy, &request) {
            Ok(iam_rs::Decision::Allow) => Decision::Allow,
            Ok(iam_rs::Decision::Deny) => Decision::ExplicitDeny,
            Ok(iam_rs::Decision::NotApplicable) => Decision::ImplicitDeny,
            Err(e) => {
                disagree.push(format!("{}: error {e}", c.name));
                continue;
            }
        };
        if got == c.expect {
            agree += 1;
        } else {
            disagree.push(format!(
                "{}: expected {:?}, iam-rs says {:?}",
                c.name, c.expect, got
            ));
        }
    }
    println!("[figures] iam-rs 0.8 on {} documented identity cases: {agree} agree, {} disagree, {} unsupported", cases.len(), disagree.len(), unsupported.len());
    for d in disagree.iter().chain(unsupported.iter()) {
        println!("[figures]   {d}");
    }
    let names = |found: &[String]| -> Vec<String> {
        found
            .iter()
            .map(|d| {
                cases
                    .iter()
                    .map(|c| c.name)
                    .find(|n| d.starts_with(&format!("{n}:")) || d.starts_with(&format!("{n} (")))
                    .unwrap_or(d)
                    .to_string()
            })
            .collect()
    };
    assert_eq!((agree, cases.len()), (36, 43), "the README's figure");
    assert_eq!(names(&disagree), ["resource list, one matches", "Bool"]);
    assert_eq!(
        names(&unsupported),
        [
            "URL-encoded document",
            "boundary allows too",
            "boundary does not allow",
            "boundary denies",
            "a boundary never grants"
        ]
    );
}
