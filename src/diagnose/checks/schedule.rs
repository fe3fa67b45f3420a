//! A schedule (EventBridge Scheduler) instead of a rule. Scheduler invokes every kind of
//! target through the schedule's role, never through a function's or queue's own policy, and
//! sends what it could not deliver to the dead-letter queue with that same role. So the causes
//! are the schedule itself (missing, disabled), the role's trust for `scheduler.amazonaws.com`
//! and the schedule's group (Scheduler's `aws:SourceArn`), the role's permission for the
//! target's action and for the dead-letter queue, and the organisation's policies.

use super::*;

/// The findings of the snapshot's schedule, or of its absence when one is expected.
pub(super) fn check_schedule(snapshot: &Snapshot, expect: &Expectations, out: &mut Findings) {
    let Some(schedule) = &snapshot.schedule else {
        let name = expect
            .schedule_name
            .as_deref()
            .unwrap_or("default/<schedule>");
        let (group, schedule_name) = name.split_once('/').unwrap_or(("default", name));
        out.push(Finding::new(
            Code::ScheduleNotFound,
            None,
            Some(name),
            format!("The EventBridge Scheduler schedule {schedule_name} of group {group} does not exist, so nothing invokes the target."),
            format!("Create it: aws scheduler create-schedule --name {schedule_name} --group-name {group} --schedule-expression '…' --flexible-time-window Mode=OFF --target '{{\"Arn\": \"…\", \"RoleArn\": \"…\"}}'"),
        ));
        return;
    };
    if !check_arn(&schedule.arn, None, "The schedule ARN", out) {
        return;
    }
    let Ok(arn) = Arn::parse(&schedule.arn) else {
        return; // reported by check_arn above
    };
    // arn:PARTITION:scheduler:REGION:ACCOUNT:schedule/GROUP/NAME
    let path = arn.resource.trim_start_matches("schedule/");
    let (group, name) = path.split_once('/').unwrap_or(("default", path));
    let group_arn = format!(
        "arn:{}:scheduler:{}:{}:schedule-group/{group}",
        arn.partition, arn.region, arn.account
    );
    if !schedule.enabled {
        out.push(Finding::new(
            Code::ScheduleDisabled,
            None,
            Some(&schedule.arn),
            format!("Schedule {name} of group {group} is DISABLED: Scheduler does not invoke its target."),
            format!("aws scheduler update-schedule --name {name} --group-name {group} --state ENABLED, with every other field as aws scheduler get-schedule shows it (an update replaces the whole schedule)"),
        ));
    }
    if let Some(now) = snapshot.now.as_deref() {
        check_ended(schedule, name, group, now, out);
    }
    ScheduleCheck {
        snapshot,
        expect,
        schedule,
        name,
        account: &arn.account,
        group_arn: &group_arn,
        out,
    }
    .run();
}

/// How long after an `at()` time read as UTC it has passed in every zone (its time is the
/// schedule's zone's; the westernmost is UTC−12; a margin beyond).
const AT_MARGIN_SECONDS: i64 = 14 * 3600;

/// The end date passed, or the one-time `at()` long enough ago to have passed in any time
/// zone.
fn check_ended(schedule: &Schedule, name: &str, group: &str, now: &str, out: &mut Findings) {
    let Some(now_s) = epoch_seconds(now) else {
        return;
    };
    let one_time = schedule
        .expression
        .strip_prefix("at(")
        .and_then(|r| r.strip_suffix(')'));
    let why = match one_time {
        // Scheduler ignores a one-time schedule's end date.
        Some(at) => epoch_seconds(&format!("{at}Z"))
            .is_some_and(|t| t + AT_MARGIN_SECONDS < now_s)
            .then(|| format!("its one-time expression at({at}) has passed")),
        None => schedule
            .end_date
            .as_deref()
            .filter(|end| epoch_seconds(end).is_some_and(|end| end <= now_s))
            .map(|end| format!("its end date {end} has passed")),
    };
    if let Some(why) = why {
        out.push(Finding::new(
            Code::ScheduleEnded,
            None,
            Some(&schedule.arn),
            // No "as of now": the message would change, and status be written, every pass.
            format!("Schedule {name} of group {group} will not invoke its target again: {why}."),
            "If it should run again, set a later endDate (or none) or a future at() expression; a one-time schedule that ran is done, and this is only a note.".into(),
        ));
    }
}

