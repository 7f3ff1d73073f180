//! A sparse, growable set of page frames backing a memory object: tmpfs and `/dev/shm`
//! files, memfds and shared anonymous mappings. Every process that maps the object maps
//! these very frames, so `MAP_SHARED` is the same physical memory everywhere.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use super::addrspace::{FaultError, MemObject};
use super::frame::{self, Pfn};
use super::layout::PAGE_SIZE;
use crate::sync::SpinLock;

/// Frames of one object, by page index.
pub struct PageStore {
    pages: SpinLock<BTreeMap<u64, Pfn>>,
    size: AtomicU64,
}

/// Out of memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoMemory;

impl Default for PageStore {
    fn default() -> Self {
        Self::new(0)
    }
}

impl PageStore {
    /// An object of `size` bytes (all zero).
    pub fn new(size: u64) -> Self {
        Self { pages: SpinLock::new(BTreeMap::new()), size: AtomicU64::new(size) }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// Frames currently allocated.
    pub fn resident_pages(&self) -> usize {
        self.pages.lock().len()
    }

    /// The frame of page `idx`, allocated zeroed if absent. Does not take a reference.
    fn frame_of(&self, idx: u64) -> Result<Pfn, NoMemory> {
        if let Some(&p) = self.pages.lock().get(&idx) {
            return Ok(p);
        }
        let new = frame::alloc_zeroed().ok_or(NoMemory)?;
        let mut pages = self.pages.lock();
        match pages.get(&idx) {
            Some(&p) => {
                drop(pages);
                frame::put(new);
                Ok(p)
            }
            None => {
                pages.insert(idx, new);
                Ok(new)
            }
        }
    }

    /// Reads at `offset` (up to the size); returns the bytes read.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> usize {
        let size = self.size();
        if offset >= size {
            return 0;
        }
        let n = buf.len().min((size - offset) as usize);
        let mut done = 0;
        while done < n {
            let pos = offset + done as u64;
            let (idx, off) = (pos / PAGE_SIZE, (pos % PAGE_SIZE) as usize);
            let chunk = (n - done).min(PAGE_SIZE as usize - off);
            let page = self.pages.lock().get(&idx).copied();
            match page {
                Some(p) => frame::read(p, off, &mut buf[done..done + chunk]),
                None => buf[done..done + chunk].fill(0),
            }
            done += chunk;
        }
        n
    }

    /// Writes at `offset`, growing the object; returns the bytes written (short on OOM).
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<usize, NoMemory> {
        let mut done = 0;
        while done < data.len() {
            let pos = offset + done as u64;
            let (idx, off) = (pos / PAGE_SIZE, (pos % PAGE_SIZE) as usize);
            let chunk = (data.len() - done).min(PAGE_SIZE as usize - off);
            let p = match self.frame_of(idx) {
                Ok(p) => p,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            frame::write(p, off, &data[done..done + chunk]);
            done += chunk;
            self.size.fetch_max(pos + chunk as u64, Ordering::AcqRel);
        }
        Ok(done)
    }

    /// Sets the size; pages wholly beyond it are released, the tail of a partial last page
    /// is zeroed.
    pub fn truncate(&self, size: u64) {
        let old = self.size.swap(size, Ordering::AcqRel);
        if size >= old {
            return;
        }
        let first_gone = size.div_ceil(PAGE_SIZE);
        let freed: Vec<Pfn> = {
            let mut pages = self.pages.lock();
            let tail = pages.split_off(&first_gone);
            if size % PAGE_SIZE != 0 {
                if let Some(&p) = pages.get(&(size / PAGE_SIZE)) {
                    let off = (size % PAGE_SIZE) as usize;
                    frame::write(p, off, &[0u8; PAGE_SIZE as usize][..PAGE_SIZE as usize - off]);
                }
            }
            tail.into_values().collect()
        };
        freed.into_iter().for_each(frame::put);
    }

    /// Makes sure pages for `[offset, offset+len)` exist (fallocate), growing the size.
    pub fn allocate(&self, offset: u64, len: u64) -> Result<(), NoMemory> {
        let end = offset.checked_add(len).ok_or(NoMemory)?;
        let mut idx = offset / PAGE_SIZE;
        while idx * PAGE_SIZE < end {
            self.frame_of(idx)?;
            idx += 1;
        }
        self.size.fetch_max(end, Ordering::AcqRel);
        Ok(())
    }
}

impl Drop for PageStore {
    fn drop(&mut self) {
        for (_, p) in core::mem::take(&mut *self.pages.lock()) {
            frame::put(p);
        }
    }
}

impl MemObject for PageStore {
    fn page(&self, index: u64) -> Result<Pfn, FaultError> {
        if index * PAGE_SIZE >= self.size() {
            return Err(FaultError::Bus);
        }
        let p = self.frame_of(index).map_err(|_| FaultError::NoMemory)?;
        frame::get(p);
        Ok(p)
    }
}
