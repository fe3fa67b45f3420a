//! What any invoker's role is judged by, whoever invokes through it (EventBridge for a
//! rule's target, Scheduler for a schedule): its trust for that invoker and source, each
//! permission it needs, the organisation's service and resource control policies, ARNs
//! without an account in its statements, and grants on "*". A check that judges a role
//! implements [`Judge`] (where its findings go, whose account, which invoker) and gets these.

use super::*;

/// Who assumes the role, and for what source: the trust is judged against it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Invoker<'a> {
    /// The service principal: `events.amazonaws.com` or `scheduler.amazonaws.com`.
    pub service: &'static str,
    /// The service as findings name it.
    pub name: &'static str,
    /// `aws:SourceArn` as the service sends it: the rule's ARN, or the schedule group's.
    pub source_arn: &'a str,
    /// What the source is, for findings: "rule" or "schedule group".
    pub source_kind: &'static str,
    /// The finding when the trust does not let the service assume the role at all.
    pub trust_missing: Code,
}

impl<'a> Invoker<'a> {
    pub(super) fn events(rule_arn: &'a str) -> Invoker<'a> {
        Invoker {
            service: EVENTS,
            name: "EventBridge",
            source_arn: rule_arn,
            source_kind: "rule",
            trust_missing: Code::TrustPolicyMissingServicePrincipal,
        }
    }

    pub(super) fn scheduler(group_arn: &'a str) -> Invoker<'a> {
        Invoker {
            service: SCHEDULER,
            name: "EventBridge Scheduler",
            source_arn: group_arn,
            source_kind: "schedule group",
            trust_missing: Code::SchedulerTrustMissing,
        }
    }

    fn is_scheduler(&self) -> bool {
        self.service == SCHEDULER
    }

    /// The trust policy to set, as an `aws iam` command.
    pub(super) fn update_trust(&self, role_arn: &str, account: &str) -> String {
        let policy = if self.is_scheduler() {
            crate::iam::documents::scheduler_trust_policy(account, self.source_arn)
        } else {
            remedy::events_trust_policy(account, self.source_arn)
        };
        remedy::update_trust_to(role_arn, &policy)
    }

    /// The invoker's `sts:AssumeRole`, as it makes it.
    fn assume_request(&self, account: &str) -> Request {
        Request {
            caller: Caller::Service(self.service.into()),
            action: "sts:AssumeRole".into(),
            resource: None,
            context: Context::new()
                .with("aws:SourceAccount", account)
                .with("aws:SourceArn", self.source_arn),
        }
    }

    /// Scheduler sends its schedule group's ARN as `aws:SourceArn`: a trust scoped to a
    /// schedule (AWS's guide warns against it) never matches.
    fn near_miss_hint(&self, misses: &[NearMiss]) -> String {
        let names_a_schedule = misses.iter().flat_map(|m| m.failed.iter()).any(|c| {
            c.key.eq_ignore_ascii_case("aws:SourceArn")
                && c.values.iter().any(|v| v.contains(":schedule/"))
        });
        if self.is_scheduler() && names_a_schedule {
            format!(" Scheduler's aws:SourceArn is the schedule group's ARN ({}), never a schedule's: scope the trust to the group.", self.source_arn)
        } else {
            String::new()
        }
    }

    /// A role made for EventBridge rules and reused for a schedule: say so, since it is the
    /// usual cause.
    fn other_service_trusted(&self, trust: &PolicyDocument, account: &str) -> String {
        if !self.is_scheduler() {
            return String::new();
        }
        let request = Request {
            caller: Caller::Service(EVENTS.into()),
            ..self.assume_request(account)
        };
        let named = NamedPolicy {
            name: "trust policy",
            document: trust,
        };
        let events = evaluate_resource_policy(&named, &request);
        let mentions_events = events.decision == Decision::Allow || !events.near_misses.is_empty();
        if mentions_events {
            format!(" It trusts {EVENTS} (EventBridge rules), which is another service: a schedule's role must trust {SCHEDULER}.")
        } else {
            String::new()
        }
    }
}

/// A check that judges a role: where its findings go and what they are judged against.
pub(super) trait Judge<'a> {
    fn snapshot(&self) -> &'a Snapshot;
    /// The account of the rule or schedule, whose role it is.
    fn account(&self) -> &'a str;
    fn invoker(&self) -> Invoker<'a>;
    /// The rule's target the findings concern (None: a schedule's one target).
    fn target_id(&self) -> Option<&'a str>;
    fn out(&mut self) -> &mut Findings;

    fn finding(&mut self, code: Code, resource: &str, message: String, remediation: String) {
        let f = Finding::new(code, self.target_id(), Some(resource), message, remediation);
        self.out().push(f);
    }

    /// The role's trust policy lets the invoker assume it for this source (the rule, or the
    /// schedule's group), with the confused deputy kept out.
    fn check_trust(&mut self, role: &Role) {
        let invoker = self.invoker();
        let account = self.account();
        let fix = invoker.update_trust(&role.arn, account);
        let Ok(doc) = PolicyDocument::parse(&role.trust_policy) else {
            self.finding(
                invoker.trust_missing,
                &role.arn,
                format!(
                    "The trust policy of role {} cannot be read, so it allows no one.",
                    role.name
                ),
                fix,
            );
            return;
        };
        let request = invoker.assume_request(account);
        let eval = evaluate_resource_policy(
            &NamedPolicy {
                name: "trust policy",
                document: &doc,
            },
            &request,
        );
        let rcp_request = Request {
            resource: Some(role.arn.clone()),
            ..request.clone()
        };
        let service = invoker.service;
        self.check_resource_control(
            &rcp_request,
            &format!(
                "{} ({service}) sts:AssumeRole on role {}",
                invoker.name, role.name
            ),
        );
        match eval.decision {
            Decision::Allow => {
                if allowed_without_source_condition(&eval, &doc) {
                    self.finding(
                        Code::ConfusedDeputyUnprotected,
                        &role.arn,
                        format!("Role {} trusts {service} without an aws:SourceAccount or aws:SourceArn condition: any account's {} could make {} assume it (confused deputy).", role.name, invoker.source_kind, invoker.name),
                        fix,
                    );
                }
            }
            Decision::ExplicitDeny => {
                self.explicit_deny(&eval, &role.arn, &format!("sts:AssumeRole by {service}"));
                self.finding(
                    invoker.trust_missing,
                    &role.arn,
                    format!(
                        "The trust policy of role {} denies {service} sts:AssumeRole.",
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
                        "Role {} trusts {service}, but only under conditions this {} does not meet: {} (this {}: aws:SourceAccount={account}, aws:SourceArn={}).{}",
                        role.name,
                        invoker.source_kind,
                        describe_failed(&eval.near_misses),
                        invoker.source_kind,
                        invoker.source_arn,
                        invoker.near_miss_hint(&eval.near_misses),
                    ),
                    fix,
                );
            }
            Decision::ImplicitDeny => {
                let also = invoker.other_service_trusted(&doc, account);
                self.finding(
                    invoker.trust_missing,
                    &role.arn,
                    format!("The trust policy of role {} does not let {service} sts:AssumeRole, so {} cannot use the role.{also}", role.name, invoker.name),
                    fix,
                );
            }
        }
    }

    /// `action` on `resource` by the role, as the invoker makes the call with it.
    fn check_action(&mut self, role: &Role, action: &str, code: Code, resource: &str, what: &str) {
        let request = self.role_request(role, action, resource);
        let statement = remedy::invoke_statement(action, resource);
        self.check_permission(role, &request, code, resource, statement, what);
    }

    /// ECS: `ecs:RunTask` on the task definition in this cluster, and `iam:PassRole` on each
    /// of the task's roles to ECS tasks (`to_pass`).
    fn check_run_task(
        &mut self,
        role: &Role,
        cluster_arn: &str,
        task_definition_arn: &str,
        to_pass: Vec<String>,
    ) {
        let account = self.account();
        let caller = Caller::Aws {
            arn: role.arn.clone(),
            account: account.to_string(),
        };
        let target_id = self.target_id();
        if !task_definition_arn.is_empty()
            && check_arn(
                task_definition_arn,
                target_id,
                "The target's TaskDefinitionArn",
                self.out(),
            )
        {
            let request = Request {
                caller: caller.clone(),
                action: "ecs:RunTask".into(),
                resource: Some(task_definition_arn.to_string()),
                context: principal_context(role, account).with("ecs:cluster", cluster_arn),
            };
            let statement = remedy::run_task_statement(task_definition_arn, cluster_arn);
            self.check_permission(
                role,
                &request,
                Code::RunTaskNotAllowed,
                task_definition_arn,
                statement,
                &format!("ecs:RunTask on {task_definition_arn} in cluster {cluster_arn}"),
            );
        }
        for passed in to_pass {
            let request = Request {
                caller: caller.clone(),
                action: "iam:PassRole".into(),
                resource: Some(passed.clone()),
                context: principal_context(role, account).with("iam:PassedToService", ECS_TASKS),
            };
            let statement = remedy::pass_role_statement(std::slice::from_ref(&passed));
            self.check_permission(
                role,
                &request,
                Code::PassRoleMissing,
                &passed,
                statement,
                &format!("iam:PassRole on {passed} (the task's role) to ecs-tasks.amazonaws.com"),
            );
        }
    }

    /// One required permission of the role; names the precise reason it fails.
    fn check_permission(
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

    fn explicit_deny(&mut self, eval: &Evaluation, resource: &str, what: &str) {
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
    fn check_policy_arns(&mut self, role: &Role) {
        for (name, doc) in identity_documents(role) {
            for s in &doc.statements {
                for r in s.resource.iter().flat_map(|m| m.patterns.iter()) {
                    if r.starts_with("arn:") {
                        check_arn(
                            r,
                            self.target_id(),
                            &format!("Resource in policy {name} of role {}", role.name),
                            self.out(),
                        );
                    }
                }
            }
        }
    }

    /// Warn about `*` resources on the actions this integration needs.
    fn check_broad_statements(&mut self, role: &Role) {
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

    /// Attaches "not evaluated" notes to the finding of this code and resource, if any.
    fn note_not_evaluated(&mut self, code: Code, resource: &str, notes: &[NotEvaluated]) {
        if notes.is_empty() {
            return;
        }
        if let Some(f) = self.finding_at(code, resource) {
            f.not_evaluated.extend(notes.iter().map(|n| n.to_string()));
        }
    }

    /// The finding of `code` on `resource` for this target, once reported.
    fn finding_at(&mut self, code: Code, resource: &str) -> Option<&mut Finding> {
        let target = self.target_id().map(str::to_string);
        self.out().0.iter_mut().find(|f| {
            f.code == code && f.resource.as_deref() == Some(resource) && f.target_id == target
        })
    }

    /// The role calling `action` on `resource`, as the request context shows it.
    fn role_request(&self, role: &Role, action: &str, resource: &str) -> Request {
        Request {
            caller: Caller::Aws {
                arn: role.arn.clone(),
                account: self.account().to_string(),
            },
            action: action.into(),
            resource: Some(resource.into()),
            context: principal_context(role, self.account()),
        }
    }

    /// An organisation policy's statement that weighs on the request but whose condition
    /// could not be judged (a key not known offline, as a resource tag): a Deny, or an SCP
    /// level's only Allow. No finding carries it, and silence would read as "allowed", so
    /// it is said in `notEvaluated`.
    fn note_unjudged_org(&mut self, kind: &str, what: &str, unknown: &[NotEvaluated]) {
        for n in unknown {
            let statement = n.to_string();
            let statement = statement.trim_start_matches("not evaluated: ");
            let note = match n.effect {
                Effect::Deny => format!("{kind} {statement}; it may deny {what}"),
                Effect::Allow => format!("{kind} {statement}; it is its level's only Allow, so unless it applies the level denies {what}"),
            };
            if !self.out().1.contains(&note) {
                self.out().1.push(note);
            }
        }
    }

    /// An organisation policy that blocks: one finding per level and code, so a level that
    /// blocks several calls (the trust, a queue, a key) says each of them in that finding.
    fn org_block_finding(
        &mut self,
        code: Code,
        level: &str,
        what: &str,
        (message, fix): (String, String),
        unknown: &[NotEvaluated],
    ) {
        let same_level = self.finding_at(code, level);
        // The statement (or the level's missing Allow) the message names, before the call.
        let statement = message.split(" denies ").next().unwrap_or(&message);
        match same_level {
            Some(f) => {
                if !f.message.contains(what) {
                    let more = if f.message.starts_with(statement) {
                        format!(" It also denies {what}.")
                    } else {
                        format!(" Also: {message}")
                    };
                    f.message.push_str(&more);
                }
                if !f.remediation.contains(&fix) {
                    f.remediation.push_str(&format!("\nAlso: {fix}"));
                }
            }
            None => self.finding(code, level, message, fix),
        }
        // Said with the call it weighs on: one finding may carry several calls.
        let notes: Vec<String> = unknown
            .iter()
            .map(|n| format!("{n} (for {what})"))
            .collect();
        if let Some(f) = self.finding_at(code, level) {
            for note in notes {
                if !f.not_evaluated.contains(&note) {
                    f.not_evaluated.push(note);
                }
            }
        }
    }

    /// The request context organisation policies see: what this engine knows, and the keys
    /// whose value it cannot know offline marked unknown (so a condition on them is reported
    /// as not evaluated instead of being judged as if the key were absent).
    fn org_context(&self, base: &Context, service_principal: bool) -> Context {
        let mut ctx = base.clone();
        let org_id = self
            .snapshot()
            .organization
            .as_ref()
            .and_then(|o| o.id.clone());
        let region = Arn::parse(self.invoker().source_arn)
            .map(|a| a.region)
            .unwrap_or_default();
        ctx = ctx
            .with("aws:ResourceAccount", self.account())
            .with("aws:PrincipalIsAWSService", service_principal.to_string());
        if !region.is_empty() {
            ctx = ctx.with("aws:RequestedRegion", region);
        }
        if service_principal {
            ctx = ctx.with("aws:PrincipalServiceName", self.invoker().service);
        }
        let org_keys: &[&str] = if service_principal {
            &["aws:SourceOrgID", "aws:ResourceOrgID"]
        } else {
            &["aws:PrincipalOrgID", "aws:ResourceOrgID"]
        };
        for key in org_keys {
            ctx = match &org_id {
                Some(id) => ctx.with(key, id.clone()),
                None => ctx.with_unknown(key),
            };
        }
        for key in [
            "aws:PrincipalOrgPaths",
            "aws:ResourceOrgPaths",
            "aws:SourceOrgPaths",
            "aws:PrincipalTag/",
            "aws:ResourceTag/",
            "aws:RequestTag/",
            "aws:TagKeys",
            "aws:SourceIp",
            "aws:SourceVpc",
            "aws:SourceVpce",
            "aws:VpcSourceIp",
            "aws:ViaAWSService",
            "aws:CalledVia",
            "aws:CalledViaFirst",
            "aws:CalledViaLast",
            "aws:CurrentTime",
            "aws:EpochTime",
            "aws:userid",
        ] {
            ctx = ctx.with_unknown(key);
        }
        ctx
    }

    /// SCPs limit what the target's role may do (EventBridge itself, a service principal,
    /// is not subject to them).
    fn check_service_control(&mut self, role: &Role, request: &Request, what: &str) {
        let snapshot = self.snapshot();
        let Some(org) = &snapshot.organization else {
            return;
        };
        if org.service_control.is_empty() || role.arn.contains(":role/aws-service-role/") {
            return;
        }
        let request = Request {
            context: self.org_context(&request.context, false),
            ..request.clone()
        };
        let (blocks, unknown) = org_blocks(&org.service_control, &request, Layer::Scp);
        let Some(block) = blocks.first() else {
            self.note_unjudged_org(
                "service control policy",
                &format!("role {} {what}", role.name),
                &unknown,
            );
            return;
        };
        let text = org_block_text(
            "service control policy",
            "p-FullAWSAccess",
            block,
            &org.service_control,
            &format!("role {} {what}", role.name),
            &format!(
                "an exception for this role in its Condition (ArnNotLike aws:PrincipalArn {})",
                role.arn
            ),
        );
        let level = block.level.clone();
        let what = format!("role {} {what}", role.name);
        self.org_block_finding(
            Code::ServiceControlPolicyBlocks,
            &level,
            &what,
            text,
            &unknown,
        );
    }

    /// RCPs limit what anyone, AWS services included, may do to the account's resources.
    /// True when they block.
    fn check_resource_control(&mut self, request: &Request, what: &str) -> bool {
        let snapshot = self.snapshot();
        let Some(org) = &snapshot.organization else {
            return false;
        };
        if org.resource_control.is_empty() || !request::rcp_applies_to(&request.action) {
            return false;
        }
        let request = Request {
            context: self.org_context(
                &request.context,
                matches!(request.caller, Caller::Service(_)),
            ),
            ..request.clone()
        };
        let (blocks, unknown) = org_blocks(&org.resource_control, &request, Layer::Rcp);
        let Some(block) = blocks.first() else {
            self.note_unjudged_org("resource control policy", what, &unknown);
            return false;
        };
        // A role calls as itself: aws:SourceAccount is set only for a service principal.
        let exception = match &request.caller {
            Caller::Aws { arn, .. } => format!(
                "an exception for role {arn} in its Condition (ArnNotLike aws:PrincipalArn {arn})"
            ),
            // A Deny applies while every condition holds: this one fails for this account.
            _ => format!(
                "an exception for {} acting for this account in its Condition (StringNotEqualsIfExists aws:SourceAccount {})",
                self.invoker().name,
                self.account()
            ),
        };
        let text = org_block_text(
            "resource control policy",
            "p-RCPFullAWSAccess",
            block,
            &org.resource_control,
            what,
            &exception,
        );
        let level = block.level.clone();
        self.org_block_finding(
            Code::ResourceControlPolicyBlocks,
            &level,
            what,
            text,
            &unknown,
        );
        true
    }
}

/// What the role's own calls carry: who it is, in which account.
fn principal_context(role: &Role, account: &str) -> Context {
    // The invoker calls with a session of the role it assumed.
    Context::new()
        .with("aws:PrincipalArn", role.arn.clone())
        .with("aws:PrincipalAccount", account)
        .with("aws:PrincipalType", "AssumedRole")
}
