//! TCP scenarios over pipes and sockets: `chat` with two `connect` clients, `proxy` in
//! front of `echo`, `tinyhttp` answering HTTP/1.1 requests, `hello_world` against a
//! listener of the driver, `echo_outside` bound on 0.0.0.0.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use checks::{ensure, ensure_eq};

use crate::output::PATIENCE;
use crate::procs::{Options, Proc};
use crate::setup::tcp_addr;
use crate::steps::Steps;

const PIPED: Options = Options { stdin: true, nofile: None };
const QUIET: Options = Options { stdin: false, nofile: None };

/// A TCP connection from the driver with generous timeouts.
fn dial(addr: &str) -> Result<TcpStream, String> {
    let s = TcpStream::connect_timeout(&addr.parse().map_err(|e| format!("{addr}: {e}"))?, PATIENCE)
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(PATIENCE)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(PATIENCE)).map_err(|e| e.to_string())?;
    Ok(s)
}

/// Reads until `want` bytes arrived (or end of file / error).
fn read_exactly(s: &mut TcpStream, want: usize) -> Result<Vec<u8>, String> {
    let mut got = vec![0u8; want];
    s.read_exact(&mut got).map_err(|e| format!("reading {want} bytes: {e}"))?;
    Ok(got)
}

/// `chat`: two clients see each other join, talk, and leave.
pub fn chat(s: &mut Steps) -> bool {
    let addr = tcp_addr(6142);
    let (chat, connect) = (s.program("chat"), s.program("connect"));
    let Some(mut server) = s.start("chat_server_starts", || Proc::spawn(&chat, &[&addr], "chat", QUIET)) else {
        return true;
    };
    s.show(&server.out);
    s.step("chat_server_up", || server.out.expect(&format!("server running on {addr}")).map(|_| ()));
    let Some(mut alice) = s.start("chat_alice_connects", || {
        let mut p = Proc::spawn(&connect, &[&addr], "alice", PIPED)?;
        p.out.expect("Please enter your username:")?;
        Ok(p)
    }) else {
        return true;
    };
    s.show(&alice.out);
    s.step("chat_alice_joins", || {
        alice.write("alice\n")?;
        server.out.expect("alice has joined the chat").map(|_| ())
    });
    let Some(mut bob) = s.start("chat_bob_connects", || {
        let mut p = Proc::spawn(&connect, &[&addr], "bob", PIPED)?;
        p.out.expect("Please enter your username:")?;
        Ok(p)
    }) else {
        return true;
    };
    s.show(&bob.out);
    s.step("chat_alice_sees_bob_join", || {
        bob.write("bob\n")?;
        alice.out.expect("bob has joined the chat\n").map(|_| ())
    });
    s.step("chat_bob_gets_alice_message", || {
        alice.write("hi bob, how are the wheels?\n")?;
        bob.out.expect("alice: hi bob, how are the wheels?\n").map(|_| ())
    });
    s.step("chat_alice_gets_bob_message", || {
        bob.write("all four turning\n")?;
        alice.out.expect("bob: all four turning\n").map(|_| ())
    });
    s.step("chat_sender_gets_no_copy", || {
        ensure!(alice.out.count("alice: ") == 0, "alice got her own message back");
        ensure!(bob.out.count("bob: ") == 0, "bob got his own message back");
        Ok(())
    });
    s.step("chat_bob_leaves", || {
        bob.close_stdin();
        bob.expect_exit(0, PATIENCE)?;
        alice.out.expect("bob has left the chat\n")?;
        server.out.expect("bob has left the chat").map(|_| ())
    });
    s.step("chat_alice_leaves", || {
        alice.close_stdin();
        alice.expect_exit(0, PATIENCE)?;
        server.out.expect("alice has left the chat").map(|_| ())
    });
    s.step("chat_server_still_running", || {
        ensure!(server.running(), "the chat server exited: {:?}", server.out.text());
        Ok(())
    });
    true
}

