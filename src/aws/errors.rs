//! AWS errors, classified by error code (never by message text) into what the reconciler
//! does about them.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    /// The controller's own credentials lack a permission: a human must grant it.
    AccessDenied,
    /// Throttling, 5xx, timeouts, connection errors, concurrent modification: retry.
    Transient,
    /// Something exists that should not (409): usually resolved by the next pass.
    Conflict,
    /// The request itself was rejected (validation, malformed policy, limits): retrying
    /// the same request cannot help; a person must change the spec or the account.
    Rejected,
    /// The controller's credentials are not valid at all (unknown key, expired token, bad
    /// signature): not a missing permission, so granting one would not help.
    Credentials,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed ({code}): {message}")]
pub struct AwsError {
    /// `service:Operation`, the IAM action name the controller needs for it.
    pub operation: &'static str,
    pub kind: ErrorKind,
    pub code: String,
    pub message: String,
}

impl AwsError {
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
    pub fn new(
        operation: &'static str,
        kind: ErrorKind,
        code: &str,
        message: impl Into<String>,
    ) -> AwsError {
        AwsError {
            operation,
            kind,
            code: code.to_string(),
            message: message.into(),
        }
    }
}

const NOT_FOUND: &[&str] = &[
    "NoSuchEntity",
    "ResourceNotFoundException",
    "NotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    // SNS: GetTopicAttributes/SetTopicAttributes on a topic that does not exist.
    "NotFound",
];
const ACCESS_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
];
const BAD_CREDENTIALS: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
];
const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ThrottledException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalError",
    "InternalException",
    "InternalServerException",
    "ServiceException",
    "ServiceFailure",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
];
const CONFLICT: &[&str] = &[
    "ResourceConflictException",
    "EntityAlreadyExists",
    "ResourceAlreadyExistsException",
    "ConcurrentModificationException",
    "ConcurrentModification",
];

/// Whether AWS did not answer in time (the operation or an attempt timed out).
pub fn is_timeout<E, R>(err: &SdkError<E, R>) -> bool {
    match err {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(e) => e.is_timeout(),
        _ => false,
    }
}

/// Classifies any SDK error for `operation`.
pub fn classify<E, R>(operation: &'static str, err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    classify_ref(operation, &err)
}

/// Why assuming `role_arn` failed, by AWS's error code like any other call. The SDK's
/// AssumeRoleProvider fails the first call made with its credentials (`err`); AssumeRole's
/// own error sits in that error's source chain. Throttling, 5xx, a reset or no answer are
/// transient (retried with backoff); only a refusal (AccessDenied, a wrong external ID, STS
/// disabled in the region) says the role cannot be assumed.
pub fn assume_role_failure<E, R>(role_arn: &str, err: &SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    type AssumeRoleSdkError = SdkError<AssumeRoleError, HttpResponse>;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut seen = None;
    while let Some(e) = source {
        if let Some(assume) = e.downcast_ref::<AssumeRoleSdkError>() {
            seen = Some(classify_ref("sts:AssumeRole", assume));
            break;
        }
        if let Some(CredentialsError::ProviderTimedOut(_)) = e.downcast_ref::<CredentialsError>() {
            seen = Some(AwsError::new(
                "sts:AssumeRole",
                ErrorKind::Transient,
                "Timeout",
                "sts did not answer sts:AssumeRole in time",
            ));
            break;
        }
        source = e.source();
    }
    // No AssumeRole error in the chain: the call after it failed on its own (STS unreachable).
    let e = seen.unwrap_or_else(|| classify_ref("sts:GetCallerIdentity", err));
    if e.kind == ErrorKind::Transient {
        return AwsError {
            message: format!("assuming {role_arn}: {}", e.message),
            ..e
        };
    }
    AwsError::new(
        "sts:AssumeRole",
        ErrorKind::AccessDenied,
        PROVISIONING_ROLE_NOT_ASSUMABLE,
        format!("cannot assume {role_arn}: {} ({})", e.message, e.code),
    )
}

/// The code of an [`AwsError`] for a provisioning role AWS refused to let the controller
/// assume (the condition reason of the same name).
pub const PROVISIONING_ROLE_NOT_ASSUMABLE: &str = "ProvisioningRoleNotAssumable";

/// A resource policy the controller would rewrite is not JSON it can read: rewriting it
/// would drop its owner's statements, so it is left alone.
pub const UNREADABLE_POLICY: &str = "UnreadablePolicy";

