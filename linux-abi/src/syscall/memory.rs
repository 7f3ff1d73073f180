//! Memory calls: mmap, munmap, mprotect, mremap, brk, madvise, msync, mincore, mlock.

use alloc::sync::Arc;

use rtos::mm::addrspace::{MapError, Placement, Prot, Vma, VmFlags, VmaName};
use rtos::mm::layout::{page_align_up, PAGE_SIZE, USER_END};

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::current_process;

const MAP_SHARED: u32 = 0x01;
const MAP_PRIVATE: u32 = 0x02;
const MAP_SHARED_VALIDATE: u32 = 0x03;
const MAP_FIXED: u32 = 0x10;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_GROWSDOWN: u32 = 0x100;
const MAP_DENYWRITE: u32 = 0x800;
const MAP_EXECUTABLE: u32 = 0x1000;
const MAP_LOCKED: u32 = 0x2000;
const MAP_NORESERVE: u32 = 0x4000;
const MAP_POPULATE: u32 = 0x8000;
const MAP_NONBLOCK: u32 = 0x10000;
const MAP_STACK: u32 = 0x20000;
const MAP_HUGETLB: u32 = 0x40000;
const MAP_SYNC: u32 = 0x80000;
const MAP_FIXED_NOREPLACE: u32 = 0x100000;
const KNOWN: u32 = MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_SYNC | MAP_FIXED_NOREPLACE | (0x3f << 26);

fn map_err(e: MapError) -> Errno {
    match e {
        MapError::NoSpace | MapError::NoMemory => Errno::ENOMEM,
        MapError::Exists => Errno::EEXIST,
        MapError::Invalid => Errno::EINVAL,
        MapError::Fault => Errno::EFAULT,
    }
}

/// `mmap(addr, len, prot, flags, fd, offset)`.
pub fn mmap(a: Args) -> SysResult {
    let (addr, len, prot, flags, fd, off) = (a.u(0), a.u(1), a.u32(2), a.u32(3), a.i(4), a.u(5));
    if len == 0 || off % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_align_up(len);
    if len == 0 || len > USER_END {
        return Err(Errno::ENOMEM);
    }
    let kind = flags & MAP_SHARED_VALIDATE;
    let shared = match kind {
        MAP_SHARED => true,
        MAP_PRIVATE => false,
        MAP_SHARED_VALIDATE => {
            if flags & !KNOWN != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            true
        }
        _ => return Err(Errno::EINVAL),
    };
    if flags & MAP_HUGETLB != 0 {
        return Err(Errno::EINVAL);
    }
    if prot & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    let prot_bits = Prot::from_bits_truncate(prot);
    let p = current_process();
    let mut vflags = VmFlags::empty();
    if shared {
        vflags |= VmFlags::SHARED;
    }
    if flags & MAP_STACK != 0 {
        vflags |= VmFlags::STACK;
    }
    let (object, name) = if flags & MAP_ANONYMOUS != 0 {
        if shared {
            // Shared anonymous memory: one page store, shared across fork.
            let store: Arc<dyn rtos::mm::addrspace::MemObject> = Arc::new(crate::fs::ramfs::StoreObject(rtos::mm::pagestore::PageStore::new(len)));
            vflags |= VmFlags::MAYWRITE;
            (Some(store), VmaName::File(0, 0, Arc::from("/dev/zero (deleted)")))
        } else {
            (None, VmaName::None)
        }
    } else {
        let file = crate::process::current_task().files().get(fd)?;
        if !file.readable() {
            return Err(Errno::EACCES);
        }
        if shared && prot & 2 != 0 && !file.writable() {
            return Err(Errno::EACCES);
        }
        let obj = file.ops.mem_object().ok_or(Errno::ENODEV)?;
        if file.writable() {
            vflags |= VmFlags::MAYWRITE;
        }
        let name = match file.ops.inode() {
            Some(i) => {
                let st = i.stat();
                VmaName::File(st.dev, st.ino, Arc::from(file.path().as_str()))
            }
            None => VmaName::None,
        };
        (Some(obj), name)
    };
    if off.checked_add(len).is_none() {
        return Err(Errno::EOVERFLOW);
    }
    let place = if flags & MAP_FIXED_NOREPLACE != 0 {
        Placement::FixedNoReplace(addr)
    } else if flags & MAP_FIXED != 0 {
        Placement::Fixed(addr)
    } else {
        Placement::Hint(addr)
    };
    let mm = p.mm();
    let mut inner = mm.lock();
    let locked = flags & MAP_LOCKED != 0 || inner.lock_future;
    if locked {
        vflags |= VmFlags::LOCKED;
    }
    let vma = Vma { prot: prot_bits, flags: vflags, object, offset: off, name };
    let at = mm.map(&mut inner, place, len, vma).map_err(map_err)?;
    if (flags & MAP_POPULATE != 0 || locked) && !prot_bits.is_empty() {
        let _ = mm.populate(&inner, at, len, prot_bits.contains(Prot::WRITE));
    }
    Ok(at as usize)
}

