//! Intel 8254 programmable interval timer, used once at boot as the reference clock that
//! calibrates the TSC and the local APIC timer (1.193182 MHz input clock).
//!
//! Channel 2 is gated through port 0x61 so its output can be polled without interrupts.

use x86_64::instructions::port::Port;

/// The PIT's input frequency in Hz.
pub const PIT_HZ: u64 = 1_193_182;

/// Starts a one-shot countdown of `ticks` (< 65536) on channel 2.
pub fn start_oneshot(ticks: u16) {
    // SAFETY: ports 0x61, 0x43 and 0x42 belong to the PIT and the speaker gate; the
    // speaker output bit is kept off.
    unsafe {
        let mut gate = Port::<u8>::new(0x61);
        let g = gate.read();
        gate.write((g & !0x02) | 0x01);
        Port::<u8>::new(0x43).write(0b1011_0000); // channel 2, lobyte/hibyte, mode 0
        let mut ch2 = Port::<u8>::new(0x42);
        ch2.write(ticks as u8);
        ch2.write((ticks >> 8) as u8);
    }
}

/// True once the channel-2 countdown started by [`start_oneshot`] reached zero.
pub fn oneshot_done() -> bool {
    // SAFETY: reading the gate/status port has no side effects.
    unsafe { Port::<u8>::new(0x61).read() & 0x20 != 0 }
}

/// Masks the legacy 8259 PICs (Axle uses the I/O APIC).
pub fn disable_8259() {
    // SAFETY: writing the 8259 interrupt mask registers only masks legacy IRQs.
    unsafe {
        Port::<u8>::new(0xa1).write(0xff);
        Port::<u8>::new(0x21).write(0xff);
    }
}