/// Seconds since the epoch of an instant as Scheduler and the CLI write it (`Z`, an offset
/// in the CLI's local zone, fractions; none: UTC), read as IAM's date conditions are.
fn epoch_seconds(instant: &str) -> Option<i64> {
    crate::iam::eval::parse_date(instant).map(|t| t.as_second())
}

/// A queue or topic Scheduler sends to with the role, and the key it is under.
struct Held<'h> {
    holder: &'h str,
    what: &'static str,
    code: Code,
    key: &'h str,
}

struct ScheduleCheck<'a> {
    snapshot: &'a Snapshot,
    expect: &'a Expectations,
    schedule: &'a Schedule,
    name: &'a str,
    account: &'a str,
    group_arn: &'a str,
    out: &'a mut Findings,
}

impl<'a> Judge<'a> for ScheduleCheck<'a> {
    fn snapshot(&self) -> &'a Snapshot {
        self.snapshot
    }
    fn account(&self) -> &'a str {
        self.account
    }
    fn invoker(&self) -> Invoker<'a> {
        Invoker::scheduler(self.group_arn)
    }
    fn target_id(&self) -> Option<&'a str> {
        None
    }
    fn out(&mut self) -> &mut Findings {
        self.out
    }
}

impl<'a> ScheduleCheck<'a> {
    fn run(mut self) {
        let s = self.schedule;
        if !check_arn(&s.target_arn, None, "The schedule's target ARN", self.out) {
            return;
        }
        let dead_letter = s
            .dead_letter_arn
            .as_deref()
            .filter(|dlq| check_arn(dlq, None, "The dead-letter queue ARN", self.out));
        if let Some(dlq) = dead_letter.filter(|dlq| dlq.ends_with(".fifo")) {
            self.finding(
                Code::ScheduleDeadLetterQueueIsFifo,
                dlq,
                format!("The schedule's dead-letter queue {dlq} is a FIFO queue: EventBridge Scheduler sends undelivered invocations only to a standard queue."),
                format!("Create a standard queue (aws sqs create-queue --queue-name {}) and name it in the schedule's target DeadLetterConfig.", remedy::role_name(dlq).trim_end_matches(".fifo")),
            );
        }
        if Arn::parse(&s.target_arn)
            .is_ok_and(|t| t.service == "sns" && t.resource.ends_with(".fifo"))
        {
            self.check_templated_fifo_topic();
        }
        let Some(role) = self.role() else {
            return;
        };
        self.check_trust(role);
        self.check_policy_arns(role);
        self.check_target_action(role);
        if let Some(dlq) = dead_letter.filter(|dlq| !dlq.ends_with(".fifo")) {
            self.check_action(
                role,
                "sqs:SendMessage",
                Code::ScheduleDeadLetterNotAllowed,
                dlq,
                &format!("sqs:SendMessage on the dead-letter queue {dlq} (Scheduler sends what it could not deliver there with the schedule's role, not as a service)"),
            );
        }
        self.check_queues_resource_control(role);
        self.check_keys(role);
        self.check_broad_statements(role);
    }

    /// The organisation's RCPs weigh on the role's sends to the target queue or topic and
    /// the dead-letter queue as on anyone's (`check_resource_control` passes over a topic:
    /// RCPs do not cover SNS). Only the schedule's account: the policies gathered are those
    /// above it.
    fn check_queues_resource_control(&mut self, role: &Role) {
        for (holder, what, _) in self.sends_to() {
            let Some(action) = Arn::parse(&holder)
                .ok()
                .filter(|a| a.account == self.account)
                .map(|a| {
                    if a.service == "sns" {
                        "sns:Publish"
                    } else {
                        "sqs:SendMessage"
                    }
                })
            else {
                continue;
            };
            let request = self.role_request(role, action, &holder);
            self.check_resource_control(
                &request,
                &format!("role {} {action} on the {what} {holder}", role.name),
            );
        }
    }

