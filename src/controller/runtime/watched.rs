//! What the controller's watch keeps of an `EventBridgeIntegration`: the few metadata fields
//! the filter, the gate and the start-up schedule read, decoded from the API server's
//! metadata-only responses and nothing more. A pass reads the whole object itself.
//!
//! Why not kube's `PartialObjectMeta`: it decodes the whole `ObjectMeta`, and at 10,000
//! objects applied by kubectl or a GitOps tool the managed fields and the last-applied
//! annotation are ~1.5 KB of JSON an object, decoded into trees several times that size. The
//! watch's initial list comes whole from the API server's watch cache (see `run_one`), so
//! decoding those fields only to drop them raised a restart's peak from 76 to 187 MiB; this
//! type skips them while the list is parsed.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::core::NamespaceResourceScope;
use kube::Resource;
use serde::{Deserialize, Deserializer};

use crate::api::EventBridgeIntegration;

#[derive(Clone, Debug, Default, PartialEq)]
pub(in crate::controller) struct WatchedMeta {
    pub metadata: ObjectMeta,
}

impl Resource for WatchedMeta {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        EventBridgeIntegration::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        EventBridgeIntegration::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        EventBridgeIntegration::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        EventBridgeIntegration::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }

    /// Lists and watches ask for `PartialObjectMetadata`: no spec or status is sent.
    fn metadata_api() -> bool {
        true
    }
}

impl<'de> Deserialize<'de> for WatchedMeta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The fields kept; serde skips every other one without building it.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Kept {
            name: Option<String>,
            namespace: Option<String>,
            uid: Option<String>,
            generation: Option<i64>,
            /// The watcher resumes from the last event's version (dropped once cached).
            resource_version: Option<String>,
            finalizers: Option<Vec<String>>,
            deletion_timestamp: Option<Time>,
        }
        #[derive(Deserialize)]
        struct Wire {
            metadata: Kept,
        }
        let Kept {
            name,
            namespace,
            uid,
            generation,
            resource_version,
            finalizers,
            deletion_timestamp,
        } = Wire::deserialize(d)?.metadata;
        Ok(WatchedMeta {
            metadata: ObjectMeta {
                name,
                namespace,
                uid,
                generation,
                resource_version,
                finalizers,
                deletion_timestamp,
                ..ObjectMeta::default()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_what_the_watch_reads_and_skips_the_rest() {
        let item = json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {
                "name": "orders", "namespace": "team-a", "uid": "u-1", "generation": 3,
                "resourceVersion": "61774", "finalizers": ["eventbridge.dev/cleanup"],
                "deletionTimestamp": "2026-12-05T00:00:00Z",
                "labels": {"app": "x"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
            }
        });
        let m: WatchedMeta = serde_json::from_value(item).unwrap();
        let meta = &m.metadata;
        assert_eq!(meta.name.as_deref(), Some("orders"));
        assert_eq!(meta.namespace.as_deref(), Some("team-a"));
        assert_eq!(meta.uid.as_deref(), Some("u-1"));
        assert_eq!(meta.generation, Some(3));
        assert_eq!(meta.resource_version.as_deref(), Some("61774"));
        assert_eq!(
            meta.finalizers,
            Some(vec!["eventbridge.dev/cleanup".into()])
        );
        assert!(meta.deletion_timestamp.is_some());
        assert!(
            meta.labels.is_none() && meta.annotations.is_none() && meta.managed_fields.is_none()
        );
    }

    #[test]
    fn asks_for_the_integrations_metadata_only() {
        assert!(WatchedMeta::metadata_api());
        assert_eq!(
            WatchedMeta::url_path(&(), Some("team-a")),
            EventBridgeIntegration::url_path(&(), Some("team-a"))
        );
    }
}
