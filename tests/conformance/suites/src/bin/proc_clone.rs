//! `proc_clone` suite: clone(2) and clone3(2) the way libcs and Rust std use them.
//!
//! Covers: the glibc thread flag set (`VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|
//! PARENT_SETTID|CHILD_SETTID|CHILD_CLEARTID`) and musl's (`..|DETACHED`, no
//! CHILD_SETTID): tid words, TLS base, same pid/ppid, shared fd table, threads are
//! not waitable children, CHILD_CLEARTID zeroes the word and wakes a FUTEX_WAIT on
//! it at thread exit; `VM|VFORK|SIGCHLD` on a separate stack (the parent is held
//! until the child exits); fork-like `clone(SIGCHLD)` (raw, with and without a
//! child stack, and through `libc::clone`): copied memory, SIGCHLD queued to the
//! parent; other exit signals (0, SIGUSR1) need `__WCLONE`/`__WALL`;
//! PARENT_SETTID/CHILD_SETTID in a child with its own memory; `CLONE_FS` shares
//! cwd and umask both ways, without it they are separate; `CLONE_SIGHAND` shares
//! handlers but not the blocked mask or the pending set; legacy `CLONE_PIDFD`;
//! Linux's EINVAL cases (THREAD without SIGHAND, SIGHAND without VM, FS|NEWNS,
//! FS|NEWUSER, PIDFD|DETACHED); `clone3` with `struct clone_args` of 64, 88 and 96
//! bytes, a child stack, `CLONE_PIDFD` (close-on-exec pidfd that polls readable
//! when the child exits), E2BIG (non-zero unknown trailing bytes, size > 4096),
//! EINVAL (size < 64, exit signal > 64 or with high bits, CSIGNAL bits or
//! DETACHED in flags, THREAD with an exit signal, stack without size and the
//! reverse, unknown flags, SIGHAND|CLEAR_SIGHAND, bad set_tid).
//!
//! Children that share our memory run an `extern "C"` function on their own stack
//! (see `clone_fn`) and use only raw `syscall` instructions and atomics: they have
//! no TLS of their own, so they never call into libc or anything that can panic.
//! Every clone that must fail is still issued with a child stack and function, so
//! a kernel that wrongly lets it succeed cannot corrupt the test process.

use checks::{ensure, ensure_eq, errno_name, CheckResult, Suite};
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Constants (x86_64 Linux)

const CSIGNAL: u64 = 0xff;
const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_NEWNS: u64 = 0x20000;
const CLONE_SYSVSEM: u64 = 0x40000;
const CLONE_SETTLS: u64 = 0x80000;
const CLONE_PARENT_SETTID: u64 = 0x100000;
const CLONE_CHILD_CLEARTID: u64 = 0x200000;
const CLONE_DETACHED: u64 = 0x400000;
const CLONE_CHILD_SETTID: u64 = 0x1000000;
const CLONE_NEWUSER: u64 = 0x10000000;
const CLONE_CLEAR_SIGHAND: u64 = 1 << 32;

const GLIBC_THREAD_FLAGS: u64 = CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_THREAD
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_SETTID
    | CLONE_CHILD_CLEARTID;
const MUSL_THREAD_FLAGS: u64 = CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_THREAD
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_DETACHED;

const SIGCHLD: u64 = 17;
const SIGUSR1: i32 = 10;
const SIGUSR2: i32 = 12;
const NR_CLONE3: i64 = 435;
const ARCH_GET_FS: i64 = 0x1003;
const FUTEX_WAIT: i64 = 0;
const WNOHANG: i64 = 1;
const WCLONE: i64 = 0x8000_0000;
const WALL: i64 = 0x4000_0000;
const SA_RESTORER: u64 = 0x0400_0000;
const STACK_LEN: usize = 256 << 10;
const TLS_MAGIC: u64 = 0x7e57_7e57_0000_1234;

fn main() {
    let mut s = Selected::new("proc_clone", std::env::args().skip(1).collect());
    s.check("thread_glibc_flags", thread_glibc_flags);
    s.check("thread_musl_flags", thread_musl_flags);
    s.check("thread_cleartid_futex_wake", thread_cleartid_futex_wake);
    s.check("thread_shares_fd_table", thread_shares_fd_table);
    s.check("thread_parent_settid_null", thread_parent_settid_null);
    s.check("vfork_flags_hold_parent", vfork_flags_hold_parent);
    s.check("fork_sigchld_no_stack", fork_sigchld_no_stack);
    s.check("fork_sigchld_child_stack", fork_sigchld_child_stack);
    s.check("libc_clone_static_stack", libc_clone_static_stack);
    s.check("exit_signal_zero_needs_wclone", exit_signal_zero_needs_wclone);
    s.check("exit_signal_sigusr1", exit_signal_sigusr1);
    s.check("settid_child_own_memory", settid_child_own_memory);
    s.check("clone_fs_shared", || clone_fs(true));
    s.check("clone_fs_separate", || clone_fs(false));
    s.check("clone_sighand_shares_handlers", clone_sighand_shares_handlers);
    s.check("clone_pidfd_legacy", clone_pidfd_legacy);
    s.check("clone_einval", clone_einval);
    s.check("clone3_size64", || clone3_basic(64));
    s.check("clone3_size88", || clone3_basic(88));
    s.check("clone3_size96_zero_tail", || clone3_basic(96));
    s.check("clone3_child_stack", clone3_child_stack);
    s.check("clone3_pidfd", clone3_pidfd);
    s.check("clone3_e2big", clone3_e2big);
    s.check("clone3_einval", clone3_einval);
    s.finish();
}

/// Runs the checks whose names contain one of the command-line words (all of
/// them without arguments), for debugging one check at a time.
struct Selected {
    suite: Suite,
    filters: Vec<String>,
}

impl Selected {
    fn new(name: &'static str, filters: Vec<String>) -> Selected {
        Selected {
            suite: Suite::new(name),
            filters,
        }
    }
    fn check(&mut self, name: &str, f: impl FnOnce() -> CheckResult) {
        if self.filters.is_empty() || self.filters.iter().any(|w| name.contains(w.as_str())) {
            self.suite.check(name, f);
        }
    }
    fn finish(self) -> ! {
        self.suite.finish()
    }
}

// ---------------------------------------------------------------------------
// Raw syscalls: usable in children that share our memory but have no TLS.

#[inline(always)]
unsafe fn raw6(n: i64, a1: i64, a2: i64, a3: i64, a4: i64, a5: i64, a6: i64) -> i64 {
    let r: i64;
    std::arch::asm!(
        "syscall",
        inlateout("rax") n => r,
        in("rdi") a1,
        in("rsi") a2,
        in("rdx") a3,
        in("r10") a4,
        in("r8") a5,
        in("r9") a6,
        lateout("rcx") _,
        lateout("r11") _,
        options(nostack),
    );
    r
}

/// `rs!(nr, args..)`: a raw syscall; returns the kernel's value (-errno on error).
macro_rules! rs {
    ($n:expr) => { raw6($n as i64, 0, 0, 0, 0, 0, 0) };
    ($n:expr, $a:expr) => { raw6($n as i64, $a as i64, 0, 0, 0, 0, 0) };
    ($n:expr, $a:expr, $b:expr) => { raw6($n as i64, $a as i64, $b as i64, 0, 0, 0, 0) };
    ($n:expr, $a:expr, $b:expr, $c:expr) => {
        raw6($n as i64, $a as i64, $b as i64, $c as i64, 0, 0, 0)
    };
    ($n:expr, $a:expr, $b:expr, $c:expr, $d:expr) => {
        raw6($n as i64, $a as i64, $b as i64, $c as i64, $d as i64, 0, 0)
    };
    ($n:expr, $a:expr, $b:expr, $c:expr, $d:expr, $e:expr) => {
        raw6($n as i64, $a as i64, $b as i64, $c as i64, $d as i64, $e as i64, 0)
    };
    ($n:expr, $a:expr, $b:expr, $c:expr, $d:expr, $e:expr, $f:expr) => {
        raw6($n as i64, $a as i64, $b as i64, $c as i64, $d as i64, $e as i64, $f as i64)
    };
    ($n:expr, $($a:expr),+ ,) => { rs!($n, $($a),+) };
}

