//! The holders of a policy the controller rewrites whole, keeping every statement but its
//! own: an SQS queue (`GetQueueAttributes`/`SetQueueAttributes`), an SNS topic
//! (`GetTopicAttributes`/`SetTopicAttributes`) and a CloudWatch Logs resource policy of the
//! account (`DescribeResourcePolicies`/`PutResourcePolicy`, `DeleteResourcePolicy` when empty)
//! a Kinesis stream's resource policy (`Get`/`Put`/`DeleteResourcePolicy`) and an API Gateway
//! REST API's resource policy (`GetRestApi`/`UpdateRestApi`). Everything above this file
//! (plan, diff, apply, record, cleanup) treats them alike; only the read and the write differ.

use super::errors::{classify, AwsError};
use super::observe::found;
use super::Clients;
use crate::plan::diff::ObservedQueue;
use crate::plan::PolicyHolder;
use crate::sync::Locked;

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
        PolicyHolder::LogsPolicy => logs_policy(c, name).await,
        PolicyHolder::Stream => stream(c, arn).await,
        PolicyHolder::RestApi => rest_api(c, name).await,
    }
}

/// A REST API's resource policy as a holder (`url` is the API's ID); None: the API does not
/// exist. What its stage serves is [`stage_deployment`]'s, read by the pass that observes.
pub async fn rest_api(c: &Clients, api_id: &str) -> Result<Option<ObservedQueue>, AwsError> {
    let Some(api) = found(
        c.apigateway
            .get_rest_api()
            .rest_api_id(api_id)
            .send()
            .await
            .map_err(|e| classify("apigateway:GET", e)),
    )?
    else {
        return Ok(None);
    };
    Ok(Some(ObservedQueue {
        url: api_id.to_string(),
        attributes: api
            .policy()
            .and_then(rest_api_policy_text)
            .map(|p| ("Policy".to_string(), p))
            .into_iter()
            .collect(),
    }))
}

/// The deployment the stage of `method_arn` (`…:API_ID/STAGE/METHOD/PATH`) serves, and when
/// it was created (seconds since the epoch); None: no such stage, or it serves no deployment.
/// A deployment never changes: its time is read once per process (`Clients::deployments`).
pub async fn stage_deployment(
    c: &Clients,
    api_id: &str,
    method_arn: &str,
) -> Result<Option<(String, i64)>, AwsError> {
    let Some(stage_name) = method_arn.split('/').nth(1).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let Some(stage) = found(
        c.apigateway
            .get_stage()
            .rest_api_id(api_id)
            .stage_name(stage_name)
            .send()
            .await
            .map_err(|e| classify("apigateway:GET", e)),
    )?
    else {
        return Ok(None);
    };
    let Some(id) = stage.deployment_id() else {
        return Ok(None);
    };
    let key = format!("{api_id}/{id}");
    if let Some(created) = c.deployments.locked().get(&key) {
        return Ok(Some((id.to_string(), *created)));
    }
    let deployment = found(
        c.apigateway
            .get_deployment()
            .rest_api_id(api_id)
            .deployment_id(id)
            .send()
            .await
            .map_err(|e| classify("apigateway:GET", e)),
    )?;
    let Some(created) = deployment.and_then(|d| d.created_date().map(|t| t.secs())) else {
        return Ok(None);
    };
    c.deployments.locked().insert(key, created);
    Ok(Some((id.to_string(), created)))
}

/// A REST API's policy as JSON text. `GetRestApi` returns it escaped (`{\"Version\":…`,
/// `\/` for `/`); a policy read as written (moto, or a future AWS) is kept as it is.
pub fn rest_api_policy_text(policy: &str) -> Option<String> {
    let policy = policy.trim();
    if policy.is_empty() {
        return None;
    }
    if serde_json::from_str::<serde_json::Value>(policy).is_ok() {
        return Some(policy.to_string());
    }
    serde_json::from_str::<String>(&format!("\"{policy}\""))
        .ok()
        .filter(|p| serde_json::from_str::<serde_json::Value>(p).is_ok())
        .or_else(|| Some(policy.to_string()))
}

