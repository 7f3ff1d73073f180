//! Scenarios with a peer on the host (QEMU's 10.0.2.2 from Axle; the host itself natively),
//! run by the harness with a host helper from tests/net/:
//!
//! - `hello-host ADDR`: `hello_world ADDR` connects to the helper `hello_listener.py`, which
//!   checks it receives `hello world\n`; the program must report success and exit 0;
//! - `echo-outside-host PORT DONE_PORT`: `echo_outside 0.0.0.0:PORT` serves the helper
//!   `client.py` through a forwarded port; when the helper is satisfied it connects to
//!   DONE_PORT (another forwarded port), where this driver waits, and the server is stopped;
//! - `tinyhttp-host PORT DONE_PORT`: the same with `tinyhttp` and the helper `http_get.py`.

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use checks::ensure_eq;

use crate::output::PATIENCE;
use crate::procs::{Options, Proc};
use crate::steps::Steps;

const QUIET: Options = Options { stdin: false, nofile: None };
/// How long the host helper may take (the guest boots before it can connect in).
const HELPER_PATIENCE: Duration = Duration::from_secs(150);

/// `hello_world` to a listener on the host.
pub fn hello_host(s: &mut Steps, addr: &str) -> bool {
    let hello = s.program("hello_world");
    let Some(mut client) = s.start("hello_host_starts", || Proc::spawn(&hello, &[addr], "hello_world", QUIET)) else {
        return true;
    };
    s.show(&client.out);
    s.step("hello_host_exits_0", || {
        client.expect_exit(0, PATIENCE)?;
        client.out.expect("created stream\n")?;
        client.out.expect("wrote to stream; success=true\n").map(|_| ())
    });
    true
}

/// Waits for the helper's "done" connection on `done_port` and reads its one line.
fn wait_done(done_port: &str) -> Result<(), String> {
    let l = TcpListener::bind(format!("0.0.0.0:{done_port}")).map_err(|e| format!("bind done port: {e}"))?;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    let end = Instant::now() + HELPER_PATIENCE;
    loop {
        match l.accept() {
            Ok((mut c, _)) => {
                c.set_nonblocking(false).map_err(|e| e.to_string())?;
                c.set_read_timeout(Some(PATIENCE)).map_err(|e| e.to_string())?;
                let mut line = String::new();
                c.read_to_string(&mut line).map_err(|e| format!("read done line: {e}"))?;
                ensure_eq!(line.trim(), "done", "the helper's verdict");
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => return Err(format!("no word from the host helper: {e}")),
        }
    }
}

/// A server program on 0.0.0.0:`port` serving the host helper until it says done.
fn serve_host(s: &mut Steps, program: &str, port: &str, done_port: &str) -> bool {
    let path = s.program(program);
    let bind = format!("0.0.0.0:{port}");
    let Some(mut server) = s.start(&format!("{program}_host_starts"), || Proc::spawn(&path, &[&bind], program, QUIET)) else {
        return true;
    };
    s.show(&server.out);
    s.step(&format!("{program}_host_listens"), || server.out.expect(&format!("Listening on: {bind}")).map(|_| ()));
    s.step(&format!("{program}_serves_the_host"), || wait_done(done_port));
    s.step(&format!("{program}_host_still_running"), || {
        if server.running() { Ok(()) } else { Err("the server ended while serving".into()) }
    });
    true
}

pub fn echo_outside_host(s: &mut Steps, port: &str, done_port: &str) -> bool {
    serve_host(s, "echo_outside", port, done_port)
}

pub fn tinyhttp_host(s: &mut Steps, port: &str, done_port: &str) -> bool {
    serve_host(s, "tinyhttp", port, done_port)
}
