//! The checks: for each target of the rule, every reason EventBridge's invocation would be
//! AccessDenied, each a [`Finding`] with its fix. Pure: a snapshot in, findings out.

use serde_json::{json, Value};

use super::finding::{Code, Finding};
use super::remedy;
use super::snapshot::{Chain, Expectations, Role, Rule, Snapshot, Target};
use crate::iam::eval::{
    evaluate_identity, evaluate_resource_policy, Evaluation, NearMiss, NotEvaluated,
};
use crate::iam::policy::Effect;
use crate::iam::request::{self, org_blocks, Layer, Named, OrgBlock, OrgLevel, Policies};
use crate::iam::{Arn, Caller, Context, Decision, NamedPolicy, PolicyDocument, Request};

const EVENTS: &str = "events.amazonaws.com";
const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";

/// Runs every check; errors first, then warnings; no duplicates.
pub fn diagnose(snapshot: &Snapshot, expect: &Expectations) -> Vec<Finding> {
    let mut out = Findings::default();
    if snapshot.rule.is_none() && expect.rule_name.is_none() && !snapshot.chains.is_empty() {
        // Only a trust chain to verify.
        for chain in &snapshot.chains {
            check_chain(snapshot, chain, &mut out);
        }
        return out.finish();
    }
    let Some(rule) = &snapshot.rule else {
        let name = expect.rule_name.as_deref().unwrap_or("<rule>");
        out.push(Finding::new(
            Code::RuleNotFound,
            expect.target_id.as_deref(),
            Some(name),
            format!("The EventBridge rule {name} does not exist, so nothing invokes the target."),
            format!(
                "Create the rule: aws events put-rule --name {name} --event-bus-name {} --event-pattern '…' (or --schedule-expression '…')",
                expect.event_bus_name.as_deref().unwrap_or("default")
            ),
        ));
        return out.finish();
    };
    check_rule(rule, &mut out);
    let account = Arn::parse(&rule.arn).map(|a| a.account).unwrap_or_default();

    if let Some(id) = &expect.target_id {
        if !snapshot.targets.iter().any(|t| &t.id == id) {
            let arn = expect.target_arn.as_deref().unwrap_or("<target ARN>");
            out.push(Finding::new(
                Code::TargetNotFound,
                Some(id),
                Some(&rule.arn),
                format!(
                    "Rule {} has no target with ID {id}, so matching events go nowhere.",
                    rule.name
                ),
                format!(
                    "aws events put-targets --rule {} --event-bus-name {} --targets '[{}]'",
                    rule.name,
                    rule.event_bus_name,
                    json!({"Id": id, "Arn": arn})
                ),
            ));
        }
    }
    for target in &snapshot.targets {
        if expect.target_id.as_ref().is_some_and(|id| id != &target.id) {
            continue;
        }
        TargetCheck {
            snapshot,
            expect,
            rule,
            account: &account,
            target,
            out: &mut out,
        }
        .run();
    }
    for chain in &snapshot.chains {
        check_chain(snapshot, chain, &mut out);
    }
    if let Some(evidence) = &snapshot.delivery {
        let roles: Vec<&str> = snapshot
            .targets
            .iter()
            .filter_map(|t| t.role_arn.as_deref())
            .collect();
        let reported = evidence.finding(&rule.arn, &roles, &out.0);
        out.0.extend(reported);
    }
    out.finish()
}

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, f: Finding) {
        if !self
            .0
            .iter()
            .any(|g| g.code == f.code && g.resource == f.resource && g.target_id == f.target_id)
        {
            self.0.push(f);
        }
    }
    fn finish(mut self) -> Vec<Finding> {
        // Stable order: severity, then the order the checks ran in (cause before consequence).
        self.0.sort_by_key(|f| f.severity);
        self.0
    }
}

fn check_rule(rule: &Rule, out: &mut Findings) {
    check_arn(&rule.arn, None, "the rule ARN", out);
    if !rule.enabled {
        out.push(Finding::new(
            Code::RuleDisabled,
            None,
            Some(&rule.arn),
            format!(
                "Rule {} is DISABLED: EventBridge does not match events or run schedules for it.",
                rule.name
            ),
            format!(
                "aws events enable-rule --name {} --event-bus-name {}",
                rule.name, rule.event_bus_name
            ),
        ));
    }
}

/// ArnMalformed / ArnMissingAccountId for a value that must be an ARN. True when usable.
fn check_arn(value: &str, target_id: Option<&str>, what: &str, out: &mut Findings) -> bool {
    match Arn::parse(value) {
        Err(_) => {
            out.push(Finding::new(
                Code::ArnMalformed,
                target_id,
                Some(value),
                format!("{what} `{value}` is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)."),
                format!("Replace `{value}` with the full ARN of the resource, e.g. from the console or `aws … describe-…`."),
            ));
            false
        }
        Ok(arn) if arn.missing_account() => {
            out.push(Finding::new(
                Code::ArnMissingAccountId,
                target_id,
                Some(value),
                format!(
                    "{what} `{value}` has no account ID; {} ARNs must name the owning account, so it matches nothing and the call is denied.",
                    arn.service
                ),
                format!("Put the 12-digit account ID between the 4th and 5th colons: arn:{}:{}:{}:ACCOUNT_ID:{}", arn.partition, arn.service, arn.region, arn.resource),
            ));
            false
        }
        Ok(_) => true,
    }
}

struct TargetCheck<'a> {
    snapshot: &'a Snapshot,
    expect: &'a Expectations,
    rule: &'a Rule,
    account: &'a str,
    target: &'a Target,
    out: &'a mut Findings,
}

impl<'a> TargetCheck<'a> {
    fn finding(&mut self, code: Code, resource: &str, message: String, remediation: String) {
        let f = Finding::new(
            code,
            Some(&self.target.id),
            Some(resource),
            message,
            remediation,
        );
        self.out.push(f);
    }

    fn run(mut self) {
        let t = self.target;
        if !check_arn(&t.arn, Some(&t.id), "The target ARN", self.out) {
            return;
        }
        if let Some(dlq) = &t.dead_letter_arn {
            if check_arn(dlq, Some(&t.id), "The dead-letter queue ARN", self.out) {
                self.check_dead_letter_queue(dlq);
            }
        }
        let Ok(arn) = Arn::parse(&t.arn) else {
            return; // reported by check_arn above
        };
        let rule_region = Arn::parse(&self.rule.arn)
            .map(|a| a.region)
            .unwrap_or_default();
        let cross_account = !arn.account.is_empty() && arn.account != self.account;
        match arn.service.as_str() {
            "ecs" | "states" | "kinesis" | "execute-api" => {
                // Since January 2025 EventBridge delivers directly to a stream or a REST API of
                // another account in the rule's region, with the rule's role, which the
                // stream's or API's resource policy must name; never across regions. (An
                // API's resource policy is not gathered: only the role is judged.)
                let direct_kind = matches!(arn.service.as_str(), "kinesis" | "execute-api");
                let direct = direct_kind && arn.region == rule_region;
                if cross_account && direct && arn.service == "kinesis" {
                    self.check_direct_target(&arn);
                    return;
                }
                if cross_account && !direct {
                    self.finding(
                        Code::CrossAccountUnsupportedTarget,
                        &t.arn,
                        format!(
                            "The target is in account {} but the rule is in account {}: EventBridge cannot invoke {} targets in another account directly{}.",
                            arn.account, self.account, role_target_kind(&arn),
                            if direct_kind { " outside the rule's region" } else { "" }
                        ),
                        format!(
                            "Forward events bus to bus: target the event bus arn:{}:events:{}:{}:event-bus/default from this rule, allow account {} in that bus's resource policy, and create the rule and the {} target in account {} (crossAccount.mode: EventBusForwarding).",
                            arn.partition, arn.region, arn.account, self.account, role_target_kind(&arn), arn.account
                        ),
                    );
                    return;
                }
                self.check_role_target(&arn);
            }
            "events" if arn.resource.starts_with("api-destination/") => {
                if cross_account {
                    self.finding(
                        Code::CrossAccountUnsupportedTarget,
                        &t.arn,
                        format!(
                            "The API destination is in account {} but the rule is in account {}: a rule can only call an API destination of its own account.",
                            arn.account, self.account
                        ),
                        format!("Create the connection and API destination in account {} (or forward events bus to bus to account {}, and call the destination from a rule there).", self.account, arn.account),
                    );
                    return;
                }
                self.check_connection(&arn);
                self.check_role_target(&arn);
            }
            "events" if arn.resource.starts_with("event-bus/") => self.check_bus_target(&arn),
            "sqs" | "sns" if cross_account => {
                if arn.region != rule_region {
                    self.finding(
                        Code::CrossAccountUnsupportedTarget,
                        &t.arn,
                        format!(
                            "The target is in account {} and region {}, the rule in {} and {}: EventBridge delivers to a queue or topic of another account only within the same region.",
                            arn.account, arn.region, self.account, rule_region
                        ),
                        "Put the rule in the target's region, or forward events bus to bus to the target's account (crossAccount.mode: EventBusForwarding).".into(),
                    );
                    return;
                }
                self.check_direct_target(&arn);
            }
            "sqs" if !cross_account => self.check_sqs_target(&arn),
            "sns" if !cross_account => self.check_sns_target(&arn),
            "logs" if !cross_account => self.check_logs_target(&arn),
            "lambda" => {
                if cross_account && arn.region != rule_region {
                    self.finding(
                        Code::CrossAccountUnsupportedTarget,
                        &t.arn,
                        format!(
                            "The function is in account {} and region {}, the rule in {} and {}: EventBridge delivers to a Lambda function in another account only within the same region.",
                            arn.account, arn.region, self.account, rule_region
                        ),
                        "Put the rule in the function's region, or forward events bus to bus to the function's account (crossAccount.mode: EventBusForwarding).".into(),
                    );
                    return;
                }
                self.check_lambda(&arn);
            }
            _ => {}
        }
    }

