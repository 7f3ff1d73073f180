//! Pipe round trip: a byte through one pipe to a peer thread and back through another.
//! Metric `pipe_rtt` (us per round trip).

use std::fs::File;
use std::os::fd::FromRawFd;

use crate::args::Args;
use crate::out;
use crate::pingpong::{round_trip_ns, End};
use crate::sys::os_err;

fn pipe() -> Result<(File, File), String> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(os_err("pipe2"));
    }
    // SAFETY: both descriptors are fresh and owned by the Files from here on.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

pub fn run(args: &Args) -> Result<(), String> {
    let (to_peer_r, to_peer_w) = pipe()?;
    let (to_me_r, to_me_w) = pipe()?;
    let mine = End { rx: Box::new(to_me_r), tx: Box::new(to_peer_w) };
    let peer = End { rx: Box::new(to_peer_r), tx: Box::new(to_me_w) };
    let ns = round_trip_ns(&args.budget()?, mine, peer)?;
    out::metric("pipe_rtt", "us", ns / 1000.0);
    Ok(())
}
