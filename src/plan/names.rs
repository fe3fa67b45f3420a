//! Deterministic AWS names: stable across restarts, unique per namespace/name, within limits.

use sha2::{Digest, Sha256};

/// IAM role names and EventBridge rule names are both limited to 64 characters.
pub const MAX_NAME: usize = 64;

/// `{prefix}{namespace}-{name}-{hash8}`, truncated before the hash when too long. The hash of
/// `namespace/name` keeps `a-b/c` and `a/b-c` apart and survives truncation.
pub fn derived_name(prefix: &str, namespace: &str, name: &str) -> String {
    let hash = short_hash(&format!("{namespace}/{name}"));
    let mut base = format!("{prefix}{namespace}-{name}");
    let room = MAX_NAME - hash.len() - 1;
    if base.len() > room {
        base.truncate(room);
    }
    let base = base.trim_end_matches(['-', '.']);
    format!("{base}-{hash}")
}

/// The Lambda permission statement ID for a rule: `ebi-{rule name}-{hash8 of the rule ARN}`.
/// Rules of the same name on two buses (or in two regions or accounts) that target one
/// function get distinct statements. At most 4 + 64 + 1 + 8 = 77 characters, within
/// Lambda's 100, and only characters its `StatementId` pattern allows.
pub fn statement_id(rule_name: &str, rule_arn: &str) -> String {
    format!("ebi-{rule_name}-{}", short_hash(rule_arn))
}

/// The event-bus policy statement ID of one forwarding rule: `ebi-fwd-{hash16 of the rule
/// ARN}`, within EventBridge's 64 characters of `[a-zA-Z0-9-_]`.
pub fn bus_statement_id(rule_arn: &str) -> String {
    let digest = Sha256::digest(rule_arn.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("ebi-fwd-{hex}")
}

/// The statement ID this controller used before statement IDs carried the rule ARN's hash;
/// read only to migrate objects whose status predates the ownership record.
pub fn legacy_statement_id(rule_name: &str) -> String {
    format!("ebi-{rule_name}")
}

fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_bounded_and_stable() {
        let a = derived_name("ebi-", "a-b", "c");
        let b = derived_name("ebi-", "a", "b-c");
        assert_ne!(a, b);
        assert_eq!(a, derived_name("ebi-", "a-b", "c"));
        let long = derived_name("ebi-", &"n".repeat(63), &"x".repeat(253));
        assert_eq!(long.len(), MAX_NAME);
        let long2 = derived_name("ebi-", &"n".repeat(63), &format!("{}y", "x".repeat(252)));
        assert_ne!(long, long2, "truncated names still differ by hash");
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
    }

    #[test]
    fn statement_ids_differ_per_rule_arn_and_fit_lambda() {
        let name = "r".repeat(64);
        let on_default = statement_id(&name, "arn:aws:events:us-east-1:1:rule/r");
        let on_bus = statement_id(&name, "arn:aws:events:us-east-1:1:rule/b/r");
        assert_ne!(on_default, on_bus);
        assert!(on_default.len() <= 100, "{}", on_default.len());
        assert!(on_default
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
    }
}
