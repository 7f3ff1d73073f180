//! `bigfile`: writes and verifies a large file of deterministic pseudo-random data.
//!
//! Used to check that big files reach a program intact (e.g. a 200 MB `--add`
//! directory in Axle: the file is generated on the host, verified in the guest).
//!
//! ```text
//! bigfile gen PATH BYTES      write BYTES bytes of the stream to PATH (1 MiB writes)
//! bigfile verify PATH BYTES   read PATH back and compare it with the stream
//! ```
//!
//! The stream is xorshift64* from a fixed seed, each 64-bit output stored little
//! endian; a length that is not a multiple of 8 keeps the first bytes of the last
//! word. Both commands print `checksum 0x<16 hex> (<N> bytes)`: FNV-1a-style over
//! the stream's 64-bit words (the last, partial one zero-padded).
//!
//! `verify` checks the file's size (fstat), reads it with `read` in 4 MiB requests
//! (short reads are continued) and checks EOF is at BYTES, then maps the whole file
//! with `mmap(PROT_READ, MAP_PRIVATE)` and compares it again. Success: it prints
//! `verified <N> bytes` and exits 0. Otherwise it prints `bigfile: mismatch at
//! offset <X> (<read|mmap>): ...` (or another `bigfile: ...` error) and exits 1.
//! Bad usage exits 2.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;

const SEED: u64 = 0x9e37_79b9_7f4a_7c15;
const WRITE_CHUNK: usize = 1 << 20;
const READ_CHUNK: usize = 4 << 20;
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The xorshift64* byte stream; also folds every word into a checksum.
struct Stream {
    state: u64,
    /// Bytes of the current word not handed out yet: `word[8 - left..]`.
    word: [u8; 8],
    left: usize,
}

impl Stream {
    fn new() -> Stream {
        Stream {
            state: SEED,
            word: [0; 8],
            left: 0,
        }
    }

    fn next_word(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Fills `buf` with the next `buf.len()` bytes of the stream.
    fn fill(&mut self, buf: &mut [u8]) {
        let mut i = 0;
        while i < buf.len() && self.left > 0 {
            buf[i] = self.word[8 - self.left];
            self.left -= 1;
            i += 1;
        }
        let mut words = buf[i..].chunks_exact_mut(8);
        for w in &mut words {
            w.copy_from_slice(&self.next_word().to_le_bytes());
        }
        let rest = words.into_remainder();
        if !rest.is_empty() {
            self.word = self.next_word().to_le_bytes();
            rest.copy_from_slice(&self.word[..rest.len()]);
            self.left = 8 - rest.len();
        }
    }
}

/// Checksum of the first `len` bytes of the stream (independent of chunking).
fn checksum(len: u64) -> u64 {
    let mut s = Stream::new();
    let mut h = FNV_OFFSET;
    let full = len / 8;
    for _ in 0..full {
        h = (h ^ s.next_word()).wrapping_mul(FNV_PRIME);
    }
    let tail = (len % 8) as usize;
    if tail > 0 {
        let mut bytes = s.next_word().to_le_bytes();
        bytes[tail..].fill(0);
        h = (h ^ u64::from_le_bytes(bytes)).wrapping_mul(FNV_PRIME);
    }
    h
}

fn die(code: i32, msg: String) -> ! {
    println!("bigfile: {msg}");
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

fn usage() -> ! {
    die(2, "usage: bigfile gen|verify PATH BYTES".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        usage();
    }
    let bytes: u64 = args[3].parse().unwrap_or_else(|_| usage());
    let path = &args[2];
    match args[1].as_str() {
        "gen" => gen(path, bytes),
        "verify" => verify(path, bytes),
        _ => usage(),
    }
    println!("checksum {:#018x} ({bytes} bytes)", checksum(bytes));
    let _ = std::io::stdout().flush();
}

fn gen(path: &str, bytes: u64) {
    let mut f = File::create(path).unwrap_or_else(|e| die(1, format!("create {path}: {e}")));
    let mut s = Stream::new();
    let mut buf = vec![0u8; WRITE_CHUNK];
    let mut done = 0u64;
    while done < bytes {
        let n = (bytes - done).min(WRITE_CHUNK as u64) as usize;
        s.fill(&mut buf[..n]);
        f.write_all(&buf[..n])
            .unwrap_or_else(|e| die(1, format!("write {path} at offset {done}: {e}")));
        done += n as u64;
    }
    f.sync_all()
        .unwrap_or_else(|e| die(1, format!("fsync {path}: {e}")));
    println!("generated {done} bytes in {path}");
}

/// The first offset where `got` and `want` differ, as a message.
fn mismatch(base: u64, got: &[u8], want: &[u8], how: &str) -> Option<String> {
    let i = got.iter().zip(want).position(|(a, b)| a != b)?;
    Some(format!(
        "mismatch at offset {} ({how}): got {:#04x}, expected {:#04x}",
        base + i as u64,
        got[i],
        want[i]
    ))
}

fn verify(path: &str, bytes: u64) {
    let mut f = File::open(path).unwrap_or_else(|e| die(1, format!("open {path}: {e}")));
    let size = f
        .metadata()
        .unwrap_or_else(|e| die(1, format!("fstat {path}: {e}")))
        .len();
    if size != bytes {
        die(1, format!("{path} has {size} bytes, expected {bytes}"));
    }

    // 1. read(2) in large requests, continuing short reads.
    let mut s = Stream::new();
    let mut got = vec![0u8; READ_CHUNK];
    let mut want = vec![0u8; READ_CHUNK];
    let mut off = 0u64;
    loop {
        let mut n = 0;
        while n < READ_CHUNK {
            match f.read(&mut got[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => die(1, format!("read {path} at offset {}: {e}", off + n as u64)),
            }
        }
        if n == 0 {
            break;
        }
        if off + n as u64 > bytes {
            die(
                1,
                format!("read past the expected end: {} bytes", off + n as u64),
            );
        }
        s.fill(&mut want[..n]);
        if let Some(msg) = mismatch(off, &got[..n], &want[..n], "read") {
            die(1, msg);
        }
        off += n as u64;
    }
    if off != bytes {
        die(1, format!("read hit EOF at offset {off}, expected {bytes}"));
    }
    drop(got);

    // 2. mmap of the whole file.
    if bytes > 0 {
        let len = bytes as usize;
        // SAFETY: a fresh read-only private mapping of an open file; unmapped below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                f.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            die(
                1,
                format!("mmap({len}) of {path}: {}", std::io::Error::last_os_error()),
            );
        }
        // SAFETY: the mapping is `len` readable bytes and lives until munmap.
        let mapped = unsafe { std::slice::from_raw_parts(p as *const u8, len) };
        let mut s = Stream::new();
        for (i, chunk) in mapped.chunks(READ_CHUNK).enumerate() {
            let want = &mut want[..chunk.len()];
            s.fill(want);
            if let Some(msg) = mismatch((i * READ_CHUNK) as u64, chunk, want, "mmap") {
                die(1, msg);
            }
        }
        // SAFETY: p/len are the mapping created above; `mapped` is not used again.
        if unsafe { libc::munmap(p, len) } != 0 {
            die(1, format!("munmap: {}", std::io::Error::last_os_error()));
        }
    }
    println!("verified {bytes} bytes");
}
