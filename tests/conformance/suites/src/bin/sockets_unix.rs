//! `sockets_unix` suite: AF_UNIX sockets and AF_NETLINK (NETLINK_ROUTE) dumps.
//!
//! Covers: `socketpair` for SOCK_STREAM, SOCK_DGRAM and SOCK_SEQPACKET, full duplex
//! both ways (`socketpair_stream`, `socketpair_dgram`, `socketpair_seqpacket`), and
//! SOCK_CLOEXEC / SOCK_NONBLOCK on both ends (`socketpair_flags`); listen on an
//! unbound socket is EINVAL, on a datagram socket EOPNOTSUPP, accept on a socket not
//! listening EINVAL, a stream connect to a datagram socket's path EPROTOTYPE
//! (`listen_accept_errors`); a stream socket
//! bound to a path: the file is S_IFSOCK (`path_bind_creates_socket`), binding an
//! existing path is EADDRINUSE (`path_bind_eaddrinuse`), connecting to a missing path is
//! ENOENT (`path_connect_enoent`), to a socket nobody listens on (bound only, or whose
//! listener closed) ECONNREFUSED (`path_connect_refused`), listen/accept with
//! getsockname/getpeername giving the path and the unnamed address (`path_accept_names`),
//! unlinking the path keeps an established connection (`path_unlink_keeps_connection`);
//! abstract names: no file made, EADDRINUSE on a second bind, the name length
//! getsockname returns, connecting by name, autobind (a bare family) to a 5 hex digit
//! name (`abstract_names`); datagrams keep their
//! boundaries and carry the sender's path (`dgram_boundaries`), truncation with
//! MSG_TRUNC (flag in msg_flags, the real length returned with MSG_TRUNC, the rest
//! dropped) (`dgram_truncation`); a connected datagram socket whose peer closed gets
//! ECONNREFUSED once, then ENOTCONN (`dgram_peer_closed`); seqpacket boundaries, MSG_TRUNC and EOF after the
//! peer closed (`seqpacket_boundaries_eof`); stream EOF after the peer closed, a
//! zero-byte write sending nothing (`stream_eof_after_close`), EPIPE with SIGPIPE, and without it under MSG_NOSIGNAL
//! (`stream_epipe_sigpipe`); `shutdown(SHUT_WR)` gives the peer EOF and
//! EPOLLIN|EPOLLRDHUP while the other direction still works (`shutdown_wr_rdhup`);
//! SCM_RIGHTS: the received descriptor is the same open pipe (`scm_rights_pipe`),
//! a pipe, a file (shared offset) and a socket in one message
//! (`scm_rights_several`), FD_CLOEXEC only with
//! MSG_CMSG_CLOEXEC (`scm_rights_cmsg_cloexec`); SCM_CREDENTIALS with SO_PASSCRED gives
//! a forked sender's pid/uid/gid, explicit or implicit, and nothing without SO_PASSCRED
//! (`scm_credentials`), on a stream every read carries them
//! (`scm_credentials_stream`); SO_PEERCRED of a connected stream socket, of a socketpair,
//! and of an unconnected socket (pid 0, uid/gid -1) (`so_peercred`); FIONREAD for stream and datagram sockets (`fionread`); poll
//! readiness: POLLOUT only when idle, POLLIN with data, no POLLOUT once full
//! (`poll_readiness`). Netlink: an RTM_GETLINK dump lists `lo` (ifindex 1,
//! ARPHRD_LOOPBACK, IFF_UP | IFF_LOOPBACK | IFF_RUNNING and neither IFF_BROADCAST nor
//! IFF_MULTICAST, MTU 65536) and ends with NLMSG_DONE, replies carry the request's sequence number
//! and the socket's port id (`netlink_getlink`); an RTM_GETADDR dump lists 127.0.0.1/8 on
//! ifindex 1 (`netlink_getaddr`); `getifaddrs` lists lo with 127.0.0.1/255.0.0.0 and
//! the same flags, as SIOCGIFFLAGS does (`getifaddrs_lo`).
//!
//! Paths live under a fresh `mkdtemp` directory and abstract names carry the pid, so
//! concurrent runs never collide.

use checks::{ensure, ensure_eq, expect_sys_errno, sys_ok, syscall, CheckResult, Suite};
use libc::{c_int, c_long};
use std::ffi::CString;
use std::sync::atomic::{AtomicI32, Ordering};

fn main() {
    let mut s = Suite::new("sockets_unix");
    let dir = match make_tmpdir() {
        Ok(d) => d,
        Err(e) => {
            println!("FAIL sockets_unix::setup: {e}");
            std::process::exit(1);
        }
    };
    let d = dir.as_str();
    s.check("socketpair_stream", || pair_duplex(libc::SOCK_STREAM));
    s.check("socketpair_dgram", || pair_duplex(libc::SOCK_DGRAM));
    s.check("socketpair_seqpacket", || pair_duplex(libc::SOCK_SEQPACKET));
    s.check("socketpair_flags", socketpair_flags);
    s.check("listen_accept_errors", || listen_accept_errors(d));
    s.check("path_bind_creates_socket", || path_bind_creates_socket(d));
    s.check("path_bind_eaddrinuse", || path_bind_eaddrinuse(d));
    s.check("path_connect_enoent", || path_connect_enoent(d));
    s.check("path_connect_refused", || path_connect_refused(d));
    s.check("path_accept_names", || path_accept_names(d));
    s.check("path_unlink_keeps_connection", || path_unlink_keeps_connection(d));
    s.check("abstract_names", || abstract_names(d));
    s.check("dgram_boundaries", || dgram_boundaries(d));
    s.check("dgram_truncation", dgram_truncation);
    s.check("dgram_peer_closed", dgram_peer_closed);
    s.check("seqpacket_boundaries_eof", seqpacket_boundaries_eof);
    s.check("stream_eof_after_close", stream_eof_after_close);
    s.check("stream_epipe_sigpipe", stream_epipe_sigpipe);
    s.check("shutdown_wr_rdhup", shutdown_wr_rdhup);
    s.check("scm_rights_pipe", scm_rights_pipe);
    s.check("scm_rights_several", || scm_rights_several(d));
    s.check("scm_rights_cmsg_cloexec", scm_rights_cmsg_cloexec);
    s.check("scm_credentials", scm_credentials);
    s.check("scm_credentials_stream", scm_credentials_stream);
    s.check("so_peercred", so_peercred);
    s.check("fionread", fionread);
    s.check("poll_readiness", poll_readiness);
    s.check("netlink_getlink", netlink_getlink);
    s.check("netlink_getaddr", netlink_getaddr);
    s.check("getifaddrs_lo", getifaddrs_lo);
    let _ = std::fs::remove_dir_all(&dir);
    s.finish();
}

// ---------------------------------------------------------------- helpers

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn close(fd: c_int) {
    unsafe { libc::close(fd) };
}

/// Closes every descriptor in `fds` when dropped.
struct Fds(Vec<c_int>);

impl Drop for Fds {
    fn drop(&mut self) {
        for &fd in &self.0 {
            close(fd);
        }
    }
}

fn make_tmpdir() -> Result<String, String> {
    let mut tmpl = *b"/tmp/axle-sockets-unix-XXXXXX\0";
    let p = unsafe { libc::mkdtemp(tmpl.as_mut_ptr().cast()) };
    ensure!(!p.is_null(), "mkdtemp failed: errno {}", checks::errno());
    Ok(String::from_utf8_lossy(&tmpl[..tmpl.len() - 1]).into_owned())
}

fn socket(ty: c_int) -> Result<c_int, String> {
    sys_ok("socket(AF_UNIX)", || unsafe { syscall!(libc::SYS_socket, libc::AF_UNIX, ty, 0) }).map(|v| v as c_int)
}

