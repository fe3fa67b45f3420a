//! The IAM policy language as data: parsing every shape AWS hands back, and a canonical
//! form so two documents that mean the same compare equal (ACK's endless-update bug came
//! from comparing policy text).

use percent_encoding::percent_decode_str;
use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy document is not JSON: {0}")]
    NotJson(String),
    #[error("policy document has no Statement")]
    NoStatement,
    #[error("Statement: {}", statement_not_list(.0))]
    StatementNotList(String),
    #[error("statement {index}: {problem}")]
    BadStatement { index: usize, problem: String },
    /// A key that is no element of the policy grammar, e.g. `Statment`.
    #[error("{0}")]
    UnknownElement(String),
}

/// The elements of a policy document and of a statement (IAM JSON policy reference). AWS
/// refuses any other; ignoring one would drop what it says (a misspelt `Condition` would
/// make a conditional grant unconditional).
const DOCUMENT_ELEMENTS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// The first key of `value` that is none of `known` (in any case, as [`get_ci`] reads them),
/// named with the nearest known one.
fn unknown_element(value: &Value, known: &[&str]) -> Option<String> {
    value
        .as_object()?
        .keys()
        .find(|k| !known.iter().any(|e| e.eq_ignore_ascii_case(k)))
        .map(|k| crate::input::unknown_key(k, known))
}

/// The problem of a `Statement` that is neither a list nor an object, without its path.
pub fn statement_not_list(got: &str) -> String {
    format!("expected a list of statements or one statement object, got {got}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: a list of patterns, maybe negated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matcher {
    pub negated: bool,
    pub patterns: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalKind {
    Aws,
    Service,
    Federated,
    CanonicalUser,
}

/// `Principal`/`NotPrincipal`. `any` is the bare `"*"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrincipalMatcher {
    pub negated: bool,
    pub any: bool,
    pub entries: Vec<(PrincipalKind, String)>,
}

/// One `"Operator": {"key": [values]}` pair of a `Condition` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<PrincipalMatcher>,
    pub action: Matcher,
    pub resource: Option<Matcher>,
    pub conditions: Vec<Condition>,
    /// Whether `${…}` policy variables are replaced: only under `"Version": "2012-10-17"`.
    /// Without a Version (which defaults to 2008-10-17) they are literal text.
    pub variables: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

impl PolicyDocument {
    /// Accepts an object, a JSON string, or a URL-encoded JSON string (what IAM's API returns).
    pub fn parse(value: &Value) -> Result<PolicyDocument, PolicyError> {
        match value {
            Value::String(text) => PolicyDocument::parse_str(text),
            Value::Object(_) => PolicyDocument::from_object(value),
            other => Err(PolicyError::NotJson(format!(
                "expected an object or a string, got {other}"
            ))),
        }
    }

    pub fn parse_str(text: &str) -> Result<PolicyDocument, PolicyError> {
        let decoded = decode_document_text(text);
        let value: Value =
            serde_json::from_str(&decoded).map_err(|e| PolicyError::NotJson(e.to_string()))?;
        if let Value::String(inner) = &value {
            // A JSON string holding JSON: the CLI's `--output json` of a string field.
            return PolicyDocument::parse_str(inner);
        }
        PolicyDocument::from_object(&value)
    }

    fn from_object(value: &Value) -> Result<PolicyDocument, PolicyError> {
        if let Some(problem) = unknown_element(value, DOCUMENT_ELEMENTS) {
            return Err(PolicyError::UnknownElement(problem));
        }
        // "If you do not include a Version element, the value defaults to 2008-10-17, and newer
        // features, such as policy variables, will not work" (IAM JSON policy elements: Version).
        let variables = get_ci(value, "Version").and_then(Value::as_str) == Some("2012-10-17");
        let statements = match get_ci(value, "Statement") {
            Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
            Some(single @ Value::Object(_)) => vec![single],
            None | Some(Value::Null) => return Err(PolicyError::NoStatement),
            Some(other) => return Err(PolicyError::StatementNotList(other.to_string())),
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(index, s)| {
                parse_statement(s, variables)
                    .map_err(|problem| PolicyError::BadStatement { index, problem })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PolicyDocument { statements })
    }

    /// A canonical JSON form: lists sorted and de-duplicated, single values as lists,
    /// case-insensitive parts (actions, condition keys, service principals) lower-cased,
    /// statements sorted. Two documents with equal canonical forms grant the same thing.
    pub fn canonical(&self) -> Value {
        let mut statements: Vec<Value> = self.statements.iter().map(canonical_statement).collect();
        statements.sort_by_key(|s| s.to_string());
        statements.dedup();
        json!({ "Statement": statements })
    }

    /// Semantic equality (see [`PolicyDocument::canonical`]).
    pub fn same_as(&self, other: &PolicyDocument) -> bool {
        self.canonical() == other.canonical()
    }
}

/// Two documents in any accepted shape mean the same; unparsable documents never match.
pub fn documents_equivalent(a: &Value, b: &Value) -> bool {
    match (PolicyDocument::parse(a), PolicyDocument::parse(b)) {
        (Ok(a), Ok(b)) => a.same_as(&b),
        _ => false,
    }
}

/// A policy document's JSON text as IAM's API returns it (URL-encoded) or as written.
pub fn decode_document_text(text: &str) -> String {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('"') {
        text.to_string()
    } else {
        // IAM encodes per RFC 3986: `%20` for space, never `+`, so `+` stays literal.
        percent_decode_str(text).decode_utf8_lossy().into_owned()
    }
}

/// Policy element names are case-sensitive in AWS's grammar, but real documents in the wild
/// (and hand-written bundles) vary; accept any case.
fn get_ci<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn string_list(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        Value::Number(n) => Ok(vec![n.to_string()]),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(b) => Ok(b.to_string()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(format!(
                    "expected a string or a list of strings, got a list holding {}",
                    crate::input::describe(other)
                )),
            })
            .collect(),
        other => Err(format!(
            "expected a string or a list of strings, got {other}"
        )),
    }
}

