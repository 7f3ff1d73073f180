//! `sockets_inet` suite: AF_INET/AF_INET6 socket semantics on loopback (127.0.0.1, ::1).
//!
//! Every port is an ephemeral one (bind port 0, read it back); a port "nobody listens
//! on" is one this suite holds bound without listening (TCP) or just released (UDP).
//!
//! - `socket_flags`: SOCK_NONBLOCK|SOCK_CLOEXEC show in F_GETFL/F_GETFD (v4, v6), not without;
//! - `bind_ephemeral`: bind port 0 picks a port in 1024..=65535 that getsockname reports,
//!   with the bound address (v4, v6); a second bind is EINVAL;
//! - `addrinuse_listener`: binding a listener's port is EADDRINUSE, also with SO_REUSEADDR
//!   on both;
//! - `reuseaddr_time_wait`: after the listener and its accepted connection closed first
//!   (TIME_WAIT on the port), a bind without SO_REUSEADDR is EADDRINUSE, with it it works;
//! - `reuseport_listeners`: two SO_REUSEPORT listeners share a port; a connection reaches one;
//! - `accept4_flags_and_peer`: accept4 SOCK_CLOEXEC|SOCK_NONBLOCK sets both on the new fd
//!   (plain accept neither), the peer address is the client's name, getpeername agrees (v4, v6);
//! - `nonblocking_connect`: EINPROGRESS (or 0), then POLLOUT and SO_ERROR 0, connected;
//!   connect again: 0 once after EINPROGRESS, then EISCONN;
//! - `connect_refused_blocking`: ECONNREFUSED (v4, v6);
//! - `connect_refused_nonblocking`: EINPROGRESS, then POLLERR|POLLHUP, SO_ERROR
//!   ECONNREFUSED once (then 0);
//! - `shutdown_wr_eof_rdhup`: after the peer's shutdown(SHUT_WR) a read gives end of file,
//!   epoll reports EPOLLIN|EPOLLRDHUP, and the other direction still works;
//! - `epipe_nosignal`: sending to a closed peer ends in EPIPE with MSG_NOSIGNAL, no SIGPIPE;
//! - `epipe_sigpipe`: without MSG_NOSIGNAL the EPIPE comes with a (blocked, pending) SIGPIPE;
//! - `msg_peek_dontwait`: MSG_PEEK leaves the data (TCP, UDP); MSG_DONTWAIT on an empty
//!   socket is EAGAIN;
//! - `msg_waitall`: a recv with MSG_WAITALL returns the full length sent in three pieces;
//! - `udp_mmsg`: sendmmsg/recvmmsg counts, per-message lengths and source addresses;
//! - `names`: getsockname/getpeername of both ends (v4, v6), ENOTCONN unconnected;
//! - `sockopt_roundtrip`: SO_TYPE, SO_ERROR, SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE,
//!   SO_LINGER, SO_RCVBUF/SO_SNDBUF (doubled), SO_RCVTIMEO/SO_SNDTIMEO, TCP_NODELAY,
//!   IP_TTL (default 64, EINVAL for 0), IPV6_V6ONLY (default 0);
//! - `rcvtimeo_timeout`: a recv with SO_RCVTIMEO 200 ms fails with EAGAIN after about that;
//! - `sndtimeo_timeout`: a send to a full connection with SO_SNDTIMEO 200 ms: EAGAIN;
//! - `v6only`: a v6-only listener refuses a v4 (and v4-mapped) connection; a dual-stack
//!   one accepts it with a `::ffff:127.0.0.1` peer;
//! - `udp_multicast_loopback`: IP_MULTICAST_IF/LOOP/TTL round trips, a member joined on
//!   127.0.0.1 receives a datagram sent to the group;
//! - `fionread`: FIONREAD on TCP (bytes queued) and UDP (size of the first datagram);
//! - `udp_connected_refused`: a connected UDP socket sending to an unbound port gets
//!   POLLERR, then ECONNREFUSED once on recv and once on a later send;
//! - `udp_unconnected_no_error`: an unconnected socket sending there gets no error.

use checks::{ensure, ensure_eq, expect_sys_errno, join, sys_ok, CheckResult, Suite};
use libc::{c_int, c_long, c_void, socklen_t};
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

const LO4: [u8; 4] = [127, 0, 0, 1];
const LO6: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

fn main() {
    let mut s = Suite::new("sockets_inet");
    s.check("socket_flags", socket_flags);
    s.check("bind_ephemeral", bind_ephemeral);
    s.check("addrinuse_listener", addrinuse_listener);
    s.check("reuseaddr_time_wait", reuseaddr_time_wait);
    s.check("reuseport_listeners", reuseport_listeners);
    s.check("accept4_flags_and_peer", accept4_flags_and_peer);
    s.check("nonblocking_connect", nonblocking_connect);
    s.check("connect_refused_blocking", connect_refused_blocking);
    s.check("connect_refused_nonblocking", connect_refused_nonblocking);
    s.check("shutdown_wr_eof_rdhup", shutdown_wr_eof_rdhup);
    s.check("epipe_nosignal", epipe_nosignal);
    s.check("epipe_sigpipe", epipe_sigpipe);
    s.check("msg_peek_dontwait", msg_peek_dontwait);
    s.check("msg_waitall", msg_waitall);
    s.check("udp_mmsg", udp_mmsg);
    s.check("names", names);
    s.check("sockopt_roundtrip", sockopt_roundtrip);
    s.check("rcvtimeo_timeout", rcvtimeo_timeout);
    s.check("sndtimeo_timeout", sndtimeo_timeout);
    s.check("v6only", v6only);
    s.check("udp_multicast_loopback", udp_multicast_loopback);
    s.check("udp_multicast_non_member", udp_multicast_non_member);
    s.check("fionread", fionread_counts);
    s.check("udp_connected_refused", udp_connected_refused);
    s.check("udp_unconnected_no_error", udp_unconnected_no_error);
    s.finish();
}

// ---- Addresses.

/// A socket address (IPv4 or IPv6) as the kernel sees it.
#[derive(Clone, Copy)]
struct Addr {
    ss: libc::sockaddr_storage,
    len: socklen_t,
}

impl Addr {
    fn v4(ip: [u8; 4], port: u16) -> Addr {
        let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
        let sin = &raw mut ss as *mut libc::sockaddr_in;
        unsafe {
            (*sin).sin_family = libc::AF_INET as u16;
            (*sin).sin_port = port.to_be();
            (*sin).sin_addr.s_addr = u32::from_ne_bytes(ip);
        }
        Addr { ss, len: size_of::<libc::sockaddr_in>() as socklen_t }
    }

    fn v6(ip: [u8; 16], port: u16) -> Addr {
        let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
        let sin6 = &raw mut ss as *mut libc::sockaddr_in6;
        unsafe {
            (*sin6).sin6_family = libc::AF_INET6 as u16;
            (*sin6).sin6_port = port.to_be();
            (*sin6).sin6_addr.s6_addr = ip;
        }
        Addr { ss, len: size_of::<libc::sockaddr_in6>() as socklen_t }
    }

    /// The loopback address of `fam` with `port`.
    fn lo(fam: c_int, port: u16) -> Addr {
        if fam == libc::AF_INET6 { Addr::v6(LO6, port) } else { Addr::v4(LO4, port) }
    }

