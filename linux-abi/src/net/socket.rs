//! The socket layer shared by every address family: the `Socket` trait each family
//! implements, the open-file wrapper with the generic `SOL_SOCKET` options, and the
//! socket system calls (socket, socketpair, bind, listen, accept4, connect, shutdown,
//! send*/recv* with ancillary data, names, options).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use bytemuck::{Pod, Zeroable};
use rtos::sync::{SpinLock, WaitQueue};

use super::addr::SockAddr;
use crate::errno::{Errno, SysResult};
use crate::fs::file::{events, flags, File, FileOps};
use crate::fs::vfs::{FileType, Stat};
use crate::syscall::Args;
use crate::uaccess;

pub const SOCK_STREAM: i32 = 1;
pub const SOCK_DGRAM: i32 = 2;
pub const SOCK_RAW: i32 = 3;
pub const SOCK_SEQPACKET: i32 = 5;
pub const SOCK_NONBLOCK: i32 = 0o4000;
pub const SOCK_CLOEXEC: i32 = 0o2000000;

pub const MSG_OOB: u32 = 1;
pub const MSG_PEEK: u32 = 2;
pub const MSG_DONTROUTE: u32 = 4;
pub const MSG_CTRUNC: u32 = 8;
pub const MSG_TRUNC: u32 = 0x20;
pub const MSG_DONTWAIT: u32 = 0x40;
pub const MSG_EOR: u32 = 0x80;
pub const MSG_WAITALL: u32 = 0x100;
pub const MSG_NOSIGNAL: u32 = 0x4000;
pub const MSG_MORE: u32 = 0x8000;
pub const MSG_WAITFORONE: u32 = 0x10000;
pub const MSG_CMSG_CLOEXEC: u32 = 0x4000_0000;

pub const SOL_SOCKET: i32 = 1;
pub const SO_DEBUG: i32 = 1;
pub const SO_REUSEADDR: i32 = 2;
pub const SO_TYPE: i32 = 3;
pub const SO_ERROR: i32 = 4;
pub const SO_DONTROUTE: i32 = 5;
pub const SO_BROADCAST: i32 = 6;
pub const SO_SNDBUF: i32 = 7;
pub const SO_RCVBUF: i32 = 8;
pub const SO_KEEPALIVE: i32 = 9;
pub const SO_OOBINLINE: i32 = 10;
pub const SO_LINGER: i32 = 13;
pub const SO_REUSEPORT: i32 = 15;
pub const SO_PASSCRED: i32 = 16;
pub const SO_PEERCRED: i32 = 17;
pub const SO_RCVLOWAT: i32 = 18;
pub const SO_SNDLOWAT: i32 = 19;
pub const SO_RCVTIMEO: i32 = 20;
pub const SO_SNDTIMEO: i32 = 21;
pub const SO_ACCEPTCONN: i32 = 30;
pub const SO_SNDBUFFORCE: i32 = 32;
pub const SO_RCVBUFFORCE: i32 = 33;
pub const SO_PROTOCOL: i32 = 38;
pub const SO_DOMAIN: i32 = 39;

pub const SCM_RIGHTS: i32 = 1;
pub const SCM_CREDENTIALS: i32 = 2;

/// Process credentials passed with `SCM_CREDENTIALS` / reported by `SO_PEERCRED`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Ucred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// The caller's credentials.
pub fn my_creds() -> Ucred {
    Ucred { pid: crate::process::current_process().pid, uid: 0, gid: 0 }
}

/// How a call may block.
#[derive(Clone, Copy, Debug)]
pub struct Blocking {
    pub nonblock: bool,
    /// Absolute monotonic deadline (SO_RCVTIMEO / SO_SNDTIMEO).
    pub deadline_ns: Option<u64>,
}

impl Blocking {
    /// Turns a wait result into the errno Linux gives (EAGAIN on timeout, restart on signal).
    pub fn wait_err(e: rtos::sync::WaitError) -> Errno {
        match e {
            rtos::sync::WaitError::TimedOut => Errno::EAGAIN,
            rtos::sync::WaitError::Interrupted => Errno::ERESTARTSYS,
        }
    }

    /// The wait options for this call.
    pub fn options(&self) -> rtos::sync::WaitOptions {
        rtos::sync::WaitOptions { interruptible: true, deadline_ns: self.deadline_ns }
    }
}

