//! Scenarios about the runtime and signals: `graceful-shutdown` (^C on its terminal),
//! `dump` (task dumps on ^C), `custom-executor`, `prewarm-fd-table`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use checks::{ensure, ensure_eq};

use crate::output::PATIENCE;
use crate::procs::{Options, Proc};
use crate::pty::Terminal;
use crate::setup::tcp_addr;
use crate::steps::Steps;

/// A line-oriented client of the driver.
struct LineClient {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl LineClient {
    fn connect(addr: &str) -> Result<LineClient, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_read_timeout(Some(PATIENCE)).map_err(|e| e.to_string())?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        Ok(LineClient { stream, reader })
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        self.stream.write_all(line.as_bytes()).map_err(|e| format!("write: {e}"))
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        self.reader.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
        Ok(line)
    }
}

/// `graceful-shutdown`: two clients are echoed; ^C on the server's terminal makes it tell
/// both `server shutting down`, close them and exit 0.
pub fn graceful_shutdown(s: &mut Steps) -> bool {
    let addr = tcp_addr(6142);
    let program = s.program("graceful-shutdown");
    let Some(mut term) = s.start("graceful_starts", || Terminal::spawn(&program, &[&addr], "graceful-shutdown")) else {
        return true;
    };
    s.show(&term.out);
    s.step("graceful_up", || term.out.expect(&format!("listening on {addr}")).map(|_| ()));
    let Some(mut clients) = s.start("graceful_two_clients_echoed", || {
        let mut clients = Vec::new();
        for n in 0..2 {
            let mut c = LineClient::connect(&addr)?;
            c.send(&format!("line from client {n}\n"))?;
            ensure_eq!(c.line()?, format!("line from client {n}\n"), "echo to client {n}");
            clients.push(c);
        }
        term.out.expect("accepted connection from 127.0.0.1:")?;
        term.out.expect("accepted connection from 127.0.0.1:")?;
        Ok(clients)
    }) else {
        return true;
    };
    s.step("graceful_ctrl_c_notifies_clients", || {
        term.type_keys("\x03")?;
        if let Err(e) = term.out.expect("shutdown signal received, waiting for connections to finish") {
            return Err(format!("{e}; {}", term.diagnose()));
        }
        for (n, c) in clients.iter_mut().enumerate() {
            ensure_eq!(c.line()?, "server shutting down\n".to_string(), "notice to client {n}");
            ensure_eq!(c.line()?, String::new(), "end of file for client {n}");
        }
        Ok(())
    });
    s.step("graceful_exits_0", || {
        term.expect_exit(0, PATIENCE)?;
        ensure_eq!(term.out.count(" closed\r\n"), 2, "connections logged as closed");
        ensure!(term.out.text().ends_with("shutdown complete\r\n"), "the last line is not `shutdown complete`");
        Ok(())
    });
    true
}

/// `dump`: ^C prints a trace of both deadlocked tasks; another ^C within a second ends it.
pub fn dump(s: &mut Steps) -> bool {
    let program = s.program("dump");
    let Some(mut term) = s.start("dump_starts", || Terminal::spawn(&program, &[], "dump")) else {
        return true;
    };
    s.show(&term.out);
    s.step("dump_says_deadlock", || term.out.expect("Input CTRL+C twice within 1 second to exit.\r\n").map(|_| ()));
    s.step("dump_ctrl_c_dumps_both_tasks", || {
        term.type_keys("\x03")?;
        term.out.expect("Input CTRL+C twice within 1 second to exit.\r\n")?;
        ensure_eq!(term.out.count("TASK "), 2, "tasks in the dump");
        // Both tasks wait in the barrier's Notified future (the frames above it depend on
        // inlining: the release build shows fewer).
        ensure_eq!(term.out.count("tokio::sync::notify::NotifiedProject"), 2, "traces ending in the barrier's wait");
        Ok(())
    });
    s.step("dump_second_ctrl_c_exits_0", || {
        // Within a second of the dump's end: the program ends.
        term.type_keys("\x03")?;
        if let Err(e) = term.wait(PATIENCE) {
            return Err(format!("{e}; {}", term.diagnose()));
        }
        term.expect_exit(0, PATIENCE)?;
        ensure_eq!(term.out.count("TASK "), 2, "tasks dumped in all (the second ^C must not dump)");
        Ok(())
    });
    true
}

/// `custom-executor`: a futures thread pool binds a Tokio listener on 0.0.0.0:0.
pub fn custom_executor(s: &mut Steps) -> bool {
    let program = s.program("custom-executor");
    let Some(mut p) = s.start("custom_executor_starts", || Proc::spawn(&program, &[], "custom-executor", Options::default()))
    else {
        return true;
    };
    s.show(&p.out);
    s.step("custom_executor_exits_0", || p.expect_exit(0, PATIENCE));
    s.step("custom_executor_bound", || {
        let text = p.out.text();
        let port = text
            .strip_prefix("addr: Ok(0.0.0.0:")
            .and_then(|rest| rest.strip_suffix(")\n"))
            .and_then(|port| port.parse::<u16>().ok());
        ensure!(port.is_some_and(|p| p > 0), "output is not `addr: Ok(0.0.0.0:PORT)`: {text:?}");
        Ok(())
    });
    true
}

/// `prewarm-fd-table`: with RLIMIT_NOFILE 16384 the descriptor table is grown to 10000;
/// with 1024 F_DUPFD_CLOEXEC fails with EINVAL and the program goes on. Both exit 0.
pub fn prewarm_fd_table(s: &mut Steps) -> bool {
    let program = s.program("prewarm-fd-table");
    for (check, limit, want) in [
        ("prewarm_with_room", 16384, "FD table pre-warmed successfully.\n"),
        ("prewarm_over_limit_einval", 1024, "Warning: failed to pre-warm FD table: Invalid argument (os error 22)\n"),
    ] {
        s.step(check, || {
            let opts = Options { stdin: false, nofile: Some(limit) };
            let mut p = Proc::spawn(&program, &[], &format!("prewarm-fd-table (nofile {limit})"), opts)?;
            p.expect_exit(0, PATIENCE)?;
            p.out.expect("Pre-warming FD table to 10000 entries...\n")?;
            let text = p.out.text();
            ensure!(text.contains(want), "no {want:?} in {text:?}");
            Ok(())
        });
    }
    true
}
