//! `echo-udp [ADDR]`: UDP echo server (Tokio's `echo-udp` example), default
//! 127.0.0.1:8080. Sends every datagram back to its sender and logs
//! `Echoed SENT/SIZE bytes to PEER`.

use tokio::net::UdpSocket;

/// Largest datagram echoed whole (longer ones are truncated, as in Tokio's example).
const DATAGRAM_BYTES: usize = 1024;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let socket = UdpSocket::bind(&addr).await?;
    println!("Listening on: {}", socket.local_addr()?);
    let mut buf = vec![0u8; DATAGRAM_BYTES];
    loop {
        let (size, peer) = socket.recv_from(&mut buf).await?;
        let sent = socket.send_to(&buf[..size], peer).await?;
        println!("Echoed {sent}/{size} bytes to {peer}");
    }
}
