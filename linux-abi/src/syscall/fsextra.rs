//! More file calls: `memfd_create`, `sendfile`, `copy_file_range`, `mount`/`umount2`,
//! `sync`, and `reboot` (which ends the machine, as powering off does).

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec;

use super::io::{fd_file, install};
use super::Args;
use crate::errno::{Errno, SysResult};
use crate::fs::file::{flags, File, InodeFile};
use crate::fs::path::{self, Follow, Mount};
use crate::fs::ramfs::{Limit, RamFs};
use crate::fs::vfs::{FileType, Inode};
use crate::process::current_task;
use crate::uaccess;

static MEMFD_FS: spin::Once<Arc<RamFs>> = spin::Once::new();

/// `memfd_create(name, flags)`: an anonymous tmpfs file.
pub fn memfd_create(a: Args) -> SysResult {
    const MFD_CLOEXEC: u32 = 1;
    const MFD_ALLOW_SEALING: u32 = 2;
    const MFD_HUGETLB: u32 = 4;
    const MFD_NOEXEC_SEAL: u32 = 8;
    const MFD_EXEC: u32 = 0x10;
    let fl = a.u32(1);
    if fl & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC) != 0 || fl & MFD_HUGETLB != 0 {
        return Err(Errno::EINVAL);
    }
    let name = uaccess::read_cstr_bytes(a.u(0), 249).map_err(|e| if e == Errno::ENAMETOOLONG { Errno::EINVAL } else { e })?;
    let name = String::from_utf8_lossy(&name).into_owned();
    let fs = MEMFD_FS.call_once(|| RamFs::new(Limit::None, 0o755));
    let dir = fs.root();
    // Each memfd is a file of its own, unlinked at once.
    let tmp = alloc::format!("m{}", rtos::time::now_ns());
    let inode: Arc<dyn Inode> = dir.create(&tmp, FileType::Regular, 0o777, 0)?;
    let _ = dir.unlink(&tmp);
    let ops = Arc::new(InodeFile { inode });
    let f = File::new(ops, flags::O_RDWR | flags::O_LARGEFILE, None, alloc::format!("/memfd:{name} (deleted)"));
    install(f, fl & MFD_CLOEXEC != 0)
}

