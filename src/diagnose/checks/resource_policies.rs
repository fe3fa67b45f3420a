//! What every check of a resource policy shares: whether a queue's, topic's, stream's or
//! logs policy (with the organisation's RCPs) lets EventBridge or a role act, the KMS key of
//! a queue or topic, and the dead-letter queue. The kinds' own checks are in `targets/`.

use super::*;

impl TargetCheck<'_> {
    /// EventBridge (`events.amazonaws.com`) asking for `action` on `resource` for this rule,
    /// as a resource policy sees it: with the rule's `aws:SourceArn` and `aws:SourceAccount`.
    pub(super) fn events_request(&self, action: &str, resource: &str) -> Request {
        Request {
            caller: Caller::Service(EVENTS.into()),
            action: action.into(),
            resource: Some(resource.to_string()),
            context: self.events_context(),
        }
    }

    fn events_context(&self) -> Context {
        Context::new()
            .with("aws:SourceArn", self.rule.arn.clone())
            .with("aws:SourceAccount", self.account)
    }

    /// A dead-letter queue: same region as the rule, exists, lets EventBridge send to it
    /// (queue policy, RCPs) and, when encrypted with a KMS key, lets EventBridge use the key.
    pub(super) fn check_dead_letter_queue(&mut self, dlq: &str) {
        let Ok(queue_arn) = Arn::parse(dlq) else {
            return;
        };
        let rule_region = Arn::parse(&self.rule.arn)
            .map(|a| a.region)
            .unwrap_or_default();
        let name = queue_arn.resource.clone();
        if queue_arn.region != rule_region {
            self.finding(
                Code::DeadLetterQueueInOtherRegion,
                dlq,
                format!(
                    "The dead-letter queue {dlq} is in {}, the rule in {rule_region}: EventBridge only sends failed events to a queue in the rule's region, so they are dropped.",
                    queue_arn.region
                ),
                format!(
                    "aws sqs create-queue --queue-name {name} --region {rule_region}, then set DeadLetterConfig.Arn of target {} to arn:{}:sqs:{rule_region}:{}:{name}",
                    self.target.id, queue_arn.partition, queue_arn.account
                ),
            );
            return;
        }
        let snapshot = self.snapshot;
        let Some(queues) = &snapshot.dead_letter_queues else {
            return; // not gathered: only the ARN could be checked
        };
        let statement = remedy::dead_letter_queue_statement(
            &remedy::dead_letter_queue_sid(&self.rule.arn),
            dlq,
            &self.rule.arn,
        );
        let Some(queue) = queues.get(dlq) else {
            self.finding(
                Code::DeadLetterQueueNotFound,
                dlq,
                format!("The dead-letter queue {dlq} does not exist: events EventBridge fails to deliver (permission errors included) are dropped, and only the InvocationsFailedToBeSentToDlq metric says so."),
                format!(
                    "aws sqs create-queue --queue-name {name} --region {rule_region}\n{}",
                    remedy::add_queue_statement(dlq, &statement)
                ),
            );
            return;
        };
        if let Some((why, notes)) = self.queue_send_denied(dlq, &queue_arn, queue) {
            self.finding(
                Code::DeadLetterQueuePermissionMissing,
                dlq,
                format!("EventBridge may not send to the dead-letter queue {dlq}: {why}. Failed events (permission errors go straight to the queue) are dropped."),
                remedy::add_queue_statement(dlq, &statement),
            );
            self.note_not_evaluated(Code::DeadLetterQueuePermissionMissing, dlq, &notes);
        }
        if let Some(key) = &queue.kms_key {
            self.check_queue_key(
                dlq,
                &queue_arn,
                key,
                Code::DeadLetterQueueKmsKeyNotPermitted,
                "dead-letter queue",
            );
        }
    }

    /// Why EventBridge may not `sqs:SendMessage` to `queue_arn` for this rule (its policy,
    /// evaluated), with what could not be evaluated; None when it may, or when a resource
    /// control policy blocks it (that finding is already made).
    pub(super) fn queue_send_denied(
        &mut self,
        queue_arn: &str,
        parsed: &Arn,
        queue: &crate::diagnose::snapshot::Queue,
    ) -> Option<(&'static str, Vec<NotEvaluated>)> {
        self.resource_policy_denies(queue_arn, parsed, queue, "sqs:SendMessage", None)
    }

    /// Whether the policy of `queue` (an SQS queue or SNS topic, as gathered) denies
    /// EventBridge `action` for this rule: why, and what was not evaluated. `role`: the rule's
    /// execution role, which acts instead of events.amazonaws.com (direct delivery to another
    /// account); the organisation's resource control policies apply to either.
    pub(super) fn resource_policy_denies(
        &mut self,
        queue_arn: &str,
        parsed: &Arn,
        queue: &crate::diagnose::snapshot::Queue,
        action: &'static str,
        role: Option<&str>,
    ) -> Option<(&'static str, Vec<NotEvaluated>)> {
        let noun = if action.starts_with("sns:") {
            "topic"
        } else if action.starts_with("logs:") {
            "logs resource"
        } else {
            "queue"
        };
        let policy = queue
            .policy
            .as_ref()
            .and_then(|p| PolicyDocument::parse(p).ok())
            .map(|document| Named {
                name: format!("{noun} policy"),
                id: None,
                document,
            });
        let (caller, principal, context, who) = match role {
            None => (
                Caller::Service(EVENTS.into()),
                request::Principal::Service(EVENTS.into()),
                self.events_context(),
                format!("EventBridge (events.amazonaws.com) {action} on {queue_arn}"),
            ),
            Some(role) => (
                Caller::Aws {
                    arn: role.to_string(),
                    account: self.account.to_string(),
                },
                request::Principal::Role {
                    arn: role.to_string(),
                    account: self.account.to_string(),
                },
                Context::new()
                    .with("aws:PrincipalArn", role)
                    .with("aws:PrincipalAccount", self.account),
                format!("EventBridge with role {role}: {action} on {queue_arn}"),
            ),
        };
        let request = Request {
            caller,
            action: action.into(),
            resource: Some(queue_arn.to_string()),
            context,
        };
        if self.check_resource_control(&request, &who) {
            return None;
        }
        let outcome = request::evaluate(
            &request::Question {
                principal,
                action: request.action.clone(),
                resource: queue_arn.to_string(),
                // The role's own permission is judged apart (`check_role_target`): asked as
                // if in one account, the question is the resource policy's answer alone.
                resource_account: Some(match role {
                    None => parsed.account.clone(),
                    Some(_) => self.account.to_string(),
                }),
                context: request.context.clone(),
            },
            &Policies {
                resource: policy,
                ..Default::default()
            },
        );
        if outcome.decision == Decision::Allow {
            return None;
        }
        let why = if role.is_some() {
            if outcome.decision == Decision::ExplicitDeny {
                "a Deny in its policy blocks the rule's execution role"
            } else if queue.policy.is_none() {
                "it has no policy, and a role of another account needs one that names it"
            } else {
                "no statement of its policy lets the rule's execution role do so"
            }
        } else if outcome.decision == Decision::ExplicitDeny {
            "a Deny in its policy blocks events.amazonaws.com"
        } else if queue.policy.is_none() {
            match noun {
                "topic" => "it has no topic policy",
                "logs resource" => "the account has no CloudWatch Logs resource policy",
                _ => "it has no queue policy",
            }
        } else if noun == "logs resource" {
            "no statement of the account's CloudWatch Logs resource policies lets events.amazonaws.com logs:PutLogEvents to it for this rule"
        } else if noun == "topic" {
            "no statement of its policy lets events.amazonaws.com sns:Publish for this rule"
        } else {
            "no statement of its policy lets events.amazonaws.com sqs:SendMessage for this rule"
        };
        Some((
            why,
            outcome.not_evaluated.into_iter().map(|(_, n)| n).collect(),
        ))
    }

    /// An SQS queue EventBridge sends to (`what`: dead-letter or target queue), encrypted with
    /// KMS: EventBridge needs kms:GenerateDataKey and kms:Decrypt through the key policy. The
    /// AWS managed key (alias/aws/sqs) cannot grant a service.
    pub(super) fn check_queue_key(
        &mut self,
        queue: &str,
        queue_arn: &Arn,
        key: &str,
        code: Code,
        what: &str,
    ) {
        let statement = remedy::dead_letter_key_statement();
        if key == "alias/aws/sqs" || key.ends_with(":alias/aws/sqs") {
            self.finding(
                code,
                queue,
                format!("The {what} {queue} is encrypted with the AWS managed key alias/aws/sqs, whose key policy cannot be changed to let events.amazonaws.com use it, so EventBridge cannot send to the queue."),
                format!(
                    "Encrypt the queue with a customer managed key whose key policy has this statement:
{}
and: aws sqs set-queue-attributes --queue-url {} --attributes KmsMasterKeyId=KEY_ARN (or use SSE-SQS instead: --attributes SqsManagedSseEnabled=true)",
                    serde_json::to_string_pretty(&statement).unwrap_or_default(),
                    remedy::queue_url(queue)
                ),
            );
            return;
        }
        let Some(document) = key_policy_of(self.snapshot, key) else {
            return; // the key policy was not gathered: not evaluated
        };
        // A key policy grants EventBridge by its statements' Resource (usually "*"); an alias
        // not resolved to its key is judged by the alias's ARN, and the fix asks for the key.
        let resolved = resolved_key_arn(self.snapshot, key, queue_arn);
        let key_arn = resolved
            .clone()
            .unwrap_or_else(|| key_arn_of(key, queue_arn));
        let kms_request = self.events_request("kms:GenerateDataKey", &key_arn);
        self.check_resource_control(
            &kms_request,
            &format!("EventBridge (events.amazonaws.com) kms:GenerateDataKey on {key_arn}, the key of {what} {queue}"),
        );
        let mut missing = vec![];
        let mut notes = vec![];
        for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
            let request = self.events_request(action, &key_arn);
            let eval = evaluate_resource_policy(
                &NamedPolicy {
                    name: "key policy",
                    document: &document,
                },
                &request,
            );
            if eval.decision != Decision::Allow {
                missing.push(action);
            }
            notes.extend(eval.not_evaluated);
        }
        if !missing.is_empty() {
            let key_id = match &resolved {
                Some(arn) => arn.rsplit('/').next().unwrap_or(arn).to_string(),
                // PutKeyPolicy takes no alias: the key behind it.
                None => format!("\"$(aws kms describe-key --key-id {key} --query KeyMetadata.KeyId --output text)\""),
            };
            self.finding(
                code,
                queue,
                format!(
                    "The {what} {queue} is encrypted with KMS key {key}, whose key policy does not let events.amazonaws.com {}: EventBridge cannot write to the {}.",
                    missing.join(" or "),
                    if what.ends_with("topic") { "topic" } else { "queue" }
                ),
                format!(
                    "Add this statement to the key policy of {key_arn}, keeping its other statements:
{}
then: aws kms put-key-policy --key-id {key_id} --policy-name default --policy file://key-policy.json",
                    serde_json::to_string_pretty(&statement).unwrap_or_default()
                ),
            );
            self.note_not_evaluated(code, queue, &notes);
        }
    }
}

