//! ELF executable checks and the plan for mapping it: which file ranges go where with
//! which rights, the entry point and where the program headers are (for `AT_PHDR`).
//!
//! Handles static (`ET_EXEC`) and static-pie (`ET_DYN`, no `PT_INTERP`) executables;
//! Rust's musl target produces static-pie with no `PT_PHDR`, so the program-header
//! address is derived from the `PT_LOAD` segment that contains `e_phoff`.
//! Reference: System V ABI, AMD64 supplement; Linux `fs/binfmt_elf.c` for the behaviour.

use alloc::string::String;
use alloc::vec::Vec;

use xmas_elf::header;
use xmas_elf::program::{ProgramHeader, Type};
use xmas_elf::ElfFile;

/// Page size.
const PAGE: u64 = 4096;
/// Highest address a segment may reach (user space end).
const USER_END: u64 = 0x0000_7fff_ffff_f000;

/// Segment permission bits (PROT_* values).
pub const PROT_READ: u32 = 1;
pub const PROT_WRITE: u32 = 2;
pub const PROT_EXEC: u32 = 4;

/// One loadable segment, with addresses relative to the load bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    pub prot: u32,
}

/// How to load an executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    pub segments: Vec<Segment>,
    /// Entry point (relative to the bias for ET_DYN).
    pub entry: u64,
    /// Address of the program headers in memory (relative), if they are mapped.
    pub phdr: Option<u64>,
    pub phnum: u16,
    pub phent: u16,
    /// Position independent: loaded at a bias chosen by the kernel.
    pub pie: bool,
    /// Requested interpreter (dynamic executables).
    pub interp: Option<String>,
    /// `PT_GNU_STACK` asks for an executable stack.
    pub exec_stack: bool,
    /// Lowest and highest (exclusive, page-aligned) relative addresses covered.
    pub lowest: u64,
    pub highest: u64,
}

/// Why a file cannot be executed (all map to ENOEXEC except `Truncated` to EIO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    NotElf,
    WrongClass,
    WrongMachine,
    WrongType,
    BadSegment(&'static str),
    NoSegments,
}

/// Whether `data` starts with the ELF magic.
pub fn is_elf(data: &[u8]) -> bool {
    data.len() >= 4 && &data[..4] == b"\x7fELF"
}

fn prot_of(flags: xmas_elf::program::Flags) -> u32 {
    let mut p = 0;
    if flags.is_read() {
        p |= PROT_READ;
    }
    if flags.is_write() {
        p |= PROT_WRITE;
    }
    if flags.is_execute() {
        p |= PROT_EXEC;
    }
    p
}

/// Checks an executable image and computes how to map it.
pub fn plan(data: &[u8]) -> Result<LoadPlan, ElfError> {
    plan_with_size(data, data.len() as u64)
}

