//! User address spaces: a set of mappings (VMAs) over a page-table hierarchy, with
//! demand paging, copy-on-write and shared mappings.
//!
//! Private anonymous memory is zero-filled on first touch. A private file mapping maps
//! the object's page read-only and copies it on the first write. A shared mapping maps the
//! object's own frames, so every process sees the same physical pages. `fork` marks
//! private writable pages copy-on-write in both address spaces.
//!
//! Locking: the VMA set is under a sleeping mutex (faults may sleep); the page tables under
//! a spinlock taken briefly inside it. Frames removed from page tables are released only
//! after the TLBs of every CPU using the space have been flushed.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use bitflags::bitflags;

use super::frame::{self, Pfn};
use super::layout::{page_align_down, page_align_up, PAGE_SIZE, USER_END};
use super::vma::{RangeMap, RangeValue};
use crate::arch::x86_64::paging::{PageTable, Pte, ADDR_MASK};
use crate::arch::x86_64::tlb;
use crate::sync::{Mutex, MutexGuard, SpinLock};

bitflags! {
    /// Access rights of a mapping (Linux PROT_* values).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Prot: u32 {
        const READ = 1;
        const WRITE = 2;
        const EXEC = 4;
    }
}

bitflags! {
    /// Properties of a mapping.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct VmFlags: u32 {
        const SHARED = 1;
        const LOCKED = 2;
        const STACK = 4;
        const DONTFORK = 8;
        const WIPEONFORK = 16;
        /// The main stack: grows down on faults below it, within `Inner::stack_limit`.
        const GROWSDOWN = 32;
        /// A shared mapping that may become writable (its file was opened for writing).
        const MAYWRITE = 64;
    }
}

/// Why a fault could not be resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No mapping at the address (SIGSEGV, SEGV_MAPERR).
    Unmapped,
    /// The mapping forbids the access (SIGSEGV, SEGV_ACCERR).
    Access,
    /// Past the end of the backing object (SIGBUS).
    Bus,
    /// No memory for the page.
    NoMemory,
}

/// What kind of access faulted.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultAccess {
    pub write: bool,
    pub exec: bool,
    pub present: bool,
}

/// Memory that can back a mapping (a file's pages, shared memory).
pub trait MemObject: Send + Sync {
    /// The frame holding page `index`, with a new reference for the caller.
    fn page(&self, index: u64) -> Result<Pfn, FaultError>;
}

/// What a mapping is called in `/proc/<pid>/maps`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum VmaName {
    #[default]
    None,
    Heap,
    Stack,
    Vdso,
    Vvar,
    /// A file: (device, inode, path).
    File(u64, u64, Arc<str>),
}

/// One mapping.
#[derive(Clone)]
pub struct Vma {
    pub prot: Prot,
    pub flags: VmFlags,
    pub object: Option<Arc<dyn MemObject>>,
    /// Offset of the mapping's start in the object, in bytes.
    pub offset: u64,
    pub name: VmaName,
}

impl RangeValue for Vma {
    fn advance(&mut self, bytes: u64) {
        self.offset += bytes;
    }

    fn can_merge(&self, len: u64, next: &Self) -> bool {
        let same_obj = match (&self.object, &next.object) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) && self.offset + len == next.offset,
            _ => false,
        };
        same_obj && self.prot == next.prot && self.flags == next.flags && self.name == next.name
    }
}

/// How `map` chooses the address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Anywhere (the hint is tried first if free).
    Hint(u64),
    /// Exactly here, replacing what was there (MAP_FIXED).
    Fixed(u64),
    /// Exactly here, failing if anything is there (MAP_FIXED_NOREPLACE).
    FixedNoReplace(u64),
}

/// Why `map` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    NoSpace,
    Exists,
    Invalid,
    NoMemory,
    /// The old range of `remap` is not (wholly) one mapping.
    Fault,
}

/// Lowest address `mmap` hands out (Linux `mmap_min_addr`).
pub const MMAP_MIN: u64 = 0x10000;

