//! axbench: the benchmark programs of `make bench` (docs/benchmarks.md), one static musl
//! binary run unchanged on Axle and on the Linux reference VM.
//!
//! Every benchmark measures with `CLOCK_MONOTONIC`, warms up before it measures, and
//! prints machine-readable lines on stdout (the contract with `tools/bench/`):
//!
//! ```text
//! metric NAME UNIT VALUE      one measured value (the median of the benchmark's batches)
//! na NAME UNIT REASON...      the metric cannot be measured here (e.g. one CPU only)
//! info KEY VALUE...           context (kernel release, CPUs, vDSO present, ...)
//! error TEXT...               the benchmark failed (it then exits 1)
//! ```
//!
//! The plan runner (`axbench plan FILE`, [`plan`]) runs a list of benchmarks in separate
//! processes with a timeout each and frames their output with `begin`/`end` lines.

pub mod args;
pub mod benches;
pub mod measure;
pub mod net;
pub mod out;
pub mod pingpong;
pub mod plan;
pub mod sys;