/// Like [`plan`], where `data` is the start of a file of `file_size` bytes that holds at
/// least the ELF and program headers (and the interpreter path).
pub fn plan_with_size(data: &[u8], file_size: u64) -> Result<LoadPlan, ElfError> {
    if !is_elf(data) {
        return Err(ElfError::NotElf);
    }
    let elf = ElfFile::new(data).map_err(|_| ElfError::NotElf)?;
    let h = &elf.header;
    if h.pt1.class() != header::Class::SixtyFour || h.pt1.data() != header::Data::LittleEndian {
        return Err(ElfError::WrongClass);
    }
    if h.pt2.machine().as_machine() != header::Machine::X86_64 {
        return Err(ElfError::WrongMachine);
    }
    let pie = match h.pt2.type_().as_type() {
        header::Type::Executable => false,
        header::Type::SharedObject => true,
        _ => return Err(ElfError::WrongType),
    };
    let phoff = h.pt2.ph_offset();
    let phnum = h.pt2.ph_count();
    let phent = h.pt2.ph_entry_size();
    if phent != 56 || phnum == 0 || phnum > 512 {
        return Err(ElfError::BadSegment("program header table"));
    }
    let ph_end = phoff.checked_add(u64::from(phnum) * 56).ok_or(ElfError::BadSegment("program header table"))?;
    if ph_end > data.len() as u64 {
        return Err(ElfError::BadSegment("program header table"));
    }
    let mut segments = Vec::new();
    let mut phdr = None;
    let mut interp = None;
    let mut exec_stack = false;
    for ph in elf.program_iter() {
        let ProgramHeader::Ph64(p) = ph else { return Err(ElfError::WrongClass) };
        match p.get_type() {
            Ok(Type::Load) => {
                if p.mem_size == 0 {
                    continue;
                }
                if p.file_size > p.mem_size {
                    return Err(ElfError::BadSegment("file size above memory size"));
                }
                let fend = p.offset.checked_add(p.file_size).ok_or(ElfError::BadSegment("offset"))?;
                if fend > file_size {
                    return Err(ElfError::BadSegment("beyond end of file"));
                }
                if p.virtual_addr % PAGE != p.offset % PAGE {
                    return Err(ElfError::BadSegment("address and offset not congruent"));
                }
                let vend = p.virtual_addr.checked_add(p.mem_size).ok_or(ElfError::BadSegment("address"))?;
                if vend > USER_END {
                    return Err(ElfError::BadSegment("outside user space"));
                }
                segments.push(Segment {
                    vaddr: p.virtual_addr,
                    memsz: p.mem_size,
                    offset: p.offset,
                    filesz: p.file_size,
                    prot: prot_of(p.flags),
                });
            }
            Ok(Type::Phdr) => phdr = Some(p.virtual_addr),
            Ok(Type::Interp) => {
                let s = p.offset as usize;
                let e = s.saturating_add(p.file_size as usize).min(data.len());
                let raw = data.get(s..e).ok_or(ElfError::BadSegment("interpreter"))?;
                let raw = raw.split(|&b| b == 0).next().unwrap_or(&[]);
                interp = Some(String::from_utf8_lossy(raw).into_owned());
            }
            Ok(Type::OsSpecific(0x6474_e551)) => exec_stack = p.flags.is_execute(), // PT_GNU_STACK
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(ElfError::NoSegments);
    }
    segments.sort_by_key(|s| s.vaddr);
    // Segments may share a page (the linker packs them), but may not overlap.
    if segments.windows(2).any(|w| w[0].vaddr + w[0].memsz > w[1].vaddr) {
        return Err(ElfError::BadSegment("overlapping segments"));
    }
    if phdr.is_none() {
        phdr = segments
            .iter()
            .find(|s| s.offset <= phoff && ph_end <= s.offset + s.filesz)
            .map(|s| s.vaddr + (phoff - s.offset));
    }
    let lowest = segments[0].vaddr & !(PAGE - 1);
    let highest = segments.iter().map(|s| (s.vaddr + s.memsz + PAGE - 1) & !(PAGE - 1)).max().unwrap_or(0);
    Ok(LoadPlan { segments, entry: h.pt2.entry_point(), phdr, phnum, phent, pie, interp, exec_stack, lowest, highest })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 image: header + `phdrs` program headers + padding.
    fn image(kind: u16, phdrs: &[(u32, u32, u64, u64, u64, u64)], entry: u64) -> Vec<u8> {
        let mut d = vec![0u8; 0x3000];
        d[..4].copy_from_slice(b"\x7fELF");
        d[4] = 2; // 64-bit
        d[5] = 1; // little endian
        d[6] = 1;
        d[16..18].copy_from_slice(&kind.to_le_bytes());
        d[18..20].copy_from_slice(&62u16.to_le_bytes());
        d[20..24].copy_from_slice(&1u32.to_le_bytes());
        d[24..32].copy_from_slice(&entry.to_le_bytes());
        d[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        d[52..54].copy_from_slice(&64u16.to_le_bytes());
        d[54..56].copy_from_slice(&56u16.to_le_bytes());
        d[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for (i, &(t, f, off, va, fsz, msz)) in phdrs.iter().enumerate() {
            let o = 64 + i * 56;
            d[o..o + 4].copy_from_slice(&t.to_le_bytes());
            d[o + 4..o + 8].copy_from_slice(&f.to_le_bytes());
            d[o + 8..o + 16].copy_from_slice(&off.to_le_bytes());
            d[o + 16..o + 24].copy_from_slice(&va.to_le_bytes());
            d[o + 24..o + 32].copy_from_slice(&va.to_le_bytes());
            d[o + 32..o + 40].copy_from_slice(&fsz.to_le_bytes());
            d[o + 40..o + 48].copy_from_slice(&msz.to_le_bytes());
            d[o + 48..o + 56].copy_from_slice(&0x1000u64.to_le_bytes());
        }
        d
    }

    #[test]
    fn static_pie_without_pt_phdr() {
        // PT_LOAD r-x at 0 covering the headers, PT_LOAD rw- with bss, PT_GNU_STACK rw-.
        let d = image(3, &[(1, 5, 0, 0, 0x1000, 0x1000), (1, 6, 0x1000, 0x2000, 0x800, 0x3000), (0x6474e551, 6, 0, 0, 0, 0)], 0x120);
        let p = plan(&d).unwrap();
        assert!(p.pie);
        assert_eq!(p.phdr, Some(64), "derived from the first PT_LOAD");
        assert_eq!(p.entry, 0x120);
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.segments[1], Segment { vaddr: 0x2000, memsz: 0x3000, offset: 0x1000, filesz: 0x800, prot: PROT_READ | PROT_WRITE });
        assert_eq!((p.lowest, p.highest), (0, 0x5000));
        assert!(!p.exec_stack && p.interp.is_none());
    }

    #[test]
    fn static_exec_with_pt_phdr() {
        let d = image(2, &[(6, 4, 64, 0x400040, 112, 112), (1, 5, 0, 0x400000, 0x1000, 0x1000)], 0x401000);
        let p = plan(&d).unwrap();
        assert!(!p.pie);
        assert_eq!(p.phdr, Some(0x400040));
    }

    #[test]
    fn rejections() {
        assert_eq!(plan(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        let mut d = image(3, &[(1, 5, 0, 0, 0x1000, 0x1000)], 0);
        d[18] = 3; // EM_386
        assert_eq!(plan(&d), Err(ElfError::WrongMachine));
        let d = image(1, &[(1, 5, 0, 0, 0x1000, 0x1000)], 0);
        assert_eq!(plan(&d), Err(ElfError::WrongType), "relocatable objects do not run");
        let d = image(3, &[(1, 5, 0, 0, 0x9000, 0x9000)], 0);
        assert_eq!(plan(&d), Err(ElfError::BadSegment("beyond end of file")));
        let d = image(3, &[(1, 5, 0x10, 0, 0x100, 0x100)], 0);
        assert_eq!(plan(&d), Err(ElfError::BadSegment("address and offset not congruent")));
        let d = image(3, &[(1, 5, 0, 0, 0x200, 0x100)], 0);
        assert_eq!(plan(&d), Err(ElfError::BadSegment("file size above memory size")));
        let d = image(3, &[(0x6474e551, 6, 0, 0, 0, 0)], 0);
        assert_eq!(plan(&d), Err(ElfError::NoSegments));
    }
}
