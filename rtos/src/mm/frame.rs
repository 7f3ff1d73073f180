//! Physical page frames: a buddy allocator over all usable RAM, plus a reference count
//! per frame (shared mappings, copy-on-write, page cache).
//!
//! The bookkeeping arrays are carved out of RAM at boot, before the heap exists. A frame's
//! reference count is 0 when free; [`alloc`] returns frames with count 1; [`put`] drops a
//! reference and frees the frame at zero.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use super::buddy::{Buddy, Link};
use super::layout::{phys_to_virt, PAGE_SIZE};
use crate::boot::info::{BootInfo, MemKind};
use crate::sync::SpinLock;

/// A physical frame number.
pub type Pfn = u64;

static BUDDY: SpinLock<Option<Buddy<&'static mut [Link]>>> = SpinLock::new(None);
static REFCOUNTS: spin::Once<&'static [AtomicU32]> = spin::Once::new();
static TOTAL_PAGES: AtomicUsize = AtomicUsize::new(0);

/// Frames handed out in total (for memory statistics).
pub fn total_pages() -> usize {
    TOTAL_PAGES.load(Ordering::Relaxed)
}

/// Frames currently free.
pub fn free_pages() -> usize {
    BUDDY.lock().as_ref().map_or(0, |b| b.free_pages())
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Initialises the frame allocator from the boot memory map, keeping `reserved`
/// physical ranges (kernel image, boot modules, boot info) out of it.
///
/// # Safety
/// Must run once, on the boot CPU, while the boot direct map covers the carved region.
pub unsafe fn init(info: &BootInfo, reserved: &[(u64, u64)]) {
    let max_pa = info.memmap.iter().filter(|r| r.kind == MemKind::Usable).map(|r| r.end).max().unwrap_or(0);
    let nframes = (max_pa / PAGE_SIZE) as usize;
    let bytes = nframes * (core::mem::size_of::<Link>() + core::mem::size_of::<AtomicU32>());
    let need = super::layout::page_align_up(bytes as u64);
    // Usable ranges minus reserved ones, above 1 MiB (leave low memory for the AP trampoline).
    let mut free: heapless::Vec<(u64, u64), 256> = heapless::Vec::new();
    for r in info.memmap.iter().filter(|r| r.kind == MemKind::Usable) {
        let mut pieces: heapless::Vec<(u64, u64), 64> = heapless::Vec::new();
        let _ = pieces.push((super::layout::page_align_up(r.start.max(0x10_0000)), super::layout::page_align_down(r.end)));
        for &(rs, re) in reserved {
            let (rs, re) = (super::layout::page_align_down(rs), super::layout::page_align_up(re));
            let mut next: heapless::Vec<(u64, u64), 64> = heapless::Vec::new();
            for &(s, e) in &pieces {
                if !overlaps((s, e), (rs, re)) {
                    let _ = next.push((s, e));
                    continue;
                }
                if s < rs {
                    let _ = next.push((s, rs));
                }
                if re < e {
                    let _ = next.push((re, e));
                }
            }
            pieces = next;
        }
        for p in pieces.into_iter().filter(|p| p.0 < p.1) {
            let _ = free.push(p);
        }
    }
    // Carve the bookkeeping arrays from the first piece big enough (below 4 GiB: boot map).
    let slot = free.iter().position(|&(s, e)| e - s >= need && e <= 0x1_0000_0000).expect("no room for frame tables");
    let base = free[slot].0;
    free[slot].0 += need;
    let links_ptr = phys_to_virt(base) as *mut Link;
    // SAFETY: [base, base+need) is usable RAM reserved above for these arrays, reachable
    // through the boot direct map, and nothing else refers to it.
    let links: &'static mut [Link] = unsafe {
        for i in 0..nframes {
            links_ptr.add(i).write(Link::INIT);
        }
        core::slice::from_raw_parts_mut(links_ptr, nframes)
    };
    let rc_ptr = (links_ptr as usize + nframes * core::mem::size_of::<Link>()).next_multiple_of(4) as *mut AtomicU32;
    // SAFETY: the counts follow the links inside the same carved region (`need` covers both).
    let rcs: &'static [AtomicU32] = unsafe {
        for i in 0..nframes {
            rc_ptr.add(i).write(AtomicU32::new(0));
        }
        core::slice::from_raw_parts(rc_ptr, nframes)
    };
    let mut buddy = Buddy::new(links);
    let mut total = 0;
    for &(s, e) in &free {
        buddy.add_range(s / PAGE_SIZE, e / PAGE_SIZE);
        total += ((e - s) / PAGE_SIZE) as usize;
    }
    TOTAL_PAGES.store(total, Ordering::Relaxed);
    REFCOUNTS.call_once(|| rcs);
    *BUDDY.lock() = Some(buddy);
}

