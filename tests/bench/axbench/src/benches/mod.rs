//! The benchmarks, one file each, and the table that maps names to them. Each prints the
//! `metric` lines named in its file's documentation (the names `tools/bench/metrics.py`
//! expects).

use crate::args::Args;

pub mod accept;
pub mod clock_gettime;
pub mod futex;
pub mod getpid;
pub mod hog;
pub mod meminfo;
pub mod pagefault;
pub mod pipe;
pub mod sleep;
pub mod spawn;
pub mod tcp_rtt;
pub mod tcp_stream;
pub mod thread;
pub mod udp_rtt;
pub mod unix;

/// A benchmark's entry point.
pub type Bench = fn(&Args) -> Result<(), String>;

/// Every benchmark by the name `axbench NAME` takes.
pub const ALL: &[(&str, Bench, &str)] = &[
    ("meminfo", meminfo::run, "memory in use (MemTotal - MemAvailable)"),
    ("getpid", getpid::run, "getpid system call"),
    ("clock_gettime", clock_gettime::run, "clock_gettime(CLOCK_MONOTONIC), vDSO where present"),
    ("thread", thread::run, "thread create + join"),
    ("spawn", spawn::run, "posix_spawn + waitpid of a static program (--nop PATH)"),
    ("pagefault", pagefault::run, "first touch of anonymous memory, per page"),
    ("futex", futex::run, "futex wake-to-run between two pinned threads (--cpus same|cross)"),
    ("pipe", pipe::run, "pipe round trip"),
    ("unix", unix::run, "Unix stream socket round trip"),
    ("tcp_rtt", tcp_rtt::run, "TCP loopback round trip, 1 byte, TCP_NODELAY"),
    ("tcp_stream", tcp_stream::run, "TCP loopback throughput"),
    ("udp_rtt", udp_rtt::run, "UDP loopback round trip"),
    ("accept", accept::run, "TCP loopback connections accepted per second"),
    ("sleep", sleep::run, "1 ms sleep overshoot (--count N)"),
    ("hog", hog::run, "load generator: busy threads until killed (--threads N)"),
];
