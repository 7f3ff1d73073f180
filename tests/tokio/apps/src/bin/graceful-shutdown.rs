//! `graceful-shutdown [ADDR]`: a line echo server (default 127.0.0.1:6142) that shuts
//! down gracefully on Ctrl+C (Tokio's `graceful-shutdown` example): SIGINT stops the
//! accept loop, a `CancellationToken` tells every connection task to write
//! `server shutting down` to its client (within 1 s), a `TaskTracker` waits for them all,
//! and the program prints `shutdown complete` and exits 0. (Unlike the example, the SIGINT
//! listener exists before the program says it listens and lives across the accept loop,
//! so no ^C can fall between two listeners.)

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:6142".to_string());
    let listener = TcpListener::bind(&addr).await?;
    // Listen for SIGINT before saying we are ready, and with one listener for the whole
    // loop: a `ctrl_c()` future made afresh in each iteration registers only when polled,
    // so a ^C arriving between iterations would be missed.
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    println!("listening on {addr}");
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    println!("accepted connection from {peer}");
                    tasks.spawn(connection(socket, peer, stop.clone()));
                }
                Err(e) => eprintln!("failed to accept: {e}"),
            },
            _ = sigint.recv() => {
                println!("\nshutdown signal received, waiting for connections to finish");
                break;
            }
        }
    }
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    println!("shutdown complete");
    Ok(())
}

async fn connection(mut socket: TcpStream, peer: SocketAddr, stop: CancellationToken) {
    tokio::select! {
        _ = echo_lines(&mut socket) => {}
        _ = stop.cancelled() => {
            let notice = socket.write_all(b"server shutting down\n");
            let _ = tokio::time::timeout(Duration::from_secs(1), notice).await;
        }
    }
    println!("connection from {peer} closed");
}

/// Writes back every line until the client closes or an error.
async fn echo_lines(socket: &mut TcpStream) {
    let (reader, mut writer) = socket.split();
    let mut reader = BufReader::new(reader);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if writer.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
}
