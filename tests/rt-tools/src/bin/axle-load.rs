//! `axle-load`: background load to run beside a dataflow or `axle-cyclictest`, for a fixed
//! time: CPU hogs (busy arithmetic), memory stress (map, touch every page, unmap), and
//! syscall stress (getpid loops, pipe ping-pong and futex ping-pong between two threads,
//! which also exercise cross-thread wake-ups). Workers may be pinned to CPUs. It prints
//! what it did (counts and rates per worker) and fails if a call failed. Usage:
//! `axle-load --help`; documented in docs/rt-tools.md.

use rt_tools::args::{parse_cpu_list, parse_size, Args};
use rt_tools::sys;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "usage: axle-load [options]
  -c, --cpu N          CPU hog threads (default: one per CPU if no other load is asked for)
  -m, --mem N          memory workers: map SIZE, write every page, unmap, again
      --mem-size SIZE  bytes per memory worker pass (default 64M; K, M, G)
  -s, --syscall N      syscall workers
      --syscall-kind K getpid, pipe, futex or mix (default mix: worker i uses the i-th)
  -a, --cpus LIST      pin workers round-robin to these CPUs (e.g. 0-3); default: unpinned
  -n, --nice N         nice value of every worker (setpriority)
  -D, --duration T     how long (default 10s; 500ms, 2m...)
  -q, --quiet          only the totals
Exit status: 0 done; 1 a call failed; 2 usage.";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SyscallKind {
    Getpid,
    Pipe,
    Futex,
}

impl SyscallKind {
    fn name(self) -> &'static str {
        match self {
            SyscallKind::Getpid => "getpid",
            SyscallKind::Pipe => "pipe ping-pong",
            SyscallKind::Futex => "futex ping-pong",
        }
    }
}

struct Options {
    hogs: usize,
    mem: usize,
    mem_size: usize,
    syscall: usize,
    kind: Option<SyscallKind>,
    cpus: Vec<usize>,
    nice: Option<i32>,
    duration: Duration,
    quiet: bool,
}

