//! Organisation policies (SCPs, RCPs) and KMS key policies read online, end to end on the
//! moto emulator: `diagnose --rule`, `diagnose --all`, `collect` → `diagnose --bundle`, and
//! the controller's status.
//!
//! Organisations are account-global in moto, and SCPs would change what every other test
//! sees, so the organisation lives in an account no other test uses: 333333333333 is its
//! management account, and each test creates its own member account (CreateAccount) in its
//! own OU. Requests land in an account through credentials from sts:AssumeRole into a role
//! of that account, as in tests/cross_account.rs. AWS lets only the management account (or
//! a delegated administrator) read the organisation's policies, so the member's diagnosis
//! reads them through a role in 333333333333 (`--organization-role-arn`).
//!
//! What moto lacks is covered with mocked responses at the end: a member account's
//! ListParents is AccessDeniedException in AWS (moto: AccountNotFoundException).

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod support;

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::{json, Value};
use support::*;

const MANAGEMENT: &str = "333333333333";
const ORG_READER: &str = "arn:aws:iam::333333333333:role/organization-reader";

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Credentials in `account` (AssumeRole into `role` there), as an SDK config and as the
/// environment of a child process.
async fn session(account: &str, role: &str) -> (SdkConfig, Vec<(String, String)>) {
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .load()
        .await;
    let creds = aws_sdk_sts::Client::new(&base)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/{role}"))
        .role_session_name("organization-tests")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    let env = vec![
        ("AWS_ACCESS_KEY_ID".to_string(), creds.access_key_id.clone()),
        (
            "AWS_SECRET_ACCESS_KEY".to_string(),
            creds.secret_access_key.clone(),
        ),
        ("AWS_SESSION_TOKEN".to_string(), creds.session_token.clone()),
    ];
    let config = base
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    creds.access_key_id,
                    creds.secret_access_key,
                    Some(creds.session_token),
                    None,
                    "organization-tests",
                ),
            ),
        )
        .build();
    let sts = aws_sdk_sts::Client::new(&config);
    let who = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(who.account(), Some(account), "landed in {account}");
    (config, env)
}

/// A member account of the organisation of 333333333333, alone in a new OU.
struct Member {
    account: String,
    ou: String,
    org: aws_sdk_organizations::Client,
    config: SdkConfig,
    env: Vec<(String, String)>,
}

async fn member(tag: &str) -> Member {
    require_env();
    let (management, _) = session(MANAGEMENT, "organization-admin").await;
    let org = aws_sdk_organizations::Client::new(&management);
    // Tests of this binary share the organisation; the first to ask creates it.
    if let Err(e) = org.create_organization().send().await {
        let e = e.into_service_error();
        assert!(
            e.is_already_in_organization_exception(),
            "create-organization: {e:?}"
        );
    }
    let root = org.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    for kind in [
        aws_sdk_organizations::types::PolicyType::ServiceControlPolicy,
        aws_sdk_organizations::types::PolicyType::ResourceControlPolicy,
    ] {
        if let Err(e) = org
            .enable_policy_type()
            .root_id(&root)
            .policy_type(kind)
            .send()
            .await
        {
            let e = e.into_service_error();
            assert!(e.is_policy_type_already_enabled_exception(), "{e:?}");
        }
    }
    let ou = org
        .create_organizational_unit()
        .parent_id(&root)
        .name(tag)
        .send()
        .await
        .unwrap()
        .organizational_unit
        .unwrap()
        .id
        .unwrap();
    let account = org
        .create_account()
        .account_name(tag)
        .email(format!("{tag}@example.com"))
        .send()
        .await
        .unwrap()
        .create_account_status
        .unwrap()
        .account_id
        .unwrap();
    org.move_account()
        .account_id(&account)
        .source_parent_id(&root)
        .destination_parent_id(&ou)
        .send()
        .await
        .unwrap();
    let (config, env) = session(&account, "OrganizationAccountAccessRole").await;
    Member {
        account,
        ou,
        org,
        config,
        env,
    }
}

