//! Starting the other CPUs (application processors).
//!
//! A real-mode trampoline is copied to physical 0x8000; INIT-SIPI-SIPI starts each AP
//! there. It switches to protected mode, then long mode on the boot page tables (which
//! identity-map low memory and map the kernel), jumps to the higher half, loads the
//! kernel's page tables and stack, and calls [`ap_entry`] with the CPU's index.

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::apic;
use crate::mm::layout::{phys_to_virt, KERNEL_OFFSET};

/// Physical address of the trampoline page.
pub const TRAMPOLINE: u64 = 0x8000;

global_asm!(
    r#"
    .set TRAMP, 0x8000
    .set KOFF, 0xffffffff80000000
    .pushsection .rodata
    .balign 256
    .global axle_ap_tramp_start
/* Fixed layout (offsets from the page start): code jumps over the parameter block. */
axle_ap_tramp_start:
    .code16
    jmp 1f
    .balign 8
    .global axle_ap_params
axle_ap_params:
    .quad 0, 0, 0, 0, 0      /* +8 boot_cr3, +16 high_entry, +24 kernel_cr3, +32 stack, +40 cpu_index */
    .quad 0                  /* +48 null */
    .quad 0x00cf9a000000ffff /* +56 0x08: 32-bit code */
    .quad 0x00cf92000000ffff /* +64 0x10: data */
    .quad 0x00af9a000000ffff /* +72 0x18: 64-bit code */
    .word 31                 /* +80 GDT pointer */
    .long TRAMP + 48
    .balign 16
1:                           /* +96 */
    cli
    cld
    xor ax, ax
    mov ds, ax
    lgdt [TRAMP + 80]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    .byte 0x66, 0xea         /* ljmp dword 0x08:TRAMP+128 */
    .long TRAMP + 128
    .word 0x08
    .balign 128, 0x90
    .code32                  /* +128 */
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, 0xa0
    mov cr4, eax
    mov eax, [TRAMP + 8]
    mov cr3, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, 0x901
    wrmsr
    mov eax, cr0
    or eax, 0x80010001
    mov cr0, eax
    .byte 0xea               /* ljmp 0x18:TRAMP+256 */
    .long TRAMP + 256
    .word 0x18
    .balign 128, 0x90
    .code64                  /* +256 */
    mov rax, [TRAMP + 16]
    jmp rax
    .global axle_ap_tramp_end
axle_ap_tramp_end:
    .popsection

    .pushsection .text
    .global axle_ap_high
axle_ap_high:
    mov rax, [TRAMP + 24]
    mov rsp, [TRAMP + 32]
    mov rdi, [TRAMP + 40]
    mov cr3, rax
    xor ebp, ebp
    call {entry}
    ud2
    .popsection
"#,
    entry = sym ap_entry,
);

extern "C" {
    static axle_ap_tramp_start: u8;
    static axle_ap_tramp_end: u8;
    static axle_ap_params: u8;
    fn axle_ap_high();
    static boot_pml4: u8;
}

/// Parameters block inside the trampoline (offset 8, see the layout above).
#[repr(C)]
struct Params {
    boot_cr3: u64,
    high_entry: u64,
    kernel_cr3: u64,
    stack: u64,
    cpu_index: u64,
}

static AP_READY: AtomicBool = AtomicBool::new(false);
static AP_MAIN: AtomicU64 = AtomicU64::new(0);

/// Function each AP runs once its CPU state is set up (never returns).
pub type ApMain = fn(u32, u32) -> !;

extern "C" fn ap_entry(cpu_index: u64) -> ! {
    let apic_id = {
        super::cpu::init_control_registers();
        apic::init_cpu();
        apic::id()
    };
    let f = AP_MAIN.load(Ordering::Acquire);
    // SAFETY: set by `start_aps` to a valid ApMain before any AP is started.
    let f: ApMain = unsafe { core::mem::transmute::<u64, ApMain>(f) };
    f(cpu_index as u32, apic_id)
}

/// Called by the AP's main function once its per-CPU state is ready.
pub fn ap_online() {
    AP_READY.store(true, Ordering::Release);
}

/// Starts the CPU with `apic_id` as CPU `index` on the stack `stack_top`; returns whether it
/// came up within a second.
pub fn start_ap(index: u32, apic_id: u32, stack_top: u64, main: ApMain) -> bool {
    AP_MAIN.store(main as usize as u64, Ordering::Release);
    // SAFETY: the trampoline page lies in low memory that the frame allocator never hands
    // out; the code and parameter block are copied into it before the AP is started.
    unsafe {
        let start = core::ptr::addr_of!(axle_ap_tramp_start);
        let end = core::ptr::addr_of!(axle_ap_tramp_end);
        let len = end as usize - start as usize;
        let dst = phys_to_virt(TRAMPOLINE) as *mut u8;
        core::ptr::copy_nonoverlapping(start, dst, len);
        let off = core::ptr::addr_of!(axle_ap_params) as usize - start as usize;
        let p = dst.add(off) as *mut Params;
        (*p).boot_cr3 = core::ptr::addr_of!(boot_pml4) as u64 - KERNEL_OFFSET;
        (*p).high_entry = axle_ap_high as *const () as usize as u64;
        (*p).kernel_cr3 = crate::mm::kmap::kernel_root();
        (*p).stack = stack_top;
        (*p).cpu_index = u64::from(index);
    }
    AP_READY.store(false, Ordering::Release);
    apic::send_init(apic_id);
    crate::time::clock::spin_delay_ns(10_000_000);
    for _ in 0..2 {
        apic::send_sipi(apic_id, (TRAMPOLINE >> 12) as u8);
        crate::time::clock::spin_delay_ns(200_000);
        if AP_READY.load(Ordering::Acquire) {
            break;
        }
    }
    let t0 = crate::time::now_ns();
    while !AP_READY.load(Ordering::Acquire) {
        if crate::time::now_ns() - t0 > 1_000_000_000 {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}
