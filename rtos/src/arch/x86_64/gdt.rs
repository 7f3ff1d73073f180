//! Per-CPU GDT and TSS.
//!
//! Selector layout is fixed by `syscall`/`sysret` (STAR): kernel code 0x08, kernel data
//! 0x10, user data 0x18|3, user code 0x20|3, then the 16-byte TSS descriptor at 0x28.
//! The TSS gives each CPU its ring-0 stack for interrupts from user mode (`rsp0`, switched
//! with the current thread) and separate IST stacks for double faults and NMIs.

use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::{PrivilegeLevel, VirtAddr};

pub const KERNEL_CS: u64 = 0x08;
pub const KERNEL_SS: u64 = 0x10;
pub const USER_SS: u64 = 0x18 | 3;
pub const USER_CS: u64 = 0x20 | 3;

/// IST slot (1-based in the IDT, 0-based here) for double faults.
pub const IST_DOUBLE_FAULT: u16 = 0;
/// IST slot for NMIs and machine checks.
pub const IST_NMI: u16 = 1;

/// One CPU's descriptor tables.
pub struct CpuTables {
    pub gdt: GlobalDescriptorTable<8>,
    pub tss: TaskStateSegment,
}

impl CpuTables {
    /// Tables with the given IST stack tops.
    pub fn new(double_fault_stack_top: u64, nmi_stack_top: u64) -> Self {
        let mut tss = TaskStateSegment::new();
        tss.interrupt_stack_table[IST_DOUBLE_FAULT as usize] = VirtAddr::new(double_fault_stack_top);
        tss.interrupt_stack_table[IST_NMI as usize] = VirtAddr::new(nmi_stack_top);
        Self { gdt: GlobalDescriptorTable::new(), tss }
    }

    /// Builds the GDT around this (now pinned, `'static`) TSS and loads both.
    pub fn load(&'static mut self) {
        let tss: &'static TaskStateSegment = {
            let p: *const TaskStateSegment = &self.tss;
            // SAFETY: `self` is 'static and the TSS is never moved; the CPU keeps a pointer
            // to it and only the rsp0 field is rewritten later (through `set_rsp0`).
            unsafe { &*p }
        };
        let kcs = self.gdt.append(Descriptor::kernel_code_segment());
        let kds = self.gdt.append(Descriptor::kernel_data_segment());
        let uds = self.gdt.append(Descriptor::user_data_segment());
        let ucs = self.gdt.append(Descriptor::user_code_segment());
        let tss_sel = self.gdt.append(Descriptor::tss_segment(tss));
        debug_assert_eq!(u64::from(kcs.0), KERNEL_CS);
        debug_assert_eq!(u64::from(kds.0), KERNEL_SS);
        debug_assert_eq!(u64::from(uds.0), USER_SS);
        debug_assert_eq!(u64::from(ucs.0), USER_CS);
        let gdt: &'static GlobalDescriptorTable<8> = {
            let p: *const GlobalDescriptorTable<8> = &self.gdt;
            // SAFETY: as above, the GDT lives as long as the CPU and is not modified again.
            unsafe { &*p }
        };
        gdt.load();
        // SAFETY: the selectors index descriptors of the GDT just loaded.
        unsafe {
            CS::set_reg(SegmentSelector::new(1, PrivilegeLevel::Ring0));
            SS::set_reg(SegmentSelector::new(2, PrivilegeLevel::Ring0));
            DS::set_reg(SegmentSelector::new(0, PrivilegeLevel::Ring0));
            ES::set_reg(SegmentSelector::new(0, PrivilegeLevel::Ring0));
            load_tss(tss_sel);
        }
    }
}

/// Sets the ring-0 stack used for interrupts arriving in user mode.
///
/// # Safety
/// `tss` must be this CPU's loaded TSS and `top` a valid kernel stack top.
pub unsafe fn set_rsp0(tss: *mut TaskStateSegment, top: u64) {
    // SAFETY: upheld by the caller; the CPU only reads rsp0 on a privilege change, which
    // cannot happen while we run in ring 0 on this CPU.
    unsafe { (*tss).privilege_stack_table[0] = VirtAddr::new(top) };
}
