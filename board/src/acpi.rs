//! ACPI table discovery: RSDP -> RSDT/XSDT -> MADT (CPUs, I/O APICs, IRQ overrides), HPET.
//!
//! Reference: ACPI Specification 6.5, section 5.2 (RSDP 5.2.5, XSDT 5.2.8, MADT 5.2.12,
//! HPET: IA-PC HPET specification 1.0a, table 3). Pure parsing over a physical-memory
//! reader, so host unit tests can feed synthetic tables.

/// Reads physical memory for the parser (the kernel reads through its direct map).
pub trait PhysRead {
    /// Fills `buf` from physical address `paddr`.
    fn read(&self, paddr: u64, buf: &mut [u8]);
}

/// A processor found in the MADT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    pub apic_id: u32,
    pub acpi_id: u32,
}

/// An I/O APIC found in the MADT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApicInfo {
    pub id: u8,
    pub address: u64,
    pub gsi_base: u32,
}

/// An ISA IRQ redirected to another global system interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqOverride {
    pub isa_irq: u8,
    pub gsi: u32,
    /// MPS INTI flags: bits 0-1 polarity (3 = active low), bits 2-3 trigger (3 = level).
    pub flags: u16,
}

/// What Axle needs from the ACPI tables.
#[derive(Clone, Debug)]
pub struct PlatformInfo {
    pub lapic_address: u64,
    pub cpus: [Option<Cpu>; MAX_CPUS],
    pub cpu_count: usize,
    pub ioapics: [Option<IoApicInfo>; 4],
    pub overrides: [Option<IrqOverride>; 16],
    pub hpet_address: Option<u64>,
}

/// Most CPUs Axle supports.
pub const MAX_CPUS: usize = 64;

/// Why the tables could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcpiError {
    NoRsdp,
    BadChecksum(&'static str),
    NoMadt,
}

fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)) == 0
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from(u32_at(b, o)) | (u64::from(u32_at(b, o + 4)) << 32)
}

/// Searches the BIOS read-only area (0xE0000-0xFFFFF) for the "RSD PTR " signature.
pub fn find_rsdp(mem: &dyn PhysRead) -> Option<u64> {
    let mut buf = [0u8; 20];
    let mut addr = 0xe0000u64;
    while addr < 0x100000 {
        mem.read(addr, &mut buf);
        if &buf[..8] == b"RSD PTR " && checksum_ok(&buf) {
            return Some(addr);
        }
        addr += 16;
    }
    None
}

/// Reads a whole table (header length) into `out`; returns its length.
fn read_table(mem: &dyn PhysRead, paddr: u64, out: &mut [u8]) -> usize {
    let mut hdr = [0u8; 36];
    mem.read(paddr, &mut hdr);
    let len = (u32_at(&hdr, 4) as usize).min(out.len());
    mem.read(paddr, &mut out[..len]);
    len
}

/// Parses the tables reachable from the RSDP at `rsdp`.
pub fn parse(mem: &dyn PhysRead, rsdp: u64) -> Result<PlatformInfo, AcpiError> {
    let mut r = [0u8; 36];
    mem.read(rsdp, &mut r);
    if &r[..8] != b"RSD PTR " {
        return Err(AcpiError::NoRsdp);
    }
    if !checksum_ok(&r[..20]) {
        return Err(AcpiError::BadChecksum("RSDP"));
    }
    let revision = r[15];
    let (root, entry_size) = if revision >= 2 && u64_at(&r, 24) != 0 {
        (u64_at(&r, 24), 8)
    } else {
        (u64::from(u32_at(&r, 16)), 4)
    };
    let mut root_buf = [0u8; 1024];
    let root_len = read_table(mem, root, &mut root_buf);
    if root_len < 36 || !checksum_ok(&root_buf[..root_len]) {
        return Err(AcpiError::BadChecksum("RSDT/XSDT"));
    }
    let mut info = PlatformInfo::default();
    let mut found_madt = false;
    let mut table = [0u8; 4096];
    let mut off = 36;
    while off + entry_size <= root_len {
        let addr = if entry_size == 8 { u64_at(&root_buf, off) } else { u64::from(u32_at(&root_buf, off)) };
        off += entry_size;
        let len = read_table(mem, addr, &mut table);
        if len < 36 {
            continue;
        }
        match &table[..4] {
            b"APIC" => {
                parse_madt(&table[..len], &mut info);
                found_madt = true;
            }
            b"HPET" if len >= 56 => {
                info.hpet_address = Some(u64_at(&table, 44));
            }
            _ => {}
        }
    }
    if found_madt {
        Ok(info)
    } else {
        Err(AcpiError::NoMadt)
    }
}

