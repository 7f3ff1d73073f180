//! `signals` suite: POSIX/Linux signal semantics as static binaries see them.
//!
//! Covers: `rt_sigaction` get/set (the mask read back loses SIGKILL/SIGSTOP, unknown
//! flag bits are cleared) and its EINVAL cases (SIGKILL/SIGSTOP, signals 0 and 65, a
//! wrong sigsetsize); `SA_SIGINFO` siginfo for `kill` (SI_USER), `tgkill`/`tkill`
//! (SI_TKILL) and `rt_sigqueueinfo` (SI_QUEUE with si_value, EPERM for a forged
//! si_code to another process); `SA_RESETHAND` (the second delivery kills a child);
//! `SA_NODEFER` (nesting depth 3) against the default (the signal is blocked in its
//! handler, so no nesting); `sa_mask` added during the handler; `SA_ONSTACK` with
//! `sigaltstack` (a local of the handler lies in the alternate stack, SS_ONSTACK
//! inside, EPERM when changing it there, ENOMEM below MINSIGSTKSZ, EINVAL for bad
//! flags, SS_DISABLE); `rt_sigprocmask` BLOCK/UNBLOCK/SETMASK, EINVAL for a bad
//! `how`, SIGKILL/SIGSTOP never blocked; `rt_sigpending` (thread and process
//! pending), delivery on unblock, the lowest-numbered signal first; SIG_IGN
//! discards a pending signal, a blocked ignored signal stays pending;
//! `rt_sigsuspend` and `pause` (EINTR after the handler, the mask restored);
//! `rt_sigtimedwait` (signal number and siginfo, EAGAIN for 0 and 50 ms timeouts, EINTR
//! for another handled signal, EINVAL); `tgkill`/`tkill` to a thread (the handler
//! runs in that thread), a process-directed signal goes to the thread that does not
//! block it; ESRCH/EINVAL for bad targets and signals; `kill(pid, 0)` (also for a
//! zombie); `kill` to the own process group (`kill(0)`, `kill(-pgid)`) in a child
//! that made its own group; default actions observed with `wait4` (terminate, core,
//! stop/continue with WUNTRACED/WCONTINUED, SIGKILL of a stopped child, ignore);
//! `fork` keeps handlers and the mask but not pending signals; SIGCHLD to the
//! parent (CLD_EXITED, si_pid, si_status), SIGCHLD=SIG_IGN auto-reaps (ECHILD);
//! SIGPIPE (kills by default, EPIPE when ignored or handled); fault signals with
//! siginfo and ucontext (SIGSEGV for null, unmapped, PROT_NONE and read-only pages
//! with the exact si_addr and si_code, SIGBUS past the end of a truncated file
//! mapping, SIGILL for ud2, SIGFPE for a division by zero), recovered from with
//! `siglongjmp` (twice: the mask is restored); a fault with the signal blocked or
//! ignored kills; EINTR versus SA_RESTART for a blocking pipe read; `nanosleep`
//! interrupted (EINTR and the remaining time, even with SA_RESTART); real-time
//! signals queue (5 deliveries in order) where a standard signal is delivered once.
//!
//! `kill(-1)` is not tested: on the host it would signal every process of the user.
//!
//! The suite starts by unblocking every signal and resetting inherited SIG_IGN
//! dispositions (but SIGPIPE's) to SIG_DFL. Every check restores what it changed (actions, mask, alternate stack) and reaps
//! its children; after each check the suite verifies that the signal mask is back
//! and nothing is pending. Blocking waits run under a watchdog thread that
//! interrupts the main thread with a real-time signal after a few seconds, so a
//! missing wake-up fails one check instead of hanging the suite. Helper threads
//! block every signal they are not meant to receive.

use checks::{
    clear_errno, ensure, ensure_eq, errno, errno_name, expect_sys_errno, join, sys_ok, syscall,
    CheckResult, Suite,
};
use libc::{c_int, c_long, c_void};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SA_SIGINFO: u64 = 0x4;
const SA_UNSUPPORTED: u64 = 0x400;
const SA_RESTORER: u64 = 0x0400_0000;
const SA_ONSTACK: u64 = 0x0800_0000;
const SA_RESTART: u64 = 0x1000_0000;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;
const SIG_DFL: usize = 0;
const SIG_IGN: usize = 1;

const SIG_BLOCK: c_long = 0;
const SIG_UNBLOCK: c_long = 1;
const SIG_SETMASK: c_long = 2;

const SI_USER: i32 = 0;
const SI_KERNEL: i32 = 0x80;
const SI_QUEUE: i32 = -1;
const SI_TKILL: i32 = -6;
const CLD_EXITED: i32 = 1;
const SEGV_MAPERR: i32 = 1;
const SEGV_ACCERR: i32 = 2;
const BUS_ADRERR: i32 = 2;
const ILL_ILLOPN: i32 = 2;
const FPE_INTDIV: i32 = 1;

const SS_ONSTACK: i32 = 1;
const SS_DISABLE: i32 = 2;

const SIGHUP: i32 = 1;
const SIGINT: i32 = 2;
const SIGQUIT: i32 = 3;
const SIGILL: i32 = 4;
const SIGABRT: i32 = 6;
const SIGBUS: i32 = 7;
const SIGFPE: i32 = 8;
const SIGKILL: i32 = 9;
const SIGUSR1: i32 = 10;
const SIGSEGV: i32 = 11;
const SIGUSR2: i32 = 12;
const SIGPIPE: i32 = 13;
const SIGALRM: i32 = 14;
const SIGTERM: i32 = 15;
const SIGCHLD: i32 = 17;
const SIGCONT: i32 = 18;
const SIGSTOP: i32 = 19;
const SIGURG: i32 = 23;
const SIGXCPU: i32 = 24;
const SIGWINCH: i32 = 28;
const SIGSYS: i32 = 31;
/// Real-time signals used by the checks (musl reserves 32-34; its SIGRTMIN is 35).
const RT_A: i32 = 38;
const RT_B: i32 = 40;
/// The watchdog's signal (SIGRTMIN+10 in musl's numbering).
const WD_SIG: i32 = 45;

const PAGE: usize = 4096;
/// No such process: above PID_MAX_LIMIT (4M).
const NO_PID: c_long = 0x3fff_fff0;

// ---------------------------------------------------------------------------
// Assembly: the sa_restorer and the code sites that fault on purpose.
// ---------------------------------------------------------------------------

core::arch::global_asm!(
    ".text",
    ".globl signals_restorer",
    ".type signals_restorer, @function",
    "signals_restorer:",
    "    mov eax, 15", // rt_sigreturn
    "    syscall",
    "    ud2",
    // u64 signals_load(addr): the load is at signals_load.
    ".globl signals_load",
    ".type signals_load, @function",
    "signals_load:",
    "    mov rax, qword ptr [rdi]",
    "    ret",
    // signals_store(addr, value): the store is at signals_store.
    ".globl signals_store",
    ".type signals_store, @function",
    "signals_store:",
    "    mov qword ptr [rdi], rsi",
    "    ret",
    // signals_ud2(): ud2 at signals_ud2.
    ".globl signals_ud2",
    ".type signals_ud2, @function",
    "signals_ud2:",
    "    ud2",
    "    ret",
    // u64 signals_div(a, b) = a / b; the div is at signals_div_insn.
    ".globl signals_div",
    ".type signals_div, @function",
    "signals_div:",
    "    xor edx, edx",
    "    mov rax, rdi",
    ".globl signals_div_insn",
    "signals_div_insn:",
    "    div rsi",
    "    ret",
);

unsafe extern "C" {
    fn signals_restorer();
    fn signals_load(addr: usize) -> u64;
    fn signals_store(addr: usize, value: u64);
    fn signals_ud2();
    fn signals_div(a: u64, b: u64) -> u64;
    fn signals_div_insn();
    fn sigsetjmp(env: *mut JmpBuf, savemask: c_int) -> c_int;
    fn siglongjmp(env: *mut JmpBuf, val: c_int) -> !;
}

/// musl's sigjmp_buf is 200 bytes; this is more than enough.
#[repr(C, align(16))]
struct JmpBuf([u64; 64]);
static mut JMPBUF: JmpBuf = JmpBuf([0; 64]);

