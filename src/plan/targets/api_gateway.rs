//! An API Gateway REST API: a role of EventBridge's with `execute-api:Invoke` on exactly the
//! method the rule calls (`arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH`,
//! which is also the rule's target ARN), and `HttpParameters` for the path's `*` values,
//! headers and query string. The REST API's own ARN names no account: the API is in the
//! rule's account, or in `spec.crossAccount.targetAccountId`'s of the rule's region, called
//! directly (mode DirectDelivery): the rule account's execution role gets
//! `execute-api:Invoke` on the method, and the API's resource policy one owned statement
//! naming that role and that method ([`direct_permission`]). A REST API's policy takes effect
//! when its stage is next deployed; the controller never deploys a stage it does not own (that
//! would publish whatever else is pending there), so the status says when one is needed.

use serde_json::{json, Value};

use super::super::validate::{bad, SpecError};
use super::super::{names, DesiredQueuePermission, DesiredRule, HttpShape, Owner, QueuePurpose};
use super::{KindFacts, TargetParameters};
use crate::api::{ApiGatewayTarget, CrossAccountMode, TargetKind};
use crate::iam::{AccountArn, Arn};

pub(super) const FIELD: &str = "spec.target.apiGateway.restApiArn";

pub(super) const FACTS: KindFacts = KindFacts {
    kind: TargetKind::ApiGateway,
    spec_field: "apiGateway",
    label: "API Gateway",
    service: "execute-api",
    resource_prefix: "",
    role_actions: &["execute-api:Invoke"],
    invoked_with_role: true,
    scheduler_actions: &[],
    eventbridge_delivers_across_accounts: true,
    built_across_accounts: &[CrossAccountMode::DirectDelivery],
};
const PATH_FIELD: &str = "spec.target.apiGateway.path";
const VALUES_FIELD: &str = "spec.target.apiGateway.pathParameterValues";

