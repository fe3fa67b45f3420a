//! The ownership record's I/O: keeping `status.resources` current as a pass or a clean-up
//! goes, and reaching each recorded resource in the account and region it was recorded in.

use std::sync::Arc;

use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::admission::{way_in, Admission};
use crate::api::{EventBridgeIntegration, EventBridgeIntegrationStatus, OwnedResource};
use crate::aws::Clients;
use crate::controller::Context;
use crate::locations::Locations;
use crate::plan::{record, Owner};
use crate::Error;
use crate::FIELD_MANAGER;

/// The record as this reconcile knows it: starts from status, grows before writes, shrinks
/// as removals succeed. `written` tells whether status already holds exactly `entries`.
pub(in crate::controller) struct RecordKeeper {
    entries: Vec<OwnedResource>,
    written: bool,
    /// Where the places of what is recorded are kept for the orphan report, if anywhere.
    locations: Option<Arc<Locations>>,
}

impl RecordKeeper {
    /// The record of `obj`'s status; a status that predates the record yields rule and role
    /// entries rebuilt from its older fields.
    pub(in crate::controller) fn from_status(
        obj: &EventBridgeIntegration,
        via_role_arn: Option<&str>,
    ) -> RecordKeeper {
        let status = obj.status.as_ref();
        RecordKeeper {
            entries: record::recorded(status, &obj.spec, via_role_arn),
            written: status.is_some_and(|s| s.resources.is_some()),
            locations: None,
        }
    }

    /// Every place the record grows into is persisted (`locations`) before the record is.
    pub(in crate::controller) fn remembering(self, locations: Arc<Locations>) -> RecordKeeper {
        RecordKeeper {
            locations: Some(locations),
            ..self
        }
    }

    pub(in crate::controller) fn entries(&self) -> &[OwnedResource] {
        &self.entries
    }

    pub(in crate::controller) fn into_entries(self) -> Vec<OwnedResource> {
        self.entries
    }

    /// Records `wanted` in status before anything of it is created. No write when the
    /// record already holds all of it.
    pub(in crate::controller) async fn extend(
        &mut self,
        api: &Api<EventBridgeIntegration>,
        obj: &EventBridgeIntegration,
        wanted: &[OwnedResource],
    ) -> Result<(), Error> {
        if let Some(locations) = &self.locations {
            // Also the places recorded before this pass (a record older than the ConfigMap);
            // a place this process already persisted costs no call.
            locations.remember(&self.entries).await?;
            locations.remember(wanted).await?;
        }
        if self.grow(wanted) {
            self.write(api, obj).await
        } else {
            Ok(())
        }
    }

    /// Adds what `wanted` has that the record lacks; true when status must be written (it
    /// grew, or it never was).
    pub(in crate::controller) fn grow(&mut self, wanted: &[OwnedResource]) -> bool {
        match record::before_writes(&self.entries, wanted) {
            Some(all) => {
                self.entries = all;
                true
            }
            None => !self.written,
        }
    }

    /// An empty record, as a new object's; `written` as a test's record says.
    #[cfg(test)]
    pub(in crate::controller) fn empty() -> RecordKeeper {
        RecordKeeper {
            entries: vec![],
            written: false,
            locations: None,
        }
    }

    #[cfg(test)]
    pub(in crate::controller) fn mark_written(&mut self) {
        self.written = true;
    }

    /// After every part is as planned: proofs and ways in follow what is live.
    pub(in crate::controller) fn refresh(&mut self, wanted: &[OwnedResource]) {
        if let Some(entries) = record::refreshed(&self.entries, wanted) {
            self.entries = entries;
            self.written = false;
        }
    }

    /// The REST API policy holding our statement for the method `arn` was written `at`: a
    /// stage serves its policy only once deployed after that (`policyWrittenAt`).
    pub(in crate::controller) fn note_policy_written(
        &mut self,
        arn: &str,
        at: k8s_openapi::jiff::Timestamp,
    ) {
        let at = Some(at.to_string());
        for e in self
            .entries
            .iter_mut()
            .filter(|e| e.kind == crate::api::OwnedKind::QueuePermission && e.arn == arn)
        {
            e.policy_written_at.clone_from(&at);
            self.written = false;
        }
    }

    /// A superseded resource whose removal failed stays, saying why.
    pub(in crate::controller) fn left_behind(&mut self, entry: &OwnedResource, why: String) {
        for e in self.entries.iter_mut().filter(|e| e.same_as(entry)) {
            if e.left_behind.as_deref() != Some(why.as_str()) {
                e.left_behind = Some(why.clone());
                self.written = false;
            }
        }
    }