fn socketpair(ty: c_int) -> Result<[c_int; 2], String> {
    let mut sv = [-1 as c_int; 2];
    sys_ok("socketpair", || unsafe {
        syscall!(libc::SYS_socketpair, libc::AF_UNIX, ty, 0, sv.as_mut_ptr())
    })?;
    Ok(sv)
}

/// A `sockaddr_un` holding `name` (a path, or an abstract name when it starts with NUL)
/// and the address length to pass (family + name, no trailing NUL).
fn sun(name: &[u8]) -> (libc::sockaddr_un, libc::socklen_t) {
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (i, &b) in name.iter().enumerate() {
        a.sun_path[i] = b as libc::c_char;
    }
    (a, (2 + name.len()) as libc::socklen_t)
}

fn bind(fd: c_int, name: &[u8]) -> c_long {
    let (a, len) = sun(name);
    unsafe { syscall!(libc::SYS_bind, fd, &raw const a, len) }
}

fn connect(fd: c_int, name: &[u8]) -> c_long {
    let (a, len) = sun(name);
    unsafe { syscall!(libc::SYS_connect, fd, &raw const a, len) }
}

fn listen(fd: c_int) -> Result<(), String> {
    sys_ok("listen", || unsafe { syscall!(libc::SYS_listen, fd, 8) }).map(|_| ())
}

fn accept(fd: c_int) -> Result<c_int, String> {
    sys_ok("accept4", || unsafe { syscall!(libc::SYS_accept4, fd, 0, 0, 0) }).map(|v| v as c_int)
}

/// A listening socket of `ty` bound to `name`.
fn listener(ty: c_int, name: &[u8]) -> Result<c_int, String> {
    let l = socket(ty)?;
    if let Err(e) = sys_ok("bind", || bind(l, name)).and_then(|_| listen(l)) {
        close(l);
        return Err(e);
    }
    Ok(l)
}

/// A connected pair made by listen/connect/accept on the abstract name `tag`+pid:
/// (client, accepted).
fn connected(ty: c_int, tag: &str) -> Result<(c_int, c_int), String> {
    let name = abstract_name(tag);
    let l = listener(ty, &name)?;
    let _lg = Fds(vec![l]);
    let cl = socket(ty)?;
    if let Err(e) = sys_ok("connect", || connect(cl, &name)) {
        close(cl);
        return Err(e);
    }
    match accept(l) {
        Ok(a) => Ok((cl, a)),
        Err(e) => {
            close(cl);
            Err(e)
        }
    }
}

fn abstract_name(tag: &str) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend_from_slice(format!("axle-sockets-unix-{}-{tag}", std::process::id()).as_bytes());
    v
}

fn write_all(fd: c_int, data: &[u8]) -> Result<(), String> {
    let n = sys_ok("write", || unsafe { syscall!(libc::SYS_write, fd, data.as_ptr(), data.len()) })?;
    ensure_eq!(n as usize, data.len(), "bytes written");
    Ok(())
}

fn read_some(fd: c_int, cap: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; cap];
    let n = sys_ok("read", || unsafe { syscall!(libc::SYS_read, fd, buf.as_mut_ptr(), cap) })?;
    buf.truncate(n as usize);
    Ok(buf)
}

fn recv(fd: c_int, cap: usize, flags: c_int) -> Result<(Vec<u8>, usize), String> {
    let mut buf = vec![0u8; cap];
    let n = sys_ok("recvfrom", || unsafe {
        syscall!(libc::SYS_recvfrom, fd, buf.as_mut_ptr(), cap, flags, 0, 0)
    })? as usize;
    buf.truncate(n.min(cap));
    Ok((buf, n))
}

fn fd_flags(fd: c_int) -> Result<(c_int, c_int), String> {
    let fdf = sys_ok("F_GETFD", || unsafe { syscall!(libc::SYS_fcntl, fd, libc::F_GETFD) })? as c_int;
    let fl = sys_ok("F_GETFL", || unsafe { syscall!(libc::SYS_fcntl, fd, libc::F_GETFL) })? as c_int;
    Ok((fdf, fl))
}

fn fstat(fd: c_int) -> Result<libc::stat, String> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    sys_ok(&format!("fstat({fd})"), || unsafe { syscall!(libc::SYS_fstat, fd, &raw mut st) })?;
    Ok(st)
}

fn pipe() -> Result<[c_int; 2], String> {
    let mut p = [-1 as c_int; 2];
    sys_ok("pipe2", || unsafe { syscall!(libc::SYS_pipe2, p.as_mut_ptr(), 0) })?;
    Ok(p)
}

/// getsockname/getpeername: the raw address bytes (as long as the kernel says).
fn name_of(fd: c_int, peer: bool) -> Result<Vec<u8>, String> {
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let nr = if peer { libc::SYS_getpeername } else { libc::SYS_getsockname };
    sys_ok(if peer { "getpeername" } else { "getsockname" }, || unsafe {
        syscall!(nr, fd, &raw mut a, &raw mut len)
    })?;
    ensure_eq!(a.sun_family, libc::AF_UNIX as libc::sa_family_t, "sun_family");
    let bytes: Vec<u8> = a.sun_path.iter().map(|&b| b as u8).collect();
    ensure!(len >= 2, "address length {len}");
    Ok(bytes[..(len as usize - 2).min(bytes.len())].to_vec())
}

/// The name as getsockname reports it for a path: the path and its NUL.
fn path_with_nul(p: &str) -> Vec<u8> {
    let mut v = p.as_bytes().to_vec();
    v.push(0);
    v
}

/// Sends `data` with SCM_RIGHTS for `fds`.
fn send_fds(sock: c_int, data: &[u8], fds: &[c_int]) -> Result<(), String> {
    let space = unsafe { libc::CMSG_SPACE((4 * fds.len()) as u32) } as usize;
    let mut ctl = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut _, iov_len: data.len() };
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    unsafe {
        let cm = libc::CMSG_FIRSTHDR(&msg);
        (*cm).cmsg_level = libc::SOL_SOCKET;
        (*cm).cmsg_type = libc::SCM_RIGHTS;
        (*cm).cmsg_len = libc::CMSG_LEN((4 * fds.len()) as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cm).cast::<c_int>(), fds.len());
    }
    let n = sys_ok("sendmsg(SCM_RIGHTS)", || unsafe { syscall!(libc::SYS_sendmsg, sock, &raw const msg, 0) })?;
    ensure_eq!(n as usize, data.len(), "bytes sent with SCM_RIGHTS");
    Ok(())
}

/// What recvmsg returned: data, msg_flags, and the control messages
/// (level, type, payload).
struct Received {
    data: Vec<u8>,
    ret: usize,
    flags: c_int,
    cmsgs: Vec<(c_int, c_int, Vec<u8>)>,
}

fn recvmsg(sock: c_int, cap: usize, flags: c_int) -> Result<Received, String> {
    let mut buf = vec![0u8; cap];
    let mut ctl = vec![0u64; 64];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: cap };
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.as_mut_ptr().cast();
    msg.msg_controllen = (ctl.len() * 8) as _;
    let n = sys_ok("recvmsg", || unsafe { syscall!(libc::SYS_recvmsg, sock, &raw mut msg, flags) })? as usize;
    let mut cmsgs = Vec::new();
    unsafe {
        let mut cm = libc::CMSG_FIRSTHDR(&msg);
        while !cm.is_null() {
            let hdr = libc::CMSG_LEN(0) as usize;
            let len = (*cm).cmsg_len as usize;
            ensure!(len >= hdr, "cmsg_len {len}");
            let data = std::slice::from_raw_parts(libc::CMSG_DATA(cm), len - hdr).to_vec();
            cmsgs.push(((*cm).cmsg_level, (*cm).cmsg_type, data));
            cm = libc::CMSG_NXTHDR(&msg, cm);
        }
    }
    buf.truncate(n.min(cap));
    Ok(Received { data: buf, ret: n, flags: msg.msg_flags, cmsgs })
}

