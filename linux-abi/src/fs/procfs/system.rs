//! The system-wide files of /proc: `meminfo`, `stat`, `uptime`, `loadavg`, `mounts` and
//! `mountinfo`, `filesystems`, `version`, and the `sys/` tree.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::Ordering;

use super::cpu::{self, ticks};
use super::node::{self, GenDir};
use super::{ino, FS, KIND_SYS};
use crate::errno::Errno;
use crate::fs::vfs::Inode;

/// The release `uname` reports (`syscall::misc::RELEASE`).
pub const RELEASE: &str = "6.1.0-axle";
/// The version string `uname` reports.
pub const VERSION: &str = concat!("#1 SMP Axle ", env!("CARGO_PKG_VERSION"));

// ---------------------------------------------------------------------------------------
// Mounts

/// One row of the mount table as /proc shows it.
struct MountRow {
    id: u32,
    parent: u32,
    dev: u64,
    path: String,
    fstype: String,
    source: String,
    /// Per-mount options (`rw,nosuid,...,relatime`).
    mnt_opts: String,
    /// Filesystem-specific options (`size=...`, `mode=...`).
    fs_opts: Vec<String>,
    ro: bool,
}

/// Mount ids start here; the root's parent is 1 (the hidden initial root, as on Linux).
const FIRST_MOUNT_ID: u32 = 21;
const MOUNT_FLAGS: &[&str] = &["nosuid", "nodev", "noexec", "sync", "mand", "dirsync", "noatime", "nodiratime", "relatime", "strictatime", "lazytime"];

