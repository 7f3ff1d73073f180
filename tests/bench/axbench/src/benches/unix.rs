//! Unix socket round trip: a byte over a `socketpair(AF_UNIX, SOCK_STREAM)` to a peer
//! thread and back. Metric `unix_rtt` (us per round trip).

use std::os::unix::net::UnixStream;

use crate::args::Args;
use crate::out;
use crate::pingpong::{round_trip_ns, End};

pub fn run(args: &Args) -> Result<(), String> {
    let (a, b) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    let mine = End { rx: Box::new(a.try_clone().map_err(|e| format!("dup: {e}"))?), tx: Box::new(a) };
    let peer = End { rx: Box::new(b.try_clone().map_err(|e| format!("dup: {e}"))?), tx: Box::new(b) };
    let ns = round_trip_ns(&args.budget()?, mine, peer)?;
    out::metric("unix_rtt", "us", ns / 1000.0);
    Ok(())
}