fn copy_between(src: &File, src_off: Option<u64>, dst: &File, dst_off: Option<u64>, count: usize) -> Result<(usize, u64, u64), Errno> {
    let mut buf = vec![0u8; count.min(64 * 1024)];
    let (mut so, mut dof) = (src_off.unwrap_or(0), dst_off.unwrap_or(0));
    let mut done = 0;
    while done < count {
        let want = (count - done).min(buf.len());
        let n = match src_off {
            Some(_) => src.ops.read_at(src, so, &mut buf[..want]),
            None => src.ops.read(src, &mut buf[..want]),
        };
        let n = match n {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if n == 0 {
            break;
        }
        let w = match dst_off {
            Some(_) => dst.ops.write_at(dst, dof, &buf[..n]),
            None => dst.ops.write(dst, &buf[..n]),
        };
        let w = match w {
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        so += w as u64;
        dof += w as u64;
        done += w;
        // A short read (a stream with nothing more right now, or end of file) or a short
        // write ends the call; the caller comes back for more.
        if w < n || n < want {
            break;
        }
    }
    Ok((done, so, dof))
}

/// `sendfile(out_fd, in_fd, offset*, count)`.
pub fn sendfile(a: Args) -> SysResult {
    let (out, inp) = (fd_file(a.i(0))?, fd_file(a.i(1))?);
    if !inp.readable() || !out.writable() {
        return Err(Errno::EBADF);
    }
    if out.flags() & flags::O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    let count = a.us(3).min(0x7fff_f000);
    if a.u(2) != 0 {
        let off: i64 = uaccess::read(a.u(2))?;
        if off < 0 {
            return Err(Errno::EINVAL);
        }
        let (n, so, _) = copy_between(&inp, Some(off as u64), &out, None, count)?;
        uaccess::write(a.u(2), &(so as i64))?;
        Ok(n)
    } else {
        Ok(copy_between(&inp, None, &out, None, count)?.0)
    }
}

/// `copy_file_range(fd_in, off_in*, fd_out, off_out*, len, flags)`.
pub fn copy_file_range(a: Args) -> SysResult {
    if a.u32(5) != 0 {
        return Err(Errno::EINVAL);
    }
    let (inp, out) = (fd_file(a.i(0))?, fd_file(a.i(2))?);
    if !inp.readable() || !out.writable() || out.flags() & flags::O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    let kind = |f: &File| f.ops.inode().map(|i| i.kind());
    if kind(&inp) == Some(FileType::Directory) || kind(&out) == Some(FileType::Directory) {
        return Err(Errno::EISDIR);
    }
    if kind(&inp) != Some(FileType::Regular) || kind(&out) != Some(FileType::Regular) {
        return Err(Errno::EINVAL);
    }
    let read_off = |addr: u64| -> Result<Option<u64>, Errno> {
        if addr == 0 {
            return Ok(None);
        }
        let o: i64 = uaccess::read(addr)?;
        if o < 0 {
            return Err(Errno::EINVAL);
        }
        Ok(Some(o as u64))
    };
    let (oi, oo) = (read_off(a.u(1))?, read_off(a.u(3))?);
    let si = oi.unwrap_or(*inp.pos());
    let so = oo.unwrap_or(*out.pos());
    let len = a.us(4).min(0x7fff_f000);
    let same = inp.ops.inode().zip(out.ops.inode()).is_some_and(|(x, y)| Arc::ptr_eq(&x, &y));
    if same && si < so + len as u64 && so < si + len as u64 {
        return Err(Errno::EINVAL);
    }
    let (n, ni, no) = copy_between(&inp, Some(si), &out, Some(so), len)?;
    match a.u(1) {
        0 => *inp.pos() = ni,
        p => uaccess::write(p, &(ni as i64))?,
    }
    match a.u(3) {
        0 => *out.pos() = no,
        p => uaccess::write(p, &(no as i64))?,
    }
    Ok(n)
}

/// `mount(source, target, fstype, flags, data)`: tmpfs/ramfs instances (other types
/// and remount/bind are not supported: ENODEV/EINVAL).
pub fn mount(a: Args) -> SysResult {
    const MS_REMOUNT: u64 = 32;
    const MS_BIND: u64 = 4096;
    let target = uaccess::read_path(a.u(1))?;
    let fstype = if a.u(2) != 0 { String::from_utf8_lossy(&uaccess::read_cstr_bytes(a.u(2), 64)?).into_owned() } else { String::new() };
    let source = if a.u(0) != 0 { String::from_utf8_lossy(&uaccess::read_cstr_bytes(a.u(0), 256)?).into_owned() } else { String::from("none") };
    if a.u(3) & (MS_REMOUNT | MS_BIND) != 0 {
        return Err(Errno::EINVAL);
    }
    let (root, cwd) = {
        let fs = current_task().fs();
        let f = fs.lock();
        (f.root.clone(), f.cwd.clone())
    };
    let on = path::resolve(&root, &cwd, &target, Follow::Yes)?;
    if on.inode().kind() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    let fs_root: Arc<dyn Inode> = match fstype.as_str() {
        "tmpfs" => RamFs::new(Limit::HalfRam, 0o1777).root(),
        "ramfs" => RamFs::new(Limit::None, 0o755).root(),
        "" => return Err(Errno::EINVAL),
        _ => return Err(Errno::ENODEV),
    };
    path::mount(&on, Mount { path: String::new(), fstype: fstype.clone(), source, options: "rw".to_string(), root: fs_root })?;
    Ok(0)
}

/// `umount2(target, flags)`.
pub fn umount2(a: Args) -> SysResult {
    let target = uaccess::read_path(a.u(0))?;
    let (root, cwd) = {
        let fs = current_task().fs();
        let f = fs.lock();
        (f.root.clone(), f.cwd.clone())
    };
    let (parent, name) = path::resolve_parent(&root, &cwd, &target)?;
    let dir = parent.inode().lookup(&name)?;
    path::unmount(dir.as_ref())?;
    Ok(0)
}

pub fn sync(_: Args) -> SysResult {
    Ok(0)
}

/// `reboot(magic, magic2, cmd, arg)`: power-off, halt and restart end the machine.
pub fn reboot(a: Args) -> SysResult {
    const MAGIC1: u32 = 0xfee1_dead;
    const MAGIC2: [u32; 4] = [672_274_793, 85_072_278, 369_367_448, 537_993_216];
    const CMD_RESTART: u32 = 0x0123_4567;
    const CMD_HALT: u32 = 0xcdef_0123;
    const CMD_POWER_OFF: u32 = 0x4321_fedc;
    const CMD_CAD_ON: u32 = 0x89ab_cdef;
    const CMD_CAD_OFF: u32 = 0;
    if a.u32(0) != MAGIC1 || !MAGIC2.contains(&a.u32(1)) {
        return Err(Errno::EINVAL);
    }
    match a.u32(2) {
        CMD_POWER_OFF | CMD_HALT | CMD_RESTART => crate::report_init_exit(crate::process::ExitStatus::Exited(0)),
        CMD_CAD_ON | CMD_CAD_OFF => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}