fn main() {
    let mut s = Suite::new("signals");
    let base = match base_state() {
        Ok(b) => b,
        Err(e) => {
            s.check("initial_state", || Err(e));
            s.finish();
        }
    };
    type Check = (&'static str, fn() -> CheckResult);
    let checks: &[Check] = &[
        ("sigaction_get_set", sigaction_get_set),
        (
            "sigaction_unknown_flags_cleared",
            sigaction_unknown_flags_cleared,
        ),
        ("sigaction_einval", sigaction_einval),
        ("siginfo_kill_si_user", siginfo_kill_si_user),
        (
            "siginfo_tgkill_tkill_si_tkill",
            siginfo_tgkill_tkill_si_tkill,
        ),
        ("siginfo_sigqueue_si_value", siginfo_sigqueue_si_value),
        (
            "sigqueueinfo_forged_code_eperm",
            sigqueueinfo_forged_code_eperm,
        ),
        ("sa_resethand", sa_resethand),
        ("sa_nodefer_nests", sa_nodefer_nests),
        ("handler_blocks_own_signal", handler_blocks_own_signal),
        ("sa_mask_added_in_handler", sa_mask_added_in_handler),
        ("sigaltstack_onstack", sigaltstack_onstack),
        (
            "sigaltstack_errors_and_disable",
            sigaltstack_errors_and_disable,
        ),
        ("sigprocmask_ops", sigprocmask_ops),
        ("sigprocmask_errors", sigprocmask_errors),
        (
            "sigkill_sigstop_not_blockable",
            sigkill_sigstop_not_blockable,
        ),
        ("sigpending_and_unblock", sigpending_and_unblock),
        ("pending_delivery_order", pending_delivery_order),
        ("sig_ign_discards_pending", sig_ign_discards_pending),
        (
            "blocked_ignored_signal_stays_pending",
            blocked_ignored_signal_stays_pending,
        ),
        ("sigsuspend_pending", sigsuspend_pending),
        ("sigsuspend_waits", sigsuspend_waits),
        ("pause_eintr", pause_eintr),
        ("sigtimedwait_pending", sigtimedwait_pending),
        ("sigtimedwait_timeouts", sigtimedwait_timeouts),
        ("sigtimedwait_wakes", sigtimedwait_wakes),
        ("sigtimedwait_eintr", sigtimedwait_eintr),
        ("sigtimedwait_einval", sigtimedwait_einval),
        ("tgkill_tkill_target_thread", tgkill_tkill_target_thread),
        (
            "kill_process_to_unblocking_thread",
            kill_process_to_unblocking_thread,
        ),
        ("kill_errors", kill_errors),
        ("kill_sig0_existence", kill_sig0_existence),
        ("kill_process_group", kill_process_group),
        ("default_terminate", default_terminate),
        ("default_core", default_core),
        ("default_stop_continue", default_stop_continue),
        ("default_ignore", default_ignore),
        (
            "fork_keeps_handlers_mask_not_pending",
            fork_keeps_handlers_mask_not_pending,
        ),
        ("sigchld_to_parent", sigchld_to_parent),
        ("sigchld_ign_autoreap", sigchld_ign_autoreap),
        ("sigpipe_default_kills", sigpipe_default_kills),
        (
            "sigpipe_ignored_or_handled_epipe",
            sigpipe_ignored_or_handled_epipe,
        ),
        ("sigsegv_null_read", sigsegv_null_read),
        ("sigsegv_unmapped", sigsegv_unmapped),
        ("sigsegv_prot_none", sigsegv_prot_none),
        ("sigsegv_readonly_write", sigsegv_readonly_write),
        ("sigbus_truncated_file", sigbus_truncated_file),
        ("sigill_ud2", sigill_ud2),
        ("sigfpe_divzero", sigfpe_divzero),
        (
            "fault_blocked_or_ignored_kills",
            fault_blocked_or_ignored_kills,
        ),
        ("fault_default_actions", fault_default_actions),
        ("read_sa_restart_restarts", read_sa_restart_restarts),
        ("read_without_restart_eintr", read_without_restart_eintr),
        ("nanosleep_eintr_remaining", nanosleep_eintr_remaining),
        ("rt_signals_queue", rt_signals_queue),
        ("standard_signal_once", standard_signal_once),
    ];
    for &(name, f) in checks {
        s.check(name, || {
            reset_records();
            let result = f();
            let clean = hygiene(&base);
            result.and(clean)
        });
    }
    s.finish();
}

// ---------------------------------------------------------------------------
// Small helpers.
// ---------------------------------------------------------------------------

const fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

fn pid() -> i32 {
    unsafe { syscall!(libc::SYS_getpid) as i32 }
}

fn tid() -> i32 {
    unsafe { syscall!(libc::SYS_gettid) as i32 }
}

fn uid() -> u32 {
    unsafe { syscall!(libc::SYS_getuid) as u32 }
}

fn tgkill(pid: i32, tid: i32, sig: i32) -> c_long {
    unsafe { syscall!(libc::SYS_tgkill, pid, tid, sig) }
}

/// Sends `sig` to the calling thread.
fn raise(sig: i32) -> Result<(), String> {
    sys_ok(&format!("tgkill(self, {sig})"), || {
        tgkill(pid(), tid(), sig)
    })?;
    Ok(())
}

fn kill(pid: c_long, sig: i32) -> c_long {
    unsafe { syscall!(libc::SYS_kill, pid, sig) }
}

fn sleep_ms(ms: u64) {
    let ts = libc::timespec {
        tv_sec: (ms / 1000) as i64,
        tv_nsec: ((ms % 1000) * 1_000_000) as i64,
    };
    unsafe { syscall!(libc::SYS_nanosleep, &raw const ts, 0) };
}

fn mono_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { syscall!(libc::SYS_clock_gettime, libc::CLOCK_MONOTONIC, &raw mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

fn describe_status(st: i32) -> String {
    if libc::WIFEXITED(st) {
        format!("exited with {}", libc::WEXITSTATUS(st))
    } else if libc::WIFSIGNALED(st) {
        format!("killed by signal {}", libc::WTERMSIG(st))
    } else if libc::WIFSTOPPED(st) {
        format!("stopped by signal {}", libc::WSTOPSIG(st))
    } else if libc::WIFCONTINUED(st) {
        "continued".to_string()
    } else {
        format!("status {st:#x}")
    }
}

// --- sigaction -------------------------------------------------------------

/// The kernel's `struct sigaction` on x86_64.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq)]
struct KSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

type Handler = extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void);

fn haddr(h: Handler) -> usize {
    h as usize
}

fn restorer() -> usize {
    signals_restorer as *const () as usize
}

fn act(handler: usize, flags: u64, mask: u64) -> KSigaction {
    KSigaction {
        handler,
        flags: flags | SA_RESTORER,
        restorer: restorer(),
        mask,
    }
}

fn raw_sigaction(sig: i32, new: *const KSigaction, old: *mut KSigaction) -> c_long {
    unsafe { syscall!(libc::SYS_rt_sigaction, sig, new, old, 8) }
}

fn get_action(sig: i32) -> Result<KSigaction, String> {
    let mut old = KSigaction::default();
    sys_ok(&format!("rt_sigaction({sig}, NULL, &old)"), || {
        raw_sigaction(sig, std::ptr::null(), &raw mut old)
    })?;
    Ok(old)
}

/// Restores the previous action of a signal when dropped.
struct ActionGuard {
    sig: i32,
    old: KSigaction,
}

impl Drop for ActionGuard {
    fn drop(&mut self) {
        raw_sigaction(self.sig, &self.old, std::ptr::null_mut());
    }
}

fn install(sig: i32, handler: usize, flags: u64, mask: u64) -> Result<ActionGuard, String> {
    let new = act(handler, flags, mask);
    let mut old = KSigaction::default();
    sys_ok(&format!("rt_sigaction({sig}, set)"), || {
        raw_sigaction(sig, &new, &raw mut old)
    })?;
    Ok(ActionGuard { sig, old })
}

fn install_handler(sig: i32, h: Handler, flags: u64, mask: u64) -> Result<ActionGuard, String> {
    install(sig, haddr(h), flags | SA_SIGINFO, mask)
}

// --- masks -------------------------------------------------------------------

fn procmask(how: c_long, set: Option<u64>) -> Result<u64, String> {
    let mut old = 0u64;
    let setp = match &set {
        Some(s) => s as *const u64,
        None => std::ptr::null(),
    };
    sys_ok("rt_sigprocmask", || unsafe {
        syscall!(libc::SYS_rt_sigprocmask, how, setp, &raw mut old, 8)
    })?;
    Ok(old)
}

fn cur_mask() -> u64 {
    let mut old = 0u64;
    unsafe { syscall!(libc::SYS_rt_sigprocmask, SIG_BLOCK, 0, &raw mut old, 8) };
    old
}

fn pending() -> Result<u64, String> {
    let mut set = 0u64;
    sys_ok("rt_sigpending", || unsafe {
        syscall!(libc::SYS_rt_sigpending, &raw mut set, 8)
    })?;
    Ok(set)
}

/// Restores the signal mask it saved when dropped.
struct MaskGuard(u64);

impl Drop for MaskGuard {
    fn drop(&mut self) {
        let m = self.0;
        unsafe { syscall!(libc::SYS_rt_sigprocmask, SIG_SETMASK, &raw const m, 0, 8) };
    }
}

fn block(set: u64) -> Result<MaskGuard, String> {
    Ok(MaskGuard(procmask(SIG_BLOCK, Some(set))?))
}

fn fmt_set(set: u64) -> String {
    let sigs: Vec<String> = (1..=64)
        .filter(|&s| set & bit(s) != 0)
        .map(|s| s.to_string())
        .collect();
    format!("{{{}}}", sigs.join(","))
}

// --- state checked around every check ---------------------------------------

struct Base {
    mask: u64,
}

/// Makes the start state independent of what the parent left: nothing blocked,
/// and no inherited SIG_IGN (except SIGPIPE, which Rust's runtime ignores).
fn base_state() -> Result<Base, String> {
    let p = pending()?;
    ensure!(p == 0, "signals pending at start: {}", fmt_set(p));
    procmask(SIG_SETMASK, Some(0))?;
    for sig in 1..=64 {
        if sig == SIGKILL || sig == SIGSTOP || sig == SIGPIPE {
            continue;
        }
        if get_action(sig)?.handler == SIG_IGN {
            let dfl = act(SIG_DFL, 0, 0);
            sys_ok(&format!("rt_sigaction({sig}, SIG_DFL)"), || {
                raw_sigaction(sig, &dfl, std::ptr::null_mut())
            })?;
        }
    }
    Ok(Base { mask: cur_mask() })
}

/// After a check: the mask is back to the initial one and nothing is pending.
/// Repairs what it finds so that one broken check does not spoil the next.
fn hygiene(base: &Base) -> CheckResult {
    let mut problems = Vec::new();
    let m = cur_mask();
    if m != base.mask {
        problems.push(format!(
            "signal mask left as {} (was {})",
            fmt_set(m),
            fmt_set(base.mask)
        ));
        let b = base.mask;
        unsafe { syscall!(libc::SYS_rt_sigprocmask, SIG_SETMASK, &raw const b, 0, 8) };
    }
    if let Ok(p) = pending() {
        if p != 0 {
            problems.push(format!("signals left pending: {}", fmt_set(p)));
            // Drain them (they are blocked, so sigtimedwait can take them).
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let _g = block(p);
            for _ in 0..64 {
                let r = unsafe {
                    syscall!(
                        libc::SYS_rt_sigtimedwait,
                        &raw const p,
                        0,
                        &raw const zero,
                        8
                    )
                };
                if r <= 0 {
                    break;
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("cleanup: {}", problems.join("; ")))
    }
}

// --- what handlers record ------------------------------------------------------

static COUNT: AtomicUsize = AtomicUsize::new(0);
static LAST_SIG: AtomicI32 = AtomicI32::new(0);
static HANDLER_TID: AtomicI32 = AtomicI32::new(0);
static HANDLER_MASK: AtomicU64 = AtomicU64::new(0);
/// The first 128 bytes of the last siginfo.
static INFO: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];
/// si_value (or the whole word at offset 24) of each delivery, in order.
static VALUES: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];
static SIGS: [AtomicI32; 16] = [const { AtomicI32::new(0) }; 16];
static DEPTH: AtomicI32 = AtomicI32::new(0);
static MAX_DEPTH: AtomicI32 = AtomicI32::new(0);
static LOCAL_ADDR: AtomicU64 = AtomicU64::new(0);
static ALT_FLAGS: AtomicI32 = AtomicI32::new(-1);
static ALT_SET_RET: AtomicI64 = AtomicI64::new(0);
static ALT_SET_ERRNO: AtomicI32 = AtomicI32::new(0);
static UC_RIP: AtomicU64 = AtomicU64::new(0);
static UC_TRAPNO: AtomicU64 = AtomicU64::new(0);
static UC_ERR: AtomicU64 = AtomicU64::new(0);
static UC_CR2: AtomicU64 = AtomicU64::new(0);

fn reset_records() {
    COUNT.store(0, Ordering::SeqCst);
    LAST_SIG.store(0, Ordering::SeqCst);
    HANDLER_TID.store(0, Ordering::SeqCst);
    HANDLER_MASK.store(0, Ordering::SeqCst);
    for w in INFO.iter().chain(VALUES.iter()) {
        w.store(0, Ordering::SeqCst);
    }
    for w in SIGS.iter() {
        w.store(0, Ordering::SeqCst);
    }
    DEPTH.store(0, Ordering::SeqCst);
    MAX_DEPTH.store(0, Ordering::SeqCst);
    LOCAL_ADDR.store(0, Ordering::SeqCst);
    ALT_FLAGS.store(-1, Ordering::SeqCst);
    ALT_SET_RET.store(0, Ordering::SeqCst);
    ALT_SET_ERRNO.store(0, Ordering::SeqCst);
    UC_RIP.store(0, Ordering::SeqCst);
    UC_TRAPNO.store(0, Ordering::SeqCst);
    UC_ERR.store(0, Ordering::SeqCst);
    UC_CR2.store(0, Ordering::SeqCst);
}

fn count() -> usize {
    COUNT.load(Ordering::SeqCst)
}

fn info_i32(off: usize) -> i32 {
    let w = INFO[off / 8].load(Ordering::SeqCst);
    (if off.is_multiple_of(8) { w } else { w >> 32 }) as u32 as i32
}

fn info_u64(off: usize) -> u64 {
    INFO[off / 8].load(Ordering::SeqCst)
}

/// (si_signo, si_code, si_pid, si_uid) of the last recorded siginfo.
fn info_head() -> (i32, i32, i32, u32) {
    (info_i32(0), info_i32(8), info_i32(16), info_i32(20) as u32)
}

/// Records one delivery. Async-signal-safe: atomics and raw syscalls only; errno
/// is preserved.
fn record(sig: c_int, info: *const libc::siginfo_t) {
    let saved = errno();
    let n = COUNT.fetch_add(1, Ordering::SeqCst);
    LAST_SIG.store(sig, Ordering::SeqCst);
    HANDLER_TID.store(tid(), Ordering::SeqCst);
    HANDLER_MASK.store(cur_mask(), Ordering::SeqCst);
    if !info.is_null() {
        let words = info as *const u64;
        for (i, w) in INFO.iter().enumerate() {
            w.store(
                unsafe { std::ptr::read_volatile(words.add(i)) },
                Ordering::SeqCst,
            );
        }
        if n < VALUES.len() {
            VALUES[n].store(info_u64(24), Ordering::SeqCst);
        }
    }
    if n < SIGS.len() {
        SIGS[n].store(sig, Ordering::SeqCst);
    }
    unsafe { *libc::__errno_location() = saved };
}

extern "C" fn h_record(sig: c_int, info: *mut libc::siginfo_t, _uc: *mut c_void) {
    record(sig, info);
}

/// Records without any syscall (so nothing else can be delivered inside it).
extern "C" fn h_quiet(sig: c_int, info: *mut libc::siginfo_t, _uc: *mut c_void) {
    let n = COUNT.fetch_add(1, Ordering::SeqCst);
    if n < SIGS.len() {
        SIGS[n].store(sig, Ordering::SeqCst);
        if !info.is_null() {
            let v = unsafe { std::ptr::read_volatile((info as *const u64).add(3)) };
            VALUES[n].store(v, Ordering::SeqCst);
        }
    }
}

/// Raises its own signal again until it ran 3 times, counting the nesting depth.
extern "C" fn h_nest(sig: c_int, _info: *mut libc::siginfo_t, _uc: *mut c_void) {
    let saved = errno();
    let d = DEPTH.fetch_add(1, Ordering::SeqCst) + 1;
    MAX_DEPTH.fetch_max(d, Ordering::SeqCst);
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    if n == 1 {
        HANDLER_MASK.store(cur_mask(), Ordering::SeqCst);
    }
    if n < 3 {
        tgkill(pid(), tid(), sig);
    }
    DEPTH.fetch_sub(1, Ordering::SeqCst);
    unsafe { *libc::__errno_location() = saved };
}

// --- watchdog and helper threads --------------------------------------------

static WD_FIRED: AtomicBool = AtomicBool::new(false);

extern "C" fn h_watchdog(_sig: c_int, _info: *mut libc::siginfo_t, _uc: *mut c_void) {
    WD_FIRED.store(true, Ordering::SeqCst);
}

/// Interrupts the thread that created it with WD_SIG (handled, not SA_RESTART)
/// every 100 ms once `ms` have passed, until dropped.
struct Watchdog {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    _act: ActionGuard,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watchdog(ms: u64) -> Result<Watchdog, String> {
    WD_FIRED.store(false, Ordering::SeqCst);
    let act = install_handler(WD_SIG, h_watchdog, 0, 0)?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let (p, target) = (pid(), tid());
    let thread = spawn_quiet(0, move || {
        let start = Instant::now();
        while !stop2.load(Ordering::SeqCst) {
            if start.elapsed() >= Duration::from_millis(ms) {
                tgkill(p, target, WD_SIG);
                sleep_ms(100);
            } else {
                sleep_ms(5);
            }
        }
    })?;
    Ok(Watchdog {
        stop,
        thread: Some(thread),
        _act: act,
    })
}

fn wd_fired() -> bool {
    WD_FIRED.load(Ordering::SeqCst)
}

/// Spawns a thread that blocks every signal except `allow` (set inherited from
/// the creator, so no signal can reach it before it runs).
fn spawn_quiet<T: Send + 'static>(
    allow: u64,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<std::thread::JoinHandle<T>, String> {
    let all = !allow;
    let old = procmask(SIG_SETMASK, Some(all))?;
    let h = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .map_err(|e| format!("spawn: {e}"));
    procmask(SIG_SETMASK, Some(old))?;
    h
}

/// A thread that sends `sig` to the calling thread after `first_ms`, then every
/// `every_ms` until `done` is set (at most 50 times).
fn sender(
    sig: i32,
    first_ms: u64,
    every_ms: u64,
    done: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, String> {
    let (p, target) = (pid(), tid());
    spawn_quiet(0, move || {
        sleep_ms(first_ms);
        for _ in 0..50 {
            if done.load(Ordering::SeqCst) {
                break;
            }
            tgkill(p, target, sig);
            let deadline = Instant::now() + Duration::from_millis(every_ms);
            while Instant::now() < deadline && !done.load(Ordering::SeqCst) {
                sleep_ms(5);
            }
        }
    })
}

// --- children ------------------------------------------------------------------

/// Forks; the child runs `f` and `_exit`s with its result (99 if it panicked).
/// The child must only use raw syscalls and atomics.
fn fork_child(f: impl FnOnce() -> i32) -> Result<i32, String> {
    let p = unsafe { libc::fork() };
    if p < 0 {
        return Err(format!("fork failed with {}", errno_name(errno())));
    }
    if p == 0 {
        let code = std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or(99);
        unsafe { libc::_exit(code) };
    }
    Ok(p)
}

fn wait4(pid: i32, flags: c_int, status: &mut c_int) -> c_long {
    unsafe { syscall!(libc::SYS_wait4, pid, status as *mut c_int, flags, 0) }
}

/// Waits (polling with WNOHANG) for a state change of `pid` allowed by `flags`.
/// After `ms` the child is killed and reaped, and the wait fails.
fn wait_child(pid: i32, flags: c_int, ms: u64) -> Result<c_int, String> {
    let deadline = Instant::now() + Duration::from_millis(ms);
    loop {
        let mut st: c_int = 0;
        clear_errno();
        let r = wait4(pid, flags | libc::WNOHANG, &mut st);
        if r == pid as c_long {
            return Ok(st);
        }
        if r == -1 && errno() != libc::EINTR {
            return Err(format!("wait4({pid}) failed with {}", errno_name(errno())));
        }
        if r != 0 && r != -1 {
            return Err(format!("wait4({pid}) returned {r}"));
        }
        if Instant::now() > deadline {
            kill(pid as c_long, SIGKILL);
            let mut st2 = 0;
            wait4(pid, 0, &mut st2);
            return Err(format!("child {pid}: no state change within {ms} ms"));
        }
        sleep_ms(2);
    }
}

/// Runs `f` in a child and returns its wait status.
fn run_child(f: impl FnOnce() -> i32) -> Result<c_int, String> {
    let p = fork_child(f)?;
    wait_child(p, 0, 20_000)
}

fn expect_killed_by(what: &str, st: c_int, sig: i32) -> CheckResult {
    ensure!(
        libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == sig,
        "{what}: child {}, expected killed by signal {sig}",
        describe_status(st)
    );
    Ok(())
}

fn expect_exited(what: &str, st: c_int, code: i32) -> CheckResult {
    ensure!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == code,
        "{what}: child {}, expected exit {code}",
        describe_status(st)
    );
    Ok(())
}

/// In a child: the core-dumping signals must not write core files on the host.
fn no_core() {
    let lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe { syscall!(libc::SYS_setrlimit, libc::RLIMIT_CORE, &raw const lim) };
}

fn pipe() -> Result<(c_int, c_int), String> {
    let mut fds = [0 as c_int; 2];
    sys_ok("pipe2", || unsafe {
        syscall!(libc::SYS_pipe2, fds.as_mut_ptr(), libc::O_CLOEXEC)
    })?;
    Ok((fds[0], fds[1]))
}

fn close(fd: c_int) {
    unsafe { syscall!(libc::SYS_close, fd) };
}

// ---------------------------------------------------------------------------
// rt_sigaction.
// ---------------------------------------------------------------------------

fn sigaction_get_set() -> CheckResult {
    let before = get_action(SIGUSR1)?;
    ensure_eq!(before.handler, SIG_DFL, "SIGUSR1 handler at start");
    let new = act(
        haddr(h_record),
        SA_SIGINFO | SA_RESTART,
        bit(SIGUSR2) | bit(SIGKILL) | bit(SIGSTOP) | bit(RT_B),
    );
    let mut old = KSigaction::default();
    sys_ok("rt_sigaction(SIGUSR1, new, old)", || {
        raw_sigaction(SIGUSR1, &new, &raw mut old)
    })?;
    let guard = ActionGuard { sig: SIGUSR1, old };
    ensure_eq!(old, before, "old action returned when setting");
    let got = get_action(SIGUSR1)?;
    ensure_eq!(got.handler, new.handler, "handler read back");
    ensure_eq!(
        got.flags,
        SA_SIGINFO | SA_RESTART | SA_RESTORER,
        "flags read back"
    );
    ensure_eq!(got.restorer, restorer(), "restorer read back");
    ensure!(
        got.mask == bit(SIGUSR2) | bit(RT_B),
        "mask read back {} (SIGKILL/SIGSTOP must be dropped), expected {}",
        fmt_set(got.mask),
        fmt_set(bit(SIGUSR2) | bit(RT_B))
    );
    // SIG_IGN and SIG_DFL read back as such.
    for h in [SIG_IGN, SIG_DFL] {
        let a = act(h, 0, 0);
        sys_ok("rt_sigaction(SIGUSR1, SIG_IGN/DFL)", || {
            raw_sigaction(SIGUSR1, &a, std::ptr::null_mut())
        })?;
        ensure_eq!(get_action(SIGUSR1)?.handler, h, "handler read back");
    }
    // Both pointers NULL: a no-op that succeeds.
    ensure_eq!(
        raw_sigaction(SIGUSR1, std::ptr::null(), std::ptr::null_mut()),
        0,
        "rt_sigaction(SIGUSR1, NULL, NULL)"
    );
    // SIGKILL and SIGSTOP can be read (SIG_DFL).
    ensure_eq!(get_action(SIGKILL)?.handler, SIG_DFL, "SIGKILL action");
    ensure_eq!(get_action(SIGSTOP)?.handler, SIG_DFL, "SIGSTOP action");
    drop(guard);
    ensure_eq!(get_action(SIGUSR1)?, before, "action after restoring");
    Ok(())
}

fn sigaction_unknown_flags_cleared() -> CheckResult {
    // Linux >= 5.11 clears flag bits it does not know (SA_UNSUPPORTED is never
    // known), so that programs can detect support.
    let new = act(haddr(h_record), SA_SIGINFO | SA_UNSUPPORTED, 0);
    let mut old = KSigaction::default();
    sys_ok("rt_sigaction(SIGUSR1, SA_UNSUPPORTED)", || {
        raw_sigaction(SIGUSR1, &new, &raw mut old)
    })?;
    let _guard = ActionGuard { sig: SIGUSR1, old };
    let got = get_action(SIGUSR1)?;
    ensure_eq!(
        got.flags,
        SA_SIGINFO | SA_RESTORER,
        "flags read back after setting SA_SIGINFO|SA_RESTORER|SA_UNSUPPORTED"
    );
    Ok(())
}

fn sigaction_einval() -> CheckResult {
    let a = act(haddr(h_record), SA_SIGINFO, 0);
    let mut old = KSigaction::default();
    for sig in [SIGKILL, SIGSTOP] {
        for h in [haddr(h_record), SIG_IGN, SIG_DFL] {
            let a = act(h, 0, 0);
            expect_sys_errno(
                &format!("rt_sigaction({sig}, handler {h:#x})"),
                || raw_sigaction(sig, &a, std::ptr::null_mut()),
                libc::EINVAL,
            )?;
        }
    }
    for sig in [0, 65, -1, 1000] {
        expect_sys_errno(
            &format!("rt_sigaction({sig}, act)"),
            || raw_sigaction(sig, &a, std::ptr::null_mut()),
            libc::EINVAL,
        )?;
        expect_sys_errno(
            &format!("rt_sigaction({sig}, NULL, &old)"),
            || raw_sigaction(sig, std::ptr::null(), &raw mut old),
            libc::EINVAL,
        )?;
    }
    for size in [0, 4, 16] {
        expect_sys_errno(
            &format!("rt_sigaction(SIGUSR1, .., sigsetsize {size})"),
            || unsafe {
                syscall!(
                    libc::SYS_rt_sigaction,
                    SIGUSR1,
                    &raw const a,
                    &raw mut old,
                    size
                )
            },
            libc::EINVAL,
        )?;
    }
    ensure_eq!(
        get_action(SIGUSR1)?.handler,
        SIG_DFL,
        "SIGUSR1 after the failed calls"
    );
    expect_sys_errno(
        "rt_sigaction(SIGUSR1, 0x1, NULL)",
        || {
            raw_sigaction(
                SIGUSR1,
                std::ptr::without_provenance(1),
                std::ptr::null_mut(),
            )
        },
        libc::EFAULT,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// siginfo.
// ---------------------------------------------------------------------------

fn siginfo_kill_si_user() -> CheckResult {
    let _a = install_handler(SIGUSR1, h_record, 0, 0)?;
    sys_ok("kill(getpid(), SIGUSR1)", || kill(pid() as c_long, SIGUSR1))?;
    ensure_eq!(count(), 1, "handler runs before kill() returns");
    ensure_eq!(
        info_head(),
        (SIGUSR1, SI_USER, pid(), uid()),
        "(si_signo, si_code, si_pid, si_uid)"
    );
    ensure_eq!(info_i32(4), 0, "si_errno");
    ensure_eq!(HANDLER_TID.load(Ordering::SeqCst), tid(), "handler thread");
    Ok(())
}

fn siginfo_tgkill_tkill_si_tkill() -> CheckResult {
    let _a = install_handler(SIGUSR2, h_record, 0, 0)?;
    raise(SIGUSR2)?;
    ensure_eq!(count(), 1, "handler runs before tgkill() returns");
    ensure_eq!(
        info_head(),
        (SIGUSR2, SI_TKILL, pid(), uid()),
        "tgkill: (si_signo, si_code, si_pid, si_uid)"
    );
    reset_records();
    sys_ok("tkill(gettid(), SIGUSR2)", || unsafe {
        syscall!(libc::SYS_tkill, tid(), SIGUSR2)
    })?;
    ensure_eq!(count(), 1, "handler runs before tkill() returns");
    ensure_eq!(
        info_head(),
        (SIGUSR2, SI_TKILL, pid(), uid()),
        "tkill: (si_signo, si_code, si_pid, si_uid)"
    );
    Ok(())
}

/// A siginfo for rt_sigqueueinfo: what sigqueue(3) builds.
fn queue_info(sig: i32, code: i32, value: u64) -> [u64; 16] {
    let mut w = [0u64; 16];
    w[0] = sig as u32 as u64; // si_signo, si_errno = 0
    w[1] = code as u32 as u64;
    w[2] = (pid() as u32 as u64) | ((uid() as u64) << 32);
    w[3] = value;
    w
}

fn sigqueue(pid: i32, sig: i32, value: u64) -> c_long {
    let info = queue_info(sig, SI_QUEUE, value);
    unsafe { syscall!(libc::SYS_rt_sigqueueinfo, pid, sig, info.as_ptr()) }
}

fn siginfo_sigqueue_si_value() -> CheckResult {
    for (sig, value) in [(SIGUSR1, 0x1234_5678_9abc_def0u64), (RT_A, 42)] {
        reset_records();
        let _a = install_handler(sig, h_record, 0, 0)?;
        sys_ok(&format!("rt_sigqueueinfo(self, {sig})"), || {
            sigqueue(pid(), sig, value)
        })?;
        ensure_eq!(
            count(),
            1,
            "signal {sig}: handler runs before the call returns"
        );
        ensure_eq!(
            info_head(),
            (sig, SI_QUEUE, pid(), uid()),
            "signal {sig}: (si_signo, si_code, si_pid, si_uid)"
        );
        ensure_eq!(info_u64(24), value, "signal {sig}: si_value");
    }
    // rt_tgsigqueueinfo to the own thread.
    reset_records();
    let _a = install_handler(RT_B, h_record, 0, 0)?;
    let info = queue_info(RT_B, SI_QUEUE, 7);
    sys_ok("rt_tgsigqueueinfo(self, self)", || unsafe {
        syscall!(
            libc::SYS_rt_tgsigqueueinfo,
            pid(),
            tid(),
            RT_B,
            info.as_ptr()
        )
    })?;
    ensure_eq!(count(), 1, "rt_tgsigqueueinfo: handler ran");
    ensure_eq!(
        (info_i32(0), info_i32(8), info_u64(24)),
        (RT_B, SI_QUEUE, 7),
        "rt_tgsigqueueinfo: (si_signo, si_code, si_value)"
    );
    Ok(())
}

fn sigqueueinfo_forged_code_eperm() -> CheckResult {
    // Another process may not be sent an siginfo that claims to come from kill()
    // (si_code >= 0) or tkill (SI_TKILL).
    let (r, w) = pipe()?;
    let child = fork_child(|| {
        let mut b = [0u8; 1];
        unsafe { syscall!(libc::SYS_read, r, b.as_mut_ptr(), 1) };
        0
    })?;
    let res = (|| -> CheckResult {
        for code in [SI_USER, SI_KERNEL, SI_TKILL] {
            let info = queue_info(SIGUSR1, code, 1);
            expect_sys_errno(
                &format!("rt_sigqueueinfo(child, SIGUSR1, si_code {code})"),
                || unsafe { syscall!(libc::SYS_rt_sigqueueinfo, child, SIGUSR1, info.as_ptr()) },
                libc::EPERM,
            )?;
        }
        // SI_QUEUE to a process that does not exist.
        expect_sys_errno(
            "rt_sigqueueinfo(no such pid, SI_QUEUE)",
            || {
                let info = queue_info(SIGUSR1, SI_QUEUE, 1);
                unsafe { syscall!(libc::SYS_rt_sigqueueinfo, NO_PID, SIGUSR1, info.as_ptr()) }
            },
            libc::ESRCH,
        )?;
        Ok(())
    })();
    unsafe { syscall!(libc::SYS_write, w, b"x".as_ptr(), 1) };
    close(r);
    close(w);
    let st = wait_child(child, 0, 20_000)?;
    res?;
    expect_exited("child", st, 0)
}

// ---------------------------------------------------------------------------
// Handler flags.
// ---------------------------------------------------------------------------

fn sa_resethand() -> CheckResult {
    let st = run_child(|| {
        if install_handler(SIGUSR1, h_record, SA_RESETHAND, 0)
            .map(std::mem::forget)
            .is_err()
        {
            return 10;
        }
        if raise(SIGUSR1).is_err() {
            return 11;
        }
        if count() != 1 {
            return 12;
        }
        match get_action(SIGUSR1) {
            Ok(a) if a.handler == SIG_DFL => {}
            _ => return 13,
        }
        let _ = raise(SIGUSR1); // default action: terminate
        14
    })?;
    ensure!(
        !libc::WIFEXITED(st),
        "child {} (10: install, 11: raise, 12: handler count, 13: not reset to SIG_DFL, 14: survived the second signal)",
        describe_status(st)
    );
    expect_killed_by("second SIGUSR1", st, SIGUSR1)
}

fn sa_nodefer_nests() -> CheckResult {
    let _a = install(SIGUSR1, haddr(h_nest), SA_NODEFER, bit(SIGUSR2))?;
    let mask = cur_mask();
    raise(SIGUSR1)?;
    ensure_eq!(count(), 3, "handler invocations");
    ensure_eq!(MAX_DEPTH.load(Ordering::SeqCst), 3, "maximum nesting depth");
    let hm = HANDLER_MASK.load(Ordering::SeqCst);
    ensure!(
        hm == mask | bit(SIGUSR2),
        "mask in a SA_NODEFER handler {}, expected {} (sa_mask added, the signal not blocked)",
        fmt_set(hm),
        fmt_set(mask | bit(SIGUSR2))
    );
    Ok(())
}

fn handler_blocks_own_signal() -> CheckResult {
    let _a = install(SIGUSR1, haddr(h_nest), 0, 0)?;
    let mask = cur_mask();
    raise(SIGUSR1)?;
    ensure_eq!(
        count(),
        3,
        "handler invocations (each raise delivered after the handler returned)"
    );
    ensure_eq!(
        MAX_DEPTH.load(Ordering::SeqCst),
        1,
        "maximum nesting depth without SA_NODEFER"
    );
    let hm = HANDLER_MASK.load(Ordering::SeqCst);
    ensure!(
        hm == mask | bit(SIGUSR1),
        "mask in the handler {}, expected {}",
        fmt_set(hm),
        fmt_set(mask | bit(SIGUSR1))
    );
    ensure_eq!(cur_mask(), mask, "mask after the handler returned");
    Ok(())
}

fn sa_mask_added_in_handler() -> CheckResult {
    let extra = bit(SIGUSR2) | bit(RT_B) | bit(SIGKILL);
    let _a = install_handler(SIGUSR1, h_record, 0, extra)?;
    let mask = cur_mask();
    raise(SIGUSR1)?;
    ensure_eq!(count(), 1, "handler invocations");
    let want = mask | bit(SIGUSR1) | bit(SIGUSR2) | bit(RT_B);
    let hm = HANDLER_MASK.load(Ordering::SeqCst);
    ensure!(
        hm == want,
        "mask in the handler {}, expected {}",
        fmt_set(hm),
        fmt_set(want)
    );
    ensure_eq!(cur_mask(), mask, "mask after the handler returned");
    Ok(())
}

// ---------------------------------------------------------------------------
// sigaltstack.
// ---------------------------------------------------------------------------

fn sigaltstack(new: Option<&libc::stack_t>, old: Option<&mut libc::stack_t>) -> c_long {
    let n = new.map_or(std::ptr::null(), |s| s as *const libc::stack_t);
    let o = old.map_or(std::ptr::null_mut(), |s| s as *mut libc::stack_t);
    unsafe { syscall!(libc::SYS_sigaltstack, n, o) }
}

fn get_altstack() -> Result<libc::stack_t, String> {
    let mut ss: libc::stack_t = unsafe { std::mem::zeroed() };
    sys_ok("sigaltstack(NULL, &old)", || {
        sigaltstack(None, Some(&mut ss))
    })?;
    Ok(ss)
}

fn fmt_stack(s: &libc::stack_t) -> String {
    format!(
        "{{sp {:#x}, flags {}, size {:#x}}}",
        s.ss_sp as usize, s.ss_flags, s.ss_size
    )
}

/// Restores the alternate stack it saved when dropped.
struct AltGuard(libc::stack_t);

impl Drop for AltGuard {
    fn drop(&mut self) {
        let mut s = self.0;
        if s.ss_flags & SS_DISABLE != 0 {
            s.ss_flags = SS_DISABLE;
        } else {
            s.ss_flags = 0;
        }
        sigaltstack(Some(&s), None);
    }
}

extern "C" fn h_alt(sig: c_int, info: *mut libc::siginfo_t, _uc: *mut c_void) {
    let local = 0u64;
    LOCAL_ADDR.store(
        std::hint::black_box(&local) as *const u64 as u64,
        Ordering::SeqCst,
    );
    let saved = errno();
    let mut cur: libc::stack_t = unsafe { std::mem::zeroed() };
    if sigaltstack(None, Some(&mut cur)) == 0 {
        ALT_FLAGS.store(cur.ss_flags, Ordering::SeqCst);
    }
    // Changing the alternate stack while running on it: EPERM.
    let other = libc::stack_t {
        ss_sp: cur.ss_sp,
        ss_flags: 0,
        ss_size: cur.ss_size / 2,
    };
    clear_errno();
    ALT_SET_RET.store(sigaltstack(Some(&other), None) as i64, Ordering::SeqCst);
    ALT_SET_ERRNO.store(errno(), Ordering::SeqCst);
    unsafe { *libc::__errno_location() = saved };
    record(sig, info);
}

fn mmap_anon(len: usize, prot: c_int) -> Result<usize, String> {
    let p = sys_ok("mmap", || unsafe {
        syscall!(
            libc::SYS_mmap,
            0,
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0
        )
    })?;
    Ok(p as usize)
}

fn munmap(p: usize, len: usize) {
    unsafe { syscall!(libc::SYS_munmap, p, len) };
}

fn sigaltstack_onstack() -> CheckResult {
    const LEN: usize = 64 * 1024;
    let saved = get_altstack()?;
    let _alt = AltGuard(saved);
    let mem = mmap_anon(LEN, libc::PROT_READ | libc::PROT_WRITE)?;
    let res = (|| {
        let ss = libc::stack_t {
            ss_sp: mem as *mut c_void,
            ss_flags: 0,
            ss_size: LEN,
        };
        let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
        sys_ok("sigaltstack(new, &old)", || {
            sigaltstack(Some(&ss), Some(&mut old))
        })?;
        ensure!(
            old.ss_sp == saved.ss_sp
                && old.ss_size == saved.ss_size
                && old.ss_flags == saved.ss_flags,
            "old stack {} returned when setting, but read {} before",
            fmt_stack(&old),
            fmt_stack(&saved)
        );
        let now = get_altstack()?;
        ensure!(
            now.ss_sp as usize == mem && now.ss_size == LEN && now.ss_flags == 0,
            "read back {}, expected {{sp {mem:#x}, flags 0, size {LEN:#x}}}",
            fmt_stack(&now)
        );
        let _a = install_handler(SIGUSR1, h_alt, SA_ONSTACK, 0)?;
        raise(SIGUSR1)?;
        ensure_eq!(count(), 1, "handler invocations");
        let local = LOCAL_ADDR.load(Ordering::SeqCst) as usize;
        ensure!(
            local >= mem && local < mem + LEN,
            "a local of the SA_ONSTACK handler is at {local:#x}, outside the alternate stack {mem:#x}..{:#x}",
            mem + LEN
        );
        ensure_eq!(
            ALT_FLAGS.load(Ordering::SeqCst),
            SS_ONSTACK,
            "ss_flags reported inside the handler"
        );
        ensure_eq!(
            (
                ALT_SET_RET.load(Ordering::SeqCst),
                ALT_SET_ERRNO.load(Ordering::SeqCst)
            ),
            (-1, libc::EPERM),
            "(return, errno) of sigaltstack(new) on the alternate stack"
        );
        ensure_eq!(
            get_altstack()?.ss_flags,
            0,
            "ss_flags after the handler returned"
        );
        // Without SA_ONSTACK the handler runs on the normal stack.
        reset_records();
        let _b = install_handler(SIGUSR2, h_alt, 0, 0)?;
        raise(SIGUSR2)?;
        let local = LOCAL_ADDR.load(Ordering::SeqCst) as usize;
        ensure!(
            count() == 1 && !(local >= mem && local < mem + LEN),
            "a handler without SA_ONSTACK ran on the alternate stack (local at {local:#x})"
        );
        ensure_eq!(
            ALT_FLAGS.load(Ordering::SeqCst),
            0,
            "ss_flags in a handler on the normal stack"
        );
        Ok(())
    })();
    drop(_alt);
    munmap(mem, LEN);
    res
}

fn sigaltstack_errors_and_disable() -> CheckResult {
    const LEN: usize = 64 * 1024;
    let saved = get_altstack()?;
    let _alt = AltGuard(saved);
    let mem = mmap_anon(LEN, libc::PROT_READ | libc::PROT_WRITE)?;
    let res = (|| {
        let small = libc::stack_t {
            ss_sp: mem as *mut c_void,
            ss_flags: 0,
            ss_size: 1024,
        };
        expect_sys_errno(
            "sigaltstack(size 1024 < MINSIGSTKSZ)",
            || sigaltstack(Some(&small), None),
            libc::ENOMEM,
        )?;
        let bad = libc::stack_t {
            ss_sp: mem as *mut c_void,
            ss_flags: 5,
            ss_size: LEN,
        };
        expect_sys_errno(
            "sigaltstack(flags 5)",
            || sigaltstack(Some(&bad), None),
            libc::EINVAL,
        )?;
        expect_sys_errno(
            "sigaltstack(0x1, NULL)",
            || unsafe { syscall!(libc::SYS_sigaltstack, 1, 0) },
            libc::EFAULT,
        )?;
        // Disable: reads back as {NULL, SS_DISABLE, 0}; SA_ONSTACK then uses the
        // normal stack.
        let ss = libc::stack_t {
            ss_sp: mem as *mut c_void,
            ss_flags: 0,
            ss_size: LEN,
        };
        sys_ok("sigaltstack(set)", || sigaltstack(Some(&ss), None))?;
        let dis = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: SS_DISABLE,
            ss_size: 0,
        };
        let mut old: libc::stack_t = unsafe { std::mem::zeroed() };
        sys_ok("sigaltstack(SS_DISABLE)", || {
            sigaltstack(Some(&dis), Some(&mut old))
        })?;
        ensure!(
            old.ss_sp as usize == mem && old.ss_size == LEN && old.ss_flags == 0,
            "old stack returned by SS_DISABLE: {}",
            fmt_stack(&old)
        );
        let now = get_altstack()?;
        ensure!(
            now.ss_sp.is_null() && now.ss_size == 0 && now.ss_flags == SS_DISABLE,
            "after SS_DISABLE: {}, expected {{sp 0x0, flags 2, size 0x0}}",
            fmt_stack(&now)
        );
        let _a = install_handler(SIGUSR1, h_alt, SA_ONSTACK, 0)?;
        raise(SIGUSR1)?;
        let local = LOCAL_ADDR.load(Ordering::SeqCst) as usize;
        ensure!(
            count() == 1 && !(local >= mem && local < mem + LEN),
            "SA_ONSTACK handler with the alternate stack disabled: count {}, local at {local:#x}",
            count()
        );
        ensure_eq!(
            ALT_FLAGS.load(Ordering::SeqCst),
            SS_DISABLE,
            "ss_flags inside a handler with the alternate stack disabled"
        );
        Ok(())
    })();
    drop(_alt);
    munmap(mem, LEN);
    res
}

// ---------------------------------------------------------------------------
// Masks and pending signals.
// ---------------------------------------------------------------------------

fn sigprocmask_ops() -> CheckResult {
    let orig = cur_mask();
    let _g = MaskGuard(orig);
    let u1 = bit(SIGUSR1);
    let u2 = bit(SIGUSR2);
    ensure_eq!(
        procmask(SIG_BLOCK, Some(u1))?,
        orig,
        "old mask from SIG_BLOCK"
    );
    ensure_eq!(cur_mask(), orig | u1, "after SIG_BLOCK {{USR1}}");
    ensure_eq!(
        procmask(SIG_BLOCK, Some(u2))?,
        orig | u1,
        "old mask from the second SIG_BLOCK"
    );
    ensure_eq!(cur_mask(), orig | u1 | u2, "after SIG_BLOCK {{USR2}}");
    procmask(SIG_UNBLOCK, Some(u1))?;
    ensure_eq!(cur_mask(), orig | u2, "after SIG_UNBLOCK {{USR1}}");
    procmask(SIG_SETMASK, Some(bit(RT_B) | bit(64)))?;
    ensure_eq!(
        cur_mask(),
        bit(RT_B) | bit(64),
        "after SIG_SETMASK {{40, 64}}"
    );
    // A NULL set leaves the mask alone, whatever `how` says.
    let mut old = 0u64;
    ensure_eq!(
        unsafe { syscall!(libc::SYS_rt_sigprocmask, 99, 0, &raw mut old, 8) },
        0,
        "rt_sigprocmask(99, NULL, &old)"
    );
    ensure_eq!(
        old,
        bit(RT_B) | bit(64),
        "old mask from rt_sigprocmask(99, NULL)"
    );
    Ok(())
}

fn sigprocmask_errors() -> CheckResult {
    let orig = cur_mask();
    let _g = MaskGuard(orig);
    let set = bit(SIGUSR1);
    let mut old = 0u64;
    for how in [3 as c_long, -1, 99] {
        expect_sys_errno(
            &format!("rt_sigprocmask({how}, {{USR1}})"),
            || unsafe {
                syscall!(
                    libc::SYS_rt_sigprocmask,
                    how,
                    &raw const set,
                    &raw mut old,
                    8
                )
            },
            libc::EINVAL,
        )?;
    }
    for size in [0, 4, 16] {
        expect_sys_errno(
            &format!("rt_sigprocmask(SIG_BLOCK, .., sigsetsize {size})"),
            || unsafe {
                syscall!(
                    libc::SYS_rt_sigprocmask,
                    SIG_BLOCK,
                    &raw const set,
                    &raw mut old,
                    size
                )
            },
            libc::EINVAL,
        )?;
    }
    expect_sys_errno(
        "rt_sigprocmask(SIG_BLOCK, 0x1)",
        || unsafe { syscall!(libc::SYS_rt_sigprocmask, SIG_BLOCK, 1, 0, 8) },
        libc::EFAULT,
    )?;
    ensure_eq!(cur_mask(), orig, "mask after the failed calls");
    Ok(())
}

fn sigkill_sigstop_not_blockable() -> CheckResult {
    let orig = cur_mask();
    let _g = MaskGuard(orig);
    procmask(SIG_SETMASK, Some(!0u64))?;
    let m = cur_mask();
    ensure!(
        m == !(bit(SIGKILL) | bit(SIGSTOP)),
        "SIG_SETMASK all: read back {} (SIGKILL/SIGSTOP must be missing)",
        fmt_set(!m)
    );
    procmask(SIG_SETMASK, Some(0))?;
    procmask(SIG_BLOCK, Some(bit(SIGKILL) | bit(SIGSTOP) | bit(SIGUSR1)))?;
    ensure_eq!(cur_mask(), bit(SIGUSR1), "SIG_BLOCK {{KILL, STOP, USR1}}");
    Ok(())
}

fn sigpending_and_unblock() -> CheckResult {
    let _a1 = install_handler(SIGUSR1, h_record, 0, 0)?;
    let _a2 = install_handler(SIGUSR2, h_record, 0, 0)?;
    let _a3 = install_handler(RT_B, h_record, 0, 0)?;
    let set = bit(SIGUSR1) | bit(SIGUSR2) | bit(RT_B);
    let g = block(set)?;
    raise(SIGUSR1)?; // thread-directed
    sys_ok("kill(self, SIGUSR2)", || kill(pid() as c_long, SIGUSR2))?; // process-directed
    sys_ok("rt_sigqueueinfo(self, 40)", || sigqueue(pid(), RT_B, 5))?;
    ensure_eq!(count(), 0, "handlers run while blocked");
    let p = pending()?;
    ensure!(
        p == set,
        "rt_sigpending {} while blocked, expected {}",
        fmt_set(p),
        fmt_set(set)
    );
    expect_sys_errno(
        "rt_sigpending(sigsetsize 16)",
        || {
            let mut s = [0u64; 2];
            unsafe { syscall!(libc::SYS_rt_sigpending, s.as_mut_ptr(), 16) }
        },
        libc::EINVAL,
    )?;
    drop(g); // unblock: all three are delivered before rt_sigprocmask returns
    ensure_eq!(count(), 3, "handlers run after unblocking");
    ensure_eq!(pending()?, 0, "rt_sigpending after delivery");
    Ok(())
}

fn pending_delivery_order() -> CheckResult {
    // The handler blocks all three, so there is no nesting: deliveries go lowest
    // number first.
    let set = bit(SIGUSR2) | bit(RT_A) | bit(RT_B);
    let _a1 = install(SIGUSR2, haddr(h_quiet), SA_SIGINFO, set)?;
    let _a2 = install(RT_A, haddr(h_quiet), SA_SIGINFO, set)?;
    let _a3 = install(RT_B, haddr(h_quiet), SA_SIGINFO, set)?;
    let g = block(set)?;
    sys_ok("sigqueue(40)", || sigqueue(pid(), RT_B, 1))?;
    sys_ok("sigqueue(38)", || sigqueue(pid(), RT_A, 2))?;
    raise(SIGUSR2)?;
    drop(g);
    let got: Vec<i32> = SIGS[..count().min(16)]
        .iter()
        .map(|s| s.load(Ordering::SeqCst))
        .collect();
    ensure_eq!(got, vec![SIGUSR2, RT_A, RT_B], "delivery order");
    Ok(())
}

fn sig_ign_discards_pending() -> CheckResult {
    let _a = install_handler(SIGUSR1, h_record, 0, 0)?;
    let g = block(bit(SIGUSR1))?;
    raise(SIGUSR1)?;
    ensure_eq!(pending()?, bit(SIGUSR1), "pending before SIG_IGN");
    let ign = act(SIG_IGN, 0, 0);
    sys_ok("rt_sigaction(SIGUSR1, SIG_IGN)", || {
        raw_sigaction(SIGUSR1, &ign, std::ptr::null_mut())
    })?;
    ensure_eq!(pending()?, 0, "pending after setting SIG_IGN");
    let h = act(haddr(h_record), SA_SIGINFO, 0);
    raw_sigaction(SIGUSR1, &h, std::ptr::null_mut());
    drop(g);
    ensure_eq!(
        count(),
        0,
        "handler runs after unblocking a discarded signal"
    );
    Ok(())
}

fn blocked_ignored_signal_stays_pending() -> CheckResult {
    // Linux never treats a blocked signal as ignored: it is queued, and dropped
    // only when it is unblocked while still ignored.
    let _a = install(SIGUSR1, SIG_IGN, 0, 0)?;
    let g = block(bit(SIGUSR1))?;
    raise(SIGUSR1)?;
    let p = pending()?;
    drop(g);
    ensure_eq!(
        p,
        bit(SIGUSR1),
        "pending set after raising a blocked, ignored signal"
    );
    ensure_eq!(pending()?, 0, "pending after unblocking it");
    Ok(())
}

// ---------------------------------------------------------------------------
// Waiting for signals.
// ---------------------------------------------------------------------------

fn sigsuspend(mask: u64) -> (c_long, i32) {
    clear_errno();
    let r = unsafe { syscall!(libc::SYS_rt_sigsuspend, &raw const mask, 8) };
    (r, errno())
}

fn sigsuspend_pending() -> CheckResult {
    let _a = install_handler(SIGUSR1, h_record, 0, 0)?;
    let _g = block(bit(SIGUSR1))?;
    let before = cur_mask();
    raise(SIGUSR1)?;
    ensure_eq!(count(), 0, "handler ran while blocked");
    let wd = watchdog(5000)?;
    let temp = (before & !bit(SIGUSR1)) | bit(SIGUSR2);
    let (r, e) = sigsuspend(temp);
    drop(wd);
    ensure!(
        !wd_fired(),
        "rt_sigsuspend did not return for a pending signal within 5 s"
    );
    ensure_eq!((r, e), (-1, libc::EINTR), "rt_sigsuspend (return, errno)");
    ensure_eq!(count(), 1, "handler invocations");
    let hm = HANDLER_MASK.load(Ordering::SeqCst);
    ensure!(
        hm == temp | bit(SIGUSR1),
        "mask in the handler {}, expected the suspend mask plus the signal {}",
        fmt_set(hm),
        fmt_set(temp | bit(SIGUSR1))
    );
    ensure_eq!(cur_mask(), before, "mask after rt_sigsuspend");
    expect_sys_errno(
        "rt_sigsuspend(sigsetsize 4)",
        || unsafe { syscall!(libc::SYS_rt_sigsuspend, &raw const temp, 4) },
        libc::EINVAL,
    )?;
    Ok(())
}

fn sigsuspend_waits() -> CheckResult {
    let _a = install_handler(SIGUSR1, h_record, 0, 0)?;
    let _g = block(bit(SIGUSR1))?;
    let before = cur_mask();
    let done = Arc::new(AtomicBool::new(false));
    let wd = watchdog(5000)?;
    let s = sender(SIGUSR1, 100, 1000, done.clone())?;
    let (r, e) = sigsuspend(before & !bit(SIGUSR1));
    done.store(true, Ordering::SeqCst);
    join(s)?;
    drop(wd);
    ensure!(
        !wd_fired(),
        "rt_sigsuspend not woken by a signal sent 100 ms later (5 s)"
    );
    ensure_eq!((r, e), (-1, libc::EINTR), "rt_sigsuspend (return, errno)");
    ensure_eq!(
        (count(), LAST_SIG.load(Ordering::SeqCst)),
        (1, SIGUSR1),
        "(handler invocations, signal)"
    );
    ensure_eq!(cur_mask(), before, "mask after rt_sigsuspend");
    Ok(())
}

fn pause_eintr() -> CheckResult {
    let _a = install_handler(SIGUSR1, h_record, SA_RESTART, 0)?;
    let done = Arc::new(AtomicBool::new(false));
    let wd = watchdog(5000)?;
    let s = sender(SIGUSR1, 100, 1000, done.clone())?;
    clear_errno();
    let r = unsafe { syscall!(libc::SYS_pause) };
    let e = errno();
    done.store(true, Ordering::SeqCst);
    join(s)?;
    drop(wd);
    ensure!(
        !wd_fired(),
        "pause not woken by a signal sent 100 ms later (5 s)"
    );
    ensure_eq!(
        (r, e),
        (-1, libc::EINTR),
        "pause (return, errno), even with SA_RESTART"
    );
    ensure_eq!(LAST_SIG.load(Ordering::SeqCst), SIGUSR1, "signal handled");
    Ok(())
}

fn sigtimedwait(set: u64, info: *mut u64, timeout: Option<&libc::timespec>) -> (c_long, i32) {
    let t = timeout.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    clear_errno();
    let r = unsafe { syscall!(libc::SYS_rt_sigtimedwait, &raw const set, info, t, 8) };
    (r, errno())
}

const ZERO: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

fn sigtimedwait_pending() -> CheckResult {
    let set = bit(SIGUSR1) | bit(SIGUSR2) | bit(RT_B);
    let _g = block(set)?;
    raise(SIGUSR1)?;
    let mut info = [0u64; 16];
    let (r, e) = sigtimedwait(bit(SIGUSR1) | bit(SIGUSR2), info.as_mut_ptr(), Some(&ZERO));
    ensure_eq!(
        (r, e),
        (SIGUSR1 as c_long, 0),
        "rt_sigtimedwait (return, errno)"
    );
    let w = |off: usize| -> i32 { (info[off / 8] >> (32 * (off % 8 / 4))) as u32 as i32 };
    ensure_eq!(
        (w(0), w(8), w(16), w(20) as u32),
        (SIGUSR1, SI_TKILL, pid(), uid()),
        "siginfo (si_signo, si_code, si_pid, si_uid)"
    );
    ensure_eq!(
        pending()?,
        0,
        "pending after rt_sigtimedwait took the signal"
    );
    // A queued real-time signal with its value; NULL info is allowed.
    sys_ok("sigqueue(40)", || sigqueue(pid(), RT_B, 0xfeed))?;
    let mut info = [0u64; 16];
    let (r, _) = sigtimedwait(bit(RT_B), info.as_mut_ptr(), Some(&ZERO));
    ensure_eq!(r, RT_B as c_long, "rt_sigtimedwait for a queued signal 40");
    ensure_eq!(
        (w_of(&info, 8), info[3]),
        (SI_QUEUE, 0xfeed),
        "(si_code, si_value)"
    );
    sys_ok("kill(self, SIGUSR2)", || kill(pid() as c_long, SIGUSR2))?;
    let (r, _) = sigtimedwait(set, std::ptr::null_mut(), Some(&ZERO));
    ensure_eq!(
        r,
        SIGUSR2 as c_long,
        "rt_sigtimedwait(info NULL) for a process-directed SIGUSR2"
    );
    ensure_eq!(pending()?, 0, "pending at the end");
    Ok(())
}

fn w_of(info: &[u64; 16], off: usize) -> i32 {
    (info[off / 8] >> (32 * (off % 8 / 4))) as u32 as i32
}

fn sigtimedwait_timeouts() -> CheckResult {
    let _g = block(bit(SIGUSR1))?;
    let (r, e) = sigtimedwait(bit(SIGUSR1), std::ptr::null_mut(), Some(&ZERO));
    ensure_eq!(
        (r, e),
        (-1, libc::EAGAIN),
        "rt_sigtimedwait(timeout 0), nothing pending"
    );
    let t50 = libc::timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    };
    let t0 = mono_ns();
    let (r, e) = sigtimedwait(bit(SIGUSR1), std::ptr::null_mut(), Some(&t50));
    let elapsed = mono_ns() - t0;
    ensure_eq!(
        (r, e),
        (-1, libc::EAGAIN),
        "rt_sigtimedwait(timeout 50 ms), nothing pending"
    );
    ensure!(
        elapsed >= 50_000_000,
        "rt_sigtimedwait(50 ms) returned after {elapsed} ns"
    );
    ensure!(
        elapsed < 10_000_000_000,
        "rt_sigtimedwait(50 ms) took {elapsed} ns"
    );
    Ok(())
}

fn sigtimedwait_wakes() -> CheckResult {
    let _g = block(bit(SIGUSR1))?;
    let done = Arc::new(AtomicBool::new(false));
    let wd = watchdog(5000)?;
    let s = sender(SIGUSR1, 100, 2000, done.clone())?;
    let mut info = [0u64; 16];
    let (r, e) = sigtimedwait(bit(SIGUSR1), info.as_mut_ptr(), None);
    done.store(true, Ordering::SeqCst);
    join(s)?;
    drop(wd);
    ensure!(
        !wd_fired(),
        "rt_sigtimedwait(no timeout) not woken by a signal sent 100 ms later (5 s)"
    );
    ensure_eq!(
        (r, e),
        (SIGUSR1 as c_long, 0),
        "rt_sigtimedwait (return, errno)"
    );
    ensure_eq!(
        (w_of(&info, 0), w_of(&info, 8), w_of(&info, 16)),
        (SIGUSR1, SI_TKILL, pid()),
        "(si_signo, si_code, si_pid)"
    );
    ensure_eq!(pending()?, 0, "pending at the end");
    Ok(())
}

fn sigtimedwait_eintr() -> CheckResult {
    let _a = install_handler(SIGUSR2, h_record, SA_RESTART, 0)?;
    let _g = block(bit(SIGUSR1))?;
    let done = Arc::new(AtomicBool::new(false));
    let s = sender(SIGUSR2, 100, 1000, done.clone())?;
    let t = libc::timespec {
        tv_sec: 10,
        tv_nsec: 0,
    };
    let t0 = mono_ns();
    let (r, e) = sigtimedwait(bit(SIGUSR1), std::ptr::null_mut(), Some(&t));
    let elapsed = mono_ns() - t0;
    done.store(true, Ordering::SeqCst);
    join(s)?;
    ensure_eq!(
        (r, e),
        (-1, libc::EINTR),
        "rt_sigtimedwait({{USR1}}) interrupted by a handled SIGUSR2 (after {elapsed} ns)"
    );
    ensure_eq!(LAST_SIG.load(Ordering::SeqCst), SIGUSR2, "handled signal");
    Ok(())
}

fn sigtimedwait_einval() -> CheckResult {
    let _g = block(bit(SIGUSR1))?;
    for (sec, nsec) in [(0, 1_000_000_000), (0, -1), (-1, 0)] {
        let t = libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        };
        let (r, e) = sigtimedwait(bit(SIGUSR1), std::ptr::null_mut(), Some(&t));
        ensure_eq!(
            (r, e),
            (-1, libc::EINVAL),
            "rt_sigtimedwait(timeout {{{sec}, {nsec}}})"
        );
    }
    let set = bit(SIGUSR1);
    let zero = ZERO;
    expect_sys_errno(
        "rt_sigtimedwait(sigsetsize 4)",
        || unsafe {
            syscall!(
                libc::SYS_rt_sigtimedwait,
                &raw const set,
                0,
                &raw const zero,
                4
            )
        },
        libc::EINVAL,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Sending signals.
// ---------------------------------------------------------------------------

/// A thread that publishes its tid, unblocks only `allow` and sleeps until `done`.
fn idle_thread(
    allow: u64,
    done: Arc<AtomicBool>,
    tid_out: Arc<AtomicI32>,
) -> Result<std::thread::JoinHandle<()>, String> {
    spawn_quiet(allow, move || {
        tid_out.store(tid(), Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
            sleep_ms(2);
        }
    })
}

fn wait_count(n: usize, ms: u64) -> bool {
    let deadline = Instant::now() + Duration::from_millis(ms);
    while count() < n {
        if Instant::now() > deadline {
            return false;
        }
        sleep_ms(1);
    }
    true
}

fn wait_tid(t: &AtomicI32) -> Result<i32, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = t.load(Ordering::SeqCst);
        if v != 0 {
            return Ok(v);
        }
        ensure!(
            Instant::now() < deadline,
            "helper thread did not start in 10 s"
        );
        sleep_ms(1);
    }
}

fn tgkill_tkill_target_thread() -> CheckResult {
    let _a = install_handler(SIGUSR1, h_record, 0, 0)?;
    let done = Arc::new(AtomicBool::new(false));
    let ttid = Arc::new(AtomicI32::new(0));
    let th = idle_thread(bit(SIGUSR1), done.clone(), ttid.clone())?;
    let res = (|| {
        let t = wait_tid(&ttid)?;
        ensure!(t != tid(), "the thread has the main thread's tid {t}");
        sys_ok("tgkill(pid, thread, SIGUSR1)", || tgkill(pid(), t, SIGUSR1))?;
        ensure!(
            wait_count(1, 5000),
            "handler did not run within 5 s of tgkill"
        );
        ensure_eq!(
            HANDLER_TID.load(Ordering::SeqCst),
            t,
            "tid seen in the handler (tgkill)"
        );
        ensure_eq!(
            info_head(),
            (SIGUSR1, SI_TKILL, pid(), uid()),
            "siginfo head"
        );
        sys_ok("tkill(thread, SIGUSR1)", || unsafe {
            syscall!(libc::SYS_tkill, t, SIGUSR1)
        })?;
        ensure!(
            wait_count(2, 5000),
            "handler did not run within 5 s of tkill"
        );
        ensure_eq!(
            HANDLER_TID.load(Ordering::SeqCst),
            t,
            "tid seen in the handler (tkill)"
        );
        // tgkill with a tgid that is not the thread's group: ESRCH.
        expect_sys_errno(
            "tgkill(wrong tgid, thread, SIGUSR1)",
            || tgkill(NO_PID as i32, t, SIGUSR1),
            libc::ESRCH,
        )?;
        Ok(())
    })();
    done.store(true, Ordering::SeqCst);
    join(th)?;
    res
}

fn kill_process_to_unblocking_thread() -> CheckResult {
    let _a = install_handler(SIGUSR1, h_record, 0, 0)?;
    let g = block(bit(SIGUSR1))?;
    let done = Arc::new(AtomicBool::new(false));
    let ttid = Arc::new(AtomicI32::new(0));
    let th = idle_thread(bit(SIGUSR1), done.clone(), ttid.clone())?;
    let res = (|| {
        let t = wait_tid(&ttid)?;
        sys_ok("kill(getpid(), SIGUSR1)", || kill(pid() as c_long, SIGUSR1))?;
        ensure!(
            wait_count(1, 5000),
            "a process-directed signal blocked in the main thread did not reach the thread that does not block it (5 s)"
        );
        ensure_eq!(
            HANDLER_TID.load(Ordering::SeqCst),
            t,
            "tid seen in the handler"
        );
        ensure_eq!(
            info_head(),
            (SIGUSR1, SI_USER, pid(), uid()),
            "siginfo head"
        );
        ensure_eq!(pending()?, 0, "pending in the main thread");
        Ok(())
    })();
    done.store(true, Ordering::SeqCst);
    join(th)?;
    drop(g);
    ensure_eq!(count(), 1, "deliveries after the main thread unblocked");
    res
}

fn kill_errors() -> CheckResult {
    expect_sys_errno(
        "kill(no such pid, SIGUSR1)",
        || kill(NO_PID, SIGUSR1),
        libc::ESRCH,
    )?;
    expect_sys_errno(
        "kill(-(no such pgid), SIGUSR1)",
        || kill(-NO_PID, SIGUSR1),
        libc::ESRCH,
    )?;
    for sig in [65, -1, 1000] {
        expect_sys_errno(
            &format!("kill(getpid(), {sig})"),
            || kill(pid() as c_long, sig),
            libc::EINVAL,
        )?;
        expect_sys_errno(
            &format!("tgkill(pid, tid, {sig})"),
            || tgkill(pid(), tid(), sig),
            libc::EINVAL,
        )?;
        expect_sys_errno(
            &format!("tkill(tid, {sig})"),
            || unsafe { syscall!(libc::SYS_tkill, tid(), sig) },
            libc::EINVAL,
        )?;
    }
    expect_sys_errno(
        "tgkill(pid, no such tid, SIGUSR1)",
        || tgkill(pid(), NO_PID as i32, SIGUSR1),
        libc::ESRCH,
    )?;
    expect_sys_errno(
        "tkill(no such tid, SIGUSR1)",
        || unsafe { syscall!(libc::SYS_tkill, NO_PID, SIGUSR1) },
        libc::ESRCH,
    )?;
    for (tg, t) in [(0, tid()), (-1, tid()), (pid(), 0), (pid(), -1)] {
        expect_sys_errno(
            &format!("tgkill({tg}, {t}, SIGUSR1)"),
            || tgkill(tg, t, SIGUSR1),
            libc::EINVAL,
        )?;
    }
    for t in [0, -1] {
        expect_sys_errno(
            &format!("tkill({t}, SIGUSR1)"),
            || unsafe { syscall!(libc::SYS_tkill, t, SIGUSR1) },
            libc::EINVAL,
        )?;
    }
    Ok(())
}

fn kill_sig0_existence() -> CheckResult {
    ensure_eq!(kill(pid() as c_long, 0), 0, "kill(getpid(), 0)");
    ensure_eq!(tgkill(pid(), tid(), 0), 0, "tgkill(pid, tid, 0)");
    expect_sys_errno("kill(no such pid, 0)", || kill(NO_PID, 0), libc::ESRCH)?;
    expect_sys_errno(
        "tgkill(pid, no such tid, 0)",
        || tgkill(pid(), NO_PID as i32, 0),
        libc::ESRCH,
    )?;
    let child = fork_child(|| 0)?;
    // Wait for it to become a zombie without reaping it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = unsafe {
            syscall!(
                libc::SYS_waitid,
                libc::P_PID,
                child,
                &raw mut info,
                libc::WEXITED | libc::WNOWAIT | libc::WNOHANG,
                0
            )
        };
        let zombie = r == 0 && unsafe { info.si_pid() } == child;
        if zombie {
            break;
        }
        if r != 0 || Instant::now() > deadline {
            kill(child as c_long, SIGKILL);
            wait_child(child, 0, 5000)?;
            return Err(format!(
                "waitid(WNOWAIT) for the child: {r}, errno {}",
                errno_name(errno())
            ));
        }
        sleep_ms(2);
    }
    let zombie = kill(child as c_long, 0);
    let st = wait_child(child, 0, 5000)?;
    expect_exited("child", st, 0)?;
    ensure_eq!(zombie, 0, "kill(zombie child, 0)");
    expect_sys_errno(
        "kill(reaped child, 0)",
        || kill(child as c_long, 0),
        libc::ESRCH,
    )?;
    Ok(())
}

