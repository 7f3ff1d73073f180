//! The kernel heap (`alloc`): a buddy-system heap for small objects that grows by taking
//! frames from the frame allocator; allocations of 64 KiB and more go straight to the
//! frame allocator as contiguous blocks in the direct map.
//!
//! Uses the `buddy_system_allocator` crate's `Heap`, wrapped in an interrupt-safe lock
//! so interrupt handlers may allocate.

use core::alloc::{GlobalAlloc, Layout};

use buddy_system_allocator::Heap;

use super::frame;
use super::layout::{phys_to_virt, virt_to_phys, PAGE_SIZE};
use crate::sync::SpinLock;

/// Requests at or above this size bypass the small-object heap.
const LARGE: usize = 64 * 1024;
/// Order of the frame blocks the heap grows by (256 KiB).
const GROW_ORDER: usize = 6;

/// The global allocator.
pub struct KernelHeap {
    heap: SpinLock<Heap<32>>,
}

impl KernelHeap {
    /// An empty heap; it fills itself from the frame allocator on first use.
    pub const fn new() -> Self {
        Self { heap: SpinLock::new(Heap::empty()) }
    }
}

impl Default for KernelHeap {
    fn default() -> Self {
        Self::new()
    }
}

fn order_for(size: usize) -> usize {
    let pages = size.div_ceil(PAGE_SIZE as usize);
    pages.next_power_of_two().trailing_zeros() as usize
}

// SAFETY: memory handed out is either from the buddy heap (exclusive until dealloc) or a
// frame block owned until dealloc; alignment is satisfied (frames are page aligned, and
// page alignment suffices for every kernel type; the heap honours `layout.align()`).
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE || layout.align() > PAGE_SIZE as usize {
            return match frame::alloc(order_for(layout.size().max(layout.align()))) {
                Some(pfn) => phys_to_virt(pfn * PAGE_SIZE) as *mut u8,
                None => core::ptr::null_mut(),
            };
        }
        let mut heap = self.heap.lock();
        loop {
            if let Ok(p) = heap.alloc(layout) {
                return p.as_ptr();
            }
            let Some(pfn) = frame::alloc(GROW_ORDER) else { return core::ptr::null_mut() };
            let start = phys_to_virt(pfn * PAGE_SIZE) as usize;
            // SAFETY: the block is fresh memory owned by the heap from now on.
            unsafe { heap.add_to_heap(start, start + ((PAGE_SIZE as usize) << GROW_ORDER)) };
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= LARGE || layout.align() > PAGE_SIZE as usize {
            let pfn = virt_to_phys(ptr as u64) / PAGE_SIZE;
            frame::free_block(pfn, order_for(layout.size().max(layout.align())));
            return;
        }
        if let Some(p) = core::ptr::NonNull::new(ptr) {
            self.heap.lock().dealloc(p, layout);
        }
    }
}
