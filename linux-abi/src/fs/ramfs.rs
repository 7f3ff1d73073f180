//! An in-memory filesystem: the root filesystem (filled from the initramfs) and tmpfs
//! (`/tmp`, `/dev/shm`). File data lives in a [`PageStore`], so `mmap(MAP_SHARED)` of a
//! file maps the very pages that `read`/`write` use.
//!
//! Space is counted like tmpfs counts it: in pages actually allocated (by writes,
//! `fallocate` or faults of shared mappings), not in file sizes, so a file grown with
//! `ftruncate` is sparse and costs nothing until touched. A size limit (tmpfs: half of
//! RAM, as on Linux) refuses writes that could need more pages than are left.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use rtos::mm::addrspace::MemObject;
use rtos::mm::pagestore::PageStore;
use rtos::sync::{Mutex, SpinLock};

use super::vfs::{DirEntry, FileType, Inode, SetAttr, Stat, StatFs, Timespec};
use crate::errno::Errno;

static NEXT_DEV: AtomicU64 = AtomicU64::new(0x20);

/// `TMPFS_MAGIC`.
pub const TMPFS_MAGIC: u64 = 0x0102_1994;

/// How much file data a ramfs instance may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// No limit but memory (the root filesystem, memfds).
    None,
    /// Half of RAM, as Linux sizes a tmpfs by default (computed when asked, so memory
    /// returned after boot counts).
    HalfRam,
}

impl Limit {
    fn bytes(self) -> Option<u64> {
        match self {
            Limit::None => None,
            Limit::HalfRam => Some(rtos::mm::frame::total_pages() as u64 * 4096 / 2),
        }
    }
}

/// One ramfs instance (a superblock): device number, inode numbering, size limit.
pub struct RamFs {
    dev: u64,
    next_ino: AtomicU64,
    limit: Limit,
    /// The page stores of its regular files, for counting the pages in use.
    stores: SpinLock<Vec<Weak<StoreObject>>>,
    root: SpinLock<Option<Arc<RamInode>>>,
}

struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u32,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
}

enum Content {
    File,
    Dir(BTreeMap<String, Arc<dyn Inode>>, Weak<RamInode>),
    Symlink(String),
    Node(u64),
}

/// An inode of a ramfs.
pub struct RamInode {
    fs: Arc<RamFs>,
    me: Weak<RamInode>,
    ino: u64,
    meta: SpinLock<Meta>,
    content: SpinLock<Content>,
    store: Option<Arc<StoreObject>>,
    /// Held across finding the end and writing there (O_APPEND).
    append_lock: Mutex<()>,
}

/// The page store of a ramfs file, shared with its mappings.
pub struct StoreObject(pub PageStore);

impl MemObject for StoreObject {
    fn page(&self, index: u64) -> Result<rtos::mm::frame::Pfn, rtos::mm::addrspace::FaultError> {
        self.0.page(index)
    }
}

impl RamFs {
    /// A new empty filesystem with a root directory of `mode`.
    pub fn new(limit: Limit, root_mode: u32) -> Arc<Self> {
        let fs = Arc::new(Self {
            dev: NEXT_DEV.fetch_add(1, Ordering::Relaxed),
            next_ino: AtomicU64::new(1),
            limit,
            stores: SpinLock::new(Vec::new()),
            root: SpinLock::new(None),
        });
        let root = RamInode::new(&fs, FileType::Directory, root_mode & 0o7777, 0, Weak::new());
        *fs.root.lock() = Some(root);
        fs
    }

    /// The root directory.
    pub fn root(&self) -> Arc<RamInode> {
        self.root.lock().clone().expect("ramfs root")
    }

    /// Bytes of file data allocated now (whole pages).
    pub fn used_bytes(&self) -> u64 {
        let mut stores = self.stores.lock();
        stores.retain(|w| w.strong_count() > 0);
        let pages: usize = stores.iter().filter_map(|w| w.upgrade()).map(|s| s.0.resident_pages()).sum();
        pages as u64 * 4096
    }

