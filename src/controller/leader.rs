//! Leader election on a `coordination.k8s.io/v1` Lease (kube-lease-manager): with several
//! replicas, only the Lease holder reconciles and writes status. A replica that loses the
//! Lease stops reconciling and exits, to come back as a standby — never two writers.

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct LeaderSettings {
    pub namespace: String,
    pub lease_name: String,
    pub identity: String,
    /// Seconds a holder's claim lasts without renewal; a standby takes over after it.
    pub lease_duration: u64,
    /// Seconds before expiry at which the holder renews.
    pub renew_grace: u64,
}

/// Waits until this replica holds the Lease; returns a receiver that turns false on loss.
pub async fn acquire(
    client: Client,
    s: &LeaderSettings,
) -> Result<watch::Receiver<bool>, LeaseManagerError> {
    let manager = LeaseManagerBuilder::new(client, &s.lease_name)
        .with_namespace(&s.namespace)
        .with_identity(&s.identity)
        .with_duration(s.lease_duration)
        .with_grace(s.renew_grace)
        .build()
        .await?;
    let (mut channel, task) = manager.watch().await;
    // The manager runs until the channel is dropped; keep it alive for the process.
    tokio::spawn(async move {
        if let Ok(Err(e)) = task.await {
            tracing::error!("leader election stopped: {e}");
        }
    });
    tracing::info!(lease = %s.lease_name, namespace = %s.namespace, identity = %s.identity, "waiting to become leader");
    while !*channel.borrow_and_update() {
        if channel.changed().await.is_err() {
            return Err(LeaseManagerError::InconsistentState(
                "the lease manager stopped".into(),
            ));
        }
    }
    tracing::info!(identity = %s.identity, "became leader");
    Ok(channel)
}

/// Resolves when leadership is lost.
pub async fn lost(mut channel: watch::Receiver<bool>) {
    loop {
        if !*channel.borrow_and_update() {
            return;
        }
        if channel.changed().await.is_err() {
            return;
        }
    }
}
