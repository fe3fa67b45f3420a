//! A read-through cache whose entries expire: for evidence that changes rarely and is read
//! for the diagnosis only (organisation policies, KMS key policies), so a process reads it
//! a handful of times per account and interval, not once per object and pass.

use crate::sync::Locked;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

/// Values by key, each kept for `ttl`. Concurrent askers of one key wait for one read.
/// A value the reader marks as not to be kept (a throttled or failed call) is returned to
/// the askers that waited for it, and the next asker reads again.
pub struct TtlCache<V> {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry<V>>>,
}

/// When the read started, and its value once read.
type Entry<V> = (Instant, Arc<OnceCell<V>>);

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl: Duration) -> TtlCache<V> {
        TtlCache {
            ttl,
            entries: Default::default(),
        }
    }

    /// The value of `key`, read with `read` when absent or expired. `read` returns the value
    /// and whether it may be kept.
    pub async fn get<F, Fut>(&self, key: &str, read: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (V, bool)>,
    {
        let cell = {
            let mut entries = self.entries.locked();
            let now = Instant::now();
            let entry = entries
                .entry(key.to_string())
                .or_insert_with(|| (now, Default::default()));
            if now.duration_since(entry.0) >= self.ttl && entry.1.initialized() {
                *entry = (now, Default::default());
            }
            entry.1.clone()
        };
        let mut keep = true;
        let value = cell
            .get_or_init(|| async {
                let (value, cacheable) = read().await;
                keep = cacheable;
                value
            })
            .await
            .clone();
        if !keep {
            let mut entries = self.entries.locked();
            if entries.get(key).is_some_and(|(_, c)| Arc::ptr_eq(c, &cell)) {
                entries.remove(key);
            }
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_value_is_read_once_per_interval_and_a_failure_is_not_kept() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let reads = AtomicUsize::new(0);
        let read = |keep: bool| {
            let reads = &reads;
            move || async move { (reads.fetch_add(1, Ordering::SeqCst), keep) }
        };
        assert_eq!(cache.get("a", read(true)).await, 0);
        assert_eq!(cache.get("a", read(true)).await, 0, "kept");
        assert_eq!(cache.get("b", read(true)).await, 1, "per key");
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(cache.get("a", read(true)).await, 2, "expired: read again");
        assert_eq!(cache.get("c", read(false)).await, 3);
        assert_eq!(cache.get("c", read(true)).await, 4, "a failure is not kept");
        assert_eq!(cache.get("c", read(true)).await, 4);
    }

    #[tokio::test]
    async fn concurrent_askers_share_one_read() {
        let cache = Arc::new(TtlCache::new(Duration::from_secs(60)));
        let reads = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (cache, reads) = (cache.clone(), reads.clone());
                tokio::spawn(async move {
                    cache
                        .get("k", || async move {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            (reads.fetch_add(1, Ordering::SeqCst), true)
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 0);
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }
}
