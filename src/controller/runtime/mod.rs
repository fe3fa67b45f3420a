//! The runtime: the loop that watches, gates and schedules passes, backoff, leader election,
//! and the drift-event listener that wakes objects. A pass itself is `super::pass`; what
//! both use (`Context`, the Event publisher, tenancy's watches) is `super`.

pub(super) mod backoff;
pub(super) mod drift_events;
pub(super) mod gate;
pub mod leader;
pub(super) mod schedule;
pub(super) mod watched;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Config as WatcherConfig;
use kube::runtime::{predicates, reflector, watcher, Controller, Predicate, WatchStreamExt};
use kube::{Api, Resource, ResourceExt};

use crate::api::EventBridgeIntegration;
use watched::WatchedMeta;

use super::events;
use super::pass::observe;
use super::pass::reconcile;
use super::{Context, RunError, FINALIZER};

/// Runs until SIGTERM/SIGINT. With leader election, each time this replica wins the Lease
/// it leads until it loses it, then stands by again.
pub async fn run(ctx: Arc<Context>) -> Result<(), RunError> {
    let apis = watched_apis::<WatchedMeta>(&ctx);
    for api in &apis {
        api.list(&kube::api::ListParams::default().limit(1))
            .await
            .map_err(RunError::CannotList)?;
    }
    // Healthy from here on, leader or standby.
    ctx.metrics
        .ready
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let Some(settings) = ctx.settings.leader.clone() else {
        ctx.metrics.set_leader(true);
        lead(ctx).await;
        return Ok(());
    };
    let mut ctx = ctx;
    loop {
        let term = tokio::select! {
            term = leader::acquire(ctx.lease_client.clone(), &settings, ctx.fence.clone()) => {
                term.map_err(|e| RunError::LeaderElection(e.to_string()))?
            }
            _ = shutdown_signal() => return Ok(()),
        };
        ctx.metrics.set_leader(true);
        // A lost Lease ends the term at once: the fence already refuses every write, and
        // dropping the term's controllers cancels the passes in flight (kube-runtime aborts
        // their tasks) rather than letting them run on to writes that would be refused.
        let stopped = tokio::select! {
            _ = lead(ctx.clone()) => true,
            _ = term.lost() => false,
        };
        ctx.metrics.set_leader(false);
        drop(term);
        if stopped {
            return Ok(());
        }
        tracing::warn!("passes in flight were cancelled; standing by to be elected again");
        ctx = Arc::new(ctx.next_term());
    }
}

/// One API per watched namespace, or one for all of them.
fn watched_apis<K>(ctx: &Context) -> Vec<Api<K>>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    if ctx.settings.namespaces.is_empty() {
        vec![Api::all(ctx.client.clone())]
    } else {
        ctx.settings
            .namespaces
            .iter()
            .map(|ns| Api::namespaced(ctx.client.clone(), ns))
            .collect()
    }
}

