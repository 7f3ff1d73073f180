//! `echo_outside [ADDR]`: the TCP echo server of `echo`, bound by default on 0.0.0.0:8080
//! so that clients outside the guest (the host, through a forwarded port) can reach it.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    axle_tokio::echo_server::run("0.0.0.0:8080").await
}
