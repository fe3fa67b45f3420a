//! EventBridge's failed calls as CloudTrail records them, pure: what the troubleshooting
//! guides say to check by hand. When EventBridge cannot assume a target's role, CloudTrail
//! records its `sts:AssumeRole` (caller `events.amazonaws.com`, `requestParameters.roleArn`)
//! with an `errorCode`; when the role may not do what the target needs, it records the call
//! made with the role's session (`RunTask`, `StartExecution`, `PutEvents`, …; the session's
//! issuer is the role, the call `invokedBy` `events.amazonaws.com`) with its `errorCode` and
//! `errorMessage`. The records (`CloudTrailEvent`, one JSON document each) are read elsewhere
//! (`aws::cloudtrail`); nothing here does I/O.

use serde_json::Value;

use super::delivery::ErrorClass;

const EVENTBRIDGE: &str = "events.amazonaws.com";

/// The newest failed call EventBridge made for one role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrailFailure {
    /// `sts.amazonaws.com:AssumeRole`, `ecs.amazonaws.com:RunTask`, …
    pub call: String,
    pub error_code: String,
    pub error_message: String,
    /// `eventTime`, as CloudTrail writes it (UTC, RFC 3339).
    pub at: String,
    /// Failed calls for this role among those read.
    pub seen: u32,
}

impl TrailFailure {
    /// The newest failed call of EventBridge's for `role_arn` among `records`; records that
    /// are not JSON, succeeded, were not EventBridge's, or concern another role are skipped.
    pub fn newest_for<'a>(
        role_arn: &str,
        records: impl IntoIterator<Item = &'a str>,
    ) -> Option<TrailFailure> {
        let mut newest: Option<TrailFailure> = None;
        let mut seen = 0;
        for record in records {
            let Some(failure) = failure_of(role_arn, record) else {
                continue;
            };
            seen += 1;
            // RFC 3339 in UTC (`Z`) orders as text.
            if newest.as_ref().is_none_or(|n| failure.at > n.at) {
                newest = Some(failure);
            }
        }
        newest.map(|n| TrailFailure { seen, ..n })
    }

    /// As a dead-letter message's `ERROR_CODE` is classed: refused, missing, or anything else.
    pub fn class(&self) -> ErrorClass {
        let code = self.error_code.to_ascii_lowercase();
        if code.contains("accessdenied") || code.contains("unauthorized") {
            ErrorClass::Permission
        } else if code.contains("notfound") || code.contains("nosuchentity") {
            ErrorClass::Missing
        } else {
            ErrorClass::Runtime
        }
    }

    /// "sts.amazonaws.com:AssumeRole failed with AccessDenied (“…”) at 2026-…Z".
    pub fn describe(&self) -> String {
        let mut out = format!("{} failed with {}", self.call, self.error_code);
        if !self.error_message.is_empty() {
            out.push_str(&format!(" (\"{}\")", self.error_message));
        }
        if !self.at.is_empty() {
            out.push_str(&format!(" at {}", self.at));
        }
        out
    }
}

