//! The real-time wake-up latency tracer (like Linux's `timerlat` and `wakeup_rt` tracers):
//! when on (kernel command-line word `wakelat`, or [`enable`]), every wake-up of a
//! SCHED_FIFO, SCHED_RR or SCHED_DEADLINE thread is split in two and both parts go into
//! per-CPU histograms:
//!
//! - `timer`: for wake-ups by a timer, how late the timer interrupt came after the
//!   deadline it was armed for. The kernel arms the deadline exactly, so this is the
//!   share of the hardware, the hypervisor (a vCPU thread the host did not run), and
//!   interrupts-off sections;
//! - `switch`: from the wake-up to the thread running on its CPU: the scheduler's share
//!   (queueing behind threads of higher or equal priority, the IPI to another CPU, the
//!   context switch). The largest sample keeps the thread that ran just before it.
//!
//! A user-measured latency much larger than both says the time went elsewhere (the
//! return to user mode, or the vCPU stopped while the thread ran). Off, it costs one
//! relaxed load per real-time wake-up. Histogram buckets are powers of two microseconds.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const MAX_CPUS: usize = 64;
/// Buckets: `< 1 us`, `< 2 us`, `< 4 us`, ... `< 2^(BUCKETS-2) us`, and the rest.
pub const BUCKETS: usize = 18;

static ON: AtomicBool = AtomicBool::new(false);

/// One latency histogram, with who had the largest sample: the thread and (for switch
/// samples) the thread that ran on the CPU just before it, by id and name.
pub struct Hist {
    counts: [AtomicU64; BUCKETS],
    max_ns: AtomicU64,
    max_tid: AtomicU64,
    max_name: [AtomicU64; 2],
    max_prev_tid: AtomicU64,
    max_prev_name: [AtomicU64; 2],
    max_prev_class: AtomicU64,
}

/// A thread name (up to 16 bytes) packed into two words.
fn pack(name: &[u8]) -> [u64; 2] {
    let mut b = [0u8; 16];
    let n = name.len().min(16);
    b[..n].copy_from_slice(&name[..n]);
    let mut lo = [0u8; 8];
    let mut hi = [0u8; 8];
    lo.copy_from_slice(&b[..8]);
    hi.copy_from_slice(&b[8..]);
    [u64::from_le_bytes(lo), u64::from_le_bytes(hi)]
}

/// The name packed by [`pack`] (bytes other than printable ASCII shown as `?`).
fn unpack(w: [u64; 2]) -> heapless::String<16> {
    let mut s = heapless::String::new();
    for b in w[0].to_le_bytes().into_iter().chain(w[1].to_le_bytes()) {
        if b == 0 {
            break;
        }
        let _ = s.push(if b.is_ascii_graphic() || b == b' ' { b as char } else { '?' });
    }
    s
}

impl Hist {
    const fn new() -> Self {
        Self {
            counts: [const { AtomicU64::new(0) }; BUCKETS],
            max_ns: AtomicU64::new(0),
            max_tid: AtomicU64::new(0),
            max_name: [const { AtomicU64::new(0) }; 2],
            max_prev_tid: AtomicU64::new(0),
            max_prev_name: [const { AtomicU64::new(0) }; 2],
            max_prev_class: AtomicU64::new(0),
        }
    }

    /// Adds one sample of `ns` for thread `tid` called `name`; `prev` is the thread that
    /// ran before it, if known.
    pub fn add(&self, ns: u64, tid: u64, name: &[u8], prev: Option<Prev<'_>>) {
        self.counts[bucket(ns)].fetch_add(1, Ordering::Relaxed);
        if ns > self.max_ns.load(Ordering::Relaxed) {
            self.max_ns.store(ns, Ordering::Relaxed);
            self.max_tid.store(tid, Ordering::Relaxed);
            for (d, w) in self.max_name.iter().zip(pack(name)) {
                d.store(w, Ordering::Relaxed);
            }
            let p = prev.unwrap_or(Prev { id: 0, name: b"", policy: 0, priority: 0 });
            self.max_prev_tid.store(p.id, Ordering::Relaxed);
            for (d, w) in self.max_prev_name.iter().zip(pack(p.name)) {
                d.store(w, Ordering::Relaxed);
            }
            let class = if prev.is_some() { ((p.policy as u64 + 1) << 8) | u64::from(p.priority) } else { 0 };
            self.max_prev_class.store(class, Ordering::Relaxed);
        }
    }

    fn clear(&self) {
        for c in &self.counts {
            c.store(0, Ordering::Relaxed);
        }
        for w in [&self.max_ns, &self.max_tid, &self.max_prev_tid, &self.max_prev_class].into_iter().chain(&self.max_name).chain(&self.max_prev_name) {
            w.store(0, Ordering::Relaxed);
        }
    }

