//! `axle-chrt`: sets the scheduling class of a thread, or runs a program in one — the
//! part of util-linux `chrt` the benchmarks need, for systems whose busybox has no `chrt`
//! (Debian's busybox-static, so the Linux reference VM). Used to give Dora 0.3.5 on Linux
//! what Dora's own `--rt` option does in later versions: SCHED_FIFO 50 on the daemon's main
//! thread. Usage: `axle-chrt --help`; documented in docs/rt-tools.md.

use rt_tools::sys;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

const USAGE: &str = "usage: axle-chrt [-f|-r|-o|-b|-i] PRIORITY -p TID   set thread TID's class
       axle-chrt [-f|-r|-o|-b|-i] PRIORITY CMD [ARG...]  run CMD in that class
  -f fifo (default), -r rr, -o other, -b batch, -i idle; PRIORITY 1-99 for fifo/rr, 0 else.
  Only the named thread changes (threads it creates later inherit the class), as chrt
  without -a. Exit status: 0 done; 1 the call failed (errno printed); 2 usage.";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let mut policy = sys::SCHED_FIFO;
    if let Some(p) = match args[0].as_str() {
        "-f" => Some(sys::SCHED_FIFO),
        "-r" => Some(sys::SCHED_RR),
        "-o" => Some(sys::SCHED_OTHER),
        "-b" => Some(sys::SCHED_BATCH),
        "-i" => Some(sys::SCHED_IDLE),
        _ => None,
    } {
        policy = p;
        args.remove(0);
    }
    let Some(priority) = args.first().and_then(|a| a.parse::<i32>().ok()) else {
        eprintln!("axle-chrt: a priority is needed\n{USAGE}");
        return ExitCode::from(2);
    };
    args.remove(0);
    match args.first().map(String::as_str) {
        Some("-p") => {
            let Some(tid) = args.get(1).and_then(|a| a.parse::<i32>().ok()) else {
                eprintln!("axle-chrt: -p needs a thread id\n{USAGE}");
                return ExitCode::from(2);
            };
            match sys::set_scheduler_of(tid, policy, priority) {
                Ok(()) => {
                    println!("axle-chrt: thread {tid} now {} {priority}", sys::policy_name(policy));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("axle-chrt: sched_setscheduler({tid}, {}, {priority}): {}", sys::policy_name(policy),
                              sys::errno_name(&e));
                    ExitCode::FAILURE
                }
            }
        }
        Some(cmd) => {
            if let Err(e) = sys::set_scheduler(policy, priority) {
                eprintln!("axle-chrt: sched_setscheduler({}, {priority}): {}", sys::policy_name(policy),
                          sys::errno_name(&e));
                return ExitCode::FAILURE;
            }
            let err = std::process::Command::new(cmd).args(&args[1..]).exec();
            eprintln!("axle-chrt: cannot run {cmd}: {err}");
            ExitCode::FAILURE
        }
        None => {
            eprintln!("axle-chrt: -p TID or a command is needed\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
