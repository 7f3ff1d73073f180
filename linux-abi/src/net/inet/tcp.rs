//! TCP sockets.
//!
//! Local connections use the loopback transport: a connection is two byte queues (one per
//! direction) shared by the two sockets, with TCP's semantics — FIN (half-close: the peer
//! reads end of file and sees EPOLLRDHUP), RST (closing with unread data or `SO_LINGER`
//! 0: the peer gets ECONNRESET, then EPIPE on writes), `SO_ERROR` after a non-blocking
//! connect, TIME_WAIT for the side that closed first. Listeners keep a queue of
//! established connections bounded by the backlog; connectors beyond it wait.
//!
//! Writing to a peer that closed answers with a reset, as on Linux: the write succeeds,
//! the next one fails with ECONNRESET — or EPIPE when the peer's FIN had already arrived
//! (the reset comes in CLOSE_WAIT, where Linux sets EPIPE and reads keep giving end of
//! file) — and later ones with EPIPE. A connect after a non-blocking connect's
//! EINPROGRESS reports the outcome once (0), then EISCONN.

use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};

use rtos::sync::{SpinLock, WaitQueue};

use super::ports::{self, Binding, Proto};
use super::{Endpoint, Ip, IPPROTO_IPV6, IPPROTO_TCP};
use crate::errno::{Errno, SysResult};
use crate::fs::file::events;
use crate::net::addr::{SockAddr, AF_INET, AF_INET6};
use crate::net::socket::*;

/// Default receive window when the program did not set SO_RCVBUF (Linux autotunes
/// loopback buffers up to several MiB).
const DEFAULT_WINDOW: usize = 4 << 20;

pub const TCP_NODELAY: i32 = 1;
pub const TCP_MAXSEG: i32 = 2;
pub const TCP_CORK: i32 = 3;
pub const TCP_KEEPIDLE: i32 = 4;
pub const TCP_KEEPINTVL: i32 = 5;
pub const TCP_KEEPCNT: i32 = 6;
pub const TCP_INFO: i32 = 11;
pub const TCP_QUICKACK: i32 = 12;
pub const TCP_CONGESTION: i32 = 13;
pub const TCP_USER_TIMEOUT: i32 = 18;
pub const TCP_FASTOPEN: i32 = 23;
pub const TCP_NOTSENT_LOWAT: i32 = 25;

/// One direction of a connection.
#[derive(Default)]
struct Dir {
    data: VecDeque<u8>,
    /// The writer sent FIN.
    fin: bool,
    /// The reader shut down reading.
    rd_shut: bool,
    capacity: usize,
}

/// A local connection: `dir[i]` is read by side `i`.
struct Conn {
    dir: [SpinLock<Dir>; 2],
    wq: [Weak<WaitQueue>; 2],
    /// Side i was reset by its peer (reads ECONNRESET once).
    reset: [AtomicBool; 2],
    /// Side i's reset came after the peer's FIN (CLOSE_WAIT): reported as EPIPE, reads
    /// give end of file.
    reset_after_fin: [AtomicBool; 2],
    /// Side i's socket is gone.
    gone: [AtomicBool; 2],
    ends: [Endpoint; 2],
}

impl Conn {
    fn wake(&self, side: usize) {
        if let Some(w) = self.wq[side].upgrade() {
            w.wake_all();
        }
    }
}

enum State {
    Closed,
    Listen { backlog: usize, queue: VecDeque<Arc<TcpSocket>>, waiting: VecDeque<Weak<TcpSocket>> },
    /// A connect waiting for room in the listener's queue.
    Connecting { dst: Endpoint },
    Connected { conn: Arc<Conn>, side: usize },
}

/// A TCP socket.
pub struct TcpSocket {
    v6: bool,
    state: SpinLock<State>,
    wq: Arc<WaitQueue>,
    local: SpinLock<Option<Endpoint>>,
    error: AtomicI32,
    opts: SpinLock<TcpOpts>,
    me: Weak<TcpSocket>,
    /// Key of this socket's connection or listener in the NIC stack (`net::stack`); 0: none.
    ext: AtomicU64,
    /// Readiness of the external connection, kept current by the stack.
    ext_ready: AtomicU32,
    /// A connect was refused: the socket is shut down both ways (readable, writable, hung up).
    refused: AtomicBool,
    /// A non-blocking connect returned EINPROGRESS: the next connect reports its outcome.
    in_progress: AtomicBool,
}

