//! The port table shared by TCP and UDP: which sockets are bound to which (address, port),
//! Linux's rules for sharing a port (`SO_REUSEADDR`, `SO_REUSEPORT`, wildcard versus
//! specific addresses, `IPV6_V6ONLY`, listening sockets), TIME_WAIT ports, and ephemeral
//! port selection (32768-60999, Linux's default range).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use rtos::sync::SpinLock;

use super::{Endpoint, Ip};
use crate::errno::Errno;

/// Transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

/// One binding.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    pub id: usize,
    pub ip: Ip,
    pub v6: bool,
    pub v6only: bool,
    pub reuse_addr: bool,
    pub reuse_port: bool,
    pub listening: bool,
}

#[derive(Default)]
struct Table {
    ports: BTreeMap<(Proto, u16), Vec<Binding>>,
    /// (port, address) pairs in TIME_WAIT until the deadline (ns).
    time_wait: Vec<(u16, Ip, u64)>,
    next_ephemeral: u16,
}

static TABLE: SpinLock<Table> = SpinLock::new(Table { ports: BTreeMap::new(), time_wait: Vec::new(), next_ephemeral: 0 });

/// Ephemeral port range (Linux `ip_local_port_range`).
pub const EPHEMERAL: (u16, u16) = (32768, 60999);
/// How long a closed connection's port stays in TIME_WAIT (Linux: 60 s).
pub const TIME_WAIT_NS: u64 = 60_000_000_000;

/// Whether binding `a` and `b` (same protocol and port) overlap in address.
fn overlap(a: &Binding, b: &Binding) -> bool {
    let (ai, bi) = (a.ip.canonical(), b.ip.canonical());
    let a_any = ai.is_unspecified();
    let b_any = bi.is_unspecified();
    // A v6only socket does not cover IPv4, an IPv4 socket does not cover IPv6.
    let a_covers_v4 = !a.v6 || !a.v6only;
    let b_covers_v4 = !b.v6 || !b.v6only;
    let a_covers_v6 = a.v6;
    let b_covers_v6 = b.v6;
    if a_any && b_any {
        return (a_covers_v4 && b_covers_v4) || (a_covers_v6 && b_covers_v6);
    }
    if a_any {
        return if bi.is_v4() { a_covers_v4 } else { a_covers_v6 };
    }
    if b_any {
        return if ai.is_v4() { b_covers_v4 } else { b_covers_v6 };
    }
    ai == bi
}

fn conflicts(existing: &Binding, new: &Binding, proto: Proto) -> bool {
    if !overlap(existing, new) {
        return false;
    }
    if existing.reuse_port && new.reuse_port {
        return false;
    }
    if existing.reuse_addr && new.reuse_addr && !(proto == Proto::Tcp && existing.listening) {
        return false;
    }
    true
}

/// Binds `b` to `port` (0: pick an ephemeral port); returns the port.
pub fn bind(proto: Proto, port: u16, b: Binding) -> Result<u16, Errno> {
    let now = rtos::time::now_ns();
    let mut t = TABLE.lock();
    t.time_wait.retain(|e| e.2 > now);
    let free = |t: &Table, p: u16| -> bool {
        let others = t.ports.get(&(proto, p)).map_or(&[][..], |v| v.as_slice());
        if others.iter().any(|o| conflicts(o, &b, proto)) {
            return false;
        }
        // A port in TIME_WAIT needs SO_REUSEADDR (TCP).
        proto == Proto::Udp || b.reuse_addr || !t.time_wait.iter().any(|&(tp, ip, _)| tp == p && overlap(&Binding { ip, ..b }, &b))
    };
    let port = if port == 0 {
        let (lo, hi) = EPHEMERAL;
        let span = u32::from(hi - lo) + 1;
        if t.next_ephemeral < lo || t.next_ephemeral > hi {
            t.next_ephemeral = lo + (rtos::time::now_ns() % u64::from(span)) as u16;
        }
        let mut found = None;
        for i in 0..span {
            let p = lo + ((u32::from(t.next_ephemeral - lo) + i) % span) as u16;
            // Ephemeral ports are not shared, even with reuse flags.
            if t.ports.get(&(proto, p)).is_none_or(|v| v.is_empty()) && free(&t, p) {
                found = Some(p);
                break;
            }
        }
        let p = found.ok_or(Errno::EADDRINUSE)?;
        t.next_ephemeral = if p == hi { lo } else { p + 1 };
        p
    } else {
        if !free(&t, port) {
            return Err(Errno::EADDRINUSE);
        }
        port
    };
    t.ports.entry((proto, port)).or_default().push(b);
    Ok(port)
}

