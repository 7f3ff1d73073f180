//! Resource limits (`getrlimit`/`setrlimit`/`prlimit64`), with Linux's defaults.

/// Resource numbers.
pub const RLIMIT_CPU: usize = 0;
pub const RLIMIT_FSIZE: usize = 1;
pub const RLIMIT_DATA: usize = 2;
pub const RLIMIT_STACK: usize = 3;
pub const RLIMIT_CORE: usize = 4;
pub const RLIMIT_RSS: usize = 5;
pub const RLIMIT_NPROC: usize = 6;
pub const RLIMIT_NOFILE: usize = 7;
pub const RLIMIT_MEMLOCK: usize = 8;
pub const RLIMIT_AS: usize = 9;
pub const RLIMIT_LOCKS: usize = 10;
pub const RLIMIT_SIGPENDING: usize = 11;
pub const RLIMIT_MSGQUEUE: usize = 12;
pub const RLIMIT_NICE: usize = 13;
pub const RLIMIT_RTPRIO: usize = 14;
pub const RLIMIT_RTTIME: usize = 15;
/// Number of resources.
pub const RLIM_NLIMITS: usize = 16;
/// "No limit".
pub const RLIM_INFINITY: u64 = u64::MAX;

/// One limit: (soft, hard).
pub type Rlimit = (u64, u64);

/// A process's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimits(pub [Rlimit; RLIM_NLIMITS]);

/// Hard cap on open descriptors (`fs.nr_open`, Linux default 1048576).
pub const NR_OPEN: u64 = 1_048_576;

impl Default for Rlimits {
    /// What Linux gives init (see `include/asm-generic/resource.h`); NOFILE soft 1024,
    /// hard 1048576 as systemd sets it, so programs may raise it above 10000.
    fn default() -> Self {
        let inf = (RLIM_INFINITY, RLIM_INFINITY);
        let mut l = [inf; RLIM_NLIMITS];
        l[RLIMIT_STACK] = (8 << 20, RLIM_INFINITY);
        l[RLIMIT_CORE] = (0, RLIM_INFINITY);
        l[RLIMIT_NPROC] = (63_704, 63_704);
        l[RLIMIT_NOFILE] = (1024, NR_OPEN);
        l[RLIMIT_MEMLOCK] = (8 << 20, 8 << 20);
        l[RLIMIT_LOCKS] = inf;
        l[RLIMIT_SIGPENDING] = (63_704, 63_704);
        l[RLIMIT_MSGQUEUE] = (819_200, 819_200);
        l[RLIMIT_NICE] = (0, 0);
        l[RLIMIT_RTPRIO] = (0, 0);
        Self(l)
    }
}

impl Rlimits {
    /// The soft limit of `r`.
    pub fn soft(&self, r: usize) -> u64 {
        self.0[r].0
    }
}
