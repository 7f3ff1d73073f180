//! `proc_ids` suite: process identity, limits and per-process knobs.
//!
//! Covers: getpid/gettid/getppid (main thread, another thread, a forked child);
//! getpgid/getpgrp/getsid (ESRCH for a missing pid); setpgid (moving a child
//! between groups; EINVAL for a negative pgid and for a non-leader thread; ESRCH
//! for a missing pid and for a process that is not our child; EPERM for a group
//! that does not exist in our session and for a child in another session; EACCES
//! for a child that has exec'd); setsid (EPERM for a group leader, a new session
//! otherwise, EPERM again, and a session leader cannot setpgid); uid/gid calls
//! consistent with getresuid/getresgid (the value itself is not asserted),
//! getgroups; prctl PR_SET_NAME/PR_GET_NAME (initial name = the program's base
//! name, truncation to 15 bytes, per thread, inherited by new threads, set from the
//! exec'd path's base name, EFAULT; /proc/self/comm when /proc is mounted);
//! PR_SET_PDEATHSIG (delivered when the parent *thread* exits and when the parent
//! process exits, with the orphan re-parented to a subreaper; PR_GET_PDEATHSIG;
//! EINVAL for signal 65); PR_SET_TIMERSLACK/PR_GET_TIMERSLACK (set, inherited by
//! threads, 0 restores the default); set_robust_list/get_robust_list (EINVAL for a
//! wrong size, ESRCH; the kernel's walk of a raw robust list at thread exit marks
//! the dying thread's futexes FUTEX_OWNER_DIED, keeps FUTEX_WAITERS and wakes the
//! waiter, leaves other owners' futexes alone); robust pthread mutexes
//! (EOWNERDEAD after the owner thread exits, and after the owner process
//! `_exit`s holding a process-shared one); rseq (registers, or ENOSYS; EBUSY
//! counts as registered); getrlimit/setrlimit/prlimit64 (agree; EINVAL for soft >
//! hard and an unknown resource; ESRCH; the old value returned); RLIMIT_NOFILE
//! raised to 20000 (`F_DUPFD` 15000, `F_DUPFD_CLOEXEC` 10000, `dup2` to 19999;
//! EINVAL/EBADF at the limit) and lowered to 64 (EMFILE once every fd below it is
//! used; EINVAL for F_DUPFD at the limit); RLIMIT_STACK sizes a new program's main
//! stack (48 MiB of recursion succeeds with a 64 MiB limit and dies of SIGSEGV with
//! 8 MiB); uname; sysinfo; getrandom flag errors; umask (old value, 0777 mask,
//! effect on new files and directories); getcpu (in the affinity mask; pinned to
//! each CPU in turn it reports that CPU); sched_getaffinity sizes.
//!
//! The program re-executes itself with `--helper MODE ...` for the exec cases.

use checks::{ensure, ensure_eq, errno_name, join, CheckResult, Suite};
use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering::SeqCst};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const WNOHANG: i64 = 1;
const PR_SET_PDEATHSIG: i64 = 1;
const PR_GET_PDEATHSIG: i64 = 2;
const PR_SET_NAME: i64 = 15;
const PR_GET_NAME: i64 = 16;
const PR_GET_TIMERSLACK: i64 = 30;
const PR_SET_TIMERSLACK: i64 = 29;
const PR_SET_CHILD_SUBREAPER: i64 = 36;
const FUTEX_WAIT: i64 = 0;
const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const NR_RSEQ: i64 = 334;
const RSEQ_SIG: u32 = 0x5305_3053;
const GRND_RANDOM: i64 = 2;
const GRND_INSECURE: i64 = 4;
const EOWNERDEAD: i32 = 130;

static EXE: OnceLock<CString> = OnceLock::new();

// ---------------------------------------------------------------------------
// Raw syscalls (usable in children that share our memory but have no TLS)

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

type ChildFn = extern "C" fn(usize) -> i64;

/// Raw `clone(flags, stack_top, ptid, ctid, tls)`; the child runs `f(arg)` on
/// `stack_top` and passes its result to SYS_exit.
unsafe fn clone_fn(flags: u64, stack_top: *mut u8, ctid: *mut i32, f: ChildFn, arg: usize) -> i64 {
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
        in("rdx") 0i64,
        in("r10") ctid,
        in("r8") 0i64,
        in("r12") f,
        in("r13") arg,
        lateout("rcx") _,
        lateout("r11") _,
    );
    r
}

fn main() {
    let args: Vec<Vec<u8>> = std::env::args_os().map(|a| a.as_bytes().to_vec()).collect();
    if args.len() >= 2 && args[1] == b"--helper" {
        helper(&args);
    }
    EXE.set(self_exe(&args)).unwrap();

    let mut s = Selected::new("proc_ids", std::env::args().skip(1).collect());
    s.check("pid_tid_ppid", pid_tid_ppid);
    s.check("getpgid_getsid", getpgid_getsid);
    s.check("setpgid_rules", setpgid_rules);
    s.check("setpgid_after_exec_eacces", setpgid_after_exec_eacces);
    s.check("setsid_rules", setsid_rules);
    s.check("uid_gid_consistent", uid_gid_consistent);
    s.check("prctl_name", prctl_name);
    s.check("prctl_name_threads", prctl_name_threads);
    s.check("prctl_name_after_exec", prctl_name_after_exec);
    if std::path::Path::new("/proc/self/comm").exists() {
        s.check("prctl_name_proc_comm", prctl_name_proc_comm);
    } else {
        println!("skip proc_ids::prctl_name_proc_comm: /proc/self/comm does not exist (no /proc)");
    }
    s.check("pdeathsig_parent_thread_exit", pdeathsig_parent_thread_exit);
    s.check("pdeathsig_parent_process_exit", pdeathsig_parent_process_exit);
    s.check("timerslack", timerslack);
    s.check("robust_list_syscalls", robust_list_syscalls);
    s.check("robust_list_owner_died_kernel", robust_list_owner_died_kernel);
    s.check("robust_mutex_thread_exit", robust_mutex_thread_exit);
    s.check("robust_mutex_process_exit_pshared", robust_mutex_process_exit_pshared);
    s.check("rseq_register_or_enosys", rseq_register_or_enosys);
    s.check("rlimit_basics", rlimit_basics);
    s.check("rlimit_nofile_20000", rlimit_nofile_20000);
    s.check("rlimit_nofile_64_emfile", rlimit_nofile_64_emfile);
    s.check("rlimit_stack_sizes_exec_stack", rlimit_stack_sizes_exec_stack);
    s.check("uname_fields", uname_fields);
    s.check("sysinfo_fields", sysinfo_fields);
    s.check("getrandom_flags", getrandom_flags);
    s.check("umask_values", umask_values);
    s.check("getcpu_in_affinity", getcpu_in_affinity);
    s.check("sched_getaffinity_sizes", sched_getaffinity_sizes);
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

fn self_exe(args: &[Vec<u8>]) -> CString {
    if let Some(a0) = args.first() {
        if a0.starts_with(b"/") {
            return CString::new(a0.clone()).unwrap();
        }
    }
    if let Ok(p) = std::fs::read_link("/proc/self/exe") {
        return CString::new(p.as_os_str().as_bytes()).unwrap();
    }
    let a0 = args.first().cloned().unwrap_or_default();
    let p = std::fs::canonicalize(OsStr::from_bytes(&a0)).expect("cannot find my own executable");
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn exe() -> &'static CStr {
    EXE.get().unwrap()
}

// ---------------------------------------------------------------------------
// Helper modes (a freshly exec'd image)

/// Uses about `depth` x 64 KiB of stack, touching every page.
#[inline(never)]
fn eat_stack(depth: usize) -> u64 {
    let mut buf = [0u8; 64 << 10];
    // The address escapes, so the whole array must really be on the stack.
    let p = std::hint::black_box(buf.as_mut_ptr());
    for i in (0..64 << 10).step_by(4096) {
        unsafe { std::ptr::write_volatile(p.add(i), (depth & 0xff) as u8) };
    }
    let below = if depth > 0 { eat_stack(depth - 1) } else { 0 };
    let mine: u64 = (0..64 << 10)
        .step_by(4096)
        .map(|i| unsafe { std::ptr::read_volatile(p.add(i)) } as u64)
        .sum();
    std::hint::black_box(&mut buf);
    std::hint::black_box(below.wrapping_add(mine))
}

fn helper(args: &[Vec<u8>]) -> ! {
    let mode = args.get(2).map(|m| String::from_utf8_lossy(m).into_owned()).unwrap_or_default();
    let num = |i: usize| -> i64 {
        args.get(i)
            .and_then(|a| std::str::from_utf8(a).ok())
            .and_then(|a| a.parse().ok())
            .unwrap_or(0)
    };
    let code = match mode.as_str() {
        "stack" => {
            // argv[3] = MiB of stack to use.
            let depth = (num(3) as usize) * 16;
            let v = eat_stack(depth);
            if v == 0 && depth > 0 {
                5
            } else {
                0
            }
        }
        "comm" => {
            // Writes PR_GET_NAME to fd 100.
            let mut name = [0u8; 16];
            unsafe { rs!(libc::SYS_prctl, PR_GET_NAME, name.as_mut_ptr(), 0, 0, 0) };
            unsafe { rs!(libc::SYS_write, 100, name.as_ptr(), 16) };
            0
        }
        "wait-fd" => {
            let mut pfd = libc::pollfd {
                fd: num(3) as i32,
                events: libc::POLLIN,
                revents: 0,
            };
            let r = unsafe { rs!(libc::SYS_poll, &raw mut pfd, 1, 30_000) };
            if r == 1 {
                3
            } else {
                4
            }
        }
        _ => 126,
    };
    unsafe { libc::_exit(code) }
}

// ---------------------------------------------------------------------------
// Helpers

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

fn ok(what: &str, r: i64) -> Result<i64, String> {
    match errno_of(r) {
        Some(e) => Err(format!("{what} failed with {}", errno_name(e))),
        None => Ok(r),
    }
}

fn expect_err(what: &str, r: i64, want: i32) -> CheckResult {
    ensure!(
        errno_of(r) == Some(want),
        "{what} returned {}, expected -1/{}",
        show(r),
        errno_name(want)
    );
    Ok(())
}

fn exited(code: i32) -> i32 {
    (code & 0xff) << 8
}

fn describe(st: i32) -> String {
    if st & 0x7f == 0 {
        format!("exited {}", (st >> 8) & 0xff)
    } else {
        format!("killed by signal {}{}", st & 0x7f, if st & 0x80 != 0 { " (core)" } else { "" })
    }
}

fn fork_child(f: impl FnOnce() -> i32) -> Result<i64, String> {
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork failed with {}", errno_name(checks::errno())));
    }
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(120);
        unsafe { libc::_exit(code) };
    }
    Ok(pid as i64)
}

