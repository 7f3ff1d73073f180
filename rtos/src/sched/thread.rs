//! Threads: a kernel stack, a saved context, scheduling state, and (for user threads) an
//! address space, FPU state and the owner's per-thread data (the Linux task).
//!
//! A user thread is a kernel thread that enters user mode through the trap frame at the
//! top of its kernel stack; every entry from user mode saves a new frame there.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::any::Any;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

use super::fair_queue::FairKey;
use super::policy::Params;
use crate::arch::x86_64::{context, cpu, trap::TrapFrame};
use crate::mm::addrspace::AddressSpace;
use crate::mm::kmap::KernelStack;
use crate::sync::SpinLock;

/// Life-cycle states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// Created, not yet started.
    New = 0,
    /// In a run queue.
    Ready = 1,
    /// On a CPU.
    Running = 2,
    /// Waiting for a wake-up.
    Blocked = 3,
    /// Finished; freed once nobody refers to it.
    Dead = 4,
}

/// Scheduling state, protected by the run-queue lock of the thread's CPU.
pub(crate) struct SchedState {
    pub params: Params,
    pub vruntime: u64,
    pub fair_key: Option<FairKey>,
    pub rt_prio_queued: u8,
    pub exec_start_ns: u64,
    pub sum_exec_ns: u64,
    pub rr_left_ns: u64,
    pub affinity: u64,
    pub is_idle_thread: bool,
    /// Deadline class: CBS state, queue position, admitted reservation.
    pub dl: super::deadline::DlEntity,
    pub dl_key: Option<super::dl_queue::DlKey>,
    pub dl_res: Option<super::admission::Reservation>,
    /// Priority inheritance: the parameters of the highest waiter on a lock this thread
    /// owns, when they outrank its own.
    pub boost: Option<Params>,
    /// When a real-time thread was last woken, while the wake-up tracer is on (0: not
    /// traced); read and cleared when it next runs (`wakelat`).
    pub woken_at_ns: u64,
}

impl SchedState {
    /// The parameters the scheduler uses: the boost if it outranks the thread's own.
    pub fn eff(&self) -> Params {
        match self.boost {
            Some(b) if b.outranks(&self.params) => b,
            _ => self.params,
        }
    }
}

/// FPU/vector register save area (64-byte aligned, size from CPUID).
struct FpuArea {
    ptr: *mut u8,
    layout: core::alloc::Layout,
}

impl FpuArea {
    fn new() -> Option<Self> {
        let layout = core::alloc::Layout::from_size_align(cpu::fpu_state_size(), 64).ok()?;
        // SAFETY: non-zero size layout.
        let ptr = unsafe { alloc::alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            return None;
        }
        // SAFETY: freshly allocated area of `layout.size()` bytes.
        cpu::fpu_init_area(unsafe { core::slice::from_raw_parts_mut(ptr, layout.size()) });
        Some(Self { ptr, layout })
    }
}

impl Drop for FpuArea {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { alloc::alloc::dealloc(self.ptr, self.layout) }
    }
}

static NEXT_TID: AtomicU64 = AtomicU64::new(1);

/// CPUs new kernel threads may run on (the housekeeping CPUs when a dataflow profile
/// partitions the machine; all by default).
static KERNEL_AFFINITY: AtomicU64 = AtomicU64::new(u64::MAX);

/// Confines kernel threads created from now on to `mask`.
pub fn set_kernel_affinity(mask: u64) {
    KERNEL_AFFINITY.store(if mask == 0 { u64::MAX } else { mask }, Ordering::Relaxed);
}

/// The CPUs kernel threads run on.
pub fn kernel_affinity() -> u64 {
    KERNEL_AFFINITY.load(Ordering::Relaxed)
}

/// A schedulable thread.
pub struct Thread {
    id: u64,
    name: SpinLock<heapless::String<16>>,
    pub(crate) kstack: KernelStack,
    pub(crate) saved_rsp: UnsafeCell<u64>,
    state: AtomicU8,
    pub(crate) wake_pending: AtomicBool,
    /// A deadline thread with `SCHED_FLAG_DL_OVERRUN` overran its runtime (SIGXCPU due).
    pub(crate) dl_overrun: AtomicBool,
    pub(crate) cpu: AtomicU32,
    pub(crate) sched: UnsafeCell<SchedState>,
    interrupt: AtomicBool,
    exit_requested: AtomicBool,
    fpu: Option<FpuArea>,
    pub(crate) fs_base: AtomicU64,
    pub(crate) cr3: AtomicU64,
    addr_space: SpinLock<Option<Arc<AddressSpace>>>,
    entry: UnsafeCell<Option<Box<dyn FnOnce() + Send>>>,
    ext: spin::Once<Box<dyn Any + Send + Sync>>,
}

