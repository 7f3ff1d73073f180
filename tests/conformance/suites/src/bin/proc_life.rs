//! `proc_life` suite: the life of a process: fork, vfork, execve, exit, wait.
//!
//! Covers: fork copy-on-write (static, heap, private mmap and stack pages; writes
//! in either process stay invisible to the other) and MAP_SHARED staying shared;
//! vfork (raw SYS_vfork: the parent does not run until the child `_exit`s, and is
//! released by the child's execve, not only by its exit); execve (argv/envp
//! passed exactly, also 1000 args and a 100 000-byte one; E2BIG for a 200 000-byte
//! one; close-on-exec descriptors closed and the others kept; handled signals reset
//! to SIG_DFL, ignored ones stay ignored, blocked mask and pending set kept; ENOENT
//! for a missing file, an empty path and a missing `#!` interpreter, EACCES for a
//! directory and for a file without x bits, ENOEXEC for a non-ELF file without
//! `#!`, ENOTDIR, EFAULT; a `#!` script whose interpreter is this program gets
//! `[interp, optional-arg, script, args...]`; a `/bin/sh` script when /bin/sh
//! exists); execve from a multi-threaded process ends the other threads, also when
//! a non-leader thread execs (the new image has the old pid, tid == pid);
//! exit of the main thread keeps the process alive while another thread runs
//! (exit_group from that thread sets the status; when the last thread uses plain
//! exit, its code is the status, as current Linux does); wait4/waitid: WNOHANG (0, and a zeroed
//! siginfo), any child, by pid, by process group (after setpgid), ECHILD, EINVAL
//! and ESRCH cases, WNOWAIT leaves the child waitable, status words and siginfo
//! (si_signo/si_code/si_pid/si_uid/si_status for CLD_EXITED, CLD_KILLED,
//! CLD_STOPPED, CLD_CONTINUED); orphans re-parented to a PR_SET_CHILD_SUBREAPER
//! process (the orphan's getppid changes, the subreaper reaps it); spawning with
//! std::process::Command and libc::posix_spawn 50 times while 8 threads run;
//! 1000 threads created and joined in batches of 100; 200 processes forked and
//! reaped.
//!
//! The program re-executes itself with `--helper MODE ...` (or `--script-helper`
//! as a `#!` interpreter) to observe the state a new image starts with; helpers
//! report on fd 100. Forked children use raw syscalls and end with `_exit`.

use checks::{ensure, ensure_eq, errno_name, join, CheckResult, Suite};
use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const REPORT_FD: i32 = 100;
const SIGCHLD: i32 = 17;
const WNOHANG: i64 = 1;
const WUNTRACED: i64 = 2;
const WEXITED: i64 = 4;
const WCONTINUED: i64 = 8;
const WNOWAIT: i64 = 0x0100_0000;
const P_ALL: i64 = 0;
const P_PID: i64 = 1;
const P_PGID: i64 = 2;
const CLD_EXITED: i32 = 1;
const CLD_KILLED: i32 = 2;
const CLD_STOPPED: i32 = 5;
const CLD_CONTINUED: i32 = 6;
const PR_SET_CHILD_SUBREAPER: i64 = 36;
const PR_GET_CHILD_SUBREAPER: i64 = 37;
const SA_RESTORER: u64 = 0x0400_0000;

static EXE: OnceLock<CString> = OnceLock::new();

// ---------------------------------------------------------------------------
// Raw syscalls

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


fn main() {
    let args: Vec<Vec<u8>> = std::env::args_os().map(|a| a.as_bytes().to_vec()).collect();
    if args.len() >= 2 && args[1] == b"--helper" {
        helper(&args);
    }
    if args.len() >= 2 && args[1] == b"--script-helper" {
        report_argv_env();
        unsafe { libc::_exit(0) };
    }
    EXE.set(self_exe(&args)).unwrap();

    let mut s = Selected::new("proc_life", std::env::args().skip(1).collect());
    s.check("fork_cow_private", fork_cow_private);
    s.check("fork_shared_mapping", fork_shared_mapping);
    s.check("vfork_holds_parent", vfork_holds_parent);
    s.check("vfork_released_at_exec", vfork_released_at_exec);
    s.check("execve_argv_envp", execve_argv_envp);
    s.check("execve_large_args", execve_large_args);
    s.check("execve_arg_too_long_e2big", execve_arg_too_long_e2big);
    s.check("execve_cloexec", execve_cloexec);
    s.check("execve_signal_state", execve_signal_state);
    s.check("execve_errors", execve_errors);
    s.check("execve_shebang_self", execve_shebang_self);
    if std::path::Path::new("/bin/sh").exists() {
        s.check("execve_bin_sh_script", execve_bin_sh_script);
    } else {
        println!("skip proc_life::execve_bin_sh_script: /bin/sh does not exist here");
    }
    s.check("execve_ends_other_threads", || execve_with_threads(false));
    s.check("execve_from_secondary_thread", || execve_with_threads(true));
    s.check("exit_main_thread_process_lives", exit_main_thread_process_lives);
    s.check("exit_last_thread_sets_status", exit_last_thread_sets_status);
    s.check("wait4_wnohang_running", wait4_wnohang_running);
    s.check("wait4_status_words", wait4_status_words);
    s.check("wait4_any_child", wait4_any_child);
    s.check("wait_by_process_group", wait_by_process_group);
    s.check("wait_echild", wait_echild);
    s.check("wait_einval_esrch", wait_einval_esrch);
    s.check("waitid_wnohang_running", waitid_wnohang_running);
    s.check("waitid_exited_siginfo", waitid_exited_siginfo);
    s.check("waitid_killed_siginfo", waitid_killed_siginfo);
    s.check("waitid_wnowait", waitid_wnowait);
    s.check("wait_stopped_continued", wait_stopped_continued);
    s.check("orphan_reparented_to_subreaper", orphan_reparented_to_subreaper);
    s.check("threads_1000", threads_1000);
    s.check("forks_200", forks_200);
    s.check("spawn_with_8_threads_x50", spawn_with_8_threads_x50);
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
// Helper modes (run in a freshly exec'd image)

fn write_all(fd: i32, mut buf: &[u8]) {
    while !buf.is_empty() {
        let n = unsafe { rs!(libc::SYS_write, fd, buf.as_ptr(), buf.len()) };
        if n <= 0 {
            return;
        }
        buf = &buf[n as usize..];
    }
}

fn encode_list(out: &mut Vec<u8>, items: &[Vec<u8>]) {
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    for it in items {
        out.extend_from_slice(&(it.len() as u32).to_le_bytes());
        out.extend_from_slice(it);
    }
}

fn decode_list(buf: &[u8], pos: &mut usize) -> Option<Vec<Vec<u8>>> {
    let rd = |pos: &mut usize| -> Option<u32> {
        let b = buf.get(*pos..*pos + 4)?;
        *pos += 4;
        Some(u32::from_le_bytes(b.try_into().unwrap()))
    };
    let n = rd(pos)?;
    let mut v = Vec::new();
    for _ in 0..n {
        let len = rd(pos)? as usize;
        v.push(buf.get(*pos..*pos + len)?.to_vec());
        *pos += len;
    }
    Some(v)
}

extern "C" {
    static environ: *const *const libc::c_char;
}

fn raw_environ() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    unsafe {
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            v.push(CStr::from_ptr(*p).to_bytes().to_vec());
            p = p.add(1);
        }
    }
    v
}

fn report_argv_env() {
    let args: Vec<Vec<u8>> = std::env::args_os().map(|a| a.as_bytes().to_vec()).collect();
    let mut out = Vec::new();
    encode_list(&mut out, &args);
    encode_list(&mut out, &raw_environ());
    write_all(REPORT_FD, &out);
}

