//! Path resolution over the mount tree.
//!
//! A [`Location`] is the chain of directories walked from the root to a file, so `..`
//! simply steps back along the chain (also across mount points) and the path of an open
//! file or working directory is always known. Symbolic links are followed with Linux's
//! limit of 40; a trailing `/` requires a directory. A magic link (`/proc/<pid>/fd/N`)
//! leads to the open file itself: to where it was opened, or, for a file without a path
//! (pipe, socket), to a location that carries the file.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use rtos::sync::SpinLock;

use super::file::File;
use super::vfs::{identity, FileType, Inode, Stat};
use crate::errno::Errno;

/// Most symbolic links followed in one resolution (Linux `MAXSYMLINKS`).
const MAX_SYMLINKS: u32 = 40;

/// A resolved position in the tree: `(name, inode)` from the root (name "") down.
#[derive(Clone)]
pub struct Location {
    chain: Vec<(String, Arc<dyn Inode>)>,
    /// Reached through a magic link to an open file without a path of its own (a pipe,
    /// a socket): that file. The chain then ends at the link.
    pub magic: Option<Arc<File>>,
}

impl Location {
    /// The root location of a tree.
    pub fn root(root: Arc<dyn Inode>) -> Self {
        Self { chain: alloc::vec![(String::new(), root)], magic: None }
    }

    /// Attributes of what the location names (the open file for a magic location).
    pub fn stat(&self) -> Result<Stat, Errno> {
        match &self.magic {
            Some(f) => f.ops.stat(),
            None => Ok(self.inode().stat()),
        }
    }

    /// The inode here.
    pub fn inode(&self) -> &Arc<dyn Inode> {
        &self.chain[self.chain.len() - 1].1
    }

    /// The absolute path.
    pub fn path_string(&self) -> String {
        if self.chain.len() == 1 {
            return "/".to_string();
        }
        let mut s = String::new();
        for (n, _) in &self.chain[1..] {
            s.push('/');
            s.push_str(n);
        }
        s
    }

    /// The last component's name ("" for the root).
    pub fn name(&self) -> &str {
        &self.chain[self.chain.len() - 1].0
    }

    /// The containing directory (the root's parent is the root).
    pub fn parent(&self) -> Location {
        let mut c = self.chain.clone();
        if c.len() > 1 {
            c.pop();
        }
        Self { chain: c, magic: None }
    }

    fn child(&self, name: &str, inode: Arc<dyn Inode>) -> Location {
        let mut c = self.chain.clone();
        c.push((name.to_string(), inode));
        Self { chain: c, magic: None }
    }

    /// The first element (the tree's root).
    pub fn tree_root(&self) -> Location {
        Self { chain: alloc::vec![self.chain[0].clone()], magic: None }
    }
}

/// One mounted filesystem.
#[derive(Clone)]
pub struct Mount {
    pub path: String,
    pub fstype: String,
    pub source: String,
    pub options: String,
    pub root: Arc<dyn Inode>,
}

/// Mount points by the (device, inode) of the directory mounted on.
static MOUNTS: SpinLock<BTreeMap<(u64, u64), Mount>> = SpinLock::new(BTreeMap::new());
static ROOT_MOUNT: SpinLock<Option<Mount>> = SpinLock::new(None);

/// Sets the root filesystem.
pub fn set_root(m: Mount) {
    *ROOT_MOUNT.lock() = Some(m);
}

/// Mounts `m.root` on the directory `on`.
pub fn mount(on: &Location, m: Mount) -> Result<(), Errno> {
    if on.inode().kind() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    let key = identity(on.inode().as_ref());
    let mut mounts = MOUNTS.lock();
    if mounts.contains_key(&key) {
        return Err(Errno::EBUSY);
    }
    mounts.insert(key, Mount { path: on.path_string(), ..m });
    Ok(())
}

/// Unmounts the filesystem mounted on `dir` (EINVAL if none).
pub fn unmount(dir: &dyn Inode) -> Result<(), Errno> {
    MOUNTS.lock().remove(&identity(dir)).map(|_| ()).ok_or(Errno::EINVAL)
}