    pub(in crate::controller) fn forget(&mut self, gone: &OwnedResource) {
        let before = self.entries.len();
        self.entries.retain(|e| !e.same_as(gone));
        if self.entries.len() != before {
            self.written = false;
        }
    }

    /// Writes the record into status, keeping every other status field as it was.
    pub(in crate::controller) async fn write(
        &mut self,
        api: &Api<EventBridgeIntegration>,
        obj: &EventBridgeIntegration,
    ) -> Result<(), Error> {
        let status = EventBridgeIntegrationStatus {
            resources: Some(self.entries.clone()),
            ..obj.status.clone().unwrap_or_default()
        };
        write_status(api, obj, &status).await?;
        self.written = true;
        if let Some(locations) = &self.locations {
            locations.record_written(
                &obj.namespace().unwrap_or_default(),
                &obj.name_any(),
                &self.entries,
            );
        }
        Ok(())
    }
}

/// Server-side apply of the whole status (deterministic fields only).
pub(in crate::controller) async fn write_status(
    api: &Api<EventBridgeIntegration>,
    obj: &EventBridgeIntegration,
    status: &EventBridgeIntegrationStatus,
) -> Result<(), kube::Error> {
    let patch = json!({"apiVersion": "eventbridge.dev/v1alpha1", "kind": "EventBridgeIntegration", "status": status});
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// Clients for the account and region an entry was recorded in. A remote account is
/// reached through the role recorded with the entry (with the external ID the pass's
/// admission or a policy gives for it); an entry of another account without one cannot be
/// reached with the controller's credentials and is reported, not guessed at.
pub(in crate::controller) async fn clients_for(
    obj: &EventBridgeIntegration,
    ctx: &Context,
    local: &Clients,
    entry: &OwnedResource,
    admitted: Option<&Admission>,
) -> Result<Clients, Error> {
    // IAM is global: its entries carry no region, any regional endpoint serves them.
    let region = entry.region.clone().unwrap_or_else(|| local.region.clone());
    if let Some(via) = &entry.via_role_arn {
        // Today's way into the entry's account first (a provisioning role or external ID
        // rotated since the entry was recorded), then the way it was recorded with.
        let mut ways = Vec::new();
        let current = admitted.and_then(|a| a.remote.as_ref()).filter(|_| {
            obj.spec
                .cross_account
                .as_ref()
                .is_some_and(|x| x.target_account_id == entry.account_id)
        });
        ways.extend(current.cloned());
        let mut failed = None;
        if ways.iter().all(|w| &w.role_arn != via) {
            // The recorded way is only a fallback: that it no longer resolves must not
            // keep today's way from being tried.
            match way_in(obj, ctx, via, admitted).await {
                Ok(access) => ways.push(access),
                Err(e) if ways.is_empty() => return Err(e),
                Err(_) => {}
            }
        }
        for access in &ways {
            match ctx
                .aws
                .remote_clients(&region, access, &entry.account_id)
                .await
            {
                Ok(clients) => return Ok(clients),
                Err(e) => failed = Some(e),
            }
        }
        return Err(match failed {
            Some(e) => e.into(),
            None => Error::Dependency(format!(
                "no way into account {} is known (no provisioning role recorded or in the spec)",
                entry.account_id
            )),
        });
    }
    let clients = ctx.aws.clients(&region);
    let account = ctx.aws.account_id(&clients).await?;
    if account != entry.account_id {
        return Err(Error::Dependency(format!(
            "{} was recorded in account {}, but the controller's credentials are for account {account}; restore the controller's credentials for that account, or set deletionPolicy: Retain and remove it by hand",
            entry.describe(),
            entry.account_id
        )));
    }
    Ok(clients)
}

/// The owner a pass writes into tags and records: this cluster and the object.
pub(in crate::controller) fn owner_of(obj: &EventBridgeIntegration, ctx: &Context) -> Owner {
    Owner {
        cluster: ctx.settings.cluster_id.clone(),
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
        uid: obj.uid().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    //! The record's own I/O against a double of the Kubernetes API that logs each request:
    //! the places are kept before the record, the record before any AWS write (the pass's
    //! order, `converge::record_then_write`), and nothing is written twice.

    use std::sync::Mutex;
    use std::task::{Context as TaskContext, Poll};

    use super::*;

    /// Answers every request as the API server would for these two writes, and logs it.
    #[derive(Clone, Default)]
    struct ApiDouble {
        log: Arc<Mutex<Vec<String>>>,
        /// A request whose path holds this fails, as etcd timing out does.
        refuse: Option<&'static str>,
        /// What a status write returns.
        object: serde_json::Value,
    }

    impl ApiDouble {
        fn requests(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }
    }

    impl tower_service::Service<http::Request<kube::client::Body>> for ApiDouble {
        type Response = http::Response<kube::client::Body>;
        type Error = kube::Error;
        type Future = futures::future::Ready<Result<Self::Response, kube::Error>>;

        fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), kube::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<kube::client::Body>) -> Self::Future {
            let path = request.uri().path().to_string();
            self.log
                .lock()
                .unwrap()
                .push(format!("{} {path}", request.method()));
            let (code, body) = if self.refuse.is_some_and(|r| path.contains(r)) {
                (
                    500,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "message": "etcdserver: request timed out", "reason": "InternalError", "code": 500}),
                )
            } else if path.contains("/configmaps/") {
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": crate::locations::CONFIGMAP, "namespace": "ebi-system"}}),
                )
            } else {
                (200, self.object.clone())
            };
            let response = http::Response::builder()
                .status(code)
                .header("content-type", "application/json")
                .body(kube::client::Body::from(serde_json::to_vec(&body).unwrap()))
                .unwrap();
            futures::future::ready(Ok(response))
        }
    }

    fn object() -> EventBridgeIntegration {
        serde_json::from_value(json!({
            "apiVersion": "eventbridge.dev/v1alpha1", "kind": "EventBridgeIntegration",
            "metadata": {"name": "orders", "namespace": "team-a", "uid": "uid-1"},
            "spec": {"rule": {"eventPattern": {"source": ["orders"]}},
                     "target": {"stepFunctions": {"stateMachineArn": "arn:aws:states:us-east-1:111122223333:stateMachine:orders"}}}
        }))
        .unwrap()
    }

    fn role_in(account: &str) -> OwnedResource {
        serde_json::from_value(json!({
            "kind": "Role", "partition": "aws", "accountId": account,
            "arn": format!("arn:aws:iam::{account}:role/orders"), "name": "orders"
        }))
        .unwrap()
    }

    /// A keeper whose places go to the double's ConfigMap, and the object's API.
    fn keeper_on(double: &ApiDouble) -> (RecordKeeper, Api<EventBridgeIntegration>) {
        let client = kube::Client::new(double.clone(), "ebi-system");
        let places = Arc::new(Locations::new(client.clone(), "ebi-system"));
        (
            RecordKeeper::empty().remembering(places),
            Api::namespaced(client, "team-a"),
        )
    }

    #[tokio::test]
    async fn the_places_are_kept_before_the_record_and_nothing_is_written_twice() {
        let double = ApiDouble {
            object: serde_json::to_value(object()).unwrap(),
            ..ApiDouble::default()
        };
        let (mut keeper, api) = keeper_on(&double);
        let wanted = [role_in("111122223333")];
        if let Err(e) = keeper.extend(&api, &object(), &wanted).await {
            panic!("{e}");
        }
        let requests = double.requests();
        assert_eq!(requests.len(), 2, "{requests:?}");
        assert!(
            requests[0].starts_with("PATCH /api/v1/namespaces/ebi-system/configmaps/"),
            "the place first: {requests:?}"
        );
        assert_eq!(
            requests[1],
            "PATCH /apis/eventbridge.dev/v1alpha1/namespaces/team-a/eventbridgeintegrations/orders/status"
        );
        assert_eq!(keeper.entries(), wanted);
        // The same again: the place is known and the record holds it all, so no request.
        if let Err(e) = keeper.extend(&api, &object(), &wanted).await {
            panic!("{e}");
        }
        assert_eq!(double.requests().len(), 2, "{:?}", double.requests());
    }

    #[tokio::test]
    async fn a_place_the_api_server_refuses_stops_the_record_before_status() {
        let double = ApiDouble {
            refuse: Some("/configmaps/"),
            object: serde_json::to_value(object()).unwrap(),
            ..ApiDouble::default()
        };
        let (mut keeper, api) = keeper_on(&double);
        match keeper
            .extend(&api, &object(), &[role_in("222222222222")])
            .await
        {
            Err(Error::Kube(kube::Error::Api(status))) => assert_eq!(status.code, 500),
            Err(other) => panic!("expected the API server's refusal, got {other}"),
            Ok(()) => panic!("a place not kept must stop the record"),
        }
        // The orphan report could not find the account: nothing may be recorded, so the
        // pass writes nothing to AWS.
        assert!(
            double.requests().iter().all(|r| !r.ends_with("/status")),
            "{:?}",
            double.requests()
        );
        assert!(keeper.entries().is_empty());
    }
}
