//! `simulate --request FILE`: the evaluator on its own, for one request or a list of them.
//! Pure: text in, results out; the command in `main.rs` reads the file and prints.
//!
//! Input: `{"request": {"action", "resource": {"resource", "accountId"}, "principal",
//! "context"}, "identityPolicies": [...], "resourcePolicy": {...}, "permissionBoundaries":
//! [...], "sessionPolicy": {...}, "serviceControlPolicies": [{"orgIdentifier", "policies"}],
//! "resourceControlPolicies": [...]}`, or a list of such objects, each with a `name`.

use serde_json::{json, Value};

use crate::iam::eval::{Context, Decision};
use crate::iam::policy::{Effect, PolicyDocument, PolicyError};
use crate::iam::request::{evaluate, Named, OrgLevel, Outcome, Policies, Principal, Question};
use crate::input::{self, InputError};

/// One evaluated request.
#[derive(Clone, Debug)]
pub struct Simulated {
    pub name: Option<String>,
    pub outcome: Outcome,
}

impl Simulated {
    pub fn response(&self) -> &'static str {
        match self.outcome.decision {
            Decision::Allow => "Allowed",
            Decision::ExplicitDeny => "ExplicitlyDenied",
            Decision::ImplicitDeny => "ImplicitlyDenied",
        }
    }

    pub fn to_json(&self) -> Value {
        let o = &self.outcome;
        let mut v = json!({
            "response": self.response(),
            "blockedBy": o.blocked_by.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
            "explain": o.explain.iter().map(|d| {
                let mut e = json!({
                    "policyType": d.layer.as_str(),
                    "policy": d.statement.policy,
                    "statement": d.statement.index,
                    "effect": effect(d.effect),
                });
                if let Some(sid) = &d.statement.sid {
                    e["sid"] = json!(sid);
                }
                e
            }).collect::<Vec<_>>(),
        });
        if let Some(name) = &self.name {
            v["name"] = json!(name);
        }
        if !o.not_evaluated.is_empty() {
            v["notEvaluated"] = o
                .not_evaluated
                .iter()
                .map(|(layer, n)| {
                    json!({
                        "policyType": layer.as_str(),
                        "policy": n.statement.policy,
                        "statement": n.statement.index,
                        "effect": effect(n.effect),
                        "condition": {"operator": n.condition.operator, "key": n.condition.key, "values": n.condition.values},
                        "reason": n.reason,
                    })
                })
                .collect();
        }
        if !o.org_levels_blocking.is_empty() && o.decision == Decision::ImplicitDeny {
            v["orgLevelsWithoutAllow"] = o
                .org_levels_blocking
                .iter()
                .map(|(layer, id)| json!({"policyType": layer.as_str(), "orgIdentifier": id}))
                .collect();
        }
        v
    }

    pub fn to_text(&self) -> String {
        let o = &self.outcome;
        let mut out = String::new();
        if let Some(name) = &self.name {
            out.push_str(&format!("{name}: "));
        }
        out.push_str(self.response());
        if !o.blocked_by.is_empty() {
            let by: Vec<_> = o.blocked_by.iter().map(|l| l.as_str()).collect();
            out.push_str(&format!(" (blocked by: {})", by.join(", ")));
        }
        out.push('\n');
        for d in &o.explain {
            out.push_str(&format!(
                "  {} by {} {}.Statement[{}]{}\n",
                if d.effect == Effect::Allow {
                    "allowed"
                } else {
                    "denied"
                },
                d.layer.as_str(),
                d.statement.policy,
                d.statement.index,
                d.statement
                    .sid
                    .as_ref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default()
            ));
        }
        for (layer, id) in &o.org_levels_blocking {
            if o.decision == Decision::ImplicitDeny {
                out.push_str(&format!(
                    "  no {} at level {id} allows the action\n",
                    layer.as_str()
                ));
            }
        }
        for (layer, n) in &o.not_evaluated {
            out.push_str(&format!("  {} ({})\n", n, layer.as_str()));
        }
        out
    }
}

