//! Signals: numbers, sets, actions, pending queues, sending, and delivery on the way back
//! to user mode (default actions, handler frames, `rt_sigreturn`, syscall restart).

pub mod deliver;
pub mod frame;

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use bytemuck::{Pod, Zeroable};
use rtos::sync::SpinLock;

use crate::process::{self, Pid, Process, Task};

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGABRT: i32 = 6;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGSEGV: i32 = 11;
pub const SIGUSR2: i32 = 12;
pub const SIGPIPE: i32 = 13;
pub const SIGALRM: i32 = 14;
pub const SIGTERM: i32 = 15;
pub const SIGSTKFLT: i32 = 16;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGURG: i32 = 23;
pub const SIGXCPU: i32 = 24;
pub const SIGXFSZ: i32 = 25;
pub const SIGVTALRM: i32 = 26;
pub const SIGPROF: i32 = 27;
pub const SIGWINCH: i32 = 28;
pub const SIGIO: i32 = 29;
pub const SIGPWR: i32 = 30;
pub const SIGSYS: i32 = 31;
pub const SIGRTMIN: i32 = 32;
pub const SIGRTMAX: i32 = 64;

/// `sa_flags` bits.
pub const SA_NOCLDSTOP: u64 = 1;
pub const SA_NOCLDWAIT: u64 = 2;
pub const SA_SIGINFO: u64 = 4;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `SIG_DFL` / `SIG_IGN` handler values.
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

/// `si_code` values.
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_QUEUE: i32 = -1;
pub const SI_TIMER: i32 = -2;
pub const SI_TKILL: i32 = -6;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const BUS_ADRERR: i32 = 2;
pub const ILL_ILLOPN: i32 = 2;
pub const FPE_INTDIV: i32 = 1;
pub const TRAP_BRKPT: i32 = 1;
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;

/// A set of signals 1..=64 (bit n-1 for signal n), as the kernel's `sigset_t`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(transparent)]
pub struct SigSet(pub u64);

impl SigSet {
    /// The bit of `sig`.
    pub const fn bit(sig: i32) -> u64 {
        1u64 << (sig - 1)
    }
    /// Whether `sig` is in the set.
    pub fn has(self, sig: i32) -> bool {
        (1..=64).contains(&sig) && self.0 & Self::bit(sig) != 0
    }
    /// Adds `sig`.
    pub fn add(&mut self, sig: i32) {
        self.0 |= Self::bit(sig);
    }
    /// Removes `sig`.
    pub fn remove(&mut self, sig: i32) {
        self.0 &= !Self::bit(sig);
    }
    /// The set without SIGKILL and SIGSTOP (which cannot be blocked).
    pub fn blockable(self) -> SigSet {
        SigSet(self.0 & !(Self::bit(SIGKILL) | Self::bit(SIGSTOP)))
    }
}

/// `struct sigaction` as the kernel sees it (x86_64: handler, flags, restorer, mask).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: SigSet,
}

/// The 128-byte `siginfo_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct SigInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    pub _pad: i32,
    pub fields: [u64; 14],
}
const _: () = assert!(core::mem::size_of::<SigInfo>() == 128);

impl SigInfo {
    /// A siginfo for `sig` with `code`.
    pub fn new(sig: i32, code: i32) -> Self {
        Self { signo: sig, errno: 0, code, _pad: 0, fields: [0; 14] }
    }
    /// Sent by `kill`/`tgkill` from `pid` (uid 0).
    pub fn from_user(sig: i32, code: i32, pid: Pid) -> Self {
        let mut s = Self::new(sig, code);
        s.fields[0] = pid as u32 as u64;
        s
    }
    /// A fault at `addr`.
    pub fn fault(sig: i32, code: i32, addr: u64) -> Self {
        let mut s = Self::new(sig, code);
        s.fields[0] = addr;
        s
    }
    /// SIGCHLD for `pid` with `code` and `status`.
    pub fn child(code: i32, pid: Pid, status: i32, utime: u64, stime: u64) -> Self {
        let mut s = Self::new(SIGCHLD, code);
        s.fields[0] = pid as u32 as u64;
        s.fields[1] = status as u32 as u64;
        s.fields[2] = utime;
        s.fields[3] = stime;
        s
    }
    /// With a `sigval` (sigqueue, timers) in the third word.
    pub fn with_value(mut self, v: u64) -> Self {
        self.fields[1] = v;
        self
    }
}

