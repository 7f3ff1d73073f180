//! Deterministic payloads for large messages: a 16-byte header (sequence number and seed,
//! little-endian u64s) followed by a xorshift64* stream seeded from both, so any receiver
//! can check every byte of a message it got through shared memory without knowing more
//! than the message itself. Plus FNV-1a 64, the checksum the status line carries.

/// Bytes of the header (sequence number, seed).
pub const HEADER_LEN: usize = 16;

/// The message sizes of the large-message variant of rust-dataflow, cycled by sequence
/// number: all at or above Dora's 4096-byte zero-copy threshold (so every one travels in a
/// /dev/shm region), odd sizes included, up to 3 MiB.
pub const LARGE_SIZES: [usize; 7] = [4096, 4097, 12_345, 65_536, 300_000, 1 << 20, 3 * (1 << 20) + 5];

/// The size of large message number `seq` (1-based or 0-based alike: it only cycles).
pub fn large_size(seq: u64) -> usize {
    LARGE_SIZES[(seq % LARGE_SIZES.len() as u64) as usize]
}

/// The stream's starting state for (seq, seed); never 0 (xorshift's fixed point).
fn start_state(seq: u64, seed: u64) -> u64 {
    let mut z = seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64 finalizer, to spread nearby seeds apart
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    if z == 0 {
        0x2545_F491_4F6C_DD1D
    } else {
        z
    }
}

fn next(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Fills `buf` with the payload for (seq, seed). `buf` must hold at least the header.
pub fn fill(buf: &mut [u8], seq: u64, seed: u64) {
    assert!(buf.len() >= HEADER_LEN, "payload shorter than its header");
    buf[0..8].copy_from_slice(&seq.to_le_bytes());
    buf[8..16].copy_from_slice(&seed.to_le_bytes());
    let mut state = start_state(seq, seed);
    let mut chunks = buf[HEADER_LEN..].chunks_exact_mut(8);
    for chunk in &mut chunks {
        chunk.copy_from_slice(&next(&mut state).to_le_bytes());
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let word = next(&mut state).to_le_bytes();
        let n = rest.len();
        rest.copy_from_slice(&word[..n]);
    }
}

/// Checks a payload made by [`fill`]: returns its (seq, seed), or where it differs.
pub fn verify(buf: &[u8]) -> Result<(u64, u64), String> {
    if buf.len() < HEADER_LEN {
        return Err(format!("payload of {} bytes is shorter than its {HEADER_LEN}-byte header", buf.len()));
    }
    let seq = u64::from_le_bytes(buf[0..8].try_into().unwrap());
    let seed = u64::from_le_bytes(buf[8..16].try_into().unwrap());
    let mut state = start_state(seq, seed);
    let body = &buf[HEADER_LEN..];
    let mut chunks = body.chunks_exact(8);
    let mut offset = HEADER_LEN;
    for chunk in &mut chunks {
        let want = next(&mut state).to_le_bytes();
        if chunk != want {
            let at = chunk.iter().zip(want.iter()).position(|(a, b)| a != b).unwrap_or(0);
            return Err(format!(
                "payload seq {seq}: byte {} of {} is {:#04x}, expected {:#04x}",
                offset + at,
                buf.len(),
                chunk[at],
                want[at]
            ));
        }
        offset += 8;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let want = next(&mut state).to_le_bytes();
        if rest != &want[..rest.len()] {
            return Err(format!("payload seq {seq}: the last {} bytes differ", rest.len()));
        }
    }
    Ok((seq, seed))
}

/// FNV-1a, 64 bits.
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_then_verify_every_size() {
        for (i, &size) in LARGE_SIZES.iter().enumerate().take(5) {
            let mut buf = vec![0u8; size];
            fill(&mut buf, i as u64 + 1, 42);
            assert_eq!(verify(&buf).unwrap(), (i as u64 + 1, 42));
        }
        for size in [16, 17, 23, 24, 25] {
            let mut buf = vec![0u8; size];
            fill(&mut buf, 9, 7);
            assert_eq!(verify(&buf).unwrap(), (9, 7), "size {size}");
        }
    }

    #[test]
    fn one_flipped_byte_is_found() {
        let mut buf = vec![0u8; 4097];
        fill(&mut buf, 3, 99);
        for at in [16, 100, 4095, 4096] {
            let mut bad = buf.clone();
            bad[at] ^= 0x40;
            let err = verify(&bad).unwrap_err();
            if at < 4096 {
                assert!(err.contains(&format!("byte {at} ")), "{err}");
            } else {
                assert!(err.contains("last 1 bytes"), "{err}");
            }
        }
        // A different sequence number in the header makes the whole body wrong.
        let mut bad = buf.clone();
        bad[0] ^= 1;
        assert!(verify(&bad).is_err());
        assert!(verify(&buf[..10]).is_err());
    }

    #[test]
    fn payloads_differ_between_messages() {
        let mut a = vec![0u8; 64];
        let mut b = vec![0u8; 64];
        fill(&mut a, 1, 5);
        fill(&mut b, 2, 5);
        assert_ne!(a[16..], b[16..]);
    }

    #[test]
    fn fnv_known_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn large_sizes_use_shared_memory() {
        assert!(LARGE_SIZES.iter().all(|&s| s >= 4096));
        assert_eq!(large_size(0), 4096);
        assert_eq!(large_size(LARGE_SIZES.len() as u64), 4096);
    }
}
