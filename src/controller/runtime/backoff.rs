//! Backoff: how long an object waits after consecutive failed passes. The pass says what
//! kind of retry its failure deserves (`Retry`, in its verdict); the runtime counts.

use std::time::Duration;

use crate::controller::pass::status::Retry;

/// Consecutive failures per object, for backoff. An entry lives only while its object is
/// failing: a success or the end of its clean-up removes it, so the map never outgrows
/// the objects that are failing now.
#[derive(Debug)]
pub(in crate::controller) struct Backoffs<K> {
    failures: std::collections::HashMap<K, u32>,
}

impl<K> Default for Backoffs<K> {
    fn default() -> Self {
        Backoffs {
            failures: Default::default(),
        }
    }
}

impl<K: std::hash::Hash + Eq> Backoffs<K> {
    /// One more failure of `key`: the delay before its next attempt.
    pub(in crate::controller) fn failed(
        &mut self,
        key: K,
        retry: Retry,
        resync: Duration,
    ) -> Duration {
        let n = self.failures.entry(key).or_insert(0);
        *n = (*n + 1).min(16);
        retry_delay(retry, *n, resync)
    }

    /// `key` succeeded or is gone.
    pub(in crate::controller) fn forget(&mut self, key: &K) {
        self.failures.remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.failures.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The delay before the next attempt, for the `n`th consecutive failure (n ≥ 1).
pub(in crate::controller) fn retry_delay(retry: Retry, n: u32, resync: Duration) -> Duration {
    let cap = resync.max(Duration::from_secs(2));
    let secs = match retry {
        Retry::Backoff => 2u64.saturating_pow(n.min(16)),
        Retry::Slow => 15u64.saturating_mul(2u64.saturating_pow(n.min(16) - 1)),
        Retry::AtResync => return resync,
    };
    Duration::from_secs(secs.min(300)).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoffs_grow_per_object_and_are_forgotten() {
        let resync = Duration::from_secs(600);
        let mut b = Backoffs::default();
        assert_eq!(
            b.failed("a", Retry::Backoff, resync),
            Duration::from_secs(2)
        );
        assert_eq!(
            b.failed("a", Retry::Backoff, resync),
            Duration::from_secs(4)
        );
        assert_eq!(
            b.failed("b", Retry::Backoff, resync),
            Duration::from_secs(2),
            "per object"
        );
        assert_eq!(b.len(), 2);
        b.forget(&"a");
        assert_eq!(
            b.failed("a", Retry::Backoff, resync),
            Duration::from_secs(2),
            "reset"
        );
        b.forget(&"a");
        b.forget(&"b");
        assert!(
            b.is_empty(),
            "nothing kept for objects that are not failing"
        );
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let resync = Duration::from_secs(600);
        assert_eq!(
            retry_delay(Retry::Backoff, 1, resync),
            Duration::from_secs(2)
        );
        assert_eq!(
            retry_delay(Retry::Backoff, 3, resync),
            Duration::from_secs(8)
        );
        assert_eq!(
            retry_delay(Retry::Backoff, 30, resync),
            Duration::from_secs(300)
        );
        assert_eq!(retry_delay(Retry::Slow, 1, resync), Duration::from_secs(15));
        assert_eq!(retry_delay(Retry::AtResync, 1, resync), resync);
        assert_eq!(
            retry_delay(Retry::Backoff, 30, Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }
}
