//! Split virtqueues (virtio 1.1, 2.6).
//!
//! One DMA block holds the three parts of a queue of `size` entries:
//!
//! | part | offset | layout | written by |
//! |---|---|---|---|
//! | descriptor table | 0 | `size` x {addr u64, len u32, flags u16, next u16} | driver |
//! | available ring | 16 * size | flags u16, idx u16, ring[size] u16, used_event u16 | driver |
//! | used ring | 4-aligned after it | flags u16, idx u16, ring[size] {id u32, len u32}, avail_event u16 | device |
//!
//! Free descriptors form a list threaded through their `next` fields. A buffer chain is
//! published by writing its head into the available ring, then (after a release barrier)
//! advancing `avail.idx`. The device returns chains through the used ring; the driver
//! reads `used.idx`, then (after an acquire barrier) the entries. Before notifying, a full
//! barrier orders the `avail.idx` store before the load of `used.flags`
//! (`VIRTQ_USED_F_NO_NOTIFY`). Each chain carries a driver token (e.g. a buffer number)
//! returned with it. VIRTIO_F_EVENT_IDX is not used; interrupts are suppressed with
//! `VIRTQ_AVAIL_F_NO_INTERRUPT`.

use core::sync::atomic::{fence, Ordering};

use super::{DmaRegion, VirtioError};

/// Largest queue this driver sets up (the device may offer more; the driver asks for less).
pub const MAX_QUEUE_SIZE: u16 = 256;

/// Descriptor flags.
pub const DESC_F_NEXT: u16 = 1;
pub const DESC_F_WRITE: u16 = 2;
pub const DESC_F_INDIRECT: u16 = 4;
/// `avail.flags`: the driver does not want interrupts for this queue.
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;
/// `used.flags`: the device does not need notifications for this queue.
pub const USED_F_NO_NOTIFY: u16 = 1;

const DESC_SIZE: usize = 16;

/// Where the parts of a queue of `size` entries lie in its DMA block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLayout {
    pub size: u16,
    pub avail: usize,
    pub used: usize,
    pub total: usize,
}

impl QueueLayout {
    /// The layout for `size` entries (descriptor table at offset 0, 16-byte aligned;
    /// available ring 2-byte aligned; used ring 4-byte aligned).
    pub const fn new(size: u16) -> Self {
        let n = size as usize;
        let avail = DESC_SIZE * n;
        let avail_end = avail + 4 + 2 * n + 2;
        let used = (avail_end + 3) & !3;
        let total = used + 4 + 8 * n + 2;
        Self { size, avail, used, total }
    }
}

/// One buffer of a chain: device-readable, or device-writable if `writable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferDesc {
    pub phys: u64,
    pub len: u32,
    pub writable: bool,
}

/// A chain the device has finished: its token and the bytes it wrote into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsedElem {
    pub token: u16,
    pub len: u32,
}

/// The queue is full (or the chain is longer than the free descriptors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueFull;

/// A split virtqueue over a block of DMA memory.
pub struct SplitQueue {
    mem: DmaRegion,
    layout: QueueLayout,
    free_head: u16,
    num_free: u16,
    /// Next free slot of the available ring (free-running; the ring index is `& (size-1)`).
    avail_idx: u16,
    /// Used ring entries consumed so far (free-running).
    last_used: u16,
    /// Token of each in-flight chain, by head descriptor.
    tokens: [u16; MAX_QUEUE_SIZE as usize],
    /// Bitmap of in-flight chain heads (catches a device returning a chain twice).
    in_flight: [u64; MAX_QUEUE_SIZE as usize / 64],
    /// Used entries ignored because they named no in-flight chain.
    bad_used: u32,
}

impl SplitQueue {
    /// A queue of `size` entries (a power of two up to [`MAX_QUEUE_SIZE`]) in `mem`, which
    /// must hold [`QueueLayout::new`]`(size).total` bytes. The memory is zeroed and every
    /// descriptor is put on the free list.
    pub fn new(mut mem: DmaRegion, size: u16) -> Result<Self, VirtioError> {
        if size == 0 || !size.is_power_of_two() || size > MAX_QUEUE_SIZE {
            return Err(VirtioError::BadQueueSize(size));
        }
        let layout = QueueLayout::new(size);
        if mem.len() < layout.total {
            return Err(VirtioError::NoMemory);
        }
        mem.zero();
        for i in 0..size {
            mem.write16(usize::from(i) * DESC_SIZE + 14, i.wrapping_add(1));
        }
        Ok(Self {
            mem,
            layout,
            free_head: 0,
            num_free: size,
            avail_idx: 0,
            last_used: 0,
            tokens: [0; MAX_QUEUE_SIZE as usize],
            in_flight: [0; MAX_QUEUE_SIZE as usize / 64],
            bad_used: 0,
        })
    }

