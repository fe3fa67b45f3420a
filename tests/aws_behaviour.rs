//! AWS behaviours the emulator does not reproduce, against mocked SDK responses:
//! Lambda's 409 for a duplicate statement ID and 404 for a missing one (moto answers 200 to
//! both), throttling, and the classification of the controller's own AccessDenied.

// A test panics on what it did not expect: that is its failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use aws_sdk_lambda::operation::add_permission::AddPermissionOutput;
use aws_sdk_lambda::operation::get_policy::GetPolicyOutput;
use aws_sdk_lambda::operation::remove_permission::RemovePermissionOutput;
use aws_sdk_lambda::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use ebi::aws::apply::{add_permission, remove_permission};
use ebi::aws::ErrorKind;
use ebi::plan::DesiredPermission;

fn permission() -> DesiredPermission {
    DesiredPermission {
        function_arn: "arn:aws:lambda:us-east-1:111122223333:function:f:live"
            .parse()
            .unwrap(),
        statement_id: "ebi-rule".into(),
        principal: "events.amazonaws.com".into(),
        source_arn: Some("arn:aws:events:us-east-1:111122223333:rule/rule".into()),
        source_account: Some("111122223333".parse().unwrap()),
    }
}

fn conflict() -> aws_smithy_mocks::Rule {
    // As on the wire: status, error type header, JSON body; the SDK's deserializer does the rest.
    mock!(Client::add_permission)
        .then_http_response(|| http(409, "ResourceConflictException", r#"{"Type":"User","message":"The statement id (ebi-rule) provided already exists. Please provide a new statement id, or remove the existing statement."}"#))
}

/// The function's policy as GetPolicy answers it, holding one statement under our id.
fn policy_with(principal: &'static str, source_arn: &'static str) -> aws_smithy_mocks::Rule {
    mock!(Client::get_policy).then_output(move || {
        let statement = serde_json::json!({"Sid": "ebi-rule", "Effect": "Allow",
            "Principal": {"Service": principal}, "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:us-east-1:111122223333:function:f:live",
            "Condition": {"ArnLike": {"AWS:SourceArn": source_arn}}});
        GetPolicyOutput::builder()
            .policy(
                serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}).to_string(),
            )
            .build()
    })
}

/// A 409 (the id exists although the pass's read did not show it: a concurrent pass, a
/// stale read) whose statement is already exactly ours is success: nothing is removed.
#[tokio::test]
async fn a_409_for_our_own_statement_is_success() {
    let conflict = conflict();
    let read = policy_with(
        "events.amazonaws.com",
        "arn:aws:events:us-east-1:111122223333:rule/rule",
    );
    let removed =
        mock!(Client::remove_permission).then_output(|| RemovePermissionOutput::builder().build());
    let client = mock_client!(
        aws_sdk_lambda,
        RuleMode::MatchAny,
        &[&conflict, &read, &removed]
    );
    add_permission(&client, &permission(), false)
        .await
        .expect("already there");
    assert_eq!(
        (conflict.num_calls(), read.num_calls(), removed.num_calls()),
        (1, 1, 0)
    );
}

/// A 409 whose statement grants this rule but differs (a widened principal) is ours: it is
/// replaced by exactly the desired one.
#[tokio::test]
async fn a_409_for_our_drifted_statement_replaces_it() {
    let conflict = conflict();
    let read = policy_with("*", "arn:aws:events:us-east-1:111122223333:rule/rule");
    let removed = mock!(Client::remove_permission)
        .match_requests(|r| r.statement_id() == Some("ebi-rule") && r.qualifier() == Some("live"))
        .then_output(|| RemovePermissionOutput::builder().build());
    let added = mock!(Client::add_permission)
        .match_requests(|r| {
            r.principal() == Some("events.amazonaws.com")
                && r.source_arn() == Some("arn:aws:events:us-east-1:111122223333:rule/rule")
                && r.source_account() == Some("111122223333")
                && r.qualifier() == Some("live")
        })
        .then_output(|| AddPermissionOutput::builder().build());
    let client = mock_client!(
        aws_sdk_lambda,
        RuleMode::Sequential,
        &[&conflict, &read, &removed, &added]
    );
    add_permission(&client, &permission(), false)
        .await
        .expect("the conflict is resolved");
    assert_eq!(
        (
            conflict.num_calls(),
            read.num_calls(),
            removed.num_calls(),
            added.num_calls()
        ),
        (1, 1, 1, 1)
    );
}

