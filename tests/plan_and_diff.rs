//! Planning and diffing, pure: spec → desired state, and desired vs observed → changes.
//! Expected documents are written out by hand from the issue's rules, not from the planner.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::collections::BTreeMap;

use ebi::api::EventBridgeIntegrationSpec;
use ebi::iam::{documents_equivalent, PolicyDocument, RoleArn};
use ebi::plan::diff::{
    diff, Adoption, Change, Observed, ObservedApiDestination, ObservedApiDestinationPair,
    ObservedConnection, ObservedRole, ObservedRule,
};
use ebi::plan::{
    plan, validate, DesiredRole, Facts, Guardrails, Owner, Plan, PlanError, TargetParameters,
    CLUSTER_TAG, OWNER_TAG, OWNER_UID_TAG,
};
use serde_json::{json, Value};

const A: &str = "111122223333";

fn owner() -> Owner {
    Owner {
        cluster: "cluster-1".into(),
        namespace: "team-a".into(),
        name: "orders".into(),
        uid: "uid-1".into(),
    }
}

fn facts() -> Facts {
    Facts {
        account_id: A.parse().unwrap(),
        region: "us-east-1".parse().unwrap(),
        task_roles: [(
            format!("arn:aws:ecs:us-east-1:{A}:task-definition/worker:4"),
            vec![
                format!("arn:aws:iam::{A}:role/task"),
                format!("arn:aws:iam::{A}:role/exec"),
            ],
        )]
        .into(),
        provisioning_role_arn: None,
        recorded_roles: vec![],
        connection_secrets: Default::default(),
    }
}

/// The facts of a pass for `s`: with its cross-account provisioning role, as the controller
/// hands it to the planner (with --policy-mode off, the spec's).
fn facts_of(s: &EventBridgeIntegrationSpec) -> Facts {
    Facts {
        provisioning_role_arn: s
            .cross_account
            .as_ref()
            .and_then(|x| x.provisioning_role_arn.clone()),
        ..facts()
    }
}

fn spec(yaml: &str) -> EventBridgeIntegrationSpec {
    serde_norway::from_str(yaml).unwrap()
}

fn ecs_spec() -> EventBridgeIntegrationSpec {
    spec(&format!(
        r#"
rule: {{eventPattern: {{source: [orders]}}}}
target:
  ecs:
    clusterArn: arn:aws:ecs:us-east-1:{A}:cluster/main
    taskDefinitionArn: arn:aws:ecs:us-east-1:{A}:task-definition/worker:4
    networkConfiguration: {{subnets: [subnet-1]}}
"#
    ))
}

fn lambda_spec(arn: &str) -> EventBridgeIntegrationSpec {
    spec(&format!("rule: {{scheduleExpression: rate(1 hour)}}\ntarget: {{lambda: {{functionArn: \"{arn}\"}}}}\n"))
}

fn planned(s: &EventBridgeIntegrationSpec) -> Plan {
    plan(s, &owner(), &facts_of(s), &Guardrails::default()).unwrap()
}

fn managed(p: &Plan) -> ebi::plan::ManagedRole {
    match &p.local.role {
        DesiredRole::Managed(m) => m.clone(),
        other => panic!("expected a managed role, got {other:?}"),
    }
}

#[test]
fn ecs_role_is_least_privilege_and_bound_to_the_rule() {
    let p = planned(&ecs_spec());
    let rule = p.local.rule.as_ref().unwrap();
    assert!(rule.name.starts_with("ebi-team-a-orders-") && rule.name.len() <= 64);
    assert_eq!(
        rule.arn,
        format!("arn:aws:events:us-east-1:{A}:rule/{}", rule.name)
    );
    let role = managed(&p);
    let trust = json!({"Statement": [{"Sid": "EventBridgeRuleOnly", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": A}, "ArnEquals": {"aws:SourceArn": rule.arn}}}]});
    assert!(
        documents_equivalent(&role.trust_policy, &trust),
        "{}",
        role.trust_policy
    );
    let policy = json!({"Statement": [
        {"Sid": "RunTask", "Effect": "Allow", "Action": "ecs:RunTask", "Resource": format!("arn:aws:ecs:us-east-1:{A}:task-definition/worker:*"),
         "Condition": {"ArnEquals": {"ecs:cluster": format!("arn:aws:ecs:us-east-1:{A}:cluster/main")}}},
        {"Sid": "PassTaskRoles", "Effect": "Allow", "Action": "iam:PassRole", "Resource": [format!("arn:aws:iam::{A}:role/exec"), format!("arn:aws:iam::{A}:role/task")],
         "Condition": {"StringLike": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}]});
    assert!(
        documents_equivalent(&role.policy, &policy),
        "{}",
        role.policy
    );
    let target = p.local.targets.first().unwrap();
    assert_eq!(target.role_arn.as_deref(), Some(role.arn.as_str()));
    assert_eq!(
        target.parameters.ecs().unwrap().assign_public_ip.as_deref(),
        Some("DISABLED")
    );
}

#[test]
fn nothing_generated_has_a_star_resource() {
    let mut revision = ecs_spec();
    revision.target.ecs.as_mut().unwrap().task_definition_scope =
        ebi::api::TaskDefinitionScope::Revision;
    let sfn = spec(&format!("rule: {{eventPattern: {{source: [x]}}}}\ntarget: {{stepFunctions: {{stateMachineArn: arn:aws:states:us-east-1:{A}:stateMachine:m}}}}\n"));
    for s in [ecs_spec(), revision, sfn] {
        let role = managed(&planned(&s));
        for doc in [&role.policy, &role.trust_policy] {
            for st in PolicyDocument::parse(doc).unwrap().statements {
                assert!(
                    st.resource
                        .iter()
                        .flat_map(|r| r.patterns.iter())
                        .all(|p| !p.contains('*') || p.ends_with(":*")),
                    "{doc}"
                );
                assert!(
                    st.resource
                        .iter()
                        .flat_map(|r| r.patterns.iter())
                        .all(|p| p != "*"),
                    "{doc}"
                );
            }
        }
    }
}

#[test]
fn lambda_gets_a_permission_on_exactly_the_qualifier_and_no_role() {
    let p = planned(&lambda_spec(&format!(
        "arn:aws:lambda:us-east-1:{A}:function:notify:live"
    )));
    assert_eq!(p.local.role, DesiredRole::NotNeeded);
    let perm = p.local.permissions.first().unwrap();
    assert_eq!(
        perm.function_arn.unqualified(),
        format!("arn:aws:lambda:us-east-1:{A}:function:notify")
    );
    assert_eq!(perm.function_arn.qualifier(), Some("live"));
    assert_eq!(perm.principal, "events.amazonaws.com");
    assert_eq!(
        perm.source_arn.as_deref(),
        Some(p.local.rule.as_ref().unwrap().arn.as_str())
    );
    assert_eq!(perm.source_account.as_deref(), Some(A));
    let unqualified = planned(&lambda_spec(&format!(
        "arn:aws:lambda:us-east-1:{A}:function:notify"
    )));
    assert_eq!(
        unqualified
            .local
            .permissions
            .first()
            .unwrap()
            .function_arn
            .qualifier(),
        None
    );
}

#[test]
fn guardrails_refuse_or_shape_what_the_object_asks() {
    let g = |f: fn(&mut Guardrails)| {
        let mut g = Guardrails::default();
        f(&mut g);
        g
    };
    let err = plan(
        &ecs_spec(),
        &owner(),
        &facts(),
        &g(|g| g.allowed_account_ids = vec!["999999999999".parse().unwrap()]),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PlanError::Guardrail(m) if m.contains(A) && m.contains("--allowed-account-ids")),
        "{err}"
    );

    let prefixed = plan(
        &ecs_spec(),
        &owner(),
        &facts(),
        &g(|g| g.role_name_prefix = Some("platform-".into())),
    )
    .unwrap();
    assert!(
        managed(&prefixed).name.starts_with("platform-"),
        "derived names get the prefix"
    );
    let mut named = ecs_spec();
    named.role = Some(ebi::api::RoleSpec {
        name: Some("my-role".into()),
        ..Default::default()
    });
    let err = plan(
        &named,
        &owner(),
        &facts(),
        &g(|g| g.role_name_prefix = Some("platform-".into())),
    )
    .unwrap_err();
    assert!(
        matches!(&err, PlanError::Guardrail(m) if m.contains("my-role") && m.contains("platform-")),
        "{err}"
    );

    let boundary = format!("arn:aws:iam::{A}:policy/boundary");
    let bounded = plan(
        &ecs_spec(),
        &owner(),
        &facts(),
        &g(|g| {
            g.permissions_boundary_arn =
                Some(format!("arn:aws:iam::{}:policy/boundary", "111122223333"))
        }),
    )
    .unwrap();
    assert_eq!(
        managed(&bounded).permissions_boundary_arn.as_deref(),
        Some(boundary.as_str())
    );
    let mut other_boundary = ecs_spec();
    other_boundary.role = Some(ebi::api::RoleSpec {
        permissions_boundary_arn: Some(format!("arn:aws:iam::{A}:policy/weaker")),
        ..Default::default()
    });
    assert!(matches!(
        plan(
            &other_boundary,
            &owner(),
            &facts(),
            &g(|g| g.permissions_boundary_arn =
                Some(format!("arn:aws:iam::{}:policy/boundary", "111122223333")))
        ),
        Err(PlanError::Guardrail(_))
    ));

    let pathed = plan(
        &ecs_spec(),
        &owner(),
        &facts(),
        &g(|g| g.role_path = Some("/eventbridge/".into())),
    )
    .unwrap();
    assert_eq!(
        managed(&pathed).arn,
        format!(
            "arn:aws:iam::{A}:role/eventbridge/{}",
            managed(&pathed).name
        )
    );
}

#[test]
fn invalid_specs_name_the_field() {
    let cases = [
        ("rule: {scheduleExpression: rate(1 minutes)}\ntarget: {lambda: {functionArn: \"arn:aws:lambda:us-east-1:111122223333:function:f\"}}", "spec.rule.scheduleExpression"),
        ("rule: {eventPattern: {}}\ntarget: {lambda: {functionArn: \"arn:aws:lambda:us-east-1:111122223333:function:f\"}}", "spec.rule.eventPattern"),
        ("rule: {scheduleExpression: rate(5 minutes), eventBusName: orders}\ntarget: {lambda: {functionArn: \"arn:aws:lambda:us-east-1:111122223333:function:f\"}}", "spec.rule.eventBusName"),
        ("rule: {eventPattern: {source: [x]}}\ntarget: {lambda: {functionArn: \"arn:aws:lambda:us-east-1::function:f\"}}", "spec.target.lambda.functionArn"),
        ("rule: {eventPattern: {source: [x]}}\ntarget: {lambda: {functionArn: \"arn:aws:lambda:us-east-1:444455556666:function:f\"}}", "spec.target.lambda.functionArn"),
        ("rule: {eventPattern: {source: [x]}}\ntarget: {lambda: {functionArn: \"arn:aws:lambda:eu-west-1:111122223333:function:f\"}}", "spec.target.lambda.functionArn"),
        // A name and at most one version or alias: Lambda's permission calls take them apart.
        ("rule: {eventPattern: {source: [x]}}\ntarget: {lambda: {functionArn: \"arn:aws:lambda:us-east-1:111122223333:function:f:1:extra\"}}", "spec.target.lambda.functionArn"),
        ("rule: {eventPattern: {source: [x]}}\ntarget: {lambda: {functionArn: \"arn:aws:lambda:us-east-1:111122223333:function:\"}}", "spec.target.lambda.functionArn"),
        ("rule: {eventPattern: {source: [x]}}\ntarget: {input: {a: 1}, inputPath: $.detail, lambda: {functionArn: \"arn:aws:lambda:us-east-1:111122223333:function:f\"}}", "spec.target"),
    ];
    for (yaml, field) in cases {
        match plan(&spec(yaml), &owner(), &facts(), &Guardrails::default()) {
            Err(PlanError::InvalidSpec(e)) => assert_eq!(e.field, field, "{yaml}: {e}"),
            other => panic!("{yaml}: expected InvalidSpec on {field}, got {other:?}"),
        }
    }
}

fn url_encode(v: &Value) -> Value {
    // What IAM returns: URL-encoded JSON with keys in its own order and lists for single values.
    let text = v.to_string();
    json!(text
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            (b as char).to_string()
        } else {
            format!("%{b:02X}")
        })
        .collect::<String>())
}

/// What AWS would report for a correctly converged ECS integration, in AWS's own shapes.
fn in_sync(p: &Plan) -> Observed {
    let rule = p.local.rule.as_ref().unwrap();
    Observed {
        rule: Some(ObservedRule {
            name: rule.name.clone(),
            arn: rule.arn.to_string(),
            event_bus_name: "default".into(),
            enabled: true,
            description: None,
            event_pattern: Some(json!({"source": ["orders"]})),
            schedule_expression: None,
            // Everything the controller tags with: owner, UID, cluster, managed-by.
            tags: owner().tags(),
        }),
        targets: vec![p.local.targets.first().cloned().unwrap()],
        role: Some(observed_role(p)),
        ..Default::default()
    }
}

/// The plan's managed role as IAM holds it (policies URL-encoded, tagged with the owner).
fn observed_role(p: &Plan) -> ObservedRole {
    let role = managed(p);
    ObservedRole {
        arn: role.arn.to_string(),
        name: role.name.clone(),
        trust_policy: url_encode(&role.trust_policy),
        tags: owner().tags(),
        inline_policies: BTreeMap::from([(
            ebi::plan::POLICY_NAME.to_string(),
            url_encode(&role.policy),
        )]),
        attached_policies: BTreeMap::new(),
        permissions_boundary: None,
    }
}

#[test]
fn an_object_in_sync_needs_no_change_even_in_aws_shapes() {
    let p = planned(&ecs_spec());
    assert_eq!(
        diff(&p.local, &in_sync(&p), &owner(), Adoption::both(false)).unwrap(),
        Vec::<Change>::new()
    );
}

#[test]
fn each_kind_of_drift_is_one_change() {
    let p = planned(&ecs_spec());
    let check = |mutate: &dyn Fn(&mut Observed), expected: Vec<Change>| {
        let mut o = in_sync(&p);
        mutate(&mut o);
        let changes = diff(&p.local, &o, &owner(), Adoption::both(false)).unwrap();
        assert_eq!(changes, expected);
        // What the pass believes AWS holds after these writes is in sync: nothing to read
        // back, and the next resync (which does read) would find nothing to do.
        let after = ebi::plan::diff::after_writes(&p.local, &o, &changes, &owner())
            .expect("known without reading");
        assert_eq!(
            diff(&p.local, &after, &owner(), Adoption::both(false)).unwrap(),
            vec![],
            "after {expected:?}"
        );
    };
    check(
        &|o| o.role = None,
        vec![Change::CreateRole, Change::PutRolePolicy],
    );
    check(
        &|o| o.role.as_mut().unwrap().inline_policies.clear(),
        vec![Change::PutRolePolicy],
    );
    check(
        &|o| {
            o.role.as_mut().unwrap().trust_policy = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}})
        },
        vec![Change::UpdateTrustPolicy],
    );
    check(
        &|o| o.rule.as_mut().unwrap().enabled = false,
        vec![Change::PutRule { created: false }],
    );
    check(
        &|o| o.rule.as_mut().unwrap().event_pattern = Some(json!({"source": ["other"]})),
        vec![Change::PutRule { created: false }],
    );
    check(
        &|o| {
            o.rule = None;
            o.targets.clear();
        },
        vec![Change::PutRule { created: true }, Change::PutTarget],
    );
    check(&|o| o.targets.clear(), vec![Change::PutTarget]);
    check(
        &|o| {
            if let ebi::plan::TargetParameters::Ecs(e) = &mut o.targets[0].parameters {
                e.task_count = 3
            }
        },
        vec![Change::PutTarget],
    );
    check(
        &|o| {
            let mut foreign = o.targets[0].clone();
            foreign.id = "intruder".into();
            o.targets.push(foreign)
        },
        vec![Change::RemoveTargets(vec!["intruder".into()])],
    );
    check(
        &|o| {
            o.role.as_mut().unwrap().permissions_boundary =
                Some(("arn:aws:iam::111122223333:policy/b".into(), json!({})))
        },
        vec![Change::DeletePermissionsBoundary],
    );
    // A new incarnation of the object (same namespace/name, new UID) retags, nothing else.
    check(
        &|o| {
            o.role
                .as_mut()
                .unwrap()
                .tags
                .insert(OWNER_UID_TAG.into(), "uid-0".into());
        },
        vec![Change::TagRole],
    );
}

