//! UDP loopback round trip: a 1-byte datagram between two connected 127.0.0.1 sockets,
//! echoed by a peer thread. Metric `udp_rtt` (us per round trip).

use std::io::{Read, Write};
use std::net::UdpSocket;

use crate::args::Args;
use crate::out;
use crate::pingpong::{round_trip_ns, End};

/// A connected UDP socket as a byte channel (one datagram per write/read).
struct Datagrams(UdpSocket);

impl Read for Datagrams {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.recv(buf)
    }
}

impl Write for Datagrams {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.send(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn run(args: &Args) -> Result<(), String> {
    let bind = || UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"));
    let (a, b) = (bind()?, bind()?);
    let addr = |s: &UdpSocket| s.local_addr().map_err(|e| format!("getsockname: {e}"));
    a.connect(addr(&b)?).map_err(|e| format!("connect: {e}"))?;
    b.connect(addr(&a)?).map_err(|e| format!("connect: {e}"))?;
    let dup = |s: &UdpSocket| s.try_clone().map_err(|e| format!("dup: {e}"));
    let mine = End { rx: Box::new(Datagrams(dup(&a)?)), tx: Box::new(Datagrams(a)) };
    let peer = End { rx: Box::new(Datagrams(dup(&b)?)), tx: Box::new(Datagrams(b)) };
    let ns = round_trip_ns(&args.budget()?, mine, peer)?;
    out::metric("udp_rtt", "us", ns / 1000.0);
    Ok(())
}