/// Pending signals of a task or process.
#[derive(Clone, Default)]
pub struct Pending {
    pub set: SigSet,
    pub queue: VecDeque<SigInfo>,
}

impl Pending {
    /// Queues a signal (standard signals at most once; real-time ones queue).
    pub fn add(&mut self, info: SigInfo) -> bool {
        let sig = info.signo;
        if sig < SIGRTMIN && self.set.has(sig) {
            return false;
        }
        if self.queue.len() >= 4096 && sig >= SIGRTMIN {
            return false;
        }
        self.set.add(sig);
        self.queue.push_back(info);
        true
    }

    /// Takes the first pending signal not in `blocked`: synchronous faults first, then
    /// the lowest number.
    pub fn take(&mut self, blocked: SigSet) -> Option<SigInfo> {
        let avail = self.set.0 & !blocked.0;
        if avail == 0 {
            return None;
        }
        let sync = SigSet::bit(SIGSEGV) | SigSet::bit(SIGBUS) | SigSet::bit(SIGILL) | SigSet::bit(SIGTRAP) | SigSet::bit(SIGFPE) | SigSet::bit(SIGSYS);
        let pick = if avail & sync != 0 { avail & sync } else { avail };
        let sig = pick.trailing_zeros() as i32 + 1;
        self.take_sig(sig)
    }

    /// Takes a specific pending signal.
    pub fn take_sig(&mut self, sig: i32) -> Option<SigInfo> {
        let i = self.queue.iter().position(|q| q.signo == sig)?;
        let info = self.queue.remove(i)?;
        if !self.queue.iter().any(|q| q.signo == sig) {
            self.set.remove(sig);
        }
        Some(info)
    }

    /// Drops every instance of `sig`.
    pub fn discard(&mut self, sig: i32) {
        self.queue.retain(|q| q.signo != sig);
        self.set.remove(sig);
    }
}

/// Alternate signal stack (`sigaltstack`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AltStack {
    pub sp: u64,
    pub size: u64,
    pub flags: i32,
}

/// `SS_ONSTACK` / `SS_DISABLE` / `SS_AUTODISARM`.
pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
pub const SS_AUTODISARM: i32 = 1 << 31;

/// Per-thread signal state.
pub struct TaskSignals {
    pub mask: SigSet,
    pub pending: Pending,
    pub altstack: AltStack,
    /// Mask to restore after a handler returns from `sigsuspend`/`ppoll`/`pselect`.
    pub saved_mask: Option<SigSet>,
}

impl TaskSignals {
    /// With signal mask `mask`, nothing pending, no alternate stack.
    pub fn new(mask: SigSet) -> Self {
        Self { mask, pending: Pending::default(), altstack: AltStack { flags: SS_DISABLE, ..Default::default() }, saved_mask: None }
    }
}

/// Signal handlers of a process (shared by threads; `CLONE_SIGHAND`).
pub struct SigHandlers {
    pub actions: SpinLock<[SigAction; 64]>,
}

impl Default for SigHandlers {
    fn default() -> Self {
        Self { actions: SpinLock::new([SigAction::default(); 64]) }
    }
}

impl SigHandlers {
    /// The action for `sig`.
    pub fn get(&self, sig: i32) -> SigAction {
        self.actions.lock()[(sig - 1) as usize]
    }
    /// A copy (fork without CLONE_SIGHAND).
    pub fn duplicate(&self) -> Self {
        Self { actions: SpinLock::new(*self.actions.lock()) }
    }
    /// Resets handled signals to default (exec keeps ignored ones).
    pub fn reset_for_exec(&self) {
        for a in self.actions.lock().iter_mut() {
            if a.handler != SIG_IGN {
                *a = SigAction::default();
            } else {
                a.flags = 0;
                a.mask = SigSet(0);
            }
        }
    }
}

/// What a signal does when not handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    Core,
    Ignore,
    Stop,
    Continue,
}

/// The default action of `sig` (signal(7)).
pub fn default_action(sig: i32) -> DefaultAction {
    match sig {
        SIGCHLD | SIGURG | SIGWINCH => DefaultAction::Ignore,
        SIGCONT => DefaultAction::Continue,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ | SIGSYS => DefaultAction::Core,
        _ => DefaultAction::Terminate,
    }
}

