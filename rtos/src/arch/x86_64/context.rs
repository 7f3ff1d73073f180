//! Kernel context switch: saves the callee-saved registers on the old thread's stack,
//! stores its stack pointer, and resumes the new thread from its saved stack pointer.
//! A new thread's stack is prepared so that the first switch "returns" into
//! `thread_trampoline`, which calls `entry(arg)` (kept in r13/r12).

use core::arch::global_asm;

global_asm!(
    r#"
    .pushsection .text
    .global axle_switch_context
axle_switch_context:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

    .global axle_thread_trampoline
axle_thread_trampoline:
    mov rdi, r12
    xor ebp, ebp
    call r13
    ud2
    .popsection
"#
);

extern "C" {
    fn axle_switch_context(save_rsp: *mut u64, next_rsp: u64);
    fn axle_thread_trampoline();
}

/// Switches stacks: saves the current context's stack pointer into `*save_rsp` and
/// resumes the context whose stack pointer is `next_rsp`.
///
/// # Safety
/// `next_rsp` must come from a previous switch or [`prepare_stack`]; `save_rsp` must be
/// the current thread's slot. Interrupts must be off.
pub unsafe fn switch(save_rsp: *mut u64, next_rsp: u64) {
    // SAFETY: upheld by the caller.
    unsafe { axle_switch_context(save_rsp, next_rsp) }
}

/// Writes an initial switch frame below `top` so the thread starts in `entry(arg)`;
/// returns the stack pointer to resume.
///
/// # Safety
/// `top` must be the (16-byte aligned) top of a mapped, unused stack.
pub unsafe fn prepare_stack(top: u64, entry: extern "C" fn(u64) -> !, arg: u64) -> u64 {
    // Layout popped by axle_switch_context: r15 r14 r13 r12 rbx rbp, then the return address.
    // One padding word keeps rsp 16-byte aligned minus 8 at `entry`, as the ABI wants.
    let words: [u64; 8] = [0, 0, entry as *const () as usize as u64, arg, 0, 0, axle_thread_trampoline as *const () as usize as u64, 0];
    let sp = top - 8 * words.len() as u64;
    // SAFETY: the caller guarantees the stack is mapped and unused.
    unsafe { core::ptr::copy_nonoverlapping(words.as_ptr(), sp as *mut u64, words.len()) };
    sp
}