    /// The queues and topics Scheduler sends to with the role ([`schedule_sends_to`]), each
    /// with what it is and the code when its key refuses the role.
    fn sends_to(&self) -> Vec<(String, &'static str, Code)> {
        let target = call_resource(self.schedule);
        schedule_sends_to(self.schedule)
            .into_iter()
            .map(|holder| {
                let (what, code) = if holder != target {
                    ("dead-letter queue", Code::DeadLetterQueueKmsKeyNotPermitted)
                } else if Arn::parse(&holder).is_ok_and(|a| a.service == "sns") {
                    ("target topic", Code::SnsTopicKmsKeyNotPermitted)
                } else {
                    ("target queue", Code::SqsQueueKmsKeyNotPermitted)
                };
                (holder, what, code)
            })
            .collect()
    }

    /// A queue or topic encrypted with a customer managed key: SQS and SNS use the key as
    /// the caller, the schedule's role (not a service principal, as for a rule), so the key
    /// policy must name the role, or grant the account and leave it to the role's own
    /// policies. The AWS managed keys admit any principal of the account calling through
    /// their service: fine here, unlike for a rule. Judged when the holder and its key
    /// policy were gathered.
    fn check_keys(&mut self, role: &Role) {
        let holders = self.snapshot.dead_letter_queues.as_ref();
        for (holder, what, code) in self.sends_to() {
            let Some(key) = holders
                .and_then(|h| h.get(&holder))
                .and_then(|q| q.kms_key.clone())
            else {
                continue;
            };
            let Ok(holder_arn) = Arn::parse(&holder) else {
                continue;
            };
            let via = crate::iam::arn::service_host(
                &holder_arn.service,
                &holder_arn.region,
                &holder_arn.partition,
            );
            // The organisation weighs on any key's use, an AWS managed one's too (named by
            // its alias when its key is not known: an SCP's `Resource: "*"` matches it).
            let resolved = resource_policies::resolved_key_arn(self.snapshot, &key, &holder_arn);
            let managed = resource_policies::is_aws_managed_key(&key);
            let for_org = resolved
                .clone()
                .unwrap_or_else(|| resource_policies::key_arn_of(&key, &holder_arn));
            self.check_key_organisation(
                role,
                &for_org,
                &via,
                &format!("{what} {holder}"),
                !managed,
            );
            if managed {
                continue;
            }
            // An alias not resolved to its key, or a policy not read: not judged (the
            // `notEvaluated` note says so).
            let (Some(key_arn), Some(key_policy)) = (
                resolved,
                resource_policies::key_policy_of(self.snapshot, &key),
            ) else {
                continue;
            };
            let held = Held {
                holder: &holder,
                what,
                code,
                key: &key,
            };
            self.check_key_policy(role, &held, &key_arn, &key_policy, &via);
        }
    }

