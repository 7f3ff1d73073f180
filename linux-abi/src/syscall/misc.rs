//! System information: `uname`, `sysinfo`, `getrandom`.

use bytemuck::{Pod, Zeroable};

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::uaccess;

/// The kernel release Axle reports (a Linux version new enough for every feature probe of
/// musl, glibc, Rust std and Tokio).
pub const RELEASE: &str = "6.1.0-axle";

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Utsname {
    fields: [[u8; 65]; 6],
}

fn field(s: &str) -> [u8; 65] {
    let mut f = [0u8; 65];
    f[..s.len().min(64)].copy_from_slice(&s.as_bytes()[..s.len().min(64)]);
    f
}

pub fn uname(a: Args) -> SysResult {
    let host = crate::hostname();
    let u = Utsname { fields: [field("Linux"), field(&host), field(RELEASE), field(concat!("#1 SMP Axle ", env!("CARGO_PKG_VERSION"))), field("x86_64"), field("(none)")] };
    uaccess::write(a.u(0), &u)?;
    Ok(0)
}

#[repr(C)]
#[derive(Clone, Copy, Default, Pod, Zeroable)]
struct Sysinfo {
    uptime: i64,
    loads: [u64; 3],
    totalram: u64,
    freeram: u64,
    sharedram: u64,
    bufferram: u64,
    totalswap: u64,
    freeswap: u64,
    procs: u16,
    _pad: [u8; 6],
    totalhigh: u64,
    freehigh: u64,
    mem_unit: u32,
    _f: [u8; 4],
}
const _: () = assert!(core::mem::size_of::<Sysinfo>() == 112);

pub fn sysinfo(a: Args) -> SysResult {
    let s = Sysinfo {
        uptime: (rtos::time::now_ns() / 1_000_000_000) as i64,
        totalram: rtos::mm::frame::total_pages() as u64 * 4096,
        freeram: rtos::mm::frame::free_pages() as u64 * 4096,
        procs: crate::process::task_count().min(u16::MAX as usize) as u16,
        mem_unit: 1,
        ..Default::default()
    };
    uaccess::write(a.u(0), &s)?;
    Ok(0)
}

/// `getrandom(buf, len, flags)`: the pool is always initialised.
pub fn getrandom(a: Args) -> SysResult {
    const GRND_NONBLOCK: u32 = 1;
    const GRND_RANDOM: u32 = 2;
    const GRND_INSECURE: u32 = 4;
    let flags = a.u32(2);
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0 || (flags & GRND_RANDOM != 0 && flags & GRND_INSECURE != 0) {
        return Err(Errno::EINVAL);
    }
    let len = a.us(1).min(32 * 1024 * 1024);
    let mut done = 0;
    let mut buf = [0u8; 256];
    while done < len {
        let n = (len - done).min(buf.len());
        crate::random::fill(&mut buf[..n]);
        uaccess::write_bytes(a.u(0) + done as u64, &buf[..n])?;
        done += n;
    }
    Ok(len)
}
