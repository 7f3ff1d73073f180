//! Files: the VFS, the in-memory filesystems (root from the initramfs, tmpfs), devices,
//! the terminal, descriptors, path resolution, and opening files.

pub mod cpio;
pub mod ldisc;

#[cfg(target_os = "none")]
pub mod devices;
#[cfg(target_os = "none")]
pub mod epoll;
#[cfg(target_os = "none")]
pub mod eventfd;
#[cfg(target_os = "none")]
pub mod fdtable;
#[cfg(target_os = "none")]
pub mod file;
#[cfg(target_os = "none")]
pub mod locks;
#[cfg(target_os = "none")]
pub mod path;
#[cfg(target_os = "none")]
pub mod pidfd;
#[cfg(target_os = "none")]
pub mod pipe;
#[cfg(target_os = "none")]
pub mod procfs;
#[cfg(target_os = "none")]
pub mod pty;
#[cfg(target_os = "none")]
pub mod poll;
#[cfg(target_os = "none")]
pub mod ramfs;
#[cfg(target_os = "none")]
pub mod signalfd;
#[cfg(target_os = "none")]
pub mod timerfd;
#[cfg(target_os = "none")]
pub mod sysfs;
#[cfg(target_os = "none")]
pub mod tty;
#[cfg(target_os = "none")]
pub mod vfs;

#[cfg(target_os = "none")]
mod setup;
#[cfg(target_os = "none")]
pub use setup::*;

