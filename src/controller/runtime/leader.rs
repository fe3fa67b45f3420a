//! Leader election on a `coordination.k8s.io/v1` Lease (kube-lease-manager): with several
//! replicas, only the Lease holder reconciles and writes. A term ends when the lease manager
//! says the Lease is lost, or when the write fence (`crate::fence`) lapses because no renewal
//! has been seen in time — whichever comes first. Then every write is refused at once, the
//! passes in flight are cancelled, and the replica stands by to be elected again.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;

use crate::fence::Fence;
use crate::telemetry::Metrics;

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

impl LeaderSettings {
    /// How long before a standby could take over the fence closes: for clock skew between
    /// nodes and for a request already on its way. Below the renew grace, so a leader that
    /// renews on time never sees its fence close.
    pub fn fence_margin(&self) -> Duration {
        Duration::from_secs(1).min(Duration::from_secs(self.renew_grace) / 2)
    }
}

/// One term as leader. Dropping it closes the fence and ends the lease manager (which
/// releases the Lease if it still holds it).
pub struct Term {
    channel: watch::Receiver<bool>,
    fence: Arc<Fence>,
    feeder: tokio::task::JoinHandle<()>,
}

impl Drop for Term {
    fn drop(&mut self) {
        self.fence.close();
        self.feeder.abort();
    }
}

/// Waits until this replica holds the Lease and has seen it say so (the fence is open).
pub async fn acquire(
    client: Client,
    s: &LeaderSettings,
    fence: Arc<Fence>,
) -> Result<Term, LeaseManagerError> {
    let manager = LeaseManagerBuilder::new(client.clone(), &s.lease_name)
        .with_namespace(&s.namespace)
        .with_identity(&s.identity)
        .with_duration(s.lease_duration)
        .with_grace(s.renew_grace)
        .build()
        .await?;
    let (mut channel, task) = manager.watch().await;
    // The manager runs until the channel is dropped (with the term).
    tokio::spawn(async move {
        if let Ok(Err(e)) = task.await {
            tracing::error!("leader election stopped: {e}");
        }
    });
    let term = Term {
        channel: channel.clone(),
        fence: fence.clone(),
        feeder: tokio::spawn(feed_fence(client, s.clone(), fence.clone())),
    };
    tracing::info!(lease = %s.lease_name, namespace = %s.namespace, identity = %s.identity, "waiting to become leader");
    loop {
        while !*channel.borrow_and_update() {
            if channel.changed().await.is_err() {
                return Err(LeaseManagerError::InconsistentState(
                    "the lease manager stopped".into(),
                ));
            }
        }
        // The manager says so; the fence opens once the watch of the Lease shows it too. If
        // it does not within a Lease's duration, the claim was lost again meanwhile.
        let shown = tokio::time::timeout(Duration::from_secs(s.lease_duration), fence.opened());
        tokio::select! {
            shown = shown => match shown {
                Ok(()) => break,
                Err(_) => tracing::warn!("the Lease was won but never seen naming this replica; waiting again"),
            },
            _ = channel.changed() => {}
        }
    }
    tracing::info!(identity = %s.identity, "became leader");
    Ok(term)
}

impl Term {
    /// Resolves when this term is over: the lease manager lost the Lease, or the fence lapsed
    /// (no renewal seen before the Lease could be taken over). The fence is closed by then.
    pub async fn lost(&self) {
        let mut channel = self.channel.clone();
        let manager_says = async {
            loop {
                if !*channel.borrow_and_update() || channel.changed().await.is_err() {
                    return "the lease manager lost the Lease";
                }
            }
        };
        let why = tokio::select! {
            why = manager_says => why,
            _ = self.fence.lapsed() => "no renewal of the Lease was seen before it could be taken over",
        };
        self.fence.close();
        tracing::warn!("leadership lost: {why}; every write is refused from now on");
    }
}

