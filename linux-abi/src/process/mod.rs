//! Processes and tasks (threads) as Linux models them.
//!
//! A [`Process`] is a thread group: pid (= tgid), parent, process group, session, address
//! space, children, exit status, resource limits. A [`Task`] is one thread: tid, the
//! resources it may share with others via `clone` flags (descriptor table, filesystem
//! context, signal handlers), its signal mask and pending set. Each task owns an `rtos`
//! thread, whose per-thread data points back at the task.

pub mod exec;
pub mod exit;
pub mod fork;
pub mod ids;
pub mod introspect;
pub mod limits;
pub mod wait;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

use rtos::mm::addrspace::AddressSpace;
use rtos::sched::thread::Thread;
use rtos::sync::{SpinLock, WaitQueue};

use crate::fs::fdtable::FdTable;
use crate::fs::path::Location;
use crate::signal::{SigHandlers, SigSet, TaskSignals};
use limits::Rlimits;

/// A process or thread id.
pub type Pid = i32;

/// How a process ended (for `wait`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit(code)`.
    Exited(i32),
    /// Killed by a signal (with core dump flag).
    Signaled(i32, bool),
}

impl ExitStatus {
    /// The `wait` status word.
    pub fn wait_status(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => (c & 0xff) << 8,
            ExitStatus::Signaled(s, core) => (s & 0x7f) | if core { 0x80 } else { 0 },
        }
    }
}

/// Stop/continue notifications pending for the parent's `wait` (WUNTRACED/WCONTINUED).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobEvent {
    Stopped(i32),
    Continued,
}

/// Mutable process relationships (under the process lock).
pub struct ProcState {
    pub parent: Weak<Process>,
    pub pgid: Pid,
    pub sid: Pid,
    pub children: Vec<Arc<Process>>,
    pub tasks: Vec<Arc<Task>>,
    pub exit: Option<ExitStatus>,
    /// A job-control event not yet reported to the parent.
    pub job_event: Option<JobEvent>,
    /// Signal sent to the parent when this process ends (usually SIGCHLD).
    pub exit_signal: i32,
    /// Set once `exit_group` or a fatal signal started ending every thread.
    pub group_exit: Option<ExitStatus>,
    pub stopped: bool,
}

/// Working directory, root and umask (shared with `CLONE_FS`).
pub struct FsContext {
    pub root: Location,
    pub cwd: Location,
    pub umask: u32,
}

/// A process (thread group).
pub struct Process {
    pub pid: Pid,
    pub state: SpinLock<ProcState>,
    pub mm: SpinLock<Arc<AddressSpace>>,
    /// Absolute path of the executable (`/proc/self/exe`).
    pub exe: SpinLock<String>,
    /// argv, NUL-separated (`/proc/self/cmdline`).
    pub cmdline: SpinLock<Vec<u8>>,
    pub rlimits: SpinLock<Rlimits>,
    /// Sleepers in `wait4`/`waitid` for this process's children.
    pub child_wait: WaitQueue,
    /// Process-directed pending signals.
    pub shared_pending: SpinLock<crate::signal::Pending>,
    /// Woken when the last thread is gone (exec/exit_group wait for siblings).
    pub threads_gone: WaitQueue,
    /// Threads of a stopped process sleep here until SIGCONT or SIGKILL.
    pub cont: WaitQueue,
    /// Woken whenever a signal is queued for the process or one of its threads (signalfd).
    pub sig_wq: WaitQueue,
    pub start_ns: u64,
    /// CPU time of threads that already ended, and of reaped children (ns).
    pub dead_threads_cpu_ns: AtomicU64,
    pub children_cpu_ns: AtomicU64,
    /// Parent-death signal (`PR_SET_PDEATHSIG`).
    pub pdeath_signal: AtomicI32,
    /// The thread of the parent that created this process (the parent-death signal fires
    /// when that thread exits, as on Linux).
    pub parent_tid: AtomicI32,
    /// Mirrors `state.stopped` for the return-to-user fast path.
    pub stopped_flag: AtomicBool,
    /// Timer slack (`PR_SET_TIMERSLACK`), ns.
    pub timer_slack_ns: AtomicU64,
    /// `execve` done at least once (for setpgid's EACCES rule).
    pub did_exec: AtomicBool,
    /// `PR_SET_DUMPABLE`.
    pub dumpable: AtomicU32,
    /// `PR_SET_CHILD_SUBREAPER`.
    pub subreaper: AtomicBool,
    /// Interval timer (ITIMER_REAL / alarm) generation, to cancel stale expiries.
    pub itimer: SpinLock<crate::time::ItimerState>,
    /// ITIMER_VIRTUAL and ITIMER_PROF (CPU time).
    pub cpu_itimers: SpinLock<crate::time::CpuItimers>,
    /// Largest resident set seen, and the largest of reaped children (pages).
    pub maxrss_pages: AtomicU64,
    pub children_maxrss_pages: AtomicU64,
    /// The scheduling capability this process holds (granted by the dataflow profile).
    pub sched_cap: SpinLock<Option<crate::schedcap::SchedCap>>,
    /// What the dataflow profile knows of this process (set at `execve`).
    pub identity: SpinLock<Option<dataflow_profile::matching::Identity>>,
}

