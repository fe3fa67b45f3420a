//! Glue between what the controller observed and the pure diagnosis engine: the engine's
//! view of each account, and the findings of every rule of an integration.

use std::collections::BTreeMap;

use crate::api::EventBridgeIntegration;
use crate::diagnose::{self, Chain, Code, Expectations, Finding, Snapshot};
use crate::plan::diff::Observed;
use crate::plan::{Desired, Plan, Side};

use super::part::{Evidence, Part};

/// The diagnosis engine's view of what was observed.
pub(in crate::controller) fn snapshot(desired: &Desired, observed: &Observed) -> Snapshot {
    let rule = observed.rule.clone();
    let targets = observed
        .targets
        .iter()
        .map(|t| diagnose::Target {
            id: t.id.clone(),
            arn: t.arn.clone(),
            role_arn: t.role_arn.clone(),
            task_definition_arn: t.parameters.ecs().map(|e| e.task_definition_arn.clone()),
            dead_letter_arn: t.dead_letter_arn.clone(),
        })
        .collect();
    let mut roles = BTreeMap::new();
    for r in observed.role.iter() {
        roles.insert(r.arn.clone(), r.clone());
    }
    let mut lambda_policies = BTreeMap::new();
    for p in &desired.permissions {
        if let Some(doc) = observed.lambda_policies.get(p.function_arn.as_str()) {
            lambda_policies.insert(p.function_arn.to_string(), doc.clone());
        }
    }
    let task_definitions = observed.task_definitions.clone();
    // The queues the rule sends to (dead-letter queue, SQS target) as read; one missing from
    // the map does not exist. Key policies and the organisation's policies are added from
    // the pass's evidence (`diagnose_parts`).
    // The queues and topics with our statements, and those a schedule sends to (read for
    // their keys).
    let mut holders: Vec<String> = desired
        .permitted_queues()
        .iter()
        .map(|q| q.queue_arn.clone())
        .collect();
    if let Some(s) = &desired.schedule {
        holders.extend(diagnose::schedule_sends_to(
            &crate::plan::diff::schedule_as_written(s),
        ));
    }
    let dead_letter_queues = (!holders.is_empty()).then(|| {
        holders
            .iter()
            .filter_map(|arn| {
                let queue = observed.queues.get(arn)?;
                Some((
                    arn.clone(),
                    diagnose::Queue {
                        arn: arn.clone(),
                        policy: queue.policy(),
                        kms_key: queue.attributes.get("KmsMasterKeyId").cloned(),
                    },
                ))
            })
            .collect()
    });
    let api_destinations = observed
        .api_destinations
        .values()
        .filter_map(|pair| {
            let d = pair.destination.as_ref()?;
            let connection = pair
                .connection
                .as_ref()
                .filter(|c| c.arn == d.connection_arn);
            let destination = diagnose::ApiDestination {
                arn: d.arn.clone(),
                connection_arn: d.connection_arn.clone(),
                connection_state: connection.map(|c| c.state.clone()),
                connection_state_reason: connection.and_then(|c| c.state_reason.clone()),
            };
            Some((d.arn.clone(), destination))
        })
        .collect();
    Snapshot {
        rule,
        schedule: observed.schedule.clone(),
        targets,
        roles,
        lambda_policies,
        task_definitions,
        chains: vec![],
        dead_letter_queues,
        api_destinations,
        ..Default::default()
    }
}

/// What a pass's diagnosis found, and what it could not evaluate (and why).
pub(in crate::controller) struct Diagnosis {
    pub findings: Vec<Finding>,
    pub not_evaluated: Vec<String>,
}

/// The diagnosis of every rule of the integration, each seeing the roles and function
/// policies of both accounts, plus the RoleChain's trust chain, and each account's own
/// organisation and key policies (`evidence`, one per part).
pub(in crate::controller) fn diagnose_parts(
    obj: &EventBridgeIntegration,
    plan: &Plan,
    parts: &[Part],
    evidence: &[Evidence],
) -> Diagnosis {
    let snapshots: Vec<_> = parts
        .iter()
        .zip(evidence)
        .map(|(p, e)| {
            let mut s = snapshot(&p.desired, &p.observed);
            e.organization.fill(&mut s);
            for (key, policy) in &e.key_policies {
                policy.fill(key, &mut s);
            }
            (p, s)
        })
        .collect();
    let mut roles = BTreeMap::new();
    let mut lambda_policies = BTreeMap::new();
    // A queue or topic of the target account (direct delivery) is read in its part, and
    // judged from the rule's.
    let mut holders: Option<BTreeMap<String, diagnose::Queue>> = None;
    for (_, s) in &snapshots {
        roles.extend(s.roles.clone());
        lambda_policies.extend(s.lambda_policies.clone());
        if let Some(h) = &s.dead_letter_queues {
            holders.get_or_insert_with(BTreeMap::new).extend(h.clone());
        }
    }
    let mut findings: Vec<Finding> = Vec::new();
    let mut not_evaluated: Vec<String> = Vec::new();
    let pass_role_arns: Vec<String> = obj
        .spec
        .target_entries()
        .iter()
        .filter_map(|(_, t)| t.ecs.as_ref()?.pass_role_arns.clone())
        .flatten()
        .collect();
    for (part, mut snapshot) in snapshots {
        snapshot.roles = roles.clone();
        let diagnosis = if let Some(schedule) = &part.desired.schedule {
            snapshot.now = Some(now_text());
            let mut d = examine_schedule(&snapshot, schedule, &pass_role_arns);
            // The spec asks for a disabled schedule: that is intent, not a fault.
            d.findings
                .retain(|f| schedule.enabled || f.code != Code::ScheduleDisabled);
            findings.extend(d.findings);
            d.not_evaluated
        } else if let Some(rule) = &part.desired.rule {
            snapshot.lambda_policies = lambda_policies.clone();
            snapshot.dead_letter_queues = holders.clone();
            if part.side == Side::Local {
                snapshot.chains = chains_of(plan);
            }
            let d = examine_rule(&snapshot, rule, part, &pass_role_arns);
            for f in d.findings {
                // The spec asks for a disabled rule: that is intent, not a fault.
                if (f.code != Code::RuleDisabled || rule.enabled) && !findings.contains(&f) {
                    findings.push(f);
                }
            }
            d.not_evaluated
        } else {
            continue;
        };
        for note in diagnosis {
            if !not_evaluated.contains(&note) {
                not_evaluated.push(note);
            }
        }
    }
    findings.sort_by_key(|f| f.severity);
    Diagnosis {
        findings,
        not_evaluated,
    }
}

