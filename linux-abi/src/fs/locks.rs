//! Advisory file locks (`fcntl` record locks and `flock`).
//!
//! Not implemented yet: requests fail with `ENOLCK` rather than pretending to lock
//! (Dora 1.1's shared-memory cleaner relies on real exclusion). Issue 4 adds them.

use crate::errno::{Errno, SysResult};
use crate::fs::file::File;

/// `fcntl(F_GETLK/F_SETLK/F_SETLKW)`.
pub fn fcntl_lock(_file: &File, _cmd: i32, _arg: u64) -> SysResult {
    Err(Errno::ENOLCK)
}
