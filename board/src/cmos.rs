//! CMOS real-time clock (MC146818-compatible), read once at boot to set CLOCK_REALTIME.

use x86_64::instructions::port::Port;

fn read_reg(reg: u8) -> u8 {
    // SAFETY: ports 0x70/0x71 are the CMOS index/data pair; NMI stays enabled (bit 7 clear).
    unsafe {
        Port::<u8>::new(0x70).write(reg & 0x7f);
        Port::<u8>::new(0x71).read()
    }
}

/// A calendar time as the RTC keeps it (UTC on QEMU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcTime {
    pub year: u32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

fn snapshot() -> [u8; 7] {
    while read_reg(0x0a) & 0x80 != 0 {
        core::hint::spin_loop();
    }
    [read_reg(0x00), read_reg(0x02), read_reg(0x04), read_reg(0x07), read_reg(0x08), read_reg(0x09), read_reg(0x32)]
}

/// Reads the RTC, retrying until two reads agree (no update in between).
pub fn read() -> RtcTime {
    let mut a = snapshot();
    loop {
        let b = snapshot();
        if a == b {
            break;
        }
        a = b;
    }
    decode(a, read_reg(0x0b))
}

fn bcd(v: u8) -> u32 {
    u32::from(v & 0x0f) + u32::from(v >> 4) * 10
}

/// Decodes raw registers [sec, min, hour, day, month, year, century] given status B.
pub fn decode(r: [u8; 7], status_b: u8) -> RtcTime {
    let binary = status_b & 0x04 != 0;
    let h24 = status_b & 0x02 != 0;
    let conv = |v: u8| if binary { u32::from(v) } else { bcd(v) };
    let pm = r[2] & 0x80 != 0;
    let mut hour = conv(r[2] & 0x7f);
    if !h24 {
        hour %= 12;
        if pm {
            hour += 12;
        }
    }
    let century = if r[6] != 0 { conv(r[6]) } else { 20 };
    RtcTime { year: century * 100 + conv(r[5]), month: conv(r[4]), day: conv(r[3]), hour, minute: conv(r[1]), second: conv(r[0]) }
}

impl RtcTime {
    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> u64 {
        // Days from civil (Howard Hinnant's algorithm).
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        (days * 86400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcd_24h_decodes() {
        let t = decode([0x30, 0x15, 0x18, 0x27, 0x11, 0x26, 0x20], 0x02);
        assert_eq!(t, RtcTime { year: 2026, month: 11, day: 27, hour: 18, minute: 15, second: 30 });
        assert_eq!(t.unix_seconds(), 1_795_803_330);
    }

    #[test]
    fn binary_12h_pm_decodes() {
        let t = decode([5, 6, 0x80 | 7, 1, 1, 70, 19], 0x04);
        assert_eq!((t.year, t.hour), (1970, 19));
        assert_eq!(t.unix_seconds(), 19 * 3600 + 6 * 60 + 5);
    }
}
