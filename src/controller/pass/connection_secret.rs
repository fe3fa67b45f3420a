//! The credentials of an API destination's connection, read from the Secret its spec names
//! in the object's own namespace (`secretRef` has no namespace: a namespace cannot have the
//! controller read another's Secret). Errors name the Secret and key, never a value.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::api::ConnectionSpec;
use crate::plan::ConnectionSecret;

/// The Secrets of every API destination's connection (`field`: the target's, as
/// `spec.targets[1]`), by name: a Secret two connections share is read once, so it must serve
/// both with the same authorization type (the keys it holds depend on it).
pub(in crate::controller) async fn read_all(
    client: &Client,
    namespace: &str,
    connections: &[(&str, &ConnectionSpec)],
) -> Result<BTreeMap<String, ConnectionSecret>, String> {
    let mut read: BTreeMap<String, (ConnectionSecret, &ConnectionSpec)> = BTreeMap::new();
    for (field, connection) in connections {
        let name = &connection.secret_ref.name;
        match read.get(name) {
            Some((_, first)) if first.authorization_type != connection.authorization_type => {
                return Err(format!(
                    "{field}.apiDestination.connection.secretRef: Secret {namespace}/{name} already serves a {} connection of this integration, and {} reads other keys: give this connection a Secret of its own",
                    first.authorization_type.as_str(),
                    connection.authorization_type.as_str()
                ));
            }
            Some(_) => {}
            None => {
                let secret = read_one(client, namespace, field, connection).await?;
                read.insert(name.clone(), (secret, connection));
            }
        }
    }
    Ok(read.into_iter().map(|(name, (s, _))| (name, s)).collect())
}

/// Reads the two keys the connection's authorization type takes (surrounding whitespace
/// dropped: `kubectl create secret --from-file` keeps a trailing newline).
async fn read_one(
    client: &Client,
    namespace: &str,
    field: &str,
    connection: &ConnectionSpec,
) -> Result<ConnectionSecret, String> {
    let name = &connection.secret_ref.name;
    let keys = connection.authorization_type.secret_keys();
    let create = format!(
        "kubectl create secret generic {name} -n {namespace} --from-literal={}=… --from-literal={}=…",
        keys[0], keys[1]
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = match secrets.get_opt(name).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(format!("Secret {namespace}/{name} ({field}.apiDestination.connection.secretRef) does not exist: create it ({create})")),
        Err(kube::Error::Api(e)) if e.code == 403 => return Err(format!("the controller may not read Secret {namespace}/{name} ({field}.apiDestination.connection.secretRef): grant it `get` on secrets (Helm value apiDestinations.readSecrets: true)")),
        Err(e) => return Err(format!("cannot read Secret {namespace}/{name}: {e}")),
    };
    let value = |key: &str| -> Result<String, String> {
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
            .ok_or_else(|| {
                format!(
                    "Secret {namespace}/{name} has no key `{key}`, which authorizationType {} reads: add it ({create})",
                    connection.authorization_type.as_str()
                )
            })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("key `{key}` of Secret {namespace}/{name} is not UTF-8 text"))?;
        let text = text.trim();
        if text.is_empty() || text.len() > 512 {
            return Err(format!("key `{key}` of Secret {namespace}/{name} must hold 1 to 512 characters (EventBridge's limit)"));
        }
        Ok(text.to_string())
    };
    Ok(ConnectionSecret {
        version: format!(
            "{name}@{}",
            secret.metadata.resource_version.as_deref().unwrap_or("0")
        ),
        first: value(keys[0])?,
        second: value(keys[1])?,
    })
}
