//! `netext`: sockets to and from another host (run with a host helper, see tests/net/).
//!
//! `netext out HOST PORT` (suite `netext`): the echo server of `tests/net/echo_server.py`
//! listens on HOST:PORT (the host itself natively; QEMU's host 10.0.2.2 from Axle):
//! - `tcp_echo`: connect, 50 lines echoed, getsockname/getpeername agree with the route;
//! - `tcp_large`: 4 MiB sent and echoed back with a half-close (shutdown(SHUT_WR)) ending it;
//! - `nonblocking_connect`: EINPROGRESS, then poll gives POLLOUT and SO_ERROR is 0;
//! - `connect_refused`: a port nobody listens on gives ECONNREFUSED (blocking), and
//!   SO_ERROR ECONNREFUSED after a non-blocking connect;
//! - `udp_echo`: datagrams to the server come back from its address.
//!
//! `netext serve PORT`: listens on 0.0.0.0:PORT, echoes one connection until its end of
//! file (the host helper `client.py` connects through a forwarded port), prints `echoed N
//! bytes` and exits 0 when N > 1 MiB.

use checks::{ensure, ensure_eq, CheckResult, Suite};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("out") if args.len() == 4 => outbound(&args[2], args[3].parse().expect("port")),
        Some("serve") if args.len() == 3 => serve(args[2].parse().expect("port")),
        _ => {
            eprintln!("usage: netext out HOST PORT | netext serve PORT");
            std::process::exit(2);
        }
    }
}

fn outbound(host: &str, port: u16) {
    let server: SocketAddr = format!("{host}:{port}").parse().expect("address");
    let mut s = Suite::new("netext");
    s.check("tcp_echo", || tcp_echo(server));
    s.check("tcp_large", || tcp_large(server));
    s.check("nonblocking_connect", || nonblocking_connect(server));
    s.check("connect_refused", || connect_refused(server));
    s.check("udp_echo", || udp_echo(server));
    s.finish();
}

fn tcp_echo(server: SocketAddr) -> CheckResult {
    let mut c = TcpStream::connect(server).map_err(|e| format!("connect {server}: {e}"))?;
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.set_nodelay(true).map_err(|e| e.to_string())?;
    ensure_eq!(c.peer_addr().map_err(|e| e.to_string())?, server, "getpeername");
    let local = c.local_addr().map_err(|e| e.to_string())?;
    ensure!(!local.ip().is_unspecified() && local.port() != 0, "getsockname gave {local}");
    for i in 0..50 {
        let msg = format!("message {i} to the host\n");
        c.write_all(msg.as_bytes()).map_err(|e| e.to_string())?;
        let mut got = vec![0u8; msg.len()];
        c.read_exact(&mut got).map_err(|e| format!("reading echo {i}: {e}"))?;
        ensure_eq!(String::from_utf8_lossy(&got), msg.as_str());
    }
    Ok(())
}

fn tcp_large(server: SocketAddr) -> CheckResult {
    let c = TcpStream::connect(server).map_err(|e| format!("connect: {e}"))?;
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let mut w = c.try_clone().map_err(|e| e.to_string())?;
    let to_send = data.clone();
    let writer = std::thread::spawn(move || -> Result<(), String> {
        w.write_all(&to_send).map_err(|e| format!("write: {e}"))?;
        w.shutdown(Shutdown::Write).map_err(|e| format!("shutdown: {e}"))
    });
    let mut got = Vec::new();
    let mut r = c;
    r.read_to_end(&mut got).map_err(|e| format!("read: {e} after {} bytes", got.len()))?;
    checks::join(writer)??;
    ensure_eq!(got.len(), data.len(), "bytes echoed");
    ensure!(got == data, "the echoed bytes differ");
    Ok(())
}

fn poll_out(fd: i32, ms: i32) -> Result<i16, String> {
    let mut p = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    if n < 0 {
        return Err(format!("poll: errno {}", checks::errno()));
    }
    Ok(p.revents)
}

fn so_error(fd: i32) -> i32 {
    let mut e: i32 = -1;
    let mut len = 4u32;
    unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, (&raw mut e).cast(), &mut len) };
    e
}

