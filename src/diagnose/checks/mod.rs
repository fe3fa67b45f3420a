//! The checks: for each target of the rule, every reason EventBridge's invocation would be
//! AccessDenied, each a [`Finding`] with its fix. Pure: a snapshot in, findings out.

mod chain;
mod judge;
mod resource_policies;
mod roles;
mod schedule;
mod targets;
pub use schedule::schedule_sends_to;
pub use targets::api_gateway::stage_not_deployed;

use chain::{check_chain, org_block_text};
use judge::{Invoker, Judge};
use serde_json::{json, Value};

use super::finding::{Code, Finding};
use super::remedy;
use super::snapshot::{Chain, Expectations, Role, Rule, Schedule, Snapshot, Target};
use crate::api::TargetKind;
use crate::iam::eval::{
    evaluate_identity, evaluate_resource_policy, Evaluation, NearMiss, NotEvaluated,
};
use crate::iam::policy::Effect;
use crate::iam::request::{self, org_blocks, Layer, Named, OrgBlock, OrgLevel, Policies};
use crate::iam::{Arn, Caller, Context, Decision, NamedPolicy, PolicyDocument, Request};
use crate::plan::{kind_of_arn, KindFacts};

const EVENTS: &str = "events.amazonaws.com";
const SCHEDULER: &str = "scheduler.amazonaws.com";
const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";

/// Runs every check; errors first, then warnings; no duplicates.
pub fn diagnose(snapshot: &Snapshot, expect: &Expectations) -> Vec<Finding> {
    check_all(snapshot, expect).finish()
}

/// The findings, and everything the diagnosis could not judge: what the snapshot lacks
/// ([`not_evaluated`]) and the statements the checks met but could not evaluate without a
/// finding to attach them to (an organisation policy's Deny on a key not known offline).
pub struct Diagnosis {
    pub findings: Vec<Finding>,
    pub not_evaluated: Vec<String>,
}

/// [`diagnose`] and [`not_evaluated`] in one, with the checks' own notes.
pub fn examine(snapshot: &Snapshot, expect: &Expectations) -> Diagnosis {
    let out = check_all(snapshot, expect);
    let mut not_evaluated = not_evaluated(snapshot);
    for note in &out.1 {
        if !not_evaluated.contains(note) {
            not_evaluated.push(note.clone());
        }
    }
    Diagnosis {
        findings: out.finish(),
        not_evaluated,
    }
}

fn check_all(snapshot: &Snapshot, expect: &Expectations) -> Findings {
    let mut out = Findings::default();
    if snapshot.schedule.is_some() || expect.schedule_name.is_some() {
        schedule::check_schedule(snapshot, expect, &mut out);
        return out;
    }
    if snapshot.rule.is_none() && expect.rule_name.is_none() && !snapshot.chains.is_empty() {
        // Only a trust chain to verify.
        for chain in &snapshot.chains {
            check_chain(snapshot, chain, &mut out);
        }
        return out;
    }
    let Some(rule) = &snapshot.rule else {
        let name = expect.rule_name.as_deref().unwrap_or("<rule>");
        out.push(Finding::new(
            Code::RuleNotFound,
            expect.targets.first().map(|(id, _)| id.as_str()),
            Some(name),
            format!("The EventBridge rule {name} does not exist, so nothing invokes the target."),
            format!(
                "Create the rule: aws events put-rule --name {name} --event-bus-name {} --event-pattern '…' (or --schedule-expression '…')",
                expect.event_bus_name.as_deref().unwrap_or("default")
            ),
        ));
        return out;
    };
    check_rule(rule, &mut out);
    let account = Arn::parse(&rule.arn).map(|a| a.account).unwrap_or_default();

    for (id, arn) in &expect.targets {
        if !snapshot.targets.iter().any(|t| &t.id == id) {
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
        if !expect.targets.is_empty() && !expect.targets.iter().any(|(id, _)| id == &target.id) {
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
    out
}

/// The findings, and the notes of what was met but not judged with no finding to carry them.
#[derive(Default)]
struct Findings(Vec<Finding>, Vec<String>);

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

impl<'a> Judge<'a> for TargetCheck<'a> {
    fn snapshot(&self) -> &'a Snapshot {
        self.snapshot
    }
    fn account(&self) -> &'a str {
        self.account
    }
    fn invoker(&self) -> Invoker<'a> {
        Invoker::events(&self.rule.arn)
    }
    fn target_id(&self) -> Option<&'a str> {
        Some(&self.target.id)
    }
    fn out(&mut self) -> &mut Findings {
        self.out
    }
}

