use super::*;

const ACCOUNT: &str = "123456789012";
const OTHER: &str = "222222222222";

fn spec(yaml: &str) -> EventBridgeIntegrationSpec {
    serde_norway::from_str(yaml).unwrap()
}

fn policy(yaml: &str) -> EventBridgeIntegrationPolicySpec {
    serde_norway::from_str(yaml).unwrap()
}

/// Team A's policy: everything of team A in one account and region.
fn team_a() -> EventBridgeIntegrationPolicySpec {
    policy(
        r#"
namespaceSelector: {matchLabels: {team: a}}
accounts:
- accountId: "123456789012"
  regions: [us-east-1]
- accountId: "222222222222"
  provisioningRoleArn: arn:aws:iam::222222222222:role/ebi-provisioner
  externalIdSecretRef: {name: team-a-ext, key: externalId}
eventBuses: ["default", "orders-*"]
ruleNames: ["team-a-*"]
targets:
- arn:aws:lambda:*:123456789012:function:team-a-*
- arn:aws:lambda:*:222222222222:function:team-a-*
- arn:aws:ecs:*:123456789012:cluster/team-a
- arn:aws:ecs:*:123456789012:task-definition/team-a-*
- arn:aws:states:*:123456789012:stateMachine:team-a-*
- arn:aws:sqs:*:123456789012:team-a-*
passRoles: ["arn:aws:iam::123456789012:role/team-a-*"]
roles: ["arn:aws:iam::123456789012:role/team-a-*"]
deadLetterQueues: ["arn:aws:sqs:*:123456789012:team-a-*"]
"#,
    )
}

fn decide_for(
    spec: &EventBridgeIntegrationSpec,
    policies: &[(&str, &EventBridgeIntegrationPolicySpec)],
) -> Decision {
    decide_with(spec, policies, None)
}

fn decide_with(
    spec: &EventBridgeIntegrationSpec,
    policies: &[(&str, &EventBridgeIntegrationPolicySpec)],
    task_roles: Option<&[String]>,
) -> Decision {
    // The roles read, for every task definition the spec names.
    let read: BTreeMap<String, Vec<String>> = task_roles
        .map(|roles| {
            spec.target_entries()
                .into_iter()
                .filter_map(|(_, t)| t.ecs.as_ref())
                .map(|e| (e.task_definition_arn.clone(), roles.to_vec()))
                .collect()
        })
        .unwrap_or_default();
    let subject = Subject {
        namespace: "team-a",
        spec,
        controller_account: ACCOUNT,
        region: "us-east-1",
        role_path: "/",
        task_roles: &read,
    };
    let candidates: Vec<Candidate<'_>> = policies
        .iter()
        .map(|(name, spec)| Candidate { name, spec })
        .collect();
    decide(&subject, &candidates)
}

fn refused(d: Decision) -> Refusal {
    match d {
        Decision::NotPermitted(r) => r,
        Decision::Permitted(g) => panic!("permitted by {}", g.policy),
    }
}

fn permitted(d: Decision) -> Grant {
    match d {
        Decision::Permitted(g) => g,
        Decision::NotPermitted(r) => panic!("refused: {r}"),
    }
}

fn lambda(function: &str) -> EventBridgeIntegrationSpec {
    spec(&format!(
        r#"
rule: {{eventPattern: {{source: [orders]}}}}
target: {{lambda: {{functionArn: "{function}"}}}}
"#
    ))
}

fn ecs(extra: &str) -> EventBridgeIntegrationSpec {
    spec(&format!(
        r#"
rule: {{eventPattern: {{source: [orders]}}}}
target:
  ecs:
    clusterArn: arn:aws:ecs:us-east-1:123456789012:cluster/team-a
    taskDefinitionArn: arn:aws:ecs:us-east-1:123456789012:task-definition/team-a-worker:1
    networkConfiguration: {{subnets: [subnet-0a1b2c3d]}}
{extra}
"#
    ))
}

#[test]
fn a_namespace_no_policy_selects_may_ask_for_nothing() {
    let r = refused(decide_for(
        &lambda("arn:aws:lambda:us-east-1:123456789012:function:team-a-x"),
        &[],
    ));
    assert!(r.by_policy.is_empty());
    let message = r.to_string();
    assert!(
        message.contains("no EventBridgeIntegrationPolicy selects namespace `team-a`"),
        "{message}"
    );
}