fn nb_connect(addr: SocketAddr) -> Result<(i32, i32), String> {
    let SocketAddr::V4(a) = addr else { return Err("IPv4 only".into()) };
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0) };
    ensure!(fd >= 0, "socket: errno {}", checks::errno());
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
        sin_zero: [0; 8],
    };
    checks::clear_errno();
    let r = unsafe { libc::connect(fd, (&raw const sa).cast(), std::mem::size_of::<libc::sockaddr_in>() as u32) };
    Ok((fd, if r == 0 { 0 } else { checks::errno() }))
}

fn nonblocking_connect(server: SocketAddr) -> CheckResult {
    let (fd, e) = nb_connect(server)?;
    let r = (|| {
        ensure!(e == libc::EINPROGRESS || e == 0, "connect gave {}", checks::errno_name(e));
        let ev = poll_out(fd, 20_000)?;
        ensure!(ev & libc::POLLOUT != 0, "poll revents {ev:#x}: not writable");
        ensure_eq!(so_error(fd), 0, "SO_ERROR after the connection was made");
        Ok(())
    })();
    unsafe { libc::close(fd) };
    r
}

fn connect_refused(server: SocketAddr) -> CheckResult {
    let closed = SocketAddr::new(server.ip(), 1);
    match TcpStream::connect_timeout(&closed, Duration::from_secs(20)) {
        Ok(_) => return Err(format!("something listens on {closed}")),
        Err(e) => ensure_eq!(e.raw_os_error(), Some(libc::ECONNREFUSED), "blocking connect to {closed}: {e}"),
    }
    let (fd, e) = nb_connect(closed)?;
    let r = (|| {
        if e != libc::ECONNREFUSED {
            ensure_eq!(checks::errno_name(e), checks::errno_name(libc::EINPROGRESS), "non-blocking connect");
            let ev = poll_out(fd, 20_000)?;
            ensure!(ev & (libc::POLLOUT | libc::POLLERR) != 0, "poll revents {ev:#x}");
            ensure_eq!(checks::errno_name(so_error(fd)), checks::errno_name(libc::ECONNREFUSED), "SO_ERROR");
        }
        Ok(())
    })();
    unsafe { libc::close(fd) };
    r
}

fn udp_echo(server: SocketAddr) -> CheckResult {
    let u = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
    u.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut echoed = 0;
    for i in 0..20 {
        let msg = format!("datagram {i}");
        u.send_to(msg.as_bytes(), server).map_err(|e| format!("sendto: {e}"))?;
        let mut buf = [0u8; 1500];
        match u.recv_from(&mut buf) {
            Ok((n, from)) => {
                ensure_eq!(from, server, "datagram source");
                ensure_eq!(String::from_utf8_lossy(&buf[..n]), msg.as_str());
                echoed += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return Err(format!("recvfrom: {e}")),
        }
    }
    // UDP may lose a datagram, but not most of them.
    ensure!(echoed >= 15, "only {echoed} of 20 datagrams came back");
    Ok(())
}

fn serve(port: u16) {
    let l = TcpListener::bind(("0.0.0.0", port)).unwrap_or_else(|e| {
        eprintln!("netext: bind 0.0.0.0:{port}: {e}");
        std::process::exit(1);
    });
    println!("netext: listening on 0.0.0.0:{port} (fd {})", l.as_raw_fd());
    let (mut c, peer) = l.accept().unwrap_or_else(|e| {
        eprintln!("netext: accept: {e}");
        std::process::exit(1);
    });
    let mut total = 0usize;
    let mut buf = vec![0u8; 65536];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = c.write_all(&buf[..n]) {
                    eprintln!("netext: write: {e}");
                    std::process::exit(1);
                }
                total += n;
            }
            Err(e) => {
                eprintln!("netext: read: {e}");
                std::process::exit(1);
            }
        }
    }
    println!("netext: echoed {total} bytes to {peer}");
    std::process::exit(if total > 1 << 20 { 0 } else { 1 });
}