    /// Number of entries.
    pub fn size(&self) -> u16 {
        self.layout.size
    }

    /// Free descriptors.
    pub fn num_free(&self) -> u16 {
        self.num_free
    }

    /// Physical addresses of the descriptor table, available ring and used ring (what the
    /// transport tells the device).
    pub fn desc_phys(&self) -> u64 {
        self.mem.phys()
    }

    pub fn avail_phys(&self) -> u64 {
        self.mem.phys() + self.layout.avail as u64
    }

    pub fn used_phys(&self) -> u64 {
        self.mem.phys() + self.layout.used as u64
    }

    /// Used entries ignored because they did not name an in-flight chain.
    pub fn bad_used(&self) -> u32 {
        self.bad_used
    }

    /// The queue's memory (to free it once the device is reset).
    pub fn into_memory(self) -> DmaRegion {
        self.mem
    }

    /// The queue's memory.
    pub fn memory(&self) -> &DmaRegion {
        &self.mem
    }

    fn desc(i: u16) -> usize {
        usize::from(i) * DESC_SIZE
    }

    /// Builds a chain of `bufs` from free descriptors, records `token` for it and makes it
    /// available to the device. Returns the head descriptor. The device learns of it at the
    /// next notification (see [`should_notify`](Self::should_notify)).
    pub fn add(&mut self, bufs: &[BufferDesc], token: u16) -> Result<u16, QueueFull> {
        if bufs.is_empty() || bufs.len() > usize::from(self.num_free) {
            return Err(QueueFull);
        }
        let head = self.free_head;
        let mut d = head;
        for (i, b) in bufs.iter().enumerate() {
            let off = Self::desc(d);
            // The free list links the chain already: `next` of d is the next free descriptor.
            let next = self.mem.read16(off + 14);
            let mut flags = if b.writable { DESC_F_WRITE } else { 0 };
            if i + 1 < bufs.len() {
                flags |= DESC_F_NEXT;
            }
            self.mem.write64(off, b.phys);
            self.mem.write32(off + 8, b.len);
            self.mem.write16(off + 12, flags);
            if i + 1 == bufs.len() {
                self.free_head = next;
            }
            d = next;
        }
        self.num_free -= bufs.len() as u16;
        self.tokens[usize::from(head)] = token;
        self.in_flight[usize::from(head) / 64] |= 1 << (head % 64);

        let mask = self.layout.size - 1;
        let slot = self.layout.avail + 4 + 2 * usize::from(self.avail_idx & mask);
        self.mem.write16(slot, head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        // Descriptors and the ring entry must be visible before the new index.
        fence(Ordering::Release);
        self.mem.write16(self.layout.avail + 2, self.avail_idx);
        Ok(head)
    }

    /// Whether the device wants a notification for what was just added. Contains the full
    /// barrier that orders the `avail.idx` store before reading `used.flags`.
    pub fn should_notify(&self) -> bool {
        fence(Ordering::SeqCst);
        self.mem.read16(self.layout.used) & USED_F_NO_NOTIFY == 0
    }

    /// True if the device has returned chains not yet popped.
    pub fn has_used(&self) -> bool {
        self.mem.read16(self.layout.used + 2) != self.last_used
    }

    /// Chains the device has returned and not yet popped.
    pub fn used_pending(&self) -> u16 {
        self.mem.read16(self.layout.used + 2).wrapping_sub(self.last_used)
    }

    /// Takes the next chain the device has finished, frees its descriptors and returns its
    /// token and written length. Entries naming no in-flight chain are skipped (counted in
    /// [`bad_used`](Self::bad_used)).
    pub fn pop_used(&mut self) -> Option<UsedElem> {
        loop {
            let used_idx = self.mem.read16(self.layout.used + 2);
            if used_idx == self.last_used {
                return None;
            }
            // Read the entry only after seeing the index that covers it.
            fence(Ordering::Acquire);
            let mask = self.layout.size - 1;
            let e = self.layout.used + 4 + 8 * usize::from(self.last_used & mask);
            let id = self.mem.read32(e);
            let len = self.mem.read32(e + 4);
            self.last_used = self.last_used.wrapping_add(1);
            let Ok(head) = u16::try_from(id) else {
                self.bad_used += 1;
                continue;
            };
            if head >= self.layout.size || self.in_flight[usize::from(head) / 64] & (1 << (head % 64)) == 0 {
                self.bad_used += 1;
                continue;
            }
            self.in_flight[usize::from(head) / 64] &= !(1 << (head % 64));
            self.free_chain(head);
            return Some(UsedElem { token: self.tokens[usize::from(head)], len });
        }
    }

    fn free_chain(&mut self, head: u16) {
        let mut last = head;
        let mut n = 1u16;
        while self.mem.read16(Self::desc(last) + 12) & DESC_F_NEXT != 0 && n < self.layout.size {
            last = self.mem.read16(Self::desc(last) + 14) & (self.layout.size - 1);
            n += 1;
        }
        let off = Self::desc(last);
        let flags = self.mem.read16(off + 12);
        self.mem.write16(off + 12, flags & !DESC_F_NEXT);
        self.mem.write16(off + 14, self.free_head);
        self.free_head = head;
        self.num_free += n;
    }

    /// Asks the device for interrupts when it returns chains (`true`), or not. After
    /// turning them back on, check [`has_used`](Self::has_used) again: a chain returned
    /// while they were off raised none. Contains a full barrier for that re-check.
    pub fn set_interrupts(&mut self, enabled: bool) {
        self.mem.write16(self.layout.avail, if enabled { 0 } else { AVAIL_F_NO_INTERRUPT });
        fence(Ordering::SeqCst);
    }
}

/// A device model over the same memory: consumes available chains and returns them.
#[cfg(test)]
pub(crate) struct FakeDevice {
    pub mem: DmaRegion,
    pub layout: QueueLayout,
    next_avail: u16,
    used_idx: u16,
}

#[cfg(test)]
impl FakeDevice {
    pub fn new(q: &SplitQueue) -> Self {
        Self { mem: q.mem.alias(), layout: q.layout, next_avail: 0, used_idx: 0 }
    }