impl Member {
    /// An organisation policy of `kind` with one Deny statement, attached to `target`.
    async fn deny(
        &self,
        kind: aws_sdk_organizations::types::PolicyType,
        name: &str,
        statement: Value,
        target: &str,
    ) -> String {
        let content = json!({"Version": "2012-10-17", "Statement": [statement]});
        let id = self
            .org
            .create_policy()
            .name(name)
            .description("organization tests")
            .r#type(kind)
            .content(content.to_string())
            .send()
            .await
            .unwrap()
            .policy
            .unwrap()
            .policy_summary
            .unwrap()
            .id
            .unwrap();
        self.org
            .attach_policy()
            .policy_id(&id)
            .target_id(target)
            .send()
            .await
            .unwrap();
        id
    }

    /// The binary, in this account.
    fn run(&self, args: &[&str]) -> Output {
        run_in(&self.env, args)
    }
}

fn run_in(env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventbridge-integration-controller"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("the binary runs")
}

fn json_out(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON on stdout ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// (code, resource) of each finding.
fn codes(findings: &Value) -> Vec<(String, String)> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["resource"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn notes(out: &Value) -> Vec<String> {
    out["notEvaluated"]
        .as_array()
        .map(|a| a.iter().map(|n| n.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// `AWS calls: N (service:Operation=n …)` from stderr.
fn calls(stderr: &[u8]) -> BTreeMap<String, u64> {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .find(|l| l.starts_with("AWS calls: "))
        .unwrap_or_else(|| panic!("a call summary on stderr: {text}"));
    let inner = line.split_once('(').unwrap().1.trim_end_matches(')');
    inner
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_lowercase(), v.parse().unwrap())
        })
        .collect()
}

/// A role EventBridge may assume that may start `state_machine`.
async fn sfn_role(config: &SdkConfig, account: &str, name: &str, state_machine: &str) -> String {
    let iam = aws_sdk_iam::Client::new(config);
    let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":account}}}]});
    let arn = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    iam.put_role_policy()
        .role_name(name)
        .policy_name("start")
        .policy_document(
            json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"states:StartExecution","Resource":state_machine}]})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    arn
}

/// A queue with a policy that lets `rule_arn` send to it; its ARN.
async fn dead_letter_queue(
    config: &SdkConfig,
    account: &str,
    name: &str,
    rule_arn: &str,
    kms_key: Option<&str>,
) -> String {
    let arn = format!("arn:aws:sqs:{REGION}:{account}:{name}");
    let policy = json!({"Version":"2012-10-17","Statement":[{"Sid":"events","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":arn,"Condition":{"ArnEquals":{"aws:SourceArn":rule_arn}}}]});
    let mut create = aws_sdk_sqs::Client::new(config)
        .create_queue()
        .queue_name(name)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::Policy,
            policy.to_string(),
        );
    if let Some(key) = kms_key {
        create = create.attributes(aws_sdk_sqs::types::QueueAttributeName::KmsMasterKeyId, key);
    }
    create.send().await.unwrap();
    arn
}

/// A rule on the default bus (its ARN).
async fn rule(config: &SdkConfig, name: &str) -> String {
    aws_sdk_eventbridge::Client::new(config)
        .put_rule()
        .name(name)
        .schedule_expression("rate(5 minutes)")
        .send()
        .await
        .unwrap()
        .rule_arn
        .unwrap()
}

async fn target(config: &SdkConfig, rule: &str, arn: &str, role: Option<&str>, dlq: Option<&str>) {
    let mut t = aws_sdk_eventbridge::types::Target::builder()
        .id("t")
        .arn(arn)
        .set_role_arn(role.map(str::to_string));
    if let Some(q) = dlq {
        t = t.dead_letter_config(
            aws_sdk_eventbridge::types::DeadLetterConfig::builder()
                .arn(q)
                .build(),
        );
    }
    let out = aws_sdk_eventbridge::Client::new(config)
        .put_targets()
        .rule(rule)
        .targets(t.build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_entry_count, 0, "{out:?}");
}