/// Every watched object as the API server holds it (with status), 500 a page, each handed
/// to `each` and dropped: the start-up schedule and the drift events' index read them so,
/// never all at once. An object this version cannot read is skipped (its pass reports it).
async fn for_each_watched(
    ctx: &Context,
    mut each: impl FnMut(&EventBridgeIntegration),
) -> Result<(), kube::Error> {
    for api in watched_apis::<DeserializeGuard<EventBridgeIntegration>>(ctx) {
        let mut params = kube::api::ListParams::default().limit(500);
        loop {
            let page = api.list(&params).await?;
            for obj in page.items.iter().filter_map(|g| g.0.as_ref().ok()) {
                each(obj);
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
    }
    Ok(())
}

/// Aborts a spawned task when dropped (a term that ends takes its helpers with it).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reconciles until SIGTERM/SIGINT (the caller also ends it when the Lease is lost).
async fn lead(ctx: Arc<Context>) {
    let began = std::time::Instant::now();
    // The controller's own account, read once now (a standby makes no AWS call): admission
    // needs it, and a pass for an integration no policy permits must make no AWS call at
    // all. Failing here is not fatal (the first pass that needs it reads it again).
    let home = ctx.aws.clients(&ctx.settings.default_region);
    if let Err(e) = ctx.aws.account_id(&home).await {
        tracing::warn!("cannot read the controller's own AWS account yet: {e}");
    }
    // Values older versions wrote with an external ID lose it.
    match ctx.locations.scrub().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            scrubbed = n,
            "removed external IDs from the ConfigMap of places"
        ),
        Err(e) => tracing::warn!("cannot scrub external IDs from the ConfigMap of places: {e}"),
    }
    // Admission decides from the policies and namespaces in memory: both are listed in full
    // before the first pass.
    let _tenancy_watch = match &ctx.tenancy {
        Some(t) => {
            let watch = AbortOnDrop(tokio::spawn(t.clone().watch(true)));
            t.ready().await;
            Some(watch)
        }
        None => None,
    };
    // Objects in sync when the last controller stopped keep their resync slots (see
    // `schedule`): decided from one list, read once the watches have their own (at 10,000
    // objects each takes ~5 s, and together each took longer); only objects that may have
    // been in sync wait for it.
    let apis = watched_apis::<WatchedMeta>(&ctx);
    let _startup = AbortOnDrop(tokio::spawn(schedule::plan_startup(
        ctx.clone(),
        apis.len(),
    )));
    let _heartbeat = AbortOnDrop(tokio::spawn(schedule::beat(ctx.clone())));
    // Passes still waiting for a slot do not start once the process is stopping.
    let _stopper = AbortOnDrop(tokio::spawn({
        let ctx = ctx.clone();
        async move {
            shutdown_signal().await;
            ctx.gate.stop();
        }
    }));
    // Drift events: their rules, queues and pollers live as long as the term; without them,
    // what an earlier run left is removed.
    let _drift = AbortOnDrop(match &ctx.drift {
        Some(d) => tokio::spawn(drift_events::run(ctx.clone(), d.clone())),
        None => tokio::spawn(drift_events::remove_all(ctx.clone())),
    });
    let _reclaimer = AbortOnDrop(tokio::spawn({
        let ctx = ctx.clone();
        async move { ctx.gate.reclaim_untaken_turns().await }
    }));
    // One controller per watched namespace: each has its own cache, so one namespace's
    // re-list never drops another's objects.
    let watches = apis.len();
    futures::future::join_all(
        apis.into_iter()
            .map(|api| run_one(api, ctx.clone(), watches, began)),
    )
    .await;
}

/// SIGINT or SIGTERM, as kube-runtime's `shutdown_on_signal` hears them.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

/// How the gate knows an object: its name and namespace (kube-runtime's cache key).
pub(super) type ObjectKey = ObjectRef<WatchedMeta>;

/// One pass, once the gate lets it through; when every permit is out, the object joins the
/// gate's queue and this returns at once (its turn comes back through `turns`). The cache
/// holds metadata only (at 10,000 objects, whole objects with their status would be most of
/// the controller's memory), so the pass reads the object now, as the API server holds it
/// (an object gone meanwhile has nothing left to do).
async fn reconcile_gated(
    meta: Arc<WatchedMeta>,
    ctx: Arc<Context>,
    turns: gate::Turns<ObjectKey>,
) -> Result<kube::runtime::controller::Action, crate::Error> {
    let namespace = meta.namespace().unwrap_or_default();
    let name = meta.name_any();
    let key = ObjectKey::new(&name).within(&namespace);
    let deleting = meta.metadata.deletion_timestamp.is_some();
    let generation = meta.metadata.generation;
    let finalized = meta.finalizers().iter().any(|f| f == FINALIZER);
    let contact = |startup: &schedule::Startup| {
        let now = schedule::millis(SystemTime::now());
        startup.first_contact(&key, generation, deleting, finalized, now)
    };
    let mut first = contact(&ctx.startup);
    if first == schedule::Contact::AfterTheList {
        ctx.startup.listed().await;
        first = contact(&ctx.startup);
    }
    if let schedule::Contact::Decided(Some(first)) = first {
        ctx.metrics.first_pass(first.label());
        match first {
            schedule::FirstPass::Urgent => {}
            schedule::FirstPass::Overdue => ctx.urgency.remember(&key, generation),
            schedule::FirstPass::AtSlot(at) => {
                ctx.urgency.remember(&key, generation);
                let wait = at.saturating_sub(schedule::millis(SystemTime::now()));
                return Ok(kube::runtime::controller::Action::requeue(
                    Duration::from_millis(wait),
                ));
            }
        }
    }
    let (lane, heard) = ctx
        .urgency
        .classify_heard(&key, generation, deleting, finalized);
    let Some(permit) = ctx.gate.enter(&key, lane, &turns) else {
        tracing::debug!(%namespace, %name, ?lane, "every permit is out: waiting at the gate");
        return Ok(kube::runtime::controller::Action::await_change());
    };
    tracing::debug!(%namespace, %name, lane = ?permit.lane, "pass starts");
    let in_flight = ctx.metrics.health.pass_started();
    // Boxed: kube-runtime spawns a task for every object that comes due, sized for the
    // largest state of its future; only passes that run allocate a whole pass's (tens of KB).
    let resync = permit.lane == gate::Lane::Background;
    let out = crate::aws::rate_limit::in_lane(
        resync,
        observe::reading_directly(heard, async {
            let api: Api<DeserializeGuard<EventBridgeIntegration>> =
                Api::namespaced(ctx.client.clone(), &namespace);
            match api.get_opt(&name).await.map_err(crate::Error::Kube)? {
                Some(latest) => reconcile_guarded(Arc::new(latest), ctx.clone()).await,
                None => {
                    ctx.urgency.forget(&key);
                    Ok(kube::runtime::controller::Action::await_change())
                }
            }
        }),
    )
    .await;
    in_flight.ended();
    drop(permit);
    out
}