    fn empty() -> Addr {
        Addr { ss: unsafe { zeroed() }, len: size_of::<libc::sockaddr_storage>() as socklen_t }
    }

    fn family(&self) -> c_int {
        c_int::from(self.ss.ss_family)
    }

    fn port(&self) -> u16 {
        let p = &raw const self.ss;
        u16::from_be(unsafe { (*(p as *const libc::sockaddr_in)).sin_port })
    }

    /// "ip:port" for comparisons and messages.
    fn text(&self) -> String {
        let p = &raw const self.ss;
        match self.family() {
            libc::AF_INET => {
                let a = unsafe { (*(p as *const libc::sockaddr_in)).sin_addr.s_addr }.to_ne_bytes();
                format!("{}.{}.{}.{}:{} (len {})", a[0], a[1], a[2], a[3], self.port(), self.len)
            }
            libc::AF_INET6 => {
                let a = unsafe { (*(p as *const libc::sockaddr_in6)).sin6_addr.s6_addr };
                format!("[{}]:{} (len {})", std::net::Ipv6Addr::from(a), self.port(), self.len)
            }
            f => format!("family {f} (len {})", self.len),
        }
    }

    fn ptr(&self) -> *const libc::sockaddr {
        &raw const self.ss as *const libc::sockaddr
    }

    fn mut_ptr(&mut self) -> *mut libc::sockaddr {
        &raw mut self.ss as *mut libc::sockaddr
    }
}

// ---- Socket helpers.

fn sock(fam: c_int, ty: c_int) -> Result<OwnedFd, String> {
    let fd = sys_ok(&format!("socket({fam}, {ty:#x})"), || unsafe { libc::socket(fam, ty, 0) as c_long })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd as c_int) })
}

fn bind(fd: &OwnedFd, a: &Addr) -> CheckResult {
    sys_ok(&format!("bind({})", a.text()), || unsafe { libc::bind(fd.as_raw_fd(), a.ptr(), a.len) as c_long })?;
    Ok(())
}

fn bind_ret(fd: &OwnedFd, a: &Addr) -> c_long {
    unsafe { libc::bind(fd.as_raw_fd(), a.ptr(), a.len) as c_long }
}

fn listen(fd: &OwnedFd, backlog: c_int) -> CheckResult {
    sys_ok("listen", || unsafe { libc::listen(fd.as_raw_fd(), backlog) as c_long })?;
    Ok(())
}

fn connect_ret(fd: &OwnedFd, a: &Addr) -> c_long {
    unsafe { libc::connect(fd.as_raw_fd(), a.ptr(), a.len) as c_long }
}

fn connect(fd: &OwnedFd, a: &Addr) -> CheckResult {
    sys_ok(&format!("connect({})", a.text()), || connect_ret(fd, a))?;
    Ok(())
}

fn name(fd: &OwnedFd) -> Result<Addr, String> {
    let mut a = Addr::empty();
    sys_ok("getsockname", || unsafe { libc::getsockname(fd.as_raw_fd(), a.mut_ptr(), &mut a.len) as c_long })?;
    Ok(a)
}

fn peer(fd: &OwnedFd) -> Result<Addr, String> {
    let mut a = Addr::empty();
    sys_ok("getpeername", || unsafe { libc::getpeername(fd.as_raw_fd(), a.mut_ptr(), &mut a.len) as c_long })?;
    Ok(a)
}

fn accept4(fd: &OwnedFd, flags: c_int) -> Result<(OwnedFd, Addr), String> {
    let mut a = Addr::empty();
    let n = sys_ok("accept4", || unsafe { libc::accept4(fd.as_raw_fd(), a.mut_ptr(), &mut a.len, flags) as c_long })?;
    Ok((unsafe { OwnedFd::from_raw_fd(n as c_int) }, a))
}

fn setopt<T>(fd: &OwnedFd, level: c_int, opt: c_int, v: &T) -> c_long {
    unsafe { libc::setsockopt(fd.as_raw_fd(), level, opt, v as *const T as *const c_void, size_of::<T>() as socklen_t) as c_long }
}

fn set_int(fd: &OwnedFd, level: c_int, opt: c_int, v: c_int) -> CheckResult {
    sys_ok(&format!("setsockopt({level}, {opt}, {v})"), || setopt(fd, level, opt, &v))?;
    Ok(())
}

/// getsockopt into a `T`; also returns the length the kernel reported.
fn getopt<T: Copy>(fd: &OwnedFd, level: c_int, opt: c_int) -> Result<(T, socklen_t), String> {
    let mut v: T = unsafe { zeroed() };
    let mut len = size_of::<T>() as socklen_t;
    sys_ok(&format!("getsockopt({level}, {opt})"), || unsafe {
        libc::getsockopt(fd.as_raw_fd(), level, opt, &raw mut v as *mut c_void, &mut len) as c_long
    })?;
    Ok((v, len))
}

fn get_int(fd: &OwnedFd, level: c_int, opt: c_int) -> Result<c_int, String> {
    let (v, len) = getopt::<c_int>(fd, level, opt)?;
    ensure_eq!(len, 4, "getsockopt({level}, {opt}) length");
    Ok(v)
}

fn so_error(fd: &OwnedFd) -> Result<c_int, String> {
    get_int(fd, libc::SOL_SOCKET, libc::SO_ERROR)
}

fn send(fd: &OwnedFd, data: &[u8], flags: c_int) -> c_long {
    unsafe { libc::send(fd.as_raw_fd(), data.as_ptr() as *const c_void, data.len(), flags) as c_long }
}

fn send_ok(fd: &OwnedFd, data: &[u8]) -> CheckResult {
    let n = sys_ok("send", || send(fd, data, libc::MSG_NOSIGNAL))?;
    ensure_eq!(n as usize, data.len(), "bytes sent");
    Ok(())
}

fn recv_ret(fd: &OwnedFd, buf: &mut [u8], flags: c_int) -> c_long {
    unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr() as *mut c_void, buf.len(), flags) as c_long }
}

fn recv(fd: &OwnedFd, max: usize, flags: c_int) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; max];
    let n = sys_ok("recv", || recv_ret(fd, &mut buf, flags))?;
    buf.truncate(n as usize);
    Ok(buf)
}

/// poll one descriptor; the revents (0 on timeout).
fn poll1(fd: &OwnedFd, events: i16, timeout_ms: c_int) -> Result<i16, String> {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events, revents: 0 };
    sys_ok("poll", || unsafe { libc::poll(&mut p, 1, timeout_ms) as c_long })?;
    Ok(p.revents)
}

fn fl(fd: &OwnedFd) -> Result<(c_int, c_int), String> {
    let getfl = sys_ok("F_GETFL", || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) as c_long })? as c_int;
    let getfd = sys_ok("F_GETFD", || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) as c_long })? as c_int;
    Ok((getfl & libc::O_NONBLOCK, getfd & libc::FD_CLOEXEC))
}

/// A listener on the loopback address of `fam`, port 0; and its address.
fn listener(fam: c_int) -> Result<(OwnedFd, Addr), String> {
    let l = sock(fam, libc::SOCK_STREAM | libc::SOCK_CLOEXEC)?;
    bind(&l, &Addr::lo(fam, 0))?;
    listen(&l, 16)?;
    let a = name(&l)?;
    Ok((l, a))
}