/// An SCP on the member's OU denies states:StartExecution and an RCP there denies
/// sqs:SendMessage: online, both are named with the OU; offline from the collected bundle
/// the same; and with credentials that may not read the organisation, the diagnosis says
/// so instead of passing over them.
#[tokio::test(flavor = "multi_thread")]
async fn organisation_policies_are_read_online_and_name_the_level_that_denies() {
    let tag = unique("org");
    let m = member(&tag).await;
    use aws_sdk_organizations::types::PolicyType;
    let scp = format!("{tag}-deny-sfn");
    m.deny(
        PolicyType::ServiceControlPolicy,
        &scp,
        json!({"Sid": "NoStepFunctions", "Effect": "Deny", "Action": "states:StartExecution", "Resource": "*"}),
        &m.ou,
    )
    .await;
    let rcp = format!("{tag}-deny-sqs");
    m.deny(
        PolicyType::ResourceControlPolicy,
        &rcp,
        json!({"Sid": "NoQueues", "Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}),
        &m.ou,
    )
    .await;
    let state_machine = format!(
        "arn:aws:states:{REGION}:{}:stateMachine:pipeline",
        m.account
    );
    let role = sfn_role(&m.config, &m.account, "pipeline-events", &state_machine).await;
    let rule_arn = rule(&m.config, "pipeline").await;
    let dlq = dead_letter_queue(&m.config, &m.account, "pipeline-dlq", &rule_arn, None).await;
    target(
        &m.config,
        "pipeline",
        &state_machine,
        Some(&role),
        Some(&dlq),
    )
    .await;

    let online = m.run(&[
        "diagnose",
        "--rule",
        "pipeline",
        "--output",
        "json",
        "--organization-role-arn",
        ORG_READER,
    ]);
    assert_eq!(
        online.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&online.stderr)
    );
    let out = json_out(&online);
    assert_eq!(
        codes(&out["findings"]),
        vec![
            ("ResourceControlPolicyBlocks".to_string(), m.ou.clone()),
            ("ServiceControlPolicyBlocks".to_string(), m.ou.clone()),
        ],
        "{out:#}"
    );
    let scp_finding = &out["findings"][1];
    assert!(
        scp_finding["message"]
            .as_str()
            .unwrap()
            .contains(&format!("Statement NoStepFunctions (Deny states:StartExecution) of the service control policy {scp} attached to {}", m.ou)),
        "{scp_finding}"
    );
    assert!(
        scp_finding["remediation"]
            .as_str()
            .unwrap()
            .contains("aws organizations update-policy --policy-id p-"),
        "{scp_finding}"
    );
    assert!(
        !notes(&out).iter().any(|n| n.contains("organisation")),
        "{:?}",
        notes(&out)
    );

    // collect → diagnose --bundle: the same findings, from the levels the bundle carries.
    let collected = m.run(&[
        "collect",
        "--rule",
        "pipeline",
        "--organization-role-arn",
        ORG_READER,
    ]);
    assert!(
        collected.status.success(),
        "{}",
        String::from_utf8_lossy(&collected.stderr)
    );
    let bundle = json_out(&collected);
    let levels = |key: &str| -> Vec<String> {
        bundle["organization"][key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} in {bundle:#}"))
            .iter()
            .map(|l| l["targetId"].as_str().unwrap().to_string())
            .collect()
    };
    let root_level = &levels("serviceControlPolicies")[0];
    assert!(root_level.starts_with("r-"), "root first: {root_level}");
    assert_eq!(
        levels("serviceControlPolicies")[1..],
        [m.ou.clone(), m.account.clone()]
    );
    assert_eq!(levels("resourceControlPolicies").len(), 3);
    assert!(bundle["organization"]["Organization"]["Id"]
        .as_str()
        .unwrap()
        .starts_with("o-"));
    let ou_policies: Vec<&str> = bundle["organization"]["serviceControlPolicies"][1]["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Policy"]["PolicySummary"]["Name"].as_str().unwrap())
        .collect();
    assert_eq!(ou_policies, vec!["FullAWSAccess", scp.as_str()]);
    let path = std::env::temp_dir().join(format!("{tag}.json"));
    std::fs::write(&path, &collected.stdout).unwrap();
    let offline = run_in(
        &[],
        &[
            "diagnose",
            "--bundle",
            path.to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    assert_eq!(json_out(&offline)["findings"], out["findings"]);
    assert_eq!(offline.status.code(), Some(1));

    // The whole account: a handful of Organizations calls, however many rules.
    for i in 0..3 {
        let name = format!("more-{i}");
        rule(&m.config, &name).await;
        target(&m.config, &name, &state_machine, Some(&role), None).await;
    }
    let all = m.run(&[
        "diagnose",
        "--all",
        "--output",
        "json",
        "--organization-role-arn",
        ORG_READER,
    ]);
    assert_eq!(all.status.code(), Some(1));
    let rows = json_out(&all);
    let first_codes: BTreeMap<&str, &str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap(),
                r["firstCode"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        first_codes,
        BTreeMap::from([
            ("more-0", "ServiceControlPolicyBlocks"),
            ("more-1", "ServiceControlPolicyBlocks"),
            ("more-2", "ServiceControlPolicyBlocks"),
            ("pipeline", "ResourceControlPolicyBlocks"),
        ]),
        "{rows:#}"
    );
    let calls = calls(&all.stderr);
    let org_calls: BTreeMap<&str, u64> = calls
        .iter()
        .filter(|(k, _)| k.starts_with("organizations:"))
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        org_calls,
        BTreeMap::from([
            ("organizations:describeorganization", 1),
            // account → OU, OU → root
            ("organizations:listparents", 2),
            // 3 levels × 2 policy types
            ("organizations:listpoliciesfortarget", 6),
            // FullAWSAccess, RCPFullAWSAccess, the SCP, the RCP
            ("organizations:describepolicy", 4),
        ]),
        "4 rules: {calls:?}"
    );

    // The member's own credentials may not read the organisation's policies: said, with
    // AWS's reason, and nothing is judged from them.
    let own = m.run(&["diagnose", "--rule", "pipeline", "--output", "json"]);
    let out = json_out(&own);
    assert!(
        codes(&out["findings"])
            .iter()
            .all(|(c, _)| !c.ends_with("ControlPolicyBlocks")),
        "{out:#}"
    );
    let n = notes(&out);
    assert!(
        n.iter().any(|n| n.starts_with(
            "organisation policies not evaluated: organizations:ListParents failed ("
        )),
        "{n:?}"
    );
    let text = m.run(&["diagnose", "--rule", "pipeline"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains(
            "Not evaluated: organisation policies not evaluated: organizations:ListParents"
        ),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
    // …and a collected bundle leaves them out, so offline says "not gathered".
    let collected = m.run(&["collect", "--rule", "pipeline"]);
    assert!(json_out(&collected).get("organization").is_none());
}

/// SCPs and RCPs do not affect the management account, and an account outside any
/// organisation has none: nothing to evaluate, nothing reported.
#[tokio::test(flavor = "multi_thread")]
async fn the_management_account_and_an_account_outside_any_organisation_have_none() {
    let tag = unique("org-mgmt");
    let m = member(&tag).await;
    let (management, env) = session(MANAGEMENT, "organization-admin").await;
    m.deny(
        aws_sdk_organizations::types::PolicyType::ServiceControlPolicy,
        &format!("{tag}-deny-sfn"),
        json!({"Effect": "Deny", "Action": "states:StartExecution", "Resource": "*"}),
        MANAGEMENT,
    )
    .await;
    let state_machine = format!("arn:aws:states:{REGION}:{MANAGEMENT}:stateMachine:{tag}");
    let role = sfn_role(&management, MANAGEMENT, &tag, &state_machine).await;
    rule(&management, &tag).await;
    target(&management, &tag, &state_machine, Some(&role), None).await;
    let out = run_in(&env, &["diagnose", "--rule", &tag, "--output", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = json_out(&out);
    assert_eq!(out["findings"], json!([]));
    assert!(notes(&out).is_empty(), "{:?}", notes(&out));

    // The default account is in no organisation.
    let aws = aws().await;
    let name = unique("no-org");
    aws.events
        .put_rule()
        .name(&name)
        .schedule_expression("rate(5 minutes)")
        .send()
        .await
        .unwrap();
    let out = json_out(&run_in(
        &[],
        &["diagnose", "--rule", &name, "--output", "json"],
    ));
    assert!(
        !notes(&out).iter().any(|n| n.contains("organisation")),
        "{out:#}"
    );
    let bundle = json_out(&run_in(&[], &["collect", "--rule", &name]));
    assert_eq!(
        bundle["organization"],
        json!({"serviceControlPolicies": [], "resourceControlPolicies": []})
    );
    aws.events.delete_rule().name(&name).send().await.unwrap();
}

/// A key policy that does not let events.amazonaws.com use the dead-letter queue's key
/// (named by alias): found online, carried by `collect`; a fixed policy clears it; a key
/// that cannot be read is said to be not evaluated.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_letter_queue_key_policy_is_read_online() {
    let tag = unique("org-kms");
    let m = member(&tag).await;
    let kms = aws_sdk_kms::Client::new(&m.config);
    let root_only = json!({"Version":"2012-10-17","Statement":[{"Sid":"Admins","Effect":"Allow","Principal":{"AWS":format!("arn:aws:iam::{}:root", m.account)},"Action":"kms:*","Resource":"*"}]});
    let key = key_granting_the_account(&m.config, &m.account).await;
    let alias = format!("alias/{tag}");
    kms.create_alias()
        .alias_name(&alias)
        .target_key_id(key.key_id())
        .send()
        .await
        .unwrap();
    let function = format!("arn:aws:lambda:{REGION}:{}:function:{tag}", m.account);
    let rule_arn = rule(&m.config, "with-key").await;
    let dlq = dead_letter_queue(&m.config, &m.account, "keyed", &rule_arn, Some(&alias)).await;
    target(&m.config, "with-key", &function, None, Some(&dlq)).await;
    let rule_arn_missing_key = rule(&m.config, "missing-key").await;
    let dlq_missing = dead_letter_queue(
        &m.config,
        &m.account,
        "unreadable-key",
        &rule_arn_missing_key,
        Some("alias/no-such-key"),
    )
    .await;
    target(
        &m.config,
        "missing-key",
        &function,
        None,
        Some(&dlq_missing),
    )
    .await;

    let online = json_out(&m.run(&["diagnose", "--rule", "with-key", "--output", "json"]));
    let got = codes(&online["findings"]);
    assert!(
        got.contains(&("DeadLetterQueueKmsKeyNotPermitted".to_string(), dlq.clone())),
        "{online:#}"
    );
    let key_finding = online["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "DeadLetterQueueKmsKeyNotPermitted")
        .unwrap();
    assert!(
        key_finding["message"]
            .as_str()
            .unwrap()
            .contains("kms:GenerateDataKey or kms:Decrypt"),
        "{key_finding}"
    );
    assert!(
        !notes(&online).iter().any(|n| n.contains("KMS key")),
        "{:?}",
        notes(&online)
    );
    let all = m.run(&["diagnose", "--all", "--output", "json"]);
    let rows = json_out(&all);
    let row = |rule: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == rule)
            .unwrap_or_else(|| panic!("{rule} in {rows:#}"))
            .clone()
    };
    assert!(
        codes(&row("with-key")["findings"])
            .contains(&("DeadLetterQueueKmsKeyNotPermitted".to_string(), dlq.clone())),
        "{rows:#}"
    );
    let calls = calls(&all.stderr);
    assert_eq!(calls.get("kms:describekey"), Some(&2), "{calls:?}");
    assert_eq!(calls.get("kms:getkeypolicy"), Some(&1), "{calls:?}");

    // The unreadable key: not evaluated, with KMS's reason, in the row and in the text.
    let missing = row("missing-key");
    assert!(
        missing["notEvaluated"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("KMS key alias/no-such-key of dead-letter queue")
            && n.as_str()
                .unwrap()
                .contains("key policy not evaluated: kms:DescribeKey failed (NotFoundException)")),
        "{missing:#}"
    );
    assert!(
        codes(&missing["findings"])
            .iter()
            .all(|(c, _)| c != "DeadLetterQueueKmsKeyNotPermitted"),
        "an unreadable key is no finding: {missing:#}"
    );

    // collect carries the key policy as `aws kms get-key-policy` prints it.
    let collected = m.run(&["collect", "--rule", "with-key"]);
    let bundle = json_out(&collected);
    assert_eq!(bundle["keyPolicies"][&alias]["PolicyName"], "default");
    let carried: Value =
        serde_json::from_str(bundle["keyPolicies"][&alias]["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(carried, root_only);
    // The key behind the alias, which IAM policies name it by (DescribeKey's ARN).
    assert_eq!(
        bundle["keyPolicies"][&alias]["KeyArn"],
        json!(key.arn().unwrap())
    );
    let path = std::env::temp_dir().join(format!("{tag}.json"));
    std::fs::write(&path, &collected.stdout).unwrap();
    let offline = json_out(&run_in(
        &[],
        &[
            "diagnose",
            "--bundle",
            path.to_str().unwrap(),
            "--output",
            "json",
        ],
    ));
    assert_eq!(offline["findings"], online["findings"]);

    // Let EventBridge use the key: the finding goes.
    let mut fixed = root_only.clone();
    fixed["Statement"].as_array_mut().unwrap().push(json!({"Sid":"EventBridge","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*"}));
    kms.put_key_policy()
        .key_id(key.key_id())
        .policy_name("default")
        .policy(fixed.to_string())
        .send()
        .await
        .unwrap();
    let online = json_out(&m.run(&["diagnose", "--rule", "with-key", "--output", "json"]));
    assert!(
        codes(&online["findings"])
            .iter()
            .all(|(c, _)| c != "DeadLetterQueueKmsKeyNotPermitted"),
        "{online:#}"
    );
}

/// The controller reads the same evidence: an SCP on the member's OU and a dead-letter
/// queue key that shuts EventBridge out are both in status; without the organisation role,
/// status.notEvaluated says why the SCPs were not evaluated.
#[tokio::test(flavor = "multi_thread")]
async fn the_controller_reports_organisation_and_key_policies() {
    let tag = unique("org-ctl");
    let m = member(&tag).await;
    m.deny(
        aws_sdk_organizations::types::PolicyType::ServiceControlPolicy,
        &format!("{tag}-deny-sfn"),
        json!({"Sid": "NoStepFunctions", "Effect": "Deny", "Action": "states:StartExecution", "Resource": "*"}),
        &m.ou,
    )
    .await;
    let key = key_granting_the_account(&m.config, &m.account).await;
    let queue = format!("{tag}-dlq");
    aws_sdk_sqs::Client::new(&m.config)
        .create_queue()
        .queue_name(&queue)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::KmsMasterKeyId,
            key.key_id(),
        )
        .send()
        .await
        .unwrap();
    let queue_arn = format!("arn:aws:sqs:{REGION}:{}:{queue}", m.account);
    let state_machine = format!(
        "arn:aws:states:{REGION}:{}:stateMachine:pipeline",
        m.account
    );
    let ns = namespace("org-ctl");
    let env: Vec<(&str, &str)> = m
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut ctl = Controller::start_with_env(&ns, &["--organization-role-arn", ORG_READER], &env);
    let api = kube_api(&ns).await;
    apply(&format!(
        r#"apiVersion: eventbridge.dev/v1alpha1
kind: EventBridgeIntegration
metadata: {{name: blocked, namespace: {ns}}}
spec:
  rule: {{scheduleExpression: "rate(5 minutes)"}}
  target:
    stepFunctions: {{stateMachineArn: "{state_machine}"}}
    deadLetterQueueArn: "{queue_arn}"
"#
    ));
    wait_condition(&api, "blocked", "AccessVerified", "False", None).await;
    let status = api.get("blocked").await.unwrap().status.unwrap();
    let got: Vec<(String, Option<String>)> = status
        .findings
        .iter()
        .map(|f| (f.code.to_string(), f.resource.clone()))
        .collect();
    assert!(
        got.contains(&("ServiceControlPolicyBlocks".into(), Some(m.ou.clone())))
            && got.contains(&(
                "DeadLetterQueueKmsKeyNotPermitted".into(),
                Some(queue_arn.clone())
            )),
        "{got:?}"
    );
    assert!(
        !status
            .not_evaluated
            .iter()
            .any(|n| n.contains("organisation") || n.contains("KMS key")),
        "{:?}",
        status.not_evaluated
    );
    ctl.kill();

    // Without the role: the member's own credentials may not read the organisation.
    let _ctl = Controller::start_with_env(&ns, &[], &env);
    wait_until_async(
        "status.notEvaluated to say why",
        Duration::from_secs(45),
        || async {
            let status = api.get("blocked").await.unwrap().status.unwrap();
            status.not_evaluated.iter().any(|n| {
                n.starts_with("organisation policies not evaluated: organizations:ListParents")
            }) && !status
                .findings
                .iter()
                .any(|f| f.code == ebi::diagnose::Code::ServiceControlPolicyBlocks)
        },
    )
    .await;
    delete_and_wait(&ns, &["blocked"]);
}

// What moto cannot answer like AWS, against mocked responses.

mod mocked {
    use aws_sdk_organizations::operation::describe_organization::DescribeOrganizationOutput;
    use aws_sdk_organizations::types::Organization;
    use aws_sdk_organizations::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use ebi::aws::organization::{read, OrgPolicies};

    fn http(status: u16, error_type: &str, body: &str) -> HttpResponse {
        let mut r = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_string()),
        );
        r.headers_mut()
            .insert("x-amzn-errortype", error_type.to_string());
        r.headers_mut()
            .insert("content-type", "application/x-amz-json-1.1");
        r
    }

    fn member_of_org() -> DescribeOrganizationOutput {
        DescribeOrganizationOutput::builder()
            .organization(
                Organization::builder()
                    .id("o-a1b2c3d4e5")
                    .master_account_id("111111111111")
                    .build(),
            )
            .build()
    }

    /// A member account that is no delegated administrator: AWS answers ListParents with
    /// AccessDeniedException (moto answers AccountNotFoundException).
    #[tokio::test]
    async fn a_member_account_is_told_why_it_may_not_read_the_policies() {
        let describe = mock!(Client::describe_organization).then_output(member_of_org);
        let denied = mock!(Client::list_parents).then_http_response(|| {
            http(
                400,
                "AccessDeniedException",
                r#"{"__type":"AccessDeniedException","Message":"You don't have permissions to access this resource."}"#,
            )
        });
        let client = mock_client!(
            aws_sdk_organizations,
            RuleMode::Sequential,
            &[&describe, &denied]
        );
        let got = read(&client, "222222222222").await;
        assert_eq!(
            got,
            OrgPolicies::Unreadable {
                reason: "organizations:ListParents failed (AccessDeniedException): You don't have permissions to access this resource.".into(),
                transient: false,
            }
        );
        assert!(got.cacheable(), "a denial holds until someone grants it");
        let mut s = ebi::diagnose::Snapshot {
            rule: Some(ebi::diagnose::Rule {
                name: "r".into(),
                arn: "arn:aws:events:us-east-1:222222222222:rule/r".into(),
                event_bus_name: "default".into(),
                enabled: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        got.fill(&mut s);
        assert!(ebi::diagnose::not_evaluated(&s).iter().any(|n| n.starts_with(
            "organisation policies not evaluated: organizations:ListParents failed (AccessDeniedException)"
        )));
    }

    /// DescribeOrganization itself denied, and throttled: said, and a throttle is not cached.
    #[tokio::test]
    async fn a_denied_or_throttled_describe_is_not_evaluated() {
        let denied = mock!(Client::describe_organization).then_http_response(|| {
            http(
                400,
                "AccessDeniedException",
                r#"{"__type":"AccessDeniedException","Message":"not authorized to perform: organizations:DescribeOrganization"}"#,
            )
        });
        let client = mock_client!(aws_sdk_organizations, &[&denied]);
        let got = read(&client, "222222222222").await;
        assert!(
            matches!(&got, OrgPolicies::Unreadable { reason, transient: false } if reason.contains("organizations:DescribeOrganization failed (AccessDeniedException)")),
            "{got:?}"
        );
        let throttled = mock!(Client::describe_organization).then_http_response(|| {
            http(
                400,
                "TooManyRequestsException",
                r#"{"__type":"TooManyRequestsException","Message":"Rate exceeded"}"#,
            )
        });
        let client = mock_client!(
            aws_sdk_organizations,
            RuleMode::MatchAny,
            &[&throttled],
            |c| c.retry_config(
                aws_smithy_types::retry::RetryConfig::standard().with_max_attempts(1)
            )
        );
        let got = read(&client, "222222222222").await;
        assert!(!got.cacheable(), "{got:?}");
    }

    /// Not in an organisation: nothing applies (no note); the management account: the
    /// same, as SCPs and RCPs do not affect it.
    #[tokio::test]
    async fn outside_an_organisation_or_in_its_management_account_none_apply() {
        let not_in_use = mock!(Client::describe_organization).then_http_response(|| {
            http(
                400,
                "AWSOrganizationsNotInUseException",
                r#"{"__type":"AWSOrganizationsNotInUseException","Message":"Your account is not a member of an organization."}"#,
            )
        });
        let client = mock_client!(aws_sdk_organizations, &[&not_in_use]);
        assert!(matches!(
            read(&client, "222222222222").await,
            OrgPolicies::NoneApply(_)
        ));
        let describe = mock!(Client::describe_organization).then_output(member_of_org);
        let client = mock_client!(aws_sdk_organizations, &[&describe]);
        assert!(matches!(
            read(&client, "111111111111").await,
            OrgPolicies::NoneApply(why) if why.contains("management account")
        ));
    }
}