/// A Kinesis stream's resource policy as a holder (`url` is the stream's ARN); None: the
/// stream does not exist. A stream without a policy reads as `{}`: no `Policy`.
pub async fn stream(c: &Clients, stream_arn: &str) -> Result<Option<ObservedQueue>, AwsError> {
    let Some(out) = found(
        c.kinesis
            .get_resource_policy()
            .resource_arn(stream_arn)
            .send()
            .await
            .map_err(|e| classify("kinesis:GetResourcePolicy", e)),
    )?
    else {
        return Ok(None);
    };
    let policy = out.policy().trim();
    Ok(Some(ObservedQueue {
        url: stream_arn.to_string(),
        attributes: (!policy.is_empty() && policy != "{}")
            .then(|| ("Policy".to_string(), policy.to_string()))
            .into_iter()
            .collect(),
    }))
}

/// The account's CloudWatch Logs resource policy `name` (in the clients' region), as a holder
/// with its `Policy`; the holder is the account's, so it is there without a policy too.
/// `url` is the policy's name.
pub async fn logs_policy(c: &Clients, name: &str) -> Result<Option<ObservedQueue>, AwsError> {
    let document = logs_policies(c)
        .await?
        .into_iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, d)| d);
    Ok(Some(ObservedQueue {
        url: name.to_string(),
        attributes: document
            .into_iter()
            .map(|d| ("Policy".to_string(), d))
            .collect(),
    }))
}

/// Every CloudWatch Logs resource policy of the account and region (at most 10), by name,
/// with its document.
pub async fn logs_policies(c: &Clients) -> Result<Vec<(String, Option<String>)>, AwsError> {
    let mut out = vec![];
    let mut token = None;
    loop {
        let page = c
            .logs
            .describe_resource_policies()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify("logs:DescribeResourcePolicies", e))?;
        out.extend(page.resource_policies().iter().map(|p| {
            (
                p.policy_name().unwrap_or_default().to_string(),
                p.policy_document().map(str::to_string),
            )
        }));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
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
        // No statement left: the policy goes (it counts against the account's 10).
        PolicyHolder::LogsPolicy if policy.is_empty() => super::apply::ignore_not_found(
            c.logs
                .delete_resource_policy()
                .policy_name(&observed.url)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("logs:DeleteResourcePolicy", e)),
        ),
        PolicyHolder::LogsPolicy => c
            .logs
            .put_resource_policy()
            .policy_name(&observed.url)
            .policy_document(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("logs:PutResourcePolicy", e)),
        // No statement left: the policy goes (a stream takes no empty one).
        PolicyHolder::Stream if policy.is_empty() => super::apply::ignore_not_found(
            c.kinesis
                .delete_resource_policy()
                .resource_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("kinesis:DeleteResourcePolicy", e)),
        ),
        PolicyHolder::Stream => c
            .kinesis
            .put_resource_policy()
            .resource_arn(arn)
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("kinesis:PutResourcePolicy", e)),
        // API Gateway has no call to delete a policy: an empty one is none. The stage serves
        // the policy it was deployed with until it is deployed again (never by us).
        PolicyHolder::RestApi => super::apply::ignore_not_found(
            c.apigateway
                .update_rest_api()
                .rest_api_id(&observed.url)
                .patch_operations(
                    aws_sdk_apigateway::types::PatchOperation::builder()
                        .op(aws_sdk_apigateway::types::Op::Replace)
                        .path("/policy")
                        .value(policy)
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("apigateway:PATCH", e)),
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

#[cfg(test)]
mod tests {
    use super::rest_api_policy_text;

    #[test]
    fn a_rest_apis_policy_reads_back_escaped_or_not() {
        let written = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/r"},"Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:222222222222:a1b2c3d4e5/prod/POST/orders"}]}"#;
        // As GetRestApi returns it: quotes escaped, and `/` as `\/`.
        let escaped = written.replace('"', "\\\"").replace('/', "\\/");
        assert_ne!(escaped, written);
        let read: serde_json::Value =
            serde_json::from_str(&rest_api_policy_text(&escaped).unwrap()).unwrap();
        let expected: serde_json::Value = serde_json::from_str(written).unwrap();
        assert_eq!(read, expected);
        assert_eq!(rest_api_policy_text(written).as_deref(), Some(written));
        assert_eq!(rest_api_policy_text("  "), None);
        // Neither JSON nor escaped JSON: kept, for the diagnosis to say it cannot read it.
        assert_eq!(
            rest_api_policy_text("not json").as_deref(),
            Some("not json")
        );
    }
}