/// A connected pair (client, accepted) over loopback of `fam`.
fn tcp_pair(fam: c_int) -> Result<(OwnedFd, OwnedFd), String> {
    let (l, a) = listener(fam)?;
    let c = sock(fam, libc::SOCK_STREAM | libc::SOCK_CLOEXEC)?;
    connect(&c, &a)?;
    let (s, _) = accept4(&l, libc::SOCK_CLOEXEC)?;
    Ok((c, s))
}

/// A UDP socket bound to loopback of `fam`, port 0; and its address.
fn udp(fam: c_int) -> Result<(OwnedFd, Addr), String> {
    let u = sock(fam, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC)?;
    bind(&u, &Addr::lo(fam, 0))?;
    let a = name(&u)?;
    Ok((u, a))
}

/// A TCP port on loopback nobody listens on: held by a bound, non-listening socket.
fn closed_tcp_port(fam: c_int) -> Result<(OwnedFd, Addr), String> {
    let h = sock(fam, libc::SOCK_STREAM | libc::SOCK_CLOEXEC)?;
    bind(&h, &Addr::lo(fam, 0))?;
    let a = name(&h)?;
    Ok((h, a))
}

fn sendto(fd: &OwnedFd, data: &[u8], to: &Addr) -> c_long {
    unsafe { libc::sendto(fd.as_raw_fd(), data.as_ptr() as *const c_void, data.len(), 0, to.ptr(), to.len) as c_long }
}

fn fionread(fd: &OwnedFd) -> Result<c_int, String> {
    let mut n: c_int = -1;
    sys_ok("ioctl(FIONREAD)", || unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) as c_long })?;
    Ok(n)
}

const FAMS: [c_int; 2] = [libc::AF_INET, libc::AF_INET6];

// ---- Checks.

fn socket_flags() -> CheckResult {
    for fam in FAMS {
        for ty in [libc::SOCK_STREAM, libc::SOCK_DGRAM] {
            let s = sock(fam, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)?;
            ensure_eq!(fl(&s)?, (libc::O_NONBLOCK, libc::FD_CLOEXEC), "flags of family {fam} type {ty} with both");
            let p = sock(fam, ty)?;
            ensure_eq!(fl(&p)?, (0, 0), "flags of family {fam} type {ty} without");
        }
    }
    Ok(())
}

fn bind_ephemeral() -> CheckResult {
    for fam in FAMS {
        for ty in [libc::SOCK_STREAM, libc::SOCK_DGRAM] {
            let s = sock(fam, ty)?;
            let before = name(&s)?;
            ensure_eq!(before.port(), 0, "unbound port");
            bind(&s, &Addr::lo(fam, 0))?;
            let a = name(&s)?;
            ensure!(a.port() >= 1024, "ephemeral port {}", a.text());
            ensure_eq!(a.text(), Addr::lo(fam, a.port()).text(), "getsockname");
            expect_sys_errno("second bind", || bind_ret(&s, &Addr::lo(fam, 0)), libc::EINVAL)?;
        }
    }
    Ok(())
}

