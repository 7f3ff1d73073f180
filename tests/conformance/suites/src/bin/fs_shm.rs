//! `fs_shm` suite: /dev/shm and /tmp as Dora uses them for large messages.
//!
//! Covers: /dev/shm is a tmpfs (TMPFS_MAGIC) whose size (f_blocks * f_bsize) is at least
//! half of RAM (sysinfo); a segment created, sized with `ftruncate` and mapped
//! MAP_SHARED by one process and opened and mapped separately (at another address) by
//! another shares its pages both ways, also with `write`/`pread` on a third descriptor;
//! the mapping of a forked child is the same memory; `ftruncate` larger than the
//! filesystem is sparse (no space used, reads as zeros); a 64 MiB segment is written,
//! read back, mapped and checked, and its space (f_bfree) is used while it exists and
//! returned once it is unlinked, unmapped and closed; an unlinked segment stays usable
//! through its mapping and descriptor; /tmp is a sticky world-writable directory where a
//! MAP_SHARED file is shared across processes too.

use checks::{ensure, ensure_eq, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_void};
use std::ffi::CString;

const MIB: usize = 1 << 20;
const TMPFS_MAGIC: u64 = 0x0102_1994;

fn main() {
    let mut s = Suite::new("fs_shm");
    s.check("dev_shm_is_big_tmpfs", dev_shm_is_big_tmpfs);
    s.check("shared_between_processes", || {
        shared_between_processes("/dev/shm")
    });
    s.check("shared_through_fork", shared_through_fork);
    s.check("sparse_truncate", sparse_truncate);
    s.check("large_segment_space", large_segment_space);
    s.check("unlinked_segment_usable", unlinked_segment_usable);
    s.check("tmp_dir", tmp_dir);
    s.check("tmp_shared_between_processes", || {
        shared_between_processes("/tmp")
    });
    s.finish();
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn seg(dir: &str, name: &str) -> String {
    format!("{dir}/axle-shm-{}-{name}", std::process::id())
}

fn open_rw(p: &str) -> Result<c_int, String> {
    let cp = c(p);
    sys_ok(&format!("open({p})"), || unsafe {
        syscall!(
            libc::SYS_open,
            cp.as_ptr(),
            libc::O_RDWR | libc::O_CREAT,
            0o600
        )
    })
    .map(|v| v as c_int)
}

fn statfs(p: &str) -> Result<libc::statfs, String> {
    let cp = c(p);
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    sys_ok(&format!("statfs({p})"), || unsafe {
        syscall!(libc::SYS_statfs, cp.as_ptr(), &raw mut s)
    })?;
    Ok(s)
}

fn map_shared(fd: c_int, len: usize) -> Result<*mut u8, String> {
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    ensure!(
        p != libc::MAP_FAILED,
        "mmap(MAP_SHARED, {len}) failed: {}",
        checks::errno_name(checks::errno())
    );
    Ok(p.cast())
}

fn dev_shm_is_big_tmpfs() -> CheckResult {
    let s = statfs("/dev/shm")?;
    ensure_eq!(s.f_type, TMPFS_MAGIC, "f_type");
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    sys_ok("sysinfo", || unsafe {
        syscall!(libc::SYS_sysinfo, &raw mut si)
    })?;
    let ram = si.totalram as u128 * si.mem_unit as u128;
    let size = s.f_blocks as u128 * s.f_bsize as u128;
    ensure!(
        size >= ram / 2 - 4096 * 64,
        "/dev/shm holds {size} bytes, less than half of RAM ({ram})"
    );
    ensure!(
        s.f_bavail as u128 * s.f_bsize as u128 >= 256 * MIB as u128,
        "only {} blocks free",
        s.f_bavail
    );
    Ok(())
}

fn shared_between_processes(dir: &str) -> CheckResult {
    let path = seg(dir, "share");
    let fd = open_rw(&path)?;
    let len = 4 * MIB;
    let r = (|| -> CheckResult {
        sys_ok("ftruncate", || unsafe {
            syscall!(libc::SYS_ftruncate, fd, len)
        })?;
        let mine = map_shared(fd, len)?;
        // up: child -> parent, down: parent -> child (each side closes the ends it does
        // not use, so a dead peer is an EOF, not a hang).
        let (mut up, mut down) = ([0 as c_int; 2], [0 as c_int; 2]);
        unsafe {
            libc::pipe(up.as_mut_ptr());
            libc::pipe(down.as_mut_ptr());
        }
        let p2 = path.clone();
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // A separate open and mapping, placed elsewhere: write, then wait and read.
            unsafe {
                libc::close(up[0]);
                libc::close(down[1]);
            }
            let code = (|| {
                let fd2 = open_rw(&p2).map_err(|_| 2)?;
                let hint = 0x6000_0000_0000usize as *mut c_void;
                let q = unsafe {
                    libc::mmap(
                        hint,
                        len,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_SHARED,
                        fd2,
                        0,
                    )
                };
                if q == libc::MAP_FAILED || q as usize == mine as usize {
                    return Err(3);
                }
                let q = q as *mut u8;
                unsafe {
                    std::ptr::write_volatile(q.add(len - 1), 0x5a);
                    std::ptr::write_volatile(q.add(12345), 0xa5);
                    libc::write(up[1], b"w".as_ptr().cast(), 1);
                    let mut b = [0u8; 1];
                    libc::read(down[0], b.as_mut_ptr().cast(), 1);
                    if std::ptr::read_volatile(q.add(MIB)) != 0x77 {
                        return Err(4);
                    }
                }
                Ok(())
            })();
            unsafe { libc::_exit(code.err().unwrap_or(0)) };
        }
        unsafe {
            libc::close(up[1]);
            libc::close(down[0]);
        }
        let mut b = [0u8; 1];
        unsafe { libc::read(up[0], b.as_mut_ptr().cast(), 1) };
        let seen = unsafe {
            (
                std::ptr::read_volatile(mine.add(len - 1)),
                std::ptr::read_volatile(mine.add(12345)),
            )
        };
        unsafe { std::ptr::write_volatile(mine.add(MIB), 0x77) };
        unsafe { libc::write(down[1], b"r".as_ptr().cast(), 1) };
        let mut st = 0;
        unsafe { libc::waitpid(pid, &mut st, 0) };
        // write() through another descriptor shows in the mapping; the mapping in pread.
        let fd3 = open_rw(&path)?;
        let n = unsafe { libc::pwrite(fd3, b"XYZ".as_ptr().cast(), 3, 100) };
        let via_map = unsafe { std::slice::from_raw_parts(mine.add(100), 3).to_vec() };
        let mut rb = [0u8; 1];
        unsafe { libc::pread(fd3, rb.as_mut_ptr().cast(), 1, MIB as i64) };
        unsafe {
            libc::close(fd3);
            libc::close(up[0]);
            libc::close(down[1]);
            libc::munmap(mine.cast(), len);
        }
        ensure!(libc::WIFEXITED(st), "child status {st:#x}");
        ensure_eq!(
            libc::WEXITSTATUS(st),
            0,
            "child (2: open, 3: mmap, 4: did not see the parent's write)"
        );
        ensure_eq!(seen, (0x5a, 0xa5), "the child's writes seen by the parent");
        ensure_eq!(
            (n, via_map),
            (3, b"XYZ".to_vec()),
            "pwrite seen in the mapping"
        );
        ensure_eq!(rb[0], 0x77, "the mapping's write seen by pread");
        Ok(())
    })();
    unsafe { libc::close(fd) };
    let _ = std::fs::remove_file(&path);
    r
}