fn kill_process_group() -> CheckResult {
    let (r, w) = pipe()?;
    let child = fork_child(|| {
        close(r);
        if unsafe { syscall!(libc::SYS_setpgid, 0, 0) } != 0 {
            return 10;
        }
        let me = pid();
        if unsafe { syscall!(libc::SYS_getpgid, 0) } != me as c_long {
            return 11;
        }
        if install_handler(SIGUSR1, h_record, 0, 0)
            .map(std::mem::forget)
            .is_err()
        {
            return 12;
        }
        if kill(0, SIGUSR1) != 0 || count() != 1 || info_i32(8) != SI_USER {
            return 13;
        }
        if kill(-(me as c_long), SIGUSR1) != 0 || count() != 2 {
            return 14;
        }
        // Ready: the parent now kills the whole group.
        unsafe { syscall!(libc::SYS_write, w, b"r".as_ptr(), 1) };
        for _ in 0..2000 {
            sleep_ms(10);
        }
        15
    })?;
    close(w);
    // The child is in its own group (also set here, so no race).
    unsafe { syscall!(libc::SYS_setpgid, child, child) };
    let mut b = [0u8; 1];
    let n = unsafe { syscall!(libc::SYS_read, r, b.as_mut_ptr(), 1) };
    close(r);
    if n == 1 {
        sys_ok("kill(-child pgid, SIGTERM)", || {
            kill(-(child as c_long), SIGTERM)
        })?;
    }
    let st = wait_child(child, 0, 20_000)?;
    ensure!(
        n == 1,
        "child {} before it was ready (10: setpgid, 11: getpgid, 12: sigaction, 13: kill(0), 14: kill(-pgid))",
        describe_status(st)
    );
    expect_killed_by("kill(-pgid, SIGTERM)", st, SIGTERM)
}

