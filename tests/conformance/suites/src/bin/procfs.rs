//! `procfs` suite: /proc and /sys as programs read them (Rust's `sysinfo` crate,
//! busybox `ps`/`top`/`free`/`mount`).
//!
//! Covers:
//! - `/proc/self` and `/proc/thread-self` links, `lstat` of them, `/proc` listing our
//!   pid and our parent;
//! - `/proc/self/stat`: 52 fields; pid, comm, state `R`, ppid, pgrp, session,
//!   num_threads (also with 3 extra threads), priority/nice/policy, processor,
//!   starttime not after now;
//! - `/proc/self/status`: every field `ps`/`sysinfo` use, Tgid/Pid/PPid, Threads,
//!   Umask, SigBlk/SigIgn bits of a blocked and an ignored signal, Cpus_allowed_list
//!   against `sched_getaffinity`; `statm`;
//! - `/proc/self/maps`: the line format, `[stack]`, the executable, an anonymous
//!   mapping we make (exact range, `r--p`) and a shared file mapping (`rw-s`, path);
//! - `exe` = the absolute path of argv[0], `cwd` = getcwd, `root` = `/`;
//! - `fd/`: 0, 1, 2 and a newly opened file (link to its path), a pipe (`pipe:[N]`),
//!   gone after close; `fdinfo/N` pos, flags, mnt_id;
//! - `task/`: all thread ids; `task/<tid>/stat` and `comm` (thread names);
//!   writing `/proc/thread-self/comm` renames the thread;
//! - a child's directory: state `Z` once it died, `ESRCH` reading an open file and
//!   `ENOENT` opening one after it was reaped;
//! - `meminfo` (MemTotal = sysinfo's RAM, MemFree <= MemTotal, `kB` format), `stat`
//!   (a `cpu` line and one per online CPU, times advancing with the clock, some idle
//!   time while we sleep), `cpuinfo` (one `processor` per online CPU), `uptime`
//!   (increasing), `loadavg` format, `version`, `filesystems`, `/proc/sys/kernel`,
//!   `/proc/sys/fs/nr_open`, `/proc/sys/vm/overcommit_memory`, `mounts`/`mountinfo`
//!   (listing /proc and /sys), `cgroup`, `limits`, `io`, `environ`, `oom_score_adj`;
//! - `/sys/devices/system/cpu/{online,possible,present}` against the CPU count, the
//!   `cpuN` directories;
//! - writes to read-only files: `EINVAL` (/proc/<pid>/ files), `EIO` (/proc files),
//!   `EACCES` (sysfs, at open or write).
//!
//! Run with stdout on a pipe or file (the harness does).

use checks::{ensure, ensure_eq, errno_name, join, sys_ok, syscall, CheckResult, Suite};
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let mut s = Suite::new("procfs");
    // A known umask for the status check.
    unsafe { libc::umask(0o022) };
    s.check("self_links", self_links);
    s.check("proc_listing", proc_listing);
    s.check("self_stat", self_stat);
    s.check("status_fields", status_fields);
    s.check("status_signals", status_signals);
    s.check("statm", statm);
    s.check("maps_format", maps_format);
    s.check("maps_own_mappings", maps_own_mappings);
    s.check("exe_cwd_root_links", exe_cwd_root_links);
    s.check("fd_dir", fd_dir);
    s.check("fdinfo", fdinfo);
    s.check("threads_and_task_dir", threads_and_task_dir);
    s.check("thread_self_comm_write", thread_self_comm_write);
    s.check("dead_child", dead_child);
    s.check("meminfo", meminfo);
    s.check("proc_stat", proc_stat);
    s.check("proc_stat_advances", proc_stat_advances);
    s.check("cpuinfo", cpuinfo);
    s.check("uptime_increases", uptime_increases);
    s.check("loadavg", loadavg);
    s.check("version_filesystems_sys", version_filesystems_sys);
    s.check("mounts", mounts);
    s.check("cgroup_limits_io_environ", cgroup_limits_io_environ);
    s.check("oom_score_adj", oom_score_adj);
    s.check("sys_cpu", sys_cpu);
    s.check("write_refused", write_refused);
    s.finish();
}

// ---------------------------------------------------------------------------------------
// Helpers

fn read(path: &str) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))
}

fn readlink(path: &str) -> Result<String, String> {
    fs::read_link(path)
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| format!("readlink {path}: {e}"))
}

fn pid() -> i64 {
    unsafe { syscall!(libc::SYS_getpid) }
}

fn tid() -> i64 {
    unsafe { syscall!(libc::SYS_gettid) }
}

fn ppid() -> i64 {
    unsafe { syscall!(libc::SYS_getppid) }
}

fn nprocs() -> usize {
    unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) as usize }
}

/// The fields of a `stat` line: [pid, comm, state, ppid, ...] (comm without parens,
/// found by the last `)` as Linux documents).
fn stat_fields(text: &str) -> Result<Vec<String>, String> {
    let text = text.strip_suffix('\n').ok_or(format!("stat has no final newline: {text:?}"))?;
    let open = text.find(" (").ok_or(format!("no ' (' in stat: {text:?}"))?;
    let close = text.rfind(") ").ok_or(format!("no ') ' in stat: {text:?}"))?;
    let mut v = vec![text[..open].to_string(), text[open + 2..close].to_string()];
    v.extend(text[close + 2..].split(' ').map(str::to_string));
    Ok(v)
}

fn num(fields: &[String], n: usize) -> Result<i64, String> {
    let f = fields.get(n - 1).ok_or(format!("stat has no field {n}"))?;
    // Unsigned fields (rsslim) may exceed i64: parsed wider, clamped.
    f.parse::<i128>()
        .map(|v| v.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
        .map_err(|_| format!("stat field {n} = {f:?} is not a number"))
}

/// `Key:\tvalue` lines of a status-like file.
fn status_map(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.to_string(), v.trim().to_string())))
        .collect()
}

fn status_get(map: &[(String, String)], key: &str) -> Result<String, String> {
    map.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .ok_or(format!("status has no {key}: line"))
}

fn parse_cpu_list(s: &str) -> Result<Vec<u32>, String> {
    let mut v = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let bad = || format!("bad CPU list {s:?}");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                v.extend(a..=b);
            }
            None => v.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(v)
}

fn affinity_cpus() -> Result<Vec<u32>, String> {
    let mut mask = [0u8; 128];
    let n = sys_ok("sched_getaffinity", || unsafe {
        syscall!(libc::SYS_sched_getaffinity, 0, 128, mask.as_mut_ptr())
    })? as usize;
    Ok((0..n as u32 * 8).filter(|&i| mask[i as usize / 8] & (1 << (i % 8)) != 0).collect())
}

