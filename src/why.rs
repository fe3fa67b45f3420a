//! `kubectl ebi why NAME`: an integration's status read for a person — whether it works,
//! every condition that is not as it should be, each finding with its exact fix, and what
//! could not be evaluated. Pure: the object in, text out (coloured when asked); the command
//! in `main.rs` reads the object.

use std::fmt::Write as _;

use crate::api::{condition, EventBridgeIntegration};
use crate::diagnose::Severity;

/// ANSI styles, or none (a pipe, a file, `NO_COLOR`).
#[derive(Clone, Copy, Debug)]
pub struct Style {
    colour: bool,
}

impl Style {
    pub fn new(colour: bool) -> Style {
        Style { colour }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(self, t: &str) -> String {
        self.paint("1", t)
    }
    fn red(self, t: &str) -> String {
        self.paint("1;31", t)
    }
    fn yellow(self, t: &str) -> String {
        self.paint("1;33", t)
    }
    fn green(self, t: &str) -> String {
        self.paint("1;32", t)
    }
    fn dim(self, t: &str) -> String {
        self.paint("2", t)
    }
}

/// The verdict of `why`, for its exit status: 0 works, 1 does not (or not yet), as `diagnose`.
pub fn works(obj: &EventBridgeIntegration) -> bool {
    obj.status.as_ref().is_some_and(|s| {
        s.condition(condition::READY)
            .is_some_and(|c| c.status == "True")
            && !s.findings.iter().any(|f| f.severity == Severity::Error)
    })
}

/// The report.
pub fn explain(obj: &EventBridgeIntegration, style: Style) -> String {
    let mut out = String::new();
    let namespace = obj.metadata.namespace.as_deref().unwrap_or("default");
    let name = obj.metadata.name.as_deref().unwrap_or("");
    let _ = writeln!(out, "{}", style.bold(&format!("{namespace}/{name}")));
    let Some(status) = &obj.status else {
        let _ = writeln!(
            out,
            "{} the controller has not reported on it yet: is it running, and does it watch namespace {namespace}?",
            style.yellow("Pending:")
        );
        return out;
    };
    if let Some(rule) = &status.rule_arn {
        let _ = writeln!(out, "  rule    {rule}");
    }
    if let Some(schedule) = &status.schedule_arn {
        let _ = writeln!(out, "  schedule {schedule}");
    }
    if let Some(role) = &status.role_arn {
        let _ = writeln!(out, "  role    {role}");
    }
    if let Some(kind) = &status.target_kind {
        let _ = writeln!(
            out,
            "  target  {kind} (id {})",
            status.target_id.as_deref().unwrap_or("-")
        );
    }
    let generation = obj.metadata.generation;
    if status.observed_generation.is_some() && status.observed_generation != generation {
        let _ = writeln!(
            out,
            "  {}",
            style.yellow(&format!(
                "status describes generation {}, the object is at {}: the controller has not looked at the latest change yet",
                status.observed_generation.unwrap_or_default(),
                generation.unwrap_or_default()
            ))
        );
    }
    out.push('\n');
    let verdict = if works(obj) {
        style.green("Works:")
    } else {
        style.red("Does not work:")
    };
    match status.condition(condition::READY) {
        Some(ready) => {
            let _ = writeln!(out, "{verdict} Ready={} {}", ready.status, ready.reason);
            if !ready.message.is_empty() {
                let _ = writeln!(out, "  {}", ready.message);
            }
        }
        None => {
            let _ = writeln!(out, "{verdict} no Ready condition yet");
        }
    }
    let off: Vec<_> = status
        .conditions
        .iter()
        .filter(|c| c.type_ != condition::READY)
        .filter(|c| {
            // The kstatus pair is "off" when Stalled or Reconciling is True; the others when False.
            let abnormal = matches!(
                c.type_.as_str(),
                condition::STALLED | condition::RECONCILING
            );
            (c.status == "True") == abnormal
        })
        .collect();
    if !off.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Conditions"));
        for c in off {
            let _ = writeln!(out, "  {}={} {}", c.type_, c.status, style.dim(&c.reason));
            if !c.message.is_empty() {
                let _ = writeln!(out, "    {}", c.message);
            }
        }
    }
    if !status.findings.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Findings"));
        for f in &status.findings {
            let label = match f.severity {
                Severity::Error => style.red("ERROR"),
                Severity::Warning => style.yellow("WARNING"),
            };
            let target = f
                .target_id
                .as_deref()
                .map(|t| format!(" target {t}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {label} {}{target} {}",
                style.bold(f.code.as_str()),
                f.resource.as_deref().unwrap_or("")
            );
            let _ = writeln!(out, "    {}", f.message);
            for (i, line) in f.remediation.lines().enumerate() {
                let lead = if i == 0 { "Fix: " } else { "     " };
                let _ = writeln!(out, "    {}{line}", style.dim(lead));
            }
            for note in &f.not_evaluated {
                let _ = writeln!(out, "    Note: {note}");
            }
        }
    }
    if !status.not_evaluated.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Not evaluated"));
        for note in &status.not_evaluated {
            let _ = writeln!(out, "  {note}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(status: serde_json::Value) -> EventBridgeIntegration {
        serde_json::from_value(json!({
            "apiVersion": "eventbridge.dev/v1alpha1", "kind": "EventBridgeIntegration",
            "metadata": {"name": "orders", "namespace": "team-a", "generation": 2},
            "spec": {"rule": {"eventPattern": {"source": ["x"]}},
                     "target": {"stepFunctions": {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:p"}}},
            "status": status,
        }))
        .unwrap()
    }

    fn condition(type_: &str, status: &str, reason: &str, message: &str) -> serde_json::Value {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "lastTransitionTime": "2026-12-04T00:00:00Z", "observedGeneration": 2})
    }

    #[test]
    fn a_broken_integration_names_each_cause_and_its_fix() {
        let obj = object(json!({
            "observedGeneration": 2,
            "ruleArn": "arn:aws:events:us-east-1:123456789012:rule/orders",
            "conditions": [
                condition("Ready", "False", "PassRoleMissing", "an invocation would be AccessDenied"),
                condition("RoleReady", "True", "InSync", ""),
                condition("AccessVerified", "False", "PassRoleMissing", "role r may not pass exec"),
                condition("Stalled", "True", "PassRoleMissing", "a person must act"),
                condition("Reconciling", "False", "PassRoleMissing", ""),
            ],
            "findings": [{"code": "PassRoleMissing", "severity": "error", "targetId": "1",
                          "resource": "arn:aws:iam::123456789012:role/exec",
                          "message": "Role r is not allowed iam:PassRole on exec.",
                          "remediation": "aws iam put-role-policy …\nsecond line"}],
            "notEvaluated": ["SCPs: not readable"],
        }));
        assert!(!works(&obj));
        let text = explain(&obj, Style::new(false));
        assert!(
            text.contains("Does not work: Ready=False PassRoleMissing"),
            "{text}"
        );
        assert!(
            text.contains("ERROR PassRoleMissing target 1 arn:aws:iam::123456789012:role/exec"),
            "{text}"
        );
        assert!(
            text.contains("    Fix: aws iam put-role-policy …\n         second line"),
            "{text}"
        );
        assert!(
            text.contains("AccessVerified=False") && text.contains("Stalled=True"),
            "{text}"
        );
        assert!(
            !text.contains("RoleReady") && !text.contains("Reconciling=False"),
            "only what is off: {text}"
        );
        assert!(
            text.contains("Not evaluated\n  SCPs: not readable"),
            "{text}"
        );
        assert!(!text.contains('\x1b'), "no colour when not asked");
        assert!(explain(&obj, Style::new(true)).contains("\x1b[1;31mERROR\x1b[0m"));
    }

    #[test]
    fn a_working_one_says_so_and_a_silent_controller_is_named() {
        let ok = object(
            json!({"observedGeneration": 2, "conditions": [condition("Ready", "True", "InSync", "")]}),
        );
        assert!(works(&ok));
        assert!(explain(&ok, Style::new(false)).contains("Works: Ready=True InSync"));
        let mut stale = ok.clone();
        stale.metadata.generation = Some(3);
        assert!(
            explain(&stale, Style::new(false)).contains("has not looked at the latest change yet")
        );
        let mut pending = ok;
        pending.status = None;
        assert!(!works(&pending));
        assert!(explain(&pending, Style::new(false)).contains("has not reported on it yet"));
    }
}
