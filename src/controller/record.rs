//! The ownership record's I/O: keeping `status.resources` current as a pass or a clean-up
//! goes, and reaching each recorded resource in the account and region it was recorded in.

use std::sync::Arc;

use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::admission::{way_in, Admission};
use super::Context;
use crate::api::{EventBridgeIntegration, EventBridgeIntegrationStatus, OwnedResource};
use crate::aws::Clients;
use crate::locations::Locations;
use crate::plan::{record, Owner};
use crate::Error;
use crate::FIELD_MANAGER;

/// The record as this reconcile knows it: starts from status, grows before writes, shrinks
/// as removals succeed. `written` tells whether status already holds exactly `entries`.
pub(super) struct RecordKeeper {
    entries: Vec<OwnedResource>,
    written: bool,
    /// Where the places of what is recorded are kept for the orphan report, if anywhere.
    locations: Option<Arc<Locations>>,
}

impl RecordKeeper {
    /// The record of `obj`'s status; a status that predates the record yields rule and role
    /// entries rebuilt from its older fields.
    pub(super) fn from_status(
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
    pub(super) fn remembering(self, locations: Arc<Locations>) -> RecordKeeper {
        RecordKeeper {
            locations: Some(locations),
            ..self
        }
    }

    pub(super) fn entries(&self) -> &[OwnedResource] {
        &self.entries
    }

    pub(super) fn into_entries(self) -> Vec<OwnedResource> {
        self.entries
    }

    /// Records `wanted` in status before anything of it is created. No write when the
    /// record already holds all of it.
    pub(super) async fn extend(
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
    pub(super) fn grow(&mut self, wanted: &[OwnedResource]) -> bool {
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
    pub(super) fn empty() -> RecordKeeper {
        RecordKeeper {
            entries: vec![],
            written: false,
            locations: None,
        }
    }

    #[cfg(test)]
    pub(super) fn mark_written(&mut self) {
        self.written = true;
    }

    /// After every part is as planned: proofs and ways in follow what is live.
    pub(super) fn refresh(&mut self, wanted: &[OwnedResource]) {
        if let Some(entries) = record::refreshed(&self.entries, wanted) {
            self.entries = entries;
            self.written = false;
        }
    }

    /// A superseded resource whose removal failed stays, saying why.
    pub(super) fn left_behind(&mut self, entry: &OwnedResource, why: String) {
        for e in self.entries.iter_mut().filter(|e| e.same_as(entry)) {
            if e.left_behind.as_deref() != Some(why.as_str()) {
                e.left_behind = Some(why.clone());
                self.written = false;
            }
        }
    }

    pub(super) fn forget(&mut self, gone: &OwnedResource) {
        let before = self.entries.len();
        self.entries.retain(|e| !e.same_as(gone));
        if self.entries.len() != before {
            self.written = false;
        }
    }

    /// Writes the record into status, keeping every other status field as it was.
    pub(super) async fn write(
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
pub(super) async fn write_status(
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
pub(super) async fn clients_for(
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
pub(super) fn owner_of(obj: &EventBridgeIntegration, ctx: &Context) -> Owner {
    Owner {
        cluster: ctx.settings.cluster_id.clone(),
        namespace: obj.namespace().unwrap_or_default(),
        name: obj.name_any(),
        uid: obj.uid().unwrap_or_default(),
    }
}
