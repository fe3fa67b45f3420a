//! A queue, topic, stream or REST API of another account, delivered to directly: the rule's
//! execution role may act, and the target's own policy names that role.

use super::super::*;

impl TargetCheck<'_> {
    /// A queue, topic or stream of another account, delivered to directly: the rule's
    /// execution role (of the rule's account) must trust EventBridge and may send, publish or
    /// put (checked as a role target), and the queue's, topic's or stream's policy must name
    /// that role (checked when the holder was gathered).
    pub(in crate::diagnose::checks) fn check_direct_target(&mut self, arn: &Arn) {
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
            "execute-api" => (
                "execute-api:Invoke",
                Code::ApiGatewayPolicyMissing,
                "REST API",
                "aws apigateway update-rest-api --patch-operations op=replace,path=/policy,value=POLICY, then aws apigateway create-deployment for the stage",
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
}
