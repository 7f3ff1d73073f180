//! `/proc/<pid>/` and `/proc/<pid>/task/<tid>/`: one directory per process (and per
//! thread), with files formatted as Linux formats them (see proc(5)).
//!
//! A directory refers to its process and thread weakly: once the process is reaped (or
//! the thread has ended) lookups in it fail with `ENOENT` and reads of files opened
//! before with `ESRCH`, as on Linux.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::Ordering;

use rtos::sched::thread::{State, Thread};
use rtos::sync::SpinLock;

use super::node::{self, DirSource, GenDir, GenFile, GenLink, Table};
use super::{ino, system, FS, KIND_FD, KIND_FDINFO, KIND_PID, KIND_TASK};
use crate::errno::Errno;
use crate::fs::vfs::{DirEntry, FileType, Inode};
use crate::process::limits::{self, RLIM_INFINITY};
use crate::process::{Pid, Process, Task};

/// What a /proc directory describes: a process, or one thread of it.
#[derive(Clone)]
pub struct Target {
    pub pid: Pid,
    pub proc: Weak<Process>,
    /// The thread, for `task/<tid>/` (and `/proc/<tid>/` of a non-leader thread).
    pub task: Option<(Pid, Weak<Task>)>,
}

impl Target {
    /// The whole process `p`.
    pub fn process_of(p: &Arc<Process>) -> Self {
        Self { pid: p.pid, proc: Arc::downgrade(p), task: None }
    }

    /// Thread `t`.
    pub fn thread_of(t: &Arc<Task>) -> Self {
        Self { pid: t.process.pid, proc: Arc::downgrade(&t.process), task: Some((t.tid(), Arc::downgrade(t))) }
    }

    /// The id the directory is named by.
    fn id(&self) -> Pid {
        self.task.as_ref().map_or(self.pid, |t| t.0)
    }

    fn is_thread(&self) -> bool {
        self.task.is_some()
    }

    /// The process, if /proc still shows it.
    fn process(&self) -> Result<Arc<Process>, Errno> {
        let p = self.proc.upgrade().ok_or(Errno::ESRCH)?;
        if !p.visible() {
            return Err(Errno::ESRCH);
        }
        Ok(p)
    }

    /// The thread described: the given one, or the process's main thread (none for a
    /// zombie). A given thread that has ended is `ESRCH`.
    fn task(&self, p: &Process) -> Result<Option<Arc<Task>>, Errno> {
        match &self.task {
            Some((_, w)) => match w.upgrade() {
                Some(t) if p.tasks().iter().any(|x| Arc::ptr_eq(x, &t)) => Ok(Some(t)),
                _ => Err(Errno::ESRCH),
            },
            None => Ok(p.main_task()),
        }
    }

    fn alive(&self) -> bool {
        self.process().is_ok_and(|p| self.task(&p).is_ok())
    }
}

// ---------------------------------------------------------------------------------------
// Helpers

fn comm_of(p: &Process, t: Option<&Arc<Task>>) -> String {
    match t {
        Some(t) => t.comm.lock().as_str().to_string(),
        None => {
            // A zombie has no threads left: name it after its executable.
            let exe = p.exe.lock().clone();
            exe.rsplit('/').next().unwrap_or("").chars().take(15).collect()
        }
    }
}

/// The state letter and its name.
fn state_of(p: &Process, th: Option<&Thread>) -> (char, &'static str) {
    let (zombie, stopped) = {
        let s = p.state.lock();
        (s.exit.is_some(), s.stopped)
    };
    if zombie {
        return ('Z', "zombie");
    }
    if stopped {
        return ('T', "stopped");
    }
    match th.map(|t| t.state()) {
        Some(State::Running | State::Ready | State::New) => ('R', "running"),
        Some(State::Blocked) => ('S', "sleeping"),
        Some(State::Dead) | None => ('X', "dead"),
    }
}

/// Linux's encoding of a device number for `tty_nr`.
fn encode_dev(major: u32, minor: u32) -> u64 {
    (u64::from(minor) & 0xff) | (u64::from(major) << 8) | ((u64::from(minor) & !0xff) << 12)
}

