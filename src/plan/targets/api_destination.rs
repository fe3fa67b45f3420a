//! An HTTPS endpoint outside AWS, through an EventBridge API destination: the controller owns
//! the connection (how EventBridge authenticates, its credentials read from a Secret of the
//! object's namespace) and the API destination (endpoint, method, rate), both named as the
//! rule is, and the rule's role gets `events:InvokeApiDestination` on that destination only.
//!
//! Neither resource takes tags, so each says whose it is in its description
//! ([`super::super::described`]); the connection's also names the
//! Secret's version written to it, since AWS never returns a connection's secret values:
//! a new version of the Secret is how a rotation reaches AWS. The destination's ARN ends in
//! an ID AWS picks: the plan names it without that ID ([`destination_arn`]), and the diff
//! and the target's write use the observed one.
//!
//! In `spec.targets` each API destination is named as the rule and its entry's id
//! ([`entry_name`]), so a rule may call several endpoints, each with its own connection.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::super::described::description;
use super::super::validate::{bad, SpecError};
use super::super::{
    ConnectionSecret, Desired, DesiredApiDestination, DesiredConnection, DesiredRole, DesiredRule,
    HttpShape, Owner,
};
use super::{KindFacts, TargetParameters};
use crate::api::{ApiDestinationTarget, AuthorizationType, EventBridgeIntegrationSpec, TargetKind};
use crate::iam::Arn;

pub(super) const FIELD: &str = "spec.target.apiDestination.endpoint";

pub(super) const FACTS: KindFacts = KindFacts {
    kind: TargetKind::ApiDestination,
    spec_field: "apiDestination",
    label: "API destination",
    service: "events",
    resource_prefix: "api-destination/",
    role_actions: &["events:InvokeApiDestination"],
    invoked_with_role: true,
    scheduler_actions: &[],
    eventbridge_delivers_across_accounts: false,
    built_across_accounts: &[],
};
const VALUES_FIELD: &str = "spec.target.apiDestination.pathParameterValues";
const OAUTH_FIELD: &str = "spec.target.apiDestination.connection.oauth";
/// EventBridge's default and highest invocation rate of an API destination.
pub const DEFAULT_RATE: i32 = 300;
/// EventBridge's limit on an endpoint's length.
const MAX_ENDPOINT: usize = 2048;
/// EventBridge's limit on an API destination's and a connection's name.
const MAX_NAME: usize = 64;

/// Checks the endpoint against its path values, the rate, the connection's OAuth block, and
/// what the kind rules out elsewhere in `spec`. The destination's ARN, as far as the spec
/// knows it: `events`, `api-destination/`, no region or account (the rule's).
pub(super) fn validate(
    d: &ApiDestinationTarget,
    spec: &EventBridgeIntegrationSpec,
) -> Result<Arn, SpecError> {
    check_endpoint(FIELD, &d.endpoint)?;
    let wildcards = d.endpoint.matches('*').count();
    if wildcards != d.path_parameter_values.len() {
        return Err(bad(
            VALUES_FIELD,
            format!(
                "the endpoint `{}` has {wildcards} path parameter(s) (`*`) but {} value(s) are given; give one value per `*`, in order",
                d.endpoint,
                d.path_parameter_values.len()
            ),
        ));
    }
    if let Some(rate) = d.invocation_rate_limit_per_second {
        if !(1..=DEFAULT_RATE).contains(&rate) {
            return Err(bad(
                "spec.target.apiDestination.invocationRateLimitPerSecond",
                format!("{rate} is outside EventBridge's 1 to {DEFAULT_RATE} calls a second"),
            ));
        }
    }
    let oauth_type = d.connection.authorization_type == AuthorizationType::OAUTH_CLIENT_CREDENTIALS;
    match (&d.connection.oauth, oauth_type) {
        (Some(o), true) => check_endpoint(
            "spec.target.apiDestination.connection.oauth.authorizationEndpoint",
            &o.authorization_endpoint,
        )?,
        (None, false) => {}
        (None, true) => {
            return Err(bad(
                OAUTH_FIELD,
                "required with authorizationType OAUTH_CLIENT_CREDENTIALS: set authorizationEndpoint (the token URL) and httpMethod",
            ))
        }
        (Some(_), false) => {
            return Err(bad(
                OAUTH_FIELD,
                format!(
                    "applies to authorizationType OAUTH_CLIENT_CREDENTIALS only; remove it for {}",
                    d.connection.authorization_type.as_str()
                ),
            ))
        }
    }
    if spec.cross_account.is_some() {
        return Err(bad(FIELD, "an API destination is an HTTPS endpoint called from the rule's account; remove spec.crossAccount"));
    }
    Ok(Arn {
        partition: String::new(),
        service: "events".into(),
        region: String::new(),
        account: String::new(),
        resource: "api-destination/".into(),
    })
}

