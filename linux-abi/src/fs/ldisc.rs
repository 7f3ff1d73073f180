//! The terminal line discipline (N_TTY): termios flags, canonical line editing, echo,
//! signal characters and output post-processing. Pure logic, host-tested; the tty
//! device feeds it received bytes and reads lines or raw bytes out of it.
//!
//! Reference: POSIX "General Terminal Interface"; Linux `drivers/tty/n_tty.c` behaviour.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use bytemuck::{Pod, Zeroable};

/// `c_iflag` bits.
pub mod iflag {
    pub const IGNBRK: u32 = 0o1;
    pub const BRKINT: u32 = 0o2;
    pub const INLCR: u32 = 0o100;
    pub const IGNCR: u32 = 0o200;
    pub const ICRNL: u32 = 0o400;
    pub const IXON: u32 = 0o2000;
    pub const IUTF8: u32 = 0o40000;
}
/// `c_oflag` bits.
pub mod oflag {
    pub const OPOST: u32 = 0o1;
    pub const ONLCR: u32 = 0o4;
    pub const OCRNL: u32 = 0o10;
}
/// `c_lflag` bits.
pub mod lflag {
    pub const ISIG: u32 = 0o1;
    pub const ICANON: u32 = 0o2;
    pub const ECHO: u32 = 0o10;
    pub const ECHOE: u32 = 0o20;
    pub const ECHOK: u32 = 0o40;
    pub const ECHONL: u32 = 0o100;
    pub const NOFLSH: u32 = 0o200;
    pub const TOSTOP: u32 = 0o400;
    pub const ECHOCTL: u32 = 0o1000;
    pub const ECHOKE: u32 = 0o4000;
    pub const IEXTEN: u32 = 0o100000;
}
/// Indices into `c_cc`.
pub mod cc {
    pub const VINTR: usize = 0;
    pub const VQUIT: usize = 1;
    pub const VERASE: usize = 2;
    pub const VKILL: usize = 3;
    pub const VEOF: usize = 4;
    pub const VTIME: usize = 5;
    pub const VMIN: usize = 6;
    pub const VSTART: usize = 8;
    pub const VSTOP: usize = 9;
    pub const VSUSP: usize = 10;
    pub const VEOL: usize = 11;
    pub const VREPRINT: usize = 12;
    pub const VWERASE: usize = 14;
    pub const VLNEXT: usize = 15;
    pub const VEOL2: usize = 16;
}

/// The kernel's `struct termios` (as `TCGETS`/`TCSETS` exchange it; 36 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; 19],
}
const _: () = assert!(core::mem::size_of::<Termios>() == 36);

impl Default for Termios {
    fn default() -> Self {
        Self::const_default()
    }
}

impl Termios {
    /// Linux's defaults for a new terminal (`tty_std_termios`), 38400 baud, cs8.
    pub const fn const_default() -> Self {
        let mut c = [0u8; 19];
        c[cc::VINTR] = 3;
        c[cc::VQUIT] = 0x1c;
        c[cc::VERASE] = 0x7f;
        c[cc::VKILL] = 0x15;
        c[cc::VEOF] = 4;
        c[cc::VMIN] = 1;
        c[cc::VSTART] = 0x11;
        c[cc::VSTOP] = 0x13;
        c[cc::VSUSP] = 0x1a;
        c[cc::VREPRINT] = 0x12;
        c[cc::VWERASE] = 0x17;
        c[cc::VLNEXT] = 0x16;
        Self {
            iflag: iflag::ICRNL | iflag::IXON | iflag::IUTF8,
            oflag: oflag::OPOST | oflag::ONLCR,
            cflag: 0o277, // B38400 | CS8 | CREAD
            lflag: lflag::ISIG | lflag::ICANON | lflag::ECHO | lflag::ECHOE | lflag::ECHOK | lflag::ECHOCTL | lflag::ECHOKE | lflag::IEXTEN,
            line: 0,
            cc: c,
        }
    }
}

/// A signal to send to the foreground process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtySignal {
    Int,
    Quit,
    Tstp,
}

/// What receiving one byte produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// Bytes to echo to the terminal (already output-processed).
    pub echo: Vec<u8>,
    pub signal: Option<TtySignal>,
    /// New data (or EOF) became readable.
    pub readable: bool,
}