fn effect(e: Effect) -> &'static str {
    match e {
        Effect::Allow => "Allow",
        Effect::Deny => "Deny",
    }
}

/// Parses and evaluates a file's text: one request object, or a list of them.
/// Returns whether the input was a list (its output is a list too).
pub fn simulate(text: &str) -> Result<(bool, Vec<Simulated>), InputError> {
    let root = input::parse_json(text, "$")?;
    match &root {
        // Nothing evaluated is not "every request allowed".
        Value::Array(items) if items.is_empty() => Err(InputError::new(
            "$",
            "an empty list: no request to evaluate",
        )),
        Value::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let path = format!("$[{i}]");
                input::object(item, &path)?;
                let name =
                    input::optional_string(item, "name", &path)?.unwrap_or_else(|| format!("#{i}"));
                let (question, policies) = parse_case(item, &path)?;
                out.push(Simulated {
                    name: Some(name),
                    outcome: evaluate(&question, &policies),
                });
            }
            Ok((true, out))
        }
        Value::Object(_) => {
            let name = input::optional_string(&root, "name", "$")?;
            let (question, policies) = parse_case(&root, "$")?;
            Ok((
                false,
                vec![Simulated {
                    name,
                    outcome: evaluate(&question, &policies),
                }],
            ))
        }
        other => Err(InputError::expected(
            "$",
            "an object with \"request\", or a list of them",
            other,
        )),
    }
}

/// The keys of one request object. `doc`, `expect`, `description` and `comment` are
/// annotations (a test suite's expected answer, the page it cites), read by people only.
const CASE_KEYS: &[&str] = &[
    "request",
    "name",
    "identityPolicies",
    "resourcePolicy",
    "permissionBoundaries",
    "sessionPolicy",
    "serviceControlPolicies",
    "resourceControlPolicies",
    "doc",
    "expect",
    "description",
    "comment",
];

