//! Network interface ioctls (SIOCGIFCONF and friends). Not built yet: ENODEV until the
//! interfaces exist (issue 5).

use crate::errno::{Errno, SysResult};

/// Interface ioctls on any socket.
pub fn ioctl(_cmd: u32, _arg: u64) -> SysResult {
    Err(Errno::ENODEV)
}
