//! `SCHED_DEADLINE` as Linux defines it: a thread reserves `runtime` ns of CPU every
//! `period` ns, to be used before a relative `deadline`; the scheduler runs the ready
//! thread with the earliest absolute deadline (EDF), and a constant-bandwidth server (CBS)
//! keeps each thread within its reservation: a thread that uses up its runtime is
//! throttled until its next period, and one that wakes up late gets a fresh deadline
//! instead of one it can no longer meet. Pure bookkeeping (no locks, no clock), tested on
//! the host; `core.rs` applies it.

/// Bandwidths are fixed-point fractions with this many fraction bits (Linux `BW_SHIFT`).
pub const BW_SHIFT: u32 = 20;
/// 1.0 as a bandwidth.
pub const BW_UNIT: u64 = 1 << BW_SHIFT;
/// Shortest runtime Linux accepts (`1 << DL_SCALE` ns).
pub const MIN_RUNTIME_NS: u64 = 1 << 10;
/// Period bounds (Linux `sched_deadline_period_min_us` / `_max_us` defaults: 100 us, ~4.2 s).
pub const MIN_PERIOD_NS: u64 = 100_000;
pub const MAX_PERIOD_NS: u64 = (1 << 22) * 1000;

/// `SCHED_FLAG_*` bits of `sched_attr.sched_flags` (include/uapi/linux/sched.h).
pub const FLAG_RESET_ON_FORK: u64 = 0x01;
pub const FLAG_RECLAIM: u64 = 0x02;
pub const FLAG_DL_OVERRUN: u64 = 0x04;
pub const FLAG_KEEP_POLICY: u64 = 0x08;
pub const FLAG_KEEP_PARAMS: u64 = 0x10;
pub const FLAG_UTIL_CLAMP_MIN: u64 = 0x20;
pub const FLAG_UTIL_CLAMP_MAX: u64 = 0x40;
pub const FLAGS_ALL: u64 = 0x7f;

/// A deadline reservation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DlParams {
    pub runtime_ns: u64,
    pub deadline_ns: u64,
    pub period_ns: u64,
    /// Only `FLAG_DL_OVERRUN` matters once admitted.
    pub flags: u64,
}

impl DlParams {
    /// The reservation with Linux's defaulting: a zero period means "equal to the deadline".
    pub fn new(runtime_ns: u64, deadline_ns: u64, period_ns: u64, flags: u64) -> Self {
        Self { runtime_ns, deadline_ns, period_ns: if period_ns == 0 { deadline_ns } else { period_ns }, flags }
    }

    /// Linux's `__checkparam_dl`: 0 < runtime <= deadline <= period, runtime at least
    /// 1024 ns, the period within bounds, no value with the top bit set.
    pub fn valid(&self) -> bool {
        let top = 1u64 << 63;
        self.deadline_ns != 0
            && self.runtime_ns >= MIN_RUNTIME_NS
            && self.runtime_ns <= self.deadline_ns
            && self.deadline_ns <= self.period_ns
            && self.deadline_ns & top == 0
            && self.period_ns & top == 0
            && (MIN_PERIOD_NS..=MAX_PERIOD_NS).contains(&self.period_ns)
    }

    /// runtime / period as a fixed-point fraction.
    pub fn bandwidth(&self) -> u64 {
        to_bw(self.runtime_ns, self.period_ns)
    }
}

/// `runtime / period` in `BW_SHIFT` fixed point (0 for a zero period).
pub fn to_bw(runtime_ns: u64, period_ns: u64) -> u64 {
    if period_ns == 0 {
        return 0;
    }
    ((u128::from(runtime_ns) << BW_SHIFT) / u128::from(period_ns)) as u64
}

/// The CBS state of one deadline thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DlEntity {
    /// Runtime left in the current period (negative after an overrun).
    pub runtime_left_ns: i64,
    /// Absolute deadline of the current period.
    pub deadline_abs_ns: u64,
    /// Out of runtime: off the run queue until `deadline_abs_ns - deadline + ...` (see
    /// [`DlEntity::exhausted`]).
    pub throttled: bool,
    /// The deadline passed while the thread still had work (reported once with
    /// `SCHED_FLAG_DL_OVERRUN` as SIGXCPU).
    pub overrun: bool,
}

impl DlEntity {
    /// A fresh period starting `now`.
    pub fn start(&mut self, p: &DlParams, now_ns: u64) {
        self.deadline_abs_ns = now_ns.saturating_add(p.deadline_ns);
        self.runtime_left_ns = p.runtime_ns as i64;
        self.throttled = false;
    }

    /// CBS wake-up rule (Linux `update_dl_entity`): keep the current deadline only if it is
    /// in the future and the remaining runtime fits the reserved bandwidth until then;
    /// otherwise start a new period now.
    pub fn wake_up(&mut self, p: &DlParams, now_ns: u64) {
        if self.deadline_abs_ns <= now_ns || self.overflows(p, now_ns) {
            self.start(p, now_ns);
        }
    }

    /// remaining / (deadline - now) > runtime / period, compared without division.
    fn overflows(&self, p: &DlParams, now_ns: u64) -> bool {
        if self.runtime_left_ns <= 0 {
            return false;
        }
        let laxity = u128::from(self.deadline_abs_ns - now_ns);
        u128::from(self.runtime_left_ns as u64) * u128::from(p.period_ns) > laxity * u128::from(p.runtime_ns)
    }

    /// Charges `delta` ns of execution; true when the runtime is used up.
    pub fn charge(&mut self, delta_ns: u64) -> bool {
        self.runtime_left_ns = self.runtime_left_ns.saturating_sub(delta_ns.min(i64::MAX as u64) as i64);
        self.runtime_left_ns <= 0
    }

