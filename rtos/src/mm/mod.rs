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