fn addrinuse_listener() -> CheckResult {
    for fam in FAMS {
        let (_l, a) = listener(fam)?;
        let s = sock(fam, libc::SOCK_STREAM)?;
        expect_sys_errno("bind to a listener's port", || bind_ret(&s, &a), libc::EADDRINUSE)?;
        // Both with SO_REUSEADDR: still refused while the first one listens.
        let l2 = sock(fam, libc::SOCK_STREAM)?;
        set_int(&l2, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        bind(&l2, &Addr::lo(fam, 0))?;
        listen(&l2, 4)?;
        let a2 = name(&l2)?;
        let s2 = sock(fam, libc::SOCK_STREAM)?;
        set_int(&s2, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        expect_sys_errno("SO_REUSEADDR bind to a SO_REUSEADDR listener's port", || bind_ret(&s2, &a2), libc::EADDRINUSE)?;
    }
    Ok(())
}

fn reuseaddr_time_wait() -> CheckResult {
    for fam in FAMS {
        let l = sock(fam, libc::SOCK_STREAM)?;
        set_int(&l, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        bind(&l, &Addr::lo(fam, 0))?;
        listen(&l, 4)?;
        let a = name(&l)?;
        let c = sock(fam, libc::SOCK_STREAM)?;
        connect(&c, &a)?;
        let (s, _) = accept4(&l, 0)?;
        drop(l);
        // The server side closes first: its end (the listener's port) enters TIME_WAIT.
        drop(s);
        ensure_eq!(recv(&c, 8, 0)?.len(), 0, "client reads end of file");
        drop(c);
        let plain = sock(fam, libc::SOCK_STREAM)?;
        expect_sys_errno("bind without SO_REUSEADDR over TIME_WAIT", || bind_ret(&plain, &a), libc::EADDRINUSE)?;
        let r = sock(fam, libc::SOCK_STREAM)?;
        set_int(&r, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        bind(&r, &a)?;
        listen(&r, 4)?;
        ensure_eq!(name(&r)?.text(), a.text(), "rebound listener");
    }
    Ok(())
}

fn reuseport_listeners() -> CheckResult {
    for fam in FAMS {
        let l1 = sock(fam, libc::SOCK_STREAM | libc::SOCK_NONBLOCK)?;
        set_int(&l1, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        bind(&l1, &Addr::lo(fam, 0))?;
        listen(&l1, 4)?;
        let a = name(&l1)?;
        let l2 = sock(fam, libc::SOCK_STREAM | libc::SOCK_NONBLOCK)?;
        set_int(&l2, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        bind(&l2, &a)?;
        listen(&l2, 4)?;
        // A third socket without SO_REUSEPORT cannot join.
        let l3 = sock(fam, libc::SOCK_STREAM)?;
        expect_sys_errno("bind without SO_REUSEPORT", || bind_ret(&l3, &a), libc::EADDRINUSE)?;
        let c = sock(fam, libc::SOCK_STREAM)?;
        connect(&c, &a)?;
        let r1 = poll1(&l1, libc::POLLIN, 0)?;
        let r2 = poll1(&l2, libc::POLLIN, 0)?;
        let (r1, r2) = if r1 == 0 && r2 == 0 { (poll1(&l1, libc::POLLIN, 1000)?, poll1(&l2, libc::POLLIN, 0)?) } else { (r1, r2) };
        ensure!((r1 == libc::POLLIN) != (r2 == libc::POLLIN), "exactly one listener readable: {r1:#x} {r2:#x}");
        let (s, p) = accept4(if r1 != 0 { &l1 } else { &l2 }, 0)?;
        ensure_eq!(p.text(), name(&c)?.text(), "accepted peer");
        drop(s);
    }
    Ok(())
}

fn accept4_flags_and_peer() -> CheckResult {
    for fam in FAMS {
        let (l, a) = listener(fam)?;
        let c1 = sock(fam, libc::SOCK_STREAM)?;
        connect(&c1, &a)?;
        let c2 = sock(fam, libc::SOCK_STREAM)?;
        connect(&c2, &a)?;
        let (s1, p1) = accept4(&l, libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)?;
        ensure_eq!(fl(&s1)?, (libc::O_NONBLOCK, libc::FD_CLOEXEC), "accept4 flags");
        ensure_eq!(p1.text(), name(&c1)?.text(), "first accepted peer");
        ensure_eq!(peer(&s1)?.text(), name(&c1)?.text(), "getpeername of accepted");
        ensure_eq!(name(&s1)?.text(), a.text(), "getsockname of accepted");
        let (s2, p2) = accept4(&l, 0)?;
        ensure_eq!(fl(&s2)?, (0, 0), "accept flags");
        ensure_eq!(p2.text(), name(&c2)?.text(), "second accepted peer");
        expect_sys_errno("accept4 bad flags", || unsafe { libc::accept4(l.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut(), 1) as c_long }, libc::EINVAL)?;
    }
    Ok(())
}

fn nonblocking_connect() -> CheckResult {
    for fam in FAMS {
        let (l, a) = listener(fam)?;
        let c = sock(fam, libc::SOCK_STREAM | libc::SOCK_NONBLOCK)?;
        checks::clear_errno();
        let r = connect_ret(&c, &a);
        ensure!(r == 0 || checks::errno() == libc::EINPROGRESS, "non-blocking connect: {r} {}", checks::errno_name(checks::errno()));
        let ev = poll1(&c, libc::POLLOUT, 2000)?;
        ensure_eq!(ev, libc::POLLOUT, "poll after connect");
        ensure_eq!(so_error(&c)?, 0, "SO_ERROR");
        ensure_eq!(peer(&c)?.text(), a.text(), "getpeername");
        let (s, p) = accept4(&l, 0)?;
        ensure_eq!(p.text(), name(&c)?.text(), "accepted peer");
        send_ok(&c, b"x")?;
        ensure_eq!(recv(&s, 4, 0)?, b"x".to_vec(), "data");
        if r != 0 {
            // The first connect after an EINPROGRESS one reports its success.
            sys_ok("connect after EINPROGRESS", || connect_ret(&c, &a))?;
        }
        expect_sys_errno("connect again", || connect_ret(&c, &a), libc::EISCONN)?;
    }
    Ok(())
}

fn connect_refused_blocking() -> CheckResult {
    for fam in FAMS {
        let (_hold, a) = closed_tcp_port(fam)?;
        let c = sock(fam, libc::SOCK_STREAM)?;
        expect_sys_errno(&format!("connect({})", a.text()), || connect_ret(&c, &a), libc::ECONNREFUSED)?;
        ensure_eq!(so_error(&c)?, 0, "SO_ERROR after a reported refusal");
    }
    Ok(())
}

fn connect_refused_nonblocking() -> CheckResult {
    for fam in FAMS {
        let (_hold, a) = closed_tcp_port(fam)?;
        let c = sock(fam, libc::SOCK_STREAM | libc::SOCK_NONBLOCK)?;
        expect_sys_errno("non-blocking connect", || connect_ret(&c, &a), libc::EINPROGRESS)?;
        let ev = poll1(&c, libc::POLLOUT, 2000)?;
        ensure!(ev & libc::POLLERR != 0 && ev & libc::POLLHUP != 0, "poll gave {ev:#x}, expected POLLERR|POLLHUP");
        ensure_eq!(so_error(&c)?, libc::ECONNREFUSED, "SO_ERROR");
        ensure_eq!(so_error(&c)?, 0, "SO_ERROR read twice");
        ensure_eq!(poll1(&c, libc::POLLOUT, 0)? & libc::POLLERR, 0, "POLLERR after SO_ERROR");
    }
    Ok(())
}

fn shutdown_wr_eof_rdhup() -> CheckResult {
    for fam in FAMS {
        let (c, s) = tcp_pair(fam)?;
        let ep = sys_ok("epoll_create1", || unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) as c_long })?;
        let ep = unsafe { OwnedFd::from_raw_fd(ep as c_int) };
        let mut ev = libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLRDHUP) as u32, u64: 7 };
        sys_ok("epoll_ctl", || unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, s.as_raw_fd(), &mut ev) as c_long })?;
        let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
        let n = sys_ok("epoll_wait", || unsafe { libc::epoll_wait(ep.as_raw_fd(), out.as_mut_ptr(), 4, 0) as c_long })?;
        ensure_eq!(n, 0, "events before shutdown");
        sys_ok("shutdown(SHUT_WR)", || unsafe { libc::shutdown(c.as_raw_fd(), libc::SHUT_WR) as c_long })?;
        let n = sys_ok("epoll_wait", || unsafe { libc::epoll_wait(ep.as_raw_fd(), out.as_mut_ptr(), 4, 2000) as c_long })?;
        ensure_eq!(n, 1, "events after shutdown");
        let (events, data) = (out[0].events, out[0].u64);
        ensure_eq!((events, data), ((libc::EPOLLIN | libc::EPOLLRDHUP) as u32, 7), "epoll event");
        ensure_eq!(recv(&s, 16, 0)?.len(), 0, "end of file");
        // The other direction is still open.
        send_ok(&s, b"back")?;
        ensure_eq!(recv(&c, 16, 0)?, b"back".to_vec(), "reverse data");
        expect_sys_errno("send after SHUT_WR", || send(&c, b"x", libc::MSG_NOSIGNAL), libc::EPIPE)?;
    }
    Ok(())
}

/// Sends on `c` (whose peer closed) until a send fails; its errno.
fn send_until_error(c: &OwnedFd, flags: c_int) -> Result<c_int, String> {
    for _ in 0..200 {
        checks::clear_errno();
        if send(c, b"data", flags) < 0 {
            return Ok(checks::errno());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err("sends to a closed peer kept succeeding".into())
}

fn epipe_nosignal() -> CheckResult {
    for fam in FAMS {
        let (c, s) = tcp_pair(fam)?;
        drop(s);
        let e = send_until_error(&c, libc::MSG_NOSIGNAL)?;
        ensure_eq!(checks::errno_name(e), checks::errno_name(libc::EPIPE), "send error");
        // The process is still here: Rust ignores SIGPIPE, so check nothing is pending.
        let mut pending: libc::sigset_t = unsafe { zeroed() };
        unsafe { libc::sigpending(&mut pending) };
        ensure_eq!(unsafe { libc::sigismember(&pending, libc::SIGPIPE) }, 0, "SIGPIPE pending");
    }
    Ok(())
}

fn epipe_sigpipe() -> CheckResult {
    let (c, s) = tcp_pair(libc::AF_INET)?;
    drop(s);
    let mut set: libc::sigset_t = unsafe { zeroed() };
    let mut old: libc::sigset_t = unsafe { zeroed() };
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
    }
    // A blocked signal stays pending even while its disposition is "ignore" on Linux,
    // but give it the default disposition anyway: it is blocked and taken below.
    let prev = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let result = (|| -> CheckResult {
        let e = send_until_error(&c, 0)?;
        ensure_eq!(checks::errno_name(e), checks::errno_name(libc::EPIPE), "send error");
        let mut pending: libc::sigset_t = unsafe { zeroed() };
        unsafe { libc::sigpending(&mut pending) };
        ensure_eq!(unsafe { libc::sigismember(&pending, libc::SIGPIPE) }, 1, "SIGPIPE pending");
        let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        let sig = sys_ok("sigtimedwait", || unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) as c_long })?;
        ensure_eq!(sig as c_int, libc::SIGPIPE, "signal taken");
        Ok(())
    })();
    // Drain any extra SIGPIPE (from extra failing sends) before unblocking.
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    while unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) } == libc::SIGPIPE {}
    unsafe {
        libc::signal(libc::SIGPIPE, prev);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
    result
}