pub fn munmap(a: Args) -> SysResult {
    let (addr, len) = (a.u(0), a.u(1));
    if addr % PAGE_SIZE != 0 || len == 0 || addr.checked_add(len).is_none_or(|e| e > USER_END) {
        return Err(Errno::EINVAL);
    }
    let mm = current_process().mm();
    let mut inner = mm.lock();
    mm.unmap(&mut inner, addr, len);
    Ok(0)
}

pub fn mprotect(a: Args) -> SysResult {
    let (addr, len, prot) = (a.u(0), a.u(1), a.u32(2));
    const PROT_GROWSDOWN: u32 = 0x0100_0000;
    const PROT_GROWSUP: u32 = 0x0200_0000;
    if addr % PAGE_SIZE != 0 || prot & !(7 | PROT_GROWSDOWN | PROT_GROWSUP) != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    if addr.checked_add(page_align_up(len)).is_none_or(|e| e > USER_END) {
        return Err(Errno::ENOMEM);
    }
    let mm = current_process().mm();
    let mut inner = mm.lock();
    // A shared mapping of a file not opened for writing cannot become writable.
    let end = addr.saturating_add(page_align_up(len));
    if prot & 2 != 0 && inner.vmas.iter().any(|(s, e, v)| s < end && addr < e && v.flags.contains(VmFlags::SHARED) && v.object.is_some() && !v.flags.contains(VmFlags::MAYWRITE)) {
        return Err(Errno::EACCES);
    }
    mm.protect(&mut inner, addr, len, Prot::from_bits_truncate(prot)).map_err(|e| match e {
        MapError::NoSpace => Errno::ENOMEM,
        other => map_err(other),
    })?;
    Ok(0)
}

/// `mremap(old, old_len, new_len, flags, new_addr)`.
pub fn mremap(a: Args) -> SysResult {
    const MREMAP_MAYMOVE: u32 = 1;
    const MREMAP_FIXED: u32 = 2;
    const MREMAP_DONTUNMAP: u32 = 4;
    let (old, old_len, new_len, flags, new_addr) = (a.u(0), a.u(1), a.u(2), a.u32(3), a.u(4));
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 || old % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MREMAP_DONTUNMAP != 0 {
        // Not supported by Axle's memory manager.
        return Err(Errno::EINVAL);
    }
    if page_align_up(new_len) == 0 {
        return Err(Errno::EINVAL);
    }
    let mm = current_process().mm();
    let mut inner = mm.lock();
    let fixed = (flags & MREMAP_FIXED != 0).then_some(new_addr);
    mm.remap(&mut inner, old, old_len, new_len, flags & MREMAP_MAYMOVE != 0, fixed).map(|v| v as usize).map_err(map_err)
}

