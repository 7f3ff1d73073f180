//! Reading and writing user memory: plain bytes, `#[repr(C)]` ABI structs (through
//! `bytemuck`, so this crate needs no `unsafe`), C strings and pointer arrays. Every
//! access is checked; a bad pointer is `EFAULT`.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use bytemuck::{Pod, Zeroable};
use rtos::arch::x86_64::usercopy;

use crate::errno::{Errno, SysResult};

/// Longest path accepted (Linux `PATH_MAX`).
pub const PATH_MAX: usize = 4096;

/// Copies bytes from user memory.
pub fn read_bytes(addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
    usercopy::copy_from_user(buf, addr).map_err(Errno::from)
}

/// Copies bytes to user memory.
pub fn write_bytes(addr: u64, data: &[u8]) -> Result<(), Errno> {
    usercopy::copy_to_user(addr, data).map_err(Errno::from)
}

/// Reads a value of an ABI type.
pub fn read<T: Pod>(addr: u64) -> Result<T, Errno> {
    let mut v = T::zeroed();
    read_bytes(addr, bytemuck::bytes_of_mut(&mut v))?;
    Ok(v)
}

/// Writes a value of an ABI type.
pub fn write<T: Pod>(addr: u64, v: &T) -> Result<(), Errno> {
    write_bytes(addr, bytemuck::bytes_of(v))
}

/// Writes an array of ABI values.
pub fn write_slice<T: Pod>(addr: u64, v: &[T]) -> Result<(), Errno> {
    write_bytes(addr, bytemuck::cast_slice(v))
}

/// Reads `n` ABI values.
pub fn read_vec<T: Pod>(addr: u64, n: usize) -> Result<Vec<T>, Errno> {
    let mut v = vec![T::zeroed(); n];
    read_bytes(addr, bytemuck::cast_slice_mut(&mut v))?;
    Ok(v)
}

/// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
/// `ENAMETOOLONG` if no NUL is found within `max` bytes.
pub fn read_cstr_bytes(addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut at = addr;
    loop {
        // Read up to the end of the page, so a string ending before an unmapped page works.
        let chunk = (4096 - (at % 4096)) as usize;
        let mut buf = [0u8; 4096];
        read_bytes(at, &mut buf[..chunk])?;
        if let Some(i) = buf[..chunk].iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..i]);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            return Ok(out);
        }
        out.extend_from_slice(&buf[..chunk]);
        if out.len() > max {
            return Err(Errno::ENAMETOOLONG);
        }
        at += chunk as u64;
    }
}

/// Reads a path argument: NUL-terminated, at most `PATH_MAX` bytes, not empty.
pub fn read_path(addr: u64) -> Result<String, Errno> {
    let b = read_cstr_bytes(addr, PATH_MAX - 1)?;
    if b.is_empty() {
        return Err(Errno::ENOENT);
    }
    String::from_utf8(b).map_err(|_| Errno::EINVAL)
}

/// Reads a NULL-terminated array of string pointers (argv/envp), with Linux's limits.
pub fn read_string_array(addr: u64) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    let mut total = 0usize;
    for i in 0.. {
        let p: u64 = read(addr + i * 8)?;
        if p == 0 {
            break;
        }
        let s = read_cstr_bytes(p, 128 * 1024).map_err(|e| if e == Errno::ENAMETOOLONG { Errno::E2BIG } else { e })?;
        total += s.len() + 1 + 8;
        if total > 2 * 1024 * 1024 || i > 0x7fff_ffff {
            return Err(Errno::E2BIG);
        }
        out.push(s);
    }
    Ok(out)
}

/// Writes a value if `addr` is not NULL.
pub fn write_opt<T: Pod>(addr: u64, v: &T) -> Result<(), Errno> {
    if addr != 0 {
        write(addr, v)?;
    }
    Ok(())
}

/// Zero-size success helper.
pub fn ok() -> SysResult {
    Ok(0)
}

/// Marker to keep bytemuck's derive traits reachable for ABI structs.
pub use bytemuck::{Pod as AbiPod, Zeroable as AbiZeroable};

#[allow(dead_code)]
fn _assert_traits<T: Pod + Zeroable>() {}
