//! Trap frames and the dispatch of every exception, interrupt and IPI.
//!
//! Kernel faults that nothing can fix print the vector, error code, registers and
//! faulting address, then stop the machine (QEMU exits non-zero). User faults go to the
//! user-mode hooks (`crate::user`), which turn them into signals. Page faults on user
//! addresses are first offered to the address space (demand paging, copy-on-write),
//! also when the kernel itself touched user memory in a user-copy routine; if that
//! fails there, the routine's fixup entry makes it return EFAULT.

use core::sync::atomic::{AtomicUsize, Ordering};

use super::cpu;

/// Vector number used in a [`TrapFrame`] built by the `syscall` entry.
pub const SYSCALL_VECTOR: u64 = 0x100;

/// Registers saved on entry to the kernel, in the order the entry code pushes them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}
const _: () = assert!(core::mem::size_of::<TrapFrame>() == 22 * 8);

impl TrapFrame {
    /// True if the trap came from user mode (CPL 3).
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }

    /// A frame that enters user mode at `rip` with stack `rsp`, interrupts on.
    pub fn new_user(rip: u64, rsp: u64) -> Self {
        Self {
            rip,
            rsp,
            cs: super::gdt::USER_CS,
            ss: super::gdt::USER_SS,
            rflags: 0x202,
            vector: SYSCALL_VECTOR,
            ..Default::default()
        }
    }
}

/// Names of the architectural exceptions.
pub const EXCEPTION_NAMES: [&str; 32] = [
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
    "device not available", "double fault", "coprocessor overrun", "invalid TSS", "segment not present",
    "stack fault", "general protection", "page fault", "reserved", "x87 floating point", "alignment check",
    "machine check", "SIMD floating point", "virtualization", "control protection", "reserved", "reserved",
    "reserved", "reserved", "reserved", "reserved", "hypervisor injection", "VMM communication", "security",
    "reserved",
];

/// Handler of one interrupt vector (IRQ or IPI); runs with interrupts off.
pub type IrqHandler = fn(&mut TrapFrame);

static HANDLERS: [AtomicUsize; 256] = [const { AtomicUsize::new(0) }; 256];

/// Installs `handler` for `vector` (32..=255).
pub fn set_handler(vector: u8, handler: IrqHandler) {
    HANDLERS[vector as usize].store(handler as usize, Ordering::Release);
}

/// A fault the kernel could not fix for user code: becomes a signal.
#[derive(Clone, Copy, Debug)]
pub struct UserFault {
    pub vector: u8,
    pub error_code: u64,
    /// Faulting address for page faults (CR2), else the instruction pointer.
    pub address: u64,
}

#[no_mangle]
pub(super) extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    let vector = frame.vector as usize;
    let from_user = frame.from_user();
    match vector {
        14 => page_fault(frame),
        2 => crate::panic::nmi(frame),
        0..=31 => {
            if from_user {
                crate::irq_flags_enable_if(frame);
                crate::user::user_fault(
                    frame,
                    UserFault { vector: vector as u8, error_code: frame.error_code, address: frame.rip },
                );
            } else if !fixup(frame) {
                crate::panic::kernel_fault(frame, cpu::read_cr2());
            }
        }
        _ => {
            crate::percpu::irq_enter(vector);
            let h = HANDLERS[vector].load(Ordering::Acquire);
            if h != 0 {
                // SAFETY: only `set_handler` stores into HANDLERS, always a valid IrqHandler.
                let f: IrqHandler = unsafe { core::mem::transmute::<usize, IrqHandler>(h) };
                f(frame);
            } else if vector != super::apic::SPURIOUS_VECTOR as usize {
                log::warn!("unexpected interrupt vector {vector}");
            }
            if vector != super::apic::SPURIOUS_VECTOR as usize {
                super::apic::eoi();
            }
            crate::percpu::irq_exit();
        }
    }
    crate::sched::trap_exit(frame);
}

fn page_fault(frame: &mut TrapFrame) {
    let addr = cpu::read_cr2();
    let err = frame.error_code;
    // Interrupts were on where the fault happened: keep them on while resolving it.
    crate::irq_flags_enable_if(frame);
    let user_addr = addr < crate::mm::layout::USER_END;
    if user_addr && err & (1 << 3) == 0 {
        let access = crate::mm::FaultAccess { write: err & 2 != 0, exec: err & 16 != 0, present: err & 1 != 0 };
        // Kernel code touching user memory must be inside a user-copy routine.
        let allowed = frame.from_user()
            || (find_fixup(frame.rip).is_some() && !crate::percpu::this().nofault.load(Ordering::Relaxed));
        if allowed && crate::mm::handle_user_fault(addr, access).is_ok() {
            return;
        }
    }
    if frame.from_user() {
        crate::user::user_fault(frame, UserFault { vector: 14, error_code: err, address: addr });
    } else if !fixup(frame) {
        crate::panic::kernel_fault(frame, addr);
    }
}

extern "C" {
    static __ex_table_start: u8;
    static __ex_table_end: u8;
}

/// Looks up the fixup address for a faulting kernel instruction.
fn find_fixup(rip: u64) -> Option<u64> {
    #[cfg(target_os = "none")]
    {
        // SAFETY: the linker script brackets the `.ex_table` section with these symbols;
        // it holds (fault_rip, fixup_rip) pairs of u64 written by the user-copy routines.
        let table = unsafe {
            let start = core::ptr::addr_of!(__ex_table_start) as *const [u64; 2];
            let end = core::ptr::addr_of!(__ex_table_end) as *const [u64; 2];
            core::slice::from_raw_parts(start, end.offset_from(start) as usize)
        };
        table.iter().find(|e| e[0] == rip).map(|e| e[1])
    }
    #[cfg(not(target_os = "none"))]
    {
        let _ = rip;
        None
    }
}

fn fixup(frame: &mut TrapFrame) -> bool {
    match find_fixup(frame.rip) {
        Some(to) => {
            frame.rip = to;
            true
        }
        None => false,
    }
}