    /// ECS and Step Functions: a role in the rule's account that trusts EventBridge and may act.
    /// The role the target uses, after every check that it exists and can be used: missing,
    /// malformed, in another account, not found. None when a finding says why not.
    fn target_role(&mut self, action: &str) -> Option<&'a Role> {
        let t = self.target;
        let snapshot = self.snapshot;
        let Some(role_arn) = &t.role_arn else {
            self.finding(
                Code::TargetRoleMissing,
                &t.arn,
                format!("Target {} has no RoleArn: EventBridge needs a role to call {action} on your behalf.", t.id),
                format!(
                    "Create a role that trusts events.amazonaws.com and set it on the target: aws events put-targets --rule {} --event-bus-name {} --targets '[{{\"Id\":\"{}\",\"Arn\":\"{}\",\"RoleArn\":\"arn:aws:iam::{}:role/ROLE_NAME\", …}}]'",
                    self.rule.name, self.rule.event_bus_name, t.id, t.arn, self.account
                ),
            );
            return None;
        };
        if !check_arn(role_arn, Some(&t.id), "The target's RoleArn", self.out) {
            return None;
        }
        let role_account = Arn::parse(role_arn).map(|a| a.account).unwrap_or_default();
        if role_account != self.account {
            self.finding(
                Code::CrossAccountUnsupportedTarget,
                role_arn,
                format!("The target's role is in account {role_account} but the rule is in {}: EventBridge only assumes roles of the rule's account and does not chain roles.", self.account),
                format!("Use a role in account {} as the target's RoleArn; reach the other account bus to bus (crossAccount.mode: EventBusForwarding).", self.account),
            );
            return None;
        }
        let Some(role) = snapshot.roles.get(role_arn) else {
            self.finding(
                Code::TargetRoleNotFound,
                role_arn,
                format!(
                    "The target's RoleArn names role {} which does not exist.",
                    remedy::role_name(role_arn)
                ),
                format!(
                    "aws iam create-role --role-name {} --assume-role-policy-document '{}'",
                    remedy::role_name(role_arn),
                    remedy::events_trust_policy(self.account, &self.rule.arn)
                ),
            );
            return None;
        };
        Some(role)
    }

    /// An event bus target: forwarding to another bus, with a role EventBridge assumes.
    fn check_bus_target(&mut self, arn: &Arn) {
        let cross_account = arn.account != self.account;
        if self.target.role_arn.is_none() && !cross_account {
            return; // same-account bus targets may go without a role
        }
        if let Some(role) = self.target_role("events:PutEvents on the target bus") {
            self.check_trust(role);
            self.check_policy_arns(role);
        }
    }

    /// A queue, topic or stream of another account, delivered to directly: the rule's
    /// execution role (of the rule's account) must trust EventBridge and may send, publish or
    /// put (checked as a role target), and the queue's, topic's or stream's policy must name
    /// that role (checked when the holder was gathered).
    fn check_direct_target(&mut self, arn: &Arn) {
        let t = self.target;
        self.check_role_target(arn);
        let (Some(role_arn), Some(holder)) = (
            &t.role_arn,
            self.snapshot
                .dead_letter_queues
                .as_ref()
                .and_then(|h| h.get(&t.arn)),
        ) else {
            return;
        };
        let (action, code, what, command) = match arn.service.as_str() {
            "sns" => (
                "sns:Publish",
                Code::SnsTopicPolicyMissing,
                "topic",
                "aws sns set-topic-attributes --attribute-name Policy",
            ),
            "kinesis" => (
                "kinesis:PutRecord",
                Code::KinesisStreamPolicyMissing,
                "stream",
                "aws kinesis put-resource-policy",
            ),
            _ => (
                "sqs:SendMessage",
                Code::SqsQueuePolicyMissing,
                "queue",
                "aws sqs set-queue-attributes",
            ),
        };
        let Some((why, notes)) =
            self.resource_policy_denies(&t.arn, arn, holder, action, Some(role_arn))
        else {
            return;
        };
        let statement = crate::iam::documents::role_send_statement(
            &format!("events-{}", self.rule.name),
            action,
            &t.arn,
            role_arn,
        );
        self.finding(
            code,
            &t.arn,
            format!(
                "The {what} {} (account {}) does not let the rule's execution role {role_arn} {action}: {why}. EventBridge delivers to a {what} of another account with that role.",
                t.arn, arn.account
            ),
            format!(
                "Add this statement to the {what}'s policy ({command}), with credentials of account {}: {statement}",
                arn.account
            ),
        );
        self.note_not_evaluated(code, &t.arn, &notes);
    }

    /// ConnectionNotAuthorized: EventBridge calls an API destination only through an
    /// authorized connection; any other state (deauthorized after a refused token or key,
    /// still authorizing, deleted) fails every call, whatever the role may do.
    fn check_connection(&mut self, arn: &Arn) {
        let Some(d) = self.snapshot.api_destinations.get(&self.target.arn) else {
            return;
        };
        let name = arn
            .resource
            .trim_start_matches("api-destination/")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let connection_name = d
            .connection_arn
            .rsplit(":connection/")
            .next()
            .and_then(|n| n.split('/').next())
            .unwrap_or_default()
            .to_string();
        let (message, remediation) = match (&d.connection_state, &d.connection_state_reason) {
            (Some(state), _) if state == "AUTHORIZED" => return,
            (None, _) => (
                format!("API destination {name} uses connection {}, which does not exist: EventBridge cannot call the endpoint.", d.connection_arn),
                format!("Create the connection (aws events create-connection --name {connection_name} …) and point the destination at it (aws events update-api-destination --name {name} --connection-arn …)."),
            ),
            (Some(state), reason) => (
                format!(
                    "Connection {connection_name} of API destination {name} is {state}, not AUTHORIZED{}: EventBridge fails every call to the endpoint.",
                    reason.as_ref().map(|r| format!(" (AWS: \"{r}\")")).unwrap_or_default()
                ),
                format!("Fix the credentials the connection holds (for OAuth, the client ID and secret and the token endpoint must be accepted by the authorization server), then write them again: aws events update-connection --name {connection_name} --authorization-type … --auth-parameters …; a controller-managed connection is rewritten when its Secret changes."),
            ),
        };
        self.finding(
            Code::ConnectionNotAuthorized,
            &d.connection_arn.clone(),
            message,
            remediation,
        );
    }

    fn check_role_target(&mut self, arn: &Arn) {
        let t = self.target;
        let Some(role) = self.target_role(required_action(arn)) else {
            return;
        };
        let role_arn = &role.arn;
        let task_definition = t.task_definition_arn.as_ref().and_then(|td| {
            self.snapshot
                .task_definitions
                .get(td)
                .or_else(|| find_task_definition(self.snapshot, td))
        });
        if arn.service == "ecs" {
            if let Some(td) = task_definition {
                if td.roles_to_pass().iter().any(|r| r == role_arn) {
                    self.finding(
                        Code::TargetRoleIsTaskRole,
                        role_arn,
                        format!(
                            "The target's RoleArn {role_arn} is the task definition's execution or task role. That role is for the task itself (trusted by ecs-tasks.amazonaws.com); EventBridge needs its own role to call ecs:RunTask and pass the task's roles."
                        ),
                        "Create a separate role for EventBridge (trusting events.amazonaws.com) with ecs:RunTask and iam:PassRole on the task's roles, and use it as the target's RoleArn.".into(),
                    );
                }
            }
        }
        self.check_trust(role);
        self.check_policy_arns(role);
        let account = self.account.to_string();
        let principal_ctx = || {
            Context::new()
                .with("aws:PrincipalArn", role_arn.clone())
                .with("aws:PrincipalAccount", account.clone())
        };
        let caller = Caller::Aws {
            arn: role_arn.clone(),
            account: account.clone(),
        };
        match arn.service.as_str() {
            "ecs" => {
                let td_arn = t.task_definition_arn.clone().unwrap_or_default();
                if !td_arn.is_empty()
                    && check_arn(
                        &td_arn,
                        Some(&t.id),
                        "The target's TaskDefinitionArn",
                        self.out,
                    )
                {
                    let request = Request {
                        caller: caller.clone(),
                        action: "ecs:RunTask".into(),
                        resource: Some(td_arn.clone()),
                        context: principal_ctx().with("ecs:cluster", t.arn.clone()),
                    };
                    let statement = remedy::run_task_statement(&td_arn, &t.arn);
                    self.check_permission(
                        role,
                        &request,
                        Code::RunTaskNotAllowed,
                        &td_arn,
                        statement,
                        &format!("ecs:RunTask on {td_arn} in cluster {}", t.arn),
                    );
                }
                let to_pass = match task_definition {
                    Some(td) => td.roles_to_pass(),
                    None => self.expect.pass_role_arns.clone(),
                };
                for passed in to_pass {
                    let request = Request {
                        caller: caller.clone(),
                        action: "iam:PassRole".into(),
                        resource: Some(passed.clone()),
                        context: principal_ctx().with("iam:PassedToService", ECS_TASKS),
                    };
                    let statement = remedy::pass_role_statement(std::slice::from_ref(&passed));
                    self.check_permission(
                        role,
                        &request,
                        Code::PassRoleMissing,
                        &passed,
                        statement,
                        &format!(
                            "iam:PassRole on {passed} (the task's role) to ecs-tasks.amazonaws.com"
                        ),
                    );
                }
            }
            _ => {
                let (action, code) = target_action(arn);
                let request = Request {
                    caller,
                    action: action.into(),
                    resource: Some(t.arn.clone()),
                    context: principal_ctx(),
                };
                let statement = remedy::invoke_statement(action, &t.arn);
                self.check_permission(
                    role,
                    &request,
                    code,
                    &t.arn,
                    statement,
                    &format!("{action} on {}", t.arn),
                );
            }
        }
        self.check_broad_statements(role);
    }

    fn check_trust(&mut self, role: &Role) {
        let Ok(doc) = PolicyDocument::parse(&role.trust_policy) else {
            self.finding(
                Code::TrustPolicyMissingServicePrincipal,
                &role.arn,
                format!(
                    "The trust policy of role {} cannot be read, so it allows no one.",
                    role.name
                ),
                remedy::update_trust(&role.arn, self.account, &self.rule.arn),
            );
            return;
        };
        let request = Request {
            caller: Caller::Service(EVENTS.into()),
            action: "sts:AssumeRole".into(),
            resource: None,
            context: Context::new()
                .with("aws:SourceAccount", self.account)
                .with("aws:SourceArn", self.rule.arn.clone()),
        };
        let eval = evaluate_resource_policy(
            &NamedPolicy {
                name: "trust policy",
                document: &doc,
            },
            &request,
        );
        let fix = remedy::update_trust(&role.arn, self.account, &self.rule.arn);
        let rcp_request = Request {
            resource: Some(role.arn.clone()),
            ..request.clone()
        };
        self.check_resource_control(
            &rcp_request,
            &format!(
                "EventBridge (events.amazonaws.com) sts:AssumeRole on role {}",
                role.name
            ),
        );
        match eval.decision {
            Decision::Allow => {
                let unprotected = allowed_without_source_condition(&eval, &doc);
                if unprotected {
                    self.finding(
                        Code::ConfusedDeputyUnprotected,
                        &role.arn,
                        format!("Role {} trusts events.amazonaws.com without an aws:SourceAccount or aws:SourceArn condition: any account's rule could make EventBridge assume it (confused deputy).", role.name),
                        fix,
                    );
                }
            }
            Decision::ExplicitDeny => {
                self.explicit_deny(&eval, &role.arn, "sts:AssumeRole by events.amazonaws.com");
                self.finding(
                    Code::TrustPolicyMissingServicePrincipal,
                    &role.arn,
                    format!(
                        "The trust policy of role {} denies events.amazonaws.com sts:AssumeRole.",
                        role.name
                    ),
                    fix,
                );
            }
            Decision::ImplicitDeny if !eval.near_misses.is_empty() => {
                self.finding(
                    Code::TrustPolicyConditionMismatch,
                    &role.arn,
                    format!(
                        "Role {} trusts events.amazonaws.com, but only under conditions this rule does not meet: {} (this rule: aws:SourceAccount={}, aws:SourceArn={}).",
                        role.name,
                        describe_failed(&eval.near_misses),
                        self.account,
                        self.rule.arn
                    ),
                    fix,
                );
            }
            Decision::ImplicitDeny => {
                self.finding(
                    Code::TrustPolicyMissingServicePrincipal,
                    &role.arn,
                    format!("The trust policy of role {} does not let events.amazonaws.com sts:AssumeRole, so EventBridge cannot use the role.", role.name),
                    fix,
                );
            }
        }
    }

    /// One required permission of the role; names the precise reason it fails.
    fn check_permission(
        &mut self,
        role: &Role,
        request: &Request,
        code: Code,
        resource: &str,
        statement: Value,
        what: &str,
    ) {
        let docs = identity_documents(role);
        let boundary = role
            .permissions_boundary
            .as_ref()
            .and_then(|(arn, d)| PolicyDocument::parse(d).ok().map(|d| (arn.clone(), d)));
        let named: Vec<NamedPolicy<'_>> = docs
            .iter()
            .map(|(n, d)| NamedPolicy {
                name: n,
                document: d,
            })
            .collect();
        let boundary_named = boundary.as_ref().map(|(n, d)| NamedPolicy {
            name: n,
            document: d,
        });
        let eval = evaluate_identity(&named, boundary_named.as_ref(), request);
        let role_name = role.name.clone();
        match eval.decision {
            Decision::Allow => {}
            Decision::ExplicitDeny => {
                self.explicit_deny(&eval, resource, what);
                self.finding(
                    code,
                    resource,
                    format!("Role {role_name} may not {what}: an explicit Deny blocks it."),
                    remedy::put_statement(&role.arn, "eventbridge-invoke", statement),
                );
            }
            Decision::ImplicitDeny if eval.boundary_blocks => {
                let (boundary_arn, _) = role.permissions_boundary.clone().unwrap_or_default();
                self.finding(
                    Code::PermissionsBoundaryBlocks,
                    &boundary_arn,
                    format!("Role {role_name}'s policies allow {what}, but its permissions boundary {boundary_arn} does not, so the effective permission is denied."),
                    format!("Allow the action in the boundary policy {boundary_arn} (a new default version with this statement):\n{}", serde_json::to_string_pretty(&statement).unwrap_or_default()),
                );
            }
            Decision::ImplicitDeny => {
                let detail = if eval.near_misses.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (a statement comes close, but {})",
                        describe_failed(&eval.near_misses)
                    )
                };
                self.finding(
                    code,
                    resource,
                    format!("Role {role_name} is not allowed {what}{detail}."),
                    remedy::put_statement(&role.arn, "eventbridge-invoke", statement),
                );
            }
        }
        self.note_not_evaluated(code, resource, &eval.not_evaluated);
        self.check_service_control(role, request, what);
    }

    /// Attaches "not evaluated" notes to the finding of this code and resource, if any.
    fn note_not_evaluated(&mut self, code: Code, resource: &str, notes: &[NotEvaluated]) {
        if notes.is_empty() {
            return;
        }
        let target = Some(self.target.id.clone());
        if let Some(f) = self.out.0.iter_mut().find(|f| {
            f.code == code && f.resource.as_deref() == Some(resource) && f.target_id == target
        }) {
            f.not_evaluated.extend(notes.iter().map(|n| n.to_string()));
        }
    }

    /// The request context organisation policies see: what this engine knows, and the keys
    /// whose value it cannot know offline marked unknown (so a condition on them is reported
    /// as not evaluated instead of being judged as if the key were absent).
    fn org_context(&self, base: &Context, service_principal: bool) -> Context {
        let mut ctx = base.clone();
        let org_id = self
            .snapshot
            .organization
            .as_ref()
            .and_then(|o| o.id.clone());
        let region = Arn::parse(&self.rule.arn)
            .map(|a| a.region)
            .unwrap_or_default();
        ctx = ctx
            .with("aws:ResourceAccount", self.account)
            .with("aws:PrincipalIsAWSService", service_principal.to_string());
        if !region.is_empty() {
            ctx = ctx.with("aws:RequestedRegion", region);
        }
        if service_principal {
            ctx = ctx.with("aws:PrincipalServiceName", EVENTS);
        }
        let org_keys: &[&str] = if service_principal {
            &["aws:SourceOrgID", "aws:ResourceOrgID"]
        } else {
            &["aws:PrincipalOrgID", "aws:ResourceOrgID"]
        };
        for key in org_keys {
            ctx = match &org_id {
                Some(id) => ctx.with(key, id.clone()),
                None => ctx.with_unknown(key),
            };
        }
        for key in [
            "aws:PrincipalOrgPaths",
            "aws:ResourceOrgPaths",
            "aws:SourceOrgPaths",
            "aws:PrincipalTag/",
            "aws:ResourceTag/",
            "aws:RequestTag/",
            "aws:TagKeys",
            "aws:SourceIp",
            "aws:SourceVpc",
            "aws:SourceVpce",
            "aws:VpcSourceIp",
            "aws:ViaAWSService",
            "aws:CalledVia",
            "aws:CalledViaFirst",
            "aws:CalledViaLast",
            "aws:CurrentTime",
            "aws:EpochTime",
            "aws:userid",
        ] {
            ctx = ctx.with_unknown(key);
        }
        ctx
    }

    /// SCPs limit what the target's role may do (EventBridge itself, a service principal,
    /// is not subject to them).
    fn check_service_control(&mut self, role: &Role, request: &Request, what: &str) {
        let snapshot = self.snapshot;
        let Some(org) = &snapshot.organization else {
            return;
        };
        if org.service_control.is_empty() || role.arn.contains(":role/aws-service-role/") {
            return;
        }
        let request = Request {
            context: self.org_context(&request.context, false),
            ..request.clone()
        };
        let (blocks, unknown) = org_blocks(&org.service_control, &request, Layer::Scp);
        let Some(block) = blocks.first() else {
            return;
        };
        let (message, fix) = org_block_text(
            "service control policy",
            "p-FullAWSAccess",
            block,
            &org.service_control,
            &format!("role {} {what}", role.name),
            &format!(
                "an exception for this role in its Condition (ArnNotLike aws:PrincipalArn {})",
                role.arn
            ),
        );
        self.finding(Code::ServiceControlPolicyBlocks, &block.level, message, fix);
        self.note_not_evaluated(
            Code::ServiceControlPolicyBlocks,
            &block.level.clone(),
            &unknown,
        );
    }

    /// RCPs limit what anyone, AWS services included, may do to the account's resources.
    /// True when they block.
    fn check_resource_control(&mut self, request: &Request, what: &str) -> bool {
        let snapshot = self.snapshot;
        let Some(org) = &snapshot.organization else {
            return false;
        };
        if org.resource_control.is_empty() {
            return false;
        }
        let request = Request {
            context: self.org_context(
                &request.context,
                matches!(request.caller, Caller::Service(_)),
            ),
            ..request.clone()
        };
        let (blocks, unknown) = org_blocks(&org.resource_control, &request, Layer::Rcp);
        let Some(block) = blocks.first() else {
            return false;
        };
        let exception = format!(
            "an exception for EventBridge acting for this account in its Condition (StringEquals aws:SourceAccount {})",
            self.account
        );
        let (message, fix) = org_block_text(
            "resource control policy",
            "p-RCPFullAWSAccess",
            block,
            &org.resource_control,
            what,
            &exception,
        );
        self.finding(
            Code::ResourceControlPolicyBlocks,
            &block.level,
            message,
            fix,
        );
        self.note_not_evaluated(
            Code::ResourceControlPolicyBlocks,
            &block.level.clone(),
            &unknown,
        );
        true
    }

    /// A dead-letter queue: same region as the rule, exists, lets EventBridge send to it
    /// (queue policy, RCPs) and, when encrypted with a KMS key, lets EventBridge use the key.
    fn check_dead_letter_queue(&mut self, dlq: &str) {
        let Ok(queue_arn) = Arn::parse(dlq) else {
            return;
        };
        let rule_region = Arn::parse(&self.rule.arn)
            .map(|a| a.region)
            .unwrap_or_default();
        let name = queue_arn.resource.clone();
        if queue_arn.region != rule_region {
            self.finding(
                Code::DeadLetterQueueInOtherRegion,
                dlq,
                format!(
                    "The dead-letter queue {dlq} is in {}, the rule in {rule_region}: EventBridge only sends failed events to a queue in the rule's region, so they are dropped.",
                    queue_arn.region
                ),
                format!(
                    "aws sqs create-queue --queue-name {name} --region {rule_region}, then set DeadLetterConfig.Arn of target {} to arn:{}:sqs:{rule_region}:{}:{name}",
                    self.target.id, queue_arn.partition, queue_arn.account
                ),
            );
            return;
        }
        let snapshot = self.snapshot;
        let Some(queues) = &snapshot.dead_letter_queues else {
            return; // not gathered: only the ARN could be checked
        };
        let statement = remedy::dead_letter_queue_statement(
            &remedy::dead_letter_queue_sid(&self.rule.arn),
            dlq,
            &self.rule.arn,
        );
        let Some(queue) = queues.get(dlq) else {
            self.finding(
                Code::DeadLetterQueueNotFound,
                dlq,
                format!("The dead-letter queue {dlq} does not exist: events EventBridge fails to deliver (permission errors included) are dropped, and only the InvocationsFailedToBeSentToDlq metric says so."),
                format!(
                    "aws sqs create-queue --queue-name {name} --region {rule_region}\n{}",
                    remedy::add_queue_statement(dlq, &statement)
                ),
            );
            return;
        };
        if let Some((why, notes)) = self.queue_send_denied(dlq, &queue_arn, queue) {
            self.finding(
                Code::DeadLetterQueuePermissionMissing,
                dlq,
                format!("EventBridge may not send to the dead-letter queue {dlq}: {why}. Failed events (permission errors go straight to the queue) are dropped."),
                remedy::add_queue_statement(dlq, &statement),
            );
            self.note_not_evaluated(Code::DeadLetterQueuePermissionMissing, dlq, &notes);
        }
        if let Some(key) = &queue.kms_key {
            self.check_queue_key(
                dlq,
                &queue_arn,
                key,
                Code::DeadLetterQueueKmsKeyNotPermitted,
                "dead-letter queue",
            );
        }
    }

    /// Why EventBridge may not `sqs:SendMessage` to `queue_arn` for this rule (its policy,
    /// evaluated), with what could not be evaluated; None when it may, or when a resource
    /// control policy blocks it (that finding is already made).
    fn queue_send_denied(
        &mut self,
        queue_arn: &str,
        parsed: &Arn,
        queue: &crate::diagnose::snapshot::Queue,
    ) -> Option<(&'static str, Vec<NotEvaluated>)> {
        self.resource_policy_denies(queue_arn, parsed, queue, "sqs:SendMessage", None)
    }

    /// Whether the policy of `queue` (an SQS queue or SNS topic, as gathered) denies
    /// EventBridge `action` for this rule: why, and what was not evaluated. `role`: the rule's
    /// execution role, which acts instead of events.amazonaws.com (direct delivery to another
    /// account); the organisation's resource control policies apply to either.
    fn resource_policy_denies(
        &mut self,
        queue_arn: &str,
        parsed: &Arn,
        queue: &crate::diagnose::snapshot::Queue,
        action: &'static str,
        role: Option<&str>,
    ) -> Option<(&'static str, Vec<NotEvaluated>)> {
        let noun = if action.starts_with("sns:") {
            "topic"
        } else if action.starts_with("logs:") {
            "logs resource"
        } else {
            "queue"
        };
        let policy = queue
            .policy
            .as_ref()
            .and_then(|p| PolicyDocument::parse(p).ok())
            .map(|document| Named {
                name: format!("{noun} policy"),
                id: None,
                document,
            });
        let (caller, principal, context, who) = match role {
            None => (
                Caller::Service(EVENTS.into()),
                request::Principal::Service(EVENTS.into()),
                Context::new()
                    .with("aws:SourceArn", self.rule.arn.clone())
                    .with("aws:SourceAccount", self.account),
                format!("EventBridge (events.amazonaws.com) {action} on {queue_arn}"),
            ),
            Some(role) => (
                Caller::Aws {
                    arn: role.to_string(),
                    account: self.account.to_string(),
                },
                request::Principal::Role {
                    arn: role.to_string(),
                    account: self.account.to_string(),
                },
                Context::new()
                    .with("aws:PrincipalArn", role)
                    .with("aws:PrincipalAccount", self.account),
                format!("EventBridge with role {role}: {action} on {queue_arn}"),
            ),
        };
        let request = Request {
            caller,
            action: action.into(),
            resource: Some(queue_arn.to_string()),
            context,
        };
        if self.check_resource_control(&request, &who) {
            return None;
        }
        let outcome = request::evaluate(
            &request::Question {
                principal,
                action: request.action.clone(),
                resource: queue_arn.to_string(),
                // The role's own permission is judged apart (`check_role_target`): asked as
                // if in one account, the question is the resource policy's answer alone.
                resource_account: Some(match role {
                    None => parsed.account.clone(),
                    Some(_) => self.account.to_string(),
                }),
                context: request.context.clone(),
            },
            &Policies {
                resource: policy,
                ..Default::default()
            },
        );
        if outcome.decision == Decision::Allow {
            return None;
        }
        let why = if role.is_some() {
            if outcome.decision == Decision::ExplicitDeny {
                "a Deny in its policy blocks the rule's execution role"
            } else if queue.policy.is_none() {
                "it has no policy, and a role of another account needs one that names it"
            } else {
                "no statement of its policy lets the rule's execution role do so"
            }
        } else if outcome.decision == Decision::ExplicitDeny {
            "a Deny in its policy blocks events.amazonaws.com"
        } else if queue.policy.is_none() {
            match noun {
                "topic" => "it has no topic policy",
                "logs resource" => "the account has no CloudWatch Logs resource policy",
                _ => "it has no queue policy",
            }
        } else if noun == "logs resource" {
            "no statement of the account's CloudWatch Logs resource policies lets events.amazonaws.com logs:PutLogEvents to it for this rule"
        } else if noun == "topic" {
            "no statement of its policy lets events.amazonaws.com sns:Publish for this rule"
        } else {
            "no statement of its policy lets events.amazonaws.com sqs:SendMessage for this rule"
        };
        Some((
            why,
            outcome.not_evaluated.into_iter().map(|(_, n)| n).collect(),
        ))
    }

    /// An SQS queue as the target: no role, its policy must let EventBridge send for this
    /// rule. Checked when the queue was gathered (a queue absent from what was gathered is
    /// not evaluated here).
    fn check_sqs_target(&mut self, arn: &Arn) {
        let t = self.target;
        let snapshot = self.snapshot;
        let Some(queue) = snapshot
            .dead_letter_queues
            .as_ref()
            .and_then(|queues| queues.get(&t.arn))
        else {
            return;
        };
        if let Some((why, notes)) = self.queue_send_denied(&t.arn, arn, queue) {
            let statement = remedy::sqs_target_statement(
                &remedy::sqs_target_sid(&self.rule.arn),
                &t.arn,
                &self.rule.arn,
            );
            self.finding(
                Code::SqsQueuePolicyMissing,
                &t.arn,
                format!("EventBridge may not send to the target queue {}: {why}. Every event the rule matches fails to be delivered.", t.arn),
                remedy::add_queue_statement(&t.arn, &statement),
            );
            self.note_not_evaluated(Code::SqsQueuePolicyMissing, &t.arn, &notes);
        }
        if let Some(key) = &queue.kms_key {
            self.check_queue_key(
                &t.arn,
                arn,
                key,
                Code::SqsQueueKmsKeyNotPermitted,
                "target queue",
            );
        }
    }

    /// An SNS topic as the target: no role, its policy must let EventBridge publish for this
    /// rule, and its KMS key (if any) let EventBridge use it. Checked when the topic was
    /// gathered (with the queues, by ARN).
    fn check_sns_target(&mut self, arn: &Arn) {
        let t = self.target;
        let snapshot = self.snapshot;
        let Some(topic) = snapshot
            .dead_letter_queues
            .as_ref()
            .and_then(|holders| holders.get(&t.arn))
        else {
            return;
        };
        if let Some((why, notes)) =
            self.resource_policy_denies(&t.arn, arn, topic, "sns:Publish", None)
        {
            let statement = remedy::sns_target_statement(
                &remedy::sns_target_sid(&self.rule.arn),
                &t.arn,
                &self.rule.arn,
            );
            self.finding(
                Code::SnsTopicPolicyMissing,
                &t.arn,
                format!("EventBridge may not publish to the target topic {}: {why}. Every event the rule matches fails to be delivered.", t.arn),
                remedy::add_topic_statement(&t.arn, &statement),
            );
            self.note_not_evaluated(Code::SnsTopicPolicyMissing, &t.arn, &notes);
        }
        if let Some(key) = &topic.kms_key {
            if key == "alias/aws/sns" || key.ends_with(":alias/aws/sns") {
                let statement = remedy::dead_letter_key_statement();
                self.finding(
                    Code::SnsTopicKmsKeyNotPermitted,
                    &t.arn,
                    format!("The target topic {} is encrypted with the AWS managed key alias/aws/sns, whose key policy cannot be changed to let events.amazonaws.com use it, so EventBridge cannot publish to the topic.", t.arn),
                    format!(
                        "Encrypt the topic with a customer managed key whose key policy has this statement:\n{}\nand: aws sns set-topic-attributes --topic-arn {} --attribute-name KmsMasterKeyId --attribute-value KEY_ARN",
                        serde_json::to_string_pretty(&statement).unwrap_or_default(),
                        t.arn
                    ),
                );
            } else {
                self.check_queue_key(
                    &t.arn,
                    arn,
                    key,
                    Code::SnsTopicKmsKeyNotPermitted,
                    "target topic",
                );
            }
        }
    }

    /// A CloudWatch Logs log group as the target: no role; one of the account's logs resource
    /// policies must let EventBridge write to it for this rule. Checked when those policies
    /// were gathered (held among the queues, keyed `…:logs:REGION:ACCOUNT:resource-policy:NAME`).
    fn check_logs_target(&mut self, arn: &Arn) {
        let t = self.target;
        let prefix = format!(
            "arn:{}:logs:{}:{}:resource-policy:",
            arn.partition, arn.region, arn.account
        );
        let Some(holders) = self.snapshot.dead_letter_queues.as_ref() else {
            return;
        };
        let policies: Vec<&crate::diagnose::snapshot::Queue> = holders
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .map(|(_, q)| q)
            .collect();
        if policies.is_empty() {
            return; // not gathered
        }
        // The account's policies grant together: one document of all their statements.
        let mut statements = vec![];
        for q in &policies {
            let doc = match &q.policy {
                Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
                Some(v) => v.clone(),
                None => Value::Null,
            };
            match &doc["Statement"] {
                Value::Array(list) => statements.extend(list.iter().cloned()),
                Value::Null => {}
                one => statements.push(one.clone()),
            }
        }
        let all = crate::diagnose::snapshot::Queue {
            arn: t.arn.clone(),
            policy: (!statements.is_empty())
                .then(|| json!({"Version": "2012-10-17", "Statement": statements})),
            kms_key: None,
        };
        let stream = format!("{}:log-stream:eventbridge", t.arn.trim_end_matches(":*"));
        if let Some((why, notes)) =
            self.resource_policy_denies(&stream, arn, &all, "logs:PutLogEvents", None)
        {
            let statement = crate::iam::documents::logs_target_statement(
                &remedy::logs_target_sid(&self.rule.arn),
                t.arn.trim_end_matches(":*"),
                &self.rule.arn,
            );
            self.finding(
                Code::LogsResourcePolicyMissing,
                &t.arn,
                format!("EventBridge may not write to the target log group {}: {why}. Every event the rule matches fails to be delivered.", t.arn),
                remedy::put_logs_resource_policy(&statement),
            );
            self.note_not_evaluated(Code::LogsResourcePolicyMissing, &t.arn, &notes);
        }
    }

    /// An SQS queue EventBridge sends to (`what`: dead-letter or target queue), encrypted with
    /// KMS: EventBridge needs kms:GenerateDataKey and kms:Decrypt through the key policy. The
    /// AWS managed key (alias/aws/sqs) cannot grant a service.
    fn check_queue_key(&mut self, queue: &str, queue_arn: &Arn, key: &str, code: Code, what: &str) {
        let statement = remedy::dead_letter_key_statement();
        if key == "alias/aws/sqs" || key.ends_with(":alias/aws/sqs") {
            self.finding(
                code,
                queue,
                format!("The {what} {queue} is encrypted with the AWS managed key alias/aws/sqs, whose key policy cannot be changed to let events.amazonaws.com use it, so EventBridge cannot send to the queue."),
                format!(
                    "Encrypt the queue with a customer managed key whose key policy has this statement:
{}
and: aws sqs set-queue-attributes --queue-url {} --attributes KmsMasterKeyId=KEY_ARN (or use SSE-SQS instead: --attributes SqsManagedSseEnabled=true)",
                    serde_json::to_string_pretty(&statement).unwrap_or_default(),
                    remedy::queue_url(queue)
                ),
            );
            return;
        }
        let snapshot = self.snapshot;
        let key_policy = snapshot.key_policies.get(key).or_else(|| {
            // The queue may name the key by ID and the bundle by ARN, or the reverse.
            let id = key.rsplit('/').next().unwrap_or(key);
            snapshot
                .key_policies
                .iter()
                .find(|(k, _)| k.rsplit('/').next() == Some(id))
                .map(|(_, v)| v)
        });
        let Some(document) = key_policy.and_then(|p| PolicyDocument::parse(p).ok()) else {
            return; // the key policy was not gathered: not evaluated
        };
        let key_arn = if key.starts_with("arn:") {
            key.to_string()
        } else {
            format!(
                "arn:{}:kms:{}:{}:{}",
                queue_arn.partition,
                queue_arn.region,
                queue_arn.account,
                if key.starts_with("alias/") {
                    key.to_string()
                } else {
                    format!("key/{key}")
                }
            )
        };
        let kms_request = Request {
            caller: Caller::Service(EVENTS.into()),
            action: "kms:GenerateDataKey".into(),
            resource: Some(key_arn.clone()),
            context: Context::new()
                .with("aws:SourceArn", self.rule.arn.clone())
                .with("aws:SourceAccount", self.account),
        };
        self.check_resource_control(
            &kms_request,
            &format!("EventBridge (events.amazonaws.com) kms:GenerateDataKey on {key_arn}, the key of {what} {queue}"),
        );
        let mut missing = vec![];
        let mut notes = vec![];
        for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
            let request = Request {
                caller: Caller::Service(EVENTS.into()),
                action: action.into(),
                resource: Some(key_arn.clone()),
                context: Context::new()
                    .with("aws:SourceArn", self.rule.arn.clone())
                    .with("aws:SourceAccount", self.account),
            };
            let eval = evaluate_resource_policy(
                &NamedPolicy {
                    name: "key policy",
                    document: &document,
                },
                &request,
            );
            if eval.decision != Decision::Allow {
                missing.push(action);
            }
            notes.extend(eval.not_evaluated);
        }
        if !missing.is_empty() {
            let key_id = key_arn.rsplit('/').next().unwrap_or(key);
            self.finding(
                code,
                queue,
                format!(
                    "The {what} {queue} is encrypted with KMS key {key}, whose key policy does not let events.amazonaws.com {}: EventBridge cannot write to the {}.",
                    missing.join(" or "),
                    if what.ends_with("topic") { "topic" } else { "queue" }
                ),
                format!(
                    "Add this statement to the key policy of {key_arn}, keeping its other statements:
{}
then: aws kms put-key-policy --key-id {key_id} --policy-name default --policy file://key-policy.json",
                    serde_json::to_string_pretty(&statement).unwrap_or_default()
                ),
            );
            self.note_not_evaluated(code, queue, &notes);
        }
    }

    fn explicit_deny(&mut self, eval: &Evaluation, resource: &str, what: &str) {
        let by: Vec<String> = eval
            .denied_by
            .iter()
            .map(|s| {
                format!(
                    "{} statement {}",
                    s.policy,
                    s.sid.clone().unwrap_or_else(|| format!("#{}", s.index + 1))
                )
            })
            .collect();
        self.finding(
            Code::ExplicitDeny,
            resource,
            format!(
                "An explicit Deny blocks {what}: {}. A Deny overrides every Allow.",
                by.join(", ")
            ),
            format!(
                "Remove or narrow the Deny in {} so it no longer matches this request.",
                by.join(", ")
            ),
        );
    }

    /// ARNs without account in the role's own statements.
    fn check_policy_arns(&mut self, role: &Role) {
        for (name, doc) in identity_documents(role) {
            for s in &doc.statements {
                for r in s.resource.iter().flat_map(|m| m.patterns.iter()) {
                    if r.starts_with("arn:") {
                        check_arn(
                            r,
                            Some(&self.target.id),
                            &format!("Resource in policy {name} of role {}", role.name),
                            self.out,
                        );
                    }
                }
            }
        }
    }

    /// Warn about `*` resources on the actions this integration needs.
    fn check_broad_statements(&mut self, role: &Role) {
        for (name, doc) in identity_documents(role) {
            if name.starts_with("arn:aws:iam::aws:policy/") {
                continue; // AWS managed policies are broad by design; the user chose them.
            }
            for (i, s) in doc.statements.iter().enumerate() {
                let star = s
                    .resource
                    .as_ref()
                    .is_some_and(|m| !m.negated && m.patterns.iter().any(|p| p == "*"));
                let sensitive = !s.action.negated
                    && s.action.patterns.iter().any(|a| {
                        let a = a.to_ascii_lowercase();
                        [
                            "ecs:runtask",
                            "iam:passrole",
                            "states:startexecution",
                            "sts:assumerole",
                            "*",
                            "iam:*",
                            "ecs:*",
                            "states:*",
                        ]
                        .contains(&a.as_str())
                    });
                if s.effect == Effect::Allow && star && sensitive {
                    let sid = s.sid.clone().unwrap_or_else(|| format!("#{}", i + 1));
                    self.finding(
                        Code::OverlyBroadPermission,
                        &format!("{}#{name}#{sid}", role.arn),
                        format!("Statement {sid} of policy {name} on role {} allows {} on Resource \"*\"; iam:PassRole on * lets the role hand any role to ECS.", role.name, s.action.patterns.join(", ")),
                        "Replace \"*\" with the exact ARNs: the task definition family, the task's execution and task roles, the state machine.".into(),
                    );
                }
            }
        }
    }

    fn check_lambda(&mut self, arn: &Arn) {
        let t = self.target;
        if t.role_arn.is_some() {
            return self.check_lambda_with_role();
        }
        let statement_id = format!("events-{}", self.rule.name);
        let fix =
            remedy::add_lambda_permission(&t.arn, &statement_id, &self.rule.arn, self.account);
        let doc = self
            .snapshot
            .lambda_policies
            .get(&t.arn)
            .and_then(|v| PolicyDocument::parse(v).ok());
        let Some(doc) = doc else {
            self.finding(
                Code::LambdaPermissionMissing,
                &t.arn,
                format!(
                    "Function {} has no resource-based policy, so EventBridge may not invoke it.",
                    t.arn
                ),
                fix,
            );
            return;
        };
        for s in &doc.statements {
            for c in &s.conditions {
                if c.key.eq_ignore_ascii_case("aws:SourceArn") {
                    for v in &c.values {
                        check_arn(
                            v,
                            Some(&t.id),
                            "The AWS:SourceArn of the function policy",
                            self.out,
                        );
                    }
                }
            }
        }
        let request = Request {
            caller: Caller::Service(EVENTS.into()),
            action: "lambda:InvokeFunction".into(),
            resource: Some(t.arn.clone()),
            context: Context::new()
                .with("aws:SourceArn", self.rule.arn.clone())
                .with("aws:SourceAccount", self.account),
        };
        let eval = evaluate_resource_policy(
            &NamedPolicy {
                name: "function policy",
                document: &doc,
            },
            &request,
        );
        let qualifier_hint = if arn.resource.matches(':').count() >= 2 {
            " Permissions are per qualifier: a grant on the unqualified function does not cover an alias or version, and vice versa."
        } else {
            ""
        };
        match eval.decision {
            Decision::Allow => {
                let unprotected = allowed_without_source_condition(&eval, &doc);
                if unprotected {
                    self.finding(
                        Code::ConfusedDeputyUnprotected,
                        &t.arn,
                        format!("The policy of function {} lets events.amazonaws.com invoke it with no AWS:SourceArn or AWS:SourceAccount condition: any account's rule could invoke it.", t.arn),
                        format!("Replace the statement with one bound to this rule: {fix}"),
                    );
                }
            }
            Decision::ExplicitDeny => {
                self.explicit_deny(
                    &eval,
                    &t.arn,
                    "lambda:InvokeFunction by events.amazonaws.com",
                );
                self.finding(
                    Code::LambdaPermissionMissing,
                    &t.arn,
                    format!(
                        "A Deny in the policy of function {} blocks EventBridge.",
                        t.arn
                    ),
                    fix,
                );
            }
            Decision::ImplicitDeny => {
                let failed_key = |key: &str| {
                    eval.near_misses
                        .iter()
                        .any(|m| m.failed.iter().any(|c| c.key.eq_ignore_ascii_case(key)))
                };
                if failed_key("aws:SourceArn") {
                    self.finding(
                        Code::LambdaPermissionSourceArnMismatch,
                        &t.arn,
                        format!("Function {} lets EventBridge invoke it only for other rules: {} (this rule is {}).", t.arn, describe_failed(&eval.near_misses), self.rule.arn),
                        fix,
                    );
                } else if failed_key("aws:SourceAccount") {
                    self.finding(
                        Code::LambdaPermissionSourceAccountMismatch,
                        &t.arn,
                        format!("Function {} lets EventBridge invoke it only for another account: {} (this rule's account is {}).", t.arn, describe_failed(&eval.near_misses), self.account),
                        fix,
                    );
                } else {
                    self.finding(
                        Code::LambdaPermissionMissing,
                        &t.arn,
                        format!("No statement of the policy of function {} lets events.amazonaws.com invoke exactly {}.{qualifier_hint}", t.arn, t.arn),
                        fix,
                    );
                }
            }
        }
    }
}