    /// The runtime ran out at `now`: moves to the next period(s), paying back any overrun
    /// (Linux `replenish_dl_entity`). Returns the time the thread may run again: `None`
    /// if at once (the new period already started), else the start of the new period,
    /// until which it is throttled.
    pub fn exhausted(&mut self, p: &DlParams, now_ns: u64) -> Option<u64> {
        if self.deadline_abs_ns < now_ns && self.runtime_left_ns > 0 {
            self.overrun = true;
        }
        while self.runtime_left_ns <= 0 {
            self.deadline_abs_ns = self.deadline_abs_ns.saturating_add(p.period_ns);
            self.runtime_left_ns = self.runtime_left_ns.saturating_add(p.runtime_ns as i64);
        }
        // Far behind (e.g. after a long preemption by a higher class): restart.
        if self.deadline_abs_ns < now_ns {
            self.start(p, now_ns);
            return None;
        }
        let period_start = self.deadline_abs_ns - p.deadline_ns;
        if period_start > now_ns {
            self.throttled = true;
            Some(period_start)
        } else {
            None
        }
    }

    /// The throttle timer fired: the thread may run again.
    pub fn unthrottle(&mut self) {
        self.throttled = false;
    }

    /// Whether the current deadline passed (checked when the thread runs).
    pub fn missed(&mut self, now_ns: u64) -> bool {
        if now_ns > self.deadline_abs_ns && !self.overrun {
            self.overrun = true;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn p(r: u64, d: u64, per: u64) -> DlParams {
        DlParams::new(r * MS, d * MS, per * MS, 0)
    }

    #[test]
    fn parameter_rules() {
        assert!(p(10, 30, 100).valid());
        assert!(p(10, 100, 0).valid(), "period defaults to the deadline");
        assert_eq!(p(10, 100, 0).period_ns, 100 * MS);
        assert!(!p(30, 10, 100).valid(), "runtime > deadline");
        assert!(!p(10, 100, 50).valid(), "deadline > period");
        assert!(!DlParams::new(0, MS, MS, 0).valid(), "zero runtime");
        assert!(!DlParams::new(512, MS, MS, 0).valid(), "runtime under 1024 ns");
        assert!(!DlParams::new(1024, 50_000, 50_000, 0).valid(), "period under 100 us");
        assert!(!DlParams::new(MS, 5_000 * MS, 5_000 * MS, 0).valid(), "period over ~4.2 s");
        assert!(!DlParams::new(MS, 1 << 63, 1 << 63, 0).valid());
        assert_eq!(p(25, 100, 100).bandwidth(), BW_UNIT / 4);
    }

    #[test]
    fn cbs_wakeup_keeps_or_renews_the_deadline() {
        let par = p(10, 100, 100);
        let mut e = DlEntity::default();
        e.start(&par, 0);
        assert_eq!(e.deadline_abs_ns, 100 * MS);
        // Used 5 ms, slept; wakes at 50 ms: 5 ms left over 50 ms = 10% == bandwidth: keep.
        e.charge(5 * MS);
        e.wake_up(&par, 50 * MS);
        assert_eq!(e.deadline_abs_ns, 100 * MS);
        assert_eq!(e.runtime_left_ns, 5 * MS as i64);
        // Wakes at 80 ms with 5 ms left over 20 ms = 25% > 10%: would overload, so renew.
        e.wake_up(&par, 80 * MS);
        assert_eq!(e.deadline_abs_ns, 180 * MS);
        assert_eq!(e.runtime_left_ns, 10 * MS as i64);
        // Wakes after its deadline: renew.
        e.wake_up(&par, 200 * MS);
        assert_eq!(e.deadline_abs_ns, 300 * MS);
    }

    #[test]
    fn exhaustion_throttles_until_the_next_period() {
        let par = p(10, 100, 100);
        let mut e = DlEntity::default();
        e.start(&par, 0);
        assert!(!e.charge(9 * MS));
        assert!(e.charge(2 * MS), "1 ms overrun");
        let until = e.exhausted(&par, 11 * MS);
        assert_eq!(until, Some(100 * MS), "next period starts at the old deadline");
        assert!(e.throttled);
        assert_eq!(e.deadline_abs_ns, 200 * MS);
        assert_eq!(e.runtime_left_ns, 9 * MS as i64, "the overrun is paid back");
        e.unthrottle();
        assert!(!e.throttled);
    }

    #[test]
    fn constrained_deadline_throttles_to_period_start() {
        // runtime 2, deadline 5, period 20: after exhaustion the next window opens at 20.
        let par = p(2, 5, 20);
        let mut e = DlEntity::default();
        e.start(&par, 0);
        e.charge(2 * MS);
        assert_eq!(e.exhausted(&par, 2 * MS), Some(20 * MS));
        assert_eq!(e.deadline_abs_ns, 25 * MS);
    }

    #[test]
    fn far_behind_restarts_now() {
        let par = p(10, 100, 100);
        let mut e = DlEntity::default();
        e.start(&par, 0);
        e.charge(10 * MS);
        assert_eq!(e.exhausted(&par, 500 * MS), None);
        assert_eq!(e.deadline_abs_ns, 600 * MS);
        assert!(!e.throttled);
    }

    #[test]
    fn missed_deadline_reported_once() {
        let par = p(10, 100, 100);
        let mut e = DlEntity::default();
        e.start(&par, 0);
        assert!(!e.missed(50 * MS));
        assert!(e.missed(101 * MS));
        assert!(!e.missed(102 * MS));
    }
}
