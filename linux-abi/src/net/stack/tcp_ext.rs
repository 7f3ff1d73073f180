//! TCP connections and listeners on the NIC (smoltcp sockets behind Axle's `TcpSocket`).
//!
//! A `TcpSocket` that connects to another host, or that a listener accepted from the
//! network, carries a key into [`Table::conns`]; a listener on the wildcard or the NIC's
//! address carries a key into [`Table::listeners`], which keeps a small pool of listening
//! smoltcp sockets on its port (each takes one connection; an established one moves to
//! the listener's accept queue and is replaced). A socket the program closed becomes an
//! orphan that finishes its FIN handshake (or reset) and TIME_WAIT in the background.
//!
//! Errors follow Linux: a reset during the handshake is ECONNREFUSED (after a
//! non-blocking connect, through `SO_ERROR`), a reset later ECONNRESET; a send after the
//! peer went away is EPIPE.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, State};
use smoltcp::wire::IpListenEndpoint;

use super::{endpoint, kick, present, smol_endpoint, with_stack, Effects, Stack, CLOSED};
use crate::errno::{Errno, SysResult};
use crate::fs::file::events::*;
use crate::net::inet::tcp::TcpSocket;
use crate::net::inet::{Endpoint, Ip};
use crate::net::socket::{Blocking, Incoming, Outgoing, Socket, MSG_PEEK, MSG_WAITALL};

/// Receive and send buffer of each connection (smoltcp scales its window past 64 KiB).
const BUF_BYTES: usize = 128 << 10;
/// Listening smoltcp sockets per listener: connections that may be in their handshake at once.
const POOL: usize = 2;
/// An orphan that has not finished closing after this long is dropped (Linux's tcp_fin_timeout).
const ORPHAN_TIMEOUT_NS: u64 = 60_000_000_000;

/// A connection to another host.
pub struct Conn {
    handle: SocketHandle,
    sock: Weak<TcpSocket>,
    established: bool,
    /// Pending error (errno), reported once.
    error: i32,
    /// The program shut down reading.
    rd_shut: bool,
    /// Refused or reset: the connection is over (its error may have been read already).
    failed: bool,
    last_state: State,
    remote: Endpoint,
}

/// A listener's pool of listening smoltcp sockets.
pub struct Listener {
    sock: Weak<TcpSocket>,
    endpoint: IpListenEndpoint,
    pool: Vec<SocketHandle>,
}

/// The stack's TCP state.
#[derive(Default)]
pub struct Table {
    conns: BTreeMap<u64, Conn>,
    listeners: BTreeMap<u64, Listener>,
    /// Closed by the program, still finishing (handle, since).
    orphans: Vec<(SocketHandle, u64)>,
    next_key: u64,
}

impl Table {
    fn key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }
}

fn new_socket() -> tcp::Socket<'static> {
    tcp::Socket::new(tcp::SocketBuffer::new(alloc::vec![0; BUF_BYTES]), tcp::SocketBuffer::new(alloc::vec![0; BUF_BYTES]))
}

/// Readiness of a connection as Linux's `tcp_poll` reports it.
fn readiness(c: &Conn, sock: &tcp::Socket) -> u32 {
    const IN: u32 = POLLIN | POLLRDNORM;
    const OUT: u32 = POLLOUT | POLLWRNORM;
    if c.error != 0 {
        return IN | OUT | POLLERR | POLLHUP | POLLRDHUP;
    }
    if c.failed {
        return IN | OUT | POLLHUP | POLLRDHUP;
    }
    let mut ev = match sock.state() {
        State::Listen | State::SynSent | State::SynReceived => 0,
        State::Closed if !c.established => 0,
        State::Established => {
            (if sock.can_recv() { IN } else { 0 }) | (if sock.can_send() { OUT } else { 0 })
        }
        // The peer sent FIN: end of file after the data; we may still send.
        State::CloseWait => IN | POLLRDHUP | (if sock.can_send() { OUT } else { 0 }),
        // We sent FIN (shutdown for writing): Linux reports writable.
        State::FinWait1 | State::FinWait2 => (if sock.can_recv() { IN } else { 0 }) | OUT,
        State::Closing | State::LastAck | State::TimeWait | State::Closed => IN | OUT | POLLRDHUP | POLLHUP,
    };
    if c.rd_shut {
        ev |= IN | POLLRDHUP;
    }
    ev
}

/// Updates the socket's cached readiness; queues a wake-up when it changed.
fn refresh(c: &Conn, sock: &tcp::Socket, fx: &mut Effects) {
    if let Some(s) = c.sock.upgrade() {
        if s.set_ext_ready(readiness(c, sock)) {
            fx.wake.push(s);
        }
    }
}