fn failure_of(role_arn: &str, record: &str) -> Option<TrailFailure> {
    let v: Value = serde_json::from_str(record).ok()?;
    let text = |path: &[&str]| {
        path.iter()
            .try_fold(&v, |at, key| at.get(key))
            .and_then(Value::as_str)
    };
    let error_code = text(&["errorCode"])?;
    let by_eventbridge = text(&["userIdentity", "invokedBy"]) == Some(EVENTBRIDGE)
        || text(&["sourceIPAddress"]) == Some(EVENTBRIDGE);
    if !by_eventbridge {
        return None;
    }
    let (source, name) = (text(&["eventSource"])?, text(&["eventName"])?);
    let for_role = if name == "AssumeRole" {
        text(&["requestParameters", "roleArn"]) == Some(role_arn)
    } else {
        text(&["userIdentity", "sessionContext", "sessionIssuer", "arn"]) == Some(role_arn)
    };
    for_role.then(|| TrailFailure {
        call: format!("{source}:{name}"),
        error_code: error_code.to_string(),
        error_message: text(&["errorMessage"]).unwrap_or_default().to_string(),
        at: text(&["eventTime"]).unwrap_or_default().to_string(),
        seen: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ROLE: &str = "arn:aws:iam::123456789012:role/ebi-orders";

    /// AssumeRole by EventBridge, as CloudTrail records a trust that does not admit it.
    fn assume_role(role: &str, at: &str) -> String {
        json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "AWSService", "invokedBy": "events.amazonaws.com"},
            "eventTime": at,
            "eventSource": "sts.amazonaws.com",
            "eventName": "AssumeRole",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "events.amazonaws.com",
            "userAgent": "events.amazonaws.com",
            "errorCode": "AccessDenied",
            "errorMessage": format!("User: events.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: {role}"),
            "requestParameters": {"roleArn": role, "roleSessionName": "3f6e1a2b"},
            "responseElements": null,
            "eventType": "AwsApiCall",
            "recipientAccountId": "123456789012"
        })
        .to_string()
    }

    /// RunTask made with the role's session, refused for want of iam:PassRole.
    fn run_task(role: &str, at: &str, code: Option<&str>) -> String {
        let mut v = json!({
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::123456789012:assumed-role/ebi-orders/3f6e1a2b",
                "invokedBy": "events.amazonaws.com",
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role, "userName": "ebi-orders"}}
            },
            "eventTime": at,
            "eventSource": "ecs.amazonaws.com",
            "eventName": "RunTask",
            "sourceIPAddress": "events.amazonaws.com",
            "requestParameters": {"taskDefinition": "worker:3"}
        });
        if let Some(code) = code {
            v["errorCode"] = json!(code);
            v["errorMessage"] = json!("User: arn:aws:sts::123456789012:assumed-role/ebi-orders/3f6e1a2b is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/worker-task");
        }
        v.to_string()
    }

    #[test]
    fn the_newest_failed_call_of_eventbridge_for_the_role() {
        let someone = json!({
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/dev"},
            "eventTime": "2026-12-05T10:09:00Z", "eventSource": "ecs.amazonaws.com",
            "eventName": "RunTask", "errorCode": "AccessDenied", "sourceIPAddress": "203.0.113.9"
        })
        .to_string();
        let records = [
            assume_role(ROLE, "2026-12-05T10:00:00Z"),
            run_task(ROLE, "2026-12-05T10:05:00Z", Some("AccessDenied")),
            run_task(ROLE, "2026-12-05T10:07:00Z", None),
            run_task(
                "arn:aws:iam::123456789012:role/other",
                "2026-12-05T10:08:00Z",
                Some("AccessDenied"),
            ),
            someone,
            "not json".to_string(),
        ];
        let f = TrailFailure::newest_for(ROLE, records.iter().map(String::as_str)).unwrap();
        assert_eq!(
            f.seen, 2,
            "a success, another role, a person's call and a stray line are not counted"
        );
        assert_eq!(f.call, "ecs.amazonaws.com:RunTask");
        assert_eq!(f.class(), ErrorClass::Permission);
        assert_eq!(
            f.describe(),
            "ecs.amazonaws.com:RunTask failed with AccessDenied (\"User: arn:aws:sts::123456789012:assumed-role/ebi-orders/3f6e1a2b is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/worker-task\") at 2026-12-05T10:05:00Z"
        );
    }

    #[test]
    fn a_trust_that_does_not_admit_eventbridge_is_its_assume_role() {
        let r = assume_role(ROLE, "2026-12-05T10:00:00Z");
        let f = TrailFailure::newest_for(ROLE, [r.as_str()]).unwrap();
        assert_eq!(f.call, "sts.amazonaws.com:AssumeRole");
        assert_eq!(f.class(), ErrorClass::Permission);
        assert_eq!(
            TrailFailure::newest_for("arn:aws:iam::123456789012:role/x", [r.as_str()]),
            None
        );
    }

    #[test]
    fn a_throttle_is_the_services_own_failure() {
        let r = run_task(ROLE, "2026-12-05T10:05:00Z", Some("ThrottlingException"));
        let f = TrailFailure::newest_for(ROLE, [r.as_str()]).unwrap();
        assert_eq!(f.class(), ErrorClass::Runtime);
    }
}