/// A 409 whose statement grants another rule is someone else's: it is reported (its
/// principal and source named), and neither removed nor replaced.
#[tokio::test]
async fn a_409_for_a_foreign_statement_removes_nothing() {
    let conflict = conflict();
    let read = policy_with(
        "events.amazonaws.com",
        "arn:aws:events:us-east-1:111122223333:rule/someone-else",
    );
    let removed =
        mock!(Client::remove_permission).then_output(|| RemovePermissionOutput::builder().build());
    let client = mock_client!(
        aws_sdk_lambda,
        RuleMode::MatchAny,
        &[&conflict, &read, &removed]
    );
    let err = add_permission(&client, &permission(), false)
        .await
        .expect_err("not ours");
    assert_eq!(err.code, ebi::aws::apply::STATEMENT_NOT_OWNED);
    assert!(
        err.message.contains("rule/someone-else") && err.message.contains("events.amazonaws.com"),
        "{}",
        err.message
    );
    assert_eq!((conflict.num_calls(), removed.num_calls()), (1, 0));
}

#[tokio::test]
async fn a_404_on_remove_permission_is_success() {
    let missing = mock!(Client::remove_permission).then_http_response(|| {
        http(
            404,
            "ResourceNotFoundException",
            r#"{"Type":"User","Message":"No policy is associated with the given resource."}"#,
        )
    });
    let client = mock_client!(aws_sdk_lambda, &[&missing]);
    remove_permission(&client, "f", None, "ebi-rule")
        .await
        .expect("already gone is fine");
    assert_eq!(missing.num_calls(), 1);
}

