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
//! cannot undo each other. The value is the location as JSON, never an external ID (a
//! tenant's secret: the policy naming the role says where to read it). Values written
//! before carried one: `scrub` rewrites them without it at start-up.

use crate::sync::Locked;
use std::collections::BTreeSet;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::api::OwnedResource;
use crate::FIELD_MANAGER;

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
    /// The role assumed to reach `account_id`; None: the controller's own credentials. Its
    /// external ID, if any, is never kept here: whoever reads the list gets it from the
    /// policy that names the role (`controller::tenancy::external_ids_for`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_role_arn: Option<String>,
}

impl Location {
    /// Where `entry` of a record lives, reached as `record::clients_for` reaches it.
    pub fn of(entry: &OwnedResource) -> Location {
        Location {
            account_id: entry.account_id.clone(),
            region: entry.region.clone(),
            via_role_arn: entry.via_role_arn.clone(),
        }
    }

    /// Its ConfigMap key: readable and valid (`[-._a-zA-Z0-9]+`), e.g.
    /// `123456789012.us-east-1`, `123456789012.iam`, `222222222222.us-east-1.via-1a2b3c4d5e6f`
    /// (a digest of the role: an ARN's `:` and `/` are not allowed in a key).
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
                .finalize();
            key.push_str(".via-");
            for b in &digest[..6] {
                key.push_str(&format!("{b:02x}"));
            }
        }
        key
    }
}

/// Told of each ownership record a pass writes: `namespace`, `name`, the record.
pub type RecordListener = Box<dyn Fn(&str, &str, &[OwnedResource]) + Send + Sync>;

/// The persisted set, as the controller writes it.
pub struct Locations {
    api: Api<ConfigMap>,
    /// Persisted by this process (so certainly in the ConfigMap).
    known: Mutex<BTreeSet<Location>>,
    /// Told of every record written (`--drift-events` keeps its index with it).
    listener: Option<RecordListener>,
}

impl Locations {
    pub fn new(client: Client, namespace: &str) -> Locations {
        Locations {
            api: Api::namespaced(client, namespace),
            known: Mutex::default(),
            listener: None,
        }
    }

    /// `listener` is told of every record a pass writes.
    pub fn telling(self, listener: RecordListener) -> Locations {
        Locations {
            listener: Some(listener),
            ..self
        }
    }

    /// A pass wrote `record` for `namespace`/`name`.
    pub fn record_written(&self, namespace: &str, name: &str, record: &[OwnedResource]) {
        if let Some(listener) = &self.listener {
            listener(namespace, name, record);
        }
    }

    /// Persists the places of `entries` this process has not persisted yet: one apply per
    /// new place, none for known ones.
    pub async fn remember(&self, entries: &[OwnedResource]) -> Result<(), kube::Error> {
        let new: BTreeSet<Location> = {
            let known = self.known.locked();
            entries
                .iter()
                .map(Location::of)
                .filter(|l| !known.contains(l))
                .collect()
        };
        for location in new {
            let key = location.key();
            self.apply(&key, &location).await?;
            tracing::debug!(account = %location.account_id, region = ?location.region, via = ?location.via_role_arn, "location kept for the orphan report");
            self.known.locked().insert(location);
        }
        Ok(())
    }
}

impl Locations {
    /// Writes one key, under its own field manager.
    async fn apply(&self, key: &str, location: &Location) -> Result<(), kube::Error> {
        let patch = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP},
            "data": {key: serde_json::to_string(location).map_err(kube::Error::SerdeError)?},
        });
        self.api
            .patch(
                CONFIGMAP,
                &PatchParams::apply(&format!("{FIELD_MANAGER}.{key}")).force(),
                &Patch::Apply(&patch),
            )
            .await?;
        Ok(())
    }

    /// Rewrites every value an older version wrote with an external ID, without it (same
    /// key and field manager). Reads the ConfigMap once; writes only what needs it.
    pub async fn scrub(&self) -> Result<usize, kube::Error> {
        let Some(cm) = self.api.get_opt(CONFIGMAP).await? else {
            return Ok(0);
        };
        let mut scrubbed = 0;
        for (key, value) in cm.data.unwrap_or_default() {
            let Ok(raw) = serde_json::from_str::<serde_json::Value>(&value) else {
                continue;
            };
            if raw.get("externalId").is_none() {
                continue;
            }
            if let Ok(location) = serde_json::from_value::<Location>(raw) {
                self.apply(&key, &location).await?;
                scrubbed += 1;
            }
        }
        Ok(scrubbed)
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

    fn location(region: Option<&str>, via: Option<&str>) -> Location {
        Location {
            account_id: "222222222222".into(),
            region: region.map(Into::into),
            via_role_arn: via.map(Into::into),
        }
    }

    #[test]
    fn keys_are_valid_configmap_keys_and_tell_locations_apart() {
        let role = "arn:aws:iam::222222222222:role/provisioner";
        let all = [
            location(Some("us-east-1"), None),
            location(None, None),
            location(Some("us-east-1"), Some(role)),
            location(
                Some("us-east-1"),
                Some("arn:aws:iam::222222222222:role/other"),
            ),
            location(Some("eu-west-1"), Some(role)),
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
        assert!(all[2].key().starts_with("222222222222.us-east-1.via-"));
    }

    #[test]
    fn a_location_round_trips_and_an_old_external_id_is_dropped() {
        let l = location(Some("us-west-2"), Some("arn:aws:iam::222222222222:role/p"));
        let text = serde_json::to_string(&l).unwrap();
        assert_eq!(
            text,
            r#"{"accountId":"222222222222","region":"us-west-2","viaRoleArn":"arn:aws:iam::222222222222:role/p"}"#
        );
        assert_eq!(serde_json::from_str::<Location>(&text).unwrap(), l);
        // What an older version wrote: read without its external ID, written back without.
        let old = r#"{"accountId":"222222222222","region":"us-west-2","viaRoleArn":"arn:aws:iam::222222222222:role/p","externalId":"s3cret"}"#;
        let read: Location = serde_json::from_str(old).unwrap();
        assert_eq!(read, l);
        assert!(!serde_json::to_string(&read).unwrap().contains("s3cret"));
    }
}