/// After each poll: accepted connections, state changes, finished orphans.
pub(super) fn after_poll(st: &mut Stack, fx: &mut Effects) {
    let Stack { sockets, tcp: table, ip, .. } = st;
    // Listeners: hand over established connections, re-arm the pool.
    let mut accepted = Vec::new();
    for l in table.listeners.values_mut() {
        let Some(ls) = l.sock.upgrade() else { continue };
        for slot in l.pool.iter_mut() {
            let s = sockets.get::<tcp::Socket>(*slot);
            match s.state() {
                State::Listen | State::SynReceived => continue,
                State::Established | State::CloseWait => {
                    let local = s.local_endpoint().map(endpoint).unwrap_or(Endpoint { ip: Ip::V4(*ip), port: l.endpoint.port });
                    let remote = s.remote_endpoint().map(endpoint).unwrap_or(Endpoint { ip: Ip::V4([0; 4]), port: 0 });
                    accepted.push((ls.clone(), *slot, local, remote));
                }
                _ => {
                    // A handshake that failed: drop it.
                    sockets.remove(*slot);
                }
            }
            let mut fresh = new_socket();
            if fresh.listen(l.endpoint).is_ok() {
                *slot = sockets.add(fresh);
            }
        }
    }
    for (ls, handle, local, remote) in accepted {
        let key = table.key();
        let s = ls.new_accepted_external(local, key);
        let c = Conn { handle, sock: Arc::downgrade(&s), established: true, error: 0, rd_shut: false, failed: false, last_state: State::Established, remote };
        s.set_ext_ready(readiness(&c, sockets.get::<tcp::Socket>(handle)));
        table.conns.insert(key, c);
        fx.accepted.push((ls, s));
    }
    // Connections.
    for c in table.conns.values_mut() {
        let sock = sockets.get::<tcp::Socket>(c.handle);
        let state = sock.state();
        if !c.established && matches!(state, State::Established | State::CloseWait | State::FinWait1 | State::FinWait2) {
            c.established = true;
        }
        if state == State::Closed && c.last_state != State::Closed && c.error == 0 {
            if !c.established {
                c.error = Errno::ECONNREFUSED as i32;
                c.failed = true;
            } else if !matches!(c.last_state, State::LastAck | State::TimeWait | State::Closing) {
                c.error = Errno::ECONNRESET as i32;
                c.failed = true;
            }
        }
        c.last_state = state;
        refresh(c, sock, fx);
    }
    // Orphans: gone once closed, or after the FIN timeout.
    let now = rtos::time::now_ns();
    table.orphans.retain(|&(h, since)| {
        let s = sockets.get_mut::<tcp::Socket>(h);
        let done = s.state() == State::Closed;
        if done || now.saturating_sub(since) > ORPHAN_TIMEOUT_NS {
            if !done {
                s.abort();
            }
            sockets.remove(h);
            false
        } else {
            true
        }
    });
}

/// Winds down a connection or listener whose socket the program closed.
pub(super) fn wind_down(st: &mut Stack, key: u64, abort: bool) {
    if let Some(c) = st.tcp.conns.remove(&key) {
        let s = st.sockets.get_mut::<tcp::Socket>(c.handle);
        // Unread data or SO_LINGER 0: reset, as Linux does.
        if abort || s.recv_queue() > 0 {
            s.abort();
        } else {
            s.close();
        }
        st.tcp.orphans.push((c.handle, rtos::time::now_ns()));
    }
    if let Some(l) = st.tcp.listeners.remove(&key) {
        for h in l.pool {
            st.sockets.get_mut::<tcp::Socket>(h).abort();
            st.tcp.orphans.push((h, rtos::time::now_ns()));
        }
    }
}

/// The program closed a socket with key `key` (any context: the task does the work).
pub fn tcp_closed(key: u64, abort: bool) {
    CLOSED.lock().push((key, abort));
    kick();
}

