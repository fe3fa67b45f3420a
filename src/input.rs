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

/// Parses a file's text as JSON. A UTF-8 byte-order mark, which some Windows editors write
/// before the text, is skipped: it is no part of the JSON.
pub fn parse_json(text: &str, path: &str) -> Result<Value, InputError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str(text).map_err(|e| InputError::new(path, format!("not JSON: {e}")))
}

/// Refuses a key of the object `v` that is not in `known`: a misspelt key (`Roles` for
/// `roles`, `identityPolicy` for `identityPolicies`) would otherwise be ignored, and its
/// absence judged instead ("no roles", "no policy"). The error names the key and the nearest
/// known one. A value that is not an object is left to the caller's type check.
pub fn known_keys(v: &Value, known: &[&str], path: &str) -> Result<(), InputError> {
    let Some(map) = v.as_object() else {
        return Ok(());
    };
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(InputError::new(path, unknown_key(key, known))),
    }
}

/// `unknown key "Roles" (did you mean "roles"?)`, or the known keys when none is close.
pub fn unknown_key(key: &str, known: &[&str]) -> String {
    match nearest(key, known) {
        Some(near) => format!("unknown key {key:?} (did you mean {near:?}?)"),
        None => format!("unknown key {key:?} (known keys: {})", known.join(", ")),
    }
}

/// The known key closest to `key` in edit distance, ignoring case, when it is close enough
/// to be a likely misspelling (at most a third of the longer name changed, or two edits).
fn nearest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = key.to_lowercase();
    known
        .iter()
        .map(|k| (strsim::levenshtein(&lower, &k.to_lowercase()), *k))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, k)| *d <= 2.max(lower.chars().count().max(k.chars().count()) / 3))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unknown_key_is_named_with_the_nearest_known_one() {
        let known = ["rule", "roles", "targets"];
        let e = known_keys(&json!({"rule": 1, "Roles": []}), &known, "bundle").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bundle: unknown key \"Roles\" (did you mean \"roles\"?)"
        );
        let e = known_keys(&json!({"zzzzzz": 1}), &known, "$").unwrap_err();
        assert_eq!(
            e.to_string(),
            "$: unknown key \"zzzzzz\" (known keys: rule, roles, targets)"
        );
        assert_eq!(
            unknown_key("identityPolicy", &["identityPolicies", "resourcePolicy"]),
            "unknown key \"identityPolicy\" (did you mean \"identityPolicies\"?)"
        );
        assert!(known_keys(&json!({"rule": 1}), &known, "bundle").is_ok());
        assert!(known_keys(&json!([1]), &known, "bundle").is_ok());
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(
            parse_json("\u{feff}{\"a\": 1}", "$").unwrap(),
            json!({"a": 1})
        );
        assert!(parse_json("\u{feff}", "$").is_err());
    }
}