// SAFETY: the UnsafeCell fields are only touched under the documented locks (sched state:
// the run-queue lock of `cpu`; saved_rsp: by the switching CPU with that lock held; entry:
// once, by the thread itself when it starts).
unsafe impl Sync for Thread {}
// SAFETY: as above; all other fields are Send.
unsafe impl Send for Thread {}

impl core::fmt::Debug for Thread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Thread({} {:?})", self.id, self.name.lock().as_str())
    }
}

/// Why a thread could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory;

impl Thread {
    fn alloc(name: &str, user: bool, params: Params, affinity: u64) -> Result<Self, OutOfMemory> {
        let kstack = KernelStack::new().ok_or(OutOfMemory)?;
        let fpu = if user { Some(FpuArea::new().ok_or(OutOfMemory)?) } else { None };
        let mut n = heapless::String::new();
        for c in name.chars().take(15) {
            let _ = n.push(c);
        }
        Ok(Self {
            id: NEXT_TID.fetch_add(1, Ordering::Relaxed),
            name: SpinLock::new(n),
            kstack,
            saved_rsp: UnsafeCell::new(0),
            state: AtomicU8::new(State::New as u8),
            wake_pending: AtomicBool::new(false),
            cpu: AtomicU32::new(0),
            sched: UnsafeCell::new(SchedState {
                params,
                vruntime: 0,
                fair_key: None,
                rt_prio_queued: 0,
                exec_start_ns: 0,
                sum_exec_ns: 0,
                rr_left_ns: super::policy::RR_QUANTUM_NS,
                affinity,
                is_idle_thread: false,
                dl: Default::default(),
                dl_key: None,
                dl_res: None,
                boost: None,
                woken_at_ns: 0,
            }),
            dl_overrun: AtomicBool::new(false),
            interrupt: AtomicBool::new(false),
            exit_requested: AtomicBool::new(false),
            fpu,
            fs_base: AtomicU64::new(0),
            cr3: AtomicU64::new(0),
            addr_space: SpinLock::new(None),
            entry: UnsafeCell::new(None),
            ext: spin::Once::new(),
        })
    }

    /// A kernel thread that will run `f` once started with [`super::core::start`].
    pub fn new_kernel(name: &str, f: impl FnOnce() + Send + 'static) -> Result<Arc<Self>, OutOfMemory> {
        let t = Self::alloc(name, false, Params::default(), kernel_affinity())?;
        // SAFETY: the thread is not shared yet.
        unsafe { *t.entry.get() = Some(Box::new(f)) };
        // The trap-frame slot at the top stays free, so the thread can later enter user mode.
        let top = t.user_frame_addr();
        // SAFETY: a fresh, unused kernel stack.
        let sp = unsafe { context::prepare_stack(top, kernel_thread_start, 0) };
        // SAFETY: not shared yet.
        unsafe { *t.saved_rsp.get() = sp };
        Ok(Arc::new(t))
    }

    /// A user thread that starts in user mode with `frame`, in `space`, with scheduling
    /// parameters and affinity inherited from its creator.
    pub fn new_user(
        name: &str,
        frame: &TrapFrame,
        space: Arc<AddressSpace>,
        fs_base: u64,
        params: Params,
        affinity: u64,
    ) -> Result<Arc<Self>, OutOfMemory> {
        let t = Self::alloc(name, true, params, affinity)?;
        let frame_addr = t.user_frame_addr();
        // SAFETY: the frame slot lies at the top of the fresh kernel stack.
        unsafe { (frame_addr as *mut TrapFrame).write(*frame) };
        // SAFETY: the switch frame goes right below the trap frame on the same fresh stack.
        let sp = unsafe { context::prepare_stack(frame_addr, user_thread_start, frame_addr) };
        // SAFETY: not shared yet.
        unsafe { *t.saved_rsp.get() = sp };
        t.fs_base.store(fs_base, Ordering::Relaxed);
        t.cr3.store(space.root(), Ordering::Relaxed);
        *t.addr_space.lock() = Some(space);
        Ok(Arc::new(t))
    }

