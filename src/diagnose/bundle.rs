//! `diagnose --bundle FILE`: a snapshot pasted from the AWS CLI. Each part is exactly what
//! the named CLI command prints, so anyone can gather it from their account:
//! `rule` = `aws events describe-rule`, `targets` = `aws events list-targets-by-rule`,
//! `roles[]` = `{"Role": aws iam get-role .Role, "RolePolicies": [aws iam get-role-policy …],
//! "AttachedPolicies": [{"PolicyArn", "Document"}], "PermissionsBoundary": {"PolicyArn", "Document"}}`,
//! `lambdaPolicies` = `{function ARN: aws lambda get-policy}`,
//! `taskDefinitions` = `{ARN: aws ecs describe-task-definition}`, `chains` = `[{"from", "to"}]`,
//! and optionally `expectTargetId`: check only that target, and report it if it is missing.

use std::collections::BTreeMap;

use serde_json::Value;

use super::snapshot::{Chain, Expectations, Role, Rule, Snapshot, Target, TaskDefinition};
use crate::iam::PolicyDocument;

/// Unusable input, with the JSON path of the problem.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct BundleError {
    pub path: String,
    pub problem: String,
}

fn err(path: impl Into<String>, problem: impl Into<String>) -> BundleError {
    BundleError {
        path: path.into(),
        problem: problem.into(),
    }
}

fn string_at(v: &Value, key: &str, path: &str) -> Result<String, BundleError> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(err(
            format!("{path}.{key}"),
            format!("expected a string, got {other}"),
        )),
        None => Err(err(format!("{path}.{key}"), "missing")),
    }
}

