//! KMS key policies online, for `DeadLetterQueueKmsKeyNotPermitted`: a dead-letter queue
//! encrypted with a customer managed key accepts EventBridge's messages only when the key
//! policy lets events.amazonaws.com use the key. Read with kms:GetKeyPolicy (policy name
//! `default`); a queue that names its key by alias is resolved with kms:DescribeKey first
//! (GetKeyPolicy takes no alias). A key that cannot be read is reported as not evaluated,
//! quoting AWS, never as allowing.

use serde_json::{json, Value};

use super::errors::{classify, AwsError, ErrorKind};
use crate::diagnose::Snapshot;

/// One key's policy, or why it could not be read.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyPolicy {
    /// The policy document as KMS returns it (JSON text), and the key's ARN when the queue
    /// names it by alias (DescribeKey's): IAM policies grant a key by its ARN, never by an
    /// alias's.
    Read {
        policy: String,
        key_arn: Option<String>,
    },
    /// `transient` (throttled, unreachable) results are not cached.
    Unreadable { reason: String, transient: bool },
}

impl KeyPolicy {
    /// Into a snapshot, keyed as the queue names the key (`KmsMasterKeyId`).
    pub fn fill(&self, key: &str, snapshot: &mut Snapshot) {
        match self {
            KeyPolicy::Read { policy, key_arn } => {
                snapshot
                    .key_policies
                    .insert(key.to_string(), Value::String(policy.clone()));
                if let Some(arn) = key_arn {
                    snapshot.key_arns.insert(key.to_string(), arn.clone());
                }
            }
            KeyPolicy::Unreadable { reason, .. } => {
                snapshot
                    .key_policies_unreadable
                    .insert(key.to_string(), reason.clone());
            }
        }
    }

    /// As `aws kms get-key-policy` prints it (`collect`'s `keyPolicies`); None when unreadable.
    pub fn bundle(&self) -> Option<Value> {
        match self {
            KeyPolicy::Read { policy, key_arn } => {
                let mut out = json!({"Policy": policy, "PolicyName": "default"});
                if let Some(arn) = key_arn {
                    out["KeyArn"] = json!(arn);
                }
                Some(out)
            }
            KeyPolicy::Unreadable { .. } => None,
        }
    }

    pub fn cacheable(&self) -> bool {
        !matches!(
            self,
            KeyPolicy::Unreadable {
                transient: true,
                ..
            }
        )
    }
}

/// Whether a queue's `KmsMasterKeyId` names a key whose policy matters: not the AWS managed
/// key of SQS, whose policy cannot grant a service (the check says so without reading it).
pub fn needs_key_policy(key: &str) -> bool {
    !(key.is_empty() || key == "alias/aws/sqs" || key.ends_with(":alias/aws/sqs"))
}

/// The default key policy of `key` (key ID, key ARN, alias name or alias ARN).
pub async fn key_policy(client: &aws_sdk_kms::Client, key: &str) -> KeyPolicy {
    match read(client, key).await {
        Ok((policy, key_arn)) => KeyPolicy::Read { policy, key_arn },
        Err(e) => KeyPolicy::Unreadable {
            transient: e.kind == ErrorKind::Transient,
            reason: e.to_string(),
        },
    }
}

/// The policy, and the key's ARN when `key` is an alias.
async fn read(
    client: &aws_sdk_kms::Client,
    key: &str,
) -> Result<(String, Option<String>), AwsError> {
    let is_alias = key.starts_with("alias/") || key.contains(":alias/");
    let mut key_arn = None;
    let key_id = if is_alias {
        let out = client
            .describe_key()
            .key_id(key)
            .send()
            .await
            .map_err(|e| classify("kms:DescribeKey", e))?;
        let meta = out.key_metadata().ok_or_else(|| {
            AwsError::new(
                "kms:DescribeKey",
                ErrorKind::Rejected,
                "NoKeyMetadata",
                format!("DescribeKey returned nothing for {key}"),
            )
        })?;
        // GetKeyPolicy takes the ID; the ARN is what IAM policies name the key by.
        key_arn = meta.arn().map(str::to_string);
        meta.arn().unwrap_or(meta.key_id()).to_string()
    } else {
        key.to_string()
    };
    let out = client
        .get_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .send()
        .await
        .map_err(|e| classify("kms:GetKeyPolicy", e))?;
    let policy = out.policy().map(str::to_string).ok_or_else(|| {
        AwsError::new(
            "kms:GetKeyPolicy",
            ErrorKind::Rejected,
            "NoPolicy",
            format!("GetKeyPolicy returned no policy for {key_id}"),
        )
    })?;
    Ok((policy, key_arn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_policy_and_an_unreadable_one_fill_the_snapshot_as_the_bundle_would() {
        let mut s = Snapshot::default();
        KeyPolicy::Read {
            policy: "{\"Version\":\"2012-10-17\",\"Statement\":[]}".into(),
            key_arn: None,
        }
        .fill("alias/dlq", &mut s);
        KeyPolicy::Unreadable {
            reason: "kms:GetKeyPolicy failed (AccessDeniedException): no".into(),
            transient: false,
        }
        .fill("k-2", &mut s);
        assert!(s.key_policies.contains_key("alias/dlq"));
        assert_eq!(
            s.key_policies_unreadable.get("k-2").map(String::as_str),
            Some("kms:GetKeyPolicy failed (AccessDeniedException): no")
        );
        assert!(!needs_key_policy("alias/aws/sqs"));
        assert!(!needs_key_policy(
            "arn:aws:kms:us-east-1:123456789012:alias/aws/sqs"
        ));
        assert!(needs_key_policy("1234abcd-12ab-34cd-56ef-1234567890ab"));
    }
}
