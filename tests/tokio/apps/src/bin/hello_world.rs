//! `hello_world [ADDR]`: TCP client (Tokio's `hello_world` example). Connects to ADDR
//! (default 127.0.0.1:6142), writes `hello world\n` and closes the connection, saying
//! what it did on stdout.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:6142".to_string());
    let mut stream = TcpStream::connect(&addr).await?;
    println!("created stream");
    let outcome = stream.write_all(b"hello world\n").await;
    println!("wrote to stream; success={}", outcome.is_ok());
    Ok(())
}
