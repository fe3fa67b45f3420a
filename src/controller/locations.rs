//! Every place the controller has written to (account, region, and the role that reaches
//! another account), kept in a ConfigMap that outlives the objects: the orphan report reads
//! it, so a region or account used only by objects deleted since (a finalizer removed by
//! hand) is still searched. The ownership records name only the live objects' places.
//!
//! Written before the first write to a new place (with the ownership record, which comes
//! before any AWS write), once per place and process: a set in memory remembers what this
//! process has already persisted, so a pass over known places makes no API call.
//!
//! One key per place, each applied (server-side apply) by a field manager of its own: an
//! apply then names only its key and never removes the others, so several writers (a new
//! leader, the test controllers sharing one API server) need no read-modify-write and
//! cannot undo each other. The value is the location as JSON; the external ID is kept
//! with its role because the role cannot be assumed without it (AWS does not treat an
//! external ID as a secret; it is in the object's spec as well).

use std::collections::BTreeSet;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::FIELD_MANAGER;
use crate::api::{EventBridgeIntegration, OwnedResource};

/// The ConfigMap's name, in the controller's namespace.
pub const CONFIGMAP: &str = "eventbridge-integration-controller-locations";

/// The namespace of the ConfigMap when no flag names one: the pod's, else `default`.
pub fn default_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into())
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub account_id: String,
    /// None: only IAM (global) was written there; any region reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The role assumed to reach `account_id`; None: the controller's own credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl Location {
    /// Where `entry` of `obj`'s record lives, reached as `record::clients_for` reaches it.
    pub fn of(entry: &OwnedResource, obj: &EventBridgeIntegration) -> Location {
        let external_id = entry.via_role_arn.as_ref().and_then(|via| {
            obj.spec
                .cross_account
                .as_ref()
                .filter(|x| &x.provisioning_role_arn == via)
                .and_then(|x| x.external_id.clone())
        });
        Location {
            account_id: entry.account_id.clone(),
            region: entry.region.clone(),
            via_role_arn: entry.via_role_arn.clone(),
            external_id,
        }
    }

    /// Its ConfigMap key: readable and valid (`[-._a-zA-Z0-9]+`), e.g.
    /// `123456789012.us-east-1`, `123456789012.iam`, `222222222222.us-east-1.via-1a2b3c4d5e6f`
    /// (a digest of the role and external ID: an ARN's `:` and `/` are not allowed in a key).
    pub fn key(&self) -> String {
        let mut key = format!(
            "{}.{}",
            self.account_id,
            self.region.as_deref().unwrap_or("iam")
        );
        if let Some(via) = &self.via_role_arn {
            let digest = Sha256::new()
                .chain_update(via.as_bytes())
                .chain_update(b"\n")
                .chain_update(self.external_id.as_deref().unwrap_or("").as_bytes())
                .finalize();
            key.push_str(".via-");
            for b in &digest[..6] {
                key.push_str(&format!("{b:02x}"));
            }
        }
        key
    }
}

/// The persisted set, as the controller writes it.
pub struct Locations {
    api: Api<ConfigMap>,
    /// Persisted by this process (so certainly in the ConfigMap).
    known: Mutex<BTreeSet<Location>>,
}

impl Locations {
    pub fn new(client: Client, namespace: &str) -> Locations {
        Locations {
            api: Api::namespaced(client, namespace),
            known: Mutex::default(),
        }
    }

    /// Persists the places of `entries` this process has not persisted yet: one apply per
    /// new place, none for known ones.
    pub async fn remember(
        &self,
        obj: &EventBridgeIntegration,
        entries: &[OwnedResource],
    ) -> Result<(), kube::Error> {
        let new: BTreeSet<Location> = {
            let known = self.known.lock().expect("locations lock");
            entries
                .iter()
                .map(|e| Location::of(e, obj))
                .filter(|l| !known.contains(l))
                .collect()
        };
        for location in new {
            let key = location.key();
            let patch = json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": CONFIGMAP},
                "data": {&key: serde_json::to_string(&location).expect("serialisable")},
            });
            self.api
                .patch(
                    CONFIGMAP,
                    &PatchParams::apply(&format!("{FIELD_MANAGER}.{key}")).force(),
                    &Patch::Apply(&patch),
                )
                .await?;
            tracing::debug!(account = %location.account_id, region = ?location.region, via = ?location.via_role_arn, "location kept for the orphan report");
            self.known.lock().expect("locations lock").insert(location);
        }
        Ok(())
    }
}

/// Every location persisted in `namespace` (none when the ConfigMap does not exist). A
/// value that does not parse is an error: a place the report would silently skip.
pub async fn read(client: &Client, namespace: &str) -> Result<Vec<Location>, String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let cm = api.get_opt(CONFIGMAP).await.map_err(|e| {
        format!("cannot read ConfigMap {namespace}/{CONFIGMAP} (the places the controller wrote to): {e}")
    })?;
    let mut out = vec![];
    for (key, value) in cm.and_then(|c| c.data).unwrap_or_default() {
        out.push(serde_json::from_str(&value).map_err(|e| {
            format!("ConfigMap {namespace}/{CONFIGMAP}: key {key} is not a location ({e})")
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(region: Option<&str>, via: Option<&str>, external_id: Option<&str>) -> Location {
        Location {
            account_id: "222222222222".into(),
            region: region.map(Into::into),
            via_role_arn: via.map(Into::into),
            external_id: external_id.map(Into::into),
        }
    }

    #[test]
    fn keys_are_valid_configmap_keys_and_tell_locations_apart() {
        let role = "arn:aws:iam::222222222222:role/provisioner";
        let all = [
            location(Some("us-east-1"), None, None),
            location(None, None, None),
            location(Some("us-east-1"), Some(role), None),
            location(Some("us-east-1"), Some(role), Some("ext-1")),
            location(Some("eu-west-1"), Some(role), Some("ext-1")),
        ];
        let keys: BTreeSet<String> = all.iter().map(Location::key).collect();
        assert_eq!(keys.len(), all.len(), "{keys:?}");
        for k in &keys {
            assert!(
                k.len() <= 253
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)),
                "{k}"
            );
            // The field manager name built from it stays within the API server's 128.
            assert!(format!("{FIELD_MANAGER}.{k}").len() <= 128, "{k}");
        }
        assert_eq!(all[0].key(), "222222222222.us-east-1");
        assert_eq!(all[1].key(), "222222222222.iam");
        assert!(all[3].key().starts_with("222222222222.us-east-1.via-"));
    }

    #[test]
    fn a_location_round_trips_through_its_value() {
        let l = location(
            Some("us-west-2"),
            Some("arn:aws:iam::222222222222:role/p"),
            Some("x"),
        );
        let text = serde_json::to_string(&l).unwrap();
        assert_eq!(
            text,
            r#"{"accountId":"222222222222","region":"us-west-2","viaRoleArn":"arn:aws:iam::222222222222:role/p","externalId":"x"}"#
        );
        assert_eq!(serde_json::from_str::<Location>(&text).unwrap(), l);
    }
}
