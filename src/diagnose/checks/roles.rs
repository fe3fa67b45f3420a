//! A target invoked through a role: the role exists, trusts EventBridge for this rule, may
//! do what the target needs (ECS: run the task and pass its roles), names no malformed
//! policy ARN, and grants nothing on "*" it should not.

use super::*;

impl TargetCheck<'_> {
    pub(super) fn check_role_target(&mut self, arn: &Arn) {
        let t = self.target;
        let Some(role) = self.target_role(required_action(arn)) else {
            return;
        };
        let role_arn = &role.arn;
        let task_definition = t.task_definition_arn.as_ref().and_then(|td| {
            self.snapshot
                .task_definitions
                .get(td)
                .or_else(|| find_task_definition(self.snapshot, td))
        });
        if arn.service == "ecs" {
            if let Some(td) = task_definition {
                if td.roles_to_pass().iter().any(|r| r == role_arn) {
                    self.finding(
                        Code::TargetRoleIsTaskRole,
                        role_arn,
                        format!(
                            "The target's RoleArn {role_arn} is the task definition's execution or task role. That role is for the task itself (trusted by ecs-tasks.amazonaws.com); EventBridge needs its own role to call ecs:RunTask and pass the task's roles."
                        ),
                        "Create a separate role for EventBridge (trusting events.amazonaws.com) with ecs:RunTask and iam:PassRole on the task's roles, and use it as the target's RoleArn.".into(),
                    );
                }
            }
        }
        self.check_trust(role);
        self.check_policy_arns(role);
        let account = self.account.to_string();
        let principal_ctx = || {
            Context::new()
                .with("aws:PrincipalArn", role_arn.clone())
                .with("aws:PrincipalAccount", account.clone())
        };
        let caller = Caller::Aws {
            arn: role_arn.clone(),
            account: account.clone(),
        };
        match arn.service.as_str() {
            "ecs" => {
                let td_arn = t.task_definition_arn.clone().unwrap_or_default();
                if !td_arn.is_empty()
                    && check_arn(
                        &td_arn,
                        Some(&t.id),
                        "The target's TaskDefinitionArn",
                        self.out,
                    )
                {
                    let request = Request {
                        caller: caller.clone(),
                        action: "ecs:RunTask".into(),
                        resource: Some(td_arn.clone()),
                        context: principal_ctx().with("ecs:cluster", t.arn.clone()),
                    };
                    let statement = remedy::run_task_statement(&td_arn, &t.arn);
                    self.check_permission(
                        role,
                        &request,
                        Code::RunTaskNotAllowed,
                        &td_arn,
                        statement,
                        &format!("ecs:RunTask on {td_arn} in cluster {}", t.arn),
                    );
                }
                let to_pass = match task_definition {
                    Some(td) => td.roles_to_pass(),
                    None => self.expect.pass_role_arns.clone(),
                };
                for passed in to_pass {
                    let request = Request {
                        caller: caller.clone(),
                        action: "iam:PassRole".into(),
                        resource: Some(passed.clone()),
                        context: principal_ctx().with("iam:PassedToService", ECS_TASKS),
                    };
                    let statement = remedy::pass_role_statement(std::slice::from_ref(&passed));
                    self.check_permission(
                        role,
                        &request,
                        Code::PassRoleMissing,
                        &passed,
                        statement,
                        &format!(
                            "iam:PassRole on {passed} (the task's role) to ecs-tasks.amazonaws.com"
                        ),
                    );
                }
            }
            _ => {
                let (action, code) = target_action(arn);
                let request = Request {
                    caller,
                    action: action.into(),
                    resource: Some(t.arn.clone()),
                    context: principal_ctx(),
                };
                let statement = remedy::invoke_statement(action, &t.arn);
                self.check_permission(
                    role,
                    &request,
                    code,
                    &t.arn,
                    statement,
                    &format!("{action} on {}", t.arn),
                );
            }
        }
        self.check_broad_statements(role);
    }

    pub(super) fn check_trust(&mut self, role: &Role) {
        let Ok(doc) = PolicyDocument::parse(&role.trust_policy) else {
            self.finding(
                Code::TrustPolicyMissingServicePrincipal,
                &role.arn,
                format!(
                    "The trust policy of role {} cannot be read, so it allows no one.",
                    role.name
                ),
                remedy::update_trust(&role.arn, self.account, &self.rule.arn),
            );
            return;
        };
        let request = Request {
            caller: Caller::Service(EVENTS.into()),
            action: "sts:AssumeRole".into(),
            resource: None,
            context: Context::new()
                .with("aws:SourceAccount", self.account)
                .with("aws:SourceArn", self.rule.arn.clone()),
        };
        let eval = evaluate_resource_policy(
            &NamedPolicy {
                name: "trust policy",
                document: &doc,
            },
            &request,
        );
        let fix = remedy::update_trust(&role.arn, self.account, &self.rule.arn);
        let rcp_request = Request {
            resource: Some(role.arn.clone()),
            ..request.clone()
        };
        self.check_resource_control(
            &rcp_request,
            &format!(
                "EventBridge (events.amazonaws.com) sts:AssumeRole on role {}",
                role.name
            ),
        );
        match eval.decision {
            Decision::Allow => {
                let unprotected = allowed_without_source_condition(&eval, &doc);
                if unprotected {
                    self.finding(
                        Code::ConfusedDeputyUnprotected,
                        &role.arn,
                        format!("Role {} trusts events.amazonaws.com without an aws:SourceAccount or aws:SourceArn condition: any account's rule could make EventBridge assume it (confused deputy).", role.name),
                        fix,
                    );
                }
            }
            Decision::ExplicitDeny => {
                self.explicit_deny(&eval, &role.arn, "sts:AssumeRole by events.amazonaws.com");
                self.finding(
                    Code::TrustPolicyMissingServicePrincipal,
                    &role.arn,
                    format!(
                        "The trust policy of role {} denies events.amazonaws.com sts:AssumeRole.",
                        role.name
                    ),
                    fix,
                );
            }
            Decision::ImplicitDeny if !eval.near_misses.is_empty() => {
                self.finding(
                    Code::TrustPolicyConditionMismatch,
                    &role.arn,
                    format!(
                        "Role {} trusts events.amazonaws.com, but only under conditions this rule does not meet: {} (this rule: aws:SourceAccount={}, aws:SourceArn={}).",
                        role.name,
                        describe_failed(&eval.near_misses),
                        self.account,
                        self.rule.arn
                    ),
                    fix,
                );
            }
            Decision::ImplicitDeny => {
                self.finding(
                    Code::TrustPolicyMissingServicePrincipal,
                    &role.arn,
                    format!("The trust policy of role {} does not let events.amazonaws.com sts:AssumeRole, so EventBridge cannot use the role.", role.name),
                    fix,
                );
            }
        }
    }

    /// One required permission of the role; names the precise reason it fails.
    pub(super) fn check_permission(
        &mut self,
        role: &Role,
        request: &Request,
        code: Code,
        resource: &str,
        statement: Value,
        what: &str,
    ) {
        let docs = identity_documents(role);
        let boundary = role
            .permissions_boundary
            .as_ref()
            .and_then(|(arn, d)| PolicyDocument::parse(d).ok().map(|d| (arn.clone(), d)));
        let named: Vec<NamedPolicy<'_>> = docs
            .iter()
            .map(|(n, d)| NamedPolicy {
                name: n,
                document: d,
            })
            .collect();
        let boundary_named = boundary.as_ref().map(|(n, d)| NamedPolicy {
            name: n,
            document: d,
        });
        let eval = evaluate_identity(&named, boundary_named.as_ref(), request);
        let role_name = role.name.clone();
        match eval.decision {
            Decision::Allow => {}
            Decision::ExplicitDeny => {
                self.explicit_deny(&eval, resource, what);
                self.finding(
                    code,
                    resource,
                    format!("Role {role_name} may not {what}: an explicit Deny blocks it."),
                    remedy::put_statement(&role.arn, "eventbridge-invoke", statement),
                );
            }
            Decision::ImplicitDeny if eval.boundary_blocks => {
                let (boundary_arn, _) = role.permissions_boundary.clone().unwrap_or_default();
                self.finding(
                    Code::PermissionsBoundaryBlocks,
                    &boundary_arn,
                    format!("Role {role_name}'s policies allow {what}, but its permissions boundary {boundary_arn} does not, so the effective permission is denied."),
                    format!("Allow the action in the boundary policy {boundary_arn} (a new default version with this statement):\n{}", serde_json::to_string_pretty(&statement).unwrap_or_default()),
                );
            }
            Decision::ImplicitDeny => {
                let detail = if eval.near_misses.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (a statement comes close, but {})",
                        describe_failed(&eval.near_misses)
                    )
                };
                self.finding(
                    code,
                    resource,
                    format!("Role {role_name} is not allowed {what}{detail}."),
                    remedy::put_statement(&role.arn, "eventbridge-invoke", statement),
                );
            }
        }
        self.note_not_evaluated(code, resource, &eval.not_evaluated);
        self.check_service_control(role, request, what);
    }

    pub(super) fn explicit_deny(&mut self, eval: &Evaluation, resource: &str, what: &str) {
        let by: Vec<String> = eval
            .denied_by
            .iter()
            .map(|s| {
                format!(
                    "{} statement {}",
                    s.policy,
                    s.sid.clone().unwrap_or_else(|| format!("#{}", s.index + 1))
                )
            })
            .collect();
        self.finding(
            Code::ExplicitDeny,
            resource,
            format!(
                "An explicit Deny blocks {what}: {}. A Deny overrides every Allow.",
                by.join(", ")
            ),
            format!(
                "Remove or narrow the Deny in {} so it no longer matches this request.",
                by.join(", ")
            ),
        );
    }

    /// ARNs without account in the role's own statements.
    pub(super) fn check_policy_arns(&mut self, role: &Role) {
        for (name, doc) in identity_documents(role) {
            for s in &doc.statements {
                for r in s.resource.iter().flat_map(|m| m.patterns.iter()) {
                    if r.starts_with("arn:") {
                        check_arn(
                            r,
                            Some(&self.target.id),
                            &format!("Resource in policy {name} of role {}", role.name),
                            self.out,
                        );
                    }
                }
            }
        }
    }

    /// Warn about `*` resources on the actions this integration needs.
    pub(super) fn check_broad_statements(&mut self, role: &Role) {
        for (name, doc) in identity_documents(role) {
            if name.starts_with("arn:aws:iam::aws:policy/") {
                continue; // AWS managed policies are broad by design; the user chose them.
            }
            for (i, s) in doc.statements.iter().enumerate() {
                let star = s
                    .resource
                    .as_ref()
                    .is_some_and(|m| !m.negated && m.patterns.iter().any(|p| p == "*"));
                let sensitive = !s.action.negated
                    && s.action.patterns.iter().any(|a| {
                        let a = a.to_ascii_lowercase();
                        [
                            "ecs:runtask",
                            "iam:passrole",
                            "states:startexecution",
                            "sts:assumerole",
                            "*",
                            "iam:*",
                            "ecs:*",
                            "states:*",
                        ]
                        .contains(&a.as_str())
                    });
                if s.effect == Effect::Allow && star && sensitive {
                    let sid = s.sid.clone().unwrap_or_else(|| format!("#{}", i + 1));
                    self.finding(
                        Code::OverlyBroadPermission,
                        &format!("{}#{name}#{sid}", role.arn),
                        format!("Statement {sid} of policy {name} on role {} allows {} on Resource \"*\"; iam:PassRole on * lets the role hand any role to ECS.", role.name, s.action.patterns.join(", ")),
                        "Replace \"*\" with the exact ARNs: the task definition family, the task's execution and task roles, the state machine.".into(),
                    );
                }
            }
        }
    }
}
