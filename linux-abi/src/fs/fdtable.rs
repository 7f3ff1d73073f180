//! File descriptor tables: numbers to open file descriptions, with the per-descriptor
//! close-on-exec flag. Threads share one table; `fork` copies it.

use alloc::sync::Arc;
use alloc::vec::Vec;

use rtos::sync::SpinLock;

use super::file::File;
use crate::errno::Errno;

/// One descriptor.
#[derive(Clone)]
pub struct FdEntry {
    pub file: Arc<File>,
    pub cloexec: bool,
}

/// A descriptor table.
#[derive(Default)]
pub struct FdTable {
    fds: SpinLock<Vec<Option<FdEntry>>>,
}

impl FdTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The file behind `fd`.
    pub fn get(&self, fd: i32) -> Result<Arc<File>, Errno> {
        self.entry(fd).map(|e| e.file)
    }

    /// The descriptor entry.
    pub fn entry(&self, fd: i32) -> Result<FdEntry, Errno> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        self.fds.lock().get(fd as usize).and_then(|e| e.clone()).ok_or(Errno::EBADF)
    }

    /// Installs `file` at the lowest free number >= `min` and < `limit`.
    pub fn alloc(&self, file: Arc<File>, cloexec: bool, min: usize, limit: usize) -> Result<i32, Errno> {
        let mut fds = self.fds.lock();
        let start = min.min(fds.len());
        let idx = (start..fds.len()).find(|&i| fds[i].is_none()).unwrap_or(fds.len().max(min));
        if idx >= limit {
            return Err(if min >= limit { Errno::EINVAL } else { Errno::EMFILE });
        }
        if idx >= fds.len() {
            fds.resize(idx + 1, None);
        }
        fds[idx] = Some(FdEntry { file, cloexec });
        Ok(idx as i32)
    }

    /// Puts `file` at `fd` (dup2/dup3), returning what was there.
    pub fn install(&self, fd: usize, file: Arc<File>, cloexec: bool) -> Option<FdEntry> {
        let mut fds = self.fds.lock();
        if fd >= fds.len() {
            fds.resize(fd + 1, None);
        }
        fds[fd].replace(FdEntry { file, cloexec })
    }

    /// Removes `fd`.
    pub fn close(&self, fd: i32) -> Result<FdEntry, Errno> {
        if fd < 0 {
            return Err(Errno::EBADF);
        }
        let mut fds = self.fds.lock();
        fds.get_mut(fd as usize).and_then(|e| e.take()).ok_or(Errno::EBADF)
    }

    /// Sets or clears close-on-exec.
    pub fn set_cloexec(&self, fd: i32, on: bool) -> Result<(), Errno> {
        let mut fds = self.fds.lock();
        match fds.get_mut(fd.max(0) as usize).and_then(|e| e.as_mut()) {
            Some(e) if fd >= 0 => {
                e.cloexec = on;
                Ok(())
            }
            _ => Err(Errno::EBADF),
        }
    }

    /// Drops every close-on-exec descriptor (execve); returns them so the caller can
    /// release them outside the lock.
    pub fn close_on_exec(&self) -> Vec<FdEntry> {
        let mut fds = self.fds.lock();
        let mut out = Vec::new();
        for slot in fds.iter_mut() {
            if slot.as_ref().is_some_and(|e| e.cloexec) {
                if let Some(e) = slot.take() {
                    out.push(e);
                }
            }
        }
        out
    }

    /// A copy for `fork`/`clone` without `CLONE_FILES`.
    pub fn duplicate(&self) -> Self {
        Self { fds: SpinLock::new(self.fds.lock().clone()) }
    }

    /// The open descriptors (for `/proc/<pid>/fd`).
    pub fn list(&self) -> Vec<(i32, FdEntry)> {
        self.fds.lock().iter().enumerate().filter_map(|(i, e)| e.clone().map(|e| (i as i32, e))).collect()
    }

    /// Closes everything (process exit).
    pub fn clear(&self) -> Vec<Option<FdEntry>> {
        core::mem::take(&mut *self.fds.lock())
    }

    /// Closes descriptors in `[first, last]` (close_range).
    pub fn close_range(&self, first: usize, last: usize, cloexec_only: bool) -> Vec<FdEntry> {
        let mut fds = self.fds.lock();
        let mut out = Vec::new();
        let end = last.saturating_add(1).min(fds.len());
        for slot in fds.iter_mut().take(end).skip(first) {
            if cloexec_only {
                if let Some(e) = slot.as_mut() {
                    e.cloexec = true;
                }
            } else if let Some(e) = slot.take() {
                out.push(e);
            }
        }
        out
    }
}
