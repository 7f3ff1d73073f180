//! The deadline class's run queue: ready threads ordered by absolute deadline (EDF); ties
//! go to the one queued first.

use alloc::collections::BTreeMap;

/// Where a thread sits in a [`DlQueue`] (needed to remove it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DlKey {
    deadline_ns: u64,
    seq: u64,
}

impl DlKey {
    /// The absolute deadline the thread was queued with.
    pub fn deadline_ns(&self) -> u64 {
        self.deadline_ns
    }
}

/// Ready deadline threads, earliest deadline first.
pub struct DlQueue<T> {
    map: BTreeMap<DlKey, T>,
    seq: u64,
}

impl<T> Default for DlQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> DlQueue<T> {
    /// An empty queue.
    pub const fn new() -> Self {
        Self { map: BTreeMap::new(), seq: 0 }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Queues `t` with absolute deadline `deadline_ns`.
    pub fn push(&mut self, deadline_ns: u64, t: T) -> DlKey {
        self.seq += 1;
        let key = DlKey { deadline_ns, seq: self.seq };
        self.map.insert(key, t);
        key
    }

    /// The earliest queued deadline.
    pub fn earliest(&self) -> Option<u64> {
        self.map.keys().next().map(|k| k.deadline_ns)
    }

    /// Removes the thread with the earliest deadline.
    pub fn pop(&mut self) -> Option<(DlKey, T)> {
        self.map.pop_first()
    }

    /// Removes the thread queued under `key`.
    pub fn remove(&mut self, key: DlKey) -> Option<T> {
        self.map.remove(&key)
    }

    /// Removes the earliest-deadline thread that `pred` accepts (load balancing).
    pub fn remove_first(&mut self, mut pred: impl FnMut(&T) -> bool) -> Option<(DlKey, T)> {
        let key = *self.map.iter().find(|(_, t)| pred(t))?.0;
        self.map.remove(&key).map(|t| (key, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_deadline_first_ties_in_order() {
        let mut q = DlQueue::new();
        q.push(300, "c");
        let kb = q.push(100, "b1");
        q.push(100, "b2");
        q.push(200, "a");
        assert_eq!(q.earliest(), Some(100));
        assert_eq!(q.len(), 4);
        assert_eq!(q.remove(kb), Some("b1"));
        assert_eq!(q.pop().map(|x| x.1), Some("b2"));
        assert_eq!(q.remove_first(|t| *t == "c").map(|x| x.1), Some("c"));
        assert_eq!(q.pop().map(|x| x.1), Some("a"));
        assert!(q.pop().is_none() && q.is_empty());
    }
}
