//! Memory management: physical frames, kernel page tables and heap, user address spaces.
pub mod buddy;
pub mod layout;
pub mod vma;

#[cfg(target_os = "none")]
pub mod addrspace;
#[cfg(target_os = "none")]
pub mod frame;
#[cfg(target_os = "none")]
pub mod heap;
#[cfg(target_os = "none")]
pub mod kmap;
#[cfg(target_os = "none")]
pub mod pagestore;

#[cfg(target_os = "none")]
pub use addrspace::{handle_user_fault, FaultAccess};

/// The bytes of a boot module in physical memory (the initramfs), via the direct map.
#[cfg(target_os = "none")]
pub fn phys_bytes(pa: u64, len: u64) -> &'static [u8] {
    // SAFETY: boot modules are RAM reserved from the frame allocator until
    // `release_boot_range`, which the caller invokes only after it stops using the slice.
    unsafe { core::slice::from_raw_parts(layout::phys_to_virt(pa) as *const u8, len as usize) }
}

/// Gives the memory of a boot module back to the frame allocator.
#[cfg(target_os = "none")]
pub fn release_boot_range(pa: u64, len: u64) {
    frame::free_range(layout::page_align_up(pa), layout::page_align_down(pa + len));
}

/// Physically contiguous, zeroed memory for device DMA, as (physical, kernel virtual)
/// addresses; freed with [`dma_free`]. `bytes` is rounded up to a power-of-two number of pages.
#[cfg(target_os = "none")]
pub fn dma_alloc(bytes: usize) -> Option<(u64, *mut u8)> {
    let pages = bytes.div_ceil(layout::PAGE_SIZE as usize).max(1);
    let order = pages.next_power_of_two().trailing_zeros() as usize;
    let pfn = frame::alloc(order)?;
    let pa = pfn * layout::PAGE_SIZE;
    let va = layout::phys_to_virt(pa) as *mut u8;
    // SAFETY: a fresh block of 2^order frames, mapped by the direct map.
    unsafe { core::ptr::write_bytes(va, 0, (layout::PAGE_SIZE as usize) << order) };
    Some((pa, va))
}

/// Frees memory from [`dma_alloc`] (same `bytes`).
#[cfg(target_os = "none")]
pub fn dma_free(pa: u64, bytes: usize) {
    let pages = bytes.div_ceil(layout::PAGE_SIZE as usize).max(1);
    frame::free_block(pa / layout::PAGE_SIZE, pages.next_power_of_two().trailing_zeros() as usize);
}