fn parse_madt(t: &[u8], info: &mut PlatformInfo) {
    info.lapic_address = u64::from(u32_at(t, 36));
    let mut off = 44;
    let (mut nio, mut nov) = (0, 0);
    while off + 2 <= t.len() {
        let (kind, len) = (t[off], t[off + 1] as usize);
        if len < 2 || off + len > t.len() {
            break;
        }
        let e = &t[off..off + len];
        match kind {
            0 if len >= 8 => {
                let flags = u32_at(e, 4);
                if flags & 3 != 0 && info.cpu_count < MAX_CPUS {
                    info.cpus[info.cpu_count] = Some(Cpu { apic_id: u32::from(e[3]), acpi_id: u32::from(e[2]) });
                    info.cpu_count += 1;
                }
            }
            1 if len >= 12 && nio < info.ioapics.len() => {
                info.ioapics[nio] = Some(IoApicInfo { id: e[2], address: u64::from(u32_at(e, 4)), gsi_base: u32_at(e, 8) });
                nio += 1;
            }
            2 if len >= 10 && nov < info.overrides.len() => {
                info.overrides[nov] = Some(IrqOverride { isa_irq: e[3], gsi: u32_at(e, 4), flags: u16_at(e, 8) });
                nov += 1;
            }
            5 if len >= 12 => info.lapic_address = u64_at(e, 4),
            9 if len >= 16 => {
                let flags = u32_at(e, 8);
                if flags & 3 != 0 && info.cpu_count < MAX_CPUS {
                    info.cpus[info.cpu_count] = Some(Cpu { apic_id: u32_at(e, 4), acpi_id: u32_at(e, 12) });
                    info.cpu_count += 1;
                }
            }
            _ => {}
        }
        off += len;
    }
}

impl Default for PlatformInfo {
    fn default() -> Self {
        Self { lapic_address: 0xfee0_0000, cpus: [None; MAX_CPUS], cpu_count: 0, ioapics: [None; 4], overrides: [None; 16], hpet_address: None }
    }
}

impl PlatformInfo {
    /// The GSI and MPS flags an ISA IRQ is wired to.
    pub fn isa_irq_gsi(&self, irq: u8) -> (u32, u16) {
        self.overrides
            .iter()
            .flatten()
            .find(|o| o.isa_irq == irq)
            .map_or((u32::from(irq), 0), |o| (o.gsi, o.flags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Mem(BTreeMap<u64, Vec<u8>>);
    impl PhysRead for Mem {
        fn read(&self, paddr: u64, buf: &mut [u8]) {
            buf.fill(0);
            for (&base, bytes) in &self.0 {
                for (i, b) in buf.iter_mut().enumerate() {
                    let a = paddr + i as u64;
                    if a >= base && a < base + bytes.len() as u64 {
                        *b = bytes[(a - base) as usize];
                    }
                }
            }
        }
    }

    fn fix_checksum(t: &mut [u8], at: usize) {
        t[at] = 0;
        let s = t.iter().fold(0u8, |a, &b| a.wrapping_add(b));
        t[at] = 0u8.wrapping_sub(s);
    }

    fn table(sig: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut t = vec![0u8; 36];
        t[..4].copy_from_slice(sig);
        t.extend_from_slice(body);
        let len = t.len() as u32;
        t[4..8].copy_from_slice(&len.to_le_bytes());
        fix_checksum(&mut t, 9);
        t
    }

    fn machine() -> Mem {
        let mut madt = vec![];
        madt.extend_from_slice(&0xfee0_0000u32.to_le_bytes());
        madt.extend_from_slice(&1u32.to_le_bytes());
        for (acpi, apic, flags) in [(0u8, 0u8, 1u32), (1, 2, 1), (2, 4, 0)] {
            madt.extend_from_slice(&[0, 8, acpi, apic]);
            madt.extend_from_slice(&flags.to_le_bytes());
        }
        madt.extend_from_slice(&[1, 12, 7, 0]);
        madt.extend_from_slice(&0xfec0_0000u32.to_le_bytes());
        madt.extend_from_slice(&0u32.to_le_bytes());
        madt.extend_from_slice(&[2, 10, 0, 0]);
        madt.extend_from_slice(&2u32.to_le_bytes());
        madt.extend_from_slice(&0u16.to_le_bytes());
        let madt = table(b"APIC", &madt);
        let mut hpet = vec![0u8; 20];
        hpet[8..16].copy_from_slice(&0xfed0_0000u64.to_le_bytes());
        let hpet = table(b"HPET", &hpet);
        let mut rsdt = vec![];
        rsdt.extend_from_slice(&0x2000u32.to_le_bytes());
        rsdt.extend_from_slice(&0x3000u32.to_le_bytes());
        let rsdt = table(b"RSDT", &rsdt);
        let mut rsdp = vec![0u8; 20];
        rsdp[..8].copy_from_slice(b"RSD PTR ");
        rsdp[16..20].copy_from_slice(&0x1000u32.to_le_bytes());
        fix_checksum(&mut rsdp, 8);
        Mem(BTreeMap::from([(0xe0010, rsdp), (0x1000, rsdt), (0x2000, madt), (0x3000, hpet)]))
    }

    #[test]
    fn finds_rsdp_and_parses_madt() {
        let m = machine();
        let rsdp = find_rsdp(&m).expect("rsdp");
        assert_eq!(rsdp, 0xe0010);
        let info = parse(&m, rsdp).expect("parse");
        assert_eq!(info.lapic_address, 0xfee0_0000);
        assert_eq!(info.cpu_count, 2, "disabled CPU skipped");
        assert_eq!(info.cpus[1], Some(Cpu { apic_id: 2, acpi_id: 1 }));
        assert_eq!(info.ioapics[0], Some(IoApicInfo { id: 7, address: 0xfec0_0000, gsi_base: 0 }));
        assert_eq!(info.isa_irq_gsi(0), (2, 0));
        assert_eq!(info.isa_irq_gsi(4), (4, 0));
        assert_eq!(info.hpet_address, Some(0xfed0_0000));
    }

    #[test]
    fn bad_checksum_is_an_error() {
        let mut m = machine();
        m.0.get_mut(&0x1000).unwrap()[20] ^= 0xff;
        assert_eq!(parse(&m, 0xe0010).unwrap_err(), AcpiError::BadChecksum("RSDT/XSDT"));
    }
}