/// `proxy` in front of `echo`: lines, a large transfer and half-closes go through.
pub fn proxy(s: &mut Steps) -> bool {
    let echo_addr = tcp_addr(8080);
    let proxy_addr = tcp_addr(8081);
    let (echo, proxy, connect) = (s.program("echo"), s.program("proxy"), s.program("connect"));
    let Some(mut server) = s.start("proxy_echo_starts", || Proc::spawn(&echo, &[&echo_addr], "echo", QUIET)) else {
        return true;
    };
    s.show(&server.out);
    s.step("proxy_echo_up", || server.out.expect(&format!("Listening on: {echo_addr}")).map(|_| ()));
    let Some(mut front) = s.start("proxy_starts", || Proc::spawn(&proxy, &[&proxy_addr, &echo_addr], "proxy", QUIET))
    else {
        return true;
    };
    s.show(&front.out);
    s.step("proxy_up", || {
        front.out.expect_all(&[&format!("Listening on: {proxy_addr}"), &format!("Proxying to: {echo_addr}")])?;
        wait_accepting(&proxy_addr)
    });
    let Some(mut client) = s.start("proxy_connect_client", || Proc::spawn(&connect, &[&proxy_addr], "connect", PIPED))
    else {
        return true;
    };
    s.show(&client.out);
    s.step("proxy_line_round_trip", || {
        client.write("through the proxy\n")?;
        client.out.expect("through the proxy\n")?;
        client.write("and back again\n")?;
        client.out.expect("and back again\n").map(|_| ())
    });
    s.step("proxy_client_ends_on_eof", || {
        client.close_stdin();
        client.expect_exit(0, PATIENCE)
    });
    s.step("proxy_256k_round_trip_and_half_close", || big_round_trip(&proxy_addr, 256 * 1024));
    s.step("proxy_two_clients_at_once", || {
        let mut a = dial(&proxy_addr)?;
        let mut b = dial(&proxy_addr)?;
        a.write_all(b"from a\n").map_err(|e| e.to_string())?;
        b.write_all(b"from b\n").map_err(|e| e.to_string())?;
        ensure_eq!(read_exactly(&mut b, 7)?, b"from b\n".to_vec(), "b's echo");
        ensure_eq!(read_exactly(&mut a, 7)?, b"from a\n".to_vec(), "a's echo");
        Ok(())
    });
    s.step("proxy_and_echo_still_running", || {
        ensure!(server.running(), "echo exited");
        ensure!(front.running(), "proxy exited");
        Ok(())
    });
    true
}

/// Retries connecting to `addr` until it accepts (the server printed its address just
/// before listening).
fn wait_accepting(addr: &str) -> Result<(), String> {
    let end = Instant::now() + PATIENCE;
    loop {
        match TcpStream::connect(addr) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= end => return Err(format!("{addr} does not accept: {e}")),
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Sends `len` bytes of a pattern through an echo at `addr` from one thread while this one
/// reads them back; then half-closes and expects end of file back.
fn big_round_trip(addr: &str, len: usize) -> Result<(), String> {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut stream = dial(addr)?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let sent = data.clone();
    let sender = thread::spawn(move || -> Result<(), String> {
        for chunk in sent.chunks(8192) {
            writer.write_all(chunk).map_err(|e| format!("write: {e}"))?;
        }
        writer.shutdown(Shutdown::Write).map_err(|e| format!("shutdown(SHUT_WR): {e}"))
    });
    let mut back = Vec::with_capacity(len);
    let mut buf = [0u8; 16384];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => back.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("read after {} bytes: {e}", back.len())),
        }
    }
    checks::join(sender)??;
    ensure_eq!(back.len(), len, "bytes echoed before end of file");
    ensure!(back == data, "the echoed bytes differ from the sent ones");
    Ok(())
}

/// One HTTP response: status line, headers (lowercase names), body.
struct HttpResponse {
    status: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Reads one response (head + Content-Length body) from `pending` + the stream.
fn read_response(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Result<HttpResponse, String> {
    let head_end = loop {
        if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).map_err(|e| format!("reading a response: {e}"))?;
        ensure!(n > 0, "the connection closed before a complete response: {:?}", String::from_utf8_lossy(pending));
        pending.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| format!("no valid Content-Length in {head:?}"))?;
    pending.drain(..head_end + 4);
    while pending.len() < len {
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).map_err(|e| format!("reading a body: {e}"))?;
        ensure!(n > 0, "the connection closed inside a body");
        pending.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&pending[..len]).into_owned();
    pending.drain(..len);
    Ok(HttpResponse { status, headers, body })
}

/// An IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn is_http_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 29 && &v[3..5] == ", " && v.ends_with(" GMT") && b[19] == b':' && b[22] == b':'
}

