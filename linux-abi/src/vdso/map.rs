//! Mapping the vDSO and its data page into address spaces, and keeping the data page current.

use alloc::sync::Arc;

use rtos::mm::addrspace::{AddressSpace, MemObject, Placement, Prot, Vma, VmFlags, VmaName};
use rtos::mm::pagestore::PageStore;

use crate::errno::Errno;
use crate::fs::ramfs::StoreObject;

struct Pages {
    vvar: Arc<StoreObject>,
    vdso: Arc<StoreObject>,
}

static PAGES: spin::Once<Option<Pages>> = spin::Once::new();

fn write_vvar(store: &PageStore, seq: u32) {
    let (tsc_base, mult, rt) = rtos::time::clock::vdso_params();
    let mut b = [0u8; 32];
    b[0..4].copy_from_slice(&seq.to_le_bytes());
    b[8..16].copy_from_slice(&tsc_base.to_le_bytes());
    b[16..24].copy_from_slice(&mult.to_le_bytes());
    b[24..32].copy_from_slice(&rt.to_le_bytes());
    let _ = store.write(0, &b);
}

fn pages() -> Option<&'static Pages> {
    PAGES
        .call_once(|| {
            let (code, funcs) = rtos::arch::x86_64::vdso_code::code();
            let img = super::image::build(code, &funcs)?;
            let vdso = PageStore::new(0);
            vdso.write(0, &img).ok()?;
            let vvar = PageStore::new(4096);
            write_vvar(&vvar, 0);
            Some(Pages { vvar: Arc::new(StoreObject(vvar)), vdso: Arc::new(StoreObject(vdso)) })
        })
        .as_ref()
}

static SEQ: spin::Mutex<u32> = spin::Mutex::new(0);

/// Republishes the clock parameters after CLOCK_REALTIME changed (seqlock: odd while writing).
pub fn clock_changed() {
    let Some(p) = pages() else { return };
    let mut seq = SEQ.lock();
    *seq += 1;
    let _ = p.vvar.0.write(0, &seq.to_le_bytes());
    write_vvar(&p.vvar.0, *seq + 1);
    *seq += 1;
}

/// Maps the data page and the vDSO into `mm`; returns (vDSO address, data page address).
pub fn map(mm: &Arc<AddressSpace>) -> Result<(u64, u64), Errno> {
    let Some(p) = pages() else { return Ok((0, 0)) };
    let mut inner = mm.lock();
    let base = inner.vmas.find_gap_topdown(2 * 4096, rtos::mm::addrspace::MMAP_MIN, inner.mmap_base).ok_or(Errno::ENOMEM)?;
    let vvar = Vma { prot: Prot::READ, flags: VmFlags::SHARED, object: Some(p.vvar.clone() as Arc<dyn MemObject>), offset: 0, name: VmaName::Vvar };
    let vdso = Vma { prot: Prot::READ | Prot::EXEC, flags: VmFlags::SHARED, object: Some(p.vdso.clone() as Arc<dyn MemObject>), offset: 0, name: VmaName::Vdso };
    mm.map(&mut inner, Placement::FixedNoReplace(base), 4096, vvar).map_err(|_| Errno::ENOMEM)?;
    mm.map(&mut inner, Placement::FixedNoReplace(base + 4096), 4096, vdso).map_err(|_| Errno::ENOMEM)?;
    Ok((base + 4096, base))
}