fn shared_through_fork() -> CheckResult {
    let path = seg("/dev/shm", "fork");
    let fd = open_rw(&path)?;
    let _ = std::fs::remove_file(&path);
    let r = (|| -> CheckResult {
        sys_ok("ftruncate", || unsafe {
            syscall!(libc::SYS_ftruncate, fd, 2 * 4096)
        })?;
        let m = map_shared(fd, 8192)?;
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe {
                std::ptr::write_volatile(m.add(4096 + 7), 42);
                libc::_exit(0);
            }
        }
        let mut st = 0;
        unsafe { libc::waitpid(pid, &mut st, 0) };
        let v = unsafe { std::ptr::read_volatile(m.add(4096 + 7)) };
        unsafe { libc::munmap(m.cast(), 8192) };
        ensure_eq!(v, 42, "the child's write after fork");
        Ok(())
    })();
    unsafe { libc::close(fd) };
    r
}

fn sparse_truncate() -> CheckResult {
    let before = statfs("/dev/shm")?;
    let path = seg("/dev/shm", "sparse");
    let fd = open_rw(&path)?;
    let size = (before.f_blocks as u64 * before.f_bsize as u64) * 2;
    let r = (|| -> CheckResult {
        sys_ok("ftruncate(twice the filesystem)", || unsafe {
            syscall!(libc::SYS_ftruncate, fd, size)
        })?;
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        unsafe { libc::fstat(fd, &mut st) };
        ensure_eq!(st.st_size as u64, size, "size");
        ensure!(
            st.st_blocks < 64,
            "st_blocks {} of a sparse file",
            st.st_blocks
        );
        let mut b = [9u8; 16];
        let n = unsafe { libc::pread(fd, b.as_mut_ptr().cast(), 16, (size / 2) as i64) };
        ensure_eq!((n, b), (16, [0u8; 16]), "a hole reads as zeros");
        let after = statfs("/dev/shm")?;
        let used = before.f_bfree.saturating_sub(after.f_bfree) as u64 * before.f_bsize as u64;
        ensure!(used < 16 * MIB as u64, "a sparse file used {used} bytes");
        Ok(())
    })();
    unsafe { libc::close(fd) };
    let _ = std::fs::remove_file(&path);
    r
}