// ---------------------------------------------------------------------------
// Default actions, seen from the parent.
// ---------------------------------------------------------------------------

fn default_terminate() -> CheckResult {
    for sig in [SIGHUP, SIGINT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, RT_B, 64] {
        let st = run_child(|| {
            let _ = raise(sig);
            3
        })?;
        expect_killed_by(&format!("signal {sig} by itself"), st, sig)?;
    }
    // Sent by the parent to a sleeping child.
    let child = fork_child(|| {
        for _ in 0..2000 {
            sleep_ms(10);
        }
        3
    })?;
    sys_ok("kill(child, SIGTERM)", || kill(child as c_long, SIGTERM))?;
    let st = wait_child(child, 0, 20_000)?;
    expect_killed_by("kill(child, SIGTERM)", st, SIGTERM)
}

fn default_core() -> CheckResult {
    // With RLIMIT_CORE 0 no core file is written, so the status must not say "core
    // dumped" (WCOREDUMP). A core_pattern that pipes to a program ignores the limit: then
    // only the signal is checked.
    let piped = std::fs::read_to_string("/proc/sys/kernel/core_pattern").is_ok_and(|p| p.starts_with('|'));
    for sig in [SIGQUIT, SIGABRT, SIGXCPU, SIGSYS] {
        let st = run_child(|| {
            no_core();
            let _ = raise(sig);
            3
        })?;
        expect_killed_by(&format!("signal {sig}"), st, sig)?;
        ensure!(piped || st & 0x80 == 0, "signal {sig}: status {st:#x} says core dumped, with RLIMIT_CORE 0");
    }
    Ok(())
}