#[test]
fn every_granted_reference_is_permitted() {
    let p = team_a();
    let g = permitted(decide_for(
        &lambda("arn:aws:lambda:us-east-1:123456789012:function:team-a-notifier:live"),
        &[("team-a", &p)],
    ));
    assert_eq!(g.policy, "team-a");
    assert_eq!(g.provisioning, None);
    let everything = spec(
        r#"
rule: {name: team-a-orders, eventBusName: orders-bus, eventPattern: {source: [x]}}
target:
  ecs:
    clusterArn: arn:aws:ecs:us-east-1:123456789012:cluster/team-a
    taskDefinitionArn: arn:aws:ecs:us-east-1:123456789012:task-definition/team-a-worker:1
    networkConfiguration: {subnets: [subnet-0a1b2c3d]}
    passRoleArns: [arn:aws:iam::123456789012:role/team-a-task]
  deadLetterQueueArn: arn:aws:sqs:us-east-1:123456789012:team-a-dlq
role: {name: team-a-runner}
"#,
    );
    permitted(decide_for(&everything, &[("team-a", &p)]));
}

#[test]
fn each_kind_of_reference_is_refused_naming_the_field_and_the_value() {
    let p = team_a();
    let cases: Vec<(EventBridgeIntegrationSpec, &str, &str)> = vec![
        (
            lambda("arn:aws:lambda:us-east-1:123456789012:function:team-b-x"),
            "spec.target.lambda.functionArn",
            "arn:aws:lambda:us-east-1:123456789012:function:team-b-x",
        ),
        (
            spec(
                r#"
rule: {eventPattern: {source: [x]}}
target: {ecs: {clusterArn: "arn:aws:ecs:us-east-1:123456789012:cluster/shared", taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/team-a-w:1", networkConfiguration: {subnets: [subnet-1]}}}
"#,
            ),
            "spec.target.ecs.clusterArn",
            "arn:aws:ecs:us-east-1:123456789012:cluster/shared",
        ),
        (
            spec(
                r#"
rule: {eventPattern: {source: [x]}}
target: {ecs: {clusterArn: "arn:aws:ecs:us-east-1:123456789012:cluster/team-a", taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/admin:1", networkConfiguration: {subnets: [subnet-1]}}}
"#,
            ),
            "spec.target.ecs.taskDefinitionArn",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/admin:1",
        ),
        (
            ecs("    passRoleArns: [arn:aws:iam::123456789012:role/admin]"),
            "spec.target.ecs.passRoleArns[0]",
            "arn:aws:iam::123456789012:role/admin",
        ),
        (
            ecs("role: {arn: arn:aws:iam::123456789012:role/OrganizationAccountAccessRole}"),
            "spec.role.arn",
            "arn:aws:iam::123456789012:role/OrganizationAccountAccessRole",
        ),
        (
            ecs("role: {name: admin}"),
            "spec.role.name",
            "arn:aws:iam::123456789012:role/admin",
        ),
        (
            ecs("  deadLetterQueueArn: arn:aws:sqs:us-east-1:123456789012:payments-dlq"),
            "spec.target.deadLetterQueueArn",
            "arn:aws:sqs:us-east-1:123456789012:payments-dlq",
        ),
        (
            spec(
                r#"
rule: {eventBusName: payments, eventPattern: {source: [x]}}
target: {lambda: {functionArn: "arn:aws:lambda:us-east-1:123456789012:function:team-a-x"}}
"#,
            ),
            "spec.rule.eventBusName",
            "payments",
        ),
        (
            spec(
                r#"
rule: {name: payments-rule, eventPattern: {source: [x]}}
target: {lambda: {functionArn: "arn:aws:lambda:us-east-1:123456789012:function:team-a-x"}}
"#,
            ),
            "spec.rule.name",
            "payments-rule",
        ),
        (
            spec(
                r#"
adoptExisting: true
rule: {eventPattern: {source: [x]}}
target: {lambda: {functionArn: "arn:aws:lambda:us-east-1:123456789012:function:team-a-x"}}
"#,
            ),
            "spec.adoptExisting",
            "true",
        ),
        (
            spec(
                r#"
rule: {eventPattern: {source: [x]}}
target: {lambda: {functionArn: "arn:aws:lambda:us-east-1:333333333333:function:team-a-x"}}
crossAccount: {targetAccountId: "333333333333", mode: RoleChain}
"#,
            ),
            "spec.crossAccount.targetAccountId",
            "333333333333",
        ),
        (
            spec(
                r#"
rule: {eventPattern: {source: [x]}}
target: {lambda: {functionArn: "arn:aws:lambda:us-east-1:222222222222:function:team-a-x"}}
crossAccount: {targetAccountId: "222222222222", mode: RoleChain, externalId: plain-text}
"#,
            ),
            "spec.crossAccount.externalId",
            "(set)",
        ),
        (
            spec(
                r#"
rule: {eventPattern: {source: [x]}}
target: {lambda: {functionArn: "arn:aws:lambda:us-east-1:222222222222:function:team-a-x"}}
crossAccount: {targetAccountId: "222222222222", mode: RoleChain, provisioningRoleArn: "arn:aws:iam::222222222222:role/admin"}
"#,
            ),
            "spec.crossAccount.provisioningRoleArn",
            "arn:aws:iam::222222222222:role/admin",
        ),
    ];
    for (s, field, value) in cases {
        let r = refused(decide_for(&s, &[("team-a", &p)]));
        assert_eq!((r.field.as_str(), r.value.as_str()), (field, value), "{r}");
        let message = r.to_string();
        assert!(
            message.contains(field) && message.contains(value) && message.contains("team-a: "),
            "{message}"
        );
    }
}

#[test]
fn a_region_outside_the_account_entry_is_refused() {
    let p = team_a();
    let subject_spec = lambda("arn:aws:lambda:eu-west-1:123456789012:function:team-a-x");
    let subject = Subject {
        namespace: "team-a",
        spec: &subject_spec,
        controller_account: ACCOUNT,
        region: "eu-west-1",
        role_path: "/",
        task_roles: &BTreeMap::new(),
    };
    let r = refused(decide(
        &subject,
        &[Candidate {
            name: "team-a",
            spec: &p,
        }],
    ));
    assert_eq!(
        (r.field.as_str(), r.value.as_str()),
        ("spec.region", "eu-west-1")
    );
    assert!(r.to_string().contains("regions [us-east-1]"), "{r}");
}

#[test]
fn an_account_the_policy_does_not_list_is_refused() {
    let mut p = team_a();
    p.accounts.retain(|a| a.account_id != ACCOUNT);
    let r = refused(decide_for(
        &lambda("arn:aws:lambda:us-east-1:123456789012:function:team-a-x"),
        &[("team-a", &p)],
    ));
    assert_eq!(r.field, "the controller's account");
    assert_eq!(r.value, ACCOUNT);
}

#[test]
fn empty_lists_grant_nothing_and_a_star_grants_anything() {
    let empty =
        policy(r#"{namespaceSelector: {}, accounts: [{accountId: "*"}], eventBuses: ["*"]}"#);
    let r = refused(decide_for(
        &lambda("arn:aws:lambda:us-east-1:123456789012:function:f"),
        &[("empty", &empty)],
    ));
    assert_eq!(r.field, "spec.target.lambda.functionArn");
    assert!(r.to_string().contains("grants no targets"), "{r}");
    let star = policy(
        r#"{namespaceSelector: {}, accounts: [{accountId: "*"}], eventBuses: ["*"], targets: ["*"]}"#,
    );
    permitted(decide_for(
        &lambda("arn:aws:lambda:us-east-1:123456789012:function:f"),
        &[("star", &star)],
    ));
}

#[test]
fn a_wildcard_in_the_region_does_not_reach_into_the_account() {
    // ArnLike semantics: each of the six components on its own.
    assert!(grants(
        "arn:aws:lambda:*:123456789012:function:team-a-*",
        "arn:aws:lambda:us-east-1:123456789012:function:team-a-x:live"
    ));
    assert!(!grants(
        "arn:aws:lambda:*:123456789012:function:team-a-*",
        "arn:aws:lambda:us-east-1:999999999999:function:team-a-x"
    ));
    assert!(!grants(
        "arn:aws:lambda:*:function:team-a-*",
        "arn:aws:lambda:us-east-1:123456789012:function:team-a-x"
    ));
    assert!(grants("orders-*", "orders-bus"));
    assert!(!grants("orders-*", "payments"));
}

#[test]
fn one_policy_must_grant_everything_two_halves_do_not_add_up() {
    let targets_only = policy(
        r#"{namespaceSelector: {}, accounts: [{accountId: "*"}], eventBuses: ["*"], targets: ["*"]}"#,
    );
    let dlq_only = policy(
        r#"{namespaceSelector: {}, accounts: [{accountId: "*"}], eventBuses: ["*"], deadLetterQueues: ["*"]}"#,
    );
    let s = spec(
        r#"
rule: {eventPattern: {source: [x]}}
target: {lambda: {functionArn: "arn:aws:lambda:us-east-1:123456789012:function:f"}, deadLetterQueueArn: "arn:aws:sqs:us-east-1:123456789012:q"}
"#,
    );
    let r = refused(decide_for(
        &s,
        &[("b-dlq", &dlq_only), ("a-targets", &targets_only)],
    ));
    // Sorted by name: a-targets refuses the queue, b-dlq the function; both are said.
    assert_eq!(r.field, "spec.target.deadLetterQueueArn");
    assert_eq!(r.by_policy.len(), 2);
    assert!(
        r.by_policy[1].1.contains("spec.target.lambda.functionArn"),
        "{r:?}"
    );
}

#[test]
fn the_task_definitions_own_roles_must_be_passable() {
    let p = team_a();
    let s = ecs("");
    permitted(decide_with(&s, &[("team-a", &p)], None));
    let ok = vec!["arn:aws:iam::123456789012:role/team-a-exec".to_string()];
    permitted(decide_with(&s, &[("team-a", &p)], Some(&ok)));
    let admin = vec![
        "arn:aws:iam::123456789012:role/team-a-exec".to_string(),
        "arn:aws:iam::123456789012:role/admin".to_string(),
    ];
    let r = refused(decide_with(&s, &[("team-a", &p)], Some(&admin)));
    assert!(
        r.field.starts_with("spec.target.ecs.taskDefinitionArn"),
        "{r}"
    );
    assert_eq!(r.value, "arn:aws:iam::123456789012:role/admin");
}

#[test]
fn the_policys_boundary_is_applied_and_cannot_be_replaced() {
    let mut p = team_a();
    p.permissions_boundary_arn = Some("arn:aws:iam::123456789012:policy/team-a-boundary".into());
    let g = permitted(decide_for(&ecs(""), &[("team-a", &p)]));
    assert_eq!(
        g.permissions_boundary_arn.as_deref(),
        Some("arn:aws:iam::123456789012:policy/team-a-boundary")
    );
    let r = refused(decide_for(
        &ecs("role: {permissionsBoundaryArn: arn:aws:iam::aws:policy/AdministratorAccess}"),
        &[("team-a", &p)],
    ));
    assert_eq!(r.field, "spec.role.permissionsBoundaryArn");
}

#[test]
fn the_way_into_another_account_comes_from_the_policy() {
    let p = team_a();
    let omitted = spec(
        r#"
rule: {eventPattern: {source: [x]}}
target: {lambda: {functionArn: "arn:aws:lambda:us-east-1:222222222222:function:team-a-x"}}
crossAccount: {targetAccountId: "222222222222", mode: RoleChain}
"#,
    );
    let g = permitted(decide_for(&omitted, &[("team-a", &p)]));
    assert_eq!(
        g.provisioning,
        Some(Provisioning {
            role_arn: "arn:aws:iam::222222222222:role/ebi-provisioner".into(),
            external_id: Some(SecretKeyRef {
                name: "team-a-ext".into(),
                key: "externalId".into()
            }),
        })
    );
    // A pattern entry: a `*` account is filled in; any other wildcard needs the spec's role.
    let any = policy(
        r#"{namespaceSelector: {}, accounts: [{accountId: "*", provisioningRoleArn: "arn:aws:iam::*:role/ebi-provisioner"}], eventBuses: ["*"], targets: ["*"], roles: ["*"]}"#,
    );
    let g = permitted(decide_for(&omitted, &[("any", &any)]));
    assert_eq!(
        g.provisioning.unwrap().role_arn,
        "arn:aws:iam::222222222222:role/ebi-provisioner"
    );
    let loose = policy(
        r#"{namespaceSelector: {}, accounts: [{accountId: "*", provisioningRoleArn: "arn:aws:iam::*:role/ebi-*"}], eventBuses: ["*"], targets: ["*"]}"#,
    );
    let r = refused(decide_for(&omitted, &[("loose", &loose)]));
    assert_eq!(r.field, "spec.crossAccount.provisioningRoleArn");
    // An account entry without a way in is not reachable at all.
    let mut no_way = team_a();
    no_way.accounts[1].provisioning_role_arn = None;
    let r = refused(decide_for(&omitted, &[("team-a", &no_way)]));
    assert_eq!(
        (r.field.as_str(), r.value.as_str()),
        ("spec.crossAccount.targetAccountId", OTHER)
    );
}

#[test]
fn adoption_needs_the_policy_and_a_granted_name() {
    let mut p = team_a();
    p.adopt_existing = true;
    let s = spec(
        r#"
adoptExisting: true
rule: {eventPattern: {source: [x]}}
target: {lambda: {functionArn: "arn:aws:lambda:us-east-1:123456789012:function:team-a-x"}}
"#,
    );
    let g = permitted(decide_for(&s, &[("team-a", &p)]));
    assert!(g.may_adopt_rule("team-a-orders"));
    assert!(!g.may_adopt_rule("payments-orders"));
    assert!(g.may_adopt_role("arn:aws:iam::123456789012:role/team-a-runner"));
    assert!(!g.may_adopt_role("arn:aws:iam::123456789012:role/OrganizationAccountAccessRole"));
    // The policy grants adoption, the spec does not ask for it: nothing is adopted.
    let g = permitted(decide_for(
        &lambda("arn:aws:lambda:us-east-1:123456789012:function:team-a-x"),
        &[("team-a", &p)],
    ));
    assert!(!g.may_adopt_rule("team-a-orders"));
}

#[test]
fn a_policy_is_summed_up_in_one_line() {
    assert_eq!(
        summary(&team_a()),
        "accounts 123456789012 (us-east-1), 222222222222 via role; buses 2; targets 6; passRoles 1; roles 1; queues 1; ruleNames 1; adopt no; boundary no"
    );
    assert_eq!(
        summary(&policy("{namespaceSelector: {}}")),
        "accounts none; buses 0; targets 0; passRoles 0; roles 0; queues 0; ruleNames 0; adopt no; boundary no"
    );
}

fn sqs(queue: &str) -> EventBridgeIntegrationSpec {
    spec(&format!(
        r#"
rule: {{eventPattern: {{source: [orders]}}}}
target: {{sqs: {{queueArn: "{queue}"}}}}
"#
    ))
}

#[test]
fn an_sqs_queue_is_admitted_as_a_target_like_a_function() {
    let p = team_a();
    permitted(decide_for(
        &sqs("arn:aws:sqs:us-east-1:123456789012:team-a-orders"),
        &[("team-a", &p)],
    ));
    let r = refused(decide_for(
        &sqs("arn:aws:sqs:us-east-1:123456789012:team-b-orders"),
        &[("team-a", &p)],
    ));
    assert_eq!(r.field, "spec.target.sqs.queueArn");
    assert_eq!(r.value, "arn:aws:sqs:us-east-1:123456789012:team-b-orders");
    // A queue granted as a dead-letter queue only is not a target.
    let mut dlq_only = team_a();
    dlq_only.targets.retain(|t| !t.starts_with("arn:aws:sqs:"));
    dlq_only.dead_letter_queues = vec!["arn:aws:sqs:*:123456789012:team-a-*".into()];
    let r = refused(decide_for(
        &sqs("arn:aws:sqs:us-east-1:123456789012:team-a-orders"),
        &[("team-a", &dlq_only)],
    ));
    assert_eq!(r.field, "spec.target.sqs.queueArn");
}

fn sns(topic: &str) -> EventBridgeIntegrationSpec {
    spec(&format!(
        r#"
rule: {{eventPattern: {{source: [orders]}}}}
target: {{sns: {{topicArn: "{topic}"}}}}
"#
    ))
}

#[test]
fn an_sns_topic_is_admitted_only_when_the_policy_grants_it_as_a_target() {
    let mut p = team_a();
    // team-a's policy grants queues, not topics: a topic of the same name is refused.
    let r = refused(decide_for(
        &sns("arn:aws:sns:us-east-1:123456789012:team-a-orders"),
        &[("team-a", &p)],
    ));
    assert_eq!(r.field, "spec.target.sns.topicArn");
    assert_eq!(r.value, "arn:aws:sns:us-east-1:123456789012:team-a-orders");
    p.targets.push("arn:aws:sns:*:123456789012:team-a-*".into());
    permitted(decide_for(
        &sns("arn:aws:sns:us-east-1:123456789012:team-a-orders"),
        &[("team-a", &p)],
    ));
    let r = refused(decide_for(
        &sns("arn:aws:sns:us-east-1:123456789012:team-b-orders"),
        &[("team-a", &p)],
    ));
    assert_eq!(r.field, "spec.target.sns.topicArn");
}

fn kinesis(stream: &str) -> EventBridgeIntegrationSpec {
    spec(&format!(
        r#"
rule: {{eventPattern: {{source: [orders]}}}}
target: {{kinesis: {{streamArn: "{stream}", partitionKeyPath: $.detail.id}}}}
"#
    ))
}

#[test]
fn a_kinesis_stream_is_admitted_only_when_the_policy_grants_it_as_a_target() {
    let mut p = team_a();
    // Without this check the role would get kinesis:PutRecord on any stream of the account.
    let r = refused(decide_for(
        &kinesis("arn:aws:kinesis:us-east-1:123456789012:stream/team-a-orders"),
        &[("team-a", &p)],
    ));
    assert_eq!(r.field, "spec.target.kinesis.streamArn");
    assert_eq!(
        r.value,
        "arn:aws:kinesis:us-east-1:123456789012:stream/team-a-orders"
    );
    p.targets
        .push("arn:aws:kinesis:*:123456789012:stream/team-a-*".into());
    permitted(decide_for(
        &kinesis("arn:aws:kinesis:us-east-1:123456789012:stream/team-a-orders"),
        &[("team-a", &p)],
    ));
    let r = refused(decide_for(
        &kinesis("arn:aws:kinesis:us-east-1:123456789012:stream/team-b-orders"),
        &[("team-a", &p)],
    ));
    assert_eq!(r.field, "spec.target.kinesis.streamArn");
}

/// Firehose came after admission read the kinds' own references: nothing here names it.
#[test]
fn a_firehose_stream_is_admitted_only_when_the_policy_grants_it_as_a_target() {
    let firehose = |stream: &str| {
        spec(&format!(
            r#"
rule: {{eventPattern: {{source: [orders]}}}}
target: {{firehose: {{deliveryStreamArn: "{stream}"}}}}
"#
        ))
    };
    let mut p = team_a();
    let ours = "arn:aws:firehose:us-east-1:123456789012:deliverystream/team-a-orders";
    let r = refused(decide_for(&firehose(ours), &[("team-a", &p)]));
    assert_eq!(r.field, "spec.target.firehose.deliveryStreamArn");
    assert_eq!(r.value, ours);
    p.targets
        .push("arn:aws:firehose:*:123456789012:deliverystream/team-a-*".into());
    permitted(decide_for(&firehose(ours), &[("team-a", &p)]));
    let r = refused(decide_for(
        &firehose("arn:aws:firehose:us-east-1:123456789012:deliverystream/team-b-orders"),
        &[("team-a", &p)],
    ));
    assert_eq!(r.field, "spec.target.firehose.deliveryStreamArn");
}

#[test]
fn an_api_gateway_target_is_admitted_by_its_rest_apis_arn() {
    let spec = spec(
        r#"
rule: {eventPattern: {source: [orders]}}
target: {apiGateway: {restApiArn: "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5", stage: prod, method: POST, path: /orders}}
"#,
    );
    let mut p = team_a();
    // Without this check the role would get execute-api:Invoke on any API of the account.
    let r = refused(decide_for(&spec, &[("team-a", &p)]));
    assert_eq!(r.field, "spec.target.apiGateway.restApiArn");
    assert_eq!(
        r.value,
        "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5"
    );
    p.targets
        .push("arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5".into());
    permitted(decide_for(&spec, &[("team-a", &p)]));
}

#[test]
fn another_accounts_rest_api_is_admitted_only_by_a_grant_naming_that_account() {
    let spec = spec(
        r#"
rule: {eventPattern: {source: [orders]}}
target: {apiGateway: {restApiArn: "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5", stage: prod, method: POST, path: /orders}}
crossAccount: {targetAccountId: "222222222222"}
"#,
    );
    let mut p = team_a();
    // The namespace's own APIs, every one: an API's ARN names no account, so without the
    // account written in this grant would reach any API of account 222222222222.
    p.targets.push("arn:aws:apigateway:*::/restapis/*".into());
    let r = refused(decide_for(&spec, &[("team-a", &p)]));
    assert_eq!(r.field, "spec.target.apiGateway.restApiArn");
    assert_eq!(
        r.value,
        "arn:aws:apigateway:us-east-1:222222222222:/restapis/a1b2c3d4e5"
    );
    p.targets
        .push("arn:aws:apigateway:*:222222222222:/restapis/a1b2c3d4e5".into());
    permitted(decide_for(&spec, &[("team-a", &p)]));
}

#[test]
fn a_log_group_is_admitted_only_when_the_policy_grants_it_as_a_target() {
    let spec = spec(
        r#"
rule: {eventPattern: {source: [orders]}}
target: {logs: {logGroupArn: "arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/team-a-orders"}}
"#,
    );
    let mut p = team_a();
    // Without this check any namespace could have its events written to any log group.
    let r = refused(decide_for(&spec, &[("team-a", &p)]));
    assert_eq!(r.field, "spec.target.logs.logGroupArn");
    p.targets
        .push("arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/team-a-*".into());
    permitted(decide_for(&spec, &[("team-a", &p)]));
}

#[test]
fn an_api_destination_is_admitted_only_when_the_policy_grants_its_endpoint() {
    let spec = spec(
        r#"
rule: {eventPattern: {source: [orders]}}
target:
  apiDestination:
    endpoint: "https://hooks.partner.example.com/orders"
    httpMethod: POST
    connection: {authorizationType: API_KEY, secretRef: {name: partner}}
"#,
    );
    let mut p = team_a();
    // Without this check any namespace could send the bus's events to any URL.
    let r = refused(decide_for(&spec, &[("team-a", &p)]));
    assert_eq!(r.field, "spec.target.apiDestination.endpoint");
    assert_eq!(r.value, "https://hooks.partner.example.com/orders");
    p.targets.push("https://hooks.partner.example.com/*".into());
    permitted(decide_for(&spec, &[("team-a", &p)]));
    p.targets = vec!["https://hooks.partner.example.com.evil.example/*".into()];
    refused(decide_for(&spec, &[("team-a", &p)]));
}

#[test]
fn rolechains_target_role_name_needs_no_grant_now_that_no_role_is_created_there() {
    // It once named a role the controller created (or took over) in the target account; the
    // planner now ignores it, so even the organisation's access role names nothing to take.
    let s = spec(
        r#"
rule: {eventPattern: {source: [x]}}
target: {lambda: {functionArn: "arn:aws:lambda:us-east-1:222222222222:function:team-a-x"}}
crossAccount: {targetAccountId: "222222222222", mode: RoleChain, targetRoleName: OrganizationAccountAccessRole}
"#,
    );
    permitted(decide_for(&s, &[("team-a", &team_a())]));
    let plan = crate::plan::plan(
        &s,
        &crate::plan::Owner {
            cluster: "c".into(),
            namespace: "team-a".into(),
            name: "n".into(),
            uid: "u".into(),
        },
        &crate::plan::Facts {
            provisioning_role_arn: Some("arn:aws:iam::222222222222:role/ebi-provisioner".into()),
            ..crate::plan::Facts::new(
                "123456789012".parse().unwrap(),
                "us-east-1".parse().unwrap(),
            )
        },
        &Default::default(),
    )
    .unwrap();
    assert_eq!(
        plan.remote.unwrap().role,
        crate::plan::DesiredRole::NotNeeded
    );
}

#[test]
fn every_target_of_a_list_must_be_granted_and_the_refusal_names_its_entry() {
    let mut p = team_a();
    p.targets.push("arn:aws:sns:*:123456789012:team-a-*".into());
    let list = |topic: &str, dlq: &str| {
        spec(&format!(
            r#"
rule: {{eventPattern: {{source: [orders]}}}}
targets:
- id: topic
  sns: {{topicArn: "arn:aws:sns:us-east-1:123456789012:{topic}"}}
- id: queue
  sqs: {{queueArn: "arn:aws:sqs:us-east-1:123456789012:team-a-orders"}}
  deadLetterQueueArn: "arn:aws:sqs:us-east-1:123456789012:{dlq}"
"#
        ))
    };
    permitted(decide_for(
        &list("team-a-alerts", "team-a-dlq"),
        &[("team-a", &p)],
    ));
    // The first entry's topic is another team's: refused, naming that entry.
    let r = refused(decide_for(
        &list("team-b-alerts", "team-a-dlq"),
        &[("team-a", &p)],
    ));
    assert_eq!(r.field, "spec.targets[0].sns.topicArn");
    // The second entry's dead-letter queue is not granted: refused too.
    let r = refused(decide_for(
        &list("team-a-alerts", "team-b-dlq"),
        &[("team-a", &p)],
    ));
    assert_eq!(r.field, "spec.targets[1].deadLetterQueueArn");
}

/// Two ECS tasks on one rule: each task definition's roles are checked against its own
/// entry, so the one handing an ungranted role is the one named.
#[test]
fn each_task_definition_of_a_list_is_checked_for_its_own_roles() {
    let p = team_a();
    let s = spec(
        r#"
rule: {eventPattern: {source: [orders]}}
targets:
  - id: first
    ecs:
      clusterArn: arn:aws:ecs:us-east-1:123456789012:cluster/team-a
      taskDefinitionArn: arn:aws:ecs:us-east-1:123456789012:task-definition/team-a-worker:1
      networkConfiguration: {subnets: [subnet-0a1b2c3d]}
  - id: second
    ecs:
      clusterArn: arn:aws:ecs:us-east-1:123456789012:cluster/team-a
      taskDefinitionArn: arn:aws:ecs:us-east-1:123456789012:task-definition/team-a-report:2
      networkConfiguration: {subnets: [subnet-0a1b2c3d]}
"#,
    );
    let read: BTreeMap<String, Vec<String>> = [
        (
            "arn:aws:ecs:us-east-1:123456789012:task-definition/team-a-worker:1".to_string(),
            vec!["arn:aws:iam::123456789012:role/team-a-exec".to_string()],
        ),
        (
            "arn:aws:ecs:us-east-1:123456789012:task-definition/team-a-report:2".to_string(),
            vec!["arn:aws:iam::123456789012:role/admin".to_string()],
        ),
    ]
    .into();
    let subject = Subject {
        namespace: "team-a",
        spec: &s,
        controller_account: ACCOUNT,
        region: "us-east-1",
        role_path: "/",
        task_roles: &read,
    };
    let r = refused(decide(
        &subject,
        &[Candidate {
            name: "team-a",
            spec: &p,
        }],
    ));
    assert!(
        r.field.starts_with("spec.targets[1].ecs.taskDefinitionArn"),
        "{r}"
    );
    assert_eq!(r.value, "arn:aws:iam::123456789012:role/admin");
}

#[test]
fn a_list_delivered_directly_to_another_account_needs_no_grant_of_its_bus() {
    let mut p = team_a();
    // No bus of the target account is granted: a list delivered directly uses none.
    p.event_buses = vec!["orders-*".into()];
    let list = |mode: &str| {
        spec(&format!(
            r#"
rule: {{eventBusName: orders-in, eventPattern: {{source: [x]}}}}
targets:
- {{id: a, lambda: {{functionArn: "arn:aws:lambda:us-east-1:222222222222:function:team-a-x"}}}}
- {{id: b, lambda: {{functionArn: "arn:aws:lambda:us-east-1:222222222222:function:team-a-y"}}}}
crossAccount: {{targetAccountId: "222222222222"{mode}}}
"#
        ))
    };
    permitted(decide_for(&list(""), &[("team-a", &p)]));
    // Forwarded, the same list needs the target account's bus.
    let r = refused(decide_for(
        &list(", mode: EventBusForwarding"),
        &[("team-a", &p)],
    ));
    assert_eq!(r.field, "spec.crossAccount.targetEventBusName");
}

#[test]
fn a_schedules_queue_key_is_admitted_only_when_the_policy_grants_it() {
    let keyed = spec(
        r#"
schedule: {expression: "rate(5 minutes)", kmsKeyArns: ["arn:aws:kms:us-east-1:123456789012:key/team-a-1"]}
target: {sqs: {queueArn: "arn:aws:sqs:us-east-1:123456789012:team-a-reports"}}
"#,
    );
    let mut p = team_a();
    p.schedule_groups = vec!["default".into()];
    let r = refused(decide_for(&keyed, &[("team-a", &p)]));
    assert_eq!(
        (r.field.as_str(), r.value.as_str()),
        (
            "spec.schedule.kmsKeyArns[0]",
            "arn:aws:kms:us-east-1:123456789012:key/team-a-1"
        )
    );
    p.kms_keys = vec!["arn:aws:kms:*:123456789012:key/team-a-*".into()];
    permitted(decide_for(&keyed, &[("team-a", &p)]));
}

#[test]
fn a_schedule_is_admitted_only_in_a_granted_schedule_group() {
    let scheduled = |group: &str| {
        spec(&format!(
            r#"
schedule: {{expression: "rate(5 minutes)"{group}}}
target: {{sqs: {{queueArn: "arn:aws:sqs:us-east-1:123456789012:team-a-reports"}}}}
"#
        ))
    };
    // No scheduleGroups: no schedule, not even in `default`.
    let r = refused(decide_for(&scheduled(""), &[("team-a", &team_a())]));
    assert_eq!(
        (r.field.as_str(), r.value.as_str()),
        ("spec.schedule.group", "default")
    );
    let mut p = team_a();
    p.schedule_groups = vec!["default".into(), "team-a-*".into()];
    permitted(decide_for(&scheduled(""), &[("team-a", &p)]));
    permitted(decide_for(
        &scheduled(", group: team-a-nightly"),
        &[("team-a", &p)],
    ));
    let r = refused(decide_for(
        &scheduled(", group: payments"),
        &[("team-a", &p)],
    ));
    assert_eq!(
        (r.field.as_str(), r.value.as_str()),
        ("spec.schedule.group", "payments")
    );
    // A group is not an event bus: buses granted, no group, still refused.
    let mut buses_only = team_a();
    buses_only.event_buses = vec!["*".into()];
    refused(decide_for(&scheduled(""), &[("team-a", &buses_only)]));
    // A schedule's own role and dead-letter queue are granted as a rule's are.
    let with = |role: &str, dlq: &str| {
        spec(&format!(
            r#"
schedule: {{expression: "rate(5 minutes)"}}
role: {{arn: "arn:aws:iam::123456789012:role/{role}"}}
target: {{sqs: {{queueArn: "arn:aws:sqs:us-east-1:123456789012:team-a-reports"}}, deadLetterQueueArn: "arn:aws:sqs:us-east-1:123456789012:{dlq}"}}
"#
        ))
    };
    permitted(decide_for(
        &with("team-a-nightly", "team-a-dlq"),
        &[("team-a", &p)],
    ));
    let r = refused(decide_for(
        &with("team-a-nightly", "payments-dlq"),
        &[("team-a", &p)],
    ));
    assert_eq!(r.field, "spec.target.deadLetterQueueArn");
    let r = refused(decide_for(
        &with("payments-role", "team-a-dlq"),
        &[("team-a", &p)],
    ));
    assert_eq!(
        (r.field.as_str(), r.value.as_str()),
        (
            "spec.role.arn",
            "arn:aws:iam::123456789012:role/payments-role"
        )
    );
}