/// What `send` carries.
pub struct Outgoing<'a> {
    pub data: &'a [u8],
    pub to: Option<SockAddr>,
    pub rights: Vec<Arc<File>>,
    pub creds: Option<Ucred>,
    pub flags: u32,
}

/// What `recv` returns.
#[derive(Default)]
pub struct Incoming {
    pub data: Vec<u8>,
    /// Length of the whole datagram (for MSG_TRUNC), or `data.len()`.
    pub full_len: usize,
    pub from: Option<SockAddr>,
    pub rights: Vec<Arc<File>>,
    pub creds: Option<Ucred>,
}

/// A socket of some family and type.
pub trait Socket: Send + Sync + Any {
    fn family(&self) -> u16;
    fn sock_type(&self) -> i32;
    fn protocol(&self) -> i32 {
        0
    }
    fn bind(&self, addr: SockAddr) -> Result<(), Errno>;
    fn listen(&self, _backlog: i32) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// Accepts a connection: the new socket and the peer's address.
    fn accept(&self, _b: Blocking) -> Result<(Arc<dyn Socket>, SockAddr), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    fn connect(&self, addr: SockAddr, b: Blocking) -> Result<(), Errno>;
    fn shutdown(&self, how: i32) -> Result<(), Errno>;
    fn send(&self, out: Outgoing<'_>, b: Blocking) -> SysResult;
    fn recv(&self, max: usize, flags: u32, b: Blocking) -> Result<Incoming, Errno>;
    fn local_addr(&self) -> Result<SockAddr, Errno>;
    fn peer_addr(&self) -> Result<SockAddr, Errno>;
    /// Readiness (`POLL*`).
    fn poll(&self) -> u32;
    fn wait_queue(&self) -> &WaitQueue;
    /// Bytes a read would return now (`FIONREAD`).
    fn pending(&self) -> usize {
        0
    }
    /// Family/protocol level options; `ENOPROTOOPT` for unknown ones.
    fn setsockopt(&self, _level: i32, _name: i32, _val: &[u8]) -> Result<(), Errno> {
        Err(Errno::ENOPROTOOPT)
    }
    fn getsockopt(&self, _level: i32, _name: i32) -> Result<Vec<u8>, Errno> {
        Err(Errno::ENOPROTOOPT)
    }
    /// `SO_ERROR`: takes the pending error.
    fn take_error(&self) -> i32 {
        0
    }
    fn is_listening(&self) -> bool {
        false
    }
    /// `SO_PEERCRED`.
    fn peer_creds(&self) -> Option<Ucred> {
        None
    }
    /// Generic options changed (buffer sizes, reuse flags, ...).
    fn options_changed(&self, _o: &SockOpts) {}
    fn as_any(&self) -> &dyn Any;
}

/// The `SOL_SOCKET` options kept for every socket.
#[derive(Clone, Copy, Debug)]
pub struct SockOpts {
    pub reuse_addr: bool,
    pub reuse_port: bool,
    pub keepalive: bool,
    pub broadcast: bool,
    pub passcred: bool,
    pub oobinline: bool,
    pub linger: Option<i32>,
    pub rcvbuf: i32,
    pub sndbuf: i32,
    pub rcvlowat: i32,
    pub rcvtimeo_ns: u64,
    pub sndtimeo_ns: u64,
}

impl Default for SockOpts {
    fn default() -> Self {
        Self {
            reuse_addr: false,
            reuse_port: false,
            keepalive: false,
            broadcast: false,
            passcred: false,
            oobinline: false,
            linger: None,
            rcvbuf: 131_072,
            sndbuf: 16_384,
            rcvlowat: 1,
            rcvtimeo_ns: 0,
            sndtimeo_ns: 0,
        }
    }
}

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// An open socket.
pub struct SocketFile {
    pub sock: Arc<dyn Socket>,
    pub opts: SpinLock<SockOpts>,
    ino: u64,
}

impl SocketFile {
    /// Wraps a socket.
    pub fn new(sock: Arc<dyn Socket>) -> Arc<Self> {
        Arc::new(Self { sock, opts: SpinLock::new(SockOpts::default()), ino: NEXT_INO.fetch_add(1, Ordering::Relaxed) })
    }