fn rights_of(r: &Received) -> Vec<c_int> {
    r.cmsgs
        .iter()
        .filter(|(l, t, _)| *l == libc::SOL_SOCKET && *t == libc::SCM_RIGHTS)
        .flat_map(|(_, _, d)| d.chunks(4).map(|c| c_int::from_ne_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<_>>())
        .collect()
}

fn creds_of(r: &Received) -> Option<libc::ucred> {
    r.cmsgs.iter().find(|(l, t, _)| *l == libc::SOL_SOCKET && *t == libc::SCM_CREDENTIALS).map(|(_, _, d)| {
        let i = |k: usize| i32::from_ne_bytes([d[k], d[k + 1], d[k + 2], d[k + 3]]);
        libc::ucred { pid: i(0), uid: i(4) as u32, gid: i(8) as u32 }
    })
}

fn poll1(fd: c_int, events: i16) -> Result<i16, String> {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    sys_ok("poll", || unsafe { syscall!(libc::SYS_poll, &raw mut p, 1, 0) })?;
    Ok(p.revents)
}

// ---------------------------------------------------------------- socketpair

fn pair_duplex(ty: c_int) -> CheckResult {
    let [a, b] = socketpair(ty)?;
    let _g = Fds(vec![a, b]);
    write_all(a, b"ping from a")?;
    write_all(b, b"pong from b, longer")?;
    ensure_eq!(read_some(b, 64)?, b"ping from a".to_vec(), "b reads a's bytes");
    ensure_eq!(read_some(a, 64)?, b"pong from b, longer".to_vec(), "a reads b's bytes");
    // A second round the other way round, so each direction is used twice.
    write_all(b, b"2")?;
    ensure_eq!(read_some(a, 64)?, b"2".to_vec(), "second message b->a");
    let mut ty_out: c_int = 0;
    let mut len = 4 as libc::socklen_t;
    sys_ok("getsockopt(SO_TYPE)", || unsafe {
        syscall!(libc::SYS_getsockopt, a, libc::SOL_SOCKET, libc::SO_TYPE, &raw mut ty_out, &raw mut len)
    })?;
    ensure_eq!(ty_out, ty, "SO_TYPE");
    Ok(())
}

fn socketpair_flags() -> CheckResult {
    let [a, b] = socketpair(libc::SOCK_STREAM)?;
    let _g = Fds(vec![a, b]);
    for fd in [a, b] {
        let (fdf, fl) = fd_flags(fd)?;
        ensure_eq!(fdf & libc::FD_CLOEXEC, 0, "FD_CLOEXEC without SOCK_CLOEXEC");
        ensure_eq!(fl & libc::O_NONBLOCK, 0, "O_NONBLOCK without SOCK_NONBLOCK");
    }
    let [c1, c2] = socketpair(libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)?;
    let _g2 = Fds(vec![c1, c2]);
    for fd in [c1, c2] {
        let (fdf, fl) = fd_flags(fd)?;
        ensure_eq!(fdf & libc::FD_CLOEXEC, libc::FD_CLOEXEC, "FD_CLOEXEC with SOCK_CLOEXEC");
        ensure_eq!(fl & libc::O_NONBLOCK, libc::O_NONBLOCK, "O_NONBLOCK with SOCK_NONBLOCK");
        let mut buf = [0u8; 4];
        expect_sys_errno("read of an empty non-blocking socket", || unsafe {
            syscall!(libc::SYS_read, fd, buf.as_mut_ptr(), 4)
        }, libc::EAGAIN)?;
    }
    expect_sys_errno("socketpair(AF_INET)", || {
        let mut sv = [0 as c_int; 2];
        unsafe { syscall!(libc::SYS_socketpair, libc::AF_INET, libc::SOCK_STREAM, 0, sv.as_mut_ptr()) }
    }, libc::EOPNOTSUPP)?;
    Ok(())
}

// ---------------------------------------------------------------- paths

fn path_bind_creates_socket(dir: &str) -> CheckResult {
    let path = format!("{dir}/bound");
    let s = socket(libc::SOCK_STREAM)?;
    let _g = Fds(vec![s]);
    sys_ok("bind(path)", || bind(s, path.as_bytes()))?;
    let md = std::fs::symlink_metadata(&path).map_err(|e| format!("lstat {path}: {e}"))?;
    use std::os::unix::fs::MetadataExt;
    ensure_eq!(md.mode() & libc::S_IFMT, libc::S_IFSOCK, "file type of the bound path");
    ensure_eq!(name_of(s, false)?, path_with_nul(&path), "getsockname");
    expect_sys_errno("second bind of a bound socket", || bind(s, format!("{dir}/bound2").as_bytes()), libc::EINVAL)?;
    Ok(())
}

fn path_bind_eaddrinuse(dir: &str) -> CheckResult {
    let path = format!("{dir}/inuse");
    let s1 = socket(libc::SOCK_STREAM)?;
    let s2 = socket(libc::SOCK_STREAM)?;
    let _g = Fds(vec![s1, s2]);
    sys_ok("bind(path)", || bind(s1, path.as_bytes()))?;
    expect_sys_errno("bind to a path with a socket", || bind(s2, path.as_bytes()), libc::EADDRINUSE)?;
    // Also after the first socket closed: the file stays.
    close(s1);
    let s3 = socket(libc::SOCK_STREAM)?;
    let _g3 = Fds(vec![s3]);
    expect_sys_errno("bind to a stale socket file", || bind(s3, path.as_bytes()), libc::EADDRINUSE)?;
    let file = format!("{dir}/regular");
    std::fs::write(&file, b"x").map_err(|e| e.to_string())?;
    expect_sys_errno("bind to a regular file's path", || bind(s3, file.as_bytes()), libc::EADDRINUSE)?;
    expect_sys_errno("bind in a missing directory", || bind(s3, format!("{dir}/nodir/s").as_bytes()), libc::ENOENT)?;
    Ok(())
}

fn path_connect_enoent(dir: &str) -> CheckResult {
    let s = socket(libc::SOCK_STREAM)?;
    let _g = Fds(vec![s]);
    expect_sys_errno("connect to a missing path", || connect(s, format!("{dir}/missing").as_bytes()), libc::ENOENT)
}

fn path_connect_refused(dir: &str) -> CheckResult {
    let path = format!("{dir}/nolisten");
    let srv = socket(libc::SOCK_STREAM)?;
    let _g = Fds(vec![srv]);
    sys_ok("bind(path)", || bind(srv, path.as_bytes()))?;
    let cl = socket(libc::SOCK_STREAM)?;
    let _g2 = Fds(vec![cl]);
    expect_sys_errno("connect to a bound, not listening socket", || connect(cl, path.as_bytes()), libc::ECONNREFUSED)?;
    // A listener that closed leaves its file behind: also refused.
    let path2 = format!("{dir}/closed");
    let l = listener(libc::SOCK_STREAM, path2.as_bytes())?;
    close(l);
    expect_sys_errno("connect to a closed listener's file", || connect(cl, path2.as_bytes()), libc::ECONNREFUSED)?;
    Ok(())
}

fn path_accept_names(dir: &str) -> CheckResult {
    let path = format!("{dir}/names");
    let l = listener(libc::SOCK_STREAM, path.as_bytes())?;
    let _g = Fds(vec![l]);
    let cl = socket(libc::SOCK_STREAM)?;
    let _g2 = Fds(vec![cl]);
    sys_ok("connect(path)", || connect(cl, path.as_bytes()))?;
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let srv = sys_ok("accept4", || unsafe { syscall!(libc::SYS_accept4, l, &raw mut a, &raw mut len, 0) })? as c_int;
    let _g3 = Fds(vec![srv]);
    ensure_eq!(len, 2, "accept's address length for an unnamed client");
    ensure_eq!(a.sun_family, libc::AF_UNIX as libc::sa_family_t, "accept's family");
    ensure_eq!(name_of(l, false)?, path_with_nul(&path), "listener getsockname");
    ensure_eq!(name_of(srv, false)?, path_with_nul(&path), "accepted getsockname");
    ensure_eq!(name_of(cl, true)?, path_with_nul(&path), "client getpeername");
    ensure_eq!(name_of(cl, false)?, Vec::<u8>::new(), "client getsockname (unnamed)");
    ensure_eq!(name_of(srv, true)?, Vec::<u8>::new(), "accepted getpeername (unnamed)");
    expect_sys_errno("connect of a connected socket", || connect(cl, path.as_bytes()), libc::EISCONN)?;
    write_all(cl, b"hello server")?;
    ensure_eq!(read_some(srv, 64)?, b"hello server".to_vec(), "server reads");
    write_all(srv, b"hello client")?;
    ensure_eq!(read_some(cl, 64)?, b"hello client".to_vec(), "client reads");
    Ok(())
}

fn path_unlink_keeps_connection(dir: &str) -> CheckResult {
    let path = format!("{dir}/unlinked");
    let l = listener(libc::SOCK_STREAM, path.as_bytes())?;
    let _g = Fds(vec![l]);
    let cl = socket(libc::SOCK_STREAM)?;
    let _g2 = Fds(vec![cl]);
    sys_ok("connect(path)", || connect(cl, path.as_bytes()))?;
    let srv = accept(l)?;
    let _g3 = Fds(vec![srv]);
    std::fs::remove_file(&path).map_err(|e| format!("unlink: {e}"))?;
    write_all(cl, b"still here")?;
    ensure_eq!(read_some(srv, 64)?, b"still here".to_vec(), "data after unlink");
    write_all(srv, b"and back")?;
    ensure_eq!(read_some(cl, 64)?, b"and back".to_vec(), "data back after unlink");
    let other = socket(libc::SOCK_STREAM)?;
    let _g4 = Fds(vec![other]);
    expect_sys_errno("connect to the unlinked path", || connect(other, path.as_bytes()), libc::ENOENT)?;
    Ok(())
}

// ---------------------------------------------------------------- abstract names

fn abstract_names(dir: &str) -> CheckResult {
    let tag = format!("{}/abs", dir.trim_start_matches('/'));
    let name = abstract_name(&tag);
    let l = listener(libc::SOCK_STREAM, &name)?;
    let _g = Fds(vec![l]);
    let got = name_of(l, false)?;
    ensure_eq!(got.len(), name.len(), "getsockname length covers exactly the name");
    ensure_eq!(got, name, "getsockname bytes");
    let entries = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
    for e in entries.flatten() {
        ensure!(!e.file_name().to_string_lossy().starts_with("abs"), "abstract bind made a file {:?}", e.path());
    }
    let s2 = socket(libc::SOCK_STREAM)?;
    let _g2 = Fds(vec![s2]);
    expect_sys_errno("second bind of an abstract name", || bind(s2, &name), libc::EADDRINUSE)?;
    sys_ok("connect(abstract)", || connect(s2, &name))?;
    let srv = accept(l)?;
    let _g3 = Fds(vec![srv]);
    ensure_eq!(name_of(s2, true)?, name, "client getpeername");
    write_all(s2, b"abstract")?;
    ensure_eq!(read_some(srv, 64)?, b"abstract".to_vec(), "data over an abstract name");
    // The name is released when the socket closes.
    drop(_g);
    let s3 = socket(libc::SOCK_STREAM)?;
    let _g4 = Fds(vec![s3]);
    sys_ok("bind of the name after its owner closed", || bind(s3, &name))?;
    // Binding a bare family autobinds to a 5 hex digit abstract name.
    let s5 = socket(libc::SOCK_DGRAM)?;
    let _g6 = Fds(vec![s5]);
    let fam = libc::AF_UNIX as u16;
    sys_ok("bind(autobind)", || unsafe { syscall!(libc::SYS_bind, s5, &raw const fam, 2) })?;
    let auto = name_of(s5, false)?;
    ensure_eq!(auto.len(), 6, "autobound name length ({auto:?})");
    ensure!(auto[0] == 0 && auto[1..].iter().all(|c| c.is_ascii_hexdigit()), "autobound name {auto:?}");
    // A different name of a prefix is a different address.
    let s4 = socket(libc::SOCK_STREAM)?;
    let _g5 = Fds(vec![s4]);
    expect_sys_errno("connect to a prefix of a bound name", || connect(s4, &name[..name.len() - 1]), libc::ECONNREFUSED)?;
    Ok(())
}

// ---------------------------------------------------------------- datagrams

fn dgram_boundaries(dir: &str) -> CheckResult {
    let (pa, pb) = (format!("{dir}/dg-a"), format!("{dir}/dg-b"));
    let a = socket(libc::SOCK_DGRAM)?;
    let b = socket(libc::SOCK_DGRAM)?;
    let _g = Fds(vec![a, b]);
    sys_ok("bind a", || bind(a, pa.as_bytes()))?;
    sys_ok("bind b", || bind(b, pb.as_bytes()))?;
    let (to, tolen) = sun(pb.as_bytes());
    for msg in [&b"first"[..], &b"second datagram"[..]] {
        let n = sys_ok("sendto", || unsafe {
            syscall!(libc::SYS_sendto, a, msg.as_ptr(), msg.len(), 0, &raw const to, tolen)
        })?;
        ensure_eq!(n as usize, msg.len(), "sendto");
    }
    for want in [&b"first"[..], &b"second datagram"[..]] {
        let mut buf = [0u8; 100];
        let mut from: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        let mut flen = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        let n = sys_ok("recvfrom", || unsafe {
            syscall!(libc::SYS_recvfrom, b, buf.as_mut_ptr(), buf.len(), 0, &raw mut from, &raw mut flen)
        })? as usize;
        ensure_eq!(&buf[..n], want, "one datagram per recv");
        ensure_eq!(flen as usize, 2 + pa.len() + 1, "sender address length");
        let p: Vec<u8> = from.sun_path[..pa.len()].iter().map(|&x| x as u8).collect();
        ensure_eq!(p, pa.as_bytes().to_vec(), "sender address");
    }
    expect_sys_errno("recv of an empty datagram socket", || unsafe {
        let mut buf = [0u8; 4];
        syscall!(libc::SYS_recvfrom, b, buf.as_mut_ptr(), 4, libc::MSG_DONTWAIT, 0, 0)
    }, libc::EAGAIN)?;
    Ok(())
}

fn listen_accept_errors(dir: &str) -> CheckResult {
    let s = socket(libc::SOCK_STREAM)?;
    let d = socket(libc::SOCK_DGRAM)?;
    let _g = Fds(vec![s, d]);
    expect_sys_errno("listen on an unbound socket", || unsafe { syscall!(libc::SYS_listen, s, 4) }, libc::EINVAL)?;
    expect_sys_errno("accept on a socket not listening", || unsafe { syscall!(libc::SYS_accept4, s, 0, 0, 0) }, libc::EINVAL)?;
    let dname = format!("{dir}/listen-dgram").into_bytes();
    sys_ok("bind(dgram)", || bind(d, &dname))?;
    expect_sys_errno("listen on a datagram socket", || unsafe { syscall!(libc::SYS_listen, d, 4) }, libc::EOPNOTSUPP)?;
    expect_sys_errno("stream connect to a datagram socket", || connect(s, &dname), libc::EPROTOTYPE)?;
    Ok(())
}

fn dgram_truncation() -> CheckResult {
    let [a, b] = socketpair(libc::SOCK_DGRAM)?;
    let _g = Fds(vec![a, b]);
    let big: Vec<u8> = (0..100u8).collect();
    write_all(a, &big)?;
    write_all(a, &big)?;
    write_all(a, b"tail")?;
    let r = recvmsg(b, 10, 0)?;
    ensure_eq!(r.ret, 10, "recvmsg returns the bytes copied");
    ensure_eq!(r.data, big[..10].to_vec(), "the datagram's head");
    ensure_eq!(r.flags & libc::MSG_TRUNC, libc::MSG_TRUNC, "MSG_TRUNC in msg_flags");
    let (data, n) = recv(b, 10, libc::MSG_TRUNC)?;
    ensure_eq!(n, 100, "recv(MSG_TRUNC) returns the real length");
    ensure_eq!(data, big[..10].to_vec(), "the second datagram's head");
    let r = recvmsg(b, 64, 0)?;
    ensure_eq!(r.data, b"tail".to_vec(), "the rest of a truncated datagram is dropped");
    ensure_eq!(r.flags & libc::MSG_TRUNC, 0, "no MSG_TRUNC for a whole datagram");
    Ok(())
}

fn dgram_peer_closed() -> CheckResult {
    let [a, b] = socketpair(libc::SOCK_DGRAM)?;
    let _g = Fds(vec![a]);
    close(b);
    expect_sys_errno("send to a closed peer", || unsafe { syscall!(libc::SYS_write, a, b"x".as_ptr(), 1) }, libc::ECONNREFUSED)?;
    expect_sys_errno("send after the peer was found closed", || unsafe { syscall!(libc::SYS_write, a, b"x".as_ptr(), 1) }, libc::ENOTCONN)?;
    Ok(())
}

fn seqpacket_boundaries_eof() -> CheckResult {
    let (cl, srv) = connected(libc::SOCK_SEQPACKET, "seqpacket")?;
    let _g = Fds(vec![cl, srv]);
    write_all(cl, b"one")?;
    write_all(cl, b"two two")?;
    write_all(cl, b"three three three")?;
    ensure_eq!(read_some(srv, 64)?, b"one".to_vec(), "first record");
    ensure_eq!(read_some(srv, 64)?, b"two two".to_vec(), "second record");
    let r = recvmsg(srv, 5, 0)?;
    ensure_eq!(r.data, b"three".to_vec(), "truncated record");
    ensure_eq!(r.flags & libc::MSG_TRUNC, libc::MSG_TRUNC, "MSG_TRUNC for a truncated record");
    write_all(srv, b"reply")?;
    ensure_eq!(read_some(cl, 64)?, b"reply".to_vec(), "record the other way");
    write_all(cl, b"last")?;
    close(cl);
    ensure_eq!(read_some(srv, 64)?, b"last".to_vec(), "record sent before close");
    ensure_eq!(read_some(srv, 64)?, Vec::<u8>::new(), "EOF after the peer closed");
    std::mem::forget(_g);
    close(srv);
    Ok(())
}

// ---------------------------------------------------------------- streams

fn stream_eof_after_close() -> CheckResult {
    let [a, b] = socketpair(libc::SOCK_STREAM)?;
    let _g = Fds(vec![b]);
    write_all(a, b"abc")?;
    let n = sys_ok("write of 0 bytes", || unsafe { syscall!(libc::SYS_write, a, b"".as_ptr(), 0) })?;
    ensure_eq!(n, 0, "write of 0 bytes");
    write_all(a, b"def")?;
    ensure_eq!(read_some(b, 64)?, b"abcdef".to_vec(), "stream bytes join (a zero-byte write sends nothing)");
    ensure_eq!(poll1(b, libc::POLLIN)?, 0, "POLLIN after a zero-byte write");
    write_all(a, b"abc")?;
    write_all(a, b"def")?;
    close(a);
    ensure_eq!(read_some(b, 64)?, b"abcdef".to_vec(), "stream bytes join");
    ensure_eq!(read_some(b, 64)?, Vec::<u8>::new(), "EOF");
    ensure_eq!(read_some(b, 64)?, Vec::<u8>::new(), "EOF again");
    Ok(())
}

static SIGPIPES: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_sigpipe(_sig: c_int) {
    SIGPIPES.fetch_add(1, Ordering::SeqCst);
}

fn stream_epipe_sigpipe() -> CheckResult {
    let old = unsafe { libc::signal(libc::SIGPIPE, on_sigpipe as *const () as usize) };
    let r = (|| -> CheckResult {
        let [a, b] = socketpair(libc::SOCK_STREAM)?;
        let _g = Fds(vec![a]);
        close(b);
        SIGPIPES.store(0, Ordering::SeqCst);
        expect_sys_errno("write after the peer closed", || unsafe { syscall!(libc::SYS_write, a, b"x".as_ptr(), 1) }, libc::EPIPE)?;
        ensure_eq!(SIGPIPES.load(Ordering::SeqCst), 1, "SIGPIPEs after write");
        expect_sys_errno("send(MSG_NOSIGNAL) after the peer closed", || unsafe {
            syscall!(libc::SYS_sendto, a, b"x".as_ptr(), 1, libc::MSG_NOSIGNAL, 0, 0)
        }, libc::EPIPE)?;
        ensure_eq!(SIGPIPES.load(Ordering::SeqCst), 1, "SIGPIPEs after MSG_NOSIGNAL");
        expect_sys_errno("send(0) after the peer closed", || unsafe {
            syscall!(libc::SYS_sendto, a, b"x".as_ptr(), 1, 0, 0, 0)
        }, libc::EPIPE)?;
        ensure_eq!(SIGPIPES.load(Ordering::SeqCst), 2, "SIGPIPEs after send without MSG_NOSIGNAL");
        Ok(())
    })();
    unsafe { libc::signal(libc::SIGPIPE, old) };
    r
}

fn shutdown_wr_rdhup() -> CheckResult {
    let (cl, srv) = connected(libc::SOCK_STREAM, "shutdown")?;
    let _g = Fds(vec![cl, srv]);
    let ep = sys_ok("epoll_create1", || unsafe { syscall!(libc::SYS_epoll_create1, 0) })? as c_int;
    let _g2 = Fds(vec![ep]);
    let mut ev = libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLRDHUP) as u32, u64: 7 };
    sys_ok("epoll_ctl", || unsafe { syscall!(libc::SYS_epoll_ctl, ep, libc::EPOLL_CTL_ADD, srv, &raw mut ev) })?;
    let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
    let n = sys_ok("epoll_wait", || unsafe { syscall!(libc::SYS_epoll_wait, ep, out.as_mut_ptr(), 4, 0) })?;
    ensure_eq!(n, 0, "events before shutdown");
    sys_ok("shutdown(SHUT_WR)", || unsafe { syscall!(libc::SYS_shutdown, cl, libc::SHUT_WR) })?;
    let n = sys_ok("epoll_wait", || unsafe { syscall!(libc::SYS_epoll_wait, ep, out.as_mut_ptr(), 4, 1000) })?;
    ensure_eq!(n, 1, "events after shutdown");
    let got = out[0].events;
    ensure_eq!(got & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32, (libc::EPOLLIN | libc::EPOLLRDHUP) as u32, "EPOLLIN|EPOLLRDHUP ({got:#x})");
    ensure_eq!(got & libc::EPOLLHUP as u32, 0, "no EPOLLHUP after a half close ({got:#x})");
    ensure_eq!(read_some(srv, 64)?, Vec::<u8>::new(), "EOF for the peer");
    expect_sys_errno("write after SHUT_WR", || unsafe {
        syscall!(libc::SYS_sendto, cl, b"x".as_ptr(), 1, libc::MSG_NOSIGNAL, 0, 0)
    }, libc::EPIPE)?;
    write_all(srv, b"other way")?;
    ensure_eq!(read_some(cl, 64)?, b"other way".to_vec(), "the other direction still works");
    Ok(())
}

