//! Per-CPU data, reached through the GS base while in the kernel.
//!
//! The first fields have fixed offsets used by the `syscall` entry code: `gs:0` points to
//! the block itself, `gs:8` is scratch for the user stack pointer, `gs:16` is the current
//! thread's kernel stack top.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::arch::x86_64::cpu::{wrmsr, MSR_GS_BASE, MSR_KERNEL_GS_BASE};
use crate::arch::x86_64::gdt::CpuTables;
use crate::sched::core::Rq;
use crate::sched::thread::Thread;
use crate::sync::SpinLock;
use crate::time::timer::TimerQueue;

/// Most CPUs supported.
pub const MAX_CPUS: usize = 64;

/// One CPU's data.
#[repr(C)]
pub struct PerCpu {
    self_ptr: u64,
    user_rsp_scratch: u64,
    pub(crate) kernel_rsp: u64,
    /// Index of this CPU (0 = boot CPU).
    pub id: u32,
    /// Local APIC id.
    pub apic_id: u32,
    pub(crate) current: AtomicPtr<Thread>,
    pub(crate) need_resched: AtomicBool,
    pub(crate) preempt_count: AtomicU32,
    pub(crate) irq_depth: AtomicU32,
    /// True while the idle thread runs.
    pub(crate) idle: AtomicBool,
    /// The idle thread is polling `need_resched` (a waker need not send an IPI).
    pub(crate) polling: AtomicBool,
    pub(crate) rq: SpinLock<Rq>,
    pub(crate) timers: SpinLock<TimerQueue>,
    /// Absolute time (ns) at which the current thread's slice ends; u64::MAX = none.
    pub(crate) slice_end: AtomicU64,
    /// Earliest armed timer event (ns); u64::MAX = none.
    pub(crate) armed_at: AtomicU64,
    /// Writes to the local APIC timer (arm or disarm), for `/proc/axle/timer`.
    pub timer_writes: AtomicU64,
    pub(crate) tlb_request: AtomicU64,
    pub(crate) tlb_done: AtomicU64,
    pub(crate) tables: CpuTables,
    /// Interrupts handled (for /proc/stat and /proc/interrupts).
    pub irq_count: AtomicU64,
    /// Interrupts taken per vector (`/proc/interrupts`).
    pub(crate) vec_count: [AtomicU64; 256],
    /// Nanoseconds spent idle.
    pub idle_ns: AtomicU64,
    pub(crate) idle_since: AtomicU64,
    /// Page faults on user addresses are not resolved (futex value checks under a lock).
    pub(crate) nofault: AtomicBool,
}

static CPUS: [AtomicPtr<PerCpu>; MAX_CPUS] = [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];
static ONLINE: AtomicUsize = AtomicUsize::new(0);

/// Allocates the per-CPU block of CPU `id`, loads its GDT/TSS and points GS at it.
pub fn init_cpu(id: u32, apic_id: u32, idle: Arc<Thread>) -> &'static PerCpu {
    let ist = |_: ()| {
        let s = crate::mm::kmap::KernelStack::new().expect("no memory for IST stack");
        let top = s.top();
        core::mem::forget(s);
        top
    };
    let p = Box::leak(Box::new(PerCpu {
        self_ptr: 0,
        user_rsp_scratch: 0,
        kernel_rsp: 0,
        id,
        apic_id,
        current: AtomicPtr::new(Arc::as_ptr(&idle) as *mut Thread),
        need_resched: AtomicBool::new(false),
        polling: AtomicBool::new(false),
        preempt_count: AtomicU32::new(0),
        irq_depth: AtomicU32::new(0),
        idle: AtomicBool::new(true),
        rq: SpinLock::new(Rq::new(idle)),
        timers: SpinLock::new(TimerQueue::new()),
        slice_end: AtomicU64::new(u64::MAX),
        armed_at: AtomicU64::new(u64::MAX),
        timer_writes: AtomicU64::new(0),
        tlb_request: AtomicU64::new(0),
        tlb_done: AtomicU64::new(0),
        tables: CpuTables::new(ist(()), ist(())),
        irq_count: AtomicU64::new(0),
        vec_count: [const { AtomicU64::new(0) }; 256],
        idle_ns: AtomicU64::new(0),
        idle_since: AtomicU64::new(0),
        nofault: AtomicBool::new(false),
    }));
    p.self_ptr = p as *mut PerCpu as u64;
    let tables: *mut CpuTables = &mut p.tables;
    // SAFETY: the block is leaked ('static) and never moves; its TSS/GDT stay valid, and
    // nothing else touches the tables while they are loaded.
    unsafe { (*tables).load() };
    // SAFETY: GS_BASE points at this CPU's block for as long as the kernel runs;
    // KERNEL_GS_BASE holds the user value (0) until the first swapgs.
    unsafe {
        wrmsr(MSR_GS_BASE, p.self_ptr);
        wrmsr(MSR_KERNEL_GS_BASE, 0);
    }
    CPUS[id as usize].store(p, Ordering::Release);
    ONLINE.fetch_add(1, Ordering::AcqRel);
    p
}

