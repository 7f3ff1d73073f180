//! `proxy [LISTEN [SERVER]]`: TCP proxy (Tokio's `proxy` example). Accepts on LISTEN
//! (default 127.0.0.1:8081) and, for each connection, connects to SERVER (default
//! 127.0.0.1:8080) and copies both ways until both sides are done.

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8081".to_string());
    let server = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_string());
    println!("Listening on: {listen}");
    println!("Proxying to: {server}");
    let listener = TcpListener::bind(&listen).await?;
    while let Ok((mut inbound, _)) = listener.accept().await {
        let server = server.clone();
        tokio::spawn(async move {
            let mut outbound = match TcpStream::connect(&server).await {
                Ok(s) => s,
                Err(e) => {
                    println!("Failed to connect; error={e}");
                    return;
                }
            };
            if let Err(e) = copy_bidirectional(&mut inbound, &mut outbound).await {
                println!("Failed to transfer; error={e}");
            }
        });
    }
    Ok(())
}