impl TargetCheck<'_> {
    /// A Lambda target with an execution role (EventBridge's cross-account delivery): the
    /// role must trust EventBridge and may invoke the function, and the function's policy
    /// must let that role invoke it.
    fn check_lambda_with_role(&mut self) {
        let t = self.target;
        let Some(role) = self.target_role("lambda:InvokeFunction") else {
            return;
        };
        self.check_trust(role);
        let caller = Caller::Aws {
            arn: role.arn.clone(),
            account: self.account.to_string(),
        };
        let request = Request {
            caller: caller.clone(),
            action: "lambda:InvokeFunction".into(),
            resource: Some(t.arn.clone()),
            context: Context::new(),
        };
        let statement =
            json!({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": t.arn});
        let found_before = self.out.0.len();
        self.check_permission(
            role,
            &request,
            Code::LambdaPermissionMissing,
            &t.arn,
            statement,
            &format!("lambda:InvokeFunction on {}", t.arn),
        );
        let (function, qualifier) = remedy::split_function_arn(&t.arn);
        let function_account = Arn::parse(&t.arn).map(|a| a.account).unwrap_or_default();
        if self.out.0.len() > found_before {
            self.check_hand_built_chain(role, &function_account);
        }
        let fix = format!(
            "aws lambda add-permission --function-name {function}{} --statement-id events-{} --action lambda:InvokeFunction --principal {} (with credentials of account {function_account})",
            qualifier.map(|q| format!(" --qualifier {q}")).unwrap_or_default(),
            self.rule.name,
            role.arn
        );
        let allowed = self
            .snapshot
            .lambda_policies
            .get(&t.arn)
            .and_then(|v| PolicyDocument::parse(v).ok())
            .is_some_and(|doc| {
                evaluate_resource_policy(
                    &NamedPolicy {
                        name: "function policy",
                        document: &doc,
                    },
                    &request,
                )
                .decision
                    == Decision::Allow
            });
        if !allowed {
            self.finding(
                Code::LambdaPermissionMissing,
                &t.arn,
                format!("The policy of function {} does not let the rule's execution role {} invoke it; EventBridge invokes a function in another account with that role.", t.arn, role.arn),
                fix,
            );
        }
    }
}

impl TargetCheck<'_> {
    /// RoleChainNotFollowed: the execution role may not invoke the function, but may assume a
    /// role of the function's account: the textbook chain. EventBridge calls the function with
    /// the execution role itself and never assumes a second role, so the chain grants nothing
    /// it uses.
    fn check_hand_built_chain(&mut self, role: &Role, function_account: &str) {
        let in_function_account = format!(":iam::{function_account}:role/");
        let chained: Vec<String> = identity_documents(role)
            .into_iter()
            .flat_map(|(_, doc)| doc.statements)
            .filter(|s| s.effect == Effect::Allow && !s.action.negated)
            .filter(|s| {
                s.action
                    .patterns
                    .iter()
                    .any(|a| crate::iam::glob::matches_ignore_case(a, "sts:AssumeRole"))
            })
            .flat_map(|s| s.resource.map(|r| r.patterns).unwrap_or_default())
            .filter(|r| r.contains(&in_function_account))
            .collect();
        let Some(first) = chained.first() else {
            return;
        };
        let t = self.target;
        self.finding(
            Code::RoleChainNotFollowed,
            &role.arn,
            format!(
                "Role {} may assume {first} in the function's account, but EventBridge never chains roles: it invokes {} with {} itself, so the role in account {function_account} is never used.",
                role.arn, t.arn, role.arn
            ),
            format!(
                "Grant {} lambda:InvokeFunction on {} and let it invoke the function in the function's policy (aws lambda add-permission … --principal {}); the role in account {function_account} and the sts:AssumeRole statement can go.",
                role.arn, t.arn, role.arn
            ),
        );
    }
}