fn helper(args: &[Vec<u8>]) -> ! {
    let mode = args.get(2).map(|m| String::from_utf8_lossy(m).into_owned()).unwrap_or_default();
    let num = |i: usize| -> i64 {
        args.get(i)
            .and_then(|a| std::str::from_utf8(a).ok())
            .and_then(|a| a.parse().ok())
            .unwrap_or(0)
    };
    let code: i32 = match mode.as_str() {
        "exit" => num(3) as i32,
        "dump" => {
            report_argv_env();
            0
        }
        "fds" => {
            let mut out = Vec::new();
            for i in 3..args.len() {
                let r = unsafe { rs!(libc::SYS_fcntl, num(i), libc::F_GETFD) };
                out.extend_from_slice(&r.to_le_bytes());
            }
            write_all(REPORT_FD, &out);
            0
        }
        "sigs" => {
            let mut out = Vec::new();
            for sig in [libc::SIGUSR1, libc::SIGUSR2, libc::SIGTERM, libc::SIGHUP] {
                let mut k = KSigaction::default();
                unsafe { rs!(libc::SYS_rt_sigaction, sig, 0, &raw mut k, 8) };
                out.extend_from_slice(&(k.handler as u64).to_le_bytes());
            }
            let mut mask: u64 = 0;
            unsafe { rs!(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, 0, &raw mut mask, 8) };
            out.extend_from_slice(&mask.to_le_bytes());
            let mut pend: u64 = 0;
            unsafe { rs!(libc::SYS_rt_sigpending, &raw mut pend, 8) };
            out.extend_from_slice(&pend.to_le_bytes());
            write_all(REPORT_FD, &out);
            0
        }
        "wait-fd" => {
            let fd = num(3) as i32;
            let mut pfd = libc::pollfd {
                fd,
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
        "pids-sleep" => {
            let mut out = Vec::new();
            for nr in [libc::SYS_getpid, libc::SYS_gettid, libc::SYS_getppid] {
                out.extend_from_slice(&(unsafe { rs!(nr) } as i32).to_le_bytes());
            }
            write_all(REPORT_FD, &out);
            std::thread::sleep(Duration::from_millis(300));
            0
        }
        "echo" => {
            let text = args.get(3).cloned().unwrap_or_default();
            write_all(1, &text);
            0
        }
        _ => 126,
    };
    unsafe { libc::_exit(code) }
}

type ChildFn = extern "C" fn(usize) -> i64;

/// Raw SYS_vfork; the child runs `f(arg)` (below our stack pointer, on our
/// stack, while we are suspended) and passes its result to SYS_exit.
unsafe fn vfork_fn(f: ChildFn, arg: usize) -> i64 {
    let r: i64;
    std::arch::asm!(
        "syscall",
        "test rax, rax",
        "jnz 2f",
        "and rsp, -16",
        "mov rdi, r13",
        "call r12",
        "mov rdi, rax",
        "mov eax, 60",
        "syscall",
        "ud2",
        "2:",
        inlateout("rax") 58i64 => r,
        in("r12") f,
        in("r13") arg,
        lateout("rcx") _,
        lateout("r11") _,
    );
    r
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

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
struct KSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

std::arch::global_asm!(
    ".globl proc_life_restore_rt",
    "proc_life_restore_rt:",
    "mov rax, 15",
    "syscall",
    "ud2",
);
extern "C" {
    fn proc_life_restore_rt();
}

extern "C" fn nop_handler(_: libc::c_int) {}

// ---------------------------------------------------------------------------
// Process helpers

fn exited(code: i32) -> i32 {
    (code & 0xff) << 8
}

fn describe(st: i32) -> String {
    if st & 0x7f == 0 {
        format!("exited {}", (st >> 8) & 0xff)
    } else if st & 0xff == 0x7f {
        format!("stopped by {}", (st >> 8) & 0xff)
    } else {
        format!("killed by signal {}", st & 0x7f)
    }
}

/// Forks; the child runs `f` (panics caught) and `_exit`s with its result.
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

/// Reaps child `pid`, polling for up to 60 s; on timeout kills it.
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

/// Blocking wait4; returns (pid, status).
fn wait4(pid: i64, flags: i64) -> Result<(i64, i32), String> {
    let mut st: i32 = 0;
    let r = unsafe { rs!(libc::SYS_wait4, pid, &raw mut st, flags, 0) };
    ok(&format!("wait4({pid}, {flags:#x})"), r)?;
    Ok((r, st))
}

/// Kills and reaps leftover children (best effort, after a failure).
fn kill_reap(pids: &[i64]) {
    for &p in pids {
        if p > 0 {
            unsafe { rs!(libc::SYS_kill, p, libc::SIGKILL) };
            let _ = reap(p);
        }
    }
}

struct Siginfo {
    ret: i64,
    signo: i32,
    errno: i32,
    code: i32,
    pid: i32,
    uid: i32,
    status: i32,
}

fn waitid(idtype: i64, id: i64, options: i64) -> Siginfo {
    let mut raw = [0x5555_5555i32; 32];
    let ret = unsafe { rs!(libc::SYS_waitid, idtype, id, raw.as_mut_ptr(), options, 0) };
    Siginfo {
        ret,
        signo: raw[0],
        errno: raw[1],
        code: raw[2],
        pid: raw[4],
        uid: raw[5],
        status: raw[6],
    }
}

fn pipe_flags(flags: i32) -> Result<(i32, i32), String> {
    let mut fds = [0i32; 2];
    ok("pipe2", unsafe { rs!(libc::SYS_pipe2, fds.as_mut_ptr(), flags) })?;
    Ok((fds[0], fds[1]))
}

fn pipe() -> Result<(i32, i32), String> {
    pipe_flags(libc::O_CLOEXEC)
}

fn close(fd: i32) {
    unsafe { rs!(libc::SYS_close, fd) };
}

fn write_byte(fd: i32) {
    unsafe { rs!(libc::SYS_write, fd, b"x".as_ptr(), 1) };
}

/// Child side: blocks until a byte (or EOF) arrives on `fd`.
fn read_byte(fd: i32) -> i64 {
    let mut b = [0u8; 1];
    unsafe { rs!(libc::SYS_read, fd, b.as_mut_ptr(), 1) }
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
        let n = ok("read", unsafe {
            rs!(libc::SYS_read, fd, buf.as_mut_ptr().add(got), buf.len() - got)
        })?;
        if n == 0 {
            return Err(format!("EOF from the child after {got} of {} bytes", buf.len()));
        }
        got += n as usize;
    }
    Ok(())
}

/// Reads until EOF, waiting at most `secs` in total.
fn read_to_eof(fd: i32, secs: u64) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let r = unsafe { rs!(libc::SYS_poll, &raw mut pfd, 1, left.as_millis() as i64) };
        if r == 0 {
            return Err(format!("no EOF from the child within {secs} s ({} bytes)", out.len()));
        }
        if errno_of(r) == Some(libc::EINTR) {
            continue;
        }
        ok("poll", r)?;
        let n = ok("read", unsafe { rs!(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) })?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// A NUL-terminated pointer array over `items` (kept alive by the returned Vec).
fn cvec(items: &[Vec<u8>]) -> (Vec<CString>, Vec<*const libc::c_char>) {
    let owned: Vec<CString> = items.iter().map(|i| CString::new(i.clone()).unwrap()).collect();
    let mut ptrs: Vec<*const libc::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    (owned, ptrs)
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn helper_argv(mode: &str, rest: &[&str]) -> Vec<Vec<u8>> {
    let mut v = vec![exe().to_bytes().to_vec(), b("--helper"), b(mode)];
    v.extend(rest.iter().map(|s| b(s)));
    v
}

/// Forks a child that runs `pre`, puts a pipe on fd 100 and execs `path` with
/// `argv`/`envp`. Returns (wait status, everything written to fd 100).
fn run_exec(
    path: &CStr,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    pre: impl FnOnce(),
) -> Result<(i32, Vec<u8>), String> {
    let (_a, argv_p) = cvec(argv);
    let (_e, envp_p) = cvec(envp);
    let (r, w) = pipe()?;
    let pid = fork_child(|| {
        pre();
        unsafe {
            rs!(libc::SYS_dup2, w, REPORT_FD);
            let e = rs!(libc::SYS_execve, path.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
            if e == -(libc::ENOENT as i64) { 125 } else { 127 }
        }
    });
    close(w);
    let pid = match pid {
        Ok(p) => p,
        Err(e) => {
            close(r);
            return Err(e);
        }
    };
    let out = read_to_eof(r, 60);
    close(r);
    let st = reap(pid)?;
    ensure!(st != exited(127) && st != exited(125), "the child's execve failed");
    Ok((st, out?))
}

fn temp_dir(tag: &str) -> Result<std::path::PathBuf, String> {
    let me = std::process::id();
    let d = std::path::PathBuf::from(format!("/tmp/proc_life.{tag}.{me}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
    Ok(d)
}

fn write_file(path: &std::path::Path, content: &[u8], mode: u32) -> CheckResult {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content).map_err(|e| format!("write {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// fork

static mut STATIC_WORD: u64 = 0;

fn fork_cow_private() -> CheckResult {
    const A: u64 = 0xaaaa_0001;
    const B: u64 = 0xbbbb_0002;
    const C: u64 = 0xcccc_0003;
    let mut heap = vec![0u64; 4096];
    let map = ok("mmap", unsafe {
        rs!(
            libc::SYS_mmap,
            0,
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0
        )
    })? as *mut u64;
    let mut stack = [0u64; 1024];
    let words: [*mut u64; 4] = [
        &raw mut STATIC_WORD,
        &raw mut heap[2048],
        unsafe { map.add(100) },
        &raw mut stack[512],
    ];
    let names = ["static", "heap", "private mmap", "stack"];
    let set = |v: u64| {
        for w in words {
            unsafe { std::ptr::write_volatile(w, v) };
        }
    };
    let get = || -> [u64; 4] { words.map(|w| unsafe { std::ptr::read_volatile(w) }) };
    set(A);
    let (c2p_r, c2p_w) = pipe()?;
    let (p2c_r, p2c_w) = pipe()?;
    let pid = fork_child(|| {
        if get() != [A; 4] {
            return 10;
        }
        set(B);
        write_byte(c2p_w);
        read_byte(p2c_r);
        if get() != [B; 4] {
            return 11;
        }
        0
    });
    close(c2p_w);
    close(p2c_r);
    let result = (|| {
        let pid = pid.clone()?;
        let mut bb = [0u8; 1];
        read_exact_timeout(c2p_r, &mut bb, 30)?;
        let seen = get();
        set(C);
        write_byte(p2c_w);
        let st = reap(pid)?;
        for i in 0..4 {
            ensure!(
                seen[i] == A,
                "{} word after the child wrote its copy: {:#x}, expected {A:#x}",
                names[i],
                seen[i]
            );
        }
        ensure!(
            st != exited(11),
            "the child saw the parent's write after fork (copy-on-write broken)"
        );
        ensure_eq!(st, exited(0), "child status (10: child did not see the pre-fork values)");
        ensure_eq!(get(), [C; 4], "our words after writing them");
        Ok(())
    })();
    close(c2p_r);
    close(p2c_w);
    unsafe { rs!(libc::SYS_munmap, map, 4096) };
    if result.is_err() {
        if let Ok(p) = pid {
            kill_reap(&[p]);
        }
    }
    result
}

fn fork_shared_mapping() -> CheckResult {
    let map = ok("mmap(MAP_SHARED)", unsafe {
        rs!(
            libc::SYS_mmap,
            0,
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0
        )
    })? as *mut u64;
    unsafe { std::ptr::write_volatile(map, 1) };
    let pid = fork_child(|| {
        unsafe { std::ptr::write_volatile(map, 2) };
        0
    })?;
    let st = reap(pid)?;
    let v = unsafe { std::ptr::read_volatile(map) };
    unsafe { rs!(libc::SYS_munmap, map, 4096) };
    ensure_eq!(st, exited(0), "child status");
    ensure_eq!(v, 2, "a MAP_SHARED word the child wrote");
    Ok(())
}

// ---------------------------------------------------------------------------
// vfork

struct VforkShared {
    step: AtomicI32,
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    err: AtomicI64,
}

fn raw_sleep_ms(ms: i64) {
    let ts = libc::timespec {
        tv_sec: ms / 1000,
        tv_nsec: (ms % 1000) * 1_000_000,
    };
    unsafe { rs!(libc::SYS_nanosleep, &raw const ts, 0) };
}

extern "C" fn vfork_child_exit(arg: usize) -> i64 {
    let s = unsafe { &*(arg as *const VforkShared) };
    s.step.store(1, SeqCst);
    raw_sleep_ms(100);
    s.step.store(2, SeqCst);
    9
}

fn vfork_holds_parent() -> CheckResult {
    let shared = VforkShared {
        step: AtomicI32::new(0),
        path: std::ptr::null(),
        argv: std::ptr::null(),
        envp: std::ptr::null(),
        err: AtomicI64::new(0),
    };
    let pid = unsafe { vfork_fn(vfork_child_exit, &raw const shared as usize) };
    ok("vfork", pid)?;
    let seen = shared.step.load(SeqCst);
    let st = reap(pid)?;
    ensure_eq!(
        seen,
        2,
        "step seen when vfork returned in the parent (child: 1, sleep 100 ms, 2, exit)"
    );
    ensure_eq!(st, exited(9), "vfork child status");
    Ok(())
}

extern "C" fn vfork_child_exec(arg: usize) -> i64 {
    let s = unsafe { &*(arg as *const VforkShared) };
    s.step.store(1, SeqCst);
    raw_sleep_ms(50);
    s.step.store(2, SeqCst);
    let r = unsafe { rs!(libc::SYS_execve, s.path, s.argv, s.envp) };
    s.err.store(r, SeqCst);
    127
}

fn vfork_released_at_exec() -> CheckResult {
    // The exec'd helper waits (30 s at most) for a byte we can only send once
    // vfork has returned to us: exit 3 = got it, 4 = never came.
    let (r, w) = pipe_flags(0)?;
    unsafe { rs!(libc::SYS_fcntl, w, libc::F_SETFD, libc::FD_CLOEXEC) };
    let argv = helper_argv("wait-fd", &[&r.to_string()]);
    let (_a, argv_p) = cvec(&argv);
    let (_e, envp_p) = cvec(&[]);
    let shared = VforkShared {
        step: AtomicI32::new(0),
        path: exe().as_ptr(),
        argv: argv_p.as_ptr(),
        envp: envp_p.as_ptr(),
        err: AtomicI64::new(0),
    };
    let pid = unsafe { vfork_fn(vfork_child_exec, &raw const shared as usize) };
    let seen = shared.step.load(SeqCst);
    write_byte(w);
    close(w);
    close(r);
    ok("vfork", pid)?;
    let st = reap(pid)?;
    ensure_eq!(shared.err.load(SeqCst), 0, "execve in the vfork child");
    ensure_eq!(seen, 2, "step seen when vfork returned (child: 1, sleep 50 ms, 2, execve)");
    ensure!(
        st != exited(4),
        "the exec'd child never got our byte: vfork returned only after the child exited"
    );
    ensure_eq!(st, exited(3), "status of the exec'd vfork child");
    Ok(())
}

// ---------------------------------------------------------------------------
// execve

fn decode_argv_env(rep: &[u8]) -> Result<(Vec<Vec<u8>>, Vec<Vec<u8>>), String> {
    let mut pos = 0;
    let a = decode_list(rep, &mut pos).ok_or("truncated argv report")?;
    let e = decode_list(rep, &mut pos).ok_or("truncated envp report")?;
    Ok((a, e))
}

fn short(v: &[Vec<u8>]) -> String {
    let s: Vec<String> = v
        .iter()
        .take(8)
        .map(|x| {
            let t = String::from_utf8_lossy(x);
            if t.len() > 40 {
                format!("{:?}...({} bytes)", &t[..40], x.len())
            } else {
                format!("{t:?}")
            }
        })
        .collect();
    format!("{} items [{}]", v.len(), s.join(", "))
}

fn execve_argv_envp() -> CheckResult {
    let mut argv = vec![b("custom-argv0"), b("--helper"), b("dump")];
    argv.extend([b(""), b("two words"), "ümlaut ✓".as_bytes().to_vec(), b("x=y"), b("-")]);
    let envp = vec![b("A=1"), b("EMPTY="), b("SPACES=a b  c"), b("NOEQUALS"), b("A=2")];
    let (st, rep) = run_exec(exe(), &argv, &envp, || {})?;
    ensure_eq!(st, exited(0), "helper status");
    let (a, e) = decode_argv_env(&rep)?;
    ensure!(a == argv, "argv in the new image: {}, expected {}", short(&a), short(&argv));
    ensure!(e == envp, "envp in the new image: {}, expected {}", short(&e), short(&envp));
    Ok(())
}

fn execve_large_args() -> CheckResult {
    let mut argv = vec![b("large"), b("--helper"), b("dump")];
    for i in 0..1000 {
        argv.push(format!("arg-{i:04}-{}", "x".repeat(90)).into_bytes());
    }
    argv.push(vec![b'L'; 100_000]);
    let envp: Vec<Vec<u8>> = (0..100).map(|i| format!("VAR{i}={}", "v".repeat(i)).into_bytes()).collect();
    let (st, rep) = run_exec(exe(), &argv, &envp, || {})?;
    ensure_eq!(st, exited(0), "helper status");
    let (a, e) = decode_argv_env(&rep)?;
    ensure!(a == argv, "argv in the new image: {}, expected {}", short(&a), short(&argv));
    ensure!(e == envp, "envp in the new image: {}, expected {}", short(&e), short(&envp));
    Ok(())
}

fn execve_arg_too_long_e2big() -> CheckResult {
    let argv = vec![b("x"), b("--helper"), b("exit"), b("0"), vec![b'L'; 200_000]];
    let (_a, argv_p) = cvec(&argv);
    let (_e, envp_p) = cvec(&[]);
    let pid = fork_child(|| {
        let r = unsafe { rs!(libc::SYS_execve, exe().as_ptr(), argv_p.as_ptr(), envp_p.as_ptr()) };
        errno_of(r).unwrap_or(0)
    })?;
    let st = reap(pid)?;
    ensure!(
        st != exited(0),
        "execve with a 200 000-byte argument succeeded (expected E2BIG)"
    );
    ensure_eq!(
        st,
        exited(libc::E2BIG),
        "child status = errno of execve with a 200 000-byte argument ({})",
        describe(st)
    );
    Ok(())
}

fn open_null(flags: i32) -> Result<i32, String> {
    Ok(ok("open(/dev/null)", unsafe {
        rs!(libc::SYS_openat, libc::AT_FDCWD, c"/dev/null".as_ptr(), libc::O_RDONLY | flags, 0)
    })? as i32)
}

fn execve_cloexec() -> CheckResult {
    let a = open_null(libc::O_CLOEXEC)?;
    let bfd = open_null(0)?;
    let c = open_null(0)?;
    unsafe { rs!(libc::SYS_fcntl, c, libc::F_SETFD, libc::FD_CLOEXEC) };
    let d = ok("dup3(O_CLOEXEC)", unsafe { rs!(libc::SYS_dup3, bfd, 60, libc::O_CLOEXEC) })? as i32;
    let e = ok("fcntl(F_DUPFD_CLOEXEC)", unsafe {
        rs!(libc::SYS_fcntl, bfd, libc::F_DUPFD_CLOEXEC, 70)
    })? as i32;
    let f = ok("dup2", unsafe { rs!(libc::SYS_dup2, a, 80) })? as i32;
    let fds = [a, bfd, c, d, e, f];
    let argv = helper_argv("fds", &fds.map(|x| x.to_string()).iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let res = run_exec(exe(), &argv, &[], || {});
    for fd in fds {
        close(fd);
    }
    let (st, rep) = res?;
    ensure_eq!(st, exited(0), "helper status");
    ensure_eq!(rep.len(), 48, "report length");
    let got: Vec<i64> = rep.chunks(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
    let ebadf = -(libc::EBADF as i64);
    let want = [ebadf, 0, ebadf, ebadf, ebadf, 0];
    let names = [
        "O_CLOEXEC open",
        "plain open",
        "F_SETFD FD_CLOEXEC",
        "dup3(O_CLOEXEC)",
        "F_DUPFD_CLOEXEC",
        "dup2 of a close-on-exec fd",
    ];
    for i in 0..6 {
        ensure!(
            got[i] == want[i],
            "fd {} ({}) after exec: F_GETFD = {}, expected {}",
            fds[i],
            names[i],
            show(got[i]),
            show(want[i])
        );
    }
    Ok(())
}

fn sigbit(sig: i32) -> u64 {
    1 << (sig - 1)
}

fn execve_signal_state() -> CheckResult {
    let argv = helper_argv("sigs", &[]);
    let (st, rep) = run_exec(exe(), &argv, &[], || unsafe {
        let handled = KSigaction {
            handler: nop_handler as *const () as usize,
            flags: SA_RESTORER,
            restorer: proc_life_restore_rt as *const () as usize,
            mask: 0,
        };
        rs!(libc::SYS_rt_sigaction, libc::SIGUSR1, &raw const handled, 0, 8);
        let ign = KSigaction {
            handler: 1,
            ..Default::default()
        };
        rs!(libc::SYS_rt_sigaction, libc::SIGUSR2, &raw const ign, 0, 8);
        let set = sigbit(libc::SIGTERM) | sigbit(libc::SIGHUP);
        rs!(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &raw const set, 0, 8);
        rs!(libc::SYS_kill, rs!(libc::SYS_getpid), libc::SIGHUP);
    })?;
    ensure_eq!(st, exited(0), "helper status");
    ensure_eq!(rep.len(), 48, "report length");
    let v: Vec<u64> = rep.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
    ensure_eq!(v[0], 0, "SIGUSR1 (was handled) disposition after exec (0 = SIG_DFL)");
    ensure_eq!(v[1], 1, "SIGUSR2 (was ignored) disposition after exec (1 = SIG_IGN)");
    ensure_eq!(v[2], 0, "SIGTERM (default, blocked) disposition after exec");
    ensure_eq!(v[3], 0, "SIGHUP (default, blocked, pending) disposition after exec");
    ensure_eq!(
        v[4],
        sigbit(libc::SIGTERM) | sigbit(libc::SIGHUP),
        "blocked mask after exec"
    );
    ensure_eq!(v[5], sigbit(libc::SIGHUP), "pending set after exec");
    Ok(())
}

/// Forks a child that execs `path` and exits with execve's errno.
fn exec_errno(path: *const libc::c_char) -> Result<i32, String> {
    let argv = vec![b("x"), b("--helper"), b("exit"), b("0")];
    let (_a, argv_p) = cvec(&argv);
    let (_e, envp_p) = cvec(&[]);
    let path = path as usize;
    let pid = fork_child(|| {
        let r = unsafe { rs!(libc::SYS_execve, path, argv_p.as_ptr(), envp_p.as_ptr()) };
        match errno_of(r) {
            Some(e) => e,
            None => 0,
        }
    })?;
    let st = reap(pid)?;
    ensure!(st & 0x7f == 0, "the exec child {}", describe(st));
    Ok((st >> 8) & 0xff)
}

fn execve_errors() -> CheckResult {
    let dir = temp_dir("exec")?;
    let result = (|| {
        let p = |name: &str| CString::new(dir.join(name).as_os_str().as_bytes()).unwrap();
        write_file(&dir.join("noexec"), b"#!/bin/sh\nexit 0\n", 0o644)?;
        write_file(&dir.join("garbage"), b"hello, this is not a program\n\x01\x02\x03", 0o755)?;
        write_file(&dir.join("badinterp"), b"#!/nonexistent/interpreter\n", 0o755)?;
        let cases: Vec<(String, CString, i32)> = vec![
            ("a missing file".into(), p("missing"), libc::ENOENT),
            ("an empty path".into(), CString::new("").unwrap(), libc::ENOENT),
            ("a directory".into(), CString::new(dir.as_os_str().as_bytes()).unwrap(), libc::EACCES),
            ("a file without x bits (mode 644)".into(), p("noexec"), libc::EACCES),
            ("a non-ELF file without #! (mode 755)".into(), p("garbage"), libc::ENOEXEC),
            ("a path through a regular file".into(), p("garbage/x"), libc::ENOTDIR),
            ("a script with a missing #! interpreter".into(), p("badinterp"), libc::ENOENT),
        ];
        for (what, path, want) in cases {
            let got = exec_errno(path.as_ptr())?;
            ensure!(
                got == want,
                "execve of {what} ({:?}): {}, expected {}",
                path,
                if got == 0 { "succeeded".to_string() } else { errno_name(got) },
                errno_name(want)
            );
        }
        let got = exec_errno(1 as *const libc::c_char)?;
        ensure!(
            got == libc::EFAULT,
            "execve((char *)1, ..): {}, expected EFAULT",
            errno_name(got)
        );
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn execve_shebang_self() -> CheckResult {
    let dir = temp_dir("shebang")?;
    let result = (|| {
        let script = dir.join("script");
        let mut content = b"#!".to_vec();
        content.extend_from_slice(exe().to_bytes());
        content.extend_from_slice(b" --script-helper\nthis line is never read by anyone\n");
        write_file(&script, &content, 0o755)?;
        let spath = CString::new(script.as_os_str().as_bytes()).unwrap();
        let argv = vec![b("script-argv0"), b("a1"), b("a 2")];
        let envp = vec![b("K=v")];
        let (st, rep) = run_exec(&spath, &argv, &envp, || {})?;
        ensure_eq!(st, exited(0), "interpreter status");
        let (a, e) = decode_argv_env(&rep)?;
        let want = vec![
            exe().to_bytes().to_vec(),
            b("--script-helper"),
            spath.to_bytes().to_vec(),
            b("a1"),
            b("a 2"),
        ];
        ensure!(a == want, "interpreter argv: {}, expected {}", short(&a), short(&want));
        ensure!(e == envp, "interpreter envp: {}, expected {}", short(&e), short(&envp));
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn execve_bin_sh_script() -> CheckResult {
    let dir = temp_dir("sh")?;
    let result = (|| {
        let script = dir.join("script.sh");
        write_file(&script, b"#!/bin/sh\nexit 7\n", 0o755)?;
        let spath = CString::new(script.as_os_str().as_bytes()).unwrap();
        let (st, _) = run_exec(&spath, &[b("script.sh")], &[], || {})?;
        ensure_eq!(st, exited(7), "status of a /bin/sh script doing `exit 7`");
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Threads in a child bump counters in shared memory; then one of them (or the
/// main thread) execs a helper that reports its pid/tid/ppid and sleeps. The
/// counters must stop once the new image runs.
fn execve_with_threads(from_secondary: bool) -> CheckResult {
    let counters = ok("mmap(MAP_SHARED)", unsafe {
        rs!(
            libc::SYS_mmap,
            0,
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0
        )
    })? as *const AtomicU64;
    let counter = |i: usize| unsafe { &*counters.add(i) };
    let argv = helper_argv("pids-sleep", &[]);
    let (_a, argv_p) = cvec(&argv);
    let (_e, envp_p) = cvec(&[]);
    let (argv_a, envp_a) = (argv_p.as_ptr() as usize, envp_p.as_ptr() as usize);
    let cnt_a = counters as usize;
    let (r, w) = pipe()?;
    let pid = fork_child(move || {
        let counter = move |i: usize| unsafe { &*(cnt_a as *const AtomicU64).add(i) };
        for i in 0..3 {
            std::thread::spawn(move || loop {
                counter(i).fetch_add(1, SeqCst);
                std::thread::sleep(Duration::from_millis(1));
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while (0..3).any(|i| counter(i).load(SeqCst) == 0) {
            if Instant::now() > deadline {
                return 10;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        unsafe { rs!(libc::SYS_dup2, w, REPORT_FD) };
        let do_exec = move || unsafe {
            rs!(libc::SYS_execve, exe().as_ptr(), argv_a, envp_a);
            rs!(libc::SYS_exit_group, 127);
        };
        if from_secondary {
            std::thread::spawn(do_exec);
            loop {
                counter(3).fetch_add(1, SeqCst);
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        do_exec();
        127
    });
    close(w);
    let result = (|| {
        let pid = pid.clone()?;
        let mut rep = [0u8; 12];
        let got = read_exact_timeout(r, &mut rep, 60);
        if let Err(e) = got {
            let st = reap(pid)?;
            return Err(format!("{e}; child {}", describe(st)));
        }
        let snap: Vec<u64> = (0..4).map(|i| counter(i).load(SeqCst)).collect();
        std::thread::sleep(Duration::from_millis(200));
        let later: Vec<u64> = (0..4).map(|i| counter(i).load(SeqCst)).collect();
        let st = reap(pid)?;
        let v: Vec<i32> = rep.chunks(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect();
        ensure!(
            snap == later,
            "threads of the old image still ran after exec: counters {snap:?} then {later:?}"
        );
        ensure_eq!(v[0] as i64, pid, "getpid() in the new image");
        ensure_eq!(v[1] as i64, pid, "gettid() in the new image");
        ensure_eq!(v[2] as i64, unsafe { rs!(libc::SYS_getpid) }, "getppid() in the new image");
        ensure_eq!(st, exited(0), "child status (10: its threads never ran)");
        Ok(())
    })();
    close(r);
    if result.is_err() {
        if let Ok(p) = pid {
            kill_reap(&[p]);
        }
    }
    unsafe { rs!(libc::SYS_munmap, counters, 4096) };
    result
}

// ---------------------------------------------------------------------------
// exit vs exit_group

fn exit_main_thread_process_lives() -> CheckResult {
    let (r1, w1) = pipe()?;
    let (r2, w2) = pipe()?;
    let pid = fork_child(|| {
        std::thread::spawn(move || unsafe {
            raw_sleep_ms(200);
            write_byte(w1);
            let mut pfd = libc::pollfd {
                fd: r2,
                events: libc::POLLIN,
                revents: 0,
            };
            rs!(libc::SYS_poll, &raw mut pfd, 1, 30_000);
            rs!(libc::SYS_exit_group, 5);
        });
        // Only the main thread ends.
        unsafe { rs!(libc::SYS_exit, 0) };
        126
    });
    close(w1);
    close(r2);
    let result = (|| {
        let pid = pid.clone()?;
        let mut bb = [0u8; 1];
        read_exact_timeout(r1, &mut bb, 30)?;
        let mut st = 0i32;
        let w = unsafe { rs!(libc::SYS_wait4, pid, &raw mut st, WNOHANG, 0) };
        let k = unsafe { rs!(libc::SYS_kill, pid, 0) };
        write_byte(w2);
        let st = reap(pid)?;
        ensure!(
            w == 0,
            "wait4(WNOHANG) after the main thread exited returned {} (status {}), expected 0: \
             the process must live on while a thread runs",
            show(w),
            describe(st)
        );
        ensure_eq!(k, 0, "kill(pid, 0) after the main thread exited");
        ensure_eq!(st, exited(5), "status after exit_group(5) from the other thread");
        Ok(())
    })();
    close(r1);
    close(w2);
    if result.is_err() {
        if let Ok(p) = pid {
            kill_reap(&[p]);
        }
    }
    result
}

fn exit_last_thread_sets_status() -> CheckResult {
    let pid = fork_child(|| {
        std::thread::spawn(|| unsafe {
            raw_sleep_ms(200);
            rs!(libc::SYS_exit, 9);
        });
        unsafe { rs!(libc::SYS_exit, 3) };
        126
    })?;
    let st = reap(pid)?;
    // Current Linux (synchronize_group_exit): the last thread to exit sets the
    // group's exit code; the main thread's earlier exit(3) does not count.
    ensure_eq!(
        st,
        exited(9),
        "status when the main thread did exit(3) and then the last thread exit(9): {}",
        describe(st)
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// wait4 / waitid

/// A child that exits with `code` once it reads a byte (or EOF) from the returned
/// write end.
fn gated_child(code: i32) -> Result<(i64, i32), String> {
    let (r, w) = pipe()?;
    let pid = fork_child(|| {
        close(w); // our copy of the write end, so that the parent's close is EOF
        read_byte(r);
        code
    });
    close(r);
    match pid {
        Ok(p) => Ok((p, w)),
        Err(e) => {
            close(w);
            Err(e)
        }
    }
}

fn release(w: i32) {
    write_byte(w);
    close(w);
}

fn wait4_wnohang_running() -> CheckResult {
    let (pid, w) = gated_child(6)?;
    let mut st = 0x5555i32;
    let r = unsafe { rs!(libc::SYS_wait4, pid, &raw mut st, WNOHANG, 0) };
    let r_any = unsafe { rs!(libc::SYS_wait4, -1, &raw mut st, WNOHANG, 0) };
    release(w);
    let (got, st2) = wait4(pid, 0)?;
    ensure_eq!(r, 0, "wait4(pid, WNOHANG) while the child runs");
    ensure_eq!(r_any, 0, "wait4(-1, WNOHANG) while the child runs");
    ensure_eq!(got, pid, "blocking wait4(pid) result");
    ensure_eq!(st2, exited(6), "status");
    Ok(())
}

fn wait4_status_words() -> CheckResult {
    for (code, want) in [(0, 0x0000), (1, 0x0100), (255, 0xff00), (263, 0x0700)] {
        let pid = fork_child(|| unsafe { rs!(libc::SYS_exit_group, code) as i32 })?;
        let (_, st) = wait4(pid, 0)?;
        ensure!(st == want, "exit_group({code}): status {st:#x}, expected {want:#x}");
    }
    for sig in [libc::SIGKILL, libc::SIGTERM, libc::SIGUSR1] {
        let (pid, w) = gated_child(0)?;
        ok("kill", unsafe { rs!(libc::SYS_kill, pid, sig) })?;
        let (_, st) = wait4(pid, 0)?;
        close(w);
        ensure!(st == sig, "killed by signal {sig}: status {st:#x}, expected {sig:#x}");
    }
    Ok(())
}

fn wait4_any_child() -> CheckResult {
    let mut kids = Vec::new();
    for code in [11, 12, 13] {
        let pid = fork_child(move || {
            raw_sleep_ms(10 * (code as i64 - 10));
            code
        })?;
        kids.push((pid, code));
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(wait4(-1, 0)?);
    }
    got.sort();
    let want: Vec<(i64, i32)> = kids.iter().map(|&(p, c)| (p, exited(c))).collect();
    let mut want = want;
    want.sort();
    ensure_eq!(got, want, "(pid, status) pairs from wait4(-1) x3");
    let mut st = 0;
    let r = unsafe { rs!(libc::SYS_wait4, -1, &raw mut st, WNOHANG, 0) };
    expect_err("wait4(-1, WNOHANG) with no children left", r, libc::ECHILD)?;
    Ok(())
}

fn wait_by_process_group() -> CheckResult {
    let me = unsafe { rs!(libc::SYS_getpid) };
    let our_pgrp = unsafe { rs!(libc::SYS_getpgid, 0) };
    let (ar, aw) = pipe()?;
    let a = fork_child(|| {
        unsafe { rs!(libc::SYS_setpgid, 0, 0) };
        read_byte(ar);
        21
    })?;
    close(ar);
    let sp = unsafe { rs!(libc::SYS_setpgid, a, a) };
    let (bpid, bw) = gated_child(22)?;
    let result = (|| {
        ok("setpgid(child, child)", sp)?;
        ensure_eq!(unsafe { rs!(libc::SYS_getpgid, a) }, a, "getpgid(A) after setpgid(A, A)");
        ensure_eq!(
            unsafe { rs!(libc::SYS_getpgid, bpid) },
            our_pgrp,
            "getpgid(B), B in our group"
        );
        // A exits first; wait4(0) must still pick B, the child in our group.
        release(aw);
        let i = waitid(P_PID, a, WEXITED | WNOWAIT);
        ok("waitid(P_PID, A, WEXITED|WNOWAIT)", i.ret)?;
        release(bw);
        let (p, st) = wait4(0, 0)?;
        ensure_eq!(p, bpid, "wait4(0) (our process group {our_pgrp}) returned");
        ensure_eq!(st, exited(22), "B's status");
        let (p, st) = wait4(-a, 0)?;
        ensure_eq!(p, a, "wait4(-pgid of A) returned");
        ensure_eq!(st, exited(21), "A's status");
        let mut s = 0;
        let r = unsafe { rs!(libc::SYS_wait4, -a, &raw mut s, WNOHANG, 0) };
        expect_err("wait4(-pgid) with no child left in that group", r, libc::ECHILD)?;
        // waitid(P_PGID)
        let (cr, cw) = pipe()?;
        let c = fork_child(|| {
            unsafe { rs!(libc::SYS_setpgid, 0, 0) };
            read_byte(cr);
            23
        })?;
        close(cr);
        ok("setpgid(C, C)", unsafe { rs!(libc::SYS_setpgid, c, c) })?;
        release(cw);
        let i = waitid(P_PGID, c, WEXITED);
        ok("waitid(P_PGID, C)", i.ret)?;
        ensure_eq!(i.pid as i64, c, "waitid(P_PGID) si_pid");
        ensure_eq!(i.status, 23, "waitid(P_PGID) si_status");
        ensure!(me > 0, "getpid");
        Ok(())
    })();
    if result.is_err() {
        kill_reap(&[a, bpid]);
    }
    result
}

fn wait_echild() -> CheckResult {
    let mut st = 0;
    expect_err("wait4(-1, 0) with no children", unsafe { rs!(libc::SYS_wait4, -1, &raw mut st, 0, 0) }, libc::ECHILD)?;
    expect_err("wait4(0, 0) with no children", unsafe { rs!(libc::SYS_wait4, 0, &raw mut st, 0, 0) }, libc::ECHILD)?;
    let ppid = unsafe { rs!(libc::SYS_getppid) };
    expect_err("wait4(getppid(), 0)", unsafe { rs!(libc::SYS_wait4, ppid, &raw mut st, 0, 0) }, libc::ECHILD)?;
    expect_err("waitid(P_ALL, WEXITED) with no children", waitid(P_ALL, 0, WEXITED).ret, libc::ECHILD)?;
    expect_err("waitid(P_PID, getppid())", waitid(P_PID, ppid, WEXITED).ret, libc::ECHILD)?;
    let pg = unsafe { rs!(libc::SYS_getpgid, 0) };
    expect_err("waitid(P_PGID, our group)", waitid(P_PGID, pg, WEXITED | WNOHANG).ret, libc::ECHILD)?;
    // A child already reaped is gone.
    let pid = fork_child(|| 0)?;
    wait4(pid, 0)?;
    expect_err("wait4 on a reaped child", unsafe { rs!(libc::SYS_wait4, pid, &raw mut st, 0, 0) }, libc::ECHILD)?;
    Ok(())
}

fn wait_einval_esrch() -> CheckResult {
    let mut st = 0;
    expect_err(
        "wait4(-1, WEXITED) (not a wait4 option)",
        unsafe { rs!(libc::SYS_wait4, -1, &raw mut st, WEXITED, 0) },
        libc::EINVAL,
    )?;
    expect_err(
        "wait4(-1, 0x100)",
        unsafe { rs!(libc::SYS_wait4, -1, &raw mut st, 0x100, 0) },
        libc::EINVAL,
    )?;
    expect_err(
        "wait4(INT_MIN, 0)",
        unsafe { rs!(libc::SYS_wait4, i32::MIN, &raw mut st, 0, 0) },
        libc::ESRCH,
    )?;
    expect_err("waitid(P_ALL, options 0)", waitid(P_ALL, 0, 0).ret, libc::EINVAL)?;
    expect_err("waitid(P_ALL, WNOHANG only)", waitid(P_ALL, 0, WNOHANG).ret, libc::EINVAL)?;
    expect_err("waitid(idtype 99)", waitid(99, 0, WEXITED).ret, libc::EINVAL)?;
    expect_err("waitid(P_PID, 0)", waitid(P_PID, 0, WEXITED).ret, libc::EINVAL)?;
    expect_err("waitid(P_PID, -5)", waitid(P_PID, -5, WEXITED).ret, libc::EINVAL)?;
    expect_err("waitid(P_ALL, WEXITED|0x100)", waitid(P_ALL, 0, WEXITED | 0x100).ret, libc::EINVAL)?;
    Ok(())
}

fn waitid_wnohang_running() -> CheckResult {
    let (pid, w) = gated_child(0)?;
    let i = waitid(P_PID, pid, WEXITED | WNOHANG);
    let j = waitid(P_ALL, 0, WEXITED | WNOHANG);
    release(w);
    let (_, st) = wait4(pid, 0)?;
    ensure_eq!(i.ret, 0, "waitid(P_PID, WEXITED|WNOHANG) while the child runs");
    ensure_eq!(
        (i.signo, i.errno, i.code, i.pid, i.status),
        (0, 0, 0, 0, 0),
        "siginfo (signo, errno, code, pid, status) of a WNOHANG waitid that found nothing"
    );
    ensure_eq!(j.ret, 0, "waitid(P_ALL, WEXITED|WNOHANG) while the child runs");
    ensure_eq!(j.pid, 0, "si_pid of waitid(P_ALL, WNOHANG) that found nothing");
    ensure_eq!(st, exited(0), "status");
    Ok(())
}

fn waitid_exited_siginfo() -> CheckResult {
    let pid = fork_child(|| 42)?;
    let i = waitid(P_PID, pid, WEXITED);
    ok("waitid(P_PID, WEXITED)", i.ret)?;
    let uid = unsafe { rs!(libc::SYS_getuid) } as i32;
    ensure_eq!(i.ret, 0, "waitid return");
    ensure_eq!(i.signo, SIGCHLD, "si_signo");
    ensure_eq!(i.errno, 0, "si_errno");
    ensure_eq!(i.code, CLD_EXITED, "si_code");
    ensure_eq!(i.pid as i64, pid, "si_pid");
    ensure_eq!(i.uid, uid, "si_uid");
    ensure_eq!(i.status, 42, "si_status");
    let mut st = 0;
    expect_err("wait4 after waitid reaped it", unsafe { rs!(libc::SYS_wait4, pid, &raw mut st, 0, 0) }, libc::ECHILD)?;
    Ok(())
}

fn waitid_killed_siginfo() -> CheckResult {
    for sig in [libc::SIGKILL, libc::SIGTERM] {
        let (pid, w) = gated_child(0)?;
        ok("kill", unsafe { rs!(libc::SYS_kill, pid, sig) })?;
        let i = waitid(P_PID, pid, WEXITED);
        close(w);
        ok("waitid", i.ret)?;
        ensure_eq!(i.signo, SIGCHLD, "si_signo (killed by {sig})");
        ensure_eq!(i.code, CLD_KILLED, "si_code (killed by {sig})");
        ensure_eq!(i.pid as i64, pid, "si_pid (killed by {sig})");
        ensure_eq!(i.status, sig, "si_status (killed by {sig})");
    }
    Ok(())
}

fn waitid_wnowait() -> CheckResult {
    let pid = fork_child(|| 5)?;
    let i = waitid(P_PID, pid, WEXITED | WNOWAIT);
    ok("waitid(WEXITED|WNOWAIT)", i.ret)?;
    let j = waitid(P_ALL, 0, WEXITED | WNOWAIT);
    ok("waitid(P_ALL, WEXITED|WNOWAIT) again", j.ret)?;
    let (p, st) = wait4(pid, WNOHANG)?;
    ensure_eq!((i.pid as i64, i.code, i.status), (pid, CLD_EXITED, 5), "first WNOWAIT siginfo (pid, code, status)");
    ensure_eq!((j.pid as i64, j.code, j.status), (pid, CLD_EXITED, 5), "second WNOWAIT siginfo");
    ensure_eq!(p, pid, "wait4(pid, WNOHANG) after two WNOWAIT waits (the child must still be waitable)");
    ensure_eq!(st, exited(5), "status");
    let mut s = 0;
    expect_err("a third wait", unsafe { rs!(libc::SYS_wait4, pid, &raw mut s, WNOHANG, 0) }, libc::ECHILD)?;
    Ok(())
}

fn wait_stopped_continued() -> CheckResult {
    let (pid, w) = gated_child(0)?;
    let result = (|| {
        ok("kill(SIGSTOP)", unsafe { rs!(libc::SYS_kill, pid, libc::SIGSTOP) })?;
        let i = waitid(P_PID, pid, libc::WSTOPPED as i64);
        ok("waitid(WSTOPPED)", i.ret)?;
        ensure_eq!((i.signo, i.code, i.status), (SIGCHLD, CLD_STOPPED, libc::SIGSTOP), "stop siginfo (signo, code, status)");
        ok("kill(SIGCONT)", unsafe { rs!(libc::SYS_kill, pid, libc::SIGCONT) })?;
        let i = waitid(P_PID, pid, WCONTINUED);
        ok("waitid(WCONTINUED)", i.ret)?;
        ensure_eq!((i.signo, i.code, i.status), (SIGCHLD, CLD_CONTINUED, libc::SIGCONT), "continue siginfo (signo, code, status)");
        ok("kill(SIGSTOP)", unsafe { rs!(libc::SYS_kill, pid, libc::SIGSTOP) })?;
        let (p, st) = wait4(pid, WUNTRACED)?;
        ensure_eq!((p, st), (pid, 0x137f), "wait4(WUNTRACED) (pid, status)");
        ok("kill(SIGCONT)", unsafe { rs!(libc::SYS_kill, pid, libc::SIGCONT) })?;
        let (p, st) = wait4(pid, WCONTINUED)?;
        ensure_eq!((p, st), (pid, 0xffff), "wait4(WCONTINUED) (pid, status)");
        release(w);
        let (_, st) = wait4(pid, 0)?;
        ensure_eq!(st, exited(0), "final status");
        Ok(())
    })();
    if result.is_err() {
        close(w);
        kill_reap(&[pid]);
    }
    result
}

// ---------------------------------------------------------------------------
// Orphans and the subreaper

fn orphan_reparented_to_subreaper() -> CheckResult {
    let me = unsafe { rs!(libc::SYS_getpid) };
    ok("prctl(PR_SET_CHILD_SUBREAPER, 1)", unsafe {
        rs!(libc::SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    })?;
    let result = (|| {
        let mut flag: i32 = -1;
        ok("prctl(PR_GET_CHILD_SUBREAPER)", unsafe {
            rs!(libc::SYS_prctl, PR_GET_CHILD_SUBREAPER, &raw mut flag, 0, 0, 0)
        })?;
        ensure_eq!(flag, 1, "PR_GET_CHILD_SUBREAPER");
        let (r, w) = pipe()?;
        let c = fork_child(|| {
            let cpid = unsafe { rs!(libc::SYS_getpid) } as i32;
            // The grandchild tells us when it has looked at its parent.
            let (ready_r, ready_w) = match pipe() {
                Ok(p) => p,
                Err(_) => return 31,
            };
            let g = fork_child(|| {
                let first = unsafe { rs!(libc::SYS_getppid) } as i32;
                write_byte(ready_w);
                let deadline = Instant::now() + Duration::from_secs(30);
                let mut now = first;
                while now == first && Instant::now() < deadline {
                    raw_sleep_ms(1);
                    now = unsafe { rs!(libc::SYS_getppid) } as i32;
                }
                let mut out = first.to_le_bytes().to_vec();
                out.extend_from_slice(&now.to_le_bytes());
                write_all(w, &out);
                0
            });
            match g {
                Ok(g) => {
                    read_byte(ready_r);
                    let mut out = (g as i32).to_le_bytes().to_vec();
                    out.extend_from_slice(&cpid.to_le_bytes());
                    write_all(w, &out);
                    0
                }
                Err(_) => 30,
            }
        })?;
        close(w);
        let res = (|| {
            let mut head = [0u8; 8];
            read_exact_timeout(r, &mut head, 30)?;
            let g = i32::from_le_bytes(head[..4].try_into().unwrap()) as i64;
            let st = reap(c)?;
            ensure_eq!(st, exited(0), "status of the middle child");
            let mut tail = [0u8; 8];
            read_exact_timeout(r, &mut tail, 60)?;
            let first = i32::from_le_bytes(tail[..4].try_into().unwrap()) as i64;
            let now = i32::from_le_bytes(tail[4..].try_into().unwrap()) as i64;
            ensure_eq!(first, c, "the grandchild's getppid() before its parent exited");
            ensure_eq!(now, me, "the orphan's getppid() after its parent exited (the subreaper)");
            let (p, st) = wait4(g, 0)?;
            ensure_eq!(p, g, "wait4(grandchild) by the subreaper");
            ensure_eq!(st, exited(0), "grandchild status");
            Ok(())
        })();
        close(r);
        if res.is_err() {
            // Reap whatever is left (the orphan, if it was re-parented to us).
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                let mut st = 0;
                let x = unsafe { rs!(libc::SYS_wait4, -1, &raw mut st, WNOHANG, 0) };
                if errno_of(x).is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        res
    })();
    unsafe { rs!(libc::SYS_prctl, PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) };
    result
}

// ---------------------------------------------------------------------------
// Spawning under load, many threads, many processes

fn spawn_with_8_threads_x50() -> CheckResult {
    let stop = Arc::new(AtomicBool::new(false));
    let work: Arc<Vec<AtomicU64>> = Arc::new((0..8).map(|_| AtomicU64::new(0)).collect());
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let stop = stop.clone();
            let work = work.clone();
            std::thread::spawn(move || {
                let mut x: u64 = i as u64 + 1;
                while !stop.load(SeqCst) {
                    let t0 = Instant::now();
                    while t0.elapsed() < Duration::from_micros(200) {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    }
                    work[i].fetch_add(1, SeqCst);
                    std::thread::sleep(Duration::from_millis(1));
                }
                x
            })
        })
        .collect();
    let exe_os = OsStr::from_bytes(exe().to_bytes()).to_owned();
    let result = (|| {
        for i in 0..50i32 {
            // std::process::Command (posix_spawn underneath), piping stdout.
            let text = format!("spawn-{i}");
            let out = std::process::Command::new(&exe_os)
                .args(["--helper", "echo", &text])
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| format!("iteration {i}: Command::output: {e}"))?;
            ensure!(
                out.status.code() == Some(0),
                "iteration {i}: Command status {:?}",
                out.status
            );
            ensure_eq!(String::from_utf8_lossy(&out.stdout), text, "iteration {i}: Command stdout");
            // libc::posix_spawn directly.
            let code = (i + 1).to_string();
            let argv = helper_argv("exit", &[&code]);
            let (_a, argv_p) = cvec(&argv);
            let (_e, envp_p) = cvec(&[b("X=1")]);
            let mut pid: libc::pid_t = 0;
            let r = unsafe {
                libc::posix_spawn(
                    &mut pid,
                    exe().as_ptr(),
                    std::ptr::null(),
                    std::ptr::null(),
                    argv_p.as_ptr() as *const *mut libc::c_char,
                    envp_p.as_ptr() as *const *mut libc::c_char,
                )
            };
            ensure!(r == 0, "iteration {i}: posix_spawn returned {}", errno_name(r));
            let (p, st) = wait4(pid as i64, 0)?;
            ensure_eq!(p, pid as i64, "iteration {i}: wait4 result");
            ensure_eq!(st, exited(i + 1), "iteration {i}: posix_spawn child status");
        }
        Ok(())
    })();
    stop.store(true, SeqCst);
    for t in threads {
        join(t)?;
    }
    result?;
    for (i, w) in work.iter().enumerate() {
        ensure!(w.load(SeqCst) > 0, "busy thread {i} never ran");
    }
    Ok(())
}

fn threads_1000() -> CheckResult {
    let ran = Arc::new(AtomicUsize::new(0));
    for batch in 0..10 {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let ran = ran.clone();
                std::thread::Builder::new()
                    .stack_size(64 << 10)
                    .spawn(move || {
                        ran.fetch_add(1, SeqCst);
                        batch * 100 + i
                    })
                    .map_err(|e| format!("spawn of thread {} failed: {e}", batch * 100 + i))
            })
            .collect::<Result<_, _>>()?;
        for (i, h) in handles.into_iter().enumerate() {
            let v = join(h)?;
            ensure_eq!(v, batch * 100 + i, "result of thread {}", batch * 100 + i);
        }
    }
    ensure_eq!(ran.load(SeqCst), 1000, "threads that ran");
    Ok(())
}

fn forks_200() -> CheckResult {
    for batch in 0..10 {
        let mut want = Vec::new();
        for i in 0..20 {
            let code = batch * 20 + i;
            let pid = fork_child(move || code)?;
            want.push((pid, exited(code)));
        }
        let mut got = Vec::new();
        for _ in 0..20 {
            got.push(wait4(-1, 0)?);
        }
        want.sort();
        got.sort();
        ensure_eq!(got, want, "batch {batch}: (pid, status) pairs");
    }
    let mut st = 0;
    expect_err("wait4(-1) after 200 children", unsafe { rs!(libc::SYS_wait4, -1, &raw mut st, WNOHANG, 0) }, libc::ECHILD)?;
    Ok(())
}