/// `brk(addr)`: returns the (possibly unchanged) break.
pub fn brk(a: Args) -> SysResult {
    let want = a.u(0);
    let mm = current_process().mm();
    let mut inner = mm.lock();
    let (start, cur) = (inner.brk_start, inner.brk);
    if want < start || want > start + (1 << 40) {
        return Ok(cur as usize);
    }
    let (old_top, new_top) = (page_align_up(cur), page_align_up(want));
    if new_top > old_top {
        let vma = Vma { prot: Prot::READ | Prot::WRITE, flags: VmFlags::empty(), object: None, offset: 0, name: VmaName::Heap };
        if mm.map(&mut inner, Placement::FixedNoReplace(old_top), new_top - old_top, vma).is_err() {
            return Ok(cur as usize);
        }
    } else if new_top < old_top {
        mm.unmap(&mut inner, new_top, old_top - new_top);
    }
    inner.brk = want;
    Ok(want as usize)
}

/// `madvise(addr, len, advice)`.
pub fn madvise(a: Args) -> SysResult {
    const MADV_NORMAL: i32 = 0;
    const MADV_RANDOM: i32 = 1;
    const MADV_SEQUENTIAL: i32 = 2;
    const MADV_WILLNEED: i32 = 3;
    const MADV_DONTNEED: i32 = 4;
    const MADV_FREE: i32 = 8;
    const MADV_REMOVE: i32 = 9;
    const MADV_DONTFORK: i32 = 10;
    const MADV_DOFORK: i32 = 11;
    const MADV_MERGEABLE: i32 = 12;
    const MADV_UNMERGEABLE: i32 = 13;
    const MADV_HUGEPAGE: i32 = 14;
    const MADV_NOHUGEPAGE: i32 = 15;
    const MADV_DONTDUMP: i32 = 16;
    const MADV_DODUMP: i32 = 17;
    const MADV_WIPEONFORK: i32 = 18;
    const MADV_KEEPONFORK: i32 = 19;
    let (addr, len, advice) = (a.u(0), a.u(1), a.i(2));
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_align_up(len);
    let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
    let mm = current_process().mm();
    let mut inner = mm.lock();
    let covered = inner.vmas.is_covered(addr, end);
    match advice {
        MADV_NORMAL | MADV_RANDOM | MADV_SEQUENTIAL | MADV_WILLNEED | MADV_MERGEABLE | MADV_UNMERGEABLE | MADV_HUGEPAGE | MADV_NOHUGEPAGE | MADV_DONTDUMP | MADV_DODUMP => {
            if covered { Ok(0) } else { Err(Errno::ENOMEM) }
        }
        MADV_DONTNEED | MADV_FREE => {
            if !covered {
                return Err(Errno::ENOMEM);
            }
            if inner.vmas.iter().any(|(s, e, v)| s < end && addr < e && v.flags.contains(VmFlags::LOCKED)) {
                return Err(Errno::EINVAL);
            }
            // Private pages are dropped (zero-fill / file contents on next touch); shared
            // pages stay in their object.
            mm.discard(&mut inner, addr, len);
            Ok(0)
        }
        MADV_REMOVE => Err(Errno::EOPNOTSUPP),
        MADV_DONTFORK | MADV_DOFORK | MADV_WIPEONFORK | MADV_KEEPONFORK => {
            if !covered {
                return Err(Errno::ENOMEM);
            }
            inner.vmas.update(addr, end, |_, _, v| match advice {
                MADV_DONTFORK => v.flags.insert(VmFlags::DONTFORK),
                MADV_DOFORK => v.flags.remove(VmFlags::DONTFORK),
                MADV_WIPEONFORK => v.flags.insert(VmFlags::WIPEONFORK),
                _ => v.flags.remove(VmFlags::WIPEONFORK),
            });
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// `msync(addr, len, flags)`: memory is the file's page cache, so there is nothing to
/// write back; the range and flags are validated.
pub fn msync(a: Args) -> SysResult {
    const MS_ASYNC: u32 = 1;
    const MS_INVALIDATE: u32 = 2;
    const MS_SYNC: u32 = 4;
    let (addr, len, flags) = (a.u(0), a.u(1), a.u32(2));
    if addr % PAGE_SIZE != 0 || flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0 || (flags & MS_ASYNC != 0 && flags & MS_SYNC != 0) {
        return Err(Errno::EINVAL);
    }
    let end = addr.checked_add(page_align_up(len)).ok_or(Errno::ENOMEM)?;
    let mm = current_process().mm();
    if !mm.lock().vmas.is_covered(addr, end) {
        return Err(Errno::ENOMEM);
    }
    Ok(0)
}

/// `mincore(addr, len, vec)`.
pub fn mincore(a: Args) -> SysResult {
    let (addr, len, vec) = (a.u(0), a.u(1), a.u(2));
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let end = addr.checked_add(page_align_up(len)).ok_or(Errno::ENOMEM)?;
    let mm = current_process().mm();
    if !mm.lock().vmas.is_covered(addr, end) {
        return Err(Errno::ENOMEM);
    }
    let pages = ((end - addr) / PAGE_SIZE) as usize;
    let v: alloc::vec::Vec<u8> = (0..pages).map(|i| u8::from(mm.translate(addr + i as u64 * PAGE_SIZE).is_some())).collect();
    crate::uaccess::write_bytes(vec, &v)?;
    Ok(0)
}

/// `mlock`/`munlock`: faults the range in (mlock) and marks it locked.
pub fn mlock(a: Args, lock: bool) -> SysResult {
    let addr = a.u(0) & !(PAGE_SIZE - 1);
    let end = a.u(0).checked_add(a.u(1)).map(page_align_up).ok_or(Errno::ENOMEM)?;
    let mm = current_process().mm();
    let mut inner = mm.lock();
    if !inner.vmas.is_covered(addr, end) {
        return Err(Errno::ENOMEM);
    }
    inner.vmas.update(addr, end, |_, _, v| {
        if lock {
            v.flags.insert(VmFlags::LOCKED)
        } else {
            v.flags.remove(VmFlags::LOCKED)
        }
    });
    if lock {
        mm.populate(&inner, addr, end - addr, true).map_err(|_| Errno::ENOMEM)?;
    }
    Ok(0)
}

/// `mlockall(flags)`.
pub fn mlockall(a: Args) -> SysResult {
    const MCL_CURRENT: u32 = 1;
    const MCL_FUTURE: u32 = 2;
    const MCL_ONFAULT: u32 = 4;
    let f = a.u32(0);
    if f == 0 || f & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || f == MCL_ONFAULT {
        return Err(Errno::EINVAL);
    }
    let mm = current_process().mm();
    let mut inner = mm.lock();
    if f & MCL_FUTURE != 0 {
        inner.lock_future = true;
    }
    if f & MCL_CURRENT != 0 {
        let ranges: alloc::vec::Vec<(u64, u64, bool)> = inner.vmas.iter().map(|(s, e, v)| (s, e, !v.prot.is_empty())).collect();
        for &(s, e, _) in &ranges {
            inner.vmas.update(s, e, |_, _, v| v.flags.insert(VmFlags::LOCKED));
        }
        if f & MCL_ONFAULT == 0 {
            for (s, e, accessible) in ranges {
                if accessible {
                    let _ = mm.populate(&inner, s, e - s, true);
                }
            }
        }
    }
    Ok(0)
}

pub fn munlockall(_: Args) -> SysResult {
    let mm = current_process().mm();
    let mut inner = mm.lock();
    inner.lock_future = false;
    let ranges: alloc::vec::Vec<(u64, u64)> = inner.vmas.iter().map(|(s, e, _)| (s, e)).collect();
    for (s, e) in ranges {
        inner.vmas.update(s, e, |_, _, v| v.flags.remove(VmFlags::LOCKED));
    }
    Ok(0)
}
