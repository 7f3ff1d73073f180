//! Axle's dataflow profile: which CPUs are for housekeeping and which for real time, and
//! which scheduling class, priority or budget, and CPU set each of Dora's processes and
//! threads gets.
//!
//! The core is `no_std + alloc` so the kernel links it (with `default-features = false`):
//!
//! - [`spec`]: the profile as written ([`ProfileSpec`]), not yet checked;
//! - [`compiled`]: the compact line-based form the kernel reads at boot (`/etc/axle/profile`);
//! - [`validate()`]: admission: every rule and the CPU partition checked for a machine with a
//!   given number of CPUs, DEADLINE bandwidth admitted per CPU; gives a [`Profile`];
//! - [`matching`]: a process's identity (dataflow node id from `DORA_NODE_CONFIG`, Dora
//!   role, executable) and the [`Placement`] of each of its threads;
//! - [`nodeconfig`]: the node id out of Dora's `DORA_NODE_CONFIG` YAML.
//!
//! The `std` feature (default) adds the TOML front end ([`toml_front`]) and the
//! `axle-profile` command. The format is documented in docs/profiles.md.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod admission;
pub mod compiled;
pub mod cpuset;
pub mod duration;
pub mod error;
pub mod matching;
pub mod model;
pub mod nodeconfig;
pub mod pattern;
pub mod spec;
#[cfg(feature = "std")]
pub mod toml_front;
pub mod validate;

pub use cpuset::{CpuSet, MAX_CPUS};
pub use error::{ErrorKind, Location, ProfileError};
pub use matching::{Identity, Placement};
pub use model::{Policy, Profile, Rule};
pub use spec::{Class, CpuSpec, ProfileSpec, Role, RuleSpec, Threads};
pub use validate::validate;