/// A child function: gets `arg`, its return value becomes the SYS_exit status.
type ChildFn = extern "C" fn(usize) -> i64;

/// Raw `clone(flags, stack_top, ptid, ctid, tls)`. In the child, `f(arg)` runs on
/// `stack_top` (16-byte aligned; or on a copy of our stack when it is null and the
/// memory is not shared) and its result is passed to SYS_exit. Returns the
/// kernel's value in the parent (tid/pid or -errno).
unsafe fn clone_fn(
    flags: u64,
    stack_top: *mut u8,
    ptid: *mut i32,
    ctid: *mut i32,
    tls: u64,
    f: ChildFn,
    arg: usize,
) -> i64 {
    let r: i64;
    std::arch::asm!(
        "syscall",
        "test rax, rax",
        "jnz 2f",
        "xor ebp, ebp",
        "and rsp, -16",
        "mov rdi, r13",
        "call r12",
        "mov rdi, rax",
        "mov eax, 60",
        "syscall",
        "ud2",
        "2:",
        inlateout("rax") 56i64 => r,
        in("rdi") flags,
        in("rsi") stack_top,
        in("rdx") ptid,
        in("r10") ctid,
        in("r8") tls,
        in("r12") f,
        in("r13") arg,
        lateout("rcx") _,
        lateout("r11") _,
    );
    r
}

/// Raw `clone3(args, size)`; the child runs `f(arg)` like in [`clone_fn`].
unsafe fn clone3_fn(args: *const u8, size: usize, f: ChildFn, arg: usize) -> i64 {
    let r: i64;
    std::arch::asm!(
        "syscall",
        "test rax, rax",
        "jnz 2f",
        "xor ebp, ebp",
        "and rsp, -16",
        "mov rdi, r13",
        "call r12",
        "mov rdi, rax",
        "mov eax, 60",
        "syscall",
        "ud2",
        "2:",
        inlateout("rax") NR_CLONE3 => r,
        in("rdi") args,
        in("rsi") size,
        in("r12") f,
        in("r13") arg,
        lateout("rcx") _,
        lateout("r11") _,
    );
    r
}

/// `struct clone_args` (88 bytes, CLONE_ARGS_SIZE_VER2) plus room after it.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
    tail: [u64; 520],
}

impl CloneArgs {
    fn new(flags: u64, exit_signal: u64) -> CloneArgs {
        CloneArgs {
            flags,
            pidfd: 0,
            child_tid: 0,
            parent_tid: 0,
            exit_signal,
            stack: 0,
            stack_size: 0,
            tls: 0,
            set_tid: 0,
            set_tid_size: 0,
            cgroup: 0,
            tail: [0; 520],
        }
    }
}

fn errno_of(r: i64) -> Option<i32> {
    if (-4095..0).contains(&r) {
        Some(-r as i32)
    } else {
        None
    }
}

fn show(r: i64) -> String {
    match errno_of(r) {
        Some(e) => format!("-1/{}", errno_name(e)),
        None => format!("{r}"),
    }
}

/// `r` must be a success value.
fn ok(what: &str, r: i64) -> Result<i64, String> {
    match errno_of(r) {
        Some(e) => Err(format!("{what} failed with {}", errno_name(e))),
        None => Ok(r),
    }
}

// ---------------------------------------------------------------------------
// Small helpers

/// An anonymous mapping used as a child stack (or shared scratch memory).
struct Stack {
    base: *mut u8,
    len: usize,
}

impl Stack {
    fn new(len: usize) -> Result<Stack, String> {
        let p = ok("mmap(stack)", unsafe {
            rs!(
                libc::SYS_mmap,
                0,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0
            )
        })?;
        Ok(Stack {
            base: p as *mut u8,
            len,
        })
    }
    fn top(&self) -> *mut u8 {
        unsafe { self.base.add(self.len) }
    }
    /// Never unmapped: a child that should not exist might still run on it.
    fn leak(self) {
        std::mem::forget(self);
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        unsafe { rs!(libc::SYS_munmap, self.base, self.len) };
    }
}

extern "C" fn child_exit0(_arg: usize) -> i64 {
    0
}

extern "C" fn child_exit_arg(arg: usize) -> i64 {
    arg as i64
}

/// Sleeps `ms` milliseconds with a raw nanosleep (safe in any child).
fn raw_sleep_ms(ms: i64) {
    let ts = libc::timespec {
        tv_sec: ms / 1000,
        tv_nsec: (ms % 1000) * 1_000_000,
    };
    unsafe { rs!(libc::SYS_nanosleep, &raw const ts, 0) };
}

/// In a child: waits (up to ~30 s) until `flag` holds `want`.
fn raw_wait_flag(flag: &AtomicI32, want: i32) -> bool {
    for _ in 0..30_000 {
        if flag.load(SeqCst) == want {
            return true;
        }
        raw_sleep_ms(1);
    }
    false
}