fn parse_statement(s: &Value, variables: bool) -> Result<Statement, String> {
    if !s.is_object() {
        return Err("a statement must be an object".into());
    }
    if let Some(problem) = unknown_element(s, STATEMENT_ELEMENTS) {
        return Err(problem);
    }
    let effect = match get_ci(s, "Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        None | Some(Value::Null) => {
            return Err("Effect is missing: it must be \"Allow\" or \"Deny\"".into())
        }
        Some(other) => {
            return Err(format!(
                "Effect must be \"Allow\" or \"Deny\", got {}",
                crate::input::describe(other)
            ))
        }
    };
    let action = match (get_ci(s, "Action"), get_ci(s, "NotAction")) {
        (Some(a), None) => Matcher {
            negated: false,
            patterns: string_list(a)?,
        },
        (None, Some(a)) => Matcher {
            negated: true,
            patterns: string_list(a)?,
        },
        _ => return Err("exactly one of Action or NotAction is required".into()),
    };
    let resource = match (get_ci(s, "Resource"), get_ci(s, "NotResource")) {
        (Some(r), None) => Some(Matcher {
            negated: false,
            patterns: string_list(r)?,
        }),
        (None, Some(r)) => Some(Matcher {
            negated: true,
            patterns: string_list(r)?,
        }),
        (None, None) => None,
        _ => return Err("Resource and NotResource are mutually exclusive".into()),
    };
    let principal = match (get_ci(s, "Principal"), get_ci(s, "NotPrincipal")) {
        (Some(p), None) => Some(parse_principal(p, false)?),
        (None, Some(p)) => Some(parse_principal(p, true)?),
        (None, None) => None,
        _ => return Err("Principal and NotPrincipal are mutually exclusive".into()),
    };
    let mut conditions = Vec::new();
    if let Some(block) = get_ci(s, "Condition") {
        let block = block.as_object().ok_or("Condition must be an object")?;
        for (operator, keys) in block {
            let keys = keys
                .as_object()
                .ok_or_else(|| format!("Condition operator {operator} must map keys to values"))?;
            for (key, values) in keys {
                conditions.push(Condition {
                    operator: operator.clone(),
                    key: key.clone(),
                    values: string_list(values)?,
                });
            }
        }
    }
    Ok(Statement {
        sid: match get_ci(s, "Sid") {
            None | Some(Value::Null) => None,
            Some(Value::String(sid)) => Some(sid.clone()),
            Some(other) => return Err(format!("Sid must be a string, got {other}")),
        },
        effect,
        principal,
        action,
        resource,
        conditions,
        variables,
    })
}