fn parse_options() -> Result<Option<Options>, String> {
    let mut o = Options {
        hogs: 0,
        mem: 0,
        mem_size: 64 << 20,
        syscall: 0,
        kind: None,
        cpus: Vec::new(),
        nice: None,
        duration: Duration::from_secs(10),
        quiet: false,
    };
    let mut hogs = None;
    let mut a = Args::new(std::env::args().skip(1));
    while let Some(opt) = a.next_arg() {
        match opt.as_str() {
            "-h" | "--help" => return Ok(None),
            "-c" | "--cpu" => hogs = Some(a.number(&opt)?),
            "-m" | "--mem" => o.mem = a.number(&opt)?,
            "--mem-size" => o.mem_size = parse_size(&a.value(&opt)?)?,
            "-s" | "--syscall" => o.syscall = a.number(&opt)?,
            "--syscall-kind" => {
                o.kind = match a.value(&opt)?.as_str() {
                    "getpid" => Some(SyscallKind::Getpid),
                    "pipe" => Some(SyscallKind::Pipe),
                    "futex" => Some(SyscallKind::Futex),
                    "mix" => None,
                    other => return Err(format!("--syscall-kind: unknown kind `{other}`")),
                }
            }
            "-a" | "--cpus" => o.cpus = parse_cpu_list(&a.value(&opt)?)?,
            "-n" | "--nice" => o.nice = Some(a.number(&opt)?),
            "-D" | "--duration" => o.duration = Duration::from_nanos(a.duration_ns(&opt, 1_000_000_000)?),
            "-q" | "--quiet" => o.quiet = true,
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    if o.mem_size < 4096 && o.mem > 0 {
        return Err("--mem-size must be at least 4K".into());
    }
    o.hogs = match hogs {
        Some(n) => n,
        None if o.mem == 0 && o.syscall == 0 => sys::online_cpus(),
        None => 0,
    };
    if o.hogs + o.mem + o.syscall == 0 {
        return Err("nothing to do: give --cpu, --mem or --syscall a count above 0".into());
    }
    Ok(Some(o))
}

/// What one worker did.
struct Report {
    label: String,
    cpu: Option<usize>,
    /// Main count and its unit (`rounds`, `passes`, `calls`, `round trips`).
    count: u64,
    unit: &'static str,
    extra: String,
    errors: Vec<String>,
}

/// Pins and renices the calling worker; problems go into `errors`.
fn setup(cpu: Option<usize>, nice: Option<i32>, errors: &mut Vec<String>) {
    if let Some(c) = cpu {
        if let Err(e) = sys::pin_to_cpu(c) {
            errors.push(format!("sched_setaffinity(CPU {c}): {}", sys::errno_name(&e)));
        }
    }
    if let Some(n) = nice {
        if let Err(e) = sys::set_nice(n) {
            errors.push(format!("setpriority({n}): {}", sys::errno_name(&e)));
        }
    }
}

fn hog(stop: &AtomicBool) -> u64 {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rounds = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..100_000 {
            // xorshift: work the optimizer cannot remove (the result is used below).
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        rounds += 1;
        std::hint::black_box(x);
    }
    rounds
}

fn memory(stop: &AtomicBool, size: usize, errors: &mut Vec<String>) -> (u64, u64) {
    let (mut passes, mut pages) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: a fresh anonymous private mapping; no existing memory is affected.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), size, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        if p == libc::MAP_FAILED {
            errors.push(format!("mmap({size}): {}", sys::errno_name(&std::io::Error::last_os_error())));
            std::thread::sleep(Duration::from_millis(10));
            if errors.len() > 10 {
                break;
            }
            continue;
        }
        let base = p as *mut u8;
        let mut off = 0;
        while off < size {
            // SAFETY: `off < size`, inside the mapping just created, which is writable.
            unsafe { base.add(off).write_volatile(passes as u8 ^ off as u8) };
            off += 4096;
            pages += 1;
        }
        // SAFETY: unmaps exactly the mapping created above, no longer used.
        if unsafe { libc::munmap(p, size) } != 0 {
            errors.push(format!("munmap: {}", sys::errno_name(&std::io::Error::last_os_error())));
            break;
        }
        passes += 1;
    }
    (passes, pages)
}

fn getpid_loop(stop: &AtomicBool) -> u64 {
    let mut calls = 0;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..1000 {
            // SAFETY: getpid has no arguments and cannot fail.
            std::hint::black_box(unsafe { libc::syscall(libc::SYS_getpid) });
        }
        calls += 1000;
    }
    calls
}

/// One byte back and forth between this thread and a partner thread over two pipes.
fn pipe_ping_pong(stop: &AtomicBool, cpu: Option<usize>, nice: Option<i32>, errors: &mut Vec<String>) -> u64 {
    let mut ab = [0i32; 2];
    let mut ba = [0i32; 2];
    // SAFETY: each array has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(ab.as_mut_ptr(), libc::O_CLOEXEC) } != 0 || unsafe { libc::pipe2(ba.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        errors.push(format!("pipe2: {}", sys::errno_name(&std::io::Error::last_os_error())));
        return 0;
    }
    let (a_read, a_write, b_read, b_write) = (ba[0], ab[1], ab[0], ba[1]);
    let partner = std::thread::spawn(move || {
        let mut errs = Vec::new();
        setup(cpu, nice, &mut errs);
        let mut byte = [0u8; 1];
        loop {
            // SAFETY: reading into a 1-byte buffer from a descriptor this worker owns.
            let n = unsafe { libc::read(b_read, byte.as_mut_ptr().cast(), 1) };
            if n <= 0 {
                break; // EOF: the other side is done.
            }
            // SAFETY: writing a 1-byte buffer to a descriptor this worker owns.
            if unsafe { libc::write(b_write, byte.as_ptr().cast(), 1) } != 1 {
                break;
            }
        }
        // SAFETY: closing descriptors this worker owns, once.
        unsafe {
            libc::close(b_read);
            libc::close(b_write);
        }
        errs
    });
    let mut trips = 0;
    let mut byte = [7u8; 1];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: 1-byte buffers and descriptors this worker owns.
        let ok = unsafe {
            libc::write(a_write, byte.as_ptr().cast(), 1) == 1 && libc::read(a_read, byte.as_mut_ptr().cast(), 1) == 1
        };
        if !ok {
            errors.push(format!("pipe ping-pong: {}", sys::errno_name(&std::io::Error::last_os_error())));
            break;
        }
        trips += 1;
    }
    // SAFETY: closing descriptors this worker owns, once; the partner then sees EOF.
    unsafe {
        libc::close(a_write);
    }
    errors.extend(partner.join().unwrap_or_default());
    // SAFETY: as above.
    unsafe {
        libc::close(a_read);
    }
    trips
}

