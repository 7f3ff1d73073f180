//! `chat [ADDR]`: a line-based chat server (Tokio's `chat` example), default
//! 127.0.0.1:6142. A client is first asked `Please enter your username:`; its first line
//! is its name. Then every line it sends reaches every other client as `NAME: line`, and
//! the others are told `NAME has joined the chat` / `NAME has left the chat`. The server
//! logs joins and leaves on stdout.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use futures::SinkExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Mutex};
use tokio_stream::StreamExt;
use tokio_util::codec::{Framed, LinesCodec};

/// Every connected client's mailbox, by its address.
type Peers = Arc<Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<String>>>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:6142".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("server running on {addr}");
    let peers: Peers = Arc::new(Mutex::new(HashMap::new()));
    loop {
        let (stream, peer) = listener.accept().await?;
        let peers = peers.clone();
        tokio::spawn(async move {
            if let Err(e) = client(peers, stream, peer).await {
                println!("connection from {peer} failed: {e}");
            }
        });
    }
}

/// Sends `msg` to every client but `from`.
async fn broadcast(peers: &Peers, from: SocketAddr, msg: &str) {
    let peers = peers.lock().await;
    for (addr, mailbox) in peers.iter() {
        if *addr != from {
            let _ = mailbox.send(msg.to_string());
        }
    }
}

async fn client(peers: Peers, stream: TcpStream, addr: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let mut lines = Framed::new(stream, LinesCodec::new());
    lines.send("Please enter your username:").await?;
    let name = match lines.next().await {
        Some(Ok(name)) => name,
        _ => {
            println!("failed to get a username from {addr}; client disconnected");
            return Ok(());
        }
    };
    let (mailbox, mut inbox) = mpsc::unbounded_channel();
    peers.lock().await.insert(addr, mailbox);
    let joined = format!("{name} has joined the chat");
    println!("{joined}");
    broadcast(&peers, addr, &joined).await;

    loop {
        tokio::select! {
            Some(msg) = inbox.recv() => {
                if let Err(e) = lines.send(msg).await {
                    println!("failed to send to {name}: {e}");
                    break;
                }
            }
            line = lines.next() => match line {
                Some(Ok(line)) => broadcast(&peers, addr, &format!("{name}: {line}")).await,
                Some(Err(e)) => {
                    println!("error while reading from {name}: {e}");
                    break;
                }
                None => break,
            },
        }
    }

    peers.lock().await.remove(&addr);
    let left = format!("{name} has left the chat");
    println!("{left}");
    broadcast(&peers, addr, &left).await;
    Ok(())
}