/// The gathered policy of the key a queue or topic names (by ID, alias or ARN; the bundle may
/// name it another way). None: not gathered.
pub(super) fn key_policy_of(snapshot: &Snapshot, key: &str) -> Option<PolicyDocument> {
    PolicyDocument::parse(by_key(&snapshot.key_policies, key)?).ok()
}

/// Whether the key's ARN is known when the key is named by alias (always, for a key).
pub(super) fn key_arn_known(snapshot: &Snapshot, key: &str) -> bool {
    let named_by_alias = key.starts_with("alias/") || key.contains(":alias/");
    !named_by_alias || by_key(&snapshot.key_arns, key).is_some()
}

/// The ARN of the key `key` (an ID, alias or ARN) in the account and region of `holder`.
pub(super) fn key_arn_of(key: &str, holder: &Arn) -> String {
    if key.starts_with("arn:") {
        return key.to_string();
    }
    let resource = if key.starts_with("alias/") {
        key.to_string()
    } else {
        format!("key/{key}")
    };
    format!(
        "arn:{}:kms:{}:{}:{resource}",
        holder.partition, holder.region, holder.account
    )
}

/// The ARN IAM policies name the key by: an alias resolved by DescribeKey (None when it was
/// not), else the key's own ARN.
pub(super) fn resolved_key_arn(snapshot: &Snapshot, key: &str, holder: &Arn) -> Option<String> {
    if key.starts_with("alias/") || key.contains(":alias/") {
        return by_key(&snapshot.key_arns, key).cloned();
    }
    Some(key_arn_of(key, holder))
}

/// An entry keyed as the queue names its key, or another way (by ID, alias or ARN: a bundle
/// may name it otherwise).
fn by_key<'a, V>(map: &'a std::collections::BTreeMap<String, V>, key: &str) -> Option<&'a V> {
    map.get(key).or_else(|| {
        let id = key.rsplit('/').next().unwrap_or(key);
        map.iter()
            .find(|(k, _)| k.rsplit('/').next() == Some(id))
            .map(|(_, v)| v)
    })
}

/// Whether `key` is the AWS managed key of SQS or SNS (its policy admits any principal of
/// the account calling through that service, and no service principal).
pub(super) fn is_aws_managed_key(key: &str) -> bool {
    ["alias/aws/sqs", "alias/aws/sns"]
        .iter()
        .any(|alias| key == *alias || key.ends_with(&format!(":{alias}")))
}
