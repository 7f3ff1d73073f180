//! Advisory file locks: `flock` (whole file, owned by the open file description), POSIX
//! record locks (`fcntl F_SETLK/F_SETLKW/F_GETLK`, byte ranges owned by the process,
//! released when the process closes any descriptor of the file or exits) and open file
//! description record locks (`F_OFD_*`, owned by the description). Locks really exclude:
//! a conflicting request fails with EAGAIN (EWOULDBLOCK) or sleeps until released.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use bytemuck::{Pod, Zeroable};
use rtos::sync::{SpinLock, WaitOptions, WaitQueue};

use crate::errno::{Errno, SysResult};
use crate::fs::file::File;
use crate::process::Pid;
use crate::uaccess;

/// Who owns a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// A process (POSIX record locks).
    Process(Pid),
    /// An open file description (flock, OFD locks).
    File(usize),
}

#[derive(Clone, Copy, Debug)]
struct Range {
    owner: Owner,
    start: u64,
    /// Exclusive end (u64::MAX: to the end of any file).
    end: u64,
    write: bool,
    /// Process that placed it (reported by F_GETLK).
    pid: Pid,
}

#[derive(Default)]
struct FileLocks {
    /// flock: the exclusive owner, or the shared owners.
    flock_ex: Option<usize>,
    flock_sh: Vec<usize>,
    /// Record locks (POSIX and OFD).
    ranges: Vec<Range>,
}

impl FileLocks {
    fn is_empty(&self) -> bool {
        self.flock_ex.is_none() && self.flock_sh.is_empty() && self.ranges.is_empty()
    }
}

static LOCKS: SpinLock<BTreeMap<(u64, u64), FileLocks>> = SpinLock::new(BTreeMap::new());
/// Every lock waiter sleeps here; every release wakes them to re-check.
static WAITERS: WaitQueue = WaitQueue::new();

fn key_of(file: &File) -> Result<(u64, u64), Errno> {
    let i = file.ops.inode().ok_or(Errno::EINVAL)?;
    Ok(crate::fs::vfs::identity(i.as_ref()))
}

fn file_id(file: &File) -> usize {
    file as *const File as usize
}

pub const LOCK_SH: i32 = 1;
pub const LOCK_EX: i32 = 2;
pub const LOCK_NB: i32 = 4;
pub const LOCK_UN: i32 = 8;

