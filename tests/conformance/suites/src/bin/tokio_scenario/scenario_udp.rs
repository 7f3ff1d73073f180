//! UDP scenarios: `echo-udp` answering `udp-client` and `connect --udp`, and the
//! `udp-codec` ping-pong.

use checks::{ensure, ensure_eq};

use crate::output::PATIENCE;
use crate::procs::{Options, Proc};
use crate::setup::udp_addr;
use crate::steps::Steps;

/// `echo-udp` with `udp-client` (one datagram from stdin) and `connect --udp`.
pub fn udp(s: &mut Steps) -> bool {
    let addr = udp_addr(8080);
    let (echo, client, connect) = (s.program("echo-udp"), s.program("udp-client"), s.program("connect"));
    let quiet = Options::default();
    let piped = Options { stdin: true, ..Options::default() };
    let Some(mut server) = s.start("udp_echo_starts", || Proc::spawn(&echo, &[&addr], "echo-udp", quiet)) else {
        return true;
    };
    s.show(&server.out);
    s.step("udp_echo_up", || server.out.expect(&format!("Listening on: {addr}")).map(|_| ()));
    let Some(mut one) = s.start("udp_client_starts", || Proc::spawn(&client, &[&addr], "udp-client", piped)) else {
        return true;
    };
    s.show(&one.out);
    s.step("udp_client_round_trip", || {
        one.write("hello udp\nsecond line\n")?;
        one.close_stdin();
        one.expect_exit(0, PATIENCE)?;
        one.out.expect("Received 22 bytes:\nhello udp\nsecond line\n")?;
        server.out.expect("Echoed 22/22 bytes to 127.0.0.1:").map(|_| ())
    });
    let Some(mut conn) = s.start("udp_connect_starts", || Proc::spawn(&connect, &["--udp", &addr], "connect --udp", piped))
    else {
        return true;
    };
    s.show(&conn.out);
    s.step("udp_connect_datagrams", || {
        conn.write("datagram one\n")?;
        conn.out.expect("datagram one\n")?;
        server.out.expect("Echoed 13/13 bytes to 127.0.0.1:")?;
        conn.write("datagram two\n")?;
        conn.out.expect("datagram two\n").map(|_| ())
    });
    s.step("udp_connect_ends_on_eof", || {
        conn.close_stdin();
        conn.expect_exit(0, PATIENCE)
    });
    s.step("udp_echo_still_running", || {
        ensure!(server.running(), "echo-udp exited");
        Ok(())
    });
    true
}

/// `udp-codec`: five PINGs reach b, four PONGs reach a, then `done!`.
pub fn udp_codec(s: &mut Steps) -> bool {
    let program = s.program("udp-codec");
    let Some(mut p) = s.start("udp_codec_starts", || Proc::spawn(&program, &[], "udp-codec", Options::default())) else {
        return true;
    };
    s.show(&p.out);
    s.step("udp_codec_exits_0", || p.expect_exit(0, PATIENCE));
    s.step("udp_codec_ping_pong", || {
        ensure_eq!(p.out.count("[b] recv: PING\n"), 5, "PINGs received by b");
        ensure_eq!(p.out.count("[a] recv: PONG\n"), 4, "PONGs received by a");
        ensure!(p.out.text().ends_with("done!\n"), "does not end with done!: {:?}", p.out.text());
        Ok(())
    });
    true
}