/// An Allow for a service principal with neither aws:SourceArn nor aws:SourceAccount: any
/// account's resource could use it (the confused deputy).
fn allowed_without_source_condition(eval: &Evaluation, doc: &PolicyDocument) -> bool {
    eval.allowed_by.iter().any(|s| {
        !doc.statements[s.index].conditions.iter().any(|c| {
            c.key.eq_ignore_ascii_case("aws:SourceArn")
                || c.key.eq_ignore_ascii_case("aws:SourceAccount")
        })
    })
}

fn required_action(arn: &Arn) -> &'static str {
    if arn.service == "ecs" {
        "ecs:RunTask"
    } else {
        target_action(arn).0
    }
}

/// The action a role target (other than ECS, checked on its task definition) needs on the
/// target's own ARN, and the finding when the role lacks it. EventBridge puts one record per
/// event (PutRecord, not PutRecords).
fn target_action(arn: &Arn) -> (&'static str, Code) {
    match arn.service.as_str() {
        "kinesis" => ("kinesis:PutRecord", Code::PutRecordNotAllowed),
        "execute-api" => ("execute-api:Invoke", Code::InvokeApiNotAllowed),
        "events" => (
            "events:InvokeApiDestination",
            Code::InvokeApiDestinationNotAllowed,
        ),
        "sqs" => ("sqs:SendMessage", Code::SendMessageNotAllowed),
        "sns" => ("sns:Publish", Code::PublishNotAllowed),
        _ => ("states:StartExecution", Code::StartExecutionNotAllowed),
    }
}