/// A turn word passed back and forth with FUTEX_WAIT / FUTEX_WAKE between two threads.
fn futex_ping_pong(stop: &Arc<AtomicBool>, cpu: Option<usize>, nice: Option<i32>, errors: &mut Vec<String>) -> u64 {
    let turn = Arc::new(AtomicU32::new(0));
    // 0: this thread's turn, 1: the partner's.
    let (t2, s2) = (turn.clone(), stop.clone());
    let partner = std::thread::spawn(move || {
        let mut errs = Vec::new();
        setup(cpu, nice, &mut errs);
        while !s2.load(Ordering::Relaxed) {
            if t2.load(Ordering::Acquire) != 1 {
                wait_turn(&t2, 0, &mut errs);
                continue;
            }
            t2.store(0, Ordering::Release);
            if let Err(e) = sys::futex_wake(&t2, 1) {
                errs.push(format!("futex wake: {}", sys::errno_name(&e)));
                break;
            }
        }
        errs
    });
    let mut trips = 0;
    while !stop.load(Ordering::Relaxed) {
        turn.store(1, Ordering::Release);
        if let Err(e) = sys::futex_wake(&turn, 1) {
            errors.push(format!("futex wake: {}", sys::errno_name(&e)));
            break;
        }
        while turn.load(Ordering::Acquire) == 1 && !stop.load(Ordering::Relaxed) {
            wait_turn(&turn, 1, errors);
        }
        trips += 1;
    }
    // Let the partner see the stop flag.
    turn.store(2, Ordering::Release);
    let _ = sys::futex_wake(&turn, 1);
    errors.extend(partner.join().unwrap_or_default());
    trips
}

