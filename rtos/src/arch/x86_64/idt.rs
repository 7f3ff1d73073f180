//! The interrupt descriptor table, shared by all CPUs: every vector points at its entry
//! stub; double faults and NMIs/machine checks run on their own IST stacks; vector 3
//! (breakpoint) and 4 (overflow) may be raised from user mode.

use x86_64::structures::idt::InterruptDescriptorTable;
use x86_64::{PrivilegeLevel, VirtAddr};

use super::gdt::{IST_DOUBLE_FAULT, IST_NMI};
use super::trap_entry::trap_stubs;

static IDT: spin::Once<InterruptDescriptorTable> = spin::Once::new();

fn stub(vector: usize) -> VirtAddr {
    VirtAddr::new(core::ptr::addr_of!(trap_stubs) as u64 + 16 * vector as u64)
}

/// Builds (once) and loads the IDT on this CPU.
pub fn load() {
    let idt = IDT.call_once(|| {
        let mut idt = InterruptDescriptorTable::new();
        // SAFETY (for every set_handler_addr below): each address is the entry stub for
        // that vector, which saves a full trap frame and handles the error code correctly.
        unsafe {
            idt.divide_error.set_handler_addr(stub(0));
            idt.debug.set_handler_addr(stub(1));
            idt.non_maskable_interrupt.set_handler_addr(stub(2)).set_stack_index(IST_NMI);
            idt.breakpoint.set_handler_addr(stub(3)).set_privilege_level(PrivilegeLevel::Ring3);
            idt.overflow.set_handler_addr(stub(4)).set_privilege_level(PrivilegeLevel::Ring3);
            idt.bound_range_exceeded.set_handler_addr(stub(5));
            idt.invalid_opcode.set_handler_addr(stub(6));
            idt.device_not_available.set_handler_addr(stub(7));
            idt.double_fault.set_handler_addr(stub(8)).set_stack_index(IST_DOUBLE_FAULT);
            idt.invalid_tss.set_handler_addr(stub(10));
            idt.segment_not_present.set_handler_addr(stub(11));
            idt.stack_segment_fault.set_handler_addr(stub(12));
            idt.general_protection_fault.set_handler_addr(stub(13));
            idt.page_fault.set_handler_addr(stub(14));
            idt.x87_floating_point.set_handler_addr(stub(16));
            idt.alignment_check.set_handler_addr(stub(17));
            idt.machine_check.set_handler_addr(stub(18)).set_stack_index(IST_NMI);
            idt.simd_floating_point.set_handler_addr(stub(19));
            idt.virtualization.set_handler_addr(stub(20));
            idt.cp_protection_exception.set_handler_addr(stub(21));
            idt.hv_injection_exception.set_handler_addr(stub(28));
            idt.vmm_communication_exception.set_handler_addr(stub(29));
            idt.security_exception.set_handler_addr(stub(30));
            for v in 32..256usize {
                idt[v as u8].set_handler_addr(stub(v));
            }
        }
        idt
    });
    idt.load();
}