#[derive(Clone, Copy, Debug)]
struct TcpOpts {
    nodelay: bool,
    cork: bool,
    v6only: bool,
    keepidle: i32,
    keepintvl: i32,
    keepcnt: i32,
    quickack: bool,
    ttl: i32,
    tos: i32,
    user_timeout: i32,
    notsent_lowat: i32,
    maxseg: i32,
    reuse_addr: bool,
    reuse_port: bool,
    rcvbuf: Option<usize>,
    linger_zero: bool,
}

impl Default for TcpOpts {
    fn default() -> Self {
        Self {
            nodelay: false,
            cork: false,
            v6only: false,
            keepidle: 7200,
            keepintvl: 75,
            keepcnt: 9,
            quickack: true,
            ttl: 64,
            tos: 0,
            user_timeout: 0,
            notsent_lowat: -1,
            maxseg: 536,
            reuse_addr: false,
            reuse_port: false,
            rcvbuf: None,
            linger_zero: false,
        }
    }
}

impl TcpSocket {
    /// An unbound socket (IPv6 if `v6`).
    pub fn new(v6: bool) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            v6,
            state: SpinLock::new(State::Closed),
            wq: Arc::new(WaitQueue::new()),
            local: SpinLock::new(None),
            error: AtomicI32::new(0),
            opts: SpinLock::new(TcpOpts::default()),
            me: me.clone(),
            ext: AtomicU64::new(0),
            ext_ready: AtomicU32::new(0),
            refused: AtomicBool::new(false),
            in_progress: AtomicBool::new(false),
        })
    }

    // ---- Used by the NIC stack (`net::stack`) for connections to other hosts.

    pub(crate) fn ext_key(&self) -> u64 {
        self.ext.load(Ordering::Acquire)
    }

    pub(crate) fn set_ext_key(&self, key: u64) {
        self.ext.store(key, Ordering::Release);
    }

    pub(crate) fn ext_ready(&self) -> u32 {
        self.ext_ready.load(Ordering::Acquire)
    }

    /// Stores the external connection's readiness; true when it changed.
    pub(crate) fn set_ext_ready(&self, ev: u32) -> bool {
        self.ext_ready.swap(ev, Ordering::AcqRel) != ev
    }

    pub(crate) fn weak(&self) -> Weak<TcpSocket> {
        self.me.clone()
    }

    pub(crate) fn wake(&self) {
        self.wq.wake_all();
    }

    pub(crate) fn is_v6(&self) -> bool {
        self.v6
    }

    pub(crate) fn v6only(&self) -> bool {
        self.opts.lock().v6only
    }

    pub(crate) fn nodelay(&self) -> bool {
        self.opts.lock().nodelay
    }

    pub(crate) fn set_local(&self, ep: Endpoint) {
        *self.local.lock() = Some(ep);
    }

    /// The local endpoint, binding an ephemeral port on the wildcard address if unbound.
    pub(crate) fn ensure_bound_any(&self) -> Result<Endpoint, Errno> {
        let cur = *self.local.lock();
        match cur {
            Some(l) => Ok(l),
            None => self.do_bind(Endpoint { ip: Ip::any(self.v6), port: 0 }),
        }
    }

    /// A socket for a connection this listener accepted from the network (stack key `key`).
    pub(crate) fn new_accepted_external(&self, local: Endpoint, key: u64) -> Arc<TcpSocket> {
        let s = TcpSocket::new(self.v6);
        *s.opts.lock() = TcpOpts { reuse_addr: false, reuse_port: false, ..*self.opts.lock() };
        *s.local.lock() = Some(local);
        s.ext.store(key, Ordering::Release);
        s
    }

    /// Queues an accepted connection; false when not listening or the backlog is full.
    pub(crate) fn push_accepted(&self, s: Arc<TcpSocket>) -> bool {
        let pushed = match &mut *self.state.lock() {
            State::Listen { backlog, queue, .. } if queue.len() <= *backlog => {
                queue.push_back(s);
                true
            }
            _ => false,
        };
        pushed
    }

    fn id(&self) -> usize {
        self as *const Self as usize
    }

    fn family(&self) -> u16 {
        if self.v6 { AF_INET6 } else { AF_INET }
    }

    fn binding(&self, ip: Ip) -> Binding {
        let o = *self.opts.lock();
        Binding { id: self.id(), ip, v6: self.v6, v6only: o.v6only, reuse_addr: o.reuse_addr, reuse_port: o.reuse_port, listening: false }
    }

    fn do_bind(&self, ep: Endpoint) -> Result<Endpoint, Errno> {
        if self.local.lock().is_some() {
            return Err(Errno::EINVAL);
        }
        if !ep.ip.is_local() {
            return Err(Errno::EADDRNOTAVAIL);
        }
        if !self.v6 && !ep.ip.is_v4() {
            return Err(Errno::EAFNOSUPPORT);
        }
        let port = ports::bind(Proto::Tcp, ep.port, self.binding(ep.ip))?;
        let bound = Endpoint { ip: ep.ip, port };
        *self.local.lock() = Some(bound);
        Ok(bound)
    }

    fn conn(&self) -> Option<(Arc<Conn>, usize)> {
        match &*self.state.lock() {
            State::Connected { conn, side } => Some((conn.clone(), *side)),
            _ => None,
        }
    }

    fn window(&self) -> usize {
        self.opts.lock().rcvbuf.unwrap_or(DEFAULT_WINDOW)
    }

    /// Creates the connection between `client` and a new socket accepted by `listener`.
    fn establish(client: &Arc<TcpSocket>, listener: &Arc<TcpSocket>, dst: Endpoint) -> Arc<TcpSocket> {
        let server = TcpSocket::new(listener.v6);
        *server.opts.lock() = TcpOpts { reuse_addr: false, reuse_port: false, ..*listener.opts.lock() };
        let local_ip = if dst.ip.is_unspecified() { if dst.ip.is_v4() { Ip::V4([127, 0, 0, 1]) } else { Ip::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) } } else { dst.ip };
        let server_ep = Endpoint { ip: local_ip, port: dst.port };
        *server.local.lock() = Some(server_ep);
        let client_ep = client.local.lock().unwrap_or(Endpoint { ip: local_ip, port: 0 });
        let conn = Arc::new(Conn {
            dir: [
                SpinLock::new(Dir { capacity: client.window(), ..Default::default() }),
                SpinLock::new(Dir { capacity: server.window(), ..Default::default() }),
            ],
            wq: [Arc::downgrade(&client.wq), Arc::downgrade(&server.wq)],
            reset: [AtomicBool::new(false), AtomicBool::new(false)],
            reset_after_fin: [AtomicBool::new(false), AtomicBool::new(false)],
            gone: [AtomicBool::new(false), AtomicBool::new(false)],
            ends: [client_ep, server_ep],
        });
        *client.state.lock() = State::Connected { conn: conn.clone(), side: 0 };
        *server.state.lock() = State::Connected { conn, side: 1 };
        server
    }

    /// Closes the connection side: FIN, or RST when unread data remains or linger is 0.
    fn close_conn(&self, conn: &Conn, side: usize) {
        let other = 1 - side;
        let unread = !conn.dir[side].lock().data.is_empty();
        let rst = unread || self.opts.lock().linger_zero;
        conn.gone[side].store(true, Ordering::Release);
        {
            let mut out = conn.dir[other].lock();
            out.fin = true;
        }
        {
            let mut inq = conn.dir[side].lock();
            inq.rd_shut = true;
            inq.data.clear();
        }
        if rst {
            conn.reset[other].store(true, Ordering::Release);
            conn.dir[other].lock().data.clear();
        } else if !conn.gone[other].load(Ordering::Acquire) {
            // We closed first: our port waits in TIME_WAIT.
            ports::enter_time_wait(conn.ends[side]);
        }
        conn.wake(other);
    }
}

