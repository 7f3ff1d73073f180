//! A map of non-overlapping virtual address ranges `[start, end)` to values, with the
//! splitting that `mmap`/`munmap`/`mprotect` need: removing or updating part of a range
//! splits it, and the right-hand piece's value is advanced by the split offset (so a
//! file mapping's page offset stays right). Pure logic, tested on the host.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// A value that can describe the tail of its range.
pub trait RangeValue: Clone {
    /// Adjusts the value to describe the range starting `bytes` later.
    fn advance(&mut self, bytes: u64);
    /// Whether `next`, starting right after a range of `len` bytes with this value, could
    /// be merged into it.
    fn can_merge(&self, len: u64, next: &Self) -> bool {
        let _ = (len, next);
        false
    }
}

/// Non-overlapping ranges keyed by start.
#[derive(Clone, Debug, Default)]
pub struct RangeMap<V> {
    map: BTreeMap<u64, (u64, V)>,
}

impl<V: RangeValue> RangeMap<V> {
    /// An empty map.
    pub const fn new() -> Self {
        Self { map: BTreeMap::new() }
    }

    /// Number of ranges.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The range containing `addr`.
    pub fn find(&self, addr: u64) -> Option<(u64, u64, &V)> {
        let (&s, (e, v)) = self.map.range(..=addr).next_back()?;
        (addr < *e).then_some((s, *e, v))
    }

    /// The range containing `addr`, mutably.
    pub fn find_mut(&mut self, addr: u64) -> Option<(u64, u64, &mut V)> {
        let (&s, (e, v)) = self.map.range_mut(..=addr).next_back()?;
        (addr < *e).then_some((s, *e, v))
    }

    /// The first range ending after `addr` (the one containing it or the next one).
    pub fn next_from(&self, addr: u64) -> Option<(u64, u64, &V)> {
        if let Some(r) = self.find(addr) {
            return Some(r);
        }
        self.map.range(addr..).next().map(|(&s, (e, v))| (s, *e, v))
    }

    /// True if nothing overlaps `[start, end)`.
    pub fn is_free(&self, start: u64, end: u64) -> bool {
        if let Some((_, (e, _))) = self.map.range(..start).next_back() {
            if *e > start {
                return false;
            }
        }
        self.map.range(start..end).next().is_none()
    }

    /// Splits the range containing `at` (if any, and if `at` is inside it) into two.
    pub fn split_at(&mut self, at: u64) {
        let Some((&s, (e, v))) = self.map.range(..at).next_back() else { return };
        if at >= *e {
            return;
        }
        let end = *e;
        let mut right = v.clone();
        right.advance(at - s);
        if let Some(x) = self.map.get_mut(&s) {
            x.0 = at;
        }
        self.map.insert(at, (end, right));
    }

    /// Inserts a range; it must not overlap any other (returns false if it does).
    pub fn insert(&mut self, start: u64, end: u64, v: V) -> bool {
        if start >= end || !self.is_free(start, end) {
            return false;
        }
        self.map.insert(start, (end, v));
        true
    }

    /// Removes everything in `[start, end)`, splitting ranges at the edges; returns the
    /// removed pieces.
    pub fn remove(&mut self, start: u64, end: u64) -> Vec<(u64, u64, V)> {
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.map.range(start..end).map(|(&s, _)| s).collect();
        keys.into_iter().filter_map(|s| self.map.remove(&s).map(|(e, v)| (s, e, v))).collect()
    }

    /// Applies `f` to every part of a range inside `[start, end)`, splitting at the edges.
    pub fn update(&mut self, start: u64, end: u64, mut f: impl FnMut(u64, u64, &mut V)) {
        self.split_at(start);
        self.split_at(end);
        for (&s, (e, v)) in self.map.range_mut(start..end) {
            f(s, *e, v);
        }
    }

    /// True if `[start, end)` is entirely covered by ranges (no holes).
    pub fn is_covered(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        while at < end {
            match self.find(at) {
                Some((_, e, _)) => at = e,
                None => return false,
            }
        }
        true
    }

    /// Merges neighbouring ranges whose values allow it (within `[start, end)` and its edges).
    pub fn merge_around(&mut self, start: u64, end: u64) {
        let first = self.map.range(..start).next_back().map_or(start, |(&s, _)| s);
        let keys: Vec<u64> = self.map.range(first..=end).map(|(&s, _)| s).collect();
        let mut cur = None::<u64>;
        for k in keys {
            if let Some(c) = cur {
                let (ce, cv) = self.map.get(&c).map(|(e, v)| (*e, v.clone())).expect("present");
                let (ke, kv) = self.map.get(&k).map(|(e, v)| (*e, v.clone())).expect("present");
                if ce == k && cv.can_merge(ce - c, &kv) {
                    self.map.remove(&k);
                    if let Some(x) = self.map.get_mut(&c) {
                        x.0 = ke;
                    }
                    continue;
                }
            }
            cur = Some(k);
        }
    }