fn msg_peek_dontwait() -> CheckResult {
    for fam in FAMS {
        let (c, s) = tcp_pair(fam)?;
        expect_sys_errno("MSG_DONTWAIT on empty TCP", || recv_ret(&s, &mut [0u8; 8], libc::MSG_DONTWAIT), libc::EAGAIN)?;
        send_ok(&c, b"hello")?;
        ensure_eq!(poll1(&s, libc::POLLIN, 2000)?, libc::POLLIN, "readable");
        ensure_eq!(recv(&s, 16, libc::MSG_PEEK)?, b"hello".to_vec(), "TCP peek");
        ensure_eq!(recv(&s, 3, libc::MSG_PEEK)?, b"hel".to_vec(), "TCP short peek");
        ensure_eq!(recv(&s, 16, 0)?, b"hello".to_vec(), "TCP read after peek");
        expect_sys_errno("MSG_DONTWAIT after reading", || recv_ret(&s, &mut [0u8; 8], libc::MSG_DONTWAIT), libc::EAGAIN)?;

        let (u, ua) = udp(fam)?;
        let (v, _) = udp(fam)?;
        expect_sys_errno("MSG_DONTWAIT on empty UDP", || recv_ret(&u, &mut [0u8; 8], libc::MSG_DONTWAIT), libc::EAGAIN)?;
        ensure_eq!(sendto(&v, b"datagram", &ua), 8, "sendto");
        ensure_eq!(recv(&u, 64, libc::MSG_PEEK)?, b"datagram".to_vec(), "UDP peek");
        ensure_eq!(recv(&u, 64, 0)?, b"datagram".to_vec(), "UDP read after peek");
        expect_sys_errno("UDP MSG_DONTWAIT after reading", || recv_ret(&u, &mut [0u8; 8], libc::MSG_DONTWAIT), libc::EAGAIN)?;
    }
    Ok(())
}

fn msg_waitall() -> CheckResult {
    let (c, s) = tcp_pair(libc::AF_INET)?;
    let writer = std::thread::spawn(move || -> CheckResult {
        for i in 0..3u8 {
            std::thread::sleep(Duration::from_millis(30));
            send_ok(&c, &[i; 100])?;
        }
        Ok(())
    });
    let got = recv(&s, 300, libc::MSG_WAITALL)?;
    join(writer)??;
    ensure_eq!(got.len(), 300, "MSG_WAITALL length");
    ensure!(got[..100].iter().all(|&b| b == 0) && got[200..].iter().all(|&b| b == 2), "MSG_WAITALL data out of order");
    Ok(())
}

fn udp_mmsg() -> CheckResult {
    for fam in FAMS {
        let (r, ra) = udp(fam)?;
        let (w, wa) = udp(fam)?;
        connect(&w, &ra)?;
        let payloads: [&[u8]; 3] = [b"a", b"hello", &[7u8; 100]];
        let mut iovs: Vec<libc::iovec> = payloads.iter().map(|p| libc::iovec { iov_base: p.as_ptr() as *mut c_void, iov_len: p.len() }).collect();
        let mut msgs: Vec<libc::mmsghdr> = (0..3)
            .map(|i| {
                let mut m: libc::mmsghdr = unsafe { zeroed() };
                m.msg_hdr.msg_iov = &mut iovs[i];
                m.msg_hdr.msg_iovlen = 1 as _;
                m
            })
            .collect();
        let n = sys_ok("sendmmsg", || unsafe { libc::sendmmsg(w.as_raw_fd(), msgs.as_mut_ptr(), 3, 0) as c_long })?;
        ensure_eq!(n, 3, "sendmmsg count");
        let lens: Vec<u32> = msgs.iter().map(|m| m.msg_len).collect();
        ensure_eq!(lens, vec![1, 5, 100], "sendmmsg lengths");

        let mut bufs = [[0u8; 256]; 4];
        let mut riov: Vec<libc::iovec> = bufs.iter_mut().map(|b| libc::iovec { iov_base: b.as_mut_ptr() as *mut c_void, iov_len: 256 }).collect();
        let mut names = [Addr::empty(); 4];
        let mut rmsgs: Vec<libc::mmsghdr> = (0..4)
            .map(|i| {
                let mut m: libc::mmsghdr = unsafe { zeroed() };
                m.msg_hdr.msg_iov = &mut riov[i];
                m.msg_hdr.msg_iovlen = 1 as _;
                m.msg_hdr.msg_name = names[i].mut_ptr() as *mut c_void;
                m.msg_hdr.msg_namelen = names[i].len;
                m
            })
            .collect();
        ensure_eq!(poll1(&r, libc::POLLIN, 2000)?, libc::POLLIN, "readable");
        let n = sys_ok("recvmmsg", || unsafe {
            libc::recvmmsg(r.as_raw_fd(), rmsgs.as_mut_ptr(), 4, libc::MSG_DONTWAIT as _, std::ptr::null_mut()) as c_long
        })?;
        ensure_eq!(n, 3, "recvmmsg count");
        let lens: Vec<u32> = rmsgs[..3].iter().map(|m| m.msg_len).collect();
        ensure_eq!(lens, vec![1, 5, 100], "recvmmsg lengths");
        ensure_eq!(&bufs[1][..5], b"hello", "second datagram");
        for (i, m) in rmsgs[..3].iter().enumerate() {
            names[i].len = m.msg_hdr.msg_namelen;
            ensure_eq!(names[i].text(), wa.text(), "source of datagram {i}");
        }
        expect_sys_errno("recvmmsg on empty", || unsafe {
            libc::recvmmsg(r.as_raw_fd(), rmsgs.as_mut_ptr(), 4, libc::MSG_DONTWAIT as _, std::ptr::null_mut()) as c_long
        }, libc::EAGAIN)?;
    }
    Ok(())
}

fn names() -> CheckResult {
    for fam in FAMS {
        let (l, a) = listener(fam)?;
        let c = sock(fam, libc::SOCK_STREAM)?;
        expect_sys_errno("getpeername unconnected", || unsafe {
            let mut x = Addr::empty();
            libc::getpeername(c.as_raw_fd(), x.mut_ptr(), &mut x.len) as c_long
        }, libc::ENOTCONN)?;
        expect_sys_errno("getpeername of a listener", || unsafe {
            let mut x = Addr::empty();
            libc::getpeername(l.as_raw_fd(), x.mut_ptr(), &mut x.len) as c_long
        }, libc::ENOTCONN)?;
        connect(&c, &a)?;
        let (s, _) = accept4(&l, 0)?;
        let cn = name(&c)?;
        ensure_eq!(cn.text(), Addr::lo(fam, cn.port()).text(), "client name is loopback");
        ensure!(cn.port() != 0 && cn.port() != a.port(), "client port {}", cn.text());
        ensure_eq!(peer(&c)?.text(), a.text(), "client peer");
        ensure_eq!(peer(&s)?.text(), cn.text(), "server peer");
        ensure_eq!(name(&s)?.text(), a.text(), "server name");
        // A short buffer: truncated, the full length reported.
        let mut short = Addr::empty();
        short.len = 4;
        sys_ok("getsockname short", || unsafe { libc::getsockname(c.as_raw_fd(), short.mut_ptr(), &mut short.len) as c_long })?;
        ensure_eq!(short.len, cn.len, "full length with a short buffer");
        ensure_eq!(short.port(), cn.port(), "port in the truncated name");
    }
    Ok(())
}

