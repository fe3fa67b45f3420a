//! The bound on passes in flight (`--max-concurrent-reconciles`), enforced here, first come
//! first served, instead of by kube-runtime's `controller::Config::concurrency`.
//!
//! Why not kube-runtime's bound (kube-runtime 5.0.0, `controller/runner.rs` and
//! `scheduler.rs`): at its limit the runner moves every request that comes due into the
//! scheduler's `pending` set (`Scheduler::hold`, the fix for kube-rs/kube#1322, where such
//! requests were lost), and when a slot frees it takes `pending.iter().find(..)`: the first
//! in the hash set's iteration order, not the one that waited longest. While requests come
//! due faster than the slots serve them (resync passes of many objects, or a slow AWS), the
//! objects early in that order are served again and again and the others never: with a
//! bound of 1, six objects, passes of ~2 s (8 calls × 250 ms) and a 3 s resync, three
//! objects were reconciled every 6 s and three were never reconciled at all. The unit test
//! below reproduces it in-process.
//!
//! Here kube-runtime runs unbounded (it still never runs two passes of one object at once,
//! and holds a request for an object whose pass is running or waiting), and every pass
//! first waits for a permit of tokio's `Semaphore`, which is fair: permits go out in the
//! order they were asked for, so an object waits at most for the passes that came due before
//! it. One gate serves every watched namespace, so the bound is the process's, not each
//! namespace controller's. A pass still waiting when the controller stops (a signal, the
//! Lease lost) is not started.

use std::future::Future;

use tokio::sync::{watch, Semaphore};

pub struct Gate {
    permits: Semaphore,
    stopping: watch::Sender<bool>,
}

impl Gate {
    /// At most `bound` passes at once (0: unbounded).
    pub fn new(bound: u16) -> Gate {
        let permits = match bound {
            0 => Semaphore::MAX_PERMITS,
            n => usize::from(n),
        };
        Gate {
            permits: Semaphore::new(permits),
            stopping: watch::channel(false).0,
        }
    }

    /// Waits for a permit (in arrival order), then runs the pass `start` makes and returns
    /// its result. `None`, without starting it, when the controller began stopping first.
    pub async fn run<F, Fut>(&self, start: F) -> Option<Fut::Output>
    where
        F: FnOnce() -> Fut,
        Fut: Future,
    {
        let mut stopping = self.stopping.subscribe();
        let permit = tokio::select! {
            biased;
            _ = stopping.wait_for(|s| *s) => return None,
            permit = self.permits.acquire() => permit.ok()?,
        };
        // Boxed: kube-runtime starts a future for every object that comes due, and one that
        // waits here would otherwise hold a whole pass's state inline (tens of KB; with
        // 10,000 objects due at once, hundreds of MB). Only passes that run allocate it.
        let out = Box::pin(start()).await;
        drop(permit);
        Some(out)
    }

    /// No waiting pass starts from now on; running ones finish.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use futures::{stream, FutureExt, StreamExt};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::controller::{Action, Config};
    use kube::runtime::reflector::{self, ObjectRef};
    use kube::runtime::{applier, watcher};
    use kube::ResourceExt;

    use super::Gate;

    /// Passes per object name, and the most passes ever in flight at once.
    #[derive(Default)]
    struct Tally {
        passes: Mutex<BTreeMap<String, u32>>,
        in_flight: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Tally {
        async fn pass(&self, name: String) {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(2)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            *self.passes.lock().unwrap().entry(name).or_default() += 1;
        }
    }

