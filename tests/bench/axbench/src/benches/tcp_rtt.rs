//! TCP loopback round trip: one byte over a 127.0.0.1 connection with `TCP_NODELAY` on
//! both ends, echoed by a peer thread. Metric `tcp_rtt` (us per round trip).
//!
//! With `--connect HOST:PORT` the peer is an echo server elsewhere (the host, seen from
//! QEMU's user network as 10.0.2.2): metric `guest_host_tcp_rtt` (us per round trip).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use crate::args::Args;
use crate::measure::per_op;
use crate::out;
use crate::pingpong::{round_trip_ns, End};

/// A connected pair of loopback TCP streams (client, server side), `TCP_NODELAY` on both.
pub fn connected_pair() -> Result<(TcpStream, TcpStream), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("getsockname: {e}"))?;
    let client = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    let (server, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    for s in [&client, &server] {
        s.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
    }
    Ok((client, server))
}

pub fn run(args: &Args) -> Result<(), String> {
    if let Some(addr) = args.get("connect") {
        return remote(args, addr);
    }
    let (client, server) = connected_pair()?;
    let dup = |s: &TcpStream| s.try_clone().map_err(|e| format!("dup: {e}"));
    let mine = End { rx: Box::new(dup(&client)?), tx: Box::new(client) };
    let peer = End { rx: Box::new(dup(&server)?), tx: Box::new(server) };
    let ns = round_trip_ns(&args.budget()?, mine, peer)?;
    out::metric("tcp_rtt", "us", ns / 1000.0);
    Ok(())
}

/// Round trips to an echo server at `addr` that returns every byte it gets.
fn remote(args: &Args, addr: &str) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
    let mut byte = [0u8; 1];
    let ns = per_op(&args.budget()?, |n| {
        for _ in 0..n {
            s.write_all(&[1]).map_err(|e| format!("send: {e}"))?;
            s.read_exact(&mut byte).map_err(|e| format!("receive: {e}"))?;
        }
        Ok(())
    })?;
    out::metric("guest_host_tcp_rtt", "us", ns / 1000.0);
    Ok(())
}
