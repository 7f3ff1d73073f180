//! The latency stamp of rs-latency: every message carries its send time, its size index and
//! its sequence number within that size, so the sink attributes each sample to the right
//! size by the stamp, never by the order of arrival (the original benchmark put the first
//! sample of each size into the previous size's bucket).
//!
//! The stamp travels in the message's metadata parameters (Dora 0.3.5's
//! `MetadataParameters`, whose `watermark` and `deadline` u64 fields the daemon passes on
//! untouched): `watermark` = send time, `deadline` = size index << 32 | sequence number.
//! So the payload keeps exactly its nominal size, 8 bytes included. The payload's first
//! 8 bytes (or all of a smaller one) repeat the packed index as a cross-check.
//!
//! Time is CLOCK_MONOTONIC in nanoseconds (one clock shared by every process of a machine;
//! it never steps). Latency is computed as a signed difference in i128, so a receive time
//! before the send time shows up as a negative value and an error, never as a wrapped
//! huge number.

use nix::time::{clock_gettime, ClockId};

/// CLOCK_MONOTONIC now, in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let ts = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("clock_gettime(CLOCK_MONOTONIC)");
    let ns = ts.tv_sec() as i128 * 1_000_000_000 + ts.tv_nsec() as i128;
    u64::try_from(ns).expect("CLOCK_MONOTONIC is negative")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub send_ns: u64,
    pub size_index: u32,
    pub seq: u32,
}

impl Stamp {
    /// The packed (size index, sequence) word.
    pub fn index_word(&self) -> u64 {
        (self.size_index as u64) << 32 | self.seq as u64
    }

    /// (watermark, deadline) for the metadata parameters.
    pub fn to_params(&self) -> (u64, u64) {
        (self.send_ns, self.index_word())
    }

    pub fn from_params(watermark: u64, deadline: u64) -> Stamp {
        Stamp { send_ns: watermark, size_index: (deadline >> 32) as u32, seq: deadline as u32 }
    }

    /// The payload marker: the index word's little-endian bytes, cut to the payload size.
    pub fn marker(&self, payload_len: usize) -> Vec<u8> {
        let bytes = self.index_word().to_le_bytes();
        bytes[..payload_len.min(8)].to_vec()
    }
}

/// recv - send as a signed number of nanoseconds (no wrapping).
pub fn latency_ns(send_ns: u64, recv_ns: u64) -> i128 {
    recv_ns as i128 - send_ns as i128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_round_trip() {
        let s = Stamp { send_ns: u64::MAX - 3, size_index: 4, seq: 99 };
        let (w, d) = s.to_params();
        assert_eq!(Stamp::from_params(w, d), s);
        assert_eq!(d, (4u64 << 32) | 99);
        assert_eq!(s.marker(8), d.to_le_bytes().to_vec());
        assert_eq!(s.marker(3), d.to_le_bytes()[..3].to_vec());
        assert_eq!(s.marker(100).len(), 8);
    }

    #[test]
    fn latency_is_signed_and_never_wraps() {
        assert_eq!(latency_ns(10, 25), 15);
        assert_eq!(latency_ns(25, 10), -15);
        assert_eq!(latency_ns(u64::MAX, 0), -(u64::MAX as i128));
    }

    #[test]
    fn clock_moves_forward() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(b >= a);
        assert!(a > 0);
    }
}
