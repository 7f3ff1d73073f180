//! The real-time class's run queue: one FIFO list per priority 1-99 and a bitmap of the
//! non-empty ones, so picking the highest priority is O(1) (`leading_zeros`).

use alloc::collections::VecDeque;

/// Ready real-time threads by priority.
pub struct RtQueue<T> {
    lists: [VecDeque<T>; 100],
    bitmap: u128,
    len: usize,
}

impl<T> Default for RtQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> RtQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self { lists: core::array::from_fn(|_| VecDeque::new()), bitmap: 0, len: 0 }
    }

    /// Number of queued threads.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues `t` at the tail (or head) of priority `prio` (1..=99).
    pub fn push(&mut self, prio: u8, t: T, at_head: bool) {
        let p = usize::from(prio.min(99));
        if at_head {
            self.lists[p].push_front(t);
        } else {
            self.lists[p].push_back(t);
        }
        self.bitmap |= 1 << p;
        self.len += 1;
    }

    /// The highest queued priority.
    pub fn highest(&self) -> Option<u8> {
        (self.bitmap != 0).then(|| (127 - self.bitmap.leading_zeros()) as u8)
    }

    /// Removes and returns the first thread of the highest priority.
    pub fn pop(&mut self) -> Option<(u8, T)> {
        let p = self.highest()?;
        let t = self.lists[usize::from(p)].pop_front()?;
        self.after_remove(p);
        Some((p, t))
    }

    fn after_remove(&mut self, p: u8) {
        self.len -= 1;
        if self.lists[usize::from(p)].is_empty() {
            self.bitmap &= !(1 << p);
        }
    }

    /// Removes the first thread at `prio` matching `pred`.
    pub fn remove(&mut self, prio: u8, pred: impl Fn(&T) -> bool) -> Option<T> {
        let list = &mut self.lists[usize::from(prio.min(99))];
        let i = list.iter().position(pred)?;
        let t = list.remove(i)?;
        self.after_remove(prio.min(99));
        Some(t)
    }

    /// Removes the first thread (highest priority first) matching `pred`.
    pub fn remove_any(&mut self, pred: impl Fn(&T) -> bool) -> Option<(u8, T)> {
        for p in (1..100u8).rev() {
            if self.bitmap & (1 << p) != 0 {
                if let Some(t) = self.remove(p, &pred) {
                    return Some((p, t));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_priority_first_fifo_within() {
        let mut q = RtQueue::new();
        q.push(10, "a", false);
        q.push(50, "b", false);
        q.push(10, "c", false);
        q.push(50, "d", true);
        assert_eq!(q.highest(), Some(50));
        assert_eq!(q.pop(), Some((50, "d")));
        assert_eq!(q.pop(), Some((50, "b")));
        assert_eq!(q.pop(), Some((10, "a")));
        assert_eq!(q.len(), 1);
        assert_eq!(q.remove(10, |t| *t == "c"), Some("c"));
        assert!(q.is_empty() && q.highest().is_none() && q.pop().is_none());
    }

    #[test]
    fn priority_99_and_1_and_remove_any() {
        let mut q = RtQueue::new();
        q.push(1, 1, false);
        q.push(99, 2, false);
        q.push(99, 3, false);
        assert_eq!(q.remove_any(|&t| t % 2 == 1), Some((99, 3)));
        assert_eq!(q.pop(), Some((99, 2)));
        assert_eq!(q.pop(), Some((1, 1)));
    }
}