fn check_endpoint(field: &str, url: &str) -> Result<(), SpecError> {
    let host = url.strip_prefix("https://").unwrap_or_default();
    let host = host.split(['/', '?']).next().unwrap_or_default();
    if !url.starts_with("https://")
        || host.is_empty()
        || url.len() > MAX_ENDPOINT
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad(
            field,
            format!("`{url}` is not an HTTPS URL; EventBridge calls https:// endpoints only (up to {MAX_ENDPOINT} characters, no spaces)"),
        ));
    }
    Ok(())
}

/// The API destination's and the connection's name: the rule's (the rule ARN's last part).
pub fn resource_name(rule_arn: &str) -> &str {
    rule_arn.rsplit('/').next().unwrap_or(rule_arn)
}

/// `arn:…:api-destination/NAME` for the rule: the destination's ARN without the ID AWS
/// appends (`/UUID`). The role's statement covers `…/NAME/*`.
pub fn destination_arn(rule_arn: &str) -> String {
    sibling_arn(rule_arn, "api-destination")
}

/// `arn:…:connection/NAME`, likewise without AWS's ID.
pub fn connection_arn(rule_arn: &str) -> String {
    sibling_arn(rule_arn, "connection")
}

fn sibling_arn(rule_arn: &str, kind: &str) -> String {
    named_arn(rule_arn, kind, resource_name(rule_arn))
}

fn named_arn(rule_arn: &str, kind: &str, name: &str) -> String {
    let prefix = rule_arn.split(":rule/").next().unwrap_or(rule_arn);
    format!("{prefix}:{kind}/{name}")
}

/// The name of the API destination (and connection) of the list's entry `id`:
/// `{rule}-{id}`, or past EventBridge's 64 characters, cut before a hash of the whole. Two
/// entries of one rule never share one; a rule named by hand could meet another's
/// (`a` + `b-c`, `a-b` + `c`): the description names the owner, so the second integration
/// stops on `NotOwned` rather than take it.
pub fn entry_name(rule_arn: &str, id: &str) -> String {
    let name = format!("{}-{id}", resource_name(rule_arn));
    if name.len() <= MAX_NAME {
        return name;
    }
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let mut base = name;
    base.truncate(MAX_NAME - hash.len() - 1);
    format!("{}-{hash}", base.trim_end_matches(['-', '.', '_']))
}

/// A part planned for the list's entry `id` as a spec's one target (so its destination is
/// named as the rule) takes the entry's name instead: the destination, its connection, the
/// rule's target and the role's statement.
pub(crate) fn name_for_entry(part: &mut Desired, id: &str) {
    let Some(rule_arn) = part.rule.as_ref().map(|r| r.arn.clone()) else {
        return;
    };
    let (old, name) = (destination_arn(&rule_arn), entry_name(&rule_arn, id));
    let new = named_arn(&rule_arn, "api-destination", &name);
    for d in part.api_destinations.iter_mut().filter(|d| d.arn == old) {
        d.arn = new.clone();
        d.connection.arn = named_arn(&rule_arn, "connection", &name);
        d.name = name.clone();
    }
    for t in part.targets.iter_mut().filter(|t| t.arn == old) {
        t.arn = new.clone();
    }
    if let DesiredRole::Managed(m) = &mut part.role {
        let statements = m.policy["Statement"].as_array_mut().into_iter().flatten();
        for s in statements.filter(|s| s["Resource"] == json!(format!("{old}/*"))) {
            s["Resource"] = json!(format!("{new}/*"));
        }
    }
}

/// Whether an observed ARN (with AWS's ID) is the one [`destination_arn`] or
/// [`connection_arn`] names.
pub fn is_instance_of(observed: &str, planned: &str) -> bool {
    observed
        .strip_prefix(planned)
        .is_some_and(|rest| rest.starts_with('/') && !rest[1..].contains('/'))
}

/// The destination and its connection, named as `rule`, with the credentials of the Secret
/// the connection names (the controller reads each Secret before planning; without it
/// nothing can be written).
pub(super) fn desired(
    d: &ApiDestinationTarget,
    rule: &DesiredRule,
    owner: &Owner,
    secrets: &BTreeMap<String, ConnectionSecret>,
) -> Result<DesiredApiDestination, SpecError> {
    let secret = secrets
        .get(&d.connection.secret_ref.name)
        .cloned()
        .ok_or_else(|| {
            bad(
                "spec.target.apiDestination.connection.secretRef",
                format!(
                    "the Secret `{}` was not read; the connection's credentials come from it",
                    d.connection.secret_ref.name
                ),
            )
        })?;
    Ok(DesiredApiDestination {
        name: resource_name(&rule.arn).to_string(),
        arn: destination_arn(&rule.arn),
        endpoint: d.endpoint.clone(),
        http_method: d.http_method.as_str().to_string(),
        rate_limit: d.invocation_rate_limit_per_second.unwrap_or(DEFAULT_RATE),
        description: description(owner, None),
        connection: DesiredConnection {
            arn: connection_arn(&rule.arn),
            authorization_type: d.connection.authorization_type,
            oauth: d.connection.oauth.as_ref().map(|o| {
                (
                    o.authorization_endpoint.clone(),
                    o.http_method.as_str().to_string(),
                )
            }),
            description: description(owner, Some(&secret.version)),
            secret,
        },
    })
}

