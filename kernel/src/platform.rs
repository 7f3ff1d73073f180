//! Platform glue between `board`'s PCI/virtio drivers and the kernel core: DMA memory and
//! MMIO mappings from `rtos::mm` ([`KernelPlatform`]), and placement of PCI memory BARs that
//! firmware left unassigned ([`assign_bars`]; qboot assigns none).

use board::pci::{self, Bar, BarWindow, ConfigAccess, Function, MmioMapper};
use board::virtio::DmaPlatform;
use rtos::boot::info::BootInfo;

/// Where unassigned 32-bit memory BARs go on q35: above the MMCONFIG window
/// (0xb000_0000-0xbfff_ffff), below the I/O APIC. RAM and assigned BARs are avoided.
const BAR_WINDOW: (u64, u64) = (0xc000_0000, 0xfec0_0000);

/// DMA memory and MMIO mappings for `board`'s drivers, from `rtos::mm`.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelPlatform;

impl MmioMapper for KernelPlatform {
    fn map_mmio(&self, phys: u64, len: usize) -> *mut u8 {
        rtos::mm::kmap::map_mmio(phys, len as u64) as *mut u8
    }
}

impl DmaPlatform for KernelPlatform {
    fn alloc_dma(&self, bytes: usize) -> Option<(u64, *mut u8)> {
        rtos::mm::dma_alloc(bytes)
    }

    fn free_dma(&self, phys: u64, _virt: *mut u8, bytes: usize) {
        rtos::mm::dma_free(phys, bytes);
    }
}

/// Gives `func`'s unassigned memory BARs addresses in [`BAR_WINDOW`], avoiding the memory
/// map and every BAR already assigned on the bus. Returns how many were placed.
pub fn assign_bars<C: ConfigAccess>(boot: &BootInfo, cfg: &C, func: &Function<'_, C>) -> Result<usize, pci::PciError> {
    if !func.bars().iter().flatten().any(|b| matches!(b, Bar::Memory { address: 0, .. })) {
        return Ok(0);
    }
    let mut window = BarWindow { next: BAR_WINDOW.0, end: BAR_WINDOW.1 };
    for r in boot.memmap.iter() {
        window.avoid(r.start, r.end.saturating_sub(r.start));
    }
    pci::enumerate(cfg, |info| {
        for bar in Function::new(cfg, info.bdf).bars().into_iter().flatten() {
            if let Bar::Memory { address, size, .. } = bar {
                if address != 0 {
                    window.avoid(address, size);
                }
            }
        }
    });
    func.assign_memory_bars(&mut window)
}

