//! The initial user stack of a new program: strings, then (16-byte aligned) argc, argv
//! pointers, NULL, envp pointers, NULL, and the auxiliary vector — the layout the System V
//! AMD64 ABI (3.4.1) and Linux `create_elf_tables` give a process at its entry point.

use alloc::vec;
use alloc::vec::Vec;

/// Auxiliary vector keys (Linux `include/uapi/linux/auxvec.h`).
pub mod at {
    pub const NULL: u64 = 0;
    pub const PHDR: u64 = 3;
    pub const PHENT: u64 = 4;
    pub const PHNUM: u64 = 5;
    pub const PAGESZ: u64 = 6;
    pub const BASE: u64 = 7;
    pub const FLAGS: u64 = 8;
    pub const ENTRY: u64 = 9;
    pub const UID: u64 = 11;
    pub const EUID: u64 = 12;
    pub const GID: u64 = 13;
    pub const EGID: u64 = 14;
    pub const PLATFORM: u64 = 15;
    pub const HWCAP: u64 = 16;
    pub const CLKTCK: u64 = 17;
    pub const SECURE: u64 = 23;
    pub const RANDOM: u64 = 25;
    pub const HWCAP2: u64 = 26;
    pub const EXECFN: u64 = 31;
    pub const SYSINFO_EHDR: u64 = 33;
    pub const MINSIGSTKSZ: u64 = 51;
}

/// The stack contents to copy to `[sp, top)`.
#[derive(Debug)]
pub struct StackImage {
    pub sp: u64,
    pub bytes: Vec<u8>,
}

/// Lays out the initial stack below `top` (16-byte aligned). `auxv` must not contain
/// `AT_RANDOM`, `AT_PLATFORM`, `AT_EXECFN` or `AT_NULL`: they are added here, pointing
/// into the string area.
pub fn build(top: u64, argv: &[&[u8]], envp: &[&[u8]], auxv: &[(u64, u64)], execfn: &[u8], random: [u8; 16]) -> StackImage {
    // Strings area, built downwards from `top`.
    let mut strings: Vec<u8> = Vec::new();
    let mut push_str = |s: &[u8]| -> u64 {
        // Offset from `top` of the string start, filled in below.
        strings.extend_from_slice(s);
        strings.push(0);
        strings.len() as u64
    };
    let execfn_end = push_str(execfn);
    let argv_ends: Vec<u64> = argv.iter().map(|a| push_str(a)).collect();
    let envp_ends: Vec<u64> = envp.iter().map(|e| push_str(e)).collect();
    let platform_end = push_str(b"x86_64");
    let str_len = strings.len() as u64;
    let str_base = top - str_len;
    let addr_of = |end: u64, len: usize| str_base + end - len as u64 - 1;
    let random_addr = (str_base - 16) & !15;
    // Pointer area.
    let mut words: Vec<u64> = vec![argv.len() as u64];
    for (a, &e) in argv.iter().zip(&argv_ends) {
        words.push(addr_of(e, a.len()));
    }
    words.push(0);
    for (v, &e) in envp.iter().zip(&envp_ends) {
        words.push(addr_of(e, v.len()));
    }
    words.push(0);
    for &(k, v) in auxv {
        words.extend_from_slice(&[k, v]);
    }
    words.extend_from_slice(&[at::RANDOM, random_addr]);
    words.extend_from_slice(&[at::PLATFORM, addr_of(platform_end, 6)]);
    words.extend_from_slice(&[at::EXECFN, addr_of(execfn_end, execfn.len())]);
    words.extend_from_slice(&[at::NULL, 0]);
    let sp = (random_addr - words.len() as u64 * 8) & !15;
    let mut bytes = vec![0u8; (top - sp) as usize];
    for (i, w) in words.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    let r = (random_addr - sp) as usize;
    bytes[r..r + 16].copy_from_slice(&random);
    let s = (str_base - sp) as usize;
    bytes[s..].copy_from_slice(&strings);
    StackImage { sp, bytes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(img: &StackImage, addr: u64) -> u64 {
        let o = (addr - img.sp) as usize;
        u64::from_le_bytes(img.bytes[o..o + 8].try_into().unwrap())
    }

    fn cstr(img: &StackImage, addr: u64) -> Vec<u8> {
        let o = (addr - img.sp) as usize;
        img.bytes[o..].iter().take_while(|&&b| b != 0).copied().collect()
    }

    #[test]
    fn layout_matches_the_abi() {
        let top = 0x7fff_ffff_f000;
        let img = build(top, &[b"/add/prog", b"3", b"x"], &[b"HOME=/root"], &[(at::PAGESZ, 4096), (at::ENTRY, 0x1234)], b"/add/prog", [7; 16]);
        assert_eq!(img.sp % 16, 0);
        assert_eq!(img.sp + img.bytes.len() as u64, top);
        assert_eq!(word(&img, img.sp), 3, "argc");
        assert_eq!(cstr(&img, word(&img, img.sp + 8)), b"/add/prog");
        assert_eq!(cstr(&img, word(&img, img.sp + 24)), b"x");
        assert_eq!(word(&img, img.sp + 32), 0, "argv terminator");
        assert_eq!(cstr(&img, word(&img, img.sp + 40)), b"HOME=/root");
        assert_eq!(word(&img, img.sp + 48), 0, "envp terminator");
        // auxv
        let mut a = img.sp + 56;
        let mut aux = std::collections::BTreeMap::new();
        loop {
            let (k, v) = (word(&img, a), word(&img, a + 8));
            if k == at::NULL {
                break;
            }
            aux.insert(k, v);
            a += 16;
        }
        assert_eq!(aux[&at::PAGESZ], 4096);
        assert_eq!(aux[&at::ENTRY], 0x1234);
        assert_eq!(cstr(&img, aux[&at::PLATFORM]), b"x86_64");
        assert_eq!(cstr(&img, aux[&at::EXECFN]), b"/add/prog");
        let r = (aux[&at::RANDOM] - img.sp) as usize;
        assert_eq!(&img.bytes[r..r + 16], &[7; 16]);
        assert_eq!(aux[&at::RANDOM] % 16, 0);
    }
}