    /// The next available chain as (head, buffers).
    pub fn take(&mut self) -> Option<(u16, Vec<BufferDesc>)> {
        let idx = self.mem.read16(self.layout.avail + 2);
        if idx == self.next_avail {
            return None;
        }
        let slot = self.layout.avail + 4 + 2 * usize::from(self.next_avail & (self.layout.size - 1));
        let head = self.mem.read16(slot);
        self.next_avail = self.next_avail.wrapping_add(1);
        let mut bufs = Vec::new();
        let mut d = head;
        loop {
            let off = usize::from(d) * 16;
            let flags = self.mem.read16(off + 12);
            bufs.push(BufferDesc {
                phys: self.mem.read64(off),
                len: self.mem.read32(off + 8),
                writable: flags & DESC_F_WRITE != 0,
            });
            if flags & DESC_F_NEXT == 0 {
                break;
            }
            d = self.mem.read16(off + 14);
        }
        Some((head, bufs))
    }

    pub fn put_used(&mut self, id: u32, len: u32) {
        let e = self.layout.used + 4 + 8 * usize::from(self.used_idx & (self.layout.size - 1));
        self.mem.write32(e, id);
        self.mem.write32(e + 4, len);
        self.used_idx = self.used_idx.wrapping_add(1);
        self.mem.write16(self.layout.used + 2, self.used_idx);
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakePlatform;
    use super::*;

    fn queue(size: u16) -> SplitQueue {
        let p = FakePlatform::default();
        let mem = DmaRegion::alloc(&p, QueueLayout::new(size).total).unwrap();
        SplitQueue::new(mem, size).unwrap()
    }

    fn buf(phys: u64, len: u32, writable: bool) -> BufferDesc {
        BufferDesc { phys, len, writable }
    }

    #[test]
    fn layout_matches_the_spec_alignment() {
        let l = QueueLayout::new(256);
        assert_eq!(l.avail, 4096);
        assert_eq!(l.used, 4096 + 4 + 512 + 2 + 2); // 4-aligned
        assert_eq!(l.total, l.used + 4 + 2048 + 2);
        let l = QueueLayout::new(1);
        assert_eq!((l.avail, l.used, l.total), (16, 24, 38));
    }

    #[test]
    fn rejects_bad_sizes() {
        let p = FakePlatform::default();
        for size in [0u16, 3, 512] {
            let mem = DmaRegion::alloc(&p, 65536).unwrap();
            assert_eq!(SplitQueue::new(mem, size).err(), Some(VirtioError::BadQueueSize(size)));
        }
        let mem = DmaRegion::alloc(&p, 100).unwrap();
        assert_eq!(SplitQueue::new(mem, 8).err(), Some(VirtioError::NoMemory));
    }

    #[test]
    fn chains_round_trip_through_the_device() {
        let mut q = queue(8);
        let mut dev = FakeDevice::new(&q);
        assert!(!q.has_used());
        let h1 = q.add(&[buf(0x1000, 12, false), buf(0x2000, 100, false)], 7).unwrap();
        let h2 = q.add(&[buf(0x3000, 2048, true)], 9).unwrap();
        assert_eq!(q.num_free(), 5);
        assert_ne!(h1, h2);
        assert!(q.should_notify());

        let (head, bufs) = dev.take().unwrap();
        assert_eq!(head, h1);
        assert_eq!(bufs, vec![buf(0x1000, 12, false), buf(0x2000, 100, false)]);
        let (head, bufs) = dev.take().unwrap();
        assert_eq!(head, h2);
        assert_eq!(bufs, vec![buf(0x3000, 2048, true)]);
        assert!(dev.take().is_none());

        // Completed out of order.
        dev.put_used(u32::from(h2), 60);
        assert!(q.has_used());
        assert_eq!(q.used_pending(), 1);
        assert_eq!(q.pop_used(), Some(UsedElem { token: 9, len: 60 }));
        assert_eq!(q.num_free(), 6);
        dev.put_used(u32::from(h1), 0);
        assert_eq!(q.pop_used(), Some(UsedElem { token: 7, len: 0 }));
        assert_eq!(q.pop_used(), None);
        assert_eq!(q.num_free(), 8);
    }

    #[test]
    fn fills_up_and_recycles_over_many_wraps() {
        let mut q = queue(4);
        let mut dev = FakeDevice::new(&q);
        // 1000 rounds wrap the 16-bit indices' ring positions many times.
        for round in 0..1000u32 {
            for t in 0..4u16 {
                q.add(&[buf(u64::from(t) * 0x1000, 64, true)], t).unwrap();
            }
            assert_eq!(q.add(&[buf(0, 1, true)], 99), Err(QueueFull));
            let mut heads = Vec::new();
            while let Some((h, bufs)) = dev.take() {
                assert_eq!(bufs.len(), 1);
                heads.push((h, bufs[0].phys));
            }
            assert_eq!(heads.len(), 4);
            // Return them in reverse order with a distinct length each.
            for (h, _) in heads.iter().rev() {
                dev.put_used(u32::from(*h), round % 50 + u32::from(*h));
            }
            let mut tokens = Vec::new();
            while let Some(u) = q.pop_used() {
                tokens.push(u.token);
            }
            tokens.sort();
            assert_eq!(tokens, vec![0, 1, 2, 3]);
            assert_eq!(q.num_free(), 4);
        }
        // A chain longer than the free descriptors is refused without side effects.
        assert_eq!(q.add(&[buf(0, 1, false); 5], 1), Err(QueueFull));
        assert_eq!(q.num_free(), 4);
        let h = q.add(&[buf(0, 1, false); 4], 1).unwrap();
        assert_eq!(q.num_free(), 0);
        let (head, bufs) = dev.take().unwrap();
        assert_eq!((head, bufs.len()), (h, 4));
        dev.put_used(u32::from(h), 0);
        assert_eq!(q.pop_used().map(|u| u.token), Some(1));
        assert_eq!(q.num_free(), 4);
    }

    #[test]
    fn bogus_used_entries_are_skipped() {
        let mut q = queue(4);
        let mut dev = FakeDevice::new(&q);
        let h = q.add(&[buf(0x1000, 64, true)], 5).unwrap();
        dev.take().unwrap();
        dev.put_used(77, 1); // out of range
        dev.put_used(u32::from(h) + 1, 1); // not in flight
        dev.put_used(u32::from(h), 33);
        dev.put_used(u32::from(h), 33); // returned twice
        assert_eq!(q.pop_used(), Some(UsedElem { token: 5, len: 33 }));
        assert_eq!(q.pop_used(), None);
        assert_eq!(q.bad_used(), 3);
        assert_eq!(q.num_free(), 4);
    }

    #[test]
    fn notification_and_interrupt_suppression_flags() {
        let mut q = queue(4);
        let mut dev = FakeDevice::new(&q);
        q.add(&[buf(0, 1, false)], 0).unwrap();
        assert!(q.should_notify());
        dev.mem.write16(dev.layout.used, USED_F_NO_NOTIFY);
        assert!(!q.should_notify());
        q.set_interrupts(false);
        assert_eq!(dev.mem.read16(dev.layout.avail), AVAIL_F_NO_INTERRUPT);
        q.set_interrupts(true);
        assert_eq!(dev.mem.read16(dev.layout.avail), 0);
        // The ring addresses the transport hands to the device.
        assert_eq!(q.avail_phys() - q.desc_phys(), 64);
        assert_eq!(q.used_phys() - q.desc_phys(), QueueLayout::new(4).used as u64);
    }
}