fn list_dir(path: &str) -> Result<Vec<String>, String> {
    let mut v: Vec<String> = fs::read_dir(path)
        .map_err(|e| format!("read_dir {path}: {e}"))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("read_dir {path}: {e}"))?;
    v.sort();
    Ok(v)
}

/// Starts `n` threads that report their tids and wait until released.
struct Parked {
    tids: Vec<i64>,
    release: Arc<Barrier>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

fn park_threads(n: usize, names: bool) -> Result<Parked, String> {
    let release = Arc::new(Barrier::new(n + 1));
    let ready = Arc::new(Barrier::new(n + 1));
    let tids = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for i in 0..n {
        let (release, ready, tids) = (release.clone(), ready.clone(), tids.clone());
        let b = if names { std::thread::Builder::new().name(format!("worker-{i}")) } else { std::thread::Builder::new() };
        let h = b
            .spawn(move || {
                tids.lock().unwrap().push(unsafe { syscall!(libc::SYS_gettid) });
                ready.wait();
                release.wait();
            })
            .map_err(|e| format!("spawn: {e}"))?;
        handles.push(h);
    }
    ready.wait();
    let tids = tids.lock().unwrap().clone();
    Ok(Parked { tids, release, handles })
}

impl Parked {
    fn finish(self) -> CheckResult {
        self.release.wait();
        for h in self.handles {
            join(h)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Checks

fn self_links() -> CheckResult {
    ensure_eq!(readlink("/proc/self")?, pid().to_string(), "readlink /proc/self");
    ensure_eq!(
        readlink("/proc/thread-self")?,
        format!("{}/task/{}", pid(), tid()),
        "readlink /proc/thread-self"
    );
    let m = fs::symlink_metadata("/proc/self").map_err(|e| format!("lstat /proc/self: {e}"))?;
    ensure!(m.file_type().is_symlink(), "lstat(/proc/self) is not a symlink: {:o}", m.mode());
    let m = fs::metadata("/proc/self").map_err(|e| format!("stat /proc/self: {e}"))?;
    ensure!(m.is_dir(), "stat(/proc/self) is not a directory");
    let m = fs::metadata("/proc/self/stat").map_err(|e| format!("stat /proc/self/stat: {e}"))?;
    ensure!(m.is_file(), "/proc/self/stat is not a regular file");
    ensure_eq!(m.len(), 0, "size of /proc/self/stat");
    ensure_eq!(m.mode() & 0o777, 0o444, "mode of /proc/self/stat");
    Ok(())
}

fn proc_listing() -> CheckResult {
    let v = list_dir("/proc")?;
    for want in [pid().to_string(), ppid().to_string(), "self".into(), "meminfo".into(), "stat".into()] {
        ensure!(v.contains(&want), "/proc does not list {want:?}: {v:?}");
    }
    // Thread ids of other threads are not listed, but the main thread's directory is.
    ensure!(fs::metadata(format!("/proc/{}/task", pid())).is_ok(), "/proc/<pid>/task missing");
    Ok(())
}

fn self_stat() -> CheckResult {
    let text = read("/proc/self/stat")?;
    let f = stat_fields(&text)?;
    ensure_eq!(f.len(), 52, "number of fields in /proc/self/stat ({text:?})");
    ensure_eq!(num(&f, 1)?, pid(), "stat pid");
    let argv0 = std::env::args().next().unwrap_or_default();
    let base: String = argv0.rsplit('/').next().unwrap_or("").chars().take(15).collect();
    ensure_eq!(f[1], base, "stat comm");
    ensure_eq!(f[2], "R", "stat state of the reading process");
    ensure_eq!(num(&f, 4)?, ppid(), "stat ppid");
    ensure_eq!(num(&f, 5)?, unsafe { libc::getpgrp() } as i64, "stat pgrp");
    ensure_eq!(num(&f, 6)?, unsafe { libc::getsid(0) } as i64, "stat session");
    ensure_eq!(num(&f, 18)?, 20, "stat priority");
    ensure_eq!(num(&f, 19)?, 0, "stat nice");
    ensure_eq!(num(&f, 20)?, 1, "stat num_threads of a single-threaded process");
    ensure_eq!(num(&f, 38)?, libc::SIGCHLD as i64, "stat exit_signal");
    let cpu = num(&f, 39)?;
    ensure!(cpu >= 0 && (cpu as usize) < nprocs().max(1) * 64, "stat processor = {cpu}");
    ensure!(affinity_cpus()?.contains(&(cpu as u32)), "stat processor {cpu} not in our affinity mask");
    ensure_eq!(num(&f, 40)?, 0, "stat rt_priority");
    ensure_eq!(num(&f, 41)?, 0, "stat policy");
    ensure!(num(&f, 23)? > 0, "stat vsize = 0");
    ensure!(num(&f, 24)? > 0, "stat rss = 0");
    // starttime (ticks since boot) is not after now.
    let up: f64 = read("/proc/uptime")?
        .split_whitespace()
        .next()
        .and_then(|x| x.parse().ok())
        .ok_or("bad /proc/uptime")?;
    let start = num(&f, 22)?;
    ensure!(start as f64 <= up * 100.0 + 1.0, "stat starttime {start} ticks > uptime {up} s");
    for n in 1..=52 {
        if n != 2 && n != 3 {
            num(&f, n)?;
        }
    }
    Ok(())
}

const STATUS_KEYS: &[&str] = &[
    "Name", "Umask", "State", "Tgid", "Ngid", "Pid", "PPid", "TracerPid", "Uid", "Gid", "FDSize",
    "Groups", "VmPeak", "VmSize", "VmRSS", "VmData", "VmStk", "VmExe", "Threads", "SigQ",
    "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt", "Cpus_allowed", "Cpus_allowed_list",
    "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches",
];

fn kb_value(v: &str) -> Result<u64, String> {
    v.strip_suffix(" kB")
        .and_then(|x| x.trim().parse().ok())
        .ok_or(format!("{v:?} is not 'N kB'"))
}

fn status_fields() -> CheckResult {
    let text = read("/proc/self/status")?;
    let m = status_map(&text);
    for k in STATUS_KEYS {
        status_get(&m, k)?;
    }
    // Order of the keys as Linux prints them.
    let pos = |k: &str| m.iter().position(|(x, _)| x == k).unwrap_or(usize::MAX);
    ensure!(
        STATUS_KEYS.windows(2).all(|w| pos(w[0]) < pos(w[1])),
        "status fields out of Linux's order: {:?}",
        m.iter().map(|x| x.0.as_str()).collect::<Vec<_>>()
    );
    let argv0 = std::env::args().next().unwrap_or_default();
    let base: String = argv0.rsplit('/').next().unwrap_or("").chars().take(15).collect();
    ensure_eq!(status_get(&m, "Name")?, base, "status Name");
    ensure_eq!(status_get(&m, "Umask")?, "0022", "status Umask");
    ensure_eq!(status_get(&m, "State")?, "R (running)", "status State");
    ensure_eq!(status_get(&m, "Tgid")?, pid().to_string(), "status Tgid");
    ensure_eq!(status_get(&m, "Pid")?, pid().to_string(), "status Pid");
    ensure_eq!(status_get(&m, "PPid")?, ppid().to_string(), "status PPid");
    ensure_eq!(status_get(&m, "Threads")?, "1", "status Threads");
    let uid = unsafe { libc::getuid() };
    ensure_eq!(
        status_get(&m, "Uid")?.split_whitespace().next().unwrap_or(""),
        uid.to_string(),
        "status Uid (real)"
    );
    let size = kb_value(&status_get(&m, "VmSize")?)?;
    let rss = kb_value(&status_get(&m, "VmRSS")?)?;
    ensure!(size > 0 && rss > 0 && rss <= size, "VmSize {size} kB, VmRSS {rss} kB");
    ensure!(kb_value(&status_get(&m, "VmStk")?)? > 0, "VmStk = 0");
    ensure!(kb_value(&status_get(&m, "VmExe")?)? > 0, "VmExe = 0");
    for k in ["VmPeak", "VmData"] {
        kb_value(&status_get(&m, k)?)?;
    }
    for k in ["SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"] {
        let v = status_get(&m, k)?;
        ensure!(v.len() == 16 && u64::from_str_radix(&v, 16).is_ok(), "status {k} = {v:?}");
    }
    let cpus = parse_cpu_list(&status_get(&m, "Cpus_allowed_list")?)?;
    ensure_eq!(cpus, affinity_cpus()?, "Cpus_allowed_list vs sched_getaffinity");
    let line = text.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("");
    ensure!(
        line.len() == "VmRSS:\t".len() + 8 + 3,
        "VmRSS line not in Linux's '%8lu kB' layout: {line:?}"
    );
    Ok(())
}

fn status_signals() -> CheckResult {
    // Block SIGUSR1 in this thread and ignore SIGUSR2 in the process.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        let prev = libc::signal(libc::SIGUSR2, libc::SIG_IGN);
        let r = (|| {
            let m = status_map(&read("/proc/self/status")?);
            let blk = u64::from_str_radix(&status_get(&m, "SigBlk")?, 16).unwrap_or(0);
            let ign = u64::from_str_radix(&status_get(&m, "SigIgn")?, 16).unwrap_or(0);
            ensure!(blk & (1 << (libc::SIGUSR1 - 1)) != 0, "SigBlk {blk:016x} lacks SIGUSR1");
            ensure!(ign & (1 << (libc::SIGUSR2 - 1)) != 0, "SigIgn {ign:016x} lacks SIGUSR2");
            ensure!(ign & (1 << (libc::SIGUSR1 - 1)) == 0, "SigIgn {ign:016x} has SIGUSR1");
            // A pending blocked signal shows in SigPnd (sent to this thread).
            syscall!(libc::SYS_tgkill, pid(), tid(), libc::SIGUSR1);
            let m = status_map(&read("/proc/self/status")?);
            let pnd = u64::from_str_radix(&status_get(&m, "SigPnd")?, 16).unwrap_or(0);
            ensure!(pnd & (1 << (libc::SIGUSR1 - 1)) != 0, "SigPnd {pnd:016x} lacks the pending SIGUSR1");
            // Take it back without running a handler.
            let ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            let got = syscall!(libc::SYS_rt_sigtimedwait, &raw const set, 0usize, &raw const ts, 8);
            ensure_eq!(got, libc::SIGUSR1 as i64, "rt_sigtimedwait took SIGUSR1");
            Ok(())
        })();
        libc::signal(libc::SIGUSR2, prev);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        r
    }
}

fn statm() -> CheckResult {
    let text = read("/proc/self/statm")?;
    let v: Vec<u64> = text.split_whitespace().map(|x| x.parse().unwrap_or(u64::MAX)).collect();
    ensure!(v.len() == 7 && v.iter().all(|&x| x != u64::MAX), "statm = {text:?}");
    ensure!(v[0] > 0 && v[1] > 0 && v[1] <= v[0], "statm size {} resident {}", v[0], v[1]);
    ensure!(text.ends_with('\n'), "statm without newline");
    Ok(())
}

struct MapLine {
    start: u64,
    end: u64,
    perms: String,
    offset: u64,
    inode: u64,
    path: String,
}

fn parse_maps(text: &str) -> Result<Vec<MapLine>, String> {
    let mut v = Vec::new();
    for l in text.lines() {
        let bad = || format!("bad maps line {l:?}");
        let mut it = l.splitn(6, ' ');
        let range = it.next().ok_or_else(bad)?;
        let perms = it.next().ok_or_else(bad)?;
        let offset = it.next().ok_or_else(bad)?;
        let dev = it.next().ok_or_else(bad)?;
        let inode = it.next().ok_or_else(bad)?;
        let rest = it.next().ok_or_else(bad)?;
        let (s, e) = range.split_once('-').ok_or_else(bad)?;
        ensure!(s.len() >= 8 && e.len() >= 8, "short address in {l:?}");
        ensure!(perms.len() == 4 && offset.len() >= 8, "bad perms/offset in {l:?}");
        let (ma, mi) = dev.split_once(':').ok_or_else(bad)?;
        ensure!(ma.len() >= 2 && mi.len() >= 2, "bad device in {l:?}");
        let path = rest.trim_start().to_string();
        if !path.is_empty() {
            // Linux pads the fixed part (which ends with a space) to 72 characters and
            // adds a space: the name starts at index 73, or later after a longer part.
            let col = l.len() - path.len();
            let fixed = l.len() - rest.len();
            ensure!(col == 73.max(fixed + 1), "name at index {col} in {l:?}");
        }
        v.push(MapLine {
            start: u64::from_str_radix(s, 16).map_err(|_| bad())?,
            end: u64::from_str_radix(e, 16).map_err(|_| bad())?,
            perms: perms.to_string(),
            offset: u64::from_str_radix(offset, 16).map_err(|_| bad())?,
            inode: inode.parse().map_err(|_| bad())?,
            path,
        });
    }
    Ok(v)
}

fn exe_path() -> Result<String, String> {
    let argv0 = std::env::args().next().ok_or("no argv[0]")?;
    fs::canonicalize(&argv0)
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| format!("realpath({argv0}): {e}"))
}

fn maps_format() -> CheckResult {
    let text = read("/proc/self/maps")?;
    let maps = parse_maps(&text)?;
    ensure!(maps.windows(2).all(|w| w[0].end <= w[1].start), "maps not sorted/disjoint");
    ensure!(maps.iter().any(|m| m.path == "[stack]"), "no [stack] in maps:\n{text}");
    let exe = exe_path()?;
    let own: Vec<&MapLine> = maps.iter().filter(|m| m.path == exe).collect();
    ensure!(!own.is_empty(), "the executable {exe} is not in maps:\n{text}");
    ensure!(own.iter().any(|m| m.perms.contains('x')), "no executable mapping of {exe}");
    ensure!(own.iter().all(|m| m.inode != 0), "the executable's mappings have inode 0");
    // Our own stack address is inside [stack].
    let x = 0u8;
    let sp = &raw const x as u64;
    ensure!(
        maps.iter().any(|m| m.path == "[stack]" && m.start <= sp && sp < m.end),
        "a local variable at {sp:#x} is not in [stack]"
    );
    Ok(())
}

fn maps_own_mappings() -> CheckResult {
    let len = 3 * 4096;
    let a = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
    ensure!(a != libc::MAP_FAILED, "mmap anon failed");
    let path = format!("/tmp/procfs-maps-{}", pid());
    let r = (|| {
        fs::write(&path, vec![7u8; 8192]).map_err(|e| format!("write {path}: {e}"))?;
        let f = fs::OpenOptions::new().read(true).write(true).open(&path).map_err(|e| e.to_string())?;
        use std::os::fd::AsRawFd;
        let b = unsafe { libc::mmap(std::ptr::null_mut(), 8192, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, f.as_raw_fd(), 4096) };
        ensure!(b != libc::MAP_FAILED, "mmap file failed");
        let r = (|| {
            let maps = parse_maps(&read("/proc/self/maps")?)?;
            let (a, b) = (a as u64, b as u64);
            let ma = maps.iter().find(|m| m.start <= a && a < m.end).ok_or("anonymous mapping not in maps")?;
            ensure!(ma.start == a && ma.end == a + len as u64, "anon mapping shows as {:x}-{:x}, made {a:x}+{len:x}", ma.start, ma.end);
            ensure_eq!(ma.perms, "r--p", "anon mapping perms");
            ensure_eq!(ma.path, "", "anon mapping name");
            let mb = maps.iter().find(|m| m.start <= b && b < m.end).ok_or("file mapping not in maps")?;
            ensure_eq!(mb.perms, "rw-s", "shared file mapping perms");
            ensure_eq!(mb.offset, 4096, "file mapping offset");
            let canon = fs::canonicalize(&path).map_err(|e| e.to_string())?.to_string_lossy().into_owned();
            ensure_eq!(mb.path, canon, "file mapping path");
            ensure_eq!(mb.inode, fs::metadata(&path).map_err(|e| e.to_string())?.ino(), "file mapping inode");
            Ok(())
        })();
        unsafe { libc::munmap(b, 8192) };
        r
    })();
    unsafe { libc::munmap(a, len) };
    let _ = fs::remove_file(&path);
    r
}

fn exe_cwd_root_links() -> CheckResult {
    ensure_eq!(readlink("/proc/self/exe")?, exe_path()?, "readlink /proc/self/exe vs realpath(argv[0])");
    ensure_eq!(
        readlink(&format!("/proc/{}/exe", pid()))?,
        exe_path()?,
        "readlink /proc/<pid>/exe"
    );
    let cwd = std::env::current_dir().map_err(|e| format!("getcwd: {e}"))?;
    ensure_eq!(readlink("/proc/self/cwd")?, cwd.to_string_lossy(), "readlink /proc/self/cwd");
    ensure_eq!(readlink("/proc/self/root")?, "/", "readlink /proc/self/root");
    Ok(())
}

fn fd_dir() -> CheckResult {
    let path = format!("/tmp/procfs-fd-{}", pid());
    let f = fs::File::create(&path).map_err(|e| format!("create {path}: {e}"))?;
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    let canon = fs::canonicalize(&path).map_err(|e| e.to_string())?.to_string_lossy().into_owned();
    let r = (|| {
        let v = list_dir("/proc/self/fd")?;
        for want in ["0", "1", "2"] {
            ensure!(v.contains(&want.to_string()), "/proc/self/fd lacks {want}: {v:?}");
        }
        ensure!(v.contains(&fd.to_string()), "/proc/self/fd lacks the new fd {fd}: {v:?}");
        ensure_eq!(readlink(&format!("/proc/self/fd/{fd}"))?, canon, "readlink of the new fd");
        let m = fs::symlink_metadata(format!("/proc/self/fd/{fd}")).map_err(|e| e.to_string())?;
        ensure!(m.file_type().is_symlink(), "fd/{fd} is not a symlink");
        // Following the link reaches the file.
        let m2 = fs::metadata(format!("/proc/self/fd/{fd}")).map_err(|e| e.to_string())?;
        ensure_eq!(m2.ino(), f.metadata().map_err(|e| e.to_string())?.ino(), "stat through fd/{fd}");
        // A pipe.
        let mut p = [0i32; 2];
        sys_ok("pipe2", || unsafe { syscall!(libc::SYS_pipe2, p.as_mut_ptr(), libc::O_CLOEXEC) })?;
        let l = readlink(&format!("/proc/self/fd/{}", p[0]));
        unsafe {
            libc::close(p[0]);
            libc::close(p[1]);
        }
        let l = l?;
        ensure!(l.starts_with("pipe:[") && l.ends_with(']'), "pipe fd links to {l:?}");
        ensure!(l[6..l.len() - 1].parse::<u64>().is_ok(), "pipe link {l:?}");
        Ok(())
    })();
    drop(f);
    let _ = fs::remove_file(&path);
    r?;
    let gone = fs::read_link(format!("/proc/self/fd/{fd}"));
    ensure!(gone.is_err(), "fd/{fd} still there after close: {gone:?}");
    Ok(())
}

fn fdinfo() -> CheckResult {
    let path = format!("/tmp/procfs-fdinfo-{}", pid());
    let c = CString::new(path.clone()).unwrap();
    let fd = sys_ok("open", || unsafe {
        syscall!(libc::SYS_open, c.as_ptr(), libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC, 0o600)
    })?;
    let r = (|| {
        let n = sys_ok("write", || unsafe { syscall!(libc::SYS_write, fd, b"hello".as_ptr(), 5) })?;
        ensure_eq!(n, 5, "write");
        let text = read(&format!("/proc/self/fdinfo/{fd}"))?;
        let m = status_map(&text);
        ensure_eq!(status_get(&m, "pos")?, "5", "fdinfo pos ({text:?})");
        let flags = status_get(&m, "flags")?;
        ensure!(flags.starts_with('0'), "fdinfo flags not octal: {flags:?}");
        let f = u32::from_str_radix(&flags, 8).map_err(|_| format!("fdinfo flags {flags:?}"))?;
        ensure_eq!(f & 3, libc::O_RDWR as u32, "fdinfo flags access mode ({flags})");
        ensure_eq!(f & libc::O_CLOEXEC as u32, 0, "fdinfo O_CLOEXEC ({flags})");
        let mnt: i64 = status_get(&m, "mnt_id")?.parse().map_err(|_| "bad mnt_id")?;
        ensure!(mnt > 0, "fdinfo mnt_id {mnt}");
        // The mount id is /tmp's (or /'s when /tmp is no mount point) in mountinfo.
        let mi = read("/proc/self/mountinfo")?;
        ensure!(
            mi.lines().any(|l| l.split(' ').next() == Some(&mnt.to_string())),
            "mnt_id {mnt} not in mountinfo:\n{mi}"
        );
        Ok(())
    })();
    unsafe { libc::close(fd as i32) };
    let _ = fs::remove_file(&path);
    r
}

fn threads_and_task_dir() -> CheckResult {
    let parked = park_threads(3, true)?;
    let r = (|| {
        let f = stat_fields(&read("/proc/self/stat")?)?;
        ensure_eq!(num(&f, 20)?, 4, "stat num_threads with 3 extra threads");
        let m = status_map(&read("/proc/self/status")?);
        ensure_eq!(status_get(&m, "Threads")?, "4", "status Threads");
        let mut want: Vec<String> = parked.tids.iter().map(|t| t.to_string()).collect();
        want.push(pid().to_string());
        want.sort();
        ensure_eq!(list_dir("/proc/self/task")?, want, "/proc/self/task");
        for (i, t) in parked.tids.iter().enumerate() {
            // The thread goes to sleep on the barrier (it may still be on its way).
            let deadline = Instant::now() + Duration::from_secs(5);
            let f = loop {
                let f = stat_fields(&read(&format!("/proc/self/task/{t}/stat"))?)?;
                if f[2] == "S" || Instant::now() > deadline {
                    break f;
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            ensure_eq!(num(&f, 1)?, *t, "task/{t}/stat pid field");
            ensure_eq!(f[2], "S", "state of a thread waiting on a barrier");
            ensure_eq!(num(&f, 4)?, ppid(), "task/{t}/stat ppid");
            let comm = read(&format!("/proc/self/task/{t}/comm"))?;
            ensure!(comm.starts_with("worker-") && comm.ends_with('\n'), "task/{t}/comm = {comm:?} (thread {i})");
            let st = status_map(&read(&format!("/proc/self/task/{t}/status"))?);
            ensure_eq!(status_get(&st, "Pid")?, t.to_string(), "task/{t}/status Pid");
            ensure_eq!(status_get(&st, "Tgid")?, pid().to_string(), "task/{t}/status Tgid");
            // A thread id also names a (hidden) /proc entry.
            let f = stat_fields(&read(&format!("/proc/{t}/stat"))?)?;
            ensure_eq!(num(&f, 1)?, *t, "/proc/<tid>/stat pid field");
        }
        let names: Vec<String> = parked
            .tids
            .iter()
            .map(|t| read(&format!("/proc/self/task/{t}/comm")).unwrap_or_default())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        ensure_eq!(sorted, vec!["worker-0\n", "worker-1\n", "worker-2\n"], "thread names");
        Ok(())
    })();
    parked.finish()?;
    r?;
    // After the threads ended, the count is back to 1.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let f = stat_fields(&read("/proc/self/stat")?)?;
        if num(&f, 20)? == 1 {
            break;
        }
        ensure!(Instant::now() < deadline, "num_threads still {} after the threads ended", num(&f, 20)?);
        std::thread::sleep(Duration::from_millis(10));
    }
    ensure_eq!(list_dir("/proc/self/task")?, vec![pid().to_string()], "/proc/self/task after join");
    Ok(())
}

fn thread_self_comm_write() -> CheckResult {
    let h = std::thread::spawn(|| -> CheckResult {
        fs::write("/proc/thread-self/comm", "renamed").map_err(|e| format!("write /proc/thread-self/comm: {e}"))?;
        ensure_eq!(read("/proc/thread-self/comm")?, "renamed\n", "comm after write");
        let mut name = [0u8; 16];
        unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr()) };
        let n = name.iter().position(|&b| b == 0).unwrap_or(16);
        ensure_eq!(&name[..n], b"renamed", "PR_GET_NAME after writing comm");
        let f = stat_fields(&read(&format!("/proc/self/task/{}/stat", tid()))?)?;
        ensure_eq!(f[1], "renamed", "stat comm after writing comm");
        Ok(())
    });
    join(h)??;
    // The main thread's name did not change.
    let argv0 = std::env::args().next().unwrap_or_default();
    let base: String = argv0.rsplit('/').next().unwrap_or("").chars().take(15).collect();
    ensure_eq!(read("/proc/self/comm")?, format!("{base}\n"), "main thread comm");
    Ok(())
}

fn dead_child() -> CheckResult {
    let child = unsafe { libc::fork() };
    if child == 0 {
        unsafe {
            libc::pause();
            libc::_exit(0);
        }
    }
    ensure!(child > 0, "fork failed");
    let dir = format!("/proc/{child}");
    let r = (|| {
        let f = stat_fields(&read(&format!("{dir}/stat"))?)?;
        ensure_eq!(num(&f, 1)?, child as i64, "child stat pid");
        ensure_eq!(num(&f, 4)?, pid(), "child stat ppid");
        ensure!(list_dir("/proc")?.contains(&child.to_string()), "/proc does not list the child");
        let stat = fs::File::open(format!("{dir}/stat")).map_err(|e| format!("open {dir}/stat: {e}"))?;
        unsafe { libc::kill(child, libc::SIGKILL) };
        // Wait until it is a zombie, without reaping it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        sys_ok("waitid(WNOWAIT)", || unsafe {
            syscall!(libc::SYS_waitid, libc::P_PID, child, &raw mut info, libc::WEXITED | libc::WNOWAIT, 0)
        })?;
        let f = stat_fields(&read(&format!("{dir}/stat"))?)?;
        ensure_eq!(f[2], "Z", "state of a dead, unreaped child");
        let st = status_map(&read(&format!("{dir}/status"))?);
        ensure_eq!(status_get(&st, "State")?, "Z (zombie)", "status State of the zombie");
        let mut status = 0;
        let w = unsafe { libc::waitpid(child, &mut status, 0) };
        ensure_eq!(w, child, "waitpid");
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 64];
        match stat.read_at(&mut buf, 0) {
            Ok(n) => return Err(format!("read of a reaped process's stat returned {n} bytes")),
            Err(e) => ensure_eq!(e.raw_os_error(), Some(libc::ESRCH), "read of a reaped process's stat: {e}"),
        }
        match fs::File::open(format!("{dir}/stat")) {
            Ok(_) => return Err("open of a reaped process's stat succeeded".into()),
            Err(e) => ensure_eq!(e.raw_os_error(), Some(libc::ENOENT), "open of a reaped process's stat: {e}"),
        }
        ensure!(!list_dir("/proc")?.contains(&child.to_string()), "/proc still lists the reaped child");
        Ok(())
    })();
    if r.is_err() {
        unsafe {
            libc::kill(child, libc::SIGKILL);
            libc::waitpid(child, std::ptr::null_mut(), 0);
        }
    }
    r
}