/// Mutable state of an address space (under its mutex).
pub struct Inner {
    pub vmas: RangeMap<Vma>,
    /// Top of the area searched for free space (below the stack).
    pub mmap_base: u64,
    /// Start and current end of the heap (`brk`).
    pub brk_start: u64,
    pub brk: u64,
    /// Pages locked in memory by mlockall(MCL_FUTURE).
    pub lock_future: bool,
    /// Lowest address the main stack may grow down to (RLIMIT_STACK).
    pub stack_limit: u64,
}

/// Gap kept below a growing stack (Linux `stack_guard_gap`: 256 pages).
const STACK_GUARD_GAP: u64 = 256 * PAGE_SIZE;

/// A user address space.
pub struct AddressSpace {
    inner: Mutex<Inner>,
    pt: SpinLock<PageTable>,
    active: AtomicU64,
    /// Processes using this space (a vfork child shares its parent's).
    users: core::sync::atomic::AtomicUsize,
}

fn pte_flags(prot: Prot, shared: bool) -> Pte {
    let mut f = Pte::USER;
    if prot.contains(Prot::WRITE) {
        f |= Pte::WRITABLE;
    }
    if !prot.contains(Prot::EXEC) {
        f |= Pte::NO_EXECUTE;
    }
    if shared {
        f |= Pte::SHARED;
    }
    f
}

fn pfn_of(pte: u64) -> Pfn {
    (pte & ADDR_MASK) / PAGE_SIZE
}

/// Whether an entry owns a frame: present, or kept inaccessible under PROT_NONE.
fn holds_frame(pte: u64) -> bool {
    pte & (Pte::PRESENT.bits() | Pte::PROTNONE.bits()) != 0
}

impl AddressSpace {
    /// An empty address space.
    pub fn new() -> Result<Arc<Self>, MapError> {
        // SAFETY: the kernel root is a valid PML4 that is only read here.
        let kernel = unsafe { PageTable::from_root(super::kmap::kernel_root()) };
        let pt = PageTable::new_user(&kernel).map_err(|_| MapError::NoMemory)?;
        Ok(Arc::new(Self {
            inner: Mutex::new(Inner {
                vmas: RangeMap::new(),
                mmap_base: 0x7fff_f7ff_f000,
                brk_start: 0,
                brk: 0,
                lock_future: false,
                stack_limit: USER_END,
            }),
            pt: SpinLock::new(pt),
            active: AtomicU64::new(0),
            users: core::sync::atomic::AtomicUsize::new(1),
        }))
    }

    /// Another process starts using this space (vfork).
    pub fn add_user(&self) {
        self.users.fetch_add(1, Ordering::AcqRel);
    }

    /// A process stops using this space; true if it was the last (then its memory should
    /// be released with [`clear`](Self::clear)).
    pub fn drop_user(&self) -> bool {
        self.users.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// The CR3 value.
    pub fn root(&self) -> u64 {
        self.pt.lock().root()
    }

    /// Locks the mapping state (for syscalls that inspect or change it).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock()
    }

    pub(crate) fn cpu_enter(&self, cpu: u32) {
        self.active.fetch_or(1 << cpu, Ordering::AcqRel);
    }

    pub(crate) fn cpu_leave(&self, cpu: u32) {
        self.active.fetch_and(!(1 << cpu), Ordering::AcqRel);
    }

    fn flush(&self) {
        let mask = self.active.load(Ordering::Acquire);
        if mask != 0 {
            tlb::shootdown(mask);
        }
    }

    /// Maps `len` bytes; returns the address.
    pub fn map(&self, inner: &mut Inner, place: Placement, len: u64, vma: Vma) -> Result<u64, MapError> {
        let len = page_align_up(len);
        if len == 0 || len > USER_END {
            return Err(MapError::Invalid);
        }
        let addr = match place {
            Placement::Fixed(a) | Placement::FixedNoReplace(a) => {
                if a % PAGE_SIZE != 0 || a.checked_add(len).is_none_or(|e| e > USER_END) {
                    return Err(MapError::Invalid);
                }
                if !inner.vmas.is_free(a, a + len) {
                    if matches!(place, Placement::FixedNoReplace(_)) {
                        return Err(MapError::Exists);
                    }
                    self.unmap_locked(inner, a, len);
                }
                a
            }
            Placement::Hint(h) => {
                let h = page_align_down(h);
                if h >= MMAP_MIN && h.checked_add(len).is_some_and(|e| e <= USER_END) && inner.vmas.is_free(h, h + len) {
                    h
                } else {
                    inner.vmas.find_gap_topdown(len, MMAP_MIN, inner.mmap_base).ok_or(MapError::NoSpace)?
                }
            }
        };
        inner.vmas.insert(addr, addr + len, vma);
        inner.vmas.merge_around(addr, addr + len);
        Ok(addr)
    }