impl Drop for TcpSocket {
    fn drop(&mut self) {
        let st = core::mem::replace(self.state.get_mut(), State::Closed);
        match st {
            State::Connected { conn, side } => self.close_conn(&conn, side),
            State::Listen { queue, waiting, .. } => {
                // Pending connections are reset; waiting connectors are refused.
                for s in queue {
                    if let Some((c, side)) = s.conn() {
                        c.reset[1 - side].store(true, Ordering::Release);
                        c.wake(1 - side);
                    }
                }
                for w in waiting.into_iter().filter_map(|w| w.upgrade()) {
                    w.error.store(Errno::ECONNREFUSED as i32, Ordering::Release);
                    w.refused.store(true, Ordering::Release);
                    *w.state.lock() = State::Closed;
                    w.wq.wake_all();
                }
            }
            _ => {}
        }
        let key = *self.ext.get_mut();
        if key != 0 {
            crate::net::stack::tcp_closed(key, self.opts.get_mut().linger_zero);
        }
        if let Some(l) = self.local.get_mut().take() {
            ports::unbind(Proto::Tcp, l.port, self.id());
        }
        LISTENERS.lock().remove(&(self as *const Self as usize));
    }
}

fn int(v: &[u8]) -> Result<i32, Errno> {
    if v.len() < 4 {
        return Err(Errno::EINVAL);
    }
    Ok(i32::from_le_bytes([v[0], v[1], v[2], v[3]]))
}

