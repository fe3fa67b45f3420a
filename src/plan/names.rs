//! Deterministic AWS names: stable across restarts, unique per namespace/name, within limits.

use sha2::{Digest, Sha256};

/// IAM role names and EventBridge rule names are both limited to 64 characters.
pub const MAX_NAME: usize = 64;

/// `{prefix}{namespace}-{name}-{hash8}`, truncated before the hash when too long. The hash of
/// `namespace/name` keeps `a-b/c` and `a/b-c` apart and survives truncation.
pub fn derived_name(prefix: &str, namespace: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{namespace}/{name}").as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let mut base = format!("{prefix}{namespace}-{name}");
    let room = MAX_NAME - hash.len() - 1;
    if base.len() > room {
        base.truncate(room);
    }
    let base = base.trim_end_matches(['-', '.']);
    format!("{base}-{hash}")
}

/// The Lambda permission statement ID for a rule: `ebi-` plus the rule name (≤ 100 chars).
pub fn statement_id(rule_name: &str) -> String {
    format!("ebi-{rule_name}")
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
}
