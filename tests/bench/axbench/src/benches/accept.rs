//! Accepts per second: one client thread connects to a 127.0.0.1 listener, a server
//! thread `accept`s and closes the connection at once, the client reads the EOF and closes
//! too; then the next connection. Metric `tcp_accept` (connections per second; each one is
//! a whole handshake, accept, and both closes, one at a time).

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::args::Args;
use crate::measure::per_op;
use crate::out;

pub fn run(args: &Args) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("getsockname: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let server_stop = stop.clone();
    let server = std::thread::spawn(move || -> Result<(), String> {
        loop {
            let (conn, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
            drop(conn);
            if server_stop.load(Ordering::Acquire) {
                return Ok(());
            }
        }
    });
    let mut byte = [0u8; 1];
    let result = per_op(&args.budget()?, |n| {
        for _ in 0..n {
            let mut c = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
            match c.read(&mut byte) {
                Ok(0) => {}
                Ok(_) => return Err("the server sent data".into()),
                Err(e) => return Err(format!("read (waiting for the server's close): {e}")),
            }
        }
        Ok(())
    });
    stop.store(true, Ordering::Release);
    // Wake the server's accept; if even that connection fails, the server cannot be
    // joined (it would wait for ever), so report without it.
    let woke = TcpStream::connect(addr).is_ok();
    let ns = result?;
    if !woke {
        return Err(format!("the final connect to {addr} (to stop the server) failed"));
    }
    server.join().map_err(|_| "the server thread panicked".to_string())??;
    out::metric("tcp_accept", "conn/s", 1e9 / ns);
    Ok(())
}
