//! Memory management: physical frames, kernel page tables and heap, user address spaces.
pub mod buddy;
pub mod layout;
pub mod vma;

#[cfg(target_os = "none")]
pub mod addrspace;
#[cfg(target_os = "none")]
pub mod frame;
#[cfg(target_os = "none")]
pub mod heap;
#[cfg(target_os = "none")]
pub mod kmap;
#[cfg(target_os = "none")]
pub mod pagestore;

#[cfg(target_os = "none")]
pub use addrspace::{handle_user_fault, FaultAccess};