    /// Removes mappings in `[addr, addr+len)` and frees their pages.
    pub fn unmap(&self, inner: &mut Inner, addr: u64, len: u64) {
        self.unmap_locked(inner, addr, page_align_up(len));
    }

    fn unmap_locked(&self, inner: &mut Inner, addr: u64, len: u64) {
        let end = addr.saturating_add(len).min(USER_END);
        let removed = inner.vmas.remove(addr, end);
        if removed.is_empty() {
            return;
        }
        for (s, e, _) in &removed {
            self.release_range(*s, *e);
        }
    }

    /// Clears the page-table entries of `[start, end)` and releases the frames they held,
    /// 2 MiB at a time: each piece's frames (at most 512) are collected on the stack, the
    /// TLBs flushed, then the frames freed. No heap allocation, so tearing down a large
    /// mapping (or a whole address space) works even when memory is short.
    fn release_range(&self, start: u64, end: u64) {
        const CHUNK: u64 = 2 << 20;
        let mut at = start;
        while at < end {
            let stop = ((at / CHUNK + 1) * CHUNK).min(end);
            let mut frames = [0u64; (CHUNK / PAGE_SIZE) as usize];
            let mut n = 0;
            self.pt.lock().for_each_leaf(at, stop, |_, pte| {
                if holds_frame(*pte) && n < frames.len() {
                    frames[n] = pfn_of(*pte);
                    n += 1;
                }
                *pte = 0;
            });
            if n > 0 {
                self.flush();
                frames[..n].iter().copied().for_each(frame::put);
            }
            at = stop;
        }
    }

    /// Drops the private pages of `[addr, addr+len)` (MADV_DONTNEED): they read as zero
    /// (anonymous) or as the file's contents (private file mappings) on the next access.
    /// Shared mappings keep their object's pages; only this space's mappings go.
    pub fn discard(&self, inner: &mut Inner, addr: u64, len: u64) {
        let end = addr.saturating_add(len).min(USER_END);
        let _ = inner;
        self.release_range(addr, end);
    }

    /// Changes the protection of `[addr, addr+len)`; the range must be fully mapped.
    pub fn protect(&self, inner: &mut Inner, addr: u64, len: u64, prot: Prot) -> Result<(), MapError> {
        let end = addr.checked_add(page_align_up(len)).ok_or(MapError::Invalid)?;
        if !inner.vmas.is_covered(addr, end) {
            return Err(MapError::NoSpace);
        }
        inner.vmas.update(addr, end, |_, _, v| v.prot = prot);
        {
            let mut pt = self.pt.lock();
            pt.for_each_leaf(addr, end, |_, pte| {
                if !holds_frame(*pte) {
                    return;
                }
                let cow = *pte & Pte::COW.bits() != 0;
                let shared = *pte & Pte::SHARED.bits() != 0;
                let mut f = pte_flags(prot, shared);
                if cow {
                    f.remove(Pte::WRITABLE);
                    f |= Pte::COW;
                }
                // x86 cannot make a present page unreadable: PROT_NONE keeps the frame in
                // a not-present entry.
                f |= if prot.is_empty() { Pte::PROTNONE } else { Pte::PRESENT };
                *pte = (*pte & ADDR_MASK) | f.bits();
            });
        }
        inner.vmas.merge_around(addr, end);
        self.flush();
        Ok(())
    }

    /// Resolves a page fault at `addr`.
    pub fn handle_fault(&self, addr: u64, access: FaultAccess) -> Result<(), FaultError> {
        let mut inner = self.inner.lock();
        if inner.vmas.find(addr).is_none() {
            Self::grow_stack(&mut inner, addr)?;
        }
        self.fault_locked(&inner, addr, access)
    }