/// Removes socket `id`'s binding of `port`.
pub fn unbind(proto: Proto, port: u16, id: usize) {
    let mut t = TABLE.lock();
    if let Some(v) = t.ports.get_mut(&(proto, port)) {
        v.retain(|b| b.id != id);
        if v.is_empty() {
            t.ports.remove(&(proto, port));
        }
    }
}

/// Marks socket `id` on `port` as listening (or not).
pub fn set_listening(proto: Proto, port: u16, id: usize, on: bool) -> Result<(), Errno> {
    let mut t = TABLE.lock();
    let v = t.ports.get_mut(&(proto, port)).ok_or(Errno::EINVAL)?;
    let me = *v.iter().find(|b| b.id == id).ok_or(Errno::EINVAL)?;
    if on && v.iter().any(|o| o.id != id && o.listening && overlap(o, &me) && !(o.reuse_port && me.reuse_port)) {
        return Err(Errno::EADDRINUSE);
    }
    if let Some(b) = v.iter_mut().find(|b| b.id == id) {
        b.listening = on;
    }
    Ok(())
}

/// Records that a connection from `local` entered TIME_WAIT.
pub fn enter_time_wait(local: Endpoint) {
    let deadline = rtos::time::now_ns() + TIME_WAIT_NS;
    TABLE.lock().time_wait.push((local.port, local.ip, deadline));
}

/// The bindings of `port` that receive traffic for `dst` (best match first: specific
/// address before wildcard).
pub fn receivers(proto: Proto, dst: Endpoint, listening_only: bool) -> Vec<Binding> {
    let t = TABLE.lock();
    let Some(v) = t.ports.get(&(proto, dst.port)) else { return Vec::new() };
    let ip = dst.ip.canonical();
    let accepts = |b: &Binding| {
        if listening_only && !b.listening {
            return false;
        }
        let bi = b.ip.canonical();
        if bi.is_unspecified() {
            if ip.is_v4() { !b.v6 || !b.v6only } else { b.v6 }
        } else {
            bi == ip
        }
    };
    let mut out: Vec<Binding> = v.iter().filter(|b| accepts(b) && !b.ip.canonical().is_unspecified()).copied().collect();
    out.extend(v.iter().filter(|b| accepts(b) && b.ip.canonical().is_unspecified()).copied());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(id: usize, ip: Ip, reuse: bool) -> Binding {
        Binding { id, ip, v6: matches!(ip, Ip::V6(_)), v6only: false, reuse_addr: reuse, reuse_port: false, listening: false }
    }

    #[test]
    fn overlap_rules() {
        let any4 = b(1, Ip::V4([0; 4]), false);
        let lo4 = b(2, Ip::V4([127, 0, 0, 1]), false);
        let other4 = b(3, Ip::V4([10, 0, 2, 15]), false);
        let any6 = b(4, Ip::V6([0; 16]), false);
        assert!(overlap(&any4, &lo4));
        assert!(!overlap(&lo4, &other4));
        assert!(overlap(&any6, &lo4), "a dual-stack wildcard covers IPv4");
        let any6only = Binding { v6only: true, ..any6 };
        assert!(!overlap(&any6only, &lo4));
        assert!(!overlap(&any6only, &any4));
    }

    #[test]
    fn reuse_rules() {
        let a = b(1, Ip::V4([0; 4]), true);
        let c = b(2, Ip::V4([0; 4]), true);
        assert!(!conflicts(&a, &c, Proto::Tcp), "both SO_REUSEADDR");
        let listening = Binding { listening: true, ..a };
        assert!(conflicts(&listening, &c, Proto::Tcp), "not over a listener");
        assert!(!conflicts(&listening, &c, Proto::Udp));
        let plain = b(3, Ip::V4([0; 4]), false);
        assert!(conflicts(&a, &plain, Proto::Tcp));
        let rp1 = Binding { reuse_port: true, ..plain };
        let rp2 = Binding { id: 4, reuse_port: true, listening: true, ..plain };
        assert!(!conflicts(&rp2, &rp1, Proto::Tcp), "SO_REUSEPORT shares even a listener");
    }
}