/// An object the API server holds but this version cannot read (a field of the wrong type,
/// written around the schema): reported on the object, never allowed to stop the watch.
async fn reconcile_guarded(
    guarded: Arc<DeserializeGuard<EventBridgeIntegration>>,
    ctx: Arc<Context>,
) -> Result<kube::runtime::controller::Action, crate::Error> {
    match &guarded.0 {
        Ok(obj) => {
            if let Some(d) = &ctx.drift {
                d.observe(obj);
            }
            reconcile::reconcile(Arc::new(obj.clone()), ctx).await
        }
        Err(invalid) => {
            tracing::warn!(namespace = ?invalid.metadata.namespace, name = ?invalid.metadata.name, "cannot read the object: {}", invalid.error);
            ctx.metrics
                .reconciled(crate::Category::InvalidSpec.as_str(), 0.0);
            let note = format!(
                "the controller cannot read this object: {}; fix the field (kubectl edit) and it is reconciled again",
                invalid.error
            );
            ctx.events
                .publish(
                    &guarded.object_ref(&()),
                    &events::EventText {
                        type_: events::EventType::Warning,
                        reason: "InvalidObject",
                        action: "Reconcile",
                        note: &events::truncate(&note, 1000),
                    },
                )
                .await
                .ok();
            Ok(kube::runtime::controller::Action::await_change())
        }
    }
}

fn error_policy_meta(
    meta: Arc<WatchedMeta>,
    err: &crate::Error,
    ctx: Arc<Context>,
) -> kube::runtime::controller::Action {
    let key = ObjectRef::<EventBridgeIntegration>::new(&meta.name_any())
        .within(&meta.namespace().unwrap_or_default());
    reconcile::error_policy(&key, err, ctx)
}

/// One watch of `watches`, in a term that began at `began`.
/// A change of the policies selecting a namespace re-queues its integrations at once.
fn policy_requeues(
    ctx: &Arc<Context>,
    reader: &reflector::Store<WatchedMeta>,
) -> futures::stream::BoxStream<'static, ObjectKey> {
    let Some(t) = &ctx.tenancy else {
        return futures::stream::pending().boxed();
    };
    let (cached, urgency) = (reader.clone(), ctx.clone());
    t.subscribe()
        .flat_map(move |namespaces| {
            let due: Vec<ObjectKey> = cached
                .state()
                .iter()
                .filter(|o| o.namespace().is_some_and(|ns| namespaces.contains(&ns)))
                .map(|o| ObjectKey::from_obj(o))
                .inspect(|key| urgency.urgency.nudge(key))
                .collect();
            futures::stream::iter(due)
        })
        .boxed()
}

