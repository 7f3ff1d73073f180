//! `acceptance`: a plain program (not a check suite) doing what every real
//! program does first, with output a person or the harness can read.
//!
//! 1. prints its argv, one `argv[i]=<arg>` line per argument;
//! 2. prints `PATH=` and `HOME=` from its environment (`<unset>` if absent);
//! 3. spawns 4 std threads that each compute a sum and are joined, printing the
//!    results (checked against a closed form);
//! 4. allocates 256 MiB, writes every page, then re-reads it and verifies a checksum;
//! 5. prints `done` and exits with the integer in argv[1] (0 if absent/unparsable).
//!
//! On any wrong result it prints `error: <what>` and exits 101 instead.

use std::io::Write;

const MEM: usize = 256 << 20;
const PAGE: usize = 4096;

fn fail(what: String) -> ! {
    println!("error: {what}");
    let _ = std::io::stdout().flush();
    std::process::exit(101);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("argc={}", args.len());
    for (i, a) in args.iter().enumerate() {
        println!("argv[{i}]={a}");
    }
    for var in ["PATH", "HOME"] {
        println!(
            "{var}={}",
            std::env::var(var).unwrap_or_else(|_| "<unset>".into())
        );
    }

    // Thread i sums k^2 for k in 1..=n_i; the closed form n(n+1)(2n+1)/6 checks it.
    let handles: Vec<_> = (0..4u64)
        .map(|i| {
            std::thread::spawn(move || {
                let n = 100_000 * (i + 1);
                (n, (1..=n).map(|k| k * k).sum::<u64>())
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let (n, sum) = h
            .join()
            .unwrap_or_else(|_| fail(format!("thread {i} panicked")));
        let want = n * (n + 1) * (2 * n + 1) / 6;
        println!("thread {i}: sum of squares 1..={n} = {sum}");
        if sum != want {
            fail(format!("thread {i}: sum {sum} != {want}"));
        }
    }

    // Touch every page of 256 MiB with a page-dependent word, then verify.
    let mut mem = vec![0u8; MEM];
    let word = |page: usize| (page as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xa5a5;
    let mut written: u64 = 0;
    for (page, chunk) in mem.chunks_exact_mut(PAGE).enumerate() {
        if chunk[0] != 0 || chunk[PAGE - 1] != 0 {
            fail(format!("page {page} of fresh memory is not zero"));
        }
        let off = (page * 8) % PAGE;
        chunk[off..off + 8].copy_from_slice(&word(page).to_le_bytes());
        written = written.wrapping_add(word(page));
    }
    let mut read_back: u64 = 0;
    for (page, chunk) in mem.chunks_exact(PAGE).enumerate() {
        let off = (page * 8) % PAGE;
        read_back =
            read_back.wrapping_add(u64::from_le_bytes(chunk[off..off + 8].try_into().unwrap()));
    }
    if read_back != written {
        fail(format!("checksum {read_back:#x} != {written:#x}"));
    }
    println!(
        "memory: {} MiB, {} pages touched, checksum {written:#018x}",
        MEM >> 20,
        MEM / PAGE
    );
    drop(std::hint::black_box(mem));

    println!("done");
    let code = args.get(1).and_then(|a| a.parse::<i32>().ok()).unwrap_or(0);
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
