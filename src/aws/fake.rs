//! An in-memory AWS account for unit tests of the pass: the IAM roles and EventBridge rules
//! a pass reads and writes, served through the SDK's own mocking layer
//! (`aws-smithy-mocks`), so the code under test is the product's, SDK calls and error
//! classification included: errors come back as on the wire and go through the SDK's
//! deserializer; answers are the SDK's own output types. Refusals follow AWS's (a rule with
//! targets is not deleted, a role with policies is not, a target needs its rule, a policy
//! its role). Every write is logged in order,
//! and a test may script what another writer does at the same moment (a rule claimed by
//! someone else between our read and our write, tags that do not show yet).
//!
//! Why not a trait over the AWS calls: the pass's modules call the SDK clients directly
//! (`Clients`), and the SDK already offers this seam; a trait would be a second copy of
//! every call's signature to keep in step.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_eventbridge as eb;
use aws_sdk_iam as iam;
use aws_smithy_mocks::{mock, MockResponse, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::DateTime;

use super::Clients;

pub(crate) const ACCOUNT: &str = "111122223333";
pub(crate) const REGION: &str = "us-east-1";

/// A rule as EventBridge holds it.
#[derive(Clone, Debug, Default)]
pub(crate) struct FakeRule {
    pub arn: String,
    pub event_pattern: Option<String>,
    pub schedule_expression: Option<String>,
    pub state: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub targets: Vec<eb::types::Target>,
}

/// A role as IAM holds it.
#[derive(Clone, Debug, Default)]
pub(crate) struct FakeRole {
    pub arn: String,
    pub path: String,
    pub trust_policy: String,
    pub boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub inline: BTreeMap<String, String>,
}

/// What the account holds, and what a test scripts of other writers.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub rules: BTreeMap<String, FakeRule>,
    pub roles: BTreeMap<String, FakeRole>,
    /// Every write, in order: `events:PutRule NAME`, `iam:CreateRole NAME`, …
    pub writes: Vec<String>,
    /// The reads of rules, in order: `events:ListRules`, `events:DescribeRule NAME`.
    pub rule_reads: Vec<String>,
    /// A role of this name, with these tags, appears right before our CreateRole of it:
    /// created by someone else (untagged), or by another pass of the same object, in the
    /// moment between our read and our write.
    pub role_created_meanwhile: Option<(String, BTreeMap<String, String>)>,
    /// PutRule keeps these tags instead of ours: another writer created the rule at the
    /// same moment and holds it (`Some(empty)`: its tags do not show yet).
    pub rule_claimed_meanwhile: Option<BTreeMap<String, String>>,
}

/// The account, shared by the mocked clients and the test.
#[derive(Clone, Default)]
pub(crate) struct FakeAccount(pub Arc<Mutex<State>>);

impl FakeAccount {
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The writes made so far, in order.
    pub(crate) fn writes(&self) -> Vec<String> {
        self.state().writes.clone()
    }