/// Waits (at most 50 ms) while `word` is `value`; EAGAIN/EINTR/ETIMEDOUT are normal.
fn wait_turn(word: &AtomicU32, value: u32, errors: &mut Vec<String>) {
    if let Err(e) = sys::futex_wait(word, value, 50_000_000) {
        if !matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EINTR) | Some(libc::ETIMEDOUT)) {
            errors.push(format!("futex wait: {}", sys::errno_name(&e)));
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn main() -> ExitCode {
    let o = match parse_options() {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("axle-load: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    sys::install_stop_handler();
    let stop = Arc::new(AtomicBool::new(false));
    let secs = o.duration.as_secs_f64();
    println!(
        "axle-load: {} CPU hogs, {} memory workers ({} MiB per pass), {} syscall workers ({}), {}, for {secs:.1} s",
        o.hogs,
        o.mem,
        o.mem_size >> 20,
        o.syscall,
        o.kind.map_or("mix", |k| k.name()),
        if o.cpus.is_empty() { "unpinned".to_string() } else { format!("pinned round-robin to CPUs {:?}", o.cpus) }
    );
    let mut handles = Vec::new();
    let mut next_cpu = 0;
    let mut pick_cpu = || {
        if o.cpus.is_empty() {
            None
        } else {
            next_cpu += 1;
            Some(o.cpus[(next_cpu - 1) % o.cpus.len()])
        }
    };
    let nice = o.nice;
    let mem_size = o.mem_size;
    let started = std::time::Instant::now();
    for i in 0..o.hogs {
        let (cpu, stop) = (pick_cpu(), stop.clone());
        handles.push(std::thread::Builder::new().name(format!("hog-{i}")).spawn(move || {
            let mut errors = Vec::new();
            setup(cpu, nice, &mut errors);
            let count = hog(&stop);
            Report { label: format!("hog {i}"), cpu, count, unit: "rounds of 100k xorshift steps", extra: String::new(), errors }
        }));
    }
    for i in 0..o.mem {
        let (cpu, stop) = (pick_cpu(), stop.clone());
        handles.push(std::thread::Builder::new().name(format!("mem-{i}")).spawn(move || {
            let mut errors = Vec::new();
            setup(cpu, nice, &mut errors);
            let (passes, pages) = memory(&stop, mem_size, &mut errors);
            Report {
                label: format!("mem {i}"),
                cpu,
                count: passes,
                unit: "map/touch/unmap passes",
                extra: format!("{} MiB touched, {pages} page faults at least", (pages * 4096) >> 20),
                errors,
            }
        }));
    }
    for i in 0..o.syscall {
        let kind = o.kind.unwrap_or([SyscallKind::Getpid, SyscallKind::Pipe, SyscallKind::Futex][i % 3]);
        let (cpu, stop) = (pick_cpu(), stop.clone());
        handles.push(std::thread::Builder::new().name(format!("sys-{i}")).spawn(move || {
            let mut errors = Vec::new();
            setup(cpu, nice, &mut errors);
            let (count, unit) = match kind {
                SyscallKind::Getpid => (getpid_loop(&stop), "getpid calls"),
                SyscallKind::Pipe => (pipe_ping_pong(&stop, cpu, nice, &mut errors), "round trips (2 writes + 2 reads)"),
                SyscallKind::Futex => (futex_ping_pong(&stop, cpu, nice, &mut errors), "round trips (2 wakes + waits)"),
            };
            Report { label: format!("sys {i} {}", kind.name()), cpu, count, unit, extra: String::new(), errors }
        }));
    }
    let handles: Vec<_> = match handles.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("axle-load: cannot create a worker thread: {e}");
            stop.store(true, Ordering::SeqCst);
            return ExitCode::from(1);
        }
    };
    // Sleep in short steps so SIGINT/SIGTERM stop the run early.
    while started.elapsed() < o.duration && !sys::stop_requested() {
        std::thread::sleep(Duration::from_millis(20).min(o.duration.saturating_sub(started.elapsed())));
    }
    stop.store(true, Ordering::SeqCst);
    let reports: Vec<Report> = handles.into_iter().map(|h| h.join().expect("worker panicked")).collect();
    let elapsed = started.elapsed().as_secs_f64();
    let mut failed = false;
    for r in &reports {
        if !o.quiet {
            let cpu = r.cpu.map_or("any CPU".into(), |c| format!("CPU {c}"));
            let rate = r.count as f64 / elapsed;
            let extra = if r.extra.is_empty() { String::new() } else { format!("; {}", r.extra) };
            println!("  {:<22} {cpu:>8}: {} {} ({rate:.0}/s){extra}", r.label, r.count, r.unit);
        }
        for e in &r.errors {
            println!("  {}: ERROR {e}", r.label);
            failed = true;
        }
    }
    println!(
        "axle-load: done after {elapsed:.2} s{}: {} workers, {} errors",
        if sys::stop_requested() { " (stopped by a signal)" } else { "" },
        reports.len(),
        reports.iter().map(|r| r.errors.len()).sum::<usize>()
    );
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
