//! Thread create + join: `std::thread::spawn` of an empty closure, then `join` (clone with
//! a fresh mmap'd stack, the child runs and exits, CLONE_CHILD_CLEARTID futex wake, munmap).
//! Metric `thread_create_join` (us per thread).

use crate::args::Args;
use crate::measure::per_op;
use crate::out;

pub fn run(args: &Args) -> Result<(), String> {
    let ns = per_op(&args.budget()?, |n| {
        for _ in 0..n {
            std::thread::Builder::new()
                .spawn(|| {})
                .map_err(|e| format!("thread spawn: {e}"))?
                .join()
                .map_err(|_| "thread panicked".to_string())?;
        }
        Ok(())
    })?;
    out::metric("thread_create_join", "us", ns / 1000.0);
    Ok(())
}