    /// Extends the growing stack mapping down to cover `addr`, if allowed.
    fn grow_stack(inner: &mut Inner, addr: u64) -> Result<(), FaultError> {
        let Some((s, e, vma)) = inner.vmas.next_from(addr) else { return Err(FaultError::Unmapped) };
        if !vma.flags.contains(VmFlags::GROWSDOWN) || addr < inner.stack_limit {
            return Err(FaultError::Unmapped);
        }
        let new_start = page_align_down(addr);
        let below_ok = match inner.vmas.iter().take_while(|r| r.0 < s).last() {
            Some((_, pe, _)) => pe.saturating_add(STACK_GUARD_GAP) <= new_start,
            None => true,
        };
        if !below_ok {
            return Err(FaultError::Unmapped);
        }
        let v = vma.clone();
        inner.vmas.remove(s, e);
        inner.vmas.insert(new_start, e, v);
        Ok(())
    }

    /// `mremap`: resizes (and with `may_move`, possibly moves) the mapping at `old`.
    /// Pages move with their contents; no data is copied.
    pub fn remap(&self, inner: &mut Inner, old: u64, old_len: u64, new_len: u64, may_move: bool, fixed: Option<u64>) -> Result<u64, MapError> {
        if old % PAGE_SIZE != 0 || new_len == 0 {
            return Err(MapError::Invalid);
        }
        let old_len = page_align_up(old_len);
        let new_len = page_align_up(new_len);
        let old_end = old.checked_add(old_len).ok_or(MapError::Invalid)?;
        let (s, e, vma) = inner.vmas.find(old).ok_or(MapError::Fault)?;
        if old_end > e && old_len != 0 {
            return Err(MapError::Fault);
        }
        let vma = vma.clone();
        if let Some(dst) = fixed {
            if dst % PAGE_SIZE != 0 || dst.checked_add(new_len).is_none_or(|x| x > USER_END) {
                return Err(MapError::Invalid);
            }
            if dst < old_end && old < dst + new_len {
                return Err(MapError::Invalid);
            }
            self.unmap_locked(inner, dst, new_len);
            return self.move_range(inner, old, old_len.min(new_len), dst, new_len, vma, s);
        }
        if new_len <= old_len {
            self.unmap_locked(inner, old + new_len, old_len - new_len);
            return Ok(old);
        }
        let grow_end = old.checked_add(new_len).ok_or(MapError::NoSpace)?;
        if old_end == e && grow_end <= USER_END && inner.vmas.is_free(old_end, grow_end) {
            inner.vmas.insert(old_end, grow_end, {
                let mut v = vma.clone();
                v.advance(old_end - s);
                v
            });
            inner.vmas.merge_around(old, grow_end);
            return Ok(old);
        }
        if !may_move {
            return Err(MapError::NoSpace);
        }
        let dst = inner.vmas.find_gap_topdown(new_len, MMAP_MIN, inner.mmap_base).ok_or(MapError::NoSpace)?;
        self.move_range(inner, old, old_len, dst, new_len, vma, s)
    }

    #[allow(clippy::too_many_arguments)]
    fn move_range(&self, inner: &mut Inner, old: u64, len: u64, dst: u64, new_len: u64, vma: Vma, vma_start: u64) -> Result<u64, MapError> {
        let mut v = vma;
        v.advance(old - vma_start);
        {
            let mut pt = self.pt.lock();
            let mut moved = Vec::new();
            pt.for_each_leaf(old, old + len, |va, pte| {
                moved.push((va, *pte));
                *pte = 0;
            });
            for (va, pte) in moved {
                let flags = Pte::from_bits_retain(pte & !ADDR_MASK);
                if pt.map(dst + (va - old), pte & ADDR_MASK, flags).is_err() {
                    frame::put(pfn_of(pte));
                }
            }
        }
        inner.vmas.remove(old, old + len);
        inner.vmas.insert(dst, dst + new_len, v);
        inner.vmas.merge_around(dst, dst + new_len);
        self.flush();
        Ok(dst)
    }

