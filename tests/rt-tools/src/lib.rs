//! Shared parts of Axle's real-time tools (`axle-cyclictest`, `axle-load`): command-line
//! parsing, thin wrappers over the Linux calls they use, latency statistics, and output
//! files. The tools run unchanged on Linux and in Axle (static musl binaries).

pub mod args;
pub mod stats;
pub mod sys;