    /// The key policy, the role's policies and its boundary on the role's use of `key_arn`.
    fn check_key_policy(
        &mut self,
        role: &Role,
        held: &Held<'_>,
        key_arn: &str,
        key_policy: &PolicyDocument,
        via: &str,
    ) {
        let Held {
            holder,
            what,
            code,
            key,
        } = *held;
        let mut denied = vec![];
        let mut notes = vec![];
        for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
            let outcome = self.key_outcome(role, key_arn, key_policy, action, via);
            if outcome.decision != Decision::Allow {
                denied.push((action, outcome.decision, outcome.blocked_by));
            }
            notes.extend(outcome.not_evaluated.into_iter().map(|(_, n)| n));
        }
        let Some((_, decision, blocked_by)) = denied.first() else {
            return;
        };
        let actions: Vec<&str> = denied.iter().map(|(a, _, _)| *a).collect();
        let (why, fix) = key_refusal(role, key_arn, *decision, blocked_by);
        self.finding(
            code,
            holder,
            format!(
                "The {what} {holder} is encrypted with KMS key {key}, and Scheduler's role {} may not {} with it: {why}. Scheduler cannot send to the {}.",
                role.name,
                actions.join(" or "),
                if what.ends_with("topic") { "topic" } else { "queue" }
            ),
            fix,
        );
        self.note_not_evaluated(code, holder, &notes);
    }

    /// The organisation's policies on the role's use of a key (both calls SQS and SNS make
    /// with it): its SCPs, and its RCPs when `rcps` (RCPs do not cover AWS managed keys) and
    /// the key is in the schedule's account (the levels gathered are that account's).
    fn check_key_organisation(
        &mut self,
        role: &Role,
        key_arn: &str,
        via: &str,
        of: &str,
        rcps: bool,
    ) {
        let in_account = Arn::parse(key_arn).is_ok_and(|k| k.account == self.account);
        for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
            let mut request = self.role_request(role, action, key_arn);
            request.context = request
                .context
                .with("kms:ViaService", via)
                .with("kms:CallerAccount", self.account);
            let what = format!("{action} on {key_arn}, the key of the {of}");
            self.check_service_control(role, &request, &what);
            if rcps && in_account {
                self.check_resource_control(&request, &format!("role {} {what}", role.name));
            }
        }
    }

    /// The role's use of the key through SQS or SNS (`via`), by every policy that weighs:
    /// the key policy (required: IAM policies count only if it grants the account), the
    /// role's policies and its boundary.
    fn key_outcome(
        &self,
        role: &Role,
        key_arn: &str,
        key_policy: &PolicyDocument,
        action: &str,
        via: &str,
    ) -> crate::iam::request::Outcome {
        use crate::iam::request::{evaluate, Principal, Question};
        let named = |(name, document): (String, PolicyDocument)| Named {
            name,
            id: None,
            document,
        };
        let policies = Policies {
            identity: identity_documents(role).into_iter().map(named).collect(),
            resource: Some(named(("key policy".into(), key_policy.clone()))),
            boundary: role
                .permissions_boundary
                .as_ref()
                .and_then(|(arn, d)| {
                    PolicyDocument::parse(d)
                        .ok()
                        .map(|d| named((arn.clone(), d)))
                })
                .into_iter()
                .collect(),
            ..Policies::default()
        };
        let question = Question {
            principal: Principal::Role {
                arn: role.arn.clone(),
                account: self.account.to_string(),
            },
            action: action.into(),
            resource: key_arn.into(),
            resource_account: None,
            context: Context::new()
                .with("kms:ViaService", via)
                .with("kms:CallerAccount", self.account),
        };
        evaluate(&question, &policies)
    }

    /// The schedule's role, once it is known to exist in this account.
    fn role(&mut self) -> Option<&'a Role> {
        let role_arn = self.schedule.role_arn.as_str();
        let trust = crate::iam::documents::scheduler_trust_policy(self.account, self.group_arn);
        if role_arn.is_empty() {
            self.finding(
                Code::TargetRoleMissing,
                &self.schedule.arn,
                format!("Schedule {} names no role: Scheduler invokes every target with the schedule's role.", self.name),
                format!("Create a role that trusts scheduler.amazonaws.com ({trust}) and name it in the schedule's target RoleArn."),
            );
            return None;
        }
        if !check_arn(role_arn, None, "The schedule's RoleArn", self.out) {
            return None;
        }
        let role_account = Arn::parse(role_arn).map(|a| a.account).unwrap_or_default();
        if role_account != self.account {
            self.finding(
                Code::CrossAccountUnsupportedTarget,
                role_arn,
                format!("The schedule's role is in account {role_account} but the schedule is in {}: Scheduler passes only a role of the schedule's account.", self.account),
                format!("Use a role of account {} that trusts scheduler.amazonaws.com ({trust}) as the schedule's RoleArn.", self.account),
            );
            return None;
        }
        let Some(role) = self.snapshot.roles.get(role_arn) else {
            self.finding(
                Code::TargetRoleNotFound,
                role_arn,
                format!(
                    "The schedule's RoleArn names role {} which does not exist.",
                    remedy::role_name(role_arn)
                ),
                format!(
                    "aws iam create-role --role-name {} --assume-role-policy-document '{trust}'",
                    remedy::role_name(role_arn)
                ),
            );
            return None;
        };
        Some(role)
    }

    /// Scheduler's templated SNS target on a FIFO topic: it has no message group to send, so
    /// SNS refuses every publish (an invocation failure, not a permission).
    fn check_templated_fifo_topic(&mut self) {
        let topic = self.schedule.target_arn.as_str();
        let partition = Arn::parse(topic)
            .map(|a| a.partition)
            .unwrap_or_else(|_| "aws".into());
        let name = self.name;
        self.finding(
            Code::ScheduleTopicNeedsMessageGroup,
            topic,
            format!("Schedule {} publishes to the FIFO topic {topic} through Scheduler's SNS target, which sends no message group ID: SNS refuses every publish.", self.name),
            format!("Publish through the universal target instead: target Arn arn:{partition}:scheduler:::aws-sdk:sns:publish, Input {{\"TopicArn\": \"{topic}\", \"Message\": \"…\", \"MessageGroupId\": \"…\", \"MessageDeduplicationId\": \"{name}@<aws.scheduler.scheduled-time>\"}} (one ID for every retry of a run; with this controller: set spec.target.sns.messageGroupId)."),
        );
    }

    /// What the role must be allowed on the target. A function is invoked with the role
    /// (`lambda:InvokeFunction`), unlike from a rule; a universal target (`aws-sdk`) is
    /// judged when its call is one whose resource its input names ([`universal_call`]).
    fn check_target_action(&mut self, role: &Role) {
        let s = self.schedule;
        let Ok(target) = Arn::parse(&s.target_arn) else {
            return;
        };
        match target.service.as_str() {
            "scheduler" => {
                if let Some(call) = universal_call(&s.target_arn, s.input.as_ref()) {
                    let what = format!("{} on {} (the call of universal target {})", call.action, call.resource, s.target_arn);
                    self.check_action(role, call.action, call.code, &call.resource, &what);
                }
            }
            "ecs" => {
                let task_definition_arn = s
                    .parameters
                    .ecs()
                    .map(|e| e.task_definition_arn.clone())
                    .unwrap_or_default();
                let known = self
                    .snapshot
                    .task_definitions
                    .get(&task_definition_arn)
                    .or_else(|| find_task_definition(self.snapshot, &task_definition_arn));
                let to_pass = match known {
                    Some(td) => td.roles_to_pass(),
                    None => self.expect.pass_role_arns.clone(),
                };
                self.check_run_task(role, &s.target_arn, &task_definition_arn, to_pass);
            }
            "lambda" => self.check_action(
                role,
                "lambda:InvokeFunction",
                Code::InvokeFunctionNotAllowed,
                &s.target_arn,
                &format!("lambda:InvokeFunction on {} (Scheduler invokes a function with the schedule's role; the function's own policy plays no part)", s.target_arn),
            ),
            _ => {
                for (action, code) in scheduler_actions(&target) {
                    self.check_action(role, action, code, &s.target_arn, &format!("{action} on {}", s.target_arn));
                }
            }
        }
    }
}

