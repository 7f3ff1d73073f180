//! Code shared by Axle's Tokio programs (the binaries are in `src/bin/`, one per program).
//!
//! Only what two programs have in common lives here: the TCP echo server of `echo` and
//! `echo_outside`, which differ only in their default address.

pub mod echo_server;