    /// ENOSPC unless `[off, off+len)` can be given pages within the limit (counting every
    /// page it touches as new: the store cannot tell which ones exist already).
    fn reserve(&self, off: u64, len: u64) -> Result<(), Errno> {
        let Some(limit) = self.limit.bytes() else { return Ok(()) };
        if len == 0 {
            return Ok(());
        }
        let end = off.checked_add(len).ok_or(Errno::EFBIG)?;
        let span = (end.div_ceil(4096) - off / 4096) * 4096;
        if self.used_bytes().saturating_add(span) > limit {
            return Err(Errno::ENOSPC);
        }
        Ok(())
    }
}

impl RamInode {
    fn new(fs: &Arc<RamFs>, kind: FileType, perm: u32, rdev: u64, parent: Weak<RamInode>) -> Arc<Self> {
        let now = Timespec::now();
        let ino = fs.next_ino.fetch_add(1, Ordering::Relaxed);
        let (content, store) = match kind {
            FileType::Regular => {
                let store = Arc::new(StoreObject(PageStore::new(0)));
                fs.stores.lock().push(Arc::downgrade(&store));
                (Content::File, Some(store))
            }
            FileType::Directory => (Content::Dir(BTreeMap::new(), parent), None),
            FileType::Symlink => (Content::Symlink(String::new()), None),
            _ => (Content::Node(rdev), None),
        };
        Arc::new_cyclic(|me| Self {
            fs: fs.clone(),
            me: me.clone(),
            ino,
            meta: SpinLock::new(Meta {
                mode: kind.mode_bits() | (perm & 0o7777),
                uid: 0,
                gid: 0,
                nlink: if kind == FileType::Directory { 2 } else { 1 },
                atime: now,
                mtime: now,
                ctime: now,
            }),
            content: SpinLock::new(content),
            store,
            append_lock: Mutex::new(()),
        })
    }

    fn touch(&self) {
        let now = Timespec::now();
        let mut m = self.meta.lock();
        m.mtime = now;
        m.ctime = now;
    }

    fn page_store(&self) -> Option<&PageStore> {
        self.store.as_ref().map(|s| &s.0)
    }

    fn dir_insert(&self, name: &str, inode: Arc<dyn Inode>) -> Result<(), Errno> {
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut c = self.content.lock();
        let Content::Dir(map, _) = &mut *c else { return Err(Errno::ENOTDIR) };
        if map.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        map.insert(name.to_string(), inode);
        drop(c);
        self.touch();
        Ok(())
    }

    /// Looks up or creates a directory (used while unpacking the initramfs).
    pub fn mkdir_p(self: &Arc<Self>, name: &str) -> Result<Arc<dyn Inode>, Errno> {
        match self.lookup(name) {
            Ok(i) => Ok(i),
            Err(_) => self.create(name, FileType::Directory, 0o755, 0),
        }
    }
}

fn set_link_count(i: &Arc<dyn Inode>, delta: i32) {
    if let Some(r) = i.as_any().downcast_ref::<RamInode>() {
        let mut m = r.meta.lock();
        m.nlink = (m.nlink as i32 + delta).max(0) as u32;
        m.ctime = Timespec::now();
    }
}

impl Inode for RamInode {
    fn stat(&self) -> Stat {
        let m = self.meta.lock();
        let (size, rdev) = match &*self.content.lock() {
            Content::File => (self.page_store().map_or(0, |p| p.size()), 0),
            Content::Dir(map, _) => ((map.len() as u64 + 2) * 32, 0),
            Content::Symlink(t) => (t.len() as u64, 0),
            Content::Node(r) => (0, *r),
        };
        let blocks = self.page_store().map_or(0, |p| p.resident_pages() as u64 * 8);
        Stat {
            dev: self.fs.dev,
            ino: self.ino,
            mode: m.mode,
            nlink: m.nlink,
            uid: m.uid,
            gid: m.gid,
            rdev,
            size,
            blksize: 4096,
            blocks,
            atime: m.atime,
            mtime: m.mtime,
            ctime: m.ctime,
        }
    }