fn sockopt_roundtrip() -> CheckResult {
    let t = sock(libc::AF_INET, libc::SOCK_STREAM)?;
    let u = sock(libc::AF_INET, libc::SOCK_DGRAM)?;
    ensure_eq!(get_int(&t, libc::SOL_SOCKET, libc::SO_TYPE)?, libc::SOCK_STREAM, "SO_TYPE tcp");
    ensure_eq!(get_int(&u, libc::SOL_SOCKET, libc::SO_TYPE)?, libc::SOCK_DGRAM, "SO_TYPE udp");
    ensure_eq!(so_error(&t)?, 0, "SO_ERROR");
    for s in [&t, &u] {
        for opt in [libc::SO_REUSEADDR, libc::SO_REUSEPORT, libc::SO_KEEPALIVE] {
            ensure_eq!(get_int(s, libc::SOL_SOCKET, opt)?, 0, "option {opt} default");
            set_int(s, libc::SOL_SOCKET, opt, 5)?;
            ensure_eq!(get_int(s, libc::SOL_SOCKET, opt)?, 1, "option {opt} set");
            set_int(s, libc::SOL_SOCKET, opt, 0)?;
            ensure_eq!(get_int(s, libc::SOL_SOCKET, opt)?, 0, "option {opt} cleared");
        }
        for (opt, v) in [(libc::SO_RCVBUF, 65536), (libc::SO_SNDBUF, 65536)] {
            set_int(s, libc::SOL_SOCKET, opt, v)?;
            ensure_eq!(get_int(s, libc::SOL_SOCKET, opt)?, 2 * v, "buffer option {opt} doubled");
        }
        ensure_eq!(get_int(s, libc::IPPROTO_IP, libc::IP_TTL)?, 64, "IP_TTL default");
        set_int(s, libc::IPPROTO_IP, libc::IP_TTL, 77)?;
        ensure_eq!(get_int(s, libc::IPPROTO_IP, libc::IP_TTL)?, 77, "IP_TTL");
        expect_sys_errno("IP_TTL 0", || setopt(s, libc::IPPROTO_IP, libc::IP_TTL, &0 as &c_int), libc::EINVAL)?;
        expect_sys_errno("IP_TTL 256", || setopt(s, libc::IPPROTO_IP, libc::IP_TTL, &256 as &c_int), libc::EINVAL)?;
    }
    let (l, len) = getopt::<libc::linger>(&t, libc::SOL_SOCKET, libc::SO_LINGER)?;
    ensure_eq!((l.l_onoff, l.l_linger, len), (0, 0, 8), "SO_LINGER default");
    let lg = libc::linger { l_onoff: 1, l_linger: 5 };
    sys_ok("SO_LINGER", || setopt(&t, libc::SOL_SOCKET, libc::SO_LINGER, &lg))?;
    let (l, _) = getopt::<libc::linger>(&t, libc::SOL_SOCKET, libc::SO_LINGER)?;
    ensure_eq!((l.l_onoff != 0, l.l_linger), (true, 5), "SO_LINGER set");
    for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        let (tv, len) = getopt::<libc::timeval>(&t, libc::SOL_SOCKET, opt)?;
        ensure_eq!((tv.tv_sec, tv.tv_usec, len as usize), (0, 0, size_of::<libc::timeval>()), "timeout {opt} default");
        let tv = libc::timeval { tv_sec: 1, tv_usec: 500_000 };
        sys_ok("set timeout", || setopt(&t, libc::SOL_SOCKET, opt, &tv))?;
        let (tv, _) = getopt::<libc::timeval>(&t, libc::SOL_SOCKET, opt)?;
        ensure_eq!((tv.tv_sec, tv.tv_usec), (1, 500_000), "timeout {opt}");
        let bad = libc::timeval { tv_sec: 1, tv_usec: 1_000_000 };
        expect_sys_errno("timeout with usec 1e6", || setopt(&t, libc::SOL_SOCKET, opt, &bad), libc::EDOM)?;
    }
    ensure_eq!(get_int(&t, libc::IPPROTO_TCP, libc::TCP_NODELAY)?, 0, "TCP_NODELAY default");
    set_int(&t, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
    ensure_eq!(get_int(&t, libc::IPPROTO_TCP, libc::TCP_NODELAY)?, 1, "TCP_NODELAY");
    expect_sys_errno("TCP_NODELAY on UDP", || setopt(&u, libc::IPPROTO_TCP, libc::TCP_NODELAY, &1 as &c_int), libc::ENOPROTOOPT)?;
    expect_sys_errno("SO_ERROR is read-only", || setopt(&t, libc::SOL_SOCKET, libc::SO_ERROR, &1 as &c_int), libc::ENOPROTOOPT)?;
    let t6 = sock(libc::AF_INET6, libc::SOCK_STREAM)?;
    ensure_eq!(get_int(&t6, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY)?, 0, "IPV6_V6ONLY default");
    set_int(&t6, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    ensure_eq!(get_int(&t6, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY)?, 1, "IPV6_V6ONLY");
    Ok(())
}

fn rcvtimeo_timeout() -> CheckResult {
    for ty in [libc::SOCK_DGRAM, libc::SOCK_STREAM] {
        let (_keep, s) = if ty == libc::SOCK_DGRAM { (None, udp(libc::AF_INET)?.0) } else { let (c, s) = tcp_pair(libc::AF_INET)?; (Some(c), s) };
        let tv = libc::timeval { tv_sec: 0, tv_usec: 200_000 };
        sys_ok("SO_RCVTIMEO", || setopt(&s, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv))?;
        let t0 = Instant::now();
        expect_sys_errno("recv with SO_RCVTIMEO", || recv_ret(&s, &mut [0u8; 8], 0), libc::EAGAIN)?;
        let took = t0.elapsed();
        ensure!(took >= Duration::from_millis(190) && took < Duration::from_secs(3), "type {ty}: timed out after {took:?}");
    }
    Ok(())
}

fn sndtimeo_timeout() -> CheckResult {
    // Small buffers on both ends (the listener's receive buffer is inherited).
    let l = sock(libc::AF_INET, libc::SOCK_STREAM)?;
    set_int(&l, libc::SOL_SOCKET, libc::SO_RCVBUF, 4096)?;
    bind(&l, &Addr::lo(libc::AF_INET, 0))?;
    listen(&l, 4)?;
    let c = sock(libc::AF_INET, libc::SOCK_STREAM)?;
    set_int(&c, libc::SOL_SOCKET, libc::SO_SNDBUF, 4096)?;
    connect(&c, &name(&l)?)?;
    let (_s, _) = accept4(&l, 0)?;
    let chunk = vec![0u8; 65536];
    // Fill until a round (after a pause for loopback delivery) sends nothing at all.
    let mut total = 0usize;
    loop {
        let mut round = 0usize;
        loop {
            checks::clear_errno();
            let n = send(&c, &chunk, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL);
            if n < 0 {
                ensure_eq!(checks::errno_name(checks::errno()), checks::errno_name(libc::EAGAIN), "filling send");
                break;
            }
            round += n as usize;
        }
        total += round;
        ensure!(total < 1 << 30, "the connection never filled");
        if round == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let tv = libc::timeval { tv_sec: 0, tv_usec: 200_000 };
    sys_ok("SO_SNDTIMEO", || setopt(&c, libc::SOL_SOCKET, libc::SO_SNDTIMEO, &tv))?;
    let t0 = Instant::now();
    expect_sys_errno("send with SO_SNDTIMEO", || send(&c, &chunk, libc::MSG_NOSIGNAL), libc::EAGAIN)?;
    let took = t0.elapsed();
    ensure!(took >= Duration::from_millis(190) && took < Duration::from_secs(3), "timed out after {took:?}");
    Ok(())
}

fn v6only() -> CheckResult {
    // v6-only listener on [::]; the same port held on 127.0.0.1 so nobody listens there.
    let l = sock(libc::AF_INET6, libc::SOCK_STREAM)?;
    set_int(&l, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    bind(&l, &Addr::v6([0; 16], 0))?;
    listen(&l, 4)?;
    let port = name(&l)?.port();
    let hold = sock(libc::AF_INET, libc::SOCK_STREAM)?;
    bind(&hold, &Addr::v4(LO4, port))?;
    expect_sys_errno("IPV6_V6ONLY after bind", || setopt(&l, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, &0 as &c_int), libc::EINVAL)?;
    let c4 = sock(libc::AF_INET, libc::SOCK_STREAM)?;
    expect_sys_errno("v4 connect to a v6-only listener", || connect_ret(&c4, &Addr::v4(LO4, port)), libc::ECONNREFUSED)?;
    let mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1];
    let cm = sock(libc::AF_INET6, libc::SOCK_STREAM)?;
    expect_sys_errno("v4-mapped connect to a v6-only listener", || connect_ret(&cm, &Addr::v6(mapped, port)), libc::ECONNREFUSED)?;
    let c6 = sock(libc::AF_INET6, libc::SOCK_STREAM)?;
    connect(&c6, &Addr::v6(LO6, port))?;
    let (_s6, p6) = accept4(&l, 0)?;
    ensure_eq!(p6.text(), name(&c6)?.text(), "v6 peer");

    // Dual-stack listener: a v4 client arrives as ::ffff:127.0.0.1.
    let d = sock(libc::AF_INET6, libc::SOCK_STREAM)?;
    set_int(&d, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
    bind(&d, &Addr::v6([0; 16], 0))?;
    listen(&d, 4)?;
    let dport = name(&d)?.port();
    let c = sock(libc::AF_INET, libc::SOCK_STREAM)?;
    connect(&c, &Addr::v4(LO4, dport))?;
    let (s, p) = accept4(&d, 0)?;
    let cport = name(&c)?.port();
    ensure_eq!(p.text(), Addr::v6(mapped, cport).text(), "v4 peer on a dual-stack listener");
    ensure_eq!(name(&s)?.text(), Addr::v6(mapped, dport).text(), "accepted socket's name");
    ensure_eq!(peer(&c)?.text(), Addr::v4(LO4, dport).text(), "v4 client's peer");
    Ok(())
}

fn udp_multicast_loopback() -> CheckResult {
    let group = [239, 255, 77, 1];
    let r = sock(libc::AF_INET, libc::SOCK_DGRAM)?;
    bind(&r, &Addr::v4([0; 4], 0))?;
    let port = name(&r)?.port();
    let mreq = libc::ip_mreq { imr_multiaddr: libc::in_addr { s_addr: u32::from_ne_bytes(group) }, imr_interface: libc::in_addr { s_addr: u32::from_ne_bytes(LO4) } };
    sys_ok("IP_ADD_MEMBERSHIP", || setopt(&r, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq))?;
    expect_sys_errno("IP_ADD_MEMBERSHIP twice", || setopt(&r, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq), libc::EADDRINUSE)?;
    let bad = libc::ip_mreq { imr_multiaddr: libc::in_addr { s_addr: u32::from_ne_bytes(LO4) }, imr_interface: mreq.imr_interface };
    expect_sys_errno("IP_ADD_MEMBERSHIP of a unicast address", || setopt(&r, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &bad), libc::EINVAL)?;

    let w = sock(libc::AF_INET, libc::SOCK_DGRAM)?;
    ensure_eq!(get_int(&w, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL)?, 1, "IP_MULTICAST_TTL default");
    ensure_eq!(get_int(&w, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP)?, 1, "IP_MULTICAST_LOOP default");
    set_int(&w, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, 3)?;
    ensure_eq!(get_int(&w, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL)?, 3, "IP_MULTICAST_TTL");
    set_int(&w, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, 0)?;
    ensure_eq!(get_int(&w, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP)?, 0, "IP_MULTICAST_LOOP off");
    set_int(&w, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, 1)?;
    ensure_eq!(get_int(&w, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP)?, 1, "IP_MULTICAST_LOOP on");
    let iface = libc::in_addr { s_addr: u32::from_ne_bytes(LO4) };
    sys_ok("IP_MULTICAST_IF", || setopt(&w, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &iface))?;
    let (got, len) = getopt::<libc::in_addr>(&w, libc::IPPROTO_IP, libc::IP_MULTICAST_IF)?;
    ensure_eq!((got.s_addr.to_ne_bytes(), len), (LO4, 4), "IP_MULTICAST_IF");

    ensure_eq!(sendto(&w, b"to the group", &Addr::v4(group, port)), 12, "sendto group");
    ensure_eq!(poll1(&r, libc::POLLIN, 2000)?, libc::POLLIN, "member readable");
    let mut buf = [0u8; 64];
    let mut from = Addr::empty();
    let n = sys_ok("recvfrom", || unsafe {
        libc::recvfrom(r.as_raw_fd(), buf.as_mut_ptr() as *mut c_void, 64, 0, from.mut_ptr(), &mut from.len) as c_long
    })?;
    ensure_eq!(&buf[..n as usize], b"to the group", "datagram");
    ensure_eq!(from.port(), name(&w)?.port(), "source port");
    sys_ok("IP_DROP_MEMBERSHIP", || setopt(&r, libc::IPPROTO_IP, libc::IP_DROP_MEMBERSHIP, &mreq))?;
    expect_sys_errno("IP_DROP_MEMBERSHIP twice", || setopt(&r, libc::IPPROTO_IP, libc::IP_DROP_MEMBERSHIP, &mreq), libc::EADDRNOTAVAIL)?;
    Ok(())
}

/// Two sockets on one port (SO_REUSEADDR, wildcard address), only the first a member of
/// the group: with IP_MULTICAST_ALL on (the default) both receive what is sent to the
/// group; with it off, only the member; once nobody on the machine is a member, nobody.
fn udp_multicast_non_member() -> CheckResult {
    let group = [239, 255, 77, 2];
    let member = sock(libc::AF_INET, libc::SOCK_DGRAM)?;
    set_int(&member, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    bind(&member, &Addr::v4([0; 4], 0))?;
    let port = name(&member)?.port();
    let other = sock(libc::AF_INET, libc::SOCK_DGRAM)?;
    set_int(&other, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    bind(&other, &Addr::v4([0; 4], port))?;
    ensure_eq!(get_int(&other, libc::IPPROTO_IP, libc::IP_MULTICAST_ALL)?, 1, "IP_MULTICAST_ALL default");
    let mreq = libc::ip_mreq { imr_multiaddr: libc::in_addr { s_addr: u32::from_ne_bytes(group) }, imr_interface: libc::in_addr { s_addr: u32::from_ne_bytes(LO4) } };
    sys_ok("IP_ADD_MEMBERSHIP", || setopt(&member, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq))?;
    let w = sock(libc::AF_INET, libc::SOCK_DGRAM)?;
    let iface = libc::in_addr { s_addr: u32::from_ne_bytes(LO4) };
    sys_ok("IP_MULTICAST_IF", || setopt(&w, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &iface))?;
    let got = |fd: &OwnedFd| -> Result<Option<Vec<u8>>, String> {
        if poll1(fd, libc::POLLIN, 500)? & libc::POLLIN == 0 {
            return Ok(None);
        }
        recv(fd, 64, libc::MSG_DONTWAIT).map(Some)
    };
    ensure_eq!(sendto(&w, b"one", &Addr::v4(group, port)), 3, "sendto group");
    ensure_eq!(got(&member)?, Some(b"one".to_vec()), "the member");
    ensure_eq!(got(&other)?, Some(b"one".to_vec()), "a socket on the port that did not join (IP_MULTICAST_ALL)");
    set_int(&other, libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, 0)?;
    ensure_eq!(get_int(&other, libc::IPPROTO_IP, libc::IP_MULTICAST_ALL)?, 0, "IP_MULTICAST_ALL off");
    ensure_eq!(sendto(&w, b"two", &Addr::v4(group, port)), 3, "sendto group");
    ensure_eq!(got(&member)?, Some(b"two".to_vec()), "the member");
    ensure_eq!(got(&other)?, None, "a non-member with IP_MULTICAST_ALL off");
    set_int(&other, libc::IPPROTO_IP, libc::IP_MULTICAST_ALL, 1)?;
    sys_ok("IP_DROP_MEMBERSHIP", || setopt(&member, libc::IPPROTO_IP, libc::IP_DROP_MEMBERSHIP, &mreq))?;
    ensure_eq!(sendto(&w, b"three", &Addr::v4(group, port)), 5, "sendto group");
    ensure_eq!(got(&member)?, None, "no member left: not received");
    ensure_eq!(got(&other)?, None, "no member left: not received");
    Ok(())
}

fn fionread_counts() -> CheckResult {
    let (c, s) = tcp_pair(libc::AF_INET)?;
    ensure_eq!(fionread(&s)?, 0, "TCP FIONREAD empty");
    send_ok(&c, &[1u8; 10])?;
    send_ok(&c, &[2u8; 5])?;
    let deadline = Instant::now() + Duration::from_secs(2);
    while fionread(&s)? < 15 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    ensure_eq!(fionread(&s)?, 15, "TCP FIONREAD");
    recv(&s, 4, 0)?;
    ensure_eq!(fionread(&s)?, 11, "TCP FIONREAD after reading 4");

    let (u, ua) = udp(libc::AF_INET)?;
    let (v, _) = udp(libc::AF_INET)?;
    ensure_eq!(fionread(&u)?, 0, "UDP FIONREAD empty");
    ensure_eq!(sendto(&v, &[1u8; 7], &ua), 7, "sendto");
    ensure_eq!(sendto(&v, &[2u8; 3], &ua), 3, "sendto");
    ensure_eq!(poll1(&u, libc::POLLIN, 2000)?, libc::POLLIN, "readable");
    ensure_eq!(fionread(&u)?, 7, "UDP FIONREAD (first datagram)");
    recv(&u, 64, 0)?;
    ensure_eq!(fionread(&u)?, 3, "UDP FIONREAD (second datagram)");
    Ok(())
}

/// A loopback UDP port of `fam` that was just free (bound, then released).
fn unbound_udp_port(fam: c_int) -> Result<Addr, String> {
    let (_u, a) = udp(fam)?;
    Ok(a)
}

fn udp_connected_refused() -> CheckResult {
    for fam in FAMS {
        let dst = unbound_udp_port(fam)?;
        let (c, _) = udp(fam)?;
        connect(&c, &dst)?;
        send_ok(&c, b"one")?;
        let ev = poll1(&c, libc::POLLIN, 2000)?;
        ensure_eq!(ev & (libc::POLLERR | libc::POLLIN), libc::POLLERR, "poll after sending to an unbound port ({ev:#x})");
        expect_sys_errno("recv", || recv_ret(&c, &mut [0u8; 8], libc::MSG_DONTWAIT), libc::ECONNREFUSED)?;
        expect_sys_errno("recv again", || recv_ret(&c, &mut [0u8; 8], libc::MSG_DONTWAIT), libc::EAGAIN)?;
        ensure_eq!(poll1(&c, libc::POLLIN, 0)?, 0, "poll after the error was read");
        ensure_eq!(so_error(&c)?, 0, "SO_ERROR after recv reported it");
        // The next error is reported by a send (once), then sends work again.
        send_ok(&c, b"two")?;
        ensure_eq!(poll1(&c, libc::POLLIN, 2000)? & libc::POLLERR, libc::POLLERR, "POLLERR again");
        expect_sys_errno("send", || send(&c, b"three", libc::MSG_NOSIGNAL), libc::ECONNREFUSED)?;
        ensure_eq!(poll1(&c, libc::POLLIN, 0)? & libc::POLLERR, 0, "no POLLERR after send reported it");
        // SO_ERROR takes it too.
        let deadline = Instant::now() + Duration::from_secs(2);
        send_ok(&c, b"four")?;
        while poll1(&c, libc::POLLIN, 0)? & libc::POLLERR == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        ensure_eq!(so_error(&c)?, libc::ECONNREFUSED, "SO_ERROR");
        ensure_eq!(so_error(&c)?, 0, "SO_ERROR twice");
        send_ok(&c, b"five")?;
    }
    Ok(())
}

fn udp_unconnected_no_error() -> CheckResult {
    for fam in FAMS {
        let dst = unbound_udp_port(fam)?;
        let (u, _) = udp(fam)?;
        for i in 0..3 {
            ensure_eq!(sendto(&u, b"nobody", &dst), 6, "sendto {i}");
            std::thread::sleep(Duration::from_millis(10));
        }
        ensure_eq!(poll1(&u, libc::POLLIN, 50)?, 0, "poll");
        expect_sys_errno("recv", || recv_ret(&u, &mut [0u8; 8], libc::MSG_DONTWAIT), libc::EAGAIN)?;
        ensure_eq!(so_error(&u)?, 0, "SO_ERROR");
    }
    Ok(())
}
