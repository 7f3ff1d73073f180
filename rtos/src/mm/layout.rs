//! The virtual address space layout.
//!
//! | range | use |
//! |---|---|
//! | `0 .. USER_END` | the current process (4-level paging: 128 TiB) |
//! | `DIRECT_MAP_BASE ..` (PML4 256-383) | all physical memory, 1:1 |
//! | `VMAP_BASE ..` (PML4 384) | kernel stacks with guard pages, device MMIO |
//! | `KERNEL_OFFSET ..` (PML4 511) | the kernel image |

/// End of user space (exclusive).
pub const USER_END: u64 = 0x0000_8000_0000_0000;
/// Physical address 0 in the direct map.
pub const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;
/// Start of the kernel's allocated-mapping area.
pub const VMAP_BASE: u64 = 0xffff_c000_0000_0000;
/// Size of the vmap area.
pub const VMAP_SIZE: u64 = 1 << 39;
/// Where the kernel image is linked (physical 0 maps here).
pub const KERNEL_OFFSET: u64 = 0xffff_ffff_8000_0000;
/// Page size.
pub const PAGE_SIZE: u64 = 4096;

/// The direct-map address of physical address `pa`.
#[inline]
pub const fn phys_to_virt(pa: u64) -> u64 {
    pa + DIRECT_MAP_BASE
}

/// The physical address behind a direct-map or kernel-image address.
#[inline]
pub const fn virt_to_phys(va: u64) -> u64 {
    if va >= KERNEL_OFFSET {
        va - KERNEL_OFFSET
    } else {
        va - DIRECT_MAP_BASE
    }
}

/// Rounds up to a page boundary (saturating at the top of the address space).
#[inline]
pub const fn page_align_up(x: u64) -> u64 {
    match x.checked_add(PAGE_SIZE - 1) {
        Some(v) => v & !(PAGE_SIZE - 1),
        None => u64::MAX & !(PAGE_SIZE - 1),
    }
}

/// Rounds down to a page boundary.
#[inline]
pub const fn page_align_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

/// True for a canonical user-space address range `[addr, addr+len)`.
pub fn is_user_range(addr: u64, len: u64) -> bool {
    addr.checked_add(len).is_some_and(|end| end <= USER_END)
}