/// A thread of a process.
pub struct Task {
    /// Thread id (changes once: a thread that execs becomes the leader, with the pid).
    tid_cell: core::sync::atomic::AtomicI32,
    pub process: Arc<Process>,
    pub thread: spin::Once<Weak<Thread>>,
    pub files: SpinLock<Arc<FdTable>>,
    pub fs: SpinLock<Arc<SpinLock<FsContext>>>,
    pub sighand: SpinLock<Arc<SigHandlers>>,
    pub sig: SpinLock<TaskSignals>,
    /// `CLONE_CHILD_CLEARTID` / `set_tid_address`.
    pub clear_child_tid: AtomicU64,
    /// `set_robust_list` head and length.
    pub robust_list: AtomicU64,
    pub robust_len: AtomicU64,
    /// Signalled when this task (a vfork child) execs or exits.
    pub vfork_done: SpinLock<Option<Arc<crate::process::ids::Completion>>>,
    pub comm: SpinLock<heapless::String<16>>,
    /// Set when the thread must end at the next return to user mode.
    pub exiting: AtomicBool,
    /// The exit cleanup ran (the kernel core ends the thread on its way out).
    pub exit_done: AtomicBool,
    /// The syscall restart block for `restart_syscall` (nanosleep remaining time).
    pub restart: SpinLock<Option<crate::time::RestartBlock>>,
    /// `SCHED_RESET_ON_FORK`: children start in SCHED_OTHER with a nice value >= 0.
    pub sched_reset_on_fork: AtomicBool,
    /// The profile rule that placed this thread (-1: none).
    pub profile_rule: crate::profile::RuleIndex,
}

static PROCESSES: SpinLock<BTreeMap<Pid, Weak<Process>>> = SpinLock::new(BTreeMap::new());
static TASKS: SpinLock<BTreeMap<Pid, Weak<Task>>> = SpinLock::new(BTreeMap::new());

impl Process {
    /// A new process with `pid`, given its address space, parent and ids.
    pub fn new(pid: Pid, mm: Arc<AddressSpace>, parent: Weak<Process>, pgid: Pid, sid: Pid, rlimits: Rlimits) -> Arc<Self> {
        let p = Arc::new(Self {
            pid,
            state: SpinLock::new(ProcState {
                parent,
                pgid,
                sid,
                children: Vec::new(),
                tasks: Vec::new(),
                exit: None,
                job_event: None,
                exit_signal: crate::signal::SIGCHLD,
                group_exit: None,
                stopped: false,
            }),
            mm: SpinLock::new(mm),
            exe: SpinLock::new(String::new()),
            cmdline: SpinLock::new(Vec::new()),
            rlimits: SpinLock::new(rlimits),
            child_wait: WaitQueue::new(),
            shared_pending: SpinLock::new(crate::signal::Pending::default()),
            threads_gone: WaitQueue::new(),
            cont: WaitQueue::new(),
            sig_wq: WaitQueue::new(),
            start_ns: rtos::time::now_ns(),
            dead_threads_cpu_ns: AtomicU64::new(0),
            children_cpu_ns: AtomicU64::new(0),
            pdeath_signal: AtomicI32::new(0),
            parent_tid: AtomicI32::new(0),
            stopped_flag: AtomicBool::new(false),
            timer_slack_ns: AtomicU64::new(50_000),
            did_exec: AtomicBool::new(false),
            dumpable: AtomicU32::new(1),
            subreaper: AtomicBool::new(false),
            itimer: SpinLock::new(crate::time::ItimerState::default()),
            cpu_itimers: SpinLock::new(crate::time::CpuItimers::default()),
            maxrss_pages: AtomicU64::new(0),
            children_maxrss_pages: AtomicU64::new(0),
            sched_cap: SpinLock::new(None),
            identity: SpinLock::new(None),
        });
        PROCESSES.lock().insert(pid, Arc::downgrade(&p));
        p
    }