/// A drift event for a resource an object of this watch records re-queues it, urgent.
fn drift_requeues(
    ctx: &Arc<Context>,
    reader: &reflector::Store<WatchedMeta>,
) -> futures::stream::BoxStream<'static, ObjectKey> {
    let Some(d) = &ctx.drift else {
        return futures::stream::pending().boxed();
    };
    let (cached, urgency) = (reader.clone(), ctx.clone());
    d.subscribe()
        .filter_map(move |(ns, name)| {
            let key = ObjectKey::new(&name).within(&ns);
            let held = cached.get(&key).is_some();
            if held {
                urgency.urgency.nudge(&key);
            }
            futures::future::ready(held.then_some(key))
        })
        .boxed()
}

async fn run_one(
    api: Api<WatchedMeta>,
    ctx: Arc<Context>,
    watches: usize,
    began: std::time::Instant,
) {
    let (reader, writer) = reflector::store();
    // Status-only updates do not pass the filter (generation is unchanged), so writing
    // status never wakes the controller; finalizer changes do pass.
    let health = ctx.clone();
    // From the apiserver's watch cache (resourceVersion=0), in one response: kube-core sends
    // no resourceVersion at all when a page size is set (it may not page the cache), so
    // kube-runtime's default of 500 made this list 20 quorum reads from etcd, 4.4 s of 10,000
    // objects' metadata, for 0.8 s from the cache (docs/behaviour.md, restart). The body,
    // ~2 KB an object, is held once while `WatchedMeta` decodes the little it keeps.
    let mut from_cache = WatcherConfig::default().any_semantic();
    from_cache.page_size = None;
    let stream = watcher(api, from_cache)
        .default_backoff()
        .inspect(move |event| health.metrics.health.watch_result(event.is_ok()))
        .modify(|o: &mut WatchedMeta| {
            // Copied into every `ObjectRef` kube-runtime keeps (store, scheduler, filter) and
            // read by none of them; the watcher resumed from it before this (`WatchedMeta`
            // keeps nothing else the cache does not need). The UID stays: the filter tells a
            // re-created object from the old one by it.
            o.metadata.resource_version = None;
        })
        .reflect(writer)
        .inspect({
            // The start-up list waits for this watch's own (see `schedule::plan_startup`),
            // told here, once the cache holds it: not by `Store::wait_until_ready`, whose
            // future wakes only the last of two waiters (kube-runtime 5's `DelayedInit`
            // keeps one oneshot receiver), and the controller's runner waits on it.
            let (ctx, mut told) = (ctx.clone(), false);
            move |event| {
                if !told && matches!(event, Ok(watcher::Event::InitDone)) {
                    told = true;
                    if ctx.startup.watch_synced() == watches {
                        ctx.metrics.cache_synced(began.elapsed());
                    }
                }
            }
        })
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::finalizers),
            Default::default(),
        );
    // Unbounded here: `--max-concurrent-reconciles` is the gate's (kube-runtime's own bound
    // starves objects under load, see `gate`). kube-runtime still runs one pass per object
    // at a time.
    let config = kube::runtime::controller::Config::default().concurrency(0);
    // The gate announces an object's turn here (see `gate`).
    let (turns, turns_heard) = futures::channel::mpsc::unbounded();
    let requeues = policy_requeues(&ctx, &reader);
    let drifted = drift_requeues(&ctx, &reader);
    let controller = Controller::for_stream(stream, reader)
        .with_config(config)
        .reconcile_on(futures::stream::select(
            turns_heard,
            futures::stream::select(requeues, drifted),
        ))
        .shutdown_on_signal();
    let gate_ctx = ctx.clone();
    controller
        .run(
            move |meta, ctx| reconcile_gated(meta, ctx, turns.clone()),
            error_policy_meta,
            ctx,
        )
        .for_each(|result| {
            match result {
                // An object whose turn came left the cache meanwhile: the next one goes now.
                Err(kube::runtime::controller::Error::ObjectNotFound(gone)) => {
                    let key =
                        ObjectKey::new(&gone.name).within(gone.namespace.as_deref().unwrap_or(""));
                    gate_ctx.urgency.forget(&key);
                    gate_ctx.gate.forfeit(&key);
                }
                Err(e) => tracing::debug!("reconcile ended with error: {e}"),
                Ok(_) => {}
            }
            futures::future::ready(())
        })
        .await;
}
