//! `udp-client [ADDR]`: reads all of stdin (until end of file), sends it as one datagram
//! to ADDR (default 127.0.0.1:8080), waits for one datagram back and prints
//! `Received N bytes:` and its text (Tokio's `udp-client` example).

use std::io::Read;
use std::net::SocketAddr;

use tokio::net::UdpSocket;

/// The largest UDP payload over IPv4.
const MAX_DATAGRAM_BYTES: usize = 65_507;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let remote: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string())
        .parse()?;
    let local = if remote.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(remote).await?;
    let mut data = Vec::new();
    std::io::stdin().read_to_end(&mut data)?;
    socket.send(&data).await?;
    let mut reply = vec![0u8; MAX_DATAGRAM_BYTES];
    let n = socket.recv(&mut reply).await?;
    println!("Received {n} bytes:\n{}", String::from_utf8_lossy(&reply[..n]));
    Ok(())
}