fn http(status: u16, error_type: &str, body: &'static str) -> HttpResponse {
    let mut r = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
    r.headers_mut()
        .insert("x-amzn-errortype", error_type.to_string());
    r.headers_mut().insert("content-type", "application/json");
    r
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk() {
    let throttled = mock!(Client::add_permission)
        .sequence()
        .http_response(|| {
            http(
                429,
                "TooManyRequestsException",
                r#"{"message":"Rate exceeded","Type":"User"}"#,
            )
        })
        .times(2)
        .output(|| AddPermissionOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_lambda, RuleMode::Sequential, &[&throttled], |c| c
        .retry_config(
            aws_smithy_types::retry::RetryConfig::standard().with_max_attempts(3)
        ));
    add_permission(&client, &permission(), false)
        .await
        .expect("succeeds on the third attempt");
    assert_eq!(throttled.num_calls(), 3);
}

#[tokio::test]
async fn persistent_throttling_is_a_transient_error_and_access_denied_names_the_action() {
    let throttled = mock!(Client::add_permission)
        .sequence()
        .http_response(|| {
            http(
                429,
                "TooManyRequestsException",
                r#"{"message":"Rate exceeded"}"#,
            )
        })
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_lambda, RuleMode::Sequential, &[&throttled], |c| c
        .retry_config(
            aws_smithy_types::retry::RetryConfig::standard().with_max_attempts(2)
        ));
    let err = add_permission(&client, &permission(), false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
    assert_eq!(throttled.num_calls(), 2);

    let denied = mock!(Client::add_permission).then_http_response(|| {
        http(403, "AccessDeniedException", r#"{"Message":"User: arn:aws:sts::1:assumed-role/ebi/x is not authorized to perform: lambda:AddPermission"}"#)
    });
    let client = mock_client!(aws_sdk_lambda, &[&denied]);
    let err = add_permission(&client, &permission(), false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccessDenied, "{err}");
    assert_eq!(
        err.operation, "lambda:AddPermission",
        "names the action the controller lacks"
    );
    assert!(err.to_string().contains("not authorized"), "{err}");

    let server = mock!(Client::add_permission)
        .then_http_response(|| http(500, "ServiceException", r#"{"message":"internal"}"#));
    let client = mock_client!(aws_sdk_lambda, RuleMode::Sequential, &[&server], |c| c
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
    let err = add_permission(&client, &permission(), false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient, "5xx is retried: {err}");
}

#[tokio::test]
async fn unusable_credentials_and_rejected_requests_are_their_own_categories() {
    // Lambda answers an unknown access key with UnrecognizedClientException (403): not a
    // missing permission, so "grant lambda:AddPermission" would be wrong advice.
    let unknown_key = mock!(Client::add_permission).then_http_response(|| {
        http(
            403,
            "UnrecognizedClientException",
            r#"{"message":"The security token included in the request is invalid."}"#,
        )
    });
    let client = mock_client!(aws_sdk_lambda, &[&unknown_key]);
    let err = add_permission(&client, &permission(), false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Credentials, "{err}");
    assert_eq!(ebi::Category::of_aws(err.kind), ebi::Category::Credentials);

    // A request AWS refuses as such is rejected: retrying it unchanged cannot succeed.
    let invalid = mock!(Client::add_permission).then_http_response(|| {
        http(
            400,
            "InvalidParameterValueException",
            r#"{"message":"The provided principal was invalid."}"#,
        )
    });
    let client = mock_client!(aws_sdk_lambda, &[&invalid]);
    let err = add_permission(&client, &permission(), false)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    let verdict = ebi::controller::status::aws_verdict(&err);
    assert!(verdict.blocked, "Stalled, not retried hot");
    assert!(
        verdict
            .message
            .contains("The provided principal was invalid."),
        "AWS's own message: {}",
        verdict.message
    );
}

/// CloudTrail's LookupEvents, which the emulator lacks, from responses recorded in AWS's
/// shape: the newest pages of the window are read (at most `MAX_PAGES`, following
/// `NextToken`), and EventBridge's failed calls for a role are picked out of them.
#[tokio::test]
async fn cloudtrail_pages_are_read_newest_first_up_to_the_cap() {
    use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
    use aws_sdk_cloudtrail::types::Event;
    use ebi::aws::cloudtrail::{recent_events, MAX_PAGES};
    use ebi::diagnose::trail::TrailFailure;
    const ROLE: &str = "arn:aws:iam::111122223333:role/ebi-orders";
    // One page: a person's call, then EventBridge's refused RunTask with the role's session.
    let record = |n: usize| {
        let refused = serde_json::json!({
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::111122223333:assumed-role/ebi-orders/a1b2",
                "invokedBy": "events.amazonaws.com",
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": ROLE, "userName": "ebi-orders"}}
            },
            "eventTime": format!("2026-12-05T10:{:02}:00Z", 59 - n),
            "eventSource": "ecs.amazonaws.com",
            "eventName": "RunTask",
            "sourceIPAddress": "events.amazonaws.com",
            "errorCode": "AccessDenied",
            "errorMessage": "User: arn:aws:sts::111122223333:assumed-role/ebi-orders/a1b2 is not authorized to perform: iam:PassRole on resource: arn:aws:iam::111122223333:role/worker-task"
        });
        let person = serde_json::json!({
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/dev"},
            "eventTime": "2026-12-05T10:00:00Z", "eventSource": "ecs.amazonaws.com",
            "eventName": "ListClusters", "sourceIPAddress": "203.0.113.9"
        });
        [person, refused].map(|v| {
            Event::builder()
                .event_name("x")
                .cloud_trail_event(v.to_string())
                .build()
        })
    };
    let page = |n: usize| {
        mock!(aws_sdk_cloudtrail::Client::lookup_events)
            .match_requests(move |r| {
                r.next_token() == (n > 0).then(|| format!("page-{n}")).as_deref()
            })
            .then_output(move || {
                LookupEventsOutput::builder()
                    .set_events(Some(record(n).to_vec()))
                    .next_token(format!("page-{}", n + 1))
                    .build()
            })
    };
    let pages: Vec<_> = (0..MAX_PAGES + 2).map(page).collect();
    let client = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, &pages);
    let events = recent_events(&client, std::time::Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        events.len(),
        2 * MAX_PAGES,
        "the cap, though AWS offers more pages"
    );
    let unread: usize = pages[MAX_PAGES..].iter().map(|r| r.num_calls()).sum();
    assert_eq!(unread, 0, "no call past the cap");
    let f = TrailFailure::newest_for(ROLE, events.iter().map(String::as_str)).unwrap();
    assert_eq!(f.seen as usize, MAX_PAGES);
    assert_eq!(
        f.at, "2026-12-05T10:59:00Z",
        "the newest, from the first page"
    );
    assert_eq!(f.call, "ecs.amazonaws.com:RunTask");
}
