//! `tokio_scenario SCENARIO release|debug`: drives Axle's Tokio programs (tests/tokio)
//! through one scenario and checks what they do, as a check suite named `tokio`.
//!
//! The programs are found in `$AXLE_CACHE_DIR/stage/tokio/BUILD` (default
//! `~/.cache/axle/stage/tokio/BUILD`: the host, the reference) or else in the image's
//! `/opt/tokio` (release) and `/opt/tokio/debug` (Axle); `AXLE_TOKIO_DIR` overrides both.
//! Terminal scenarios run the program on a pseudo-terminal (posix_openpt, the slave as
//! its controlling terminal and stdin/stdout/stderr) and type keystrokes on the master;
//! the others talk to the programs over pipes and sockets. Scenarios (see
//! tests/tokio/README.md for what each checks):
//!
//! `batch-echo`, `batch-tinydb`, `batch-print_each_packet` (terminal), `chat`, `proxy`,
//! `tinyhttp`, `graceful-shutdown` (terminal, ^C), `udp` (echo-udp with udp-client and
//! `connect --udp`), `udp-codec`, `hello_world`, `echo_outside`, `custom-executor`,
//! `dump` (terminal, ^C), `prewarm-fd-table`; with a peer on the host (`scenario_outside`):
//! `hello-host ADDR`, `echo-outside-host PORT DONE_PORT`, `tinyhttp-host PORT DONE_PORT`.
//!
//! Every check prints `ok tokio::NAME` or `FAIL tokio::NAME: why`; after the first failed
//! step of a scenario the remaining ones fail as not run. The output of every program
//! follows the checks (lines prefixed `[program]`), then `tokio: N passed, M failed`.

mod output;
mod procs;
mod pty;
mod scenario_batch;
mod scenario_outside;
mod scenario_runtime;
mod scenario_tcp;
mod scenario_udp;
mod setup;
mod steps;

use checks::Suite;

const USAGE: &str = "usage: tokio_scenario SCENARIO release|debug [ARGS...]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scenario, build, extra @ ..] = args.as_slice() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let arg = |i: usize| extra.get(i).map(String::as_str).unwrap_or("");
    let dir = match setup::programs_dir(build) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tokio_scenario: {e}");
            std::process::exit(2);
        }
    };
    println!("tokio_scenario: {scenario} with the {build} programs in {}", dir.display());
    let mut suite = Suite::new("tokio");
    let mut steps = steps::Steps::new(&mut suite, &dir);
    let known = match scenario.as_str() {
        "batch-echo" => scenario_batch::echo(&mut steps),
        "batch-tinydb" => scenario_batch::tinydb(&mut steps),
        "batch-print_each_packet" => scenario_batch::print_each_packet(&mut steps),
        "chat" => scenario_tcp::chat(&mut steps),
        "proxy" => scenario_tcp::proxy(&mut steps),
        "tinyhttp" => scenario_tcp::tinyhttp(&mut steps),
        "hello_world" => scenario_tcp::hello_world(&mut steps),
        "echo_outside" => scenario_tcp::echo_outside(&mut steps),
        "graceful-shutdown" => scenario_runtime::graceful_shutdown(&mut steps),
        "udp" => scenario_udp::udp(&mut steps),
        "udp-codec" => scenario_udp::udp_codec(&mut steps),
        "custom-executor" => scenario_runtime::custom_executor(&mut steps),
        "dump" => scenario_runtime::dump(&mut steps),
        "prewarm-fd-table" => scenario_runtime::prewarm_fd_table(&mut steps),
        "hello-host" if extra.len() == 1 => scenario_outside::hello_host(&mut steps, arg(0)),
        "echo-outside-host" if extra.len() == 2 => scenario_outside::echo_outside_host(&mut steps, arg(0), arg(1)),
        "tinyhttp-host" if extra.len() == 2 => scenario_outside::tinyhttp_host(&mut steps, arg(0), arg(1)),
        _ => false,
    };
    if !known {
        eprintln!("tokio_scenario: unknown scenario {scenario:?}\n{USAGE}");
        std::process::exit(2);
    }
    steps.print_transcripts();
    drop(steps);
    suite.finish();
}