/// What the schedule's call acts on: the templated target, or the resource a universal
/// call's input names (the universal ARN itself when it names none).
pub(super) fn call_resource(s: &Schedule) -> String {
    universal_call(&s.target_arn, s.input.as_ref())
        .map(|call| call.resource)
        .unwrap_or_else(|| s.target_arn.clone())
}

/// The queues and topics Scheduler sends to with the schedule's role: the target's
/// (templated, or the resource of a universal call) and the dead-letter queue. What is
/// gathered for their KMS keys.
pub fn schedule_sends_to(s: &Schedule) -> Vec<String> {
    let target = call_resource(s);
    let holder = Arn::parse(&target).is_ok_and(|a| a.service == "sqs" || a.service == "sns");
    let mut out: Vec<String> = holder.then_some(target).into_iter().collect();
    if let Some(dlq) = s.dead_letter_arn.clone().filter(|d| !out.contains(d)) {
        out.push(dlq);
    }
    out
}

/// Why the key refuses the role, by the policy types that did not allow (or denied), and
/// the fix of each.
fn key_refusal(
    role: &Role,
    key_arn: &str,
    decision: Decision,
    blocked_by: &[Layer],
) -> (String, String) {
    let key_id = key_arn.rsplit('/').next().unwrap_or(key_arn);
    let layer_name = |l: &Layer| match l {
        Layer::Resource => "key policy",
        Layer::Identity => "role's policies",
        Layer::Boundary => "permissions boundary",
        other => other.as_str(),
    };
    let layers: Vec<&str> = blocked_by.iter().map(layer_name).collect();
    if decision == Decision::ExplicitDeny {
        let why = format!(
            "an explicit Deny in the {} blocks it; a Deny wins over every Allow",
            layers.join(", ")
        );
        let fix = format!("Narrow the Deny of the {} that matches kms:GenerateDataKey or kms:Decrypt on {key_arn}, e.g. a Condition that exempts aws:PrincipalArn {}", layers.join(", "), role.arn);
        return (why, fix);
    }
    let use_key = json!(["kms:GenerateDataKey", "kms:Decrypt"]);
    let mut whys = vec![];
    let mut fixes = vec![];
    for layer in blocked_by {
        match layer {
            Layer::Resource => {
                whys.push("its key policy names neither the role nor the account (a key is usable only as far as its key policy allows)".to_string());
                let statement = json!({"Sid": "SchedulerRoleUsesKey", "Effect": "Allow",
                    "Principal": {"AWS": role.arn}, "Action": use_key, "Resource": "*"});
                fixes.push(format!(
                    "Add this statement to the key policy of {key_arn}, keeping its other statements:\n{}\nthen: aws kms put-key-policy --key-id {key_id} --policy-name default --policy file://key-policy.json",
                    serde_json::to_string_pretty(&statement).unwrap_or_default()
                ));
            }
            Layer::Identity => {
                whys.push("the key policy leaves the key to IAM policies, and the role's policies do not allow it".to_string());
                fixes.push(format!(
                    "For a role the controller created, name the key in spec.schedule.kmsKeyArns: [\"{key_arn}\"]. For a role of yours: {}",
                    remedy::put_statement(
                        &role.arn,
                        "eventbridge-invoke",
                        json!({"Effect": "Allow", "Action": use_key, "Resource": key_arn}),
                    )
                ));
            }
            Layer::Boundary => {
                let boundary = role
                    .permissions_boundary
                    .as_ref()
                    .map_or("", |(arn, _)| arn.as_str());
                whys.push(format!(
                    "the role's permissions boundary {boundary} does not allow it"
                ));
                fixes.push(format!(
                    "Allow it in the boundary policy {boundary} (a new default version with this statement):\n{}",
                    serde_json::to_string_pretty(&json!({"Effect": "Allow", "Action": use_key, "Resource": key_arn})).unwrap_or_default()
                ));
            }
            other => {
                whys.push(format!("its {} policies do not allow it", other.as_str()));
                fixes.push(format!("Allow kms:GenerateDataKey and kms:Decrypt on {key_arn} for {} in the {} policies.", role.arn, other.as_str()));
            }
        }
    }
    (whys.join("; and "), fixes.join("\nAnd: "))
}