    fn set_attr(&self, a: SetAttr) -> Result<(), Errno> {
        let mut m = self.meta.lock();
        if let Some(mode) = a.mode {
            m.mode = (m.mode & super::vfs::S_IFMT) | (mode & 0o7777);
        }
        if let Some(u) = a.uid {
            m.uid = u;
        }
        if let Some(g) = a.gid {
            m.gid = g;
        }
        if let Some(t) = a.atime {
            m.atime = t;
        }
        if let Some(t) = a.mtime {
            m.mtime = t;
        }
        m.ctime = Timespec::now();
        Ok(())
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        match self.page_store() {
            Some(p) => Ok(p.read(off, buf)),
            None => Err(if self.kind() == FileType::Directory { Errno::EISDIR } else { Errno::EINVAL }),
        }
    }

    fn write_at(&self, off: u64, data: &[u8]) -> Result<usize, Errno> {
        let p = self.page_store().ok_or(Errno::EISDIR)?;
        off.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
        self.fs.reserve(off, data.len() as u64)?;
        let n = p.write(off, data).map_err(|_| Errno::ENOSPC)?;
        self.touch();
        Ok(n)
    }

    fn append(&self, data: &[u8]) -> Result<(usize, u64), Errno> {
        let p = self.page_store().ok_or(Errno::EISDIR)?;
        let _g = self.append_lock.lock();
        let end = p.size();
        let n = self.write_at(end, data)?;
        Ok((n, end + n as u64))
    }

    fn truncate(&self, size: u64) -> Result<(), Errno> {
        let p = self.page_store().ok_or(Errno::EISDIR)?;
        if size > i64::MAX as u64 {
            return Err(Errno::EFBIG);
        }
        // Growing is sparse: only the size changes, no page is allocated.
        p.truncate(size);
        self.touch();
        Ok(())
    }

    fn allocate(&self, off: u64, len: u64) -> Result<(), Errno> {
        let p = self.page_store().ok_or(Errno::ENODEV)?;
        self.fs.reserve(off, len)?;
        p.allocate(off, len).map_err(|_| Errno::ENOSPC)?;
        self.touch();
        Ok(())
    }

    fn mem_object(&self) -> Option<Arc<dyn MemObject>> {
        self.store.clone().map(|s| s as Arc<dyn MemObject>)
    }

    fn lookup(&self, name: &str) -> Result<Arc<dyn Inode>, Errno> {
        let c = self.content.lock();
        let Content::Dir(map, parent) = &*c else { return Err(Errno::ENOTDIR) };
        match name {
            "." => Err(Errno::EINVAL),
            ".." => parent.upgrade().map(|p| p as Arc<dyn Inode>).ok_or(Errno::ENOENT),
            _ => map.get(name).cloned().ok_or(Errno::ENOENT),
        }
    }

    fn create(&self, name: &str, kind: FileType, mode: u32, rdev: u64) -> Result<Arc<dyn Inode>, Errno> {
        if self.kind() != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let me = self.self_weak();
        let inode = RamInode::new(&self.fs, kind, mode, rdev, me);
        self.dir_insert(name, inode.clone())?;
        if kind == FileType::Directory {
            self.meta.lock().nlink += 1;
        }
        Ok(inode)
    }

    fn symlink(&self, name: &str, target: &str) -> Result<Arc<dyn Inode>, Errno> {
        let inode = RamInode::new(&self.fs, FileType::Symlink, 0o777, 0, Weak::new());
        *inode.content.lock() = Content::Symlink(target.to_string());
        self.dir_insert(name, inode.clone())?;
        Ok(inode)
    }

    fn link(&self, name: &str, inode: &Arc<dyn Inode>) -> Result<(), Errno> {
        if inode.kind() == FileType::Directory {
            return Err(Errno::EPERM);
        }
        if super::vfs::identity(inode.as_ref()).0 != self.fs.dev {
            return Err(Errno::EXDEV);
        }
        self.dir_insert(name, inode.clone())?;
        set_link_count(inode, 1);
        Ok(())
    }

    fn unlink(&self, name: &str) -> Result<(), Errno> {
        let mut c = self.content.lock();
        let Content::Dir(map, _) = &mut *c else { return Err(Errno::ENOTDIR) };
        let i = map.get(name).ok_or(Errno::ENOENT)?;
        if i.kind() == FileType::Directory {
            return Err(Errno::EISDIR);
        }
        let i = map.remove(name).ok_or(Errno::ENOENT)?;
        drop(c);
        set_link_count(&i, -1);
        self.touch();
        Ok(())
    }