/// The controlling terminal of session `sid`: (`tty_nr`, foreground group).
fn ctty(sid: Pid) -> (u64, Pid) {
    let con = crate::fs::tty::console();
    if con.session.load(Ordering::Acquire) == sid && sid != 0 {
        // The console is the first serial port (ttyS0, 4:64), as on Linux.
        return (encode_dev(4, 64), con.pgrp.load(Ordering::Acquire));
    }
    match crate::fs::pty::find_by_session(sid) {
        Some(t) if sid != 0 => (encode_dev(136, t.index.unwrap_or(0)), t.pgrp.load(Ordering::Acquire)),
        _ => (0, -1),
    }
}

struct Sigs {
    pending: u64,
    shared: u64,
    blocked: u64,
    ignored: u64,
    caught: u64,
    queued: usize,
}

fn sigs(p: &Process, t: Option<&Arc<Task>>) -> Sigs {
    let (shared, shared_q) = {
        let s = p.shared_pending.lock();
        (s.set.0, s.queue.len())
    };
    let (pending, blocked, q) = match t {
        Some(t) => {
            let s = t.sig.lock();
            (s.pending.set.0, s.mask.0, s.pending.queue.len())
        }
        None => (0, 0, 0),
    };
    let (mut ignored, mut caught) = (0u64, 0u64);
    if let Some(t) = t {
        let actions = *t.sighand().actions.lock();
        for (i, a) in actions.iter().enumerate() {
            if a.handler == crate::signal::SIG_IGN {
                ignored |= 1 << i;
            } else if a.handler != crate::signal::SIG_DFL {
                caught |= 1 << i;
            }
        }
    }
    Sigs { pending, shared, blocked, ignored, caught, queued: shared_q + q }
}

fn kb(bytes: u64) -> u64 {
    bytes / 1024
}

/// Scheduling parameters and allowed CPUs of a thread.
fn sched_of(th: Option<&Arc<Thread>>) -> (rtos::sched::policy::Params, u64) {
    match th {
        Some(t) => rtos::sched::core::params_of(t),
        None => (rtos::sched::policy::Params::default(), u64::MAX),
    }
}

// ---------------------------------------------------------------------------------------
// Files

type Gen = fn(&Target) -> Result<Vec<u8>, Errno>;

fn gen_stat(t: &Target) -> Result<Vec<u8>, Errno> {
    let p = t.process()?;
    let task = t.task(&p)?;
    let th = task.as_ref().and_then(|x| x.thread());
    let (state, _) = state_of(&p, th.as_deref());
    let comm = comm_of(&p, task.as_ref());
    let (ppid, pgrp, sid, exit_signal, exit) = {
        let s = p.state.lock();
        (s.parent.upgrade().map_or(0, |x| x.pid), s.pgid, s.sid, s.exit_signal, s.exit)
    };
    let (tty_nr, tpgid) = ctty(sid);
    let cpu_ns = if t.is_thread() { th.as_ref().map_or(0, |x| x.cpu_time_ns()) } else { p.cpu_time_ns() };
    let (params, _) = sched_of(th.as_ref());
    let rt = params.policy.class() == rtos::sched::policy::Class::RealTime;
    let priority = if rt { -1 - i64::from(params.rt_priority) } else { 20 + i64::from(params.nice) };
    let vm = p.vm_stats();
    let rsslim = p.rlimits.lock().soft(limits::RLIMIT_RSS);
    let sg = sigs(&p, task.as_ref());
    let exit_signal = if t.is_thread() && t.id() != p.pid { -1 } else { exit_signal };
    let exit_code = exit.map_or(0, |e| e.wait_status());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}) {} {} {} {} {} {} {} 0 0 0 0 {} 0 {} 0 {} {} {} 0 {} {} {} {} {} {} {} 0 0 {} {} {} {} 0 0 0 {} {} {} {} 0 0 0 {} {} {} 0 0 0 0 {}",
        t.id(),
        comm,
        state,
        ppid,
        pgrp,
        sid,
        tty_nr,
        tpgid,
        0u32, // flags
        super::cpu::ticks(cpu_ns),
        super::cpu::ticks(p.children_cpu_ns.load(Ordering::Relaxed)),
        priority,
        params.nice,
        p.tasks().len(),
        super::cpu::ticks(p.start_ns),
        vm.size,
        vm.rss_pages,
        rsslim,
        vm.start_code,
        vm.end_code,
        vm.start_stack,
        sg.pending | sg.shared,
        sg.blocked,
        sg.ignored,
        sg.caught,
        exit_signal,
        th.as_ref().map_or(0, |x| x.cpu()),
        params.rt_priority,
        params.policy.to_linux(),
        vm.start_data,
        vm.end_data,
        vm.start_brk,
        exit_code,
    );
    Ok(s.into_bytes())
}

