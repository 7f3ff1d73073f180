//! Kernel panics and unrecoverable faults: print what happened (message and location, or
//! vector, error code, registers, faulting address and a frame-pointer backtrace), stop
//! the other CPUs, report `axle: fault` on the status channel and end QEMU with a
//! non-zero status.

use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::x86_64::{apic, cpu, trap::TrapFrame, trap::EXCEPTION_NAMES};
use crate::console::emergency_write;

static PANICKING: AtomicBool = AtomicBool::new(false);

/// QEMU exit code (`isa-debug-exit` value) for a kernel fault or panic: status 3.
pub const FAULT_EXIT_CODE: u32 = 1;

struct W;
impl Write for W {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        emergency_write(s);
        Ok(())
    }
}

fn stop_others() {
    if crate::percpu::online() > 1 {
        apic::send_ipi_all_others(apic::STOP_VECTOR);
    }
}

fn backtrace(mut rbp: u64) {
    let _ = writeln!(W, "backtrace:");
    for _ in 0..24 {
        if rbp < 0xffff_8000_0000_0000 || rbp % 8 != 0 {
            break;
        }
        // SAFETY: best effort on the panic path: rbp looks like a kernel frame pointer (the
        // kernel is built with frame pointers); a bad value can only fault again, which
        // the re-entrancy guard turns into a plain stop.
        let (next, ret) = unsafe { (*(rbp as *const u64), *((rbp + 8) as *const u64)) };
        if ret == 0 {
            break;
        }
        let _ = writeln!(W, "  {ret:#018x}");
        rbp = next;
    }
}

/// Ends the machine after a fatal kernel error.
pub fn die() -> ! {
    board::debug_exit::debugcon_write(b"axle: fault\n");
    board::debug_exit::qemu_exit(FAULT_EXIT_CODE);
    cpu::halt_forever()
}

fn enter() -> bool {
    crate::arch::x86_64::irq_flags::disable();
    if PANICKING.swap(true, Ordering::SeqCst) {
        // A second failure while reporting the first: just stop.
        cpu::halt_forever();
    }
    stop_others();
    true
}

/// Reports an exception in kernel mode that nothing could fix, then stops.
pub fn kernel_fault(f: &TrapFrame, cr2: u64) -> ! {
    enter();
    let name = EXCEPTION_NAMES.get(f.vector as usize).copied().unwrap_or("?");
    let cpu_id = crate::percpu::this().id;
    let _ = writeln!(W, "\n*** KERNEL FAULT on CPU {cpu_id}: vector {} ({name}), error code {:#x}", f.vector, f.error_code);
    if f.vector == 14 {
        let _ = writeln!(W, "faulting address (CR2): {cr2:#018x}");
    }
    dump(f);
    backtrace(f.rbp);
    die()
}

/// Prints a trap frame.
pub fn dump(f: &TrapFrame) {
    let _ = writeln!(W, "rip {:#018x} cs {:#x} rflags {:#x} rsp {:#018x} ss {:#x}", f.rip, f.cs, f.rflags, f.rsp, f.ss);
    let _ = writeln!(W, "rax {:#018x} rbx {:#018x} rcx {:#018x} rdx {:#018x}", f.rax, f.rbx, f.rcx, f.rdx);
    let _ = writeln!(W, "rsi {:#018x} rdi {:#018x} rbp {:#018x} r8  {:#018x}", f.rsi, f.rdi, f.rbp, f.r8);
    let _ = writeln!(W, "r9  {:#018x} r10 {:#018x} r11 {:#018x} r12 {:#018x}", f.r9, f.r10, f.r11, f.r12);
    let _ = writeln!(W, "r13 {:#018x} r14 {:#018x} r15 {:#018x} cr3 {:#018x}", f.r13, f.r14, f.r15, cpu::read_cr3());
}

/// NMI: used to stop CPUs; otherwise reported as a fault.
pub(crate) fn nmi(f: &mut TrapFrame) {
    if PANICKING.load(Ordering::SeqCst) {
        cpu::halt_forever();
    }
    kernel_fault(f, 0);
}

/// Handler of the stop IPI sent by a panicking CPU.
pub(crate) fn stop_ipi(_: &mut TrapFrame) {
    cpu::halt_forever();
}

/// The Rust panic handler body.
pub fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    enter();
    let _ = writeln!(W, "\n*** KERNEL PANIC: {}", info.message());
    if let Some(l) = info.location() {
        let _ = writeln!(W, "at {}:{}:{}", l.file(), l.line(), l.column());
    }
    let rbp: u64;
    // SAFETY: reading the frame pointer register.
    unsafe { core::arch::asm!("mov {}, rbp", out(reg) rbp) };
    backtrace(rbp);
    die()
}

#[cfg(all(target_os = "none", not(test)))]
#[panic_handler]
fn panic_handler(info: &core::panic::PanicInfo<'_>) -> ! {
    panic(info)
}

/// Deliberately faults the kernel (`crashtest=pagefault|panic|divide` on the command line),
/// so tests can check that a kernel fault is reported and ends the machine.
pub fn crash_test(kind: &str) {
    match kind {
        "pagefault" => {
            // An address in the kernel half that nothing maps.
            let p = 0xffff_ffff_0000_0000u64 as *const u64;
            // SAFETY: deliberately invalid: the resulting page fault is the point of the test.
            let v = unsafe { core::ptr::read_volatile(p) };
            log::error!("crash test: read {v:#x} from an unmapped address without a fault");
        }
        "panic" => panic!("crash test requested on the command line"),
        other => log::warn!("crashtest={other}: unknown kind (pagefault, panic)"),
    }
}
