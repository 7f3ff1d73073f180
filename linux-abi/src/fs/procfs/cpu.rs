//! CPU information and statistics for /proc: `cpuinfo` from CPUID, per-CPU idle/busy time
//! for `stat` and `uptime`, and the load average of `loadavg`.
//!
//! Idle time is each CPU's time in its idle thread (`PerCpu::idle_time_ns`, the current
//! idle period included); busy time is the rest of the time since boot. Neither ever goes
//! backwards between two reads.
//!
//! Load average: a kernel thread samples the number of runnable user threads every 5 s
//! and folds it into Linux's fixed-point exponentially damped 1/5/15-minute averages
//! (kernel threads are not counted, nor uninterruptible sleeps: the kernel does not tell
//! them apart from interruptible ones).

use alloc::string::String;
use alloc::vec::Vec;
use core::arch::x86_64::{CpuidResult, __cpuid, __cpuid_count};
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

use rtos::percpu::{self, PerCpu, MAX_CPUS};
use rtos::sched::thread::{State, Thread};

/// Clock ticks per second as user space sees them (`USER_HZ`).
pub const USER_HZ: u64 = 100;

/// Nanoseconds to clock ticks.
pub fn ticks(ns: u64) -> u64 {
    ns / (1_000_000_000 / USER_HZ)
}

/// The mask of online CPUs.
pub fn online_mask() -> u64 {
    percpu::all().fold(0u64, |m, c| m | (1u64 << c.id))
}

// ---------------------------------------------------------------------------------------
// Idle time

