//! The boot information block, read from QEMU's PVH `hvm_start_info`.
//!
//! Layout: Xen public header `arch/x86/hvm/start_info.h` (version 1 adds the memory map).
//! Parsing goes through a physical-memory reader so host tests can feed a synthetic block.

use heapless::{String, Vec};

/// `hvm_start_info.magic`.
pub const PVH_MAGIC: u32 = 0x336e_c578;

/// Kinds of memory in the E820-style map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemKind {
    Usable,
    Reserved,
    AcpiReclaimable,
    AcpiNvs,
    Unusable,
}

impl MemKind {
    fn from_e820(t: u32) -> Self {
        match t {
            1 => Self::Usable,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::Unusable,
            _ => Self::Reserved,
        }
    }
}

/// One range of physical memory, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRegion {
    pub start: u64,
    pub end: u64,
    pub kind: MemKind,
}

/// A module loaded by the boot loader (the initramfs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Module {
    pub start: u64,
    pub size: u64,
}

/// Everything Axle keeps from the boot loader.
#[derive(Clone, Debug, Default)]
pub struct BootInfo {
    pub memmap: Vec<MemRegion, 128>,
    pub cmdline: String<1024>,
    pub modules: Vec<Module, 8>,
    pub rsdp: Option<u64>,
    /// Physical range of the start-info block itself and the tables it points to.
    pub info_ranges: Vec<(u64, u64), 4>,
}

/// Why the boot block could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    BadMagic(u32),
    NoMemoryMap,
}

fn rd32(read: &dyn Fn(u64, &mut [u8]), pa: u64) -> u32 {
    let mut b = [0u8; 4];
    read(pa, &mut b);
    u32::from_le_bytes(b)
}
fn rd64(read: &dyn Fn(u64, &mut [u8]), pa: u64) -> u64 {
    let mut b = [0u8; 8];
    read(pa, &mut b);
    u64::from_le_bytes(b)
}

/// Parses the `hvm_start_info` block at `pa` using `read` to access physical memory.
pub fn parse_pvh(read: &dyn Fn(u64, &mut [u8]), pa: u64) -> Result<BootInfo, BootInfoError> {
    let magic = rd32(read, pa);
    if magic != PVH_MAGIC {
        return Err(BootInfoError::BadMagic(magic));
    }
    let version = rd32(read, pa + 4);
    let nr_modules = rd32(read, pa + 12);
    let modlist = rd64(read, pa + 16);
    let cmdline_pa = rd64(read, pa + 24);
    let rsdp = rd64(read, pa + 32);
    let mut info = BootInfo { rsdp: (rsdp != 0).then_some(rsdp), ..Default::default() };
    let _ = info.info_ranges.push((pa, pa + 56));
    if cmdline_pa != 0 {
        let mut chunk = [0u8; 64];
        'outer: for i in 0..16u64 {
            read(cmdline_pa + i * 64, &mut chunk);
            for &c in &chunk {
                if c == 0 || info.cmdline.push(c as char).is_err() {
                    break 'outer;
                }
            }
        }
    }
    for i in 0..u64::from(nr_modules.min(8)) {
        let e = modlist + i * 32;
        let m = Module { start: rd64(read, e), size: rd64(read, e + 8) };
        let _ = info.modules.push(m);
    }
    if nr_modules > 0 {
        let _ = info.info_ranges.push((modlist, modlist + u64::from(nr_modules) * 32));
    }
    if version >= 1 {
        let memmap = rd64(read, pa + 40);
        let entries = rd32(read, pa + 48);
        for i in 0..u64::from(entries.min(128)) {
            let e = memmap + i * 24;
            let (start, size, kind) = (rd64(read, e), rd64(read, e + 8), rd32(read, e + 16));
            let _ = info.memmap.push(MemRegion { start, end: start.saturating_add(size), kind: MemKind::from_e820(kind) });
        }
        let _ = info.info_ranges.push((memmap, memmap + u64::from(entries) * 24));
    }
    if info.memmap.is_empty() {
        return Err(BootInfoError::NoMemoryMap);
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_pvh_block() {
        let mut mem = vec![0u8; 0x4000];
        let w32 = |m: &mut std::vec::Vec<u8>, at: usize, v: u32| m[at..at + 4].copy_from_slice(&v.to_le_bytes());
        let w64 = |m: &mut std::vec::Vec<u8>, at: usize, v: u64| m[at..at + 8].copy_from_slice(&v.to_le_bytes());
        w32(&mut mem, 0x100, PVH_MAGIC);
        w32(&mut mem, 0x104, 1);
        w32(&mut mem, 0x10c, 1);
        w64(&mut mem, 0x110, 0x200);
        w64(&mut mem, 0x118, 0x300);
        w64(&mut mem, 0x120, 0xe0000);
        w64(&mut mem, 0x128, 0x400);
        w32(&mut mem, 0x130, 2);
        w64(&mut mem, 0x200, 0x7000_0000);
        w64(&mut mem, 0x208, 12345);
        mem[0x300..0x30a].copy_from_slice(b"log=debug\0");
        w64(&mut mem, 0x400, 0);
        w64(&mut mem, 0x408, 0x9fc00);
        w32(&mut mem, 0x410, 1);
        w64(&mut mem, 0x418, 0x100000);
        w64(&mut mem, 0x420, 0x7ff0_0000);
        w32(&mut mem, 0x428, 2);
        let read = |pa: u64, buf: &mut [u8]| {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = *mem.get(pa as usize + i).unwrap_or(&0);
            }
        };
        let info = parse_pvh(&read, 0x100).expect("parse");
        assert_eq!(info.cmdline.as_str(), "log=debug");
        assert_eq!(info.modules.as_slice(), &[Module { start: 0x7000_0000, size: 12345 }]);
        assert_eq!(info.rsdp, Some(0xe0000));
        assert_eq!(info.memmap[0], MemRegion { start: 0, end: 0x9fc00, kind: MemKind::Usable });
        assert_eq!(info.memmap[1].kind, MemKind::Reserved);
        assert_eq!(parse_pvh(&read, 0x200).unwrap_err(), BootInfoError::BadMagic(0x7000_0000));
    }
}