fn default_stop_continue() -> CheckResult {
    let child = fork_child(|| {
        for _ in 0..3000 {
            sleep_ms(10);
        }
        3
    })?;
    let c = child as c_long;
    let res = (|| {
        sys_ok("kill(child, SIGSTOP)", || kill(c, SIGSTOP))?;
        let st = wait_child(child, libc::WUNTRACED, 10_000)?;
        ensure!(
            libc::WIFSTOPPED(st) && libc::WSTOPSIG(st) == SIGSTOP,
            "wait4(WUNTRACED) after SIGSTOP: {}",
            describe_status(st)
        );
        ensure_eq!(st, 0x137f, "raw wait status of a child stopped by SIGSTOP");
        sys_ok("kill(child, SIGCONT)", || kill(c, SIGCONT))?;
        let st = wait_child(child, libc::WCONTINUED, 10_000)?;
        ensure!(
            libc::WIFCONTINUED(st),
            "wait4(WCONTINUED) after SIGCONT: {}",
            describe_status(st)
        );
        ensure_eq!(st, 0xffff, "raw wait status of a continued child");
        // Stopped again, then SIGKILL: it dies while stopped.
        sys_ok("kill(child, SIGSTOP)", || kill(c, SIGSTOP))?;
        let st = wait_child(child, libc::WUNTRACED, 10_000)?;
        ensure!(libc::WIFSTOPPED(st), "second stop: {}", describe_status(st));
        Ok(())
    })();
    kill(c, SIGKILL);
    let st = wait_child(child, 0, 20_000)?;
    res?;
    expect_killed_by("SIGKILL to a stopped child", st, SIGKILL)
}

