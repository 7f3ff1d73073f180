//! Memory in use after boot: `MemTotal - MemAvailable` from `/proc/meminfo`, or, where
//! that file lacks them, `sysinfo` (`totalram - freeram - bufferram`). Run first in a plan,
//! so it sees the system as booted plus the plan runner. Metric `mem_used_after_boot`
//! (MiB); `info mem_source meminfo|sysinfo` says which.

use crate::args::Args;
use crate::out;
use crate::sys::os_err;

/// (MemTotal, MemAvailable) in KiB from /proc/meminfo's text.
pub fn parse_meminfo(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
    };
    Some((field("MemTotal")?, field("MemAvailable")?))
}

pub fn run(_args: &Args) -> Result<(), String> {
    if let Some((total, avail)) = std::fs::read_to_string("/proc/meminfo").ok().as_deref().and_then(parse_meminfo) {
        out::info("mem_source", "meminfo");
        out::info("mem_total_kib", &total.to_string());
        out::metric("mem_used_after_boot", "MiB", total.saturating_sub(avail) as f64 / 1024.0);
        return Ok(());
    }
    // SAFETY: an all-zero sysinfo is valid; the kernel fills it.
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: si is a valid sysinfo.
    if unsafe { libc::sysinfo(&mut si) } != 0 {
        return Err(os_err("sysinfo"));
    }
    let unit = si.mem_unit.max(1) as u64;
    let used = (si.totalram as u64).saturating_sub(si.freeram as u64 + si.bufferram as u64) * unit;
    out::info("mem_source", "sysinfo");
    out::metric("mem_used_after_boot", "MiB", used as f64 / (1024.0 * 1024.0));
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_total_and_available() {
        let text = "MemTotal:        2030000 kB\nMemFree:  100 kB\nMemAvailable:    1900000 kB\n";
        assert_eq!(super::parse_meminfo(text), Some((2030000, 1900000)));
        assert_eq!(super::parse_meminfo("MemTotal: 5 kB\n"), None);
    }
}