/// A schedule's part, examined for its schedule and role.
fn examine_schedule(
    snapshot: &diagnose::Snapshot,
    schedule: &crate::plan::schedule::DesiredSchedule,
    pass_role_arns: &[String],
) -> diagnose::Diagnosis {
    let expectations = Expectations {
        schedule_name: Some(format!("{}/{}", schedule.group, schedule.name)),
        pass_role_arns: pass_role_arns.to_vec(),
        ..Expectations::default()
    };
    diagnose::examine(snapshot, &expectations)
}

/// A rule's part, examined for its rule and the targets it should have.
fn examine_rule(
    snapshot: &diagnose::Snapshot,
    rule: &crate::plan::DesiredRule,
    part: &Part,
    pass_role_arns: &[String],
) -> diagnose::Diagnosis {
    let expectations = Expectations {
        rule_name: Some(rule.name.clone()),
        event_bus_name: Some(rule.event_bus_name.clone()),
        targets: part
            .desired
            .targets
            .iter()
            .map(|t| (t.id.clone(), t.arn.clone()))
            .collect(),
        pass_role_arns: pass_role_arns.to_vec(),
        schedule_name: None,
    };
    diagnose::examine(snapshot, &expectations)
}

/// The plan's role chain, as the diagnosis follows it.
fn chains_of(plan: &Plan) -> Vec<Chain> {
    plan.chain
        .iter()
        .map(|(from, to)| Chain {
            from: from.clone(),
            to: to.clone(),
        })
        .collect()
}

/// Now, as a schedule's dates are written (`yyyy-mm-ddThh:mm:ssZ`).
pub(crate) fn now_text() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// REST APIs of another account called directly, whose policy holds a statement of ours: a
/// stage serves the policy it was last deployed with. Each record entry of such a statement
/// gets the time of the last write of that policy (`now` when this pass wrote it, else what
/// status held), and a stage whose deployment is older than that write is a finding.
pub(in crate::controller) fn rest_api_stages(
    parts: &[Part],
    previous: Option<&crate::api::EventBridgeIntegrationStatus>,
    record: &mut [crate::api::OwnedResource],
    now: k8s_openapi::jiff::Timestamp,
) -> Vec<Finding> {
    use crate::plan::diff::Change;
    use crate::plan::PolicyHolder;
    let written_now = |arn: &str| {
        parts
            .iter()
            .flat_map(|p| &p.changes)
            .any(|c| matches!(c, Change::PutQueueStatements { queue_arn, .. } if queue_arn == arn))
    };
    let earlier = |entry: &crate::api::OwnedResource| {
        previous
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.iter().find(|r| r.same_as(entry)))
            .and_then(|r| r.policy_written_at.clone())
    };
    let mut findings = vec![];
    for entry in record.iter_mut() {
        if entry.kind != crate::api::OwnedKind::QueuePermission
            || PolicyHolder::of_arn(&entry.arn) != PolicyHolder::RestApi
        {
            continue;
        }
        entry.policy_written_at = if written_now(&entry.arn) {
            Some(now.to_string())
        } else {
            earlier(entry)
        };
        let Some(written_at) = entry
            .policy_written_at
            .as_deref()
            .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        else {
            continue;
        };
        let holder = parts.iter().find_map(|p| p.observed.queues.get(&entry.arn));
        let deployed_at = holder
            .and_then(|h| h.attributes.get("DeploymentCreatedDate"))
            .and_then(|d| d.parse::<i64>().ok());
        let target_id = parts
            .iter()
            .flat_map(|p| &p.desired.targets)
            .find(|t| t.arn == entry.arn)
            .map(|t| t.id.as_str());
        findings.extend(diagnose::stage_not_deployed(
            &entry.arn,
            written_at.as_second(),
            deployed_at,
            target_id,
        ));
    }
    findings
}
