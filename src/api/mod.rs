//! The Kubernetes API of the controller: the `EventBridgeIntegration` custom resource, and
//! the cluster-scoped `EventBridgeIntegrationPolicy` that says what each namespace may ask for.

pub mod policy;
pub mod spec;
pub mod status;

pub use policy::{
    AccountGrant, EventBridgeIntegrationPolicy, EventBridgeIntegrationPolicySpec, SecretKeyRef,
};
pub use spec::*;
pub use status::{
    condition, ConditionValue, EventBridgeIntegrationStatus, OwnedKind, OwnedResource, Reason,
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use kube::CustomResourceExt;
use schemars::transform::{transform_subschemas, Transform};

/// The CRD: kube's derived CRD with [`NotNullable`] applied to its schema. Use this, not
/// `EventBridgeIntegration::crd()`, which still carries `nullable` on every optional field.
pub fn crd() -> CustomResourceDefinition {
    without_nullable(EventBridgeIntegration::crd())
}

/// The policy CRD, with [`NotNullable`] applied as for [`crd`].
pub fn policy_crd() -> CustomResourceDefinition {
    without_nullable(EventBridgeIntegrationPolicy::crd())
}

fn without_nullable(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        if let Some(props) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            *props = not_nullable(props);
        }
    }
    crd
}

/// A CRD as YAML. Its types are plain data built by kube's derive, which always serialise:
/// a failure here is a bug of the build, caught by `make crd` and the CRD tests.
#[allow(clippy::expect_used, reason = "a derived CRD always serialises")]
fn to_yaml(crd: &CustomResourceDefinition) -> String {
    serde_norway::to_string(crd).expect("the CRD always serialises")
}

/// The integration's CRD as YAML, exactly what `crds/` holds for it.
pub fn crd_yaml() -> String {
    to_yaml(&crd())
}

/// The policy's CRD as YAML, exactly what `crds/` holds for it.
pub fn policy_crd_yaml() -> String {
    to_yaml(&policy_crd())
}

/// Both CRDs as one YAML stream, what `crd` prints.
pub fn all_crds_yaml() -> String {
    format!("{}---\n{}", crd_yaml(), policy_crd_yaml())
}

/// A CRD without its CEL rules (`x-kubernetes-validations`), for API servers before 1.25:
/// they do not know the field, and server-side apply (kubectl's, Helm 4's) refuses it.
pub fn without_cel(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        if let Some(props) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            strip_cel(props);
        }
    }
    crd
}

fn strip_cel(props: &mut JSONSchemaProps) {
    props.x_kubernetes_validations = None;
    for p in props.properties.iter_mut().flat_map(|m| m.values_mut()) {
        strip_cel(p);
    }
    if let Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray::Schema(items)) = props.items.as_mut() {
        strip_cel(items);
    }
}

/// As [`all_crds_yaml`], for API servers before 1.25 (`crd --without-cel`).
pub fn all_crds_yaml_without_cel() -> String {
    format!(
        "{}---\n{}",
        to_yaml(&without_cel(crd())),
        to_yaml(&without_cel(policy_crd()))
    )
}

/// Removes `nullable: true` from a schema and all its subschemas.
///
/// kube's derive marks every `Option` field `nullable`. API servers publish such a field to
/// OpenAPI v2 (what `kubectl explain` reads) without its type and without its properties:
/// `kubectl explain ebi.spec.target.ecs` printed no fields. In this API null never means
/// anything other than "absent": every optional field is skipped when empty, never written
/// as null. Should a field ever give null a meaning, exempt it here.
///
/// It has to run over the whole CRD schema rather than as `#[schemars(transform)]` on our
/// types: `status` itself is an `Option` of the root struct the derive generates, and kube
/// adds `nullable` in a generator transform that runs after every type-level one.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotNullable;

impl Transform for NotNullable {
    fn transform(&mut self, schema: &mut schemars::Schema) {
        if let Some(obj) = schema.as_object_mut() {
            obj.remove("nullable");
        }
        transform_subschemas(self, schema);
    }
}

#[allow(
    clippy::expect_used,
    reason = "a JSONSchemaProps round-trips through JSON; only a key is removed on the way"
)]
fn not_nullable(props: &JSONSchemaProps) -> JSONSchemaProps {
    let value = serde_json::to_value(props).expect("a JSONSchemaProps serialises");
    let mut schema = schemars::Schema::try_from(value).expect("a schema is an object");
    NotNullable.transform(&mut schema);
    serde_json::from_value(schema.to_value()).expect("the schema is still a JSONSchemaProps")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(name: &str, props: &JSONSchemaProps, visit: &mut impl FnMut(&str, &JSONSchemaProps)) {
        visit(name, props);
        for (k, p) in props.properties.iter().flatten() {
            walk(&format!("{name}.{k}"), p, visit);
        }
        if let Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaPropsOrArray::Schema(items)) = &props.items {
            walk(&format!("{name}[]"), items, visit);
        }
    }

    #[test]
    fn no_field_is_nullable_and_every_field_has_a_type() {
        for crd in [crd(), policy_crd()] {
            fields_have_types(&crd);
        }
    }

    fn fields_have_types(crd: &CustomResourceDefinition) {
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .unwrap();
        let mut problems = vec![];
        walk("", schema, &mut |path, p| {
            if p.nullable.is_some() {
                problems.push(format!("{path}: nullable"));
            }
            // Only `spec.target.input` (any JSON value) may go without a type.
            if p.type_.is_none() && p.x_kubernetes_preserve_unknown_fields != Some(true) {
                problems.push(format!("{path}: no type"));
            }
        });
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(
            !schema
                .description
                .as_deref()
                .unwrap_or("")
                .contains("Auto-generated"),
            "the top-level description is a real one"
        );
    }
}