/// Result of a read attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    Data(Vec<u8>),
    /// End of file (^D at the start of a line in canonical mode).
    Eof,
    /// Nothing available yet.
    Empty,
}

/// Line discipline state.
pub struct LineDiscipline {
    pub termios: Termios,
    /// Canonical mode: the line being edited.
    edit: Vec<u8>,
    /// Completed input ready for reading. `None` marks an end-of-file boundary.
    ready: VecDeque<Option<u8>>,
    /// Next byte is taken literally (^V).
    literal: bool,
    /// Output column (for tab/erase handling).
    column: usize,
}

impl Default for LineDiscipline {
    fn default() -> Self {
        Self::new()
    }
}

const MAX_CANON: usize = 4095;

impl LineDiscipline {
    /// A discipline with the default termios.
    pub fn new() -> Self {
        Self::const_default()
    }

    /// The same, usable in statics.
    pub const fn const_default() -> Self {
        Self { termios: Termios::const_default(), edit: Vec::new(), ready: VecDeque::new(), literal: false, column: 0 }
    }

    fn l(&self, f: u32) -> bool {
        self.termios.lflag & f != 0
    }

    fn cc(&self, i: usize) -> u8 {
        self.termios.cc[i]
    }

    fn is_cc(&self, b: u8, i: usize) -> bool {
        let c = self.cc(i);
        c != 0 && b == c
    }

    /// Output processing (`OPOST`/`ONLCR`/`OCRNL`) of bytes written to the terminal.
    pub fn process_output(&mut self, data: &[u8]) -> Vec<u8> {
        let o = self.termios.oflag;
        let mut out = Vec::with_capacity(data.len() + 8);
        for &b in data {
            if o & oflag::OPOST != 0 {
                if b == b'\n' && o & oflag::ONLCR != 0 {
                    out.extend_from_slice(b"\r\n");
                    self.column = 0;
                    continue;
                }
                if b == b'\r' && o & oflag::OCRNL != 0 {
                    out.push(b'\n');
                    self.column = 0;
                    continue;
                }
            }
            match b {
                b'\r' | b'\n' => self.column = 0,
                8 => self.column = self.column.saturating_sub(1),
                b'\t' => self.column = (self.column | 7) + 1,
                c if c >= 0x20 && (c & 0xc0) != 0x80 => self.column += 1,
                _ => {}
            }
            out.push(b);
        }
        out
    }

    fn echo_char(&mut self, b: u8, out: &mut Vec<u8>) {
        if !self.l(lflag::ECHO) {
            return;
        }
        if b < 0x20 && b != b'\n' && b != b'\t' && self.l(lflag::ECHOCTL) {
            out.extend(self.process_output(&[b'^', b + 0x40]));
        } else if b == 0x7f && self.l(lflag::ECHOCTL) {
            out.extend(self.process_output(b"^?"));
        } else {
            out.extend(self.process_output(&[b]));
        }
    }

    fn erase_one(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(&last) = self.edit.last() else { return false };
        // Remove a whole UTF-8 character.
        let mut n = 1;
        if last & 0xc0 == 0x80 {
            while n < self.edit.len() && self.edit[self.edit.len() - n] & 0xc0 == 0x80 {
                n += 1;
            }
        }
        let removed: Vec<u8> = self.edit.split_off(self.edit.len() - n);
        if self.l(lflag::ECHO) && self.l(lflag::ECHOE) {
            let width = if removed[0] < 0x20 && self.l(lflag::ECHOCTL) { 2 } else { 1 };
            for _ in 0..width {
                out.extend_from_slice(b"\x08 \x08");
            }
            self.column = self.column.saturating_sub(width);
        }
        true
    }

    fn finish_line(&mut self, eof: bool) {
        for b in self.edit.drain(..) {
            self.ready.push_back(Some(b));
        }
        if eof {
            self.ready.push_back(None);
        }
    }