fn opt_string(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A policy document must parse; a bad one is the user's input error, reported with its path.
fn document(v: Option<&Value>, path: &str) -> Result<Value, BundleError> {
    let v = v.ok_or_else(|| err(path, "missing"))?;
    PolicyDocument::parse(v).map_err(|e| err(path, e.to_string()))?;
    Ok(v.clone())
}

pub fn parse_bundle(text: &str) -> Result<(Snapshot, Expectations), BundleError> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| err("bundle", format!("not JSON: {e}")))?;
    if !root.is_object() {
        return Err(err(
            "bundle",
            "expected an object with rule, targets, roles, …",
        ));
    }
    let rule = match root.get("rule") {
        None | Some(Value::Null) => None,
        Some(r) => Some(Rule {
            name: string_at(r, "Name", "bundle.rule")?,
            arn: string_at(r, "Arn", "bundle.rule")?,
            event_bus_name: opt_string(r, "EventBusName").unwrap_or_else(|| "default".into()),
            enabled: opt_string(r, "State").is_none_or(|s| s.starts_with("ENABLED")),
        }),
    };
    let targets_value = match root.get("targets") {
        None | Some(Value::Null) => Value::Array(vec![]),
        Some(Value::Array(a)) => Value::Array(a.clone()),
        Some(obj) => obj.get("Targets").cloned().ok_or_else(|| {
            err(
                "bundle.targets",
                "expected the output of `aws events list-targets-by-rule` ({\"Targets\": [...]})",
            )
        })?,
    };
    let mut targets = Vec::new();
    for (i, t) in targets_value
        .as_array()
        .ok_or_else(|| err("bundle.targets.Targets", "expected a list"))?
        .iter()
        .enumerate()
    {
        let path = format!("bundle.targets.Targets[{i}]");
        targets.push(Target {
            id: string_at(t, "Id", &path)?,
            arn: string_at(t, "Arn", &path)?,
            role_arn: opt_string(t, "RoleArn"),
            task_definition_arn: t
                .get("EcsParameters")
                .and_then(|e| opt_string(e, "TaskDefinitionArn")),
            dead_letter_arn: t.get("DeadLetterConfig").and_then(|d| opt_string(d, "Arn")),
        });
    }
    let mut roles = BTreeMap::new();
    for (i, r) in root
        .get("roles")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = format!("bundle.roles[{i}]");
        let role = r.get("Role").ok_or_else(|| {
            err(
                format!("{path}.Role"),
                "missing (the \"Role\" of `aws iam get-role`)",
            )
        })?;
        let arn = string_at(role, "Arn", &format!("{path}.Role"))?;
        let name = opt_string(role, "RoleName").unwrap_or_else(|| super::remedy::role_name(&arn));
        let trust_policy = document(
            role.get("AssumeRolePolicyDocument"),
            &format!("{path}.Role.AssumeRolePolicyDocument"),
        )?;
        let mut inline_policies = BTreeMap::new();
        for (j, p) in r
            .get("RolePolicies")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let ppath = format!("{path}.RolePolicies[{j}]");
            inline_policies.insert(
                string_at(p, "PolicyName", &ppath)?,
                document(p.get("PolicyDocument"), &format!("{ppath}.PolicyDocument"))?,
            );
        }
        let mut attached_policies = BTreeMap::new();
        for (j, p) in r
            .get("AttachedPolicies")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let ppath = format!("{path}.AttachedPolicies[{j}]");
            attached_policies.insert(
                string_at(p, "PolicyArn", &ppath)?,
                document(p.get("Document"), &format!("{ppath}.Document"))?,
            );
        }
        let permissions_boundary = match r.get("PermissionsBoundary") {
            None | Some(Value::Null) => None,
            Some(b) => Some((
                string_at(b, "PolicyArn", &format!("{path}.PermissionsBoundary"))?,
                document(
                    b.get("Document"),
                    &format!("{path}.PermissionsBoundary.Document"),
                )?,
            )),
        };
        roles.insert(
            arn.clone(),
            Role {
                arn,
                name,
                trust_policy,
                inline_policies,
                attached_policies,
                permissions_boundary,
            },
        );
    }
    let mut lambda_policies = BTreeMap::new();
    if let Some(map) = root.get("lambdaPolicies").and_then(Value::as_object) {
        for (arn, p) in map {
            let path = format!("bundle.lambdaPolicies[{arn}]");
            // `aws lambda get-policy` prints {"Policy": "<JSON text>", "RevisionId": …}.
            let doc = p.get("Policy").unwrap_or(p);
            lambda_policies.insert(arn.clone(), document(Some(doc), &format!("{path}.Policy"))?);
        }
    }
    let mut task_definitions = BTreeMap::new();
    if let Some(map) = root.get("taskDefinitions").and_then(Value::as_object) {
        for (arn, td) in map {
            let path = format!("bundle.taskDefinitions[{arn}]");
            let td = td.get("taskDefinition").ok_or_else(|| {
                err(
                    format!("{path}.taskDefinition"),
                    "missing (the output of `aws ecs describe-task-definition`)",
                )
            })?;
            let real_arn = opt_string(td, "taskDefinitionArn").unwrap_or_else(|| arn.clone());
            let entry = TaskDefinition {
                arn: real_arn,
                execution_role_arn: opt_string(td, "executionRoleArn"),
                task_role_arn: opt_string(td, "taskRoleArn"),
            };
            task_definitions.insert(arn.clone(), entry);
        }
    }
    let mut chains = Vec::new();
    for (i, c) in root
        .get("chains")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let path = format!("bundle.chains[{i}]");
        chains.push(Chain {
            from: string_at(c, "from", &path)?,
            to: string_at(c, "to", &path)?,
        });
    }
    let expect = Expectations {
        target_id: match root.get("expectTargetId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(err(
                    "bundle.expectTargetId",
                    format!("expected a target ID string, got {other}"),
                ))
            }
        },
        ..Default::default()
    };
    Ok((
        Snapshot {
            rule,
            targets,
            roles,
            lambda_policies,
            task_definitions,
            chains,
        },
        expect,
    ))
}
