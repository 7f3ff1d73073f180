//! Boot-time self-test of the kernel core (`selftest` on the command line): threads on
//! every CPU, wait-queue ping-pong, timed sleeps. Also used to check that an accelerator
//! (KVM) runs Axle correctly before the test suite relies on it.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use rtos::sched::core::{current, start};
use rtos::sched::thread::Thread;
use rtos::sync::{sleep_until, WaitQueue};
use rtos::time::now_ns;

/// Runs the checks; returns the number of failures.
pub fn run() -> u32 {
    let mut failures = 0;
    // 1. Threads that sleep 2 ms ten times each, on all CPUs.
    let done = Arc::new(AtomicU64::new(0));
    let cpus_seen = Arc::new(AtomicU64::new(0));
    let wq = Arc::new(WaitQueue::new());
    let n = 8u64;
    let t0 = now_ns();
    for i in 0..n {
        let (done, cpus_seen, wq) = (done.clone(), cpus_seen.clone(), wq.clone());
        let t = Thread::new_kernel("sleeper", move || {
            for _ in 0..10 {
                let _ = sleep_until(now_ns() + 2_000_000, false);
                cpus_seen.fetch_or(1 << current().cpu(), Ordering::Relaxed);
            }
            let _ = i;
            done.fetch_add(1, Ordering::AcqRel);
            wq.wake_all();
        })
        .expect("thread");
        start(&t);
    }
    wq.wait_until(|| done.load(Ordering::Acquire) == n);
    let ms = (now_ns() - t0) / 1_000_000;
    log::info!("selftest: {n} sleepers done in {ms} ms on cpus {:#b}", cpus_seen.load(Ordering::Relaxed));
    if ms < 20 {
        log::error!("selftest: sleeps returned early ({ms} ms < 20 ms)");
        failures += 1;
    }
    if rtos::percpu::online() > 1 && cpus_seen.load(Ordering::Relaxed).count_ones() < 2 {
        log::error!("selftest: threads never ran on a second CPU");
        failures += 1;
    }
    // 2. Ping-pong between two threads through wait queues, 2000 round trips.
    let turn = Arc::new(AtomicU64::new(0));
    let q = Arc::new([WaitQueue::new(), WaitQueue::new()]);
    let rounds = 2000u64;
    let mut handles = Vec::new();
    for side in 0..2u64 {
        let (turn, q, done) = (turn.clone(), q.clone(), done.clone());
        let t = Thread::new_kernel("pingpong", move || {
            for r in 0..rounds {
                let want = 2 * r + side;
                q[side as usize].wait_until(|| turn.load(Ordering::Acquire) == want);
                turn.store(want + 1, Ordering::Release);
                q[1 - side as usize].wake_all();
            }
            done.fetch_add(1, Ordering::AcqRel);
        })
        .expect("thread");
        start(&t);
        handles.push(t);
    }
    let t0 = now_ns();
    let wq2 = WaitQueue::new();
    while done.load(Ordering::Acquire) < n + 2 {
        let _ = wq2.wait(rtos::sync::WaitOptions { interruptible: false, deadline_ns: Some(now_ns() + 10_000_000) }, || {
            (done.load(Ordering::Acquire) >= n + 2).then_some(())
        });
        if now_ns() - t0 > 20_000_000_000 {
            log::error!("selftest: ping-pong stuck at turn {}", turn.load(Ordering::Relaxed));
            failures += 1;
            break;
        }
    }
    let us = (now_ns() - t0) / 1000;
    log::info!("selftest: {rounds} ping-pong round trips in {us} us ({} ns each)", us * 1000 / rounds);
    failures
}