/// `flock(fd, op)`.
pub fn flock(file: &File, op: i32) -> SysResult {
    let key = key_of(file).map_err(|_| Errno::EBADF)?;
    let me = file_id(file);
    let nb = op & LOCK_NB != 0;
    match op & !LOCK_NB {
        LOCK_UN => {
            release_flock(key, me);
            Ok(0)
        }
        LOCK_SH | LOCK_EX => {
            let ex = op & !LOCK_NB == LOCK_EX;
            // A conversion drops the old lock first (not atomic, as on Linux).
            {
                let mut t = LOCKS.lock();
                let l = t.entry(key).or_default();
                let held_ex = l.flock_ex == Some(me);
                let held_sh = l.flock_sh.contains(&me);
                if (ex && held_ex) || (!ex && held_sh) {
                    return Ok(0);
                }
                if held_ex || held_sh {
                    l.flock_ex = l.flock_ex.filter(|&o| o != me);
                    l.flock_sh.retain(|&o| o != me);
                    drop(t);
                    WAITERS.wake_all();
                }
            }
            let try_take = || {
                let mut t = LOCKS.lock();
                let l = t.entry(key).or_default();
                let free = if ex { l.flock_ex.is_none() && l.flock_sh.is_empty() } else { l.flock_ex.is_none() };
                if free {
                    if ex {
                        l.flock_ex = Some(me);
                    } else {
                        l.flock_sh.push(me);
                    }
                }
                free
            };
            if try_take() {
                return Ok(0);
            }
            if nb {
                return Err(Errno::EAGAIN);
            }
            WAITERS.wait(WaitOptions::INTERRUPTIBLE, || try_take().then_some(())).map_err(|_| Errno::ERESTARTSYS)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

fn release_flock(key: (u64, u64), me: usize) {
    let mut t = LOCKS.lock();
    if let Some(l) = t.get_mut(&key) {
        l.flock_ex = l.flock_ex.filter(|&o| o != me);
        l.flock_sh.retain(|&o| o != me);
        if l.is_empty() {
            t.remove(&key);
        }
    }
    drop(t);
    WAITERS.wake_all();
}

/// Releases every lock owned by an open file description (its last reference is gone).
pub fn release_description(file: &File) {
    let Ok(key) = key_of(file) else { return };
    let me = file_id(file);
    let mut t = LOCKS.lock();
    let Some(l) = t.get_mut(&key) else { return };
    l.flock_ex = l.flock_ex.filter(|&o| o != me);
    l.flock_sh.retain(|&o| o != me);
    l.ranges.retain(|r| r.owner != Owner::File(me));
    if l.is_empty() {
        t.remove(&key);
    }
    drop(t);
    WAITERS.wake_all();
}

/// POSIX rule: closing any descriptor of a file releases the process's record locks on it.
pub fn release_process_on(file: &File, pid: Pid) {
    let Ok(key) = key_of(file) else { return };
    let mut t = LOCKS.lock();
    let Some(l) = t.get_mut(&key) else { return };
    let before = l.ranges.len();
    l.ranges.retain(|r| r.owner != Owner::Process(pid));
    let changed = l.ranges.len() != before;
    if l.is_empty() {
        t.remove(&key);
    }
    drop(t);
    if changed {
        WAITERS.wake_all();
    }
}

/// Releases all record locks of an exiting process.
pub fn release_process(pid: Pid) {
    let mut t = LOCKS.lock();
    for l in t.values_mut() {
        l.ranges.retain(|r| r.owner != Owner::Process(pid));
    }
    t.retain(|_, l| !l.is_empty());
    drop(t);
    WAITERS.wake_all();
}

/// `struct flock`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Flock {
    pub l_type: i16,
    pub l_whence: i16,
    pub _pad: u32,
    pub l_start: i64,
    pub l_len: i64,
    pub l_pid: i32,
    pub _pad2: u32,
}

const F_RDLCK: i16 = 0;
const F_WRLCK: i16 = 1;
const F_UNLCK: i16 = 2;

fn conflicts(l: &FileLocks, owner: Owner, start: u64, end: u64, write: bool) -> Option<Range> {
    l.ranges.iter().copied().find(|r| r.owner != owner && r.start < end && start < r.end && (write || r.write))
}

/// Sets (or clears) `[start, end)` for `owner`, splitting its existing ranges.
fn set_range(l: &mut FileLocks, owner: Owner, start: u64, end: u64, kind: i16, pid: Pid) {
    let mut kept = Vec::new();
    for r in l.ranges.drain(..) {
        if r.owner != owner || r.end <= start || end <= r.start {
            kept.push(r);
            continue;
        }
        if r.start < start {
            kept.push(Range { end: start, ..r });
        }
        if end < r.end {
            kept.push(Range { start: end, ..r });
        }
    }
    if kind != F_UNLCK {
        kept.push(Range { owner, start, end, write: kind == F_WRLCK, pid });
    }
    l.ranges = kept;
}

/// `fcntl(F_GETLK/F_SETLK/F_SETLKW)` and the `F_OFD_*` variants.
pub fn fcntl_lock(file: &File, cmd: i32, arg: u64) -> SysResult {
    const F_GETLK: i32 = 5;
    const F_SETLK: i32 = 6;
    const F_SETLKW: i32 = 7;
    const F_OFD_GETLK: i32 = 36;
    const F_OFD_SETLK: i32 = 37;
    const F_OFD_SETLKW: i32 = 38;
    let mut fl: Flock = uaccess::read(arg)?;
    let ofd = matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    if ofd && fl.l_pid != 0 {
        return Err(Errno::EINVAL);
    }
    let pid = crate::process::current_process().pid;
    let owner = if ofd { Owner::File(file_id(file)) } else { Owner::Process(pid) };
    if !matches!(fl.l_type, F_RDLCK | F_WRLCK | F_UNLCK) {
        return Err(Errno::EINVAL);
    }
    // Byte range from whence/start/len (negative lengths lock backwards).
    let base: i64 = match fl.l_whence {
        0 => 0,
        1 => *file.pos() as i64,
        2 => file.ops.stat()?.size as i64,
        _ => return Err(Errno::EINVAL),
    };
    let mut start = base.checked_add(fl.l_start).ok_or(Errno::EOVERFLOW)?;
    let mut end = if fl.l_len == 0 { i64::MAX } else { start.checked_add(fl.l_len).ok_or(Errno::EOVERFLOW)? };
    if fl.l_len < 0 {
        (start, end) = (end, start);
    }
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    let (start, end) = (start as u64, if end == i64::MAX { u64::MAX } else { end as u64 });
    let key = key_of(file).map_err(|_| Errno::EBADF)?;
    match cmd {
        F_GETLK | F_OFD_GETLK => {
            if fl.l_type == F_UNLCK {
                return Err(Errno::EINVAL);
            }
            let t = LOCKS.lock();
            let c = t.get(&key).and_then(|l| conflicts(l, owner, start, end, fl.l_type == F_WRLCK));
            drop(t);
            match c {
                Some(r) => {
                    fl.l_type = if r.write { F_WRLCK } else { F_RDLCK };
                    fl.l_whence = 0;
                    fl.l_start = r.start as i64;
                    fl.l_len = if r.end == u64::MAX { 0 } else { (r.end - r.start) as i64 };
                    fl.l_pid = if matches!(r.owner, Owner::File(_)) { -1 } else { r.pid };
                }
                None => fl.l_type = F_UNLCK,
            }
            uaccess::write(arg, &fl)?;
            Ok(0)
        }
        F_SETLK | F_SETLKW | F_OFD_SETLK | F_OFD_SETLKW => {
            if fl.l_type == F_RDLCK && !file.readable() || fl.l_type == F_WRLCK && !file.writable() {
                return Err(Errno::EBADF);
            }
            let attempt = || {
                let mut t = LOCKS.lock();
                let l = t.entry(key).or_default();
                if fl.l_type != F_UNLCK && conflicts(l, owner, start, end, fl.l_type == F_WRLCK).is_some() {
                    return false;
                }
                set_range(l, owner, start, end, fl.l_type, pid);
                if l.is_empty() {
                    t.remove(&key);
                }
                true
            };
            if attempt() {
                if fl.l_type == F_UNLCK {
                    WAITERS.wake_all();
                }
                return Ok(0);
            }
            if matches!(cmd, F_SETLK | F_OFD_SETLK) {
                return Err(Errno::EAGAIN);
            }
            WAITERS.wait(WaitOptions::INTERRUPTIBLE, || attempt().then_some(())).map_err(|_| Errno::ERESTARTSYS)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

impl Drop for File {
    fn drop(&mut self) {
        release_description(self);
    }
}