    fn fault_locked(&self, inner: &Inner, addr: u64, access: FaultAccess) -> Result<(), FaultError> {
        let (start, _, vma) = inner.vmas.find(addr).ok_or(FaultError::Unmapped)?;
        if (access.write && !vma.prot.contains(Prot::WRITE))
            || (access.exec && !vma.prot.contains(Prot::EXEC))
            || vma.prot.is_empty()
        {
            return Err(FaultError::Access);
        }
        let va = page_align_down(addr);
        let shared = vma.flags.contains(VmFlags::SHARED);
        let flags = pte_flags(vma.prot, shared);
        let old = self.pt.lock().get(va);
        if old & Pte::PRESENT.bits() != 0 {
            if access.write && old & Pte::COW.bits() != 0 {
                return self.break_cow(va, old, flags);
            }
            // Another thread resolved it first; our stale TLB entry is gone now.
            tlb::flush_page_local(va);
            return Ok(());
        }
        let index = (vma.offset + (va - start)) / PAGE_SIZE;
        let (pfn, f) = match &vma.object {
            None => (frame::alloc_zeroed().ok_or(FaultError::NoMemory)?, flags),
            Some(obj) if shared => (obj.page(index)?, flags),
            Some(obj) => {
                let src = obj.page(index)?;
                if access.write {
                    let Some(new) = frame::alloc(0) else {
                        frame::put(src);
                        return Err(FaultError::NoMemory);
                    };
                    frame::copy(new, src);
                    frame::put(src);
                    (new, flags)
                } else {
                    // The object's own page, read-only until a write copies it (also after
                    // a later mprotect to PROT_WRITE).
                    (src, (flags - Pte::WRITABLE) | Pte::COW)
                }
            }
        };
        let mut pt = self.pt.lock();
        match pt.map(va, pfn * PAGE_SIZE, f) {
            Ok(_) => Ok(()),
            Err(_) => {
                drop(pt);
                frame::put(pfn);
                Err(FaultError::NoMemory)
            }
        }
    }

    fn break_cow(&self, va: u64, old: u64, flags: Pte) -> Result<(), FaultError> {
        let src = pfn_of(old);
        let writable = ((flags | Pte::PRESENT) - Pte::COW).bits();
        if frame::count(src) == 1 {
            // Last user of the page: take it over.
            self.pt.lock().set(va, (old & ADDR_MASK) | writable);
            tlb::flush_page_local(va);
            return Ok(());
        }
        let new = frame::alloc(0).ok_or(FaultError::NoMemory)?;
        frame::copy(new, src);
        self.pt.lock().set(va, (new * PAGE_SIZE) | writable);
        self.flush();
        frame::put(src);
        Ok(())
    }

    /// Faults in every page of `[addr, addr+len)` (MAP_POPULATE, mlock).
    pub fn populate(&self, inner: &Inner, addr: u64, len: u64, write: bool) -> Result<(), FaultError> {
        let mut va = page_align_down(addr);
        let end = addr.saturating_add(len);
        while va < end {
            let Some((_, e, vma)) = inner.vmas.find(va) else {
                return Err(FaultError::Unmapped);
            };
            let w = write && vma.prot.contains(Prot::WRITE);
            let pte = self.pt.lock().get(va);
            let need = pte & Pte::PRESENT.bits() == 0 || (w && pte & Pte::COW.bits() != 0);
            if need && !vma.prot.is_empty() {
                self.fault_locked(inner, va, FaultAccess { write: w, ..Default::default() })?;
            }
            va += PAGE_SIZE;
            if va >= e && inner.vmas.find(va).is_none() {
                break;
            }
        }
        Ok(())
    }