/// This CPU's block. Callers that must stay on this CPU keep interrupts off.
#[inline]
pub fn this() -> &'static PerCpu {
    let p: u64;
    // SAFETY: GS base points to the PerCpu block (set in init_cpu), whose first field is its
    // own address; kernel code always runs with the kernel GS base.
    unsafe { core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(nostack, readonly, preserves_flags)) };
    // SAFETY: the block is leaked and lives forever.
    unsafe { &*(p as *const PerCpu) }
}

/// The block of CPU `id`, if online.
pub fn get(id: u32) -> Option<&'static PerCpu> {
    let p = CPUS.get(id as usize)?.load(Ordering::Acquire);
    // SAFETY: non-null entries point to leaked blocks.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Number of CPUs online.
pub fn online() -> usize {
    ONLINE.load(Ordering::Acquire)
}

/// Iterates over the online CPUs.
pub fn all() -> impl Iterator<Item = &'static PerCpu> {
    (0..MAX_CPUS as u32).filter_map(get)
}

impl PerCpu {
    /// Sets the stack used when this CPU enters the kernel from user mode.
    pub(crate) fn set_kernel_stack(&self, top: u64) {
        let me = self as *const PerCpu as *mut PerCpu;
        // SAFETY: only this CPU writes its own kernel_rsp/TSS, with interrupts off
        // (during a context switch); the syscall entry reads kernel_rsp on this CPU only.
        unsafe {
            core::ptr::addr_of_mut!((*me).kernel_rsp).write_volatile(top);
            crate::arch::x86_64::gdt::set_rsp0(core::ptr::addr_of_mut!((*me).tables.tss), top);
        }
    }
}

/// Marks entry into the handler of interrupt `vector`.
pub fn irq_enter(vector: usize) {
    let c = this();
    c.irq_depth.fetch_add(1, Ordering::Relaxed);
    c.irq_count.fetch_add(1, Ordering::Relaxed);
    if let Some(n) = c.vec_count.get(vector) {
        n.fetch_add(1, Ordering::Relaxed);
    }
}

impl PerCpu {
    /// Nanoseconds this CPU has spent in its idle thread since boot, the current idle
    /// period included (never counted twice; may lag by a switch in progress).
    pub fn idle_time_ns(&self) -> u64 {
        let total = self.idle_ns.load(Ordering::Acquire);
        if self.idle.load(Ordering::Acquire) {
            let since = self.idle_since.load(Ordering::Relaxed);
            total + crate::time::now_ns().saturating_sub(since)
        } else {
            total
        }
    }

    /// How many interrupts of `vector` this CPU has taken since boot.
    pub fn vector_count(&self, vector: u8) -> u64 {
        self.vec_count[vector as usize].load(Ordering::Relaxed)
    }
}

/// Marks the end of an interrupt handler.
pub fn irq_exit() {
    this().irq_depth.fetch_sub(1, Ordering::Relaxed);
}

/// Whether this CPU is inside an interrupt handler.
pub fn in_irq() -> bool {
    this().irq_depth.load(Ordering::Relaxed) > 0
}