/// The call of a universal target: the IAM action, the code when the role may not do it, and
/// the resource its input names.
#[derive(Debug, PartialEq)]
pub(super) struct UniversalCall {
    pub action: &'static str,
    pub code: Code,
    pub resource: String,
}

/// The call of a universal target (`arn:…:scheduler:::aws-sdk:SERVICE:OPERATION`) whose
/// resource its input names: SNS Publish (what the controller writes for a FIFO topic), and
/// SQS SendMessage, Kinesis PutRecord and Step Functions StartExecution as written by hand.
/// None: another call, whose resource is not known here (said in `notEvaluated`).
pub(super) fn universal_call(target_arn: &str, input: Option<&Value>) -> Option<UniversalCall> {
    let (_, call) = target_arn.split_once(":scheduler:::aws-sdk:")?;
    let field = |key: &str| input?.get(key)?.as_str().map(str::to_string);
    let (action, code, resource) = match call.to_ascii_lowercase().as_str() {
        "sns:publish" => ("sns:Publish", Code::PublishNotAllowed, field("TopicArn")?),
        "sqs:sendmessage" => (
            "sqs:SendMessage",
            Code::SendMessageNotAllowed,
            queue_arn_of_url(&field("QueueUrl")?)?,
        ),
        "kinesis:putrecord" => (
            "kinesis:PutRecord",
            Code::PutRecordNotAllowed,
            field("StreamARN")?,
        ),
        "sfn:startexecution" => (
            "states:StartExecution",
            Code::StartExecutionNotAllowed,
            field("StateMachineArn")?,
        ),
        _ => return None,
    };
    Some(UniversalCall {
        action,
        code,
        resource,
    })
}

