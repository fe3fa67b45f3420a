//! The write fence: with leader election, this process may write (to AWS, or to the
//! Kubernetes API) only while it can show, by its own clocks, that it still holds the Lease.
//!
//! Why not just the lease manager's "am I leader" flag: that flag changes only after the
//! manager has talked to the API server. A leader that was paused (SIGSTOP, a frozen VM, a
//! long GC-like stall of the node) past its Lease wakes up still believing it leads; its
//! passes run on at once, while the manager's first request to notice is still in flight,
//! and a standby has meanwhile taken over and is writing too. And a leader that cannot reach
//! the API server keeps the flag set forever (kube-lease-manager logs the failed renewal and
//! retries), while a standby that can reach it takes over after the Lease expires.
//!
//! So the Lease's own terms decide: a standby may take over at `renewTime +
//! leaseDurationSeconds` (kube-lease-manager compares that with its wall clock). Each time
//! this replica sees the Lease naming it as holder (a watch on the Lease), the fence opens
//! until that instant, less a margin for clock skew between nodes and for a request already
//! on the wire; it closes at once when the Lease names another holder. Every write checks it
//! right before it leaves the process: AWS requests in the HTTP connector (after the
//! client-side rate limit's wait, so a request queued across the deadline does not go out),
//! Kubernetes requests in a wrapper of the controller's client. Both the monotonic and the
//! wall clock must agree the deadline has not passed, so neither a stepped wall clock nor a
//! monotonic clock that stood still while the machine was frozen can extend it.
//!
//! What no client-side fence can do: stop a request that left before the deadline from being
//! applied after it (AWS has no fencing tokens). The margin bounds that window to requests
//! sent in the last second of a Lease that was not renewed.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

/// Until when writes are allowed, by both clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Deadline {
    monotonic: Instant,
    wall: SystemTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No leader election: this process is the only writer.
    Open,
    /// Writes allowed until the deadline.
    Until(Deadline),
    /// Not (or no longer) the Lease holder.
    Closed,
}

/// Shared by everything that writes. Cheap to check (a read of a watch channel and two
/// clock reads).
#[derive(Debug)]
pub struct Fence {
    state: watch::Sender<State>,
}

/// A write refused by the fence.
#[derive(Clone, Debug, thiserror::Error)]
#[error("this replica cannot show that it still holds the leader Lease: {0}; the write was not sent (another replica may be the leader now)")]
pub struct Fenced(&'static str);

impl Fence {
    /// Always open: without leader election the process is the only writer.
    pub fn open() -> Arc<Fence> {
        Arc::new(Fence {
            state: watch::Sender::new(State::Open),
        })
    }

    /// Closed until the Lease shows this replica as its holder (`held_until`).
    pub fn closed() -> Arc<Fence> {
        Arc::new(Fence {
            state: watch::Sender::new(State::Closed),
        })
    }

    /// The Lease names this replica, renewed at `renewed` (its `renewTime`) for `duration`:
    /// writes are allowed until `renewed + duration - margin`, by this process's clocks.
    pub fn held_until(&self, renewed: SystemTime, duration: Duration, margin: Duration) {
        let Some(wall) = (renewed + duration).checked_sub(margin) else {
            return self.close();
        };
        let remaining = wall
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let next = State::Until(Deadline {
            monotonic: Instant::now() + remaining,
            wall,
        });
        self.state.send_if_modified(|s| {
            let changed = *s != next;
            *s = next;
            changed
        });
    }

    /// Another replica holds the Lease, or this one stopped leading.
    pub fn close(&self) {
        self.state.send_if_modified(|s| {
            let changed = *s != State::Closed;
            *s = State::Closed;
            changed
        });
    }

    /// Ok when a write may leave now.
    pub fn check(&self) -> Result<(), Fenced> {
        check_at(&self.state.borrow(), Instant::now(), SystemTime::now())
    }

    /// Resolves once the fence is closed, or its deadline has passed without renewal. Never
    /// resolves while open without leader election.
    pub async fn lapsed(&self) {
        let mut changes = self.state.subscribe();
        loop {
            let state = *changes.borrow_and_update();
            match state {
                State::Closed => return,
                State::Open => {
                    if changes.changed().await.is_err() {
                        return futures::future::pending().await;
                    }
                }
                State::Until(d) => {
                    if check_at(&state, Instant::now(), SystemTime::now()).is_err() {
                        return;
                    }
                    let left = d.monotonic.saturating_duration_since(Instant::now()).min(
                        d.wall
                            .duration_since(SystemTime::now())
                            .unwrap_or(Duration::ZERO),
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(left) => {}
                        _ = changes.changed() => {}
                    }
                }
            }
        }
    }

    /// Resolves once writes are allowed (the Lease names this replica).
    pub async fn opened(&self) {
        let mut changes = self.state.subscribe();
        loop {
            if self.check().is_ok() {
                return;
            }
            if changes.changed().await.is_err() {
                return futures::future::pending().await;
            }
        }
    }
}

fn check_at(state: &State, monotonic: Instant, wall: SystemTime) -> Result<(), Fenced> {
    match state {
        State::Open => Ok(()),
        State::Closed => Err(Fenced("it does not hold the Lease")),
        State::Until(d) if monotonic < d.monotonic && wall < d.wall => Ok(()),
        State::Until(_) => Err(Fenced("its Lease expired without a renewal it has seen")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_is_open_only_before_the_lease_could_be_taken_over() {
        let fence = Fence::closed();
        assert!(fence.check().is_err(), "closed until the Lease names us");
        let now = SystemTime::now();
        let second = Duration::from_secs(1);
        fence.held_until(now, 6 * second, second);
        assert!(fence.check().is_ok());
        let state = *fence.state.borrow();
        let State::Until(d) = state else {
            panic!("{state:?}")
        };
        // 5 s from now by both clocks (the margin taken off).
        assert!(d.wall == now + 5 * second);
        let at = |s: u64| (Instant::now() + Duration::from_secs(s), now);
        assert!(check_at(&state, at(4).0, now + 4 * second).is_ok());
        assert!(
            check_at(&state, at(6).0, now + 4 * second).is_err(),
            "the monotonic clock says it lapsed (the wall clock was stepped back)"
        );
        assert!(
            check_at(&state, at(1).0, now + 6 * second).is_err(),
            "the wall clock says it lapsed (the monotonic clock stood still while frozen)"
        );
        // A Lease renewed long ago (seen late) is already lapsed.
        fence.held_until(now - 10 * second, 6 * second, second);
        assert!(fence.check().is_err());
        fence.held_until(now, 6 * second, second);
        fence.close();
        assert!(fence.check().is_err(), "another holder: closed at once");
        assert!(Fence::open().check().is_ok(), "no leader election");
    }

    #[tokio::test]
    async fn lapsed_resolves_at_the_deadline_or_on_close() {
        let fence = Fence::closed();
        let now = SystemTime::now();
        fence.held_until(now, Duration::from_millis(300), Duration::ZERO);
        fence.lapsed().await;
        assert!(
            fence.check().is_err(),
            "it resolves only once the deadline has passed"
        );

        fence.held_until(SystemTime::now(), Duration::from_secs(60), Duration::ZERO);
        fence.opened().await;
        let closer = {
            let f = fence.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                f.close();
            })
        };
        tokio::time::timeout(Duration::from_secs(5), fence.lapsed())
            .await
            .expect("closing ends it at once");
        closer.await.unwrap();
    }
}