/// In the parent: polls `cond` for up to `secs` seconds.
fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Reaps child `pid` (wait4 with `flags`), polling for up to 60 s; on timeout
/// kills it. Returns the wait status.
fn reap(pid: i64, flags: i64) -> Result<i32, String> {
    let mut st: i32 = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = unsafe { rs!(libc::SYS_wait4, pid, &raw mut st, flags | WNOHANG, 0) };
        if r == pid {
            return Ok(st);
        }
        if r != 0 {
            return Err(format!("wait4({pid}, flags {flags:#x}) returned {}", show(r)));
        }
        if Instant::now() > deadline {
            unsafe { rs!(libc::SYS_kill, pid, libc::SIGKILL) };
            unsafe { rs!(libc::SYS_wait4, pid, &raw mut st, WALL, 0) };
            return Err(format!("child {pid} did not exit within 60 s (killed)"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A wait status of a normal exit with `code`.
fn exited(code: i32) -> i32 {
    (code & 0xff) << 8
}

/// Waits (shared FUTEX_WAIT, the kind the kernel's CHILD_CLEARTID wake reaches)
/// until the word at `w` is 0. Returns how many waits were woken (returned 0).
fn wait_word_zero(w: &AtomicI32, secs: i64) -> Result<u32, String> {
    let deadline = Instant::now() + Duration::from_secs(secs as u64);
    let mut woken = 0;
    loop {
        let v = w.load(SeqCst);
        if v == 0 {
            return Ok(woken);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("tid word still {v} after {secs} s"));
        }
        let ts = libc::timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        };
        let r = unsafe { rs!(libc::SYS_futex, w.as_ptr(), FUTEX_WAIT, v, &raw const ts, 0, 0) };
        match errno_of(r) {
            None => woken += 1,
            Some(libc::EAGAIN) | Some(libc::EINTR) => {}
            Some(libc::ETIMEDOUT) => {
                return Err(format!(
                    "FUTEX_WAIT on the tid word (value {v}) timed out after {secs} s: \
                     no clear+wake at thread exit"
                ))
            }
            Some(e) => return Err(format!("FUTEX_WAIT failed with {}", errno_name(e))),
        }
    }
}

fn get_fs() -> u64 {
    let mut fs: u64 = 0;
    unsafe { rs!(libc::SYS_arch_prctl, ARCH_GET_FS, &raw mut fs) };
    fs
}

fn pipe() -> Result<(i32, i32), String> {
    let mut fds = [0i32; 2];
    ok("pipe2", unsafe { rs!(libc::SYS_pipe2, fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok((fds[0], fds[1]))
}

fn close(fd: i32) {
    unsafe { rs!(libc::SYS_close, fd) };
}

/// Reads exactly `buf.len()` bytes from `fd`, waiting at most `secs` in total.
fn read_exact_timeout(fd: i32, buf: &mut [u8], secs: u64) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut got = 0;
    while got < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let r = unsafe { rs!(libc::SYS_poll, &raw mut pfd, 1, left.as_millis() as i64) };
        if r == 0 {
            return Err(format!("no data from the child within {secs} s ({got} bytes)"));
        }
        if errno_of(r) == Some(libc::EINTR) {
            continue;
        }
        ok("poll", r)?;
        let n = unsafe { rs!(libc::SYS_read, fd, buf.as_mut_ptr().add(got), buf.len() - got) };
        let n = ok("read", n)?;
        if n == 0 {
            return Err(format!("EOF from the child after {got} of {} bytes", buf.len()));
        }
        got += n as usize;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Threads

#[derive(Default)]
struct ThreadReport {
    tid: AtomicI64,
    pid: AtomicI64,
    ppid: AtomicI64,
    ctid_seen: AtomicI32,
    fs0: AtomicU64,
    fsbase: AtomicU64,
    ctid_ptr: AtomicU64,
    go: AtomicI32,
    dupfd: AtomicI64,
    started: AtomicI32,
}

extern "C" fn thread_child(arg: usize) -> i64 {
    let r = unsafe { &*(arg as *const ThreadReport) };
    unsafe {
        r.tid.store(rs!(libc::SYS_gettid), SeqCst);
        r.pid.store(rs!(libc::SYS_getpid), SeqCst);
        r.ppid.store(rs!(libc::SYS_getppid), SeqCst);
        let ctid = r.ctid_ptr.load(SeqCst) as *const AtomicI32;
        r.ctid_seen.store((*ctid).load(SeqCst), SeqCst);
        let fs0: u64;
        std::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) fs0, options(nostack, readonly));
        r.fs0.store(fs0, SeqCst);
        let mut base: u64 = 0;
        rs!(libc::SYS_arch_prctl, ARCH_GET_FS, &raw mut base);
        r.fsbase.store(base, SeqCst);
        r.started.store(1, SeqCst);
    }
    // Stay alive until the parent has looked at us.
    raw_wait_flag(&r.go, 1);
    0
}

/// Runs one raw thread with `flags` and checks what it saw.
fn thread_with_flags(flags: u64, child_settid: bool) -> CheckResult {
    let stack = Stack::new(STACK_LEN)?;
    let report = Box::new(ThreadReport::default());
    let mut tls = Box::new([0u64; 64]);
    tls[0] = TLS_MAGIC;
    let tls_addr = tls.as_ptr() as u64;
    let ptid = AtomicI32::new(-1);
    // With CHILD_SETTID the kernel overwrites the sentinel with the tid before the
    // thread runs; musl-style (no CHILD_SETTID) the word is a lock it holds: 1.
    let ctid = Box::new(AtomicI32::new(if child_settid { -1 } else { 1 }));
    report.ctid_ptr.store(ctid.as_ptr() as u64, SeqCst);
    let parent_fs = get_fs();
    let tid = unsafe {
        clone_fn(
            flags,
            stack.top(),
            ptid.as_ptr(),
            ctid.as_ptr(),
            tls_addr,
            thread_child,
            &*report as *const ThreadReport as usize,
        )
    };
    if errno_of(tid).is_some() {
        return Err(format!("clone({flags:#x}) failed: {}", show(tid)));
    }
    let result = (|| {
        ensure!(
            wait_until(30, || report.started.load(SeqCst) == 1),
            "the thread did not run within 30 s"
        );
        // A thread is not a child: nothing to wait for, even with __WALL.
        let mut st = 0i32;
        let w = unsafe { rs!(libc::SYS_wait4, -1, &raw mut st, WNOHANG | WALL, 0) };
        ensure!(
            errno_of(w) == Some(libc::ECHILD),
            "wait4(-1, WNOHANG|__WALL) with only a thread alive returned {}, expected ECHILD",
            show(w)
        );
        Ok(())
    })();
    report.go.store(1, SeqCst);
    let gone = wait_word_zero(&ctid, 30);
    if gone.is_err() {
        stack.leak();
        std::mem::forget(report);
        std::mem::forget(tls);
        std::mem::forget(ctid);
        return gone.map(|_| ());
    }
    drop(stack);
    result?;
    let me = unsafe { rs!(libc::SYS_getpid) };
    ensure_eq!(ptid.load(SeqCst) as i64, tid, "PARENT_SETTID word vs clone's return");
    ensure_eq!(report.tid.load(SeqCst), tid, "gettid() in the thread vs clone's return");
    ensure!(tid != me, "the thread's tid equals the pid {me}");
    ensure_eq!(report.pid.load(SeqCst), me, "getpid() in the thread");
    ensure_eq!(
        report.ppid.load(SeqCst),
        unsafe { rs!(libc::SYS_getppid) },
        "getppid() in the thread vs the process's"
    );
    if child_settid {
        ensure_eq!(
            report.ctid_seen.load(SeqCst) as i64,
            tid,
            "CHILD_SETTID word as the thread first saw it"
        );
    } else {
        ensure_eq!(
            report.ctid_seen.load(SeqCst),
            1,
            "tid word without CHILD_SETTID (must be left alone until exit)"
        );
    }
    ensure_eq!(ctid.load(SeqCst), 0, "CHILD_CLEARTID word after thread exit");
    ensure_eq!(report.fsbase.load(SeqCst), tls_addr, "ARCH_GET_FS in the thread vs SETTLS");
    ensure_eq!(report.fs0.load(SeqCst), TLS_MAGIC, "%fs:0 in the thread");
    ensure_eq!(get_fs(), parent_fs, "the parent's FS base after the clone");
    Ok(())
}

fn thread_glibc_flags() -> CheckResult {
    thread_with_flags(GLIBC_THREAD_FLAGS, true)
}

fn thread_musl_flags() -> CheckResult {
    thread_with_flags(MUSL_THREAD_FLAGS, false)
}

struct WakeShared {
    go: AtomicI32,
}

extern "C" fn thread_sleep_after_go(arg: usize) -> i64 {
    let s = unsafe { &*(arg as *const WakeShared) };
    raw_wait_flag(&s.go, 1);
    // Give the parent time to block in FUTEX_WAIT on the tid word.
    raw_sleep_ms(100);
    0
}

fn thread_cleartid_futex_wake() -> CheckResult {
    let mut woken_total = 0;
    for round in 0..3 {
        let stack = Stack::new(STACK_LEN)?;
        let shared = Box::new(WakeShared {
            go: AtomicI32::new(0),
        });
        let ctid = Box::new(AtomicI32::new(-1));
        let mut ptid = -1i32;
        let flags = CLONE_VM
            | CLONE_FS
            | CLONE_FILES
            | CLONE_SIGHAND
            | CLONE_THREAD
            | CLONE_SYSVSEM
            | CLONE_PARENT_SETTID
            | CLONE_CHILD_SETTID
            | CLONE_CHILD_CLEARTID;
        let tid = unsafe {
            clone_fn(
                flags,
                stack.top(),
                &raw mut ptid,
                ctid.as_ptr(),
                0,
                thread_sleep_after_go,
                &*shared as *const WakeShared as usize,
            )
        };
        ok("clone(thread)", tid)?;
        shared.go.store(1, SeqCst);
        match wait_word_zero(&ctid, 10) {
            Ok(w) => woken_total += w,
            Err(e) => {
                shared.go.store(1, SeqCst);
                stack.leak();
                std::mem::forget(shared);
                std::mem::forget(ctid);
                return Err(format!("round {round} (tid {tid}): {e}"));
            }
        }
        ensure_eq!(ctid.load(SeqCst), 0, "tid word after exit");
        drop(stack);
    }
    // Not asserted: on a busy machine the thread may exit before we block.
    let _ = woken_total;
    Ok(())
}

extern "C" fn thread_mark_ran(arg: usize) -> i64 {
    let s = unsafe { &*(arg as *const WakeShared) };
    s.go.store(1, SeqCst);
    0
}

fn thread_parent_settid_null() -> CheckResult {
    // Linux ignores a failed PARENT_SETTID store (kernel_clone does not check
    // put_user): the thread is created and clone returns its tid.
    let stack = Stack::new(STACK_LEN)?;
    let ran = Box::new(WakeShared {
        go: AtomicI32::new(0),
    });
    let ctid = Box::new(AtomicI32::new(-1));
    let flags = CLONE_VM
        | CLONE_FS
        | CLONE_FILES
        | CLONE_SIGHAND
        | CLONE_THREAD
        | CLONE_SYSVSEM
        | CLONE_PARENT_SETTID
        | CLONE_CHILD_SETTID
        | CLONE_CHILD_CLEARTID;
    let tid = unsafe {
        clone_fn(
            flags,
            stack.top(),
            std::ptr::null_mut(),
            ctid.as_ptr(),
            0,
            thread_mark_ran,
            &*ran as *const WakeShared as usize,
        )
    };
    let gone = wait_word_zero(&ctid, 10);
    let did_run = ran.go.load(SeqCst) == 1;
    if errno_of(tid).is_some() || gone.is_err() {
        // Whatever ran must never lose its stack or words.
        stack.leak();
        std::mem::forget(ran);
        std::mem::forget(ctid);
        ensure!(
            errno_of(tid).is_none(),
            "clone(thread flags with PARENT_SETTID, ptid NULL) returned {}, expected a tid \
             (Linux ignores the failed store){}",
            show(tid),
            if did_run { "; the thread was created and ran anyway" } else { "" }
        );
        return gone.map(|_| ());
    }
    drop(stack);
    ensure!(did_run, "the thread never ran");
    Ok(())
}

extern "C" fn thread_dup_stdout(arg: usize) -> i64 {
    let r = unsafe { &*(arg as *const ThreadReport) };
    let fd = unsafe { rs!(libc::SYS_dup, 1) };
    r.dupfd.store(fd, SeqCst);
    0
}

fn thread_shares_fd_table() -> CheckResult {
    // With CLONE_FILES the thread's dup() is our descriptor.
    let stack = Stack::new(STACK_LEN)?;
    let report = Box::new(ThreadReport::default());
    report.dupfd.store(-1, SeqCst);
    let ctid = Box::new(AtomicI32::new(-1));
    let mut ptid: i32 = -1;
    let tid = unsafe {
        clone_fn(
            GLIBC_THREAD_FLAGS & !CLONE_SETTLS,
            stack.top(),
            &raw mut ptid,
            ctid.as_ptr(),
            0,
            thread_dup_stdout,
            &*report as *const ThreadReport as usize,
        )
    };
    ok("clone(thread)", tid)?;
    if let Err(e) = wait_word_zero(&ctid, 30) {
        stack.leak();
        std::mem::forget(report);
        std::mem::forget(ctid);
        return Err(e);
    }
    drop(stack);
    let fd = report.dupfd.load(SeqCst);
    ensure!(fd > 2, "dup(1) in the thread returned {}", show(fd));
    let r = unsafe { rs!(libc::SYS_fcntl, fd, libc::F_GETFD) };
    ensure_eq!(r, 0, "fcntl(F_GETFD) in the parent on the thread's dup {fd}");
    close(fd as i32);

    // Without CLONE_FILES (a fork-like child) the child's dup is its own.
    let stack = Stack::new(STACK_LEN)?;
    let pid = unsafe {
        clone_fn(
            SIGCHLD,
            stack.top(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
            child_dup_report,
            0,
        )
    };
    ok("clone(SIGCHLD)", pid)?;
    let st = reap(pid, 0)?;
    ensure!(
        st & 0x7f == 0,
        "the fork-like child died with status {st:#x}"
    );
    let fd = (st >> 8) & 0xff;
    ensure!(fd > 2, "dup(1) in the child gave {fd}");
    let r = unsafe { rs!(libc::SYS_fcntl, fd, libc::F_GETFD) };
    ensure!(
        errno_of(r) == Some(libc::EBADF),
        "fcntl(F_GETFD) on fd {fd} that only the separate child opened returned {}, expected EBADF",
        show(r)
    );
    Ok(())
}

extern "C" fn child_dup_report(_arg: usize) -> i64 {
    unsafe { rs!(libc::SYS_dup, 1) }
}

// ---------------------------------------------------------------------------
// vfork, fork-like clones

struct Steps {
    step: AtomicI32,
}

extern "C" fn vfork_child(arg: usize) -> i64 {
    let s = unsafe { &*(arg as *const Steps) };
    s.step.store(1, SeqCst);
    raw_sleep_ms(100);
    s.step.store(2, SeqCst);
    7
}

fn vfork_flags_hold_parent() -> CheckResult {
    let stack = Stack::new(STACK_LEN)?;
    let steps = Steps {
        step: AtomicI32::new(0),
    };
    let pid = unsafe {
        clone_fn(
            CLONE_VM | CLONE_VFORK | SIGCHLD,
            stack.top(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
            vfork_child,
            &raw const steps as usize,
        )
    };
    ok("clone(VM|VFORK|SIGCHLD)", pid)?;
    let seen = steps.step.load(SeqCst);
    let st = reap(pid, 0);
    drop(stack);
    let st = st?;
    ensure_eq!(
        seen,
        2,
        "step seen by the parent when clone(VFORK) returned (the child sets 1, sleeps 100 ms, sets 2, exits)"
    );
    ensure_eq!(st, exited(7), "wait status of the vfork child");
    Ok(())
}

static mut COW_WORD: u64 = 0x1111;

fn block_signal(sig: i32) -> Result<u64, String> {
    let set: u64 = 1 << (sig - 1);
    let mut old: u64 = 0;
    ok("rt_sigprocmask(SIG_BLOCK)", unsafe {
        rs!(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, &raw const set, &raw mut old, 8)
    })?;
    Ok(old)
}

fn set_mask(mask: u64) {
    unsafe { rs!(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &raw const mask, 0, 8) };
}

fn sigpending() -> u64 {
    let mut set: u64 = 0;
    unsafe { rs!(libc::SYS_rt_sigpending, &raw mut set, 8) };
    set
}

/// Takes `sig` if it is pending (blocked); returns whether it was.
fn take_pending(sig: i32) -> bool {
    let set: u64 = 1 << (sig - 1);
    let ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let r = unsafe { rs!(libc::SYS_rt_sigtimedwait, &raw const set, 0, &raw const ts, 8) };
    r == sig as i64
}

/// Checks the SIGCHLD of an exited fork-like child was queued, and takes it.
fn expect_sigchld_queued() -> CheckResult {
    let pending = sigpending();
    ensure!(
        pending & (1 << (SIGCHLD - 1)) != 0,
        "SIGCHLD not pending after the child exited (pending {pending:#x})"
    );
    ensure!(take_pending(SIGCHLD as i32), "rt_sigtimedwait did not return SIGCHLD");
    Ok(())
}

fn fork_sigchld_no_stack() -> CheckResult {
    let old = block_signal(SIGCHLD as i32)?;
    let _ = take_pending(SIGCHLD as i32);
    unsafe { COW_WORD = 0x1111 };
    // Plain fork semantics: no stack, the child continues here on a copy.
    let pid = unsafe { rs!(libc::SYS_clone, SIGCHLD, 0, 0, 0, 0) };
    if pid == 0 {
        unsafe {
            COW_WORD = 0x2222;
            let code = if std::ptr::read_volatile(&raw const COW_WORD) == 0x2222 { 3 } else { 4 };
            rs!(libc::SYS_exit_group, code);
        }
    }
    let result = (|| {
        ok("clone(SIGCHLD, stack 0)", pid)?;
        let st = reap(pid, 0)?;
        ensure_eq!(st, exited(3), "wait status of the fork-like child");
        ensure_eq!(
            unsafe { std::ptr::read_volatile(&raw const COW_WORD) },
            0x1111,
            "our copy of a static the child wrote"
        );
        expect_sigchld_queued()
    })();
    let _ = take_pending(SIGCHLD as i32);
    set_mask(old);
    result
}

extern "C" fn child_write_static(_arg: usize) -> i64 {
    unsafe {
        std::ptr::write_volatile(&raw mut COW_WORD, 0x3333);
        if std::ptr::read_volatile(&raw const COW_WORD) == 0x3333 {
            5
        } else {
            6
        }
    }
}

fn fork_sigchld_child_stack() -> CheckResult {
    let old = block_signal(SIGCHLD as i32)?;
    let _ = take_pending(SIGCHLD as i32);
    unsafe { COW_WORD = 0x1111 };
    let stack = Stack::new(STACK_LEN)?;
    let result = (|| {
        let pid = unsafe {
            clone_fn(
                SIGCHLD,
                stack.top(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
                child_write_static,
                0,
            )
        };
        ok("clone(SIGCHLD, child stack)", pid)?;
        let st = reap(pid, 0)?;
        ensure_eq!(st, exited(5), "wait status of the child");
        ensure_eq!(
            unsafe { std::ptr::read_volatile(&raw const COW_WORD) },
            0x1111,
            "our copy of a static the child wrote"
        );
        expect_sigchld_queued()
    })();
    let _ = take_pending(SIGCHLD as i32);
    set_mask(old);
    result
}

#[repr(C, align(16))]
struct StaticStack([u8; 128 << 10]);
static mut LIBC_CLONE_STACK: StaticStack = StaticStack([0; 128 << 10]);

extern "C" fn libc_clone_child(arg: *mut libc::c_void) -> libc::c_int {
    // A local on the child's stack must lie inside the static stack.
    let local = 0u8;
    let at = &raw const local as usize;
    let base = (&raw const LIBC_CLONE_STACK) as usize;
    let inside = at > base && at < base + (128 << 10);
    if inside {
        arg as usize as libc::c_int
    } else {
        99
    }
}

fn libc_clone_static_stack() -> CheckResult {
    let top = unsafe { ((&raw mut LIBC_CLONE_STACK) as *mut u8).add(128 << 10) };
    let pid = unsafe {
        libc::clone(
            libc_clone_child,
            top as *mut libc::c_void,
            SIGCHLD as i32,
            44usize as *mut libc::c_void,
        )
    };
    ensure!(pid > 0, "libc::clone(SIGCHLD) returned {pid} (errno {})", checks::errno());
    let st = reap(pid as i64, 0)?;
    ensure!(
        st != exited(99),
        "the child's locals were not on the static stack it was given"
    );
    ensure_eq!(st, exited(44), "wait status of the libc::clone child");
    Ok(())
}

fn exit_signal_zero_needs_wclone() -> CheckResult {
    // Exit signal 0: not a SIGCHLD child, invisible to a plain wait.
    let stack = Stack::new(STACK_LEN)?;
    let pid = unsafe {
        clone_fn(0, stack.top(), std::ptr::null_mut(), std::ptr::null_mut(), 0, child_exit_arg, 12)
    };
    ok("clone(exit signal 0)", pid)?;
    let mut st = 0i32;
    let r = unsafe { rs!(libc::SYS_wait4, pid, &raw mut st, 0, 0) };
    if r == pid {
        return Err("wait4(pid, 0) reaped a child whose exit signal is 0 (needs __WCLONE/__WALL)".into());
    }
    ensure!(
        errno_of(r) == Some(libc::ECHILD),
        "wait4(pid, 0) on an exit-signal-0 child returned {}, expected ECHILD",
        show(r)
    );
    let st = reap(pid, WCLONE)?;
    ensure_eq!(st, exited(12), "wait4(pid, __WCLONE) status");
    drop(stack);
    Ok(())
}

fn exit_signal_sigusr1() -> CheckResult {
    // Exit signal SIGUSR1: delivered to us when the child exits; __WALL reaps it.
    let old = block_signal(SIGUSR1)?;
    let _ = take_pending(SIGUSR1);
    let stack = Stack::new(STACK_LEN)?;
    let result = (|| {
        let pid = unsafe {
            clone_fn(
                SIGUSR1 as u64,
                stack.top(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
                child_exit_arg,
                13,
            )
        };
        ok("clone(exit signal SIGUSR1)", pid)?;
        let st = reap(pid, WALL)?;
        ensure_eq!(st, exited(13), "wait4(pid, __WALL) status");
        let pending = sigpending();
        ensure!(
            pending & (1 << (SIGUSR1 - 1)) != 0,
            "SIGUSR1 (the exit signal) not pending after the child exited (pending {pending:#x})"
        );
        Ok(())
    })();
    let _ = take_pending(SIGUSR1);
    set_mask(old);
    result
}

extern "C" fn child_check_ctid(arg: usize) -> i64 {
    // arg: address of our (copied) ctid word; CHILD_SETTID wrote our tid there.
    let w = unsafe { &*(arg as *const AtomicI32) };
    let me = unsafe { rs!(libc::SYS_getpid) };
    if w.load(SeqCst) as i64 == me {
        0
    } else {
        1
    }
}

fn settid_child_own_memory() -> CheckResult {
    let stack = Stack::new(STACK_LEN)?;
    let ptid = Box::new(AtomicI32::new(-1));
    let ctid = Box::new(AtomicI32::new(-1));
    let pid = unsafe {
        clone_fn(
            SIGCHLD | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID,
            stack.top(),
            ptid.as_ptr(),
            ctid.as_ptr(),
            0,
            child_check_ctid,
            ctid.as_ptr() as usize,
        )
    };
    ok("clone(SIGCHLD|PARENT_SETTID|CHILD_SETTID)", pid)?;
    let st = reap(pid, 0)?;
    ensure_eq!(ptid.load(SeqCst) as i64, pid, "PARENT_SETTID word in the parent");
    ensure_eq!(
        ctid.load(SeqCst),
        -1,
        "our CHILD_SETTID word (the kernel writes it in the child's memory only)"
    );
    ensure_eq!(st, exited(0), "child status (1: its CHILD_SETTID word was not its pid)");
    Ok(())
}

// ---------------------------------------------------------------------------
// CLONE_FS

struct FsArgs {
    to_parent: i32,
    from_parent: i32,
    dir: *const libc::c_char,
}

extern "C" fn fs_child(arg: usize) -> i64 {
    let a = unsafe { &*(arg as *const FsArgs) };
    unsafe {
        if rs!(libc::SYS_chdir, a.dir) != 0 {
            return 10;
        }
        rs!(libc::SYS_umask, 0o077);
        let b = [b'1'];
        rs!(libc::SYS_write, a.to_parent, b.as_ptr(), 1);
        let mut c = [0u8; 1];
        if rs!(libc::SYS_read, a.from_parent, c.as_mut_ptr(), 1) != 1 {
            return 11;
        }
        // Report: our umask (1 byte) then our cwd, padded to 256 bytes.
        let mut out = [0u8; 257];
        let m = rs!(libc::SYS_umask, 0o077);
        out[0] = m as u8;
        let n = rs!(libc::SYS_getcwd, out.as_mut_ptr().add(1), 256);
        if n <= 0 {
            return 12;
        }
        rs!(libc::SYS_write, a.to_parent, out.as_ptr(), 257);
    }
    0
}

fn getcwd() -> Result<String, String> {
    let mut buf = [0u8; 512];
    let n = ok("getcwd", unsafe { rs!(libc::SYS_getcwd, buf.as_mut_ptr(), 512) })? as usize;
    Ok(String::from_utf8_lossy(&buf[..n.saturating_sub(1)]).into_owned())
}

fn cstr_field(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn clone_fs(shared: bool) -> CheckResult {
    let orig_cwd = getcwd()?;
    let orig_umask = unsafe { rs!(libc::SYS_umask, 0o022) };
    let me = unsafe { rs!(libc::SYS_getpid) };
    let dir = format!("/tmp/proc_clone_fs.{me}");
    let cdir = std::ffi::CString::new(dir.clone()).unwrap();
    let r = unsafe { rs!(libc::SYS_mkdir, cdir.as_ptr(), 0o755) };
    if errno_of(r).is_some_and(|e| e != libc::EEXIST) {
        unsafe { rs!(libc::SYS_umask, orig_umask) };
        return Err(format!("mkdir {dir}: {}", show(r)));
    }
    let result = (|| {
        ok("chdir(/)", unsafe { rs!(libc::SYS_chdir, c"/".as_ptr()) })?;
        let (c2p_r, c2p_w) = pipe()?;
        let (p2c_r, p2c_w) = pipe()?;
        let args = FsArgs {
            to_parent: c2p_w,
            from_parent: p2c_r,
            dir: cdir.as_ptr(),
        };
        let stack = Stack::new(STACK_LEN)?;
        let flags = if shared { CLONE_FS | SIGCHLD } else { SIGCHLD };
        let pid = unsafe {
            clone_fn(
                flags,
                stack.top(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
                fs_child,
                &raw const args as usize,
            )
        };
        close(c2p_w);
        close(p2c_r);
        let inner = (|| {
            ok("clone", pid)?;
            let mut b = [0u8; 1];
            read_exact_timeout(c2p_r, &mut b, 30)?;
            let cwd_after = getcwd()?;
            let umask_after = unsafe { rs!(libc::SYS_umask, 0o027) };
            ok("chdir(/) again", unsafe { rs!(libc::SYS_chdir, c"/".as_ptr()) })?;
            unsafe { rs!(libc::SYS_write, p2c_w, b.as_ptr(), 1) };
            let mut rep = [0u8; 257];
            read_exact_timeout(c2p_r, &mut rep, 30)?;
            let child_umask = rep[0] as i64;
            let child_cwd = cstr_field(&rep[1..]);
            let st = reap(pid, 0)?;
            ensure_eq!(st, exited(0), "child status (10-12: a step in the child failed)");
            if shared {
                ensure_eq!(cwd_after, dir, "our cwd after the CLONE_FS child's chdir");
                ensure_eq!(umask_after, 0o077, "our umask after the CLONE_FS child's umask(077)");
                ensure_eq!(child_cwd, "/", "the CLONE_FS child's cwd after our chdir(/)");
                ensure_eq!(child_umask, 0o027, "the CLONE_FS child's umask after our umask(027)");
            } else {
                ensure_eq!(cwd_after, "/", "our cwd after a separate child's chdir");
                ensure_eq!(umask_after, 0o022, "our umask after a separate child's umask(077)");
                ensure_eq!(child_cwd, dir, "the separate child's cwd after our chdir(/)");
                ensure_eq!(child_umask, 0o077, "the separate child's umask after our umask(027)");
            }
            Ok(())
        })();
        if inner.is_err() && errno_of(pid).is_none() {
            unsafe { rs!(libc::SYS_kill, pid, libc::SIGKILL) };
            let _ = reap(pid, 0);
        }
        close(c2p_r);
        close(p2c_w);
        inner
    })();
    let cwd = std::ffi::CString::new(orig_cwd).unwrap();
    unsafe {
        rs!(libc::SYS_chdir, cwd.as_ptr());
        rs!(libc::SYS_umask, orig_umask);
        rs!(libc::SYS_rmdir, cdir.as_ptr());
    }
    result
}

// ---------------------------------------------------------------------------
// CLONE_SIGHAND

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
struct KSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

extern "C" fn handler_a(_: libc::c_int) {}
extern "C" fn handler_b(_: libc::c_int) {}

std::arch::global_asm!(
    ".globl proc_clone_restore_rt",
    "proc_clone_restore_rt:",
    "mov rax, 15",
    "syscall",
    "ud2",
);
extern "C" {
    fn proc_clone_restore_rt();
}

fn get_action(sig: i32) -> KSigaction {
    let mut k = KSigaction::default();
    unsafe { rs!(libc::SYS_rt_sigaction, sig, 0, &raw mut k, 8) };
    k
}

fn set_action(sig: i32, k: &KSigaction) -> i64 {
    unsafe { rs!(libc::SYS_rt_sigaction, sig, k as *const KSigaction, 0, 8) }
}

#[derive(Default)]
struct SighandShared {
    step: AtomicI32,
    usr2_handler_seen: AtomicU64,
    pending_seen: AtomicU64,
    mask_seen: AtomicU64,
    fail: AtomicI32,
}

extern "C" fn sighand_child(arg: usize) -> i64 {
    let s = unsafe { &*(arg as *const SighandShared) };
    unsafe {
        let act = KSigaction {
            handler: handler_a as *const () as usize,
            flags: SA_RESTORER,
            restorer: proc_clone_restore_rt as *const () as usize,
            mask: 0,
        };
        if rs!(libc::SYS_rt_sigaction, SIGUSR1, &raw const act, 0, 8) != 0 {
            s.fail.store(1, SeqCst);
        }
        let set: u64 = 1 << (SIGUSR2 - 1);
        if rs!(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, &raw const set, 0, 8) != 0 {
            s.fail.store(2, SeqCst);
        }
    }
    s.step.store(1, SeqCst);
    if !raw_wait_flag(&s.step, 2) {
        return 3;
    }
    unsafe {
        let mut old = KSigaction::default();
        rs!(libc::SYS_rt_sigaction, SIGUSR2, 0, &raw mut old, 8);
        s.usr2_handler_seen.store(old.handler as u64, SeqCst);
        let mut pend: u64 = 0;
        rs!(libc::SYS_rt_sigpending, &raw mut pend, 8);
        s.pending_seen.store(pend, SeqCst);
        let mut mask: u64 = 0;
        rs!(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, 0, &raw mut mask, 8);
        s.mask_seen.store(mask, SeqCst);
    }
    0
}

fn clone_sighand_shares_handlers() -> CheckResult {
    let saved1 = get_action(SIGUSR1);
    let saved2 = get_action(SIGUSR2);
    let mut old_mask: u64 = 0;
    let unblock: u64 = (1 << (SIGUSR1 - 1)) | (1 << (SIGUSR2 - 1));
    unsafe {
        rs!(libc::SYS_rt_sigprocmask, libc::SIG_UNBLOCK, &raw const unblock, &raw mut old_mask, 8)
    };
    let dfl = KSigaction::default();
    set_action(SIGUSR1, &dfl);
    set_action(SIGUSR2, &dfl);
    let stack = Stack::new(STACK_LEN)?;
    let shared = Box::new(SighandShared::default());
    let pid = unsafe {
        clone_fn(
            CLONE_VM | CLONE_SIGHAND | SIGCHLD,
            stack.top(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
            sighand_child,
            &*shared as *const SighandShared as usize,
        )
    };
    let result = (|| {
        ok("clone(VM|SIGHAND|SIGCHLD)", pid)?;
        ensure!(
            wait_until(30, || shared.step.load(SeqCst) == 1),
            "the child did not run within 30 s"
        );
        ensure_eq!(shared.fail.load(SeqCst), 0, "child setup step that failed");
        let a1 = get_action(SIGUSR1);
        ensure_eq!(
            a1.handler,
            handler_a as *const () as usize,
            "our SIGUSR1 handler after the CLONE_SIGHAND child's sigaction"
        );
        let mut mask: u64 = 0;
        unsafe { rs!(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, 0, &raw mut mask, 8) };
        ensure!(
            mask & (1 << (SIGUSR2 - 1)) == 0,
            "the child's SIG_BLOCK of SIGUSR2 changed our mask ({mask:#x})"
        );
        // Now we change a handler; the child must see it.
        let act = KSigaction {
            handler: handler_b as *const () as usize,
            flags: SA_RESTORER,
            restorer: proc_clone_restore_rt as *const () as usize,
            mask: 0,
        };
        ok("rt_sigaction(SIGUSR2)", set_action(SIGUSR2, &act))?;
        // A signal sent to the child (blocked there) is pending there, not here.
        ok("kill(child, SIGUSR2)", unsafe { rs!(libc::SYS_kill, pid, SIGUSR2) })?;
        let ours = sigpending();
        shared.step.store(2, SeqCst);
        let st = reap(pid, 0)?;
        ensure_eq!(st, exited(0), "child status (3: not released)");
        ensure!(
            ours & (1 << (SIGUSR2 - 1)) == 0,
            "SIGUSR2 sent to the child is pending in the parent ({ours:#x})"
        );
        ensure_eq!(
            shared.usr2_handler_seen.load(SeqCst),
            handler_b as *const () as usize as u64,
            "the child's view of SIGUSR2's handler after our sigaction"
        );
        let pend = shared.pending_seen.load(SeqCst);
        ensure_eq!(pend, 1u64 << (SIGUSR2 - 1), "the child's pending set");
        let cmask = shared.mask_seen.load(SeqCst);
        ensure!(
            cmask & (1 << (SIGUSR2 - 1)) != 0,
            "the child's mask lost SIGUSR2 ({cmask:#x})"
        );
        Ok(())
    })();
    if result.is_err() && errno_of(pid).is_none() {
        shared.step.store(2, SeqCst);
        let _ = reap(pid, 0);
    }
    drop(stack);
    set_action(SIGUSR1, &saved1);
    set_action(SIGUSR2, &saved2);
    set_mask(old_mask);
    result
}

// ---------------------------------------------------------------------------
// Legacy CLONE_PIDFD, EINVAL cases

fn poll_in(fd: i32, ms: i64) -> Result<i16, String> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let r = ok("poll(pidfd)", unsafe { rs!(libc::SYS_poll, &raw mut pfd, 1, ms) })?;
    Ok(if r == 0 { 0 } else { pfd.revents })
}

extern "C" fn child_wait_pipe(arg: usize) -> i64 {
    // arg: read end of a pipe; exits 0 once a byte arrives.
    let mut b = [0u8; 1];
    unsafe { rs!(libc::SYS_read, arg, b.as_mut_ptr(), 1) };
    0
}

/// Child waits on a pipe; we check the pidfd is not readable, release the child
/// and check it becomes readable; then reap by pid.
fn pidfd_poll_cycle(pidfd: i32, pid: i64, release: i32) -> CheckResult {
    ensure!(pidfd > 2, "pidfd = {pidfd}");
    let fdflags = unsafe { rs!(libc::SYS_fcntl, pidfd, libc::F_GETFD) };
    ensure_eq!(fdflags, libc::FD_CLOEXEC as i64, "fcntl(pidfd, F_GETFD)");
    let before = poll_in(pidfd, 0)?;
    // The child has its own copy of the write end: release it with a byte.
    unsafe { rs!(libc::SYS_write, release, b"x".as_ptr(), 1) };
    close(release);
    let after = poll_in(pidfd, 30_000)?;
    let st = reap(pid, 0)?;
    ensure_eq!(before, 0, "poll(pidfd) revents while the child runs");
    ensure!(
        after & libc::POLLIN != 0,
        "poll(pidfd) revents after the child exited: {after:#x}, expected POLLIN"
    );
    ensure_eq!(st, exited(0), "child status");
    Ok(())
}

fn clone_pidfd_legacy() -> CheckResult {
    let (r, w) = pipe()?;
    let stack = Stack::new(STACK_LEN)?;
    let mut pidfd: i32 = -1;
    // Legacy clone returns the pidfd through the parent_tid argument.
    let pid = unsafe {
        clone_fn(
            CLONE_PIDFD | SIGCHLD,
            stack.top(),
            &raw mut pidfd,
            std::ptr::null_mut(),
            0,
            child_wait_pipe,
            r as usize,
        )
    };
    close(r);
    if errno_of(pid).is_some() {
        close(w);
        return Err(format!("clone(PIDFD|SIGCHLD) failed: {}", show(pid)));
    }
    let res = pidfd_poll_cycle(pidfd, pid, w);
    if res.is_err() {
        let _ = reap(pid, 0);
    }
    if pidfd >= 0 {
        close(pidfd);
    }
    res
}

/// After a clone that should have failed returned `r`: kill/reap a stray child.
fn expect_clone_errno(what: &str, r: i64, want: i32, is_thread: bool) -> CheckResult {
    if errno_of(r).is_none() {
        if !is_thread && r > 0 {
            let _ = reap(r, WALL);
        }
        return Err(format!("{what} succeeded ({r}), expected {}", errno_name(want)));
    }
    ensure!(
        errno_of(r) == Some(want),
        "{what} returned {}, expected {}",
        show(r),
        errno_name(want)
    );
    Ok(())
}

fn clone_einval() -> CheckResult {
    let cases: [(&str, u64, bool); 6] = [
        ("clone(THREAD|VM) without SIGHAND", CLONE_THREAD | CLONE_VM, true),
        ("clone(SIGHAND|SIGCHLD) without VM", CLONE_SIGHAND | SIGCHLD, false),
        ("clone(FS|NEWNS|SIGCHLD)", CLONE_FS | CLONE_NEWNS | SIGCHLD, false),
        ("clone(FS|NEWUSER|SIGCHLD)", CLONE_FS | CLONE_NEWUSER | SIGCHLD, false),
        (
            "clone(THREAD|SIGHAND) without VM",
            CLONE_THREAD | CLONE_SIGHAND,
            true,
        ),
        (
            "clone(PIDFD|DETACHED|SIGCHLD)",
            CLONE_PIDFD | CLONE_DETACHED | SIGCHLD,
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (what, flags, is_thread) in cases {
        // A stack that is never freed, in case the clone wrongly succeeds.
        let stack = Stack::new(64 << 10)?;
        let mut pidfd: i32 = -1;
        let r = unsafe {
            clone_fn(
                flags,
                stack.top(),
                &raw mut pidfd,
                std::ptr::null_mut(),
                0,
                child_exit0,
                0,
            )
        };
        if errno_of(r).is_some() {
            drop(stack);
        } else {
            stack.leak();
            if pidfd >= 0 {
                close(pidfd);
            }
        }
        if let Err(e) = expect_clone_errno(what, r, libc::EINVAL, is_thread) {
            failures.push(e);
        }
    }
    all_ok(failures)
}

/// Ok if nothing failed, else every failure in one reason.
fn all_ok(failures: Vec<String>) -> CheckResult {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} case(s) wrong: {}", failures.len(), failures.join("; ")))
    }
}

// ---------------------------------------------------------------------------
// clone3

fn clone3_basic(size: usize) -> CheckResult {
    let args = CloneArgs::new(0, SIGCHLD);
    let pid = unsafe { clone3_fn(&raw const args as *const u8, size, child_exit_arg, size) };
    ok(&format!("clone3(size {size})"), pid)?;
    let st = reap(pid, 0)?;
    ensure_eq!(st, exited(size as i32), "child status");
    Ok(())
}

struct StackRange {
    lo: usize,
    hi: usize,
}

extern "C" fn child_on_stack(arg: usize) -> i64 {
    let r = unsafe { &*(arg as *const StackRange) };
    let local = 0u8;
    let at = &raw const local as usize;
    if at > r.lo && at < r.hi {
        21
    } else {
        22
    }
}

fn clone3_child_stack() -> CheckResult {
    let stack = Stack::new(STACK_LEN)?;
    let range = StackRange {
        lo: stack.base as usize,
        hi: stack.base as usize + STACK_LEN,
    };
    let mut ptid: i32 = -1;
    let mut args = CloneArgs::new(CLONE_PARENT_SETTID, SIGCHLD);
    args.stack = stack.base as u64;
    args.stack_size = STACK_LEN as u64;
    args.parent_tid = &raw mut ptid as u64;
    let pid = unsafe {
        clone3_fn(&raw const args as *const u8, 64, child_on_stack, &raw const range as usize)
    };
    ok("clone3(stack)", pid)?;
    let st = reap(pid, 0)?;
    ensure_eq!(ptid as i64, pid, "clone3 parent_tid word");
    ensure!(
        st != exited(22),
        "the child did not run on the clone3 stack [{:#x}, {:#x})",
        range.lo,
        range.hi
    );
    ensure_eq!(st, exited(21), "child status");
    Ok(())
}

fn clone3_pidfd() -> CheckResult {
    let (r, w) = pipe()?;
    let mut pidfd: i32 = -1;
    let mut args = CloneArgs::new(CLONE_PIDFD, SIGCHLD);
    args.pidfd = &raw mut pidfd as u64;
    let pid = unsafe { clone3_fn(&raw const args as *const u8, 64, child_wait_pipe, r as usize) };
    close(r);
    if errno_of(pid).is_some() {
        close(w);
        return Err(format!("clone3(PIDFD) failed: {}", show(pid)));
    }
    let res = pidfd_poll_cycle(pidfd, pid, w);
    if res.is_err() {
        let _ = reap(pid, 0);
    }
    if pidfd >= 0 {
        close(pidfd);
    }
    res
}

fn clone3_expect(what: &str, args: &CloneArgs, size: usize, want: i32, is_thread: bool) -> CheckResult {
    let r = unsafe { clone3_fn(args as *const CloneArgs as *const u8, size, child_exit0, 0) };
    expect_clone_errno(what, r, want, is_thread)
}

fn clone3_e2big() -> CheckResult {
    let mut f = Vec::new();
    let mut args = CloneArgs::new(0, SIGCHLD);
    args.tail[1] = 1; // bytes 96..104
    f.push(clone3_expect("clone3(size 104, byte 96 non-zero)", &args, 104, libc::E2BIG, false));
    let mut args = CloneArgs::new(0, SIGCHLD);
    args.tail[0] = 0x100; // bytes 88..96
    f.push(clone3_expect("clone3(size 96, byte 89 non-zero)", &args, 96, libc::E2BIG, false));
    let args = CloneArgs::new(0, SIGCHLD);
    f.push(clone3_expect("clone3(size 4097)", &args, 4097, libc::E2BIG, false));
    all_ok(f.into_iter().filter_map(|r| r.err()).collect())
}

fn clone3_einval() -> CheckResult {
    let mut f = Vec::new();
    // A stack for the cases that share memory, so that a wrong success cannot
    // run on ours. Never unmapped: a wrongly created child might be using it.
    let stack = Stack::new(64 << 10)?;
    let with_stack = |mut a: CloneArgs| {
        a.stack = stack.base as u64;
        a.stack_size = 64 << 10;
        a
    };
    let args = CloneArgs::new(0, SIGCHLD);
    f.push(clone3_expect("clone3(size 63)", &args, 63, libc::EINVAL, false));
    f.push(clone3_expect("clone3(size 0)", &args, 0, libc::EINVAL, false));
    let args = CloneArgs::new(0, 65);
    f.push(clone3_expect("clone3(exit_signal 65)", &args, 64, libc::EINVAL, false));
    let args = CloneArgs::new(0, (1 << 32) | SIGCHLD);
    f.push(clone3_expect("clone3(exit_signal 1<<32|SIGCHLD)", &args, 64, libc::EINVAL, false));
    let args = CloneArgs::new(SIGCHLD & CSIGNAL, 0);
    f.push(clone3_expect("clone3(flags with CSIGNAL bits)", &args, 64, libc::EINVAL, false));
    let args = CloneArgs::new(CLONE_DETACHED, SIGCHLD);
    f.push(clone3_expect("clone3(CLONE_DETACHED)", &args, 64, libc::EINVAL, false));
    let args = CloneArgs::new(1 << 40, SIGCHLD);
    f.push(clone3_expect("clone3(unknown flag 1<<40)", &args, 64, libc::EINVAL, false));
    let a = with_stack(CloneArgs::new(CLONE_VM | CLONE_SIGHAND | CLONE_CLEAR_SIGHAND, SIGCHLD));
    f.push(clone3_expect("clone3(SIGHAND|CLEAR_SIGHAND)", &a, 64, libc::EINVAL, false));
    let a = with_stack(CloneArgs::new(CLONE_VM | CLONE_SIGHAND | CLONE_THREAD, SIGCHLD));
    f.push(clone3_expect("clone3(THREAD with exit_signal SIGCHLD)", &a, 64, libc::EINVAL, true));
    let mut a = CloneArgs::new(0, SIGCHLD);
    a.stack = stack.base as u64;
    a.stack_size = 0;
    f.push(clone3_expect("clone3(stack, stack_size 0)", &a, 64, libc::EINVAL, false));
    let mut a = CloneArgs::new(0, SIGCHLD);
    a.stack = 0;
    a.stack_size = 4096;
    f.push(clone3_expect("clone3(stack 0, stack_size 4096)", &a, 64, libc::EINVAL, false));
    let tids = [0i32; 40];
    let mut a = CloneArgs::new(0, SIGCHLD);
    a.set_tid = tids.as_ptr() as u64;
    a.set_tid_size = 40;
    f.push(clone3_expect("clone3(set_tid_size 40)", &a, 88, libc::EINVAL, false));
    let mut a = CloneArgs::new(0, SIGCHLD);
    a.set_tid = 0;
    a.set_tid_size = 1;
    f.push(clone3_expect("clone3(set_tid NULL, set_tid_size 1)", &a, 88, libc::EINVAL, false));
    stack.leak();
    all_ok(f.into_iter().filter_map(|r| r.err()).collect())
}
