//! The system-call table: numbers (x86_64) to handlers, grouped in files by family.
//! Each handler takes the six argument registers and returns a value or an errno; an
//! unknown or unimplemented number returns `ENOSYS` and is logged once.

mod events;
mod fsextra;
pub(crate) mod fs;
mod io;
mod memory;
mod misc;
mod process;
mod sched;
mod signal;
mod time;
pub mod trace;

use core::sync::atomic::{AtomicU64, Ordering};

pub use io::{fd_file, install as install_fd};

use rtos::arch::x86_64::trap::TrapFrame;

use crate::errno::{Errno, SysResult};

/// The argument registers of a call.
#[derive(Clone, Copy, Debug)]
pub struct Args(pub [u64; 6]);

impl Args {
    /// Argument `i` as u64.
    pub fn u(&self, i: usize) -> u64 {
        self.0[i]
    }
    /// Argument `i` as a C `int`.
    pub fn i(&self, i: usize) -> i32 {
        self.0[i] as i32
    }
    /// Argument `i` as an unsigned C `int`.
    pub fn u32(&self, i: usize) -> u32 {
        self.0[i] as u32
    }
    /// Argument `i` as usize.
    pub fn us(&self, i: usize) -> usize {
        self.0[i] as usize
    }
}

static LOGGED: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

/// Calls that are deliberately not provided and that libraries probe and handle
/// (rseq, io_uring, inotify, perf, bpf, userfaultfd, landlock...): logged at debug level only.
fn expected_enosys(nr: u64) -> bool {
    matches!(nr, 253..=255 | 294 | 298 | 321 | 323 | 334 | 425..=427 | 444..=446)
}

fn log_unknown(nr: u64) {
    let (w, b) = ((nr / 64) as usize, nr % 64);
    if w < LOGGED.len() {
        if LOGGED[w].fetch_or(1 << b, Ordering::Relaxed) & (1 << b) != 0 {
            return;
        }
    } else if LOGGED[7].fetch_or(1 << 63, Ordering::Relaxed) & (1 << 63) != 0 {
        return;
    }
    let pid = crate::process::try_current_task().map_or(0, |t| t.process.pid);
    if expected_enosys(nr) {
        log::debug!("syscall {nr} ({}) not provided: ENOSYS (pid {pid})", name(nr));
    } else {
        log::warn!("syscall {nr} ({}) not implemented: ENOSYS (pid {pid})", name(nr));
    }
}

/// A few names for log messages.
fn name(nr: u64) -> &'static str {
    match nr {
        29..=31 | 64..=71 => "System V IPC",
        101 => "ptrace",
        206..=210 => "aio",
        253..=255 | 294 => "inotify",
        323 => "userfaultfd",
        334 => "rseq",
        444..=446 => "landlock",
        298 => "perf_event_open",
        321 => "bpf",
        425..=427 => "io_uring",
        _ => "?",
    }
}

/// Handles the system call described by `frame`.
pub fn dispatch(frame: &mut TrapFrame) {
    let nr = frame.rax;
    frame.error_code = nr;
    let a = Args([frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9]);
    let r = call(nr, a, frame);
    if trace::active() {
        trace::log_call(nr, &a, &r);
    }
    frame.rax = match r {
        Ok(v) => v as u64,
        Err(Errno::ENOSYS) => {
            log_unknown(nr);
            Errno::ENOSYS.as_ret()
        }
        Err(e) => e.as_ret(),
    };
}