    /// Clients whose IAM and EventBridge calls this account answers; any other service's
    /// call fails (the mock HTTP client's 418), as a test of these two must not make one.
    pub(crate) fn clients(&self) -> Clients {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "AKIDTEST", "secret", None, None, "fake",
                    ),
                ),
            )
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .build();
        let interceptor = |rules: Vec<Rule>| {
            rules.iter().fold(
                MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
                |i, r| i.with_rule(r),
            )
        };
        Clients {
            region: REGION.into(),
            iam: iam::Client::from_conf(
                iam::config::Builder::from(&config)
                    .interceptor(interceptor(self.iam_rules()))
                    .build(),
            ),
            events: eb::Client::from_conf(
                eb::config::Builder::from(&config)
                    .interceptor(interceptor(self.events_rules()))
                    .build(),
            ),
            lambda: aws_sdk_lambda::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
            kinesis: aws_sdk_kinesis::Client::new(&config),
            apigateway: aws_sdk_apigateway::Client::new(&config),
            scheduler: aws_sdk_scheduler::Client::new(&config),
            organizations: aws_sdk_organizations::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            cloudtrail: aws_sdk_cloudtrail::Client::new(&config),
            task_definitions: Default::default(),
            deployments: Default::default(),
            shared: Default::default(),
        }
    }

    fn events_rules(&self) -> Vec<Rule> {
        let a = self.clone();
        let describe = mock!(eb::Client::describe_rule).then_compute_response(move |i| {
            let name = i.name().unwrap_or_default();
            let mut state = a.state();
            state.rule_reads.push(format!("events:DescribeRule {name}"));
            match state.rules.get(name) {
                Some(r) => MockResponse::Output(
                    eb::operation::describe_rule::DescribeRuleOutput::builder()
                        .name(name)
                        .arn(&r.arn)
                        .set_event_pattern(r.event_pattern.clone())
                        .set_schedule_expression(r.schedule_expression.clone())
                        .set_description(r.description.clone())
                        .set_state(r.state.as_deref().map(eb::types::RuleState::from))
                        .event_bus_name("default")
                        .build(),
                ),
                None => MockResponse::Http(not_found_json(&format!(
                    "Rule {name} does not exist on EventBus default."
                ))),
            }
        });
        let a = self.clone();
        let tags = mock!(eb::Client::list_tags_for_resource).then_compute_response(move |i| {
            let arn = i.resource_arn().unwrap_or_default();
            let state = a.state();
            match state.rules.values().find(|r| r.arn == arn) {
                Some(r) => MockResponse::Output(
                    eb::operation::list_tags_for_resource::ListTagsForResourceOutput::builder()
                        .set_tags(Some(
                            r.tags
                                .iter()
                                .filter_map(|(k, v)| {
                                    eb::types::Tag::builder().key(k).value(v).build().ok()
                                })
                                .collect(),
                        ))
                        .build(),
                ),
                None => MockResponse::Http(not_found_json(&format!("{arn} does not exist"))),
            }
        });
        let a = self.clone();
        let targets = mock!(eb::Client::list_targets_by_rule).then_compute_response(move |i| {
            let name = i.rule().unwrap_or_default();
            match a.state().rules.get(name) {
                Some(r) => MockResponse::Output(
                    eb::operation::list_targets_by_rule::ListTargetsByRuleOutput::builder()
                        .set_targets(Some(r.targets.clone()))
                        .build(),
                ),
                None => MockResponse::Http(not_found_json(&format!("Rule {name} does not exist."))),
            }
        });
        let a = self.clone();
        let put_rule = mock!(eb::Client::put_rule).then_compute_output(move |i| {
            let name = i.name().unwrap_or_default().to_string();
            let mut state = a.state();
            state.writes.push(format!("events:PutRule {name}"));
            let claimed = state.rule_claimed_meanwhile.take();
            let arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}");
            let ours: BTreeMap<String, String> = i
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            let rule = state.rules.entry(name).or_insert_with(|| FakeRule {
                arn: arn.clone(),
                // EventBridge applies PutRule's tags only when it creates the rule.
                tags: claimed.unwrap_or(ours),
                ..FakeRule::default()
            });
            rule.event_pattern = i.event_pattern().map(str::to_string);
            rule.schedule_expression = i.schedule_expression().map(str::to_string);
            rule.description = i.description().map(str::to_string);
            rule.state = Some(i.state().map_or("ENABLED", |s| s.as_str()).to_string());
            eb::operation::put_rule::PutRuleOutput::builder()
                .rule_arn(arn)
                .build()
        });
        let a = self.clone();
        let tag = mock!(eb::Client::tag_resource).then_compute_output(move |i| {
            let arn = i.resource_arn().unwrap_or_default();
            let mut state = a.state();
            state.writes.push(format!("events:TagResource {arn}"));
            if let Some(r) = state.rules.values_mut().find(|r| r.arn == arn) {
                for t in i.tags() {
                    r.tags.insert(t.key().to_string(), t.value().to_string());
                }
            }
            eb::operation::tag_resource::TagResourceOutput::builder().build()
        });
        let a = self.clone();
        let put_targets = mock!(eb::Client::put_targets).then_compute_response(move |i| {
            let name = i.rule().unwrap_or_default().to_string();
            let mut state = a.state();
            let Some(r) = state.rules.get_mut(&name) else {
                return MockResponse::Http(not_found_json(&format!("Rule {name} does not exist.")));
            };
            for t in i.targets() {
                r.targets.retain(|old| old.id() != t.id());
                r.targets.push(t.clone());
            }
            state.writes.push(format!("events:PutTargets {name}"));
            MockResponse::Output(
                eb::operation::put_targets::PutTargetsOutput::builder()
                    .failed_entry_count(0)
                    .build(),
            )
        });
        let a = self.clone();
        let remove_targets = mock!(eb::Client::remove_targets).then_compute_output(move |i| {
            let name = i.rule().unwrap_or_default().to_string();
            let mut state = a.state();
            state.writes.push(format!("events:RemoveTargets {name}"));
            if let Some(r) = state.rules.get_mut(&name) {
                r.targets.retain(|t| !i.ids().iter().any(|id| id == t.id()));
            }
            eb::operation::remove_targets::RemoveTargetsOutput::builder()
                .failed_entry_count(0)
                .build()
        });
        let a = self.clone();
        let list = mock!(eb::Client::list_rules).then_compute_output(move |_| {
            let mut state = a.state();
            state.rule_reads.push("events:ListRules".into());
            let rules = state
                .rules
                .iter()
                .map(|(name, r)| {
                    eb::types::Rule::builder()
                        .name(name)
                        .arn(&r.arn)
                        .set_event_pattern(r.event_pattern.clone())
                        .set_schedule_expression(r.schedule_expression.clone())
                        .set_description(r.description.clone())
                        .set_state(r.state.as_deref().map(eb::types::RuleState::from))
                        .event_bus_name("default")
                        .build()
                })
                .collect();
            eb::operation::list_rules::ListRulesOutput::builder()
                .set_rules(Some(rules))
                .build()
        });
        let a = self.clone();
        let delete_rule = mock!(eb::Client::delete_rule).then_compute_response(move |i| {
            let name = i.name().unwrap_or_default().to_string();
            let mut state = a.state();
            // EventBridge refuses to delete a rule that still has targets.
            if state
                .rules
                .get(&name)
                .is_some_and(|r| !r.targets.is_empty())
            {
                return MockResponse::Http(json_error(
                    "ValidationException",
                    "Rule can't be deleted since it has targets.",
                ));
            }
            state.writes.push(format!("events:DeleteRule {name}"));
            state.rules.remove(&name);
            MockResponse::Output(eb::operation::delete_rule::DeleteRuleOutput::builder().build())
        });
        vec![
            describe,
            delete_rule,
            list,
            tags,
            targets,
            put_rule,
            tag,
            put_targets,
            remove_targets,
        ]
    }

    fn iam_rules(&self) -> Vec<Rule> {
        let a = self.clone();
        let get_role = mock!(iam::Client::get_role).then_compute_response(move |i| {
            let name = i.role_name().unwrap_or_default();
            match a.state().roles.get(name) {
                Some(r) => MockResponse::Output(
                    iam::operation::get_role::GetRoleOutput::builder()
                        .role(role_of(name, r))
                        .build(),
                ),
                None => MockResponse::Http(no_such_entity(&format!(
                    "The role with name {name} cannot be found."
                ))),
            }
        });
        let a = self.clone();
        let list_policies = mock!(iam::Client::list_role_policies).then_compute_output(move |i| {
            let name = i.role_name().unwrap_or_default();
            let names = a
                .state()
                .roles
                .get(name)
                .map(|r| r.inline.keys().cloned().collect())
                .unwrap_or_default();
            iam::operation::list_role_policies::ListRolePoliciesOutput::builder()
                .set_policy_names(Some(names))
                .build()
                .unwrap_or_else(|e| panic!("ListRolePoliciesOutput: {e}"))
        });
        let a = self.clone();
        let get_policy = mock!(iam::Client::get_role_policy).then_compute_response(move |i| {
            let (role, policy) = (
                i.role_name().unwrap_or_default(),
                i.policy_name().unwrap_or_default(),
            );
            let document = a
                .state()
                .roles
                .get(role)
                .and_then(|r| r.inline.get(policy).cloned());
            match document {
                Some(document) => MockResponse::Output(
                    iam::operation::get_role_policy::GetRolePolicyOutput::builder()
                        .role_name(role)
                        .policy_name(policy)
                        .policy_document(document)
                        .build()
                        .unwrap_or_else(|e| panic!("GetRolePolicyOutput: {e}")),
                ),
                None => MockResponse::Http(no_such_entity(&format!(
                    "The role policy with name {policy} cannot be found."
                ))),
            }
        });
        let attached = mock!(iam::Client::list_attached_role_policies).then_compute_output(|_| {
            iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput::builder()
                .build()
        });
        let a = self.clone();
        let create = mock!(iam::Client::create_role).then_compute_response(move |i| {
            let name = i.role_name().unwrap_or_default().to_string();
            let mut state = a.state();
            let meanwhile = state
                .role_created_meanwhile
                .take_if(|(taken, _)| *taken == name);
            if let Some((_, tags)) = meanwhile {
                let theirs = FakeRole {
                    arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
                    path: "/".into(),
                    trust_policy: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
                    tags,
                    ..FakeRole::default()
                };
                state.roles.insert(name.clone(), theirs);
            }
            if state.roles.contains_key(&name) {
                return MockResponse::Http(query_error(
                    409,
                    "EntityAlreadyExists",
                    &format!("Role with name {name} already exists."),
                ));
            }
            state.writes.push(format!("iam:CreateRole {name}"));
            let path = i.path().unwrap_or("/").to_string();
            let role = FakeRole {
                arn: format!("arn:aws:iam::{ACCOUNT}:role{path}{name}"),
                path,
                trust_policy: i.assume_role_policy_document().unwrap_or_default().into(),
                boundary: i.permissions_boundary().map(str::to_string),
                tags: i
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
                inline: BTreeMap::new(),
            };
            let out = iam::operation::create_role::CreateRoleOutput::builder()
                .role(role_of(&name, &role))
                .build();
            state.roles.insert(name, role);
            MockResponse::Output(out)
        });
        let a = self.clone();
        let put_policy = mock!(iam::Client::put_role_policy).then_compute_response(move |i| {
            let name = i.role_name().unwrap_or_default().to_string();
            let mut state = a.state();
            let Some(r) = state.roles.get_mut(&name) else {
                return MockResponse::Http(no_such_entity(&format!(
                    "The role with name {name} cannot be found."
                )));
            };
            r.inline.insert(
                i.policy_name().unwrap_or_default().into(),
                i.policy_document().unwrap_or_default().into(),
            );
            state.writes.push(format!("iam:PutRolePolicy {name}"));
            MockResponse::Output(
                iam::operation::put_role_policy::PutRolePolicyOutput::builder().build(),
            )
        });
        let a = self.clone();
        let tag_role = mock!(iam::Client::tag_role).then_compute_output(move |i| {
            let name = i.role_name().unwrap_or_default().to_string();
            let mut state = a.state();
            state.writes.push(format!("iam:TagRole {name}"));
            if let Some(r) = state.roles.get_mut(&name) {
                for t in i.tags() {
                    r.tags.insert(t.key().to_string(), t.value().to_string());
                }
            }
            iam::operation::tag_role::TagRoleOutput::builder().build()
        });
        let a = self.clone();
        let trust = mock!(iam::Client::update_assume_role_policy).then_compute_output(move |i| {
            let name = i.role_name().unwrap_or_default().to_string();
            let mut state = a.state();
            state
                .writes
                .push(format!("iam:UpdateAssumeRolePolicy {name}"));
            if let Some(r) = state.roles.get_mut(&name) {
                r.trust_policy = i.policy_document().unwrap_or_default().into();
            }
            iam::operation::update_assume_role_policy::UpdateAssumeRolePolicyOutput::builder()
                .build()
        });
        // The account-wide role snapshot is denied: roles are read one by one, as under a
        // controller policy without iam:GetAccountAuthorizationDetails.
        let details =
            mock!(iam::Client::get_account_authorization_details).then_http_response(|| {
                query_error(
                    403,
                    "AccessDenied",
                    "not authorized to perform: iam:GetAccountAuthorizationDetails",
                )
            });
        let a = self.clone();
        let delete_policy =
            mock!(iam::Client::delete_role_policy).then_compute_response(move |i| {
                let (name, policy) = (
                    i.role_name().unwrap_or_default().to_string(),
                    i.policy_name().unwrap_or_default(),
                );
                let mut state = a.state();
                let removed = state
                    .roles
                    .get_mut(&name)
                    .and_then(|r| r.inline.remove(policy));
                match removed {
                    Some(_) => {
                        state.writes.push(format!("iam:DeleteRolePolicy {name}"));
                        MockResponse::Output(
                            iam::operation::delete_role_policy::DeleteRolePolicyOutput::builder()
                                .build(),
                        )
                    }
                    None => MockResponse::Http(no_such_entity(&format!(
                        "The role policy with name {policy} cannot be found."
                    ))),
                }
            });
        let a = self.clone();
        let delete_role = mock!(iam::Client::delete_role).then_compute_response(move |i| {
            let name = i.role_name().unwrap_or_default().to_string();
            let mut state = a.state();
            match state.roles.get(&name).map(|r| r.inline.is_empty()) {
                None => MockResponse::Http(no_such_entity(&format!(
                    "The role with name {name} cannot be found."
                ))),
                // IAM refuses to delete a role that still has policies.
                Some(false) => MockResponse::Http(query_error(
                    409,
                    "DeleteConflict",
                    "Cannot delete entity, must delete policies first.",
                )),
                Some(true) => {
                    state.writes.push(format!("iam:DeleteRole {name}"));
                    state.roles.remove(&name);
                    MockResponse::Output(
                        iam::operation::delete_role::DeleteRoleOutput::builder().build(),
                    )
                }
            }
        });
        let a = self.clone();
        let untag = mock!(iam::Client::untag_role).then_compute_output(move |i| {
            let name = i.role_name().unwrap_or_default().to_string();
            let mut state = a.state();
            state.writes.push(format!("iam:UntagRole {name}"));
            if let Some(r) = state.roles.get_mut(&name) {
                r.tags.retain(|k, _| !i.tag_keys().contains(k));
            }
            iam::operation::untag_role::UntagRoleOutput::builder().build()
        });
        vec![
            details,
            delete_policy,
            delete_role,
            untag,
            get_role,
            list_policies,
            get_policy,
            attached,
            create,
            put_policy,
            tag_role,
            trust,
        ]
    }
}

