//! Axle's Linux personality: the system-call layer that lets unmodified static Linux
//! binaries run on the `rtos` kernel core — processes and threads, memory, signals,
//! futexes, time, files, devices and the terminal.
//!
//! This crate has no `unsafe` code: it reaches hardware and raw memory only through the
//! safe interfaces of `rtos`. Pure logic (ELF parsing, stack layout, cpio, the terminal
//! line discipline) is unit-tested on the host.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod errno;
pub mod exec;
pub mod fs;
#[cfg(target_os = "none")]
pub mod futex;
#[cfg(target_os = "none")]
pub mod futex_pi;
#[cfg(target_os = "none")]
pub mod net;
#[cfg(target_os = "none")]
pub mod process;
#[cfg(target_os = "none")]
pub mod profile;
pub mod random;
pub mod schedcap;
#[cfg(target_os = "none")]
pub mod signal;
#[cfg(target_os = "none")]
pub mod syscall;
#[cfg(target_os = "none")]
pub mod time;
#[cfg(target_os = "none")]
pub mod uaccess;
pub mod vdso;

#[cfg(target_os = "none")]
mod start;
#[cfg(target_os = "none")]
pub use start::{hostname, init, report_init_exit, spawn_init};
