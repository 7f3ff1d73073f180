//! 4-level x86_64 page tables, reached through the direct map.
//!
//! Reference: Intel SDM vol. 3A, 4.5 (4-level paging). Intermediate entries of user page
//! tables are `PRESENT|WRITABLE|USER` (the leaf decides); kernel ones omit `USER`.
//! Two software bits mark copy-on-write and shared pages for the memory manager.

use bitflags::bitflags;

use crate::mm::frame;
use crate::mm::layout::{phys_to_virt, PAGE_SIZE};

bitflags! {
    /// Page-table entry bits.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Pte: u64 {
        const PRESENT = 1;
        const WRITABLE = 1 << 1;
        const USER = 1 << 2;
        const WRITE_THROUGH = 1 << 3;
        const NO_CACHE = 1 << 4;
        const ACCESSED = 1 << 5;
        const DIRTY = 1 << 6;
        const HUGE = 1 << 7;
        const GLOBAL = 1 << 8;
        /// Software: a private page shared copy-on-write (mapped read-only).
        const COW = 1 << 9;
        /// Software: a page of a shared mapping.
        const SHARED = 1 << 10;
        /// Software: a page kept (not present) under PROT_NONE; it still owns its frame.
        const PROTNONE = 1 << 11;
        const NO_EXECUTE = 1 << 63;
    }
}

/// Mask of the physical address in an entry.
pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// Out of memory while creating page tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoMemory;

fn table(pa: u64) -> *mut u64 {
    phys_to_virt(pa) as *mut u64
}

fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * (level - 1))) & 0x1ff) as usize
}

/// A page-table hierarchy identified by its root (PML4) frame.
#[derive(Debug)]
pub struct PageTable {
    root: u64,
}

impl PageTable {
    /// Wraps an existing root.
    ///
    /// # Safety
    /// `root` must be the physical address of a valid PML4 that only this object (and
    /// whoever synchronises with it) modifies.
    pub const unsafe fn from_root(root: u64) -> Self {
        Self { root }
    }

    /// The root's physical address (the CR3 value).
    pub fn root(&self) -> u64 {
        self.root
    }

    /// A new hierarchy whose upper half (kernel) entries are copied from `kernel`.
    pub fn new_user(kernel: &PageTable) -> Result<Self, NoMemory> {
        let pfn = frame::alloc_zeroed().ok_or(NoMemory)?;
        let root = pfn * PAGE_SIZE;
        // SAFETY: both roots are PML4 frames in the direct map; the new one is ours alone.
        unsafe {
            for i in 256..512 {
                *table(root).add(i) = *table(kernel.root).add(i);
            }
        }
        Ok(Self { root })
    }

    /// The level-1 entry slot for `va`, creating intermediate tables with `inter` flags.
    /// Returns `Ok(None)` if a huge page covers `va` (or tables are missing and
    /// `create` is false).
    fn slot(&self, va: u64, create: bool, inter: Pte) -> Result<Option<*mut u64>, NoMemory> {
        let mut t = self.root;
        for level in (2..=4).rev() {
            // SAFETY: `t` is a page-table frame of this hierarchy, reached via the direct
            // map; the index is < 512.
            let e = unsafe { table(t).add(index(va, level)) };
            // SAFETY: `e` points into a live table frame.
            let v = unsafe { *e };
            if v & Pte::PRESENT.bits() == 0 {
                if !create {
                    return Ok(None);
                }
                let pfn = frame::alloc_zeroed().ok_or(NoMemory)?;
                // SAFETY: installing a fresh zeroed table; callers serialise modification.
                unsafe { *e = (pfn * PAGE_SIZE) | inter.bits() };
                t = pfn * PAGE_SIZE;
            } else if v & Pte::HUGE.bits() != 0 {
                return Ok(None);
            } else {
                if inter.contains(Pte::USER) && v & Pte::USER.bits() == 0 {
                    // SAFETY: widening an intermediate entry of this hierarchy.
                    unsafe { *e = v | Pte::USER.bits() | Pte::WRITABLE.bits() };
                }
                t = v & ADDR_MASK;
            }
        }
        // SAFETY: `t` is the level-1 table for `va`.
        Ok(Some(unsafe { table(t).add(index(va, 1)) }))
    }

    /// Maps the 4 KiB page at `va` to physical `pa` with `flags` (PRESENT is added).
    /// Returns the entry that was there before (0 if none).
    pub fn map(&mut self, va: u64, pa: u64, flags: Pte) -> Result<u64, NoMemory> {
        let inter = if va < crate::mm::layout::USER_END { Pte::PRESENT | Pte::WRITABLE | Pte::USER } else { Pte::PRESENT | Pte::WRITABLE };
        let slot = self.slot(va, true, inter)?.ok_or(NoMemory)?;
        // SAFETY: `slot` is the level-1 entry for `va` in this hierarchy.
        unsafe {
            let old = *slot;
            *slot = (pa & ADDR_MASK) | (flags | Pte::PRESENT).bits();
            Ok(old)
        }
    }

    /// The level-1 entry for `va` (0 if none).
    pub fn get(&self, va: u64) -> u64 {
        match self.slot(va, false, Pte::empty()) {
            // SAFETY: `s` points at a live entry.
            Ok(Some(s)) => unsafe { *s },
            _ => 0,
        }
    }

