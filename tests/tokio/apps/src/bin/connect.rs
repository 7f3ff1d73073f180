//! `connect [--tcp|--udp] ADDR`: hooks stdin and stdout up to a socket (Tokio's
//! `connect-tcp`/`connect-udp` examples, one program with a flag as Tokio's older
//! `connect` example had). Everything read from stdin is sent to ADDR; everything
//! received is written to stdout. TCP (the default) ends when stdin reaches end of file
//! (on a terminal: ^D) or the server closes; UDP ends at the end of stdin.

use std::error::Error;
use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_util::codec::{BytesCodec, FramedRead, FramedWrite};

/// Largest datagram received whole.
const DATAGRAM_BYTES: usize = 65536;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut udp = false;
    let mut addr = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--udp" => udp = true,
            "--tcp" => udp = false,
            _ if addr.is_none() => addr = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}").into()),
        }
    }
    let addr: SocketAddr = addr.ok_or("usage: connect [--tcp|--udp] ADDR")?.parse()?;
    if udp {
        over_udp(addr).await
    } else {
        over_tcp(addr).await
    }
}

/// Two copies over one TCP stream; whichever ends first ends the program.
async fn over_tcp(addr: SocketAddr) -> Result<(), Box<dyn Error>> {
    let stream = TcpStream::connect(addr).await?;
    let (from_server, to_server) = stream.into_split();
    let mut stdin = FramedRead::new(tokio::io::stdin(), BytesCodec::new());
    let mut to_server = FramedWrite::new(to_server, BytesCodec::new());
    let mut from_server = FramedRead::new(from_server, BytesCodec::new());
    let mut stdout = FramedWrite::new(tokio::io::stdout(), BytesCodec::new());

    let upload = async {
        while let Some(chunk) = stdin.next().await {
            to_server.send(chunk?.freeze()).await?;
        }
        Ok::<(), io::Error>(())
    };
    let download = async {
        while let Some(chunk) = from_server.next().await {
            match chunk {
                Ok(bytes) => stdout.send(bytes.freeze()).await?,
                Err(e) => {
                    eprintln!("failed to read from socket; error={e}");
                    break;
                }
            }
        }
        Ok::<(), io::Error>(())
    };
    tokio::select! {
        r = upload => r?,
        r = download => r?,
    }
    Ok(())
}

/// Each chunk of stdin becomes one datagram; each datagram received goes to stdout.
async fn over_udp(addr: SocketAddr) -> Result<(), Box<dyn Error>> {
    let local = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(addr).await?;
    let mut stdin = FramedRead::new(tokio::io::stdin(), BytesCodec::new());
    let mut stdout = FramedWrite::new(tokio::io::stdout(), BytesCodec::new());

    let upload = async {
        while let Some(chunk) = stdin.next().await {
            socket.send(&chunk?).await?;
        }
        Ok::<(), io::Error>(())
    };
    let download = async {
        let mut buf = vec![0u8; DATAGRAM_BYTES];
        loop {
            let n = socket.recv(&mut buf).await?;
            if n > 0 {
                stdout.send(Bytes::copy_from_slice(&buf[..n])).await?;
            }
        }
        #[allow(unreachable_code)]
        Ok::<(), io::Error>(())
    };
    tokio::select! {
        r = upload => r?,
        r = download => r?,
    }
    Ok(())
}