fn role_target_kind(arn: &Arn) -> &'static str {
    match arn.service.as_str() {
        "ecs" => "ECS",
        "kinesis" => "Kinesis",
        "execute-api" => "API Gateway",
        "events" => "API destination",
        "sqs" => "SQS",
        "sns" => "SNS",
        _ => "Step Functions",
    }
}

fn find_task_definition<'a>(
    snapshot: &'a Snapshot,
    arn: &str,
) -> Option<&'a super::snapshot::TaskDefinition> {
    // A target may name `family` without a revision: the latest revision, if listed.
    snapshot
        .task_definitions
        .values()
        .filter(|td| remedy::family_pattern(&td.arn) == format!("{arn}:*"))
        .max_by_key(|td| td.arn.len())
}

fn identity_documents(role: &Role) -> Vec<(String, PolicyDocument)> {
    role.inline_policies
        .iter()
        .chain(role.attached_policies.iter())
        .filter_map(|(name, doc)| PolicyDocument::parse(doc).ok().map(|d| (name.clone(), d)))
        .collect()
}

fn describe_failed(misses: &[NearMiss]) -> String {
    misses
        .iter()
        .flat_map(|m| m.failed.iter())
        .map(|c| format!("{} {} {:?}", c.operator, c.key, c.values))
        .collect::<Vec<_>>()
        .join("; ")
}