    /// The address space.
    pub fn mm(&self) -> Arc<AddressSpace> {
        self.mm.lock().clone()
    }

    /// Process group id.
    pub fn pgid(&self) -> Pid {
        self.state.lock().pgid
    }

    /// Session id.
    pub fn sid(&self) -> Pid {
        self.state.lock().sid
    }

    /// Parent's pid (0 if none, as for pid 1).
    pub fn ppid(&self) -> Pid {
        self.state.lock().parent.upgrade().map_or(0, |p| p.pid)
    }

    /// The live tasks.
    pub fn tasks(&self) -> Vec<Arc<Task>> {
        self.state.lock().tasks.clone()
    }

    /// Whether the process has ended (zombie or reaped).
    pub fn is_zombie(&self) -> bool {
        self.state.lock().exit.is_some()
    }

    /// Total CPU time of the live threads plus those that ended (ns).
    pub fn cpu_time_ns(&self) -> u64 {
        let live: u64 = self.tasks().iter().filter_map(|t| t.thread()).map(|t| t.cpu_time_ns()).sum();
        live + self.dead_threads_cpu_ns.load(Ordering::Relaxed)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let mut p = PROCESSES.lock();
        if p.get(&self.pid).is_some_and(|w| w.strong_count() == 0) {
            p.remove(&self.pid);
        }
    }
}

impl Task {
    /// The thread id.
    pub fn tid(&self) -> Pid {
        self.tid_cell.load(Ordering::Acquire)
    }

    /// A thread that called `execve` becomes the thread-group leader: it takes the process
    /// id as its thread id (Linux `de_thread`).
    pub fn become_leader(self: &Arc<Self>) {
        let old = self.tid();
        let pid = self.process.pid;
        if old == pid {
            return;
        }
        let mut t = TASKS.lock();
        if t.get(&old).is_some_and(|w| w.as_ptr() == Arc::as_ptr(self)) {
            t.remove(&old);
        }
        self.tid_cell.store(pid, Ordering::Release);
        t.insert(pid, Arc::downgrade(self));
    }

    /// A new task of `process` sharing or owning the given resources.
    pub fn new(
        tid: Pid,
        process: Arc<Process>,
        files: Arc<FdTable>,
        fs: Arc<SpinLock<FsContext>>,
        sighand: Arc<SigHandlers>,
        mask: SigSet,
    ) -> Arc<Self> {
        let t = Arc::new(Self {
            tid_cell: core::sync::atomic::AtomicI32::new(tid),
            process,
            thread: spin::Once::new(),
            files: SpinLock::new(files),
            fs: SpinLock::new(fs),
            sighand: SpinLock::new(sighand),
            sig: SpinLock::new(TaskSignals::new(mask)),
            clear_child_tid: AtomicU64::new(0),
            robust_list: AtomicU64::new(0),
            robust_len: AtomicU64::new(0),
            vfork_done: SpinLock::new(None),
            comm: SpinLock::new(heapless::String::new()),
            exiting: AtomicBool::new(false),
            exit_done: AtomicBool::new(false),
            restart: SpinLock::new(None),
            sched_reset_on_fork: AtomicBool::new(false),
            profile_rule: crate::profile::RuleIndex::new(-1),
        });
        TASKS.lock().insert(tid, Arc::downgrade(&t));
        t
    }

