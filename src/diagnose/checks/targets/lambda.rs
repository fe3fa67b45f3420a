//! A Lambda target: the function's resource policy (same account), or an execution role
//! the function's policy names (another account), and the hand-built role chain.

use super::super::*;

impl TargetCheck<'_> {
    pub(in crate::diagnose::checks) fn check_lambda(&mut self, arn: &Arn) {
        let t = self.target;
        if t.role_arn.is_some() {
            return self.check_lambda_with_role();
        }
        let statement_id = format!("events-{}", self.rule.name);
        let fix =
            remedy::add_lambda_permission(&t.arn, &statement_id, &self.rule.arn, self.account);
        let doc = self
            .snapshot
            .lambda_policies
            .get(&t.arn)
            .and_then(|v| PolicyDocument::parse(v).ok());
        let Some(doc) = doc else {
            self.finding(
                Code::LambdaPermissionMissing,
                &t.arn,
                format!(
                    "Function {} has no resource-based policy, so EventBridge may not invoke it.",
                    t.arn
                ),
                fix,
            );
            return;
        };
        self.check_source_arns_in(&doc);
        let request = self.events_request("lambda:InvokeFunction", &t.arn);
        let eval = evaluate_resource_policy(
            &NamedPolicy {
                name: "function policy",
                document: &doc,
            },
            &request,
        );
        let qualifier_hint = if arn.resource.matches(':').count() >= 2 {
            " Permissions are per qualifier: a grant on the unqualified function does not cover an alias or version, and vice versa."
        } else {
            ""
        };
        match eval.decision {
            Decision::Allow => {
                let unprotected = allowed_without_source_condition(&eval, &doc);
                if unprotected {
                    self.finding(
                        Code::ConfusedDeputyUnprotected,
                        &t.arn,
                        format!("The policy of function {} lets events.amazonaws.com invoke it with no AWS:SourceArn or AWS:SourceAccount condition: any account's rule could invoke it.", t.arn),
                        format!("Replace the statement with one bound to this rule: {fix}"),
                    );
                }
            }
            Decision::ExplicitDeny => {
                self.explicit_deny(
                    &eval,
                    &t.arn,
                    "lambda:InvokeFunction by events.amazonaws.com",
                );
                self.finding(
                    Code::LambdaPermissionMissing,
                    &t.arn,
                    format!(
                        "A Deny in the policy of function {} blocks EventBridge.",
                        t.arn
                    ),
                    fix,
                );
            }
            Decision::ImplicitDeny => self.no_statement_allows(&eval, fix, qualifier_hint),
        }
    }

    /// Every `AWS:SourceArn` the function's policy names is a whole ARN (an account-less
    /// one matches no rule).
    fn check_source_arns_in(&mut self, doc: &PolicyDocument) {
        let t = self.target;
        for s in &doc.statements {
            for c in &s.conditions {
                if c.key.eq_ignore_ascii_case("aws:SourceArn") {
                    for v in &c.values {
                        check_arn(
                            v,
                            Some(&t.id),
                            "The AWS:SourceArn of the function policy",
                            self.out,
                        );
                    }
                }
            }
        }
    }

    /// No statement lets EventBridge invoke the function for this rule: the condition that
    /// failed (the rule, the account) when one nearly did, else the missing grant.
    fn no_statement_allows(&mut self, eval: &Evaluation, fix: String, qualifier_hint: &str) {
        let t = self.target;
        let failed_key = |key: &str| {
            eval.near_misses
                .iter()
                .any(|m| m.failed.iter().any(|c| c.key.eq_ignore_ascii_case(key)))
        };
        if failed_key("aws:SourceArn") {
            self.finding(
                Code::LambdaPermissionSourceArnMismatch,
                &t.arn,
                format!("Function {} lets EventBridge invoke it only for other rules: {} (this rule is {}).", t.arn, describe_failed(&eval.near_misses), self.rule.arn),
                fix,
            );
        } else if failed_key("aws:SourceAccount") {
            self.finding(
                Code::LambdaPermissionSourceAccountMismatch,
                &t.arn,
                format!("Function {} lets EventBridge invoke it only for another account: {} (this rule's account is {}).", t.arn, describe_failed(&eval.near_misses), self.account),
                fix,
            );
        } else {
            self.finding(
                Code::LambdaPermissionMissing,
                &t.arn,
                format!("No statement of the policy of function {} lets events.amazonaws.com invoke exactly {}.{qualifier_hint}", t.arn, t.arn),
                fix,
            );
        }
    }
}