fn default_ignore() -> CheckResult {
    let st = run_child(|| {
        for sig in [SIGCHLD, SIGWINCH, SIGURG, SIGCONT] {
            if raise(sig).is_err() {
                return 10 + sig;
            }
        }
        7
    })?;
    expect_exited(
        "child that raised SIGCHLD, SIGWINCH, SIGURG, SIGCONT",
        st,
        7,
    )
}

fn fork_keeps_handlers_mask_not_pending() -> CheckResult {
    let _a1 = install_handler(SIGUSR1, h_record, 0, 0)?;
    let _a2 = install_handler(SIGUSR2, h_record, 0, 0)?;
    let g = block(bit(SIGUSR2))?;
    raise(SIGUSR2)?;
    let parent_mask = cur_mask();
    let st = run_child(|| {
        if cur_mask() != parent_mask {
            return 10;
        }
        match pending() {
            Ok(0) => {}
            _ => return 11,
        }
        match get_action(SIGUSR1) {
            Ok(a) if a.handler == haddr(h_record) => {}
            _ => return 12,
        }
        let before = count();
        if raise(SIGUSR1).is_err() || count() != before + 1 {
            return 13;
        }
        0
    })?;
    ensure_eq!(
        pending()?,
        bit(SIGUSR2),
        "parent's pending set after the fork"
    );
    drop(g);
    ensure_eq!(count(), 1, "parent's SIGUSR2 delivered on unblock");
    expect_exited(
        "child (10: mask differs, 11: pending signals inherited, 12: handler lost, 13: handler did not run)",
        st,
        0,
    )
}

