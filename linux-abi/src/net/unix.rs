//! Unix-domain sockets: stream, seqpacket and datagram; socketpair; binding to filesystem
//! paths (a socket inode is created) and abstract names; passing descriptors
//! (`SCM_RIGHTS`) and credentials (`SCM_CREDENTIALS`, `SO_PEERCRED`).
//!
//! A connection is two directed queues of segments. Each endpoint has its own wait
//! queue (so epoll can watch a socket before it connects); every change wakes the
//! endpoint whose readiness changed.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;

use rtos::sync::{SpinLock, WaitQueue};

use super::addr::{SockAddr, AF_UNIX};
use super::socket::*;
use crate::errno::{Errno, SysResult};
use crate::fs::file::{events, File};
use crate::fs::path::{self, Follow};
use crate::fs::vfs::FileType;

/// Receive capacity of a direction (Linux's default socket buffer, bytes).
const CAPACITY: usize = 212_992;
/// Datagrams queued per socket before senders block (Linux `max_dgram_qlen`).
const MAX_DGRAMS: usize = 512;

struct Segment {
    data: Vec<u8>,
    from: Option<SockAddr>,
    rights: Vec<Arc<File>>,
    creds: Option<Ucred>,
}

/// One direction of a connection (or a datagram socket's receive queue).
#[derive(Default)]
struct Queue {
    segs: VecDeque<Segment>,
    bytes: usize,
    /// No more data will come (writer shut down or gone).
    write_closed: bool,
    /// The reader is gone or shut down: writes fail with EPIPE.
    read_closed: bool,
}

impl Queue {
    fn full(&self, dgram: bool) -> bool {
        if dgram {
            self.segs.len() >= MAX_DGRAMS
        } else {
            self.bytes >= CAPACITY
        }
    }
}

/// A connection between two endpoints: `q[i]` is read by endpoint `i`.
struct Conn {
    q: [SpinLock<Queue>; 2],
    wq: [Weak<WaitQueue>; 2],
    addr: [SpinLock<Option<SockAddr>>; 2],
    creds: [Ucred; 2],
}

impl Conn {
    fn wake(&self, side: usize) {
        if let Some(w) = self.wq[side].upgrade() {
            w.wake_all();
        }
    }
}

enum State {
    Unconnected,
    Listening { backlog: usize, pending: VecDeque<Arc<UnixSocket>> },
    Connected { conn: Arc<Conn>, side: usize },
    /// A connected datagram socket's default destination.
    DgramPeer(Weak<UnixSocket>),
}

/// A Unix-domain socket.
pub struct UnixSocket {
    ty: i32,
    state: SpinLock<State>,
    wq: Arc<WaitQueue>,
    bound: SpinLock<Option<SockAddr>>,
    /// Datagram sockets: the receive queue.
    rx: SpinLock<Queue>,
    /// Who listens (for SO_PEERCRED of connecting clients).
    listen_creds: SpinLock<Ucred>,
    me: Weak<UnixSocket>,
}

static ABSTRACT: SpinLock<BTreeMap<Vec<u8>, Weak<UnixSocket>>> = SpinLock::new(BTreeMap::new());
static PATHS: SpinLock<BTreeMap<(u64, u64), Weak<UnixSocket>>> = SpinLock::new(BTreeMap::new());

impl UnixSocket {
    fn new(ty: i32) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            ty,
            state: SpinLock::new(State::Unconnected),
            wq: Arc::new(WaitQueue::new()),
            bound: SpinLock::new(None),
            rx: SpinLock::new(Queue::default()),
            listen_creds: SpinLock::new(Ucred::default()),
            me: me.clone(),
        })
    }

    fn dgram(&self) -> bool {
        self.ty == SOCK_DGRAM
    }

    fn conn(&self) -> Option<(Arc<Conn>, usize)> {
        match &*self.state.lock() {
            State::Connected { conn, side } => Some((conn.clone(), *side)),
            _ => None,
        }
    }

    fn autobind(&self) {
        let mut b = self.bound.lock();
        if b.is_none() {
            let name = format!("{:05x}", (rtos::time::now_ns() ^ (self as *const _ as u64)) & 0xfffff).into_bytes();
            ABSTRACT.lock().insert(name.clone(), self.me.clone());
            *b = Some(SockAddr::UnixAbstract(name));
        }
    }
}

