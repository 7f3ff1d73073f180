//! The fair class's run queue: threads ordered by virtual runtime (CPU time scaled by
//! 1024/weight), leftmost first, as in Linux's CFS. `min_vruntime` only moves forward and
//! anchors threads that wake up after sleeping, so a long sleeper cannot monopolise the CPU.

use alloc::collections::BTreeMap;

/// Key of a queued thread: (vruntime, insertion sequence).
pub type FairKey = (u64, u64);

/// Ready fair threads.
pub struct FairQueue<T> {
    tree: BTreeMap<FairKey, (u32, T)>,
    seq: u64,
    min_vruntime: u64,
    total_weight: u64,
}

impl<T> Default for FairQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> FairQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self { tree: BTreeMap::new(), seq: 0, min_vruntime: 0, total_weight: 0 }
    }

    /// Number of queued threads.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Sum of queued weights.
    pub fn total_weight(&self) -> u64 {
        self.total_weight
    }

    /// The queue's monotonic minimum virtual runtime.
    pub fn min_vruntime(&self) -> u64 {
        self.min_vruntime
    }

    /// Advances `min_vruntime` towards `running` (the current thread's vruntime).
    pub fn update_min(&mut self, running: Option<u64>) {
        let leftmost = self.tree.keys().next().map(|k| k.0);
        let candidate = match (running, leftmost) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return,
        };
        self.min_vruntime = self.min_vruntime.max(candidate);
    }

    /// The vruntime a thread waking after a sleep should get: not less than half a
    /// scheduling period behind the queue.
    pub fn place_woken(&self, vruntime: u64, latency_ns: u64) -> u64 {
        vruntime.max(self.min_vruntime.saturating_sub(latency_ns / 2))
    }

    /// Queues `t` with `vruntime` and `weight`; returns its key.
    pub fn insert(&mut self, vruntime: u64, weight: u32, t: T) -> FairKey {
        self.seq += 1;
        let key = (vruntime, self.seq);
        self.tree.insert(key, (weight, t));
        self.total_weight += u64::from(weight);
        key
    }

    /// The leftmost thread's vruntime.
    pub fn leftmost(&self) -> Option<u64> {
        self.tree.keys().next().map(|k| k.0)
    }

    /// The rightmost (largest) vruntime.
    pub fn rightmost(&self) -> Option<u64> {
        self.tree.keys().next_back().map(|k| k.0)
    }

    /// Removes the leftmost thread.
    pub fn pop(&mut self) -> Option<(u64, T)> {
        let (key, (w, t)) = self.tree.pop_first()?;
        self.total_weight -= u64::from(w);
        Some((key.0, t))
    }

    /// Removes the thread with `key`.
    pub fn remove(&mut self, key: FairKey) -> Option<T> {
        let (w, t) = self.tree.remove(&key)?;
        self.total_weight -= u64::from(w);
        Some(t)
    }

    /// Removes the leftmost thread matching `pred`.
    pub fn remove_first(&mut self, pred: impl Fn(&T) -> bool) -> Option<(u64, T)> {
        let key = *self.tree.iter().find(|(_, (_, t))| pred(t))?.0;
        self.remove(key).map(|t| (key.0, t))
    }
}

/// Virtual runtime gained by running `delta_ns` at `weight`.
pub fn vruntime_delta(delta_ns: u64, weight: u32) -> u64 {
    (u128::from(delta_ns) * 1024 / u128::from(weight.max(1))) as u64
}

/// The slice a thread of `weight` gets when `total_weight` (including it) competes.
pub fn slice_ns(weight: u32, total_weight: u64, nr_running: usize) -> u64 {
    let period = super::policy::FAIR_LATENCY_NS.max(super::policy::FAIR_MIN_SLICE_NS * nr_running as u64);
    (u128::from(period) * u128::from(weight) / u128::from(total_weight.max(1))) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftmost_first_and_ties_in_order() {
        let mut q = FairQueue::new();
        q.insert(300, 1024, "c");
        let k = q.insert(100, 1024, "a");
        q.insert(100, 1024, "b");
        assert_eq!(q.total_weight(), 3072);
        assert_eq!(q.remove(k), Some("a"));
        assert_eq!(q.pop(), Some((100, "b")));
        assert_eq!(q.pop(), Some((300, "c")));
        assert!(q.is_empty());
        assert_eq!(q.total_weight(), 0);
    }

    #[test]
    fn min_vruntime_is_monotonic_and_places_sleepers() {
        let mut q: FairQueue<u8> = FairQueue::new();
        q.insert(5_000_000, 1024, 1);
        q.update_min(Some(8_000_000));
        assert_eq!(q.min_vruntime(), 5_000_000);
        q.pop();
        q.update_min(Some(2_000_000));
        assert_eq!(q.min_vruntime(), 5_000_000, "never moves backwards");
        assert_eq!(q.place_woken(0, 6_000_000), 2_000_000);
        assert_eq!(q.place_woken(9_000_000, 6_000_000), 9_000_000);
    }

    #[test]
    fn weights_scale_vruntime_and_slices() {
        assert_eq!(vruntime_delta(1_000_000, 1024), 1_000_000);
        assert_eq!(vruntime_delta(1_000_000, 2048), 500_000);
        assert_eq!(slice_ns(1024, 2048, 2), 3_000_000);
        // 16 threads: the period stretches to 16 * 0.75 ms.
        assert_eq!(slice_ns(1024, 16 * 1024, 16), 750_000);
    }
}