fn classify_ref<E, R>(operation: &'static str, err: &SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let status = match err {
        SdkError::ServiceError(se) => Some(format!("{:?}", se.raw())),
        _ => None,
    };
    // No answer in time: transient (retried with backoff), and said so with the service,
    // the operation and which timeout ran out, so a hung endpoint is told from a refusal.
    let timed_out = match err {
        SdkError::TimeoutError(_) => Some("--aws-operation-timeout: every attempt and retry"),
        SdkError::DispatchFailure(e) if e.is_timeout() => {
            Some("--aws-attempt-timeout: one attempt, from when it was sent")
        }
        _ => None,
    };
    if let Some(which) = timed_out {
        let service = operation.split(':').next().unwrap_or(operation);
        return AwsError::new(
            operation,
            ErrorKind::Transient,
            "Timeout",
            format!(
                "{service} did not answer {operation} in time ({which}): {}",
                aws_smithy_types::error::display::DisplayErrorContext(err)
            ),
        );
    }
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return AwsError::new(
                operation,
                ErrorKind::Transient,
                "Unreachable",
                aws_smithy_types::error::display::DisplayErrorContext(err).to_string(),
            );
        }
        _ => {}
    }
    let code = err.code().unwrap_or("").to_string();
    let message = err
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| aws_smithy_types::error::display::DisplayErrorContext(err).to_string());
    let kind = if NOT_FOUND.contains(&code.as_str()) {
        ErrorKind::NotFound
    } else if ACCESS_DENIED.contains(&code.as_str()) {
        ErrorKind::AccessDenied
    } else if BAD_CREDENTIALS.contains(&code.as_str()) {
        ErrorKind::Credentials
    } else if THROTTLED.contains(&code.as_str()) {
        ErrorKind::Transient
    } else if CONFLICT.contains(&code.as_str()) {
        ErrorKind::Conflict
    } else if code.is_empty() {
        // No modeled code: judge by HTTP status (an IAM-enforcing emulator returns 403 bodies
        // the SDK cannot parse; a proxy may return bare 5xx).
        match status.as_deref().and_then(http_status) {
            Some(403) => ErrorKind::AccessDenied,
            Some(404) => ErrorKind::NotFound,
            Some(409) => ErrorKind::Conflict,
            Some(429) => ErrorKind::Transient,
            Some(s) if s >= 500 => ErrorKind::Transient,
            _ => ErrorKind::Rejected,
        }
    } else {
        ErrorKind::Rejected
    };
    AwsError {
        operation,
        kind,
        code: if code.is_empty() {
            "Unknown".into()
        } else {
            code
        },
        message,
    }
}

/// Pulls `status: StatusCode(403)`-like text out of the raw response's Debug form; the raw
/// type differs per SDK and this keeps `classify` generic.
fn http_status(debug: &str) -> Option<u16> {
    let at = debug.find("status: ")? + "status: ".len();
    let digits: String = debug[at..]
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_lambda::operation::get_policy::GetPolicyError;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    type Err = SdkError<GetPolicyError, HttpResponse>;

    #[test]
    fn a_timeout_is_transient_and_names_the_service_and_the_timeout() {
        let operation: Err = SdkError::timeout_error("operation timeout exceeded");
        let e = classify("lambda:GetPolicy", operation);
        assert_eq!((e.kind, e.code.as_str()), (ErrorKind::Transient, "Timeout"));
        assert!(e.message.contains("lambda did not answer lambda:GetPolicy"));
        assert!(
            e.message.contains("--aws-operation-timeout"),
            "{}",
            e.message
        );
        let attempt: Err = SdkError::dispatch_failure(ConnectorError::timeout("read".into()));
        let e = classify("lambda:GetPolicy", attempt);
        assert_eq!(e.kind, ErrorKind::Transient);
        assert!(e.message.contains("--aws-attempt-timeout"), "{}", e.message);
        let io: Err = SdkError::dispatch_failure(ConnectorError::io("reset".into()));
        assert!(!is_timeout(&io));
        assert!(!classify("lambda:GetPolicy", io).message.contains("timeout"));
    }

    /// What the first call with an AssumeRoleProvider's credentials returns when AssumeRole
    /// failed with `code` (the provider's error, wrapped as the SDK wraps it).
    fn call_after_assume_role_failed(code: &str) -> Err {
        use aws_credential_types::provider::error::CredentialsError;
        use aws_sdk_sts::operation::assume_role::AssumeRoleError;
        use aws_smithy_types::error::ErrorMetadata;
        let response = HttpResponse::new(
            400.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        );
        let assume: SdkError<AssumeRoleError, HttpResponse> = SdkError::service_error(
            AssumeRoleError::generic(ErrorMetadata::builder().code(code).message("m").build()),
            response,
        );
        SdkError::construction_failure(CredentialsError::provider_error(assume))
    }

    #[test]
    fn an_assume_role_throttled_or_unanswered_is_transient_and_a_refusal_is_not() {
        let role = "arn:aws:iam::222222222222:role/provisioner";
        for code in ["Throttling", "InternalFailure", "ServiceUnavailable"] {
            let e = assume_role_failure(role, &call_after_assume_role_failed(code));
            assert_eq!(e.kind, ErrorKind::Transient, "{code}: {e:?}");
            assert_eq!((e.operation, e.code.as_str()), ("sts:AssumeRole", code));
            assert!(e.message.contains(role), "{}", e.message);
        }
        for code in ["AccessDenied", "RegionDisabledException", "ExpiredToken"] {
            let e = assume_role_failure(role, &call_after_assume_role_failed(code));
            assert_eq!(
                (e.kind, e.code.as_str()),
                (ErrorKind::AccessDenied, PROVISIONING_ROLE_NOT_ASSUMABLE),
                "{code}"
            );
            assert!(
                e.message.contains(role) && e.message.contains(code),
                "{}",
                e.message
            );
        }
        let reset: Err = SdkError::dispatch_failure(ConnectorError::io("reset".into()));
        assert_eq!(assume_role_failure(role, &reset).kind, ErrorKind::Transient);
    }
}
