//! CPU identification and control-register setup shared by every CPU.
//!
//! Reference: Intel SDM vol. 2A (CPUID), vol. 3A ch. 2 (CR0/CR4/EFER/XCR0), ch. 13 (XSAVE).

use core::arch::asm;
use core::arch::x86_64::{__cpuid, __cpuid_count};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Features Axle looks for, read once on the boot CPU.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub x2apic: bool,
    pub tsc_deadline: bool,
    pub invariant_tsc: bool,
    pub xsave: bool,
    pub avx: bool,
    pub smep: bool,
    pub smap: bool,
    pub fsgsbase: bool,
    pub page1g: bool,
    pub pcid: bool,
    pub rdrand: bool,
    pub hypervisor: bool,
    /// TSC frequency from CPUID leaf 0x15/0x16 or the hypervisor leaf, if given.
    pub tsc_hz_cpuid: Option<u64>,
    pub max_leaf: u32,
}

static FEATURES: spin::Once<Features> = spin::Once::new();
/// XCR0 value and save-area size used for user FPU state.
static XSAVE_MASK: AtomicU64 = AtomicU64::new(0);
static XSAVE_SIZE: AtomicU32 = AtomicU32::new(512);
static USE_XSAVE: AtomicBool = AtomicBool::new(false);

fn cpuid(leaf: u32) -> core::arch::x86_64::CpuidResult {
    __cpuid(leaf)
}

fn cpuid_count(leaf: u32, sub: u32) -> core::arch::x86_64::CpuidResult {
    __cpuid_count(leaf, sub)
}

/// Reads the CPU's features (boot CPU; all CPUs are assumed identical).
pub fn detect() -> Features {
    *FEATURES.call_once(|| {
        let l0 = cpuid(0);
        let max_leaf = l0.eax;
        let l1 = cpuid(1);
        let l7 = if max_leaf >= 7 { cpuid_count(7, 0) } else { cpuid(0) };
        let ext_max = cpuid(0x8000_0000).eax;
        let e1 = if ext_max >= 0x8000_0001 { cpuid(0x8000_0001) } else { cpuid(0) };
        let e7 = if ext_max >= 0x8000_0007 { cpuid(0x8000_0007) } else { cpuid(0) };
        let hypervisor = l1.ecx & (1 << 31) != 0;
        let mut tsc_hz_cpuid = None;
        if max_leaf >= 0x15 {
            let l15 = cpuid(0x15);
            if l15.eax != 0 && l15.ebx != 0 && l15.ecx != 0 {
                tsc_hz_cpuid = Some(u64::from(l15.ecx) * u64::from(l15.ebx) / u64::from(l15.eax));
            }
        }
        if tsc_hz_cpuid.is_none() && hypervisor {
            // KVM/VMware timing leaf: 0x40000010 eax = TSC kHz.
            let h = cpuid(0x4000_0000);
            if h.eax >= 0x4000_0010 {
                let t = cpuid(0x4000_0010);
                if t.eax != 0 {
                    tsc_hz_cpuid = Some(u64::from(t.eax) * 1000);
                }
            }
        }
        Features {
            x2apic: l1.ecx & (1 << 21) != 0,
            tsc_deadline: l1.ecx & (1 << 24) != 0,
            xsave: l1.ecx & (1 << 26) != 0,
            avx: l1.ecx & (1 << 28) != 0,
            rdrand: l1.ecx & (1 << 30) != 0,
            pcid: l1.ecx & (1 << 17) != 0,
            hypervisor,
            smep: l7.ebx & (1 << 7) != 0,
            smap: l7.ebx & (1 << 20) != 0,
            fsgsbase: l7.ebx & 1 != 0,
            page1g: e1.edx & (1 << 26) != 0,
            invariant_tsc: e7.edx & (1 << 8) != 0,
            tsc_hz_cpuid,
            max_leaf,
        }
    })
}

/// The features read by [`detect`].
pub fn features() -> Features {
    detect()
}