fn meminfo() -> CheckResult {
    let text = read("/proc/meminfo")?;
    let mut vals = Vec::new();
    for l in text.lines() {
        let (k, v) = l.split_once(':').ok_or(format!("bad meminfo line {l:?}"))?;
        ensure!(l.len() >= 16 + 8 || !l.ends_with(" kB"), "meminfo line not aligned: {l:?}");
        let n: u64 = v.trim().trim_end_matches(" kB").trim().parse().map_err(|_| format!("bad meminfo line {l:?}"))?;
        vals.push((k.to_string(), n));
    }
    let get = |k: &str| vals.iter().find(|x| x.0 == k).map(|x| x.1).ok_or(format!("meminfo lacks {k}"));
    let total = get("MemTotal")?;
    let free = get("MemFree")?;
    let avail = get("MemAvailable")?;
    for k in ["Buffers", "Cached", "SwapCached", "Active", "Inactive", "SwapTotal", "SwapFree", "Shmem"] {
        get(k)?;
    }
    ensure!(total > 0, "MemTotal = 0");
    ensure!(free <= total, "MemFree {free} > MemTotal {total}");
    ensure!(avail <= total, "MemAvailable {avail} > MemTotal {total}");
    ensure!(text.starts_with("MemTotal:"), "meminfo does not start with MemTotal");
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    sys_ok("sysinfo", || unsafe { syscall!(libc::SYS_sysinfo, &raw mut si) })?;
    ensure_eq!(total, si.totalram as u64 * si.mem_unit as u64 / 1024, "MemTotal vs sysinfo totalram");
    Ok(())
}

