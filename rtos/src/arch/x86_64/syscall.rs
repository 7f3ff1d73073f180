//! The `syscall` instruction's entry: switch to the thread's kernel stack (via the per-CPU
//! block after `swapgs`), save a full [`TrapFrame`] like an interrupt does, call the
//! syscall hook, and return with `sysretq` when the frame allows it (else `iretq`, e.g.
//! after a signal handler changed registers that sysret cannot restore).

use core::arch::global_asm;

use super::cpu::{wrmsr, MSR_LSTAR, MSR_SFMASK, MSR_STAR};
use super::gdt::{USER_CS, USER_SS};
use super::trap::TrapFrame;

global_asm!(
    r#"
    .pushsection .text
    .global axle_syscall_entry
axle_syscall_entry:
    swapgs
    mov gs:[8], rsp
    mov rsp, gs:[16]
    push 0x1b
    push qword ptr gs:[8]
    push r11
    push 0x23
    push rcx
    push 0
    push 0x100
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    cld
    call {dispatch}
    test rax, rax
    jz trap_return
    cli
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    mov rsp, [rsp + 40]
    swapgs
    sysretq
    .popsection
"#,
    dispatch = sym syscall_dispatch,
);

extern "C" {
    fn axle_syscall_entry();
}

/// Programs the syscall MSRs on this CPU.
pub fn init_cpu() {
    // SAFETY: STAR selectors match the GDT layout (gdt.rs); LSTAR points at the entry
    // above; SFMASK clears IF, TF, DF and AC on entry.
    unsafe {
        wrmsr(MSR_STAR, (0x10u64 << 48) | (0x08u64 << 32));
        wrmsr(MSR_LSTAR, axle_syscall_entry as *const () as usize as u64);
        wrmsr(MSR_SFMASK, 0x4_0700);
    }
}

extern "C" fn syscall_dispatch(frame: &mut TrapFrame) -> u64 {
    super::irq_flags::enable();
    crate::user::syscall(frame);
    crate::sched::core::trap_exit(frame);
    // sysret reloads rip from rcx and rflags from r11: only usable when those match the
    // frame, the return is to canonical user code, and no trap flags are set.
    let ok = frame.rcx == frame.rip
        && frame.r11 == frame.rflags
        && frame.cs == USER_CS
        && frame.ss == USER_SS
        && frame.rip < 0x7fff_ffff_f000
        && frame.rflags & 0x200 != 0
        && frame.rflags & 0x0002_4100 == 0;
    u64::from(ok)
}