/// A hardware random number, if the CPU has RDRAND.
pub fn rdrand() -> Option<u64> {
    if !detect().rdrand {
        return None;
    }
    for _ in 0..10 {
        let v: u64;
        let ok: u8;
        // SAFETY: RDRAND is available (CPUID checked); it only writes its operands.
        unsafe { asm!("rdrand {}", "setc {}", out(reg) v, out(reg_byte) ok, options(nomem, nostack)) };
        if ok != 0 {
            return Some(v);
        }
    }
    None
}

/// `AT_HWCAP` for x86_64: CPUID leaf 1 EDX.
pub fn hwcap() -> u64 {
    u64::from(cpuid(1).edx)
}

/// Reads a model-specific register.
pub fn rdmsr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: callers only name MSRs that exist on x86_64 CPUs Axle supports.
    unsafe { asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) };
    u64::from(lo) | (u64::from(hi) << 32)
}

/// Writes a model-specific register.
///
/// # Safety
/// The MSR and value must be valid; many MSRs change how the CPU executes.
pub unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: upheld by the caller.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32, options(nomem, nostack, preserves_flags))
    };
}

pub const MSR_EFER: u32 = 0xc000_0080;
pub const MSR_STAR: u32 = 0xc000_0081;
pub const MSR_LSTAR: u32 = 0xc000_0082;
pub const MSR_SFMASK: u32 = 0xc000_0084;
pub const MSR_FS_BASE: u32 = 0xc000_0100;
pub const MSR_GS_BASE: u32 = 0xc000_0101;
pub const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
pub const MSR_TSC_DEADLINE: u32 = 0x6e0;

/// Reads the time-stamp counter.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no side effects (CR4.TSD is clear).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Sets CR0/CR4/EFER/XCR0 the way Axle runs: write-protect, NX, SMEP, SMAP, SSE and
/// XSAVE for user code. Called on every CPU.
pub fn init_control_registers() {
    let f = detect();
    // SAFETY: each bit set here is supported (checked via CPUID) and matches how the kernel
    // is built: the kernel does not use SSE (soft-float target), so enabling it for user
    // code cannot corrupt kernel state; SMAP is honoured by the user-copy routines (stac/clac).
    unsafe {
        let mut cr0: u64;
        asm!("mov {}, cr0", out(reg) cr0);
        cr0 |= 1 << 16; // WP
        cr0 |= 1 << 1; // MP
        cr0 &= !(1 << 2); // EM off
        cr0 &= !(1 << 3); // TS off (eager FPU switching)
        asm!("mov cr0, {}", in(reg) cr0);

        let mut cr4: u64;
        asm!("mov {}, cr4", out(reg) cr4);
        cr4 |= 1 << 9 | 1 << 10; // OSFXSR, OSXMMEXCPT
        cr4 |= 1 << 7; // PGE
        if f.xsave {
            cr4 |= 1 << 18;
        }
        if f.smep {
            cr4 |= 1 << 20;
        }
        if f.smap {
            cr4 |= 1 << 21;
        }
        asm!("mov cr4, {}", in(reg) cr4);

        let efer = rdmsr(MSR_EFER) | (1 << 11) | 1; // NXE, SCE
        wrmsr(MSR_EFER, efer);

        if f.xsave {
            let d = cpuid_count(0xd, 0);
            let supported = u64::from(d.eax) | (u64::from(d.edx) << 32);
            // x87 | SSE | AVX (and AVX-512 state if present) - the user-visible register state.
            let mask = supported & (0b1110_0111);
            asm!("xsetbv", in("ecx") 0u32, in("eax") mask as u32, in("edx") (mask >> 32) as u32);
            let size = cpuid_count(0xd, 0).ebx;
            XSAVE_MASK.store(mask, Ordering::Relaxed);
            XSAVE_SIZE.store(size.max(576), Ordering::Relaxed);
            USE_XSAVE.store(true, Ordering::Relaxed);
        }
    }
}

/// Bytes needed to save one thread's user FPU/vector state.
pub fn fpu_state_size() -> usize {
    XSAVE_SIZE.load(Ordering::Relaxed) as usize
}

