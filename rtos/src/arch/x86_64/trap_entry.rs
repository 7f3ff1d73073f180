//! Interrupt/exception entry stubs and the common save/restore path.
//!
//! Each of the 256 vectors has a 16-byte stub at `trap_stubs + 16 * vector` that pushes a
//! zero error code (where the CPU pushes none) and the vector number, then jumps to
//! `trap_common`, which swaps GS when coming from user mode, saves every general register
//! into a [`super::trap::TrapFrame`] and calls `trap_dispatch`. `trap_return` undoes it and
//! is also the way into user mode for new threads and `exec`.

use core::arch::global_asm;

global_asm!(
    r#"
    .pushsection .text
    .balign 16
    .global trap_stubs
trap_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    push 0
    .endif
    push vec
    jmp trap_common
    .set vec, vec + 1
    .endr

    .balign 16
trap_common:
    test qword ptr [rsp + 24], 3
    jz 1f
    swapgs
1:
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

    .global trap_return
trap_return:
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
    add rsp, 16
    test qword ptr [rsp + 8], 3
    jz 2f
    swapgs
2:
    iretq
    .popsection
"#,
    dispatch = sym super::trap::trap_dispatch,
);

extern "C" {
    /// Start of the 256 entry stubs (16 bytes each).
    pub static trap_stubs: u8;
    /// Restores the trap frame at `rsp` and returns with `iretq`.
    pub fn trap_return() -> !;
}