fn is_under(path: &str, dir: &str) -> bool {
    dir == "/" && path != "/" || path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

fn mount_rows() -> Vec<MountRow> {
    let mounts = crate::fs::path::mounts();
    let mut rows: Vec<MountRow> = Vec::with_capacity(mounts.len());
    for (i, m) in mounts.iter().enumerate() {
        let mut flags: Vec<&str> = Vec::new();
        let mut fs_opts = Vec::new();
        let mut ro = false;
        for o in m.options.split(',').filter(|o| !o.is_empty()) {
            match o {
                "ro" => ro = true,
                "rw" => {}
                o if MOUNT_FLAGS.contains(&o) => flags.push(o),
                o => fs_opts.push(String::from(o)),
            }
        }
        if !flags.iter().any(|f| matches!(*f, "noatime" | "relatime" | "strictatime")) {
            flags.push("relatime");
        }
        let mut mnt_opts = String::from(if ro { "ro" } else { "rw" });
        for f in MOUNT_FLAGS.iter().filter(|f| flags.contains(f)) {
            mnt_opts.push(',');
            mnt_opts.push_str(f);
        }
        let parent = rows.iter().filter(|r| is_under(&m.path, &r.path)).max_by_key(|r| r.path.len()).map_or(1, |r| r.id);
        rows.push(MountRow {
            id: FIRST_MOUNT_ID + i as u32,
            parent,
            dev: m.root.stat().dev,
            path: m.path.clone(),
            fstype: m.fstype.clone(),
            source: m.source.clone(),
            mnt_opts,
            fs_opts,
            ro,
        });
    }
    rows
}

/// Escapes a path like Linux's mount tables: space, tab, newline and backslash in octal.
fn escape(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        match c {
            ' ' | '\t' | '\n' | '\\' => {
                let _ = write!(o, "\\{:03o}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// `/proc/mounts` (and `/proc/<pid>/mounts`).
pub fn mounts_text() -> String {
    let mut s = String::new();
    for r in mount_rows() {
        let mut opts = r.mnt_opts.clone();
        for o in &r.fs_opts {
            opts.push(',');
            opts.push_str(o);
        }
        let _ = writeln!(s, "{} {} {} {} 0 0", escape(&r.source), escape(&r.path), r.fstype, opts);
    }
    s
}

/// `/proc/<pid>/mountinfo`.
pub fn mountinfo_text() -> String {
    let mut s = String::new();
    for r in mount_rows() {
        let (maj, min) = crate::fs::devices::major_minor(r.dev);
        let mut sb = String::from(if r.ro { "ro" } else { "rw" });
        for o in &r.fs_opts {
            sb.push(',');
            sb.push_str(o);
        }
        let _ = writeln!(s, "{} {} {}:{} / {} {} - {} {} {}", r.id, r.parent, maj, min, escape(&r.path), r.mnt_opts, r.fstype, escape(&r.source), sb);
    }
    s
}

/// The mount id of the filesystem with device number `dev` (0 if not mounted).
pub fn mount_id_of_dev(dev: u64) -> u32 {
    mount_rows().iter().find(|r| r.dev == dev).map_or(0, |r| r.id)
}

// ---------------------------------------------------------------------------------------
// Memory

fn meminfo() -> String {
    let total = rtos::mm::frame::total_pages() as u64 * 4;
    let free = rtos::mm::frame::free_pages() as u64 * 4;
    // File data of the in-memory filesystems: all of it counts as page cache, tmpfs also
    // as shared memory; none of it can be reclaimed.
    let (mut cached, mut shmem) = (0u64, 0u64);
    for m in crate::fs::path::mounts() {
        if matches!(m.fstype.as_str(), "rootfs" | "ramfs" | "tmpfs" | "devtmpfs") {
            let st = m.root.statfs();
            let used = st.blocks.saturating_sub(st.blocks_free) * st.block_size / 1024;
            cached += used;
            if m.fstype != "rootfs" && m.fstype != "ramfs" {
                shmem += used;
            }
        }
    }
    let kernel_stack = crate::process::task_count() as u64 * 64;
    let rows: [(&str, u64); 32] = [
        ("MemTotal", total),
        ("MemFree", free),
        ("MemAvailable", free),
        ("Buffers", 0),
        ("Cached", cached),
        ("SwapCached", 0),
        ("Active", 0),
        ("Inactive", 0),
        ("Active(anon)", 0),
        ("Inactive(anon)", 0),
        ("Active(file)", 0),
        ("Inactive(file)", 0),
        ("Unevictable", cached),
        ("Mlocked", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Dirty", 0),
        ("Writeback", 0),
        ("AnonPages", 0),
        ("Mapped", 0),
        ("Shmem", shmem),
        ("KReclaimable", 0),
        ("Slab", 0),
        ("SReclaimable", 0),
        ("SUnreclaim", 0),
        ("KernelStack", kernel_stack),
        ("PageTables", 0),
        ("NFS_Unstable", 0),
        ("Bounce", 0),
        ("WritebackTmp", 0),
        ("CommitLimit", total / 2),
        ("Committed_AS", 0),
    ];
    let mut s = String::new();
    for (name, v) in rows {
        let _ = writeln!(s, "{:<16}{v:>8} kB", format!("{name}:"));
    }
    for name in ["HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp"] {
        let _ = writeln!(s, "{:<16}{:>8}", format!("{name}:"), 0);
    }
    let _ = writeln!(s, "{:<16}{:>8} kB", "Hugepagesize:", 2048);
    let _ = writeln!(s, "{:<16}{:>8} kB", "Hugetlb:", 0);
    s
}

// ---------------------------------------------------------------------------------------
// CPU statistics

fn boot_time_s() -> i64 {
    (rtos::time::realtime_ns() - rtos::time::now_ns() as i64).div_euclid(1_000_000_000)
}

/// `/proc/stat`. Busy time is not split into user and system time: it all shows as user.
fn stat() -> String {
    let times = cpu::cpu_times();
    let line = |name: &str, idle: u64, busy: u64| format!("{name} {} 0 0 {} 0 0 0 0 0 0\n", ticks(busy), ticks(idle));
    let (idle_sum, busy_sum) = times.iter().fold((0, 0), |a, t| (a.0 + t.1, a.1 + t.2));
    let mut s = line("cpu ", idle_sum, busy_sum);
    for (id, idle, busy) in &times {
        s.push_str(&line(&format!("cpu{id}"), *idle, *busy));
    }
    let intr: u64 = rtos::percpu::all().map(|c| c.irq_count.load(Ordering::Relaxed)).sum();
    let ctxt: u64 = rtos::percpu::all().map(rtos::sched::core::switches).sum();
    let _ = writeln!(s, "intr {intr}\nctxt {ctxt}\nbtime {}", boot_time_s());
    let _ = writeln!(s, "processes {}\nprocs_running {}\nprocs_blocked 0", super::pid::max_id(), cpu::runnable_threads());
    s.push_str("softirq 0 0 0 0 0 0 0 0 0 0 0\n");
    s
}

/// `/proc/interrupts` in Linux's layout: one column per online CPU; device interrupts by
/// number (the ISA IRQ for I/O APIC lines, the vector for MSI), then the local APIC's
/// own: `LOC` (timer; Axle has no periodic tick, so a CPU's LOC grows only when one of its
/// one-shot timers fires), `RES` (rescheduling IPIs), `TLB` (shootdown IPIs).
fn interrupts() -> String {
    use rtos::arch::x86_64::apic;
    use rtos::irq::VectorKind;
    let cpus: Vec<&rtos::percpu::PerCpu> = rtos::percpu::all().collect();
    let mut s = String::from("    ");
    for c in &cpus {
        let _ = write!(s, "       CPU{:<4}", c.id);
    }
    s.push('\n');
    let counts = |s: &mut String, v: u8| {
        for c in &cpus {
            let _ = write!(s, " {:>10}", c.vector_count(v));
        }
    };
    for (v, kind, name) in rtos::irq::device_vectors() {
        let (num, chip) = match kind {
            VectorKind::IoApic(irq) => (u32::from(irq), alloc::format!("IO-APIC {irq:>4}-edge")),
            VectorKind::Msi => (u32::from(v), String::from("PCI-MSI      edge")),
        };
        let _ = write!(s, "{num:>3}:");
        counts(&mut s, v);
        let _ = writeln!(s, "   {chip}      {name}");
    }
    for (label, v, what) in [
        ("LOC", apic::TIMER_VECTOR, "Local timer interrupts"),
        ("RES", apic::RESCHED_VECTOR, "Rescheduling interrupts"),
        ("TLB", apic::TLB_VECTOR, "TLB shootdowns"),
    ] {
        let _ = write!(s, "{label}:");
        counts(&mut s, v);
        let _ = writeln!(s, "   {what}");
    }
    s.push_str("ERR:          0\n");
    s
}

fn centi(ns: u64) -> String {
    let cs = ns / 10_000_000;
    format!("{}.{:02}", cs / 100, cs % 100)
}

fn uptime() -> String {
    let idle: u64 = cpu::cpu_times().iter().map(|t| t.1).sum();
    format!("{} {}\n", centi(rtos::time::now_ns()), centi(idle))
}

fn loadavg() -> String {
    format!("{} {}/{} {}\n", cpu::loadavg_text(), cpu::runnable_threads(), crate::process::task_count(), super::pid::max_id())
}

// ---------------------------------------------------------------------------------------
// Static files

const FILESYSTEMS: &str = "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\nnodev\tramfs\nnodev\tpipefs\nnodev\tdevpts\n";

fn version() -> String {
    format!("Linux version {RELEASE} (axle@axle) (rustc) {VERSION}\n")
}

fn boot_id() -> String {
    static ID: spin::Once<String> = spin::Once::new();
    ID.call_once(random_uuid).clone()
}

fn random_uuid() -> String {
    let mut b = [0u8; 16];
    crate::random::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}\n", h[0..4].concat(), h[4..6].concat(), h[6..8].concat(), h[8..10].concat(), h[10..16].concat())
}

/// The top-level files (each entry: name, inode).
pub fn top_level() -> Vec<(&'static str, Arc<dyn Inode>)> {
    let f = |n: u64, g: fn() -> String| node::file(FS, n, Errno::EIO, move || Ok(g()));
    let mut v: Vec<(&'static str, Arc<dyn Inode>)> = alloc::vec![
        ("cpuinfo", f(2, cpu::cpuinfo)),
        ("meminfo", f(3, meminfo)),
        ("stat", f(4, stat)),
        ("uptime", f(5, uptime)),
        ("loadavg", f(6, loadavg)),
        ("interrupts", f(11, interrupts)),
        ("filesystems", node::text(FS, 7, Errno::EIO, FILESYSTEMS)),
        ("version", f(8, version)),
        ("swaps", node::text(FS, 9, Errno::EIO, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")),
        ("mounts", node::GenLink::make(FS, 10, 0o777, alloc::boxed::Box::new(|| Ok(String::from("self/mounts"))))),
        ("sys", sys_dir()),
        (
            "net",
            GenDir::table(
                FS,
                ino(KIND_SYS, 0, 95),
                0o555,
                alloc::vec![("dev", f(96, crate::net::ifaces::proc_net_dev)), ("route", f(97, crate::net::ifaces::proc_net_route))],
            ),
        ),
        // Axle's own: the active dataflow profile and how many threads each rule placed.
        (
            "axle",
            GenDir::table(FS, ino(KIND_SYS, 0, 90), 0o555, alloc::vec![
                    ("irqsoff", irqsoff_file(92)),
                    ("profile", f(91, crate::profile::summary)),
                    ("wakelat", wakelat_file(93)),
                    ("timer", f(94, timer_summary)),
                ],
            ),
        ),
    ];
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

/// `/proc/axle/irqsoff`: the interrupts-off tracer (`rtos::sync::irqsoff`): per CPU the
/// longest spinlock section with interrupts off, and where the lock was taken. Writing `1`
/// turns the tracer on (or boot with `irqsoff`), `0` clears the maxima.
fn irqsoff_file(ino: u64) -> Arc<dyn Inode> {
    let gen: node::GenFn = alloc::boxed::Box::new(|| {
        let mut s = String::new();
        if !rtos::sync::irqsoff::enabled() {
            s.push_str("# off: boot with `irqsoff` or write 1 here\n");
        }
        for (cpu, (ns, place)) in rtos::sync::irqsoff::report(rtos::percpu::online()).into_iter().enumerate() {
            s.push_str(&format!("cpu{cpu} {}.{:03} us {place}\n", ns / 1000, ns % 1000));
        }
        Ok(s.into_bytes())
    });
    let write: node::WriteFn = alloc::boxed::Box::new(|data: &[u8]| {
        match core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim() {
            "1" => rtos::sync::irqsoff::enable(),
            "0" => rtos::sync::irqsoff::reset(),
            _ => return Err(Errno::EINVAL),
        }
        Ok(data.len())
    });
    node::GenFile::writable(FS, ino, 0o644, gen, write)
}

/// `/proc/axle/timer`: per CPU, how often the local APIC timer was written (armed or
/// disarmed) and how many context switches there were. A deadline already armed at or
/// before the next event is kept, so the writes stay far below the switches.
fn timer_summary() -> String {
    let mut s = String::from("# cpu timer_writes context_switches\n");
    for c in rtos::percpu::all() {
        s.push_str(&format!(
            "cpu{} {} {}\n",
            c.id,
            c.timer_writes.load(core::sync::atomic::Ordering::Relaxed),
            rtos::sched::core::switches(c)
        ));
    }
    s
}

/// `/proc/axle/wakelat`: the real-time wake-up tracer (`rtos::sched::wakelat`): per CPU,
/// how late timer interrupts that woke real-time threads came (`timer`) and how long woken
/// real-time threads waited to run (`switch`): samples, upper bounds of p50/p99/p99.9 (the
/// top of their power-of-two bucket), the maximum with its thread (Linux tid; 0 for a
/// kernel thread or one that has exited), then the histogram.
/// Writing `1` turns the tracer on (or boot with `wakelat`), `0` clears it.
fn wakelat_file(ino: u64) -> Arc<dyn Inode> {
    use rtos::sched::wakelat;
    let gen: node::GenFn = alloc::boxed::Box::new(|| {
        let mut s = String::new();
        if !wakelat::enabled() {
            s.push_str("# off: boot with `wakelat` or write 1 here\n");
        }
        s.push_str("# cpu kind samples p50<=us p99<=us p99.9<=us max_us max_tid(0: gone) | per bucket: <1us <2 <4 ... <65536 rest\n");
        let us = |ns: Option<u64>| ns.map_or(String::from("-"), |v| format!("{}.{:03}", v / 1000, v % 1000));
        let slow = wakelat::slow_after(rtos::percpu::online());
        let late = wakelat::late_irq(rtos::percpu::online());
        for (cpu, (timer, switch)) in wakelat::report(rtos::percpu::online()).into_iter().enumerate() {
            for (kind, h) in [("timer", timer), ("switch", switch)] {
                let counts: alloc::vec::Vec<String> = h.counts.iter().map(|c| format!("{c}")).collect();
                s.push_str(&format!(
                    "cpu{cpu} {kind} {} {} {} {} {} {} | {}\n",
                    h.samples(),
                    us(h.percentile_bound_ns(500)),
                    us(h.percentile_bound_ns(990)),
                    us(h.percentile_bound_ns(999)),
                    us(Some(h.max_ns)),
                    crate::process::tid_of_thread(h.max_tid).unwrap_or(0),
                    counts.join(" ")
                ));
                if h.max_ns > 0 {
                    let who = |id: u64, name: &str| match crate::process::tid_of_thread(id) {
                        Some(tid) => format!("{name} (tid {tid})"),
                        None => format!("{name} (kernel thread or exited)"),
                    };
                    s.push_str(&format!("#   cpu{cpu} {kind} max: {}", who(h.max_tid, &h.max_name)));
                    if h.max_prev_tid != 0 {
                        s.push_str(&format!(", after {}", who(h.max_prev_tid, &h.max_prev_name)));
                        if let Some((policy, prio)) = h.max_prev_class {
                            let class = match policy {
                                0 => String::from("SCHED_OTHER"),
                                1 => format!("SCHED_FIFO/{prio}"),
                                2 => format!("SCHED_RR/{prio}"),
                                3 => String::from("SCHED_BATCH"),
                                5 => String::from("SCHED_IDLE"),
                                6 => String::from("SCHED_DEADLINE"),
                                p => format!("policy {p}"),
                            };
                            s.push_str(&format!(" in {class}"));
                        }
                    }
                    s.push('\n');
                }
                if kind == "timer" {
                    if let Some(&(ns, rip, user)) = late.get(cpu).filter(|l| l.0 > 0) {
                        let place = if user { "user mode" } else { "the kernel" };
                        s.push_str(&format!(
                            "#   cpu{cpu} latest timer interrupt (any thread): {}.{:03} us late, found the CPU in {place} at {rip:#x}\n",
                            ns / 1000,
                            ns % 1000
                        ));
                    }
                }
                if kind == "switch" {
                    let [idle, fair, rt] = slow.get(cpu).copied().unwrap_or_default();
                    s.push_str(&format!(
                        "#   cpu{cpu} switch >= {} ms after: idle {idle}, fair {fair}, real-time {rt}\n",
                        wakelat::SLOW_NS / 1_000_000
                    ));
                }
            }
        }
        Ok(s.into_bytes())
    });
    let write: node::WriteFn = alloc::boxed::Box::new(|data: &[u8]| {
        match core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim() {
            "1" => wakelat::enable(),
            "0" => wakelat::reset(),
            _ => return Err(Errno::EINVAL),
        }
        Ok(data.len())
    });
    node::GenFile::writable(FS, ino, 0o644, gen, write)
}

/// `/proc/sys/kernel/sched_rt_runtime_us` and `sched_rt_period_us`: real-time throttling
/// (runtime -1: none). As Linux: the period must be at least 1, the runtime at most the
/// period, and a runtime below the deadline bandwidth already admitted is EBUSY.
fn rt_bandwidth_file(ino: u64, period: bool) -> Arc<dyn Inode> {
    let gen: node::GenFn = alloc::boxed::Box::new(move || {
        let (rt, per) = rtos::sched::core::rt_bandwidth();
        let v = if period { per as i64 / 1000 } else if rt < 0 { -1 } else { rt / 1000 };
        Ok(format!("{v}\n").into_bytes())
    });
    let write: node::WriteFn = alloc::boxed::Box::new(move |data: &[u8]| {
        let text = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
        let v: i64 = text.parse().map_err(|_| Errno::EINVAL)?;
        let (rt_ns, per_ns) = rtos::sched::core::rt_bandwidth();
        let (rt_us, per_us) = if period { (if rt_ns < 0 { -1 } else { rt_ns / 1000 }, v) } else { (v, per_ns as i64 / 1000) };
        if per_us <= 0 || per_us > i64::from(i32::MAX) || rt_us < -1 || (rt_us > per_us) {
            return Err(Errno::EINVAL);
        }
        let rt = if rt_us < 0 { -1 } else { rt_us * 1000 };
        rtos::sched::core::set_rt_bandwidth(rt, per_us as u64 * 1000).map_err(|_| Errno::EBUSY)?;
        Ok(data.len())
    });
    node::GenFile::writable(FS, ino, 0o644, gen, write)
}

fn sys_dir() -> Arc<dyn Inode> {
    let n = |i: u64| ino(KIND_SYS, 0, i);
    let ro = |i: u64, s: &str| node::text(FS, n(i), Errno::EACCES, format!("{s}\n"));
    let kernel = GenDir::table(
        FS,
        n(2),
        0o555,
        alloc::vec![
            ("hostname", node::file(FS, n(10), Errno::EACCES, || Ok(format!("{}\n", crate::hostname())))),
            ("ostype", ro(11, "Linux")),
            ("osrelease", ro(12, RELEASE)),
            ("version", ro(13, VERSION)),
            ("pid_max", ro(14, &format!("{}", crate::process::ids::PID_MAX))),
            ("sched_rt_runtime_us", rt_bandwidth_file(n(15), false)),
            ("sched_rt_period_us", rt_bandwidth_file(n(16), true)),
            ("sched_rr_timeslice_ms", ro(17, &format!("{}", rtos::sched::policy::RR_QUANTUM_NS / 1_000_000))),
            (
                "random",
                GenDir::table(
                    FS,
                    n(3),
                    0o555,
                    alloc::vec![
                        ("boot_id", node::file(FS, n(20), Errno::EACCES, || Ok(boot_id()))),
                        ("uuid", node::file(FS, n(21), Errno::EACCES, || Ok(random_uuid()))),
                    ],
                ),
            ),
        ],
    );
    let vm = GenDir::table(FS, n(4), 0o555, alloc::vec![("overcommit_memory", ro(30, "0"))]);
    let fs = GenDir::table(FS, n(5), 0o555, alloc::vec![("nr_open", ro(40, &format!("{}", crate::process::limits::NR_OPEN)))]);
    GenDir::table(FS, n(1), 0o555, alloc::vec![("fs", fs), ("kernel", kernel), ("vm", vm)])
}
