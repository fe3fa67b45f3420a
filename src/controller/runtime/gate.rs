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
//! Here kube-runtime runs unbounded (it still never runs two passes of one object at once),
//! and a pass that comes due when every permit is taken does not wait inside kube-runtime:
//! its object's key joins this gate's queue and the pass returns at once. When a permit
//! frees, it is kept for the object first in the queue, whose key is sent back to its
//! controller (`Controller::reconcile_on`), and that pass takes it. Objects are served in the
//! order they came due, and one that waits costs its key (~0.3 KB), not a pass parked in
//! kube-runtime's runner: a spawned task, a tracing span and a slot of the runner's map
//! (~0.5 KB a slot), and every wake-up of the runner polled each parked pass. The map never
//! shrinks: with 10,000 objects applied faster than they converged it kept 8 MB of slots
//! for good (heaptrack, `make bench-memory`). It still grows once at start-up, when
//! kube-runtime hands the runner every cached object at once. One gate serves every watched
//! namespace, so the bound is the
//! process's, not each namespace controller's. Objects still waiting when the controller
//! stops (a signal, the Lease lost) are not started.
//!
//! Two lanes (issue 22): a pass someone waits for (an object new to this process, whose
//! generation changed, being deleted, or re-queued by a policy change) is `Lane::Urgent`; a
//! resync is `Lane::Background`. A freed permit goes to the urgent lane first, but at most
//! `URGENT_IN_A_ROW` times in a row while a background object waits: an urgent pass waits
//! for at most one permit to free plus one background pass, and background passes keep at
//! least 1/(`URGENT_IN_A_ROW` + 1) of the permits freed while both lanes wait.
//!
//! Resyncs hold at most the bound less one permit (with a bound of 2 or more): one permit is
//! always free for an urgent pass, so an apply during a restart backlog never waits for a
//! resync to end (at 10,000 objects the first 8 resyncs after a restart each waited ~8 s
//! for the account's first snapshots, and a new object waited behind them).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use prometheus_client::metrics::gauge::Gauge;
use tokio::time::Instant;

/// Where an object's turn is announced: the `reconcile_on` stream of its controller.
pub(in crate::controller) type Turns<K> = UnboundedSender<K>;

/// How long a permit is kept for an object whose turn came but whose pass has not taken it.
/// kube-runtime starts that pass at once, or says the object left its cache (then
/// `forfeit` hands the permit on); this is the safety net beyond both. It outlasts
/// kube-runtime's backoff of its trigger streams (at most 30 s, after a watch error), so a
/// turn delayed by it is not taken from its object.
const TURN_KEPT_FOR: Duration = Duration::from_secs(60);

/// A queue kept after a burst is shrunk back once it drains, beyond this many entries.
const KEPT_CAPACITY: usize = 1024;

/// The most urgent passes granted in a row while a background one waits.
pub(in crate::controller) const URGENT_IN_A_ROW: u32 = 8;

/// Which queue an object waits in when every permit is out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::controller) enum Lane {
    /// Someone waits for it: new, changed, deleting, or re-queued by an event.
    Urgent,
    /// A resync: nothing changed that the controller knows of.
    Background,
}

/// The lane of a pass: background only for an object this process already passed at the
/// same generation, not being deleted and not re-queued by an event since.
pub(in crate::controller) fn lane_of(
    last_passed: Option<i64>,
    generation: Option<i64>,
    deleting: bool,
    nudged: bool,
) -> Lane {
    match last_passed {
        Some(seen) if Some(seen) == generation && !deleting && !nudged => Lane::Background,
        _ => Lane::Urgent,
    }
}

/// What `lane_of` needs to remember between passes: the generation each object was last
/// passed at, and the objects re-queued by an event. Keys are kept as 64-bit hashes (16
/// bytes an object at 10,000 objects); a collision only costs a pass its lane.
#[derive(Default)]
pub(in crate::controller) struct Urgency {
    passed: Mutex<HashMap<u64, i64>>,
    nudged: Mutex<HashSet<u64>>,
}