impl Socket for TcpSocket {
    fn family(&self) -> u16 {
        TcpSocket::family(self)
    }

    fn sock_type(&self) -> i32 {
        SOCK_STREAM
    }

    fn protocol(&self) -> i32 {
        IPPROTO_TCP
    }

    fn bind(&self, addr: SockAddr) -> Result<(), Errno> {
        let ep = Endpoint::from_sockaddr(self.family(), &addr)?;
        self.do_bind(ep).map(|_| ())
    }

    fn listen(&self, backlog: i32) -> Result<(), Errno> {
        let mut st = self.state.lock();
        match &mut *st {
            State::Closed => {}
            State::Listen { backlog: b, .. } => {
                *b = backlog.max(1) as usize;
                return Ok(());
            }
            _ => return Err(Errno::EINVAL),
        }
        drop(st);
        let bound = *self.local.lock();
        let local = match bound {
            Some(l) => l,
            None => self.do_bind(Endpoint { ip: Ip::any(self.v6), port: 0 })?,
        };
        ports::set_listening(Proto::Tcp, local.port, self.id(), true)?;
        *self.state.lock() = State::Listen { backlog: backlog.max(1) as usize, queue: VecDeque::new(), waiting: VecDeque::new() };
        self.register_listener();
        crate::net::stack::tcp_listen_external(self, local);
        Ok(())
    }

    fn accept(&self, b: Blocking) -> Result<(Arc<dyn Socket>, SockAddr), Errno> {
        let got = self
            .wq
            .wait(b.options(), || {
                let mut st = self.state.lock();
                match &mut *st {
                    State::Listen { queue, .. } => match queue.pop_front() {
                        Some(s) => Some(Ok(s)),
                        None if b.nonblock => Some(Err(Errno::EAGAIN)),
                        None => None,
                    },
                    _ => Some(Err(Errno::EINVAL)),
                }
            })
            .map_err(Blocking::wait_err)??;
        // Room freed: let a waiting connector in.
        let next = match &mut *self.state.lock() {
            State::Listen { waiting, .. } => waiting.pop_front(),
            _ => None,
        };
        if let (Some(w), Some(me)) = (next.and_then(|w| w.upgrade()), self.me.upgrade()) {
            let dst = match &*w.state.lock() {
                State::Connecting { dst, .. } => Some(*dst),
                _ => None,
            };
            if let Some(dst) = dst {
                let server = TcpSocket::establish(&w, &me, dst);
                if let State::Listen { queue, .. } = &mut *self.state.lock() {
                    queue.push_back(server);
                }
                w.wq.wake_all();
                self.wq.wake_all();
            }
        }
        let peer = got
            .conn()
            .map(|(c, side)| c.ends[1 - side])
            .or_else(|| crate::net::stack::tcp_peer_external(&got))
            .unwrap_or(Endpoint { ip: Ip::any(self.v6), port: 0 });
        Ok((got, peer.to_sockaddr(self.family())))
    }