impl<'a> TargetCheck<'a> {
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
        if arn.service == "events" && arn.resource.starts_with("event-bus/") {
            self.check_bus_target(&arn);
            return;
        }
        let Some(kind) = kind_of_target(&arn) else {
            return; // not a kind this controller builds: nothing is judged
        };
        let cross_account = !arn.account.is_empty() && arn.account != self.account;
        if cross_account && !self.reached_from_another_account(&arn, kind) {
            return;
        }
        match kind.kind {
            TargetKind::ApiDestination => {
                self.check_connection(&arn);
                self.check_role_target(&arn);
            }
            TargetKind::Lambda => self.check_lambda(&arn),
            // Another account's queue, topic, stream or REST API names the rule's role in its
            // policy.
            TargetKind::Sqs | TargetKind::Sns | TargetKind::Kinesis | TargetKind::ApiGateway
                if cross_account =>
            {
                self.check_direct_target(&arn);
            }
            TargetKind::Sqs => self.check_sqs_target(&arn),
            TargetKind::Sns => self.check_sns_target(&arn),
            TargetKind::Logs => self.check_logs_target(&arn),
            _ if kind.invoked_with_role => self.check_role_target(&arn),
            _ => {}
        }
    }

    /// A target in another account than the rule's: whether EventBridge reaches it from this
    /// rule (directly, within the rule's region, for the kinds its module says EventBridge
    /// delivers to so); otherwise a finding says how it is reached instead.
    fn reached_from_another_account(&mut self, arn: &Arn, kind: &KindFacts) -> bool {
        let t = self.target;
        let rule_region = Arn::parse(&self.rule.arn)
            .map(|a| a.region)
            .unwrap_or_default();
        let (message, fix) = if kind.kind == TargetKind::ApiDestination {
            (
                format!(
                    "The API destination is in account {} but the rule is in account {}: a rule can only call an API destination of its own account.",
                    arn.account, self.account
                ),
                format!("Create the connection and API destination in account {} (or forward events bus to bus to account {}, and call the destination from a rule there).", self.account, arn.account),
            )
        } else if kind.eventbridge_delivers_across_accounts {
            if arn.region == rule_region {
                return true;
            }
            (
                format!(
                    "The target is in account {} and region {}, the rule in {} and {}: EventBridge delivers to a {} target of another account directly only within the same region.",
                    arn.account, arn.region, self.account, rule_region, kind.label
                ),
                format!(
                    "Put the rule in region {}, or forward events bus to bus: target the event bus arn:{}:events:{}:{}:event-bus/default from this rule, allow account {} in that bus's resource policy, and invoke the target from a rule in account {}.",
                    arn.region, arn.partition, arn.region, arn.account, self.account, arn.account
                ),
            )
        } else {
            (
                format!(
                    "The target is in account {} but the rule is in account {}: EventBridge cannot invoke {} targets in another account directly.",
                    arn.account, self.account, kind.label
                ),
                format!(
                    "Forward events bus to bus: target the event bus arn:{}:events:{}:{}:event-bus/default from this rule, allow account {} in that bus's resource policy, and create the rule and the {} target in account {} (crossAccount.mode: EventBusForwarding).",
                    arn.partition, arn.region, arn.account, self.account, kind.label, arn.account
                ),
            )
        };
        self.finding(Code::CrossAccountUnsupportedTarget, &t.arn, message, fix);
        false
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

/// What the role must be allowed, for messages: `ecs:RunTask`, or the target's actions.
fn required_action(arn: &Arn) -> String {
    target_actions(arn)
        .iter()
        .map(|(action, _)| *action)
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The actions a role target (other than ECS, checked on its task definition) needs on the
/// target's own ARN, as its kind's module states them, each with the finding when the role
/// lacks it. EventBridge puts one record per event to Kinesis (PutRecord, not PutRecords).
fn target_actions(arn: &Arn) -> Vec<(&'static str, Code)> {
    let actions = kind_of_arn(arn).map_or(&["states:StartExecution"][..], |k| k.role_actions);
    actions.iter().map(|a| (*a, Code::role_lacks(a))).collect()
}

/// What a schedule's role needs on a templated target of this ARN: the kind's
/// `scheduler_actions` (Firehose: PutRecord alone), else what a rule's role needs.
fn scheduler_actions(arn: &Arn) -> Vec<(&'static str, Code)> {
    match kind_of_arn(arn).map(|k| k.scheduler_actions) {
        Some(actions) if !actions.is_empty() => {
            actions.iter().map(|a| (*a, Code::role_lacks(a))).collect()
        }
        _ => target_actions(arn),
    }
}

/// The kind of a rule's target by its ARN, and for one AWS accepted though its resource is
/// not of the kind's form (a Lambda ARN naming no `function:`), the one kind of its service,
/// so that the checks say what is wrong with it. `events` has no such default: its ARNs name
/// buses, rules and API destinations.
fn kind_of_target(arn: &Arn) -> Option<&'static KindFacts> {
    kind_of_arn(arn).or_else(|| {
        let mut of_service = crate::plan::KINDS
            .into_iter()
            .filter(|k| k.service == arn.service && k.service != "events");
        match (of_service.next(), of_service.next()) {
            (Some(kind), None) => Some(kind),
            _ => None,
        }
    })
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

/// What the snapshot did not let the engine examine, for a person to read beside the
/// findings ("not evaluated"): organisation policies not gathered, dead-letter queues known
/// only by ARN, key policies of encrypting keys not gathered. Empty when nothing is missing.
pub fn not_evaluated(snapshot: &Snapshot) -> Vec<String> {
    let mut out = vec![];
    if snapshot.rule.is_none() && snapshot.schedule.is_none() {
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
    if let Some(s) = &snapshot.schedule {
        out.extend(schedule_not_evaluated(snapshot, s));
    }
    out
}

/// What a schedule's diagnosis does not judge: a universal call whose resource is not
/// known, whether the dead-letter queue exists, a queue or topic in another account (its
/// policy and its organisation's RCPs), and a key whose queue or key policy was not gathered.
fn schedule_not_evaluated(snapshot: &Snapshot, s: &Schedule) -> Vec<String> {
    let mut out = vec![];
    if s.target_arn.contains(":scheduler:::aws-sdk:")
        && schedule::universal_call(&s.target_arn, s.input.as_ref()).is_none()
    {
        out.push(format!("universal target {} of schedule {}: the API action it calls is not judged, only the schedule's role and its trust", s.target_arn, s.arn));
    }
    let schedule_account = Arn::parse(&s.arn).map(|a| a.account).unwrap_or_default();
    let resource = schedule::call_resource(s);
    let target = Arn::parse(&resource)
        .ok()
        .filter(|a| a.service == "sqs" || a.service == "sns");
    if let Some(target) = &target {
        if target.account != schedule_account {
            // A universal call written by hand may reach another account, whose queue or
            // topic policy must grant the role too, and whose organisation path was not read.
            // RCPs do not cover SNS.
            let rcps = if target.service == "sqs" {
                ", and that account's resource control policies"
            } else {
                ""
            };
            out.push(format!("target {resource} of schedule {}: the role's permission is judged; its own policy, which must grant the role (it is in account {}){rcps}, are not{}", s.arn, target.account, key_not_read(snapshot, &resource)));
        } else {
            let key = key_not_read(snapshot, &resource);
            if !key.is_empty() {
                out.push(format!(
                    "target {resource} of schedule {}: the role's permission is judged{key}",
                    s.arn
                ));
            }
        }
    }
    if let Some(dlq) = s.dead_letter_arn.as_ref().filter(|d| **d != resource) {
        let elsewhere = match Arn::parse(dlq).map(|a| a.account) {
            Ok(account) if account != schedule_account => format!(", nor its own policy, which must grant the role, and the resource control policies of its account {account}"),
            _ => String::new(),
        };
        out.push(format!("dead-letter queue {dlq} of schedule {}: the role's sqs:SendMessage is judged; that the queue exists is not{elsewhere}{}", s.arn, key_not_read(snapshot, dlq)));
    }
    out
}

/// Why a schedule's queue or topic's key was not judged ("" when it was, or needs none).
fn key_not_read(snapshot: &Snapshot, holder: &str) -> String {
    const WHAT: &str = "its KMS key (which must let the role kms:GenerateDataKey and kms:Decrypt)";
    let Some(q) = snapshot
        .dead_letter_queues
        .as_ref()
        .and_then(|h| h.get(holder))
    else {
        return format!("; {WHAT} was not read (nor the queue or topic)");
    };
    let Some(key) = q.kms_key.as_deref() else {
        return String::new();
    };
    if resource_policies::is_aws_managed_key(key) {
        return String::new();
    }
    if let Some(reason) = snapshot.key_policies_unreadable.get(key) {
        return format!("; {WHAT}, {key}, could not be read: {reason}");
    }
    if resource_policies::key_policy_of(snapshot, key).is_none() {
        return format!("; {WHAT}, {key}, was not read");
    }
    if !resource_policies::key_arn_known(snapshot, key) {
        return format!("; {WHAT} is named by alias {key}, and the key's ARN, which IAM policies name it by, was not read (aws kms describe-key; a bundle's keyPolicies[…].KeyArn)");
    }
    String::new()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::api::TargetKind;

    fn kind(arn: &str) -> Option<TargetKind> {
        kind_of_target(&Arn::parse(arn).unwrap()).map(|k| k.kind)
    }

    /// A target AWS accepted is judged as its service's one kind even when its resource is
    /// not of the kind's form; an events ARN only as what it names.
    #[test]
    fn a_target_is_judged_by_its_kind_or_its_services_one_kind() {
        let a = "arn:aws:lambda:us-east-1:111122223333";
        assert_eq!(kind(&format!("{a}:function:f")), Some(TargetKind::Lambda));
        assert_eq!(kind(&format!("{a}:f")), Some(TargetKind::Lambda));
        let logs = "arn:aws:logs:us-east-1:111122223333:group";
        assert_eq!(kind(logs), Some(TargetKind::Logs));
        let events = "arn:aws:events:us-east-1:111122223333";
        assert_eq!(
            kind(&format!("{events}:api-destination/d/1")),
            Some(TargetKind::ApiDestination)
        );
        assert_eq!(kind(&format!("{events}:rule/r")), None);
        assert_eq!(kind(&format!("{events}:event-bus/default")), None);
        assert_eq!(kind("arn:aws:s3:::bucket"), None);
    }
}
