//! The interface between the network stack and a network card driver.
//!
//! A driver (in `board/`, wired up by the kernel crate) implements [`Nic`] and hands it to
//! [`crate::net::stack::attach`]; its interrupt handler calls
//! [`crate::net::stack::interrupt`], which only wakes the network task. Frames are
//! Ethernet frames without the FCS.

/// A network card as the stack sees it.
pub trait Nic: Send {
    /// The card's MAC address.
    fn mac(&self) -> [u8; 6];

    /// Largest frame the card transmits, Ethernet header included (1514 for 1500-byte MTU).
    fn max_frame(&self) -> usize {
        1514
    }

    /// Hands the next received frame to `f`; false when none is waiting.
    fn receive(&mut self, f: &mut dyn FnMut(&[u8])) -> bool;

    /// Whether a transmit buffer is free.
    fn can_transmit(&mut self) -> bool;

    /// Sends a frame of `len` bytes that `f` writes; false when no buffer was free (the
    /// frame is lost, as on a full hardware queue).
    fn transmit(&mut self, len: usize, f: &mut dyn FnMut(&mut [u8])) -> bool;

    /// Acknowledges the card's interrupt (called by the network task after a wake-up).
    fn ack(&mut self) {}
}