    fn connect(&self, addr: SockAddr, b: Blocking) -> Result<(), Errno> {
        if addr == SockAddr::Unspec {
            return Err(Errno::EAFNOSUPPORT);
        }
        let dst = Endpoint::from_sockaddr(self.family(), &addr)?;
        match &*self.state.lock() {
            State::Connected { .. } if self.in_progress.swap(false, Ordering::AcqRel) => return Ok(()),
            State::Connected { .. } => return Err(Errno::EISCONN),
            State::Connecting { .. } => return Err(Errno::EALREADY),
            State::Listen { .. } => return Err(Errno::EISCONN),
            State::Closed => {}
        }
        if self.opts.lock().v6only && dst.ip.is_v4() {
            return Err(Errno::ENETUNREACH);
        }
        if !dst.ip.is_local() {
            // External destinations need the network stack.
            return crate::net::stack::tcp_connect_external(self, dst, b);
        }
        if dst.port == 0 {
            return Err(Errno::ECONNREFUSED);
        }
        self.refused.store(false, Ordering::Release);
        if self.local.lock().is_none() {
            self.do_bind(Endpoint { ip: dst.ip, port: 0 })?;
        }
        let me = self.me.upgrade().ok_or(Errno::EINVAL)?;
        let listener = ports::receivers(Proto::Tcp, dst, true)
            .into_iter()
            .find_map(|bd| super::tcp::find(bd.id));
        let Some(listener) = listener else {
            self.error.store(0, Ordering::Release);
            self.refused.store(true, Ordering::Release);
            return if b.nonblock {
                // Linux reports a refused loopback connect through SO_ERROR after EINPROGRESS.
                self.error.store(Errno::ECONNREFUSED as i32, Ordering::Release);
                self.refused.store(true, Ordering::Release);
                self.wq.wake_all();
                Err(Errno::EINPROGRESS)
            } else {
                Err(Errno::ECONNREFUSED)
            };
        };
        {
            let mut ls = listener.state.lock();
            match &mut *ls {
                State::Listen { backlog, queue, waiting } => {
                    if queue.len() < *backlog + 1 {
                        drop(ls);
                        let server = TcpSocket::establish(&me, &listener, dst);
                        if let State::Listen { queue, .. } = &mut *listener.state.lock() {
                            queue.push_back(server);
                        }
                        listener.wq.wake_all();
                        self.wq.wake_all();
                        if b.nonblock {
                            self.in_progress.store(true, Ordering::Release);
                            return Err(Errno::EINPROGRESS);
                        }
                        return Ok(());
                    }
                    waiting.push_back(self.me.clone());
                }
                _ => return Err(Errno::ECONNREFUSED),
            }
        }
        *self.state.lock() = State::Connecting { dst };
        if b.nonblock {
            self.in_progress.store(true, Ordering::Release);
            return Err(Errno::EINPROGRESS);
        }
        self.wq
            .wait(b.options(), || match &*self.state.lock() {
                State::Connecting { .. } => None,
                State::Connected { .. } => Some(Ok(())),
                _ => Some(Err(Errno::ECONNREFUSED)),
            })
            .map_err(Blocking::wait_err)?
    }

    fn shutdown(&self, how: i32) -> Result<(), Errno> {
        if let Some(r) = crate::net::stack::tcp_shutdown_external(self, how) {
            return r;
        }
        let (conn, side) = self.conn().ok_or(Errno::ENOTCONN)?;
        let other = 1 - side;
        if how == 0 || how == 2 {
            conn.dir[side].lock().rd_shut = true;
        }
        if how == 1 || how == 2 {
            conn.dir[other].lock().fin = true;
            conn.wake(other);
        }
        conn.wake(side);
        Ok(())
    }