    fn rmdir(&self, name: &str) -> Result<(), Errno> {
        let mut c = self.content.lock();
        let Content::Dir(map, _) = &mut *c else { return Err(Errno::ENOTDIR) };
        let i = map.get(name).ok_or(Errno::ENOENT)?.clone();
        if i.kind() != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if !i.readdir()?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        map.remove(name);
        drop(c);
        set_link_count(&i, -2);
        self.meta.lock().nlink -= 1;
        self.touch();
        Ok(())
    }

    fn rename(&self, old: &str, new_dir: &Arc<dyn Inode>, new: &str, flags: u32) -> Result<(), Errno> {
        const NOREPLACE: u32 = 1;
        const EXCHANGE: u32 = 2;
        let target = new_dir.as_any().downcast_ref::<RamInode>().ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&target.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        if new.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let src = self.lookup(old)?;
        let dst = target.lookup(new).ok();
        if flags & EXCHANGE != 0 {
            let dst = dst.ok_or(Errno::ENOENT)?;
            self.replace_entry(old, dst);
            target.replace_entry(new, src);
            return Ok(());
        }
        if let Some(d) = &dst {
            if flags & NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            if Arc::ptr_eq(d, &src) {
                return Ok(());
            }
            match (src.kind() == FileType::Directory, d.kind() == FileType::Directory) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !d.readdir()?.is_empty() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        // Moving a directory into its own subtree is refused.
        if src.kind() == FileType::Directory {
            let mut cur: Option<Arc<dyn Inode>> = Some(new_dir.clone());
            while let Some(c) = cur {
                if Arc::ptr_eq(&c, &src) {
                    return Err(Errno::EINVAL);
                }
                cur = c.lookup("..").ok();
            }
        }
        if let Content::Dir(map, _) = &mut *self.content.lock() {
            map.remove(old);
        }
        if let Content::Dir(map, _) = &mut *target.content.lock() {
            if let Some(old_dst) = map.insert(new.to_string(), src.clone()) {
                set_link_count(&old_dst, -1);
            }
        }
        if let Some(r) = src.as_any().downcast_ref::<RamInode>() {
            if let Content::Dir(_, parent) = &mut *r.content.lock() {
                *parent = target.self_weak();
            }
        }
        self.touch();
        target.touch();
        Ok(())
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        let c = self.content.lock();
        let Content::Dir(map, _) = &*c else { return Err(Errno::ENOTDIR) };
        Ok(map.iter().map(|(n, i)| DirEntry { name: n.clone(), ino: super::vfs::identity(i.as_ref()).1, kind: i.kind() }).collect())
    }

    fn readlink(&self) -> Result<String, Errno> {
        match &*self.content.lock() {
            Content::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open_special(self: Arc<Self>, flags: u32) -> Option<Result<Arc<dyn super::file::FileOps>, Errno>> {
        let rdev = match &*self.content.lock() {
            Content::Node(r) => *r,
            _ => return None,
        };
        let kind = self.kind();
        Some(super::devices::open_node(kind, rdev, flags, self))
    }

    fn statfs(&self) -> StatFs {
        let total = self.fs.limit.bytes().map_or(rtos::mm::frame::total_pages() as u64, |b| b / 4096);
        let used = self.fs.used_bytes() / 4096;
        StatFs {
            fs_type: TMPFS_MAGIC,
            block_size: 4096,
            blocks: total,
            blocks_free: total.saturating_sub(used),
            files: 1 << 20,
            files_free: (1 << 20) - self.fs.next_ino.load(Ordering::Relaxed).min(1 << 20),
            name_max: 255,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl RamInode {
    fn self_weak(&self) -> Weak<RamInode> {
        self.me.clone()
    }

    fn replace_entry(&self, name: &str, inode: Arc<dyn Inode>) {
        if let Content::Dir(map, _) = &mut *self.content.lock() {
            map.insert(name.to_string(), inode);
        }
    }
}