/// `cpu` lines of /proc/stat: (name, fields).
fn stat_cpus(text: &str) -> Result<Vec<(String, Vec<u64>)>, String> {
    let mut v = Vec::new();
    for l in text.lines().filter(|l| l.starts_with("cpu")) {
        let mut it = l.split_whitespace();
        let name = it.next().unwrap_or("").to_string();
        let nums: Vec<u64> = it.map(|x| x.parse().map_err(|_| format!("bad /proc/stat line {l:?}"))).collect::<Result<_, _>>()?;
        ensure!(nums.len() >= 10, "/proc/stat line with {} fields: {l:?}", nums.len());
        v.push((name, nums));
    }
    Ok(v)
}

fn proc_stat() -> CheckResult {
    let text = read("/proc/stat")?;
    ensure!(text.starts_with("cpu  "), "/proc/stat does not start with 'cpu  ': {:?}", text.lines().next());
    let cpus = stat_cpus(&text)?;
    let n = nprocs();
    ensure_eq!(cpus.len(), n + 1, "cpu lines in /proc/stat (sysconf says {n} CPUs)");
    for (i, (name, _)) in cpus.iter().skip(1).enumerate() {
        ensure_eq!(name.as_str(), format!("cpu{i}"), "per-CPU line {i}");
    }
    for key in ["intr ", "ctxt ", "btime ", "processes ", "procs_running ", "procs_blocked "] {
        ensure!(text.lines().any(|l| l.starts_with(key)), "/proc/stat lacks {key:?}");
    }
    let running: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("procs_running "))
        .and_then(|x| x.trim().parse().ok())
        .ok_or("bad procs_running")?;
    ensure!(running >= 1, "procs_running = {running} while we run");
    let btime: i64 = text.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|x| x.trim().parse().ok()).ok_or("bad btime")?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs() as i64;
    ensure!(btime <= now && btime > 0, "btime {btime} vs now {now}");
    Ok(())
}

