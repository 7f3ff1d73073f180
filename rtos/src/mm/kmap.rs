//! The kernel's own page tables: the direct map of RAM, the kernel image with per-section
//! permissions, and the vmap area (kernel stacks with guard pages, device MMIO).
//!
//! Every PML4 slot of the upper half is populated at boot, so user page tables can copy
//! those 256 entries once and still see every later kernel mapping.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use super::frame;
use super::layout::*;
use crate::arch::x86_64::paging::{PageTable, Pte};
use crate::boot::info::{BootInfo, MemKind};
use crate::sync::SpinLock;

static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

struct Vmap {
    next: u64,
    free_stacks: Vec<u64>,
    dirty_stacks: Vec<(u64, Vec<u64>)>,
}

static VMAP: SpinLock<Vmap> = SpinLock::new(Vmap { next: VMAP_BASE, free_stacks: Vec::new(), dirty_stacks: Vec::new() });
/// Serialises changes to kernel-half page tables.
static KPT_LOCK: SpinLock<()> = SpinLock::new(());

/// CR3 value of the kernel's page tables.
pub fn kernel_root() -> u64 {
    KERNEL_ROOT.load(Ordering::Relaxed)
}

fn kernel_pt() -> PageTable {
    // SAFETY: the kernel root is a valid PML4; modifications are serialised by KPT_LOCK.
    unsafe { PageTable::from_root(kernel_root()) }
}

extern "C" {
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __kernel_end: u8;
}

fn sym(s: &u8) -> u64 {
    s as *const u8 as u64
}

/// Builds the kernel page tables and switches to them.
///
/// # Safety
/// Once, on the boot CPU, after `frame::init`.
pub unsafe fn init(info: &BootInfo) {
    let root = frame::alloc_zeroed().expect("no memory for page tables") * PAGE_SIZE;
    // SAFETY: fresh root frame.
    let mut pt = unsafe { PageTable::from_root(root) };
    for slot in 256..512u64 {
        let va = 0xffff_0000_0000_0000 | (slot << 39);
        pt.ensure_pml4_entry(va).expect("no memory for page tables");
    }
    let nx = Pte::NO_EXECUTE;
    let rw = Pte::WRITABLE | nx | Pte::GLOBAL;
    for r in info.memmap.iter() {
        if matches!(r.kind, MemKind::Usable | MemKind::AcpiReclaimable | MemKind::AcpiNvs) {
            let s = page_align_down(r.start);
            let e = page_align_up(r.end);
            pt.map_range(phys_to_virt(s), s, e - s, rw).expect("no memory for page tables");
        }
    }
    // The first MiB (BIOS tables, AP trampoline) as ordinary memory too.
    pt.map_range(phys_to_virt(0), 0, 0x10_0000, rw).expect("no memory for page tables");
    // SAFETY: linker-script symbols bounding the image's sections.
    let (text_s, text_e, ro_s, ro_e, data_s, end) = unsafe {
        (sym(&__text_start), sym(&__text_end), sym(&__rodata_start), sym(&__rodata_end), sym(&__data_start), sym(&__kernel_end))
    };
    let map_kernel = |pt: &mut PageTable, s: u64, e: u64, f: Pte| {
        let mut va = page_align_down(s);
        while va < page_align_up(e) {
            pt.map(va, va - KERNEL_OFFSET, f | Pte::GLOBAL).expect("no memory for page tables");
            va += PAGE_SIZE;
        }
    };
    map_kernel(&mut pt, text_s, text_e, Pte::empty());
    map_kernel(&mut pt, ro_s, ro_e, nx);
    map_kernel(&mut pt, data_s, end, Pte::WRITABLE | nx);
    KERNEL_ROOT.store(root, Ordering::Relaxed);
    // SAFETY: the new tables map the kernel image, its stack (in .bss) and the direct map
    // exactly as the boot tables did at the addresses in use.
    unsafe { crate::arch::x86_64::cpu::write_cr3(root) };
}

