//! Locks that survive a panic. A pass that panics while holding a shared lock (a cache, the
//! rate limiter's buckets) poisons it; `lock().expect(..)` would then panic in every later
//! pass and the controller would never recover. The data these locks guard stays
//! consistent between statements (maps and counters updated in one step), so the guard is
//! taken back from the poison instead.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) trait Locked<T> {
    /// The guard, poisoned or not.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> Locked<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_poisoned_by_a_panic_is_still_usable() {
        let shared = std::sync::Arc::new(Mutex::new(vec![1]));
        let held = shared.clone();
        let _ = std::thread::spawn(move || {
            let mut guard = held.lock().unwrap();
            guard.push(2);
            panic!("a pass panics while holding the lock");
        })
        .join();
        assert!(shared.lock().is_err(), "the lock is poisoned");
        shared.locked().push(3);
        assert_eq!(*shared.locked(), vec![1, 2, 3]);
    }
}