/// CPU ticks (utime + stime + cutime + cstime) of every process, by pid.
fn process_ticks() -> std::collections::HashMap<String, u64> {
    let mut m = std::collections::HashMap::new();
    for name in list_dir("/proc").unwrap_or_default() {
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(f) = read(&format!("/proc/{name}/stat")).and_then(|t| stat_fields(&t)) {
            let t: i64 = (14..=17).map(|i| num(&f, i).unwrap_or(0)).sum();
            m.insert(name, t.max(0) as u64);
        }
    }
    m
}

fn proc_stat_advances() -> CheckResult {
    let n = nprocs() as f64;
    let pa = process_ticks();
    let a = stat_cpus(&read("/proc/stat")?)?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    let b = stat_cpus(&read("/proc/stat")?)?;
    let secs = t0.elapsed().as_secs_f64();
    let pb = process_ticks();
    ensure_eq!(a.len(), b.len(), "cpu lines");
    let sum = |v: &[u64]| v[..8].iter().sum::<u64>();
    let total = sum(&b[0].1).saturating_sub(sum(&a[0].1)) as f64;
    let want = secs * 100.0 * n;
    ensure!(
        total >= want * 0.5 && total <= want * 2.0 + 10.0,
        "cpu time advanced {total} ticks in {secs:.2} s on {n} CPUs (expected about {want:.0})"
    );
    for ((na, fa), (_, fb)) in a.iter().zip(&b) {
        for i in 0..8 {
            ensure!(fb[i] >= fa[i], "{na} field {} went back: {} -> {}", i + 1, fa[i], fb[i]);
        }
    }
    // We slept: the time no process used (nor interrupts) was idle, give or take
    // accounting granularity. (Idle time of a CPU that is idle right now must be
    // current, not as of the last time it went busy.)
    let idle = (b[0].1[3] + b[0].1[4]).saturating_sub(a[0].1[3] + a[0].1[4]) as f64;
    let irq = (b[0].1[5] + b[0].1[6]).saturating_sub(a[0].1[5] + a[0].1[6]) as f64;
    let used: u64 = pb.iter().map(|(p, t)| t.saturating_sub(*pa.get(p).unwrap_or(&0))).sum();
    let used = used as f64;
    ensure!(
        idle >= want - used - irq - want * 0.3,
        "{idle} idle ticks of {want:.0} in {secs:.2} s while processes used {used} and interrupts {irq}"
    );
    Ok(())
}

