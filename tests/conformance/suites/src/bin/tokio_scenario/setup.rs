//! Where the Tokio programs are, and which ports the scenarios use.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;

/// The directory of the `build` ("release" or "debug") programs: `$AXLE_TOKIO_DIR/BUILD`,
/// else the host's staging dir `$AXLE_CACHE_DIR` (or `~/.cache/axle`)`/stage/tokio/BUILD`
/// (the reference runs), else the image's `/opt/tokio` or `/opt/tokio/debug` (Axle).
pub fn programs_dir(build: &str) -> Result<PathBuf, String> {
    if build != "release" && build != "debug" {
        return Err(format!("the build is release or debug, not {build:?}"));
    }
    let mut candidates = Vec::new();
    if let Some(d) = std::env::var_os("AXLE_TOKIO_DIR") {
        candidates.push(PathBuf::from(d).join(build));
    } else {
        let cache = std::env::var_os("AXLE_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/axle")));
        if let Some(cache) = cache {
            candidates.push(cache.join("stage/tokio").join(build));
        }
        candidates.push(if build == "release" { PathBuf::from("/opt/tokio") } else { PathBuf::from("/opt/tokio/debug") });
    }
    candidates
        .iter()
        .find(|d| d.join("batch").is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "no Tokio programs in {candidates:?}: build them with `python3 tools/build-tokio.py` \
                 (`make image` does)"
            )
        })
}

/// A loopback TCP address for a server: port `preferred` (the one Tokio's example uses)
/// when it is free, else one the kernel picks.
pub fn tcp_addr(preferred: u16) -> String {
    let port = match TcpListener::bind((Ipv4Addr::LOCALHOST, preferred)) {
        Ok(_) => preferred,
        Err(_) => TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map_or(preferred, |a| a.port()),
    };
    SocketAddr::from((Ipv4Addr::LOCALHOST, port)).to_string()
}

/// The same for a UDP server.
pub fn udp_addr(preferred: u16) -> String {
    let port = match UdpSocket::bind((Ipv4Addr::LOCALHOST, preferred)) {
        Ok(_) => preferred,
        Err(_) => UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|s| s.local_addr())
            .map_or(preferred, |a| a.port()),
    };
    SocketAddr::from((Ipv4Addr::LOCALHOST, port)).to_string()
}
