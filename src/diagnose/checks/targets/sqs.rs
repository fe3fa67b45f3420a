//! An SQS queue as a rule's target: its policy must let EventBridge send for the rule,
//! and its KMS key let EventBridge use it.

use super::super::*;

impl TargetCheck<'_> {
    /// An SQS queue as the target: no role, its policy must let EventBridge send for this
    /// rule. Checked when the queue was gathered (a queue absent from what was gathered is
    /// not evaluated here).
    pub(in crate::diagnose::checks) fn check_sqs_target(&mut self, arn: &Arn) {
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
}