fn check_chain(snapshot: &Snapshot, chain: &Chain, out: &mut Findings) {
    let (Some(from), Some(to)) = (Arn::parse(&chain.from).ok(), Arn::parse(&chain.to).ok()) else {
        check_arn(&chain.from, None, "The chain's source role", out);
        check_arn(&chain.to, None, "The chain's target role", out);
        return;
    };
    if from.missing_account() || to.missing_account() {
        check_arn(&chain.from, None, "The chain's source role", out);
        check_arn(&chain.to, None, "The chain's target role", out);
        return;
    }
    let caller = Caller::Aws {
        arn: chain.from.clone(),
        account: from.account.clone(),
    };
    let context = Context::new()
        .with("aws:PrincipalArn", chain.from.clone())
        .with("aws:PrincipalAccount", from.account.clone());
    let trust_fix = format!(
        "aws iam update-assume-role-policy --role-name {} --policy-document '{}' (run with credentials of account {})",
        to.resource_name(),
        json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS": chain.from},"Action":"sts:AssumeRole"}]}),
        to.account
    );
    match snapshot.roles.get(&chain.to) {
        None => out.push(Finding::new(
            Code::CrossAccountTrustMissing,
            None,
            Some(&chain.to),
            format!(
                "Role {} does not exist in account {}, so {} cannot assume it.",
                chain.to, to.account, chain.from
            ),
            trust_fix
                .replace("update-assume-role-policy", "create-role")
                .replace("--policy-document", "--assume-role-policy-document"),
        )),
        Some(role) => {
            let allowed = PolicyDocument::parse(&role.trust_policy)
                .ok()
                .is_some_and(|doc| {
                    let request = Request {
                        caller: caller.clone(),
                        action: "sts:AssumeRole".into(),
                        resource: None,
                        context: context.clone(),
                    };
                    evaluate_resource_policy(
                        &NamedPolicy {
                            name: "trust policy",
                            document: &doc,
                        },
                        &request,
                    )
                    .decision
                        == Decision::Allow
                });
            if !allowed {
                out.push(Finding::new(
                    Code::CrossAccountTrustMissing,
                    None,
                    Some(&chain.to),
                    format!("Role {} in account {} does not trust {} (nor its account) for sts:AssumeRole.", chain.to, to.account, chain.from),
                    trust_fix,
                ));
            }
        }
    }
    let assume_fix = remedy::put_statement(
        &chain.from,
        "assume-cross-account",
        json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": chain.to}),
    );
    match snapshot.roles.get(&chain.from) {
        None => out.push(Finding::new(
            Code::CrossAccountAssumeRoleNotAllowed,
            None,
            Some(&chain.from),
            format!(
                "The source role {} does not exist, so nothing can assume {} through it.",
                chain.from, chain.to
            ),
            assume_fix,
        )),
        Some(role) => {
            let docs = identity_documents(role);
            let named: Vec<NamedPolicy<'_>> = docs
                .iter()
                .map(|(n, d)| NamedPolicy {
                    name: n,
                    document: d,
                })
                .collect();
            let boundary = role
                .permissions_boundary
                .as_ref()
                .and_then(|(arn, d)| PolicyDocument::parse(d).ok().map(|d| (arn.clone(), d)));
            let boundary_named = boundary.as_ref().map(|(n, d)| NamedPolicy {
                name: n,
                document: d,
            });
            let request = Request {
                caller,
                action: "sts:AssumeRole".into(),
                resource: Some(chain.to.clone()),
                context,
            };
            let eval = evaluate_identity(&named, boundary_named.as_ref(), &request);
            if eval.decision != Decision::Allow {
                let why = match eval.decision {
                    Decision::ExplicitDeny => "an explicit Deny blocks it",
                    _ if eval.boundary_blocks => "its permissions boundary does not allow it",
                    _ => "no statement allows it",
                };
                out.push(Finding::new(
                    Code::CrossAccountAssumeRoleNotAllowed,
                    None,
                    Some(&chain.from),
                    format!(
                        "Role {} may not sts:AssumeRole on {}: {why}.",
                        chain.from, chain.to
                    ),
                    assume_fix,
                ));
            }
        }
    }
}

