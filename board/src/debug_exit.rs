//! QEMU's `isa-debug-exit` and `isa-debugcon` devices.
//!
//! `isa-debug-exit` (iobase 0xf4, 4 bytes) ends QEMU with status `(value << 1) | 1`.
//! `isa-debugcon` (iobase 0x4f0; 0x402 is SeaBIOS's debug port) copies every byte written to a host character device;
//! Axle uses it as an out-of-band status channel that user programs cannot write to
//! (`axle: exit N`, boot-time markers), so the host learns a run's exit status exactly.

use x86_64::instructions::port::Port;

/// Port of the `isa-debug-exit` device in Axle's QEMU configuration.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;
/// Port of the `isa-debugcon` status channel in Axle's QEMU configuration.
pub const DEBUGCON_PORT: u16 = 0x4f0;

/// Ends QEMU with host status `(code << 1) | 1`. Returns only if no such device exists.
pub fn qemu_exit(code: u32) {
    // SAFETY: writing the debug-exit port stops the virtual machine; on hardware without
    // the device the write goes nowhere.
    unsafe { Port::<u32>::new(DEBUG_EXIT_PORT).write(code) }
}

/// Writes bytes to the debug console status channel.
pub fn debugcon_write(bytes: &[u8]) {
    let mut port = Port::<u8>::new(DEBUGCON_PORT);
    for &b in bytes {
        // SAFETY: the debugcon port only forwards the byte to the host.
        unsafe { port.write(b) }
    }
}