impl TargetCheck<'_> {
    /// A Lambda target with an execution role (EventBridge's cross-account delivery): the
    /// role must trust EventBridge and may invoke the function, and the function's policy
    /// must let that role invoke it.
    pub(in crate::diagnose::checks) fn check_lambda_with_role(&mut self) {
        let t = self.target;
        let Some(role) = self.target_role("lambda:InvokeFunction") else {
            return;
        };
        self.check_trust(role);
        let caller = Caller::Aws {
            arn: role.arn.clone(),
            account: self.account.to_string(),
        };
        let request = Request {
            caller: caller.clone(),
            action: "lambda:InvokeFunction".into(),
            resource: Some(t.arn.clone()),
            context: Context::new(),
        };
        let statement =
            json!({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": t.arn});
        let found_before = self.out.0.len();
        self.check_permission(
            role,
            &request,
            Code::LambdaPermissionMissing,
            &t.arn,
            statement,
            &format!("lambda:InvokeFunction on {}", t.arn),
        );
        let (function, qualifier) = remedy::split_function_arn(&t.arn);
        let function_account = Arn::parse(&t.arn).map(|a| a.account).unwrap_or_default();
        if self.out.0.len() > found_before {
            self.check_hand_built_chain(role, &function_account);
        }
        let fix = format!(
            "aws lambda add-permission --function-name {function}{} --statement-id events-{} --action lambda:InvokeFunction --principal {} (with credentials of account {function_account})",
            qualifier.map(|q| format!(" --qualifier {q}")).unwrap_or_default(),
            self.rule.name,
            role.arn
        );
        let allowed = self
            .snapshot
            .lambda_policies
            .get(&t.arn)
            .and_then(|v| PolicyDocument::parse(v).ok())
            .is_some_and(|doc| {
                evaluate_resource_policy(
                    &NamedPolicy {
                        name: "function policy",
                        document: &doc,
                    },
                    &request,
                )
                .decision
                    == Decision::Allow
            });
        if !allowed {
            self.finding(
                Code::LambdaPermissionMissing,
                &t.arn,
                format!("The policy of function {} does not let the rule's execution role {} invoke it; EventBridge invokes a function in another account with that role.", t.arn, role.arn),
                fix,
            );
        }
    }
}

impl TargetCheck<'_> {
    /// RoleChainNotFollowed: the execution role may not invoke the function, but may assume a
    /// role of the function's account: the textbook chain. EventBridge calls the function with
    /// the execution role itself and never assumes a second role, so the chain grants nothing
    /// it uses.
    pub(in crate::diagnose::checks) fn check_hand_built_chain(
        &mut self,
        role: &Role,
        function_account: &str,
    ) {
        let in_function_account = format!(":iam::{function_account}:role/");
        let chained: Vec<String> = identity_documents(role)
            .into_iter()
            .flat_map(|(_, doc)| doc.statements)
            .filter(|s| s.effect == Effect::Allow && !s.action.negated)
            .filter(|s| {
                s.action
                    .patterns
                    .iter()
                    .any(|a| crate::iam::glob::matches_ignore_case(a, "sts:AssumeRole"))
            })
            .flat_map(|s| s.resource.map(|r| r.patterns).unwrap_or_default())
            .filter(|r| r.contains(&in_function_account))
            .collect();
        let Some(first) = chained.first() else {
            return;
        };
        let t = self.target;
        self.finding(
            Code::RoleChainNotFollowed,
            &role.arn,
            format!(
                "Role {} may assume {first} in the function's account, but EventBridge never chains roles: it invokes {} with {} itself, so the role in account {function_account} is never used.",
                role.arn, t.arn, role.arn
            ),
            format!(
                "Grant {} lambda:InvokeFunction on {} and let it invoke the function in the function's policy (aws lambda add-permission … --principal {}); the role in account {function_account} and the sts:AssumeRole statement can go.",
                role.arn, t.arn, role.arn
            ),
        );
    }
}