fn large_segment_space() -> CheckResult {
    const SIZE: usize = 64 * MIB;
    let before = statfs("/dev/shm")?;
    let bsize = before.f_bsize as u64;
    let path = seg("/dev/shm", "large");
    let fd = open_rw(&path)?;
    let mut chunk = vec![0u8; MIB];
    let r = (|| -> CheckResult {
        for i in 0..SIZE / MIB {
            for (j, b) in chunk.iter_mut().enumerate() {
                *b = (i * 7 + j / 4096) as u8;
            }
            let n = unsafe { libc::write(fd, chunk.as_ptr().cast(), MIB) };
            ensure_eq!(n, MIB as isize, "write of chunk {}", i);
        }
        let during = statfs("/dev/shm")?;
        let used = before.f_bfree.saturating_sub(during.f_bfree) as u64 * bsize;
        ensure!(
            used >= (SIZE as u64) * 9 / 10,
            "64 MiB written, f_bfree dropped by {used} bytes"
        );
        let m = map_shared(fd, SIZE)?;
        let s = unsafe { std::slice::from_raw_parts(m, SIZE) };
        let bad = (0..SIZE)
            .step_by(4096)
            .find(|&o| s[o] != ((o / MIB) * 7 + (o % MIB) / 4096) as u8);
        let mut rb = vec![0u8; MIB];
        let n = unsafe { libc::pread(fd, rb.as_mut_ptr().cast(), MIB, (SIZE - MIB) as i64) };
        let last_ok = n == MIB as isize
            && rb
                .iter()
                .enumerate()
                .all(|(j, &b)| b == ((SIZE / MIB - 1) * 7 + j / 4096) as u8);
        unsafe { libc::munmap(m.cast(), SIZE) };
        ensure!(bad.is_none(), "mapped data differs at {:?}", bad);
        ensure!(last_ok, "read back of the last MiB differs");
        Ok(())
    })();
    unsafe { libc::close(fd) };
    let _ = std::fs::remove_file(&path);
    r?;
    let after = statfs("/dev/shm")?;
    let still = before.f_bfree.saturating_sub(after.f_bfree) as u64 * bsize;
    ensure!(
        still < 8 * MIB as u64,
        "{still} bytes still used after unlink, munmap and close"
    );
    Ok(())
}

fn unlinked_segment_usable() -> CheckResult {
    let path = seg("/dev/shm", "unlinked");
    let fd = open_rw(&path)?;
    let r = (|| -> CheckResult {
        sys_ok("ftruncate", || unsafe {
            syscall!(libc::SYS_ftruncate, fd, 65536)
        })?;
        let m = map_shared(fd, 65536)?;
        std::fs::remove_file(&path).map_err(|e| e.to_string())?;
        unsafe { std::ptr::write_volatile(m.add(60000), 3) };
        let mut b = [0u8; 1];
        let n = unsafe { libc::pread(fd, b.as_mut_ptr().cast(), 1, 60000) };
        unsafe { libc::munmap(m.cast(), 65536) };
        ensure_eq!(
            (n, b[0]),
            (1, 3),
            "write through the mapping of an unlinked segment"
        );
        let cp = c(&path);
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        ensure!(
            unsafe { libc::stat(cp.as_ptr(), &mut st) } != 0,
            "the name still exists"
        );
        Ok(())
    })();
    unsafe { libc::close(fd) };
    let _ = std::fs::remove_file(&path);
    r
}

fn tmp_dir() -> CheckResult {
    let cp = c("/tmp");
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    sys_ok("stat(/tmp)", || unsafe {
        syscall!(libc::SYS_stat, cp.as_ptr(), &raw mut st)
    })?;
    ensure_eq!(st.st_mode & libc::S_IFMT, libc::S_IFDIR, "type");
    ensure_eq!(st.st_mode & 0o7777, 0o1777, "mode");
    Ok(())
}
