//! `print_each_packet [ADDR]`: TCP server (Tokio's `print_each_packet` example), default
//! 127.0.0.1:8080, that prints every chunk it receives as `bytes: b"..."` and, when the
//! peer closes, `Socket received FIN packet and closed connection`. It never answers.

use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_util::codec::{BytesCodec, Decoder};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("Listening on: {addr}");
    loop {
        let (socket, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut chunks = BytesCodec::new().framed(socket);
            while let Some(chunk) = chunks.next().await {
                match chunk {
                    Ok(bytes) => println!("bytes: {bytes:?}"),
                    Err(e) => println!("Socket closed with error: {e:?}"),
                }
            }
            println!("Socket received FIN packet and closed connection");
        });
    }
}
