//! A target invoked through a role: the role exists, trusts EventBridge for this rule, may
//! do what the target needs (ECS: run the task and pass its roles), names no malformed
//! policy ARN, and grants nothing on "*" it should not.

use super::*;

impl TargetCheck<'_> {
    pub(super) fn check_role_target(&mut self, arn: &Arn) {
        let t = self.target;
        let Some(role) = self.target_role(&required_action(arn)) else {
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
        match arn.service.as_str() {
            "ecs" => {
                let task_definition_arn = t.task_definition_arn.clone().unwrap_or_default();
                let to_pass = match task_definition {
                    Some(td) => td.roles_to_pass(),
                    None => self.expect.pass_role_arns.clone(),
                };
                self.check_run_task(role, &t.arn, &task_definition_arn, to_pass);
            }
            _ => {
                for (action, code) in target_actions(arn) {
                    self.check_action(
                        role,
                        action,
                        code,
                        &t.arn,
                        &format!("{action} on {}", t.arn),
                    );
                }
            }
        }
        self.check_broad_statements(role);
    }
}