/// Keeps the fence in step with the Lease as the API server holds it: open until the
/// Lease could be taken over while it names this replica, closed otherwise. A failing watch
/// changes nothing, so the fence lapses on its own when renewals go unseen.
async fn feed_fence(client: Client, s: LeaderSettings, fence: Arc<Fence>) {
    let api: Api<Lease> = Api::namespaced(client, &s.namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={}", s.lease_name));
    let mut events = watcher(api, config).default_backoff().boxed();
    let mut listed = false;
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Apply(lease) | watcher::Event::InitApply(lease)) => {
                listed = true;
                observe(&fence, &lease, &s);
            }
            Ok(watcher::Event::Delete(_)) => fence.close(),
            Ok(watcher::Event::Init) => listed = false,
            Ok(watcher::Event::InitDone) if !listed => fence.close(),
            Ok(watcher::Event::InitDone) => {}
            Err(e) => tracing::debug!("watch of the Lease: {e}"),
        }
    }
}

fn observe(fence: &Fence, lease: &Lease, s: &LeaderSettings) {
    let spec = lease.spec.as_ref();
    let ours = spec.and_then(|l| l.holder_identity.as_deref()) == Some(s.identity.as_str());
    let renewed = spec.and_then(|l| l.renew_time.as_ref());
    let duration = spec.and_then(|l| l.lease_duration_seconds);
    match (ours, renewed, duration) {
        (true, Some(renewed), Some(seconds)) if seconds > 0 => fence.held_until(
            SystemTime::from(renewed.0),
            Duration::from_secs(seconds.unsigned_abs().into()),
            s.fence_margin(),
        ),
        _ => fence.close(),
    }
}

/// The controller's Kubernetes client: every write (anything but GET, HEAD, OPTIONS) leaves
/// only while the fence allows, and is counted (`ebi_kubernetes_writes_total`). The lease
/// manager keeps the plain client: renewing the Lease is how the fence reopens.
pub fn fenced_client(client: Client, fence: Arc<Fence>, metrics: Arc<Metrics>) -> Client {
    let namespace = client.default_namespace().to_string();
    Client::new(
        FencedService {
            client,
            fence,
            metrics,
        },
        namespace,
    )
}

#[derive(Clone)]
struct FencedService {
    client: Client,
    fence: Arc<Fence>,
    metrics: Arc<Metrics>,
}

type KubeResponse = http::Response<kube::client::Body>;

impl tower_service::Service<http::Request<kube::client::Body>> for FencedService {
    type Response = KubeResponse;
    type Error = kube::Error;
    type Future = futures::future::BoxFuture<'static, Result<KubeResponse, kube::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), kube::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<kube::client::Body>) -> Self::Future {
        use http::Method;
        let writes = ![Method::GET, Method::HEAD, Method::OPTIONS].contains(request.method());
        if writes {
            if let Err(fenced) = self.fence.check() {
                self.metrics.fenced_request("kubernetes");
                return Box::pin(futures::future::ready(Err(kube::Error::Service(Box::new(
                    fenced,
                )))));
            }
            self.metrics
                .kubernetes_write(request.uri().path().ends_with("/status"));
        }
        let client = self.client.clone();
        Box::pin(async move { client.send(request).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    fn settings() -> LeaderSettings {
        LeaderSettings {
            namespace: "ns".into(),
            lease_name: "lease".into(),
            identity: "me".into(),
            lease_duration: 6,
            renew_grace: 2,
        }
    }

    fn lease(holder: &str, renewed: k8s_openapi::jiff::Timestamp) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                renew_time: Some(MicroTime(renewed)),
                lease_duration_seconds: Some(6),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_fence_follows_the_lease() {
        let fence = Fence::closed();
        let now = k8s_openapi::jiff::Timestamp::now();
        observe(&fence, &lease("me", now), &settings());
        assert!(fence.check().is_ok(), "ours, just renewed");
        observe(&fence, &lease("other", now), &settings());
        assert!(fence.check().is_err(), "another holder");
        let long_ago = now - k8s_openapi::jiff::SignedDuration::from_secs(6);
        observe(&fence, &lease("me", long_ago), &settings());
        assert!(
            fence.check().is_err(),
            "ours, but a standby may take it over any moment (the margin)"
        );
        observe(&fence, &Lease::default(), &settings());
        assert!(fence.check().is_err());
        assert_eq!(settings().fence_margin(), Duration::from_secs(1));
    }
}
