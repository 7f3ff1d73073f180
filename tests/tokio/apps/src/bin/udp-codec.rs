//! `udp-codec [ADDR]`: two UDP sockets bound on ADDR (default 127.0.0.1:0) play ping-pong
//! through `UdpFramed` + `BytesCodec` (Tokio's `udp-codec` example): `a` sends PING,
//! `b` answers every datagram with PONG, `a` answers four PONGs with PINGs, and `b` stops
//! after 200 ms of silence. Each side logs what it receives, then `done!`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt;
use tokio::net::UdpSocket;
use tokio_stream::StreamExt;
use tokio_util::codec::BytesCodec;
use tokio_util::udp::UdpFramed;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_string());
    let a = UdpSocket::bind(&addr).await?;
    let b = UdpSocket::bind(&addr).await?;
    let b_addr = b.local_addr()?;
    let mut a = UdpFramed::new(a, BytesCodec::new());
    let mut b = UdpFramed::new(b, BytesCodec::new());
    match tokio::try_join!(ping(&mut a, b_addr), pong(&mut b)) {
        Ok(_) => println!("done!"),
        Err(e) => println!("an error occurred; error = {e:?}"),
    }
    Ok(())
}

async fn ping(socket: &mut UdpFramed<BytesCodec>, to: SocketAddr) -> std::io::Result<()> {
    socket.send((Bytes::from_static(b"PING"), to)).await?;
    for _ in 0..4 {
        let (bytes, from) = socket.next().await.ok_or(std::io::ErrorKind::UnexpectedEof)??;
        println!("[a] recv: {}", String::from_utf8_lossy(&bytes));
        socket.send((Bytes::from_static(b"PING"), from)).await?;
    }
    Ok(())
}

async fn pong(socket: &mut UdpFramed<BytesCodec>) -> std::io::Result<()> {
    let quiet = Duration::from_millis(200);
    while let Ok(Some(Ok((bytes, from)))) = tokio::time::timeout(quiet, socket.next()).await {
        println!("[b] recv: {}", String::from_utf8_lossy(&bytes));
        socket.send((Bytes::from_static(b"PONG"), from)).await?;
    }
    Ok(())
}