fn ignored(p: &Process, task: &Task, sig: i32) -> bool {
    // A blocked signal is never ignored: the handler may change before it is unblocked.
    if task.sig.lock().mask.has(sig) {
        return false;
    }
    let a = task.sighand().get(sig);
    // Like Linux, init (pid 1) only receives signals it has handlers for.
    a.handler == SIG_IGN || (a.handler == SIG_DFL && (default_action(sig) == DefaultAction::Ignore || p.pid == 1))
}

/// Wakes `task` so it notices a pending signal (interrupting interruptible sleeps).
pub fn kick(task: &Task) {
    if let Some(t) = task.thread() {
        t.set_interrupt(true);
        rtos::sched::core::wake(&t);
    }
}

/// Recomputes whether `task` has a deliverable signal (after mask changes).
pub fn recalc(task: &Task) {
    let pending = {
        let s = task.sig.lock();
        let shared = task.process.shared_pending.lock().set;
        (s.pending.set.0 | shared.0) & !s.mask.0 != 0
    } || task.exiting.load(core::sync::atomic::Ordering::Acquire);
    if let Some(t) = task.thread() {
        t.set_interrupt(pending);
    }
}

/// Sends `info` to one thread (`tgkill`, faults).
pub fn send_to_task(task: &Arc<Task>, info: SigInfo) {
    let sig = info.signo;
    let p = task.process.clone();
    if prepare(&p, sig) && !ignored(&p, task, sig) {
        let added = task.sig.lock().pending.add(info);
        if added || sig == SIGKILL {
            kick(task);
        }
        p.sig_wq.wake_all();
    }
}

/// Stop/continue side effects that happen at send time; false if the signal is dropped.
fn prepare(p: &Arc<Process>, sig: i32) -> bool {
    if p.is_zombie() {
        return false;
    }
    if sig == SIGCONT || sig == SIGKILL {
        // Continuing discards pending stop signals and resumes a stopped process.
        for t in p.tasks() {
            let mut s = t.sig.lock();
            for st in [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU] {
                s.pending.discard(st);
            }
        }
        deliver::resume_stopped(p);
    } else if matches!(sig, SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU) {
        for t in p.tasks() {
            t.sig.lock().pending.discard(SIGCONT);
        }
        p.shared_pending.lock().discard(SIGCONT);
    }
    true
}

/// Sends `info` to a process (`kill`): queued process-wide, one eligible thread woken.
pub fn send_to_process(p: &Arc<Process>, info: SigInfo) {
    let sig = info.signo;
    if !prepare(p, sig) {
        return;
    }
    let tasks = p.tasks();
    let Some(first) = tasks.first() else { return };
    if (sig != SIGKILL || p.pid == 1) && ignored(p, first, sig) {
        return;
    }
    if sig == SIGKILL {
        // Fatal at once: every thread ends.
        deliver::start_group_exit(p, crate::process::ExitStatus::Signaled(SIGKILL, false));
        return;
    }
    p.shared_pending.lock().add(info);
    // Wake a thread that does not block it (or the first one).
    let target = tasks.iter().find(|t| !t.sig.lock().mask.has(sig)).unwrap_or(first);
    kick(target);
    p.sig_wq.wake_all();
}

/// Sends a signal to every process of a group; returns how many got it.
pub fn send_to_group(pgid: Pid, info: SigInfo) -> usize {
    let members = process::group_members(pgid);
    for p in &members {
        send_to_process(p, info);
    }
    members.len()
}

static DEFERRED: SpinLock<heapless::Vec<(Pid, i32), 16>> = SpinLock::new(heapless::Vec::new());
static DEFERRED_WQ: rtos::sync::WaitQueue = rtos::sync::WaitQueue::new();

/// Queues a group signal from interrupt context (terminal ^C); a kernel thread sends it.
pub fn send_to_group_deferred(pgid: Pid, sig: i32) {
    let _ = DEFERRED.lock().push((pgid, sig));
    DEFERRED_WQ.wake_all();
}

/// The kernel thread that sends signals queued from interrupt context.
pub fn deferred_sender() -> ! {
    loop {
        DEFERRED_WQ.wait_until(|| !DEFERRED.lock().is_empty());
        let items: heapless::Vec<(Pid, i32), 16> = core::mem::take(&mut *DEFERRED.lock());
        for (pg, sig) in items {
            send_to_group(pg, SigInfo::new(sig, SI_KERNEL));
        }
    }
}