    fn send(&self, out: Outgoing<'_>, b: Blocking) -> SysResult {
        if self.error.load(Ordering::Acquire) != 0 && self.conn().is_none() {
            let e = self.error.swap(0, Ordering::AcqRel);
            return Err(errno_from(e));
        }
        let (conn, side) = match self.conn() {
            Some(c) => c,
            None => {
                if let Some(r) = crate::net::stack::tcp_send_external(self, &out, b) {
                    return r;
                }
                return Err(if matches!(&*self.state.lock(), State::Connecting { .. }) { Errno::EAGAIN } else { Errno::EPIPE });
            }
        };
        let other = 1 - side;
        if out.data.is_empty() {
            return Ok(0);
        }
        let mut done = 0;
        loop {
            let r = self.wq.wait(b.options(), || {
                if conn.reset[side].swap(false, Ordering::AcqRel) {
                    return Some(Err(if conn.reset_after_fin[side].load(Ordering::Acquire) { Errno::EPIPE } else { Errno::ECONNRESET }));
                }
                let mut d = conn.dir[other].lock();
                if d.fin {
                    return Some(Err(Errno::EPIPE));
                }
                if conn.gone[other].load(Ordering::Acquire) || d.rd_shut {
                    // The peer is gone: this write is answered by a reset, which closes
                    // the connection both ways (later writes: EPIPE).
                    d.fin = true;
                    drop(d);
                    let had_fin = core::mem::replace(&mut conn.dir[side].lock().fin, true);
                    conn.reset_after_fin[side].store(had_fin, Ordering::Release);
                    conn.reset[side].store(true, Ordering::Release);
                    return Some(Ok(out.data.len() - done));
                }
                let room = d.capacity.saturating_sub(d.data.len());
                if room > 0 {
                    let n = room.min(out.data.len() - done);
                    d.data.extend(&out.data[done..done + n]);
                    crate::net::ifaces::count_loopback(n);
                    return Some(Ok(n));
                }
                if b.nonblock {
                    return Some(Err(Errno::EAGAIN));
                }
                None
            });
            match r {
                Ok(Ok(n)) => {
                    done += n;
                    conn.wake(other);
                    if done >= out.data.len() {
                        return Ok(done);
                    }
                }
                Ok(Err(e)) => return if done > 0 { Ok(done) } else { Err(e) },
                Err(e) => return if done > 0 { Ok(done) } else { Err(Blocking::wait_err(e)) },
            }
        }
    }

    fn recv(&self, max: usize, flags: u32, b: Blocking) -> Result<Incoming, Errno> {
        let (conn, side) = match self.conn() {
            Some(c) => c,
            None => {
                if let Some(r) = crate::net::stack::tcp_recv_external(self, max, flags, b) {
                    return r;
                }
                let e = self.error.swap(0, Ordering::AcqRel);
                if e != 0 {
                    return Err(errno_from(e));
                }
                return Err(Errno::ENOTCONN);
            }
        };
        let peek = flags & MSG_PEEK != 0;
        let waitall = flags & MSG_WAITALL != 0 && !peek;
        let mut acc = Vec::new();
        loop {
            let r = self.wq.wait(b.options(), || {
                let mut d = conn.dir[side].lock();
                if !d.data.is_empty() {
                    // Two slice copies (the ring's two halves), not a byte-by-byte
                    // iteration: this runs under the direction's lock.
                    let n = (max - acc.len()).min(d.data.len());
                    let mut chunk = Vec::with_capacity(n);
                    let (front, back) = d.data.as_slices();
                    let from_front = n.min(front.len());
                    chunk.extend_from_slice(&front[..from_front]);
                    chunk.extend_from_slice(&back[..n - from_front]);
                    if !peek {
                        d.data.drain(..n);
                    }
                    return Some(Ok(chunk));
                }
                if !conn.reset_after_fin[side].load(Ordering::Acquire) && conn.reset[side].swap(false, Ordering::AcqRel) {
                    return Some(Err(Errno::ECONNRESET));
                }
                if d.fin || d.rd_shut {
                    return Some(Ok(Vec::new()));
                }
                if b.nonblock {
                    return Some(Err(Errno::EAGAIN));
                }
                None
            });
            let chunk = match r {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return if acc.is_empty() { Err(e) } else { Ok(incoming(acc)) },
                Err(e) => return if acc.is_empty() { Err(Blocking::wait_err(e)) } else { Ok(incoming(acc)) },
            };
            let eof = chunk.is_empty();
            if !peek && !eof {
                conn.wake(1 - side);
            }
            if acc.is_empty() && (!waitall || eof || chunk.len() >= max) {
                return Ok(incoming(chunk)); // the common case: no second copy
            }
            acc.extend_from_slice(&chunk);
            if !waitall || eof || acc.len() >= max {
                return Ok(incoming(acc));
            }
        }
    }

