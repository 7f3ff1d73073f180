//! The `batch` pairings on a terminal: `batch SERVER 127.0.0.1:PORT` runs the server
//! and the `connect` client; lines typed on the terminal go to the server, its answers
//! appear on the terminal on a new line after Enter, and ^D ends the client, the server
//! and batch (status 0).

use std::net::TcpStream;
use std::time::Duration;

use checks::ensure;

use crate::output::PATIENCE;
use crate::pty::Terminal;
use crate::setup::tcp_addr;
use crate::steps::Steps;

/// Starts `batch SERVER ADDR` on a terminal and waits until the client runs and the
/// server printed `also` (so that nothing it prints later mixes with the typing).
fn start(s: &mut Steps, server: &str, name: &str, also: &[&str]) -> Option<(Terminal, String)> {
    let addr = tcp_addr(8080);
    let batch = s.program("batch");
    let server_path = s.program(server);
    let mut term = s.start(&format!("{name}_batch_starts"), || {
        Terminal::spawn(&batch, &[server_path.to_str().unwrap_or_default(), &addr], "batch")
    })?;
    s.show(&term.out);
    s.start(&format!("{name}_server_up_client_started"), || {
        let listening = format!("Listening on: {addr}");
        let started = format!("is accepting on {addr}; starting connect");
        let mut needles = vec![listening.as_str(), started.as_str()];
        needles.extend_from_slice(also);
        term.out.expect_all(&needles)
    })?;
    Some((term, addr))
}

/// Types `line` and Enter; the terminal must echo it and move to a new line.
fn type_line(term: &mut Terminal, line: &str) -> Result<(), String> {
    term.type_keys(&format!("{line}\r"))?;
    term.out.expect(&format!("{line}\r\n")).map(|_| ())
}

/// Waits for `text` as a whole line of its own (after the cursor).
fn expect_line(term: &mut Terminal, text: &str) -> Result<(), String> {
    let at = term.out.expect(&format!("{text}\r\n"))?;
    let before = if at == 0 { Some(b'\n') } else { term.out.byte_at(at - 1) };
    ensure!(before == Some(b'\n'), "{text:?} does not start a new line on the terminal (after {:?})", before.map(char::from));
    Ok(())
}

/// ^D: the client reads end of file and ends; batch ends the server and exits 0; the
/// server's port is closed afterwards.
fn finish(s: &mut Steps, name: &str, term: &mut Terminal, addr: &str) {
    s.step(&format!("{name}_ctrl_d_exits_0"), || {
        term.type_keys("\x04")?;
        term.expect_exit(0, PATIENCE)
    });
    s.step(&format!("{name}_server_gone"), || match TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(5)) {
        Ok(_) => Err(format!("{addr} still accepts connections after batch ended")),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(()),
        Err(e) => Err(format!("connect {addr}: {e}, expected ECONNREFUSED")),
    });
}

/// `batch ./echo`: every line typed comes back on its own line.
pub fn echo(s: &mut Steps) -> bool {
    let Some((mut term, addr)) = start(s, "echo", "echo", &[]) else { return true };
    for (check, line) in [("echo_first_line", "hello axle"), ("echo_second_line", "tokio on a terminal: 1 2 3")] {
        s.step(check, || {
            type_line(&mut term, line)?;
            expect_line(&mut term, line)
        });
    }
    finish(s, "echo", &mut term, &addr);
    true
}

/// `batch ./tinydb`: GET and SET typed on the terminal answer correctly.
pub fn tinydb(s: &mut Steps) -> bool {
    let Some((mut term, addr)) = start(s, "tinydb", "tinydb", &[]) else { return true };
    let exchanges = [
        ("tinydb_get_initial", "GET foo", "foo = bar"),
        ("tinydb_set_existing", "SET foo axle", "set foo = `axle`, previous: Some(\"bar\")"),
        ("tinydb_get_updated", "GET foo", "foo = axle"),
        ("tinydb_set_new", "SET wheels 4 driven", "set wheels = `4 driven`, previous: None"),
        ("tinydb_get_new", "GET wheels", "wheels = 4 driven"),
        ("tinydb_get_missing", "GET brakes", "error: no key brakes"),
        ("tinydb_bad_command", "DEL foo", "error: unknown command: DEL"),
    ];
    for (check, request, answer) in exchanges {
        s.step(check, || {
            type_line(&mut term, request)?;
            expect_line(&mut term, answer)
        });
    }
    finish(s, "tinydb", &mut term, &addr);
    true
}

/// `batch ./print_each_packet`: the server prints each chunk the client sends.
pub fn print_each_packet(s: &mut Steps) -> bool {
    // batch's probe connection (opened and closed at once) is a connection too.
    let probe_closed = "Socket received FIN packet and closed connection";
    let Some((mut term, addr)) = start(s, "print_each_packet", "pep", &[probe_closed]) else { return true };
    for (check, line) in [("pep_first_packet", "hello packet"), ("pep_second_packet", "second: ok")] {
        s.step(check, || {
            type_line(&mut term, line)?;
            expect_line(&mut term, &format!("bytes: b\"{line}\\n\""))
        });
    }
    finish(s, "pep", &mut term, &addr);
    true
}