/// The mount table, root first, in mount order of paths (for `/proc/mounts`).
pub fn mounts() -> Vec<Mount> {
    let mut v: Vec<Mount> = ROOT_MOUNT.lock().iter().cloned().collect();
    let mut rest: Vec<Mount> = MOUNTS.lock().values().cloned().collect();
    rest.sort_by(|a, b| a.path.cmp(&b.path));
    v.extend(rest);
    v
}

/// Whether a directory has a filesystem mounted on it.
pub fn is_mount_point(dir: &dyn Inode) -> bool {
    MOUNTS.lock().contains_key(&identity(dir))
}

fn enter_mounts(inode: Arc<dyn Inode>) -> Arc<dyn Inode> {
    let mut cur = inode;
    loop {
        if cur.kind() != FileType::Directory {
            return cur;
        }
        let next = MOUNTS.lock().get(&identity(cur.as_ref())).map(|m| m.root.clone());
        match next {
            Some(r) if !Arc::ptr_eq(&r, &cur) => cur = r,
            _ => return cur,
        }
    }
}

/// How the final component is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// Follow a final symbolic link.
    Yes,
    /// Return the link itself (`O_NOFOLLOW`, `lstat`, `unlink`...).
    No,
}

/// Resolves `path` from `cwd` (or from `root` for absolute paths).
pub fn resolve(root: &Location, cwd: &Location, path: &str, follow: Follow) -> Result<Location, Errno> {
    let mut links = 0;
    resolve_inner(root, cwd, path, follow, &mut links)
}

fn resolve_inner(root: &Location, cwd: &Location, path: &str, follow: Follow, links: &mut u32) -> Result<Location, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let mut loc = if path.starts_with('/') { root.clone() } else { cwd.clone() };
    let must_be_dir = path.ends_with('/');
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for (i, &c) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        if loc.inode().kind() != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if c.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        match c {
            "." => continue,
            ".." => {
                // Never above the process's root.
                if loc.chain.len() > root.chain.len() || !Arc::ptr_eq(loc.inode(), root.inode()) {
                    loc = loc.parent();
                }
                continue;
            }
            _ => {}
        }
        let child = loc.inode().lookup(c)?;
        if child.kind() == FileType::Symlink && (!last || follow == Follow::Yes || must_be_dir) {
            *links += 1;
            if *links > MAX_SYMLINKS {
                return Err(Errno::ELOOP);
            }
            if let Some(file) = child.magic_file() {
                match &file.location {
                    // Where the file was opened (also when that name is gone now).
                    Some(at) => loc = at.clone(),
                    None if last && !must_be_dir => {
                        loc = Location { magic: Some(file.clone()), ..loc.child(c, child) };
                    }
                    None => return Err(Errno::ENOTDIR),
                }
                continue;
            }
            let target = child.readlink()?;
            loc = resolve_inner(root, &loc, &target, Follow::Yes, links)?;
            continue;
        }
        let child = enter_mounts(child);
        loc = loc.child(c, child);
    }
    if must_be_dir && loc.inode().kind() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    Ok(loc)
}

/// Resolves everything but the last component; returns the directory and the last name.
/// The name is "." or "/"-free; an empty path is `ENOENT`.
pub fn resolve_parent(root: &Location, cwd: &Location, path: &str) -> Result<(Location, String), Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        // "/" itself.
        return Ok((root.clone(), ".".to_string()));
    }
    let (dir, name) = match trimmed.rfind('/') {
        Some(i) => (if i == 0 { "/" } else { &trimmed[..i] }, &trimmed[i + 1..]),
        None => (".", trimmed),
    };
    let d = resolve(root, cwd, dir, Follow::Yes)?;
    if d.inode().kind() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    if name.len() > 255 {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok((d, name.to_string()))
}

/// The location of a child that was just created or looked up in `dir`.
pub fn child_of(dir: &Location, name: &str, inode: Arc<dyn Inode>) -> Location {
    dir.child(name, enter_mounts(inode))
}
