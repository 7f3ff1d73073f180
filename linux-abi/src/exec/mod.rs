//! `execve`: loading a program into a fresh address space.
//!
//! Scripts (`#!`) run their interpreter. ELF executables (static, static-pie, or dynamic
//! with their interpreter) are mapped privately from the file's pages, `.bss` is zeroed,
//! the main stack is a growing mapping under `STACK_TOP` with argv, envp and the
//! auxiliary vector on it. Everything that can fail is done before the point of no
//! return, when the calling process's old image is discarded.

pub mod elf;
pub mod stack;

#[cfg(target_os = "none")]
mod load;
#[cfg(target_os = "none")]
pub use load::*;

