//! An SNS topic as a rule's target: its policy must let EventBridge publish for the rule,
//! and its KMS key (never the AWS managed one) let EventBridge use it.

use super::super::*;

impl TargetCheck<'_> {
    /// An SNS topic as the target: no role, its policy must let EventBridge publish for this
    /// rule, and its KMS key (if any) let EventBridge use it. Checked when the topic was
    /// gathered (with the queues, by ARN).
    pub(in crate::diagnose::checks) fn check_sns_target(&mut self, arn: &Arn) {
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
}