    /// The idle thread of a CPU, wrapping the context that is running now.
    pub(crate) fn new_idle(cpu_id: u32) -> Arc<Self> {
        let t = Self::alloc("idle", false, Params { policy: super::policy::Policy::Idle, ..Params::default() }, 1 << cpu_id)
            .expect("no memory for the idle thread");
        t.state.store(State::Running as u8, Ordering::Relaxed);
        t.cpu.store(cpu_id, Ordering::Relaxed);
        // SAFETY: not shared yet.
        unsafe { (*t.sched.get()).is_idle_thread = true };
        Arc::new(t)
    }

    /// Kernel-wide unique thread number.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The thread's name (up to 15 bytes, like Linux's comm).
    pub fn name(&self) -> heapless::String<16> {
        self.name.lock().clone()
    }

    /// Renames the thread.
    pub fn set_name(&self, name: &str) {
        let mut n = self.name.lock();
        n.clear();
        for c in name.chars().take(15) {
            let _ = n.push(c);
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            0 => State::New,
            1 => State::Ready,
            2 => State::Running,
            3 => State::Blocked,
            _ => State::Dead,
        }
    }

    pub(crate) fn set_state(&self, s: State) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// The CPU the thread last ran on (or is queued on).
    pub fn cpu(&self) -> u32 {
        self.cpu.load(Ordering::Relaxed)
    }

    /// Address of the user trap frame at the top of the kernel stack.
    pub fn user_frame_addr(&self) -> u64 {
        self.kstack.top() - core::mem::size_of::<TrapFrame>() as u64
    }

    /// The thread's saved user registers.
    ///
    /// # Panics
    /// Never; but the result is only meaningful for the current thread while it is in the
    /// kernel, or for a thread that is not running.
    #[allow(clippy::mut_from_ref)]
    pub fn user_frame(&self) -> &mut TrapFrame {
        // SAFETY: the slot is inside this thread's mapped kernel stack; it is written by the
        // entry code of this thread only, so the current thread (or a creator before the
        // thread runs) has exclusive use of it.
        unsafe { &mut *(self.user_frame_addr() as *mut TrapFrame) }
    }

    /// The user TLS base (FS).
    pub fn fs_base(&self) -> u64 {
        self.fs_base.load(Ordering::Relaxed)
    }

    /// Sets the user TLS base; takes effect at once for the current thread.
    pub fn set_fs_base(&self, v: u64) {
        self.fs_base.store(v, Ordering::Relaxed);
        if core::ptr::eq(self, &*super::core::current()) {
            // SAFETY: FS base only affects user-mode TLS addressing.
            unsafe { cpu::wrmsr(cpu::MSR_FS_BASE, v) };
        }
    }

    /// The user address space, if any.
    pub fn addr_space(&self) -> Option<Arc<AddressSpace>> {
        self.addr_space.lock().clone()
    }

    /// Replaces the address space (exec). For the current thread the new one is loaded
    /// at once; the old one is returned to be dropped by the caller.
    pub fn set_addr_space(&self, space: Arc<AddressSpace>) -> Option<Arc<AddressSpace>> {
        let irq = crate::arch::x86_64::irq_flags::save_and_disable();
        let root = space.root();
        let old = self.addr_space.lock().replace(space.clone());
        self.cr3.store(root, Ordering::Relaxed);
        let replaced = if core::ptr::eq(self, &*super::core::current()) {
            // The CPU switches now: the run queue's record of the loaded space must follow,
            // or the next switch to a thread of the old space would skip loading it.
            super::core::load_space_now(space)
        } else {
            None
        };
        crate::arch::x86_64::irq_flags::restore(irq);
        drop(replaced);
        old
    }

    /// Takes the "deadline runtime overrun" notice (`SCHED_FLAG_DL_OVERRUN`).
    pub fn take_dl_overrun(&self) -> bool {
        self.dl_overrun.swap(false, Ordering::AcqRel)
    }

    /// Asks that this (user) thread end instead of returning to user mode.
    pub fn request_exit(&self) {
        self.exit_requested.store(true, Ordering::Release);
    }

    /// Whether the thread is to end at the user boundary.
    pub fn exit_requested(&self) -> bool {
        self.exit_requested.load(Ordering::Acquire)
    }

    /// Marks that a signal (or similar event) should interrupt interruptible waits.
    pub fn set_interrupt(&self, on: bool) {
        self.interrupt.store(on, Ordering::Release);
    }

    /// True if interruptible waits should end.
    pub fn interrupt_pending(&self) -> bool {
        self.interrupt.load(Ordering::Acquire)
    }