    /// Processes one received byte.
    pub fn receive(&mut self, mut b: u8) -> Received {
        let mut r = Received::default();
        let t = self.termios;
        if self.literal {
            self.literal = false;
            return self.insert(b, r);
        }
        if b == b'\r' {
            if t.iflag & iflag::IGNCR != 0 {
                return r;
            }
            if t.iflag & iflag::ICRNL != 0 {
                b = b'\n';
            }
        } else if b == b'\n' && t.iflag & iflag::INLCR != 0 {
            b = b'\r';
        }
        if self.l(lflag::ISIG) {
            let sig = if self.is_cc(b, cc::VINTR) {
                Some(TtySignal::Int)
            } else if self.is_cc(b, cc::VQUIT) {
                Some(TtySignal::Quit)
            } else if self.is_cc(b, cc::VSUSP) {
                Some(TtySignal::Tstp)
            } else {
                None
            };
            if let Some(s) = sig {
                if !self.l(lflag::NOFLSH) {
                    self.edit.clear();
                    self.ready.clear();
                }
                self.echo_char(b, &mut r.echo);
                r.signal = Some(s);
                return r;
            }
        }
        if self.l(lflag::ICANON) {
            if self.l(lflag::IEXTEN) && self.is_cc(b, cc::VLNEXT) {
                self.literal = true;
                return r;
            }
            if self.is_cc(b, cc::VERASE) || (b == 8 && self.cc(cc::VERASE) == 0x7f) {
                self.erase_one(&mut r.echo);
                return r;
            }
            if self.is_cc(b, cc::VKILL) {
                while self.erase_one(&mut r.echo) {}
                return r;
            }
            if self.l(lflag::IEXTEN) && self.is_cc(b, cc::VWERASE) {
                while self.edit.last().is_some_and(|c| c.is_ascii_whitespace()) {
                    self.erase_one(&mut r.echo);
                }
                while self.edit.last().is_some_and(|c| !c.is_ascii_whitespace()) {
                    self.erase_one(&mut r.echo);
                }
                return r;
            }
            if self.is_cc(b, cc::VEOF) {
                // ^D: deliver the line so far; at the start of a line that is EOF.
                self.finish_line(true);
                r.readable = true;
                return r;
            }
            if b == b'\n' || self.is_cc(b, cc::VEOL) || self.is_cc(b, cc::VEOL2) {
                self.edit.push(b);
                if self.l(lflag::ECHO) || (b == b'\n' && self.l(lflag::ECHONL)) {
                    r.echo.extend(self.process_output(&[b]));
                }
                self.finish_line(false);
                r.readable = true;
                return r;
            }
        }
        self.insert(b, r)
    }

    fn insert(&mut self, b: u8, mut r: Received) -> Received {
        if self.l(lflag::ICANON) {
            if self.edit.len() < MAX_CANON {
                self.edit.push(b);
                self.echo_char(b, &mut r.echo);
            }
        } else {
            self.ready.push_back(Some(b));
            self.echo_char(b, &mut r.echo);
            r.readable = true;
        }
        r
    }

    /// Bytes a read could return now (`FIONREAD`).
    pub fn available(&self) -> usize {
        self.ready.iter().take_while(|b| b.is_some()).count()
    }