    /// The rtos thread running this task.
    pub fn thread(&self) -> Option<Arc<Thread>> {
        self.thread.get().and_then(|w| w.upgrade())
    }

    /// The descriptor table.
    pub fn files(&self) -> Arc<FdTable> {
        self.files.lock().clone()
    }

    /// The filesystem context.
    pub fn fs(&self) -> Arc<SpinLock<FsContext>> {
        self.fs.lock().clone()
    }

    /// The signal handler table.
    pub fn sighand(&self) -> Arc<SigHandlers> {
        self.sighand.lock().clone()
    }

    /// Whether this is the thread-group leader.
    pub fn is_leader(&self) -> bool {
        self.tid() == self.process.pid
    }

    /// Sets the thread name (`comm`).
    pub fn set_comm(&self, name: &[u8]) {
        let mut c = self.comm.lock();
        c.clear();
        for &b in name.iter().take(15) {
            let _ = c.push(if b.is_ascii() { b as char } else { '?' });
        }
        if let Some(t) = self.thread() {
            t.set_name(c.as_str());
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let mut t = TASKS.lock();
        let tid = self.tid();
        if t.get(&tid).is_some_and(|w| w.strong_count() == 0) {
            t.remove(&tid);
        }
    }
}

/// The task of the running thread.
///
/// # Panics
/// Panics if called from a kernel thread without a task (a kernel bug).
pub fn current_task() -> Arc<Task> {
    try_current_task().expect("current thread has no Linux task")
}

/// The task of the running thread, if it has one.
pub fn try_current_task() -> Option<Arc<Task>> {
    rtos::sched::core::current().ext::<Arc<Task>>().cloned()
}

/// The process of the running thread.
pub fn current_process() -> Arc<Process> {
    current_task().process.clone()
}

/// Finds a live process.
pub fn find_process(pid: Pid) -> Option<Arc<Process>> {
    PROCESSES.lock().get(&pid).and_then(|w| w.upgrade())
}

/// Finds a live task (thread).
pub fn find_task(tid: Pid) -> Option<Arc<Task>> {
    TASKS.lock().get(&tid).and_then(|w| w.upgrade())
}

/// The Linux thread id of the task running on kernel thread `thread_id` (an
/// `rtos` thread id), if it is a live user task.
pub fn tid_of_thread(thread_id: u64) -> Option<Pid> {
    let tasks: Vec<Arc<Task>> = TASKS.lock().values().filter_map(|w| w.upgrade()).collect();
    tasks.into_iter().find(|t| t.thread().is_some_and(|th| th.id() == thread_id)).map(|t| t.tid())
}

/// All live processes, by pid.
pub fn all_processes() -> Vec<Arc<Process>> {
    PROCESSES.lock().values().filter_map(|w| w.upgrade()).collect()
}

/// The processes of a process group.
pub fn group_members(pgid: Pid) -> Vec<Arc<Process>> {
    all_processes().into_iter().filter(|p| p.pgid() == pgid && !p.is_zombie()).collect()
}

/// Every process in group `pgid`, zombies too (a group exists until its last member is
/// reaped: `setpgid` may join it).
pub fn group_members_incl_zombies(pgid: Pid) -> Vec<Arc<Process>> {
    all_processes().into_iter().filter(|p| p.pgid() == pgid).collect()
}

/// Whether some live process is in group `pgid`.
pub fn group_exists(pgid: Pid) -> bool {
    !group_members(pgid).is_empty()
}

/// Whether `pid` is in use as a pid, tid, process group or session id.
pub(crate) fn id_in_use(pid: Pid) -> bool {
    if TASKS.lock().get(&pid).is_some_and(|w| w.strong_count() > 0) || PROCESSES.lock().get(&pid).is_some_and(|w| w.strong_count() > 0) {
        return true;
    }
    all_processes().iter().any(|p| {
        let s = p.state.lock();
        s.pgid == pid || s.sid == pid
    })
}

/// Number of live tasks.
pub fn task_count() -> usize {
    TASKS.lock().values().filter(|w| w.strong_count() > 0).count()
}
