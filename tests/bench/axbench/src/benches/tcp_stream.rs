//! TCP loopback throughput: this thread writes 64 KiB buffers into a 127.0.0.1
//! connection as fast as it can; a peer thread reads them (256 KiB reads) and counts the
//! bytes. After a warm-up, each batch is the bytes the reader received between two
//! instants divided by the time between them. Metric `tcp_stream` (MiB/s, median batch).

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::args::Args;
use crate::benches::tcp_rtt::connected_pair;
use crate::measure::median;
use crate::out;
use crate::sys::now_ns;

const WRITE: usize = 64 * 1024;
const READ: usize = 256 * 1024;

pub fn run(args: &Args) -> Result<(), String> {
    let budget = args.budget()?;
    let (mut client, mut server) = connected_pair()?;
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let reader = std::thread::spawn(move || -> Result<(), String> {
        let mut buf = vec![0u8; READ];
        loop {
            match server.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("receive: {e}")),
            }
        }
    });
    let buf = vec![0x5au8; WRITE];
    let mut send_for = |ns: u64| -> Result<(), String> {
        let t0 = now_ns();
        while now_ns() - t0 < ns {
            client.write_all(&buf).map_err(|e| format!("send: {e}"))?;
        }
        Ok(())
    };
    let mut rates = Vec::new();
    let mut result = send_for(budget.warmup_ns());
    for _ in 0..budget.batches {
        if result.is_err() {
            break;
        }
        let (t0, b0) = (now_ns(), received.load(Ordering::Relaxed));
        result = send_for(budget.batch_ns());
        let (t1, b1) = (now_ns(), received.load(Ordering::Relaxed));
        rates.push((b1 - b0) as f64 / (1024.0 * 1024.0) / ((t1 - t0) as f64 / 1e9));
    }
    let _ = client.shutdown(Shutdown::Write);
    let reader_result = reader.join().map_err(|_| "the reader thread panicked".to_string())?;
    result?;
    reader_result?;
    out::metric("tcp_stream", "MiB/s", median(&mut rates));
    Ok(())
}
