//! The boundary between the kernel core and the personality that runs user programs
//! (`linux-abi`): it registers hooks for system calls, unfixable user faults and the
//! work done on every return to user mode (signal delivery); the core provides entry
//! into user mode.

use core::sync::atomic::Ordering;

use crate::arch::x86_64::trap::{TrapFrame, UserFault};
use crate::arch::x86_64::trap_entry::trap_return;

/// What the personality does at each user/kernel boundary.
pub trait UserHooks: Sync {
    /// Handles a system call; the number and arguments are in `frame`, the result goes in `frame.rax`.
    fn syscall(&self, frame: &mut TrapFrame);
    /// Handles a fault the kernel could not fix (turns it into a signal).
    fn fault(&self, frame: &mut TrapFrame, fault: UserFault);
    /// Runs before returning to user mode (deliver pending signals).
    fn return_to_user(&self, frame: &mut TrapFrame);
}

static HOOKS: spin::Once<&'static dyn UserHooks> = spin::Once::new();

/// Registers the personality.
pub fn set_hooks(h: &'static dyn UserHooks) {
    HOOKS.call_once(|| h);
}

fn hooks() -> &'static dyn UserHooks {
    *HOOKS.get().expect("no user personality registered")
}

pub(crate) fn syscall(frame: &mut TrapFrame) {
    hooks().syscall(frame);
}

pub(crate) fn user_fault(frame: &mut TrapFrame, fault: UserFault) {
    hooks().fault(frame, fault);
}

/// Work on the way back to user mode: reschedule if asked, then deliver signals.
pub(crate) fn return_to_user(frame: &mut TrapFrame) {
    loop {
        let cpu = crate::percpu::this();
        if cpu.need_resched.load(Ordering::Relaxed) {
            crate::sched::core::schedule();
        }
        hooks().return_to_user(frame);
        if crate::sched::core::current().exit_requested() {
            // The personality finished with this thread; no frame of it is live here.
            crate::arch::x86_64::irq_flags::enable();
            crate::sched::core::exit_current();
        }
        crate::arch::x86_64::irq_flags::disable();
        if !crate::percpu::this().need_resched.load(Ordering::Relaxed) {
            return;
        }
        crate::arch::x86_64::irq_flags::enable();
    }
}

/// Enters user mode through the trap frame at `frame_addr` (top of the current stack).
///
/// # Safety
/// `frame_addr` must be the current thread's user trap frame slot, holding a valid user
/// frame; nothing on the stack above the caller is needed any more.
pub unsafe fn return_to_user_from(frame_addr: u64) -> ! {
    // SAFETY: per the contract, the slot holds a user frame owned by this thread.
    return_to_user(unsafe { &mut *(frame_addr as *mut TrapFrame) });
    // SAFETY: rsp is moved to the frame, which trap_return pops and irets from.
    unsafe {
        core::arch::asm!("mov rsp, {}", "jmp {}", in(reg) frame_addr, sym trap_return, options(noreturn));
    }
}

/// Makes the current (kernel) thread continue in user mode with `frame`. Used to start the
/// first program and by `execve`.
pub fn enter_user(frame: &TrapFrame) -> ! {
    let me = crate::sched::core::current();
    let addr = me.user_frame_addr();
    *me.user_frame() = *frame;
    drop(me);
    // SAFETY: `addr` is this thread's frame slot, just filled with a user frame.
    unsafe { return_to_user_from(addr) }
}