fn sigchld_to_parent() -> CheckResult {
    let _a = install_handler(SIGCHLD, h_record, 0, 0)?;
    let g = block(bit(SIGCHLD))?;
    let before = cur_mask();
    let child = fork_child(|| 42)?;
    let wd = watchdog(10_000)?;
    let (r, e) = sigsuspend(before & !bit(SIGCHLD));
    drop(wd);
    let st = wait_child(child, 0, 20_000)?;
    drop(g);
    ensure!(!wd_fired(), "no SIGCHLD within 10 s of the child's exit");
    ensure_eq!((r, e), (-1, libc::EINTR), "rt_sigsuspend (return, errno)");
    expect_exited("child", st, 42)?;
    ensure_eq!(count(), 1, "SIGCHLD deliveries");
    ensure_eq!(
        (
            info_i32(0),
            info_i32(8),
            info_i32(16),
            info_i32(20) as u32,
            info_i32(24)
        ),
        (SIGCHLD, CLD_EXITED, child, uid(), 42),
        "(si_signo, si_code, si_pid, si_uid, si_status)"
    );
    Ok(())
}

fn sigchld_ign_autoreap() -> CheckResult {
    let _a = install(SIGCHLD, SIG_IGN, 0, 0)?;
    let child = fork_child(|| 0)?;
    // The child never becomes waitable: wait4 ends with ECHILD once it is gone.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut st = 0;
        clear_errno();
        let r = wait4(child, libc::WNOHANG, &mut st);
        if r == -1 && errno() == libc::ECHILD {
            return Ok(());
        }
        if r == child as c_long {
            return Err(format!(
                "wait4 reaped the child ({}) although SIGCHLD is SIG_IGN",
                describe_status(st)
            ));
        }
        if r != 0 {
            return Err(format!("wait4 returned {r}, errno {}", errno_name(errno())));
        }
        if Instant::now() > deadline {
            kill(child as c_long, SIGKILL);
            return Err("wait4(WNOHANG) still 0 after 20 s".into());
        }
        sleep_ms(2);
    }
}

fn sigpipe_default_kills() -> CheckResult {
    let st = run_child(|| {
        let dfl = act(SIG_DFL, 0, 0);
        raw_sigaction(SIGPIPE, &dfl, std::ptr::null_mut());
        let (r, w) = match pipe() {
            Ok(p) => p,
            Err(_) => return 10,
        };
        close(r);
        unsafe { syscall!(libc::SYS_write, w, b"x".as_ptr(), 1) };
        11
    })?;
    expect_killed_by("write to a pipe without readers", st, SIGPIPE)
}

