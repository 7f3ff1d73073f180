//! flowcheck: the message formats of Axle's dataflows and their checks, shared by the nodes
//! of `rust-dataflow` and `rs-latency` and free of any Dora dependency so they are unit
//! tested on the host (`cargo test -p flowcheck`).
//!
//! - [`pattern`]: deterministic pseudo-random payloads (large messages) and their checksum;
//! - [`status`]: the text status line `status-node` makes and `sink` checks;
//! - [`stamp`]: the latency stamp (send time, size index, sequence) and the clock;
//! - [`plan`]: the latency benchmark's plan (sizes, count, period) from env/args.
#![deny(unsafe_code)]

pub mod args;
pub mod pattern;
pub mod plan;
pub mod stamp;
pub mod status;