/// The message and fix for an organisation policy that blocks at one level.
fn org_block_text(
    kind: &str,
    full_access: &str,
    block: &OrgBlock,
    levels: &[OrgLevel],
    what: &str,
    exception: &str,
) -> (String, String) {
    match &block.deny {
        Some(s) => {
            let sid = s.sid.clone().unwrap_or_else(|| format!("#{}", s.index + 1));
            let policy = levels
                .iter()
                .find(|l| l.id == block.level)
                .and_then(|l| l.policies.iter().find(|p| p.name == s.policy));
            let policy_id = policy
                .and_then(|p| p.id.clone())
                .unwrap_or_else(|| "POLICY_ID".into());
            let text = policy
                .and_then(|p| p.document.statements.get(s.index))
                .map(|st| {
                    format!(
                        " ({} {})",
                        if st.effect == Effect::Deny { "Deny" } else { "Allow" },
                        st.action.patterns.join(", ")
                    )
                })
                .unwrap_or_default();
            (
                format!(
                    "Statement {sid}{text} of the {kind} {} attached to {} denies {what}. A Deny in an organisation policy overrides every Allow in the account.",
                    s.policy, block.level
                ),
                format!(
                    "Narrow statement {sid} of {kind} {} (attached to {}) so it no longer matches this request, e.g. {exception}, then: aws organizations update-policy --policy-id {policy_id} --content file://policy.json (from the management account)",
                    s.policy, block.level
                ),
            )
        }
        None => (
            format!(
                "No {kind} attached to {} allows {what}: every level of the organisation (root, OU, account) must allow an action, so it is implicitly denied.",
                block.level
            ),
            format!(
                "Attach a {kind} that allows it to {}: aws organizations attach-policy --policy-id {full_access} --target-id {} (or add the action to a policy already attached there), from the management account",
                block.level, block.level
            ),
        ),
    }
}

