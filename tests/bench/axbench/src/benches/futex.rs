//! Futex wake-to-run: two threads hand a token back and forth through one futex word,
//! each sleeping in `FUTEX_WAIT` until the other's `FUTEX_WAKE` (no spinning). Both are
//! pinned with `sched_setaffinity`: `--cpus same` puts both on CPU 0 (each hand-off is a
//! wake and a context switch), `--cpus cross` puts them on CPUs 0 and 1 (a cross-CPU
//! wake-up, an IPI on most kernels). Metric `futex_wake_same_cpu` / `futex_wake_cross_cpu`
//! (us per one-way hand-off = half a round trip); `na` when there is one CPU only.
//! `--fifo P` makes both threads SCHED_FIFO P first (metric `..._fifo`): the wake-up of a
//! real-time thread signalled from another CPU.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::args::Args;
use crate::measure::per_op;
use crate::out;
use crate::sys::{cpus, futex_wait, futex_wake, pin_to, set_fifo};

/// The token's states: the peer's turn, the main thread's turn, stop.
const PEER: u32 = 1;
const MAIN: u32 = 0;
const STOP: u32 = 2;

pub fn run(args: &Args) -> Result<(), String> {
    let mode = args.get("cpus").unwrap_or("same");
    let fifo: Option<i32> = match args.get("fifo") {
        None => None,
        Some(p) => Some(p.parse().map_err(|_| format!("--fifo {p:?}: expected a priority 1-99"))?),
    };
    let (base, peer_cpu) = match mode {
        "same" => ("futex_wake_same_cpu", 0),
        "cross" => ("futex_wake_cross_cpu", 1),
        _ => return Err(format!("--cpus {mode:?}: expected same or cross")),
    };
    let metric_name = if fifo.is_some() { format!("{base}_fifo") } else { base.to_string() };
    let metric = metric_name.as_str();
    if peer_cpu >= cpus() {
        out::na(metric, "us", &format!("needs 2 CPUs, this machine has {}", cpus()));
        return Ok(());
    }
    pin_to(0)?;
    if let Some(p) = fifo {
        set_fifo(p)?;
    }
    let word = Arc::new(AtomicU32::new(MAIN));
    let peer_word = word.clone();
    let peer = std::thread::spawn(move || -> Result<(), String> {
        pin_to(peer_cpu)?;
        if let Some(p) = fifo {
            set_fifo(p)?;
        }
        loop {
            match peer_word.load(Ordering::Acquire) {
                PEER => {
                    peer_word.store(MAIN, Ordering::Release);
                    futex_wake(&peer_word);
                }
                STOP => return Ok(()),
                v => futex_wait(&peer_word, v),
            }
        }
    });
    let result = per_op(&args.budget()?, |n| {
        for _ in 0..n {
            word.store(PEER, Ordering::Release);
            futex_wake(&word);
            while word.load(Ordering::Acquire) == PEER {
                futex_wait(&word, PEER);
            }
        }
        Ok(())
    });
    word.store(STOP, Ordering::Release);
    futex_wake(&word);
    let peer_result = peer.join().map_err(|_| "the peer thread panicked".to_string())?;
    peer_result?;
    out::metric(metric, "us", result? / 2.0 / 1000.0);
    Ok(())
}