// ---------------------------------------------------------------- SCM_RIGHTS

fn scm_rights_pipe() -> CheckResult {
    let [a, b] = socketpair(libc::SOCK_STREAM)?;
    let p = pipe()?;
    let _g = Fds(vec![a, b, p[0]]);
    send_fds(a, b"F", &[p[1]])?;
    let st = fstat(p[1])?;
    close(p[1]);
    let r = recvmsg(b, 16, 0)?;
    ensure_eq!(r.data, b"F".to_vec(), "data with the descriptor");
    let got = rights_of(&r);
    ensure_eq!(got.len(), 1, "descriptors received");
    let fd = got[0];
    let _g2 = Fds(vec![fd]);
    let st2 = fstat(fd)?;
    ensure_eq!((st2.st_dev, st2.st_ino), (st.st_dev, st.st_ino), "same pipe");
    let (fdf, _) = fd_flags(fd)?;
    ensure_eq!(fdf & libc::FD_CLOEXEC, 0, "FD_CLOEXEC without MSG_CMSG_CLOEXEC");
    write_all(fd, b"through the passed fd")?;
    ensure_eq!(read_some(p[0], 64)?, b"through the passed fd".to_vec(), "read from the pipe");
    drop(_g2);
    // The passed descriptor was the last writer: closing it gives EOF.
    ensure_eq!(read_some(p[0], 64)?, Vec::<u8>::new(), "EOF once the received copy closed");
    Ok(())
}