/// What the snapshot did not let the engine examine, for a person to read beside the
/// findings ("not evaluated"): organisation policies not gathered, dead-letter queues known
/// only by ARN, key policies of encrypting keys not gathered. Empty when nothing is missing.
pub fn not_evaluated(snapshot: &Snapshot) -> Vec<String> {
    let mut out = vec![];
    if snapshot.rule.is_none() {
        return out;
    }
    if snapshot.organization.is_none() {
        out.push(match &snapshot.organization_unreadable {
            Some(why) => format!("organisation policies not evaluated: {why}. A service or resource control policy (SCP, RCP) that denies is not reported; grant organizations:DescribeOrganization, ListParents, ListPoliciesForTarget and DescribePolicy (management or delegated administrator account, or --organization-role-arn)"),
            None => "service and resource control policies (SCPs, RCPs): not evaluated, the organisation's policies were not gathered (bundle key `organization`; online: organizations:ListParents, ListPoliciesForTarget and DescribePolicy)".into(),
        });
    }
    for t in &snapshot.targets {
        let Some(dlq) = &t.dead_letter_arn else {
            continue;
        };
        match snapshot.dead_letter_queues.as_ref().map(|q| q.get(dlq)) {
            None => out.push(format!("dead-letter queue {dlq} of target {}: only its region was checked, its attributes were not gathered (bundle key `deadLetterQueues`)", t.id)),
            Some(Some(queue)) => {
                if let Some(key) = &queue.kms_key {
                    let id = key.rsplit('/').next().unwrap_or(key);
                    let known = key == "alias/aws/sqs"
                        || key.ends_with(":alias/aws/sqs")
                        || snapshot
                            .key_policies
                            .keys()
                            .any(|k| k == key || k.rsplit('/').next() == Some(id));
                    let unreadable = snapshot
                        .key_policies_unreadable
                        .iter()
                        .find(|(k, _)| *k == key || k.rsplit('/').next() == Some(id));
                    match (known, unreadable) {
                        (true, _) => {}
                        (false, Some((_, why))) => out.push(format!("KMS key {key} of dead-letter queue {dlq}: key policy not evaluated: {why}")),
                        (false, None) => out.push(format!("KMS key {key} of dead-letter queue {dlq}: not evaluated, its key policy was not gathered (bundle key `keyPolicies`; online: kms:GetKeyPolicy, and kms:DescribeKey for an alias)")),
                    }
                }
            }
            Some(None) => {}
        }
    }
    if let Some(evidence) = &snapshot.delivery {
        out.extend(evidence.unreadable.iter().cloned());
    }
    out
}
