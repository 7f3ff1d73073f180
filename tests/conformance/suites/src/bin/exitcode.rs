//! `exitcode`: exits with argv[1] as its status (0 if absent or unparsable).
//!
//! Used to test exit-status plumbing end to end: `exitcode 42` must be seen as 42
//! by whoever ran it (a shell, the host harness, or Axle's runner).

fn main() {
    let code = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<i32>().ok())
        .unwrap_or(0);
    println!("exitcode: exiting with {code}");
    std::process::exit(code);
}