    fn blocking(&self, f: &File, flags: u32, send: bool) -> Blocking {
        let o = *self.opts.lock();
        let t = if send { o.sndtimeo_ns } else { o.rcvtimeo_ns };
        Blocking { nonblock: f.nonblocking() || flags & MSG_DONTWAIT != 0, deadline_ns: (t > 0).then(|| rtos::time::now_ns() + t) }
    }
}

fn sigpipe(flags: u32) {
    if flags & MSG_NOSIGNAL == 0 {
        if let Some(t) = crate::process::try_current_task() {
            crate::signal::send_to_task(&t, crate::signal::SigInfo::new(crate::signal::SIGPIPE, crate::signal::SI_USER));
        }
    }
}

impl FileOps for SocketFile {
    fn read(&self, f: &File, buf: &mut [u8]) -> SysResult {
        let r = self.sock.recv(buf.len(), 0, self.blocking(f, 0, false))?;
        buf[..r.data.len()].copy_from_slice(&r.data);
        Ok(r.data.len())
    }

    fn write(&self, f: &File, data: &[u8]) -> SysResult {
        let r = self.sock.send(Outgoing { data, to: None, rights: Vec::new(), creds: None, flags: 0 }, self.blocking(f, 0, true));
        if r == Err(Errno::EPIPE) {
            sigpipe(0);
        }
        r
    }

    fn poll(&self, _f: &File) -> u32 {
        self.sock.poll()
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(self.sock.wait_queue())
    }

    fn ioctl(&self, _f: &File, cmd: u32, arg: u64) -> SysResult {
        const FIONREAD: u32 = 0x541b;
        const SIOCOUTQ: u32 = 0x5411;
        match cmd {
            FIONREAD => {
                uaccess::write(arg, &(self.sock.pending() as i32))?;
                Ok(0)
            }
            SIOCOUTQ => {
                uaccess::write(arg, &0i32)?;
                Ok(0)
            }
            c if super::ifaces::is_interface_ioctl(c) => super::ifaces::ioctl(cmd, arg),
            _ => Err(Errno::ENOTTY),
        }
    }

    fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat { dev: 0x8, ino: self.ino, mode: FileType::Socket.mode_bits() | 0o777, nlink: 1, blksize: 4096, ..Default::default() })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The socket behind a descriptor (`ENOTSOCK` otherwise).
pub fn socket_of(fd: i32) -> Result<(Arc<File>, Arc<dyn Socket>), Errno> {
    let f = crate::syscall::fd_file(fd)?;
    let s = f.ops.as_any().downcast_ref::<SocketFile>().ok_or(Errno::ENOTSOCK)?.sock.clone();
    Ok((f, s))
}

fn sockfile(f: &File) -> Result<&SocketFile, Errno> {
    f.ops.as_any().downcast_ref::<SocketFile>().ok_or(Errno::ENOTSOCK)
}

/// Installs a socket as a new descriptor.
pub fn install(sock: Arc<dyn Socket>, type_flags: i32) -> SysResult {
    let name = alloc::format!("socket:[{}]", NEXT_INO.load(Ordering::Relaxed));
    let f = File::new(SocketFile::new(sock), flags::O_RDWR | (type_flags as u32 & flags::O_NONBLOCK), None, name);
    crate::syscall::install_fd(f, type_flags & SOCK_CLOEXEC != 0)
}

fn read_addr(addr: u64, len: u32) -> Result<SockAddr, Errno> {
    if len > 128 {
        return Err(Errno::EINVAL);
    }
    let mut b = vec![0u8; len as usize];
    uaccess::read_bytes(addr, &mut b)?;
    SockAddr::parse(&b)
}

/// Writes an address and its length (value-result `socklen_t`), truncating like Linux.
fn write_addr(addr: u64, len_ptr: u64, a: &SockAddr) -> Result<(), Errno> {
    if addr == 0 || len_ptr == 0 {
        return Ok(());
    }
    let cap: i32 = uaccess::read(len_ptr)?;
    if cap < 0 {
        return Err(Errno::EINVAL);
    }
    let b = a.encode();
    let n = b.len().min(cap as usize);
    uaccess::write_bytes(addr, &b[..n])?;
    uaccess::write(len_ptr, &(b.len() as u32))?;
    Ok(())
}

/// `socket(domain, type, protocol)`.
pub fn socket(a: Args) -> SysResult {
    let (domain, ty, proto) = (a.i(0), a.i(1), a.i(2));
    let base = ty & !(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if ty & !(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let sock: Arc<dyn Socket> = match domain as u16 {
        super::addr::AF_UNIX => super::unix::create(base, proto)?,
        super::addr::AF_INET | super::addr::AF_INET6 => super::inet::create(domain as u16, base, proto)?,
        super::addr::AF_NETLINK => super::netlink::create(base, proto)?,
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    install(sock, ty)
}

/// `socketpair(domain, type, protocol, sv)`.
pub fn socketpair(a: Args) -> SysResult {
    let (domain, ty, proto) = (a.i(0), a.i(1), a.i(2));
    if ty & !(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let base = ty & !(SOCK_NONBLOCK | SOCK_CLOEXEC);
    let (x, y) = match domain as u16 {
        super::addr::AF_UNIX => super::unix::pair(base, proto)?,
        super::addr::AF_INET | super::addr::AF_INET6 => return Err(Errno::EOPNOTSUPP),
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    let fd0 = install(x, ty)?;
    let fd1 = match install(y, ty) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = crate::process::current_task().files().close(fd0 as i32);
            return Err(e);
        }
    };
    if let Err(e) = uaccess::write(a.u(3), &[fd0 as i32, fd1 as i32]) {
        let files = crate::process::current_task().files();
        let _ = files.close(fd0 as i32);
        let _ = files.close(fd1 as i32);
        return Err(e);
    }
    Ok(0)
}

pub fn bind(a: Args) -> SysResult {
    let (_, s) = socket_of(a.i(0))?;
    let addr = read_addr(a.u(1), a.u32(2))?;
    s.bind(addr)?;
    Ok(0)
}

pub fn listen(a: Args) -> SysResult {
    let (_, s) = socket_of(a.i(0))?;
    s.listen(a.i(1).clamp(0, 4096))?;
    Ok(0)
}

/// `accept4(fd, addr, addrlen, flags)`.
pub fn accept4(a: Args) -> SysResult {
    let fl = a.i(3);
    if fl & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let (f, s) = socket_of(a.i(0))?;
    let sf = sockfile(&f)?;
    let b = sf.blocking(&f, 0, false);
    let (new, peer) = s.accept(b)?;
    let fd = install(new, fl)?;
    if let Err(e) = write_addr(a.u(1), a.u(2), &peer) {
        let _ = crate::process::current_task().files().close(fd as i32);
        return Err(e);
    }
    Ok(fd)
}

pub fn accept(a: Args) -> SysResult {
    accept4(Args([a.u(0), a.u(1), a.u(2), 0, 0, 0]))
}

pub fn connect(a: Args) -> SysResult {
    let (f, s) = socket_of(a.i(0))?;
    let addr = read_addr(a.u(1), a.u32(2))?;
    let b = sockfile(&f)?.blocking(&f, 0, true);
    s.connect(addr, b)?;
    Ok(0)
}

pub fn shutdown(a: Args) -> SysResult {
    let (_, s) = socket_of(a.i(0))?;
    if !(0..=2).contains(&a.i(1)) {
        return Err(Errno::EINVAL);
    }
    s.shutdown(a.i(1))?;
    Ok(0)
}

pub fn getsockname(a: Args) -> SysResult {
    let (_, s) = socket_of(a.i(0))?;
    write_addr(a.u(1), a.u(2), &s.local_addr()?)?;
    Ok(0)
}

pub fn getpeername(a: Args) -> SysResult {
    let (_, s) = socket_of(a.i(0))?;
    write_addr(a.u(1), a.u(2), &s.peer_addr()?)?;
    Ok(0)
}

/// `struct msghdr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
struct MsgHdr {
    name: u64,
    namelen: u32,
    _pad: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
    flags: i32,
    _pad2: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Iovec {
    base: u64,
    len: u64,
}

fn gather(iov: u64, n: u64) -> Result<Vec<u8>, Errno> {
    if n > 1024 {
        return Err(Errno::EMSGSIZE);
    }
    let v: Vec<Iovec> = uaccess::read_vec(iov, n as usize)?;
    let total: u64 = v.iter().try_fold(0u64, |acc, i| acc.checked_add(i.len)).ok_or(Errno::EINVAL)?;
    if total > 0x7fff_f000 {
        return Err(Errno::EINVAL);
    }
    let mut out = vec![0u8; total as usize];
    let mut at = 0;
    for i in v {
        uaccess::read_bytes(i.base, &mut out[at..at + i.len as usize])?;
        at += i.len as usize;
    }
    Ok(out)
}

fn scatter(iov: u64, n: u64, data: &[u8]) -> Result<(), Errno> {
    let v: Vec<Iovec> = uaccess::read_vec(iov, n.min(1024) as usize)?;
    let mut at = 0;
    for i in v {
        if at >= data.len() {
            break;
        }
        let k = (i.len as usize).min(data.len() - at);
        uaccess::write_bytes(i.base, &data[at..at + k])?;
        at += k;
    }
    Ok(())
}

fn iov_len(iov: u64, n: u64) -> Result<usize, Errno> {
    if n > 1024 {
        return Err(Errno::EMSGSIZE);
    }
    let v: Vec<Iovec> = uaccess::read_vec(iov, n as usize)?;
    Ok(v.iter().map(|i| i.len as usize).sum::<usize>().min(0x7fff_f000))
}

/// Parses control messages (SCM_RIGHTS, SCM_CREDENTIALS).
fn parse_control(addr: u64, len: u64) -> Result<(Vec<Arc<File>>, Option<Ucred>), Errno> {
    let mut rights = Vec::new();
    let mut creds = None;
    if addr == 0 || len == 0 {
        return Ok((rights, creds));
    }
    if len > 64 * 1024 {
        return Err(Errno::ENOBUFS);
    }
    let mut b = vec![0u8; len as usize];
    uaccess::read_bytes(addr, &mut b)?;
    let mut off = 0usize;
    while off + 16 <= b.len() {
        let clen = u64::from_le_bytes(b[off..off + 8].try_into().map_err(|_| Errno::EINVAL)?) as usize;
        let level = i32::from_le_bytes(b[off + 8..off + 12].try_into().map_err(|_| Errno::EINVAL)?);
        let ty = i32::from_le_bytes(b[off + 12..off + 16].try_into().map_err(|_| Errno::EINVAL)?);
        if clen < 16 || off + clen > b.len() {
            return Err(Errno::EINVAL);
        }
        let data = &b[off + 16..off + clen];
        if level == SOL_SOCKET && ty == SCM_RIGHTS {
            if data.len() % 4 != 0 || data.len() / 4 > 253 {
                return Err(Errno::EINVAL);
            }
            let table = crate::process::current_task().files();
            for c in data.chunks(4) {
                rights.push(table.get(i32::from_le_bytes([c[0], c[1], c[2], c[3]]))?);
            }
        } else if level == SOL_SOCKET && ty == SCM_CREDENTIALS {
            if data.len() < 12 {
                return Err(Errno::EINVAL);
            }
            let c: Ucred = *bytemuck::from_bytes(&data[..12]);
            // Every process is root here: any pid/uid/gid may be claimed (CAP_SYS_ADMIN,
            // CAP_SETUID, CAP_SETGID), but the pid must exist (Linux `__scm_send`: ESRCH).
            if c.pid != my_creds().pid && crate::process::find_process(c.pid).is_none() {
                return Err(Errno::ESRCH);
            }
            creds = Some(c);
        } else {
            return Err(Errno::EINVAL);
        }
        off += clen.next_multiple_of(8);
    }
    Ok((rights, creds))
}

fn do_send(fd: i32, data: &[u8], to: Option<SockAddr>, rights: Vec<Arc<File>>, creds: Option<Ucred>, flags: u32) -> SysResult {
    let (f, s) = socket_of(fd)?;
    let b = sockfile(&f)?.blocking(&f, flags, true);
    let r = s.send(Outgoing { data, to, rights, creds, flags }, b);
    if r == Err(Errno::EPIPE) {
        sigpipe(flags);
    }
    r
}

/// `sendto(fd, buf, len, flags, addr, addrlen)`.
pub fn sendto(a: Args) -> SysResult {
    let len = a.us(2).min(0x7fff_f000);
    let mut data = vec![0u8; len];
    uaccess::read_bytes(a.u(1), &mut data)?;
    let to = if a.u(4) != 0 { Some(read_addr(a.u(4), a.u32(5))?) } else { None };
    do_send(a.i(0), &data, to, Vec::new(), None, a.u32(3))
}

fn sendmsg_one(fd: i32, hdr: &MsgHdr, flags: u32) -> SysResult {
    let data = gather(hdr.iov, hdr.iovlen)?;
    let to = if hdr.name != 0 && hdr.namelen != 0 { Some(read_addr(hdr.name, hdr.namelen)?) } else { None };
    let (rights, creds) = parse_control(hdr.control, hdr.controllen)?;
    do_send(fd, &data, to, rights, creds, flags)
}

pub fn sendmsg(a: Args) -> SysResult {
    let hdr: MsgHdr = uaccess::read(a.u(1))?;
    sendmsg_one(a.i(0), &hdr, a.u32(2))
}

/// Builds control messages for received rights/credentials; returns (bytes, truncated).
fn build_control(r: &mut Incoming, cap: usize, cloexec: bool) -> Result<(Vec<u8>, bool), Errno> {
    let mut out = Vec::new();
    let mut truncated = false;
    if let Some(c) = r.creds {
        if out.len() + 32 <= cap {
            out.extend_from_slice(&28u64.to_le_bytes());
            out.extend_from_slice(&SOL_SOCKET.to_le_bytes());
            out.extend_from_slice(&SCM_CREDENTIALS.to_le_bytes());
            out.extend_from_slice(bytemuck::bytes_of(&c));
            out.resize(out.len().next_multiple_of(8), 0);
        } else {
            truncated = true;
        }
    }
    if !r.rights.is_empty() {
        let room = cap.saturating_sub(out.len() + 16) / 4;
        let n = r.rights.len().min(room);
        if n < r.rights.len() {
            truncated = true;
        }
        if n > 0 {
            let table = crate::process::current_task().files();
            let limit = crate::process::current_process().rlimits.lock().soft(crate::process::limits::RLIMIT_NOFILE) as usize;
            let mut fds = Vec::new();
            for file in r.rights.drain(..n) {
                fds.push(table.alloc(file, cloexec, 0, limit)?);
            }
            out.extend_from_slice(&((16 + 4 * n) as u64).to_le_bytes());
            out.extend_from_slice(&SOL_SOCKET.to_le_bytes());
            out.extend_from_slice(&SCM_RIGHTS.to_le_bytes());
            for fd in fds {
                out.extend_from_slice(&fd.to_le_bytes());
            }
            out.resize(out.len().next_multiple_of(8).min(cap.max(out.len())), 0);
        }
        r.rights.clear();
    }
    Ok((out, truncated))
}

fn recvmsg_one(fd: i32, hdr_addr: u64, flags: u32) -> SysResult {
    let mut hdr: MsgHdr = uaccess::read(hdr_addr)?;
    let (f, s) = socket_of(fd)?;
    let b = sockfile(&f)?.blocking(&f, flags, false);
    let max = iov_len(hdr.iov, hdr.iovlen)?;
    let mut r = s.recv(max, flags, b)?;
    if !sockfile(&f)?.opts.lock().passcred {
        // Credentials reach only a receiver that asked for them (SO_PASSCRED).
        r.creds = None;
    }
    scatter(hdr.iov, hdr.iovlen, &r.data)?;
    let mut out_flags = 0;
    let dgram = s.sock_type() != SOCK_STREAM;
    if dgram && r.full_len > r.data.len() {
        out_flags |= MSG_TRUNC as i32;
    }
    if hdr.name != 0 {
        match &r.from {
            Some(a) => {
                let enc = a.encode();
                let n = enc.len().min(hdr.namelen as usize);
                uaccess::write_bytes(hdr.name, &enc[..n])?;
                hdr.namelen = enc.len() as u32;
            }
            None => hdr.namelen = 0,
        }
    }
    let (ctl, trunc) = build_control(&mut r, hdr.controllen as usize, flags & MSG_CMSG_CLOEXEC != 0)?;
    if !ctl.is_empty() {
        uaccess::write_bytes(hdr.control, &ctl)?;
    }
    hdr.controllen = ctl.len() as u64;
    if trunc {
        out_flags |= MSG_CTRUNC as i32;
    }
    hdr.flags = out_flags;
    uaccess::write(hdr_addr, &hdr)?;
    Ok(if flags & MSG_TRUNC != 0 && dgram { r.full_len } else { r.data.len() })
}

pub fn recvmsg(a: Args) -> SysResult {
    recvmsg_one(a.i(0), a.u(1), a.u32(2))
}

/// `recvfrom(fd, buf, len, flags, addr, addrlen)`.
pub fn recvfrom(a: Args) -> SysResult {
    let (f, s) = socket_of(a.i(0))?;
    let flags = a.u32(3);
    let b = sockfile(&f)?.blocking(&f, flags, false);
    let len = a.us(2).min(0x7fff_f000);
    if s.sock_type() == SOCK_STREAM && flags & MSG_PEEK == 0 {
        rtos::arch::x86_64::usercopy::probe_writable(a.u(1), len.min(4 << 20)).map_err(|_| Errno::EFAULT)?;
    }
    let r = s.recv(len, flags, b)?;
    uaccess::write_bytes(a.u(1), &r.data)?;
    if let Some(from) = &r.from {
        write_addr(a.u(4), a.u(5), from)?;
    } else if a.u(5) != 0 && a.u(4) != 0 {
        uaccess::write(a.u(5), &0u32)?;
    }
    let dgram = s.sock_type() != SOCK_STREAM;
    Ok(if flags & MSG_TRUNC != 0 && dgram { r.full_len } else { r.data.len() })
}

/// `struct mmsghdr`: a msghdr and the length sent/received.
const MMSG_SIZE: u64 = 64;

pub fn sendmmsg(a: Args) -> SysResult {
    let (fd, vec, n, flags) = (a.i(0), a.u(1), a.u32(2).min(1024), a.u32(3));
    let mut done = 0u32;
    while done < n {
        let at = vec + u64::from(done) * MMSG_SIZE;
        let hdr: MsgHdr = uaccess::read(at)?;
        match sendmsg_one(fd, &hdr, flags) {
            Ok(len) => uaccess::write(at + 56, &(len as u32))?,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
        done += 1;
    }
    Ok(done as usize)
}

pub fn recvmmsg(a: Args) -> SysResult {
    let (fd, vec, n) = (a.i(0), a.u(1), a.u32(2).min(1024));
    let mut flags = a.u32(3);
    let deadline = if a.u(4) != 0 { Some(rtos::time::now_ns().saturating_add(crate::time::read_timespec(a.u(4))?)) } else { None };
    let mut done = 0u32;
    while done < n {
        let at = vec + u64::from(done) * MMSG_SIZE;
        match recvmsg_one(fd, at, flags) {
            Ok(len) => uaccess::write(at + 56, &(len as u32))?,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
        done += 1;
        if flags & MSG_WAITFORONE != 0 {
            flags |= MSG_DONTWAIT;
        }
        if deadline.is_some_and(|d| rtos::time::now_ns() >= d) {
            break;
        }
    }
    Ok(done as usize)
}

fn int_val(v: &[u8]) -> Result<i32, Errno> {
    if v.len() < 4 {
        return Err(Errno::EINVAL);
    }
    Ok(i32::from_le_bytes([v[0], v[1], v[2], v[3]]))
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Timeval {
    sec: i64,
    usec: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Linger {
    onoff: i32,
    linger: i32,
}

/// `setsockopt(fd, level, name, value, len)`.
pub fn setsockopt(a: Args) -> SysResult {
    let (f, s) = socket_of(a.i(0))?;
    let sf = sockfile(&f)?;
    let (level, name, len) = (a.i(1), a.i(2), a.u32(4));
    if len > 4096 {
        return Err(Errno::EINVAL);
    }
    let mut v = vec![0u8; len as usize];
    uaccess::read_bytes(a.u(3), &mut v)?;
    if level != SOL_SOCKET {
        return s.setsockopt(level, name, &v).map(|_| 0);
    }
    let mut o = sf.opts.lock();
    match name {
        SO_REUSEADDR => o.reuse_addr = int_val(&v)? != 0,
        SO_REUSEPORT => o.reuse_port = int_val(&v)? != 0,
        SO_KEEPALIVE => o.keepalive = int_val(&v)? != 0,
        SO_BROADCAST => o.broadcast = int_val(&v)? != 0,
        SO_PASSCRED => o.passcred = int_val(&v)? != 0,
        SO_OOBINLINE => o.oobinline = int_val(&v)? != 0,
        SO_DEBUG | SO_DONTROUTE => {
            int_val(&v)?;
        }
        // Linux doubles the value (bookkeeping overhead) and clamps it.
        SO_RCVBUF | SO_RCVBUFFORCE => o.rcvbuf = (int_val(&v)?.clamp(1152, 6_291_456 / 2)) * 2,
        SO_SNDBUF | SO_SNDBUFFORCE => o.sndbuf = (int_val(&v)?.clamp(2304, 4_194_304 / 2)) * 2,
        SO_RCVLOWAT => o.rcvlowat = int_val(&v)?.max(1),
        SO_SNDLOWAT => return Err(Errno::ENOPROTOOPT),
        SO_LINGER => {
            if v.len() < 8 {
                return Err(Errno::EINVAL);
            }
            let l: Linger = *bytemuck::from_bytes(&v[..8]);
            o.linger = (l.onoff != 0).then_some(l.linger.max(0));
        }
        SO_RCVTIMEO | SO_SNDTIMEO => {
            if v.len() < 16 {
                return Err(Errno::EINVAL);
            }
            let t: Timeval = *bytemuck::from_bytes(&v[..16]);
            if t.usec < 0 || t.usec >= 1_000_000 {
                return Err(Errno::EDOM);
            }
            let ns = if t.sec < 0 { 0 } else { t.sec as u64 * 1_000_000_000 + t.usec as u64 * 1000 };
            if name == SO_RCVTIMEO {
                o.rcvtimeo_ns = ns;
            } else {
                o.sndtimeo_ns = ns;
            }
        }
        SO_TYPE | SO_ERROR | SO_ACCEPTCONN | SO_PEERCRED | SO_PROTOCOL | SO_DOMAIN => return Err(Errno::ENOPROTOOPT),
        _ => return Err(Errno::ENOPROTOOPT),
    }
    let copy = *o;
    drop(o);
    s.options_changed(&copy);
    Ok(0)
}

/// `getsockopt(fd, level, name, value, len*)`.
pub fn getsockopt(a: Args) -> SysResult {
    let (f, s) = socket_of(a.i(0))?;
    let sf = sockfile(&f)?;
    let (level, name) = (a.i(1), a.i(2));
    let cap: i32 = uaccess::read(a.u(4))?;
    if cap < 0 {
        return Err(Errno::EINVAL);
    }
    let val: Vec<u8> = if level == SOL_SOCKET {
        let o = *sf.opts.lock();
        let int = |x: i32| x.to_le_bytes().to_vec();
        match name {
            SO_TYPE => int(s.sock_type()),
            SO_ERROR => int(s.take_error()),
            SO_REUSEADDR => int(i32::from(o.reuse_addr)),
            SO_REUSEPORT => int(i32::from(o.reuse_port)),
            SO_KEEPALIVE => int(i32::from(o.keepalive)),
            SO_BROADCAST => int(i32::from(o.broadcast)),
            SO_PASSCRED => int(i32::from(o.passcred)),
            SO_OOBINLINE => int(i32::from(o.oobinline)),
            SO_DEBUG | SO_DONTROUTE => int(0),
            SO_RCVBUF => int(o.rcvbuf),
            SO_SNDBUF => int(o.sndbuf),
            SO_RCVLOWAT => int(o.rcvlowat),
            SO_SNDLOWAT => int(1),
            SO_ACCEPTCONN => int(i32::from(s.is_listening())),
            SO_PROTOCOL => int(s.protocol()),
            SO_DOMAIN => int(i32::from(s.family())),
            SO_LINGER => bytemuck::bytes_of(&Linger { onoff: i32::from(o.linger.is_some()), linger: o.linger.unwrap_or(0) }).to_vec(),
            SO_RCVTIMEO | SO_SNDTIMEO => {
                let ns = if name == SO_RCVTIMEO { o.rcvtimeo_ns } else { o.sndtimeo_ns };
                bytemuck::bytes_of(&Timeval { sec: (ns / 1_000_000_000) as i64, usec: ((ns / 1000) % 1_000_000) as i64 }).to_vec()
            }
            SO_PEERCRED => match s.peer_creds() {
                Some(c) => bytemuck::bytes_of(&c).to_vec(),
                None => bytemuck::bytes_of(&Ucred { pid: 0, uid: u32::MAX, gid: u32::MAX }).to_vec(),
            },
            _ => return Err(Errno::ENOPROTOOPT),
        }
    } else {
        s.getsockopt(level, name)?
    };
    let n = val.len().min(cap as usize);
    uaccess::write_bytes(a.u(3), &val[..n])?;
    uaccess::write(a.u(4), &(n as u32))?;
    Ok(0)
}

/// Registers the boxed creation of sockets for families implemented elsewhere.
pub type Factory = Box<dyn Fn(i32, i32) -> Result<Arc<dyn Socket>, Errno> + Send + Sync>;

/// Readiness helper: combine stream state into `POLL*` bits.
pub fn stream_events(readable: bool, writable: bool, read_closed: bool, hup: bool, error: bool) -> u32 {
    let mut ev = 0;
    if readable || read_closed {
        ev |= events::POLLIN | events::POLLRDNORM;
    }
    if writable {
        ev |= events::POLLOUT | events::POLLWRNORM;
    }
    if read_closed {
        ev |= events::POLLRDHUP;
    }
    if hup {
        ev |= events::POLLHUP;
    }
    if error {
        ev |= events::POLLERR;
    }
    ev
}