#[test]
fn an_adopted_rule_keeps_the_targets_that_were_there_before_us() {
    let p = planned(&ecs_spec());
    let mut theirs = in_sync(&p);
    theirs.rule.as_mut().unwrap().tags.clear();
    let mut other = p.local.targets.first().cloned().unwrap();
    other.id = "their-target".into();
    other.arn = format!("arn:aws:lambda:us-east-1:{A}:function:theirs");
    theirs.targets.push(other.clone());
    // Adopted now (untagged) or earlier (recorded): the other target stays.
    assert_eq!(
        diff(&p.local, &theirs, &owner(), Adoption::both(true)).unwrap(),
        vec![Change::TagRule]
    );
    let mut ours_now = in_sync(&p);
    ours_now.targets.push(other.clone());
    let adopted_earlier = Adoption {
        rule_adopted: true,
        ..Adoption::both(false)
    };
    assert_eq!(
        diff(&p.local, &ours_now, &owner(), adopted_earlier).unwrap(),
        vec![]
    );
    // A rule the controller created carries only its target: another is drift.
    assert_eq!(
        diff(&p.local, &ours_now, &owner(), Adoption::both(false)).unwrap(),
        vec![Change::RemoveTargets(vec!["their-target".into()])]
    );
    // A policy may allow the rule and not the role (or the reverse).
    let mut both_untagged = in_sync(&p);
    both_untagged.rule.as_mut().unwrap().tags.clear();
    both_untagged.role.as_mut().unwrap().tags.clear();
    let rule_only = Adoption {
        rule: true,
        ..Adoption::both(false)
    };
    let err = diff(&p.local, &both_untagged, &owner(), rule_only).unwrap_err();
    assert_eq!(err.kind, "IAM role");
}

#[test]
fn resources_of_others_are_never_taken() {
    let p = planned(&ecs_spec());
    let mut untagged = in_sync(&p);
    untagged.rule.as_mut().unwrap().tags.clear();
    let err = diff(&p.local, &untagged, &owner(), Adoption::both(false)).unwrap_err();
    assert!(err.to_string().contains("adoptExisting"), "{err}");
    assert_eq!(
        diff(&p.local, &untagged, &owner(), Adoption::both(true)).unwrap(),
        vec![Change::TagRule],
        "adoptExisting takes an untagged rule"
    );
    let mut someone_elses = in_sync(&p);
    someone_elses.role.as_mut().unwrap().tags.extend([
        (OWNER_TAG.to_string(), "team-b/other".to_string()),
        (OWNER_UID_TAG.to_string(), "uid-9".to_string()),
    ]);
    assert!(
        diff(&p.local, &someone_elses, &owner(), Adoption::both(true)).is_err(),
        "a resource owned by another object is never adopted"
    );
    // The same namespace/name in another cluster: its tags carry that cluster's identity.
    let mut other_cluster = in_sync(&p);
    other_cluster.rule.as_mut().unwrap().tags.extend([
        (CLUSTER_TAG.to_string(), "cluster-2".to_string()),
        (OWNER_UID_TAG.to_string(), "uid-7".to_string()),
    ]);
    let err = diff(&p.local, &other_cluster, &owner(), Adoption::both(true)).unwrap_err();
    assert!(err.to_string().contains("cluster-2"), "{err}");
    // Even a UID collision does not make another cluster's resource ours.
    other_cluster
        .rule
        .as_mut()
        .unwrap()
        .tags
        .insert(OWNER_UID_TAG.into(), "uid-1".into());
    assert!(diff(&p.local, &other_cluster, &owner(), Adoption::both(true)).is_err());
}

#[test]
fn the_lambda_permission_is_compared_by_meaning() {
    let p = planned(&lambda_spec(&format!(
        "arn:aws:lambda:us-east-1:{A}:function:notify"
    )));
    let perm = p.local.permissions.first().cloned().unwrap();
    let rule = p.local.rule.clone().unwrap();
    let statement = |source: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": perm.statement_id, "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Resource": perm.function_arn,
            "Condition": {"ArnLike": {"AWS:SourceArn": source}, "StringEquals": {"AWS:SourceAccount": A}}}]})
        .to_string()
    };
    let mut o = Observed {
        rule: Some(ObservedRule {
            name: rule.name.clone(),
            arn: rule.arn.to_string(),
            event_bus_name: "default".into(),
            enabled: true,
            description: None,
            event_pattern: None,
            schedule_expression: Some("rate(1 hour)".into()),
            tags: owner().tags(),
        }),
        targets: vec![p.local.targets.first().cloned().unwrap()],
        lambda_policies: [(perm.function_arn.to_string(), json!(statement(&rule.arn)))].into(),
        ..Default::default()
    };
    assert_eq!(
        diff(&p.local, &o, &owner(), Adoption::both(false)).unwrap(),
        vec![]
    );
    // Ours but drifted (another account condition): replaced.
    let drifted = statement(&rule.arn).replace(
        &format!(r#""AWS:SourceAccount":"{A}""#),
        r#""AWS:SourceAccount":"999999999999""#,
    );
    assert_ne!(drifted, statement(&rule.arn));
    o.lambda_policies = [(perm.function_arn.to_string(), json!(drifted))].into();
    assert_eq!(
        diff(&p.local, &o, &owner(), Adoption::both(false)).unwrap(),
        vec![Change::AddPermission {
            function_arn: perm.function_arn.to_string(),
            replace: true
        }]
    );
    // Under our id but granting another rule: someone else's, never replaced…
    let other = "arn:aws:events:us-east-1:111122223333:rule/other";
    o.lambda_policies = [(perm.function_arn.to_string(), json!(statement(other)))].into();
    let err = diff(&p.local, &o, &owner(), Adoption::both(false)).unwrap_err();
    assert!(err.to_string().contains(other), "{err}");
    // …unless the record says this object granted exactly that (a rule renamed since).
    let recorded = Adoption {
        statement_proofs: vec![other.to_string()],
        ..Adoption::both(false)
    };
    assert_eq!(
        diff(&p.local, &o, &owner(), recorded).unwrap(),
        vec![Change::AddPermission {
            function_arn: perm.function_arn.to_string(),
            replace: true
        }]
    );
    o.lambda_policies.clear();
    assert_eq!(
        diff(&p.local, &o, &owner(), Adoption::both(false)).unwrap(),
        vec![Change::AddPermission {
            function_arn: perm.function_arn.to_string(),
            replace: false
        }]
    );
    // The statement the pass believes it wrote is exactly the one diff wants.
    let changes = vec![Change::AddPermission {
        function_arn: perm.function_arn.to_string(),
        replace: false,
    }];
    let after = ebi::plan::diff::after_writes(&p.local, &o, &changes, &owner()).unwrap();
    assert_eq!(
        diff(&p.local, &after, &owner(), Adoption::both(false)).unwrap(),
        vec![]
    );
}

