//! `echo [ADDR]`: TCP echo server (Tokio's `echo-tcp` example), default 127.0.0.1:8080.
//! Each connection is served concurrently; every byte read is written back.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    axle_tokio::echo_server::run("127.0.0.1:8080").await
}
