//! The two holders of a policy the controller rewrites whole, keeping every statement but its
//! own: an SQS queue (`GetQueueAttributes`/`SetQueueAttributes`) and an SNS topic
//! (`GetTopicAttributes`/`SetTopicAttributes`). Everything above this file (plan, diff,
//! apply, record, cleanup) treats them alike; only the read and the write differ.

use super::errors::{classify, AwsError};
use super::observe::found;
use super::Clients;
use crate::plan::diff::ObservedQueue;
use crate::plan::PolicyHolder;

/// The holder named by `arn` (its `name` and `account` for a queue), with every attribute;
/// None: it does not exist. For a topic, `url` is the topic's ARN.
pub async fn read(
    c: &Clients,
    arn: &str,
    name: &str,
    account: &str,
) -> Result<Option<ObservedQueue>, AwsError> {
    match PolicyHolder::of_arn(arn) {
        PolicyHolder::Queue => super::observe::queue(c, name, account).await,
        PolicyHolder::Topic => topic(c, arn).await,
    }
}

/// An SNS topic's attributes (`Policy`, `KmsMasterKeyId`, …); None: it does not exist.
pub async fn topic(c: &Clients, topic_arn: &str) -> Result<Option<ObservedQueue>, AwsError> {
    let Some(out) = found(
        c.sns
            .get_topic_attributes()
            .topic_arn(topic_arn)
            .send()
            .await
            .map_err(|e| classify("sns:GetTopicAttributes", e)),
    )?
    else {
        return Ok(None);
    };
    let attributes = out
        .attributes()
        .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok(Some(ObservedQueue {
        url: topic_arn.to_string(),
        attributes,
    }))
}

/// Writes `policy` ("" removes it, for a queue) on the holder read as `observed`.
pub async fn write_policy(
    c: &Clients,
    arn: &str,
    observed: &ObservedQueue,
    policy: String,
) -> Result<(), AwsError> {
    match PolicyHolder::of_arn(arn) {
        PolicyHolder::Queue => super::apply::ignore_not_found(
            c.sqs
                .set_queue_attributes()
                .queue_url(&observed.url)
                .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, policy)
                .send()
                .await
                .map_err(|e| classify("sqs:SetQueueAttributes", e)),
        ),
        PolicyHolder::Topic => {
            // A topic always has a policy (SNS writes its default one); an empty value is
            // refused, so with no statement left the topic gets an empty statement list.
            let policy = if policy.is_empty() {
                serde_json::json!({"Version": "2012-10-17", "Statement": []}).to_string()
            } else {
                policy
            };
            super::apply::ignore_not_found(
                c.sns
                    .set_topic_attributes()
                    .topic_arn(arn)
                    .attribute_name("Policy")
                    .attribute_value(policy)
                    .send()
                    .await
                    .map_err(|e| classify("sns:SetTopicAttributes", e)),
            )
        }
    }
}
