//! Builds the vDSO: a one-page ELF shared object (`linux-vdso.so.1`) around the clock code,
//! exporting `__vdso_clock_gettime`, `__vdso_gettimeofday`, `__vdso_time` and
//! `__vdso_clock_getres` at version `LINUX_2.6`, with the dynamic section, SysV hash table
//! and symbol versions that musl's and glibc's vDSO lookups read.
//!
//! Reference: System V gABI (ELF header, program headers, dynamic section, hash table);
//! the LSB symbol-versioning sections (`.gnu.version`, `.gnu.version_d`).

use alloc::vec;
use alloc::vec::Vec;

/// Size of the image (one page; the code finds its data page from its own page).
pub const IMAGE_SIZE: usize = 4096;

const DT_NULL: u64 = 0;
const DT_HASH: u64 = 4;
const DT_STRTAB: u64 = 5;
const DT_SYMTAB: u64 = 6;
const DT_STRSZ: u64 = 10;
const DT_SYMENT: u64 = 11;
const DT_VERSYM: u64 = 0x6fff_fff0;
const DT_VERDEF: u64 = 0x6fff_fffc;
const DT_VERDEFNUM: u64 = 0x6fff_fffd;

/// The SysV ELF hash of a name.
pub fn elf_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &c in name {
        h = (h << 4).wrapping_add(u32::from(c));
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

fn put16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_le_bytes());
}
fn align(b: &mut Vec<u8>, to: usize) {
    while b.len() % to != 0 {
        b.push(0);
    }
}