    /// A copy-on-write duplicate for `fork`.
    pub fn fork(&self) -> Result<Arc<Self>, MapError> {
        let child = Self::new()?;
        let inner = self.inner.lock();
        let mut cinner = child.inner.lock();
        cinner.mmap_base = inner.mmap_base;
        cinner.brk_start = inner.brk_start;
        cinner.brk = inner.brk;
        {
            let mut pt = self.pt.lock();
            let mut cpt = child.pt.lock();
            for (s, e, vma) in inner.vmas.iter() {
                if vma.flags.contains(VmFlags::DONTFORK) {
                    continue;
                }
                let mut v = vma.clone();
                v.flags.remove(VmFlags::LOCKED);
                cinner.vmas.insert(s, e, v);
                if vma.flags.contains(VmFlags::WIPEONFORK) {
                    continue;
                }
                let shared = vma.flags.contains(VmFlags::SHARED);
                let mut failed = false;
                pt.for_each_leaf(s, e, |va, pte| {
                    if !holds_frame(*pte) || failed {
                        return;
                    }
                    let pfn = pfn_of(*pte);
                    // Every private page is shared copy-on-write (an mprotect may make it
                    // writable later; the COW bit keeps it read-only until copied).
                    if !shared {
                        *pte = (*pte & !Pte::WRITABLE.bits()) | Pte::COW.bits();
                    }
                    frame::get(pfn);
                    if cpt.map(va, pfn * PAGE_SIZE, Pte::empty()).is_err() {
                        frame::put(pfn);
                        failed = true;
                    } else {
                        cpt.set(va, *pte);
                    }
                });
                if failed {
                    return Err(MapError::NoMemory);
                }
            }
        }
        drop(cinner);
        drop(inner);
        self.flush();
        Ok(child)
    }

    /// Removes every mapping and frees all user pages (exit, exec).
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        self.unmap_locked(&mut inner, 0, USER_END);
    }

    /// Reads user memory of this (possibly not current) address space.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), FaultError> {
        let inner = self.inner.lock();
        let mut done = 0;
        while done < buf.len() {
            let va = addr + done as u64;
            let off = (va % PAGE_SIZE) as usize;
            let n = (buf.len() - done).min(PAGE_SIZE as usize - off);
            let mut pte = self.pt.lock().get(page_align_down(va));
            if pte & Pte::PRESENT.bits() == 0 {
                self.fault_locked(&inner, va, FaultAccess::default())?;
                pte = self.pt.lock().get(page_align_down(va));
            }
            frame::read(pfn_of(pte), off, &mut buf[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Writes user memory of this (possibly not current) address space, faulting pages in
    /// and breaking copy-on-write like a user write would (exec's stack and .bss set-up).
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), FaultError> {
        let inner = self.inner.lock();
        let mut done = 0;
        while done < data.len() {
            let va = addr + done as u64;
            let off = (va % PAGE_SIZE) as usize;
            let n = (data.len() - done).min(PAGE_SIZE as usize - off);
            let page = page_align_down(va);
            let mut pte = self.pt.lock().get(page);
            if pte & Pte::PRESENT.bits() == 0 || pte & Pte::WRITABLE.bits() == 0 {
                let (_, _, vma) = inner.vmas.find(va).ok_or(FaultError::Unmapped)?;
                if !vma.prot.contains(Prot::WRITE) {
                    return Err(FaultError::Access);
                }
                self.fault_locked(&inner, va, FaultAccess { write: true, ..Default::default() })?;
                pte = self.pt.lock().get(page);
            }
            frame::write(pfn_of(pte), off, &data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Resident pages of `[start, end)` (for /proc statistics).
    pub fn resident_pages(&self, start: u64, end: u64) -> u64 {
        let mut n = 0;
        self.pt.lock().for_each_leaf(start, end, |_, pte| {
            if holds_frame(*pte) {
                n += 1;
            }
        });
        n
    }

    /// The physical frame behind a user address, if mapped (futex keys).
    pub fn translate(&self, addr: u64) -> Option<Pfn> {
        let pte = self.pt.lock().get(page_align_down(addr));
        holds_frame(pte).then(|| pfn_of(pte))
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        let mut frames = Vec::new();
        let pt = self.pt.get_mut();
        pt.for_each_leaf(0, USER_END, |_, pte| {
            if holds_frame(*pte) {
                frames.push(pfn_of(*pte));
            }
            *pte = 0;
        });
        frames.into_iter().for_each(frame::put);
        // SAFETY: no CPU has this space loaded (each CPU holds an Arc while it does).
        let root = unsafe { PageTable::from_root(pt.root()) };
        // SAFETY: leaves were released above; the space is unreachable.
        unsafe { root.free_user() };
    }
}

/// Resolves a fault on a user address in the current thread's address space.
pub fn handle_user_fault(addr: u64, access: FaultAccess) -> Result<(), FaultError> {
    let space = crate::sched::core::current().addr_space().ok_or(FaultError::Unmapped)?;
    space.handle_fault(addr, access)
}
