//! An API destination and its connection: read, written, removed. Both are named as the
//! rule; neither takes tags, so their descriptions say whose they are (see
//! `plan::targets::api_destination`). A connection's credentials are written, never read:
//! AWS keeps them in a Secrets Manager secret of its own and returns none of their values.

use aws_sdk_eventbridge::types as eb;

use super::apply::ignore_not_found;
use super::errors::{classify, AwsError, ErrorKind};
use super::observe::found;
use super::Clients;
use crate::api::AuthorizationType;
use crate::plan::diff::{ObservedApiDestination, ObservedConnection};
use crate::plan::{DesiredApiDestination, DesiredConnection};

pub async fn connection(c: &Clients, name: &str) -> Result<Option<ObservedConnection>, AwsError> {
    let out = found(
        c.events
            .describe_connection()
            .name(name)
            .send()
            .await
            .map_err(|e| classify("events:DescribeConnection", e)),
    )?;
    Ok(out.map(|o| ObservedConnection {
        arn: o.connection_arn().unwrap_or_default().to_string(),
        authorization_type: o
            .authorization_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        state: o
            .connection_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        state_reason: o
            .state_reason()
            .filter(|r| !r.is_empty())
            .map(str::to_string),
        description: o.description().unwrap_or_default().to_string(),
    }))
}

pub async fn api_destination(
    c: &Clients,
    name: &str,
) -> Result<Option<ObservedApiDestination>, AwsError> {
    let out = found(
        c.events
            .describe_api_destination()
            .name(name)
            .send()
            .await
            .map_err(|e| classify("events:DescribeApiDestination", e)),
    )?;
    Ok(out.map(|o| ObservedApiDestination {
        arn: o.api_destination_arn().unwrap_or_default().to_string(),
        connection_arn: o.connection_arn().unwrap_or_default().to_string(),
        endpoint: o.invocation_endpoint().unwrap_or_default().to_string(),
        http_method: o
            .http_method()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
        rate_limit: o.invocation_rate_limit_per_second(),
        description: o.description().unwrap_or_default().to_string(),
    }))
}

fn invalid(operation: &'static str, what: impl std::fmt::Display) -> AwsError {
    AwsError::new(
        operation,
        ErrorKind::Rejected,
        "InvalidRequest",
        what.to_string(),
    )
}

/// CreateConnection, or UpdateConnection of the existing one, with the Secret's credentials.
pub async fn put_connection(
    c: &Clients,
    name: &str,
    want: &DesiredConnection,
    created: bool,
) -> Result<(), AwsError> {
    let kind = eb::ConnectionAuthorizationType::from(want.authorization_type.as_str());
    let (first, second) = (want.secret.first.clone(), want.secret.second.clone());
    if created {
        let op = "events:CreateConnection";
        let mut auth = eb::CreateConnectionAuthRequestParameters::builder();
        auth = match want.authorization_type {
            AuthorizationType::API_KEY => auth.api_key_auth_parameters(
                eb::CreateConnectionApiKeyAuthRequestParameters::builder()
                    .api_key_name(first)
                    .api_key_value(second)
                    .build()
                    .map_err(|e| invalid(op, e))?,
            ),
            AuthorizationType::BASIC => auth.basic_auth_parameters(
                eb::CreateConnectionBasicAuthRequestParameters::builder()
                    .username(first)
                    .password(second)
                    .build()
                    .map_err(|e| invalid(op, e))?,
            ),
            AuthorizationType::OAUTH_CLIENT_CREDENTIALS => {
                let (endpoint, method) = want.oauth.clone().unwrap_or_default();
                auth.o_auth_parameters(
                    eb::CreateConnectionOAuthRequestParameters::builder()
                        .client_parameters(
                            eb::CreateConnectionOAuthClientRequestParameters::builder()
                                .client_id(first)
                                .client_secret(second)
                                .build()
                                .map_err(|e| invalid(op, e))?,
                        )
                        .authorization_endpoint(endpoint)
                        .http_method(eb::ConnectionOAuthHttpMethod::from(method.as_str()))
                        .build()
                        .map_err(|e| invalid(op, e))?,
                )
            }
        };
        c.events
            .create_connection()
            .name(name)
            .description(&want.description)
            .authorization_type(kind)
            .auth_parameters(auth.build())
            .send()
            .await
            .map_err(|e| classify("events:CreateConnection", e))?;
        return Ok(());
    }
    let mut auth = eb::UpdateConnectionAuthRequestParameters::builder();
    auth = match want.authorization_type {
        AuthorizationType::API_KEY => auth.api_key_auth_parameters(
            eb::UpdateConnectionApiKeyAuthRequestParameters::builder()
                .api_key_name(first)
                .api_key_value(second)
                .build(),
        ),
        AuthorizationType::BASIC => auth.basic_auth_parameters(
            eb::UpdateConnectionBasicAuthRequestParameters::builder()
                .username(first)
                .password(second)
                .build(),
        ),
        AuthorizationType::OAUTH_CLIENT_CREDENTIALS => {
            let (endpoint, method) = want.oauth.clone().unwrap_or_default();
            auth.o_auth_parameters(
                eb::UpdateConnectionOAuthRequestParameters::builder()
                    .client_parameters(
                        eb::UpdateConnectionOAuthClientRequestParameters::builder()
                            .client_id(first)
                            .client_secret(second)
                            .build(),
                    )
                    .authorization_endpoint(endpoint)
                    .http_method(eb::ConnectionOAuthHttpMethod::from(method.as_str()))
                    .build(),
            )
        }
    };
    c.events
        .update_connection()
        .name(name)
        .description(&want.description)
        .authorization_type(kind)
        .auth_parameters(auth.build())
        .send()
        .await
        .map_err(|e| classify("events:UpdateConnection", e))?;
    Ok(())
}