fn scm_rights_several(dir: &str) -> CheckResult {
    let [a, b] = socketpair(libc::SOCK_DGRAM)?;
    let p = pipe()?;
    let path = format!("{dir}/passed-file");
    let file = sys_ok("open", || unsafe {
        syscall!(libc::SYS_open, c(&path).as_ptr(), libc::O_CREAT | libc::O_RDWR, 0o600)
    })? as c_int;
    let [x, y] = socketpair(libc::SOCK_STREAM)?;
    let _g = Fds(vec![a, b, p[0], p[1], file, x, y]);
    let sent = [p[1], file, x];
    send_fds(a, b"three", &sent)?;
    let r = recvmsg(b, 16, 0)?;
    ensure_eq!(r.data, b"three".to_vec(), "data");
    let rights: Vec<_> = r.cmsgs.iter().filter(|(_, t, _)| *t == libc::SCM_RIGHTS).collect();
    ensure_eq!(rights.len(), 1, "one SCM_RIGHTS message");
    let got = rights_of(&r);
    ensure_eq!(got.len(), 3, "descriptors received");
    let _g2 = Fds(got.clone());
    for (i, (&s, &g)) in sent.iter().zip(&got).enumerate() {
        ensure!(!sent.contains(&g), "received descriptor {g} reuses an open one");
        let (x, y) = (fstat(s)?, fstat(g)?);
        ensure_eq!((x.st_dev, x.st_ino, x.st_mode), (y.st_dev, y.st_ino, y.st_mode), "descriptor {i} refers to the same file");
    }
    // The file's offset is shared: a write through the copy moves the original's offset.
    write_all(got[1], b"12345")?;
    let off = sys_ok("lseek", || unsafe { syscall!(libc::SYS_lseek, file, 0, libc::SEEK_CUR) })?;
    ensure_eq!(off, 5, "shared file offset");
    write_all(got[2], b"via socket copy")?;
    ensure_eq!(read_some(y, 64)?, b"via socket copy".to_vec(), "a passed socket still reaches its peer");
    let _ = std::fs::remove_file(&path);
    Ok(())
}