    /// Replaces the level-1 entry for `va` if tables exist; returns the old entry.
    pub fn set(&mut self, va: u64, pte: u64) -> u64 {
        match self.slot(va, false, Pte::empty()) {
            // SAFETY: `s` points at a live entry; callers serialise modification.
            Ok(Some(s)) => unsafe { core::mem::replace(&mut *s, pte) },
            _ => 0,
        }
    }

    /// Removes the mapping of `va`; returns the old entry (0 if none).
    pub fn unmap(&mut self, va: u64) -> u64 {
        self.set(va, 0)
    }

    /// Maps `[va, va+len)` to `[pa, pa+len)`, using 2 MiB pages where both are aligned.
    pub fn map_range(&mut self, mut va: u64, mut pa: u64, len: u64, flags: Pte) -> Result<(), NoMemory> {
        let end = va + len;
        while va < end {
            const HUGE: u64 = 2 << 20;
            if va % HUGE == 0 && pa % HUGE == 0 && end - va >= HUGE {
                self.map_huge_2m(va, pa, flags)?;
                va += HUGE;
                pa += HUGE;
            } else {
                self.map(va, pa, flags)?;
                va += PAGE_SIZE;
                pa += PAGE_SIZE;
            }
        }
        Ok(())
    }

    fn map_huge_2m(&mut self, va: u64, pa: u64, flags: Pte) -> Result<(), NoMemory> {
        let mut t = self.root;
        for level in [4u32, 3] {
            // SAFETY: as in `slot`.
            let e = unsafe { table(t).add(index(va, level)) };
            // SAFETY: live entry.
            let v = unsafe { *e };
            if v & Pte::PRESENT.bits() == 0 {
                let pfn = frame::alloc_zeroed().ok_or(NoMemory)?;
                // SAFETY: installing a fresh table.
                unsafe { *e = (pfn * PAGE_SIZE) | (Pte::PRESENT | Pte::WRITABLE).bits() };
                t = pfn * PAGE_SIZE;
            } else {
                t = v & ADDR_MASK;
            }
        }
        // SAFETY: level-2 entry for `va`.
        unsafe { *table(t).add(index(va, 2)) = (pa & ADDR_MASK) | (flags | Pte::PRESENT | Pte::HUGE).bits() };
        Ok(())
    }

    /// Makes sure the level-4 entry for `va` exists (pre-populating the kernel half).
    pub fn ensure_pml4_entry(&mut self, va: u64) -> Result<(), NoMemory> {
        // SAFETY: root entry of this hierarchy.
        let e = unsafe { table(self.root).add(index(va, 4)) };
        // SAFETY: live entry.
        if unsafe { *e } & Pte::PRESENT.bits() == 0 {
            let pfn = frame::alloc_zeroed().ok_or(NoMemory)?;
            // SAFETY: installing a fresh table.
            unsafe { *e = (pfn * PAGE_SIZE) | (Pte::PRESENT | Pte::WRITABLE).bits() };
        }
        Ok(())
    }

    /// Visits every present 4 KiB leaf in `[start, end)` of the user half: `f(va, pte_slot)`.
    pub fn for_each_leaf(&mut self, start: u64, end: u64, mut f: impl FnMut(u64, &mut u64)) {
        fn walk(t: u64, level: u32, base: u64, start: u64, end: u64, f: &mut dyn FnMut(u64, &mut u64)) {
            let span = 1u64 << (12 + 9 * (level - 1));
            for i in 0..512u64 {
                let va = base + i * span;
                if va >= end || va.wrapping_add(span) <= start {
                    continue;
                }
                // SAFETY: `t` is a live table frame of the hierarchy being walked.
                let e = unsafe { &mut *table(t).add(i as usize) };
                if *e & Pte::PRESENT.bits() == 0 && level > 1 {
                    continue;
                }
                if level == 1 {
                    if *e != 0 {
                        f(va, e);
                    }
                } else if *e & Pte::HUGE.bits() == 0 {
                    walk(*e & ADDR_MASK, level - 1, va, start, end, f);
                }
            }
        }
        walk(self.root, 4, 0, start, end.min(crate::mm::layout::USER_END), &mut f);
    }

    /// Frees the user-half table frames (not the pages they map) and the root.
    ///
    /// # Safety
    /// The hierarchy must not be loaded in any CPU's CR3 and leaves must already be
    /// released by the caller.
    pub unsafe fn free_user(self) {
        fn free(t: u64, level: u32) {
            if level > 1 {
                for i in 0..512 {
                    // SAFETY: live table frame being torn down by its only owner.
                    let e = unsafe { *table(t).add(i) };
                    if e & Pte::PRESENT.bits() != 0 && e & Pte::HUGE.bits() == 0 {
                        free(e & ADDR_MASK, level - 1);
                    }
                }
            }
            frame::put(t / PAGE_SIZE);
        }
        for i in 0..256 {
            // SAFETY: root entries of the user half.
            let e = unsafe { *table(self.root).add(i) };
            if e & Pte::PRESENT.bits() != 0 {
                free(e & ADDR_MASK, 3);
            }
        }
        frame::put(self.root / PAGE_SIZE);
    }
}