fn parse_principal(p: &Value, negated: bool) -> Result<PrincipalMatcher, String> {
    if p.as_str() == Some("*") {
        return Ok(PrincipalMatcher {
            negated,
            any: true,
            entries: vec![],
        });
    }
    // A bare string: some stores (and older Lambda policies) write the principal without its
    // type. A service name is a service principal; anything else an AWS principal.
    if let Some(bare) = p.as_str() {
        let kind = if bare.ends_with(".amazonaws.com") {
            PrincipalKind::Service
        } else {
            PrincipalKind::Aws
        };
        return Ok(PrincipalMatcher {
            negated,
            any: false,
            entries: vec![(kind, bare.to_string())],
        });
    }
    let map = p
        .as_object()
        .ok_or("Principal must be \"*\" or an object such as {\"Service\": …}")?;
    let mut entries = Vec::new();
    let mut any = false;
    for (kind, values) in map {
        let kind = match kind.to_ascii_lowercase().as_str() {
            "aws" => PrincipalKind::Aws,
            "service" => PrincipalKind::Service,
            "federated" => PrincipalKind::Federated,
            "canonicaluser" => PrincipalKind::CanonicalUser,
            other => return Err(format!("unknown principal type {other}")),
        };
        for v in string_list(values)? {
            if v == "*" && kind == PrincipalKind::Aws {
                any = true;
            }
            entries.push((kind, v));
        }
    }
    Ok(PrincipalMatcher {
        negated,
        any,
        entries,
    })
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

fn canonical_statement(s: &Statement) -> Value {
    let mut out = Map::new();
    out.insert(
        "Effect".into(),
        json!(if s.effect == Effect::Allow {
            "Allow"
        } else {
            "Deny"
        }),
    );
    let actions = sorted(
        s.action
            .patterns
            .iter()
            .map(|a| a.to_ascii_lowercase())
            .collect(),
    );
    out.insert(
        if s.action.negated {
            "NotAction"
        } else {
            "Action"
        }
        .into(),
        json!(actions),
    );
    if let Some(r) = &s.resource {
        out.insert(
            if r.negated { "NotResource" } else { "Resource" }.into(),
            json!(sorted(r.patterns.clone())),
        );
    }
    if let Some(p) = &s.principal {
        let value = if p.any && p.entries.is_empty() {
            json!("*")
        } else {
            let mut by_kind: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (kind, v) in &p.entries {
                let (name, v) = match kind {
                    PrincipalKind::Aws => ("AWS", v.clone()),
                    PrincipalKind::Service => ("Service", v.to_ascii_lowercase()),
                    PrincipalKind::Federated => ("Federated", v.clone()),
                    PrincipalKind::CanonicalUser => ("CanonicalUser", v.clone()),
                };
                by_kind.entry(name).or_default().push(v);
            }
            Value::Object(
                by_kind
                    .into_iter()
                    .map(|(name, items)| (name.to_string(), json!(sorted(items))))
                    .collect(),
            )
        };
        out.insert(
            if p.negated {
                "NotPrincipal"
            } else {
                "Principal"
            }
            .into(),
            value,
        );
    }
    if !s.conditions.is_empty() {
        let mut cond: Vec<Value> = s
            .conditions
            .iter()
            .map(|c| {
                json!([
                    c.operator.to_ascii_lowercase(),
                    c.key.to_ascii_lowercase(),
                    sorted(c.values.clone())
                ])
            })
            .collect();
        cond.sort_by_key(|c| c.to_string());
        out.insert("Condition".into(), json!(cond));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoded_and_object_forms_are_equivalent() {
        let object = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sts:AssumeRole"}]});
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Action%22%3A%5B%22sts%3AAssumeRole%22%5D%2C%22Principal%22%3A%7B%22Service%22%3A%5B%22events.amazonaws.com%22%5D%7D%2C%22Effect%22%3A%22Allow%22%7D%7D";
        assert!(documents_equivalent(&object, &json!(encoded)));
        assert!(documents_equivalent(&object, &json!(object.to_string())));
    }

    #[test]
    fn different_grants_are_not_equivalent() {
        let a = json!({"Statement":[{"Effect":"Allow","Action":"ecs:RunTask","Resource":"arn:aws:ecs:us-east-1:1:task-definition/a:*"}]});
        let b = json!({"Statement":[{"Effect":"Allow","Action":"ecs:RunTask","Resource":"arn:aws:ecs:us-east-1:1:task-definition/b:*"}]});
        let c = json!({"Statement":[{"Effect":"Allow","Action":["ECS:RunTask"],"Resource":["arn:aws:ecs:us-east-1:1:task-definition/a:*"]}]});
        assert!(!documents_equivalent(&a, &b));
        assert!(documents_equivalent(&a, &c));
        let with_condition = json!({"Statement":[{"Effect":"Allow","Action":"ecs:RunTask","Resource":"arn:aws:ecs:us-east-1:1:task-definition/a:*","Condition":{"ArnEquals":{"ecs:cluster":"arn:x"}}}]});
        assert!(!documents_equivalent(&a, &with_condition));
    }

    #[test]
    fn a_bare_string_principal_is_typed_by_its_shape() {
        let d = PolicyDocument::parse(&json!({"Statement": [
            {"Effect": "Allow", "Principal": "arn:aws:iam::1:role/r", "Action": "lambda:InvokeFunction"},
            {"Effect": "Allow", "Principal": "events.amazonaws.com", "Action": "lambda:InvokeFunction"}
        ]}))
        .unwrap();
        assert_eq!(
            d.statements[0].principal.as_ref().unwrap().entries,
            vec![(PrincipalKind::Aws, "arn:aws:iam::1:role/r".to_string())]
        );
        assert_eq!(
            d.statements[1].principal.as_ref().unwrap().entries,
            vec![(PrincipalKind::Service, "events.amazonaws.com".to_string())]
        );
        // Equivalent to the typed form.
        assert!(documents_equivalent(
            &json!({"Statement": {"Effect": "Allow", "Principal": "arn:aws:iam::1:role/r", "Action": "a:b"}}),
            &json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:role/r"]}, "Action": "a:b"}})
        ));
    }

    #[test]
    fn rejects_what_is_not_a_policy() {
        assert!(matches!(
            PolicyDocument::parse(&json!({"Version":"2012-10-17"})),
            Err(PolicyError::NoStatement)
        ));
        assert!(matches!(
            PolicyDocument::parse(&json!("{not json")),
            Err(PolicyError::NotJson(_))
        ));
        let both = json!({"Statement":[{"Effect":"Allow","Action":"a:b","NotAction":"c:d"}]});
        assert!(matches!(
            PolicyDocument::parse(&both),
            Err(PolicyError::BadStatement { index: 0, .. })
        ));
        let effect = json!({"Statement":[{"Effect":"allow","Action":"a:b"}]});
        assert!(PolicyDocument::parse(&effect).is_err());
    }

    #[test]
    fn condition_values_of_any_json_scalar_are_strings() {
        let d = PolicyDocument::parse(&json!({"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false},"NumericLessThan":{"s3:max-keys":10}}}})).unwrap();
        assert_eq!(d.statements[0].conditions.len(), 2);
        assert!(d.statements[0]
            .conditions
            .iter()
            .any(|c| c.values == vec!["false".to_string()]));
        assert!(d.statements[0]
            .conditions
            .iter()
            .any(|c| c.values == vec!["10".to_string()]));
    }
}