/// Connects `s` to another host (`dst` is not on this machine).
pub fn tcp_connect_external(s: &TcpSocket, dst: Endpoint, b: Blocking) -> Result<(), Errno> {
    if !present() {
        return Err(Errno::ENETUNREACH);
    }
    let remote = smol_endpoint(dst)?;
    let key = s.ext_key();
    if key != 0 {
        // A connect is under way or done.
        return with_stack(|st, _| match st.tcp.conns.get_mut(&key) {
            Some(c) if c.error != 0 => Err(errno(core::mem::take(&mut c.error))),
            Some(c) if c.established => Err(Errno::EISCONN),
            Some(_) => Err(Errno::EALREADY),
            None => Err(Errno::EISCONN),
        })
        .unwrap_or(Err(Errno::ENETUNREACH));
    }
    if dst.port == 0 {
        return Err(Errno::ECONNREFUSED);
    }
    let local = s.ensure_bound_any()?;
    let key = with_stack(|st, fx| {
        let mut sock = new_socket();
        sock.set_nagle_enabled(!s.nodelay());
        sock.connect(st.iface.context(), remote, local.port).map_err(|_| Errno::EADDRNOTAVAIL)?;
        let handle = st.sockets.add(sock);
        let key = st.tcp.key();
        st.tcp.conns.insert(key, Conn { handle, sock: s.weak(), established: false, error: 0, rd_shut: false, failed: false, last_state: State::SynSent, remote: dst });
        s.set_ext_key(key);
        s.set_local(Endpoint { ip: Ip::V4(st.ip), port: local.port });
        st.flush(fx);
        Ok(key)
    })
    .unwrap_or(Err(Errno::ENETUNREACH))?;
    if b.nonblock {
        return Err(Errno::EINPROGRESS);
    }
    s.wait_queue()
        .wait(b.options(), || {
            with_stack(|st, _| match st.tcp.conns.get_mut(&key) {
                Some(c) if c.error != 0 => Some(Err(errno(core::mem::take(&mut c.error)))),
                Some(c) if c.established => Some(Ok(())),
                Some(_) => None,
                None => Some(Err(Errno::ECONNREFUSED)),
            })
            .unwrap_or(Some(Err(Errno::ENETUNREACH)))
        })
        .map_err(Blocking::wait_err)?
}

/// Whether `key` names a connection (not a listener).
fn is_conn(key: u64) -> bool {
    key != 0 && with_stack(|st, _| st.tcp.conns.contains_key(&key)).unwrap_or(false)
}

/// Sends on an external connection (`None`: `s` has none).
pub fn tcp_send_external(s: &TcpSocket, out: &Outgoing<'_>, b: Blocking) -> Option<SysResult> {
    let key = s.ext_key();
    if !is_conn(key) {
        return None;
    }
    let data = out.data;
    let mut done = 0usize;
    loop {
        let r = s.wait_queue().wait(b.options(), || {
            with_stack(|st, fx| {
                let Some(c) = st.tcp.conns.get_mut(&key) else { return Some(Err(Errno::EPIPE)) };
                if c.error != 0 {
                    return Some(Err(errno(core::mem::take(&mut c.error))));
                }
                let sock = st.sockets.get_mut::<tcp::Socket>(c.handle);
                if !c.established {
                    return if matches!(sock.state(), State::SynSent | State::SynReceived) {
                        if b.nonblock { Some(Err(Errno::EAGAIN)) } else { None }
                    } else {
                        Some(Err(Errno::EPIPE))
                    };
                }
                if !sock.may_send() {
                    return Some(Err(Errno::EPIPE));
                }
                if data.is_empty() {
                    return Some(Ok(0));
                }
                if !sock.can_send() {
                    return if b.nonblock { Some(Err(Errno::EAGAIN)) } else { None };
                }
                sock.set_nagle_enabled(!s.nodelay());
                let n = sock.send_slice(&data[done..]).unwrap_or(0);
                st.flush(fx);
                Some(Ok(n))
            })
            .unwrap_or(Some(Err(Errno::EPIPE)))
        });
        match r {
            Ok(Ok(n)) => {
                done += n;
                if done >= data.len() {
                    return Some(Ok(done));
                }
            }
            Ok(Err(e)) => return Some(if done > 0 { Ok(done) } else { Err(e) }),
            Err(e) => return Some(if done > 0 { Ok(done) } else { Err(Blocking::wait_err(e)) }),
        }
    }
}

/// Receives on an external connection (`None`: `s` has none).
pub fn tcp_recv_external(s: &TcpSocket, max: usize, flags: u32, b: Blocking) -> Option<Result<Incoming, Errno>> {
    let key = s.ext_key();
    if !is_conn(key) {
        return None;
    }
    let peek = flags & MSG_PEEK != 0;
    let waitall = flags & MSG_WAITALL != 0 && !peek;
    let mut acc: Vec<u8> = Vec::new();
    loop {
        let want = max - acc.len();
        let r = s.wait_queue().wait(b.options(), || {
            with_stack(|st, fx| {
                let Some(c) = st.tcp.conns.get_mut(&key) else { return Some(Ok(Vec::new())) };
                let sock = st.sockets.get_mut::<tcp::Socket>(c.handle);
                if sock.can_recv() && !c.rd_shut {
                    let mut buf = alloc::vec![0u8; want.min(sock.recv_queue())];
                    let n = if peek { sock.peek_slice(&mut buf) } else { sock.recv_slice(&mut buf) }.unwrap_or(0);
                    buf.truncate(n);
                    if !peek {
                        // The window opened: let the peer know, and update readiness.
                        st.flush(fx);
                    }
                    return Some(Ok(buf));
                }
                if c.error != 0 {
                    return Some(Err(errno(core::mem::take(&mut c.error))));
                }
                if c.rd_shut || (c.established && !sock.may_recv()) {
                    return Some(Ok(Vec::new()));
                }
                if !c.established && !matches!(sock.state(), State::SynSent | State::SynReceived) {
                    return Some(Err(Errno::ENOTCONN));
                }
                if b.nonblock { Some(Err(Errno::EAGAIN)) } else { None }
            })
            .unwrap_or(Some(Ok(Vec::new())))
        });
        let chunk = match r {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Some(if acc.is_empty() { Err(e) } else { Ok(incoming(acc)) }),
            Err(e) => return Some(if acc.is_empty() { Err(Blocking::wait_err(e)) } else { Ok(incoming(acc)) }),
        };
        let eof = chunk.is_empty();
        acc.extend_from_slice(&chunk);
        if !waitall || eof || acc.len() >= max {
            return Some(Ok(incoming(acc)));
        }
    }
}

