//! The Kubernetes API of the controller: the `EventBridgeIntegration` custom resource.

pub mod spec;
pub mod status;

pub use spec::*;
pub use status::{
    condition, reason, ConditionValue, EventBridgeIntegrationStatus, OwnedKind, OwnedResource,
};

use kube::CustomResourceExt;

/// The CRD as YAML, exactly what `crd` prints and `crds/` holds.
pub fn crd_yaml() -> String {
    serde_norway::to_string(&EventBridgeIntegration::crd()).expect("the CRD always serialises")
}
