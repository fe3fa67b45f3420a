//! Tenancy's I/O (the decision itself is `crate::tenancy`, pure): the policies and the
//! namespaces' labels kept in memory by two watches, the Secrets that hold external IDs,
//! re-queuing the integrations of every namespace whose selecting policies changed (a
//! policy edited, created or deleted, a namespace relabelled), and each policy's status.

use crate::sync::Locked;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Patch, PatchParams};
use kube::core::{PartialObjectMeta, Selector, SelectorExt};
use kube::runtime::reflector::{self, store::Writer, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::api::{EventBridgeIntegrationPolicy, SecretKeyRef};
use crate::aws::ExternalId;
use crate::FIELD_MANAGER;

type NamespaceMeta = PartialObjectMeta<Namespace>;

/// The watched policies and namespaces, and who hears of a change.
pub struct Tenancy {
    client: Client,
    secrets: Api<Secret>,
    secrets_namespace: String,
    policies: Store<EventBridgeIntegrationPolicy>,
    namespaces: Store<NamespaceMeta>,
    writers: Mutex<Option<(Writer<EventBridgeIntegrationPolicy>, Writer<NamespaceMeta>)>>,
    /// One per controller (watched namespace): the namespaces whose integrations to re-queue.
    subscribers: Mutex<Vec<UnboundedSender<Vec<String>>>>,
}

/// Which policies (name, uid, generation) select each namespace: what a pass's decision
/// depends on, so a namespace whose entry changes has its integrations looked at again.
type Selection = BTreeMap<String, Vec<(String, String, i64)>>;

impl Tenancy {
    pub fn new(client: Client, secrets_namespace: &str) -> Tenancy {
        let (policies, policy_writer) = reflector::store();
        let (namespaces, namespace_writer) = reflector::store();
        Tenancy {
            secrets: Api::namespaced(client.clone(), secrets_namespace),
            secrets_namespace: secrets_namespace.to_string(),
            client,
            policies,
            namespaces,
            writers: Mutex::new(Some((policy_writer, namespace_writer))),
            subscribers: Mutex::default(),
        }
    }

    /// A stream of namespaces whose integrations must be reconciled again.
    pub fn subscribe(&self) -> UnboundedReceiver<Vec<String>> {
        let (tx, rx) = unbounded();
        self.subscribers.locked().push(tx);
        rx
    }

    /// Both caches hold a complete list (a pass must never decide on a partial one).
    pub async fn ready(&self) {
        let _ = self.policies.wait_until_ready().await;
        let _ = self.namespaces.wait_until_ready().await;
    }

    /// The policies that select `namespace` now, sorted by name. A namespace not (yet) in
    /// the cache has no labels: only `{}` selectors match it, until its watch event comes
    /// (which re-queues it).
    pub fn candidates(&self, namespace: &str) -> Vec<Arc<EventBridgeIntegrationPolicy>> {
        let labels = self
            .namespaces
            .get(&ObjectRef::new(namespace))
            .map(|n| n.labels().clone())
            .unwrap_or_default();
        let mut out: Vec<_> = self
            .policies
            .state()
            .into_iter()
            .filter(|p| selects(p, &labels))
            .collect();
        out.sort_by_key(|p| p.name_any());
        out
    }

    /// The external ID a policy names. The value never leaves this function but as the
    /// redacted [`ExternalId`]; errors name the Secret and key, never the value.
    pub async fn external_id(&self, r: &SecretKeyRef) -> Result<ExternalId, String> {
        read_external_id(&self.secrets, &self.secrets_namespace, r).await
    }

    /// Runs the two watches for good: keeps the caches, re-queues what a change affects,
    /// and (when `write_status`, i.e. on the leader) writes each policy's selected namespaces.
    pub async fn watch(self: Arc<Self>, write_status: bool) {
        let Some((policy_writer, namespace_writer)) = self.writers.locked().take() else {
            return;
        };
        // Each item: (from the policies' watch?, a complete list has been applied?).
        let policies = watcher(
            Api::<EventBridgeIntegrationPolicy>::all(self.client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .reflect(policy_writer)
        .map(|e| (true, matches!(e, Ok(watcher::Event::InitDone))));
        let namespaces = watcher(
            Api::<NamespaceMeta>::all(self.client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .modify(|n: &mut NamespaceMeta| n.metadata.managed_fields = None)
        .reflect(namespace_writer)
        .map(|e| (false, matches!(e, Ok(watcher::Event::InitDone))));
        let mut changes = std::pin::pin!(futures::stream::select(policies, namespaces));
        // Listed in full yet (tracked here: polling the stores' readiness from this task
        // would take the wake-up from whoever awaits `ready`).
        let (mut policies_listed, mut namespaces_listed) = (false, false);
        let mut known: Option<Selection> = None;
        while let Some((from_policies, listed)) = changes.next().await {
            if from_policies {
                policies_listed |= listed;
            } else {
                namespaces_listed |= listed;
            }
            if !(policies_listed && namespaces_listed) {
                continue;
            }
            let now = self.selection();
            if let Some(before) = &known {
                let changed = changed_namespaces(before, &now);
                if !changed.is_empty() {
                    tracing::info!(namespaces = ?changed, "policies selecting these namespaces changed; reconciling their integrations");
                    self.notify(changed);
                }
            }
            if write_status && known.as_ref() != Some(&now) {
                self.write_statuses().await;
            }
            known = Some(now);
        }
    }

    fn notify(&self, namespaces: Vec<String>) {
        self.subscribers
            .locked()
            .retain(|s| s.unbounded_send(namespaces.clone()).is_ok());
    }

    fn selection(&self) -> Selection {
        let policies = self.policies.state();
        self.namespaces
            .state()
            .iter()
            .map(|ns| {
                let mut selecting: Vec<(String, String, i64)> = policies
                    .iter()
                    .filter(|p| selects(p, ns.labels()))
                    .map(|p| {
                        (
                            p.name_any(),
                            p.uid().unwrap_or_default(),
                            p.metadata.generation.unwrap_or_default(),
                        )
                    })
                    .collect();
                selecting.sort();
                (ns.name_any(), selecting)
            })
            .collect()
    }

    /// `status.namespaces` of every policy whose selection differs from what it says.
    async fn write_statuses(&self) {
        let api: Api<EventBridgeIntegrationPolicy> = Api::all(self.client.clone());
        let namespaces = self.namespaces.state();
        for policy in self.policies.state() {
            let mut selected: Vec<String> = namespaces
                .iter()
                .filter(|ns| selects(&policy, ns.labels()))
                .map(|ns| ns.name_any())
                .collect();
            selected.sort();
            let generation = policy.metadata.generation;
            let grants = crate::tenancy::summary(&policy.spec);
            let current = policy.status.as_ref();
            if current.is_some_and(|s| {
                s.namespaces == selected
                    && s.observed_generation == generation
                    && s.grants.as_ref() == Some(&grants)
            }) {
                continue;
            }
            let patch = json!({
                "apiVersion": "eventbridge.dev/v1alpha1",
                "kind": "EventBridgeIntegrationPolicy",
                "status": {"observedGeneration": generation, "namespaces": selected, "grants": grants},
            });
            if let Err(e) = api
                .patch_status(
                    &policy.name_any(),
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&patch),
                )
                .await
            {
                tracing::warn!(policy = %policy.name_any(), "cannot write the policy's status: {e}");
            }
        }
    }
}

/// Whether a policy's selector matches these labels. A selector the API server accepted
/// but that does not parse (an unknown operator) selects nothing: it never widens a grant.
pub fn selects(policy: &EventBridgeIntegrationPolicy, labels: &BTreeMap<String, String>) -> bool {
    match Selector::try_from(policy.spec.namespace_selector.clone()) {
        Ok(selector) => selector.matches(labels),
        Err(e) => {
            tracing::warn!(policy = %policy.name_any(), "namespaceSelector does not parse, so the policy selects nothing: {e}");
            false
        }
    }
}

/// Namespaces whose selecting policies differ between two selections.
fn changed_namespaces(before: &Selection, now: &Selection) -> Vec<String> {
    let names: BTreeSet<&String> = before.keys().chain(now.keys()).collect();
    names
        .into_iter()
        .filter(|ns| before.get(*ns) != now.get(*ns))
        .cloned()
        .collect()
}

/// Reads an external ID from a Secret (`data` or `stringData`-written, surrounding
/// whitespace dropped: `kubectl create secret --from-file` keeps a trailing newline, and
/// AWS external IDs contain none).
pub async fn read_external_id(
    secrets: &Api<Secret>,
    namespace: &str,
    r: &SecretKeyRef,
) -> Result<ExternalId, String> {
    let where_ = format!("key `{}` of Secret {namespace}/{}", r.key, r.name);
    let secret = secrets
        .get_opt(&r.name)
        .await
        .map_err(|e| format!("cannot read the {where_}: {e}"))?
        .ok_or_else(|| format!("the {where_} does not exist: create it (kubectl create secret generic {} -n {namespace} --from-literal={}=…)", r.name, r.key))?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&r.key))
        .map(|b| b.0.clone())
        .ok_or_else(|| format!("the {where_} is missing"))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("the {where_} is not UTF-8 text"))?;
    let value = text.trim();
    if !(2..=1224).contains(&value.len()) {
        return Err(format!(
            "the {where_} is not an external ID (AWS takes 2-1224 characters)"
        ));
    }
    Ok(ExternalId::new(value))
}

/// The external IDs of the ways into other accounts that the policies grant, by
/// provisioning role: for clean-up and the orphan report, which reach accounts recorded by
/// objects that may no longer be permitted (or exist). A role no policy names a Secret for
/// gets none.
pub async fn external_ids_for(
    client: &Client,
    secrets_namespace: &str,
    roles: &BTreeSet<String>,
) -> Result<BTreeMap<String, ExternalId>, String> {
    let policies: Api<EventBridgeIntegrationPolicy> = Api::all(client.clone());
    let list = match policies.list(&Default::default()).await {
        Ok(l) => l.items,
        // No policy CRD (a cluster running with --policy-mode off): no policy names any.
        Err(kube::Error::Api(e)) if e.code == 404 => vec![],
        Err(e) => return Err(format!("cannot list EventBridgeIntegrationPolicies: {e}")),
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), secrets_namespace);
    let mut out = BTreeMap::new();
    for role in roles {
        let secret = list
            .iter()
            .find_map(|p| crate::tenancy::external_id_ref_for(&p.spec, role));
        if let Some(r) = secret {
            out.insert(
                role.clone(),
                read_external_id(&secrets, secrets_namespace, r).await?,
            );
        }
    }
    Ok(out)
}