fn scm_rights_cmsg_cloexec() -> CheckResult {
    let [a, b] = socketpair(libc::SOCK_STREAM)?;
    let p = pipe()?;
    let _g = Fds(vec![a, b, p[0], p[1]]);
    send_fds(a, b"C", &[p[0], p[1]])?;
    let r = recvmsg(b, 16, libc::MSG_CMSG_CLOEXEC)?;
    let got = rights_of(&r);
    let _g2 = Fds(got.clone());
    ensure_eq!(got.len(), 2, "descriptors received");
    for fd in &got {
        let (fdf, _) = fd_flags(*fd)?;
        ensure_eq!(fdf & libc::FD_CLOEXEC, libc::FD_CLOEXEC, "FD_CLOEXEC with MSG_CMSG_CLOEXEC on {fd}");
    }
    send_fds(a, b"D", &[p[0]])?;
    let r = recvmsg(b, 16, 0)?;
    let got = rights_of(&r);
    let _g3 = Fds(got.clone());
    ensure_eq!(got.len(), 1, "descriptors received");
    ensure_eq!(fd_flags(got[0])?.0 & libc::FD_CLOEXEC, 0, "no FD_CLOEXEC without MSG_CMSG_CLOEXEC");
    Ok(())
}

// ---------------------------------------------------------------- credentials

fn set_passcred(fd: c_int) -> Result<(), String> {
    let one: c_int = 1;
    sys_ok("setsockopt(SO_PASSCRED)", || unsafe {
        syscall!(libc::SYS_setsockopt, fd, libc::SOL_SOCKET, libc::SO_PASSCRED, &raw const one, 4)
    })
    .map(|_| ())
}

/// Forks a child that sends "plain" (no control data), then "explicit" with its own
/// SCM_CREDENTIALS, over `sock`; returns its pid after it exited 0.
fn child_sends(sock: c_int) -> Result<c_int, String> {
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            let ok1 = libc::write(sock, b"plain".as_ptr().cast(), 5) == 5;
            let cred = libc::ucred { pid: libc::getpid(), uid: libc::getuid(), gid: libc::getgid() };
            let mut ctl = [0u64; 8];
            let mut iov = libc::iovec { iov_base: b"explicit".as_ptr() as *mut _, iov_len: 8 };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &raw mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = ctl.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(12) as _;
            let cm = libc::CMSG_FIRSTHDR(&msg);
            (*cm).cmsg_level = libc::SOL_SOCKET;
            (*cm).cmsg_type = libc::SCM_CREDENTIALS;
            (*cm).cmsg_len = libc::CMSG_LEN(12) as _;
            std::ptr::copy_nonoverlapping((&raw const cred).cast::<u8>(), libc::CMSG_DATA(cm), 12);
            let ok2 = libc::sendmsg(sock, &msg, 0) == 8;
            libc::_exit(if ok1 && ok2 { 0 } else { 1 });
        }
    }
    ensure!(pid > 0, "fork failed");
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    ensure!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "sender child status {status:#x}");
    Ok(pid)
}

fn scm_credentials() -> CheckResult {
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    for ty in [libc::SOCK_DGRAM, libc::SOCK_SEQPACKET] {
        let [a, b] = socketpair(ty)?;
        let _g = Fds(vec![a, b]);
        set_passcred(b)?;
        let child = child_sends(a)?;
        for want in [&b"plain"[..], &b"explicit"[..]] {
            let r = recvmsg(b, 64, 0)?;
            ensure_eq!(r.data, want.to_vec(), "data (type {ty})");
            let cr = creds_of(&r).ok_or(format!("no SCM_CREDENTIALS with {:?} (type {ty})", String::from_utf8_lossy(want)))?;
            ensure_eq!((cr.pid, cr.uid, cr.gid), (child, uid, gid), "credentials of {:?} (type {ty})", String::from_utf8_lossy(want));
        }
    }
    // Without SO_PASSCRED on the receiver, no credentials arrive, even explicit ones.
    let [a, b] = socketpair(libc::SOCK_DGRAM)?;
    let _g = Fds(vec![a, b]);
    child_sends(a)?;
    for _ in 0..2 {
        let r = recvmsg(b, 64, 0)?;
        ensure!(creds_of(&r).is_none(), "SCM_CREDENTIALS without SO_PASSCRED for {:?}", String::from_utf8_lossy(&r.data));
    }
    // Credentials that are not the sender's are refused.
    let bad = libc::ucred { pid: unsafe { libc::getpid() } + 100_000, uid, gid };
    let mut ctl = [0u64; 8];
    let mut iov = libc::iovec { iov_base: b"x".as_ptr() as *mut _, iov_len: 1 };
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.as_mut_ptr().cast();
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(12) } as _;
    unsafe {
        let cm = libc::CMSG_FIRSTHDR(&msg);
        (*cm).cmsg_level = libc::SOL_SOCKET;
        (*cm).cmsg_type = libc::SCM_CREDENTIALS;
        (*cm).cmsg_len = libc::CMSG_LEN(12) as _;
        std::ptr::copy_nonoverlapping((&raw const bad).cast::<u8>(), libc::CMSG_DATA(cm), 12);
    }
    // Root may claim any existing pid; a pid that does not exist is ESRCH.
    expect_sys_errno("sendmsg with another pid", || unsafe { syscall!(libc::SYS_sendmsg, a, &raw const msg, 0) }, libc::ESRCH)?;
    Ok(())
}

