//! `nullderef`: reads address 0 and must be killed by SIGSEGV.
//!
//! Expected: termination by signal 11, i.e. status 139 as a shell reports it.
//! Rust std installs a SIGSEGV handler (for stack-overflow detection); for a fault
//! outside a guard page it restores SIG_DFL and returns, so the faulting load runs
//! again and the default action kills the process. This exercises page-fault
//! delivery, rt_sigaction, signal frames and rt_sigreturn. If the read ever
//! returns, the program says `survived` and exits 0, which the harness rejects.

fn main() {
    println!("nullderef: reading address 0");
    // black_box hides the null from the optimizer, so the load is really emitted.
    let p = std::hint::black_box(0usize) as *const u8;
    let v = unsafe { std::ptr::read_volatile(p) };
    println!("nullderef: survived, read {v}");
}
