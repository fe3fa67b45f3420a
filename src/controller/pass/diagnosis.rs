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
/// stage serves the policy it was last deployed with. A record entry stamped with the last
/// write of that policy (`RecordKeeper::note_policy_written`) whose stage, as this pass
/// observed it, serves an older deployment is a finding.
pub(in crate::controller) fn rest_api_stages(
    parts: &[Part],
    record: &[crate::api::OwnedResource],
) -> Vec<Finding> {
    stage_findings(
        record,
        |arn| {
            parts
                .iter()
                .find_map(|p| p.observed.queues.get(arn))
                .and_then(|h| h.attributes.get("DeploymentCreatedDate"))
                .and_then(|d| d.parse::<i64>().ok())
        },
        |arn| {
            parts
                .iter()
                .flat_map(|p| &p.desired.targets)
                .find(|t| t.arn == arn)
                .map(|t| t.id.clone())
        },
    )
}

/// [`rest_api_stages`] over what a pass knows: when the stage of a method ARN was last
/// deployed, and the rule's target calling that method (None: no target of this plan calls
/// it, e.g. an entry left behind after the method changed, whose stage was not read).
fn stage_findings(
    record: &[crate::api::OwnedResource],
    deployed_at: impl Fn(&str) -> Option<i64>,
    target_id: impl Fn(&str) -> Option<String>,
) -> Vec<Finding> {
    use crate::plan::PolicyHolder;
    record
        .iter()
        .filter(|e| {
            e.kind == crate::api::OwnedKind::QueuePermission
                && e.left_behind.is_none()
                && PolicyHolder::of_arn(&e.arn) == PolicyHolder::RestApi
        })
        .filter_map(|e| {
            let id = target_id(&e.arn)?;
            let written_at = e
                .policy_written_at
                .as_deref()?
                .parse::<k8s_openapi::jiff::Timestamp>()
                .ok()?;
            diagnose::stage_not_deployed(
                &e.arn,
                written_at.as_second(),
                deployed_at(&e.arn),
                Some(&id),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{OwnedKind, OwnedResource};

    const METHOD: &str = "arn:aws:execute-api:us-east-1:222222222222:a1b2c3d4e5/prod/POST/orders";

    fn statement(arn: &str, written_at: Option<&str>) -> OwnedResource {
        OwnedResource {
            kind: OwnedKind::QueuePermission,
            partition: "aws".into(),
            account_id: "222222222222".into(),
            region: Some("us-east-1".into()),
            arn: arn.into(),
            name: "a1b2c3d4e5".into(),
            event_bus_name: None,
            qualifier: None,
            statement_id: Some("ebi-x".into()),
            proof: Some("arn:aws:iam::111111111111:role/r".into()),
            via_role_arn: None,
            restore: None,
            left_behind: None,
            policy_written_at: written_at.map(str::to_string),
        }
    }

    fn judge(record: &[OwnedResource], deployed_at: Option<i64>) -> Vec<Code> {
        stage_findings(
            record,
            |_| deployed_at,
            |arn| (arn == METHOD).then(|| "api".to_string()),
        )
        .into_iter()
        .map(|f| f.code)
        .collect()
    }

    #[test]
    fn a_stage_deployed_before_the_policy_was_written_is_a_finding_until_redeployed() {
        // 2026-12-06T10:00:00Z is 1796551200 seconds since the epoch.
        let written = [statement(METHOD, Some("2026-12-06T10:00:00Z"))];
        let stale = judge(&written, Some(1_796_551_199));
        assert_eq!(stale, [Code::ApiGatewayStageNotDeployed]);
        assert_eq!(judge(&written, None), [Code::ApiGatewayStageNotDeployed]);
        assert!(judge(&written, Some(1_796_551_201)).is_empty());
    }

    #[test]
    fn only_a_stamped_statement_of_a_called_method_in_use_is_judged() {
        // Never written by this controller (adopted, or from before the stamp): not judged.
        assert!(judge(&[statement(METHOD, None)], Some(0)).is_empty());
        // Left behind after the method changed: its stage was not read.
        let mut left = statement(METHOD, Some("2026-12-06T10:00:00Z"));
        left.left_behind = Some("AccessDenied".into());
        assert!(judge(&[left], None).is_empty());
        // No target of this plan calls it.
        let other = METHOD.replace("/POST/", "/GET/");
        assert!(judge(&[statement(&other, Some("2026-12-06T10:00:00Z"))], None).is_empty());
        // A queue's statement is not a REST API's.
        let queue = statement(
            "arn:aws:sqs:us-east-1:222222222222:q",
            Some("2026-12-06T10:00:00Z"),
        );
        assert!(judge(&[queue], None).is_empty());
    }
}