fn scm_credentials_stream() -> CheckResult {
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let [a, b] = socketpair(libc::SOCK_STREAM)?;
    let _g = Fds(vec![a, b]);
    set_passcred(b)?;
    let child = child_sends(a)?;
    let mut got = Vec::new();
    while got.len() < 13 {
        let r = recvmsg(b, 64, 0)?;
        ensure!(!r.data.is_empty(), "EOF after {got:?}");
        let cr = creds_of(&r).ok_or(format!("no SCM_CREDENTIALS with {:?}", String::from_utf8_lossy(&r.data)))?;
        ensure_eq!((cr.pid, cr.uid, cr.gid), (child, uid, gid), "credentials on a stream read");
        got.extend_from_slice(&r.data);
    }
    ensure_eq!(got, b"plainexplicit".to_vec(), "stream data");
    Ok(())
}

fn peercred(fd: c_int) -> Result<libc::ucred, String> {
    let mut cr = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    sys_ok("getsockopt(SO_PEERCRED)", || unsafe {
        syscall!(libc::SYS_getsockopt, fd, libc::SOL_SOCKET, libc::SO_PEERCRED, &raw mut cr, &raw mut len)
    })?;
    ensure_eq!(len as usize, std::mem::size_of::<libc::ucred>(), "SO_PEERCRED length");
    Ok(cr)
}

fn so_peercred() -> CheckResult {
    let (me, uid, gid) = unsafe { (libc::getpid(), libc::getuid(), libc::getgid()) };
    // A child connects; the accepted socket's peer is the child, the child's peer us.
    let name = abstract_name("peercred");
    let l = listener(libc::SOCK_STREAM, &name)?;
    let _g = Fds(vec![l]);
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let ok = (|| -> Result<bool, String> {
            let s = socket(libc::SOCK_STREAM)?;
            sys_ok("connect", || connect(s, &name))?;
            let cr = peercred(s)?;
            let mut b = [0u8; 1];
            unsafe { libc::read(s, b.as_mut_ptr().cast(), 1) };
            Ok(cr.pid == me && cr.uid == uid && cr.gid == gid)
        })();
        unsafe { libc::_exit(if ok == Ok(true) { 0 } else { 1 }) };
    }
    ensure!(pid > 0, "fork failed");
    let srv = accept(l);
    let cr = srv.as_ref().map_err(|e| e.clone()).and_then(|&s| peercred(s));
    if let Ok(s) = srv {
        unsafe { libc::write(s, b"k".as_ptr().cast(), 1) };
        close(s);
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let cr = cr?;
    ensure_eq!((cr.pid, cr.uid, cr.gid), (pid, uid, gid), "accepted socket's SO_PEERCRED (the child)");
    ensure!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child saw a wrong SO_PEERCRED (status {status:#x})");
    let [a, b] = socketpair(libc::SOCK_STREAM)?;
    let _g2 = Fds(vec![a, b]);
    let cr = peercred(a)?;
    ensure_eq!((cr.pid, cr.uid, cr.gid), (me, uid, gid), "socketpair SO_PEERCRED");
    let lone = socket(libc::SOCK_STREAM)?;
    let _g3 = Fds(vec![lone]);
    let cr = peercred(lone)?;
    ensure_eq!((cr.pid, cr.uid, cr.gid), (0, u32::MAX, u32::MAX), "SO_PEERCRED of an unconnected socket");
    Ok(())
}

// ---------------------------------------------------------------- readiness

fn fionread_of(fd: c_int) -> Result<c_int, String> {
    let mut n: c_int = -1;
    sys_ok("ioctl(FIONREAD)", || unsafe { syscall!(libc::SYS_ioctl, fd, libc::FIONREAD, &raw mut n) })?;
    Ok(n)
}

fn fionread() -> CheckResult {
    let [a, b] = socketpair(libc::SOCK_STREAM)?;
    let _g = Fds(vec![a, b]);
    ensure_eq!(fionread_of(b)?, 0, "FIONREAD of an empty stream");
    write_all(a, b"12345")?;
    write_all(a, b"1234567")?;
    ensure_eq!(fionread_of(b)?, 12, "FIONREAD of a stream: every queued byte");
    read_some(b, 4)?;
    ensure_eq!(fionread_of(b)?, 8, "FIONREAD after a partial read");
    let [c1, c2] = socketpair(libc::SOCK_DGRAM)?;
    let _g2 = Fds(vec![c1, c2]);
    write_all(c1, b"12345")?;
    write_all(c1, b"1234567")?;
    ensure_eq!(fionread_of(c2)?, 5, "FIONREAD of a datagram socket: the next datagram");
    Ok(())
}

fn poll_readiness() -> CheckResult {
    let [a, b] = socketpair(libc::SOCK_STREAM | libc::SOCK_NONBLOCK)?;
    let _g = Fds(vec![a, b]);
    let both = libc::POLLIN | libc::POLLOUT;
    ensure_eq!(poll1(a, both)?, libc::POLLOUT, "idle socket");
    write_all(b, b"data")?;
    ensure_eq!(poll1(a, both)?, both, "socket with data");
    ensure_eq!(poll1(a, libc::POLLIN)?, libc::POLLIN, "only POLLIN asked");
    read_some(a, 64)?;
    ensure_eq!(poll1(a, both)?, libc::POLLOUT, "after reading everything");
    // Fill b->a until the writer would block.
    let chunk = vec![7u8; 65536];
    let mut total = 0usize;
    loop {
        checks::clear_errno();
        let n = unsafe { syscall!(libc::SYS_write, b, chunk.as_ptr(), chunk.len()) };
        if n < 0 {
            ensure_eq!(checks::errno(), libc::EAGAIN, "errno of a write to a full socket");
            break;
        }
        total += n as usize;
        ensure!(total < 64 << 20, "wrote {total} bytes without the socket filling up");
    }
    ensure_eq!(poll1(b, both)? & libc::POLLOUT, 0, "POLLOUT on a full socket");
    ensure_eq!(poll1(a, both)? & libc::POLLIN, libc::POLLIN, "POLLIN on the reader of a full socket");
    let mut got = 0usize;
    let mut buf = vec![0u8; 65536];
    while got < total {
        let n = sys_ok("read", || unsafe { syscall!(libc::SYS_read, a, buf.as_mut_ptr(), buf.len()) })?;
        got += n as usize;
    }
    ensure_eq!(poll1(b, both)?, libc::POLLOUT, "writable again once drained");
    Ok(())
}

// ---------------------------------------------------------------- netlink

const RTM_GETLINK: u16 = 18;
const RTM_NEWLINK: u16 = 16;
const RTM_GETADDR: u16 = 22;
const RTM_NEWADDR: u16 = 20;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
/// The interface flags compared for `lo`, and the ones Linux's loopback has among them.
const LO_FLAG_MASK: u32 =
    (libc::IFF_UP | libc::IFF_BROADCAST | libc::IFF_LOOPBACK | libc::IFF_POINTOPOINT | libc::IFF_RUNNING | libc::IFF_MULTICAST) as u32;
const LO_FLAGS: u32 = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as u32;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Sends a dump request of `ty` (body `body`) and collects every reply message
/// (type, body) up to NLMSG_DONE, which must come.
fn netlink_dump(ty: u16, body: &[u8], seq: u32) -> Result<Vec<(u16, Vec<u8>)>, String> {
    let s = sys_ok("socket(AF_NETLINK)", || unsafe {
        syscall!(libc::SYS_socket, libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE)
    })? as c_int;
    let _g = Fds(vec![s]);
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    sys_ok("bind(netlink)", || unsafe { syscall!(libc::SYS_bind, s, &raw const sa, std::mem::size_of::<libc::sockaddr_nl>()) })?;
    let mut len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    sys_ok("getsockname(netlink)", || unsafe { syscall!(libc::SYS_getsockname, s, &raw mut sa, &raw mut len) })?;
    ensure_eq!(sa.nl_family, libc::AF_NETLINK as u16, "nl_family");
    ensure_eq!(sa.nl_pid, std::process::id(), "port id of the first netlink socket (the pid)");
    let mut req = Vec::new();
    let total = 16 + body.len();
    req.extend_from_slice(&(total as u32).to_ne_bytes());
    req.extend_from_slice(&ty.to_ne_bytes());
    req.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
    req.extend_from_slice(&seq.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.extend_from_slice(body);
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as u16;
    let n = sys_ok("sendto(netlink)", || unsafe {
        syscall!(libc::SYS_sendto, s, req.as_ptr(), req.len(), 0, &raw const kernel, std::mem::size_of::<libc::sockaddr_nl>())
    })?;
    ensure_eq!(n as usize, req.len(), "netlink request sent");
    let mut out = Vec::new();
    for _ in 0..1000 {
        let (buf, n) = recv(s, 65536, 0)?;
        ensure!(n > 0, "empty netlink read");
        let mut off = 0;
        while off + 16 <= buf.len() {
            let mlen = u32_at(&buf, off) as usize;
            ensure!(mlen >= 16 && off + mlen <= buf.len(), "bad nlmsg_len {mlen} at {off} of {}", buf.len());
            let mty = u16_at(&buf, off + 4);
            ensure_eq!(u32_at(&buf, off + 8), seq, "nlmsg_seq of a reply");
            ensure_eq!(u32_at(&buf, off + 12), sa.nl_pid, "nlmsg_pid of a reply");
            let body = buf[off + 16..off + mlen].to_vec();
            if mty == libc::NLMSG_DONE as u16 {
                return Ok(out);
            }
            ensure!(mty != libc::NLMSG_ERROR as u16, "NLMSG_ERROR {} in the dump", body.get(..4).map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]])));
            out.push((mty, body));
            off += (mlen + 3) & !3;
        }
    }
    Err("no NLMSG_DONE".into())
}

