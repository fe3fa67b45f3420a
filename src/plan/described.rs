//! Whose a resource is, for the AWS resources that take no tags (an API destination, its
//! connection, a Scheduler schedule): their description says it, in `key=value` words after
//! the controller's name, and reads back as the owner tags it stands for, so
//! [`Owner::claim`] judges it as it judges tags.

use std::collections::BTreeMap;

use super::{Owner, CLUSTER_TAG, MANAGED_BY, OWNER_TAG, OWNER_UID_TAG};

/// The description that says whose a resource is, and for a connection, which version of
/// its Secret it holds.
pub fn description(owner: &Owner, secret_version: Option<&str>) -> String {
    let mut out = format!(
        "{MANAGED_BY} owner={} uid={} cluster={}",
        owner.key(),
        owner.uid,
        owner.cluster
    );
    if let Some(v) = secret_version {
        out.push_str(&format!(" secret={v}"));
    }
    out
}

/// A description read back as the owner tags it stands for (empty: nobody's), so
/// [`Owner::claim`] judges it as it judges tags.
pub fn description_tags(description: &str) -> BTreeMap<String, String> {
    let mut words = description.split_whitespace();
    if words.next() != Some(MANAGED_BY) {
        return BTreeMap::new();
    }
    words
        .filter_map(|w| w.split_once('='))
        .filter_map(|(k, v)| {
            let key = match k {
                "owner" => OWNER_TAG,
                "uid" => OWNER_UID_TAG,
                "cluster" => CLUSTER_TAG,
                _ => return None,
            };
            Some((key.to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_description_reads_back_as_the_owner_it_names() {
        let owner = Owner {
            cluster: "prod".into(),
            namespace: "ns".into(),
            name: "orders".into(),
            uid: "8d3f6c1e-0000-4000-8000-000000000000".into(),
        };
        let text = description(&owner, Some("s@42"));
        assert_eq!(
            owner.claim(&description_tags(&text)),
            crate::plan::Claim::Ours
        );
        assert!(text.ends_with(" secret=s@42"), "{text}");
        let other = Owner {
            uid: "another".into(),
            name: "payments".into(),
            ..owner.clone()
        };
        assert!(matches!(
            owner.claim(&description_tags(&description(&other, None))),
            crate::plan::Claim::Foreign(_)
        ));
        assert_eq!(
            owner.claim(&description_tags("made by hand")),
            crate::plan::Claim::Untagged
        );
    }
}