    /// Six objects, passes of 2 s, each requeued 3 s after its pass: one slot can serve a
    /// quarter of what comes due, as in the end-to-end test with 250 ms AWS answers. Runs
    /// kube-runtime's applier for 120 s of (paused) time and returns the tally.
    async fn saturated(concurrency: u16, gate: Option<Arc<Gate>>) -> Arc<Tally> {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        let mut refs = vec![];
        writer.apply_watcher_event(&watcher::Event::Init);
        for i in 0..6 {
            let mut cm = ConfigMap::default();
            cm.metadata.name = Some(format!("object-{i}"));
            cm.metadata.namespace = Some("default".into());
            refs.push(Ok::<_, Infallible>(ObjectRef::from_obj(&cm)));
            writer.apply_watcher_event(&watcher::Event::InitApply(cm));
        }
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let tally = Arc::new(Tally::default());
        let reconcile = {
            let tally = tally.clone();
            move |obj: Arc<ConfigMap>, _: Arc<()>| {
                let tally = tally.clone();
                let gate = gate.clone();
                async move {
                    let name = obj.name_any();
                    match gate {
                        Some(gate) => gate.run(|| tally.pass(name)).await.unwrap(),
                        None => tally.pass(name).await,
                    }
                    Ok::<_, std::io::Error>(Action::requeue(Duration::from_secs(3)))
                }
                .boxed()
            }
        };
        applier(
            reconcile,
            |_, _, _| Action::await_change(),
            Arc::new(()),
            store,
            stream::iter(refs).chain(stream::pending()),
            Config::default().concurrency(concurrency),
        )
        .take_until(tokio::time::sleep(Duration::from_secs(120)))
        .for_each(|_| async {})
        .await;
        tally
    }

    /// The mechanism this module works around. If it fails, kube-runtime serves its pending
    /// requests fairly now: the gate can go, and `Config::concurrency` be used again.
    #[tokio::test(start_paused = true)]
    async fn kube_runtimes_own_bound_starves_objects_under_load() {
        let tally = saturated(1, None).await;
        let passes = tally.passes.lock().unwrap().clone();
        assert_eq!(tally.peak.load(Ordering::SeqCst), 1);
        // The slot never idled (60 passes of 2 s in 120 s), yet some objects never had one.
        assert!(passes.values().sum::<u32>() >= 59, "{passes:?}");
        assert!(
            passes.len() < 6,
            "every object was reconciled under kube-runtime's bound: {passes:?}"
        );
        println!("kube-runtime's bound of 1, passes per object: {passes:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_gate_bounds_passes_and_serves_every_object_in_turn() {
        let tally = saturated(0, Some(Arc::new(Gate::new(1)))).await;
        let passes = tally.passes.lock().unwrap().clone();
        assert_eq!(tally.peak.load(Ordering::SeqCst), 1, "one pass at a time");
        // 120 s / 2 s = 60 passes, served round-robin: 10 each, give or take the last one.
        assert_eq!(passes.len(), 6, "{passes:?}");
        assert!(passes.values().all(|n| (9..=10).contains(n)), "{passes:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_bound_of_three_runs_three_at_once() {
        let tally = saturated(0, Some(Arc::new(Gate::new(3)))).await;
        assert_eq!(tally.peak.load(Ordering::SeqCst), 3);
        assert_eq!(tally.passes.lock().unwrap().len(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_pass_does_not_start_once_stopping() {
        let gate = Arc::new(Gate::new(1));
        let (release, held) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn({
            let gate = gate.clone();
            async move { gate.run(|| held).await }
        });
        tokio::task::yield_now().await;
        let started = Arc::new(AtomicUsize::new(0));
        let waiting = tokio::spawn({
            let (gate, started) = (gate.clone(), started.clone());
            async move {
                gate.run(|| async move {
                    started.fetch_add(1, Ordering::SeqCst);
                })
                .await
            }
        });
        tokio::task::yield_now().await;
        gate.stop();
        assert_eq!(waiting.await.unwrap(), None, "not started");
        assert_eq!(started.load(Ordering::SeqCst), 0);
        release.send(()).unwrap();
        assert!(
            matches!(running.await.unwrap(), Some(Ok(()))),
            "the running pass finishes"
        );
        assert_eq!(gate.run(|| async { 1 }).await, None, "nothing starts later");
    }
}