#[test]
fn cross_account_plans_both_halves() {
    let mut s = ecs_spec();
    let b = "444455556666";
    s.target.ecs.as_mut().unwrap().cluster_arn = format!("arn:aws:ecs:us-east-1:{b}:cluster/main");
    s.target.ecs.as_mut().unwrap().task_definition_arn =
        format!("arn:aws:ecs:us-east-1:{b}:task-definition/worker:4");
    s.cross_account = Some(serde_norway::from_str(&format!("{{targetAccountId: \"{b}\", mode: EventBusForwarding, provisioningRoleArn: \"arn:aws:iam::{b}:role/p\"}}")).unwrap());
    let p = planned(&s);
    let local = &p.local;
    let remote = p.remote.as_ref().unwrap();
    let bus = format!("arn:aws:events:us-east-1:{b}:event-bus/default");
    assert_eq!(local.targets.first().unwrap().arn, bus);
    assert!(documents_equivalent(
        &managed(&p).policy,
        &json!({"Statement": [{"Sid": "ForwardToTargetBus", "Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}]})
    ));
    assert_eq!(remote.account_id, b);
    assert_eq!(remote.bus_permission.as_ref().unwrap().principal_account, A);
    assert_eq!(
        remote.rule.as_ref().unwrap().arn,
        format!(
            "arn:aws:events:us-east-1:{b}:rule/{}",
            local.rule.as_ref().unwrap().name
        )
    );
    assert!(remote.role.arn().unwrap().contains(b));

    s.cross_account.as_mut().unwrap().provisioning_role_arn =
        Some(format!("arn:aws:iam::{A}:role/p"));
    assert!(
        matches!(plan(&s, &owner(), &facts_of(&s), &Guardrails::default()), Err(PlanError::InvalidSpec(e)) if e.field == "spec.crossAccount.provisioningRoleArn")
    );
    s.cross_account.as_mut().unwrap().provisioning_role_arn =
        Some(format!("arn:aws:iam::{b}:role/p"));
    s.cross_account.as_mut().unwrap().mode = Some(ebi::api::CrossAccountMode::RoleChain);
    assert!(
        matches!(plan(&s, &owner(), &facts_of(&s), &Guardrails::default()), Err(PlanError::InvalidSpec(e)) if e.field == "spec.crossAccount.mode" && e.message.contains("EventBusForwarding"))
    );
}

// ---- The ownership record (plan::record), pure ----

use ebi::api::{EventBridgeIntegrationStatus, OwnedKind};
use ebi::plan::record;

fn kinds(entries: &[ebi::api::OwnedResource]) -> Vec<OwnedKind> {
    entries.iter().map(|e| e.kind).collect()
}

#[test]
fn the_record_lists_every_resource_with_its_full_identity() {
    let p = planned(&ecs_spec());
    let wanted = record::inventory(&p, None);
    assert_eq!(kinds(&wanted), vec![OwnedKind::Rule, OwnedKind::Role]);
    let rule = &wanted[0];
    assert_eq!(rule.arn, p.local.rule.as_ref().unwrap().arn);
    assert_eq!(
        (
            rule.partition.as_str(),
            rule.account_id.as_str(),
            rule.region.as_deref().unwrap()
        ),
        ("aws", A, "us-east-1")
    );
    assert_eq!(rule.event_bus_name.as_deref(), Some("default"));
    assert_eq!(wanted[1].region, None, "IAM is global");

    let f = format!("arn:aws:lambda:us-east-1:{A}:function:notify:live");
    let p = planned(&lambda_spec(&f));
    let wanted = record::inventory(&p, None);
    assert_eq!(
        kinds(&wanted),
        vec![OwnedKind::Rule, OwnedKind::LambdaPermission]
    );
    let statement = &wanted[1];
    assert_eq!(statement.qualifier.as_deref(), Some("live"));
    assert_eq!(
        statement.proof.as_deref(),
        Some(wanted[0].arn.as_str()),
        "proven by its SourceArn"
    );
    assert!(statement.statement_id.as_ref().unwrap().starts_with("ebi-"));
}

#[test]
fn two_rules_of_one_name_on_two_buses_get_two_statements() {
    let f = format!("arn:aws:lambda:us-east-1:{A}:function:notify");
    let on_default = planned(&spec(&format!(
        "rule: {{name: same, scheduleExpression: rate(1 hour)}}\ntarget: {{lambda: {{functionArn: \"{f}\"}}}}\n"
    )));
    let on_bus = planned(&spec(&format!(
        "rule: {{name: same, eventBusName: orders, eventPattern: {{source: [x]}}}}\ntarget: {{lambda: {{functionArn: \"{f}\"}}}}\n"
    )));
    let a = on_default.local.permissions[0].clone().statement_id;
    let b = on_bus.local.permissions[0].clone().statement_id;
    assert_ne!(a, b);
}

#[test]
fn a_region_change_is_a_move_create_the_new_then_remove_the_old() {
    let before = record::inventory(&planned(&ecs_spec()), None);
    let mut west = facts();
    west.region = "eu-west-1".parse().unwrap();
    let s = spec(&format!(
        r#"
region: eu-west-1
rule: {{eventPattern: {{source: [orders]}}}}
target:
  ecs:
    clusterArn: arn:aws:ecs:eu-west-1:{A}:cluster/main
    taskDefinitionArn: arn:aws:ecs:eu-west-1:{A}:task-definition/worker:4
    networkConfiguration: {{subnets: [subnet-1]}}
"#
    ));
    let after = record::inventory(
        &plan(&s, &owner(), &west, &Guardrails::default()).unwrap(),
        None,
    );
    // Before the first write, the record holds both rules: a crash between creating the
    // new one and removing the old one orphans neither.
    let both = record::before_writes(&before, &after).expect("the new rule is not recorded yet");
    assert_eq!(both.iter().filter(|e| e.kind == OwnedKind::Rule).count(), 2);
    assert_eq!(
        record::before_writes(&both, &after),
        None,
        "nothing new to record twice"
    );
    // What goes after the new rule exists: the old rule, in its own region. The role keeps
    // its name and ARN, so it is not removed.
    let gone = record::superseded(&both, &after);
    assert_eq!(kinds(&gone), vec![OwnedKind::Rule]);
    assert_eq!(gone[0].region.as_deref(), Some("us-east-1"));
    assert!(record::superseded(&after, &after).is_empty());
}

#[test]
fn only_what_an_earlier_pass_recorded_counts_as_already_recorded() {
    let p = planned(&ecs_spec());
    let nothing = record::already_recorded(&[], &p.local, None);
    assert_eq!(nothing, record::AlreadyRecorded::default());
    let all = record::inventory(&p, None);
    let both = record::already_recorded(&all, &p.local, None);
    assert!(both.rule && both.role && !both.permission && !both.queue);
    // A rule recorded in another region is not this rule: its region moved.
    let mut elsewhere = all.clone();
    elsewhere[0].region = Some("eu-west-1".into());
    let moved = record::already_recorded(&elsewhere, &p.local, None);
    assert!(!moved.rule && moved.role);
    let f = format!("arn:aws:lambda:us-east-1:{A}:function:notify");
    let l = planned(&lambda_spec(&f));
    let lambda = record::already_recorded(&record::inventory(&l, None), &l.local, None);
    assert!(lambda.rule && lambda.permission && !lambda.role);
}

#[test]
fn removal_order_is_rules_then_statements_then_roles() {
    let f = format!("arn:aws:lambda:us-east-1:{A}:function:notify");
    let mut mixed = record::inventory(&planned(&ecs_spec()), None);
    mixed.extend(record::inventory(&planned(&lambda_spec(&f)), None));
    let ordered = record::superseded(&mixed, &[]);
    assert_eq!(
        kinds(&ordered),
        vec![
            OwnedKind::Rule,
            OwnedKind::Rule,
            OwnedKind::LambdaPermission,
            OwnedKind::Role
        ]
    );
}

#[test]
fn a_status_older_than_the_record_is_migrated_into_one() {
    let f = format!("arn:aws:lambda:us-east-1:{A}:function:notify");
    let p = planned(&lambda_spec(&f));
    let rule = p.local.rule.clone().unwrap();
    let legacy = EventBridgeIntegrationStatus {
        rule_arn: Some(rule.arn.to_string()),
        rule_name: Some(rule.name.clone()),
        target_kind: Some("Lambda".into()),
        ..Default::default()
    };
    let wanted = record::inventory(&p, None);
    let entries = record::recorded(Some(&legacy), &lambda_spec(&f), None);
    assert_eq!(
        kinds(&entries),
        vec![OwnedKind::Rule, OwnedKind::LambdaPermission]
    );
    // The rule's entry, read back from its ARN alone, is the one the record would hold.
    let (read, planned_entry) = (&entries[0], &wanted[0]);
    assert_eq!(
        (
            &read.arn,
            &read.name,
            &read.event_bus_name,
            &read.account_id,
            &read.region
        ),
        (
            &planned_entry.arn,
            &planned_entry.name,
            &planned_entry.event_bus_name,
            &planned_entry.account_id,
            &planned_entry.region
        )
    );
    assert_eq!(
        entries[1].statement_id.as_deref(),
        Some(format!("ebi-{}", rule.name).as_str()),
        "the statement under the id the older controller used"
    );
    assert_eq!(entries[1].proof.as_deref(), Some(rule.arn.as_str()));
    // The old statement id is not wanted any more: it is superseded by the new one.
    let gone = record::superseded(&entries, &wanted);
    assert_eq!(kinds(&gone), vec![OwnedKind::LambdaPermission]);
    // A status with a record (even an empty one) is taken as it is.
    let current = EventBridgeIntegrationStatus {
        resources: Some(vec![]),
        ..legacy
    };
    assert!(record::recorded(Some(&current), &lambda_spec(&f), None).is_empty());
}

/// A role whose name the record holds at another path (a move of `spec.role.path` or
/// `--role-path`) is planned under a second name at the new path; once the record no longer
/// lists the old one, the wanted name again.
#[test]
fn a_path_move_plans_a_second_name_while_the_old_role_holds_the_name() {
    let s = spec(&format!(
        "{}role: {{path: /new/}}\n",
        "rule: {scheduleExpression: \"rate(1 hour)\"}\ntarget:\n  stepFunctions: {stateMachineArn: \"arn:aws:states:us-east-1:111122223333:stateMachine:m\"}\n"
    ));
    let at = |facts: Facts| match plan(&s, &owner(), &facts, &Guardrails::default())
        .unwrap()
        .local
        .role
    {
        DesiredRole::Managed(m) => m,
        other => panic!("{other:?}"),
    };
    let settled = at(facts());
    assert!(settled.arn.contains(":role/new/"), "{}", settled.arn);
    assert_eq!(settled.bridge_for, None);
    let old = settled.arn.replace(":role/new/", ":role/");
    let moving = at(Facts {
        recorded_roles: vec![old.clone()],
        ..facts()
    });
    assert_ne!(moving.name, settled.name);
    assert!(moving.name.starts_with(&settled.name) && moving.name.len() <= 64);
    assert!(moving.arn.contains(":role/new/"), "{}", moving.arn);
    assert_eq!(moving.bridge_for.as_deref(), Some(settled.name.as_str()));
    // The bridge recorded and the old role gone: the wanted name again.
    let done = at(Facts {
        recorded_roles: vec![moving.arn.to_string()],
        ..facts()
    });
    assert_eq!(done, settled);
    // Recorded at the very ARN wanted: no move.
    assert_eq!(
        at(Facts {
            recorded_roles: vec![settled.arn.to_string()],
            ..facts()
        }),
        settled
    );
}

/// An SQS target that is also its own dead-letter queue: two statements of ours in one
/// policy, each under its own Sid, written in one rewrite; a foreign statement stays.
#[test]
fn an_sqs_target_and_its_dead_letter_statement_share_one_queue_rewrite() {
    use ebi::plan::diff::{after_writes, ObservedQueue};
    use ebi::plan::QueuePurpose;
    let queue = format!("arn:aws:sqs:us-east-1:{A}:orders");
    let s = spec(&format!(
        r#"
rule: {{eventPattern: {{source: [orders]}}}}
target:
  sqs: {{queueArn: "{queue}"}}
  deadLetterQueueArn: "{queue}"
"#
    ));
    let p = planned(&s);
    let d = &p.local;
    assert_eq!(d.role, DesiredRole::NotNeeded);
    let rule = d.rule.as_ref().unwrap();
    let foreign = json!({"Sid": "Consumer", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{A}:root")},
        "Action": "sqs:ReceiveMessage", "Resource": queue});
    let mut observed = Observed {
        rule: Some(ObservedRule {
            name: rule.name.clone(),
            arn: rule.arn.to_string(),
            event_bus_name: "default".into(),
            enabled: true,
            description: None,
            event_pattern: Some(json!({"source": ["orders"]})),
            schedule_expression: None,
            tags: owner().tags(),
        }),
        targets: vec![d.targets.first().cloned().unwrap()],
        ..Default::default()
    };
    observed.queues.insert(
        queue.clone(),
        ObservedQueue {
            url: format!("https://sqs.us-east-1.amazonaws.com/{A}/orders"),
            attributes: BTreeMap::from([(
                "Policy".to_string(),
                json!({"Version": "2012-10-17", "Statement": [foreign]}).to_string(),
            )]),
        },
    );
    let changes = diff(d, &observed, &owner(), Adoption::default()).unwrap();
    assert_eq!(
        changes,
        vec![Change::PutQueueStatements {
            queue_arn: queue.clone(),
            purposes: vec![QueuePurpose::Target, QueuePurpose::DeadLetter],
        }]
    );
    let after = after_writes(d, &observed, &changes, &owner()).unwrap();
    let policy: Value = serde_json::from_str(&after.queues[&queue].attributes["Policy"]).unwrap();
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids.len(), 3, "{policy}");
    assert_eq!(sids[0], "Consumer");
    assert_ne!(sids[1], sids[2]);
    // Written, the queue is in sync: no change.
    assert_eq!(
        diff(d, &after, &owner(), Adoption::default()).unwrap(),
        vec![]
    );
    // Only the target's statement gone: one rewrite again, for it alone.
    let mut drifted = after.clone();
    let without_target: Vec<Value> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["Sid"]
                != json!(
                    d.queue_permissions
                        .iter()
                        .find(|q| q.purpose == QueuePurpose::Target)
                        .unwrap()
                        .statement_id
                )
        })
        .cloned()
        .collect();
    drifted.queues.get_mut(&queue).unwrap().attributes.insert(
        "Policy".into(),
        json!({"Version": "2012-10-17", "Statement": without_target}).to_string(),
    );
    assert_eq!(
        diff(d, &drifted, &owner(), Adoption::default()).unwrap(),
        vec![Change::PutQueueStatements {
            queue_arn: queue,
            purposes: vec![QueuePurpose::Target],
        }]
    );
}

fn api_destination_plan(authorization: &str, version: &str) -> Plan {
    let oauth = if authorization == "OAUTH_CLIENT_CREDENTIALS" {
        ", oauth: {authorizationEndpoint: \"https://auth.example.com/token\", httpMethod: POST}"
    } else {
        ""
    };
    let s = spec(&format!(
        r#"
rule: {{eventPattern: {{source: [orders]}}}}
target:
  apiDestination:
    endpoint: https://hooks.example.com/orders
    httpMethod: POST
    connection: {{authorizationType: {authorization}, secretRef: {{name: partner}}{oauth}}}
"#
    ));
    plan(
        &s,
        &owner(),
        &secrets(&[("partner", version)]),
        &Guardrails::default(),
    )
    .unwrap()
}

/// The facts with the connections' Secrets (name, version) read.
fn secrets(read: &[(&str, &str)]) -> Facts {
    let connection_secrets = read
        .iter()
        .map(|(name, version)| {
            let secret = ebi::plan::ConnectionSecret {
                version: (*version).into(),
                first: "x-api-key".into(),
                second: "value".into(),
            };
            (name.to_string(), secret)
        })
        .collect();
    Facts {
        connection_secrets,
        ..facts()
    }
}

/// The one API destination of a plan: its name, and its destination and connection as found.
fn name_of(p: &Plan) -> String {
    p.local.api_destinations[0].name.clone()
}

fn found(o: &mut Observed) -> &mut ObservedApiDestinationPair {
    o.api_destinations.values_mut().next().unwrap()
}

/// What AWS holds once the plan was applied: AWS's IDs end both ARNs.
fn api_destination_in_sync(p: &Plan) -> Observed {
    let want = p.local.api_destinations[0].clone();
    let mut observed = in_sync(p);
    let arn = format!("{}/5f1c9a2e", want.arn);
    observed.targets[0].arn = arn.clone();
    let pair = found_in_sync(&want, arn);
    observed.api_destinations.insert(want.name.clone(), pair);
    observed
}

/// A destination and its connection as AWS holds them once `want` was written, the
/// destination under `arn`.
fn found_in_sync(
    want: &ebi::plan::DesiredApiDestination,
    arn: String,
) -> ObservedApiDestinationPair {
    let destination = Some(ObservedApiDestination {
        arn,
        connection_arn: format!("{}/0b9e8d7c", want.connection.arn),
        endpoint: want.endpoint.clone(),
        http_method: want.http_method.clone(),
        rate_limit: Some(want.rate_limit),
        description: want.description.clone(),
    });
    let connection = Some(ObservedConnection {
        arn: format!("{}/0b9e8d7c", want.connection.arn),
        authorization_type: want.connection.authorization_type.as_str().into(),
        state: "AUTHORIZED".into(),
        state_reason: None,
        description: want.connection.description.clone(),
    });
    ObservedApiDestinationPair {
        destination,
        connection,
    }
}

#[test]
fn an_api_destination_is_created_before_its_role_and_rule_and_then_left_alone() {
    let p = api_destination_plan("API_KEY", "partner@1");
    let changes = diff(
        &p.local,
        &Observed::default(),
        &owner(),
        Adoption::default(),
    )
    .unwrap();
    assert_eq!(
        changes[..2],
        [
            Change::PutConnection {
                name: name_of(&p),
                created: true
            },
            Change::PutApiDestination {
                name: name_of(&p),
                created: true
            }
        ],
        "the destination exists before the target names it"
    );
    assert!(changes.contains(&Change::PutTarget));
    let role = managed(&p);
    assert_eq!(
        role.policy["Statement"][0]["Resource"],
        format!("{}/*", p.local.api_destinations[0].arn)
    );
    // In sync: the target names the destination by the ARN AWS gave it.
    let observed = api_destination_in_sync(&p);
    assert_eq!(
        diff(&p.local, &observed, &owner(), Adoption::default()).unwrap(),
        vec![]
    );
}

#[test]
fn each_kind_of_api_destination_drift_is_one_change() {
    let p = api_destination_plan("API_KEY", "partner@1");
    let change = |edit: &dyn Fn(&mut Observed)| {
        let mut observed = api_destination_in_sync(&p);
        edit(&mut observed);
        diff(&p.local, &observed, &owner(), Adoption::default())
    };
    // A new version of the Secret: the credentials are written again, nothing else.
    let rotated = api_destination_plan("API_KEY", "partner@2");
    assert_eq!(
        diff(
            &rotated.local,
            &api_destination_in_sync(&p),
            &owner(),
            Adoption::default()
        )
        .unwrap(),
        vec![Change::PutConnection {
            name: name_of(&p),
            created: false
        }]
    );
    let put_connection = || Change::PutConnection {
        name: name_of(&p),
        created: false,
    };
    let put_destination = |created| Change::PutApiDestination {
        name: name_of(&p),
        created,
    };
    for (what, edit, expected) in [
        (
            "endpoint edited",
            Box::new(|o: &mut Observed| {
                found(o).destination.as_mut().unwrap().endpoint = "https://evil.example".into()
            }) as Box<dyn Fn(&mut Observed)>,
            vec![put_destination(false)],
        ),
        (
            "rate edited",
            Box::new(|o: &mut Observed| {
                found(o).destination.as_mut().unwrap().rate_limit = Some(1)
            }),
            vec![put_destination(false)],
        ),
        (
            "destination on another connection",
            Box::new(|o: &mut Observed| {
                found(o).destination.as_mut().unwrap().connection_arn = "arn:other".into()
            }),
            vec![put_destination(false)],
        ),
        (
            "connection deauthorized by a call",
            Box::new(|o: &mut Observed| {
                found(o).connection.as_mut().unwrap().state = "DEAUTHORIZED".into()
            }),
            vec![put_connection()],
        ),
        (
            "destination deleted by hand",
            Box::new(|o: &mut Observed| found(o).destination = None),
            // Re-created with a new ID: the target must follow it.
            vec![put_destination(true), Change::PutTarget],
        ),
    ] {
        assert_eq!(change(&*edit).unwrap(), expected, "{what}");
    }
    // An OAuth connection its token endpoint refused is reported, not rewritten each pass.
    let oauth = api_destination_plan("OAUTH_CLIENT_CREDENTIALS", "partner@1");
    let mut observed = api_destination_in_sync(&oauth);
    found(&mut observed).connection.as_mut().unwrap().state = "DEAUTHORIZED".into();
    assert_eq!(
        diff(&oauth.local, &observed, &owner(), Adoption::default()).unwrap(),
        vec![]
    );
}

#[test]
fn an_api_destination_or_connection_of_someone_else_is_never_taken() {
    let p = api_destination_plan("API_KEY", "partner@1");
    let other = Owner {
        uid: "another-uid".into(),
        name: "payments".into(),
        ..owner()
    };
    let mut observed = api_destination_in_sync(&p);
    found(&mut observed)
        .connection
        .as_mut()
        .unwrap()
        .description = ebi::plan::described::description(&other, Some("s@1"));
    let e = diff(&p.local, &observed, &owner(), Adoption::default()).unwrap_err();
    assert!(e.kind == "EventBridge connection" && e.foreign, "{e}");
    // Made by hand (no owner in its description): only with adoptExisting.
    let mut observed = api_destination_in_sync(&p);
    found(&mut observed)
        .destination
        .as_mut()
        .unwrap()
        .description = "made by hand".into();
    let e = diff(&p.local, &observed, &owner(), Adoption::default()).unwrap_err();
    assert!(e.kind == "EventBridge API destination" && !e.foreign, "{e}");
    assert_eq!(
        diff(&p.local, &observed, &owner(), Adoption::both(true)).unwrap(),
        vec![Change::PutApiDestination {
            name: name_of(&p),
            created: false
        }]
    );
}

#[test]
fn two_api_destinations_of_a_list_each_have_their_own_destination_connection_and_grant() {
    let yaml = r#"
rule: {eventPattern: {source: [orders]}}
targets:
- id: partner
  apiDestination: {endpoint: "https://a.example.com/x", httpMethod: POST, connection: {authorizationType: API_KEY, secretRef: {name: partner}}}
- id: audit
  apiDestination: {endpoint: "https://b.example.com/y", httpMethod: PUT, connection: {authorizationType: BASIC, secretRef: {name: audit-login}}}
"#;
    let read = [("partner", "partner@1"), ("audit-login", "audit-login@7")];
    let p = plan(
        &spec(yaml),
        &owner(),
        &secrets(&read),
        &Guardrails::default(),
    )
    .unwrap();
    let rule = p.local.rule.clone().unwrap();
    let d = &p.local.api_destinations;
    let names: Vec<&str> = d.iter().map(|d| d.name.as_str()).collect();
    let (partner, audit) = (
        format!("{}-partner", rule.name),
        format!("{}-audit", rule.name),
    );
    assert_eq!(names, [partner.as_str(), audit.as_str()]);
    // Each target names its own destination; each connection holds its own Secret.
    let prefix = format!("arn:aws:events:us-east-1:{A}");
    assert_eq!(d[0].arn, format!("{prefix}:api-destination/{partner}"));
    assert_eq!(d[1].connection.arn, format!("{prefix}:connection/{audit}"));
    let targets: Vec<&str> = p.local.targets.iter().map(|t| t.arn.as_str()).collect();
    assert_eq!(targets, [d[0].arn.as_str(), d[1].arn.as_str()]);
    assert!(d[0].connection.description.ends_with(" secret=partner@1"));
    assert!(d[1]
        .connection
        .description
        .ends_with(" secret=audit-login@7"));
    assert_eq!(
        (d[1].http_method.as_str(), d[1].endpoint.as_str()),
        ("PUT", "https://b.example.com/y")
    );
    // One role, a statement per destination, each on that destination only.
    let role = managed(&p);
    let resources: Vec<&Value> = role.policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["Resource"])
        .collect();
    assert_eq!(
        resources,
        [
            &json!(format!("{}/*", d[0].arn)),
            &json!(format!("{}/*", d[1].arn))
        ]
    );
    // From nothing: both connections and destinations are written before anything uses them.
    let changes = diff(
        &p.local,
        &Observed::default(),
        &owner(),
        Adoption::default(),
    )
    .unwrap();
    let put = |name: &str, connection: bool| match connection {
        true => Change::PutConnection {
            name: name.into(),
            created: true,
        },
        false => Change::PutApiDestination {
            name: name.into(),
            created: true,
        },
    };
    assert_eq!(
        changes[..4],
        [
            put(&partner, true),
            put(&partner, false),
            put(&audit, true),
            put(&audit, false)
        ]
    );
    // In sync, then the second destination edited by hand: only its write.
    let mut observed = in_sync(&p);
    observed.targets = p.local.targets.clone();
    for (i, want) in d.iter().enumerate() {
        let arn = format!("{}/id-{i}", want.arn);
        observed.targets[i].arn = arn.clone();
        observed
            .api_destinations
            .insert(want.name.clone(), found_in_sync(want, arn));
    }
    assert_eq!(
        diff(&p.local, &observed, &owner(), Adoption::default()).unwrap(),
        vec![]
    );
    let edited = observed.api_destinations.get_mut(&audit).unwrap();
    edited.destination.as_mut().unwrap().endpoint = "https://evil.example".into();
    assert_eq!(
        diff(&p.local, &observed, &owner(), Adoption::default()).unwrap(),
        vec![Change::PutApiDestination {
            name: audit.clone(),
            created: false
        }]
    );
    // The record: each destination and its connection under its own name (in removal
    // order: destinations before connections).
    let entries = record::inventory(&p, None);
    let named: Vec<(OwnedKind, &str)> = entries
        .iter()
        .filter(|e| matches!(e.kind, OwnedKind::ApiDestination | OwnedKind::Connection))
        .map(|e| (e.kind, e.name.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            (OwnedKind::ApiDestination, partner.as_str()),
            (OwnedKind::ApiDestination, audit.as_str()),
            (OwnedKind::Connection, partner.as_str()),
            (OwnedKind::Connection, audit.as_str()),
        ]
    );
    // A Secret not read is said of its entry.
    match plan(
        &spec(yaml),
        &owner(),
        &secrets(&read[..1]),
        &Guardrails::default(),
    ) {
        Err(PlanError::InvalidSpec(e)) => {
            assert_eq!(
                e.field,
                "spec.targets[1].apiDestination.connection.secretRef"
            );
            assert!(e.message.contains("audit-login"), "{}", e.message);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_record_lists_an_api_destination_before_its_connection_both_before_the_role() {
    let p = api_destination_plan("BASIC", "partner@1");
    let entries = record::inventory(&p, None);
    assert_eq!(
        kinds(&entries),
        [
            OwnedKind::Rule,
            OwnedKind::ApiDestination,
            OwnedKind::Connection,
            OwnedKind::Role
        ]
    );
    let rule = p.local.rule.as_ref().unwrap();
    assert_eq!(
        entries[1].arn,
        format!("arn:aws:events:us-east-1:{A}:api-destination/{}", rule.name)
    );
    assert_eq!(
        entries[2].arn,
        format!("arn:aws:events:us-east-1:{A}:connection/{}", rule.name)
    );
    assert!(entries[1..3].iter().all(|e| e.name == rule.name));
}

#[test]
fn direct_delivery_to_another_accounts_function_creates_no_role_there() {
    let b = "444455556666";
    let function = format!("arn:aws:lambda:us-east-1:{b}:function:notifier:live");
    for mode in ["DirectDelivery", "RoleChain"] {
        let mut s = lambda_spec(&function);
        s.cross_account = Some(serde_norway::from_str(&format!("{{targetAccountId: \"{b}\", mode: {mode}, provisioningRoleArn: \"arn:aws:iam::{b}:role/p\"}}")).unwrap());
        let p = planned(&s);
        let role = managed(&p);
        // The execution role of this account invokes the function itself: no sts:AssumeRole.
        assert!(
            documents_equivalent(
                &role.policy,
                &json!({"Statement": [{"Sid": "InvokeCrossAccount", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function}]})
            ),
            "{mode}: {}",
            role.policy
        );
        let target = p.local.targets.first().unwrap();
        assert_eq!(
            (target.arn.as_str(), target.role_arn.as_deref()),
            (function.as_str(), Some(role.arn.as_str()))
        );
        let remote = p.remote.as_ref().unwrap();
        assert_eq!(
            remote.role,
            DesiredRole::NotNeeded,
            "{mode}: no role in {b}"
        );
        let permission = remote.permissions.first().unwrap();
        assert_eq!(
            permission.principal, role.arn,
            "the function's policy names the role"
        );
        assert!(p.chain.is_none());
        assert!(
            record::inventory(&p, None)
                .iter()
                .all(|e| e.kind != OwnedKind::Role || e.account_id == A),
            "{mode}: the record holds no role of {b}"
        );
    }
}

#[test]
fn direct_delivery_to_another_accounts_queue_names_the_execution_role_in_its_policy() {
    let b = "444455556666";
    let queue = format!("arn:aws:sqs:us-east-1:{b}:orders");
    let s = spec(&format!(
        r#"
rule: {{eventPattern: {{source: [orders]}}}}
target: {{sqs: {{queueArn: "{queue}"}}}}
crossAccount: {{targetAccountId: "{b}", mode: DirectDelivery, provisioningRoleArn: "arn:aws:iam::{b}:role/p"}}
"#
    ));
    let p = planned(&s);
    let role = managed(&p);
    assert!(
        documents_equivalent(
            &role.policy,
            &json!({"Statement": [{"Sid": "SendMessage", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue}]})
        ),
        "{}",
        role.policy
    );
    let target = p.local.targets.first().unwrap();
    assert_eq!(target.role_arn.as_deref(), Some(role.arn.as_str()));
    let remote = p.remote.as_ref().unwrap();
    assert_eq!(remote.role, DesiredRole::NotNeeded);
    assert!(remote.rule.is_none() && p.local.queue_permissions.is_empty());
    let q = &remote.queue_permissions[0];
    assert_eq!(
        (q.queue_arn.as_str(), q.queue_account.as_str()),
        (queue.as_str(), b)
    );
    assert_eq!(
        q.statement,
        json!({"Sid": q.statement_id, "Effect": "Allow", "Principal": {"AWS": role.arn},
            "Action": "sqs:SendMessage", "Resource": queue})
    );
    // The record proves the statement by the role it names.
    let entry = record::inventory(&p, Some("arn:aws:iam::444455556666:role/p"))
        .into_iter()
        .find(|e| e.kind == OwnedKind::QueuePermission)
        .unwrap();
    assert_eq!(
        (entry.account_id.as_str(), entry.proof.as_deref()),
        (b, Some(role.arn.as_str()))
    );
    // Bus to bus is refused for a queue, naming the mode to use.
    let mut forwarding = s.clone();
    forwarding.cross_account.as_mut().unwrap().mode =
        Some(ebi::api::CrossAccountMode::EventBusForwarding);
    assert!(
        matches!(plan(&forwarding, &owner(), &facts_of(&forwarding), &Guardrails::default()), Err(PlanError::InvalidSpec(e)) if e.field == "spec.target.sqs.queueArn" && e.message.contains("DirectDelivery"))
    );
}

#[test]
fn direct_delivery_to_another_accounts_stream_names_the_execution_role_in_its_resource_policy() {
    let b = "444455556666";
    let stream = format!("arn:aws:kinesis:us-east-1:{b}:stream/clicks");
    // No mode: a stream of another account is put to directly by default.
    let s = spec(&format!(
        r#"
rule: {{eventPattern: {{source: [orders]}}}}
target: {{kinesis: {{streamArn: "{stream}"}}}}
crossAccount: {{targetAccountId: "{b}", provisioningRoleArn: "arn:aws:iam::{b}:role/p"}}
"#
    ));
    let p = planned(&s);
    let role = managed(&p);
    assert!(
        documents_equivalent(
            &role.policy,
            &json!({"Statement": [{"Sid": "PutRecord", "Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": stream}]})
        ),
        "{}",
        role.policy
    );
    assert_eq!(
        p.local.targets.first().unwrap().role_arn.as_deref(),
        Some(role.arn.as_str())
    );
    let remote = p.remote.as_ref().unwrap();
    assert_eq!(remote.role, DesiredRole::NotNeeded);
    let q = &remote.queue_permissions[0];
    assert_eq!(
        (
            q.queue_arn.as_str(),
            q.queue_name.as_str(),
            q.queue_account.as_str(),
            q.holder()
        ),
        (
            stream.as_str(),
            "clicks",
            b,
            ebi::plan::PolicyHolder::Stream
        )
    );
    assert_eq!(
        q.statement,
        json!({"Sid": q.statement_id, "Effect": "Allow", "Principal": {"AWS": role.arn},
            "Action": "kinesis:PutRecord", "Resource": stream})
    );
    // Bus to bus is refused for a stream, naming the mode to use.
    let mut forwarding = s.clone();
    forwarding.cross_account.as_mut().unwrap().mode =
        Some(ebi::api::CrossAccountMode::EventBusForwarding);
    assert!(
        matches!(plan(&forwarding, &owner(), &facts_of(&forwarding), &Guardrails::default()), Err(PlanError::InvalidSpec(e)) if e.field == "spec.target.kinesis.streamArn" && e.message.contains("DirectDelivery"))
    );
}

fn five_targets() -> EventBridgeIntegrationSpec {
    spec(
        r#"
rule: {eventPattern: {source: [orders]}}
targets:
- id: notify
  lambda: {functionArn: "arn:aws:lambda:us-east-1:111122223333:function:notify"}
- id: queue
  sqs: {queueArn: "arn:aws:sqs:us-east-1:111122223333:orders"}
- id: clicks
  kinesis: {streamArn: "arn:aws:kinesis:us-east-1:111122223333:stream/clicks"}
- id: pipeline
  stepFunctions: {stateMachineArn: "arn:aws:states:us-east-1:111122223333:stateMachine:pipeline"}
- id: audit
  logs: {logGroupArn: "arn:aws:logs:us-east-1:111122223333:log-group:/aws/events/orders"}
"#,
    )
}

#[test]
fn five_targets_share_one_rule_and_one_role_holding_what_each_needs() {
    let s = five_targets();
    let p = planned(&s);
    let d = &p.local;
    let ids: Vec<&str> = d.targets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["notify", "queue", "clicks", "pipeline", "audit"]);
    let role = managed(&p);
    // One role: the stream's and the state machine's statements (numbered by entry, so
    // their Sids are unique); none for the function, queue or log group.
    assert!(
        documents_equivalent(
            &role.policy,
            &json!({"Statement": [
                {"Sid": "PutRecord3", "Effect": "Allow", "Action": "kinesis:PutRecord",
                 "Resource": "arn:aws:kinesis:us-east-1:111122223333:stream/clicks"},
                {"Sid": "StartExecution4", "Effect": "Allow", "Action": "states:StartExecution",
                 "Resource": "arn:aws:states:us-east-1:111122223333:stateMachine:pipeline"}]})
        ),
        "{}",
        role.policy
    );
    let with_role: Vec<&str> = d
        .targets
        .iter()
        .filter(|t| t.role_arn.as_deref() == Some(role.arn.as_str()))
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(with_role, ["clicks", "pipeline"]);
    assert_eq!(
        d.permissions.first().map(|p| p.function_arn.as_str()),
        Some("arn:aws:lambda:us-east-1:111122223333:function:notify")
    );
    // The queue's and the log group's statements, each under a Sid of its own entry.
    let sids: Vec<(&str, &str)> = d
        .queue_permissions
        .iter()
        .map(|q| (q.queue_name.as_str(), q.statement_id.as_str()))
        .collect();
    assert_eq!(sids.len(), 2, "{sids:?}");
    assert_ne!(sids[0].1, sids[1].1);
    for q in &d.queue_permissions {
        assert_eq!(q.statement["Sid"], json!(q.statement_id));
    }
    assert_eq!(
        s.kinds_label().as_deref(),
        Some("Lambda,SQS,Kinesis,StepFunctions,Logs")
    );
}

#[test]
fn a_target_list_is_refused_naming_the_entry_and_the_fix() {
    let refused = |yaml: &str| match plan(&spec(yaml), &owner(), &facts(), &Guardrails::default()) {
        Err(PlanError::InvalidSpec(e)) => (e.field, e.message),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let lambda = |id: &str, f: &str| {
        format!("- id: {id}\n  lambda: {{functionArn: \"arn:aws:lambda:us-east-1:111122223333:function:{f}\"}}\n")
    };
    let head = "rule: {eventPattern: {source: [orders]}}\ntargets:\n";
    // Two functions: each gets its own permission.
    let two = planned(&spec(&format!(
        "{head}{}{}",
        lambda("a", "one"),
        lambda("b", "two")
    )));
    let functions: Vec<&str> = two
        .local
        .permissions
        .iter()
        .map(|p| p.function_arn.unqualified().rsplit(':').next().unwrap())
        .collect();
    assert_eq!(functions, ["one", "two"]);
    let (field, message) = refused(&format!(
        "{head}{}{}",
        lambda("a", "one"),
        lambda("a", "two")
            .replace("lambda", "sqs")
            .replace("functionArn", "queueArn")
            .replace(
                "lambda:us-east-1:111122223333:function:two",
                "sqs:us-east-1:111122223333:two"
            )
    ));
    assert_eq!(field, "spec.targets[1].id");
    assert!(message.contains("unique"), "{message}");
    let (field, _) = refused(&format!(
        "{head}{}- id: q\n  sqs: {{queueArn: \"arn:aws:sqs:us-east-1:111122223333:orders.fifo\"}}\n",
        lambda("a", "one")
    ));
    assert_eq!(
        field, "spec.targets[1].sqs.messageGroupId",
        "an entry's own error names the entry"
    );
    let (field, _) = refused(&format!(
        "{head}{}crossAccount: {{targetAccountId: \"444455556666\"}}\n",
        lambda("a", "one")
    ));
    assert_eq!(
        field, "spec.targets[0].lambda.functionArn",
        "a function here, in a list across accounts: the entry is named"
    );
    let (field, _) = refused(&format!(
        "{head}- lambda: {{functionArn: \"arn:aws:lambda:us-east-1:111122223333:function:f\"}}\n"
    ));
    assert_eq!(field, "spec.targets[0].id");
}

/// Two ECS tasks on one cluster: one role runs each task definition and passes each one's own
/// roles (the roles read for the other are not passed for it); the same task twice is
/// refused naming the second entry.
#[test]
fn two_ecs_tasks_of_a_list_each_run_their_own_definition_and_pass_their_own_roles() {
    let cluster = "arn:aws:ecs:us-east-1:111122223333:cluster/main";
    let worker = "arn:aws:ecs:us-east-1:111122223333:task-definition/worker:4";
    let report = "arn:aws:ecs:us-east-1:111122223333:task-definition/report:2";
    let task = |id: &str, td: &str| {
        format!("- id: {id}\n  ecs: {{clusterArn: \"{cluster}\", taskDefinitionArn: \"{td}\", networkConfiguration: {{subnets: [subnet-1]}}}}\n")
    };
    let head = "rule: {eventPattern: {source: [orders]}}\ntargets:\n";
    let mut f = facts();
    f.task_roles.insert(
        report.to_string(),
        vec![format!("arn:aws:iam::{A}:role/report-exec")],
    );
    let p = plan(
        &spec(&format!(
            "{head}{}{}",
            task("worker", worker),
            task("report", report)
        )),
        &owner(),
        &f,
        &Guardrails::default(),
    )
    .unwrap();
    let DesiredRole::Managed(role) = &p.local.role else {
        panic!("a managed role: {:?}", p.local.role)
    };
    let statements = role.policy["Statement"].as_array().unwrap();
    let of = |sid: &str| -> Value {
        statements
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no {sid} in {statements:?}"))
            .clone()
    };
    assert_eq!(
        of("RunTask1")["Resource"],
        json!(format!("{}:*", &worker[..worker.len() - 2]))
    );
    assert_eq!(
        of("RunTask2")["Resource"],
        json!(format!("{}:*", &report[..report.len() - 2]))
    );
    assert_eq!(
        of("PassTaskRoles1")["Resource"],
        json!([
            format!("arn:aws:iam::{A}:role/exec"),
            format!("arn:aws:iam::{A}:role/task")
        ])
    );
    assert_eq!(
        of("PassTaskRoles2")["Resource"],
        json!([format!("arn:aws:iam::{A}:role/report-exec")])
    );
    assert_eq!(statements.len(), 4, "{statements:?}");
    let ids: Vec<&str> = p.local.targets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["worker", "report"]);
    assert!(p
        .local
        .targets
        .iter()
        .all(|t| t.role_arn.as_deref() == Some(role.arn.as_str())));
    match plan(
        &spec(&format!("{head}{}{}", task("a", worker), task("b", worker))),
        &owner(),
        &f,
        &Guardrails::default(),
    ) {
        Err(PlanError::InvalidSpec(e)) => {
            assert_eq!(e.field, "spec.targets[1]");
            assert!(
                e.message.contains("one target per resource"),
                "{}",
                e.message
            );
        }
        other => panic!("the same task twice is refused, got {other:?}"),
    }
}

/// The Sids of a managed role's policy, in order.
fn role_sids(role: &DesiredRole) -> Vec<String> {
    let DesiredRole::Managed(m) = role else {
        panic!("a managed role: {role:?}")
    };
    m.policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_list_delivered_directly_to_another_account_has_one_execution_role_here_and_each_grant_there() {
    let b = "444455556666";
    let s = spec(&format!(
        r#"
rule: {{eventPattern: {{source: [orders]}}}}
crossAccount: {{targetAccountId: "{b}", provisioningRoleArn: "arn:aws:iam::{b}:role/p"}}
targets:
- id: queue
  sqs: {{queueArn: "arn:aws:sqs:us-east-1:{b}:orders"}}
- id: notify
  lambda: {{functionArn: "arn:aws:lambda:us-east-1:{b}:function:notifier"}}
"#
    ));
    let p = plan(&s, &owner(), &facts_of(&s), &Guardrails::default()).unwrap();
    assert_eq!(p.mode, Some(ebi::api::CrossAccountMode::DirectDelivery));
    // The spec says so too (a namespace policy asks a forwarded list only for a bus grant).
    assert_eq!(
        ebi::plan::cross_account_mode(&s),
        Some(ebi::api::CrossAccountMode::DirectDelivery)
    );
    // Here: one rule, both targets through one execution role that may reach each.
    let local = &p.local;
    let role = managed(&p);
    assert_eq!(
        role_sids(&local.role),
        ["SendMessage1", "InvokeCrossAccount2"]
    );
    let ids: Vec<&str> = local.targets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["queue", "notify"]);
    assert!(local
        .targets
        .iter()
        .all(|t| t.role_arn.as_deref() == Some(role.arn.as_str())));
    // There: no role, the function's permission and the queue's statement, each naming the
    // execution role and each under its entry's own statement id.
    let remote = p.remote.as_ref().unwrap();
    assert_eq!(remote.account_id, b);
    assert!(matches!(remote.role, DesiredRole::NotNeeded) && remote.rule.is_none());
    assert_eq!(remote.permissions.len(), 1);
    assert_eq!(remote.permissions[0].principal, role.arn);
    assert_eq!(remote.queue_permissions.len(), 1);
    let queue_statement = remote.queue_permissions[0].statement.to_string();
    assert!(queue_statement.contains(&*role.arn), "{queue_statement}");
    assert_ne!(
        remote.permissions[0].statement_id,
        remote.queue_permissions[0].statement_id
    );
}

#[test]
fn a_list_forwarded_to_another_accounts_bus_keeps_one_forwarding_target_here_and_merges_there() {
    let b = "444455556666";
    let worker = format!("arn:aws:ecs:us-east-1:{b}:task-definition/worker:4");
    let report = format!("arn:aws:ecs:us-east-1:{b}:task-definition/report:2");
    let s = spec(&format!(
        r#"
rule: {{eventPattern: {{source: [orders]}}}}
crossAccount: {{targetAccountId: "{b}", provisioningRoleArn: "arn:aws:iam::{b}:role/p"}}
targets:
- id: worker
  ecs: {{clusterArn: "arn:aws:ecs:us-east-1:{b}:cluster/main", taskDefinitionArn: "{worker}", networkConfiguration: {{subnets: [subnet-1]}}}}
- id: report
  ecs: {{clusterArn: "arn:aws:ecs:us-east-1:{b}:cluster/main", taskDefinitionArn: "{report}", networkConfiguration: {{subnets: [subnet-1]}}}}
"#
    ));
    let mut f = facts_of(&s);
    f.task_roles = [
        (worker.clone(), vec![format!("arn:aws:iam::{b}:role/exec")]),
        (
            report.clone(),
            vec![format!("arn:aws:iam::{b}:role/report-exec")],
        ),
    ]
    .into();
    let p = plan(&s, &owner(), &f, &Guardrails::default()).unwrap();
    assert_eq!(p.mode, Some(ebi::api::CrossAccountMode::EventBusForwarding));
    assert_eq!(ebi::plan::cross_account_mode(&s), p.mode);
    // Here: the forwarding rule with one target, the bus, and a role that only forwards.
    let bus = format!("arn:aws:events:us-east-1:{b}:event-bus/default");
    let local_targets: Vec<(&str, &str)> = p
        .local
        .targets
        .iter()
        .map(|t| (t.id.as_str(), t.arn.as_str()))
        .collect();
    assert_eq!(local_targets, [("to-target-account", bus.as_str())]);
    assert_eq!(role_sids(&p.local.role), ["ForwardToTargetBus"]);
    // There: one rule with both tasks, one role running each and passing each one's roles,
    // and one bus statement admitting the forwarding role.
    let remote = p.remote.as_ref().unwrap();
    let ids: Vec<&str> = remote.targets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["worker", "report"]);
    assert_eq!(
        role_sids(&remote.role),
        ["RunTask1", "PassTaskRoles1", "RunTask2", "PassTaskRoles2"]
    );
    let DesiredRole::Managed(there) = &remote.role else {
        unreachable!()
    };
    let passed = there.policy["Statement"][3]["Resource"].to_string();
    assert!(
        passed.contains("report-exec") && !passed.contains("role/exec\""),
        "{passed}"
    );
    assert!(remote.bus_permission.is_some());
}

#[test]
fn a_list_across_accounts_is_refused_when_its_kinds_take_different_modes_or_one_is_here() {
    let b = "444455556666";
    let refused = |targets: String| {
        let s = spec(&format!(
            "rule: {{eventPattern: {{source: [orders]}}}}\ncrossAccount: {{targetAccountId: \"{b}\", provisioningRoleArn: \"arn:aws:iam::{b}:role/p\"}}\ntargets:\n{targets}"
        ));
        match plan(&s, &owner(), &facts_of(&s), &Guardrails::default()) {
            Err(PlanError::InvalidSpec(e)) => (e.field, e.message),
            other => panic!("expected a refusal, got {other:?}"),
        }
    };
    let queue = |account: &str| {
        format!("- id: queue\n  sqs: {{queueArn: \"arn:aws:sqs:us-east-1:{account}:orders\"}}\n")
    };
    let task = format!("- id: worker\n  ecs: {{clusterArn: \"arn:aws:ecs:us-east-1:{b}:cluster/main\", taskDefinitionArn: \"arn:aws:ecs:us-east-1:{b}:task-definition/w:1\", passRoleArns: [], networkConfiguration: {{subnets: [subnet-1]}}}}\n");
    let (field, message) = refused(format!("{}{task}", queue(b)));
    assert_eq!(field, "spec.crossAccount.mode");
    assert!(
        message.contains("spec.targets[0]") && message.contains("split the list"),
        "{message}"
    );
    // An entry in the rule's own account, with a list across accounts: named.
    let (field, message) = refused(format!(
        "{}{}",
        queue(b),
        queue(A).replace("id: queue", "id: here")
    ));
    assert_eq!(field, "spec.targets[1].sqs.queueArn");
    assert!(message.contains(b), "{message}");
}

fn scheduled(extra: &str, target: &str) -> EventBridgeIntegrationSpec {
    spec(&format!(
        "schedule: {{expression: \"cron(0 9 ? * MON-FRI *)\", timezone: Europe/Paris{extra}}}\ntarget: {target}\n"
    ))
}

const SCHEDULED_QUEUE: &str = "{sqs: {queueArn: \"arn:aws:sqs:us-east-1:111122223333:reports\"}, deadLetterQueueArn: \"arn:aws:sqs:us-east-1:111122223333:reports-dlq\", retryPolicy: {maximumRetryAttempts: 3}}";

#[test]
fn a_schedule_is_one_schedule_and_a_role_only_scheduler_may_assume_for_its_group() {
    let p = planned(&scheduled(
        ", group: reports, flexibleTimeWindow: {mode: FLEXIBLE, maximumWindowInMinutes: 15}",
        SCHEDULED_QUEUE,
    ));
    let d = &p.local;
    assert!(d.rule.is_none() && d.targets.is_empty() && d.queue_permissions.is_empty());
    let s = d.schedule.as_ref().unwrap();
    let group_arn = format!("arn:aws:scheduler:us-east-1:{A}:schedule-group/reports");
    assert_eq!(s.group_arn, group_arn);
    assert_eq!(
        s.arn,
        format!(
            "arn:aws:scheduler:us-east-1:{A}:schedule/reports/{}",
            s.name
        )
    );
    assert_eq!(
        (s.timezone.as_deref(), s.flexible_window),
        (Some("Europe/Paris"), Some(15))
    );
    // The role: Scheduler, for this account's group; the queue and the dead-letter queue.
    let role = managed(&p);
    assert!(documents_equivalent(
        &role.trust_policy,
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": A}, "ArnEquals": {"aws:SourceArn": group_arn}}}]})
    ));
    let grants: Vec<(&str, &str)> = role.policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["Action"].as_str().unwrap(),
                s["Resource"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        grants,
        [
            (
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:111122223333:reports"
            ),
            (
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:111122223333:reports-dlq"
            )
        ]
    );
    assert_eq!(s.target.role_arn.as_deref(), Some(role.arn.as_str()));
    assert_eq!(s.target.retry, Some((Some(3), None)));
    // A function is invoked through the role too (Scheduler has no resource policy path).
    let f = planned(&scheduled(
        "",
        "{lambda: {functionArn: \"arn:aws:lambda:us-east-1:111122223333:function:f\"}}",
    ));
    assert!(f.local.permissions.is_empty());
    assert_eq!(
        managed(&f).policy["Statement"][0]["Action"],
        "lambda:InvokeFunction"
    );
}

#[test]
fn a_schedule_in_sync_needs_nothing_and_each_drift_is_one_write() {
    let p = planned(&scheduled("", SCHEDULED_QUEUE));
    let want = p.local.schedule.clone().unwrap();
    let found = ebi::plan::diff::ObservedSchedule {
        arn: want.arn.clone(),
        expression: want.expression.clone(),
        timezone: "Europe/Paris".into(),
        flexible_window: None,
        start_date: None,
        end_date: None,
        enabled: true,
        description: want.description.clone(),
        target_arn: want.target.arn.clone(),
        role_arn: want.target.role_arn.clone().unwrap(),
        input: None,
        // The attempts the spec gives, the age Scheduler fills in.
        retry: (3, 86_400),
        dead_letter_arn: want.target.dead_letter_arn.clone(),
        parameters: TargetParameters::None,
    };
    let mut observed = Observed {
        role: Some(observed_role(&p)),
        ..Default::default()
    };
    observed.schedule = Some(found.clone());
    let recorded = Adoption {
        schedule_recorded: true,
        ..Adoption::default()
    };
    assert_eq!(
        diff(&p.local, &observed, &owner(), recorded.clone()).unwrap(),
        vec![]
    );
    let put_back = vec![Change::PutSchedule { created: false }];
    type Edit = fn(&mut ebi::plan::diff::ObservedSchedule);
    let edits: [(&str, Edit); 5] = [
        ("expression", |s| s.expression = "rate(1 minute)".into()),
        ("time zone", |s| s.timezone = "UTC".into()),
        ("disabled", |s| s.enabled = false),
        ("target", |s| {
            s.target_arn = "arn:aws:sqs:us-east-1:111122223333:other".into()
        }),
        ("dead-letter queue", |s| s.dead_letter_arn = None),
    ];
    for (what, edit) in edits {
        let mut o = observed.clone();
        edit(o.schedule.as_mut().unwrap());
        assert_eq!(
            diff(&p.local, &o, &owner(), recorded.clone()).unwrap(),
            put_back,
            "{what}"
        );
    }
    // Gone: created again; what the pass then knows without reading it back is in sync
    // (the diagnosis reads it: a schedule just created is not "not found").
    let mut gone = observed.clone();
    gone.schedule = None;
    let changes = diff(&p.local, &gone, &owner(), Adoption::default()).unwrap();
    assert_eq!(changes, vec![Change::PutSchedule { created: true }]);
    let after = ebi::plan::diff::after_writes(&p.local, &gone, &changes, &owner()).unwrap();
    assert_eq!(after.schedule.as_ref(), Some(&found));
    assert_eq!(
        diff(&p.local, &after, &owner(), recorded.clone()).unwrap(),
        vec![]
    );
    // Its description erased by an update: ours while the record holds it, not otherwise.
    let mut erased = observed.clone();
    erased.schedule.as_mut().unwrap().description = String::new();
    assert_eq!(
        diff(&p.local, &erased, &owner(), recorded).unwrap(),
        put_back
    );
    let e = diff(&p.local, &erased, &owner(), Adoption::default()).unwrap_err();
    assert!(
        e.kind == "EventBridge Scheduler schedule" && !e.foreign,
        "{e}"
    );
    // Another object's: never taken.
    let other = Owner {
        uid: "another-uid".into(),
        name: "payments".into(),
        ..owner()
    };
    let mut foreign = observed;
    foreign.schedule.as_mut().unwrap().description =
        ebi::plan::described::description(&other, None);
    let e = diff(&p.local, &foreign, &owner(), Adoption::both(true)).unwrap_err();
    assert!(e.foreign, "{e}");
}

#[test]
fn a_region_no_endpoint_can_be_built_from_is_refused_naming_the_field() {
    for region in ["us_east_1", "useast1", "us-east", "US-EAST-1"] {
        let mut s = ecs_spec();
        s.region = Some(region.into());
        match validate(&s) {
            Err(e) => {
                assert_eq!(e.field, "spec.region", "{region}");
                assert!(
                    e.message.contains(region) && e.message.contains("eu-west-1"),
                    "{region}: {}",
                    e.message
                );
            }
            Ok(_) => panic!("{region} accepted"),
        }
    }
    let mut s = ecs_spec();
    s.region = Some("us-east-1".into());
    assert!(validate(&s).is_ok());
}

#[test]
fn a_target_arn_of_no_partition_is_refused_naming_the_field() {
    let good = lambda_spec(&format!("arn:aws-cn:lambda:cn-north-1:{A}:function:f"));
    assert!(validate(&good).is_ok());
    for partition in ["awz", "aws-", "AWS"] {
        let s = lambda_spec(&format!("arn:{partition}:lambda:us-east-1:{A}:function:f"));
        match validate(&s) {
            Err(e) => {
                assert_eq!(e.field, "spec.target.lambda.functionArn", "{partition}");
                assert!(
                    e.message
                        .contains(&format!("`{partition}` is not an AWS partition")),
                    "{partition}: {}",
                    e.message
                );
            }
            Ok(_) => panic!("{partition} accepted"),
        }
    }
}

#[test]
fn a_target_account_that_is_not_twelve_digits_is_refused_before_admission() {
    // Validation runs before admission reads the namespace's policy: the field is named,
    // not a policy denial.
    let mut s = spec(
        r#"
rule: {eventPattern: {source: [orders]}}
crossAccount: {targetAccountId: "222233334444", provisioningRoleArn: "arn:aws:iam::222233334444:role/p"}
target:
  sqs: {queueArn: "arn:aws:sqs:us-east-1:222233334444:orders"}
"#,
    );
    assert!(validate(&s).is_ok());
    s.cross_account.as_mut().unwrap().target_account_id = "22223333444".into();
    match validate(&s) {
        Err(e) => {
            assert_eq!(e.field, "spec.crossAccount.targetAccountId");
            assert!(
                e.message.contains("`22223333444` is not an AWS account ID"),
                "{}",
                e.message
            );
        }
        Ok(_) => panic!("an 11-digit account accepted"),
    }
}

#[test]
fn a_schedule_is_refused_naming_the_field_and_the_fix() {
    let refused = |s: EventBridgeIntegrationSpec| match plan(
        &s,
        &owner(),
        &facts(),
        &Guardrails::default(),
    ) {
        Err(PlanError::InvalidSpec(e)) => (e.field, e.message),
        other => panic!("expected a refusal, got {other:?}"),
    };
    for (extra, target, field, words) in [
        (
            ", startDate: \"2027-02-01T00:00:00Z\", endDate: \"2027-01-01T00:00:00Z\"",
            SCHEDULED_QUEUE,
            "spec.schedule.endDate",
            "not after",
        ),
        (
            ", flexibleTimeWindow: {mode: FLEXIBLE}",
            SCHEDULED_QUEUE,
            "spec.schedule.flexibleTimeWindow.maximumWindowInMinutes",
            "1 to 1440",
        ),
        (
            "",
            "{kinesis: {streamArn: \"arn:aws:kinesis:us-east-1:111122223333:stream/s\"}}",
            "spec.target.kinesis.partitionKey",
            "required with a schedule",
        ),
        (
            "",
            "{kinesis: {streamArn: \"arn:aws:kinesis:us-east-1:111122223333:stream/s\", partitionKeyPath: \"$.id\"}}",
            "spec.target.kinesis.partitionKeyPath",
            "name the key itself",
        ),
        (
            "",
            "{logs: {logGroupArn: \"arn:aws:logs:us-east-1:111122223333:log-group:/aws/events/x\"}}",
            "spec.target",
            "not this Logs target",
        ),
        (
            "",
            "{apiGateway: {restApiArn: \"arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5\", stage: prod, method: POST, path: /orders}}",
            "spec.target",
            "no target that calls an API Gateway stage",
        ),
        (
            "",
            "{sqs: {queueArn: \"arn:aws:sqs:us-east-1:111122223333:q\"}, inputPath: \"$.detail\"}",
            "spec.target",
            "use input",
        ),
    ] {
        let (f, m) = refused(scheduled(extra, target));
        assert_eq!(f, field, "{m}");
        assert!(m.contains(words), "{field}: {m}");
    }
    let (f, _) = refused(spec(&format!(
        "schedule: {{expression: \"rate(5 minutes)\", timezone: Europe/Paris}}\ntarget: {SCHEDULED_QUEUE}\n"
    )));
    assert_eq!(f, "spec.schedule.timezone");
    let (f, _) = refused(spec(&format!(
        "rule: {{scheduleExpression: \"rate(5 minutes)\"}}\nschedule: {{expression: \"rate(5 minutes)\"}}\ntarget: {SCHEDULED_QUEUE}\n"
    )));
    assert_eq!(f, "spec.schedule");
    // Another account's target, role or dead-letter queue, or another region's queue: refused,
    // naming the field (Scheduler passes only a role of its own account).
    let other = "444455556666";
    for (target, extra, field, words) in [
        (
            format!("{{lambda: {{functionArn: \"arn:aws:lambda:us-east-1:{other}:function:f\"}}}}"),
            String::new(),
            "spec.target.lambda.functionArn",
            "account 444455556666",
        ),
        (
            SCHEDULED_QUEUE.to_string(),
            format!("role: {{arn: \"arn:aws:iam::{other}:role/r\"}}\n"),
            "spec.role.arn",
            "only a role of the schedule's account",
        ),
        (
            format!("{{sqs: {{queueArn: \"arn:aws:sqs:us-east-1:{A}:q\"}}, deadLetterQueueArn: \"arn:aws:sqs:us-east-1:{other}:dlq\"}}"),
            String::new(),
            "spec.target.deadLetterQueueArn",
            "account 444455556666",
        ),
        (
            format!("{{sqs: {{queueArn: \"arn:aws:sqs:us-east-1:{A}:q\"}}, deadLetterQueueArn: \"arn:aws:sqs:eu-west-1:{A}:dlq\"}}"),
            String::new(),
            "spec.target.deadLetterQueueArn",
            "eu-west-1",
        ),
    ] {
        let (f, m) = refused(spec(&format!(
            "schedule: {{expression: \"rate(5 minutes)\"}}\n{extra}target: {target}\n"
        )));
        assert_eq!(f, field, "{m}");
        assert!(m.contains(words), "{field}: {m}");
    }
    // A queue's key: of the schedule's account and region, and only when it sends to a queue
    // or topic.
    for (key, target, words) in [
        (
            format!("arn:aws:kms:us-east-1:{other}:key/k"),
            SCHEDULED_QUEUE.to_string(),
            "account 444455556666",
        ),
        (
            format!("arn:aws:kms:eu-west-1:{A}:key/k"),
            SCHEDULED_QUEUE.to_string(),
            "eu-west-1",
        ),
        (
            format!("arn:aws:kms:us-east-1:{A}:key/k"),
            "{lambda: {functionArn: \"arn:aws:lambda:us-east-1:111122223333:function:f\"}}"
                .to_string(),
            "sends to no queue or topic",
        ),
        (
            format!("arn:aws:kms:us-east-1:{A}:alias/reports"),
            SCHEDULED_QUEUE.to_string(),
            "not an alias",
        ),
        (
            format!("arn:aws:kms:us-east-1:{A}:key/*"),
            SCHEDULED_QUEUE.to_string(),
            "not a key's ARN",
        ),
    ] {
        let (f, m) = refused(scheduled(&format!(", kmsKeyArns: [\"{key}\"]"), &target));
        assert!(f.starts_with("spec.schedule.kmsKeyArns"), "{f}: {m}");
        assert!(m.contains(words), "{key}: {m}");
    }
    // Keys granted to a role of the user's, which the controller never modifies: refused.
    let (f, m) = refused(spec(&format!(
        "schedule: {{expression: \"rate(5 minutes)\", kmsKeyArns: [\"arn:aws:kms:us-east-1:{A}:key/k\"]}}\nrole: {{arn: \"arn:aws:iam::{A}:role/mine\"}}\ntarget: {SCHEDULED_QUEUE}\n"
    )));
    assert_eq!(f, "spec.schedule.kmsKeyArns");
    assert!(m.contains("never modified"), "{m}");
    // A fixed partition key is a schedule's: a rule is told to use a path into the event.
    let (f, m) = refused(spec(
        "rule: {scheduleExpression: \"rate(5 minutes)\"}\ntarget: {kinesis: {streamArn: \"arn:aws:kinesis:us-east-1:111122223333:stream/s\", partitionKey: k}}\n",
    ));
    assert_eq!(f, "spec.target.kinesis.partitionKey");
    assert!(m.contains("partitionKeyPath"), "{m}");
}

#[test]
fn a_schedules_own_role_is_named_in_its_target_and_never_created() {
    let byo = format!("arn:aws:iam::{A}:role/nightly");
    let p = planned(&spec(&format!(
        "schedule: {{expression: \"rate(1 hour)\"}}\nrole: {{arn: \"{byo}\"}}\ntarget: {{lambda: {{functionArn: \"arn:aws:lambda:us-east-1:{A}:function:f\"}}}}\n"
    )));
    assert_eq!(
        p.local.role,
        DesiredRole::BringYourOwn {
            arn: RoleArn::parse(&byo).unwrap()
        }
    );
    let s = p.local.schedule.as_ref().unwrap();
    assert_eq!(s.target.role_arn.as_deref(), Some(byo.as_str()));
    assert!(p.local.permissions.is_empty(), "no function policy either");
    // Nothing to write to the role: only the schedule.
    let changes = diff(
        &p.local,
        &Observed::default(),
        &owner(),
        Adoption::default(),
    )
    .unwrap();
    assert_eq!(changes, vec![Change::PutSchedule { created: true }]);
}

#[test]
fn a_scheduled_task_and_stream_carry_their_parameters_and_drift_in_them_is_one_write() {
    let stream = "arn:aws:kinesis:us-east-1:111122223333:stream/ticks";
    let p = planned(&scheduled(
        "",
        &format!("{{kinesis: {{streamArn: \"{stream}\", partitionKey: ticks}}}}"),
    ));
    let want = p.local.schedule.clone().unwrap();
    assert_eq!(
        want.target.parameters,
        TargetParameters::PartitionKey("ticks".into())
    );
    assert_eq!(
        managed(&p).policy["Statement"][0]["Action"],
        "kinesis:PutRecord"
    );
    let ecs = planned(&scheduled(
        "",
        "{ecs: {clusterArn: \"arn:aws:ecs:us-east-1:111122223333:cluster/main\", taskDefinitionArn: \"arn:aws:ecs:us-east-1:111122223333:task-definition/orders-worker:3\", taskCount: 2, networkConfiguration: {subnets: [subnet-1]}, passRoleArns: [\"arn:aws:iam::111122223333:role/orders-exec\"]}}",
    ));
    let ecs_shape = match &ecs.local.schedule.as_ref().unwrap().target.parameters {
        TargetParameters::Ecs(e) => e.clone(),
        other => panic!("expected ECS parameters, got {other:?}"),
    };
    assert_eq!(
        (ecs_shape.task_count, ecs_shape.subnets.as_slice()),
        (2, ["subnet-1".to_string()].as_slice())
    );
    let ecs_role = managed(&ecs);
    let ecs_actions: Vec<&str> = ecs_role.policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Action"].as_str().unwrap())
        .collect();
    assert_eq!(ecs_actions, ["ecs:RunTask", "iam:PassRole"]);
    // In sync with the key Scheduler holds; another key is put back.
    let found = ebi::plan::diff::ObservedSchedule {
        arn: want.arn.clone(),
        expression: want.expression.clone(),
        timezone: "Europe/Paris".into(),
        description: want.description.clone(),
        target_arn: want.target.arn.clone(),
        role_arn: want.target.role_arn.clone().unwrap(),
        enabled: true,
        retry: ebi::plan::diff::SCHEDULER_DEFAULT_RETRY,
        parameters: TargetParameters::PartitionKey("ticks".into()),
        ..Default::default()
    };
    let observed = Observed {
        role: Some(observed_role(&p)),
        schedule: Some(found),
        ..Default::default()
    };
    let recorded = Adoption {
        schedule_recorded: true,
        ..Adoption::default()
    };
    assert_eq!(
        diff(&p.local, &observed, &owner(), recorded.clone()).unwrap(),
        vec![]
    );
    let mut other_key = observed;
    other_key.schedule.as_mut().unwrap().parameters =
        TargetParameters::PartitionKey("other".into());
    assert_eq!(
        diff(&p.local, &other_key, &owner(), recorded).unwrap(),
        vec![Change::PutSchedule { created: false }]
    );
}

#[test]
fn a_schedule_publishes_to_a_fifo_topic_through_schedulers_universal_target() {
    let topic = "arn:aws:sns:us-east-1:111122223333:orders.fifo";
    let p = planned(&scheduled(
        "",
        &format!(
            "{{sns: {{topicArn: \"{topic}\", messageGroupId: nightly}}, input: {{report: daily}}}}"
        ),
    ));
    assert!(
        p.local.queue_permissions.is_empty(),
        "no topic policy: Scheduler calls with the role"
    );
    let target = &p.local.schedule.as_ref().unwrap().target;
    assert_eq!(target.arn, "arn:aws:scheduler:::aws-sdk:sns:publish");
    assert_eq!(target.parameters, TargetParameters::None);
    // Publish's own request: the group, one deduplication ID per invocation, and the spec's
    // input as the message's text.
    let request = target.input.as_ref().unwrap();
    assert_eq!(request["TopicArn"], topic);
    assert_eq!(request["MessageGroupId"], "nightly");
    let schedule = p.local.schedule.as_ref().unwrap();
    let dedup = request["MessageDeduplicationId"].as_str().unwrap();
    assert!(
        dedup.starts_with(&format!("{}-", schedule.name))
            && dedup.ends_with("@<aws.scheduler.scheduled-time>")
            && dedup.len() <= 128 - 20 + "<aws.scheduler.scheduled-time>".len(),
        "one ID for every retry of a run, another for each run: {dedup}"
    );
    // Another group's schedule of the same name publishes under another ID.
    let other_group = planned(&scheduled(
        ", group: reports",
        &format!(
            "{{sns: {{topicArn: \"{topic}\", messageGroupId: nightly}}, input: {{report: daily}}}}"
        ),
    ));
    let other = other_group.local.schedule.unwrap();
    assert_eq!(other.name, schedule.name);
    assert_ne!(other.target.input.unwrap()["MessageDeduplicationId"], dedup);
    let message: serde_json::Value =
        serde_json::from_str(request["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message, json!({"report": "daily"}));
    let role = managed(&p);
    assert_eq!(
        role.policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (
                s["Action"].as_str().unwrap(),
                s["Resource"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("sns:Publish", topic)]
    );
    // Without input, the message names the schedule and the time it fired for.
    let bare = planned(&scheduled(
        "",
        &format!("{{sns: {{topicArn: \"{topic}\", messageGroupId: nightly}}}}"),
    ));
    let request = bare.local.schedule.unwrap().target.input.unwrap();
    assert!(
        request["Message"]
            .as_str()
            .unwrap()
            .contains("<aws.scheduler.scheduled-time>"),
        "{request}"
    );
    // A standard topic keeps Scheduler's templated target, with the input as it is.
    let standard = planned(&scheduled(
        "",
        "{sns: {topicArn: \"arn:aws:sns:us-east-1:111122223333:orders\"}, input: {report: daily}}",
    ));
    let target = standard.local.schedule.unwrap().target;
    assert_eq!(target.arn, "arn:aws:sns:us-east-1:111122223333:orders");
    assert_eq!(target.input, Some(json!({"report": "daily"})));
}

#[test]
fn a_schedules_role_may_use_the_keys_it_names_through_the_services_that_encrypt() {
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd";
    let p = planned(&scheduled(
        &format!(", kmsKeyArns: [\"{key}\"]"),
        SCHEDULED_QUEUE,
    ));
    let role = managed(&p);
    let keys = role.policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "QueueAndTopicKeys")
        .unwrap()
        .clone();
    assert_eq!(
        keys,
        json!({"Sid": "QueueAndTopicKeys", "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": [key],
            "Condition": {"StringEquals": {"kms:ViaService": ["sqs.us-east-1.amazonaws.com"]}}})
    );
    // A topic's key, used through SNS only.
    let topic = planned(&scheduled(
        &format!(", kmsKeyArns: [\"{key}\"]"),
        "{sns: {topicArn: \"arn:aws:sns:us-east-1:111122223333:alerts\"}}",
    ));
    let statements = managed(&topic).policy["Statement"].clone();
    assert_eq!(
        statements[1]["Condition"]["StringEquals"]["kms:ViaService"],
        json!(["sns.us-east-1.amazonaws.com"])
    );
    // Without the field, no key statement at all.
    let bare = planned(&scheduled("", SCHEDULED_QUEUE));
    assert!(!managed(&bare).policy.to_string().contains("kms:"));
}

#[test]
fn a_role_of_the_users_is_parsed_once_and_must_name_its_account() {
    let with_role = |arn: &str| {
        let mut s = ecs_spec();
        s.role = Some(serde_json::from_value(serde_json::json!({"arn": arn})).unwrap());
        s
    };
    // Without its account, the role could never be judged or compared: refused, naming the
    // field and the form it must take.
    for arn in [
        "arn:aws:iam:::role/orders",
        "arn:aws:iam::111122223333:user/orders",
        "arn:aws:iam::111122223333:role/",
    ] {
        match plan(&with_role(arn), &owner(), &facts(), &Guardrails::default()) {
            Err(PlanError::InvalidSpec(e)) => {
                assert_eq!(e.field, "spec.role.arn");
                assert!(e.message.contains("12-digit account"), "{}", e.message);
            }
            other => panic!("{arn}: expected a refusal, got {other:?}"),
        }
    }
    // Its account is the one the operator's allowed accounts are checked against.
    let guard = Guardrails {
        allowed_account_ids: vec![A.parse().unwrap()],
        ..Guardrails::default()
    };
    let other = with_role("arn:aws:iam::444455556666:role/path/orders");
    match plan(&other, &owner(), &facts(), &guard) {
        Err(PlanError::Guardrail(m)) => assert!(
            m.contains("the account of spec.role.arn 444455556666"),
            "{m}"
        ),
        other => panic!("expected the guardrail, got {other:?}"),
    }
    let ours = planned(&with_role(&format!("arn:aws:iam::{A}:role/path/orders")));
    assert_eq!(
        ours.local.role,
        DesiredRole::BringYourOwn {
            arn: RoleArn::parse(&format!("arn:aws:iam::{A}:role/path/orders")).unwrap()
        }
    );
}