fn reap(pid: i64) -> Result<i32, String> {
    let mut st: i32 = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = unsafe { rs!(libc::SYS_wait4, pid, &raw mut st, WNOHANG, 0) };
        if r == pid {
            return Ok(st);
        }
        if r != 0 {
            return Err(format!("wait4({pid}, WNOHANG) returned {}", show(r)));
        }
        if Instant::now() > deadline {
            unsafe { rs!(libc::SYS_kill, pid, libc::SIGKILL) };
            unsafe { rs!(libc::SYS_wait4, pid, &raw mut st, 0, 0) };
            return Err(format!("child {pid} did not exit within 60 s (killed)"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn kill_reap(pid: i64) {
    unsafe { rs!(libc::SYS_kill, pid, libc::SIGKILL) };
    let _ = reap(pid);
}

fn pipe() -> Result<(i32, i32), String> {
    let mut fds = [0i32; 2];
    ok("pipe2", unsafe { rs!(libc::SYS_pipe2, fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok((fds[0], fds[1]))
}

fn close(fd: i32) {
    unsafe { rs!(libc::SYS_close, fd) };
}

fn write_byte(fd: i32) {
    unsafe { rs!(libc::SYS_write, fd, b"x".as_ptr(), 1) };
}

fn read_byte(fd: i32) -> i64 {
    let mut b = [0u8; 1];
    unsafe { rs!(libc::SYS_read, fd, b.as_mut_ptr(), 1) }
}

fn write_i64(fd: i32, v: i64) {
    unsafe { rs!(libc::SYS_write, fd, (&raw const v) as *const u8, 8) };
}

/// Reads exactly `buf.len()` bytes (or up to EOF if `eof_ok`), at most `secs`.
fn read_timeout(fd: i32, buf: &mut [u8], secs: u64) -> Result<usize, String> {
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
            return Err(format!("no data within {secs} s ({got} of {} bytes)", buf.len()));
        }
        if errno_of(r) == Some(libc::EINTR) {
            continue;
        }
        ok("poll", r)?;
        let n = ok("read", unsafe {
            rs!(libc::SYS_read, fd, buf.as_mut_ptr().add(got), buf.len() - got)
        })?;
        if n == 0 {
            return Ok(got);
        }
        got += n as usize;
    }
    Ok(got)
}

fn read_i64(fd: i32, secs: u64) -> Result<i64, String> {
    let mut b = [0u8; 8];
    let n = read_timeout(fd, &mut b, secs)?;
    ensure!(n == 8, "EOF after {n} bytes of an 8-byte report");
    Ok(i64::from_le_bytes(b))
}

fn cvec(items: &[Vec<u8>]) -> (Vec<CString>, Vec<*const libc::c_char>) {
    let owned: Vec<CString> = items.iter().map(|i| CString::new(i.clone()).unwrap()).collect();
    let mut ptrs: Vec<*const libc::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    (owned, ptrs)
}

fn helper_argv(mode: &str, rest: &[&str]) -> Vec<Vec<u8>> {
    let mut v = vec![exe().to_bytes().to_vec(), b"--helper".to_vec(), mode.as_bytes().to_vec()];
    v.extend(rest.iter().map(|s| s.as_bytes().to_vec()));
    v
}

fn getpid() -> i64 {
    unsafe { rs!(libc::SYS_getpid) }
}

fn sigbit(sig: i32) -> u64 {
    1 << (sig - 1)
}

fn raw_sleep_ms(ms: i64) {
    let ts = libc::timespec {
        tv_sec: ms / 1000,
        tv_nsec: (ms % 1000) * 1_000_000,
    };
    unsafe { rs!(libc::SYS_nanosleep, &raw const ts, 0) };
}

const NO_PID: i64 = 0x3fff_fff0; // above PID_MAX_LIMIT: never a process

// ---------------------------------------------------------------------------
// Ids

fn pid_tid_ppid() -> CheckResult {
    let pid = getpid();
    let ppid = unsafe { rs!(libc::SYS_getppid) };
    ensure!(pid > 0, "getpid() = {pid}");
    ensure!(ppid >= 0 && ppid != pid, "getppid() = {ppid} (pid {pid})");
    ensure_eq!(unsafe { rs!(libc::SYS_gettid) }, pid, "gettid() in the main thread");
    let (tpid, ttid, tppid) = join(std::thread::spawn(|| unsafe {
        (rs!(libc::SYS_getpid), rs!(libc::SYS_gettid), rs!(libc::SYS_getppid))
    }))?;
    ensure_eq!(tpid, pid, "getpid() in a thread");
    ensure!(ttid != pid && ttid > 0, "gettid() in a thread = {ttid} (pid {pid})");
    ensure_eq!(tppid, ppid, "getppid() in a thread");
    let (r, w) = pipe()?;
    let child = fork_child(|| unsafe {
        write_i64(w, rs!(libc::SYS_getpid));
        write_i64(w, rs!(libc::SYS_gettid));
        write_i64(w, rs!(libc::SYS_getppid));
        0
    })?;
    close(w);
    let vals: Result<Vec<i64>, String> = (0..3).map(|_| read_i64(r, 30)).collect();
    close(r);
    let st = reap(child)?;
    let vals = vals?;
    ensure_eq!(vals[0], child, "getpid() in the child vs fork's return");
    ensure_eq!(vals[1], child, "gettid() in the child");
    ensure_eq!(vals[2], pid, "getppid() in the child");
    ensure_eq!(st, exited(0), "child status");
    Ok(())
}

fn getpgid_getsid() -> CheckResult {
    let pgrp = unsafe { rs!(libc::SYS_getpgrp) };
    ensure!(pgrp > 0, "getpgrp() = {}", show(pgrp));
    ensure_eq!(unsafe { rs!(libc::SYS_getpgid, 0) }, pgrp, "getpgid(0) vs getpgrp()");
    ensure_eq!(unsafe { rs!(libc::SYS_getpgid, getpid()) }, pgrp, "getpgid(getpid())");
    let sid = unsafe { rs!(libc::SYS_getsid, 0) };
    ensure!(sid > 0, "getsid(0) = {}", show(sid));
    ensure_eq!(unsafe { rs!(libc::SYS_getsid, getpid()) }, sid, "getsid(getpid())");
    expect_err("getpgid(no such pid)", unsafe { rs!(libc::SYS_getpgid, NO_PID) }, libc::ESRCH)?;
    expect_err("getsid(no such pid)", unsafe { rs!(libc::SYS_getsid, NO_PID) }, libc::ESRCH)?;
    let (r, w) = pipe()?;
    let child = fork_child(|| {
        close(w);
        read_byte(r);
        0
    })?;
    close(r);
    let cp = unsafe { rs!(libc::SYS_getpgid, child) };
    let cs = unsafe { rs!(libc::SYS_getsid, child) };
    close(w);
    let st = reap(child)?;
    ensure_eq!(cp, pgrp, "getpgid(child) (inherited group)");
    ensure_eq!(cs, sid, "getsid(child) (inherited session)");
    ensure_eq!(st, exited(0), "child status");
    Ok(())
}

/// A child blocked until the returned write end is written or closed.
fn gated_child(f: impl FnOnce() -> i32) -> Result<(i64, i32), String> {
    let (r, w) = pipe()?;
    let child = fork_child(|| {
        close(w); // our copy of the write end, so that the parent's close is EOF
        let code = f();
        read_byte(r);
        code
    });
    close(r);
    match child {
        Ok(c) => Ok((c, w)),
        Err(e) => {
            close(w);
            Err(e)
        }
    }
}

fn setpgid_rules() -> CheckResult {
    let pgrp = unsafe { rs!(libc::SYS_getpgrp) };
    let (a, aw) = gated_child(|| 0)?;
    let result = (|| {
        ok("setpgid(A, A)", unsafe { rs!(libc::SYS_setpgid, a, a) })?;
        ensure_eq!(unsafe { rs!(libc::SYS_getpgid, a) }, a, "getpgid(A) after setpgid(A, A)");
        // Back into our group (exists in our session).
        ok("setpgid(A, our group)", unsafe { rs!(libc::SYS_setpgid, a, pgrp) })?;
        ensure_eq!(unsafe { rs!(libc::SYS_getpgid, a) }, pgrp, "getpgid(A) after moving back");
        // setpgid(A, 0) means pgid = A.
        ok("setpgid(A, 0)", unsafe { rs!(libc::SYS_setpgid, a, 0) })?;
        ensure_eq!(unsafe { rs!(libc::SYS_getpgid, a) }, a, "getpgid(A) after setpgid(A, 0)");
        expect_err("setpgid(A, no such group)", unsafe { rs!(libc::SYS_setpgid, a, NO_PID) }, libc::EPERM)?;
        expect_err("setpgid(0, -1)", unsafe { rs!(libc::SYS_setpgid, 0, -1) }, libc::EINVAL)?;
        expect_err("setpgid(A, -5)", unsafe { rs!(libc::SYS_setpgid, a, -5) }, libc::EINVAL)?;
        expect_err("setpgid(no such pid, 0)", unsafe { rs!(libc::SYS_setpgid, NO_PID, 0) }, libc::ESRCH)?;
        let ppid = unsafe { rs!(libc::SYS_getppid) };
        if ppid > 0 {
            expect_err("setpgid(getppid(), 0) (not our child)", unsafe { rs!(libc::SYS_setpgid, ppid, 0) }, libc::ESRCH)?;
        }
        // A thread that is not the group leader.
        let (tx, rx) = std::sync::mpsc::channel::<i64>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            tx.send(unsafe { rs!(libc::SYS_gettid) }).unwrap();
            let _ = done_rx.recv_timeout(Duration::from_secs(30));
        });
        let tid = rx.recv().map_err(|e| e.to_string())?;
        let r = unsafe { rs!(libc::SYS_setpgid, tid, 0) };
        let _ = done_tx.send(());
        join(t)?;
        expect_err("setpgid(tid of a non-leader thread, 0)", r, libc::EINVAL)?;
        Ok(())
    })();
    close(aw);
    let st = reap(a)?;
    result?;
    ensure_eq!(st, exited(0), "child A status");

    // A child in another session.
    let (r, w) = pipe()?;
    let (b, bw) = gated_child(move || {
        let s = unsafe { rs!(libc::SYS_setsid) };
        write_i64(w, s);
        0
    })?;
    close(w);
    let result = (|| {
        let s = read_i64(r, 30)?;
        ensure_eq!(s, b, "setsid() in the child");
        expect_err("setpgid(child in another session, itself)", unsafe { rs!(libc::SYS_setpgid, b, b) }, libc::EPERM)?;
        expect_err("setpgid(child in another session, our group)", unsafe { rs!(libc::SYS_setpgid, b, pgrp) }, libc::EPERM)?;
        Ok(())
    })();
    close(r);
    close(bw);
    let st = reap(b)?;
    result?;
    ensure_eq!(st, exited(0), "child B status");
    Ok(())
}

fn setpgid_after_exec_eacces() -> CheckResult {
    // The child execs a helper that waits on fd `r`; the close-on-exec `ew`
    // reaching EOF tells us the exec happened.
    let mut fds = [0i32; 2];
    ok("pipe2", unsafe { rs!(libc::SYS_pipe2, fds.as_mut_ptr(), 0) })?;
    let (r, w) = (fds[0], fds[1]);
    unsafe { rs!(libc::SYS_fcntl, w, libc::F_SETFD, libc::FD_CLOEXEC) };
    let (er, ew) = pipe()?;
    let argv = helper_argv("wait-fd", &[&r.to_string()]);
    let (_a, argv_p) = cvec(&argv);
    let (_e, envp_p) = cvec(&[]);
    let child = fork_child(|| unsafe {
        rs!(libc::SYS_execve, exe().as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
        127
    });
    close(ew);
    close(r);
    let result = (|| {
        let c = child.clone()?;
        let mut b = [0u8; 1];
        let n = read_timeout(er, &mut b, 30)?;
        ensure_eq!(n, 0, "bytes on the close-on-exec pipe (expected EOF at exec)");
        let r1 = unsafe { rs!(libc::SYS_setpgid, c, c) };
        let r2 = unsafe { rs!(libc::SYS_setpgid, c, 0) };
        write_byte(w);
        let st = reap(c)?;
        ensure_eq!(st, exited(3), "helper status (4: never got our byte)");
        expect_err("setpgid(child after execve, child)", r1, libc::EACCES)?;
        expect_err("setpgid(child after execve, 0)", r2, libc::EACCES)?;
        Ok(())
    })();
    close(er);
    close(w);
    if result.is_err() {
        if let Ok(c) = child {
            kill_reap(c);
        }
    }
    result
}

fn setsid_rules() -> CheckResult {
    // Are we a group leader? Then setsid must fail with EPERM.
    if unsafe { rs!(libc::SYS_getpgid, 0) } == getpid() {
        expect_err("setsid() in the test process (a group leader)", unsafe { rs!(libc::SYS_setsid) }, libc::EPERM)?;
    }
    // A child that makes itself a group leader cannot setsid.
    let x = fork_child(|| unsafe {
        if rs!(libc::SYS_setpgid, 0, 0) != 0 {
            return 10;
        }
        let r = rs!(libc::SYS_setsid);
        if r == -(libc::EPERM as i64) {
            0
        } else if r >= 0 {
            11
        } else {
            12
        }
    })?;
    let st = reap(x)?;
    ensure_eq!(
        st,
        exited(0),
        "group leader child (10: setpgid failed, 11: setsid succeeded, 12: setsid errno was not EPERM)"
    );
    // A plain child: a new session and group named after it.
    let (r, w) = pipe()?;
    let (y, yw) = gated_child(move || unsafe {
        write_i64(w, rs!(libc::SYS_setsid));
        write_i64(w, rs!(libc::SYS_getsid, 0));
        write_i64(w, rs!(libc::SYS_getpgid, 0));
        write_i64(w, rs!(libc::SYS_setsid));
        write_i64(w, rs!(libc::SYS_setpgid, 0, 0));
        0
    })?;
    close(w);
    let vals: Result<Vec<i64>, String> = (0..5).map(|_| read_i64(r, 30)).collect();
    let sid_seen = unsafe { rs!(libc::SYS_getsid, y) };
    close(r);
    close(yw);
    let st = reap(y)?;
    let v = vals?;
    ensure_eq!(v[0], y, "setsid() in a child that is not a group leader");
    ensure_eq!(v[1], y, "getsid(0) after setsid");
    ensure_eq!(v[2], y, "getpgid(0) after setsid");
    expect_err("second setsid()", v[3], libc::EPERM)?;
    expect_err("setpgid(0, 0) in a session leader", v[4], libc::EPERM)?;
    ensure_eq!(sid_seen, y, "getsid(child) from the parent");
    ensure_eq!(st, exited(0), "child status");
    Ok(())
}

fn uid_gid_consistent() -> CheckResult {
    let (mut ru, mut eu, mut su) = (u32::MAX, u32::MAX, u32::MAX);
    ok("getresuid", unsafe { rs!(libc::SYS_getresuid, &raw mut ru, &raw mut eu, &raw mut su) })?;
    let (mut rg, mut eg, mut sg) = (u32::MAX, u32::MAX, u32::MAX);
    ok("getresgid", unsafe { rs!(libc::SYS_getresgid, &raw mut rg, &raw mut eg, &raw mut sg) })?;
    ensure_eq!(unsafe { rs!(libc::SYS_getuid) }, ru as i64, "getuid() vs getresuid real");
    ensure_eq!(unsafe { rs!(libc::SYS_geteuid) }, eu as i64, "geteuid() vs getresuid effective");
    ensure_eq!(unsafe { rs!(libc::SYS_getgid) }, rg as i64, "getgid() vs getresgid real");
    ensure_eq!(unsafe { rs!(libc::SYS_getegid) }, eg as i64, "getegid() vs getresgid effective");
    // No-op changes succeed and change nothing.
    ensure_eq!(unsafe { rs!(libc::SYS_setresuid, -1, -1, -1) }, 0, "setresuid(-1, -1, -1)");
    ensure_eq!(unsafe { rs!(libc::SYS_setresgid, -1, -1, -1) }, 0, "setresgid(-1, -1, -1)");
    ensure_eq!(unsafe { rs!(libc::SYS_setuid, ru) }, 0, "setuid(getuid())");
    ensure_eq!(unsafe { rs!(libc::SYS_setgid, rg) }, 0, "setgid(getgid())");
    let (mut ru2, mut eu2, mut su2) = (0u32, 0u32, 0u32);
    unsafe { rs!(libc::SYS_getresuid, &raw mut ru2, &raw mut eu2, &raw mut su2) };
    ensure_eq!((ru2, eu2), (ru, eu), "(ruid, euid) after the no-op calls");
    if ru == 0 {
        ensure_eq!(su2, 0, "saved uid of root after setuid(0)");
    }
    // The same view from a thread.
    let t = join(std::thread::spawn(|| unsafe { (rs!(libc::SYS_getuid), rs!(libc::SYS_getegid)) }))?;
    ensure_eq!(t, (ru as i64, eg as i64), "(getuid, getegid) in a thread");
    // getgroups
    let n = ok("getgroups(0, NULL)", unsafe { rs!(libc::SYS_getgroups, 0, 0) })?;
    ensure!((0..=65536).contains(&n), "getgroups(0, NULL) = {n}");
    let mut groups = vec![0u32; n as usize + 1];
    let m = ok("getgroups(n, buf)", unsafe { rs!(libc::SYS_getgroups, n, groups.as_mut_ptr()) })?;
    ensure_eq!(m, n, "getgroups(n, buf) count");
    if n > 0 {
        expect_err("getgroups(n - 1, buf)", unsafe { rs!(libc::SYS_getgroups, n - 1, groups.as_mut_ptr()) }, libc::EINVAL)?;
    }
    expect_err("getgroups(-1, buf)", unsafe { rs!(libc::SYS_getgroups, -1, groups.as_mut_ptr()) }, libc::EINVAL)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// prctl

fn get_name() -> Result<Vec<u8>, String> {
    let mut name = [0xffu8; 16];
    ok("prctl(PR_GET_NAME)", unsafe { rs!(libc::SYS_prctl, PR_GET_NAME, name.as_mut_ptr(), 0, 0, 0) })?;
    let end = name.iter().position(|&c| c == 0).ok_or("PR_GET_NAME result not NUL-terminated")?;
    Ok(name[..end].to_vec())
}

fn set_name(n: &CStr) -> Result<i64, String> {
    ok("prctl(PR_SET_NAME)", unsafe { rs!(libc::SYS_prctl, PR_SET_NAME, n.as_ptr(), 0, 0, 0) })
}

fn lossy(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

fn prctl_name() -> CheckResult {
    let orig = get_name()?;
    let exe_base = exe().to_bytes().rsplit(|&c| c == b'/').next().unwrap().to_vec();
    let want: Vec<u8> = exe_base.iter().copied().take(15).collect();
    let result = (|| {
        ensure_eq!(lossy(&orig), lossy(&want), "initial PR_GET_NAME (base name of the program)");
        set_name(c"abcdefghijklmnopqrstuvwxyz")?;
        ensure_eq!(lossy(&get_name()?), "abcdefghijklmno", "PR_GET_NAME after setting 26 bytes");
        set_name(c"short")?;
        ensure_eq!(lossy(&get_name()?), "short", "PR_GET_NAME after setting 'short'");
        set_name(c"")?;
        ensure_eq!(lossy(&get_name()?), "", "PR_GET_NAME after setting ''");
        expect_err("prctl(PR_SET_NAME, (char *)1)", unsafe { rs!(libc::SYS_prctl, PR_SET_NAME, 1, 0, 0, 0) }, libc::EFAULT)?;
        expect_err("prctl(PR_GET_NAME, (char *)1)", unsafe { rs!(libc::SYS_prctl, PR_GET_NAME, 1, 0, 0, 0) }, libc::EFAULT)?;
        Ok(())
    })();
    set_name(&CString::new(orig).unwrap())?;
    result
}

fn prctl_name_threads() -> CheckResult {
    let orig = get_name()?;
    let result = (|| {
        set_name(c"main-name")?;
        let (inherited, after) = join(std::thread::spawn(|| -> Result<(Vec<u8>, Vec<u8>), String> {
            let inherited = get_name()?;
            set_name(c"worker-thread-number-1")?;
            Ok((inherited, get_name()?))
        }))??;
        ensure_eq!(lossy(&inherited), "main-name", "a new thread's name (inherited from its creator)");
        ensure_eq!(lossy(&after), "worker-thread-n", "the thread's name after its PR_SET_NAME");
        ensure_eq!(lossy(&get_name()?), "main-name", "the main thread's name after the thread renamed itself");
        Ok(())
    })();
    set_name(&CString::new(orig).unwrap())?;
    result
}

fn prctl_name_after_exec() -> CheckResult {
    // Exec through a symlink with a long name: comm = its base name, 15 bytes.
    let dir = format!("/tmp/proc_ids.comm.{}", getpid());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
    let link = format!("{dir}/a-very-long-program-name");
    let result = (|| {
        std::os::unix::fs::symlink(OsStr::from_bytes(exe().to_bytes()), &link)
            .map_err(|e| format!("symlink {link}: {e}"))?;
        let clink = CString::new(link.clone()).unwrap();
        let argv = vec![b"argv0-is-not-used".to_vec(), b"--helper".to_vec(), b"comm".to_vec()];
        let (_a, argv_p) = cvec(&argv);
        let (_e, envp_p) = cvec(&[]);
        let (r, w) = pipe()?;
        let child = fork_child(|| unsafe {
            rs!(libc::SYS_dup2, w, 100);
            rs!(libc::SYS_execve, clink.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
            127
        });
        close(w);
        let mut name = [0u8; 16];
        let got = read_timeout(r, &mut name, 30);
        close(r);
        let st = reap(child?)?;
        ensure_eq!(st, exited(0), "helper status (127: exec failed)");
        ensure_eq!(got?, 16, "bytes of the helper's report");
        let end = name.iter().position(|&c| c == 0).unwrap_or(16);
        ensure_eq!(
            lossy(&name[..end]),
            "a-very-long-pro",
            "PR_GET_NAME after exec of .../a-very-long-program-name"
        );
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn prctl_name_proc_comm() -> CheckResult {
    let orig = get_name()?;
    let result = (|| {
        set_name(c"abcdefghijklmnopqrstuvwxyz")?;
        let comm = std::fs::read("/proc/self/comm").map_err(|e| format!("read /proc/self/comm: {e}"))?;
        ensure_eq!(lossy(&comm), "abcdefghijklmno\n", "/proc/self/comm after PR_SET_NAME");
        Ok(())
    })();
    set_name(&CString::new(orig).unwrap())?;
    result
}

/// Blocks `sig` and waits for it for up to `secs`; returns the signal taken.
fn wait_signal(sig: i32, secs: i64) -> i64 {
    let set = sigbit(sig);
    let ts = libc::timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    unsafe { rs!(libc::SYS_rt_sigtimedwait, &raw const set, 0, &raw const ts, 8) }
}

fn block(sig: i32) {
    let set = sigbit(sig);
    unsafe { rs!(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, &raw const set, 0, 8) };
}

/// In the grandchild: arm PDEATHSIG (SIGUSR1, blocked), tell `ready`, wait for
/// it. Exit codes: 0 ok, 20 PR_GET_PDEATHSIG wrong, 21 no signal within 30 s,
/// 22 getppid() not `want_ppid_after` (-1: unchanged).
fn pdeath_child(ready: i32, want_ppid_after: i64) -> i32 {
    block(libc::SIGUSR1);
    unsafe { rs!(libc::SYS_prctl, PR_SET_PDEATHSIG, libc::SIGUSR1, 0, 0, 0) };
    let mut v: i32 = -1;
    unsafe { rs!(libc::SYS_prctl, PR_GET_PDEATHSIG, &raw mut v, 0, 0, 0) };
    if v != libc::SIGUSR1 {
        return 20;
    }
    let before = unsafe { rs!(libc::SYS_getppid) };
    write_byte(ready);
    if wait_signal(libc::SIGUSR1, 30) != libc::SIGUSR1 as i64 {
        return 21;
    }
    let after = unsafe { rs!(libc::SYS_getppid) };
    let want = if want_ppid_after < 0 { before } else { want_ppid_after };
    if after != want {
        return 22;
    }
    0
}

/// What a status of the pdeathsig children means.
fn pdeath_meaning(st: i32) -> String {
    let what = match (st & 0x7f, (st >> 8) & 0xff) {
        (0, 0) => "ok",
        (0, 20) => "PR_GET_PDEATHSIG did not return SIGUSR1",
        (0, 21) => "no SIGUSR1 within 30 s of the parent's exit",
        (0, 22) => "getppid() wrong after the signal",
        (0, 40..=42) => "the middle process could not set up",
        (0, 50) => "waiting for the grandchild failed",
        _ => "unexpected",
    };
    format!("{} ({what})", describe(st))
}

fn pdeathsig_parent_thread_exit() -> CheckResult {
    // P forks C from a second thread T; when T exits (P lives on) C gets SIGUSR1
    // and is re-parented to P's other thread, so its getppid() stays P.
    let p = fork_child(|| {
        let (rr, rw) = match pipe() {
            Ok(x) => x,
            Err(_) => return 40,
        };
        let t = std::thread::spawn(move || -> i64 {
            let c = match fork_child(|| pdeath_child(rw, -1)) {
                Ok(c) => c,
                Err(_) => return -41,
            };
            let mut pfd = libc::pollfd {
                fd: rr,
                events: libc::POLLIN,
                revents: 0,
            };
            unsafe { rs!(libc::SYS_poll, &raw mut pfd, 1, 30_000) };
            c
        });
        let c = match t.join() {
            Ok(c) if c > 0 => c,
            _ => return 42,
        };
        match reap(c) {
            Ok(st) if st & 0x7f == 0 => (st >> 8) & 0xff,
            _ => 50,
        }
    })?;
    let st = reap(p)?;
    ensure!(
        st == exited(0),
        "grandchild forked by a thread that then exited: {}",
        pdeath_meaning(st)
    );
    Ok(())
}

fn pdeathsig_parent_process_exit() -> CheckResult {
    let me = getpid();
    ok("prctl(PR_SET_CHILD_SUBREAPER)", unsafe { rs!(libc::SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })?;
    let result = (|| {
        let (r, w) = pipe()?;
        let p = fork_child(|| {
            let (rr, rw) = match pipe() {
                Ok(x) => x,
                Err(_) => return 40,
            };
            let c = match fork_child(|| pdeath_child(rw, me)) {
                Ok(c) => c,
                Err(_) => return 41,
            };
            let mut pfd = libc::pollfd {
                fd: rr,
                events: libc::POLLIN,
                revents: 0,
            };
            unsafe { rs!(libc::SYS_poll, &raw mut pfd, 1, 30_000) };
            write_i64(w, c);
            0
        })?;
        close(w);
        let c = read_i64(r, 30);
        close(r);
        let st = reap(p)?;
        ensure!(st == exited(0), "middle process: {}", pdeath_meaning(st));
        let c = c?;
        let st = reap(c)?;
        ensure!(
            st == exited(0),
            "orphan whose parent process exited: {}{}",
            pdeath_meaning(st),
            if st == exited(22) { "; not re-parented to the subreaper" } else { "" }
        );
        Ok(())
    })();
    unsafe { rs!(libc::SYS_prctl, PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) };
    result?;
    expect_err(
        "prctl(PR_SET_PDEATHSIG, 65)",
        unsafe { rs!(libc::SYS_prctl, PR_SET_PDEATHSIG, 65, 0, 0, 0) },
        libc::EINVAL,
    )?;
    let mut v: i32 = -1;
    ok("prctl(PR_GET_PDEATHSIG)", unsafe { rs!(libc::SYS_prctl, PR_GET_PDEATHSIG, &raw mut v, 0, 0, 0) })?;
    ensure_eq!(v, 0, "our own PR_GET_PDEATHSIG");
    Ok(())
}

fn timerslack() -> CheckResult {
    let orig = ok("prctl(PR_GET_TIMERSLACK)", unsafe { rs!(libc::SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0) })?;
    let result = (|| {
        ensure!(orig > 0, "initial timer slack {orig} ns");
        ok("prctl(PR_SET_TIMERSLACK, 123456)", unsafe { rs!(libc::SYS_prctl, PR_SET_TIMERSLACK, 123456, 0, 0, 0) })?;
        ensure_eq!(unsafe { rs!(libc::SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0) }, 123456, "PR_GET_TIMERSLACK after setting 123456");
        let t = join(std::thread::spawn(|| unsafe { rs!(libc::SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0) }))?;
        ensure_eq!(t, 123456, "PR_GET_TIMERSLACK in a new thread (inherited)");
        ok("prctl(PR_SET_TIMERSLACK, 0)", unsafe { rs!(libc::SYS_prctl, PR_SET_TIMERSLACK, 0, 0, 0, 0) })?;
        ensure_eq!(
            unsafe { rs!(libc::SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0) },
            orig,
            "PR_GET_TIMERSLACK after setting 0 (back to the default)"
        );
        Ok(())
    })();
    unsafe { rs!(libc::SYS_prctl, PR_SET_TIMERSLACK, orig, 0, 0, 0) };
    result
}

// ---------------------------------------------------------------------------
// Robust futexes

#[repr(C)]
struct RobustHead {
    next: usize,
    futex_offset: i64,
    list_op_pending: usize,
}

#[repr(C)]
struct RobustEntry {
    next: usize,
    futex: AtomicU32,
}

fn robust_list_syscalls() -> CheckResult {
    // In a thread of its own, so libc's registration for this thread is not lost.
    join(std::thread::spawn(|| -> CheckResult {
        let mut head = Box::new(RobustHead {
            next: 0,
            futex_offset: 8,
            list_op_pending: 0,
        });
        head.next = &*head as *const RobustHead as usize;
        let hp = &*head as *const RobustHead;
        expect_err("set_robust_list(head, 23)", unsafe { rs!(libc::SYS_set_robust_list, hp, 23) }, libc::EINVAL)?;
        expect_err("set_robust_list(head, 25)", unsafe { rs!(libc::SYS_set_robust_list, hp, 25) }, libc::EINVAL)?;
        expect_err("set_robust_list(head, 0)", unsafe { rs!(libc::SYS_set_robust_list, hp, 0) }, libc::EINVAL)?;
        ensure_eq!(unsafe { rs!(libc::SYS_set_robust_list, hp, 24) }, 0, "set_robust_list(head, 24)");
        let mut got: usize = 0;
        let mut len: usize = 0;
        ensure_eq!(
            unsafe { rs!(libc::SYS_get_robust_list, 0, &raw mut got, &raw mut len) },
            0,
            "get_robust_list(0)"
        );
        ensure_eq!((got, len), (hp as usize, 24), "get_robust_list(0) (head, len)");
        let tid = unsafe { rs!(libc::SYS_gettid) };
        let (mut got2, mut len2) = (0usize, 0usize);
        ensure_eq!(
            unsafe { rs!(libc::SYS_get_robust_list, tid, &raw mut got2, &raw mut len2) },
            0,
            "get_robust_list(own tid)"
        );
        ensure_eq!((got2, len2), (hp as usize, 24), "get_robust_list(own tid) (head, len)");
        expect_err(
            "get_robust_list(no such pid)",
            unsafe { rs!(libc::SYS_get_robust_list, NO_PID, &raw mut got2, &raw mut len2) },
            libc::ESRCH,
        )?;
        // Keep the (empty) list valid until the thread exits.
        std::mem::forget(head);
        Ok(())
    }))?
}

#[repr(C)]
struct RobustShared {
    head: RobustHead,
    e1: RobustEntry,
    e2: RobustEntry,
    e3: RobustEntry,
    tid: AtomicI32,
    locked: AtomicI32,
    go: AtomicI32,
    reg: AtomicI32,
}

extern "C" fn robust_thread(arg: usize) -> i64 {
    let s = unsafe { &mut *(arg as *mut RobustShared) };
    let tid = unsafe { rs!(libc::SYS_gettid) } as u32;
    s.tid.store(tid as i32, SeqCst);
    s.e1.futex.store(tid, SeqCst);
    s.e2.futex.store(tid, SeqCst);
    s.e3.futex.store(tid ^ 1, SeqCst); // another owner
    let head = &raw mut s.head as usize;
    s.head.next = &raw mut s.e1 as usize;
    s.e1.next = &raw mut s.e2 as usize;
    s.e2.next = &raw mut s.e3 as usize;
    s.e3.next = head;
    let r = unsafe { rs!(libc::SYS_set_robust_list, head, 24) };
    s.reg.store(r as i32, SeqCst);
    s.locked.store(1, SeqCst);
    for _ in 0..30_000 {
        if s.go.load(SeqCst) == 1 {
            break;
        }
        raw_sleep_ms(1);
    }
    0
}

fn robust_list_owner_died_kernel() -> CheckResult {
    let stack_len = 256 << 10;
    let stack = ok("mmap(stack)", unsafe {
        rs!(
            libc::SYS_mmap,
            0,
            stack_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0
        )
    })? as *mut u8;
    let s = Box::into_raw(Box::new(RobustShared {
        head: RobustHead {
            next: 0,
            futex_offset: std::mem::offset_of!(RobustEntry, futex) as i64,
            list_op_pending: 0,
        },
        e1: RobustEntry { next: 0, futex: AtomicU32::new(0) },
        e2: RobustEntry { next: 0, futex: AtomicU32::new(0) },
        e3: RobustEntry { next: 0, futex: AtomicU32::new(0) },
        tid: AtomicI32::new(0),
        locked: AtomicI32::new(0),
        go: AtomicI32::new(0),
        reg: AtomicI32::new(1),
    }));
    let ctid = Box::into_raw(Box::new(AtomicI32::new(-1)));
    let flags = (libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM
        | libc::CLONE_CHILD_SETTID
        | libc::CLONE_CHILD_CLEARTID) as u64;
    let tid = unsafe { clone_fn(flags, stack.add(stack_len), (*ctid).as_ptr(), robust_thread, s as usize) };
    ok("clone(thread)", tid)?;
    let sh = unsafe { &*s };
    let ct = unsafe { &*ctid };
    let deadline = Instant::now() + Duration::from_secs(30);
    while sh.locked.load(SeqCst) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    // Pretend to be a waiter on e1: set FUTEX_WAITERS and sleep on it.
    let t = tid as u32;
    let set_waiters = sh.e1.futex.compare_exchange(t, t | FUTEX_WAITERS, SeqCst, SeqCst).is_ok();
    sh.go.store(1, SeqCst);
    let mut wait_result = 0i64;
    if set_waiters {
        let ts = libc::timespec { tv_sec: 10, tv_nsec: 0 };
        wait_result = unsafe { rs!(libc::SYS_futex, sh.e1.futex.as_ptr(), FUTEX_WAIT, t | FUTEX_WAITERS, &raw const ts, 0, 0) };
    }
    // Wait for the thread to be gone (CHILD_CLEARTID).
    let deadline = Instant::now() + Duration::from_secs(30);
    while ct.load(SeqCst) != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    ensure!(ct.load(SeqCst) == 0, "the thread did not exit within 30 s");
    unsafe { rs!(libc::SYS_munmap, stack, stack_len) };
    let (reg, locked) = (sh.reg.load(SeqCst), sh.locked.load(SeqCst));
    let (v1, v2, v3) = (sh.e1.futex.load(SeqCst), sh.e2.futex.load(SeqCst), sh.e3.futex.load(SeqCst));
    unsafe {
        drop(Box::from_raw(s));
        drop(Box::from_raw(ctid));
    }
    ensure_eq!(locked, 1, "the thread set up its list");
    ensure_eq!(reg, 0, "set_robust_list in the thread");
    ensure!(set_waiters, "could not set FUTEX_WAITERS on the thread's futex");
    ensure!(
        errno_of(wait_result) != Some(libc::ETIMEDOUT),
        "FUTEX_WAIT on the dying owner's robust futex was not woken within 10 s"
    );
    ensure!(
        wait_result == 0 || errno_of(wait_result) == Some(libc::EAGAIN),
        "FUTEX_WAIT on the robust futex returned {}",
        show(wait_result)
    );
    ensure!(
        v1 == FUTEX_WAITERS | FUTEX_OWNER_DIED,
        "robust futex with waiters after its owner exited: {v1:#x}, expected {:#x}",
        FUTEX_WAITERS | FUTEX_OWNER_DIED
    );
    ensure!(
        v2 == FUTEX_OWNER_DIED,
        "robust futex without waiters after its owner exited: {v2:#x}, expected {FUTEX_OWNER_DIED:#x}"
    );
    ensure!(
        v3 == t ^ 1,
        "robust futex owned by another tid was changed: {v3:#x}, expected {:#x}",
        t ^ 1
    );
    Ok(())
}

fn robust_mutex_init(m: *mut libc::pthread_mutex_t, pshared: bool) -> CheckResult {
    unsafe {
        let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
        ensure_eq!(libc::pthread_mutexattr_init(&mut attr), 0, "pthread_mutexattr_init");
        ensure_eq!(libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST), 0, "setrobust");
        if pshared {
            ensure_eq!(
                libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED),
                0,
                "setpshared"
            );
        }
        ensure_eq!(libc::pthread_mutex_init(m, &attr), 0, "pthread_mutex_init");
        libc::pthread_mutexattr_destroy(&mut attr);
    }
    Ok(())
}

fn robust_mutex_recover(m: *mut libc::pthread_mutex_t) -> CheckResult {
    unsafe {
        let r = libc::pthread_mutex_lock(m);
        ensure!(
            r == EOWNERDEAD,
            "pthread_mutex_lock after the owner died returned {}, expected EOWNERDEAD",
            errno_name(r)
        );
        ensure_eq!(libc::pthread_mutex_consistent(m), 0, "pthread_mutex_consistent");
        ensure_eq!(libc::pthread_mutex_unlock(m), 0, "unlock after consistent");
        ensure_eq!(libc::pthread_mutex_lock(m), 0, "lock again");
        ensure_eq!(libc::pthread_mutex_unlock(m), 0, "unlock again");
    }
    Ok(())
}

fn robust_mutex_thread_exit() -> CheckResult {
    let m: *mut libc::pthread_mutex_t = Box::into_raw(Box::new(unsafe { std::mem::zeroed() }));
    let result = (|| {
        robust_mutex_init(m, false)?;
        let ma = m as usize;
        let r = join(std::thread::spawn(move || unsafe {
            libc::pthread_mutex_lock(ma as *mut libc::pthread_mutex_t)
        }))?;
        ensure_eq!(r, 0, "pthread_mutex_lock in the thread");
        robust_mutex_recover(m)
    })();
    unsafe {
        libc::pthread_mutex_destroy(m);
        drop(Box::from_raw(m));
    }
    result
}

fn robust_mutex_process_exit_pshared() -> CheckResult {
    let size = std::mem::size_of::<libc::pthread_mutex_t>();
    let m = ok("mmap(MAP_SHARED)", unsafe {
        rs!(
            libc::SYS_mmap,
            0,
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0
        )
    })? as *mut libc::pthread_mutex_t;
    let result = (|| {
        ensure!(size <= 4096, "mutex size {size}");
        robust_mutex_init(m, true)?;
        let ma = m as usize;
        // The child locks and _exits: only the kernel's robust-list walk can
        // tell us the owner died.
        let child = fork_child(move || unsafe {
            if libc::pthread_mutex_lock(ma as *mut libc::pthread_mutex_t) == 0 {
                0
            } else {
                1
            }
        })?;
        let st = reap(child)?;
        ensure_eq!(st, exited(0), "child status (1: its lock failed)");
        robust_mutex_recover(m)
    })();
    unsafe {
        libc::pthread_mutex_destroy(m);
        rs!(libc::SYS_munmap, m, 4096);
    }
    result
}

// ---------------------------------------------------------------------------
// rseq

#[repr(C, align(32))]
struct Rseq {
    cpu_id_start: u32,
    cpu_id: u32,
    rseq_cs: u64,
    flags: u32,
    node_id: u32,
    mm_cid: u32,
    pad: [u32; 3],
}

fn rseq_register_or_enosys() -> CheckResult {
    join(std::thread::spawn(|| -> CheckResult {
        let area = Box::new(Rseq {
            cpu_id_start: 0,
            cpu_id: u32::MAX,
            rseq_cs: 0,
            flags: 0,
            node_id: 0,
            mm_cid: 0,
            pad: [0; 3],
        });
        let p = &*area as *const Rseq;
        let r = unsafe { rs!(NR_RSEQ, p, 32, 0, RSEQ_SIG) };
        match errno_of(r) {
            Some(libc::ENOSYS) => {
                println!("note: rseq is not implemented (ENOSYS), which is allowed");
                Ok(())
            }
            Some(libc::EBUSY) => {
                // Already registered for this thread (by a libc): that counts.
                Ok(())
            }
            None => {
                ensure_eq!(r, 0, "rseq(register)");
                let cpu = unsafe { std::ptr::read_volatile(&raw const (*p).cpu_id) };
                let un = unsafe { rs!(NR_RSEQ, p, 32, 1, RSEQ_SIG) };
                ensure_eq!(un, 0, "rseq(unregister)");
                ensure!(cpu != u32::MAX && cpu < 4096, "rseq cpu_id after registration: {cpu:#x}");
                Ok(())
            }
            Some(e) => Err(format!(
                "rseq(area, 32, 0, sig) failed with {}: expected success or ENOSYS",
                errno_name(e)
            )),
        }
    }))?
}

// ---------------------------------------------------------------------------
// Resource limits

#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[repr(C)]
struct Rlim {
    cur: u64,
    max: u64,
}

fn getrlimit(res: i32) -> Result<Rlim, String> {
    let mut r = Rlim::default();
    ok("getrlimit", unsafe { rs!(libc::SYS_getrlimit, res, &raw mut r) })?;
    Ok(r)
}

fn setrlimit(res: i32, r: Rlim) -> i64 {
    unsafe { rs!(libc::SYS_setrlimit, res, &raw const r) }
}

fn rlimit_basics() -> CheckResult {
    let nofile = getrlimit(libc::RLIMIT_NOFILE as i32)?;
    let mut p = Rlim::default();
    ok("prlimit64(0, NOFILE, NULL, &old)", unsafe {
        rs!(libc::SYS_prlimit64, 0, libc::RLIMIT_NOFILE, 0, &raw mut p)
    })?;
    ensure_eq!(p, nofile, "prlimit64(0) vs getrlimit");
    let mut q = Rlim::default();
    ok("prlimit64(getpid())", unsafe {
        rs!(libc::SYS_prlimit64, getpid(), libc::RLIMIT_NOFILE, 0, &raw mut q)
    })?;
    ensure_eq!(q, nofile, "prlimit64(getpid()) vs getrlimit");
    ensure!(nofile.cur <= nofile.max, "NOFILE soft {} > hard {}", nofile.cur, nofile.max);
    let result = (|| {
        expect_err(
            "setrlimit(NOFILE, soft > hard)",
            setrlimit(libc::RLIMIT_NOFILE as i32, Rlim { cur: 200, max: 100 }),
            libc::EINVAL,
        )?;
        let bad = Rlim { cur: 200, max: 100 };
        expect_err(
            "prlimit64(0, NOFILE, soft > hard)",
            unsafe { rs!(libc::SYS_prlimit64, 0, libc::RLIMIT_NOFILE, &raw const bad, 0) },
            libc::EINVAL,
        )?;
        let mut x = Rlim::default();
        expect_err("getrlimit(resource 100)", unsafe { rs!(libc::SYS_getrlimit, 100, &raw mut x) }, libc::EINVAL)?;
        expect_err(
            "prlimit64(no such pid)",
            unsafe { rs!(libc::SYS_prlimit64, NO_PID, libc::RLIMIT_NOFILE, 0, &raw mut x) },
            libc::ESRCH,
        )?;
        // Set and fetch the old value in one call.
        let new = Rlim { cur: nofile.cur.min(1000).max(64), max: nofile.max };
        let mut old = Rlim::default();
        ensure_eq!(
            unsafe { rs!(libc::SYS_prlimit64, 0, libc::RLIMIT_NOFILE, &raw const new, &raw mut old) },
            0,
            "prlimit64(0, NOFILE, new, &old)"
        );
        ensure_eq!(old, nofile, "old value returned by prlimit64");
        ensure_eq!(getrlimit(libc::RLIMIT_NOFILE as i32)?, new, "getrlimit after prlimit64");
        // A child inherits the limit.
        let child = fork_child(move || {
            let mut c = Rlim::default();
            unsafe { rs!(libc::SYS_getrlimit, libc::RLIMIT_NOFILE, &raw mut c) };
            if c == new {
                0
            } else {
                1
            }
        })?;
        ensure_eq!(reap(child)?, exited(0), "child status (1: limit not inherited)");
        Ok(())
    })();
    setrlimit(libc::RLIMIT_NOFILE as i32, nofile);
    result
}

fn rlimit_nofile_20000() -> CheckResult {
    let orig = getrlimit(libc::RLIMIT_NOFILE as i32)?;
    let want = Rlim { cur: 20000, max: orig.max.max(20000) };
    ok("setrlimit(NOFILE, 20000)", setrlimit(libc::RLIMIT_NOFILE as i32, want))?;
    let mut opened = Vec::new();
    let result = (|| {
        let a = ok("fcntl(0, F_DUPFD, 15000)", unsafe { rs!(libc::SYS_fcntl, 0, libc::F_DUPFD, 15000) })?;
        opened.push(a);
        ensure_eq!(a, 15000, "fcntl(0, F_DUPFD, 15000)");
        let b = ok("fcntl(0, F_DUPFD_CLOEXEC, 10000)", unsafe {
            rs!(libc::SYS_fcntl, 0, libc::F_DUPFD_CLOEXEC, 10000)
        })?;
        opened.push(b);
        ensure_eq!(b, 10000, "fcntl(0, F_DUPFD_CLOEXEC, 10000)");
        ensure_eq!(unsafe { rs!(libc::SYS_fcntl, b, libc::F_GETFD) }, libc::FD_CLOEXEC as i64, "F_GETFD of fd 10000");
        let c = ok("dup2(0, 19999)", unsafe { rs!(libc::SYS_dup2, 0, 19999) })?;
        opened.push(c);
        ensure_eq!(c, 19999, "dup2(0, 19999)");
        let d = unsafe { rs!(libc::SYS_fcntl, 0, libc::F_DUPFD, 19999) };
        if d >= 0 {
            opened.push(d);
        }
        expect_err("fcntl(0, F_DUPFD, 19999) with 19999 in use", d, libc::EMFILE)?;
        expect_err("fcntl(0, F_DUPFD, 20000)", unsafe { rs!(libc::SYS_fcntl, 0, libc::F_DUPFD, 20000) }, libc::EINVAL)?;
        expect_err("dup2(0, 20000)", unsafe { rs!(libc::SYS_dup2, 0, 20000) }, libc::EBADF)?;
        expect_err("dup3(0, 20000, 0)", unsafe { rs!(libc::SYS_dup3, 0, 20000, 0) }, libc::EBADF)?;
        Ok(())
    })();
    for fd in opened {
        if fd >= 0 {
            close(fd as i32);
        }
    }
    setrlimit(libc::RLIMIT_NOFILE as i32, orig);
    result
}

fn rlimit_nofile_64_emfile() -> CheckResult {
    let orig = getrlimit(libc::RLIMIT_NOFILE as i32)?;
    // Descriptors below 64 we have before (closed ones will be filled).
    let in_use = (0..64).filter(|&fd| unsafe { rs!(libc::SYS_fcntl, fd, libc::F_GETFD) } >= 0).count();
    ok("setrlimit(NOFILE, 64)", setrlimit(libc::RLIMIT_NOFILE as i32, Rlim { cur: 64, max: orig.max }))?;
    let mut dups = Vec::new();
    let result = (|| {
        let last_err;
        loop {
            let r = unsafe { rs!(libc::SYS_dup, 0) };
            if errno_of(r).is_some() {
                last_err = r;
                break;
            }
            dups.push(r);
            ensure!(r < 64, "dup(0) returned {r} with RLIMIT_NOFILE 64");
            ensure!(dups.len() <= 64, "more than 64 dups succeeded");
        }
        expect_err("dup(0) with every fd below 64 in use", last_err, libc::EMFILE)?;
        ensure_eq!(dups.len() + in_use, 64, "descriptors in use when dup failed (ours + before)");
        expect_err(
            "open(/dev/null) with every fd below 64 in use",
            unsafe { rs!(libc::SYS_openat, libc::AT_FDCWD, c"/dev/null".as_ptr(), libc::O_RDONLY, 0) },
            libc::EMFILE,
        )?;
        let mut p = [0i32; 2];
        expect_err("pipe2 with no descriptors left", unsafe { rs!(libc::SYS_pipe2, p.as_mut_ptr(), 0) }, libc::EMFILE)?;
        expect_err("fcntl(0, F_DUPFD, 63) with 63 in use", unsafe { rs!(libc::SYS_fcntl, 0, libc::F_DUPFD, 63) }, libc::EMFILE)?;
        expect_err("fcntl(0, F_DUPFD, 64)", unsafe { rs!(libc::SYS_fcntl, 0, libc::F_DUPFD, 64) }, libc::EINVAL)?;
        // One slot free again: it is used.
        if let Some(fd) = dups.pop() {
            close(fd as i32);
            let r = unsafe { rs!(libc::SYS_dup, 0) };
            if r >= 0 {
                dups.push(r);
            }
            ensure_eq!(r, fd, "dup(0) after closing fd {fd}");
        }
        Ok(())
    })();
    for fd in dups {
        close(fd as i32);
    }
    setrlimit(libc::RLIMIT_NOFILE as i32, orig);
    result
}

/// Execs the `stack 48` helper with RLIMIT_STACK = `mib` MiB (no core dumps).
fn stack_run(mib: u64) -> Result<i32, String> {
    let argv = helper_argv("stack", &["48"]);
    let (_a, argv_p) = cvec(&argv);
    let (_e, envp_p) = cvec(&[]);
    let child = fork_child(|| unsafe {
        let core = Rlim { cur: 0, max: 0 };
        rs!(libc::SYS_setrlimit, libc::RLIMIT_CORE, &raw const core);
        let mut cur = Rlim::default();
        rs!(libc::SYS_getrlimit, libc::RLIMIT_STACK, &raw mut cur);
        let want = Rlim { cur: mib << 20, max: cur.max.max(mib << 20) };
        if rs!(libc::SYS_setrlimit, libc::RLIMIT_STACK, &raw const want) != 0 {
            return 125;
        }
        rs!(libc::SYS_execve, exe().as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
        127
    })?;
    reap(child)
}

fn rlimit_stack_sizes_exec_stack() -> CheckResult {
    let st = stack_run(64)?;
    ensure_eq!(
        st,
        exited(0),
        "48 MiB of recursion with RLIMIT_STACK 64 MiB: {} (125: setrlimit failed, 127: exec failed)",
        describe(st)
    );
    let st = stack_run(8)?;
    ensure!(
        st & 0x7f == libc::SIGSEGV,
        "48 MiB of recursion with RLIMIT_STACK 8 MiB: {}, expected death by SIGSEGV",
        describe(st)
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// System information

fn field(raw: &[libc::c_char]) -> Result<String, String> {
    let bytes: Vec<u8> = raw.iter().map(|&c| c as u8).collect();
    let end = bytes.iter().position(|&b| b == 0).ok_or("uname field not NUL-terminated")?;
    Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

fn uname_fields() -> CheckResult {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    ensure_eq!(unsafe { rs!(libc::SYS_uname, &raw mut u) }, 0, "uname");
    ensure_eq!(field(&u.sysname)?, "Linux", "sysname");
    ensure_eq!(field(&u.machine)?, "x86_64", "machine");
    ensure!(!field(&u.release)?.is_empty(), "empty release");
    ensure!(!field(&u.version)?.is_empty(), "empty version");
    field(&u.nodename)?;
    field(&u.domainname)?;
    Ok(())
}

fn sysinfo_fields() -> CheckResult {
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    ensure_eq!(unsafe { rs!(libc::SYS_sysinfo, &raw mut si) }, 0, "sysinfo");
    ensure!(si.totalram > 0, "totalram = 0");
    ensure!(si.freeram <= si.totalram, "freeram {} > totalram {}", si.freeram, si.totalram);
    ensure!(si.sharedram <= si.totalram, "sharedram {} > totalram {}", si.sharedram, si.totalram);
    ensure!(si.bufferram <= si.totalram, "bufferram {} > totalram {}", si.bufferram, si.totalram);
    ensure!(si.freeswap <= si.totalswap, "freeswap {} > totalswap {}", si.freeswap, si.totalswap);
    ensure!(si.procs >= 1, "procs = {}", si.procs);
    ensure!(si.mem_unit >= 1, "mem_unit = {}", si.mem_unit);
    expect_err("sysinfo(NULL)", unsafe { rs!(libc::SYS_sysinfo, 0) }, libc::EFAULT)?;
    Ok(())
}

fn getrandom_flags() -> CheckResult {
    let mut buf = [0u8; 16];
    for flags in [0x8i64, 0x80, 0x8000_0000, GRND_RANDOM | GRND_INSECURE, 0x7 | 0x10] {
        expect_err(
            &format!("getrandom(buf, 16, {flags:#x})"),
            unsafe { rs!(libc::SYS_getrandom, buf.as_mut_ptr(), 16, flags) },
            libc::EINVAL,
        )?;
    }
    ensure_eq!(unsafe { rs!(libc::SYS_getrandom, buf.as_mut_ptr(), 0, 0) }, 0, "getrandom(buf, 0, 0)");
    ensure_eq!(unsafe { rs!(libc::SYS_getrandom, buf.as_mut_ptr(), 16, GRND_INSECURE) }, 16, "getrandom(GRND_INSECURE)");
    Ok(())
}

fn umask_values() -> CheckResult {
    let orig = unsafe { rs!(libc::SYS_umask, 0o027) };
    let dir = format!("/tmp/proc_ids.umask.{}", getpid());
    let result = (|| {
        ensure!((0..=0o777).contains(&orig), "initial umask {orig:#o}");
        ensure_eq!(unsafe { rs!(libc::SYS_umask, 0o022) }, 0o027, "umask returns the previous value");
        unsafe { rs!(libc::SYS_umask, 0o7777) };
        ensure_eq!(unsafe { rs!(libc::SYS_umask, 0o027) }, 0o777, "umask after umask(07777) (masked to 0777)");
        let cdir = CString::new(dir.clone()).unwrap();
        ok("mkdir(0777)", unsafe { rs!(libc::SYS_mkdir, cdir.as_ptr(), 0o777) })?;
        let cfile = CString::new(format!("{dir}/f")).unwrap();
        let fd = ok("open(O_CREAT, 0666)", unsafe {
            rs!(libc::SYS_openat, libc::AT_FDCWD, cfile.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o666)
        })?;
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        unsafe { rs!(libc::SYS_fstat, fd, &raw mut st) };
        close(fd as i32);
        ensure_eq!(st.st_mode & 0o7777, 0o640, "mode of a file created 0666 under umask 027");
        let mut ds: libc::stat = unsafe { std::mem::zeroed() };
        unsafe { rs!(libc::SYS_stat, cdir.as_ptr(), &raw mut ds) };
        ensure_eq!(ds.st_mode & 0o7777, 0o750, "mode of a directory created 0777 under umask 027");
        // A thread shares the umask (CLONE_FS).
        let t = join(std::thread::spawn(|| unsafe {
            let m = rs!(libc::SYS_umask, 0o077);
            rs!(libc::SYS_umask, m);
            m
        }))?;
        ensure_eq!(t, 0o027, "umask seen by a thread");
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    unsafe { rs!(libc::SYS_umask, orig) };
    result
}

fn affinity() -> Result<(usize, [u8; 128]), String> {
    let mut mask = [0u8; 128];
    let n = ok("sched_getaffinity(0, 128)", unsafe {
        rs!(libc::SYS_sched_getaffinity, 0, 128, mask.as_mut_ptr())
    })? as usize;
    Ok((n, mask))
}

fn getcpu() -> Result<(u32, u32), String> {
    let (mut cpu, mut node) = (u32::MAX, u32::MAX);
    ok("getcpu", unsafe { rs!(libc::SYS_getcpu, &raw mut cpu, &raw mut node, 0) })?;
    Ok((cpu, node))
}

fn getcpu_in_affinity() -> CheckResult {
    let (n, mask) = affinity()?;
    let in_mask = |c: u32| (c as usize) < n * 8 && mask[c as usize / 8] & (1 << (c % 8)) != 0;
    let (cpu, node) = getcpu()?;
    ensure!(in_mask(cpu), "getcpu() = CPU {cpu}, not in the affinity mask");
    ensure!(node != u32::MAX, "getcpu() did not write the node");
    let (mut c2, mut n2) = (u32::MAX, u32::MAX);
    ensure_eq!(unsafe { rs!(libc::SYS_getcpu, &raw mut c2, 0, 0) }, 0, "getcpu(&cpu, NULL, NULL)");
    ensure!(in_mask(c2), "getcpu(&cpu, NULL) = {c2}");
    ensure_eq!(unsafe { rs!(libc::SYS_getcpu, 0, &raw mut n2, 0) }, 0, "getcpu(NULL, &node, NULL)");
    // Pinned to each allowed CPU (at most 8) in turn, getcpu reports it.
    let cpus: Vec<u32> = (0..(n * 8) as u32).filter(|&c| in_mask(c)).take(8).collect();
    let mut result = Ok(());
    for &c in &cpus {
        let mut one = [0u8; 128];
        one[c as usize / 8] = 1 << (c % 8);
        let r = unsafe { rs!(libc::SYS_sched_setaffinity, 0, n, one.as_ptr()) };
        if let Err(e) = ok(&format!("sched_setaffinity(CPU {c})"), r) {
            result = Err(e);
            break;
        }
        unsafe { rs!(libc::SYS_sched_yield) };
        match getcpu() {
            Ok((got, _)) if got == c => {}
            Ok((got, _)) => {
                result = Err(format!("pinned to CPU {c}, getcpu() says {got}"));
                break;
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    unsafe { rs!(libc::SYS_sched_setaffinity, 0, n, mask.as_ptr()) };
    result
}

fn sched_getaffinity_sizes() -> CheckResult {
    let (n, mask) = affinity()?;
    ensure!(n > 0 && n <= 128 && n % 8 == 0, "sched_getaffinity(0, 128) = {n}");
    ensure!(mask[..n].iter().any(|&b| b != 0), "empty affinity mask");
    let mut m = [0u8; 128];
    for len in [4usize, 7, 12] {
        expect_err(
            &format!("sched_getaffinity(0, {len})"),
            unsafe { rs!(libc::SYS_sched_getaffinity, 0, len, m.as_mut_ptr()) },
            libc::EINVAL,
        )?;
    }
    if n == 8 {
        ensure_eq!(unsafe { rs!(libc::SYS_sched_getaffinity, 0, 8, m.as_mut_ptr()) }, 8, "sched_getaffinity(0, 8)");
    }
    Ok(())
}