fn incoming(data: Vec<u8>) -> Incoming {
    let full_len = data.len();
    Incoming { data, full_len, from: None, rights: Vec::new(), creds: None }
}

/// `shutdown` on an external connection (`None`: `s` has none).
pub fn tcp_shutdown_external(s: &TcpSocket, how: i32) -> Option<Result<(), Errno>> {
    let key = s.ext_key();
    if !is_conn(key) {
        return None;
    }
    with_stack(|st, fx| {
        let Some(c) = st.tcp.conns.get_mut(&key) else { return Err(Errno::ENOTCONN) };
        if !c.established {
            return Err(Errno::ENOTCONN);
        }
        if how == 0 || how == 2 {
            c.rd_shut = true;
        }
        let sock = st.sockets.get_mut::<tcp::Socket>(c.handle);
        if how == 1 || how == 2 {
            sock.close();
        }
        refresh(c, sock, fx);
        st.flush(fx);
        if let Some(me) = s.weak().upgrade() {
            fx.wake.push(me);
        }
        Ok(())
    })
}

/// The peer of an external connection.
pub fn tcp_peer_external(s: &TcpSocket) -> Option<Endpoint> {
    let key = s.ext_key();
    if key == 0 {
        return None;
    }
    with_stack(|st, _| st.tcp.conns.get(&key).filter(|c| c.established).map(|c| c.remote)).flatten()
}

/// Readiness of an external connection (cached: never takes the stack lock).
pub fn tcp_poll_external(s: &TcpSocket) -> Option<u32> {
    (s.ext_key() != 0).then(|| s.ext_ready())
}

/// `SO_ERROR` of an external connection: the pending error, cleared (`None`: `s` has
/// no external connection).
pub fn tcp_take_error_external(s: &TcpSocket) -> Option<i32> {
    let key = s.ext_key();
    if key == 0 {
        return None;
    }
    with_stack(|st, fx| {
        let c = st.tcp.conns.get_mut(&key)?;
        let e = core::mem::take(&mut c.error);
        let sock = st.sockets.get::<tcp::Socket>(c.handle);
        refresh(c, sock, fx);
        Some(e)
    })
    .flatten()
}

/// Bytes waiting to be read (FIONREAD).
pub fn tcp_pending_external(s: &TcpSocket) -> Option<usize> {
    let key = s.ext_key();
    if key == 0 {
        return None;
    }
    with_stack(|st, _| st.tcp.conns.get(&key).map(|c| st.sockets.get::<tcp::Socket>(c.handle).recv_queue())).flatten()
}

/// A listener on `local` also accepts connections from the network when `local` is the
/// wildcard or the NIC's address.
pub fn tcp_listen_external(s: &TcpSocket, local: Endpoint) {
    if !present() {
        return;
    }
    with_stack(|st, _| {
        let ours = Ip::V4(st.ip);
        let addr = match local.ip.canonical() {
            ip if ip.is_unspecified() && !(s.is_v6() && s.v6only()) => None,
            ip if ip == ours => Some(smoltcp::wire::IpAddress::Ipv4(st.ip.into())),
            _ => return,
        };
        let endpoint = IpListenEndpoint { addr, port: local.port };
        let mut pool = Vec::new();
        for _ in 0..POOL {
            let mut sock = new_socket();
            if sock.listen(endpoint).is_ok() {
                pool.push(st.sockets.add(sock));
            }
        }
        let key = st.tcp.key();
        st.tcp.listeners.insert(key, Listener { sock: s.weak(), endpoint, pool });
        s.set_ext_key(key);
    });
}

fn errno(e: i32) -> Errno {
    match e {
        111 => Errno::ECONNREFUSED,
        104 => Errno::ECONNRESET,
        110 => Errno::ETIMEDOUT,
        32 => Errno::EPIPE,
        _ => Errno::EIO,
    }
}