fn cpuinfo() -> CheckResult {
    let text = read("/proc/cpuinfo")?;
    let procs: Vec<&str> = text.lines().filter(|l| l.starts_with("processor")).collect();
    ensure_eq!(procs.len(), nprocs(), "processor entries in /proc/cpuinfo");
    for (i, l) in procs.iter().enumerate() {
        ensure_eq!(*l, format!("processor\t: {i}"), "processor line");
    }
    for key in ["vendor_id\t: ", "cpu family\t: ", "model\t\t: ", "model name\t: ", "cpu MHz\t\t: ", "flags\t\t: ", "bogomips\t: ", "address sizes\t: "] {
        let c = text.lines().filter(|l| l.starts_with(key)).count();
        ensure_eq!(c, nprocs(), "lines starting {key:?}");
    }
    let flags = text.lines().find_map(|l| l.strip_prefix("flags\t\t: ")).unwrap_or("");
    for f in ["fpu", "tsc", "sse2", "lm"] {
        ensure!(flags.split(' ').any(|x| x == f), "cpuinfo flags lack {f}: {flags}");
    }
    let mhz: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("cpu MHz\t\t: "))
        .and_then(|x| x.parse().ok())
        .ok_or("bad cpu MHz")?;
    ensure!(mhz > 100.0, "cpu MHz = {mhz}");
    ensure!(text.contains("\n\nprocessor") || nprocs() == 1, "blocks not separated by blank lines");
    ensure!(text.ends_with("\n\n"), "cpuinfo does not end with a blank line");
    Ok(())
}