/// The last idle and busy times reported per CPU: neither ever goes backwards, even when
/// a read raced with a switch (their sum may then exceed the elapsed time a little).
static LAST_IDLE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static LAST_BUSY: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Idle and busy nanoseconds of every online CPU, by CPU id.
pub fn cpu_times() -> Vec<(u32, u64, u64)> {
    let now = rtos::time::now_ns();
    percpu::all()
        .map(|c: &PerCpu| {
            let id = c.id as usize;
            let idle = c.idle_time_ns().min(now);
            let idle = idle.max(LAST_IDLE[id].fetch_max(idle, Ordering::Relaxed)).min(now);
            let busy = (now - idle).max(LAST_BUSY[id].fetch_max(now - idle, Ordering::Relaxed));
            (c.id, idle, busy)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Load average (Linux's fixed-point method: kernel/sched/loadavg.c, 11-bit fraction)

const FSHIFT: u32 = 11;
const FIXED_1: u64 = 1 << FSHIFT;
/// exp(-5 s / 1 min), exp(-5 s / 5 min), exp(-5 s / 15 min) in fixed point.
const EXP: [u64; 3] = [1884, 2014, 2037];
const SAMPLE_NS: u64 = 5_000_000_000;

static LOADAVG: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

fn calc_load(load: u64, exp: u64, active: u64) -> u64 {
    let mut n = load * exp + active * (FIXED_1 - exp);
    if active >= load {
        n += FIXED_1 - 1;
    }
    n / FIXED_1
}

/// Runnable (running or queued) user threads.
pub fn runnable_threads() -> usize {
    crate::process::all_processes()
        .iter()
        .flat_map(|p| p.tasks())
        .filter(|t| t.thread().is_some_and(|th| matches!(th.state(), State::Running | State::Ready)))
        .count()
}

fn sample_load() {
    let active = runnable_threads() as u64 * FIXED_1;
    for (i, l) in LOADAVG.iter().enumerate() {
        let old = l.load(Ordering::Relaxed);
        l.store(calc_load(old, EXP[i], active), Ordering::Relaxed);
    }
}

/// The three averages as `/proc/loadavg` prints them (`0.00 0.00 0.00`).
pub fn loadavg_text() -> String {
    let mut s = String::new();
    for (i, l) in LOADAVG.iter().enumerate() {
        let v = l.load(Ordering::Relaxed) + FIXED_1 / 200;
        let int = v >> FSHIFT;
        let frac = ((v & (FIXED_1 - 1)) * 100) >> FSHIFT;
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{int}.{frac:02}");
    }
    s
}

/// The sampler thread: samples the load every 5 s.
fn sampler() {
    let mut next = rtos::time::now_ns() + SAMPLE_NS;
    loop {
        let _ = rtos::sync::sleep_until(next, false);
        sample_load();
        next += SAMPLE_NS;
        let now = rtos::time::now_ns();
        if next <= now {
            // Missed samples (a long stall): resume the 5 s rhythm from now.
            next = now + SAMPLE_NS;
        }
    }
}

static STARTED: spin::Once<()> = spin::Once::new();

/// Starts the sampler thread (once).
pub fn start() {
    STARTED.call_once(|| match Thread::new_kernel("kprocstat", sampler) {
        Ok(t) => rtos::sched::core::start(&t),
        Err(_) => log::warn!("procfs: no memory for the statistics thread; load average stays 0"),
    });
}

// ---------------------------------------------------------------------------------------
// cpuinfo

fn cpuid(leaf: u32) -> CpuidResult {
    __cpuid(leaf)
}

fn cpuid_sub(leaf: u32, sub: u32) -> CpuidResult {
    __cpuid_count(leaf, sub)
}

fn regs_str(regs: &[u32]) -> String {
    let bytes: Vec<u8> = regs.iter().flat_map(|r| r.to_le_bytes()).collect();
    String::from_utf8_lossy(&bytes).trim_matches(|c: char| c == '\0' || c == ' ').into()
}

/// Linux's names of CPUID feature bits: (register index, bit, name). Registers:
/// 0 = 1.EDX, 1 = 1.ECX, 2 = 8000_0001.EDX, 3 = 8000_0001.ECX, 4 = 7.0.EBX, 5 = 7.0.ECX,
/// 6 = 7.0.EDX, 7 = 7.1.EAX, 8 = D.1.EAX, 9 = 8000_0008.EBX, 10 = 6.EAX.
/// Bits for features Axle does not enable (MPX, PKU, FSGSBASE, CET, AMX, LA57, SGX,
/// VMX/SVM) are left out, like Linux leaves out what it disabled.
const FLAGS: &[(u8, u8, &str)] = &[
    (0, 0, "fpu"), (0, 1, "vme"), (0, 2, "de"), (0, 3, "pse"), (0, 4, "tsc"), (0, 5, "msr"), (0, 6, "pae"),
    (0, 7, "mce"), (0, 8, "cx8"), (0, 9, "apic"), (0, 11, "sep"), (0, 12, "mtrr"), (0, 13, "pge"), (0, 14, "mca"),
    (0, 15, "cmov"), (0, 16, "pat"), (0, 17, "pse36"), (0, 18, "pn"), (0, 19, "clflush"), (0, 21, "dts"),
    (0, 22, "acpi"), (0, 23, "mmx"), (0, 24, "fxsr"), (0, 25, "sse"), (0, 26, "sse2"), (0, 27, "ss"), (0, 28, "ht"),
    (0, 29, "tm"), (0, 31, "pbe"),
    (2, 11, "syscall"), (2, 19, "mp"), (2, 20, "nx"), (2, 22, "mmxext"), (2, 25, "fxsr_opt"), (2, 26, "pdpe1gb"),
    (2, 27, "rdtscp"), (2, 29, "lm"), (2, 30, "3dnowext"), (2, 31, "3dnow"),
    (1, 0, "pni"), (1, 1, "pclmulqdq"), (1, 2, "dtes64"), (1, 3, "monitor"), (1, 4, "ds_cpl"), (1, 7, "est"),
    (1, 8, "tm2"), (1, 9, "ssse3"), (1, 10, "cid"), (1, 11, "sdbg"), (1, 12, "fma"), (1, 13, "cx16"), (1, 14, "xtpr"),
    (1, 15, "pdcm"), (1, 17, "pcid"), (1, 18, "dca"), (1, 19, "sse4_1"), (1, 20, "sse4_2"), (1, 21, "x2apic"),
    (1, 22, "movbe"), (1, 23, "popcnt"), (1, 24, "tsc_deadline_timer"), (1, 25, "aes"), (1, 26, "xsave"),
    (1, 28, "avx"), (1, 29, "f16c"), (1, 30, "rdrand"), (1, 31, "hypervisor"),
    (3, 0, "lahf_lm"), (3, 1, "cmp_legacy"), (3, 3, "extapic"), (3, 4, "cr8_legacy"), (3, 5, "abm"), (3, 6, "sse4a"),
    (3, 7, "misalignsse"), (3, 8, "3dnowprefetch"), (3, 9, "osvw"), (3, 10, "ibs"), (3, 11, "xop"), (3, 12, "skinit"),
    (3, 13, "wdt"), (3, 15, "lwp"), (3, 16, "fma4"), (3, 17, "tce"), (3, 19, "nodeid_msr"), (3, 21, "tbm"),
    (3, 22, "topoext"), (3, 23, "perfctr_core"), (3, 24, "perfctr_nb"), (3, 26, "bpext"), (3, 27, "ptsc"),
    (3, 28, "perfctr_llc"), (3, 29, "mwaitx"),
    (10, 2, "arat"),
    (4, 1, "tsc_adjust"), (4, 3, "bmi1"), (4, 4, "hle"), (4, 5, "avx2"), (4, 7, "smep"), (4, 8, "bmi2"), (4, 9, "erms"),
    (4, 10, "invpcid"), (4, 11, "rtm"), (4, 16, "avx512f"), (4, 17, "avx512dq"), (4, 18, "rdseed"), (4, 19, "adx"),
    (4, 20, "smap"), (4, 21, "avx512ifma"), (4, 23, "clflushopt"), (4, 24, "clwb"), (4, 26, "avx512pf"),
    (4, 27, "avx512er"), (4, 28, "avx512cd"), (4, 29, "sha_ni"), (4, 30, "avx512bw"), (4, 31, "avx512vl"),
    (8, 0, "xsaveopt"), (8, 1, "xsavec"), (8, 2, "xgetbv1"), (8, 3, "xsaves"),
    (7, 4, "avx_vnni"), (7, 5, "avx512_bf16"),
    (9, 0, "clzero"), (9, 1, "irperf"), (9, 2, "xsaveerptr"), (9, 4, "rdpru"), (9, 9, "wbnoinvd"),
    (5, 1, "avx512vbmi"), (5, 5, "waitpkg"), (5, 6, "avx512_vbmi2"), (5, 8, "gfni"), (5, 9, "vaes"),
    (5, 10, "vpclmulqdq"), (5, 11, "avx512_vnni"), (5, 12, "avx512_bitalg"), (5, 14, "avx512_vpopcntdq"),
    (5, 22, "rdpid"), (5, 25, "cldemote"), (5, 27, "movdiri"), (5, 28, "movdir64b"),
    (6, 2, "avx512_4vnniw"), (6, 3, "avx512_4fmaps"), (6, 4, "fsrm"), (6, 8, "avx512_vp2intersect"),
    (6, 10, "md_clear"), (6, 14, "serialize"), (6, 23, "avx512_fp16"),
];

/// Flags that need the AVX (YMM) register state enabled in XCR0.
const NEEDS_YMM: &[&str] = &["avx", "avx2", "fma", "f16c", "vaes", "vpclmulqdq", "avx_vnni"];

/// Information read once from CPUID.
struct CpuId {
    vendor: String,
    family: u32,
    model: u32,
    stepping: u32,
    model_name: String,
    cpuid_level: u32,
    cache_kb: u32,
    clflush: u32,
    phys_bits: u32,
    virt_bits: u32,
    flags: String,
}

fn read_cpuid() -> CpuId {
    let l0 = cpuid(0);
    let max = l0.eax;
    let vendor = regs_str(&[l0.ebx, l0.edx, l0.ecx]);
    let l1 = cpuid(1);
    let sig = l1.eax;
    let mut family = (sig >> 8) & 0xf;
    let mut model = (sig >> 4) & 0xf;
    if family == 0xf {
        family += (sig >> 20) & 0xff;
    }
    if family >= 6 {
        model += ((sig >> 16) & 0xf) << 4;
    }
    let ext_max = cpuid(0x8000_0000).eax;
    let ext = |leaf: u32| if ext_max >= leaf { cpuid(leaf) } else { CpuidResult { eax: 0, ebx: 0, ecx: 0, edx: 0 } };
    let std = |leaf: u32, sub: u32| if max >= leaf { cpuid_sub(leaf, sub) } else { CpuidResult { eax: 0, ebx: 0, ecx: 0, edx: 0 } };
    let model_name = if ext_max >= 0x8000_0004 {
        let (a, b, c) = (ext(0x8000_0002), ext(0x8000_0003), ext(0x8000_0004));
        regs_str(&[a.eax, a.ebx, a.ecx, a.edx, b.eax, b.ebx, b.ecx, b.edx, c.eax, c.ebx, c.ecx, c.edx])
    } else {
        String::from("unknown")
    };
    // Cache size: Intel reports the last-level cache (leaf 4), others the L2 (0x8000_0006).
    let mut cache_kb = 0;
    if vendor == "GenuineIntel" && max >= 4 {
        for sub in 0..16 {
            let r = cpuid_sub(4, sub);
            if r.eax & 0x1f == 0 {
                break;
            }
            let ways = (r.ebx >> 22) + 1;
            let parts = ((r.ebx >> 12) & 0x3ff) + 1;
            let line = (r.ebx & 0xfff) + 1;
            let sets = r.ecx + 1;
            cache_kb = cache_kb.max((u64::from(ways) * u64::from(parts) * u64::from(line) * u64::from(sets) / 1024) as u32);
        }
    }
    if cache_kb == 0 {
        cache_kb = ext(0x8000_0006).ecx >> 16;
    }
    let addr = ext(0x8000_0008);
    // Axle uses 4-level paging: 48 bits of virtual address whatever the CPU could do.
    let (phys_bits, virt_bits) = if addr.eax != 0 { (addr.eax & 0xff, ((addr.eax >> 8) & 0xff).min(48)) } else { (36, 48) };
    let e1 = ext(0x8000_0001);
    let l7 = std(7, 0);
    let l7_1 = if l7.eax >= 1 { std(7, 1) } else { CpuidResult { eax: 0, ebx: 0, ecx: 0, edx: 0 } };
    let regs = [l1.edx, l1.ecx, e1.edx, e1.ecx, l7.ebx, l7.ecx, l7.edx, l7_1.eax, std(0xd, 1).eax, addr.ebx, std(6, 0).eax];
    // XSAVE-managed state is usable only as far as the kernel enabled it (rtos enables
    // x87, SSE, AVX and the AVX-512 state when the CPU has them).
    let osxsave = l1.ecx & (1 << 27) != 0;
    let xcr0 = if osxsave { u64::from(std(0xd, 0).eax) & 0b1110_0111 } else { 0 };
    let ymm = xcr0 & 0b110 == 0b110;
    let zmm = ymm && xcr0 & 0b1110_0000 == 0b1110_0000;
    let mut flags = String::new();
    let mut add = |name: &str| {
        if !flags.is_empty() {
            flags.push(' ');
        }
        flags.push_str(name);
    };
    for &(reg, bit, name) in FLAGS {
        if regs[reg as usize] & (1 << bit) == 0 {
            continue;
        }
        let xsave_family = matches!(name, "xsave" | "xsaveopt" | "xsavec" | "xgetbv1" | "xsaves" | "xsaveerptr");
        if (xsave_family && !osxsave) || (NEEDS_YMM.contains(&name) && !ymm) || (name.starts_with("avx512") && !zmm) {
            continue;
        }
        add(name);
    }
    let f = rtos::arch::x86_64::cpu::features();
    if f.invariant_tsc {
        add("constant_tsc");
        add("nonstop_tsc");
    }
    if f.tsc_hz_cpuid.is_some() {
        add("tsc_known_freq");
    }
    CpuId {
        vendor,
        family,
        model,
        stepping: sig & 0xf,
        model_name,
        cpuid_level: max,
        cache_kb,
        clflush: ((l1.ebx >> 8) & 0xff) * 8,
        phys_bits,
        virt_bits,
        flags,
    }
}

static CPUID: spin::Once<CpuId> = spin::Once::new();

/// `/proc/cpuinfo`: one block per online CPU, in Linux's x86 layout.
pub fn cpuinfo() -> String {
    let c = CPUID.call_once(read_cpuid);
    let khz = rtos::time::clock::tsc_hz() / 1000;
    let n = percpu::online();
    let mut s = String::new();
    for cpu in percpu::all() {
        let _ = writeln!(s, "processor\t: {}", cpu.id);
        let _ = writeln!(s, "vendor_id\t: {}", c.vendor);
        let _ = writeln!(s, "cpu family\t: {}", c.family);
        let _ = writeln!(s, "model\t\t: {}", c.model);
        let _ = writeln!(s, "model name\t: {}", c.model_name);
        let _ = writeln!(s, "stepping\t: {}", c.stepping);
        let _ = writeln!(s, "cpu MHz\t\t: {}.{:03}", khz / 1000, khz % 1000);
        let _ = writeln!(s, "cache size\t: {} KB", c.cache_kb);
        let _ = writeln!(s, "physical id\t: 0");
        let _ = writeln!(s, "siblings\t: {n}");
        let _ = writeln!(s, "core id\t\t: {}", cpu.id);
        let _ = writeln!(s, "cpu cores\t: {n}");
        let _ = writeln!(s, "apicid\t\t: {}", cpu.apic_id);
        let _ = writeln!(s, "initial apicid\t: {}", cpu.apic_id);
        let _ = writeln!(s, "fpu\t\t: yes");
        let _ = writeln!(s, "fpu_exception\t: yes");
        let _ = writeln!(s, "cpuid level\t: {}", c.cpuid_level);
        let _ = writeln!(s, "wp\t\t: yes");
        let _ = writeln!(s, "flags\t\t: {}", c.flags);
        let _ = writeln!(s, "bugs\t\t:");
        // BogoMIPS: Linux calibrates its delay loop against the TSC, giving 2 x MHz.
        let bogo = khz * 2 / 10;
        let _ = writeln!(s, "bogomips\t: {}.{:02}", bogo / 100, bogo % 100);
        let _ = writeln!(s, "clflush size\t: {}", c.clflush);
        let _ = writeln!(s, "cache_alignment\t: {}", c.clflush);
        let _ = writeln!(s, "address sizes\t: {} bits physical, {} bits virtual", c.phys_bits, c.virt_bits);
        let _ = write!(s, "power management:\n\n");
    }
    s
}
