//! Reader for "newc" cpio archives (the initramfs format, magic `070701`), including
//! several archives concatenated back to back as Linux accepts them.
//!
//! Reference: Linux `Documentation/driver-api/early-userspace/buffer-format.rst`.

/// One archive member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u32,
    /// Device number of a device node (major, minor).
    pub rdev: (u32, u32),
    pub data: &'a [u8],
}

/// A malformed archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpioError {
    pub offset: usize,
    pub what: &'static str,
}

fn hex(b: &[u8]) -> Option<u32> {
    let s = core::str::from_utf8(b).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// Iterates over the members of (possibly concatenated) archives.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }
}

const fn align4(x: usize) -> usize {
    (x + 3) & !3
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Entry<'a>, CpioError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // Skip zero padding between concatenated archives.
            while self.pos < self.data.len() && self.data[self.pos] == 0 {
                self.pos += 1;
            }
            if self.pos >= self.data.len() {
                return None;
            }
            let at = self.pos;
            let err = |what| Some(Err(CpioError { offset: at, what }));
            let Some(h) = self.data.get(at..at + 110) else { return err("truncated header") };
            if &h[..6] != b"070701" && &h[..6] != b"070702" {
                self.pos = self.data.len();
                return err("bad magic");
            }
            let field = |i: usize| hex(&h[6 + i * 8..14 + i * 8]);
            let (Some(mode), Some(uid), Some(gid), Some(mtime), Some(size), Some(namesize), Some(rmaj), Some(rmin)) =
                (field(1), field(2), field(3), field(5), field(6), field(11), field(9), field(10))
            else {
                self.pos = self.data.len();
                return err("bad header field");
            };
            let name_start = at + 110;
            let name_end = name_start + namesize as usize;
            let Some(name_bytes) = self.data.get(name_start..name_end.saturating_sub(1)) else {
                self.pos = self.data.len();
                return err("truncated name");
            };
            let data_start = align4(name_end);
            let data_end = data_start + size as usize;
            let Some(data) = self.data.get(data_start..data_end) else {
                self.pos = self.data.len();
                return err("truncated data");
            };
            self.pos = align4(data_end);
            let Ok(name) = core::str::from_utf8(name_bytes) else { return err("name not UTF-8") };
            if name == "TRAILER!!!" {
                continue;
            }
            return Some(Ok(Entry { name, mode, uid, gid, mtime, rdev: (rmaj, rmin), data }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]) {
        let hdr = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            1, mode, 0, 0, 1, 1234, data.len(), 0, 0, 0, 0, name.len() + 1, 0
        );
        out.extend_from_slice(hdr.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }

    #[test]
    fn reads_concatenated_archives() {
        let mut a = Vec::new();
        member(&mut a, "bin", 0o40755, b"");
        member(&mut a, "bin/hello", 0o100755, b"\x7fELF...");
        member(&mut a, "TRAILER!!!", 0, b"");
        a.extend_from_slice(&[0; 512]);
        member(&mut a, "etc/axle/cmd", 0o100644, b"/bin/hello\0a b\0");
        member(&mut a, "TRAILER!!!", 0, b"");
        let all: Vec<_> = Reader::new(&a).map(|e| e.unwrap()).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].name, "bin/hello");
        assert_eq!(all[1].mode, 0o100755);
        assert_eq!(all[1].data, b"\x7fELF...");
        assert_eq!(all[1].mtime, 1234);
        assert_eq!(all[2].data, b"/bin/hello\0a b\0");
    }

    #[test]
    fn reports_corruption() {
        let mut a = Vec::new();
        member(&mut a, "x", 0o100644, b"abcdef");
        a.truncate(a.len() - 4);
        let r: Vec<_> = Reader::new(&a).collect();
        assert_eq!(r, vec![Err(CpioError { offset: 0, what: "truncated data" })]);
        assert_eq!(Reader::new(b"nonsense-and-more-nonsense").next().unwrap().unwrap_err().what, "truncated header");
    }
}