    /// A copy of the counts and of the largest sample's record.
    pub fn snapshot(&self) -> Snapshot {
        let mut counts = [0u64; BUCKETS];
        for (d, c) in counts.iter_mut().zip(&self.counts) {
            *d = c.load(Ordering::Relaxed);
        }
        let name = |w: &[AtomicU64; 2]| unpack([w[0].load(Ordering::Relaxed), w[1].load(Ordering::Relaxed)]);
        Snapshot {
            counts,
            max_ns: self.max_ns.load(Ordering::Relaxed),
            max_tid: self.max_tid.load(Ordering::Relaxed),
            max_name: name(&self.max_name),
            max_prev_tid: self.max_prev_tid.load(Ordering::Relaxed),
            max_prev_name: name(&self.max_prev_name),
            max_prev_class: match self.max_prev_class.load(Ordering::Relaxed) {
                0 => None,
                c => Some((((c >> 8) as i32) - 1, (c & 0xff) as u8)),
            },
        }
    }
}

/// The thread that ran on a CPU before a woken thread: its id, name, Linux policy number
/// and real-time priority (0 for the other classes).
#[derive(Clone, Copy, Debug)]
pub struct Prev<'a> {
    pub id: u64,
    pub name: &'a [u8],
    pub policy: i32,
    pub priority: u8,
}

/// A histogram read at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub counts: [u64; BUCKETS],
    pub max_ns: u64,
    pub max_tid: u64,
    pub max_name: heapless::String<16>,
    /// The thread that ran just before the largest switch sample (0: none recorded).
    pub max_prev_tid: u64,
    pub max_prev_name: heapless::String<16>,
    /// Its Linux policy number and real-time priority.
    pub max_prev_class: Option<(i32, u8)>,
}

impl Snapshot {
    /// Samples in all.
    pub fn samples(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// An upper bound of percentile `per_mille`/1000 in ns (nearest rank): the top of the
    /// bucket holding that rank, or the maximum when that is lower. None with no samples.
    pub fn percentile_bound_ns(&self, per_mille: u64) -> Option<u64> {
        let n = self.samples();
        if n == 0 {
            return None;
        }
        let rank = (n * per_mille).div_ceil(1000).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(bucket_top_ns(i).min(self.max_ns));
            }
        }
        Some(self.max_ns)
    }
}

/// The bucket of a latency: 0 for `< 1 us`, i for `< 2^i us`, the last for the rest.
pub fn bucket(ns: u64) -> usize {
    let us = ns / 1000;
    if us == 0 {
        return 0;
    }
    ((64 - us.leading_zeros()) as usize).min(BUCKETS - 1)
}

/// The exclusive top of bucket `i` in ns (u64::MAX for the last).
pub fn bucket_top_ns(i: usize) -> u64 {
    if i + 1 >= BUCKETS { u64::MAX } else { (1u64 << i) * 1000 }
}

static TIMER: [Hist; MAX_CPUS] = [const { Hist::new() }; MAX_CPUS];
static SWITCH: [Hist; MAX_CPUS] = [const { Hist::new() }; MAX_CPUS];

/// Switch samples of at least this long are counted by what ran before them.
pub const SLOW_NS: u64 = 1_000_000;
/// Per CPU, slow switch samples by the class of the thread that ran before: the idle
/// thread (the CPU was idle: the wake-up's IPI or the vCPU was late), a fair thread (it
/// kept the CPU although a real-time thread was ready), a real-time or deadline thread
/// (priority order, or equal priority: FIFO does not preempt its equals).
static SLOW_AFTER: [[AtomicU64; 3]; MAX_CPUS] = [const { [const { AtomicU64::new(0) }; 3] }; MAX_CPUS];

/// Per CPU, the latest timer interrupt that woke a thread (any class): how late it came,
/// and where it found the CPU (the interrupted instruction, and whether in user mode).
/// Found in user mode, interrupts were on: the delay was outside the kernel (the
/// hardware or hypervisor); found in the kernel, look that address up (addr2line).
static LATE_IRQ: [[AtomicU64; 3]; MAX_CPUS] = [const { [const { AtomicU64::new(0) }; 3] }; MAX_CPUS];

/// A timer interrupt on `cpu` woke a thread `late_ns` after its deadline, arriving at
/// `rip` (`user`: in user mode).
pub fn timer_irq_at(cpu: u32, late_ns: u64, rip: u64, user: bool) {
    let slot = &LATE_IRQ[(cpu as usize).min(MAX_CPUS - 1)];
    if late_ns > slot[0].load(Ordering::Relaxed) {
        slot[0].store(late_ns, Ordering::Relaxed);
        slot[1].store(rip, Ordering::Relaxed);
        slot[2].store(u64::from(user), Ordering::Relaxed);
    }
}

/// Per CPU: the latest timer interrupt's (lateness in ns, interrupted address, user mode).
pub fn late_irq(ncpus: usize) -> alloc::vec::Vec<(u64, u64, bool)> {
    (0..ncpus.min(MAX_CPUS))
        .map(|c| {
            let s = &LATE_IRQ[c];
            (s[0].load(Ordering::Relaxed), s[1].load(Ordering::Relaxed), s[2].load(Ordering::Relaxed) != 0)
        })
        .collect()
}

/// What ran before a slow switch sample (index into the per-CPU counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Before {
    Idle = 0,
    Fair = 1,
    RealTime = 2,
}

