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

/// The statement ID of one object's grant to a rule, in a Lambda function's or a dead-letter
/// queue's policy: [`statement_id`] plus `-{hash8 of the owning object's UID}`. Two objects
/// that both claim one rule name (two namespaces, two clusters, a race) get two statements,
/// so removing one never removes the other's grant: the ID is the proof of whose it is,
/// the `aws:SourceArn` (or principal) of what it grants. At most 77 + 9 = 86 characters,
/// within Lambda's 100 of `[a-zA-Z0-9-_]`. Statements written before the ID carried the
/// owner have the bare [`statement_id`]; they are migrated on the next pass.
pub fn owned_statement_id(rule_name: &str, rule_arn: &str, owner_uid: &str) -> String {
    format!(
        "{}-{}",
        statement_id(rule_name, rule_arn),
        owner_suffix(owner_uid)
    )
}

/// `hash8` of an owning object's UID: the end of every statement ID it owns.
pub fn owner_suffix(owner_uid: &str) -> String {
    short_hash(&format!("owner:{owner_uid}"))
}

/// Whether a statement ID is one `owner_uid` owns (written by this version).
pub fn statement_id_of_owner(statement_id: &str, owner_uid: &str) -> bool {
    statement_id
        .strip_suffix(&owner_suffix(owner_uid))
        .is_some_and(|rest| rest.ends_with('-'))
}

/// The name of the role a move to another IAM path goes through. A role name is unique in
/// an account whatever its path, so the role at the new path cannot exist beside the one
/// the target uses: the target moves to this second name at the new path first, the old
/// role goes, then the role of the wanted name is created at the new path and the target
/// moves again (see `plan::managed_role`). `{name, truncated}-{hash8 of the final ARN}`:
/// within 64 characters, and it keeps the name's prefix (the operator's
/// `--role-name-prefix`).
pub fn bridge_role_name(name: &str, final_arn: &str) -> String {
    let hash = short_hash(&format!("move:{final_arn}"));
    let mut base = name.to_string();
    let room = MAX_NAME - hash.len() - 1;
    if base.len() > room {
        base.truncate(room);
    }
    format!("{base}-{hash}")
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

/// What a schedule's FIFO publish is deduplicated by, before the run's due time: its name
/// and a hash of its group and name, since two groups may hold schedules of one name
/// (bounded: 64 + 9 characters, well inside SNS's 128 with the time).
pub fn schedule_deduplication_prefix(group: &str, name: &str) -> String {
    format!("{name}-{}", short_hash(&format!("{group}/{name}")))
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
    fn owned_statement_ids_differ_per_owner_and_fit_lambda() {
        let name = "r".repeat(64);
        let arn = "arn:aws:events:us-east-1:1:rule/r";
        let a = owned_statement_id(&name, arn, "uid-a");
        let b = owned_statement_id(&name, arn, "uid-b");
        assert_ne!(a, b);
        assert!(a.len() <= 100, "{}", a.len());
        assert!(a.starts_with(&statement_id(&name, arn)));
        assert!(statement_id_of_owner(&a, "uid-a"));
        assert!(!statement_id_of_owner(&a, "uid-b"));
        assert!(!statement_id_of_owner(&statement_id(&name, arn), "uid-a"));
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)));
    }

    #[test]
    fn bridge_names_fit_and_keep_the_prefix() {
        let long = format!("ebi-{}", "x".repeat(60));
        let b = bridge_role_name(&long, "arn:aws:iam::1:role/p/x");
        assert!(b.len() <= MAX_NAME && b.starts_with("ebi-x"), "{b}");
        assert_ne!(b, bridge_role_name(&long, "arn:aws:iam::1:role/q/x"));
        assert_ne!(
            bridge_role_name("ebi-a", "arn:aws:iam::1:role/p/ebi-a"),
            "ebi-a"
        );
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