fn refcount(pfn: Pfn) -> &'static AtomicU32 {
    &REFCOUNTS.get().expect("frame allocator not initialised")[pfn as usize]
}

/// Allocates `2^order` contiguous frames (not zeroed); each gets reference count 1.
pub fn alloc(order: usize) -> Option<Pfn> {
    let pfn = u64::from(BUDDY.lock().as_mut()?.alloc(order)?);
    for i in 0..(1u64 << order) {
        refcount(pfn + i).store(1, Ordering::Relaxed);
    }
    Some(pfn)
}

/// Allocates one zeroed frame.
pub fn alloc_zeroed() -> Option<Pfn> {
    let pfn = alloc(0)?;
    zero(pfn);
    Some(pfn)
}

/// Fills a frame with zeros.
pub fn zero(pfn: Pfn) {
    // SAFETY: the frame is RAM in the direct map, owned by the caller.
    unsafe { core::ptr::write_bytes(phys_to_virt(pfn * PAGE_SIZE) as *mut u8, 0, PAGE_SIZE as usize) };
}

/// Copies one frame's contents to another.
pub fn copy(dst: Pfn, src: Pfn) {
    // SAFETY: both are RAM frames in the direct map; the caller owns `dst` and holds a
    // reference to `src`; they are distinct frames so the ranges do not overlap.
    unsafe {
        core::ptr::copy_nonoverlapping(
            phys_to_virt(src * PAGE_SIZE) as *const u8,
            phys_to_virt(dst * PAGE_SIZE) as *mut u8,
            PAGE_SIZE as usize,
        )
    };
}

/// Returns a contiguous block from [`alloc`] that was never shared (count 1 each).
pub fn free_block(pfn: Pfn, order: usize) {
    for i in 0..(1u64 << order) {
        refcount(pfn + i).store(0, Ordering::Relaxed);
    }
    if let Some(b) = BUDDY.lock().as_mut() {
        b.free(pfn as u32, order);
    }
}

/// Adds the physical range `[start, end)` (page-aligned) to the free memory.
pub fn free_range(start: u64, end: u64) {
    if end <= start {
        return;
    }
    if let Some(b) = BUDDY.lock().as_mut() {
        b.add_range(start / PAGE_SIZE, end / PAGE_SIZE);
    }
    TOTAL_PAGES.fetch_add(((end - start) / PAGE_SIZE) as usize, Ordering::Relaxed);
}

/// Takes another reference to a frame.
pub fn get(pfn: Pfn) {
    let old = refcount(pfn).fetch_add(1, Ordering::Relaxed);
    debug_assert!(old > 0, "get on a free frame {pfn:#x}");
}

/// Drops a reference; frees the frame when it was the last.
pub fn put(pfn: Pfn) {
    let old = refcount(pfn).fetch_sub(1, Ordering::AcqRel);
    debug_assert!(old > 0, "put on a free frame {pfn:#x}");
    if old == 1 {
        if let Some(b) = BUDDY.lock().as_mut() {
            b.free(pfn as u32, 0);
        }
    }
}

/// The current reference count of a frame.
pub fn count(pfn: Pfn) -> u32 {
    refcount(pfn).load(Ordering::Acquire)
}

/// Whether `pfn` is a frame the allocator manages.
pub fn is_managed(pfn: Pfn) -> bool {
    REFCOUNTS.get().is_some_and(|r| (pfn as usize) < r.len())
}

/// Copies `data` into a frame at byte offset `off` (`off + data.len() <= 4096`).
pub fn write(pfn: Pfn, off: usize, data: &[u8]) {
    assert!(off + data.len() <= PAGE_SIZE as usize);
    // SAFETY: the range lies inside one RAM frame of the direct map; the caller owns the
    // frame or holds a reference and accepts racing with user mappings of it (as Linux does).
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), (phys_to_virt(pfn * PAGE_SIZE) as *mut u8).add(off), data.len()) };
}

/// Copies bytes out of a frame from byte offset `off`.
pub fn read(pfn: Pfn, off: usize, buf: &mut [u8]) {
    assert!(off + buf.len() <= PAGE_SIZE as usize);
    // SAFETY: as in `write`; the kernel buffer does not alias the frame.
    unsafe { core::ptr::copy_nonoverlapping((phys_to_virt(pfn * PAGE_SIZE) as *const u8).add(off), buf.as_mut_ptr(), buf.len()) };
}
