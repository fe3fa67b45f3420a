//! Strict reading of user-supplied JSON (bundles, `simulate` requests): a value of the wrong
//! type is an error naming its JSON path and the expected type, never a silent default.
//! Absent keys and `null` mean "not given"; what a missing value means is the caller's call.

use serde_json::{Map, Value};

/// Unusable input: where, and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct InputError {
    pub path: String,
    pub problem: String,
}

impl InputError {
    pub fn new(path: impl Into<String>, problem: impl Into<String>) -> InputError {
        InputError {
            path: path.into(),
            problem: problem.into(),
        }
    }

    pub fn expected(path: impl Into<String>, expected: &str, found: &Value) -> InputError {
        InputError::new(
            path,
            format!("expected {expected}, got {}", describe(found)),
        )
    }
}

/// The JSON type of a value, with a short excerpt: `a string ("x")`, `an object`.
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            let more = if s.chars().count() > 40 { "…" } else { "" };
            format!("a string ({short:?}{more})")
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// The value at `key`, or None when absent or `null`.
pub fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

pub fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, InputError> {
    v.as_object()
        .ok_or_else(|| InputError::expected(path, "an object", v))
}

pub fn string(v: &Value, path: &str) -> Result<String, InputError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| InputError::expected(path, "a string", v))
}

pub fn required<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a Value, InputError> {
    field(v, key).ok_or_else(|| InputError::new(format!("{path}.{key}"), "missing"))
}

pub fn required_string(v: &Value, key: &str, path: &str) -> Result<String, InputError> {
    string(required(v, key, path)?, &format!("{path}.{key}"))
}

/// An optional string; an empty string counts as absent (the AWS CLI prints `""` for unset).
pub fn optional_string(v: &Value, key: &str, path: &str) -> Result<Option<String>, InputError> {
    match field(v, key) {
        None => Ok(None),
        Some(x) => Ok(Some(string(x, &format!("{path}.{key}"))?).filter(|s| !s.is_empty())),
    }
}

/// An optional list; absent is empty.
pub fn optional_list<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a [Value], InputError> {
    match field(v, key) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(InputError::expected(
            format!("{path}.{key}"),
            "a list",
            other,
        )),
    }
}

/// An optional object; absent is None.
pub fn optional_object<'a>(
    v: &'a Value,
    key: &str,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, InputError> {
    field(v, key)
        .map(|x| object(x, &format!("{path}.{key}")))
        .transpose()
}