fn gen_statm(t: &Target) -> Result<Vec<u8>, Errno> {
    let p = t.process()?;
    t.task(&p)?;
    let vm = p.vm_stats();
    Ok(format!("{} {} {} {} 0 {} 0\n", vm.size / 4096, vm.rss_pages, vm.shared_pages, vm.exe / 4096, (vm.data + vm.stack) / 4096).into_bytes())
}

/// `Name:` escapes like Linux (`\n` and `\\` as escapes, other controls in octal).
fn escape_name(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(o, "\\{:03o}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

fn gen_status(t: &Target) -> Result<Vec<u8>, Errno> {
    let p = t.process()?;
    let task = t.task(&p)?;
    let th = task.as_ref().and_then(|x| x.thread());
    let (state, state_name) = state_of(&p, th.as_deref());
    let comm = comm_of(&p, task.as_ref());
    let (ppid, pgrp, sid) = {
        let s = p.state.lock();
        (s.parent.upgrade().map_or(0, |x| x.pid), s.pgid, s.sid)
    };
    let umask = task.as_ref().map_or(0o022, |x| x.fs().lock().umask);
    let fds = task.as_ref().map(|x| x.files().list()).unwrap_or_default();
    let fd_size = fds.last().map_or(0, |(fd, _)| *fd as usize + 1).next_power_of_two().max(64);
    let sg = sigs(&p, task.as_ref());
    let sig_limit = p.rlimits.lock().soft(limits::RLIMIT_SIGPENDING);
    let (_, affinity) = sched_of(th.as_ref());
    let online = super::cpu::online_mask();
    let allowed = affinity & online;
    let nbits = 64 - online.leading_zeros();
    let tid = t.id();
    let mut s = String::new();
    let _ = writeln!(s, "Name:\t{}", escape_name(&comm));
    let _ = writeln!(s, "Umask:\t{umask:04o}");
    let _ = writeln!(s, "State:\t{state} ({state_name})");
    let _ = writeln!(s, "Tgid:\t{}\nNgid:\t0\nPid:\t{tid}\nPPid:\t{ppid}\nTracerPid:\t0", p.pid);
    let _ = writeln!(s, "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0");
    let _ = writeln!(s, "FDSize:\t{fd_size}\nGroups:\t ");
    let _ = writeln!(s, "NStgid:\t{}\nNSpid:\t{tid}\nNSpgid:\t{pgrp}\nNSsid:\t{sid}", p.pid);
    if !p.is_zombie() {
        let vm = p.vm_stats();
        let rss = vm.rss_pages * 4;
        let line = |s: &mut String, name: &str, v: u64| {
            let _ = writeln!(s, "{name}:\t{v:>8} kB");
        };
        line(&mut s, "VmPeak", kb(vm.size));
        line(&mut s, "VmSize", kb(vm.size));
        line(&mut s, "VmLck", kb(vm.locked));
        line(&mut s, "VmPin", 0);
        line(&mut s, "VmHWM", rss);
        line(&mut s, "VmRSS", rss);
        line(&mut s, "RssAnon", vm.rss_anon_pages * 4);
        line(&mut s, "RssFile", vm.rss_file_pages * 4);
        line(&mut s, "RssShmem", vm.rss_shmem_pages * 4);
        line(&mut s, "VmData", kb(vm.data));
        line(&mut s, "VmStk", kb(vm.stack));
        line(&mut s, "VmExe", kb(vm.exe));
        line(&mut s, "VmLib", kb(vm.lib));
        line(&mut s, "VmPTE", 0);
        line(&mut s, "VmSwap", 0);
        let _ = writeln!(s, "HugetlbPages:\t{:>8} kB", 0);
    }
    let _ = writeln!(s, "CoreDumping:\t0");
    let _ = writeln!(s, "Threads:\t{}", p.tasks().len());
    let _ = writeln!(s, "SigQ:\t{}/{}", sg.queued, if sig_limit == RLIM_INFINITY { -1i64 } else { sig_limit as i64 });
    let _ = writeln!(s, "SigPnd:\t{:016x}\nShdPnd:\t{:016x}", sg.pending, sg.shared);
    let _ = writeln!(s, "SigBlk:\t{:016x}\nSigIgn:\t{:016x}\nSigCgt:\t{:016x}", sg.blocked, sg.ignored, sg.caught);
    // Every process runs as root, and Axle makes no permission checks: all capabilities.
    let caps = (1u64 << 41) - 1;
    let _ = writeln!(s, "CapInh:\t{:016x}\nCapPrm:\t{caps:016x}\nCapEff:\t{caps:016x}\nCapBnd:\t{caps:016x}\nCapAmb:\t{:016x}", 0, 0);
    let _ = writeln!(s, "NoNewPrivs:\t0\nSeccomp:\t0");
    let _ = writeln!(s, "Cpus_allowed:\t{}", node::hex_mask(allowed, nbits));
    let _ = writeln!(s, "Cpus_allowed_list:\t{}", node::cpu_list(allowed));
    let _ = writeln!(s, "Mems_allowed:\t00000000,00000001\nMems_allowed_list:\t0");
    let _ = writeln!(s, "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0");
    if crate::profile::get().is_some() {
        // Axle's own line: the dataflow-profile rule that placed this thread.
        let rule = task.as_ref().and_then(|t| crate::profile::rule_name(t));
        let _ = writeln!(s, "profile_rule:\t{}", rule.as_deref().unwrap_or("-"));
    }
    Ok(s.into_bytes())
}

fn gen_cmdline(t: &Target) -> Result<Vec<u8>, Errno> {
    let p = t.process()?;
    t.task(&p)?;
    if p.is_zombie() {
        return Ok(Vec::new());
    }
    let cmdline = p.cmdline.lock().clone();
    Ok(cmdline)
}

fn gen_comm(t: &Target) -> Result<Vec<u8>, Errno> {
    let p = t.process()?;
    let task = t.task(&p)?;
    let mut c = comm_of(&p, task.as_ref());
    c.push('\n');
    Ok(c.into_bytes())
}

/// The environment is not kept after exec, so this is empty (Linux shows the initial
/// environment block).
fn gen_environ(t: &Target) -> Result<Vec<u8>, Errno> {
    let p = t.process()?;
    t.task(&p)?;
    Ok(Vec::new())
}

fn gen_maps(t: &Target) -> Result<Vec<u8>, Errno> {
    let p = t.process()?;
    t.task(&p)?;
    let mut s = String::new();
    for m in p.memory_map() {
        let start = s.len();
        let (maj, min) = crate::fs::devices::major_minor(m.dev);
        let _ = write!(
            s,
            "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
            m.start,
            m.end,
            if m.prot.contains(rtos::mm::addrspace::Prot::READ) { 'r' } else { '-' },
            if m.prot.contains(rtos::mm::addrspace::Prot::WRITE) { 'w' } else { '-' },
            if m.prot.contains(rtos::mm::addrspace::Prot::EXEC) { 'x' } else { '-' },
            if m.shared { 's' } else { 'p' },
            m.offset,
            maj,
            min,
            m.ino
        );
        if !m.name.is_empty() {
            // Linux pads the fixed part to 72 columns (25 + 6 * sizeof(void *) - 1), then
            // a space: the name starts at column 74 (index 73) at the earliest.
            while s.len() - start < 72 {
                s.push(' ');
            }
            s.push(' ');
            s.push_str(&m.name);
        }
        s.push('\n');
    }
    Ok(s.into_bytes())
}

fn gen_cgroup(t: &Target) -> Result<Vec<u8>, Errno> {
    let p = t.process()?;
    t.task(&p)?;
    Ok(b"0::/\n".to_vec())
}

fn gen_mounts(t: &Target) -> Result<Vec<u8>, Errno> {
    t.process()?;
    Ok(system::mounts_text().into_bytes())
}

fn gen_mountinfo(t: &Target) -> Result<Vec<u8>, Errno> {
    t.process()?;
    Ok(system::mountinfo_text().into_bytes())
}

/// I/O accounting is not kept: zeros.
fn gen_io(t: &Target) -> Result<Vec<u8>, Errno> {
    t.process()?;
    Ok(b"rchar: 0\nwchar: 0\nsyscr: 0\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n".to_vec())
}

fn gen_limits(t: &Target) -> Result<Vec<u8>, Errno> {
    const NAMES: [(&str, &str); limits::RLIM_NLIMITS] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let p = t.process()?;
    let l = *p.rlimits.lock();
    let mut s = String::new();
    let _ = writeln!(s, "{:<25} {:<20} {:<20} {:<10}", "Limit", "Soft Limit", "Hard Limit", "Units");
    for (i, (name, unit)) in NAMES.iter().enumerate() {
        let v = |x: u64| if x == RLIM_INFINITY { String::from("unlimited") } else { x.to_string() };
        let _ = write!(s, "{:<25} {:<20} {:<20} ", name, v(l.0[i].0), v(l.0[i].1));
        if unit.is_empty() {
            s.push('\n');
        } else {
            let _ = writeln!(s, "{unit:<10}");
        }
    }
    Ok(s.into_bytes())
}

/// `oom_score_adj` values set by writes (the kernel has no OOM killer to use them).
static OOM_ADJ: SpinLock<BTreeMap<Pid, (Weak<Process>, i32)>> = SpinLock::new(BTreeMap::new());

fn oom_adj_of(p: &Arc<Process>) -> i32 {
    let mut m = OOM_ADJ.lock();
    m.retain(|_, (w, _)| w.strong_count() > 0);
    m.get(&p.pid).filter(|(w, _)| w.ptr_eq(&Arc::downgrade(p))).map_or(0, |e| e.1)
}

fn gen_oom_score_adj(t: &Target) -> Result<Vec<u8>, Errno> {
    let p = t.process()?;
    Ok(format!("{}\n", oom_adj_of(&p)).into_bytes())
}

fn gen_oom_score(t: &Target) -> Result<Vec<u8>, Errno> {
    t.process()?;
    Ok(b"0\n".to_vec())
}

fn gen_wchan(t: &Target) -> Result<Vec<u8>, Errno> {
    t.process()?;
    Ok(b"0".to_vec())
}

const FILES: &[(&str, u32, Gen)] = &[
    ("cgroup", 0o444, gen_cgroup),
    ("cmdline", 0o444, gen_cmdline),
    ("environ", 0o400, gen_environ),
    ("io", 0o400, gen_io),
    ("limits", 0o444, gen_limits),
    ("maps", 0o444, gen_maps),
    ("mountinfo", 0o444, gen_mountinfo),
    ("mounts", 0o444, gen_mounts),
    ("oom_score", 0o444, gen_oom_score),
    ("stat", 0o444, gen_stat),
    ("statm", 0o444, gen_statm),
    ("status", 0o444, gen_status),
    ("wchan", 0o444, gen_wchan),
];

/// Renames a thread; only threads of the writer's own process (Linux: `EINVAL`).
fn write_comm(t: &Target, data: &[u8]) -> Result<usize, Errno> {
    let p = t.process()?;
    if crate::process::try_current_task().is_none_or(|me| me.process.pid != p.pid) {
        return Err(Errno::EINVAL);
    }
    let task = t.task(&p)?.ok_or(Errno::ESRCH)?;
    // A trailing newline (`echo name > comm`) is not part of the name.
    let name = data.strip_suffix(b"\n").unwrap_or(data);
    task.set_comm(&name[..name.len().min(15)]);
    crate::profile::place(&task);
    Ok(data.len())
}

fn write_oom_score_adj(t: &Target, data: &[u8]) -> Result<usize, Errno> {
    let p = t.process()?;
    let s = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
    let v: i32 = s.parse().map_err(|_| Errno::EINVAL)?;
    if !(-1000..=1000).contains(&v) {
        return Err(Errno::EINVAL);
    }
    OOM_ADJ.lock().insert(p.pid, (Arc::downgrade(&p), v));
    Ok(data.len())
}

// ---------------------------------------------------------------------------------------
// Links

fn link_exe(t: &Target) -> Result<String, Errno> {
    let p = t.process()?;
    t.task(&p)?;
    let exe = p.exe.lock().clone();
    if exe.is_empty() || p.is_zombie() {
        return Err(Errno::ENOENT);
    }
    Ok(exe)
}

fn link_cwd(t: &Target) -> Result<String, Errno> {
    let p = t.process()?;
    let task = t.task(&p)?.ok_or(Errno::ENOENT)?;
    let fs = task.fs();
    let path = fs.lock().cwd.path_string();
    Ok(path)
}

fn link_root(t: &Target) -> Result<String, Errno> {
    let p = t.process()?;
    let task = t.task(&p)?.ok_or(Errno::ENOENT)?;
    let fs = task.fs();
    let path = fs.lock().root.path_string();
    Ok(path)
}

// ---------------------------------------------------------------------------------------
// fd/ and fdinfo/

fn files_of(t: &Target) -> Result<Option<Arc<crate::fs::fdtable::FdTable>>, Errno> {
    let p = t.process()?;
    Ok(t.task(&p)?.map(|x| x.files()))
}

struct FdDir {
    t: Target,
    info: bool,
}

impl DirSource for FdDir {
    fn entries(&self) -> Result<Vec<DirEntry>, Errno> {
        let files = files_of(&self.t).map_err(|_| Errno::ENOENT)?;
        let kind = if self.info { FileType::Regular } else { FileType::Symlink };
        let k = if self.info { KIND_FDINFO } else { KIND_FD };
        Ok(files
            .map(|f| f.list())
            .unwrap_or_default()
            .into_iter()
            .map(|(fd, _)| DirEntry { name: fd.to_string(), ino: ino(k, self.t.id() as u64, fd as u64), kind })
            .collect())
    }

    fn lookup(&self, name: &str) -> Result<Arc<dyn Inode>, Errno> {
        let fd: i32 = name.parse().map_err(|_| Errno::ENOENT)?;
        if fd < 0 || fd.to_string() != name {
            return Err(Errno::ENOENT);
        }
        let files = files_of(&self.t).map_err(|_| Errno::ENOENT)?.ok_or(Errno::ENOENT)?;
        let entry = files.entry(fd).map_err(|_| Errno::ENOENT)?;
        let t = self.t.clone();
        if self.info {
            let gen = move || -> Result<Vec<u8>, Errno> {
                let e = files_of(&t)?.ok_or(Errno::ENOENT)?.entry(fd).map_err(|_| Errno::ENOENT)?;
                Ok(fdinfo_text(&e).into_bytes())
            };
            return Ok(GenFile::make(FS, ino(KIND_FDINFO, self.t.id() as u64, fd as u64), 0o444, Errno::EINVAL, Box::new(gen)));
        }
        let f = &entry.file;
        let perm = if f.readable() { 0o500 } else { 0 } | if f.writable() { 0o300 } else { 0 };
        let t2 = t.clone();
        let target = move || -> Result<String, Errno> {
            let e = files_of(&t2)?.ok_or(Errno::ENOENT)?.entry(fd).map_err(|_| Errno::ENOENT)?;
            Ok(fd_link_target(&e.file))
        };
        let link = GenLink::make(FS, ino(KIND_FD, self.t.id() as u64, fd as u64), perm, Box::new(target));
        Ok(Arc::new(FdLink { link, t, fd }))
    }
}

/// What `readlink("/proc/<pid>/fd/N")` shows: the path the file was opened by, with
/// " (deleted)" once that name no longer leads to it; `pipe:[ino]`, `socket:[ino]`,
/// `anon_inode:[...]` for files without a path.
fn fd_link_target(f: &crate::fs::file::File) -> String {
    use crate::fs::path::{resolve, Follow};
    let Some(loc) = &f.location else { return f.name.clone() };
    let path = loc.path_string();
    let root = crate::fs::root_location();
    let same = |l: crate::fs::path::Location| crate::fs::vfs::identity(l.inode().as_ref()) == crate::fs::vfs::identity(loc.inode().as_ref());
    if resolve(&root, &root, &path, Follow::No).is_ok_and(same) {
        path
    } else {
        format!("{path} (deleted)")
    }
}

/// `/proc/<pid>/fd/N`: a link whose target is shown like Linux shows it, and which path
/// resolution follows to the open file itself (a magic link).
struct FdLink {
    link: Arc<dyn Inode>,
    t: Target,
    fd: i32,
}

impl Inode for FdLink {
    fn stat(&self) -> crate::fs::vfs::Stat {
        // Linux gives /proc/<pid>/fd links the size 64 (what `ls -l` shows).
        crate::fs::vfs::Stat { size: 64, ..self.link.stat() }
    }

    fn kind(&self) -> FileType {
        FileType::Symlink
    }

    fn readlink(&self) -> Result<String, Errno> {
        self.link.readlink()
    }

    fn magic_file(&self) -> Option<Arc<crate::fs::file::File>> {
        files_of(&self.t).ok().flatten()?.entry(self.fd).ok().map(|e| e.file)
    }

    fn statfs(&self) -> crate::fs::vfs::StatFs {
        self.link.statfs()
    }

    fn as_any(&self) -> &dyn core::any::Any {
        self
    }
}

fn fdinfo_text(e: &crate::fs::fdtable::FdEntry) -> String {
    use crate::fs::file::flags::{O_CLOEXEC, O_LARGEFILE};
    let f = &e.file;
    let inode = f.ops.inode();
    let stat = f.ops.stat().ok();
    // The offset lock is not taken for /proc and /sys files: reading this very file
    // holds it. Their offsets are reported as 0.
    let ours = stat.is_some_and(|s| s.dev == FS.dev || s.dev == crate::fs::sysfs::FS.dev);
    let pos = if ours { 0 } else { *f.pos() };
    let mut flags = f.flags();
    if e.cloexec {
        flags |= O_CLOEXEC;
    }
    if f.location.is_some() {
        flags |= O_LARGEFILE;
    }
    let mnt_id = inode.as_ref().map_or(0, |i| system::mount_id_of_dev(i.stat().dev));
    format!("pos:\t{pos}\nflags:\t0{flags:o}\nmnt_id:\t{mnt_id}\nino:\t{}\n", stat.map_or(0, |s| s.ino))
}

// ---------------------------------------------------------------------------------------
// task/

struct TaskDir {
    t: Target,
}

impl DirSource for TaskDir {
    fn entries(&self) -> Result<Vec<DirEntry>, Errno> {
        let p = self.t.process().map_err(|_| Errno::ENOENT)?;
        let mut tids: Vec<Pid> = p.tasks().iter().map(|x| x.tid()).collect();
        tids.sort_unstable();
        Ok(tids.into_iter().map(|tid| DirEntry { name: tid.to_string(), ino: ino(KIND_TASK, tid as u64, 0), kind: FileType::Directory }).collect())
    }

    fn lookup(&self, name: &str) -> Result<Arc<dyn Inode>, Errno> {
        let p = self.t.process().map_err(|_| Errno::ENOENT)?;
        let tid: Pid = name.parse().map_err(|_| Errno::ENOENT)?;
        let task = p.tasks().into_iter().find(|x| x.tid() == tid && x.tid().to_string() == name).ok_or(Errno::ENOENT)?;
        Ok(pid_dir(Target::thread_of(&task), false))
    }
}

// ---------------------------------------------------------------------------------------
// The directory

/// A pid (or tid) directory: checks that its process is still there on every access.
struct PidDir {
    t: Target,
    table: Table,
}

impl DirSource for PidDir {
    fn entries(&self) -> Result<Vec<DirEntry>, Errno> {
        if !self.t.alive() {
            return Err(Errno::ENOENT);
        }
        self.table.entries()
    }

    fn lookup(&self, name: &str) -> Result<Arc<dyn Inode>, Errno> {
        if !self.t.alive() {
            return Err(Errno::ENOENT);
        }
        self.table.lookup(name)
    }
}

/// The directory of `t`; `with_tasks` adds `task/` (process directories).
pub fn pid_dir(t: Target, with_tasks: bool) -> Arc<dyn Inode> {
    let kind = if t.is_thread() { KIND_TASK } else { KIND_PID };
    let id = t.id() as u64;
    let mk = |sub: u64| ino(kind, id, sub);
    let mut v: Vec<(&'static str, Arc<dyn Inode>)> = Vec::new();
    for (i, &(name, perm, g)) in FILES.iter().enumerate() {
        let tc = t.clone();
        v.push((name, GenFile::make(FS, mk(i as u64 + 1), perm, Errno::EINVAL, Box::new(move || g(&tc)))));
    }
    let (tr, tw) = (t.clone(), t.clone());
    v.push(("comm", GenFile::writable(FS, mk(40), 0o644, Box::new(move || gen_comm(&tr)), Box::new(move |d| write_comm(&tw, d)))));
    let (tr, tw) = (t.clone(), t.clone());
    v.push((
        "oom_score_adj",
        GenFile::writable(FS, mk(41), 0o644, Box::new(move || gen_oom_score_adj(&tr)), Box::new(move |d| write_oom_score_adj(&tw, d))),
    ));
    for (n, (name, f)) in [("exe", link_exe as fn(&Target) -> Result<String, Errno>), ("cwd", link_cwd), ("root", link_root)].into_iter().enumerate() {
        let tc = t.clone();
        v.push((name, GenLink::make(FS, mk(50 + n as u64), 0o777, Box::new(move || f(&tc)))));
    }
    v.push(("fd", GenDir::make(FS, mk(60), 0o500, FdDir { t: t.clone(), info: false })));
    v.push(("fdinfo", GenDir::make(FS, mk(61), 0o500, FdDir { t: t.clone(), info: true })));
    if with_tasks {
        v.push(("task", GenDir::make(FS, mk(62), 0o555, TaskDir { t: t.clone() })));
    }
    v.sort_by(|a, b| a.0.cmp(b.0));
    GenDir::make(FS, mk(0), 0o555, PidDir { t, table: Table(v) })
}

/// The entry `/proc/<id>` for a pid (a process) or a tid (one of its threads).
pub fn lookup_id(id: Pid) -> Result<Arc<dyn Inode>, Errno> {
    if let Some(p) = crate::process::find_process(id) {
        if p.visible() {
            return Ok(pid_dir(Target::process_of(&p), true));
        }
    }
    if let Some(t) = crate::process::find_task(id) {
        if t.process.visible() && t.process.tasks().iter().any(|x| Arc::ptr_eq(x, &t)) {
            return Ok(pid_dir(Target::thread_of(&t), false));
        }
    }
    Err(Errno::ENOENT)
}

/// The pids /proc lists.
pub fn visible_pids() -> Vec<Pid> {
    let mut v: Vec<Pid> = crate::process::all_processes().into_iter().filter(|p| p.visible()).map(|p| p.pid).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The largest thread id in use (for `/proc/loadavg`'s last pid and `/proc/stat`'s
/// process count: ids are handed out in increasing order).
pub fn max_id() -> Pid {
    crate::process::all_processes().iter().flat_map(|p| p.tasks().iter().map(|t| t.tid()).chain(core::iter::once(p.pid)).collect::<Vec<_>>()).max().unwrap_or(0)
}
