//! One-byte round trips between this thread and a peer thread over any byte channel
//! (pipes, Unix sockets, TCP, UDP): the peer echoes every byte `1` and stops at byte `0`.

use std::io::{Read, Write};

use crate::measure::{per_op, Budget};

/// One direction pair of a channel end: where this side reads and where it writes.
pub struct End {
    pub rx: Box<dyn Read + Send>,
    pub tx: Box<dyn Write + Send>,
}

/// Measures the median round-trip time in nanoseconds: `mine` sends a byte, the peer
/// (a thread owning `peer`) echoes it back.
pub fn round_trip_ns(b: &Budget, mut mine: End, peer: End) -> Result<f64, String> {
    let echo = std::thread::spawn(move || echo_loop(peer));
    let mut byte = [0u8; 1];
    let result = per_op(b, |n| {
        for _ in 0..n {
            mine.tx.write_all(&[1]).map_err(|e| format!("send: {e}"))?;
            mine.rx.read_exact(&mut byte).map_err(|e| format!("receive: {e}"))?;
        }
        Ok(())
    });
    let _ = mine.tx.write_all(&[0]);
    drop(mine);
    let peer_result = echo.join().map_err(|_| "the echo thread panicked".to_string())?;
    let ns = result?;
    peer_result?;
    Ok(ns)
}

fn echo_loop(mut peer: End) -> Result<(), String> {
    let mut byte = [0u8; 1];
    loop {
        match peer.rx.read(&mut byte) {
            Ok(0) => return Ok(()),
            Ok(_) if byte[0] == 0 => return Ok(()),
            Ok(_) => peer.tx.write_all(&[1]).map_err(|e| format!("echo send: {e}"))?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("echo receive: {e}")),
        }
    }
}
