//! The x86_64 signal frame (`struct rt_sigframe` of Linux `arch/x86/kernel/signal_64.c`):
//! what a handler finds on its stack and what `rt_sigreturn` restores.

use alloc::vec;

use bytemuck::{Pod, Zeroable};
use rtos::arch::x86_64::trap::TrapFrame;

use super::{AltStack, SigAction, SigInfo, SigSet, SA_ONSTACK, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK};
use crate::errno::Errno;
use crate::uaccess;

/// `struct sigcontext` (64-bit).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct SigContext {
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub rdx: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rsp: u64,
    pub rip: u64,
    pub eflags: u64,
    pub cs: u16,
    pub gs: u16,
    pub fs: u16,
    pub ss: u16,
    pub err: u64,
    pub trapno: u64,
    pub oldmask: u64,
    pub cr2: u64,
    pub fpstate: u64,
    pub reserved: [u64; 8],
}
const _: () = assert!(core::mem::size_of::<SigContext>() == 256);

/// `stack_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct StackT {
    pub sp: u64,
    pub flags: i32,
    pub _pad: i32,
    pub size: u64,
}

/// The kernel's `struct ucontext`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct UContext {
    pub flags: u64,
    pub link: u64,
    pub stack: StackT,
    pub mcontext: SigContext,
    pub sigmask: SigSet,
}
const _: () = assert!(core::mem::size_of::<UContext>() == 304);

/// `struct rt_sigframe`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct RtSigFrame {
    pub pretcode: u64,
    pub uc: UContext,
    pub info: SigInfo,
}
const _: () = assert!(core::mem::size_of::<RtSigFrame>() == 440);

const UC_FP_XSTATE: u64 = 1;
const UC_SIGCONTEXT_SS: u64 = 2;
const UC_STRICT_RESTORE_SS: u64 = 4;

/// Whether `sp` lies on the alternate stack.
pub fn on_altstack(a: &AltStack, sp: u64) -> bool {
    a.flags & SS_DISABLE == 0 && a.size != 0 && sp > a.sp && sp - a.sp <= a.size
}

/// Writes a handler frame for `info` and points `frame` at the handler.
/// `old_mask` is the mask to restore on return. Returns `EFAULT` if the stack is unusable.
pub fn setup(frame: &mut TrapFrame, act: &SigAction, info: &SigInfo, old_mask: SigSet, alt: &mut AltStack) -> Result<(), Errno> {
    let task_thread = rtos::sched::core::current_arc();
    let on_alt = on_altstack(alt, frame.rsp);
    let mut sp = if act.flags & SA_ONSTACK != 0 && alt.flags & SS_DISABLE == 0 && alt.size != 0 && !on_alt {
        alt.sp + alt.size
    } else {
        frame.rsp.wrapping_sub(128) // skip the red zone
    };
    let uc_stack = StackT { sp: alt.sp, flags: if on_alt { SS_ONSTACK } else { alt.flags & !SS_AUTODISARM }, _pad: 0, size: alt.size };
    if alt.flags & SS_AUTODISARM != 0 && act.flags & SA_ONSTACK != 0 {
        *alt = AltStack { sp: 0, size: 0, flags: SS_DISABLE };
    }
    let fp = task_thread.fpu_state();
    sp = sp.wrapping_sub(fp.len() as u64) & !63;
    let fp_addr = sp;
    sp = (sp.wrapping_sub(core::mem::size_of::<RtSigFrame>() as u64) & !15).wrapping_sub(8);
    let f = RtSigFrame {
        pretcode: act.restorer,
        uc: UContext {
            flags: UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS,
            link: 0,
            stack: uc_stack,
            mcontext: SigContext {
                r8: frame.r8,
                r9: frame.r9,
                r10: frame.r10,
                r11: frame.r11,
                r12: frame.r12,
                r13: frame.r13,
                r14: frame.r14,
                r15: frame.r15,
                rdi: frame.rdi,
                rsi: frame.rsi,
                rbp: frame.rbp,
                rbx: frame.rbx,
                rdx: frame.rdx,
                rax: frame.rax,
                rcx: frame.rcx,
                rsp: frame.rsp,
                rip: frame.rip,
                eflags: frame.rflags,
                cs: frame.cs as u16,
                ss: frame.ss as u16,
                err: if frame.vector < 32 { frame.error_code } else { 0 },
                trapno: if frame.vector < 32 { frame.vector } else { 0 },
                oldmask: old_mask.0,
                cr2: if frame.vector == 14 { info.fields[0] } else { 0 },
                fpstate: fp_addr,
                ..Default::default()
            },
            sigmask: old_mask,
        },
        info: *info,
    };
    uaccess::write_bytes(fp_addr, &fp)?;
    uaccess::write(sp, &f)?;
    frame.rip = act.handler;
    frame.rsp = sp;
    frame.rdi = info.signo as u64;
    frame.rsi = sp + 8 + core::mem::size_of::<UContext>() as u64;
    frame.rdx = sp + 8;
    frame.rax = 0;
    frame.rflags &= !(0x100 | 0x400 | 0x10000); // TF, DF, RF
    frame.cs = rtos::arch::x86_64::gdt::USER_CS;
    frame.ss = rtos::arch::x86_64::gdt::USER_SS;
    frame.vector = 0; // no longer a syscall frame: no restart handling on this return
    Ok(())
}

/// `rt_sigreturn`: restores the registers, mask, alternate stack and FPU state saved by
/// [`setup`]; the frame starts at the user stack pointer (the return address is popped).
pub fn restore(frame: &mut TrapFrame) -> Result<(SigSet, StackT), Errno> {
    let uc_addr = frame.rsp;
    let uc: UContext = uaccess::read(uc_addr)?;
    let m = &uc.mcontext;
    // Only the user-changeable flags (CF PF AF ZF SF TF DF OF AC ID...) are taken.
    const USER_FLAGS: u64 = 0x0001 | 0x0004 | 0x0010 | 0x0040 | 0x0080 | 0x0100 | 0x0400 | 0x0800 | 0x40000 | 0x200000;
    frame.r8 = m.r8;
    frame.r9 = m.r9;
    frame.r10 = m.r10;
    frame.r11 = m.r11;
    frame.r12 = m.r12;
    frame.r13 = m.r13;
    frame.r14 = m.r14;
    frame.r15 = m.r15;
    frame.rdi = m.rdi;
    frame.rsi = m.rsi;
    frame.rbp = m.rbp;
    frame.rbx = m.rbx;
    frame.rdx = m.rdx;
    frame.rax = m.rax;
    frame.rcx = m.rcx;
    frame.rsp = m.rsp;
    frame.rip = m.rip;
    frame.rflags = (frame.rflags & !USER_FLAGS) | (m.eflags & USER_FLAGS) | 0x202;
    frame.cs = rtos::arch::x86_64::gdt::USER_CS;
    frame.ss = rtos::arch::x86_64::gdt::USER_SS;
    frame.vector = 0;
    if m.fpstate != 0 {
        let me = rtos::sched::core::current_arc();
        let mut buf = vec![0u8; rtos::arch::x86_64::cpu::fpu_state_size()];
        uaccess::read_bytes(m.fpstate, &mut buf)?;
        me.set_fpu_state(&buf);
    }
    Ok((uc.sigmask, uc.stack))
}
