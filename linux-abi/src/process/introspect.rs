//! Read-only views of a process for /proc: its main task, its memory map and memory
//! statistics, and whether it is still visible (not yet reaped).

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use rtos::mm::addrspace::{Prot, VmFlags, VmaName};

use super::{Process, Task};

/// One line of `/proc/<pid>/maps`.
#[derive(Clone, Debug)]
pub struct MapEntry {
    pub start: u64,
    pub end: u64,
    pub prot: Prot,
    pub shared: bool,
    /// Offset in the file (0 for anonymous memory).
    pub offset: u64,
    pub dev: u64,
    pub ino: u64,
    /// Path or `[heap]`/`[stack]`/`[vdso]`/`[vvar]`; empty for anonymous memory.
    pub name: String,
}

/// Memory statistics of a process, in bytes (pages where named so).
#[derive(Clone, Copy, Debug, Default)]
pub struct VmStats {
    /// Total mapped (VmSize).
    pub size: u64,
    /// Resident pages: all, anonymous, file-backed, shared anonymous.
    pub rss_pages: u64,
    pub rss_anon_pages: u64,
    pub rss_file_pages: u64,
    pub rss_shmem_pages: u64,
    /// Private writable non-stack mappings (VmData).
    pub data: u64,
    /// Stack (VmStk).
    pub stack: u64,
    /// Executable mappings of the program file (VmExe) and of everything else (VmLib).
    pub exe: u64,
    pub lib: u64,
    /// Locked mappings (VmLck).
    pub locked: u64,
    /// Resident pages of file-backed or shared mappings (statm "shared").
    pub shared_pages: u64,
    pub start_code: u64,
    pub end_code: u64,
    pub start_data: u64,
    pub end_data: u64,
    pub start_stack: u64,
    pub start_brk: u64,
    pub brk: u64,
}

impl Process {
    /// The thread-group leader if it still runs, else any live thread.
    pub fn main_task(&self) -> Option<Arc<Task>> {
        let tasks = self.tasks();
        tasks.iter().find(|t| t.tid() == self.pid).cloned().or_else(|| tasks.first().cloned())
    }

    /// Whether /proc shows the process: alive, or a zombie its parent has not reaped.
    pub fn visible(&self) -> bool {
        let (exit, parent) = {
            let s = self.state.lock();
            (s.exit.is_some(), s.parent.upgrade())
        };
        if !exit {
            return true;
        }
        match parent {
            Some(p) => p.state.lock().children.iter().any(|c| c.pid == self.pid && core::ptr::eq(Arc::as_ptr(c), self)),
            None => false,
        }
    }

    /// The mappings, in address order (empty for a zombie).
    pub fn memory_map(&self) -> Vec<MapEntry> {
        if self.is_zombie() {
            return Vec::new();
        }
        let mm = self.mm();
        let inner = mm.lock();
        inner
            .vmas
            .iter()
            .map(|(start, end, v)| {
                let (dev, ino, name) = match &v.name {
                    VmaName::File(d, i, p) => (*d, *i, String::from(&**p)),
                    VmaName::Heap => (0, 0, String::from("[heap]")),
                    VmaName::Stack => (0, 0, String::from("[stack]")),
                    VmaName::Vdso => (0, 0, String::from("[vdso]")),
                    VmaName::Vvar => (0, 0, String::from("[vvar]")),
                    VmaName::None if v.object.is_some() && v.flags.contains(VmFlags::SHARED) => (1, 0, String::from("/dev/zero (deleted)")),
                    VmaName::None => (0, 0, String::new()),
                };
                let offset = if matches!(v.name, VmaName::File(..)) { v.offset } else { 0 };
                MapEntry { start, end, prot: v.prot, shared: v.flags.contains(VmFlags::SHARED), offset, dev, ino, name }
            })
            .collect()
    }

    /// The resident set now (pages), also raising the high-water mark (`ru_maxrss`).
    pub fn sample_rss(&self) -> u64 {
        let rss = self.vm_stats().rss_pages;
        self.maxrss_pages.fetch_max(rss, core::sync::atomic::Ordering::Relaxed);
        self.maxrss_pages.load(core::sync::atomic::Ordering::Relaxed)
    }

    /// Memory statistics (all zero for a zombie).
    pub fn vm_stats(&self) -> VmStats {
        let mut st = VmStats::default();
        if self.is_zombie() {
            return st;
        }
        let exe = self.exe.lock().clone();
        let mm = self.mm();
        let inner = mm.lock();
        st.start_brk = inner.brk_start;
        st.brk = inner.brk;
        for (start, end, v) in inner.vmas.iter() {
            let len = end - start;
            let resident = mm.resident_pages(start, end);
            st.size += len;
            st.rss_pages += resident;
            let shared = v.flags.contains(VmFlags::SHARED);
            let is_file = matches!(v.name, VmaName::File(..));
            let is_stack = matches!(v.name, VmaName::Stack) || v.flags.intersects(VmFlags::STACK | VmFlags::GROWSDOWN);
            if is_file {
                st.rss_file_pages += resident;
            } else if shared {
                st.rss_shmem_pages += resident;
            } else {
                st.rss_anon_pages += resident;
            }
            if is_file || shared {
                st.shared_pages += resident;
            }
            if v.flags.contains(VmFlags::LOCKED) {
                st.locked += len;
            }
            if is_stack {
                st.stack += len;
                st.start_stack = st.start_stack.max(end);
            } else if v.prot.contains(Prot::WRITE) && !shared {
                st.data += len;
            }
            let of_exe = matches!(&v.name, VmaName::File(_, _, p) if **p == *exe);
            if v.prot.contains(Prot::EXEC) && !v.prot.contains(Prot::WRITE) && !is_stack {
                if of_exe {
                    st.exe += len;
                    if st.start_code == 0 {
                        st.start_code = start;
                    }
                    st.end_code = st.end_code.max(end);
                } else {
                    st.lib += len;
                }
            }
            if of_exe && v.prot.contains(Prot::WRITE) {
                if st.start_data == 0 {
                    st.start_data = start;
                }
                st.end_data = st.end_data.max(end);
            }
        }
        st
    }
}
