//! `tinyhttp [ADDR]`: a tiny HTTP/1.1 server (Tokio's `tinyhttp` example), default
//! 127.0.0.1:8080, written with no HTTP library: a `tokio_util` codec turns the byte
//! stream into requests and responses. Routes: `/plaintext` (`Hello, World!` as
//! text/plain), `/json` (`{"message":"Hello, World!"}` as application/json), anything
//! else 404 with an empty body. Connections are kept alive and requests may be
//! pipelined; request bodies are not supported.

mod codec;
mod date;

use futures::SinkExt;
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::StreamExt;
use tokio_util::codec::Framed;

use codec::{Http, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("Listening on: {addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(stream).await {
                println!("failed to process connection; error = {e}");
            }
        });
    }
}

/// Answers the requests of one connection, in order, until the client closes.
async fn serve(stream: TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    let mut transport = Framed::new(stream, Http);
    while let Some(request) = transport.next().await {
        let response = respond(&request?)?;
        transport.send(response).await?;
    }
    Ok(())
}

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

fn respond(request: &Request) -> Result<Response, serde_json::Error> {
    Ok(match request.path.as_str() {
        "/plaintext" => Response::ok("text/plain", "Hello, World!".to_string()),
        "/json" => Response::ok(
            "application/json",
            serde_json::to_string(&Message { message: "Hello, World!" })?,
        ),
        _ => Response::not_found(),
    })
}