/// Saves the FPU/vector state into `area` (64-byte aligned, [`fpu_state_size`] bytes).
///
/// # Safety
/// `area` must be valid for writes of `fpu_state_size()` bytes and 64-byte aligned.
pub unsafe fn fpu_save(area: *mut u8) {
    // SAFETY: upheld by the caller; XSAVE/FXSAVE only write the area.
    unsafe {
        if USE_XSAVE.load(Ordering::Relaxed) {
            let m = XSAVE_MASK.load(Ordering::Relaxed);
            asm!("xsave64 [{}]", in(reg) area, in("eax") m as u32, in("edx") (m >> 32) as u32, options(nostack));
        } else {
            asm!("fxsave64 [{}]", in(reg) area, options(nostack));
        }
    }
}

/// Restores the FPU/vector state from `area`.
///
/// # Safety
/// `area` must hold a state written by [`fpu_save`] or [`fpu_init_area`].
pub unsafe fn fpu_restore(area: *const u8) {
    // SAFETY: upheld by the caller.
    unsafe {
        if USE_XSAVE.load(Ordering::Relaxed) {
            let m = XSAVE_MASK.load(Ordering::Relaxed);
            asm!("xrstor64 [{}]", in(reg) area, in("eax") m as u32, in("edx") (m >> 32) as u32, options(nostack));
        } else {
            asm!("fxrstor64 [{}]", in(reg) area, options(nostack));
        }
    }
}

/// Fills `area` with the initial FPU state of a new program (x87 control word 0x37f,
/// MXCSR 0x1f80, everything else zero).
pub fn fpu_init_area(area: &mut [u8]) {
    area.fill(0);
    area[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
    area[24..28].copy_from_slice(&0x1f80u32.to_le_bytes());
    area[28..32].copy_from_slice(&0xffffu32.to_le_bytes()); // MXCSR_MASK (ignored by restore)
}

/// Makes an FPU image from user space safe to load: MXCSR reserved bits cleared, and for
/// XSAVE images only enabled components, the standard (uncompacted) format and zeroed
/// reserved header bytes — otherwise XRSTOR/FXRSTOR would fault in the kernel.
pub fn fpu_sanitize(area: &mut [u8]) {
    if area.len() < 512 {
        return;
    }
    let mxcsr = u32::from_le_bytes([area[24], area[25], area[26], area[27]]) & 0xffff;
    area[24..28].copy_from_slice(&mxcsr.to_le_bytes());
    if USE_XSAVE.load(Ordering::Relaxed) && area.len() >= 576 {
        let mask = XSAVE_MASK.load(Ordering::Relaxed);
        let bv = u64::from_le_bytes(area[512..520].try_into().unwrap_or([0; 8])) & mask;
        area[512..520].copy_from_slice(&bv.to_le_bytes());
        area[520..576].fill(0);
    }
}

/// Halts until the next interrupt with interrupts enabled (atomically: `sti; hlt`).
#[inline]
pub fn enable_interrupts_and_halt() {
    x86_64::instructions::interrupts::enable_and_hlt();
}

/// Stops this CPU for good.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Reads CR2 (the faulting address of the last page fault).
pub fn read_cr2() -> u64 {
    let v: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Reads CR3.
pub fn read_cr3() -> u64 {
    let v: u64;
    // SAFETY: reading CR3 has no side effects.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Loads CR3 (switches page tables; flushes non-global TLB entries).
///
/// # Safety
/// `pa` must be the physical address of a PML4 that maps the kernel exactly as the
/// current one does.
pub unsafe fn write_cr3(pa: u64) {
    // SAFETY: upheld by the caller.
    unsafe { asm!("mov cr3, {}", in(reg) pa, options(nostack, preserves_flags)) };
}

/// Invalidates the TLB entry of one page.
pub fn invlpg(va: u64) {
    // SAFETY: INVLPG only drops a cached translation.
    unsafe { asm!("invlpg [{}]", in(reg) va, options(nostack, preserves_flags)) };
}

/// Whether SMAP is enabled (user-copy routines bracket accesses with stac/clac).
pub fn smap_enabled() -> bool {
    detect().smap
}