/// `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME` as the queue's ARN (the partition from
/// the region; the legacy `REGION.queue.amazonaws.com` form too).
fn queue_arn_of_url(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let (account, name) = path.trim_end_matches('/').split_once('/')?;
    let region = host
        .strip_prefix("sqs.")
        .and_then(|h| h.split('.').next())
        .or_else(|| host.split_once(".queue.").map(|(r, _)| r))?;
    let region = crate::iam::Region::parse(region).ok()?;
    let partition = region.partition();
    let valid =
        crate::iam::AccountId::parse(account).is_ok() && !name.is_empty() && !name.contains('/');
    valid.then(|| format!("arn:{partition}:sqs:{region}:{account}:{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_as_scheduler_and_the_cli_write_them() {
        let base = epoch_seconds("2027-01-01T00:00:00Z").unwrap();
        assert_eq!(epoch_seconds("2027-01-01T00:00:00+00:00"), Some(base));
        assert_eq!(epoch_seconds("2027-01-01T00:00:00.000Z"), Some(base));
        assert_eq!(epoch_seconds("2027-01-01T00:00:00"), Some(base));
        assert_eq!(epoch_seconds("2027-01-01T01:00:00Z"), Some(base + 3600));
        // The CLI prints Scheduler's times in its machine's zone.
        assert_eq!(epoch_seconds("2027-01-01T01:00:00+01:00"), Some(base));
        assert_eq!(epoch_seconds("next tuesday"), None);
    }

    #[test]
    fn a_universal_targets_call_is_read_from_its_arn_and_input() {
        let topic = "arn:aws:sns:us-east-1:111111111111:orders.fifo";
        let publish = json!({"TopicArn": topic, "Message": "{}", "MessageGroupId": "g"});
        assert_eq!(
            universal_call("arn:aws:scheduler:::aws-sdk:sns:publish", Some(&publish)),
            Some(UniversalCall {
                action: "sns:Publish",
                code: Code::PublishNotAllowed,
                resource: topic.into()
            })
        );
        let send = json!({"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/111111111111/jobs", "MessageBody": "x"});
        assert_eq!(
            universal_call("arn:aws:scheduler:::aws-sdk:sqs:sendMessage", Some(&send))
                .map(|c| c.resource),
            Some("arn:aws:sqs:eu-west-1:111111111111:jobs".into())
        );
        assert_eq!(
            queue_arn_of_url("https://cn-north-1.queue.amazonaws.com.cn/111111111111/jobs"),
            Some("arn:aws-cn:sqs:cn-north-1:111111111111:jobs".into())
        );
        // No resource named, another call, or a templated target: not judged.
        assert_eq!(
            universal_call("arn:aws:scheduler:::aws-sdk:sns:publish", Some(&json!({}))),
            None
        );
        assert_eq!(
            universal_call("arn:aws:scheduler:::aws-sdk:sns:publish", None),
            None
        );
        assert_eq!(
            universal_call("arn:aws:scheduler:::aws-sdk:sqs:createQueue", Some(&send)),
            None
        );
        assert_eq!(universal_call(topic, Some(&publish)), None);
        assert_eq!(
            queue_arn_of_url("https://sqs.us-east-1.amazonaws.com/jobs"),
            None
        );
    }
}