fn uptime_pair() -> Result<(f64, f64), String> {
    let t = read("/proc/uptime")?;
    let v: Vec<&str> = t.split_whitespace().collect();
    ensure!(v.len() == 2 && t.ends_with('\n'), "/proc/uptime = {t:?}");
    for x in &v {
        ensure!(x.split_once('.').is_some_and(|(_, f)| f.len() == 2), "/proc/uptime value {x:?} not N.NN");
    }
    Ok((v[0].parse().map_err(|_| "bad uptime")?, v[1].parse().map_err(|_| "bad idle")?))
}

fn uptime_increases() -> CheckResult {
    let (a, _) = uptime_pair()?;
    std::thread::sleep(Duration::from_millis(150));
    let (b, _) = uptime_pair()?;
    ensure!(b >= a + 0.1, "uptime {a} -> {b} over 150 ms");
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    let boot = ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9;
    ensure!((b - boot).abs() < 2.0, "uptime {b} vs CLOCK_BOOTTIME {boot}");
    Ok(())
}

fn loadavg() -> CheckResult {
    let t = read("/proc/loadavg")?;
    let v: Vec<&str> = t.split_whitespace().collect();
    ensure!(v.len() == 5 && t.ends_with('\n'), "/proc/loadavg = {t:?}");
    for x in &v[..3] {
        ensure!(
            x.split_once('.').is_some_and(|(i, f)| i.parse::<u64>().is_ok() && f.len() == 2 && f.parse::<u64>().is_ok()),
            "load {x:?} not N.NN"
        );
    }
    let (r, total) = v[3].split_once('/').ok_or(format!("bad running/total {:?}", v[3]))?;
    let (r, total): (u64, u64) = (r.parse().map_err(|_| "bad running")?, total.parse().map_err(|_| "bad total")?);
    ensure!(r >= 1 && total >= r, "running/total = {r}/{total}");
    let last: i64 = v[4].parse().map_err(|_| "bad last pid")?;
    ensure!(last > 0, "last pid {last}");
    Ok(())
}

fn version_filesystems_sys() -> CheckResult {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    unsafe { libc::uname(&mut u) };
    let field = |f: &[libc::c_char]| unsafe { std::ffi::CStr::from_ptr(f.as_ptr()) }.to_string_lossy().into_owned();
    let release = field(&u.release);
    let v = read("/proc/version")?;
    ensure!(v.starts_with(&format!("Linux version {release} ")), "/proc/version = {v:?} (release {release})");
    let fsl = read("/proc/filesystems")?;
    for want in ["nodev\tproc", "nodev\tsysfs", "nodev\ttmpfs"] {
        ensure!(fsl.lines().any(|l| l == want), "/proc/filesystems lacks {want:?}");
    }
    ensure_eq!(read("/proc/sys/kernel/ostype")?, "Linux\n", "kernel.ostype");
    ensure_eq!(read("/proc/sys/kernel/osrelease")?, format!("{release}\n"), "kernel.osrelease");
    ensure_eq!(read("/proc/sys/kernel/hostname")?, format!("{}\n", field(&u.nodename)), "kernel.hostname");
    ensure_eq!(read("/proc/sys/kernel/version")?, format!("{}\n", field(&u.version)), "kernel.version");
    let pid_max: i64 = read("/proc/sys/kernel/pid_max")?.trim().parse().map_err(|_| "bad pid_max")?;
    ensure!(pid_max > pid(), "pid_max {pid_max}");
    let nr_open: u64 = read("/proc/sys/fs/nr_open")?.trim().parse().map_err(|_| "bad nr_open")?;
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    ensure!(nr_open >= rl.rlim_max.min(nr_open), "nr_open {nr_open}");
    let oc: u32 = read("/proc/sys/vm/overcommit_memory")?.trim().parse().map_err(|_| "bad overcommit_memory")?;
    ensure!(oc <= 2, "overcommit_memory {oc}");
    Ok(())
}

fn mounts() -> CheckResult {
    let m = read("/proc/mounts")?;
    ensure_eq!(read("/proc/self/mounts")?, m, "/proc/mounts vs /proc/self/mounts");
    let rows: Vec<Vec<&str>> = m.lines().map(|l| l.split(' ').collect()).collect();
    ensure!(rows.iter().all(|r| r.len() == 6 && r[4] == "0" && r[5] == "0"), "bad /proc/mounts:\n{m}");
    ensure!(rows.iter().any(|r| r[1] == "/proc" && r[2] == "proc"), "/proc/mounts lacks /proc:\n{m}");
    ensure!(rows.iter().any(|r| r[1] == "/sys" && r[2] == "sysfs"), "/proc/mounts lacks /sys:\n{m}");
    ensure!(rows.iter().any(|r| r[1] == "/"), "/proc/mounts lacks /:\n{m}");
    let mi = read("/proc/self/mountinfo")?;
    let mut ids = Vec::new();
    for l in mi.lines() {
        let (left, right) = l.split_once(" - ").ok_or(format!("mountinfo line without ' - ': {l:?}"))?;
        let lf: Vec<&str> = left.split(' ').collect();
        let rf: Vec<&str> = right.split(' ').collect();
        ensure!(lf.len() >= 6 && rf.len() == 3, "bad mountinfo line {l:?}");
        let id: u64 = lf[0].parse().map_err(|_| format!("bad id in {l:?}"))?;
        lf[1].parse::<u64>().map_err(|_| format!("bad parent in {l:?}"))?;
        ensure!(lf[2].split_once(':').is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok()), "bad dev in {l:?}");
        ids.push(id);
    }
    ensure!(mi.lines().any(|l| l.contains(" /proc ") && l.contains(" - proc ")), "mountinfo lacks /proc:\n{mi}");
    let n = ids.len();
    ids.sort();
    ids.dedup();
    ensure_eq!(ids.len(), n, "distinct mount ids");
    // statfs sees procfs.
    let c = CString::new("/proc/self").unwrap();
    let mut sf: libc::statfs = unsafe { std::mem::zeroed() };
    sys_ok("statfs(/proc/self)", || unsafe { syscall!(libc::SYS_statfs, c.as_ptr(), &raw mut sf) })?;
    ensure_eq!(sf.f_type as i64, 0x9fa0, "statfs(/proc) f_type");
    Ok(())
}