/// IAM's role as GetRole and CreateRole return it.
fn role_of(name: &str, r: &FakeRole) -> iam::types::Role {
    iam::types::Role::builder()
        .role_name(name)
        .role_id(format!("AROA{}", name.len()))
        .arn(&r.arn)
        .path(&r.path)
        .create_date(DateTime::from_secs(1_767_225_600))
        .assume_role_policy_document(&r.trust_policy)
        .set_permissions_boundary(r.boundary.as_ref().map(|arn| {
            iam::types::AttachedPermissionsBoundary::builder()
                .permissions_boundary_arn(arn)
                .permissions_boundary_type(iam::types::PermissionsBoundaryAttachmentType::Policy)
                .build()
        }))
        .set_tags(Some(
            r.tags
                .iter()
                .filter_map(|(k, v)| iam::types::Tag::builder().key(k).value(v).build().ok())
                .collect(),
        ))
        .build()
        .unwrap_or_else(|e| panic!("Role: {e}"))
}

/// EventBridge's "no such rule", as on the wire (the SDK's deserializer classifies it).
fn not_found_json(message: &str) -> HttpResponse {
    json_error("ResourceNotFoundException", message)
}

/// An EventBridge (JSON protocol) error response.
fn json_error(code: &'static str, message: &str) -> HttpResponse {
    let body = serde_json::json!({"__type": code, "message": message});
    let mut response = HttpResponse::new(
        StatusCode::try_from(400).unwrap_or_else(|e| panic!("{e}")),
        SdkBody::from(body.to_string()),
    );
    response.headers_mut().insert("x-amzn-errortype", code);
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.1");
    response
}

/// IAM's "no such entity", as on the wire.
fn no_such_entity(message: &str) -> HttpResponse {
    query_error(404, "NoSuchEntity", message)
}

/// An IAM (query protocol) error response.
fn query_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fake</RequestId></ErrorResponse>"
    );
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).unwrap_or_else(|e| panic!("{e}")),
        SdkBody::from(body),
    );
    response.headers_mut().insert("content-type", "text/xml");
    response
}