fn sigpipe_ignored_or_handled_epipe() -> CheckResult {
    for handled in [false, true] {
        reset_records();
        let _a = if handled {
            install_handler(SIGPIPE, h_record, 0, 0)?
        } else {
            install(SIGPIPE, SIG_IGN, 0, 0)?
        };
        let (r, w) = pipe()?;
        close(r);
        let what = if handled { "handled" } else { "ignored" };
        let res = expect_sys_errno(
            &format!("write to a pipe without readers, SIGPIPE {what}"),
            || unsafe { syscall!(libc::SYS_write, w, b"x".as_ptr(), 1) },
            libc::EPIPE,
        );
        close(w);
        res?;
        if handled {
            ensure_eq!(count(), 1, "SIGPIPE handler invocations");
            ensure_eq!(
                (info_i32(0), info_i32(8)),
                (SIGPIPE, SI_USER),
                "(si_signo, si_code)"
            );
            ensure_eq!(
                HANDLER_TID.load(Ordering::SeqCst),
                tid(),
                "thread handling SIGPIPE"
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Faults.
// ---------------------------------------------------------------------------

extern "C" fn h_fault(sig: c_int, info: *mut libc::siginfo_t, uc: *mut c_void) {
    record(sig, info);
    let uc = uc as *const libc::ucontext_t;
    let g = unsafe { &(*uc).uc_mcontext.gregs };
    UC_RIP.store(g[libc::REG_RIP as usize] as u64, Ordering::SeqCst);
    UC_TRAPNO.store(g[libc::REG_TRAPNO as usize] as u64, Ordering::SeqCst);
    UC_ERR.store(g[libc::REG_ERR as usize] as u64, Ordering::SeqCst);
    UC_CR2.store(g[libc::REG_CR2 as usize] as u64, Ordering::SeqCst);
    unsafe { siglongjmp(&raw mut JMPBUF, 1) }
}

/// Runs `f(a, b)`, which should fault; returns true if the fault handler jumped
/// back here. Only statics carry information across the jump.
#[inline(never)]
fn faulted(f: unsafe extern "C" fn(u64, u64) -> u64, a: u64, b: u64) -> bool {
    unsafe {
        if sigsetjmp(&raw mut JMPBUF, 1) == 0 {
            std::hint::black_box(f(std::hint::black_box(a), std::hint::black_box(b)));
            false
        } else {
            true
        }
    }
}

unsafe extern "C" fn load_site(a: u64, _b: u64) -> u64 {
    unsafe { signals_load(a as usize) }
}

unsafe extern "C" fn store_site(a: u64, b: u64) -> u64 {
    unsafe { signals_store(a as usize, b) };
    0
}

unsafe extern "C" fn ud2_site(_a: u64, _b: u64) -> u64 {
    unsafe { signals_ud2() };
    0
}

unsafe extern "C" fn div_site(a: u64, b: u64) -> u64 {
    unsafe { signals_div(a, b) }
}

struct Fault {
    code: i32,
    addr: u64,
    rip: u64,
    trapno: u64,
}

/// Provokes a fault twice (recovering with siglongjmp each time) and checks the
/// signal, si_code, si_addr, the ucontext's RIP and trap number, and that the
/// mask was restored by siglongjmp.
fn expect_fault(
    what: &str,
    sig: i32,
    f: unsafe extern "C" fn(u64, u64) -> u64,
    a: u64,
    b: u64,
    want: Fault,
) -> CheckResult {
    let _h = install_handler(sig, h_fault, 0, 0)?;
    let mask = cur_mask();
    for round in 1..=2 {
        reset_records();
        let hit = faulted(f, a, b);
        ensure!(hit, "{what}: no fault (round {round})");
        ensure_eq!(count(), 1, "{what}: handler invocations (round {round})");
        // Every field is compared, and all differences reported together.
        let fields = [
            ("si_signo", info_i32(0) as i64 as u64, sig as i64 as u64),
            (
                "si_code",
                info_i32(8) as i64 as u64,
                want.code as i64 as u64,
            ),
            ("si_addr", info_u64(16), want.addr),
            ("ucontext RIP", UC_RIP.load(Ordering::SeqCst), want.rip),
            (
                "ucontext trapno",
                UC_TRAPNO.load(Ordering::SeqCst),
                want.trapno,
            ),
            ("mask after siglongjmp", cur_mask(), mask),
        ];
        let wrong: Vec<String> = fields
            .iter()
            .filter(|(_, got, want)| got != want)
            .map(|(name, got, want)| format!("{name} {:#x} (expected {:#x})", got, want))
            .collect();
        ensure!(
            wrong.is_empty(),
            "{what} (round {round}): {}",
            wrong.join(", ")
        );
    }
    Ok(())
}

fn sigsegv_null_read() -> CheckResult {
    let site = signals_load as *const () as usize as u64;
    expect_fault(
        "read of address 0",
        SIGSEGV,
        load_site,
        0,
        0,
        Fault {
            code: SEGV_MAPERR,
            addr: 0,
            rip: site,
            trapno: 14,
        },
    )?;
    let err = UC_ERR.load(Ordering::SeqCst);
    ensure!(
        err & 6 == 4,
        "page-fault error code {err:#x}: expected a user-mode read"
    );
    ensure_eq!(UC_CR2.load(Ordering::SeqCst), 0, "cr2 in the ucontext");
    Ok(())
}

fn sigsegv_unmapped() -> CheckResult {
    let p = mmap_anon(2 * PAGE, libc::PROT_READ)?;
    munmap(p, 2 * PAGE);
    let addr = (p + PAGE + 0x123) as u64;
    expect_fault(
        "read of an unmapped page",
        SIGSEGV,
        load_site,
        addr,
        0,
        Fault {
            code: SEGV_MAPERR,
            addr,
            rip: signals_load as *const () as usize as u64,
            trapno: 14,
        },
    )?;
    ensure_eq!(UC_CR2.load(Ordering::SeqCst), addr, "cr2 in the ucontext");
    Ok(())
}

fn sigsegv_prot_none() -> CheckResult {
    let p = mmap_anon(PAGE, libc::PROT_NONE)?;
    let res = expect_fault(
        "read of a PROT_NONE page",
        SIGSEGV,
        load_site,
        (p + 8) as u64,
        0,
        Fault {
            code: SEGV_ACCERR,
            addr: (p + 8) as u64,
            rip: signals_load as *const () as usize as u64,
            trapno: 14,
        },
    );
    munmap(p, PAGE);
    res
}

fn sigsegv_readonly_write() -> CheckResult {
    let p = mmap_anon(PAGE, libc::PROT_READ)?;
    let res = expect_fault(
        "write to a read-only page",
        SIGSEGV,
        store_site,
        (p + 16) as u64,
        5,
        Fault {
            code: SEGV_ACCERR,
            addr: (p + 16) as u64,
            rip: signals_store as *const () as usize as u64,
            trapno: 14,
        },
    );
    let first = unsafe { std::ptr::read_volatile((p + 16) as *const u64) };
    munmap(p, PAGE);
    res?;
    let err = UC_ERR.load(Ordering::SeqCst);
    ensure!(
        err & 6 == 6,
        "page-fault error code {err:#x}: expected a user-mode write"
    );
    ensure_eq!(
        first,
        0,
        "contents of the read-only page after the refused write"
    );
    Ok(())
}

fn sigbus_truncated_file() -> CheckResult {
    let path = format!("/tmp/axle-signals-sigbus-{}\0", pid());
    let fd = sys_ok("open(/tmp/...)", || unsafe {
        syscall!(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o600
        )
    })? as c_int;
    let res = (|| {
        let data = vec![0x5au8; 2 * PAGE];
        let n = sys_ok("write", || unsafe {
            syscall!(libc::SYS_write, fd, data.as_ptr(), data.len())
        })?;
        ensure_eq!(n as usize, 2 * PAGE, "bytes written");
        let p = sys_ok("mmap(file, 2 pages, MAP_SHARED)", || unsafe {
            syscall!(
                libc::SYS_mmap,
                0,
                2 * PAGE,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                0
            )
        })? as usize;
        let res = (|| {
            sys_ok("ftruncate(1 page)", || unsafe {
                syscall!(libc::SYS_ftruncate, fd, PAGE)
            })?;
            let v = unsafe { std::ptr::read_volatile((p + 8) as *const u64) };
            ensure_eq!(
                v,
                0x5a5a_5a5a_5a5a_5a5a,
                "word in the page that is still in the file"
            );
            let addr = (p + PAGE + 0x40) as u64;
            expect_fault(
                "read past the end of a truncated file mapping",
                SIGBUS,
                load_site,
                addr,
                0,
                Fault {
                    code: BUS_ADRERR,
                    addr,
                    rip: signals_load as *const () as usize as u64,
                    trapno: 14,
                },
            )
        })();
        munmap(p, 2 * PAGE);
        res
    })();
    close(fd);
    unsafe { syscall!(libc::SYS_unlink, path.as_ptr()) };
    res
}

fn sigill_ud2() -> CheckResult {
    let site = signals_ud2 as *const () as usize as u64;
    expect_fault(
        "ud2",
        SIGILL,
        ud2_site,
        0,
        0,
        Fault {
            code: ILL_ILLOPN,
            addr: site,
            rip: site,
            trapno: 6,
        },
    )
}

fn sigfpe_divzero() -> CheckResult {
    // The divider works when it can.
    ensure_eq!(unsafe { signals_div(84, 2) }, 42, "signals_div(84, 2)");
    let site = signals_div_insn as *const () as usize as u64;
    expect_fault(
        "integer division by zero",
        SIGFPE,
        div_site,
        1,
        0,
        Fault {
            code: FPE_INTDIV,
            addr: site,
            rip: site,
            trapno: 0,
        },
    )
}

fn fault_blocked_or_ignored_kills() -> CheckResult {
    // A fault cannot be blocked or ignored: the process dies of it.
    let st = run_child(|| {
        no_core();
        if install_handler(SIGSEGV, h_record, 0, 0)
            .map(std::mem::forget)
            .is_err()
        {
            return 10;
        }
        let m = bit(SIGSEGV);
        unsafe { syscall!(libc::SYS_rt_sigprocmask, SIG_BLOCK, &raw const m, 0, 8) };
        unsafe { signals_load(0) };
        11
    })?;
    expect_killed_by("null read with SIGSEGV blocked", st, SIGSEGV)?;
    let st = run_child(|| {
        no_core();
        if install(SIGFPE, SIG_IGN, 0, 0)
            .map(std::mem::forget)
            .is_err()
        {
            return 10;
        }
        unsafe { signals_div(1, 0) };
        11
    })?;
    expect_killed_by("division by zero with SIGFPE ignored", st, SIGFPE)
}

fn fault_default_actions() -> CheckResult {
    let cases: [(i32, fn()); 3] = [
        (SIGSEGV, || unsafe {
            signals_load(0);
        }),
        (SIGILL, || unsafe { signals_ud2() }),
        (SIGFPE, || unsafe {
            signals_div(1, 0);
        }),
    ];
    for (sig, f) in cases {
        let st = run_child(|| {
            no_core();
            let dfl = act(SIG_DFL, 0, 0);
            raw_sigaction(sig, &dfl, std::ptr::null_mut());
            f();
            3
        })?;
        expect_killed_by(&format!("fault with signal {sig} at SIG_DFL"), st, sig)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Interrupted system calls.
// ---------------------------------------------------------------------------

fn read_sa_restart_restarts() -> CheckResult {
    let _a = install_handler(SIGUSR1, h_record, SA_RESTART, 0)?;
    let (r, w) = pipe()?;
    let (p, main) = (pid(), tid());
    let wd = watchdog(10_000)?;
    let th = spawn_quiet(0, move || {
        sleep_ms(150);
        tgkill(p, main, SIGUSR1);
        let deadline = Instant::now() + Duration::from_secs(5);
        while count() == 0 && Instant::now() < deadline {
            sleep_ms(1);
        }
        sleep_ms(100);
        unsafe { syscall!(libc::SYS_write, w, b"x".as_ptr(), 1) };
    })?;
    let mut buf = [0u8; 8];
    clear_errno();
    let n = unsafe { syscall!(libc::SYS_read, r, buf.as_mut_ptr(), buf.len()) };
    let e = errno();
    join(th)?;
    drop(wd);
    close(r);
    close(w);
    ensure!(
        !wd_fired(),
        "read did not return within 10 s (written 250 ms after start)"
    );
    ensure_eq!(
        (n, e),
        (1, 0),
        "read restarted after a SA_RESTART handler (return, errno)"
    );
    ensure_eq!(buf[0], b'x', "byte read");
    ensure_eq!(
        (count(), LAST_SIG.load(Ordering::SeqCst)),
        (1, SIGUSR1),
        "(handler invocations, signal)"
    );
    Ok(())
}

fn read_without_restart_eintr() -> CheckResult {
    let _a = install_handler(SIGUSR1, h_record, 0, 0)?;
    let (r, w) = pipe()?;
    let done = Arc::new(AtomicBool::new(false));
    let s = sender(SIGUSR1, 150, 200, done.clone())?;
    let mut buf = [0u8; 8];
    clear_errno();
    let n = unsafe { syscall!(libc::SYS_read, r, buf.as_mut_ptr(), buf.len()) };
    let e = errno();
    done.store(true, Ordering::SeqCst);
    join(s)?;
    close(r);
    close(w);
    ensure_eq!(
        (n, e),
        (-1, libc::EINTR),
        "read interrupted by a handler without SA_RESTART"
    );
    ensure!(count() >= 1, "handler did not run");
    Ok(())
}

fn nanosleep_eintr_remaining() -> CheckResult {
    const REQ_NS: i64 = 5_000_000_000;
    let _a = install_handler(SIGUSR1, h_record, SA_RESTART, 0)?;
    let done = Arc::new(AtomicBool::new(false));
    let s = sender(SIGUSR1, 150, 300, done.clone())?;
    let req = libc::timespec {
        tv_sec: REQ_NS / 1_000_000_000,
        tv_nsec: 0,
    };
    let mut rem = libc::timespec {
        tv_sec: -1,
        tv_nsec: -1,
    };
    let t0 = mono_ns();
    clear_errno();
    let r = unsafe { syscall!(libc::SYS_nanosleep, &raw const req, &raw mut rem) };
    let e = errno();
    let elapsed = mono_ns() - t0;
    done.store(true, Ordering::SeqCst);
    join(s)?;
    ensure_eq!(
        (r, e),
        (-1, libc::EINTR),
        "nanosleep(5 s) interrupted by a SA_RESTART handler (after {elapsed} ns)"
    );
    let rem_ns = rem.tv_sec * 1_000_000_000 + rem.tv_nsec;
    ensure!(
        rem.tv_nsec >= 0 && rem.tv_nsec < 1_000_000_000 && rem_ns > 0 && rem_ns < REQ_NS,
        "remaining time {{{}, {}}}",
        rem.tv_sec,
        rem.tv_nsec
    );
    let total = elapsed + rem_ns;
    ensure!(
        (total - REQ_NS).abs() < 500_000_000,
        "elapsed {elapsed} ns + remaining {rem_ns} ns = {total} ns, expected about {REQ_NS}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Queueing.
// ---------------------------------------------------------------------------

fn rt_signals_queue() -> CheckResult {
    let rt = libc::SIGRTMIN() + 1;
    let _a = install(rt, haddr(h_quiet), SA_SIGINFO, 0)?;
    let g = block(bit(rt))?;
    for v in 1..=5u64 {
        sys_ok(&format!("sigqueue(SIGRTMIN+1, {v})"), || {
            sigqueue(pid(), rt, 100 + v)
        })?;
    }
    ensure_eq!(pending()?, bit(rt), "pending set");
    ensure_eq!(count(), 0, "deliveries while blocked");
    drop(g);
    ensure_eq!(count(), 5, "deliveries of SIGRTMIN+1 queued 5 times");
    let values: Vec<u64> = VALUES[..5]
        .iter()
        .map(|v| v.load(Ordering::SeqCst))
        .collect();
    ensure_eq!(
        values,
        vec![101, 102, 103, 104, 105],
        "si_value of the deliveries, in order"
    );
    Ok(())
}

fn standard_signal_once() -> CheckResult {
    // Sent 5 times to the thread (tgkill), then 5 times to the process (kill): each
    // time one delivery. (The thread and the process have separate pending sets, so
    // the two kinds are not mixed here.)
    let _a = install(SIGUSR1, haddr(h_quiet), SA_SIGINFO, 0)?;
    let g = block(bit(SIGUSR1))?;
    for _ in 0..5 {
        raise(SIGUSR1)?;
    }
    ensure_eq!(pending()?, bit(SIGUSR1), "pending set after 5 tgkill");
    drop(g);
    ensure_eq!(
        count(),
        1,
        "deliveries of SIGUSR1 sent 5 times with tgkill while blocked"
    );
    let g = block(bit(SIGUSR1))?;
    for _ in 0..5 {
        sys_ok("kill(getpid(), SIGUSR1)", || kill(pid() as c_long, SIGUSR1))?;
    }
    ensure_eq!(pending()?, bit(SIGUSR1), "pending set after 5 kill");
    drop(g);
    ensure_eq!(
        count(),
        2,
        "deliveries after SIGUSR1 was sent 5 more times with kill while blocked"
    );
    Ok(())
}