fn call(nr: u64, a: Args, frame: &mut TrapFrame) -> SysResult {
    match nr {
        0 => io::read(a),
        1 => io::write(a),
        2 => fs::open(a),
        3 => io::close(a),
        4 => fs::stat(a),
        5 => fs::fstat(a),
        6 => fs::lstat(a),
        7 => io::poll(a),
        8 => io::lseek(a),
        9 => memory::mmap(a),
        10 => memory::mprotect(a),
        11 => memory::munmap(a),
        12 => memory::brk(a),
        13 => signal::rt_sigaction(a),
        14 => signal::rt_sigprocmask(a),
        15 => signal::rt_sigreturn(frame),
        16 => io::ioctl(a),
        17 => io::pread64(a),
        18 => io::pwrite64(a),
        19 => io::readv(a),
        20 => io::writev(a),
        21 => fs::access(a),
        22 => io::pipe(a),
        23 => events::select(a),
        24 => sched::sched_yield(a),
        25 => memory::mremap(a),
        26 => memory::msync(a),
        27 => memory::mincore(a),
        28 => memory::madvise(a),
        32 => io::dup(a),
        33 => io::dup2(a),
        34 => signal::pause(a),
        35 => time::nanosleep(a),
        36 => time::getitimer(a),
        37 => time::alarm(a),
        38 => time::setitimer(a),
        39 => process::getpid(a),
        40 => fsextra::sendfile(a),
        41 => crate::net::socket::socket(a),
        42 => crate::net::socket::connect(a),
        43 => crate::net::socket::accept(a),
        44 => crate::net::socket::sendto(a),
        45 => crate::net::socket::recvfrom(a),
        46 => crate::net::socket::sendmsg(a),
        47 => crate::net::socket::recvmsg(a),
        48 => crate::net::socket::shutdown(a),
        49 => crate::net::socket::bind(a),
        50 => crate::net::socket::listen(a),
        51 => crate::net::socket::getsockname(a),
        52 => crate::net::socket::getpeername(a),
        53 => crate::net::socket::socketpair(a),
        54 => crate::net::socket::setsockopt(a),
        55 => crate::net::socket::getsockopt(a),
        56 => process::clone(a, frame),
        57 => process::fork(frame),
        58 => process::vfork(frame),
        59 => process::execve(a, frame),
        60 => process::exit(a),
        61 => process::wait4(a),
        62 => signal::kill(a),
        63 => misc::uname(a),
        72 => io::fcntl(a),
        73 => io::flock(a),
        74 | 75 => io::fsync(a),
        76 => fs::truncate(a),
        77 => io::ftruncate(a),
        79 => fs::getcwd(a),
        80 => fs::chdir(a),
        81 => fs::fchdir(a),
        82 => fs::rename(a),
        83 => fs::mkdir(a),
        84 => fs::rmdir(a),
        85 => fs::creat(a),
        86 => fs::link(a),
        87 => fs::unlink(a),
        88 => fs::symlink(a),
        89 => fs::readlink(a),
        90 => fs::chmod(a),
        91 => fs::fchmod(a),
        92 | 94 => fs::chown(a, nr == 94),
        93 => fs::fchown(a),
        95 => process::umask(a),
        96 => time::gettimeofday(a),
        97 => process::getrlimit(a),
        98 => time::getrusage(a),
        99 => misc::sysinfo(a),
        100 => time::times(a),
        102 | 104 | 107 | 108 => Ok(0),
        105 | 106 | 113 | 114 | 117 | 119 | 122 | 123 => process::set_ids(a),
        109 => process::setpgid(a),
        110 => process::getppid(a),
        111 => process::getpgrp(a),
        112 => process::setsid(a),
        115 => process::getgroups(a),
        116 => process::setgroups(a),
        118 | 120 => process::getres_ids(a),
        121 => process::getpgid(a),
        124 => process::getsid(a),
        127 => signal::rt_sigpending(a),
        128 => signal::rt_sigtimedwait(a),
        129 => signal::rt_sigqueueinfo(a),
        130 => signal::rt_sigsuspend(a),
        131 => signal::sigaltstack(a),
        137 => fs::statfs(a),
        138 => fs::fstatfs(a),
        140 => sched::getpriority(a),
        141 => sched::setpriority(a),
        142 => sched::sched_setparam(a),
        143 => sched::sched_getparam(a),
        144 => sched::sched_setscheduler(a),
        145 => sched::sched_getscheduler(a),
        146 => sched::sched_get_priority_max(a),
        147 => sched::sched_get_priority_min(a),
        148 => sched::sched_rr_get_interval(a),
        149 | 150 => memory::mlock(a, nr == 149),
        151 => memory::mlockall(a),
        152 => memory::munlockall(a),
        157 => process::prctl(a),
        158 => process::arch_prctl(a),
        160 => process::setrlimit(a),
        162 => fsextra::sync(a),
        165 => fsextra::mount(a),
        166 => fsextra::umount2(a),
        169 => fsextra::reboot(a),
        186 => process::gettid(a),
        200 => signal::tkill(a),
        201 => time::time(a),
        202 => process::futex(a),
        203 => sched::sched_setaffinity(a),
        204 => sched::sched_getaffinity(a),
        213 => events::epoll_create(a),
        217 => fs::getdents64(a),
        218 => process::set_tid_address(a),
        219 => time::restart_syscall(a),
        227 => time::clock_settime(a),
        228 => time::clock_gettime(a),
        229 => time::clock_getres(a),
        230 => time::clock_nanosleep(a),
        231 => process::exit_group(a),
        232 => events::epoll_wait(a),
        233 => events::epoll_ctl(a),
        234 => signal::tgkill(a),
        247 => process::waitid(a),
        257 => fs::openat(a),
        258 => fs::mkdirat(a),
        260 => fs::fchownat(a),
        262 => fs::newfstatat(a),
        263 => fs::unlinkat(a),
        264 => fs::renameat(a),
        265 => fs::linkat(a),
        266 => fs::symlinkat(a),
        267 => fs::readlinkat(a),
        268 => fs::fchmodat(a),
        269 => fs::faccessat(a),
        270 => events::pselect6(a),
        271 => io::ppoll(a),
        273 => process::set_robust_list(a),
        274 => process::get_robust_list(a),
        280 => fs::utimensat(a),
        281 => events::epoll_pwait(a),
        282 => events::signalfd(a),
        283 => events::timerfd_create(a),
        284 => events::eventfd(a),
        285 => io::fallocate(a),
        286 => events::timerfd_settime(a),
        287 => events::timerfd_gettime(a),
        289 => events::signalfd4(a),
        290 => events::eventfd2(a),
        291 => events::epoll_create1(a),
        288 => crate::net::socket::accept4(a),
        292 => io::dup3(a),
        293 => io::pipe2(a),
        295 => io::preadv(a),
        296 => io::pwritev(a),
        297 => signal::rt_tgsigqueueinfo(a),
        299 => crate::net::socket::recvmmsg(a),
        302 => process::prlimit64(a),
        307 => crate::net::socket::sendmmsg(a),
        309 => sched::getcpu(a),
        314 => sched::sched_setattr(a),
        315 => sched::sched_getattr(a),
        316 => fs::renameat2(a),
        318 => misc::getrandom(a),
        319 => fsextra::memfd_create(a),
        322 => process::execveat(a, frame),
        326 => fsextra::copy_file_range(a),
        332 => fs::statx(a),
        334 => Err(Errno::ENOSYS), // rseq: not registered (glibc/musl fall back)
        424 => events::pidfd_send_signal(a),
        434 => events::pidfd_open(a),
        435 => process::clone3(a, frame),
        436 => io::close_range(a),
        439 => fs::faccessat2(a),
        441 => events::epoll_pwait2(a),
        _ => Err(Errno::ENOSYS),
    }
}
