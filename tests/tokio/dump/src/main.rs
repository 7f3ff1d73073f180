//! `dump`: Tokio's task dumps (Tokio's `dump` example). Two tasks wait forever on a
//! three-party barrier, so the program deadlocks on purpose. Each Ctrl+C (SIGINT) prints
//! a dump of every task (`TASK id:` and the trace of where it waits); two Ctrl+C within
//! one second end the program (status 0). Task dumps need `--cfg tokio_unstable` and
//! Tokio's `taskdump` feature (tools/build-tokio.py builds it so); without them the
//! program only says that task dumps are not available.
//!
//! Three differences from Tokio's example, all about timing on slow machines (QEMU under
//! TCG, debug builds, a loaded host): the first SIGINT listener is set up before the
//! banner, so that a Ctrl+C typed as soon as the banner shows is seen (in the example it
//! can come before any listener and be lost); the banner comes once both tasks wait in the
//! barrier, so that a dump right after it finds both there (in the example a task may not
//! have run yet); and the second Ctrl+C's second counts from the end of the dump rather
//! than its start (a dump can take longer than a second).

#[cfg(tokio_unstable)]
mod deadlock {
    use std::future::Future;
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::signal::unix::{signal, Signal, SignalKind};
    use tokio::sync::mpsc::UnboundedSender;
    use tokio::sync::Barrier;
    use tokio::time::{timeout, Instant};

    // Three nested functions, so that the traces show a call chain.
    // `parked` hears once the task waits in the barrier (its first poll was pending).
    #[inline(never)]
    async fn outer(barrier: Arc<Barrier>, parked: UnboundedSender<()>) {
        middle(barrier, parked).await
    }

    #[inline(never)]
    async fn middle(barrier: Arc<Barrier>, parked: UnboundedSender<()>) {
        inner(barrier, parked).await
    }

    #[inline(never)]
    async fn inner(barrier: Arc<Barrier>, parked: UnboundedSender<()>) {
        let wait = barrier.wait();
        tokio::pin!(wait);
        let mut told = false;
        std::future::poll_fn(|cx| {
            let poll = wait.as_mut().poll(cx);
            if poll.is_pending() && !told {
                told = true;
                let _ = parked.send(());
            }
            poll
        })
        .await;
    }

    /// Dumps every task on each Ctrl+C; returns on a second Ctrl+C within a second.
    async fn dump_until_double_ctrl_c(mut sigint: Signal) {
        let handle = tokio::runtime::Handle::current();
        let mut previous: Option<Instant> = None;
        while sigint.recv().await.is_some() {
            if previous.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
                return;
            }
            println!("{}", "-".repeat(80));
            match timeout(Duration::from_secs(2), handle.dump()).await {
                Ok(dump) => {
                    for task in dump.tasks().iter() {
                        println!("TASK {}:", task.id());
                        println!("{}\n", task.trace());
                    }
                }
                Err(_) => println!("Task dumping timed out. Use a native debugger (like gdb) to debug the deadlock."),
            }
            // The second Ctrl+C counts from the end of the dump (a dump can take over a
            // second on a slow machine), with a fresh listener as the example's ctrl_c(),
            // made before the prompt so that a ^C typed right after it is seen.
            sigint = signal(SignalKind::interrupt()).expect("SIGINT listener");
            println!("{}", "-".repeat(80));
            println!("Input CTRL+C twice within 1 second to exit.");
            previous = Some(Instant::now());
        }
    }

    #[tokio::main]
    pub async fn main() {
        // Listen before saying so: a Ctrl+C typed right after the banner must be seen.
        let sigint = signal(SignalKind::interrupt()).expect("SIGINT listener");
        let barrier = Arc::new(Barrier::new(3));
        let (parked, mut waiting) = tokio::sync::mpsc::unbounded_channel();
        let first = tokio::spawn(outer(barrier.clone(), parked.clone()));
        let second = tokio::spawn(outer(barrier, parked));
        // Both tasks wait in the barrier before the banner invites a dump.
        for _ in 0..2 {
            waiting.recv().await.expect("a task ended before it waited in the barrier");
        }
        println!("This program has a deadlock.");
        println!("Input CTRL+C to print a task dump.");
        println!("Input CTRL+C twice within 1 second to exit.");
        tokio::select! {
            _ = dump_until_double_ctrl_c(sigint) => {}
            _ = first => {}
            _ = second => {}
        }
    }
}

#[cfg(tokio_unstable)]
fn main() {
    deadlock::main()
}

#[cfg(not(tokio_unstable))]
fn main() {
    println!("task dumps are not available");
}