    fn local_addr(&self) -> Result<SockAddr, Errno> {
        Ok(self.local.lock().unwrap_or(Endpoint { ip: Ip::any(self.v6), port: 0 }).to_sockaddr(self.family()))
    }

    fn peer_addr(&self) -> Result<SockAddr, Errno> {
        match self.conn() {
            Some((c, side)) => Ok(c.ends[1 - side].to_sockaddr(self.family())),
            None => crate::net::stack::tcp_peer_external(self).map(|e| e.to_sockaddr(self.family())).ok_or(Errno::ENOTCONN),
        }
    }

    fn poll(&self) -> u32 {
        let err = self.error.load(Ordering::Acquire) != 0;
        match &*self.state.lock() {
            State::Listen { queue, .. } => {
                if queue.is_empty() { 0 } else { events::POLLIN | events::POLLRDNORM }
            }
            State::Connecting { .. } => 0,
            State::Connected { conn, side } => {
                // Both directions, always locked in index order (the two ends poll at once).
                let (d0, d1) = (conn.dir[0].lock(), conn.dir[1].lock());
                let (mine, theirs) = if *side == 0 { (d0, d1) } else { (d1, d0) };
                let reset = conn.reset[*side].load(Ordering::Acquire);
                let read_closed = mine.fin || mine.rd_shut || reset;
                let write_closed = theirs.fin;
                let writable = !write_closed && theirs.data.len() < theirs.capacity;
                let mut ev = stream_events(!mine.data.is_empty(), writable || reset, read_closed, (mine.fin && write_closed) || reset, reset || err);
                if !mine.fin && !reset {
                    ev &= !events::POLLRDHUP;
                    if mine.rd_shut {
                        ev |= events::POLLRDHUP;
                    }
                }
                ev
            }
            State::Closed => {
                if let Some(ev) = crate::net::stack::tcp_poll_external(self) {
                    return ev;
                }
                // Never connected: writable and hung up (Linux's TCP_CLOSE); refused: also
                // shut down for reading (end of file, RDHUP), plus the error until it is read.
                let mut ev = events::POLLOUT | events::POLLWRNORM | events::POLLHUP;
                if self.refused.load(Ordering::Acquire) {
                    ev |= events::POLLIN | events::POLLRDNORM | events::POLLRDHUP;
                }
                if err {
                    ev |= events::POLLERR;
                }
                ev
            }
        }
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.wq
    }

    fn pending(&self) -> usize {
        if let Some(n) = crate::net::stack::tcp_pending_external(self) {
            return n;
        }
        self.conn().map_or(0, |(c, side)| c.dir[side].lock().data.len())
    }

    fn take_error(&self) -> i32 {
        if let Some(e) = crate::net::stack::tcp_take_error_external(self) {
            return e;
        }
        self.error.swap(0, Ordering::AcqRel)
    }

    fn is_listening(&self) -> bool {
        matches!(&*self.state.lock(), State::Listen { .. })
    }

    fn options_changed(&self, o: &SockOpts) {
        let mut t = self.opts.lock();
        t.reuse_addr = o.reuse_addr;
        t.reuse_port = o.reuse_port;
        t.linger_zero = o.linger == Some(0);
        if o.rcvbuf != SockOpts::default().rcvbuf {
            t.rcvbuf = Some(o.rcvbuf as usize);
        }
    }