pub(in crate::controller) fn hash_of<K: Hash>(key: &K) -> u64 {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

impl Urgency {
    /// An event re-queued `key` (a policy change): its next pass is urgent.
    pub(in crate::controller) fn nudge<K: Hash>(&self, key: &K) {
        lock(&self.nudged).insert(hash_of(key));
    }

    /// The lane of `key`'s pass at `generation`, remembered as passed from now on. A pass
    /// of an object without the controller's finalizer only adds it (kube-runtime's
    /// `finalizer` returns, and the finalizer's own watch event brings the real pass): it
    /// is not remembered, so that next pass keeps the lane a new object deserves (it went
    /// to the back of the resyncs, ~20 s behind 400 of them after a restart).
    #[cfg(test)]
    pub(in crate::controller) fn classify<K: Hash>(
        &self,
        key: &K,
        generation: Option<i64>,
        deleting: bool,
        finalized: bool,
    ) -> Lane {
        self.classify_heard(key, generation, deleting, finalized).0
    }

    /// `classify`, and whether an event re-queued `key` since its last pass (a drift event
    /// says AWS changed: that pass reads AWS directly, not from a snapshot taken before).
    pub(in crate::controller) fn classify_heard<K: Hash>(
        &self,
        key: &K,
        generation: Option<i64>,
        deleting: bool,
        finalized: bool,
    ) -> (Lane, bool) {
        let hash = hash_of(key);
        if !finalized && !deleting {
            // The nudge is kept for the pass that does the work (after the finalizer's).
            return (Lane::Urgent, lock(&self.nudged).contains(&hash));
        }
        let nudged = lock(&self.nudged).remove(&hash);
        let mut passed = lock(&self.passed);
        let lane = lane_of(passed.get(&hash).copied(), generation, deleting, nudged);
        match generation {
            Some(generation) => passed.insert(hash, generation),
            None => passed.remove(&hash),
        };
        (lane, nudged)
    }

    /// `key` is known at `generation` (a start-up list showed it in sync): its passes at
    /// that generation are resyncs.
    pub(in crate::controller) fn remember<K: Hash>(&self, key: &K, generation: Option<i64>) {
        if let Some(generation) = generation {
            lock(&self.passed).insert(hash_of(key), generation);
        }
    }

    /// The object is gone: nothing to remember.
    pub(in crate::controller) fn forget<K: Hash>(&self, key: &K) {
        let hash = hash_of(key);
        lock(&self.passed).remove(&hash);
        lock(&self.nudged).remove(&hash);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(in crate::controller) struct Gate<K> {
    bound: usize,
    /// The most permits the background lane holds at once (`bound` less the one kept for
    /// urgent passes).
    background_bound: usize,
    state: Mutex<State<K>>,
}

struct State<K> {
    /// Permits out: passes running, and turns announced but not yet taken.
    taken: usize,
    /// Of those, the ones the background lane holds.
    background_taken: usize,
    /// Objects that came due while every permit was out, first come first, per lane.
    urgent: VecDeque<(K, Turns<K>)>,
    /// With when each joined: the oldest is the schedule's heartbeat's horizon.
    background: VecDeque<(K, Turns<K>, Instant)>,
    queued: HashMap<K, Lane>,
    /// Urgent permits granted in a row (`URGENT_IN_A_ROW`).
    urgent_streak: u32,
    /// Moved by every change of the queue's length (`ebi_reconcile_queue_depth`).
    depth: Gauge,
    /// Turns announced and not yet taken, with when and the lane they waited in.
    announced: HashMap<K, (Instant, Lane)>,
    stopping: bool,
}

/// A pass may run while this is held; dropping it hands the permit on.
pub(in crate::controller) struct Permit<'a, K: Hash + Eq + Clone> {
    gate: &'a Gate<K>,
    /// The lane the pass came through (the one it waited in, if it waited): its AWS calls
    /// take that priority in the rate limiter (`aws::rate_limit::in_lane`).
    pub lane: Lane,
}

impl<K: Hash + Eq + Clone> Drop for Permit<'_, K> {
    fn drop(&mut self) {
        let gate = self.gate;
        gate.lock()
            .hand_on(self.lane, gate.bound, gate.background_bound);
    }
}

impl<K: Hash + Eq + Clone> Gate<K> {
    /// At most `bound` passes at once (0: unbounded); `depth` counts the objects waiting.
    /// The gauge moves by changes, not set to the length: a gate that ends beside its
    /// successor (a test, a restart in-process) never overwrites the other's count.
    pub(in crate::controller) fn new(bound: u16, depth: Gauge) -> Gate<K> {
        let bound = match bound {
            0 => usize::MAX,
            n => usize::from(n),
        };
        Gate {
            bound,
            background_bound: if bound >= 2 { bound - 1 } else { bound },
            state: Mutex::new(State {
                taken: 0,
                background_taken: 0,
                urgent: VecDeque::new(),
                background: VecDeque::new(),
                queued: HashMap::new(),
                urgent_streak: 0,
                depth,
                announced: HashMap::new(),
                stopping: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        lock(&self.state)
    }

    /// A permit for `key`'s pass now, or None: the object is queued in `lane` (its turn is
    /// sent to `turns`), was queued already, or the controller is stopping.
    pub(in crate::controller) fn enter(
        &self,
        key: &K,
        lane: Lane,
        turns: &Turns<K>,
    ) -> Option<Permit<'_, K>> {
        let mut state = self.lock();
        if state.stopping {
            return None;
        }
        state.reclaim_untaken_turns(self.bound, self.background_bound);
        // Its turn came: the permit was kept for it.
        if let Some((_, waited_in)) = state.announced.remove(key) {
            return Some(Permit {
                gate: self,
                lane: waited_in,
            });
        }
        // Nobody waits in its lane and a permit is free to it: no queue to join. An urgent
        // pass goes ahead of waiting resyncs (they wait for a permit they may take).
        let ahead = match lane {
            Lane::Urgent => state.urgent.len(),
            Lane::Background => state.waiting(),
        };
        if ahead == 0 && state.may_take(lane, self.bound, self.background_bound) {
            state.take(lane);
            return Some(Permit { gate: self, lane });
        }
        state.join(key, lane, turns);
        None
    }

    /// The object's turn came but it left kube-runtime's cache (deleted): its permit goes to
    /// the next in the queue now.
    pub(in crate::controller) fn forfeit(&self, key: &K) {
        let mut state = self.lock();
        if let Some((_, lane)) = state.announced.remove(key) {
            state.hand_on(lane, self.bound, self.background_bound);
        }
    }

    /// No queued object starts from now on; running passes finish.
    pub(in crate::controller) fn stop(&self) {
        let mut state = self.lock();
        state.stopping = true;
        state.depth.dec_by(state.waiting() as i64);
        state.urgent = VecDeque::new();
        state.background = VecDeque::new();
        state.queued = HashMap::new();
    }

    /// Hands on the permits of turns nobody took. Run for the life of the controller: a
    /// quiet controller would otherwise keep them, and its queue waiting, until the next
    /// object comes due.
    pub(in crate::controller) async fn reclaim_untaken_turns(&self) {
        loop {
            tokio::time::sleep(TURN_KEPT_FOR / 2).await;
            self.lock()
                .reclaim_untaken_turns(self.bound, self.background_bound);
        }
    }

    /// How long the resync first in the background lane has waited (None: none waits).
    /// Its slot is not kept until it runs (`schedule::beat`).
    pub(in crate::controller) fn oldest_background_wait(&self) -> Option<Duration> {
        self.lock()
            .background
            .front()
            .map(|(_, _, joined)| joined.elapsed())
    }

    /// Objects waiting for a permit.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.lock().waiting()
    }
}

impl<K> Drop for Gate<K> {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        state.depth.dec_by(state.waiting() as i64);
    }
}

impl<K> State<K> {
    fn waiting(&self) -> usize {
        self.urgent.len() + self.background.len()
    }
}

impl<K: Hash + Eq + Clone> State<K> {
    /// Queued once: a pass that comes due again while it waits keeps its place, unless it
    /// became urgent (its generation changed meanwhile): then it moves to the urgent lane.
    fn join(&mut self, key: &K, lane: Lane, turns: &Turns<K>) {
        match self.queued.get(key) {
            None => {
                self.depth.inc();
            }
            Some(Lane::Background) if lane == Lane::Urgent => {
                self.background.retain(|(waiting, _, _)| waiting != key);
            }
            Some(_) => return,
        }
        self.queued.insert(key.clone(), lane);
        match lane {
            Lane::Urgent => self.urgent.push_back((key.clone(), turns.clone())),
            Lane::Background => {
                self.background
                    .push_back((key.clone(), turns.clone(), Instant::now()))
            }
        }
    }

    /// Whether a pass of `lane` may take a permit now.
    fn may_take(&self, lane: Lane, bound: usize, background_bound: usize) -> bool {
        self.taken < bound && (lane == Lane::Urgent || self.background_taken < background_bound)
    }

    fn take(&mut self, lane: Lane) {
        self.taken += 1;
        if lane == Lane::Background {
            self.background_taken += 1;
        }
    }

    /// The next to serve: urgent first, but not more than `URGENT_IN_A_ROW` in a row while
    /// a background object waits that may take a permit.
    fn next_in_line(
        &mut self,
        bound: usize,
        background_bound: usize,
    ) -> Option<(K, Turns<K>, Lane)> {
        let background_may =
            !self.background.is_empty() && self.may_take(Lane::Background, bound, background_bound);
        let urgent_may =
            !self.urgent.is_empty() && self.may_take(Lane::Urgent, bound, background_bound);
        let urgent_first = urgent_may && (!background_may || self.urgent_streak < URGENT_IN_A_ROW);
        if urgent_first {
            self.urgent_streak += 1;
            self.urgent
                .pop_front()
                .map(|(key, turns)| (key, turns, Lane::Urgent))
        } else if background_may {
            self.urgent_streak = 0;
            self.background
                .pop_front()
                .map(|(key, turns, _)| (key, turns, Lane::Background))
        } else {
            None
        }
    }

    /// A permit of `lane` freed: it goes to the objects next in line (one, or two when the
    /// freed background permit lets a waiting resync in and the kept one serves an urgent
    /// pass), or back to the pool.
    fn hand_on(&mut self, lane: Lane, bound: usize, background_bound: usize) {
        self.taken -= 1;
        if lane == Lane::Background {
            self.background_taken -= 1;
        }
        while let Some((key, turns, lane)) = self.next_in_line(bound, background_bound) {
            self.queued.remove(&key);
            self.depth.dec();
            // A controller that has ended (the process is stopping) takes no turn.
            if turns.unbounded_send(key.clone()).is_ok() {
                self.take(lane);
                self.announced.insert(key, (Instant::now(), lane));
            }
        }
        self.shrink_when_drained();
    }

    fn reclaim_untaken_turns(&mut self, bound: usize, background_bound: usize) {
        let now = Instant::now();
        let untaken: Vec<K> = self
            .announced
            .iter()
            .filter(|(_, (at, _))| now.duration_since(*at) >= TURN_KEPT_FOR)
            .map(|(key, _)| key.clone())
            .collect();
        for key in untaken {
            if let Some((_, lane)) = self.announced.remove(&key) {
                self.hand_on(lane, bound, background_bound);
            }
        }
    }

    /// A burst (every object due at once at start-up) would otherwise keep its queue's
    /// memory for good, as kube-runtime's runner keeps its map's.
    fn shrink_when_drained(&mut self) {
        let kept = self.urgent.capacity() + self.background.capacity();
        if self.waiting() == 0 && kept > KEPT_CAPACITY {
            self.urgent = VecDeque::new();
            self.background = VecDeque::new();
            self.queued = HashMap::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use futures::channel::mpsc;
    use futures::{stream, FutureExt, StreamExt};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::controller::{Action, Config};
    use kube::runtime::reflector::{self, ObjectRef};
    use kube::runtime::{applier, watcher};
    use kube::ResourceExt;

    use super::{
        lane_of, Gate, Gauge, Lane, Urgency, KEPT_CAPACITY, TURN_KEPT_FOR, URGENT_IN_A_ROW,
    };

    type Key = ObjectRef<ConfigMap>;

    /// Passes per object name, the most passes ever in flight at once, and the most
    /// reconcile futures ever alive at once (running, or parked waiting for a permit).
    #[derive(Default)]
    struct Tally {
        passes: Mutex<BTreeMap<String, u32>>,
        in_flight: AtomicUsize,
        peak: AtomicUsize,
        alive: AtomicUsize,
        peak_alive: AtomicUsize,
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

    /// Counts a reconcile future alive from its first poll until it ends or is dropped.
    struct Alive(Arc<Tally>);

    impl Alive {
        fn new(tally: Arc<Tally>) -> Alive {
            let now = tally.alive.fetch_add(1, Ordering::SeqCst) + 1;
            tally.peak_alive.fetch_max(now, Ordering::SeqCst);
            Alive(tally)
        }
    }

    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.alive.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Six objects, passes of 2 s, each requeued 3 s after its pass: one slot can serve a
    /// quarter of what comes due, as in the end-to-end test with 250 ms AWS answers. Runs
    /// kube-runtime's applier for 120 s of (paused) time and returns the tally. With a gate,
    /// its turns reach the applier as `Controller::reconcile_on`'s do.
    async fn saturated(concurrency: u16, gate: Option<Arc<Gate<Key>>>, lane: Lane) -> Arc<Tally> {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        let mut refs = vec![];
        writer.apply_watcher_event(&watcher::Event::Init);
        for i in 0..6 {
            let mut cm = ConfigMap::default();
            cm.metadata.name = Some(format!("object-{i}"));
            cm.metadata.namespace = Some("default".into());
            refs.push(ObjectRef::from_obj(&cm));
            writer.apply_watcher_event(&watcher::Event::InitApply(cm));
        }
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let (turns, turns_heard) = mpsc::unbounded::<Key>();
        let tally = Arc::new(Tally::default());
        let reconcile = {
            let tally = tally.clone();
            move |obj: Arc<ConfigMap>, _: Arc<()>| {
                let (tally, gate, turns) = (tally.clone(), gate.clone(), turns.clone());
                async move {
                    let _alive = Alive::new(tally.clone());
                    let name = obj.name_any();
                    match gate {
                        Some(gate) => {
                            let Some(permit) =
                                gate.enter(&ObjectRef::from_obj(&*obj), lane, &turns)
                            else {
                                return Ok(Action::await_change());
                            };
                            tally.pass(name).await;
                            drop(permit);
                        }
                        None => tally.pass(name).await,
                    }
                    Ok::<_, std::io::Error>(Action::requeue(Duration::from_secs(3)))
                }
                .boxed()
            }
        };
        let due = stream::select(stream::iter(refs).chain(stream::pending()), turns_heard);
        applier(
            reconcile,
            |_, _, _| Action::await_change(),
            Arc::new(()),
            store,
            due.map(Ok::<_, Infallible>),
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
        let tally = saturated(1, None, Lane::Background).await;
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
        let tally = saturated(
            0,
            Some(Arc::new(Gate::new(1, Gauge::default()))),
            Lane::Background,
        )
        .await;
        let passes = tally.passes.lock().unwrap().clone();
        assert_eq!(tally.peak.load(Ordering::SeqCst), 1, "one pass at a time");
        // 120 s / 2 s = 60 passes, served round-robin: 10 each, give or take the last one.
        assert_eq!(passes.len(), 6, "{passes:?}");
        assert!(passes.values().all(|n| (9..=10).contains(n)), "{passes:?}");
    }

    /// Objects waiting for a permit are keys in the gate's queue, not passes parked in
    /// kube-runtime's runner: with all six due and one permit, at most the running pass and
    /// the one being turned away are alive at once (parked, it was all six).
    #[tokio::test(start_paused = true)]
    async fn waiting_objects_park_no_pass_in_the_runner() {
        let tally = saturated(
            0,
            Some(Arc::new(Gate::new(1, Gauge::default()))),
            Lane::Background,
        )
        .await;
        let peak_alive = tally.peak_alive.load(Ordering::SeqCst);
        assert!(
            peak_alive <= 2,
            "{peak_alive} reconcile futures alive at once"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_bound_of_three_runs_three_urgent_passes_at_once_and_two_resyncs() {
        let gate = || Some(Arc::new(Gate::new(3, Gauge::default())));
        let tally = saturated(0, gate(), Lane::Urgent).await;
        assert_eq!(tally.peak.load(Ordering::SeqCst), 3);
        assert_eq!(tally.passes.lock().unwrap().len(), 6);
        let tally = saturated(0, gate(), Lane::Background).await;
        assert_eq!(tally.peak.load(Ordering::SeqCst), 2, "one permit kept");
        assert_eq!(tally.passes.lock().unwrap().len(), 6);
    }

    fn key(name: &str) -> Key {
        ObjectRef::new(name).within("default")
    }

    #[tokio::test(start_paused = true)]
    async fn a_freed_permit_goes_to_the_longest_waiting_and_is_kept_for_it() {
        let gate = Gate::new(1, Gauge::default());
        let (turns, mut heard) = mpsc::unbounded();
        let running = gate
            .enter(&key("a"), Lane::Background, &turns)
            .expect("a free permit");
        assert!(gate.enter(&key("b"), Lane::Background, &turns).is_none());
        assert!(gate.enter(&key("c"), Lane::Background, &turns).is_none());
        assert!(
            gate.enter(&key("b"), Lane::Background, &turns).is_none(),
            "b keeps its place"
        );
        assert_eq!(gate.waiting(), 2);
        drop(running);
        assert_eq!(heard.next().await, Some(key("b")), "b waited longest");
        let b = gate
            .enter(&key("b"), Lane::Background, &turns)
            .expect("b's turn");
        drop(b);
        assert_eq!(heard.next().await, Some(key("c")));
        // The queue is empty now, and the permit is still kept for c: a newcomer waits.
        assert_eq!(gate.waiting(), 0);
        assert!(
            gate.enter(&key("d"), Lane::Background, &turns).is_none(),
            "d took c's permit"
        );
        assert_eq!(gate.lock().taken, 1, "never more than the bound");
        let c = gate
            .enter(&key("c"), Lane::Background, &turns)
            .expect("c's turn");
        drop(c);
        assert_eq!(heard.next().await, Some(key("d")));
    }

    /// One permit: "a" ran, "gone" and "c" queued behind it; "a" ended and "gone" was
    /// told its turn came (its pass has not taken it). Returns the turns channel.
    async fn gone_has_its_turn_and_c_waits(
        gate: &Gate<Key>,
    ) -> (mpsc::UnboundedSender<Key>, mpsc::UnboundedReceiver<Key>) {
        let (turns, mut heard) = mpsc::unbounded();
        let running = gate
            .enter(&key("a"), Lane::Background, &turns)
            .expect("a free permit");
        assert!(gate.enter(&key("gone"), Lane::Background, &turns).is_none());
        assert!(gate.enter(&key("c"), Lane::Background, &turns).is_none());
        drop(running);
        assert_eq!(heard.next().await, Some(key("gone")));
        (turns, heard)
    }

    /// kube-runtime says the object is gone from its cache: the next in the queue gets the
    /// permit at once, not after `TURN_KEPT_FOR`.
    #[tokio::test(start_paused = true)]
    async fn a_forfeited_turn_is_handed_on_at_once() {
        let gate = Gate::new(1, Gauge::default());
        let (_turns, mut heard) = gone_has_its_turn_and_c_waits(&gate).await;
        gate.forfeit(&key("c"));
        assert!(heard.try_recv().is_err(), "c had no turn to forfeit");
        gate.forfeit(&key("gone"));
        assert_eq!(heard.try_recv().ok(), Some(key("c")));
    }

    /// An object whose turn came but whose pass never took it (deleted meanwhile) does not
    /// keep the permit: after `TURN_KEPT_FOR` it goes to the next in the queue.
    #[tokio::test(start_paused = true)]
    async fn a_turn_nobody_takes_is_handed_on() {
        let gate = Arc::new(Gate::new(1, Gauge::default()));
        let (_turns, mut heard) = gone_has_its_turn_and_c_waits(&gate).await;
        let reclaimer = tokio::spawn({
            let gate = gate.clone();
            async move { gate.reclaim_untaken_turns().await }
        });
        tokio::time::sleep(TURN_KEPT_FOR - Duration::from_secs(1)).await;
        assert!(heard.try_recv().is_err(), "handed on too early");
        let late = tokio::time::timeout(TURN_KEPT_FOR, heard.next()).await;
        assert_eq!(late.ok().flatten(), Some(key("c")), "never handed on");
        reclaimer.abort();
    }

    /// Without the reclaimer, the next object that comes due hands an untaken turn on.
    #[tokio::test(start_paused = true)]
    async fn the_next_arrival_hands_an_untaken_turn_on() {
        let gate = Gate::new(1, Gauge::default());
        let (turns, mut heard) = gone_has_its_turn_and_c_waits(&gate).await;
        tokio::time::sleep(TURN_KEPT_FOR).await;
        assert!(
            gate.enter(&key("d"), Lane::Background, &turns).is_none(),
            "c is first"
        );
        assert_eq!(heard.try_recv().ok(), Some(key("c")));
    }

    #[tokio::test(start_paused = true)]
    async fn a_queued_object_does_not_start_once_stopping() {
        let gate = Gate::new(1, Gauge::default());
        let (turns, mut heard) = mpsc::unbounded();
        let running = gate
            .enter(&key("a"), Lane::Background, &turns)
            .expect("a free permit");
        assert!(gate.enter(&key("b"), Lane::Background, &turns).is_none());
        gate.stop();
        drop(running);
        drop(turns);
        assert_eq!(heard.next().await, None, "b's turn never came");
        let (turns, _heard) = mpsc::unbounded();
        assert!(
            gate.enter(&key("b"), Lane::Background, &turns).is_none(),
            "nothing starts later"
        );
    }

    /// The exported depth follows the queue: up as objects join it (once each), down as
    /// their turns come, when the controller stops, and when the gate is dropped.
    #[tokio::test(start_paused = true)]
    async fn the_depth_gauge_follows_the_queue() {
        let depth = prometheus_client::metrics::gauge::Gauge::<i64>::default();
        let gate = Gate::new(1, depth.clone());
        let (turns, mut heard) = mpsc::unbounded();
        let running = gate
            .enter(&key("a"), Lane::Background, &turns)
            .expect("a free permit");
        assert_eq!(depth.get(), 0, "a running pass is not waiting");
        assert!(gate.enter(&key("b"), Lane::Background, &turns).is_none());
        assert!(gate.enter(&key("c"), Lane::Background, &turns).is_none());
        assert!(gate.enter(&key("b"), Lane::Background, &turns).is_none());
        assert_eq!(depth.get(), 2, "b counted once");
        drop(running);
        assert_eq!(heard.next().await, Some(key("b")));
        assert_eq!(depth.get(), 1, "b's turn came");
        drop(
            gate.enter(&key("b"), Lane::Background, &turns)
                .expect("b's turn"),
        );
        assert_eq!((heard.next().await, depth.get()), (Some(key("c")), 0));
        assert!(gate.enter(&key("d"), Lane::Background, &turns).is_none());
        gate.stop();
        assert_eq!(depth.get(), 0, "a stopped gate has nobody waiting");

        let gate = Gate::new(1, depth.clone());
        // a's pass never ends (its permit not handed on), so b is still waiting.
        std::mem::forget(
            gate.enter(&key("a"), Lane::Background, &turns)
                .expect("a free permit"),
        );
        assert!(gate.enter(&key("b"), Lane::Background, &turns).is_none());
        assert_eq!(depth.get(), 1);
        drop(gate);
        assert_eq!(depth.get(), 0, "the dropped gate's queue leaves the count");
    }

    /// A burst (every object due at once) does not keep its queue's memory once drained.
    #[tokio::test]
    async fn a_drained_queue_gives_its_memory_back() {
        let gate = Gate::new(1, Gauge::default());
        let (turns, mut heard) = mpsc::unbounded();
        let first = gate
            .enter(&key("first"), Lane::Background, &turns)
            .expect("a free permit");
        let burst = 4 * KEPT_CAPACITY;
        for i in 0..burst {
            assert!(gate
                .enter(&key(&format!("o-{i}")), Lane::Background, &turns)
                .is_none());
        }
        assert!(gate.lock().background.capacity() >= burst);
        drop(first);
        for i in 0..burst {
            let next = heard.next().await.expect("a turn");
            assert_eq!(next, key(&format!("o-{i}")), "in the order they came");
            drop(
                gate.enter(&next, Lane::Background, &turns)
                    .expect("its turn"),
            );
        }
        let state = gate.lock();
        assert_eq!(state.taken, 0, "every permit back");
        assert!(
            state.background.capacity() <= KEPT_CAPACITY,
            "{}",
            state.background.capacity()
        );
        assert!(
            state.queued.capacity() <= KEPT_CAPACITY,
            "{}",
            state.queued.capacity()
        );
    }

    #[test]
    fn a_pass_is_background_only_when_nothing_changed_since_the_last() {
        assert_eq!(lane_of(None, Some(1), false, false), Lane::Urgent, "new");
        assert_eq!(lane_of(Some(1), Some(1), false, false), Lane::Background);
        assert_eq!(
            lane_of(Some(1), Some(2), false, false),
            Lane::Urgent,
            "changed"
        );
        assert_eq!(
            lane_of(Some(1), Some(1), true, false),
            Lane::Urgent,
            "deleting"
        );
        assert_eq!(
            lane_of(Some(1), Some(1), false, true),
            Lane::Urgent,
            "event"
        );
    }

    #[test]
    fn urgency_remembers_the_generation_passed_and_consumes_a_nudge() {
        let urgency = Urgency::default();
        let a = key("a");
        assert_eq!(urgency.classify(&a, Some(1), false, true), Lane::Urgent);
        assert_eq!(urgency.classify(&a, Some(1), false, true), Lane::Background);
        urgency.nudge(&a);
        assert_eq!(urgency.classify(&a, Some(1), false, true), Lane::Urgent);
        assert_eq!(
            urgency.classify(&a, Some(1), false, true),
            Lane::Background,
            "used"
        );
        assert_eq!(urgency.classify(&a, Some(2), false, true), Lane::Urgent);
        urgency.forget(&a);
        assert_eq!(
            urgency.classify(&a, Some(2), false, true),
            Lane::Urgent,
            "new again"
        );
    }

    #[test]
    fn the_pass_after_the_one_that_adds_the_finalizer_is_still_urgent() {
        let urgency = Urgency::default();
        let a = key("a");
        // New: the first pass only adds the finalizer; its watch event brings the next.
        assert_eq!(urgency.classify(&a, Some(1), false, false), Lane::Urgent);
        assert_eq!(urgency.classify(&a, Some(1), false, true), Lane::Urgent);
        assert_eq!(urgency.classify(&a, Some(1), false, true), Lane::Background);
        // A nudge is kept for the pass that does the work, which hears of it.
        urgency.nudge(&a);
        assert_eq!(urgency.classify(&a, Some(1), false, false), Lane::Urgent);
        assert_eq!(
            urgency.classify_heard(&a, Some(1), false, true),
            (Lane::Urgent, true)
        );
        assert_eq!(
            urgency.classify_heard(&a, Some(1), false, true),
            (Lane::Background, false),
            "heard once"
        );
    }

    /// Turns heard in order as each pass takes its permit and ends at once.
    async fn serve(
        gate: &Gate<Key>,
        turns: &mpsc::UnboundedSender<Key>,
        heard: &mut mpsc::UnboundedReceiver<Key>,
        n: usize,
    ) -> Vec<String> {
        let mut order = vec![];
        for _ in 0..n {
            let next = heard.next().await.expect("a turn");
            order.push(next.name.clone());
            drop(
                gate.enter(&next, Lane::Background, turns)
                    .expect("its turn"),
            );
        }
        order
    }

    #[tokio::test(start_paused = true)]
    async fn an_urgent_pass_goes_before_resyncs_that_came_first() {
        let gate = Gate::new(1, Gauge::default());
        let (turns, mut heard) = mpsc::unbounded();
        let running = gate
            .enter(&key("a"), Lane::Background, &turns)
            .expect("free");
        for name in ["r1", "r2", "r3"] {
            assert!(gate.enter(&key(name), Lane::Background, &turns).is_none());
        }
        assert!(gate.enter(&key("applied"), Lane::Urgent, &turns).is_none());
        drop(running);
        let order = serve(&gate, &turns, &mut heard, 4).await;
        assert_eq!(order, ["applied", "r1", "r2", "r3"]);
    }

    /// With a bound of 2 or more, resyncs never hold the last permit: a backlog of resyncs
    /// leaves it for an urgent pass, which starts at once instead of waiting for one to end.
    #[tokio::test(start_paused = true)]
    async fn resyncs_leave_one_permit_for_an_urgent_pass() {
        let gate = Gate::new(3, Gauge::default());
        let (turns, mut heard) = mpsc::unbounded();
        let r1 = gate
            .enter(&key("r1"), Lane::Background, &turns)
            .expect("free");
        let _r2 = gate
            .enter(&key("r2"), Lane::Background, &turns)
            .expect("free");
        assert!(
            gate.enter(&key("r3"), Lane::Background, &turns).is_none(),
            "the third permit is kept for urgent passes"
        );
        let applied = gate
            .enter(&key("applied"), Lane::Urgent, &turns)
            .expect("the kept permit, at once");
        assert!(gate.enter(&key("changed"), Lane::Urgent, &turns).is_none());
        // The urgent permit freed goes to the urgent pass waiting, not to `r3`.
        drop(applied);
        let order = serve(&gate, &turns, &mut heard, 1).await;
        assert_eq!(order, ["changed"]);
        // An urgent permit freed with only resyncs waiting goes back to the pool: it is
        // still kept.
        assert_eq!(gate.lock().taken, 2);
        assert!(heard.try_recv().is_err(), "no turn for r3 yet");
        // A resync's permit freed lets the next resync in.
        drop(r1);
        let order = serve(&gate, &turns, &mut heard, 1).await;
        assert_eq!(order, ["r3"]);
        let state = gate.lock();
        assert_eq!((state.taken, state.background_taken), (1, 1), "r2 runs");
    }

    /// The schedule's heartbeat is held back to the oldest resync still waiting: its slot is
    /// not kept until it runs.
    #[tokio::test(start_paused = true)]
    async fn the_oldest_waiting_resync_is_the_heartbeats_horizon() {
        let gate = Gate::new(1, Gauge::default());
        let (turns, mut heard) = mpsc::unbounded();
        let running = gate.enter(&key("a"), Lane::Urgent, &turns).expect("free");
        assert_eq!(gate.oldest_background_wait(), None);
        assert!(gate.enter(&key("r1"), Lane::Background, &turns).is_none());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(gate.enter(&key("r2"), Lane::Background, &turns).is_none());
        // Urgent passes waiting do not hold it back: they are not slots.
        assert!(gate.enter(&key("u"), Lane::Urgent, &turns).is_none());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(gate.oldest_background_wait(), Some(Duration::from_secs(7)));
        drop(running);
        // `u` served, `r1`'s turn announced: `r2` is the oldest left, waiting 2 s.
        let order = serve(&gate, &turns, &mut heard, 1).await;
        assert_eq!(order, ["u"]);
        assert_eq!(gate.oldest_background_wait(), Some(Duration::from_secs(2)));
    }

    /// A waiting resync whose object changes meanwhile moves to the urgent lane.
    #[tokio::test(start_paused = true)]
    async fn a_waiting_resync_that_becomes_urgent_moves_up() {
        let depth = Gauge::<i64>::default();
        let gate = Gate::new(1, depth.clone());
        let (turns, mut heard) = mpsc::unbounded();
        let running = gate
            .enter(&key("a"), Lane::Background, &turns)
            .expect("free");
        assert!(gate.enter(&key("r1"), Lane::Background, &turns).is_none());
        assert!(gate
            .enter(&key("changed"), Lane::Background, &turns)
            .is_none());
        assert!(gate.enter(&key("changed"), Lane::Urgent, &turns).is_none());
        assert!(gate
            .enter(&key("changed"), Lane::Background, &turns)
            .is_none());
        assert_eq!((gate.waiting(), depth.get()), (2, 2), "queued once");
        drop(running);
        let order = serve(&gate, &turns, &mut heard, 2).await;
        assert_eq!(order, ["changed", "r1"]);
    }

    /// Urgent passes that keep coming do not starve a resync: it is served after at most
    /// `URGENT_IN_A_ROW` of them.
    #[tokio::test(start_paused = true)]
    async fn resyncs_are_not_starved_by_a_stream_of_urgent_passes() {
        let gate = Gate::new(1, Gauge::default());
        let (turns, mut heard) = mpsc::unbounded();
        let running = gate
            .enter(&key("a"), Lane::Background, &turns)
            .expect("free");
        assert!(gate
            .enter(&key("resync"), Lane::Background, &turns)
            .is_none());
        let urgent = 3 * URGENT_IN_A_ROW as usize;
        for i in 0..urgent {
            assert!(gate
                .enter(&key(&format!("u-{i}")), Lane::Urgent, &turns)
                .is_none());
        }
        drop(running);
        let order = serve(&gate, &turns, &mut heard, urgent + 1).await;
        let at = order.iter().position(|n| n == "resync").expect("served");
        assert_eq!(at, URGENT_IN_A_ROW as usize, "{order:?}");
    }
}