/// CreateApiDestination or UpdateApiDestination, on the connection of the planned name (its
/// ARN read now: AWS gave it an ID of its own).
pub async fn put_api_destination(
    c: &Clients,
    want: &DesiredApiDestination,
    created: bool,
) -> Result<(), AwsError> {
    let Some(connection) = connection(c, &want.name).await? else {
        return Err(AwsError::new(
            "events:DescribeConnection",
            ErrorKind::NotFound,
            "ResourceNotFoundException",
            format!(
                "connection {} is gone before its API destination was written",
                want.name
            ),
        ));
    };
    let method = eb::ApiDestinationHttpMethod::from(want.http_method.as_str());
    if created {
        c.events
            .create_api_destination()
            .name(&want.name)
            .description(&want.description)
            .connection_arn(connection.arn)
            .invocation_endpoint(&want.endpoint)
            .http_method(method)
            .invocation_rate_limit_per_second(want.rate_limit)
            .send()
            .await
            .map_err(|e| classify("events:CreateApiDestination", e))?;
    } else {
        c.events
            .update_api_destination()
            .name(&want.name)
            .description(&want.description)
            .connection_arn(connection.arn)
            .invocation_endpoint(&want.endpoint)
            .http_method(method)
            .invocation_rate_limit_per_second(want.rate_limit)
            .send()
            .await
            .map_err(|e| classify("events:UpdateApiDestination", e))?;
    }
    Ok(())
}

/// The ARN AWS gave the destination of the planned name (for the rule's target).
pub async fn destination_arn(
    c: &Clients,
    want: &DesiredApiDestination,
) -> Result<String, AwsError> {
    match api_destination(c, &want.name).await? {
        Some(d) => Ok(d.arn),
        None => Err(AwsError::new(
            "events:DescribeApiDestination",
            ErrorKind::NotFound,
            "ResourceNotFoundException",
            format!(
                "API destination {} is gone before the rule's target was written",
                want.name
            ),
        )),
    }
}

pub async fn delete_api_destination(c: &Clients, name: &str) -> Result<(), AwsError> {
    ignore_not_found(
        c.events
            .delete_api_destination()
            .name(name)
            .send()
            .await
            .map_err(|e| classify("events:DeleteApiDestination", e)),
    )
}

pub async fn delete_connection(c: &Clients, name: &str) -> Result<(), AwsError> {
    ignore_not_found(
        c.events
            .delete_connection()
            .name(name)
            .send()
            .await
            .map_err(|e| classify("events:DeleteConnection", e)),
    )
}

/// Every item of a listing EventBridge pages with `NextToken` (these have no SDK paginator):
/// `page` reads one page from a token, giving its items and the next token.
async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<T>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
{
    let mut out = vec![];
    let mut token = None;
    loop {
        let (items, next) = page(token).await?;
        out.extend(items);
        token = next.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Every API destination of the account and region, by name, as `ListApiDestinations` shows
/// them: no description (the list has none).
pub async fn list_api_destinations(
    c: &Clients,
) -> Result<std::collections::HashMap<Box<str>, ObservedApiDestination>, AwsError> {
    let listed = all_pages(|token| async move {
        let page = c
            .events
            .list_api_destinations()
            .limit(100)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify("events:ListApiDestinations", e))?;
        let items = page
            .api_destinations()
            .iter()
            .filter_map(|d| {
                let observed = ObservedApiDestination {
                    arn: d.api_destination_arn().unwrap_or_default().to_string(),
                    connection_arn: d.connection_arn().unwrap_or_default().to_string(),
                    endpoint: d.invocation_endpoint().unwrap_or_default().to_string(),
                    http_method: d
                        .http_method()
                        .map(|m| m.as_str().to_string())
                        .unwrap_or_default(),
                    rate_limit: d.invocation_rate_limit_per_second(),
                    description: String::new(),
                };
                d.name().map(|n| (Box::<str>::from(n), observed))
            })
            .collect();
        Ok((items, page.next_token().map(str::to_string)))
    })
    .await?;
    Ok(listed.into_iter().collect())
}

/// Every connection of the account and region, by name, as `ListConnections` shows them:
/// no description.
pub async fn list_connections(
    c: &Clients,
) -> Result<std::collections::HashMap<Box<str>, ObservedConnection>, AwsError> {
    let listed = all_pages(|token| async move {
        let page = c
            .events
            .list_connections()
            .limit(100)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify("events:ListConnections", e))?;
        let items = page
            .connections()
            .iter()
            .filter_map(|x| {
                let observed = ObservedConnection {
                    arn: x.connection_arn().unwrap_or_default().to_string(),
                    authorization_type: x
                        .authorization_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    state: x
                        .connection_state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    state_reason: x
                        .state_reason()
                        .filter(|r| !r.is_empty())
                        .map(str::to_string),
                    description: String::new(),
                };
                x.name().map(|n| (Box::<str>::from(n), observed))
            })
            .collect();
        Ok((items, page.next_token().map(str::to_string)))
    })
    .await?;
    Ok(listed.into_iter().collect())
}