    fn setsockopt(&self, level: i32, name: i32, v: &[u8]) -> Result<(), Errno> {
        let mut o = self.opts.lock();
        match (level, name) {
            (IPPROTO_TCP, TCP_NODELAY) => o.nodelay = int(v)? != 0,
            (IPPROTO_TCP, TCP_CORK) => o.cork = int(v)? != 0,
            (IPPROTO_TCP, TCP_QUICKACK) => o.quickack = int(v)? != 0,
            (IPPROTO_TCP, TCP_KEEPIDLE) => o.keepidle = positive(int(v)?, 32767)?,
            (IPPROTO_TCP, TCP_KEEPINTVL) => o.keepintvl = positive(int(v)?, 32767)?,
            (IPPROTO_TCP, TCP_KEEPCNT) => o.keepcnt = positive(int(v)?, 127)?,
            (IPPROTO_TCP, TCP_USER_TIMEOUT) => {
                let x = int(v)?;
                if x < 0 {
                    return Err(Errno::EINVAL);
                }
                o.user_timeout = x;
            }
            (IPPROTO_TCP, TCP_NOTSENT_LOWAT) => o.notsent_lowat = int(v)?,
            (IPPROTO_TCP, TCP_MAXSEG) => o.maxseg = int(v)?.clamp(88, 32767),
            (IPPROTO_TCP, TCP_FASTOPEN) => {
                int(v)?;
            }
            (IPPROTO_TCP, TCP_CONGESTION) => {
                let name = v.split(|&c| c == 0).next().unwrap_or(&[]);
                if name != b"cubic" && name != b"reno" {
                    return Err(Errno::ENOENT);
                }
            }
            (IPPROTO_IPV6, 26) if self.v6 => {
                // IPV6_V6ONLY: only before binding.
                if self.local.lock().is_some() {
                    return Err(Errno::EINVAL);
                }
                o.v6only = int(v)? != 0;
            }
            (0, 2) => o.ttl = { let t = int(v)?; if t == -1 { 64 } else if (1..=255).contains(&t) { t } else { return Err(Errno::EINVAL) } },
            (0, 1) => o.tos = int(v)? & 0xff,
            (IPPROTO_IPV6, 16) | (IPPROTO_IPV6, 67) => {
                int(v)?;
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    fn getsockopt(&self, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
        let o = *self.opts.lock();
        let i = |x: i32| Ok(x.to_le_bytes().to_vec());
        match (level, name) {
            (IPPROTO_TCP, TCP_NODELAY) => i(i32::from(o.nodelay)),
            (IPPROTO_TCP, TCP_CORK) => i(i32::from(o.cork)),
            (IPPROTO_TCP, TCP_QUICKACK) => i(i32::from(o.quickack)),
            (IPPROTO_TCP, TCP_KEEPIDLE) => i(o.keepidle),
            (IPPROTO_TCP, TCP_KEEPINTVL) => i(o.keepintvl),
            (IPPROTO_TCP, TCP_KEEPCNT) => i(o.keepcnt),
            (IPPROTO_TCP, TCP_USER_TIMEOUT) => i(o.user_timeout),
            (IPPROTO_TCP, TCP_NOTSENT_LOWAT) => i(o.notsent_lowat),
            (IPPROTO_TCP, TCP_MAXSEG) => i(if self.conn().is_some() { 65483 } else { o.maxseg }),
            (IPPROTO_TCP, TCP_CONGESTION) => Ok(b"cubic\0\0\0\0\0\0\0\0\0\0\0".to_vec()),
            (IPPROTO_IPV6, 26) if self.v6 => i(i32::from(o.v6only)),
            (0, 2) => i(o.ttl),
            (0, 1) => i(o.tos),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn positive(v: i32, max: i32) -> Result<i32, Errno> {
    if v < 1 || v > max {
        return Err(Errno::EINVAL);
    }
    Ok(v)
}

fn incoming(data: Vec<u8>) -> Incoming {
    let full_len = data.len();
    Incoming { data, full_len, from: None, rights: Vec::new(), creds: None }
}

fn errno_from(e: i32) -> Errno {
    match e {
        111 => Errno::ECONNREFUSED,
        104 => Errno::ECONNRESET,
        110 => Errno::ETIMEDOUT,
        113 => Errno::EHOSTUNREACH,
        101 => Errno::ENETUNREACH,
        _ => Errno::EIO,
    }
}

/// Listening sockets by binding id (the port table refers to sockets by id).
static LISTENERS: SpinLock<alloc::collections::BTreeMap<usize, Weak<TcpSocket>>> = SpinLock::new(alloc::collections::BTreeMap::new());

/// The listening socket with binding id `id`.
pub fn find(id: usize) -> Option<Arc<TcpSocket>> {
    LISTENERS.lock().get(&id).and_then(|w| w.upgrade())
}

impl TcpSocket {
    fn register_listener(&self) {
        LISTENERS.lock().insert(self.id(), self.me.clone());
    }
}