/// Starts tracing.
pub fn enable() {
    ON.store(true, Ordering::Relaxed);
}

/// Whether wake-ups are traced.
#[inline]
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Forgets every sample.
pub fn reset() {
    for h in TIMER.iter().chain(SWITCH.iter()) {
        h.clear();
    }
    for c in SLOW_AFTER.iter().flatten().chain(LATE_IRQ.iter().flatten()) {
        c.store(0, Ordering::Relaxed);
    }
}

/// A timer interrupt on `cpu` woke real-time thread `tid` (`name`) `late_ns` after its
/// deadline.
pub fn timer_late(cpu: u32, tid: u64, name: &[u8], late_ns: u64) {
    TIMER[(cpu as usize).min(MAX_CPUS - 1)].add(late_ns, tid, name, None);
}

/// Real-time thread `tid` (`name`) runs on `cpu` `ns` after its wake-up, after `prev`
/// (which was `before`).
pub fn switched_in(cpu: u32, tid: u64, name: &[u8], ns: u64, prev: Prev<'_>, before: Before) {
    let c = (cpu as usize).min(MAX_CPUS - 1);
    SWITCH[c].add(ns, tid, name, Some(prev));
    if ns >= SLOW_NS {
        SLOW_AFTER[c][before as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// Per CPU: slow switch samples (>= [`SLOW_NS`]) after [idle, fair, real-time] threads.
pub fn slow_after(ncpus: usize) -> alloc::vec::Vec<[u64; 3]> {
    (0..ncpus.min(MAX_CPUS)).map(|c| core::array::from_fn(|i| SLOW_AFTER[c][i].load(Ordering::Relaxed))).collect()
}

/// Per CPU: (timer lateness, wake-up to running).
pub fn report(ncpus: usize) -> alloc::vec::Vec<(Snapshot, Snapshot)> {
    (0..ncpus.min(MAX_CPUS)).map(|c| (TIMER[c].snapshot(), SWITCH[c].snapshot())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two_microseconds() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(999), 0);
        assert_eq!(bucket(1_000), 1);
        assert_eq!(bucket(1_999), 1);
        assert_eq!(bucket(2_000), 2);
        assert_eq!(bucket(3_999), 2);
        assert_eq!(bucket(4_000), 3);
        assert_eq!(bucket(65_535_000), 16);
        assert_eq!(bucket(65_536_000), 17);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_top_ns(0), 1_000);
        assert_eq!(bucket_top_ns(3), 8_000);
        assert_eq!(bucket_top_ns(BUCKETS - 1), u64::MAX);
        for ns in [0, 500, 1_000, 7_999, 8_000, 123_456_789] {
            let b = bucket(ns);
            assert!(ns < bucket_top_ns(b));
            assert!(b == 0 || ns >= bucket_top_ns(b - 1));
        }
    }

    #[test]
    fn percentiles_are_bounded_by_bucket_tops_and_the_maximum() {
        let h = Hist::new();
        assert_eq!(h.snapshot().percentile_bound_ns(990), None);
        // 990 samples of 3 us, 9 of 100 us, 1 of 5 ms.
        for _ in 0..990 {
            h.add(3_000, 1, b"a", None);
        }
        for _ in 0..9 {
            h.add(100_000, 2, b"b", None);
        }
        h.add(5_000_000, 7, b"dora-daemon", Some(Prev { id: 3, name: b"tokio-runtime-worker", policy: 1, priority: 40 }));
        let s = h.snapshot();
        assert_eq!(s.samples(), 1000);
        assert_eq!((s.max_ns, s.max_tid, s.max_name.as_str()), (5_000_000, 7, "dora-daemon"));
        // Names keep 16 bytes, as thread names do.
        assert_eq!((s.max_prev_tid, s.max_prev_name.as_str()), (3, "tokio-runtime-wo"));
        assert_eq!(s.max_prev_class, Some((1, 40)));
        assert_eq!(s.percentile_bound_ns(500), Some(4_000));
        assert_eq!(s.percentile_bound_ns(990), Some(4_000));
        assert_eq!(s.percentile_bound_ns(999), Some(128_000));
        assert_eq!(s.percentile_bound_ns(1000), Some(5_000_000)); // the maximum, not the bucket top
        h.clear();
        assert_eq!(h.snapshot(), Snapshot::default());
    }

    #[test]
    fn a_larger_maximum_replaces_the_record() {
        let h = Hist::new();
        h.add(10, 1, b"one", None);
        h.add(5, 2, b"two", None);
        assert_eq!(h.snapshot().max_tid, 1);
        h.add(11, 3, b"three\x01", Some(Prev { id: 1, name: b"one", policy: 0, priority: 0 }));
        let s = h.snapshot();
        assert_eq!((s.max_tid, s.max_name.as_str(), s.max_prev_tid, s.max_prev_name.as_str()), (3, "three?", 1, "one"));
        assert_eq!(s.max_prev_class, Some((0, 0)));
        h.add(12, 4, b"timer", None);
        assert_eq!(h.snapshot().max_prev_class, None);
    }
}