fn cgroup_limits_io_environ() -> CheckResult {
    let cg = read("/proc/self/cgroup")?;
    ensure!(cg.lines().any(|l| l.starts_with("0::/")), "/proc/self/cgroup lacks a 0::/ line: {cg:?}");
    let lim = read("/proc/self/limits")?;
    let mut lines = lim.lines();
    ensure_eq!(
        lines.next().unwrap_or(""),
        format!("{:<25} {:<20} {:<20} {:<10}", "Limit", "Soft Limit", "Hard Limit", "Units"),
        "limits header"
    );
    ensure_eq!(lim.lines().count(), 17, "limits lines");
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    let nofile = lim.lines().find(|l| l.starts_with("Max open files")).ok_or("no Max open files")?;
    let f: Vec<&str> = nofile[25..].split_whitespace().collect();
    ensure_eq!(f.first().copied().unwrap_or(""), rl.rlim_cur.to_string(), "Max open files soft ({nofile:?})");
    ensure_eq!(nofile.len(), 25 + 1 + 20 + 1 + 20 + 1 + 10, "Max open files row width");
    let io = read("/proc/self/io")?;
    for k in ["rchar", "wchar", "syscr", "syscw", "read_bytes", "write_bytes", "cancelled_write_bytes"] {
        ensure!(io.lines().any(|l| l.split_once(": ").is_some_and(|(a, b)| a == k && b.parse::<u64>().is_ok())), "io lacks {k}: {io:?}");
    }
    fs::read("/proc/self/environ").map_err(|e| format!("read /proc/self/environ: {e}"))?;
    let cmd = fs::read("/proc/self/cmdline").map_err(|e| e.to_string())?;
    let mut want: Vec<u8> = Vec::new();
    for a in std::env::args_os() {
        use std::os::unix::ffi::OsStrExt;
        want.extend_from_slice(a.as_bytes());
        want.push(0);
    }
    ensure_eq!(cmd, want, "/proc/self/cmdline");
    Ok(())
}

fn oom_score_adj() -> CheckResult {
    let v: i32 = read("/proc/self/oom_score_adj")?.trim().parse().map_err(|_| "bad oom_score_adj")?;
    let new = if v < 1000 { v + 1 } else { v };
    fs::write("/proc/self/oom_score_adj", format!("{new}\n")).map_err(|e| format!("write oom_score_adj: {e}"))?;
    ensure_eq!(read("/proc/self/oom_score_adj")?, format!("{new}\n"), "oom_score_adj after write");
    let r = fs::write("/proc/self/oom_score_adj", "nonsense");
    ensure!(r.as_ref().is_err_and(|e| e.raw_os_error() == Some(libc::EINVAL)), "writing nonsense: {r:?}");
    Ok(())
}

fn sys_cpu() -> CheckResult {
    let n = nprocs();
    for f in ["online", "possible", "present"] {
        let t = read(&format!("/sys/devices/system/cpu/{f}"))?;
        ensure!(t.ends_with('\n'), "{f} = {t:?}");
        let cpus = parse_cpu_list(&t)?;
        if f == "online" {
            ensure_eq!(cpus, (0..n as u32).collect::<Vec<_>>(), "/sys/devices/system/cpu/online");
        } else {
            ensure!(cpus.len() >= n, "{f} lists {} CPUs, {n} online", cpus.len());
        }
    }
    for i in 0..n {
        let m = fs::metadata(format!("/sys/devices/system/cpu/cpu{i}")).map_err(|e| format!("cpu{i}: {e}"))?;
        ensure!(m.is_dir(), "cpu{i} is not a directory");
    }
    let names = list_dir("/sys/devices/system/cpu")?;
    let cpus = names.iter().filter(|x| x.strip_prefix("cpu").is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))).count();
    ensure!(cpus >= n, "{cpus} cpuN directories for {n} CPUs");
    ensure!(fs::metadata("/sys/fs/cgroup").map(|m| m.is_dir()).unwrap_or(false), "/sys/fs/cgroup is not a directory");
    Ok(())
}

/// Writing `path` fails with `want` (or the open fails with EACCES).
fn write_fails(path: &str, want: i32) -> CheckResult {
    let c = CString::new(path).unwrap();
    checks::clear_errno();
    let fd = unsafe { syscall!(libc::SYS_open, c.as_ptr(), libc::O_WRONLY) };
    if fd < 0 {
        let e = checks::errno();
        ensure!(e == libc::EACCES && want == libc::EACCES, "open({path}, O_WRONLY) failed with {}", errno_name(e));
        return Ok(());
    }
    checks::clear_errno();
    let r = unsafe { syscall!(libc::SYS_write, fd, b"1\n".as_ptr(), 2) };
    let e = checks::errno();
    unsafe { libc::close(fd as i32) };
    ensure!(r == -1 && e == want, "write to {path} returned {r} ({}), expected {}", errno_name(e), errno_name(want));
    Ok(())
}

fn write_refused() -> CheckResult {
    write_fails("/proc/self/stat", libc::EINVAL)?;
    write_fails("/proc/self/status", libc::EINVAL)?;
    write_fails("/proc/uptime", libc::EIO)?;
    write_fails("/proc/meminfo", libc::EIO)?;
    write_fails("/sys/devices/system/cpu/online", libc::EACCES)?;
    // The files are unchanged and still readable.
    ensure!(read("/proc/uptime")?.split_whitespace().count() == 2, "uptime after write");
    // Creating files in /proc is refused.
    let r = fs::File::create("/proc/newfile");
    ensure!(r.is_err(), "creating /proc/newfile succeeded");
    Ok(())
}