/// One request object: the question and its policies.
pub fn parse_case(v: &Value, path: &str) -> Result<(Question, Policies), InputError> {
    input::known_keys(v, CASE_KEYS, path)?;
    let r = input::required(v, "request", path)?;
    let rpath = format!("{path}.request");
    input::object(r, &rpath)?;
    input::known_keys(
        r,
        &[
            "action",
            "resource",
            "principal",
            "context",
            "contextVariables",
        ],
        &rpath,
    )?;
    let action = input::required_string(r, "action", &rpath)?;
    if !action.contains(':') {
        return Err(InputError::new(
            format!("{rpath}.action"),
            format!("expected service:Action, got {action:?}"),
        ));
    }
    let res = input::required(r, "resource", &rpath)?;
    let res_path = format!("{rpath}.resource");
    input::object(res, &res_path)?;
    input::known_keys(res, &["resource", "accountId"], &res_path)?;
    let resource = input::required_string(res, "resource", &res_path)?;
    let resource_account = input::optional_string(res, "accountId", &res_path)?;
    let principal_text = input::required_string(r, "principal", &rpath)?;
    let principal = Principal::parse(&principal_text).ok_or_else(|| {
        InputError::new(
            format!("{rpath}.principal"),
            format!("expected an IAM ARN with an account, a 12-digit account ID or a service principal such as events.amazonaws.com, got {principal_text:?}"),
        )
    })?;
    let mut context = Context::new();
    // `contextVariables` is the same thing under the name other simulators use.
    let context_key =
        if input::field(r, "context").is_none() && input::field(r, "contextVariables").is_some() {
            "contextVariables"
        } else {
            "context"
        };
    if let Some(map) = input::optional_object(r, context_key, &rpath)? {
        for (key, value) in map {
            let kpath = format!("{rpath}.{context_key}[{key:?}]");
            match value {
                Value::String(s) => context = context.with(key, s.clone()),
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let s = item.as_str().ok_or_else(|| {
                            InputError::expected(format!("{kpath}[{i}]"), "a string", item)
                        })?;
                        context = context.with(key, s);
                    }
                }
                other => {
                    return Err(InputError::expected(
                        kpath,
                        "a string or a list of strings",
                        other,
                    ))
                }
            }
        }
    }
    let policy_list = |key: &str| -> Result<Vec<Named>, InputError> {
        input::optional_list(v, key, path)?
            .iter()
            .enumerate()
            .map(|(i, p)| policy(p, &format!("{path}.{key}[{i}]"), &format!("{key}[{i}]")))
            .collect()
    };
    let single = |key: &str| -> Result<Option<Named>, InputError> {
        input::field(v, key)
            .map(|p| policy(p, &format!("{path}.{key}"), key))
            .transpose()
    };
    let org = |key: &str| -> Result<Vec<OrgLevel>, InputError> {
        let mut levels = Vec::new();
        for (i, level) in input::optional_list(v, key, path)?.iter().enumerate() {
            let lpath = format!("{path}.{key}[{i}]");
            input::object(level, &lpath)?;
            input::known_keys(level, &["orgIdentifier", "policies"], &lpath)?;
            let id = input::required_string(level, "orgIdentifier", &lpath)?;
            let policies = input::optional_list(level, "policies", &lpath)?
                .iter()
                .enumerate()
                .map(|(j, p)| {
                    policy(
                        p,
                        &format!("{lpath}.policies[{j}]"),
                        &format!("{key}[{i}].policies[{j}]"),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            levels.push(OrgLevel { id, policies });
        }
        Ok(levels)
    };
    let policies = Policies {
        identity: policy_list("identityPolicies")?,
        resource: single("resourcePolicy")?,
        boundary: policy_list("permissionBoundaries")?,
        session: single("sessionPolicy")?,
        service_control: org("serviceControlPolicies")?,
        resource_control: org("resourceControlPolicies")?,
    };
    Ok((
        Question {
            principal,
            action,
            resource,
            resource_account,
            context,
        },
        policies,
    ))
}

/// A policy document given as an object; its problems reported at their path.
/// Also accepts a named wrapper, `{"name": "…", "policy": {document}}`, as some suites write
/// policies; the name then reports it.
fn policy(v: &Value, path: &str, name: &str) -> Result<Named, InputError> {
    input::object(v, path)?;
    if input::field(v, "policy").is_some() && input::field(v, "Statement").is_none() {
        input::known_keys(v, &["name", "policy"], path)?;
        let own = input::optional_string(v, "name", path)?;
        let inner = policy(&v["policy"], &format!("{path}.policy"), name)?;
        return Ok(Named {
            name: own.unwrap_or(inner.name),
            ..inner
        });
    }
    let document = PolicyDocument::parse(v).map_err(|e| match e {
        PolicyError::BadStatement { index, problem } => {
            InputError::new(format!("{path}.Statement[{index}]"), problem)
        }
        PolicyError::StatementNotList(got) => InputError::new(
            format!("{path}.Statement"),
            crate::iam::policy::statement_not_list(&got),
        ),
        PolicyError::NoStatement => InputError::new(
            format!("{path}.Statement"),
            "missing (a policy needs statements)",
        ),
        other => InputError::new(path, other.to_string()),
    })?;
    Ok(Named {
        name: name.to_string(),
        id: None,
        document,
    })
}

/// The command's whole job without I/O: output text and exit code (0 every request allowed,
/// 1 one denied, 2 unusable input, with the error on the second string).
pub fn run(text: &str, json_output: bool) -> (u8, String, String) {
    match simulate(text) {
        Err(e) => (2, String::new(), format!("error: unusable request: {e}\n")),
        Ok((list, results)) => {
            let code = if results
                .iter()
                .all(|r| r.outcome.decision == Decision::Allow)
            {
                0
            } else {
                1
            };
            let out = if json_output {
                let v = if list {
                    Value::Array(results.iter().map(Simulated::to_json).collect())
                } else {
                    results[0].to_json()
                };
                format!(
                    "{}\n",
                    serde_json::to_string_pretty(&v).unwrap_or_else(|e| format!("\"{e}\""))
                )
            } else {
                results.iter().map(Simulated::to_text).collect()
            };
            (code, out, String::new())
        }
    }
}