    /// Whether a read would not block (data or EOF pending).
    pub fn readable(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Reads up to `max` bytes: one line at most in canonical mode.
    pub fn read(&mut self, max: usize) -> ReadOutcome {
        if self.ready.is_empty() {
            return ReadOutcome::Empty;
        }
        let canon = self.l(lflag::ICANON);
        let mut out = Vec::new();
        while out.len() < max {
            match self.ready.front() {
                None => break,
                Some(None) => {
                    if out.is_empty() {
                        self.ready.pop_front();
                        return ReadOutcome::Eof;
                    }
                    // Data before ^D: return it; the EOF mark goes with it.
                    self.ready.pop_front();
                    break;
                }
                Some(Some(b)) => {
                    let b = *b;
                    self.ready.pop_front();
                    out.push(b);
                    if canon && (b == b'\n' || self.is_cc(b, cc::VEOL) || self.is_cc(b, cc::VEOL2)) {
                        break;
                    }
                }
            }
        }
        ReadOutcome::Data(out)
    }

    /// Discards pending input (`TCFLSH`, signals).
    pub fn flush_input(&mut self) {
        self.edit.clear();
        self.ready.clear();
    }

    /// Switching canonical mode off makes the partial line readable (Linux does so).
    pub fn set_termios(&mut self, t: Termios) {
        let was_canon = self.l(lflag::ICANON);
        self.termios = t;
        if was_canon && !self.l(lflag::ICANON) {
            self.finish_line(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(l: &mut LineDiscipline, s: &[u8]) -> Vec<u8> {
        let mut echo = Vec::new();
        for &b in s {
            echo.extend(l.receive(b).echo);
        }
        echo
    }

    #[test]
    fn canonical_line_with_echo_and_crlf() {
        let mut l = LineDiscipline::new();
        let echo = feed(&mut l, b"hello\r");
        assert_eq!(echo, b"hello\r\n", "Enter echoes a newline as CR LF");
        assert_eq!(l.read(100), ReadOutcome::Data(b"hello\n".to_vec()));
        assert_eq!(l.read(100), ReadOutcome::Empty);
    }

    #[test]
    fn one_line_per_read_and_partial_reads() {
        let mut l = LineDiscipline::new();
        feed(&mut l, b"ab\rcd\r");
        assert_eq!(l.read(1), ReadOutcome::Data(b"a".to_vec()));
        assert_eq!(l.read(100), ReadOutcome::Data(b"b\n".to_vec()));
        assert_eq!(l.read(100), ReadOutcome::Data(b"cd\n".to_vec()));
    }

    #[test]
    fn nothing_readable_until_enter() {
        let mut l = LineDiscipline::new();
        feed(&mut l, b"abc");
        assert_eq!(l.read(10), ReadOutcome::Empty);
        assert!(!l.readable());
    }

    #[test]
    fn backspace_edits_and_echoes_erase() {
        let mut l = LineDiscipline::new();
        let echo = feed(&mut l, b"abx\x7fc\r");
        assert_eq!(echo, b"abx\x08 \x08c\r\n");
        assert_eq!(l.read(10), ReadOutcome::Data(b"abc\n".to_vec()));
        feed(&mut l, b"junk\x15ok\r");
        assert_eq!(l.read(10), ReadOutcome::Data(b"ok\n".to_vec()), "^U kills the line");
        feed(&mut l, b"one two\x17three\r");
        assert_eq!(l.read(20), ReadOutcome::Data(b"one three\n".to_vec()), "^W erases a word");
    }

    #[test]
    fn ctrl_d_is_eof_at_line_start_and_push_otherwise() {
        let mut l = LineDiscipline::new();
        feed(&mut l, b"\x04");
        assert_eq!(l.read(10), ReadOutcome::Eof);
        feed(&mut l, b"ab\x04");
        assert_eq!(l.read(10), ReadOutcome::Data(b"ab".to_vec()), "^D after text delivers it without newline");
        assert_eq!(l.read(10), ReadOutcome::Empty);
    }

    #[test]
    fn signals_flush_and_echo_caret() {
        let mut l = LineDiscipline::new();
        feed(&mut l, b"partial");
        let r = l.receive(3);
        assert_eq!(r.signal, Some(TtySignal::Int));
        assert_eq!(r.echo, b"^C");
        assert_eq!(l.receive(0x1a).signal, Some(TtySignal::Tstp));
        assert_eq!(l.receive(0x1c).signal, Some(TtySignal::Quit));
        feed(&mut l, b"\r");
        assert_eq!(l.read(10), ReadOutcome::Data(b"\n".to_vec()), "the partial line was discarded");
    }

    #[test]
    fn raw_mode_passes_bytes_without_echo() {
        let mut l = LineDiscipline::new();
        let mut t = l.termios;
        t.lflag &= !(lflag::ICANON | lflag::ECHO | lflag::ISIG);
        t.iflag &= !iflag::ICRNL;
        l.set_termios(t);
        let echo = feed(&mut l, b"a\r\x03\x04");
        assert!(echo.is_empty());
        assert_eq!(l.available(), 4);
        assert_eq!(l.read(10), ReadOutcome::Data(b"a\r\x03\x04".to_vec()));
    }

    #[test]
    fn output_processing() {
        let mut l = LineDiscipline::new();
        assert_eq!(l.process_output(b"a\nb"), b"a\r\nb");
        let mut t = l.termios;
        t.oflag &= !oflag::OPOST;
        l.set_termios(t);
        assert_eq!(l.process_output(b"a\nb"), b"a\nb");
    }

    #[test]
    fn leaving_canonical_mode_releases_the_partial_line() {
        let mut l = LineDiscipline::new();
        feed(&mut l, b"xy");
        let mut t = l.termios;
        t.lflag &= !lflag::ICANON;
        l.set_termios(t);
        assert_eq!(l.read(10), ReadOutcome::Data(b"xy".to_vec()));
    }
}