    /// Attaches the owner's per-thread data (once).
    pub fn set_ext(&self, ext: Box<dyn Any + Send + Sync>) {
        self.ext.call_once(|| ext);
    }

    /// The owner's per-thread data.
    pub fn ext<T: 'static>(&self) -> Option<&T> {
        self.ext.get()?.downcast_ref::<T>()
    }

    /// Total CPU time consumed, in nanoseconds (approximate for a running thread).
    pub fn cpu_time_ns(&self) -> u64 {
        // SAFETY: a racy read of a u64 counter for statistics only.
        let s = unsafe { &*self.sched.get() };
        let mut t = s.sum_exec_ns;
        if self.state() == State::Running {
            t += crate::time::now_ns().saturating_sub(s.exec_start_ns);
        }
        t
    }

    pub(crate) fn fpu_save(&self) {
        if let Some(f) = &self.fpu {
            // SAFETY: the area is 64-byte aligned and fpu_state_size() long.
            unsafe { cpu::fpu_save(f.ptr) };
        }
    }

    pub(crate) fn fpu_restore(&self) {
        if let Some(f) = &self.fpu {
            // SAFETY: the area holds a state written by fpu_save or fpu_init_area.
            unsafe { cpu::fpu_restore(f.ptr) };
        }
    }

    /// Resets the FPU state to that of a new program (exec).
    pub fn fpu_reset(&self) {
        if let Some(f) = &self.fpu {
            // SAFETY: the area is owned by this thread; exec calls this on the current
            // thread, whose live registers are then reloaded from it.
            let area = unsafe { core::slice::from_raw_parts_mut(f.ptr, f.layout.size()) };
            cpu::fpu_init_area(area);
            self.fpu_restore();
        }
    }

    /// Copies another thread's FPU state (fork/clone inherit the registers).
    pub fn fpu_copy_from(&self, other: &Thread) {
        if let (Some(d), Some(s)) = (&self.fpu, &other.fpu) {
            if core::ptr::eq(other, &*super::core::current()) {
                other.fpu_save();
            }
            // SAFETY: both areas have the same layout; distinct threads, distinct areas.
            unsafe { core::ptr::copy_nonoverlapping(s.ptr, d.ptr, d.layout.size()) };
        }
    }

    /// A copy of the user FPU/vector state (XSAVE or FXSAVE image).
    pub fn fpu_state(&self) -> alloc::vec::Vec<u8> {
        let Some(f) = &self.fpu else { return alloc::vec::Vec::new() };
        if core::ptr::eq(self, &*super::core::current()) {
            self.fpu_save();
        }
        // SAFETY: the area is `layout.size()` bytes owned by this thread.
        unsafe { core::slice::from_raw_parts(f.ptr, f.layout.size()) }.to_vec()
    }

    /// Replaces the user FPU state with an image from user space, after making it safe
    /// to load (reserved bits cleared, only enabled features); the current thread's
    /// registers are reloaded at once.
    pub fn set_fpu_state(&self, image: &[u8]) {
        let Some(f) = &self.fpu else { return };
        // SAFETY: the area is `layout.size()` bytes owned by this thread; the current
        // thread's live registers are saved first and reloaded after.
        let area = unsafe { core::slice::from_raw_parts_mut(f.ptr, f.layout.size()) };
        let n = area.len().min(image.len());
        area[..n].copy_from_slice(&image[..n]);
        cpu::fpu_sanitize(area);
        if core::ptr::eq(self, &*super::core::current()) {
            self.fpu_restore();
        }
    }

    /// Whether the thread has user FPU state (is a user thread).
    pub fn is_user(&self) -> bool {
        self.fpu.is_some()
    }
}

extern "C" fn kernel_thread_start(_: u64) -> ! {
    super::core::finish_switch();
    crate::arch::x86_64::irq_flags::enable();
    let me = super::core::current();
    // SAFETY: `entry` is taken exactly once, by the thread itself, when it first runs.
    let f = unsafe { (*me.entry.get()).take() };
    drop(me);
    if let Some(f) = f {
        f();
    }
    super::core::exit_current()
}

extern "C" fn user_thread_start(frame_addr: u64) -> ! {
    super::core::finish_switch();
    // SAFETY: `frame_addr` is the trap frame at the top of this thread's kernel stack,
    // prepared by `new_user`; trap_return restores it and enters user mode.
    unsafe { crate::user::return_to_user_from(frame_addr) }
}