/// Builds the image from the code bytes and the offsets of its functions in them
/// (`(name without the __vdso_ prefix, offset)`). `None` if it does not fit one page.
pub fn build(code: &[u8], funcs: &[(&str, usize)]) -> Option<Vec<u8>> {
    let nsyms = funcs.len() + 1;
    // String table.
    let mut strtab = vec![0u8];
    let mut name_off = Vec::new();
    for (n, _) in funcs {
        name_off.push(strtab.len() as u32);
        strtab.extend_from_slice(b"__vdso_");
        strtab.extend_from_slice(n.as_bytes());
        strtab.push(0);
    }
    let soname_off = strtab.len() as u32;
    strtab.extend_from_slice(b"linux-vdso.so.1\0");
    let ver_off = strtab.len() as u32;
    strtab.extend_from_slice(b"LINUX_2.6\0");

    // Lay out sections after the ELF and program headers.
    let phnum = 2usize;
    let dynsym_at = 64 + 56 * phnum;
    let dynstr_at = dynsym_at + 24 * nsyms;
    let hash_at = (dynstr_at + strtab.len()).next_multiple_of(8);
    let hash_len = 4 * (2 + 1 + nsyms);
    let versym_at = (hash_at + hash_len).next_multiple_of(2);
    let verdef_at = (versym_at + 2 * nsyms).next_multiple_of(4);
    let verdef_len = 2 * 28;
    let dynamic_at = (verdef_at + verdef_len).next_multiple_of(8);
    let dyn_entries: [(u64, u64); 9] = [
        (DT_HASH, hash_at as u64),
        (DT_STRTAB, dynstr_at as u64),
        (DT_SYMTAB, dynsym_at as u64),
        (DT_STRSZ, strtab.len() as u64),
        (DT_SYMENT, 24),
        (DT_VERSYM, versym_at as u64),
        (DT_VERDEF, verdef_at as u64),
        (DT_VERDEFNUM, 2),
        (DT_NULL, 0),
    ];
    let dynamic_len = 16 * dyn_entries.len();
    let code_at = (dynamic_at + dynamic_len).next_multiple_of(16);
    let total = code_at + code.len();
    if total > IMAGE_SIZE {
        return None;
    }

    let mut b = Vec::with_capacity(IMAGE_SIZE);
    // ELF header.
    b.extend_from_slice(b"\x7fELF");
    b.extend_from_slice(&[2, 1, 1, 0]);
    b.extend_from_slice(&[0; 8]);
    put16(&mut b, 3); // ET_DYN
    put16(&mut b, 62); // EM_X86_64
    put32(&mut b, 1);
    put64(&mut b, 0); // entry
    put64(&mut b, 64); // phoff
    put64(&mut b, 0); // shoff
    put32(&mut b, 0);
    put16(&mut b, 64);
    put16(&mut b, 56);
    put16(&mut b, phnum as u16);
    put16(&mut b, 64);
    put16(&mut b, 0);
    put16(&mut b, 0);
    // PT_LOAD (r-x), the whole image.
    put32(&mut b, 1);
    put32(&mut b, 5);
    for v in [0u64, 0, 0, total as u64, total as u64, 4096] {
        put64(&mut b, v);
    }
    // PT_DYNAMIC.
    put32(&mut b, 2);
    put32(&mut b, 4);
    for v in [dynamic_at as u64, dynamic_at as u64, dynamic_at as u64, dynamic_len as u64, dynamic_len as u64, 8] {
        put64(&mut b, v);
    }
    // .dynsym: null, then one global function per entry point.
    b.resize(dynsym_at + 24, 0);
    for (i, (_, off)) in funcs.iter().enumerate() {
        put32(&mut b, name_off[i]);
        b.push(0x12); // STB_GLOBAL | STT_FUNC
        b.push(0);
        put16(&mut b, 1); // a defined section
        put64(&mut b, (code_at + off) as u64);
        let next = funcs.iter().map(|f| f.1).filter(|&o| o > *off).min().unwrap_or(code.len());
        put64(&mut b, (next - off) as u64);
    }
    b.extend_from_slice(&strtab);
    // .hash: one bucket chaining every symbol.
    align(&mut b, 8);
    b.resize(hash_at, 0);
    put32(&mut b, 1);
    put32(&mut b, nsyms as u32);
    put32(&mut b, if nsyms > 1 { 1 } else { 0 });
    for i in 0..nsyms {
        put32(&mut b, if i == 0 || i + 1 >= nsyms { 0 } else { (i + 1) as u32 });
    }
    // .gnu.version: symbol 0 local, the rest version index 2 (LINUX_2.6).
    b.resize(versym_at, 0);
    put16(&mut b, 0);
    for _ in funcs {
        put16(&mut b, 2);
    }
    // .gnu.version_d: the base version (the soname) and LINUX_2.6.
    b.resize(verdef_at, 0);
    for (i, (flags, name, next)) in [(1u16, soname_off, 28u32), (0, ver_off, 0)].into_iter().enumerate() {
        put16(&mut b, 1);
        put16(&mut b, flags);
        put16(&mut b, (i + 1) as u16);
        put16(&mut b, 1);
        let s = &strtab[name as usize..];
        let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
        put32(&mut b, elf_hash(&s[..end]));
        put32(&mut b, 20);
        put32(&mut b, next);
        put32(&mut b, name);
        put32(&mut b, 0);
    }
    // .dynamic.
    b.resize(dynamic_at, 0);
    for (t, v) in dyn_entries {
        put64(&mut b, t);
        put64(&mut b, v);
    }
    b.resize(code_at, 0);
    b.extend_from_slice(code);
    b.resize(IMAGE_SIZE, 0);
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
        b[at..at + N].try_into().unwrap()
    }
    fn u16at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes(rd(b, at))
    }
    fn u32at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(rd(b, at))
    }
    fn u64at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(rd(b, at))
    }

    /// musl's `__vdsosym` algorithm, written from its documented behaviour: walk the program
    /// headers for PT_LOAD/PT_DYNAMIC, read the dynamic table, scan the symbols (count from
    /// the hash table), check type/binding/section and the version name.
    fn lookup(img: &[u8], vername: &str, name: &str) -> Option<u64> {
        let phoff = u64at(img, 32) as usize;
        let phnum = u16at(img, 56) as usize;
        let (mut base_adj, mut dynv) = (None, None);
        for i in 0..phnum {
            let p = phoff + i * 56;
            match u32at(img, p) {
                1 => base_adj = Some(u64at(img, p + 8) as i64 - u64at(img, p + 16) as i64),
                2 => dynv = Some(u64at(img, p + 8) as usize),
                _ => {}
            }
        }
        let (adj, mut d) = (base_adj?, dynv?);
        let (mut strtab, mut symtab, mut hash, mut versym, mut verdef) = (0, 0, 0, 0, 0);
        loop {
            let (t, v) = (u64at(img, d), u64at(img, d + 8));
            match t {
                0 => break,
                DT_STRTAB => strtab = (v as i64 + adj) as usize,
                DT_SYMTAB => symtab = (v as i64 + adj) as usize,
                DT_HASH => hash = (v as i64 + adj) as usize,
                DT_VERSYM => versym = (v as i64 + adj) as usize,
                DT_VERDEF => verdef = (v as i64 + adj) as usize,
                _ => {}
            }
            d += 16;
        }
        let cstr = |at: usize| {
            let s = &img[at..];
            std::str::from_utf8(&s[..s.iter().position(|&c| c == 0).unwrap()]).unwrap().to_string()
        };
        let nsym = u32at(img, hash + 4) as usize;
        for i in 0..nsym {
            let s = symtab + i * 24;
            let info = img[s + 4];
            if (1 << (info & 0xf)) & 0b111 == 0 || (1 << (info >> 4)) & 0b110 == 0 || u16at(img, s + 6) == 0 {
                continue;
            }
            if cstr(strtab + u32at(img, s) as usize) != name {
                continue;
            }
            // Version check.
            let ndx = u16at(img, versym + 2 * i) & 0x7fff;
            let mut vd = verdef;
            loop {
                if u16at(img, vd + 2) & 1 == 0 && u16at(img, vd + 4) & 0x7fff == ndx {
                    break;
                }
                let next = u32at(img, vd + 16);
                if next == 0 {
                    return None;
                }
                vd += next as usize;
            }
            let aux = vd + u32at(img, vd + 12) as usize;
            if cstr(strtab + u32at(img, aux) as usize) != vername {
                continue;
            }
            return Some((u64at(img, s + 8) as i64 + adj) as u64);
        }
        None
    }

    #[test]
    fn symbols_resolve_like_musl() {
        let code = vec![0xc3u8; 200];
        let img = build(&code, &[("clock_gettime", 0), ("gettimeofday", 40), ("time", 100), ("clock_getres", 150)]).unwrap();
        assert_eq!(img.len(), IMAGE_SIZE);
        let cg = lookup(&img, "LINUX_2.6", "__vdso_clock_gettime").expect("clock_gettime");
        let tod = lookup(&img, "LINUX_2.6", "__vdso_gettimeofday").expect("gettimeofday");
        let t = lookup(&img, "LINUX_2.6", "__vdso_time").expect("time");
        assert_eq!(tod - cg, 40);
        assert_eq!(t - cg, 100);
        assert_eq!(img[cg as usize], 0xc3, "symbol points into the code");
        assert_eq!(lookup(&img, "LINUX_2.6", "__vdso_getcpu"), None);
        assert_eq!(lookup(&img, "LINUX_9", "__vdso_time"), None);
    }

    #[test]
    fn parses_as_elf_with_xmas_elf() {
        let img = build(&[0x90; 64], &[("clock_gettime", 0)]).unwrap();
        let elf = xmas_elf::ElfFile::new(&img).expect("valid ELF");
        assert_eq!(elf.header.pt2.type_().as_type(), xmas_elf::header::Type::SharedObject);
        assert_eq!(elf.program_iter().count(), 2);
    }

    #[test]
    fn too_large_code_is_refused() {
        assert!(build(&[0u8; 4000], &[("time", 0)]).is_none());
    }

    #[test]
    fn elf_hash_matches_known_values() {
        assert_eq!(elf_hash(b""), 0);
        assert_eq!(elf_hash(b"printf"), 0x077905a6);
    }
}