/// Maps a device's registers uncached into the vmap area; returns the virtual address.
pub fn map_mmio(pa: u64, len: u64) -> u64 {
    let off = pa & (PAGE_SIZE - 1);
    let pages = page_align_up(len + off) / PAGE_SIZE;
    let va = {
        let mut v = VMAP.lock();
        let va = v.next;
        v.next += (pages + 1) * PAGE_SIZE;
        va
    };
    let _g = KPT_LOCK.lock();
    let mut pt = kernel_pt();
    for i in 0..pages {
        let f = Pte::WRITABLE | Pte::NO_EXECUTE | Pte::NO_CACHE | Pte::WRITE_THROUGH | Pte::GLOBAL;
        pt.map(va + i * PAGE_SIZE, page_align_down(pa) + i * PAGE_SIZE, f).expect("no memory for page tables");
    }
    va + off
}

/// Pages in one kernel stack.
pub const KSTACK_PAGES: u64 = 16;
const KSTACK_SLOT: u64 = (KSTACK_PAGES + 1) * PAGE_SIZE;
/// Freed stacks waiting for one TLB flush before their frames are reused.
const DIRTY_BATCH: usize = 32;

/// A kernel stack in the vmap area: `KSTACK_PAGES` pages above an unmapped guard page.
#[derive(Debug)]
pub struct KernelStack {
    base: u64,
    frames: Vec<u64>,
}

impl KernelStack {
    /// Allocates and maps a stack.
    pub fn new() -> Option<Self> {
        reclaim_stacks();
        let mut frames = Vec::with_capacity(KSTACK_PAGES as usize);
        for _ in 0..KSTACK_PAGES {
            match frame::alloc(0) {
                Some(f) => frames.push(f),
                None => {
                    frames.into_iter().for_each(frame::put);
                    return None;
                }
            }
        }
        let slot = {
            let mut v = VMAP.lock();
            match v.free_stacks.pop() {
                Some(s) => s,
                None => {
                    let s = v.next;
                    v.next += KSTACK_SLOT;
                    s
                }
            }
        };
        let base = slot + PAGE_SIZE;
        {
            let _g = KPT_LOCK.lock();
            let mut pt = kernel_pt();
            for (i, &f) in frames.iter().enumerate() {
                if pt.map(base + i as u64 * PAGE_SIZE, f * PAGE_SIZE, Pte::WRITABLE | Pte::NO_EXECUTE | Pte::GLOBAL).is_err() {
                    drop(_g);
                    frames.into_iter().for_each(frame::put);
                    return None;
                }
            }
        }
        Some(Self { base, frames })
    }

    /// The initial stack pointer (one past the highest byte).
    pub fn top(&self) -> u64 {
        self.base + KSTACK_PAGES * PAGE_SIZE
    }

    /// Lowest mapped address.
    pub fn bottom(&self) -> u64 {
        self.base
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let frames = core::mem::take(&mut self.frames);
        {
            let _g = KPT_LOCK.lock();
            let mut pt = kernel_pt();
            for i in 0..KSTACK_PAGES {
                pt.unmap(self.base + i * PAGE_SIZE);
            }
        }
        VMAP.lock().dirty_stacks.push((self.base - PAGE_SIZE, frames));
        DIRTY.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        // Dead threads are usually dropped by the scheduler with interrupts off, where the
        // flush cannot wait for other CPUs: then `reclaim_stacks` runs later (at the next
        // stack allocation, or from an idle CPU).
        reclaim_stacks();
    }
}

/// Stacks freed but not yet reusable (their translations may be cached elsewhere).
static DIRTY: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Whether enough freed stacks wait for [`reclaim_stacks`] to be worth a TLB flush.
pub fn stacks_to_reclaim() -> bool {
    DIRTY.load(core::sync::atomic::Ordering::Relaxed) >= DIRTY_BATCH
}

/// Returns freed kernel stacks to the free lists after one TLB flush on every CPU, once
/// `DIRTY_BATCH` of them wait. Does nothing with interrupts off (the flush waits for
/// the other CPUs' acknowledgements).
pub fn reclaim_stacks() {
    if !stacks_to_reclaim() || !crate::arch::x86_64::irq_flags::enabled() {
        return;
    }
    let batch = core::mem::take(&mut VMAP.lock().dirty_stacks);
    if batch.is_empty() {
        return;
    }
    DIRTY.fetch_sub(batch.len(), core::sync::atomic::Ordering::Relaxed);
    // Other CPUs may still cache the old translations: flush everywhere first.
    crate::arch::x86_64::tlb::flush_all_cpus();
    let mut v = VMAP.lock();
    for (slot, frames) in batch {
        frames.into_iter().for_each(frame::put);
        v.free_stacks.push(slot);
    }
}
