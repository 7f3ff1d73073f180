//! Network set-up the benchmarks need: the loopback interface up (Linux's reference VM
//! does not configure `lo`; a stock kernel leaves it down).

use crate::sys::os_err;

/// `struct ifreq` is 40 bytes: the name (16), then a union whose first member here is the
/// `short` interface flags.
const IFREQ_LEN: usize = 40;

/// Ensures `lo` is up. Returns "up" (it was), "brought up", or an error.
pub fn loopback_up() -> Result<&'static str, String> {
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(os_err("socket(AF_INET, SOCK_DGRAM)"));
    }
    let result = set_up(fd);
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    result
}

fn set_up(fd: libc::c_int) -> Result<&'static str, String> {
    let mut req = [0u8; IFREQ_LEN];
    req[..2].copy_from_slice(b"lo");
    // SAFETY: req is a 40-byte ifreq buffer.
    if unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS as libc::Ioctl, req.as_mut_ptr()) } != 0 {
        return Err(os_err("ioctl(lo, SIOCGIFFLAGS)"));
    }
    let flags = i16::from_ne_bytes([req[16], req[17]]);
    if flags & libc::IFF_UP as i16 != 0 {
        return Ok("up");
    }
    let up = flags | libc::IFF_UP as i16;
    req[16..18].copy_from_slice(&up.to_ne_bytes());
    // SAFETY: as above.
    if unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS as libc::Ioctl, req.as_mut_ptr()) } != 0 {
        return Err(os_err("ioctl(lo, SIOCSIFFLAGS, IFF_UP)"));
    }
    Ok("brought up")
}