    /// The highest `len`-byte gap that lies in `[low, high)`, ends at or below `high`.
    pub fn find_gap_topdown(&self, len: u64, low: u64, high: u64) -> Option<u64> {
        let mut top = high;
        for (&s, (e, _)) in self.map.range(..high).rev() {
            let e = (*e).min(top);
            if top >= e && top - e >= len && top - len >= low {
                return Some(top - len);
            }
            top = top.min(s);
            if top < low.saturating_add(len) {
                return None;
            }
        }
        (top >= low.saturating_add(len)).then(|| top - len)
    }

    /// Iterates over all ranges in address order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64, &V)> {
        self.map.iter().map(|(&s, (e, v))| (s, *e, v))
    }

    /// Removes every range.
    pub fn clear(&mut self) -> Vec<(u64, u64, V)> {
        core::mem::take(&mut self.map).into_iter().map(|(s, (e, v))| (s, e, v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Off(u64, char);
    impl RangeValue for Off {
        fn advance(&mut self, bytes: u64) {
            self.0 += bytes;
        }
        fn can_merge(&self, len: u64, next: &Self) -> bool {
            self.1 == next.1 && self.0 + len == next.0
        }
    }

    #[test]
    fn insert_find_overlap() {
        let mut m = RangeMap::new();
        assert!(m.insert(0x1000, 0x5000, Off(0, 'a')));
        assert!(!m.insert(0x4000, 0x6000, Off(0, 'b')), "overlap refused");
        assert!(m.insert(0x5000, 0x6000, Off(0, 'b')));
        assert_eq!(m.find(0x4fff).map(|r| r.0), Some(0x1000));
        assert_eq!(m.find(0x5000).map(|r| r.0), Some(0x5000));
        assert!(m.find(0x6000).is_none() && m.find(0xfff).is_none());
        assert!(m.is_covered(0x1000, 0x6000) && !m.is_covered(0x1000, 0x7000));
    }

    #[test]
    fn remove_splits_and_advances() {
        let mut m = RangeMap::new();
        m.insert(0x1000, 0x9000, Off(0x100000, 'f'));
        let removed = m.remove(0x3000, 0x5000);
        assert_eq!(removed, vec![(0x3000, 0x5000, Off(0x102000, 'f'))]);
        assert_eq!(m.find(0x2000), Some((0x1000, 0x3000, &Off(0x100000, 'f'))));
        assert_eq!(m.find(0x5000), Some((0x5000, 0x9000, &Off(0x104000, 'f'))));
        assert!(m.remove(0x20000, 0x30000).is_empty());
    }

    #[test]
    fn update_then_merge_back() {
        let mut m = RangeMap::new();
        m.insert(0x1000, 0x5000, Off(0, 'a'));
        m.update(0x2000, 0x3000, |_, _, v| v.1 = 'b');
        assert_eq!(m.len(), 3);
        assert_eq!(m.find(0x2000).unwrap().2, &Off(0x1000, 'b'));
        m.update(0x2000, 0x3000, |_, _, v| v.1 = 'a');
        m.merge_around(0x2000, 0x3000);
        assert_eq!(m.len(), 1);
        assert_eq!(m.find(0x4000), Some((0x1000, 0x5000, &Off(0, 'a'))));
    }

    #[test]
    fn top_down_gaps() {
        let mut m = RangeMap::new();
        m.insert(0x8000, 0xa000, Off(0, 'x'));
        m.insert(0xb000, 0x10000, Off(0, 'y'));
        assert_eq!(m.find_gap_topdown(0x1000, 0x1000, 0x10000), Some(0xa000));
        assert_eq!(m.find_gap_topdown(0x2000, 0x1000, 0x10000), Some(0x6000));
        assert_eq!(m.find_gap_topdown(0x8000, 0x1000, 0x10000), None);
        assert_eq!(m.find_gap_topdown(0x1000, 0x1000, 0x20000), Some(0x1f000));
        assert_eq!(m.find_gap_topdown(0x7000, 0x1000, 0x8000), Some(0x1000));
    }
}