/// `tinyhttp`: /plaintext, /json and a 404, pipelined on one kept-alive connection; an
/// HTTP/1.0 request is refused by closing the connection.
pub fn tinyhttp(s: &mut Steps) -> bool {
    let addr = tcp_addr(8080);
    let tinyhttp = s.program("tinyhttp");
    let Some(mut server) = s.start("tinyhttp_starts", || Proc::spawn(&tinyhttp, &[&addr], "tinyhttp", QUIET)) else {
        return true;
    };
    s.show(&server.out);
    s.step("tinyhttp_up", || {
        server.out.expect(&format!("Listening on: {addr}"))?;
        wait_accepting(&addr)
    });
    s.step("tinyhttp_plaintext", || {
        let mut c = dial(&addr)?;
        c.write_all(b"GET /plaintext HTTP/1.1\r\nHost: axle\r\nUser-Agent: tokio_scenario\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let r = read_response(&mut c, &mut Vec::new())?;
        ensure_eq!(r.status.as_str(), "HTTP/1.1 200 OK", "status line");
        ensure_eq!(r.body.as_str(), "Hello, World!", "body");
        ensure_eq!(r.header("content-type"), Some("text/plain"), "Content-Type");
        ensure_eq!(r.header("server"), Some("Example"), "Server");
        ensure_eq!(r.header("content-length"), Some("13"), "Content-Length");
        let date = r.header("date").unwrap_or_default();
        ensure!(is_http_date(date), "Date header {date:?} is not an IMF-fixdate");
        Ok(())
    });
    s.step("tinyhttp_pipelined_json_and_404", || {
        let mut c = dial(&addr)?;
        c.write_all(b"GET /json HTTP/1.1\r\nHost: axle\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: axle\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut pending = Vec::new();
        let json = read_response(&mut c, &mut pending)?;
        ensure_eq!(json.status.as_str(), "HTTP/1.1 200 OK", "/json status line");
        ensure_eq!(json.header("content-type"), Some("application/json"), "/json Content-Type");
        ensure_eq!(json.body.as_str(), r#"{"message":"Hello, World!"}"#, "/json body");
        let missing = read_response(&mut c, &mut pending)?;
        ensure_eq!(missing.status.as_str(), "HTTP/1.1 404 Not Found", "/nowhere status line");
        ensure_eq!(missing.header("content-length"), Some("0"), "/nowhere Content-Length");
        ensure!(missing.body.is_empty(), "/nowhere body {:?}", missing.body);
        // Still alive: a third request on the same connection.
        c.write_all(b"GET /plaintext HTTP/1.1\r\nHost: axle\r\n\r\n").map_err(|e| e.to_string())?;
        let again = read_response(&mut c, &mut pending)?;
        ensure_eq!(again.body.as_str(), "Hello, World!", "third response body");
        Ok(())
    });
    s.step("tinyhttp_refuses_http_1_0", || {
        let mut c = dial(&addr)?;
        c.write_all(b"GET /plaintext HTTP/1.0\r\n\r\n").map_err(|e| e.to_string())?;
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).map_err(|e| format!("reading: {e}"))?;
        ensure!(rest.is_empty(), "got an answer to HTTP/1.0: {:?}", String::from_utf8_lossy(&rest));
        server.out.expect("failed to process connection; error = only HTTP/1.1 accepted").map(|_| ())
    });
    s.step("tinyhttp_still_running", || {
        ensure!(server.running(), "tinyhttp exited");
        Ok(())
    });
    true
}

/// `hello_world`: connects to the driver's listener and writes `hello world\n`.
pub fn hello_world(s: &mut Steps) -> bool {
    let hello = s.program("hello_world");
    let Some(listener) = s.start("hello_world_listener", || {
        let l = TcpListener::bind(tcp_addr(6142)).map_err(|e| format!("bind: {e}"))?;
        Ok(l)
    }) else {
        return true;
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let Some(mut client) = s.start("hello_world_starts", || Proc::spawn(&hello, &[&addr], "hello_world", QUIET)) else {
        return true;
    };
    s.show(&client.out);
    s.step("hello_world_delivers", || {
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let end = Instant::now() + PATIENCE;
        let (mut conn, _) = loop {
            match listener.accept() {
                Ok(c) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < end => {
                    thread::sleep(Duration::from_millis(20))
                }
                Err(e) => return Err(format!("accept: {e}")),
            }
        };
        conn.set_nonblocking(false).map_err(|e| e.to_string())?;
        conn.set_read_timeout(Some(PATIENCE)).map_err(|e| e.to_string())?;
        let mut got = Vec::new();
        conn.read_to_end(&mut got).map_err(|e| format!("read: {e}"))?;
        ensure_eq!(String::from_utf8_lossy(&got).into_owned(), "hello world\n", "bytes received before end of file");
        Ok(())
    });
    s.step("hello_world_exits_0", || {
        client.expect_exit(0, PATIENCE)?;
        client.out.expect("created stream\n")?;
        client.out.expect("wrote to stream; success=true\n").map(|_| ())
    });
    true
}

/// `echo_outside`: listens on 0.0.0.0 and answers on the loopback address too.
pub fn echo_outside(s: &mut Steps) -> bool {
    let port = tcp_addr(8080).rsplit(':').next().unwrap_or("8080").to_string();
    let bind = format!("0.0.0.0:{port}");
    let program = s.program("echo_outside");
    let Some(mut server) = s.start("echo_outside_starts", || Proc::spawn(&program, &[&bind], "echo_outside", QUIET))
    else {
        return true;
    };
    s.show(&server.out);
    let local = format!("127.0.0.1:{port}");
    s.step("echo_outside_up", || {
        server.out.expect(&format!("Listening on: {bind}"))?;
        wait_accepting(&local)
    });
    s.step("echo_outside_echoes", || {
        let mut c = dial(&local)?;
        c.write_all(b"from outside?\n").map_err(|e| e.to_string())?;
        ensure_eq!(read_exactly(&mut c, 14)?, b"from outside?\n".to_vec(), "echo");
        Ok(())
    });
    s.step("echo_outside_64k_round_trip", || big_round_trip(&local, 64 * 1024));
    true
}
