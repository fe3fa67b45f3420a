//! A CloudWatch Logs log group as a rule's target: the account's logs resource policies,
//! together, must let EventBridge write to it for the rule.

use super::super::*;

impl TargetCheck<'_> {
    /// A CloudWatch Logs log group as the target: no role; one of the account's logs resource
    /// policies must let EventBridge write to it for this rule. Checked when those policies
    /// were gathered (held among the queues, keyed `…:logs:REGION:ACCOUNT:resource-policy:NAME`).
    pub(in crate::diagnose::checks) fn check_logs_target(&mut self, arn: &Arn) {
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
}
