//! `batch SERVER ADDR`: starts a server program and the `connect` client together, e.g.
//! `batch ./echo 127.0.0.1:8080`. It spawns `SERVER ADDR` (stdin /dev/null, stdout and
//! stderr shared with batch), waits until ADDR accepts TCP connections, then runs
//! `connect ADDR` (the `connect` next to batch itself) on batch's own stdin, stdout and
//! stderr: on a terminal, the lines typed go to the server and its answers appear below
//! them; ^D ends the client. When the client ends, batch kills the server and exits with
//! the client's status (128+N if it was killed by signal N).
//!
//! It says on stderr when the client starts (`batch: SERVER is accepting on ADDR;
//! starting connect`) and fails with status 1 if the server exits or does not accept
//! within 60 s.

use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long the server gets to start accepting.
const START_LIMIT: Duration = Duration::from_secs(60);
/// Pause between two connection attempts while waiting.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [server, addr] = args.as_slice() else {
        eprintln!("usage: batch SERVER ADDR   (e.g. batch ./echo 127.0.0.1:8080)");
        std::process::exit(2);
    };
    match run(server, addr).await {
        Ok(status) => std::process::exit(status),
        Err(e) => {
            eprintln!("batch: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(server: &str, addr: &str) -> Result<i32, String> {
    let target: SocketAddr = addr.parse().map_err(|e| format!("bad address {addr:?}: {e}"))?;
    let client_path = connect_path()?;
    let mut server_child = Command::new(server)
        .arg(addr)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {server}: {e}"))?;
    wait_accepting(server, &mut server_child, target).await?;
    // One write: the server prints on the same terminal as soon as the probe connection
    // closes, and must not land in the middle of this line.
    let line = format!("batch: {server} is accepting on {addr}; starting connect\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    let client_status = Command::new(&client_path)
        .arg(addr)
        .status()
        .await
        .map_err(|e| format!("cannot start {}: {e}", client_path.display()))?;
    // The client is done: the server goes. (kill_on_drop would too; this waits for it.)
    let _ = server_child.kill().await;
    Ok(shell_status(client_status))
}

/// Polls `target` with connection attempts until one succeeds (the probe connection is
/// closed at once), failing if the server exits or takes longer than START_LIMIT.
async fn wait_accepting(server: &str, child: &mut Child, target: SocketAddr) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("waiting for {server}: {e}"))? {
            return Err(format!("{server} exited with status {} before accepting", shell_status(status)));
        }
        if TcpStream::connect(target).await.is_ok() {
            return Ok(());
        }
        if start.elapsed() > START_LIMIT {
            return Err(format!("{server} did not accept on {target} within {} s", START_LIMIT.as_secs()));
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// The `connect` program installed next to this one.
fn connect_path() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find my own path: {e}"))?;
    let path = me.with_file_name("connect");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} does not exist", path.display()))
    }
}

/// A status as a shell shows it: the exit code, or 128+N for signal N.
fn shell_status(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}