/// API Gateway's REST API IDs: 10 lowercase letters and digits.
fn is_api_id(id: &str) -> bool {
    id.len() == 10
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// Checks the REST API's ARN, the stage, and the path against its parameter values. The REST
/// API's ARN, parsed (no account: the planner puts the API in its account).
pub(super) fn validate(api: &ApiGatewayTarget) -> Result<Arn, SpecError> {
    let expected = "expected arn:aws:apigateway:REGION::/restapis/API_ID (as `aws apigateway get-rest-apis` shows the ID; no account)";
    let arn = Arn::parse(&api.rest_api_arn).map_err(|_| {
        bad(
            FIELD,
            format!("`{}` is not an ARN; {expected}", api.rest_api_arn),
        )
    })?;
    let id = arn.resource.strip_prefix("/restapis/").unwrap_or_default();
    if arn.service != "apigateway" || !is_api_id(id) || arn.region.is_empty() {
        return Err(bad(
            FIELD,
            format!("`{}` names no REST API; {expected}", api.rest_api_arn),
        ));
    }
    if !arn.account.is_empty() {
        return Err(bad(FIELD, format!("`{}` has an account, which API Gateway's ARNs never have; write arn:{}:apigateway:{}::{}", api.rest_api_arn, arn.partition, arn.region, arn.resource)));
    }
    let stage_ok = !api.stage.is_empty()
        && api.stage.len() <= 128
        && api
            .stage
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if !stage_ok {
        return Err(bad(
            "spec.target.apiGateway.stage",
            format!(
                "`{}` is not a stage name (1 to 128 letters, digits, _ and -)",
                api.stage
            ),
        ));
    }
    if !api.path.starts_with('/')
        || api.path.len() > 1024
        || api.path.chars().any(char::is_whitespace)
    {
        return Err(bad(
            PATH_FIELD,
            format!("`{}` is not a resource path; write it from /, e.g. /orders, with * for a path parameter", api.path),
        ));
    }
    let wildcards = api.path.split('/').filter(|s| *s == "*").count();
    if wildcards != api.path_parameter_values.len() {
        return Err(bad(
            VALUES_FIELD,
            format!(
                "the path `{}` has {wildcards} path parameter(s) (`*`) but {} value(s) are given; give one value per `*`, in order",
                api.path,
                api.path_parameter_values.len()
            ),
        ));
    }
    Ok(arn)
}

/// Direct delivery to a REST API of another account: the statement of the API's resource
/// policy that lets the rule account's execution role `role_arn` invoke exactly the method
/// the rule calls, proven by that role. Held under the method's ARN (see
/// `PolicyHolder::RestApi`); its Sid names the method too, so that two rules, or two
/// methods of one rule's targets, each own their statement of the one policy.
pub(super) fn direct_permission(
    api: &ApiGatewayTarget,
    rest_api: &AccountArn,
    rule: &DesiredRule,
    owner: &Owner,
    role_arn: &str,
) -> DesiredQueuePermission {
    let method = method_arn(api, rest_api);
    let statement_id =
        names::owned_statement_id(&rule.name, &format!("{}#{method}", rule.arn), &owner.uid);
    let p = DesiredQueuePermission {
        purpose: QueuePurpose::RestApiTarget,
        statement: Value::Null,
        queue_name: rest_api_id(rest_api).to_string(),
        queue_arn: method,
        queue_account: rest_api.account.clone(),
        statement_id,
        proof: rule.arn.to_string(),
    };
    super::naming_role(p, "execute-api:Invoke", role_arn)
}

/// The REST API's ID (`a1b2c3d4e5` in `…::/restapis/a1b2c3d4e5`).
fn rest_api_id(rest_api: &AccountArn) -> &str {
    rest_api.resource.trim_start_matches("/restapis/")
}

/// The method's `execute-api` ARN: the rule's target, and the resource of the role's one
/// statement. `rest_api` is the REST API's ARN as [`validate`] returned it, with the
/// account the planner put it in.
pub(super) fn method_arn(api: &ApiGatewayTarget, rest_api: &AccountArn) -> String {
    let id = rest_api_id(rest_api);
    format!(
        "arn:{}:execute-api:{}:{}:{id}/{}/{}{}",
        rest_api.partition,
        rest_api.region,
        rest_api.account,
        api.stage,
        api.method.in_arn(),
        api.path
    )
}

pub(super) fn invoke_statements(api: &ApiGatewayTarget, rest_api: &AccountArn) -> Vec<Value> {
    vec![json!({
        "Sid": "InvokeApi",
        "Effect": "Allow",
        "Action": "execute-api:Invoke",
        "Resource": method_arn(api, rest_api)
    })]
}

pub(super) fn parameters(api: &ApiGatewayTarget) -> TargetParameters {
    let http = HttpShape {
        path_parameter_values: api.path_parameter_values.clone(),
        header_parameters: api.header_parameters.clone(),
        query_string_parameters: api.query_string_parameters.clone(),
    };
    if http == HttpShape::default() {
        TargetParameters::None
    } else {
        TargetParameters::Http(http)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5";

    fn spec(target: Value) -> crate::api::EventBridgeIntegrationSpec {
        serde_json::from_value(json!({"rule": {"scheduleExpression": "rate(5 minutes)"},
            "target": {"apiGateway": target}}))
        .unwrap()
    }

    fn check(target: Value) -> Result<Arn, SpecError> {
        let spec = spec(target);
        validate(spec.target.api_gateway.as_ref().unwrap())
    }

    fn orders(method: &str, path: &str) -> Value {
        json!({"restApiArn": API, "stage": "prod", "method": method, "path": path})
    }

    #[test]
    fn the_role_may_invoke_exactly_the_method_the_rule_calls() {
        let spec = spec(orders("POST", "/orders"));
        let api = spec.target.api_gateway.as_ref().unwrap();
        // Validation returns the REST API's ARN without an account; the planner puts it in
        // the rule's.
        let rest_api = AccountArn::in_account(
            check(orders("POST", "/orders")).unwrap(),
            &"123456789012".parse().unwrap(),
        )
        .unwrap();
        let method = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/orders";
        assert_eq!(method_arn(api, &rest_api), method);
        assert_eq!(
            invoke_statements(api, &rest_api),
            vec![
                json!({"Sid": "InvokeApi", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": method})
            ]
        );
        assert_eq!(parameters(api), TargetParameters::None);
        let any = spec_api(orders("ANY", "/"));
        assert_eq!(
            method_arn(&any, &rest_api),
            "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*/"
        );
    }

    #[test]
    fn another_accounts_api_names_the_role_and_the_method_in_its_policy() {
        let api = spec_api(orders("POST", "/orders"));
        let remote = "222222222222".parse().unwrap();
        let rest_api = AccountArn::in_account(Arn::parse(API).unwrap(), &remote).unwrap();
        let rule = DesiredRule {
            name: "ebi-orders".into(),
            event_bus_name: "default".into(),
            arn: crate::iam::RuleArn::parse(
                "arn:aws:events:us-east-1:111111111111:rule/ebi-orders",
            )
            .unwrap(),
            description: None,
            event_pattern: None,
            schedule_expression: None,
            enabled: true,
        };
        let owner = Owner {
            cluster: "c".into(),
            namespace: "n".into(),
            name: "o".into(),
            uid: "uid-1".into(),
        };
        let role = "arn:aws:iam::111111111111:role/ebi-orders";
        let p = direct_permission(&api, &rest_api, &rule, &owner, role);
        let method = "arn:aws:execute-api:us-east-1:222222222222:a1b2c3d4e5/prod/POST/orders";
        assert_eq!(p.queue_arn, method);
        assert_eq!(p.queue_name, "a1b2c3d4e5");
        assert_eq!(p.queue_account.as_str(), "222222222222");
        assert_eq!(p.holder(), crate::plan::PolicyHolder::RestApi);
        assert_eq!(p.proof, role);
        assert_eq!(p.statement["Principal"], json!({"AWS": role}));
        assert_eq!(p.statement["Action"], "execute-api:Invoke");
        assert_eq!(p.statement["Resource"], method);
        // Another method of the same API: another statement of the same policy.
        let other = direct_permission(
            &spec_api(orders("GET", "/orders")),
            &rest_api,
            &rule,
            &owner,
            role,
        );
        assert_eq!(other.queue_name, p.queue_name);
        assert_ne!(other.statement_id, p.statement_id);
    }

    fn spec_api(target: Value) -> ApiGatewayTarget {
        spec(target).target.api_gateway.unwrap()
    }

    #[test]
    fn path_values_headers_and_query_strings_are_the_http_parameters() {
        let mut target = orders("GET", "/orders/*/items");
        target["pathParameterValues"] = json!(["$.detail.orderId"]);
        target["headerParameters"] = json!({"X-Source": "eventbridge"});
        check(target.clone()).unwrap();
        let TargetParameters::Http(http) = parameters(&spec_api(target)) else {
            panic!("HttpParameters expected");
        };
        assert_eq!(http.path_parameter_values, ["$.detail.orderId"]);
        assert_eq!(http.header_parameters["X-Source"], "eventbridge");
        assert!(http.query_string_parameters.is_empty());
    }

    #[test]
    fn bad_input_names_the_field_and_the_fix() {
        let with = |key: &str, value: Value| {
            let mut t = orders("POST", "/orders");
            t[key] = value;
            t
        };
        for (target, field, words) in [
            (
                with(
                    "restApiArn",
                    json!("arn:aws:apigateway:us-east-1:123456789012:/restapis/a1b2c3d4e5"),
                ),
                FIELD,
                "has an account",
            ),
            (
                with(
                    "restApiArn",
                    json!("arn:aws:apigateway:us-east-1::/restapis/short"),
                ),
                FIELD,
                "names no REST API",
            ),
            (
                with(
                    "restApiArn",
                    json!("arn:aws:execute-api:us-east-1::/restapis/a1b2c3d4e5"),
                ),
                FIELD,
                "names no REST API",
            ),
            (
                with("restApiArn", json!("a1b2c3d4e5")),
                FIELD,
                "is not an ARN",
            ),
            (
                with("stage", json!("prod stage")),
                "spec.target.apiGateway.stage",
                "not a stage name",
            ),
            (with("path", json!("orders")), PATH_FIELD, "write it from /"),
            (
                with("path", json!("/orders/*")),
                VALUES_FIELD,
                "1 path parameter(s) (`*`) but 0 value(s)",
            ),
            (
                with("pathParameterValues", json!(["x"])),
                VALUES_FIELD,
                "0 path parameter(s) (`*`) but 1 value(s)",
            ),
        ] {
            let err = check(target.clone())
                .expect_err(&target.to_string())
                .to_string();
            assert!(
                err.contains(field) && err.contains(words),
                "{target}: {err}"
            );
        }
    }
}
