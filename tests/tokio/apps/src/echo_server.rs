//! The TCP echo server behind `echo` and `echo_outside`: binds the address given as the
//! first argument (or a default), prints `Listening on: ADDR`, and serves every connection
//! in its own task, writing back whatever it reads until the peer closes.

use std::error::Error;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Size of the per-connection read buffer.
const CHUNK_BYTES: usize = 4096;

/// Runs the server forever on `argv[1]`, or on `default_addr` without arguments.
pub async fn run(default_addr: &str) -> Result<(), Box<dyn Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| default_addr.to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("Listening on: {addr}");
    loop {
        let (socket, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = echo(socket).await {
                eprintln!("echo: connection from {peer}: {e}");
            }
        });
    }
}

/// Echoes one connection until end of file.
async fn echo(mut socket: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK_BYTES];
    loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        socket.write_all(&buf[..n]).await?;
    }
}