pub(super) fn invoke_statements(rule_arn: &str) -> Vec<Value> {
    vec![json!({
        "Sid": "InvokeApiDestination",
        "Effect": "Allow",
        "Action": "events:InvokeApiDestination",
        "Resource": format!("{}/*", destination_arn(rule_arn))
    })]
}

pub(super) fn parameters(d: &ApiDestinationTarget) -> TargetParameters {
    let http = HttpShape {
        path_parameter_values: d.path_parameter_values.clone(),
        header_parameters: d.header_parameters.clone(),
        query_string_parameters: d.query_string_parameters.clone(),
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

    fn spec(d: Value) -> EventBridgeIntegrationSpec {
        serde_json::from_value(json!({"rule": {"scheduleExpression": "rate(5 minutes)"},
            "target": {"apiDestination": d}}))
        .unwrap()
    }

    fn dest(extra: Value) -> Value {
        let mut v = json!({"endpoint": "https://api.example.com/orders", "httpMethod": "POST",
            "connection": {"authorizationType": "API_KEY", "secretRef": {"name": "orders-api"}}});
        if let Value::Object(m) = extra {
            for (k, x) in m {
                v[k] = x;
            }
        }
        v
    }

    fn check(extra: Value) -> Result<Arn, SpecError> {
        let spec = spec(dest(extra));
        validate(spec.target.api_destination.as_ref().unwrap(), &spec)
    }

    #[test]
    fn a_plain_https_endpoint_is_valid() {
        let arn = check(json!({})).unwrap();
        assert_eq!((arn.service.as_str(), arn.account.as_str()), ("events", ""));
    }

    #[test]
    fn bad_input_names_the_field_and_the_fix() {
        let oauth =
            json!({"authorizationType": "OAUTH_CLIENT_CREDENTIALS", "secretRef": {"name": "s"}});
        let oauth_on_key = json!({"authorizationType": "API_KEY", "secretRef": {"name": "s"},
            "oauth": {"authorizationEndpoint": "https://auth.example.com/token", "httpMethod": "POST"}});
        for (extra, field, words) in [
            (
                json!({"endpoint": "http://api.example.com"}),
                FIELD,
                "https:// endpoints only",
            ),
            (json!({"endpoint": "https:///x"}), FIELD, "not an HTTPS URL"),
            (
                json!({"endpoint": "https://a.example.com/o/*"}),
                VALUES_FIELD,
                "1 path parameter(s)",
            ),
            (
                json!({"invocationRateLimitPerSecond": 301}),
                "invocationRateLimitPerSecond",
                "1 to 300",
            ),
            (
                json!({"connection": oauth}),
                OAUTH_FIELD,
                "required with authorizationType",
            ),
            (
                json!({"connection": oauth_on_key}),
                OAUTH_FIELD,
                "remove it for API_KEY",
            ),
        ] {
            let err = check(extra.clone())
                .expect_err(&extra.to_string())
                .to_string();
            assert!(err.contains(field) && err.contains(words), "{extra}: {err}");
        }
    }

    #[test]
    fn the_role_may_invoke_only_the_destination_named_as_the_rule() {
        let rule = "arn:aws:events:us-east-1:123456789012:rule/orders-bus/ebi-ns-orders";
        assert_eq!(
            invoke_statements(rule)[0]["Resource"],
            "arn:aws:events:us-east-1:123456789012:api-destination/ebi-ns-orders/*"
        );
        let planned = destination_arn(rule);
        assert!(is_instance_of(&format!("{planned}/0a1b-2c3d"), &planned));
        assert!(!is_instance_of(&format!("{planned}-other/0a1b"), &planned));
        assert!(!is_instance_of(&planned, &planned));
        assert_eq!(
            connection_arn(rule),
            "arn:aws:events:us-east-1:123456789012:connection/ebi-ns-orders"
        );
    }

    #[test]
    fn entry_names_fit_eventbridge_and_never_collide() {
        let rule = "arn:aws:events:us-east-1:123456789012:rule/orders-bus/ebi-ns-orders";
        assert_eq!(entry_name(rule, "partner"), "ebi-ns-orders-partner");
        let long_rule = format!(
            "arn:aws:events:us-east-1:123456789012:rule/{}",
            "r".repeat(64)
        );
        let (a, b) = (
            entry_name(&long_rule, "partner-a"),
            entry_name(&long_rule, "partner-b"),
        );
        assert!(a.len() <= MAX_NAME && b.len() <= MAX_NAME, "{a} {b}");
        assert_ne!(a, b);
        assert!(a.starts_with("rrrr"), "{a}");
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')));
    }
}
