//! Checked access to user memory.
//!
//! The copy routine is a `rep movsb` with an exception-table entry: if it faults on a
//! user address that the address space cannot fix (demand paging, copy-on-write), the page
//! fault handler resumes at the fixup label and the routine returns the bytes not copied.
//! With SMAP on, user pages are reachable only between `stac` and `clac`.

use core::arch::global_asm;

use crate::mm::layout::is_user_range;

global_asm!(
    r#"
    .pushsection .text
    .global axle_copy_user
axle_copy_user:
    mov r8, rcx
    test r8, r8
    jz 1f
    stac
1:
    mov rcx, rdx
2:
    rep movsb
3:
    test r8, r8
    jz 4f
    clac
4:
    mov rax, rcx
    ret
    .pushsection .ex_table, "a"
    .quad 2b, 3b
    .popsection

    .global axle_user_probe_write
/* rdi = user address, rsi = smap; returns rax = 0, or 1 if the byte is not writable.
   `lock or byte [addr], 0` needs write access but changes nothing, even with other
   threads writing the same byte. */
axle_user_probe_write:
    test rsi, rsi
    jz 1f
    stac
1:
    xor eax, eax
2:
    lock or byte ptr [rdi], 0
    jmp 3f
4:
    mov eax, 1
3:
    test rsi, rsi
    jz 5f
    clac
5:
    ret
    .pushsection .ex_table, "a"
    .quad 2b, 4b
    .popsection

    .global axle_user_cmpxchg32
/* rdi = user address, esi = expected, edx = new, rcx = smap; returns rax = old value in
   low 32 bits, bit 32 set on fault. */
axle_user_cmpxchg32:
    mov r8, rcx
    test r8, r8
    jz 1f
    stac
1:
    mov eax, esi
5:
    lock cmpxchg dword ptr [rdi], edx
    mov eax, eax
    jmp 7f
6:
    mov rax, 0x100000000
7:
    test r8, r8
    jz 8f
    clac
8:
    ret
    .pushsection .ex_table, "a"
    .quad 5b, 6b
    .popsection
    .popsection
"#
);

extern "C" {
    fn axle_copy_user(dst: *mut u8, src: *const u8, len: usize, smap: u64) -> usize;
    fn axle_user_cmpxchg32(addr: u64, expected: u32, new: u32, smap: u64) -> u64;
    fn axle_user_probe_write(addr: u64, smap: u64) -> u64;
}

/// Checks that `[addr, addr+len)` is writable user memory (faulting pages in), without
/// changing it: one atomic no-op write per page. Used before consuming data from a
/// stream, so a bad buffer fails with EFAULT and loses nothing.
pub fn probe_writable(addr: u64, len: usize) -> Result<(), Fault> {
    if len == 0 {
        return Ok(());
    }
    if !is_user_range(addr, len as u64) {
        return Err(Fault);
    }
    let end = addr + len as u64;
    let mut p = addr;
    while p < end {
        // SAFETY: user address checked to be in range; a fault is caught by the exception table.
        if unsafe { axle_user_probe_write(p, smap()) } != 0 {
            return Err(Fault);
        }
        p = (p & !0xfff) + 0x1000;
    }
    Ok(())
}

/// A bad user address (EFAULT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault;

fn smap() -> u64 {
    u64::from(super::cpu::smap_enabled())
}

/// Copies `dst.len()` bytes from user address `src`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), Fault> {
    if dst.is_empty() {
        return Ok(());
    }
    if !is_user_range(src, dst.len() as u64) {
        return Err(Fault);
    }
    // SAFETY: `dst` is a valid kernel buffer; the source range is in user space, and any
    // fault while reading it is caught by the exception table.
    let left = unsafe { axle_copy_user(dst.as_mut_ptr(), src as *const u8, dst.len(), smap()) };
    if left == 0 {
        Ok(())
    } else {
        Err(Fault)
    }
}

/// Copies `src` to user address `dst`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), Fault> {
    if src.is_empty() {
        return Ok(());
    }
    if !is_user_range(dst, src.len() as u64) {
        return Err(Fault);
    }
    // SAFETY: as above, with the roles swapped; writes to user memory go through the
    // user's page tables with their permissions (CR0.WP is on), faults are caught.
    let left = unsafe { axle_copy_user(dst as *mut u8, src.as_ptr(), src.len(), smap()) };
    if left == 0 {
        Ok(())
    } else {
        Err(Fault)
    }
}

/// Fills `len` bytes at user address `dst` with zeros.
pub fn zero_user(dst: u64, len: usize) -> Result<(), Fault> {
    const Z: [u8; 256] = [0; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(Z.len());
        copy_to_user(dst + done as u64, &Z[..n])?;
        done += n;
    }
    Ok(())
}

/// Atomically compares-and-exchanges a 32-bit user word; returns the old value.
pub fn cmpxchg_user_u32(addr: u64, expected: u32, new: u32) -> Result<u32, Fault> {
    if addr % 4 != 0 || !is_user_range(addr, 4) {
        return Err(Fault);
    }
    // SAFETY: aligned user address; a fault is caught by the exception table.
    let r = unsafe { axle_user_cmpxchg32(addr, expected, new, smap()) };
    if r >> 32 != 0 {
        Err(Fault)
    } else {
        Ok(r as u32)
    }
}

/// [`cmpxchg_user_u32`] without resolving page faults (for use under a spinlock): `None`
/// if the page is not present and writable or the address is bad. Interrupts must be off.
pub fn cmpxchg_user_u32_nofault(addr: u64, expected: u32, new: u32) -> Option<u32> {
    let cpu = crate::percpu::this();
    cpu.nofault.store(true, core::sync::atomic::Ordering::Relaxed);
    let r = cmpxchg_user_u32(addr, expected, new);
    cpu.nofault.store(false, core::sync::atomic::Ordering::Relaxed);
    r.ok()
}

/// Reads an aligned 32-bit user word without resolving page faults (for checks done under
/// a spinlock): `None` if the page is not present or the address is bad. Interrupts must
/// be off (the caller holds a spinlock).
pub fn read_u32_nofault(addr: u64) -> Option<u32> {
    if addr % 4 != 0 || !is_user_range(addr, 4) {
        return None;
    }
    let cpu = crate::percpu::this();
    cpu.nofault.store(true, core::sync::atomic::Ordering::Relaxed);
    let mut b = [0u8; 4];
    let r = copy_from_user(&mut b, addr);
    cpu.nofault.store(false, core::sync::atomic::Ordering::Relaxed);
    r.ok().map(|_| u32::from_le_bytes(b))
}
