//! A REST API of another account, called directly: its policy is judged with the other
//! holders (`direct`); what is API Gateway's own is that a stage serves the policy it was
//! deployed with, so a policy written after the stage's deployment is not in effect yet.

use crate::diagnose::{Code, Finding};
use crate::iam::Arn;

/// The stage that `method_arn` (`arn:…:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH`)
/// names, when the controller wrote the API's policy at `written_at` and the stage serves a
/// deployment created at `deployed_at` (seconds since the epoch; None: the stage serves no
/// deployment, or does not exist): an error until a deployment of a later second. Times are
/// whole seconds, as API Gateway gives them; one of the same second as the write may be from
/// before it, so it does not count: the error then asks for one more deployment, where
/// counting it could hide a stage that refuses every call.
pub fn stage_not_deployed(
    method_arn: &str,
    written_at: i64,
    deployed_at: Option<i64>,
    target_id: Option<&str>,
) -> Option<Finding> {
    if deployed_at.is_some_and(|d| d > written_at) {
        return None;
    }
    let arn = Arn::parse(method_arn).ok()?;
    let mut parts = arn.resource.split('/');
    let (api_id, stage) = (parts.next()?, parts.next()?);
    let served = match deployed_at {
        Some(_) => "a deployment created before that",
        None => "no deployment",
    };
    Some(Finding::new(
        Code::ApiGatewayStageNotDeployed,
        target_id,
        Some(method_arn),
        format!(
            "The controller wrote the resource policy of REST API {api_id} (account {}) naming the rule's execution role, but stage {stage} serves {served}: API Gateway applies a resource policy only when the stage is deployed again, so until then it refuses the rule's calls (403). The controller does not deploy a stage it does not own, since that would publish every other pending change of the API.",
            arn.account
        ),
        format!(
            "Deploy the stage with credentials of account {}: aws apigateway create-deployment --rest-api-id {api_id} --stage-name {stage} --region {}",
            arn.account, arn.region
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const METHOD: &str = "arn:aws:execute-api:us-east-1:222222222222:a1b2c3d4e5/prod/POST/orders";

    #[test]
    fn a_policy_written_after_the_stage_was_deployed_is_not_in_effect() {
        let f = stage_not_deployed(METHOD, 1_000, Some(999), Some("t1")).unwrap();
        assert_eq!(f.code, Code::ApiGatewayStageNotDeployed);
        assert!(f.is_error());
        assert_eq!(f.target_id.as_deref(), Some("t1"));
        assert!(
            f.remediation.contains(
                "aws apigateway create-deployment --rest-api-id a1b2c3d4e5 --stage-name prod --region us-east-1"
            ) && f.remediation.contains("account 222222222222"),
            "{}",
            f.remediation
        );
        assert!(f.message.contains("a deployment created before that"));
        let never = stage_not_deployed(METHOD, 1_000, None, None).unwrap();
        assert!(
            never.message.contains("serves no deployment"),
            "{}",
            never.message
        );
    }

    #[test]
    fn only_a_deployment_of_a_later_second_puts_it_in_effect() {
        assert_eq!(stage_not_deployed(METHOD, 1_000, Some(1_001), None), None);
        assert_eq!(stage_not_deployed(METHOD, 1_000, Some(1_060), None), None);
        // The same second may be before the write.
        assert!(stage_not_deployed(METHOD, 1_000, Some(1_000), None).is_some());
    }
}
