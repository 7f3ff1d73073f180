//! smoltcp's `phy::Device` over a [`Nic`]: a received frame is copied once from the card's
//! buffer into a scratch buffer that smoltcp parses; a transmitted frame is written by
//! smoltcp straight into the card's DMA buffer.

use alloc::boxed::Box;
use alloc::vec::Vec;

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::net::nic::Nic;

/// The adapter. Owned by the stack, used under its lock.
pub struct NicDevice {
    pub nic: Box<dyn Nic>,
    rx: Vec<u8>,
    rx_len: usize,
    /// Frames dropped because the card had no free transmit buffer.
    pub tx_dropped: u64,
    pub rx_frames: u64,
    pub tx_frames: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

impl NicDevice {
    pub fn new(nic: Box<dyn Nic>) -> Self {
        let max = nic.max_frame();
        Self { nic, rx: alloc::vec![0; max.max(1514)], rx_len: 0, tx_dropped: 0, rx_frames: 0, tx_frames: 0, rx_bytes: 0, tx_bytes: 0 }
    }
}

pub struct RxToken<'a> {
    frame: &'a [u8],
}

pub struct TxToken<'a> {
    dev: &'a mut dyn Nic,
    dropped: &'a mut u64,
    frames: &'a mut u64,
    bytes: &'a mut u64,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut f = Some(f);
        let mut out = None;
        let sent = self.dev.transmit(len, &mut |buf| out = f.take().map(|f| f(buf)));
        if sent {
            *self.frames += 1;
            *self.bytes += len as u64;
        } else {
            *self.dropped += 1;
        }
        match out {
            Some(r) => r,
            None => {
                // No buffer: let smoltcp build the frame anyway, then drop it (TCP retransmits).
                let mut scratch = alloc::vec![0u8; len];
                (f.take().expect("frame builder called once"))(&mut scratch)
            }
        }
    }
}

impl phy::Device for NicDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let mut got = 0;
        let rx = &mut self.rx;
        if !self.nic.receive(&mut |frame| {
            let n = frame.len().min(rx.len());
            rx[..n].copy_from_slice(&frame[..n]);
            got = n;
        }) {
            return None;
        }
        self.rx_len = got;
        self.rx_frames += 1;
        self.rx_bytes += got as u64;
        Some((
            RxToken { frame: &self.rx[..self.rx_len] },
            TxToken { dev: &mut *self.nic, dropped: &mut self.tx_dropped, frames: &mut self.tx_frames, bytes: &mut self.tx_bytes },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        if !self.nic.can_transmit() {
            return None;
        }
        Some(TxToken { dev: &mut *self.nic, dropped: &mut self.tx_dropped, frames: &mut self.tx_frames, bytes: &mut self.tx_bytes })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.nic.max_frame();
        caps.max_burst_size = None;
        caps
    }
}