/// The rtattrs of a message body after a fixed header of `hdr` bytes: (type, payload).
fn rtattrs(body: &[u8], hdr: usize) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut off = hdr;
    while off + 4 <= body.len() {
        let len = u16_at(body, off) as usize;
        if len < 4 || off + len > body.len() {
            break;
        }
        out.push((u16_at(body, off + 2) & 0x3fff, body[off + 4..off + len].to_vec()));
        off += (len + 3) & !3;
    }
    out
}

fn netlink_getlink() -> CheckResult {
    let ifinfo = [0u8; 16];
    let msgs = netlink_dump(RTM_GETLINK, &ifinfo, 0x5eed)?;
    ensure!(!msgs.is_empty(), "empty link dump");
    let mut lo = None;
    for (ty, body) in &msgs {
        ensure_eq!(*ty, RTM_NEWLINK, "message type in a link dump");
        ensure!(body.len() >= 16, "short ifinfomsg");
        let name = rtattrs(body, 16).into_iter().find(|(t, _)| *t == IFLA_IFNAME).map(|(_, v)| v);
        if name.as_deref() == Some(b"lo\0") {
            lo = Some(body.clone());
        }
    }
    let lo = lo.ok_or("no lo in the link dump")?;
    ensure_eq!(i32::from_ne_bytes([lo[4], lo[5], lo[6], lo[7]]), 1, "lo's ifindex");
    ensure_eq!(u16_at(&lo, 2), 772, "lo's type (ARPHRD_LOOPBACK)");
    let flags = u32_at(&lo, 8);
    ensure_eq!(flags & LO_FLAG_MASK, LO_FLAGS, "lo's flags ({flags:#x}) among UP|BROADCAST|LOOPBACK|POINTOPOINT|RUNNING|MULTICAST");
    let mtu = rtattrs(&lo, 16).into_iter().find(|(t, _)| *t == IFLA_MTU).map(|(_, v)| u32_at(&v, 0));
    ensure_eq!(mtu, Some(65536), "lo's IFLA_MTU");
    Ok(())
}

fn netlink_getaddr() -> CheckResult {
    let ifaddr = [libc::AF_INET as u8, 0, 0, 0, 0, 0, 0, 0];
    let msgs = netlink_dump(RTM_GETADDR, &ifaddr, 77)?;
    let mut found = false;
    for (ty, body) in &msgs {
        ensure_eq!(*ty, RTM_NEWADDR, "message type in an address dump");
        ensure!(body.len() >= 8, "short ifaddrmsg");
        ensure_eq!(body[0], libc::AF_INET as u8, "family in an AF_INET dump");
        let attrs = rtattrs(body, 8);
        let local = attrs.iter().find(|(t, _)| *t == IFA_LOCAL).or(attrs.iter().find(|(t, _)| *t == IFA_ADDRESS));
        if local.is_some_and(|(_, v)| v[..] == [127, 0, 0, 1]) {
            ensure_eq!(body[1], 8, "prefix length of 127.0.0.1");
            ensure_eq!(u32_at(body, 4), 1, "ifindex of 127.0.0.1");
            found = true;
        }
    }
    ensure!(found, "127.0.0.1 not in the address dump ({} addresses)", msgs.len());
    Ok(())
}

fn getifaddrs_lo() -> CheckResult {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    ensure_eq!(unsafe { libc::getifaddrs(&mut list) }, 0, "getifaddrs");
    let mut found = None;
    let mut p = list;
    while !p.is_null() {
        let ifa = unsafe { &*p };
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }.to_string_lossy().into_owned();
        if name == "lo" && !ifa.ifa_addr.is_null() && unsafe { (*ifa.ifa_addr).sa_family } == libc::AF_INET as u16 {
            let a = unsafe { *(ifa.ifa_addr as *const libc::sockaddr_in) };
            let m = if ifa.ifa_netmask.is_null() { None } else { Some(unsafe { *(ifa.ifa_netmask as *const libc::sockaddr_in) }.sin_addr.s_addr) };
            found = Some((a.sin_addr.s_addr.to_ne_bytes(), m.map(u32::to_ne_bytes), ifa.ifa_flags));
        }
        p = ifa.ifa_next;
    }
    unsafe { libc::freeifaddrs(list) };
    let (addr, mask, flags) = found.ok_or("no AF_INET entry for lo")?;
    ensure_eq!(addr, [127, 0, 0, 1], "lo's address");
    ensure_eq!(mask, Some([255, 0, 0, 0]), "lo's netmask");
    ensure_eq!(flags & LO_FLAG_MASK, LO_FLAGS, "lo's flags ({flags:#x})");
    // SIOCGIFFLAGS (on any socket) agrees.
    let s = socket(libc::SOCK_DGRAM)?;
    let _g = Fds(vec![s]);
    let mut ifr = [0u8; 40];
    ifr[..2].copy_from_slice(b"lo");
    sys_ok("ioctl(SIOCGIFFLAGS)", || unsafe { syscall!(libc::SYS_ioctl, s, libc::SIOCGIFFLAGS, ifr.as_mut_ptr()) })?;
    let f = u32::from(u16::from_ne_bytes([ifr[16], ifr[17]]));
    ensure_eq!(f & LO_FLAG_MASK, LO_FLAGS, "SIOCGIFFLAGS of lo ({f:#x})");
    Ok(())
}
