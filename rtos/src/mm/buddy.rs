//! Binary buddy allocator over page frame numbers.
//!
//! Pure bookkeeping (no memory is touched): one [`Link`] per frame holds the intrusive
//! free-list pointers, so the allocator needs no heap and host tests can drive it with a
//! `Vec`. Blocks are `2^order` frames, naturally aligned; freeing merges buddies.

/// Number of block orders: 0 (4 KiB) .. MAX_ORDER-1 (4 MiB).
pub const MAX_ORDER: usize = 11;
const NIL: u32 = u32::MAX;

/// Per-frame bookkeeping.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    next: u32,
    prev: u32,
    order: u8,
    /// Head of a free block of `order`.
    free: bool,
}

impl Link {
    /// A frame that is not (yet) free memory.
    pub const INIT: Link = Link { next: NIL, prev: NIL, order: 0, free: false };
}

/// The allocator; `S` stores one link per frame (index = pfn).
pub struct Buddy<S> {
    links: S,
    heads: [u32; MAX_ORDER],
    free_pages: usize,
}

impl<S: AsMut<[Link]> + AsRef<[Link]>> Buddy<S> {
    /// An allocator with no free memory; `links` must hold `Link::INIT` for every frame.
    pub fn new(links: S) -> Self {
        Self { links, heads: [NIL; MAX_ORDER], free_pages: 0 }
    }

    /// Frames currently free.
    pub fn free_pages(&self) -> usize {
        self.free_pages
    }

    fn push(&mut self, pfn: u32, order: usize) {
        let head = self.heads[order];
        let links = self.links.as_mut();
        links[pfn as usize] = Link { next: head, prev: NIL, order: order as u8, free: true };
        if head != NIL {
            links[head as usize].prev = pfn;
        }
        self.heads[order] = pfn;
    }

    fn unlink(&mut self, pfn: u32) {
        let l = self.links.as_ref()[pfn as usize];
        let links = self.links.as_mut();
        if l.prev != NIL {
            links[l.prev as usize].next = l.next;
        } else {
            self.heads[l.order as usize] = l.next;
        }
        if l.next != NIL {
            links[l.next as usize].prev = l.prev;
        }
        links[pfn as usize] = Link::INIT;
    }

    /// Adds the frames `[start, end)` as free memory.
    pub fn add_range(&mut self, start: u64, end: u64) {
        let end = end.min(self.links.as_ref().len() as u64);
        let mut pfn = start;
        while pfn < end {
            let mut order = MAX_ORDER - 1;
            while order > 0 && (pfn & ((1 << order) - 1) != 0 || pfn + (1 << order) > end) {
                order -= 1;
            }
            self.free(pfn as u32, order);
            pfn += 1 << order;
        }
    }

    /// Allocates `2^order` contiguous frames; returns the first pfn.
    pub fn alloc(&mut self, order: usize) -> Option<u32> {
        let found = (order..MAX_ORDER).find(|&o| self.heads[o] != NIL)?;
        let pfn = self.heads[found];
        self.unlink(pfn);
        let mut o = found;
        while o > order {
            o -= 1;
            self.push(pfn + (1 << o), o);
        }
        self.free_pages -= 1 << order;
        Some(pfn)
    }

    /// Returns a block obtained from [`alloc`](Self::alloc) (or a range being added).
    pub fn free(&mut self, mut pfn: u32, mut order: usize) {
        self.free_pages += 1 << order;
        let len = self.links.as_ref().len() as u32;
        while order < MAX_ORDER - 1 {
            let buddy = pfn ^ (1 << order);
            if buddy >= len {
                break;
            }
            let b = self.links.as_ref()[buddy as usize];
            if !(b.free && b.order as usize == order) {
                break;
            }
            self.unlink(buddy);
            pfn = pfn.min(buddy);
            order += 1;
        }
        self.push(pfn, order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buddy(frames: usize) -> Buddy<Vec<Link>> {
        Buddy::new(vec![Link::INIT; frames])
    }

    #[test]
    fn alloc_splits_and_free_merges() {
        let mut b = buddy(4096);
        b.add_range(0, 2048);
        assert_eq!(b.free_pages(), 2048);
        let a = b.alloc(0).unwrap();
        let c = b.alloc(0).unwrap();
        assert_ne!(a, c);
        assert_eq!(b.free_pages(), 2046);
        let big = b.alloc(10).unwrap();
        assert_eq!(big % 1024, 0, "naturally aligned");
        b.free(a, 0);
        b.free(c, 0);
        b.free(big, 10);
        assert_eq!(b.free_pages(), 2048);
        // Fully merged again: two order-10 blocks are available.
        assert!(b.alloc(10).is_some() && b.alloc(10).is_some());
        assert_eq!(b.alloc(0), None);
    }

    #[test]
    fn unaligned_ranges_and_exhaustion() {
        let mut b = buddy(100);
        b.add_range(3, 37);
        assert_eq!(b.free_pages(), 34);
        let mut got = vec![];
        while let Some(p) = b.alloc(0) {
            assert!((3..37).contains(&p));
            got.push(p);
        }
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 34, "every frame handed out exactly once");
        for p in got {
            b.free(p, 0);
        }
        assert_eq!(b.free_pages(), 34);
        assert_eq!(b.alloc(5), None, "no aligned 32-frame block lies inside 3..37");
        assert_eq!(b.alloc(4), Some(16), "16..32 is the only aligned 16-frame block");
    }
}