/// Finds the socket bound to `addr`.
fn lookup(addr: &SockAddr) -> Result<Arc<UnixSocket>, Errno> {
    match addr {
        SockAddr::UnixAbstract(n) => ABSTRACT.lock().get(n).and_then(|w| w.upgrade()).ok_or(Errno::ECONNREFUSED),
        SockAddr::UnixPath(p) => {
            let p = core::str::from_utf8(p).map_err(|_| Errno::ENOENT)?;
            let (root, cwd) = {
                let fs = crate::process::current_task().fs();
                let f = fs.lock();
                (f.root.clone(), f.cwd.clone())
            };
            let loc = path::resolve(&root, &cwd, p, Follow::Yes)?;
            if loc.inode().kind() != FileType::Socket {
                return Err(Errno::ECONNREFUSED);
            }
            let id = crate::fs::vfs::identity(loc.inode().as_ref());
            PATHS.lock().get(&id).and_then(|w| w.upgrade()).ok_or(Errno::ECONNREFUSED)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// A new unconnected socket of `ty`.
pub fn create(ty: i32, proto: i32) -> Result<Arc<dyn Socket>, Errno> {
    if proto != 0 && proto != 1 {
        return Err(Errno::EPROTONOSUPPORT);
    }
    match ty {
        SOCK_STREAM | SOCK_DGRAM | SOCK_SEQPACKET => Ok(UnixSocket::new(ty)),
        SOCK_RAW => Err(Errno::EPROTONOSUPPORT),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

fn connect_pair(a: &Arc<UnixSocket>, b: &Arc<UnixSocket>, ca: Ucred, cb: Ucred) {
    let conn = Arc::new(Conn {
        q: [SpinLock::new(Queue::default()), SpinLock::new(Queue::default())],
        wq: [Arc::downgrade(&a.wq), Arc::downgrade(&b.wq)],
        addr: [SpinLock::new(a.bound.lock().clone()), SpinLock::new(b.bound.lock().clone())],
        creds: [ca, cb],
    });
    *a.state.lock() = State::Connected { conn: conn.clone(), side: 0 };
    *b.state.lock() = State::Connected { conn, side: 1 };
}

/// `socketpair(AF_UNIX, ty, proto)`.
pub fn pair(ty: i32, proto: i32) -> Result<(Arc<dyn Socket>, Arc<dyn Socket>), Errno> {
    if proto != 0 && proto != 1 {
        return Err(Errno::EPROTONOSUPPORT);
    }
    if !matches!(ty, SOCK_STREAM | SOCK_DGRAM | SOCK_SEQPACKET) {
        return Err(Errno::EOPNOTSUPP);
    }
    let (a, b) = (UnixSocket::new(ty), UnixSocket::new(ty));
    let c = my_creds();
    if ty == SOCK_DGRAM {
        *a.state.lock() = State::DgramPeer(Arc::downgrade(&b));
        *b.state.lock() = State::DgramPeer(Arc::downgrade(&a));
    } else {
        connect_pair(&a, &b, c, c);
    }
    Ok((a, b))
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        if let Some(addr) = self.bound.get_mut().take() {
            match addr {
                SockAddr::UnixAbstract(n) => {
                    ABSTRACT.lock().remove(&n);
                }
                SockAddr::UnixPath(_) => PATHS.lock().retain(|_, w| w.strong_count() > 0),
                _ => {}
            }
        }
        let st = core::mem::replace(self.state.get_mut(), State::Unconnected);
        match st {
            State::Connected { conn, side } => {
                let other = 1 - side;
                {
                    let mut mine = conn.q[side].lock();
                    mine.read_closed = true;
                    mine.write_closed = true;
                    mine.segs.clear();
                }
                {
                    let mut theirs = conn.q[other].lock();
                    theirs.write_closed = true;
                    theirs.read_closed = true;
                }
                conn.wake(other);
            }
            State::Listening { pending, .. } => drop(pending),
            _ => {}
        }
    }
}

fn take_stream(q: &mut Queue, max: usize, peek: bool) -> Incoming {
    let mut out = Incoming::default();
    let mut i = 0;
    let mut started = false;
    while out.data.len() < max && i < q.segs.len() {
        let seg = &q.segs[i];
        // One read never joins data across passed descriptors or different writers
        // (Linux `unix_stream_read_generic`: `unix_skb_scm_eq`).
        if started && (!seg.rights.is_empty() || seg.creds != out.creds) {
            break;
        }
        started = true;
        let n = (max - out.data.len()).min(seg.data.len());
        out.data.extend_from_slice(&seg.data[..n]);
        out.creds = seg.creds;
        let stop = !seg.rights.is_empty();
        if peek && stop {
            out.rights = seg.rights.clone();
        }
        if peek {
            i += 1;
        } else if n == seg.data.len() {
            let s = q.segs.pop_front().unwrap_or_else(|| Segment { data: Vec::new(), from: None, rights: Vec::new(), creds: None });
            if !s.rights.is_empty() {
                out.rights = s.rights;
            }
        } else {
            let s = &mut q.segs[0];
            s.data.drain(..n);
            if !s.rights.is_empty() {
                out.rights = core::mem::take(&mut s.rights);
            }
        }
        if !peek {
            q.bytes -= n;
        }
        if stop {
            break;
        }
    }
    out.full_len = out.data.len();
    out
}

fn take_record(q: &mut Queue, max: usize, peek: bool) -> Option<Incoming> {
    let seg = if peek {
        let s = q.segs.front()?;
        Segment { data: s.data.clone(), from: s.from.clone(), rights: s.rights.clone(), creds: s.creds }
    } else {
        let s = q.segs.pop_front()?;
        q.bytes -= s.data.len();
        s
    };
    let full = seg.data.len();
    let mut data = seg.data;
    data.truncate(max);
    Some(Incoming { data, full_len: full, from: seg.from, rights: seg.rights, creds: seg.creds })
}

impl Socket for UnixSocket {
    fn family(&self) -> u16 {
        AF_UNIX
    }

    fn sock_type(&self) -> i32 {
        self.ty
    }

    fn bind(&self, addr: SockAddr) -> Result<(), Errno> {
        let mut b = self.bound.lock();
        if b.is_some() {
            return Err(Errno::EINVAL);
        }
        match &addr {
            SockAddr::UnixUnnamed => {
                drop(b);
                self.autobind();
                Ok(())
            }
            SockAddr::UnixAbstract(n) => {
                let mut t = ABSTRACT.lock();
                if t.get(n).is_some_and(|w| w.strong_count() > 0) {
                    return Err(Errno::EADDRINUSE);
                }
                t.insert(n.clone(), self.me.clone());
                *b = Some(addr);
                Ok(())
            }
            SockAddr::UnixPath(p) => {
                let p = core::str::from_utf8(p).map_err(|_| Errno::EINVAL)?;
                let (root, cwd, umask) = {
                    let fs = crate::process::current_task().fs();
                    let f = fs.lock();
                    (f.root.clone(), f.cwd.clone(), f.umask)
                };
                let (dir, name) = path::resolve_parent(&root, &cwd, p)?;
                let inode = match dir.inode().create(&name, FileType::Socket, 0o777 & !umask, 0) {
                    Err(Errno::EEXIST) => return Err(Errno::EADDRINUSE),
                    other => other?,
                };
                PATHS.lock().insert(crate::fs::vfs::identity(inode.as_ref()), self.me.clone());
                *b = Some(addr);
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn listen(&self, backlog: i32) -> Result<(), Errno> {
        if self.dgram() {
            return Err(Errno::EOPNOTSUPP);
        }
        // No listening on an unbound socket (Linux `unix_listen`).
        if self.bound.lock().is_none() {
            return Err(Errno::EINVAL);
        }
        let mut st = self.state.lock();
        match &mut *st {
            State::Unconnected => {
                *st = State::Listening { backlog: backlog.max(0) as usize, pending: VecDeque::new() };
                *self.listen_creds.lock() = my_creds();
                Ok(())
            }
            State::Listening { backlog: b, .. } => {
                *b = backlog.max(0) as usize;
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn accept(&self, b: Blocking) -> Result<(Arc<dyn Socket>, SockAddr), Errno> {
        if self.dgram() {
            return Err(Errno::EOPNOTSUPP);
        }
        let got = self
            .wq
            .wait(b.options(), || {
                let mut st = self.state.lock();
                match &mut *st {
                    State::Listening { pending, .. } => match pending.pop_front() {
                        Some(s) => Some(Ok(s)),
                        None if b.nonblock => Some(Err(Errno::EAGAIN)),
                        None => None,
                    },
                    _ => Some(Err(Errno::EINVAL)),
                }
            })
            .map_err(Blocking::wait_err)??;
        let peer = got.conn().and_then(|(c, side)| c.addr[1 - side].lock().clone()).unwrap_or(SockAddr::UnixUnnamed);
        Ok((got, peer))
    }

    fn connect(&self, addr: SockAddr, b: Blocking) -> Result<(), Errno> {
        if self.dgram() {
            if addr == SockAddr::Unspec {
                *self.state.lock() = State::Unconnected;
                return Ok(());
            }
            let peer = lookup(&addr)?;
            if !peer.dgram() {
                return Err(Errno::EPROTOTYPE);
            }
            *self.state.lock() = State::DgramPeer(Arc::downgrade(&peer));
            return Ok(());
        }
        match &*self.state.lock() {
            State::Connected { .. } => return Err(Errno::EISCONN),
            State::Listening { .. } => return Err(Errno::EINVAL),
            _ => {}
        }
        let listener = lookup(&addr)?;
        if listener.ty != self.ty {
            return Err(Errno::EPROTOTYPE);
        }
        let server_side = UnixSocket::new(self.ty);
        *server_side.bound.lock() = listener.bound.lock().clone();
        let lcreds = *listener.listen_creds.lock();
        // Wait for room in the listener's backlog.
        listener
            .wq
            .wait(b.options(), || {
                let st = listener.state.lock();
                match &*st {
                    State::Listening { backlog, pending } => {
                        if pending.len() <= *backlog {
                            Some(Ok(()))
                        } else if b.nonblock {
                            Some(Err(Errno::EAGAIN))
                        } else {
                            None
                        }
                    }
                    _ => Some(Err(Errno::ECONNREFUSED)),
                }
            })
            .map_err(Blocking::wait_err)??;
        let me = self.me.upgrade().ok_or(Errno::EINVAL)?;
        connect_pair(&me, &server_side, lcreds, my_creds());
        // The client's view: its peer address is the listener's address.
        if let Some((conn, side)) = me.conn() {
            *conn.addr[1 - side].lock() = listener.bound.lock().clone();
        }
        match &mut *listener.state.lock() {
            State::Listening { pending, .. } => pending.push_back(server_side),
            _ => return Err(Errno::ECONNREFUSED),
        }
        listener.wq.wake_all();
        self.wq.wake_all();
        Ok(())
    }

    fn shutdown(&self, how: i32) -> Result<(), Errno> {
        let (conn, side) = self.conn().ok_or(Errno::ENOTCONN)?;
        let other = 1 - side;
        if how == 0 || how == 2 {
            conn.q[side].lock().read_closed = true;
            conn.wake(other);
        }
        if how == 1 || how == 2 {
            conn.q[other].lock().write_closed = true;
            conn.wake(other);
        }
        conn.wake(side);
        Ok(())
    }

    fn send(&self, out: Outgoing<'_>, b: Blocking) -> SysResult {
        if self.dgram() {
            return self.send_dgram(out, b);
        }
        if out.to.is_some() && self.conn().is_none() {
            return Err(Errno::EOPNOTSUPP);
        }
        let (conn, side) = self.conn().ok_or(Errno::ENOTCONN)?;
        let other = 1 - side;
        let record = self.ty == SOCK_SEQPACKET;
        if record && out.data.len() > CAPACITY {
            return Err(Errno::EMSGSIZE);
        }
        let mut rights = out.rights;
        // Every segment carries its writer's credentials (for SO_PASSCRED receivers).
        let creds = Some(out.creds.unwrap_or_else(my_creds));
        let mut done = 0;
        loop {
            let r = self.wq.wait(b.options(), || {
                let mut q = conn.q[other].lock();
                if q.read_closed || q.write_closed {
                    return Some(Err(Errno::EPIPE));
                }
                if !record && out.data.is_empty() {
                    // A stream sends nothing for zero bytes (a reader would see EOF).
                    return Some(Ok(0));
                }
                let room = CAPACITY.saturating_sub(q.bytes);
                let need = if record { out.data.len().max(1) } else { 1 };
                if room >= need || (q.bytes == 0 && room > 0) {
                    let n = if record { out.data.len() } else { (out.data.len() - done).min(room) };
                    let chunk = out.data[done..done + n].to_vec();
                    q.bytes += chunk.len();
                    q.segs.push_back(Segment { data: chunk, from: None, rights: core::mem::take(&mut rights), creds });
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
                    if record || done >= out.data.len() {
                        return Ok(done);
                    }
                }
                Ok(Err(e)) => return if done > 0 { Ok(done) } else { Err(e) },
                Err(e) => return if done > 0 { Ok(done) } else { Err(Blocking::wait_err(e)) },
            }
        }
    }

    fn recv(&self, max: usize, flags: u32, b: Blocking) -> Result<Incoming, Errno> {
        if self.dgram() {
            return self.recv_dgram(max, flags, b);
        }
        let (conn, side) = self.conn().ok_or(if matches!(&*self.state.lock(), State::Listening { .. }) { Errno::EINVAL } else { Errno::ENOTCONN })?;
        let peek = flags & MSG_PEEK != 0;
        let record = self.ty == SOCK_SEQPACKET;
        let waitall = flags & MSG_WAITALL != 0 && !record && !peek;
        let mut acc = Incoming::default();
        loop {
            let r = self.wq.wait(b.options(), || {
                let mut q = conn.q[side].lock();
                if !q.segs.is_empty() {
                    let got = if record { take_record(&mut q, max, peek).unwrap_or_default() } else { take_stream(&mut q, max - acc.data.len(), peek) };
                    return Some(Ok(got));
                }
                if q.write_closed || q.read_closed {
                    return Some(Ok(Incoming::default()));
                }
                if b.nonblock {
                    return Some(Err(Errno::EAGAIN));
                }
                None
            });
            let got = match r {
                Ok(Ok(g)) => g,
                Ok(Err(e)) => return if acc.data.is_empty() { Err(e) } else { Ok(acc) },
                Err(e) => return if acc.data.is_empty() { Err(Blocking::wait_err(e)) } else { Ok(acc) },
            };
            let eof = got.data.is_empty() && got.rights.is_empty() && got.creds.is_none();
            if !peek {
                conn.wake(1 - side);
            }
            acc.data.extend_from_slice(&got.data);
            acc.full_len = if record { got.full_len } else { acc.data.len() };
            acc.rights.extend(got.rights);
            if got.creds.is_some() {
                acc.creds = got.creds;
            }
            if !waitall || eof || acc.data.len() >= max || !acc.rights.is_empty() {
                acc.from = conn.addr[1 - side].lock().clone();
                return Ok(acc);
            }
        }
    }

    fn local_addr(&self) -> Result<SockAddr, Errno> {
        Ok(self.bound.lock().clone().unwrap_or(SockAddr::UnixUnnamed))
    }

    fn peer_addr(&self) -> Result<SockAddr, Errno> {
        match &*self.state.lock() {
            State::Connected { conn, side } => Ok(conn.addr[1 - side].lock().clone().unwrap_or(SockAddr::UnixUnnamed)),
            State::DgramPeer(w) => w.upgrade().map(|p| p.bound.lock().clone().unwrap_or(SockAddr::UnixUnnamed)).ok_or(Errno::ENOTCONN),
            _ => Err(Errno::ENOTCONN),
        }
    }

    fn poll(&self) -> u32 {
        if self.dgram() {
            let q = self.rx.lock();
            let mut ev = 0;
            if !q.segs.is_empty() {
                ev |= events::POLLIN | events::POLLRDNORM;
            }
            let peer_full = match &*self.state.lock() {
                State::DgramPeer(w) => w.upgrade().is_some_and(|p| p.rx.lock().full(true)),
                _ => false,
            };
            if !peer_full {
                ev |= events::POLLOUT | events::POLLWRNORM;
            }
            return ev;
        }
        match &*self.state.lock() {
            State::Listening { pending, .. } => {
                if pending.is_empty() {
                    0
                } else {
                    events::POLLIN | events::POLLRDNORM
                }
            }
            State::Connected { conn, side } => {
                let (mine, theirs) = (conn.q[*side].lock(), conn.q[1 - *side].lock());
                let hup = mine.write_closed && theirs.write_closed;
                let writable = !theirs.read_closed && !theirs.write_closed && theirs.bytes < CAPACITY;
                stream_events(!mine.segs.is_empty(), writable, mine.write_closed || mine.read_closed, hup, false)
            }
            _ => events::POLLOUT | events::POLLWRNORM | events::POLLHUP,
        }
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.wq
    }

    fn pending(&self) -> usize {
        if self.dgram() {
            return self.rx.lock().segs.front().map_or(0, |s| s.data.len());
        }
        self.conn().map_or(0, |(c, side)| c.q[side].lock().bytes)
    }

    fn is_listening(&self) -> bool {
        matches!(&*self.state.lock(), State::Listening { .. })
    }

    fn peer_creds(&self) -> Option<Ucred> {
        self.conn().map(|(c, side)| c.creds[side])
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl UnixSocket {
    fn send_dgram(&self, out: Outgoing<'_>, b: Blocking) -> SysResult {
        if out.data.len() > CAPACITY {
            return Err(Errno::EMSGSIZE);
        }
        let target = match &out.to {
            Some(a) => {
                let t = lookup(a)?;
                if !t.dgram() {
                    return Err(Errno::EPROTOTYPE);
                }
                t
            }
            None => {
                let mut st = self.state.lock();
                match &*st {
                    State::DgramPeer(w) => match w.upgrade() {
                        Some(p) => p,
                        None => {
                            // The peer is gone: refused once, then disconnected
                            // (Linux `unix_dgram_sendmsg` clears the peer).
                            *st = State::Unconnected;
                            return Err(Errno::ECONNREFUSED);
                        }
                    },
                    _ => return Err(Errno::ENOTCONN),
                }
            }
        };
        let from = self.bound.lock().clone();
        let creds = Some(out.creds.unwrap_or_else(my_creds));
        let mut seg = Some(Segment { data: out.data.to_vec(), from, rights: out.rights, creds });
        target
            .wq
            .wait(b.options(), || {
                let mut q = target.rx.lock();
                if q.read_closed {
                    return Some(Err(Errno::ECONNREFUSED));
                }
                if q.full(true) {
                    return if b.nonblock { Some(Err(Errno::EAGAIN)) } else { None };
                }
                let s = seg.take()?;
                q.bytes += s.data.len();
                q.segs.push_back(s);
                Some(Ok(()))
            })
            .map_err(Blocking::wait_err)??;
        target.wq.wake_all();
        Ok(out.data.len())
    }

    fn recv_dgram(&self, max: usize, flags: u32, b: Blocking) -> Result<Incoming, Errno> {
        let peek = flags & MSG_PEEK != 0;
        let got = self
            .wq
            .wait(b.options(), || {
                let mut q = self.rx.lock();
                match take_record(&mut q, max, peek) {
                    Some(r) => Some(Ok(r)),
                    None if b.nonblock => Some(Err(Errno::EAGAIN)),
                    None => None,
                }
            })
            .map_err(Blocking::wait_err)??;
        // Senders blocked on a full queue may continue.
        self.wq.wake_all();
        Ok(got)
    }
}
